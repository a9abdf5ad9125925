//! How a spawned future runs inside its task: panics caught, in `poll` and in the future's
//! destructor alike, and cancellation done by the runtime, so that a task's handle resolves
//! only once its future has been dropped.
//!
//! async-task drops a future that is still there when its task ends under a guard that
//! aborts the process if the destructor panics, and it resolves a handle of a cancelled task
//! as soon as the task is marked closed. So plexio never lets async-task cancel a task:
//! cancelling marks the task aborted and runs it one last time, and that run drops the
//! future itself, catching a panic, before the task completes with its `JoinError`.
//!
//! The mark is read inside the task's poll, never before the run: async-task's run first
//! takes the task from scheduled to running, and only a read after that step is sure to see
//! an abort made on another thread. An abort's wake that finds the task scheduled only
//! publishes the mark to that step; one that finds it running makes async-task run it again.
//! A read before the run could miss a mark set between it and the step, while the wake,
//! finding the task still scheduled, queued nothing: the task was then polled as usual and
//! left waiting for ever.

use std::cell::Cell;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use super::JoinError;
use crate::runtime::shared::LiveTask;
use crate::util::coop;

/// A task as the runtime holds it, to run or to cancel.
pub(crate) type Runnable = async_task::Runnable<TaskMeta>;

/// What a task carries next to async-task's own state; its handle reaches it too.
#[derive(Debug, Default)]
pub(crate) struct TaskMeta {
    /// Set to cancel the task (`JoinHandle::abort`, or the runtime through [`cancel`]): its
    /// next poll drops the future instead of polling it. Shared with the task's future,
    /// which cannot reach the task's metadata, and reads it where no abort is missed (see
    /// the module's docs).
    aborted: Arc<AtomicBool>,
    /// On a multi-worker runtime, the index of the worker whose queue the task's wakes go
    /// to: where it was placed, then whichever worker stole it last. Written by the worker
    /// that holds the task's `Runnable`, read by the task's schedule function after the task
    /// was woken; async-task's own state orders the two.
    runs_on: AtomicUsize,
}

impl TaskMeta {
    /// The metadata of a task placed on worker `runs_on` (0 where there are no workers).
    pub(crate) fn on_worker(runs_on: usize) -> TaskMeta {
        TaskMeta { aborted: Arc::default(), runs_on: AtomicUsize::new(runs_on) }
    }

    /// The worker whose queue the task's wakes go to.
    pub(crate) fn runs_on(&self) -> usize {
        self.runs_on.load(Ordering::Relaxed)
    }

    /// Sends the task's wakes to worker `worker` from now on: a worker that stole it.
    pub(crate) fn move_to(&self, worker: usize) {
        self.runs_on.store(worker, Ordering::Relaxed);
    }

    /// Marks the task aborted; the caller then wakes it, so that a run sees the mark.
    pub(crate) fn abort(&self) {
        self.aborted.store(true, Ordering::Release);
    }

    /// The mark, for the task's future.
    pub(crate) fn aborted(&self) -> Arc<AtomicBool> {
        self.aborted.clone()
    }
}

thread_local! {
    /// The address of the metadata of the task this thread is running, 0 between tasks:
    /// how a schedule function tells a task's wake of itself from other wakes.
    static RUNNING: Cell<usize> = const { Cell::new(0) };
}

/// Runs a task's next poll, on the runtime's thread; a task whose handle aborted it has its
/// future dropped instead.
pub(crate) fn run(runnable: Runnable) {
    let task = std::ptr::from_ref(runnable.metadata()) as usize;
    let outer = RUNNING.replace(task);
    coop::budgeted(|| runnable.run());
    RUNNING.set(outer);
}

/// Whether the task of `meta` is the one this thread is running: a wake it makes of
/// itself (a yield), which its worker handles as soon as the poll returns.
pub(crate) fn is_running_here(meta: &TaskMeta) -> bool {
    RUNNING.get() == std::ptr::from_ref(meta) as usize
}

/// Drops a task's future here, now, and completes the task: its handle reports it cancelled,
/// or reports the panic of the future's destructor. Every `Runnable` the runtime does not
/// run ends here, never in async-task's own cancellation (see the module's docs).
pub(crate) fn cancel(runnable: Runnable) {
    // Set on this thread before the run: its poll sees it.
    runnable.metadata().abort();
    runnable.run();
}

/// Runs `f`, giving the payload of its panic if it panics.
fn caught(f: impl FnOnce()) -> Option<Box<dyn std::any::Any + Send + 'static>> {
    catch_unwind(AssertUnwindSafe(f)).err()
}

pin_project! {
    /// A spawned future as its task holds it, counted as live until it is dropped. A struct
    /// rather than an `async` block, which would keep the user's future twice (the captured
    /// value and the awaited one), doubling the memory of every task.
    pub(crate) struct TaskFuture<F> {
        // `None` once dropped: when it completes, panics or is cancelled.
        #[pin]
        future: Option<F>,
        // Declared after `future`, so that it drops after it.
        live: Option<LiveTask>,
        // The task's `TaskMeta::aborted`.
        aborted: Arc<AtomicBool>,
    }

    impl<F> PinnedDrop for TaskFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            // Only for a task that ends without a last run: one whose handle and every
            // waker are gone. Nobody is left to report a panic to; it must not abort.
            let _ = caught(|| this.project().future.set(None));
        }
    }
}

impl<F> TaskFuture<F> {
    /// `live` lists the task on its runtime until the future is dropped; `None` for a task
    /// that is cancelled at once. `meta` is the task's own.
    pub(crate) fn new(future: F, live: Option<LiveTask>, meta: &TaskMeta) -> TaskFuture<F> {
        TaskFuture { future: Some(future), live, aborted: meta.aborted() }
    }
}

impl<F: Future> Future for TaskFuture<F> {
    type Output = Result<F::Output, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut future = this.future;
        if this.aborted.load(Ordering::Acquire) {
            let error = match caught(|| future.set(None)) {
                Some(payload) => JoinError::panic(payload),
                None => JoinError::cancelled(),
            };
            return Poll::Ready(Err(error));
        }
        // async-task polls no task after it completed.
        let Some(inner) = future.as_mut().as_pin_mut() else { return Poll::Pending };
        let output = match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(output)) => Ok(output),
            Err(payload) => Err(JoinError::panic(payload)),
        };
        // Dropped here rather than by async-task once the task completes: the handle then
        // resolves after what the future held is released, and a panic in its destructor
        // is the task's panic. After a panic in `poll`, that first panic is the one kept.
        match (caught(|| future.set(None)), output) {
            (Some(payload), Ok(output)) => {
                let _ = caught(|| drop(output));
                Poll::Ready(Err(JoinError::panic(payload)))
            }
            (_, output) => Poll::Ready(output),
        }
    }
}
