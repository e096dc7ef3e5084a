//! Phase 5, optimization: IR-to-IR passes over a checked graph.
//!
//! Each pass is a `fn(&mut Graph)` that keeps the graph valid (topological
//! order, every shape known) and keeps the span and name of the node the user
//! wrote. `run` lists them in order.

use std::collections::HashMap;

use crate::ir::{Activation, Binary, Graph, NodeId, Op, Scalar, Tensor, Unary};

pub fn run(graph: &mut Graph) {
    fold_constants(graph);
    eliminate_common_subexpressions(graph);
    fuse_dense(graph);
    fuse_elementwise(graph);
    eliminate_dead_nodes(graph);
}

/// Folded constants larger than this stay computed at run time, so that a
/// broadcast cannot blow a small literal up into a huge one in the binary.
const MAX_FOLDED_ELEMENTS: usize = 4096;

/// Computes at compile time the nodes whose operands are all constants, for
/// the ops whose `f32` result is exactly defined (IEEE arithmetic, sign and
/// comparison-based functions), so folding never changes a value. Results
/// that are not finite stay computed at run time.
pub fn fold_constants(graph: &mut Graph) {
    for index in 0..graph.nodes.len() {
        let node = &graph.nodes[index];
        let Some(shape) = node.shape.as_ref().and_then(crate::shape::Shape::as_fixed) else {
            continue;
        };
        let element = match &node.op {
            Op::Binary(binary @ (Binary::Add | Binary::Sub | Binary::Mul | Binary::Div)) => {
                Fold::Binary(*binary)
            }
            Op::Unary(
                unary @ (Unary::Neg
                | Unary::Abs
                | Unary::Square
                | Unary::Relu
                | Unary::LeakyRelu(_)),
            ) => Fold::Unary(*unary),
            _ => continue,
        };
        let operands: Option<Vec<&Tensor>> = node
            .operands
            .iter()
            .map(|o| match &graph.nodes[o.0].op {
                Op::Constant(tensor) => Some(tensor),
                _ => None,
            })
            .collect();
        let Some(operands) = operands else { continue };
        let count: usize = shape.iter().product();
        if count > MAX_FOLDED_ELEMENTS {
            continue;
        }
        let values: Vec<f32> = (0..count)
            .map(|flat| {
                let index = unravel(flat, &shape);
                let args: Vec<f32> = operands.iter().map(|t| broadcast_get(t, &index)).collect();
                element.apply(&args)
            })
            .collect();
        if values.iter().all(|v| v.is_finite()) {
            let node = &mut graph.nodes[index];
            node.op = Op::Constant(Tensor { shape, values });
            node.operands.clear();
        }
    }
}

#[derive(Clone, Copy)]
enum Fold {
    Unary(Unary),
    Binary(Binary),
}

impl Fold {
    fn apply(self, args: &[f32]) -> f32 {
        match self {
            Fold::Binary(Binary::Add) => args[0] + args[1],
            Fold::Binary(Binary::Sub) => args[0] - args[1],
            Fold::Binary(Binary::Mul) => args[0] * args[1],
            Fold::Binary(_) => args[0] / args[1],
            Fold::Unary(Unary::Neg) => -args[0],
            Fold::Unary(Unary::Abs) => args[0].abs(),
            Fold::Unary(Unary::Square) => args[0] * args[0],
            Fold::Unary(Unary::Relu) => {
                if args[0] < 0.0 {
                    0.0
                } else {
                    args[0]
                }
            }
            Fold::Unary(Unary::LeakyRelu(alpha)) => {
                if args[0] < 0.0 {
                    alpha.get() * args[0]
                } else {
                    args[0]
                }
            }
            Fold::Unary(_) => f32::NAN,
        }
    }
}

/// The multi-index of the `flat`-th element of a row-major shape.
fn unravel(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut index = vec![0; shape.len()];
    for (axis, &size) in shape.iter().enumerate().rev() {
        if size > 0 {
            index[axis] = flat % size;
            flat /= size;
        }
    }
    index
}

