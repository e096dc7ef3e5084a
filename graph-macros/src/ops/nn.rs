//! Neural-network ops, with TensorFlow's conventions: `conv2d`, the 2-D
//! pools, `batch_norm`, `layer_norm`, `gather` (also called `embedding`)
//! and `dropout`.
//!
//! Two have a training form, which a training step's forward pass runs
//! instead (see [`crate::train::form`]): `batch_norm` normalises with the
//! batch's statistics and updates its running averages, and `dropout`,
//! the identity elsewhere, drops elements with a counter-based mask.
//!
//! Convolution and pooling take NHWC inputs and HWIO filters, and for a
//! window of effective size `e = (k - 1)·dilation + 1`, `valid` gives
//! `(in - e) / stride + 1` outputs (the input must hold one window) and
//! `same` gives `ceil(in / stride)`.

use proc_macro2::TokenStream;
use quote::quote;

use super::kernels::{Call, Form, Kernel};
use super::loss::rows;
use super::signature::{attr, Attrs, Default, Kind, Param, Signature};
use super::{At, Family, Op};
use crate::differentiate::Builder;
use crate::dot::{call, pair};
use crate::emit::bare::Bare;
use crate::emit::f32_literal;
use crate::introspect::Polynomial;
use crate::ir::{Bits, DType, DimSpec, NodeId, Padding};
use crate::ops::reduce::{Reduce, Reduction};
use crate::shape::{expect_dtypes, rule, Dim, Shape, ShapeError, Typed};
use crate::train::form::TrainingForm;

#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Nn {
    Conv2d {
        strides: [usize; 2],
        padding: Padding,
        dilation: [usize; 2],
    },
    Pool2d {
        kind: Pool,
        window: [usize; 2],
        strides: [usize; 2],
        padding: Padding,
    },
    /// Batch normalisation over the last axis with the statistics given:
    /// `(x, mean, variance, scale, offset)`. Its training form passes the
    /// batch's statistics instead, and updates `mean` and `variance` (which
    /// must be variables) to `momentum·running + (1 − momentum)·batch`.
    BatchNorm { epsilon: Bits, momentum: Bits },
    /// Layer normalisation over the last axis: `(x, gamma, beta)`.
    LayerNorm { epsilon: Bits },
    /// `gather(table, indices)`: rows of `table` picked by `usize` indices.
    Gather,
    /// `dropout(x, rate, seed)`: the identity, except in its training form
    /// ([`Nn::DropoutTrain`]).
    Dropout { rate: Bits, seed: u64 },
    /// Made by a training step's forward pass from a `dropout` (and by its
    /// gradient): inverted dropout with the mask of `(seed, stream, count)`,
    /// `graph_runtime::kernels::dropout`. Operands `(x, count_low,
    /// count_high)`, the step counter's two words.
    DropoutTrain { rate: Bits, seed: u64, stream: u64 },
    /// `one_hot(indices, depth)`: a row of `depth` zeros with a one at each
    /// index (all zeros for an index ≥ `depth`, as in TensorFlow).
    OneHot { depth: usize },
    /// Made by the differentiate phase: `gather`'s gradient, the rows of
    /// the incoming gradient added into a table of `rows` rows at their
    /// indices. Operands `(grad, indices)`.
    GatherGrad { rows: DimSpec },
    /// Made by the differentiate phase: `conv2d`'s gradient with respect to
    /// its input or its filter. Operands `(x, filter, grad)`.
    Conv2dGrad {
        wrt: ConvOperand,
        strides: [usize; 2],
        padding: Padding,
        dilation: [usize; 2],
    },
    /// Made by the differentiate phase: a pool's gradient with respect to
    /// its input. Operands `(x, grad)`.
    Pool2dGrad {
        kind: Pool,
        window: [usize; 2],
        strides: [usize; 2],
        padding: Padding,
    },
}

/// Which operand of `conv2d` a gradient is for.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum ConvOperand {
    Input,
    Filter,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Pool {
    Max,
    Avg,
}

const POOL: &[Param] = &[
    Param::tensor("x"),
    attr("window", Kind::Pair, Default::Required),
    attr("strides", Kind::Pair, Default::Absent),
    attr("padding", Kind::Padding, Default::Padding(Padding::Valid)),
];
const GATHER: &[Param] = &[Param::tensor("table"), Param::tensor("indices")];

fn pool(kind: Pool, attrs: &Attrs) -> Op {
    let window = attrs.pair("window").unwrap_or([1, 1]);
    Op::Nn(Nn::Pool2d {
        kind,
        window,
        // Keras' default: strides equal to the window.
        strides: attrs.pair("strides").unwrap_or(window),
        padding: attrs.padding("padding"),
    })
}

