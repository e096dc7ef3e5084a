//! `#[no_std]` graphs compute what the same graph computes on the std path.
//!
//! Each graph is written twice, once `#[no_std]` (fixed-size arrays, slice
//! kernels) and once on ndarray, whose kernels are checked against numpy in
//! `graph-runtime/tests`; the two must agree on every op the `#[no_std]`
//! path supports. Where a value is easy by hand, it is checked by hand too.

use staticflow::graph;
use staticflow::ndarray::{array, Array, ArrayView, Dimension};

/// Norm-wise relative difference between two results of the same shape.
#[allow(clippy::needless_pass_by_value)] // Views are passed by value, as ndarray does.
fn close<D: Dimension>(bare: &[f32], std: ArrayView<'_, f32, D>) {
    let std: Vec<f32> = std.iter().copied().collect();
    assert_eq!(bare.len(), std.len());
    let norm = std.iter().map(|v| v * v).sum::<f32>().sqrt().max(1.0);
    let diff = bare
        .iter()
        .zip(&std)
        .map(|(a, b)| (a - b) * (a - b))
        .sum::<f32>()
        .sqrt();
    assert!(diff <= 1e-6 * norm, "{bare:?} vs {std:?}");
}

macro_rules! twice {
    ($bare:ident, $std:ident { $($body:tt)* }) => {
        graph! {
            #[no_std]
            struct $bare { $($body)* }
        }
        graph! {
            struct $std { $($body)* }
        }
    };
}

twice!(ElementwiseBare, ElementwiseStd {
    input x: [2, 3];
    input row: [3];
    input column: [2, 1];
    output fused = sigmoid(x * row + column) - tanh(x) / 2.0;
    output unfused = maximum(exp(x), row);
    output powers = pow(abs(x), 1.5) + softplus(x) + gelu_tanh(x) + gelu_exact(x) + erf(x) + leaky_relu(x, 0.1);
    output clipped = clip(x + column, -1.0, 2.0);
    output mask = gt(x, row);
    output chosen = select(gt(x, 0.5), x, row);
});

#[test]
fn elementwise_broadcasting_and_fusion() {
    let x = [[0.5_f32, -1.0, 2.0], [1.5, 0.0, -0.25]];
    let row = [1.0_f32, -2.0, 0.75];
    let column = [[0.1_f32], [-0.3]];
    let bare = ElementwiseBare::new().run(&x, &row, &column);
    let xs = Array::from_shape_vec((2, 3), x.as_flattened().to_vec()).unwrap();
    let rows = Array::from_vec(row.to_vec());
    let columns = Array::from_shape_vec((2, 1), column.as_flattened().to_vec()).unwrap();
    let std = ElementwiseStd::new()
        .run(xs.view(), rows.view(), columns.view())
        .unwrap();
    close(bare.fused.as_flattened(), std.fused.view());
    close(bare.unfused.as_flattened(), std.unfused.view());
    close(bare.powers.as_flattened(), std.powers.view());
    close(bare.clipped.as_flattened(), std.clipped.view());
    assert_eq!(bare.mask.as_flattened(), std.mask.as_slice().unwrap());
    assert_eq!(bare.mask, [[false, true, true], [true, true, false]]);
    assert_eq!(bare.chosen, [[1.0, -2.0, 2.0], [1.5, -2.0, 0.75]]);
}

twice!(ReduceBare, ReduceStd {
    input x: [2, 3, 4];
    output all = sum(x);
    output rows = mean(x, axis = 2);
    output outer = max(x, axis = [0, 2]);
    output kept = min(x, axis = 1, keep_dims = true);
    output best = argmax(x, axis = 1);
    output p = softmax(x, axis = 0);
    output lp = log_softmax(x);
    output lse = logsumexp(x, axis = 1);
});

