//! Elementwise ops: functions of one tensor (`relu`, `exp`, …), arithmetic
//! and `maximum`/`minimum` with numpy broadcasting, comparisons giving
//! `bool` masks, `select`, and the fused trees the optimizer builds from
//! them. Each function has one per-element definition in
//! `graph_runtime::scalar`, which the array kernels, the fused closures and
//! the `#[no_std]` path all call, so every path computes the same values.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use super::kernels::{Call, Form, Kernel};
use super::signature::{Param, Signature};
use super::{At, Family};

mod fused;
mod grad;
pub mod unary;

use crate::emit::bare::Bare;
use crate::emit::f32_literal;
use crate::introspect::Polynomial;
use crate::ir::{DType, NodeId};
use crate::shape::{broadcast, expect_dtypes, Shape, ShapeError, Typed};
use crate::train::form::TrainingForm;
use fused::{formula, map_name, scalar_cost};
pub use fused::{scalar_expression, Scalar, MAX_FUSED_OPERANDS};
pub use unary::{activation_match, Unary};

#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Elementwise {
    Unary(Unary),
    Binary(Binary),
    Compare(Compare),
    /// `select(mask, a, b)`: `a` where the mask holds, else `b`.
    Select,
    /// Made by the optimizer, never written: a tree of elementwise ops
    /// computed in one pass over memory, with no temporaries. Its operands
    /// are the tree's leaves, broadcast to the result's shape.
    Fused(Scalar),
    /// Made by the differentiate phase, never written: `f'(x)`, the slope
    /// of a unary function, which a backward pass multiplies by the
    /// incoming gradient.
    Slope(Unary),
}

/// Elementwise functions of two `f32` tensors, with broadcasting.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Binary {
    Add,
    Sub,
    Mul,
    Div,
    Maximum,
    Minimum,
}

/// Elementwise comparisons, with broadcasting, giving a `bool` mask.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Compare {
    Gt,
    Ge,
    Lt,
    Le,
    Eq,
}

impl Binary {
    pub fn word(self) -> &'static str {
        match self {
            Binary::Add => "add",
            Binary::Sub => "sub",
            Binary::Mul => "mul",
            Binary::Div => "div",
            Binary::Maximum => "maximum",
            Binary::Minimum => "minimum",
        }
    }

    /// The Rust operator, for the four that are one.
    fn operator(self) -> Option<TokenStream> {
        match self {
            Binary::Add => Some(quote! { + }),
            Binary::Sub => Some(quote! { - }),
            Binary::Mul => Some(quote! { * }),
            Binary::Div => Some(quote! { / }),
            Binary::Maximum | Binary::Minimum => None,
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            Binary::Add => "+",
            Binary::Sub => "-",
            Binary::Mul => "*",
            Binary::Div => "/",
            Binary::Maximum | Binary::Minimum => self.word(),
        }
    }

    /// Its value: IEEE arithmetic, defined exactly.
    fn exact(self, a: f32, b: f32) -> Option<f32> {
        match self {
            Binary::Add => Some(a + b),
            Binary::Sub => Some(a - b),
            Binary::Mul => Some(a * b),
            Binary::Div => Some(a / b),
            Binary::Maximum | Binary::Minimum => None,
        }
    }

    fn kernel(self) -> Kernel {
        match self {
            Binary::Add | Binary::Sub | Binary::Mul | Binary::Div => {
                Kernel::std("elementwise", self.word(), &[Form::Into, Form::InPlace])
            }
            Binary::Maximum | Binary::Minimum => Kernel::std("binary", self.word(), &[Form::Into]),
        }
    }

    const ALL: &'static [Binary] = &[
        Binary::Add,
        Binary::Sub,
        Binary::Mul,
        Binary::Div,
        Binary::Maximum,
        Binary::Minimum,
    ];
}

impl Compare {
    fn word(self) -> &'static str {
        match self {
            Compare::Gt => "gt",
            Compare::Ge => "ge",
            Compare::Lt => "lt",
            Compare::Le => "le",
            Compare::Eq => "eq",
        }
    }

    fn operator(self) -> TokenStream {
        match self {
            Compare::Gt => quote! { > },
            Compare::Ge => quote! { >= },
            Compare::Lt => quote! { < },
            Compare::Le => quote! { <= },
            Compare::Eq => quote! { == },
        }
    }

    const ALL: &'static [Compare] = &[
        Compare::Gt,
        Compare::Ge,
        Compare::Lt,
        Compare::Le,
        Compare::Eq,
    ];
}

