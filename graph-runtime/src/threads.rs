//! How many threads the large matrix products may use.
//!
//! Every kernel runs on the calling thread unless the crate is built with
//! the `parallel` feature *and* [`set_threads`] has asked for more than one
//! thread: multi-threading is opt-in twice, since at the sizes staticflow
//! is built for (batch-1 inference) handing work to another thread costs
//! more than it saves. With both, a matrix product of at least
//! [`PARALLEL_MIN_WORK`] multiply-adds and enough rows splits its rows over
//! up to that many threads of rayon's current pool (the global one, or the
//! one whose `install` the call runs in); smaller products, and every other
//! kernel, stay on the calling thread.
//!
//! The setting is process-wide, like `torch.set_num_threads`; it changes
//! how fast a product runs, never its result (each row of the output is
//! computed the same way, on whichever thread).
//!
//! ```
//! # #[cfg(feature = "parallel")] {
//! use graph_runtime::threads;
//!
//! threads::set_threads(2);
//! assert_eq!(threads::threads(), 2);
//! threads::set_threads(1); // back to the default: the calling thread only
//! # }
//! ```

use core::sync::atomic::{AtomicUsize, Ordering};

/// The thread count set by [`set_threads`]; 1 by default.
static THREADS: AtomicUsize = AtomicUsize::new(1);

/// Multiply-adds below which a product stays on one thread: about 20 µs of
/// work for one core, well above what waking a second thread costs.
pub const PARALLEL_MIN_WORK: usize = 1 << 21;

/// Rows each thread gets at least: a few tiles of the SIMD kernel.
#[cfg(feature = "parallel")]
const MIN_ROWS_PER_THREAD: usize = 12;

/// Lets large matrix products use up to `threads` threads (0 counts as 1).
/// Without the `parallel` feature the setting is kept but every kernel
/// still runs on the calling thread.
pub fn set_threads(threads: usize) {
    THREADS.store(threads.max(1), Ordering::Relaxed);
}

/// The thread count set by [`set_threads`] (1 by default).
#[must_use]
pub fn threads() -> usize {
    THREADS.load(Ordering::Relaxed)
}

/// Into how many row blocks an `m × k` by `k × n` product is split.
#[cfg(feature = "parallel")]
pub(crate) fn parts_for(m: usize, k: usize, n: usize) -> usize {
    let wanted = threads();
    if wanted <= 1 {
        return 1;
    }
    let work = m.saturating_mul(k).saturating_mul(n);
    if work < PARALLEL_MIN_WORK {
        return 1;
    }
    wanted
        .min(rayon::current_num_threads())
        .min(m / MIN_ROWS_PER_THREAD)
        .max(1)
}

#[cfg(all(test, feature = "parallel"))]
mod tests {
    use super::*;

    #[test]
    fn splits_only_large_products_over_the_threads_asked_for() {
        // One test sets and resets the process-wide count, so no other test
        // of this crate sees it changed.
        assert_eq!(parts_for(256, 256, 256), 1, "1 thread by default");
        set_threads(2);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        pool.install(|| {
            assert_eq!(parts_for(64, 784, 128), 2);
            assert_eq!(parts_for(1, 784, 128), 1, "batch 1: too little work");
            assert_eq!(parts_for(64, 128, 10), 1, "82k multiply-adds");
            assert_eq!(parts_for(20, 4096, 4096), 1, "20 rows: one block");
        });
        let single = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        single.install(|| assert_eq!(parts_for(256, 256, 256), 1, "a 1-thread pool"));
        set_threads(0);
        assert_eq!(threads(), 1);
    }
}
