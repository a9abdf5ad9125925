//! tokio's I/O traits on plexio's streams (the `tokio` feature): a `tokio_util` line codec
//! framed over a plexio `TcpStream`, over its owned halves, and over a `UnixStream`, on a
//! plexio runtime on every backend; no tokio runtime exists in this process.

#![cfg(feature = "tokio")]

mod util;

use std::io;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use plexio::net::{TcpListener, TcpStream};
use tokio_util::codec::{Framed, FramedRead, FramedWrite, LinesCodec};
use util::run;

per_backend!(
    line_codec_framed_over_a_tcp_stream,
    line_codec_framed_over_owned_halves,
    line_codec_framed_over_a_unix_stream,
);

const LINES: usize = 200;

/// Answers each line with the line upper-cased, until the client closes.
async fn upper_case_server<S>(stream: S) -> io::Result<()>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut lines = Framed::new(stream, LinesCodec::new());
    while let Some(line) = lines.next().await {
        let line = line.map_err(io::Error::other)?;
        lines.send(line.to_uppercase()).await.map_err(io::Error::other)?;
    }
    Ok(())
}

/// Sends numbered lines through `client` and checks each answer.
async fn check_answers<S>(client: S) -> io::Result<()>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut lines = Framed::new(client, LinesCodec::new());
    for number in 0..LINES {
        lines.send(format!("line {number} of plexio")).await.map_err(io::Error::other)?;
        let answer = lines.next().await.expect("an answer").map_err(io::Error::other)?;
        assert_eq!(answer, format!("LINE {number} OF PLEXIO"));
    }
    Ok(())
}

fn line_codec_framed_over_a_tcp_stream(backend: &str) {
    run(backend, || async {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let client = TcpStream::connect(listener.local_addr()?).await?;
        let (server, _) = listener.accept().await?;
        let server = plexio::spawn(upper_case_server(server));
        check_answers(client).await?;
        server.await?
    });
}

/// A reader task and a writer task, each framing its own half; the read half ends when the
/// write half of the peer shuts down.
fn line_codec_framed_over_owned_halves(backend: &str) {
    run(backend, || async {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let client = TcpStream::connect(listener.local_addr()?).await?;
        let (server, _) = listener.accept().await?;
        let server = plexio::spawn(upper_case_server(server));
        let (read, write) = client.into_split();
        let writer = plexio::spawn(async move {
            let mut lines = FramedWrite::new(write, LinesCodec::new());
            for number in 0..LINES {
                lines.send(format!("half {number}")).await.map_err(io::Error::other)?;
            }
            // Shuts the write side down: the server's stream of lines ends.
            SinkExt::<String>::close(&mut lines).await.map_err(io::Error::other)
        });
        let mut answers = FramedRead::new(read, LinesCodec::new());
        for number in 0..LINES {
            let answer = answers.next().await.expect("an answer").map_err(io::Error::other)?;
            assert_eq!(answer, format!("HALF {number}"));
        }
        let end = plexio::time::timeout(Duration::from_secs(10), answers.next()).await;
        assert!(end.expect("the read half hangs").is_none(), "the server closes last");
        writer.await??;
        server.await?
    });
}

fn line_codec_framed_over_a_unix_stream(backend: &str) {
    #[cfg(unix)]
    run(backend, || async {
        let (client, server) = plexio::net::UnixStream::pair()?;
        let server = plexio::spawn(upper_case_server(server));
        check_answers(client).await?;
        server.await?
    });
    #[cfg(not(unix))]
    let _ = backend;
}
