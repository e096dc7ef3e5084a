//! Plain Rust `f32` arithmetic for the seed graph: the expression itself on
//! scalars, and a loop over slices for rows.

use staticflow::ndarray::{Array2, ArrayView2};

use super::data::SeedData;

/// `(a * b) / (a + b)` with nothing around it.
pub struct Seed {
    out: Array2<f32>,
}

impl Seed {
    /// Allocates the output row (unused by the scalar row).
    pub fn new(data: &SeedData) -> Self {
        Self {
            out: Array2::zeros(data.a.raw_dim()),
        }
    }
}

impl super::ScalarSeed for Seed {
    fn res(&mut self, a: f32, b: f32) -> f32 {
        (a * b) / (a + b)
    }
}

impl super::VectorSeed for Seed {
    fn res<'a>(
        &'a mut self,
        a: ArrayView2<'a, f32>,
        b: ArrayView2<'a, f32>,
    ) -> ArrayView2<'a, f32> {
        let (a, b) = (contiguous(&a), contiguous(&b));
        let out = self
            .out
            .as_slice_mut()
            .expect("owned arrays are contiguous");
        for ((out, &a), &b) in out.iter_mut().zip(a).zip(b) {
            *out = (a * b) / (a + b);
        }
        self.out.view()
    }
}

fn contiguous<'a>(view: &ArrayView2<'a, f32>) -> &'a [f32] {
    view.to_slice().expect("the rows feed row-major arrays")
}
