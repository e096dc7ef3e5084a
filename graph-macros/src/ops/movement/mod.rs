//! Data movement: `transpose`/`permute`, `reshape`, `concat`, `slice`,
//! `pad`, `broadcast_to`, `expand_dims`, `squeeze`. They copy values without
//! computing on them (FLOPs 0); reshapes and unit axes do not move the data
//! at all on the `#[no_std]` path.

use proc_macro2::TokenStream;
use quote::quote;

use super::kernels::{Call, Form, Kernel};
use super::signature::{attr, Default, Kind, Param, Signature};
use super::{At, Family, Op};
use crate::differentiate::Builder;
use crate::dot::{call, dims as written_dims, list};
use crate::emit::bare::{strides, Bare};
use crate::emit::f32_literal;
use crate::introspect::Polynomial;
use crate::ir::{Axes, Bits, DType, DimSpec, NodeId};
use crate::shape::{axes, axis, expect_dtypes, Dim, Shape, ShapeError, Typed};
use crate::train::form::TrainingForm;

#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Movement {
    /// `None` reverses the axes.
    Transpose(Axes),
    Reshape(Vec<DimSpec>),
    /// Joins all operands along an axis.
    Concat {
        axis: i64,
    },
    Slice {
        axis: i64,
        start: i64,
        end: i64,
    },
    /// Constant padding: one `[before, after]` pair per axis, and the value
    /// the new elements take.
    Pad {
        paddings: Vec<[usize; 2]>,
        value: Bits,
    },
    BroadcastTo(Vec<DimSpec>),
    ExpandDims {
        axis: i64,
    },
    /// `None` removes every axis of literal size 1.
    Squeeze(Axes),
}

fn movement(op: Movement) -> Op {
    Op::Movement(op)
}

/// The family's ops under their names in TensorFlow, numpy or `PyTorch`, each
/// with what to write here: `unknown_op` suggests it.
pub static ALIASES: &[(&str, &str)] = &[
    ("concatenate", "concat"),
    ("cat", "concat"),
    ("unsqueeze", "expand_dims"),
    ("view", "reshape"),
    ("flatten", "reshape"),
    ("broadcast", "broadcast_to"),
    ("expand", "broadcast_to"),
    ("constant_pad_nd", "pad"),
    ("zero_pad2d", "pad"),
];

pub static SIGNATURES: &[Signature] = &[
    Signature::new(
        "transpose",
        &[
            Param::tensor("x"),
            attr("axes", Kind::Axes, Default::Absent),
        ],
        |a| movement(Movement::Transpose(a.axes("axes"))),
    ),
    Signature::new(
        "permute",
        &[
            Param::tensor("x"),
            attr("axes", Kind::Axes, Default::Required),
        ],
        |a| movement(Movement::Transpose(a.axes("axes"))),
    ),
    Signature::new(
        "reshape",
        &[
            Param::tensor("x"),
            attr("shape", Kind::Dims, Default::Required),
        ],
        |a| movement(Movement::Reshape(a.dims("shape"))),
    ),
    Signature::new(
        "concat",
        &[
            Param {
                name: "tensors",
                kind: Kind::Tensors,
                default: Default::Required,
            },
            attr("axis", Kind::Int, Default::Int(0)),
        ],
        |a| {
            movement(Movement::Concat {
                axis: a.int("axis"),
            })
        },
    ),
    Signature::new(
        "slice",
        &[
            Param::tensor("x"),
            attr("axis", Kind::Int, Default::Required),
            attr("start", Kind::Int, Default::Required),
            attr("end", Kind::Int, Default::Required),
        ],
        |a| {
            movement(Movement::Slice {
                axis: a.int("axis"),
                start: a.int("start"),
                end: a.int("end"),
            })
        },
    ),
    Signature::new(
        "pad",
        &[
            Param::tensor("x"),
            attr("paddings", Kind::Paddings, Default::Required),
            attr("value", Kind::Float, Default::Float(0.0)),
        ],
        |a| {
            movement(Movement::Pad {
                paddings: a.paddings("paddings"),
                value: a.float("value"),
            })
        },
    )
    .foreign(&[
        ("constant_values", "write the fill value as `value = ..`"),
        ("pads", "write `paddings = [[before, after], ..]`, one pair per axis"),
        (
            "mode",
            "`pad` pads with a constant (`value = ..`); reflecting and edge padding are not available",
        ),
    ]),
    Signature::new(
        "broadcast_to",
        &[
            Param::tensor("x"),
            attr("shape", Kind::Dims, Default::Required),
        ],
        |a| movement(Movement::BroadcastTo(a.dims("shape"))),
    ),
    Signature::new(
        "expand_dims",
        &[
            Param::tensor("x"),
            attr("axis", Kind::Int, Default::Required),
        ],
        |a| {
            movement(Movement::ExpandDims {
                axis: a.int("axis"),
            })
        },
    ),
    Signature::new(
        "squeeze",
        &[
            Param::tensor("x"),
            attr("axis", Kind::Axes, Default::Absent),
        ],
        |a| movement(Movement::Squeeze(a.axes("axis"))),
    ),
];

