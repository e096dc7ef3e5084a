//! The IR rewrites that change what is computed: constant folding, common
//! subexpressions, dead nodes.

use crate::{count, label_of, labels, workspaces, CASES, EXACT, ROUNDING};

// ---------------------------------------------------------------------------
// Constant folding

// Folding: scalar arithmetic and every foldable function on constants.
twins!(FoldScalars, FoldScalarsOff {
    input x: [n, 3];
    const a = 7.0;
    const b = 8.0;
    let k = (a * b) / (a + b);
    let shift = -abs(a - b * 2.0) + square(a) - relu(b - 10.0) + leaky_relu(a - 9.0, alpha = 0.5);
    output y = x * k + shift;
    output folded = k * shift;
});

#[test]
fn folding_scalars() {
    written_alike!(FoldScalars, FoldScalarsOff);
    // `k` and `shift` are folded, then inlined into the fused `y` as
    // literals (and their nodes dropped); `folded` is a constant output.
    assert_eq!(
        label_of(FoldScalars::DOT, "y"),
        "y\nfused: (x * 3.7333333) + 39"
    );
    assert!(labels(FoldScalars::DOT)
        .iter()
        .all(|l| !l.starts_with("k\n") && !l.starts_with("shift\n")));
    assert_eq!(label_of(FoldScalars::DOT, "folded"), "folded = 145.6");
    assert_eq!(label_of(FoldScalarsOff::DOT, "k"), "k\ndiv");
    assert_eq!(label_of(FoldScalarsOff::DOT, "folded"), "folded\nmul");
    let (mut wa, mut wb) = workspaces();
    for case in CASES {
        let mut rng = case.rng();
        let (opt, off) = (FoldScalars::new(), FoldScalarsOff::new());
        let x = rng.array((case.n, 3));
        run_agree!(std FoldScalars: opt, off, &mut wa, &mut wb, (x.view()), {
            y: EXACT,
            folded: EXACT,
        });
    }
}

// Folding through broadcasting: a [3, 1] column and a [4] row make a [3, 4]
// constant.
quads!(FoldBroadcast, FoldBroadcastOff, FoldBroadcastBare, FoldBroadcastBareOff {
    input x: [2, 3, 4];
    const column = [[1.0], [-2.0], [3.0]];
    const row = [0.5, -1.5, 2.5, -3.5];
    let table = relu(column * row - 1.0) + leaky_relu(row - column, alpha = 0.25) / 3.0;
    let magnitudes = abs(neg(row));
    output y = x * table - magnitudes;
    output t = table;
});

/// The folded constants are labelled with their shape; the reference
/// computes them.
fn assert_broadcast_folded(optimized: &str, reference: &str) {
    assert_eq!(label_of(optimized, "table"), "table\n[3, 4]");
    assert_eq!(label_of(optimized, "magnitudes"), "magnitudes\n[4]");
    assert_eq!(label_of(reference, "table"), "table\nadd");
    assert_eq!(label_of(reference, "magnitudes"), "magnitudes\nabs");
}

#[test]
fn folding_through_broadcasting() {
    written_alike!(FoldBroadcast, FoldBroadcastOff);
    assert_broadcast_folded(FoldBroadcast::DOT, FoldBroadcastOff::DOT);
    let (mut wa, mut wb) = workspaces();
    for case in CASES {
        let mut rng = case.rng();
        let (opt, off) = (FoldBroadcast::new(), FoldBroadcastOff::new());
        let x = rng.array((2, 3, 4));
        run_agree!(std FoldBroadcast: opt, off, &mut wa, &mut wb, (x.view()), {
            y: EXACT,
            t: EXACT,
        });
    }
}

#[test]
fn folding_through_broadcasting_no_std() {
    written_alike!(FoldBroadcastBare, FoldBroadcastBareOff);
    assert_broadcast_folded(FoldBroadcastBare::DOT, FoldBroadcastBareOff::DOT);
    let (opt, off) = (FoldBroadcastBare::new(), FoldBroadcastBareOff::new());
    let (mut wa, mut wb) = workspaces();
    for case in CASES {
        let x = case.rng().fill();
        run_agree!(bare FoldBroadcastBare: opt, off, &mut wa, &mut wb, (&x), {
            y: EXACT,
            t: EXACT,
        });
    }
}

// Folding stops at non-finite results (and keeps the sign of zero).
quads!(FoldNonFinite, FoldNonFiniteOff, FoldNonFiniteBare, FoldNonFiniteBareOff {
    input x: [2, 3];
    const zero = 0.0;
    const big = 3.0e38;
    const v = [1.0, -1.0, 0.0];
    let infinite = 1.0 / zero;
    let overflow = big * 10.0;
    let fine = big / 1.0e38;
    let ratios = v / zero;
    let signed = relu(neg(v * zero));
    output y = x * fine + ratios;
    output z = x - infinite + overflow;
    output r = ratios;
    output s = signed;
    output q = infinite * zero;
});

