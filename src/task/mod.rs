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
    let live = shared.task_started();
    let index = live.index();
    let future = TaskFuture { future: AssertUnwindSafe(future).catch_unwind(), _live: live };
    let list = shared.clone();
    let schedule = move |runnable| shared.schedule(runnable);
    let (runnable, task) = async_task::spawn_local(future, schedule);
    list.set_task_waker(index, runnable.waker());
    runnable.schedule();
    JoinHandle::new(task)
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
        _live: LiveTask,
    }
}

impl<F: Future> Future for TaskFuture<F> {
    type Output = std::thread::Result<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().future.poll(cx)
    }
}
