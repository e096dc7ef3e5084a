//! The planner's storage decisions: values computed in place over dying
//! operands, updates computed in their variable or through snapshots, and
//! packed copies of weight matrices.

use crate::{count, label_of, workspaces, Case, CASES, EXACT, ROUNDING};

// ---------------------------------------------------------------------------
// In place over dying workspace values

// In place: unary ops over the softmaxes they read last. Each output keeps
// its slot to the end, so computing any of them out of place would need one
// slot more than the outputs: `WORKSPACE_BYTES` of four outputs proves all
// four in place.
quads!(InPlaceUnary, InPlaceUnaryOff, InPlaceUnaryBare, InPlaceUnaryBareOff {
    input x: [4, 8];
    output e = exp(softmax(x));
    output t = tanh(softmax(x, axis = 0));
    output r = sqrt(log_softmax(x));
    output c = clip(log_softmax(x, axis = 0), -1.5, -0.5);
});

#[test]
fn in_place_unary() {
    written_alike!(InPlaceUnary, InPlaceUnaryOff);
    // Four slots of 4·8 floats; the reference has eight (each softmax and
    // each output its own).
    assert_eq!(InPlaceUnary::WORKSPACE_BYTES, 4 * 128);
    assert_eq!(InPlaceUnaryOff::WORKSPACE_BYTES, 8 * 128);
    let (mut wa, mut wb) = workspaces();
    for case in CASES {
        let x = case.rng().array((4, 8));
        let (opt, off) = (InPlaceUnary::new(), InPlaceUnaryOff::new());
        run_agree!(std InPlaceUnary: opt, off, &mut wa, &mut wb, (x.view()), {
            e: EXACT,
            t: EXACT,
            r: EXACT,
            c: EXACT,
        });
    }
}

#[test]
fn in_place_unary_no_std() {
    written_alike!(InPlaceUnaryBare, InPlaceUnaryBareOff);
    // Outputs are returned, in no slot: the softmaxes share one slot, where
    // the reference gives each its own.
    assert_eq!(InPlaceUnaryBare::WORKSPACE_BYTES, 128);
    assert_eq!(InPlaceUnaryBareOff::WORKSPACE_BYTES, 4 * 128);
    let (opt, off) = (InPlaceUnaryBare::new(), InPlaceUnaryBareOff::new());
    let (mut wa, mut wb) = workspaces();
    for case in CASES {
        let x = case.rng().fill();
        run_agree!(bare InPlaceUnaryBare: opt, off, &mut wa, &mut wb, (&x), {
            e: EXACT,
            t: EXACT,
            r: EXACT,
            c: EXACT,
        });
    }
}

// In place: binary ops over their left operand, their right operand (the
// non-commutative `/`), both operands (one value after CSE), `maximum`, and
// a fused tree over its second leaf. Again one slot per output proves every
// output computed over its dying transpose.
quads!(InPlaceSides, InPlaceSidesOff, InPlaceSidesBare, InPlaceSidesBareOff {
    input a: [4, 4];
    input b: [4, 4];
    input c: [4, 4];
    output left = transpose(a) - b;
    output right = b / transpose(c);
    output both = transpose(b) * transpose(b);
    output larger = maximum(a, permute(c, [1, 0]));
    output tree = a * 2.0 + exp(permute(b, [1, 0])) * c - 1.0;
});

