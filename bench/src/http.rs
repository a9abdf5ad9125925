//! The `http` scenario: hyper's HTTP/1.1 server on plexio against the same server on tokio's
//! current-thread runtime, each on one thread, loaded by `wrk` with 50 keep-alive
//! connections; requests/s and server CPU per request, side by side and as ratios round by
//! round.
//!
//! Each round runs every server once (the order rotated by one place per round, as the echo
//! rounds are), each against a freshly started process (`plexio-bench http-server`): a short
//! warm-up load, then the measured `wrk` run, with the server's CPU time read from `/proc`
//! before and after it.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use crate::cli::BenchOptions;
use crate::error::BenchError;
use crate::procfs;
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

/// Runs `wrk` against `addr` for `seconds` (whole seconds, as `wrk` takes them), on `cpu`
/// if given.
fn run_wrk(addr: SocketAddr, seconds: u64, cpu: Option<usize>) -> Result<WrkSummary, BenchError> {
    let mut command = match cpu {
        Some(cpu) => {
            let mut taskset = Command::new("taskset");
            taskset.args(["-c", &cpu.to_string(), "wrk"]);
            taskset
        }
        None => Command::new("wrk"),
    };
    let output = command
        .args(["-t1", &format!("-c{CONNECTIONS}"), &format!("-d{seconds}s")])
        .arg(format!("http://{addr}/"))
        .output()
        .map_err(|error| BenchError::failed(format!("cannot run wrk: {error}")))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let summary = parse_wrk(&text)
        .ok_or_else(|| BenchError::failed(format!("unexpected wrk output: {text}")))?;
    if summary.errors > 0 {
        return Err(BenchError::failed(format!("{} failed requests", summary.errors)));
    }
    Ok(summary)
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
    let before = procfs::cpu_time(server.pid)?;
    let summary = run_wrk(server.addr, seconds, load_cpu)?;
    let after = procfs::cpu_time(server.pid)?;
    let cpu = after.saturating_sub(before);
    Ok(HttpMeasurement {
        requests_per_second: summary.requests_per_second,
        cpu_per_request_us: cpu.as_secs_f64() * 1e6 / summary.requests.max(1) as f64,
    })
}

/// Runs the scenario as `options` say (`--repeats` rounds of `--duration`, at least 1 s)
/// and returns its markdown section; a note instead where `wrk` is missing.
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
    let kinds: Vec<HttpServerKind> =
        HttpServerKind::ALL.into_iter().filter(|kind| kind.is_supported()).collect();
    let rounds = options.repeats;
    // Per kind, one entry per round.
    let mut measured: Vec<Vec<Option<HttpMeasurement>>> = vec![Vec::new(); kinds.len()];
    let mut failures: Vec<Option<String>> = vec![None; kinds.len()];
    for round in 1..=rounds {
        for place in 0..kinds.len() {
            let index = (place + round - 1) % kinds.len();
            let kind = kinds[index];
            match measure(kind, seconds, !options.quick, pinning) {
                Ok(measurement) => {
                    eprintln!(
                        "http · {kind} · round {round}/{rounds}: {:.0} req/s, {:.2} µs CPU/request",
                        measurement.requests_per_second, measurement.cpu_per_request_us
                    );
                    measured[index].push(Some(measurement));
                }
                Err(error) => {
                    eprintln!("http · {kind} · round {round}/{rounds}: failed: {error}");
                    measured[index].push(None);
                    failures[index] = Some(error.to_string());
                }
            }
        }
    }
    let _ = writeln!(
        markdown,
        "`wrk -t1 -c{CONNECTIONS} -d{seconds}s` (keep-alive HTTP/1.1, `GET /`, a 13-byte answer); \
         {rounds} round(s), each running every server once against a fresh process{}; \
         {}server CPU = user + system time of the server process over the measured run \
         (/proc/PID/stat) divided by the requests answered in it.\n",
        if options.quick { "" } else { " after a 1 s warm-up load" },
        match pinning {
            (Some(load), Some(server)) =>
                format!("wrk pinned to CPU {load}, every server to CPU {server}; "),
            _ => "no pinning (fewer than two CPUs); ".to_owned(),
        },
    );
    markdown.push_str(
        "| server | requests/s | server CPU per request (µs) | requests/s vs tokio-ct, by round | CPU per request vs tokio-ct, by round |\n|---|---|---|---|---|\n",
    );
    let baseline = kinds.iter().position(|&kind| kind == BASELINE);
    let series = |index: usize, figure: fn(&HttpMeasurement) -> f64| -> Vec<Option<f64>> {
        measured[index].iter().map(|entry| entry.as_ref().map(figure)).collect()
    };
    for (index, kind) in kinds.iter().enumerate() {
        if let Some(failure) = &failures[index] {
            let _ = writeln!(markdown, "| {kind} | failed: {failure} | | | |");
            continue;
        }
        let rate = series(index, |m| m.requests_per_second);
        let cpu = series(index, |m| m.cpu_per_request_us);
        let spread = |values: &[Option<f64>], digits: usize| {
            Spread::of(values.iter().flatten().copied()).map_or("n/a".to_owned(), |s| {
                format!("{:.digits$} ({:.digits$}–{:.digits$})", s.median, s.min, s.max)
            })
        };
        let paired = |ours: &[Option<f64>], figure: fn(&HttpMeasurement) -> f64, higher: bool| {
            let Some(baseline) = baseline.filter(|&b| b != index) else { return "—".to_owned() };
            Paired::of(ours, &series(baseline, figure), higher).map_or("n/a".to_owned(), |p| {
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
    markdown.push_str(
        "\nFigures: the median over the rounds, with the min–max range; a ratio is the median \
         of the per-round ratios to tokio-ct, with the rounds in which the server did better \
         (more requests/s, less CPU per request).\n",
    );
    Ok(markdown)
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
}
