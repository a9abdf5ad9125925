//! The `http` scenario: hyper's HTTP/1.1 server on plexio against the same server on tokio's
//! current-thread runtime, each on one thread, loaded by `wrk` with 50 keep-alive
//! connections; requests/s and server CPU per request, side by side and as ratios round by
//! round.
//!
//! Each round runs every server alone, in the echo rounds' order (see [`round_order`]:
//! each server runs before and after each other equally often), each against a freshly
//! started process (`plexio-bench http-server`): a short warm-up load, then the measured
//! `wrk` run, with the server's CPU time read from `/proc` before and after it. Then it runs all of them at once, fresh processes pinned to the same CPU,
//! each loaded by its own `wrk`: the host's noise, which moves one server's rounds against
//! another's when they run seconds apart, then falls on all of them alike.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use crate::cli::BenchOptions;
use crate::error::BenchError;
use crate::procfs::CpuReading;
use crate::runner::round_order;
use crate::server::http::HttpServerKind;
use crate::stats::{Paired, Spread};
use crate::system;

/// Keep-alive connections `wrk` holds open.
pub const CONNECTIONS: usize = 50;

/// The server every other is compared with.
const BASELINE: HttpServerKind = HttpServerKind::TokioCt;

/// One measured `wrk` run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HttpMeasurement {
    /// Requests per second, as `wrk` reports them.
    pub requests_per_second: f64,
    /// Server CPU time (user + system) per request, in microseconds.
    pub cpu_per_request_us: f64,
}

/// What `wrk` printed that the report needs.
#[derive(Clone, Copy, Debug, PartialEq)]
struct WrkSummary {
    requests: u64,
    requests_per_second: f64,
    /// Non-2xx answers, socket errors and timeouts together.
    errors: u64,
}

/// Reads `wrk`'s summary: `N requests in …`, `Requests/sec: X`, and any
/// `Non-2xx or 3xx responses: N` or `Socket errors: connect A, read B, write C, timeout D`.
fn parse_wrk(output: &str) -> Option<WrkSummary> {
    let mut requests = None;
    let mut requests_per_second = None;
    let mut errors = 0;
    for line in output.lines().map(str::trim) {
        if let Some((count, _)) = line.split_once(" requests in ") {
            requests = count.trim().parse().ok();
        } else if let Some(rate) = line.strip_prefix("Requests/sec:") {
            requests_per_second = rate.trim().parse().ok();
        } else if let Some(count) = line.strip_prefix("Non-2xx or 3xx responses:") {
            errors += count.trim().parse::<u64>().ok()?;
        } else if let Some(list) = line.strip_prefix("Socket errors:") {
            for part in list.split(',') {
                errors += part.split_whitespace().last()?.parse::<u64>().ok()?;
            }
        }
    }
    Some(WrkSummary { requests: requests?, requests_per_second: requests_per_second?, errors })
}

