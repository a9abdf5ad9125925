//! The wake channel of the `select` and `poll` backends: a socket whose readability ends a
//! blocked wait.
//!
//! Unix uses a non-blocking Unix stream pair; Windows has no pipe that `select`/`WSAPoll`
//! can watch, so it uses a UDP socket on 127.0.0.1 connected to itself. Either way, at most
//! one byte is in flight: a wake that finds one pending is already done (a full channel is
//! a successful wake, never an error).
//!
//! The two differ when a write would block. A stream that refuses a byte is full: a wake
//! is in it already. A datagram socket that refuses one has queued *nothing* (its send
//! buffer is busy, the receiver may well be empty), so on Windows `WouldBlock` is a wake
//! not yet made: it is retried, and if it still fails the pending flag is cleared and the
//! error returned, so that the next wake sends again instead of trusting a flag that no
//! datagram backs.

use std::io;
#[cfg(unix)]
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::sys::{AsSource, RawSource};

/// One end to watch for readability, one end to write a wake into.
#[derive(Debug)]
pub(crate) struct WakeChannel {
    #[cfg(unix)]
    receiver: std::os::unix::net::UnixStream,
    #[cfg(unix)]
    sender: std::os::unix::net::UnixStream,
    #[cfg(windows)]
    socket: std::net::UdpSocket,
    /// Set by `wake` before it writes and cleared by `drain` once the channel is empty, so
    /// that many wakes between two polls cost one write. Clearing it *after* emptying the
    /// channel matters: cleared before, a wake could slip its byte in between, have it read
    /// by this drain, and leave the flag set with the channel empty, which would swallow
    /// every later wake.
    ///
    /// # Invariant
    ///
    /// While it is set, a byte is in the channel, or is being written by the `wake` that
    /// set it, or is being drained by a poll that is returning: a `wake` whose write
    /// queued nothing clears it.
    pending: AtomicBool,
    /// How many of the next writes fail with `WouldBlock` without reaching the OS: the
    /// seam through which the tests make a write that queues nothing.
    #[cfg(test)]
    refuse_writes: std::sync::atomic::AtomicUsize,
}

impl WakeChannel {
    #[cfg(unix)]
    pub(crate) fn new() -> io::Result<WakeChannel> {
        let (receiver, sender) = std::os::unix::net::UnixStream::pair()?;
        receiver.set_nonblocking(true)?;
        sender.set_nonblocking(true)?;
        Ok(WakeChannel {
            receiver,
            sender,
            pending: AtomicBool::new(false),
            #[cfg(test)]
            refuse_writes: Default::default(),
        })
    }

    #[cfg(windows)]
    pub(crate) fn new() -> io::Result<WakeChannel> {
        let socket = std::net::UdpSocket::bind((std::net::Ipv4Addr::LOCALHOST, 0))?;
        socket.connect(socket.local_addr()?)?;
        socket.set_nonblocking(true)?;
        Ok(WakeChannel {
            socket,
            pending: AtomicBool::new(false),
            #[cfg(test)]
            refuse_writes: Default::default(),
        })
    }

    /// The handle that becomes readable when a wake is pending.
    pub(crate) fn source(&self) -> RawSource {
        #[cfg(unix)]
        return self.receiver.as_raw_source();
        #[cfg(windows)]
        return self.socket.as_raw_source();
    }

    /// Makes the watched handle readable, unless a wake is pending already.
    pub(crate) fn wake(&self) -> io::Result<()> {
        if self.pending.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        match self.write_wake() {
            Ok(()) => Ok(()),
            Err(error) => {
                // Nothing was queued: the next wake must write again.
                self.pending.store(false, Ordering::Release);
                Err(error)
            }
        }
    }

    /// Writes one wake; `Ok` once the channel holds one.
    #[cfg(unix)]
    fn write_wake(&self) -> io::Result<()> {
        match self.write_byte() {
            // A full stream already holds a wake.
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => Ok(()),
            written => written,
        }
    }

