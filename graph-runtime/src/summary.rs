//! What a compiled graph costs: parameters, floating-point operations and
//! workspace.
//!
//! `graph!` computes a [`Summary`] of every graph when the crate compiles and
//! emits it as `&'static` data in the associated constant `Name::SUMMARY`, so
//! reading it allocates nothing (only its [`Display`](fmt::Display) table
//! formats strings). Costs that depend on symbolic dims such as a batch size
//! `n` are [`Polynomial`]s in those symbols, shown as `4810·n + 10` and
//! evaluated for given sizes with [`Polynomial::evaluate`].
//!
//! ```
//! use graph_runtime::summary::{Polynomial, Term};
//!
//! // 2·64·32·n + 32·n + 10: what a dense layer and a small bias might cost.
//! const FLOPS: Polynomial = Polynomial {
//!     terms: &[
//!         Term { coefficient: 4128, symbols: &["n"] },
//!         Term { coefficient: 10, symbols: &[] },
//!     ],
//! };
//! assert_eq!(FLOPS.to_string(), "4128·n + 10");
//! assert_eq!(FLOPS.evaluate(&[("n", 32)]), Ok(4128 * 32 + 10));
//! ```
//!
//! # Floating-point operations
//!
//! [`Cost::flops`] counts the operations one call performs, summed over the
//! nodes it computes. Each op costs a fixed number of operations per element,
//! counted from its formula: `+ - * /`, a comparison, a `max`/`min` and one
//! transcendental function (`exp`, `log`, `sqrt`, `tanh`, `erf`) count one
//! each; a fused multiply-add counts two. Below, *out* is the number of
//! elements of the op's result, *in* that of its (first) operand, and a *row*
//! is one slice along the axis the op works on.
//!
//! | op | operations |
//! | --- | --- |
//! | `add`, `sub`, `mul`, `div`, `maximum`, `minimum`, comparisons, `select` | 1 per out |
//! | `neg`, `abs`, `exp`, `log`, `sqrt`, `square`, `relu`, `tanh`, `erf`, `pow` | 1 per out |
//! | `leaky_relu` (compare, scale), `clip` (max, min) | 2 per out |
//! | `softplus` (`ln(1 + e^x)`) | 3 per out |
//! | `sigmoid` (`1 / (1 + e^-x)`), `elu` (compare, then `α·(e^x − 1)`: exp, subtract, scale), `hard_sigmoid` (`α·x + β`: multiply, add; then max, min) | 4 per out |
//! | `gelu_exact` (`0.5·x·(1 + erf(x/√2))`), `silu` (`x·sigmoid(x)`: sigmoid's 4, multiply) | 5 per out |
//! | `gelu_tanh` (`0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`) | 9 per out |
//! | `sum`, `max`, `min`, `argmax` | 1 per in |
//! | `mean` | 1 per in + 1 per out |
//! | `size` | 0 |
//! | `softmax` (max, subtract, exp, sum, divide) | 5 per in |
//! | `log_softmax` (max, subtract, exp, sum, subtract) | 5 per in + 1 per row (log) |
//! | `logsumexp` (max, subtract, exp, sum) | 4 per in + 2 per out (log, add the max back) |
//! | `mse` (subtract, square, sum) | 3 per in + 1 (divide) |
//! | `softmax_cross_entropy`, probability labels | 7 per logit + 1 per row |
//! | `softmax_cross_entropy`, class-index labels | 4 per logit + 2 per row |
//! | `matmul` `[m, k] × [k, n]` (also 1-D and batched) | 2·k per out, so 2·m·k·n |
//! | `dense`: `matmul`, bias add and activation, fused by the optimizer | its parts: 2·k per out, + 1 per out for the bias, + the activation's count |
//! | `accumulate`: a `#[no_std]` step's update `w + c·a·b`, fused by the optimizer | 2·k + 1 per element of `w` |
//! | `conv2d` with filter `[kh, kw, c, o]` | 2·kh·kw·c per out |
//! | `fused_conv2d`: `conv2d`, bias add and activation, fused by the optimizer | its parts: 2·kh·kw·c per out, + 1 per out for the bias, + the activation's count |
//! | `max_pool2d` / `avg_pool2d` with window `[wh, ww]` | wh·ww per out / wh·ww + 1 per out |
//! | `batch_norm` | 4 per out + 2 per feature (add ε, square root) |
//! | `layer_norm` | 7 per out + 4 per row |
//! | `conv2d`'s gradients, made by `grad` | each as the forward: 2·kh·kw·c per element of the forward's result |
//! | the pools' gradients, made by `grad` | wh·ww per element of the forward's result |
//! | `dropout` | 0 outside a training step (the identity); in a step's forward pass and gradient, 1 per out (the scaling; drawing the mask is not counted) |
//! | `transpose`, `permute`, `reshape`, `concat`, `slice`, `pad`, `broadcast_to`, `expand_dims`, `squeeze`, `gather` | 0: data movement only |
//! | inputs, variables, constants | 0 |
//! | `fused`: a tree of elementwise ops, fused by the optimizer | its ops' counts added, per out |
//! | a function's slope `f'(x)`, made by `grad` | the function's count, per out |
//!
//! The summary describes the graph after optimization, so a fused node is
//! counted as the sum of the ops it replaces: optimization moves work, it
//! does not change the count (a fused tree computes every op at the shape of
//! its result, so an op on a small operand that broadcasts counts once per
//! result element there).
//!
//! Windows are counted whole, padding cells included, so a `same`-padded
//! convolution is counted as if every window were full.
//!
//! # Workspace
//!
//! [`Cost::workspace`] is the peak, over the call's schedule (the graph's
//! nodes in topological order), of the bytes held by live intermediate
//! values. A value is live from the node that computes it to its last user;
//! the call's results (outputs, or the new values of an update) stay live to
//! the end. Inputs, variables and constants are not counted: they belong to
//! the caller or to the graph. Elements take 4 bytes (`f32`), 8 (`usize`,
//! counted as on 64-bit targets) or 1 (`bool`); a scalar counts as one element.
//!
//! The bytes live at each point of the schedule form a polynomial, and the
//! largest of them can depend on the sizes (`64·n` against `40·n + 96` swaps
//! at `n = 4`), so the peak is a [`Peak`]: the candidate polynomials that no
//! other candidate bounds term by term, evaluated as their maximum.

