//! The multi-core scenario (`--workers 1,2,4,8,16`): 64-byte ping-pong over 400 connections
//! against servers with 1, 2, 4, … worker threads, driven by a load generator of several
//! threads, reporting messages/s, server CPU per message and scaling efficiency.
//!
//! Scaling efficiency at n workers is the server's messages/s at n divided by n times its
//! messages/s at 1 worker (measured in the same run): 1.0 is perfect scaling.

use std::fmt::Write;
use std::time::Duration;

use crate::error::BenchError;
use crate::load::{EchoLoad, EchoResult, Window, run_echo};
use crate::machine::Machine;
use crate::pattern::Pattern;
use crate::process::ServerProcess;
use crate::procfs;
use crate::server::ServerKind;
use crate::stats::Spread;

/// What the multi-core scenario measures, and how.
#[derive(Clone, Debug)]
pub struct MulticoreOptions {
    /// The worker counts, in report order.
    pub workers: Vec<usize>,
    /// The servers (each must have worker threads: plexio's, `tokio-mt`, `tokio-tpc`).
    pub servers: Vec<ServerKind>,
    /// Connections in all, shared among the load threads.
    pub connections: usize,
    /// Load generator threads; `None`: as many as the server has workers.
    pub load_threads: Option<usize>,
    /// Measurements per server and worker count.
    pub repeats: usize,
    /// Warm-up and measured time of each measurement.
    pub window: Window,
}

/// The servers of the scenario when `--servers` names none.
pub fn default_servers() -> Vec<ServerKind> {
    [ServerKind::PlexioMio, ServerKind::PlexioUring, ServerKind::TokioMt, ServerKind::TokioTpc]
        .into_iter()
        .filter(|kind| kind.is_supported())
        .collect()
}

/// Whether `kind` runs with a worker count (`server --workers`).
pub fn has_workers(kind: ServerKind) -> bool {
    !matches!(
        kind,
        ServerKind::TokioCt
            | ServerKind::Smol
            | ServerKind::Monoio
            | ServerKind::Compio
            | ServerKind::RawEpoll
            | ServerKind::RawUring
            | ServerKind::RawUringMultishot
    )
}

/// One measurement: the sums over the load threads.
#[derive(Clone, Copy, Debug)]
struct Sample {
    messages_per_second: f64,
    /// Server CPU per message, in microseconds.
    cpu_per_message: Option<f64>,
}

/// Runs the scenario and returns the report as markdown.
///
/// # Errors
///
/// A server that echoes wrong bytes ([`BenchError::Mismatch`]); a measurement that fails
/// otherwise is reported in the table and the run goes on.
pub fn run(options: &MulticoreOptions) -> Result<String, BenchError> {
    let machine = Machine::describe();
    let pattern = Pattern::new();
    // rows[server][workers]: the samples, or why there are none.
    let mut rows: Vec<Vec<Result<Vec<Sample>, String>>> = options
        .servers
        .iter()
        .map(|_| options.workers.iter().map(|_| Ok(Vec::new())).collect())
        .collect();
    for repeat in 1..=options.repeats {
        for (w, &workers) in options.workers.iter().enumerate() {
            for (s, &kind) in options.servers.iter().enumerate() {
                let Ok(samples) = &mut rows[s][w] else { continue };
                match measure(kind, workers, options, &pattern) {
                    Ok(sample) => {
                        eprintln!(
                            "{kind} · {workers} worker(s) · run {repeat}/{}: {:.0} msg/s",
                            options.repeats, sample.messages_per_second
                        );
                        samples.push(sample);
                    }
                    Err(error @ BenchError::Mismatch(_)) => {
                        return Err(error.context(&format!("the {kind} server, {workers} workers")));
                    }
                    Err(BenchError::Failed(message)) => {
                        eprintln!("{kind} · {workers} worker(s): failed: {message}");
                        rows[s][w] = Err(message);
                    }
                }
            }
        }
    }
    Ok(report(&machine, options, &rows))
}

