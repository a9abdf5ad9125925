//! The completion side of a runtime on a completion driver (the proactor): the operations
//! in flight, the tasks waiting for them, and what each socket has in flight.
//!
//! Every operation is described once, as a [`plexio_backends::completion::Operation`]; on
//! a completion runtime it is handed to the driver with a token that is its slot here, and
//! its completion fills the slot and wakes the task. On a readiness runtime the same
//! description runs with `Operation::run_now` once the socket is ready (see
//! `Registration::run`): this module is only reached on completion runtimes.
//!
//! # Ownership and cancellation
//!
//! A slot lives from submission until its completion has been taken. An operation whose
//! owner lets go before it completes is *detached*: cancelled in the driver (or, for a send,
//! left to finish, so that what a write reported as written goes out), and dropped when its
//! completion comes, which frees its buffer, closes a socket it accepted and lets go of its
//! socket. Nothing the kernel may still touch is freed before then: the driver owns it.
//!
//! A stream's reads and a listener's accepts are adopted by their socket rather than
//! detached: a dropped read future leaves its receive in flight, and the next read takes
//! its bytes; a dropped accept leaves its accept in flight, and the next accept takes the
//! connection. So no completed receive loses a byte, and no completed accept a connection.

mod move_check;
mod socket_ops;

use std::fmt;
use std::io;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll, Waker};
use std::thread::ThreadId;

use plexio_backends::Token;
use plexio_backends::completion::{
    Completion, CompletionDriver, Operation, ReadinessOverCompletion, Refused, TokenMap,
};

pub(crate) use move_check::MoveCheck;
pub(crate) use socket_ops::SocketOps;

use crate::util::{lock, thread};

/// What [`Inner::read_readiness`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadReadiness {
    Ready,
    InFlight,
    Idle,
}

/// The most operations in flight at once: slot indices are tokens of the driver (below
/// its `MAX_TOKEN`) and fit an [`OpId`].
const MAX_SLOTS: usize = if ReadinessOverCompletion::MAX_TOKEN < u32::MAX as usize {
    ReadinessOverCompletion::MAX_TOKEN
} else {
    u32::MAX as usize
};

/// Identifies an operation in flight: its slot. Four bytes, so that a socket's record of
/// what it has in flight stays small (one per connection; see `SocketOps`): the number of
/// slots is bounded by [`MAX_SLOTS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct OpId(u32);

impl OpId {
    fn new(index: usize) -> OpId {
        OpId(u32::try_from(index).expect("slot indices stay below MAX_SLOTS"))
    }

    fn index(self) -> usize {
        self.0 as usize
    }
}

/// The completion side of one runtime.
pub(crate) struct Proactor {
    driver: Arc<dyn CompletionDriver>,
    readiness: Arc<ReadinessOverCompletion>,
    inner: Mutex<Inner>,
    /// The thread that waits in the driver, set at its first wait. On a multi-worker
    /// runtime another worker's task may submit or cancel here; the driver hands such work
    /// to the kernel only at its owner's next wait, so the owner is notified (see
    /// [`ProactorGuard`]).
    poller: OnceLock<ThreadId>,
}

/// The locked completion side. Dropped on a thread other than the driver's own, it
/// notifies the driver, so that what was submitted or cancelled meanwhile reaches the
/// kernel now rather than at the owner's next wake, however late that is.
pub(crate) struct ProactorGuard<'a> {
    inner: Option<MutexGuard<'a, Inner>>,
    proactor: &'a Proactor,
}

impl Deref for ProactorGuard<'_> {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        self.inner.as_ref().expect("held until dropped")
    }
}

impl DerefMut for ProactorGuard<'_> {
    fn deref_mut(&mut self) -> &mut Inner {
        self.inner.as_mut().expect("held until dropped")
    }
}

impl Drop for ProactorGuard<'_> {
    fn drop(&mut self) {
        // Unlocked first: the woken owner takes the lock at once.
        drop(self.inner.take());
        let foreign = self.proactor.poller.get().is_some_and(|poller| *poller != thread::id());
        if foreign {
            let _ = self.proactor.driver.notify();
        }
    }
}

pub(crate) struct Inner {
    slots: Vec<Slot>,
    free: Vec<usize>,
    /// What each socket has in flight, by its registration token.
    sockets: TokenMap<SocketOps>,
    /// Scratch for the wakers of one wait, woken once the lock is released.
    woken: Vec<Waker>,
    /// Tasks waiting for an operation they do not own to complete (a `readable()` beside a
    /// receive in flight), by slot; rarely any, so a list.
    watchers: Vec<(usize, Waker)>,
    /// Operations the driver refused for a full queue (`WouldBlock`), by slot: submitted
    /// again after its next wait, as the driver contract says.
    deferred: Vec<(usize, Operation)>,
}

