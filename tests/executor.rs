//! The executor, timers and task machinery on a backend that makes no system call: it holds
//! no sockets and parks the runtime thread on a condition variable. That keeps these tests
//! inside what Miri can run, so CI runs this file under Miri too
//! (`cargo +nightly miri test --test executor`), which checks the `unsafe` code of the task
//! machinery plexio builds on and every cross-thread wake path for undefined behaviour and
//! data races. Natively it runs with the rest of the suite.

use std::cell::RefCell;
use std::future::{Future, pending, poll_fn};
use std::io;
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use futures::channel::oneshot;
use plexio::backend::{Backend, Events, Interest, RawSource, Token, Triggering};
use plexio::task::yield_now;
use plexio::time::{interval, interval_at, sleep, sleep_until, timeout};
use plexio::{JoinHandle, Runtime};

/// A backend with nothing to watch: `poll` sleeps until notified or timed out.
#[derive(Debug, Default)]
struct ParkingBackend {
    notified: Mutex<bool>,
    wake: Condvar,
}

impl Backend for ParkingBackend {
    fn name(&self) -> &'static str {
        "parking"
    }

    fn triggering(&self) -> Triggering {
        Triggering::Level
    }

    unsafe fn register(&self, _: RawSource, _: Token, _: Interest) -> io::Result<()> {
        Err(io::Error::new(io::ErrorKind::Unsupported, "the parking backend holds no sockets"))
    }

    fn reregister(&self, _: RawSource, _: Token, _: Interest) -> io::Result<()> {
        Err(io::ErrorKind::NotFound.into())
    }

    fn deregister(&self, _: RawSource) -> io::Result<()> {
        Err(io::ErrorKind::NotFound.into())
    }

    fn poll(&self, _: &mut Events, timeout: Option<Duration>) -> io::Result<()> {
        let notified = self.notified.lock().unwrap();
        let mut notified = match timeout {
            None => self.wake.wait_while(notified, |notified| !*notified).unwrap(),
            Some(timeout) => {
                self.wake.wait_timeout_while(notified, timeout, |notified| !*notified).unwrap().0
            }
        };
        *notified = false;
        Ok(())
    }

    fn notify(&self) -> io::Result<()> {
        *self.notified.lock().unwrap() = true;
        self.wake.notify_one();
        Ok(())
    }
}

fn runtime() -> Runtime {
    Runtime::builder().custom_backend(ParkingBackend::default()).build().unwrap()
}

/// Fewer iterations under Miri, which runs code thousands of times slower.
fn scaled(native: usize, miri: usize) -> usize {
    if cfg!(miri) { miri } else { native }
}

#[test]
fn tasks_join_in_any_order_and_return_their_output() {
    let runtime = runtime();
    let count = scaled(1_000, 50);
    let total = runtime.block_on(async {
        let handles: Vec<JoinHandle<usize>> = (0..count)
            .map(|n| {
                plexio::spawn(async move {
                    plexio::task::yield_now().await;
                    n
                })
            })
            .collect();
        let mut total = 0;
        for handle in handles.into_iter().rev() {
            total += handle.await.unwrap();
        }
        total
    });
    assert_eq!(total, count * (count - 1) / 2);
    assert!(runtime.stats().is_empty(), "{:?}", runtime.stats());
}

#[test]
fn abort_cancels_and_a_panic_is_contained() {
    let runtime = runtime();
    runtime.block_on(async {
        let (_never_sent, never) = oneshot::channel::<()>();
        let stalled = plexio::spawn(never);
        stalled.abort();
        assert!(stalled.await.unwrap_err().is_cancelled());

        let panicked = plexio::spawn(async { panic!("a task panics") });
        assert!(panicked.await.unwrap_err().is_panic());

        // The runtime goes on serving other tasks.
        assert_eq!(plexio::spawn(async { 7 }).await.unwrap(), 7);
    });
    assert!(runtime.stats().is_empty(), "{:?}", runtime.stats());
}

#[test]
fn timers_fire_in_deadline_order_and_never_early() {
    let runtime = runtime();
    let fired = runtime.block_on(async {
        // Every timer is set before the first deadline, even on Miri's clock, which runs
        // far ahead while the tasks start.
        let start = Instant::now() + Duration::from_millis(scaled(20, 1_000) as u64);
        let order = Arc::new(Mutex::new(Vec::new()));
        let handles: Vec<_> = [5u64, 1, 4, 2, 3]
            .into_iter()
            .map(|millis| {
                let order = order.clone();
                plexio::spawn(async move {
                    let duration = Duration::from_millis(millis);
                    sleep_until(start + duration).await;
                    assert!(Instant::now() >= start + duration, "{millis} ms fired early");
                    order.lock().unwrap().push(millis);
                })
            })
            .collect();
        for handle in handles {
            handle.await.unwrap();
        }
        Arc::try_unwrap(order).unwrap().into_inner().unwrap()
    });
    assert_eq!(fired, [1, 2, 3, 4, 5]);
    assert_eq!(runtime.stats().timers, 0);
}

