//! Mutations of the fixture models: every model of
//! `tests/reference/fixtures/onnx/` truncated at many lengths, and with
//! seeded single-byte flips, insertions and deletions, must import as `Ok`
//! or `Err`, never panic. Deterministic (a fixed-seed xorshift) and sized
//! for CI; the unbounded version is the fuzz target in `onnx/fuzz/`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use staticflow_onnx::import;

/// Mutated copies tried per model and kind of mutation.
const CASES: usize = 120;

/// xorshift64*: enough randomness for choosing positions and bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap()
    }

    fn byte(&mut self) -> u8 {
        self.next().to_le_bytes()[0]
    }
}

fn fixtures() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/reference/fixtures/onnx");
    let mut models: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .expect("the ONNX fixtures")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "onnx"))
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect();
    models.sort();
    assert!(models.len() >= 5, "found {} fixture models", models.len());
    models
}

/// Imports `bytes`; a panic fails the test naming the mutation.
fn survives(bytes: &[u8], what: &str) -> bool {
    let Ok(result) = catch_unwind(AssertUnwindSafe(|| import(bytes, "mutated.onnx"))) else {
        panic!("{what}: import panicked");
    };
    match result {
        Ok(_) => true,
        Err(errors) => {
            assert!(!errors.is_empty(), "{what}: an Err with no error");
            false
        }
    }
}

#[test]
fn fixtures_import() {
    for (name, bytes) in fixtures() {
        if let Err(errors) = import(&bytes, &name) {
            panic!("{name}: {errors:?}");
        }
    }
}

#[test]
fn truncated_fixtures_never_panic() {
    let mut rng = Rng(0x0a11_ce5e_ed00_0001);
    for (name, bytes) in fixtures() {
        // Every length near both ends, then seeded lengths in between.
        let mut lengths: Vec<usize> = (0..64.min(bytes.len())).collect();
        lengths.extend(bytes.len().saturating_sub(64)..bytes.len());
        lengths.extend((0..CASES).map(|_| rng.below(bytes.len())));
        for len in lengths {
            survives(&bytes[..len], &format!("{name} cut to {len} bytes"));
        }
        assert!(!survives(&[], "empty"), "{name}: the empty prefix imported");
    }
}

#[test]
fn flipped_inserted_and_deleted_bytes_never_panic() {
    let mut rng = Rng(0x0b17_f11b_5eed_0002);
    for (name, bytes) in fixtures() {
        for case in 0..CASES {
            let at = rng.below(bytes.len());
            let mut flipped = bytes.clone();
            flipped[at] ^= 1 << rng.below(8);
            survives(&flipped, &format!("{name}: bit flip at {at} (case {case})"));

            let mut replaced = bytes.clone();
            replaced[at] = rng.byte();
            survives(&replaced, &format!("{name}: byte replaced at {at}"));

            let mut inserted = bytes.clone();
            inserted.insert(at, rng.byte());
            survives(&inserted, &format!("{name}: byte inserted at {at}"));

            let mut deleted = bytes.clone();
            deleted.remove(at);
            survives(&deleted, &format!("{name}: byte deleted at {at}"));
        }
    }
}

/// Varint fields set to extremes: sizes, dims, data types and opsets come
/// from varints, so a byte run of `0xff` stresses every numeric check.
#[test]
fn saturated_varints_never_panic() {
    let mut rng = Rng(0x5a7u64 << 32 | 3);
    for (name, bytes) in fixtures() {
        for _ in 0..CASES / 2 {
            let at = rng.below(bytes.len());
            let run = 1 + rng.below(10);
            let mut mutated = bytes.clone();
            for byte in mutated.iter_mut().skip(at).take(run) {
                *byte = 0xff;
            }
            survives(&mutated, &format!("{name}: {run} bytes of 0xff at {at}"));
        }
    }
}