use core::fmt;

use crate::check::Dim;

/// The costs of a compiled graph, as computed by `graph!`: one row per node,
/// its parameters, and what one call of `run` (and of `update`) computes and
/// holds.
///
/// Every generated type `Name` has it as `Name::SUMMARY`. Its
/// [`Display`](fmt::Display) is a table in the style of a Keras model
/// summary.
///
/// ```
/// use graph_runtime::summary::{Cost, Footprint, NodeSummary, Peak, Polynomial, Summary, Term};
/// use graph_runtime::Dim;
///
/// const NONE: Polynomial = Polynomial { terms: &[] };
/// // What `graph!` emits for `input x: [n]; output y = exp(x);`.
/// const SUMMARY: Summary = Summary {
///     name: "Exp",
///     symbols: &["n"],
///     nodes: &[
///         NodeSummary { name: Some("x"), op: "input", shape: &[Dim::Symbol("n")], params: 0, flops: NONE },
///         NodeSummary {
///             name: Some("y"),
///             op: "exp",
///             shape: &[Dim::Symbol("n")],
///             params: 0,
///             flops: Polynomial { terms: &[Term { coefficient: 1, symbols: &["n"] }] },
///         },
///     ],
///     parameters: Footprint { tensors: 0, elements: 0, bytes: 0 },
///     constants: Footprint { tensors: 0, elements: 0, bytes: 0 },
///     run: Cost {
///         flops: Polynomial { terms: &[Term { coefficient: 1, symbols: &["n"] }] },
///         workspace: Peak {
///             candidates: &[Polynomial { terms: &[Term { coefficient: 4, symbols: &["n"] }] }],
///         },
///     },
///     update: None,
///     optimizer_state: Footprint { tensors: 0, elements: 0, bytes: 0 },
///     steps: &[],
/// };
/// assert_eq!(SUMMARY.run.flops.evaluate(&[("n", 100)]), Ok(100));
/// assert_eq!(SUMMARY.run.workspace.evaluate(&[("n", 100)]), Ok(400));
/// assert!(SUMMARY.to_string().contains("FLOPs per run"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// The generated type's name.
    pub name: &'static str,
    /// The symbolic dims of the graph, in order of first appearance.
    pub symbols: &'static [&'static str],
    /// Every node of the graph after optimization, in the order a call
    /// computes them.
    pub nodes: &'static [NodeSummary],
    /// The variables: the trained parameters, stored in the struct.
    pub parameters: Footprint,
    /// The constants, baked into the generated code.
    pub constants: Footprint,
    /// One call of `run`: every output. Zero for a graph without outputs.
    pub run: Cost,
    /// One call of `update`, for a graph with variable updates.
    pub update: Option<Cost>,
    /// The optimizers' state (moments, velocities, bias corrections), stored
    /// in the struct beside the parameters.
    pub optimizer_state: Footprint,
    /// One call of each training step: its forward pass, backward pass and
    /// updates.
    pub steps: &'static [StepSummary],
}

