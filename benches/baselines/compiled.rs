//! The `graph!` versions of the benchmark models, and the adapters the rows
//! call them through, one per entry point:
//!
//! - [`Staticflow`] (ID `staticflow`, the reference of every row): the
//!   workspace form, `model.logits_with(&mut workspace, x)`, which returns a
//!   view into a workspace reused across calls and allocates nothing once warm;
//! - [`Owned`] (ID `staticflow_owned`): the convenience form,
//!   `model.logits(x)`, which creates a workspace per call and returns an
//!   owned array (kept by the adapter, dropping the previous one, as a caller
//!   would).
//!
//! Each adapter reaches its model through one line, the body of its trait
//! method.

use staticflow::graph;
use staticflow::ndarray::{Array1, Array2, ArrayView2};

use super::data::{MlpData, SeedData};

graph! {
    /// The seed graph on scalars fed at run time, so nothing folds away.
    pub struct SeedScalarGraph {
        input a: [];
        input b: [];
        output res = (a * b) / (a + b);
    }
}

graph! {
    /// The seed graph on `[1, 1000]` rows.
    pub struct SeedVectorGraph {
        input a: [1, 1000];
        input b: [1, 1000];
        output res = (a * b) / (a + b);
    }
}

graph! {
    /// MLP 784-128-10 to logits.
    pub struct Mlp784Graph {
        input x: [n, 784];
        var w1: [784, 128];
        var b1: [128];
        var w2: [128, 10];
        var b2: [10];
        let h = relu(matmul(x, w1) + b1);
        output logits = matmul(h, w2) + b2;
    }
}

graph! {
    /// MLP 64-256-256-10 to logits.
    pub struct Mlp64Graph {
        input x: [n, 64];
        var w1: [64, 256];
        var b1: [256];
        var w2: [256, 256];
        var b2: [256];
        var w3: [256, 10];
        var b3: [10];
        let h1 = relu(matmul(x, w1) + b1);
        let h2 = relu(matmul(h1, w2) + b2);
        output logits = matmul(h2, w3) + b3;
    }
}

/// A `graph!` model called through its workspace form (`*_with`).
pub struct Staticflow<G, W> {
    graph: G,
    workspace: W,
}

/// A `graph!` model called through its allocating form, and the last output
/// it returned.
pub struct Owned<G> {
    graph: G,
    out: Array2<f32>,
}

const FED_AS_DECLARED: &str = "the rows feed the shapes the graph declares";

/// Both adapters of one graph, each with its own copy built by `graph`.
fn both<G, W: Default>(graph: impl Fn() -> G) -> (Staticflow<G, W>, Owned<G>) {
    let owned = Owned {
        graph: graph(),
        out: Array2::zeros((0, 0)),
    };
    (
        Staticflow {
            graph: graph(),
            workspace: W::default(),
        },
        owned,
    )
}

/// The scalar seed graph, workspace and allocating forms.
pub fn seed_scalar() -> (
    Staticflow<SeedScalarGraph, SeedScalarGraphWorkspace>,
    Owned<SeedScalarGraph>,
) {
    both(SeedScalarGraph::new)
}

impl super::ScalarSeed for Staticflow<SeedScalarGraph, SeedScalarGraphWorkspace> {
    fn res(&mut self, a: f32, b: f32) -> f32 {
        self.graph
            .res_with(&mut self.workspace, a, b)
            .expect(FED_AS_DECLARED)
    }
}

impl super::ScalarSeed for Owned<SeedScalarGraph> {
    fn res(&mut self, a: f32, b: f32) -> f32 {
        self.graph.res(a, b).expect(FED_AS_DECLARED)
    }
}

/// The `[1, 1000]` seed graph, workspace and allocating forms.
///
/// # Panics
/// If `data` is not `[1, 1000]`, the size the graph declares.
pub fn seed_vector(
    data: &SeedData,
) -> (
    Staticflow<SeedVectorGraph, SeedVectorGraphWorkspace>,
    Owned<SeedVectorGraph>,
) {
    assert_eq!(
        data.a.dim(),
        (1, 1000),
        "SeedVectorGraph is declared on [1, 1000]"
    );
    both(SeedVectorGraph::new)
}

