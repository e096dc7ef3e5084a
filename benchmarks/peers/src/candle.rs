//! The rows with candle (`candle-core`) on its CPU device: the forward pass
//! written with tensor ops as a candle user would, inputs built once. The
//! training rows use `candle-nn` as a candle user trains: `Linear` layers
//! over `Var`s, `loss::cross_entropy` and the `SGD` optimizer.

use candle_core::{Device, Module, Tensor, Var};
use candle_nn::optim::{Optimizer, SGD};
use candle_nn::Linear;

use crate::data::{labels, MlpData, SeedData};

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

/// An MLP's SGD step: `candle_nn::Linear` layers whose weights and biases
/// are `Var`s, relu between them, `candle_nn::loss::cross_entropy` (log
/// softmax, then the mean negative log-likelihood of the labels), and
/// `candle_nn::optim::SGD::backward_step`, which runs `loss.backward()` and
/// sets every var to `var - lr·grad`.
pub struct Train {
    layers: Vec<Linear>,
    x: Tensor,
    labels: Tensor,
    sgd: SGD,
}

impl Train {
    /// Weights, input batch and labels from `data`. `Linear` keeps its
    /// weights `[outputs, inputs]`, so each is stored transposed.
    pub fn new(data: &MlpData) -> Self {
        let device = Device::Cpu;
        let mut vars = Vec::new();
        let layers = data
            .layers
            .iter()
            .map(|layer| {
                let w = Tensor::from_slice(&layer.weights, (layer.inputs, layer.outputs), &device)
                    .and_then(|w| w.t())
                    .and_then(|w| Var::from_tensor(&w))
                    .expect("weights");
                let b = Tensor::from_slice(&layer.bias, layer.outputs, &device)
                    .and_then(|b| Var::from_tensor(&b))
                    .expect("bias");
                let linear = Linear::new(w.as_tensor().clone(), Some(b.as_tensor().clone()));
                vars.push(w);
                vars.push(b);
                linear
            })
            .collect();
        let x = Tensor::from_slice(&data.x, (data.batch, data.layers[0].inputs), &device)
            .expect("input batch");
        #[allow(clippy::cast_possible_truncation)] // classes below 10
        let classes: Vec<u32> = labels(data.batch).into_iter().map(|l| l as u32).collect();
        let labels = Tensor::from_vec(classes, data.batch, &device).expect("labels");
        let sgd = SGD::new(vars, f64::from(crate::LR)).expect("an SGD over f32 vars");
        Self {
            layers,
            x,
            labels,
            sgd,
        }
    }
}

impl crate::Trainer for Train {
    fn step(&mut self) -> f32 {
        let mut h = self.x.clone();
        for (index, layer) in self.layers.iter().enumerate() {
            if index > 0 {
                h = h.relu().expect(RUNS);
            }
            h = layer.forward(&h).expect(RUNS);
        }
        let loss = candle_nn::loss::cross_entropy(&h, &self.labels).expect(RUNS);
        self.sgd.backward_step(&loss).expect(RUNS);
        loss.to_scalar::<f32>().expect("a scalar loss")
    }

    fn parameters(&self) -> Vec<f32> {
        let mut all = Vec::new();
        for layer in &self.layers {
            let w = layer.weight().t().expect("transposed weights");
            all.extend(flat(Some(&w)));
            all.extend(flat(layer.bias()));
        }
        all
    }
}

fn flat(out: Option<&Tensor>) -> Vec<f32> {
    let out = out.expect("run before output");
    out.flatten_all()
        .and_then(|t| t.to_vec1())
        .expect("f32 output")
}