    /// Writes one wake; `Ok` once the channel holds one. A datagram refused with
    /// `WouldBlock` was not queued, and nothing says another one is: the send buffer of a
    /// loopback socket empties by itself within moments, so the write is tried again a few
    /// times before it is given up as an error.
    #[cfg(windows)]
    fn write_wake(&self) -> io::Result<()> {
        const ATTEMPTS: usize = 64;
        let mut attempt = 1;
        loop {
            match self.write_byte() {
                Err(error) if error.kind() == io::ErrorKind::WouldBlock && attempt < ATTEMPTS => {
                    attempt += 1;
                    std::thread::yield_now();
                }
                written => return written,
            }
        }
    }

    /// Makes the next `count` writes fail with `WouldBlock` without reaching the OS.
    #[cfg(all(test, windows))]
    pub(crate) fn refuse_next_writes(&self, count: usize) {
        self.refuse_writes.store(count, Ordering::Release);
    }

    fn write_byte(&self) -> io::Result<()> {
        #[cfg(test)]
        {
            let refuse = |left: usize| left.checked_sub(1);
            if self.refuse_writes.fetch_update(Ordering::AcqRel, Ordering::Acquire, refuse).is_ok()
            {
                return Err(io::ErrorKind::WouldBlock.into());
            }
        }
        #[cfg(unix)]
        let written = (&self.sender).write(&[1]);
        #[cfg(windows)]
        let written = self.socket.send(&[1]);
        written.map(drop)
    }

    /// Consumes every pending wake, so that the next wait blocks again.
    pub(crate) fn drain(&self) {
        self.empty_channel();
        // A wake that found the flag set while the channel was emptied is answered by the
        // poll that is returning now; one after this store writes a new byte.
        self.pending.store(false, Ordering::Release);
    }

    fn empty_channel(&self) {
        let mut buffer = [0u8; 64];
        loop {
            #[cfg(unix)]
            let read = (&self.receiver).read(&mut buffer);
            #[cfg(windows)]
            let read = self.socket.recv(&mut buffer);
            match read {
                Ok(0) => return,
                Ok(_) => continue,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                // WouldBlock: drained. Anything else: the next wake reports it.
                Err(_) => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_wakes_are_one_and_drain_empties() {
        let channel = WakeChannel::new().unwrap();
        for _ in 0..10_000 {
            channel.wake().unwrap();
        }
        channel.drain();
        channel.wake().unwrap();
        channel.drain();
    }

    #[test]
    fn a_wake_after_a_drain_is_seen() {
        let channel = WakeChannel::new().unwrap();
        channel.wake().unwrap();
        channel.drain();
        channel.wake().unwrap();
        let mut buffer = [0u8; 8];
        #[cfg(unix)]
        let read = (&channel.receiver).read(&mut buffer);
        #[cfg(windows)]
        let read = channel.socket.recv(&mut buffer);
        assert_eq!(read.unwrap(), 1, "the second wake wrote nothing");
    }

    /// A datagram refused with `WouldBlock` was not queued: the wake is written again;
    /// and a wake that could not be written at all leaves the flag clear, so that the next
    /// one writes. (On Unix the same refusal means a full stream, which holds a wake.)
    #[cfg(windows)]
    #[test]
    fn a_datagram_the_channel_refused_is_not_taken_for_a_wake() {
        let pending_bytes = |channel: &WakeChannel| match channel.socket.recv(&mut [0u8; 8]) {
            Ok(n) => n,
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => 0,
            Err(error) => panic!("{error}"),
        };
        let channel = WakeChannel::new().unwrap();
        channel.refuse_next_writes(1);
        channel.wake().unwrap();
        assert_eq!(pending_bytes(&channel), 1, "a refused datagram was taken as a wake");
        channel.drain();

        channel.refuse_next_writes(usize::MAX);
        assert_eq!(channel.wake().unwrap_err().kind(), io::ErrorKind::WouldBlock);
        channel.refuse_next_writes(0);
        channel.wake().unwrap();
        assert_eq!(pending_bytes(&channel), 1, "a failed wake swallowed the next one");
    }
}
