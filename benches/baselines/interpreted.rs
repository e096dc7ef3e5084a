//! A run-time dataflow graph in the style of TensorFlow's classic `Session`
//! (and of staticflow's seed design): nodes in a `Vec` with an op enum, values
//! fed through a map from placeholder names to arrays, and on every run a
//! topological sort of what the fetched node needs (post-order depth-first
//! search) followed by one dispatch per node.
//!
//! Written plainly, without deliberate slowness: placeholders and variables
//! are borrowed, not copied, into the run's value table; each op is one
//! ndarray call. The feed map lives across calls, like a reused feed dict:
//! each call copies the caller's arrays into it (TensorFlow copies feeds
//! too) but allocates no new entries.

use std::borrow::Cow;
use std::collections::HashMap;

use staticflow::ndarray::{ArrayD, ArrayView2, Ix2};

use super::data::{MlpData, SeedData};

/// An index into [`Graph::nodes`].
pub type NodeId = usize;

/// What a node computes.
pub enum Op {
    /// A value fed at run time under this name.
    Placeholder(String),
    /// A value stored in the graph.
    Variable(ArrayD<f32>),
    /// Matrix product of two 2-D values.
    MatMul,
    /// Elementwise sum, with numpy broadcasting.
    Add,
    /// Elementwise product, with numpy broadcasting.
    Mul,
    /// Elementwise quotient, with numpy broadcasting.
    Div,
    /// `max(x, 0)`.
    Relu,
}

struct Node {
    op: Op,
    inputs: Vec<NodeId>,
}

/// A graph built at run time.
#[derive(Default)]
pub struct Graph {
    nodes: Vec<Node>,
}

/// Why a run failed.
#[derive(Debug)]
pub enum RunError {
    /// A placeholder the fetched node needs has no entry in the feed map.
    MissingFeed(String),
    /// An op got operands it cannot combine.
    Shape(String),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::MissingFeed(name) => write!(f, "no value fed for placeholder `{name}`"),
            Self::Shape(what) => write!(f, "operands do not fit: {what}"),
        }
    }
}

type Feed = HashMap<String, ArrayD<f32>>;

impl Graph {
    /// Adds a node computing `op` of `inputs`.
    pub fn add(&mut self, op: Op, inputs: &[NodeId]) -> NodeId {
        self.nodes.push(Node {
            op,
            inputs: inputs.to_vec(),
        });
        self.nodes.len() - 1
    }

    /// The nodes `fetch` depends on, each after its inputs, `fetch` last.
    fn topological_order(&self, fetch: NodeId) -> Vec<NodeId> {
        fn visit(graph: &Graph, id: NodeId, visited: &mut [bool], order: &mut Vec<NodeId>) {
            if visited[id] {
                return;
            }
            visited[id] = true;
            for &input in &graph.nodes[id].inputs {
                visit(graph, input, visited, order);
            }
            order.push(id);
        }
        let mut visited = vec![false; self.nodes.len()];
        let mut order = Vec::new();
        visit(self, fetch, &mut visited, &mut order);
        order
    }

    /// Computes `fetch` from the values in `feed`: sorts the nodes it needs,
    /// then evaluates them in order.
    pub fn run(&self, fetch: NodeId, feed: &Feed) -> Result<ArrayD<f32>, RunError> {
        let mut values: Vec<Option<Cow<'_, ArrayD<f32>>>> = vec![None; self.nodes.len()];
        for id in self.topological_order(fetch) {
            let node = &self.nodes[id];
            let arg = |i: usize| -> &ArrayD<f32> {
                values[node.inputs[i]]
                    .as_deref()
                    .expect("the order puts every input before its users")
            };
            let value = match &node.op {
                Op::Placeholder(name) => Cow::Borrowed(
                    feed.get(name)
                        .ok_or_else(|| RunError::MissingFeed(name.clone()))?,
                ),
                Op::Variable(value) => Cow::Borrowed(value),
                Op::MatMul => {
                    let a = matrix(arg(0))?;
                    let b = matrix(arg(1))?;
                    if a.ncols() != b.nrows() {
                        return Err(RunError::Shape(format!(
                            "matmul of {:?} and {:?}",
                            a.shape(),
                            b.shape()
                        )));
                    }
                    Cow::Owned(a.dot(&b).into_dyn())
                }
                Op::Add => Cow::Owned(broadcastable(arg(0), arg(1))? + arg(1)),
                Op::Mul => Cow::Owned(broadcastable(arg(0), arg(1))? * arg(1)),
                Op::Div => Cow::Owned(broadcastable(arg(0), arg(1))? / arg(1)),
                Op::Relu => Cow::Owned(arg(0).mapv(|v| v.max(0.0))),
            };
            values[id] = Some(value);
        }
        Ok(values[fetch]
            .take()
            .expect("the fetched node is the last one evaluated")
            .into_owned())
    }
}

