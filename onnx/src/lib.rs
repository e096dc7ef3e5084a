//! ONNX import for staticflow: a model file as `graph!` source and weights.
//!
//! [`import`] decodes a model (`prost`, over the messages of `proto.rs`),
//! walks its nodes in the file's order and writes one `graph!` declaration
//! per node that computes at run time, with the node's output name. What
//! depends only on the file (initializers, `Constant` nodes, `Shape`
//! arithmetic, transposes of weights) is folded here, when the crate
//! compiles. The result is the language of a hand-written graph: the
//! `graph!` macro's `#[onnx("model.onnx")]` parses and checks it as it does
//! any graph (shapes, types, the optimizer, the memory plan), and the
//! `staticflow-onnx` command prints it (`graph_source`) so that a user can
//! take the model inline.
//!
//! The mapping of each ONNX operator is in `ops/`, one module per family of
//! staticflow ops it lowers to.

#![forbid(unsafe_code)]

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

mod names;
mod ops;
pub mod proto;
mod tensor;
mod value;

use names::Names;
use prost::Message as _;
use value::{dims_text, Data, Dim, Elem, Layout, Tensor, Value};

/// What a model file becomes.
#[derive(Debug, Clone)]
pub struct Import {
    /// The declarations, one per line, in an order that respects the
    /// dependencies (inputs, variables, then the nodes as the file orders
    /// them).
    pub declarations: Vec<String>,
    /// The values of the variables, by name, in declaration order.
    pub weights: Vec<Weight>,
    /// Where the model came from, for the generated docs: the producer,
    /// its version and the default opset.
    pub producer: String,
    pub opset: i64,
}

/// One variable's value: an initializer of the file, possibly transposed
/// or permuted at import to the layout the graph uses.
#[derive(Debug, Clone, PartialEq)]
pub struct Weight {
    pub name: String,
    pub dims: Vec<usize>,
    pub values: Vec<f32>,
}

/// A problem with the file: what the macro reports as a compile error and
/// the command prints. `node` names the node it is about, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The bytes are not an ONNX model (truncated, corrupt, not protobuf).
    File,
    /// An operator, an attribute value or an opset the importer does not map.
    Unsupported,
    /// A model the graph cannot express: a missing initializer, an unknown
    /// dim, a dtype, names that collide.
    Model,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl Error {
    fn file(message: impl Into<String>) -> Self {
        Error {
            kind: ErrorKind::File,
            message: message.into(),
        }
    }

    fn model(message: impl Into<String>) -> Self {
        Error {
            kind: ErrorKind::Model,
            message: message.into(),
        }
    }
}

/// How to import.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Symbolic dims of the file given a size (`("batch", 1)`), by their
    /// name in the file or as the graph writes it.
    pub fixed: Vec<(String, usize)>,
}

/// The operators the importer maps, sorted.
#[must_use]
pub fn supported_operators() -> Vec<&'static str> {
    ops::supported()
}

/// The opsets the importer knows.
pub const OPSETS: std::ops::RangeInclusive<i64> = 7..=23;

/// Reads a model. `file` names it in messages. Every independent problem is
/// reported (each unsupported operator once per node), never a panic.
pub fn import(bytes: &[u8], file: &str) -> Result<Import, Vec<Error>> {
    import_with(bytes, file, &Options::default())
}

/// [`import`] with options.
pub fn import_with(bytes: &[u8], file: &str, options: &Options) -> Result<Import, Vec<Error>> {
    let model = proto::ModelProto::decode(bytes).map_err(|err| {
        vec![Error::file(format!(
            "`{file}` is not a readable ONNX model ({err}); it may be truncated or not an \
             `.onnx` file"
        ))]
    })?;
    let Some(graph) = model.graph.as_ref() else {
        return Err(vec![Error::file(format!(
            "`{file}` holds no graph: it is empty, truncated or not an ONNX model"
        ))]);
    };
    let opset = model
        .opset_import
        .iter()
        .find(|set| set.domain.is_empty() || set.domain == "ai.onnx")
        .map_or(1, |set| set.version);
    if !OPSETS.contains(&opset) {
        return Err(vec![Error {
            kind: ErrorKind::Unsupported,
            message: format!(
                "`{file}` uses opset {opset} of the default domain; the importer reads opsets \
                 {} to {}",
                OPSETS.start(),
                OPSETS.end()
            ),
        }]);
    }
    let mut importer = Importer::new(file, opset, graph);
    importer.fixed.clone_from(&options.fixed);
    importer.run(graph);
    if importer.errors.is_empty() {
        Ok(Import {
            declarations: importer.declarations,
            weights: importer.weights,
            producer: [
                model.producer_name.as_str(),
                model.producer_version.as_str(),
            ]
            .join(" ")
            .trim()
            .to_string(),
            opset,
        })
    } else {
        Err(importer.errors)
    }
}

