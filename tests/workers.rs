//! The multi-worker runtime: where `spawn` and `spawn_local` run tasks, sockets moved
//! between workers, `Spawner`, statistics, `block_on` and drop, on every backend.

mod util;

/// Sockets that move to the driver of the worker that polls them.
#[path = "workers/moves.rs"]
mod moves;

use std::collections::BTreeSet;
use std::io;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::io::{AsyncReadExt, AsyncWriteExt};
use plexio::net::{TcpListener, TcpStream};
use plexio::time::sleep;

per_backend!(plain:
    send_tasks_run_on_every_worker,
    spawn_local_stays_on_the_calling_thread,
    a_stream_moved_between_workers_keeps_every_byte,
    streams_accepted_on_one_worker_are_served_on_others,
    one_accept_loop_spreads_connections_over_the_workers_drivers,
    workers_run_tasks_between_block_on_calls,
    a_spawner_reaches_the_workers,
    stats_sum_the_workers_and_drop_releases_everything,
    sockets_of_another_runtime_still_fail,
    an_abort_racing_the_tasks_run_is_never_lost,
    tasks_queued_behind_a_blocked_worker_are_stolen,
    a_stolen_task_stays_with_the_worker_that_stole_it,
    a_worker_with_a_backlog_wakes_a_sleeping_one_to_share_it,
    dropping_the_runtime_cancels_stolen_tasks,
    a_task_woken_behind_a_running_one_wakes_a_sleeping_worker_to_steal_it,
);

const WORKERS: usize = 4;

/// A runtime of [`WORKERS`] worker threads on the backend a test name stands for.
fn workers(backend: &str) -> plexio::Runtime {
    let runtime = util::runtime(&format!("{backend}{}", util::WORKERS4));
    assert_eq!(runtime.worker_threads(), WORKERS);
    runtime
}

/// Runs `test` on a runtime of four workers under the watchdog; the runtime, dropped after
/// it, must release everything.
fn run_on_workers<Fut>(backend: &str, test: impl FnOnce() -> Fut)
where
    Fut: std::future::Future<Output = io::Result<()>>,
{
    util::run(&format!("{backend}{}", util::WORKERS4), test);
}

/// As many tasks as workers, spawned at once, run on as many distinct workers at the same
/// time: each holds its worker's thread until all of them have started, which they can
/// only do on distinct workers. A task goes to an idle worker with nothing queued, and one
/// that lands behind another is stolen by a worker left without one.
fn send_tasks_run_on_every_worker(backend: &str) {
    run_on_workers(backend, || async {
        assert_eq!(plexio::current_worker(), None, "block_on runs on no worker");
        let started = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..WORKERS)
            .map(|_| {
                let started = started.clone();
                plexio::spawn(async move {
                    started.fetch_add(1, Ordering::SeqCst);
                    let deadline = Instant::now() + STEAL_LIMIT;
                    while started.load(Ordering::SeqCst) < WORKERS {
                        assert!(Instant::now() < deadline, "the tasks never all ran at once");
                        std::thread::sleep(Duration::from_micros(100));
                    }
                    plexio::current_worker().expect("a Send task runs on a worker")
                })
            })
            .collect();
        let mut seen = BTreeSet::new();
        for task in tasks {
            seen.insert(task.await?);
        }
        assert_eq!(seen, (0..WORKERS).collect(), "tasks ran on {seen:?}");
        Ok(())
    });
}

/// `spawn_local` keeps a `!Send` future on the thread that spawns it: the thread of
/// `block_on`, or the worker of the spawning task.
fn spawn_local_stays_on_the_calling_thread(backend: &str) {
    run_on_workers(backend, || async {
        let shared = Rc::new(5);
        let local = plexio::spawn_local({
            let shared = shared.clone();
            async move { (plexio::current_worker(), std::thread::current().id(), *shared) }
        });
        assert_eq!(local.await?, (None, std::thread::current().id(), 5));
        for _ in 0..WORKERS {
            let (outer, inner) = plexio::spawn(async {
                let outer = plexio::current_worker();
                let inner = plexio::spawn_local(async {
                    let not_send = Rc::new(());
                    sleep(Duration::from_millis(1)).await;
                    drop(not_send);
                    plexio::current_worker()
                });
                (outer, inner.await.unwrap())
            })
            .await?;
            assert!(outer.is_some());
            assert_eq!(outer, inner, "a local task left its worker");
        }
        Ok(())
    });
}

