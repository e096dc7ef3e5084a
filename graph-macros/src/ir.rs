//! The graph IR that every phase after lowering works on.
//!
//! A [`Graph`] is a list of [`Node`]s in topological order: a node's operands
//! always come before it. Each node records the op, its operands, its shape
//! (filled in by `check`), the user's name for it if it has one, and the span
//! of the source it came from, so passes can rewrite the graph and still
//! report errors on the user's tokens.

use std::hash::{Hash, Hasher};

use proc_macro2::Ident;
use syn::{Attribute, Visibility};

use crate::diag::SpanRange;
pub use crate::ops::Op;
use crate::shape::Shape;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct NodeId(pub usize);

pub struct Graph {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub name: Ident,
    pub nodes: Vec<Node>,
    /// Input nodes in declaration order: the parameter order of every entry
    /// point.
    pub inputs: Vec<NodeId>,
    /// Variable nodes in declaration order: the struct's fields and the
    /// constructor's parameters.
    pub variables: Vec<NodeId>,
    pub outputs: Vec<Output>,
    pub updates: Vec<Update>,
    /// Shapes the user wrote on `let`, `const` and `output`, to be checked.
    pub annotations: Vec<Annotation>,
    /// The file the graph was built from (a weight file baked in, or an
    /// ONNX model), as an absolute path, so that the expansion can make
    /// cargo rebuild when it changes.
    pub baked_from: Option<String>,
    /// Whether the graph is `#[no_std]`: emitted on arrays and slices
    /// (`emit::bare`) instead of ndarray.
    pub no_std: bool,
    /// The training steps (`step fit = minimize(..);`), each applying the
    /// updates tagged with its index.
    pub steps: Vec<crate::train::Step>,
    /// Variables that hold optimizer state: zero until a step runs, not
    /// parameters of the constructor.
    pub state: Vec<NodeId>,
    /// Variables of a `#[no_std]` graph whose first value comes from
    /// `#[weights(..)]` but which a step trains, so they stay variables (in
    /// RAM) instead of becoming constants: each with that first value.
    pub initial: Vec<(NodeId, Tensor)>,
    /// Whether the optimizer runs (`#[optimize(off)]` turns it off): the
    /// IR passes, in-place storage, slot sharing and packed weight copies.
    pub optimize: bool,
    /// The doc comments of input and variable declarations, for the docs
    /// of the parameters and accessors.
    pub docs: Vec<(NodeId, String)>,
}

pub struct Node {
    pub op: Op,
    pub operands: Vec<NodeId>,
    /// `None` until `check` infers it, and for nodes whose shape cannot be
    /// known because an operand is in error.
    pub shape: Option<Shape>,
    /// The element type: declared for inputs, inferred with the shape for
    /// everything else.
    pub dtype: DType,
    /// The user's name, for inputs, variables, constants and the root of
    /// every `let` and `output`.
    pub name: Option<Ident>,
    /// The op's name as the user called it, where several names build the
    /// same op (`permute` and `transpose`, `embedding` and `gather`).
    pub called: Option<&'static str>,
    pub span: SpanRange,
    /// The attributes as written in the call, by parameter name, so that a
    /// shape rule's error about one underlines it (`pad`'s `paddings`);
    /// empty for nodes the user did not write as a call.
    pub attributes: Vec<(&'static str, SpanRange)>,
}

pub struct Output {
    pub attrs: Vec<Attribute>,
    pub name: Ident,
    pub node: NodeId,
}

/// `variable = value;`: the variable takes the value when the graph's
/// `update` method runs.
pub struct Update {
    pub variable: NodeId,
    pub value: NodeId,
    /// The training step that applies it (`Graph::steps`), or `None` for
    /// the `update` method's `w = ..;` updates.
    pub step: Option<usize>,
}

pub struct Annotation {
    pub node: NodeId,
    pub name: Ident,
    pub shape: Shape,
    pub span: SpanRange,
}

/// The element type of a value.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum DType {
    F32,
    /// Indices: class labels, embedding ids, `argmax` results.
    Usize,
    /// Masks from comparisons, consumed by `select`.
    Bool,
}

impl DType {
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::Usize => "usize",
            DType::Bool => "bool",
        }
    }
}

/// An `f32` attribute compared and hashed by bit pattern.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Bits(pub u32);

impl Bits {
    pub fn new(value: f32) -> Self {
        Bits(value.to_bits())
    }

    pub fn get(self) -> f32 {
        f32::from_bits(self.0)
    }
}

/// TensorFlow's padding modes for convolution and pooling.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Padding {
    Valid,
    Same,
}

