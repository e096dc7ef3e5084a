//! Phase 1, syntax: the tokens of a `graph!` call into [`GraphSyntax`].
//!
//! Expressions are read with syn's Rust expression grammar and then narrowed to
//! the small [`Expr`] language the graph understands, so later phases never
//! look at syn trees. Nothing semantic happens here: names are not resolved and
//! shapes are not checked.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{bracketed, Attribute, Ident, LitFloat, LitInt, Token, Visibility};

use crate::diag::{Code, Diagnostics, SpanRange};
use crate::ir::DType;

mod tokens;

mod kw {
    syn::custom_keyword!(input);
    syn::custom_keyword!(var);
    syn::custom_keyword!(output);
    syn::custom_keyword!(step);
}

/// A whole `graph!` invocation: one struct-like item.
pub struct GraphSyntax {
    /// Attributes on the item, doc comments included; copied to the struct.
    pub attrs: Vec<Attribute>,
    /// `#[weights("file.safetensors")]`: bake the variables in at build time.
    pub weights: Option<syn::LitStr>,
    /// `#[onnx("model.onnx", ..)]`: the declarations come from an ONNX
    /// model (`import.rs`), before those of the body, if any.
    pub onnx: Option<OnnxSyntax>,
    /// `#[no_std]`: emit fixed-size arrays and slice kernels, for crates
    /// without `std` or an allocator.
    pub no_std: Option<proc_macro2::Span>,
    /// `#[optimize(off)]`: no rewrite of the graph and no shared or in-place
    /// storage, each node computed as written (the reference the optimizer's
    /// results are tested against).
    pub optimize: bool,
    /// `#[budget(workspace = "64 KiB")]`: memory limits, see `budget.rs`.
    pub budget: Vec<Attribute>,
    pub vis: Visibility,
    pub name: Ident,
    pub decls: Vec<Decl>,
}

/// `#[onnx("model.onnx", weights = runtime, batch = 1)]`.
pub struct OnnxSyntax {
    /// The file, relative to the using crate's manifest directory.
    pub file: syn::LitStr,
    /// `weights = runtime`: the initializers stay variables, loaded at run
    /// time; by default they are baked in.
    pub runtime_weights: bool,
    /// `name = size`: a symbolic dim of the file fixed to a size.
    pub fixed: Vec<(String, usize)>,
    /// The whole attribute, for errors about the model.
    pub span: SpanRange,
}

/// One `;`-terminated declaration inside the graph body.
pub struct Decl {
    /// The declaration's doc comments (`#[doc = ..]`).
    pub attrs: Vec<Attribute>,
    /// Its other attributes, which a declaration cannot take (`#[cfg(..)]`
    /// cannot remove a node from the graph): each reported by `lower`.
    pub rejected: Vec<Attribute>,
    pub kind: DeclKind,
    pub name: Ident,
    /// The `: [..]` annotation, if written.
    pub shape: Option<ShapeSyntax>,
    /// The `= ..` part: required for `const`, `let`, `output` and assignments.
    pub value: Option<Expr>,
    /// An input's element type, from `as usize` (default `f32`).
    pub dtype: Option<DType>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum DeclKind {
    Input,
    Var,
    Const,
    Let,
    Output,
    /// `name = expr;`: an update of a variable.
    Assign,
    /// `step name = minimize(loss, optimizer(..));`: a training step.
    Step,
}

impl DeclKind {
    /// How error messages call a declaration of this kind.
    pub fn noun(self) -> &'static str {
        match self {
            DeclKind::Input => "input",
            DeclKind::Var => "variable",
            DeclKind::Const => "constant",
            DeclKind::Let => "binding",
            DeclKind::Output => "output",
            DeclKind::Assign => "assignment",
            DeclKind::Step => "training step",
        }
    }
}

/// A shape annotation such as `[n, 784]`.
#[derive(Clone)]
pub struct ShapeSyntax {
    pub dims: Vec<DimSyntax>,
    pub span: SpanRange,
}

#[derive(Clone)]
pub enum DimSyntax {
    Fixed(usize),
    Symbol(Ident),
}