/// A connected stream passes from task to task over different workers, a step of an echo
/// at each: every byte arrives, in order, wherever the stream is polled.
fn a_stream_moved_between_workers_keeps_every_byte(backend: &str) {
    run_on_workers(backend, || async {
        let addr = util::spawn_echo_server().await?;
        let mut stream = TcpStream::connect(addr).await?;
        let mut workers_seen = BTreeSet::new();
        for step in 0..32u64 {
            let (returned, worker) = plexio::spawn(async move {
                let mut message = [0u8; 1000];
                util::fill_pattern(7, 0, step * 1000, &mut message);
                stream.write_all(&message).await?;
                // Sent on this worker; half the echo read here, the rest on the next one.
                let mut echo = [0u8; 500];
                stream.read_exact(&mut echo).await?;
                util::check_pattern(7, 0, step * 1000, &echo)?;
                Ok::<_, io::Error>((stream, plexio::current_worker()))
            })
            .await??;
            stream = returned;
            workers_seen.insert(worker);
            let mut rest = [0u8; 500];
            let read = plexio::spawn(async move {
                stream.read_exact(&mut rest).await?;
                util::check_pattern(7, 0, step * 1000 + 500, &rest)?;
                Ok::<_, io::Error>(stream)
            });
            stream = read.await??;
        }
        assert!(workers_seen.len() > 1, "the stream stayed on {workers_seen:?}");
        Ok(())
    });
}

/// One accept loop; each connection is served by a task of its own, which lands on any
/// worker: all are served, and on more than one worker.
fn streams_accepted_on_one_worker_are_served_on_others(backend: &str) {
    run_on_workers(backend, || async {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        const CONNECTIONS: usize = 16;
        let served_by = Arc::new(std::sync::Mutex::new(BTreeSet::new()));
        let server = plexio::spawn({
            let served_by = served_by.clone();
            async move {
                let mut handlers = Vec::new();
                for _ in 0..CONNECTIONS {
                    let (mut stream, _) = listener.accept().await?;
                    let served_by = served_by.clone();
                    handlers.push(plexio::spawn(async move {
                        served_by.lock().unwrap().insert(plexio::current_worker());
                        let mut request = [0u8; 8];
                        stream.read_exact(&mut request).await?;
                        stream.write_all(&request).await?;
                        stream.close().await
                    }));
                }
                for handler in handlers {
                    handler.await??;
                }
                Ok::<_, io::Error>(())
            }
        });
        let clients: Vec<_> = (0..CONNECTIONS as u64)
            .map(|id| {
                plexio::spawn(async move {
                    let mut stream = TcpStream::connect(addr).await?;
                    stream.write_all(&id.to_le_bytes()).await?;
                    let mut answer = Vec::new();
                    stream.read_to_end(&mut answer).await?;
                    assert_eq!(answer, id.to_le_bytes());
                    Ok::<_, io::Error>(())
                })
            })
            .collect();
        for client in clients {
            client.await??;
        }
        server.await??;
        let served_by = served_by.lock().unwrap();
        assert!(served_by.len() > 1, "every connection was served on {served_by:?}");
        Ok(())
    });
}

