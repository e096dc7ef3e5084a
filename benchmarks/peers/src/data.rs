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

/// The class of each row of a training batch: `(7·i + 3) mod 10` for row `i`,
/// as in the main suite's `benches/training.rs`.
pub fn labels(batch: usize) -> Vec<usize> {
    (0..batch).map(|i| (7 * i + 3) % 10).collect()
}

impl MlpData {
    /// Every weight and bias, flattened: each layer's `[inputs, outputs]`
    /// weights row-major, then its bias, input side first. Trained
    /// parameters are compared in this order.
    pub fn parameters(&self) -> Vec<f32> {
        self.layers
            .iter()
            .flat_map(|layer| layer.weights.iter().chain(&layer.bias).copied())
            .collect()
    }

    /// One SGD step at learning rate `lr` on `x` with class indices `labels`,
    /// computed in `f64` with plain loops: the loss before the step (mean
    /// softmax cross-entropy of the logits) and every parameter after it, in
    /// the order of [`parameters`](Self::parameters). The reference every
    /// training row is checked against.
    pub fn reference_step(&self, labels: &[usize], lr: f64) -> (f64, Vec<f32>) {
        assert_eq!(labels.len(), self.batch, "one label per row");
        let count = self.layers.len();
        // activations[0] is x; activations[l + 1] is relu(pre[l]) for hidden layers.
        let mut activations: Vec<Vec<f64>> = vec![self.x.iter().map(|&v| f64::from(v)).collect()];
        let mut pre: Vec<Vec<f64>> = Vec::with_capacity(count);
        for (index, layer) in self.layers.iter().enumerate() {
            let h = &activations[index];
            let mut z = vec![0.0_f64; self.batch * layer.outputs];
            for row in 0..self.batch {
                for j in 0..layer.outputs {
                    let mut sum = f64::from(layer.bias[j]);
                    for k in 0..layer.inputs {
                        sum += h[row * layer.inputs + k]
                            * f64::from(layer.weights[k * layer.outputs + j]);
                    }
                    z[row * layer.outputs + j] = sum;
                }
            }
            if index + 1 < count {
                activations.push(z.iter().map(|&v| v.max(0.0)).collect());
            }
            pre.push(z);
        }
        // Loss and its gradient with respect to the logits, (p − onehot)/n.
        let classes = self.layers[count - 1].outputs;
        let n = self.batch as f64;
        let mut loss = 0.0_f64;
        let mut delta = vec![0.0_f64; self.batch * classes];
        for (row, &label) in labels.iter().enumerate() {
            let z = &pre[count - 1][row * classes..(row + 1) * classes];
            let top = z.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v));
            let total: f64 = z.iter().map(|&v| (v - top).exp()).sum();
            loss += top + total.ln() - z[label];
            for j in 0..classes {
                let p = (z[j] - top).exp() / total;
                let onehot = if j == label { 1.0 } else { 0.0 };
                delta[row * classes + j] = (p - onehot) / n;
            }
        }
        loss /= n;
        // Backward, last layer first; each layer's gradients from the
        // weights before the step.
        let mut updated: Vec<(Vec<f32>, Vec<f32>)> = Vec::with_capacity(count);
        for index in (0..count).rev() {
            let layer = &self.layers[index];
            let h = &activations[index];
            let mut weights = Vec::with_capacity(layer.weights.len());
            for k in 0..layer.inputs {
                for j in 0..layer.outputs {
                    let grad: f64 = (0..self.batch)
                        .map(|row| h[row * layer.inputs + k] * delta[row * layer.outputs + j])
                        .sum();
                    let w = f64::from(layer.weights[k * layer.outputs + j]);
                    weights.push(narrow(w - lr * grad));
                }
            }
            let bias = (0..layer.outputs)
                .map(|j| {
                    let grad: f64 = (0..self.batch)
                        .map(|row| delta[row * layer.outputs + j])
                        .sum();
                    narrow(f64::from(layer.bias[j]) - lr * grad)
                })
                .collect();
            if index > 0 {
                let below = &pre[index - 1];
                let mut next = vec![0.0_f64; self.batch * layer.inputs];
                for row in 0..self.batch {
                    for k in 0..layer.inputs {
                        if below[row * layer.inputs + k] > 0.0 {
                            next[row * layer.inputs + k] = (0..layer.outputs)
                                .map(|j| {
                                    delta[row * layer.outputs + j]
                                        * f64::from(layer.weights[k * layer.outputs + j])
                                })
                                .sum();
                        }
                    }
                }
                delta = next;
            }
            updated.push((weights, bias));
        }
        updated.reverse();
        let parameters = updated
            .into_iter()
            .flat_map(|(w, b)| w.into_iter().chain(b))
            .collect();
        (loss, parameters)
    }
}

/// An `f64` back to the `f32` every library computes in.
#[allow(clippy::cast_possible_truncation)]
fn narrow(v: f64) -> f32 {
    v as f32
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
