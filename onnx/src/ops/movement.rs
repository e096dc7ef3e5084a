//! Shape and data movement, to the graph's movement family (`reshape`,
//! `permute`, `concat`, `slice`, `squeeze`, `expand_dims`, `gather`), and
//! the operators that only describe values (`Shape`, `Constant`,
//! `ConstantOfShape`): folded at import whenever the file fixes the values,
//! including `Shape` arithmetic over a symbolic batch.

use super::{axis, list, Mapping, Node};
use crate::tensor;
use crate::value::{permute, strides, Constant, Data, Dim, DimEntry, Elem, Layout, Value};
use crate::{number, Importer};

pub static MAPPINGS: &[(&str, Mapping)] = &[
    ("Flatten", flatten),
    ("Reshape", reshape),
    ("Transpose", transpose),
    ("Concat", concat),
    ("Slice", slice),
    ("Squeeze", squeeze),
    ("Unsqueeze", unsqueeze),
    ("Gather", gather),
    ("Shape", shape),
    ("Constant", constant),
    ("ConstantOfShape", constant_of_shape),
];

/// The elements of `data` at the flat positions `at`.
fn take(data: &Data, at: &[usize]) -> Data {
    match data {
        Data::F32(v) => Data::F32(at.iter().map(|&i| v[i]).collect()),
        Data::Int(v) => Data::Int(at.iter().map(|&i| v[i]).collect()),
        Data::Dims(v) => Data::Dims(at.iter().map(|&i| v[i].clone()).collect()),
    }
}

/// A node's output folded to a constant of shape `dims`.
fn folded(node: &Node<'_>, dims: Vec<usize>, data: Data) -> Value {
    crate::value::constant(dims, data, node.output(0))
}

/// The product of `dims` as one dim: a number, or one symbol times 1.
fn product(dims: &[Dim]) -> Option<Dim> {
    let mut lit = 1usize;
    let mut symbol = None;
    for d in dims {
        match d {
            Dim::Lit(v) => lit = lit.checked_mul(*v)?,
            Dim::Sym(s) if symbol.is_none() => symbol = Some(s.clone()),
            Dim::Sym(_) => return None,
        }
    }
    match symbol {
        None => Some(Dim::Lit(lit)),
        Some(s) if lit == 1 => Some(Dim::Sym(s)),
        Some(_) => None,
    }
}

/// An integer tensor given the ONNX shape `dims`, which may differ from
/// the graph's shape of it by unit axes only.
fn int_reshape(t: &crate::value::Tensor, dims: Vec<Dim>) -> Result<Vec<Value>, String> {
    let strip = |d: &[Dim]| {
        d.iter()
            .filter(|x| **x != Dim::Lit(1))
            .cloned()
            .collect::<Vec<_>>()
    };
    if strip(&dims) != strip(t.stored_dims()) {
        return Err(
            "it moves integer values other than by unit axes; the graph's movement ops take \
             `float` values"
                .into(),
        );
    }
    let stored = t.stored_dims().to_vec();
    let mut out = t.clone();
    out.graph_dims = if stored == dims { None } else { Some(stored) };
    out.dims = dims;
    Ok(vec![Value::Tensor(out)])
}

fn tensor_reshape(
    imp: &mut Importer<'_>,
    node: &Node<'_>,
    x: &Value,
    dims: Vec<Dim>,
) -> Result<Vec<Value>, String> {
    if let Value::Tensor(t) = x {
        if t.elem != Elem::F32 {
            return int_reshape(t, dims);
        }
    }
    if x.dims() == dims {
        return Ok(vec![x.clone()]);
    }
    let arg = imp.operand(x, Layout::Plain);
    let elem = x.elem();
    let text: Vec<String> = dims.iter().map(ToString::to_string).collect();
    Ok(vec![imp.bind(
        node.output(0),
        format!("reshape({arg}, [{}])", text.join(", ")),
        dims,
        elem,
        Layout::Plain,
    )])
}

