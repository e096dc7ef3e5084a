//! The IR rewrites that change how values are computed: dense and
//! convolution fusion (a product or a convolution with its bias and
//! activation in one kernel) and elementwise fusion (a tree of elementwise
//! ops in one pass over memory).

use crate::{count, label_of, labels, workspaces, CASES, EXACT, ROUNDING};

// ---------------------------------------------------------------------------
// Dense fusion: one graph per activation the pass accepts. Each but the
// first fuses a product with a bias (`ROUNDING`: the bias joins the sum in another place,
// and the variable `w` is packed) and one without, over an input matrix `k`
// (not packed): the same product kernel, then the same activation, so
// `EXACT`.

// Dense fusion, bias only (identity activation), the bias on either side.
twins!(DenseBias, DenseBiasOff {
    input x: [n, 6];
    var w: [6, 5];
    var b: [5];
    var v: [6, 9];
    var c: [9];
    output y = matmul(x, w) + b;
    output z = c + matmul(x, v);
});

#[test]
fn dense_bias() {
    written_alike!(DenseBias, DenseBiasOff);
    assert_eq!(label_of(DenseBias::DOT, "y"), "y\ndense: matmul(x, w) + b");
    assert_eq!(label_of(DenseBias::DOT, "z"), "z\ndense: matmul(x, v) + c");
    assert_eq!(count(DenseBiasOff::DOT, "dense:"), 0);
    let (mut wa, mut wb) = workspaces();
    for case in CASES {
        let mut rng = case.rng();
        let (opt, off) = pair!(DenseBias, DenseBiasOff, &mut rng);
        let x = rng.array((case.n, 6));
        run_agree!(std DenseBias: opt, off, &mut wa, &mut wb, (x.view()), {
            y: ROUNDING,
            z: ROUNDING,
        });
    }
}

/// The test of a dense-fusion graph with outputs `y` (weights `w`, bias
/// `b`) and `plain` (the input `k`, no bias), whose optimized labels must be
/// `$y` and `$plain`.
macro_rules! dense_test {
    ($test:ident, $opt:ident, $off:ident, $y:literal, $plain:literal) => {
        #[test]
        fn $test() {
            written_alike!($opt, $off);
            assert_eq!(label_of($opt::DOT, "y"), $y);
            assert_eq!(label_of($opt::DOT, "plain"), $plain);
            assert_eq!(count($off::DOT, "dense:"), 0);
            let (mut wa, mut wb) = workspaces();
            for case in CASES {
                let mut rng = case.rng();
                let (opt, off) = pair!($opt, $off, &mut rng);
                let (x, k) = (rng.array((case.n, 7)), rng.array((7, 3)));
                run_agree!(std $opt: opt, off, &mut wa, &mut wb, (x.view(), k.view()), {
                    y: ROUNDING,
                    plain: EXACT,
                });
            }
        }
    };
}

// Dense fusion with relu, with and without a bias.
twins!(DenseRelu, DenseReluOff {
    input x: [n, 7];
    input k: [7, 3];
    var w: [7, 10];
    var b: [10];
    output y = relu(matmul(x, w) + b);
    output plain = relu(matmul(x, k));
});
dense_test!(
    dense_relu,
    DenseRelu,
    DenseReluOff,
    "y\ndense: relu(matmul(x, w) + b)",
    "plain\ndense: relu(matmul(x, k))"
);

// Dense fusion with leaky_relu (an explicit alpha and the default).
twins!(DenseLeaky, DenseLeakyOff {
    input x: [n, 7];
    input k: [7, 3];
    var w: [7, 10];
    var b: [10];
    output y = leaky_relu(matmul(x, w) + b, alpha = 0.1);
    output plain = leaky_relu(matmul(x, k));
});
dense_test!(
    dense_leaky_relu,
    DenseLeaky,
    DenseLeakyOff,
    "y\ndense: leaky_relu(matmul(x, w) + b, alpha=0.1)",
    "plain\ndense: leaky_relu(matmul(x, k), alpha=0.2)"
);