#[test]
fn in_place_on_either_side() {
    written_alike!(InPlaceSides, InPlaceSidesOff);
    assert!(label_of(InPlaceSides::DOT, "tree").starts_with("tree\nfused: "));
    // Five outputs in five slots of 4·4 floats; the reference has a slot
    // for each of its fifteen nodes (six transposes, the tree as five ops).
    assert_eq!(InPlaceSides::WORKSPACE_BYTES, 5 * 64);
    assert_eq!(InPlaceSidesOff::WORKSPACE_BYTES, 15 * 64);
    let (mut wa, mut wb) = workspaces();
    for case in CASES {
        let mut rng = case.rng();
        let (a, b, c) = (rng.array((4, 4)), rng.array((4, 4)), rng.array((4, 4)));
        let (opt, off) = (InPlaceSides::new(), InPlaceSidesOff::new());
        run_agree!(std InPlaceSides: opt, off, &mut wa, &mut wb, (a.view(), b.view(), c.view()), {
            left: EXACT,
            right: EXACT,
            both: EXACT,
            larger: EXACT,
            tree: EXACT,
        });
        // Each output's own method runs a part of the schedule.
        let reference = off.run(a.view(), b.view(), c.view()).unwrap();
        crate::agree(
            "left()",
            EXACT,
            &opt.left(a.view(), b.view()).unwrap(),
            &reference.left,
        );
        crate::agree(
            "right()",
            EXACT,
            &opt.right(b.view(), c.view()).unwrap(),
            &reference.right,
        );
        crate::agree(
            "both()",
            EXACT,
            &opt.both(b.view()).unwrap(),
            &reference.both,
        );
        let tree = opt
            .tree_with(&mut wa, a.view(), b.view(), c.view())
            .unwrap();
        crate::agree("tree_with()", EXACT, &tree, &reference.tree.view());
    }
}

#[test]
fn in_place_on_either_side_no_std() {
    written_alike!(InPlaceSidesBare, InPlaceSidesBareOff);
    // One transpose at a time, in one slot.
    assert_eq!(InPlaceSidesBare::WORKSPACE_BYTES, 64);
    assert_eq!(InPlaceSidesBareOff::WORKSPACE_BYTES, 10 * 64);
    let (opt, off) = (InPlaceSidesBare::new(), InPlaceSidesBareOff::new());
    let (mut wa, mut wb) = workspaces();
    for case in CASES {
        let mut rng = case.rng();
        let (a, b, c) = (rng.fill(), rng.fill(), rng.fill());
        run_agree!(bare InPlaceSidesBare: opt, off, &mut wa, &mut wb, (&a, &b, &c), {
            left: EXACT,
            right: EXACT,
            both: EXACT,
            larger: EXACT,
            tree: EXACT,
        });
    }
}

// In place with a symbolic batch, on one workspace reused by batches that
// grow and shrink: `t` over `s`, `y` over `t` (without literal shapes there
// is no `WORKSPACE_BYTES` to show it; the DOT shows the fused `t`).
twins!(InPlaceBatch, InPlaceBatchOff {
    input x: [n, 6];
    input bias: [6];
    let s = softmax(x);
    let t = s * 4.0 - bias;
    let u = logsumexp(t, keep_dims = true);
    output y = t - u;
    output z = tanh(log_softmax(y));
});

#[test]
fn in_place_any_batch() {
    written_alike!(InPlaceBatch, InPlaceBatchOff);
    assert_eq!(label_of(InPlaceBatch::DOT, "t"), "t\nfused: (s * 4) - bias");
    let (mut wa, mut wb) = workspaces();
    let batches = CASES.into_iter().chain([
        Case {
            seed: 5,
            n: 17,
            specials: false,
        },
        CASES[0],
    ]);
    for case in batches {
        let mut rng = case.rng();
        let (x, bias) = (rng.array((case.n, 6)), rng.array(6));
        let (opt, off) = (InPlaceBatch::new(), InPlaceBatchOff::new());
        run_agree!(std InPlaceBatch: opt, off, &mut wa, &mut wb, (x.view(), bias.view()), {
            y: EXACT,
            z: EXACT,
        });
    }
}

// ---------------------------------------------------------------------------
// Updates

/// Steps per update test: both forms, twice each.
const STEPS: usize = 4;

// Updates in the variable: `w = w - lr * g` overwrites `w` (no slot at all).
twins!(UpdateSgd, UpdateSgdOff {
    input g: [3, 4];
    input gb: [4];
    input lr: [];
    var w: [3, 4];
    var b: [4];
    var steps: [];
    w = w - lr * g;
    b = b - lr * gb;
    steps = steps + 1.0;
});

