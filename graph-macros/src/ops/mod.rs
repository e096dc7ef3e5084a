//! The op library, one module per family. Everything the compiler knows
//! about an op lives in its family's module: the signature its calls bind
//! to, the shape and element-type rule, the FLOP count, the DOT label, and
//! the kernels it emits on the `std` (ndarray) and `#[no_std]` (slice)
//! paths. The phases are thin drivers that ask an op's [`Family`].
//!
//! | family | ops |
//! | --- | --- |
//! | [`elementwise`] | unary functions, `+ - * /`, `maximum`/`minimum`, comparisons, `select`, fused trees |
//! | [`reduce`] | `sum`, `mean`, `max`, `min`, `argmax` |
//! | [`loss`] | `softmax`, `log_softmax`, `logsumexp`, `mse`, `softmax_cross_entropy` |
//! | [`linalg`] | `matmul` and the fused `dense` |
//! | [`movement`] | `transpose`, `reshape`, `concat`, `slice`, `pad`, `broadcast_to`, `expand_dims`, `squeeze` |
//! | [`nn`] | `conv2d`, the pools, `batch_norm`, `layer_norm`, `gather` |
//!
//! Adding an op to a family is one variant of its enum, one signature entry,
//! and one arm in each of the family's rules (the compiler lists any arm
//! missing); its kernels go in `graph-runtime` and in the family's kernel
//! table ([`kernels`]), which a test checks against the runtime.

use proc_macro2::TokenStream;

use crate::differentiate::Builder;
use crate::emit::bare::Bare;
use crate::introspect::Polynomial;
use crate::ir::{DType, Graph, Node, NodeId, Tensor};
use crate::shape::{Shape, ShapeError, Typed};
use crate::train::form::TrainingForm;

pub mod autodiff;
pub mod elementwise;
pub mod kernels;
pub mod linalg;
pub mod loss;
pub mod movement;
pub mod nn;
pub mod reduce;
pub mod signature;

pub use kernels::Call;
pub use signature::{bind_partial, build, operands, signature, unknown_op, Signature};

use autodiff::Autodiff;
use elementwise::Elementwise;
use linalg::Linalg;
use loss::Loss;
use movement::Movement;
use nn::Nn;
use reduce::Reduction;

/// The closed set of operations: the three kinds of leaf, and one variant
/// per family. Every phase matches it exhaustively.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Op {
    /// A placeholder fed at each run.
    Input,
    /// Persistent state owned by the generated struct.
    Variable,
    /// An immutable literal.
    Constant(Tensor),
    Elementwise(Elementwise),
    Reduction(Reduction),
    Loss(Loss),
    Linalg(Linalg),
    Movement(Movement),
    Nn(Nn),
    Autodiff(Autodiff),
}

/// What every family answers about each of its ops. No method has a
/// default: a family that forgets a rule does not compile.
pub trait Family {
    /// The op's name in the graph language, in messages and in generated
    /// local names.
    fn word(&self) -> &'static str;

