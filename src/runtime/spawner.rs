//! `Spawner`: spawning onto a runtime from other threads.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Weak};

use super::Shared;
use super::task::{self, JoinHandle};
use super::workers::Pool;

/// Spawns tasks onto a runtime from any thread: get one with [`Runtime::spawner`].
///
/// The tasks must be `Send`, since they are made on another thread. On a runtime of one
/// thread they run on the runtime's thread, during its `block_on` calls; on a multi-worker
/// runtime they go to a worker, as [`spawn`](crate::spawn) places them. A spawn wakes a
/// thread that is blocked waiting for events. Once the runtime is dropped, spawned tasks are
/// cancelled at once: their handles report
/// [`JoinError::is_cancelled`](crate::JoinError::is_cancelled). A spawner does not keep its
/// runtime's resources alive.
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
pub struct Spawner(Target);

#[derive(Clone)]
enum Target {
    Single(Weak<Shared>),
    Pool(Weak<Pool>),
}

impl Spawner {
    pub(super) fn single(shared: &Arc<Shared>) -> Spawner {
        Spawner(Target::Single(Arc::downgrade(shared)))
    }

    pub(super) fn pool(pool: &Arc<Pool>) -> Spawner {
        Spawner(Target::Pool(Arc::downgrade(pool)))
    }

    /// Spawns `future` as a task of the runtime; callable from any thread.
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match &self.0 {
            Target::Single(shared) => match shared.upgrade() {
                Some(shared) => task::spawn_send_on(shared, future),
                None => task::cancelled(future),
            },
            Target::Pool(pool) => match pool.upgrade() {
                Some(pool) => pool.spawn(future),
                None => task::cancelled(future),
            },
        }
    }

    fn runtime_alive(&self) -> bool {
        match &self.0 {
            Target::Single(shared) => shared.strong_count() > 0,
            Target::Pool(pool) => pool.strong_count() > 0,
        }
    }
}

impl fmt::Debug for Spawner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Spawner").field("runtime_alive", &self.runtime_alive()).finish()
    }
}