/// The expression language of the graph body.
#[derive(Clone)]
pub enum Expr {
    /// A reference to a declared name.
    Name(Ident),
    /// A numeric literal: a scalar `f32` as a value, or an integer where an
    /// op attribute wants one (`axis = -1`).
    Number(Number, SpanRange),
    /// `true` or `false`, only meaningful as an op attribute.
    Bool(bool, SpanRange),
    /// A string literal, read only as an op argument so that the error can
    /// say what the attribute takes instead (`padding = "SAME"`).
    Str(String, SpanRange),
    /// A nested array literal such as `[[1.0, 2.0], [3.0, 4.0]]`.
    Array(Vec<Expr>, SpanRange),
    Binary(BinaryOp, Box<Expr>, Box<Expr>, SpanRange),
    Neg(Box<Expr>, SpanRange),
    /// `op(a, b)` or `a.op(b)`, normalised to the call form.
    Call(Ident, Vec<Arg>, SpanRange),
}

/// A numeric literal as written: its `f32` value, and its integer value if it
/// was written without a fraction or exponent.
#[derive(Clone, Copy, Debug)]
pub struct Number {
    pub value: f32,
    pub integer: Option<i64>,
}

/// An argument of an op call: positional, or named as `axis = 1`.
#[derive(Clone)]
pub struct Arg {
    pub name: Option<Ident>,
    pub value: Expr,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
}

impl Expr {
    pub fn span(&self) -> SpanRange {
        match self {
            Expr::Name(ident) => SpanRange::single(ident.span()),
            Expr::Number(_, span)
            | Expr::Bool(_, span)
            | Expr::Str(_, span)
            | Expr::Array(_, span)
            | Expr::Binary(_, _, _, span)
            | Expr::Neg(_, span)
            | Expr::Call(_, _, span) => *span,
        }
    }
}

impl Parse for GraphSyntax {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut attrs = input.call(Attribute::parse_outer)?;
        let mut weights = None;
        for attr in attrs.extract_if(.., |attr| attr.path().is_ident("weights")) {
            let file: syn::LitStr = attr.parse_args().map_err(|_| {
                SpanRange::of(&attr).error(
                    Code::GraphAttribute,
                    "expected `#[weights(\"path/to/file.safetensors\")]`",
                )
            })?;
            if weights.replace(file).is_some() {
                return Err(SpanRange::of(&attr).error(
                    Code::GraphAttribute,
                    "a graph takes one `#[weights(..)]` file",
                ));
            }
        }
        let onnx = take_onnx(&mut attrs, weights.as_ref())?;
        let mut no_std = None;
        for attr in attrs.extract_if(.., |attr| attr.path().is_ident("no_std")) {
            if !matches!(attr.meta, syn::Meta::Path(_)) {
                return Err(SpanRange::of(&attr)
                    .error(Code::GraphAttribute, "`#[no_std]` takes no arguments"));
            }
            no_std = Some(attr.path().require_ident()?.span());
        }
        let mut optimize = None;
        for attr in attrs.extract_if(.., |attr| attr.path().is_ident("optimize")) {
            let switch = attr.parse_args::<Ident>().map_err(|_| {
                SpanRange::of(&attr).error(
                    Code::GraphAttribute,
                    "expected `#[optimize(off)]` or `#[optimize(on)]` (the default)",
                )
            })?;
            let on = match switch.to_string().as_str() {
                "on" => true,
                "off" => false,
                other => {
                    return Err(SpanRange::single(switch.span()).error(Code::GraphAttribute, format!(
                        "`{other}` is not a setting of `#[optimize(..)]`: write `off` (or `on`, the default)"
                    )))
                }
            };
            if optimize.replace(on).is_some() {
                return Err(SpanRange::of(&attr).error(
                    Code::GraphAttribute,
                    "a graph takes one `#[optimize(..)]` attribute",
                ));
            }
        }
        let optimize = optimize.unwrap_or(true);
        // Read with the other errors, by `budget::read`.
        let budget = attrs
            .extract_if(.., |attr| attr.path().is_ident("budget"))
            .collect();
        let vis: Visibility = input.parse()?;
        if !input.peek(Token![struct]) {
            return Err(SpanRange::single(input.span()).error(Code::Syntax,
                "expected `struct`: a graph is written as `struct Name { ... }`, optionally with `pub`",
            ));
        }
        input.parse::<Token![struct]>()?;
        let name: Ident = input.parse()?;
        if input.peek(Token![<]) {
            let generics: syn::Generics = input.parse()?;
            return Err(SpanRange::of(&generics).error(
                Code::Generics,
                "a graph takes no generic parameters: its element types are fixed (`f32`, or \
                 `usize` for an input declared `as usize`), and a size known only at run time \
                 is a symbolic dim such as `n` in `input x: [n, 3];`",
            ));
        }
        let mut decls = Vec::new();
        if onnx.is_some() && input.peek(Token![;]) {
            // `struct Net;`: every declaration comes from the model.
            input.parse::<Token![;]>()?;
        } else {
            let body;
            syn::braced!(body in input);
            while !body.is_empty() {
                decls.push(body.parse()?);
            }
        }
        if !input.is_empty() {
            return Err(SpanRange::single(input.span()).error(
                Code::Syntax,
                "unexpected tokens after the graph's closing brace",
            ));
        }
        Ok(GraphSyntax {
            attrs,
            weights,
            onnx,
            no_std,
            optimize,
            budget,
            vis,
            name,
            decls,
        })
    }
}

