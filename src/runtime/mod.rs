//! The runtime: one thread's executor and reactor, driven by `block_on`.
//!
//! Each turn of the loop runs a bounded batch of the run queue, fires the timers that are
//! due, and asks the reactor for events: without blocking when work is left, otherwise until
//! the earliest timer. The future given to `block_on` is woken into the same queue as the
//! tasks, so that everything runs in the order it was woken. An idle runtime sleeps in its
//! backend.
//!
//! A multi-worker runtime (`workers`) runs that same loop on each of its worker threads,
//! each with its own driver, executor and timers, beside the one of the thread that calls
//! `block_on`.
//!
//! Its parts: `context` (which runtime runs on this thread), `run_queue` (the tasks woken
//! and waiting for their turn), `shared` (what other threads reach: the run queue, the
//! parked flag), `task` (how the executor makes, runs and cancels
//! tasks, and their `JoinHandle`), `task_list` (the live tasks, to cancel them all),
//! `timers` (the pending deadlines), `workers` (the worker threads and where a `Send` task
//! goes), `builder` and `spawner`. The runtime imports the
//! drivers (`driver`) and the leaves (`util`, `stats`) only; `time`, `task`, `net`, `io`
//! and `signal` are built on top of it.

mod accept_spread;
mod builder;
pub(crate) mod context;
mod run_queue;
mod shared;
mod spawner;
mod task;
mod task_list;
mod timers;
mod workers;

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

pub use accept_spread::AcceptSpread;
pub(crate) use accept_spread::listener_group;
pub use builder::{BACKEND_ENV, Builder};
use run_queue::Queued;
use shared::MainWaker;
pub(crate) use shared::Shared;
pub use spawner::Spawner;
pub use task::{JoinError, JoinHandle};
pub(crate) use task::{spawn_on, spawn_send_on};
pub(crate) use timers::TimerKey;
use workers::Workers;

use crate::driver::completion::Proactor;
use crate::driver::reactor::{EventBuffer, Reactor};
use crate::stats::{Counters, RuntimeStats, StatsHandle};
use crate::util::{coop, trace};

/// Tasks run per turn before the reactor is polled again, so that I/O and timers are never
/// starved by a long run queue.
const TASKS_PER_TURN: usize = 128;

/// A plexio runtime: an executor and a driver on the thread that created it, and, if built
/// with [`Builder::worker_threads`], worker threads with an executor and a driver each.
///
/// A runtime is not `Send`: its `spawn_local` tasks and the future of `block_on` need not be
/// `Send`, and run on the thread that built it, inside `block_on`. A runtime of one thread
/// ([`Runtime::new`], the default builder) runs every task there. A multi-worker runtime
/// runs the `Send` tasks of [`spawn`](crate::spawn) on its workers, all the time, also
/// between `block_on` calls (see [`Builder::worker_threads`] for how).
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
    /// The worker threads of a multi-worker runtime.
    workers: Option<Workers>,
    _not_send: PhantomData<Rc<()>>,
}

/// What only the thread that runs an executor touches.
#[derive(Debug)]
pub(crate) struct Core {
    events: EventBuffer,
    expired: Vec<Waker>,
    /// The entries of the current turn, taken from the run queue at its start. Empty between
    /// turns, unless a turn was cut short: by the `block_on` future completing (the next
    /// `block_on` runs the rest first) or by a panic. `Drop` empties it before it cancels the
    /// rest, since a task held here would never finish being cancelled.
    batch: VecDeque<Queued>,
}

/// How a turn takes its entries from the run queue: all at once on a runtime of one thread;
/// a part at a time on a worker, so that what waits stays in the queue, where an idle
/// worker can steal it.
pub(crate) trait Parts {
    /// How many entries the next part takes; a turn whose first part is as large as the
    /// turn is taken whole.
    fn size(&mut self) -> usize;

    /// Called when a part was taken and entries still wait behind it.
    fn backlog(&mut self);
}

/// A turn taken whole.
struct WholeTurn;

impl Parts for WholeTurn {
    fn size(&mut self) -> usize {
        TASKS_PER_TURN
    }

    fn backlog(&mut self) {}
}

impl Core {
    pub(crate) fn new() -> Core {
        Core {
            events: EventBuffer::new(),
            expired: Vec::new(),
            batch: VecDeque::with_capacity(TASKS_PER_TURN),
        }
    }

