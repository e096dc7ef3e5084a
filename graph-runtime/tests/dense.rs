//! The dense kernel and the matrix products built on it, against a naive
//! f64 reference: odd sizes (k and n not multiples of 8, n < 8, k = 0,
//! m = 0, more than one inner block), every activation, and non-contiguous
//! operands, through both the SIMD path (`dense_into`, on CPUs with AVX2 and
//! FMA) and the portable one (`dense_into_portable`).

// Views by value as the kernels take them; matrix letters; the f64
// reference rounds to f32 on purpose.
#![allow(
    clippy::needless_pass_by_value,
    clippy::many_single_char_names,
    clippy::cast_possible_truncation
)]

use graph_runtime::kernels::dense::{
    dense, dense_into, dense_into_portable, simd_available, Activation,
};
use graph_runtime::kernels::{batched, linalg};
use ndarray::{Array1, Array2, Array3, ArrayView1, ArrayView2, ArrayViewMut2, Axis, Slice};

/// A deterministic pseudo-random matrix with entries in [-1, 1).
fn matrix(rows: usize, cols: usize, seed: u64) -> Array2<f32> {
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    Array2::from_shape_simple_fn((rows, cols), || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((state >> 40) as f32 / (1u64 << 23) as f32) - 1.0
    })
}

/// The f64 reference result and, per element, the sum of the magnitudes of
/// its terms (which bounds the rounding of any f32 summation order).
fn reference(
    x: ArrayView2<'_, f32>,
    w: ArrayView2<'_, f32>,
    bias: Option<ArrayView1<'_, f32>>,
    activation: Activation,
) -> (Array2<f32>, Array2<f64>) {
    let (m, k) = x.dim();
    let n = w.ncols();
    let mut out = Array2::zeros((m, n));
    let mut scale = Array2::zeros((m, n));
    for i in 0..m {
        for j in 0..n {
            let mut sum = bias.map_or(0.0, |b| f64::from(b[j]));
            let mut magnitude = sum.abs();
            for p in 0..k {
                let term = f64::from(x[[i, p]]) * f64::from(w[[p, j]]);
                sum += term;
                magnitude += term.abs();
            }
            out[[i, j]] = activation.apply(sum as f32);
            scale[[i, j]] = magnitude;
        }
    }
    (out, scale)
}

#[track_caller]
fn assert_matches(
    context: &str,
    actual: ArrayView2<'_, f32>,
    expected: &(Array2<f32>, Array2<f64>),
) {
    assert_eq!(actual.dim(), expected.0.dim(), "{context}: shape");
    for ((index, &a), (&e, &scale)) in actual
        .indexed_iter()
        .zip(expected.0.iter().zip(expected.1.iter()))
    {
        // Activations are 1-Lipschitz, or nearly (leaky slopes, ELU's α
        // and the hard sigmoid's α here are below 1; SiLU's slope peaks at
        // 1.1, within the bound's slack), so the summation error bound
        // carries over.
        let tolerance = 1e-6 + 4e-6 * scale;
        let close = (f64::from(a) - f64::from(e)).abs() <= tolerance
            || (a.is_nan() && e.is_nan())
            || a == e;
        assert!(
            close,
            "{context}: at {index:?} got {a}, expected {e} (±{tolerance})"
        );
    }
}

type Kernel = fn(
    ArrayView2<'_, f32>,
    ArrayView2<'_, f32>,
    Option<ArrayView1<'_, f32>>,
    Activation,
    ArrayViewMut2<'_, f32>,
);