impl Parse for Decl {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let (attrs, rejected) = input
            .call(Attribute::parse_outer)?
            .into_iter()
            .partition(|attr| attr.path().is_ident("doc"));
        let lookahead = input.lookahead1();
        let kind = if lookahead.peek(kw::input) {
            input.parse::<kw::input>()?;
            DeclKind::Input
        } else if lookahead.peek(kw::var) {
            input.parse::<kw::var>()?;
            DeclKind::Var
        } else if lookahead.peek(Token![const]) {
            input.parse::<Token![const]>()?;
            DeclKind::Const
        } else if lookahead.peek(Token![let]) {
            input.parse::<Token![let]>()?;
            DeclKind::Let
        } else if lookahead.peek(kw::output) {
            input.parse::<kw::output>()?;
            DeclKind::Output
        } else if input.peek(kw::step) && input.peek2(Ident) {
            input.parse::<kw::step>()?;
            DeclKind::Step
        } else if lookahead.peek(Ident) && input.peek2(Token![=]) {
            DeclKind::Assign
        } else {
            return Err(lookahead.error());
        };
        let name: Ident = input.parse()?;
        let shape = if kind != DeclKind::Assign && input.peek(Token![:]) {
            input.parse::<Token![:]>()?;
            Some(input.parse()?)
        } else {
            None
        };
        let dtype = if kind == DeclKind::Input && input.peek(Token![as]) {
            input.parse::<Token![as]>()?;
            let ty: Ident = input.parse()?;
            Some(match ty.to_string().as_str() {
                "f32" => DType::F32,
                "usize" => DType::Usize,
                _ => {
                    return Err(SpanRange::single(ty.span()).error(
                        Code::Declaration,
                        format!("inputs hold `f32` (the default) or `usize` indices, not `{ty}`"),
                    ))
                }
            })
        } else {
            None
        };
        let value = match kind {
            DeclKind::Input | DeclKind::Var => {
                if input.peek(Token![=]) {
                    let eq = input.parse::<Token![=]>()?;
                    return Err(SpanRange::single(eq.span).error(
                        Code::Declaration,
                        format!(
                            "{} `{name}` cannot have a value in the graph: {}",
                            kind.noun(),
                            if kind == DeclKind::Input {
                                "inputs are fed at each run"
                            } else {
                                "variables are given to the constructor"
                            }
                        ),
                    ));
                }
                if shape.is_none() {
                    return Err(SpanRange::single(input.span()).error(
                        Code::Declaration,
                        format!(
                            "expected a shape such as `: [n, 3]` after {} `{name}`",
                            kind.noun()
                        ),
                    ));
                }
                None
            }
            _ => {
                input.parse::<Token![=]>()?;
                let expr: syn::Expr = input.parse()?;
                Some(Expr::from_syn(&expr)?)
            }
        };
        input.parse::<Token![;]>()?;
        Ok(Decl {
            attrs,
            rejected,
            kind,
            name,
            shape,
            value,
            dtype,
        })
    }
}

impl Parse for ShapeSyntax {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let content;
        let brackets = bracketed!(content in input);
        let dims = Punctuated::<DimSyntax, Token![,]>::parse_terminated(&content)?;
        let span = brackets.span;
        Ok(ShapeSyntax {
            dims: dims.into_iter().collect(),
            span: SpanRange::new(span.open(), span.close()),
        })
    }
}