#[test]
fn reductions_and_the_softmax_family_along_every_axis() {
    let x: [[[f32; 4]; 3]; 2] = std::array::from_fn(|a| {
        std::array::from_fn(|b| {
            std::array::from_fn(|c| ((a * 12 + b * 4 + c) as f32 * 0.7).sin() * 3.0)
        })
    });
    let bare = ReduceBare::new().run(&x);
    let xs = Array::from_shape_vec((2, 3, 4), x.as_flattened().as_flattened().to_vec()).unwrap();
    let std = ReduceStd::new().run(xs.view()).unwrap();
    let expected_sum: f32 = x.as_flattened().as_flattened().iter().sum();
    assert!((bare.all - expected_sum).abs() < 1e-5);
    close(&[bare.all], staticflow::ndarray::aview0(&std.all));
    close(bare.rows.as_flattened(), std.rows.view());
    close(&bare.outer, std.outer.view());
    close(bare.kept.as_flattened().as_flattened(), std.kept.view());
    assert_eq!(bare.best.as_flattened(), std.best.as_slice().unwrap());
    close(bare.p.as_flattened().as_flattened(), std.p.view());
    close(bare.lp.as_flattened().as_flattened(), std.lp.view());
    close(bare.lse.as_flattened(), std.lse.view());
}

twice!(MovementBare, MovementStd {
    input x: [2, 3];
    input y: [3, 2];
    output t = transpose(x);
    output p = permute(expand_dims(x, axis = 0), [2, 0, 1]);
    output r = reshape(x, [3, 2]);
    output b = broadcast_to(reshape(x, [2, 1, 3]), [2, 4, 3]);
    output s = slice(x, axis = 1, start = 1, end = 3);
    output c = concat([x, transpose(y)], axis = 0);
    output q = squeeze(reshape(x, [1, 6]));
    output m = matmul(x, y);
    output v = matmul(slice(x, axis = 0, start = 0, end = 1), y);
    output d = matmul(squeeze(slice(x, axis = 0, start = 1, end = 2)), slice(y, axis = 1, start = 0, end = 1));
    output padded = pad(x, [[1, 0], [0, 2]], value = -1.0);
    output pooled = max(pad(transpose(x), [[0, 1], [1, 0]], value = -3.4028235e38), axis = 0);
});

#[test]
fn movement_ops_and_products() {
    let x = [[1.0_f32, 2.0, 3.0], [4.0, 5.0, 6.0]];
    let y = [[1.0_f32, -1.0], [0.5, 2.0], [-3.0, 0.25]];
    let bare = MovementBare::new().run(&x, &y);
    let xs = array![[1.0_f32, 2.0, 3.0], [4.0, 5.0, 6.0]];
    let ys = array![[1.0_f32, -1.0], [0.5, 2.0], [-3.0, 0.25]];
    let std = MovementStd::new().run(xs.view(), ys.view()).unwrap();
    assert_eq!(bare.t, [[1.0, 4.0], [2.0, 5.0], [3.0, 6.0]]);
    assert_eq!(bare.s, [[2.0, 3.0], [5.0, 6.0]]);
    assert_eq!(bare.m, [[-7.0, 3.75], [-11.5, 7.5]]);
    close(bare.p.as_flattened().as_flattened(), std.p.view());
    close(bare.r.as_flattened(), std.r.view());
    close(bare.b.as_flattened().as_flattened(), std.b.view());
    close(bare.c.as_flattened(), std.c.view());
    close(&bare.q, std.q.view());
    close(bare.v.as_flattened(), std.v.view());
    close(bare.d.as_slice(), std.d.view());
    assert_eq!(
        bare.padded,
        [
            [-1.0, -1.0, -1.0, -1.0, -1.0],
            [1.0, 2.0, 3.0, -1.0, -1.0],
            [4.0, 5.0, 6.0, -1.0, -1.0]
        ]
    );
    close(bare.padded.as_flattened(), std.padded.view());
    // The lowest f32 never wins a max against a value: the padded row drops
    // out, and the padded column, all pad, keeps it.
    assert_eq!(bare.pooled, [-3.402_823_5e38, 3.0, 6.0]);
    assert_eq!(std.pooled.as_slice().unwrap(), bare.pooled);
}

