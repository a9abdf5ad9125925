//! How a multi-worker runtime spreads accepted connections (`AcceptSpread`), on every
//! backend: one `SO_REUSEPORT` socket per worker where the kernel balances them, each
//! connection registered with the driver of the worker whose socket took it; one socket
//! handing connections off by live load elsewhere, on request, and on a runtime of one
//! thread. No connection is lost either way.

mod util;

use std::collections::BTreeSet;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use plexio::net::TcpListener;
use plexio::time::timeout;
use plexio::{AcceptSpread, Runtime};

per_backend!(plain:
    connections_land_on_several_workers,
    live_load_spreads_connections_evenly,
    port_zero_binds_every_socket_of_the_group_to_one_port,
    a_fixed_port_is_shared_by_the_group_and_refused_to_others,
    no_connection_is_lost_among_many_concurrent_ones,
    dropping_the_listener_after_n_accepts_refuses_the_rest,
    one_socket_on_a_runtime_of_one_thread_or_by_live_load,
    into_std_hands_back_one_socket,
);

const WORKERS: usize = 4;

/// How many sockets a listener bound on a runtime of [`WORKERS`] workers has by default:
/// one per worker where the kernel balances `SO_REUSEPORT` sockets.
const GROUP: usize = if cfg!(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "dragonfly"
)) {
    WORKERS
} else {
    1
};

/// A runtime of [`WORKERS`] workers on `backend`, spreading accepted connections by
/// `spread` (the default if `None`).
fn workers(backend: &str, spread: Option<AcceptSpread>) -> Runtime {
    let builder = util::builder(&format!("{backend}{}", util::WORKERS4));
    let builder = match spread {
        Some(spread) => builder.accept_spread(spread),
        None => builder,
    };
    let runtime = builder.build().unwrap();
    assert_eq!(runtime.worker_threads(), WORKERS);
    runtime
}

/// How many sockets listen on `port` of 127.0.0.1, as the kernel lists them (Linux only;
/// `None` elsewhere).
fn listening_sockets(port: u16) -> Option<usize> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let wanted = format!("0100007F:{port:04X}");
    // Fields: slot, local address, remote address, state (0A: listening), ...
    let count = table
        .lines()
        .skip(1)
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            fields.get(1) == Some(&wanted.as_str()) && fields.get(3) == Some(&"0A")
        })
        .count();
    Some(count)
}

/// Connects `count` clients of the standard library (which register nowhere) from a
/// thread, while `accept` accepts as many on the runtime; returns the accepted streams
/// and the clients.
fn connect_and_accept(
    runtime: &Runtime,
    listener: &TcpListener,
    count: usize,
) -> (Vec<plexio::net::TcpStream>, Vec<std::net::TcpStream>) {
    let addr = listener.local_addr().unwrap();
    let clients = std::thread::spawn(move || {
        (0..count).map(|_| std::net::TcpStream::connect(addr).unwrap()).collect::<Vec<_>>()
    });
    let accepted = runtime.block_on(async {
        let mut accepted = Vec::new();
        while accepted.len() < count {
            match timeout(Duration::from_secs(20), listener.accept()).await {
                Ok(stream) => accepted.push(stream?.0),
                Err(_) => panic!("accepted {} of {count} connections", accepted.len()),
            }
        }
        Ok::<_, io::Error>(accepted)
    });
    (accepted.unwrap(), clients.join().unwrap())
}

/// 64 connections to one listener of a four-worker runtime land on several workers: the
/// kernel spreads them over the group's sockets, and each is registered with the driver of
/// its socket's worker, beside that socket.
fn connections_land_on_several_workers(backend: &str) {
    const CONNECTIONS: usize = 64;
    let _low_descriptors = util::low_descriptors(backend);
    let runtime = workers(backend, None);
    let _watchdog = util::Watchdog::start(util::TEST_LIMIT);
    let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let (accepted, clients) = connect_and_accept(&runtime, &listener, CONNECTIONS);
    let each = runtime.worker_stats();
    let counts: Vec<usize> = each.iter().map(|one| one.accepted).collect();
    assert_eq!(counts.iter().sum::<usize>(), CONNECTIONS, "{counts:?}");
    assert!(counts.iter().filter(|&&count| count > 0).count() >= 2, "all on one: {counts:?}");
    if GROUP == WORKERS {
        // Each worker's driver holds its listening socket and the connections it took.
        for one in &each {
            assert_eq!(one.registrations, 1 + one.accepted, "{each:?}");
        }
    }
    println!("{backend}: accepted per worker by SO_REUSEPORT: {counts:?}");
    drop((accepted, clients, listener));
}

