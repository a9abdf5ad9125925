//! `DrainedSockets`: which sockets their last receive left empty, so that the next receive
//! on them waits for data before it tries (`IORING_RECVSEND_POLL_FIRST`).
//!
//! A receive handed to the ring is first tried at once, in the `io_uring_enter` that
//! submits it; on an empty socket that attempt fails, and only then does the kernel arm a
//! poll and try again when data arrives. A request-response connection submits its next
//! receive soon after reading a message, usually before the peer has answered: the attempt
//! is wasted, a whole `recvmsg` into the TCP stack. A receive that did not fill its buffer
//! left the socket empty, so the next one on that socket asks the kernel to poll first; one
//! that filled its buffer (a stream) tries at once as before. If the next message is there
//! by then after all, the poll finds it ready at once and the kernel receives it without
//! waiting.
//!
//! Counted with the `sock:sock_recv_length` and `io_uring:io_uring_poll_arm` tracepoints at
//! 64 B x 50 (`bench/`): through a stream's own buffer, `recvmsg` calls per message went
//! from 2.00 to 1.00, poll arms stayed at 1.00; through owned buffers (which read again only
//! once the echo's send has completed, when the answer is sometimes there already),
//! `recvmsg` calls went from 1.2 to 2.0 (varying from run to run with how often the answer
//! was there already) down to 1.00, while poll arms varied as much before as after (0.15
//! to 0.96 per message before, 0.45 to 0.97 after).
//!
//! The record is a hint, kept by descriptor number: a closed socket's mark may carry over to
//! a new socket given the same number, which then polls before its first receive. That is
//! only slower, never wrong: a poll of a socket with data in it is ready at once.

/// One bit per descriptor number: set when the last receive on it left the socket empty.
#[derive(Debug, Default)]
pub(super) struct DrainedSockets {
    bits: Vec<u64>,
}

impl DrainedSockets {
    /// Whether the last receive on `fd` found or left the socket empty.
    pub(super) fn contains(&self, fd: i32) -> bool {
        let Ok(fd) = usize::try_from(fd) else { return false };
        self.bits.get(fd / 64).is_some_and(|word| word & (1 << (fd % 64)) != 0)
    }

    /// Records what the last receive on `fd` found: the socket `empty` or not.
    pub(super) fn record(&mut self, fd: i32, empty: bool) {
        let Ok(fd) = usize::try_from(fd) else { return };
        let (word, bit) = (fd / 64, 1u64 << (fd % 64));
        if empty {
            if word >= self.bits.len() {
                self.bits.resize(word + 1, 0);
            }
            self.bits[word] |= bit;
        } else if let Some(bits) = self.bits.get_mut(word) {
            *bits &= !bit;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_each_descriptor_apart() {
        let mut drained = DrainedSockets::default();
        assert!(!drained.contains(5));
        drained.record(5, true);
        drained.record(200, true);
        assert!(drained.contains(5) && drained.contains(200));
        assert!(!drained.contains(4) && !drained.contains(6) && !drained.contains(199));
        drained.record(5, false);
        assert!(!drained.contains(5) && drained.contains(200));
        // Nothing recorded and nothing grown for a socket that was not empty.
        drained.record(100_000, false);
        assert!(!drained.contains(100_000));
        assert_eq!(drained.bits.len(), 4);
        // A negative descriptor is nobody's.
        drained.record(-1, true);
        assert!(!drained.contains(-1));
    }
}
