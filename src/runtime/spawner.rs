//! `Spawner`: spawning onto a runtime from other threads.

use std::fmt;
use std::future::Future;
use std::sync::Weak;

use super::Shared;
use super::task::{self, JoinHandle};

/// Spawns tasks onto a runtime from any thread: get one with [`Runtime::spawner`].
///
/// The tasks must be `Send`, since they are made on another thread; they run on the
/// runtime's thread, during its `block_on` calls. A spawn wakes a runtime that is blocked
/// waiting for events. Once the runtime is dropped, spawned tasks are cancelled at once:
/// their handles report [`JoinError::is_cancelled`](crate::JoinError::is_cancelled).
/// A spawner does not keep its runtime's resources alive.
///
/// [`Runtime::spawner`]: crate::Runtime::spawner
///
/// ```
/// let runtime = plexio::Runtime::new().unwrap();
/// let spawner = runtime.spawner();
/// let from_thread = std::thread::spawn(move || spawner.spawn(async { 6 * 7 }));
/// let handle = from_thread.join().unwrap();
/// assert_eq!(runtime.block_on(handle).unwrap(), 42);
/// ```
#[derive(Clone)]
pub struct Spawner(pub(super) Weak<Shared>);

impl Spawner {
    /// Spawns `future` as a task of the runtime; callable from any thread.
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match self.0.upgrade() {
            Some(shared) => task::spawn_send_on(shared, future),
            None => task::cancelled(future),
        }
    }
}

impl fmt::Debug for Spawner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Spawner").field("runtime_alive", &(self.0.strong_count() > 0)).finish()
    }
}
