//! Fuzzes the `.npy` parser: any bytes must give `Ok` or a typed `Error`,
//! never a panic, and whatever parses as `f32` must convert to an array of
//! the declared shape.

#![no_main]

use graph_runtime::weights::Npy;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let Ok(npy) = Npy::parse(bytes) else {
        return;
    };
    if npy.is_f32() {
        assert_eq!(npy.data.len(), npy.shape.iter().product::<usize>() * 4);
        let array = npy
            .to_f32_array()
            .expect("f32 data of the declared size converts");
        assert_eq!(array.shape(), npy.shape.as_slice());
        assert!(array.is_standard_layout());
    } else {
        assert!(npy.to_f32_array().is_none());
    }
});