/// With `LiveLoad` one socket takes every connection, and each goes to the worker with the
/// fewest sockets: as even as can be.
fn live_load_spreads_connections_evenly(backend: &str) {
    const CONNECTIONS: usize = 64;
    let _low_descriptors = util::low_descriptors(backend);
    let runtime = workers(backend, Some(AcceptSpread::LiveLoad));
    let _watchdog = util::Watchdog::start(util::TEST_LIMIT);
    let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    assert_eq!(runtime.stats().registrations, 1);
    let (accepted, clients) = connect_and_accept(&runtime, &listener, CONNECTIONS);
    let counts: Vec<usize> = runtime.worker_stats().iter().map(|one| one.accepted).collect();
    assert_eq!(counts.iter().sum::<usize>(), CONNECTIONS, "{counts:?}");
    assert!(counts.iter().all(|&count| count >= CONNECTIONS / WORKERS - 1), "{counts:?}");
    drop((accepted, clients, listener));
}

/// Port 0: the group's first socket gets a port from the system, and every other one binds
/// that port; one socket per worker, each registered with its own worker's driver; dropping
/// the listener closes them all.
fn port_zero_binds_every_socket_of_the_group_to_one_port(backend: &str) {
    let runtime = workers(backend, None);
    let _watchdog = util::Watchdog::start(util::TEST_LIMIT);
    let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    assert_ne!(addr.port(), 0);
    let registrations: Vec<usize> =
        runtime.worker_stats().iter().map(|one| one.registrations).collect();
    assert_eq!(registrations.iter().sum::<usize>(), GROUP, "{registrations:?}");
    if GROUP == WORKERS {
        assert_eq!(registrations, vec![1; WORKERS]);
    }
    if let Some(count) = listening_sockets(addr.port()) {
        assert_eq!(count, GROUP, "sockets listening on {addr}");
    }
    // The options apply to the whole group, and read back.
    runtime.block_on(async { listener.set_ttl(77) }).unwrap();
    assert_eq!(listener.ttl().unwrap(), 77);
    drop(listener);
    assert_eq!(runtime.stats().registrations, 0);
    if let Some(count) = listening_sockets(addr.port()) {
        assert_eq!(count, 0, "a socket of the group outlived the listener");
    }
}

/// A port given: the group shares it, and anyone else is refused it, whether or not they
/// ask for `SO_REUSEPORT` through a second `TcpListener::bind`.
fn a_fixed_port_is_shared_by_the_group_and_refused_to_others(backend: &str) {
    let runtime = workers(backend, None);
    let _watchdog = util::Watchdog::start(util::TEST_LIMIT);
    // A port the system just handed out and took back; another test's socket may take it
    // in between, so a few are tried.
    let (free, listener) = (0..5)
        .find_map(|_| {
            let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
            Some((free, runtime.block_on(TcpListener::bind(free)).ok()?))
        })
        .expect("five free ports in a row were taken before they could be bound");
    assert_eq!(listener.local_addr().unwrap(), free);
    if let Some(count) = listening_sockets(free.port()) {
        assert_eq!(count, GROUP);
    }
    let refused = std::net::TcpListener::bind(free).unwrap_err();
    assert_eq!(refused.kind(), io::ErrorKind::AddrInUse, "{refused}");
    let again = runtime.block_on(TcpListener::bind(free)).unwrap_err();
    assert_eq!(again.kind(), io::ErrorKind::AddrInUse, "{again}");
    // Connections reach the group.
    let (accepted, clients) = connect_and_accept(&runtime, &listener, 8);
    drop((accepted, clients, listener));
}

/// Many connections at once, from several threads, each sending its number and reading it
/// back through its own task: every one is accepted and served, none twice.
fn no_connection_is_lost_among_many_concurrent_ones(backend: &str) {
    const THREADS: usize = 4;
    const EACH: usize = 32;
    let _low_descriptors = util::low_descriptors(backend);
    let runtime = workers(backend, None);
    let _watchdog = util::Watchdog::start(util::TEST_LIMIT);
    let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    let clients: Vec<_> = (0..THREADS)
        .map(|thread| {
            std::thread::spawn(move || {
                let streams: Vec<_> = (0..EACH)
                    .map(|n| {
                        let id = (thread * EACH + n) as u64;
                        let mut stream = std::net::TcpStream::connect(addr).unwrap();
                        stream.write_all(&id.to_le_bytes()).unwrap();
                        (id, stream)
                    })
                    .collect();
                for (id, mut stream) in streams {
                    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                    let mut answer = [0; 8];
                    stream.read_exact(&mut answer).unwrap();
                    assert_eq!(u64::from_le_bytes(answer), id);
                }
            })
        })
        .collect();
    let seen = runtime.block_on(async {
        let mut handlers = Vec::new();
        for _ in 0..THREADS * EACH {
            let (mut stream, _) = timeout(Duration::from_secs(20), listener.accept()).await??;
            handlers.push(plexio::spawn(async move {
                let mut id = [0; 8];
                stream.read_exact(&mut id).await?;
                stream.write_all(&id).await?;
                Ok::<_, io::Error>(u64::from_le_bytes(id))
            }));
        }
        let mut seen = BTreeSet::new();
        for handler in handlers {
            assert!(seen.insert(handler.await??), "a connection was served twice");
        }
        Ok::<_, io::Error>(seen)
    });
    let seen = seen.unwrap();
    assert_eq!(seen, (0..(THREADS * EACH) as u64).collect());
    for client in clients {
        client.join().unwrap();
    }
    let accepted: usize = runtime.worker_stats().iter().map(|one| one.accepted).sum();
    assert_eq!(accepted, THREADS * EACH);
}

