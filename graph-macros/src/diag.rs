//! Diagnostics: spans that cover a whole sub-expression, and the collection of
//! independent errors that are reported together.

use proc_macro2::{Delimiter, Group, Span, TokenStream, TokenTree};
use quote::ToTokens;

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

    /// An error underlining this range.
    pub fn error(self, message: impl std::fmt::Display) -> syn::Error {
        let mut first = Group::new(Delimiter::None, TokenStream::new());
        first.set_span(self.start);
        let mut last = Group::new(Delimiter::None, TokenStream::new());
        last.set_span(self.end);
        let tokens: TokenStream = [TokenTree::Group(first), TokenTree::Group(last)]
            .into_iter()
            .collect();
        syn::Error::new_spanned(tokens, message)
    }
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
            diagnostics.push(syn::Error::new(tokens[index].span(), index));
        }
        let messages: Vec<String> = diagnostics
            .finish()
            .unwrap_err()
            .into_iter()
            .map(|error| error.to_string())
            .collect();
        assert_eq!(messages, ["0", "1", "2"]);
    }

    #[test]
    fn suggests_only_close_names() {
        assert_eq!(closest("wieght", ["weight", "bias"]), Some("weight"));
        assert_eq!(closest("w3", ["w1", "b1"]), Some("w1"));
        assert_eq!(closest("x", ["y", "z"]), None);
        assert_eq!(closest("hidden", ["bias", "x"]), None);
    }
}
