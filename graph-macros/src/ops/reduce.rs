//! Reductions: `sum`, `mean`, `max`, `min` over any set of axes, `argmax`
//! along one, and `size`, the number of elements along some axes as a
//! value (a mean over a symbolic batch divides by it).

use proc_macro2::TokenStream;
use quote::quote;

use super::kernels::{Call, Form, Kernel};
use super::signature::{attr, Attrs, Default, Kind, Param, Signature};
use super::{At, Family, Op};
use crate::diag::Code;
use crate::differentiate::Builder;
use crate::emit::bare::{lanes, Bare};
use crate::introspect::Polynomial;
use crate::ir::{Axes, DType, NodeId};
use crate::ops::elementwise::Compare;
use crate::shape::{axes, axis, expect_dtypes, reduced, rule, Dim, Shape, ShapeError, Typed};
use crate::train::form::TrainingForm;

#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Reduction {
    /// A reduction over `axes` (all of them when `None`).
    Reduce {
        kind: Reduce,
        axes: Axes,
        keep_dims: bool,
    },
    ArgMax {
        axis: i64,
    },
    /// The number of elements along `axes` (all when `None`), as an `f32`.
    Count {
        axes: Axes,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Reduce {
    Sum,
    Mean,
    Max,
    Min,
}

impl Reduce {
    fn word(self) -> &'static str {
        match self {
            Reduce::Sum => "sum",
            Reduce::Mean => "mean",
            Reduce::Max => "max",
            Reduce::Min => "min",
        }
    }

    /// The variant of the runtime's `flat::Reduce`.
    fn flat_variant(self) -> TokenStream {
        match self {
            Reduce::Sum => quote! { Sum },
            Reduce::Mean => quote! { Mean },
            Reduce::Max => quote! { Max },
            Reduce::Min => quote! { Min },
        }
    }
}

const REDUCE: &[Param] = &[
    Param::tensor("x"),
    attr("axis", Kind::Axes, Default::Absent),
    attr("keep_dims", Kind::Bool, Default::Bool(false)),
];

fn reduce(kind: Reduce, attrs: &Attrs) -> Op {
    Op::Reduction(Reduction::Reduce {
        kind,
        axes: attrs.axes("axis"),
        keep_dims: attrs.boolean("keep_dims"),
    })
}

/// The family's ops under their names in TensorFlow, numpy or `PyTorch`, each
/// with what to write here: `unknown_op` suggests it.
pub static ALIASES: &[(&str, &str)] = &[
    ("reduce_sum", "sum"),
    ("reduce_mean", "mean"),
    ("reduce_max", "max"),
    ("reduce_min", "min"),
    ("amax", "max"),
    ("amin", "min"),
];

pub static SIGNATURES: &[Signature] = &[
    Signature::new("sum", REDUCE, |a| reduce(Reduce::Sum, a)),
    Signature::new("mean", REDUCE, |a| reduce(Reduce::Mean, a)),
    Signature::new("max", REDUCE, |a| reduce(Reduce::Max, a)),
    Signature::new("min", REDUCE, |a| reduce(Reduce::Min, a)),
    Signature::new(
        "argmax",
        &[
            Param::tensor("x"),
            attr("axis", Kind::Int, Default::Int(-1)),
        ],
        |a| {
            Op::Reduction(Reduction::ArgMax {
                axis: a.int("axis"),
            })
        },
    ),
    Signature::new(
        "size",
        &[
            Param::tensor("x"),
            attr("axis", Kind::Axes, Default::Absent),
        ],
        |a| {
            Op::Reduction(Reduction::Count {
                axes: a.axes("axis"),
            })
        },
    ),
];

const INTO: &[Form] = &[Form::Into];
const SUM: Kernel = Kernel::std("reduce", "sum", INTO);
const MEAN: Kernel = Kernel::std("reduce", "mean", INTO);
const MAX: Kernel = Kernel::std("reduce", "max", INTO);
const MIN: Kernel = Kernel::std("reduce", "min", INTO);
const ARGMAX: Kernel = Kernel::std("reduce", "argmax", INTO);
/// Returns the count as a plain `f32`.
const COUNT: Kernel = Kernel::std("reduce", "count", &[Form::Value]);
const FLAT_REDUCE: Kernel = Kernel::flat("reduce");
const FLAT_COPY: Kernel = Kernel::flat("copy");
const FLAT_ARGMAX: Kernel = Kernel::flat("argmax");

pub const KERNELS: &[Kernel] = &[
    SUM,
    MEAN,
    MAX,
    MIN,
    ARGMAX,
    COUNT,
    FLAT_REDUCE,
    FLAT_ARGMAX,
    FLAT_COPY,
];

