//! plexio: asynchronous networking whose I/O multiplexing mechanism is a choice.
//!
//! One future-based API ([`net::TcpListener`], [`net::TcpStream`], [`net::UdpSocket`],
//! [`time`], [`spawn`], [`block_on`]) runs on either I/O model: any readiness
//! [`Backend`](backend::Backend) (`select`, `poll`, epoll/kqueue/IOCP through `mio`, or the
//! `polling` crate) or a [`CompletionDriver`](backend::completion::CompletionDriver) (`uring`,
//! Linux io_uring; `iocp`, overlapped I/O on a Windows completion port), chosen by cargo feature, by [`Runtime::builder`], or by the
//! `PLEXIO_BACKEND` environment variable. The program does not change.
//!
//! ```
//! use futures::io::{AsyncReadExt, AsyncWriteExt};
//! use plexio::net::{TcpListener, TcpStream};
//!
//! plexio::block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let addr = listener.local_addr()?;
//!     let server = plexio::spawn(async move {
//!         let (mut stream, _) = listener.accept().await?;
//!         let mut line = [0; 5];
//!         stream.read_exact(&mut line).await?;
//!         stream.write_all(&line).await
//!     });
//!     let mut client = TcpStream::connect(addr).await?;
//!     client.write_all(b"hello").await?;
//!     let mut echo = [0; 5];
//!     client.read_exact(&mut echo).await?;
//!     assert_eq!(&echo, b"hello");
//!     server.await??;
//!     println!("echoed on the {} backend", plexio::current_backend().unwrap());
//!     Ok::<(), std::io::Error>(())
//! })
//! .unwrap();
//! ```
//!
//! A runtime runs on one thread ([`Runtime::new`], [`block_on`]) or on worker threads, one
//! driver and executor each ([`Builder::worker_threads`]): [`spawn`] takes `Send` futures,
//! which may run on any worker, and [`spawn_local`] keeps a future that is not `Send` on the
//! calling thread.
//!
//! Errors on I/O paths are [`std::io::Error`]s; plexio's own failures are [`Error`], which
//! travels inside an `io::Error` as its source where it happens on an I/O path.
//!
//! The [`guide`] has two pages: [`guide::io_models`] explains the I/O models plexio
//! implements and compares (blocking sockets and threads, `select`, `poll`, epoll/kqueue,
//! the Windows models up to IOCP, io_uring; reactor and proactor; async/await against
//! threads), with measured figures; coming from tokio or smol, [`guide::from_tokio`] maps
//! what you reach for there to plexio, and says which operations are
//! [cancel-safe](guide::from_tokio#cancel-safety).
//!
//! # Cargo features
//!
//! | feature | what it adds |
//! |---|---|
//! | `mio` (default) | the `mio` backend: epoll, kqueue, IOCP through the mio crate |
//! | `polling` | the `polling` backend: epoll, kqueue, event ports, IOCP through the polling crate |
//! | `poll` | plexio's own `poll(2)` / `WSAPoll` backend |
//! | `select` | plexio's own `select(2)` / winsock `select` backend |
//! | `uring` | the `uring` completion driver: Linux io_uring (5.11 or later), preferred where the system allows it |
//! | `iocp` | the `iocp` completion driver: overlapped I/O on a Windows completion port (`AcceptEx`, `ConnectEx`, `WSARecv`/`WSASend`, AFD polls for readiness); Windows only, used when asked for by name (the automatic choice stays `mio`) |
//! | `chaos` | [`backend::chaos`]: a wrapper backend that injects faults, to test code against them |
//! | `signal` | [`signal::ctrl_c`]: wait for Ctrl-C (Unix; the signal-hook crate) |
//! | `tokio` | tokio's `AsyncRead` and `AsyncWrite` for plexio's streams, for code written against them (tokio-util codecs, say); no tokio runtime is involved |
//! | `tracing` | events of the `tracing` crate (target `plexio`): the backend chosen and why (`info`), backends passed over or refused and errors on I/O paths (`debug`), registrations and runtime turns (`trace`); without the feature no event code is compiled |
//! | `hyper` | [`hyper`](mod@hyper): hyper 1.x on plexio, its `Read`/`Write` for plexio's streams, a `Timer` and an HTTP/2 `Executor` |
//!
//! The backend features only add backends, in any combination; the backend a runtime uses is
//! chosen at run time ([`Builder::backend`], `PLEXIO_BACKEND`) among those compiled in.

