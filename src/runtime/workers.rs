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
//! **Placement and stealing.** A `Send` task is placed, when spawned, on the worker with the
//! fewest tasks queued (an idle one before a busy one with as many; further ties go
//! round-robin from a rotating start). Its wakes go to the queue of the worker it runs on,
//! so that most of them (its sockets' events, its timers) stay on one thread. Each queue is
//! a mutex-guarded deque that its worker pops one entry at a time, so that everything but
//! the task running now stays where other workers can take it:
//!
//! - A worker that runs out of tasks first collects its own driver's events and timers
//!   without sleeping; with still nothing to do it marks itself idle and steals half of the
//!   `Send` tasks queued on the busy worker with the longest queue. A stolen task runs on
//!   the thief from then on (its wakes follow it, and a stream it polls moves there too, see
//!   below). Only with nothing to steal does the worker sleep in its driver's wait.
//! - A worker that takes a task and leaves others queued behind it, while another sleeps,
//!   wakes one sleeper, which steals. So does a wake or a spawn that queues a task
//!   behind a running one, from another thread or from the running task itself (which may
//!   go on to hold the thread).
//! - What is never taken: `spawn_local` tasks and the future of `block_on`; the queue of an
//!   idle worker (it was notified, and runs its tasks as soon as it wakes); and a lone task
//!   queued on a worker between turns, which its own driver mostly just woke and the worker
//!   runs next (taking it would move the task, and then its socket, for nothing).
//!
//! Why this design rather than one shared queue or tokio's lock-free deques: a task and its
//! sockets stay on one worker as long as that worker keeps up, so a loaded server whose
//! workers are all busy takes no lock another thread contends for and makes no cross-thread
//! wake per event; stealing only starts when a worker has nothing of its own, and then the
//! cost of a lock per steal is nothing next to an idle core. `RuntimeStats::stolen_tasks`
//! counts the steals per worker.
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
use std::thread::{JoinHandle as ThreadHandle, ThreadId};

use plexio_backends::registry::Driver;

use super::accept_spread::AcceptSpread;
use super::context::{self, Current};
use super::shared::Shared;
use super::task::{JoinHandle, Runnable, cancelled, is_running_here, spawn_send_with};
use super::{Core, Parts, TASKS_PER_TURN, executor};
use crate::driver::reactor::Reactor;
use crate::stats::{Counters, RuntimeStats};
use crate::util::thread;

/// Where each runtime's reactors get their group number: unique in the process, never 0.
static NEXT_GROUP: AtomicUsize = AtomicUsize::new(1);

/// The shortest queue a worker steals from, unless its worker is running a task. A lone
/// task queued on a worker between two turns is mostly one its own driver just woke, which
/// the worker runs next: taking it would move the task, and soon its socket, for nothing.
/// A lone task queued behind a running one may wait for as long as that one runs, and is
/// taken. Of a longer queue, half is taken.
const STEAL_FROM: usize = 2;

/// The workers' executors, which every thread of the runtime reaches to place a `Send` task.
#[derive(Debug)]
pub(crate) struct Pool {
    workers: WorkerSet,
    /// The workers' reactors, in the same order.
    reactors: Arc<[Arc<Reactor>]>,
    /// How listeners spread accepted connections over the workers.
    accept_spread: AcceptSpread,
    /// Where the next search for the least busy worker starts.
    next: AtomicUsize,
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
        if self.workers.0.closing.load(Ordering::Acquire) {
            return cancelled(future);
        }
        let index = self.least_busy();
        let set = self.workers.clone();
        let schedule = move |runnable| set.schedule(index, runnable);
        spawn_send_with(self.workers.0.executors[index].clone(), future, index, schedule)
    }

    /// The worker with the fewest tasks queued; between two with as many, an idle one
    /// before one that is running a task; further ties go round-robin from a rotating start.
    fn least_busy(&self) -> usize {
        let set = &self.workers.0;
        let count = set.executors.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % count;
        let mut best = start;
        let mut best_load = usize::MAX;
        for offset in 0..count {
            let index = (start + offset) % count;
            let busy = !set.idle[index].load(Ordering::Relaxed);
            let load = set.executors[index].queued() * 2 + usize::from(busy);
            if load < best_load {
                best = index;
                best_load = load;
                if load == 0 {
                    break;
                }
            }
        }
        best
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
        self.workers.0.executors[0].reactor.clone()
    }
}

/// The workers' executors as a task's schedule function reaches them: where a `Send` task's
/// wake goes, who is idle, and stealing. Cloned into every `Send` task of the runtime.
#[derive(Clone, Debug)]
pub(crate) struct WorkerSet(Arc<SetInner>);

