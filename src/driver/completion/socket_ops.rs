//! What one socket has in flight on a completion runtime, and the socket operations built
//! on it: stream reads through a buffer the socket owns (the caller lends `&mut [u8]`, the
//! kernel needs a buffer it can keep), writes copied into an owned buffer and reported as
//! written at once, accepts, and the owned-buffer operations that hand the caller's own
//! buffer to the kernel.

use std::io;
use std::net::Shutdown;
use std::net::SocketAddr;
use std::task::{Context, Poll, Waker, ready};

use plexio_backends::Token;
use plexio_backends::completion::{Operation, SharedSource};
use socket2::{SockRef, Socket};

use super::{Inner, OpId, Proactor};

/// The most a read asks the kernel for at once through the socket's own buffer.
const MAX_READ_BUFFER: usize = 64 << 10;

/// The least it asks for: what an idle connection's receive in flight holds. The size
/// adapts between the two: a receive that fills its buffer doubles the next one, one that
/// uses less than a quarter halves it; so a connection of small messages holds a small
/// buffer while it waits, and a stream grows to the largest.
const MIN_READ_BUFFER: usize = 512;

/// The most one write copies into the socket's send buffer; a larger write is short, as
/// `AsyncWrite` allows.
const MAX_WRITE_COPY: usize = 64 << 10;

/// One socket's operations in flight and what they left behind.
///
/// Every connection of a completion runtime has one, so it is kept small: what only a few
/// sockets need (a listener, a write error, a deferred shutdown) is in [`Rare`], made the
/// first time one of them does.
#[derive(Debug, Default)]
pub(crate) struct SocketOps {
    /// The receive (datagram receive, accept) in flight: one at a time, adopted by the
    /// socket when the future that started it is dropped.
    read: Option<OpId>,
    /// The send in flight, and whether its bytes were reported as written (then it is a
    /// write-behind send, which the proactor sees through, and `write_waker` waits for it).
    write: Option<OpId>,
    write_reported: bool,
    /// Whether the socket's task waits for readiness with nothing to read: then a send that
    /// finishes gives its buffer back rather than keep it for the next write (see
    /// [`SocketOps::wait_for_readiness`]).
    idle: bool,
    /// Bytes received and not yet read: `received[taken..]`. Its allocation is reused for
    /// the next receive.
    received: Vec<u8>,
    taken: usize,
    /// How much the next receive through the socket's own buffer asks for (see
    /// [`MIN_READ_BUFFER`]); 0 until the first.
    receive_size: usize,
    write_waker: Option<Waker>,
    /// The buffer of the last send, reused by the next copied write.
    spare_write: Vec<u8>,
    rare: Option<Box<Rare>>,
}

/// What few sockets need; see [`SocketOps`].
#[derive(Debug, Default)]
struct Rare {
    /// The error of a write-behind send, for the next write or flush.
    write_error: Option<io::Error>,
    /// A shutdown asked for while a write-behind send was in flight: done after it.
    shutdown_after: Option<Shutdown>,
    /// A listener with an accept in flight: shut down when its owner drops it, so that it
    /// stops listening at once (its port free to bind again) although the cancelled
    /// accept keeps the descriptor open until the kernel hands it back.
    listener: Option<SharedSource>,
}

/// Whether a completion says "nothing happened, submit again" (allowed by the driver
/// contract).
fn again(error: &io::Error) -> bool {
    matches!(error.kind(), io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock)
}

impl SocketOps {
    /// Whether bytes received earlier wait to be read.
    pub(super) fn has_received(&self) -> bool {
        self.taken < self.received.len()
    }

    fn rare(&mut self) -> &mut Rare {
        self.rare.get_or_insert_with(Box::default)
    }

    fn take_write_error(&mut self) -> Option<io::Error> {
        self.rare.as_mut().and_then(|rare| rare.write_error.take())
    }

    /// The receive (or accept) in flight, if any.
    pub(super) fn read_in_flight(&self) -> Option<OpId> {
        self.read
    }