/// The element of `tensor` that numpy broadcasting pairs with `index` of the
/// (larger) result.
fn broadcast_get(tensor: &Tensor, index: &[usize]) -> f32 {
    let offset = index.len() - tensor.shape.len();
    let mut flat = 0;
    for (axis, &size) in tensor.shape.iter().enumerate() {
        let i = if size == 1 { 0 } else { index[offset + axis] };
        flat = flat * size + i;
    }
    tensor.values[flat]
}

/// How many times each node's value is used: by other nodes, as an output,
/// or as the new value of a variable.
fn use_counts(graph: &Graph) -> Vec<usize> {
    let mut uses = vec![0; graph.nodes.len()];
    for node in &graph.nodes {
        for operand in &node.operands {
            uses[operand.0] += 1;
        }
    }
    for output in &graph.outputs {
        uses[output.node.0] += 1;
    }
    for update in &graph.updates {
        uses[update.value.0] += 1;
    }
    uses
}

/// Whether node `id` is an intermediate that only one node reads, so that
/// node may absorb it.
fn absorbable(graph: &Graph, uses: &[usize], id: NodeId) -> bool {
    uses[id.0] == 1
        && !graph.outputs.iter().any(|o| o.node == id)
        && !graph.updates.iter().any(|u| u.value == id)
}

/// Fuses `matmul(x, w)` with a following bias add and activation into one
/// `Dense` node, whose kernel applies both as it finishes each output row.
pub fn fuse_dense(graph: &mut Graph) {
    let mut uses = use_counts(graph);
    for index in 0..graph.nodes.len() {
        let node = &graph.nodes[index];
        // A matrix times a matrix; in `#[no_std]` graphs, whose dense kernel
        // takes a vector as a one-row matrix, also a vector times a matrix.
        let is_matmul_2d = |id: NodeId| {
            let n = graph.node(id);
            let x_ranks: &[usize] = if graph.no_std { &[1, 2] } else { &[2] };
            n.op == Op::MatMul
                && x_ranks.contains(&graph.shape(n.operands[0]).rank())
                && graph.shape(n.operands[1]).rank() == 2
        };
        let replacement = match &node.op {
            // matmul(x, w) + b, with b one value per output column.
            Op::Binary(Binary::Add) => {
                let (l, r) = (node.operands[0], node.operands[1]);
                let (product, bias) = if is_matmul_2d(l) { (l, r) } else { (r, l) };
                let columns = graph.shape(product).0.last().cloned();
                let bias_fits = graph.shape(bias).0.len() == 1
                    && graph.shape(bias).0.last().cloned() == columns;
                (is_matmul_2d(product) && bias_fits && absorbable(graph, &uses, product)).then(
                    || {
                        let mut operands = graph.node(product).operands.clone();
                        operands.push(bias);
                        (
                            Op::Dense {
                                bias: true,
                                activation: Activation::Identity,
                            },
                            operands,
                            product,
                        )
                    },
                )
            }
            Op::Unary(unary) => {
                let activation = match unary {
                    Unary::Relu => Some(Activation::Relu),
                    Unary::LeakyRelu(alpha) => Some(Activation::LeakyRelu(*alpha)),
                    Unary::Sigmoid => Some(Activation::Sigmoid),
                    Unary::Tanh => Some(Activation::Tanh),
                    _ => None,
                };
                let inner = node.operands[0];
                let inner_node = graph.node(inner);
                match (activation, &inner_node.op) {
                    (
                        Some(activation),
                        Op::Dense {
                            bias,
                            activation: Activation::Identity,
                        },
                    ) if absorbable(graph, &uses, inner) => Some((
                        Op::Dense {
                            bias: *bias,
                            activation,
                        },
                        inner_node.operands.clone(),
                        inner,
                    )),
                    (Some(activation), Op::MatMul)
                        if is_matmul_2d(inner) && absorbable(graph, &uses, inner) =>
                    {
                        Some((
                            Op::Dense {
                                bias: false,
                                activation,
                            },
                            inner_node.operands.clone(),
                            inner,
                        ))
                    }
                    _ => None,
                }
            }
            _ => None,
        };
        if let Some((op, operands, absorbed)) = replacement {
            // The absorbed node is dead now; its operands are read by this one.
            uses[absorbed.0] = 0;
            let node = &mut graph.nodes[index];
            node.op = op;
            node.operands = operands;
            node.called = None;
        }
    }
}

