//! `examples/line_server.rs`, compiled in here as a module and driven by real clients (std's
//! blocking `TcpStream`s on their own threads) on every backend: lines that arrive whole or
//! in pieces are answered in order, silent connections are closed at the idle timeout, and
//! (on Unix, with the `signal` feature) `SIGINT` stops accepting while open connections
//! finish, or are cut off at the drain deadline when the runtime is dropped.

mod util;

#[path = "../examples/line_server.rs"]
#[allow(dead_code)]
mod line_server;

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Mutex, mpsc};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use futures::channel::oneshot;
use line_server::{Options, Summary};

/// A client's reads give up after this: no test waits for ever on a server that broke.
const READ_LIMIT: Duration = Duration::from_secs(60);

fn options(backend: &str, idle: Duration, drain: Duration) -> Options {
    Options { addr: "127.0.0.1:0".to_owned(), backend: Some(backend.to_owned()), idle, drain }
}

/// Starts the server on a thread of its own; it stops when `stop` is sent or dropped.
fn start(options: Options) -> (SocketAddr, oneshot::Sender<()>, JoinHandle<io::Result<Summary>>) {
    let (stop, stopped) = oneshot::channel::<()>();
    let stopped = Mutex::new(Some(stopped));
    // The first call waits for `stop`; the second (during the drain) never resolves.
    let stop_signal = move || {
        let stopped = stopped.lock().unwrap().take();
        async move {
            match stopped {
                Some(stopped) => stopped.await.map_err(io::Error::other),
                None => std::future::pending().await,
            }
        }
    };
    let (addr, server) = start_with(options, stop_signal);
    (addr, stop, server)
}

fn start_with<S, F>(options: Options, stop: S) -> (SocketAddr, JoinHandle<io::Result<Summary>>)
where
    S: Fn() -> F + Send + 'static,
    F: std::future::Future<Output = io::Result<()>>,
{
    let (listening, addr) = mpsc::channel();
    let server = thread::spawn(move || {
        line_server::run(&options, stop, |addr, _backend| listening.send(addr).unwrap())
    });
    (addr.recv().expect("the server failed to start"), server)
}

/// The tests of this file take turns: each server sees every `SIGINT`, and a test that
/// probes for a closed port must not find another test's server given the same port.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A client: writes raw bytes, reads lines.
struct Client {
    writer: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Client {
    fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(READ_LIMIT)).unwrap();
        stream.set_nodelay(true).unwrap();
        Client { writer: stream.try_clone().unwrap(), reader: BufReader::new(stream) }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).unwrap();
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        line
    }

    /// What the server sends until it closes the connection.
    fn rest(&mut self) -> String {
        let mut rest = String::new();
        self.reader.read_to_string(&mut rest).unwrap();
        rest
    }
}

#[test]
fn answers_every_line_of_concurrent_clients_on_every_backend() {
    let _alone = one_at_a_time();
    let _watchdog = util::Watchdog::start(util::TEST_LIMIT);
    for backend in plexio::backends() {
        let options = options(backend, Duration::from_secs(30), Duration::from_secs(30));
        let (addr, stop, server) = start(options);
        let clients: Vec<_> = (0..8)
            .map(|id| {
                thread::spawn(move || {
                    let mut client = Client::connect(addr);
                    for n in 1..=20 {
                        let line = format!("client {id} line {n}");
                        if n % 2 == 0 {
                            // In two pieces: the server's BufReader puts them together.
                            let (head, tail) = line.split_at(4);
                            client.send(head.as_bytes());
                            thread::sleep(Duration::from_millis(2));
                            client.send(format!("{tail}\n").as_bytes());
                        } else {
                            client.send(format!("{line}\r\n").as_bytes());
                        }
                        assert_eq!(client.line(), format!("{n}: {line}\n"), "on {backend}");
                    }
                    client.send(b"quit\n");
                    assert_eq!(client.rest(), "bye\n", "on {backend}");
                })
            })
            .collect();
        for client in clients {
            client.join().unwrap();
        }
        stop.send(()).unwrap();
        let summary = server.join().unwrap().unwrap();
        assert_eq!(summary, Summary { accepted: 8, unfinished: 0 }, "on {backend}");
    }
}

