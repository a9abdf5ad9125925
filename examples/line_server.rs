//! A line-protocol server: each line a client sends is answered with its number on the
//! connection and the line (`3: hello`); `quit` ends the connection. A connection that sends
//! nothing for the idle timeout is told so and closed.
//!
//! ```text
//! cargo run --all-features --example line_server -- --backend poll --addr 127.0.0.1:7879
//! ```
//!
//! Options: `--addr HOST:PORT` (default 127.0.0.1:7879), `--backend NAME` (default: the one
//! `PLEXIO_BACKEND` names, else the best compiled in), `--idle-ms N` (default 30000),
//! `--drain-ms N` (default 5000).
//!
//! With the `signal` feature, Ctrl-C shuts it down gracefully: it stops accepting, lets the
//! open connections finish for at most the drain time (a second Ctrl-C cuts that short),
//! then drops the runtime, which closes whatever is left. Without it, Ctrl-C ends the
//! process at once.
//!
//! What to copy from it: one `BufReader` (here inside a `lines()` stream) kept for the whole
//! connection, so that the idle timeout around each `next()` loses no partial line (see
//! "Cancel safety" in `plexio::guide::from_tokio`); and the shutdown sequence in `serve`.
//! `tests/line_server.rs` drives it with real clients on every backend.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::process::ExitCode;
use std::task::Poll;
use std::time::Duration;

use futures::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use futures::stream::{FuturesUnordered, StreamExt};
use futures::{FutureExt, select};
use plexio::net::{TcpListener, TcpStream};
use plexio::time::timeout;

/// What the command line sets.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where to listen.
    pub addr: String,
    /// The backend to run on; `None`: plexio's default choice.
    pub backend: Option<String>,
    /// How long a connection may stay silent before it is closed.
    pub idle: Duration,
    /// How long open connections may take to finish once shutdown begins.
    pub drain: Duration,
}

impl Options {
    /// Parses the arguments that follow the program's name.
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
        let mut options = Options {
            addr: "127.0.0.1:7879".to_owned(),
            backend: None,
            idle: Duration::from_secs(30),
            drain: Duration::from_secs(5),
        };
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let mut value = || args.next().ok_or(format!("{arg} needs a value"));
            let millis = |value: String| {
                value.parse().map(Duration::from_millis).map_err(|_| format!("bad {arg}: {value}"))
            };
            match arg.as_str() {
                "--addr" => options.addr = value()?,
                "--backend" => options.backend = Some(value()?),
                "--idle-ms" => options.idle = millis(value()?)?,
                "--drain-ms" => options.drain = millis(value()?)?,
                "-h" | "--help" => {
                    return Err("usage: line_server [--addr HOST:PORT] \
                                [--backend select|poll|mio|polling] [--idle-ms N] [--drain-ms N]"
                        .to_owned());
                }
                other => return Err(format!("unknown argument {other:?}; see --help")),
            }
        }
        Ok(options)
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Connections accepted.
    pub accepted: usize,
    /// Connections still open when the drain time ran out (closed by dropping the runtime).
    pub unfinished: usize,
}

