//! Every op of the language driven through `graph!`, on small inputs whose
//! results are worked out by hand. (The kernels' numerics are checked against
//! numpy in `graph-runtime/tests`; the two models in `tests/models.rs` are
//! checked against numpy forward passes.) These tests check the wiring:
//! attributes, negative axes, keep-dims, element types and result shapes.

mod common;

use common::{assert_close, cases, Tolerance};
use staticflow::graph;
use staticflow::ndarray::{array, Array1, Array2, Array3, Array4};

fn close(actual: f32, expected: f32) {
    let tolerance = 1e-6 + 1e-5 * expected.abs();
    assert!(
        (actual - expected).abs() <= tolerance,
        "{actual} vs {expected}"
    );
}

fn all_close<D: ndarray::Dimension>(
    actual: &ndarray::Array<f32, D>,
    expected: &ndarray::Array<f32, D>,
) {
    assert_eq!(actual.shape(), expected.shape());
    for (a, e) in actual.iter().zip(expected) {
        close(*a, *e);
    }
}

graph! {
    struct Unary {
        input x: [4];
        output neg = neg(x);
        output abs = abs(x);
        output exp = exp(x);
        output square = square(x);
        output relu = relu(x);
        output leaky = leaky_relu(x, alpha = 0.5);
        output leaky_default = x.leaky_relu();
        output sigmoid = sigmoid(x);
        output tanh = tanh(x);
        output softplus = softplus(x);
        output clip = clip(x, -0.5, 1.0);
        output gelu_t = gelu_tanh(x);
        output gelu_e = gelu_exact(x);
        output erf = erf(x);
    }
}

graph! {
    struct Positive {
        input x: [3];
        output log = log(x);
        output sqrt = x.sqrt();
        output cube = pow(x, 3.0);
    }
}

#[test]
fn unary_ops() {
    let x = array![-2.0, -0.5, 0.0, 1.5];
    let out = Unary::new().run(x.view()).unwrap();
    assert_eq!(out.neg, array![2.0, 0.5, -0.0, -1.5]);
    assert_eq!(out.abs, array![2.0, 0.5, 0.0, 1.5]);
    all_close(&out.exp, &x.mapv(f32::exp));
    assert_eq!(out.square, array![4.0, 0.25, 0.0, 2.25]);
    assert_eq!(out.relu, array![0.0, 0.0, 0.0, 1.5]);
    assert_eq!(out.leaky, array![-1.0, -0.25, 0.0, 1.5]);
    // TensorFlow's default alpha is 0.2.
    all_close(&out.leaky_default, &array![-0.4, -0.1, 0.0, 1.5]);
    all_close(&out.sigmoid, &x.mapv(|v| 1.0 / (1.0 + (-v).exp())));
    all_close(&out.tanh, &x.mapv(f32::tanh));
    all_close(&out.softplus, &x.mapv(|v| (1.0 + v.exp()).ln()));
    assert_eq!(out.clip, array![-0.5, -0.5, 0.0, 1.0]);
    // gelu at 1.5: exact 1.5·Φ(1.5) = 1.5 · 0.9331928 = 1.3997892 (Φ from
    // tables); the tanh form gives 1.3995715.
    close(out.gelu_e[3], 1.399_789_2);
    close(out.gelu_t[3], 1.399_571_5);
    assert_eq!(out.gelu_e[2], 0.0);
    // erf(-2), erf(-0.5), erf(0), erf(1.5), from tables.
    all_close(
        &out.erf,
        &array![-0.995_322_3, -0.520_499_9, 0.0, 0.966_105_1],
    );
    let positive = Positive::new().run(array![1.0, 4.0, 0.25].view()).unwrap();
    all_close(&positive.log, &array![0.0, 4.0_f32.ln(), 0.25_f32.ln()]);
    assert_eq!(positive.sqrt, array![1.0, 2.0, 0.5]);
    assert_eq!(positive.cube, array![1.0, 64.0, 0.015_625]);
}

