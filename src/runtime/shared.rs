//! The part of a runtime that other threads reach: the run queue, the parked flag that
//! says whether a wake must interrupt the backend, the reactor, the timers and the list of
//! live tasks.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Wake;

use super::run_queue::{Queued, RunQueue};
use super::task::Runnable;
use super::task_list::{Listed, TaskList};
use super::timers::Timers;
use crate::driver::reactor::Reactor;
use crate::stats::Counters;

/// Shared by the runtime thread, every task's waker, every I/O object and every timer.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) reactor: Arc<Reactor>,
    pub(crate) timers: Timers,
    pub(crate) counters: Arc<Counters>,
    tasks: TaskList,
    queue: RunQueue,
    /// True while the runtime thread is (about to be) blocked in the backend. Whoever makes
    /// work for it afterwards must notify the backend.
    parked: AtomicBool,
    /// Set while the run queue (or the runtime's current batch) holds `Queued::Main`, so
    /// that it holds at most one however often the future is woken.
    main_woken: AtomicBool,
    /// Set when the runtime is dropped: tasks scheduled from then on are cancelled, not run.
    closed: AtomicBool,
    /// Set to end a worker's loop (a multi-worker runtime being dropped); a parked worker
    /// is notified.
    stopping: AtomicBool,
}

impl Shared {
    pub(crate) fn new(reactor: Arc<Reactor>, counters: Arc<Counters>) -> Shared {
        Shared {
            reactor,
            timers: Timers::new(counters.clone()),
            tasks: TaskList::new(counters.clone()),
            counters,
            queue: RunQueue::default(),
            parked: AtomicBool::new(false),
            main_woken: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
        }
    }

    /// Queues a `Send` task to run, from any thread.
    ///
    /// Once the runtime is closed the task is queued all the same, never cancelled inside
    /// the wake: `close` and `cancel_all_tasks` drop what is queued, on the runtime's
    /// thread. A wake may come from code that holds a lock the task's own destructor takes
    /// (h2 wakes its streams' tasks under its connection's lock while the connection is
    /// dropped); dropping the task there would deadlock. A thread-local task must not be
    /// dropped on another thread either.
    pub(crate) fn schedule(&self, runnable: Runnable) {
        self.queue.push(Queued::Task(runnable));
        self.unpark();
    }

    /// Queues a task of `spawn_local`, which runs on this executor's thread only; from any
    /// thread, as [`schedule`](Self::schedule).
    pub(crate) fn schedule_local(&self, runnable: Runnable) {
        self.queue.push(Queued::Local(runnable));
        self.unpark();
    }

    /// Queues a `Send` task that runs here without being listed here (a task a worker
    /// stole), unless this executor is closed: then the task is given back, for the
    /// executor that lists it, which drains its queue until its last task is gone.
    pub(crate) fn schedule_unless_closed(&self, runnable: Runnable) -> Result<(), Runnable> {
        self.queue.push_unless_closed(runnable)?;
        self.unpark();
        Ok(())
    }

    /// Queues tasks this worker took from another's queue.
    pub(crate) fn queue_stolen(&self, stolen: impl Iterator<Item = Runnable>) {
        self.queue.push_tasks(stolen);
    }

    /// Takes about half of the `Send` tasks waiting here (see `RunQueue::steal_into`).
    pub(crate) fn steal_into(&self, stolen: &mut Vec<Runnable>, most: usize) -> usize {
        self.queue.steal_into(stolen, most)
    }

    /// Makes sure the runtime thread looks at its queues: notifies the backend if the thread
    /// is parked in it.
    pub(crate) fn unpark(&self) {
        // Most wakes come from the runtime thread itself, or while it is busy: a load, not
        // a locked swap, tells that it is not parked. The load is still `SeqCst`, so that
        // it pairs with `park` as the swap does: either `park` sees the new work or this
        // load sees the flag, and then the swap decides which waker notifies.
        if self.parked.load(Ordering::SeqCst) && self.parked.swap(false, Ordering::SeqCst) {
            self.reactor.notify();
        }
    }