fn flatten(imp: &mut Importer<'_>, node: &Node<'_>) -> Result<Vec<Value>, String> {
    node.only(&["axis"])?;
    let x = node.input(0)?;
    let dims = x.dims();
    let rank = dims.len();
    let a = if node.int("axis", 1) == i64::try_from(rank).unwrap_or(0) {
        rank
    } else {
        axis(node.int("axis", 1), rank)?
    };
    let outer = product(&dims[..a]).ok_or("the axes before `axis` multiply a symbolic size")?;
    let inner = product(&dims[a..]).ok_or("the axes from `axis` on multiply a symbolic size")?;
    if let Value::Const(c) = x {
        let sizes = [outer.lit().unwrap_or(1), inner.lit().unwrap_or(1)];
        return Ok(vec![folded(node, sizes.to_vec(), c.data.clone())]);
    }
    tensor_reshape(imp, node, x, vec![outer, inner])
}

/// The shape `Reshape` gives `input` for `target` (with `0` copying the
/// input's dim unless `allowzero`, and one `-1` for the rest).
fn reshape_dims(input: &[Dim], target: &[DimEntry], allow_zero: bool) -> Result<Vec<Dim>, String> {
    let mut out: Vec<Option<Dim>> = Vec::with_capacity(target.len());
    for (i, entry) in target.iter().enumerate() {
        out.push(match entry {
            DimEntry::Sym(s) => Some(Dim::Sym(s.clone())),
            DimEntry::Int(0) if !allow_zero => Some(
                input
                    .get(i)
                    .cloned()
                    .ok_or("a `0` in the target shape has no input axis to copy")?,
            ),
            DimEntry::Int(-1) => None,
            DimEntry::Int(v) => Some(Dim::Lit(
                usize::try_from(*v).map_err(|_| format!("a target size of {v}"))?,
            )),
        });
    }
    if out.iter().filter(|d| d.is_none()).count() > 1 {
        return Err("more than one `-1` in the target shape".into());
    }
    // Literal products and symbols on each side.
    let split = |dims: &[Dim]| {
        let mut lit = 1usize;
        let mut syms: Vec<String> = Vec::new();
        for d in dims {
            match d {
                Dim::Lit(v) => lit = lit.checked_mul(*v)?,
                Dim::Sym(s) => syms.push(s.clone()),
            }
        }
        Some((lit, syms))
    };
    let known: Vec<Dim> = out.iter().flatten().cloned().collect();
    let overflow = || format!("the sizes of {target:?} multiply past what memory can address");
    let (in_lit, mut in_syms) = split(input).ok_or_else(overflow)?;
    let (out_lit, out_syms) = split(&known).ok_or_else(overflow)?;
    for s in &out_syms {
        if let Some(at) = in_syms.iter().position(|x| x == s) {
            in_syms.remove(at);
        } else {
            return Err(format!(
                "the target shape has `{s}`, which the input's shape lacks"
            ));
        }
    }
    if !out.iter().any(Option::is_none) && (!in_syms.is_empty() || in_lit != out_lit) {
        return Err(format!(
            "reshaping {} to {:?} changes its number of elements",
            crate::value::dims_text(input),
            target
        ));
    }
    let rest = in_lit.checked_div(out_lit);
    let fill = match (in_syms.as_slice(), rest) {
        ([], Some(r)) if r * out_lit == in_lit => Dim::Lit(r),
        ([s], Some(1)) if out_lit == in_lit => Dim::Sym(s.clone()),
        _ if !out.iter().any(Option::is_none) && in_syms.is_empty() && in_lit == out_lit => {
            Dim::Lit(1)
        }
        _ => {
            return Err(format!(
                "reshaping {} to {:?} needs a size the graph cannot write (a product with a \
                 symbolic size)",
                crate::value::dims_text(input),
                target
            ))
        }
    };
    Ok(out
        .into_iter()
        .map(|d| d.unwrap_or_else(|| fill.clone()))
        .collect())
}

fn reshape(imp: &mut Importer<'_>, node: &Node<'_>) -> Result<Vec<Value>, String> {
    node.only(&["allowzero", "shape"])?;
    let x = node.input(0)?;
    let target = if imp.opset() < 5 {
        node.ints("shape")
            .ok_or("its `shape` attribute is missing")?
            .into_iter()
            .map(DimEntry::Int)
            .collect()
    } else {
        node.constant(1, "target shape")?
            .dims_data()
            .ok_or("its target shape holds floats")?
    };
    let dims = reshape_dims(&x.dims(), &target, node.int("allowzero", 0) != 0)?;
    if let Value::Const(c) = x {
        let sizes = super::literal_dims(&dims, "reshaping a constant")?;
        return Ok(vec![folded(node, sizes, c.data.clone())]);
    }
    tensor_reshape(imp, node, x, dims)
}