graph! {
    /// Variables as arrays, a scalar input, and plain scalar arithmetic.
    #[no_std]
    struct Affine {
        input x: [1, 3];
        input scale: [];
        var w: [3, 2];
        var b: [2];
        const offset = 0.5;
        output y = relu(matmul(x, w) + b) * scale + offset;
        output total = sum(y) * scale - offset;
    }
}

#[test]
fn variables_scalars_and_the_workspace() {
    let mut affine = Affine::new([[1.0, 0.0], [0.0, 1.0], [1.0, -1.0]], [0.5, -10.0]);
    let x = [[1.0_f32, 2.0, 3.0]];
    // x·w + b = [1 + 3 + 0.5, 2 - 3 - 10] = [4.5, -11]; relu, ·2, + 0.5.
    assert_eq!(affine.y(&x, 2.0), [[9.5, 0.5]]);
    assert_eq!(affine.total(&x, 2.0), (9.5 + 0.5) * 2.0 - 0.5);
    let mut workspace = AffineWorkspace::new();
    affine.set_b([0.0, 0.0]);
    assert_eq!(affine.b(), &[0.0, 0.0]);
    affine.w_mut()[0][0] = 2.0;
    assert_eq!(affine.y_with(&mut workspace, &x, 1.0), [[5.5, 0.5]]);
    // One slot of two floats: the dense layer's [1, 2] result, then reused
    // for the scalar `sum(y)`; `y` itself is returned, in no slot.
    assert_eq!(Affine::WORKSPACE_BYTES, 2 * 4);
    assert!(Affine::DOT.starts_with("digraph \"Affine\""));
}

macro_rules! dropped {
    ($(#[$attr:meta])* $name:ident) => {
        graph! {
            /// `dropout` outside a training step, which `#[no_std]` graphs
            /// lack: the identity, between ops and as an output of an input.
            #[no_std]
            $(#[$attr])*
            struct $name {
                input x: [2, 3];
                var w: [3, 2];
                output y = matmul(dropout(x, rate = 0.5, seed = 1), w);
                output same = dropout(x, rate = 0.9, seed = 2);
                output doubled = dropout(x * 2.0, rate = 0.1, seed = 3);
            }
        }
    };
}

dropped!(Dropped);
dropped!(
    #[optimize(off)]
    DroppedPlain
);

#[test]
fn dropout_is_the_identity() {
    let x = [[1.0_f32, -2.0, 3.0], [0.5, 0.0, f32::NAN]];
    let w = [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]];
    let bits = |a: [[f32; 3]; 2]| {
        a.as_flattened()
            .iter()
            .map(|v| v.to_bits())
            .collect::<Vec<_>>()
    };
    let doubled = x.map(|row| row.map(|v| v * 2.0));
    let optimized = Dropped::new(w).run(&x);
    let plain = DroppedPlain::new(w).run(&x);
    let both = [
        (optimized.y, optimized.same, optimized.doubled),
        (plain.y, plain.same, plain.doubled),
    ];
    for (y, same, twice) in both {
        assert_eq!(bits(same), bits(x));
        assert_eq!(bits(twice), bits(doubled));
        assert_eq!(y[0], [4.0, 1.0]);
        assert!(y[1][0].is_nan() && y[1][1].is_nan());
    }
    // The optimizer removed the dropouts between ops; the output of an input
    // is a copy.
    assert!(!Dropped::DOT.contains("seed=1"), "{}", Dropped::DOT);
    assert!(!Dropped::DOT.contains("seed=3"), "{}", Dropped::DOT);
    assert!(Dropped::DOT.contains("seed=2"));
    assert!(DroppedPlain::DOT.contains("seed=1"));
}