    /// The socket's task waits for readiness with nothing received to read: the connection
    /// is idle, or about to be. The buffers kept for reuse go (a receive in flight keeps
    /// its own), and so does the buffer of the send in flight when it finishes: a waiting
    /// connection holds no buffer of its own beyond what the kernel has, until it reads
    /// or writes again.
    pub(super) fn wait_for_readiness(&mut self) {
        self.idle = true;
        self.received = Vec::new();
        self.taken = 0;
        if self.write.is_none() {
            self.spare_write = Vec::new();
        }
    }

    /// Whether the socket has nothing here that its registration moving to another ring
    /// would leave behind: no receive, accept or send in flight (in this ring, with this
    /// ring's buffers), no bytes received and not yet read, no write error to report.
    pub(super) fn nothing_to_leave_behind(&self) -> bool {
        self.read.is_none()
            && self.write.is_none()
            && !self.has_received()
            && self.rare.as_ref().is_none_or(|rare| rare.write_error.is_none())
    }

    /// The send in flight and the waker of a flush waiting for it, if any.
    pub(super) fn write_in_flight(&self) -> (Option<OpId>, Option<&Waker>) {
        (self.write, self.write_waker.as_ref())
    }

    /// Replaces the receive in flight (one submitted again).
    pub(super) fn set_read_in_flight(&mut self, read: Option<OpId>) {
        self.read = read;
    }

    /// A write-behind send is over: records its outcome, makes the shutdown that waited
    /// for it, and returns the writer to wake.
    pub(super) fn write_behind_done(
        &mut self,
        result: io::Result<()>,
        operation: Operation,
    ) -> Option<Waker> {
        self.write = None;
        if let Err(error) = result {
            self.rare().write_error = Some(error);
        }
        if let Operation::Send { source, buffer, .. } = operation {
            if let Some(how) = self.rare.as_mut().and_then(|rare| rare.shutdown_after.take()) {
                let handle = plexio_backends::AsSocketHandle::as_socket_handle(&*source);
                if let Err(error) = SockRef::from(&handle).shutdown(how) {
                    if error.kind() != io::ErrorKind::NotConnected {
                        self.rare().write_error.get_or_insert(error);
                    }
                }
            }
            if !self.idle {
                self.spare_write = buffer;
            }
        }
        self.write_waker.take()
    }

    /// Lets go of what is in flight; the socket's registration is being dropped. A receive
    /// or accept is cancelled; a send whose bytes were reported as written is left to finish
    /// (it keeps the socket open until it does, as the kernel keeps sending what a closed
    /// socket had queued).
    pub(super) fn release(self, inner: &mut Inner, proactor: &Proactor) -> Vec<Operation> {
        let mut dropped = Vec::new();
        if let Some(id) = self.read {
            dropped.extend(inner.detach(proactor, id, true));
            if let Some(listener) = self.rare.as_ref().and_then(|rare| rare.listener.as_ref()) {
                let handle = plexio_backends::AsSocketHandle::as_socket_handle(&**listener);
                // Not listening any more; an error leaves it listening until it closes.
                let _ = SockRef::from(&handle).shutdown(Shutdown::Both);
            }
        }
        if let Some(id) = self.write {
            dropped.extend(inner.detach(proactor, id, !self.write_reported));
        }
        dropped
    }
}

impl Inner {
    fn submit_or_fail(
        &mut self,
        proactor: &Proactor,
        operation: Operation,
    ) -> Result<OpId, (io::Error, Vec<u8>)> {
        self.submit(proactor, operation)
            .map_err(|(error, operation)| (error, operation.into_buffer()))
    }