#[test]
fn updates_in_the_variable() {
    written_alike!(UpdateSgd, UpdateSgdOff);
    // The reference computes `lr * g` and `w - ..` into slots (3·4 floats
    // each), then copies; likewise for `b` (4 floats each).
    assert_eq!(UpdateSgd::WORKSPACE_BYTES, 0);
    assert_eq!(UpdateSgdOff::WORKSPACE_BYTES, 2 * 48 + 2 * 16);
    for case in CASES {
        let mut rng = case.rng();
        let (mut opt, mut off) = pair!(UpdateSgd, UpdateSgdOff, &mut rng);
        let initial = off.to_safetensors_bytes();
        let (mut wa, mut wb) = workspaces();
        for step in 0..STEPS {
            let (g, gb, lr) = (rng.array((3, 4)), rng.array(4), rng.value());
            update_both!(step, opt, off, &mut wa, &mut wb, (g.view(), gb.view(), lr));
            variables_agree!(EXACT, opt, off);
        }
        assert_ne!(off.to_safetensors_bytes(), initial);
    }
}

// Updates reading each other's variables: only those whose variable no
// later value reads are computed in place.
twins!(UpdateCoupled, UpdateCoupledOff {
    input g: [5];
    var w: [5];
    var v: [5];
    var p: [5];
    var q: [5];
    w = w - g;
    v = v + w;
    q = q * p;
    p = p - q;
    output total = w + v + p + q;
});

#[test]
fn updates_reading_other_variables() {
    written_alike!(UpdateCoupled, UpdateCoupledOff);
    // The memory order computes `v + w` before `w - g`, so both go in
    // place (in `v`, then in `w`). `q * p` and `p - q` each read the
    // other's variable, so one must keep its value aside: `q * p` goes to a
    // slot, `p - q` is computed in `p`; and `total` is one fused node: two
    // slots of 5 floats. The reference: seven.
    assert_eq!(UpdateCoupled::WORKSPACE_BYTES, 2 * 20);
    assert_eq!(UpdateCoupledOff::WORKSPACE_BYTES, 7 * 20);
    for case in CASES {
        let mut rng = case.rng();
        let (mut opt, mut off) = pair!(UpdateCoupled, UpdateCoupledOff, &mut rng);
        let initial = off.to_safetensors_bytes();
        let (mut wa, mut wb) = workspaces();
        let (mut ra, mut rb) = workspaces();
        for step in 0..STEPS {
            let g = rng.array(5);
            update_both!(step, opt, off, &mut wa, &mut wb, (g.view()));
            variables_agree!(EXACT, opt, off);
            run_agree!(std UpdateCoupled: opt, off, &mut ra, &mut rb, (), { total: EXACT });
        }
        assert_ne!(off.to_safetensors_bytes(), initial);
    }
}

// Updates needing snapshots: swaps, a rotation, scalars, an input stored,
// and one update computed in place beside them.
twins!(UpdateSwap, UpdateSwapOff {
    input x: [2, 3];
    var a: [2, 3];
    var b: [2, 3];
    var c: [2, 3];
    var d: [];
    var e: [];
    var r1: [3];
    var r2: [3];
    var r3: [3];
    var w: [2, 3];
    a = b;
    b = a;
    c = x;
    d = e;
    e = d;
    r1 = r2;
    r2 = r3;
    r3 = r1 * 2.0;
    w = w * a - x;
});

#[test]
fn updates_through_snapshots() {
    written_alike!(UpdateSwap, UpdateSwapOff);
    // Both twins copy `b`, `a`, `r2` and `r3` before any store (2·24 + 2·12
    // bytes) and hold `r1 * 2.0` (12); only the optimized one computes
    // `w * a - x` in `w`, where the reference holds `w * a` and the result
    // (2·24).
    assert_eq!(UpdateSwap::WORKSPACE_BYTES, 2 * 24 + 2 * 12 + 12);
    assert_eq!(
        UpdateSwapOff::WORKSPACE_BYTES,
        2 * 24 + 2 * 12 + 12 + 2 * 24
    );
    for case in CASES {
        let mut rng = case.rng();
        let (mut opt, mut off) = pair!(UpdateSwap, UpdateSwapOff, &mut rng);
        let initial = off.to_safetensors_bytes();
        let (mut wa, mut wb) = workspaces();
        for step in 0..STEPS {
            let x = rng.array((2, 3));
            update_both!(step, opt, off, &mut wa, &mut wb, (x.view()));
            variables_agree!(EXACT, opt, off);
        }
        assert_ne!(off.to_safetensors_bytes(), initial);
    }
}

