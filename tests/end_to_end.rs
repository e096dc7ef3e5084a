//! Graphs written with `graph!`, run, and compared with values computed by
//! hand (each expected value is worked out in a comment or is exact in f32).

use ndarray::{array, Array1, Array2};
use staticflow::{graph, Dim, Error};

graph! {
    /// The seed design's first example.
    struct Seed {
        const a = 7.0;
        const b = 8.0;
        output res = (a * b) / (a + b);
    }
}

#[test]
fn seed_graph_gives_56_over_15() {
    // 56 / 15 = 3.7333…, rounded to f32 as the division rounds it.
    assert_eq!(Seed::new().res().unwrap(), 56.0_f32 / 15.0_f32);
    assert_eq!(format!("{}", Seed::default().res().unwrap()), "3.7333333");
}

graph! {
    /// The seed design's second example: z = A·x + b with x fed at run time.
    pub struct Linear {
        const A = [[1.0, 2.0], [3.0, 4.0]];
        var b: [2];
        input x: [2];
        output z = matmul(A, x) + b;
    }
}

#[test]
fn linear_graph_with_fed_input() {
    let linear = Linear::new(array![10.0, 20.0]).unwrap();
    // A·[1, 1] = [3, 7]; + b = [13, 27].
    assert_eq!(
        linear.z(array![1.0, 1.0].view()).unwrap(),
        array![13.0, 27.0]
    );
    // A·[2, -1] = [0, 2]; + b = [10, 22].
    assert_eq!(
        linear.z(array![2.0, -1.0].view()).unwrap(),
        array![10.0, 22.0]
    );
}

graph! {
    struct Scalars {
        input a: [];
        input b: [];
        output sum = a + b;
        output difference = a - b;
        output product = a * b;
        output quotient = a / b;
        output negated = -a;
        output mixed = -(a - 2.5) * b / 4;
    }
}

#[test]
fn scalar_ops_by_hand() {
    let g = Scalars::new();
    let out = g.run(6.0, 1.5).unwrap();
    assert_eq!(out.sum, 7.5);
    assert_eq!(out.difference, 4.5);
    assert_eq!(out.product, 9.0);
    assert_eq!(out.quotient, 4.0);
    assert_eq!(out.negated, -6.0);
    // -(6 - 2.5) · 1.5 / 4 = -3.5 · 1.5 / 4 = -1.3125 (exact in binary).
    assert_eq!(out.mixed, -1.3125);
    assert!(g.quotient(1.0, 0.0).unwrap().is_infinite());
}

graph! {
    struct Broadcasting {
        input column: [3, 1];
        input row: [1, 4];
        input matrix: [2, 3];
        input bias: [3];
        output outer_sum = column + row;
        output outer_product = column * row;
        output shifted = 10.0 - matrix;
        output scaled = matrix / 2.0;
        output biased = matrix + bias;
        output difference = bias - matrix;
    }
}

#[test]
fn broadcasting_edge_cases() {
    let g = Broadcasting::new();
    let column = array![[1.0], [2.0], [3.0]];
    let row = array![[1.0, 10.0, 100.0, 1000.0]];
    let matrix = array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]];
    let bias = array![0.5, -0.5, 2.0];
    let out = g
        .run(column.view(), row.view(), matrix.view(), bias.view())
        .unwrap();
    assert_eq!(
        out.outer_sum,
        array![
            [2.0, 11.0, 101.0, 1001.0],
            [3.0, 12.0, 102.0, 1002.0],
            [4.0, 13.0, 103.0, 1003.0]
        ]
    );
    assert_eq!(
        out.outer_product,
        array![
            [1.0, 10.0, 100.0, 1000.0],
            [2.0, 20.0, 200.0, 2000.0],
            [3.0, 30.0, 300.0, 3000.0]
        ]
    );
    assert_eq!(out.shifted, array![[9.0, 8.0, 7.0], [6.0, 5.0, 4.0]]);
    assert_eq!(out.scaled, array![[0.5, 1.0, 1.5], [2.0, 2.5, 3.0]]);
    assert_eq!(out.biased, array![[1.5, 1.5, 5.0], [4.5, 4.5, 8.0]]);
    assert_eq!(
        out.difference,
        array![[-0.5, -2.5, -1.0], [-3.5, -5.5, -4.0]]
    );
}

