//! Sockets that move to the driver of the worker that polls them: a stream made on one
//! worker and used by a task on another keeps every byte and ends up registered with the
//! polling worker's driver; bytes that arrived before the move are read without more
//! arriving; the halves of a split stream on two workers keep working. On every backend,
//! and through the fault-injecting wrappers.
//!
//! The peers are threads of the standard library, which register nowhere, so that the
//! per-worker statistics count only the stream under test.

use std::future::Future;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::thread::JoinHandle;
use std::time::Duration;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use plexio::net::TcpStream;
use plexio::time::{sleep, timeout};

use crate::util;

crate::per_backend!(
    a_stream_made_on_one_worker_moves_to_the_worker_that_polls_it,
    bytes_that_arrived_before_the_move_are_read_without_more,
    split_halves_on_two_workers_keep_every_byte,
    halves_that_take_turns_do_not_move_the_stream_at_every_turn,
);

/// Echo rounds of test (a), and the bytes of each.
const ROUNDS: u64 = 200;
const MESSAGE: usize = 1000;

/// How long a read that must succeed may take before the test calls it lost.
const PATIENCE: Duration = Duration::from_secs(20);

/// Whether the backend moves registrations: not a completion driver on Windows, where a
/// socket belongs to one completion port for good.
fn moves(backend: &str) -> bool {
    !(cfg!(windows) && util::is_completion(backend))
}

/// What a scenario holds while it runs: its turn for low descriptor numbers (`select`),
/// and the watchdog.
type Guards = (Option<std::sync::RwLockReadGuard<'static, ()>>, util::Watchdog);

/// A runtime of four workers on `backend`, and the guards a scenario holds while it runs.
fn workers(backend: &str) -> (plexio::Runtime, Guards) {
    let low = util::low_descriptors(backend);
    let runtime = util::runtime(&format!("{backend}{}", util::WORKERS4));
    (runtime, (low, util::Watchdog::start(util::TEST_LIMIT)))
}

/// A peer thread that accepts one connection and runs `serve` on it.
fn peer(serve: impl FnOnce(std::net::TcpStream) + Send + 'static) -> (SocketAddr, JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let thread = std::thread::spawn(move || serve(listener.accept().unwrap().0));
    (addr, thread)
}

/// Echoes until the end of the stream.
fn echo(mut stream: std::net::TcpStream) {
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => return,
            Ok(read) => {
                if stream.write_all(&buffer[..read]).is_err() {
                    return;
                }
            }
        }
    }
}

/// A stream connected to `addr` by a task, registered with that task's worker, and the
/// worker.
async fn connect_on_a_worker(addr: SocketAddr) -> io::Result<(TcpStream, usize)> {
    plexio::spawn(async move {
        let stream = TcpStream::connect(addr).await?;
        Ok::<_, io::Error>((stream, plexio::current_worker().expect("on a worker")))
    })
    .await?
}

/// Runs `work` on `value` in a task on a worker other than `than`: the task gives it back
/// untouched when placed on `than`, and is spawned again. Returns what `work` returns and
/// the worker it ran on.
///
/// The work runs in a local task of that worker, so that it stays there: a `Send` task
/// may be stolen by an idle worker (`than` among them) while it waits, and what it polls
/// from then on is polled from there.
async fn on_another_worker<T, F, Fut, R>(than: usize, value: T, work: F) -> io::Result<(R, usize)>
where
    T: Send + 'static,
    F: FnOnce(T) -> Fut + Send + 'static,
    Fut: Future<Output = io::Result<R>> + Send + 'static,
    R: Send + 'static,
{
    let mut held = Some((value, work));
    for _ in 0..1000 {
        let (value, work) = held.take().expect("given back");
        let placed = plexio::spawn(async move {
            let here = plexio::current_worker().expect("on a worker");
            if here == than {
                return Err((value, work));
            }
            let pinned = plexio::spawn_local(work(value));
            Ok((pinned.await.map_err(io::Error::other).and_then(|result| result), here))
        })
        .await?;
        match placed {
            Ok((result, here)) => return result.map(|output| (output, here)),
            Err(back) => held = Some(back),
        }
    }
    Err(io::Error::other(format!("every task landed on worker {than}")))
}