impl Parse for DimSyntax {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.peek(LitInt) {
            let lit: LitInt = input.parse()?;
            let size = lit.base10_parse::<usize>().map_err(|_| {
                SpanRange::single(lit.span())
                    .error(Code::Literal, "dimension does not fit in a `usize`")
            })?;
            Ok(DimSyntax::Fixed(size))
        } else if input.peek(Ident) {
            Ok(DimSyntax::Symbol(input.parse()?))
        } else {
            Err(SpanRange::single(input.span()).error(
                Code::Syntax,
                "expected a dimension: a size such as `784` or a name such as `n`",
            ))
        }
    }
}

impl Expr {
    /// Narrows a syn expression to the graph language, reporting every
    /// construct it does not support.
    fn from_syn(expr: &syn::Expr) -> syn::Result<Expr> {
        let mut diagnostics = Diagnostics::new();
        let lowered = Self::convert(expr, &mut diagnostics);
        diagnostics.finish()?;
        // `convert` only returns `None` after recording an error.
        lowered
            .ok_or_else(|| SpanRange::of(&expr).error(Code::Expression, "unsupported expression"))
    }

    fn convert(expr: &syn::Expr, diagnostics: &mut Diagnostics) -> Option<Expr> {
        let span = SpanRange::of(expr);
        match expr {
            syn::Expr::Path(path) if path.qself.is_none() && path.attrs.is_empty() => {
                if let Some(ident) = path.path.get_ident() {
                    Some(Expr::Name(ident.clone()))
                } else {
                    diagnostics.push(span.error(
                        Code::Expression,
                        "expected a name declared in this graph, not a path",
                    ));
                    None
                }
            }
            syn::Expr::Lit(lit) => literal(&lit.lit, span, diagnostics),
            syn::Expr::Paren(inner) => Self::convert(&inner.expr, diagnostics),
            syn::Expr::Group(inner) => Self::convert(&inner.expr, diagnostics),
            syn::Expr::Unary(unary) => {
                if let syn::UnOp::Neg(_) = unary.op {
                    Some(match Self::convert(&unary.expr, diagnostics)? {
                        Expr::Number(number, _) => Expr::Number(
                            Number {
                                value: -number.value,
                                integer: number.integer.and_then(i64::checked_neg),
                            },
                            span,
                        ),
                        other => Expr::Neg(Box::new(other), span),
                    })
                } else {
                    diagnostics.push(unsupported_unary(unary, span));
                    None
                }
            }
            syn::Expr::Binary(binary) => Self::binary(binary, span, diagnostics),
            syn::Expr::Call(call) => {
                let callee = match &*call.func {
                    syn::Expr::Path(path) if path.qself.is_none() => path.path.get_ident(),
                    _ => None,
                };
                let args = Self::convert_args(call.args.iter(), diagnostics);
                let Some(op) = callee else {
                    diagnostics.push(SpanRange::of(&call.func).error(
                        Code::Expression,
                        "expected the name of an op, such as `matmul`",
                    ));
                    return None;
                };
                Some(Expr::Call(op.clone(), args?, span))
            }
            syn::Expr::MethodCall(call) => {
                if let Some(turbofish) = &call.turbofish {
                    diagnostics.push(
                        SpanRange::of(turbofish)
                            .error(Code::Expression, "ops take no type arguments"),
                    );
                }
                let receiver = Self::convert(&call.receiver, diagnostics);
                let args = Self::convert_args(call.args.iter(), diagnostics);
                let mut all = vec![Arg {
                    name: None,
                    value: receiver?,
                }];
                all.extend(args?);
                Some(Expr::Call(call.method.clone(), all, span))
            }
            syn::Expr::Array(array) => {
                let elements = Self::convert_all(array.elems.iter(), diagnostics)?;
                Some(Expr::Array(elements, span))
            }
            other => {
                diagnostics.push(span.error(
                    Code::Expression,
                    format!(
                    "unsupported expression `{}`: a graph expression is built from names, numbers, \
                     array literals, `+ - * /`, unary `-`, parentheses and op calls",
                    other.to_token_stream()
                ),
                ));
                None
            }
        }
    }

