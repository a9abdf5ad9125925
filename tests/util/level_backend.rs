//! A backend written the way a third party would: outside plexio, against the public
//! `plexio::backend` interface alone. It runs the `polling` crate in *level-triggered* mode,
//! a mode none of plexio's own backends uses, so the suite that runs over it also proves
//! that the reactor normalises level triggering (narrowing interest to what tasks wait on).

use std::io;
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::Duration;

use plexio::backend::{Backend, Events, Interest, RawSource, Ready, Token, Triggering};
use polling::{Event, PollMode, Poller};

#[derive(Debug)]
pub struct LevelBackend {
    poller: Poller,
    events: Mutex<polling::Events>,
}

impl LevelBackend {
    pub fn new() -> io::Result<LevelBackend> {
        let poller = Poller::new()?;
        assert!(poller.supports_level());
        Ok(LevelBackend { poller, events: Mutex::new(polling::Events::new()) })
    }
}

fn event(token: Token, interest: Interest) -> Event {
    let mut event = Event::none(token.0);
    event.readable = interest.is_readable();
    event.writable = interest.is_writable();
    event
}

#[cfg(unix)]
fn borrow(source: RawSource) -> std::os::fd::BorrowedFd<'static> {
    // SAFETY: the reactor only passes descriptors it registered and has not yet deregistered,
    // which the `register` contract keeps open.
    unsafe { std::os::fd::BorrowedFd::borrow_raw(source) }
}

#[cfg(windows)]
fn borrow(source: RawSource) -> std::os::windows::io::BorrowedSocket<'static> {
    // SAFETY: as on Unix: a registered socket stays open until it is deregistered.
    unsafe { std::os::windows::io::BorrowedSocket::borrow_raw(source) }
}

impl Backend for LevelBackend {
    fn name(&self) -> &'static str {
        super::THIRD_PARTY
    }

    fn triggering(&self) -> Triggering {
        Triggering::Level
    }

    unsafe fn register(
        &self,
        source: RawSource,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        if token == Token::RESERVED {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "reserved token"));
        }
        // SAFETY: our own caller promised that `source` stays open until deregistered, which
        // is what `Poller::add` asks.
        unsafe { self.poller.add_with_mode(source, event(token, interest), PollMode::Level) }
    }

    fn reregister(&self, source: RawSource, token: Token, interest: Interest) -> io::Result<()> {
        self.poller.modify_with_mode(borrow(source), event(token, interest), PollMode::Level)
    }

    fn deregister(&self, source: RawSource) -> io::Result<()> {
        self.poller.delete(borrow(source))
    }

    fn poll(&self, events: &mut Events, timeout: Option<Duration>) -> io::Result<()> {
        let mut received = self.events.lock().unwrap();
        let capacity = NonZeroUsize::new(events.capacity() - events.len()).unwrap();
        if received.capacity() != capacity {
            *received = polling::Events::with_capacity(capacity);
        }
        received.clear();
        self.poller.wait(&mut received, timeout)?;
        for event in received.iter() {
            let mut ready = Ready::EMPTY;
            if event.readable {
                ready |= Ready::READABLE;
            }
            if event.writable {
                ready |= Ready::WRITABLE;
            }
            events.push(plexio::backend::Event { token: Token(event.key), ready });
        }
        Ok(())
    }

    fn notify(&self) -> io::Result<()> {
        self.poller.notify()
    }
}
