//! Peer implementations of the rows of staticflow's benchmark suite
//! (`benches/graphs.rs` at the repository root), one module per library, on
//! the same seeded data. `benches/peers.rs` measures them; see README.md.

pub mod burn;
pub mod candle;
pub mod data;
pub mod tract;

/// One implementation of one row, its inputs built in.
pub trait Peer {
    /// Computes the row's output, keeping it (the previous one is dropped).
    fn run(&mut self);
    /// The last output, row-major.
    fn output(&self) -> Vec<f32>;
}