    fn binary(
        binary: &syn::ExprBinary,
        span: SpanRange,
        diagnostics: &mut Diagnostics,
    ) -> Option<Expr> {
        let op = match binary.op {
            syn::BinOp::Add(_) => Some(BinaryOp::Add),
            syn::BinOp::Sub(_) => Some(BinaryOp::Sub),
            syn::BinOp::Mul(_) => Some(BinaryOp::Mul),
            syn::BinOp::Div(_) => Some(BinaryOp::Div),
            _ => None,
        };
        // Convert both sides first, so their own errors are reported too.
        let left = Self::convert(&binary.left, diagnostics);
        let right = Self::convert(&binary.right, diagnostics);
        let Some(op) = op else {
            diagnostics.push(unsupported_binary(binary));
            return None;
        };
        Some(Expr::Binary(op, Box::new(left?), Box::new(right?), span))
    }

    /// Converts call arguments, reading `name = value` as a named argument.
    fn convert_args<'a>(
        args: impl Iterator<Item = &'a syn::Expr>,
        diagnostics: &mut Diagnostics,
    ) -> Option<Vec<Arg>> {
        let converted: Vec<Option<Arg>> = args
            .map(|arg| {
                if let syn::Expr::Assign(assign) = arg {
                    let name = match &*assign.left {
                        syn::Expr::Path(path) if path.qself.is_none() => {
                            path.path.get_ident().cloned()
                        }
                        _ => None,
                    };
                    let value = Self::argument(&assign.right, diagnostics);
                    let Some(name) = name else {
                        diagnostics.push(SpanRange::of(&assign.left).error(
                            Code::Expression,
                            "expected an argument name, as in `axis = 1`",
                        ));
                        return None;
                    };
                    Some(Arg {
                        name: Some(name),
                        value: value?,
                    })
                } else {
                    Some(Arg {
                        name: None,
                        value: Self::argument(arg, diagnostics)?,
                    })
                }
            })
            .collect();
        converted.into_iter().collect()
    }

    /// Converts an op argument: a graph expression, or a string literal,
    /// which no attribute takes but whose error `signature` phrases with
    /// the parameter in view.
    fn argument(expr: &syn::Expr, diagnostics: &mut Diagnostics) -> Option<Expr> {
        match expr {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(text),
                ..
            }) => Some(Expr::Str(text.value(), SpanRange::of(expr))),
            _ => Self::convert(expr, diagnostics),
        }
    }

    fn convert_all<'a>(
        exprs: impl Iterator<Item = &'a syn::Expr>,
        diagnostics: &mut Diagnostics,
    ) -> Option<Vec<Expr>> {
        // Convert every element, so each unsupported one is reported.
        let converted: Vec<Option<Expr>> = exprs.map(|e| Self::convert(e, diagnostics)).collect();
        converted.into_iter().collect()
    }
}

fn unsupported_operator(op: &impl ToTokens, span: SpanRange) -> syn::Error {
    span.error(
        Code::Operator,
        format!(
            "unsupported operator `{}`: a graph has `+ - * /`, unary `-` and named ops",
            op.to_token_stream()
        ),
    )
}

/// The error for a prefix operator the graph language lacks. Python's power
/// `x ** 2.0` reads in Rust as `x * (*2.0)`: the `*` of a dereference.
fn unsupported_unary(unary: &syn::ExprUnary, span: SpanRange) -> syn::Error {
    match unary.op {
        syn::UnOp::Deref(star) => SpanRange::single(star.span).error(
            Code::Operator,
            "unsupported operator `*` (a dereference): a graph has no `**`; write a power as \
             `pow(x, 2.0)` or `square(x)`",
        ),
        _ => unsupported_operator(&unary.op, span),
    }
}

