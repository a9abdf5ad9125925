//! The echo servers under test, and the `server` subcommand that runs one of them.
//!
//! Every server is written the same way, so that what differs is the runtime and not the
//! program:
//!
//! * the listening socket is made by [`listener`] (same options, same backlog) and handed to
//!   the runtime;
//! * one accept loop; each accepted connection gets `TCP_NODELAY` and its own
//!   [`BUFFER_SIZE`] buffer, allocated zeroed;
//! * per connection: read once into that buffer, write all of what was read back, repeat;
//!   end of stream or any error closes the connection;
//! * when the buffer is allocated is the [`Buffers`] policy, the same for every server:
//!   [`Buffers::Eager`] allocates it when the connection is accepted and keeps it until the
//!   connection ends (the echo scenarios); [`Buffers::Lazy`] holds none while the connection
//!   is idle: wait until the socket is readable without a buffer, allocate it, read once,
//!   write all of it back, drop it, and wait again (the idle scenario, which then measures
//!   the runtime's own cost per connection and not the buffer);
//! * accept errors are handled by [`accept_failed`]: pause only when out of descriptors.
//!
//! The async servers spawn one task per connection; `raw-epoll`, `raw-uring` and
//! `raw-uring-multishot` keep one state record per descriptor instead, which is the point of
//! them: they are the mechanisms without a runtime.
//! `std-blocking` and `std-threads` are the classic models without any multiplexing:
//! blocking sockets, one connection at a time or a thread per connection.

mod classic;
#[cfg(target_os = "linux")]
mod compio;
pub mod http;
#[cfg(target_os = "linux")]
mod monoio;
mod plexio;
#[cfg(target_os = "linux")]
mod raw_epoll;
#[cfg(target_os = "linux")]
mod raw_uring;
mod smol;
mod tokio;

use std::fmt;
use std::future::{Future, poll_fn};
use std::io::{self, Write};
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

use self::plexio::Api;

/// The size of each connection's buffer, the same in every server.
pub const BUFFER_SIZE: usize = 64 * 1024;

/// The listen backlog of every server (plexio's and tokio's own default).
const BACKLOG: i32 = 1024;

/// How many accept errors a server reports on stderr before it goes quiet.
const ACCEPT_ERRORS_REPORTED: usize = 3;

/// When a server allocates each connection's [`BUFFER_SIZE`] buffer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Buffers {
    /// Allocated (zeroed) when the connection is accepted, kept until it ends.
    #[default]
    Eager,
    /// None while idle: allocated (zeroed) once the socket is readable, dropped again once
    /// what was read has been written back.
    Lazy,
}

impl Buffers {
    /// The `server` subcommand's flag that selects this policy, if it needs one.
    pub fn flag(self) -> Option<&'static str> {
        match self {
            Buffers::Eager => None,
            Buffers::Lazy => Some(LAZY_BUFFERS_FLAG),
        }
    }
}

impl fmt::Display for Buffers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Buffers::Eager => "eager",
            Buffers::Lazy => "lazy",
        })
    }
}

/// The `server` subcommand's flag for [`Buffers::Lazy`].
pub const LAZY_BUFFERS_FLAG: &str = "--lazy-buffers";

/// An echo server implementation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServerKind {
    /// plexio on its `select(2)` backend.
    PlexioSelect,
    /// plexio on its `poll(2)` backend.
    PlexioPoll,
    /// plexio on its mio (epoll) backend.
    PlexioMio,
    /// plexio on its polling-crate (epoll) backend.
    PlexioPolling,
    /// plexio on its io_uring completion driver, `read`/`write_all` (Linux only).
    PlexioUring,
    /// plexio on its io_uring completion driver, `read_owned`/`write_all_owned`: zero-copy
    /// (Linux only).
    PlexioUringOwned,
    /// tokio's current-thread runtime.
    TokioCt,
    /// tokio's multi-thread runtime (its worker count follows the CPUs it may run on, or
    /// `server --workers N`).
    TokioMt,
    /// A group of tokio current-thread runtimes, one thread each (one per CPU, or
    /// `server --workers N`), each accepting on a `SO_REUSEPORT` listener of its own:
    /// thread-per-core, the reference of the multi-core scenario (Linux only).
    TokioTpc,
    /// smol: `smol::block_on` driving a `LocalExecutor`, one thread.
    Smol,
    /// monoio on its io_uring driver, one thread, owned buffers (Linux only).
    Monoio,
    /// compio on its io_uring driver, one thread, owned buffers (Linux only).
    Compio,
    /// A hand-written single-threaded level-triggered epoll loop (Linux only).
    RawEpoll,
    /// A hand-written single-threaded io_uring loop, one receive at a time into each
    /// connection's buffer (Linux only).
    RawUring,
    /// A hand-written single-threaded io_uring loop, one multishot receive per connection
    /// into a shared provided-buffer ring (Linux only).
    RawUringMultishot,
    /// Blocking std sockets, one connection at a time: it serves only one-connection cases.
    StdBlocking,
    /// Blocking std sockets, a thread per connection.
    StdThreads,
}

