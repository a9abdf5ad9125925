//! Command-line parsing: the driver's options, and the `server` subcommand's.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::load::Window;
use crate::multicore::{self, MulticoreOptions};
use crate::scenario::{self, Case};
use crate::server::http::HttpServerKind;
use crate::server::{Buffers, LAZY_BUFFERS_FLAG, ServerKind};

/// The usage text.
pub const USAGE: &str = "\
usage: plexio-bench [--scenario NAME[,NAME...]] [--servers KIND[,KIND...]] [--repeats N]
                    [--duration SECS] [--warmup SECS] [--idle-connections N] [--quick]
                    [--output PATH] [--strace | --callgrind [--callgrind-out DIR]]
       plexio-bench --workers N[,N...] [--servers KIND[,KIND...]] [--connections N]
                    [--load-threads N] [--repeats N] [--duration SECS] [--warmup SECS]
       plexio-bench server --kind KIND --addr HOST:PORT [--cpu N] [--workers N]
                    [--lazy-buffers]
       plexio-bench http-server --kind plexio-mio|plexio-uring|tokio-ct [--cpu N]

scenarios: all (default), pingpong-64, pingpong-4k, stream-64k, idle-10k, http; pingpong-64x50
           and pingpong-64x500 (not in all) are pingpong-64's 50- and 500-connection cases
           alone; http (hyper on plexio-mio,
           plexio-uring and tokio-ct, loaded by wrk; --servers does not apply) writes
           bench/results/http.md when run alone
servers:   plexio-select, plexio-poll, plexio-mio, plexio-polling, plexio-uring,
           plexio-uring-owned, tokio-ct, tokio-mt, tokio-tpc, smol, monoio, compio, raw-epoll,
           raw-uring, raw-uring-multishot (default: all of them; plexio-uring*, tokio-tpc,
           monoio, compio and raw-* on
           Linux only)
defaults:  --repeats 3 --duration 2 --warmup 0.5 --idle-connections 10000,
           --output bench/results/latest.md
--quick:   a smoke run of about 30 s: --repeats 1 --duration 0.25 --warmup 0.1
           --idle-connections 1000 --output bench/results/quick.md (explicit flags win)
--strace:  instead of measuring, run the first echo case of --scenario once per server under
           `strace -c -f` and print system calls per message (Linux, needs strace)
--callgrind: instead of measuring, run the first echo case of --scenario once per server
           under valgrind's callgrind and print user-space instructions per message over the
           measured window (Linux, needs valgrind); --output defaults to
           bench/results/callgrind.md; --callgrind-out DIR keeps each server's dump there
           (callgrind.out.KIND.CONNECTIONS, for callgrind_annotate)
--workers: instead, the multi-core scenario: 64-byte ping-pong over --connections (400)
           connections against each server (default plexio-mio, plexio-uring, tokio-mt,
           tokio-tpc) with each worker count, driven by --load-threads threads (default: as
           many as the server has workers); --output defaults to bench/results/workers.md
server --workers N: worker threads of plexio's servers, tokio-mt and tokio-tpc
server --lazy-buffers: hold no buffer while a connection is idle; allocate it when the socket
           is readable and drop it once the data is echoed (the driver uses it for idle-10k)";

/// What the command line asks for.
#[derive(Debug)]
pub enum Command {
    /// Run the benchmark.
    Bench(BenchOptions),
    /// Be an echo server (the driver starts these).
    Server(ServerOptions),
    /// Be an HTTP server of the `http` scenario (the driver starts these).
    HttpServer(HttpServerOptions),
    /// Print the usage text.
    Help,
}

/// The driver's options.
#[derive(Debug)]
pub struct BenchOptions {
    /// The cases to run, in order.
    pub cases: Vec<Case>,
    /// The servers to run them against, in report order.
    pub servers: Vec<ServerKind>,
    /// How many times each measurement is repeated.
    pub repeats: usize,
    /// Warm-up and measurement time of each echo measurement.
    pub window: Window,
    /// Whether this is a `--quick` smoke run.
    pub quick: bool,
    /// Where the markdown report is written.
    pub output: PathBuf,
    /// Whether to count system calls under strace instead of measuring.
    pub strace: bool,
    /// Whether to count user-space instructions under callgrind instead of measuring.
    pub callgrind: bool,
    /// Where `--callgrind` keeps each server's dump, if anywhere.
    pub callgrind_out: Option<PathBuf>,
    /// Whether to run the `http` scenario (after the echo cases).
    pub http: bool,
    /// `--workers`: run the multi-core scenario instead, with these worker counts.
    pub multicore: Option<MulticoreOptions>,
}

