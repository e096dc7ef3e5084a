//! Loading and saving a graph's variables: safetensors and `.npy` files.
//! (Stub: filled in by the weights work.)