    /// The shape and element type of the result, from the operands'.
    fn infer(&self, operands: &[Typed<'_>]) -> Result<(Shape, DType), ShapeError>;

    /// The floating-point operations of one evaluation, by the conventions
    /// of `graph-runtime/src/summary.rs` (see [`COST_TABLE`]).
    fn flops(&self, at: At<'_>) -> Polynomial;

    /// The node's label in DOT: `word` (as the user called it) with its
    /// attributes, or the formula of a node the optimizer made, over its
    /// operands' names.
    fn label(&self, word: &str, operands: &[String]) -> String;

    /// Whether the label is a formula over the operands (a node the
    /// optimizer made), whose unnamed operands DOT numbers `#i`.
    fn shows_formula(&self) -> bool;

    /// The `std` path: the ndarray kernel computing the node, with its
    /// arguments after the operands' views.
    fn emit(&self, at: At<'_>, operands: Vec<TokenStream>) -> Call;

    /// The `#[no_std]` path: whether a slice kernel computes the node.
    fn bare_support(&self, at: At<'_>) -> bool;

    /// The `#[no_std]` path: the slice-kernel call computing the node into
    /// `bare.destination`.
    fn emit_bare(&self, bare: &Bare<'_>) -> TokenStream;

    /// The gradient rule (a vector-Jacobian product): given `grad`, the
    /// gradient of the loss with respect to node `node`'s value, the nodes
    /// computing the gradient with respect to each operand, built with `b`
    /// out of ordinary ops; `None` for an operand no gradient flows to
    /// (indices, masks). `Err` names why the op has no rule.
    fn vjp(
        &self,
        node: NodeId,
        grad: NodeId,
        b: &mut Builder<'_>,
    ) -> Result<Vec<Option<NodeId>>, String>;

    /// Whether the op is the identity wherever it is not in a training
    /// step's forward pass (`dropout`): the optimizer forwards its one
    /// operand.
    fn is_identity(&self) -> bool;

    /// The training form: how a training step's forward pass computes
    /// `node`, given the values its operands take in that pass (`operands`,
    /// which differ from the node's own where an operand has a training
    /// form). `Ok(None)`: the op itself over `operands`; `Ok(Some(value))`:
    /// a value built with `t`, which may also give the step updates and
    /// state; `Err` says why a step cannot run the op.
    fn training_form(
        &self,
        node: NodeId,
        operands: &[NodeId],
        t: &mut TrainingForm<'_, '_>,
    ) -> Result<Option<NodeId>, String>;
}

impl Op {
    /// The family answering for this op; `None` for leaves, which compute
    /// nothing.
    pub fn family(&self) -> Option<&dyn Family> {
        match self {
            Op::Input | Op::Variable | Op::Constant(_) => None,
            Op::Elementwise(op) => Some(op),
            Op::Reduction(op) => Some(op),
            Op::Loss(op) => Some(op),
            Op::Linalg(op) => Some(op),
            Op::Movement(op) => Some(op),
            Op::Nn(op) => Some(op),
            Op::Autodiff(op) => Some(op),
        }
    }

    /// The op's name in the graph language and in generated local names.
    pub fn word(&self) -> &'static str {
        match self {
            Op::Input => "input",
            Op::Variable => "var",
            Op::Constant(_) => "const",
            Op::Elementwise(op) => op.word(),
            Op::Reduction(op) => op.word(),
            Op::Loss(op) => op.word(),
            Op::Linalg(op) => op.word(),
            Op::Movement(op) => op.word(),
            Op::Nn(op) => op.word(),
            Op::Autodiff(op) => op.word(),
        }
    }

    /// How the op is named in messages: its operator where it has one.
    pub fn symbol(&self) -> &'static str {
        match self {
            Op::Elementwise(op) => op.symbol(),
            Op::Input
            | Op::Variable
            | Op::Constant(_)
            | Op::Reduction(_)
            | Op::Loss(_)
            | Op::Linalg(_)
            | Op::Movement(_)
            | Op::Nn(_)
            | Op::Autodiff(_) => self.word(),
        }
    }

    pub fn is_leaf(&self) -> bool {
        self.family().is_none()
    }

    /// The elementwise op, if this is one.
    pub fn elementwise(&self) -> Option<&Elementwise> {
        match self {
            Op::Elementwise(op) => Some(op),
            Op::Input
            | Op::Variable
            | Op::Constant(_)
            | Op::Reduction(_)
            | Op::Loss(_)
            | Op::Linalg(_)
            | Op::Movement(_)
            | Op::Nn(_)
            | Op::Autodiff(_) => None,
        }
    }

    /// The neural-network op, if this is one.
    pub fn nn(&self) -> Option<&Nn> {
        match self {
            Op::Nn(op) => Some(op),
            Op::Input
            | Op::Variable
            | Op::Constant(_)
            | Op::Elementwise(_)
            | Op::Reduction(_)
            | Op::Loss(_)
            | Op::Linalg(_)
            | Op::Movement(_)
            | Op::Autodiff(_) => None,
        }
    }

    /// The linear-algebra op, if this is one.
    pub fn linalg(&self) -> Option<&Linalg> {
        match self {
            Op::Linalg(op) => Some(op),
            Op::Input
            | Op::Variable
            | Op::Constant(_)
            | Op::Elementwise(_)
            | Op::Reduction(_)
            | Op::Loss(_)
            | Op::Movement(_)
            | Op::Nn(_)
            | Op::Autodiff(_) => None,
        }
    }
}

/// Every signature callable by name, family by family, in the order the
/// language reference lists them.
pub static SIGNATURES: &[&[Signature]] = &[
    elementwise::unary::SIGNATURES,
    elementwise::SIGNATURES,
    reduce::SIGNATURES,
    loss::SIGNATURES,
    linalg::SIGNATURES,
    movement::SIGNATURES,
    nn::SIGNATURES,
    autodiff::SIGNATURES,
];

/// Every family's table of ops under other frameworks' names, with what to
/// write instead (see [`signature::unknown_op`]).
pub static ALIASES: &[&[(&str, &str)]] = &[
    elementwise::ALIASES,
    reduce::ALIASES,
    loss::ALIASES,
    linalg::ALIASES,
    movement::ALIASES,
    nn::ALIASES,
];

/// The cost conventions, family by family, as the rows of the table in
/// `graph-runtime/src/summary.rs`'s documentation (a test keeps the two
/// equal): `(ops, operations)`.
#[cfg_attr(not(test), allow(dead_code))]
pub fn cost_table() -> Vec<(String, String)> {
    let mut rows = elementwise::cost_rows();
    rows.extend(reduce::COST_ROWS.iter().map(owned));
    rows.extend(loss::COST_ROWS.iter().map(owned));
    rows.extend(linalg::COST_ROWS.iter().map(owned));
    rows.extend(nn::COST_ROWS.iter().map(owned));
    rows.extend(movement::COST_ROWS.iter().map(owned));
    rows.extend(elementwise::FUSED_COST_ROWS.iter().map(owned));
    rows
}

#[cfg_attr(not(test), allow(dead_code))]
fn owned(&(ops, cost): &(&str, &str)) -> (String, String) {
    (ops.to_string(), cost.to_string())
}

/// A node as the family rules see it: the graph and the node's id, with
/// shortcuts to its operands.
#[derive(Clone, Copy)]
pub struct At<'g> {
    pub graph: &'g Graph,
    pub id: NodeId,
}

impl<'g> At<'g> {
    pub fn new(graph: &'g Graph, id: NodeId) -> Self {
        At { graph, id }
    }

    pub fn node(&self) -> &'g Node {
        self.graph.node(self.id)
    }

    pub fn shape(&self) -> &'g Shape {
        self.graph.shape(self.id)
    }

    /// The id of operand `i`.
    pub fn operand(&self, i: usize) -> NodeId {
        self.node().operands[i]
    }

    pub fn operand_shape(&self, i: usize) -> &'g Shape {
        self.graph.shape(self.operand(i))
    }