/// The `http-server` subcommand's options.
#[derive(Debug)]
pub struct HttpServerOptions {
    /// Which server to run.
    pub kind: HttpServerKind,
    /// The CPU to pin the server to, if any.
    pub cpu: Option<usize>,
}

/// The `server` subcommand's options.
#[derive(Debug)]
pub struct ServerOptions {
    /// Which server to run.
    pub kind: ServerKind,
    /// Where to listen.
    pub addr: SocketAddr,
    /// The CPU to pin the server to, if any.
    pub cpu: Option<usize>,
    /// When each connection's buffer is allocated.
    pub buffers: Buffers,
    /// Worker threads, for the servers that have them.
    pub workers: Option<usize>,
}

/// Parses the arguments after the program name.
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let mut args = args.into_iter().peekable();
    if args.peek().map(String::as_str) == Some("server") {
        args.next();
        return parse_server(args).map(Command::Server);
    }
    if args.peek().map(String::as_str) == Some("http-server") {
        args.next();
        return parse_http_server(args).map(Command::HttpServer);
    }
    let mut scenarios = None;
    let mut servers = None;
    let mut repeats = None;
    let mut duration = None;
    let mut warmup = None;
    let mut idle_connections = None;
    let mut output = None;
    let mut quick = false;
    let mut strace = false;
    let mut callgrind = false;
    let mut callgrind_out = None;
    let mut workers = None;
    let mut connections = None;
    let mut load_threads = None;
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--scenario" => scenarios = Some(value()?),
            "--servers" => servers = Some(parse_servers(&value()?)?),
            "--repeats" => repeats = Some(parse_number(&flag, &value()?)?.max(1)),
            "--duration" => duration = Some(parse_seconds(&flag, &value()?)?),
            "--warmup" => warmup = Some(parse_seconds(&flag, &value()?)?),
            "--idle-connections" => idle_connections = Some(parse_number(&flag, &value()?)?),
            "--output" => output = Some(PathBuf::from(value()?)),
            "--quick" => quick = true,
            "--strace" => strace = true,
            "--callgrind" => callgrind = true,
            "--callgrind-out" => callgrind_out = Some(PathBuf::from(value()?)),
            "--workers" => workers = Some(parse_list(&flag, &value()?)?),
            "--connections" => connections = Some(parse_number(&flag, &value()?)?.max(1)),
            "--load-threads" => load_threads = Some(parse_number(&flag, &value()?)?.max(1)),
            "-h" | "--help" => return Ok(Command::Help),
            other => return Err(format!("unknown argument {other:?}\n\n{USAGE}")),
        }
    }
    if strace && callgrind {
        return Err("--strace and --callgrind exclude each other".to_owned());
    }
    if callgrind_out.is_some() && !callgrind {
        return Err("--callgrind-out needs --callgrind".to_owned());
    }
    let idle_connections = idle_connections.unwrap_or(if quick { 1000 } else { 10_000 });
    let mut cases = Vec::new();
    let mut http = false;
    for name in scenarios.as_deref().unwrap_or("all").split(',') {
        match name.trim() {
            "http" => {
                http = true;
                continue;
            }
            "all" => http = true,
            _ => {}
        }
        cases.extend(
            scenario::cases(name.trim(), idle_connections)
                .ok_or_else(|| format!("unknown scenario {name:?}\n\n{USAGE}"))?,
        );
    }
    let results = concat!(env!("CARGO_MANIFEST_DIR"), "/results");
    let http_only = http && cases.is_empty();
    let repeats = repeats.unwrap_or(if quick { 1 } else { 3 });
    let window = Window {
        warmup: warmup.unwrap_or(Duration::from_millis(if quick { 100 } else { 500 })),
        duration: duration.unwrap_or(Duration::from_millis(if quick { 250 } else { 2000 })),
    };
    let multicore = match workers {
        None => None,
        Some(workers) => {
            let servers = servers.clone().unwrap_or_else(multicore::default_servers);
            if let Some(kind) = servers.iter().find(|kind| !multicore::has_workers(**kind)) {
                return Err(format!(
                    "{kind} has no worker threads; --workers needs servers that do"
                ));
            }
            Some(MulticoreOptions {
                workers,
                servers,
                connections: connections.unwrap_or(400),
                load_threads,
                repeats,
                window,
            })
        }
    };
    let is_multicore = multicore.is_some();
    if !is_multicore && (connections.is_some() || load_threads.is_some()) {
        return Err("--connections and --load-threads go with --workers".to_owned());
    }
    Ok(Command::Bench(BenchOptions {
        http,
        cases,
        servers: servers.unwrap_or_else(|| {
            ServerKind::ALL.into_iter().filter(|kind| kind.is_supported()).collect()
        }),
        repeats,
        window,
        quick,
        strace,
        callgrind,
        callgrind_out,
        multicore,
        output: output.unwrap_or_else(|| {
            let name = match (callgrind, is_multicore, quick, http_only) {
                (true, _, _, _) => "callgrind.md",
                (false, true, _, _) => "workers.md",
                (false, false, true, true) => "quick-http.md",
                (false, false, false, true) => "http.md",
                (false, false, true, false) => "quick.md",
                (false, false, false, false) => "latest.md",
            };
            PathBuf::from(results).join(name)
        }),
    }))
}