/// What one call of a training step computes and holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepSummary {
    /// The step's name (its method).
    pub name: &'static str,
    /// The variables it trains.
    pub trained: Footprint,
    /// Its FLOPs and peak workspace: forward, backward and update.
    pub cost: Cost,
}

/// How many tensors, elements and bytes a group of stored values takes.
///
/// ```
/// use graph_runtime::summary::Footprint;
///
/// let weights = Footprint { tensors: 2, elements: 2080, bytes: 8320 };
/// assert_eq!(weights.to_string(), "2080 in 2 tensors (8320 bytes)");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Footprint {
    /// The number of tensors (scalars included).
    pub tensors: usize,
    /// Their elements, all together.
    pub elements: usize,
    /// Their size in bytes (`f32` elements: 4 each).
    pub bytes: usize,
}

impl fmt::Display for Footprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = if self.tensors == 1 { "" } else { "s" };
        write!(
            f,
            "{} in {} tensor{plural} ({} bytes)",
            self.elements, self.tensors, self.bytes
        )
    }
}

/// One node of a graph, as a row of its [`Summary`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeSummary {
    /// The user's name for the node (`let h = ..`), if it has one.
    pub name: Option<&'static str>,
    /// The op, as the graph language names it: `"matmul"`, `"relu"`; leaves
    /// are `"input"`, `"var"` and `"const"`.
    pub op: &'static str,
    /// The shape of the node's value, symbolic dims kept.
    pub shape: &'static [Dim],
    /// The elements the node stores as a parameter: a variable's size, else 0.
    pub params: usize,
    /// The floating-point operations computing the node takes, by the
    /// conventions of the [module documentation](self).
    pub flops: Polynomial,
}

/// What one call of a generated method computes and holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cost {
    /// Floating-point operations, summed over the nodes the call computes.
    pub flops: Polynomial,
    /// Peak bytes of intermediate values, over the call's schedule.
    pub workspace: Peak,
}

/// A polynomial in a graph's symbolic dims with non-negative integer
/// coefficients, such as `2·n·m + 10`.
///
/// ```
/// use graph_runtime::summary::{EvaluateError, Polynomial, Term};
///
/// let p = Polynomial {
///     terms: &[
///         Term { coefficient: 3, symbols: &["n", "n"] },
///         Term { coefficient: 1, symbols: &["m"] },
///     ],
/// };
/// assert_eq!(p.to_string(), "3·n² + m");
/// assert_eq!(p.evaluate(&[("n", 2), ("m", 5)]), Ok(17));
/// assert_eq!(p.evaluate(&[("n", 2)]), Err(EvaluateError::Unbound("m")));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Polynomial {
    /// The terms, largest degree first; no two share their symbols. No terms
    /// is the zero polynomial.
    pub terms: &'static [Term],
}

