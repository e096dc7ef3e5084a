//! What a compiled graph costs: parameters, floating-point operations and
//! workspace. (Stub: filled in by the summary work.)
