//! The completion model's references: hand-written, single-threaded io_uring echo loops, as
//! `raw-epoll` is the readiness model's.
//!
//! No runtime, no tasks, no wakers: one `io_uring_enter` submits everything the last batch
//! of completions asked for and waits for the next ones. What it costs is what the
//! mechanism costs, driven the way the io_uring documentation recommends for one thread: a
//! single issuer with deferred task running (the kernel completes operations only when this
//! thread enters it), and a multishot accept.
//!
//! Two ways to receive:
//!
//! - [`Receive::Oneshot`] (`raw-uring`): one receive at a time into the connection's own
//!   [`BUFFER_SIZE`] buffer, a send of what arrived, then the next receive, flagged to wait
//!   for data before it tries (`IORING_RECVSEND_POLL_FIRST`, as the last receive emptied the
//!   socket). It keeps to the [`Buffers`] policy of the other servers: with lazy buffers an
//!   idle connection waits in a poll operation without a buffer.
//! - [`Receive::Multishot`] (`raw-uring-multishot`): one multishot receive per connection,
//!   armed once, that picks its buffers from a ring of [`RING_BUFFERS`] buffers of
//!   [`RING_BUFFER_SIZE`] bytes shared by every connection (a provided-buffer ring); each
//!   buffer goes back to the ring once its bytes are echoed. No connection holds a buffer of
//!   its own, whatever the policy: the figure for idle connections includes the ring, and a
//!   64 KiB message arrives in pieces of at most [`RING_BUFFER_SIZE`] bytes.
//!
//! Either way a connection never has two sends in flight, so its bytes go back in order,
//! and it is closed only when none of its operations is in flight.

use std::alloc::{Layout, alloc_zeroed};
use std::collections::VecDeque;
use std::io;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU16, Ordering};

use io_uring::types::{BufRingEntry, Fd};
use io_uring::{IoUring, cqueue, opcode, squeue};

use super::{BUFFER_SIZE, Buffers, accept_failed};

/// How a connection receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Receive {
    /// One receive at a time into the connection's own buffer.
    Oneshot,
    /// One multishot receive into buffers of a shared provided-buffer ring.
    Multishot,
}

/// Entries of the submission queue; the completion queue has four times as many.
const RING_ENTRIES: u32 = 1024;
/// Buffers of the provided-buffer ring (a power of two, as the kernel requires).
const RING_BUFFERS: u16 = 256;
/// The size of each buffer of the provided-buffer ring.
const RING_BUFFER_SIZE: usize = 16 * 1024;
/// The id of the provided-buffer ring's group.
const BUFFER_GROUP: u16 = 0;
/// `IORING_RECVSEND_POLL_FIRST`, in a receive's `ioprio`.
const POLL_FIRST: u16 = 1;

/// What an operation was: the low bits of its user data, above them the descriptor.
const ACCEPT: u64 = 0;
const RECEIVE: u64 = 1;
const SEND: u64 = 2;
const POLL: u64 = 3;
const OPERATION_BITS: u32 = 2;

fn user_data(fd: RawFd, operation: u64) -> u64 {
    ((fd as u64) << OPERATION_BITS) | operation
}

/// Serves on `listener` on the calling thread.
pub(super) fn serve(
    listener: TcpListener,
    buffers: Buffers,
    receive: Receive,
    announce: impl FnOnce() -> io::Result<()>,
) -> io::Result<()> {
    let mut ring = build_ring()?;
    let mut shared = match receive {
        Receive::Multishot => Some(SharedBuffers::register(&ring)?),
        Receive::Oneshot => None,
    };
    let mut server = Server {
        listener,
        buffers,
        connections: Vec::new(),
        starved: Vec::new(),
        queue: Vec::new(),
    };
    server.queue.push(opcode::AcceptMulti::new(Fd(server.listener.as_raw_fd())).build());
    announce()?;
    let mut completions: Vec<(u64, i32, u32)> = Vec::with_capacity(RING_ENTRIES as usize * 4);
    loop {
        server.submit_queued(&mut ring)?;
        match ring.submit_and_wait(1) {
            Ok(_) => {}
            Err(error) if error.raw_os_error() == Some(libc::EINTR) => {}
            Err(error) if error.raw_os_error() == Some(libc::EBUSY) => {}
            Err(error) => return Err(error),
        }
        completions.clear();
        completions
            .extend(ring.completion().map(|cqe| (cqe.user_data(), cqe.result(), cqe.flags())));
        for &(data, result, flags) in &completions {
            let fd = (data >> OPERATION_BITS) as RawFd;
            match data & ((1 << OPERATION_BITS) - 1) {
                ACCEPT => server.on_accept(result, flags, receive),
                RECEIVE => server.on_receive(fd, result, flags, shared.as_mut()),
                SEND => server.on_send(fd, result, shared.as_mut()),
                _ => server.on_poll(fd, result),
            }
        }
    }
}