/// Both paths, named.
fn paths() -> [(&'static str, Kernel); 2] {
    [
        ("dispatching", dense_into as Kernel),
        ("portable", dense_into_portable as Kernel),
    ]
}

const ACTIVATIONS: [Activation; 12] = [
    Activation::Identity,
    Activation::Relu,
    Activation::LeakyRelu(0.125),
    Activation::Sigmoid,
    Activation::Tanh,
    Activation::GeluTanh,
    Activation::GeluExact,
    Activation::Softplus,
    Activation::Clip(-0.5, 0.75),
    Activation::Silu,
    Activation::Elu(0.75),
    Activation::HardSigmoid(0.2, 0.5),
];

#[test]
fn reports_which_paths_run() {
    // Not an assertion: CI machines without AVX2 still run every test, on
    // the portable path twice.
    eprintln!("SIMD kernels available: {}", simd_available());
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
        assert!(simd_available());
    }
}

#[test]
fn odd_sizes_with_and_without_bias() {
    let ms = [0, 1, 2, 3, 4, 5, 6, 7, 13];
    let ks = [0, 1, 3, 8, 17, 300, 513];
    let ns = [1, 3, 7, 8, 9, 16, 17, 24, 33, 64, 65, 130];
    for &m in &ms {
        for &k in &ks {
            for &n in &ns {
                let seed = (m * 1_000_000 + k * 1000 + n) as u64;
                let x = matrix(m, k, seed);
                let w = matrix(k, n, seed + 1);
                let b = matrix(1, n, seed + 2).remove_axis(Axis(0));
                for bias in [None, Some(b.view())] {
                    let expected = reference(x.view(), w.view(), bias, Activation::Identity);
                    for (path, kernel) in paths() {
                        let mut out = Array2::from_elem((m, n), f32::NAN);
                        kernel(
                            x.view(),
                            w.view(),
                            bias,
                            Activation::Identity,
                            out.view_mut(),
                        );
                        let context = format!("{path} m={m} k={k} n={n} bias={}", bias.is_some());
                        assert_matches(&context, out.view(), &expected);
                    }
                }
            }
        }
    }
}

#[test]
fn every_activation_on_both_paths() {
    for &(m, k, n) in &[(1, 19, 10), (3, 64, 37), (8, 33, 130), (2, 5, 3)] {
        let x = matrix(m, k, 7).mapv(|v| 4.0 * v);
        let w = matrix(k, n, 8);
        let b = Array1::linspace(-2.0, 2.0, n);
        for activation in ACTIVATIONS {
            let expected = reference(x.view(), w.view(), Some(b.view()), activation);
            for (path, kernel) in paths() {
                let mut out = Array2::zeros((m, n));
                kernel(
                    x.view(),
                    w.view(),
                    Some(b.view()),
                    activation,
                    out.view_mut(),
                );
                let context = format!("{path} {activation:?} m={m} k={k} n={n}");
                assert_matches(&context, out.view(), &expected);
            }
        }
    }
}

#[test]
fn nan_and_signs_through_activations() {
    let x = Array2::from_shape_vec((1, 2), vec![1.0_f32, 1.0]).unwrap();
    let w = Array2::from_shape_vec((2, 3), vec![f32::NAN, -3.0, 0.0, 0.0, 1.0, -0.0]).unwrap();
    for (path, kernel) in paths() {
        let mut out = Array2::zeros((1, 3));
        kernel(x.view(), w.view(), None, Activation::Relu, out.view_mut());
        assert!(out[[0, 0]].is_nan(), "{path}: relu keeps NaN");
        assert_eq!(out[[0, 1]], 0.0, "{path}");
        kernel(
            x.view(),
            w.view(),
            None,
            Activation::LeakyRelu(0.5),
            out.view_mut(),
        );
        assert!(out[[0, 0]].is_nan(), "{path}: leaky relu keeps NaN");
        assert_eq!(out[[0, 1]], -1.0, "{path}");
    }
}

