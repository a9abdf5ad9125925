//! A chat room: every line a client sends goes to every other client, with nicknames and
//! join and leave notices. Usable with `nc`.
//!
//! ```text
//! cargo run --example chat -- --addr 127.0.0.1:7879 --backend poll      # the room
//! cargo run --example chat -- --connect 127.0.0.1:7879 --nick ada       # a client
//! nc 127.0.0.1 7879                                                     # or any client
//! ```
//!
//! The first line a client sends is its nickname (a taken or empty one gets a number).
//! A slow client never stalls the room: each client has a queue of at most `--queue` lines
//! (256 by default) on top of what its socket buffers hold; a client whose queue is full
//! when a line is sent to it is disconnected, and the others see
//! `* <nick> was too slow and left`. Nothing is ever dropped from the middle of a client's
//! stream: it gets every line, in order, or its connection ends.
//!
//! In client mode, lines typed on stdin are sent while what others say is printed as it
//! comes; end of input (Ctrl-D) leaves the room.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io::{self, BufRead, Write as _};
use std::process::ExitCode;
use std::rc::Rc;

use futures::channel::{mpsc, oneshot};
use futures::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use futures::{FutureExt, StreamExt, select};
use plexio::Runtime;
use plexio::net::{OwnedWriteHalf, TcpListener, TcpStream};

/// The room: who is in it, and how to reach each of them.
#[derive(Default)]
struct Room {
    members: RefCell<HashMap<u64, Member>>,
    next_id: Cell<u64>,
}

struct Member {
    nick: String,
    /// Lines for this member's writer task; bounded, so that a slow reader cannot make the
    /// room hold an unbounded backlog for it.
    outbox: mpsc::Sender<Rc<str>>,
    /// Fired when the member is put out for being too slow: its reader stops.
    kicked: Option<oneshot::Sender<()>>,
}

impl Room {
    /// Sends `line` to every member but `from`; puts out whoever cannot take it.
    fn broadcast(&self, from: Option<u64>, line: &str) {
        let line: Rc<str> = Rc::from(line);
        let mut too_slow = Vec::new();
        for (&id, member) in self.members.borrow_mut().iter_mut() {
            if Some(id) != from && member.outbox.try_send(line.clone()).is_err() {
                too_slow.push(id);
            }
        }
        for id in too_slow {
            // Taken out first: the notice below borrows the members again.
            let removed = self.members.borrow_mut().remove(&id);
            if let Some(mut member) = removed {
                if let Some(kicked) = member.kicked.take() {
                    let _ = kicked.send(());
                }
                // Dropping `outbox` ends the member's writer; its reader stops on `kicked`.
                self.broadcast(None, &format!("* {} was too slow and left\n", member.nick));
            }
        }
    }

    /// A nickname no member has: `wanted`, or `wanted` with a number.
    fn free_nick(&self, wanted: &str) -> String {
        let wanted = if wanted.is_empty() { "guest" } else { wanted };
        let members = self.members.borrow();
        let taken = |nick: &str| members.values().any(|member| member.nick == nick);
        if !taken(wanted) {
            return wanted.to_owned();
        }
        (2..).map(|n| format!("{wanted}{n}")).find(|nick| !taken(nick)).expect("a free number")
    }
}

/// Serves the room on `listener` until accepting fails; each client's queue holds `queue`
/// lines.
pub async fn serve(listener: TcpListener, queue: usize) -> io::Result<()> {
    let room = Rc::new(Room::default());
    loop {
        let (stream, _) = listener.accept().await?;
        plexio::spawn_local(join(room.clone(), stream, queue));
    }
}

