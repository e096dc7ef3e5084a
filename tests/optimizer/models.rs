//! Realistic models, where every rewrite meets the others: an MLP trained
//! with softmax cross-entropy, a CNN, a normalised residual block, an
//! embedding classifier, attention, and reductions, movement ops and masks.

use staticflow::ndarray::Array2;

use crate::{count, label_of, workspaces, CASES, EXACT, ROUNDING};

// An MLP trained by hand-written backpropagation through softmax
// cross-entropy (both label forms): dense layers, CSE of the softmax, fused
// gradients and updates in the variables.
twins!(MlpTraining, MlpTrainingOff {
    input x: [n, 4];
    input onehot: [n, 3];
    input labels: [n] as usize;
    input lr: [];
    input inv_n: [];
    var w1: [4, 8];
    var b1: [8];
    var w2: [8, 3];
    var b2: [3];
    let h = relu(matmul(x, w1) + b1);
    let logits = matmul(h, w2) + b2;
    output probabilities = softmax(logits);
    output loss = mean(softmax_cross_entropy(logits, onehot));
    output loss_by_index = mean(softmax_cross_entropy(logits, labels));
    let dlogits = (softmax(logits) - onehot) * inv_n;
    let dh = select(gt(h, 0.0), matmul(dlogits, transpose(w2)), 0.0);
    w2 = w2 - lr * matmul(transpose(h), dlogits);
    b2 = b2 - lr * sum(dlogits, axis = 0);
    w1 = w1 - lr * matmul(transpose(x), dh);
    b1 = b1 - lr * sum(dh, axis = 0);
});

#[test]
fn mlp_training() {
    written_alike!(MlpTraining, MlpTrainingOff);
    assert_eq!(
        label_of(MlpTraining::DOT, "h"),
        "h\ndense: relu(matmul(x, w1) + b1)"
    );
    assert_eq!(
        label_of(MlpTraining::DOT, "logits"),
        "logits\ndense: matmul(h, w2) + b2"
    );
    assert_eq!(
        (
            count(MlpTraining::DOT, "softmax("),
            count(MlpTrainingOff::DOT, "softmax(")
        ),
        (1, 2)
    );
    assert!(
        count(MlpTraining::DOT, "fused:") >= 4,
        "{}",
        MlpTraining::DOT
    );
    let (mut ra, mut rb) = workspaces();
    for case in CASES {
        let mut rng = case.rng();
        let (mut opt, mut off) = pair!(MlpTraining, MlpTrainingOff, &mut rng);
        let initial = off.to_safetensors_bytes();
        let (mut wa, mut wb) = workspaces();
        let n = case.n;
        #[allow(clippy::cast_precision_loss)]
        let inv_n = 1.0 / n as f32;
        for step in 0..4_usize {
            let x = rng.array((n, 4));
            let labels = rng.indices(n, 3);
            let onehot =
                Array2::from_shape_fn((n, 3), |(i, j)| f32::from(u8::from(labels[i] == j)));
            // Dense layers (and products with the reordered sums downstream): `ROUNDING`.
            run_agree!(std MlpTraining: opt, off, &mut ra, &mut rb, (x.view(), onehot.view(), labels.view()), {
                probabilities: ROUNDING,
                loss: ROUNDING,
                loss_by_index: ROUNDING,
            });
            update_both!(
                step,
                opt,
                off,
                &mut wa,
                &mut wb,
                (x.view(), onehot.view(), 0.5, inv_n)
            );
            variables_agree!(ROUNDING, opt, off);
        }
        assert_ne!(off.to_safetensors_bytes(), initial);
    }
}

// MLP inference on both paths: two dense layers, softmax, log-softmax,
// argmax.
quads!(Mlp, MlpOff, MlpBare, MlpBareOff {
    input x: [2, 8];
    var w1: [8, 16];
    var b1: [16];
    var w2: [16, 4];
    var b2: [4];
    let h = relu(matmul(x, w1) + b1);
    let logits = matmul(h, w2) + b2;
    output probabilities = softmax(logits);
    output log_probabilities = log_softmax(logits);
    output class = argmax(logits);
});