const INTO: &[Form] = &[Form::Into];
const PERMUTE: Kernel = Kernel::std("movement", "permute", INTO);
const RESHAPE: Kernel = Kernel::std("movement", "reshape", INTO);
const CONCAT: Kernel = Kernel::std("movement", "concat", INTO);
const SLICE: Kernel = Kernel::std("movement", "slice", INTO);
const PAD: Kernel = Kernel::std("movement", "pad", INTO);
const BROADCAST_TO: Kernel = Kernel::std("movement", "broadcast_to", INTO);
const EXPAND_DIMS: Kernel = Kernel::std("movement", "expand_dims", INTO);
const SQUEEZE: Kernel = Kernel::std("movement", "squeeze", INTO);
const FLAT_MAP: Kernel = Kernel::flat("map");
const FLAT_CONCAT: Kernel = Kernel::flat("concat");
const FLAT_COPY: Kernel = Kernel::flat("copy");
const FLAT_PAD: Kernel = Kernel::flat("pad");

pub const KERNELS: &[Kernel] = &[
    PERMUTE,
    RESHAPE,
    CONCAT,
    SLICE,
    PAD,
    BROADCAST_TO,
    EXPAND_DIMS,
    SQUEEZE,
    FLAT_MAP,
    FLAT_CONCAT,
    FLAT_COPY,
    FLAT_PAD,
];

#[cfg_attr(not(test), allow(dead_code))]
pub const COST_ROWS: &[(&str, &str)] = &[
    (
        "`transpose`, `permute`, `reshape`, `concat`, `slice`, `pad`, `broadcast_to`, `expand_dims`, `squeeze`, `gather`",
        "0: data movement only",
    ),
    ("inputs, variables, constants", "0"),
];