graph! {
    struct Comparisons {
        input a: [3, 1];
        input b: [2];
        output bigger = maximum(a, b);
        output smaller = minimum(a, b);
        output gt = gt(a, b);
        output ge = a.ge(b);
        output lt = lt(a, b);
        output le = le(a, b);
        output eq = eq(a, b);
        output picked = select(gt(a, b), a, b * 10.0);
    }
}

#[test]
fn binary_comparison_and_select_broadcast() {
    let a = array![[1.0], [2.0], [3.0]];
    let b = array![2.0, 1.0];
    let out = Comparisons::new().run(a.view(), b.view()).unwrap();
    assert_eq!(out.bigger, array![[2.0, 1.0], [2.0, 2.0], [3.0, 3.0]]);
    assert_eq!(out.smaller, array![[1.0, 1.0], [2.0, 1.0], [2.0, 1.0]]);
    assert_eq!(out.gt, array![[false, false], [false, true], [true, true]]);
    assert_eq!(out.ge, array![[false, true], [true, true], [true, true]]);
    assert_eq!(
        out.lt,
        array![[true, false], [false, false], [false, false]]
    );
    assert_eq!(out.le, array![[true, true], [true, false], [false, false]]);
    assert_eq!(out.eq, array![[false, true], [true, false], [false, false]]);
    assert_eq!(out.picked, array![[20.0, 10.0], [20.0, 2.0], [3.0, 3.0]]);
}

graph! {
    struct Reductions {
        input x: [2, 3];
        output total = sum(x);
        output rows = sum(x, axis = -1);
        output columns_kept = x.sum(axis = 0, keep_dims = true);
        output both = mean(x, axis = [0, 1]);
        output row_max = max(x, axis = 1);
        output column_min = min(x, axis = 0);
        output best = argmax(x);
        output best_row = argmax(x, axis = 0);
        output overall_best = argmax(reshape(x, [6]));
    }
}

#[test]
fn reductions_with_axes_and_keep_dims() {
    let x = array![[1.0, 5.0, 3.0], [4.0, 2.0, 6.0]];
    let out = Reductions::new().run(x.view()).unwrap();
    assert_eq!(out.total, 21.0);
    assert_eq!(out.rows, array![9.0, 12.0]);
    assert_eq!(out.columns_kept, array![[5.0, 7.0, 9.0]]);
    assert_eq!(out.both, 3.5);
    assert_eq!(out.row_max, array![5.0, 6.0]);
    assert_eq!(out.column_min, array![1.0, 2.0, 3.0]);
    assert_eq!(out.best, array![1_usize, 2]);
    assert_eq!(out.best_row, array![1_usize, 0, 1]);
    assert_eq!(out.overall_best, 5_usize);
}

graph! {
    struct Softmaxes {
        input x: [2, 3];
        output p = softmax(x);
        output p_columns = softmax(x, axis = 0);
        output log_p = log_softmax(x);
        output lse = logsumexp(x);
        output lse_kept = logsumexp(x, axis = 1, keep_dims = true);
    }
}