// Dense fusion with sigmoid.
twins!(DenseSigmoid, DenseSigmoidOff {
    input x: [n, 7];
    input k: [7, 3];
    var w: [7, 10];
    var b: [10];
    output y = sigmoid(b + matmul(x, w));
    output plain = sigmoid(matmul(x, k));
});
dense_test!(
    dense_sigmoid,
    DenseSigmoid,
    DenseSigmoidOff,
    "y\ndense: sigmoid(matmul(x, w) + b)",
    "plain\ndense: sigmoid(matmul(x, k))"
);

// Dense fusion with tanh.
twins!(DenseTanh, DenseTanhOff {
    input x: [n, 7];
    input k: [7, 3];
    var w: [7, 10];
    var b: [10];
    output y = tanh(matmul(x, w) + b);
    output plain = tanh(matmul(x, k));
});
dense_test!(
    dense_tanh,
    DenseTanh,
    DenseTanhOff,
    "y\ndense: tanh(matmul(x, w) + b)",
    "plain\ndense: tanh(matmul(x, k))"
);

// Dense fusion refused: a shared product, a bias per element, a batched
// product, an activation the kernel lacks, a dense value that is an output.
twins!(DenseRefused, DenseRefusedOff {
    input x: [n, 4];
    input m: [n, 3];
    input batch: [2, n, 4];
    input b: [3];
    input w1: [4, 3];
    input w2: [4, 3];
    input w3: [4, 3];
    input w4: [4, 3];
    input w5: [4, 3];
    let shared = matmul(x, w1);
    output twice = relu(shared) + shared;
    output by_element = matmul(x, w2) + m;
    output batched = relu(matmul(batch, w3) + b);
    output gelu = gelu_tanh(matmul(x, w4) + b);
    let h = matmul(x, w5) + b;
    output h_out = h;
    output r = relu(h);
});

#[test]
fn dense_fusion_refused() {
    written_alike!(DenseRefused, DenseRefusedOff);
    let dot = DenseRefused::DOT;
    assert_eq!(label_of(dot, "shared"), "shared\nmatmul");
    assert_eq!(label_of(dot, "by_element"), "by_element\nadd");
    assert!(
        label_of(dot, "batched").starts_with("batched\nfused: relu("),
        "{dot}"
    );
    // `gelu_tanh` is one of the dense epilogue's activations too.
    assert_eq!(
        label_of(dot, "gelu"),
        "gelu\ndense: gelu_tanh(matmul(x, w4) + b)"
    );
    assert_eq!(label_of(dot, "h"), "h\ndense: matmul(x, w5) + b");
    assert_eq!(label_of(dot, "r"), "r\nrelu");
    assert_eq!(count(dot, "dense:"), 2);
    let (mut wa, mut wb) = workspaces();
    for case in CASES {
        let mut rng = case.rng();
        let (opt, off) = (DenseRefused::new(), DenseRefusedOff::new());
        let (x, m) = (rng.array((case.n, 4)), rng.array((case.n, 3)));
        let (batch, bias) = (rng.array((2, case.n, 4)), rng.array(3));
        let w: Vec<_> = (0..5).map(|_| rng.array((4, 3))).collect();
        let weights: Vec<_> = w.iter().map(|w| w.view()).collect();
        run_agree!(std DenseRefused: opt, off, &mut wa, &mut wb, (
            x.view(), m.view(), batch.view(), bias.view(),
            weights[0], weights[1], weights[2], weights[3], weights[4],
        ), {
            twice: EXACT,
            by_element: EXACT,
            batched: EXACT,
            gelu: ROUNDING,
            h_out: ROUNDING,
            r: ROUNDING,
        });
    }
}

// Dense fusion of every activation on both paths; vector-matrix products
// fuse too in `#[no_std]` graphs.
quads!(DenseLayers, DenseLayersOff, DenseLayersBare, DenseLayersBareOff {
    input x: [3, 6];
    input v: [6];
    input k: [6, 5];
    var w1: [6, 5];
    var w2: [6, 5];
    var w3: [6, 5];
    var b: [5];
    output identity = matmul(x, w1) + b;
    output rectified = relu(matmul(v, w2) + b);
    output leaky = leaky_relu(matmul(x, k), alpha = 0.3);
    output squashed = sigmoid(b + matmul(x, w3));
    output bent = tanh(matmul(v, k));
});

