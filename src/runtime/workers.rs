//! The worker threads of a multi-worker runtime, and where a `Send` task goes.
//!
//! # Design
//!
//! Each worker is a thread with its own driver (its own backend instance, or its own
//! io_uring ring), its own executor and its own timers: the loop of a runtime of one
//! thread, run until the runtime is dropped. The thread that built the runtime keeps an
//! executor and a driver of its own too, for the future of `block_on` and the tasks of
//! `spawn_local` made there.
//!
//! **Placement.** A `Send` task is placed once, when spawned, on the worker with the
//! fewest tasks queued, ties going round-robin from a rotating start; it stays there.
//! There is no stealing, for two reasons. A task's wake-ups then come from its own worker
//! (its sockets' events, its timers) and go into that worker's queue without a cross-thread
//! hand-off for most wakes; and a queue that only one thread pops keeps the executor as
//! simple as the single-threaded one, which Miri checks. The cost: a worker that drew long
//! tasks cannot hand them to an idle one. A server spawns one task per connection, so new
//! connections go to the least busy worker and the load evens out over time.
//!
//! **Sockets.** A socket registers with the driver of the thread that creates it (a worker's
//! own; on the thread of `block_on`, worker 0's, since that thread's driver is polled only
//! inside `block_on`). A socket moved inside a `Send` task to another worker works there at
//! once: every worker polls its driver for as long as the runtime lives, and a backend lets
//! any thread re-arm and deregister while its owner waits, so the task waits on the socket
//! from its own worker and is woken across threads. On a completion driver, an operation
//! submitted from another worker's thread notifies the ring's owner, which hands it to the
//! kernel at once; the buffers stay in the ring's hands until their completion is reaped.
//!
//! **Moving a registration.** A cross-thread wake per event is the price of that, so a
//! stream (`TcpStream`, `UnixStream`) that its owner keeps polling from another worker is
//! re-registered with that worker's driver: after 4 polls in a row from there with no poll
//! from the worker it is registered with in between, once it is idle. Idle means that the
//! owner polls it through `&mut` (so split halves sharing it by reference never move it),
//! that no other task waits on it (its wake-up would come from the registration left
//! behind), and, on a completion driver, that nothing is in flight for it in the old ring:
//! no receive, write-behind send, poll or accept, no received bytes not yet read (and never
//! on Windows, where a socket belongs to one completion port for good). The new
//! registration is made before the old one is released, and takes both directions as
//! possibly ready, so that readiness that arrived meanwhile is not lost; the old
//! registration's slot gets a new generation, so that an event its driver still collects
//! reaches nobody. A socket that is not idle stays and is woken across threads, and the next
//! poll asks again. Listeners, datagram sockets and `Async` sources stay where they were
//! made. The count of polls is the hysteresis that keeps two tasks taking turns with one
//! stream from two workers from moving it at every turn; the details, and why, are in
//! `driver::reactor::registration::moving`. `RuntimeStats::moved_registrations` counts the
//! moves per worker (`Runtime::worker_stats`).
//!
//! **Accepting.** Two models, chosen by `AcceptSpread` on the builder (`accept_spread.rs`);
//! either way one accept loop takes every connection, and the task spawned for each goes to
//! the worker with the fewest tasks queued.
//!
//! - *`SO_REUSEPORT`, one socket per worker* (the default, where the kernel balances: Linux,
//!   Android, FreeBSD with `SO_REUSEPORT_LB`, DragonFly). `TcpListener::bind` binds one
//!   socket per worker to the same address, each registered with its own worker's driver;
//!   the kernel spreads connections over them by a hash of their addresses, and `accept`
//!   waits on all of them and registers each connection with the driver of the worker whose
//!   socket took it (`net/tcp_listener/group.rs`). Nothing is shared per connection.
//! - *One acceptor, handed off by live load* (macOS, the other BSDs and Windows, whose
//!   kernels do not balance such sockets or lack them; `AcceptSpread::LiveLoad`; a socket
//!   after the first that cannot bind). One socket; each accepted connection is registered
//!   with the driver of the worker that has the fewest sockets registered
//!   (`driver::current::least_loaded`).
//!
//! Measured (400 connections to one listener, ten rounds, Linux): `SO_REUSEPORT` spreads
//! them as a hash does, 91 to 114 per worker of four and at worst 1.21 times the mean; live
//! load gives exactly 100 each. Even on average, and the tasks are placed by queue length
//! anyway, so the kernel's spread is kept where it exists. `RuntimeStats::accepted`, per
//! worker, shows the spread.
//!
//! **Idle.** A worker with nothing to run sleeps in its driver's wait; a spawn, a wake or
//! a timer from another thread notifies that driver.
//!
//! **Drop.** The runtime tells every worker to stop and joins them; each cancels its own
//! tasks and closes its driver's registrations on its own thread, as a runtime of one
//! thread does when dropped. (A worker whose backend failed to wait has panicked, printing
//! why; its tasks are then left to the process.)

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle as ThreadHandle;

use plexio_backends::registry::Driver;

use super::accept_spread::AcceptSpread;
use super::context::{self, Current};
use super::shared::Shared;
use super::task::{JoinHandle, cancelled, spawn_send_on};
use super::{Core, executor};
use crate::driver::reactor::Reactor;
use crate::stats::{Counters, RuntimeStats};

/// Where each runtime's reactors get their group number: unique in the process, never 0.
static NEXT_GROUP: AtomicUsize = AtomicUsize::new(1);