    /// A stream read into `buffer`, through the socket's own buffer.
    pub(crate) fn poll_read(
        &mut self,
        proactor: &Proactor,
        token: Token,
        source: &dyn Fn() -> SharedSource,
        cx: &mut Context<'_>,
        buffer: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if buffer.is_empty() {
            return Poll::Ready(Ok(0));
        }
        loop {
            let ops = self.socket(token);
            ops.idle = false;
            if ops.taken < ops.received.len() {
                let available = &ops.received[ops.taken..];
                let n = available.len().min(buffer.len());
                buffer[..n].copy_from_slice(&available[..n]);
                ops.taken += n;
                return Poll::Ready(Ok(n));
            }
            match ops.read {
                Some(id) => {
                    let (result, operation) = ready!(self.poll_op(id, cx));
                    let ops = self.socket(token);
                    ops.read = None;
                    let received = operation.into_buffer();
                    match result {
                        Ok(_) if !received.is_empty() => {
                            ops.receive_size = if received.len() >= ops.receive_size {
                                (ops.receive_size * 2).min(MAX_READ_BUFFER)
                            } else if received.len() < ops.receive_size / 4 {
                                (ops.receive_size / 2).max(MIN_READ_BUFFER)
                            } else {
                                ops.receive_size
                            };
                            ops.received = received;
                            ops.taken = 0;
                        }
                        Ok(_) => {
                            ops.received = received;
                            return Poll::Ready(Ok(0));
                        }
                        Err(error) if again(&error) => ops.received = received,
                        Err(error) => {
                            ops.received = received;
                            return Poll::Ready(Err(error));
                        }
                    }
                }
                None => {
                    let mut internal = std::mem::take(&mut ops.received);
                    internal.clear();
                    ops.taken = 0;
                    if ops.receive_size == 0 {
                        ops.receive_size = MIN_READ_BUFFER;
                    }
                    let wanted = buffer.len().min(ops.receive_size);
                    if internal.capacity() > 2 * wanted.max(MIN_READ_BUFFER) {
                        // Grown for a burst that is over: an idle connection's receive
                        // should not hold it.
                        internal = Vec::new();
                    }
                    internal.reserve_exact(wanted);
                    let operation = Operation::Receive { source: source(), buffer: internal };
                    match self.submit_or_fail(proactor, operation) {
                        Ok(id) => self.socket(token).read = Some(id),
                        Err((error, internal)) => {
                            self.socket(token).received = internal;
                            return Poll::Ready(Err(error));
                        }
                    }
                }
            }
        }
    }

