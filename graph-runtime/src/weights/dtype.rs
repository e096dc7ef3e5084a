//! The element types a safetensors header can declare, with their names and
//! sizes.

use core::fmt;

/// An element type a safetensors header can declare.
///
/// Only [`Dtype::F32`] can be loaded into a graph's variables; the others are
/// parsed so that files holding them (optimiser state, integer buffers)
/// still validate and their `f32` tensors can be read.
///
/// ```
/// use graph_runtime::weights::Dtype;
///
/// assert_eq!(Dtype::from_name("BF16"), Some(Dtype::BF16));
/// assert_eq!(Dtype::BF16.bits(), 16);
/// assert_eq!(Dtype::F32.to_string(), "F32");
/// assert_eq!(Dtype::from_name("f32"), None); // names are case-sensitive
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Dtype {
    /// `BOOL`: one byte per element.
    Bool,
    /// `F4`: 4-bit float (`E2M1`), two elements per byte.
    F4,
    /// `F6_E2M3`: 6-bit float.
    F6E2M3,
    /// `F6_E3M2`: 6-bit float.
    F6E3M2,
    /// `U8`.
    U8,
    /// `I8`.
    I8,
    /// `F8_E5M2`: 8-bit float.
    F8E5M2,
    /// `F8_E4M3`: 8-bit float.
    F8E4M3,
    /// `F8_E8M0`: 8-bit exponent-only scale.
    F8E8M0,
    /// `I16`.
    I16,
    /// `U16`.
    U16,
    /// `F16`: IEEE half precision.
    F16,
    /// `BF16`: bfloat16.
    BF16,
    /// `I32`.
    I32,
    /// `U32`.
    U32,
    /// `F32`: IEEE single precision, the only type variables load from.
    F32,
    /// `F64`: IEEE double precision.
    F64,
    /// `C64`: complex number of two `F32`.
    C64,
    /// `I64`.
    I64,
    /// `U64`.
    U64,
}

impl Dtype {
    const ALL: [Dtype; 20] = [
        Dtype::Bool,
        Dtype::F4,
        Dtype::F6E2M3,
        Dtype::F6E3M2,
        Dtype::U8,
        Dtype::I8,
        Dtype::F8E5M2,
        Dtype::F8E4M3,
        Dtype::F8E8M0,
        Dtype::I16,
        Dtype::U16,
        Dtype::F16,
        Dtype::BF16,
        Dtype::I32,
        Dtype::U32,
        Dtype::F32,
        Dtype::F64,
        Dtype::C64,
        Dtype::I64,
        Dtype::U64,
    ];

    /// The name a safetensors header uses for this type, such as `"F32"`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Dtype::Bool => "BOOL",
            Dtype::F4 => "F4",
            Dtype::F6E2M3 => "F6_E2M3",
            Dtype::F6E3M2 => "F6_E3M2",
            Dtype::U8 => "U8",
            Dtype::I8 => "I8",
            Dtype::F8E5M2 => "F8_E5M2",
            Dtype::F8E4M3 => "F8_E4M3",
            Dtype::F8E8M0 => "F8_E8M0",
            Dtype::I16 => "I16",
            Dtype::U16 => "U16",
            Dtype::F16 => "F16",
            Dtype::BF16 => "BF16",
            Dtype::I32 => "I32",
            Dtype::U32 => "U32",
            Dtype::F32 => "F32",
            Dtype::F64 => "F64",
            Dtype::C64 => "C64",
            Dtype::I64 => "I64",
            Dtype::U64 => "U64",
        }
    }

    /// The size of one element in bits (4 and 6 for the sub-byte floats).
    #[must_use]
    pub const fn bits(self) -> usize {
        match self {
            Dtype::F4 => 4,
            Dtype::F6E2M3 | Dtype::F6E3M2 => 6,
            Dtype::Bool | Dtype::U8 | Dtype::I8 | Dtype::F8E5M2 | Dtype::F8E4M3 | Dtype::F8E8M0 => {
                8
            }
            Dtype::I16 | Dtype::U16 | Dtype::F16 | Dtype::BF16 => 16,
            Dtype::I32 | Dtype::U32 | Dtype::F32 => 32,
            Dtype::F64 | Dtype::C64 | Dtype::I64 | Dtype::U64 => 64,
        }
    }

    /// The type a header names `name`, or `None` for a name this crate does
    /// not know.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Dtype::ALL.into_iter().find(|dtype| dtype.name() == name)
    }
}

impl fmt::Display for Dtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