enum Slot {
    Free,
    /// In the driver's hands; the waker of the task that waits for it, if one does.
    Pending(Option<Waker>),
    /// Completed; waiting to be taken.
    Done(io::Result<usize>, Operation),
    /// In the driver's hands, with nobody waiting: dropped when it completes.
    Detached,
    /// A send of bytes a stream write reported as written: the proactor itself sees it
    /// through (continuing a short send, then a shutdown the stream asked for meanwhile),
    /// so that what was reported written goes out whoever polls, and after the stream is
    /// dropped: the stream's token, `None` once it is gone (then its socket closes when the
    /// last byte is sent).
    WriteBehind(Option<Token>),
}

impl Proactor {
    pub(crate) fn new(
        driver: Arc<dyn CompletionDriver>,
        readiness: Arc<ReadinessOverCompletion>,
    ) -> Proactor {
        let inner = Inner {
            slots: Vec::new(),
            free: Vec::new(),
            sockets: TokenMap::default(),
            woken: Vec::new(),
            watchers: Vec::new(),
            deferred: Vec::new(),
        };
        Proactor { driver, readiness, inner: Mutex::new(inner), poller: OnceLock::new() }
    }

    pub(crate) fn lock(&self) -> ProactorGuard<'_> {
        ProactorGuard { inner: Some(lock(&self.inner)), proactor: self }
    }

    /// Records the calling thread as the one that waits in the driver.
    pub(crate) fn waits_here(&self) {
        self.poller.get_or_init(thread::id);
    }

    /// The readiness face the runtime waits through.
    pub(crate) fn readiness(&self) -> &ReadinessOverCompletion {
        &self.readiness
    }

    /// Hands the completions of the last wait (`arrived`, emptied) to their slots and wakes
    /// their tasks, with `woken` as scratch.
    pub(crate) fn dispatch(&self, arrived: &mut Vec<Completion>, woken: &mut Vec<Waker>) {
        let mut dropped = Vec::new();
        {
            let mut inner = self.lock();
            for completion in arrived.drain(..) {
                let index = completion.token.0;
                if !inner.watchers.is_empty() {
                    inner.wake_watchers(index);
                }
                match inner.slots.get_mut(index) {
                    Some(slot @ Slot::Pending(_)) => {
                        let Slot::Pending(waker) = std::mem::replace(
                            slot,
                            Slot::Done(completion.result, completion.operation),
                        ) else {
                            unreachable!()
                        };
                        if let Some(waker) = waker {
                            woken.push(waker);
                        }
                    }
                    Some(slot @ Slot::Detached) => {
                        *slot = Slot::Free;
                        inner.free.push(index);
                        dropped.push(completion.operation);
                    }
                    Some(Slot::WriteBehind(writer)) => {
                        let writer = *writer;
                        inner.write_behind_completed(self, index, writer, completion, &mut dropped);
                    }
                    // The driver broke its contract (a completion twice, or for no
                    // operation): nothing of ours is in it.
                    _ => dropped.push(completion.operation),
                }
            }
            inner.submit_deferred(self, &mut dropped);
            woken.append(&mut inner.woken);
        }
        // Outside the lock: closing an accepted socket, waking tasks.
        drop(dropped);
        for waker in woken.drain(..) {
            waker.wake();
        }
    }
}

