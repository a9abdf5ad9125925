//! The reference: a hand-written, single-threaded, level-triggered epoll echo loop.
//!
//! No runtime, no tasks, no wakers: one `epoll_wait`, then for each ready connection one
//! `read` and a `write` of what was read. What it costs is what the mechanism costs.
//!
//! It keeps to the terms of the other servers: a [`BUFFER_SIZE`] buffer per connection,
//! allocated when it is accepted ([`Buffers::Eager`]) or only when it is readable and freed
//! again once what was read has been written back or a read would block
//! ([`Buffers::Lazy`]), `TCP_NODELAY`, and no further read on a connection until everything
//! read from it has been written back (while a write is pending the connection waits for
//! `EPOLLOUT` instead of `EPOLLIN`).

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::ops::Range;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use super::{BUFFER_SIZE, Buffers, accept_failed};

/// The epoll token of the listener; a connection's token is its descriptor.
const LISTENER: u64 = u64::MAX;

/// How many events one `epoll_wait` returns at most.
const EVENTS: usize = 1024;

/// Serves on `listener` on the calling thread, allocating each connection's buffer as
/// `buffers` says.
pub(super) fn serve(
    listener: TcpListener,
    buffers: Buffers,
    announce: impl FnOnce() -> io::Result<()>,
) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let epoll = Epoll::new()?;
    epoll.control(libc::EPOLL_CTL_ADD, listener.as_raw_fd(), libc::EPOLLIN, LISTENER)?;
    announce()?;
    // Indexed by descriptor: descriptors are small and dense.
    let mut connections: Vec<Option<Connection>> = Vec::new();
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; EVENTS];
    loop {
        let ready = epoll.wait(&mut events)?;
        for event in &events[..ready] {
            // Copies out of the (packed, on x86-64) event.
            let (token, flags) = (event.u64, event.events);
            if token == LISTENER {
                accept_all(&listener, &epoll, buffers, &mut connections);
                continue;
            }
            let Ok(fd) = usize::try_from(token) else { continue };
            let Some(Some(connection)) = connections.get_mut(fd) else { continue };
            let open = if connection.pending.is_empty() {
                connection.on_readable(&epoll)
            } else if flags & (libc::EPOLLOUT | libc::EPOLLERR | libc::EPOLLHUP) as u32 != 0 {
                connection.on_writable(&epoll)
            } else {
                true
            };
            if !open {
                // Closing the descriptor also removes it from the epoll set.
                connections[fd] = None;
            }
        }
    }
}

/// Accepts every queued connection and registers it for reading.
fn accept_all(
    listener: &TcpListener,
    epoll: &Epoll,
    buffers: Buffers,
    connections: &mut Vec<Option<Connection>>,
) {
    loop {
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => return,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => {
                if let Some(pause) = accept_failed(&error) {
                    // Nothing else can run meanwhile anyway: this loop is single-threaded.
                    std::thread::sleep(pause.min(Duration::from_millis(10)));
                }
                return;
            }
        };
        if stream.set_nonblocking(true).is_err() || stream.set_nodelay(true).is_err() {
            continue;
        }
        let fd = stream.as_raw_fd();
        let Ok(index) = usize::try_from(fd) else { continue };
        let token = index as u64;
        if epoll.control(libc::EPOLL_CTL_ADD, fd, libc::EPOLLIN, token).is_err() {
            continue;
        }
        if connections.len() <= index {
            connections.resize_with(index + 1, || None);
        }
        let buffer = match buffers {
            Buffers::Eager => vec![0; BUFFER_SIZE],
            Buffers::Lazy => Vec::new(),
        };
        connections[index] = Some(Connection { stream, buffers, buffer, pending: 0..0 });
    }
}

/// One connection's state.
struct Connection {
    stream: TcpStream,
    /// When `buffer` is allocated.
    buffers: Buffers,
    /// [`BUFFER_SIZE`] bytes, or (lazy, while idle) none.
    buffer: Vec<u8>,
    /// What was read but not yet written back.
    pending: Range<usize>,
}