fn assert_non_finite_not_folded(optimized: &str, reference: &str) {
    // Finite results are folded, even -0.0 (`fine` is then inlined in `y`) ...
    assert_eq!(label_of(optimized, "y"), "y\nfused: (x * 3) + ratios");
    assert_eq!(label_of(optimized, "signed"), "signed\n[3]");
    // ... infinite and NaN ones stay computed.
    assert_eq!(label_of(optimized, "infinite"), "infinite\ndiv");
    assert_eq!(label_of(optimized, "overflow"), "overflow\nmul");
    assert_eq!(label_of(optimized, "ratios"), "ratios\ndiv");
    assert_eq!(label_of(optimized, "q"), "q\nmul");
    assert_eq!(label_of(reference, "fine"), "fine\ndiv");
    assert_eq!(label_of(reference, "signed"), "signed\nrelu");
}

#[test]
fn folding_leaves_non_finite_results_computed() {
    written_alike!(FoldNonFinite, FoldNonFiniteOff);
    assert_non_finite_not_folded(FoldNonFinite::DOT, FoldNonFiniteOff::DOT);
    let (mut wa, mut wb) = workspaces();
    for case in CASES {
        let mut rng = case.rng();
        let (opt, off) = (FoldNonFinite::new(), FoldNonFiniteOff::new());
        let x = rng.array((2, 3));
        run_agree!(std FoldNonFinite: opt, off, &mut wa, &mut wb, (x.view()), {
            y: EXACT,
            z: EXACT,
            r: EXACT,
            s: EXACT,
            q: EXACT,
        });
        // The reference is what IEEE says, signed zeros included.
        let out = off.run(x.view()).unwrap();
        assert_eq!(out.r[0], f32::INFINITY);
        assert_eq!(out.r[1], f32::NEG_INFINITY);
        assert!(out.r[2].is_nan() && out.q.is_nan());
        let bits: Vec<u32> = out.s.iter().map(|v| v.to_bits()).collect();
        assert_eq!(bits, [(-0.0_f32).to_bits(), 0, (-0.0_f32).to_bits()]);
    }
}

#[test]
fn folding_leaves_non_finite_results_computed_no_std() {
    written_alike!(FoldNonFiniteBare, FoldNonFiniteBareOff);
    assert_non_finite_not_folded(FoldNonFiniteBare::DOT, FoldNonFiniteBareOff::DOT);
    let (opt, off) = (FoldNonFiniteBare::new(), FoldNonFiniteBareOff::new());
    let (mut wa, mut wb) = workspaces();
    for case in CASES {
        let x = case.rng().fill();
        run_agree!(bare FoldNonFiniteBare: opt, off, &mut wa, &mut wb, (&x), {
            y: EXACT,
            z: EXACT,
            r: EXACT,
            s: EXACT,
            q: EXACT,
        });
    }
}

// ---------------------------------------------------------------------------
// Common subexpressions

// CSE: repeated functions, reductions, softmaxes and array constants.
twins!(Cse, CseOff {
    input x: [n, 4];
    input row: [4];
    let a = exp(x) * row;
    let b = exp(x) * row;
    output y = a + b;
    output z = softmax(x) - softmax(x);
    output w = sum(a, axis = 1) * sum(b, axis = 1);
    output c = x * [1.0, 2.0, 3.0, 4.0] + x * [1.0, 2.0, 3.0, 4.0];
});

#[test]
fn common_subexpressions() {
    written_alike!(Cse, CseOff);
    assert_eq!(
        (count(Cse::DOT, "softmax"), count(CseOff::DOT, "softmax")),
        (1, 2)
    );
    assert_eq!((count(Cse::DOT, "sum"), count(CseOff::DOT, "sum")), (1, 2));
    // `b` is merged into `a`: no node keeps its name.
    assert!(labels(Cse::DOT).iter().all(|l| !l.starts_with("b\n")));
    assert_eq!(label_of(CseOff::DOT, "b"), "b\nmul");
    assert!(Cse::SUMMARY.nodes.len() < CseOff::SUMMARY.nodes.len());
    let (mut wa, mut wb) = workspaces();
    for case in CASES {
        let mut rng = case.rng();
        let (opt, off) = (Cse::new(), CseOff::new());
        let (x, row) = (rng.array((case.n, 4)), rng.array(4));
        run_agree!(std Cse: opt, off, &mut wa, &mut wb, (x.view(), row.view()), {
            y: EXACT,
            z: EXACT,
            w: EXACT,
            c: EXACT,
        });
    }
}