impl ServerKind {
    /// Every kind, in report order.
    pub const ALL: [ServerKind; 17] = [
        ServerKind::PlexioSelect,
        ServerKind::PlexioPoll,
        ServerKind::PlexioMio,
        ServerKind::PlexioPolling,
        ServerKind::PlexioUring,
        ServerKind::PlexioUringOwned,
        ServerKind::TokioCt,
        ServerKind::TokioMt,
        ServerKind::TokioTpc,
        ServerKind::Smol,
        ServerKind::Monoio,
        ServerKind::Compio,
        ServerKind::RawEpoll,
        ServerKind::RawUring,
        ServerKind::RawUringMultishot,
        ServerKind::StdBlocking,
        ServerKind::StdThreads,
    ];

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            ServerKind::PlexioSelect => "plexio-select",
            ServerKind::PlexioPoll => "plexio-poll",
            ServerKind::PlexioMio => "plexio-mio",
            ServerKind::PlexioPolling => "plexio-polling",
            ServerKind::PlexioUring => "plexio-uring",
            ServerKind::PlexioUringOwned => "plexio-uring-owned",
            ServerKind::TokioCt => "tokio-ct",
            ServerKind::TokioMt => "tokio-mt",
            ServerKind::TokioTpc => "tokio-tpc",
            ServerKind::Smol => "smol",
            ServerKind::Monoio => "monoio",
            ServerKind::Compio => "compio",
            ServerKind::RawEpoll => "raw-epoll",
            ServerKind::RawUring => "raw-uring",
            ServerKind::RawUringMultishot => "raw-uring-multishot",
            ServerKind::StdBlocking => "std-blocking",
            ServerKind::StdThreads => "std-threads",
        }
    }

    /// The kind called `name`, if there is one.
    pub fn from_name(name: &str) -> Option<ServerKind> {
        ServerKind::ALL.into_iter().find(|kind| kind.name() == name)
    }

    /// Whether this kind can run on this platform: the raw epoll loop and the io_uring
    /// runtimes (plexio's `uring` backend among them) need Linux.
    pub fn is_supported(self) -> bool {
        !self.linux_only() || cfg!(target_os = "linux")
    }

    fn linux_only(self) -> bool {
        matches!(self, ServerKind::RawEpoll | ServerKind::TokioTpc) || self.uses_io_uring()
    }

    /// Whether this kind does its I/O through io_uring: its reads and writes are operations
    /// submitted to a ring, many per `io_uring_enter`, not system calls of their own.
    pub fn uses_io_uring(self) -> bool {
        matches!(
            self,
            ServerKind::PlexioUring
                | ServerKind::PlexioUringOwned
                | ServerKind::Monoio
                | ServerKind::Compio
                | ServerKind::RawUring
                | ServerKind::RawUringMultishot
        )
    }

    /// The number of descriptors this kind can hold at most, if it has such a limit:
    /// `select(2)` cannot watch a descriptor at or above `FD_SETSIZE` on Unix, and plexio's
    /// winsock `select` backend holds 4096 sockets per runtime.
    pub fn descriptor_limit(self) -> Option<usize> {
        #[cfg(unix)]
        let limit = libc::FD_SETSIZE;
        #[cfg(not(unix))]
        let limit = 4096;
        (self == ServerKind::PlexioSelect).then_some(limit)
    }

    /// Whether this kind serves one connection at a time, so that a case with more
    /// connections than one would only measure the others waiting.
    pub fn serves_one_at_a_time(self) -> bool {
        self == ServerKind::StdBlocking
    }
}

