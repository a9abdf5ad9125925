//! Runs every case against every server, `--repeats` times, each measurement against a
//! freshly started server process.
//!
//! The repeats are interleaved (every server once, then every server again), so that a
//! machine that gets slower or faster during the run shifts all servers alike rather than
//! favouring whichever ran first. Each round also starts one server further along the list
//! than the round before, so that no server always runs in the same place: first, right
//! after the previous case's servers were torn down, or last.

use std::time::Duration;

use crate::cli::BenchOptions;
use crate::error::BenchError;
use crate::idle::run_idle;
use crate::load::{EchoLoad, Window, run_echo};
use crate::machine::Machine;
use crate::pattern::Pattern;
use crate::process::ServerProcess;
use crate::procfs;
use crate::results::{CaseResult, Figure, Measurement, Outcome, Results};
use crate::scenario::{Case, Workload};
use crate::server::{Buffers, ServerKind};
use crate::system;

/// How the load is generated, as the reports say it.
const LOAD_GENERATOR: &str = "load generator: one thread, mio (epoll), every connection with \
     TCP_NODELAY; every echoed byte is checked";

/// Descriptors a process needs besides its connections (standard streams, listener, poller,
/// wakers, the load generator's own).
const SPARE_DESCRIPTORS: usize = 64;

/// Runs the benchmark as `options` say, printing progress on stderr.
///
/// # Errors
///
/// [`BenchError::Mismatch`] (naming the server) if any server echoes wrong bytes; every other
/// failure is recorded in the results and the run goes on.
pub fn run(options: &BenchOptions) -> Result<Results, BenchError> {
    // Before pinning, which narrows what the process sees of the machine.
    let machine = Machine::describe();
    let mut notes = Vec::new();
    let descriptor_limit = match system::raise_descriptor_limit() {
        Ok(limit) => usize::try_from(limit).unwrap_or(usize::MAX),
        Err(error) => {
            notes.push(format!("could not read or raise RLIMIT_NOFILE ({error}); assuming 1024"));
            1024
        }
    };
    let (pinning, server_cpu) = pin(&mut notes);
    let settings = vec![
        format!(
            "{} repeat(s) per measurement, each against a fresh server process: {} s warm-up, then {} s measured; figures are the median, with the min–max range in parentheses",
            options.repeats,
            seconds(options.window.warmup),
            seconds(options.window.duration),
        ),
        pinning,
        LOAD_GENERATOR.to_owned(),
        "server CPU = user + system time of the whole server process over the measured window (/proc/PID/stat), divided by the messages echoed in it".to_owned(),
    ];

    let pattern = Pattern::new();
    let total = options.cases.len() * options.servers.len() * options.repeats;
    let mut done = 0;
    let mut cases = Vec::new();
    for &case in &options.cases {
        let case = fit_to_limit(case, descriptor_limit, &mut notes);
        let mut rows: Vec<(ServerKind, Outcome)> =
            options.servers.iter().map(|&kind| (kind, applicable(kind, &case))).collect();
        for repeat in 1..=options.repeats {
            for index in round_order(rows.len(), repeat) {
                let (kind, outcome) = &mut rows[index];
                done += 1;
                let Outcome::Measured(measurements) = outcome else { continue };
                let progress = format!(
                    "[{done}/{total}] {} · {kind} · run {repeat}/{}",
                    case.title(),
                    options.repeats
                );
                match measure(&case, *kind, options.window, server_cpu, &pattern) {
                    Ok(measurement) => {
                        eprintln!("{progress}: {}", summary(&measurement));
                        measurements.push(measurement);
                    }
                    Err(error @ BenchError::Mismatch(_)) => {
                        return Err(error.context(&format!("the {kind} server, {}", case.title())));
                    }
                    Err(BenchError::Failed(message)) => {
                        eprintln!("{progress}: failed: {message}");
                        *outcome = Outcome::Failed(message);
                    }
                }
            }
        }
        cases.push(CaseResult { case, rows });
    }
    Ok(Results { machine, settings, cases, notes })
}

/// The order in which round `repeat` (from 1) runs `servers` servers: the list rotated by
/// one place every second round, and reversed in every even round. So no server always
/// runs first (right after the previous servers were torn down) or last, and each runs
/// before and after each other equally often: in every `2 × servers` rounds, each pair
/// runs in each order in half of them (a rotation alone runs a server after a given other
/// in most rounds: with three, the third before the first in two rounds of three), and
/// whatever a run leaves for the next (sockets in `TIME_WAIT`, a warmer cache) weighs on
/// no pair's ratios. Three servers take the six orders in six rounds.
pub(crate) fn round_order(servers: usize, repeat: usize) -> Vec<usize> {
    let rotation = (repeat.saturating_sub(1) / 2) % servers.max(1);
    let mut order: Vec<usize> = (0..servers).map(|place| (place + rotation) % servers).collect();
    if repeat % 2 == 0 {
        order.reverse();
    }
    order
}

