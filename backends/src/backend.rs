//! The `Backend` trait: the contract between plexio's reactor and an I/O multiplexing
//! mechanism.

use std::fmt::Debug;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use crate::{Events, Interest, RawSource, Token};

/// How a backend reports readiness, so that the reactor can give every backend one behaviour.
///
/// Whatever the mode, the futures above the reactor see the same rule: readiness, once
/// observed, persists until an operation returns `WouldBlock`, and only then is it cleared,
/// unless a newer event arrived meanwhile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Triggering {
    /// An event is reported each time a direction *becomes* ready (epoll `EPOLLET`, kqueue
    /// `EV_CLEAR`, mio everywhere it is edge-triggered). The reactor registers both
    /// directions once and never re-arms.
    Edge,
    /// After a source is reported, the backend reports nothing more for it until it is
    /// re-armed with [`Backend::reregister`] (`EPOLLONESHOT`, `EV_ONESHOT`, event ports,
    /// IOCP/AFD polls, and plexio's own `select`/`poll` backends, which leave a reported
    /// source out of the next wait). The reactor re-arms exactly the directions a task is
    /// waiting on and that are not already known to be ready.
    Oneshot,
    /// Every poll reports a source while it is ready in an armed direction (plain `select`,
    /// `poll`, epoll without `EPOLLET`). The reactor narrows the interest with
    /// [`Backend::reregister`] to the directions a task waits on and that are not already
    /// known to be ready, so that a ready source nobody reads does not turn every poll into
    /// an immediate return.
    Level,
}

/// An I/O multiplexing mechanism: registers sockets and waits for their readiness.
///
/// plexio's reactor drives one backend per runtime. Implement this trait to run plexio on a
/// mechanism of your own and hand it to `Runtime::builder().custom_backend(...)`.
///
/// # The contract
///
/// A backend must guarantee all of the following; plexio's conformance tests check them for
/// every backend it ships.
///
/// * **Threads.** [`poll`](Backend::poll) is called by one thread at a time. `register`,
///   `reregister`, `deregister` and [`notify`](Backend::notify) may be called from any thread
///   at any time, including while `poll` is blocked on another thread; a change takes effect
///   no later than the next call of `poll` (a backend whose blocked wait cannot see the
///   change must interrupt it).
/// * **Triggering.** Events follow the mode [`triggering`](Backend::triggering) returns, and
///   that mode never changes over the backend's life.
/// * **No lost readiness.** A direction that is armed and becomes ready is reported by some
///   later `poll`, even if the [`Events`] buffer was full when it happened: a backend stops
///   at the buffer's capacity and reports the rest next time.
/// * **Spurious events are allowed.** A backend may report a direction that is not ready,
///   or was not asked for; the reactor treats every event as a hint and lets the operation
///   decide. A backend must not, however, report the *same* unchanged readiness over and
///   over for a direction that is not armed (that would turn the reactor into a busy loop).
/// * **Deregistration.** Once `deregister` has returned, no `poll` that *starts* afterwards
///   reports the source's token. A `poll` already blocked on another thread may still return
///   an event it collected before; the reactor drops those, because its tokens carry a
///   generation that a deregistered registration never gets back.
/// * **Timeouts.** `poll(.., Some(t))` returns after an event, a [`notify`](Backend::notify),
///   or once at least `t` has passed; a mechanism with a coarse clock rounds `t` *up*, so
///   that a timer is never polled for in a loop of zero-length waits. `Some(Duration::ZERO)`
///   does not block. `None` waits until an event or a notify.
/// * **Notify.** `notify` wakes the current or the next `poll` on any thread. Calling it
///   many times before a poll is one wake; a notification that is already pending (a full
///   pipe, say) is a success, never an error.
/// * **Interrupts.** `poll` may return `Err` of kind [`io::ErrorKind::Interrupted`]; the
///   reactor treats it as a wake with no events.
/// * **Closed descriptors.** A source must be deregistered before it is closed (the
///   `Safety` section of [`register`](Backend::register)). If a registered descriptor is
///   closed anyway, the backend must stay memory-safe and keep serving its other sources; it
///   may report the dead source with [`Ready::ERROR`](crate::Ready::ERROR), silently forget
///   it, or fail one `poll`.
/// * **Unknown sources.** The safe methods take any value: `reregister` and `deregister`
///   refuse every source the backend does not hold (one never registered, one deregistered
///   already, a number that is no open socket at all: -1, `INVALID_SOCKET`, a closed
///   descriptor) with [`io::ErrorKind::NotFound`], touch neither it nor any other source,
///   and never panic. plexio's own backends keep a record of what they registered to tell,
///   and carry [`Error::NotRegistered`](crate::Error::NotRegistered) as the error's source.
///   Whether a source is registered is the backend's record, not the descriptor's state: a
///   number that was closed while registered (a broken `register` contract, see above) stays
///   registered until it is deregistered, and `register` refuses it meanwhile.
/// * **Limits.** A source the mechanism cannot hold is refused by `register` with an error,
///   never accepted and then ignored: the `select` backends refuse a descriptor at or above
///   `FD_SETSIZE` on Unix, and more sockets than their set holds on Windows.
pub trait Backend: Send + Sync + Debug {
    /// The backend's name, as accepted by `Runtime::builder().backend(name)` and
    /// `PLEXIO_BACKEND` for plexio's own backends.
    fn name(&self) -> &'static str;