fn transpose(imp: &mut Importer<'_>, node: &Node<'_>) -> Result<Vec<Value>, String> {
    node.only(&["perm"])?;
    let x = node.input(0)?;
    let rank = x.rank();
    let perm: Vec<usize> = match node.ints("perm") {
        Some(p) => p.iter().map(|&a| axis(a, rank)).collect::<Result<_, _>>()?,
        None => (0..rank).rev().collect(),
    };
    let mut seen = perm.clone();
    seen.sort_unstable();
    if perm.len() != rank || seen != (0..rank).collect::<Vec<_>>() {
        return Err(format!(
            "`perm` {perm:?} is not a permutation of {rank} axes"
        ));
    }
    let dims = x.dims();
    let out: Vec<Dim> = perm.iter().map(|&p| dims[p].clone()).collect();
    match x {
        Value::Const(c) => {
            let at: Vec<usize> = (0..c.len()).collect();
            let (sizes, order) = permute(&at, &c.dims, &perm);
            Ok(vec![folded(node, sizes, take(&c.data, &order))])
        }
        Value::Tensor(t) => {
            if perm.iter().enumerate().all(|(i, &p)| i == p) {
                return Ok(vec![x.clone()]);
            }
            let arg = imp.operand(x, Layout::Plain);
            Ok(vec![imp.bind(
                node.output(0),
                format!("permute({arg}, {})", list(&perm)),
                out,
                t.elem,
                Layout::Plain,
            )])
        }
    }
}

fn concat(imp: &mut Importer<'_>, node: &Node<'_>) -> Result<Vec<Value>, String> {
    node.only(&["axis"])?;
    let values: Vec<&Value> = node.inputs.iter().flatten().collect();
    let first = values.first().ok_or("it has no inputs")?;
    let rank = first.rank();
    let a = axis(node.int("axis", 0), rank)?;
    let mut dims = first.dims();
    let mut total: Option<usize> = Some(0);
    for v in &values {
        let d = v.dims();
        if d.len() != rank {
            return Err("its inputs differ in rank".into());
        }
        total = total.and_then(|t| d[a].lit().map(|x| t + x));
    }
    if values.iter().all(|v| v.as_const().is_some()) {
        let consts: Vec<&Constant> = values.iter().filter_map(|v| v.as_const()).collect();
        return fold_concat(node, &consts, a);
    }
    dims[a] = Dim::Lit(total.ok_or("it joins along an axis of symbolic size")?);
    let elem = first.elem();
    let mut args = Vec::new();
    for v in &values {
        args.push(imp.operand(v, Layout::Plain));
    }
    Ok(vec![imp.bind(
        node.output(0),
        format!("concat([{}], axis = {a})", args.join(", ")),
        dims,
        elem,
        Layout::Plain,
    )])
}

fn fold_concat(node: &Node<'_>, consts: &[&Constant], a: usize) -> Result<Vec<Value>, String> {
    let outer: usize = consts[0].dims[..a].iter().product();
    let mut dims = consts[0].dims.clone();
    dims[a] = consts
        .iter()
        .try_fold(0usize, |sum, c| sum.checked_add(c.dims[a]))
        .ok_or("it joins more elements than memory can address")?;
    crate::value::fold_len(&dims)?;
    let mut parts: Vec<Data> = Vec::new();
    for o in 0..outer {
        for c in consts {
            let chunk: usize = c.dims[a..].iter().product();
            let at: Vec<usize> = (o * chunk..(o + 1) * chunk).collect();
            parts.push(take(&c.data, &at));
        }
    }
    let data = join(parts).ok_or("it joins constants of different types")?;
    Ok(vec![crate::value::constant(dims, data, node.output(0))])
}

