//! `--strace`: the server's system calls per echoed message, counted by `strace -c -f`.
//!
//! This explains the CPU figures rather than measuring speed: under strace every system call
//! stops the server twice, so the run is slow, but the count of calls per message is what it
//! is without strace too.

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
        eprintln!("{} · {kind} under strace -c -f", case.title());
        let counts = trace(kind, server_cpu, &summary, load, window, &pattern);
        let _ = std::fs::remove_file(&summary);
        columns.push((kind, counts?));
    }
    Ok(table(case, &columns))
}

/// One server's calls per message, by system call.
fn trace(
    kind: ServerKind,
    server_cpu: Option<usize>,
    summary: &PathBuf,
    load: EchoLoad,
    window: Window,
    pattern: &Pattern,
) -> Result<Vec<(String, f64)>, BenchError> {
    let mut server = ServerProcess::start_traced(kind, server_cpu, summary)?;
    let result = run_echo(server.addr(), load, window, pattern, || None)
        .map_err(|error| server.explain(error))?;
    if result.messages == 0 {
        return Err(BenchError::failed(format!("{kind}: no message was echoed under strace")));
    }
    server.stop_traced(Duration::from_secs(10))?;
    let text = std::fs::read_to_string(summary)
        .map_err(|error| BenchError::failed(format!("{kind}: no strace summary: {error}")))?;
    Ok(parse_summary(&text)
        .into_iter()
        .map(|(name, calls)| (name, calls as f64 / result.messages as f64))
        .collect())
}

/// The (system call, calls) rows of a `strace -c` summary, `total` included.
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

fn table(case: &Case, columns: &[(ServerKind, Vec<(String, f64)>)]) -> String {
    let mut names: Vec<&str> = columns
        .iter()
        .flat_map(|(_, counts)| counts.iter())
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
            let value = counts.iter().find(|(which, _)| which == name).map_or(0.0, |(_, v)| *v);
            out.push_str(&format!(" {value:.2} |"));
        }
        out.push('\n');
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
}
