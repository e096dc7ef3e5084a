//! Convolutions, pools and normalisations, to the graph's nn family. ONNX
//! computes them on NCHW images with OIHW filters; the graph's `conv2d` and
//! pools take NHWC and HWIO, so the filters are permuted at import and the
//! images stay NHWC from one of these ops to the next (see
//! [`Layout`]). Explicit pads that TensorFlow's `same` does not produce are
//! written as a `pad` before a `valid` window.

use super::{list, Mapping, Node};
use crate::value::{permute, Dim, Elem, Layout, Value};
use crate::{number, Importer};

pub static MAPPINGS: &[(&str, Mapping)] = &[
    ("Conv", conv),
    ("MaxPool", |i, n| pool(i, n, Pool::Max)),
    ("AveragePool", |i, n| pool(i, n, Pool::Average)),
    ("GlobalAveragePool", |i, n| global(i, n, "mean")),
    ("GlobalMaxPool", |i, n| global(i, n, "max")),
    ("BatchNormalization", batch_norm),
    ("LayerNormalization", layer_norm),
];

/// The spatial geometry of a window op, per axis `[h, w]`.
struct Window {
    kernel: [usize; 2],
    strides: [usize; 2],
    dilations: [usize; 2],
}

/// The graph's padding for a window: `same`, `valid`, or explicit pads to
/// apply first.
enum Padding {
    Valid,
    Same,
    Explicit([usize; 4]),
}

fn pair(node: &Node<'_>, name: &str, default: usize) -> Result<[usize; 2], String> {
    match node.ints(name) {
        None => Ok([default; 2]),
        Some(v) if v.len() == 2 && v.iter().all(|&x| x >= 1) => Ok([
            usize::try_from(v[0]).unwrap_or(1),
            usize::try_from(v[1]).unwrap_or(1),
        ]),
        Some(v) => Err(format!(
            "`{name}` {v:?}: the importer maps 2-D windows with sizes of at least 1"
        )),
    }
}

fn window(
    node: &Node<'_>,
    kernel: [usize; 2],
    input: [usize; 2],
) -> Result<(Window, Padding), String> {
    let strides = pair(node, "strides", 1)?;
    let dilations = pair(node, "dilations", 1)?;
    let mut pads = [0usize; 4];
    if let Some(p) = node.ints("pads") {
        if p.len() != 4 || p.iter().any(|&x| x < 0) {
            return Err(format!("`pads` {p:?}: expected four sizes of at least 0"));
        }
        for (slot, v) in pads.iter_mut().zip(p) {
            *slot = usize::try_from(v).unwrap_or(0);
        }
    }
    let w = Window {
        kernel,
        strides,
        dilations,
    };
    let auto = node.string("auto_pad").unwrap_or_else(|| "NOTSET".into());
    let same_pads = |lower: bool| {
        let mut p = [0usize; 4];
        for axis in 0..2 {
            let out = input[axis].div_ceil(strides[axis]);
            let extent = (kernel[axis] - 1) * dilations[axis] + 1;
            let total = ((out - 1) * strides[axis] + extent).saturating_sub(input[axis]);
            let (small, large) = (total / 2, total - total / 2);
            let (before, after) = if lower {
                (large, small)
            } else {
                (small, large)
            };
            p[axis] = before;
            p[axis + 2] = after;
        }
        p
    };
    let padding = match auto.as_str() {
        "VALID" => Padding::Valid,
        "SAME_UPPER" => Padding::Same,
        "SAME_LOWER" => Padding::Explicit(same_pads(true)),
        "NOTSET" if pads == [0; 4] => Padding::Valid,
        "NOTSET" if pads == same_pads(false) => Padding::Same,
        "NOTSET" => Padding::Explicit(pads),
        other => {
            return Err(format!(
                "`auto_pad = \"{other}\"` is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID"
            ))
        }
    };
    Ok((w, padding))
}

/// The output size along `axis` of a window op.
fn out_size(w: &Window, padding: &Padding, input: usize, axis: usize) -> Result<usize, String> {
    let extent = (w.kernel[axis] - 1) * w.dilations[axis] + 1;
    let padded = match padding {
        Padding::Same => return Ok(input.div_ceil(w.strides[axis])),
        Padding::Valid => input,
        Padding::Explicit(p) => input + p[axis] + p[axis + 2],
    };
    if padded < extent {
        return Err(format!(
            "its window of {extent} does not fit the padded input of {padded}"
        ));
    }
    Ok((padded - extent) / w.strides[axis] + 1)
}

