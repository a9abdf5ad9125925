//! The load generator of the echo scenarios: one thread, one mio `Poll`, every connection
//! driven the same way whatever the server.

mod connection;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};

use crate::error::BenchError;
use crate::pattern::Pattern;
use connection::EchoConnection;

/// How long connecting one connection may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long the server may go without echoing a byte before the measurement fails.
const STALL_TIMEOUT: Duration = Duration::from_secs(5);

/// The longest single wait for events, so that deadlines are noticed.
const TICK: Duration = Duration::from_millis(50);

/// When a measurement runs: load runs for `warmup`, then is measured for `duration`.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    /// Load before measuring, to reach a steady state (and warm caches and allocators).
    pub warmup: Duration,
    /// How long the measurement itself lasts.
    pub duration: Duration,
}

/// The shape of the echo load.
#[derive(Clone, Copy, Debug)]
pub struct EchoLoad {
    /// How many connections.
    pub connections: usize,
    /// The size of each message.
    pub message_size: usize,
    /// How many messages a connection keeps unanswered at most.
    pub in_flight: usize,
}

/// What was measured over the window.
#[derive(Debug)]
pub struct EchoResult {
    /// Messages whose last byte came back within the window.
    pub messages: u64,
    /// Bytes echoed back within the window.
    pub bytes: u64,
    /// The window's actual length.
    pub elapsed: Duration,
    /// The latency of each of those messages in nanoseconds, sorted.
    pub latencies: Vec<u64>,
    /// The server's CPU time over the window, if it could be read.
    pub server_cpu: Option<Duration>,
}

/// Tallies what happens during the window.
#[derive(Debug, Default)]
struct Recorder {
    recording: bool,
    messages: u64,
    bytes: u64,
    latencies: Vec<u64>,
    /// Bytes echoed since the start, window or not (to notice a stall).
    progress: u64,
}

impl Recorder {
    fn bytes(&mut self, bytes: u64) {
        self.progress += bytes;
        if self.recording {
            self.bytes += bytes;
        }
    }

    fn message(&mut self, latency: Duration) {
        if self.recording {
            self.messages += 1;
            self.latencies.push(u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX));
        }
    }
}

/// Drives the echo server at `addr` with `load` over `window`; `server_cpu` reads the
/// server's CPU time so far, and is called once as the window starts (which it does once the
/// call has returned) and once as it ends, after the last message is counted, unless the run
/// fails first. `--callgrind` relies on that to zero and dump the server's instruction counts
/// at the window's edges.
pub fn run_echo(
    addr: SocketAddr,
    load: EchoLoad,
    window: Window,
    pattern: &Pattern,
    mut server_cpu: impl FnMut() -> Option<Duration>,
) -> Result<EchoResult, BenchError> {
    let mut poll = Poll::new()?;
    let mut connections = Vec::with_capacity(load.connections);
    for id in 0..load.connections {
        let stream = std::net::TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT)
            .map_err(|error| BenchError::failed(format!("connection {id} refused: {error}")))?;
        stream.set_nodelay(true)?;
        stream.set_nonblocking(true)?;
        let mut connection = EchoConnection::new(
            id as u64,
            mio::net::TcpStream::from_std(stream),
            load.message_size,
            load.in_flight,
        );
        poll.registry().register(
            connection.stream_mut(),
            Token(id),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        connections.push(connection);
    }

    let mut recorder = Recorder::default();
    let mut scratch = vec![0; 64 * 1024];
    let mut events = Events::with_capacity(1024);
    for connection in &mut connections {
        connection.send(pattern)?;
    }

    let start = Instant::now();
    let measure_from = start + window.warmup;
    let mut window_start = None;
    let mut cpu_start = None;
    let (mut last_progress, mut progress_at) = (0, start);
    loop {
        let now = Instant::now();
        if window_start.is_none() && now >= measure_from {
            cpu_start = server_cpu();
            // Not `now`: a slow reader (callgrind_control takes a fraction of a second) must
            // not shorten the window.
            window_start = Some(Instant::now());
            recorder.recording = true;
        }
        let deadline = window_start.map_or(measure_from, |from| from + window.duration);
        if now >= deadline {
            break;
        }
        if recorder.progress != last_progress {
            (last_progress, progress_at) = (recorder.progress, now);
        } else if now.duration_since(progress_at) > STALL_TIMEOUT {
            return Err(BenchError::failed(format!(
                "stalled: nothing echoed for {} s",
                STALL_TIMEOUT.as_secs()
            )));
        }
        match poll.poll(&mut events, Some(TICK.min(deadline - now))) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error.into()),
        }
        for event in &events {
            let connection = &mut connections[event.token().0];
            if event.is_readable() || event.is_read_closed() || event.is_error() {
                connection.receive(pattern, &mut scratch, &mut recorder)?;
            }
            if event.is_writable() {
                connection.send(pattern)?;
            }
        }
    }
    let elapsed = window_start.map_or(Duration::ZERO, |from| from.elapsed());
    // Called whatever the start returned: the end of the window is an edge all the same.
    let cpu_end = server_cpu();
    let server_cpu = cpu_start.zip(cpu_end).map(|(start, end)| end.saturating_sub(start));
    let mut latencies = recorder.latencies;
    latencies.sort_unstable();
    Ok(EchoResult {
        messages: recorder.messages,
        bytes: recorder.bytes,
        elapsed,
        latencies,
        server_cpu,
    })
}
