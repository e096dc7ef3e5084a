//! Property tests of the weight-file parsers: random byte strings, and valid
//! files mutated by truncation, byte flips, length-field rewrites, insertions
//! and deletions, never make a parser panic; whatever parses is internally
//! consistent and loads through [`Weights`] without panicking either.
//!
//! This is the bounded version of the fuzz targets in `graph-runtime/fuzz/`:
//! 500 cases per property by default, a few seconds in CI. Set
//! `PROPTEST_CASES` for longer local runs.

use std::path::PathBuf;
use std::sync::OnceLock;

use graph_runtime::weights::{save_safetensors, Dtype, Npy, SafeTensors, Weights};
use ndarray::{Array, IxDyn};
use proptest::prelude::*;
use proptest::test_runner::Config;

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(500);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

fn data(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/weights")
        .join(relative)
}

/// Valid files to mutate: Python's, ours, and several `.npy` layouts.
fn seeds() -> &'static [Vec<u8>] {
    static SEEDS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let ours = {
            let matrix = Array::from_shape_fn((2, 3), |(i, j)| (i * 3 + j) as f32);
            let scalar = ndarray::arr0(1.0_f32).into_dyn();
            save_safetensors(&[
                ("matrix", matrix.view().into_dyn()),
                ("scalar", scalar.view()),
            ])
        };
        let mut seeds = vec![ours];
        for file in [
            "valid/python.safetensors",
            "valid/nan.safetensors",
            "npy/kernel.npy",
            "npy/kernel_v2.npy",
            "npy/kernel_v3.npy",
            "npy/cube_fortran.npy",
            "npy/kernel_big_endian.npy",
            "npy/structured.npy",
        ] {
            seeds.push(std::fs::read(data(file)).unwrap());
        }
        seeds
    })
}

/// One way to damage a file.
#[derive(Debug, Clone)]
enum Mutation {
    /// Keep only the first `at` (modulo length + 1) bytes.
    Truncate(usize),
    /// XOR the byte at `at` with a non-zero mask.
    Flip(usize, u8),
    /// Overwrite the header length field (safetensors: bytes 0..8;
    /// npy: bytes 8..10, or 8..12 for versions 2 and 3) with `value`.
    Length(u64),
    /// Add a small delta to the header length field.
    LengthDelta(i16),
    /// Insert bytes at `at`.
    Insert(usize, Vec<u8>),
    /// Delete up to `count` bytes starting at `at`.
    Delete(usize, usize),
    /// Overwrite bytes at `at` with an interesting ASCII fragment, to reach
    /// deeper into the JSON and Python-literal parsers.
    Splice(usize, &'static str),
}

const FRAGMENTS: &[&str] = &[
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    "\"",
    "'",
    "-1",
    "0",
    "18446744073709551615",
    "4294967296",
    "1e400",
    "null",
    "True",
    "(",
    ")",
    "F32",
    "F4",
    "BOOL",
    "\"shape\"",
    "\"data_offsets\"",
    "'shape'",
    "'<f4'",
    "'>f8'",
    "\\",
    "\\u0000",
];

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), 1..=u8::MAX).prop_map(|(at, mask)| Mutation::Flip(at, mask)),
        prop_oneof![
            Just(0_u64),
            Just(u64::MAX),
            Just(u64::from(u32::MAX)),
            0..4096_u64,
            any::<u64>()
        ]
        .prop_map(Mutation::Length),
        any::<i16>().prop_map(Mutation::LengthDelta),
        (
            any::<usize>(),
            proptest::collection::vec(any::<u8>(), 1..16)
        )
            .prop_map(|(at, bytes)| Mutation::Insert(at, bytes)),
        (any::<usize>(), 1..64_usize).prop_map(|(at, count)| Mutation::Delete(at, count)),
        (any::<usize>(), proptest::sample::select(FRAGMENTS))
            .prop_map(|(at, fragment)| Mutation::Splice(at, fragment)),
    ]
}

/// Where the header length field of `bytes` is, judged by its magic.
fn length_field(bytes: &[u8]) -> std::ops::Range<usize> {
    if bytes.starts_with(b"\x93NUMPY") {
        if bytes.get(6) == Some(&1) {
            8..10
        } else {
            8..12
        }
    } else {
        0..8
    }
}

