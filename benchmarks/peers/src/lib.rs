//! Peer implementations of the rows of staticflow's benchmark suites
//! (`benches/graphs.rs` and `benches/training.rs` at the repository root),
//! one module per library, on the same seeded data. `benches/peers.rs`
//! measures them; see README.md.

pub mod burn;
pub mod burn_train;
pub mod candle;
pub mod data;
pub mod dfdx;
pub mod tract;

/// The learning rate of every training row, as in `benches/training.rs`.
pub const LR: f32 = 0.01;

/// One implementation of one row, its inputs built in.
pub trait Peer {
    /// Computes the row's output, keeping it (the previous one is dropped).
    fn run(&mut self);
    /// The last output, row-major.
    fn output(&self) -> Vec<f32>;
}

/// One library's SGD step on one MLP and batch, its inputs built in: the
/// training rows' counterpart of [`Peer`].
pub trait Trainer {
    /// One step (forward pass, backward pass, update at [`LR`]) on the
    /// built-in batch; returns the loss before the update.
    fn step(&mut self) -> f32;
    /// Every weight and bias in the order of
    /// [`MlpData::parameters`](data::MlpData::parameters).
    fn parameters(&self) -> Vec<f32>;
}