#[test]
fn dense_layers() {
    written_alike!(DenseLayers, DenseLayersOff);
    let dot = DenseLayers::DOT;
    assert_eq!(
        label_of(dot, "identity"),
        "identity\ndense: matmul(x, w1) + b"
    );
    assert_eq!(
        label_of(dot, "leaky"),
        "leaky\ndense: leaky_relu(matmul(x, k), alpha=0.3)"
    );
    assert_eq!(
        label_of(dot, "squashed"),
        "squashed\ndense: sigmoid(matmul(x, w3) + b)"
    );
    // A vector times a matrix is no dense node on the std path.
    assert_eq!(label_of(dot, "rectified"), "rectified\nfused: relu(#0 + b)");
    assert_eq!(label_of(dot, "bent"), "bent\ntanh");
    let (mut wa, mut wb) = workspaces();
    for case in CASES {
        let mut rng = case.rng();
        let (opt, off) = pair!(DenseLayers, DenseLayersOff, &mut rng);
        let (x, v, k) = (rng.array((3, 6)), rng.array(6), rng.array((6, 5)));
        run_agree!(std DenseLayers: opt, off, &mut wa, &mut wb, (x.view(), v.view(), k.view()), {
            identity: ROUNDING,
            rectified: EXACT,
            leaky: EXACT,
            squashed: ROUNDING,
            bent: EXACT,
        });
    }
}

#[test]
fn dense_layers_no_std() {
    written_alike!(DenseLayersBare, DenseLayersBareOff);
    let dot = DenseLayersBare::DOT;
    assert_eq!(
        label_of(dot, "identity"),
        "identity\ndense: matmul(x, w1) + b"
    );
    assert_eq!(
        label_of(dot, "rectified"),
        "rectified\ndense: relu(matmul(v, w2) + b)"
    );
    assert_eq!(
        label_of(dot, "leaky"),
        "leaky\ndense: leaky_relu(matmul(x, k), alpha=0.3)"
    );
    assert_eq!(
        label_of(dot, "squashed"),
        "squashed\ndense: sigmoid(matmul(x, w3) + b)"
    );
    assert_eq!(label_of(dot, "bent"), "bent\ndense: tanh(matmul(v, k))");
    assert_eq!(count(DenseLayersBareOff::DOT, "dense:"), 0);
    let (mut wa, mut wb) = workspaces();
    for case in CASES {
        let mut rng = case.rng();
        let (w1, w2, w3, b) = (rng.fill(), rng.fill(), rng.fill(), rng.fill());
        let (opt, off) = (
            DenseLayersBare::new(w1, w2, w3, b),
            DenseLayersBareOff::new(w1, w2, w3, b),
        );
        let (x, v, k) = (rng.fill(), rng.fill(), rng.fill());
        // The slice kernel starts each sum from the bias: `ROUNDING` with
        // one; without, the same loop as a plain product.
        run_agree!(bare DenseLayersBare: opt, off, &mut wa, &mut wb, (&x, &v, &k), {
            identity: ROUNDING,
            rectified: ROUNDING,
            leaky: EXACT,
            squashed: ROUNDING,
            bent: EXACT,
        });
    }
}

// ---------------------------------------------------------------------------
// Convolution fusion: a bias of one value per channel (either side of the
// `+`) and an activation the runtime's epilogue has join the convolution's
// kernel (`ROUNDING`: the bias joins the sum in another place); without a
// bias, the same sums then the same activation (`EXACT`). `split` has
// patches wider than a block of columns (3·3·16 floats), whose products
// accumulate before the epilogue; `kept` an activation the epilogue lacks,
// which stays a node of its own over the fused bias.
twins!(ConvFused, ConvFusedOff {
    input x: [n, 6, 5, 3];
    input z: [n, 5, 4, 16];
    var k: [3, 3, 3, 4];
    var b: [4];
    var k2: [3, 3, 16, 5];
    var b2: [5];
    output y = relu(conv2d(x, k, padding = same) + b);
    output left = b + conv2d(x, k, strides = 2);
    output plain = tanh(conv2d(x, k, padding = same, dilation = 2));
    output leaky = leaky_relu(conv2d(x, k) + b, alpha = 0.1);
    output split = relu(conv2d(z, k2, padding = same) + b2);
    output kept = exp(conv2d(z, k2) + b2);
});