#[derive(Debug)]
struct SetInner {
    executors: Box<[Arc<Shared>]>,
    /// The workers' threads, in the same order.
    threads: Box<[ThreadId]>,
    /// Per worker: set while it has nothing to run, from just before it looks for tasks to
    /// steal until it wakes again (and while it starts). Whoever clears another worker's
    /// flag notifies it.
    idle: Box<[AtomicBool]>,
    /// Per worker: set while it runs the tasks of a turn, when what is queued behind them
    /// may wait for a while.
    running: Box<[AtomicBool]>,
    /// How many flags of `idle` are set, so that a busy worker learns in one load that
    /// nobody is idle.
    idle_count: AtomicUsize,
    /// Set when the runtime starts dropping, before the workers are told to stop. A task
    /// spawned from then on (by a destructor that runs during the drop, on any worker) is
    /// cancelled at once, never run, as on a runtime of one thread; without it, a worker
    /// still running would take it. And a task woken from then on goes to its home worker
    /// (see [`WorkerSet::schedule`]).
    closing: AtomicBool,
}

impl WorkerSet {
    fn new(executors: Vec<Arc<Shared>>, threads: Box<[ThreadId]>) -> WorkerSet {
        let count = executors.len();
        WorkerSet(Arc::new(SetInner {
            executors: executors.into(),
            threads,
            idle: (0..count).map(|_| AtomicBool::new(true)).collect(),
            running: (0..count).map(|_| AtomicBool::new(false)).collect(),
            idle_count: AtomicUsize::new(count),
            closing: AtomicBool::new(false),
        }))
    }

    fn len(&self) -> usize {
        self.0.executors.len()
    }

    /// The schedule function of a `Send` task listed by worker `home`: the task is queued
    /// on the worker it runs on now (`TaskMeta::runs_on`).
    ///
    /// Once the runtime is being dropped, a task goes to its home, which cancels it: the
    /// home worker marks each task it lists aborted, wakes it, and drains its queue until
    /// the last is gone. A wake sent to the thief instead could land in a queue that nobody
    /// drains any more (the thief's, once it has stopped). A task the thief queued before
    /// the drop began is still run there, and the abort mark makes that run drop it (see
    /// `Listed::cancel`). And a stolen task is never queued on a thief that closed.
    ///
    /// A task queued on a worker that is busy (not idle) may wait there behind a long task
    /// while another worker sleeps: when such a wake or spawn leaves the queue long enough
    /// to steal from, one idle worker, if any, is woken to steal. That holds for one made by
    /// the worker's own running task too: the task may go on to hold the thread (a task that
    /// spawned another and then blocked once left it stranded behind itself, with the other
    /// worker asleep). Between turns, the wakes a worker's own driver makes wake nobody: it
    /// runs them next; nor does a task's wake of itself (a yield), which would only have
    /// the task carried off to another worker at every yield.
    fn schedule(&self, home: usize, runnable: Runnable) {
        let set = &self.0;
        let runs_on = runnable.metadata().runs_on();
        // Read before the runnable is queued, where another thread may take it.
        let self_wake = is_running_here(runnable.metadata());
        let queued_on = if runs_on == home || set.closing.load(Ordering::Acquire) {
            set.executors[home].schedule(runnable);
            home
        } else {
            match set.executors[runs_on].schedule_unless_closed(runnable) {
                Ok(()) => runs_on,
                Err(runnable) => {
                    set.executors[home].schedule(runnable);
                    home
                }
            }
        };
        if set.idle_count.load(Ordering::SeqCst) > 0
            && !set.idle[queued_on].load(Ordering::SeqCst)
            && self.worth_stealing(queued_on).is_some()
            && (thread::id() != set.threads[queued_on]
                || (set.running[queued_on].load(Ordering::Relaxed) && !self_wake))
        {
            self.share_backlog(queued_on);
        }
    }