/// One term of a [`Polynomial`]: a coefficient times a product of symbols.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Term {
    /// The constant factor.
    pub coefficient: u64,
    /// The symbols multiplied, sorted, a symbol repeated once per power
    /// (`["n", "n"]` is `n²`). Empty for the constant term.
    pub symbols: &'static [&'static str],
}

/// Why a [`Polynomial`] or a [`Peak`] could not be evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvaluateError {
    /// The polynomial mentions a symbol that was given no size.
    Unbound(&'static str),
    /// The value does not fit in a `u64`.
    Overflow,
}

impl fmt::Display for EvaluateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EvaluateError::Unbound(symbol) => {
                write!(f, "the symbolic dim `{symbol}` was given no size")
            }
            EvaluateError::Overflow => f.write_str("the value does not fit in a u64"),
        }
    }
}

impl std::error::Error for EvaluateError {}

impl Polynomial {
    /// The zero polynomial.
    pub const ZERO: Polynomial = Polynomial { terms: &[] };

    /// The polynomial's value when each symbol takes the size given for it in
    /// `sizes`, a list of `(symbol, size)` pairs. Symbols the polynomial does
    /// not mention may be given, and are ignored.
    ///
    /// # Errors
    /// [`EvaluateError::Unbound`] naming a symbol of the polynomial missing
    /// from `sizes`; [`EvaluateError::Overflow`] if the value exceeds
    /// `u64::MAX`.
    pub fn evaluate(&self, sizes: &[(&str, usize)]) -> Result<u64, EvaluateError> {
        let mut total: u64 = 0;
        for term in self.terms {
            let mut value = term.coefficient;
            for &symbol in term.symbols {
                let size = sizes
                    .iter()
                    .find(|(name, _)| *name == symbol)
                    .map(|&(_, size)| size)
                    .ok_or(EvaluateError::Unbound(symbol))?;
                let size = u64::try_from(size).map_err(|_| EvaluateError::Overflow)?;
                value = value.checked_mul(size).ok_or(EvaluateError::Overflow)?;
            }
            total = total.checked_add(value).ok_or(EvaluateError::Overflow)?;
        }
        Ok(total)
    }

    /// Whether this is the zero polynomial.
    #[must_use]
    pub fn is_zero(&self) -> bool {
        self.terms.iter().all(|term| term.coefficient == 0)
    }
}

impl fmt::Display for Polynomial {
    /// Terms joined by ` + `, factors by `·`, powers as superscripts:
    /// `3·n² + 2·n·m + 10`; the zero polynomial is `0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for term in self.terms.iter().filter(|term| term.coefficient != 0) {
            if !first {
                f.write_str(" + ")?;
            }
            first = false;
            write!(f, "{term}")?;
        }
        if first {
            f.write_str("0")?;
        }
        Ok(())
    }
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut factors = 0;
        if self.coefficient != 1 || self.symbols.is_empty() {
            write!(f, "{}", self.coefficient)?;
            factors += 1;
        }
        let mut rest = self.symbols;
        while let Some((&symbol, _)) = rest.split_first() {
            let power = rest.iter().take_while(|&&s| s == symbol).count();
            rest = &rest[power..];
            if factors > 0 {
                f.write_str("·")?;
            }
            factors += 1;
            f.write_str(symbol)?;
            if power > 1 {
                write_superscript(f, power)?;
            }
        }
        Ok(())
    }
}

fn write_superscript(f: &mut fmt::Formatter<'_>, power: usize) -> fmt::Result {
    const DIGITS: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    let text = power.to_string();
    for digit in text.bytes() {
        let index = usize::from(digit - b'0');
        write!(f, "{}", DIGITS[index])?;
    }
    Ok(())
}

