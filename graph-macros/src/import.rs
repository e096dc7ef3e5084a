//! Phase 0, import: a graph declared with `#[onnx("model.onnx")]` takes its
//! declarations from the model. `staticflow-onnx` translates the file into
//! `graph!` declarations and the initializers' values; this phase parses
//! those declarations as if they had been written in the body (spanned at
//! the attribute, so that any error points there), puts them before the
//! body's own, and hands the values to `bake`. From here on an imported
//! graph is an ordinary graph: resolved, checked, optimized and planned by
//! the same phases.

use crate::diag::{Code, Diagnostics};
use crate::parse::GraphSyntax;

/// The model's weights, for `bake`, and the file, for rebuilds.
pub struct Imported {
    pub tensors: Vec<(String, Vec<usize>, Vec<f32>)>,
    /// The file as written in the attribute, and joined to the manifest
    /// directory.
    pub written: String,
    pub path: std::path::PathBuf,
    /// `weights = runtime`: not baked.
    pub runtime_weights: bool,
}

/// Reads the model of `#[onnx(..)]`, if the graph has one, adding its
/// declarations to `syntax`.
#[cfg(feature = "onnx")]
pub fn import(syntax: &mut GraphSyntax, diagnostics: &mut Diagnostics) -> Option<Imported> {
    let attr = syntax.onnx.as_ref()?;
    let written = attr.file.value();
    let span = attr.span;
    let path = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(std::path::PathBuf::new, std::path::PathBuf::from)
        .join(&written);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(err) => {
            diagnostics.push(crate::diag::SpanRange::single(attr.file.span()).error(
                Code::OnnxFile,
                format!(
                    "cannot read ONNX model `{written}`: {err}; a relative path starts at the \
                     directory of the crate's `Cargo.toml`"
                ),
            ));
            return None;
        }
    };
    let options = staticflow_onnx::Options {
        fixed: attr.fixed.clone(),
    };
    let imported = match staticflow_onnx::import_with(&bytes, &written, &options) {
        Ok(imported) => imported,
        Err(errors) => {
            for error in errors {
                let code = match error.kind {
                    staticflow_onnx::ErrorKind::File => Code::OnnxFile,
                    staticflow_onnx::ErrorKind::Unsupported => Code::OnnxUnsupported,
                    staticflow_onnx::ErrorKind::Model => Code::OnnxModel,
                };
                diagnostics.push(span.error(code, error.message));
            }
            return None;
        }
    };
    let text = imported.declarations.join("\n");
    let decls = text
        .parse::<proc_macro2::TokenStream>()
        .map_err(|err| err.to_string())
        .and_then(|tokens| {
            crate::parse::parse_decls(respan(tokens, attr.file.span())).map_err(|e| e.to_string())
        });
    match decls {
        Ok(mut decls) => {
            decls.append(&mut syntax.decls);
            syntax.decls = decls;
        }
        Err(err) => {
            diagnostics.push(span.error(
                Code::Internal,
                format!("the importer wrote declarations `graph!` cannot parse ({err}); please report this with the model"),
            ));
            return None;
        }
    }
    Some(Imported {
        tensors: imported
            .weights
            .into_iter()
            .map(|w| (w.name, w.dims, w.values))
            .collect(),
        written,
        path,
        runtime_weights: attr.runtime_weights,
    })
}

/// Without the `onnx` feature, `#[onnx(..)]` is an error saying how to
/// enable it.
#[cfg(not(feature = "onnx"))]
pub fn import(syntax: &mut GraphSyntax, diagnostics: &mut Diagnostics) -> Option<Imported> {
    let attr = syntax.onnx.as_ref()?;
    // Read only by the importer.
    let _ = (
        &attr.file,
        attr.runtime_weights,
        &attr.fixed,
        crate::parse::parse_decls,
    );
    diagnostics.push(attr.span.error(
        Code::OnnxFeature,
        "`#[onnx(..)]` needs staticflow's `onnx` feature, which builds the ONNX reader: \
         `staticflow = { version = \"0.1\", features = [\"onnx\"] }` in Cargo.toml",
    ));
    None
}

/// Reported only by the build without the feature.
#[cfg(feature = "onnx")]
const _: Code = Code::OnnxFeature;

/// Reported only by the build with the feature.
#[cfg(not(feature = "onnx"))]
const _: [Code; 3] = [Code::OnnxFile, Code::OnnxUnsupported, Code::OnnxModel];

/// Every token of `tokens` given `span`.
#[cfg(feature = "onnx")]
fn respan(tokens: proc_macro2::TokenStream, span: proc_macro2::Span) -> proc_macro2::TokenStream {
    use proc_macro2::{Group, TokenTree};
    tokens
        .into_iter()
        .map(|mut token| {
            if let TokenTree::Group(group) = &token {
                let mut inner = Group::new(group.delimiter(), respan(group.stream(), span));
                inner.set_span(span);
                token = TokenTree::Group(inner);
            } else {
                token.set_span(span);
            }
            token
        })
        .collect()
}

impl Imported {
    /// The weights as `bake` reads them.
    pub fn into_source(self) -> crate::bake::Source {
        crate::bake::Source {
            written: self.written,
            path: self.path,
            tensors: self
                .tensors
                .into_iter()
                .map(|(name, shape, values)| {
                    (
                        name,
                        crate::bake::SourceTensor {
                            shape,
                            values: Ok(values),
                        },
                    )
                })
                .collect(),
        }
    }
}
