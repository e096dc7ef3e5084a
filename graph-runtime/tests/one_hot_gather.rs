//! `one_hot` and gather's backward pass (`gather_grad_into`), with the
//! `no_std` slice kernels `flat::one_hot`, `flat::gather` and
//! `flat::gather_grad`, against values worked out by hand: repeated indices,
//! out-of-range indices, ranks 0 to 4, empty and odd shapes, and operands
//! in other memory layouts.

mod common;

use common::layouts;
use graph_runtime::flat;
use graph_runtime::kernels::nn;
use graph_runtime::Error;
use ndarray::{
    array, aview0, Array, Array1, Array2, Array3, Array4, ArrayD, Axis, IxDyn, ShapeBuilder,
};

// one_hot ------------------------------------------------------------------

#[test]
fn one_hot_by_hand() {
    let y = nn::one_hot(array![2, 0, 1, 0].view(), 3);
    let expected = array![
        [0.0, 0.0, 1.0],
        [1.0, 0.0, 0.0],
        [0.0, 1.0, 0.0],
        [1.0, 0.0, 0.0]
    ];
    assert_eq!(y, expected);
    // [2, 2] indices: a [2, 2, 4] result.
    let y = nn::one_hot(array![[3, 1], [1, 0]].view(), 4);
    let expected = array![
        [[0.0, 0.0, 0.0, 1.0], [0.0, 1.0, 0.0, 0.0]],
        [[0.0, 1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]]
    ];
    assert_eq!(y, expected);
    // One index (rank 0): a vector.
    assert_eq!(nn::one_hot(aview0(&1), 3), array![0.0, 1.0, 0.0]);
}

/// As `tf.one_hot`: an index at or past `depth` gives a row of zeros.
#[test]
fn one_hot_out_of_range_gives_zero_rows() {
    let y = nn::one_hot(array![3, 2, usize::MAX, 0].view(), 3);
    let expected = array![
        [0.0, 0.0, 0.0],
        [0.0, 0.0, 1.0],
        [0.0, 0.0, 0.0],
        [1.0, 0.0, 0.0]
    ];
    assert_eq!(y, expected);
    let mut out = [f32::NAN; 6];
    flat::one_hot(&[3, 7], 3, &mut out);
    assert_eq!(out, [0.0; 6]);
}

#[test]
fn one_hot_empty_shapes() {
    // depth 0: every index is out of range, and there is nothing to write.
    let y = nn::one_hot(array![0, 1, 2].view(), 0);
    assert_eq!(y.shape(), &[3, 0]);
    let none: Array2<f32> = nn::one_hot(Array1::<usize>::zeros(0).view(), 5);
    assert_eq!(none.shape(), &[0, 5]);
    let none: Array3<f32> = nn::one_hot(Array2::<usize>::zeros((2, 0)).view(), 5);
    assert_eq!(none.shape(), &[2, 0, 5]);
    let mut out: [f32; 0] = [];
    flat::one_hot(&[0, 1, 2], 0, &mut out);
    flat::one_hot(&[], 4, &mut out);
}

/// Rank 3 indices of odd sizes, every layout of indices and output, and
/// dynamic rank; the expected values from the definition.
#[test]
fn one_hot_odd_shapes_and_layouts() {
    let depth = 5;
    let indices = Array::from_shape_fn((3, 1, 2), |(i, _, k)| i * 2 + k * 3);
    // (i, k) → index: 0, 3, 2, 5, 4, 7, of which 5 and 7 are past depth 5.
    let expected =
        Array4::from_shape_fn(
            (3, 1, 2, depth),
            |(i, _, k, j)| {
                if j == i * 2 + k * 3 {
                    1.0
                } else {
                    0.0
                }
            },
        );
    assert_eq!(expected.iter().sum::<f32>(), 4.0, "two zero rows");
    let indices = indices.into_dyn();
    for (layout, indices) in layouts(&indices) {
        let indices = indices
            .into_dimensionality::<ndarray::Ix3>()
            .expect("rank 3");
        assert_eq!(nn::one_hot(indices.view(), depth), expected, "{layout}");
        // Output in column-major order: the lanes path.
        let mut out = Array4::from_elem((3, 1, 2, depth).f(), f32::NAN);
        nn::one_hot_into(indices.view(), depth, out.view_mut());
        assert_eq!(out, expected, "{layout} into column-major");
        // Output as every other element of a larger array.
        let mut wide = Array4::from_elem((3, 1, 2, 2 * depth), f32::NAN);
        let mut strided = wide.slice_mut(ndarray::s![.., .., .., ..;2]);
        nn::one_hot_into(indices.view(), depth, strided.view_mut());
        assert_eq!(strided, expected, "{layout} into strided");
        let dynamic = nn::one_hot(indices.view().into_dyn(), depth);
        assert_eq!(dynamic, expected.clone().into_dyn(), "{layout} dynamic");
    }
    let mut out = vec![f32::NAN; 3 * 2 * depth];
    let flat_indices = [0, 3, 2, 5, 4, 7];
    flat::one_hot(&flat_indices, depth, &mut out);
    assert_eq!(out, expected.iter().copied().collect::<Vec<_>>(), "flat");
}

