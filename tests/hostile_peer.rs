//! What a peer, or a caller, at the edges of the socket API can do to a stream, on every
//! backend: urgent data that makes a read stop short, vectors longer than the system takes
//! in one call, resets seen first by a write, a sender that never lets the socket empty, and
//! a socket moved to a thread its runtime does not run on. Each scenario pins a defect that
//! once hung, failed or misreported here.

mod util;

use std::io::{self, IoSlice, IoSliceMut, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::io::{AsyncReadExt, AsyncWriteExt};
use plexio::net::{TcpListener, TcpStream};
use plexio::time::{sleep, timeout};
use socket2::SockRef;
use util::run;

per_backend!(
    urgent_data_does_not_stall_the_bytes_behind_it,
    read_vectored_past_the_system_limit_loses_no_readiness,
    write_vectored_past_the_system_limit_writes_what_fits,
    reset_seen_by_a_write_is_what_later_reads_report,
    reset_seen_by_the_write_half_is_what_the_read_half_reports,
    budget_lets_a_timer_fire_beside_a_reader_that_never_runs_dry,
    socket_made_on_the_first_runtime_fails_at_once_on_the_second,
    socket_made_on_the_second_runtime_fails_at_once_on_the_first,
    socket_polled_outside_any_runtime_fails_at_once,
);

/// More slices than any system takes in one `readv`/`writev` (1,024 on Linux, macOS and the
/// BSDs).
const MANY_SLICES: usize = 2_000;

/// How long any single wait for bytes may take before the scenario calls it a hang.
const HANG: Duration = Duration::from_secs(10);

async fn connected_pair() -> io::Result<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr: SocketAddr = listener.local_addr()?;
    let (client, (server, _)) = futures::try_join!(TcpStream::connect(addr), listener.accept())?;
    Ok((client, server))
}

/// Reads until `wanted` bytes came, each read under the hang limit: a lost readiness shows
/// as a `TimedOut` error naming how far the reads got.
async fn read_until(
    stream: &mut TcpStream,
    wanted: usize,
    buffer_size: usize,
) -> io::Result<Vec<u8>> {
    let mut received = Vec::new();
    let mut buffer = vec![0; buffer_size];
    while received.len() < wanted {
        let n = match timeout(HANG, stream.read(&mut buffer)).await {
            Ok(read) => read?,
            Err(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("the read hangs after {} of {wanted} bytes", received.len()),
                ));
            }
        };
        if n == 0 {
            break;
        }
        received.extend_from_slice(&buffer[..n]);
    }
    Ok(received)
}

/// TCP urgent data (`MSG_OOB`) makes a `recv` stop at the urgent mark even when more bytes
/// are queued behind it; a backend that takes short reads as draining must not then wait
/// for an event that will never come for bytes already there. plexio does not deliver the
/// urgent byte itself (no `SO_OOBINLINE`); the ordinary bytes on both sides of it arrive,
/// in order.
fn urgent_data_does_not_stall_the_bytes_behind_it(backend: &str) {
    run(backend, || async {
        let (client, mut server) = connected_pair().await?;
        let client = SockRef::from(&client);
        for round in 0..5u8 {
            client.send(&[b'a' + round; 100])?;
            client.send_out_of_band(b"!")?;
            client.send(&[b'A' + round; 100])?;
            // Everything is queued at the receiver before its first read.
            sleep(Duration::from_millis(20)).await;
            let received = read_until(&mut server, 200, 64 << 10).await?;
            // Where the OS hands the urgent byte over in line after all (not Linux), it is
            // one byte the sender did send: leave it out of the comparison.
            let ordinary: Vec<u8> = received.into_iter().filter(|&byte| byte != b'!').collect();
            let mut expected = vec![b'a' + round; 100];
            expected.extend_from_slice(&[b'A' + round; 100]);
            assert_eq!(ordinary, expected, "round {round}");
        }
        Ok(())
    });
}

/// `read_vectored` with more buffers than the system takes in one call reads into the first
/// ones only (as std does); that read is not short, and must not make the reactor forget
/// the bytes still queued.
fn read_vectored_past_the_system_limit_loses_no_readiness(backend: &str) {
    run(backend, || async {
        let (mut client, mut server) = connected_pair().await?;
        let sent: Vec<u8> = (0..MANY_SLICES).map(|index| (index % 251) as u8).collect();
        client.write_all(&sent).await?;
        sleep(Duration::from_millis(20)).await;
        let mut storage = vec![0u8; MANY_SLICES];
        let mut received = Vec::new();
        while received.len() < sent.len() {
            let mut slices: Vec<IoSliceMut<'_>> =
                storage.chunks_mut(1).map(IoSliceMut::new).collect();
            let n = match timeout(HANG, server.read_vectored(&mut slices)).await {
                Ok(read) => read?,
                Err(_) => panic!("read_vectored hangs after {} bytes", received.len()),
            };
            assert!(n > 0, "no end of stream was sent");
            received.extend_from_slice(&storage[..n]);
        }
        assert_eq!(received, sent);
        Ok(())
    });
}