impl Connection {
    /// Reads once and writes back what was read; returns whether the connection stays open.
    fn on_readable(&mut self, epoll: &Epoll) -> bool {
        if self.buffer.is_empty() {
            self.buffer = vec![0; BUFFER_SIZE];
        }
        match self.stream.read(&mut self.buffer) {
            Ok(0) => false,
            Ok(n) => {
                self.pending = 0..n;
                self.flush(epoll, false)
            }
            Err(error) => {
                self.release_buffer();
                matches!(error.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted)
            }
        }
    }

    /// Frees the buffer if the policy is lazy and nothing in it is waiting to be written.
    fn release_buffer(&mut self) {
        if self.buffers == Buffers::Lazy && self.pending.is_empty() {
            self.buffer = Vec::new();
        }
    }

    /// Goes on writing back; returns whether the connection stays open.
    fn on_writable(&mut self, epoll: &Epoll) -> bool {
        self.flush(epoll, true)
    }

    /// Writes the pending bytes until done or the socket is full, and switches the interest
    /// between `EPOLLIN` and `EPOLLOUT` when that changes; returns whether the connection
    /// stays open.
    fn flush(&mut self, epoll: &Epoll, waiting_for_output: bool) -> bool {
        while !self.pending.is_empty() {
            match self.stream.write(&self.buffer[self.pending.clone()]) {
                Ok(0) => return false,
                Ok(n) => self.pending.start += n,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    return waiting_for_output || self.watch(epoll, libc::EPOLLOUT);
                }
                Err(_) => return false,
            }
        }
        self.release_buffer();
        !waiting_for_output || self.watch(epoll, libc::EPOLLIN)
    }

    /// Makes `interest` the connection's only interest; returns whether that worked.
    fn watch(&self, epoll: &Epoll, interest: libc::c_int) -> bool {
        let fd = self.stream.as_raw_fd();
        epoll.control(libc::EPOLL_CTL_MOD, fd, interest, fd as u64).is_ok()
    }
}

/// An epoll instance.
struct Epoll {
    fd: OwnedFd,
}

impl Epoll {
    fn new() -> io::Result<Epoll> {
        // SAFETY: epoll_create1 takes no pointers; any flags value is sound.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by epoll_create1, is open, and nothing else owns it.
        Ok(Epoll { fd: unsafe { OwnedFd::from_raw_fd(fd) } })
    }

    /// `epoll_ctl(op)` for `fd` with `interest` (level-triggered) and `token`.
    fn control(
        &self,
        op: libc::c_int,
        fd: RawFd,
        interest: libc::c_int,
        token: u64,
    ) -> io::Result<()> {
        let mut event = libc::epoll_event { events: interest as u32, u64: token };
        // SAFETY: `self.fd` is an open epoll descriptor and `event` is a valid, live
        // epoll_event for the duration of the call; the kernel copies it.
        if unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), op, fd, &mut event) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Waits without a timeout for events; returns how many of `events` were filled.
    fn wait(&self, events: &mut [libc::epoll_event]) -> io::Result<usize> {
        let capacity = libc::c_int::try_from(events.len()).unwrap_or(libc::c_int::MAX);
        loop {
            // SAFETY: `events` is a valid, writable buffer of at least `capacity` entries
            // for the duration of the call, and `self.fd` is an open epoll descriptor.
            let ready =
                unsafe { libc::epoll_wait(self.fd.as_raw_fd(), events.as_mut_ptr(), capacity, -1) };
            match usize::try_from(ready) {
                Ok(ready) => return Ok(ready),
                Err(_) => {
                    let error = io::Error::last_os_error();
                    if error.kind() != io::ErrorKind::Interrupted {
                        return Err(error);
                    }
                }
            }
        }
    }
}