#[test]
#[should_panic(
    expected = "kernel `one_hot` called with operands of incompatible shapes [[2], [2, 4]]"
)]
fn one_hot_into_wrong_depth_panics() {
    let mut out = Array2::<f32>::zeros((2, 4));
    nn::one_hot_into(array![0, 1].view(), 3, out.view_mut());
}

#[test]
#[should_panic(
    expected = "kernel `one_hot` called with operands of incompatible shapes [[2], [3, 3]]"
)]
fn one_hot_into_wrong_lead_panics() {
    let mut out = Array2::<f32>::zeros((3, 3));
    nn::one_hot_into(array![0, 1].view(), 3, out.view_mut());
}

// gather_grad --------------------------------------------------------------

#[test]
fn gather_grad_adds_repeated_rows() {
    // gather(table [4, 2], [2, 0, 2]) read rows 2, 0, 2: row 2 gets the
    // first and third gradient rows, row 0 the second, rows 1 and 3 zeros.
    let grad = array![[1.0_f32, 2.0], [3.0, 4.0], [5.0, 6.0]];
    let mut out = Array2::from_elem((4, 2), f32::NAN);
    nn::gather_grad_into(grad.view(), array![2, 0, 2].view(), "ids", out.view_mut()).unwrap();
    assert_eq!(out, array![[3.0, 4.0], [0.0, 0.0], [6.0, 8.0], [0.0, 0.0]]);

    // One row four times: the sum, in order (0.1 + 0.2 + 0.3 + 0.4 in f32).
    let grad = array![[0.1_f32], [0.2], [0.3], [0.4]];
    let mut out = Array2::from_elem((2, 1), f32::NAN);
    nn::gather_grad_into(
        grad.view(),
        array![1, 1, 1, 1].view(),
        "ids",
        out.view_mut(),
    )
    .unwrap();
    assert_eq!(out, array![[0.0], [((0.1_f32 + 0.2) + 0.3) + 0.4]]);

    let mut flat_out = [f32::NAN; 2];
    flat::gather_grad(&[0.1, 0.2, 0.3, 0.4], &[1, 1, 1, 1], 1, &mut flat_out);
    assert_eq!(flat_out, [0.0, ((0.1_f32 + 0.2) + 0.3) + 0.4]);
}

#[test]
fn gather_grad_ranks() {
    // One index (rank 0): grad is one row.
    let mut out = Array2::from_elem((3, 2), f32::NAN);
    nn::gather_grad_into(array![5.0_f32, 6.0].view(), aview0(&1), "i", out.view_mut()).unwrap();
    assert_eq!(out, array![[0.0, 0.0], [5.0, 6.0], [0.0, 0.0]]);
    // A vector table: rows are scalars.
    let mut out = Array1::from_elem(4, f32::NAN);
    let grad = array![1.0_f32, 10.0, 100.0];
    nn::gather_grad_into(grad.view(), array![3, 0, 3].view(), "i", out.view_mut()).unwrap();
    assert_eq!(out, array![10.0, 0.0, 0.0, 101.0]);
    // No indices: all zeros.
    let mut out = Array2::from_elem((3, 2), f32::NAN);
    let none = Array2::<usize>::zeros((0, 3));
    nn::gather_grad_into(
        Array3::<f32>::zeros((0, 3, 2)).view(),
        none.view(),
        "i",
        out.view_mut(),
    )
    .unwrap();
    assert_eq!(out, Array2::<f32>::zeros((3, 2)));
    // An empty table row ([3, 0]): nothing to add, nothing to fail.
    let mut out = Array2::<f32>::zeros((3, 0));
    nn::gather_grad_into(
        Array2::<f32>::zeros((2, 0)).view(),
        array![2, 1].view(),
        "i",
        out.view_mut(),
    )
    .unwrap();
}

