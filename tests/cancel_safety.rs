//! Which operations lose data when their future is dropped (by a timeout, here), as the
//! guide's "Cancel safety" section and the README say: plexio's own reads and receives lose
//! nothing; `futures`' `read_line` loses the partial line; a `BufReader` kept across
//! timeouts, with `read_until` into a kept buffer or the `lines()` stream, loses nothing.

mod util;

use std::io;
use std::time::Duration;

use futures::channel::oneshot;
use futures::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use futures::stream::StreamExt;
use plexio::JoinHandle;
use plexio::net::{TcpListener, TcpStream, UdpSocket};
use plexio::time::timeout;

per_backend!(
    own_read_dropped_by_a_timeout_loses_nothing,
    read_line_dropped_by_a_timeout_loses_the_partial_line,
    read_until_into_a_kept_buffer_survives_timeouts,
    lines_stream_kept_across_timeouts_survives_them,
    recv_from_dropped_by_a_timeout_loses_no_datagram,
);

/// How long a read waits before the test drops it; only ever expires on purpose (the rest
/// of the data is sent after it has).
const SHORT: Duration = Duration::from_millis(20);

/// A connected pair: the peer writes "hel", then "lo\n" once `resume` fires.
async fn half_line_then_rest()
-> io::Result<(TcpStream, oneshot::Sender<()>, JoinHandle<io::Result<()>>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let mut peer = TcpStream::connect(listener.local_addr()?).await?;
    let (stream, _) = listener.accept().await?;
    let (resume, resumed) = oneshot::channel::<()>();
    let writer = plexio::spawn(async move {
        peer.write_all(b"hel").await?;
        let _ = resumed.await;
        peer.write_all(b"lo\n").await?;
        peer.close().await
    });
    Ok((stream, resume, writer))
}

fn own_read_dropped_by_a_timeout_loses_nothing(backend: &str) {
    util::run(backend, || async {
        let (mut stream, resume, writer) = half_line_then_rest().await?;
        let mut first = [0; 3];
        stream.read_exact(&mut first).await?;
        // Nothing more until `resume`: this read is dropped, and must take nothing with it.
        let mut buffer = [0; 16];
        assert!(timeout(SHORT, stream.read(&mut buffer)).await.is_err());
        resume.send(()).unwrap();
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest).await?;
        assert_eq!(rest, b"lo\n");
        writer.await.unwrap()
    });
}

/// Not plexio's doing, but what the docs warn about: `read_line` moves what it has read
/// into its own future, and a dropped one takes it along.
fn read_line_dropped_by_a_timeout_loses_the_partial_line(backend: &str) {
    util::run(backend, || async {
        let (stream, resume, writer) = half_line_then_rest().await?;
        let mut reader = BufReader::new(&stream);
        // Part of "hel" is in the BufReader before `read_line` starts, so it surely takes
        // it. (How much depends on how the bytes arrived: a BufReader reads again only once
        // it is empty, so waiting for all three could wait for ever after a short read.)
        reader.fill_buf().await?;
        let buffered = reader.buffer().len();
        assert!(buffered > 0, "end of stream before \"hel\"");
        let mut line = String::new();
        assert!(timeout(SHORT, reader.read_line(&mut line)).await.is_err());
        resume.send(()).unwrap();
        reader.read_line(&mut line).await?;
        // What the dropped read_line took is gone: at least what was buffered.
        assert!(
            line.len() <= "hello\n".len() - buffered && "hello\n".ends_with(&line),
            "{line:?}: the {buffered} bytes buffered did not go with the dropped read_line"
        );
        writer.await.unwrap()
    });
}

fn read_until_into_a_kept_buffer_survives_timeouts(backend: &str) {
    util::run(backend, || async {
        let (stream, resume, writer) = half_line_then_rest().await?;
        let mut reader = BufReader::new(&stream);
        let mut line = Vec::new();
        let mut resume = Some(resume);
        loop {
            match timeout(SHORT, reader.read_until(b'\n', &mut line)).await {
                Ok(read) => break read.map(drop)?,
                // The first timeout lets the rest of the line go; a loaded machine may
                // take longer than `SHORT` to deliver it, so later ones just retry.
                Err(_) => {
                    if let Some(resume) = resume.take() {
                        resume.send(()).unwrap();
                    }
                }
            }
        }
        assert!(resume.is_none(), "the read timed out at least once");
        assert_eq!(line, b"hello\n");
        writer.await.unwrap()
    });
}

fn lines_stream_kept_across_timeouts_survives_them(backend: &str) {
    util::run(backend, || async {
        let (stream, resume, writer) = half_line_then_rest().await?;
        let mut lines = BufReader::new(&stream).lines();
        let mut resume = Some(resume);
        let line = loop {
            match timeout(SHORT, lines.next()).await {
                Ok(line) => break line.expect("a line before the end")?,
                Err(_) => {
                    if let Some(resume) = resume.take() {
                        resume.send(()).unwrap();
                    }
                }
            }
        };
        assert!(resume.is_none(), "the read timed out at least once");
        assert_eq!(line, "hello");
        assert!(lines.next().await.is_none());
        writer.await.unwrap()
    });
}

fn recv_from_dropped_by_a_timeout_loses_no_datagram(backend: &str) {
    util::run(backend, || async {
        let receiver = UdpSocket::bind("127.0.0.1:0").await?;
        let sender = UdpSocket::bind("127.0.0.1:0").await?;
        let mut buffer = [0; 16];
        assert!(timeout(SHORT, receiver.recv_from(&mut buffer)).await.is_err());
        sender.send_to(b"datagram", receiver.local_addr()?).await?;
        let (n, from) = receiver.recv_from(&mut buffer).await?;
        assert_eq!((&buffer[..n], from), (&b"datagram"[..], sender.local_addr()?));
        Ok(())
    });
}
