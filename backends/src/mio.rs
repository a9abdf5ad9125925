//! The `mio` backend: epoll on Linux and Android, kqueue on macOS, iOS and the BSDs, and
//! IOCP with the AFD driver on Windows, through the mio crate.
//!
//! On Unix, sources are registered edge-triggered, as mio always does: an event arrives when
//! a direction becomes ready, and the reactor keeps the readiness until an operation says
//! `WouldBlock`. Timeouts are rounded up to whole milliseconds by mio (its epoll selector adds
//! 999,999 ns before truncating), so a timer is never polled for in a loop of zero waits.
//!
//! On Windows, mio registers only its own socket types. A raw socket is therefore wrapped in
//! a `mio::net::TcpStream` that never closes it (the AFD poll works on any socket's base
//! handle, whatever its type). mio emulates readiness there with one AFD poll per socket: once
//! it reports a direction, it removes that direction from the socket's interest
//! (`SockState::feed_event` in mio's `sys/windows/selector.rs`) and re-arms only when mio's
//! own I/O wrappers see `WouldBlock`, which plexio's raw I/O bypasses, or on `reregister`.
//! So on Windows this backend is [`Triggering::Oneshot`], and the reactor re-arms through
//! `reregister`.
//!
//! On Linux and Android the read interest includes `EPOLLPRI`, so that every event reports
//! pending TCP urgent data as [`Ready::PRIORITY`]: a read stops short at the urgent mark
//! there, and the reactor must not take that short read as having emptied the socket.
//!
//! mio answers for a source it does not hold as its mechanism does: `EBADF` from epoll for a
//! number that is not open, and from kqueue a registration for `reregister` and a success
//! for `deregister`. So the backend keeps the record itself and refuses such a value with
//! `NotFound` before mio sees it: a `SourceSet` (`source_set.rs`) on Unix, and on Windows
//! the table of socket wrappers it keeps anyway.
//!
//! mio cannot express an empty interest; [`Interest::NONE`] keeps `READABLE` armed, which
//! yields at most one spurious event per change of state (allowed by the contract).

use std::fmt;
use std::io;
#[cfg(unix)]
use std::os::fd::AsRawFd;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::{Backend, Event, Events, Interest, RawSource, Ready, Token, Triggering};

/// The mio backend. See the [module documentation](self).
pub struct MioBackend {
    /// The poller and its event buffer; only the polling thread locks it.
    poller: Mutex<(mio::Poll, mio::Events)>,
    registry: mio::Registry,
    waker: mio::Waker,
    /// Set by the `notify` that wakes the poller and cleared when the poller takes the wake,
    /// so that many notifies make one. mio does not coalesce them everywhere: on Windows
    /// each `Waker::wake` posts a completion packet of its own, and a burst of them would end
    /// poll after poll (notifier saturation, mio#909).
    notified: AtomicBool,
    /// What the registry holds: every source registered with it and not yet deregistered.
    #[cfg(unix)]
    sources: crate::source_set::SourceSet,
    #[cfg(windows)]
    sockets: windows::Sockets,
}

impl MioBackend {
    /// Creates the poller (an epoll or kqueue instance, or an I/O completion port).
    pub fn new() -> io::Result<MioBackend> {
        let poll = mio::Poll::new()?;
        let registry = poll.registry().try_clone()?;
        let waker = mio::Waker::new(&registry, mio::Token(Token::RESERVED.0))?;
        Ok(MioBackend {
            poller: Mutex::new((poll, mio::Events::with_capacity(1024))),
            registry,
            waker,
            notified: AtomicBool::new(false),
            #[cfg(unix)]
            sources: crate::source_set::SourceSet::new("mio"),
            #[cfg(windows)]
            sockets: windows::Sockets::default(),
        })
    }
}

/// mio's interest for ours; see the module documentation for the empty interest and for
/// urgent data.
fn mio_interest(interest: Interest) -> mio::Interest {
    match (interest.is_readable(), interest.is_writable()) {
        (true, true) => read_interest() | mio::Interest::WRITABLE,
        (false, true) => mio::Interest::WRITABLE,
        _ => read_interest(),
    }
}

/// What reading asks of mio: readability and, where epoll can report it, urgent data.
fn read_interest() -> mio::Interest {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    return mio::Interest::READABLE | mio::Interest::PRIORITY;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    return mio::Interest::READABLE;
}

fn ready(event: &mio::event::Event) -> Ready {
    let mut ready = Ready::EMPTY;
    if event.is_readable() {
        ready |= Ready::READABLE;
    }
    if event.is_writable() {
        ready |= Ready::WRITABLE;
    }
    if event.is_read_closed() {
        ready |= Ready::READ_CLOSED;
    }
    if event.is_write_closed() {
        ready |= Ready::WRITE_CLOSED;
    }
    if event.is_error() {
        ready |= Ready::ERROR;
    }
    if event.is_priority() {
        ready |= Ready::PRIORITY;
    }
    ready
}

fn check_token(token: Token) -> io::Result<()> {
    if token == Token::RESERVED {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "Token::RESERVED is not for registrations",
        ));
    }
    Ok(())
}

