//! The training rows with burn, as a burn user trains: a module of `Linear`
//! layers on a device with autodiff, burn-nn's `CrossEntropyLoss` (mean over
//! the batch, from logits), `loss.backward()`, `GradientsParams::from_grads`
//! and the SGD optimizer of `burn::optim` (`SgdConfig::new().init()`: no
//! momentum, no weight decay, so each parameter becomes `p - lr·grad`).
//!
//! Two backends: Flex with burn 0.23.0-pre.1 (`flex`), and ndarray with burn
//! 0.22.1 (`ndarray`), since 0.23.0-pre.1 dropped the ndarray backend. Both
//! versions have the same API, so one macro writes both modules.

/// A module `Trainer` over `$burn`'s API on the device `$device`.
macro_rules! burn_trainer {
    ($burn:ident, $device:expr) => {
        use $burn::module::Param;
        use $burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
        use $burn::nn::Linear;
        use $burn::optim::{GradientsParams, ModuleOptimizer, SgdConfig};
        use $burn::tensor::activation::relu;
        use $burn::tensor::{Device, Int, Tensor, TensorData};

        use crate::data::{labels, MlpData};

        /// An MLP's SGD step; the model is the `Vec` of its layers (burn
        /// implements `Module` for `Vec<M>`), relu between them.
        pub struct Train {
            model: Vec<Linear>,
            x: Tensor<2>,
            labels: Tensor<1, Int>,
            loss: CrossEntropyLoss,
            optimizer: ModuleOptimizer,
        }

        impl Train {
            /// Weights, input batch and labels from `data`, on the device
            /// with autodiff enabled.
            pub fn new(data: &MlpData) -> Self {
                let device: Device = $device.autodiff();
                let model = data
                    .layers
                    .iter()
                    .map(|layer| {
                        let w =
                            TensorData::new(layer.weights.clone(), [layer.inputs, layer.outputs]);
                        let b = TensorData::new(layer.bias.clone(), [layer.outputs]);
                        Linear {
                            weight: Param::from_tensor(Tensor::from_data(w, &device)),
                            bias: Some(Param::from_tensor(Tensor::from_data(b, &device))),
                        }
                    })
                    .collect();
                let x = TensorData::new(data.x.clone(), [data.batch, data.layers[0].inputs]);
                #[allow(clippy::cast_possible_wrap)] // classes below 10
                let classes: Vec<i64> = labels(data.batch).into_iter().map(|l| l as i64).collect();
                Self {
                    model,
                    x: Tensor::from_data(x, &device),
                    labels: Tensor::from_data(TensorData::new(classes, [data.batch]), &device),
                    loss: CrossEntropyLossConfig::new().init(&device),
                    optimizer: SgdConfig::new().init(),
                }
            }
        }

        impl crate::Trainer for Train {
            fn step(&mut self) -> f32 {
                let mut h = self.x.clone();
                for (index, layer) in self.model.iter().enumerate() {
                    if index > 0 {
                        h = relu(h);
                    }
                    h = layer.forward(h);
                }
                let loss = self.loss.forward(h, self.labels.clone());
                let grads = GradientsParams::from_grads(loss.backward(), &self.model);
                let model = std::mem::take(&mut self.model);
                self.model = self.optimizer.step(f64::from(crate::LR), model, grads);
                loss.into_scalar::<f32>()
            }

            fn parameters(&self) -> Vec<f32> {
                let mut all = Vec::new();
                for layer in &self.model {
                    let w = layer.weight.val().into_data();
                    all.extend_from_slice(w.as_slice::<f32>().expect("f32 weights"));
                    let b = layer.bias.as_ref().expect("a bias").val().into_data();
                    all.extend_from_slice(b.as_slice::<f32>().expect("f32 bias"));
                }
                all
            }
        }
    };
}

/// Burn 0.23.0-pre.1 on its Flex backend (`Device::flex()`), ID `burn_flex`.
pub mod flex {
    burn_trainer!(burn, Device::flex());
}

/// Burn 0.22.1 on its ndarray backend (`Device::ndarray()`), ID
/// `burn_ndarray`.
#[allow(deprecated)] // burn 0.22 marks the ndarray backend deprecated for Flex.
pub mod ndarray {
    burn_trainer!(burn022, Device::ndarray());
}