pub static SIGNATURES: &[Signature] = &[
    Signature::new(
        "conv2d",
        &[
            Param::tensor("x"),
            Param::tensor("filter"),
            attr("strides", Kind::Pair, Default::Pair([1, 1])),
            attr("padding", Kind::Padding, Default::Padding(Padding::Valid)),
            attr("dilation", Kind::Pair, Default::Pair([1, 1])),
        ],
        |a| {
            Op::Nn(Nn::Conv2d {
                strides: a.pair("strides").unwrap_or([1, 1]),
                padding: a.padding("padding"),
                dilation: a.pair("dilation").unwrap_or([1, 1]),
            })
        },
    ),
    Signature::new("max_pool2d", POOL, |a| pool(Pool::Max, a)),
    Signature::new("avg_pool2d", POOL, |a| pool(Pool::Avg, a)),
    Signature::new(
        "batch_norm",
        &[
            Param::tensor("x"),
            Param::tensor("mean"),
            Param::tensor("variance"),
            Param::tensor("scale"),
            Param::tensor("offset"),
            attr("epsilon", Kind::Float, Default::Float(1e-3)),
            attr(
                "momentum",
                Kind::Fraction,
                Default::Float(BATCH_NORM_MOMENTUM),
            ),
        ],
        |a| {
            Op::Nn(Nn::BatchNorm {
                epsilon: a.float("epsilon"),
                momentum: a.float("momentum"),
            })
        },
    ),
    Signature::new(
        "layer_norm",
        &[
            Param::tensor("x"),
            Param::tensor("gamma"),
            Param::tensor("beta"),
            attr("epsilon", Kind::Float, Default::Float(1e-3)),
        ],
        |a| {
            Op::Nn(Nn::LayerNorm {
                epsilon: a.float("epsilon"),
            })
        },
    ),
    Signature::new(
        "dropout",
        &[
            Param::tensor("x"),
            attr("rate", Kind::Rate, Default::Required),
            attr("seed", Kind::Seed, Default::Required),
        ],
        |a| {
            Op::Nn(Nn::Dropout {
                rate: a.float("rate"),
                // Any integer: a negative seed counts modulo 2⁶⁴.
                seed: a.int("seed").cast_unsigned(),
            })
        },
    ),
    Signature::new("gather", GATHER, |_| Op::Nn(Nn::Gather)),
    Signature::new("embedding", GATHER, |_| Op::Nn(Nn::Gather)),
    Signature::new(
        "one_hot",
        &[
            Param::tensor("indices"),
            attr("depth", Kind::Int, Default::Required),
        ],
        |a| {
            Op::Nn(Nn::OneHot {
                depth: usize::try_from(a.int("depth")).unwrap_or(0),
            })
        },
    ),
];

const INTO: &[Form] = &[Form::Into];
const CONV2D: Kernel = Kernel::std("conv", "conv2d", INTO);
const MAX_POOL2D: Kernel = Kernel::std("conv", "max_pool2d", INTO);
const AVG_POOL2D: Kernel = Kernel::std("conv", "avg_pool2d", INTO);
const BATCH_NORM: Kernel = Kernel::std("nn", "batch_norm", INTO);
const LAYER_NORM: Kernel = Kernel::std("nn", "layer_norm", INTO);
/// Checks each index against the table's rows.
const GATHER_ROWS: Kernel = Kernel::std("nn", "gather", INTO);
const ONE_HOT: Kernel = Kernel::std("nn", "one_hot", INTO);
/// Checks each index against the table's rows.
const GATHER_GRAD: Kernel = Kernel::std("nn", "gather_grad", INTO);
const FLAT_ONE_HOT: Kernel = Kernel::flat("one_hot");
const CONV2D_INPUT_GRAD: Kernel = Kernel::std("conv_grad", "conv2d_input_grad", INTO);
const CONV2D_FILTER_GRAD: Kernel = Kernel::std("conv_grad", "conv2d_filter_grad", INTO);
const MAX_POOL2D_GRAD: Kernel = Kernel::std("conv_grad", "max_pool2d_grad", INTO);
const AVG_POOL2D_GRAD: Kernel = Kernel::std("conv_grad", "avg_pool2d_grad", INTO);
const DROPOUT: Kernel = Kernel::std("dropout", "dropout", INTO);
/// Dropout outside training, where the optimizer has not removed it.
const DROPOUT_IDENTITY: Kernel = Kernel::std("dropout", "identity", INTO);
const FLAT_COPY: Kernel = Kernel::flat("copy");

/// `batch_norm`'s default `momentum`, Keras's.
const BATCH_NORM_MOMENTUM: f32 = 0.99;

pub const KERNELS: &[Kernel] = &[
    CONV2D,
    MAX_POOL2D,
    AVG_POOL2D,
    BATCH_NORM,
    LAYER_NORM,
    GATHER_ROWS,
    ONE_HOT,
    GATHER_GRAD,
    FLAT_ONE_HOT,
    CONV2D_INPUT_GRAD,
    CONV2D_FILTER_GRAD,
    MAX_POOL2D_GRAD,
    AVG_POOL2D_GRAD,
    DROPOUT,
    DROPOUT_IDENTITY,
    FLAT_COPY,
];

#[cfg_attr(not(test), allow(dead_code))]
pub const COST_ROWS: &[(&str, &str)] = &[
    ("`conv2d` with filter `[kh, kw, c, o]`", "2·kh·kw·c per out"),
    (
        "`max_pool2d` / `avg_pool2d` with window `[wh, ww]`",
        "wh·ww per out / wh·ww + 1 per out",
    ),
    (
        "`batch_norm`",
        "4 per out + 2 per feature (add ε, square root)",
    ),
    ("`layer_norm`", "7 per out + 4 per row"),
    (
        "`conv2d`'s gradients, made by `grad`",
        "each as the forward: 2·kh·kw·c per element of the forward's result",
    ),
    (
        "the pools' gradients, made by `grad`",
        "wh·ww per element of the forward's result",
    ),
    (
        "`dropout`",
        "0 outside a training step (the identity); in a step's forward pass and gradient, 1 per out (the scaling; drawing the mask is not counted)",
    ),
];

