//! The rows with candle (`candle-core`) on its CPU device: the forward pass
//! written with tensor ops as a candle user would, inputs built once.

use candle_core::{Device, Tensor};

use crate::data::{MlpData, SeedData};

const RUNS: &str = "the candle graph runs on the shapes it was built for";

/// The seed graph on rank-0 tensors (scalars) or `[1, n]` rows.
pub struct Seed {
    a: Tensor,
    b: Tensor,
    out: Option<Tensor>,
}

impl Seed {
    /// Inputs from `data`: element 0 as scalars, or whole rows.
    pub fn new(data: &SeedData, scalar: bool) -> Self {
        let device = Device::Cpu;
        let operand = |values: &[f32]| {
            if scalar {
                Tensor::new(values[0], &device)
            } else {
                Tensor::from_slice(values, (1, values.len()), &device)
            }
            .expect("a tensor from f32 values")
        };
        Self {
            a: operand(&data.a),
            b: operand(&data.b),
            out: None,
        }
    }
}

impl crate::Peer for Seed {
    fn run(&mut self) {
        let product = self.a.mul(&self.b).expect(RUNS);
        let sum = self.a.add(&self.b).expect(RUNS);
        self.out = Some(product.div(&sum).expect(RUNS));
    }

    fn output(&self) -> Vec<f32> {
        flat(self.out.as_ref())
    }
}

/// An MLP as a chain of `matmul`, `broadcast_add` and `relu`.
pub struct Mlp {
    layers: Vec<(Tensor, Tensor)>,
    x: Tensor,
    out: Option<Tensor>,
}

impl Mlp {
    /// Weights and input batch from `data`.
    pub fn new(data: &MlpData) -> Self {
        let device = Device::Cpu;
        let layers = data
            .layers
            .iter()
            .map(|layer| {
                let w = Tensor::from_slice(&layer.weights, (layer.inputs, layer.outputs), &device);
                let b = Tensor::from_slice(&layer.bias, layer.outputs, &device);
                (w.expect("weights"), b.expect("bias"))
            })
            .collect();
        let x = Tensor::from_slice(&data.x, (data.batch, data.layers[0].inputs), &device)
            .expect("input batch");
        Self {
            layers,
            x,
            out: None,
        }
    }
}

impl crate::Peer for Mlp {
    fn run(&mut self) {
        let mut h = self.x.clone();
        for (index, (w, b)) in self.layers.iter().enumerate() {
            if index > 0 {
                h = h.relu().expect(RUNS);
            }
            h = h.matmul(w).expect(RUNS).broadcast_add(b).expect(RUNS);
        }
        self.out = Some(h);
    }

    fn output(&self) -> Vec<f32> {
        flat(self.out.as_ref())
    }
}

fn flat(out: Option<&Tensor>) -> Vec<f32> {
    let out = out.expect("run before output");
    out.flatten_all()
        .and_then(|t| t.to_vec1())
        .expect("f32 output")
}