/// `write_vectored` with more slices than the system takes in one call writes what fits,
/// as std's does, instead of failing with "message too long"; every byte it reports is
/// delivered, in order.
fn write_vectored_past_the_system_limit_writes_what_fits(backend: &str) {
    run(backend, || async {
        let (mut client, mut server) = connected_pair().await?;
        let sent: Vec<u8> = (0..MANY_SLICES).map(|index| (index % 251) as u8).collect();
        let mut written = 0;
        while written < sent.len() {
            let slices: Vec<IoSlice<'_>> = sent[written..].chunks(1).map(IoSlice::new).collect();
            let n = client.write_vectored(&slices).await?;
            assert!(n > 0, "a write_vectored of {} slices wrote nothing", slices.len());
            written += n;
        }
        let received = read_until(&mut server, sent.len(), 4096).await?;
        assert_eq!(received, sent);
        Ok(())
    });
}

/// Resets the connection from `server`'s side (a zero linger makes the close send an RST)
/// and waits until the reset has reached `client`'s socket.
async fn reset_by_peer(server: TcpStream) -> io::Result<()> {
    server.set_linger(Some(Duration::ZERO))?;
    drop(server);
    sleep(Duration::from_millis(50)).await;
    Ok(())
}

/// Writes until a write fails; gives that error.
async fn write_until_error(mut writer: impl futures::io::AsyncWrite + Unpin) -> io::Error {
    for _ in 0..1_000 {
        if let Err(error) = writer.write_all(&[0; 1024]).await {
            return error;
        }
    }
    panic!("1,000 writes to a reset connection all succeeded");
}

/// The kernel reports a reset once, to whichever operation comes first, and then reads
/// return 0 as at a clean end of stream. A stream that has seen a reset keeps reporting it
/// to its reads, so that a truncated stream is never taken for a complete one.
fn reset_seen_by_a_write_is_what_later_reads_report(backend: &str) {
    run(backend, || async {
        let (mut client, server) = connected_pair().await?;
        reset_by_peer(server).await?;
        let error = write_until_error(&mut client).await;
        if error.kind() != io::ErrorKind::ConnectionReset {
            // Only a reported reset is remembered; a write that saw a broken pipe first
            // (the reset went to no operation of ours) says nothing here.
            eprintln!("the first failed write said {error:?}, not a reset");
            return Ok(());
        }
        for _ in 0..3 {
            let read = client.read(&mut [0; 16]).await;
            let error = read.expect_err("a reset connection must not read as end of stream");
            assert_eq!(error.kind(), io::ErrorKind::ConnectionReset, "{error:?}");
        }
        Ok(())
    });
}

/// The same through owned halves: the write half meets the reset, and the read half, which
/// shares the connection, must not then see a clean end of stream (a proxy would forward
/// a truncated stream as complete).
fn reset_seen_by_the_write_half_is_what_the_read_half_reports(backend: &str) {
    run(backend, || async {
        let (client, server) = connected_pair().await?;
        let (mut reader, mut writer) = client.into_split();
        reset_by_peer(server).await?;
        let error = write_until_error(&mut writer).await;
        if error.kind() != io::ErrorKind::ConnectionReset {
            eprintln!("the first failed write said {error:?}, not a reset");
            return Ok(());
        }
        let read = reader.read(&mut [0; 16]).await;
        let error = read.expect_err("the read half must not see a clean end of stream");
        assert_eq!(error.kind(), io::ErrorKind::ConnectionReset, "{error:?}");
        Ok(())
    });
}

/// A task that reads one byte at a time from a socket that another thread keeps full never
/// finds it empty, so only the cooperative budget makes it yield. A 20 ms timer on the same
/// runtime must fire while that reader is still going; without the budget it would fire
/// only once the reader gives up.
fn budget_lets_a_timer_fire_beside_a_reader_that_never_runs_dry(backend: &str) {
    run(backend, || async {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        // A blocking writer on its own thread, so that no task of this runtime is needed to
        // keep the socket full.
        let writer = std::thread::spawn({
            let stop = stop.clone();
            move || {
                let mut peer = std::net::TcpStream::connect(addr).unwrap();
                let chunk = [7u8; 64 << 10];
                while !stop.load(Ordering::SeqCst) {
                    if peer.write_all(&chunk).is_err() {
                        break;
                    }
                }
            }
        });
        let (mut server, _) = listener.accept().await?;
        // Let the receive buffer fill before the reader starts.
        sleep(Duration::from_millis(50)).await;
        let reader = plexio::spawn({
            let stop = stop.clone();
            async move {
                // Gives up on its own after this long, so that a runtime without a budget
                // fails the assertion below instead of hanging.
                let give_up = Instant::now() + HANG;
                let mut byte = [0; 1];
                while !stop.load(Ordering::SeqCst) {
                    if Instant::now() > give_up {
                        return Ok(false);
                    }
                    server.read_exact(&mut byte).await?;
                }
                Ok::<_, io::Error>(true)
            }
        });
        sleep(Duration::from_millis(20)).await;
        stop.store(true, Ordering::SeqCst);
        let stopped_by_timer = reader.await??;
        writer.join().unwrap();
        assert!(stopped_by_timer, "the timer fired only after the reader gave up");
        Ok(())
    });
}

