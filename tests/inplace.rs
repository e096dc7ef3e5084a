//! Values computed over the buffer of an operand they read for the last
//! time: elementwise ops over a dying workspace value, and variable updates
//! computed straight into the variable. Each graph checks its values
//! (worked out by hand in the comments) and, where in-place execution
//! shrinks it, `WORKSPACE_BYTES` against the size the workspace would have
//! without it.

use ndarray::{array, Array1, Array2};
use staticflow::graph;

/// Relative tolerance for values through `exp`, which is not exact.
const TOLERANCE: f32 = 1e-6;

fn assert_close(actual: &Array2<f32>, expected: &Array2<f32>) {
    assert_eq!(actual.shape(), expected.shape());
    for (a, e) in actual.iter().zip(expected) {
        assert!(
            (a - e).abs() <= TOLERANCE * e.abs().max(1.0),
            "{actual} is not {expected}"
        );
    }
}

graph! {
    /// A chain broken by a matrix product: `relu` fuses into the product, and
    /// `exp(b) * 2.0` is one fused node reading `b` for the last time.
    struct Head {
        input x: [2, 3];
        var w: [3, 3];
        let a = matmul(x, w);
        let b = relu(a);
        output c = exp(b) * 2.0;
    }
}

#[test]
fn a_fused_tail_overwrites_the_product() {
    let head = Head::new(Array2::eye(3)).unwrap();
    let x = array![[1.0_f32, -2.0, 0.5], [0.0, 1.0, -1.0]];
    // x·I = x; relu: [[1, 0, 0.5], [0, 1, 0]]; 2·e^b.
    let e = 1.0_f32.exp();
    let expected = array![[2.0 * e, 2.0, 2.0 * 0.5_f32.exp()], [2.0, 2.0 * e, 2.0]];
    assert_close(&head.c(x.view()).unwrap(), &expected);
    // A reused workspace: each call recomputes `b` before overwriting it.
    let mut workspace = HeadWorkspace::default();
    for _ in 0..3 {
        assert_close(
            &head.c_with(&mut workspace, x.view()).unwrap().to_owned(),
            &expected,
        );
    }
    // Without in-place: `b` (the dense product) and `c` in two slots of
    // 2·3 floats, 2·6·4 = 48 bytes. With it, `c` takes `b`'s slot: 24.
    assert_eq!(Head::WORKSPACE_BYTES, 24);
}

graph! {
    /// `h` is read twice, so `softmax(h)` cannot overwrite it; the last node
    /// reads both `p` and `h` for the last time and overwrites `p`.
    struct Residual {
        input x: [2, 4];
        var w: [4, 4];
        let h = matmul(x, w);
        let p = softmax(h);
        output y = p * h + h;
    }
}

#[test]
fn a_value_read_twice_survives_until_its_last_reader() {
    let residual = Residual::new(Array2::ones((4, 4))).unwrap();
    let x = array![[1.0_f32, 2.0, 3.0, 4.0], [0.0, 0.0, 0.0, 1.0]];
    // w is all ones: h's rows are the row sums, [10; 4] and [1; 4]. Their
    // softmax is 1/4 everywhere (exactly: e⁰ / 4), so y = h/4 + h = 1.25·h.
    let expected = array![[12.5_f32, 12.5, 12.5, 12.5], [1.25, 1.25, 1.25, 1.25]];
    assert_eq!(residual.y(x.view()).unwrap(), expected);
    let mut workspace = ResidualWorkspace::default();
    residual.y_with(&mut workspace, x.view()).unwrap();
    assert_eq!(residual.y_with(&mut workspace, x.view()).unwrap(), expected);
    // Without in-place: h, p and y each in a slot of 2·4 floats, 3·8·4 = 96
    // bytes. With it, y overwrites p: 2·8·4 = 64.
    assert_eq!(Residual::WORKSPACE_BYTES, 64);
}

graph! {
    /// Each elementwise op overwrites the transpose it reads: its right
    /// operand, both its operands, an operand of `maximum`.
    struct Sides {
        input x: [2, 2];
        let s = transpose(x);
        let r = 10.0 - s;
        let t = transpose(r);
        let u = t * t;
        let v = transpose(u);
        output m = maximum(v, 50.0);
    }
}

