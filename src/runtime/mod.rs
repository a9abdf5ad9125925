//! The runtime: one thread's executor and reactor, driven by `block_on`.
//!
//! Each turn of the loop runs a bounded batch of the run queue, fires the timers that are
//! due, and asks the reactor for events: without blocking when work is left, otherwise until
//! the earliest timer. The future given to `block_on` is woken into the same queue as the
//! tasks, so that everything runs in the order it was woken. An idle runtime sleeps in its
//! backend.
//!
//! Its parts: `context` (which runtime runs on this thread), `shared` (what other threads
//! reach: the run queue, the parked flag), `task` (how the executor makes, runs and cancels
//! tasks, and their `JoinHandle`), `task_list` (the live tasks, to cancel them all),
//! `timers` (the pending deadlines), `builder` and `spawner`. The runtime imports the
//! drivers (`driver`) and the leaves (`util`, `stats`) only; `time`, `task`, `net`, `io`
//! and `signal` are built on top of it.

mod builder;
pub(crate) mod context;
mod shared;
mod spawner;
mod task;
mod task_list;
mod timers;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use plexio_backends::Backend;
use plexio_backends::completion::ReadinessOverCompletion;
use plexio_backends::registry::Driver;

pub use builder::{BACKEND_ENV, Builder};
pub(crate) use shared::Shared;
use shared::{MainWaker, Queued};
pub use spawner::Spawner;
pub(crate) use task::spawn_on;
pub use task::{JoinError, JoinHandle};
pub(crate) use timers::TimerKey;

use crate::driver::completion::Proactor;
use crate::driver::reactor::{EventBuffer, Reactor};
use crate::stats::{Counters, RuntimeStats, StatsHandle};
use crate::util::{coop, trace};

/// Tasks run per turn before the reactor is polled again, so that I/O and timers are never
/// starved by a long run queue.
const TASKS_PER_TURN: usize = 128;

/// A plexio runtime: an executor and a reactor on the thread that created it.
///
/// A runtime is not `Send`: its tasks need not be `Send`, and run on this thread only.
///
/// ```
/// let runtime = plexio::Runtime::new().unwrap();
/// let answer = runtime.block_on(async { plexio::spawn(async { 42 }).await.unwrap() });
/// assert_eq!(answer, 42);
/// ```
pub struct Runtime {
    shared: Arc<Shared>,
    core: RefCell<Core>,
    backend_name: &'static str,
    _not_send: PhantomData<Rc<()>>,
}

/// What only the runtime thread touches.
#[derive(Debug)]
struct Core {
    events: EventBuffer,
    expired: Vec<Waker>,
    /// The entries of the current turn, taken from the run queue at its start. Empty between
    /// turns, unless a turn was cut short: by the `block_on` future completing (the next
    /// `block_on` runs the rest first) or by a panic. `Drop` empties it before it cancels the
    /// rest, since a task held here would never finish being cancelled.
    batch: VecDeque<Queued>,
}

impl Runtime {
    /// A runtime on the default backend: the one `PLEXIO_BACKEND` names, else the most
    /// preferred one compiled in.
    pub fn new() -> Result<Runtime, crate::Error> {
        Builder::new().build()
    }

    /// A builder, to choose the backend.
    pub fn builder() -> Builder {
        Builder::new()
    }

    pub(crate) fn with_driver(driver: Driver) -> Runtime {
        let (backend, completion): (Arc<dyn Backend>, _) = match driver {
            Driver::Readiness(backend) => (backend, None),
            Driver::Completion(driver) => {
                // The readiness face serves the sockets that only wait for readiness; the
                // proactor runs the operations; one wait of the driver serves both.
                let readiness = Arc::new(ReadinessOverCompletion::new(driver.clone()));
                let proactor = Arc::new(Proactor::new(driver, readiness.clone()));
                (readiness, Some(proactor))
            }
        };
        let backend_name = backend.name();
        let counters = Arc::new(Counters::default());
        let reactor = Arc::new(Reactor::new(backend, counters.clone(), completion));
        Runtime {
            shared: Arc::new(Shared::new(reactor, counters)),
            core: RefCell::new(Core {
                events: EventBuffer::new(),
                expired: Vec::new(),
                batch: VecDeque::with_capacity(TASKS_PER_TURN),
            }),
            backend_name,
            _not_send: PhantomData,
        }
    }

