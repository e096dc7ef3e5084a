//! Memory budgets: `#[budget(workspace = "64 KiB", weights = "16 KiB")]`
//! makes a graph whose planned workspace, or whose weights baked in with
//! `#[weights(..)]`, take more bytes than the budget a compile error that
//! states the need, the budget and the three largest contributors.
//!
//! Sizes are a whole number of bytes, as an integer (`4096`) or a string
//! with a unit (`"4 KiB"`): `B`, `KiB` (1024), `MiB` (1024²), or the decimal
//! `kB`/`KB` (1000) and `MB` (1000²).
//!
//! The weights are checked after baking, with the other errors. The
//! workspace is checked after planning, on a graph without other errors:
//! its size is what `WORKSPACE_BYTES` holds, which exists for a graph whose
//! planned shapes are all literal (every `#[no_std]` graph, and std graphs
//! without symbolic dims in their workspace); a workspace budget on a graph
//! whose workspace depends on symbolic dims is itself an error.

use proc_macro2::TokenStream;
use quote::{quote, ToTokens};
use syn::punctuated::Punctuated;
use syn::{Attribute, Token};

use crate::diag::{Code, Diagnostics, SpanRange};
use crate::ir::{DType, Graph, NodeId};
use crate::plan::{Plan, Storage};
use crate::shape::Shape;

/// The budgets of one graph, each as written.
#[derive(Default)]
pub struct Budget {
    pub workspace: Option<Limit>,
    pub weights: Option<Limit>,
}

/// One budget: its bytes, how it was written, and where.
pub struct Limit {
    pub bytes: usize,
    pub written: String,
    pub span: SpanRange,
}

impl Limit {
    /// The budget as written, with its bytes when the two differ.
    fn describe(&self) -> String {
        if self.written == self.bytes.to_string() {
            count(self.bytes)
        } else {
            format!("{} ({})", self.written, count(self.bytes))
        }
    }
}

const USAGE: &str = "expected `#[budget(workspace = \"64 KiB\")]`, \
                     `#[budget(weights = \"16 KiB\")]` or both, each a whole number of bytes, \
                     as an integer or a string with a unit (`B`, `KiB`, `MiB`, `kB`, `MB`)";

/// Reads the graph's `#[budget(..)]` attributes (at most one), reporting
/// every mistake in them; `weights_file` is whether the graph bakes its
/// weights in, which a `weights` budget needs.
pub fn read(attrs: &[Attribute], weights_file: bool, diagnostics: &mut Diagnostics) -> Budget {
    let mut budget = Budget::default();
    for (index, attr) in attrs.iter().enumerate() {
        if index > 0 {
            diagnostics.push(SpanRange::of(attr).error(
                Code::BudgetAttribute,
                "a graph takes one `#[budget(..)]` attribute",
            ));
            continue;
        }
        let syn::Meta::List(list) = &attr.meta else {
            diagnostics.push(SpanRange::of(attr).error(Code::BudgetAttribute, USAGE));
            continue;
        };
        let pairs = match list
            .parse_args_with(Punctuated::<syn::MetaNameValue, Token![,]>::parse_terminated)
        {
            Ok(pairs) => pairs,
            Err(errors) => {
                // syn's message (``expected `=` ``), where syn found it,
                // with the form to write.
                for error in errors {
                    let range = SpanRange::of(&error.to_compile_error());
                    diagnostics.push(range.error(
                        Code::BudgetAttribute,
                        format!("{error}, as in `#[budget(workspace = \"64 KiB\")]`"),
                    ));
                }
                continue;
            }
        };
        if pairs.is_empty() {
            diagnostics.push(SpanRange::of(attr).error(Code::BudgetAttribute, USAGE));
        }
        for pair in &pairs {
            let span = SpanRange::of(pair);
            let key = pair
                .path
                .get_ident()
                .map(ToString::to_string)
                .unwrap_or_default();
            let slot = match key.as_str() {
                "workspace" => &mut budget.workspace,
                "weights" => &mut budget.weights,
                _ => {
                    diagnostics.push(SpanRange::of(&pair.path).error(
                        Code::BudgetAttribute,
                        format!(
                            "`#[budget(..)]` has no `{}`: it takes `workspace` and `weights`",
                            text(&pair.path)
                        ),
                    ));
                    continue;
                }
            };
            if slot.is_some() {
                diagnostics.push(SpanRange::of(&pair.path).error(
                    Code::BudgetAttribute,
                    format!("`#[budget(..)]` was given `{key}` twice"),
                ));
                continue;
            }
            if key == "weights" && !weights_file {
                diagnostics.push(SpanRange::of(&pair.path).error(
                    Code::BudgetAttribute,
                    "a `weights` budget limits the weights baked in with `#[weights(\"file.safetensors\")]`, \
                     and this graph bakes none: its variables are given to the constructor",
                ));
                continue;
            }
            match size(&pair.value) {
                Ok((bytes, written)) => {
                    *slot = Some(Limit {
                        bytes,
                        written,
                        span,
                    });
                }
                Err(why) => diagnostics.push(
                    SpanRange::of(&pair.value)
                        .error(Code::BudgetAttribute, format!("`{key}` {why}")),
                ),
            }
        }
    }
    budget
}