#[test]
fn closes_silent_connections_at_the_idle_timeout_on_every_backend() {
    let _alone = one_at_a_time();
    let _watchdog = util::Watchdog::start(util::TEST_LIMIT);
    for backend in plexio::backends() {
        let options = options(backend, Duration::from_millis(100), Duration::from_secs(30));
        let (addr, stop, server) = start(options);
        let notice = "idle for 100 ms, closing\n";

        let mut silent = Client::connect(addr);
        assert_eq!(silent.rest(), notice, "on {backend}");

        let mut answered_then_silent = Client::connect(addr);
        answered_then_silent.send(b"one\n");
        assert_eq!(answered_then_silent.line(), "1: one\n", "on {backend}");
        assert_eq!(answered_then_silent.rest(), notice, "on {backend}");

        // Half a line is not a line: no answer, only the notice.
        let mut half_a_line = Client::connect(addr);
        half_a_line.send(b"unfinish");
        assert_eq!(half_a_line.rest(), notice, "on {backend}");

        stop.send(()).unwrap();
        let summary = server.join().unwrap().unwrap();
        assert_eq!(summary, Summary { accepted: 3, unfinished: 0 }, "on {backend}");
    }
}

#[test]
fn options_parse_as_documented() {
    let args =
        ["--addr", "127.0.0.1:9", "--backend", "poll", "--idle-ms", "250", "--drain-ms", "7"];
    let options = Options::parse(args.map(String::from)).unwrap();
    assert_eq!(options.addr, "127.0.0.1:9");
    assert_eq!(options.backend.as_deref(), Some("poll"));
    assert_eq!(
        (options.idle, options.drain),
        (Duration::from_millis(250), Duration::from_millis(7))
    );
    assert!(Options::parse(["--idle-ms".to_owned()]).unwrap_err().contains("needs a value"));
    assert!(Options::parse(["--nope".to_owned()]).unwrap_err().contains("unknown argument"));
}

/// The graceful shutdown, through a real `SIGINT` the process sends itself.
#[cfg(all(unix, feature = "signal"))]
mod sigint {
    use super::*;
    use signal_hook::consts::SIGINT;

    #[test]
    fn sigint_stops_accepting_and_lets_open_connections_finish() {
        let _alone = one_at_a_time();
        let _watchdog = util::Watchdog::start(util::TEST_LIMIT);
        let options =
            options(plexio::backends()[0], Duration::from_secs(30), Duration::from_secs(30));
        let (addr, server) = start_with(options, line_server::shutdown_signal);
        let mut open = Client::connect(addr);
        open.send(b"before\n");
        assert_eq!(open.line(), "1: before\n");

        signal_hook::low_level::raise(SIGINT).unwrap();
        // The listener closes soon after: until then a probe may still get in (and leaves
        // at once, which finishes its connection).
        while let Ok(probe) = TcpStream::connect(addr) {
            drop(probe);
            thread::sleep(Duration::from_millis(5));
        }
        // The connection that was open is still served.
        open.send(b"after\n");
        assert_eq!(open.line(), "2: after\n");
        open.send(b"quit\n");
        assert_eq!(open.rest(), "bye\n");
        let summary = server.join().unwrap().unwrap();
        assert!(summary.accepted >= 1);
        assert_eq!(summary.unfinished, 0);
    }

    #[test]
    fn sigint_drain_deadline_cuts_off_a_connection_that_stays() {
        let _alone = one_at_a_time();
        let _watchdog = util::Watchdog::start(util::TEST_LIMIT);
        let options =
            options(plexio::backends()[0], Duration::from_secs(30), Duration::from_millis(100));
        let (addr, server) = start_with(options, line_server::shutdown_signal);
        let mut staying = Client::connect(addr);
        staying.send(b"hi\n");
        assert_eq!(staying.line(), "1: hi\n");

        signal_hook::low_level::raise(SIGINT).unwrap();
        let summary = server.join().unwrap().unwrap();
        assert_eq!(summary, Summary { accepted: 1, unfinished: 1 });
        // Dropping the runtime cancelled the connection's task, which closed its socket.
        assert_eq!(staying.rest(), "");
    }
}