const AB: &[Param] = &[Param::tensor("a"), Param::tensor("b")];

fn binary(op: Binary) -> super::Op {
    super::Op::Elementwise(Elementwise::Binary(op))
}

fn compare(op: Compare) -> super::Op {
    super::Op::Elementwise(Elementwise::Compare(op))
}

/// The family's ops under their names in TensorFlow, numpy or `PyTorch`, each
/// with what to write here: `unknown_op` suggests it.
pub static ALIASES: &[(&str, &str)] = &[
    ("multiply", "mul"),
    ("divide", "div"),
    ("subtract", "sub"),
    ("negative", "neg"),
    ("absolute", "abs"),
    ("power", "pow"),
    ("clip_by_value", "clip"),
    ("clamp", "clip"),
    ("greater", "gt"),
    ("greater_equal", "ge"),
    ("less", "lt"),
    ("less_equal", "le"),
    ("equal", "eq"),
    ("swish", "silu"),
];

pub static SIGNATURES: &[Signature] = &[
    Signature::new("add", AB, |_| binary(Binary::Add)),
    Signature::new("sub", AB, |_| binary(Binary::Sub)),
    Signature::new("mul", AB, |_| binary(Binary::Mul)),
    Signature::new("div", AB, |_| binary(Binary::Div)),
    Signature::new("maximum", AB, |_| binary(Binary::Maximum)),
    Signature::new("minimum", AB, |_| binary(Binary::Minimum)),
    Signature::new("gt", AB, |_| compare(Compare::Gt)),
    Signature::new("ge", AB, |_| compare(Compare::Ge)),
    Signature::new("lt", AB, |_| compare(Compare::Lt)),
    Signature::new("le", AB, |_| compare(Compare::Le)),
    Signature::new("eq", AB, |_| compare(Compare::Eq)),
    Signature::new(
        "select",
        &[
            Param::tensor("mask"),
            Param::tensor("a"),
            Param::tensor("b"),
        ],
        |_| super::Op::Elementwise(Elementwise::Select),
    ),
];

/// The op of an arithmetic operator written in the graph: `+ - * /` between
/// two values.
pub fn operator(symbol: char) -> Option<super::Op> {
    Binary::ALL
        .iter()
        .find(|op| op.symbol().starts_with(symbol) && op.operator().is_some())
        .map(|&op| binary(op))
}

/// The op of unary minus, `-x`.
pub fn negation() -> super::Op {
    super::Op::Elementwise(Elementwise::Unary(Unary::Neg))
}

/// Every kernel the family emits.
pub fn kernels() -> Vec<Kernel> {
    const MAPS: [&str; MAX_FUSED_OPERANDS] = ["map1", "map2", "map3", "map4", "map5"];
    let mut kernels: Vec<Kernel> = Vec::new();
    for &op in Unary::ALL {
        kernels.push(op.kernel());
        kernels.push(op.slope_kernel());
        if op != Unary::Neg {
            kernels.push(op.scalar());
        }
    }
    for &op in Binary::ALL {
        kernels.push(op.kernel());
        if op.operator().is_none() {
            kernels.push(Kernel::scalar(op.word()));
        }
    }
    for &op in Compare::ALL {
        kernels.push(Kernel::std("binary", op.word(), &[Form::Into]));
    }
    kernels.push(SELECT);
    kernels.extend(MAPS.map(|name| Kernel::std("fused", name, &[Form::Into, Form::InPlace])));
    kernels.extend([FLAT_MAP, FLAT_MAP_INPLACE, FLAT_SELECT]);
    kernels
}

const SELECT: Kernel = Kernel::std("binary", "select", &[Form::Into]);
const FLAT_MAP: Kernel = Kernel::flat("map");
/// Written by `Bare::map` for a value computed over an operand's buffer.
const FLAT_MAP_INPLACE: Kernel = Kernel::flat("map_inplace");
const FLAT_SELECT: Kernel = Kernel::flat("select");