/// One accept loop (inside `block_on`, whose sockets otherwise register with worker 0) on
/// a listener that hands connections off by live load: the connections it accepts are
/// registered with every worker's driver, the least loaded first. (The default spread,
/// by `SO_REUSEPORT` sockets, is tested in `accept_spread.rs`.)
fn one_accept_loop_spreads_connections_over_the_workers_drivers(backend: &str) {
    const CONNECTIONS: usize = 4 * WORKERS;
    let runtime = util::builder(&format!("{backend}{}", util::WORKERS4))
        .accept_spread(plexio::AcceptSpread::LiveLoad)
        .build()
        .unwrap();
    let _watchdog = util::Watchdog::start(util::TEST_LIMIT);
    let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    // Clients of the standard library, which register nowhere.
    let clients = std::thread::spawn(move || {
        (0..CONNECTIONS).map(|_| std::net::TcpStream::connect(addr).unwrap()).collect::<Vec<_>>()
    });
    let accepted = runtime.block_on(async {
        let mut accepted = Vec::new();
        for _ in 0..CONNECTIONS {
            accepted.push(listener.accept().await?.0);
        }
        Ok::<_, io::Error>(accepted)
    });
    let accepted = accepted.unwrap();
    let clients = clients.join().unwrap();
    let registrations: Vec<usize> =
        runtime.worker_stats().iter().map(|one| one.registrations).collect();
    assert_eq!(registrations.iter().sum::<usize>(), CONNECTIONS + 1, "{registrations:?}");
    assert!(
        registrations.iter().all(|&count| count >= CONNECTIONS / WORKERS - 1),
        "connections registered with the workers unevenly: {registrations:?}"
    );
    drop((accepted, clients, listener));
}

