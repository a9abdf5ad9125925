//! Tasks: spawning futures onto the current runtime, waiting for them, and yielding.

mod blocking;
mod harness;
mod join;
mod yield_now;

use std::future::Future;
use std::sync::Arc;

pub(crate) use harness::{Runnable, cancel, run};
pub use join::{JoinError, JoinHandle};
pub use yield_now::yield_now;

use crate::runtime::{LiveTask, Shared, context};
use harness::{TaskFuture, TaskMeta};

/// Spawns `future` as a new task on the runtime running on this thread.
///
/// The future need not be `Send`: a plexio runtime runs its tasks on its own thread. The
/// task runs while the runtime is inside `block_on`, concurrently with the future given to
/// `block_on` and with the other tasks.
///
/// # Panics
///
/// Outside of a plexio runtime (that is, not within [`crate::block_on`] or
/// [`Runtime::block_on`](crate::Runtime::block_on)).
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
    F: Future + 'static,
    F::Output: 'static,
{
    let Some(shared) = context::shared() else {
        panic!(
            "plexio::spawn called outside of a plexio runtime: call it from within \
             plexio::block_on or Runtime::block_on"
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

/// Spawns `future` onto the runtime that `shared` belongs to; must run on its thread.
pub(crate) fn spawn_on<F>(shared: Arc<Shared>, future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let live = shared.task_started();
    let index = live.as_ref().map(LiveTask::index);
    let (runnable, task) = async_task::Builder::new()
        .metadata(TaskMeta::default())
        .spawn_local(move |_| TaskFuture::new(future, live), scheduler(&shared));
    start(&shared, index, runnable, task)
}

/// Spawns a `Send` future onto the runtime that `shared` belongs to, from any thread.
pub(crate) fn spawn_send_on<F>(shared: Arc<Shared>, future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let live = shared.task_started();
    let index = live.as_ref().map(LiveTask::index);
    let (runnable, task) = async_task::Builder::new()
        .metadata(TaskMeta::default())
        .spawn(move |_| TaskFuture::new(future, live), scheduler(&shared));
    start(&shared, index, runnable, task)
}

/// The schedule function of a task of the runtime that `shared` belongs to.
fn scheduler(shared: &Arc<Shared>) -> impl Fn(Runnable) + Send + Sync + 'static {
    let shared = shared.clone();
    move |runnable| shared.schedule(runnable)
}

/// A handle for a task that never runs: `future` is dropped at once and the handle reports
/// the task cancelled (spawning onto a runtime that is gone).
pub(crate) fn cancelled<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (runnable, task) = async_task::Builder::new()
        .metadata(TaskMeta::default())
        .spawn(move |_| TaskFuture::new(future, None), cancel);
    let handle = JoinHandle::new(task, runnable.waker());
    cancel(runnable);
    handle
}

/// Hands a new task to its runtime and gives its handle; a task made while the runtime is
/// being dropped (its index is `None`) is cancelled at once instead, so that its handle
/// reports it.
fn start<T>(
    shared: &Shared,
    index: Option<usize>,
    runnable: Runnable,
    task: async_task::Task<Result<T, JoinError>, TaskMeta>,
) -> JoinHandle<T> {
    let handle = JoinHandle::new(task, runnable.waker());
    match index {
        Some(index) => {
            shared.set_task_waker(index, runnable.waker());
            runnable.schedule();
        }
        None => cancel(runnable),
    }
    handle
}
