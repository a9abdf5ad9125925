//! Owned-buffer I/O (`read_owned`, `write_owned`, `write_all_owned`, `send_to_owned`,
//! `recv_from_owned`) on every backend: the spare-capacity rule, buffers handed back, and
//! cancel safety where the kernel owns the buffer (a completion driver).

mod util;

use std::io;
use std::time::Duration;

use futures::FutureExt;
use futures::io::AsyncReadExt;
use plexio::net::{TcpListener, TcpStream, UdpSocket};
use plexio::time::sleep;
use util::run;

async fn connected() -> io::Result<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let client = TcpStream::connect(listener.local_addr()?).await?;
    let (server, _) = listener.accept().await?;
    Ok((client, server))
}

/// A read fills the spare capacity after `len()` and keeps what was before it.
fn read_owned_appends_into_spare_capacity(backend: &str) {
    run(backend, || async {
        let (client, server) = connected().await?;
        let (written, returned) = client.write_all_owned(b"world".to_vec()).await;
        written?;
        assert_eq!(returned, b"world", "the buffer comes back whole");
        let mut buffer = Vec::with_capacity(64);
        buffer.extend_from_slice(b"hello ");
        let mut total = 0;
        while total < 5 {
            let (read, returned) = server.read_owned(buffer).await;
            buffer = returned;
            let read = read?;
            assert!(read > 0, "end of stream before the bytes");
            total += read;
        }
        assert_eq!(buffer, b"hello world");
        assert_eq!(buffer.capacity(), 64, "the caller's allocation, not a copy");
        Ok(())
    });
}

/// A buffer with no spare capacity reads nothing and is not the end of the stream.
fn read_owned_into_a_full_buffer_reads_nothing(backend: &str) {
    run(backend, || async {
        let (client, server) = connected().await?;
        client.write_all_owned(b"x".to_vec()).await.0?;
        let full = vec![7u8; 4];
        let (read, returned) = server.read_owned(full).await;
        assert_eq!(read?, 0);
        assert_eq!(returned, [7; 4]);
        // The byte is still there for a read with room.
        let (read, returned) = server.read_owned(Vec::with_capacity(4)).await;
        assert_eq!((read?, returned.as_slice()), (1, &b"x"[..]));
        Ok(())
    });
}

/// Owned and borrowed writes and reads mix on one stream, in order; a large owned write
/// arrives whole.
fn owned_and_borrowed_io_interleave_in_order(backend: &str) {
    run(backend, || async {
        let (client, mut server) = connected().await?;
        let big: Vec<u8> = (0..(1u32 << 20)).map(|i| (i % 251) as u8).collect();
        let expected = big.clone();
        let writer = plexio::spawn(async move {
            let (written, _) = client.write_all_owned(big).await;
            written?;
            futures::io::AsyncWriteExt::write_all(&mut &client, b"tail").await?;
            client.shutdown(std::net::Shutdown::Write)?;
            Ok::<_, io::Error>(client)
        });
        let mut received = Vec::new();
        server.read_to_end(&mut received).await?;
        let _client = writer.await??;
        assert_eq!(received.len(), expected.len() + 4);
        assert!(received[..expected.len()] == expected[..], "the bytes arrived in order");
        assert_eq!(&received[expected.len()..], b"tail");
        Ok(())
    });
}

/// A `read_owned` dropped while it waits loses no byte: the next read gets the data that
/// arrives afterwards (on a completion driver the kernel may already have received it into
/// the dropped future's buffer, which the stream then keeps).
fn dropped_read_owned_loses_no_byte(backend: &str) {
    run(backend, || async {
        let (client, mut server) = connected().await?;
        let waiting = server.read_owned(Vec::with_capacity(16)).now_or_never();
        assert!(waiting.is_none(), "nothing was sent yet");
        // Give a completion driver time to have the receive in the kernel.
        sleep(Duration::from_millis(20)).await;
        client.write_all_owned(b"kept".to_vec()).await.0?;
        client.shutdown(std::net::Shutdown::Write)?;
        let mut received = Vec::new();
        server.read_to_end(&mut received).await?;
        assert_eq!(received, b"kept");
        Ok(())
    });
}

/// Datagrams with owned buffers: the spare-capacity rule and the sender's address.
fn udp_owned_round_trip(backend: &str) {
    run(backend, || async {
        let a = UdpSocket::bind("127.0.0.1:0").await?;
        let b = UdpSocket::bind("127.0.0.1:0").await?;
        let (sent, returned) = a.send_to_owned(b"ping".to_vec(), b.local_addr()?).await;
        assert_eq!((sent?, returned.as_slice()), (4, &b"ping"[..]));
        let mut buffer = Vec::with_capacity(32);
        buffer.push(b'>');
        let (received, buffer) = b.recv_from_owned(buffer).await;
        let (size, from) = received?;
        assert_eq!((size, from), (4, a.local_addr()?));
        assert_eq!(buffer, b">ping");
        Ok(())
    });
}

/// The lazy-buffer pattern of servers with many idle connections: wait for `readable()`
/// with no buffer, read without waiting, and wait again. Once a read has found nothing (on
/// a completion driver: once its receive is in the kernel), `readable()` must wait for new
/// bytes, not resolve at once (a server would spin), and the read that follows gets them.
fn readable_waits_again_once_a_read_found_nothing(backend: &str) {
    run(backend, || async {
        let (mut client, mut server) = connected().await?;
        futures::io::AsyncWriteExt::write_all(&mut client, b"a").await?;
        for round in 0..3u8 {
            // Wait, then read without waiting, until this round's byte is in.
            let mut byte = [0];
            loop {
                server.readable().await?;
                if let Some(read) = futures::FutureExt::now_or_never(server.read(&mut byte)) {
                    assert_eq!(read?, 1, "round {round}");
                    assert_eq!(byte[0], b'a' + round);
                    break;
                }
            }
            // Nothing more was sent: a read finds nothing, and `readable()` waits.
            assert!(futures::FutureExt::now_or_never(server.read(&mut byte)).is_none());
            // (The readiness backends' fault injection reports spurious readiness, which
            // their contract allows; the completion driver's does not.)
            let quiet = plexio::time::timeout(Duration::from_millis(50), server.readable()).await;
            if util::is_completion(backend) || !backend.ends_with(util::CHAOS) {
                assert!(quiet.is_err(), "round {round}: readable() with nothing sent");
            }
            futures::io::AsyncWriteExt::write_all(&mut client, &[b'b' + round]).await?;
        }
        Ok(())
    });
}

per_backend!(
    readable_waits_again_once_a_read_found_nothing,
    read_owned_appends_into_spare_capacity,
    read_owned_into_a_full_buffer_reads_nothing,
    owned_and_borrowed_io_interleave_in_order,
    dropped_read_owned_loses_no_byte,
    udp_owned_round_trip,
);