impl Inner {
    /// Submits `operation`; it completes into the returned slot.
    pub(crate) fn submit(
        &mut self,
        proactor: &Proactor,
        operation: Operation,
    ) -> Result<OpId, (io::Error, Operation)> {
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                self.slots.push(Slot::Free);
                self.slots.len() - 1
            }
        };
        if index > MAX_SLOTS {
            self.free.push(index);
            return Err((io::Error::other("plexio: too many operations in flight"), operation));
        }
        match proactor.driver.submit(Token(index), operation) {
            Ok(()) => {
                self.slots[index] = Slot::Pending(None);
                Ok(OpId::new(index))
            }
            Err(Refused { error, operation }) if error.kind() == io::ErrorKind::WouldBlock => {
                // A full queue: the operation waits here for the next wait to make room,
                // which must then not block.
                self.slots[index] = Slot::Pending(None);
                self.deferred.push((index, operation));
                let _ = proactor.driver.notify();
                Ok(OpId::new(index))
            }
            Err(Refused { error, operation }) => {
                self.free.push(index);
                Err((error, operation))
            }
        }
    }

    /// Wakes the tasks watching the operation of slot `index`.
    fn wake_watchers(&mut self, index: usize) {
        let mut watchers = std::mem::take(&mut self.watchers);
        watchers.retain(|(watched, waker)| {
            if *watched == index {
                self.woken.push(waker.clone());
            }
            *watched != index
        });
        self.watchers = watchers;
    }

    /// Whether the socket of `token` has received bytes waiting to be read: ready now,
    /// or once the receive in flight completes (the task of `cx` is woken then), or
    /// unknown (`Idle`: nothing in flight, ask the socket's readiness).
    pub(crate) fn read_readiness(
        &mut self,
        proactor: &Proactor,
        token: Token,
        cx: &mut Context<'_>,
    ) -> ReadReadiness {
        let Some(ops) = self.sockets.get_mut(&token) else { return ReadReadiness::Idle };
        if ops.has_received() {
            return ReadReadiness::Ready;
        }
        // A task that waits for readiness with nothing received is idle, or about to be:
        // the socket's buffers go until it reads or writes again.
        ops.wait_for_readiness();
        let Some(id) = ops.read_in_flight() else { return ReadReadiness::Idle };
        if let Slot::Done(Err(error), _) = &self.slots[id.index()] {
            if matches!(error.kind(), io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock) {
                // "Nothing happened, submit again": that is no readiness. Submitted again
                // in the same slot's place, and waited on.
                let Slot::Done(_, operation) =
                    std::mem::replace(&mut self.slots[id.index()], Slot::Free)
                else {
                    unreachable!("matched above")
                };
                self.free.push(id.index());
                let resubmitted = self.submit(proactor, operation);
                let ops = self.socket(token);
                match resubmitted {
                    Ok(again) => ops.set_read_in_flight(Some(again)),
                    Err((_, operation)) => {
                        // Refused for good: the next read submits (and reports) anew.
                        ops.set_read_in_flight(None);
                        drop(operation);
                        return ReadReadiness::Ready;
                    }
                }
                return self.read_readiness(proactor, token, cx);
            }
        }
        match &self.slots[id.index()] {
            Slot::Done(..) => ReadReadiness::Ready,
            Slot::Pending(_) => {
                let known = self
                    .watchers
                    .iter()
                    .any(|(watched, waker)| *watched == id.index() && waker.will_wake(cx.waker()));
                if !known {
                    self.watchers.push((id.index(), cx.waker().clone()));
                }
                ReadReadiness::InFlight
            }
            Slot::Free | Slot::Detached | Slot::WriteBehind(_) => ReadReadiness::Idle,
        }
    }

    /// Submits again what a full queue refused; what is refused for good completes with
    /// the error.
    fn submit_deferred(&mut self, proactor: &Proactor, dropped: &mut Vec<Operation>) {
        if self.deferred.is_empty() {
            return;
        }
        for (index, operation) in std::mem::take(&mut self.deferred) {
            if matches!(self.slots[index], Slot::Detached) {
                self.slots[index] = Slot::Free;
                self.free.push(index);
                dropped.push(operation);
                continue;
            }
            match proactor.driver.submit(Token(index), operation) {
                Ok(()) => {}
                Err(Refused { error, operation }) if error.kind() == io::ErrorKind::WouldBlock => {
                    self.deferred.push((index, operation));
                }
                Err(Refused { error, operation }) => match &mut self.slots[index] {
                    Slot::WriteBehind(writer) => {
                        let writer = *writer;
                        self.finish_write_behind(index, writer, Err(error), operation, dropped);
                    }
                    slot => {
                        let Slot::Pending(waker) =
                            std::mem::replace(slot, Slot::Done(Err(error), operation))
                        else {
                            unreachable!("a deferred operation's slot is pending")
                        };
                        self.woken.extend(waker);
                    }
                },
            }
        }
        if !self.deferred.is_empty() {
            let _ = proactor.driver.notify();
        }
    }

    /// The result of an operation once it completed, which frees its slot; until then the
    /// task of `cx` is woken when it does.
    pub(crate) fn poll_op(
        &mut self,
        id: OpId,
        cx: &mut Context<'_>,
    ) -> Poll<(io::Result<usize>, Operation)> {
        let slot = &mut self.slots[id.index()];
        match slot {
            Slot::Pending(waker) => {
                match waker {
                    Some(waker) if waker.will_wake(cx.waker()) => {}
                    _ => *waker = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
            Slot::Done(..) => {
                let Slot::Done(result, operation) = std::mem::replace(slot, Slot::Free) else {
                    unreachable!()
                };
                self.free.push(id.index());
                Poll::Ready((result, operation))
            }
            Slot::Free | Slot::Detached | Slot::WriteBehind(_) => {
                unreachable!("an operation is polled by its owner only")
            }
        }
    }

    /// Lets go of an operation: cancelled (where `cancel` says so) and dropped when it
    /// completes, or dropped now if it has. Returns what to drop outside the lock.
    pub(crate) fn detach(
        &mut self,
        proactor: &Proactor,
        id: OpId,
        cancel: bool,
    ) -> Option<Operation> {
        let slot = &mut self.slots[id.index()];
        match std::mem::replace(slot, Slot::Detached) {
            // A task waiting for it (a reader of a socket that another task dropped) must
            // look again: its operation is gone.
            Slot::Pending(Some(waker)) => {
                waker.wake();
                self.wake_watchers(id.index());
                for waker in self.woken.drain(..) {
                    waker.wake();
                }
                if cancel {
                    proactor.driver.cancel(Token(id.index()));
                }
                None
            }
            // A write-behind send finishes on its own, the rest of a short one included (the
            // bytes were reported written), and is dropped then.
            Slot::WriteBehind(_) if !cancel => {
                *slot = Slot::WriteBehind(None);
                None
            }
            Slot::Pending(_) if !cancel => None,
            Slot::Pending(_) | Slot::WriteBehind(_) => {
                if cancel {
                    proactor.driver.cancel(Token(id.index()));
                }
                None
            }
            Slot::Done(_, operation) => {
                *slot = Slot::Free;
                self.free.push(id.index());
                Some(operation)
            }
            Slot::Free | Slot::Detached => unreachable!("an operation is detached once"),
        }
    }

    /// Submits a send that the proactor sees through itself (see [`Slot::WriteBehind`]).
    pub(crate) fn submit_write_behind(
        &mut self,
        proactor: &Proactor,
        token: Token,
        operation: Operation,
    ) -> Result<OpId, (io::Error, Operation)> {
        let id = self.submit(proactor, operation)?;
        self.slots[id.index()] = Slot::WriteBehind(Some(token));
        Ok(id)
    }

    /// A write-behind send completed: continue a short one in the same slot, or finish it
    /// and wake the stream's writer.
    fn write_behind_completed(
        &mut self,
        proactor: &Proactor,
        index: usize,
        writer: Option<Token>,
        completion: Completion,
        dropped: &mut Vec<Operation>,
    ) {
        let Completion { result, operation, .. } = completion;
        let Operation::Send { source, buffer, offset } = operation else {
            unreachable!("write-behind slots hold sends")
        };
        let offset = match &result {
            Ok(sent) if *sent > 0 => offset + sent,
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock
                ) =>
            {
                offset
            }
            _ => buffer.len().max(offset + 1),
        };
        if offset < buffer.len() {
            let rest = Operation::Send { source, buffer, offset };
            match proactor.driver.submit(Token(index), rest) {
                Ok(()) => return,
                Err(Refused { error, operation }) if error.kind() == io::ErrorKind::WouldBlock => {
                    self.deferred.push((index, operation));
                    let _ = proactor.driver.notify();
                    return;
                }
                Err(Refused { error, operation }) => {
                    self.finish_write_behind(index, writer, Err(error), operation, dropped);
                    return;
                }
            }
        }
        let result = match result {
            Ok(0) => Err(io::ErrorKind::WriteZero.into()),
            Ok(_) => Ok(()),
            Err(error) => Err(error),
        };
        let operation = Operation::Send { source, buffer, offset };
        self.finish_write_behind(index, writer, result, operation, dropped);
    }

    fn finish_write_behind(
        &mut self,
        index: usize,
        writer: Option<Token>,
        result: io::Result<()>,
        operation: Operation,
        dropped: &mut Vec<Operation>,
    ) {
        self.slots[index] = Slot::Free;
        self.free.push(index);
        match writer.and_then(|token| self.sockets.get_mut(&token)) {
            Some(ops) => {
                if let Some(waker) = ops.write_behind_done(result, operation) {
                    self.woken.push(waker);
                }
            }
            // The stream is gone: the send was its last word.
            None => dropped.push(operation),
        }
    }

    /// The in-flight record of the socket of `token`, made on first use.
    pub(crate) fn socket(&mut self, token: Token) -> &mut SocketOps {
        self.sockets.entry(token).or_default()
    }

    /// Lets go of everything the socket of `token` has in flight: its registration is being
    /// dropped. Returns what to drop outside the lock.
    pub(crate) fn forget_socket(&mut self, proactor: &Proactor, token: Token) -> Vec<Operation> {
        let Some(ops) = self.sockets.remove(&token) else { return Vec::new() };
        ops.release(self, proactor)
    }
}

impl fmt::Debug for Proactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proactor").field("driver", &self.driver).finish_non_exhaustive()
    }
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inner").field("sockets", &self.sockets.len()).finish_non_exhaustive()
    }
}
