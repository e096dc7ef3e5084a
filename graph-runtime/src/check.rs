//! Run-time checks of fed values against declared shapes.
//!
//! A generated entry point creates one [`DimBindings`] per call and checks
//! each input once, on entry, before any kernel runs. The first input that
//! mentions a symbolic dim binds it; every later mention must agree.

use crate::Error;

/// One axis of a declared shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dim {
    /// A size written as a literal in the graph, such as `784`.
    Fixed(usize),
    /// A size written as a name in the graph, such as `n`: any size, but the
    /// same one everywhere the name appears within one call.
    Symbol(&'static str),
}

/// The sizes that the symbolic dims of a graph have taken during one call.
///
/// `N` is the number of distinct symbols the graph uses; the table lives on
/// the stack.
///
/// ```
/// use graph_runtime::{Dim, DimBindings, Error};
///
/// const X: &[Dim] = &[Dim::Symbol("n"), Dim::Fixed(2)];
/// const Y: &[Dim] = &[Dim::Symbol("n")];
/// let mut dims = DimBindings::new(["n"]);
/// dims.check_input("x", X, &[3, 2]).unwrap();
/// assert_eq!(dims.get("n"), Some(3));
/// let err = dims.check_input("y", Y, &[4]).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "input `y` has shape [4], but the graph declares [n] with n = 3"
/// );
/// ```
#[derive(Debug, Clone)]
pub struct DimBindings<const N: usize> {
    names: [&'static str; N],
    sizes: [Option<usize>; N],
}

impl<const N: usize> DimBindings<N> {
    /// A table in which no symbol is bound yet.
    #[must_use]
    pub const fn new(names: [&'static str; N]) -> Self {
        DimBindings {
            names,
            sizes: [None; N],
        }
    }

    /// The size bound to `symbol`, if an input has bound it.
    #[must_use]
    pub fn get(&self, symbol: &str) -> Option<usize> {
        let index = self.names.iter().position(|name| *name == symbol)?;
        self.sizes[index]
    }

    /// The size bound to `symbol`, or 0 if none is.
    ///
    /// Generated code asks only for symbols that an input of the same call
    /// has bound, so the fallback never shows; it exists so that this lookup
    /// cannot panic.
    #[must_use]
    pub fn size(&self, symbol: &str) -> usize {
        self.get(symbol).unwrap_or(0)
    }

    /// Checks that `actual` matches `declared`, binding symbols seen for the
    /// first time.
    ///
    /// On a mismatch nothing is bound, and the error names `input`, the
    /// declared shape, the bindings seen so far and the actual shape.
    #[inline]
    pub fn check_input(
        &mut self,
        input: &'static str,
        declared: &'static [Dim],
        actual: &[usize],
    ) -> Result<(), Error> {
        let before = self.sizes;
        let ok = declared.len() == actual.len()
            && declared
                .iter()
                .zip(actual)
                .all(|(dim, &size)| self.unify(*dim, size));
        if ok {
            return Ok(());
        }
        self.sizes = before;
        let bindings = self
            .names
            .iter()
            .zip(&self.sizes)
            .filter_map(|(name, size)| size.map(|size| (*name, size)))
            .collect();
        Err(Error::InputShape {
            input,
            declared,
            bindings,
            actual: actual.to_vec(),
        })
    }

    #[inline]
    fn unify(&mut self, dim: Dim, size: usize) -> bool {
        match dim {
            Dim::Fixed(expected) => expected == size,
            Dim::Symbol(symbol) => {
                let Some(index) = self.names.iter().position(|name| *name == symbol) else {
                    // A symbol the table does not list cannot be constrained
                    // by earlier inputs; generated code always lists them all.
                    return true;
                };
                if let Some(bound) = self.sizes[index] {
                    bound == size
                } else {
                    self.sizes[index] = Some(size);
                    true
                }
            }
        }
    }
}

/// Checks that a value given for a variable has the variable's shape.
///
/// ```
/// use graph_runtime::check::check_variable;
///
/// assert!(check_variable("w", &[2, 3], &[2, 3]).is_ok());
/// let err = check_variable("w", &[2, 3], &[3, 2]).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "variable `w` must have shape [2, 3], but the value given has shape [3, 2]"
/// );
/// ```
pub fn check_variable(
    variable: &'static str,
    expected: &'static [usize],
    actual: &[usize],
) -> Result<(), Error> {
    if expected == actual {
        Ok(())
    } else {
        Err(Error::VariableShape {
            variable,
            expected,
            actual: actual.to_vec(),
        })
    }
}

/// The output `output` of a graph's shared schedule, which computed it if
/// asked to: `Some` unless staticflow has a bug, reported as
/// [`Error::NotComputed`] rather than a panic.
///
/// # Errors
/// [`Error::NotComputed`] when `value` is `None`.
#[doc(hidden)]
pub fn fetched<T>(value: Option<T>, output: &'static str) -> Result<T, Error> {
    value.ok_or(Error::NotComputed { output })
}

#[cfg(test)]
mod tests {
    use super::*;

    const XS: &[Dim] = &[Dim::Symbol("n"), Dim::Fixed(3)];
    const YS: &[Dim] = &[Dim::Symbol("n"), Dim::Symbol("m")];

    #[test]
    fn binds_symbols_across_inputs() {
        let mut dims = DimBindings::new(["n", "m"]);
        dims.check_input("x", XS, &[5, 3]).unwrap();
        dims.check_input("y", YS, &[5, 7]).unwrap();
        assert_eq!(dims.get("n"), Some(5));
        assert_eq!(dims.get("m"), Some(7));
    }

    #[test]
    fn rejects_inconsistent_symbol_and_keeps_earlier_bindings() {
        let mut dims = DimBindings::new(["n", "m"]);
        dims.check_input("x", XS, &[5, 3]).unwrap();
        let err = dims.check_input("y", YS, &[6, 7]).unwrap_err();
        assert_eq!(
            err,
            Error::InputShape {
                input: "y",
                declared: YS,
                bindings: vec![("n", 5)],
                actual: vec![6, 7],
            }
        );
        // The failed check bound nothing.
        assert_eq!(dims.get("m"), None);
    }

    #[test]
    fn symbol_repeated_within_one_input_must_agree() {
        const SQUARE: &[Dim] = &[Dim::Symbol("n"), Dim::Symbol("n")];
        let mut dims = DimBindings::new(["n"]);
        assert!(dims.check_input("a", SQUARE, &[2, 3]).is_err());
        assert_eq!(dims.get("n"), None);
        assert!(dims.check_input("a", SQUARE, &[3, 3]).is_ok());
    }

    #[test]
    fn rejects_fixed_dim_and_rank() {
        let mut dims = DimBindings::new(["n"]);
        let err = dims.check_input("x", XS, &[5, 4]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "input `x` has shape [5, 4], but the graph declares [n, 3]"
        );
        assert!(dims.check_input("x", XS, &[5, 3, 1]).is_err());
    }

    #[test]
    fn zero_sized_dims_bind() {
        let mut dims = DimBindings::new(["n"]);
        dims.check_input("x", XS, &[0, 3]).unwrap();
        assert_eq!(dims.get("n"), Some(0));
    }

    #[test]
    fn an_output_not_computed_is_an_error_naming_it() {
        assert_eq!(super::fetched(Some(3), "y"), Ok(3));
        let error = super::fetched::<f32>(None, "probs").unwrap_err();
        assert_eq!(error, crate::Error::NotComputed { output: "probs" });
        assert!(error.to_string().contains("`probs`"), "{error}");
    }
}
