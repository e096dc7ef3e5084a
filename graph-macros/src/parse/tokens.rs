//! Checks on the raw tokens of a graph, before syn parses them: bounds on
//! how deep and long expressions are, which keep the parser's recursion
//! within the compiler's stack, and the `@` of Python's matrix product,
//! which is not Rust syntax.

use proc_macro2::{Delimiter, TokenStream, TokenTree};

use crate::diag::{Code, Diagnostics, SpanRange};

/// Reports every `@` in the graph before syn sees it: Python's matrix
/// product is not Rust syntax, and syn would say only "expected `;`".
/// Runs after [`check_depth`], so the recursion is bounded.
pub(super) fn check_at_signs(tokens: &TokenStream) -> syn::Result<()> {
    fn visit(tokens: &TokenStream, diagnostics: &mut Diagnostics) {
        let tokens: Vec<TokenTree> = tokens.clone().into_iter().collect();
        for (i, token) in tokens.iter().enumerate() {
            match token {
                TokenTree::Group(group) => visit(&group.stream(), diagnostics),
                TokenTree::Punct(punct) if punct.as_char() == '@' => {
                    // `x @ w` names its operands in the suggestion; anything
                    // longer (`a + x @ w`) gets the general form.
                    let bounds = |token: Option<&TokenTree>, chars: &str| match token {
                        None => true,
                        Some(TokenTree::Punct(punct)) => chars.contains(punct.as_char()),
                        Some(_) => false,
                    };
                    let name = |token: Option<&TokenTree>| match token {
                        Some(TokenTree::Ident(ident)) => Some(ident.to_string()),
                        _ => None,
                    };
                    let left = i
                        .checked_sub(1)
                        .filter(|&l| l == 0 || bounds(tokens.get(l - 1), "=,"))
                        .and_then(|l| name(tokens.get(l)));
                    let right = name(tokens.get(i + 1)).filter(|_| bounds(tokens.get(i + 2), ";,"));
                    let call = match (left, right) {
                        (Some(left), Some(right)) => format!("matmul({left}, {right})"),
                        _ => "matmul(a, b)".to_string(),
                    };
                    diagnostics.push(SpanRange::single(punct.span()).error(
                        Code::Operator,
                        format!(
                            "a graph has no `@` operator: write the matrix product as `{call}`"
                        ),
                    ));
                }
                _ => {}
            }
        }
    }
    let mut diagnostics = Diagnostics::new();
    visit(tokens, &mut diagnostics);
    diagnostics.finish()
}

/// How deep brackets may nest in a graph.
const MAX_NESTING: usize = 64;

/// How many tokens one chain may hold: the tokens of an expression up to
/// the next `,` or `;`, plus those of the groups around it up to theirs.
/// Attributes (`#[..]`) do not count.
const MAX_CHAIN: usize = 256;

/// Rejects input nested or chained beyond [`MAX_NESTING`] and [`MAX_CHAIN`]
/// before syn sees it.
///
/// syn's expression parser and the phases after it recurse once per level of
/// an expression (each level of brackets takes about 8 KiB of stack in a
/// debug build, each prefix operator about 3 KiB), and every level of an
/// expression costs at least one token of its chain. Without bounds, 1,000
/// nested parentheses overflowed the 8 MiB of rustc's main thread. With
/// them, the deepest inputs accepted need about 1.3 MiB (measured in a debug
/// build), and anything deeper is a compile error instead of a stack
/// overflow. The check itself is a loop, not a recursion.
pub(super) fn check_depth(tokens: &TokenStream) -> syn::Result<()> {
    struct Level {
        tokens: proc_macro2::token_stream::IntoIter,
        /// The chain's length at the group this level is inside.
        base: usize,
        /// Tokens since the last `,` or `;` at this level.
        run: usize,
        /// The previous token was the `#` of an attribute.
        after_hash: bool,
    }
    let mut stack = vec![Level {
        tokens: tokens.clone().into_iter(),
        base: 0,
        run: 0,
        after_hash: false,
    }];
    while let Some(level) = stack.last_mut() {
        let Some(token) = level.tokens.next() else {
            stack.pop();
            continue;
        };
        let attribute = match &token {
            TokenTree::Punct(punct) if punct.as_char() == '#' => true,
            TokenTree::Group(group) => level.after_hash && group.delimiter() == Delimiter::Bracket,
            _ => false,
        };
        level.after_hash = matches!(&token, TokenTree::Punct(punct) if punct.as_char() == '#');
        if !attribute {
            level.run += 1;
        }
        let chain = level.base + level.run;
        if matches!(&token, TokenTree::Punct(punct) if matches!(punct.as_char(), ',' | ';')) {
            level.run = 0;
        }
        if chain > MAX_CHAIN {
            return Err(SpanRange::single(token.span()).error(
                Code::TooDeep,
                format!(
                    "expression too long: more than {MAX_CHAIN} tokens in one chain of operators, \
                     calls and brackets; split it into several `let` declarations"
                ),
            ));
        }
        if let TokenTree::Group(group) = token {
            if stack.len() > MAX_NESTING {
                return Err(SpanRange::single(group.span_open()).error(
                    Code::TooDeep,
                    format!(
                        "brackets nested more than {MAX_NESTING} deep; split the expression into \
                         several `let` declarations"
                    ),
                ));
            }
            stack.push(Level {
                tokens: group.stream().into_iter(),
                base: chain,
                run: 0,
                after_hash: false,
            });
        }
    }
    Ok(())
}
