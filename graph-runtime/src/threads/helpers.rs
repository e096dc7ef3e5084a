//! The helper threads that share large products with a calling thread
//! outside any rayon pool.
//!
//! Handing work to a sleeping rayon worker from outside its pool costs
//! three wake-ups per product (the job is injected into the pool, a worker
//! wakes a second one to steal half, and the caller, blocked meanwhile, is
//! woken at the end). On a virtual machine each is tens of microseconds, and
//! under load a woken worker often gets its core only after the caller has
//! finished alone: the 64 × 784 × 128 product of an MLP at batch 64
//! (about 120 µs on one core) gained little from a second thread that way.
//!
//! Here the calling thread works itself, and the helpers (spawned once, by
//! [`super::set_threads`]) join in:
//!
//! - the parts of a job are claimed one at a time from a shared counter, by
//!   the caller as well as by the helpers, so a helper that gets its core
//!   late takes fewer parts, and one that never does takes none: the caller
//!   then does every part, never waiting for a thread that has not started;
//! - a helper without a job watches its mailbox for a short while, then
//!   parks, and the caller offering one unparks it (see [`helper_loop`]
//!   for why it watches, and how);
//! - handing over a job allocates nothing: the job lives on the caller's
//!   stack, and the caller does not return before every helper that took
//!   it has let go of it.
//!
//! One job runs at a time; a caller that finds the helpers busy with
//! another thread's job runs all its parts itself.

use core::ptr;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};
use std::any::Any;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

/// Helper threads at most: a caller and up to 15 helpers.
pub(super) const MAX_HELPERS: usize = 15;

/// How long the caller polls for helpers still working before it parks:
/// a helper is then at most one block behind (a few tens of microseconds
/// at most for the products that split), and waking a parked thread on a
/// virtual machine costs tens of microseconds itself.
const WAIT_SPIN: Duration = Duration::from_micros(100);

/// How long a helper that has finished a job watches its mailbox for the
/// next before it parks: longer than the serial stretch between the split
/// products of a training step at batch 64 (about 30 µs), so that the
/// helper is awake for the next product instead of waiting to be woken.
const IDLE_WATCH: Duration = Duration::from_micros(60);

/// A gap between two of the watching helper's looks at the clock longer
/// than this means it lost its core meanwhile: it parks at once, so that a
/// core shared with the caller (or with anything else) is not held by a
/// thread with nothing to do.
const PREEMPTED: Duration = Duration::from_micros(10);

/// A job: `parts` calls `run(0)`, …, `run(parts - 1)`, each made once, by
/// whichever thread claims it.
struct Job<'a> {
    run: &'a (dyn Fn(usize) + Sync),
    parts: usize,
    /// Parts claimed so far; `parts` or more once all are.
    next: AtomicUsize,
    /// Parts the helpers have taken, from the last back (the caller counts
    /// its own, from the first on).
    back: AtomicUsize,
    /// Helpers that took the job and have let go of it.
    released: AtomicUsize,
    /// The first panic of a part run by a helper, for the caller to resume.
    panic: Mutex<Option<Box<dyn Any + Send>>>,
    /// The calling thread, unparked by each helper as it lets go.
    caller: Thread,
}

impl Job<'_> {
    /// Claims and runs parts until none are left: the caller from the first
    /// part on, helpers from the last back. Consecutive jobs over the same
    /// blocks (a layer's forward product and its weight update both split
    /// the weight matrix's columns) then mostly give each thread the same
    /// blocks, whose data stays in that core's cache, while a helper that
    /// starts late still leaves its parts to the caller.
    fn work(&self, helper: bool) {
        let mut front = 0;
        // At most `parts` claims succeed, so the two ends never meet.
        while self.next.fetch_add(1, Ordering::Relaxed) < self.parts {
            let part = if helper {
                self.parts - 1 - self.back.fetch_add(1, Ordering::Relaxed)
            } else {
                front += 1;
                front - 1
            };
            (self.run)(part);
        }
    }
}

/// One helper thread's mailbox.
struct Helper {
    /// The job offered to this helper, null when none is. The helper takes
    /// it by swapping in null; the caller withdraws it the same way.
    offer: AtomicPtr<Job<'static>>,
    /// Set by the helper before it parks (and checks `offer` once more), so
    /// that a caller offering a job knows to unpark it.
    sleeping: AtomicBool,
    thread: OnceLock<Thread>,
}

static HELPERS: [Helper; MAX_HELPERS] = [const {
    Helper {
        offer: AtomicPtr::new(ptr::null_mut()),
        sleeping: AtomicBool::new(false),
        thread: OnceLock::new(),
    }
}; MAX_HELPERS];

