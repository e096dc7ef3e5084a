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

use super::elementwise::Unary;
use super::kernels::{Call, Form, Kernel};
use super::loss::rows;
use super::signature::{attr, Attrs, Default, Kind, Param, Signature};
use super::{At, Family, Op};
use crate::diag::Code;
use crate::differentiate::Builder;
use crate::dot::{call, pair};
use crate::emit::bare::Bare;
use crate::emit::f32_literal;
use crate::introspect::Polynomial;
use crate::ir::{Bits, DType, DimSpec, NodeId, Padding};
use crate::shape::{expect_dtypes, rule, Dim, Shape, ShapeError, Typed};
use crate::train::form::TrainingForm;

#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Nn {
    Conv2d {
        strides: [usize; 2],
        padding: Padding,
        dilation: [usize; 2],
    },
    /// Made by the optimizer, never written: `conv2d` with its epilogue,
    /// `activation(conv2d(x, filter) + bias)` in one kernel that applies the
    /// bias (one value per output channel) and the activation as it
    /// finishes each block of output pixels. Operands `(x, filter)` or
    /// `(x, filter, bias)`; the activation is a unary function the
    /// runtime's `scalar::Activation` has ([`Unary::activation`]).
    FusedConv2d {
        strides: [usize; 2],
        padding: Padding,
        dilation: [usize; 2],
        bias: bool,
        activation: Option<Unary>,
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

/// The family's ops under their names in TensorFlow, numpy or `PyTorch`, each
/// with what to write here: `unknown_op` suggests it.
pub static ALIASES: &[(&str, &str)] = &[
    ("max_pool", "max_pool2d"),
    ("avg_pool", "avg_pool2d"),
    ("batch_normalization", "batch_norm"),
    ("layer_normalization", "layer_norm"),
    ("embedding_lookup", "gather"),
    ("take", "gather"),
];

/// TensorFlow's layout parameter, which the image ops do not need.
const NHWC: &[(&str, &str)] = &[(
    "data_format",
    "images are always NHWC (batch, height, width, channels) and filters HWIO; \
     remove it, and `transpose` an NCHW input with `axes = [0, 2, 3, 1]`",
)];

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
    )
    .foreign(NHWC),
    Signature::new("max_pool2d", POOL, |a| pool(Pool::Max, a)).foreign(NHWC),
    Signature::new("avg_pool2d", POOL, |a| pool(Pool::Avg, a)).foreign(NHWC),
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
const CONV2D_FUSED: Kernel = Kernel::std("conv", "conv2d_fused", INTO);
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
    CONV2D_FUSED,
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
        "`fused_conv2d`: `conv2d`, bias add and activation, fused by the optimizer",
        "its parts: 2·kh·kw·c per out, + 1 per out for the bias, + the activation's count",
    ),
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

