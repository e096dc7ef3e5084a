//! Elementwise operators, to the graph's elementwise family: arithmetic
//! with numpy broadcasting, activations, and the identities (`Identity`,
//! `Dropout` at inference, `Cast` between float types). Arithmetic on
//! values the file fixes is folded at import.

use super::{Mapping, Node};
use crate::value::{broadcast, zip_broadcast, Constant, Data, Dim, Elem, Layout, Value};
use crate::{number, Importer};

pub static MAPPINGS: &[(&str, Mapping)] = &[
    ("Add", |i, n| binary(i, n, Arith::Add)),
    ("Sub", |i, n| binary(i, n, Arith::Sub)),
    ("Mul", |i, n| binary(i, n, Arith::Mul)),
    ("Div", |i, n| binary(i, n, Arith::Div)),
    ("Pow", pow),
    ("Max", |i, n| binary(i, n, Arith::Max)),
    ("Min", |i, n| binary(i, n, Arith::Min)),
    ("Relu", |i, n| unary(i, n, "relu", &[])),
    ("Sigmoid", |i, n| unary(i, n, "sigmoid", &[])),
    ("Tanh", |i, n| unary(i, n, "tanh", &[])),
    ("Exp", |i, n| unary(i, n, "exp", &[])),
    ("Log", |i, n| unary(i, n, "log", &[])),
    ("Sqrt", |i, n| unary(i, n, "sqrt", &[])),
    ("Neg", |i, n| unary(i, n, "neg", &[])),
    ("Abs", |i, n| unary(i, n, "abs", &[])),
    ("Erf", |i, n| unary(i, n, "erf", &[])),
    ("Softplus", |i, n| unary(i, n, "softplus", &[])),
    ("LeakyRelu", |i, n| {
        let alpha = n.float("alpha", 0.01);
        unary(i, n, "leaky_relu", &[("alpha", number(alpha))])
    }),
    ("Elu", |i, n| {
        let alpha = n.float("alpha", 1.0);
        unary(i, n, "elu", &[("alpha", number(alpha))])
    }),
    ("HardSigmoid", |i, n| {
        let (alpha, beta) = (n.float("alpha", 0.2), n.float("beta", 0.5));
        unary(
            i,
            n,
            "hard_sigmoid",
            &[("alpha", number(alpha)), ("beta", number(beta))],
        )
    }),
    ("Gelu", gelu),
    ("Clip", clip),
    ("Identity", identity),
    ("Dropout", dropout),
    ("Cast", cast),
];

#[derive(Clone, Copy)]
enum Arith {
    Add,
    Sub,
    Mul,
    Div,
    Max,
    Min,
}

impl Arith {
    fn apply(self, a: f32, b: f32) -> f32 {
        match self {
            Arith::Add => a + b,
            Arith::Sub => a - b,
            Arith::Mul => a * b,
            Arith::Div => a / b,
            Arith::Max => a.max(b),
            Arith::Min => a.min(b),
        }
    }

    fn apply_int(self, a: i64, b: i64) -> Option<i64> {
        match self {
            Arith::Add => a.checked_add(b),
            Arith::Sub => a.checked_sub(b),
            Arith::Mul => a.checked_mul(b),
            // ONNX's integer division truncates.
            Arith::Div => a.checked_div(b),
            Arith::Max => Some(a.max(b)),
            Arith::Min => Some(a.min(b)),
        }
    }

    fn write(self, a: &str, b: &str) -> String {
        match self {
            Arith::Add => format!("{a} + {b}"),
            Arith::Sub => format!("{a} - {b}"),
            Arith::Mul => format!("{a} * {b}"),
            Arith::Div => format!("{a} / {b}"),
            Arith::Max => format!("maximum({a}, {b})"),
            Arith::Min => format!("minimum({a}, {b})"),
        }
    }
}