    /// Marks worker `me` idle; the caller then looks for tasks to steal, and only then
    /// sleeps, so that a busy worker either sees the mark (and notifies it) or queued its
    /// tasks before the look (which finds them).
    fn enter_idle(&self, me: usize) {
        if !self.0.idle[me].swap(true, Ordering::SeqCst) {
            self.0.idle_count.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Clears worker `me`'s idle mark, unless a busy worker cleared it already.
    fn leave_idle(&self, me: usize) {
        if self.0.idle[me].swap(false, Ordering::SeqCst) {
            self.0.idle_count.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Called by worker `busy` when tasks still wait in its queue behind the part of its
    /// turn it is running: wakes one idle worker, if there is one, to steal them.
    fn share_backlog(&self, busy: usize) {
        let set = &self.0;
        if set.idle_count.load(Ordering::SeqCst) == 0 {
            return;
        }
        let count = set.executors.len();
        for offset in 1..count {
            let index = (busy + offset) % count;
            if set.idle[index].load(Ordering::Relaxed)
                && set.idle[index].swap(false, Ordering::SeqCst)
            {
                set.idle_count.fetch_sub(1, Ordering::SeqCst);
                // Not `unpark`: the worker may not have reached its wait yet, and a
                // notification wakes the wait it reaches.
                set.executors[index].reactor.notify();
                return;
            }
        }
    }

    /// How many tasks are queued on worker `victim`, if that is worth stealing from (see
    /// [`STEAL_FROM`]).
    fn worth_stealing(&self, victim: usize) -> Option<usize> {
        let queued = self.0.executors[victim].queued();
        let running = self.0.running[victim].load(Ordering::Relaxed);
        (queued >= STEAL_FROM || (queued > 0 && running)).then_some(queued)
    }

    /// Marks worker `me` as running the tasks of a turn, or done with them.
    fn set_running(&self, me: usize, running: bool) {
        self.0.running[me].store(running, Ordering::Relaxed);
    }

    /// Worker `thief`, with nothing of its own to do, takes about half of the `Send` tasks
    /// queued on the busy worker with the longest queue into its own queue; they run on it
    /// from then on. Says how many it took.
    ///
    /// An idle worker is never robbed: what is queued on it was placed there or woken there
    /// while it slept, and it was notified; taking it would only race the worker waking up
    /// for it (and a crowd of idle workers would pass fresh tasks round while each wakes).
    fn steal(&self, thief: usize, stolen: &mut Vec<Runnable>) -> usize {
        let set = &self.0;
        let count = set.executors.len();
        let mut victim = None;
        let mut longest = 0;
        for offset in 1..count {
            let index = (thief + offset) % count;
            if set.idle[index].load(Ordering::SeqCst) {
                continue;
            }
            if let Some(queued) = self.worth_stealing(index) {
                if queued > longest {
                    victim = Some(index);
                    longest = queued;
                }
            }
        }
        let Some(victim) = victim else { return 0 };
        let taken = set.executors[victim].steal_into(stolen, TASKS_PER_TURN);
        if taken > 0 {
            for runnable in stolen.iter() {
                runnable.metadata().move_to(thief);
            }
            let executor = &set.executors[thief];
            executor.queue_stolen(stolen.drain(..));
            executor.counters.tasks_stolen(taken);
        }
        taken
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
                        run(
                            Current { shared, backend, pool: Some(pool), worker: Some(index) },
                            index,
                        );
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
                    workers: WorkerSet::new(
                        workers,
                        threads.iter().map(|thread| thread.thread().id()).collect(),
                    ),
                    reactors,
                    accept_spread,
                    next: AtomicUsize::new(0),
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
        self.pool.workers.0.executors.iter().map(|shared| shared.counters.clone())
    }

    pub(crate) fn stats(&self) -> Vec<RuntimeStats> {
        self.pool.workers.0.executors.iter().map(|shared| shared.counters.snapshot()).collect()
    }

    /// Stops every worker (each cancels its tasks on its own thread) and waits for them.
    pub(crate) fn stop_and_join(self) {
        self.pool.workers.0.closing.store(true, Ordering::Release);
        for shared in &self.pool.workers.0.executors {
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
fn run(current: Current, me: usize) {
    let set = current.pool.as_ref().expect("a worker has a pool").workers.clone();
    let mut core = Core::new();
    {
        let _enter = context::enter(current.clone());
        run_until_stopped(&mut core, &current.shared, &set, me);
    }
    core.shut_down(current);
}

/// A worker's loop: its turns, and when it has nothing to run, the steal that comes before
/// it sleeps.
fn run_until_stopped(core: &mut Core, shared: &Shared, set: &WorkerSet, me: usize) {
    let mut stolen = Vec::new();
    // Idle from the start until here, so that tasks placed meanwhile were not stolen.
    set.leave_idle(me);
    while !shared.is_stopping() {
        set.set_running(me, true);
        core.run_batch(shared, || false, &mut WorkerParts { set, me });
        set.set_running(me, false);
        if shared.queued() > 0 || set.len() == 1 {
            core.wait(shared);
            continue;
        }
        // Nothing queued. Its own driver's events and timers come first: taking another
        // worker's tasks while its own are ready would move tasks back and forth for
        // nothing. That look costs a wait that does not block, made only when the worker
        // has run out of tasks.
        core.poll_now(shared);
        if shared.queued() > 0 {
            continue;
        }
        set.enter_idle(me);
        if set.steal(me, &mut stolen) == 0 {
            core.wait(shared);
        }
        set.leave_idle(me);
    }
}

/// How a worker's turn takes its entries: one at a time, so that a task that holds the
/// worker's thread holds no other (one taken in a batch could not be stolen, and an earlier
/// batch of 16 entries, taken while no worker was idle, once held tasks a worker that went
/// idle meanwhile could not reach); and whom it wakes when some wait. An uncontended lock
/// per task is nothing next to a task's poll.
struct WorkerParts<'a> {
    set: &'a WorkerSet,
    me: usize,
}

impl Parts for WorkerParts<'_> {
    fn size(&mut self) -> usize {
        1
    }

    fn backlog(&mut self) {
        self.set.share_backlog(self.me);
    }
}