fn padding_name(padding: Padding) -> &'static str {
    match padding {
        Padding::Valid => "valid",
        Padding::Same => "same",
    }
}

fn padding_value(padding: Padding) -> TokenStream {
    let p = crate::emit::private();
    match padding {
        Padding::Valid => quote! { #p::kernels::conv::Padding::Valid },
        Padding::Same => quote! { #p::kernels::conv::Padding::Same },
    }
}

impl Family for Nn {
    fn word(&self) -> &'static str {
        match self {
            Nn::Conv2d { .. } => "conv2d",
            Nn::Pool2d {
                kind: Pool::Max, ..
            } => "max_pool2d",
            Nn::Pool2d {
                kind: Pool::Avg, ..
            } => "avg_pool2d",
            Nn::BatchNorm { .. } => "batch_norm",
            Nn::LayerNorm { .. } => "layer_norm",
            Nn::Gather => "gather",
            Nn::Dropout { .. } => "dropout",
            Nn::DropoutTrain { .. } => "dropout_train",
            Nn::OneHot { .. } => "one_hot",
            Nn::GatherGrad { .. } => "gather_grad",
            Nn::Conv2dGrad {
                wrt: ConvOperand::Input,
                ..
            } => "conv2d_input_grad",
            Nn::Conv2dGrad {
                wrt: ConvOperand::Filter,
                ..
            } => "conv2d_filter_grad",
            Nn::Pool2dGrad { .. } => "pool2d_grad",
        }
    }

    fn infer(&self, operands: &[Typed<'_>]) -> Result<(Shape, DType), ShapeError> {
        if let Nn::Gather = self {
            expect_dtypes(operands, &[DType::F32, DType::Usize])?;
            let Some((_, row)) = operands[0].0 .0.split_first() else {
                return Err(rule(
                    "needs a table of rank 1 or more to pick rows from, but it is a scalar",
                ));
            };
            let mut dims = operands[1].0 .0.clone();
            dims.extend(row.iter().cloned());
            return Ok((Shape(dims), DType::F32));
        }
        if let Nn::OneHot { depth } = self {
            expect_dtypes(operands, &[DType::Usize])?;
            if *depth == 0 {
                return Err(rule("needs a `depth` of at least 1"));
            }
            let mut dims = operands[0].0 .0.clone();
            dims.push(Dim::Fixed(*depth));
            return Ok((Shape(dims), DType::F32));
        }
        if let Nn::Conv2dGrad { wrt, .. } = self {
            expect_dtypes(operands, &[DType::F32, DType::F32, DType::F32])?;
            let of = match wrt {
                ConvOperand::Input => 0,
                ConvOperand::Filter => 1,
            };
            return Ok((operands[of].0.clone(), DType::F32));
        }
        if let Nn::Pool2dGrad { .. } = self {
            expect_dtypes(operands, &[DType::F32, DType::F32])?;
            return Ok((operands[0].0.clone(), DType::F32));
        }
        if let Nn::Dropout { .. } = self {
            expect_dtypes(operands, &[DType::F32])?;
            return Ok((operands[0].0.clone(), DType::F32));
        }
        if let Nn::DropoutTrain { .. } = self {
            expect_dtypes(operands, &[DType::F32, DType::F32, DType::F32])?;
            if !(operands[1].0.is_scalar() && operands[2].0.is_scalar()) {
                return Err(rule("takes the step counter as two scalars"));
            }
            return Ok((operands[0].0.clone(), DType::F32));
        }
        if let Nn::GatherGrad { rows } = self {
            expect_dtypes(operands, &[DType::F32, DType::Usize])?;
            let (grad, indices) = (operands[0].0, operands[1].0);
            let Some(row) = grad.0.get(indices.rank()..) else {
                return Err(rule("takes a gradient with the indices' axes first"));
            };
            let rows = match rows {
                DimSpec::Fixed(size) => Dim::Fixed(*size),
                DimSpec::Symbol(symbol) => Dim::Symbol(symbol.clone()),
                DimSpec::Infer => return Err(rule("needs the table's row count")),
            };
            let mut dims = vec![rows];
            dims.extend(row.iter().cloned());
            return Ok((Shape(dims), DType::F32));
        }
        expect_dtypes(operands, &vec![DType::F32; operands.len()])?;
        let shapes: Vec<&Shape> = operands.iter().map(|(s, _)| *s).collect();
        Ok((infer(self, &shapes)?, DType::F32))
    }

    fn flops(&self, at: At<'_>) -> Polynomial {
        let out = Polynomial::product(&at.shape().0);
        match self {
            Nn::Conv2d { .. } => {
                // Filter [kh, kw, c, o]: 2·kh·kw·c per output element.
                let window = at.operand_shape(1).0.iter().take(3);
                out.times(&Polynomial::product(window)).scale(2)
            }
            Nn::Pool2d { kind, window, .. } => {
                let cells = u64::try_from(window[0].saturating_mul(window[1])).unwrap_or(u64::MAX);
                match kind {
                    Pool::Max => out.scale(cells),
                    Pool::Avg => out.scale(cells.saturating_add(1)),
                }
            }
            Nn::BatchNorm { .. } => {
                let features = at
                    .operand_shape(0)
                    .0
                    .last()
                    .map(std::slice::from_ref)
                    .unwrap_or_default();
                out.scale(4).plus(&Polynomial::product(features).scale(2))
            }
            Nn::LayerNorm { .. } => out.scale(7).plus(&rows(at.operand_shape(0), -1).scale(4)),
            Nn::Gather | Nn::OneHot { .. } | Nn::Dropout { .. } => Polynomial::default(),
            Nn::DropoutTrain { .. } => out,
            // One addition per element of the incoming gradient.
            Nn::GatherGrad { .. } => Polynomial::product(&at.operand_shape(0).0),
            Nn::Conv2dGrad { .. } => {
                let window = at.operand_shape(1).0.iter().take(3);
                Polynomial::product(&at.operand_shape(2).0)
                    .times(&Polynomial::product(window))
                    .scale(2)
            }
            Nn::Pool2dGrad { window, .. } => {
                let cells = u64::try_from(window[0].saturating_mul(window[1])).unwrap_or(u64::MAX);
                Polynomial::product(&at.operand_shape(1).0).scale(cells)
            }
        }
    }

    fn label(&self, word: &str, _operands: &[String]) -> String {
        let attributes = match self {
            Nn::Conv2d {
                strides,
                padding,
                dilation,
            }
            | Nn::Conv2dGrad {
                strides,
                padding,
                dilation,
                ..
            } => vec![
                format!("strides={}", pair(*strides)),
                format!("padding={}", padding_name(*padding)),
                format!("dilation={}", pair(*dilation)),
            ],
            Nn::Pool2d {
                window,
                strides,
                padding,
                ..
            } => vec![
                format!("window={}", pair(*window)),
                format!("strides={}", pair(*strides)),
                format!("padding={}", padding_name(*padding)),
            ],
            Nn::BatchNorm { epsilon, momentum } => {
                let mut attributes = vec![format!("epsilon={}", epsilon.get())];
                if momentum.get() != BATCH_NORM_MOMENTUM {
                    attributes.push(format!("momentum={}", momentum.get()));
                }
                attributes
            }
            Nn::LayerNorm { epsilon } => vec![format!("epsilon={}", epsilon.get())],
            Nn::Dropout { rate, seed } => {
                vec![format!("rate={}", rate.get()), format!("seed={seed}")]
            }
            Nn::DropoutTrain { rate, seed, stream } => vec![
                format!("rate={}", rate.get()),
                format!("seed={seed}"),
                format!("stream={stream}"),
            ],
            Nn::Gather | Nn::GatherGrad { .. } => Vec::new(),
            Nn::Pool2dGrad {
                kind,
                window,
                strides,
                padding,
            } => vec![
                format!(
                    "kind={}",
                    match kind {
                        Pool::Max => "max",
                        Pool::Avg => "avg",
                    }
                ),
                format!("window={}", pair(*window)),
                format!("strides={}", pair(*strides)),
                format!("padding={}", padding_name(*padding)),
            ],
            Nn::OneHot { depth } => vec![format!("depth={depth}")],
        };
        call(word, &attributes)
    }

    fn shows_formula(&self) -> bool {
        false
    }

    fn emit(&self, at: At<'_>, mut operands: Vec<TokenStream>) -> Call {
        match self {
            Nn::Conv2d {
                strides: [sh, sw],
                padding,
                dilation: [dh, dw],
            } => {
                operands.push(quote! { (#sh, #sw) });
                operands.push(padding_value(*padding));
                operands.push(quote! { (#dh, #dw) });
                Call::new(CONV2D, operands)
            }
            Nn::Pool2d {
                kind,
                window: [wh, ww],
                strides: [sh, sw],
                padding,
            } => {
                operands.push(quote! { (#wh, #ww) });
                operands.push(quote! { (#sh, #sw) });
                operands.push(padding_value(*padding));
                let kernel = match kind {
                    Pool::Max => MAX_POOL2D,
                    Pool::Avg => AVG_POOL2D,
                };
                Call::new(kernel, operands)
            }
            Nn::BatchNorm { epsilon, .. } => {
                operands.push(f32_literal(epsilon.get()));
                Call::new(BATCH_NORM, operands)
            }
            Nn::Dropout { .. } => Call::new(DROPOUT_IDENTITY, operands),
            Nn::DropoutTrain { rate, seed, stream } => {
                operands.push(f32_literal(rate.get()));
                operands.push(quote! { #seed });
                operands.push(quote! { #stream });
                Call::new(DROPOUT, operands)
            }
            Nn::LayerNorm { epsilon } => {
                operands.push(f32_literal(epsilon.get()));
                Call::new(LAYER_NORM, operands)
            }
            // The one op that can fail on data: an index out of range.
            Nn::Gather => {
                let indices = at.describe_operand(1);
                operands.push(quote! { #indices });
                Call::new(GATHER_ROWS, operands).fallible()
            }
            Nn::OneHot { depth } => {
                operands.push(quote! { #depth });
                Call::new(ONE_HOT, operands)
            }
            Nn::GatherGrad { .. } => {
                let indices = at.describe_operand(1);
                operands.push(quote! { #indices });
                Call::new(GATHER_GRAD, operands).fallible()
            }
            Nn::Conv2dGrad {
                wrt,
                strides: [sh, sw],
                padding,
                dilation: [dh, dw],
            } => {
                // Operands (x, filter, grad).
                let (kernel, mut args) = match wrt {
                    ConvOperand::Input => (
                        CONV2D_INPUT_GRAD,
                        vec![operands[2].clone(), operands[1].clone()],
                    ),
                    ConvOperand::Filter => (
                        CONV2D_FILTER_GRAD,
                        vec![operands[0].clone(), operands[2].clone()],
                    ),
                };
                args.push(quote! { (#sh, #sw) });
                args.push(padding_value(*padding));
                args.push(quote! { (#dh, #dw) });
                Call::new(kernel, args)
            }
            Nn::Pool2dGrad {
                kind,
                window: [wh, ww],
                strides: [sh, sw],
                padding,
            } => {
                // Operands (x, grad); the average's gradient needs no input.
                let (kernel, mut args) = match kind {
                    Pool::Max => (MAX_POOL2D_GRAD, operands),
                    Pool::Avg => (AVG_POOL2D_GRAD, vec![operands[1].clone()]),
                };
                args.push(quote! { (#wh, #ww) });
                args.push(quote! { (#sh, #sw) });
                args.push(padding_value(*padding));
                Call::new(kernel, args)
            }
        }
    }

    fn bare_support(&self, _at: At<'_>) -> bool {
        match self {
            Nn::OneHot { .. } | Nn::Dropout { .. } => true,
            // Only training steps make it, which `#[no_std]` graphs lack.
            Nn::DropoutTrain { .. }
            | Nn::Conv2d { .. }
            | Nn::Pool2d { .. }
            | Nn::BatchNorm { .. }
            | Nn::LayerNorm { .. }
            | Nn::Gather
            | Nn::GatherGrad { .. }
            | Nn::Conv2dGrad { .. }
            | Nn::Pool2dGrad { .. } => false,
        }
    }

    fn emit_bare(&self, bare: &Bare<'_>) -> TokenStream {
        match self {
            Nn::OneHot { depth } => {
                let indices = &bare.operands[0];
                let destination = &bare.destination;
                let one_hot = FLAT_ONE_HOT.path(Form::Value);
                quote! { #one_hot(#indices, #depth, #destination) }
            }
            // The identity: a copy, where the optimizer has not removed it.
            Nn::Dropout { .. } => {
                let x = &bare.operands[0];
                let destination = &bare.destination;
                let copy = FLAT_COPY.path(Form::Value);
                quote! { #copy(#x, #destination) }
            }
            Nn::DropoutTrain { .. }
            | Nn::Conv2d { .. }
            | Nn::Pool2d { .. }
            | Nn::BatchNorm { .. }
            | Nn::LayerNorm { .. }
            | Nn::Gather
            | Nn::GatherGrad { .. }
            | Nn::Conv2dGrad { .. }
            | Nn::Pool2dGrad { .. } => Bare::unsupported(),
        }
    }

    fn vjp(
        &self,
        node: NodeId,
        g: NodeId,
        b: &mut Builder<'_>,
    ) -> Result<Vec<Option<NodeId>>, String> {
        match self {
            Nn::Conv2d {
                strides,
                padding,
                dilation,
            } => {
                let (x, filter) = (b.operand(node, 0), b.operand(node, 1));
                let gradient = |wrt| {
                    Op::Nn(Nn::Conv2dGrad {
                        wrt,
                        strides: *strides,
                        padding: *padding,
                        dilation: *dilation,
                    })
                };
                let d_x = b.push(gradient(ConvOperand::Input), vec![x, filter, g]);
                let d_filter = b.push(gradient(ConvOperand::Filter), vec![x, filter, g]);
                Ok(vec![Some(d_x), Some(d_filter)])
            }
            Nn::Pool2d {
                kind,
                window,
                strides,
                padding,
            } => {
                let x = b.operand(node, 0);
                let op = Op::Nn(Nn::Pool2dGrad {
                    kind: *kind,
                    window: *window,
                    strides: *strides,
                    padding: *padding,
                });
                Ok(vec![Some(b.push(op, vec![x, g]))])
            }
            Nn::BatchNorm { epsilon, .. } => Ok(batch_norm_gradient(node, g, *epsilon, b)),
            Nn::Dropout { .. } => Ok(vec![Some(g)]),
            // The same mask, applied to the gradient; the counter has none.
            Nn::DropoutTrain { .. } => {
                let (low, high) = (b.operand(node, 1), b.operand(node, 2));
                let op = b.graph().node(node).op.clone();
                Ok(vec![Some(b.push(op, vec![g, low, high])), None, None])
            }
            Nn::LayerNorm { epsilon } => Ok(layer_norm_gradient(node, g, *epsilon, b)),
            // The rows of `g` added back at their indices; indices have none.
            Nn::Gather => {
                let (table, indices) = (b.operand(node, 0), b.operand(node, 1));
                let rows = match &b.shape(table).0[0] {
                    Dim::Fixed(size) => DimSpec::Fixed(*size),
                    Dim::Symbol(symbol) => DimSpec::Symbol(symbol.clone()),
                };
                let d_table = b.push(Op::Nn(Nn::GatherGrad { rows }), vec![g, indices]);
                Ok(vec![Some(d_table), None])
            }
            Nn::OneHot { .. } => Ok(vec![None]),
            Nn::GatherGrad { .. } | Nn::Conv2dGrad { .. } | Nn::Pool2dGrad { .. } => {
                Err("second derivatives are not available yet".to_string())
            }
        }
    }

    fn is_identity(&self) -> bool {
        matches!(self, Nn::Dropout { .. })
    }

    fn training_form(
        &self,
        _node: NodeId,
        operands: &[NodeId],
        t: &mut TrainingForm<'_, '_>,
    ) -> Result<Option<NodeId>, String> {
        match self {
            Nn::BatchNorm { epsilon, momentum } => {
                batch_norm_training(operands, *epsilon, *momentum, t).map(Some)
            }
            // Nothing to drop: the identity, and no counter.
            Nn::Dropout { rate, .. } if rate.get() == 0.0 => Ok(Some(operands[0])),
            Nn::Dropout { rate, seed } => {
                let [low, high] = t.counter();
                let stream = t.stream();
                let op = Op::Nn(Nn::DropoutTrain {
                    rate: *rate,
                    seed: *seed,
                    stream,
                });
                Ok(Some(t.b.push(op, vec![operands[0], low, high])))
            }
            Nn::Conv2d { .. }
            | Nn::Pool2d { .. }
            | Nn::LayerNorm { .. }
            | Nn::Gather
            | Nn::OneHot { .. }
            | Nn::GatherGrad { .. }
            | Nn::Conv2dGrad { .. }
            | Nn::Pool2dGrad { .. }
            | Nn::DropoutTrain { .. } => Ok(None),
        }
    }
}

/// The shapes of every op of the family but `gather`.
fn infer(op: &Nn, shapes: &[&Shape]) -> Result<Shape, ShapeError> {
    let x = shapes[0];
    match op {
        Nn::Conv2d {
            strides,
            padding,
            dilation,
        } => {
            let (batch, height, width, channels) = nhwc(x, "input")?;
            let filter = shapes[1];
            if filter.rank() != 4 {
                return Err(rule(format!(
                    "needs a filter of shape [height, width, in_channels, out_channels], but it is {filter}"
                )));
            }
            let (kh, kw) = (literal(filter, 0, "filter")?, literal(filter, 1, "filter")?);
            if filter.0[2] != *channels {
                return Err(rule(format!(
                    "filter expects {} input channels, but the input {x} has {channels}",
                    filter.0[2]
                )));
            }
            let out_h = spatial(height, kh, strides[0], dilation[0], *padding, "height")?;
            let out_w = spatial(width, kw, strides[1], dilation[1], *padding, "width")?;
            Ok(Shape(vec![
                batch.clone(),
                Dim::Fixed(out_h),
                Dim::Fixed(out_w),
                filter.0[3].clone(),
            ]))
        }
        Nn::Pool2d {
            window,
            strides,
            padding,
            ..
        } => {
            let (batch, height, width, channels) = nhwc(x, "input")?;
            let out_h = spatial(height, window[0], strides[0], 1, *padding, "height")?;
            let out_w = spatial(width, window[1], strides[1], 1, *padding, "width")?;
            Ok(Shape(vec![
                batch.clone(),
                Dim::Fixed(out_h),
                Dim::Fixed(out_w),
                channels.clone(),
            ]))
        }
        Nn::BatchNorm { .. } | Nn::LayerNorm { .. } => {
            let Some(features) = x.0.last() else {
                return Err(rule(
                    "normalises over the last axis, but its input is a scalar",
                ));
            };
            let names = if matches!(op, Nn::BatchNorm { .. }) {
                &["mean", "variance", "scale", "offset"][..]
            } else {
                &["gamma", "beta"][..]
            };
            for (shape, name) in shapes[1..].iter().zip(names) {
                if shape.0.as_slice() != std::slice::from_ref(features) {
                    return Err(rule(format!(
                        "needs `{name}` of shape [{features}], one value per feature of {x}, but it is {shape}"
                    )));
                }
            }
            Ok(x.clone())
        }
        Nn::Gather
        | Nn::OneHot { .. }
        | Nn::GatherGrad { .. }
        | Nn::Conv2dGrad { .. }
        | Nn::Pool2dGrad { .. }
        | Nn::Dropout { .. }
        | Nn::DropoutTrain { .. } => Err(rule("has a rule of its own")),
    }
}

fn nhwc<'a>(x: &'a Shape, what: &str) -> Result<(&'a Dim, usize, usize, &'a Dim), ShapeError> {
    if x.rank() != 4 {
        return Err(rule(format!(
            "needs an {what} of shape [batch, height, width, channels], but it is {x}"
        )));
    }
    Ok((&x.0[0], literal(x, 1, what)?, literal(x, 2, what)?, &x.0[3]))
}

fn literal(shape: &Shape, axis: usize, what: &str) -> Result<usize, ShapeError> {
    match &shape.0[axis] {
        Dim::Fixed(size) => Ok(*size),
        Dim::Symbol(symbol) => Err(rule(format!(
            "needs a literal size on axis {axis} of its {what} {shape}, not `{symbol}`"
        ))),
    }
}

/// The output size of one spatial axis, as TensorFlow computes it.
pub fn spatial(
    input: usize,
    kernel: usize,
    stride: usize,
    dilation: usize,
    padding: Padding,
    axis: &str,
) -> Result<usize, ShapeError> {
    let effective = kernel
        .checked_sub(1)
        .and_then(|k| k.checked_mul(dilation))
        .and_then(|k| k.checked_add(1))
        .ok_or_else(|| rule(format!("has an empty or oversized window along the {axis}")))?;
    match padding {
        Padding::Same => Ok(input.div_ceil(stride)),
        Padding::Valid if input >= effective => Ok((input - effective) / stride + 1),
        Padding::Valid => Err(rule(format!(
            "window of {effective} along the {axis} does not fit the input's {input} with `valid` padding; use `padding = same` or a smaller window"
        ))),
    }
}

/// `1 / √(v + ε)`, elementwise.
fn inverse_deviation(b: &mut Builder<'_>, variance: NodeId, epsilon: Bits) -> NodeId {
    let epsilon = b.constant(epsilon.get());
    let shifted = b.add(variance, epsilon);
    let deviation = b.unary(super::elementwise::Unary::Sqrt, shifted);
    let one = b.constant(1.0);
    b.div(one, deviation)
}

/// `(x − m)·s/√(v + ε) + o` over the last axis: gradients of `x`, `m`,
/// `v`, `s` and `o`, each an elementwise expression or its sum over the
/// leading axes.
fn batch_norm_gradient(
    node: NodeId,
    g: NodeId,
    epsilon: Bits,
    b: &mut Builder<'_>,
) -> Vec<Option<NodeId>> {
    let [x, mean, variance, scale, _offset] = [0, 1, 2, 3, 4].map(|i| b.operand(node, i));
    let features = b.shape(mean);
    let inv = inverse_deviation(b, variance, epsilon);
    let centred = b.sub(x, mean);
    let factor = b.mul(scale, inv);
    let d_x = b.mul(g, factor);
    let summed = b.sum_to(d_x, &features);
    let d_mean = b.neg(summed);
    // d/dv of (v + ε)^(-1/2) is −½·(v + ε)^(-3/2).
    let inv_squared = b.mul(inv, inv);
    let inv_cubed = b.mul(inv_squared, inv);
    let minus_half = b.constant(-0.5);
    let slope = b.mul(inv_cubed, minus_half);
    let scaled_slope = b.mul(scale, slope);
    let g_centred = b.mul(g, centred);
    let d_var_full = b.mul(g_centred, scaled_slope);
    let d_variance = b.sum_to(d_var_full, &features);
    let normalized = b.mul(centred, inv);
    let d_scale_full = b.mul(g, normalized);
    let d_scale = b.sum_to(d_scale_full, &features);
    let d_offset = b.sum_to(g, &features);
    vec![
        Some(d_x),
        Some(d_mean),
        Some(d_variance),
        Some(d_scale),
        Some(d_offset),
    ]
}

/// `batch_norm`'s training form: the same op over the batch's statistics,
/// per feature (the last axis) over every other axis, the mean `μ` and the
/// biased variance `σ² = mean((x − μ)²)` (as Keras and `PyTorch` normalise);
/// and the updates `mean ← m·mean + (1 − m)·μ`, `variance ← m·variance +
/// (1 − m)·σ²` of the running statistics, `m` the momentum (Keras's
/// convention, with the biased `σ²` as Keras keeps it). Its gradient is
/// the inference form's through the statistics, which are ordinary nodes.
fn batch_norm_training(
    operands: &[NodeId],
    epsilon: Bits,
    momentum: Bits,
    t: &mut TrainingForm<'_, '_>,
) -> Result<NodeId, String> {
    let [x, mean, variance, scale, offset] = [0, 1, 2, 3, 4].map(|i| operands[i]);
    let not_variables: Vec<String> = [(mean, "mean"), (variance, "variance")]
        .into_iter()
        .filter_map(|(id, role)| {
            let operand = t.b.graph().node(id);
            let what = match (&operand.name, &operand.op) {
                (_, Op::Variable) => return None,
                (Some(name), Op::Input) => format!("`{name}`, an input"),
                (Some(name), Op::Constant(_)) => format!("`{name}`, a constant"),
                (Some(name), _) => format!("`{name}`, a computed value"),
                (None, Op::Constant(_)) => "a literal".to_string(),
                (None, op) => format!("computed by `{}`", op.word()),
            };
            Some(format!("its `{role}` is {what}"))
        })
        .collect();
    if !not_variables.is_empty() {
        return Err(format!(
            "that form updates its running `mean` and `variance` with the batch's statistics, \
             so both must be variables: {}",
            not_variables.join("; ")
        ));
    }
    let shape = t.b.shape(x);
    if shape.rank() < 2 {
        return Err(format!(
            "that form takes the batch's statistics over every axis of its input but the last, and the input {shape} has no other"
        ));
    }
    let axes: Vec<i64> = (0..shape.rank() - 1)
        .map(|axis| i64::try_from(axis).unwrap_or(0))
        .collect();
    let batch_mean = mean_over(&mut t.b, x, &axes);
    let centred = t.b.sub(x, batch_mean);
    let squares = t.b.unary(super::elementwise::Unary::Square, centred);
    let batch_variance = mean_over(&mut t.b, squares, &axes);
    let op = Op::Nn(Nn::BatchNorm { epsilon, momentum });
    let normalized =
        t.b.push(op, vec![x, batch_mean, batch_variance, scale, offset]);
    let kept = t.b.constant(momentum.get());
    #[allow(clippy::cast_possible_truncation)] // The complement, rounded once.
    let taken = t.b.constant((1.0 - f64::from(momentum.get())) as f32);
    for (running, batch) in [(mean, batch_mean), (variance, batch_variance)] {
        let old = t.b.mul(kept, running);
        let new = t.b.mul(taken, batch);
        let average = t.b.add(old, new);
        t.update(running, average);
    }
    Ok(normalized)
}

/// The mean of `x` over `axes`, dropped.
fn mean_over(b: &mut Builder<'_>, x: NodeId, axes: &[i64]) -> NodeId {
    b.push(
        Op::Reduction(Reduction::Reduce {
            kind: Reduce::Mean,
            axes: Some(axes.to_vec()),
            keep_dims: false,
        }),
        vec![x],
    )
}

/// The mean over the last axis, kept.
fn row_mean(b: &mut Builder<'_>, x: NodeId) -> NodeId {
    b.push(
        Op::Reduction(Reduction::Reduce {
            kind: Reduce::Mean,
            axes: Some(vec![-1]),
            keep_dims: true,
        }),
        vec![x],
    )
}

/// `x̂·γ + β` with `x̂ = (x − μ)/√(σ² + ε)` per row: `x`'s gradient is
/// `(g·γ − mean(g·γ) − x̂·mean(g·γ·x̂)) / √(σ² + ε)`; γ's the sum of `g·x̂`
/// and β's the sum of `g` over the leading axes.
fn layer_norm_gradient(
    node: NodeId,
    g: NodeId,
    epsilon: Bits,
    b: &mut Builder<'_>,
) -> Vec<Option<NodeId>> {
    let [x, gamma, _beta] = [0, 1, 2].map(|i| b.operand(node, i));
    let features = b.shape(gamma);
    let mu = row_mean(b, x);
    let centred = b.sub(x, mu);
    let squares = b.unary(super::elementwise::Unary::Square, centred);
    let variance = row_mean(b, squares);
    let inv = inverse_deviation(b, variance, epsilon);
    let normalized = b.mul(centred, inv);
    let scaled = b.mul(g, gamma);
    let mean_scaled = row_mean(b, scaled);
    let weighted = b.mul(scaled, normalized);
    let mean_weighted = row_mean(b, weighted);
    let centred_g = b.sub(scaled, mean_scaled);
    let along = b.mul(normalized, mean_weighted);
    let inner = b.sub(centred_g, along);
    let d_x = b.mul(inner, inv);
    let d_gamma_full = b.mul(g, normalized);
    let d_gamma = b.sum_to(d_gamma_full, &features);
    let d_beta = b.sum_to(g, &features);
    vec![Some(d_x), Some(d_gamma), Some(d_beta)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::tests::shape;

    #[test]
    fn spatial_sizes_match_tensorflow() {
        // Hand-computed from TF's formulas.
        assert_eq!(spatial(8, 3, 1, 1, Padding::Valid, "h"), Ok(6));
        assert_eq!(spatial(8, 3, 1, 1, Padding::Same, "h"), Ok(8));
        assert_eq!(spatial(8, 2, 2, 1, Padding::Same, "h"), Ok(4));
        assert_eq!(spatial(7, 4, 2, 1, Padding::Same, "h"), Ok(4));
        assert_eq!(spatial(7, 4, 2, 1, Padding::Valid, "h"), Ok(2));
        assert_eq!(spatial(8, 3, 1, 2, Padding::Valid, "h"), Ok(4));
        assert!(spatial(2, 3, 1, 1, Padding::Valid, "h").is_err());
    }

    #[test]
    fn conv_and_pool_shapes() {
        let conv = Nn::Conv2d {
            strides: [1, 1],
            padding: Padding::Valid,
            dilation: [1, 1],
        };
        assert_eq!(
            infer(&conv, &[&shape("n, 8, 8, 1"), &shape("3, 3, 1, 4")]),
            Ok(shape("n, 6, 6, 4"))
        );
        assert!(infer(&conv, &[&shape("n, 8, 8, 2"), &shape("3, 3, 1, 4")]).is_err());
        assert!(infer(&conv, &[&shape("n, h, 8, 1"), &shape("3, 3, 1, 4")]).is_err());
        let pool = Nn::Pool2d {
            kind: Pool::Max,
            window: [2, 2],
            strides: [2, 2],
            padding: Padding::Valid,
        };
        assert_eq!(
            infer(&pool, &[&shape("n, 6, 6, 4")]),
            Ok(shape("n, 3, 3, 4"))
        );
    }
}
