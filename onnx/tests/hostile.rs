//! The hostile corpus of `tests/data/hostile/` (made by
//! `tests/reference/onnx_hostile.py`): every file must give an `Err`, never a
//! panic, with an error of the kind and message its README table lists.

use std::collections::BTreeSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use staticflow_onnx::{import, ErrorKind};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/hostile")
}

/// One row of the README's table.
struct Case {
    file: String,
    kind: ErrorKind,
    contains: String,
}

fn cases() -> Vec<Case> {
    let readme = std::fs::read_to_string(dir().join("README.md")).expect("README.md of the corpus");
    let mut cases = Vec::new();
    for line in readme.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // `| file | what | kind | contains |` splits into six cells.
        assert_eq!(cells.len(), 6, "a table row of four cells: {line}");
        let kind = match cells[3] {
            "`File`" => ErrorKind::File,
            "`Unsupported`" => ErrorKind::Unsupported,
            "`Model`" => ErrorKind::Model,
            other => panic!("unknown kind {other} in {line}"),
        };
        cases.push(Case {
            file: cells[1].trim_matches('`').to_string(),
            kind,
            contains: cells[4].to_string(),
        });
    }
    cases
}

#[test]
fn every_hostile_file_is_an_error_of_its_kind() {
    let cases = cases();
    assert!(cases.len() >= 30, "the table lists {} files", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let bytes = std::fs::read(dir().join(&case.file)).expect("a file of the table");
        let result = catch_unwind(AssertUnwindSafe(|| import(&bytes, &case.file)));
        match result {
            Err(_) => failures.push(format!("{}: panicked", case.file)),
            Ok(Ok(_)) => failures.push(format!("{}: imported", case.file)),
            Ok(Err(errors)) => {
                assert!(!errors.is_empty(), "{}: an Err with no error", case.file);
                let found = errors
                    .iter()
                    .any(|e| e.kind == case.kind && e.message.contains(&case.contains));
                if !found {
                    failures.push(format!(
                        "{}: expected {:?} containing {:?}, got {:?}",
                        case.file, case.kind, case.contains, errors
                    ));
                }
                for error in &errors {
                    assert!(!error.message.is_empty(), "{}: an empty message", case.file);
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_file_of_the_corpus_is_in_the_table() {
    let listed: BTreeSet<String> = cases().into_iter().map(|c| c.file).collect();
    let on_disk: BTreeSet<String> = std::fs::read_dir(dir())
        .expect("the corpus directory")
        .map(|entry| entry.expect("a directory entry").file_name())
        .map(|name| name.to_string_lossy().into_owned())
        .filter(|name| Path::new(name).extension().is_some_and(|e| e == "onnx"))
        .collect();
    assert_eq!(listed, on_disk);
}

/// Unsupported operators are named with their type, node name and opset.
#[test]
fn unsupported_operators_name_node_and_opset() {
    for (file, op, node) in [
        ("unsupported_lstm.onnx", "LSTM", "lstm_1"),
        ("unsupported_loop.onnx", "Loop", "loop_1"),
    ] {
        let bytes = std::fs::read(dir().join(file)).unwrap();
        let errors = import(&bytes, file).unwrap_err();
        let error = errors
            .iter()
            .find(|e| e.kind == ErrorKind::Unsupported)
            .unwrap_or_else(|| panic!("{file}: {errors:?}"));
        for part in [
            format!("`{op}`"),
            format!("node `{node}`"),
            "opset 13".into(),
        ] {
            assert!(error.message.contains(&part), "{file}: {}", error.message);
        }
    }
}

/// The file label given to `import` names the file in file-level errors.
#[test]
fn file_errors_name_the_file() {
    let errors = import(b"\xff\xff\xff", "models/broken.onnx").unwrap_err();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].kind, ErrorKind::File);
    assert!(errors[0].message.contains("`models/broken.onnx`"));
}

/// 20 000 node outputs that all sanitize to `r` (`r.`, `r/`, `r:.`, ..):
/// each gets a fresh suffix in constant time. Naming them once took time
/// quadratic in their number (minutes for a 3 MB file).
#[test]
fn many_outputs_of_one_name_import_in_linear_time() {
    use prost::Message as _;
    use staticflow_onnx::proto::{
        DimensionProto, DimensionValue, GraphProto, ModelProto, NodeProto, OperatorSetIdProto,
        TensorShapeProto, TensorTypeProto, TypeProto, ValueInfoProto,
    };

    const NODES: usize = 20_000;
    let name = |i: usize| {
        let mut name = String::from("r");
        let mut i = i + 1;
        while i > 0 {
            name.push(['.', '/', ':', '-', '+'][i % 5]);
            i /= 5;
        }
        name
    };
    let info = |name: &str| ValueInfoProto {
        name: name.to_string(),
        r#type: Some(TypeProto {
            tensor_type: Some(TensorTypeProto {
                elem_type: 1,
                shape: Some(TensorShapeProto {
                    dim: vec![DimensionProto {
                        value: Some(DimensionValue::DimValue(2)),
                    }],
                }),
            }),
        }),
    };
    let node = |i: usize| NodeProto {
        input: vec![if i == 0 { "x".into() } else { name(i - 1) }],
        output: vec![name(i)],
        op_type: "Relu".into(),
        ..NodeProto::default()
    };
    let model = ModelProto {
        graph: Some(GraphProto {
            node: (0..NODES).map(node).collect(),
            input: vec![info("x")],
            output: vec![info(&name(NODES - 1))],
            ..GraphProto::default()
        }),
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: 13,
        }],
        ..ModelProto::default()
    };
    let bytes = model.encode_to_vec();
    let start = std::time::Instant::now();
    let import = import(&bytes, "many_names.onnx").expect("a chain of Relu imports");
    let elapsed = start.elapsed();
    // Linear: well under a second in a debug build; quadratic took minutes.
    assert!(elapsed.as_secs() < 20, "took {elapsed:?}");
    let names: BTreeSet<&str> = import
        .declarations
        .iter()
        .filter_map(|d| d.strip_prefix("let "))
        .filter_map(|d| d.split(' ').next())
        .collect();
    assert_eq!(names.len(), NODES - 1, "every node output has its own name");
}