fn parse_server(mut args: impl Iterator<Item = String>) -> Result<ServerOptions, String> {
    let (mut kind, mut addr, mut cpu, mut workers) = (None, None, None, None);
    let mut buffers = Buffers::Eager;
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--kind" => {
                let name = value()?;
                kind =
                    Some(ServerKind::from_name(&name).ok_or(format!("unknown server {name:?}"))?);
            }
            "--addr" => {
                let text = value()?;
                addr = Some(text.parse().map_err(|_| format!("bad address {text:?}"))?);
            }
            "--cpu" => cpu = Some(parse_number(&flag, &value()?)?),
            "--workers" => workers = Some(parse_number(&flag, &value()?)?.max(1)),
            LAZY_BUFFERS_FLAG => buffers = Buffers::Lazy,
            other => return Err(format!("unknown server argument {other:?}\n\n{USAGE}")),
        }
    }
    Ok(ServerOptions {
        kind: kind.ok_or("server needs --kind")?,
        addr: addr.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0))),
        cpu,
        buffers,
        workers,
    })
}

fn parse_http_server(mut args: impl Iterator<Item = String>) -> Result<HttpServerOptions, String> {
    let (mut kind, mut cpu) = (None, None);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--kind" => {
                let name = value()?;
                kind = Some(
                    HttpServerKind::from_name(&name)
                        .ok_or(format!("unknown HTTP server {name:?}"))?,
                );
            }
            "--cpu" => cpu = Some(parse_number(&flag, &value()?)?),
            other => return Err(format!("unknown http-server argument {other:?}\n\n{USAGE}")),
        }
    }
    Ok(HttpServerOptions { kind: kind.ok_or("http-server needs --kind")?, cpu })
}

/// A comma-separated list of counts, each at least 1.
fn parse_list(flag: &str, list: &str) -> Result<Vec<usize>, String> {
    let counts = list
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| parse_number(flag, item).map(|count| count.max(1)))
        .collect::<Result<Vec<_>, _>>()?;
    if counts.is_empty() {
        return Err(format!("{flag} names no count"));
    }
    Ok(counts)
}

