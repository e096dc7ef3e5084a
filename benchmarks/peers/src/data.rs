//! Seeded weights and inputs, identical to the main suite's
//! (`benches/baselines/data.rs`): the same SplitMix64 generator, seed and draw
//! order, kept as plain vectors so this crate needs no ndarray.

/// The seed every row starts its generator from.
pub const SEED: u64 = 0x5EED_F10E;

/// SplitMix64, as in the main suite.
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
    /// Rows of `weights`.
    pub inputs: usize,
    /// Columns of `weights`, entries of `bias`.
    pub outputs: usize,
    /// `[inputs, outputs]`, row-major.
    pub weights: Vec<f32>,
    /// `[outputs]`.
    pub bias: Vec<f32>,
}

/// An MLP's parameters and one input batch; relu between layers, logits out.
pub struct MlpData {
    /// The layers, input side first.
    pub layers: Vec<Layer>,
    /// Rows of `x`.
    pub batch: usize,
    /// `[batch, widths[0]]`, row-major.
    pub x: Vec<f32>,
}

impl MlpData {
    /// Weights uniform in `±1/√inputs`, biases in `±0.1`, inputs in `[0, 1)`:
    /// each layer's weights then bias, layer by layer, then the batch.
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
                    inputs,
                    outputs,
                    weights,
                    bias,
                }
            })
            .collect();
        let x = rng.vec(batch * widths[0], 0.0, 1.0);
        Self { layers, batch, x }
    }

    /// The logits, computed in `f64` with plain loops: the reference every
    /// peer is checked against.
    pub fn reference(&self) -> Vec<f32> {
        let mut h: Vec<f64> = self.x.iter().map(|&v| f64::from(v)).collect();
        let last = self.layers.len() - 1;
        for (index, layer) in self.layers.iter().enumerate() {
            let mut out = vec![0.0_f64; self.batch * layer.outputs];
            for row in 0..self.batch {
                for j in 0..layer.outputs {
                    let mut sum = f64::from(layer.bias[j]);
                    for k in 0..layer.inputs {
                        sum += h[row * layer.inputs + k]
                            * f64::from(layer.weights[k * layer.outputs + j]);
                    }
                    out[row * layer.outputs + j] = if index == last { sum } else { sum.max(0.0) };
                }
            }
            h = out;
        }
        #[allow(clippy::cast_possible_truncation)] // back to the f32 every peer computes in
        h.into_iter().map(|v| v as f32).collect()
    }
}

/// The seed graph's inputs, two `[1, len]` rows in `[0.5, 1.5)`.
pub struct SeedData {
    /// Elements of each operand.
    pub len: usize,
    /// First operand.
    pub a: Vec<f32>,
    /// Second operand.
    pub b: Vec<f32>,
}

impl SeedData {
    /// `a` then `b`, drawn in that order.
    pub fn new(len: usize) -> Self {
        let mut rng = Rng::new(SEED);
        let a = rng.vec(len, 0.5, 1.5);
        let b = rng.vec(len, 0.5, 1.5);
        Self { len, a, b }
    }

    /// `(a·b) / (a + b)` elementwise.
    pub fn reference(&self) -> Vec<f32> {
        self.a
            .iter()
            .zip(&self.b)
            .map(|(&a, &b)| (a * b) / (a + b))
            .collect()
    }
}
