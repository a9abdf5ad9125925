//! Runtime statistics: counts of what a runtime holds (tasks, registrations, timers, open
//! sockets), kept where they change and readable from any thread, also after the runtime
//! is gone, so that a program (or a test) can check that everything it started was released.
//!
//! A leaf: the reactor, the timers and the task list each update their count here without
//! importing the runtime that owns them.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts of what a runtime holds at one moment; each goes back to where it was once the
/// tasks, sockets and timers that added to it are gone, and to zero once the runtime is
/// dropped and its I/O objects with it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RuntimeStats {
    /// Spawned tasks whose future has not been dropped yet.
    pub tasks: usize,
    /// Sockets registered with the runtime's backend. On a multi-worker runtime a socket
    /// that moves to another worker is registered there before it leaves the old one, so a
    /// sum taken at that moment counts it twice.
    pub registrations: usize,
    /// Timers waiting to fire.
    pub timers: usize,
    /// Sockets owned by the runtime's I/O objects and not yet closed. It differs from
    /// `registrations` while an I/O object is being dropped: its registration is removed
    /// first, then its socket closes.
    pub sockets: usize,
    /// Connections that a [`TcpListener`](crate::net::TcpListener) accepted and registered
    /// with this driver, since the runtime started: a running total, which never goes back
    /// (and which [`is_empty`](RuntimeStats::is_empty) leaves out). Read per worker with
    /// [`Runtime::worker_stats`](crate::Runtime::worker_stats), it shows how a multi-worker
    /// runtime spread its accepted connections (see
    /// [`AcceptSpread`](crate::AcceptSpread)).
    pub accepted: usize,
    /// Registrations this driver took over from another worker's since the runtime
    /// started: a socket moved, inside a `Send` task, to the worker that polls it (see
    /// `runtime::workers`, "Sockets"). Counted by the worker that received it; always 0 on
    /// a runtime of one thread. A running total, not something the runtime holds: it does
    /// not go back, and [`is_empty`](RuntimeStats::is_empty) leaves it out.
    pub moved_registrations: usize,
    /// Tasks this worker took from another worker's run queue, having nothing of its own to
    /// run, since the runtime started (see [`Builder::worker_threads`](crate::Builder::worker_threads),
    /// "How the work is shared"). A stolen task runs on the worker that took it from then
    /// on. Always 0 on a runtime of one thread; a running total, which
    /// [`is_empty`](RuntimeStats::is_empty) leaves out.
    pub stolen_tasks: usize,
}

impl RuntimeStats {
    /// Whether the runtime holds nothing at all: no task, registration, timer or socket
    /// (the running totals [`accepted`](RuntimeStats::accepted),
    /// [`moved_registrations`](RuntimeStats::moved_registrations) and
    /// [`stolen_tasks`](RuntimeStats::stolen_tasks) aside).
    pub fn is_empty(&self) -> bool {
        RuntimeStats { accepted: 0, moved_registrations: 0, stolen_tasks: 0, ..*self }
            == RuntimeStats::default()
    }
}

/// A handle to a runtime's statistics that any thread may keep and read, before and after
/// the runtime is dropped.
///
/// ```
/// let runtime = plexio::Runtime::new().unwrap();
/// let stats = runtime.stats_handle();
/// runtime.block_on(async {
///     let _listener = plexio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
///     assert_eq!(stats.get().registrations, 1);
/// });
/// drop(runtime);
/// assert!(stats.get().is_empty());
/// ```
#[derive(Clone, Debug)]
pub struct StatsHandle(pub(crate) Vec<Arc<Counters>>);

impl StatsHandle {
    /// The counts now: on a multi-worker runtime, the sums over its threads.
    pub fn get(&self) -> RuntimeStats {
        let mut sum = RuntimeStats::default();
        for counters in &self.0 {
            let one = counters.snapshot();
            sum.tasks += one.tasks;
            sum.registrations += one.registrations;
            sum.timers += one.timers;
            sum.sockets += one.sockets;
            sum.accepted += one.accepted;
            sum.moved_registrations += one.moved_registrations;
            sum.stolen_tasks += one.stolen_tasks;
        }
        sum
    }
}

/// The live counters one runtime's parts update.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    tasks: AtomicUsize,
    registrations: AtomicUsize,
    timers: AtomicUsize,
    sockets: AtomicUsize,
    accepted: AtomicUsize,
    moved_registrations: AtomicUsize,
    stolen_tasks: AtomicUsize,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> RuntimeStats {
        RuntimeStats {
            tasks: self.tasks.load(Ordering::Relaxed),
            registrations: self.registrations.load(Ordering::Relaxed),
            timers: self.timers.load(Ordering::Relaxed),
            sockets: self.sockets.load(Ordering::Relaxed),
            accepted: self.accepted.load(Ordering::Relaxed),
            moved_registrations: self.moved_registrations.load(Ordering::Relaxed),
            stolen_tasks: self.stolen_tasks.load(Ordering::Relaxed),
        }
    }

    /// How many sockets are registered now: the load measure by which accepted connections
    /// are spread over the workers.
    pub(crate) fn registrations(&self) -> usize {
        self.registrations.load(Ordering::Relaxed)
    }

    pub(crate) fn registration_added(&self) {
        self.registrations.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn registration_removed(&self) {
        self.registrations.fetch_sub(1, Ordering::Relaxed);
    }

    /// Records the number of pending timers; called under the timers' lock after each change.
    pub(crate) fn set_timers(&self, pending: usize) {
        self.timers.store(pending, Ordering::Relaxed);
    }

    /// Records the number of live tasks; called under the task list's lock after each change.
    pub(crate) fn set_tasks(&self, live: usize) {
        self.tasks.store(live, Ordering::Relaxed);
    }

    /// Counts a socket an I/O object of the runtime took over.
    pub(crate) fn socket_opened(&self) {
        self.sockets.fetch_add(1, Ordering::Relaxed);
    }

    /// Uncounts a socket once it is closed (or handed back).
    pub(crate) fn socket_closed(&self) {
        self.sockets.fetch_sub(1, Ordering::Relaxed);
    }

    /// Counts a connection a listener accepted and registered here.
    pub(crate) fn connection_accepted(&self) {
        self.accepted.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a registration taken over from another worker's driver.
    pub(crate) fn registration_moved_in(&self) {
        self.moved_registrations.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts tasks this worker stole from another's queue.
    pub(crate) fn tasks_stolen(&self, count: usize) {
        self.stolen_tasks.fetch_add(count, Ordering::Relaxed);
    }
}