#[test]
fn the_overwritten_operand_may_be_on_either_side() {
    let x = array![[1.0_f32, 2.0], [3.0, 4.0]];
    // s = [[1, 3], [2, 4]]; r = 10 - s = [[9, 7], [8, 6]];
    // t = [[9, 8], [7, 6]]; u = t² = [[81, 64], [49, 36]];
    // v = [[81, 49], [64, 36]]; max(v, 50) = [[81, 50], [64, 50]].
    assert_eq!(
        Sides::new().m(x.view()).unwrap(),
        array![[81.0, 50.0], [64.0, 50.0]]
    );
}

graph! {
    /// Symbolic batch size: one slot, sized by the largest batch seen.
    struct Batch {
        input x: [n, 2];
        let s = softmax(x);
        output y = s * 4.0 - 1.0;
    }
}

#[test]
fn in_place_works_for_any_batch_size() {
    let batch = Batch::new();
    let mut workspace = BatchWorkspace::default();
    // Rows of equal entries: softmax 1/2 each, y = 4·1/2 - 1 = 1.
    let large = Array2::<f32>::zeros((5, 2));
    assert_eq!(
        batch.y_with(&mut workspace, large.view()).unwrap(),
        Array2::<f32>::ones((5, 2))
    );
    // [ln 3, 0]: softmax [3/4, 1/4]; y = [2, 0].
    let small = array![[3.0_f32.ln(), 0.0]];
    let y = batch.y_with(&mut workspace, small.view()).unwrap();
    assert!((y[[0, 0]] - 2.0).abs() < TOLERANCE && y[[0, 1]].abs() < TOLERANCE);
}

graph! {
    /// One step of gradient descent, computed in the variable.
    struct Sgd {
        input g: [2, 3];
        input lr: [];
        var w: [2, 3];
        w = w - lr * g;
    }
}

#[test]
fn an_update_is_computed_in_the_variable() {
    let mut sgd = Sgd::new(array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]).unwrap();
    let g = array![[2.0_f32, 2.0, 2.0], [-2.0, -2.0, -2.0]];
    // w - 0.5·g: [[0, 1, 2], [5, 6, 7]], then [[-1, 0, 1], [6, 7, 8]].
    sgd.update(g.view(), 0.5).unwrap();
    assert_eq!(sgd.w(), array![[0.0, 1.0, 2.0], [5.0, 6.0, 7.0]]);
    let mut workspace = SgdWorkspace::default();
    sgd.update_with(&mut workspace, g.view(), 0.5).unwrap();
    assert_eq!(sgd.w(), array![[-1.0, 0.0, 1.0], [6.0, 7.0, 8.0]]);
    // Without in-place, the new value goes to a slot of 2·3 floats and is
    // copied into `w`: 24 bytes. With it, no slot at all.
    assert_eq!(Sgd::WORKSPACE_BYTES, 0);
}

graph! {
    /// `v`'s new value reads `w`'s current one after `w - g` is computed:
    /// `w - g` must not overwrite `w`.
    struct Coupled {
        input g: [3];
        var w: [3];
        var v: [3];
        w = w - g;
        v = v + w;
    }
}

graph! {
    /// The same updates, declared the other way round.
    struct CoupledReversed {
        input g: [3];
        var w: [3];
        var v: [3];
        v = v + w;
        w = w - g;
    }
}

#[test]
fn every_update_reads_the_current_values() {
    let g = array![1.0_f32, 1.0, 1.0];
    // w = [1, 2, 3] - 1 = [0, 1, 2]; v = [10, 20, 30] + [1, 2, 3] (the
    // current w) = [11, 22, 33].
    let mut coupled = Coupled::new(array![1.0, 2.0, 3.0], array![10.0, 20.0, 30.0]).unwrap();
    coupled.update(g.view()).unwrap();
    assert_eq!(coupled.w(), array![0.0, 1.0, 2.0]);
    assert_eq!(coupled.v(), array![11.0, 22.0, 33.0]);
    let mut reversed =
        CoupledReversed::new(array![1.0, 2.0, 3.0], array![10.0, 20.0, 30.0]).unwrap();
    reversed.update(g.view()).unwrap();
    assert_eq!(reversed.w(), array![0.0, 1.0, 2.0]);
    assert_eq!(reversed.v(), array![11.0, 22.0, 33.0]);
}

