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

/// Independent errors found by a phase, merged into one `syn::Error` at the
/// end so that rustc shows them all in one compile.
#[derive(Default)]
pub struct Diagnostics {
    errors: Option<syn::Error>,
}

impl Diagnostics {
    pub fn new() -> Self {
        Diagnostics::default()
    }

    pub fn push(&mut self, error: syn::Error) {
        match &mut self.errors {
            Some(errors) => errors.combine(error),
            None => self.errors = Some(error),
        }
    }

    pub fn has_errors(&self) -> bool {
        self.errors.is_some()
    }

    /// `Ok` if nothing was reported, else every error merged.
    pub fn finish(self) -> syn::Result<()> {
        match self.errors {
            Some(errors) => Err(errors),
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
    fn suggests_only_close_names() {
        assert_eq!(closest("wieght", ["weight", "bias"]), Some("weight"));
        assert_eq!(closest("w3", ["w1", "b1"]), Some("w1"));
        assert_eq!(closest("x", ["y", "z"]), None);
        assert_eq!(closest("hidden", ["bias", "x"]), None);
    }
}
