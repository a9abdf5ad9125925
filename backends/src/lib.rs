//! The backends of [plexio](https://docs.rs/plexio): the [`Backend`] trait that abstracts an
//! I/O multiplexing mechanism, and its implementations.
//!
//! | module | mechanism | triggering |
//! |---|---|---|
//! | [`select`] | `select(2)` on Unix, winsock `select` on Windows | oneshot (ours) |
//! | [`poll`] | `poll(2)` on Unix, `WSAPoll` on Windows | oneshot (ours) |
//! | [`mio`] | epoll, kqueue, IOCP/AFD through the mio crate | edge (oneshot on Windows) |
//! | [`polling`] | epoll, kqueue, event ports, IOCP through the polling crate | edge where supported, else oneshot |
//! | `uring` | Linux io_uring through the io-uring crate: a [`completion::CompletionDriver`] | completion (readiness through poll operations) |
//! | `iocp` | Windows overlapped I/O on a completion port: a [`completion::CompletionDriver`] | completion (readiness through AFD polls) |
//!
//! Each module is behind the cargo feature of the same name. Every line of code that talks
//! to the operating system, and every `unsafe` block of plexio, lives in this crate; the
//! runtime above it is safe Rust.
//!
//! No backend watches for urgent (out-of-band) data: plexio never delivers it (it leaves
//! `SO_OOBINLINE` off and has no call that reads it), so `POLLPRI`, `POLLRDBAND`, mio's
//! priority interest and winsock's exception set (but for a connect) are never asked for,
//! and an unread urgent byte wakes no wait.
//!
//! The contract a backend must keep is written on the [`Backend`] trait. With the `chaos`
//! feature, [`chaos::ChaosBackend`](crate::chaos) wraps any backend and injects every fault
//! that contract allows, for tests; `completion::chaos::ChaosCompletion` does the same
//! for a [`completion::CompletionDriver`].

#![deny(missing_docs, missing_debug_implementations)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod backend;
pub mod completion;
mod error;
mod event;
mod registered;
pub mod registry;
#[cfg(any(all(feature = "mio", unix), all(feature = "polling", any(unix, windows))))]
mod source_set;
mod sys;
#[cfg(all(any(feature = "select", feature = "poll"), any(unix, windows)))]
mod watch_list;

#[cfg(feature = "chaos")]
pub mod chaos;
#[cfg(all(feature = "iocp", windows))]
pub mod iocp;
#[cfg(all(feature = "mio", any(unix, windows)))]
pub mod mio;
#[cfg(all(feature = "poll", any(unix, windows)))]
pub mod poll;
#[cfg(all(feature = "polling", any(unix, windows)))]
pub mod polling;
#[cfg(all(feature = "select", any(unix, windows)))]
pub mod select;
#[cfg(all(feature = "uring", target_os = "linux"))]
pub mod uring;

pub use backend::{Backend, Triggering};
pub use error::Error;
pub use event::{Event, Events, Interest, Ready, Token};
pub use registered::{AsBackend, Registered};
pub use sys::{
    AsSocketHandle, AsSource, Datagram, MAX_IO_SLICES, RawSource, SEND_FLAGS, connect_in_progress,
    recv_datagram,
};
#[cfg(unix)]
pub use sys::{PeerCredentials, peer_credentials};