#[test]
fn conv_fusion() {
    written_alike!(ConvFused, ConvFusedOff);
    assert_eq!(
        label_of(ConvFused::DOT, "y"),
        "y\nfused_conv2d: relu(conv2d(x, k, strides=1, padding=same, dilation=1) + b)"
    );
    assert_eq!(
        label_of(ConvFused::DOT, "left"),
        "left\nfused_conv2d: conv2d(x, k, strides=2, padding=valid, dilation=1) + b"
    );
    assert_eq!(
        label_of(ConvFused::DOT, "plain"),
        "plain\nfused_conv2d: tanh(conv2d(x, k, strides=1, padding=same, dilation=2))"
    );
    assert_eq!(
        label_of(ConvFused::DOT, "leaky"),
        "leaky\nfused_conv2d: leaky_relu(conv2d(x, k, strides=1, padding=valid, dilation=1) + b, alpha=0.1)"
    );
    assert_eq!(count(ConvFused::DOT, "fused_conv2d:"), 6);
    assert_eq!(count(ConvFused::DOT, "conv2d("), 0);
    assert_eq!(count(ConvFusedOff::DOT, "fused_conv2d:"), 0);
    let (mut wa, mut wb) = workspaces();
    for case in CASES {
        let mut rng = case.rng();
        let (opt, off) = pair!(ConvFused, ConvFusedOff, &mut rng);
        let (x, z) = (rng.array((case.n, 6, 5, 3)), rng.array((case.n, 5, 4, 16)));
        run_agree!(std ConvFused: opt, off, &mut wa, &mut wb, (x.view(), z.view()), {
            y: ROUNDING,
            left: ROUNDING,
            plain: EXACT,
            leaky: ROUNDING,
            split: ROUNDING,
            kept: ROUNDING,
        });
    }
}

// ---------------------------------------------------------------------------
// Elementwise fusion

// Elementwise fusion of a chain of unary and binary ops with literals.
quads!(FuseChain, FuseChainOff, FuseChainBare, FuseChainBareOff {
    input x: [4, 5];
    output y = tanh(sigmoid(exp(-abs(x)) * 0.5 + 0.25) - 0.5) / 2.0;
});

#[test]
fn fused_chain() {
    written_alike!(FuseChain, FuseChainOff);
    written_alike!(FuseChainBare, FuseChainBareOff);
    for (optimized, reference) in [
        (FuseChain::DOT, FuseChainOff::DOT),
        (FuseChainBare::DOT, FuseChainBareOff::DOT),
    ] {
        assert!(label_of(optimized, "y").starts_with("y\nfused: "));
        assert_eq!((labels(optimized).len(), labels(reference).len()), (2, 14));
    }
    let (mut wa, mut wb) = workspaces();
    let (mut bare_a, mut bare_b) = workspaces();
    for case in CASES {
        let mut rng = case.rng();
        let x = rng.array((4, 5));
        let (opt, off) = (FuseChain::new(), FuseChainOff::new());
        run_agree!(std FuseChain: opt, off, &mut wa, &mut wb, (x.view()), { y: EXACT });
        let x = rng.fill();
        let (opt, off) = (FuseChainBare::new(), FuseChainBareOff::new());
        run_agree!(bare FuseChainBare: opt, off, &mut bare_a, &mut bare_b, (&x), { y: EXACT });
    }
}

// Elementwise fusion of a tree: a leaf read twice, broadcast leaves.
quads!(FuseTree, FuseTreeOff, FuseTreeBare, FuseTreeBareOff {
    input a: [3, 4];
    input b: [3, 4];
    input c: [4];
    input d: [3, 1];
    output y = (a * b - c) / (d + 1.5) + sqrt(abs(a)) * log(abs(b) + 1.0);
});