/// Sets up a ring with a single issuer and deferred task running where the kernel has them
/// (6.1), else cooperative task running (5.19), else a plain ring.
fn build_ring() -> io::Result<IoUring> {
    let deferred = IoUring::builder()
        .setup_cqsize(RING_ENTRIES * 4)
        .setup_single_issuer()
        .setup_defer_taskrun()
        .build(RING_ENTRIES);
    let refused = |result: &io::Result<IoUring>| matches!(result, Err(error) if error.raw_os_error() == Some(libc::EINVAL));
    if !refused(&deferred) {
        return deferred;
    }
    let cooperative = IoUring::builder()
        .setup_cqsize(RING_ENTRIES * 4)
        .setup_coop_taskrun()
        .setup_taskrun_flag()
        .build(RING_ENTRIES);
    if !refused(&cooperative) {
        return cooperative;
    }
    IoUring::builder().setup_cqsize(RING_ENTRIES * 4).build(RING_ENTRIES)
}

/// The loop's state.
struct Server {
    listener: TcpListener,
    buffers: Buffers,
    /// Indexed by descriptor: descriptors are small and dense.
    connections: Vec<Option<Connection>>,
    /// Connections whose multishot receive ended for want of a buffer: re-armed once one
    /// goes back to the ring.
    starved: Vec<RawFd>,
    /// Entries for the next `io_uring_enter`.
    queue: Vec<squeue::Entry>,
}

/// The connection on descriptor `fd`, if there is one.
fn slot(connections: &mut [Option<Connection>], fd: RawFd) -> Option<&mut Connection> {
    connections.get_mut(usize::try_from(fd).ok()?)?.as_mut()
}

/// One connection's state.
struct Connection {
    stream: TcpStream,
    /// The connection's own buffer ([`Receive::Oneshot`]; empty while idle with lazy
    /// buffers).
    buffer: Vec<u8>,
    /// [`Receive::Multishot`]: the ring buffers received into and not yet echoed, as
    /// (buffer id, length); the first is being sent. [`Receive::Oneshot`] keeps its one
    /// pending range here as buffer id 0.
    pending: VecDeque<(u16, usize)>,
    /// How much of the first pending buffer was sent already.
    sent: usize,
    receiving: bool,
    sending: bool,
    polling: bool,
    /// No further receive: end of stream or an error.
    closing: bool,
}

impl Server {
    /// Hands the queued entries to the submission queue, entering the kernel when it fills.
    fn submit_queued(&mut self, ring: &mut IoUring) -> io::Result<()> {
        for entry in self.queue.drain(..) {
            loop {
                // SAFETY: every queued entry points only at memory that outlives its
                // operation: a connection's buffer, which is neither dropped nor resized
                // while an operation of the connection is in flight (see `finish`), or a
                // buffer of the shared ring, which lives as long as the loop.
                if unsafe { ring.submission().push(&entry) }.is_ok() {
                    break;
                }
                ring.submit()?;
            }
        }
        Ok(())
    }

    fn on_accept(&mut self, result: i32, flags: u32, receive: Receive) {
        if !cqueue::more(flags) {
            // The multishot accept ended (an error, or the kernel's limit): arm it again.
            self.queue.push(opcode::AcceptMulti::new(Fd(self.listener.as_raw_fd())).build());
        }
        if result < 0 {
            if let Some(pause) = accept_failed(&io::Error::from_raw_os_error(-result)) {
                std::thread::sleep(pause);
            }
            return;
        }
        // SAFETY: a successful accept's result is a new descriptor that nothing else owns.
        let stream = TcpStream::from(unsafe { OwnedFd::from_raw_fd(result) });
        let Ok(index) = usize::try_from(result) else { return };
        if stream.set_nodelay(true).is_err() {
            return;
        }
        let mut connection = Connection {
            stream,
            buffer: Vec::new(),
            pending: VecDeque::new(),
            sent: 0,
            receiving: false,
            sending: false,
            polling: false,
            closing: false,
        };
        match (receive, self.buffers) {
            (Receive::Multishot, _) => connection.receive_multishot(&mut self.queue),
            (Receive::Oneshot, Buffers::Eager) => {
                connection.buffer = vec![0; BUFFER_SIZE];
                connection.receive_oneshot(&mut self.queue, 0);
            }
            (Receive::Oneshot, Buffers::Lazy) => connection.poll(&mut self.queue),
        }
        if self.connections.len() <= index {
            self.connections.resize_with(index + 1, || None);
        }
        self.connections[index] = Some(connection);
    }

