//! Coming from tokio or smol: what you reach for there, and plexio's answer.
//!
//! plexio's runtime is tokio's current-thread runtime by default (one thread, tasks that need
//! not be `Send` with [`spawn_local`](crate::task::spawn_local)), and a multi-worker runtime
//! on request ([`Builder::worker_threads`](crate::Builder::worker_threads)), where
//! [`spawn`](crate::spawn) takes `Send` futures as tokio's does. Its I/O traits
//! are the `futures` crate's (`futures::io::{AsyncRead, AsyncWrite}`, with `AsyncReadExt`,
//! `AsyncWriteExt`, `AsyncBufReadExt` for the helpers), as with smol, not tokio's. This
//! page has no items; every example on it runs as a doc test.
//!
//! | you reach for (tokio) | in plexio | see |
//! |---|---|---|
//! | `#[tokio::main]`, `Runtime::block_on` | [`block_on`](crate::block_on), or [`Runtime::builder`](crate::Runtime::builder) to choose the backend | the crate page |
//! | `tokio::spawn` | [`spawn`](crate::spawn): `Send` futures, on any worker of a multi-worker runtime | [several threads](#several-threads) |
//! | `tokio::task::spawn_local`, `LocalSet` | [`spawn_local`](crate::task::spawn_local): a `!Send` future, kept on the calling thread | |
//! | `spawn_blocking` | [`task::spawn_blocking`](crate::task::spawn_blocking): a pool shared by the process's runtimes | [blocking work](#blocking-work) |
//! | `JoinSet` | `futures::stream::FuturesUnordered` of [`JoinHandle`](crate::JoinHandle)s | [many tasks](#many-tasks-select-and-join) |
//! | `select!`, `join!` | `futures::select!` (on `.fuse()`d futures), `futures::join!` | [many tasks](#many-tasks-select-and-join) |
//! | cancel safety | plexio's own operations are cancel-safe; `futures`' helpers are not | [cancel safety](#cancel-safety) |
//! | graceful shutdown, `tokio::signal::ctrl_c` | [`signal::ctrl_c`](crate::signal::ctrl_c) (feature `signal`, Unix), then stop accepting and drain | [graceful shutdown](#graceful-shutdown) |
//! | `TcpListenerStream` | [`TcpListener::incoming`](crate::net::TcpListener::incoming) | [lines](#incoming-bufreader-and-lines) |
//! | `BufReader`, `AsyncBufReadExt::lines` | `futures::io::BufReader`, `futures::io::AsyncBufReadExt` | [lines](#incoming-bufreader-and-lines) |
//! | `timeout(d, TcpStream::connect(a))` | the same, with [`time::timeout`](crate::time::timeout) | [connecting](#connecting-timeouts-and-host-names) |
//! | `lookup_host`, host names | [`net::lookup_host`](crate::net::lookup_host); `connect("host:port")` resolves on the blocking pool too | [connecting](#connecting-timeouts-and-host-names) |
//! | `UnixStream`, `UnixListener`, `UnixDatagram` | [`net::UnixStream`](crate::net::UnixStream), [`net::UnixListener`](crate::net::UnixListener), [`net::UnixDatagram`](crate::net::UnixDatagram) (Unix), with peer credentials and abstract names | [`net::unix`](crate::net::unix) |
//! | `AsyncFd`, smol's `Async` | [`io::Async`](crate::io::Async): any socket or descriptor of your own, on any backend | `examples/own_socket.rs` |
//! | `TcpSocket` | [`net::TcpSocket`](crate::net::TcpSocket): address and port reuse, buffer sizes, keepalive, linger, no-delay, bind before connect, the listen backlog | |
//! | `UdpSocket::join_multicast_v4` and other options | the same methods on [`UdpSocket`](crate::net::UdpSocket) (multicast for IPv4 and IPv6, loop, TTL, broadcast); socket2's `SockRef` for the rest | [socket options](#udp-multicast-and-other-socket-options) |
//! | `tracing` events from the runtime | feature `tracing` (target `plexio`): the backend chosen (`info`), I/O errors (`debug`), registrations and turns (`trace`); counts from [`Runtime::stats`](crate::Runtime::stats) | [logging](#logging) |
//! | the multi-thread runtime | [`Builder::worker_threads`](crate::Builder::worker_threads): workers with a driver each, tasks placed on the least busy one, and stolen by a worker out of work; [`Spawner`](crate::Spawner) reaches them | [several threads](#several-threads) |
//! | tokio's IOCP-backed I/O on Windows | `mio` (readiness through AFD polls, the default) or `iocp` (overlapped I/O on a completion port) | [the Windows models](super::io_models#the-windows-models) |
//!
//! # Cancel safety
//!
//! Dropping a future cancels it (`timeout`, `select!` and a dropped task all do). plexio's
//! own operations are cancel-safe: a dropped [`TcpStream`](crate::net::TcpStream) `read`
//! loses no byte (it stays in the socket), a dropped `write` wrote nothing or what it would
//! have reported, a dropped [`accept`](crate::net::TcpListener::accept) leaves the
//! connection queued, and a dropped [`UdpSocket`](crate::net::UdpSocket) `recv`,
//! `recv_from` or `send` received or sent nothing.
//!
//! The helpers of `futures`' extension traits that loop over several reads or writes are
//! *not*: `read_exact`, `read_to_end`, `read_to_string`, `read_line` and `write_all` hold
//! what they have done so far in their own future, and a dropped one loses it (or, for
//! `write_all`, leaves the peer with part of the buffer and no way to know how much).
//! `timeout(d, reader.read_line(&mut line))` that expires after "hel" has arrived loses
//! "hel": `read_line` had taken it out of the `BufReader` and of `line` (see
//! `tests/cancel_safety.rs`).
//!
//! Two patterns are safe:
//!
//! - Keep the partial state outside the future that may be dropped: one `BufReader` kept
//!   across timeouts, read with `read_until` into a `Vec` that is also kept (it appends as it
//!   goes), or with the `lines()` stream, which holds its partial line itself.
//! - Put the timeout around the whole exchange (or the whole connection), so that what a
//!   dropped helper lost belongs to a connection you are closing anyway.
//!
//! ```
//! use std::time::Duration;
//!
//! use futures::channel::oneshot;
//! use futures::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
//! use plexio::net::{TcpListener, TcpStream};
//! use plexio::time::timeout;
//!
//! plexio::block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let mut peer = TcpStream::connect(listener.local_addr()?).await?;
//!     let (stream, _) = listener.accept().await?;
//!     let (resume, resumed) = oneshot::channel::<()>();
//!     let writer = plexio::spawn(async move {
//!         peer.write_all(b"hel").await?;
//!         // The rest of the line only once the reader has timed out at least once.
//!         let _ = resumed.await;
//!         peer.write_all(b"lo\n").await
//!     });
//!
//!     // Both survive every timeout: the bytes the BufReader holds, and the line so far.
//!     let mut reader = BufReader::new(&stream);
//!     let mut line = Vec::new();
//!     let mut resume = Some(resume);
//!     let mut timeouts = 0;
//!     loop {
//!         match timeout(Duration::from_millis(20), reader.read_until(b'\n', &mut line)).await {
//!             Ok(read) => break read.map(drop)?,
//!             // Idle for a while: do something else, then go on reading the same line.
//!             Err(_elapsed) => {
//!                 timeouts += 1;
//!                 resume.take().map(|resume| resume.send(()));
//!             }
//!         }
//!     }
//!     assert!(timeouts >= 1);
//!     assert_eq!(line, b"hello\n");
//!     writer.await??;
//!     Ok::<(), std::io::Error>(())
//! })
//! .unwrap();
//! ```
//!
//! # Blocking work
//!
//! A blocking call inside a task blocks the runtime's one thread. Hand it to
//! [`spawn_blocking`](crate::task::spawn_blocking), which runs it on the blocking pool and
//! gives a [`JoinHandle`](crate::JoinHandle) for its result; the runtime runs its other
//! tasks meanwhile:
//!
//! ```
//! plexio::block_on(async {
//!     // Blocking file I/O, a compression, a long computation...
//!     let sum = plexio::task::spawn_blocking(|| (1..=1_000u64).sum::<u64>());
//!     assert_eq!(sum.await.unwrap(), 500_500);
//! });
//! ```
//!
//! # Many tasks, select and join
//!
//! A `FuturesUnordered` of [`JoinHandle`](crate::JoinHandle)s is a `JoinSet`: it yields
//! each task's result as it finishes. `futures::select!` takes fused futures (`.fuse()`) and
//! picks the first ready; `futures::join!` waits for all. Both come from the `futures` crate
//! (with its default `async-await` feature).
//!
//! ```
//! use std::time::Duration;
//!
//! use futures::stream::{FuturesUnordered, StreamExt};
//! use futures::{FutureExt, join, select};
//! use plexio::time::sleep;
//!
//! plexio::block_on(async {
//!     // JoinSet: results in the order the tasks finish.
//!     let mut set: FuturesUnordered<_> = (1..=3u64)
//!         .map(|n| plexio::spawn(async move {
//!             sleep(Duration::from_millis(10 * (4 - n))).await;
//!             n
//!         }))
//!         .collect();
//!     let mut finished = Vec::new();
//!     while let Some(result) = set.next().await {
//!         finished.push(result.unwrap());
//!     }
//!     assert_eq!(finished, [3, 2, 1]);
//!
//!     // join!: both, concurrently.
//!     let (a, b) = join!(async { 1 }, async { 2 });
//!     assert_eq!(a + b, 3);
//!
//!     // select!: the first to finish; the other is dropped (cancelled).
//!     let winner = select! {
//!         () = sleep(Duration::from_secs(60)).fuse() => "timer",
//!         n = plexio::spawn(async { 7 }).fuse() => if n.unwrap() == 7 { "task" } else { "?" },
//!     };
//!     assert_eq!(winner, "task");
//! });
//! ```
//!
//! # Incoming, BufReader and lines
//!
//! [`TcpListener::incoming`](crate::net::TcpListener::incoming) is a `Stream` of accepted
//! connections; `futures::io::BufReader` with `AsyncBufReadExt` reads lines. A
//! `lines()` stream kept for the whole connection is cancel-safe (see above), so an idle
//! timeout may wrap each `next()`: `examples/line_server.rs` is a whole server built so.
//!
//! ```
//! use futures::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
//! use futures::stream::StreamExt;
//! use plexio::net::{TcpListener, TcpStream};
//!
//! plexio::block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let addr = listener.local_addr()?;
//!     let server = plexio::spawn(async move {
//!         let mut incoming = listener.incoming();
//!         let stream = incoming.next().await.unwrap()?;
//!         let mut lines = BufReader::new(&stream).lines();
//!         let mut shouted = Vec::new();
//!         while let Some(line) = lines.next().await {
//!             shouted.push(line?.to_uppercase());
//!         }
//!         Ok::<_, std::io::Error>(shouted)
//!     });
//!     let mut client = TcpStream::connect(addr).await?;
//!     client.write_all(b"one\ntwo\r\nthree").await?;
//!     client.close().await?;
//!     assert_eq!(server.await.unwrap()?, ["ONE", "TWO", "THREE"]);
//!     Ok::<(), std::io::Error>(())
//! })
//! .unwrap();
//! ```
//!
//! # Connecting: timeouts and host names
//!
//! Any future takes a [`timeout`](crate::time::timeout); a connect too. Addresses are
//! plexio's [`ToSocketAddrs`](crate::net::ToSocketAddrs), which takes what std's does
//! (`"host:port"`, `("host", port)`, `SocketAddr`s...). A host name is looked up on the
//! blocking pool, never on the runtime's thread, and a connect to several addresses races
//! them as Happy Eyeballs (RFC 8305) says: IPv6 first, the next attempt 250 ms later or as
//! soon as the one before fails, the first connection wins;
//! [`lookup_host`](crate::net::lookup_host) gives the addresses.
//!
//! ```
//! use std::time::Duration;
//!
//! use plexio::net::{TcpListener, TcpStream};
//! use plexio::time::timeout;
//!
//! plexio::block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let port = listener.local_addr()?.port();
//!     // "localhost" may stand for ::1 first, where nothing listens: the next is tried.
//!     let stream = timeout(Duration::from_secs(5), TcpStream::connect(("localhost", port))).await??;
//!     assert_eq!(stream.peer_addr()?.port(), port);
//!     Ok::<(), std::io::Error>(())
//! })
//! .unwrap();
//! ```
//!
//! # UDP multicast and other socket options
//!
//! [`UdpSocket`](crate::net::UdpSocket) has the multicast and broadcast options, and
//! [`TcpSocket`](crate::net::TcpSocket) those that must come before `connect` or `listen`.
//! plexio's socket types also implement `AsFd` (Unix) and `AsSocket` (Windows), so socket2's
//! `SockRef` reaches every option plexio does not wrap.
//!
//! ```
//! use std::net::Ipv4Addr;
//!
//! use socket2::SockRef;
//!
//! plexio::block_on(async {
//!     let socket = plexio::net::UdpSocket::bind("127.0.0.1:0").await?;
//!     socket.set_multicast_ttl_v4(1)?;
//!     socket.set_multicast_loop_v4(true)?;
//!     assert_eq!(socket.multicast_ttl_v4()?, 1);
//!     // To receive a group's datagrams:
//!     // socket.join_multicast_v4(Ipv4Addr::new(239, 1, 2, 3), Ipv4Addr::LOCALHOST)?;
//!     // An option plexio does not wrap:
//!     SockRef::from(&socket).set_recv_buffer_size(1 << 20)?;
//!     let _ = Ipv4Addr::LOCALHOST;
//!     Ok::<(), std::io::Error>(())
//! })
//! .unwrap();
//! ```
//!
//! # Graceful shutdown
//!
//! Stop accepting, let the open connections finish within a deadline, then drop the
//! runtime, which cancels whatever is left. In a program the signal to stop is
//! [`signal::ctrl_c`](crate::signal::ctrl_c) (feature `signal`); here it is a channel, so
//! that the example can send it.
//!
//! ```
//! use std::future::Future;
//! use std::io;
//! use std::time::Duration;
//!
//! use futures::channel::oneshot;
//! use futures::io::{AsyncReadExt, AsyncWriteExt};
//! use futures::stream::{FuturesUnordered, StreamExt};
//! use futures::{FutureExt, select};
//! use plexio::net::{TcpListener, TcpStream};
//!
//! /// Serves until `stop`; then says whether every connection finished within the deadline.
//! async fn serve(listener: TcpListener, stop: impl Future<Output = ()>) -> io::Result<bool> {
//!     let mut connections = FuturesUnordered::new();
//!     let mut stop = std::pin::pin!(stop.fuse());
//!     loop {
//!         select! {
//!             accepted = listener.accept().fuse() => {
//!                 let (mut stream, _) = accepted?;
//!                 connections.push(plexio::spawn(async move {
//!                     let mut request = Vec::new();
//!                     stream.read_to_end(&mut request).await?;
//!                     stream.write_all(&request).await
//!                 }));
//!             }
//!             // Reap finished connections (skipped while there are none).
//!             _ = connections.select_next_some() => {}
//!             () = stop => break,
//!         }
//!     }
//!     drop(listener); // Stop accepting: new connections are refused from here on.
//!     let drained = connections.for_each(|_| async {});
//!     Ok(plexio::time::timeout(Duration::from_secs(10), drained).await.is_ok())
//! }
//!
//! let runtime = plexio::Runtime::new().unwrap();
//! runtime.block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let addr = listener.local_addr()?;
//!     let (stop, stopped) = oneshot::channel::<()>();
//!     let server = plexio::spawn(serve(listener, stopped.map(drop)));
//!
//!     let mut client = TcpStream::connect(addr).await?;
//!     client.write_all(b"in flight").await?;
//!     stop.send(()).unwrap();
//!     // The connection that was open goes on being served.
//!     client.close().await?;
//!     let mut answer = Vec::new();
//!     client.read_to_end(&mut answer).await?;
//!     assert_eq!(answer, b"in flight");
//!     assert!(server.await.unwrap()?, "every connection finished in time");
//!     // The listener is gone.
//!     assert!(TcpStream::connect(addr).await.is_err());
//!     Ok::<(), io::Error>(())
//! })
//! .unwrap();
//! drop(runtime); // Cancels any task still running, closes their sockets.
//! ```
//!
//! # Logging
//!
//! Every failure comes back to the caller as an `io::Error` (plexio's own as its source, see
//! [`Error`](crate::Error)), to log with whatever the program uses. With the `tracing`
//! feature (off by default; off, it compiles to nothing) the runtime also emits events of the
//! `tracing` crate, target `plexio`: the backend chosen and why, and backends passed over
//! (`info`, `debug`), errors on I/O paths (`debug`), registrations and each runtime turn
//! (`trace`). What the runtime holds is counted by
//! [`Runtime::stats`](crate::Runtime::stats), readable from any thread with
//! [`Runtime::stats_handle`](crate::Runtime::stats_handle).
//!
//! ```
//! let runtime = plexio::Runtime::new().unwrap();
//! let stats = runtime.stats_handle();
//! runtime.block_on(async {
//!     let _socket = plexio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
//!     assert_eq!(stats.get().sockets, 1);
//! });
//! ```
//!
//! # Several threads
//!
//! [`Runtime::builder().worker_threads(n)`](crate::Builder::worker_threads) gives a runtime
//! of `n` worker threads, each with a driver of its own: [`spawn`](crate::spawn) places a
//! `Send` task on the least busy worker (a worker out of work steals from a busy one, as
//! tokio's workers do, and the task then stays with it), a socket works on any worker of its runtime (a
//! stream a task owns and keeps using on another worker moves its registration to that
//! worker's driver once idle), and a listener spreads accepted connections over the
//! workers' drivers: on Linux and FreeBSD (and Android, DragonFly) as one `SO_REUSEPORT`
//! socket per worker, which tokio does not do, elsewhere by live load (see
//! [`AcceptSpread`](crate::AcceptSpread)). The other way, the one
//! below, is one single-thread runtime per thread: work reaches another runtime through its
//! [`Spawner`](crate::Spawner) (for `Send` futures), and a socket is handed over as a std
//! socket (`into_std`, then `from_std` on the thread that will use it), since it belongs to
//! the runtime that registered it.
//!
//! ```
//! use std::sync::mpsc;
//!
//! use futures::io::{AsyncReadExt, AsyncWriteExt};
//! use plexio::net::{TcpListener, TcpStream};
//!
//! // A worker thread with its own runtime, and a spawner for it.
//! let (spawner_sender, spawner) = mpsc::channel();
//! let (stop, stopped) = futures::channel::oneshot::channel::<()>();
//! let worker = std::thread::spawn(move || {
//!     let runtime = plexio::Runtime::new().unwrap();
//!     spawner_sender.send(runtime.spawner()).unwrap();
//!     runtime.block_on(stopped).ok();
//! });
//! let worker_spawner: plexio::Spawner = spawner.recv().unwrap();
//!
//! plexio::block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let mut client = TcpStream::connect(listener.local_addr()?).await?;
//!     let (accepted, _) = listener.accept().await?;
//!     // Hand the connection to the worker: out of this runtime, into that one.
//!     let std_stream = accepted.into_std()?;
//!     let served = worker_spawner.spawn(async move {
//!         let mut stream = TcpStream::from_std(std_stream)?;
//!         stream.write_all(b"served by the worker").await
//!     });
//!     served.await.unwrap()?;
//!     let mut answer = [0; 20];
//!     client.read_exact(&mut answer).await?;
//!     assert_eq!(&answer, b"served by the worker");
//!     Ok::<(), std::io::Error>(())
//! })
//! .unwrap();
//! stop.send(()).unwrap();
//! worker.join().unwrap();
//! ```
