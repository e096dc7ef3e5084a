//! The rows with tract (`tract-core`): each model built in memory as a
//! `TypedModel` (no file: no ONNX model is downloaded or shipped), optimized
//! with `into_optimized` for its concrete shapes, then run through one
//! reused `SimpleState`, as a tract user serving a model does.

use tract_core::ops::einsum::EinSum;
use tract_core::ops::math;
use tract_core::prelude::*;

use crate::data::{MlpData, SeedData};

const BUILDS: &str = "the tract model is well formed";

/// A prepared tract plan with its inputs.
pub struct Plan {
    state: TypedSimpleState,
    inputs: TVec<TValue>,
    out: TVec<TValue>,
}

impl Plan {
    fn new(model: TypedModel, inputs: TVec<TValue>) -> Self {
        let plan = model
            .into_optimized()
            .and_then(IntoRunnable::into_runnable)
            .expect(BUILDS);
        let state = plan.spawn().expect(BUILDS);
        Self {
            state,
            inputs,
            out: tvec![],
        }
    }

    /// The seed graph on scalars or `[1, n]` rows.
    pub fn seed(data: &SeedData, scalar: bool) -> Self {
        let shape: &[usize] = if scalar { &[] } else { &[1, data.len] };
        let len = if scalar { 1 } else { data.len };
        let tensor = |values: &[f32]| {
            Tensor::from_shape(shape, &values[..len])
                .expect("values of the shape")
                .into_tvalue()
        };
        let mut model = TypedModel::default();
        let a = model.add_source("a", f32::fact(shape)).expect(BUILDS);
        let b = model.add_source("b", f32::fact(shape)).expect(BUILDS);
        let product = model
            .wire_node("product", math::mul(), &[a, b])
            .expect(BUILDS)[0];
        let sum = model.wire_node("sum", math::add(), &[a, b]).expect(BUILDS)[0];
        let res = model
            .wire_node("res", math::div(), &[product, sum])
            .expect(BUILDS);
        model.select_output_outlets(&res).expect(BUILDS);
        Self::new(model, tvec![tensor(&data.a), tensor(&data.b)])
    }

    /// An MLP: `EinSum` `mk,kn->mn` products, bias adds and relu (`max` with
    /// 0), for `data`'s batch size.
    pub fn mlp(data: &MlpData) -> Self {
        let mut model = TypedModel::default();
        let inputs = data.layers[0].inputs;
        let mut h = model
            .add_source("x", f32::fact([data.batch, inputs]))
            .expect(BUILDS);
        let zero = model
            .add_const("zero", tensor2(&[[0.0_f32]]))
            .expect(BUILDS);
        for (index, layer) in data.layers.iter().enumerate() {
            if index > 0 {
                h = model
                    .wire_node(format!("relu{index}"), math::max(), &[h, zero])
                    .expect(BUILDS)[0];
            }
            let w = Tensor::from_shape(&[layer.inputs, layer.outputs], &layer.weights);
            let b = Tensor::from_shape(&[1, layer.outputs], &layer.bias);
            let w = model
                .add_const(format!("w{index}"), w.expect("weights"))
                .expect(BUILDS);
            let b = model
                .add_const(format!("b{index}"), b.expect("bias"))
                .expect(BUILDS);
            let matmul = EinSum::new("mk,kn->mn".parse().expect("an einsum"), f32::datum_type());
            h = model
                .wire_node(format!("matmul{index}"), matmul, &[h, w])
                .expect(BUILDS)[0];
            h = model
                .wire_node(format!("bias{index}"), math::add(), &[h, b])
                .expect(BUILDS)[0];
        }
        model.select_output_outlets(&[h]).expect(BUILDS);
        let x = Tensor::from_shape(&[data.batch, inputs], &data.x).expect("input batch");
        Self::new(model, tvec![x.into_tvalue()])
    }
}

impl crate::Peer for Plan {
    fn run(&mut self) {
        // Cloning a `TValue` clones a reference count, not the tensor.
        self.out = self
            .state
            .run(self.inputs.clone())
            .expect("the tract plan runs");
    }

    fn output(&self) -> Vec<f32> {
        let out = self.out.first().expect("run before output");
        out.to_plain_array_view::<f32>()
            .expect("f32 output")
            .iter()
            .copied()
            .collect()
    }
}