    fn on_poll(&mut self, fd: RawFd, result: i32) {
        let Some(connection) = slot(&mut self.connections, fd) else { return };
        connection.polling = false;
        if result < 0 {
            connection.closing = true;
        } else {
            // Readable: the data is there, so the receive does not wait first.
            connection.buffer = vec![0; BUFFER_SIZE];
            connection.receive_oneshot(&mut self.queue, 0);
        }
        self.finish(fd);
    }

    fn on_receive(
        &mut self,
        fd: RawFd,
        result: i32,
        flags: u32,
        mut shared: Option<&mut SharedBuffers>,
    ) {
        let buffer = cqueue::buffer_select(flags);
        let Some(connection) = slot(&mut self.connections, fd) else {
            // Cannot happen (a connection outlives its operations), but a buffer the kernel
            // handed over must go back all the same.
            if let (Some(shared), Some(id)) = (shared, buffer) {
                shared.give_back(id);
            }
            return;
        };
        let multishot = shared.is_some();
        connection.receiving = multishot && cqueue::more(flags);
        match (result, buffer) {
            (1.., Some(id)) => connection.pending.push_back((id, result as usize)),
            (1.., None) => connection.pending.push_back((0, result as usize)),
            (_, Some(id)) => {
                if let Some(shared) = shared.as_deref_mut() {
                    shared.give_back(id);
                }
                connection.closing = true;
            }
            (result, None) if multishot && -result == libc::ENOBUFS => {
                // The ring ran dry: receive again once a buffer comes back.
                self.starved.push(fd);
                return;
            }
            (_, None) => connection.closing = true,
        }
        if multishot && !connection.receiving && !connection.closing {
            // The kernel may end a multishot receive that had data (a full completion
            // queue, for one): arm it again.
            connection.receive_multishot(&mut self.queue);
        }
        if !connection.sending && !connection.pending.is_empty() {
            connection.send(&mut self.queue, shared.as_deref());
        }
        self.finish(fd);
    }

    fn on_send(&mut self, fd: RawFd, result: i32, mut shared: Option<&mut SharedBuffers>) {
        let Some(connection) = slot(&mut self.connections, fd) else { return };
        connection.sending = false;
        if result <= 0 {
            // The peer is gone. A multishot receive still armed ends once the socket is
            // shut down; then the connection closes.
            connection.closing = true;
            let _ = connection.stream.shutdown(Shutdown::Both);
            while let Some((id, _)) = connection.pending.pop_front() {
                if let Some(shared) = shared.as_deref_mut() {
                    shared.give_back(id);
                }
            }
            self.finish(fd);
            return;
        }
        connection.sent += result as usize;
        let &(id, length) = connection.pending.front().expect("a send has a pending buffer");
        let mut returned = false;
        if connection.sent == length {
            connection.pending.pop_front();
            connection.sent = 0;
            if let Some(shared) = shared.as_deref_mut() {
                shared.give_back(id);
                returned = true;
            }
        }
        if !connection.pending.is_empty() {
            connection.send(&mut self.queue, shared.as_deref());
        } else if shared.is_none() && !connection.closing {
            // Everything read was echoed: receive again, or (lazy) let the buffer go and wait.
            match self.buffers {
                Buffers::Eager => connection.receive_oneshot(&mut self.queue, POLL_FIRST),
                Buffers::Lazy => {
                    connection.buffer = Vec::new();
                    connection.poll(&mut self.queue);
                }
            }
        }
        if returned {
            for fd in std::mem::take(&mut self.starved) {
                if let Some(connection) = slot(&mut self.connections, fd) {
                    if !connection.closing {
                        connection.receive_multishot(&mut self.queue);
                    }
                }
                // A starved connection that closed meanwhile waited only for this.
                self.finish(fd);
            }
        }
        self.finish(fd);
    }

    /// Closes a connection that is closing and has no operation in flight.
    fn finish(&mut self, fd: RawFd) {
        let Some(connection) = slot(&mut self.connections, fd) else { return };
        if connection.closing
            && !(connection.receiving || connection.sending || connection.polling)
            && !self.starved.contains(&fd)
        {
            self.connections[fd as usize] = None;
        }
    }
}

impl Connection {
    fn fd(&self) -> RawFd {
        self.stream.as_raw_fd()
    }

    fn receive_oneshot(&mut self, queue: &mut Vec<squeue::Entry>, ioprio: u16) {
        let entry = opcode::Recv::new(Fd(self.fd()), self.buffer.as_mut_ptr(), BUFFER_SIZE as u32)
            .ioprio(ioprio)
            .build()
            .user_data(user_data(self.fd(), RECEIVE));
        queue.push(entry);
        self.receiving = true;
    }

