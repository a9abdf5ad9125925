//! Tasks: spawning futures onto the current runtime, waiting for them, and yielding.

pub(crate) mod coop;
mod join;

use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;

pub use coop::yield_now;
pub use join::{JoinError, JoinHandle};

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::CatchUnwind;
use pin_project_lite::pin_project;

use crate::runtime::{LiveTask, Shared, context};

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

/// Spawns `future` onto the runtime that `shared` belongs to; must run on its thread.
pub(crate) fn spawn_on<F>(shared: Arc<Shared>, future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let (future, index) = TaskFuture::new(&shared, future);
    let (runnable, task) = async_task::spawn_local(future, scheduler(&shared));
    start(&shared, index, runnable);
    JoinHandle::new(task)
}

/// Spawns a `Send` future onto the runtime that `shared` belongs to, from any thread.
pub(crate) fn spawn_send_on<F>(shared: Arc<Shared>, future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (future, index) = TaskFuture::new(&shared, future);
    let (runnable, task) = async_task::spawn(future, scheduler(&shared));
    start(&shared, index, runnable);
    JoinHandle::new(task)
}

/// The schedule function of a task of the runtime that `shared` belongs to.
fn scheduler(shared: &Arc<Shared>) -> impl Fn(async_task::Runnable) + Send + Sync + 'static {
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
    let (runnable, task) = async_task::spawn(AssertUnwindSafe(future).catch_unwind(), |_| {});
    drop(runnable);
    JoinHandle::new(task)
}

/// Hands a new task to its runtime; a task made while the runtime is being dropped (its
/// index is `None`) is cancelled at once instead, so that its handle reports it.
fn start(shared: &Shared, index: Option<usize>, runnable: async_task::Runnable) {
    match index {
        Some(index) => {
            shared.set_task_waker(index, runnable.waker());
            runnable.schedule();
        }
        None => drop(runnable),
    }
}

pin_project! {
    /// A spawned future as its task holds it: panics caught, and the task counted as live
    /// until the future is dropped. A struct rather than an `async` block, which would keep
    /// the user's future twice (the captured value and the awaited one), doubling the
    /// memory of every task.
    struct TaskFuture<F> {
        #[pin]
        future: CatchUnwind<AssertUnwindSafe<F>>,
        // Declared after `future`, so that it drops after it.
        _live: Option<LiveTask>,
    }
}

impl<F: Future> TaskFuture<F> {
    /// Wraps `future` and lists its task on the runtime; also gives the task's place on the
    /// list, `None` if the runtime no longer takes tasks.
    fn new(shared: &Arc<Shared>, future: F) -> (TaskFuture<F>, Option<usize>) {
        let live = shared.task_started();
        let index = live.as_ref().map(LiveTask::index);
        (TaskFuture { future: AssertUnwindSafe(future).catch_unwind(), _live: live }, index)
    }
}

impl<F: Future> Future for TaskFuture<F> {
    type Output = std::thread::Result<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().future.poll(cx)
    }
}
