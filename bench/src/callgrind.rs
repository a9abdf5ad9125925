//! `--callgrind`: the user-space instructions each server executes per echoed message, counted
//! by valgrind's callgrind.
//!
//! This is the steady measure of a runtime's own overhead. On a shared virtual machine the CPU
//! time per message moves by tens of per cent from run to run; the instructions the server
//! executes for the same messages do not, whatever else runs. What is counted is every
//! instruction of the server process in user space (callgrind's `Ir`: all threads, the runtime,
//! the allocator and libc included), not the kernel's work, which for the same system calls is
//! the same for every server (`--strace` counts those).
//!
//! Only the measured window is counted. The load generator calls back at the window's two
//! edges; there the server is first left to echo what is in flight and go idle, then
//! `callgrind_control --zero` (at the start) or `--dump` (at the end) is sent to it, so
//! start-up, accepting, warm-up and teardown are left out. In ping-pong every connection has
//! one message in flight at both edges: at the start it is echoed before the counters are
//! zeroed but counted as a message, at the end it is echoed before the dump but not counted,
//! so the instructions and the messages cover the same work exactly.
//!
//! Under callgrind the server runs some 50 times slower (and one thread at a time, which
//! serialises `tokio-mt`), so the window holds fewer messages than natively; every one of them
//! is counted all the same.

use std::ffi::OsString;
use std::fmt::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::BenchError;
use crate::load::{EchoLoad, Window, run_echo};
use crate::pattern::Pattern;
use crate::process::ServerProcess;
use crate::procfs;
use crate::report::BASELINES;
use crate::scenario::{Case, Workload};
use crate::server::ServerKind;

/// What to install when valgrind or `callgrind_control` is missing.
const INSTALL: &str =
    "--callgrind needs valgrind and its callgrind_control (apt-get install valgrind)";

/// The name of callgrind's output file; dumps are written beside it with `.1`, `.2`, ...
/// appended.
const OUT_FILE: &str = "callgrind.out";

/// How long the server's CPU time must stay the same for it to count as idle. Longer than a
/// few clock ticks (10 ms each, usually), so that a busy server cannot look idle.
const QUIET: Duration = Duration::from_millis(50);

/// How long the server may take to go idle at an edge of the window.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long valgrind may take to exit once told to (it writes a last dump).
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// What one server did in the window.
#[derive(Clone, Copy, Debug)]
struct Count {
    /// User-space instructions executed in the window.
    instructions: u64,
    /// Messages echoed in it.
    messages: u64,
}

impl Count {
    fn per_message(self) -> f64 {
        self.instructions as f64 / self.messages as f64
    }
}