/// The error for a binary operator the graph language lacks, naming the op
/// that does the same where there is one (`x > 0.0` is `gt(x, 0.0)`).
fn unsupported_binary(binary: &syn::ExprBinary) -> syn::Error {
    const NOT_EQUAL: &str = "unsupported operator `!=`: comparisons are named ops in a graph, \
                             and it has `eq(a, b)` but no \"not equal\"; swap the branches of \
                             the `select` it feeds";
    const REMAINDER: &str = "unsupported operator `%`: a graph has no remainder; it has \
                             `+ - * /`, unary `-` and named ops";
    let span = SpanRange::of(&binary.op);
    let op = match binary.op {
        syn::BinOp::Gt(_) => "gt",
        syn::BinOp::Ge(_) => "ge",
        syn::BinOp::Lt(_) => "lt",
        syn::BinOp::Le(_) => "le",
        syn::BinOp::Eq(_) => "eq",
        syn::BinOp::Ne(_) => return span.error(Code::Operator, NOT_EQUAL),
        syn::BinOp::Rem(_) => return span.error(Code::Operator, REMAINDER),
        _ => return unsupported_operator(&binary.op, span),
    };
    // Operands that are a name or a number are shown as written; anything
    // longer would print with token spacing (`matmul (x , w)`).
    let written = |expr: &syn::Expr, placeholder: &str| match expr {
        syn::Expr::Path(_) | syn::Expr::Lit(_) => expr.to_token_stream().to_string(),
        syn::Expr::Unary(syn::ExprUnary {
            op: syn::UnOp::Neg(_),
            expr: operand,
            ..
        }) if matches!(**operand, syn::Expr::Lit(_) | syn::Expr::Path(_)) => {
            format!("-{}", operand.to_token_stream())
        }
        _ => placeholder.to_string(),
    };
    span.error(
        Code::Operator,
        format!(
            "unsupported operator `{}`: comparisons are named ops in a graph; write `{op}({}, {})`",
            binary.op.to_token_stream(),
            written(&binary.left, "a"),
            written(&binary.right, "b")
        ),
    )
}

fn literal(lit: &syn::Lit, span: SpanRange, diagnostics: &mut Diagnostics) -> Option<Expr> {
    match lit {
        syn::Lit::Float(float) => number(float, span, diagnostics),
        syn::Lit::Int(int) if int.suffix().is_empty() => {
            let integer = int.base10_parse::<i64>().ok();
            let value = finite(int.base10_parse::<f32>(), span, diagnostics)?;
            Some(Expr::Number(Number { value, integer }, span))
        }
        syn::Lit::Bool(boolean) => Some(Expr::Bool(boolean.value, span)),
        syn::Lit::Int(_) => {
            diagnostics.push(span.error(
                Code::Literal,
                "numeric literals in a graph are `f32` and take no suffix",
            ));
            None
        }
        syn::Lit::Str(_) => {
            diagnostics.push(span.error(Code::Literal, NO_STRINGS));
            None
        }
        _ => {
            diagnostics.push(span.error(Code::Literal, "expected a numeric literal"));
            None
        }
    }
}

/// The error for a string literal where a value is expected.
pub const NO_STRINGS: &str = "a graph has no strings: its values are numbers and arrays of \
                              numbers, and op attributes that name a setting take it bare, \
                              as in `padding = same`";

fn number(float: &LitFloat, span: SpanRange, diagnostics: &mut Diagnostics) -> Option<Expr> {
    if !float.suffix().is_empty() && float.suffix() != "f32" {
        diagnostics.push(span.error(
            Code::Literal,
            format!(
                "numeric literals in a graph are `f32`; remove the `{}` suffix",
                float.suffix()
            ),
        ));
        return None;
    }
    let value = finite(float.base10_parse::<f32>(), span, diagnostics)?;
    Some(Expr::Number(
        Number {
            value,
            integer: None,
        },
        span,
    ))
}

/// A literal parsed straight to `f32` (as rustc rounds it), rejecting values
/// too large for `f32`.
fn finite(parsed: syn::Result<f32>, span: SpanRange, diagnostics: &mut Diagnostics) -> Option<f32> {
    match parsed {
        Ok(value) if value.is_finite() => Some(value),
        Ok(_) => {
            diagnostics.push(span.error(Code::Literal, "literal out of range for `f32`"));
            None
        }
        Err(err) => {
            diagnostics.push(span.error(Code::Literal, err));
            None
        }
    }
}

