//! Diagnostics: spans that cover a whole sub-expression, and the collection of
//! independent errors that are reported together.

use proc_macro2::{Delimiter, Group, Span, TokenStream, TokenTree};
use quote::ToTokens;

pub mod codes;

pub use codes::Code;

/// The first and last token of a piece of user input.
///
/// On stable Rust a proc macro cannot join spans, but an error whose tokens
/// start at `start` and end at `end` is underlined from one to the other, as
/// `syn::Error::new_spanned` does.
#[derive(Clone, Copy, Debug)]
pub struct SpanRange {
    pub start: Span,
    pub end: Span,
}

impl SpanRange {
    pub fn new(start: Span, end: Span) -> Self {
        SpanRange { start, end }
    }

    pub fn single(span: Span) -> Self {
        SpanRange::new(span, span)
    }

    /// The range covered by a syntax tree's tokens.
    pub fn of(tokens: &impl ToTokens) -> Self {
        let mut iter = tokens.to_token_stream().into_iter();
        let start = iter
            .next()
            .map_or_else(Span::call_site, |token| token.span());
        let end = iter.last().map_or(start, |token| token.span());
        SpanRange::new(start, end)
    }

    /// An error of kind `code` underlining this range; the message starts
    /// with the code, as in `[SF0301] ...`. Every error `graph!` reports is
    /// made here (clippy's `disallowed-methods` keeps `syn::Error::new` out
    /// of the other modules), so none lacks a code.
    pub fn error(self, code: Code, message: impl std::fmt::Display) -> syn::Error {
        let mut first = Group::new(Delimiter::None, TokenStream::new());
        first.set_span(self.start);
        let mut last = Group::new(Delimiter::None, TokenStream::new());
        last.set_span(self.end);
        let tokens: TokenStream = [TokenTree::Group(first), TokenTree::Group(last)]
            .into_iter()
            .collect();
        #[allow(clippy::disallowed_methods)]
        syn::Error::new_spanned(tokens, format!("[{code}] {message}"))
    }
}

/// `error` with every message that has no code yet given `code`, keeping
/// the range each underlines: for the errors syn's own parsers make, such
/// as ``expected `;` ``.
pub fn with_code(error: syn::Error, code: Code) -> syn::Error {
    let mut errors = error.into_iter().map(|error| {
        let message = error.to_string();
        if has_code(&message) {
            return error;
        }
        // The compile error's tokens start and end where `error` does.
        SpanRange::of(&error.to_compile_error()).error(code, message)
    });
    let mut first = errors.next().unwrap_or_else(|| {
        SpanRange::single(Span::call_site()).error(Code::Internal, "an empty error")
    });
    first.extend(errors);
    first
}

/// Whether a message starts with a code, `[SF` and four digits and `]`.
fn has_code(message: &str) -> bool {
    message
        .strip_prefix("[SF")
        .and_then(|rest| rest.get(..5))
        .is_some_and(|digits| {
            digits.ends_with(']') && digits[..4].bytes().all(|b| b.is_ascii_digit())
        })
}

/// Independent errors found by the phases, merged into one `syn::Error` at
/// the end so that rustc shows them all in one compile, in source order.
#[derive(Default)]
pub struct Diagnostics {
    errors: Vec<syn::Error>,
}

impl Diagnostics {
    pub fn new() -> Self {
        Diagnostics::default()
    }

    pub fn push(&mut self, error: syn::Error) {
        self.errors.push(error);
    }

    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// `Ok` if nothing was reported, else every error merged, ordered by
    /// where each starts in the source: the phases find errors in the order
    /// they visit the graph (a use before its declaration, an inner call
    /// after the outer one), but the user reads the graph top to bottom.
    /// The sort is stable, so errors at one place keep the order they were
    /// found in.
    pub fn finish(self) -> syn::Result<()> {
        let mut errors: Vec<syn::Error> = self.errors.into_iter().flatten().collect();
        errors.sort_by_key(|error| {
            let start = error.span().start();
            (start.line, start.column)
        });
        let mut errors = errors.into_iter();
        match errors.next() {
            Some(mut first) => {
                first.extend(errors);
                Err(first)
            }
            None => Ok(()),
        }
    }
}

/// The closest of `candidates` to `name`, if one is close enough to be a
/// likely typo: an edit distance of at most a third of the name's length (at
/// least 1), and less than the whole name.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|candidate| (edit_distance(name, candidate), candidate))
        .filter(|(distance, _)| *distance <= limit && *distance < name.chars().count())
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance between two strings, by characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        current[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("w1", "w2"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("matmul", "matmu"), 1);
    }

    #[test]
    fn errors_come_out_in_source_order() {
        let tokens: Vec<TokenTree> = "first\nsecond third"
            .parse::<TokenStream>()
            .unwrap()
            .into_iter()
            .collect();
        let mut diagnostics = Diagnostics::new();
        for index in [2, 0, 1] {
            diagnostics.push(SpanRange::single(tokens[index].span()).error(Code::Syntax, index));
        }
        let messages: Vec<String> = diagnostics
            .finish()
            .unwrap_err()
            .into_iter()
            .map(|error| error.to_string())
            .collect();
        assert_eq!(messages, ["[SF0101] 0", "[SF0101] 1", "[SF0101] 2"]);
    }

    #[test]
    fn codes_are_added_once_and_keep_the_range() {
        let tokens: Vec<TokenTree> = "a b c"
            .parse::<TokenStream>()
            .unwrap()
            .into_iter()
            .collect();
        let range = SpanRange::new(tokens[0].span(), tokens[2].span());
        #[allow(clippy::disallowed_methods)]
        let mut error = syn::Error::new_spanned(
            tokens.iter().cloned().collect::<TokenStream>(),
            "expected `;`",
        );
        error.combine(range.error(Code::Cycle, "already coded"));
        let coded = with_code(error, Code::Syntax);
        let messages: Vec<String> = coded.clone().into_iter().map(|e| e.to_string()).collect();
        assert_eq!(
            messages,
            ["[SF0101] expected `;`", "[SF0206] already coded"]
        );
        let first = coded.into_iter().next().unwrap().to_compile_error();
        let spans = SpanRange::of(&first);
        assert_eq!(spans.start.start().column, 0);
        assert_eq!(spans.end.start().column, 4);
        assert!(has_code("[SF0801] x"));
        assert!(!has_code("[SF08] x") && !has_code("SF0801") && !has_code("[SFabcd] x"));
    }

    #[test]
    fn suggests_only_close_names() {
        assert_eq!(closest("wieght", ["weight", "bias"]), Some("weight"));
        assert_eq!(closest("w3", ["w1", "b1"]), Some("w1"));
        assert_eq!(closest("x", ["y", "z"]), None);
        assert_eq!(closest("hidden", ["bias", "x"]), None);
    }
}
