//! What the importer knows of each ONNX value: a tensor of the graph being
//! written (its name there, its ONNX shape, element type and layout), or a
//! constant folded at build time (an initializer, a `Constant` node, or
//! shape arithmetic that depends only on sizes the file fixes).

use std::fmt;
use std::rc::Rc;

/// One axis size: a number, or a symbol from the file's `dim_param`s.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Dim {
    Lit(usize),
    Sym(String),
}

impl Dim {
    pub fn lit(&self) -> Option<usize> {
        match self {
            Dim::Lit(size) => Some(*size),
            Dim::Sym(_) => None,
        }
    }
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dim::Lit(size) => write!(f, "{size}"),
            Dim::Sym(name) => f.write_str(name),
        }
    }
}

/// A shape as the graph language writes it: `[batch, 64]`.
pub fn dims_text(dims: &[Dim]) -> String {
    let inner: Vec<String> = dims.iter().map(ToString::to_string).collect();
    format!("[{}]", inner.join(", "))
}

/// Element types the importer maps: ONNX's `float` (and `double` or
/// `float16` initializers, converted), `int64`/`int32` indices, `bool`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Elem {
    F32,
    /// An integer tensor of the graph: `usize` there (indices, `argmax`).
    Int,
}

/// How a tensor of rank 4 is stored in the graph. ONNX's images are NCHW;
/// the graph's convolutions and pools are NHWC, so a value between two of
/// them stays NHWC (`Nhwc`: the graph holds the ONNX tensor permuted by
/// `[0, 2, 3, 1]`) and is permuted back only where an op needs the file's
/// order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Layout {
    Plain,
    Nhwc,
}

/// A value of the graph being written.
#[derive(Clone, Debug)]
pub struct Tensor {
    /// Its name in the graph.
    pub name: String,
    /// Its shape in ONNX's order, whatever the layout.
    pub dims: Vec<Dim>,
    pub elem: Elem,
    pub layout: Layout,
    /// The shape the graph's value has, where it differs from `dims` by
    /// unit axes: integer tensors (which the graph's movement ops do not
    /// take) are reshaped only in the importer's books.
    pub graph_dims: Option<Vec<Dim>>,
}

impl Tensor {
    /// The shape of the graph's value.
    pub fn stored_dims(&self) -> &[Dim] {
        self.graph_dims.as_deref().unwrap_or(&self.dims)
    }
}

/// The values of a folded constant.
#[derive(Clone, Debug, PartialEq)]
pub enum Data {
    F32(Vec<f32>),
    Int(Vec<i64>),
    /// An `int64` vector that may hold symbolic sizes: what `Shape` gives
    /// for a value with a symbolic batch, and what is computed from it.
    Dims(Vec<DimEntry>),
}

/// A constant known when the crate compiles.
#[derive(Clone, Debug)]
pub struct Constant {
    pub dims: Vec<usize>,
    pub data: Data,
    /// The initializer it is (or was computed from), for naming the
    /// variable that holds it if the graph needs it as a tensor.
    pub origin: String,
}

impl Constant {
    pub fn len(&self) -> usize {
        self.dims.iter().product()
    }

    pub fn scalar(&self) -> Option<f32> {
        if self.len() != 1 {
            return None;
        }
        #[allow(clippy::cast_precision_loss)]
        match &self.data {
            Data::F32(values) => values.first().copied(),
            Data::Int(values) => values.first().map(|&v| v as f32),
            Data::Dims(dims) => match dims.first() {
                Some(DimEntry::Int(v)) => Some(*v as f32),
                _ => None,
            },
        }
    }

    /// The values as integers (sizes, axes, indices), if it holds integers
    /// without symbols.
    pub fn ints(&self) -> Option<Vec<i64>> {
        match &self.data {
            Data::Int(values) => Some(values.clone()),
            Data::Dims(dims) => dims
                .iter()
                .map(|d| match d {
                    DimEntry::Int(v) => Some(*v),
                    DimEntry::Sym(_) => None,
                })
                .collect(),
            Data::F32(_) => None,
        }
    }

    /// The values as sizes, symbols kept: for `Reshape`, `Expand` and
    /// `ConstantOfShape` targets. `-1` and `0` stay as the literal.
    pub fn dims_data(&self) -> Option<Vec<DimEntry>> {
        match &self.data {
            Data::Int(values) => Some(values.iter().map(|&v| DimEntry::Int(v)).collect()),
            Data::Dims(dims) => Some(dims.clone()),
            Data::F32(_) => None,
        }
    }

    pub fn f32s(&self) -> Vec<f32> {
        #[allow(clippy::cast_precision_loss)]
        match &self.data {
            Data::F32(values) => values.clone(),
            Data::Int(values) => values.iter().map(|&v| v as f32).collect(),
            Data::Dims(dims) => dims
                .iter()
                .map(|d| match d {
                    DimEntry::Int(v) => *v as f32,
                    DimEntry::Sym(_) => f32::NAN,
                })
                .collect(),
        }
    }
}

/// One entry of a shape vector: a number (`-1` and `0` as ONNX means them
/// in `Reshape`) or a symbol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DimEntry {
    Int(i64),
    Sym(String),
}

impl DimEntry {
    pub fn of(dim: &Dim) -> Self {
        match dim {
            Dim::Lit(v) => DimEntry::Int(i64::try_from(*v).unwrap_or(i64::MAX)),
            Dim::Sym(s) => DimEntry::Sym(s.clone()),
        }
    }
}

/// An ONNX value.
#[derive(Clone, Debug)]
pub enum Value {
    Tensor(Tensor),
    Const(Rc<Constant>),
}