fn matrix(value: &ArrayD<f32>) -> Result<ArrayView2<'_, f32>, RunError> {
    value
        .view()
        .into_dimensionality::<Ix2>()
        .map_err(|_| RunError::Shape(format!("matmul of a {}-D value", value.ndim())))
}

/// `a`, if it broadcasts with `b` in numpy's sense (ndarray's operators
/// would panic otherwise).
fn broadcastable<'a>(a: &'a ArrayD<f32>, b: &ArrayD<f32>) -> Result<&'a ArrayD<f32>, RunError> {
    if broadcasts(a.shape(), b.shape()) {
        Ok(a)
    } else {
        Err(RunError::Shape(format!(
            "{:?} with {:?}",
            a.shape(),
            b.shape()
        )))
    }
}

/// Numpy's rule: aligned at the last axis, sizes equal or one of them 1.
fn broadcasts(a: &[usize], b: &[usize]) -> bool {
    a.iter()
        .rev()
        .zip(b.iter().rev())
        .all(|(&x, &y)| x == y || x == 1 || y == 1)
}

/// The seed graph `(a·b) / (a + b)` as a run-time graph, on scalars or rows.
pub struct Seed {
    graph: Graph,
    res: NodeId,
    feed: Feed,
    out: ArrayD<f32>,
}

impl Seed {
    /// Builds the graph, and a feed map with entries of `data`'s shape
    /// (`None`: scalars).
    pub fn new(data: Option<&SeedData>) -> Self {
        let mut graph = Graph::default();
        let a = graph.add(Op::Placeholder("a".to_owned()), &[]);
        let b = graph.add(Op::Placeholder("b".to_owned()), &[]);
        let product = graph.add(Op::Mul, &[a, b]);
        let sum = graph.add(Op::Add, &[a, b]);
        let res = graph.add(Op::Div, &[product, sum]);
        let shape: &[usize] = data.map_or(&[], |data| data.a.shape());
        let feed = ["a", "b"]
            .into_iter()
            .map(|name| (name.to_owned(), ArrayD::zeros(shape)))
            .collect();
        Self {
            graph,
            res,
            feed,
            out: ArrayD::zeros(shape),
        }
    }

    fn feed_and_run(&mut self, a: impl FnOnce(&mut ArrayD<f32>), b: impl FnOnce(&mut ArrayD<f32>)) {
        a(self.feed.get_mut("a").expect("fed at construction"));
        b(self.feed.get_mut("b").expect("fed at construction"));
        self.out = self
            .graph
            .run(self.res, &self.feed)
            .unwrap_or_else(|error| panic!("the seed graph runs: {error}"));
    }
}

impl super::ScalarSeed for Seed {
    fn res(&mut self, a: f32, b: f32) -> f32 {
        self.feed_and_run(|fed| fed.fill(a), |fed| fed.fill(b));
        self.out.first().copied().expect("a scalar has one element")
    }
}

impl super::VectorSeed for Seed {
    fn res<'a>(
        &'a mut self,
        a: ArrayView2<'a, f32>,
        b: ArrayView2<'a, f32>,
    ) -> ArrayView2<'a, f32> {
        self.feed_and_run(|fed| fed.assign(&a), |fed| fed.assign(&b));
        self.out
            .view()
            .into_dimensionality()
            .expect("rows in, rows out")
    }
}

/// An MLP as a run-time graph: `x` fed, weights as variables.
pub struct Mlp {
    graph: Graph,
    logits: NodeId,
    feed: Feed,
    out: ArrayD<f32>,
}

impl Mlp {
    /// Builds the graph from `data`'s weights, and a feed map with an entry
    /// of `data.x`'s shape.
    pub fn new(data: &MlpData) -> Self {
        let mut graph = Graph::default();
        let mut h = graph.add(Op::Placeholder("x".to_owned()), &[]);
        for (index, layer) in data.layers.iter().enumerate() {
            if index > 0 {
                h = graph.add(Op::Relu, &[h]);
            }
            let w = graph.add(Op::Variable(layer.weights.clone().into_dyn()), &[]);
            let b = graph.add(Op::Variable(layer.bias.clone().into_dyn()), &[]);
            let product = graph.add(Op::MatMul, &[h, w]);
            h = graph.add(Op::Add, &[product, b]);
        }
        let feed = HashMap::from([("x".to_owned(), data.x.clone().into_dyn())]);
        Self {
            graph,
            logits: h,
            feed,
            out: ArrayD::zeros(vec![0]),
        }
    }
}

impl super::Mlp for Mlp {
    fn logits<'a>(&'a mut self, x: ArrayView2<'a, f32>) -> ArrayView2<'a, f32> {
        self.feed
            .get_mut("x")
            .expect("fed at construction")
            .assign(&x);
        self.out = self
            .graph
            .run(self.logits, &self.feed)
            .unwrap_or_else(|error| panic!("the MLP graph runs: {error}"));
        self.out
            .view()
            .into_dimensionality()
            .expect("a batch in, a batch out")
    }
}