/// Every combination of layouts the generated code can hand over:
/// transposed and column-strided operands, strided bias, strided output.
#[test]
fn non_contiguous_operands() {
    for &(m, k, n) in &[
        (1, 784, 10),
        (5, 40, 23),
        (9, 300, 70),
        (2, 3, 1),
        (4, 16, 4),
    ] {
        let x = matrix(m, k, 11);
        let w = matrix(k, n, 12);
        let b = Array1::linspace(-1.0, 1.0, n);
        let expected = reference(x.view(), w.view(), Some(b.view()), Activation::Tanh);

        let x_t = x.t().to_owned(); // x_t.t() is x, column-major
        let w_t = w.t().to_owned(); // w_t.t() is w, column-major
        let x_wide = wide(&x); // every other column
        let w_wide = wide(&w);
        let b_wide = Array1::from_shape_fn(2 * n, |i| b[i / 2]);
        let b_strided = b_wide.slice_axis(Axis(0), Slice::new(0, None, 2));
        let xs = [
            ("x", x.view()),
            ("x column-major", x_t.t()),
            ("x strided", every_other_column(&x_wide)),
        ];
        let ws = [
            ("w", w.view()),
            ("w column-major", w_t.t()),
            ("w strided", every_other_column(&w_wide)),
        ];
        for (x_name, xv) in &xs {
            for (w_name, wv) in &ws {
                for (path, kernel) in paths() {
                    let context = format!("{path} {x_name} × {w_name} m={m} k={k} n={n}");
                    // Standard output, strided bias.
                    let mut out = Array2::zeros((m, n));
                    kernel(*xv, *wv, Some(b_strided), Activation::Tanh, out.view_mut());
                    assert_matches(&context, out.view(), &expected);
                    // Column-major output.
                    let mut out_t = Array2::zeros((n, m));
                    kernel(
                        *xv,
                        *wv,
                        Some(b.view()),
                        Activation::Tanh,
                        out_t.view_mut().reversed_axes(),
                    );
                    assert_matches(&format!("{context} out column-major"), out_t.t(), &expected);
                    // Every other column of a wider output.
                    let mut out_wide = Array2::from_elem((m, 2 * n), -7.0);
                    kernel(
                        *xv,
                        *wv,
                        Some(b.view()),
                        Activation::Tanh,
                        out_wide.slice_axis_mut(Axis(1), Slice::new(0, None, 2)),
                    );
                    let written = out_wide.slice_axis(Axis(1), Slice::new(0, None, 2));
                    assert_matches(&format!("{context} out strided"), written, &expected);
                    let untouched = out_wide.slice_axis(Axis(1), Slice::new(1, None, 2));
                    assert!(
                        untouched.iter().all(|&v| v == -7.0),
                        "{context}: wrote between columns"
                    );
                }
            }
        }
    }
}

/// Enough rows over a `w` whose rows are a multiple of 2 KiB apart that the
/// SIMD kernel copies each strip of `w` before sweeping it (and, for the
/// narrower stride, streams it in place), with more than one block of the
/// inner dimension and a partial last strip.
#[test]
fn copied_and_streamed_strips_of_w() {
    // (m, k, n, row stride of w in floats)
    for &(m, k, n, stride) in &[(50, 300, 40, 1024), (100, 300, 33, 512), (100, 70, 24, 100)] {
        let x = matrix(m, k, 21);
        let w_rows = matrix(k, stride, 22);
        let w = w_rows.slice_axis(Axis(1), Slice::from(0..n));
        let b = Array1::linspace(-1.0, 1.0, n);
        for activation in [Activation::Identity, Activation::Relu, Activation::Sigmoid] {
            let expected = reference(x.view(), w, Some(b.view()), activation);
            for (path, kernel) in paths() {
                let mut out = Array2::from_elem((m, n), f32::NAN);
                kernel(x.view(), w, Some(b.view()), activation, out.view_mut());
                let context = format!("{path} m={m} k={k} n={n} stride={stride} {activation:?}");
                assert_matches(&context, out.view(), &expected);
            }
        }
    }
}

