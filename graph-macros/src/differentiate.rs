//! Phase 5, reverse-mode differentiation: every `grad(loss, x)` node becomes
//! the backward pass that computes it, built in the IR out of ordinary ops,
//! so that folding, fusion and memory planning treat forward and backward
//! alike.
//!
//! For each loss, one backward pass serves all the `grad`s of that loss: a
//! walk from the loss back through the nodes in reverse topological order
//! asks each op's family for its gradient rule ([`Family::vjp`]) and adds up
//! the gradients of a value used more than once. The walk visits only nodes
//! on a path from some `x` to the loss. The new nodes are appended to the
//! graph, the `grad` nodes' users are pointed at the gradients, and the
//! graph is sorted again so that operands come before their users.

use crate::diag::{Code, Diagnostics, SpanRange};
use crate::ir::{DType, Graph, Node, NodeId, Op, Tensor};
use crate::ops::autodiff::Autodiff;
use crate::shape::{Dim, Shape};

/// Replaces every `grad` node of a checked graph by its gradient, or
/// reports why it cannot be computed.
pub fn differentiate(graph: &mut Graph, diagnostics: &mut Diagnostics) {
    let requests: Vec<NodeId> = (0..graph.nodes.len())
        .map(NodeId)
        .filter(|&id| graph.node(id).op == Op::Autodiff(Autodiff::Grad))
        .collect();
    if requests.is_empty() && graph.steps.is_empty() {
        return;
    }
    let mut alias: Vec<NodeId> = (0..graph.nodes.len()).map(NodeId).collect();
    let mut losses: Vec<NodeId> = requests
        .iter()
        .map(|&r| graph.node(r).operands[0])
        .collect();
    losses.sort_unstable();
    losses.dedup();
    let mut failed = false;
    for loss in losses {
        let mine: Vec<NodeId> = requests
            .iter()
            .copied()
            .filter(|&r| graph.node(r).operands[0] == loss)
            .collect();
        let targets: Vec<NodeId> = mine.iter().map(|&r| graph.node(r).operands[1]).collect();
        for (&request, &x) in mine.iter().zip(&targets) {
            let advice = match graph.node(x).op {
                Op::Input | Op::Variable => continue,
                Op::Constant(_) => {
                    "a constant, whose value never changes; declare it `var` to train it"
                }
                _ => "an intermediate value; take the gradient with respect to the inputs or variables it is computed from",
            };
            diagnostics.push(graph.node(request).span.error(
                Code::GradTarget,
                format!(
                "`grad` differentiates with respect to an input or a variable, but {} is {advice}",
                describe(graph, x)
            ),
            ));
            failed = true;
        }
        if failed {
            continue;
        }
        let pass = backward(graph, loss, &targets, diagnostics);
        let Some(pass) = pass else {
            failed = true;
            continue;
        };
        for (&request, &x) in mine.iter().zip(&targets) {
            let gradient = match pass.adjoint[x.0] {
                Some(gradient) => gradient,
                None if pass.on_path[x.0] => {
                    let (what, span) = pass.blocked[x.0]
                        .clone()
                        .unwrap_or_else(|| ("an op".to_string(), graph.node(request).span));
                    diagnostics.push(span.error(Code::NoGradientPath, format!(
                        "`grad` cannot differentiate {} with respect to {}: it depends on {} only through {what}, which has no gradient",
                        describe(graph, loss),
                        describe(graph, x),
                        describe(graph, x),
                    )));
                    failed = true;
                    continue;
                }
                // The loss does not depend on `x`: its gradient is zero.
                None => {
                    let span = graph.node(request).span;
                    let shape = graph.shape(x).clone();
                    let mut b = Builder::new(graph, span);
                    b.zeros(&shape)
                }
            };
            alias[request.0] = gradient;
            // The gradient takes the name the user gave it, if it has none.
            if let Some(name) = graph.nodes[request.0].name.take() {
                let node = &mut graph.nodes[gradient.0];
                if node.name.is_none() {
                    node.name = Some(name);
                }
            }
        }
    }
    if failed || diagnostics.has_errors() {
        return;
    }
    crate::train::build(graph, diagnostics);
    if diagnostics.has_errors() {
        return;
    }
    // The backward nodes map to themselves.
    alias.extend((alias.len()..graph.nodes.len()).map(NodeId));
    for node in &mut graph.nodes {
        for operand in &mut node.operands {
            *operand = alias[operand.0];
        }
    }
    crate::optimize::remap_roots(graph, &alias);
    sort_topologically(graph);
}

