//! Running out of descriptors (EMFILE, libuv#690, tokio#3529): the listener stays readable
//! while `accept` fails, which is where a reactor turns into a busy loop or, on edge-triggered
//! mechanisms, forgets the connections still queued once descriptors are free again.
//!
//! Each backend runs an echo server in a child process whose `RLIMIT_NOFILE` is tiny, so that
//! the limit holds for that process alone; the server pauses 50 ms after a failed accept, as
//! `accept`'s documentation asks. The test floods it, reads its CPU time from
//! `/proc/<pid>/stat`, frees descriptors, and checks that every queued connection is served.
//! Linux only: the CPU time comes from `/proc`, and Windows has no per-process descriptor
//! limit to exhaust.

#![cfg(target_os = "linux")]

mod util;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

per_backend!(exhausted_descriptors_neither_spin_nor_lose_queued_connections);

/// The descriptor limit of the child: a few for the runtime and the listener, the rest for
/// connections.
const CHILD_LIMIT: u64 = 48;
const FLOOD: usize = 80;

/// The child half: an echo server under the tiny limit, until its stdin closes.
#[test]
fn child_echo_server_under_a_tiny_descriptor_limit() {
    let Ok(backend) = std::env::var("PLEXIO_EMFILE_CHILD") else { return };
    rlimit::Resource::NOFILE.set(CHILD_LIMIT, rlimit::Resource::NOFILE.get().unwrap().1).unwrap();
    let runtime = util::runtime(&backend);
    runtime.block_on(async {
        let listener = plexio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("listening on {}", listener.local_addr().unwrap());
        let mut failures = 0u64;
        plexio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => drop(plexio::spawn(util::echo(stream))),
                    Err(error) => {
                        failures += 1;
                        if failures == 1 {
                            println!("first accept failure: {error}");
                        }
                        plexio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        });
        // Ends when the parent closes our stdin.
        let (sender, receiver) = futures::channel::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let _ = std::io::stdin().read_to_end(&mut Vec::new());
            let _ = sender.send(());
        });
        let _ = receiver.await;
    });
}

struct ChildServer(Child);

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// User plus system CPU time of a process, from `/proc/<pid>/stat`, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

fn exhausted_descriptors_neither_spin_nor_lose_queued_connections(backend: &str) {
    let _watchdog = util::Watchdog::start(util::TEST_LIMIT);
    let mut child = ChildServer(
        Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child_echo_server_under_a_tiny_descriptor_limit", "--nocapture"])
            .args(["--test-threads=1"])
            .env("PLEXIO_EMFILE_CHILD", backend)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(child.0.stdout.take().unwrap()).lines();
    // The test harness may print on the same lines as the child's own output.
    let mut next_line_with = |marker: &str| loop {
        let line = lines.next().unwrap_or_else(|| panic!("the child never said {marker:?}"));
        let line = line.unwrap();
        if let Some(at) = line.find(marker) {
            break line[at + marker.len()..].to_owned();
        }
    };
    let addr: std::net::SocketAddr = next_line_with("listening on ").trim().parse().unwrap();

    // More connections than the child can hold: the kernel queues the rest for `accept`.
    let mut flood: Vec<TcpStream> = (0..FLOOD)
        .map(|id| {
            let mut stream = TcpStream::connect(addr).unwrap();
            stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            stream.write_all(&[id as u8]).unwrap();
            stream
        })
        .collect();
    next_line_with("first accept failure");

    // Out of descriptors with connections queued: the server must sleep, not spin.
    let ticks_before = cpu_ticks(child.0.id());
    let window = Instant::now();
    std::thread::sleep(Duration::from_secs(1));
    let ticks = cpu_ticks(child.0.id()) - ticks_before;
    let elapsed = window.elapsed();
    // Clock ticks are 10 ms on Linux: a spinning server burns ~100 of them per second.
    assert!(ticks <= 25, "the server used {ticks} ticks of CPU in {elapsed:?} while out of fds");

    // Free descriptors by closing the connections that were served first; every queued one
    // must then be accepted and echoed, although no new connection arrives to signal it.
    let mut served = Vec::new();
    let mut waiting = Vec::new();
    for (id, mut stream) in flood.drain(..).enumerate() {
        stream.set_nonblocking(true).unwrap();
        let mut byte = [0];
        match stream.read(&mut byte) {
            Ok(1) => {
                assert_eq!(byte[0], id as u8);
                served.push(stream);
            }
            _ => waiting.push((id, stream)),
        }
    }
    assert!(!waiting.is_empty(), "the flood did not exhaust the child's descriptors");
    drop(served);
    for (id, mut stream) in waiting {
        stream.set_nonblocking(false).unwrap();
        let mut byte = [0];
        stream.read_exact(&mut byte).unwrap_or_else(|error| {
            panic!("queued connection {id} was never served after descriptors freed: {error}")
        });
        assert_eq!(byte[0], id as u8);
    }
    drop(child.0.stdin.take());
}
