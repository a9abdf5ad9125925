//! The blocking pool: threads for work that would block a runtime's thread (name lookups,
//! file system calls, CPU-heavy work), shared by every runtime of the process.
//!
//! Threads are started on demand, up to [`MAX_THREADS`], and leave after
//! [`IDLE_TIMEOUT`] without work, so an idle process keeps none. Jobs queue in arrival
//! order once every thread is busy.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::Duration;

use crate::util::lock;

/// The most threads the pool runs at once.
pub(crate) const MAX_THREADS: usize = 64;

/// How long a thread waits for a job before it leaves.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

type Job = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct Pool {
    state: Mutex<State>,
    work: Condvar,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Job>,
    threads: usize,
    idle: usize,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(Pool::default)
}

/// Runs `job` on a pool thread. A panic in `job` is caught (the job reports it through its
/// own channel) so that it never takes a pool thread down with it.
pub(crate) fn run(job: impl FnOnce() + Send + 'static) {
    let pool = pool();
    let mut state = lock(&pool.state);
    state.queue.push_back(Box::new(job));
    // An idle thread counts as idle until it wakes and takes a job, so it is enough only if
    // the idle threads outnumber the queued jobs; otherwise two jobs queued together would
    // share one thread, and a job waiting for the other would wait for ever.
    if state.idle >= state.queue.len() {
        pool.work.notify_one();
        return;
    }
    if state.threads < MAX_THREADS {
        state.threads += 1;
        let started = std::thread::Builder::new()
            .name("plexio-blocking".to_owned())
            .spawn(move || serve(pool));
        if started.is_err() {
            // No thread could be made: the job waits for a running one (if none runs,
            // the next `run` tries again).
            state.threads -= 1;
        }
    }
}

/// A pool thread: runs jobs until none comes for `IDLE_TIMEOUT`.
fn serve(pool: &'static Pool) {
    let mut state = lock(&pool.state);
    loop {
        if let Some(job) = state.queue.pop_front() {
            drop(state);
            // The job sends its own result, panic included; this only keeps the thread.
            let _ = catch_unwind(AssertUnwindSafe(job));
            state = lock(&pool.state);
            continue;
        }
        state.idle += 1;
        let (woken, timeout) = pool
            .work
            .wait_timeout(state, IDLE_TIMEOUT)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        state = woken;
        state.idle -= 1;
        if timeout.timed_out() && state.queue.is_empty() {
            state.threads -= 1;
            return;
        }
    }
}