#[test]
fn mlp_inference() {
    written_alike!(Mlp, MlpOff);
    written_alike!(MlpBare, MlpBareOff);
    for (optimized, reference) in [(Mlp::DOT, MlpOff::DOT), (MlpBare::DOT, MlpBareOff::DOT)] {
        assert_eq!(
            label_of(optimized, "h"),
            "h\ndense: relu(matmul(x, w1) + b1)"
        );
        assert_eq!(
            label_of(optimized, "logits"),
            "logits\ndense: matmul(h, w2) + b2"
        );
        assert_eq!(count(reference, "dense:"), 0);
    }
    let (mut wa, mut wb) = workspaces();
    let (mut bare_a, mut bare_b) = workspaces();
    for case in CASES {
        let mut rng = case.rng();
        let (opt, off) = pair!(Mlp, MlpOff, &mut rng);
        let x = rng.array((2, 8));
        // `class` exactly: a rounding could only flip it between logits
        // within 1e-6 of each other, which these seeds do not draw.
        run_agree!(std Mlp: opt, off, &mut wa, &mut wb, (x.view()), {
            probabilities: ROUNDING,
            log_probabilities: ROUNDING,
            class: EXACT,
        });
        let (w1, b1, w2, b2) = (rng.fill(), rng.fill(), rng.fill(), rng.fill());
        let (opt, off) = (
            MlpBare::new(w1, b1, w2, b2),
            MlpBareOff::new(w1, b1, w2, b2),
        );
        let x = rng.fill();
        run_agree!(bare MlpBare: opt, off, &mut bare_a, &mut bare_b, (&x), {
            probabilities: ROUNDING,
            log_probabilities: ROUNDING,
            class: EXACT,
        });
    }
}

// A small CNN: convolutions (same and valid padding) with their bias and
// relu fused in, max and average pools, a mean, and a dense softmax head.
twins!(Cnn, CnnOff {
    input x: [n, 64];
    var k1: [3, 3, 1, 4];
    var c1: [4];
    var k2: [3, 3, 4, 6];
    var c2: [6];
    var w: [6, 5];
    var b: [5];
    let images = reshape(x, [n, 8, 8, 1]);
    let a1 = relu(conv2d(images, k1, padding = same) + c1);
    let p1: [n, 4, 4, 4] = max_pool2d(a1, window = 2);
    let a2: [n, 2, 2, 6] = relu(conv2d(p1, k2, padding = valid) + c2);
    let p2: [n, 1, 1, 6] = avg_pool2d(a2, window = 3, strides = 2, padding = same);
    output features = reshape(p2, [n, 6]);
    output pooled = mean(a2, axis = [1, 2]);
    output probabilities = softmax(matmul(pooled, w) + b);
});

#[test]
fn cnn() {
    written_alike!(Cnn, CnnOff);
    assert_eq!(
        label_of(Cnn::DOT, "a1"),
        "a1\nfused_conv2d: relu(conv2d(images, k1, strides=1, padding=same, dilation=1) + c1)"
    );
    assert_eq!(
        label_of(Cnn::DOT, "a2"),
        "a2\nfused_conv2d: relu(conv2d(p1, k2, strides=1, padding=valid, dilation=1) + c2)"
    );
    assert_eq!(count(Cnn::DOT, "dense: matmul(pooled, w) + b"), 1);
    let (mut wa, mut wb) = workspaces();
    for case in CASES {
        let mut rng = case.rng();
        let (opt, off) = pair!(Cnn, CnnOff, &mut rng);
        let x = rng.array((case.n, 64));
        // The biases join the convolutions' sums, and the head is dense.
        run_agree!(std Cnn: opt, off, &mut wa, &mut wb, (x.view()), {
            features: ROUNDING,
            pooled: ROUNDING,
            probabilities: ROUNDING,
        });
    }
}

// A residual block: layer norm, a dense layer with gelu (not fused: no such
// epilogue), a residual sum, batch norm over a fused variance, and mse.
twins!(Block, BlockOff {
    input x: [n, 8];
    input target: [n, 8];
    var gamma: [8];
    var beta: [8];
    var w1: [8, 16];
    var b1: [16];
    var w2: [16, 8];
    var b2: [8];
    var mu: [8];
    var sigma: [8];
    var scale: [8];
    var offset: [8];
    let normed = layer_norm(x, gamma, beta, epsilon = 0.00001);
    let hidden = gelu_tanh(matmul(normed, w1) + b1);
    let residual = x + (matmul(hidden, w2) + b2);
    output y = batch_norm(residual, mu, square(sigma) + 0.1, scale, offset);
    output normalized = normed;
    output error = mse(y, target);
});

#[test]
fn residual_block() {
    written_alike!(Block, BlockOff);
    assert_eq!(
        count(Block::DOT, "dense: gelu_tanh(matmul(normed, w1) + b1)"),
        1
    );
    assert_eq!(count(Block::DOT, "dense: matmul(hidden, w2) + b2"), 1);
    assert_eq!(count(Block::DOT, "fused: square(sigma) + 0.1"), 1);
    let (mut wa, mut wb) = workspaces();
    for case in CASES {
        let mut rng = case.rng();
        let (opt, off) = pair!(Block, BlockOff, &mut rng);
        let (x, target) = (rng.array((case.n, 8)), rng.array((case.n, 8)));
        run_agree!(std Block: opt, off, &mut wa, &mut wb, (x.view(), target.view()), {
            y: ROUNDING,
            normalized: EXACT,
            error: ROUNDING,
        });
    }
}