    /// Runs the entries queued when the turn began, at most `TASKS_PER_TURN`: one woken
    /// meanwhile waits for the next turn, after the reactor and timers had theirs. `main`
    /// polls the future of `block_on` when its entry comes; true from it ends the turn.
    /// `parts` says how the turn takes its entries.
    fn run_batch(
        &mut self,
        shared: &Shared,
        mut main: impl FnMut() -> bool,
        parts: &mut impl Parts,
    ) -> bool {
        let room = TASKS_PER_TURN.saturating_sub(self.batch.len());
        let mut part = parts.size().max(1);
        // A turn of one part takes what is queued; a turn in parts counts the entries
        // queued now, so that those woken during the turn wait for the next one all the
        // same (fewer, if a thief took some meanwhile).
        let whole = part >= room;
        let mut left = if whole { room } else { shared.queued().min(room) };
        loop {
            let taken = shared.take_batch(&mut self.batch, left.min(part));
            left = if whole { 0 } else { left - taken };
            trace::event!(trace, tasks = self.batch.len(), "turn: running tasks");
            if taken > 0 && shared.queued() > 0 {
                parts.backlog();
            }
            while let Some(entry) = self.batch.pop_front() {
                match entry {
                    Queued::Task(runnable) | Queued::Local(runnable) => task::run(runnable),
                    Queued::Main => {
                        shared.main_dequeued();
                        if main() {
                            return true;
                        }
                    }
                }
            }
            if left == 0 || taken == 0 {
                return false;
            }
            part = parts.size().max(1);
        }
    }

    /// Fires the due timers and collects the driver's events without waiting: what a worker
    /// with nothing queued looks at before it steals from another.
    pub(crate) fn poll_now(&mut self, shared: &Shared) {
        self.fire_timers(shared);
        shared.reactor.poll(&mut self.events, Some(Duration::ZERO), || {});
        self.fire_timers(shared);
    }

    /// Fires the due timers, waits for events (without blocking if there is work, else
    /// until the next timer), and fires the timers due after the wait.
    pub(crate) fn wait(&mut self, shared: &Shared) {
        self.fire_timers(shared);
        let timeout = if shared.park() {
            shared
                .timers
                .next_deadline()
                .map(|deadline| deadline.saturating_duration_since(Instant::now()))
        } else {
            Some(Duration::ZERO)
        };
        shared.reactor.poll(&mut self.events, timeout, || shared.unparked());
        self.fire_timers(shared);
    }

    fn fire_timers(&mut self, shared: &Shared) {
        shared.timers.fire(Instant::now, &mut self.expired);
        for waker in self.expired.drain(..) {
            waker.wake();
        }
    }

    /// Cancels every task of the executor and closes every registration of its driver:
    /// every task's future is dropped here, on the executor's thread, which closes its
    /// sockets and removes its timers; also a task that waits on a channel or on another
    /// thread.
    ///
    /// The runtime is current meanwhile, so that those futures' destructors may spawn (the
    /// task is cancelled at once, never polled, and its handle says so), read
    /// [`current_backend`] or poll a timer, as in any other code of the runtime's thread.
    pub(crate) fn shut_down(&mut self, current: context::Current) {
        let shared = current.shared.clone();
        let _current = context::enter_for_drop(current);
        shared.close();
        // Tasks of a turn that was cut short.
        for entry in self.batch.drain(..) {
            entry.cancel();
        }
        shared.reactor.shut_down();
        for waker in shared.timers.take_all() {
            waker.wake();
        }
        shared.cancel_all_tasks();
        // Timers the destructors of the tasks set meanwhile, if any outlive them.
        drop(shared.timers.take_all());
    }
}

/// The executor and driver of one thread, made from an opened driver.
pub(crate) fn executor(driver: Driver, group: usize) -> (Arc<Shared>, &'static str) {
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
    let reactor = Arc::new(Reactor::new(backend, counters.clone(), completion, group));
    (Arc::new(Shared::new(reactor, counters)), backend_name)
}

impl Runtime {
    /// A runtime on the default backend: the one `PLEXIO_BACKEND` names, else the most
    /// preferred one compiled in.
    pub fn new() -> Result<Runtime, crate::Error> {
        Builder::new().build()
    }

    /// A builder, to choose the backend and the number of worker threads.
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// A runtime of one thread, or, with `workers`, the part of a multi-worker runtime on the
    /// thread that built it.
    pub(crate) fn with_executor(
        (shared, backend_name): (Arc<Shared>, &'static str),
        workers: Option<Workers>,
    ) -> Runtime {
        Runtime {
            shared,
            core: RefCell::new(Core::new()),
            backend_name,
            workers,
            _not_send: PhantomData,
        }
    }

    /// The name of the backend this runtime runs on.
    pub fn backend_name(&self) -> &'static str {
        self.backend_name
    }

