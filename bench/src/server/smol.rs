//! The smol echo server: `smol::block_on` driving a `LocalExecutor` on one thread.

use std::io;

use smol::io::{AsyncReadExt, AsyncWriteExt};
use smol::net::{TcpListener, TcpStream};
use smol::{LocalExecutor, Timer};

use super::{BUFFER_SIZE, accept_failed};

/// Serves on `listener` on the calling thread.
pub(super) fn serve(
    listener: std::net::TcpListener,
    announce: impl FnOnce() -> io::Result<()>,
) -> io::Result<()> {
    let executor = LocalExecutor::new();
    smol::block_on(executor.run(async {
        let listener = TcpListener::try_from(listener)?;
        announce()?;
        loop {
            match listener.accept().await {
                Ok((stream, _)) => executor.spawn(echo(stream)).detach(),
                Err(error) => {
                    if let Some(pause) = accept_failed(&error) {
                        Timer::after(pause).await;
                    }
                }
            }
        }
    }))
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
