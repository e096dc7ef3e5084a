//! Fuzzes the safetensors parser: any bytes must give `Ok` or a typed
//! `Error`, never a panic, and whatever parses must be self-consistent and
//! load through `Weights` without panicking.

#![no_main]

use graph_runtime::weights::{Dtype, SafeTensors, Weights};
use libfuzzer_sys::fuzz_target;
use ndarray::IxDyn;

/// Names and shapes `take` is asked for: those of the seed files, so that
/// mutated seeds reach the shape and dtype checks and the decoding.
const VARIABLES: &[(&str, &[usize])] = &[
    ("w", &[2, 3]),
    ("w", &[6]),
    ("a", &[4]),
    ("matrix", &[2, 3]),
    ("scalar", &[]),
    ("dense.kernel", &[3, 4]),
    ("dense.bias", &[4]),
    ("empty", &[0, 3]),
    ("step", &[1]),
    ("half", &[2]),
];

fuzz_target!(|bytes: &[u8]| {
    let Ok(file) = SafeTensors::parse(bytes) else {
        assert!(Weights::from_safetensors_bytes(bytes.to_vec()).is_err());
        return;
    };
    for (name, view) in file.tensors() {
        let elements: usize = view.shape.iter().product();
        assert_eq!(view.data.len() * 8, elements * view.dtype.bits(), "{name}");
        if view.dtype == Dtype::F32 {
            assert_eq!(view.to_f32_array().map(|array| array.len()), Some(elements));
        }
    }
    let mut weights = Weights::from_safetensors_bytes(bytes.to_vec())
        .expect("the zero-copy parser accepted these bytes");
    for &(name, shape) in VARIABLES {
        let taken = weights.take::<IxDyn>(name, shape);
        let fits = file
            .get(name)
            .is_some_and(|view| view.dtype == Dtype::F32 && view.shape == shape);
        assert_eq!(taken.is_ok(), fits, "{name} {shape:?}");
    }
    let _ = weights.finish(true);
});