/// `--strace`: counts each server's system calls per message in the first echo case of
/// `options`, and returns them as a markdown table.
#[cfg(target_os = "linux")]
pub fn diagnose_syscalls(options: &BenchOptions) -> Result<String, BenchError> {
    let case = first_echo_case(options, "--strace")?;
    let (_, server_cpu) = pin(&mut Vec::new());
    crate::syscalls::diagnose(case, &options.servers, options.window.duration, server_cpu)
}

/// `--callgrind`: counts each server's user-space instructions per message in the first echo
/// case of `options`, and returns them as a markdown report.
#[cfg(target_os = "linux")]
pub fn diagnose_instructions(options: &BenchOptions) -> Result<String, BenchError> {
    let case = first_echo_case(options, "--callgrind")?;
    // Before pinning, which narrows what the process sees of the machine.
    let machine = Machine::describe();
    let (pinning, server_cpu) = pin(&mut Vec::new());
    let settings = [
        format!(
            "machine: {}, {} CPU(s), {}, {}",
            machine.cpu, machine.cores, machine.kernel, machine.date
        ),
        pinning,
        LOAD_GENERATOR.to_owned(),
    ];
    crate::callgrind::diagnose(
        case,
        &options.servers,
        options.window,
        server_cpu,
        &settings,
        options.callgrind_out.as_deref(),
    )
}

/// The first echo case of `options`: the one the diagnostic modes (`flag`) run.
#[cfg(target_os = "linux")]
fn first_echo_case<'a>(options: &'a BenchOptions, flag: &str) -> Result<&'a Case, BenchError> {
    options
        .cases
        .iter()
        .find(|case| matches!(case.workload, Workload::Echo { .. }))
        .ok_or_else(|| BenchError::failed(format!("{flag} needs an echo scenario")))
}

/// Starts a `kind` server, runs `case` against it once, and kills it.
fn measure(
    case: &Case,
    kind: ServerKind,
    window: Window,
    server_cpu: Option<usize>,
    pattern: &Pattern,
) -> Result<Measurement, BenchError> {
    let mut server = ServerProcess::start(kind, server_cpu, buffers(case))?;
    let (addr, pid) = (server.addr(), server.pid());
    let measured = match case.workload {
        Workload::Echo { connections, message_size, in_flight } => {
            let load = EchoLoad { connections, message_size, in_flight };
            run_echo(addr, load, window, pattern, || procfs::cpu_time(pid).ok()).and_then(
                |result| {
                    Measurement::from_echo(&result)
                        .ok_or_else(|| BenchError::failed("no message was echoed in the window"))
                },
            )
        }
        Workload::Idle { connections } => {
            run_idle(addr, connections, pattern, || procfs::resident_set(pid))
                .map(|result| Measurement::from_idle(&result))
        }
    };
    measured.map_err(|error| server.explain(error))
}

/// The buffer policy of the servers for `case`: lazy for the idle scenario, so that it
/// measures what the runtime holds per connection rather than the buffer; eager for the echo
/// scenarios, whose connections are never idle for long.
pub fn buffers(case: &Case) -> Buffers {
    match case.workload {
        Workload::Echo { .. } => Buffers::Eager,
        Workload::Idle { .. } => Buffers::Lazy,
    }
}

/// Whether `kind` can run `case` at all: `select(2)` cannot hold descriptors at or above
/// `FD_SETSIZE`, so the idle scenario's thousands of connections are beyond it. (The echo
/// scenarios' 500 connections fit; should they not, the measurement fails and says why.) A
/// server that serves one connection at a time serves only the one-connection cases: with
/// more, all but one would wait for it to end, which they never do.
fn applicable(kind: ServerKind, case: &Case) -> Outcome {
    if kind.serves_one_at_a_time() && case.connections() > 1 {
        return Outcome::NotApplicable("n/a (one at a time)".to_owned());
    }
    match (kind.descriptor_limit(), case.workload) {
        (Some(limit), Workload::Idle { connections })
            if connections + SPARE_DESCRIPTORS / 4 > limit =>
        {
            Outcome::NotApplicable("n/a (FD_SETSIZE)".to_owned())
        }
        _ => Outcome::Measured(Vec::new()),
    }
}

