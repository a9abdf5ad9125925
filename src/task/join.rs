//! `JoinHandle` and `JoinError`: waiting for a spawned task and learning how it ended.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};

/// What a spawned task's future yields inside the executor: its output, or the payload of
/// the panic that ended it.
pub(crate) type TaskOutput<T> = Result<T, Box<dyn Any + Send + 'static>>;

/// An owned permission to wait for a spawned task and get its output.
///
/// `JoinHandle<T>` is a future of `Result<T, JoinError>`. Dropping it *detaches* the task: it
/// keeps running, and its output is dropped. [`abort`](JoinHandle::abort) cancels it.
///
/// ```
/// plexio::block_on(async {
///     let handle = plexio::spawn(async { 6 * 7 });
///     assert_eq!(handle.await.unwrap(), 42);
/// });
/// ```
pub struct JoinHandle<T> {
    /// `None` once `abort` has dropped the task.
    task: Mutex<Option<async_task::FallibleTask<TaskOutput<T>>>>,
}

impl<T> JoinHandle<T> {
    pub(crate) fn new(task: async_task::Task<TaskOutput<T>>) -> JoinHandle<T> {
        JoinHandle { task: Mutex::new(Some(task.fallible())) }
    }

    /// Cancels the task: its future is dropped on the runtime's thread at its next turn,
    /// and awaiting this handle gives a [`JoinError`] for which
    /// [`is_cancelled`](JoinError::is_cancelled) is true. A task that has already finished
    /// is left alone: the handle still gives its output.
    pub fn abort(&self) {
        let mut task = crate::reactor::lock(&self.task);
        if task.as_ref().is_some_and(|task| !task.is_finished()) {
            // Dropping an async-task handle of an unfinished task cancels the task.
            drop(task.take());
        }
    }

    /// Whether the task has finished (completed, panicked or been cancelled).
    pub fn is_finished(&self) -> bool {
        crate::reactor::lock(&self.task).as_ref().is_none_or(|task| task.is_finished())
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let task = self.get_mut().task.get_mut().unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(task) = task else {
            return Poll::Ready(Err(JoinError::cancelled()));
        };
        Pin::new(task).poll(cx).map(|output| match output {
            Some(Ok(value)) => Ok(value),
            Some(Err(payload)) => Err(JoinError { repr: Repr::Panic(Mutex::new(payload)) }),
            None => Err(JoinError::cancelled()),
        })
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        let task = self.task.get_mut().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(task) = task.take() {
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
/// is handed to whoever awaits the task's [`JoinHandle`].
pub struct JoinError {
    repr: Repr,
}

enum Repr {
    Cancelled,
    /// In a mutex only so that `JoinError` is `Sync`, as `io::Error` needs of its source.
    Panic(Mutex<Box<dyn Any + Send + 'static>>),
}

impl JoinError {
    fn cancelled() -> JoinError {
        JoinError { repr: Repr::Cancelled }
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
        let payload = crate::reactor::lock(payload);
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
