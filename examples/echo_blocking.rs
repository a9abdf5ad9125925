//! The first server model: blocking sockets, one connection at a time.
//!
//! ```text
//! cargo run --example echo_blocking -- --addr 127.0.0.1:7878
//! ```
//!
//! Standard library only, no plexio: `accept` blocks until a client connects, then `read`
//! and `write_all` block on that one client until it closes its end; only then does the
//! server accept the next. While one client is served, the others wait in the listen
//! backlog (their `connect` has succeeded: the kernel completed the handshake), and a client
//! that stays connected without sending stops everyone. This is the baseline the I/O-models
//! guide (`plexio::guide::io_models`) starts from; the benchmark measures it with one
//! connection only, the one case it can serve.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;

fn parse_addr() -> Result<String, String> {
    let mut addr = "127.0.0.1:7878".to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => addr = args.next().ok_or(format!("{arg} needs a value"))?,
            "-h" | "--help" => return Err("usage: echo_blocking [--addr HOST:PORT]".to_owned()),
            other => return Err(format!("unknown argument {other:?}; see --help")),
        }
    }
    Ok(addr)
}

fn main() -> ExitCode {
    let addr = match parse_addr() {
        Ok(addr) => addr,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::FAILURE;
        }
    };
    match serve(&addr) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("echo_blocking: {error}");
            ExitCode::FAILURE
        }
    }
}

fn serve(addr: &str) -> io::Result<()> {
    let listener = TcpListener::bind(addr)?;
    println!(
        "echo server listening on {} with blocking sockets, one connection at a time",
        listener.local_addr()?
    );
    loop {
        match listener.accept() {
            Ok((stream, peer)) => {
                if let Err(error) = echo(stream) {
                    eprintln!("echo_blocking: connection from {peer}: {error}");
                }
            }
            // A failed accept concerns one connection (or a passing shortage of
            // descriptors): the blocking call returns, and the next one waits again, so
            // this loop does not spin.
            Err(error) => eprintln!("echo_blocking: accept failed: {error}"),
        }
    }
}

/// Echoes one client until it closes its end, blocking in every call.
fn echo(mut stream: TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buffer = vec![0; 16 * 1024];
    loop {
        let n = stream.read(&mut buffer)?;
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&buffer[..n])?;
    }
}