#[test]
fn fused_tree() {
    written_alike!(FuseTree, FuseTreeOff);
    written_alike!(FuseTreeBare, FuseTreeBareOff);
    for (optimized, reference) in [
        (FuseTree::DOT, FuseTreeOff::DOT),
        (FuseTreeBare::DOT, FuseTreeBareOff::DOT),
    ] {
        assert!(label_of(optimized, "y").starts_with("y\nfused: "));
        assert_eq!(count(optimized, "fused:"), 1);
        assert_eq!(count(reference, "fused:"), 0);
        assert_eq!(count(optimized, "add") + count(optimized, "sqrt"), 0);
    }
    let (mut wa, mut wb) = workspaces();
    let (mut bare_a, mut bare_b) = workspaces();
    for case in CASES {
        let mut rng = case.rng();
        let (a, b, c, d) = (
            rng.array((3, 4)),
            rng.array((3, 4)),
            rng.array(4),
            rng.array((3, 1)),
        );
        let (opt, off) = (FuseTree::new(), FuseTreeOff::new());
        run_agree!(std FuseTree: opt, off, &mut wa, &mut wb, (a.view(), b.view(), c.view(), d.view()), { y: EXACT });
        let (a, b, c, d) = (rng.fill(), rng.fill(), rng.fill(), rng.fill());
        let (opt, off) = (FuseTreeBare::new(), FuseTreeBareOff::new());
        run_agree!(bare FuseTreeBare: opt, off, &mut bare_a, &mut bare_b, (&a, &b, &c, &d), { y: EXACT });
    }
}

// Elementwise fusion of seven leaves: more than one fused kernel takes.
twins!(FuseWide, FuseWideOff {
    input a: [n, 3];
    input b: [n, 3];
    input c: [n, 3];
    input d: [n, 3];
    input e: [n, 3];
    input f: [n, 3];
    input h: [n, 3];
    output total = a + b + c + d + e + f + h;
    output mixed = (a * b - c) / d + relu(e - f) * h * a - 2.0;
});

#[test]
fn fused_wide_trees() {
    written_alike!(FuseWide, FuseWideOff);
    // Every op is in some fused node, and each tree needs more than one.
    assert!(count(FuseWide::DOT, "fused:") >= 4, "{}", FuseWide::DOT);
    for op in ["add", "sub", "mul", "div", "relu"] {
        assert_eq!(count(FuseWide::DOT, op), 0, "{op}");
    }
    assert_eq!(count(FuseWideOff::DOT, "add"), 7);
    let (mut wa, mut wb) = workspaces();
    for case in CASES {
        let mut rng = case.rng();
        let l: Vec<_> = (0..7).map(|_| rng.array((case.n, 3))).collect();
        let (opt, off) = (FuseWide::new(), FuseWideOff::new());
        run_agree!(std FuseWide: opt, off, &mut wa, &mut wb,
            (l[0].view(), l[1].view(), l[2].view(), l[3].view(), l[4].view(), l[5].view(), l[6].view()), {
            total: EXACT,
            mixed: EXACT,
        });
    }
}

// Elementwise fusion over broadcast leaves: a row, a column, a scalar input
// and an array constant, five leaves.
twins!(FuseBroadcast, FuseBroadcastOff {
    input x: [n, 4];
    input row: [4];
    input column: [n, 1];
    input s: [];
    output y = softmax(x) * row + column * s - [0.5, 1.0, 1.5, 2.0];
    output z = (x - s) * (x + s) / column;
});

#[test]
fn fused_broadcast_leaves() {
    written_alike!(FuseBroadcast, FuseBroadcastOff);
    assert_eq!(
        label_of(FuseBroadcast::DOT, "y"),
        "y\nfused: ((#0 * row) + (column * s)) - #4"
    );
    assert_eq!(
        label_of(FuseBroadcast::DOT, "z"),
        "z\nfused: ((x - s) * (x + s)) / column"
    );
    assert_eq!(count(FuseBroadcastOff::DOT, "fused:"), 0);
    let (mut wa, mut wb) = workspaces();
    for case in CASES {
        let mut rng = case.rng();
        let (x, row, column, s) = (
            rng.array((case.n, 4)),
            rng.array(4),
            rng.array((case.n, 1)),
            rng.value(),
        );
        let (opt, off) = (FuseBroadcast::new(), FuseBroadcastOff::new());
        run_agree!(std FuseBroadcast: opt, off, &mut wa, &mut wb, (x.view(), row.view(), column.view(), s), {
            y: EXACT,
            z: EXACT,
        });
    }
}

// Elementwise fusion leaves scalar arithmetic to plain Rust: scalars are
// leaves of the array trees.
twins!(FuseScalars, FuseScalarsOff {
    input x: [n, 3];
    input s: [];
    input t: [];
    let u = s * t + 1.0;
    output scalar = u / (s - t);
    output y = x * u - s;
    output e = exp(s) + sqrt(t);
});