/// Lowers the case's connection count to what the descriptor limit allows, with a note.
fn fit_to_limit(case: Case, descriptor_limit: usize, notes: &mut Vec<String>) -> Case {
    let most = descriptor_limit.saturating_sub(SPARE_DESCRIPTORS);
    if case.connections() <= most {
        return case;
    }
    let note = format!(
        "{}: RLIMIT_NOFILE is {descriptor_limit}, so {most} connections instead of {}",
        case.scenario,
        case.connections()
    );
    eprintln!("note: {note}");
    notes.push(note);
    case.with_connections_at_most(most)
}

/// Pins this process (the load generator) to the first CPU it may use and picks the second
/// for the servers; returns the settings line and the servers' CPU.
fn pin(notes: &mut Vec<String>) -> (String, Option<usize>) {
    let cpus = system::allowed_cpus();
    if let [generator, server, ..] = cpus[..] {
        match system::pin_to_cpu(generator) {
            Ok(()) => {
                return (
                    format!("server pinned to CPU {server}, load generator to CPU {generator}"),
                    Some(server),
                );
            }
            Err(error) => notes.push(format!("CPU pinning failed: {error}")),
        }
    }
    (format!("no CPU pinning ({} CPU(s) available to pin to)", cpus.len()), None)
}

/// A one-line summary of a measurement, for progress output.
fn summary(measurement: &Measurement) -> String {
    [Figure::MessagesPerSecond, Figure::LatencyP50, Figure::CpuPerMessage, Figure::RssPerConnection]
        .into_iter()
        .filter_map(|figure| {
            measurement
                .get(figure)
                .map(|value| format!("{} {}", figure.format(value), figure.heading()))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn seconds(duration: Duration) -> String {
    format!("{}", duration.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario;

    #[test]
    fn round_orders_run_each_pair_both_ways_equally_often() {
        let rounds: Vec<Vec<usize>> = (1..=4).map(|repeat| round_order(3, repeat)).collect();
        assert_eq!(rounds, [[0, 1, 2], [2, 1, 0], [1, 2, 0], [0, 2, 1]]);
        assert!(round_order(0, 1).is_empty());
        for servers in 1..=5 {
            let orders: Vec<Vec<usize>> =
                (1..=2 * servers).map(|repeat| round_order(servers, repeat)).collect();
            for order in &orders {
                let mut sorted = order.clone();
                sorted.sort_unstable();
                assert_eq!(sorted, (0..servers).collect::<Vec<_>>(), "every server once a round");
            }
            for a in 0..servers {
                for b in (0..servers).filter(|&b| b != a) {
                    let before = |order: &&Vec<usize>| {
                        order.iter().position(|&s| s == a) < order.iter().position(|&s| s == b)
                    };
                    let count = orders.iter().filter(before).count();
                    assert_eq!(count, servers, "{servers} servers: {a} before {b}");
                }
            }
        }
        let six: std::collections::HashSet<Vec<usize>> =
            (1..=6).map(|repeat| round_order(3, repeat)).collect();
        assert_eq!(six.len(), 6, "three servers take all six orders in six rounds");
    }

    #[test]
    fn idle_servers_get_lazy_buffers_and_echo_servers_eager() {
        let cases = scenario::cases("all", 1000).unwrap();
        assert!(cases.iter().any(|case| matches!(case.workload, Workload::Idle { .. })));
        for case in &cases {
            let expected = match case.workload {
                Workload::Idle { .. } => Buffers::Lazy,
                Workload::Echo { .. } => Buffers::Eager,
            };
            assert_eq!(buffers(case), expected, "{}", case.title());
        }
        assert_eq!(buffers(&scenario::cases("idle-10k", 10).unwrap()[0]), Buffers::Lazy);
        assert_eq!(buffers(&scenario::cases("pingpong-64", 10).unwrap()[0]), Buffers::Eager);
    }

    #[test]
    fn the_one_at_a_time_server_runs_only_one_connection_cases() {
        for case in scenario::cases("all", 1000).unwrap() {
            let blocking = applicable(ServerKind::StdBlocking, &case);
            let threads = applicable(ServerKind::StdThreads, &case);
            assert!(matches!(threads, Outcome::Measured(_)), "{}", case.title());
            assert_eq!(
                matches!(blocking, Outcome::Measured(_)),
                case.connections() == 1,
                "{}",
                case.title()
            );
        }
    }
}