/// Helpers started so far (the first `SPAWNED` of `HELPERS`).
static SPAWNED: AtomicUsize = AtomicUsize::new(0);

/// Whether a job is running: one at a time uses the helpers.
static BUSY: AtomicBool = AtomicBool::new(false);

/// Serialises [`spawn_up_to`].
static SPAWNING: Mutex<()> = Mutex::new(());

/// Starts helpers until `count` (at most [`MAX_HELPERS`]) run. A helper the
/// system refuses to start is left out: products then use fewer threads.
pub(super) fn spawn_up_to(count: usize) {
    let count = count.min(MAX_HELPERS);
    let _guard = SPAWNING.lock().unwrap_or_else(PoisonError::into_inner);
    let mut spawned = SPAWNED.load(Ordering::Acquire);
    while spawned < count {
        let index = spawned;
        let started = thread::Builder::new()
            .name(format!("staticflow-helper-{index}"))
            .spawn(move || helper_loop(&HELPERS[index]));
        let Ok(handle) = started else { break };
        // Set before the helper is counted, so that a caller finds it.
        let _ = HELPERS[index].thread.set(handle.thread().clone());
        spawned += 1;
        SPAWNED.store(spawned, Ordering::Release);
    }
}

/// Helpers available.
pub(super) fn spawned() -> usize {
    SPAWNED.load(Ordering::Acquire)
}

/// The life of a helper: take an offered job, work on it, watch for the
/// next a short while ([`watch`]), and park until one comes.
///
/// Parking at once after each job cost a wake-up per training step: on
/// this project's 2-core virtual machine a parked helper ran about 21 µs
/// after being unparked (`perf sched timehist`), and the 784-128-10 step at
/// batch 64 took 0.74 to 0.81 times its 1-thread time with 2 threads.
/// Watching the mailbox with plain loads for 60 µs, and parking as soon
/// as the watch is interrupted by the scheduler, brought it to 0.62 to 0.69
/// in most runs (runs in which the machine gave the process less than two
/// cores stay near 0.9 either way). Two earlier forms of waiting made
/// things worse and were dropped: polling by swapping the mailbox (which
/// writes its cache line) for 50 to 100 µs, 1.3 to 1.9 times the 1-thread
/// time under background builds and 0.93 to 0.99 on the quiet machine; and
/// yielding to the scheduler between polls, 0.73 to 0.95.
fn helper_loop(helper: &Helper) {
    loop {
        watch(helper);
        let job = helper.offer.swap(ptr::null_mut(), Ordering::Acquire);
        if !job.is_null() {
            // SAFETY: a non-null offer points to a job on the stack of a
            // caller inside `run_parts`, which does not return (nor
            // unwind past the job) before it has either withdrawn the
            // offer (impossible now: this swap took it) or seen this
            // helper's `released` increment, the last access to the job.
            unsafe { work_on(job) };
            continue;
        }
        // Announce the nap before the last look at the mailbox: a caller
        // offers a job before it reads `sleeping`, so either this look sees
        // the job or the caller sees `sleeping` and unparks.
        helper.sleeping.store(true, Ordering::SeqCst);
        if helper.offer.load(Ordering::SeqCst).is_null() {
            thread::park();
        }
        helper.sleeping.store(false, Ordering::SeqCst);
    }
}

/// Watches `helper`'s mailbox with plain loads until a job is offered,
/// [`IDLE_WATCH`] has passed, or the helper finds it was descheduled
/// ([`PREEMPTED`]). Loads only: taking the job (a swap) writes the
/// mailbox's cache line, which the caller writes to offer the job, and
/// polling with swaps kept that line moving between the cores.
fn watch(helper: &Helper) {
    let start = Instant::now();
    let mut last = start;
    let mut polls = 0_u32;
    while helper.offer.load(Ordering::Relaxed).is_null() {
        polls = polls.wrapping_add(1);
        if polls.is_multiple_of(64) {
            let now = Instant::now();
            if now - start > IDLE_WATCH || now - last > PREEMPTED {
                return;
            }
            last = now;
        }
        core::hint::spin_loop();
    }
}

/// Runs parts of `job` until none are left, then lets go of it.
///
/// # Safety
/// `job` must point to a live job whose caller waits for this helper's
/// `released` increment before the job goes away.
unsafe fn work_on(job: *const Job<'static>) {
    let caller = {
        // SAFETY: live until the increment below, per the contract.
        let job = unsafe { &*job };
        if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| job.work(true))) {
            let mut first = job.panic.lock().unwrap_or_else(PoisonError::into_inner);
            first.get_or_insert(payload);
        }
        job.caller.clone()
    };
    // SAFETY: as above; nothing touches the job after this increment.
    unsafe { (*job).released.fetch_add(1, Ordering::Release) };
    caller.unpark();
}

