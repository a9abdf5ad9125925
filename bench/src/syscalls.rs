//! `--strace`: the server's system calls per echoed message, counted by `strace -c -f`.
//!
//! This explains the CPU figures rather than measuring speed: under strace every system call
//! stops the server twice, so the run is slow, but the count of calls per message is what it
//! is without strace too.
//!
//! The io_uring servers (`monoio`, `compio`) read and write without system calls of their
//! own: each read or write is an operation put on the submission ring, and one
//! `io_uring_enter` submits all that are queued and waits for completions. Their calls per
//! message are counted like everyone's (`io_uring_enter`, and the one-off `io_uring_setup`
//! and `io_uring_register`, which fall below [`SHOWN_FROM`] but count in the total); so that
//! the work per message can still be compared, they are traced with `strace -C`, which also
//! lists each call with its result, and the table adds the operations per message they
//! submitted (the sum of what `io_uring_enter` returned: the submissions it consumed).

use std::path::PathBuf;
use std::time::Duration;

use crate::error::BenchError;
use crate::load::{EchoLoad, Window, run_echo};
use crate::pattern::Pattern;
use crate::process::ServerProcess;
use crate::scenario::{Case, Workload};
use crate::server::ServerKind;

/// Calls per message below this are left out (start-up, accept, rare wake-ups).
const SHOWN_FROM: f64 = 0.01;

/// The table's row of io_uring operations submitted per message.
const SUBMITTED: &str = "io_uring ops submitted";

/// One server's figures per message: calls by system call (`total` included), and for an
/// io_uring server the operations it submitted.
struct Counts {
    calls: Vec<(String, f64)>,
    submitted: Option<f64>,
}

/// Runs `case` (an echo case) once against each of `servers` under strace and returns a
/// markdown table: system calls per message, by server.
pub fn diagnose(
    case: &Case,
    servers: &[ServerKind],
    duration: Duration,
    server_cpu: Option<usize>,
) -> Result<String, BenchError> {
    let Workload::Echo { connections, message_size, in_flight } = case.workload else {
        return Err(BenchError::failed("--strace needs an echo scenario"));
    };
    let load = EchoLoad { connections, message_size, in_flight };
    // No warm-up: every message counts, since strace counts every call from the start.
    let window = Window { warmup: Duration::ZERO, duration };
    let pattern = Pattern::new();
    let mut columns = Vec::new();
    for &kind in servers {
        let summary = std::env::temp_dir()
            .join(format!("plexio-bench-strace-{}-{kind}.txt", std::process::id()));
        let mode = if kind.uses_io_uring() { "-C" } else { "-c" };
        eprintln!("{} · {kind} under strace {mode} -f", case.title());
        let counts = trace(kind, server_cpu, &summary, load, window, &pattern);
        let _ = std::fs::remove_file(&summary);
        columns.push((kind, counts?));
    }
    Ok(table(case, &columns))
}

/// One server's calls per message, by system call, and its io_uring operations per message
/// if it uses io_uring.
fn trace(
    kind: ServerKind,
    server_cpu: Option<usize>,
    summary: &PathBuf,
    load: EchoLoad,
    window: Window,
    pattern: &Pattern,
) -> Result<Counts, BenchError> {
    // Listing every call is cheap only for servers that make few of them.
    let list_calls = kind.uses_io_uring();
    let mut server = ServerProcess::start_traced(kind, server_cpu, summary, list_calls)?;
    let result = run_echo(server.addr(), load, window, pattern, || None)
        .map_err(|error| server.explain(error))?;
    if result.messages == 0 {
        return Err(BenchError::failed(format!("{kind}: no message was echoed under strace")));
    }
    server.stop_traced(Duration::from_secs(10))?;
    let text = std::fs::read_to_string(summary)
        .map_err(|error| BenchError::failed(format!("{kind}: no strace summary: {error}")))?;
    let messages = result.messages as f64;
    Ok(Counts {
        calls: parse_summary(&text)
            .into_iter()
            .map(|(name, calls)| (name, calls as f64 / messages))
            .collect(),
        submitted: list_calls.then(|| io_uring_submitted(&text) as f64 / messages),
    })
}

/// The (system call, calls) rows of a `strace -c` summary, `total` included. With `-C` the
/// listed calls come first; the summary starts at the first line of dashes.
fn parse_summary(text: &str) -> Vec<(String, u64)> {
    text.lines()
        .skip_while(|line| !line.starts_with("------"))
        .filter_map(|line| {
            // % time, seconds, usecs/call, calls, [errors,] syscall
            let fields: Vec<&str> = line.split_whitespace().collect();
            let calls = fields.get(3)?.parse().ok()?;
            Some(((*fields.last()?).to_owned(), calls))
        })
        .collect()
}

