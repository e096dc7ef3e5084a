//! Constant folding: nodes whose operands are all constants become
//! constants, where the `f32` result is exactly defined.

use crate::ir::{Graph, Op, Tensor};

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
        // Only ops whose value the family defines exactly fold.
        let Some(element) = node.op.elementwise() else {
            continue;
        };
        let arity = node.operands.len();
        if element.fold(&vec![0.0; arity]).is_none() {
            continue;
        }
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
                element.fold(&args).unwrap_or(f32::NAN)
            })
            .collect();
        if values.iter().all(|v| v.is_finite()) {
            let node = &mut graph.nodes[index];
            node.op = Op::Constant(Tensor { shape, values });
            node.operands.clear();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optimize::{eliminate_dead_nodes, test_graph as graph};

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
        assert_eq!(g.node(g.outputs[2].node).op.word(), "exp");
    }

    #[test]
    fn folds_through_broadcasting() {
        let mut g = graph(quote::quote! {
            struct G {
                const column = [[1.0], [2.0]];
                const row = [10.0, -20.0, 30.0];
                input x: [2, 3];
                output y = column * row - x;
            }
        });
        fold_constants(&mut g);
        g.validate().unwrap();
        let y = g.node(g.outputs[0].node);
        // [[1], [2]] · [10, -20, 30], row-major.
        assert_eq!(
            g.node(y.operands[0]).op,
            Op::Constant(Tensor {
                shape: vec![2, 3],
                values: vec![10.0, -20.0, 30.0, 20.0, -40.0, 60.0]
            })
        );
    }

    #[test]
    fn non_finite_results_stay_computed() {
        let mut g = graph(quote::quote! {
            struct G {
                const zero = 0.0;
                const big = 3.0e38;
                output infinite = 1.0 / zero;
                output overflow = big * 10.0;
                output fine = big / 10.0;
            }
        });
        fold_constants(&mut g);
        g.validate().unwrap();
        let op = |i: usize| &g.node(g.outputs[i].node).op;
        assert_eq!(op(0).word(), "div");
        assert_eq!(op(1).word(), "mul");
        assert!(matches!(op(2), Op::Constant(_)));
    }
}