#[test]
fn timeout_cancels_a_future_that_never_completes() {
    let runtime = runtime();
    runtime.block_on(async {
        let (_never_sent, never) = oneshot::channel::<()>();
        assert!(timeout(Duration::from_millis(2), never).await.is_err());
        let (sender, received) = oneshot::channel();
        sender.send(3).unwrap();
        assert_eq!(timeout(Duration::from_secs(60), received).await.unwrap(), Ok(3));
    });
    assert!(runtime.stats().is_empty(), "{:?}", runtime.stats());
}

/// Wakes from other threads reach a runtime blocked in its backend, and none is lost: every
/// task that waits on another thread's message finishes.
#[test]
fn wakes_from_other_threads_reach_a_parked_runtime() {
    let runtime = runtime();
    let threads = scaled(8, 3);
    let messages = scaled(200, 5);
    runtime.block_on(async {
        let mut tasks = Vec::new();
        let mut senders = Vec::new();
        for _ in 0..threads {
            let mut thread_senders = Vec::new();
            for _ in 0..messages {
                let (sender, receiver) = oneshot::channel::<usize>();
                thread_senders.push(sender);
                tasks.push(plexio::spawn(receiver));
            }
            senders.push(thread_senders);
        }
        let workers: Vec<_> = senders
            .into_iter()
            .map(|thread_senders| {
                std::thread::spawn(move || {
                    for (n, sender) in thread_senders.into_iter().enumerate() {
                        sender.send(n).unwrap();
                        if n % 16 == 0 {
                            std::thread::yield_now();
                        }
                    }
                })
            })
            .collect();
        let mut received = 0;
        for task in tasks {
            task.await.unwrap().unwrap();
            received += 1;
        }
        for worker in workers {
            worker.join().unwrap();
        }
        assert_eq!(received, threads * messages);
    });
}

