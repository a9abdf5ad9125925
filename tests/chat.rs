//! `examples/chat.rs`, compiled in here as a module, driven by several clients at once on
//! every backend: every line reaches every other client in order, with join and leave
//! notices, and a client that never reads is put out instead of stalling the room.

mod util;

#[path = "../examples/chat.rs"]
#[allow(dead_code)]
mod chat;

use std::io;
use std::time::Duration;

use futures::StreamExt;
use futures::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use plexio::net::{OwnedReadHalf, OwnedWriteHalf, TcpListener, TcpStream};
use plexio::time::timeout;
use util::run;

per_backend!(
    every_line_reaches_every_other_client_in_order,
    a_client_that_never_reads_is_put_out_not_waited_for,
);

/// How long any single wait may take before the scenario calls it a hang.
const HANG: Duration = Duration::from_secs(20);

/// A client of the room: its lines, and its write half.
struct Client {
    heard: Lines<BufReader<OwnedReadHalf>>,
    write: OwnedWriteHalf,
}

impl Client {
    /// Connects, answers the nickname question, and checks the room's answer.
    async fn join(addr: std::net::SocketAddr, nick: &str) -> io::Result<Client> {
        let (read, write) = TcpStream::connect(addr).await?.into_split();
        let mut client = Client { heard: BufReader::new(read).lines(), write };
        assert_eq!(client.next_line().await?, "welcome! your nickname?");
        client.say(nick).await?;
        assert_eq!(client.next_line().await?, format!("* you are {nick}"));
        Ok(client)
    }

    async fn say(&mut self, line: &str) -> io::Result<()> {
        self.write.write_all(format!("{line}\n").as_bytes()).await
    }

    async fn next_line(&mut self) -> io::Result<String> {
        match timeout(HANG, self.heard.next()).await {
            Ok(Some(line)) => line,
            Ok(None) => Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the room hung up")),
            Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "the room went silent")),
        }
    }

    /// Reads until `wanted` comes, giving back every line before it.
    async fn until(&mut self, wanted: &str) -> io::Result<Vec<String>> {
        let mut before = Vec::new();
        loop {
            let line = self.next_line().await?;
            if line == wanted {
                return Ok(before);
            }
            before.push(line);
        }
    }
}

async fn room(queue: usize) -> io::Result<std::net::SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    plexio::spawn_local(chat::serve(listener, queue));
    Ok(addr)
}

/// Four clients join one after another (each sees the later ones join), then all talk at
/// once: each hears every other one's lines in the order they were said, and none of its
/// own; then they leave, and those still there hear it.
fn every_line_reaches_every_other_client_in_order(backend: &str) {
    const CLIENTS: usize = 4;
    const LINES: usize = 50;
    run(backend, || async {
        let addr = room(256).await?;
        let mut clients = Vec::new();
        for n in 0..CLIENTS {
            let nick = format!("c{n}");
            let client = Client::join(addr, &nick).await?;
            for earlier in &mut clients {
                let earlier: &mut Client = earlier;
                earlier.until(&format!("* {nick} joined")).await?;
            }
            clients.push(client);
        }
        // A taken nickname gets a number; this client only listens.
        let (read, mut write) = TcpStream::connect(addr).await?.into_split();
        let mut twin = Client {
            heard: BufReader::new(read).lines(),
            write: {
                write.write_all(b"c0\n").await?;
                write
            },
        };
        twin.until("* you are c02").await?;
        let talks = clients.into_iter().enumerate().map(|(n, mut client)| {
            plexio::spawn(async move {
                for line in 0..LINES {
                    client.say(&format!("line {line}")).await?;
                }
                let mut next = [0; CLIENTS];
                while next.iter().enumerate().any(|(k, &m)| k != n && m < LINES) {
                    let line = client.next_line().await?;
                    if line.starts_with("* ") {
                        continue;
                    }
                    let (nick, said) = line.split_once(": ").expect("nick: line");
                    if nick.len() != 2 {
                        continue;
                    }
                    let k: usize = nick[1..].parse().expect("a client number");
                    assert_ne!(k, n, "c{n} heard itself");
                    assert_eq!(said, format!("line {}", next[k]), "c{n} hearing c{k}");
                    next[k] += 1;
                }
                Ok::<_, io::Error>(client)
            })
        });
        let mut clients = Vec::new();
        for talk in talks.collect::<Vec<_>>() {
            clients.push(talk.await??);
        }
        let mut last = clients.pop().expect("clients");
        drop(clients);
        // They leave in whatever order the room sees their connections end.
        let mut left: Vec<String> = Vec::new();
        while left.len() < CLIENTS - 1 {
            let line = last.next_line().await?;
            if line.ends_with(" left") {
                left.push(line);
            }
        }
        left.sort();
        let expected: Vec<String> = (0..CLIENTS - 1).map(|n| format!("* c{n} left")).collect();
        assert_eq!(left, expected);
        drop(twin);
        Ok(())
    });
}

/// A client that joins and never reads: once its socket buffers and its queue (the default
/// 256 lines) are full, the next line for it puts it out. The room goes on meanwhile: the
/// other client hears every line, in order, and the notice.
fn a_client_that_never_reads_is_put_out_not_waited_for(backend: &str) {
    // Enough to fill the never-reading client's socket buffers many times over.
    const LINES: usize = 2_000;
    const LINE: usize = 16 << 10;
    run(backend, || async {
        let addr = room(256).await?;
        let slow = Client::join(addr, "slow").await?;
        let mut talker = Client::join(addr, "talker").await?;
        let mut listener = Client::join(addr, "listener").await?;
        // The talker sends in batches and the listener keeps up with each, as a reader
        // that keeps up does; the slow client falls further behind with every batch.
        const BATCH: usize = 32;
        let mut next = 0;
        let mut slow_left = false;
        for batch in 0..LINES / BATCH {
            for line in batch * BATCH..(batch + 1) * BATCH {
                let mut text = format!("{line:06}");
                text.extend(std::iter::repeat_n('x', LINE - text.len()));
                talker.say(&text).await?;
            }
            while next < (batch + 1) * BATCH {
                let line = listener.next_line().await?;
                if line == "* slow was too slow and left" {
                    slow_left = true;
                } else if let Some(said) = line.strip_prefix("talker: ") {
                    assert_eq!(&said[..6], format!("{next:06}"), "lines out of order or lost");
                    assert_eq!(said.len(), LINE);
                    next += 1;
                }
            }
        }
        if !slow_left {
            listener.until("* slow was too slow and left").await?;
        }
        drop(slow);
        Ok(())
    });
}
