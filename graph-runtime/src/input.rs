//! What a generated method takes for an array input: anything that is, or
//! can be borrowed as, an ndarray view of the input's rank, without a copy.
//!
//! [`Input`] is implemented for the types a caller holds an array in, so
//! that a wrong one (another rank, another element type) is reported as
//! such, in one line, rather than through the conversion traits behind it.

use ndarray::{ArrayBase, ArrayView, Data, Dimension, Ix1, Ix2};

/// An array a generated method takes for an input of dimension `D` with
/// elements `A`, borrowed for `'a`: an [`ArrayView`], a reference to any
/// array (`&Array2<f32>`, `&ArrayView2<f32>`, `&ArcArray2<f32>`, ...), and for
/// rank 1 a slice, `&Vec` or `&[A; N]`, for rank 2 `&[[A; N]; M]`,
/// `&[[A; N]]` or `&Vec<[A; N]>`.
///
/// ```
/// use graph_runtime::Input;
/// use ndarray::{array, Ix2};
///
/// fn rows<'a>(x: impl Input<'a, f32, Ix2>) -> usize {
///     x.into_view().nrows()
/// }
/// let x = array![[1.0_f32, 2.0], [3.0, 4.0]];
/// assert_eq!(rows(&x), 2);
/// assert_eq!(rows(x.view()), 2);
/// assert_eq!(rows(&[[0.0_f32; 3]; 5]), 5);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an input of this rank and element type",
    label = "expected an array of `{A}` of the input's rank (`{D}`)",
    note = "an input takes an `ArrayView`, a reference to an array (`&Array2<f32>`), nested \
            arrays (`&[[f32; 3]; 2]`) or, for rank 1, a slice; the method's docs list each \
            input's shape"
)]
pub trait Input<'a, A: 'a, D: Dimension> {
    /// The input as a view, without a copy.
    fn into_view(self) -> ArrayView<'a, A, D>;
}

impl<'a, A, D: Dimension> Input<'a, A, D> for ArrayView<'a, A, D> {
    fn into_view(self) -> ArrayView<'a, A, D> {
        self
    }
}

impl<'a, A, S: Data<Elem = A>, D: Dimension> Input<'a, A, D> for &'a ArrayBase<S, D> {
    fn into_view(self) -> ArrayView<'a, A, D> {
        self.view()
    }
}

impl<'a, A> Input<'a, A, Ix1> for &'a [A] {
    fn into_view(self) -> ArrayView<'a, A, Ix1> {
        ArrayView::from(self)
    }
}

impl<'a, A> Input<'a, A, Ix1> for &'a Vec<A> {
    fn into_view(self) -> ArrayView<'a, A, Ix1> {
        ArrayView::from(self.as_slice())
    }
}

impl<'a, A, const N: usize> Input<'a, A, Ix1> for &'a [A; N] {
    fn into_view(self) -> ArrayView<'a, A, Ix1> {
        ArrayView::from(self.as_slice())
    }
}

impl<'a, A, const N: usize, const M: usize> Input<'a, A, Ix2> for &'a [[A; N]; M] {
    fn into_view(self) -> ArrayView<'a, A, Ix2> {
        ArrayView::from(self)
    }
}

impl<'a, A, const N: usize> Input<'a, A, Ix2> for &'a [[A; N]] {
    fn into_view(self) -> ArrayView<'a, A, Ix2> {
        ArrayView::from(self)
    }
}

impl<'a, A, const N: usize> Input<'a, A, Ix2> for &'a Vec<[A; N]> {
    fn into_view(self) -> ArrayView<'a, A, Ix2> {
        ArrayView::from(self.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{array, Array1, Ix1, Ix2};

    use super::Input;

    fn total<'a, D: ndarray::Dimension>(x: impl Input<'a, f32, D>) -> f32 {
        x.into_view().sum()
    }

    #[test]
    fn every_form_is_the_same_view() {
        let owned = array![[1.0_f32, 2.0], [3.0, 4.0]];
        assert_eq!(total::<Ix2>(&owned), 10.0);
        assert_eq!(total::<Ix2>(owned.view()), 10.0);
        assert_eq!(total::<Ix2>(&owned.view()), 10.0);
        assert_eq!(total::<Ix2>(&[[1.0_f32, 2.0], [3.0, 4.0]]), 10.0);
        assert_eq!(total::<Ix2>(&vec![[1.0_f32, 2.0], [3.0, 4.0]]), 10.0);
        let rows: &[[f32; 2]] = &[[1.0, 2.0], [3.0, 4.0]];
        assert_eq!(total::<Ix2>(rows), 10.0);
        let vector = vec![1.0_f32, 2.0, 3.0];
        assert_eq!(total::<Ix1>(&vector), 6.0);
        assert_eq!(total::<Ix1>(vector.as_slice()), 6.0);
        assert_eq!(total::<Ix1>(&[1.0_f32, 2.0, 3.0]), 6.0);
        assert_eq!(total::<Ix1>(&Array1::from(vector)), 6.0);
    }

    #[test]
    fn views_borrow_without_a_copy() {
        let owned = array![1.0_f32, 2.0];
        assert_eq!((&owned).into_view().as_ptr(), owned.as_ptr());
        let nested = [[1.0_f32; 3]; 2];
        let view: ndarray::ArrayView2<'_, f32> = (&nested).into_view();
        assert_eq!(view.as_ptr(), nested.as_ptr().cast::<f32>());
    }
}