/// A future that is ready again each time it is polled, forever, unless its task yields to
/// others; with the cooperative budget, the others still finish.
#[test]
fn a_task_that_never_waits_does_not_starve_the_others() {
    struct Spin;
    impl Future for Spin {
        type Output = ();
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
    let runtime = runtime();
    runtime.block_on(async {
        let spinner = plexio::spawn(Spin);
        for _ in 0..scaled(100, 5) {
            plexio::spawn(async { plexio::task::yield_now().await }).await.unwrap();
        }
        sleep(Duration::from_millis(1)).await;
        spinner.abort();
        assert!(spinner.await.unwrap_err().is_cancelled());
    });
}

/// Dropping the runtime drops every task's future on the runtime thread, including tasks
/// whose wakers other threads still hold, and releases their timers.
#[test]
fn dropping_the_runtime_releases_tasks_timers_and_wakers() {
    let runtime = runtime();
    let stats = runtime.stats_handle();
    let (sender, receiver) = oneshot::channel::<()>();
    runtime.block_on(async {
        plexio::spawn(receiver);
        plexio::spawn(sleep(Duration::from_secs(3_600)));
        plexio::spawn(async {
            let (_sender, never) = oneshot::channel::<()>();
            timeout(Duration::from_secs(3_600), never).await
        });
        plexio::task::yield_now().await;
        assert_eq!(stats.get().tasks, 3);
        assert_eq!(stats.get().timers, 2);
    });
    drop(runtime);
    assert!(stats.get().is_empty(), "{:?}", stats.get());
    // The receiving task is gone: its end of the channel was dropped with it.
    assert!(sender.send(()).is_err());
}

/// A second `block_on` on the same runtime polls its future, and tasks spawned in the first
/// run on.
#[test]
fn block_on_can_be_called_again() {
    let runtime = runtime();
    let (sender, receiver) = oneshot::channel::<u32>();
    // The handle leaves the first `block_on` on purpose, to be awaited in the next one.
    #[allow(clippy::async_yields_async)]
    let waiter = runtime.block_on(async { plexio::spawn(receiver) });
    sender.send(9).unwrap();
    assert_eq!(runtime.block_on(waiter).unwrap(), Ok(9));
    assert_eq!(runtime.block_on(async { 1 }), 1);
}

/// Tasks spawned from other threads (with `Runtime::spawner`) run on the runtime, also while
/// it is blocked in its backend, and their handles can be awaited on those threads.
#[test]
fn tasks_spawned_from_other_threads_run_and_join_there() {
    let runtime = runtime();
    let threads = scaled(4, 2);
    let per_thread = scaled(250, 5);
    let (sender, mut receiver) = futures::channel::mpsc::unbounded::<usize>();
    let workers: Vec<_> = (0..threads)
        .map(|thread| {
            let spawner = runtime.spawner();
            let sender = sender.clone();
            std::thread::spawn(move || {
                let handles: Vec<_> = (0..per_thread)
                    .map(|n| {
                        let sender = sender.clone();
                        spawner.spawn(async move {
                            sender.unbounded_send(thread * per_thread + n).unwrap();
                            n
                        })
                    })
                    .collect();
                let sum: usize = handles
                    .into_iter()
                    .map(|handle| futures::executor::block_on(handle).unwrap())
                    .sum();
                assert_eq!(sum, per_thread * (per_thread - 1) / 2);
            })
        })
        .collect();
    drop(sender);
    let mut seen = vec![false; threads * per_thread];
    runtime.block_on(async {
        use futures::StreamExt;
        while let Some(id) = receiver.next().await {
            assert!(!seen[id], "task {id} ran twice");
            seen[id] = true;
        }
    });
    assert!(seen.iter().all(|&ran| ran));
    for worker in workers {
        worker.join().unwrap();
    }
}

/// Spawning onto a runtime that is gone cancels the task at once.
#[test]
fn spawning_onto_a_dropped_runtime_is_cancelled() {
    let runtime = runtime();
    let spawner = runtime.spawner();
    drop(runtime);
    let handle = spawner.spawn(async { 1 });
    let error = futures::executor::block_on(handle).unwrap_err();
    assert!(error.is_cancelled());
}

/// Runs its closure when dropped: a future that holds one runs it when the future is dropped.
struct OnDrop<F: FnMut()>(F);

impl<F: FnMut()> Drop for OnDrop<F> {
    fn drop(&mut self) {
        (self.0)()
    }
}

/// A task whose future panics in its destructor once aborted: the panic reaches its handle
/// as a panic, and the process and the runtime carry on.
#[test]
fn a_panic_in_the_destructor_of_an_aborted_task_is_reported_as_a_panic() {
    let runtime = runtime();
    runtime.block_on(async {
        let task = plexio::spawn(async {
            let _bomb = OnDrop(|| panic!("the destructor of an aborted task panics"));
            pending::<()>().await
        });
        yield_now().await;
        task.abort();
        let error = task.await.unwrap_err();
        assert!(error.is_panic(), "{error:?}");
        assert_eq!(error.to_string(), "task panicked: the destructor of an aborted task panics");
        assert_eq!(plexio::spawn(async { 7 }).await.unwrap(), 7);
    });
    assert!(runtime.stats().is_empty(), "{:?}", runtime.stats());
}

/// A future that completes, then panics when dropped; or panics in `poll` and again when
/// dropped.
struct PanicsWhenDropped {
    panic_in_poll: bool,
}

impl Future for PanicsWhenDropped {
    type Output = u32;
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<u32> {
        assert!(!self.panic_in_poll, "the poll panics");
        Poll::Ready(5)
    }
}

impl Drop for PanicsWhenDropped {
    fn drop(&mut self) {
        panic!("the destructor panics");
    }
}

/// A task's future is dropped as soon as it completes; a panic in its destructor is the
/// task's panic. After a panic in `poll`, the first panic is the one reported.
#[test]
fn a_panic_in_the_destructor_of_a_finished_task_is_reported_as_a_panic() {
    let runtime = runtime();
    runtime.block_on(async {
        let error = plexio::spawn(PanicsWhenDropped { panic_in_poll: false }).await.unwrap_err();
        assert_eq!(error.to_string(), "task panicked: the destructor panics");
        let error = plexio::spawn(PanicsWhenDropped { panic_in_poll: true }).await.unwrap_err();
        assert_eq!(error.to_string(), "task panicked: the poll panics");
    });
    assert!(runtime.stats().is_empty(), "{:?}", runtime.stats());
}

/// Dropping the runtime drops a future that panics in its destructor: its handle reports
/// the panic, and the process goes on.
#[test]
fn a_panic_in_a_task_destructor_while_the_runtime_drops_is_reported_as_a_panic() {
    let runtime = runtime();
    let stats = runtime.stats_handle();
    // The handle leaves `block_on` on purpose, to be awaited once the runtime is gone.
    #[allow(clippy::async_yields_async)]
    let task = runtime.block_on(async {
        let task = plexio::spawn(async {
            let _bomb = OnDrop(|| panic!("dropped with the runtime"));
            pending::<()>().await
        });
        yield_now().await;
        task
    });
    drop(runtime);
    let error = futures::executor::block_on(task).unwrap_err();
    assert!(error.is_panic(), "{error:?}");
    assert!(stats.get().is_empty(), "{:?}", stats.get());
}

/// While the runtime is being dropped it is still the current one: a destructor may spawn
/// (the task is cancelled at once, never polled), read the backend and poll a timer.
#[test]
fn spawning_from_a_destructor_while_the_runtime_drops_is_cancelled() {
    let runtime = runtime();
    let stats = runtime.stats_handle();
    let (sender, spawned) = mpsc::channel();
    runtime.block_on(async move {
        plexio::spawn(async move {
            let _guard = OnDrop(move || {
                assert_eq!(plexio::current_backend(), Some("parking"));
                let handle = plexio::spawn(async { unreachable!("spawned during the drop") });
                let mut timer = pin!(sleep(Duration::from_secs(3_600)));
                assert!(timer.as_mut().poll(&mut Context::from_waker(Waker::noop())).is_pending());
                sender.send(handle).unwrap();
            });
            pending::<()>().await
        });
        yield_now().await;
    });
    drop(runtime);
    let handle = spawned.recv().unwrap();
    assert!(futures::executor::block_on(handle).unwrap_err().is_cancelled());
    assert!(stats.get().is_empty(), "{:?}", stats.get());
}

/// `abort` then `.await`: when the handle resolves, the task's future has been dropped
/// (and with it whatever it held), on the runtime's thread.
#[test]
fn an_aborted_task_has_dropped_its_future_when_its_handle_resolves() {
    let runtime = runtime();
    runtime.block_on(async {
        let dropped = Arc::new(AtomicBool::new(false));
        let flag = dropped.clone();
        let task = plexio::spawn(async move {
            let _guard = OnDrop(move || flag.store(true, Ordering::SeqCst));
            pending::<()>().await
        });
        yield_now().await;
        task.abort();
        assert!(task.await.unwrap_err().is_cancelled());
        assert!(dropped.load(Ordering::SeqCst), "the handle resolved before the future dropped");

        // Also a task aborted before it ever ran, and one aborted from another thread.
        let dropped = Arc::new(AtomicBool::new(false));
        let flag = dropped.clone();
        let guard = OnDrop(move || flag.store(true, Ordering::SeqCst));
        let task = plexio::spawn(async move {
            let _guard = guard;
            pending::<()>().await
        });
        let task = std::thread::spawn(move || {
            task.abort();
            task
        })
        .join()
        .unwrap();
        assert!(task.await.unwrap_err().is_cancelled());
        assert!(dropped.load(Ordering::SeqCst), "the handle resolved before the future dropped");
    });
    assert!(runtime.stats().is_empty(), "{:?}", runtime.stats());
}

/// The longest period after which `start` is still an instant the clock can represent.
fn longest_period_from(start: Instant) -> Duration {
    let from_nanos =
        |nanos: u128| Duration::new((nanos / 1_000_000_000) as u64, (nanos % 1_000_000_000) as u32);
    let (mut fits, mut overflows) = (0u128, Duration::MAX.as_nanos() + 1);
    while overflows - fits > 1 {
        let middle = fits + (overflows - fits) / 2;
        match start.checked_add(from_nanos(middle)) {
            Some(_) => fits = middle,
            None => overflows = middle,
        }
    }
    from_nanos(fits)
}

/// An interval's next tick that is too far to represent never comes, as for `sleep`: the
/// first tick of `interval(Duration::MAX)` completes and the next never does, also when the
/// period overflows only later (on `reset`, one moment after a period that just fitted).
#[test]
fn an_interval_whose_next_tick_cannot_be_represented_never_ticks_again() {
    let runtime = runtime();
    runtime.block_on(async {
        let never = Duration::from_millis(5);
        let mut ticks = interval(Duration::MAX);
        ticks.tick().await;
        assert!(timeout(never, ticks.tick()).await.is_err());
        ticks.reset();
        assert!(timeout(never, ticks.tick()).await.is_err());

        let start = Instant::now();
        let mut ticks = interval_at(start, longest_period_from(start));
        assert_eq!(ticks.tick().await, start);
        sleep(Duration::from_millis(1)).await;
        ticks.reset();
        assert!(timeout(never, ticks.tick()).await.is_err());
    });
    assert_eq!(runtime.stats().timers, 0);
}

/// A sleep reset while its timer waits: moved later, it completes at the new deadline, not
/// the old one; moved earlier to a moment already passed, its next poll completes it.
#[test]
fn a_reset_sleep_ends_at_its_new_deadline_whichever_way_it_moved() {
    let runtime = runtime();
    runtime.block_on(async {
        let start = Instant::now();
        let first = Duration::from_millis(10);
        let later = Duration::from_millis(60);
        let mut timer = pin!(sleep_until(start + first));
        poll_fn(|cx| {
            assert!(timer.as_mut().poll(cx).is_pending());
            Poll::Ready(())
        })
        .await;
        timer.as_mut().reset(start + later);
        timer.as_mut().await;
        assert!(start.elapsed() >= later, "ended at the old deadline: {:?}", start.elapsed());

        let mut timer = pin!(sleep(Duration::from_secs(3_600)));
        poll_fn(|cx| {
            assert!(timer.as_mut().poll(cx).is_pending());
            timer.as_mut().reset(start);
            assert!(timer.as_mut().poll(cx).is_ready(), "a passed deadline kept waiting");
            Poll::Ready(())
        })
        .await;
    });
    assert_eq!(runtime.stats().timers, 0);
}

/// The future given to `block_on` is woken like a task and runs in its turn: a task whose
/// timer is due first runs first, also when both timers fire in the same turn.
#[test]
fn the_block_on_future_runs_in_wake_order_with_the_tasks() {
    let runtime = runtime();
    let order = runtime.block_on(async {
        let step = Duration::from_millis(scaled(20, 1_000) as u64);
        let start = Instant::now();
        let order = Rc::new(RefCell::new(Vec::new()));
        let task_order = order.clone();
        let task = plexio::spawn_local(async move {
            sleep_until(start + step).await;
            task_order.borrow_mut().push("task");
        });
        // Holds the runtime thread until both timers are due: they fire in one turn.
        plexio::spawn_local(async move {
            while Instant::now() < start + 2 * step {
                std::thread::sleep(start + 2 * step - Instant::now());
            }
        });
        sleep_until(start + 2 * step).await;
        order.borrow_mut().push("main");
        task.await.unwrap();
        order.take()
    });
    assert_eq!(order, ["task", "main"]);
}

/// Two workers, each on a parking backend of its own.
fn two_workers() -> Runtime {
    Runtime::builder()
        .driver_factory(|| {
            Ok(plexio::backend::Driver::Readiness(Arc::new(ParkingBackend::default())))
        })
        .worker_threads(2)
        .build()
        .unwrap()
}

/// Work stealing loses no task and no wake: a task holds one worker's thread until every
/// other task has finished, so those placed behind it finish only if the other worker
/// steals them; they yield as they go, and each wake must reach the worker that stole it.
/// Under Miri, this checks the steal and the schedule paths for data races.
#[test]
fn tasks_stolen_from_a_held_worker_all_finish() {
    let runtime = two_workers();
    let tasks = scaled(64, 6);
    let finished = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    // Set once the hog holds its worker: a task may run there before that (the hog itself
    // may be stolen before it starts), never after.
    let holding = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (held_on, on_held) = runtime.block_on(async {
        let hog = {
            let (finished, holding) = (finished.clone(), holding.clone());
            plexio::spawn(async move {
                holding.store(true, Ordering::SeqCst);
                let deadline = Instant::now() + Duration::from_secs(20);
                while finished.load(Ordering::SeqCst) < tasks {
                    assert!(Instant::now() < deadline, "tasks behind a held worker never ran");
                    std::thread::yield_now();
                }
                plexio::current_worker().unwrap()
            })
        };
        let handles: Vec<_> = (0..tasks)
            .map(|_| {
                let (finished, holding) = (finished.clone(), holding.clone());
                plexio::spawn(async move {
                    for _ in 0..3 {
                        yield_now().await;
                    }
                    let while_held = holding.load(Ordering::SeqCst);
                    finished.fetch_add(1, Ordering::SeqCst);
                    (plexio::current_worker().unwrap(), while_held)
                })
            })
            .collect();
        let held_on = hog.await.unwrap();
        let mut on_held = 0;
        for handle in handles {
            let (ran_on, while_held) = handle.await.unwrap();
            on_held += usize::from(while_held && ran_on == held_on);
        }
        (held_on, on_held)
    });
    assert_eq!(on_held, 0, "a task ran on worker {held_on} while it was held");
    let stats = runtime.stats_handle();
    drop(runtime);
    assert!(stats.get().is_empty(), "{:?}", stats.get());
}