/// One dim of a target shape written in the graph (`reshape`,
/// `broadcast_to`): a size, a symbol, or `-1` for "whatever is left".
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum DimSpec {
    Fixed(usize),
    Symbol(String),
    Infer,
}

/// Which axes an op works on, as written: negative axes count from the end
/// and are resolved against the operand's rank by the shape rule.
pub type Axes = Option<Vec<i64>>;

/// A literal tensor, row-major.
#[derive(Clone, Debug)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

// Constants compare by bit pattern, so that CSE merges only literals that are
// the same `f32` (and `-0.0` stays distinct from `0.0`).
impl PartialEq for Tensor {
    fn eq(&self, other: &Self) -> bool {
        self.shape == other.shape
            && self.values.len() == other.values.len()
            && self
                .values
                .iter()
                .zip(&other.values)
                .all(|(a, b)| a.to_bits() == b.to_bits())
    }
}

impl Eq for Tensor {}

impl Hash for Tensor {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.shape.hash(state);
        for value in &self.values {
            value.to_bits().hash(state);
        }
    }
}

impl Graph {
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.0]
    }

    /// The doc comment of an input's or variable's declaration.
    pub fn doc(&self, id: NodeId) -> Option<&str> {
        self.docs
            .iter()
            .find(|(node, _)| *node == id)
            .map(|(_, doc)| doc.as_str())
    }

    /// The shape of a node whose shape was inferred.
    pub fn shape(&self, id: NodeId) -> &Shape {
        self.nodes[id.0]
            .shape
            .as_ref()
            .expect("emission and passes run only on graphs whose every shape was inferred")
    }

    /// Every node that `roots` depend on, themselves included, as a mask.
    /// The first value baked in for variable `id`, if it has one
    /// ([`Graph::initial`]).
    pub fn initial(&self, id: NodeId) -> Option<&Tensor> {
        self.initial
            .iter()
            .find(|(variable, _)| *variable == id)
            .map(|(_, tensor)| tensor)
    }

    /// The inputs an entry point computing the `needed` nodes takes: those
    /// it reads, and those whose symbolic dims size a node it computes (a
    /// `broadcast_to` target) when no input it reads binds them. Nodes
    /// without a shape (in a graph with errors, for its fallback) bind no
    /// symbol. The generated methods' parameters follow it, and so does the
    /// unused-declaration warning (`lint`).
    pub fn inputs_taken(&self, needed: &[bool]) -> Vec<NodeId> {
        let symbols = |id: NodeId| self.node(id).shape.iter().flat_map(Shape::symbols);
        let bound: Vec<&str> = self
            .inputs
            .iter()
            .filter(|id| needed[id.0])
            .flat_map(|&id| symbols(id))
            .collect();
        let target_symbols: Vec<&str> = (0..self.nodes.len())
            .filter(|&i| needed[i])
            .flat_map(|i| symbols(NodeId(i)))
            .filter(|symbol| !bound.contains(symbol))
            .collect();
        self.inputs
            .iter()
            .copied()
            .filter(|&id| needed[id.0] || symbols(id).any(|s| target_symbols.contains(&s)))
            .collect()
    }

    pub fn reachable(&self, roots: impl IntoIterator<Item = NodeId>) -> Vec<bool> {
        let mut seen = vec![false; self.nodes.len()];
        let mut stack: Vec<NodeId> = roots.into_iter().collect();
        while let Some(id) = stack.pop() {
            if !std::mem::replace(&mut seen[id.0], true) {
                stack.extend(self.nodes[id.0].operands.iter().copied());
            }
        }
        seen
    }

    /// The graph's invariants, checked after every pass in tests: operands
    /// come before their users, arities match, and every shape is known.
    #[cfg(test)]
    pub fn validate(&self) -> Result<(), String> {
        for (index, node) in self.nodes.iter().enumerate() {
            if node.op.is_leaf() != node.operands.is_empty() {
                return Err(format!("node {index} has {} operands", node.operands.len()));
            }
            if let Some(bad) = node.operands.iter().find(|operand| operand.0 >= index) {
                return Err(format!(
                    "node {index} uses node {} before it is defined",
                    bad.0
                ));
            }
            if node.shape.is_none() {
                return Err(format!("node {index} has no shape"));
            }
        }
        let roots = self
            .outputs
            .iter()
            .map(|o| o.node)
            .chain(self.updates.iter().flat_map(|u| [u.variable, u.value]))
            .chain(self.inputs.iter().copied())
            .chain(self.variables.iter().copied());
        if let Some(bad) = roots.into_iter().find(|id| id.0 >= self.nodes.len()) {
            return Err(format!("a root refers to missing node {}", bad.0));
        }
        Ok(())
    }
}
