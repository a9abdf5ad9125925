//! `JoinHandle` and `JoinError`: waiting for a spawned task and learning how it ended.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};

use super::harness::TaskMeta;

/// An owned permission to wait for a spawned task and get its output.
///
/// `JoinHandle<T>` is a future of `Result<T, JoinError>`. It resolves once the task's future
/// has been dropped, whether it completed, panicked or was cancelled: whatever the future
/// held (sockets, timers, other handles) has been released by then. Dropping the handle
/// *detaches* the task: it keeps running, and its output is dropped.
/// [`abort`](JoinHandle::abort) cancels it.
///
/// ```
/// plexio::block_on(async {
///     let handle = plexio::spawn(async { 6 * 7 });
///     assert_eq!(handle.await.unwrap(), 42);
/// });
/// ```
pub struct JoinHandle<T> {
    /// # Invariant
    ///
    /// `Some` until `Drop` detaches it. Its task is never closed without an output (which
    /// would make polling it panic): plexio cancels a task by running it one last time, and
    /// that run completes it with a `JoinError` (see `harness`).
    task: Option<async_task::Task<Result<T, JoinError>, TaskMeta>>,
    /// Schedules the task once `abort` has marked it, so that the runtime drops its future.
    waker: Waker,
}

impl<T> JoinHandle<T> {
    pub(crate) fn new(
        task: async_task::Task<Result<T, JoinError>, TaskMeta>,
        waker: Waker,
    ) -> JoinHandle<T> {
        JoinHandle { task: Some(task), waker }
    }

    fn task(&self) -> &async_task::Task<Result<T, JoinError>, TaskMeta> {
        self.task.as_ref().expect("a JoinHandle holds its task until it is dropped")
    }

    /// Cancels the task: its future is dropped on the runtime's thread at its next turn, and
    /// awaiting this handle gives a [`JoinError`] for which
    /// [`is_cancelled`](JoinError::is_cancelled) is true (or [`is_panic`](JoinError::is_panic),
    /// if the future's destructor panicked). The handle resolves only once the future has
    /// been dropped, so after `handle.abort(); handle.await` whatever the task held is
    /// released: a listener it owned is closed, its port free to bind again. One exception:
    /// on `iocp`, a listener with an accept in flight closes only when its driver has taken
    /// back the cancelled accept (Windows stops a socket listening only by closing it, and
    /// the kernel holds it until then), which on a multi-worker runtime may be a moment after
    /// the handle resolves. A task that has already finished is left alone: the handle still
    /// gives its output.
    pub fn abort(&self) {
        let task = self.task();
        if !task.is_finished() {
            task.metadata().abort();
            self.waker.wake_by_ref();
        }
    }

    /// Whether the task has finished (completed, panicked or been cancelled, its future
    /// dropped).
    pub fn is_finished(&self) -> bool {
        self.task().is_finished()
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let task = self.get_mut().task.as_mut().expect("a JoinHandle holds its task until dropped");
        Pin::new(task).poll(cx)
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        // The waker goes first: with the task still attached, dropping it can never be what
        // makes async-task cancel the task behind plexio's back.
        drop(std::mem::replace(&mut self.waker, Waker::noop().clone()));
        if let Some(task) = self.task.take() {
            task.detach();
        }
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle").field("finished", &self.is_finished()).finish()
    }
}

/// Why a task did not give its output: it was cancelled, or it panicked.
///
/// A panicking task does not take the runtime down: the panic is caught, and its payload
/// is handed to whoever awaits the task's [`JoinHandle`]. That holds for a panic in the
/// future's `poll` and for one in its destructor, however the task ended (completed,
/// aborted, or cancelled by dropping the runtime).
pub struct JoinError {
    repr: Repr,
}

enum Repr {
    Cancelled,
    /// In a mutex only so that `JoinError` is `Sync`, as `io::Error` needs of its source.
    Panic(Mutex<Box<dyn Any + Send + 'static>>),
}

impl JoinError {
    pub(crate) fn cancelled() -> JoinError {
        JoinError { repr: Repr::Cancelled }
    }

    pub(crate) fn panic(payload: Box<dyn Any + Send + 'static>) -> JoinError {
        JoinError { repr: Repr::Panic(Mutex::new(payload)) }
    }

    /// Whether the task was cancelled ([`JoinHandle::abort`], or its runtime was dropped).
    pub fn is_cancelled(&self) -> bool {
        matches!(self.repr, Repr::Cancelled)
    }

    /// Whether the task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, Repr::Panic(_))
    }

    /// The panic's payload, to resume it with [`std::panic::resume_unwind`]; gives the error
    /// back if the task was cancelled.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, JoinError> {
        match self.repr {
            Repr::Panic(payload) => {
                Ok(payload.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner()))
            }
            Repr::Cancelled => Err(self),
        }
    }

    fn panic_message(&self) -> Option<String> {
        let Repr::Panic(payload) = &self.repr else { return None };
        let payload = crate::util::lock(payload);
        let message = payload
            .downcast_ref::<&str>()
            .map(|text| (*text).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned());
        Some(message.unwrap_or_else(|| "a non-text payload".to_owned()))
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.panic_message() {
            None => f.write_str("task was cancelled"),
            Some(message) => write!(f, "task panicked: {message}"),
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.panic_message() {
            None => f.write_str("JoinError::Cancelled"),
            Some(message) => write!(f, "JoinError::Panic({message:?})"),
        }
    }
}

impl std::error::Error for JoinError {}

impl From<JoinError> for io::Error {
    fn from(error: JoinError) -> io::Error {
        io::Error::other(error)
    }
}