/// One client's life in the room: nickname, lines, leaving.
async fn join(room: Rc<Room>, stream: TcpStream, queue: usize) -> io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    write.write_all(b"welcome! your nickname?\n").await?;
    let Some(wanted) = lines.next().await.transpose()? else { return Ok(()) };
    let nick = room.free_nick(wanted.trim());
    write.write_all(format!("* you are {nick}\n").as_bytes()).await?;

    let id = room.next_id.get();
    room.next_id.set(id + 1);
    let (outbox, inbox) = mpsc::channel(queue);
    let (kicked, mut kicked_signal) = oneshot::channel();
    room.broadcast(None, &format!("* {nick} joined\n"));
    room.members
        .borrow_mut()
        .insert(id, Member { nick: nick.clone(), outbox, kicked: Some(kicked) });
    let writer = plexio::spawn_local(deliver(inbox, write));

    loop {
        select! {
            line = lines.next().fuse() => match line {
                Some(Ok(line)) => room.broadcast(Some(id), &format!("{nick}: {line}\n")),
                // End of stream, or a read error: the client is gone either way.
                Some(Err(_)) | None => break,
            },
            _ = kicked_signal => break,
        }
    }
    let removed = room.members.borrow_mut().remove(&id);
    if removed.is_some() {
        room.broadcast(None, &format!("* {nick} left\n"));
    }
    // A client that left or was put out may never read again: its writer could wait for
    // ever on a full socket, so it is stopped rather than drained. Once its future is
    // dropped (the handle resolves then), both halves are gone and the socket closes.
    writer.abort();
    let _ = writer.await;
    Ok(())
}

/// Writes a member's queued lines to its socket until the room drops the queue.
async fn deliver(mut inbox: mpsc::Receiver<Rc<str>>, mut write: OwnedWriteHalf) -> io::Result<()> {
    while let Some(line) = inbox.next().await {
        write.write_all(line.as_bytes()).await?;
    }
    write.close().await
}

/// Client mode: stdin to the room, the room to stdout, until either ends.
async fn client(addr: &str, nick: &str) -> io::Result<()> {
    let stream = TcpStream::connect(addr).await?;
    let (read, mut write) = stream.into_split();
    write.write_all(format!("{nick}\n").as_bytes()).await?;
    // Reading stdin blocks, so a thread of its own does it and hands the lines over.
    let (typed, mut typed_lines) = mpsc::unbounded::<String>();
    std::thread::spawn(move || {
        for line in io::stdin().lock().lines().map_while(Result::ok) {
            if typed.unbounded_send(line).is_err() {
                break;
            }
        }
    });
    let mut heard = BufReader::new(read).lines();
    loop {
        select! {
            line = typed_lines.next() => match line {
                Some(line) => write.write_all(format!("{line}\n").as_bytes()).await?,
                None => return write.close().await,
            },
            line = heard.next().fuse() => match line {
                Some(line) => {
                    let line = line?;
                    let mut stdout = io::stdout().lock();
                    writeln!(stdout, "{line}")?;
                    stdout.flush()?;
                }
                None => return Ok(()),
            },
        }
    }
}

fn main() -> ExitCode {
    let mut addr = "127.0.0.1:7879".to_owned();
    let (mut backend, mut connect, mut nick, mut queue) = (None, None, None, 256);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let Some(value) = args.next() else {
            eprintln!("usage: chat [--addr A] [--backend B] [--queue N] | --connect A --nick N");
            return ExitCode::FAILURE;
        };
        match arg.as_str() {
            "--addr" => addr = value,
            "--backend" => backend = Some(value),
            "--connect" => connect = Some(value),
            "--nick" => nick = Some(value),
            "--queue" => match value.parse() {
                Ok(lines) => queue = lines,
                Err(_) => {
                    eprintln!("--queue takes a number of lines");
                    return ExitCode::FAILURE;
                }
            },
            other => {
                eprintln!("unknown argument {other:?}");
                return ExitCode::FAILURE;
            }
        }
    }
    let builder = match &backend {
        Some(name) => Runtime::builder().backend(name),
        None => Runtime::builder(),
    };
    let runtime = match builder.build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("chat: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match connect {
            Some(addr) => client(&addr, nick.as_deref().unwrap_or("guest")).await,
            None => {
                let listener = TcpListener::bind(addr.as_str()).await?;
                eprintln!("chat room on {} ({} backend)", listener.local_addr()?, runtime_name());
                serve(listener, queue).await
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("chat: {error}");
            ExitCode::FAILURE
        }
    }
}

fn runtime_name() -> &'static str {
    plexio::current_backend().unwrap_or("no")
}
