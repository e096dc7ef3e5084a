//! Elementwise ops: functions of one tensor (`relu`, `exp`, …), arithmetic
//! and `maximum`/`minimum` with numpy broadcasting, comparisons giving
//! `bool` masks, `select`, and the fused trees the optimizer builds from
//! them. Each function has one per-element definition in
//! `graph_runtime::scalar`, which the array kernels, the fused closures and
//! the `#[no_std]` path all call, so every path computes the same values.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use super::kernels::{Call, Form, Kernel};
use super::signature::{attr, Attrs, Default, Kind, Param, Signature};
use super::{At, Family};
use crate::emit::bare::Bare;
use crate::emit::{f32_literal, private};
use crate::introspect::Polynomial;
use crate::ir::{Bits, DType, NodeId};
use crate::shape::{broadcast, expect_dtypes, Shape, ShapeError, Typed};

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
}

/// Elementwise functions of one `f32` tensor.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Unary {
    Neg,
    Abs,
    Exp,
    Log,
    Sqrt,
    Square,
    Relu,
    Sigmoid,
    Tanh,
    GeluTanh,
    GeluExact,
    Softplus,
    Pow(Bits),
    LeakyRelu(Bits),
    Clip(Bits, Bits),
    Silu,
    /// `alpha`.
    Elu(Bits),
    /// `alpha`, `beta`.
    HardSigmoid(Bits, Bits),
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

/// The per-element expression of a `Fused` node.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Scalar {
    /// The element of operand `i`.
    Operand(usize),
    Constant(Bits),
    Unary(Unary, Box<Scalar>),
    Binary(Binary, Box<Scalar>, Box<Scalar>),
}

/// Everything about one unary function, in one place.
pub struct UnaryInfo {
    pub word: &'static str,
    /// Its attributes, in signature order, with their values.
    pub params: Vec<(&'static str, f32)>,
    /// Operations per element (see `graph-runtime/src/summary.rs`), and
    /// what they are where the name does not say.
    pub cost: u64,
    pub counted: &'static str,
    /// The `graph_runtime::scalar::Activation` variant applying it in a
    /// dense kernel's epilogue, if the optimizer may fuse it there.
    pub activation: Option<&'static str>,
    /// Its value, where IEEE arithmetic defines it exactly, so constant
    /// folding may compute it at compile time.
    pub exact: Option<fn(f32, &[f32]) -> f32>,
}

impl Unary {
    /// Each function with its default attributes: the list the kernel table
    /// is made from (a test checks it names every callable function).
    pub const ALL: &'static [Unary] = &[
        Unary::Neg,
        Unary::Abs,
        Unary::Exp,
        Unary::Log,
        Unary::Sqrt,
        Unary::Square,
        Unary::Relu,
        Unary::Sigmoid,
        Unary::Tanh,
        Unary::GeluTanh,
        Unary::GeluExact,
        Unary::Softplus,
        Unary::Pow(Bits(0)),
        Unary::LeakyRelu(Bits(0)),
        Unary::Clip(Bits(0), Bits(0)),
        Unary::Silu,
        Unary::Elu(Bits(0)),
        Unary::HardSigmoid(Bits(0), Bits(0)),
    ];