// CSE of a product: two users keep it from fusing with either.
quads!(CseProduct, CseProductOff, CseProductBare, CseProductBareOff {
    input x: [3, 4];
    input w: [4, 5];
    output p = matmul(x, w) * 2.0;
    output q = matmul(x, w) - [1.0, 2.0, 3.0, 4.0, 5.0];
});

#[test]
fn common_products() {
    written_alike!(CseProduct, CseProductOff);
    written_alike!(CseProductBare, CseProductBareOff);
    for (optimized, reference) in [
        (CseProduct::DOT, CseProductOff::DOT),
        (CseProductBare::DOT, CseProductBareOff::DOT),
    ] {
        assert_eq!(
            (count(optimized, "matmul"), count(reference, "matmul")),
            (1, 2)
        );
    }
    let (mut wa, mut wb) = workspaces();
    let (mut bare_a, mut bare_b) = workspaces();
    for case in CASES {
        let mut rng = case.rng();
        let (opt, off) = (CseProduct::new(), CseProductOff::new());
        let (x, w) = (rng.array((3, 4)), rng.array((4, 5)));
        run_agree!(std CseProduct: opt, off, &mut wa, &mut wb, (x.view(), w.view()), {
            p: EXACT,
            q: EXACT,
        });
        let (opt, off) = (CseProductBare::new(), CseProductBareOff::new());
        let (x, w) = (rng.fill(), rng.fill());
        run_agree!(bare CseProductBare: opt, off, &mut bare_a, &mut bare_b, (&x, &w), {
            p: EXACT,
            q: EXACT,
        });
    }
}

// CSE of whole layers, then fusion: the merged duplicates are dead, so the
// product and `exp(x)` each have one user left.
twins!(CseThenFuse, CseThenFuseOff {
    input x: [n, 4];
    var w: [4, 3];
    var b: [3];
    output p = relu(matmul(x, w) + b);
    output q = relu(matmul(x, w) + b);
    output y = exp(x) * 2.0;
    output z = exp(x) * 2.0;
});

#[test]
fn merged_duplicates() {
    written_alike!(CseThenFuse, CseThenFuseOff);
    assert_eq!(
        (
            count(CseThenFuse::DOT, "exp"),
            count(CseThenFuseOff::DOT, "exp")
        ),
        // The one `exp` left is fused into its user.
        (0, 2)
    );
    assert_eq!(count(CseThenFuseOff::DOT, "matmul"), 2);
    let (mut wa, mut wb) = workspaces();
    for case in CASES {
        let mut rng = case.rng();
        let (opt, off) = pair!(CseThenFuse, CseThenFuseOff, &mut rng);
        let x = rng.array((case.n, 4));
        // `w` is packed, and the product is to be fused (below): `ROUNDING`.
        run_agree!(std CseThenFuse: opt, off, &mut wa, &mut wb, (x.view()), {
            p: ROUNDING,
            q: ROUNDING,
            y: EXACT,
            z: EXACT,
        });
    }
}

#[test]
fn merged_duplicates_do_not_block_fusion() {
    assert_eq!(
        label_of(CseThenFuse::DOT, "p"),
        "p\ndense: relu(matmul(x, w) + b)"
    );
    assert_eq!(label_of(CseThenFuse::DOT, "y"), "y\nfused: exp(x) * 2");
}

// ---------------------------------------------------------------------------
// Dead nodes

// DCE: values no output needs, including a product with a variable (on
// purpose, so the unused-declaration warnings are allowed).
twins!(#[allow(unused)] Dce, DceOff {
    input x: [n, 3];
    input unused: [n, 3];
    var w: [3, 3];
    let dead = softmax(matmul(x, w));
    let also_dead = exp(dead) + unused;
    output y = x * 2.0 - 1.0;
});

#[test]
fn dead_nodes() {
    written_alike!(Dce, DceOff);
    for name in ["dead", "also_dead"] {
        assert!(labels(Dce::DOT)
            .iter()
            .all(|l| !l.starts_with(&format!("{name}\n"))));
    }
    assert_eq!(label_of(DceOff::DOT, "dead"), "dead\nsoftmax(axis=-1)");
    assert_eq!(label_of(DceOff::DOT, "also_dead"), "also_dead\nadd");
    let (mut wa, mut wb) = workspaces();
    for case in CASES {
        let mut rng = case.rng();
        let (opt, off) = pair!(Dce, DceOff, &mut rng);
        let x = rng.array((case.n, 3));
        run_agree!(std Dce: opt, off, &mut wa, &mut wb, (x.view()), { y: EXACT });
    }
}
