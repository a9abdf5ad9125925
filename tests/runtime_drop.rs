//! Dropping a runtime in the middle of everything releases everything: tasks blocked on
//! reads, accepts, datagrams, joins and long timers; connections mid-transfer; the backend
//! itself. Checked with the runtime's statistics on every OS and, on Linux, by counting the
//! process's open descriptors before the runtime exists and after it is gone. CI also runs
//! this file under valgrind, which reports any heap block left unreachable.
//!
//! The tests of this file run one at a time (the descriptor count is the whole process's).

mod util;

use std::io;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use futures::StreamExt;
use futures::io::{AsyncReadExt, AsyncWriteExt};
use plexio::net::{TcpListener, TcpStream, UdpSocket};
use plexio::time::{interval, sleep};

per_backend!(workers:
    dropping_the_runtime_mid_flight_releases_everything,
    a_task_spawned_by_a_destructor_while_the_runtime_drops_releases_its_socket,
    operations_dropped_at_every_stage_lose_nothing_and_leak_nothing,
);

/// Held by each test of this file, so that no other test opens descriptors meanwhile.
fn one_at_a_time() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The descriptors this process has open that a runtime could own (sockets, and the
/// anonymous objects of the backends: epoll sets, eventfds, rings, pipes), where the OS lets
/// us count them.
///
/// Files are left out: the process opens some on its own, on any thread and at any moment
/// (glibc's allocator reads `/proc/sys/vm/overcommit_memory` when a thread's heap shrinks),
/// which no lock of this file can hold back; and the read of `/proc/self/fd` is one itself.
fn open_descriptors() -> Option<usize> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    let entries = std::fs::read_dir("/proc/self/fd").ok()?;
    let runtime_kind = |target: &std::path::Path| !target.starts_with("/");
    Some(
        entries
            .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
            .filter(|target| runtime_kind(target))
            .count(),
    )
}

fn dropping_the_runtime_mid_flight_releases_everything(backend: &str) {
    let _alone = one_at_a_time();
    let _watchdog = util::Watchdog::start(util::TEST_LIMIT);
    let descriptors_before = open_descriptors();
    let runtime = util::runtime(backend);
    let stats = runtime.stats_handle();
    runtime
        .block_on(async {
            // The sockets of one listener: one, or on a multi-worker runtime one per worker
            // (`AcceptSpread`).
            let listening = {
                let before = stats.get().sockets;
                let probe = TcpListener::bind("127.0.0.1:0").await?;
                let listening = stats.get().sockets - before;
                drop(probe);
                listening
            };
            let addr = util::spawn_echo_server().await?;
            // Connections mid-transfer: each has sent more than it has read back.
            for id in 0..8 {
                let mut stream = TcpStream::connect(addr).await?;
                plexio::spawn(async move {
                    let chunk = vec![id as u8; 64 << 10];
                    loop {
                        stream.write_all(&chunk).await?;
                        sleep(Duration::from_millis(1)).await;
                    }
                    #[allow(unreachable_code)]
                    Ok::<_, io::Error>(())
                });
            }
            // A task blocked on a read that never completes, and one joining it.
            let (client, mut server) = pair().await?;
            let reader = plexio::spawn(async move {
                let mut byte = [0];
                server.read(&mut byte).await
            });
            plexio::spawn(reader);
            // An accept that never completes.
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            plexio::spawn(async move { listener.accept().await.map(|_| ()) });
            // A datagram that never arrives.
            let udp = UdpSocket::bind("127.0.0.1:0").await?;
            plexio::spawn(async move {
                let mut buffer = [0; 16];
                udp.recv_from(&mut buffer).await
            });
            // A long timer, and an interval.
            plexio::spawn(sleep(Duration::from_secs(3_600)));
            plexio::spawn(async {
                let mut ticks = interval(Duration::from_millis(5));
                while ticks.next().await.is_some() {}
            });
            // Tasks: the echo server's acceptor, 8 echoes, 8 writers, the reader, its joiner,
            // the accept, the datagram, the sleep and the interval. Sockets: 8 connections'
            // two ends, the echo listener, the pair, the idle listener and the UDP socket.
            let (tasks, sockets) = (1 + 8 + 8 + 2 + 4, 8 * 2 + listening + 2 + listening + 1);
            // Let everything get going and block: the server's side of a connection exists
            // once its accept has completed, which a slow run (valgrind, with completions
            // delayed by the chaos driver) took more than 50 ms to see. On a multi-worker
            // runtime the writers' sockets keep moving between workers with their tasks, and
            // a socket being moved is registered with its new worker before it leaves the
            // old one, so one look can count it twice: the assertions below read the look
            // at which everything added up, or the last one if none did.
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            sleep(Duration::from_millis(50)).await;
            let settled = |now: &plexio::RuntimeStats| {
                (now.tasks, now.sockets, now.registrations) == (tasks, sockets, sockets)
            };
            let mut during = stats.get();
            while !settled(&during) && std::time::Instant::now() < deadline {
                sleep(Duration::from_millis(10)).await;
                during = stats.get();
            }
            assert_eq!(during.tasks, tasks, "{during:?}");
            assert_eq!(during.sockets, sockets, "{during:?}");
            assert_eq!(during.registrations, during.sockets, "{during:?}");
            // The interval's timer is away while its tick is being handled.
            assert!(during.timers >= 1, "{during:?}");
            // Kept open by this future: dropped with it, before the runtime.
            drop(client);
            Ok::<_, io::Error>(())
        })
        .unwrap();
    drop(runtime);
    let left = stats.get();
    assert!(left.is_empty(), "the dropped runtime still holds {left:?}");
    let descriptors_after = open_descriptors();
    assert_eq!(
        descriptors_after, descriptors_before,
        "descriptors open before the runtime and after it was dropped"
    );
}

