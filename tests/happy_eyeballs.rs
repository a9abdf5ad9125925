//! Happy Eyeballs (RFC 8305) in `TcpStream::connect` with several addresses: a refused
//! address passes to the next at once, a silent one after the attempt delay rather than the
//! system's connect timeout, IPv6 goes first, the losing attempts are released, and when
//! every address fails the error says why.

mod util;

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use plexio::net::{TcpListener, TcpSocket, TcpStream};
use plexio::time::{sleep, timeout};
use util::run;

per_backend!(
    a_refused_first_address_passes_to_the_second_at_once,
    a_silent_first_address_passes_to_the_second_long_before_the_system_timeout,
    ipv6_is_tried_first_whatever_the_order_given,
    every_address_refused_is_a_refusal,
    an_empty_address_list_is_invalid_input,
);

/// RFC 8305's connection attempt delay, as plexio uses it.
const ATTEMPT_DELAY: Duration = Duration::from_millis(250);

/// Far below any system's connect timeout (Linux gives up on a silent SYN after about
/// two minutes), far above the attempt delay: a connect past it waited for the system.
const WELL_BEFORE_THE_SYSTEM_TIMEOUT: Duration = Duration::from_secs(10);

/// A listener that never answers a new connection: its backlog is 0 and is filled by
/// connections it never accepts, so the system drops further connection requests without
/// a word, as a host behind a broken route would. The filling connections are returned:
/// they keep the backlog full while they live.
///
/// Windows answers a full backlog with a reset instead, which the refused-address test
/// covers; wine runs on Linux's sockets and drops, as here.
async fn silent_listener() -> io::Result<(TcpListener, SocketAddr, Vec<std::net::TcpStream>)> {
    let socket = TcpSocket::new_v4()?;
    socket.bind("127.0.0.1:0".parse().unwrap())?;
    let listener = socket.listen(0)?;
    let addr = listener.local_addr()?;
    let mut filling = Vec::new();
    // Linux queues backlog + 1 connections; a few more tries cover other systems' rounding.
    let mut silent = false;
    for _ in 0..16 {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(100)) {
            Ok(stream) => filling.push(stream),
            Err(error) if error.kind() == io::ErrorKind::TimedOut => {
                silent = true;
                break;
            }
            Err(error) if error.kind() == io::ErrorKind::ConnectionRefused => break,
            Err(error) => return Err(error),
        }
    }
    // Where the test matters most, make sure it tests what it says.
    if cfg!(target_os = "linux") || util::under_wine() {
        assert!(silent, "the listener still answers after {} connections", filling.len());
    }
    Ok((listener, addr, filling))
}

fn a_refused_first_address_passes_to_the_second_at_once(backend: &str) {
    let chaos = backend.ends_with(util::CHAOS);
    run(backend, || async move {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let good = listener.local_addr()?;
        let closed: Vec<_> = (0..4).map(|_| util::ClosedPort::new()).collect();
        let mut addrs: Vec<_> = closed.iter().map(util::ClosedPort::addr).collect();
        addrs.push(good);
        let start = Instant::now();
        let stream = timeout(WELL_BEFORE_THE_SYSTEM_TIMEOUT, TcpStream::connect(addrs)).await??;
        assert_eq!(stream.peer_addr()?, good);
        // A refusal starts the next attempt without waiting out the delay: four refusals
        // then a connection take a few milliseconds on loopback, where waiting out the
        // delays would take four of them. Two delays leave a loaded machine room without
        // letting that through. Chaos delays events on purpose, so the time is not asked
        // of it.
        if !chaos {
            let took = start.elapsed();
            assert!(took < 2 * ATTEMPT_DELAY, "took {took:?}");
        }
        Ok(())
    });
}

fn a_silent_first_address_passes_to_the_second_long_before_the_system_timeout(backend: &str) {
    let runtime = util::runtime(backend);
    let _watchdog = util::Watchdog::start(util::TEST_LIMIT);
    runtime
        .block_on(async {
            let (silent, silent_addr, _filling) = silent_listener().await?;
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let good = listener.local_addr()?;
            let before = runtime.stats();

            let start = Instant::now();
            let connect = TcpStream::connect(vec![silent_addr, good]);
            let stream = timeout(WELL_BEFORE_THE_SYSTEM_TIMEOUT, connect).await??;
            assert_eq!(stream.peer_addr()?, good);
            assert!(start.elapsed() < WELL_BEFORE_THE_SYSTEM_TIMEOUT);

            // The silent attempt lost: its socket and registration are released, and the
            // delay's timer with it; what is left is the new stream. On a completion
            // driver a cancelled connect lets its socket go when the cancellation
            // completes, so this waits for it, a bounded time.
            let expected = (before.registrations + 1, before.sockets + 1, before.timers);
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                let now = runtime.stats();
                let held = (now.registrations, now.sockets, now.timers);
                if held == expected {
                    break;
                }
                assert!(Instant::now() < deadline, "held {held:?}, expected {expected:?}");
                sleep(Duration::from_millis(10)).await;
            }
            drop((silent, listener, stream));
            Ok::<_, io::Error>(())
        })
        .unwrap();
}

fn ipv6_is_tried_first_whatever_the_order_given(backend: &str) {
    run(backend, || async {
        let Ok(v6) = TcpListener::bind("[::1]:0").await else {
            eprintln!("no ::1 on this host: the order of families not exercised");
            return Ok(());
        };
        let v4 = TcpListener::bind("127.0.0.1:0").await?;
        let given = vec![v4.local_addr()?, v6.local_addr()?];
        let stream = timeout(WELL_BEFORE_THE_SYSTEM_TIMEOUT, TcpStream::connect(given)).await??;
        assert_eq!(stream.peer_addr()?, v6.local_addr()?);
        Ok(())
    });
}

fn every_address_refused_is_a_refusal(backend: &str) {
    run(backend, || async {
        let closed: Vec<_> = (0..3).map(|_| util::ClosedPort::new()).collect();
        let addrs: Vec<_> = closed.iter().map(util::ClosedPort::addr).collect();
        let error =
            timeout(WELL_BEFORE_THE_SYSTEM_TIMEOUT, TcpStream::connect(addrs)).await?.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused, "{error}");
        Ok(())
    });
}

fn an_empty_address_list_is_invalid_input(backend: &str) {
    run(backend, || async {
        let error = TcpStream::connect(Vec::<SocketAddr>::new()).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput, "{error}");
        Ok(())
    });
}