/// Checks that the one registration of the runtime lives on worker `on`, taken over from
/// another worker once, or, where registrations do not move, still on `made_on`.
fn assert_registered_on(runtime: &plexio::Runtime, backend: &str, made_on: usize, on: usize) {
    let each = runtime.worker_stats();
    let registrations: Vec<usize> = each.iter().map(|one| one.registrations).collect();
    let moved: Vec<usize> = each.iter().map(|one| one.moved_registrations).collect();
    let expected = if moves(backend) { on } else { made_on };
    assert_eq!(registrations.iter().sum::<usize>(), 1, "{registrations:?}");
    assert_eq!(registrations[expected], 1, "registered with {registrations:?}, polled on {on}");
    let expected_moves = usize::from(moves(backend));
    assert_eq!(moved[on], expected_moves, "moves taken in by each worker: {moved:?}");
    assert_eq!(moved.iter().sum::<usize>(), expected_moves, "{moved:?}");
    assert_eq!(runtime.stats().moved_registrations, expected_moves);
}

/// (a) A stream connected on worker A, then used by a task on worker B: many echo rounds,
/// every byte in order, and afterwards the stream is registered with B's driver (having
/// moved once). Dropped there, it leaves nothing registered anywhere.
fn a_stream_made_on_one_worker_moves_to_the_worker_that_polls_it(backend: &str) {
    let (runtime, _guards) = workers(backend);
    let (addr, peer) = peer(echo);
    runtime
        .block_on(async {
            let (stream, made_on) = connect_on_a_worker(addr).await?;
            assert_eq!(runtime.worker_stats()[made_on].registrations, 1);
            let (stream, polled_on) = on_another_worker(made_on, stream, |mut stream| async move {
                let mut echo = [0u8; MESSAGE];
                for round in 0..ROUNDS {
                    let mut message = [0u8; MESSAGE];
                    util::fill_pattern(3, 0, round * MESSAGE as u64, &mut message);
                    stream.write_all(&message).await?;
                    stream.read_exact(&mut echo).await?;
                    util::check_pattern(3, 0, round * MESSAGE as u64, &echo)?;
                }
                Ok(stream)
            })
            .await?;
            assert_registered_on(&runtime, backend, made_on, polled_on);
            drop(stream);
            let left: Vec<usize> =
                runtime.worker_stats().iter().map(|one| one.registrations + one.sockets).collect();
            assert_eq!(left, [0; 4], "a moved stream left something behind");
            Ok::<_, io::Error>(())
        })
        .unwrap();
    peer.join().unwrap();
}

/// The chunk the peer of test (b) sends in round `round`.
fn chunk(round: u64) -> [u8; MESSAGE] {
    let mut chunk = [0u8; MESSAGE];
    util::fill_pattern(5, 0, round * MESSAGE as u64, &mut chunk);
    chunk
}

/// (b) Bytes that arrived for the registration left behind are read after the move with
/// nothing more arriving. On worker A a read times out (on a completion driver its receive
/// stays in flight in A's ring), then the peer's bytes arrive there. On worker B the owner
/// writes several times (each write a poll from B, enough to move an idle socket) and only
/// then reads: the bytes must be there, and the peer sends nothing until they are. Then,
/// round after round, the peer's bytes arrive before B's read starts.
fn bytes_that_arrived_before_the_move_are_read_without_more(backend: &str) {
    const WRITES: usize = 8;
    const LATER_ROUNDS: u64 = 32;
    let (runtime, _guards) = workers(backend);
    let (addr, peer) = peer(|mut stream| {
        let mut go = [0u8; 1 + WRITES];
        stream.read_exact(&mut go[..1]).unwrap();
        stream.write_all(&chunk(0)).unwrap();
        stream.read_exact(&mut go[1..]).unwrap();
        for round in 1..=LATER_ROUNDS {
            stream.read_exact(&mut go[..1]).unwrap();
            stream.write_all(&chunk(round)).unwrap();
        }
        // Until the end of the stream.
        while stream.read(&mut go).is_ok_and(|read| read > 0) {}
    });
    runtime
        .block_on(async {
            // Made on worker A, which keeps it until the chunk has arrived.
            let (stream, made_on) = plexio::spawn(async move {
                let mut stream = TcpStream::connect(addr).await?;
                let mut nothing = [0u8; 16];
                let early = timeout(Duration::from_millis(20), stream.read(&mut nothing)).await;
                assert!(early.is_err(), "the peer spoke first: {early:?}");
                stream.write_all(b"g").await?;
                // The chunk arrives for the registration of this worker.
                sleep(Duration::from_millis(100)).await;
                Ok::<_, io::Error>((stream, plexio::current_worker().expect("on a worker")))
            })
            .await??;
            let (stream, polled_on) = on_another_worker(made_on, stream, |mut stream| async move {
                for _ in 0..WRITES {
                    stream.write_all(b"w").await?;
                }
                let mut got = [0u8; MESSAGE];
                let first = timeout(PATIENCE, stream.read_exact(&mut got)).await;
                assert!(first.is_ok(), "the bytes that arrived before the move were lost");
                first.unwrap()?;
                assert_eq!(got, chunk(0));
                for round in 1..=LATER_ROUNDS {
                    stream.write_all(b"n").await?;
                    // The peer's answer arrives before the read starts.
                    sleep(Duration::from_millis(3)).await;
                    let read = timeout(PATIENCE, stream.read_exact(&mut got)).await;
                    assert!(read.is_ok(), "round {round}: bytes that had arrived were lost");
                    read.unwrap()?;
                    assert_eq!(got, chunk(round), "round {round}");
                }
                Ok(stream)
            })
            .await?;
            assert_registered_on(&runtime, backend, made_on, polled_on);
            drop(stream);
            Ok::<_, io::Error>(())
        })
        .unwrap();
    peer.join().unwrap();
}

