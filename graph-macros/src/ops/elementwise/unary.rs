//! The unary elementwise functions: one variant, one [`UnaryInfo`] arm and
//! one signature each. Everything else about a function (its kernels, its
//! per-element Rust, its dense epilogue, its cost row) follows from these.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::super::kernels::{Form, Kernel};
use super::super::signature::{attr, Attrs, Default, Kind, Param, Signature};
use super::super::Op;
use super::Elementwise;
use crate::emit::{f32_literal, private};
use crate::ir::Bits;

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
    /// The Gauss error function.
    Erf,
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

/// Everything about one unary function, in one place.
pub struct UnaryInfo {
    pub word: &'static str,
    /// Its attributes, in signature order, with their values.
    pub params: Vec<(&'static str, f32)>,
    /// Operations per element (see `graph-runtime/src/summary.rs`), and
    /// what they are where the name does not say.
    pub cost: u64,
    #[cfg_attr(not(test), allow(dead_code))]
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
        Unary::Erf,
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
            Unary::Erf => info("erf", 1, None),
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
    pub(super) fn kernel(self) -> Kernel {
        let module = if self == Unary::Neg {
            "elementwise"
        } else {
            "unary"
        };
        Kernel::std(module, self.info().word, &[Form::Into, Form::InPlace])
    }

    /// Its per-element function.
    pub(super) fn scalar(self) -> Kernel {
        Kernel::scalar(self.info().word)
    }

    /// The op applied to `argument` in a DOT label, `word(argument,
    /// name=value..)`: the epilogue of a fused product or convolution.
    pub fn label_over(self, argument: String) -> String {
        let info = self.info();
        let mut arguments = vec![argument];
        arguments.extend(
            info.params
                .iter()
                .map(|(name, value)| format!("{name}={value}")),
        );
        crate::dot::call(info.word, &arguments)
    }

    /// `f(x, params..)` for one element `x`.
    pub fn apply(self, x: &TokenStream) -> TokenStream {
        let info = self.info();
        let params = info.params.iter().map(|&(_, value)| f32_literal(value));
        self.scalar()
            .call(&std::iter::once(x.clone()).chain(params).collect::<Vec<_>>())
    }

    /// Its slope `f'(x, params..)` for one element `x`
    /// (`scalar::<name>_slope`).
    pub fn apply_slope(self, x: &TokenStream) -> TokenStream {
        let info = self.info();
        let params = info.params.iter().map(|&(_, value)| f32_literal(value));
        let path = self.slope_kernel().path(Form::Slope);
        let args = std::iter::once(x.clone()).chain(params);
        quote! { #path(#(#args),*) }
    }

    /// Its slope's per-element function, `scalar::<name>_slope`.
    pub(super) fn slope_kernel(self) -> Kernel {
        Kernel {
            forms: &[Form::Slope],
            ..Kernel::scalar(self.info().word)
        }
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
    pub(super) fn attributes(self) -> Vec<String> {
        self.info()
            .params
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect()
    }
}

fn unary(op: Unary) -> Op {
    Op::Elementwise(Elementwise::Unary(op))
}

const X: &[Param] = &[Param::tensor("x")];

/// The functions callable by name, in the order the language reference
/// lists them.
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
    Signature::new("erf", X, |_| unary(Unary::Erf)),
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
];

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
