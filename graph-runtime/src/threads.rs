//! How many threads the large matrix products may use.
//!
//! Every kernel runs on the calling thread unless the crate is built with
//! the `parallel` feature *and* [`set_threads`] has asked for more than one
//! thread: multi-threading is opt-in twice, since at the sizes staticflow
//! is built for (batch-1 inference) handing work to another thread costs
//! more than it saves. With both, a matrix product of at least
//! [`PARALLEL_MIN_WORK`] multiply-adds splits into blocks that the threads
//! claim one at a time: on the SIMD tile kernel, blocks of columns as wide
//! as the kernel's strips (so that the threads share the reading of the
//! weights instead of each reading all of them); otherwise, given enough
//! rows, one block of rows per thread. Smaller products, and every other
//! kernel, stay on the calling thread. Which threads share the blocks
//! depends on the caller:
//!
//! - called from a thread of a rayon pool (inside `ThreadPool::install`, or
//!   a parallel iterator), the product splits over that pool, up to its
//!   size, with `rayon::join`;
//! - called from any other thread, the calling thread computes blocks
//!   itself, with up to `threads − 1` helper threads that [`set_threads`]
//!   starts once (no more than the machine has cores, less one). A helper
//!   sleeps between products and is woken by the next; a block no helper
//!   has taken when the caller is done with its own is computed by the
//!   caller, so a helper that is slow to get a core delays nothing (under
//!   load from other processes, two threads then take about as long as
//!   one, rather than waiting for a thread that is not running). The
//!   caller claims blocks from the first on and the helpers from the last
//!   back, so that a layer's forward product and its weight update, which
//!   split the same columns, mostly give each thread the same blocks.
//!
//! Neither allocates per product.
//!
//! The setting is process-wide, like `torch.set_num_threads`; it changes
//! how fast a product runs, never its result (each element of the output is
//! computed the same way, on whichever thread: results are the same bit for
//! bit with any thread count).
//!
//! Only the products split: a training step's elementwise update of a
//! weight matrix runs on the calling thread, and reads the part of the
//! gradient a helper computed from that helper's cache.
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

#[cfg(feature = "parallel")]
#[allow(unsafe_code)] // A job on the caller's stack, shared with helpers.
mod helpers;

/// The thread count set by [`set_threads`]; 1 by default.
static THREADS: AtomicUsize = AtomicUsize::new(1);

/// Multiply-adds below which a product stays on one thread: about 20 µs of
/// work for one core, well above what waking a second thread costs.
pub const PARALLEL_MIN_WORK: usize = 1 << 21;

/// Rows each thread gets at least: a few tiles of the SIMD kernel.
#[cfg(feature = "parallel")]
const MIN_ROWS_PER_THREAD: usize = 12;

/// Blocks a product splits into at most: the calling thread and its
/// helpers.
#[cfg(feature = "parallel")]
pub(crate) const MAX_PARTS: usize = helpers::MAX_HELPERS + 1;

/// Lets large matrix products use up to `threads` threads (0 counts as 1).
/// Without the `parallel` feature the setting is kept but every kernel
/// still runs on the calling thread.
///
/// With the feature, the first call asking for more threads than before
/// starts the helper threads that products called outside a rayon pool
/// share their work with (as many as the machine has cores, less one, and
/// at most 15); they stay, asleep when unused, until the process ends.
pub fn set_threads(threads: usize) {
    let threads = threads.max(1);
    #[cfg(feature = "parallel")]
    if threads > helpers::spawned() + 1 {
        // Asked once: the answer reads files under /proc and /sys on Linux.
        static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
        let cores =
            *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from));
        helpers::spawn_up_to(threads.min(cores) - 1);
    }
    THREADS.store(threads, Ordering::Relaxed);
}

/// The thread count set by [`set_threads`] (1 by default).
#[must_use]
pub fn threads() -> usize {
    THREADS.load(Ordering::Relaxed)
}