    pub fn info(self) -> UnaryInfo {
        let info = |word, cost, activation| UnaryInfo {
            word,
            params: Vec::new(),
            cost,
            counted: "",
            activation,
            exact: None,
        };
        match self {
            Unary::Neg => UnaryInfo {
                exact: Some(|x, _| -x),
                ..info("neg", 1, None)
            },
            Unary::Abs => UnaryInfo {
                exact: Some(|x, _| x.abs()),
                ..info("abs", 1, None)
            },
            Unary::Exp => info("exp", 1, None),
            Unary::Log => info("log", 1, None),
            Unary::Sqrt => info("sqrt", 1, None),
            Unary::Square => UnaryInfo {
                exact: Some(|x, _| x * x),
                ..info("square", 1, None)
            },
            Unary::Relu => UnaryInfo {
                exact: Some(|x, _| if x < 0.0 { 0.0 } else { x }),
                ..info("relu", 1, Some("Relu"))
            },
            Unary::Sigmoid => UnaryInfo {
                counted: "(`1 / (1 + e^-x)`)",
                ..info("sigmoid", 4, Some("Sigmoid"))
            },
            Unary::Tanh => info("tanh", 1, Some("Tanh")),
            Unary::GeluTanh => UnaryInfo {
                counted: "(`0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`)",
                ..info("gelu_tanh", 9, Some("GeluTanh"))
            },
            Unary::GeluExact => UnaryInfo {
                counted: "(`0.5·x·(1 + erf(x/√2))`)",
                ..info("gelu_exact", 5, Some("GeluExact"))
            },
            Unary::Softplus => UnaryInfo {
                counted: "(`ln(1 + e^x)`)",
                ..info("softplus", 3, Some("Softplus"))
            },
            Unary::Pow(p) => UnaryInfo {
                params: vec![("p", p.get())],
                ..info("pow", 1, None)
            },
            Unary::LeakyRelu(alpha) => UnaryInfo {
                params: vec![("alpha", alpha.get())],
                exact: Some(|x, params| if x < 0.0 { params[0] * x } else { x }),
                counted: "(compare, scale)",
                ..info("leaky_relu", 2, Some("LeakyRelu"))
            },
            Unary::Clip(lo, hi) => UnaryInfo {
                params: vec![("lo", lo.get()), ("hi", hi.get())],
                counted: "(max, min)",
                ..info("clip", 2, Some("Clip"))
            },
            Unary::Silu => UnaryInfo {
                counted: "(`x·sigmoid(x)`: sigmoid's 4, multiply)",
                ..info("silu", 5, Some("Silu"))
            },
            Unary::Elu(alpha) => UnaryInfo {
                params: vec![("alpha", alpha.get())],
                counted: "(compare, then `α·(e^x − 1)`: exp, subtract, scale)",
                ..info("elu", 4, Some("Elu"))
            },
            Unary::HardSigmoid(alpha, beta) => UnaryInfo {
                params: vec![("alpha", alpha.get()), ("beta", beta.get())],
                counted: "(`α·x + β`: multiply, add; then max, min)",
                ..info("hard_sigmoid", 4, Some("HardSigmoid"))
            },
        }
    }

    /// Its array kernel (`neg` lives with the arithmetic).
    fn kernel(self) -> Kernel {
        let module = if self == Unary::Neg {
            "elementwise"
        } else {
            "unary"
        };
        Kernel::std(module, self.info().word, &[Form::Into, Form::InPlace])
    }

    /// Its per-element function.
    fn scalar(self) -> Kernel {
        Kernel::scalar(self.info().word)
    }

    /// `f(x, params..)` for one element `x`.
    pub fn apply(self, x: &TokenStream) -> TokenStream {
        let info = self.info();
        let params = info.params.iter().map(|&(_, value)| f32_literal(value));
        self.scalar()
            .call(&std::iter::once(x.clone()).chain(params).collect::<Vec<_>>())
    }

