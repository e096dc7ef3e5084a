//! Signatures: the parameters of every name callable in a graph, and how a
//! call's attributes build an [`Op`]. Each family lists its own signatures
//! (`SIGNATURES` in each family module); this module binds calls to them.
//!
//! A call binds its arguments to the signature's parameters, positionally
//! and then by name (`softmax(x, axis = 0)`). Tensor parameters take graph
//! expressions; attribute parameters take literals (`-1`, `[2, 2]`, `true`,
//! `same`). `resolve` binds to learn which arguments are tensors; `lower`
//! binds again to read the attributes and build the op.

use std::collections::HashMap;

use syn::ext::IdentExt;

use super::Op;
use crate::diag::{closest, Code, SpanRange};
use crate::ir::{Bits, DimSpec, Padding};
use crate::parse::{Arg, Expr};

/// What a parameter accepts.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// A graph expression.
    Tensor,
    /// A bracketed list of graph expressions: `[a, b, c]`.
    Tensors,
    /// A numeric literal.
    Float,
    /// A numeric literal in `[0, 1)`: a probability short of certainty
    /// (`dropout`'s rate).
    Rate,
    /// A numeric literal in `[0, 1]`.
    Fraction,
    /// An integer literal.
    Int,
    /// An integer literal seeding random draws.
    Seed,
    /// An integer or a list of integers.
    Axes,
    Bool,
    /// Two positive integers, or one used for both: `[2, 2]` or `2`.
    Pair,
    /// A target shape: sizes, symbols, and at most one `-1`.
    Dims,
    /// `same` or `valid`.
    Padding,
    /// A list of `[before, after]` pairs of non-negative integers, one per
    /// axis of the operand: `[[0, 0], [1, 1]]` (`pad`'s `paddings`, as
    /// numpy and TensorFlow write them). The shape rule checks the count.
    Paddings,
}

impl Kind {
    fn describe(self) -> &'static str {
        match self {
            Kind::Tensor => "a tensor expression",
            Kind::Tensors => "a list of tensors such as `[a, b]`",
            Kind::Float => "a number such as `0.5`",
            Kind::Rate => "a number from 0 up to, but not including, 1, such as `0.5`",
            Kind::Fraction => "a number from 0 to 1, such as `0.99`",
            Kind::Int => "an integer such as `-1`",
            Kind::Seed => "an integer such as `17`, from which the random draws follow",
            Kind::Axes => "an axis such as `-1` or a list such as `[0, 1]`",
            Kind::Bool => "`true` or `false`",
            Kind::Pair => "a positive integer or a pair such as `[2, 2]`",
            Kind::Dims => "a shape such as `[n, 64]` (one dim may be `-1`)",
            Kind::Padding => "`same` or `valid`",
            Kind::Paddings => {
                "a list of `[before, after]` pairs of non-negative integers, one per axis, such as `[[0, 0], [1, 1]]`"
            }
        }
    }
}

/// A parameter's value when the call leaves it out.
#[derive(Clone, Copy, Debug)]
pub enum Default {
    Required,
    /// Optional, with a meaning of its own when absent (e.g. "all axes").
    Absent,
    Float(f32),
    Int(i64),
    Bool(bool),
    Pair([usize; 2]),
    Padding(Padding),
}

pub struct Param {
    pub name: &'static str,
    pub kind: Kind,
    pub default: Default,
}

impl Param {
    /// A tensor parameter.
    pub const fn tensor(name: &'static str) -> Param {
        Param {
            name,
            kind: Kind::Tensor,
            default: Default::Required,
        }
    }
}

/// An attribute parameter.
pub const fn attr(name: &'static str, kind: Kind, default: Default) -> Param {
    Param {
        name,
        kind,
        default,
    }
}

/// An attribute's value, read from its literal.
#[derive(Clone, Debug)]
pub enum Value {
    Absent,
    Float(f32),
    Int(i64),
    Axes(Vec<i64>),
    Bool(bool),
    Pair([usize; 2]),
    Dims(Vec<DimSpec>),
    Padding(Padding),
    Paddings(Vec<[usize; 2]>),
}

