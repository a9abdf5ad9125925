//! A socket plexio does not wrap, made usable with `plexio::io::Async`: a UDP socket built
//! with socket2 and given options plexio's `UdpSocket` does not offer (a larger receive
//! buffer, `SO_REUSEADDR`), answering each datagram with its bytes reversed.
//! A client socket of the same kind sends it a few datagrams and checks the answers.
//!
//! ```text
//! cargo run --example own_socket -- --backend poll
//! ```
//!
//! The backend defaults to the one `PLEXIO_BACKEND` names, else the best one compiled in.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::process::ExitCode;

use plexio::Runtime;
use plexio::io::Async;
use socket2::{Domain, Socket, Type};

/// A non-blocking UDP socket on an ephemeral port of 127.0.0.1, with the options that are
/// the reason to make it oneself, then handed to std's type for its safe `recv_from`.
fn own_udp_socket() -> io::Result<Async<UdpSocket>> {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, None)?;
    socket.set_nonblocking(true)?;
    socket.set_reuse_address(true)?;
    socket.set_recv_buffer_size(1 << 20)?;
    socket.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())?;
    Async::new(UdpSocket::from(socket))
}

/// Answers `count` datagrams, each with its bytes reversed.
async fn serve(server: Async<UdpSocket>, count: usize) -> io::Result<()> {
    let mut buffer = [0u8; 2048];
    for _ in 0..count {
        // `read_with` runs the closure whenever the reactor says readable, until it stops
        // saying `WouldBlock`.
        let (n, from) = server.read_with(|socket| socket.recv_from(&mut buffer)).await?;
        buffer[..n].reverse();
        server.write_with(|socket| socket.send_to(&buffer[..n], from)).await?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let backend = std::env::args().skip_while(|arg| arg != "--backend").nth(1);
    let builder = match &backend {
        Some(name) => Runtime::builder().backend(name),
        None => Runtime::builder(),
    };
    let runtime = match builder.build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("own_socket: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let server = own_udp_socket()?;
        let server_addr = server.get_ref().local_addr()?;
        let client = own_udp_socket()?;
        client.get_ref().connect(server_addr)?;
        let words = ["plexio", "completion", "readiness"];
        let serving = plexio::spawn(serve(server, words.len()));
        for word in words {
            client.write_with(|socket| socket.send(word.as_bytes())).await?;
            let mut answer = [0; 64];
            let n = client.read_with(|socket| socket.recv(&mut answer)).await?;
            let expected: Vec<u8> = word.bytes().rev().collect();
            if answer[..n] != expected[..] {
                return Err(io::Error::other(format!("wrong answer for {word:?}")));
            }
            println!("{word} -> {}", String::from_utf8_lossy(&answer[..n]));
        }
        serving.await.map_err(io::Error::from)?
    });
    match result {
        Ok(()) => {
            println!("own_socket: answered on the {} backend", runtime.backend_name());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("own_socket: {error}");
            ExitCode::FAILURE
        }
    }
}