/// A binary elementwise operator. Two constants fold; otherwise the value
/// is computed in NHWC if a rank-4 operand already is, else as the file
/// lays it out.
fn binary(imp: &mut Importer<'_>, node: &Node<'_>, op: Arith) -> Result<Vec<Value>, String> {
    node.only(&[])?;
    // `Max` and `Min` take any number of inputs; two is what the graph has.
    if node.inputs.len() != 2 {
        return Err(format!(
            "{} inputs; the importer maps this operator with two",
            node.inputs.len()
        ));
    }
    let (a, b) = (node.input(0)?, node.input(1)?);
    let dims = broadcast(&a.dims(), &b.dims()).ok_or_else(|| {
        format!(
            "its operands' shapes {:?} and {:?} do not broadcast",
            a.dims(),
            b.dims()
        )
    })?;
    if let (Some(x), Some(y)) = (a.as_const(), b.as_const()) {
        return Ok(vec![fold(node, op, x, y)?]);
    }
    if a.elem() != Elem::F32 || b.elem() != Elem::F32 {
        return Err(
            "it computes on integers at run time; the graph computes on `float` values \
             (integer arithmetic is folded only when the file fixes its operands)"
                .into(),
        );
    }
    let layout = result_layout(&[a, b], dims.len());
    let left = operand(imp, a, layout, dims.len());
    let right = operand(imp, b, layout, dims.len());
    Ok(vec![imp.bind(
        node.output(0),
        op.write(&left, &right),
        dims,
        Elem::F32,
        layout,
    )])
}

/// Folds `op` over two constants.
fn fold(node: &Node<'_>, op: Arith, x: &Constant, y: &Constant) -> Result<Value, String> {
    let lit = |d: &[usize]| d.iter().map(|&v| Dim::Lit(v)).collect::<Vec<_>>();
    if let Some(out) = broadcast(&lit(&x.dims), &lit(&y.dims)) {
        let sizes: Vec<usize> = out.iter().filter_map(Dim::lit).collect();
        crate::value::fold_len(&sizes)?;
    }
    if let (Some(a), Some(b)) = (int_values(x), int_values(y)) {
        let (dims, values) = zip_ints((&x.dims, &a), (&y.dims, &b), op)
            .ok_or("integer arithmetic on constants overflows or divides by zero")?;
        return Ok(crate::value::constant(
            dims,
            Data::Int(values),
            node.output(0),
        ));
    }
    // Shape arithmetic on symbolic sizes: only `n * 1`, `n + 0` and `n / 1`.
    if let (Data::Dims(dims), Some(b)) = (&x.data, y.ints()) {
        if b.iter().all(|&v| v == identity_of(op)) && y.len() <= x.len().max(1) {
            return Ok(crate::value::constant(
                x.dims.clone(),
                Data::Dims(dims.clone()),
                node.output(0),
            ));
        }
        return Err(
            "it computes with a symbolic size (such as the batch), which the graph's shapes \
             cannot hold as arithmetic"
                .into(),
        );
    }
    let (dims, values) = zip_broadcast((&x.dims, &x.f32s()), (&y.dims, &y.f32s()), |a, b| {
        op.apply(a, b)
    })
    .ok_or("its constant operands do not broadcast")?;
    Ok(crate::value::constant(
        dims,
        Data::F32(values),
        node.output(0),
    ))
}

fn identity_of(op: Arith) -> i64 {
    match op {
        Arith::Mul | Arith::Div => 1,
        _ => 0,
    }
}

fn int_values(c: &Constant) -> Option<Vec<i64>> {
    match &c.data {
        Data::Int(v) => Some(v.clone()),
        Data::Dims(_) => c.ints(),
        Data::F32(_) => None,
    }
}

fn zip_ints(
    a: (&[usize], &[i64]),
    b: (&[usize], &[i64]),
    op: Arith,
) -> Option<(Vec<usize>, Vec<i64>)> {
    // Through f32-free broadcasting: index pairs from a float zip of positions.
    #[allow(clippy::cast_precision_loss)]
    let positions = |len: usize| (0..len).map(|i| i as f32).collect::<Vec<_>>();
    let (dims, left) = zip_broadcast(
        (a.0, &positions(a.1.len())),
        (b.0, &positions(b.1.len())),
        |x, _| x,
    )?;
    let (_, right) = zip_broadcast(
        (a.0, &positions(a.1.len())),
        (b.0, &positions(b.1.len())),
        |_, y| y,
    )?;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let values = left
        .iter()
        .zip(&right)
        .map(|(&i, &j)| op.apply_int(a.1[i as usize], b.1[j as usize]))
        .collect::<Option<Vec<_>>>()?;
    Some((dims, values))
}

