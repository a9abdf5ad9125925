//! The executor's tasks: how a future becomes a task of a runtime, how the runtime runs and
//! cancels it ([`run`], [`cancel`], the harness), and the [`JoinHandle`] that waits for it.
//!
//! The runtime drives these; the public `spawn` functions (`crate::task`) and `Spawner`
//! are built on [`spawn_on`] and [`spawn_send_on`].

mod harness;
mod join;

use std::future::Future;
use std::sync::Arc;

pub(crate) use harness::{Runnable, cancel, is_running_here, run};
use harness::{TaskFuture, TaskMeta};
pub use join::{JoinError, JoinHandle};

use super::shared::{LiveTask, Shared};
use super::task_list::Listed;

/// Spawns `future` onto the runtime that `shared` belongs to; must run on its thread.
pub(crate) fn spawn_on<F>(shared: Arc<Shared>, future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let live = shared.task_started();
    let index = live.as_ref().map(LiveTask::index);
    let schedule = {
        let shared = shared.clone();
        move |runnable| shared.schedule_local(runnable)
    };
    let (runnable, task) = async_task::Builder::new()
        .metadata(TaskMeta::default())
        .spawn_local(move |meta| TaskFuture::new(future, live, meta), schedule);
    start(&shared, index, runnable, task)
}

/// Spawns a `Send` future onto the runtime that `shared` belongs to, from any thread.
pub(crate) fn spawn_send_on<F>(shared: Arc<Shared>, future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let schedule = {
        let shared = shared.clone();
        move |runnable| shared.schedule(runnable)
    };
    spawn_send_with(shared, future, 0, schedule)
}

/// Spawns a `Send` future listed by the executor `list` (which cancels it when the runtime
/// drops), whose wakes go where `schedule` sends them; its metadata says it runs on worker
/// `runs_on`. From any thread.
pub(crate) fn spawn_send_with<F, S>(
    list: Arc<Shared>,
    future: F,
    runs_on: usize,
    schedule: S,
) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Fn(Runnable) + Send + Sync + 'static,
{
    let live = list.task_started();
    let index = live.as_ref().map(LiveTask::index);
    let (runnable, task) = async_task::Builder::new()
        .metadata(TaskMeta::on_worker(runs_on))
        .spawn(move |meta| TaskFuture::new(future, live, meta), schedule);
    start(&list, index, runnable, task)
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
        .spawn(move |meta| TaskFuture::new(future, None, meta), cancel);
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
            shared.list_task(index, Listed::new(runnable.waker(), runnable.metadata().aborted()));
            runnable.schedule();
        }
        None => cancel(runnable),
    }
    handle
}