impl Family for Movement {
    fn word(&self) -> &'static str {
        match self {
            Movement::Transpose(_) => "transpose",
            Movement::Reshape(_) => "reshape",
            Movement::Concat { .. } => "concat",
            Movement::Slice { .. } => "slice",
            Movement::Pad { .. } => "pad",
            Movement::BroadcastTo(_) => "broadcast_to",
            Movement::ExpandDims { .. } => "expand_dims",
            Movement::Squeeze(_) => "squeeze",
        }
    }

    fn infer(&self, operands: &[Typed<'_>]) -> Result<(Shape, DType), ShapeError> {
        expect_dtypes(operands, &vec![DType::F32; operands.len()])?;
        let shapes: Vec<&Shape> = operands.iter().map(|(s, _)| *s).collect();
        Ok((infer(self, &shapes)?, DType::F32))
    }

    fn flops(&self, _at: At<'_>) -> Polynomial {
        Polynomial::default()
    }

    fn label(&self, word: &str, _operands: &[String]) -> String {
        let attributes = match self {
            Movement::Transpose(None) | Movement::Squeeze(None) => Vec::new(),
            Movement::Transpose(Some(axes)) => vec![format!("axes={}", list(axes))],
            Movement::Squeeze(Some(axes)) => vec![format!("axis={}", list(axes))],
            Movement::Concat { axis } | Movement::ExpandDims { axis } => {
                vec![format!("axis={axis}")]
            }
            Movement::Reshape(target) | Movement::BroadcastTo(target) => {
                vec![format!("shape={}", written_dims(target))]
            }
            Movement::Slice { axis, start, end } => vec![
                format!("axis={axis}"),
                format!("start={start}"),
                format!("end={end}"),
            ],
            Movement::Pad { paddings, value } => vec![
                format!("paddings={}", pairs(paddings)),
                format!("value={:?}", value.get()),
            ],
        };
        call(word, &attributes)
    }

    fn shows_formula(&self) -> bool {
        false
    }

    fn emit(&self, at: At<'_>, operands: Vec<TokenStream>) -> Call {
        let input = at.operand_shape(0);
        let x = operands[0].clone();
        match self {
            Movement::Transpose(order) => {
                let order: Vec<usize> = match order {
                    None => (0..input.rank()).rev().collect(),
                    Some(order) => axes(Some(order), input.rank()).unwrap_or_default(),
                };
                Call::new(PERMUTE, vec![x, quote! { &[#(#order),*] }])
            }
            Movement::Concat { axis } => {
                let axis = at.axis_of(0, *axis);
                Call::new(CONCAT, vec![quote! { &[#(#operands),*] }, quote! { #axis }])
            }
            Movement::Slice { axis, start, end } => {
                let at_axis = at.axis_of(0, *axis);
                let (from, to) = slice_bounds(*axis, *start, *end, input).unwrap_or((0, 0));
                Call::new(
                    SLICE,
                    vec![x, quote! { #at_axis }, quote! { #from }, quote! { #to }],
                )
            }
            Movement::Pad { paddings, value } => {
                let pairs = paddings
                    .iter()
                    .map(|[before, after]| quote! { [#before, #after] });
                let value = f32_literal(value.get());
                Call::new(PAD, vec![x, quote! { &[#(#pairs),*] }, value])
            }
            Movement::ExpandDims { axis } => {
                let at_axis = crate::shape::axis(*axis, input.rank() + 1).unwrap_or(0);
                Call::new(EXPAND_DIMS, vec![x, quote! { #at_axis }])
            }
            Movement::Squeeze(which) => {
                let axes: Vec<usize> = match which {
                    Some(list) => axes(Some(list), input.rank()).unwrap_or_default(),
                    None => (0..input.rank())
                        .filter(|&i| input.0[i] == Dim::Fixed(1))
                        .collect(),
                };
                Call::new(SQUEEZE, vec![x, quote! { &[#(#axes),*] }])
            }
            // These take the result's shape from `out`.
            Movement::Reshape(_) => Call::new(RESHAPE, vec![x]),
            Movement::BroadcastTo(_) => Call::new(BROADCAST_TO, vec![x]),
        }
    }

    fn bare_support(&self, _at: At<'_>) -> bool {
        true
    }

    /// Each gradient undoes the movement: reshaped back, transposed by the
    /// inverse permutation, sliced out of a concatenation or a padding,
    /// padded with zeros around a slice, summed over broadcast axes.
    fn vjp(
        &self,
        node: NodeId,
        g: NodeId,
        b: &mut Builder<'_>,
    ) -> Result<Vec<Option<NodeId>>, String> {
        let x = b.operand(node, 0);
        let shape = b.shape(x);
        match self {
            Movement::Reshape(_) | Movement::ExpandDims { .. } | Movement::Squeeze(_) => {
                Ok(vec![Some(b.reshape(g, &shape))])
            }
            Movement::BroadcastTo(_) => Ok(vec![Some(b.sum_to(g, &shape))]),
            // `g` sliced back to `x`'s region, one padded axis at a time
            // (symbolic axes have no padding).
            Movement::Pad { paddings, .. } => {
                let mut region = g;
                for (at, (&[before, after], dim)) in paddings.iter().zip(&shape.0).enumerate() {
                    let Dim::Fixed(size) = dim else { continue };
                    if before == 0 && after == 0 {
                        continue;
                    }
                    let (Ok(at), Ok(start), Ok(length)) = (
                        i64::try_from(at),
                        i64::try_from(before),
                        i64::try_from(*size),
                    ) else {
                        return Err("a padding too large for a slice".to_string());
                    };
                    let slice = Movement::Slice {
                        axis: at,
                        start,
                        end: start + length,
                    };
                    region = b.push(Op::Movement(slice), vec![region]);
                }
                Ok(vec![Some(region)])
            }
            Movement::Transpose(order) => {
                let order: Vec<usize> = match order {
                    None => (0..shape.rank()).rev().collect(),
                    Some(order) => axes(Some(order), shape.rank()).unwrap_or_default(),
                };
                let mut inverse = vec![0i64; order.len()];
                for (position, &axis) in order.iter().enumerate() {
                    inverse[axis] = i64::try_from(position).unwrap_or(0);
                }
                Ok(vec![Some(b.transpose(g, inverse))])
            }
            Movement::Concat { axis: a } => {
                let at = axis(*a, shape.rank()).unwrap_or(0);
                let count = b.graph().node(node).operands.len();
                let mut start = 0i64;
                let mut gradients = Vec::with_capacity(count);
                for i in 0..count {
                    let part = b.operand(node, i);
                    let length = match b.shape(part).0[at] {
                        Dim::Fixed(size) => i64::try_from(size).unwrap_or(0),
                        Dim::Symbol(_) => 0,
                    };
                    let slice = Movement::Slice {
                        axis: i64::try_from(at).unwrap_or(0),
                        start,
                        end: start + length,
                    };
                    gradients.push(Some(b.push(Op::Movement(slice), vec![g])));
                    start += length;
                }
                Ok(gradients)
            }
            Movement::Slice {
                axis: a,
                start,
                end,
            } => {
                let at = axis(*a, shape.rank()).unwrap_or(0);
                let (from, to) = slice_bounds(*a, *start, *end, &shape).unwrap_or((0, 0));
                let size = match shape.0[at] {
                    Dim::Fixed(size) => size,
                    Dim::Symbol(_) => to,
                };
                let mut parts = Vec::new();
                let zeros = |b: &mut Builder<'_>, length: usize| {
                    let mut padding = shape.clone();
                    padding.0[at] = Dim::Fixed(length);
                    b.zeros(&padding)
                };
                if from > 0 {
                    parts.push(zeros(b, from));
                }
                parts.push(g);
                if size > to {
                    parts.push(zeros(b, size - to));
                }
                if parts.len() == 1 {
                    return Ok(vec![Some(g)]);
                }
                let concat = Movement::Concat {
                    axis: i64::try_from(at).unwrap_or(0),
                };
                Ok(vec![Some(b.push(Op::Movement(concat), parts))])
            }
        }
    }

    /// Copies, and `map` with the identity over strided views.
    fn emit_bare(&self, bare: &Bare<'_>) -> TokenStream {
        let out = &bare.out;
        let destination = &bare.destination;
        let x = &bare.operands[0];
        let in_sizes = bare.input(0);
        let identity = quote! { |[__e0]| __e0 };
        let map = FLAT_MAP.path(Form::Value);
        let p = crate::emit::private();
        match self {
            Movement::Transpose(order) => {
                let order: Vec<usize> = match order {
                    None => (0..in_sizes.len()).rev().collect(),
                    Some(order) => axes(Some(order), in_sizes.len()).unwrap_or_default(),
                };
                let own = strides(&in_sizes);
                let strides = order.iter().map(|&axis| own[axis]);
                quote! {
                    #map([(#x, #p::flat::Index::Strided(&[#(#strides),*]))], &[#(#out),*], #destination, #identity)
                }
            }
            Movement::BroadcastTo(_) => {
                let index = bare.broadcast_index(bare.at.operand(0));
                quote! { #map([(#x, #index)], &[#(#out),*], #destination, #identity) }
            }
            Movement::Slice { axis, start, end } => {
                let at = bare.at.axis_of(0, *axis);
                let own = strides(&in_sizes);
                // The slice's first element, and the input's strides.
                let start = slice_bounds(*axis, *start, *end, bare.at.operand_shape(0))
                    .map_or(0, |(from, _)| from);
                let from = start * own[at];
                quote! {
                    #map([(&#x[#from..], #p::flat::Index::Strided(&[#(#own),*]))], &[#(#out),*], #destination, #identity)
                }
            }
            Movement::Pad { paddings, value } => {
                let pairs = paddings
                    .iter()
                    .map(|[before, after]| quote! { [#before, #after] });
                let value = f32_literal(value.get());
                let pad = FLAT_PAD.path(Form::Value);
                quote! { #pad(#x, &[#(#in_sizes),*], &[#(#pairs),*], #value, #destination) }
            }
            Movement::Concat { axis } => {
                let at = bare.at.axis_of(0, *axis);
                let outer: usize = in_sizes[..at].iter().product();
                let inner: usize = in_sizes[at + 1..].iter().product();
                let parts = (0..bare.operands.len()).map(|i| {
                    let part = &bare.operands[i];
                    let length = bare.input(i).get(at).copied().unwrap_or(1);
                    quote! { (#part, #length) }
                });
                let concat = FLAT_CONCAT.path(Form::Value);
                quote! { #concat([#(#parts),*], #outer, #inner, #destination) }
            }
            // Reshapes and unit axes: the data does not move.
            Movement::Reshape(_) | Movement::ExpandDims { .. } | Movement::Squeeze(_) => {
                let copy = FLAT_COPY.path(Form::Value);
                quote! { #copy(#x, #destination) }
            }
        }
    }

    fn is_identity(&self) -> bool {
        false
    }

    /// No training form: a step computes it as written.
    fn training_form(
        &self,
        _node: NodeId,
        _operands: &[NodeId],
        _t: &mut TrainingForm<'_, '_>,
    ) -> Result<Option<NodeId>, String> {
        Ok(None)
    }
}

/// `[[0, 0], [1, 1]]`, as written.
fn pairs(paddings: &[[usize; 2]]) -> String {
    let pairs: Vec<String> = paddings
        .iter()
        .map(|[before, after]| format!("[{before}, {after}]"))
        .collect();
    format!("[{}]", pairs.join(", "))
}

/// A `slice`'s `[from, to)` along its axis, bounds resolved against the
/// input's (literal) size there.
fn slice_bounds(axis: i64, start: i64, end: i64, input: &Shape) -> Option<(usize, usize)> {
    let at = crate::shape::axis(axis, input.rank()).ok()?;
    let size = match input.0.get(at)? {
        Dim::Fixed(size) => i64::try_from(*size).ok()?,
        Dim::Symbol(_) => 0,
    };
    let bound = |b: i64| usize::try_from(if b < 0 { b + size } else { b }).unwrap_or(0);
    Some((bound(start), bound(end)))
}

mod shape;

use shape::infer;

/// The constructors of this family's ops that gradient rules build with.
impl Builder<'_> {
    pub fn reshape(&mut self, x: NodeId, target: &Shape) -> NodeId {
        if self.shape(x) == *target {
            return x;
        }
        self.push(Op::Movement(Movement::Reshape(spec(target))), vec![x])
    }
    pub fn broadcast_to(&mut self, x: NodeId, target: &Shape) -> NodeId {
        if self.shape(x) == *target {
            return x;
        }
        self.push(Op::Movement(Movement::BroadcastTo(spec(target))), vec![x])
    }
    pub fn transpose(&mut self, x: NodeId, axes: Vec<i64>) -> NodeId {
        self.push(Op::Movement(Movement::Transpose(Some(axes))), vec![x])
    }
}

/// A shape as a target written in the graph.
fn spec(shape: &Shape) -> Vec<DimSpec> {
    shape
        .0
        .iter()
        .map(|dim| match dim {
            Dim::Fixed(size) => DimSpec::Fixed(*size),
            Dim::Symbol(symbol) => DimSpec::Symbol(symbol.clone()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::tests::shape;

    fn fixed(dims: &[usize]) -> Vec<DimSpec> {
        dims.iter().map(|&d| DimSpec::Fixed(d)).collect()
    }

    #[test]
    fn reshape_counts_elements_with_symbols() {
        let op = |target| Movement::Reshape(target);
        assert_eq!(
            infer(&op(fixed(&[6, 4])), &[&shape("2, 3, 4")]),
            Ok(shape("6, 4"))
        );
        assert!(infer(&op(fixed(&[5, 5])), &[&shape("2, 3, 4")]).is_err());
        let flatten = vec![DimSpec::Symbol("n".into()), DimSpec::Infer];
        assert_eq!(
            infer(&op(flatten.clone()), &[&shape("n, 8, 8, 1")]),
            Ok(shape("n, 64"))
        );
        let batch_last = vec![DimSpec::Fixed(64), DimSpec::Infer];
        assert_eq!(
            infer(&op(batch_last), &[&shape("n, 8, 8")]),
            Ok(shape("64, n"))
        );
        // 2·n cannot be one dim.
        let bad = vec![DimSpec::Fixed(32), DimSpec::Infer];
        assert!(infer(&op(bad), &[&shape("n, 8, 8")]).is_err());
        assert!(infer(&op(flatten), &[&shape("m, 4")]).is_err());
    }

    #[test]
    fn pad_grows_literal_axes_and_keeps_symbols() {
        let pad = |paddings: &[[usize; 2]]| Movement::Pad {
            paddings: paddings.to_vec(),
            value: Bits::new(0.0),
        };
        let same = pad(&[[0, 0], [1, 1], [1, 1], [0, 0]]);
        assert_eq!(
            infer(&same, &[&shape("n, 8, 8, 3")]),
            Ok(shape("n, 10, 10, 3"))
        );
        assert_eq!(infer(&pad(&[]), &[&shape("")]), Ok(shape("")));
        assert_eq!(
            infer(&pad(&[[2, 0], [0, 3]]), &[&shape("0, 1")]),
            Ok(shape("2, 4"))
        );
        // A symbolic axis must keep its size; the error is the attribute's.
        let error = infer(&pad(&[[1, 0], [0, 0]]), &[&shape("n, 3")]).unwrap_err();
        assert_eq!(error.attribute(), Some("paddings"));
        assert_eq!(error.code(), crate::diag::Code::SymbolicDim);
        assert!(error.message("pad", &[]).contains("symbolic dim `n`"));
        // One pair per axis.
        let error = infer(&pad(&[[1, 1]]), &[&shape("n, 3")]).unwrap_err();
        assert_eq!(error.attribute(), Some("paddings"));
        assert_eq!(error.code(), crate::diag::Code::Axis);
        assert_eq!(
            error.message("pad", &[]),
            "`pad` needs one `[before, after]` pair in `paddings` per axis of [n, 3], so 2 pairs, but was given 1 pair"
        );
        assert!(infer(&pad(&[[usize::MAX, 1]]), &[&shape("2")]).is_err());
    }

    #[test]
    fn pad_label_and_cost() {
        let op = Movement::Pad {
            paddings: vec![[0, 0], [1, 2]],
            value: Bits::new(-3.402_823_5e38),
        };
        assert_eq!(
            op.label("pad", &[]),
            "pad(paddings=[[0, 0], [1, 2]], value=-3.4028235e38)"
        );
        assert_eq!(op.word(), "pad");
    }

    #[test]
    fn concat_slice_squeeze_expand() {
        let concat = Movement::Concat { axis: -1 };
        assert_eq!(
            infer(&concat, &[&shape("n, 2"), &shape("n, 3")]),
            Ok(shape("n, 5"))
        );
        assert!(infer(&concat, &[&shape("n, 2"), &shape("m, 3")]).is_err());
        assert!(infer(
            &Movement::Concat { axis: 0 },
            &[&shape("n, 2"), &shape("n, 2")]
        )
        .is_err());
        let slice = Movement::Slice {
            axis: 1,
            start: 1,
            end: -1,
        };
        assert_eq!(infer(&slice, &[&shape("n, 5")]), Ok(shape("n, 3")));
        assert!(infer(
            &Movement::Slice {
                axis: 1,
                start: 2,
                end: 9
            },
            &[&shape("n, 5")]
        )
        .is_err());
        assert_eq!(
            infer(&Movement::Squeeze(None), &[&shape("1, n, 1, 3")]),
            Ok(shape("n, 3"))
        );
        assert!(infer(&Movement::Squeeze(Some(vec![1])), &[&shape("1, n")]).is_err());
        assert_eq!(
            infer(&Movement::ExpandDims { axis: -1 }, &[&shape("n, 3")]),
            Ok(shape("n, 3, 1"))
        );
        assert_eq!(
            infer(&Movement::Transpose(None), &[&shape("n, 3, 4")]),
            Ok(shape("4, 3, n"))
        );
        assert_eq!(
            infer(
                &Movement::Transpose(Some(vec![0, 2, 1])),
                &[&shape("n, 3, 4")]
            ),
            Ok(shape("n, 4, 3"))
        );
        assert!(infer(
            &Movement::Transpose(Some(vec![0, 0, 1])),
            &[&shape("n, 3, 4")]
        )
        .is_err());
        let to = Movement::BroadcastTo(vec![DimSpec::Symbol("n".into()), DimSpec::Fixed(3)]);
        assert_eq!(infer(&to, &[&shape("3")]), Ok(shape("n, 3")));
        assert!(infer(&to, &[&shape("2")]).is_err());
    }
}
