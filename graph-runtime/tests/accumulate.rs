//! The fused SGD update of a weight matrix, `w += scale · a·b`
//! (`linalg::matmul_accumulate_inplace`), with the `parallel` feature: two
//! threads split the columns and give the same bits as one (in a rayon pool
//! and out of one), and both agree with the product followed by the update.

#![cfg(feature = "parallel")]

use graph_runtime::kernels::linalg::{matmul, matmul_accumulate_inplace};
use graph_runtime::{rayon, threads};
use ndarray::Array2;

fn filled(rows: usize, cols: usize, seed: usize) -> Array2<f32> {
    Array2::from_shape_fn((rows, cols), |(i, j)| {
        ((i * 7919 + j * 104_729 + seed * 1_299_709) % 2000) as f32 / 1000.0 - 1.0
    })
}

#[test]
fn two_threads_update_the_same_bits_as_one() {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("a 2-thread pool");
    // Large enough to split (at least `PARALLEL_MIN_WORK` multiply-adds),
    // with column counts that do not divide into equal halves of blocks.
    for (m, k, n) in [(256, 256, 256), (784, 64, 128), (300, 128, 72)] {
        let (w, h, delta) = (filled(m, n, 1), filled(k, m, 2), filled(k, n, 3));
        // Inside a rayon pool, and outside one (the calling thread and the
        // helper thread that `set_threads` starts).
        let run = |threads_wanted: usize, in_pool: bool| {
            threads::set_threads(threads_wanted);
            let mut updated = w.clone();
            let mut update = || {
                matmul_accumulate_inplace(updated.view_mut(), h.view(), delta.view(), true, -0.01);
            };
            if in_pool {
                pool.install(update);
            } else {
                update();
            }
            threads::set_threads(1);
            updated
        };
        let one = run(1, false);
        for in_pool in [true, false] {
            let two = run(2, in_pool);
            assert!(
                one.iter()
                    .zip(&two)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "{m}×{k}×{n}, in a pool: {in_pool}: one and two threads differ"
            );
        }
        let two = run(2, false);
        // Against the unfused update, to the rounding of the product's sums.
        let unfused = &w - &(matmul(h.t(), delta.view()) * 0.01);
        let worst = unfused
            .iter()
            .zip(&two)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0_f32, f32::max);
        assert!(worst <= 1e-5, "{m}×{k}×{n}: off by {worst}");
    }
}