fn parse_servers(list: &str) -> Result<Vec<ServerKind>, String> {
    let mut kinds = Vec::new();
    for name in list.split(',').map(str::trim).filter(|name| !name.is_empty()) {
        let kind =
            ServerKind::from_name(name).ok_or(format!("unknown server {name:?}\n\n{USAGE}"))?;
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    if kinds.is_empty() {
        return Err("--servers names no server".to_owned());
    }
    Ok(kinds)
}

fn parse_number(flag: &str, text: &str) -> Result<usize, String> {
    text.parse().map_err(|_| format!("{flag} takes a whole number, not {text:?}"))
}

fn parse_seconds(flag: &str, text: &str) -> Result<Duration, String> {
    text.parse::<f64>()
        .ok()
        .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
        .ok_or_else(|| format!("{flag} takes seconds, not {text:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_args(args: &[&str]) -> Result<Command, String> {
        parse(args.iter().map(|arg| (*arg).to_owned()))
    }

    #[test]
    fn defaults_run_everything() {
        let Ok(Command::Bench(options)) = parse_args(&[]) else { panic!() };
        assert_eq!(options.cases.len(), 6);
        assert_eq!(options.repeats, 3);
        assert_eq!(options.window.duration, Duration::from_secs(2));
    }

    #[test]
    fn picks_scenarios_and_servers() {
        let Ok(Command::Bench(options)) = parse_args(&[
            "--scenario",
            "pingpong-64",
            "--servers",
            "tokio-ct,plexio-mio",
            "--quick",
        ]) else {
            panic!()
        };
        assert_eq!(options.cases.len(), 3);
        assert_eq!(options.servers, [ServerKind::TokioCt, ServerKind::PlexioMio]);
        assert_eq!(options.repeats, 1);
        let Ok(Command::Bench(options)) = parse_args(&["--servers", "monoio,compio,monoio"]) else {
            panic!()
        };
        assert_eq!(options.servers, [ServerKind::Monoio, ServerKind::Compio]);
        let Ok(Command::Bench(options)) =
            parse_args(&["--servers", "plexio-uring-owned,plexio-uring"])
        else {
            panic!()
        };
        assert_eq!(options.servers, [ServerKind::PlexioUringOwned, ServerKind::PlexioUring]);
        assert!(parse_args(&["--scenario", "nope"]).is_err());
        assert!(parse_args(&["--servers", "nope"]).is_err());
    }

    #[test]
    fn all_servers_by_default() {
        let Ok(Command::Bench(options)) = parse_args(&[]) else { panic!() };
        let linux = cfg!(target_os = "linux");
        for kind in [
            ServerKind::PlexioUring,
            ServerKind::PlexioUringOwned,
            ServerKind::Monoio,
            ServerKind::Compio,
            ServerKind::RawEpoll,
            ServerKind::RawUring,
            ServerKind::RawUringMultishot,
        ] {
            assert_eq!(options.servers.contains(&kind), linux, "{kind}");
        }
        assert!(options.servers.contains(&ServerKind::TokioCt));
    }

    #[test]
    fn callgrind_mode() {
        let Ok(Command::Bench(options)) =
            parse_args(&["--scenario", "pingpong-64x50", "--callgrind"])
        else {
            panic!()
        };
        assert!(options.callgrind && !options.strace);
        assert_eq!(options.cases.len(), 1);
        assert_eq!(options.cases[0].title(), "pingpong-64, 50 connections");
        assert!(options.output.ends_with("results/callgrind.md"));
        let Ok(Command::Bench(options)) =
            parse_args(&["--callgrind", "--quick", "--output", "elsewhere.md"])
        else {
            panic!()
        };
        assert_eq!(options.output, PathBuf::from("elsewhere.md"));
        let Ok(Command::Bench(options)) = parse_args(&[]) else { panic!() };
        assert!(!options.callgrind);
        assert!(parse_args(&["--strace", "--callgrind"]).is_err());
        assert!(options.callgrind_out.is_none());
        let Ok(Command::Bench(options)) =
            parse_args(&["--callgrind", "--callgrind-out", "/tmp/cg"])
        else {
            panic!()
        };
        assert_eq!(options.callgrind_out, Some(PathBuf::from("/tmp/cg")));
        assert!(parse_args(&["--callgrind-out", "/tmp/cg"]).is_err());
    }

    #[test]
    fn server_subcommand() {
        let Ok(Command::Server(options)) =
            parse_args(&["server", "--kind", "raw-epoll", "--addr", "127.0.0.1:0", "--cpu", "1"])
        else {
            panic!()
        };
        assert_eq!(options.kind, ServerKind::RawEpoll);
        assert_eq!(options.cpu, Some(1));
        assert_eq!(options.buffers, Buffers::Eager);
        let Ok(Command::Server(options)) =
            parse_args(&["server", "--kind", "plexio-mio", "--lazy-buffers"])
        else {
            panic!()
        };
        assert_eq!(options.buffers, Buffers::Lazy);
    }
}