/// The workers' executors, which every thread of the runtime reaches to place a `Send` task.
#[derive(Debug)]
pub(crate) struct Pool {
    workers: Vec<Arc<Shared>>,
    /// The workers' reactors, in the same order.
    reactors: Arc<[Arc<Reactor>]>,
    /// How listeners spread accepted connections over the workers.
    accept_spread: AcceptSpread,
    /// Where the next search for the least busy worker starts.
    next: AtomicUsize,
    /// Set when the runtime starts dropping: a task spawned from then on (by a destructor
    /// that runs during the drop, on any worker) is cancelled at once, never run, as on a
    /// runtime of one thread. Without it, a worker still running would take it.
    closing: AtomicBool,
}

impl Pool {
    /// The group number that every reactor of a new multi-worker runtime carries.
    pub(crate) fn new_group() -> usize {
        NEXT_GROUP.fetch_add(1, Ordering::Relaxed)
    }

    /// Spawns a `Send` task onto the worker with the fewest queued tasks.
    pub(crate) fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        if self.closing.load(Ordering::Acquire) {
            return cancelled(future);
        }
        spawn_send_on(self.least_busy().clone(), future)
    }

    fn least_busy(&self) -> &Arc<Shared> {
        let count = self.workers.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % count;
        let mut best = start;
        let mut best_queued = usize::MAX;
        for offset in 0..count {
            let index = (start + offset) % count;
            let queued = self.workers[index].queued();
            if queued < best_queued {
                best = index;
                best_queued = queued;
                if queued == 0 {
                    break;
                }
            }
        }
        &self.workers[best]
    }

    /// The workers' reactors, among which accepted connections are spread.
    pub(crate) fn reactors(&self) -> Arc<[Arc<Reactor>]> {
        self.reactors.clone()
    }

    /// How listeners bound on this runtime spread accepted connections.
    pub(crate) fn accept_spread(&self) -> AcceptSpread {
        self.accept_spread
    }

    /// The reactor that sockets made on the thread of `block_on` register with.
    pub(crate) fn reactor_for_registration(&self) -> Arc<Reactor> {
        self.workers[0].reactor.clone()
    }
}

/// The worker threads of a runtime, owned by the `Runtime`.
#[derive(Debug)]
pub(crate) struct Workers {
    pool: Arc<Pool>,
    threads: Vec<ThreadHandle<()>>,
}

impl Workers {
    /// Starts one worker thread per driver; each builds its executor on its own thread, so
    /// that the executor's owner is the thread that runs it.
    pub(crate) fn start(
        drivers: Vec<Driver>,
        group: usize,
        accept_spread: AcceptSpread,
    ) -> std::io::Result<Workers> {
        let (ready_sender, ready) = mpsc::channel();
        let (pool_sender, pool_receivers): (Vec<_>, Vec<_>) =
            drivers.iter().map(|_| mpsc::channel::<Option<Arc<Pool>>>()).unzip();
        let mut threads = Vec::with_capacity(drivers.len());
        let mut started = Ok(());
        for ((index, driver), pool) in drivers.into_iter().enumerate().zip(pool_receivers) {
            let ready_sender = ready_sender.clone();
            let spawned = std::thread::Builder::new().name(format!("plexio-worker-{index}")).spawn(
                move || {
                    let (shared, backend) = executor(driver, group);
                    if ready_sender.send((index, shared.clone(), backend)).is_err() {
                        return;
                    }
                    // `None`: the runtime was not built after all.
                    if let Ok(Some(pool)) = pool.recv() {
                        run(Current { shared, backend, pool: Some(pool), worker: Some(index) });
                    }
                },
            );
            match spawned {
                Ok(thread) => threads.push(thread),
                Err(error) => {
                    started = Err(error);
                    break;
                }
            }
        }
        drop(ready_sender);
        let mut executors: Vec<Option<Arc<Shared>>> = vec![None; threads.len()];
        for (index, shared, _) in ready.iter().take(threads.len()) {
            executors[index] = Some(shared);
        }
        let pool = match started {
            Ok(()) => {
                let workers: Vec<Arc<Shared>> =
                    executors.into_iter().map(|shared| shared.expect("each sent")).collect();
                let reactors = workers.iter().map(|shared| shared.reactor.clone()).collect();
                Some(Arc::new(Pool {
                    workers,
                    reactors,
                    accept_spread,
                    next: AtomicUsize::new(0),
                    closing: AtomicBool::new(false),
                }))
            }
            Err(_) => None,
        };
        for sender in &pool_sender {
            let _ = sender.send(pool.clone());
        }
        match pool {
            Some(pool) => Ok(Workers { pool, threads }),
            None => {
                for thread in threads {
                    let _ = thread.join();
                }
                Err(started.expect_err("no pool only when a thread failed to start"))
            }
        }
    }

    pub(crate) fn pool(&self) -> &Arc<Pool> {
        &self.pool
    }

    pub(crate) fn len(&self) -> usize {
        self.pool.workers.len()
    }

    pub(crate) fn counters(&self) -> impl Iterator<Item = Arc<Counters>> + '_ {
        self.pool.workers.iter().map(|shared| shared.counters.clone())
    }

    pub(crate) fn stats(&self) -> Vec<RuntimeStats> {
        self.pool.workers.iter().map(|shared| shared.counters.snapshot()).collect()
    }

    /// Stops every worker (each cancels its tasks on its own thread) and waits for them.
    pub(crate) fn stop_and_join(self) {
        self.pool.closing.store(true, Ordering::Release);
        for shared in &self.pool.workers {
            shared.stop();
        }
        for thread in self.threads {
            // A worker that panicked (a backend that failed to wait) has printed why; the
            // other workers are stopped all the same.
            let _ = thread.join();
        }
    }
}

/// A worker's life: its loop until the runtime stops it, then the cancellation of its tasks.
fn run(current: Current) {
    let mut core = Core::new();
    {
        let _enter = context::enter(current.clone());
        core.run_until_stopped(&current.shared);
    }
    core.shut_down(current);
}