graph! {
    /// Updates whose new values are other variables, an input and a scalar.
    struct Swap {
        input x: [2];
        var a: [2];
        var b: [2];
        var c: [2];
        var d: [];
        var e: [];
        a = b;
        b = a;
        c = x;
        d = e;
        e = d;
    }
}

#[test]
fn swaps_read_the_values_before_any_store() {
    let mut swap = Swap::new(
        array![1.0, 2.0],
        array![3.0, 4.0],
        Array1::zeros(2),
        5.0,
        6.0,
    )
    .unwrap();
    let mut workspace = SwapWorkspace::default();
    swap.update_with(&mut workspace, array![7.0, 8.0].view())
        .unwrap();
    assert_eq!(swap.a(), array![3.0, 4.0]);
    assert_eq!(swap.b(), array![1.0, 2.0]);
    assert_eq!(swap.c(), array![7.0, 8.0]);
    assert_eq!((swap.d(), swap.e()), (6.0, 5.0));
    swap.update_with(&mut workspace, array![9.0, 9.0].view())
        .unwrap();
    assert_eq!(swap.a(), array![1.0, 2.0]);
    assert_eq!(swap.b(), array![3.0, 4.0]);
    // `a` and `b` are copied into two slots of 2 floats before the stores:
    // 2·2·4 = 16 bytes (`c` is copied straight from the input).
    assert_eq!(Swap::WORKSPACE_BYTES, 16);
}

graph! {
    /// Linear regression: the error overwrites the prediction, the
    /// gradient step is computed in `w`, the loss is an output.
    struct Regression {
        input x: [4, 2];
        input y: [4];
        input lr: [];
        var w: [2];
        let error = matmul(x, w) - y;
        output loss = sum(error * error);
        w = w - lr * matmul(transpose(x), error);
    }
}

#[test]
fn a_training_step_with_a_loss() {
    let mut regression = Regression::new(array![1.0, 1.0]).unwrap();
    let x = array![[1.0_f32, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 0.0]];
    let y = array![0.0_f32, 2.0, 2.0, 2.0];
    // x·w = [1, 1, 2, 2]; error = [1, -1, 0, 0]; loss = 1 + 1 = 2.
    assert_eq!(regression.loss(x.view(), y.view()).unwrap(), 2.0);
    // xᵀ·error = [1·1 + 1·0 + 2·0, -1·1 + 1·0] = [1, -1];
    // w - 0.5·[1, -1] = [0.5, 1.5].
    let mut workspace = RegressionWorkspace::default();
    regression
        .update_with(&mut workspace, x.view(), y.view(), 0.5)
        .unwrap();
    assert_eq!(regression.w(), array![0.5, 1.5]);
    // x·w = [0.5, 1.5, 2, 1]; error = [0.5, -0.5, 0, -1]; loss = 1.5.
    assert_eq!(regression.loss(x.view(), y.view()).unwrap(), 1.5);
}

graph! {
    /// Every unary op over a transpose it reads for the last time (each
    /// transpose its own, through a distinct offset, so that none is shared).
    struct Unaries {
        input x: [2, 2];
        output neg = -transpose(x + 1.0);
        output abs = abs(transpose(x + 2.0));
        output exp = exp(transpose(x + 3.0));
        output log = log(transpose(x + 4.0));
        output sqrt = sqrt(transpose(x + 5.0));
        output square = square(transpose(x + 6.0));
        output relu = relu(transpose(x - 7.0));
        output sigmoid = sigmoid(transpose(x + 8.0));
        output tanh = tanh(transpose(x - 9.0));
        output gelu_tanh = gelu_tanh(transpose(x + 10.0));
        output gelu_exact = gelu_exact(transpose(x - 11.0));
        output softplus = softplus(transpose(x + 12.0));
        output pow = pow(transpose(x + 13.0), 3.0);
        output leaky_relu = leaky_relu(transpose(x - 14.0), alpha = 0.5);
        output clip = clip(transpose(x + 15.0), 15.0, 16.0);
    }
}