/// Runs `case` (an echo case) over `window` once against each of `servers` under callgrind
/// and returns a markdown report: `settings` as a list, then user-space instructions per
/// message, by server, with ratios to the baselines that were counted. With `keep`, each
/// server's dump is copied there as `callgrind.out.KIND.CONNECTIONS` (for
/// `callgrind_annotate`).
///
/// # Errors
///
/// If valgrind is not installed, or (naming the server) if a server echoes wrong bytes; a
/// server that fails otherwise gets `failed: reason` in its row and the run goes on.
pub fn diagnose(
    case: &Case,
    servers: &[ServerKind],
    window: Window,
    server_cpu: Option<usize>,
    settings: &[String],
    keep: Option<&Path>,
) -> Result<String, BenchError> {
    let Workload::Echo { connections, message_size, in_flight } = case.workload else {
        return Err(BenchError::failed("--callgrind needs an echo scenario"));
    };
    let valgrind = version("valgrind")?;
    // Only its presence matters: it is what talks to the running server.
    version("callgrind_control")?;
    let load = EchoLoad { connections, message_size, in_flight };
    let pattern = Pattern::new();
    let mut rows = Vec::new();
    for &kind in servers {
        eprintln!("{} · {kind} under callgrind", case.title());
        let dir = std::env::temp_dir()
            .join(format!("plexio-bench-callgrind-{}-{kind}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let counted = count(kind, server_cpu, &dir, load, window, &pattern);
        if let (Ok(_), Some(keep)) = (&counted, keep) {
            keep_dumps(&dir, &keep.join(format!("{OUT_FILE}.{kind}.{connections}")))?;
        }
        let _ = std::fs::remove_dir_all(&dir);
        match counted {
            Ok(count) => {
                eprintln!(
                    "{kind}: {:.1} instructions per message ({} messages)",
                    count.per_message(),
                    count.messages
                );
                rows.push((kind, Ok(count)));
            }
            Err(error @ BenchError::Mismatch(_)) => {
                return Err(error.context(&format!("the {kind} server, {}", case.title())));
            }
            Err(BenchError::Failed(message)) => {
                eprintln!("{kind}: failed: {message}");
                rows.push((kind, Err(message)));
            }
        }
    }
    let mut lines = settings.to_vec();
    lines.push(format!(
        "{valgrind} --tool=callgrind: every instruction the server process executed in user \
         space (Ir: all threads, libraries included; not the kernel's work), from \
         `callgrind_control --zero` to `--dump` around the measured window ({} s warm-up, then \
         {} s, both under callgrind), divided by the messages echoed in it",
        window.warmup.as_secs_f64(),
        window.duration.as_secs_f64()
    ));
    Ok(table(case, &lines, &rows))
}

/// Copies the dump in `dir` to `to` (its per-thread files, if any, to `to` with their suffix).
fn keep_dumps(dir: &Path, to: &Path) -> Result<(), BenchError> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent)?;
    }
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|name| name.to_str()) else { continue };
        // `callgrind.out.1`, or `callgrind.out.1-01` per thread: keep the thread suffix.
        let Some(rest) = name.strip_prefix(OUT_FILE).and_then(|rest| rest.strip_prefix('.')) else {
            continue;
        };
        let thread = rest.split_once('-').map_or(String::new(), |(_, thread)| format!("-{thread}"));
        let mut target = to.as_os_str().to_owned();
        target.push(thread);
        std::fs::copy(&path, &target)?;
        eprintln!("kept {}", Path::new(&target).display());
    }
    Ok(())
}

/// The first line `program --version` prints, or an error saying what to install.
fn version(program: &str) -> Result<String, BenchError> {
    let output = Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|error| BenchError::failed(format!("{INSTALL}: {program}: {error}")))?;
    let text = String::from_utf8_lossy(&output.stdout);
    match text.lines().next() {
        Some(line) if output.status.success() => Ok(line.trim().to_owned()),
        _ => Err(BenchError::failed(format!("{INSTALL}: `{program} --version` failed"))),
    }
}

/// Starts a `kind` server under callgrind with its output in `dir`, counts the window, and
/// stops the server again, whatever happened.
fn count(
    kind: ServerKind,
    server_cpu: Option<usize>,
    dir: &Path,
    load: EchoLoad,
    window: Window,
    pattern: &Pattern,
) -> Result<Count, BenchError> {
    let mut out_file = OsString::from("--callgrind-out-file=");
    out_file.push(dir.join(OUT_FILE));
    let mut valgrind = Command::new("valgrind");
    // Both the defaults, made explicit: callgrind_control reaches the server through vgdb, and
    // counting runs from the start, which the zeroing at the window's start then discards.
    valgrind.args(["--tool=callgrind", "--quiet", "--vgdb=yes", "--collect-atstart=yes"]);
    valgrind.arg(out_file);
    let mut server = ServerProcess::start_wrapped(valgrind, kind, server_cpu)?;
    let counted = count_window(&mut server, dir, load, window, pattern);
    // SIGTERM rather than drop's SIGKILL: valgrind then exits properly and removes its vgdb
    // FIFOs from the temporary directory.
    if !matches!(server.stop_wrapped(libc::SIGTERM, STOP_TIMEOUT), Ok(Some(_))) {
        eprintln!("{kind}: valgrind did not exit on SIGTERM; killing it");
    }
    counted
}

