//! `staticflow-onnx`: ejects an ONNX model as `graph!` source.
//!
//! ```text
//! cargo run -p staticflow-onnx -- model.onnx [--name Net] [--weights model.safetensors]
//! ```
//!
//! Prints the `graph!` call that `#[onnx("model.onnx")]` compiles to, with
//! `#[weights("model.safetensors")]` in place of the import, and writes the
//! weights there (by default beside the model, with its stem). Run it from
//! the root of the crate that will hold the graph: the `#[weights(..)]`
//! path is the one written, relative to where the command runs, as
//! `graph!` reads it relative to the crate's `Cargo.toml`. Paste the source
//! into the crate and edit the model as a hand-written graph.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use staticflow_onnx::{graph_source, import_with, Options};

struct Args {
    model: PathBuf,
    name: Option<String>,
    weights: Option<PathBuf>,
    fixed: Vec<(String, usize)>,
}

const USAGE: &str = "usage: staticflow-onnx MODEL.onnx [--name Net] [--weights OUT.safetensors] [--dim NAME=SIZE]..";

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let mut model = None;
    let mut name = None;
    let mut weights = None;
    let mut fixed = Vec::new();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--name" => name = Some(args.next().ok_or("--name takes a struct name")?),
            "--weights" => {
                weights = Some(PathBuf::from(args.next().ok_or("--weights takes a path")?));
            }
            "--dim" => {
                let pair = args.next().ok_or("--dim takes NAME=SIZE")?;
                let (key, size) = pair.split_once('=').ok_or("--dim takes NAME=SIZE")?;
                let size = size
                    .parse()
                    .map_err(|_| format!("--dim {pair}: the size is not a number"))?;
                fixed.push((key.to_string(), size));
            }
            "-h" | "--help" => return Err(String::new()),
            other if other.starts_with('-') => return Err(format!("unknown option {other}")),
            other if model.is_none() => model = Some(PathBuf::from(other)),
            other => return Err(format!("one model at a time (got {other} too)")),
        }
    }
    Ok(Args {
        model: model.ok_or("no model given")?,
        name,
        weights,
        fixed,
    })
}

/// `mlp_v2.onnx` → `MlpV2`.
fn struct_name(model: &Path) -> String {
    let stem = model
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut out = String::new();
    let mut upper = true;
    for ch in stem.chars() {
        if ch.is_ascii_alphanumeric() {
            if upper {
                out.push(ch.to_ascii_uppercase());
            } else {
                out.push(ch);
            }
            upper = false;
        } else {
            upper = true;
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, "Model");
    }
    out
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("staticflow-onnx: {message}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let label = args.model.display().to_string();
    let bytes = match std::fs::read(&args.model) {
        Ok(bytes) => bytes,
        Err(err) => {
            eprintln!("staticflow-onnx: cannot read {label}: {err}");
            return ExitCode::FAILURE;
        }
    };
    let import = match import_with(&bytes, &label, &Options { fixed: args.fixed }) {
        Ok(import) => import,
        Err(errors) => {
            for error in errors {
                eprintln!("staticflow-onnx: {error}");
            }
            return ExitCode::FAILURE;
        }
    };
    let weights = args
        .weights
        .unwrap_or_else(|| args.model.with_extension("safetensors"));
    let arrays: Vec<(String, ndarray::ArrayD<f32>)> = import
        .weights
        .iter()
        .map(|w| {
            let array = ndarray::ArrayD::from_shape_vec(w.dims.clone(), w.values.clone())
                .expect("the importer gives each weight as many values as its shape holds");
            (w.name.clone(), array)
        })
        .collect();
    let views: Vec<(&str, ndarray::ArrayViewD<'_, f32>)> =
        arrays.iter().map(|(n, a)| (n.as_str(), a.view())).collect();
    if let Err(err) = std::fs::write(&weights, graph_runtime::weights::save_safetensors(&views)) {
        eprintln!("staticflow-onnx: cannot write {}: {err}", weights.display());
        return ExitCode::FAILURE;
    }
    // The path as given (or derived from the model's): relative to where the
    // command runs, which should be the crate's root.
    let file_name = weights.display().to_string().replace('\\', "/");
    let name = args.name.unwrap_or_else(|| struct_name(&args.model));
    let model_name = args
        .model
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    print!(
        "{}",
        graph_source(
            &import,
            &name,
            &model_name,
            &[format!("#[weights(\"{file_name}\")]")]
        )
    );
    eprintln!(
        "staticflow-onnx: wrote {} ({} tensors)",
        weights.display(),
        import.weights.len()
    );
    ExitCode::SUCCESS
}
