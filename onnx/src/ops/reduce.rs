//! Reductions and the softmax family, to the graph's reduce family:
//! `ReduceMean`/`ReduceSum`/`ReduceMax`/`ReduceMin` (axes as an attribute
//! or, from opset 13 for `ReduceSum` and 18 for the others, an input),
//! `ArgMax`, and `Softmax`/`LogSoftmax` with each opset's axis semantics.

use super::{axis, list, Mapping, Node};
use crate::value::{Dim, Elem, Layout, Value};
use crate::Importer;

pub static MAPPINGS: &[(&str, Mapping)] = &[
    ("ReduceMean", |i, n| reduce(i, n, "mean")),
    ("ReduceSum", |i, n| reduce(i, n, "sum")),
    ("ReduceMax", |i, n| reduce(i, n, "max")),
    ("ReduceMin", |i, n| reduce(i, n, "min")),
    ("ArgMax", argmax),
    ("Softmax", |i, n| softmax(i, n, "softmax")),
    ("LogSoftmax", |i, n| softmax(i, n, "log_softmax")),
];

/// Where ONNX axis `a` of an NCHW value is in its NHWC storage.
fn nhwc_axis(a: usize) -> usize {
    [0, 3, 1, 2][a]
}

fn reduce(imp: &mut Importer<'_>, node: &Node<'_>, f: &str) -> Result<Vec<Value>, String> {
    node.only(&["axes", "keepdims", "noop_with_empty_axes"])?;
    let x = node.input(0)?;
    if x.elem() != Elem::F32 {
        return Err("its input holds integers; reductions take `float` values".into());
    }
    let rank = x.rank();
    let axes_input = imp.opset() >= 18 || (f == "sum" && imp.opset() >= 13);
    let written =
        if axes_input {
            match node.optional(1) {
                None => None,
                Some(Value::Const(c)) => Some(c.ints().ok_or("its axes are not integers")?),
                Some(Value::Tensor(_)) => return Err(
                    "its axes are computed at run time; the importer needs them fixed by the file"
                        .into(),
                ),
            }
        } else {
            node.ints("axes")
        };
    let keep = node.int("keepdims", 1) != 0;
    let mut axes: Vec<usize> = match written {
        Some(list) if !list.is_empty() => list
            .iter()
            .map(|&a| axis(a, rank))
            .collect::<Result<_, _>>()?,
        _ if node.int("noop_with_empty_axes", 0) != 0 => return Ok(vec![x.clone()]),
        _ => (0..rank).collect(),
    };
    axes.sort_unstable();
    axes.dedup();
    let dims: Vec<Dim> = x
        .dims()
        .into_iter()
        .enumerate()
        .filter_map(|(i, d)| {
            if !axes.contains(&i) {
                Some(d)
            } else if keep {
                Some(Dim::Lit(1))
            } else {
                None
            }
        })
        .collect();
    // An NHWC value keeps its layout when the reduced axes stay (as 1s).
    let layout = match x {
        Value::Tensor(t) if t.layout == Layout::Nhwc && keep => Layout::Nhwc,
        _ => Layout::Plain,
    };
    let stored: Vec<usize> = if layout == Layout::Nhwc {
        let mut a: Vec<usize> = axes.iter().map(|&a| nhwc_axis(a)).collect();
        a.sort_unstable();
        a
    } else {
        axes.clone()
    };
    let arg = imp.operand(x, layout);
    let axis_text = if stored.len() == 1 {
        stored[0].to_string()
    } else {
        list(&stored)
    };
    let keep_text = if keep { ", keep_dims = true" } else { "" };
    Ok(vec![imp.bind(
        node.output(0),
        format!("{f}({arg}, axis = {axis_text}{keep_text})"),
        dims,
        Elem::F32,
        layout,
    )])
}

/// `ArgMax`: the graph's `argmax` (the first index on ties), with the
/// reduced axis kept as 1 under `keepdims` (the default).
fn argmax(imp: &mut Importer<'_>, node: &Node<'_>) -> Result<Vec<Value>, String> {
    node.only(&["axis", "keepdims", "select_last_index"])?;
    if node.int("select_last_index", 0) != 0 {
        return Err("`select_last_index = 1` is not supported: the graph's `argmax` takes the first index on ties".into());
    }
    let x = node.input(0)?;
    let rank = x.rank();
    let a = axis(node.int("axis", 0), rank)?;
    let keep = node.int("keepdims", 1) != 0;
    let arg = imp.operand(x, Layout::Plain);
    let expr = format!("argmax({arg}, axis = {a})");
    let mut reduced = x.dims();
    reduced.remove(a);
    let value = imp.bind_tensor(
        node.output(0),
        expr,
        reduced.clone(),
        Elem::Int,
        Layout::Plain,
    );
    if !keep {
        return Ok(vec![Value::Tensor(value)]);
    }
    // The kept unit axis exists in the importer's books only: the graph's
    // movement ops take `float` values.
    let mut dims = x.dims();
    dims[a] = Dim::Lit(1);
    let mut t = value;
    t.dims = dims;
    t.graph_dims = Some(reduced);
    Ok(vec![Value::Tensor(t)])
}

/// `Softmax`/`LogSoftmax`. From opset 13, over one axis (default the last);
/// before, over every axis from `axis` (default 1) on, as if flattened.
fn softmax(imp: &mut Importer<'_>, node: &Node<'_>, f: &str) -> Result<Vec<Value>, String> {
    node.only(&["axis"])?;
    let x = node.input(0)?;
    let rank = x.rank();
    let dims = x.dims();
    let modern = imp.opset() >= 13;
    let a = axis(node.int("axis", if modern { -1 } else { 1 }), rank)?;
    let arg = imp.operand(x, Layout::Plain);
    if modern || a + 1 == rank {
        return Ok(vec![imp.bind(
            node.output(0),
            format!("{f}({arg}, axis = {a})"),
            dims,
            Elem::F32,
            Layout::Plain,
        )]);
    }
    // Opset < 13 over several trailing axes: flatten them, then restore.
    let trailing: Option<usize> = dims[a..].iter().map(Dim::lit).product();
    let Some(trailing) = trailing else {
        return Err(format!(
            "before opset 13 it normalises over axes {a}.. together, which need literal sizes"
        ));
    };
    let mut flat: Vec<Dim> = dims[..a].to_vec();
    flat.push(Dim::Lit(trailing));
    let flat_text: Vec<String> = flat.iter().map(ToString::to_string).collect();
    let back: Vec<String> = dims.iter().map(ToString::to_string).collect();
    let t = imp.bind_tensor(
        &format!("{}_flat", node.output(0)),
        format!("{f}(reshape({arg}, [{}]), axis = -1)", flat_text.join(", ")),
        flat,
        Elem::F32,
        Layout::Plain,
    );
    Ok(vec![imp.bind(
        node.output(0),
        format!("reshape({}, [{}])", t.name, back.join(", ")),
        dims,
        Elem::F32,
        Layout::Plain,
    )])
}