/// A convolution's trailing kernel arguments: `(sh, sw), padding, (dh, dw)`.
fn conv_geometry([sh, sw]: [usize; 2], padding: Padding, [dh, dw]: [usize; 2]) -> [TokenStream; 3] {
    [
        quote! { (#sh, #sw) },
        padding_value(padding),
        quote! { (#dh, #dw) },
    ]
}

/// A pooling's trailing kernel arguments: `(wh, ww), (sh, sw), padding`.
fn pool_geometry([wh, ww]: [usize; 2], [sh, sw]: [usize; 2], padding: Padding) -> [TokenStream; 3] {
    [
        quote! { (#wh, #ww) },
        quote! { (#sh, #sw) },
        padding_value(padding),
    ]
}

/// A fused convolution's epilogue arguments, after the operands' views
/// (the bias, if any, last): `Option<bias>, activation`.
fn epilogue_args(
    bias: bool,
    activation: Option<Unary>,
    mut operands: Vec<TokenStream>,
) -> Vec<TokenStream> {
    let p = crate::emit::private();
    if bias {
        let b = operands.pop().unwrap_or_default();
        operands.push(quote! { ::core::option::Option::Some(#b) });
    } else {
        operands.push(quote! { ::core::option::Option::None });
    }
    operands.push(
        activation
            .and_then(Unary::activation)
            .unwrap_or_else(|| quote! { #p::scalar::Activation::Identity }),
    );
    operands
}

impl Nn {
    /// The fused node computing `self + bias`, for a bias of one value per
    /// output channel: a convolution with no epilogue yet gets one.
    pub fn with_bias(&self) -> Option<Nn> {
        match self.convolution()? {
            (window, false, None) => Some(window.fused(true, None)),
            _ => None,
        }
    }

    /// The fused node computing `activation(self)`: a convolution, or a
    /// fused one with no activation yet, gets it as its epilogue (the
    /// caller checks that the runtime has it, `Unary::info().activation`).
    pub fn with_activation(&self, activation: Unary) -> Option<Nn> {
        match self.convolution()? {
            (window, bias, None) => Some(window.fused(bias, Some(activation))),
            (_, _, Some(_)) => None,
        }
    }

    /// A convolution's window and epilogue, `(window, bias, activation)`
    /// (no epilogue for a plain `conv2d`); `None` for every other op.
    fn convolution(&self) -> Option<(ConvWindow, bool, Option<Unary>)> {
        match *self {
            Nn::Conv2d {
                strides,
                padding,
                dilation,
            } => Some((ConvWindow(strides, padding, dilation), false, None)),
            Nn::FusedConv2d {
                strides,
                padding,
                dilation,
                bias,
                activation,
            } => Some((ConvWindow(strides, padding, dilation), bias, activation)),
            _ => None,
        }
    }
}

/// A convolution's strides, padding and dilation.
struct ConvWindow([usize; 2], Padding, [usize; 2]);

impl ConvWindow {
    /// The fused convolution over this window with the epilogue
    /// `(bias, activation)`.
    fn fused(self, bias: bool, activation: Option<Unary>) -> Nn {
        let ConvWindow(strides, padding, dilation) = self;
        Nn::FusedConv2d {
            strides,
            padding,
            dilation,
            bias,
            activation,
        }
    }
}

impl Family for Nn {
    fn word(&self) -> &'static str {
        match self {
            Nn::Conv2d { .. } => "conv2d",
            Nn::FusedConv2d { .. } => "fused_conv2d",
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
                    Code::OperandShape,
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
                return Err(rule(Code::AttributeValue, "needs a `depth` of at least 1"));
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
                return Err(rule(
                    Code::Internal,
                    "takes the step counter as two scalars",
                ));
            }
            return Ok((operands[0].0.clone(), DType::F32));
        }
        if let Nn::GatherGrad { rows } = self {
            expect_dtypes(operands, &[DType::F32, DType::Usize])?;
            let (grad, indices) = (operands[0].0, operands[1].0);
            let Some(row) = grad.0.get(indices.rank()..) else {
                return Err(rule(
                    Code::Internal,
                    "takes a gradient with the indices' axes first",
                ));
            };
            let rows = match rows {
                DimSpec::Fixed(size) => Dim::Fixed(*size),
                DimSpec::Symbol(symbol) => Dim::Symbol(symbol.clone()),
                DimSpec::Infer => return Err(rule(Code::Internal, "needs the table's row count")),
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
            Nn::FusedConv2d {
                bias, activation, ..
            } => {
                // The convolution, then per element the bias add and the
                // activation.
                let window = at.operand_shape(1).0.iter().take(3);
                let per_element =
                    u64::from(*bias) + activation.map_or(0, |activation| activation.info().cost);
                out.times(&Polynomial::product(window))
                    .scale(2)
                    .plus(&out.scale(per_element))
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

    fn label(&self, word: &str, operands: &[String]) -> String {
        if let Nn::FusedConv2d {
            strides,
            padding,
            dilation,
            bias,
            activation,
        } = self
        {
            return fused_label(
                word,
                operands,
                &[
                    format!("strides={}", pair(*strides)),
                    format!("padding={}", padding_name(*padding)),
                    format!("dilation={}", pair(*dilation)),
                ],
                *bias,
                *activation,
            );
        }
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
            Nn::Gather | Nn::GatherGrad { .. } | Nn::FusedConv2d { .. } => Vec::new(),
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
        matches!(self, Nn::FusedConv2d { .. })
    }

    fn emit(&self, at: At<'_>, mut operands: Vec<TokenStream>) -> Call {
        match self {
            Nn::Conv2d {
                strides,
                padding,
                dilation,
            } => {
                operands.extend(conv_geometry(*strides, *padding, *dilation));
                Call::new(CONV2D, operands)
            }
            Nn::FusedConv2d {
                strides,
                padding,
                dilation,
                bias,
                activation,
            } => {
                let mut args = epilogue_args(*bias, *activation, operands);
                args.extend(conv_geometry(*strides, *padding, *dilation));
                Call::new(CONV2D_FUSED, args)
            }
            Nn::Pool2d {
                kind,
                window,
                strides,
                padding,
            } => {
                operands.extend(pool_geometry(*window, *strides, *padding));
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
                strides,
                padding,
                dilation,
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
                args.extend(conv_geometry(*strides, *padding, *dilation));
                Call::new(kernel, args)
            }
            Nn::Pool2dGrad {
                kind,
                window,
                strides,
                padding,
            } => {
                // Operands (x, grad); the average's gradient needs no input.
                let (kernel, mut args) = match kind {
                    Pool::Max => (MAX_POOL2D_GRAD, operands),
                    Pool::Avg => (AVG_POOL2D_GRAD, vec![operands[1].clone()]),
                };
                args.extend(pool_geometry(*window, *strides, *padding));
                Call::new(kernel, args)
            }
        }
    }

    fn bare_support(&self, _at: At<'_>) -> bool {
        match self {
            Nn::OneHot { .. } | Nn::Dropout { .. } => true,
            // The training form of dropout has no slice kernel yet.
            Nn::DropoutTrain { .. }
            | Nn::Conv2d { .. }
            | Nn::FusedConv2d { .. }
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
            | Nn::FusedConv2d { .. }
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
        self.gradient(node, g, b)
    }

    fn is_identity(&self) -> bool {
        matches!(self, Nn::Dropout { .. })
    }

    fn training_form(
        &self,
        node: NodeId,
        operands: &[NodeId],
        t: &mut TrainingForm<'_, '_>,
    ) -> Result<Option<NodeId>, String> {
        self.training(node, operands, t)
    }
}

/// A fused convolution's label: `word: activation(conv2d(x, filter,
/// attributes..) + bias)`, as DOT shows a dense node's.
fn fused_label(
    word: &str,
    operands: &[String],
    attributes: &[String],
    bias: bool,
    activation: Option<Unary>,
) -> String {
    let operand = |i: usize| operands.get(i).map_or("?", String::as_str);
    let mut arguments = vec![operand(0).to_string(), operand(1).to_string()];
    arguments.extend(attributes.iter().cloned());
    let mut formula = call("conv2d", &arguments);
    if bias {
        formula = format!("{formula} + {}", operand(2));
    }
    if let Some(activation) = activation {
        formula = activation.label_over(formula);
    }
    format!("{word}: {formula}")
}

mod grad;
mod shape;

use shape::infer;

#[cfg(test)]
mod tests;