fn join(parts: Vec<Data>) -> Option<Data> {
    let dims_like = parts.iter().any(|p| matches!(p, Data::Dims(_)));
    let mut out = match parts.first()? {
        _ if dims_like => Data::Dims(Vec::new()),
        Data::F32(_) => Data::F32(Vec::new()),
        Data::Int(_) | Data::Dims(_) => Data::Int(Vec::new()),
    };
    for part in parts {
        match (&mut out, part) {
            (Data::F32(o), Data::F32(p)) => o.extend(p),
            (Data::Int(o), Data::Int(p)) => o.extend(p),
            (Data::Dims(o), Data::Dims(p)) => o.extend(p),
            (Data::Dims(o), Data::Int(p)) => o.extend(p.into_iter().map(DimEntry::Int)),
            _ => return None,
        }
    }
    Some(out)
}

fn slice(imp: &mut Importer<'_>, node: &Node<'_>) -> Result<Vec<Value>, String> {
    let x = node.input(0)?;
    let rank = x.rank();
    let ints = |i: usize, what: &str| -> Result<Option<Vec<i64>>, String> {
        match node.optional(i) {
            None => Ok(None),
            Some(Value::Const(c)) => c
                .ints()
                .map(Some)
                .ok_or_else(|| format!("its {what} are not integers")),
            Some(Value::Tensor(_)) => Err(format!("its {what} are computed at run time")),
        }
    };
    let (starts, ends, axes, steps) = if imp.opset() < 10 {
        node.only(&["starts", "ends", "axes"])?;
        (
            node.ints("starts").ok_or("`starts` is missing")?,
            node.ints("ends").ok_or("`ends` is missing")?,
            node.ints("axes"),
            None,
        )
    } else {
        node.only(&[])?;
        (
            ints(1, "starts")?.ok_or("its starts are missing")?,
            ints(2, "ends")?.ok_or("its ends are missing")?,
            ints(3, "axes")?,
            ints(4, "steps")?,
        )
    };
    if steps.as_ref().is_some_and(|s| s.iter().any(|&v| v != 1)) {
        return Err("a step other than 1 is not supported".into());
    }
    let axes: Vec<usize> = match axes {
        Some(a) => a.iter().map(|&v| axis(v, rank)).collect::<Result<_, _>>()?,
        None => (0..starts.len()).collect(),
    };
    if starts.len() != axes.len() || ends.len() != axes.len() {
        return Err("its starts, ends and axes differ in length".into());
    }
    let mut dims = x.dims();
    let mut cuts = Vec::new();
    for ((&a, &start), &end) in axes.iter().zip(&starts).zip(&ends) {
        let Some(size) = dims[a].lit() else {
            if start == 0 && end >= i64::from(i32::MAX) {
                continue; // the whole symbolic axis
            }
            return Err(format!("it cuts axis {a}, of symbolic size `{}`", dims[a]));
        };
        let size_i = i64::try_from(size).unwrap_or(i64::MAX);
        let clamp = |v: i64| {
            if v < 0 {
                (v + size_i).max(0)
            } else {
                v.min(size_i)
            }
        };
        let (s, e) = (clamp(start), clamp(end).max(clamp(start)));
        if s == 0 && e == size_i {
            continue;
        }
        let (s, e) = (
            usize::try_from(s).unwrap_or(0),
            usize::try_from(e).unwrap_or(0),
        );
        dims[a] = Dim::Lit(e - s);
        cuts.push((a, s, e));
    }
    if let Value::Const(c) = x {
        let (shape, at) = slice_positions(&c.dims, &cuts);
        return Ok(vec![folded(node, shape, take(&c.data, &at))]);
    }
    let mut expr = imp.operand(x, Layout::Plain);
    if cuts.is_empty() {
        return Ok(vec![x.clone()]);
    }
    for (a, s, e) in cuts {
        expr = format!("slice({expr}, {a}, {s}, {e})");
    }
    Ok(vec![imp.bind(
        node.output(0),
        expr,
        dims,
        x.elem(),
        Layout::Plain,
    )])
}

