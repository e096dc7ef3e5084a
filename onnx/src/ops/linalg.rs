//! Matrix products, to the graph's `matmul`: `MatMul` with numpy's rules,
//! and `Gemm` with its transposes and scales folded into the weights the
//! file fixes.

use super::{Mapping, Node};
use crate::value::{Constant, Dim, Elem, Layout, Value};
use crate::{number, Importer};

pub static MAPPINGS: &[(&str, Mapping)] = &[("MatMul", matmul), ("Gemm", gemm)];

/// The shape of `matmul(a, b)` as numpy gives it, for the ranks the graph's
/// `matmul` has: 1 or 2 each, `[b, m, k] × [b, k, n]` and `[b, m, k] × [k, n]`.
fn product_dims(a: &[Dim], b: &[Dim]) -> Result<Vec<Dim>, String> {
    let inner = |x: &Dim, y: &Dim| {
        if x == y {
            Ok(())
        } else {
            Err(format!("contracts {x} with {y}"))
        }
    };
    match (a, b) {
        ([k1], [k2]) => inner(k1, k2).map(|()| vec![]),
        ([m, k1], [k2]) => inner(k1, k2).map(|()| vec![m.clone()]),
        ([k1], [k2, n]) => inner(k1, k2).map(|()| vec![n.clone()]),
        ([_, k1] | [_, _, k1], [k2, n]) => {
            inner(k1, k2)?;
            let mut out: Vec<Dim> = a[..a.len() - 1].to_vec();
            out.push(n.clone());
            Ok(out)
        }
        ([b1, m, k1], [b2, k2, n]) if b1 == b2 => {
            inner(k1, k2).map(|()| vec![b1.clone(), m.clone(), n.clone()])
        }
        _ => Err(format!(
            "operands of shapes {} and {}: the graph's `matmul` takes ranks 1 and 2, \
             `[b, m, k] × [b, k, n]` and `[b, m, k] × [k, n]`",
            crate::value::dims_text(a),
            crate::value::dims_text(b)
        )),
    }
}

fn float_operand(imp: &mut Importer<'_>, value: &Value) -> Result<String, String> {
    if value.elem() != Elem::F32 {
        return Err("an operand holds integers; products take `float` values".into());
    }
    Ok(imp.operand(value, Layout::Plain))
}

fn matmul(imp: &mut Importer<'_>, node: &Node<'_>) -> Result<Vec<Value>, String> {
    node.only(&[])?;
    let (a, b) = (node.input(0)?, node.input(1)?);
    let dims = product_dims(&a.dims(), &b.dims())?;
    let (x, y) = (float_operand(imp, a)?, float_operand(imp, b)?);
    Ok(vec![imp.bind(
        node.output(0),
        format!("matmul({x}, {y})"),
        dims,
        Elem::F32,
        Layout::Plain,
    )])
}

/// `Y = alpha · op(A) · op(B) + beta · C`.
fn gemm(imp: &mut Importer<'_>, node: &Node<'_>) -> Result<Vec<Value>, String> {
    node.only(&["alpha", "beta", "transA", "transB", "broadcast"])?;
    let (alpha, beta) = (node.float("alpha", 1.0), node.float("beta", 1.0));
    let (trans_a, trans_b) = (node.int("transA", 0) != 0, node.int("transB", 0) != 0);
    let (left_value, right_value) = (node.input(0)?, node.input(1)?);
    if left_value.rank() != 2 || right_value.rank() != 2 {
        return Err(format!(
            "operands of ranks {} and {}; Gemm takes matrices",
            left_value.rank(),
            right_value.rank()
        ));
    }
    let a_dims = left_value.dims();
    let rows = if trans_a {
        a_dims[1].clone()
    } else {
        a_dims[0].clone()
    };
    let inner = if trans_a {
        a_dims[0].clone()
    } else {
        a_dims[1].clone()
    };
    let (right, n, scaled) = gemm_right(imp, right_value, trans_b, alpha, &inner)?;
    let left = float_operand(imp, left_value)?;
    let left = if trans_a {
        format!("transpose({left})")
    } else {
        left
    };
    let mut expr = format!("matmul({left}, {right})");
    #[allow(clippy::float_cmp)]
    if !scaled && alpha != 1.0 {
        expr = format!("{} * {expr}", number(alpha));
    }
    if let Some(c) = node.optional(2) {
        let bias = match c {
            Value::Const(c) => bias_constant(imp, c, beta),
            Value::Tensor(_) => {
                let name = float_operand(imp, c)?;
                #[allow(clippy::float_cmp)]
                if beta == 1.0 {
                    name
                } else {
                    format!("{} * {name}", number(beta))
                }
            }
        };
        expr = format!("{expr} + {bias}");
    }
    Ok(vec![imp.bind(
        node.output(0),
        expr,
        vec![rows, n],
        Elem::F32,
        Layout::Plain,
    )])
}

/// Gemm's right operand, its column count, and whether `alpha` is applied
/// to it: a weight the file fixes has its transpose and `alpha` applied at
/// import.
fn gemm_right(
    imp: &mut Importer<'_>,
    right_value: &Value,
    trans_b: bool,
    alpha: f32,
    inner: &Dim,
) -> Result<(String, Dim, bool), String> {
    Ok(match right_value {
        Value::Const(c) => {
            let (dims, mut values) = if trans_b {
                crate::value::permute(&c.f32s(), &c.dims, &[1, 0])
            } else {
                (c.dims.clone(), c.f32s())
            };
            #[allow(clippy::float_cmp)]
            if alpha != 1.0 {
                for v in &mut values {
                    *v *= alpha;
                }
            }
            let key = match (trans_b, alpha == 1.0) {
                (false, true) => c.origin.clone(),
                (true, true) => format!("{}_t", c.origin),
                _ => format!("{}_gemm", c.origin),
            };
            let n = Dim::Lit(dims[1]);
            if Dim::Lit(dims[0]) != *inner {
                return Err(format!("contracts {inner} with {}", dims[0]));
            }
            (imp.variable(&key, dims, values), n, true)
        }
        Value::Tensor(_) => {
            let name = float_operand(imp, right_value)?;
            let bd = right_value.dims();
            let (kb, n) = if trans_b {
                (bd[1].clone(), bd[0].clone())
            } else {
                (bd[0].clone(), bd[1].clone())
            };
            if kb != *inner {
                return Err(format!("contracts {inner} with {kb}"));
            }
            (
                if trans_b {
                    format!("transpose({name})")
                } else {
                    name
                },
                n,
                false,
            )
        }
    })
}

/// Gemm's `C`, scaled by `beta` at import; `[1, n]` becomes `[n]`.
fn bias_constant(imp: &mut Importer<'_>, c: &Constant, beta: f32) -> String {
    let mut values = c.f32s();
    #[allow(clippy::float_cmp)]
    if beta != 1.0 {
        for v in &mut values {
            *v *= beta;
        }
    }
    if c.len() == 1 {
        return number(values[0]);
    }
    let dims = if c.dims.len() == 2 && c.dims[0] == 1 {
        vec![c.dims[1]]
    } else {
        c.dims.clone()
    };
    #[allow(clippy::float_cmp)]
    let key = if beta == 1.0 {
        c.origin.clone()
    } else {
        format!("{}_beta", c.origin)
    };
    imp.variable(&key, dims, values)
}
