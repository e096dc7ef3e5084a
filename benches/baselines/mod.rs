//! The implementations every benchmark row is measured against, behind one
//! small trait per kind of row so that the benchmark loop and the agreement
//! check call exactly the same code.
//!
//! | module | what it is |
//! | --- | --- |
//! | [`compiled`] | the `graph!` versions of the models |
//! | [`naive`] | ndarray as most people write it: `x.dot(&w) + &b`, `mapv` |
//! | [`tuned`] | ndarray with preallocated outputs, `general_mat_mul`, fused bias + relu |
//! | [`avx2`] | hand-written AVX2+FMA kernels, weights packed once |
//! | [`interpreted`] | a run-time graph: node list, feed map, sort and dispatch per run |
//! | [`plain`] | plain Rust `f32` arithmetic for the seed graph |
//!
//! Each implementation is built once from [`data`] and keeps its output (and
//! any buffers) in itself, so a call returns a view of it. Inputs and output
//! share one lifetime because staticflow's workspace methods (`y_with`) tie
//! them together.

pub mod avx2;
pub mod compiled;
pub mod data;
pub mod interpreted;
pub mod naive;
pub mod plain;
pub mod tuned;

use staticflow::ndarray::ArrayView2;

/// The seed graph `res = (a·b) / (a + b)` on two scalars.
pub trait ScalarSeed {
    /// `res` for `a` and `b`.
    fn res(&mut self, a: f32, b: f32) -> f32;
}

/// The seed graph `res = (a·b) / (a + b)`, elementwise on two `[1, n]` rows.
pub trait VectorSeed {
    /// `res` for `a` and `b`, which have the row length the implementation
    /// was built for.
    fn res<'a>(&'a mut self, a: ArrayView2<'a, f32>, b: ArrayView2<'a, f32>)
        -> ArrayView2<'a, f32>;
}

/// An MLP forward pass to logits (relu between layers, no softmax).
pub trait Mlp {
    /// The logits for the batch `x`, which has the batch size and width the
    /// implementation was built for.
    fn logits<'a>(&'a mut self, x: ArrayView2<'a, f32>) -> ArrayView2<'a, f32>;
}