    /// Waits for the send in flight (a write-behind one, or an owned one whose future was
    /// dropped) and reports the error of a write-behind send.
    pub(crate) fn poll_flush(
        &mut self,
        _proactor: &Proactor,
        token: Token,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            let ops = self.socket(token);
            let Some(id) = ops.write else {
                return Poll::Ready(match ops.take_write_error() {
                    Some(error) => Err(error),
                    None => Ok(()),
                });
            };
            if ops.write_reported {
                match &ops.write_waker {
                    Some(waker) if waker.will_wake(cx.waker()) => {}
                    _ => ops.write_waker = Some(cx.waker().clone()),
                }
                return Poll::Pending;
            }
            // An owned send whose future was dropped: its outcome is nobody's now.
            let (_, operation) = ready!(self.poll_op(id, cx));
            let ops = self.socket(token);
            ops.write = None;
            ops.spare_write = operation.into_buffer();
        }
    }

    /// Shuts the stream down now, or, for the write side while a write-behind send is in
    /// flight, right after it (what writes reported as written goes out first).
    pub(crate) fn shutdown(
        &mut self,
        token: Token,
        how: Shutdown,
        now: impl FnOnce(Shutdown) -> io::Result<()>,
    ) -> io::Result<()> {
        let ops = self.socket(token);
        if ops.write.is_some() && ops.write_reported && how != Shutdown::Read {
            if how == Shutdown::Both {
                now(Shutdown::Read)?;
            }
            ops.rare().shutdown_after = Some(Shutdown::Write);
            return Ok(());
        }
        now(how)
    }

    /// A stream write: waits for the send in flight, then copies `buffer` into the socket's
    /// send buffer, starts sending it and reports it written at once (a later write or flush
    /// waits for it and reports its error). Never `Pending` for bytes it has taken.
    pub(crate) fn poll_write(
        &mut self,
        proactor: &Proactor,
        token: Token,
        source: &dyn Fn() -> SharedSource,
        cx: &mut Context<'_>,
        buffer: &[u8],
    ) -> Poll<io::Result<usize>> {
        if buffer.is_empty() {
            return Poll::Ready(Ok(0));
        }
        ready!(self.poll_flush(proactor, token, cx))?;
        let ops = self.socket(token);
        ops.idle = false;
        let mut copy = std::mem::take(&mut ops.spare_write);
        copy.clear();
        let taken = buffer.len().min(MAX_WRITE_COPY);
        copy.extend_from_slice(&buffer[..taken]);
        let send = Operation::Send { source: source(), buffer: copy, offset: 0 };
        match self
            .submit_write_behind(proactor, token, send)
            .map_err(|(error, operation)| (error, operation.into_buffer()))
        {
            Ok(id) => {
                let ops = self.socket(token);
                ops.write = Some(id);
                ops.write_reported = true;
                Poll::Ready(Ok(taken))
            }
            Err((error, copy)) => {
                self.socket(token).spare_write = copy;
                Poll::Ready(Err(error))
            }
        }
    }

    /// Accepts a connection; the accept in flight stays with the listener if the caller
    /// goes away, so the next accept takes its connection.
    pub(crate) fn poll_accept(
        &mut self,
        proactor: &Proactor,
        token: Token,
        source: &dyn Fn() -> SharedSource,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<(Socket, Option<SocketAddr>)>> {
        loop {
            match self.socket(token).read {
                Some(id) => {
                    let (result, operation) = ready!(self.poll_op(id, cx));
                    self.socket(token).read = None;
                    match (result, operation) {
                        (Ok(_), Operation::Accept { accepted: Some(socket), peer, .. }) => {
                            return Poll::Ready(Ok((socket, peer)));
                        }
                        (Err(error), _) if again(&error) => {}
                        (Err(error), _) => return Poll::Ready(Err(error)),
                        (Ok(_), _) => {
                            return Poll::Ready(Err(io::Error::other(
                                "the driver completed an accept without a connection",
                            )));
                        }
                    }
                }
                None => {
                    let listener = source();
                    self.socket(token).rare().listener.get_or_insert_with(|| listener.clone());
                    let operation = Operation::Accept { listener, accepted: None, peer: None };
                    match self.submit(proactor, operation) {
                        Ok(id) => self.socket(token).read = Some(id),
                        Err((error, _)) => return Poll::Ready(Err(error)),
                    }
                }
            }
        }
    }

    /// Starts an owned-buffer receive into the spare capacity of `buffer`, or finishes the
    /// one in flight: bytes received earlier (by a read whose future was dropped) are
    /// copied into `buffer` first. `slot` holds the buffer until it is handed over.
    pub(crate) fn poll_read_owned(
        &mut self,
        proactor: &Proactor,
        token: Token,
        source: &dyn Fn() -> SharedSource,
        cx: &mut Context<'_>,
        mine: &mut Option<OpId>,
        slot: &mut Option<Vec<u8>>,
    ) -> Poll<(io::Result<usize>, Vec<u8>)> {
        loop {
            let ops = self.socket(token);
            ops.idle = false;
            if let Some(buffer) = slot.as_mut() {
                if ops.taken < ops.received.len() {
                    let available = &ops.received[ops.taken..];
                    let n = available.len().min(buffer.capacity() - buffer.len());
                    buffer.extend_from_slice(&available[..n]);
                    ops.taken += n;
                    return Poll::Ready((Ok(n), slot.take().unwrap_or_default()));
                }
            }
            match (ops.read, *mine) {
                (Some(id), Some(own)) if id == own => {
                    let (result, operation) = ready!(self.poll_op(id, cx));
                    self.socket(token).read = None;
                    *mine = None;
                    match result {
                        Err(error) if again(&error) => *slot = Some(operation.into_buffer()),
                        result => return Poll::Ready((result, operation.into_buffer())),
                    }
                }
                // A receive someone else started (a read whose future was dropped): its
                // bytes go to the socket's buffer, and from there into ours.
                (Some(_), _) => {
                    if let Err(error) = ready!(self.poll_read_into_stash(token, cx)) {
                        return Poll::Ready((Err(error), slot.take().unwrap_or_default()));
                    }
                    if mine.take().is_some() {
                        // Our own receive was taken by another reader of this socket: its
                        // bytes are in the socket's buffer now, and come from there.
                        let ops = self.socket(token);
                        *slot = Some(Vec::with_capacity(ops.received.len() - ops.taken));
                    }
                }
                (None, _) => {
                    let Some(buffer) = slot.take() else {
                        return Poll::Ready((Ok(0), Vec::new()));
                    };
                    match self
                        .submit_or_fail(proactor, Operation::Receive { source: source(), buffer })
                    {
                        Ok(id) => {
                            self.socket(token).read = Some(id);
                            *mine = Some(id);
                        }
                        Err((error, buffer)) => return Poll::Ready((Err(error), buffer)),
                    }
                }
            }
        }
    }

    /// Takes the completion of the receive in flight into the socket's buffer.
    fn poll_read_into_stash(&mut self, token: Token, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Some(id) = self.socket(token).read else { return Poll::Ready(Ok(())) };
        let (result, operation) = ready!(self.poll_op(id, cx));
        let ops = self.socket(token);
        ops.read = None;
        let received = operation.into_buffer();
        match result {
            Ok(_) => {
                // Appended after what is left, so that nothing is reordered.
                if ops.taken >= ops.received.len() {
                    ops.received = received;
                    ops.taken = 0;
                } else {
                    ops.received.extend_from_slice(&received);
                }
                Poll::Ready(Ok(()))
            }
            Err(error) if again(&error) => Poll::Ready(Ok(())),
            Err(error) => Poll::Ready(Err(error)),
        }
    }

    /// Starts an owned-buffer send of `buffer[offset..]` after the send in flight, or
    /// finishes it.
    pub(crate) fn poll_write_owned(
        &mut self,
        proactor: &Proactor,
        token: Token,
        source: &dyn Fn() -> SharedSource,
        cx: &mut Context<'_>,
        mine: &mut Option<OpId>,
        slot: &mut Option<(Vec<u8>, usize)>,
    ) -> Poll<(io::Result<usize>, Vec<u8>)> {
        loop {
            if let Some(own) = *mine {
                if self.socket(token).write != Some(own) {
                    // Another writer's flush took our send's completion (writers sharing a
                    // socket): the send is over, its count is unknown here.
                    *mine = None;
                    let lost = io::Error::other("the send's completion went to another writer");
                    return Poll::Ready((Err(lost), Vec::new()));
                }
                let (result, operation) = ready!(self.poll_op(own, cx));
                self.socket(token).write = None;
                *mine = None;
                let Operation::Send { buffer, offset, .. } = operation else {
                    unreachable!("a stream's write slot holds sends")
                };
                match result {
                    Err(error) if again(&error) => *slot = Some((buffer, offset)),
                    result => return Poll::Ready((result, buffer)),
                }
                continue;
            }
            if let Err(error) = ready!(self.poll_flush(proactor, token, cx)) {
                let buffer = slot.take().map(|(buffer, _)| buffer).unwrap_or_default();
                return Poll::Ready((Err(error), buffer));
            }
            let Some((buffer, offset)) = slot.take() else {
                return Poll::Ready((Ok(0), Vec::new()));
            };
            match self
                .submit_or_fail(proactor, Operation::Send { source: source(), buffer, offset })
            {
                Ok(id) => {
                    let ops = self.socket(token);
                    ops.write = Some(id);
                    ops.write_reported = false;
                    *mine = Some(id);
                }
                Err((error, buffer)) => return Poll::Ready((Err(error), buffer)),
            }
        }
    }
}