/// The cost conventions of the family, generated from [`unary::UnaryInfo`].
#[cfg_attr(not(test), allow(dead_code))]
pub fn cost_rows() -> Vec<(String, String)> {
    let mut rows = vec![(
        "`add`, `sub`, `mul`, `div`, `maximum`, `minimum`, comparisons, `select`".to_string(),
        "1 per out".to_string(),
    )];
    let mut costs: Vec<u64> = Unary::ALL.iter().map(|op| op.info().cost).collect();
    costs.sort_unstable();
    costs.dedup();
    for cost in costs {
        let ops: Vec<String> = Unary::ALL
            .iter()
            .map(|op| op.info())
            .filter(|info| info.cost == cost)
            .map(|info| {
                if info.counted.is_empty() {
                    format!("`{}`", info.word)
                } else {
                    format!("`{}` {}", info.word, info.counted)
                }
            })
            .collect();
        rows.push((ops.join(", "), format!("{cost} per out")));
    }
    rows
}

/// The row for fused trees, last in the table.
#[cfg_attr(not(test), allow(dead_code))]
pub const FUSED_COST_ROWS: &[(&str, &str)] = &[
    (
        "`fused`: a tree of elementwise ops, fused by the optimizer",
        "its ops' counts added, per out",
    ),
    (
        "a function's slope `f'(x)`, made by `grad`",
        "the function's count, per out",
    ),
];