/// The whole `graph!` call for `import`, as a user would write it: what the
/// `staticflow-onnx` command prints. `attributes` go before the struct
/// (such as `#[weights("model.safetensors")]`).
#[must_use]
pub fn graph_source(import: &Import, name: &str, file: &str, attributes: &[String]) -> String {
    let mut out = String::from("graph! {\n");
    let _ = writeln!(
        out,
        "    /// Imported from `{file}` (opset {}).",
        import.opset
    );
    if !import.producer.is_empty() {
        let _ = writeln!(out, "    /// Exported by {}.", import.producer);
    }
    for attribute in attributes {
        let _ = writeln!(out, "    {attribute}");
    }
    let _ = writeln!(out, "    pub struct {name} {{");
    for declaration in &import.declarations {
        let _ = writeln!(out, "        {declaration}");
    }
    out.push_str("    }\n}\n");
    out
}

/// The state of one import: the values by ONNX name, and what is written.
pub(crate) struct Importer<'g> {
    file: String,
    opset: i64,
    values: HashMap<String, Value>,
    /// The graph's outputs by ONNX name, with the name each gets.
    outputs: HashMap<String, String>,
    names: Names,
    declarations: Vec<String>,
    /// Variables are declared before the nodes, in the order they are used.
    variables: Vec<String>,
    weights: Vec<Weight>,
    /// Graph names of values already converted: (value name, layout) and
    /// (constant origin, transform) to the name holding the result.
    converted: HashMap<(String, Layout), String>,
    materialized: HashMap<String, String>,
    errors: Vec<Error>,
    fixed: Vec<(String, usize)>,
    initializers: HashMap<&'g str, &'g proto::TensorProto>,
}

impl<'g> Importer<'g> {
    fn new(file: &str, opset: i64, graph: &'g proto::GraphProto) -> Self {
        Importer {
            file: file.to_string(),
            opset,
            values: HashMap::new(),
            outputs: HashMap::new(),
            names: Names::default(),
            declarations: Vec::new(),
            variables: Vec::new(),
            weights: Vec::new(),
            converted: HashMap::new(),
            materialized: HashMap::new(),
            errors: Vec::new(),
            fixed: Vec::new(),
            initializers: graph
                .initializer
                .iter()
                .map(|t| (t.name.as_str(), t))
                .collect(),
        }
    }

    /// The opset of the default domain.
    pub fn opset(&self) -> i64 {
        self.opset
    }

    fn run(&mut self, graph: &'g proto::GraphProto) {
        if !graph.sparse_initializer.is_empty() {
            self.errors.push(Error::model(format!(
                "`{}` has sparse initializers, which the importer does not read",
                self.file
            )));
        }
        for init in &graph.initializer {
            match tensor::read(init) {
                Ok(c) => {
                    self.values
                        .insert(init.name.clone(), Value::Const(c.into()));
                }
                Err(message) => self.errors.push(Error::model(format!(
                    "initializer `{}`: {message}",
                    init.name
                ))),
            }
        }
        let mut inputs = Vec::new();
        for input in &graph.input {
            // Older exporters list the initializers among the inputs.
            if self.initializers.contains_key(input.name.as_str()) {
                continue;
            }
            match self.declare_input(input) {
                Ok(line) => inputs.push(line),
                Err(err) => self.errors.push(err),
            }
        }
        let mut taken = HashSet::new();
        for output in &graph.output {
            let name = names::identifier(&output.name);
            if !taken.insert(name.clone()) || self.names.is_taken(&name) {
                self.errors.push(Error::model(format!(
                    "output `{}` becomes `{name}` in Rust, which another input or output of \
                     the model also becomes; rename one in the model",
                    output.name
                )));
                continue;
            }
            self.outputs.insert(output.name.clone(), name);
        }
        for name in self.outputs.values() {
            self.names.reserve(name);
        }
        let mut body = Vec::new();
        std::mem::swap(&mut body, &mut self.declarations);
        for node in &graph.node {
            self.node(node);
        }
        std::mem::swap(&mut body, &mut self.declarations);
        for output in &graph.output {
            let Some(name) = self.outputs.get(&output.name).cloned() else {
                continue;
            };
            match self.values.get(&output.name).cloned() {
                None => {
                    if self.errors.is_empty() {
                        self.errors.push(Error::model(format!(
                            "output `{}` is computed by no node of the model",
                            output.name
                        )));
                    }
                }
                Some(Value::Tensor(t)) if t.graph_dims.as_ref().is_some_and(|d| *d != t.dims) => {
                    self.errors.push(Error {
                        kind: ErrorKind::Unsupported,
                        message: format!(
                            "output `{}` holds integers of shape {} with unit axes the graph \
                             cannot give them (its integer values have shape {})",
                            output.name,
                            dims_text(&t.dims),
                            dims_text(t.stored_dims())
                        ),
                    });
                }
                Some(Value::Tensor(t)) if t.name == name => {}
                Some(value) => {
                    // An output that is an input, a constant or another
                    // output: given its own declaration.
                    let expr = self.operand(&value, Layout::Plain);
                    body.push(format!("output {name} = {expr};"));
                }
            }
        }
        let mut all = inputs;
        all.append(&mut self.variables);
        all.append(&mut self.declarations);
        all.append(&mut body);
        self.declarations = all;
    }