#[test]
fn fused_around_scalars() {
    written_alike!(FuseScalars, FuseScalarsOff);
    assert_eq!(label_of(FuseScalars::DOT, "u"), "u\nadd");
    assert_eq!(label_of(FuseScalars::DOT, "scalar"), "scalar\ndiv");
    assert_eq!(label_of(FuseScalars::DOT, "y"), "y\nfused: (x * u) - s");
    assert_eq!(count(FuseScalars::DOT, "fused:"), 1);
    let (mut wa, mut wb) = workspaces();
    for case in CASES {
        let mut rng = case.rng();
        let (x, s, t) = (rng.array((case.n, 3)), rng.value(), rng.value());
        let (opt, off) = (FuseScalars::new(), FuseScalarsOff::new());
        run_agree!(std FuseScalars: opt, off, &mut wa, &mut wb, (x.view(), s, t), {
            scalar: EXACT,
            y: EXACT,
            e: EXACT,
        });
    }
}

// Elementwise fusion stops at values with other users and at outputs.
twins!(FuseShared, FuseSharedOff {
    input a: [n, 4];
    input b: [4];
    let shared = a * b;
    output y = relu(shared + 1.0) * shared;
    output doubled = a * 2.0;
    output z = exp(doubled) + 1.0;
});

#[test]
fn fused_trees_keep_shared_values() {
    written_alike!(FuseShared, FuseSharedOff);
    let dot = FuseShared::DOT;
    assert_eq!(label_of(dot, "shared"), "shared\nmul");
    assert_eq!(label_of(dot, "doubled"), "doubled\nmul");
    assert_eq!(label_of(dot, "y"), "y\nfused: relu(shared + 1) * shared");
    assert_eq!(label_of(dot, "z"), "z\nfused: exp(doubled) + 1");
    let (mut wa, mut wb) = workspaces();
    for case in CASES {
        let mut rng = case.rng();
        let (a, b) = (rng.array((case.n, 4)), rng.array(4));
        let (opt, off) = (FuseShared::new(), FuseSharedOff::new());
        run_agree!(std FuseShared: opt, off, &mut wa, &mut wb, (a.view(), b.view()), {
            y: EXACT,
            doubled: EXACT,
            z: EXACT,
        });
    }
}

// Elementwise fusion of every elementwise function and binary op (NaN from
// logs and roots of negatives, on purpose).
twins!(FuseFunctions, FuseFunctionsOff {
    input x: [n, 6];
    input y: [n, 6];
    output smooth = sigmoid(x) + tanh(y) * softplus(x) - gelu_tanh(y) / gelu_exact(x + 0.5);
    output powers = pow(abs(x), 1.5) + square(y) - sqrt(x) * log(y);
    output clipped = clip(x * 3.0, -1.0, 2.0) + leaky_relu(y, alpha = 0.3) - relu(-x) + exp(-square(y));
    output bounds = maximum(x, y) * minimum(x, -y) - neg(abs(x));
});

#[test]
fn fused_functions() {
    written_alike!(FuseFunctions, FuseFunctionsOff);
    for name in ["smooth", "powers", "clipped", "bounds"] {
        assert!(label_of(FuseFunctions::DOT, name).starts_with(&format!("{name}\nfused: ")));
    }
    // `abs(x)` and `square(y)` are each used by two trees (after CSE), so
    // they stay nodes: the leaves `#i` of those trees.
    assert_eq!(count(FuseFunctions::DOT, "fused:"), 4);
    assert_eq!(labels(FuseFunctions::DOT).len(), 8);
    assert_eq!(
        (
            count(FuseFunctions::DOT, "abs"),
            count(FuseFunctions::DOT, "square")
        ),
        (1, 1)
    );
    assert_eq!(count(FuseFunctionsOff::DOT, "fused:"), 0);
    let (mut wa, mut wb) = workspaces();
    for case in CASES {
        let mut rng = case.rng();
        let (x, y) = (rng.array((case.n, 6)), rng.array((case.n, 6)));
        let (opt, off) = (FuseFunctions::new(), FuseFunctionsOff::new());
        run_agree!(std FuseFunctions: opt, off, &mut wa, &mut wb, (x.view(), y.view()), {
            smooth: EXACT,
            powers: EXACT,
            clipped: EXACT,
            bounds: EXACT,
        });
    }
}