/// The workers run their tasks on their own threads: also while the thread that built the
/// runtime is outside `block_on`.
fn workers_run_tasks_between_block_on_calls(backend: &str) {
    let runtime = workers(backend);
    let _watchdog = util::Watchdog::start(util::TEST_LIMIT);
    let done = Arc::new(AtomicUsize::new(0));
    for _ in 0..WORKERS {
        let done = done.clone();
        drop(runtime.spawn(async move {
            sleep(Duration::from_millis(5)).await;
            done.fetch_add(1, Ordering::SeqCst);
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while done.load(Ordering::SeqCst) < WORKERS {
        assert!(Instant::now() < deadline, "the workers did not run outside block_on");
        std::thread::sleep(Duration::from_millis(1));
    }
    // And `block_on` still works on the thread that built the runtime, again and again.
    for round in 0..3 {
        assert_eq!(runtime.block_on(runtime.spawn(async move { round })).unwrap(), round);
    }
}

/// A `Spawner` sends tasks from another thread to the workers, which run them at once.
fn a_spawner_reaches_the_workers(backend: &str) {
    let runtime = workers(backend);
    let _watchdog = util::Watchdog::start(util::TEST_LIMIT);
    let spawner = runtime.spawner();
    let handles = std::thread::spawn(move || {
        (0..8).map(|n| spawner.spawn(async move { (n, plexio::current_worker()) })).collect()
    })
    .join()
    .unwrap();
    let handles: Vec<plexio::JoinHandle<_>> = handles;
    for (n, handle) in handles.into_iter().enumerate() {
        let (got, worker) = runtime.block_on(handle).unwrap();
        assert_eq!(got, n);
        assert!(worker.is_some(), "a spawned task ran off the workers");
    }
    let spawner = runtime.spawner();
    drop(runtime);
    let late = spawner.spawn(async { 1 });
    assert!(plexio::block_on(late).unwrap_err().is_cancelled());
}

/// `stats` sums the workers, `worker_stats` gives each; dropping the runtime cancels the
/// tasks of every worker (one waiting for ever on a socket, one on a timer) and leaves
/// nothing behind.
fn stats_sum_the_workers_and_drop_releases_everything(backend: &str) {
    let runtime = workers(backend);
    let _watchdog = util::Watchdog::start(util::TEST_LIMIT);
    let stats = runtime.stats_handle();
    let dropped = Arc::new(AtomicUsize::new(0));
    struct CountsDrop(Arc<AtomicUsize>);
    impl Drop for CountsDrop {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let started = runtime.block_on(async {
        let started = Arc::new(AtomicUsize::new(0));
        for _ in 0..WORKERS * 2 {
            let guard = CountsDrop(dropped.clone());
            let started = started.clone();
            plexio::spawn(async move {
                let _guard = guard;
                let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                started.fetch_add(1, Ordering::SeqCst);
                let _never = listener.accept().await;
                sleep(Duration::from_secs(3600)).await;
            });
        }
        while started.load(Ordering::SeqCst) < WORKERS * 2 {
            sleep(Duration::from_millis(1)).await;
        }
        started.load(Ordering::SeqCst)
    });
    assert_eq!(started, WORKERS * 2);
    let each = runtime.worker_stats();
    assert_eq!(each.len(), WORKERS);
    let total = runtime.stats();
    assert_eq!(total.tasks, WORKERS * 2);
    assert_eq!(each.iter().map(|one| one.tasks).sum::<usize>(), WORKERS * 2);
    assert_eq!(each.iter().map(|one| one.registrations).sum::<usize>(), total.registrations);
    assert!(each.iter().filter(|one| one.tasks > 0).count() > 1, "{each:?}");
    drop(runtime);
    assert_eq!(dropped.load(Ordering::SeqCst), WORKERS * 2, "a task was not cancelled");
    let left = stats.get();
    assert!(left.is_empty(), "the dropped runtime still holds {left:?}");
}

/// A socket of one runtime polled on another one's worker fails with `OtherRuntime`: only
/// the workers of its own runtime may wait on it.
fn sockets_of_another_runtime_still_fail(backend: &str) {
    let first = workers(backend);
    let second = workers(backend);
    let _watchdog = util::Watchdog::start(util::TEST_LIMIT);
    let listener = first.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let error = second
        .block_on(second.spawn(async move { listener.accept().await.map(|_| ()) }))
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(plexio::Error::from_io(&error), Some(plexio::Error::OtherRuntime)),
        "{error:?}"
    );
}

/// `abort` from the thread of `block_on` lands at every point of a worker's run of the task:
/// before it starts, as it starts, while the future is polled and after. Wherever it lands,
/// the handle resolves cancelled. (An abort whose wake came while the task was queued, after
/// its run had looked for an abort but before the run began, once went unseen: the task
/// then waited for ever on a future nothing would wake.)
fn an_abort_racing_the_tasks_run_is_never_lost(backend: &str) {
    const ROUNDS: usize = 2_000;
    run_on_workers(backend, || async {
        for round in 0..ROUNDS {
            let task = plexio::spawn(std::future::pending::<()>());
            // A spin of a varying length moves the abort across the worker's first run.
            for _ in 0..round % 64 {
                std::hint::spin_loop();
            }
            task.abort();
            let outcome = plexio::time::timeout(Duration::from_secs(10), task).await;
            match outcome {
                Ok(Err(error)) if error.is_cancelled() => {}
                Ok(other) => panic!("round {round}: the aborted task gave {other:?}"),
                Err(_) => panic!("round {round}: the aborted task never ended"),
            }
        }
        Ok(())
    });
}

/// How long a test lets a worker's thread wait for tasks that only stealing can run.
const STEAL_LIMIT: Duration = Duration::from_secs(20);

/// Sets its flag when dropped.
struct SetsOnDrop(Arc<AtomicBool>);

impl Drop for SetsOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// A task woken by the running task of its own worker, which then holds the thread, is
/// stolen by a worker that was asleep: the wake wakes it. A task waits on worker `w`; a
/// second task, placed on `w` too (placement is retried until it lands there), lets the
/// other worker fall asleep, wakes the first and holds `w` until the first has run. Without
/// the wake the other worker sleeps on and the first never runs (found under wine, where a
/// task spawned by a running one once sat behind it while the other worker slept).
fn a_task_woken_behind_a_running_one_wakes_a_sleeping_worker_to_steal_it(backend: &str) {
    let _watchdog = util::Watchdog::start(util::TEST_LIMIT);
    let runtime = util::builder(backend).worker_threads(2).build().unwrap();
    let (wake, woken) = futures::channel::oneshot::channel::<()>();
    let (started_tx, started) = std::sync::mpsc::channel();
    let ran = Arc::new(AtomicBool::new(false));
    let waiter = {
        let ran = ran.clone();
        runtime.spawn(async move {
            started_tx.send(plexio::current_worker().expect("on a worker")).unwrap();
            woken.await.unwrap();
            ran.store(true, Ordering::SeqCst);
            plexio::current_worker().expect("on a worker")
        })
    };
    let home = started.recv_timeout(STEAL_LIMIT).expect("the waiting task never started");
    let wake = Arc::new(std::sync::Mutex::new(Some(wake)));
    // Placement picks an idle worker over a busy one, and `w` is busy until its thread has
    // finished the waiter's turn: on a loaded machine that thread may not run for a while,
    // and every try meanwhile lands on the other worker. So the tries are bounded in time,
    // not in number (a hundred quick tries once all fell inside one such pause), with a
    // pause between them that lets `w` reach its wait.
    let placing_until = Instant::now() + STEAL_LIMIT;
    let mut landed = false;
    while Instant::now() < placing_until {
        let (wake, ran) = (wake.clone(), ran.clone());
        let holder = runtime.spawn(async move {
            if plexio::current_worker() != Some(home) {
                return false;
            }
            // Long enough for the other worker to go to sleep in its driver.
            std::thread::sleep(Duration::from_millis(50));
            wake.lock().unwrap().take().expect("sent once").send(()).unwrap();
            let deadline = Instant::now() + STEAL_LIMIT;
            while !ran.load(Ordering::SeqCst) {
                assert!(
                    Instant::now() < deadline,
                    "the woken task sat behind this one while the other worker slept"
                );
                std::thread::sleep(Duration::from_millis(1));
            }
            true
        });
        if runtime.block_on(holder).unwrap() {
            landed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(landed, "no task was placed on worker {home} in {STEAL_LIMIT:?}");
    let ran_on = runtime.block_on(waiter).unwrap();
    assert_ne!(ran_on, home, "the woken task ran on its held worker");
}

/// A task that holds its worker's thread does not hold the tasks queued behind it: the
/// other workers, out of work, steal them. The task spawns tasks and holds its thread until
/// they have all run; those placed on its own worker run only if stolen (without stealing,
/// the test times out).
fn tasks_queued_behind_a_blocked_worker_are_stolen(backend: &str) {
    const TASKS: usize = WORKERS * 4;
    let runtime = workers(backend);
    let _watchdog = util::Watchdog::start(util::TEST_LIMIT);
    let stats = runtime.stats_handle();
    let blocker = runtime.spawn(async {
        let me = plexio::current_worker().expect("on a worker");
        let (done, ran) = std::sync::mpsc::channel();
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let done = done.clone();
                plexio::spawn(async move {
                    // Long enough that the other workers are busy when the next tasks are
                    // placed, so that some go to the blocked one.
                    std::thread::sleep(Duration::from_millis(5));
                    done.send(plexio::current_worker()).unwrap();
                })
            })
            .collect();
        let mut ran_on = Vec::new();
        for _ in 0..TASKS {
            match ran.recv_timeout(STEAL_LIMIT) {
                Ok(worker) => ran_on.push(worker.expect("on a worker")),
                Err(_) => panic!("tasks queued behind a blocked worker never ran: {ran_on:?}"),
            }
        }
        (me, ran_on, tasks)
    });
    let (me, ran_on, tasks) = runtime.block_on(blocker).unwrap();
    for task in tasks {
        runtime.block_on(task).unwrap();
    }
    assert!(!ran_on.contains(&me), "a task ran on the blocked worker {me}: {ran_on:?}");
    assert!(stats.get().stolen_tasks > 0, "{:?}", runtime.worker_stats());
}

/// A stolen task's wakes go to the worker that stole it: it is stolen once, not at each of
/// its turns. On two workers: one is held by a task while tasks that yield many times are
/// placed on both; the other runs its own, then steals the held worker's, and each of
/// those is stolen exactly once (were its wakes sent back to the held worker, each would be
/// stolen again at every turn).
fn a_stolen_task_stays_with_the_worker_that_stole_it(backend: &str) {
    const TASKS: usize = 8;
    const TURNS: usize = 20;
    let runtime = util::builder(backend).worker_threads(2).build().unwrap();
    let _watchdog = util::Watchdog::start(util::TEST_LIMIT);
    let blocker = runtime.spawn(async {
        let me = plexio::current_worker().expect("on a worker");
        let release = Arc::new(AtomicBool::new(false));
        let started = Arc::new(AtomicBool::new(false));
        // Holds the other worker while the tasks are placed, so that both look busy and
        // the tasks go to both in turn.
        let occupier = {
            let (release, started) = (release.clone(), started.clone());
            plexio::spawn(async move {
                started.store(true, Ordering::SeqCst);
                while !release.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(1));
                }
            })
        };
        let deadline = Instant::now() + STEAL_LIMIT;
        while !started.load(Ordering::SeqCst) {
            assert!(Instant::now() < deadline, "the other worker never ran its task");
            std::thread::sleep(Duration::from_millis(1));
        }
        let (done, finished) = std::sync::mpsc::channel();
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let done = done.clone();
                plexio::spawn(async move {
                    let mut workers = BTreeSet::new();
                    for _ in 0..TURNS {
                        workers.insert(plexio::current_worker().expect("on a worker"));
                        plexio::task::yield_now().await;
                    }
                    done.send(workers).unwrap();
                })
            })
            .collect();
        release.store(true, Ordering::SeqCst);
        let mut ran_on = BTreeSet::new();
        for _ in 0..TASKS {
            match finished.recv_timeout(STEAL_LIMIT) {
                Ok(workers) => ran_on.extend(workers),
                Err(_) => panic!("the tasks queued on the held worker never ran"),
            }
        }
        (me, ran_on, occupier, tasks)
    });
    let (me, ran_on, occupier, tasks) = runtime.block_on(blocker).unwrap();
    runtime.block_on(occupier).unwrap();
    for task in tasks {
        runtime.block_on(task).unwrap();
    }
    assert!(!ran_on.contains(&me), "a task ran on the held worker {me}");
    let stolen = runtime.stats().stolen_tasks;
    assert!(
        (1..=TASKS).contains(&stolen),
        "{stolen} steals for {TASKS} tasks of {TURNS} turns each (none placed on the held \
         worker, or stolen again at their turns): {:?}",
        runtime.worker_stats()
    );
}

