//! Phase 3b, baking: a graph declared with `#[weights("file.safetensors")]`
//! takes its variables' values from that file at build time.
//!
//! Runs after lowering. The file is read relative to the using crate's
//! manifest directory with the run time's own safetensors parser; each
//! variable must be a tensor of the file, `f32`, of the variable's shape. The
//! variable then becomes a constant holding those values, so the compiled
//! graph needs no file system and its struct holds nothing. Every problem is
//! a compile error on the variable or on the attribute.

use std::path::PathBuf;

use graph_runtime::weights::SafeTensors;

use crate::budget::Baked;
use crate::diag::{Code, Diagnostics, SpanRange};
use crate::ir::{Graph, Op, Tensor};

/// One tensor of a weight source: its shape, and its values if they are
/// `f32` (else the name of the dtype it holds).
pub struct SourceTensor {
    pub shape: Vec<usize>,
    pub values: Result<Vec<f32>, String>,
}

/// Where baked values come from: a safetensors file of `#[weights(..)]`, or
/// the initializers of an `#[onnx(..)]` model.
pub struct Source {
    /// The file as the attribute writes it, for messages.
    pub written: String,
    /// The file on disk: cargo rebuilds the crate when it changes.
    pub path: PathBuf,
    pub tensors: std::collections::HashMap<String, SourceTensor>,
}

/// Bakes the variables in from a `#[weights(..)]` file, returning what each
/// takes, for the weights budget (`budget.rs`).
pub fn bake(graph: &mut Graph, file: &syn::LitStr, diagnostics: &mut Diagnostics) -> Vec<Baked> {
    let written = file.value();
    let base = std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(PathBuf::new, PathBuf::from);
    let path = base.join(&written);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(err) => {
            diagnostics.push(SpanRange::single(file.span()).error(
                Code::WeightsFile,
                // The path as written, not joined to the manifest directory:
                // an absolute path of the build machine helps no one reading
                // the error elsewhere, and the rule says where to look.
                format!(
                    "cannot read weight file `{written}`: {err}; a relative path starts at \
                     the directory of the crate's `Cargo.toml`"
                ),
            ));
            return Vec::new();
        }
    };
    let parsed = match SafeTensors::parse_named(&bytes, &written) {
        Ok(tensors) => tensors,
        Err(err) => {
            diagnostics
                .push(SpanRange::single(file.span()).error(Code::WeightsFile, err.to_string()));
            return Vec::new();
        }
    };
    let mut tensors = std::collections::HashMap::new();
    for &id in &graph.variables {
        let Some(name) = graph.node(id).name.as_ref().map(ToString::to_string) else {
            continue;
        };
        if let Some(tensor) = parsed.get(&name) {
            let values = tensor.to_f32_vec().ok_or_else(|| tensor.dtype.to_string());
            tensors.insert(
                name,
                SourceTensor {
                    shape: tensor.shape.clone(),
                    values,
                },
            );
        }
    }
    bake_from(
        graph,
        &Source {
            written,
            path,
            tensors,
        },
        diagnostics,
    )
}

/// Bakes the variables in from `source`: each must be one of its tensors,
/// `f32`, of the variable's shape.
pub fn bake_from(graph: &mut Graph, source: &Source, diagnostics: &mut Diagnostics) -> Vec<Baked> {
    let written = &source.written;
    let mut baked = Vec::new();
    for &id in &graph.variables {
        let node = graph.node(id);
        let name = node
            .name
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        let span: SpanRange = node.span;
        let Some(declared) = node.shape.as_ref().and_then(crate::shape::Shape::as_fixed) else {
            continue; // symbolic variables are reported by `check`
        };
        let Some(tensor) = source.tensors.get(&name) else {
            diagnostics.push(span.error(
                Code::MissingTensor,
                format!("`{written}` has no tensor `{name}`, which variable `{name}` needs"),
            ));
            continue;
        };
        if tensor.shape != declared {
            diagnostics.push(span.error(Code::TensorMismatch, format!(
                "tensor `{name}` in `{written}` has shape {:?}, but variable `{name}` is declared {}",
                tensor.shape,
                crate::shape::Shape::fixed(&declared)
            )));
            continue;
        }
        let values = match &tensor.values {
            Ok(values) => values.clone(),
            Err(dtype) => {
                diagnostics.push(span.error(
                    Code::TensorMismatch,
                    format!("tensor `{name}` in `{written}` holds {dtype}, but variables are f32"),
                ));
                continue;
            }
        };
        baked.push((
            id,
            Tensor {
                shape: declared,
                values,
            },
        ));
    }
    // In a `#[no_std]` graph, what a step trains stays a variable, starting
    // from the file's value: on-device fine-tuning keeps the frozen weights
    // in flash (constants, counted by the weights budget) and only the
    // trained ones in RAM.
    let trained = trained_variables(graph);
    if !graph.no_std {
        let ids: Vec<crate::ir::NodeId> = baked.iter().map(|(id, _)| *id).collect();
        reject_trained_constants(graph, &ids, diagnostics);
    }
    let trained = if graph.no_std { trained } else { Vec::new() };
    let mut sizes = Vec::with_capacity(baked.len());
    for (id, tensor) in baked {
        if trained.contains(&id) {
            graph.initial.push((id, tensor));
            continue;
        }
        sizes.push(Baked {
            name: crate::emit::local(graph, id).to_string(),
            shape: crate::shape::Shape::fixed(&tensor.shape),
            bytes: tensor.values.len() * std::mem::size_of::<f32>(),
        });
        graph.nodes[id.0].op = Op::Constant(tensor);
        graph.variables.retain(|&v| v != id);
    }
    graph.baked_from = Some(source.path.display().to_string());
    sizes
}

/// A std graph's struct holds no baked values to start a variable from:
/// what a step trains must come in through `new` or a weight file read at
/// run time. Said at each step that would train some of the `baked`
/// variables, naming them.
fn reject_trained_constants(
    graph: &Graph,
    baked: &[crate::ir::NodeId],
    diagnostics: &mut Diagnostics,
) {
    for step in &graph.steps {
        let names: Vec<String> = step
            .trains(graph)
            .into_iter()
            .filter(|id| baked.contains(id))
            .map(|id| format!("`{}`", crate::emit::local(graph, id)))
            .collect();
        if !names.is_empty() {
            diagnostics.push(step.span.error(
                Code::StepVars,
                format!(
                    "step `{}` trains {}, which `#[weights(..)]` bakes into this graph as \
                     constants; read the file at run time instead \
                     (`{}::from_safetensors(..)`), or make the graph `#[no_std]`, where what \
                     a step trains starts from the file and stays in the struct",
                    step.name,
                    names.join(", "),
                    graph.name
                ),
            ));
        }
    }
}

/// The variables some step trains ([`crate::train::Step::trains`]).
fn trained_variables(graph: &Graph) -> Vec<crate::ir::NodeId> {
    graph
        .steps
        .iter()
        .flat_map(|step| step.trains(graph))
        .collect()
}
