//! The ONNX operators the importer maps, grouped by the family of graph
//! ops each lowers to (the families of `graph-macros/src/ops/`). Each
//! mapping reads a node's inputs and attributes, writes the declarations
//! that compute it (through [`Importer::bind`]) or folds it, and returns
//! its outputs; an `Err` says what about the node is not supported.

use crate::proto::AttributeProto;
use crate::value::{Constant, Dim, Value};
use crate::Importer;

mod elementwise;
mod linalg;
mod movement;
mod nn;
mod reduce;

/// A node as its mapping sees it.
pub struct Node<'a> {
    pub op_type: &'a str,
    pub outputs: &'a [String],
    /// How messages name the node: its type, and its name if it has one.
    pub label: &'a str,
    /// Absent optional inputs are `None`.
    pub inputs: Vec<Option<Value>>,
    pub attributes: &'a [AttributeProto],
}

/// A mapping: the node's output values, or what is not supported.
pub type Mapping = fn(&mut Importer<'_>, &Node<'_>) -> Result<Vec<Value>, String>;

/// Every family's table, `(ONNX op type, mapping)`.
const TABLES: &[&[(&str, Mapping)]] = &[
    elementwise::MAPPINGS,
    linalg::MAPPINGS,
    movement::MAPPINGS,
    nn::MAPPINGS,
    reduce::MAPPINGS,
];

/// The operators of the `ai.onnx.ml` domain the importer maps: what
/// scikit-learn's converters put after a classifier.
const ML: &[(&str, Mapping)] = &[("ArrayFeatureExtractor", movement::array_feature_extractor)];

/// The mapping of an operator of `domain` (empty for the default one).
pub fn mapping(domain: &str, op_type: &str) -> Option<Mapping> {
    let tables: &[&[(&str, Mapping)]] = match domain {
        "" | "ai.onnx" => TABLES,
        "ai.onnx.ml" => &[ML],
        _ => &[],
    };
    tables
        .iter()
        .flat_map(|table| table.iter())
        .find(|(name, _)| *name == op_type)
        .map(|(_, mapping)| *mapping)
}

/// Every operator the importer maps, for the docs' table.
pub fn supported() -> Vec<&'static str> {
    let mut all: Vec<&str> = TABLES
        .iter()
        .chain(std::iter::once(&ML))
        .flat_map(|table| table.iter().map(|(name, _)| *name))
        .collect();
    all.sort_unstable();
    all
}

impl Node<'_> {
    /// Input `i`, which the operator requires.
    pub fn input(&self, i: usize) -> Result<&Value, String> {
        self.inputs
            .get(i)
            .and_then(Option::as_ref)
            .ok_or_else(|| format!("input {i} is missing"))
    }

    /// Optional input `i`.
    pub fn optional(&self, i: usize) -> Option<&Value> {
        self.inputs.get(i).and_then(Option::as_ref)
    }

    /// Input `i`, which must be known when the crate compiles (an
    /// initializer, a `Constant`, or shape arithmetic).
    pub fn constant(&self, i: usize, what: &str) -> Result<&Constant, String> {
        match self.input(i)? {
            Value::Const(c) => Ok(c),
            Value::Tensor(_) => Err(format!(
                "its {what} (input {i}) is computed at run time; the importer needs it fixed by \
                 the file (an initializer or constant)"
            )),
        }
    }

    /// The ONNX name of output `i`.
    pub fn output(&self, i: usize) -> &str {
        self.outputs.get(i).map_or("", String::as_str)
    }

    fn attribute(&self, name: &str) -> Option<&AttributeProto> {
        self.attributes.iter().find(|a| a.name == name)
    }

    pub fn int(&self, name: &str, default: i64) -> i64 {
        self.attribute(name).map_or(default, |a| a.i)
    }

    pub fn float(&self, name: &str, default: f32) -> f32 {
        self.attribute(name).map_or(default, |a| a.f)
    }

    pub fn ints(&self, name: &str) -> Option<Vec<i64>> {
        self.attribute(name).map(|a| a.ints.clone())
    }

    pub fn string(&self, name: &str) -> Option<String> {
        self.attribute(name)
            .map(|a| String::from_utf8_lossy(&a.s).into_owned())
    }

    pub fn has(&self, name: &str) -> bool {
        self.attribute(name).is_some()
    }

    pub fn tensor_attribute(&self, name: &str) -> Option<&crate::proto::TensorProto> {
        self.attribute(name).and_then(|a| a.t.as_ref())
    }

    /// Only `allowed` attributes may be set: any other is reported, so that
    /// no attribute is silently ignored.
    pub fn only(&self, allowed: &[&str]) -> Result<(), String> {
        for attribute in self.attributes {
            if !allowed.contains(&attribute.name.as_str()) {
                return Err(format!(
                    "attribute `{}` is not supported (the importer reads {})",
                    attribute.name,
                    if allowed.is_empty() {
                        "none".to_string()
                    } else {
                        allowed
                            .iter()
                            .map(|a| format!("`{a}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                ));
            }
        }
        Ok(())
    }
}

/// `axis` (negative from the end) as an index into `rank` axes.
pub fn axis(axis: i64, rank: usize) -> Result<usize, String> {
    let rank_i = i64::try_from(rank).unwrap_or(i64::MAX);
    let resolved = if axis < 0 { axis + rank_i } else { axis };
    usize::try_from(resolved)
        .ok()
        .filter(|&a| a < rank)
        .ok_or_else(|| format!("axis {axis} is out of range for rank {rank}"))
}

/// A list of integers as the graph language writes it.
pub fn list(values: &[impl std::fmt::Display]) -> String {
    let inner: Vec<String> = values.iter().map(ToString::to_string).collect();
    format!("[{}]", inner.join(", "))
}

/// Literal sizes of `dims`, or an error naming `what`.
pub fn literal_dims(dims: &[Dim], what: &str) -> Result<Vec<usize>, String> {
    dims.iter()
        .map(|d| {
            d.lit()
                .ok_or_else(|| format!("{what} needs literal sizes, but an axis is `{d}`"))
        })
        .collect()
}