/// (c) The halves of a split stream, each in a task on its own worker, one writing and one
/// reading at once through an echo: every byte comes back, in order, for both kinds of
/// split: `into_split`, whose halves share the stream and never move it, and
/// `futures::io::split`, whose halves lend it to each other through `&mut` and so take
/// turns as its owner.
fn split_halves_on_two_workers_keep_every_byte(backend: &str) {
    let (runtime, _guards) = workers(backend);
    for kind in ["into_split", "futures::io::split"] {
        let (addr, peer) = peer(echo);
        runtime
            .block_on(async {
                let (stream, _) = connect_on_a_worker(addr).await?;
                match kind {
                    "into_split" => {
                        let (reader, writer) = stream.into_split();
                        read_and_write_on_two_workers(reader, writer).await
                    }
                    _ => {
                        let (reader, writer) = stream.split();
                        read_and_write_on_two_workers(reader, writer).await
                    }
                }
            })
            .unwrap_or_else(|error| panic!("{kind}: {error}"));
        peer.join().unwrap();
    }
}

/// Writes [`ROUNDS`] messages from a task on one worker and reads them back, checked, in a
/// task on another, at the same time.
async fn read_and_write_on_two_workers<R, W>(mut reader: R, mut writer: W) -> io::Result<()>
where
    R: futures::io::AsyncRead + Unpin + Send + 'static,
    W: futures::io::AsyncWrite + Unpin + Send + 'static,
{
    let (placed, writer_worker) = futures::channel::oneshot::channel();
    let writing = plexio::spawn(async move {
        let _ = placed.send(plexio::current_worker().expect("on a worker"));
        for round in 0..ROUNDS {
            let mut message = [0u8; MESSAGE];
            util::fill_pattern(9, 0, round * MESSAGE as u64, &mut message);
            writer.write_all(&message).await?;
        }
        // The peer then ends the echo, and the reader sees the end of the stream.
        writer.close().await
    });
    let writer_worker = writer_worker.await.map_err(io::Error::other)?;
    let reading = on_another_worker(writer_worker, (), move |()| async move {
        let mut received = Vec::new();
        let read = timeout(PATIENCE * 3, reader.read_to_end(&mut received)).await;
        assert!(read.is_ok(), "the reader hung with {} bytes", received.len());
        read.unwrap()?;
        assert_eq!(received.len() as u64, ROUNDS * MESSAGE as u64);
        util::check_pattern(9, 0, 0, &received)
    });
    let ((), reader_worker) = reading.await?;
    writing.await??;
    assert_ne!(reader_worker, writer_worker);
    Ok(())
}