/// The image `x` in NHWC, padded with `value` where the padding is
/// explicit; and the graph's padding word.
fn padded_input(
    imp: &mut Importer<'_>,
    node: &Node<'_>,
    x: &Value,
    padding: &Padding,
    value: f32,
) -> (String, &'static str) {
    let arg = imp.operand(x, Layout::Nhwc);
    match padding {
        Padding::Valid => (arg, "valid"),
        Padding::Same => (arg, "same"),
        Padding::Explicit(p) => {
            let mut dims = x.dims();
            dims[2] = Dim::Lit(dims[2].lit().unwrap_or(0) + p[0] + p[2]);
            dims[3] = Dim::Lit(dims[3].lit().unwrap_or(0) + p[1] + p[3]);
            let fill = if value == 0.0 {
                String::new()
            } else {
                format!(", value = {}", number(value))
            };
            let padded = imp.bind_tensor(
                &format!("{}_padded", node.output(0)),
                format!(
                    "pad({arg}, [[0, 0], [{}, {}], [{}, {}], [0, 0]]{fill})",
                    p[0], p[2], p[1], p[3]
                ),
                dims,
                Elem::F32,
                Layout::Nhwc,
            );
            (padded.name, "valid")
        }
    }
}

fn spatial(x: &Value, what: &str) -> Result<[usize; 2], String> {
    let dims = x.dims();
    if dims.len() != 4 {
        return Err(format!(
            "its input has rank {}; the importer maps 2-D {what} on NCHW images",
            dims.len()
        ));
    }
    let h = dims[2].lit().ok_or("its input's height is symbolic")?;
    let w = dims[3].lit().ok_or("its input's width is symbolic")?;
    Ok([h, w])
}

fn attr_pair(values: [usize; 2]) -> String {
    if values[0] == values[1] {
        values[0].to_string()
    } else {
        list(&values)
    }
}

fn conv(imp: &mut Importer<'_>, node: &Node<'_>) -> Result<Vec<Value>, String> {
    node.only(&[
        "kernel_shape",
        "strides",
        "pads",
        "dilations",
        "group",
        "auto_pad",
    ])?;
    if node.int("group", 1) != 1 {
        return Err(format!(
            "`group = {}`: the importer maps convolutions with one group",
            node.int("group", 1)
        ));
    }
    let x = node.input(0)?;
    let input = spatial(x, "convolutions")?;
    let Value::Const(filter) = node.input(1)? else {
        return Err(
            "its filter is computed at run time; the importer needs it fixed by the file".into(),
        );
    };
    if filter.dims.len() != 4 {
        return Err("its filter is not 4-D (OIHW)".into());
    }
    let [out_channels, in_channels, kh, kw] = [
        filter.dims[0],
        filter.dims[1],
        filter.dims[2],
        filter.dims[3],
    ];
    if x.dims()[1] != Dim::Lit(in_channels) {
        return Err(format!(
            "its filter takes {in_channels} channels, its input has {}",
            x.dims()[1]
        ));
    }
    let (w, padding) = window(node, [kh, kw], input)?;
    let (oh, ow) = (
        out_size(&w, &padding, input[0], 0)?,
        out_size(&w, &padding, input[1], 1)?,
    );
    let (image, pad_word) = padded_input(imp, node, x, &padding, 0.0);
    // OIHW → HWIO, once per filter.
    let (dims, values) = permute(&filter.f32s(), &filter.dims, &[2, 3, 1, 0]);
    let kernel = imp.variable(&filter.origin, dims, values);
    let mut args = vec![image, kernel];
    if w.strides != [1, 1] {
        args.push(format!("strides = {}", attr_pair(w.strides)));
    }
    if pad_word == "same" {
        args.push("padding = same".into());
    }
    if w.dilations != [1, 1] {
        args.push(format!("dilation = {}", attr_pair(w.dilations)));
    }
    let mut expr = format!("conv2d({})", args.join(", "));
    if let Some(bias) = node.optional(2) {
        let Value::Const(b) = bias else {
            return Err("its bias is computed at run time".into());
        };
        let name = imp.variable(&b.origin, b.dims.clone(), b.f32s());
        expr = format!("{expr} + {name}");
    }
    let dims = vec![
        x.dims()[0].clone(),
        Dim::Lit(out_channels),
        Dim::Lit(oh),
        Dim::Lit(ow),
    ];
    Ok(vec![imp.bind(
        node.output(0),
        expr,
        dims,
        Elem::F32,
        Layout::Nhwc,
    )])
}

