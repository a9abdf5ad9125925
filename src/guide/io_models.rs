//! The I/O models: from a blocking socket to io_uring, and which plexio backend shows each.
//!
//! A network server spends most of its time waiting: for a client to connect, for bytes to
//! arrive, for room in a send buffer. The I/O models differ in two answers. **Who waits**: a
//! thread per socket, blocked in the kernel, or one thread for many sockets, blocked in one
//! call that watches them all. **What the kernel says when the wait ends**: *ready* ("a
//! `recv` would not block now"; the program then makes the call, with its own buffer) or
//! *complete* ("the `recv` you handed me earlier is done: n bytes are in your buffer").
//! The first is the *reactor* model, the second the *proactor* model; plexio runs the same
//! program on either.
//!
//! | model | who waits | the kernel says | the buffer belongs to the kernel | cost of a wait | where it breaks | in plexio |
//! |---|---|---|---|---|---|---|
//! | [blocking, one at a time](#blocking-sockets-one-connection-at-a-time) | the one thread, in `read` | (returns the data) | during the call | none beyond the call | the second client waits for the first | `examples/echo_blocking.rs` |
//! | [a thread per connection](#a-thread-per-connection) | a thread per socket | (returns the data) | during the call | a context switch per wake-up | memory and scheduling per thread | `examples/echo_threads.rs` |
//! | [`select`](#select) | one thread, many sockets | ready | never | O(highest descriptor), sets rebuilt | `FD_SETSIZE` | backend `select` |
//! | [`poll`](#poll) | one thread | ready | never | O(n), array copied | O(n) at scale | backend `poll` |
//! | [epoll, kqueue, event ports](#epoll-and-kqueue) | one thread | ready | never | O(ready) | edge triggering and lost wakeups | backends `mio`, `polling` |
//! | [`WSAEventSelect`](#wsaeventselect-readiness-as-event-objects) | one thread per 64 sockets | ready | never | O(n) of 64 | 64 handles per wait | (not implemented: see its section) |
//! | [overlapped I/O](#overlapped-io-with-events-and-with-completion-routines) | the issuing thread | complete | until completion | one event or APC per operation | 64 events per wait; completion routines run on the issuing thread only | (not implemented) |
//! | [IOCP](#io-completion-ports) | any thread serving the port | complete | until the completion packet | O(completed) | cancellation and buffer lifetime | the `iocp` completion driver; IOCP as readiness (AFD polls) in `mio`, `polling` |
//! | [io_uring](#io_uring) | one thread per ring | complete (or ready, through a poll operation) | until the completion entry | one `io_uring_enter` per loop turn | cancellation and buffer lifetime; refused by policy | backend `uring` |
//!
//! The sections below go through them in that order, then compare
//! [reactor and proactor](#reactor-and-proactor), [async/await and
//! threads](#coroutines-asyncawait-and-threads) (with Python's asyncio), and end with
//! [the measured figures](#measured-the-classic-servers-beside-the-multiplexers). Every
//! Rust example here runs as a doc test.
//!
//! # Blocking sockets, one connection at a time
//!
//! A socket is blocking unless told otherwise: `accept` sleeps in the kernel until a
//! connection is queued, `read` until at least one byte (or end of stream) arrives, `write`
//! until everything was copied into the socket's send buffer. The kernel does all the
//! waiting, and the program is the shortest it can be:
//!
//! ```
//! use std::io::{Read, Write};
//! use std::net::{TcpListener, TcpStream};
//!
//! let listener = TcpListener::bind("127.0.0.1:0")?;
//! let addr = listener.local_addr()?;
//! let server = std::thread::spawn(move || -> std::io::Result<()> {
//!     // One client only, so that the example ends; `examples/echo_blocking.rs` loops.
//!     let (mut stream, _) = listener.accept()?; // sleeps until a client connects
//!     let mut buffer = [0; 1024];
//!     loop {
//!         let n = stream.read(&mut buffer)?; // sleeps until bytes arrive
//!         if n == 0 {
//!             return Ok(()); // end of stream: the client closed its side
//!         }
//!         stream.write_all(&buffer[..n])?; // sleeps while the send buffer is full
//!     }
//! });
//! let mut client = TcpStream::connect(addr)?;
//! client.write_all(b"ping")?;
//! let mut echo = [0; 4];
//! client.read_exact(&mut echo)?;
//! assert_eq!(&echo, b"ping");
//! drop(client);
//! server.join().unwrap()?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! Two system calls per echoed message, `recvfrom` and `sendto`, and no other cost: with a
//! single client nothing is faster (the [measured table](#measured-the-classic-servers-beside-the-multiplexers)
//! shows it level with the event loops at one connection). It breaks as soon as there are
//! two: while the server sits in `read` for the first client, the second one's `connect`
//! has succeeded (the kernel completed the handshake and queued it on the listener's
//! backlog), but nobody accepts it, and a first client that stays connected without sending
//! stops everyone. `examples/echo_blocking.rs` is this server, and `.ci/echo_smoke.py
//! --classic blocking` checks that a second client indeed waits.
//!
//! # A thread per connection
//!
//! The classic way to serve many clients with blocking calls: accept on one thread, and give
//! each connection a thread of its own that runs the loop above. The kernel's scheduler is
//! now the multiplexer: each blocked thread waits on its own socket's wait queue, and a
//! packet's arrival makes exactly that thread runnable.
//!
//! The code stays simple (state lives in local variables on the thread's stack, and a slow
//! client delays only itself), and on Linux threads are cheap to create. What each costs:
//!
//! - **Memory.** A stack per thread: address space reserved at creation (2 MiB by default
//!   for Rust's `std::thread`, usually 8 MiB for glibc's `pthread_create`, which follows
//!   `RLIMIT_STACK`; `examples/echo_threads.rs` asks for 64 KiB), of which only the touched
//!   pages become resident, plus a kernel stack (16 KiB on x86-64) and the kernel's task
//!   record. The benchmark's idle scenario measures
//!   the resident part.
//! - **Time.** Every wake-up is a context switch, and with more runnable threads than CPUs
//!   the scheduler's time slices, not the data, decide who runs. Threads that share state
//!   need locks, and contended locks add more switches.
//! - **Limits.** 10,000 clients mean 10,000 threads: `RLIMIT_NPROC`, the system's
//!   `threads-max`, or memory stops it somewhere, and a server that does not check
//!   `thread::Builder::spawn`'s error panics there. `examples/echo_threads.rs` therefore caps
//!   its threads (`--max-threads`, 1,024 by default) and refuses a client beyond the cap with
//!   a message, closing its connection rather than leaving it in the backlog.
//!
//! The model survives inside every async runtime for work that must block: plexio's
//! [`task::spawn_blocking`](crate::task::spawn_blocking) runs it on a bounded pool of threads
//! beside the runtime (`tests/blocking.rs`).
//!
//! # Non-blocking sockets
//!
//! The step that every multiplexing model takes: a socket in non-blocking mode (`O_NONBLOCK`
//! through `fcntl` on Unix, `ioctlsocket(FIONBIO)` on Windows) never sleeps; a call that
//! would wait fails at once with `EAGAIN`/`EWOULDBLOCK` (`WSAEWOULDBLOCK`), which Rust reports
//! as [`ErrorKind::WouldBlock`](std::io::ErrorKind::WouldBlock). One thread can then hold many
//! sockets, but retrying every socket in a loop until one answers is a busy loop that burns
//! a CPU while nothing happens. What is missing is a way to sleep until *some* socket of many
//! can make progress: the readiness calls below. Every socket plexio makes is non-blocking,
//! and its reactor runs every operation the same way: try the call; on `WouldBlock`, wait for
//! the backend to report the socket ready, then try again. [`io::Async`](crate::io::Async)
//! offers that loop for a socket of your own:
//!
//! ```
//! use plexio::io::Async;
//!
//! plexio::block_on(async {
//!     let socket = std::net::UdpSocket::bind("127.0.0.1:0")?;
//!     socket.set_nonblocking(true)?; // `Async` needs it, and does not switch it itself
//!     let socket = Async::new(socket)?;
//!     let peer = std::net::UdpSocket::bind("127.0.0.1:0")?;
//!     peer.send_to(b"ready?", socket.get_ref().local_addr()?)?;
//!     let mut buffer = [0; 16];
//!     // The closure is the non-blocking call; `read_with` retries it after each readiness
//!     // event until it stops failing with `WouldBlock`.
//!     let (n, _) = socket.read_with(|socket| socket.recv_from(&mut buffer)).await?;
//!     assert_eq!(&buffer[..n], b"ready?");
//!     Ok::<(), std::io::Error>(())
//! })?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # `select`
//!
//! The oldest readiness call (4.2BSD, 1983). The program fills up to three `fd_set`s, for
//! reading, writing and exceptions; on Unix each is a bitmap with one bit per descriptor
//! number, and `select(nfds, &read, &write, &except, timeout)` sleeps until one of the
//! descriptors below `nfds` is ready, then *overwrites* the sets with the ready ones. So:
//!
//! - every call rebuilds the sets and copies them into the kernel and back;
//! - the kernel checks every descriptor number below `nfds`, and the program scans the
//!   bitmaps for the ready ones: O(highest descriptor) per call, even when one socket of
//!   thousands is ready;
//! - an `fd_set` holds `FD_SETSIZE` bits, 1024 on Linux, macOS and the BSDs, and the
//!   `FD_SET` macro does not check: setting descriptor 1024 writes past the set, a buffer
//!   overflow. A process that opens many files reaches it with few sockets.
//!
//! On Windows the `fd_set` is an array of socket handles with a count, 64 entries by default,
//! and `select` ignores the descriptor-number question entirely (the first argument is
//! unused); larger arrays work if allocated larger. The reports are *level-triggered*: a
//! socket with unread data is reported by every call until the data is read.
//!
//! plexio's `select` backend (`backends/src/select/`) refuses at registration what the
//! mechanism cannot hold, instead of overflowing: on Unix a descriptor at or above
//! `FD_SETSIZE` ([`Error::DescriptorOutOfRange`](crate::Error::DescriptorOutOfRange), an
//! `InvalidInput` I/O error), on Windows the 4,096th registration of a runtime
//! ([`Error::TooManySources`](crate::Error::TooManySources)). It rebuilds its sets from a watch
//! list every wait and leaves a reported socket out until the reactor re-arms it, which
//! makes it *oneshot* for the reactor above. The benchmark cannot run its 10,000-connection
//! case at all (`n/a (FD_SETSIZE)`).
//!
//! ```
//! use plexio::net::TcpListener;
//!
//! // Backends are compiled in by cargo feature; this runs wherever `select` is one of them.
//! if plexio::backends().contains(&"select") {
//!     let runtime = plexio::Runtime::builder().backend("select").build()?;
//!     runtime.block_on(async {
//!         let listener = TcpListener::bind("127.0.0.1:0").await?;
//!         assert_eq!(plexio::current_backend(), Some("select"));
//!         drop(listener);
//!         Ok::<(), std::io::Error>(())
//!     })?;
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # `poll`
//!
//! `poll(fds, n, timeout_ms)` takes an array of `struct pollfd { fd, events, revents }`: the
//! descriptor, what to watch for, and a field the kernel fills in. No bitmaps, so no
//! `FD_SETSIZE`: a descriptor of any number can be watched, and the array is not overwritten
//! (only `revents` is), so it need not be rebuilt. But the kernel keeps nothing between
//! calls: every call copies the whole array in, checks every entry, and copies it out, and
//! the program scans it for non-zero `revents`: O(n) per call for n watched sockets,
//! whatever number is ready. `POLLHUP`, `POLLERR` and `POLLNVAL` are reported even when not
//! asked for. Level-triggered, like `select`. Windows has `WSAPoll` (Vista and later), which
//! before Windows 10 2004 never reports a failed non-blocking `connect`: it waits for ever.
//!
//! plexio's `poll` backend (`backends/src/poll/`) shares `select`'s watch list and oneshot
//! arming (`backends/src/watch_list.rs`), and works around `WSAPoll`: a refused connection
//! is noticed through `SO_ERROR` within 100 ms, and a writer blocked on a half-closed peer
//! waits in winsock `select`, since `WSAPoll` keeps reporting the peer's FIN as `POLLHUP`.
//!
//! # epoll and kqueue
//!
//! The answer to O(n): keep the interest set *in the kernel*, change it only when it
//! changes, and have each wait return only what is ready.
//!
//! - **epoll** (Linux 2.6): `epoll_create1` makes the set; `epoll_ctl(ADD | MOD | DEL, fd,
//!   {events, data})` changes one entry, with 64 bits of `data` that come back with each
//!   event (plexio puts a token there); `epoll_wait` sleeps until the ready list is non-empty
//!   and returns up to `maxevents` entries. The kernel puts an entry on the ready list from
//!   the socket's wake-up callback, so a wait costs O(ready), not O(watched). Beware: epoll
//!   registers the *open file description*, not the descriptor number, so a `dup` keeps a
//!   closed socket's registration alive, and a number closed and reused can meet a stale
//!   entry.
//! - **kqueue** (FreeBSD 4.1, macOS, the BSDs): `kevent(kq, changes, n, events, m, timeout)`
//!   applies a list of changes *and* waits in one system call. Reading and writing are
//!   separate filters (`EVFILT_READ`, `EVFILT_WRITE`), and an event carries data: the bytes
//!   available, or with `EV_EOF` the socket's error.
//! - **event ports** (illumos, Solaris): `port_associate` is oneshot, the association must be
//!   renewed after every event.
//!
//! **Level or edge.** Level-triggered (epoll's default) reports a socket in every wait while
//! it is ready, as `poll` does. Edge-triggered (`EPOLLET`, kqueue's `EV_CLEAR`) reports it
//! when it *becomes* ready (on each new arrival), so a program that reads only part of the
//! data and waits again may never hear of the rest: the reader must go on until
//! `WouldBlock`. Oneshot (`EPOLLONESHOT`, `EV_ONESHOT`) disables the entry after one event
//! until it is re-armed. Edge and oneshot avoid reporting the same socket to every wait, at
//! the price of that rule.
//!
//! **Lost wakeups.** The reactor above must turn any of these into one behaviour. plexio's
//! (`src/driver/reactor/`) keeps a socket's readiness until an operation fails with
//! `WouldBlock`, and then clears it only if no newer event arrived in between (a tick per
//! event): clearing readiness that arrived after the failed call is the lost wakeup of
//! tokio#6133, and leaves a task asleep next to readable data. Oneshot and level backends are
//! re-armed for exactly the directions a task waits on, and tokens carry a generation, so an
//! event collected for a socket dropped in the same batch never reaches the socket that
//! reuses its slot. `tests/reliability.rs` and the conformance suite (`tests/conformance.rs`)
//! check these on every backend, and `tests/backend_contract.rs` checks each backend's own
//! promises (`Triggering::Edge`, `Oneshot` or `Level`) without the reactor.
//!
//! **Thundering herd.** Several threads waiting for one event all wake, and all but one
//! find nothing to do. With epoll it happens when several threads wait on one epoll set, or
//! on several sets that all hold the same listening socket (`EPOLLEXCLUSIVE`, Linux 4.5,
//! wakes one or a few instead). plexio avoids the question by design: one runtime is one
//! thread with its own backend, and a socket belongs to one runtime.
//!
//! plexio's `mio` backend (`backends/src/mio.rs`: epoll, kqueue, and IOCP on Windows)
//! registers edge-triggered, as mio always does; the `polling` backend
//! (`backends/src/polling.rs`: epoll, kqueue, event ports, IOCP) registers edge-triggered
//! where the mechanism has it and oneshot elsewhere.
//!
//! # The Windows models
//!
//! Windows offers a sequence of models, from readiness through event objects to completion
//! on a port; each one answers a limit of the one before.
//!
//! ## `WSAEventSelect`: readiness as event objects
//!
//! `WSAEventSelect(socket, event, FD_READ | FD_WRITE | FD_ACCEPT | FD_CONNECT | FD_CLOSE)`
//! ties a socket's network events to a kernel event object (and switches the socket to
//! non-blocking). `WSAWaitForMultipleEvents` sleeps until one of up to
//! `WSA_MAXIMUM_WAIT_EVENTS` (64) events is signalled; `WSAEnumNetworkEvents` then reads
//! which network events were recorded for that socket, with an error code per event, and
//! resets them. An event is recorded again only after its *re-enabling* call: `FD_READ` after
//! a `recv`, `FD_WRITE` after a `send` failed with `WSAEWOULDBLOCK`, `FD_ACCEPT` after an
//! `accept`. That makes it a readiness model with edge-like rules, and 64 sockets per wait:
//! a server needs a thread per 64 sockets, or `select`.
//!
//! plexio does not implement it: for readiness on Windows its `select` and `poll` backends
//! hold thousands of sockets in one wait, and the AFD polls below do better still.
//!
//! ## Overlapped I/O, with events and with completion routines
//!
//! The first completion model. `WSARecv(socket, buffers, count, &received, &flags,
//! &overlapped, routine)` *starts* a receive into the caller's buffers and returns at once:
//! `0` if it completed immediately, or `SOCKET_ERROR` with `WSA_IO_PENDING`. From then until
//! the operation completes, the buffers and the `OVERLAPPED` structure belong to the kernel:
//! freeing or reusing either is a use after free that the kernel commits. Completion is
//! announced in one of two ways:
//!
//! - **with an event**: `overlapped.hEvent` is signalled; the program waits with
//!   `WSAWaitForMultipleEvents` (64 again) and collects the result with
//!   `WSAGetOverlappedResult`;
//! - **with a completion routine**: `routine` is queued as an asynchronous procedure call
//!   (APC) to *the thread that started the operation*, and runs only when that thread sleeps
//!   *alertably* (`SleepEx(INFINITE, TRUE)`, `WSAWaitForMultipleEvents(…, TRUE)`, which then
//!   returns `WSA_WAIT_IO_COMPLETION`). No 64-handle limit, but every completion runs on the
//!   issuing thread: the model cannot spread connections over threads.
//!
//! Cancelling (`CancelIoEx`) is a request: the operation still completes, with
//! `ERROR_OPERATION_ABORTED`, or with its data if it finished first, and until then the
//! buffers stay the kernel's. plexio implements neither variant; the completion port is the
//! form of this model that scales, and the one plexio uses.
//!
//! ## I/O completion ports
//!
//! A completion port is a queue of completion packets that any number of threads can serve.
//! `CreateIoCompletionPort(socket, port, key, 0)` associates a socket with the port; every
//! overlapped operation on it (`WSARecv`, `WSASend`, `AcceptEx`, `ConnectEx`, the latter two
//! reached through `WSAIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER)`) then posts a packet when
//! it completes: the key, the `OVERLAPPED` pointer (from which the program finds its
//! operation) and the byte count. `GetQueuedCompletionStatusEx` dequeues a batch of packets,
//! so a wait costs O(completed). Threads waiting on a port are woken last-in first-out, and
//! the port's concurrency value bounds how many run at once, so a pool of threads does not
//! stampede. `PostQueuedCompletionStatus` posts a packet of the program's own, which is how
//! another thread wakes the loop. With `FILE_SKIP_COMPLETION_PORT_ON_SUCCESS` an operation
//! that completes at once posts no packet, and its result is handled inline.
//!
//! Where it breaks is the buffer's lifetime again: a dropped operation must be cancelled
//! with `CancelIoEx`, and its buffers and `OVERLAPPED` kept until its packet arrives, even
//! one that reports the cancellation; closing the port cancels nothing.
//!
//! In plexio, IOCP appears twice:
//!
//! - **as a completion driver**: the `iocp` backend (feature `iocp`) runs plexio's
//!   operations as overlapped operations on a completion port, the proactor model, as `uring`
//!   does on Linux (its readiness waits, for `readable()`, `peek` and `io::Async`, are AFD
//!   polls on the same port). One difference shows through: Windows attaches a socket to one
//!   completion port for its whole life, so a socket that did I/O on one `iocp` runtime
//!   cannot be handed to another (`into_std`, `from_std`): its operations there fail with
//!   `InvalidInput`, saying so;
//! - **as a readiness emulation**: the `mio` and `polling` backends on Windows issue one
//!   overlapped `IOCTL_AFD_POLL` per socket to the AFD driver (the kernel side of Winsock;
//!   the request is undocumented, the technique is wepoll's), and the completion of that
//!   poll *is* the readiness event. A poll reports once and must be re-issued, so both
//!   backends are [`Triggering::Oneshot`](crate::backend::Triggering::Oneshot) there and the
//!   reactor re-arms them; no data buffer is lent to the kernel, so cancellation is as
//!   simple as in any reactor.
//!
//! # io_uring
//!
//! Linux's completion interface (5.1; plexio needs 5.11). `io_uring_setup` creates two rings
//! in memory shared with the kernel: the *submission queue*, where the program writes
//! entries (an opcode such as `RECV`, `SEND`, `ACCEPT`, `CONNECT`, `POLL_ADD`, `TIMEOUT`,
//! `ASYNC_CANCEL`; a descriptor; a buffer's address and length; 64 bits of `user_data`), and
//! the *completion queue*, where the kernel writes `{user_data, result}` entries.
//! `io_uring_enter(ring, to_submit, min_complete, flags)` hands over every new entry *and*
//! waits for completions in one system call, so a loop turn that sends and receives on
//! hundreds of sockets enters the kernel once. Operations that cannot finish at once wait
//! inside the kernel (a receive waits for data itself), so no readiness round trip is
//! needed; readiness is still available as an operation (`POLL_ADD`, multishot since 5.13).
//!
//! Its costs and traps:
//!
//! - **Buffer lifetime.** A buffer handed to a `RECV` is the kernel's until that entry's
//!   completion is reaped. Cancelling is one more operation (`ASYNC_CANCEL` naming the
//!   `user_data`), and the target still completes, with `-ECANCELED` or with its data if it
//!   won the race: a runtime whose future was dropped must keep the buffer until then, and
//!   must not lose the data a completed receive carried (liburing#733).
//! - **Memory per idle connection.** A receive that waits holds its buffer, so 10,000 idle
//!   connections with a pending 64 KiB receive each hold 640 MB; the cures are waiting with a
//!   poll first, small adaptive buffers, or kernel-chosen buffers (provided buffer rings).
//! - **Refusals.** `/proc/sys/kernel/io_uring_disabled`, container seccomp profiles
//!   (Docker's default answers `EPERM`) and old kernels refuse it, so a program must be
//!   ready to fall back.
//!
//! plexio's `uring` backend (`backends/src/uring/`, feature `uring`) is a
//! [`CompletionDriver`](crate::backend::completion::CompletionDriver): operations live in
//! boxes that keep their address until their completion is reaped, a loop turn is one
//! `io_uring_enter`, and a refusal names its reason (`tests/uring_refusal.rs` provokes one
//! with a seccomp filter) and lets the automatic choice take the next backend. A stream's
//! ordinary `read` receives through a buffer the stream owns (512 bytes to 64 KiB, adapted
//! to what arrives, freed while the stream waits in `readable()`), and its `write` copies into
//! a send that finishes behind it; the owned-buffer calls hand your own `Vec` to the kernel
//! and give it back with the result, with no copy:
//!
//! ```
//! use plexio::net::{TcpListener, TcpStream};
//!
//! plexio::block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let client = TcpStream::connect(listener.local_addr()?).await?;
//!     let (server, _) = listener.accept().await?;
//!     // The Vec itself goes to the kernel (on a completion driver) and comes back with the
//!     // result; on a readiness backend the same call is a non-blocking write once ready.
//!     let (written, _buffer) = client.write_all_owned(b"owned".to_vec()).await;
//!     written?;
//!     // A read fills the spare capacity, after what the Vec already holds.
//!     let (read, buffer) = server.read_owned(Vec::with_capacity(16)).await;
//!     assert_eq!(&buffer[..read?], b"owned");
//!     Ok::<(), std::io::Error>(())
//! })?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! `tests/completion_contract.rs` checks the driver's contract (cancellation, buffer return,
//! notification from other threads), `tests/owned_buffers.rs` the owned calls on every
//! backend, and `tests/cancel_safety.rs` that a dropped read loses no byte on either model.
//!
//! # Reactor and proactor
//!
//! | | reactor (readiness) | proactor (completion) |
//! |---|---|---|
//! | the program hands the kernel | interest in a socket | the operation and its buffer |
//! | a wait returns | "ready: a call would not block" | "done: n bytes, in your buffer" |
//! | then the program | makes the non-blocking call, which may still say `WouldBlock` (readiness is a hint) | uses the result |
//! | system calls per echoed message | wait + `recv` + `send` (the wait shared by all sockets ready at once) | one `io_uring_enter` per loop turn, for every socket |
//! | the buffer while waiting | the program's, or none at all | the kernel's |
//! | cancelling | drop the future: nothing is in the kernel | a request, answered later; the buffer lives until then |
//! | mechanisms | `select`, `poll`, epoll, kqueue, event ports, AFD polls | IOCP, io_uring, overlapped I/O |
//!
//! Each model can wear the other's face. A readiness face over completion: a poll operation
//! (`POLL_ADD`, AFD poll) whose completion is the readiness event; plexio's
//! [`ReadinessOverCompletion`](crate::backend::completion::ReadinessOverCompletion) does it
//! for the waits that need readiness (`readable()`, `peek`, Unix sockets, [`io::Async`](crate::io::Async)).
//! A completion face over readiness: wait until ready, then make the call; plexio describes
//! each operation once
//! ([`Operation`](crate::backend::completion::Operation)), and a readiness runtime runs its
//! [`run_now`](crate::backend::completion::Operation::run_now) form when the socket is
//! ready while a completion driver submits it. That is why one program, with
//! `futures::io::AsyncRead` and `AsyncWrite` or with the owned-buffer calls, runs on every
//! backend, and why the net types never ask which model is underneath.
//!
//! # Coroutines, async/await and threads
//!
//! A thread per connection keeps each connection's state (where it is in its protocol, its
//! buffer) on the thread's stack, and the kernel switches stacks. A coroutine keeps it in an
//! object of its own that can be suspended and resumed without the kernel. Rust's
//! `async fn` compiles each function into a state machine (a *future*) that holds exactly
//! the variables alive across an `.await`, sized at compile time; an executor polls it, and
//! a [`Waker`](std::task::Waker) handed down to the reactor or proactor says when to poll it
//! again. So the echo loop keeps the shape of the blocking one, with `.await` where it would
//! have blocked:
//!
//! ```
//! use futures::io::{AsyncReadExt, AsyncWriteExt};
//! use plexio::net::{TcpListener, TcpStream};
//!
//! async fn echo(mut stream: TcpStream) -> std::io::Result<()> {
//!     let mut buffer = vec![0; 1024];
//!     loop {
//!         let n = stream.read(&mut buffer).await?; // suspends the task, not the thread
//!         if n == 0 {
//!             return Ok(());
//!         }
//!         stream.write_all(&buffer[..n]).await?;
//!     }
//! }
//!
//! plexio::block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let addr = listener.local_addr()?;
//!     // `spawn` takes the place of `thread::spawn`: a task per connection, on one thread.
//!     let server = plexio::spawn(async move {
//!         let (stream, _) = listener.accept().await?;
//!         echo(stream).await
//!     });
//!     let mut client = TcpStream::connect(addr).await?;
//!     client.write_all(b"hello").await?;
//!     let mut reply = [0; 5];
//!     client.read_exact(&mut reply).await?;
//!     assert_eq!(&reply, b"hello");
//!     client.close().await?;
//!     server.await?
//! })?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! What changes against threads: a task costs a few hundred bytes instead of a stack
//! (measured below); switching tasks is a function return and a call, not a trip through the
//! scheduler; cancelling is dropping the future (a thread blocked in `read` can only be
//! stopped by shutting its socket down), which is why plexio says which of its operations
//! are [cancel-safe](crate::guide::from_tokio#cancel-safety). What it asks in return: a task
//! must not block its thread (a blocking `read`, `std::thread::sleep`, a long computation
//! stall every task of the runtime; hand such work to
//! [`spawn_blocking`](crate::task::spawn_blocking)), and one runtime uses one core (plexio
//! runs one runtime per thread to use more; [`Spawner`](crate::Spawner) hands work between
//! them).
//!
//! **Python's asyncio** is the same design in another language. Its echo server:
//!
//! ```python
//! import asyncio
//!
//! async def echo(reader, writer):             # a coroutine per connection, as a plexio task
//!     while data := await reader.read(16384):  # suspends until the socket is readable
//!         writer.write(data)                  # only buffers the bytes
//!         await writer.drain()                # waits for room: backpressure
//!     writer.close()
//!     await writer.wait_closed()
//!
//! async def main():
//!     server = await asyncio.start_server(echo, "127.0.0.1", 7878)
//!     async with server:
//!         await server.serve_forever()        # the accept loop
//!
//! asyncio.run(main())                         # the event loop, like plexio::block_on
//! ```
//!
//! The event loop is the runtime: on Unix asyncio's default loop is a reactor over Python's
//! `selectors` module (epoll, kqueue, `poll` or `select`, the best available, as plexio's
//! automatic choice), and on Windows since Python 3.8 it is the `ProactorEventLoop`, over an
//! I/O completion port. `start_server` with a handler coroutine is the accept loop with
//! [`spawn`](crate::spawn) per connection; `reader.read(n)` is `stream.read(&mut buffer)`;
//! `writer.write` plus `await writer.drain()` is `write_all` (asyncio's `write` never waits,
//! so a program that forgets `drain` buffers without limit; plexio's `write` waits for room
//! itself). `.ci/echo_smoke.py` drives plexio's `examples/echo.rs` with 32 asyncio clients on
//! every backend.
//!
//! # Measured: the classic servers beside the multiplexers
//!
//! `bench/` runs every model above as the same echo server (a 64 KiB buffer per connection,
//! read once, write it all back) against one load generator, and `bench/results/models.md`
//! holds the whole report; the classic servers there are `std-blocking` and `std-threads`
//! (`bench/src/server/classic.rs`, the same models as `examples/echo_blocking.rs` and
//! `examples/echo_threads.rs`). Measured 2026-12-02 on a 2-CPU VM (AMD EPYC, Linux 6.18),
//! load generator pinned to one CPU and server to the other, 3 rounds of 2 s per
//! measurement, medians:
//!
//! ```text
//! cargo run --release --manifest-path bench/Cargo.toml -- --scenario all \
//!   --servers std-blocking,std-threads,plexio-select,plexio-poll,plexio-mio,plexio-polling,plexio-uring,plexio-uring-owned,tokio-ct,raw-epoll \
//!   --output bench/results/models.md
//! ```
//!
//! Server CPU µs per echoed message (lower is better), and for `idle-10k` the server's
//! resident memory per idle connection in bytes (lazy buffers: no data buffer held while
//! idle):
//!
//! | model | server | 64 B × 1 | 64 B × 50 | 64 B × 500 | 4 KiB × 50 | 64 KiB stream × 10 | bytes per idle connection, × 10,000 |
//! |---|---|--:|--:|--:|--:|--:|--:|
//! | blocking, one at a time | `std-blocking` | 31.0 | n/a | n/a | n/a | n/a | n/a |
//! | a thread per connection | `std-threads` | 29.6 | 15.5 | 18.6 | 20.2 | 23.4 | 9,899 |
//! | `select` | `plexio-select` | 36.0 | 6.95 | 10.3 | 7.02 | 15.9 | n/a (`FD_SETSIZE`) |
//! | `poll` | `plexio-poll` | 33.3 | 7.28 | 9.12 | 6.93 | 15.5 | 460 |
//! | epoll (mio) | `plexio-mio` | 27.9 | 6.87 | 8.56 | 6.91 | 16.3 | 416 |
//! | epoll (polling) | `plexio-polling` | 34.2 | 6.47 | 10.8 | 7.43 | 17.6 | 422 |
//! | io_uring, borrowed buffers | `plexio-uring` | 35.0 | 9.13 | 14.4 | 9.62 | 25.0 | 1,333 |
//! | io_uring, owned buffers | `plexio-uring-owned` | 34.1 | 8.77 | 11.8 | 11.7 | 28.9 | 1,485 |
//! | epoll, tokio's runtime | `tokio-ct` | 30.3 | 6.57 | 10.8 | 8.07 | 20.2 | 1,029 |
//! | epoll, no runtime | `raw-epoll` | 29.0 | 6.76 | 7.34 | 7.13 | 32.8 | 61 |
//!
//! What they show:
//!
//! - **With one connection the models cost about the same**, 28 to 36 µs of server CPU per
//!   message, most of it the kernel's TCP path and the wake-up. The blocking server and the
//!   thread are level with the raw epoll loop (per-round ratios 1.07 and 1.03): with one
//!   socket, a thread that sleeps in `read` is all the multiplexing there is to do, and
//!   every event loop adds its own work on top (`select` 1.24, `poll` 1.31, plexio on mio
//!   1.01).
//! - **A thread per connection costs 2.3 to 2.9 times the CPU per message of an epoll loop
//!   with 50 and 500 connections** (per-round ratios to `raw-epoll`: 2.30 at 64 B × 50, 2.53
//!   at × 500, 2.89 at 4 KiB × 50; the threads share the server's one CPU, so every message
//!   means a switch into its thread and out), and about 24 times the memory per idle
//!   connection of plexio's epoll backends: 9.9 KB of resident stack and thread state against
//!   416 bytes for a task, its registration and its socket wrapper (the raw loop's 61 bytes
//!   is a bare record per descriptor). It did hold 10,000 threads here, with 64 KiB stacks.
//! - **`select` and `poll` are not far behind epoll at 500 busy connections** (per-round
//!   ratios to the raw loop 1.41 and 1.22, plexio's epoll backends 1.17 and 1.24, tokio
//!   1.25): when nearly every socket is ready at each wait, O(n) and O(ready) are the same
//!   number. Their cost is in many *idle* sockets and few busy ones, a case these figures do
//!   not time; `select` cannot even hold the 10,000 connections of the idle case.
//! - **io_uring is not cheaper here.** One `io_uring_enter` per loop turn replaces three
//!   system calls per message (`bench/results/syscalls.md`, `bench/results/uring.md`), but on
//!   this VM the ring's user-space work costs more than the calls it saves (1.2 to 1.7 times
//!   the raw loop's CPU per message with 50 and 500 connections), and its receive buffers
//!   cost memory per idle connection (1.3 to 1.5 KB).
//! - **The 64 KiB stream case ranks differently**: the readiness backends and the threads
//!   spend less CPU per message than the raw loop (0.50 to 0.69 of it, per round). Each
//!   message there is many reads and writes of large chunks rather than one wake-up; why the
//!   raw loop, which waits for `EPOLLOUT` before reading again while a write is pending,
//!   spends more was not analysed.
//!
//! What they cannot show: two CPUs and loopback only. On a machine with many cores the
//! thread-per-connection server would spread its threads over them (and so would one plexio
//! runtime per core, `SO_REUSEPORT`), and no network card, interrupt or NUMA effect is in
//! these figures. Messages per second are left out of this table on purpose: the VM is
//! shared, the run had other builds on it (the full report shows msg/s and latencies with
//! their ranges, some far apart), and CPU per message is the figure that moves least with
//! what else runs. The ratios within a round (`models.md`, "Round by round") are steadier
//! than these medians; single figures that differ by 10 % or less are within the noise.
//!
//! # Which backend implements which model
//!
//! | model | plexio | where to read it |
//! |---|---|---|
//! | blocking, one at a time | `examples/echo_blocking.rs` (std only) | this page |
//! | a thread per connection | `examples/echo_threads.rs` (std only); [`task::spawn_blocking`](crate::task::spawn_blocking) for blocking work | `tests/blocking.rs` |
//! | `select`, winsock `select` | backend `select` (feature `select`) | `backends/src/select/` |
//! | `poll`, `WSAPoll` | backend `poll` (feature `poll`) | `backends/src/poll/` |
//! | epoll, kqueue | backends `mio` (default) and `polling` | `backends/src/mio.rs`, `backends/src/polling.rs` |
//! | event ports | backend `polling` | `backends/src/polling.rs` |
//! | `WSAEventSelect`, overlapped I/O with events or completion routines | none (see their sections) | |
//! | IOCP as completion | backend `iocp` (feature `iocp`) | the `iocp` module of `plexio-backends` |
//! | IOCP as readiness (AFD polls) | backends `mio` and `polling` on Windows | `backends/src/mio.rs`, `backends/src/polling.rs` |
//! | io_uring | backend `uring` (feature `uring`) | `backends/src/uring/` |
//! | a backend of your own | [`Builder::custom_backend`](crate::Builder::custom_backend), [`Builder::custom_completion_driver`](crate::Builder::custom_completion_driver) | [`backend`](crate::backend) |