/// Takes `#[onnx(..)]` off the graph's attributes, if there is one.
fn take_onnx(
    attrs: &mut Vec<Attribute>,
    weights: Option<&syn::LitStr>,
) -> syn::Result<Option<OnnxSyntax>> {
    let mut onnx = None;
    for attr in attrs.extract_if(.., |attr| attr.path().is_ident("onnx")) {
        let parsed = onnx_attribute(&attr)?;
        if onnx.replace(parsed).is_some() {
            return Err(SpanRange::of(&attr).error(
                Code::GraphAttribute,
                "a graph takes one `#[onnx(..)]` model",
            ));
        }
    }
    if let (Some(_), Some(file)) = (&onnx, weights) {
        return Err(SpanRange::single(file.span()).error(
            Code::GraphAttribute,
            "`#[weights(..)]` and `#[onnx(..)]` both give the variables' values; an \
             imported model's weights come from its file (or, with `weights = runtime` \
             in `#[onnx(..)]`, from `from_safetensors` at run time)",
        ));
    }
    Ok(onnx)
}

/// Reads `#[onnx("model.onnx", weights = runtime, batch = 1)]`.
fn onnx_attribute(attr: &Attribute) -> syn::Result<OnnxSyntax> {
    let malformed = || {
        SpanRange::of(attr).error(
            Code::GraphAttribute,
            "expected `#[onnx(\"path/to/model.onnx\")]`, optionally followed by \
             `weights = runtime` and by sizes for the model's symbolic dims (`batch = 1`)",
        )
    };
    let args = attr
        .parse_args_with(Punctuated::<syn::Expr, Token![,]>::parse_terminated)
        .map_err(|_| malformed())?;
    let mut args = args.into_iter();
    let Some(syn::Expr::Lit(syn::ExprLit {
        lit: syn::Lit::Str(file),
        ..
    })) = args.next()
    else {
        return Err(malformed());
    };
    let mut runtime_weights = false;
    let mut fixed = Vec::new();
    for arg in args {
        let syn::Expr::Assign(assign) = &arg else {
            return Err(SpanRange::of(&arg).error(
                Code::GraphAttribute,
                "expected `weights = runtime` or a symbolic dim's size such as `batch = 1`",
            ));
        };
        let key = match &*assign.left {
            syn::Expr::Path(path) => path.path.get_ident().map(ToString::to_string),
            _ => None,
        };
        let Some(key) = key else {
            return Err(SpanRange::of(&assign.left).error(Code::GraphAttribute, "expected a name"));
        };
        match (key.as_str(), &*assign.right) {
            ("weights", syn::Expr::Path(path)) if path.path.is_ident("runtime") => {
                runtime_weights = true;
            }
            ("weights", syn::Expr::Path(path)) if path.path.is_ident("baked") => {
                runtime_weights = false;
            }
            ("weights", other) => {
                return Err(SpanRange::of(other).error(
                    Code::GraphAttribute,
                    "`weights` is `baked` (the default: the model's weights compiled in) or \
                     `runtime` (variables, loaded with `from_safetensors`)",
                ))
            }
            (
                _,
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Int(size),
                    ..
                }),
            ) => {
                let size = size
                    .base10_parse::<usize>()
                    .ok()
                    .filter(|&s| s > 0)
                    .ok_or_else(|| {
                        SpanRange::of(size)
                            .error(Code::GraphAttribute, "a size is an integer of at least 1")
                    })?;
                fixed.push((key, size));
            }
            (_, other) => {
                return Err(SpanRange::of(other).error(
                    Code::GraphAttribute,
                    format!(
                    "`{key} = ..` fixes the model's symbolic dim `{key}`: give it an integer size"
                ),
                ))
            }
        }
    }
    Ok(OnnxSyntax {
        file,
        runtime_weights,
        fixed,
        span: SpanRange::of(attr),
    })
}

/// Parses declarations written by the importer (`import.rs`).
pub fn parse_decls(tokens: TokenStream) -> syn::Result<Vec<Decl>> {
    struct Decls(Vec<Decl>);
    impl Parse for Decls {
        fn parse(input: ParseStream) -> syn::Result<Self> {
            let mut decls = Vec::new();
            while !input.is_empty() {
                decls.push(input.parse()?);
            }
            Ok(Decls(decls))
        }
    }
    syn::parse2::<Decls>(tokens).map(|d| d.0)
}

/// Parses the body of `graph!`.
pub fn parse(tokens: TokenStream) -> syn::Result<GraphSyntax> {
    tokens::check_depth(&tokens)?;
    tokens::check_at_signs(&tokens)?;
    // The errors of syn's own parsers (``expected `;` ``) are syntax errors.
    syn::parse2(tokens).map_err(|error| crate::diag::with_code(error, Code::Syntax))
}