fn apply(bytes: &mut Vec<u8>, mutation: &Mutation) {
    let position = |at: usize, len: usize| if len == 0 { 0 } else { at % len };
    match mutation {
        Mutation::Truncate(at) => bytes.truncate(at % (bytes.len() + 1)),
        Mutation::Flip(at, mask) => {
            if !bytes.is_empty() {
                let at = position(*at, bytes.len());
                bytes[at] ^= mask;
            }
        }
        Mutation::Length(value) => {
            let field = length_field(bytes);
            if field.end <= bytes.len() {
                let width = field.len();
                bytes[field].copy_from_slice(&value.to_le_bytes()[..width]);
            }
        }
        Mutation::LengthDelta(delta) => {
            let field = length_field(bytes);
            if field.end <= bytes.len() {
                let width = field.len();
                let mut word = [0_u8; 8];
                word[..width].copy_from_slice(&bytes[field.clone()]);
                let value = u64::from_le_bytes(word).wrapping_add_signed(i64::from(*delta));
                bytes[field].copy_from_slice(&value.to_le_bytes()[..width]);
            }
        }
        Mutation::Insert(at, inserted) => {
            let at = at % (bytes.len() + 1);
            bytes.splice(at..at, inserted.iter().copied());
        }
        Mutation::Delete(at, count) => {
            let at = position(*at, bytes.len());
            let end = (at + count).min(bytes.len());
            bytes.drain(at..end);
        }
        Mutation::Splice(at, fragment) => {
            let at = position(*at, bytes.len());
            let end = (at + fragment.len()).min(bytes.len());
            bytes.splice(at..end, fragment.bytes());
        }
    }
}

/// Feeds `bytes` to both parsers and to `Weights`; panics (failing the
/// property) only if a parser does, or if what it accepts is inconsistent.
fn exercise(bytes: &[u8]) {
    if let Ok(file) = SafeTensors::parse(bytes) {
        for (name, view) in file.tensors() {
            let elements: usize = view.shape.iter().product();
            assert_eq!(view.data.len() * 8, elements * view.dtype.bits(), "{name}");
            if view.dtype == Dtype::F32 {
                assert_eq!(view.to_f32_array().unwrap().len(), elements, "{name}");
            }
        }
        let mut weights = Weights::from_safetensors_bytes(bytes.to_vec()).unwrap();
        for (name, view) in file.tensors() {
            // `take` wants the `'static` names and shapes generated code has.
            let name: &'static str = Box::leak(name.to_owned().into_boxed_str());
            let shape: &'static [usize] = Box::leak(view.shape.clone().into_boxed_slice());
            let taken = weights.take::<IxDyn>(name, shape);
            assert_eq!(taken.is_ok(), view.dtype == Dtype::F32, "{name}");
        }
        weights.finish(true).unwrap();
    } else {
        assert!(Weights::from_safetensors_bytes(bytes.to_vec()).is_err());
    }

    if let Ok(npy) = Npy::parse(bytes) {
        if let Some(array) = npy.to_f32_array() {
            assert_eq!(array.shape(), npy.shape.as_slice());
            assert!(array.is_standard_layout());
        }
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        exercise(&bytes);
    }

    #[test]
    fn random_bytes_after_a_valid_prefix_never_panic(
        npy in any::<bool>(),
        header_length in 0_u16..600,
        tail in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        // Random headers behind a correct magic and a plausible length, so
        // the header parsers see most of the cases rather than the magic
        // check.
        let mut bytes = if npy {
            let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
            bytes.extend_from_slice(&header_length.to_le_bytes());
            bytes
        } else {
            u64::from(header_length).to_le_bytes().to_vec()
        };
        bytes.extend_from_slice(&tail);
        exercise(&bytes);
    }

    #[test]
    fn mutated_valid_files_never_panic(
        seed in 0..9_usize,
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        let mut bytes = seeds()[seed % seeds().len()].clone();
        for mutation in &mutations {
            apply(&mut bytes, mutation);
        }
        exercise(&bytes);
    }
}

#[test]
fn every_seed_parses_before_mutation() {
    for seed in seeds() {
        let safetensors = SafeTensors::parse(seed).is_ok();
        let npy = Npy::parse(seed).is_ok();
        assert!(safetensors != npy, "each seed is exactly one format");
    }
}