/// The layout a computation over `operands` runs in: NHWC if a rank-4
/// tensor among them is stored so and the result has rank 4.
pub fn result_layout(operands: &[&Value], rank: usize) -> Layout {
    let nhwc = operands
        .iter()
        .any(|v| matches!(v, Value::Tensor(t) if t.layout == Layout::Nhwc));
    let lower_rank_tensor = operands
        .iter()
        .any(|v| matches!(v, Value::Tensor(t) if t.dims.len() != 4));
    if rank == 4 && nhwc && !lower_rank_tensor {
        Layout::Nhwc
    } else {
        Layout::Plain
    }
}

/// An operand of an elementwise computation of rank `rank` in `layout`: a
/// one-element constant as a literal, another constant aligned to the
/// layout at import.
fn operand(imp: &mut Importer<'_>, value: &Value, layout: Layout, rank: usize) -> String {
    match value {
        Value::Const(c) if c.len() == 1 && c.dims.len() <= rank => {
            let v = c.scalar().unwrap_or(f32::NAN);
            if v < 0.0 {
                format!("({})", number(v))
            } else {
                number(v)
            }
        }
        Value::Const(c) if layout == Layout::Nhwc => {
            // Align to rank 4, then to NHWC, then drop the leading unit axes
            // broadcasting adds back.
            let mut dims = vec![1; 4 - c.dims.len()];
            dims.extend(&c.dims);
            let (mut permuted, values) = crate::value::permute(&c.f32s(), &dims, &[0, 2, 3, 1]);
            while permuted.len() > 1 && permuted[0] == 1 {
                permuted.remove(0);
            }
            imp.variable(&format!("{}_nhwc", c.origin), permuted, values)
        }
        _ => imp.operand(value, layout),
    }
}

/// A unary activation `f(x, attrs..)`.
fn unary(
    imp: &mut Importer<'_>,
    node: &Node<'_>,
    f: &str,
    attrs: &[(&str, String)],
) -> Result<Vec<Value>, String> {
    let allowed: Vec<&str> = match node.op_type {
        "LeakyRelu" | "Elu" => vec!["alpha"],
        "HardSigmoid" => vec!["alpha", "beta"],
        _ => vec![],
    };
    node.only(&allowed)?;
    let x = node.input(0)?;
    if x.elem() != Elem::F32 {
        return Err("its input holds integers; it takes `float` values".into());
    }
    let (layout, dims) = match x {
        Value::Tensor(t) => (t.layout, t.dims.clone()),
        Value::Const(_) => (Layout::Plain, x.dims()),
    };
    let arg = imp.operand(x, layout);
    let mut args = vec![arg];
    args.extend(attrs.iter().map(|(k, v)| format!("{k} = {v}")));
    Ok(vec![imp.bind(
        node.output(0),
        format!("{f}({})", args.join(", ")),
        dims,
        Elem::F32,
        layout,
    )])
}

/// `Pow` with an exponent the file fixes: `square`, `sqrt` or `pow`.
fn pow(imp: &mut Importer<'_>, node: &Node<'_>) -> Result<Vec<Value>, String> {
    node.only(&[])?;
    let exponent = node.constant(1, "exponent")?;
    let p = exponent
        .scalar()
        .ok_or("its exponent is not one number; the graph's `pow` takes one")?;
    let x = node.input(0)?;
    let t = match x {
        Value::Const(c) => {
            let values = c.f32s().iter().map(|v| v.powf(p)).collect();
            return Ok(vec![crate::value::constant(
                c.dims.clone(),
                Data::F32(values),
                node.output(0),
            )]);
        }
        Value::Tensor(t) => t,
    };
    let (layout, dims) = (t.layout, t.dims.clone());
    let arg = imp.operand(x, layout);
    #[allow(clippy::float_cmp)]
    let expr = if p == 2.0 {
        format!("square({arg})")
    } else if p == 0.5 {
        format!("sqrt({arg})")
    } else if p == 1.0 {
        return Ok(vec![x.clone()]);
    } else {
        format!("pow({arg}, {})", number(p))
    };
    Ok(vec![imp.bind(
        node.output(0),
        expr,
        dims,
        Elem::F32,
        layout,
    )])
}

/// `Gelu` (opset 20): exact, or the tanh approximation.
fn gelu(imp: &mut Importer<'_>, node: &Node<'_>) -> Result<Vec<Value>, String> {
    node.only(&["approximate"])?;
    match node.string("approximate").as_deref() {
        None | Some("none") => unary(imp, &strip(node), "gelu_exact", &[]),
        Some("tanh") => unary(imp, &strip(node), "gelu_tanh", &[]),
        Some(other) => Err(format!(
            "`approximate = \"{other}\"` is not one of `none`, `tanh`"
        )),
    }
}