impl super::VectorSeed for Staticflow<SeedVectorGraph, SeedVectorGraphWorkspace> {
    fn res<'a>(
        &'a mut self,
        a: ArrayView2<'a, f32>,
        b: ArrayView2<'a, f32>,
    ) -> ArrayView2<'a, f32> {
        self.graph
            .res_with(&mut self.workspace, a, b)
            .expect(FED_AS_DECLARED)
    }
}

impl super::VectorSeed for Owned<SeedVectorGraph> {
    fn res<'a>(
        &'a mut self,
        a: ArrayView2<'a, f32>,
        b: ArrayView2<'a, f32>,
    ) -> ArrayView2<'a, f32> {
        self.out = self.graph.res(a, b).expect(FED_AS_DECLARED);
        self.out.view()
    }
}

fn layer(data: &MlpData, index: usize) -> (Array2<f32>, Array1<f32>) {
    let layer = &data.layers[index];
    (layer.weights.clone(), layer.bias.clone())
}

/// MLP 784-128-10 with `data`'s weights, workspace and allocating forms.
pub fn mlp784(
    data: &MlpData,
) -> (
    Staticflow<Mlp784Graph, Mlp784GraphWorkspace>,
    Owned<Mlp784Graph>,
) {
    both(|| {
        let ((w1, b1), (w2, b2)) = (layer(data, 0), layer(data, 1));
        Mlp784Graph::new(w1, b1, w2, b2).expect("weights of the declared shapes")
    })
}

impl super::Mlp for Staticflow<Mlp784Graph, Mlp784GraphWorkspace> {
    fn logits<'a>(&'a mut self, x: ArrayView2<'a, f32>) -> ArrayView2<'a, f32> {
        self.graph
            .logits_with(&mut self.workspace, x)
            .expect(FED_AS_DECLARED)
    }
}

impl super::Mlp for Owned<Mlp784Graph> {
    fn logits<'a>(&'a mut self, x: ArrayView2<'a, f32>) -> ArrayView2<'a, f32> {
        self.out = self.graph.logits(x).expect(FED_AS_DECLARED);
        self.out.view()
    }
}

/// MLP 64-256-256-10 with `data`'s weights, workspace and allocating forms.
pub fn mlp64(
    data: &MlpData,
) -> (
    Staticflow<Mlp64Graph, Mlp64GraphWorkspace>,
    Owned<Mlp64Graph>,
) {
    both(|| {
        let ((w1, b1), (w2, b2), (w3, b3)) = (layer(data, 0), layer(data, 1), layer(data, 2));
        Mlp64Graph::new(w1, b1, w2, b2, w3, b3).expect("weights of the declared shapes")
    })
}

impl super::Mlp for Staticflow<Mlp64Graph, Mlp64GraphWorkspace> {
    fn logits<'a>(&'a mut self, x: ArrayView2<'a, f32>) -> ArrayView2<'a, f32> {
        self.graph
            .logits_with(&mut self.workspace, x)
            .expect(FED_AS_DECLARED)
    }
}

impl super::Mlp for Owned<Mlp64Graph> {
    fn logits<'a>(&'a mut self, x: ArrayView2<'a, f32>) -> ArrayView2<'a, f32> {
        self.out = self.graph.logits(x).expect(FED_AS_DECLARED);
        self.out.view()
    }
}

/// An implementation run with `threads` threads allowed for its large
/// matrix products (ID `staticflow_2t`), through the `parallel` feature's
/// process-wide setting: set before each call and reset to 1 after it, so
/// the single-thread rows measured next are not affected.
#[cfg(feature = "parallel")]
pub struct Threads<T> {
    /// The wrapped implementation.
    pub inner: T,
    /// The thread count it runs with.
    pub threads: usize,
}

#[cfg(feature = "parallel")]
impl<T: super::Mlp + ?Sized> super::Mlp for Threads<Box<T>> {
    fn logits<'a>(&'a mut self, x: ArrayView2<'a, f32>) -> ArrayView2<'a, f32> {
        staticflow::threads::set_threads(self.threads);
        let logits = self.inner.logits(x);
        staticflow::threads::set_threads(1);
        logits
    }
}
