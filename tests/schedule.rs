//! Graphs with several outputs share one schedule (`__fetch_with`, see
//! `graph-macros/src/emit/fetch.rs`): each output's method asks it for that
//! output alone, `run` for all. These graphs give it outputs of every kind
//! (computed, an input, a variable, a constant, a scalar, one output
//! feeding another, outputs over disjoint inputs) on both backends, and
//! check each method against values worked out by hand.

use staticflow::graph;
use staticflow::ndarray::{arr1, arr2, Array1};

graph! {
    struct Many {
        input x: [n, 2];
        input u: [m];
        var w: [2, 2];
        const c: [2] = [1.0, -1.0];
        let h = matmul(x, w);
        output hidden = h;
        output shifted = relu(h + c);
        output total = sum(shifted);
        output doubled = u * 2.0;
        output same_x = x;
        output weights = w;
        output offsets = c;
    }
}

graph! {
    #[no_std]
    struct ManyBare {
        input x: [2, 2];
        input u: [3];
        input s: [];
        var w: [2, 2];
        const c: [2] = [1.0, -1.0];
        let h = matmul(x, w);
        output hidden = h;
        output shifted = relu(h + c);
        output total = sum(shifted) * s;
        output doubled = u * 2.0;
        output same_x = x;
        output weights = w;
        output offsets = c;
    }
}

graph! {
    /// `grid` reads no input, but its shape takes `n` from `x`, which the
    /// method must then take; `other` needs no input at all.
    struct Sized {
        input x: [n, 2];
        const one = 1.0;
        output grid = broadcast_to(one, [n, 2]);
        output other = one * 3.0;
    }
}

// x = [[1, 2], [3, 4]], w = [[1, -1], [0, 2]]:
// h = x·w = [[1, 3], [3, 5]]; h + c = [[2, 2], [4, 4]]; its sum 12.
const X: [[f32; 2]; 2] = [[1.0, 2.0], [3.0, 4.0]];
const W: [[f32; 2]; 2] = [[1.0, -1.0], [0.0, 2.0]];

#[test]
fn each_output_method_computes_its_output_alone() {
    let graph = Many::new(arr2(&W)).expect("w has its shape");
    let x = arr2(&X);
    let u = arr1(&[1.0_f32, -2.0, 0.5]);
    assert_eq!(
        graph.hidden(x.view()).unwrap(),
        arr2(&[[1.0, 3.0], [3.0, 5.0]])
    );
    assert_eq!(
        graph.shifted(x.view()).unwrap(),
        arr2(&[[2.0, 2.0], [4.0, 4.0]])
    );
    assert_eq!(graph.total(x.view()).unwrap(), 12.0);
    assert_eq!(graph.doubled(u.view()).unwrap(), arr1(&[2.0, -4.0, 1.0]));
    assert_eq!(graph.same_x(x.view()).unwrap(), x);
    assert_eq!(graph.weights().unwrap(), arr2(&W));
    assert_eq!(graph.offsets().unwrap(), arr1(&[1.0, -1.0]));

    let all = graph.run(x.view(), u.view()).unwrap();
    assert_eq!(all.hidden, graph.hidden(x.view()).unwrap());
    assert_eq!(all.shifted, graph.shifted(x.view()).unwrap());
    assert_eq!(all.total, 12.0);
    assert_eq!(all.doubled, arr1(&[2.0, -4.0, 1.0]));
    assert_eq!(all.same_x, x);
    assert_eq!(all.weights, arr2(&W));
    assert_eq!(all.offsets, arr1(&[1.0, -1.0]));
}

#[test]
fn one_workspace_serves_every_output_in_turn() {
    let graph = Many::new(arr2(&W)).expect("w has its shape");
    let x = arr2(&X);
    let u = arr1(&[1.0_f32, -2.0, 0.5]);
    let mut workspace = ManyWorkspace::default();
    for _ in 0..2 {
        assert_eq!(graph.total_with(&mut workspace, x.view()).unwrap(), 12.0);
        assert_eq!(
            graph.doubled_with(&mut workspace, u.view()).unwrap(),
            arr1(&[2.0, -4.0, 1.0])
        );
        let views = graph.run_with(&mut workspace, x.view(), u.view()).unwrap();
        assert_eq!(views.shifted, arr2(&[[2.0, 2.0], [4.0, 4.0]]));
        assert_eq!(
            graph.hidden_with(&mut workspace, x.view()).unwrap(),
            arr2(&[[1.0, 3.0], [3.0, 5.0]])
        );
    }
}

#[test]
fn a_method_checks_only_the_inputs_it_takes() {
    let graph = Many::new(arr2(&W)).expect("w has its shape");
    let wrong = Array1::<f32>::zeros(4)
        .into_shape_with_order((2, 2))
        .unwrap();
    // `doubled` takes `u` alone: a batch of any size is fine.
    assert_eq!(
        graph.doubled(Array1::zeros(5).view()).unwrap(),
        Array1::<f32>::zeros(5)
    );
    assert!(graph.total(wrong.view()).is_ok());
    let bad = Array1::<f32>::zeros(6)
        .into_shape_with_order((2, 3))
        .unwrap();
    let error = graph.total(bad.view()).unwrap_err();
    assert!(
        matches!(error, staticflow::Error::InputShape { input: "x", .. }),
        "{error}"
    );
}

#[test]
fn an_input_that_only_sizes_an_output_is_taken() {
    let graph = Sized::new();
    let x = staticflow::ndarray::Array2::<f32>::zeros((3, 2));
    assert_eq!(
        graph.grid(x.view()).unwrap(),
        staticflow::ndarray::Array2::<f32>::ones((3, 2))
    );
    assert_eq!(graph.other().unwrap(), 3.0);
    let all = graph.run(x.view()).unwrap();
    assert_eq!(all.grid.shape(), &[3, 2]);
    assert_eq!(all.other, 3.0);
}

#[test]
fn the_no_std_backend_shares_its_schedule_too() {
    let graph = ManyBare::new(W);
    let u = [1.0_f32, -2.0, 0.5];
    assert_eq!(graph.hidden(&X), [[1.0, 3.0], [3.0, 5.0]]);
    assert_eq!(graph.shifted(&X), [[2.0, 2.0], [4.0, 4.0]]);
    assert_eq!(graph.total(&X, 0.5), 6.0);
    assert_eq!(graph.doubled(&u), [2.0, -4.0, 1.0]);
    assert_eq!(graph.same_x(&X), X);
    assert_eq!(graph.weights(), W);
    assert_eq!(graph.offsets(), [1.0, -1.0]);
    let mut workspace = ManyBareWorkspace::new();
    let all = graph.run_with(&mut workspace, &X, &u, 0.5);
    assert_eq!(
        all,
        ManyBareOutputs {
            hidden: [[1.0, 3.0], [3.0, 5.0]],
            shifted: [[2.0, 2.0], [4.0, 4.0]],
            total: 6.0,
            doubled: [2.0, -4.0, 1.0],
            same_x: X,
            weights: W,
            offsets: [1.0, -1.0],
        }
    );
    assert_eq!(graph.total_with(&mut workspace, &X, 2.0), 24.0);
}
