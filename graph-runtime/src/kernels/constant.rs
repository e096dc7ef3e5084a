//! Views of constant data baked into generated code.

use ndarray::{ArrayView, Dimension, ShapeBuilder};

use super::shape_panic;

/// Views `data`, laid out in row-major order, as an array of shape `shape`.
///
/// Generated code passes a literal slice, which Rust promotes to `'static`, so
/// constants cost no allocation and no copy.
///
/// # Panics
/// If `data.len()` is not the product of `shape`.
///
/// ```
/// use graph_runtime::kernels::constant;
///
/// let k = constant::view(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [2, 3]);
/// assert_eq!(k[[1, 0]], 4.0);
/// ```
#[track_caller]
pub fn view<Sh>(data: &'static [f32], shape: Sh) -> ArrayView<'static, f32, Sh::Dim>
where
    Sh: ShapeBuilder<Dim: Dimension>,
    Sh::Dim: Dimension,
{
    let dim = shape.into_shape_with_order().raw_dim().clone();
    match ArrayView::from_shape(dim.clone(), data) {
        Ok(view) => view,
        Err(_) => shape_panic("constant", &[&[data.len()], dim.slice()]),
    }
}