/// The attribute values of one call, by parameter name.
pub struct Attrs(HashMap<&'static str, Value>);

impl Attrs {
    /// No attribute given: every one absent.
    #[cfg(test)]
    pub fn empty() -> Self {
        Attrs(HashMap::new())
    }

    fn get(&self, name: &str) -> &Value {
        self.0.get(name).unwrap_or(&Value::Absent)
    }

    pub fn float(&self, name: &str) -> Bits {
        match self.get(name) {
            Value::Float(value) => Bits::new(*value),
            _ => Bits::new(0.0),
        }
    }

    pub fn int(&self, name: &str) -> i64 {
        match self.get(name) {
            Value::Int(value) => *value,
            _ => 0,
        }
    }

    pub fn axes(&self, name: &str) -> Option<Vec<i64>> {
        match self.get(name) {
            Value::Axes(axes) => Some(axes.clone()),
            _ => None,
        }
    }

    /// A float attribute, or `None` where the call leaves it out.
    pub fn float_or_absent(&self, name: &str) -> Option<f32> {
        match self.get(name) {
            Value::Float(value) => Some(*value),
            _ => None,
        }
    }

    pub fn boolean(&self, name: &str) -> bool {
        matches!(self.get(name), Value::Bool(true))
    }

    pub fn pair(&self, name: &str) -> Option<[usize; 2]> {
        match self.get(name) {
            Value::Pair(pair) => Some(*pair),
            _ => None,
        }
    }

    pub fn dims(&self, name: &str) -> Vec<DimSpec> {
        match self.get(name) {
            Value::Dims(dims) => dims.clone(),
            _ => Vec::new(),
        }
    }

    pub fn paddings(&self, name: &str) -> Vec<[usize; 2]> {
        match self.get(name) {
            Value::Paddings(pairs) => pairs.clone(),
            _ => Vec::new(),
        }
    }

    pub fn padding(&self, name: &str) -> Padding {
        match self.get(name) {
            Value::Padding(padding) => *padding,
            _ => Padding::Valid,
        }
    }
}

pub struct Signature {
    pub name: &'static str,
    pub params: &'static [Param],
    pub build: fn(&Attrs) -> Op,
    /// Parameters the op's namesakes in other frameworks take and it does
    /// not, each with what to write instead (or why none is needed).
    pub foreign: &'static [(&'static str, &'static str)],
}

impl Signature {
    pub const fn new(
        name: &'static str,
        params: &'static [Param],
        build: fn(&Attrs) -> Op,
    ) -> Self {
        Signature {
            name,
            params,
            build,
            foreign: &[],
        }
    }

    /// The signature, with advice for the parameters `foreign` lists.
    pub const fn foreign(self, foreign: &'static [(&'static str, &'static str)]) -> Self {
        Signature { foreign, ..self }
    }
}

/// Parameter names of TensorFlow, numpy and `PyTorch`, each with the name of
/// ours that means the same; an unknown parameter is looked up here when the
/// op has that parameter, before the suggestion by spelling.
const PARAMETER_ALIASES: &[(&str, &str)] = &[
    ("perm", "axes"),
    ("dims", "axes"),
    ("dim", "axis"),
    ("axes", "axis"),
    ("axis", "axes"),
    ("keepdims", "keep_dims"),
    ("keepdim", "keep_dims"),
    ("stride", "strides"),
    ("kernel_size", "window"),
    ("pool_size", "window"),
    ("ksize", "window"),
    ("dilations", "dilation"),
    ("dilation_rate", "dilation"),
    ("eps", "epsilon"),
    ("newshape", "shape"),
    ("min", "lo"),
    ("max", "hi"),
    ("clip_value_min", "lo"),
    ("clip_value_max", "hi"),
    ("num_classes", "depth"),
];

/// Every callable name, family by family.
fn all() -> impl Iterator<Item = &'static Signature> {
    super::SIGNATURES.iter().flat_map(|family| family.iter())
}

pub fn signature(name: &str) -> Option<&'static Signature> {
    all().find(|signature| signature.name == name)
}