/// The gradients of `loss` with respect to `targets` (zeros for a target the
/// loss does not depend on), or `None` after reporting why one cannot be
/// computed.
pub fn gradients(
    graph: &mut Graph,
    loss: NodeId,
    targets: &[NodeId],
    diagnostics: &mut Diagnostics,
) -> Option<Vec<NodeId>> {
    let pass = backward(graph, loss, targets, diagnostics)?;
    let mut gradients = Vec::with_capacity(targets.len());
    for &x in targets {
        let gradient = match pass.adjoint[x.0] {
            Some(gradient) => gradient,
            None if pass.on_path[x.0] => {
                let (what, span) = pass.blocked[x.0]
                    .clone()
                    .unwrap_or_else(|| ("an op".to_string(), graph.node(loss).span));
                diagnostics.push(span.error(Code::NoGradientPath, format!(
                    "cannot differentiate {} with respect to {}: it depends on {} only through {what}, which has no gradient",
                    describe(graph, loss),
                    describe(graph, x),
                    describe(graph, x),
                )));
                return None;
            }
            None => {
                let span = graph.node(loss).span;
                let shape = graph.shape(x).clone();
                Builder::new(graph, span).zeros(&shape)
            }
        };
        gradients.push(gradient);
    }
    Some(gradients)
}

/// One backward pass: the gradient of the loss with respect to each node
/// (`adjoint`), which nodes lie on a path from a target to the loss, and for
/// a node on such a path that no gradient reached, the op that stopped it.
struct Pass {
    adjoint: Vec<Option<NodeId>>,
    on_path: Vec<bool>,
    blocked: Vec<Option<(String, SpanRange)>>,
}

fn backward(
    graph: &mut Graph,
    loss: NodeId,
    targets: &[NodeId],
    diagnostics: &mut Diagnostics,
) -> Option<Pass> {
    let count = graph.nodes.len();
    // Nodes that depend on a target, then those the loss also depends on.
    let mut from_target = vec![false; count];
    for &x in targets {
        from_target[x.0] = true;
    }
    for index in 0..count {
        if graph.nodes[index]
            .operands
            .iter()
            .any(|operand| from_target[operand.0])
        {
            from_target[index] = true;
        }
    }
    let to_loss = graph.reachable([loss]);
    let on_path: Vec<bool> = (0..count).map(|i| from_target[i] && to_loss[i]).collect();
    let mut adjoint: Vec<Option<NodeId>> = vec![None; count];
    let mut blocked: Vec<Option<(String, SpanRange)>> = vec![None; count];
    let span = graph.node(loss).span;
    adjoint[loss.0] = Some(Builder::new(graph, span).constant(1.0));
    let mut ok = true;
    for index in (0..count).rev() {
        if !on_path[index] {
            continue;
        }
        let Some(grad) = adjoint[index] else {
            // What blocked this value blocks the values it was computed from.
            if let Some(reason) = blocked[index].clone() {
                for &operand in &graph.nodes[index].operands {
                    if on_path[operand.0] && adjoint[operand.0].is_none() {
                        blocked[operand.0].get_or_insert_with(|| reason.clone());
                    }
                }
            }
            continue;
        };
        let node = &graph.nodes[index];
        let op = node.op.clone();
        let operands = node.operands.clone();
        let span = node.span;
        let word = node.called.unwrap_or_else(|| op.word());
        let Some(family) = op.family() else {
            continue;
        };
        let mut b = Builder::new(graph, span);
        match family.vjp(NodeId(index), grad, &mut b) {
            Ok(gradients) => {
                for (operand, gradient) in operands.iter().zip(gradients) {
                    if !on_path[operand.0] {
                        continue;
                    }
                    if let Some(gradient) = gradient {
                        adjoint[operand.0] = Some(match adjoint[operand.0] {
                            // A value used more than once: its gradients add up.
                            Some(earlier) => b.add(earlier, gradient),
                            None => gradient,
                        });
                    } else {
                        let value = b.graph().node(*operand);
                        let dtype = value.dtype.name();
                        let op = value.called.unwrap_or_else(|| value.op.word());
                        let what = match &value.name {
                            Some(name) => format!("`{name}`, a `{dtype}` value made by `{op}`"),
                            None => format!("the `{dtype}` result of `{op}`"),
                        };
                        blocked[operand.0].get_or_insert((what, value.span));
                    }
                }
            }
            Err(reason) => {
                diagnostics.push(span.error(
                    Code::NoGradientRule,
                    format!("`grad` cannot differentiate through `{word}`: {reason}"),
                ));
                ok = false;
            }
        }
        if b.failed {
            diagnostics.push(span.error(Code::Internal, format!(
                "internal error: the gradient rule of `{word}` built an ill-shaped node; please report this graph"
            )));
            ok = false;
        }
    }
    ok.then_some(Pass {
        adjoint,
        on_path,
        blocked,
    })
}