/// The operations submitted by all the `io_uring_enter` calls listed by `strace -C -f -o`:
/// the sum of their results. A call that another thread interrupted is listed in two parts
/// (`io_uring_enter(... <unfinished ...>`, then `<... io_uring_enter resumed>) = 2`); its
/// result is on the second. Failed calls (`= -1 EINTR ...`) and unfinished ones (`= ?`)
/// submitted nothing that is counted.
fn io_uring_submitted(text: &str) -> u64 {
    text.lines()
        .filter(|line| line.contains("io_uring_enter(") || line.contains("io_uring_enter resumed>"))
        .filter_map(|line| {
            line.rsplit_once(") = ")?.1.split_whitespace().next()?.parse::<u64>().ok()
        })
        .sum()
}

fn table(case: &Case, columns: &[(ServerKind, Counts)]) -> String {
    let mut names: Vec<&str> = columns
        .iter()
        .flat_map(|(_, counts)| counts.calls.iter())
        .filter(|(name, per_message)| name != "total" && *per_message >= SHOWN_FROM)
        .map(|(name, _)| name.as_str())
        .collect();
    names.sort_unstable();
    names.dedup();
    names.push("total");
    let mut out = format!("## System calls per message: {}\n\n| syscall |", case.title());
    for (kind, _) in columns {
        out.push_str(&format!(" {kind} |"));
    }
    out.push_str("\n|---|");
    out.push_str(&"--:|".repeat(columns.len()));
    out.push('\n');
    for name in names {
        out.push_str(&format!("| {name} |"));
        for (_, counts) in columns {
            let value =
                counts.calls.iter().find(|(which, _)| which == name).map_or(0.0, |(_, v)| *v);
            out.push_str(&format!(" {value:.2} |"));
        }
        out.push('\n');
    }
    if columns.iter().any(|(_, counts)| counts.submitted.is_some()) {
        out.push_str(&format!("| *{SUBMITTED}* |"));
        for (_, counts) in columns {
            match counts.submitted {
                Some(value) => out.push_str(&format!(" *{value:.2}* |")),
                None => out.push_str(" |"),
            }
        }
        out.push_str(
            "\n\n*io_uring ops submitted*: the io_uring servers read and write through \
             operations submitted to a ring, not through system calls; this is how many they \
             submitted per message (each `io_uring_enter` submits all that are queued), to \
             compare with the reads and writes of the others.\n",
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_summary() {
        let text = "\
% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 60.00    0.000600           6       100           write
 40.00    0.000400           2       200       100 read
------ ----------- ----------- --------- --------- ----------------
100.00    0.001000           3       300       100 total
";
        assert_eq!(
            parse_summary(text),
            [("write".to_owned(), 100), ("read".to_owned(), 200), ("total".to_owned(), 300)]
        );
    }

    #[test]
    fn sums_io_uring_submissions() {
        let text = "\
4242 io_uring_setup(1024, {flags=0, sq_entries=1024, cq_entries=2048}) = 5
4242 io_uring_enter(5, 2, 1, IORING_ENTER_GETEVENTS|0x80, NULL, 128) = 2
4243 io_uring_enter(5, 3, 1, IORING_ENTER_GETEVENTS, NULL, 128 <unfinished ...>
4242 setsockopt(6, SOL_TCP, TCP_NODELAY, [1], 4) = 0
4243 <... io_uring_enter resumed>) = 3
4242 io_uring_enter(5, 1, 1, IORING_ENTER_GETEVENTS, NULL, 128) = -1 EINTR (Interrupted system call)
4242 io_uring_enter(5, 0, 1, IORING_ENTER_GETEVENTS|0x80, NULL, 128) = ?
4242 +++ killed by SIGKILL +++
% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
100.00    0.000100          20         5         1 io_uring_enter
  0.00    0.000000           0         1           io_uring_setup
------ ----------- ----------- --------- --------- ----------------
100.00    0.000100          16         6         1 total
";
        assert_eq!(io_uring_submitted(text), 5);
        assert_eq!(
            parse_summary(text),
            [
                ("io_uring_enter".to_owned(), 5),
                ("io_uring_setup".to_owned(), 1),
                ("total".to_owned(), 6)
            ]
        );
    }
}
