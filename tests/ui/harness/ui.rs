//! Programs that must not compile, each with the error rustc should show:
//! every `tests/ui/*.rs` beside its `.stderr`, and `tests/ui/pass/*.rs`,
//! which must compile.
//!
//! This suite is a package of its own (`tests/ui/Cargo.toml`), so trybuild
//! is built only for it; the paths in the snapshots are relative to
//! `tests/ui/`. Refresh the snapshots with `TRYBUILD=overwrite cargo test
//! --test ui` and review the diff of every `.stderr` like code.

use std::path::Path;

/// Weight files and ONNX models the cases read at build time, from the repository's
/// fixtures: the cases are compiled as a crate under cargo's target
/// directory, wherever that is (`CARGO_TARGET_DIR`), so a path relative to
/// the checkout would not reach them. Each is copied to `<target>/tmp/ui/`,
/// which the cases reach as `../../../tmp/ui/<file>` from the crate trybuild
/// makes at `<target>/tests/trybuild/staticflow-ui/`.
const FIXTURES: &[&str] = &[
    "tests/reference/fixtures/sklearn/digits_mlp.safetensors",
    "tests/reference/fixtures/onnx/ui/unsupported.onnx",
    "tests/reference/fixtures/onnx/ui/truncated.onnx",
    "tests/reference/fixtures/onnx/ui/unnamed_dim.onnx",
];

#[test]
fn ui() {
    let repository = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let staged = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ui");
    std::fs::create_dir_all(&staged).expect("cargo's target directory is writable");
    for fixture in FIXTURES {
        let from = repository.join(fixture);
        let name = from.file_name().expect("fixtures are files");
        std::fs::copy(&from, staged.join(name))
            .unwrap_or_else(|err| panic!("cannot stage {}: {err}", from.display()));
    }
    let cases = trybuild::TestCases::new();
    cases.compile_fail("*.rs");
    cases.pass("pass/*.rs");
}
