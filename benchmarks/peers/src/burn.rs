//! The rows with burn on its Flex backend (pure-Rust CPU, `Device::flex()`),
//! through burn's public tensor API as a burn user writes a forward pass.
//! Burn has no rank-0 tensors: the scalar seed row uses `[1, 1]` tensors.

use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor, TensorData};

use crate::data::{MlpData, SeedData};

/// The seed graph on `[1, 1]` tensors (scalars) or `[1, n]` rows.
pub struct Seed {
    a: Tensor<2>,
    b: Tensor<2>,
    out: Option<Tensor<2>>,
}

impl Seed {
    /// Inputs from `data`: element 0 alone, or whole rows.
    pub fn new(data: &SeedData, scalar: bool) -> Self {
        let device = Device::flex();
        let len = if scalar { 1 } else { data.len };
        let operand = |values: &[f32]| {
            Tensor::from_data(TensorData::new(values[..len].to_vec(), [1, len]), &device)
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
        let (a, b) = (self.a.clone(), self.b.clone());
        self.out = Some((a.clone() * b.clone()) / (a + b));
    }

    fn output(&self) -> Vec<f32> {
        flat(self.out.as_ref())
    }
}

/// An MLP as a chain of `matmul`, `+` (bias `[1, n]`, broadcast) and `relu`.
pub struct Mlp {
    layers: Vec<(Tensor<2>, Tensor<2>)>,
    x: Tensor<2>,
    out: Option<Tensor<2>>,
}

impl Mlp {
    /// Weights and input batch from `data`.
    pub fn new(data: &MlpData) -> Self {
        let device = Device::flex();
        let layers = data
            .layers
            .iter()
            .map(|layer| {
                let w = TensorData::new(layer.weights.clone(), [layer.inputs, layer.outputs]);
                let b = TensorData::new(layer.bias.clone(), [1, layer.outputs]);
                (Tensor::from_data(w, &device), Tensor::from_data(b, &device))
            })
            .collect();
        let x = TensorData::new(data.x.clone(), [data.batch, data.layers[0].inputs]);
        Self {
            layers,
            x: Tensor::from_data(x, &device),
            out: None,
        }
    }
}

impl crate::Peer for Mlp {
    fn run(&mut self) {
        let mut h = self.x.clone();
        for (index, (w, b)) in self.layers.iter().enumerate() {
            if index > 0 {
                h = relu(h);
            }
            h = h.matmul(w.clone()) + b.clone();
        }
        self.out = Some(h);
    }

    fn output(&self) -> Vec<f32> {
        flat(self.out.as_ref())
    }
}

fn flat(out: Option<&Tensor<2>>) -> Vec<f32> {
    let data = out.expect("run before output").to_data();
    data.as_slice::<f32>().expect("f32 output").to_vec()
}