/// How messages name a node, quoted as a message shows it: the user's name
/// (`` `x` ``), or the op that made it (``the result of `matmul` ``).
fn describe(graph: &Graph, id: NodeId) -> String {
    let node = graph.node(id);
    node.name.as_ref().map_or_else(
        || format!("the result of `{}`", node.op.word()),
        |name| format!("`{name}`"),
    )
}

/// Reorders the nodes so that every node follows its operands, keeping the
/// existing order where it already holds, and renumbers every reference.
fn sort_topologically(graph: &mut Graph) {
    let count = graph.nodes.len();
    let roots: Vec<NodeId> = graph
        .outputs
        .iter()
        .map(|o| o.node)
        .chain(graph.updates.iter().flat_map(|u| [u.variable, u.value]))
        .chain(graph.inputs.iter().copied())
        .chain(graph.variables.iter().copied())
        // A step returns its loss.
        .chain(graph.steps.iter().map(|step| step.loss))
        .collect();
    let live = graph.reachable(roots);
    let mut placed = vec![false; count];
    let mut order: Vec<usize> = Vec::with_capacity(count);
    for start in 0..count {
        if placed[start] || !live[start] {
            continue;
        }
        // Iterative post-order: (node, next operand to visit).
        let mut stack = vec![(start, 0usize)];
        while let Some(&(index, next)) = stack.last() {
            if let Some(operand) = graph.nodes[index].operands.get(next) {
                if let Some(top) = stack.last_mut() {
                    top.1 += 1;
                }
                if !placed[operand.0] {
                    stack.push((operand.0, 0));
                }
            } else {
                stack.pop();
                if !placed[index] {
                    placed[index] = true;
                    order.push(index);
                }
            }
        }
    }
    let mut replacement = vec![NodeId(0); count];
    for (position, &index) in order.iter().enumerate() {
        replacement[index] = NodeId(position);
    }
    let mut old: Vec<Option<Node>> = std::mem::take(&mut graph.nodes)
        .into_iter()
        .map(Some)
        .collect();
    graph.nodes = order
        .iter()
        .filter_map(|&index| old[index].take())
        .map(|mut node| {
            for operand in &mut node.operands {
                *operand = replacement[operand.0];
            }
            node
        })
        .collect();
    graph
        .annotations
        .retain(|annotation| live[annotation.node.0]);
    crate::optimize::remap_roots(graph, &replacement);
}

/// Builds the nodes of a gradient rule: each new node is appended to the
/// graph with its shape and element type inferred, and the span of the
/// forward node whose rule made it. The builder knows no op: each family
/// adds the constructors of its own ops that rules use (`add`, `sum`,
/// `reshape`, `matmul`, ...) in an `impl Builder` of its module.
pub struct Builder<'g> {
    graph: &'g mut Graph,
    span: SpanRange,
    /// A rule built a node whose shape rule failed: a bug in the rule.
    pub failed: bool,
}