/// Most operands a fused node takes (the run-time helper zips at most this
/// many inputs with the output).
const MAX_FUSED_OPERANDS: usize = 5;

/// Merges trees of elementwise ops into single `Fused` nodes: one pass over
/// memory computes each element of the tree's root, with no temporaries.
pub fn fuse_elementwise(graph: &mut Graph) {
    let uses = use_counts(graph);
    let mut absorbed = vec![false; graph.nodes.len()];
    // Roots first: a node absorbed into its user is not a root itself.
    for index in (0..graph.nodes.len()).rev() {
        if absorbed[index] || !is_elementwise(graph, NodeId(index)) {
            continue;
        }
        let mut leaves: Vec<NodeId> = Vec::new();
        let mut inner: Vec<NodeId> = Vec::new();
        let expression = scalar_tree(graph, &uses, NodeId(index), true, &mut leaves, &mut inner);
        if inner.is_empty() {
            continue; // a lone op: its own kernel is as good
        }
        for id in &inner {
            absorbed[id.0] = true;
        }
        let node = &mut graph.nodes[index];
        node.op = Op::Fused(expression);
        node.operands = leaves;
        node.called = None;
    }
}

fn is_elementwise(graph: &Graph, id: NodeId) -> bool {
    let node = graph.node(id);
    matches!(node.op, Op::Unary(_) | Op::Binary(_))
        && node.dtype == crate::ir::DType::F32
        && !graph.shape(id).is_scalar()
}

/// The per-element expression of the tree rooted at `id`, absorbing operands
/// that are single-use elementwise intermediates while leaves stay few.
fn scalar_tree(
    graph: &Graph,
    uses: &[usize],
    id: NodeId,
    root: bool,
    leaves: &mut Vec<NodeId>,
    inner: &mut Vec<NodeId>,
) -> Scalar {
    let node = graph.node(id);
    if let Op::Constant(tensor) = &node.op {
        if tensor.shape.is_empty() {
            return Scalar::Constant(crate::ir::Bits::new(tensor.values[0]));
        }
    }
    let absorb = root
        || (is_elementwise(graph, id)
            && absorbable(graph, uses, id)
            && leaves.len() + node.operands.len() <= MAX_FUSED_OPERANDS);
    if !absorb {
        let position = leaves.iter().position(|&l| l == id).unwrap_or_else(|| {
            leaves.push(id);
            leaves.len() - 1
        });
        return Scalar::Operand(position);
    }
    if !root {
        inner.push(id);
    }
    let operand = |i: usize, leaves: &mut Vec<NodeId>, inner: &mut Vec<NodeId>| {
        Box::new(scalar_tree(
            graph,
            uses,
            node.operands[i],
            false,
            leaves,
            inner,
        ))
    };
    match &node.op {
        Op::Unary(unary) => Scalar::Unary(*unary, operand(0, leaves, inner)),
        Op::Binary(binary) => {
            let left = operand(0, leaves, inner);
            let right = operand(1, leaves, inner);
            Scalar::Binary(*binary, left, right)
        }
        // `is_elementwise` admits only unary and binary ops.
        _ => Scalar::Operand(0),
    }
}