// A training step with momentum and a loss over a symbolic batch: the
// gradient and each update fused, `run` and `update` interleaved.
twins!(UpdateMomentum, UpdateMomentumOff {
    input x: [n, 3];
    input y: [n];
    input lr: [];
    input inv_n: [];
    var w: [3];
    var velocity: [3];
    var bias: [];
    let error = matmul(x, w) + bias - y;
    output loss = mean(error * error);
    let grad = matmul(transpose(x), error) * inv_n;
    velocity = velocity * 0.9 + grad;
    w = w - lr * velocity;
    bias = bias - lr * mean(error);
});

#[test]
fn updates_with_momentum() {
    written_alike!(UpdateMomentum, UpdateMomentumOff);
    assert_eq!(
        label_of(UpdateMomentum::DOT, "error"),
        "error\nfused: (#0 + bias) - y"
    );
    assert!(count(UpdateMomentum::DOT, "fused:") >= 3);
    assert_eq!(count(UpdateMomentumOff::DOT, "fused:"), 0);
    let (mut ra, mut rb) = workspaces();
    for case in CASES {
        let mut rng = case.rng();
        let (mut opt, mut off) = pair!(UpdateMomentum, UpdateMomentumOff, &mut rng);
        let initial = off.to_safetensors_bytes();
        let (mut wa, mut wb) = workspaces();
        let n = case.n;
        #[allow(clippy::cast_precision_loss)]
        let inv_n = 1.0 / n as f32;
        for step in 0..STEPS {
            let (x, y, lr) = (rng.array((n, 3)), rng.array(n), 0.1);
            run_agree!(std UpdateMomentum: opt, off, &mut ra, &mut rb, (x.view(), y.view()), { loss: EXACT });
            update_both!(
                step,
                opt,
                off,
                &mut wa,
                &mut wb,
                (x.view(), y.view(), lr, inv_n)
            );
            variables_agree!(EXACT, opt, off);
        }
        assert_ne!(off.to_safetensors_bytes(), initial);
    }
}

// Update values shared with an output (CSE), not reading their variable, or
// read by another update.
twins!(UpdateShared, UpdateSharedOff {
    input g: [2, 3];
    input x: [2, 3];
    input lr: [];
    var w: [2, 3];
    var u: [2, 3];
    var k: [2, 3];
    output preview = w - lr * g;
    w = w - lr * g;
    u = exp(x);
    k = k * k - u;
});

#[test]
fn updates_shared_with_outputs() {
    written_alike!(UpdateShared, UpdateSharedOff);
    // One fused node computes the preview and `w`'s new value; `k`'s new
    // value is fused and computed in `k`.
    assert_eq!(
        label_of(UpdateShared::DOT, "preview"),
        "preview\nfused: w - (lr * g)"
    );
    assert_eq!(
        (
            count(UpdateShared::DOT, "sub"),
            count(UpdateSharedOff::DOT, "sub")
        ),
        (0, 3)
    );
    assert_eq!(count(UpdateShared::DOT, "fused: (k * k) - u"), 1);
    // `preview` and `exp(x)` have a slot each, `k` takes its new
    // value in place: two slots of 2·3 floats. The reference: seven.
    assert_eq!(UpdateShared::WORKSPACE_BYTES, 2 * 24);
    assert_eq!(UpdateSharedOff::WORKSPACE_BYTES, 7 * 24);
    let (mut ra, mut rb) = workspaces();
    for case in CASES {
        let mut rng = case.rng();
        let (mut opt, mut off) = pair!(UpdateShared, UpdateSharedOff, &mut rng);
        let initial = off.to_safetensors_bytes();
        let (mut wa, mut wb) = workspaces();
        for step in 0..STEPS {
            let (g, x, lr) = (rng.array((2, 3)), rng.array((2, 3)), rng.value());
            run_agree!(std UpdateShared: opt, off, &mut ra, &mut rb, (g.view(), lr), { preview: EXACT });
            update_both!(step, opt, off, &mut wa, &mut wb, (g.view(), x.view(), lr));
            variables_agree!(EXACT, opt, off);
        }
        assert_ne!(off.to_safetensors_bytes(), initial);
    }
}

