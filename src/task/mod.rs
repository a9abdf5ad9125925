//! Tasks: spawning futures onto the current runtime ([`spawn`], [`spawn_local`]), running blocking work on
//! the blocking pool ([`spawn_blocking`]), waiting for them ([`JoinHandle`]), and yielding
//! ([`yield_now`]).
//!
//! The public face of the executor; how a task is made, run and cancelled is the runtime's
//! (`runtime::task`).

mod blocking;
mod yield_now;

use std::future::Future;

pub use crate::runtime::{JoinError, JoinHandle};
use crate::runtime::{context, spawn_on, spawn_send_on};
pub use yield_now::yield_now;

/// Spawns `future` as a new task of the runtime running on this thread.
///
/// The future must be `Send`: on a multi-worker runtime (see
/// [`Builder::worker_threads`](crate::Builder::worker_threads)) it may run on any worker,
/// placed on the least busy one. On a runtime of one thread it runs on that thread while
/// the runtime is inside `block_on`, concurrently with the future given to `block_on` and
/// with the other tasks. A future that is not `Send` (it holds an `Rc`, say) goes to
/// [`spawn_local`].
///
/// # Panics
///
/// Outside of a plexio runtime (that is, not within [`crate::block_on`],
/// [`Runtime::block_on`](crate::Runtime::block_on) or a task).
///
/// ```
/// plexio::block_on(async {
///     let a = plexio::spawn(async { 1 });
///     let b = plexio::spawn(async { 2 });
///     assert_eq!(a.await.unwrap() + b.await.unwrap(), 3);
/// });
/// ```
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let Some(current) = context::current() else {
        panic!(
            "plexio::spawn called outside of a plexio runtime: call it from within \
             plexio::block_on or Runtime::block_on"
        );
    };
    match current.pool {
        Some(pool) => pool.spawn(future),
        None => spawn_send_on(current.shared, future),
    }
}

/// Spawns `future`, which need not be `Send`, as a new task on this thread: the thread of
/// `block_on` (where it runs while the runtime is inside `block_on`), or the worker that
/// runs the calling task. It never moves to another thread.
///
/// # Panics
///
/// Outside of a plexio runtime.
///
/// ```
/// use std::rc::Rc;
///
/// plexio::block_on(async {
///     let shared = Rc::new(20);
///     let task = plexio::task::spawn_local({
///         let shared = shared.clone();
///         async move { *shared + 1 }
///     });
///     assert_eq!(task.await.unwrap() + *shared, 41);
/// });
/// ```
#[track_caller]
pub fn spawn_local<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let Some(shared) = context::shared() else {
        panic!(
            "plexio::task::spawn_local called outside of a plexio runtime: call it from \
             within plexio::block_on or Runtime::block_on"
        );
    };
    spawn_on(shared, future)
}

/// Runs `work` on a thread of the blocking pool, where it may block for as long as it
/// needs, and gives a handle that resolves to its result on the runtime.
///
/// The pool's threads are shared by every runtime of the process, started on demand (at
/// most 64 at once; further work waits its turn) and gone after 10 s without work. plexio
/// uses it to resolve host names, so that `TcpStream::connect("example.org:80")` never
/// blocks the runtime's thread.
///
/// A panic in `work` is reported by the handle ([`JoinError::is_panic`]). Aborting the
/// handle, or dropping the runtime, cannot stop `work` once it has started: it runs to its
/// end, and its result is dropped.
///
/// # Panics
///
/// Outside of a plexio runtime.
///
/// ```
/// plexio::block_on(async {
///     let length = plexio::task::spawn_blocking(|| std::fs::read_dir(".").map(|dir| dir.count()));
///     assert!(length.await.unwrap().unwrap() > 0);
/// });
/// ```
#[track_caller]
pub fn spawn_blocking<F, T>(work: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let (sender, receiver) = futures::channel::oneshot::channel();
    blocking::run(move || {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
        // The task may be gone (aborted, or its runtime dropped): then nobody wants it.
        let _ = sender.send(result);
    });
    spawn(async move {
        match receiver.await {
            Ok(Ok(value)) => value,
            // Caught on the pool thread; resumed here, where the task's own panic handling
            // reports it through the handle.
            Ok(Err(payload)) => std::panic::resume_unwind(payload),
            Err(_canceled) => unreachable!("the pool runs every job, which always sends"),
        }
    })
}