fn main() -> ExitCode {
    let options = match Options::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::FAILURE;
        }
    };
    let listening = |addr, backend: &str| {
        println!("line server listening on {addr} with the {backend} backend");
    };
    match run(&options, shutdown_signal, listening) {
        Ok(summary) => {
            println!(
                "line server stopped: {} connections served, {} cut off at the deadline",
                summary.accepted, summary.unfinished
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("line_server: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Resolves when the server should stop: on Ctrl-C with the `signal` feature (on Unix),
/// else never, and Ctrl-C ends the process as usual.
pub async fn shutdown_signal() -> io::Result<()> {
    #[cfg(feature = "signal")]
    match plexio::signal::ctrl_c().await {
        // Not on this system (Windows, for now): no graceful shutdown then.
        Err(error) if error.kind() == io::ErrorKind::Unsupported => {}
        result => return result,
    }
    std::future::pending().await
}

/// Builds the runtime, serves until `stop()` resolves, drains, and drops the runtime.
/// `listening` is told the address (useful with port 0) once a stop can no longer be missed.
pub fn run<S, F>(
    options: &Options,
    stop: S,
    listening: impl FnOnce(SocketAddr, &str),
) -> io::Result<Summary>
where
    S: Fn() -> F,
    F: Future<Output = io::Result<()>>,
{
    let builder = match &options.backend {
        Some(name) => plexio::Runtime::builder().backend(name),
        None => plexio::Runtime::builder(),
    };
    let runtime = builder.build()?;
    let backend = runtime.backend_name();
    let summary = runtime.block_on(async {
        let listener = TcpListener::bind(&options.addr).await?;
        serve(listener, options, stop, |addr| listening(addr, backend)).await
    });
    // Cancels the connections that outlived the drain time, and closes their sockets.
    drop(runtime);
    summary
}

/// Accepts until `stop()` resolves, then stops accepting and waits at most `options.drain`
/// for the open connections (a second `stop()` cuts the wait short).
async fn serve<S, F>(
    listener: TcpListener,
    options: &Options,
    stop: S,
    listening: impl FnOnce(SocketAddr),
) -> io::Result<Summary>
where
    S: Fn() -> F,
    F: Future<Output = io::Result<()>>,
{
    let mut connections = FuturesUnordered::new();
    let mut accepted = 0;
    let mut stopped = pin!(stop().fuse());
    // Polled once before announcing the server: a signal handler is installed on the first
    // poll, and a stop sent after the announcement must not be missed.
    if let Poll::Ready(result) = futures::poll!(&mut stopped) {
        return result.map(|()| Summary { accepted, unfinished: 0 });
    }
    listening(listener.local_addr()?);
    loop {
        select! {
            result = listener.accept().fuse() => match result {
                Ok((stream, peer)) => {
                    accepted += 1;
                    let idle = options.idle;
                    connections.push(plexio::spawn(async move {
                        if let Err(error) = converse(stream, idle).await {
                            eprintln!("line_server: {peer}: {error}");
                        }
                    }));
                }
                Err(error) => {
                    // Out of descriptors, say: the connection stays queued; pause rather
                    // than spin on a listener that stays readable.
                    eprintln!("line_server: accept failed: {error}");
                    plexio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            // Forget connections that have finished (skipped while there are none).
            _ = connections.select_next_some() => {}
            result = stopped => {
                result?;
                break;
            }
        }
    }
    // Stop accepting: from here on, new connections are refused.
    drop(listener);
    eprintln!("line_server: shutting down, {} connections open", connections.len());
    let drained = connections.by_ref().for_each(|_| async {});
    let mut again = pin!(stop().fuse());
    select! {
        result = timeout(options.drain, drained).fuse() => { let _ = result; }
        _ = again => eprintln!("line_server: stopped again, not waiting any longer"),
    }
    Ok(Summary { accepted, unfinished: connections.len() })
}

/// One connection: a line in, a line out, until `quit`, the end of the stream or the idle
/// timeout.
async fn converse(stream: TcpStream, idle: Duration) -> io::Result<()> {
    // Kept for the whole connection: a line that arrives in pieces is assembled inside
    // `lines`, and a timeout that drops a `next()` between two pieces loses none of it.
    // (Lines are not capped in length here; a server facing untrusted clients would cap
    // them.)
    let mut lines = BufReader::new(&stream).lines();
    let mut writer = &stream;
    let mut number = 0u64;
    loop {
        let line = match timeout(idle, lines.next()).await {
            Ok(Some(line)) => line?,
            Ok(None) => return Ok(()),
            Err(_elapsed) => {
                let notice = format!("idle for {} ms, closing\n", idle.as_millis());
                return writer.write_all(notice.as_bytes()).await;
            }
        };
        if line == "quit" {
            return writer.write_all(b"bye\n").await;
        }
        number += 1;
        writer.write_all(format!("{number}: {line}\n").as_bytes()).await?;
    }
}
