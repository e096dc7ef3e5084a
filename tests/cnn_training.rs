//! The small conv nets of `tests/reference/fixtures/training/cnn_grads.json`
//! (`tests/reference/training.py`: conv2d SAME and VALID, stride 1 and 2,
//! max and average pools, layer norm) written in `graph!`, with `grad` of
//! the loss with respect to every parameter and to the input, against JAX
//! (float64, rounded once to f32):
//!
//! - at the fixture's batch of 2, as a literal dim;
//! - with a symbolic batch `n`: at `n = 2`, and at `n = 4` with the batch
//!   given twice, where the mean loss and the parameters' gradients are the
//!   fixture's and each copy of the input gets half its gradient.

mod common;
mod training_fixtures;

use staticflow::graph;
use staticflow::ndarray::{
    concatenate, Array, Array1, Array4, ArrayView, Axis, Dimension, RemoveAxis,
};

use common::Json;
use training_fixtures::{
    assert_scalar, assert_tensor, field, labels, load, named, single, tensor, Tolerance,
};

/// How close a result must be to JAX: `|a − e| ≤ 1e-5·|e| + 1e-6·max|E|`,
/// `E` the whole expected tensor.
///
/// The relative part is the brief's 1e-5. It cannot hold alone: an element
/// of a gradient is a sum of products (over the batch, the pixels of a
/// window, the classes) whose terms are as large as the tensor's largest
/// elements, so the f32 evaluation carries an absolute error of a few ulps
/// of those terms (a few times 2⁻²⁴·max|E|, about 6e-8·max|E| each),
/// whatever the size of the sum. Elements that nearly cancel (an input
/// pixel that several windows pull in opposite ways, a weight fed by a
/// small feature) are small in the reference but not in that error. The
/// floor allows 16 such roundings, 1e-6·max|E|, still 10× below the
/// relative part for every element within 10× of the largest. Exact zeros
/// (weights of features that relu or the pool zeroed, the rows and columns
/// the VALID pool never reads) must still come out within that floor.
fn tolerance_for(expected: &ArrayView<'_, f32, impl Dimension>) -> Tolerance {
    let largest = expected.iter().fold(0.0_f32, |m, v| m.max(v.abs()));
    Tolerance {
        rel: 1e-5,
        abs: 1e-6 * f64::from(largest),
    }
}

/// The loss is a scalar: 1e-5 relative, no floor.
const LOSS: Tolerance = Tolerance {
    rel: 1e-5,
    abs: 0.0,
};

/// One net of the fixture: conv2d (+ bias) [→ layer norm] → relu → 2×2 pool
/// of stride 2 → flatten → dense → mean softmax cross-entropy on class
/// indices, and the gradients of the loss.
macro_rules! cnn {
    ($name:ident, $batch:tt, conv($($conv:tt)*), $pool:ident, $features:literal) => {
        graph! {
            struct $name {
                input x: [$batch, 8, 8, 1];
                input labels: [$batch] as usize;
                var k: [3, 3, 1, 4];
                var c: [4];
                var w: [$features, 10];
                var b: [10];
                let y = relu(conv2d(x, k, $($conv)*) + c);
                let pooled = $pool(y, window = 2, strides = 2, padding = valid);
                let f = reshape(pooled, [$batch, $features]);
                output logits = matmul(f, w) + b;
                output loss = mean(softmax_cross_entropy(logits, labels));
                output dk = grad(loss, k);
                output dc = grad(loss, c);
                output dw = grad(loss, w);
                output db = grad(loss, b);
                output dx = grad(loss, x);
            }
        }
    };
    ($name:ident, $batch:tt, conv($($conv:tt)*), layer_norm, $pool:ident, $features:literal) => {
        graph! {
            struct $name {
                input x: [$batch, 8, 8, 1];
                input labels: [$batch] as usize;
                var k: [3, 3, 1, 4];
                var c: [4];
                var gamma: [4];
                var beta: [4];
                var w: [$features, 10];
                var b: [10];
                let y = relu(layer_norm(conv2d(x, k, $($conv)*) + c, gamma, beta, epsilon = 0.001));
                let pooled = $pool(y, window = 2, strides = 2, padding = valid);
                let f = reshape(pooled, [$batch, $features]);
                output logits = matmul(f, w) + b;
                output loss = mean(softmax_cross_entropy(logits, labels));
                output dk = grad(loss, k);
                output dc = grad(loss, c);
                output dgamma = grad(loss, gamma);
                output dbeta = grad(loss, beta);
                output dw = grad(loss, w);
                output db = grad(loss, b);
                output dx = grad(loss, x);
            }
        }
    };
}

cnn!(
    SameMax,
    2,
    conv(strides = 1, padding = same),
    max_pool2d,
    64
);
cnn!(
    SameMaxN,
    n,
    conv(strides = 1, padding = same),
    max_pool2d,
    64
);
cnn!(
    ValidAvg,
    2,
    conv(strides = 2, padding = valid),
    avg_pool2d,
    4
);
cnn!(
    ValidAvgN,
    n,
    conv(strides = 2, padding = valid),
    avg_pool2d,
    4
);
cnn!(
    SameNormMax,
    2,
    conv(strides = 1, padding = same),
    layer_norm,
    max_pool2d,
    64
);
cnn!(
    SameNormMaxN,
    n,
    conv(strides = 1, padding = same),
    layer_norm,
    max_pool2d,
    64
);

