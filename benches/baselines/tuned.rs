//! ndarray written for speed: every output preallocated once, matrix products
//! by `general_mat_mul` into those buffers, bias and relu fused into one pass
//! over each product. No allocation per call.

use staticflow::ndarray::linalg::general_mat_mul;
use staticflow::ndarray::{Array1, Array2, ArrayView2, Zip};

use super::data::{MlpData, SeedData};

/// The seed graph as one `Zip` pass into a preallocated row.
pub struct Seed {
    out: Array2<f32>,
}

impl Seed {
    /// Allocates the output row.
    pub fn new(data: &SeedData) -> Self {
        Self {
            out: Array2::zeros(data.a.raw_dim()),
        }
    }
}

impl super::VectorSeed for Seed {
    fn res<'a>(
        &'a mut self,
        a: ArrayView2<'a, f32>,
        b: ArrayView2<'a, f32>,
    ) -> ArrayView2<'a, f32> {
        Zip::from(&mut self.out)
            .and(&a)
            .and(&b)
            .for_each(|out, &a, &b| *out = (a * b) / (a + b));
        self.out.view()
    }
}

/// An MLP with one preallocated buffer per layer.
pub struct Mlp {
    layers: Vec<(Array2<f32>, Array1<f32>)>,
    buffers: Vec<Array2<f32>>,
}

impl Mlp {
    /// Copies `data`'s weights and allocates one `[batch, outputs]` buffer
    /// per layer for the batch size of `data.x`.
    pub fn new(data: &MlpData) -> Self {
        let batch = data.x.nrows();
        let layers = data
            .layers
            .iter()
            .map(|layer| (layer.weights.clone(), layer.bias.clone()))
            .collect();
        let buffers = data
            .layers
            .iter()
            .map(|layer| Array2::zeros((batch, layer.bias.len())))
            .collect();
        Self { layers, buffers }
    }
}

impl super::Mlp for Mlp {
    fn logits<'a>(&'a mut self, x: ArrayView2<'a, f32>) -> ArrayView2<'a, f32> {
        let last = self.layers.len() - 1;
        for (index, (w, b)) in self.layers.iter().enumerate() {
            let (done, rest) = self.buffers.split_at_mut(index);
            let input = done.last().map_or(x, |buffer| buffer.view());
            let out = &mut rest[0];
            general_mat_mul(1.0, &input, w, 0.0, out);
            if index == last {
                for mut row in out.rows_mut() {
                    row += b;
                }
            } else {
                for mut row in out.rows_mut() {
                    row.zip_mut_with(b, |v, &b| *v = (*v + b).max(0.0));
                }
            }
        }
        self.buffers[last].view()
    }
}
