//! After the first call, running a graph through a reused workspace performs
//! no heap allocation. A counting global allocator observes every allocation
//! of this test binary.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use staticflow::graph;
use staticflow::ndarray::{Array1, Array2};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to `System` unchanged; counting is a relaxed
// atomic increment, which cannot allocate or fail.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller upholds `GlobalAlloc::alloc_zeroed`'s contract.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Tests run on several threads; counting is per test, so they take turns.
static SERIAL: Mutex<()> = Mutex::new(());

/// Allocations made while running `f`.
fn allocations(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    f();
    ALLOCATIONS.load(Ordering::SeqCst) - before
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
    let _turn = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
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
    let _turn = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
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
    let _turn = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
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
