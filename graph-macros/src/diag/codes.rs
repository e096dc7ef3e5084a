//! The numbered kinds of compile error, like rustc's `E0308`: every error
//! `graph!` reports starts with one (`[SF0301] ...`), and `docs/ERRORS.md`
//! has an entry per code with its cause, a failing example and the fix.
//!
//! Codes are grouped by phase in ranges of a hundred and never reused: a
//! retired code keeps its number. A code is a kind of mistake, not one
//! message: messages that share a cause and a fix share a code.

use std::fmt;

/// Declares [`Code`], its numbers and titles, and [`Code::ALL`], from one
/// table, so that a code cannot be missing from any of them.
macro_rules! codes {
    ($($(#[$doc:meta])* $name:ident = $number:literal, $title:literal;)*) => {
        /// A kind of compile error, shown as `SF` and four digits.
        #[derive(Clone, Copy, PartialEq, Eq, Debug)]
        pub enum Code {
            $($(#[$doc])* $name,)*
        }

        impl Code {
            /// Every code, in numeric order.
            #[cfg(test)]
            pub const ALL: &'static [Code] = &[$(Code::$name,)*];

            /// The code's number, `301` for `SF0301`.
            pub fn number(self) -> u16 {
                match self {
                    $(Code::$name => $number,)*
                }
            }

            /// The one-line title of the code's entry in `docs/ERRORS.md`.
            #[cfg(test)]
            pub fn title(self) -> &'static str {
                match self {
                    $(Code::$name => $title,)*
                }
            }
        }
    };
}

codes! {
    // SF00xx: the compiler itself.
    /// A phase built something inconsistent: a bug in `graph!`, not in the
    /// graph. No input is known to produce it.
    Internal = 1, "internal error";

    // SF01xx: syntax, read by the parse phase.
    /// Tokens that do not form a graph: a missing `;`, `struct` or brace.
    Syntax = 101, "syntax error";
    /// `#[weights]`, `#[no_std]` or `#[optimize]` written wrongly or twice.
    GraphAttribute = 102, "malformed graph attribute";
    /// `struct Name<T>`: a graph takes no generic parameters.
    Generics = 103, "generic parameters on a graph";
    /// An `input` or `var` declared with a value, without a shape, or with an
    /// element type inputs cannot hold.
    Declaration = 104, "malformed input or variable declaration";
    /// A Rust operator the graph language lacks: `@`, `**`, `%`, `<`, `!=`.
    Operator = 105, "unsupported operator";
    /// A Rust expression the graph language lacks: `if`, paths, closures.
    Expression = 106, "unsupported expression";
    /// A literal the graph cannot hold: a suffix, a string, an integer out
    /// of range, `true` where a value is expected.
    Literal = 107, "unsupported literal";
    /// An expression nested or chained beyond the parser's bounds.
    TooDeep = 108, "expression too deep or too long";
    /// An attribute other than a doc comment on a declaration.
    DeclarationAttribute = 109, "attribute on a declaration";

    // SF02xx: names, read by the resolve phase.
    /// A name no declaration of the graph declares.
    UnknownName = 201, "cannot find a name";
    /// A call of an op the library does not have.
    UnknownOp = 202, "unknown op";
    /// A name declared twice.
    Duplicate = 203, "name declared twice";
    /// A name starting with `__`, which generated code uses.
    ReservedName = 204, "reserved name";
    /// An assignment to something that is not a variable, or a variable
    /// assigned twice.
    Assignment = 205, "invalid assignment";
    /// Declarations that use each other in a loop.
    Cycle = 206, "cycle in the graph";
    /// Two generated methods with one name, or one with a reserved name.
    MethodName = 207, "generated method name clash";
    /// A graph with nothing to compute.
    NoOutputs = 208, "graph without outputs";

    // SF03xx: shapes and element types, inferred by the check phase.
    /// Operands of a broadcasting op whose sizes disagree.
    Broadcast = 301, "shapes do not broadcast";
    /// An operand of the wrong element type (`f32`, `usize`, `bool`).
    ElementType = 302, "wrong element type";
    /// An axis that the operand does not have, or named twice.
    Axis = 303, "axis out of range";
    /// `matmul` operands of the wrong rank or with different inner sizes.
    Matmul = 304, "matrix product shapes";
    /// An operand whose shape the op's rule does not accept.
    OperandShape = 305, "operand shape does not fit the op";
    /// A `reshape` to a different number of elements.
    Reshape = 306, "reshape changes the element count";
    /// A symbolic dim where the op needs a literal size.
    SymbolicDim = 307, "literal size needed";
    /// An array with more bytes than memory can address.
    TooLarge = 308, "array too large";
    /// A shape annotation that disagrees with the inferred shape.
    Annotation = 309, "annotation mismatch";
    /// A variable declared with a symbolic dim.
    VariableShape = 310, "variable with a symbolic dim";
    /// A variable update of the wrong shape.
    UpdateShape = 311, "update shape mismatch";
    /// A `const` whose value is not a rectangular literal array.
    Constant = 312, "constant not a literal array";

    // SF04xx: the arguments of op calls.
    /// More positional arguments than the op has, or one given twice.
    TooManyArguments = 401, "too many arguments";
    /// A named argument the op does not have.
    UnknownParameter = 402, "unknown parameter";
    /// An op call without an argument the op requires.
    MissingArgument = 403, "missing argument";
    /// An attribute that is not a literal of the right kind or range.
    AttributeValue = 404, "invalid attribute value";

    // SF05xx: gradients and training steps.
    /// `grad(loss, x)` with `x` not an input or variable.
    GradTarget = 501, "gradient with respect to a non-leaf";
    /// A loss that depends on `x` only through a value without a gradient.
    NoGradientPath = 502, "no gradient path";
    /// An op whose gradient is not available.
    NoGradientRule = 503, "op without a gradient";
    /// `grad` or `minimize` of a loss that is not a scalar.
    LossShape = 504, "loss not a scalar";
    /// A `step` whose value is not `minimize(loss, optimizer)`.
    StepForm = 505, "malformed training step";
    /// An optimizer the library does not have.
    UnknownOptimizer = 506, "unknown optimizer";
    /// A learning rate that is not an `f32` scalar.
    LearningRate = 507, "learning rate not an f32 scalar";
    /// `vars = [..]` listing something other than a variable, or twice.
    StepVars = 508, "invalid `vars` of a step";
    /// `outputs = [..]` listing something other than a computed output.
    StepOutputs = 509, "invalid `outputs` of a step";
    /// A step whose loss depends on no variable.
    NothingToTrain = 510, "step trains nothing";
    /// Optimizer state whose name the graph already uses.
    StateName = 511, "optimizer state name taken";
    /// A variable that a step updates twice in its forward pass, or both
    /// trains and updates.
    UpdateConflict = 512, "conflicting updates in a step";
    /// An op whose training form cannot run with the given operands.
    TrainingForm = 513, "training form not available";

    // SF06xx: weights baked in at build time.
    /// A `#[weights]` file that cannot be read or parsed.
    WeightsFile = 601, "cannot read the weight file";
    /// A variable without a tensor in the weight file.
    MissingTensor = 602, "tensor missing from the weight file";
    /// A tensor of another shape or element type than its variable.
    TensorMismatch = 603, "tensor does not match its variable";

    // SF07xx: `#[no_std]` graphs.
    /// A `#[no_std]` input with a symbolic dim.
    BareSymbolicInput = 701, "symbolic input in a `#[no_std]` graph";
    /// An op or rank that `#[no_std]` graphs do not have, as written or in
    /// the backward pass a step derives.
    BareUnsupported = 702, "not available in `#[no_std]` graphs";
    /// A step of a `#[no_std]` graph asked to return outputs.
    BareStepOutputs = 703, "step outputs in a `#[no_std]` graph";

    // SF08xx: memory budgets.
    /// A `#[budget(..)]` attribute written wrongly.
    BudgetAttribute = 801, "malformed budget";
    /// A workspace budget on a graph whose workspace depends on symbolic
    /// dims.
    BudgetSymbolic = 802, "workspace budget on symbolic shapes";
    /// A workspace larger than its budget.
    WorkspaceBudget = 803, "workspace over budget";
    /// Baked weights larger than their budget.
    WeightsBudget = 804, "weights over budget";

    // SF09xx: ONNX models imported with `#[onnx(..)]`.
    /// `#[onnx(..)]` in a crate whose `staticflow` lacks the `onnx` feature.
    OnnxFeature = 901, "ONNX import not enabled";
    /// A model file that cannot be read or decoded: missing, truncated,
    /// corrupt, or not ONNX.
    OnnxFile = 902, "cannot read the ONNX model";
    /// An operator (or one of its attributes, or an opset) the importer
    /// does not map.
    OnnxUnsupported = 903, "unsupported ONNX operator";
    /// A model the graph cannot express: an input without a size or name,
    /// a data type, an initializer missing, names that collide.
    OnnxModel = 904, "ONNX model not expressible as a graph";
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SF{:04}", self.number())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::{Path, PathBuf};

    use super::Code;

    /// The workspace root, where `tests/ui` and `docs` are.
    fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    /// The text of every compile-fail snapshot, `tests/ui/*.stderr`.
    fn snapshots() -> Vec<(String, String)> {
        let dir = root().join("tests/ui");
        let mut files: Vec<(String, String)> = std::fs::read_dir(&dir)
            .unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "stderr"))
            .map(|path| {
                let text = std::fs::read_to_string(&path).unwrap();
                (
                    path.file_name().unwrap().to_string_lossy().into_owned(),
                    text,
                )
            })
            .collect();
        files.sort();
        files
    }

    fn error_index() -> String {
        std::fs::read_to_string(root().join("docs/ERRORS.md")).unwrap()
    }

    /// Every `[SFdddd]` in `text`.
    fn codes_in(text: &str) -> BTreeSet<String> {
        text.match_indices("[SF")
            .filter_map(|(at, _)| text.get(at + 1..at + 8))
            .filter_map(|code| code.strip_suffix(']'))
            .filter(|code| code[2..].bytes().all(|b| b.is_ascii_digit()))
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn codes_are_numbered_in_order_within_their_ranges() {
        assert_eq!(Code::Syntax.to_string(), "SF0101");
        assert_eq!(Code::Internal.to_string(), "SF0001");
        for pair in Code::ALL.windows(2) {
            assert!(pair[0].number() < pair[1].number(), "{pair:?}");
        }
        // Ranges of a hundred, SF00xx to SF09xx, each starting at xx01.
        let ranges: BTreeSet<u16> = Code::ALL.iter().map(|c| c.number() / 100).collect();
        assert_eq!(ranges, (0..=9).collect());
        for range in ranges {
            assert!(
                Code::ALL.iter().any(|c| c.number() == range * 100 + 1),
                "{range}"
            );
        }
    }

    /// A new code needs a compile-fail case whose snapshot shows it, and an
    /// entry in `docs/ERRORS.md` under its title; a code in a snapshot must
    /// be one of the table's. Only `SF0001`, which no input is known to
    /// produce, and `SF0901`, which the suite cannot show (it builds with the
    /// `onnx` feature on, to test the importer), have no case.
    #[test]
    fn every_code_has_a_case_and_an_entry_in_the_error_index() {
        let snapshots = snapshots();
        let shown: BTreeSet<String> = snapshots.iter().flat_map(|(_, t)| codes_in(t)).collect();
        let known: BTreeSet<String> = Code::ALL.iter().map(ToString::to_string).collect();
        let unknown: Vec<&String> = shown.difference(&known).collect();
        assert!(
            unknown.is_empty(),
            "codes in snapshots but not in the table: {unknown:?}"
        );
        let index = error_index();
        for code in Code::ALL {
            if *code != Code::Internal && *code != Code::OnnxFeature {
                assert!(
                    shown.contains(&code.to_string()),
                    "no tests/ui case shows {code} ({})",
                    code.title()
                );
            }
            let heading = format!("\n## {code}: {}\n", code.title());
            assert!(
                index.contains(&heading),
                "docs/ERRORS.md lacks `{}`",
                heading.trim()
            );
        }
        let headings = index
            .lines()
            .filter(|line| line.starts_with("## SF"))
            .count();
        assert_eq!(
            headings,
            Code::ALL.len(),
            "an entry in docs/ERRORS.md without a code"
        );
    }

    /// The messages the error index quotes are those of the snapshots (but
    /// for the weight-file paths, which it shortens).
    #[test]
    fn the_error_index_quotes_real_messages() {
        let snapshots = snapshots();
        let index = error_index();
        let quoted: Vec<&str> = index
            .lines()
            .filter(|line| line.starts_with("error: [SF") && !line.contains(".safetensors"))
            .collect();
        assert!(quoted.len() > 40, "{}", quoted.len());
        for line in quoted {
            assert!(
                snapshots
                    .iter()
                    .any(|(_, text)| text.lines().any(|l| l == line)),
                "docs/ERRORS.md quotes a message no snapshot shows: {line}"
            );
        }
    }
}