/// Runs the load against `server`, zeroing its counts as the window starts and dumping them
/// as it ends, and reads the dump.
fn count_window(
    server: &mut ServerProcess,
    dir: &Path,
    load: EchoLoad,
    window: Window,
    pattern: &Pattern,
) -> Result<Count, BenchError> {
    let pid = server.pid();
    let mut edges = 0;
    let mut failure = None;
    let result = run_echo(server.addr(), load, window, pattern, || {
        let action = if edges == 0 { "--zero" } else { "--dump" };
        edges += 1;
        // The callback cannot stop the run: after a failure the rest of it goes unused.
        if failure.is_none() {
            failure = settle(pid).and_then(|()| control(pid, action)).err();
        }
        // The load generator's CPU figure is not wanted here.
        None
    })
    .map_err(|error| server.explain(error))?;
    if let Some(error) = failure {
        return Err(error);
    }
    if edges != 2 {
        return Err(BenchError::failed(format!("the window had {edges} edge(s), not 2")));
    }
    if result.messages == 0 {
        return Err(BenchError::failed("no message was echoed under callgrind"));
    }
    let mut instructions = None;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        // The dump's files: `callgrind.out.1`, or with one file per thread `callgrind.out.1-01`.
        let is_dump = path.file_name().and_then(|name| name.to_str()).is_some_and(|name| {
            name.strip_prefix(OUT_FILE).is_some_and(|rest| rest.starts_with('.'))
        });
        if !is_dump {
            continue;
        }
        let text = std::fs::read_to_string(&path)?;
        let counted = parse_instructions(&text).ok_or_else(|| {
            BenchError::failed(format!("no instruction count in {}", path.display()))
        })?;
        *instructions.get_or_insert(0) += counted;
    }
    let instructions =
        instructions.ok_or_else(|| BenchError::failed("callgrind_control --dump wrote no dump"))?;
    Ok(Count { instructions, messages: result.messages })
}

/// Waits until the server `pid` has gone idle: until its CPU time stays the same for
/// [`QUIET`]. The load generator is waiting in its callback meanwhile, so the server echoes
/// what is in flight and then blocks, and the window's edge falls between messages.
fn settle(pid: u32) -> Result<(), BenchError> {
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    let mut before = procfs::cpu_time(pid)?;
    loop {
        std::thread::sleep(QUIET);
        let now = procfs::cpu_time(pid)?;
        if now == before {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(BenchError::failed(format!(
                "the server did not go idle within {} s",
                SETTLE_TIMEOUT.as_secs()
            )));
        }
        before = now;
    }
}

/// Runs `callgrind_control ACTION PID`, which returns once callgrind has done it.
fn control(pid: u32, action: &str) -> Result<(), BenchError> {
    let output = Command::new("callgrind_control")
        .args([action, &pid.to_string()])
        .stdin(Stdio::null())
        .output()
        .map_err(|error| BenchError::failed(format!("{INSTALL}: callgrind_control: {error}")))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    // It exits with 0 even when it finds no such process, so its words are what tell.
    let failed = text.lines().any(|line| line.to_ascii_lowercase().contains("error"));
    if !output.status.success() || failed || !text.contains("OK.") {
        return Err(BenchError::failed(format!(
            "callgrind_control {action} {pid}: {}",
            text.trim().replace('\n', " / ")
        )));
    }
    Ok(())
}

/// The instructions (`Ir`) in a callgrind output file: its `summary:` lines added up (its
/// `totals:` lines if it has none), each taken at the place of `Ir` in the `events:` line.
fn parse_instructions(text: &str) -> Option<u64> {
    let events = text.lines().find_map(|line| line.strip_prefix("events:"))?;
    let at = events.split_whitespace().position(|event| event == "Ir")?;
    let sum = |prefix: &str| -> Option<u64> {
        let mut counts = text.lines().filter_map(|line| line.strip_prefix(prefix)).peekable();
        // No such line is no count, not a count of 0.
        counts.peek()?;
        counts.map(|counts| counts.split_whitespace().nth(at)?.parse::<u64>().ok()).sum()
    };
    sum("summary:").or_else(|| sum("totals:"))
}