/// Tokens as a message quotes them.
fn text(tokens: &impl ToTokens) -> String {
    tokens.to_token_stream().to_string().replace(' ', "")
}

/// A size attribute's bytes and its text, or why it is not a size.
fn size(value: &syn::Expr) -> Result<(usize, String), String> {
    let syn::Expr::Lit(syn::ExprLit { lit, .. }) = value else {
        return Err(format!(
            "must be a literal size, such as `\"64 KiB\"` or `65536`, not `{}`",
            text(value)
        ));
    };
    match lit {
        syn::Lit::Int(int) if int.suffix().is_empty() => int
            .base10_parse::<usize>()
            .map(|bytes| (bytes, bytes.to_string()))
            .map_err(|_| "is more bytes than a `usize` counts".to_string()),
        syn::Lit::Str(text) => parse_size(&text.value()).map(|bytes| (bytes, text.value())),
        _ => Err(
            "must be a whole number of bytes or a string with a unit, such as `\"64 KiB\"`"
                .to_string(),
        ),
    }
}

/// The bytes of a size such as `"64 KiB"`, `"64KiB"`, `"1 MB"` or `"512"`.
pub fn parse_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let digits = text
        .find(|c: char| !(c.is_ascii_digit() || c == '_'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let unit = unit.trim();
    let scale: usize = match unit {
        "" | "B" => 1,
        "kB" | "KB" => 1000,
        "KiB" => 1 << 10,
        "MB" => 1_000_000,
        "MiB" => 1 << 20,
        _ if unit.starts_with('.') => {
            return Err(format!(
            "is `{text}`, but a size is a whole number of its unit: write it in a smaller unit, \
                 such as `\"1536 B\"` for 1.5 KiB"
        ))
        }
        _ => {
            return Err(format!(
                "is `{text}`, whose unit `{unit}` is none of `B`, `KiB` (1024 bytes), `MiB` \
                 (1024 KiB), `kB` or `KB` (1000 bytes), and `MB` (1000 kB)"
            ))
        }
    };
    let number = number.replace('_', "");
    if number.is_empty() {
        return Err(format!(
            "is `{text}`, which starts with no number: write a size such as `\"64 KiB\"`"
        ));
    }
    number
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .ok_or_else(|| format!("is `{text}`, more bytes than a `usize` counts"))
}

/// How a message names a value: the user's name, or the op that made it.
fn describe(graph: &Graph, id: NodeId) -> String {
    let node = graph.node(id);
    match &node.name {
        Some(name) => format!("`{name}`"),
        None => format!(
            "a `{}` result",
            node.called.unwrap_or_else(|| node.op.symbol())
        ),
    }
}

/// `1 byte`, `2 bytes`.
fn count(bytes: usize) -> String {
    if bytes == 1 {
        "1 byte".to_string()
    } else {
        format!("{bytes} bytes")
    }
}

/// Joins `items` as `a`, `a and b`, or `a, b and c`.
fn list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// Bytes of one element, as the generated code stores it.
fn element_bytes(dtype: DType) -> usize {
    match dtype {
        DType::F32 => 4,
        DType::Usize => std::mem::size_of::<usize>(),
        DType::Bool => 1,
    }
}

/// The bytes `WORKSPACE_BYTES` holds, if every planned size is literal. A
/// `#[no_std]` workspace is a struct of arrays, so its size is rounded up
/// to the largest alignment of its fields, as rustc lays it out.
pub fn workspace_bytes(graph: &Graph, plan: &Plan) -> Option<usize> {
    let bytes = plan.literal_bytes()?;
    if !graph.no_std {
        return Some(bytes);
    }
    let align = plan
        .slots
        .iter()
        .map(|&dtype| element_bytes(dtype))
        .max()
        .unwrap_or(1);
    bytes.checked_next_multiple_of(align)
}

/// Checks the workspace budget against the plan. Returns the error, or the
/// items to add to the expansion of a graph within its budget: a `const`
/// assertion of the same limit on `WORKSPACE_BYTES`, for the target (the
/// bytes of a `usize` slot are the host's here, the target's there).
pub fn check_workspace(
    graph: &Graph,
    plan: &Plan,
    budget: &Budget,
) -> (Option<syn::Error>, TokenStream) {
    let Some(limit) = &budget.workspace else {
        return (None, TokenStream::new());
    };
    let Some(bytes) = workspace_bytes(graph, plan) else {
        let symbolic = (0..graph.nodes.len()).find(|&index| {
            matches!(plan.storage[index], Storage::Slot(_))
                && graph.nodes[index]
                    .shape
                    .as_ref()
                    .is_some_and(|s| s.as_fixed().is_none())
        });
        let which = symbolic.map_or_else(String::new, |index| {
            let id = NodeId(index);
            format!(
                ", such as {} of shape {}",
                describe(graph, id),
                graph.shape(id)
            )
        });
        let error = limit.span.error(
            Code::BudgetSymbolic,
            format!(
                "a workspace budget needs a workspace of fixed size, but that of `{}` depends on \
                 symbolic dims, through the values it holds{which}: give the inputs literal sizes, \
                 as in `[1, 784]`, or leave the workspace without a budget",
                graph.name
            ),
        );
        return (Some(error), TokenStream::new());
    };
    let name = &graph.name;
    let limit_bytes = limit.bytes;
    let message = format!(
        "[{}] the workspace of `{name}` is over its budget of {} on this target",
        Code::WorkspaceBudget,
        limit.describe()
    );
    if bytes <= limit.bytes {
        let assertion = quote! {
            const _: () = ::core::assert!(#name::WORKSPACE_BYTES <= #limit_bytes, #message);
        };
        return (None, assertion);
    }
    let error = limit.span.error(
        Code::WorkspaceBudget,
        format!(
            "the workspace of `{name}` needs {} (`WORKSPACE_BYTES`), more than its \
             budget of {}; {}",
            count(bytes),
            limit.describe(),
            largest_slots(graph, plan, bytes)
        ),
    );
    (Some(error), TokenStream::new())
}

/// The three largest workspace slots, each with the values it holds.
fn largest_slots(graph: &Graph, plan: &Plan, total: usize) -> String {
    let mut slots: Vec<(usize, usize)> = plan
        .slots
        .iter()
        .zip(&plan.slot_elements)
        .enumerate()
        .map(|(index, (dtype, elements))| (index, elements.unwrap_or(0) * element_bytes(*dtype)))
        .collect();
    // Largest first; the first planned of equal ones first.
    slots.sort_by_key(|&(index, bytes)| (std::cmp::Reverse(bytes), index));
    let described: Vec<String> = slots
        .iter()
        .take(3)
        .map(|&(slot, bytes)| {
            let holders: Vec<String> = (0..graph.nodes.len())
                .filter(|&index| plan.storage[index] == Storage::Slot(slot))
                .map(|index| describe(graph, NodeId(index)))
                .collect();
            let shown = holders.len().min(3);
            let mut names = holders[..shown].to_vec();
            if holders.len() > shown {
                names.push(format!("{} more", holders.len() - shown));
            }
            format!("{} holding {}", count(bytes), list(&names))
        })
        .collect();
    let padding = total - plan.literal_bytes().unwrap_or(total);
    let padding = if padding > 0 {
        format!(", and {} of alignment padding", count(padding))
    } else {
        String::new()
    };
    let noun = if plan.slots.len() > 3 {
        format!("its largest slots (of {})", plan.slots.len())
    } else if plan.slots.len() == 1 {
        "its slot".to_string()
    } else {
        "its slots".to_string()
    };
    format!("{noun}: {}{padding}", described.join("; "))
}

/// A variable baked in from the weight file: its name, shape and bytes.
pub struct Baked {
    pub name: String,
    pub shape: Shape,
    pub bytes: usize,
}

/// Checks the weights budget against the baked variables.
pub fn check_weights(
    graph: &Graph,
    baked: &[Baked],
    budget: &Budget,
    diagnostics: &mut Diagnostics,
) {
    let Some(limit) = &budget.weights else { return };
    let bytes: usize = baked.iter().map(|b| b.bytes).sum();
    if bytes <= limit.bytes {
        return;
    }
    let mut largest: Vec<&Baked> = baked.iter().collect();
    largest.sort_by_key(|b| std::cmp::Reverse(b.bytes));
    let described: Vec<String> = largest
        .iter()
        .take(3)
        .map(|b| format!("`{}` {} {}", b.name, b.shape, count(b.bytes)))
        .collect();
    let noun = if baked.len() > 3 {
        format!("the largest (of {})", baked.len())
    } else {
        "they are".to_string()
    };
    diagnostics.push(limit.span.error(
        Code::WeightsBudget,
        format!(
            "the weights baked into `{}` take {}, more than their budget of {}; {noun}: {}",
            graph.name,
            count(bytes),
            limit.describe(),
            described.join(", ")
        ),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_units() {
        assert_eq!(parse_size("64 KiB"), Ok(65_536));
        assert_eq!(parse_size("64KiB"), Ok(65_536));
        assert_eq!(parse_size(" 2 MiB "), Ok(2 << 20));
        assert_eq!(parse_size("3 kB"), Ok(3000));
        assert_eq!(parse_size("3 KB"), Ok(3000));
        assert_eq!(parse_size("1 MB"), Ok(1_000_000));
        assert_eq!(parse_size("512"), Ok(512));
        assert_eq!(parse_size("512 B"), Ok(512));
        assert_eq!(parse_size("65_536 B"), Ok(65_536));
        assert!(parse_size("1.5 KiB").unwrap_err().contains("whole number"));
        assert!(parse_size("64 kiB").unwrap_err().contains("unit `kiB`"));
        assert!(parse_size("KiB").unwrap_err().contains("no number"));
        assert!(parse_size("").unwrap_err().contains("no number"));
        assert!(parse_size("99999999999999999999 B")
            .unwrap_err()
            .contains("usize"));
        assert!(parse_size(&format!("{} MiB", usize::MAX))
            .unwrap_err()
            .contains("usize"));
    }

    fn read_budget(attribute: TokenStream, weights_file: bool) -> (Budget, Vec<String>) {
        let attrs = syn::parse::Parser::parse2(Attribute::parse_outer, attribute).unwrap();
        let mut diagnostics = Diagnostics::new();
        let budget = read(&attrs, weights_file, &mut diagnostics);
        let messages = diagnostics
            .finish()
            .err()
            .map(|e| e.into_iter().map(|e| e.to_string()).collect())
            .unwrap_or_default();
        (budget, messages)
    }

    #[test]
    fn reads_both_budgets() {
        let (budget, errors) = read_budget(
            quote! { #[budget(workspace = "4 KiB", weights = 100)] },
            true,
        );
        assert!(errors.is_empty(), "{errors:?}");
        let workspace = budget.workspace.unwrap();
        assert_eq!(
            (workspace.bytes, workspace.describe()),
            (4096, "4 KiB (4096 bytes)".to_string())
        );
        let weights = budget.weights.unwrap();
        assert_eq!(
            (weights.bytes, weights.describe()),
            (100, "100 bytes".to_string())
        );
    }

    #[test]
    fn reports_every_malformed_part() {
        let cases = [
            (quote! { #[budget] }, "expected `#[budget(workspace"),
            (
                quote! { #[budget = "4 KiB"] },
                "expected `#[budget(workspace",
            ),
            (quote! { #[budget()] }, "expected `#[budget(workspace"),
            (
                quote! { #[budget(workspace)] },
                "expected `=`, as in `#[budget(workspace = \"64 KiB\")]`",
            ),
            (quote! { #[budget(stack = 4)] }, "has no `stack`"),
            (
                quote! { #[budget(workspace = 4, workspace = 8)] },
                "`workspace` twice",
            ),
            (
                quote! { #[budget(workspace = x)] },
                "must be a literal size",
            ),
            (
                quote! { #[budget(workspace = 4u8)] },
                "whole number of bytes",
            ),
            (quote! { #[budget(workspace = "4 kb")] }, "unit `kb`"),
            (quote! { #[budget(weights = "4 KiB")] }, "bakes none"),
            (
                quote! { #[budget(workspace = 4)] #[budget(workspace = 4)] },
                "one `#[budget(..)]`",
            ),
        ];
        for (attribute, expected) in cases {
            let text = attribute.to_string();
            let (_, errors) = read_budget(attribute, false);
            assert!(!errors.is_empty(), "{text}");
            assert!(
                errors.iter().all(|e| e.starts_with("[SF0801] ")),
                "{text}: {errors:?}"
            );
            assert!(
                errors.iter().any(|e| e.contains(expected)),
                "{text}: {errors:?}"
            );
        }
    }
}