    /// It as a function of one `f32`: the `scalar` function itself, or a
    /// closure passing its attributes.
    pub fn function(self) -> TokenStream {
        if self.info().params.is_empty() {
            self.scalar().path(Form::Value)
        } else {
            let apply = self.apply(&quote! { __v });
            quote! { |__v: f32| #apply }
        }
    }

    /// The dense epilogue applying it: a `scalar::Activation` value, if the
    /// optimizer may fuse it into a matrix product.
    pub fn activation(self) -> Option<TokenStream> {
        let info = self.info();
        let variant = format_ident!("{}", info.activation?);
        let p = private();
        let params = info.params.iter().map(|&(_, value)| f32_literal(value));
        Some(if info.params.is_empty() {
            quote! { #p::scalar::Activation::#variant }
        } else {
            quote! { #p::scalar::Activation::#variant(#(#params),*) }
        })
    }

    /// DOT's `word(x, key=value..)` form of its attributes.
    fn attributes(self) -> Vec<String> {
        self.info()
            .params
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect()
    }
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

const X: &[Param] = &[Param::tensor("x")];
const AB: &[Param] = &[Param::tensor("a"), Param::tensor("b")];

fn unary(op: Unary) -> super::Op {
    super::Op::Elementwise(Elementwise::Unary(op))
}

fn binary(op: Binary) -> super::Op {
    super::Op::Elementwise(Elementwise::Binary(op))
}

fn compare(op: Compare) -> super::Op {
    super::Op::Elementwise(Elementwise::Compare(op))
}

pub static SIGNATURES: &[Signature] = &[
    Signature::new("neg", X, |_| unary(Unary::Neg)),
    Signature::new("abs", X, |_| unary(Unary::Abs)),
    Signature::new("exp", X, |_| unary(Unary::Exp)),
    Signature::new("log", X, |_| unary(Unary::Log)),
    Signature::new("sqrt", X, |_| unary(Unary::Sqrt)),
    Signature::new("square", X, |_| unary(Unary::Square)),
    Signature::new(
        "pow",
        &[
            Param::tensor("x"),
            attr("p", Kind::Float, Default::Required),
        ],
        |a: &Attrs| unary(Unary::Pow(a.float("p"))),
    ),
    Signature::new("relu", X, |_| unary(Unary::Relu)),
    Signature::new(
        "leaky_relu",
        &[
            Param::tensor("x"),
            attr("alpha", Kind::Float, Default::Float(0.2)),
        ],
        |a: &Attrs| unary(Unary::LeakyRelu(a.float("alpha"))),
    ),
    Signature::new("sigmoid", X, |_| unary(Unary::Sigmoid)),
    Signature::new("tanh", X, |_| unary(Unary::Tanh)),
    Signature::new("gelu_tanh", X, |_| unary(Unary::GeluTanh)),
    Signature::new("gelu_exact", X, |_| unary(Unary::GeluExact)),
    Signature::new("softplus", X, |_| unary(Unary::Softplus)),
    Signature::new(
        "clip",
        &[
            Param::tensor("x"),
            attr("lo", Kind::Float, Default::Required),
            attr("hi", Kind::Float, Default::Required),
        ],
        |a: &Attrs| unary(Unary::Clip(a.float("lo"), a.float("hi"))),
    ),
    Signature::new("silu", X, |_| unary(Unary::Silu)),
    Signature::new(
        "elu",
        &[
            Param::tensor("x"),
            attr("alpha", Kind::Float, Default::Float(1.0)),
        ],
        |a: &Attrs| unary(Unary::Elu(a.float("alpha"))),
    ),
    Signature::new(
        "hard_sigmoid",
        &[
            Param::tensor("x"),
            attr("alpha", Kind::Float, Default::Float(0.2)),
            attr("beta", Kind::Float, Default::Float(0.5)),
        ],
        |a: &Attrs| unary(Unary::HardSigmoid(a.float("alpha"), a.float("beta"))),
    ),
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
    unary(Unary::Neg)
}

/// Most operands a fused node takes: the runtime's `map1` … `map5`.
pub const MAX_FUSED_OPERANDS: usize = 5;

/// Every kernel the family emits.
pub fn kernels() -> Vec<Kernel> {
    const MAPS: [&str; MAX_FUSED_OPERANDS] = ["map1", "map2", "map3", "map4", "map5"];
    let mut kernels: Vec<Kernel> = Vec::new();
    for &op in Unary::ALL {
        kernels.push(op.kernel());
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
    kernels.extend([FLAT_MAP, FLAT_SELECT]);
    kernels
}

const SELECT: Kernel = Kernel::std("binary", "select", &[Form::Into]);
const FLAT_MAP: Kernel = Kernel::flat("map");
const FLAT_SELECT: Kernel = Kernel::flat("select");

/// The cost conventions of the family, generated from [`UnaryInfo::cost`].
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
pub const FUSED_COST_ROWS: &[(&str, &str)] = &[(
    "`fused`: a tree of elementwise ops, fused by the optimizer",
    "its ops' counts added, per out",
)];

impl Elementwise {
    /// How the op is named in messages: its operator where it has one.
    pub fn symbol(&self) -> &'static str {
        match self {
            Elementwise::Binary(op) => op.symbol(),
            Elementwise::Unary(Unary::Neg) => "-",
            other => other.word(),
        }
    }

    /// The unary function, if this is one.
    pub fn unary(&self) -> Option<Unary> {
        match self {
            Elementwise::Unary(op) => Some(*op),
            _ => None,
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
            Elementwise::Unary(_) | Elementwise::Binary(_) => true,
            Elementwise::Compare(_) | Elementwise::Select | Elementwise::Fused(_) => false,
        }
    }

    /// Whether it has an in-place form: it may overwrite an operand.
    pub fn has_in_place_form(&self) -> bool {
        match self {
            Elementwise::Unary(_) | Elementwise::Binary(_) | Elementwise::Fused(_) => true,
            Elementwise::Compare(_) | Elementwise::Select => false,
        }
    }

    /// Whether the op is `+ - * /` or negation, which on scalars is plain
    /// Rust arithmetic ([`Elementwise::scalar_arithmetic`]).
    pub fn is_arithmetic(&self) -> bool {
        match self {
            Elementwise::Binary(op) => op.operator().is_some(),
            Elementwise::Unary(op) => *op == Unary::Neg,
            Elementwise::Compare(_) | Elementwise::Select | Elementwise::Fused(_) => false,
        }
    }

    /// On scalar operands, the plain Rust expression computing the op from
    /// its operands' locals (`a + b`, `-a`), for `+ - * /` and negation.
    pub fn scalar_arithmetic(&self, operands: &[Ident]) -> Option<TokenStream> {
        match (self, operands) {
            (Elementwise::Binary(op), [a, b]) => {
                let operator = op.operator()?;
                Some(quote! { #a #operator #b })
            }
            (Elementwise::Unary(Unary::Neg), [a]) => Some(quote! { -#a }),
            _ => None,
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
            _ => None,
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
            _ => None,
        }
    }

    /// The `std` statement computing the op over `destination` (the buffer
    /// of operand `target`, or a variable), reading the other operands:
    ///
    /// ```text
    /// kernels::unary::relu_inplace(__ws.s0.out([n, 4]));           // relu(h), h in s0
    /// kernels::elementwise::sub_inplace(__ws.s1.out([n, 4]), b.view());
    /// kernels::fused::map3_inplace(self.w.view_mut(), ndarray::aview0(&lr), g.view(),
    ///     |__e0, __e1, __e2| (__e0 - (__e1 * __e2)));                // w = w - lr * g
    /// ```
    ///
    /// A unary op, or `+ - * /` overwriting its left operand, uses the op's
    /// own `_inplace` kernel; anything else (a fused tree, the right operand,
    /// both operands, `maximum`) a `fused::mapN_inplace`, whose closure takes
    /// the overwritten operand's element first. `operand(i)` is operand
    /// `i`'s view; `None` for an op without an in-place form.
    pub fn emit_in_place(
        &self,
        at: At<'_>,
        target: NodeId,
        destination: TokenStream,
        operand: &dyn Fn(NodeId) -> TokenStream,
    ) -> Option<TokenStream> {
        let operands = &at.node().operands;
        let (kernel, args) = match self {
            Elementwise::Unary(op) => {
                let params = op.info().params.into_iter().map(|(_, v)| f32_literal(v));
                (
                    op.kernel(),
                    std::iter::once(destination).chain(params).collect(),
                )
            }
            Elementwise::Binary(op)
                if op.operator().is_some() && operands[0] == target && operands[1] != target =>
            {
                (op.kernel(), vec![destination, operand(operands[1])])
            }
            Elementwise::Binary(op) => {
                // A tree of one node over the op's distinct operands.
                let mut leaves = operands.clone();
                leaves.dedup();
                let leaf = |o: NodeId| {
                    let position = leaves.iter().position(|&l| l == o).unwrap_or(0);
                    Box::new(Scalar::Operand(position))
                };
                let expression = Scalar::Binary(*op, leaf(operands[0]), leaf(operands[1]));
                return Some(fused_in_place(
                    &expression,
                    &leaves,
                    target,
                    destination,
                    operand,
                ));
            }
            Elementwise::Fused(expression) => {
                return Some(fused_in_place(
                    expression,
                    operands,
                    target,
                    destination,
                    operand,
                ));
            }
            Elementwise::Compare(_) | Elementwise::Select => return None,
        };
        let path = kernel.path(Form::InPlace);
        Some(quote! { #path(#(#args),*) })
    }
}

/// `mapN_inplace(target, others.., |__e<target>, __e<others>..| expression)`:
/// the fused expression over its `leaves`, written over leaf `target`.
fn fused_in_place(
    expression: &Scalar,
    leaves: &[NodeId],
    target: NodeId,
    destination: TokenStream,
    operand: &dyn Fn(NodeId) -> TokenStream,
) -> TokenStream {
    let position = leaves.iter().position(|&l| l == target).unwrap_or(0);
    let others = (0..leaves.len()).filter(|&i| i != position);
    let params: Vec<Ident> = std::iter::once(position)
        .chain(others.clone())
        .map(|i| format_ident!("__e{}", i))
        .collect();
    let mut args = vec![destination];
    args.extend(others.map(|i| operand(leaves[i])));
    let body = scalar_expression(expression);
    let kernel = Kernel::std("fused", map_name(leaves.len()), &[Form::InPlace]);
    let path = kernel.path(Form::InPlace);
    quote! { #path(#(#args,)* |#(#params),*| #body) }
}

fn map_name(operands: usize) -> &'static str {
    match operands {
        1 => "map1",
        2 => "map2",
        3 => "map3",
        4 => "map4",
        _ => "map5",
    }
}

/// The Rust expression of one element of a fused tree, over the closure
/// parameters `__e<i>`. Functions come from `graph_runtime::scalar`, which
/// the array kernels use too, so fused and unfused graphs compute the same
/// values.
pub fn scalar_expression(expression: &Scalar) -> TokenStream {
    match expression {
        Scalar::Operand(i) => {
            let name = format_ident!("__e{}", i);
            quote! { #name }
        }
        Scalar::Constant(value) => f32_literal(value.get()),
        Scalar::Binary(op, left, right) => {
            let (l, r) = (scalar_expression(left), scalar_expression(right));
            match op.operator() {
                Some(operator) => quote! { (#l #operator #r) },
                None => Kernel::scalar(op.word()).call(&[l, r]),
            }
        }
        Scalar::Unary(Unary::Neg, operand) => {
            let x = scalar_expression(operand);
            quote! { (-#x) }
        }
        Scalar::Unary(op, operand) => op.apply(&scalar_expression(operand)),
    }
}

/// A fused node's per-element formula, written as the graph language
/// would: operands by name, `+ - * /` infix with parentheses around nested
/// operations, other ops as calls.
fn formula(expression: &Scalar, operands: &[String], top: bool) -> String {
    let text = match expression {
        Scalar::Operand(i) => return operands.get(*i).cloned().unwrap_or_else(|| format!("#{i}")),
        Scalar::Constant(value) => return value.get().to_string(),
        Scalar::Unary(Unary::Neg, x) => return format!("-{}", formula(x, operands, false)),
        Scalar::Unary(op, x) => {
            let x = formula(x, operands, true);
            let attributes = op.attributes();
            let word = op.info().word;
            return if attributes.is_empty() {
                format!("{word}({x})")
            } else {
                format!("{word}({x}, {})", attributes.join(", "))
            };
        }
        Scalar::Binary(op @ (Binary::Maximum | Binary::Minimum), a, b) => {
            return format!(
                "{}({}, {})",
                op.word(),
                formula(a, operands, true),
                formula(b, operands, true)
            );
        }
        Scalar::Binary(op @ (Binary::Add | Binary::Sub | Binary::Mul | Binary::Div), a, b) => {
            format!(
                "{} {} {}",
                formula(a, operands, false),
                op.symbol(),
                formula(b, operands, false)
            )
        }
    };
    if top {
        text
    } else {
        format!("({text})")
    }
}

/// Operations per element of a fused expression: those of its ops, so
/// fusing changes no count (beyond computing at the result's shape).
fn scalar_cost(expression: &Scalar) -> u64 {
    match expression {
        Scalar::Operand(_) | Scalar::Constant(_) => 0,
        Scalar::Unary(op, x) => op.info().cost.saturating_add(scalar_cost(x)),
        Scalar::Binary(_, a, b) => 1_u64
            .saturating_add(scalar_cost(a))
            .saturating_add(scalar_cost(b)),
    }
}

/// `match` over every `scalar::Activation` of the runtime, one arm per
/// activation the dense fusion knows (and `Identity`): the kernel table's
/// check that the two lists agree.
pub fn activation_match() -> TokenStream {
    let p = private();
    let arms = Unary::ALL.iter().filter_map(|op| {
        let info = op.info();
        let variant = format_ident!("{}", info.activation?);
        Some(if info.params.is_empty() {
            quote! { #p::scalar::Activation::#variant => {} }
        } else {
            quote! { #p::scalar::Activation::#variant(..) => {} }
        })
    });
    quote! {
        /// Whether the macro knows an activation of the runtime (it knows
        /// them all, or this does not compile).
        pub fn known_activation(activation: #p::scalar::Activation) {
            match activation {
                #p::scalar::Activation::Identity => {}
                #(#arms)*
            }
        }
    }
}

impl Family for Elementwise {
    fn word(&self) -> &'static str {
        match self {
            Elementwise::Unary(op) => op.info().word,
            Elementwise::Binary(op) => op.word(),
            Elementwise::Compare(op) => op.word(),
            Elementwise::Select => "select",
            Elementwise::Fused(_) => "fused",
        }
    }

    fn infer(&self, operands: &[Typed<'_>]) -> Result<(Shape, DType), ShapeError> {
        use DType::{Bool, F32};
        let shape = |i: usize| operands[i].0;
        match self {
            Elementwise::Unary(_) => {
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
            Elementwise::Unary(op) => out.scale(op.info().cost),
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
            Elementwise::Fused(expression) => {
                let params: Vec<Ident> = (0..operands.len())
                    .map(|i| format_ident!("__e{}", i))
                    .collect();
                let body = scalar_expression(expression);
                let kernel = Kernel::std("fused", map_name(params.len()), &[Form::Into]);
                operands.push(quote! { |#(#params),*| #body });
                Call::new(kernel, operands)
            }
        }
    }

    fn bare_support(&self, _at: At<'_>) -> bool {
        true
    }

    fn emit_bare(&self, bare: &Bare<'_>) -> TokenStream {
        let operand = |i: usize| Box::new(Scalar::Operand(i));
        match self {
            Elementwise::Unary(op) => bare.map(&Scalar::Unary(*op, operand(0))),
            Elementwise::Binary(op) => bare.map(&Scalar::Binary(*op, operand(0), operand(1))),
            Elementwise::Fused(expression) => bare.map(expression),
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_callable_unary_is_in_the_kernel_list() {
        for signature in SIGNATURES {
            let op = (signature.build)(&Attrs::empty());
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
