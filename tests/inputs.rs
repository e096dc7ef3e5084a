//! Inputs as users hold them: every entry point takes an owned array by
//! reference, a view, or a slice where ndarray turns one into a view, with
//! no copy; and graphs print as their name and their variables' shapes.

use staticflow::graph;
use staticflow::ndarray::{arr1, arr2, Array1, Array2, ArrayView2};

graph! {
    /// Logistic regression over two features and three classes.
    struct Classifier {
        /// The examples, one a row.
        input x: [n, 2];
        /// Each example's class.
        input labels: [n] as usize;
        var w: [2, 3];
        var b: [3];
        output logits = matmul(x, w) + b;
        output total = sum(x);
        output loss = mean(softmax_cross_entropy(logits, labels));
        step fit = minimize(loss, sgd(lr = 0.5));
    }
}

graph! {
    /// An input that takes the name of the workspace parameter.
    struct Named {
        input workspace: [3];
        output doubled = workspace * 2.0;
    }
}

graph! {
    /// A derived `Debug` is the generated one; the other derives are kept.
    #[derive(Clone, Debug, PartialEq)]
    struct Derived {
        input x: [2];
        var w: [2, 2];
        output y = sum(w, axis = 0) * x;
    }
}

graph! {
    #[no_std]
    struct Tiny {
        input x: [2];
        var w: [2];
        var s: [];
        output y = x * w + s;
    }
}

// x = [[1, 2], [3, 4]], w = [[1, 0, 1], [0, 1, 1]], b = [0, 0, -1]:
// logits = [[1, 2, 2], [3, 4, 6]]; total = 10.
fn classifier() -> Classifier {
    Classifier::new(
        arr2(&[[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]]),
        arr1(&[0.0, 0.0, -1.0]),
    )
    .expect("shapes")
}

fn features() -> Array2<f32> {
    arr2(&[[1.0, 2.0], [3.0, 4.0]])
}

fn logits() -> Array2<f32> {
    arr2(&[[1.0, 2.0, 2.0], [3.0, 4.0, 6.0]])
}

/// The mean cross entropy of `logits` for labels 2 and 0, worked out in f64:
/// each row's log-sum-exp minus its label's logit.
fn expected_loss() -> f32 {
    let rows = [([1.0f64, 2.0, 2.0], 2), ([3.0, 4.0, 6.0], 0)];
    let sum: f64 = rows
        .iter()
        .map(|(row, label)| row.iter().map(|v| v.exp()).sum::<f64>().ln() - row[*label])
        .sum();
    #[allow(clippy::cast_possible_truncation)] // rounded to f32 once, as the graph returns it
    let mean = (sum / 2.0) as f32;
    mean
}

fn close(got: f32, want: f32) {
    assert!(
        (got - want).abs() <= 1e-5 * want.abs().max(1.0),
        "{got} vs {want}"
    );
}

#[test]
fn an_owned_array_is_taken_by_reference() {
    let model = classifier();
    let x = features();
    assert_eq!(model.logits(&x).unwrap(), logits());
    close(model.total(&x).unwrap(), 10.0);
}

#[test]
fn views_and_references_to_views_are_taken() {
    let model = classifier();
    let x = features();
    let view: ArrayView2<'_, f32> = x.view();
    assert_eq!(model.logits(view).unwrap(), logits());
    #[allow(clippy::needless_borrows_for_generic_args)] // the borrow is what is tested
    let by_reference = model.logits(&view).unwrap();
    assert_eq!(by_reference, logits());
    // A view of the first row alone: n = 1.
    assert_eq!(
        model
            .logits(x.slice(staticflow::ndarray::s![..1, ..]))
            .unwrap(),
        arr2(&[[1.0, 2.0, 2.0]])
    );
}

#[test]
fn nested_arrays_are_taken_as_views() {
    let model = classifier();
    let rows = [[1.0f32, 2.0], [3.0, 4.0]];
    assert_eq!(model.logits(&rows).unwrap(), logits());
}

#[test]
fn the_workspace_forms_take_references_and_return_views_into_the_workspace() {
    let model = classifier();
    let x = features();
    let labels: Array1<usize> = arr1(&[2, 0]);
    let mut workspace = ClassifierWorkspace::default();
    assert_eq!(model.logits_with(&mut workspace, &x).unwrap(), logits());
    close(
        model.loss_with(&mut workspace, &x, &labels).unwrap(),
        expected_loss(),
    );
    let views = model.run_with(&mut workspace, &x, &labels).unwrap();
    assert_eq!(views.logits, logits());
    close(views.total, 10.0);
    close(views.loss, expected_loss());
}

#[test]
fn class_indices_are_taken_from_arrays_slices_and_vectors() {
    let model = classifier();
    let x = features();
    let owned: Array1<usize> = arr1(&[2, 0]);
    let vector: Vec<usize> = vec![2, 0];
    close(model.loss(&x, &owned).unwrap(), expected_loss());
    close(model.loss(&x, owned.view()).unwrap(), expected_loss());
    close(model.loss(&x, &vector).unwrap(), expected_loss());
    close(model.loss(&x, &[2, 0]).unwrap(), expected_loss());
    let outputs = model.run(&x, &vector).unwrap();
    assert_eq!(outputs.logits, logits());
    close(outputs.loss, expected_loss());
}

#[test]
fn a_training_step_takes_references_in_both_forms() {
    let x = features();
    let labels = vec![2usize, 0];
    let mut plain = classifier();
    let mut with = classifier();
    let mut workspace = ClassifierWorkspace::default();
    close(plain.fit(&x, &labels).unwrap(), expected_loss());
    close(
        with.fit_with(&mut workspace, x.view(), &labels).unwrap(),
        expected_loss(),
    );
    assert_eq!(plain.w(), with.w());
    assert_eq!(plain.b(), with.b());
    assert_ne!(plain.w(), classifier().w(), "the step changed w");
}

#[test]
fn an_input_named_workspace_keeps_its_name() {
    let named = Named::new();
    let values = [1.0f32, 2.0, 3.0];
    assert_eq!(named.doubled(&values).unwrap(), arr1(&[2.0, 4.0, 6.0]));
    let mut workspace = NamedWorkspace::default();
    assert_eq!(
        named.doubled_with(&mut workspace, &values[..]).unwrap(),
        arr1(&[2.0, 4.0, 6.0])
    );
}

#[test]
fn a_bad_shape_is_still_an_error_whatever_the_input_type() {
    let model = classifier();
    let wide = Array2::<f32>::zeros((2, 5));
    let error = model.logits(&wide).unwrap_err();
    assert_eq!(
        error.to_string(),
        "input `x` has shape [2, 5], but the graph declares [n, 2]"
    );
}

#[test]
fn graphs_print_their_name_and_their_variables_shapes() {
    assert_eq!(
        format!("{:?}", classifier()),
        "Classifier { w: [2, 3], b: [3] }"
    );
    assert_eq!(format!("{:?}", Named::new()), "Named");
    let derived = Derived::zeros();
    assert_eq!(derived.clone(), derived);
    assert_eq!(format!("{derived:?}"), "Derived { w: [2, 2] }");
    let tiny = Tiny::new([1.0, 2.0], 0.5);
    assert_eq!(format!("{tiny:?}"), "Tiny { w: [2], s: [] }");
    assert_eq!(tiny.y(&[3.0, 4.0]), [3.5, 8.5]);
}