/// The shape of a constant of shape `dims` cut by `cuts` (axis, start,
/// end), and the flat positions of the elements kept.
fn slice_positions(dims: &[usize], cuts: &[(usize, usize, usize)]) -> (Vec<usize>, Vec<usize>) {
    let mut at: Vec<usize> = (0..dims.iter().product()).collect();
    let mut shape = dims.to_vec();
    for &(a, s, e) in cuts {
        let st = strides(&shape);
        let mut new_shape = shape.clone();
        new_shape[a] = e - s;
        let total: usize = new_shape.iter().product();
        let new_st = strides(&new_shape);
        let mut next = Vec::with_capacity(total);
        for flat in 0..total {
            let mut src = 0;
            for axis_i in 0..shape.len() {
                let mut idx = (flat / new_st[axis_i]) % new_shape[axis_i].max(1);
                if axis_i == a {
                    idx += s;
                }
                src += idx * st[axis_i];
            }
            next.push(at[src]);
        }
        at = next;
        shape = new_shape;
    }
    (shape, at)
}

/// The axes of `Squeeze`/`Unsqueeze`: an attribute before opset 13, an
/// input from it.
fn axes_of(imp: &Importer<'_>, node: &Node<'_>) -> Result<Option<Vec<i64>>, String> {
    if imp.opset() < 13 {
        node.only(&["axes"])?;
        Ok(node.ints("axes"))
    } else {
        node.only(&[])?;
        match node.optional(1) {
            None => Ok(None),
            Some(Value::Const(c)) => c
                .ints()
                .map(Some)
                .ok_or_else(|| "its axes are not integers".into()),
            Some(Value::Tensor(_)) => Err("its axes are computed at run time".into()),
        }
    }
}

fn squeeze(imp: &mut Importer<'_>, node: &Node<'_>) -> Result<Vec<Value>, String> {
    let x = node.input(0)?;
    let dims = x.dims();
    let axes: Vec<usize> = match axes_of(imp, node)? {
        Some(a) => a
            .iter()
            .map(|&v| axis(v, dims.len()))
            .collect::<Result<_, _>>()?,
        None => (0..dims.len())
            .filter(|&i| dims[i] == Dim::Lit(1))
            .collect(),
    };
    if let Some(&bad) = axes.iter().find(|&&a| dims[a] != Dim::Lit(1)) {
        return Err(format!("axis {bad} has size {}, not 1", dims[bad]));
    }
    let out: Vec<Dim> = dims
        .iter()
        .enumerate()
        .filter(|(i, _)| !axes.contains(i))
        .map(|(_, d)| d.clone())
        .collect();
    if let Value::Const(c) = x {
        let sizes = super::literal_dims(&out, "a constant")?;
        return Ok(vec![folded(node, sizes, c.data.clone())]);
    }
    if axes.is_empty() {
        return Ok(vec![x.clone()]);
    }
    if let Value::Tensor(t) = x {
        if t.elem != Elem::F32 {
            return int_reshape(t, out);
        }
    }
    let arg = imp.operand(x, Layout::Plain);
    let mut sorted = axes.clone();
    sorted.sort_unstable();
    let axis_text = if sorted.len() == 1 {
        sorted[0].to_string()
    } else {
        list(&sorted)
    };
    Ok(vec![imp.bind(
        node.output(0),
        format!("squeeze({arg}, axis = {axis_text})"),
        out,
        x.elem(),
        Layout::Plain,
    )])
}

fn unsqueeze(imp: &mut Importer<'_>, node: &Node<'_>) -> Result<Vec<Value>, String> {
    let x = node.input(0)?;
    let mut dims = x.dims();
    let written = axes_of(imp, node)?.ok_or("its axes are missing")?;
    let rank = dims.len() + written.len();
    let mut axes: Vec<usize> = written
        .iter()
        .map(|&v| axis(v, rank))
        .collect::<Result<_, _>>()?;
    axes.sort_unstable();
    for &a in &axes {
        dims.insert(a, Dim::Lit(1));
    }
    if let Value::Const(c) = x {
        let sizes = super::literal_dims(&dims, "a constant")?;
        return Ok(vec![folded(node, sizes, c.data.clone())]);
    }
    if let Value::Tensor(t) = x {
        if t.elem != Elem::F32 {
            return int_reshape(t, dims);
        }
    }
    let mut expr = imp.operand(x, Layout::Plain);
    for a in axes {
        expr = format!("expand_dims({expr}, {a})");
    }
    Ok(vec![imp.bind(
        node.output(0),
        expr,
        dims,
        x.elem(),
        Layout::Plain,
    )])
}