    fn declare_input(&mut self, input: &proto::ValueInfoProto) -> Result<String, Error> {
        let name = names::identifier(&input.name);
        if self.names.is_taken(&name) {
            return Err(Error::model(format!(
                "input `{}` becomes `{name}` in Rust, which another input also becomes; \
                 rename one in the model",
                input.name
            )));
        }
        self.names.reserve(&name);
        let tensor_type = input
            .r#type
            .as_ref()
            .and_then(|t| t.tensor_type.as_ref())
            .ok_or_else(|| {
                Error::model(format!(
                    "input `{}` is not a tensor (sequences and maps are not supported)",
                    input.name
                ))
            })?;
        let (elem, suffix) = match tensor_type.elem_type {
            1 | 10 | 11 | 16 => (Elem::F32, ""),
            6 | 7 => (Elem::Int, " as usize"),
            other => {
                return Err(Error::model(format!(
                    "input `{}` holds {}, which the graph has no type for (it takes `float` \
                     values and `int64` indices)",
                    input.name,
                    tensor::dtype_name(other)
                )))
            }
        };
        let shape = tensor_type.shape.as_ref().ok_or_else(|| {
            Error::model(format!(
                "input `{}` has no shape in the model; export it with one",
                input.name
            ))
        })?;
        let mut dims = Vec::new();
        for (axis, dim) in shape.dim.iter().enumerate() {
            dims.push(match &dim.value {
                Some(proto::DimensionValue::DimValue(v)) if *v > 0 => {
                    Dim::Lit(usize::try_from(*v).unwrap_or(usize::MAX))
                }
                Some(proto::DimensionValue::DimParam(p)) if !p.is_empty() => {
                    let symbol = names::identifier(p);
                    match self.fixed.iter().find(|(k, _)| k == p || *k == symbol) {
                        Some((_, size)) => Dim::Lit(*size),
                        None => Dim::Sym(symbol),
                    }
                }
                _ => {
                    return Err(Error::model(format!(
                        "axis {axis} of input `{}` has no size and no name in the model; \
                         export it with a fixed size or a named dynamic axis",
                        input.name
                    )))
                }
            });
        }
        let line = format!("input {name}: {}{suffix};", dims_text(&dims));
        self.values.insert(
            input.name.clone(),
            Value::Tensor(Tensor {
                name,
                dims,
                elem,
                layout: Layout::Plain,
                graph_dims: None,
            }),
        );
        Ok(line)
    }

    fn node(&mut self, node: &'g proto::NodeProto) {
        let label = if node.name.is_empty() {
            format!("`{}`", node.op_type)
        } else {
            format!("`{}` (node `{}`)", node.op_type, node.name)
        };
        let Some(mapping) = ops::mapping(&node.domain, &node.op_type) else {
            let domain = if node.domain.is_empty() || node.domain == "ai.onnx" {
                String::new()
            } else {
                format!(" of domain `{}`", node.domain)
            };
            self.errors.push(Error {
                kind: ErrorKind::Unsupported,
                message: format!(
                    "ONNX operator {label}{domain} at opset {} is not supported by the \
                     importer; docs/ONNX.md lists the operators it maps",
                    self.opset
                ),
            });
            return;
        };
        let mut inputs = Vec::with_capacity(node.input.len());
        for name in &node.input {
            if name.is_empty() {
                inputs.push(None);
                continue;
            }
            if let Some(value) = self.values.get(name) {
                inputs.push(Some(value.clone()));
            } else {
                // Not an error of its own if an earlier node failed.
                if self.errors.is_empty() {
                    self.errors.push(Error::model(format!(
                        "{label} reads `{name}`, which is no input, initializer or \
                         earlier node's output of the model"
                    )));
                }
                return;
            }
        }
        let call = ops::Node {
            op_type: &node.op_type,
            outputs: &node.output,
            label: &label,
            inputs,
            attributes: &node.attribute,
        };
        match mapping(self, &call) {
            Ok(values) => {
                for (name, value) in node.output.iter().zip(values) {
                    if !name.is_empty() {
                        self.values.insert(name.clone(), value);
                    }
                }
            }
            Err(message) => self.errors.push(Error {
                kind: ErrorKind::Unsupported,
                message: format!("{label} at opset {}: {message}", self.opset),
            }),
        }
    }