#[cfg_attr(not(test), allow(dead_code))]
pub const COST_ROWS: &[(&str, &str)] = &[
    ("`sum`, `max`, `min`, `argmax`", "1 per in"),
    ("`mean`", "1 per in + 1 per out"),
    ("`size`", "0"),
];

impl Reduction {
    /// Whether the kernel returns a plain scalar instead of writing a
    /// workspace slot.
    pub fn returns_scalar(&self) -> bool {
        match self {
            Reduction::Count { .. } => true,
            Reduction::Reduce { .. } | Reduction::ArgMax { .. } => false,
        }
    }
}

impl Family for Reduction {
    fn word(&self) -> &'static str {
        match self {
            Reduction::Reduce { kind, .. } => kind.word(),
            Reduction::ArgMax { .. } => "argmax",
            Reduction::Count { .. } => "size",
        }
    }

    fn infer(&self, operands: &[Typed<'_>]) -> Result<(Shape, DType), ShapeError> {
        let x = operands[0].0;
        if let Reduction::Count { axes: which } = self {
            axes(which.as_deref(), x.rank())?;
            return Ok((Shape::default(), DType::F32));
        }
        expect_dtypes(operands, &[DType::F32])?;
        match self {
            Reduction::Reduce {
                axes: which,
                keep_dims,
                ..
            } => {
                let axes = axes(which.as_deref(), x.rank())?;
                Ok((reduced(x, &axes, *keep_dims), DType::F32))
            }
            Reduction::ArgMax { axis: a } => {
                let a = axis(*a, x.rank())?;
                // An empty axis has no index to return: rule it out statically.
                match &x.0[a] {
                    Dim::Fixed(size) if *size > 0 => {}
                    other => {
                        return Err(rule(Code::SymbolicDim, format!(
                            "needs a literal, non-zero size on axis {a} of {x}, not `{other}`: an empty axis has no largest element"
                        )))
                    }
                }
                Ok((reduced(x, &[a], false), DType::Usize))
            }
            Reduction::Count { .. } => Ok((Shape::default(), DType::F32)),
        }
    }

    fn flops(&self, at: At<'_>) -> Polynomial {
        let input = Polynomial::product(&at.operand_shape(0).0);
        match self {
            Reduction::Reduce {
                kind: Reduce::Mean, ..
            } => input.plus(&Polynomial::product(&at.shape().0)),
            Reduction::Reduce {
                kind: Reduce::Sum | Reduce::Max | Reduce::Min,
                ..
            }
            | Reduction::ArgMax { .. } => input,
            Reduction::Count { .. } => Polynomial::default(),
        }
    }

    fn label(&self, word: &str, _operands: &[String]) -> String {
        let mut attributes = Vec::new();
        match self {
            Reduction::Reduce {
                axes, keep_dims, ..
            } => {
                if let Some(axes) = axes {
                    attributes.push(format!("axis={}", crate::dot::list(axes)));
                }
                if *keep_dims {
                    attributes.push("keep_dims=true".to_string());
                }
            }
            Reduction::ArgMax { axis } => attributes.push(format!("axis={axis}")),
            Reduction::Count { axes } => {
                if let Some(axes) = axes {
                    attributes.push(format!("axis={}", crate::dot::list(axes)));
                }
            }
        }
        crate::dot::call(word, &attributes)
    }

    fn shows_formula(&self) -> bool {
        false
    }

    fn emit(&self, at: At<'_>, mut operands: Vec<TokenStream>) -> Call {
        match self {
            Reduction::Reduce {
                kind,
                axes: which,
                keep_dims,
            } => {
                let axes = axes(which.as_deref(), at.operand_shape(0).rank()).unwrap_or_default();
                operands.push(quote! { &[#(#axes),*] });
                operands.push(quote! { #keep_dims });
                let kernel = match kind {
                    Reduce::Sum => SUM,
                    Reduce::Mean => MEAN,
                    Reduce::Max => MAX,
                    Reduce::Min => MIN,
                };
                Call::new(kernel, operands)
            }
            Reduction::ArgMax { axis } => {
                let axis = at.axis_of(0, *axis);
                operands.push(quote! { #axis });
                Call::new(ARGMAX, operands)
            }
            Reduction::Count { axes: which } => {
                let axes = axes(which.as_deref(), at.operand_shape(0).rank()).unwrap_or_default();
                operands.push(quote! { &[#(#axes),*] });
                Call::new(COUNT, operands)
            }
        }
    }

    fn bare_support(&self, _at: At<'_>) -> bool {
        true
    }

    fn emit_bare(&self, bare: &Bare<'_>) -> TokenStream {
        let x = &bare.operands[0];
        let in_sizes = bare.input(0);
        let destination = &bare.destination;
        match self {
            Reduction::Reduce {
                kind, axes: which, ..
            } => {
                let reduced = axes(which.as_deref(), in_sizes.len()).unwrap_or_default();
                // Output strides per input axis: 0 on reduced axes, row-major
                // over the kept ones.
                let mut out_strides = vec![0; in_sizes.len()];
                let mut stride = 1;
                for axis in (0..in_sizes.len()).rev() {
                    if !reduced.contains(&axis) {
                        out_strides[axis] = stride;
                        stride *= in_sizes[axis];
                    }
                }
                let p = crate::emit::private();
                let kind = kind.flat_variant();
                let reduce = FLAT_REDUCE.path(Form::Value);
                quote! {
                    #reduce(#x, &[#(#in_sizes),*], &[#(#out_strides),*], #p::flat::Reduce::#kind, #destination)
                }
            }
            Reduction::ArgMax { axis } => {
                let axis = bare.at.axis_of(0, *axis);
                let lanes = lanes(&in_sizes, axis);
                let argmax = FLAT_ARGMAX.path(Form::Value);
                quote! { #argmax(#x, #lanes, #destination) }
            }
            // Every size is literal in a `#[no_std]` graph.
            Reduction::Count { axes: which } => {
                let axes = axes(which.as_deref(), in_sizes.len()).unwrap_or_default();
                let count = axes.iter().map(|&a| in_sizes[a]).product::<usize>() as f32;
                let copy = FLAT_COPY.path(Form::Value);
                quote! { #copy(&[#count], #destination) }
            }
        }
    }

    fn vjp(
        &self,
        node: NodeId,
        g: NodeId,
        b: &mut Builder<'_>,
    ) -> Result<Vec<Option<NodeId>>, String> {
        let x = b.operand(node, 0);
        let shape = b.shape(x);
        match self {
            Reduction::Reduce {
                kind,
                axes: which,
                keep_dims,
            } => {
                let reduced_axes = axes(which.as_deref(), shape.rank()).unwrap_or_default();
                // The gradient at the reduced shape with its axes kept, then
                // broadcast over the reduced axes.
                let kept = reduced(&shape, &reduced_axes, true);
                let g_kept = if *keep_dims { g } else { b.reshape(g, &kept) };
                match kind {
                    Reduce::Sum => Ok(vec![Some(b.broadcast_to(g_kept, &shape))]),
                    Reduce::Mean => {
                        let count = b.count(x, &reduced_axes);
                        let scaled = b.div(g_kept, count);
                        Ok(vec![Some(b.broadcast_to(scaled, &shape))])
                    }
                    // The extreme elements share the gradient equally, as
                    // in JAX.
                    Reduce::Max | Reduce::Min => {
                        let y_kept = if *keep_dims {
                            node
                        } else {
                            b.reshape(node, &kept)
                        };
                        let hits = b.compare(Compare::Eq, x, y_kept);
                        let (one, zero) = (b.constant(1.0), b.constant(0.0));
                        let indicator = b.select(hits, one, zero);
                        let axes_i64: Vec<i64> = reduced_axes
                            .iter()
                            .map(|&a| i64::try_from(a).unwrap_or(0))
                            .collect();
                        let ties = b.sum(indicator, axes_i64, true);
                        let portion = b.div(g_kept, ties);
                        Ok(vec![Some(b.mul(indicator, portion))])
                    }
                }
            }
            // Indices and counts have no gradient.
            Reduction::ArgMax { .. } | Reduction::Count { .. } => Ok(vec![None]),
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

/// The constructors of this family's ops that gradient rules build with.
impl Builder<'_> {
    /// `sum(x, axis = axes, keep_dims = keep)`.
    pub fn sum(&mut self, x: NodeId, axes: Vec<i64>, keep: bool) -> NodeId {
        self.push(
            Op::Reduction(Reduction::Reduce {
                kind: Reduce::Sum,
                axes: Some(axes),
                keep_dims: keep,
            }),
            vec![x],
        )
    }
    /// The number of elements of `x` along `axes`, as an `f32` scalar.
    pub fn count(&mut self, x: NodeId, axes: &[usize]) -> NodeId {
        let shape = self.shape(x);
        let fixed: Option<usize> = axes
            .iter()
            .map(|&a| match shape.0[a] {
                Dim::Fixed(size) => Some(size),
                Dim::Symbol(_) => None,
            })
            .product();
        if let Some(count) = fixed {
            self.constant(count as f32)
        } else {
            let axes = Some(
                axes.iter()
                    .map(|&a| i64::try_from(a).unwrap_or(0))
                    .collect(),
            );
            self.push(Op::Reduction(Reduction::Count { axes }), vec![x])
        }
    }
}