impl<'g> Builder<'g> {
    pub fn new(graph: &'g mut Graph, span: SpanRange) -> Self {
        Builder {
            graph,
            span,
            failed: false,
        }
    }

    pub fn graph(&self) -> &Graph {
        self.graph
    }

    /// Operand `i` of `node`.
    pub fn operand(&self, node: NodeId, i: usize) -> NodeId {
        self.graph.node(node).operands[i]
    }

    pub fn shape(&self, id: NodeId) -> Shape {
        self.graph.node(id).shape.clone().unwrap_or_default()
    }

    pub fn dtype(&self, id: NodeId) -> DType {
        self.graph.node(id).dtype
    }

    /// Appends `op` over `operands`.
    pub fn push(&mut self, op: Op, operands: Vec<NodeId>) -> NodeId {
        let typed: Vec<(Shape, DType)> = operands
            .iter()
            .map(|&o| (self.shape(o), self.dtype(o)))
            .collect();
        let refs: Vec<(&Shape, DType)> = typed.iter().map(|(s, d)| (s, *d)).collect();
        let (shape, dtype) = if let Ok((shape, dtype)) = crate::shape::infer(&op, &refs) {
            (Some(shape), dtype)
        } else {
            self.failed = true;
            (None, DType::F32)
        };
        self.graph.nodes.push(Node {
            op,
            operands,
            shape,
            dtype,
            name: None,
            called: None,
            span: self.span,
            attributes: Vec::new(),
        });
        NodeId(self.graph.nodes.len() - 1)
    }

    pub fn constant(&mut self, value: f32) -> NodeId {
        let tensor = Tensor {
            shape: Vec::new(),
            values: vec![value],
        };
        self.graph.nodes.push(Node {
            op: Op::Constant(tensor),
            operands: Vec::new(),
            shape: Some(Shape::default()),
            dtype: DType::F32,
            name: None,
            called: None,
            span: self.span,
            attributes: Vec::new(),
        });
        NodeId(self.graph.nodes.len() - 1)
    }

    /// A new variable of `shape`, zero until updated: optimizer state.
    pub fn variable(&mut self, name: proc_macro2::Ident, shape: Shape) -> NodeId {
        self.graph.nodes.push(Node {
            op: Op::Variable,
            operands: Vec::new(),
            shape: Some(shape),
            dtype: DType::F32,
            name: Some(name),
            called: None,
            span: self.span,
            attributes: Vec::new(),
        });
        let id = NodeId(self.graph.nodes.len() - 1);
        self.graph.variables.push(id);
        self.graph.state.push(id);
        id
    }

    /// Zeros of `shape`.
    pub fn zeros(&mut self, shape: &Shape) -> NodeId {
        let zero = self.constant(0.0);
        self.broadcast_to(zero, shape)
    }

    /// `g` (of a broadcast result's shape) summed down to `target`, the
    /// shape of the operand that was broadcast: over the leading axes the
    /// operand lacks and the axes where it has size 1.
    pub fn sum_to(&mut self, g: NodeId, target: &Shape) -> NodeId {
        let shape = self.shape(g);
        if shape == *target {
            return g;
        }
        let lead = shape.rank().saturating_sub(target.rank());
        let axes: Vec<i64> = (0..shape.rank())
            .filter(|&axis| {
                axis < lead
                    || (target.0[axis - lead] == Dim::Fixed(1) && shape.0[axis] != Dim::Fixed(1))
            })
            .map(|axis| i64::try_from(axis).unwrap_or(0))
            .collect();
        let summed = if axes.is_empty() {
            g
        } else {
            self.sum(g, axes, true)
        };
        self.reshape(summed, target)
    }
}

#[cfg(test)]
mod tests {
    use quote::quote;

    #[test]
    fn smoke() {
        let out = crate::expand::expand(quote! {
            struct Lin {
                input x: [n, 3];
                input t: [n, 2];
                var w: [3, 2];
                var b: [2];
                let y = matmul(x, w) + b;
                let e = y - t;
                output loss = mean(e * e);
                output gw = grad(loss, w);
                output gb = grad(loss, b);
            }
        });
        assert!(!out.to_string().contains("compile_error"), "{out}");
    }
}
