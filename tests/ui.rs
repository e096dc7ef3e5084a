//! Programs that must not compile, each with the error rustc should show.
//!
//! Refresh the snapshots with `TRYBUILD=overwrite cargo test --test ui` and
//! review the diff of every `.stderr` like code.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
    cases.pass("tests/ui/pass/*.rs");
}
