//! Reusable storage for the intermediate values of a graph.
//!
//! The macro plans, at compile time, which intermediate values may share
//! storage (two values share a slot when their lifetimes in the schedule do
//! not overlap), and emits a workspace struct with one [`Slot`] field per
//! planned slot. Each call sizes the slots it uses for the call's shapes: a
//! slot only ever grows, so once a workspace has served a call, later calls
//! of the same or smaller sizes allocate nothing.
//!
//! ```
//! use graph_runtime::workspace::Slot;
//! use ndarray::{array, Ix2};
//!
//! let mut slot = Slot::<f32>::default();
//! slot.out([2, 2]).assign(&array![[1.0, 2.0], [3.0, 4.0]]);
//! let value = slot.get::<Ix2>([2, 2]);
//! assert_eq!(value[[1, 0]], 3.0);
//! assert_eq!(slot.capacity(), 4);
//! ```

use ndarray::{ArrayView, ArrayViewMut, Dimension, IntoDimension};

/// One growable buffer of a workspace.
#[derive(Debug, Clone, Default)]
pub struct Slot<T> {
    data: Vec<T>,
}

impl<T: Copy + Default> Slot<T> {
    /// A mutable view of shape `shape` over the slot's storage, growing the
    /// storage first if it is too small. The view's contents are whatever the
    /// slot last held: kernels writing into it overwrite every element.
    #[inline]
    pub fn out<Sh: IntoDimension>(&mut self, shape: Sh) -> ArrayViewMut<'_, T, Sh::Dim> {
        let dim = shape.into_dimension();
        let len = dim.size();
        if self.data.len() < len {
            self.data.resize(len, T::default());
        }
        // Reshaping a contiguous vector checks only the element count, where
        // `from_shape` validates strides in general: a tenth of a small
        // graph's call time.
        match ArrayViewMut::from(&mut self.data[..len]).into_shape_with_order(dim) {
            Ok(view) => view,
            // Only a length other than the shape's size fails, and the slice
            // was cut to exactly that size.
            Err(_) => unreachable!("a slot cut to the size of its shape always fits it"),
        }
    }

    /// A view of shape `shape` over the slot's first elements, as the last
    /// `out` of that shape left them.
    ///
    /// # Panics
    /// If the slot holds fewer elements than `shape` needs, which generated
    /// code never asks for: it reads a slot only after writing it at the
    /// same shape.
    #[must_use]
    #[inline]
    pub fn get<D: Dimension>(&self, shape: impl IntoDimension<Dim = D>) -> ArrayView<'_, T, D> {
        let dim = shape.into_dimension();
        let len = dim.size();
        match self
            .data
            .get(..len)
            .map(|data| ArrayView::from(data).into_shape_with_order(dim))
        {
            Some(Ok(view)) => view,
            _ => crate::kernels::shape_panic("workspace slot", &[&[self.data.len()], &[len]]),
        }
    }

    /// The single element of a slot written at shape `[]`.
    ///
    /// # Panics
    /// If the slot was never written, which generated code never does.
    #[must_use]
    pub fn scalar(&self) -> T {
        match self.data.first() {
            Some(value) => *value,
            None => crate::kernels::shape_panic("workspace slot", &[&[0], &[1]]),
        }
    }

    /// How many elements the slot can hold without growing.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.data.len()
    }
}

/// The number of elements of a shape, or `None` if it overflows `usize`.
#[must_use]
pub fn checked_size(shape: &[usize]) -> Option<usize> {
    shape
        .iter()
        .try_fold(1usize, |size, &dim| size.checked_mul(dim))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Ix0, Ix1};

    #[test]
    fn grows_only_when_needed() {
        let mut slot = Slot::<f32>::default();
        slot.out([3, 4]).fill(1.0);
        assert_eq!(slot.capacity(), 12);
        slot.out([2, 2]).fill(2.0);
        assert_eq!(slot.capacity(), 12, "a smaller shape reuses the storage");
        assert_eq!(slot.get::<Ix1>([4]).sum(), 8.0);
        slot.out([5, 5]).fill(0.0);
        assert_eq!(slot.capacity(), 25);
    }

    #[test]
    fn scalars_and_empty_shapes() {
        let mut slot = Slot::<usize>::default();
        slot.out(Ix0()).fill(7);
        assert_eq!(slot.scalar(), 7);
        let mut empty = Slot::<f32>::default();
        assert_eq!(empty.out([0, 3]).len(), 0);
        assert_eq!(empty.get::<ndarray::Ix2>([0, 3]).shape(), &[0, 3]);
    }

    #[test]
    #[should_panic(expected = "workspace slot")]
    fn reading_more_than_written_is_a_bug_report() {
        let slot = Slot::<f32>::default();
        let _ = slot.get::<Ix1>([3]);
    }
}
