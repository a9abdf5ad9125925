//! The second server model: blocking sockets, one thread per connection.
//!
//! ```text
//! cargo run --example echo_threads -- --addr 127.0.0.1:7878 --max-threads 1024
//! ```
//!
//! Standard library only, no plexio: the main thread blocks in `accept`, and each accepted
//! connection gets a thread of its own that blocks in `read` and `write_all`. The kernel's
//! scheduler is the multiplexer: every blocked thread waits on its own socket, and a context
//! switch takes the place of a readiness event. It serves many clients at once with the
//! simplest code there is; what it costs is a thread per client: a stack (reserved address
//! space, of which only the touched pages become resident), a kernel task, and a context
//! switch per wake-up.
//!
//! # With 10,000 clients
//!
//! The server holds at most `--max-threads` connections (default 1024), one thread each. A
//! client that arrives while all of them are taken is accepted and closed at once (it reads
//! end of stream), and the server says so on stderr, once when it first reaches the cap and
//! then once every 1000 refusals, with the count. Without a cap, 10,000 clients would ask for
//! 10,000 threads: on Linux that fails when the process reaches `RLIMIT_NPROC`, the
//! system-wide `threads-max`, or the memory for their stacks, and a server that did not
//! check `thread::Builder::spawn`'s error would panic there. Raising the cap is a
//! command-line flag; whether the machine can then hold the threads is the question this
//! model cannot escape (the guide's benchmark table shows what each costs).

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

/// How many connections (threads) the server holds at most unless told otherwise.
const DEFAULT_MAX_THREADS: usize = 1024;

/// Each connection thread's stack: enough for the echo loop (its buffer is on the heap);
/// only the pages it touches become resident.
const STACK_SIZE: usize = 64 * 1024;

struct Options {
    addr: String,
    max_threads: usize,
}

fn parse_options() -> Result<Options, String> {
    let mut options =
        Options { addr: "127.0.0.1:7878".to_owned(), max_threads: DEFAULT_MAX_THREADS };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--addr" => options.addr = value()?,
            "--max-threads" => {
                options.max_threads = match value()?.parse() {
                    Ok(count @ 1..) => count,
                    _ => return Err("--max-threads needs a whole number above 0".to_owned()),
                };
            }
            "-h" | "--help" => {
                return Err("usage: echo_threads [--addr HOST:PORT] [--max-threads N]".to_owned());
            }
            other => return Err(format!("unknown argument {other:?}; see --help")),
        }
    }
    Ok(options)
}

fn main() -> ExitCode {
    let options = match parse_options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::FAILURE;
        }
    };
    match serve(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("echo_threads: {error}");
            ExitCode::FAILURE
        }
    }
}

fn serve(options: &Options) -> io::Result<()> {
    let listener = TcpListener::bind(&options.addr)?;
    println!(
        "echo server listening on {} with blocking sockets, a thread per connection (at most {})",
        listener.local_addr()?,
        options.max_threads
    );
    // Connections being served; each thread takes one slot and gives it back as it ends.
    let active = Arc::new(AtomicUsize::new(0));
    let mut refused: u64 = 0;
    loop {
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(error) => {
                eprintln!("echo_threads: accept failed: {error}");
                continue;
            }
        };
        if active.load(Ordering::Acquire) >= options.max_threads {
            // Dropping the stream closes it: the client reads end of stream rather than
            // waiting in the backlog for a thread that may never come free.
            refused += 1;
            if refused % 1000 == 1 {
                eprintln!(
                    "echo_threads: all {} threads are serving clients; refusing {peer} \
                     ({refused} refused so far; raise --max-threads to hold more)",
                    options.max_threads
                );
            }
            continue;
        }
        active.fetch_add(1, Ordering::AcqRel);
        let slot = Slot(Arc::clone(&active));
        let spawned = thread::Builder::new()
            .name(format!("echo {peer}"))
            .stack_size(STACK_SIZE)
            .spawn(move || {
                let _slot = slot;
                if let Err(error) = echo(stream) {
                    eprintln!("echo_threads: connection from {peer}: {error}");
                }
            });
        if let Err(error) = spawned {
            // The system would not give another thread (RLIMIT_NPROC, threads-max, memory):
            // the closure, with the stream and the slot, was dropped, closing the client.
            eprintln!("echo_threads: no thread for {peer}: {error}");
        }
    }
}

/// One connection's claim on the thread budget, given back when its thread ends (also if
/// the thread panics, or if it was never started).
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Echoes one client until it closes its end, blocking in every call.
fn echo(mut stream: TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buffer = vec![0; 16 * 1024];
    loop {
        let n = stream.read(&mut buffer)?;
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&buffer[..n])?;
    }
}