/// Accepts one connection on `runtime` from a client of the standard library.
fn accepted_on(runtime: &plexio::Runtime) -> (TcpStream, std::net::TcpStream) {
    runtime
        .block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let client = std::net::TcpStream::connect(listener.local_addr()?)?;
            let (stream, _) = listener.accept().await?;
            Ok::<_, io::Error>((stream, client))
        })
        .unwrap()
}

/// On `runtime`, which is not the one `stream` was made on, every operation of `stream`
/// fails at once with `OtherRuntime`, whether or not data is waiting (so that a program
/// cannot work by luck in testing and hang in production); handed over through
/// `into_std` and `from_std`, the stream then works there.
fn fails_here_until_handed_over(
    runtime: &plexio::Runtime,
    mut stream: TcpStream,
    mut client: std::net::TcpStream,
) {
    runtime
        .block_on(async {
            let other_runtime = |error: io::Error| {
                assert!(
                    matches!(plexio::Error::from_io(&error), Some(plexio::Error::OtherRuntime)),
                    "{error:?}"
                );
                assert!(error.to_string().contains("into_std"), "{error}");
            };
            let mut buffer = [0; 5];
            let read = timeout(HANG, stream.read(&mut buffer)).await.expect("the read hangs");
            other_runtime(read.expect_err("a read on another runtime must fail"));
            client.write_all(b"hello")?;
            sleep(Duration::from_millis(20)).await;
            let read = timeout(HANG, stream.read(&mut buffer)).await.expect("the read hangs");
            other_runtime(read.expect_err("a read on another runtime must fail, data or not"));
            let write = timeout(HANG, stream.write(b"x")).await.expect("the write hangs");
            other_runtime(write.expect_err("a write on another runtime must fail"));

            let mut stream = TcpStream::from_std(stream.into_std()?)?;
            timeout(HANG, stream.read_exact(&mut buffer)).await.expect("the read hangs")?;
            assert_eq!(&buffer, b"hello");
            Ok::<_, io::Error>(())
        })
        .unwrap();
}

/// A stream made on one runtime and used on a second, on another thread, while the first
/// is not running: the second runtime never polls the first one's backend, so a wait there
/// would hang.
fn socket_made_on_the_first_runtime_fails_at_once_on_the_second(backend: &str) {
    let _watchdog = util::Watchdog::start(util::TEST_LIMIT);
    let first = util::runtime(backend);
    let (stream, client) = accepted_on(&first);
    let backend = backend.to_owned();
    std::thread::spawn(move || {
        let second = util::runtime(&backend);
        fails_here_until_handed_over(&second, stream, client);
    })
    .join()
    .unwrap();
    drop(first);
}

/// The same the other way round: made on the runtime built second, used on the first.
fn socket_made_on_the_second_runtime_fails_at_once_on_the_first(backend: &str) {
    let _watchdog = util::Watchdog::start(util::TEST_LIMIT);
    let first = util::runtime(backend);
    let owned = backend.to_owned();
    let (made, sockets) = std::sync::mpsc::channel();
    let (done, finished) = std::sync::mpsc::channel::<()>();
    let second = std::thread::spawn(move || {
        let second = util::runtime(&owned);
        made.send(accepted_on(&second)).unwrap();
        // The second runtime stays alive, not running, until the first is done.
        finished.recv().unwrap();
    });
    let (stream, client) = sockets.recv().unwrap();
    fails_here_until_handed_over(&first, stream, client);
    done.send(()).unwrap();
    second.join().unwrap();
}

/// Outside any runtime there is nothing to wait with: an operation fails at once with
/// `NoRuntime`.
fn socket_polled_outside_any_runtime_fails_at_once(backend: &str) {
    let _watchdog = util::Watchdog::start(util::TEST_LIMIT);
    let runtime = util::runtime(backend);
    let (mut stream, _client) = accepted_on(&runtime);
    let read = futures::executor::block_on(stream.read(&mut [0; 5]));
    let error = read.expect_err("a read outside any runtime must fail");
    assert!(matches!(plexio::Error::from_io(&error), Some(plexio::Error::NoRuntime)), "{error:?}");
}