/// A fixture case: its data and the expected loss, logits and gradients.
struct Case {
    name: &'static str,
    json: &'static Json,
    x: Array4<f32>,
    labels: Array1<usize>,
}

impl Case {
    fn new(name: &'static str) -> Self {
        static FIXTURE: std::sync::OnceLock<Json> = std::sync::OnceLock::new();
        let json = named(
            field(FIXTURE.get_or_init(|| load("cnn_grads")), "cases"),
            name,
        );
        Self {
            name,
            json,
            x: tensor(field(json, "x")),
            labels: labels(field(json, "labels")),
        }
    }

    /// A parameter's initial value.
    fn param<D: Dimension>(&self, key: &str) -> Array<f32, D> {
        tensor(field(field(self.json, "params"), key))
    }

    /// The graph is the fixture's configuration.
    fn expect_config(&self, strides: usize, padding: &str, pool: &str, layer_norm: bool) {
        let pair = |key: &str| {
            field(self.json, key)
                .items()
                .iter()
                .map(Json::index)
                .collect::<Vec<_>>()
        };
        assert_eq!(pair("strides"), [strides, strides], "{}", self.name);
        assert_eq!(pair("dilations"), [1, 1]);
        assert_eq!(pair("pool_window"), [2, 2]);
        assert_eq!(pair("pool_strides"), [2, 2]);
        assert_eq!(field(self.json, "padding").text(), padding);
        assert_eq!(field(self.json, "pool").text(), pool);
        assert_eq!(field(self.json, "pool_padding").text(), "valid");
        assert_eq!(self.json.get("layer_norm").is_some(), layer_norm);
        if let Some(norm) = self.json.get("layer_norm") {
            assert_eq!(single(field(norm, "epsilon")), 0.001);
            assert_eq!(field(norm, "axis").float(), -1.0);
        }
    }

    /// The batch given `copies` times, for a symbolic batch.
    fn repeated(&self, copies: usize) -> (Array4<f32>, Array1<usize>) {
        let x: Vec<_> = (0..copies).map(|_| self.x.view()).collect();
        let labels: Vec<_> = (0..copies).map(|_| self.labels.view()).collect();
        (
            concatenate(Axis(0), &x).unwrap(),
            concatenate(Axis(0), &labels).unwrap(),
        )
    }

    /// Compares one result with the fixture's `grads[key]` (or `logits`),
    /// which is `copies` times smaller for the input's gradient when the
    /// batch holds `copies` copies (and `copies` times longer).
    #[track_caller]
    fn check<D: RemoveAxis>(
        &self,
        graph: &str,
        key: &str,
        actual: &ArrayView<'_, f32, D>,
        copies: usize,
    ) {
        let expected: Array<f32, D> = if key == "logits" {
            tensor(field(self.json, "logits"))
        } else {
            tensor(field(field(self.json, "grads"), key))
        };
        let expected = if key == "x" || key == "logits" {
            #[allow(clippy::cast_precision_loss)]
            let scale = if key == "x" { 1.0 / copies as f32 } else { 1.0 };
            let parts: Vec<_> = (0..copies).map(|_| expected.view()).collect();
            concatenate(Axis(0), &parts).unwrap().mapv(|v| v * scale)
        } else {
            expected
        };
        let context = format!("{} ({graph}): `{key}`", self.name);
        assert_tensor(
            &context,
            actual,
            &expected.view(),
            tolerance_for(&expected.view()),
        );
    }

    fn check_loss(&self, graph: &str, loss: f32) {
        let expected = f64::from(single(field(self.json, "loss_value")));
        assert_scalar(
            &format!("{} ({graph}): the loss", self.name),
            loss,
            expected,
            LOSS,
        );
    }
}

/// Builds `$graph` from the case's parameters, runs it on the batch given
/// `$copies` times (through `run` and `run_with`), and checks every
/// output.
macro_rules! check_case {
    ($case:expr, $graph:ident, $workspace:ident, $copies:expr, [$($param:ident),*]) => {{
        let case = &$case;
        let graph = $graph::new($(case.param(stringify!($param))),*).unwrap();
        let (x, labels) = case.repeated($copies);
        let mut workspace = $workspace::default();
        let all = graph.run(x.view(), labels.view()).unwrap();
        let with = graph.run_with(&mut workspace, x.view(), labels.view()).unwrap();
        let name = format!("{}, batch {}", stringify!($graph), x.shape()[0]);
        for loss in [all.loss, with.loss] {
            case.check_loss(&name, loss);
        }
        case.check(&name, "logits", &all.logits.view(), $copies);
        case.check(&name, "logits", &with.logits, $copies);
        case.check(&name, "x", &all.dx.view(), $copies);
        case.check(&name, "x", &with.dx, $copies);
        $(
            paste_grad!(case, name, all, with, $param);
        )*
    }};
}

