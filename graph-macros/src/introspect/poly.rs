//! Polynomials in a graph's symbolic dims, at compile time: the FLOP counts
//! and byte counts of the summary, emitted as
//! `::staticflow::__private::summary::Polynomial` constants.

use std::collections::BTreeMap;

use proc_macro2::TokenStream;
use quote::quote;

use crate::shape::Dim;

/// A sum of terms `coefficient · s₁ · s₂ ⋯`. Keys are the sorted symbols of
/// a term (a symbol repeated once per power); zero coefficients are never
/// stored. Arithmetic saturates at `u64::MAX` rather than panicking: a count
/// that large is meaningless anyway.
#[derive(Clone, Default, PartialEq, Eq, Debug)]
pub struct Polynomial(BTreeMap<Vec<String>, u64>);

impl Polynomial {
    pub fn constant(value: u64) -> Self {
        let mut terms = BTreeMap::new();
        if value != 0 {
            terms.insert(Vec::new(), value);
        }
        Polynomial(terms)
    }

    /// The product of some dims: a shape's element count, or part of it.
    pub fn product<'a>(dims: impl IntoIterator<Item = &'a Dim>) -> Self {
        let mut coefficient: u64 = 1;
        let mut symbols = Vec::new();
        for dim in dims {
            match dim {
                Dim::Fixed(size) => {
                    let size = u64::try_from(*size).unwrap_or(u64::MAX);
                    coefficient = coefficient.saturating_mul(size);
                }
                Dim::Symbol(symbol) => symbols.push(symbol.clone()),
            }
        }
        if coefficient == 0 {
            return Polynomial::default();
        }
        symbols.sort();
        Polynomial(BTreeMap::from([(symbols, coefficient)]))
    }

    pub fn is_zero(&self) -> bool {
        self.0.is_empty()
    }

    pub fn add(&mut self, other: &Polynomial) {
        for (symbols, coefficient) in &other.0 {
            let entry = self.0.entry(symbols.clone()).or_insert(0);
            *entry = entry.saturating_add(*coefficient);
        }
    }

    /// Takes away terms added earlier (saturating at zero, which only a
    /// saturated sum can reach).
    pub fn subtract(&mut self, other: &Polynomial) {
        for (symbols, coefficient) in &other.0 {
            if let Some(entry) = self.0.get_mut(symbols) {
                *entry = entry.saturating_sub(*coefficient);
                if *entry == 0 {
                    self.0.remove(symbols);
                }
            }
        }
    }

    #[must_use]
    pub fn plus(mut self, other: &Polynomial) -> Polynomial {
        self.add(other);
        self
    }

    #[must_use]
    pub fn scale(self, factor: u64) -> Polynomial {
        if factor == 0 {
            return Polynomial::default();
        }
        Polynomial(
            self.0
                .into_iter()
                .map(|(symbols, coefficient)| (symbols, coefficient.saturating_mul(factor)))
                .collect(),
        )
    }

    #[must_use]
    pub fn times(&self, other: &Polynomial) -> Polynomial {
        let mut product = Polynomial::default();
        for (left, a) in &self.0 {
            for (right, b) in &other.0 {
                let mut symbols: Vec<String> = left.iter().chain(right).cloned().collect();
                symbols.sort();
                product.add(&Polynomial(BTreeMap::from([(
                    symbols,
                    a.saturating_mul(*b),
                )])));
            }
        }
        product
    }

    /// Whether `self ≤ max(a, b)` for every size, judged by finding a weight
    /// `λ` in `[0, 1]` with `self ≤ λ·a + (1 - λ)·b` term by term (a mix of two
    /// polynomials never exceeds their maximum); with `a == b`, whether every
    /// coefficient of `self` is at most the matching one of `a`, which with
    /// non-negative coefficients and sizes means `self ≤ a`. Exact: weights are compared as
    /// fractions; a coefficient too large to compare says "not bounded".
    pub fn bounded_by_mix(&self, a: &Polynomial, b: &Polynomial) -> bool {
        // The feasible λ is [low, high], each a fraction (numerator,
        // denominator > 0).
        let mut low: (i128, i128) = (0, 1);
        let mut high: (i128, i128) = (1, 1);
        let keys = self.0.keys().chain(a.0.keys()).chain(b.0.keys());
        for symbols in keys {
            let get = |p: &Polynomial| i128::from(p.0.get(symbols).copied().unwrap_or(0));
            let (c, a, b) = (get(self), get(a), get(b));
            // c ≤ λ·a + (1 - λ)·b  ⇔  λ·(a - b) ≥ c - b.
            let (slope, need) = (a - b, c - b);
            match slope.cmp(&0) {
                std::cmp::Ordering::Equal if need > 0 => return false,
                std::cmp::Ordering::Equal => {}
                std::cmp::Ordering::Greater => low = larger(low, (need, slope)),
                std::cmp::Ordering::Less => high = smaller(high, (-need, -slope)),
            }
        }
        // low ≤ high, compared exactly; an overflow counts as infeasible.
        match (low.0.checked_mul(high.1), high.0.checked_mul(low.1)) {
            (Some(l), Some(h)) => l <= h,
            _ => false,
        }
    }

    /// The terms in display order: highest degree first, then by symbols,
    /// the constant last.
    fn ordered(&self) -> Vec<(&Vec<String>, u64)> {
        let mut terms: Vec<(&Vec<String>, u64)> =
            self.0.iter().map(|(symbols, c)| (symbols, *c)).collect();
        terms.sort_by(|(a, _), (b, _)| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        terms
    }

    /// The polynomial as a `summary::Polynomial` constant expression.
    pub fn tokens(&self) -> TokenStream {
        let terms = self.ordered().into_iter().map(|(symbols, coefficient)| {
            quote! {
                ::staticflow::__private::summary::Term {
                    coefficient: #coefficient,
                    symbols: &[#(#symbols),*],
                }
            }
        });
        quote! {
            ::staticflow::__private::summary::Polynomial { terms: &[#(#terms),*] }
        }
    }
}

/// The larger of two fractions with positive denominators (the first on
/// overflow, which then fails the final comparison conservatively).
fn larger(x: (i128, i128), y: (i128, i128)) -> (i128, i128) {
    match (x.0.checked_mul(y.1), y.0.checked_mul(x.1)) {
        (Some(left), Some(right)) if right > left => y,
        (Some(_), Some(_)) => x,
        _ => (i128::MAX, 1),
    }
}

fn smaller(x: (i128, i128), y: (i128, i128)) -> (i128, i128) {
    match (x.0.checked_mul(y.1), y.0.checked_mul(x.1)) {
        (Some(left), Some(right)) if right < left => y,
        (Some(_), Some(_)) => x,
        _ => (i128::MIN, 1),
    }
}

#[cfg(test)]
impl std::fmt::Display for Polynomial {
    /// As the run-time type prints it, for tests: `4·n² + 10`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let terms: Vec<String> = self
            .ordered()
            .into_iter()
            .map(|(symbols, coefficient)| {
                let mut factors = Vec::new();
                if coefficient != 1 || symbols.is_empty() {
                    factors.push(coefficient.to_string());
                }
                factors.extend(symbols.iter().cloned());
                factors.join("·")
            })
            .collect();
        if terms.is_empty() {
            f.write_str("0")
        } else {
            f.write_str(&terms.join(" + "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::tests::shape;

    fn elements(text: &str) -> Polynomial {
        Polynomial::product(&shape(text).0)
    }

    #[test]
    fn arithmetic_keeps_symbols() {
        let p = elements("n, 64").scale(2).times(&elements("32"));
        assert_eq!(p.to_string(), "4096·n");
        let q = p.plus(&elements("n, m")).plus(&Polynomial::constant(10));
        assert_eq!(q.to_string(), "m·n + 4096·n + 10");
        assert_eq!(elements("n").times(&elements("n, 3")).to_string(), "3·n·n");
        assert!(elements("0, n").is_zero());
        assert!(Polynomial::constant(0).is_zero());
        assert_eq!(elements("").to_string(), "1");
        let mut r = elements("n, 2").plus(&Polynomial::constant(5));
        r.subtract(&elements("n, 2"));
        assert_eq!(r, Polynomial::constant(5));
    }

    #[test]
    fn bounds_are_term_by_term() {
        let small = elements("n, 4").plus(&Polynomial::constant(8));
        let big = elements("n, 8").plus(&Polynomial::constant(8));
        let other = elements("n, 16");
        assert!(small.bounded_by_mix(&big, &big));
        assert!(!big.bounded_by_mix(&small, &small));
        assert!(
            !small.bounded_by_mix(&other, &other),
            "the constant term is not bounded"
        );
        assert!(Polynomial::default().bounded_by_mix(&other, &other));
    }

    #[test]
    fn a_mix_of_two_bounds_what_lies_between_them() {
        let wide = elements("n, 64");
        let fixed = Polynomial::constant(416);
        let between = elements("n, 32").plus(&Polynomial::constant(32));
        // 32·n + 32 ≤ ½·64·n + ½·416.
        assert!(between.bounded_by_mix(&wide, &fixed));
        assert!(between.bounded_by_mix(&fixed, &wide));
        // 48·n + 400 is above both at n = 1 (448 > 416, 448 > 64).
        let above = elements("n, 48").plus(&Polynomial::constant(400));
        assert!(!above.bounded_by_mix(&wide, &fixed));
        // A symbol neither of the two has is never bounded.
        assert!(!elements("m").bounded_by_mix(&wide, &fixed));
        assert!(between.bounded_by_mix(&between, &between));
        assert!(!wide.bounded_by_mix(&between, &between));
    }

    #[test]
    fn tokens_list_terms_highest_degree_first() {
        let p = Polynomial::constant(3).plus(&elements("n, 2"));
        let expected = quote! {
            ::staticflow::__private::summary::Polynomial { terms: &[
                ::staticflow::__private::summary::Term { coefficient: 2u64, symbols: &["n"], },
                ::staticflow::__private::summary::Term { coefficient: 3u64, symbols: &[], }
            ] }
        };
        assert_eq!(p.tokens().to_string(), expected.to_string());
    }
}