/// The largest of several polynomials: a peak whose location in the
/// schedule depends on the sizes.
///
/// `graph!` keeps only candidates that no other candidate bounds term by
/// term, so a peak that is one polynomial for all sizes has one candidate.
///
/// ```
/// use graph_runtime::summary::{Peak, Polynomial, Term};
///
/// let peak = Peak {
///     candidates: &[
///         Polynomial { terms: &[Term { coefficient: 64, symbols: &["n"] }] },
///         Polynomial {
///             terms: &[
///                 Term { coefficient: 40, symbols: &["n"] },
///                 Term { coefficient: 96, symbols: &[] },
///             ],
///         },
///     ],
/// };
/// assert_eq!(peak.to_string(), "max(64·n, 40·n + 96)");
/// assert_eq!(peak.evaluate(&[("n", 1)]), Ok(136));
/// assert_eq!(peak.evaluate(&[("n", 10)]), Ok(640));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Peak {
    /// The polynomials whose maximum is the peak. None means 0.
    pub candidates: &'static [Polynomial],
}

impl Peak {
    /// The peak for the given sizes: the largest candidate's value.
    ///
    /// # Errors
    /// As [`Polynomial::evaluate`], for any candidate.
    pub fn evaluate(&self, sizes: &[(&str, usize)]) -> Result<u64, EvaluateError> {
        let mut peak = 0;
        for candidate in self.candidates {
            peak = peak.max(candidate.evaluate(sizes)?);
        }
        Ok(peak)
    }
}

impl fmt::Display for Peak {
    /// The one candidate, or `max(a, b, ..)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.candidates {
            [] => f.write_str("0"),
            [only] => write!(f, "{only}"),
            several => {
                f.write_str("max(")?;
                for (i, candidate) in several.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{candidate}")?;
                }
                f.write_str(")")
            }
        }
    }
}

/// A shape as the graph writes it: `[n, 64]`.
struct ShapeText<'a>(&'a [Dim]);

impl fmt::Display for ShapeText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, dim) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            match dim {
                Dim::Fixed(size) => write!(f, "{size}")?,
                Dim::Symbol(symbol) => f.write_str(symbol)?,
            }
        }
        f.write_str("]")
    }
}