    /// How many worker threads run the runtime's `Send` tasks: 0 for a runtime of one
    /// thread, whose tasks all run inside `block_on`.
    pub fn worker_threads(&self) -> usize {
        self.workers.as_ref().map_or(0, Workers::len)
    }

    /// Counts of the tasks, registrations, timers and sockets the runtime holds now: on a
    /// multi-worker runtime, the sums over the workers and the thread of `block_on`.
    pub fn stats(&self) -> RuntimeStats {
        self.stats_handle().get()
    }

    /// The counts of each worker thread, in the order of their index
    /// ([`current_worker`](crate::current_worker)); empty for a runtime of one thread. What
    /// the thread of `block_on` holds (its `spawn_local` tasks, its timers) is in
    /// [`stats`](Runtime::stats) only.
    pub fn worker_stats(&self) -> Vec<RuntimeStats> {
        self.workers.as_ref().map_or_else(Vec::new, Workers::stats)
    }

    /// A handle that reads the same counts as [`stats`](Runtime::stats) from any thread,
    /// and still reads them after the runtime is dropped: all zero once everything it held
    /// has been released.
    pub fn stats_handle(&self) -> StatsHandle {
        let mut counters = vec![self.shared.counters.clone()];
        if let Some(workers) = &self.workers {
            counters.extend(workers.counters());
        }
        StatsHandle(counters)
    }

    /// Spawns a `Send` task onto this runtime: onto a worker on a multi-worker runtime (as
    /// [`spawn`](crate::spawn) does), else onto this thread, where it runs during
    /// `block_on`.
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
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match &self.workers {
            Some(workers) => workers.pool().spawn(future),
            None => spawn_send_on(self.shared.clone(), future),
        }
    }

    /// Spawns a task that need not be `Send` onto this thread; it runs during this
    /// runtime's `block_on` calls.
    pub fn spawn_local<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        spawn_on(self.shared.clone(), future)
    }

    /// A handle that spawns `Send` tasks onto this runtime from any thread.
    pub fn spawner(&self) -> Spawner {
        match &self.workers {
            Some(workers) => Spawner::pool(workers.pool()),
            None => Spawner::single(&self.shared),
        }
    }

    fn current(&self) -> context::Current {
        context::Current {
            shared: self.shared.clone(),
            backend: self.backend_name,
            pool: self.workers.as_ref().map(|workers| workers.pool().clone()),
            worker: None,
        }
    }

    /// Runs `future` to completion on this thread, running the runtime's tasks of this
    /// thread, timers and I/O meanwhile, and returns its output. The workers of a
    /// multi-worker runtime run their tasks on their own threads, inside `block_on` or not.
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
        let _enter = context::enter(self.current());
        let mut core = self.core.borrow_mut();
        let waker = Waker::from(Arc::new(MainWaker(self.shared.clone())));
        let mut cx = Context::from_waker(&waker);
        let mut future = pin!(future);
        let mut output = None;
        // A new future is polled once its turn comes. An entry an earlier `block_on` left
        // queued (its future was woken again before it completed) serves this one as well.
        self.shared.wake_main();
        loop {
            let done = core.run_batch(
                &self.shared,
                || {
                    match coop::budgeted(|| future.as_mut().poll(&mut cx)) {
                        Poll::Ready(ready) => output = Some(ready),
                        Poll::Pending => {}
                    }
                    output.is_some()
                },
                &mut WholeTurn,
            );
            if done {
                return output.expect("the turn ended because the future is ready");
            }
            core.wait(&self.shared);
        }
    }
}

impl Drop for Runtime {
    /// Stops the workers first, each cancelling its own tasks on its thread, then cancels
    /// this thread's tasks and closes the registrations of its driver (see
    /// `Core::shut_down`).
    fn drop(&mut self) {
        if let Some(workers) = self.workers.take() {
            workers.stop_and_join();
        }
        let current = self.current();
        self.core.get_mut().shut_down(current);
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("backend", &self.backend_name)
            .field("worker_threads", &self.worker_threads())
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

/// The index of the worker thread this code runs on, on a multi-worker runtime (from 0 to
/// [`Runtime::worker_threads`] − 1); `None` elsewhere, also inside `block_on`, whose thread
/// is not a worker.
///
/// ```
/// let runtime = plexio::Runtime::builder().worker_threads(2).build().unwrap();
/// let worker = runtime.block_on(runtime.spawn(async { plexio::current_worker() })).unwrap();
/// assert!(worker.unwrap() < 2);
/// assert_eq!(plexio::current_worker(), None);
/// ```
pub fn current_worker() -> Option<usize> {
    context::worker()
}