    pub(crate) fn pop(&self) -> Option<Queued> {
        self.queue.pop()
    }

    /// Moves up to `most` queued entries, the oldest first, to the back of `batch`, and says
    /// how many.
    pub(crate) fn take_batch(&self, batch: &mut VecDeque<Queued>, most: usize) -> usize {
        self.queue.take_batch(batch, most)
    }

    /// How many entries wait in the run queue (read without its lock).
    pub(crate) fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Asks the runtime thread to poll the future of `block_on`: queues it behind the tasks
    /// woken before, unless it is queued already.
    pub(crate) fn wake_main(&self) {
        if !self.main_woken.swap(true, Ordering::AcqRel) {
            self.queue.push(Queued::Main);
            self.unpark();
        }
    }

    /// Called as `Queued::Main` leaves the queue, before the future is polled, so that a
    /// wake during the poll queues it again; acquires what the wakers published before.
    pub(crate) fn main_dequeued(&self) {
        self.main_woken.swap(false, Ordering::AcqRel);
    }

    /// Says the runtime thread is about to block. Returns false, undoing it, if work arrived
    /// meanwhile; the `SeqCst` store pairs with the swap in `unpark`, so that either this
    /// thread sees the work or the waker sees the flag.
    pub(crate) fn park(&self) -> bool {
        self.parked.store(true, Ordering::SeqCst);
        if self.queued() > 0 || self.stopping.load(Ordering::SeqCst) {
            self.parked.store(false, Ordering::SeqCst);
            return false;
        }
        true
    }

    /// Asks a worker to leave its loop; the `SeqCst` store pairs with `park` as a queued
    /// task does.
    pub(crate) fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.unpark();
    }

    pub(crate) fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    pub(crate) fn unparked(&self) {
        self.parked.store(false, Ordering::SeqCst);
    }

    /// Marks the runtime closed and cancels every queued task. A task that only ran here
    /// (stolen from another worker) is sent back to the executor that lists it from now on.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.queue.close();
        while let Some(entry) = self.pop() {
            entry.cancel();
        }
    }

    /// Lists a task about to be spawned; the returned guard, held by its future, takes it
    /// off the list when the future is dropped. `None` once the runtime is being dropped.
    pub(crate) fn task_started(self: &Arc<Self>) -> Option<LiveTask> {
        let index = self.tasks.add()?;
        Some(LiveTask { shared: self.clone(), index })
    }

    /// Gives the list the waker and abort mark of the task at `index`, once the task
    /// exists.
    pub(crate) fn list_task(&self, index: usize, task: Listed) {
        self.tasks.set(index, task);
    }

    /// Drops the future of every live task; called once the runtime is closed. Each task is
    /// marked aborted and woken (see [`Listed::cancel`]), which schedules it, and a closed
    /// runtime drops what is scheduled, on this thread. A task another thread is scheduling
    /// or running right now reaches the queue a moment later, or is dropped by that run:
    /// the loop waits until no task is left.
    pub(crate) fn cancel_all_tasks(&self) {
        debug_assert!(self.closed.load(Ordering::Acquire));
        self.tasks.close();
        loop {
            for task in self.tasks.take_all() {
                task.cancel();
            }
            while let Some(entry) = self.pop() {
                entry.cancel();
            }
            if self.tasks.live() == 0 {
                return;
            }
            std::thread::yield_now();
        }
    }
}

/// Held by each task's future: keeps the task on its runtime's list of live tasks until the
/// future is dropped.
#[derive(Debug)]
pub(crate) struct LiveTask {
    shared: Arc<Shared>,
    index: usize,
}

impl LiveTask {
    /// The task's place on the list.
    pub(crate) fn index(&self) -> usize {
        self.index
    }
}

impl Drop for LiveTask {
    fn drop(&mut self) {
        self.shared.tasks.remove(self.index);
    }
}

/// The waker of the future given to `block_on`.
#[derive(Debug)]
pub(crate) struct MainWaker(pub(crate) Arc<Shared>);

impl Wake for MainWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.wake_main();
    }
}