/// Starts `kind` with `workers` worker threads and drives it with the load threads.
fn measure(
    kind: ServerKind,
    workers: usize,
    options: &MulticoreOptions,
    pattern: &Pattern,
) -> Result<Sample, BenchError> {
    let mut server = ServerProcess::start_with_workers(kind, workers)?;
    let addr = server.addr();
    let pid = server.pid();
    let threads = options.load_threads.unwrap_or(workers).clamp(1, options.connections);
    let results: Vec<Result<EchoResult, BenchError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|thread| {
                // Connections split as evenly as they go.
                let share = options.connections / threads
                    + usize::from(thread < options.connections % threads);
                let load = EchoLoad { connections: share, message_size: 64, in_flight: 1 };
                scope.spawn(move || {
                    // The first thread reads the server's CPU time at its window's edges.
                    let cpu = move || {
                        if thread == 0 { procfs::cpu_time(pid).ok() } else { None }
                    };
                    run_echo(addr, load, options.window, pattern, cpu)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                handle.join().unwrap_or_else(|_| {
                    Err(BenchError::failed("a load thread panicked".to_owned()))
                })
            })
            .collect()
    });
    let mut messages_per_second = 0.0;
    let mut cpu_per_message = None;
    for (thread, result) in results.into_iter().enumerate() {
        let result = result.map_err(|error| server.explain(error))?;
        let rate = result.messages as f64 / result.elapsed.as_secs_f64().max(1e-9);
        messages_per_second += rate;
        if thread == 0 {
            cpu_per_message = result
                .server_cpu
                .map(|cpu: Duration| cpu.as_secs_f64() * 1e6)
                .map(|cpu| (cpu, result.elapsed.as_secs_f64()));
        }
    }
    // The first thread's window: the server's CPU over it, divided by the messages of every
    // thread over that same time.
    let cpu_per_message =
        cpu_per_message.map(|(cpu, elapsed)| cpu / (messages_per_second * elapsed).max(1.0));
    Ok(Sample { messages_per_second, cpu_per_message })
}

fn report(
    machine: &Machine,
    options: &MulticoreOptions,
    rows: &[Vec<Result<Vec<Sample>, String>>],
) -> String {
    let mut out = String::new();
    out.push_str("# plexio multi-core benchmark: 64 B ping-pong\n\n");
    let _ = writeln!(
        out,
        "- machine: {}, {} CPU(s), {}, {}",
        machine.cpu, machine.cores, machine.kernel, machine.date
    );
    let load_threads = options
        .load_threads
        .map_or_else(|| "as many as the server has workers".to_owned(), |n| n.to_string());
    let _ = writeln!(
        out,
        "- {} connections, one 64-byte message in flight each, split over the load generator's \
         threads ({load_threads}; each a mio loop checking every echoed byte); no CPU pinning: \
         the load generator and the server share the machine's CPUs",
        options.connections
    );
    let _ = writeln!(
        out,
        "- {} repeat(s) per measurement, each against a fresh server: {} s warm-up, {} s \
         measured; figures are the median",
        options.repeats,
        options.window.warmup.as_secs_f64(),
        options.window.duration.as_secs_f64()
    );
    out.push_str(
        "- server CPU = user + system time of the server process over the first load thread's \
         window, divided by the messages of all load threads over that window\n\
         - scaling efficiency = messages/s at n workers ÷ (n × messages/s at 1 worker)\n\n",
    );
    out.push_str("| server | workers | messages/s | server CPU µs/msg | scaling efficiency |\n");
    out.push_str("|---|---:|---:|---:|---:|\n");
    for (kind, row) in options.servers.iter().zip(rows) {
        let rate = |samples: &Result<Vec<Sample>, String>| {
            let samples = samples.as_ref().ok()?;
            Spread::of(samples.iter().map(|sample| sample.messages_per_second))
        };
        let one_worker = options
            .workers
            .iter()
            .position(|&workers| workers == 1)
            .and_then(|index| rate(&row[index]));
        for (&workers, samples) in options.workers.iter().zip(row) {
            let cells = match samples {
                Err(message) => format!("failed: {message} | | "),
                Ok(samples) => {
                    let rate = Spread::of(samples.iter().map(|sample| sample.messages_per_second));
                    let cpu =
                        Spread::of(samples.iter().filter_map(|sample| sample.cpu_per_message));
                    let efficiency = rate
                        .zip(one_worker)
                        .map(|(rate, one)| rate.median / (workers as f64 * one.median));
                    format!(
                        "{} | {} | {}",
                        rate.map_or("—".to_owned(), |rate| format!(
                            "{:.0} ({:.0}–{:.0})",
                            rate.median, rate.min, rate.max
                        )),
                        cpu.map_or("—".to_owned(), |cpu| format!("{:.2}", cpu.median)),
                        efficiency
                            .map_or("—".to_owned(), |efficiency| format!("{efficiency:.2}")),
                    )
                }
            };
            let _ = writeln!(out, "| {kind} | {workers} | {cells} |");
        }
    }
    out
}
