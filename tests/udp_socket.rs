//! `UdpSocket` on every backend: datagrams larger than the buffer, and empty buffers, behave
//! the same on every OS (Windows reports the first as an error, `WSAEMSGSIZE`, and loses
//! the datagram unless plexio says otherwise).

mod util;

use std::io;
use std::time::Duration;

use plexio::net::UdpSocket;
use plexio::time::timeout;
use util::run;

per_backend!(
    oversized_datagram_is_cut_to_the_buffer_and_reported_truncated,
    recv_into_an_empty_buffer_returns_zero_and_takes_the_datagram,
);

/// Waits for a datagram at most this long: loopback delivers at once.
const WAIT: Duration = Duration::from_secs(10);

fn datagram(length: usize) -> Vec<u8> {
    (0..length).map(|i| (i % 251) as u8).collect()
}

fn oversized_datagram_is_cut_to_the_buffer_and_reported_truncated(backend: &str) {
    run(backend, || async {
        let sender = UdpSocket::bind("127.0.0.1:0").await?;
        let receiver = UdpSocket::bind("127.0.0.1:0").await?;
        receiver.connect(sender.local_addr()?).await?;
        let whole = datagram(1000);
        let mut buffer = [0; 100];

        sender.send_to(&whole, receiver.local_addr()?).await?;
        // Peeking cuts it too, and leaves it queued whole.
        let (n, from) = timeout(WAIT, receiver.peek_from(&mut buffer)).await??;
        assert_eq!((n, from), (100, sender.local_addr()?));
        assert_eq!(buffer[..], whole[..100]);
        let (n, from) = timeout(WAIT, receiver.recv_from(&mut buffer)).await??;
        assert_eq!((n, from), (100, sender.local_addr()?));
        assert_eq!(buffer[..], whole[..100]);

        sender.send_to(&whole, receiver.local_addr()?).await?;
        let n = timeout(WAIT, receiver.recv(&mut buffer[..10])).await??;
        assert_eq!(buffer[..n], whole[..10]);

        // `recv_msg` says which datagrams were cut.
        sender.send_to(&whole, receiver.local_addr()?).await?;
        let meta = timeout(WAIT, receiver.recv_msg(&mut buffer)).await??;
        assert_eq!((meta.len, meta.from, meta.truncated), (100, sender.local_addr()?, true));
        assert_eq!(buffer[..], whole[..100]);
        sender.send_to(&whole[..100], receiver.local_addr()?).await?;
        let meta = timeout(WAIT, receiver.recv_msg(&mut buffer)).await??;
        assert_eq!((meta.len, meta.truncated), (100, false));
        sender.send_to(&whole[..7], receiver.local_addr()?).await?;
        let meta = timeout(WAIT, receiver.recv_msg(&mut buffer)).await??;
        assert_eq!((meta.len, meta.truncated), (7, false));
        assert_eq!(buffer[..7], whole[..7]);

        // Each cut datagram was taken whole: nothing of it is left to read.
        sender.send_to(b"last", receiver.local_addr()?).await?;
        let n = timeout(WAIT, receiver.recv(&mut buffer)).await??;
        assert_eq!(&buffer[..n], b"last");
        Ok::<_, io::Error>(())
    });
}

fn recv_into_an_empty_buffer_returns_zero_and_takes_the_datagram(backend: &str) {
    run(backend, || async {
        let sender = UdpSocket::bind("127.0.0.1:0").await?;
        let receiver = UdpSocket::bind("127.0.0.1:0").await?;
        receiver.connect(sender.local_addr()?).await?;
        sender.send_to(b"first", receiver.local_addr()?).await?;
        assert_eq!(timeout(WAIT, receiver.recv(&mut [])).await??, 0);
        sender.send_to(b"second", receiver.local_addr()?).await?;
        let (n, _) = timeout(WAIT, receiver.recv_from(&mut [])).await??;
        assert_eq!(n, 0);
        sender.send_to(b"third", receiver.local_addr()?).await?;
        let mut buffer = [0; 16];
        let n = timeout(WAIT, receiver.recv(&mut buffer)).await??;
        assert_eq!(&buffer[..n], b"third");
        Ok::<_, io::Error>(())
    });
}
