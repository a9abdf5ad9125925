//! One load-generator connection: sends messages, keeps a bounded number unanswered, checks
//! every echoed byte, and times each message from its first byte sent to its last byte
//! echoed.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::time::Instant;

use mio::net::TcpStream;

use super::Recorder;
use crate::error::BenchError;
use crate::pattern::{Pattern, first_difference};

/// A connection of the echo scenarios. Its byte stream is messages `0, 1, 2, ...` of
/// `message_size` bytes each, message `i` being `pattern.message(id, i, message_size)`.
#[derive(Debug)]
pub(super) struct EchoConnection {
    id: u64,
    stream: TcpStream,
    message_size: usize,
    in_flight: usize,
    /// Bytes written so far.
    sent: u64,
    /// Bytes echoed back and checked so far.
    received: u64,
    /// When each unanswered message's first byte was written, oldest first.
    started: VecDeque<Instant>,
}

impl EchoConnection {
    /// Wraps `stream` (connected, non-blocking) as connection `id`.
    pub(super) fn new(id: u64, stream: TcpStream, message_size: usize, in_flight: usize) -> Self {
        assert!(message_size > 0 && in_flight > 0);
        EchoConnection {
            id,
            stream,
            message_size,
            in_flight,
            sent: 0,
            received: 0,
            started: VecDeque::with_capacity(in_flight),
        }
    }

    /// The socket, for registering it.
    pub(super) fn stream_mut(&mut self) -> &mut TcpStream {
        &mut self.stream
    }

    /// Writes until the socket is full or `in_flight` messages are unanswered.
    pub(super) fn send(&mut self, pattern: &Pattern) -> io::Result<()> {
        let size = self.message_size as u64;
        loop {
            let (index, offset) = (self.sent / size, (self.sent % size) as usize);
            if offset == 0 && index - self.received / size >= self.in_flight as u64 {
                return Ok(());
            }
            let message = pattern.message(self.id, index, self.message_size);
            match self.stream.write(&message[offset..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    if offset == 0 {
                        self.started.push_back(Instant::now());
                    }
                    self.sent += n as u64;
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
    }

    /// Reads until the socket is empty, checking each byte against what was sent, recording
    /// each completed message; then sends what may now be sent.
    pub(super) fn receive(
        &mut self,
        pattern: &Pattern,
        scratch: &mut [u8],
        recorder: &mut Recorder,
    ) -> Result<(), BenchError> {
        loop {
            let n = match self.stream.read(scratch) {
                Ok(0) => {
                    return Err(BenchError::failed(format!(
                        "the server closed connection {} after echoing {} bytes",
                        self.id, self.received
                    )));
                }
                Ok(n) => n,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => {
                    return Err(BenchError::failed(format!("connection {}: {error}", self.id)));
                }
            };
            let now = Instant::now();
            self.check(pattern, &scratch[..n], now, recorder)?;
        }
        self.send(pattern)
            .map_err(|error| BenchError::failed(format!("connection {}: {error}", self.id)))
    }

    /// Checks `data`, the next bytes echoed, and records the messages it completes.
    fn check(
        &mut self,
        pattern: &Pattern,
        mut data: &[u8],
        now: Instant,
        recorder: &mut Recorder,
    ) -> Result<(), BenchError> {
        let size = self.message_size as u64;
        recorder.bytes(data.len() as u64);
        while !data.is_empty() {
            let unanswered = self.sent - self.received;
            if unanswered == 0 {
                return Err(BenchError::Mismatch(format!(
                    "connection {} got {} bytes more than it sent ({})",
                    self.id,
                    data.len(),
                    self.sent
                )));
            }
            let (index, offset) = (self.received / size, (self.received % size) as usize);
            let take = data.len().min(self.message_size - offset).min(unanswered as usize);
            let expected =
                &pattern.message(self.id, index, self.message_size)[offset..offset + take];
            if let Some(at) = first_difference(&data[..take], expected) {
                return Err(BenchError::Mismatch(format!(
                    "connection {}, message {index}, byte {}: got {:#04x}, sent {:#04x}",
                    self.id,
                    offset + at,
                    data[at],
                    expected[at]
                )));
            }
            self.received += take as u64;
            data = &data[take..];
            if self.received % size == 0 {
                let started = self.started.pop_front().expect("a message was in flight");
                recorder.message(now.saturating_duration_since(started));
            }
        }
        Ok(())
    }
}