/// Checks the gradient output `d<param>` of both runs.
macro_rules! paste_grad {
    ($case:ident, $name:ident, $all:ident, $with:ident, k) => {
        $case.check(&$name, "k", &$all.dk.view(), 1);
        $case.check(&$name, "k", &$with.dk, 1);
    };
    ($case:ident, $name:ident, $all:ident, $with:ident, c) => {
        $case.check(&$name, "c", &$all.dc.view(), 1);
        $case.check(&$name, "c", &$with.dc, 1);
    };
    ($case:ident, $name:ident, $all:ident, $with:ident, gamma) => {
        $case.check(&$name, "gamma", &$all.dgamma.view(), 1);
        $case.check(&$name, "gamma", &$with.dgamma, 1);
    };
    ($case:ident, $name:ident, $all:ident, $with:ident, beta) => {
        $case.check(&$name, "beta", &$all.dbeta.view(), 1);
        $case.check(&$name, "beta", &$with.dbeta, 1);
    };
    ($case:ident, $name:ident, $all:ident, $with:ident, w) => {
        $case.check(&$name, "w", &$all.dw.view(), 1);
        $case.check(&$name, "w", &$with.dw, 1);
    };
    ($case:ident, $name:ident, $all:ident, $with:ident, b) => {
        $case.check(&$name, "b", &$all.db.view(), 1);
        $case.check(&$name, "b", &$with.db, 1);
    };
}

/// Every parameter of the case has a gradient output in the graph: the
/// keys of `grads` are `x` and the graph's variables.
fn covers(case: &Case, params: &[&str]) {
    let Json::Object(grads) = field(case.json, "grads") else {
        panic!("`grads` is an object");
    };
    let mut keys: Vec<&str> = grads.iter().map(|(k, _)| k.as_str()).collect();
    let mut wanted: Vec<&str> = params.iter().copied().chain(["x"]).collect();
    keys.sort_unstable();
    wanted.sort_unstable();
    assert_eq!(keys, wanted, "{}: every gradient is checked", case.name);
}

#[test]
fn conv_same_then_max_pool() {
    let case = Case::new("conv_same_maxpool");
    case.expect_config(1, "same", "max", false);
    covers(&case, &["k", "c", "w", "b"]);
    check_case!(case, SameMax, SameMaxWorkspace, 1, [k, c, w, b]);
    check_case!(case, SameMaxN, SameMaxNWorkspace, 1, [k, c, w, b]);
    check_case!(case, SameMaxN, SameMaxNWorkspace, 2, [k, c, w, b]);
}

#[test]
fn conv_valid_strided_then_average_pool() {
    let case = Case::new("conv_valid_s2_avgpool");
    case.expect_config(2, "valid", "avg", false);
    covers(&case, &["k", "c", "w", "b"]);
    check_case!(case, ValidAvg, ValidAvgWorkspace, 1, [k, c, w, b]);
    check_case!(case, ValidAvgN, ValidAvgNWorkspace, 1, [k, c, w, b]);
    check_case!(case, ValidAvgN, ValidAvgNWorkspace, 2, [k, c, w, b]);
}

#[test]
fn conv_same_layer_norm_then_max_pool() {
    let case = Case::new("conv_same_layernorm_maxpool");
    case.expect_config(1, "same", "max", true);
    covers(&case, &["k", "c", "gamma", "beta", "w", "b"]);
    check_case!(
        case,
        SameNormMax,
        SameNormMaxWorkspace,
        1,
        [k, c, gamma, beta, w, b]
    );
    check_case!(
        case,
        SameNormMaxN,
        SameNormMaxNWorkspace,
        1,
        [k, c, gamma, beta, w, b]
    );
    check_case!(
        case,
        SameNormMaxN,
        SameNormMaxNWorkspace,
        2,
        [k, c, gamma, beta, w, b]
    );
}

/// The VALID average pool of a 3×3 map reads rows and columns 0..1 only:
/// the input pixels that only row or column 2 of the stride-2 conv sees get
/// no gradient, exactly.
#[test]
fn pixels_the_valid_pool_never_reads_get_no_gradient() {
    let case = Case::new("conv_valid_s2_avgpool");
    let graph = ValidAvg::new(
        case.param("k"),
        case.param("c"),
        case.param("w"),
        case.param("b"),
    )
    .unwrap();
    let dx = graph.dx(case.x.view(), case.labels.view()).unwrap();
    // Conv outputs 0 and 1 read input rows 0..5 (stride 2, window 3).
    for row in 5..8 {
        for column in 0..8 {
            for n in 0..2 {
                assert_eq!(dx[[n, row, column, 0]], 0.0, "pixel ({row}, {column})");
                assert_eq!(dx[[n, column, row, 0]], 0.0, "pixel ({column}, {row})");
            }
        }
    }
    let expected: Array4<f32> = tensor(field(field(case.json, "grads"), "x"));
    assert!(expected.iter().filter(|&&v| v == 0.0).count() >= 2 * 39);
}
