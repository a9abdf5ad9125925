//! The socket operations that each driver runs its own way: on a completion runtime they go
//! to the proactor (`driver::completion`), on a readiness runtime they run as the readiness
//! loop of the same [`Operation`] description (`Operation::run_now` once the socket is
//! ready). The net types call these and never ask which model runs underneath.

use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use plexio_backends::completion::{Operation, SharedSource, SocketSource};
use plexio_backends::{AsSource, Interest, Ready};
use socket2::Socket;

use super::Registration;
use crate::driver::completion::{OpId, Proactor};
use crate::driver::current;
use crate::util::{coop, trace};

/// A socket shared with the operations in flight on it.
pub(crate) type Shared<T> = Arc<T>;

/// An accepted connection and its peer's address, where the driver reported it.
pub(crate) type Accepted = (Socket, Option<SocketAddr>);

impl<T> Registration<Shared<T>>
where
    T: SocketSource + 'static,
    Shared<T>: AsSource,
{
    /// The socket, shared with an operation.
    pub(crate) fn shared_source(&self) -> SharedSource {
        self.get_ref().clone()
    }

    /// The proactor, on a completion runtime, once the caller may use it here: on the
    /// runtime's thread, within its budget. `None` on a readiness runtime.
    #[inline]
    fn completion(&self, cx: &mut Context<'_>) -> Option<Poll<io::Result<&Proactor>>> {
        let reactor = self.reactor();
        let proactor = reactor.completion.as_deref()?;
        if current::polled_here(reactor) {
            self.state.home_poll();
        } else if let Err(error) = current::check_current(reactor) {
            return Some(Poll::Ready(Err(self.polled_elsewhere(error))));
        }
        Some(coop::poll_proceed(cx).map(|()| Ok(proactor)))
    }

    /// A stream read into `buffer` on a completion runtime; `None` on a readiness runtime.
    /// The readiness runtime's answer is one inlined load and test, so that the readiness
    /// backends' reads pay nothing for the completion model beside them.
    #[inline]
    pub(crate) fn poll_read_completion(
        &self,
        cx: &mut Context<'_>,
        buffer: &mut [u8],
    ) -> Option<Poll<io::Result<usize>>> {
        self.reactor().completion.as_ref()?;
        self.poll_read_on_proactor(cx, buffer)
    }

    #[inline(never)]
    fn poll_read_on_proactor(
        &self,
        cx: &mut Context<'_>,
        buffer: &mut [u8],
    ) -> Option<Poll<io::Result<usize>>> {
        let proactor = match self.completion(cx)? {
            Poll::Ready(Ok(proactor)) => proactor,
            Poll::Ready(Err(error)) => return Some(Poll::Ready(Err(error))),
            Poll::Pending => return Some(Poll::Pending),
        };
        let token = self.state.token();
        let source = || self.shared_source();
        let read = proactor.lock().poll_read(proactor, token, &source, cx, buffer);
        if read.is_pending() {
            // Whatever readiness was known, the receive in flight took it.
            self.state.forget(Ready::READABLE);
        }
        Some(read)
    }

    /// A stream write on a completion runtime; `None` on a readiness runtime (one
    /// inlined test, as for reads).
    #[inline]
    pub(crate) fn poll_write_completion(
        &self,
        cx: &mut Context<'_>,
        buffer: &[u8],
    ) -> Option<Poll<io::Result<usize>>> {
        self.reactor().completion.as_ref()?;
        self.poll_write_on_proactor(cx, buffer)
    }

    #[inline(never)]
    fn poll_write_on_proactor(
        &self,
        cx: &mut Context<'_>,
        buffer: &[u8],
    ) -> Option<Poll<io::Result<usize>>> {
        let proactor = match self.completion(cx)? {
            Poll::Ready(Ok(proactor)) => proactor,
            Poll::Ready(Err(error)) => return Some(Poll::Ready(Err(error))),
            Poll::Pending => return Some(Poll::Pending),
        };
        let token = self.state.token();
        let source = || self.shared_source();
        Some(proactor.lock().poll_write(proactor, token, &source, cx, buffer))
    }

    /// Waits until what the stream's writes took has been sent, on a completion runtime
    /// (`None` on a readiness runtime, where writes are not buffered).
    #[inline]
    pub(crate) fn poll_flush_completion(
        &self,
        cx: &mut Context<'_>,
    ) -> Option<Poll<io::Result<()>>> {
        self.reactor().completion.as_ref()?;
        let proactor = match self.completion(cx)? {
            Poll::Ready(Ok(proactor)) => proactor,
            Poll::Ready(Err(error)) => return Some(Poll::Ready(Err(error))),
            Poll::Pending => return Some(Poll::Pending),
        };
        Some(proactor.lock().poll_flush(proactor, self.state.token(), cx))
    }

    /// Accepts a connection on a completion runtime; `None` on a readiness runtime.
    pub(crate) fn poll_accept_completion(
        &self,
        cx: &mut Context<'_>,
    ) -> Option<Poll<io::Result<Accepted>>> {
        let proactor = match self.completion(cx)? {
            Poll::Ready(Ok(proactor)) => proactor,
            Poll::Ready(Err(error)) => return Some(Poll::Ready(Err(error))),
            Poll::Pending => return Some(Poll::Pending),
        };
        let token = self.state.token();
        let source = || self.shared_source();
        Some(proactor.lock().poll_accept(proactor, token, &source, cx))
    }

    /// Deregisters the socket and hands it back, unless an operation still holds it (one a
    /// dropped future left in flight on a completion runtime).
    pub(crate) fn into_unshared(self) -> io::Result<T> {
        Arc::try_unwrap(self.into_inner()?).map_err(|_| {
            io::Error::new(
                io::ErrorKind::ResourceBusy,
                "an operation of the completion driver still holds the socket; try again once \
                 it has completed",
            )
        })
    }

    /// Shuts down one or both directions with `now`; on a completion runtime, shutting the
    /// write side down while a write's copy is still being sent happens right after that
    /// send, so that what was reported written goes out before the end of the stream.
    pub(crate) fn shutdown_after_writes(
        &self,
        how: std::net::Shutdown,
        now: impl FnOnce(std::net::Shutdown) -> io::Result<()>,
    ) -> io::Result<()> {
        match self.reactor().completion.as_deref() {
            Some(proactor) => proactor.lock().shutdown(self.state.token(), how, now),
            None => now(how),
        }
    }

    /// Whether the socket's runtime runs a completion driver.
    #[inline]
    pub(crate) fn is_completion(&self) -> bool {
        self.reactor().completion.is_some()
    }

    /// Runs one operation to completion, whichever the model; the operation comes back
    /// with its buffer and outputs. On a completion runtime a dropped future cancels it, and
    /// the driver keeps its buffer until the kernel is done with it.
    pub(crate) async fn run(&self, operation: Operation) -> (io::Result<usize>, Operation) {
        let mut pending = Some(operation);
        let mut in_flight: Option<InFlight<'_>> = None;
        poll_fn(|cx| {
            let proactor = match self.completion(cx) {
                None => return self.poll_run_now(cx, &mut pending),
                Some(Poll::Ready(Ok(proactor))) => proactor,
                Some(Poll::Ready(Err(error))) => {
                    let operation = pending.take().expect("polled after completion");
                    return Poll::Ready((Err(error), operation));
                }
                Some(Poll::Pending) => return Poll::Pending,
            };
            loop {
                if let Some(running) = &mut in_flight {
                    let id = running.id.expect("an operation in flight has its slot");
                    let (result, operation) = ready!(proactor.lock().poll_op(id, cx));
                    running.id_taken();
                    in_flight = None;
                    match result {
                        Err(error) if retry(&error) => pending = Some(operation),
                        result => {
                            trace::io_error!(&result, "completion operation failed");
                            return Poll::Ready((result, operation));
                        }
                    }
                }
                let operation = pending.take().expect("polled after completion");
                match proactor.lock().submit(proactor, operation) {
                    Ok(id) => in_flight = Some(InFlight { proactor, id: Some(id) }),
                    Err((error, operation)) => return Poll::Ready((Err(error), operation)),
                }
            }
        })
        .await
    }

    /// The readiness form of [`run`](Self::run): the operation's own non-blocking call,
    /// once the socket is ready for it.
    fn poll_run_now(
        &self,
        cx: &mut Context<'_>,
        pending: &mut Option<Operation>,
    ) -> Poll<(io::Result<usize>, Operation)> {
        let operation = pending.as_mut().expect("polled after completion");
        let direction = operation.interest();
        let result = ready!(self.poll_io(cx, direction, |_| operation.run_now()));
        Poll::Ready((result, pending.take().expect("taken once")))
    }

    /// A stream receive into the spare capacity of `buffer`, handing the buffer itself to
    /// the kernel on a completion runtime; bytes a dropped read left behind come first.
    pub(crate) async fn read_owned(&self, buffer: Vec<u8>) -> (io::Result<usize>, Vec<u8>) {
        if !self.is_completion() {
            let mut operation = Operation::Receive { source: self.shared_source(), buffer };
            let capacity = spare(&operation);
            let result =
                poll_fn(|cx| self.poll_read_io(cx, capacity, |_| operation.run_now())).await;
            return (result, operation.into_buffer());
        }
        let mut slot = Some(buffer);
        let mut mine: Option<OpId> = None;
        poll_fn(|cx| {
            let proactor = match self.completion(cx) {
                Some(Poll::Ready(Ok(proactor))) => proactor,
                Some(Poll::Ready(Err(error))) => {
                    return Poll::Ready((Err(error), slot.take().unwrap_or_default()));
                }
                Some(Poll::Pending) => return Poll::Pending,
                None => unreachable!("checked above"),
            };
            let token = self.state.token();
            let source = || self.shared_source();
            let read =
                proactor.lock().poll_read_owned(proactor, token, &source, cx, &mut mine, &mut slot);
            if read.is_pending() {
                self.state.forget(Ready::READABLE);
            }
            read
        })
        .await
    }

    /// A stream send of `buffer[offset..]`, handing the buffer itself to the kernel on a
    /// completion runtime, after what earlier writes took has been sent.
    pub(crate) async fn write_owned(
        &self,
        buffer: Vec<u8>,
        offset: usize,
    ) -> (io::Result<usize>, Vec<u8>) {
        if !self.is_completion() {
            let mut operation = Operation::Send { source: self.shared_source(), buffer, offset };
            let result = self.io(Interest::WRITABLE, |_| operation.run_now()).await;
            return (result, operation.into_buffer());
        }
        let mut slot = Some((buffer, offset));
        let mut mine: Option<OpId> = None;
        poll_fn(|cx| {
            let proactor = match self.completion(cx) {
                Some(Poll::Ready(Ok(proactor))) => proactor,
                Some(Poll::Ready(Err(error))) => {
                    let buffer = slot.take().map(|(buffer, _)| buffer).unwrap_or_default();
                    return Poll::Ready((Err(error), buffer));
                }
                Some(Poll::Pending) => return Poll::Pending,
                None => unreachable!("checked above"),
            };
            let token = self.state.token();
            let source = || self.shared_source();
            proactor.lock().poll_write_owned(proactor, token, &source, cx, &mut mine, &mut slot)
        })
        .await
    }
}

/// The spare capacity a receive is handed.
fn spare(operation: &Operation) -> usize {
    match operation {
        Operation::Receive { buffer, .. } => buffer.capacity() - buffer.len(),
        _ => 0,
    }
}

/// Whether a completion says "nothing happened, submit again".
fn retry(error: &io::Error) -> bool {
    matches!(error.kind(), io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock)
}

/// An operation of [`Registration::run`] in the driver's hands: detached (cancelled, its
/// buffer kept until its completion) if the future is dropped first.
struct InFlight<'a> {
    proactor: &'a Proactor,
    id: Option<OpId>,
}

impl InFlight<'_> {
    /// Its completion was taken: nothing left to detach.
    fn id_taken(&mut self) {
        self.id = None;
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            let dropped = self.proactor.lock().detach(self.proactor, id, true);
            drop(dropped);
        }
    }
}