/// How many threads an `m × k` by `k × n` product may use: 1 below
/// [`PARALLEL_MIN_WORK`], else those asked for that are available to the
/// caller.
#[cfg(feature = "parallel")]
pub(crate) fn threads_for(m: usize, k: usize, n: usize) -> usize {
    let wanted = threads();
    if wanted <= 1 {
        return 1;
    }
    let work = m.saturating_mul(k).saturating_mul(n);
    if work < PARALLEL_MIN_WORK {
        return 1;
    }
    let available = if rayon::current_thread_index().is_some() {
        rayon::current_num_threads()
    } else {
        helpers::spawned() + 1
    };
    wanted.min(available).min(MAX_PARTS)
}

/// Into how many row blocks an `m × k` by `k × n` product is split: one
/// per thread available ([`threads_for`]), each of at least 12 rows.
#[cfg(feature = "parallel")]
pub(crate) fn parts_for(m: usize, k: usize, n: usize) -> usize {
    threads_for(m, k, n).min(m / MIN_ROWS_PER_THREAD).max(1)
}

/// The columns of `out` cut into `parts` (at most [`MAX_PARTS`]) blocks
/// of `width` columns, the last taking the rest, each behind a lock of its
/// own: the parts of a [`run_parts`] call take one block each
/// ([`take_block`]), so disjoint blocks reach the threads without `unsafe`
/// and without allocating.
#[cfg(feature = "parallel")]
pub(crate) type Blocks<'o> = [std::sync::Mutex<Option<ndarray::ArrayViewMut2<'o, f32>>>; MAX_PARTS];

/// See [`Blocks`].
#[cfg(feature = "parallel")]
pub(crate) fn column_blocks(
    out: ndarray::ArrayViewMut2<'_, f32>,
    width: usize,
    parts: usize,
) -> Blocks<'_> {
    let mut blocks: Blocks<'_> = core::array::from_fn(|_| std::sync::Mutex::new(None));
    let parts = parts.min(MAX_PARTS);
    let mut rest = out;
    for (part, block) in blocks.iter_mut().take(parts).enumerate() {
        let columns = if part + 1 == parts {
            rest.ncols()
        } else {
            width.min(rest.ncols())
        };
        let (this, after) = rest.split_at(ndarray::Axis(1), columns);
        *block = std::sync::Mutex::new(Some(this));
        rest = after;
    }
    blocks
}

/// Block `part` of [`column_blocks`], the first time it is asked for.
#[cfg(feature = "parallel")]
pub(crate) fn take_block<'o>(
    blocks: &Blocks<'o>,
    part: usize,
) -> Option<ndarray::ArrayViewMut2<'o, f32>> {
    blocks.get(part)?.lock().ok()?.take()
}

/// Calls `run(0)`, …, `run(parts - 1)` on the threads available to the
/// caller (see the module documentation), returning once all are done. A
/// panic of any call is resumed on the calling thread.
#[cfg(feature = "parallel")]
pub(crate) fn run_parts(parts: usize, run: &(dyn Fn(usize) + Sync)) {
    if rayon::current_thread_index().is_some() {
        join_parts(0..parts, run);
    } else {
        helpers::run_parts(parts, threads().saturating_sub(1), run);
    }
}

/// [`run_parts`] on the current rayon pool: halves `parts` recursively with
/// `rayon::join`, which needs no allocation.
#[cfg(feature = "parallel")]
fn join_parts(parts: core::ops::Range<usize>, run: &(dyn Fn(usize) + Sync)) {
    if parts.len() <= 1 {
        parts.for_each(run);
        return;
    }
    let middle = parts.start + parts.len() / 2;
    rayon::join(
        || join_parts(parts.start..middle, run),
        || join_parts(middle..parts.end, run),
    );
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
        // Outside a pool: the calling thread and one helper, if the machine
        // has a second core for it.
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        assert_eq!(parts_for(64, 784, 128), cores.min(2));
        assert_eq!(parts_for(64, 128, 10), 1, "82k multiply-adds");
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