/// A worker that has more tasks queued than one part of its turn takes wakes a worker that
/// sleeps with nothing to do, which steals half of them. On two workers: tasks wait on one
/// worker while the other runs out of work and goes to sleep; then they are all woken at
/// once, each holding the thread a moment when it runs. Some must run on the sleeper (left
/// asleep, it would never run one: it has no timer and no socket).
fn a_worker_with_a_backlog_wakes_a_sleeping_one_to_share_it(backend: &str) {
    const TASKS: usize = 80;
    let runtime = util::builder(backend).worker_threads(2).build().unwrap();
    let _watchdog = util::Watchdog::start(util::TEST_LIMIT);
    let blocker = runtime.spawn(async {
        let me = plexio::current_worker().expect("on a worker");
        let release = Arc::new(AtomicBool::new(false));
        let started = Arc::new(AtomicBool::new(false));
        let occupier = {
            let (release, started) = (release.clone(), started.clone());
            plexio::spawn(async move {
                started.store(true, Ordering::SeqCst);
                while !release.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(1));
                }
            })
        };
        let deadline = Instant::now() + STEAL_LIMIT;
        while !started.load(Ordering::SeqCst) {
            assert!(Instant::now() < deadline, "the other worker never ran its task");
            std::thread::sleep(Duration::from_millis(1));
        }
        // Placed on both workers in turn while both are busy. Those on this worker wait for
        // a signal; those on the other end at once.
        let (elsewhere, waiting) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (ran, ran_on) = std::sync::mpsc::channel();
        let mut signals = Vec::new();
        let mut tasks = Vec::new();
        for _ in 0..TASKS {
            let (signal, wait) = futures::channel::oneshot::channel::<()>();
            signals.push(signal);
            let (elsewhere, waiting, ran) = (elsewhere.clone(), waiting.clone(), ran.clone());
            tasks.push(plexio::spawn(async move {
                if plexio::current_worker() != Some(me) {
                    elsewhere.fetch_add(1, Ordering::SeqCst);
                    return;
                }
                waiting.fetch_add(1, Ordering::SeqCst);
                let _ = wait.await;
                std::thread::sleep(Duration::from_millis(2));
                ran.send(plexio::current_worker().expect("on a worker")).unwrap();
            }));
        }
        // This worker's queue runs its tasks before this one again: they all start waiting.
        // Only then is the other worker let go, to end its own tasks and go to sleep.
        plexio::task::yield_now().await;
        let waiting = waiting.load(Ordering::SeqCst);
        release.store(true, Ordering::SeqCst);
        while elsewhere.load(Ordering::SeqCst) + waiting < TASKS {
            assert!(Instant::now() < deadline, "the other worker never ran its tasks");
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(50));
        for signal in signals {
            let _ = signal.send(());
        }
        (me, waiting, ran_on, occupier, tasks)
    });
    let (me, waiting, ran_on, occupier, tasks) = runtime.block_on(blocker).unwrap();
    runtime.block_on(occupier).unwrap();
    for task in tasks {
        runtime.block_on(task).unwrap();
    }
    let workers: Vec<usize> = ran_on.try_iter().collect();
    assert_eq!(workers.len(), waiting);
    assert!(waiting > 16, "too few tasks were placed on worker {me}: {waiting}");
    let shared = workers.iter().filter(|&&worker| worker != me).count();
    assert!(shared > 0, "worker {me} ran all {waiting} of its tasks alone");
}