/// The node without attributes (read already), for `unary`'s check.
fn strip<'a>(node: &Node<'a>) -> Node<'a> {
    Node {
        op_type: node.op_type,
        outputs: node.outputs,
        label: node.label,
        inputs: node.inputs.clone(),
        attributes: &[],
    }
}

/// `Clip`: bounds as attributes (opset < 11) or inputs.
fn clip(imp: &mut Importer<'_>, node: &Node<'_>) -> Result<Vec<Value>, String> {
    let (lo, hi) = if imp.opset() < 11 {
        node.only(&["min", "max"])?;
        (node.float("min", f32::MIN), node.float("max", f32::MAX))
    } else {
        node.only(&[])?;
        let bound = |i: usize, default: f32| -> Result<f32, String> {
            match node.optional(i) {
                None => Ok(default),
                Some(Value::Const(c)) => c
                    .scalar()
                    .ok_or_else(|| "a bound is not one number".to_string()),
                Some(Value::Tensor(_)) => Err(
                    "a bound is computed at run time; the importer needs it fixed by the file"
                        .into(),
                ),
            }
        };
        (bound(1, f32::MIN)?, bound(2, f32::MAX)?)
    };
    let x = node.input(0)?;
    let (layout, dims) = match x {
        Value::Tensor(t) => (t.layout, t.dims.clone()),
        Value::Const(_) => (Layout::Plain, x.dims()),
    };
    let arg = imp.operand(x, layout);
    #[allow(clippy::float_cmp)]
    let expr = if lo == 0.0 && hi == f32::MAX {
        format!("relu({arg})")
    } else {
        format!("clip({arg}, {}, {})", number(lo), number(hi))
    };
    Ok(vec![imp.bind(
        node.output(0),
        expr,
        dims,
        Elem::F32,
        layout,
    )])
}

fn identity(_: &mut Importer<'_>, node: &Node<'_>) -> Result<Vec<Value>, String> {
    node.only(&[])?;
    Ok(vec![node.input(0)?.clone()])
}

/// `Dropout` at inference is the identity; its mask output is not
/// supported.
fn dropout(_: &mut Importer<'_>, node: &Node<'_>) -> Result<Vec<Value>, String> {
    node.only(&["seed", "ratio", "is_test"])?;
    if node.outputs.iter().skip(1).any(|o| !o.is_empty()) {
        return Err(
            "its mask output is used; the importer maps inference, where there is none".into(),
        );
    }
    if let Some(Value::Tensor(_)) = node.optional(2) {
        return Err("its `training_mode` is computed at run time".into());
    }
    if let Some(Value::Const(c)) = node.optional(2) {
        if c.ints().is_some_and(|v| v.iter().any(|&x| x != 0)) {
            return Err("it runs in training mode; the importer maps inference".into());
        }
    }
    Ok(vec![node.input(0)?.clone()])
}

/// `Cast` to a float type (`float`, `double`, `float16`: the graph's `f32`)
/// or, for values the file fixes, to an integer type.
fn cast(_: &mut Importer<'_>, node: &Node<'_>) -> Result<Vec<Value>, String> {
    node.only(&["to", "saturate"])?;
    let to = node.int("to", 1);
    let x = node.input(0)?;
    let float = matches!(to, 1 | 10 | 11 | 16);
    let int = matches!(to, 6 | 7);
    match x {
        Value::Const(c) if float => Ok(vec![crate::value::constant(
            c.dims.clone(),
            Data::F32(c.f32s()),
            node.output(0),
        )]),
        Value::Const(c) if int => {
            let data = match &c.data {
                #[allow(clippy::cast_possible_truncation)]
                Data::F32(v) => Data::Int(v.iter().map(|&x| x.trunc() as i64).collect()),
                other => other.clone(),
            };
            Ok(vec![crate::value::constant(
                c.dims.clone(),
                data,
                node.output(0),
            )])
        }
        Value::Tensor(t) if float && t.elem == Elem::F32 => Ok(vec![x.clone()]),
        Value::Tensor(t) if int && t.elem == Elem::Int => Ok(vec![x.clone()]),
        _ => Err(format!(
            "a cast to {} of a value computed at run time; the importer maps casts between \
             float types",
            crate::tensor::dtype_name(i32::try_from(to).unwrap_or(0))
        )),
    }
}