#[test]
fn softmax_family_is_stable() {
    let x = array![[1000.0, 1000.0, -1000.0], [0.0, 0.0, 0.0]];
    let out = Softmaxes::new().run(x.view()).unwrap();
    // Row 0: two equal maxima share the mass; row 1 is uniform.
    all_close(
        &out.p,
        &array![[0.5, 0.5, 0.0], [1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0]],
    );
    all_close(&out.p_columns, &array![[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]);
    let ln2 = 2.0_f32.ln();
    let ln3 = 3.0_f32.ln();
    assert_eq!(out.log_p[[0, 2]], -2000.0 - ln2);
    close(out.log_p[[0, 0]], -ln2);
    close(out.log_p[[1, 1]], -ln3);
    all_close(&out.lse, &array![1000.0 + ln2, ln3]);
    assert_eq!(out.lse_kept.shape(), &[2, 1]);
}

graph! {
    struct Losses {
        input logits: [n, 3];
        input one_hot: [n, 3];
        input classes: [n] as usize;
        input prediction: [n, 3];
        output dense = softmax_cross_entropy(logits, one_hot);
        output sparse = softmax_cross_entropy(logits, classes);
        output mean_sparse = mean(softmax_cross_entropy(logits, classes));
        output squared = mse(prediction, one_hot);
    }
}

#[test]
fn losses_with_float_and_index_labels() {
    let logits = array![[0.0, 0.0, 0.0], [10000.0, 0.0, -10000.0]];
    let one_hot = array![[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]];
    let classes = array![1_usize, 0];
    let prediction = array![[0.0, 1.0, 1.0], [1.0, 0.0, 0.0]];
    let out = Losses::new()
        .run(
            logits.view(),
            one_hot.view(),
            classes.view(),
            prediction.view(),
        )
        .unwrap();
    // Uniform logits: -ln(1/3); dominant correct logit: 0.
    let ln3 = 3.0_f32.ln();
    all_close(&out.dense, &array![ln3, 0.0]);
    all_close(&out.sparse, &array![ln3, 0.0]);
    close(out.mean_sparse, ln3 / 2.0);
    // One wrong element of six, squared error 1: 1/6.
    close(out.squared, 1.0 / 6.0);
}

#[test]
fn out_of_range_class_is_a_typed_error() {
    let logits = Array2::<f32>::zeros((2, 3));
    let err = Losses::new()
        .sparse(logits.view(), array![0_usize, 3].view())
        .unwrap_err();
    let message = err.to_string();
    assert!(message.contains("classes"), "{message}");
    assert!(message.contains('3'), "{message}");
}

graph! {
    struct Movement {
        input x: [2, 3];
        input y: [2, 1];
        output transposed = transpose(x);
        output permuted = permute(expand_dims(x, axis = 0), [2, 0, 1]);
        output flat = reshape(x, [-1]);
        output regrouped = x.reshape([3, 2]);
        output joined = concat([x, y, y], axis = -1);
        output stacked = concat([x, x]);
        output middle = slice(x, axis = 1, start = 1, end = 2);
        output tail = slice(x, 1, -2, 3);
        output widened = broadcast_to(y, [2, 4]);
        output squeezed = squeeze(y);
        output unsqueezed = expand_dims(y, -1);
    }
}

#[test]
fn movement_ops() {
    let x = array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]];
    let y = array![[7.0], [8.0]];
    let out = Movement::new().run(x.view(), y.view()).unwrap();
    assert_eq!(out.transposed, array![[1.0, 4.0], [2.0, 5.0], [3.0, 6.0]]);
    assert_eq!(out.permuted.shape(), &[3, 1, 2]);
    assert_eq!(out.permuted[[2, 0, 1]], 6.0);
    assert_eq!(out.flat, array![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    assert_eq!(out.regrouped, array![[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]);
    assert_eq!(
        out.joined,
        array![[1.0, 2.0, 3.0, 7.0, 7.0], [4.0, 5.0, 6.0, 8.0, 8.0]]
    );
    assert_eq!(out.stacked.shape(), &[4, 3]);
    assert_eq!(out.stacked[[3, 2]], 6.0);
    assert_eq!(out.middle, array![[2.0], [5.0]]);
    assert_eq!(out.tail, array![[2.0, 3.0], [5.0, 6.0]]);
    assert_eq!(
        out.widened,
        array![[7.0, 7.0, 7.0, 7.0], [8.0, 8.0, 8.0, 8.0]]
    );
    assert_eq!(out.squeezed, array![7.0, 8.0]);
    assert_eq!(out.unsqueezed.shape(), &[2, 1, 1]);
}

graph! {
    struct SymbolicReshape {
        input images: [n, 2, 2, 1];
        input row: [3];
        input batch: [n, 1];
        output flat = reshape(images, [n, -1]);
        output tiled = broadcast_to(row, [n, 3]) + batch;
    }
}

#[test]
fn symbolic_reshape_and_broadcast_to() {
    let images = Array4::from_shape_fn((3, 2, 2, 1), |(n, h, w, _)| (n * 4 + h * 2 + w) as f32);
    let row = array![0.0, 10.0, 20.0];
    let batch = array![[1.0], [2.0], [3.0]];
    let out = SymbolicReshape::new()
        .run(images.view(), row.view(), batch.view())
        .unwrap();
    assert_eq!(out.flat.shape(), &[3, 4]);
    assert_eq!(out.flat[[2, 3]], 11.0);
    assert_eq!(
        out.tiled,
        array![[1.0, 11.0, 21.0], [2.0, 12.0, 22.0], [3.0, 13.0, 23.0]]
    );
}

graph! {
    struct Convolutions {
        input image: [1, 4, 4, 1];
        const box3 = [[[[1.0]], [[1.0]], [[1.0]]], [[[1.0]], [[1.0]], [[1.0]]], [[[1.0]], [[1.0]], [[1.0]]]];
        output valid = conv2d(image, box3);
        output same = conv2d(image, box3, padding = same);
        output strided = conv2d(image, box3, strides = 2, padding = same);
        const box2 = [[[[1.0]], [[1.0]]], [[[1.0]], [[1.0]]]];
        output dilated = conv2d(image, box2, dilation = 2);
        output pooled = max_pool2d(image, window = 2);
        output averaged = avg_pool2d(image, window = [3, 3], strides = [1, 1], padding = same);
    }
}

#[test]
fn convolution_and_pooling() {
    // image[h][w] = 4h + w.
    let image = Array4::from_shape_fn((1, 4, 4, 1), |(_, h, w, _)| (4 * h + w) as f32);
    let out = Convolutions::new().run(image.view()).unwrap();
    // A 3x3 box sum centred at (1, 1): 9 · (4·1 + 1) = 45; at (1, 2): 54;
    // at (2, 1): 81; at (2, 2): 90.
    let flat = |a: &Array4<f32>| a.iter().copied().collect::<Vec<f32>>();
    assert_eq!(flat(&out.valid), [45.0, 54.0, 81.0, 90.0]);
    // SAME, corner (0, 0): 0 + 1 + 4 + 5 = 10.
    assert_eq!(out.same.shape(), &[1, 4, 4, 1]);
    assert_eq!(out.same[[0, 0, 0, 0]], 10.0);
    assert_eq!(out.same[[0, 1, 1, 0]], 45.0);
    // SAME with stride 2 on 4: out 2, pad_total 1 (0 before, 1 after):
    // windows start at 0 and 2; (1, 1) covers rows 2..=3, cols 2..=3 → 10+11+14+15.
    assert_eq!(out.strided.shape(), &[1, 2, 2, 1]);
    assert_eq!(out.strided[[0, 1, 1, 0]], 50.0);
    // A 2x2 box dilated by 2 spans 3x3 and reads its corners: at (0, 0)
    // 0 + 2 + 8 + 10 = 20; each step right adds 4, each step down 16.
    assert_eq!(flat(&out.dilated), [20.0, 24.0, 36.0, 40.0]);
    assert_eq!(flat(&out.pooled), [5.0, 7.0, 13.0, 15.0]);
    // Average of the valid cells around (0, 0): (0 + 1 + 4 + 5) / 4.
    assert_eq!(out.averaged[[0, 0, 0, 0]], 2.5);
    assert_eq!(out.averaged[[0, 1, 1, 0]], 5.0);
}

graph! {
    struct Norms {
        input x: [2, 2];
        const mean = [1.0, 2.0];
        const variance = [4.0, 1.0];
        const scale = [2.0, 1.0];
        const offset = [0.0, 10.0];
        const gamma = [1.0, 2.0];
        const beta = [0.5, 0.5];
        output batch = batch_norm(x, mean, variance, scale, offset, epsilon = 0.0);
        output layer = layer_norm(x, gamma, beta, epsilon = 0.0);
    }
}

#[test]
fn normalisations() {
    let x = array![[3.0, 2.0], [1.0, 4.0]];
    let out = Norms::new().run(x.view()).unwrap();
    // (x - mean) / sqrt(var) · scale + offset.
    assert_eq!(out.batch, array![[2.0, 10.0], [0.0, 12.0]]);
    // Each row has mean m and std 1 around it: (x - m) · gamma + beta.
    assert_eq!(out.layer, array![[1.5, -1.5], [-0.5, 2.5]]);
}

graph! {
    struct Lookup {
        input ids: [n, 2] as usize;
        var table: [3, 2];
        output vectors = embedding(table, ids);
        output first = gather(table, ids);
    }
}

#[test]
fn embedding_lookup_and_bad_index() {
    let mut lookup = Lookup::zeros();
    lookup
        .set_table(array![[0.0, 1.0], [10.0, 11.0], [20.0, 21.0]])
        .unwrap();
    let ids = array![[2_usize, 0], [1, 1]];
    let vectors = lookup.vectors(ids.view()).unwrap();
    assert_eq!(vectors.shape(), &[2, 2, 2]);
    assert_eq!(vectors[[0, 0, 1]], 21.0);
    assert_eq!(vectors[[1, 1, 0]], 10.0);
    let err = lookup.first(array![[0_usize, 3]].view()).unwrap_err();
    assert!(err.to_string().contains("ids"), "{err}");
}

graph! {
    struct Batched {
        input a: [b, 2, 3];
        input c: [b, 3, 1];
        var shared: [3, 2];
        output each = matmul(a, c);
        output common = matmul(a, shared);
    }
}

#[test]
fn batched_matmul() {
    let a = Array3::from_shape_fn((2, 2, 3), |(b, i, j)| (b * 10 + i * 3 + j) as f32);
    let c = Array3::from_elem((2, 3, 1), 1.0);
    let mut batched = Batched::zeros();
    batched
        .shared_mut()
        .assign(&array![[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]);
    let out = batched.run(a.view(), c.view()).unwrap();
    // Row sums: batch 0 rows [0,1,2], [3,4,5]; batch 1 adds 10 to each.
    assert_eq!(
        out.each.iter().copied().collect::<Vec<f32>>(),
        [3.0, 12.0, 33.0, 42.0]
    );
    assert_eq!(out.common[[1, 1, 0]], 13.0);
    assert_eq!(out.common[[1, 1, 1]], 14.0);
}

graph! {
    struct ScalarResults {
        input v: [3];
        output norm = sqrt(sum(square(v)));
        output biggest = max(v) * 2.0;
        output bounded = clip(sum(v), 0.0, 1.0);
    }
}

#[test]
fn kernels_on_scalars_give_plain_scalars() {
    let out = ScalarResults::new()
        .run(array![3.0, 0.0, -4.0].view())
        .unwrap();
    assert_eq!(out.norm, 5.0);
    assert_eq!(out.biggest, 6.0);
    assert_eq!(out.bounded, 0.0);
    let _: Array1<f32> = array![out.norm];
}

// ------------------------------------------------- against numpy fixtures

/// `erf` is evaluated in `f64` and rounded once, as is the reference
/// (`math.erf`, `tests/reference/kernels.py`): at most one ulp apart.
const ROUNDED: Tolerance = Tolerance {
    rel: 1.2e-7,
    abs: 1.5e-45,
};

graph! {
    struct ErfStd {
        input x: [n];
        output y = erf(x);
        // In a fused elementwise tree (doubling is exact).
        output doubled = erf(x) * 2.0;
    }
}

graph! {
    #[no_std]
    struct ErfSpecial {
        input x: [19];
        output y = erf(x);
        output doubled = erf(x) * 2.0;
    }
}

graph! {
    #[no_std]
    struct ErfRandom {
        input x: [3, 4];
        output y = erf(x);
    }
}

/// `erf` through `graph!`, std and `#[no_std]`, against numpy's fixture
/// (`fixtures/kernels/unary.json`: its special values from `-1e4` to `1e4`
/// and a random `[3, 4]` matrix).
#[test]
fn erf_against_numpy() {
    let erf_cases: Vec<_> = cases("unary")
        .into_iter()
        .filter(|case| case.op() == "erf")
        .collect();
    assert_eq!(erf_cases.len(), 3, "special, random and empty");
    for case in &erf_cases {
        let x = case.f32s("x");
        let expected = case.f32s("out");
        let flat_x = Array1::from_iter(x.iter().copied());
        let flat_expected = Array1::from_iter(expected.iter().copied()).into_dyn();
        let out = ErfStd::new().run(flat_x.view()).unwrap();
        let label = case.label();
        assert_close(
            &label,
            &out.y.view().into_dyn(),
            &flat_expected.view(),
            ROUNDED,
        );
        let twice = flat_expected.mapv(|v| v * 2.0);
        assert_close(
            &label,
            &out.doubled.view().into_dyn(),
            &twice.view(),
            ROUNDED,
        );
        let bare: Vec<f32> = match x.shape() {
            [19] => {
                let input: [f32; 19] = std::array::from_fn(|i| flat_x[i]);
                let out = ErfSpecial::new().run(&input);
                let doubled = Array1::from_vec(out.doubled.to_vec()).into_dyn();
                assert_close(&label, &doubled.view(), &twice.view(), ROUNDED);
                out.y.to_vec()
            }
            [3, 4] => {
                let input: [[f32; 4]; 3] =
                    std::array::from_fn(|i| std::array::from_fn(|j| flat_x[i * 4 + j]));
                ErfRandom::new().y(&input).as_flattened().to_vec()
            }
            _ => continue,
        };
        let bare = Array1::from_vec(bare).into_dyn();
        assert_close(
            &format!("{label} (no_std)"),
            &bare.view(),
            &flat_expected.view(),
            ROUNDED,
        );
    }
}

graph! {
    /// `pad` as a convolution's `same` padding and a max-pool's (whose
    /// padding never wins), the batch axis symbolic and unpadded.
    struct PadNhwc {
        input x: [n, 3, 3, 2];
        output same = pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]);
        output pool = x.pad(paddings = [[0, 0], [0, 1], [1, 0], [0, 0]], value = -3.4028235e38);
    }
}

graph! {
    #[no_std]
    struct PadNhwcBare {
        input x: [2, 3, 3, 2];
        output same = pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], value = 0.0);
        output pool = pad(x, [[0, 0], [0, 1], [1, 0], [0, 0]], value = -3.4028235e38);
    }
}