/// Indices of shape [2, 3] into a table of shape [5, 2, 3] (odd sizes), in
/// both layouts of every operand and with dynamic ranks; the expected table
/// gradient summed from the definition.
#[test]
fn gather_grad_odd_shapes_and_layouts() {
    let indices = array![[4, 0, 4], [2, 4, 1]];
    let grad = Array4::from_shape_fn((2, 3, 2, 3), |(a, b, c, d)| {
        (1 + a * 1000 + b * 100 + c * 10 + d) as f32
    });
    let mut expected = Array3::<f32>::zeros((5, 2, 3));
    for ((a, b), &index) in indices.indexed_iter() {
        let mut row = expected.index_axis_mut(Axis(0), index);
        row += &grad.slice(ndarray::s![a, b, .., ..]);
    }
    // Row 4, gathered three times: grad[0, 0] + grad[0, 2] + grad[1, 1].
    assert_eq!(expected[[4, 1, 2]], 13.0 + 213.0 + 1113.0);
    assert_eq!(
        expected.index_axis(Axis(0), 3),
        Array2::<f32>::zeros((2, 3))
    );

    for (grad_layout, grad) in layouts(&grad.clone().into_dyn()) {
        for (index_layout, indices) in layouts(&indices.clone().into_dyn()) {
            for (out_layout, mut out) in layouts(&ArrayD::from_elem(IxDyn(&[5, 2, 3]), f32::NAN)) {
                nn::gather_grad_into(grad.view(), indices.view(), "ids", out.view_mut()).unwrap();
                let context =
                    format!("grad {grad_layout}, indices {index_layout}, out {out_layout}");
                assert_eq!(out, expected.clone().into_dyn(), "{context}");
            }
        }
    }
    let mut flat_out = vec![f32::NAN; 5 * 6];
    let grad: Vec<f32> = grad.iter().copied().collect();
    flat::gather_grad(&grad, &[4, 0, 4, 2, 4, 1], 6, &mut flat_out);
    assert_eq!(
        flat_out,
        expected.iter().copied().collect::<Vec<_>>(),
        "flat"
    );
}

/// The backward pass is the adjoint of the forward one: for every table `t`
/// and output gradient `g`, `Σ gather(t)·g = Σ t·gather_grad(g)`. Small
/// integers keep every sum exact.
#[test]
fn gather_grad_is_the_adjoint_of_gather() {
    let table = Array2::from_shape_fn((4, 3), |(r, c)| (r * 3 + c) as f32 - 5.0);
    let indices = array![[3, 3], [0, 1], [3, 0]];
    let g = Array3::from_shape_fn((3, 2, 3), |(a, b, c)| {
        ((a + 2 * b + 3 * c) % 5) as f32 - 2.0
    });
    let gathered: Array3<f32> = nn::gather(table.view(), indices.view(), "ids").unwrap();
    let mut table_grad = Array2::from_elem((4, 3), f32::NAN);
    nn::gather_grad_into(g.view(), indices.view(), "ids", table_grad.view_mut()).unwrap();
    assert_eq!((&gathered * &g).sum(), (&table * &table_grad).sum());
}

#[test]
fn gather_grad_reports_the_index_as_gather_does() {
    let grad = Array3::<f32>::ones((2, 2, 3));
    // Column-major indices [[0, 9], [5, 1]] viewed transposed: [[0, 5], [9, 1]]
    // in row-major order, so 5 at [0, 1] is the first bad index.
    let ids = array![[0, 9], [5, 1]];
    let sentinel = Array2::from_elem((4, 3), -7.0_f32);
    let mut out = sentinel.clone();
    let err = nn::gather_grad_into(grad.view(), ids.t(), "tokens", out.view_mut()).unwrap_err();
    let expected = Error::IndexOutOfRange {
        tensor: "tokens",
        index: 5,
        position: vec![0, 1],
        bound: 4,
    };
    assert_eq!(err, expected);
    let table = Array2::<f32>::zeros((4, 3));
    let forward = nn::gather::<ndarray::Ix3>(table.view(), ids.t(), "tokens").unwrap_err();
    assert_eq!(err, forward, "the error gather gives for the same indices");
    assert_eq!(out, sentinel, "out is left unchanged on error");
    // An index equal to the row count is the first out of range.
    let mut out = Array1::<f32>::zeros(3);
    let err = nn::gather_grad_into(
        array![1.0_f32].view(),
        array![3].view(),
        "i",
        out.view_mut(),
    );
    assert_eq!(
        err.unwrap_err().to_string(),
        "tensor `i` holds index 3 at position [0], but its indices must be less than 3"
    );
}

#[test]
fn gather_grad_keeps_nan_in_its_row() {
    let grad = array![[f32::NAN, 1.0], [2.0, 3.0]];
    let mut out = Array2::from_elem((3, 2), 0.0_f32);
    nn::gather_grad_into(grad.view(), array![0, 2].view(), "ids", out.view_mut()).unwrap();
    assert!(out[[0, 0]].is_nan());
    assert_eq!(
        out.slice(ndarray::s![1.., ..]),
        array![[0.0, 0.0], [2.0, 3.0]]
    );
    assert_eq!(out[[0, 1]], 1.0);
}