    /// The name of the backend this runtime runs on.
    pub fn backend_name(&self) -> &'static str {
        self.backend_name
    }

    /// Counts of the tasks, registrations, timers and sockets the runtime holds now.
    pub fn stats(&self) -> RuntimeStats {
        self.shared.counters.snapshot()
    }

    /// A handle that reads the same counts from any thread, and still reads them after the
    /// runtime is dropped: all zero once everything it held has been released.
    pub fn stats_handle(&self) -> StatsHandle {
        StatsHandle(self.shared.counters.clone())
    }

    /// Spawns a task onto this runtime; it runs during this runtime's `block_on` calls.
    ///
    /// ```
    /// let runtime = plexio::Runtime::new()?;
    /// // Spawned from outside: nothing runs until `block_on` drives the runtime.
    /// let handle = runtime.spawn(async { "ran" });
    /// assert_eq!(runtime.block_on(handle).unwrap(), "ran");
    /// # Ok::<(), plexio::Error>(())
    /// ```
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        spawn_on(self.shared.clone(), future)
    }

    /// A handle that spawns `Send` tasks onto this runtime from any thread.
    pub fn spawner(&self) -> Spawner {
        Spawner(Arc::downgrade(&self.shared))
    }

    /// Runs `future` to completion on this thread, running the runtime's tasks, timers and
    /// I/O meanwhile, and returns its output.
    ///
    /// # Panics
    ///
    /// If called from within a runtime (inside another `block_on` or a task); and if
    /// `future` panics.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let runtime = plexio::Runtime::builder().build()?;
    /// // A runtime can be entered again and again; what one call leaves running (a task,
    /// // a socket) is still there for the next.
    /// let ticker = runtime.spawn(async {
    ///     plexio::time::sleep(Duration::from_millis(5)).await;
    ///     "woke"
    /// });
    /// runtime.block_on(plexio::time::sleep(Duration::from_millis(1)));
    /// assert_eq!(runtime.block_on(ticker).unwrap(), "woke");
    /// # Ok::<(), plexio::Error>(())
    /// ```
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        let _enter = context::enter(self.shared.clone(), self.backend_name);
        let mut core = self.core.borrow_mut();
        let waker = Waker::from(Arc::new(MainWaker(self.shared.clone())));
        let mut cx = Context::from_waker(&waker);
        let mut future = pin!(future);
        // A new future is polled once its turn comes. An entry an earlier `block_on` left
        // queued (its future was woken again before it completed) serves this one as well.
        self.shared.wake_main();
        loop {
            // The entries queued when the turn began, at most `TASKS_PER_TURN`: one woken
            // meanwhile waits for the next turn, after the reactor and timers had theirs.
            let room = TASKS_PER_TURN.saturating_sub(core.batch.len());
            self.shared.take_batch(&mut core.batch, room);
            trace::event!(trace, tasks = core.batch.len(), "turn: running tasks");
            while let Some(entry) = core.batch.pop_front() {
                match entry {
                    Queued::Task(runnable) => task::run(runnable),
                    Queued::Main => {
                        self.shared.main_dequeued();
                        if let Poll::Ready(output) =
                            coop::budgeted(|| future.as_mut().poll(&mut cx))
                        {
                            return output;
                        }
                    }
                }
            }
            self.fire_timers(&mut core);
            self.wait_for_events(&mut core);
            self.fire_timers(&mut core);
        }
    }

    fn fire_timers(&self, core: &mut Core) {
        self.shared.timers.fire(Instant::now, &mut core.expired);
        for waker in core.expired.drain(..) {
            waker.wake();
        }
    }

    /// Polls the reactor: without blocking if there is work, else until the next timer.
    fn wait_for_events(&self, core: &mut Core) {
        let timeout = if self.shared.park() {
            self.shared
                .timers
                .next_deadline()
                .map(|deadline| deadline.saturating_duration_since(Instant::now()))
        } else {
            Some(Duration::ZERO)
        };
        self.shared.reactor.poll(&mut core.events, timeout, || self.shared.unparked());
    }
}

impl Drop for Runtime {
    /// Cancels every task and closes every registration: every task's future is dropped
    /// here, on the runtime's thread, which closes its sockets and removes its timers; also
    /// a task that waits on a channel or on another thread.
    ///
    /// The runtime is the current one meanwhile, so that those futures' destructors may
    /// spawn (the task is cancelled at once, never polled, and its handle says so), read
    /// [`current_backend`] or poll a timer, as in any other code of the runtime's thread.
    fn drop(&mut self) {
        let _current = context::enter_for_drop(self.shared.clone(), self.backend_name);
        self.shared.close();
        // Tasks of a turn that was cut short.
        for entry in self.core.get_mut().batch.drain(..) {
            entry.cancel();
        }
        self.shared.reactor.shut_down();
        for waker in self.shared.timers.take_all() {
            waker.wake();
        }
        self.shared.cancel_all_tasks();
        // Timers the destructors of the tasks set meanwhile, if any outlive them.
        drop(self.shared.timers.take_all());
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("backend", &self.backend_name)
            .field("stats", &self.stats())
            .finish()
    }
}

/// Runs `future` to completion on a new runtime with the default backend (see
/// [`Runtime::new`]) and returns its output.
///
/// # Panics
///
/// If the runtime cannot be built (for example, `PLEXIO_BACKEND` names a backend that is
/// not compiled in: the message lists the available ones), if called from within a runtime,
/// or if `future` panics. Use [`Runtime::builder`] to handle a build error yourself.
///
/// ```
/// let sum = plexio::block_on(async { 1 + 1 });
/// assert_eq!(sum, 2);
/// ```
pub fn block_on<F: Future>(future: F) -> F::Output {
    match Runtime::new() {
        Ok(runtime) => runtime.block_on(future),
        Err(error) => panic!("plexio::block_on could not build a runtime: {error}"),
    }
}

/// The backends compiled in and usable on this operating system, most preferred first.
///
/// ```
/// assert!(!plexio::backends().is_empty());
/// ```
pub fn backends() -> Vec<&'static str> {
    plexio_backends::registry::available()
}

/// The backend of the runtime running on this thread; `None` outside of a runtime.
///
/// ```
/// assert_eq!(plexio::current_backend(), None);
/// plexio::block_on(async { assert!(plexio::current_backend().is_some()) });
/// ```
pub fn current_backend() -> Option<&'static str> {
    context::backend_name()
}