/// Runs its closure when dropped.
struct OnDrop<F: FnMut()>(F);

impl<F: FnMut()> Drop for OnDrop<F> {
    fn drop(&mut self) {
        (self.0)()
    }
}

/// The runtime is current while it drops: a task's destructor that spawns a task owning a
/// socket gets a cancelled task, whose socket is closed with it; nothing panics.
fn a_task_spawned_by_a_destructor_while_the_runtime_drops_releases_its_socket(backend: &str) {
    let _alone = one_at_a_time();
    let _watchdog = util::Watchdog::start(util::TEST_LIMIT);
    let descriptors_before = open_descriptors();
    let runtime = util::runtime(backend);
    let stats = runtime.stats_handle();
    let (sender, spawned) = std::sync::mpsc::channel();
    let client = runtime
        .block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let (client, (mut server, _)) =
                futures::try_join!(TcpStream::connect(listener.local_addr()?), listener.accept())?;
            let mut listener = Some(listener);
            // Made here and moved into the task, so that it is dropped with the task's future
            // whether or not a worker has polled the task by the time the runtime drops (on
            // a loaded machine four workers may not have within the sleep below).
            let guard = OnDrop(move || {
                let listener = listener.take().expect("dropped once");
                let handle = plexio::spawn(async move { listener.accept().await.map(drop) });
                sender.send(handle).unwrap();
            });
            plexio::spawn(async move {
                let _guard = guard;
                let mut byte = [0];
                server.read(&mut byte).await
            });
            sleep(Duration::from_millis(10)).await;
            Ok::<_, io::Error>(client)
        })
        .unwrap();
    // The reader is still waiting (its peer is open, and on a multi-worker runtime it must
    // not see an end of stream and finish before the drop): it ends with the runtime.
    drop(runtime);
    drop(client);
    let handle = spawned.recv().unwrap();
    assert!(futures::executor::block_on(handle).unwrap_err().is_cancelled());
    let left = stats.get();
    assert!(left.is_empty(), "the dropped runtime still holds {left:?}");
    assert_eq!(
        open_descriptors(),
        descriptors_before,
        "descriptors open before the runtime and after it was dropped"
    );
}

async fn pair() -> io::Result<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let (client, (server, _)) =
        futures::try_join!(TcpStream::connect(listener.local_addr()?), listener.accept())?;
    Ok((client, server))
}

/// Polls `future` `stage` times (not at all for 0) with a pause after each (which lets a
/// completion driver's operation reach the kernel), then drops it; a future that completes
/// meanwhile is dropped with its output, which the callers make sure cannot happen.
async fn poll_then_drop<F: std::future::Future>(future: F, stage: u32) {
    let mut future = Box::pin(future);
    for _ in 0..stage {
        if futures::FutureExt::now_or_never(future.as_mut()).is_some() {
            return;
        }
        sleep(Duration::from_millis(2)).await;
    }
}