/// Calls `run(0)`, …, `run(parts - 1)`, sharing the calls between the
/// calling thread and up to `helpers` helper threads; returns once all are
/// done. A panic of any call is resumed on the calling thread.
pub(super) fn run_parts(parts: usize, helpers: usize, run: &(dyn Fn(usize) + Sync)) {
    let helpers = helpers.min(spawned()).min(parts.saturating_sub(1));
    if helpers == 0
        || BUSY
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
    {
        (0..parts).for_each(run);
        return;
    }
    let job = Job {
        run,
        parts,
        next: AtomicUsize::new(0),
        back: AtomicUsize::new(0),
        released: AtomicUsize::new(0),
        panic: Mutex::new(None),
        caller: thread::current(),
    };
    {
        // Withdraws the offers and waits for the helpers even if a part of
        // the caller's panics, so the job outlives every use of it.
        let _settle = Settle {
            job: &job,
            helpers: &HELPERS[..helpers],
        };
        let offered = ptr::from_ref(&job).cast_mut().cast::<Job<'static>>();
        for helper in &HELPERS[..helpers] {
            helper.offer.store(offered, Ordering::SeqCst);
            if helper.sleeping.load(Ordering::SeqCst) {
                if let Some(thread) = helper.thread.get() {
                    thread.unpark();
                }
            }
        }
        job.work(false);
    }
    let payload = job
        .panic
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(payload) = payload {
        panic::resume_unwind(payload);
    }
}

/// Ends a job on the caller's side when dropped: withdraws the offers no
/// helper took, waits until the helpers that took one have let go of the
/// job, and frees the helpers for the next job.
struct Settle<'j, 'a> {
    job: &'j Job<'a>,
    helpers: &'static [Helper],
}

impl Drop for Settle<'_, '_> {
    fn drop(&mut self) {
        // No part is left to claim (the caller stopped claiming because
        // the counter ran past the end, or is unwinding): stop the helpers
        // from starting any.
        self.job.next.fetch_add(self.job.parts, Ordering::Relaxed);
        let taken = self
            .helpers
            .iter()
            .filter(|helper| {
                helper
                    .offer
                    .swap(ptr::null_mut(), Ordering::AcqRel)
                    .is_null()
            })
            .count();
        // A helper still on its last part is usually about done: poll for
        // a while, then sleep until it unparks this thread (polling longer
        // could keep it off the core it needs, should they share one).
        let start = Instant::now();
        let mut polls = 0_u32;
        while self.job.released.load(Ordering::Acquire) < taken {
            polls = polls.wrapping_add(1);
            if !polls.is_multiple_of(64) || start.elapsed() < WAIT_SPIN {
                core::hint::spin_loop();
            } else {
                thread::park();
            }
        }
        BUSY.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each part runs exactly once per call, whoever claims it.
    #[test]
    fn every_part_runs_once() {
        spawn_up_to(1);
        let counts: [AtomicUsize; 7] = core::array::from_fn(|_| AtomicUsize::new(0));
        for _ in 0..500 {
            run_parts(counts.len(), 1, &|part| {
                counts[part].fetch_add(1, Ordering::Relaxed);
            });
        }
        for (part, count) in counts.iter().enumerate() {
            assert_eq!(count.load(Ordering::Relaxed), 500, "part {part}");
        }
    }

    /// A panicking part, on the caller or on a helper, reaches the caller,
    /// after which the helpers take jobs again.
    #[test]
    fn a_panic_of_a_part_is_resumed_by_the_caller() {
        spawn_up_to(1);
        for panicking in 0..2 {
            let caught = panic::catch_unwind(|| {
                run_parts(2, 1, &|part| {
                    assert_ne!(part, panicking, "part {part} fails");
                });
            });
            let payload = caught.expect_err("the panic reaches the caller");
            let message = payload.downcast_ref::<String>().map_or("", String::as_str);
            assert!(
                message.contains(&format!("part {panicking} fails")),
                "{message}"
            );
        }
        let total = AtomicUsize::new(0);
        run_parts(4, 1, &|part| {
            total.fetch_add(part, Ordering::Relaxed);
        });
        assert_eq!(total.load(Ordering::Relaxed), 1 + 2 + 3);
    }
}
