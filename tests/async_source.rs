//! `plexio::io::Async` on every backend: a socket plexio does not wrap, made with socket2,
//! driven through `read_with`/`write_with` and through the readiness guard; on Linux, a
//! `SOCK_SEQPACKET` pair, a socket type plexio has no wrapper for.

mod util;

use std::io::{self, Read};
use std::net::SocketAddr;
use std::time::Duration;

use plexio::io::Async;
use plexio::time::{sleep, timeout};
use socket2::{Domain, Socket, Type};
use util::run;

per_backend!(
    read_with_waits_for_a_datagram_on_a_socket_of_our_own,
    a_readiness_found_false_is_forgotten_until_the_next_event,
    into_inner_hands_the_socket_back_open,
    seqpacket_messages_keep_their_boundaries,
);

/// How long any single wait may take before the scenario calls it a hang.
const HANG: Duration = Duration::from_secs(10);

/// A non-blocking UDP socket on 127.0.0.1, made with socket2 as a user would to set options
/// plexio does not offer.
fn udp_socket() -> io::Result<Socket> {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, None)?;
    socket.set_nonblocking(true)?;
    socket.set_recv_buffer_size(1 << 16)?;
    socket.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())?;
    Ok(socket)
}

fn local(socket: &Async<Socket>) -> io::Result<SocketAddr> {
    socket.get_ref().local_addr()?.as_socket().ok_or_else(|| io::Error::other("not IP"))
}

/// A reader waiting in `read_with` on an empty socket gets the datagram sent later; its
/// operation ran again only after the reactor saw it readable.
fn read_with_waits_for_a_datagram_on_a_socket_of_our_own(backend: &str) {
    run(backend, || async {
        let (a, b) = (Async::new(udp_socket()?)?, Async::new(udp_socket()?)?);
        let to = local(&b)?.into();
        let sender = async {
            sleep(Duration::from_millis(20)).await;
            a.write_with(|socket| socket.send_to(b"late datagram", &to)).await
        };
        let mut attempts = 0;
        let mut buffer = [0; 32];
        let receiver = timeout(
            HANG,
            b.read_with(|socket| {
                attempts += 1;
                (&mut &*socket).read(&mut buffer)
            }),
        );
        let (sent, received) = futures::join!(sender, receiver);
        assert_eq!(sent?, 13);
        let n = received.expect("read_with hangs")?;
        assert_eq!(&buffer[..n], b"late datagram");
        // One try before the datagram came, one after it (spurious events may add a few).
        assert!(attempts <= 5, "{attempts} attempts for one datagram: a busy loop");
        Ok(())
    });
}

/// Readiness persists past a successful operation; once `try_io` finds the socket empty,
/// `readable` waits for a new event instead of resolving at once again, and resolves when
/// a datagram arrives.
fn a_readiness_found_false_is_forgotten_until_the_next_event(backend: &str) {
    run(backend, || async {
        let (a, b) = (Async::new(udp_socket()?)?, Async::new(udp_socket()?)?);
        let to = local(&b)?.into();
        let mut buffer = [0; 8];
        a.write_with(|socket| socket.send_to(b"first", &to)).await?;
        let guard = timeout(HANG, b.readable()).await.expect("readable hangs")?;
        let n = guard.try_io(|socket| (&mut &*socket).read(&mut buffer)).expect("data")?;
        assert_eq!(&buffer[..n], b"first");
        // Still believed readable; the next operation finds out it is not.
        let mut found_false = false;
        for _ in 0..10 {
            let guard = timeout(HANG, b.readable()).await.expect("readable hangs")?;
            if guard.try_io(|socket| (&mut &*socket).read(&mut buffer)).is_err() {
                found_false = true;
                break;
            }
        }
        assert!(found_false, "an empty socket never said WouldBlock");
        // For 100 ms nothing arrives: `readable` may resolve for a spurious event (the
        // contract allows them, the chaos backend makes them), never again and again.
        let quiet_until = std::time::Instant::now() + Duration::from_millis(100);
        let mut resolved = 0;
        loop {
            let left = quiet_until.saturating_duration_since(std::time::Instant::now());
            let Ok(guard) = timeout(left, b.readable()).await else { break };
            assert!(guard?.try_io(|socket| (&mut &*socket).read(&mut buffer)).is_err());
            resolved += 1;
            assert!(resolved <= 10, "readable resolves again and again for a false readiness");
        }
        a.write_with(|socket| socket.send_to(b"now", &to)).await?;
        let guard = timeout(HANG, b.readable()).await.expect("readable hangs")?;
        let n = guard.try_io(|socket| (&mut &*socket).read(&mut buffer)).expect("data")?;
        assert_eq!(&buffer[..n], b"now");
        Ok(())
    });
}

/// `into_inner` deregisters the socket and gives it back open, still usable.
fn into_inner_hands_the_socket_back_open(backend: &str) {
    run(backend, || async {
        let (a, b) = (Async::new(udp_socket()?)?, Async::new(udp_socket()?)?);
        let b = b.into_inner()?;
        a.write_with(|socket| socket.send_to(b"after", &b.local_addr()?)).await?;
        b.set_nonblocking(false)?;
        b.set_read_timeout(Some(HANG))?;
        let mut buffer = [0; 8];
        let n = (&mut &b).read(&mut buffer)?;
        assert_eq!(&buffer[..n], b"after");
        Ok(())
    });
}

/// A `SOCK_SEQPACKET` pair (Linux): plexio has no type for it, `Async` drives it, and each
/// message arrives whole and alone.
fn seqpacket_messages_keep_their_boundaries(backend: &str) {
    #[cfg(target_os = "linux")]
    run(backend, || async {
        let (a, b) = Socket::pair(Domain::UNIX, Type::SEQPACKET, None)?;
        a.set_nonblocking(true)?;
        b.set_nonblocking(true)?;
        let (a, b) = (Async::new(a)?, Async::new(b)?);
        for length in [1usize, 10, 1000] {
            let message = vec![length as u8; length];
            a.write_with(|socket| socket.send(&message)).await?;
        }
        for length in [1usize, 10, 1000] {
            let mut buffer = [0; 2000];
            let n = timeout(HANG, b.read_with(|socket| (&mut &*socket).read(&mut buffer)))
                .await
                .expect("read_with hangs")?;
            assert_eq!(&buffer[..n], &vec![length as u8; length][..]);
        }
        Ok(())
    });
    #[cfg(not(target_os = "linux"))]
    let _ = backend;
}