graph! {
    struct Products {
        input m: [2, 3];
        input v: [3];
        input u: [2];
        input n: [3, 2];
        output mm = matmul(m, n);
        output mv = m.matmul(v);
        output vm = matmul(u, m);
        output vv = v.matmul(v);
    }
}

#[test]
fn matmul_of_every_rank_pair() {
    let products = Products::new();
    let m = array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]];
    let n = array![[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]];
    let v = array![1.0, -1.0, 2.0];
    let u = array![1.0, 2.0];
    let out = products
        .run(m.view(), v.view(), u.view(), n.view())
        .unwrap();
    // Rows of m times the columns of n: [1+3, 2+3], [4+6, 5+6].
    assert_eq!(out.mm, array![[4.0, 5.0], [10.0, 11.0]]);
    // [1 - 2 + 6, 4 - 5 + 12].
    assert_eq!(out.mv, array![5.0, 11.0]);
    // [1 + 8, 2 + 10, 3 + 12].
    assert_eq!(out.vm, array![9.0, 12.0, 15.0]);
    // 1 + 1 + 4.
    assert_eq!(out.vv, 6.0);
}

graph! {
    /// One dense layer over a batch of symbolic size.
    pub struct Dense {
        input x: [n, 3];
        var w: [3, 2];
        var b: [2];
        let h: [n, 2] = matmul(x, w) + b;
        output y = h * h;
        output h_out = h;
    }
}

fn dense() -> Dense {
    Dense::new(
        array![[1.0, 0.0], [0.0, 1.0], [1.0, -1.0]],
        array![0.5, 1.0],
    )
    .unwrap()
}

#[test]
fn symbolic_batch_dim_any_size() {
    let g = dense();
    for n in [0, 1, 4] {
        let x = Array2::from_shape_fn((n, 3), |(i, j)| (i + j) as f32);
        let h = g.h_out(x.view()).unwrap();
        assert_eq!(h.dim(), (n, 2));
        for i in 0..n {
            // Row i of x is [i, i+1, i+2]; x·w = [2i+2, -1]; + b = [2i+2.5, 0].
            assert_eq!(h[[i, 0]], 2.0 * i as f32 + 2.5);
            assert_eq!(h[[i, 1]], 0.0);
        }
    }
}

#[test]
fn run_shares_nodes_and_matches_single_outputs() {
    let g = dense();
    let x = array![[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]];
    let all = g.run(x.view()).unwrap();
    assert_eq!(all.y, g.y(x.view()).unwrap());
    assert_eq!(all.h_out, g.h_out(x.view()).unwrap());
    // h = [[1+3+0.5, 2-3+1], [0.5, 1]] = [[4.5, 0], [0.5, 1]].
    assert_eq!(all.h_out, array![[4.5, 0.0], [0.5, 1.0]]);
    assert_eq!(all.y, array![[20.25, 0.0], [0.25, 1.0]]);
}

#[test]
fn non_contiguous_inputs_compute_correctly() {
    let g = dense();
    let stored = array![[1.0, 0.0], [2.0, 0.0], [3.0, 0.0]];
    // The transpose of a 3 x 2 array is a 2 x 3 view with swapped strides.
    let h = g.h_out(stored.t()).unwrap();
    assert_eq!(h, array![[4.5, 0.0], [0.5, 1.0]]);
}

#[test]
fn wrong_input_shape_is_a_typed_error() {
    let g = dense();
    let x = Array2::<f32>::zeros((4, 5));
    let err = g.y(x.view()).unwrap_err();
    assert_eq!(
        err,
        Error::InputShape {
            input: "x",
            declared: &[Dim::Symbol("n"), Dim::Fixed(3)],
            bindings: vec![],
            actual: vec![4, 5],
        }
    );
    assert_eq!(
        err.to_string(),
        "input `x` has shape [4, 5], but the graph declares [n, 3]"
    );
}

graph! {
    struct Pair {
        input x: [n, 2];
        input y: [n, 2];
        output s = x + y;
    }
}