/// Merges nodes that apply the same op to the same operands, so a value
/// written twice is computed once.
pub fn eliminate_common_subexpressions(graph: &mut Graph) {
    let mut first: HashMap<(Op, Vec<NodeId>), NodeId> = HashMap::new();
    let mut replacement: Vec<NodeId> = (0..graph.nodes.len()).map(NodeId).collect();
    for index in 0..graph.nodes.len() {
        let node = &mut graph.nodes[index];
        for operand in &mut node.operands {
            *operand = replacement[operand.0];
        }
        // Inputs and variables are distinct even when declared alike.
        if matches!(node.op, Op::Input | Op::Variable) {
            continue;
        }
        let key = (node.op.clone(), node.operands.clone());
        match first.get(&key) {
            Some(&earlier) => {
                replacement[index] = earlier;
                // Keep the user's name if only the duplicate had one.
                if graph.nodes[earlier.0].name.is_none() {
                    graph.nodes[earlier.0].name = graph.nodes[index].name.take();
                }
            }
            None => {
                first.insert(key, NodeId(index));
            }
        }
    }
    remap_roots(graph, &replacement);
}

/// Removes nodes that no output or update needs (inputs and variables stay:
/// they are part of the generated signature and struct).
pub fn eliminate_dead_nodes(graph: &mut Graph) {
    let roots = graph
        .outputs
        .iter()
        .map(|o| o.node)
        .chain(graph.updates.iter().flat_map(|u| [u.variable, u.value]))
        .chain(graph.inputs.iter().copied())
        .chain(graph.variables.iter().copied())
        .collect::<Vec<_>>();
    let live = graph.reachable(roots);
    let mut replacement = Vec::with_capacity(graph.nodes.len());
    let mut kept = Vec::with_capacity(graph.nodes.len());
    for (index, node) in std::mem::take(&mut graph.nodes).into_iter().enumerate() {
        replacement.push(NodeId(kept.len()));
        if live[index] {
            kept.push(node);
        }
    }
    for node in &mut kept {
        for operand in &mut node.operands {
            *operand = replacement[operand.0];
        }
    }
    graph.nodes = kept;
    remap_roots(graph, &replacement);
}

