//! Unix domain sockets on every backend: the stream scenarios of the conformance suite that
//! apply to them (a checked 8 MiB echo, half-close, cancelled reads, refused connects), and
//! what only they have (socket files, abstract names, peer credentials, socket pairs,
//! datagrams that keep their boundaries).

#![cfg(unix)]

mod util;

use std::io;
use std::net::Shutdown;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use plexio::net::{UnixDatagram, UnixListener, UnixStream};
use plexio::time::timeout;
use util::{Checksum, fill_pattern, run};

per_backend!(
    unix_stream_echoes_8_mib_with_checksum,
    unix_half_close_peer_reads_eof_and_still_writes,
    unix_dropped_read_future_loses_no_byte,
    unix_connect_to_nothing_is_an_error,
    unix_socket_file_stays_until_removed,
    unix_abstract_names_leave_nothing_behind,
    unix_pairs_and_peer_credentials,
    unix_datagrams_keep_their_boundaries_and_senders,
);

/// How long any single wait may take before the scenario calls it a hang.
const HANG: Duration = Duration::from_secs(10);

/// A fresh socket path under the temporary directory, unique to this process and call.
fn socket_path(name: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let unique = NEXT.fetch_add(1, Ordering::Relaxed);
    let path =
        std::env::temp_dir().join(format!("plexio-{}-{unique}-{name}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

/// Removes the socket file when dropped, so that a failing scenario leaves none behind.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A listener on a fresh path, the path, and its clean-up.
fn listener(name: &str) -> io::Result<(UnixListener, PathBuf, RemoveOnDrop)> {
    let path = socket_path(name);
    let listener = UnixListener::bind(&path)?;
    Ok((listener, path.clone(), RemoveOnDrop(path)))
}

fn unix_stream_echoes_8_mib_with_checksum(backend: &str) {
    run(backend, || async {
        let (listener, path, _remove) = listener("echo")?;
        let server = plexio::spawn(async move {
            let (stream, _) = listener.accept().await?;
            let mut buffer = vec![0; 64 << 10];
            loop {
                let n = (&stream).read(&mut buffer).await?;
                if n == 0 {
                    return (&stream).close().await;
                }
                (&stream).write_all(&buffer[..n]).await?;
            }
        });
        const LENGTH: usize = 8 << 20;
        let mut data = vec![0; LENGTH];
        fill_pattern(11, 0, 0, &mut data);
        let client = UnixStream::connect(&path).await?;
        let writing = async {
            for chunk in data.chunks(100_000) {
                (&client).write_all(chunk).await?;
            }
            (&client).close().await
        };
        let reading = async {
            let mut echoed = Vec::with_capacity(LENGTH);
            (&client).read_to_end(&mut echoed).await?;
            Ok::<_, io::Error>(echoed)
        };
        let ((), echoed) = futures::try_join!(writing, reading)?;
        assert_eq!(echoed.len(), LENGTH);
        assert_eq!(Checksum::of(&echoed), Checksum::of(&data));
        server.await??;
        Ok(())
    });
}

fn unix_half_close_peer_reads_eof_and_still_writes(backend: &str) {
    run(backend, || async {
        let (listener, path, _remove) = listener("half-close")?;
        let mut client = UnixStream::connect(&path).await?;
        let (mut server, _) = listener.accept().await?;
        client.write_all(&[5; 1000]).await?;
        client.shutdown(Shutdown::Write)?;
        let mut received = Vec::new();
        timeout(HANG, server.read_to_end(&mut received)).await??;
        assert_eq!(received, [5; 1000]);
        server.write_all(b"got 1000 bytes").await?;
        server.close().await?;
        let mut answer = String::new();
        timeout(HANG, client.read_to_string(&mut answer)).await??;
        assert_eq!(answer, "got 1000 bytes");
        Ok(())
    });
}

fn unix_dropped_read_future_loses_no_byte(backend: &str) {
    run(backend, || async {
        let (mut a, mut b) = UnixStream::pair()?;
        let mut buffer = [0; 16];
        // Nothing to read yet: the read is cancelled while it waits.
        assert!(timeout(Duration::from_millis(20), b.read(&mut buffer)).await.is_err());
        a.write_all(b"kept").await?;
        timeout(HANG, b.read_exact(&mut buffer[..4])).await??;
        assert_eq!(&buffer[..4], b"kept");
        Ok(())
    });
}

/// A path with nothing at it is `NotFound`; a socket file whose listener is gone is
/// `ConnectionRefused`.
fn unix_connect_to_nothing_is_an_error(backend: &str) {
    run(backend, || async {
        let missing = socket_path("missing");
        let error = UnixStream::connect(&missing).await.expect_err("nothing listens there");
        assert_eq!(error.kind(), io::ErrorKind::NotFound, "{error:?}");

        let (listener, path, _remove) = listener("stale")?;
        drop(listener);
        let error = UnixStream::connect(&path).await.expect_err("the listener is gone");
        assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused, "{error:?}");
        Ok(())
    });
}

/// plexio never removes a socket file: it outlives the listener, blocks a new bind, and
/// once removed, the path can be bound again.
fn unix_socket_file_stays_until_removed(backend: &str) {
    run(backend, || async {
        let (listener, path, _remove) = listener("file")?;
        assert_eq!(listener.local_addr()?.as_pathname(), Some(path.as_path()));
        drop(listener);
        assert!(path.exists(), "the socket file must outlive its listener");
        let error = UnixListener::bind(&path).expect_err("the old file is still there");
        assert_eq!(error.kind(), io::ErrorKind::AddrInUse, "{error:?}");
        std::fs::remove_file(&path)?;
        let listener = UnixListener::bind(&path)?;
        let client = UnixStream::connect(&path).await?;
        let (server, peer) = listener.accept().await?;
        assert!(peer.is_unnamed(), "a connecting stream is unnamed: {peer:?}");
        assert_eq!(client.peer_addr()?.as_pathname(), Some(path.as_path()));
        drop((client, server));
        Ok(())
    });
}

/// An abstract name (Linux, Android) makes no file, and is free again once its socket
/// closes.
fn unix_abstract_names_leave_nothing_behind(backend: &str) {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    run(backend, || async {
        #[cfg(target_os = "android")]
        use std::os::android::net::SocketAddrExt;
        #[cfg(target_os = "linux")]
        use std::os::linux::net::SocketAddrExt;
        use std::os::unix::net::SocketAddr;

        let name = format!("plexio-{}-{backend}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes())?;
        for _ in 0..2 {
            let listener = UnixListener::bind_addr(&addr)?;
            let mut client = UnixStream::connect_addr(&addr).await?;
            let (mut server, _) = listener.accept().await?;
            client.write_all(b"abstract").await?;
            let mut received = [0; 8];
            timeout(HANG, server.read_exact(&mut received)).await??;
            assert_eq!(&received, b"abstract");
            assert_eq!(listener.local_addr()?.as_abstract_name(), Some(name.as_bytes()));
            // Dropped here: the second round binds the same name again.
        }
        let receiver = UnixDatagram::bind_addr(&addr)?;
        let sender = UnixDatagram::unbound()?;
        sender.send_to_addr(b"to a name", &addr).await?;
        let mut buffer = [0; 16];
        let n = timeout(HANG, receiver.recv(&mut buffer)).await??;
        assert_eq!(&buffer[..n], b"to a name");
        Ok(())
    });
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let _ = backend;
}

/// Both ends of a pair are this process: the credentials name its user, and where the OS
/// tells it, its process id.
fn unix_pairs_and_peer_credentials(backend: &str) {
    run(backend, || async {
        use std::os::unix::fs::MetadataExt;

        let (a, b) = UnixStream::pair()?;
        let credentials = a.peer_credentials()?;
        // A file this process creates belongs to its effective user and group.
        let probe = socket_path("owner");
        std::fs::write(&probe, b"")?;
        let owner = std::fs::metadata(&probe)?;
        std::fs::remove_file(&probe)?;
        assert_eq!(credentials.uid, owner.uid());
        if cfg!(any(target_os = "linux", target_os = "android", target_vendor = "apple")) {
            assert_eq!(credentials.pid, Some(std::process::id() as i32));
        }
        assert_eq!(b.peer_credentials()?, credentials);
        Ok(())
    });
}

/// Each datagram arrives whole and alone, with its sender's address; one longer than the
/// buffer is cut to it, and the next one is unaffected.
fn unix_datagrams_keep_their_boundaries_and_senders(backend: &str) {
    run(backend, || async {
        let server_path = socket_path("datagram-server");
        let client_path = socket_path("datagram-client");
        let _remove = (RemoveOnDrop(server_path.clone()), RemoveOnDrop(client_path.clone()));
        let server = UnixDatagram::bind(&server_path)?;
        let client = UnixDatagram::bind(&client_path)?;
        for length in [1usize, 100, 2000, 60_000] {
            let mut datagram = vec![0; length];
            fill_pattern(13, length as u64, 0, &mut datagram);
            assert_eq!(client.send_to(&datagram, &server_path).await?, length);
            let mut buffer = vec![0; 64 << 10];
            let (n, from) = timeout(HANG, server.recv_from(&mut buffer)).await??;
            assert_eq!(&buffer[..n], &datagram[..]);
            assert_eq!(from.as_pathname(), Some(client_path.as_path()));
        }
        client.connect(&server_path)?;
        client.send(&[1; 100]).await?;
        client.send(&[2; 10]).await?;
        let mut small = [0; 10];
        assert_eq!(timeout(HANG, server.recv(&mut small)).await??, 10);
        assert_eq!(small, [1; 10]);
        assert_eq!(timeout(HANG, server.recv(&mut small)).await??, 10);
        assert_eq!(small, [2; 10]);

        let (a, b) = UnixDatagram::pair()?;
        a.send(b"paired").await?;
        let mut buffer = [0; 16];
        let n = timeout(HANG, b.recv(&mut buffer)).await??;
        assert_eq!(&buffer[..n], b"paired");
        Ok(())
    });
}
