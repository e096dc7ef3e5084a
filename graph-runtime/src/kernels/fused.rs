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

use super::{shape_panic, vectorised};

/// The elements of `a` as a slice, if they are contiguous in standard
/// (row-major) order.
fn standard_slice<'a, D: Dimension>(a: &ArrayView<'a, f32, D>) -> Option<&'a [f32]> {
    a.to_slice()
}

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
            // Operands of the output's shape, all contiguous in the same
            // order: one loop over slices, vectorised.
            if $($operand.shape() == out.shape())&&+ {
                if let ($(Some($operand),)+ Some(out)) = (
                    $(standard_slice(&$operand),)+
                    out.as_slice_mut(),
                ) {
                    let len = out.len();
                    $(let $operand = &$operand[..len];)+
                    return vectorised(|| {
                        for (index, o) in out.iter_mut().enumerate() {
                            *o = element($($operand[index]),+);
                        }
                    });
                }
            }
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

/// The in-place twins of `mapN_into`: `target = element(target, b, ..)`,
/// where the closure's first argument is the target's old element. The
/// generated code calls them when a value is computed over the buffer of an
/// operand it reads for the last time (a workspace slot, or a variable being
/// updated); the operand's elements are then that first argument.
macro_rules! map_inplace {
    ($(#[$doc:meta])* $name:ident $(, $operand:ident: $dim:ident)*) => {
        $(#[$doc])*
        ///
        /// # Panics
        /// If an operand does not broadcast to `target`'s shape.
        #[track_caller]
        pub fn $name<D: Dimension $(, $dim: Dimension)*>(
            mut target: ArrayViewMut<'_, f32, D>,
            $($operand: ArrayView<'_, f32, $dim>,)*
            element: impl Fn(f32 $(, map_inplace!(@f32 $operand))*) -> f32,
        ) {
            // Operands of the target's shape, all contiguous in the same
            // order: one loop over slices, vectorised.
            if true $(&& $operand.shape() == target.shape())* {
                if let ($(Some($operand),)* Some(target),) = (
                    $(standard_slice(&$operand),)*
                    target.as_slice_mut(),
                ) {
                    $(let $operand = &$operand[..target.len()];)*
                    return vectorised(|| {
                        for (_index, t) in target.iter_mut().enumerate() {
                            *t = element(*t $(, $operand[_index])*);
                        }
                    });
                }
            }
            $(
                let Some($operand) = $operand.broadcast(target.raw_dim()) else {
                    shape_panic(stringify!($name), &[$operand.shape(), target.shape()])
                };
            )*
            Zip::from(&mut target)
                $(.and(&$operand))*
                .for_each(|t $(, &$operand)*| *t = element(*t $(, $operand)*));
        }
    };
    (@f32 $operand:ident) => { f32 };
}

map_inplace!(
    /// `target = element(target)`, elementwise.
    ///
    /// ```
    /// use graph_runtime::{kernels::fused, scalar};
    /// use ndarray::array;
    ///
    /// let mut x = array![[1.0_f32, -2.0], [3.0, -4.0]];
    /// fused::map1_inplace(x.view_mut(), |x| scalar::relu(x) * 2.0);
    /// assert_eq!(x, array![[2.0, 0.0], [6.0, 0.0]]);
    /// ```
    map1_inplace
);
map_inplace!(
    /// `target = element(target, b)`, elementwise, `b` broadcast to `target`'s
    /// shape.
    ///
    /// ```
    /// use graph_runtime::kernels::fused;
    /// use ndarray::array;
    ///
    /// // `w = w - 0.5 · g`, computed over `w`.
    /// let mut w = array![[1.0_f32, 2.0], [3.0, 4.0]];
    /// let g = array![2.0_f32, -2.0];
    /// fused::map2_inplace(w.view_mut(), g.view(), |w, g| w - 0.5 * g);
    /// assert_eq!(w, array![[0.0, 3.0], [2.0, 5.0]]);
    /// ```
    map2_inplace, b: B
);
map_inplace!(
    /// `target = element(target, b, c)`, elementwise with broadcasting.
    map3_inplace, b: B, c: C
);
map_inplace!(
    /// `target = element(target, b, c, d)`, elementwise with broadcasting.
    map4_inplace, b: B, c: C, d: E
);
map_inplace!(
    /// `target = element(target, b, c, d, e)`, elementwise with broadcasting.
    map5_inplace, b: B, c: C, d: E, e: F
);

#[cfg(test)]
mod inplace_tests {
    use super::*;
    use ndarray::{array, aview0, Array2, Array3};

    #[test]
    fn inplace_matches_into_with_the_target_first() {
        let x = array![[1.0_f32, 2.0, 3.0], [4.0, 5.0, 6.0]];
        let column = array![[10.0_f32], [20.0]];
        let row = array![1.0_f32, 0.0, -1.0];
        let element = |x: f32, c: f32, r: f32, s: f32, k: f32| (x * s - c) * r + k;
        let mut into = Array2::zeros((2, 3));
        map5_into(
            x.view(),
            column.view(),
            row.view(),
            aview0(&2.0_f32),
            aview0(&0.5_f32),
            element,
            into.view_mut(),
        );
        let mut target = x.clone();
        map5_inplace(
            target.view_mut(),
            column.view(),
            row.view(),
            aview0(&2.0_f32),
            aview0(&0.5_f32),
            element,
        );
        assert_eq!(target, into);
        // By hand, row 0: (2 - 10)·1 + 0.5, (4 - 10)·0 + 0.5, (6 - 10)·(-1) + 0.5.
        assert_eq!(target.row(0), array![-7.5, 0.5, 4.5]);
    }

    #[test]
    fn the_target_may_stand_for_several_operands() {
        // `x * x - 1` over `x`: both reads of `x` are the old element.
        let mut x = array![1.0_f32, -2.0, 3.0];
        map1_inplace(x.view_mut(), |x| x * x - 1.0);
        assert_eq!(x, array![0.0, 3.0, 8.0]);
        // `c - x` with the target on the right of the subtraction.
        let mut x = array![1.0_f32, -2.0, 3.0];
        map2_inplace(x.view_mut(), aview0(&10.0_f32), |x, c| c - x);
        assert_eq!(x, array![9.0, 12.0, 7.0]);
    }

    #[test]
    fn contiguous_operands_take_the_slice_loop() {
        // 37 elements: whole vectors and a remainder. Element i: w = i,
        // g = 2i + 1, so w - 0.5·g = -0.5 for every i, exactly.
        let mut w = Array2::from_shape_fn((37, 1), |(i, _)| i as f32);
        let g = Array2::from_shape_fn((37, 1), |(i, _)| (2 * i + 1) as f32);
        map2_inplace(w.view_mut(), g.view(), |w, g| w - 0.5 * g);
        assert!(w.iter().all(|&v| v == -0.5), "{w}");
        // No operands at all.
        map1_inplace(w.view_mut(), |w| w * -4.0);
        assert!(w.iter().all(|&v| v == 2.0), "{w}");
    }

    #[test]
    fn writes_through_strided_targets() {
        let mut x = Array3::from_shape_fn((2, 2, 2), |(i, j, k)| (i * 4 + j * 2 + k) as f32);
        let bias = array![100.0_f32, 200.0];
        // Reversed axes: target element [i, j, k] is x[k, j, i]; `bias`
        // follows the last axis of the target, i.e. x's first.
        map2_inplace(x.view_mut().reversed_axes(), bias.view(), |t, b| t + b);
        assert_eq!(x[[0, 1, 1]], 3.0 + 100.0);
        assert_eq!(x[[1, 0, 1]], 5.0 + 200.0);
    }

    #[test]
    #[should_panic(expected = "map2_inplace")]
    fn an_operand_larger_than_the_target_names_the_kernel() {
        let mut x = Array2::<f32>::zeros((1, 3));
        map2_inplace(x.view_mut(), Array2::<f32>::zeros((2, 3)).view(), |t, b| {
            t + b
        });
    }
}

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
