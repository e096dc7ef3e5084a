//! The training rows with dfdx 0.13 on its `Cpu` device, as a dfdx user
//! trains: the model a tuple of `Linear` and `ReLU` builders (widths are
//! types, so each MLP shape is its own type), `forward_mut` on the input
//! traced into the gradients, `cross_entropy_with_logits_loss` against
//! one-hot targets (the mean over the batch of `-Σ onehot·log_softmax`),
//! `loss.backward()`, and `Sgd` (`SgdConfig` with no momentum and no weight
//! decay: each parameter becomes `p - lr·grad`), then `zero_grads` so the
//! gradient buffers are reused by the next step.

use dfdx::optim::{Optimizer, Sgd};
use dfdx::prelude::*;

use crate::data::{labels, MlpData};

/// `Linear::weight` is `[outputs, inputs]`: `weights` (`[inputs, outputs]`,
/// row-major) transposed.
fn transposed(weights: &[f32], inputs: usize, outputs: usize) -> Vec<f32> {
    let mut out = vec![0.0; weights.len()];
    for k in 0..inputs {
        for j in 0..outputs {
            out[j * inputs + k] = weights[k * outputs + j];
        }
    }
    out
}

/// One-hot rows of `labels(batch)` over `classes`.
fn one_hot(batch: usize, classes: usize) -> Vec<f32> {
    let mut out = vec![0.0; batch * classes];
    for (row, label) in labels(batch).into_iter().enumerate() {
        out[row * classes + label] = 1.0;
    }
    out
}

/// A `Trainer` for the MLP `$model` with `$inputs` inputs and `$classes`
/// outputs, whose `Linear` layers are reached by the paths `$layer`.
macro_rules! dfdx_trainer {
    ($name:ident, $model:ty, $inputs:literal, $classes:literal, [$($layer:tt)*]) => {
        /// An SGD step of the MLP of the same widths.
        pub struct $name {
            model: <$model as BuildOnDevice<Cpu, f32>>::Built,
            grads: Option<Gradients<f32, Cpu>>,
            optimizer: Sgd<<$model as BuildOnDevice<Cpu, f32>>::Built, f32, Cpu>,
            x: Tensor<(usize, Const<$inputs>), f32, Cpu>,
            targets: Tensor<(usize, Const<$classes>), f32, Cpu>,
        }

        impl $name {
            /// Weights, input batch and one-hot targets from `data`.
            pub fn new(data: &MlpData) -> Self {
                let device = Cpu::default();
                let mut model = device.build_module::<$model, f32>();
                let mut layers = data.layers.iter();
                dfdx_trainer!(@load model, layers, [$($layer)*]);
                let grads = model.alloc_grads();
                let optimizer = Sgd::new(
                    &model,
                    SgdConfig {
                        lr: f64::from(crate::LR),
                        momentum: None,
                        weight_decay: None,
                    },
                );
                let x = device.tensor_from_vec(data.x.clone(), (data.batch, Const::<$inputs>));
                let targets = device.tensor_from_vec(
                    one_hot(data.batch, $classes),
                    (data.batch, Const::<$classes>),
                );
                Self {
                    model,
                    grads: Some(grads),
                    optimizer,
                    x,
                    targets,
                }
            }
        }

        impl crate::Trainer for $name {
            fn step(&mut self) -> f32 {
                let grads = self.grads.take().expect("gradients between steps");
                let logits = self.model.forward_mut(self.x.clone().traced(grads));
                let loss = cross_entropy_with_logits_loss(logits, self.targets.clone());
                let value = loss.array();
                let mut grads = loss.backward();
                self.optimizer
                    .update(&mut self.model, &grads)
                    .expect("every parameter has a gradient");
                self.model.zero_grads(&mut grads);
                self.grads = Some(grads);
                value
            }

            fn parameters(&self) -> Vec<f32> {
                let mut all = Vec::new();
                dfdx_trainer!(@read self.model, all, [$($layer)*]);
                all
            }
        }
    };
    (@load $model:ident, $layers:ident, [$(($($path:tt)*))*]) => {
        $(
            let layer = $layers.next().expect("a layer per Linear");
            $model$($path)*.weight.copy_from(&transposed(&layer.weights, layer.inputs, layer.outputs));
            $model$($path)*.bias.copy_from(&layer.bias);
        )*
    };
    (@read $model:expr, $all:ident, [$(($($path:tt)*))*]) => {
        $(
            let linear = &$model$($path)*;
            let (outputs, inputs) = (linear.bias.shape().0.size(), linear.weight.shape().1.size());
            $all.extend(transposed(&linear.weight.as_vec(), outputs, inputs));
            $all.extend(linear.bias.as_vec());
        )*
    };
}

/// 784-128-10.
type Mlp1 = ((Linear<784, 128>, ReLU), Linear<128, 10>);
/// 64-256-256-10.
type Mlp2 = (
    (Linear<64, 256>, ReLU),
    (Linear<256, 256>, ReLU),
    Linear<256, 10>,
);

dfdx_trainer!(Train784x128x10, Mlp1, 784, 10, [(.0 .0) (.1)]);
dfdx_trainer!(Train64x256x256x10, Mlp2, 64, 10, [(.0 .0) (.1 .0) (.2)]);