/// The error for a call to a name that is not an op, with the likeliest
/// intended ops: the one a family lists as its namesake in TensorFlow, numpy
/// or `PyTorch` (`reduce_sum` is `sum`), else those the name starts or is
/// spelled like.
pub fn unknown_op(name: &proc_macro2::Ident) -> syn::Error {
    let text = name.to_string();
    if let Some((_, ours)) = super::ALIASES
        .iter()
        .flat_map(|family| family.iter())
        .find(|(foreign, _)| *foreign == text)
    {
        return SpanRange::single(name.span()).error(
            Code::UnknownOp,
            format!("unknown op `{text}`; did you mean `{ours}`?"),
        );
    }
    let names = || all().map(|s| s.name);
    let mut suggestions: Vec<&str> = names()
        .filter(|n| n.starts_with(&text) && text.len() >= 3)
        .collect();
    if suggestions.is_empty() {
        suggestions.extend(closest(&text, names()));
    }
    let message = match suggestions.as_slice() {
        [] => format!("unknown op `{text}`; see the list of ops in the documentation of `graph!`"),
        [one] => format!("unknown op `{text}`; did you mean `{one}`?"),
        many => format!(
            "unknown op `{text}`; did you mean {}?",
            many.iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(" or ")
        ),
    };
    SpanRange::single(name.span()).error(Code::UnknownOp, message)
}

/// The arguments of one call matched to its signature's parameters: one
/// entry per parameter, `None` where the call leaves it out.
pub fn bind<'a>(
    signature: &Signature,
    args: &'a [Arg],
    span: SpanRange,
) -> Result<Vec<Option<&'a Expr>>, Vec<syn::Error>> {
    let (bound, errors) = bind_partial(signature, args, span);
    if errors.is_empty() {
        Ok(bound)
    } else {
        Err(errors)
    }
}

/// Like [`bind`], but also returns what did bind when some arguments do
/// not, so that the phases still look inside the call's operands (and
/// report their errors too) after reporting the call's own.
pub fn bind_partial<'a>(
    signature: &Signature,
    args: &'a [Arg],
    span: SpanRange,
) -> (Vec<Option<&'a Expr>>, Vec<syn::Error>) {
    let params = signature.params;
    let name = signature.name;
    let mut bound: Vec<Option<&Expr>> = vec![None; params.len()];
    let mut errors = Vec::new();
    let mut position = 0;
    for arg in args {
        match &arg.name {
            None => {
                if position < params.len() {
                    bound[position] = Some(&arg.value);
                    position += 1;
                } else {
                    errors.push(arg.value.span().error(
                        Code::TooManyArguments,
                        format!(
                            "`{name}` takes at most {} argument{}: {}",
                            params.len(),
                            if params.len() == 1 { "" } else { "s" },
                            parameter_list(signature)
                        ),
                    ));
                }
            }
            Some(arg_name) => {
                let text = arg_name.to_string();
                match params.iter().position(|p| p.name == text) {
                    Some(index) if bound[index].is_some() => {
                        errors.push(SpanRange::single(arg_name.span()).error(
                            Code::TooManyArguments,
                            format!("`{name}` was given `{text}` twice"),
                        ));
                    }
                    Some(index) => bound[index] = Some(&arg.value),
                    None => {
                        if let Some((_, advice)) = signature
                            .foreign
                            .iter()
                            .find(|(foreign, _)| *foreign == text)
                        {
                            errors.push(SpanRange::single(arg_name.span()).error(
                                Code::UnknownParameter,
                                format!("`{name}` has no parameter `{text}`: {advice}"),
                            ));
                            continue;
                        }
                        let alias = PARAMETER_ALIASES
                            .iter()
                            .find(|(foreign, ours)| {
                                *foreign == text && params.iter().any(|p| p.name == *ours)
                            })
                            .map(|(_, ours)| *ours);
                        let hint = alias
                            .or_else(|| closest(&text, params.iter().map(|p| p.name)))
                            .map(|n| format!("did you mean `{n}`? "))
                            .unwrap_or_default();
                        errors.push(SpanRange::single(arg_name.span()).error(
                            Code::UnknownParameter,
                            format!(
                                "`{name}` has no parameter `{text}`; {hint}its parameters are {}",
                                parameter_list(signature)
                            ),
                        ));
                    }
                }
            }
        }
    }
    for (param, value) in params.iter().zip(&bound) {
        if value.is_none() && matches!(param.default, Default::Required) {
            errors.push(span.error(
                Code::MissingArgument,
                format!(
                    "`{name}` needs `{}`, {}: {}",
                    param.name,
                    param.kind.describe(),
                    parameter_list(signature)
                ),
            ));
        }
    }
    (bound, errors)
}

fn parameter_list(signature: &Signature) -> String {
    let params: Vec<String> = signature
        .params
        .iter()
        .map(|p| match p.default {
            Default::Required => p.name.to_string(),
            _ => format!("{} = ..", p.name),
        })
        .collect();
    format!("`{}({})`", signature.name, params.join(", "))
}