#[test]
#[should_panic(
    expected = "kernel `gather_grad` called with operands of incompatible shapes [[3, 2], [3], [4, 3]]"
)]
fn gather_grad_row_shape_mismatch_panics() {
    let mut out = Array2::<f32>::zeros((4, 3));
    let _ = nn::gather_grad_into(
        Array2::<f32>::zeros((3, 2)).view(),
        array![0, 1, 2].view(),
        "i",
        out.view_mut(),
    );
}

#[test]
#[should_panic(
    expected = "kernel `gather_grad` called with operands of incompatible shapes [[2, 2], [3], [4, 2]]"
)]
fn gather_grad_index_shape_mismatch_panics() {
    let mut out = Array2::<f32>::zeros((4, 2));
    let _ = nn::gather_grad_into(
        Array2::<f32>::zeros((2, 2)).view(),
        array![0, 1, 2].view(),
        "i",
        out.view_mut(),
    );
}

#[test]
#[should_panic(expected = "kernel `gather_grad`")]
fn gather_grad_into_a_scalar_panics() {
    let mut out = ndarray::Array0::<f32>::zeros(());
    let _ = nn::gather_grad_into(
        Array1::<f32>::zeros(2).view(),
        array![0, 1].view(),
        "i",
        out.view_mut(),
    );
}

// flat::gather and flat::gather_grad ---------------------------------------

#[test]
fn flat_gather_by_hand() {
    // A [3, 2] table.
    let table = [0.0_f32, 0.5, 1.0, 1.5, 2.0, 2.5];
    let mut out = [f32::NAN; 8];
    flat::gather(&table, &[2, 0, 2, 1], 2, &mut out);
    assert_eq!(out, [2.0, 2.5, 0.0, 0.5, 2.0, 2.5, 1.0, 1.5]);
    // Rows of one element, and NaN copied as it is.
    let mut out = [0.0_f32; 3];
    flat::gather(&[7.0, f32::NAN], &[1, 0, 0], 1, &mut out);
    assert!(out[0].is_nan() && out[1..] == [7.0, 7.0]);
    // The same values as the ndarray kernel.
    let table2 = Array2::from_shape_vec((3, 2), table.to_vec()).unwrap();
    let gathered: Array2<f32> = nn::gather(table2.view(), array![1, 2, 0].view(), "i").unwrap();
    let mut out = [f32::NAN; 6];
    flat::gather(&table, &[1, 2, 0], 2, &mut out);
    assert_eq!(out[..], gathered.as_slice().unwrap()[..]);
}

/// Slice kernels cannot return errors: an index past the last row reads a
/// row of zeros, and its gradient row is skipped.
#[test]
fn flat_out_of_range_indices() {
    let table = [1.0_f32, 2.0, 3.0, 4.0];
    let mut out = [f32::NAN; 6];
    flat::gather(&table, &[1, 2, usize::MAX], 2, &mut out);
    assert_eq!(out, [3.0, 4.0, 0.0, 0.0, 0.0, 0.0]);

    let grad = [1.0_f32, 2.0, 3.0, 4.0, 5.0, 6.0];
    let mut table_grad = [f32::NAN; 4];
    flat::gather_grad(&grad, &[1, 2, usize::MAX], 2, &mut table_grad);
    assert_eq!(table_grad, [0.0, 0.0, 1.0, 2.0]);
    // Rows of no elements: nothing to read or write.
    let mut none: [f32; 0] = [];
    flat::gather(&[], &[0, 5], 0, &mut none);
    flat::gather_grad(&[], &[0, 5], 0, &mut none);
    // No indices: the gradient is all zeros.
    let mut table_grad = [f32::NAN; 3];
    flat::gather_grad(&[], &[], 1, &mut table_grad);
    assert_eq!(table_grad, [0.0; 3]);
}

#[test]
fn flat_gather_grad_matches_the_ndarray_kernel() {
    let grad = Array2::from_shape_fn((5, 3), |(i, j)| (i as f32 + 1.0) * 0.37 - j as f32 * 1.3);
    let ids = [1_usize, 3, 1, 0, 1];
    let mut expected = Array2::zeros((4, 3));
    nn::gather_grad_into(
        grad.view(),
        ndarray::aview1(&ids),
        "ids",
        expected.view_mut(),
    )
    .unwrap();
    let mut out = [f32::NAN; 12];
    flat::gather_grad(grad.as_slice().unwrap(), &ids, 3, &mut out);
    assert_eq!(out[..], expected.as_slice().unwrap()[..]);
    // Row 2 is never gathered.
    assert_eq!(out[6..9], [0.0; 3]);
}