/// `a` with a zero column after each column.
/// `w` stored transposed (`w_t.t()`, unit row stride) with more than 4
/// rows of `x`: the SIMD kernel packs each 16-column strip through 8 × 8
/// register transposes, with steps and columns left over past whole
/// blocks of 8, partial last strips, and inner dimensions of one and of
/// two blocks (257 and 300 steps).
#[test]
fn transposed_w_through_packed_strips() {
    for &(m, k, n) in &[
        (6, 1, 8),
        (7, 13, 16),
        (12, 8, 9),
        (30, 64, 17),
        (61, 257, 40),
        (5, 300, 33),
    ] {
        let x = matrix(m, k, 41);
        let w_t = matrix(n, k, 42);
        let w = w_t.t();
        let b = Array1::linspace(-1.0, 1.0, n);
        for activation in [Activation::Identity, Activation::Relu] {
            let expected = reference(x.view(), w, Some(b.view()), activation);
            for (path, kernel) in paths() {
                let mut out = Array2::from_elem((m, n), f32::NAN);
                kernel(x.view(), w, Some(b.view()), activation, out.view_mut());
                let context = format!("{path} m={m} k={k} n={n} {activation:?}");
                assert_matches(&context, out.view(), &expected);
            }
        }
        let expected = reference(x.view(), w, None, Activation::Identity);
        let context = format!("matmul with wᵀ m={m} k={k} n={n}");
        assert_matches(&context, linalg::matmul(x.view(), w).view(), &expected);
    }
}

fn wide(a: &Array2<f32>) -> Array2<f32> {
    Array2::from_shape_fn((a.nrows(), 2 * a.ncols()), |(i, j)| {
        if j % 2 == 0 {
            a[[i, j / 2]]
        } else {
            0.0
        }
    })
}

fn every_other_column(a: &Array2<f32>) -> ArrayView2<'_, f32> {
    a.slice_axis(Axis(1), Slice::new(0, None, 2))
}

#[test]
fn dense_wraps_dense_into() {
    let x = matrix(3, 20, 1);
    let w = matrix(20, 9, 2);
    let mut out = Array2::zeros((3, 9));
    dense_into(
        x.view(),
        w.view(),
        None,
        Activation::Sigmoid,
        out.view_mut(),
    );
    assert_eq!(dense(x.view(), w.view(), None, Activation::Sigmoid), out);
}

#[test]
fn writes_only_inside_out() {
    // `out` is the middle of a larger buffer: nothing around it changes,
    // whatever the masked tail stores do.
    for n in [1, 5, 9, 17, 70] {
        let x = matrix(3, 12, 3);
        let w = matrix(12, n, 4);
        let mut buffer = Array2::from_elem((5, n + 2), 9.0_f32);
        let inner = buffer.slice_mut(ndarray::s![1..4, 1..=n]);
        dense_into(x.view(), w.view(), None, Activation::Identity, inner);
        for ((i, j), &v) in buffer.indexed_iter() {
            if !(1..4).contains(&i) || !(1..=n).contains(&j) {
                assert_eq!(v, 9.0, "n={n}: wrote outside at ({i}, {j})");
            }
        }
    }
}

#[test]
fn linalg_products_match_reference() {
    for &(m, k, n) in &[
        (1, 784, 128),
        (7, 30, 1),
        (1, 1, 1),
        (33, 65, 17),
        (0, 4, 3),
    ] {
        let a = matrix(m, k, 21);
        let b = matrix(k, n, 22);
        let expected = reference(a.view(), b.view(), None, Activation::Identity);
        let context = format!("matmul m={m} k={k} n={n}");
        assert_matches(
            &context,
            linalg::matmul(a.view(), b.view()).view(),
            &expected,
        );
        assert_matches(
            &format!("{context} transposed"),
            linalg::matmul(a.t().to_owned().t(), b.view()).view(),
            &expected,
        );

        let v = b.column(0);
        if n > 0 {
            let mv = linalg::matvec(a.view(), v);
            let column = expected.0.column(0).to_owned();
            for (i, (&got, &want)) in mv.iter().zip(&column).enumerate() {
                let tolerance = 1e-6 + 4e-6 * expected.1[[i, 0]];
                assert!(
                    f64::from((got - want).abs()) <= tolerance,
                    "matvec {context} at {i}"
                );
            }
        }
        if m > 0 {
            let vm = linalg::vecmat(a.row(0), b.view());
            let row = expected.0.row(0).to_owned();
            for (j, (&got, &want)) in vm.iter().zip(&row).enumerate() {
                let tolerance = 1e-6 + 4e-6 * expected.1[[0, j]];
                assert!(
                    f64::from((got - want).abs()) <= tolerance,
                    "vecmat {context} at {j}"
                );
            }
        }
    }
}