fn table(case: &Case, settings: &[String], rows: &[(ServerKind, Result<Count, String>)]) -> String {
    let baselines: Vec<(ServerKind, f64)> = BASELINES
        .into_iter()
        .filter_map(|baseline| {
            rows.iter().find_map(|(kind, count)| match count {
                Ok(count) if *kind == baseline => Some((baseline, count.per_message())),
                _ => None,
            })
        })
        .collect();
    let mut out = format!("## User-space instructions per message: {}\n\n", case.title());
    for line in settings {
        let _ = writeln!(out, "- {line}");
    }
    out.push_str("\n| server | instructions/msg |");
    for (baseline, _) in &baselines {
        let _ = write!(out, " × {baseline} |");
    }
    out.push_str(" messages |\n|---|--:|");
    out.push_str(&"--:|".repeat(baselines.len() + 1));
    out.push('\n');
    for (kind, count) in rows {
        match count {
            Ok(count) => {
                let _ = write!(out, "| {kind} | {:.1} |", count.per_message());
                for (_, base) in &baselines {
                    let _ = write!(out, " {:.2} |", count.per_message() / base);
                }
                let _ = writeln!(out, " {} |", count.messages);
            }
            Err(message) => {
                let _ = writeln!(
                    out,
                    "| {kind} | failed: {} |{}",
                    message.replace('|', "\\|"),
                    " |".repeat(baselines.len() + 1)
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_dump() {
        let text = "\
# callgrind format
version: 1
creator: callgrind-3.19.0
pid: 25709
cmd:  plexio-bench server --kind raw-epoll --addr 127.0.0.1:0
part: 1

desc: Trigger: dump

positions: line
events: Ir
summary: 123456

ob=(1) /usr/lib/x86_64-linux-gnu/libc.so.6
fn=(0) write
0 69

totals: 123456
";
        assert_eq!(parse_instructions(text), Some(123_456));
        // With more events, Ir is found by its place; without a summary, the totals count.
        let text = "events: Dr Ir Dw\nfn=(0) f\n0 1 2 3\ntotals: 10 20 30\n";
        assert_eq!(parse_instructions(text), Some(20));
        // Two parts in one file add up.
        let text = "events: Ir\npart: 1\nsummary: 5\npart: 2\nsummary: 7\n";
        assert_eq!(parse_instructions(text), Some(12));
        assert_eq!(parse_instructions("events: Dr\nsummary: 5\n"), None);
        assert_eq!(parse_instructions("events: Ir\n"), None);
    }

    #[test]
    fn table_has_ratios_to_the_counted_baselines() {
        let case = crate::scenario::cases("pingpong-64", 10).unwrap()[0];
        let count = |instructions, messages| Ok(Count { instructions, messages });
        let rows = [
            (ServerKind::PlexioMio, count(30_000, 100)),
            (ServerKind::TokioCt, Err("stalled".to_owned())),
            (ServerKind::RawEpoll, count(20_000, 200)),
        ];
        let table = table(&case, &["machine: test".to_owned()], &rows);
        assert!(table.starts_with(
            "## User-space instructions per message: pingpong-64, 1 connection\n\n- machine: test\n"
        ));
        assert!(table.contains("| server | instructions/msg | × raw-epoll | messages |\n"));
        assert!(table.contains("| plexio-mio | 300.0 | 3.00 | 100 |\n"));
        assert!(table.contains("| tokio-ct | failed: stalled | | |\n"));
        assert!(table.contains("| raw-epoll | 100.0 | 1.00 | 200 |\n"));
    }
}