    /// Writes `let` (or `output`, for a graph output) `expr` as the value of
    /// the node's output `onnx_name`, returning it as a tensor.
    pub fn bind(
        &mut self,
        onnx_name: &str,
        expr: String,
        dims: Vec<Dim>,
        elem: Elem,
        layout: Layout,
    ) -> Value {
        Value::Tensor(self.bind_tensor(onnx_name, expr, dims, elem, layout))
    }

    /// [`bind`](Self::bind), as the tensor it is.
    pub fn bind_tensor(
        &mut self,
        onnx_name: &str,
        expr: String,
        dims: Vec<Dim>,
        elem: Elem,
        layout: Layout,
    ) -> Tensor {
        let output = self.outputs.get(onnx_name).cloned();
        let (name, expr) = match output {
            // An output keeps the file's order: one in NHWC is permuted back.
            Some(name) if layout == Layout::Nhwc => {
                let inner = self.names.fresh(&format!("{name}_nhwc"));
                self.declarations.push(format!("let {inner} = {expr};"));
                (name, format!("permute({inner}, [0, 3, 1, 2])"))
            }
            Some(name) => (name, expr),
            None => (self.names.fresh(&names::local(onnx_name)), expr),
        };
        let is_output = self.outputs.contains_key(onnx_name);
        let keyword = if is_output { "output" } else { "let" };
        self.declarations
            .push(format!("{keyword} {name} = {expr};"));
        Tensor {
            name,
            dims,
            elem,
            layout: if is_output { Layout::Plain } else { layout },
            graph_dims: None,
        }
    }

    /// The graph expression for `value` stored in `layout` (a rank-4 value
    /// is permuted if it is stored the other way; constants are written as
    /// literals if scalar, else as variables).
    pub fn operand(&mut self, value: &Value, layout: Layout) -> String {
        match value {
            Value::Tensor(t) => self.in_layout(t, layout),
            Value::Const(c) => {
                if c.dims.is_empty() && matches!(c.data, Data::F32(_)) {
                    return number(c.scalar().unwrap_or(f32::NAN));
                }
                let (dims, values) = if layout == Layout::Nhwc && c.dims.len() == 4 {
                    value::permute(&c.f32s(), &c.dims, &[0, 2, 3, 1])
                } else {
                    (c.dims.clone(), c.f32s())
                };
                let key = if layout == Layout::Nhwc && c.dims.len() == 4 {
                    format!("{}_nhwc", c.origin)
                } else {
                    c.origin.clone()
                };
                self.variable(&key, dims, values)
            }
        }
    }

    /// A tensor as stored in `layout`: the value itself or its permutation,
    /// written once.
    pub fn in_layout(&mut self, t: &Tensor, layout: Layout) -> String {
        if t.layout == layout || t.dims.len() != 4 {
            return t.name.clone();
        }
        let key = (t.name.clone(), layout);
        if let Some(name) = self.converted.get(&key) {
            return name.clone();
        }
        let (suffix, perm) = match layout {
            Layout::Nhwc => ("nhwc", "[0, 2, 3, 1]"),
            Layout::Plain => ("nchw", "[0, 3, 1, 2]"),
        };
        let name = self.names.fresh(&format!("{}_{suffix}", t.name));
        self.declarations
            .push(format!("let {name} = permute({}, {perm});", t.name));
        self.converted.insert(key, name.clone());
        name
    }

    /// Declares a variable holding `values` (named after `origin`, once per
    /// origin) and returns its name.
    pub fn variable(&mut self, origin: &str, dims: Vec<usize>, values: Vec<f32>) -> String {
        if let Some(name) = self.materialized.get(origin) {
            return name.clone();
        }
        let name = self.names.fresh(&names::local(origin));
        let shape: Vec<Dim> = dims.iter().map(|&d| Dim::Lit(d)).collect();
        self.variables
            .push(format!("var {name}: {};", dims_text(&shape)));
        self.weights.push(Weight {
            name: name.clone(),
            dims,
            values,
        });
        self.materialized.insert(origin.to_string(), name.clone());
        name
    }
}

/// An `f32` as a graph literal: always with a fraction or exponent, exact.
#[must_use]
pub fn number(value: f32) -> String {
    if value.is_nan() {
        return "(0.0 / 0.0)".to_string();
    }
    if value.is_infinite() {
        return if value > 0.0 {
            "(1.0 / 0.0)"
        } else {
            "(-1.0 / 0.0)"
        }
        .to_string();
    }
    let text = format!("{value:?}");
    if text.contains(['.', 'e', 'E']) {
        text
    } else {
        format!("{text}.0")
    }
}