graph! {
    struct PadSmall {
        input x: [2, 3, 4];
        input v: [5];
        output x3 = pad(x, [[1, 0], [0, 2], [3, 1]], value = 1.5);
        output v1 = pad(v, [[2, 3]], -1.0);
    }
}

graph! {
    #[no_std]
    struct PadSmallBare {
        input x: [2, 3, 4];
        input v: [5];
        output x3 = pad(x, [[1, 0], [0, 2], [3, 1]], value = 1.5);
        output v1 = pad(v, [[2, 3]], -1.0);
    }
}

/// `pad` through `graph!`, std and `#[no_std]`, against `np.pad` (the `pad`
/// cases of `fixtures/kernels/movement.json`, written by
/// `tests/reference/kernels.py`): a copy, so bit for bit.
#[test]
fn pad_against_numpy() {
    const EXACT: Tolerance = Tolerance { rel: 0.0, abs: 0.0 };
    let pad_cases = cases("movement");
    let case = |name: &str| {
        pad_cases
            .iter()
            .find(|case| case.op() == "pad" && case.label().ends_with(name))
            .unwrap_or_else(|| panic!("no pad case {name}"))
    };
    let check = |label: &str, actual: Vec<f32>, expected: &ndarray::ArrayD<f32>| {
        let actual = ndarray::ArrayD::from_shape_vec(expected.raw_dim(), actual).unwrap();
        assert_close(label, &actual.view(), &expected.view(), EXACT);
    };
    let flat = |a: &ndarray::ArrayD<f32>| a.iter().copied().collect::<Vec<f32>>();
    let (same, pool) = (case(": nhwc same"), case(": nhwc max-pool"));
    assert_eq!(pool.scalar("value"), f32::MIN);
    let image = |case: &common::Case| {
        case.f32s("x")
            .into_dimensionality::<ndarray::Ix4>()
            .unwrap()
    };
    let (x_same, x_pool) = (image(same), image(pool));
    let out_same = PadNhwc::new().run(x_same.view()).unwrap();
    let out_pool = PadNhwc::new().run(x_pool.view()).unwrap();
    check(
        "nhwc same",
        flat(&out_same.same.into_dyn()),
        &same.f32s("out"),
    );
    check(
        "nhwc max-pool",
        flat(&out_pool.pool.into_dyn()),
        &pool.f32s("out"),
    );
    // The batch axis is symbolic: one image pads as in the batch.
    let one = PadNhwc::new()
        .run(x_same.slice_axis(ndarray::Axis(0), ndarray::Slice::from(1..2)))
        .unwrap();
    assert_eq!(one.same.shape(), &[1, 5, 5, 2]);
    assert_eq!(
        one.same.index_axis(ndarray::Axis(0), 0).into_dyn(),
        same.f32s("out").index_axis(ndarray::Axis(0), 1)
    );
    let arrays = |x: &ndarray::Array4<f32>| -> [[[[f32; 2]; 3]; 3]; 2] {
        std::array::from_fn(|b| {
            std::array::from_fn(|i| {
                std::array::from_fn(|j| std::array::from_fn(|c| x[[b, i, j, c]]))
            })
        })
    };
    let bare_same = PadNhwcBare::new().run(&arrays(&x_same)).same;
    let bare_pool = PadNhwcBare::new().run(&arrays(&x_pool)).pool;
    let same_values = bare_same
        .as_flattened()
        .as_flattened()
        .as_flattened()
        .to_vec();
    check("nhwc same (no_std)", same_values, &same.f32s("out"));
    let pool_values = bare_pool
        .as_flattened()
        .as_flattened()
        .as_flattened()
        .to_vec();
    check("nhwc max-pool (no_std)", pool_values, &pool.f32s("out"));
    let (rank3, rank1) = (case(": rank 3"), case(": rank 1"));
    let x = rank3
        .f32s("x")
        .into_dimensionality::<ndarray::Ix3>()
        .unwrap();
    let v = rank1
        .f32s("x")
        .into_dimensionality::<ndarray::Ix1>()
        .unwrap();
    let out = PadSmall::new().run(x.view(), v.view()).unwrap();
    check("rank 3", flat(&out.x3.into_dyn()), &rank3.f32s("out"));
    check("rank 1", flat(&out.v1.into_dyn()), &rank1.f32s("out"));
    let bare_x: [[[f32; 4]; 3]; 2] =
        std::array::from_fn(|a| std::array::from_fn(|b| std::array::from_fn(|c| x[[a, b, c]])));
    let bare_v: [f32; 5] = std::array::from_fn(|i| v[i]);
    let bare = PadSmallBare::new().run(&bare_x, &bare_v);
    check(
        "rank 3 (no_std)",
        bare.x3.as_flattened().as_flattened().to_vec(),
        &rank3.f32s("out"),
    );
    check("rank 1 (no_std)", bare.v1.to_vec(), &rank1.f32s("out"));
}
