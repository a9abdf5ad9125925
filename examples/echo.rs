//! A multi-connection TCP echo server.
//!
//! ```text
//! cargo run --example echo -- --addr 127.0.0.1:7878 --backend poll
//! ```
//!
//! Both flags are optional: the address defaults to 127.0.0.1:7878, the backend to the one
//! `PLEXIO_BACKEND` names, else the best one compiled in. Ctrl-C ends it.

use std::io;
use std::process::ExitCode;
use std::time::Duration;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use plexio::Runtime;
use plexio::net::{TcpListener, TcpStream};

struct Options {
    addr: String,
    backend: Option<String>,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options { addr: "127.0.0.1:7878".to_owned(), backend: None };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--addr" => options.addr = value()?,
            "--backend" => options.backend = Some(value()?),
            "-h" | "--help" => {
                return Err(
                    "usage: echo [--addr HOST:PORT] [--backend uring|iocp|mio|polling|poll|select]"
                        .to_owned(),
                );
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
            eprintln!("echo: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(&options.addr, runtime.backend_name())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("echo: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(addr: &str, backend: &str) -> io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    println!("echo server listening on {} with the {backend} backend", listener.local_addr()?);
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                plexio::spawn(async move {
                    if let Err(error) = echo(stream).await {
                        eprintln!("echo: connection from {peer}: {error}");
                    }
                });
            }
            Err(error) => {
                // Out of descriptors, say: the connection stays queued, so pause rather
                // than spin on a listener that stays readable.
                eprintln!("echo: accept failed: {error}");
                plexio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn echo(mut stream: TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buffer = vec![0; 16 * 1024];
    loop {
        let n = stream.read(&mut buffer).await?;
        if n == 0 {
            return stream.close().await;
        }
        stream.write_all(&buffer[..n]).await?;
    }
}