// An embedding classifier: embedding and gather lookups, a broadcast
// position table, means and sums, a dense tanh head, cross-entropy by index.
twins!(Embed, EmbedOff {
    input ids: [n, 5] as usize;
    input labels: [n] as usize;
    var table: [20, 6];
    var positions: [5, 6];
    var w: [6, 4];
    var b: [4];
    let e = embedding(table, ids) + positions;
    let pooled = mean(e, axis = 1);
    let logits = tanh(matmul(pooled, w) + b);
    output loss = softmax_cross_entropy(logits, labels);
    output nearest = gather(table, argmax(logits));
    output summed = sum(e * e, axis = [1, 2]);
});

#[test]
fn embedding_classifier() {
    written_alike!(Embed, EmbedOff);
    assert_eq!(
        label_of(Embed::DOT, "logits"),
        "logits\ndense: tanh(matmul(pooled, w) + b)"
    );
    assert_eq!(label_of(Embed::DOT, "e"), "e\nadd");
    let (mut wa, mut wb) = workspaces();
    for case in CASES {
        let mut rng = case.rng();
        let (opt, off) = pair!(Embed, EmbedOff, &mut rng);
        let (ids, labels) = (rng.indices((case.n, 5), 20), rng.indices(case.n, 4));
        // `nearest` copies rows of `table` picked by an argmax of rounded
        // logits: exact unless two logits are within 1e-6 (not drawn here).
        run_agree!(std Embed: opt, off, &mut wa, &mut wb, (ids.view(), labels.view()), {
            loss: ROUNDING,
            nearest: EXACT,
            summed: EXACT,
        });
    }
}

// Attention over a symbolic sequence: batched products (never fused or
// packed), a softmax, an entropy through a fused tree.
twins!(Attention, AttentionOff {
    input q: [2, n, 4];
    input k: [2, n, 4];
    input v: [2, n, 4];
    var wo: [4, 4];
    let scores = matmul(q, permute(k, [0, 2, 1])) * 0.5;
    let weights = softmax(scores);
    let mixed = matmul(weights, v);
    output attended = matmul(mixed, wo);
    output entropy = -sum(weights * log(weights), axis = -1);
});

#[test]
fn attention() {
    written_alike!(Attention, AttentionOff);
    assert_eq!(count(Attention::DOT, "dense:"), 0);
    assert_eq!(count(Attention::DOT, "fused: weights * log(weights)"), 1);
    let (mut wa, mut wb) = workspaces();
    for case in CASES {
        let mut rng = case.rng();
        let (opt, off) = pair!(Attention, AttentionOff, &mut rng);
        let n = case.n;
        let (q, k, v) = (
            rng.array((2, n, 4)),
            rng.array((2, n, 4)),
            rng.array((2, n, 4)),
        );
        run_agree!(std Attention: opt, off, &mut wa, &mut wb, (q.view(), k.view(), v.view()), {
            attended: EXACT,
            entropy: EXACT,
        });
    }
}

// Reductions along every axis, the softmax family and argmax, around a
// shared fused value.
quads!(Reduce, ReduceOff, ReduceBare, ReduceBareOff {
    input x: [2, 3, 4];
    input t: [2, 3, 4];
    let d = x * 2.0 - t;
    output all = sum(d);
    output rows = mean(d, axis = 2);
    output outer = max(exp(x), axis = [0, 2]);
    output kept = min(d * d, axis = 1, keep_dims = true) + 1.0;
    output best = argmax(d, axis = 1);
    output p = softmax(d, axis = 0);
    output lp = log_softmax(x - t);
    output lse = logsumexp(d, axis = 1);
});

#[test]
fn reductions() {
    written_alike!(Reduce, ReduceOff);
    written_alike!(ReduceBare, ReduceBareOff);
    for (optimized, reference) in [
        (Reduce::DOT, ReduceOff::DOT),
        (ReduceBare::DOT, ReduceBareOff::DOT),
    ] {
        assert_eq!(label_of(optimized, "d"), "d\nfused: (x * 2) - t");
        // The other elementwise ops are lone ops between reductions.
        assert_eq!(count(optimized, "fused:"), 1);
        assert_eq!(count(reference, "fused:"), 0);
    }
    let (mut wa, mut wb) = workspaces();
    let (mut bare_a, mut bare_b) = workspaces();
    for case in CASES {
        let mut rng = case.rng();
        let (x, t) = (rng.array((2, 3, 4)), rng.array((2, 3, 4)));
        let (opt, off) = (Reduce::new(), ReduceOff::new());
        run_agree!(std Reduce: opt, off, &mut wa, &mut wb, (x.view(), t.view()), {
            all: EXACT,
            rows: EXACT,
            outer: EXACT,
            kept: EXACT,
            best: EXACT,
            p: EXACT,
            lp: EXACT,
            lse: EXACT,
        });
        let (x, t) = (rng.fill(), rng.fill());
        let (opt, off) = (ReduceBare::new(), ReduceBareOff::new());
        run_agree!(bare ReduceBare: opt, off, &mut bare_a, &mut bare_b, (&x, &t), {
            all: EXACT,
            rows: EXACT,
            outer: EXACT,
            kept: EXACT,
            best: EXACT,
            p: EXACT,
            lp: EXACT,
            lse: EXACT,
        });
    }
}

