//! One pass over memory for a tree of elementwise ops.
//!
//! The optimizer merges chains and trees of elementwise ops into one node;
//! the generated code calls `mapN_into` with the node's operands and a
//! closure computing one element of the result from one element of each
//! operand (through the functions of [`crate::scalar`]). Operands broadcast to
//! the output's shape as numpy does. No temporary arrays are made.
//!
//! ```
//! use graph_runtime::{kernels::fused, scalar};
//! use ndarray::{array, Array2};
//!
//! let x = array![[1.0_f32, -2.0], [3.0, -4.0]];
//! let bias = array![0.5_f32, 0.5];
//! let mut out = Array2::zeros((2, 2));
//! fused::map2_into(x.view(), bias.view(), |x, b| scalar::relu(x + b) * 2.0, out.view_mut());
//! assert_eq!(out, array![[3.0, 0.0], [7.0, 0.0]]);
//! ```

use ndarray::{ArrayView, ArrayViewMut, Dimension, Zip};

use super::shape_panic;

macro_rules! map_into {
    ($(#[$doc:meta])* $name:ident, $($operand:ident: $dim:ident),+) => {
        $(#[$doc])*
        ///
        /// # Panics
        /// If an operand does not broadcast to `out`'s shape.
        #[track_caller]
        pub fn $name<D: Dimension, $($dim: Dimension),+>(
            $($operand: ArrayView<'_, f32, $dim>,)+
            element: impl Fn($(map_into!(@f32 $operand)),+) -> f32,
            mut out: ArrayViewMut<'_, f32, D>,
        ) {
            let shape = out.raw_dim();
            $(
                let Some($operand) = $operand.broadcast(shape.clone()) else {
                    shape_panic(stringify!($name), &[$operand.shape(), out.shape()])
                };
            )+
            Zip::from(&mut out)
                $(.and(&$operand))+
                .for_each(|o, $(&$operand),+| *o = element($($operand),+));
        }
    };
    (@f32 $operand:ident) => { f32 };
}

map_into!(
    /// `out = element(a)`, elementwise.
    map1_into, a: A
);
map_into!(
    /// `out = element(a, b)`, elementwise with broadcasting.
    map2_into, a: A, b: B
);
map_into!(
    /// `out = element(a, b, c)`, elementwise with broadcasting.
    map3_into, a: A, b: B, c: C
);
map_into!(
    /// `out = element(a, b, c, d)`, elementwise with broadcasting.
    map4_into, a: A, b: B, c: C, d: E
);
map_into!(
    /// `out = element(a, b, c, d, e)`, elementwise with broadcasting.
    map5_into, a: A, b: B, c: C, d: E, e: F
);

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, aview0, Array2, Array3};

    #[test]
    fn broadcasts_every_operand_to_the_output() {
        let column = array![[1.0_f32], [2.0]];
        let row = array![10.0_f32, 20.0, 30.0];
        let mut out = Array2::zeros((2, 3));
        map3_into(
            column.view(),
            row.view(),
            aview0(&0.5_f32),
            |c, r, s| c * r + s,
            out.view_mut(),
        );
        assert_eq!(out, array![[10.5, 20.5, 30.5], [20.5, 40.5, 60.5]]);
    }

    #[test]
    fn writes_through_strided_outputs() {
        let x = Array3::from_shape_fn((2, 2, 2), |(i, j, k)| (i * 4 + j * 2 + k) as f32);
        let mut out = Array3::zeros((2, 2, 2));
        map1_into(x.view(), |v| v + 1.0, out.view_mut().reversed_axes());
        assert_eq!(
            out[[1, 0, 0]],
            2.0,
            "out[1,0,0] is element [0,0,1] of x, plus 1"
        );
    }

    #[test]
    #[should_panic(expected = "map2_into")]
    fn incompatible_operands_name_the_kernel() {
        let mut out = Array2::<f32>::zeros((2, 2));
        map2_into(
            array![1.0_f32, 2.0, 3.0].view(),
            aview0(&1.0_f32),
            |a, b| a + b,
            out.view_mut(),
        );
    }
}