#[test]
fn every_unary_op_runs_in_place() {
    use staticflow::kernels::unary;
    let x = array![[0.5_f32, -1.0], [2.0, 1.5]];
    let out = Unaries::new().run(x.view()).unwrap();
    // The transpose of x + c, by hand.
    let t = |c: f32| array![[0.5 + c, 2.0 + c], [-1.0 + c, 1.5 + c]];
    // Exact ones by hand: -(xᵀ + 1); |xᵀ + 2|; (xᵀ + 6)²; relu(xᵀ - 7) = 0;
    // (xᵀ + 13)³; xᵀ - 14 < 0, halved; xᵀ + 15 clipped to [15, 16].
    assert_eq!(out.neg, array![[-1.5, -3.0], [0.0, -2.5]]);
    assert_eq!(out.abs, array![[2.5, 4.0], [1.0, 3.5]]);
    assert_eq!(out.square, array![[42.25, 64.0], [25.0, 56.25]]);
    assert_eq!(out.relu, Array2::<f32>::zeros((2, 2)));
    assert_eq!(out.pow, t(13.0).mapv(|v| v * v * v));
    assert_eq!(out.leaky_relu, array![[-6.75, -6.0], [-7.5, -6.25]]);
    assert_eq!(out.clip, array![[15.5, 16.0], [15.0, 16.0]]);
    // The others against the allocating kernels, which compute into a
    // fresh array rather than in place.
    assert_eq!(out.exp, unary::exp(t(3.0).view()));
    assert_eq!(out.log, unary::log(t(4.0).view()));
    assert_eq!(out.sqrt, unary::sqrt(t(5.0).view()));
    assert_eq!(out.sigmoid, unary::sigmoid(t(8.0).view()));
    assert_eq!(out.tanh, unary::tanh(t(-9.0).view()));
    assert_eq!(out.gelu_tanh, unary::gelu_tanh(t(10.0).view()));
    assert_eq!(out.gelu_exact, unary::gelu_exact(t(-11.0).view()));
    assert_eq!(out.softplus, unary::softplus(t(12.0).view()));
}

graph! {
    /// A fused tree of five leaves, one of them overwritten.
    struct Wide {
        input logits: [2, 2];
        input scale: [2, 2];
        input row: [2];
        input column: [2, 1];
        input shift: [];
        output y = softmax(logits) * scale + row * column - shift;
    }
}

#[test]
fn a_wide_fused_tree_runs_in_place() {
    let logits = Array2::<f32>::zeros((2, 2));
    let scale = array![[2.0_f32, 4.0], [6.0, 8.0]];
    let row = array![1.0_f32, 10.0];
    let column = array![[1.0_f32], [2.0]];
    // softmax of equal entries: 1/2. y[i, j] = scale[i, j]/2 + row[j]·column[i] - 3:
    // [[1 + 1 - 3, 2 + 10 - 3], [3 + 2 - 3, 4 + 20 - 3]].
    let y = Wide::new()
        .y(logits.view(), scale.view(), row.view(), column.view(), 3.0)
        .unwrap();
    assert_eq!(y, array![[-1.0, 9.0], [2.0, 21.0]]);
    // One slot: the softmax, then y over it.
    assert_eq!(Wide::WORKSPACE_BYTES, 4 * 4);
}

graph! {
    /// Each way of storing an update: in a slot (`b`, whose current value
    /// `a` takes), in place (`w`), through a copy (`a`).
    struct Train {
        input g: [3];
        input lr: [];
        var a: [3];
        var b: [3];
        var w: [3];
        b = b + w;
        w = w - lr * g;
        a = b;
    }
}

#[test]
fn mixed_updates_read_the_current_values() {
    let mut train = Train::new(
        array![0.0, 0.0, 0.0],
        array![1.0, 2.0, 3.0],
        array![10.0, 20.0, 30.0],
    )
    .unwrap();
    let mut workspace = TrainWorkspace::default();
    train
        .update_with(&mut workspace, array![4.0, 4.0, 4.0].view(), 0.5)
        .unwrap();
    // b = [1, 2, 3] + [10, 20, 30]; w = [10, 20, 30] - 0.5·4; a = old b.
    assert_eq!(train.b(), array![11.0, 22.0, 33.0]);
    assert_eq!(train.w(), array![8.0, 18.0, 28.0]);
    assert_eq!(train.a(), array![1.0, 2.0, 3.0]);
    // Slot 0 holds b + w, slot 1 the copy of b: 2·3·4 = 24 bytes.
    assert_eq!(Train::WORKSPACE_BYTES, 24);
}