/// The SGD update `w += scale·aᵀ·δ` (`matmul_accumulate_inplace`) over
/// shapes that cross every edge of the tile kernel, which adds each tile's
/// update as it finishes it: row counts around its 6-row tiles, column
/// counts around its 16-column strips (at least 8: fewer take the dot
/// kernel), and inner dimensions up to and past its 256-step block (past
/// it, the product goes through scratch blocks). Against the f64 reference,
/// and bit for bit against the product followed by the update wherever
/// the tiles add it (their sums are the product kernel's).
#[test]
fn accumulated_updates_across_tile_edges() {
    let scale = -0.01_f32;
    for m in [1, 4, 5, 6, 7, 61] {
        for k in [1, 7, 64, 256, 257] {
            for n in [8, 9, 17, 40] {
                let w = matrix(m, n, 31);
                let h = matrix(k, m, 32); // read transposed: a = hᵀ
                let delta = matrix(k, n, 33);
                let (product, magnitude) =
                    reference(h.t(), delta.view(), None, Activation::Identity);
                let context = format!("m={m} k={k} n={n}");
                let mut updated = w.clone();
                linalg::matmul_accumulate_inplace(
                    updated.view_mut(),
                    h.view(),
                    delta.view(),
                    true,
                    scale,
                );
                for ((i, j), &got) in updated.indexed_iter() {
                    let want = f64::from(w[[i, j]]) + f64::from(scale) * f64::from(product[[i, j]]);
                    let tolerance = 1e-6 * (1.0 + f64::from(w[[i, j]]).abs() + magnitude[[i, j]]);
                    assert!(
                        (f64::from(got) - want).abs() <= tolerance,
                        "{context} at [{i}, {j}]: {got} against {want}"
                    );
                }
                // `a` given untransposed (rows of `hᵀ` contiguous) updates alike.
                let copied = h.t().as_standard_layout().into_owned();
                let mut plain = w.clone();
                linalg::matmul_accumulate_inplace(
                    plain.view_mut(),
                    copied.view(),
                    delta.view(),
                    false,
                    scale,
                );
                assert_eq!(plain, updated, "{context}: a transposed or not");
                if k <= 256 && simd_available() {
                    let gradient = linalg::matmul(h.t(), delta.view());
                    let unfused = &w + &(gradient * scale);
                    assert!(
                        unfused
                            .iter()
                            .zip(&updated)
                            .all(|(a, b)| a.to_bits() == b.to_bits()),
                        "{context}: not the product then the update"
                    );
                }
            }
        }
    }
}

#[test]
fn linalg_into_forms_equal_allocating_forms() {
    let a = matrix(6, 40, 31);
    let b = matrix(40, 11, 32);
    let a_t = a.t().to_owned();
    let mut out = Array2::from_elem((6, 11), f32::NAN);
    linalg::matmul_into(a_t.t(), b.view(), out.view_mut());
    assert_eq!(out, linalg::matmul(a_t.t(), b.view()));

    let b_t = b.t().to_owned();
    let mut mv = Array1::from_elem(11, f32::NAN);
    linalg::matvec_into(b_t.view(), a.row(2), mv.view_mut());
    assert_eq!(mv, linalg::matvec(b_t.view(), a.row(2)));

    let mut vm = Array1::from_elem(11, f32::NAN);
    linalg::vecmat_into(a.row(4), b.view(), vm.view_mut());
    assert_eq!(vm, linalg::vecmat(a.row(4), b.view()));
}