    /// How this backend reports readiness.
    fn triggering(&self) -> Triggering;

    /// Starts watching `source` for `interest` and reports it with `token`.
    ///
    /// Fails with [`io::ErrorKind::AlreadyExists`] if the source is registered already (the
    /// first registration stands, token and interest unchanged),
    /// [`io::ErrorKind::InvalidInput`] for [`Token::RESERVED`], and with the mechanism's own
    /// limit error (see [`crate::Error`]) where the source does not fit.
    ///
    /// # Safety
    ///
    /// `source` must be an open socket, and it must stay open until a
    /// [`Backend::deregister`] for it has returned: some mechanisms (IOCP/AFD) keep
    /// operations in flight on the handle, and a backend may lend the handle to its
    /// mechanism in `reregister` and `deregister`. plexio's reactor upholds this through
    /// [`Registered`](crate::Registered), which owns the socket and deregisters it before it
    /// closes.
    unsafe fn register(
        &self,
        source: RawSource,
        token: Token,
        interest: Interest,
    ) -> io::Result<()>;

    /// Changes the token and interest of a registered source (and re-arms it on a
    /// [`Triggering::Oneshot`] backend). An empty interest keeps the source registered and
    /// unarmed; a mechanism that cannot express it (mio) may then report the source
    /// spuriously, but, as for any unarmed direction, not the same readiness in every poll.
    /// Fails with [`io::ErrorKind::NotFound`] for any source that is not registered, and
    /// does not register it (see *Unknown sources* in the contract).
    fn reregister(&self, source: RawSource, token: Token, interest: Interest) -> io::Result<()>;

    /// Stops watching a registered source. Fails with [`io::ErrorKind::NotFound`] for any
    /// source that is not registered, a second deregistration included, and touches no
    /// source then (see *Unknown sources* in the contract).
    fn deregister(&self, source: RawSource) -> io::Result<()>;

    /// Waits for readiness and adds what it saw to `events` (which the caller cleared), up to
    /// its capacity. See the contract above for `timeout`.
    fn poll(&self, events: &mut Events, timeout: Option<Duration>) -> io::Result<()>;

    /// Wakes the `poll` that is blocked now, or else the next one, from any thread.
    fn notify(&self) -> io::Result<()>;

    /// Whether a read that returns less than it asked for may be taken as having emptied a
    /// stream socket, so that the reactor forgets the socket's readiness without a read that
    /// would only return `WouldBlock` (one system call less per message).
    ///
    /// A backend may return `true` only if it is [`Triggering::Edge`], reports the next data
    /// or end of stream that reaches an emptied socket as a new event, reports the peer's
    /// end of stream with [`Ready::READ_CLOSED`](crate::Ready::READ_CLOSED) in every event
    /// that follows it (so that an end of stream that arrived together with the data read is
    /// not lost with the readiness), and reports pending TCP urgent data with
    /// [`Ready::PRIORITY`](crate::Ready::PRIORITY) in every event while it is pending (a read
    /// stops short at the urgent mark with bytes queued behind it; the reactor does not take
    /// a short read as draining while `PRIORITY` is known). The reactor counts only the
    /// slices a vectored read actually hands the system ([`MAX_IO_SLICES`](crate::MAX_IO_SLICES)).
    /// The default, `false`, is always safe.
    fn short_reads_drain(&self) -> bool {
        false
    }
}

/// Forwards every method; lets a shared or boxed backend be wrapped or handed on.
macro_rules! forward_backend {
    ($pointer:ident) => {
        impl<B: Backend + ?Sized> Backend for $pointer<B> {
            fn name(&self) -> &'static str {
                (**self).name()
            }

            fn triggering(&self) -> Triggering {
                (**self).triggering()
            }

            unsafe fn register(
                &self,
                source: RawSource,
                token: Token,
                interest: Interest,
            ) -> io::Result<()> {
                // SAFETY: the caller upholds `register`'s contract, which is the same for the
                // backend behind the pointer.
                unsafe { (**self).register(source, token, interest) }
            }

            fn reregister(
                &self,
                source: RawSource,
                token: Token,
                interest: Interest,
            ) -> io::Result<()> {
                (**self).reregister(source, token, interest)
            }

            fn deregister(&self, source: RawSource) -> io::Result<()> {
                (**self).deregister(source)
            }

            fn poll(&self, events: &mut Events, timeout: Option<Duration>) -> io::Result<()> {
                (**self).poll(events, timeout)
            }

            fn notify(&self) -> io::Result<()> {
                (**self).notify()
            }

            fn short_reads_drain(&self) -> bool {
                (**self).short_reads_drain()
            }
        }
    };
}

forward_backend!(Box);
forward_backend!(Arc);
