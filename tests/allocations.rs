//! After the first call, running a graph through a reused workspace performs
//! no heap allocation. A counting global allocator observes every allocation
//! of this test binary, per thread: each test counts those of its own thread,
//! where the kernels run (the `parallel` feature, which would hand large
//! products to other threads, is off here), so the harness starting and
//! reporting other tests at the same time does not disturb the count.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use staticflow::graph;
use staticflow::ndarray::{Array1, Array2};

struct Counting;

thread_local! {
    /// Allocations made so far by this thread.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

/// Counts one allocation of the current thread. A `const`-initialised
/// thread-local without destructor is plain thread storage: reading it
/// cannot allocate, so the allocator may call this.
fn count() {
    // `try_with` fails only for a thread-local already destroyed, which a
    // type without `Drop` never is.
    let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
}

// SAFETY: every method forwards to `System` unchanged; counting is an
// increment of thread-local storage, which cannot allocate or fail.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller upholds `GlobalAlloc::alloc_zeroed`'s contract.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations the current thread made while running `f`.
fn allocations(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

graph! {
    struct Seed {
        input a: [];
        input b: [];
        output res = (a * b) / (a + b);
    }
}

graph! {
    struct SeedVectors {
        input a: [1, 1000];
        input b: [1, 1000];
        output res = (a * b) / (a + b);
    }
}

graph! {
    struct Mlp {
        input x: [n, 784];
        var w1: [784, 128];
        var b1: [128];
        var w2: [128, 10];
        var b2: [10];
        let hidden = relu(matmul(x, w1) + b1);
        output probabilities = softmax(matmul(hidden, w2) + b2);
        output class = argmax(probabilities);
    }
}

#[test]
fn seed_graph_allocates_nothing() {
    let seed = Seed::new();
    let mut workspace = SeedWorkspace::default();
    let count = allocations(|| {
        for i in 0..100 {
            let res = seed.res_with(&mut workspace, 7.0, 8.0 + i as f32).unwrap();
            std::hint::black_box(res);
        }
    });
    assert_eq!(count, 0);
}

#[test]
fn vector_seed_graph_allocates_only_on_the_first_call() {
    let graph = SeedVectors::new();
    let a = Array2::from_elem((1, 1000), 7.0_f32);
    let b = Array2::from_elem((1, 1000), 8.0_f32);
    let mut workspace = SeedVectorsWorkspace::default();
    let first = allocations(|| {
        graph.res_with(&mut workspace, a.view(), b.view()).unwrap();
    });
    assert!(first > 0, "the first call sizes the workspace");
    let steady = allocations(|| {
        for _ in 0..100 {
            let res = graph.res_with(&mut workspace, a.view(), b.view()).unwrap();
            std::hint::black_box(res[[0, 999]]);
        }
    });
    assert_eq!(steady, 0);
}

#[test]
fn mlp_allocates_nothing_in_steady_state() {
    let mlp = Mlp::new(
        Array2::from_shape_fn((784, 128), |(i, j)| {
            ((i * 7 + j * 3) % 11) as f32 / 11.0 - 0.5
        }),
        Array1::from_elem(128, 0.1),
        Array2::from_shape_fn((128, 10), |(i, j)| ((i + j * 5) % 7) as f32 / 7.0 - 0.5),
        Array1::zeros(10),
    )
    .unwrap();
    let mut workspace = MlpWorkspace::default();
    for batch in [64, 1] {
        let x = Array2::from_shape_fn((batch, 784), |(i, j)| ((i + j) % 17) as f32 / 17.0);
        // Sizes the workspace for this batch (the second, smaller batch fits).
        mlp.run_with(&mut workspace, x.view()).unwrap();
        let steady = allocations(|| {
            for _ in 0..20 {
                let out = mlp.run_with(&mut workspace, x.view()).unwrap();
                std::hint::black_box(out.class[0]);
                let p = mlp.probabilities_with(&mut workspace, x.view()).unwrap();
                std::hint::black_box(p[[0, 0]]);
            }
        });
        assert_eq!(steady, 0, "batch {batch}");
    }
}

graph! {
    /// The same MLP's training steps, plain SGD and Adam.
    struct Trainer {
        input x: [n, 784];
        input labels: [n] as usize;
        var w1: [784, 128];
        var b1: [128];
        var w2: [128, 10];
        var b2: [10];
        let logits = matmul(relu(matmul(x, w1) + b1), w2) + b2;
        let loss = mean(softmax_cross_entropy(logits, labels));
        step fit = minimize(loss, sgd(lr = 0.01));
        step fit_adam = minimize(loss, adam(lr = 0.001));
    }
}

#[test]
fn training_steps_allocate_nothing_in_steady_state() {
    let mut trainer = Trainer::new(
        Array2::from_shape_fn((784, 128), |(i, j)| {
            ((i * 7 + j * 3) % 11) as f32 / 11.0 - 0.5
        }),
        Array1::from_elem(128, 0.1),
        Array2::from_shape_fn((128, 10), |(i, j)| ((i + j * 5) % 7) as f32 / 7.0 - 0.5),
        Array1::zeros(10),
    )
    .unwrap();
    let mut workspace = TrainerWorkspace::default();
    for batch in [64, 1] {
        let x = Array2::from_shape_fn((batch, 784), |(i, j)| ((i + j) % 17) as f32 / 17.0);
        let labels: Array1<usize> = (0..batch).map(|i| i % 10).collect();
        // Sizes the workspace for this batch (the second, smaller batch fits).
        trainer.fit_with(&mut workspace, &x, &labels).unwrap();
        trainer.fit_adam_with(&mut workspace, &x, &labels).unwrap();
        let steady = allocations(|| {
            for _ in 0..10 {
                std::hint::black_box(trainer.fit_with(&mut workspace, &x, &labels).unwrap());
                std::hint::black_box(trainer.fit_adam_with(&mut workspace, &x, &labels).unwrap());
            }
        });
        assert_eq!(steady, 0, "batch {batch}");
    }
}

graph! {
    /// Two variables trading values on every update.
    struct Swap {
        var a: [64];
        var b: [64];
        a = b;
        b = a;
    }
}

graph! {
    /// One step of gradient descent, computed in the variable.
    struct Sgd {
        input g: [16, 8];
        input lr: [];
        var w: [16, 8];
        w = w - lr * g;
    }
}

graph! {
    /// A training step: a gradient through a product, then the step.
    struct Regression {
        input x: [n, 8];
        input y: [n];
        input lr: [];
        var w: [8];
        let error = matmul(x, w) - y;
        output loss = sum(error * error);
        w = w - lr * matmul(transpose(x), error);
    }
}

#[test]
fn swapping_variables_allocates_nothing_in_steady_state() {
    let a = Array1::from_shape_fn(64, |i| i as f32);
    let b = Array1::from_shape_fn(64, |i| -(i as f32));
    let mut swap = Swap::new(a.clone(), b.clone()).unwrap();
    let mut workspace = SwapWorkspace::default();
    // Sizes the workspace's two snapshot slots.
    swap.update_with(&mut workspace).unwrap();
    let steady = allocations(|| {
        for _ in 0..99 {
            swap.update_with(&mut workspace).unwrap();
        }
    });
    assert_eq!(steady, 0);
    // 100 swaps: back where they started.
    assert_eq!(swap.a(), a);
    assert_eq!(swap.b(), b);
}

#[test]
fn a_gradient_step_allocates_nothing() {
    let mut sgd = Sgd::new(Array2::ones((16, 8))).unwrap();
    let g = Array2::from_elem((16, 8), 0.5_f32);
    let mut workspace = SgdWorkspace::default();
    // The step needs no slot at all: even the first call allocates nothing.
    let count = allocations(|| {
        for _ in 0..10 {
            sgd.update_with(&mut workspace, g.view(), 0.125).unwrap();
        }
    });
    assert_eq!(count, 0);
    // 1 - 10 · 0.125 · 0.5 = 0.375, exact in f32.
    assert!(sgd.w().iter().all(|&w| w == 0.375));
}

#[test]
fn a_training_step_allocates_nothing_in_steady_state() {
    let mut regression = Regression::zeros();
    let x = Array2::from_shape_fn((32, 8), |(i, j)| ((i + j) % 5) as f32 / 5.0);
    let y = Array1::from_shape_fn(32, |i| (i % 3) as f32);
    let mut workspace = RegressionWorkspace::default();
    regression
        .update_with(&mut workspace, x.view(), y.view(), 0.01)
        .unwrap();
    regression
        .loss_with(&mut workspace, x.view(), y.view())
        .unwrap();
    let steady = allocations(|| {
        for _ in 0..20 {
            regression
                .update_with(&mut workspace, x.view(), y.view(), 0.01)
                .unwrap();
            let loss = regression
                .loss_with(&mut workspace, x.view(), y.view())
                .unwrap();
            std::hint::black_box(loss);
        }
    });
    assert_eq!(steady, 0);
}

graph! {
    /// An MLP classifier trained by Adam (with clipping) through softmax
    /// cross-entropy on class indices: a `step` declaration.
    struct AdamClassifier {
        input x: [n, 16];
        input labels: [n] as usize;
        var w1: [16, 32];
        var b1: [32];
        var w2: [32, 4];
        var b2: [4];
        let h = relu(matmul(x, w1) + b1);
        output loss = mean(softmax_cross_entropy(matmul(h, w2) + b2, labels));
        step fit = minimize(loss, adam(lr = 0.001, clip_norm = 1.0));
    }
}

graph! {
    /// The same classifier on one-hot labels, trained by SGD with Nesterov
    /// momentum and weight decay at a learning rate given per step.
    struct MomentumClassifier {
        input x: [n, 16];
        input onehot: [n, 4];
        input lr: [];
        var w1: [16, 32];
        var b1: [32];
        var w2: [32, 4];
        var b2: [4];
        let h = relu(matmul(x, w1) + b1);
        output loss = mean(softmax_cross_entropy(matmul(h, w2) + b2, onehot));
        step fit = minimize(loss, sgd(lr = lr, momentum = 0.9, nesterov = true, weight_decay = 0.0001));
    }
}

/// Deterministic inputs and initial weights for the classifiers.
fn classifier_data(batch: usize) -> (Array2<f32>, Array1<usize>, Array2<f32>) {
    let x = Array2::from_shape_fn((batch, 16), |(i, j)| {
        ((i * 5 + j * 3) % 13) as f32 / 13.0 - 0.5
    });
    let labels = Array1::from_shape_fn(batch, |i| (i * 7) % 4);
    let onehot = Array2::from_shape_fn((batch, 4), |(i, j)| f32::from(u8::from(labels[i] == j)));
    (x, labels, onehot)
}

fn classifier_weights() -> (Array2<f32>, Array1<f32>, Array2<f32>, Array1<f32>) {
    (
        Array2::from_shape_fn((16, 32), |(i, j)| {
            ((i * 11 + j * 7) % 17) as f32 / 17.0 - 0.5
        }),
        Array1::from_elem(32, 0.05),
        Array2::from_shape_fn((32, 4), |(i, j)| ((i * 3 + j * 5) % 7) as f32 / 7.0 - 0.5),
        Array1::zeros(4),
    )
}

#[test]
fn an_adam_step_allocates_nothing_after_its_first_call() {
    let (w1, b1, w2, b2) = classifier_weights();
    let mut model = AdamClassifier::new(w1, b1, w2, b2).unwrap();
    let mut workspace = AdamClassifierWorkspace::default();
    let mut losses = Vec::with_capacity(64);
    for batch in [64, 8] {
        let (x, labels, _) = classifier_data(batch);
        let first = allocations(|| {
            losses.push(
                model
                    .fit_with(&mut workspace, x.view(), labels.view())
                    .unwrap(),
            );
        });
        if batch == 64 {
            assert!(first > 0, "the first call sizes the workspace");
        }
        let steady = allocations(|| {
            for _ in 0..20 {
                losses.push(
                    model
                        .fit_with(&mut workspace, x.view(), labels.view())
                        .unwrap(),
                );
            }
        });
        assert_eq!(steady, 0, "batch {batch}");
    }
    // The steps trained: the loss fell, and the state moved.
    assert!(losses[20] < losses[0], "{losses:?}");
    assert!(model.fit_bias1() > 0.0 && model.fit_m_w1().iter().any(|&m| m != 0.0));
}

#[test]
fn a_momentum_step_allocates_nothing_after_its_first_call() {
    let (w1, b1, w2, b2) = classifier_weights();
    let mut model = MomentumClassifier::new(w1, b1, w2, b2).unwrap();
    let mut workspace = MomentumClassifierWorkspace::default();
    let mut losses = Vec::with_capacity(64);
    for batch in [64, 8] {
        let (x, _, onehot) = classifier_data(batch);
        let first = allocations(|| {
            losses.push(
                model
                    .fit_with(&mut workspace, x.view(), onehot.view(), 0.05)
                    .unwrap(),
            );
        });
        if batch == 64 {
            assert!(first > 0, "the first call sizes the workspace");
        }
        let steady = allocations(|| {
            for step in 0..20 {
                // A schedule: the learning rate is an input.
                let lr = 0.05 / (1.0 + step as f32);
                losses.push(
                    model
                        .fit_with(&mut workspace, x.view(), onehot.view(), lr)
                        .unwrap(),
                );
            }
        });
        assert_eq!(steady, 0, "batch {batch}");
    }
    assert!(losses[20] < losses[0], "{losses:?}");
    assert!(model.fit_velocity_w1().iter().any(|&v| v != 0.0));
}

graph! {
    /// A step that also returns its predictions.
    struct FitWithOutputs {
        input x: [n, 8];
        input y: [n];
        var w: [8];
        output prediction = matmul(x, w);
        output loss = mean(square(prediction - y));
        step fit = minimize(loss, sgd(lr = 0.01, momentum = 0.9), outputs = [prediction]);
    }
}

#[test]
fn a_step_returning_outputs_allocates_nothing_after_its_first_call() {
    let mut model = FitWithOutputs::zeros();
    let x = Array2::from_shape_fn((32, 8), |(i, j)| ((i + j) % 5) as f32 / 5.0);
    let y = Array1::from_shape_fn(32, |i| (i % 3) as f32);
    let mut workspace = FitWithOutputsWorkspace::default();
    model.fit_with(&mut workspace, x.view(), y.view()).unwrap();
    let steady = allocations(|| {
        for _ in 0..20 {
            let (loss, prediction) = model.fit_with(&mut workspace, x.view(), y.view()).unwrap();
            std::hint::black_box((loss, prediction.sum()));
        }
    });
    assert_eq!(steady, 0);
}