impl Value {
    /// The ONNX shape, symbols included.
    pub fn dims(&self) -> Vec<Dim> {
        match self {
            Value::Tensor(t) => t.dims.clone(),
            Value::Const(c) => c.dims.iter().map(|&d| Dim::Lit(d)).collect(),
        }
    }

    pub fn rank(&self) -> usize {
        match self {
            Value::Tensor(t) => t.dims.len(),
            Value::Const(c) => c.dims.len(),
        }
    }

    pub fn elem(&self) -> Elem {
        match self {
            Value::Tensor(t) => t.elem,
            Value::Const(c) => match c.data {
                Data::F32(_) => Elem::F32,
                Data::Int(_) | Data::Dims(_) => Elem::Int,
            },
        }
    }

    pub fn as_const(&self) -> Option<&Constant> {
        match self {
            Value::Const(c) => Some(c),
            Value::Tensor(_) => None,
        }
    }
}

/// The most elements a constant computed at import may have (what
/// `ConstantOfShape` fills): a quarter of a GiB of `f32`.
pub const MAX_FOLDED: usize = 1 << 26;

/// The number of elements of shape `dims`, or `None` if no array can have
/// it: the product of its non-zero sizes (what strides multiply, even when
/// a zero empties the array) must not overflow, nor take more than
/// `isize::MAX` bytes at 8 bytes an element.
#[must_use]
pub fn checked_len(dims: &[usize]) -> Option<usize> {
    let non_zero = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d.max(1)))?;
    if non_zero > isize::MAX.unsigned_abs() / 8 {
        return None;
    }
    Some(if dims.contains(&0) { 0 } else { non_zero })
}

/// The number of elements of a constant of shape `dims` the importer is
/// about to compute, or why it will not: checked before anything is
/// allocated, since a small file can describe a huge fold (a `Gather` that
/// repeats an index, a `Concat` of one input many times, a broadcast).
pub fn fold_len(dims: &[usize]) -> Result<usize, String> {
    checked_len(dims)
        .filter(|&len| len <= MAX_FOLDED)
        .ok_or_else(|| {
            format!("it computes a constant of shape {dims:?}, more than the {MAX_FOLDED} elements the importer folds")
        })
}

/// Row-major strides of `dims`.
pub fn strides(dims: &[usize]) -> Vec<usize> {
    let mut strides = vec![1; dims.len()];
    for axis in (0..dims.len().saturating_sub(1)).rev() {
        strides[axis] = strides[axis + 1] * dims[axis + 1];
    }
    strides
}

/// `values` (row-major, shape `dims`) with its axes permuted: axis `i` of
/// the result is axis `perm[i]` of the input.
pub fn permute<T: Copy>(values: &[T], dims: &[usize], perm: &[usize]) -> (Vec<usize>, Vec<T>) {
    let out_dims: Vec<usize> = perm.iter().map(|&p| dims[p]).collect();
    let in_strides = strides(dims);
    let out_strides = strides(&out_dims);
    let total: usize = out_dims.iter().product();
    let mut out = Vec::with_capacity(total);
    for flat in 0..total {
        let mut source = 0;
        for (axis, &p) in perm.iter().enumerate() {
            let index = (flat / out_strides[axis]) % out_dims[axis].max(1);
            source += index * in_strides[p];
        }
        out.push(values[source]);
    }
    (out_dims, out)
}

/// Numpy broadcasting of two shapes, or `None` if they do not broadcast.
pub fn broadcast(a: &[Dim], b: &[Dim]) -> Option<Vec<Dim>> {
    let rank = a.len().max(b.len());
    let mut out = Vec::with_capacity(rank);
    for i in 0..rank {
        let x = (i + a.len()).checked_sub(rank).map(|j| &a[j]);
        let y = (i + b.len()).checked_sub(rank).map(|j| &b[j]);
        out.push(match (x, y) {
            (Some(x), None | Some(Dim::Lit(1))) => x.clone(),
            (None | Some(Dim::Lit(1)), Some(y)) => y.clone(),
            (Some(x), Some(y)) if x == y => x.clone(),
            _ => return None,
        });
    }
    Some(out)
}

/// Elementwise `f` over two folded constants with numpy broadcasting.
pub fn zip_broadcast(
    left: (&[usize], &[f32]),
    right: (&[usize], &[f32]),
    f: impl Fn(f32, f32) -> f32,
) -> Option<(Vec<usize>, Vec<f32>)> {
    let lit = |d: &[usize]| d.iter().map(|&v| Dim::Lit(v)).collect::<Vec<_>>();
    let out: Vec<usize> = broadcast(&lit(left.0), &lit(right.0))?
        .iter()
        .map(|d| d.lit().unwrap_or(0))
        .collect();
    let index = |dims: &[usize], flat: usize| {
        let rank = out.len();
        let out_strides = strides(&out);
        let own = strides(dims);
        let mut at = 0;
        for (axis, &size) in dims.iter().enumerate() {
            let out_axis = axis + rank - dims.len();
            let position = (flat / out_strides[out_axis]) % out[out_axis].max(1);
            if size != 1 {
                at += position * own[axis];
            }
        }
        at
    };
    let total: usize = out.iter().product();
    let values = (0..total)
        .map(|flat| f(left.1[index(left.0, flat)], right.1[index(right.0, flat)]))
        .collect();
    Some((out, values))
}

/// Shares a constant.
pub fn constant(dims: Vec<usize>, data: Data, origin: impl Into<String>) -> Value {
    Value::Const(Rc::new(Constant {
        dims,
        data,
        origin: origin.into(),
    }))
}