/// The halves of `futures::io::split` in two tasks on two workers, taking turns: each
/// round the writer sends a message and waits for the reader to have read its echo. Each
/// owns the stream in turn, from its own worker; the stream must not move at every turn
/// (two backend calls each): and in
/// practice a handful of times, since the half that waits keeps the other from moving it.
/// The bound is loose on purpose (a tenth of the turns): a stream moved at every
/// turn far exceeds it.
fn halves_that_take_turns_do_not_move_the_stream_at_every_turn(backend: &str) {
    const TURNS: u64 = 200;
    let (runtime, _guards) = workers(backend);
    let (addr, peer) = peer(echo);
    runtime
        .block_on(async {
            let (stream, _) = connect_on_a_worker(addr).await?;
            let (mut reader, mut writer) = stream.split();
            let (read_sender, mut read) = futures::channel::mpsc::channel::<()>(1);
            let (placed, writer_worker) = futures::channel::oneshot::channel();
            let writing = plexio::spawn(async move {
                use futures::StreamExt;
                let _ = placed.send(plexio::current_worker().expect("on a worker"));
                for round in 0..TURNS {
                    let mut message = [0u8; 100];
                    util::fill_pattern(11, 0, round * 100, &mut message);
                    writer.write_all(&message).await?;
                    read.next().await.ok_or_else(|| io::Error::other("the reader left"))?;
                }
                writer.close().await
            });
            let writer_worker = writer_worker.await.map_err(io::Error::other)?;
            on_another_worker(writer_worker, read_sender, move |mut read_sender| async move {
                use futures::SinkExt;
                let mut echo = [0u8; 100];
                for round in 0..TURNS {
                    let read = timeout(PATIENCE, reader.read_exact(&mut echo)).await;
                    assert!(read.is_ok(), "round {round}: the reader hung");
                    read.unwrap()?;
                    util::check_pattern(11, 0, round * 100, &echo)?;
                    read_sender.send(()).await.map_err(io::Error::other)?;
                }
                Ok(())
            })
            .await?;
            writing.await??;
            let moved = runtime.stats().moved_registrations;
            assert!(moved as u64 <= TURNS / 10, "moved {moved} times in {TURNS} turns");
            Ok::<_, io::Error>(())
        })
        .unwrap();
    peer.join().unwrap();
}

/// The same for a Unix stream, made inside a task pinned to worker A with `spawn_local`
/// together with its peer, which stays there and echoes.
#[cfg(unix)]
mod unix {
    use super::*;
    use plexio::net::UnixStream;

    crate::per_backend!(a_unix_stream_made_on_one_worker_moves_to_the_worker_that_polls_it);

    fn a_unix_stream_made_on_one_worker_moves_to_the_worker_that_polls_it(backend: &str) {
        let (runtime, _guards) = workers(backend);
        runtime
            .block_on(async {
                let (stream, made_on) = plexio::spawn(async {
                    let (mine, mut theirs) = UnixStream::pair()?;
                    // The peer echoes from a local task, which never leaves this worker.
                    drop(plexio::spawn_local(async move {
                        let mut buffer = [0u8; 4096];
                        while let Ok(read @ 1..) = theirs.read(&mut buffer).await {
                            if theirs.write_all(&buffer[..read]).await.is_err() {
                                return;
                            }
                        }
                    }));
                    Ok::<_, io::Error>((mine, plexio::current_worker().expect("on a worker")))
                })
                .await??;
                let (stream, on) = on_another_worker(made_on, stream, |mut stream| async move {
                    let mut echo = [0u8; MESSAGE];
                    for round in 0..ROUNDS {
                        let mut message = [0u8; MESSAGE];
                        util::fill_pattern(13, 0, round * MESSAGE as u64, &mut message);
                        stream.write_all(&message).await?;
                        stream.read_exact(&mut echo).await?;
                        util::check_pattern(13, 0, round * MESSAGE as u64, &echo)?;
                    }
                    Ok(stream)
                })
                .await?;
                let each = runtime.worker_stats();
                let registrations: Vec<usize> = each.iter().map(|one| one.registrations).collect();
                assert_eq!(registrations[made_on], 1, "the peer stays: {registrations:?}");
                assert_eq!(registrations[on], 1, "the stream moved: {registrations:?}");
                assert_eq!(each[on].moved_registrations, 1);
                assert_eq!(runtime.stats().moved_registrations, 1);
                drop(stream);
                Ok::<_, io::Error>(())
            })
            .unwrap();
    }
}
