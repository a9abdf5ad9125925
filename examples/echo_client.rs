//! A client for the echo server.
//!
//! Without `--count` it sends each line read from stdin and prints the echo. With
//! `--count N --size B` it sends N messages of B bytes, one at a time per connection, checks
//! every echoed byte, and prints the round-trip rate and latency:
//!
//! ```text
//! cargo run --release --example echo_client -- --addr 127.0.0.1:7878 --count 100000 --size 64
//! ```
//!
//! `--connections C` runs C such connections at once (N messages each); `--backend` picks
//! the client's own backend.

use std::io::{self, BufRead};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use futures::io::{AsyncReadExt, AsyncWriteExt};
use futures::{SinkExt, StreamExt};
use plexio::Runtime;
use plexio::net::TcpStream;

struct Options {
    addr: String,
    backend: Option<String>,
    count: Option<u64>,
    size: usize,
    connections: usize,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        addr: "127.0.0.1:7878".to_owned(),
        backend: None,
        count: None,
        size: 64,
        connections: 1,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        let number = |text: String| text.parse::<u64>().map_err(|_| format!("{arg}: not a number"));
        match arg.as_str() {
            "--addr" => options.addr = value()?,
            "--backend" => options.backend = Some(value()?),
            "--count" => options.count = Some(number(value()?)?),
            "--size" => options.size = number(value()?)?.max(1) as usize,
            "--connections" => options.connections = number(value()?)?.max(1) as usize,
            "-h" | "--help" => {
                return Err("usage: echo_client [--addr HOST:PORT] [--backend NAME] \
                            [--count N [--size BYTES] [--connections C]]"
                    .to_owned());
            }
            other => return Err(format!("unknown argument {other:?}; see --help")),
        }
    }
    Ok(options)
}

fn main() -> ExitCode {
    let options = match parse_options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::FAILURE;
        }
    };
    let builder = match &options.backend {
        Some(name) => Runtime::builder().backend(name),
        None => Runtime::builder(),
    };
    let runtime = match builder.build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("echo_client: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = match options.count {
        Some(count) => runtime.block_on(measure(&options, count, runtime.backend_name())),
        None => runtime.block_on(interactive(&options.addr)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("echo_client: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Sends stdin line by line and prints each echo.
async fn interactive(addr: &str) -> io::Result<()> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    // Standard input blocks: read it on a thread of its own and hand the lines over.
    let (mut lines_in, mut lines) = futures::channel::mpsc::channel::<String>(16);
    std::thread::spawn(move || {
        for line in io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if futures::executor::block_on(lines_in.send(line + "\n")).is_err() {
                break;
            }
        }
    });
    while let Some(line) = lines.next().await {
        stream.write_all(line.as_bytes()).await?;
        let mut echo = vec![0; line.len()];
        stream.read_exact(&mut echo).await?;
        print!("{}", String::from_utf8_lossy(&echo));
    }
    stream.close().await
}

/// Runs `options.connections` connections of `count` round trips each and prints the rate.
async fn measure(options: &Options, count: u64, backend: &str) -> io::Result<()> {
    let start = Instant::now();
    let clients: Vec<_> = (0..options.connections)
        .map(|id| plexio::spawn(round_trips(options.addr.clone(), id as u64, count, options.size)))
        .collect();
    let mut latencies = Vec::new();
    for client in clients {
        latencies.extend(client.await.map_err(io::Error::from)??);
    }
    let elapsed = start.elapsed();
    latencies.sort_unstable();
    let quantile = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    let total = latencies.len() as f64;
    println!(
        "client backend {backend}: {} round trips of {} B over {} connection(s) in {:.2} s: \
         {:.0} round trips/s, {:.1} MB/s each way, p50 {:?}, p99 {:?}",
        latencies.len(),
        options.size,
        options.connections,
        elapsed.as_secs_f64(),
        total / elapsed.as_secs_f64(),
        total * options.size as f64 / elapsed.as_secs_f64() / 1e6,
        quantile(0.5),
        quantile(0.99),
    );
    Ok(())
}

/// One connection's round trips; checks every echoed byte and returns each latency.
async fn round_trips(addr: String, id: u64, count: u64, size: usize) -> io::Result<Vec<Duration>> {
    let mut stream = TcpStream::connect(addr.as_str()).await?;
    stream.set_nodelay(true)?;
    let mut message = vec![0; size];
    let mut echo = vec![0; size];
    let mut latencies = Vec::with_capacity(count as usize);
    for round in 0..count {
        for (i, byte) in message.iter_mut().enumerate() {
            *byte = (id as usize + round as usize + i) as u8;
        }
        let sent = Instant::now();
        stream.write_all(&message).await?;
        stream.read_exact(&mut echo).await?;
        latencies.push(sent.elapsed());
        if echo != message {
            return Err(io::Error::other(format!("connection {id}: echo {round} differs")));
        }
    }
    stream.close().await?;
    Ok(latencies)
}