#[derive(Clone, Copy, PartialEq)]
enum Pool {
    Max,
    Average,
}

fn pool(imp: &mut Importer<'_>, node: &Node<'_>, kind: Pool) -> Result<Vec<Value>, String> {
    node.only(&[
        "kernel_shape",
        "strides",
        "pads",
        "auto_pad",
        "ceil_mode",
        "count_include_pad",
        "dilations",
        "storage_order",
    ])?;
    if node.outputs.iter().skip(1).any(|o| !o.is_empty()) {
        return Err("its indices output is used, which the graph's pools do not give".into());
    }
    if node.int("storage_order", 0) != 0 {
        return Err("`storage_order = 1` is not supported".into());
    }
    let x = node.input(0)?;
    let input = spatial(x, "pools")?;
    let kernel = pair(node, "kernel_shape", 0)?;
    let (w, padding) = window(node, kernel, input)?;
    if w.dilations != [1, 1] {
        return Err("dilated pools are not supported".into());
    }
    let (mut oh, mut ow) = (
        out_size(&w, &padding, input[0], 0)?,
        out_size(&w, &padding, input[1], 1)?,
    );
    if node.int("ceil_mode", 0) != 0 {
        // Ceil mode only changes the result where a last window would
        // start inside the padded input and end past it.
        let ceil = |axis: usize, floor: usize| {
            let padded = match &padding {
                Padding::Explicit(p) => input[axis] + p[axis] + p[axis + 2],
                _ => input[axis],
            };
            let extent = w.kernel[axis];
            (padded.saturating_sub(extent)).div_ceil(w.strides[axis]) + 1 != floor
        };
        if !matches!(padding, Padding::Same) && (ceil(0, oh) || ceil(1, ow)) {
            return Err("`ceil_mode = 1` gives a partial last window here, which the graph's pools do not compute".into());
        }
    }
    let include_pad = node.int("count_include_pad", 0) != 0;
    let value = match kind {
        Pool::Max => f32::MIN,
        Pool::Average => 0.0,
    };
    let padding = match (kind, padding, include_pad) {
        // The graph's average counts only the cells inside the input.
        (Pool::Average, Padding::Explicit(_), false) => {
            return Err("explicit pads without `count_include_pad` that TensorFlow's `same` does not make: the graph's average pool counts only cells inside the input under `same` alone".into())
        }
        (Pool::Average, Padding::Same, true) => {
            let p = same_as_pads(&w, input);
            if p == [0; 4] { Padding::Valid } else { Padding::Explicit(p) }
        }
        (_, p, _) => p,
    };
    if let Padding::Explicit(_) = padding {
        // Recompute with the final padding.
        oh = out_size(&w, &padding, input[0], 0)?;
        ow = out_size(&w, &padding, input[1], 1)?;
    }
    let (image, pad_word) = padded_input(imp, node, x, &padding, value);
    let f = match kind {
        Pool::Max => "max_pool2d",
        Pool::Average => "avg_pool2d",
    };
    let mut args = vec![
        image,
        format!("window = {}", attr_pair(w.kernel)),
        format!("strides = {}", attr_pair(w.strides)),
    ];
    if pad_word == "same" {
        args.push("padding = same".into());
    }
    let mut dims = x.dims();
    dims[2] = Dim::Lit(oh);
    dims[3] = Dim::Lit(ow);
    Ok(vec![imp.bind(
        node.output(0),
        format!("{f}({})", args.join(", ")),
        dims,
        Elem::F32,
        Layout::Nhwc,
    )])
}