impl Backend for MioBackend {
    fn name(&self) -> &'static str {
        "mio"
    }

    fn triggering(&self) -> Triggering {
        if cfg!(windows) { Triggering::Oneshot } else { Triggering::Edge }
    }

    fn short_reads_drain(&self) -> bool {
        // epoll (`EPOLLET`, with `EPOLLRDHUP` and `EPOLLPRI`) reports each arrival on an
        // emptied socket, the end of stream, and pending urgent data as flags of their own.
        // kqueue reports no urgent data through mio, and a read stops short at the urgent
        // mark there too, so a short read proves nothing; on Windows mio is oneshot over AFD
        // polls.
        cfg!(any(target_os = "linux", target_os = "android"))
    }

    unsafe fn register(
        &self,
        source: RawSource,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        check_token(token)?;
        #[cfg(unix)]
        let add = || {
            self.registry.register(
                &mut mio::unix::SourceFd(&source),
                mio::Token(token.0),
                mio_interest(interest),
            )
        };
        #[cfg(unix)]
        // SAFETY: our caller keeps `source` open until it has been deregistered (the contract
        // of `register`), which is what the set needs.
        return unsafe { self.sources.register(source, add) };
        #[cfg(windows)]
        // SAFETY: our caller keeps `source` open until it is deregistered (the contract of
        // `register`), which is what `Sockets::register` needs.
        return unsafe {
            self.sockets.register(
                &self.registry,
                source,
                mio::Token(token.0),
                mio_interest(interest),
            )
        };
    }

    fn reregister(&self, source: RawSource, token: Token, interest: Interest) -> io::Result<()> {
        check_token(token)?;
        #[cfg(unix)]
        return self.sources.reregister(source, |source| {
            self.registry.reregister(
                &mut mio::unix::SourceFd(&source.as_raw_fd()),
                mio::Token(token.0),
                mio_interest(interest),
            )
        });
        #[cfg(windows)]
        return self.sockets.reregister(
            &self.registry,
            source,
            mio::Token(token.0),
            mio_interest(interest),
        );
    }

    fn deregister(&self, source: RawSource) -> io::Result<()> {
        #[cfg(unix)]
        return self.sources.deregister(source, |source| {
            self.registry.deregister(&mut mio::unix::SourceFd(&source.as_raw_fd()))
        });
        #[cfg(windows)]
        return self.sockets.deregister(&self.registry, source);
    }

    fn poll(&self, events: &mut Events, timeout: Option<Duration>) -> io::Result<()> {
        let mut poller = self.poller.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let (poll, received) = &mut *poller;
        // Edge-triggered: an event the kernel hands over but we cannot keep is lost, so never
        // take more than the caller's buffer holds.
        let room = events.capacity() - events.len();
        if received.capacity() != room {
            *received = mio::Events::with_capacity(room.max(1));
        }
        poll.poll(received, timeout)?;
        for event in received.iter() {
            if event.token().0 == Token::RESERVED.0 {
                // A notify from now on needs a wake of its own; one that came before this
                // store is answered by the poll that is returning.
                self.notified.store(false, Ordering::Release);
                continue;
            }
            events.push(Event { token: Token(event.token().0), ready: ready(event) });
        }
        Ok(())
    }

    fn notify(&self) -> io::Result<()> {
        if self.notified.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        self.waker.wake().inspect_err(|_| self.notified.store(false, Ordering::Release))
    }
}

impl fmt::Debug for MioBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MioBackend").field("triggering", &self.triggering()).finish()
    }
}

#[cfg(windows)]
mod windows {
    //! Raw sockets registered through mio's own socket type.

    use std::collections::HashMap;
    use std::io;
    use std::mem::ManuallyDrop;
    use std::os::windows::io::{FromRawSocket, IntoRawSocket};
    use std::sync::Mutex;

    use crate::{Error, RawSource};

    /// The wrappers of the registered sockets, by raw socket.
    ///
    /// # Invariant
    ///
    /// Each wrapper borrows a socket its registrant keeps open until `deregister`; a wrapper
    /// is never dropped (that would close the socket), only released with `into_raw_socket`.
    #[derive(Default)]
    pub(super) struct Sockets(Mutex<HashMap<RawSource, ManuallyDrop<mio::net::TcpStream>>>);

    impl Sockets {
        fn lock(
            &self,
        ) -> std::sync::MutexGuard<'_, HashMap<RawSource, ManuallyDrop<mio::net::TcpStream>>>
        {
            self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
        }

        /// # Safety
        ///
        /// `source` must stay open until `deregister` is called for it.
        pub(super) unsafe fn register(
            &self,
            registry: &mio::Registry,
            source: RawSource,
            token: mio::Token,
            interest: mio::Interest,
        ) -> io::Result<()> {
            let mut sockets = self.lock();
            if sockets.contains_key(&source) {
                return Err(Error::AlreadyRegistered { descriptor: source, backend: "mio" }.into());
            }
            // SAFETY: the socket is open and stays open while registered (this function's
            // contract); the wrapper is never dropped, so it never closes it (the invariant).
            let mut socket =
                ManuallyDrop::new(unsafe { mio::net::TcpStream::from_raw_socket(source) });
            registry.register(&mut *socket, token, interest)?;
            sockets.insert(source, socket);
            Ok(())
        }

        pub(super) fn reregister(
            &self,
            registry: &mio::Registry,
            source: RawSource,
            token: mio::Token,
            interest: mio::Interest,
        ) -> io::Result<()> {
            let mut sockets = self.lock();
            let socket = sockets.get_mut(&source).ok_or_else(|| not_registered(source))?;
            registry.reregister(&mut **socket, token, interest)
        }

        pub(super) fn deregister(
            &self,
            registry: &mio::Registry,
            source: RawSource,
        ) -> io::Result<()> {
            let mut socket = self.lock().remove(&source).ok_or_else(|| not_registered(source))?;
            let result = registry.deregister(&mut *socket);
            // Hand the socket back to its owner without closing it.
            let _ = ManuallyDrop::into_inner(socket).into_raw_socket();
            result
        }
    }

    fn not_registered(source: RawSource) -> io::Error {
        Error::NotRegistered { descriptor: source, backend: "mio" }.into()
    }
}
