//! Seeded weights and inputs shared by every implementation of every row.
//!
//! The generator is `SplitMix64`, copied verbatim into the peer benchmarks
//! (`benchmarks/peers/src/data.rs`) so that candle, tract and burn see the
//! same numbers. Draw order is part of the contract: for an MLP, each layer's
//! weights (row-major, `[inputs, outputs]`) then its bias, layer by layer,
//! then the input batch (row-major); for the seed rows, `a` then `b`.

use staticflow::ndarray::{Array1, Array2};

/// The seed every row starts its generator from.
pub const SEED: u64 = 0x5EED_F10E;

/// `SplitMix64` (Steele, Lea and Flood, 2014): tiny, seedable, and good
/// enough for benchmark data.
pub struct Rng(u64);

impl Rng {
    /// A generator at `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[low, high)`, from the top 24 bits (exact in `f32`).
    pub fn uniform(&mut self, low: f32, high: f32) -> f32 {
        #[allow(clippy::cast_possible_truncation)] // 24 bits fit in u32 and in f32 exactly
        let unit = (self.next_u64() >> 40) as u32 as f32 / (1u32 << 24) as f32;
        low + (high - low) * unit
    }

    /// `len` values uniform in `[low, high)`.
    pub fn vec(&mut self, len: usize, low: f32, high: f32) -> Vec<f32> {
        (0..len).map(|_| self.uniform(low, high)).collect()
    }
}

/// One dense layer, `y = x · weights + bias`.
pub struct Layer {
    /// `[inputs, outputs]`, row-major.
    pub weights: Array2<f32>,
    /// `[outputs]`.
    pub bias: Array1<f32>,
}

/// An MLP's parameters and one input batch. Every layer but the last is
/// followed by `relu`; the output is the last layer's logits (no softmax, in
/// every implementation).
pub struct MlpData {
    /// The layers, input side first.
    pub layers: Vec<Layer>,
    /// The input batch, `[batch, widths[0]]`.
    pub x: Array2<f32>,
}

impl MlpData {
    /// Weights uniform in `±1/√inputs`, biases in `±0.1`, inputs in `[0, 1)`
    /// like pixel intensities, drawn in the documented order.
    pub fn new(widths: &[usize], batch: usize) -> Self {
        let mut rng = Rng::new(SEED);
        let layers = widths
            .windows(2)
            .map(|pair| {
                let (inputs, outputs) = (pair[0], pair[1]);
                let scale = 1.0 / (inputs as f32).sqrt();
                let weights = rng.vec(inputs * outputs, -scale, scale);
                let bias = rng.vec(outputs, -0.1, 0.1);
                Layer {
                    weights: Array2::from_shape_vec((inputs, outputs), weights)
                        .expect("inputs x outputs values"),
                    bias: Array1::from(bias),
                }
            })
            .collect();
        let x = Array2::from_shape_vec((batch, widths[0]), rng.vec(batch * widths[0], 0.0, 1.0))
            .expect("batch x inputs values");
        Self { layers, x }
    }
}

/// The seed graph's inputs, two `[1, len]` rows in `[0.5, 1.5)` so that
/// `a + b` stays well away from zero.
pub struct SeedData {
    /// First operand.
    pub a: Array2<f32>,
    /// Second operand.
    pub b: Array2<f32>,
}

impl SeedData {
    /// `a` then `b`, drawn in that order.
    pub fn new(len: usize) -> Self {
        let mut rng = Rng::new(SEED);
        let a = Array2::from_shape_vec((1, len), rng.vec(len, 0.5, 1.5)).expect("1 x len values");
        let b = Array2::from_shape_vec((1, len), rng.vec(len, 0.5, 1.5)).expect("1 x len values");
        Self { a, b }
    }
}