#[cfg(all(
    test,
    not(miri),
    any(feature = "select", feature = "poll", feature = "mio", feature = "polling")
))]
mod tests {
    use std::future::poll_fn;
    use std::sync::atomic::AtomicUsize;
    use std::sync::{Mutex, mpsc};
    use std::task::{Poll, Waker};
    use std::time::{Duration, Instant};

    use super::*;
    use crate::runtime::task::{run, spawn_send_with};

    /// Set when dropped.
    struct SetsOnDrop(Arc<AtomicBool>);

    impl Drop for SetsOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    /// A task that another worker holds queued (it stole the task, and the task was woken
    /// before the runtime began to drop) is dropped by that worker's next run of it, not
    /// polled as usual: the runtime's cancellation must not be spent on a wake that finds
    /// the task scheduled already, or the task's home waits for it for ever (seen on four
    /// workers under wine, where it hung the runtime's drop).
    #[test]
    fn a_task_queued_on_another_worker_when_its_runtime_cancels_it_is_dropped_there() {
        let driver = plexio_backends::registry::open_driver(None).expect("a backend compiled in");
        let (shared, _) = crate::runtime::executor(driver, 0);
        // The other worker's queue: where the task's wakes go.
        let elsewhere: Arc<Mutex<Vec<Runnable>>> = Arc::default();
        let (polls, dropped) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicBool::new(false)));
        let parked: Arc<Mutex<Option<Waker>>> = Arc::default();
        let future = {
            let (polls, parked) = (polls.clone(), parked.clone());
            let guard = SetsOnDrop(dropped.clone());
            async move {
                let _guard = guard;
                poll_fn(|cx| {
                    polls.fetch_add(1, Ordering::SeqCst);
                    *parked.lock().unwrap() = Some(cx.waker().clone());
                    Poll::<()>::Pending
                })
                .await;
            }
        };
        let queue = elsewhere.clone();
        let handle = spawn_send_with(shared.clone(), future, 1, move |task| {
            queue.lock().unwrap().push(task)
        });
        let next = |elsewhere: &Mutex<Vec<Runnable>>| elsewhere.lock().unwrap().pop();
        // Its first run, on the other worker: it waits.
        run(next(&elsewhere).expect("queued when spawned"));
        assert_eq!(polls.load(Ordering::SeqCst), 1);
        // Woken: queued there again, not run yet.
        parked.lock().unwrap().take().expect("parked").wake();
        // The runtime closes and cancels its tasks, while the other worker goes on running
        // whatever its queue holds.
        shared.close();
        let (done, cancelled) = mpsc::channel();
        std::thread::spawn({
            let shared = shared.clone();
            move || {
                shared.cancel_all_tasks();
                let _ = done.send(());
            }
        });
        // The other worker's next turn comes once the cancellation has marked the task: a
        // turn before it would poll the task as usual, rightly (valgrind's scheduling once
        // ran the worker's thread first, and the test counted that poll as one after the
        // cancellation). The wait is bounded, so that a cancellation that never marks the
        // task fails the assertion below rather than hanging here.
        let worker = std::thread::spawn(move || {
            while !dropped.load(Ordering::SeqCst) {
                match next(&elsewhere) {
                    Some(task) => {
                        let marked = task.metadata().aborted();
                        let until = Instant::now() + Duration::from_secs(10);
                        while !marked.load(Ordering::SeqCst) && Instant::now() < until {
                            std::thread::sleep(Duration::from_millis(1));
                        }
                        run(task)
                    }
                    None => std::thread::sleep(Duration::from_millis(1)),
                }
            }
        });
        assert!(
            cancelled.recv_timeout(Duration::from_secs(10)).is_ok(),
            "the runtime's drop still waits for a task that another worker ran as usual \
             ({} polls)",
            polls.load(Ordering::SeqCst)
        );
        worker.join().unwrap();
        assert_eq!(polls.load(Ordering::SeqCst), 1, "polled again after it was cancelled");
        let joined = futures::executor::block_on(handle);
        assert!(joined.unwrap_err().is_cancelled());
        assert_eq!(shared.tasks.live(), 0);
    }
}
