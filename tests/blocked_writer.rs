//! A writer blocked on a full send buffer costs no CPU, whatever the peer has done to the
//! connection: shut down its own write side, or sent a byte of urgent (out-of-band) data.
//! Either leaves a condition that some mechanisms report whatever a socket is watched for
//! (`POLLHUP` from `WSAPoll`, winsock `select`'s exception set); a backend that hands it to
//! a writer as news wakes the writer, whose write says `WouldBlock`, in a loop.
//!
//! Each scenario counts the backend's polls while the writer waits, then lets the peer read
//! everything, which proves that the writer still wakes once writing works again.

mod util;

use std::io::{self, Read};
use std::net::{Shutdown, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use plexio::net::TcpListener;
use plexio::time::{sleep, timeout};
use socket2::SockRef;

per_backend!(
    writer_blocked_on_a_half_closed_peer_does_not_spin,
    writer_blocked_while_urgent_data_is_pending_does_not_spin,
    writer_blocked_on_a_half_closed_peer_fails_when_the_peer_resets,
);

/// More than any loopback send and receive buffer hold together, so that the writer blocks.
const TOTAL: u64 = 32 << 20;
/// How long the polls are counted while the writer waits.
const WINDOW: Duration = Duration::from_millis(300);

fn writer_blocked_on_a_half_closed_peer_does_not_spin(backend: &str) {
    blocked_writer_does_not_spin(backend, Peer::HalfClosed);
}

fn writer_blocked_while_urgent_data_is_pending_does_not_spin(backend: &str) {
    blocked_writer_does_not_spin(backend, Peer::SentUrgentData);
}

/// What the peer does before it stops reading.
#[derive(Clone, Copy, Debug)]
enum Peer {
    /// Shuts down its write side: the writer's socket reads end of stream.
    HalfClosed,
    /// Sends one byte of urgent data, which stays pending for the whole test: plexio never
    /// enables SO_OOBINLINE and never reads it.
    SentUrgentData,
}

/// Connects a blocking std peer to a plexio stream, lets the peer do what `peer` says, fills
/// the plexio side's buffers with a writer the peer does not read, counts the backend's
/// polls while that writer waits, and finally drains everything through the peer.
fn blocked_writer_does_not_spin(backend: &str, condition: Peer) {
    let _low_descriptors = util::low_descriptors(backend);
    let counting = util::counting_runtime(backend);
    let polls = counting.polls.clone();
    let _watchdog = util::Watchdog::start(util::TEST_LIMIT);
    counting
        .runtime
        .block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let addr: SocketAddr = listener.local_addr()?;
            // A loopback connect completes in the kernel's backlog, before the accept.
            let peer = std::net::TcpStream::connect(addr)?;
            let (mut stream, _) = listener.accept().await?;
            match condition {
                Peer::HalfClosed => {
                    peer.shutdown(Shutdown::Write)?;
                    // The peer's FIN has arrived once the stream reads the end of stream.
                    let mut byte = [0; 1];
                    let read = timeout(Duration::from_secs(10), stream.read(&mut byte)).await??;
                    assert_eq!(read, 0);
                }
                Peer::SentUrgentData => drop(SockRef::from(&peer).send_out_of_band(b"!")?),
            }

            let written = Arc::new(AtomicU64::new(0));
            let writer = plexio::spawn({
                let written = written.clone();
                async move {
                    let chunk = vec![7u8; 64 << 10];
                    while written.load(Ordering::SeqCst) < TOTAL {
                        stream.write_all(&chunk).await?;
                        written.fetch_add(chunk.len() as u64, Ordering::SeqCst);
                    }
                    stream.close().await?;
                    Ok::<_, io::Error>(stream)
                }
            });
            // Blocked once the count has not moved for 200 ms (bounded: 10 s); the
            // fault-injecting backend may hold an event back for a wait or two.
            let (mut last, mut still) = (u64::MAX, 0);
            for _ in 0..200 {
                sleep(Duration::from_millis(50)).await;
                let now = written.load(Ordering::SeqCst);
                still = if now == last { still + 1 } else { 0 };
                last = now;
                if still == 4 {
                    break;
                }
            }
            assert!(last < TOTAL, "the writer never blocked: the peer's buffers took everything");

            let before = polls.load(Ordering::SeqCst);
            sleep(WINDOW).await;
            let during = polls.load(Ordering::SeqCst) - before;
            eprintln!(
                "{backend}: {during} polls in {WINDOW:?} while a writer waits, peer {condition:?} \
                 ({} per second)",
                during as u128 * 1000 / WINDOW.as_millis()
            );
            // An idle runtime polls for its timer and little else; the fault-injecting backend
            // ends some waits early on purpose. A spin is thousands.
            let limit = if backend.ends_with(util::CHAOS) { 40 } else { 10 };
            assert!(during <= limit, "{during} polls in {WINDOW:?}: the blocked writer spins");

            // The peer reads everything: the writer must wake and finish.
            let reader = std::thread::spawn(move || {
                let mut peer = peer;
                let mut buffer = vec![0; 256 << 10];
                let mut received = 0u64;
                loop {
                    match peer.read(&mut buffer)? {
                        0 => return Ok::<_, io::Error>(received),
                        n => received += n as u64,
                    }
                }
            });
            let stream = timeout(Duration::from_secs(60), writer).await???;
            let received = reader.join().expect("the peer's reader panicked")?;
            assert_eq!(received, TOTAL);
            drop(stream);
            Ok::<_, io::Error>(())
        })
        .unwrap_or_else(|error| panic!("{backend}: {error} ({error:?})"));
}

/// A writer blocked on a half-closed peer (which `poll` on Windows waits for with `select`)
/// learns of a reset: its write fails, it does not wait for ever.
fn writer_blocked_on_a_half_closed_peer_fails_when_the_peer_resets(backend: &str) {
    util::run(backend, || async {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let peer = std::net::TcpStream::connect(listener.local_addr()?)?;
        let (mut stream, _) = listener.accept().await?;
        peer.shutdown(Shutdown::Write)?;
        let mut byte = [0; 1];
        assert_eq!(timeout(Duration::from_secs(10), stream.read(&mut byte)).await??, 0);
        let writer = plexio::spawn(async move {
            let chunk = vec![7u8; 64 << 10];
            for _ in 0..TOTAL / chunk.len() as u64 {
                stream.write_all(&chunk).await?;
            }
            Ok::<_, io::Error>(())
        });
        sleep(Duration::from_millis(200)).await;
        SockRef::from(&peer).set_linger(Some(Duration::ZERO))?;
        drop(peer);
        let written = timeout(Duration::from_secs(10), writer).await??;
        written.expect_err("a write to a reset connection must fail");
        Ok(())
    });
}