impl fmt::Display for Summary {
    /// A table with one row per node (name, op, shape, parameters, FLOPs),
    /// then the totals. Unnamed nodes show `-`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const HEADER: [&str; 5] = ["node", "op", "shape", "params", "FLOPs"];
        let rows: Vec<[String; 5]> = self
            .nodes
            .iter()
            .map(|node| {
                [
                    node.name.unwrap_or("-").to_string(),
                    node.op.to_string(),
                    ShapeText(node.shape).to_string(),
                    node.params.to_string(),
                    node.flops.to_string(),
                ]
            })
            .collect();
        let mut widths = HEADER.map(|title| title.chars().count());
        for row in &rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let line_width = widths.iter().sum::<usize>() + 2 * (widths.len() - 1);
        let rule = "─".repeat(line_width);
        let write_row = |f: &mut fmt::Formatter<'_>, cells: [&str; 5]| -> fmt::Result {
            let mut line = String::new();
            for (i, (cell, width)) in cells.iter().zip(widths).enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                let pad = " ".repeat(width - cell.chars().count());
                // Counts read best right-aligned, text left-aligned.
                if i == 3 {
                    line.push_str(&pad);
                    line.push_str(cell);
                } else {
                    line.push_str(cell);
                    line.push_str(&pad);
                }
            }
            writeln!(f, "{}", line.trim_end())
        };
        writeln!(f, "{}", self.name)?;
        writeln!(f, "{rule}")?;
        write_row(f, HEADER)?;
        writeln!(f, "{rule}")?;
        for row in &rows {
            write_row(f, [&row[0], &row[1], &row[2], &row[3], &row[4]])?;
        }
        writeln!(f, "{rule}")?;
        writeln!(f, "{:<22}{}", "parameters", self.parameters)?;
        writeln!(f, "{:<22}{}", "constants", self.constants)?;
        writeln!(f, "{:<22}{}", "FLOPs per run", self.run.flops)?;
        write!(
            f,
            "{:<22}{} bytes at peak",
            "workspace per run", self.run.workspace
        )?;
        if let Some(update) = &self.update {
            writeln!(f)?;
            writeln!(f, "{:<22}{}", "FLOPs per update", update.flops)?;
            write!(
                f,
                "{:<22}{} bytes at peak",
                "workspace per update", update.workspace
            )?;
        }
        if !self.steps.is_empty() {
            writeln!(f)?;
            write!(f, "{:<22}{}", "optimizer state", self.optimizer_state)?;
        }
        for step in self.steps {
            writeln!(f)?;
            writeln!(f, "step `{}` trains {}", step.name, step.trained)?;
            writeln!(f, "{:<22}{}", "  FLOPs per step", step.cost.flops)?;
            write!(
                f,
                "{:<22}{} bytes at peak",
                "  workspace per step", step.cost.workspace
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const N: Polynomial = Polynomial {
        terms: &[Term {
            coefficient: 1,
            symbols: &["n"],
        }],
    };

    #[test]
    fn terms_print_like_formulas() {
        let p = Polynomial {
            terms: &[
                Term {
                    coefficient: 2,
                    symbols: &["m", "n", "n", "n"],
                },
                Term {
                    coefficient: 1,
                    symbols: &["k", "n"],
                },
                Term {
                    coefficient: 1,
                    symbols: &[],
                },
            ],
        };
        assert_eq!(p.to_string(), "2·m·n³ + k·n + 1");
        assert_eq!(Polynomial::ZERO.to_string(), "0");
        let big = Polynomial {
            terms: &[Term {
                coefficient: 1,
                symbols: &["x"; 12],
            }],
        };
        assert_eq!(big.to_string(), "x¹²");
    }

    #[test]
    fn evaluation_reports_missing_sizes_and_overflow() {
        assert_eq!(N.evaluate(&[("n", 7), ("m", 1)]), Ok(7));
        assert_eq!(N.evaluate(&[]), Err(EvaluateError::Unbound("n")));
        let huge = Polynomial {
            terms: &[Term {
                coefficient: u64::MAX,
                symbols: &["n"],
            }],
        };
        assert_eq!(huge.evaluate(&[("n", 2)]), Err(EvaluateError::Overflow));
        assert_eq!(Polynomial::ZERO.evaluate(&[]), Ok(0));
        assert_eq!(Peak::default().evaluate(&[]), Ok(0));
        assert_eq!(Peak::default().to_string(), "0");
    }

    #[test]
    fn table_has_a_row_per_node_and_the_totals() {
        let summary = Summary {
            name: "Double",
            symbols: &["n"],
            nodes: &[
                NodeSummary {
                    name: Some("x"),
                    op: "input",
                    shape: &[Dim::Symbol("n")],
                    params: 0,
                    flops: Polynomial::ZERO,
                },
                NodeSummary {
                    name: None,
                    op: "mul",
                    shape: &[Dim::Symbol("n")],
                    params: 0,
                    flops: N,
                },
            ],
            parameters: Footprint::default(),
            constants: Footprint {
                tensors: 1,
                elements: 1,
                bytes: 4,
            },
            run: Cost {
                flops: N,
                workspace: Peak {
                    candidates: &[Polynomial {
                        terms: &[Term {
                            coefficient: 4,
                            symbols: &["n"],
                        }],
                    }],
                },
            },
            update: None,
            optimizer_state: Footprint::default(),
            steps: &[],
        };
        let text = summary.to_string();
        let expected = "\
Double
─────────────────────────────────
node  op     shape  params  FLOPs
─────────────────────────────────
x     input  [n]         0  0
-     mul    [n]         0  n
─────────────────────────────────
parameters            0 in 0 tensors (0 bytes)
constants             1 in 1 tensor (4 bytes)
FLOPs per run         n
workspace per run     4·n bytes at peak";
        assert_eq!(text, expected);
    }
}