    fn receive_multishot(&mut self, queue: &mut Vec<squeue::Entry>) {
        let entry = opcode::RecvMulti::new(Fd(self.fd()), BUFFER_GROUP)
            .build()
            .user_data(user_data(self.fd(), RECEIVE));
        queue.push(entry);
        self.receiving = true;
    }

    fn poll(&mut self, queue: &mut Vec<squeue::Entry>) {
        let entry = opcode::PollAdd::new(Fd(self.fd()), libc::POLLIN as u32)
            .build()
            .user_data(user_data(self.fd(), POLL));
        queue.push(entry);
        self.polling = true;
    }

    /// Sends the rest of the first pending buffer.
    fn send(&mut self, queue: &mut Vec<squeue::Entry>, shared: Option<&SharedBuffers>) {
        let &(id, length) = self.pending.front().expect("a send has a pending buffer");
        let start = match shared {
            Some(shared) => shared.buffer(id),
            None => self.buffer.as_ptr(),
        };
        let entry = opcode::Send::new(
            Fd(self.fd()),
            start.wrapping_add(self.sent),
            (length - self.sent) as u32,
        )
        .build()
        .user_data(user_data(self.fd(), SEND));
        queue.push(entry);
        self.sending = true;
    }
}

/// A provided-buffer ring and its buffers, registered with the kernel for the life of the
/// process.
struct SharedBuffers {
    /// The ring's entries: page-aligned, as the kernel requires.
    entries: *mut BufRingEntry,
    /// The buffers, one after another.
    memory: *mut u8,
    /// The tail as the loop counts it; published through the first entry's tail field.
    tail: u16,
}

impl SharedBuffers {
    fn entries_layout() -> Layout {
        let size = RING_BUFFERS as usize * size_of::<BufRingEntry>();
        Layout::from_size_align(size, 4096).expect("a valid layout")
    }

    fn memory_layout() -> Layout {
        Layout::from_size_align(RING_BUFFERS as usize * RING_BUFFER_SIZE, 64)
            .expect("a valid layout")
    }

    /// Allocates the ring and its buffers, registers it, and hands every buffer to it.
    ///
    /// Never freed: the kernel may read the ring and write the buffers for as long as the
    /// ring is registered, and the loop ends only with the process (or on an error, after
    /// which leaking them is the safe choice).
    fn register(ring: &IoUring) -> io::Result<SharedBuffers> {
        // SAFETY: both layouts have a non-zero size.
        let entries = unsafe { alloc_zeroed(Self::entries_layout()) }.cast::<BufRingEntry>();
        // SAFETY: as above.
        let memory = unsafe { alloc_zeroed(Self::memory_layout()) };
        if entries.is_null() || memory.is_null() {
            return Err(io::ErrorKind::OutOfMemory.into());
        }
        // SAFETY: `entries` is a zeroed, page-aligned allocation of `RING_BUFFERS` entries
        // that is never freed (see above).
        unsafe {
            ring.submitter().register_buf_ring_with_flags(
                entries as u64,
                RING_BUFFERS,
                BUFFER_GROUP,
                0,
            )
        }?;
        let mut shared = SharedBuffers { entries, memory, tail: 0 };
        for id in 0..RING_BUFFERS {
            shared.give_back(id);
        }
        Ok(shared)
    }

    /// The start of buffer `id`.
    fn buffer(&self, id: u16) -> *const u8 {
        self.memory.wrapping_add(usize::from(id) * RING_BUFFER_SIZE)
    }

    /// Puts buffer `id` back at the ring's tail.
    fn give_back(&mut self, id: u16) {
        let slot = usize::from(self.tail & (RING_BUFFERS - 1));
        // SAFETY: `slot` is below `RING_BUFFERS`, so the entry lies in the allocation. The
        // kernel reads only entries between its head and the published tail, and this one
        // is past the tail until the store below publishes it.
        let entry = unsafe { &mut *self.entries.add(slot) };
        entry.set_addr(self.buffer(id) as u64);
        entry.set_len(RING_BUFFER_SIZE as u32);
        entry.set_bid(id);
        self.tail = self.tail.wrapping_add(1);
        // SAFETY: the tail field is the first entry's last two bytes, in the allocation and
        // aligned for a u16; the kernel reads it concurrently, hence the atomic store, whose
        // release ordering publishes the entry written above before the new tail.
        let tail = unsafe { AtomicU16::from_ptr(BufRingEntry::tail(self.entries).cast_mut()) };
        tail.store(self.tail, Ordering::Release);
    }
}