// Movement ops between fused elementwise ops, and products of movements.
quads!(Movement, MovementOff, MovementBare, MovementBareOff {
    input x: [2, 3];
    input y: [3, 2];
    output t = transpose(x) * y + 1.0;
    output p = permute(expand_dims(x * x, axis = 0), [2, 0, 1]);
    output r = reshape(x, [3, 2]) - y;
    output b = broadcast_to(reshape(exp(x), [2, 1, 3]), [2, 4, 3]);
    output s = slice(x, axis = 1, start = 1, end = 3) / 2.0;
    output c = concat([x, transpose(y) - 1.0], axis = 0);
    output q = squeeze(reshape(x, [1, 6])) + [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
    output m = matmul(x + 1.0, y) + matmul(x, y);
});

#[test]
fn movement() {
    written_alike!(Movement, MovementOff);
    written_alike!(MovementBare, MovementBareOff);
    for (optimized, reference) in [
        (Movement::DOT, MovementOff::DOT),
        (MovementBare::DOT, MovementBareOff::DOT),
    ] {
        assert_eq!(label_of(optimized, "t"), "t\nfused: (#0 * y) + 1");
        assert!(labels_fewer(optimized, reference));
    }
    let (mut wa, mut wb) = workspaces();
    let (mut bare_a, mut bare_b) = workspaces();
    for case in CASES {
        let mut rng = case.rng();
        let (x, y) = (rng.array((2, 3)), rng.array((3, 2)));
        let (opt, off) = (Movement::new(), MovementOff::new());
        run_agree!(std Movement: opt, off, &mut wa, &mut wb, (x.view(), y.view()), {
            t: EXACT, p: EXACT, r: EXACT, b: EXACT, s: EXACT, c: EXACT, q: EXACT, m: EXACT,
        });
        let (x, y) = (rng.fill(), rng.fill());
        let (opt, off) = (MovementBare::new(), MovementBareOff::new());
        run_agree!(bare MovementBare: opt, off, &mut bare_a, &mut bare_b, (&x, &y), {
            t: EXACT, p: EXACT, r: EXACT, b: EXACT, s: EXACT, c: EXACT, q: EXACT, m: EXACT,
        });
    }
}

/// The optimized graph has fewer nodes than the reference.
fn labels_fewer(optimized: &str, reference: &str) -> bool {
    crate::labels(optimized).len() < crate::labels(reference).len()
}

// Comparisons and selects, with fused trees under and around them.
quads!(Masks, MasksOff, MasksBare, MasksBareOff {
    input x: [3, 4];
    input row: [4];
    output mask = gt(exp(x) * 2.0 - 1.0, row);
    output chosen = select(ge(x, 0.5), x * row + 1.0, -x);
    output counted = sum(select(lt(x, row), 1.0, 0.0), axis = 1);
    output same = eq(abs(x), abs(row));
    output clipped = select(le(x, 0.0), 0.0, minimum(x, 1.0));
});

#[test]
fn masks() {
    written_alike!(Masks, MasksOff);
    written_alike!(MasksBare, MasksBareOff);
    for (optimized, reference) in [
        (Masks::DOT, MasksOff::DOT),
        (MasksBare::DOT, MasksBareOff::DOT),
    ] {
        assert_eq!(label_of(optimized, "mask"), "mask\ngt");
        assert_eq!(count(optimized, "fused: (exp(x) * 2) - 1"), 1);
        assert_eq!(count(reference, "fused:"), 0);
    }
    let (mut wa, mut wb) = workspaces();
    let (mut bare_a, mut bare_b) = workspaces();
    for case in CASES {
        let mut rng = case.rng();
        let (x, row) = (rng.array((3, 4)), rng.array(4));
        let (opt, off) = (Masks::new(), MasksOff::new());
        run_agree!(std Masks: opt, off, &mut wa, &mut wb, (x.view(), row.view()), {
            mask: EXACT, chosen: EXACT, counted: EXACT, same: EXACT, clipped: EXACT,
        });
        let (x, row) = (rng.fill(), rng.fill());
        let (opt, off) = (MasksBare::new(), MasksBareOff::new());
        run_agree!(bare MasksBare: opt, off, &mut bare_a, &mut bare_b, (&x, &row), {
            mask: EXACT, chosen: EXACT, counted: EXACT, same: EXACT, clipped: EXACT,
        });
    }
}