impl fmt::Display for ServerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Runs the echo server `kind` on `addr` with the buffer policy `buffers`: binds, prints the
/// bound address and its process id on a line of its own on stdout (`127.0.0.1:41234 5678`),
/// then serves until killed. `workers` sets the worker threads of the servers that have them
/// (plexio's, `tokio-mt`, `tokio-tpc`); `None` leaves plexio on one thread and the tokio
/// servers at one per CPU.
pub fn serve(
    kind: ServerKind,
    addr: SocketAddr,
    buffers: Buffers,
    workers: Option<usize>,
) -> io::Result<()> {
    let listener = listener(addr, PortSharing::Shared)?;
    let bound = listener.local_addr()?;
    let announce = move || -> io::Result<()> {
        let mut stdout = io::stdout().lock();
        writeln!(stdout, "{bound} {}", std::process::id())?;
        stdout.flush()
    };
    let plexio = |backend, api| plexio::Serve { backend, api, buffers, workers };
    match kind {
        ServerKind::PlexioSelect => plexio("select", Api::Borrowed).run(listener, announce),
        ServerKind::PlexioPoll => plexio("poll", Api::Borrowed).run(listener, announce),
        ServerKind::PlexioMio => plexio("mio", Api::Borrowed).run(listener, announce),
        ServerKind::PlexioPolling => plexio("polling", Api::Borrowed).run(listener, announce),
        #[cfg(target_os = "linux")]
        ServerKind::PlexioUring => plexio("uring", Api::Borrowed).run(listener, announce),
        #[cfg(target_os = "linux")]
        ServerKind::PlexioUringOwned => plexio("uring", Api::Owned).run(listener, announce),
        ServerKind::TokioCt => tokio::serve_current_thread(listener, buffers, announce),
        ServerKind::TokioMt => tokio::serve_multi_thread(listener, buffers, workers, announce),
        #[cfg(target_os = "linux")]
        ServerKind::TokioTpc => tokio::serve_per_core(listener, buffers, workers, announce),
        ServerKind::Smol => smol::serve(listener, buffers, announce),
        #[cfg(target_os = "linux")]
        ServerKind::Monoio => monoio::serve(listener, buffers, announce),
        #[cfg(target_os = "linux")]
        ServerKind::Compio => compio::serve(listener, buffers, announce),
        #[cfg(target_os = "linux")]
        ServerKind::RawEpoll => raw_epoll::serve(listener, buffers, announce),
        #[cfg(target_os = "linux")]
        ServerKind::RawUring => {
            raw_uring::serve(listener, buffers, raw_uring::Receive::Oneshot, announce)
        }
        #[cfg(target_os = "linux")]
        ServerKind::RawUringMultishot => {
            raw_uring::serve(listener, buffers, raw_uring::Receive::Multishot, announce)
        }
        ServerKind::StdBlocking => classic::serve_one_at_a_time(listener, buffers, announce),
        ServerKind::StdThreads => classic::serve_thread_per_connection(listener, buffers, announce),
        #[cfg(not(target_os = "linux"))]
        ServerKind::PlexioUring
        | ServerKind::PlexioUringOwned
        | ServerKind::TokioTpc
        | ServerKind::Monoio
        | ServerKind::Compio
        | ServerKind::RawEpoll
        | ServerKind::RawUring
        | ServerKind::RawUringMultishot => {
            Err(io::Error::new(io::ErrorKind::Unsupported, format!("{kind} runs on Linux only")))
        }
    }
}

/// Polls `future` once, with the calling task's own waker: its output if it completes at
/// once, `None` if it would wait. The lazy servers read this way after the socket was
/// reported readable, so that stale readiness never has them wait while holding a buffer.
///
/// The task's own waker, not a no-op one (`FutureExt::now_or_never`): a runtime that keeps
/// the waker of a dropped I/O future until the next event would otherwise hold a second
/// waker per connection, which the idle figure would count against it.
async fn at_once<F: Future>(future: F) -> Option<F::Output> {
    let mut future = pin!(future);
    poll_fn(|cx| match future.as_mut().poll(cx) {
        Poll::Ready(output) => Poll::Ready(Some(output)),
        Poll::Pending => Poll::Ready(None),
    })
    .await
}

/// Whether other sockets may bind a listener's port too (`SO_REUSEPORT`, Linux).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PortSharing {
    /// So that `tokio-tpc` can bind one listener per thread to the same port.
    Shared,
    /// The port is this listener's alone. A port-0 bind with `SO_REUSEPORT` may be given a
    /// port that another such listener of the same user holds, and then the kernel spreads
    /// the connections over both: servers that run at the same time must not share.
    Exclusive,
}

/// The listening socket every server uses: `SO_REUSEADDR` on Unix, `SO_REUSEPORT` on Linux
/// where `sharing` asks for it, non-blocking, [`BACKLOG`] deep.
fn listener(addr: SocketAddr, sharing: PortSharing) -> io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    #[cfg(unix)]
    socket.set_reuse_address(true)?;
    #[cfg(target_os = "linux")]
    if sharing == PortSharing::Shared {
        socket.set_reuse_port(true)?;
    }
    #[cfg(not(target_os = "linux"))]
    let _ = sharing;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

/// Handles a failed `accept`, the same way in every server: reports the first few errors on
/// stderr and returns how long to pause before accepting again.
///
/// Running out of descriptors leaves the connection queued and the listener readable, so the
/// server pauses rather than spin; any other error concerns one connection only (among them a
/// connection that the `select` backend cannot hold, which plexio closes) and the server goes
/// straight on.
fn accept_failed(error: &io::Error) -> Option<Duration> {
    static REPORTED: AtomicUsize = AtomicUsize::new(0);
    if REPORTED.fetch_add(1, Ordering::Relaxed) < ACCEPT_ERRORS_REPORTED {
        eprintln!("echo server: accept failed: {error}");
    }
    out_of_descriptors(error).then_some(Duration::from_millis(10))
}

#[cfg(unix)]
fn out_of_descriptors(error: &io::Error) -> bool {
    matches!(error.raw_os_error(), Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM))
}

#[cfg(not(unix))]
fn out_of_descriptors(_error: &io::Error) -> bool {
    false
}