fn gather(imp: &mut Importer<'_>, node: &Node<'_>) -> Result<Vec<Value>, String> {
    node.only(&["axis"])?;
    let (data, indices) = (node.input(0)?, node.input(1)?);
    let dims = data.dims();
    let a = axis(node.int("axis", 0), dims.len())?;
    match (data, indices) {
        (Value::Const(c), Value::Const(i)) => {
            let idx = i.ints().ok_or("its indices are not integers")?;
            let size = c.dims[a];
            let idx: Vec<usize> = idx
                .iter()
                .map(|&v| {
                    let v = if v < 0 { v + i64::try_from(size).unwrap_or(0) } else { v };
                    usize::try_from(v).ok().filter(|&v| v < size).ok_or(format!("index {v} is out of range for size {size}"))
                })
                .collect::<Result<_, _>>()?;
            let mut out = c.dims[..a].to_vec();
            out.extend(&i.dims);
            out.extend(&c.dims[a + 1..]);
            crate::value::fold_len(&out)?;
            let outer: usize = c.dims[..a].iter().product();
            let inner: usize = c.dims[a + 1..].iter().product();
            let mut at = Vec::new();
            for o in 0..outer {
                for &j in &idx {
                    for k in 0..inner {
                        at.push((o * size + j) * inner + k);
                    }
                }
            }
            Ok(vec![folded(node, out, take(&c.data, &at))])
        }
        (Value::Tensor(_), Value::Const(i)) if i.dims.is_empty() => {
            // One index along `axis`: a slice without that axis.
            let j = i.ints().and_then(|v| v.first().copied()).ok_or("its index is not an integer")?;
            let size = dims[a].lit().ok_or("it indexes an axis of symbolic size")?;
            let size_i = i64::try_from(size).unwrap_or(0);
            let j = usize::try_from(if j < 0 { j + size_i } else { j })
                .ok()
                .filter(|&j| j < size)
                .ok_or(format!("index {j} is out of range for size {size}"))?;
            let arg = imp.operand(data, Layout::Plain);
            let mut out = dims.clone();
            out.remove(a);
            Ok(vec![imp.bind(
                node.output(0),
                format!("squeeze(slice({arg}, {a}, {j}, {}), axis = {a})", j + 1),
                out,
                data.elem(),
                Layout::Plain,
            )])
        }
        (_, Value::Tensor(t)) if a == 0 && t.elem == Elem::Int => {
            let table = imp.operand(data, Layout::Plain);
            let mut out = t.dims.clone();
            out.extend(dims[1..].iter().cloned());
            Ok(vec![imp.bind(
                node.output(0),
                format!("gather({table}, {})", t.name),
                out,
                data.elem(),
                Layout::Plain,
            )])
        }
        _ => Err("the graph's `gather` takes run-time indices along axis 0, or one fixed index along any axis".into()),
    }
}

fn shape(_: &mut Importer<'_>, node: &Node<'_>) -> Result<Vec<Value>, String> {
    node.only(&["start", "end"])?;
    let dims = node.input(0)?.dims();
    let rank = i64::try_from(dims.len()).unwrap_or(0);
    let clamp =
        |v: i64| usize::try_from(if v < 0 { v + rank } else { v }.clamp(0, rank)).unwrap_or(0);
    let start = clamp(node.int("start", 0));
    let end = clamp(node.int("end", rank)).max(start);
    let part = dims[start..end].to_vec();
    let entries = part.iter().map(DimEntry::of).collect();
    Ok(vec![crate::value::constant(
        vec![part.len()],
        Data::Dims(entries),
        node.output(0),
    )])
}

