//! The idle-connection scenario: how much memory the server holds per open, idle connection.
//!
//! Each connection makes one 64-byte round trip (checked), so the server has certainly
//! accepted it, allocated its state, and served it once, as a connection that has been used
//! and then gone quiet would have. The servers run with lazy buffers
//! ([`Buffers::Lazy`](crate::server::Buffers::Lazy)): the buffer that served the probe has
//! been dropped again, so what is left is what the runtime itself keeps per connection. The
//! server's resident memory is read before the first connection and after the last.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::error::BenchError;
use crate::load::CONNECT_TIMEOUT;
use crate::pattern::{Pattern, first_difference};

/// The size of the one round trip each connection makes.
const PROBE_SIZE: usize = 64;

/// How many connections are opened before their round trips are completed: small enough
/// that the listen backlog never overflows.
const BATCH: usize = 128;

/// How long the server may take to echo a probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long to let the server settle before reading its memory.
const SETTLE: Duration = Duration::from_millis(200);

/// What the idle scenario measured.
#[derive(Debug)]
pub struct IdleResult {
    /// How many connections were open.
    pub connections: usize,
    /// The server's resident memory before the first connection, in bytes.
    pub rss_before: u64,
    /// The server's resident memory with every connection open, in bytes.
    pub rss_after: u64,
}

impl IdleResult {
    /// Growth of resident memory per connection, in bytes.
    pub fn bytes_per_connection(&self) -> f64 {
        self.rss_after.saturating_sub(self.rss_before) as f64 / self.connections.max(1) as f64
    }
}

/// Opens `connections` idle connections to the server at `addr`; `server_rss` reads the
/// server's resident memory. The connections are closed when this returns.
pub fn run_idle(
    addr: SocketAddr,
    connections: usize,
    pattern: &Pattern,
    mut server_rss: impl FnMut() -> std::io::Result<u64>,
) -> Result<IdleResult, BenchError> {
    std::thread::sleep(SETTLE);
    let rss_before = server_rss()?;
    let mut open = Vec::with_capacity(connections);
    let mut batch = Vec::with_capacity(BATCH);
    for id in 0..connections {
        let mut stream = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT)
            .map_err(|error| BenchError::failed(format!("connection {id} refused: {error}")))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(PROBE_TIMEOUT))?;
        stream.write_all(pattern.message(id as u64, 0, PROBE_SIZE))?;
        batch.push((id, stream));
        if batch.len() == BATCH || id + 1 == connections {
            for (id, mut stream) in batch.drain(..) {
                probe(&mut stream, id as u64, pattern)?;
                open.push(stream);
            }
        }
    }
    std::thread::sleep(SETTLE);
    let rss_after = server_rss()?;
    Ok(IdleResult { connections: open.len(), rss_before, rss_after })
}

/// Reads back and checks connection `id`'s probe.
fn probe(stream: &mut TcpStream, id: u64, pattern: &Pattern) -> Result<(), BenchError> {
    let mut echo = [0; PROBE_SIZE];
    stream
        .read_exact(&mut echo)
        .map_err(|error| BenchError::failed(format!("connection {id} got no echo: {error}")))?;
    let expected = pattern.message(id, 0, PROBE_SIZE);
    match first_difference(&echo, expected) {
        None => Ok(()),
        Some(at) => Err(BenchError::Mismatch(format!(
            "idle connection {id}, byte {at}: got {:#04x}, sent {:#04x}",
            echo[at], expected[at]
        ))),
    }
}