/// Whether `wrk` can be run here.
fn wrk_available() -> bool {
    Command::new("wrk")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// The HTTP server process, killed when dropped.
struct HttpServerProcess {
    child: Child,
    addr: SocketAddr,
    pid: u32,
}

impl HttpServerProcess {
    fn start(kind: HttpServerKind, cpu: Option<usize>) -> Result<HttpServerProcess, BenchError> {
        let mut command = Command::new(std::env::current_exe()?);
        command.args(["http-server", "--kind", kind.name()]);
        if let Some(cpu) = cpu {
            command.args(["--cpu", &cpu.to_string()]);
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|error| BenchError::failed(format!("cannot start {kind}: {error}")))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut line = String::new();
        let read = BufReader::new(stdout).read_line(&mut line);
        let mut server =
            HttpServerProcess { child, addr: SocketAddr::from(([127, 0, 0, 1], 0)), pid: 0 };
        let mut words = line.split_whitespace();
        match (read, words.next().map(str::parse), words.next().map(str::parse)) {
            (Ok(_), Some(Ok(addr)), Some(Ok(pid))) => (server.addr, server.pid) = (addr, pid),
            _ => {
                let status = server.child.try_wait().ok().flatten();
                return Err(BenchError::failed(format!(
                    "{kind} did not start: printed {line:?} (exit: {status:?})"
                )));
            }
        }
        Ok(server)
    }
}

impl Drop for HttpServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `wrk` against `addr` for `seconds` (whole seconds, as `wrk` takes them), on `cpu`
/// if given; [`finish_wrk`] waits for it and reads its summary.
fn start_wrk(addr: SocketAddr, seconds: u64, cpu: Option<usize>) -> Result<Child, BenchError> {
    let mut command = match cpu {
        Some(cpu) => {
            let mut taskset = Command::new("taskset");
            taskset.args(["-c", &cpu.to_string(), "wrk"]);
            taskset
        }
        None => Command::new("wrk"),
    };
    command
        .args(["-t1", &format!("-c{CONNECTIONS}"), &format!("-d{seconds}s")])
        .arg(format!("http://{addr}/"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| BenchError::failed(format!("cannot run wrk: {error}")))
}

/// Waits for a `wrk` of [`start_wrk`] and reads its summary; failed requests are an error.
fn finish_wrk(wrk: Child) -> Result<WrkSummary, BenchError> {
    let output = wrk
        .wait_with_output()
        .map_err(|error| BenchError::failed(format!("cannot run wrk: {error}")))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let summary = parse_wrk(&text).ok_or_else(|| {
        let errors = String::from_utf8_lossy(&output.stderr);
        BenchError::failed(format!("unexpected wrk output: {text}{errors}"))
    })?;
    if summary.errors > 0 {
        return Err(BenchError::failed(format!("{} failed requests", summary.errors)));
    }
    Ok(summary)
}

/// Runs `wrk` against `addr` for `seconds`, on `cpu` if given.
fn run_wrk(addr: SocketAddr, seconds: u64, cpu: Option<usize>) -> Result<WrkSummary, BenchError> {
    finish_wrk(start_wrk(addr, seconds, cpu)?)
}

/// Loads every server of `servers` at once, each with a `wrk` of its own (all started
/// before any is waited for), for `seconds`.
fn run_wrks(
    servers: &[HttpServerProcess],
    seconds: u64,
    cpu: Option<usize>,
) -> Result<Vec<WrkSummary>, BenchError> {
    // Every `wrk` is started before any is waited for, and each one started is waited for,
    // even after another failed, so that none outlives its round.
    let started: Vec<Result<Child, BenchError>> =
        servers.iter().map(|server| start_wrk(server.addr, seconds, cpu)).collect();
    let finished: Vec<Result<WrkSummary, BenchError>> =
        started.into_iter().map(|wrk| wrk.and_then(finish_wrk)).collect();
    finished.into_iter().collect()
}

/// The measurement of one server over a measured run: its CPU time from `before` to
/// `after`, and what its `wrk` reported.
fn measurement(before: &CpuReading, after: &CpuReading, summary: &WrkSummary) -> HttpMeasurement {
    let cpu = after.since(before);
    HttpMeasurement {
        requests_per_second: summary.requests_per_second,
        cpu_per_request_us: cpu.as_secs_f64() * 1e6 / summary.requests.max(1) as f64,
    }
}

/// One server, one round: start it, warm it up, measure.
fn measure(
    kind: HttpServerKind,
    seconds: u64,
    warm_up: bool,
    (load_cpu, server_cpu): (Option<usize>, Option<usize>),
) -> Result<HttpMeasurement, BenchError> {
    let server = HttpServerProcess::start(kind, server_cpu)?;
    if warm_up {
        run_wrk(server.addr, 1, load_cpu)?;
    }
    let before = CpuReading::read(server.pid)?;
    let summary = run_wrk(server.addr, seconds, load_cpu)?;
    let after = CpuReading::read(server.pid)?;
    Ok(measurement(&before, &after, &summary))
}

/// Every server of `kinds` at once, one round: all started on the same CPU, warmed up
/// together, then measured together, each loaded by a `wrk` of its own. Whatever the host
/// does during the run, it does to all of them alike. The measurements come in the order
/// of `kinds`.
fn measure_sharing(
    kinds: &[HttpServerKind],
    seconds: u64,
    warm_up: bool,
    (load_cpu, server_cpu): (Option<usize>, Option<usize>),
) -> Result<Vec<HttpMeasurement>, BenchError> {
    let servers = kinds
        .iter()
        .map(|&kind| HttpServerProcess::start(kind, server_cpu))
        .collect::<Result<Vec<_>, _>>()?;
    // Each server's own listener (`PortSharing::Exclusive`); checked all the same, since
    // two servers on one port would each answer part of both loads.
    for (index, server) in servers.iter().enumerate() {
        if servers[..index].iter().any(|earlier| earlier.addr == server.addr) {
            return Err(BenchError::failed(format!("two servers listen on {}", server.addr)));
        }
    }
    if warm_up {
        run_wrks(&servers, 1, load_cpu)?;
    }
    let cpu_times = || -> Result<Vec<CpuReading>, BenchError> {
        servers.iter().map(|server| Ok(CpuReading::read(server.pid)?)).collect()
    };
    let before = cpu_times()?;
    let summaries = run_wrks(&servers, seconds, load_cpu)?;
    let after = cpu_times()?;
    Ok((0..servers.len()).map(|i| measurement(&before[i], &after[i], &summaries[i])).collect())
}

/// Runs the scenario as `options` say (`--repeats` rounds of `--duration`, at least 1 s)
/// and returns its markdown section; a note instead where `wrk` is missing.
///
/// A round runs every server alone, one after another, then all of them at once sharing
/// the server CPU (see [`measure_sharing`]), in the order of [`round_order`].
pub fn run(options: &BenchOptions) -> Result<String, BenchError> {
    let mut markdown =
        String::from("## http: hyper on plexio against hyper on tokio current-thread\n\n");
    if !wrk_available() {
        markdown.push_str("Skipped: `wrk` is not installed (`apt-get install wrk`).\n");
        eprintln!("http: skipped, wrk is not installed");
        return Ok(markdown);
    }
    let cpus = system::allowed_cpus();
    let pinning = match cpus.as_slice() {
        [load, server, ..] => (Some(*load), Some(*server)),
        _ => (None, None),
    };
    let seconds = options.window.duration.as_secs_f64().ceil().max(1.0) as u64;
    let warm_up = !options.quick;
    let kinds: Vec<HttpServerKind> =
        HttpServerKind::ALL.into_iter().filter(|kind| kind.is_supported()).collect();
    let rounds = options.repeats;
    let mut alone = Series::new(kinds.len());
    let mut sharing = Series::new(kinds.len());
    for round in 1..=rounds {
        let order = round_order(kinds.len(), round);
        for &index in &order {
            let kind = kinds[index];
            let measured = measure(kind, seconds, warm_up, pinning);
            report_round(&format!("{kind} alone"), round, rounds, &measured);
            alone.push(index, measured);
        }
        let ordered: Vec<HttpServerKind> = order.iter().map(|&index| kinds[index]).collect();
        match measure_sharing(&ordered, seconds, warm_up, pinning) {
            Ok(measurements) => {
                for (&index, measured) in order.iter().zip(measurements) {
                    let kind = kinds[index];
                    report_round(&format!("{kind} sharing"), round, rounds, &Ok(measured));
                    sharing.push(index, Ok(measured));
                }
            }
            Err(error) => {
                eprintln!("http · sharing · round {round}/{rounds}: failed: {error}");
                for index in 0..kinds.len() {
                    sharing.fail(index, error.to_string());
                }
            }
        }
    }
    let _ = writeln!(
        markdown,
        "`wrk -t1 -c{CONNECTIONS} -d{seconds}s` (keep-alive HTTP/1.1, `GET /`, a 13-byte answer) \
         against each server; {rounds} round(s), each running every server once alone and \
         then all of them at once, every time against fresh processes{}; {}server CPU = the \
         run time of the server process over the measured run (to the nanosecond from each \
         thread's /proc/PID/task/TID/schedstat where the same threads ran throughout, else \
         user + system time in clock ticks from /proc/PID/stat) divided by the requests \
         answered in it.\n",
        if warm_up { " after a 1 s warm-up load" } else { "" },
        match pinning {
            (Some(load), Some(server)) =>
                format!("every wrk pinned to CPU {load}, every server to CPU {server}; "),
            _ => "no pinning (fewer than two CPUs); ".to_owned(),
        },
    );
    markdown.push_str(
        "### Each server alone on its CPU\n\nThe figures of the target: what one server does \
         with a core to itself. Rounds run the servers seconds apart, so whatever the host \
         does in between moves one server's rounds against another's.\n\n",
    );
    write_table(&mut markdown, &kinds, &alone);
    markdown.push_str(
        "\n### All servers at once, sharing the server CPU\n\nEvery server pinned to the same \
         CPU, each loaded by a `wrk` of its own (the `wrk`s sharing theirs): whatever the host \
         does during the run it does to all of them alike, so the per-round ratios are far \
         steadier than those of the servers alone. Both cores are full and each `wrk` gets an \
         equal share of its core, so every server answers about as many requests as the \
         others: here CPU per request tells them apart, the work each did for the same \
         requests at the same moment (each at a fraction of the core, with fuller batches per \
         wait than alone).\n\n",
    );
    write_table(&mut markdown, &kinds, &sharing);
    markdown.push_str(
        "\nFigures: the median over the rounds, with the min–max range; a ratio is the median \
         of the per-round ratios to tokio-ct, with the rounds in which the server did better \
         (more requests/s, less CPU per request).\n",
    );
    Ok(markdown)
}

/// Prints one server's round on stderr, as the run goes.
fn report_round(
    what: &str,
    round: usize,
    rounds: usize,
    measured: &Result<HttpMeasurement, BenchError>,
) {
    match measured {
        Ok(measurement) => eprintln!(
            "http · {what} · round {round}/{rounds}: {:.0} req/s, {:.2} µs CPU/request",
            measurement.requests_per_second, measurement.cpu_per_request_us
        ),
        Err(error) => eprintln!("http · {what} · round {round}/{rounds}: failed: {error}"),
    }
}

/// Per server (in the order of the kinds), one entry per round, and the last failure.
struct Series {
    rounds: Vec<Vec<Option<HttpMeasurement>>>,
    failures: Vec<Option<String>>,
}

impl Series {
    fn new(servers: usize) -> Series {
        Series { rounds: vec![Vec::new(); servers], failures: vec![None; servers] }
    }

    fn push(&mut self, index: usize, measured: Result<HttpMeasurement, BenchError>) {
        match measured {
            Ok(measurement) => self.rounds[index].push(Some(measurement)),
            Err(error) => self.fail(index, error.to_string()),
        }
    }

    /// Records a round in which server `index` was not measured, and why.
    fn fail(&mut self, index: usize, failure: String) {
        self.rounds[index].push(None);
        self.failures[index] = Some(failure);
    }

    /// One figure of server `index`, round by round.
    fn figure(&self, index: usize, figure: fn(&HttpMeasurement) -> f64) -> Vec<Option<f64>> {
        self.rounds[index].iter().map(|entry| entry.as_ref().map(figure)).collect()
    }
}

/// Writes the table of one way of running the servers: medians, ranges, and ratios to
/// tokio-ct round by round.
fn write_table(markdown: &mut String, kinds: &[HttpServerKind], series: &Series) {
    markdown.push_str(
        "| server | requests/s | server CPU per request (µs) | requests/s vs tokio-ct, by round | CPU per request vs tokio-ct, by round |\n|---|---|---|---|---|\n",
    );
    let baseline = kinds.iter().position(|&kind| kind == BASELINE);
    for (index, kind) in kinds.iter().enumerate() {
        if let Some(failure) = &series.failures[index] {
            let _ = writeln!(markdown, "| {kind} | failed: {failure} | | | |");
            continue;
        }
        let rate = series.figure(index, |m| m.requests_per_second);
        let cpu = series.figure(index, |m| m.cpu_per_request_us);
        let spread = |values: &[Option<f64>], digits: usize| {
            Spread::of(values.iter().flatten().copied()).map_or("n/a".to_owned(), |s| {
                format!("{:.digits$} ({:.digits$}–{:.digits$})", s.median, s.min, s.max)
            })
        };
        let paired = |ours: &[Option<f64>], figure: fn(&HttpMeasurement) -> f64, higher: bool| {
            let Some(baseline) = baseline.filter(|&b| b != index) else { return "—".to_owned() };
            Paired::of(ours, &series.figure(baseline, figure), higher)
                .map_or("n/a".to_owned(), |p| {
                    format!("{:.2} ({}/{})", p.median_ratio, p.better, p.rounds)
                })
        };
        let _ = writeln!(
            markdown,
            "| {kind} | {} | {} | {} | {} |",
            spread(&rate, 0),
            spread(&cpu, 2),
            paired(&rate, |m| m.requests_per_second, true),
            paired(&cpu, |m| m.cpu_per_request_us, false),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_wrk_output() {
        let output = "Running 2s test @ http://127.0.0.1:40000/\n  1 threads and 50 connections\n\
            \x20 Thread Stats   Avg      Stdev     Max   +/- Stdev\n\
            \x20   Latency   812.00us  120.00us   3.00ms   90.00%\n\
            \x20 123456 requests in 2.00s, 10.00MB read\n\
            Requests/sec:  61728.00\nTransfer/sec:      5.00MB\n";
        let summary = parse_wrk(output).unwrap();
        assert_eq!(
            summary,
            WrkSummary { requests: 123456, requests_per_second: 61728.0, errors: 0 }
        );
        let failing = format!(
            "{output}  Socket errors: connect 0, read 2, write 0, timeout 1\n  Non-2xx or 3xx responses: 4\n"
        );
        assert_eq!(parse_wrk(&failing).unwrap().errors, 7);
        assert_eq!(parse_wrk("nothing"), None);
    }

    #[test]
    fn tables_give_per_round_ratios_to_tokio_ct_and_name_failures() {
        let kinds = [HttpServerKind::PlexioMio, HttpServerKind::TokioCt];
        let at = |rate: f64, cpu: f64| {
            Ok(HttpMeasurement { requests_per_second: rate, cpu_per_request_us: cpu })
        };
        let mut series = Series::new(kinds.len());
        // Round 1: plexio-mio better on both counts; round 2: worse on both; round 3: better.
        for (ours, theirs) in [
            ((110.0, 9.0), (100.0, 10.0)),
            ((90.0, 11.0), (100.0, 10.0)),
            ((105.0, 9.5), (100.0, 10.0)),
        ] {
            series.push(0, at(ours.0, ours.1));
            series.push(1, at(theirs.0, theirs.1));
        }
        let mut markdown = String::new();
        write_table(&mut markdown, &kinds, &series);
        assert!(
            markdown.contains(
                "| plexio-mio | 105 (90–110) | 9.50 (9.00–11.00) | 1.05 (2/3) | 0.95 (2/3) |"
            ),
            "{markdown}"
        );
        assert!(markdown.contains("| tokio-ct | 100 (100–100) | 10.00 (10.00–10.00) | — | — |"));
        series.push(0, Err(BenchError::failed("2 failed requests")));
        series.push(1, at(100.0, 10.0));
        let mut markdown = String::new();
        write_table(&mut markdown, &kinds, &series);
        assert!(
            markdown.contains("| plexio-mio | failed: 2 failed requests | | | |"),
            "{markdown}"
        );
    }
}