/// Accepting exactly N of more connections, then dropping the listener: the N are served,
/// every other client is refused or reset (or sees the end of the stream), and none hangs.
fn dropping_the_listener_after_n_accepts_refuses_the_rest(backend: &str) {
    const CLIENTS: usize = 48;
    const ACCEPTED: usize = 12;
    let _low_descriptors = util::low_descriptors(backend);
    let runtime = workers(backend, None);
    let _watchdog = util::Watchdog::start(util::TEST_LIMIT);
    let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let (connected_sender, connected) = std::sync::mpsc::channel();
    let clients = std::thread::spawn(move || {
        let streams: Vec<_> = (0..CLIENTS).map(|_| std::net::TcpStream::connect(addr)).collect();
        connected_sender.send(()).unwrap();
        streams
            .into_iter()
            .map(|stream| {
                let mut stream = match stream {
                    Ok(stream) => stream,
                    Err(error) if error.kind() == io::ErrorKind::ConnectionRefused => {
                        return false;
                    }
                    Err(error) => panic!("connect: {error}"),
                };
                stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                let mut answer = Vec::new();
                match stream.read_to_end(&mut answer) {
                    Ok(_) => answer == b"x",
                    Err(error) if error.kind() == io::ErrorKind::ConnectionReset => {
                        assert!(answer.is_empty(), "reset after {answer:?}");
                        false
                    }
                    Err(error) => panic!("a client not accepted was left hanging: {error}"),
                }
            })
            .filter(|&served| served)
            .count()
    });
    // Every client has connected (the kernel completed the handshakes), so that all of them
    // are queued on the group's sockets when it closes.
    connected.recv().unwrap();
    runtime
        .block_on(async {
            let mut accepted = Vec::new();
            for _ in 0..ACCEPTED {
                accepted.push(timeout(Duration::from_secs(20), listener.accept()).await??.0);
            }
            drop(listener);
            for mut stream in accepted {
                stream.write_all(b"x").await?;
                stream.close().await?;
            }
            Ok::<_, io::Error>(())
        })
        .unwrap();
    assert_eq!(clients.join().unwrap(), ACCEPTED);
}

/// A runtime of one thread listens on one socket, as does a multi-worker runtime told to
/// spread by live load.
fn one_socket_on_a_runtime_of_one_thread_or_by_live_load(backend: &str) {
    let single = util::runtime(backend);
    let live_load = workers(backend, Some(AcceptSpread::LiveLoad));
    let _watchdog = util::Watchdog::start(util::TEST_LIMIT);
    for runtime in [&single, &live_load] {
        let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        assert_eq!(runtime.stats().registrations, 1);
        let port = listener.local_addr().unwrap().port();
        if let Some(count) = listening_sockets(port) {
            assert_eq!(count, 1);
        }
        let (accepted, clients) = connect_and_accept(runtime, &listener, 4);
        assert_eq!(runtime.stats().accepted, 4);
        drop((accepted, clients, listener));
    }
}

/// `into_std` of a group hands back one socket, on the group's address, and closes the rest.
fn into_std_hands_back_one_socket(backend: &str) {
    let runtime = workers(backend, None);
    let _watchdog = util::Watchdog::start(util::TEST_LIMIT);
    let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    let std_listener = listener.into_std().unwrap();
    assert_eq!(std_listener.local_addr().unwrap(), addr);
    assert_eq!(runtime.stats().registrations, 0);
    if let Some(count) = listening_sockets(addr.port()) {
        assert_eq!(count, 1);
    }
    std_listener.set_nonblocking(false).unwrap();
    let client = std::net::TcpStream::connect(addr).unwrap();
    let (server, _) = std_listener.accept().unwrap();
    drop((client, server));
}