/// Reads every attribute of a bound call and builds its op.
pub fn build(signature: &Signature, bound: &[Option<&Expr>]) -> Result<Op, Vec<syn::Error>> {
    attributes(signature, bound).map(|attrs| (signature.build)(&attrs))
}

/// Reads every attribute of a bound call (tensor parameters are skipped).
pub fn attributes(
    signature: &Signature,
    bound: &[Option<&Expr>],
) -> Result<Attrs, Vec<syn::Error>> {
    let mut values = HashMap::new();
    let mut errors = Vec::new();
    for (param, expr) in signature.params.iter().zip(bound) {
        match (param.kind, expr) {
            // An empty list would make an op without operands.
            (Kind::Tensors, Some(Expr::Array(items, _))) if !items.is_empty() => continue,
            (Kind::Tensor, _) => continue,
            (Kind::Tensors, other) => {
                if let Some(expr) = other {
                    errors.push(expr.span().error(
                        Code::AttributeValue,
                        format!("`{}` must be {}", param.name, param.kind.describe()),
                    ));
                }
                continue;
            }
            _ => {}
        }
        let value = match expr {
            Some(expr) => match read(param, expr) {
                Ok(value) => value,
                Err(error) => {
                    errors.push(error);
                    continue;
                }
            },
            None => match param.default {
                Default::Required | Default::Absent => Value::Absent,
                Default::Float(value) => Value::Float(value),
                Default::Int(value) => Value::Int(value),
                Default::Bool(value) => Value::Bool(value),
                Default::Pair(value) => Value::Pair(value),
                Default::Padding(value) => Value::Padding(value),
            },
        };
        values.insert(param.name, value);
    }
    if errors.is_empty() {
        Ok(Attrs(values))
    } else {
        Err(errors)
    }
}

/// The error for a string given to an attribute, which takes none: a
/// setting as TensorFlow spells it (`padding = "SAME"`) gets the bare word.
fn string(param: &Param, text: &str, span: SpanRange) -> syn::Error {
    let bare = text.to_lowercase();
    if param.kind == Kind::Padding && matches!(bare.as_str(), "same" | "valid") {
        return span.error(
            Code::AttributeValue,
            format!(
                "`{}` takes `same` or `valid` as a bare word, not a string: write `{} = {bare}`",
                param.name, param.name
            ),
        );
    }
    span.error(
        Code::AttributeValue,
        format!(
            "`{}` must be {}, not a string",
            param.name,
            param.kind.describe()
        ),
    )
}

/// Reads one attribute's literal.
fn read(param: &Param, expr: &Expr) -> Result<Value, syn::Error> {
    let wrong = || {
        expr.span().error(
            Code::AttributeValue,
            format!("`{}` must be {}", param.name, param.kind.describe()),
        )
    };
    let int = |expr: &Expr| match expr {
        Expr::Number(number, _) => number.integer,
        _ => None,
    };
    let positive = |expr: &Expr| {
        int(expr)
            .and_then(|i| usize::try_from(i).ok())
            .filter(|&i| i > 0)
    };
    if let Expr::Str(text, span) = expr {
        return Err(string(param, text, *span));
    }
    match param.kind {
        Kind::Tensor | Kind::Tensors => Err(wrong()),
        Kind::Float => match expr {
            Expr::Number(number, _) => Ok(Value::Float(number.value)),
            _ => Err(wrong()),
        },
        Kind::Rate | Kind::Fraction => match expr {
            Expr::Number(number, _)
                if number.value >= 0.0
                    && (number.value < 1.0
                        || param.kind == Kind::Fraction && number.value == 1.0) =>
            {
                Ok(Value::Float(number.value))
            }
            _ => Err(wrong()),
        },
        Kind::Int | Kind::Seed => int(expr).map(Value::Int).ok_or_else(wrong),
        Kind::Axes => match expr {
            Expr::Array(items, _) => items
                .iter()
                .map(int)
                .collect::<Option<Vec<_>>>()
                .map(Value::Axes)
                .ok_or_else(wrong),
            _ => int(expr)
                .map(|axis| Value::Axes(vec![axis]))
                .ok_or_else(wrong),
        },
        Kind::Bool => match expr {
            Expr::Bool(value, _) => Ok(Value::Bool(*value)),
            _ => Err(wrong()),
        },
        Kind::Pair => match expr {
            Expr::Array(items, _) if items.len() == 2 => {
                match (positive(&items[0]), positive(&items[1])) {
                    (Some(a), Some(b)) => Ok(Value::Pair([a, b])),
                    _ => Err(wrong()),
                }
            }
            _ => positive(expr)
                .map(|a| Value::Pair([a, a]))
                .ok_or_else(wrong),
        },
        Kind::Dims => match expr {
            Expr::Array(items, _) => {
                let dims = items
                    .iter()
                    .map(|item| match item {
                        Expr::Name(symbol) => Some(DimSpec::Symbol(symbol.unraw().to_string())),
                        _ => match int(item)? {
                            -1 => Some(DimSpec::Infer),
                            size => usize::try_from(size).ok().map(DimSpec::Fixed),
                        },
                    })
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(wrong)?;
                if dims.iter().filter(|d| **d == DimSpec::Infer).count() > 1 {
                    return Err(expr.span().error(
                        Code::AttributeValue,
                        format!("`{}` may have at most one `-1`", param.name),
                    ));
                }
                Ok(Value::Dims(dims))
            }
            _ => Err(wrong()),
        },
        Kind::Padding => match expr {
            Expr::Name(name) if name == "same" => Ok(Value::Padding(Padding::Same)),
            Expr::Name(name) if name == "valid" => Ok(Value::Padding(Padding::Valid)),
            _ => Err(wrong()),
        },
        Kind::Paddings => paddings(param, expr).map(Value::Paddings),
    }
}

