//! The plexio echo server, on any of its backends.

use std::io;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use plexio::net::{TcpListener, TcpStream};

use super::{BUFFER_SIZE, accept_failed};

/// Serves on `listener` with a plexio runtime on `backend`; calls `announce` once listening.
pub(super) fn serve(
    backend: &str,
    listener: std::net::TcpListener,
    announce: impl FnOnce() -> io::Result<()>,
) -> io::Result<()> {
    let runtime = plexio::Runtime::builder().backend(backend).build().map_err(io::Error::other)?;
    runtime.block_on(async {
        let listener = TcpListener::from_std(listener)?;
        announce()?;
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    plexio::spawn(echo(stream));
                }
                Err(error) => {
                    if let Some(pause) = accept_failed(&error) {
                        plexio::time::sleep(pause).await;
                    }
                }
            }
        }
    })
}

/// Echoes one connection until it ends.
async fn echo(mut stream: TcpStream) {
    if stream.set_nodelay(true).is_err() {
        return;
    }
    let mut buffer = vec![0; BUFFER_SIZE];
    loop {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if stream.write_all(&buffer[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}