#[test]
fn symbolic_dim_must_agree_across_inputs() {
    let g = Pair::new();
    let x = Array2::<f32>::ones((3, 2));
    let y = Array2::<f32>::ones((4, 2));
    let err = g.s(x.view(), y.view()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "input `y` has shape [4, 2], but the graph declares [n, 2] with n = 3"
    );
    assert_eq!(
        g.s(x.view(), x.view()).unwrap(),
        Array2::from_elem((3, 2), 2.0)
    );
}

#[test]
fn variables_are_checked_and_mutable_between_runs() {
    let err = Dense::new(Array2::zeros((2, 3)), Array1::zeros(2))
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "variable `w` must have shape [3, 2], but the value given has shape [2, 3]"
    );
    let mut g = Dense::zeros();
    let x = array![[1.0, 1.0, 1.0]];
    assert_eq!(g.h_out(x.view()).unwrap(), array![[0.0, 0.0]]);
    g.b_mut().fill(1.5);
    assert_eq!(g.h_out(x.view()).unwrap(), array![[1.5, 1.5]]);
    assert!(g.set_b(Array1::zeros(3)).is_err());
    assert_eq!(g.b(), array![1.5, 1.5]);
    g.set_w(Array2::ones((3, 2))).unwrap();
    assert_eq!(g.h_out(x.view()).unwrap(), array![[4.5, 4.5]]);
}

graph! {
    /// A counter and an accumulator: variables updated by the graph itself.
    struct Accumulate {
        input x: [2];
        var total: [2];
        var steps: [];
        total = total + x;
        steps = steps + 1;
        output mean = total / steps;
    }
}

#[test]
fn updates_read_old_values_and_store_new_ones() {
    let mut g = Accumulate::new(array![0.0, 0.0], 0.0).unwrap();
    g.update(array![1.0, 2.0].view()).unwrap();
    g.update(array![3.0, 6.0].view()).unwrap();
    assert_eq!(g.steps(), 2.0);
    assert_eq!(g.total(), array![4.0, 8.0]);
    assert_eq!(g.mean().unwrap(), array![2.0, 4.0]);
    assert!(g.update(array![1.0, 2.0, 3.0].view()).is_err());
    assert_eq!(g.steps(), 2.0, "a failed update changes nothing");
}

graph! {
    struct Orderless {
        output y = b * 2.0;
        let b = a + 1.0;
        let a = x * x;
        input x: [2];
    }
}

#[test]
fn declarations_in_any_order() {
    // (3² + 1) · 2 = 20; ((-1)² + 1) · 2 = 4.
    assert_eq!(
        Orderless::new().y(array![3.0, -1.0].view()).unwrap(),
        array![20.0, 4.0]
    );
}

graph! {
    /// Long elementwise chains: more leaves than one fused kernel takes, with
    /// a leaf read on both sides and scalars along the way.
    struct Chains {
        input a: [2];
        input b: [2];
        input c: [2];
        input d: [2];
        input e: [2];
        input f: [2];
        input h: [2];
        output sum = a + b + c + d + e + f + h;
        output mixed = (a * b - c) / d + relu(e - f) * h * a - 2.0;
    }
}

#[test]
fn chains_longer_than_a_fused_kernel() {
    let v = |x: f32, y: f32| ndarray::array![x, y];
    let out = Chains::new()
        .run(
            v(1.0, 2.0).view(),
            v(3.0, 4.0).view(),
            v(5.0, 6.0).view(),
            v(2.0, 8.0).view(),
            v(9.0, 1.0).view(),
            v(4.0, 3.0).view(),
            v(0.5, 0.25).view(),
        )
        .unwrap();
    // Column 0: 1 + 3 + 5 + 2 + 9 + 4 + 0.5; column 1: 2 + 4 + 6 + 8 + 1 + 3 + 0.25.
    assert_eq!(out.sum, v(24.5, 24.25));
    // Column 0: (3 - 5)/2 + relu(5)·0.5·1 - 2 = -1 + 2.5 - 2;
    // column 1: (8 - 6)/8 + relu(-2)·0.25·2 - 2 = 0.25 + 0 - 2.
    assert_eq!(out.mixed, v(-0.5, -1.75));
}