impl Elementwise {
    /// How the op is named in messages: its operator where it has one.
    pub fn symbol(&self) -> &'static str {
        match self {
            Elementwise::Binary(op) => op.symbol(),
            Elementwise::Unary(Unary::Neg) => "-",
            Elementwise::Unary(_)
            | Elementwise::Compare(_)
            | Elementwise::Select
            | Elementwise::Fused(_)
            | Elementwise::Slope(_) => self.word(),
        }
    }

    /// The unary function, if this is one.
    pub fn unary(&self) -> Option<Unary> {
        match self {
            Elementwise::Unary(op) => Some(*op),
            Elementwise::Binary(_)
            | Elementwise::Compare(_)
            | Elementwise::Select
            | Elementwise::Fused(_)
            | Elementwise::Slope(_) => None,
        }
    }

    /// Whether this is `a + b`.
    pub fn is_add(&self) -> bool {
        *self == Elementwise::Binary(Binary::Add)
    }

    /// Whether the op computes one element from the same element of each
    /// operand, so the optimizer may fuse it into a tree and the planner
    /// may compute it over an operand's buffer.
    pub fn is_fusable(&self) -> bool {
        match self {
            Elementwise::Unary(_) | Elementwise::Binary(_) | Elementwise::Slope(_) => true,
            Elementwise::Compare(_) | Elementwise::Select | Elementwise::Fused(_) => false,
        }
    }

    /// Whether it has an in-place form: it may overwrite an operand.
    pub fn has_in_place_form(&self) -> bool {
        match self {
            Elementwise::Unary(_)
            | Elementwise::Binary(_)
            | Elementwise::Fused(_)
            | Elementwise::Slope(_) => true,
            Elementwise::Compare(_) | Elementwise::Select => false,
        }
    }

    /// Whether the op is `+ - * /` or negation, which on scalars is plain
    /// Rust arithmetic ([`Elementwise::scalar_arithmetic`]).
    pub fn is_arithmetic(&self) -> bool {
        match self {
            Elementwise::Binary(op) => op.operator().is_some(),
            Elementwise::Unary(op) => *op == Unary::Neg,
            Elementwise::Compare(_)
            | Elementwise::Select
            | Elementwise::Fused(_)
            | Elementwise::Slope(_) => false,
        }
    }

    /// On scalar operands, the plain Rust expression computing the op from
    /// its operands' locals (`a + b`, `-a`), for `+ - * /` and negation.
    pub fn scalar_arithmetic(&self, operands: &[Ident]) -> Option<TokenStream> {
        if !self.is_arithmetic() {
            return None;
        }
        match (self, operands) {
            (Elementwise::Binary(op), [a, b]) => {
                let operator = op.operator()?;
                Some(quote! { #a #operator #b })
            }
            (Elementwise::Unary(_), [a]) => Some(quote! { -#a }),
            (
                Elementwise::Binary(_)
                | Elementwise::Unary(_)
                | Elementwise::Compare(_)
                | Elementwise::Select
                | Elementwise::Fused(_)
                | Elementwise::Slope(_),
                _,
            ) => None,
        }
    }

    /// The op on constant elements, where its `f32` result is exactly
    /// defined (IEEE arithmetic, sign and comparison-based functions), for
    /// constant folding; `None` where it is not.
    pub fn fold(&self, args: &[f32]) -> Option<f32> {
        match (self, args) {
            (Elementwise::Binary(op), &[a, b]) => op.exact(a, b),
            (Elementwise::Unary(op), &[x]) => {
                let info = op.info();
                let params: Vec<f32> = info.params.iter().map(|&(_, v)| v).collect();
                info.exact.map(|exact| exact(x, &params))
            }
            (
                Elementwise::Binary(_)
                | Elementwise::Unary(_)
                | Elementwise::Compare(_)
                | Elementwise::Select
                | Elementwise::Fused(_)
                | Elementwise::Slope(_),
                _,
            ) => None,
        }
    }

    /// The fused tree of this op over `operands`.
    pub fn as_scalar(&self, mut operands: Vec<Scalar>) -> Option<Scalar> {
        match self {
            Elementwise::Unary(op) if operands.len() == 1 => {
                Some(Scalar::Unary(*op, Box::new(operands.remove(0))))
            }
            Elementwise::Binary(op) if operands.len() == 2 => {
                let right = operands.remove(1);
                let left = operands.remove(0);
                Some(Scalar::Binary(*op, Box::new(left), Box::new(right)))
            }
            Elementwise::Slope(op) if operands.len() == 1 => {
                Some(Scalar::Slope(*op, Box::new(operands.remove(0))))
            }
            Elementwise::Unary(_)
            | Elementwise::Binary(_)
            | Elementwise::Compare(_)
            | Elementwise::Select
            | Elementwise::Fused(_)
            | Elementwise::Slope(_) => None,
        }
    }
}

/// `fused::mapN_into(operands.., |__e0, ..| expression, out)`.
fn fused_call(expression: &Scalar, mut operands: Vec<TokenStream>) -> Call {
    let params: Vec<Ident> = (0..operands.len())
        .map(|i| format_ident!("__e{}", i))
        .collect();
    let body = scalar_expression(expression);
    let kernel = Kernel::std("fused", map_name(params.len()), &[Form::Into]);
    operands.push(quote! { |#(#params),*| #body });
    Call::new(kernel, operands)
}

impl Family for Elementwise {
    fn word(&self) -> &'static str {
        match self {
            Elementwise::Unary(op) => op.info().word,
            Elementwise::Binary(op) => op.word(),
            Elementwise::Compare(op) => op.word(),
            Elementwise::Select => "select",
            Elementwise::Fused(_) => "fused",
            Elementwise::Slope(_) => "slope",
        }
    }

    fn infer(&self, operands: &[Typed<'_>]) -> Result<(Shape, DType), ShapeError> {
        use DType::{Bool, F32};
        let shape = |i: usize| operands[i].0;
        match self {
            Elementwise::Unary(_) | Elementwise::Slope(_) => {
                expect_dtypes(operands, &[F32])?;
                Ok((shape(0).clone(), F32))
            }
            Elementwise::Binary(_) => {
                expect_dtypes(operands, &[F32, F32])?;
                Ok((broadcast(shape(0), shape(1))?, F32))
            }
            Elementwise::Compare(_) => {
                expect_dtypes(operands, &[F32, F32])?;
                Ok((broadcast(shape(0), shape(1))?, Bool))
            }
            Elementwise::Select => {
                expect_dtypes(operands, &[Bool, F32, F32])?;
                let values = broadcast(shape(1), shape(2))?;
                Ok((broadcast(shape(0), &values)?, F32))
            }
            Elementwise::Fused(_) => {
                expect_dtypes(operands, &vec![F32; operands.len()])?;
                let mut result = Shape::default();
                for (operand, _) in operands {
                    result = broadcast(&result, operand)?;
                }
                Ok((result, F32))
            }
        }
    }

    fn flops(&self, at: At<'_>) -> Polynomial {
        let out = Polynomial::product(&at.shape().0);
        match self {
            Elementwise::Unary(op) | Elementwise::Slope(op) => out.scale(op.info().cost),
            Elementwise::Binary(_) | Elementwise::Compare(_) | Elementwise::Select => out,
            Elementwise::Fused(expression) => out.scale(scalar_cost(expression)),
        }
    }

    fn label(&self, word: &str, operands: &[String]) -> String {
        match self {
            Elementwise::Fused(expression) => {
                format!("fused: {}", formula(expression, operands, true))
            }
            Elementwise::Unary(op) => {
                let attributes = op.attributes();
                if attributes.is_empty() {
                    word.to_string()
                } else {
                    format!("{word}({})", attributes.join(", "))
                }
            }
            Elementwise::Slope(op) => {
                let slope = Scalar::Slope(*op, Box::new(Scalar::Operand(0)));
                format!("slope: {}", formula(&slope, operands, true))
            }
            Elementwise::Binary(_) | Elementwise::Compare(_) | Elementwise::Select => {
                word.to_string()
            }
        }
    }

    fn shows_formula(&self) -> bool {
        matches!(self, Elementwise::Fused(_))
    }

    fn emit(&self, _at: At<'_>, mut operands: Vec<TokenStream>) -> Call {
        match self {
            Elementwise::Unary(op) => {
                let info = op.info();
                operands.extend(info.params.iter().map(|&(_, value)| f32_literal(value)));
                Call::new(op.kernel(), operands)
            }
            Elementwise::Binary(op) => Call::new(op.kernel(), operands),
            Elementwise::Compare(op) => {
                Call::new(Kernel::std("binary", op.word(), &[Form::Into]), operands)
            }
            Elementwise::Select => Call::new(SELECT, operands),
            Elementwise::Fused(expression) => fused_call(expression, operands),
            // A slope has no array kernel of its own: one pass of `map1`.
            Elementwise::Slope(op) => {
                fused_call(&Scalar::Slope(*op, Box::new(Scalar::Operand(0))), operands)
            }
        }
    }

    fn bare_support(&self, _at: At<'_>) -> bool {
        true
    }

    fn vjp(
        &self,
        node: crate::ir::NodeId,
        grad: crate::ir::NodeId,
        b: &mut crate::differentiate::Builder<'_>,
    ) -> Result<Vec<Option<crate::ir::NodeId>>, String> {
        self.gradient(node, grad, b)
    }

    fn emit_bare(&self, bare: &Bare<'_>) -> TokenStream {
        let operand = |i: usize| Box::new(Scalar::Operand(i));
        match self {
            Elementwise::Unary(op) => bare.map(&Scalar::Unary(*op, operand(0))),
            Elementwise::Binary(op) => bare.map(&Scalar::Binary(*op, operand(0), operand(1))),
            Elementwise::Fused(expression) => bare.map(expression),
            Elementwise::Slope(op) => bare.map(&Scalar::Slope(*op, operand(0))),
            Elementwise::Compare(op) => {
                let operator = op.operator();
                let pairs = bare.indexed();
                let out = &bare.out;
                let destination = &bare.destination;
                let map = FLAT_MAP.path(Form::Value);
                quote! {
                    #map([#(#pairs),*], &[#(#out),*], #destination,
                        |[__e0, __e1]: [f32; 2]| __e0 #operator __e1)
                }
            }
            Elementwise::Select => {
                let pairs = bare.indexed();
                let out = &bare.out;
                let destination = &bare.destination;
                let select = FLAT_SELECT.path(Form::Value);
                quote! { #select(#(#pairs,)* &[#(#out),*], #destination) }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_callable_unary_is_in_the_kernel_list() {
        for signature in SIGNATURES {
            let op = (signature.build)(&crate::ops::signature::Attrs::empty());
            if let super::super::Op::Elementwise(Elementwise::Unary(op)) = op {
                let word = op.info().word;
                assert!(
                    Unary::ALL.iter().any(|listed| listed.info().word == word),
                    "`{word}` is missing from Unary::ALL"
                );
            }
        }
    }
}