/// Dropping the runtime cancels tasks that were stolen and then wait for ever: their home
/// worker, which lists them, marks each aborted and wakes it, and that wake must reach a
/// queue somebody still drains (the thief may have stopped already, and then the home
/// would wait for ever). On two workers: one is held while tasks are placed on both, the
/// other steals the held worker's; they all wait, and the runtime is dropped. (A stolen
/// task the thief had queued before the drop is the unit test
/// `a_task_queued_on_another_worker_when_its_runtime_cancels_it_is_dropped_there`.)
fn dropping_the_runtime_cancels_stolen_tasks(backend: &str) {
    const TASKS: usize = 8;
    for _ in 0..10 {
        // Declared first, so that it also covers the runtime's drop, even while a failure
        // unwinds.
        let _watchdog = util::Watchdog::start(util::TEST_LIMIT);
        let runtime = util::builder(backend).worker_threads(2).build().unwrap();
        let stats = runtime.stats_handle();
        let dropped = Arc::new(AtomicUsize::new(0));
        struct CountsDrop(Arc<AtomicUsize>);
        impl Drop for CountsDrop {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let waiting = Arc::new(AtomicUsize::new(0));
        let blocker = {
            let (dropped, waiting) = (dropped.clone(), waiting.clone());
            runtime.spawn(async move {
                let release = Arc::new(AtomicBool::new(false));
                // Set when this task ends, failing or not: the occupier never outlives it
                // (left spinning, it would hold its worker, and the runtime's drop, for ever).
                let _releases = SetsOnDrop(release.clone());
                let started = Arc::new(AtomicBool::new(false));
                let occupier = {
                    let (release, started) = (release.clone(), started.clone());
                    plexio::spawn(async move {
                        started.store(true, Ordering::SeqCst);
                        while !release.load(Ordering::SeqCst) {
                            std::thread::sleep(Duration::from_millis(1));
                        }
                    })
                };
                let deadline = Instant::now() + STEAL_LIMIT;
                while !started.load(Ordering::SeqCst) {
                    assert!(Instant::now() < deadline, "the other worker never ran its task");
                    std::thread::sleep(Duration::from_millis(1));
                }
                for _ in 0..TASKS {
                    let (guard, waiting) = (CountsDrop(dropped.clone()), waiting.clone());
                    drop(plexio::spawn(async move {
                        let _guard = guard;
                        waiting.fetch_add(1, Ordering::SeqCst);
                        std::future::pending::<()>().await;
                    }));
                }
                release.store(true, Ordering::SeqCst);
                // Held until every task waits: those placed here were stolen.
                while waiting.load(Ordering::SeqCst) < TASKS {
                    assert!(Instant::now() < deadline, "the tasks never all started");
                    std::thread::sleep(Duration::from_millis(1));
                }
                drop(occupier);
            })
        };
        runtime.block_on(blocker).unwrap();
        let stolen = runtime.stats().stolen_tasks;
        drop(runtime);
        assert_eq!(dropped.load(Ordering::SeqCst), TASKS, "a task was not cancelled");
        assert!(stats.get().is_empty(), "{:?}", stats.get());
        assert!(stolen > 0, "no task was stolen");
    }
}