fn constant(_: &mut Importer<'_>, node: &Node<'_>) -> Result<Vec<Value>, String> {
    let out = node.output(0);
    if let Some(t) = node.tensor_attribute("value") {
        let mut c = tensor::read(t).map_err(|m| format!("its value: {m}"))?;
        c.origin = out.to_string();
        return Ok(vec![Value::Const(c.into())]);
    }
    if node.has("value_float") {
        return Ok(vec![crate::value::constant(
            vec![],
            Data::F32(vec![node.float("value_float", 0.0)]),
            out,
        )]);
    }
    if let Some(v) = node.attributes.iter().find(|a| a.name == "value_floats") {
        return Ok(vec![crate::value::constant(
            vec![v.floats.len()],
            Data::F32(v.floats.clone()),
            out,
        )]);
    }
    if node.has("value_int") {
        return Ok(vec![crate::value::constant(
            vec![],
            Data::Int(vec![node.int("value_int", 0)]),
            out,
        )]);
    }
    if let Some(v) = node.ints("value_ints") {
        return Ok(vec![crate::value::constant(
            vec![v.len()],
            Data::Int(v),
            out,
        )]);
    }
    Err("its value is not a dense tensor, float(s) or int(s) (sparse and string values are not supported)".into())
}

fn constant_of_shape(imp: &mut Importer<'_>, node: &Node<'_>) -> Result<Vec<Value>, String> {
    node.only(&["value"])?;
    let target = node
        .constant(0, "shape")?
        .dims_data()
        .ok_or("its shape holds floats")?;
    let fill = match node.tensor_attribute("value") {
        Some(t) => tensor::read(t).map_err(|m| format!("its value: {m}"))?,
        None => Constant {
            dims: vec![1],
            data: Data::F32(vec![0.0]),
            origin: String::new(),
        },
    };
    let dims: Vec<Dim> = target
        .iter()
        .map(|e| match e {
            DimEntry::Int(v) => usize::try_from(*v)
                .map(Dim::Lit)
                .map_err(|_| format!("a size of {v}")),
            DimEntry::Sym(s) => Ok(Dim::Sym(s.clone())),
        })
        .collect::<Result<_, _>>()?;
    if let Ok(sizes) = super::literal_dims(&dims, "") {
        let len = crate::value::fold_len(&sizes)?;
        let data = match &fill.data {
            Data::F32(v) => Data::F32(vec![v.first().copied().unwrap_or(0.0); len]),
            Data::Int(v) => Data::Int(vec![v.first().copied().unwrap_or(0); len]),
            Data::Dims(_) => return Err("its value is not a number".into()),
        };
        return Ok(vec![crate::value::constant(sizes, data, node.output(0))]);
    }
    if !matches!(fill.data, Data::F32(_)) {
        return Err("an integer fill of a symbolic shape".into());
    }
    let value = fill.scalar().unwrap_or(0.0);
    let text: Vec<String> = dims.iter().map(ToString::to_string).collect();
    Ok(vec![imp.bind(
        node.output(0),
        format!("broadcast_to({}, [{}])", number(value), text.join(", ")),
        dims,
        Elem::F32,
        Layout::Plain,
    )])
}

/// `ArrayFeatureExtractor` (domain `ai.onnx.ml`), as scikit-learn's
/// classifiers use it: the class labels `X` picked by the predicted
/// indices `Y`. Labels `0..k` are the indices themselves; `float` labels
/// are gathered.
pub fn array_feature_extractor(
    imp: &mut Importer<'_>,
    node: &Node<'_>,
) -> Result<Vec<Value>, String> {
    node.only(&[])?;
    let (labels, indices) = (node.input(0)?, node.input(1)?);
    let Value::Const(c) = labels else {
        return Err("its labels are computed at run time".into());
    };
    let Value::Tensor(t) = indices else {
        return Err("its indices are fixed by the file; only run-time indices are mapped".into());
    };
    if c.dims.len() != 1 || t.elem != Elem::Int {
        return Err("the importer maps one vector of labels picked by integer indices".into());
    }
    let identity = c.ints().is_some_and(|v| {
        v.iter()
            .enumerate()
            .all(|(i, &x)| i64::try_from(i) == Ok(x))
    });
    if identity {
        return Ok(vec![indices.clone()]);
    }
    if !matches!(c.data, Data::F32(_)) {
        return Err(
            "its integer labels are not `0..k`; the graph gathers `float` labels only".into(),
        );
    }
    let table = imp.operand(labels, Layout::Plain);
    Ok(vec![imp.bind(
        node.output(0),
        format!("gather({table}, {})", t.name),
        t.dims.clone(),
        Elem::F32,
        Layout::Plain,
    )])
}