#![forbid(unsafe_code)]
#![deny(missing_docs, missing_debug_implementations)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod driver;
pub mod guide;
#[cfg(feature = "hyper")]
#[cfg_attr(docsrs, doc(cfg(feature = "hyper")))]
pub mod hyper;
pub mod io;
pub mod net;
mod runtime;
#[cfg(feature = "signal")]
#[cfg_attr(docsrs, doc(cfg(feature = "signal")))]
pub mod signal;
mod stats;
pub mod task;
pub mod time;
mod util;

pub use plexio_backends::Error;
pub use runtime::{
    AcceptSpread, BACKEND_ENV, Builder, Runtime, Spawner, backends, block_on, current_backend,
    current_worker,
};
pub use stats::{RuntimeStats, StatsHandle};
pub use task::{JoinError, JoinHandle, spawn, spawn_local};

/// The backend interface, for implementing a backend of your own.
///
/// A type that implements [`Backend`](backend::Backend) and keeps the contract written on it
/// runs the whole runtime: hand it to
/// [`Builder::custom_backend`](crate::Builder::custom_backend).
pub mod backend {
    pub use plexio_backends::{
        AsBackend, AsSource, Backend, Event, Events, Interest, RawSource, Ready, Registered, Token,
        Triggering,
    };

    /// A wrapper backend that injects the faults the [`Backend`] contract allows, to test a
    /// program (or the runtime) against them.
    ///
    /// ```
    /// use plexio::backend::chaos::ChaosBackend;
    ///
    /// // A readiness backend compiled in, opened by name, wrapped; a seed makes the faults
    /// // repeatable.
    /// let inner = plexio::backends()
    ///     .into_iter()
    ///     .find_map(|name| plexio::backend::open(name).ok())
    ///     .expect("a readiness backend is compiled in");
    /// let runtime = plexio::Runtime::builder().custom_backend(ChaosBackend::new(inner, 7)).build()?;
    /// let slept = runtime.block_on(async {
    ///     plexio::time::sleep(std::time::Duration::from_millis(1)).await;
    ///     "slept"
    /// });
    /// assert_eq!(slept, "slept");
    /// # Ok::<(), plexio::Error>(())
    /// ```
    #[cfg(feature = "chaos")]
    #[cfg_attr(docsrs, doc(cfg(feature = "chaos")))]
    pub use plexio_backends::chaos;

    /// The completion driver interface (the proactor model): implement
    /// [`CompletionDriver`](completion::CompletionDriver) to run plexio on a completion
    /// mechanism of your own, and hand it to
    /// [`Builder::custom_completion_driver`](crate::Builder::custom_completion_driver).
    pub use plexio_backends::completion;
    pub use plexio_backends::registry::Driver;

    /// Opens one of plexio's own backends by name, of either model: a readiness backend or
    /// a completion driver (`uring`), for example to wrap it and hand it to
    /// [`Builder::driver`](crate::Builder::driver).
    pub fn open_driver(name: &str) -> Result<Driver, crate::Error> {
        plexio_backends::registry::open_driver(Some(name))
    }

    /// Opens one of plexio's own readiness backends by name (as `Runtime::builder().backend(name)`
    /// does), for example to wrap it in a backend of your own that adds behaviour (counting,
    /// tracing, fault injection) and hand the wrapper to
    /// [`Builder::custom_backend`](crate::Builder::custom_backend).
    pub fn open(name: &str) -> Result<std::sync::Arc<dyn Backend>, crate::Error> {
        plexio_backends::registry::open(Some(name))
    }
}

/// The README's examples, compiled and run as doc tests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