#[test]
fn batched_into_forms_equal_allocating_forms() {
    let a = Array3::from_shape_fn((3, 4, 5), |(p, i, k)| (p as f32) - (i * k) as f32 * 0.25);
    let b = Array3::from_shape_fn((1, 5, 6), |(_, k, j)| (k as f32 - j as f32) * 0.5);
    let mut out = Array3::from_elem((3, 4, 6), f32::NAN);
    batched::batch_matmul_into(a.view(), b.view(), out.view_mut());
    assert_eq!(out, batched::batch_matmul(a.view(), b.view()));
    let shared = b.index_axis(Axis(0), 0);
    let permuted = a.view().permuted_axes([0, 1, 2]);
    let mut out = Array3::from_elem((3, 4, 6), f32::NAN);
    batched::batch_matmul_shared_into(permuted, shared, out.view_mut());
    assert_eq!(out, batched::batch_matmul_shared(a.view(), shared));
}

/// With the `parallel` feature and two threads asked for, large products
/// split their rows over two threads and give the same bits as on one:
/// every row is computed the same way on either. The same holds for
/// products reading packed weights or `w` stored transposed, and both for
/// a caller outside any rayon pool (the calling thread and a helper share
/// the rows) and for one inside a 2-thread pool (its workers share them).
#[cfg(feature = "parallel")]
#[test]
fn two_threads_give_the_same_bits_as_one() {
    use graph_runtime::kernels::packed::{dense_packed_into, PackedWeights};
    use graph_runtime::{rayon, threads};

    /// Where `w` comes from.
    #[derive(Clone, Copy, Debug)]
    enum Operand {
        RowMajor,
        Packed,
        Transposed,
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("a 2-thread pool");
    for &(m, k, n) in &[
        (64, 784, 128),
        (256, 64, 256),
        (97, 300, 130),
        (400, 2048, 5),
        (24, 4096, 64),
        (3, 2048, 1000),
        (784, 64, 128),
    ] {
        let x = matrix(m, k, 31);
        let w = matrix(k, n, 32);
        let w_transposed = w.t().as_standard_layout().into_owned();
        let b = Array1::linspace(-1.0, 1.0, n);
        let packed = PackedWeights::new(w.view());
        let run = |threads_wanted: usize, in_pool: bool, operand: Operand| {
            threads::set_threads(threads_wanted);
            let mut out = Array2::from_elem((m, n), f32::NAN);
            let (x, b) = (x.view(), Some(b.view()));
            let mut product = || match operand {
                Operand::RowMajor => dense_into(x, w.view(), b, Activation::Relu, out.view_mut()),
                Operand::Packed => {
                    dense_packed_into(x, w.view(), &packed, b, Activation::Relu, out.view_mut());
                }
                Operand::Transposed => {
                    dense_into(x, w_transposed.t(), b, Activation::Relu, out.view_mut());
                }
            };
            if in_pool {
                pool.install(product);
            } else {
                product();
            }
            threads::set_threads(1);
            out
        };
        let expected = reference(x.view(), w.view(), Some(b.view()), Activation::Relu);
        for operand in [Operand::RowMajor, Operand::Packed, Operand::Transposed] {
            let one = run(1, false, operand);
            for in_pool in [false, true] {
                let two = run(2, in_pool, operand);
                let context = format!("m={m} k={k} n={n}, {operand:?}, in a pool: {in_pool}");
                assert_matches(&context, two.view(), &expected);
                assert!(
                    one.iter()
                        .zip(&two)
                        .all(|(a, b)| a.to_bits() == b.to_bits()),
                    "{context}: one and two threads differ"
                );
            }
        }
    }
}
