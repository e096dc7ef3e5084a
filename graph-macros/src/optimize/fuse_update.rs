//! Update fusion: `w − c·(a·b)` (an SGD update of a weight matrix by its
//! gradient `aᵀ·δ`) becomes one node that adds the product into `w` as it
//! is made, so that the gradient is never stored: on a microcontroller the
//! gradient of a layer is as large as the layer, and this is what keeps a
//! fine-tuning step's workspace near inference's; on a desktop it saves
//! writing the gradient and reading it back (the std kernel,
//! `linalg::matmul_accumulate_inplace`, makes the product a few columns at
//! a time in stack scratch and adds each block into `w`).
//!
//! The rewrite applies where the result can be computed in the variable
//! itself (`plan::computes_in_variable`, the planner's own rule for the
//! fused update `fuse_elementwise` made, `w - c * #1` with `c` a constant
//! learning rate; the memory order, `order`, has put the update after the
//! variable's other readers when it could), and its gradient is a matrix
//! product read by nothing else. A product whose left operand is
//! a transpose read by nothing else reads the transpose's operand instead,
//! transposed, so that the transpose is not stored either.

use super::dce::eliminate_dead_nodes;
use crate::ir::{Bits, Graph, NodeId, Op};
use crate::ops::elementwise::{Binary, Elementwise, Scalar};
use crate::ops::linalg::Linalg;
use crate::ops::movement::Movement;

pub fn fuse_updates(graph: &mut Graph) {
    let uses = super::use_counts(graph);
    let views = crate::plan::views(graph);
    let mut fused = false;
    for k in 0..graph.updates.len() {
        let update = &graph.updates[k];
        let (variable, value) = (update.variable, update.value);
        let Some((gradient, scale)) = scaled_gradient(graph, value, variable) else {
            continue;
        };
        let product = graph.node(gradient);
        // The fused node can take the update's place in the variable exactly
        // where the planner would compute the update there.
        if product.op != Op::Linalg(Linalg::MatMul)
            || uses[gradient.0] != 1
            || product.operands.iter().any(|&o| graph.shape(o).rank() != 2)
            || graph.outputs.iter().any(|o| o.node == gradient)
            || !crate::plan::computes_in_variable(graph, &views, update)
        {
            continue;
        }
        let (a, b) = (product.operands[0], product.operands[1]);
        let (a, transpose_a) = match &graph.node(a).op {
            Op::Movement(Movement::Transpose(axes))
                if uses[a.0] == 1 && axes.as_deref().is_none_or(|axes| axes == [1, 0]) =>
            {
                (graph.node(a).operands[0], true)
            }
            _ => (a, false),
        };
        let node = &mut graph.nodes[value.0];
        node.op = Op::Linalg(Linalg::Accumulate {
            scale: Bits::new(-scale),
            transpose_a,
        });
        node.operands = vec![variable, a, b];
        fused = true;
    }
    if fused {
        eliminate_dead_nodes(graph);
    }
}

/// `(g, c)` when node `value` is the fused `w − c·g` (or `w − g·c`) over
/// `variable` and one other operand `g`, with `c` a constant.
fn scaled_gradient(graph: &Graph, value: NodeId, variable: NodeId) -> Option<(NodeId, f32)> {
    let node = graph.node(value);
    let Op::Elementwise(Elementwise::Fused(expression)) = &node.op else {
        return None;
    };
    let Scalar::Binary(Binary::Sub, left, right) = expression else {
        return None;
    };
    let Scalar::Operand(own) = **left else {
        return None;
    };
    let (c, g) = match &**right {
        Scalar::Binary(Binary::Mul, x, y) => match (&**x, &**y) {
            (Scalar::Constant(c), Scalar::Operand(g))
            | (Scalar::Operand(g), Scalar::Constant(c)) => (c.get(), *g),
            _ => return None,
        },
        _ => return None,
    };
    (node.operands.get(own) == Some(&variable) && own != g)
        .then(|| node.operands.get(g).map(|&g| (g, c)))
        .flatten()
}

#[cfg(test)]
mod tests {
    use crate::ir::Op;
    use crate::ops::linalg::Linalg;
    use crate::optimize::test_graph as graph;

    #[test]
    fn a_no_std_sgd_step_accumulates_each_weight_gradient_into_its_weight() {
        let mut g = graph(quote::quote! {
            #[no_std]
            struct Fit {
                input x: [4, 8];
                input labels: [4] as usize;
                var w1: [8, 6];
                var w2: [6, 3];
                let logits = matmul(relu(matmul(x, w1)), w2);
                let loss = mean(softmax_cross_entropy(logits, labels));
                step fit = minimize(loss, sgd(lr = 0.5));
            }
        });
        crate::optimize::run(&mut g);
        g.validate().unwrap();
        let fused: Vec<&Op> = g.updates.iter().map(|u| &g.node(u.value).op).collect();
        for op in &fused {
            assert!(
                matches!(op, Op::Linalg(Linalg::Accumulate { scale, transpose_a: true }) if scale.get() == -0.5),
                "{op:?}"
            );
        }
        assert_eq!(fused.len(), 2);
        // No product of a gradient is left: the two forward products and
        // the one taking the gradient through w2.
        let products = g
            .nodes
            .iter()
            .filter(|n| matches!(n.op, Op::Linalg(Linalg::MatMul | Linalg::Dense { .. })))
            .count();
        assert_eq!(products, 3);
    }

    #[test]
    fn std_steps_accumulate_each_weight_gradient_into_its_weight() {
        let mut g = graph(quote::quote! {
            struct Fit {
                input x: [n, 8];
                input t: [n, 3];
                var w: [8, 3];
                let loss = mse(matmul(x, w), t);
                step fit = minimize(loss, sgd(lr = 0.5));
            }
        });
        crate::optimize::run(&mut g);
        g.validate().unwrap();
        let fused: Vec<&Op> = g.updates.iter().map(|u| &g.node(u.value).op).collect();
        assert!(
            matches!(fused[..], [Op::Linalg(Linalg::Accumulate { scale, transpose_a: true })] if scale.get() == -0.5),
            "{fused:?}"
        );
    }
}
