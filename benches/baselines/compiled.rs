//! The `graph!` versions of the benchmark models, and the adapters the rows
//! call them through.
//!
//! Every row reaches staticflow through exactly one line, the body of the
//! adapter's trait method below: today the allocating per-output method
//! (`model.logits(x)`), which returns a fresh array that the adapter keeps
//! (dropping the previous one, as a caller of that API would).

use staticflow::graph;
use staticflow::ndarray::{Array2, ArrayView2};

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

/// A `graph!` model and the last output it returned.
pub struct Staticflow<G> {
    graph: G,
    out: Array2<f32>,
}

const FED_AS_DECLARED: &str = "the rows feed the shapes the graph declares";

impl Staticflow<SeedScalarGraph> {
    /// The scalar seed graph.
    pub fn seed_scalar() -> Self {
        Self {
            graph: SeedScalarGraph::new(),
            out: Array2::zeros((0, 0)),
        }
    }
}

impl super::ScalarSeed for Staticflow<SeedScalarGraph> {
    fn res(&mut self, a: f32, b: f32) -> f32 {
        self.graph.res(a, b).expect(FED_AS_DECLARED)
    }
}

impl Staticflow<SeedVectorGraph> {
    /// The `[1, 1000]` seed graph.
    ///
    /// # Panics
    /// If `data` is not `[1, 1000]`, the size the graph declares.
    pub fn seed_vector(data: &SeedData) -> Self {
        assert_eq!(
            data.a.dim(),
            (1, 1000),
            "SeedVectorGraph is declared on [1, 1000]"
        );
        Self {
            graph: SeedVectorGraph::new(),
            out: Array2::zeros((0, 0)),
        }
    }
}

impl super::VectorSeed for Staticflow<SeedVectorGraph> {
    fn res(&mut self, a: ArrayView2<'_, f32>, b: ArrayView2<'_, f32>) -> ArrayView2<'_, f32> {
        self.out = self.graph.res(a, b).expect(FED_AS_DECLARED);
        self.out.view()
    }
}

fn layer(data: &MlpData, index: usize) -> (Array2<f32>, staticflow::ndarray::Array1<f32>) {
    let layer = &data.layers[index];
    (layer.weights.clone(), layer.bias.clone())
}

impl Staticflow<Mlp784Graph> {
    /// MLP 784-128-10 with `data`'s weights.
    pub fn mlp784(data: &MlpData) -> Self {
        let ((w1, b1), (w2, b2)) = (layer(data, 0), layer(data, 1));
        let graph = Mlp784Graph::new(w1, b1, w2, b2).expect("weights of the declared shapes");
        Self {
            graph,
            out: Array2::zeros((0, 0)),
        }
    }
}

impl super::Mlp for Staticflow<Mlp784Graph> {
    fn logits(&mut self, x: ArrayView2<'_, f32>) -> ArrayView2<'_, f32> {
        self.out = self.graph.logits(x).expect(FED_AS_DECLARED);
        self.out.view()
    }
}

impl Staticflow<Mlp64Graph> {
    /// MLP 64-256-256-10 with `data`'s weights.
    pub fn mlp64(data: &MlpData) -> Self {
        let ((w1, b1), (w2, b2), (w3, b3)) = (layer(data, 0), layer(data, 1), layer(data, 2));
        let graph =
            Mlp64Graph::new(w1, b1, w2, b2, w3, b3).expect("weights of the declared shapes");
        Self {
            graph,
            out: Array2::zeros((0, 0)),
        }
    }
}

impl super::Mlp for Staticflow<Mlp64Graph> {
    fn logits(&mut self, x: ArrayView2<'_, f32>) -> ArrayView2<'_, f32> {
        self.out = self.graph.logits(x).expect(FED_AS_DECLARED);
        self.out.view()
    }
}
