//! `shutdown` and the address queries on a socket an accept handed over and on one a connect
//! connected, on every backend. On `iocp` these are an `AcceptEx` socket and a `ConnectEx`
//! socket, which Windows leaves without the state that `shutdown` and `getpeername` need
//! (they fail with `WSAENOTCONN`) until `SO_UPDATE_ACCEPT_CONTEXT` and
//! `SO_UPDATE_CONNECT_CONTEXT` give it to them.
//!
//! Wine is more lenient than Windows here: its `shutdown` and `getpeername` work without the
//! updates (checked by leaving them out of the driver: this test still passed under wine),
//! so under wine the test cannot catch a missing update; on Windows it does.

mod util;

use std::net::Shutdown;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use plexio::net::{TcpListener, TcpStream};
use util::run;

per_backend!(shutdown_works_on_accepted_and_on_connected_sockets);

fn shutdown_works_on_accepted_and_on_connected_sockets(backend: &str) {
    run(backend, || async {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let (mut connected, (mut accepted, peer)) =
            futures::try_join!(TcpStream::connect(address), listener.accept())?;
        assert_eq!(connected.peer_addr()?, address);
        assert_eq!(accepted.local_addr()?, address);
        assert_eq!(accepted.peer_addr()?, connected.local_addr()?);
        assert_eq!(peer, connected.local_addr()?);

        // Each side says something and shuts its writing half; each reads the other's
        // words, then the end of the stream.
        connected.write_all(b"from the connected side").await?;
        connected.shutdown(Shutdown::Write)?;
        accepted.write_all(b"from the accepted side").await?;
        accepted.shutdown(Shutdown::Write)?;
        let mut heard_by_accepted = Vec::new();
        accepted.read_to_end(&mut heard_by_accepted).await?;
        assert_eq!(heard_by_accepted, b"from the connected side");
        let mut heard_by_connected = Vec::new();
        connected.read_to_end(&mut heard_by_connected).await?;
        assert_eq!(heard_by_connected, b"from the accepted side");
        Ok(())
    });
}