/// The bug classes of completion runtimes (an accept, connect or receive dropped before it
/// was submitted, while in the kernel, or after the kernel completed it): a dropped accept
/// loses no connection, a dropped read no byte, and nothing (descriptor, task,
/// registration, buffer) outlives the runtime. Run on every backend; on a readiness backend
/// it pins the same promises.
fn operations_dropped_at_every_stage_lose_nothing_and_leak_nothing(backend: &str) {
    let _alone = one_at_a_time();
    let _watchdog = util::Watchdog::start(util::TEST_LIMIT);
    let descriptors_before = open_descriptors();
    let runtime = util::runtime(backend);
    let stats = runtime.stats_handle();
    runtime
        .block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            for stage in 0..4 {
                // Accept: dropped before a connection arrives (on a completion driver, with
                // its accept still in the kernel when it does): the next accept gets it.
                poll_then_drop(listener.accept(), stage).await;
                let client = TcpStream::connect(addr).await?;
                // Connections left by the previous stage's dropped connect may come first.
                let server = loop {
                    let accepted = listener.accept();
                    let (server, peer) =
                        plexio::time::timeout(Duration::from_secs(10), accepted).await??;
                    if peer == client.local_addr()? {
                        break server;
                    }
                };
                // Read: dropped before the data arrives (on a completion driver, with its
                // receive still in the kernel when it does): the next read gets every byte.
                poll_then_drop(server.read_owned(Vec::with_capacity(8)), stage).await;
                client.write_all_owned(vec![stage as u8; 3]).await.0?;
                let mut got = Vec::new();
                while got.len() < 3 {
                    let (read, buffer) = server.read_owned(Vec::with_capacity(8)).await;
                    assert!(read? > 0, "end of stream before the bytes");
                    got.extend_from_slice(&buffer);
                }
                assert_eq!(got, [stage as u8; 3], "stage {stage}");
                // Connect: dropped at this stage; whatever it connected is closed.
                poll_then_drop(TcpStream::connect(addr), stage).await;
                // Datagrams: a dropped receive leaves the socket usable.
                let udp = UdpSocket::bind("127.0.0.1:0").await?;
                poll_then_drop(udp.recv_from_owned(Vec::with_capacity(8)), stage).await;
                udp.send_to_owned(b"ok".to_vec(), udp.local_addr()?).await.0?;
                let (received, _) = udp.recv_from_owned(Vec::with_capacity(8)).await;
                received?;
            }
            // Connections the dropped connects made may still wait in the backlog: accepted
            // and dropped here, or closed with the listener.
            Ok::<_, io::Error>(())
        })
        .unwrap();
    drop(runtime);
    let left = stats.get();
    assert!(left.is_empty(), "the dropped runtime still holds {left:?}");
    if let (Some(before), Some(after)) = (descriptors_before, open_descriptors()) {
        assert_eq!(after, before, "descriptors leaked on {backend}");
    }
}

/// Regression: a destructor that wakes another task while it holds a lock which that
/// task's own destructor takes (as h2 does: dropping a connection wakes its streams' tasks
/// under the connection's lock) must not deadlock the runtime's drop. The woken task was
/// cancelled inside the wake, so its destructor waited for the lock its waker's caller held.
#[test]
fn a_wake_under_a_lock_while_the_runtime_drops_does_not_cancel_inline() {
    use std::future::poll_fn;
    use std::sync::Arc;
    use std::task::{Poll, Waker};

    /// Where the waiting task leaves its waker; both destructors take it.
    type Shared = Arc<Mutex<Option<Waker>>>;

    /// Pending for ever; when dropped, takes the shared lock.
    struct Waiter(Shared);
    impl Drop for Waiter {
        fn drop(&mut self) {
            drop(self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
        }
    }

    /// Pending for ever; when dropped, wakes the waiter while holding the shared lock.
    struct WakesUnderLock(Shared);
    impl Drop for WakesUnderLock {
        fn drop(&mut self) {
            let slot = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some(waker) = slot.as_ref() {
                waker.wake_by_ref();
            }
        }
    }

    let _turn = one_at_a_time();
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // A readiness backend: CI runs this file under valgrind, which misreads io_uring.
        let backend = plexio::backends().into_iter().find(|name| *name != "uring");
        let runtime = plexio::Runtime::builder()
            .backend(backend.expect("a readiness backend compiled in"))
            .build()
            .unwrap();
        let shared: Shared = Arc::default();
        runtime.block_on(async {
            // Spawned first, so that the runtime's drop cancels it first, as h2's
            // connection task is dropped before its streams' tasks.
            let waker = WakesUnderLock(shared.clone());
            plexio::spawn(async move {
                let _waker = waker;
                std::future::pending::<()>().await
            });
            let waiter = Waiter(shared.clone());
            plexio::spawn(async move {
                let waiter = waiter;
                poll_fn(|cx| {
                    *waiter.0.lock().unwrap() = Some(cx.waker().clone());
                    Poll::<()>::Pending
                })
                .await
            });
            plexio::task::yield_now().await;
            assert!(shared.lock().unwrap().is_some(), "the waiter has run");
        });
        drop(runtime);
        // The waiter's waker, still in the slot, keeps the runtime's driver (and its
        // descriptors, which the other tests of this file count) alive until dropped.
        drop(shared);
        let _ = done.send(());
    });
    finished
        .recv_timeout(Duration::from_secs(20))
        .expect("the runtime's drop deadlocked: a task was cancelled inside a wake");
}
