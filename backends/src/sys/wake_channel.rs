//! The wake channel of the `select` and `poll` backends: a socket whose readability ends a
//! blocked wait.
//!
//! Unix uses a non-blocking Unix stream pair; Windows has no pipe that `select`/`WSAPoll`
//! can watch, so it uses a UDP socket on 127.0.0.1 connected to itself. Either way, at most
//! one byte is in flight: a wake that finds one pending is already done (a full channel is
//! a successful wake, never an error).

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
    pending: AtomicBool,
}

impl WakeChannel {
    #[cfg(unix)]
    pub(crate) fn new() -> io::Result<WakeChannel> {
        let (receiver, sender) = std::os::unix::net::UnixStream::pair()?;
        receiver.set_nonblocking(true)?;
        sender.set_nonblocking(true)?;
        Ok(WakeChannel { receiver, sender, pending: AtomicBool::new(false) })
    }

    #[cfg(windows)]
    pub(crate) fn new() -> io::Result<WakeChannel> {
        let socket = std::net::UdpSocket::bind((std::net::Ipv4Addr::LOCALHOST, 0))?;
        socket.connect(socket.local_addr()?)?;
        socket.set_nonblocking(true)?;
        Ok(WakeChannel { socket, pending: AtomicBool::new(false) })
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
        #[cfg(unix)]
        let written = (&self.sender).write(&[1]);
        #[cfg(windows)]
        let written = self.socket.send(&[1]);
        match written {
            Ok(_) => Ok(()),
            // A full channel already holds a wake.
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => Ok(()),
            Err(error) => {
                self.pending.store(false, Ordering::Release);
                Err(error)
            }
        }
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
}
