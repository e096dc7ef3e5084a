//! The gradient rules of the elementwise ops. A broadcast operand gets the
//! incoming gradient summed back to its own shape ([`Builder::sum_to`]).

use super::{Binary, Compare, Elementwise, Unary};
use crate::differentiate::Builder;
use crate::ir::{NodeId, Op};

impl Elementwise {
    pub(super) fn gradient(
        &self,
        node: NodeId,
        g: NodeId,
        b: &mut Builder<'_>,
    ) -> Result<Vec<Option<NodeId>>, String> {
        let operand = |i: usize, b: &Builder<'_>| b.operand(node, i);
        match self {
            Elementwise::Unary(Unary::Neg) => Ok(vec![Some(b.neg(g))]),
            // g · relu'(x), read off the output: `relu_slope(relu(x))` is
            // `relu_slope(x)` for every x (1 exactly where x > 0, which is
            // where relu(x) > 0; NaN stays NaN), and a backward pass that
            // keeps the output instead of the input lets the optimizer fuse
            // the activation into its product, leaving the input unstored.
            Elementwise::Unary(Unary::Relu) => {
                let slope = b.slope(Unary::Relu, node);
                Ok(vec![Some(b.mul(g, slope))])
            }
            // g · f'(x), with f' from the runtime's `scalar::<f>_slope`.
            Elementwise::Unary(op) => {
                let x = operand(0, b);
                let slope = b.slope(*op, x);
                Ok(vec![Some(b.mul(g, slope))])
            }
            Elementwise::Binary(op) => {
                let (x, y) = (operand(0, b), operand(1, b));
                let (gx, gy) = match op {
                    Binary::Add => (g, g),
                    Binary::Sub => (g, b.neg(g)),
                    Binary::Mul => (b.mul(g, y), b.mul(g, x)),
                    Binary::Div => {
                        // d(x / y) = g / y, and −g·x / y² = −(g / y)·(x / y).
                        let gx = b.div(g, y);
                        let ratio = b.div(x, y);
                        let scaled = b.mul(gx, ratio);
                        (gx, b.neg(scaled))
                    }
                    // The larger operand takes the gradient; ties split it
                    // evenly, as JAX does.
                    Binary::Maximum | Binary::Minimum => {
                        let wins = if *op == Binary::Maximum {
                            Compare::Gt
                        } else {
                            Compare::Lt
                        };
                        let loses = if *op == Binary::Maximum {
                            Compare::Lt
                        } else {
                            Compare::Gt
                        };
                        let share_x = share(b, wins, x, y);
                        let share_y = share(b, loses, x, y);
                        (b.mul(g, share_x), b.mul(g, share_y))
                    }
                };
                let (sx, sy) = (b.shape(x), b.shape(y));
                Ok(vec![Some(b.sum_to(gx, &sx)), Some(b.sum_to(gy, &sy))])
            }
            // A mask has no gradient.
            Elementwise::Compare(_) => Ok(vec![None, None]),
            Elementwise::Select => {
                let (mask, x, y) = (operand(0, b), operand(1, b), operand(2, b));
                let zero = b.constant(0.0);
                let gx = b.select(mask, g, zero);
                let gy = b.select(mask, zero, g);
                let (sx, sy) = (b.shape(x), b.shape(y));
                Ok(vec![None, Some(b.sum_to(gx, &sx)), Some(b.sum_to(gy, &sy))])
            }
            // Made after differentiation, never differentiated.
            Elementwise::Fused(_) => Err("fused nodes are made after differentiation".to_string()),
            Elementwise::Slope(_) => Err("second derivatives are not available yet".to_string()),
        }
    }
}

/// 1 where `compare(x, y)` holds, ½ where `x == y`, else 0.
fn share(b: &mut Builder<'_>, compare: Compare, x: NodeId, y: NodeId) -> NodeId {
    let (one, half, zero) = (b.constant(1.0), b.constant(0.5), b.constant(0.0));
    let holds = b.compare(compare, x, y);
    let ties = b.compare(Compare::Eq, x, y);
    let even = b.select(ties, half, zero);
    b.select(holds, one, even)
}

/// The constructors of this family's ops that gradient rules build with.
impl Builder<'_> {
    pub fn unary(&mut self, op: Unary, x: NodeId) -> NodeId {
        self.push(Op::Elementwise(Elementwise::Unary(op)), vec![x])
    }
    /// `f'(x)` for a unary function `f`.
    pub fn slope(&mut self, op: Unary, x: NodeId) -> NodeId {
        self.push(Op::Elementwise(Elementwise::Slope(op)), vec![x])
    }
    pub fn binary(&mut self, op: Binary, a: NodeId, b: NodeId) -> NodeId {
        self.push(Op::Elementwise(Elementwise::Binary(op)), vec![a, b])
    }
    pub fn add(&mut self, a: NodeId, b: NodeId) -> NodeId {
        self.binary(Binary::Add, a, b)
    }
    pub fn sub(&mut self, a: NodeId, b: NodeId) -> NodeId {
        self.binary(Binary::Sub, a, b)
    }
    pub fn mul(&mut self, a: NodeId, b: NodeId) -> NodeId {
        self.binary(Binary::Mul, a, b)
    }
    pub fn div(&mut self, a: NodeId, b: NodeId) -> NodeId {
        self.binary(Binary::Div, a, b)
    }
    pub fn neg(&mut self, x: NodeId) -> NodeId {
        self.unary(Unary::Neg, x)
    }
    pub fn compare(&mut self, op: Compare, a: NodeId, b: NodeId) -> NodeId {
        self.push(Op::Elementwise(Elementwise::Compare(op)), vec![a, b])
    }
    pub fn select(&mut self, mask: NodeId, a: NodeId, b: NodeId) -> NodeId {
        self.push(Op::Elementwise(Elementwise::Select), vec![mask, a, b])
    }
}
