//! ndarray as most people first write it: every operation returns a new
//! array (`x.dot(&w) + &b`, `mapv`), and nothing is kept between calls but
//! the weights.

use staticflow::ndarray::{Array1, Array2, ArrayView2};

use super::data::{MlpData, SeedData};

/// The seed graph, `(&a * &b) / (&a + &b)`.
pub struct Seed {
    out: Array2<f32>,
}

impl Seed {
    /// Nothing to prepare; `data` only sizes nothing, kept for symmetry.
    pub fn new(_data: &SeedData) -> Self {
        Self {
            out: Array2::zeros((0, 0)),
        }
    }
}

impl super::VectorSeed for Seed {
    fn res<'a>(
        &'a mut self,
        a: ArrayView2<'a, f32>,
        b: ArrayView2<'a, f32>,
    ) -> ArrayView2<'a, f32> {
        self.out = (&a * &b) / (&a + &b);
        self.out.view()
    }
}

/// An MLP computed layer by layer with allocating operators.
pub struct Mlp {
    layers: Vec<(Array2<f32>, Array1<f32>)>,
    out: Array2<f32>,
}

impl Mlp {
    /// Copies `data`'s weights.
    pub fn new(data: &MlpData) -> Self {
        let layers = data
            .layers
            .iter()
            .map(|layer| (layer.weights.clone(), layer.bias.clone()))
            .collect();
        Self {
            layers,
            out: Array2::zeros((0, 0)),
        }
    }
}

impl super::Mlp for Mlp {
    fn logits<'a>(&'a mut self, x: ArrayView2<'a, f32>) -> ArrayView2<'a, f32> {
        let (first, rest) = self.layers.split_first().expect("an MLP has a layer");
        let mut h = x.dot(&first.0) + &first.1;
        for (w, b) in rest {
            h = h.mapv(|v| v.max(0.0)).dot(w) + b;
        }
        self.out = h;
        self.out.view()
    }
}