/// Points every reference from outside the node list at its replacement.
fn remap_roots(graph: &mut Graph, replacement: &[NodeId]) {
    for id in graph.inputs.iter_mut().chain(graph.variables.iter_mut()) {
        *id = replacement[id.0];
    }
    for output in &mut graph.outputs {
        output.node = replacement[output.node.0];
    }
    for update in &mut graph.updates {
        update.variable = replacement[update.variable.0];
        update.value = replacement[update.value.0];
    }
    for annotation in &mut graph.annotations {
        annotation.node = replacement[annotation.node.0];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expand::build_graph;

    fn graph(tokens: proc_macro2::TokenStream) -> Graph {
        build_graph(tokens).unwrap_or_else(|e| panic!("test graph is valid: {e}"))
    }

    #[test]
    fn cse_merges_repeated_expressions_and_keeps_names() {
        let mut g = graph(quote::quote! {
            struct G {
                input x: [n, 3];
                let a = x * 2.0;
                let b = x * 2.0;
                output y = a + b;
            }
        });
        let before = g.nodes.len();
        eliminate_common_subexpressions(&mut g);
        eliminate_dead_nodes(&mut g);
        g.validate().unwrap();
        // x, 2.0, a, y remain: the second `2.0` and `b` were merged away.
        assert_eq!(before - g.nodes.len(), 2);
        let y = g.node(g.outputs[0].node);
        assert_eq!(y.operands[0], y.operands[1]);
        assert_eq!(g.node(y.operands[0]).name.as_ref().unwrap(), "a");
    }

    #[test]
    fn cse_keeps_distinct_constants_and_inputs() {
        let mut g = graph(quote::quote! {
            struct G {
                input x: [3];
                input z: [3];
                output y = x * 2.0 + z * 3.0 + x * 2.0;
            }
        });
        eliminate_common_subexpressions(&mut g);
        eliminate_dead_nodes(&mut g);
        g.validate().unwrap();
        // x, z, 2.0, 3.0, x*2, z*3, (+), (+): `x * 2.0` is computed once.
        assert_eq!(g.nodes.len(), 8);
    }

    #[test]
    fn folds_exact_constant_arithmetic_only() {
        let mut g = graph(quote::quote! {
            struct G {
                const a = 7.0;
                const b = 8.0;
                const v = [1.0, -2.0];
                input x: [2];
                output res = (a * b) / (a + b);
                output shifted = relu(v * 2.0) + x;
                output transcendental = exp(v);
            }
        });
        fold_constants(&mut g);
        eliminate_dead_nodes(&mut g);
        g.validate().unwrap();
        let res = g.node(g.outputs[0].node);
        assert_eq!(
            res.op,
            Op::Constant(Tensor {
                shape: vec![],
                values: vec![56.0_f32 / 15.0]
            })
        );
        // relu(v · 2) = [2, 0] is folded; `+ x` is not.
        let shifted = g.node(g.outputs[1].node);
        assert_eq!(
            g.node(shifted.operands[0]).op,
            Op::Constant(Tensor {
                shape: vec![2],
                values: vec![2.0, 0.0]
            })
        );
        assert!(matches!(
            g.node(g.outputs[2].node).op,
            Op::Unary(Unary::Exp)
        ));
    }

    #[test]
    fn dense_fusion_takes_bias_and_activation() {
        let mut g = graph(quote::quote! {
            struct G {
                input x: [n, 3];
                var w: [3, 4];
                var b: [4];
                var w2: [4, 2];
                                output y = relu(matmul(x, w) + b);
                output z = sigmoid(matmul(y, w2));
                                output shared = tanh(matmul(y, w2 * 1.0 + 0.0));
                                var w3: [2, 2];
                output kept = matmul(shared, w3) * 2.0;
                output also = matmul(shared, w3) + 1.0;
            }
        });
        eliminate_common_subexpressions(&mut g);
        fuse_dense(&mut g);
        eliminate_dead_nodes(&mut g);
        g.validate().unwrap();
        let y = g.node(g.outputs[0].node);
        assert_eq!(
            y.op,
            Op::Dense {
                bias: true,
                activation: Activation::Relu
            }
        );
        assert_eq!(y.operands.len(), 3);
        let z = g.node(g.outputs[1].node);
        assert_eq!(
            z.op,
            Op::Dense {
                bias: false,
                activation: Activation::Sigmoid
            }
        );
        // `matmul(shared, w2)` has two users after CSE, so neither absorbs it.
        let kept = g.node(g.outputs[3].node);
        assert_eq!(g.node(kept.operands[0]).op, Op::MatMul);
    }

    #[test]
    fn elementwise_trees_fuse_into_one_node() {
        let mut g = graph(quote::quote! {
            struct G {
                input a: [n, 4];
                input b: [4];
                let shared = a * b;
                output y = relu(shared + 1.0) * shared;
                output z = exp(a) - 2.0 * sqrt(abs(a));
            }
        });
        fuse_elementwise(&mut g);
        eliminate_dead_nodes(&mut g);
        g.validate().unwrap();
        let y = g.node(g.outputs[0].node);
        // `shared` has two users: it stays a node and is a leaf of `y`.
        assert!(matches!(&y.op, Op::Fused(_)));
        assert_eq!(y.operands.len(), 1);
        let z = g.node(g.outputs[1].node);
        let Op::Fused(expression) = &z.op else {
            panic!("z is fused: {:?}", z.op)
        };
        assert_eq!(z.operands.len(), 1, "`a` is read once as a leaf");
        assert!(matches!(expression, Scalar::Binary(Binary::Sub, _, _)));
        // a, b, shared, y, z.
        assert_eq!(g.nodes.len(), 5);
    }

    #[test]
    fn dead_nodes_go_inputs_stay() {
        let mut g = graph(quote::quote! {
            struct G {
                input x: [3];
                input unused: [3];
                let dead = x * x;
                output y = x + 1.0;
            }
        });
        eliminate_dead_nodes(&mut g);
        g.validate().unwrap();
        assert!(g
            .nodes
            .iter()
            .all(|n| n.name.as_ref().is_none_or(|name| name != "dead")));
        assert_eq!(g.inputs.len(), 2);
        assert_eq!(g.node(g.inputs[1]).name.as_ref().unwrap(), "unused");
    }
}