    pub fn operand_dtype(&self, i: usize) -> DType {
        self.graph.node(self.operand(i)).dtype
    }

    /// An axis as written, resolved against operand `i`'s rank (`check`
    /// validated it).
    pub fn axis_of(&self, i: usize, axis: i64) -> usize {
        crate::shape::axis(axis, self.operand_shape(i).rank()).unwrap_or(0)
    }

    /// How run-time errors name operand `i`, which they quote: the user's
    /// name, or the call that made it (`argmax(..)`).
    pub fn describe_operand(&self, i: usize) -> String {
        let node = self.graph.node(self.operand(i));
        node.name
            .as_ref()
            .map_or_else(|| format!("{}(..)", node.op.word()), ToString::to_string)
    }
}

#[cfg(test)]
mod tests {
    /// The cost table of `graph-runtime/src/summary.rs`'s documentation is
    /// the families' [`super::cost_table`], row for row.
    #[test]
    fn the_runtime_documents_the_families_cost_rules() {
        let source = include_str!("../../../graph-runtime/src/summary.rs");
        let documented: Vec<(String, String)> = source
            .lines()
            .map(|line| line.trim_start_matches("//!").trim())
            .skip_while(|line| *line != "| op | operations |")
            .skip(2)
            .take_while(|line| line.starts_with('|'))
            .map(|line| {
                let cells: Vec<&str> = line.trim_matches('|').split(" | ").collect();
                (cells[0].trim().to_string(), cells[1].trim().to_string())
            })
            .collect();
        let expected = super::cost_table();
        let table = expected
            .iter()
            .map(|(ops, cost)| format!("//! | {ops} | {cost} |"))
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!(
            documented, expected,
            "graph-runtime/src/summary.rs should document the cost rules as:\n{table}"
        );
    }
}