/// TensorFlow's `same` pads for a window, as explicit `[hb, wb, he, we]`.
fn same_as_pads(w: &Window, input: [usize; 2]) -> [usize; 4] {
    let mut p = [0; 4];
    for axis in 0..2 {
        let out = input[axis].div_ceil(w.strides[axis]);
        let total = ((out - 1) * w.strides[axis] + w.kernel[axis]).saturating_sub(input[axis]);
        p[axis] = total / 2;
        p[axis + 2] = total - total / 2;
    }
    p
}

fn global(imp: &mut Importer<'_>, node: &Node<'_>, f: &str) -> Result<Vec<Value>, String> {
    node.only(&[])?;
    let x = node.input(0)?;
    spatial(x, "pools")?;
    let arg = imp.operand(x, Layout::Nhwc);
    let mut dims = x.dims();
    dims[2] = Dim::Lit(1);
    dims[3] = Dim::Lit(1);
    Ok(vec![imp.bind(
        node.output(0),
        format!("{f}({arg}, axis = [1, 2], keep_dims = true)"),
        dims,
        Elem::F32,
        Layout::Nhwc,
    )])
}

/// `BatchNormalization` in inference mode: the graph's `batch_norm` over
/// the channel axis (last in NHWC, or of `[n, c]`).
fn batch_norm(imp: &mut Importer<'_>, node: &Node<'_>) -> Result<Vec<Value>, String> {
    node.only(&[
        "epsilon",
        "momentum",
        "training_mode",
        "spatial",
        "is_test",
        "consumed_inputs",
    ])?;
    if node.int("training_mode", 0) != 0 || node.outputs.iter().skip(1).any(|o| !o.is_empty()) {
        return Err("it runs in training mode; the importer maps inference".into());
    }
    let x = node.input(0)?;
    let layout = match x.rank() {
        4 => Layout::Nhwc,
        2 => Layout::Plain,
        r => {
            return Err(format!(
                "its input has rank {r}; the importer maps `[n, c]` and NCHW images"
            ))
        }
    };
    let mut params = Vec::new();
    for (i, what) in [(1, "scale"), (2, "bias"), (3, "mean"), (4, "variance")] {
        let Value::Const(c) = node.input(i)? else {
            return Err(format!("its {what} is computed at run time"));
        };
        params.push(imp.variable(&c.origin, c.dims.clone(), c.f32s()));
    }
    let arg = imp.operand(x, layout);
    let eps = node.float("epsilon", 1e-5);
    let expr = format!(
        "batch_norm({arg}, {}, {}, {}, {}, epsilon = {})",
        params[2],
        params[3],
        params[0],
        params[1],
        number(eps)
    );
    Ok(vec![imp.bind(
        node.output(0),
        expr,
        x.dims(),
        Elem::F32,
        layout,
    )])
}

/// `LayerNormalization` (opset 17) over the last axis.
fn layer_norm(imp: &mut Importer<'_>, node: &Node<'_>) -> Result<Vec<Value>, String> {
    node.only(&["axis", "epsilon", "stash_type"])?;
    let x = node.input(0)?;
    let rank = x.rank();
    if super::axis(node.int("axis", -1), rank)? + 1 != rank {
        return Err(
            "it normalises over more than the last axis; the graph's `layer_norm` takes the last"
                .into(),
        );
    }
    if node.outputs.iter().skip(1).any(|o| !o.is_empty()) {
        return Err("its mean or inverse deviation output is used".into());
    }
    let Value::Const(scale) = node.input(1)? else {
        return Err("its scale is computed at run time".into());
    };
    let gamma = imp.variable(&scale.origin, scale.dims.clone(), scale.f32s());
    let beta = match node.optional(2) {
        Some(Value::Const(b)) => imp.variable(&b.origin, b.dims.clone(), b.f32s()),
        Some(Value::Tensor(_)) => return Err("its bias is computed at run time".into()),
        None => imp.variable(
            &format!("{}_zero_bias", node.output(0)),
            scale.dims.clone(),
            vec![0.0; scale.len()],
        ),
    };
    let arg = imp.operand(x, Layout::Plain);
    let eps = node.float("epsilon", 1e-5);
    let expr = format!(
        "layer_norm({arg}, {gamma}, {beta}, epsilon = {})",
        number(eps)
    );
    Ok(vec![imp.bind(
        node.output(0),
        expr,
        x.dims(),
        Elem::F32,
        Layout::Plain,
    )])
}