// ---------------------------------------------------------------------------
// Packed weights

// Packed copies: weights of products with a matrix, through a dense node and
// plain products, for batches of one row and of several tiles of rows.
twins!(Packed, PackedOff {
    input x: [n, 20];
    var w: [20, 40];
    var b: [40];
    var v: [40, 7];
    var u: [20, 33];
    let h = relu(matmul(x, w) + b);
    output y = matmul(h, v);
    output z = matmul(x, u);
});

/// Whether a `w_mut()` guard repacks a copy on drop.
fn packs<T>(guard: &T) -> bool {
    std::any::type_name_of_val(guard).contains("WeightsMut")
}

#[test]
fn packed_weights() {
    written_alike!(Packed, PackedOff);
    let mut rng = CASES[0].rng();
    let (mut opt, mut off) = pair!(Packed, PackedOff, &mut rng);
    assert!(packs(&opt.w_mut()) && packs(&opt.v_mut()) && packs(&opt.u_mut()));
    assert!(!packs(&off.w_mut()) && !packs(&off.v_mut()) && !packs(&off.u_mut()));
    // The copies live in the struct.
    assert!(std::mem::size_of::<Packed>() > std::mem::size_of::<PackedOff>());
    let (mut wa, mut wb) = workspaces();
    for n in [1, 2, 7, 13, 1] {
        // The packed kernels sum in another order: `ROUNDING`.
        let x = rng.array((n, 20));
        run_agree!(std Packed: opt, off, &mut wa, &mut wb, (x.view()), { y: ROUNDING, z: ROUNDING });
        // Edits reach the copies: through the guard, and by `set_`.
        let (i, j, value) = (rng.index(20), rng.index(40), rng.uniform());
        opt.w_mut()[[i, j]] = value;
        off.w_mut()[[i, j]] = value;
        let v = rng.array((40, 7));
        opt.set_v(v.clone()).unwrap();
        off.set_v(v).unwrap();
        run_agree!(std Packed: opt, off, &mut wa, &mut wb, (x.view()), { y: ROUNDING, z: ROUNDING });
    }
}

// No packed copy for updated weights, nor for weights that only meet a
// vector: the same kernels in both twins.
twins!(PackedUpdated, PackedUpdatedOff {
    input x: [n, 4];
    input v: [4];
    input g: [4, 3];
    input lr: [];
    var w: [4, 3];
    var u: [4, 3];
    output y = matmul(x, w);
    output z = matmul(v, u);
    w = w - lr * g;
});

#[test]
fn weights_not_packed() {
    written_alike!(PackedUpdated, PackedUpdatedOff);
    let mut rng = CASES[0].rng();
    let (mut opt, mut off) = pair!(PackedUpdated, PackedUpdatedOff, &mut rng);
    assert!(!packs(&opt.w_mut()) && !packs(&opt.u_mut()));
    assert_eq!(
        std::mem::size_of::<PackedUpdated>(),
        std::mem::size_of::<PackedUpdatedOff>()
    );
    let (mut wa, mut wb) = workspaces();
    let (mut ra, mut rb) = workspaces();
    for (step, case) in CASES.into_iter().enumerate() {
        let (x, v) = (rng.array((case.n, 4)), rng.array(4));
        run_agree!(std PackedUpdated: opt, off, &mut ra, &mut rb, (x.view(), v.view()), { y: EXACT, z: EXACT });
        let (g, lr) = (rng.array((4, 3)), rng.value());
        update_both!(step, opt, off, &mut wa, &mut wb, (g.view(), lr));
        variables_agree!(EXACT, opt, off);
    }
}