/// Reads `pad`'s `paddings`: a list of `[before, after]` pairs of
/// non-negative integers. The error underlines the pair at fault, or the
/// whole list where it is flat (`[0, 0, 1, 1]`, as ONNX's `pads`).
fn paddings(param: &Param, expr: &Expr) -> Result<Vec<[usize; 2]>, syn::Error> {
    let message =
        |detail: &str| format!("`{}` must be {}{detail}", param.name, param.kind.describe());
    let Expr::Array(pairs, _) = expr else {
        return Err(expr.span().error(Code::AttributeValue, message("")));
    };
    let int = |expr: &Expr| match expr {
        Expr::Number(number, _) => number.integer,
        _ => None,
    };
    if !pairs.is_empty() && pairs.iter().all(|item| int(item).is_some()) {
        return Err(expr.span().error(
            Code::AttributeValue,
            message(": one nested pair per axis, not a flat list of integers"),
        ));
    }
    let size = |expr: &Expr| int(expr).and_then(|i| usize::try_from(i).ok());
    let mut read = Vec::with_capacity(pairs.len());
    for pair in pairs {
        let sizes = match pair {
            Expr::Array(items, _) if items.len() == 2 => size(&items[0]).zip(size(&items[1])),
            _ => None,
        };
        let Some((before, after)) = sizes else {
            return Err(pair.span().error(
                Code::AttributeValue,
                message(", but this is not a pair of non-negative integers"),
            ));
        };
        read.push([before, after]);
    }
    Ok(read)
}

/// The spans of a bound call's attributes as written, by parameter name
/// (tensor parameters are skipped): where a shape rule's error about one of
/// them points.
pub fn attribute_spans(
    signature: &Signature,
    bound: &[Option<&Expr>],
) -> Vec<(&'static str, SpanRange)> {
    signature
        .params
        .iter()
        .zip(bound)
        .filter(|(param, _)| !matches!(param.kind, Kind::Tensor | Kind::Tensors))
        .filter_map(|(param, expr)| expr.map(|expr| (param.name, expr.span())))
        .collect()
}

/// The graph expressions among a call's bound arguments: the operands of the
/// op, in order (a `Tensors` list contributes each element).
pub fn operands<'a>(signature: &Signature, bound: &[Option<&'a Expr>]) -> Vec<&'a Expr> {
    let mut operands = Vec::new();
    for (param, expr) in signature.params.iter().zip(bound) {
        match (param.kind, expr) {
            (Kind::Tensors, Some(Expr::Array(items, _))) => operands.extend(items.iter()),
            (Kind::Tensor | Kind::Tensors, Some(expr)) => operands.push(*expr),
            _ => {}
        }
    }
    operands
}
