//! `plexio-bench`: the driver of the echo benchmark, and (with `server`) the echo servers it
//! starts. See `bench/README.md`.

use std::path::Path;
use std::process::ExitCode;

use plexio_bench::cli::HttpServerOptions;
use plexio_bench::cli::{self, Command, ServerOptions};
use plexio_bench::error::BenchError;
use plexio_bench::{http, multicore, report, runner, server, system};

fn main() -> ExitCode {
    match cli::parse(std::env::args().skip(1)) {
        Ok(Command::Help) => {
            println!("{}", cli::USAGE);
            ExitCode::SUCCESS
        }
        Ok(Command::Server(options)) => run_server(&options),
        Ok(Command::HttpServer(options)) => run_http_server(&options),
        Ok(Command::Bench(options)) if options.multicore.is_some() => {
            let multicore = options.multicore.as_ref().expect("checked by the guard");
            match multicore::run(multicore) {
                Ok(markdown) => print_and_write(&markdown, &options.output),
                Err(error) => {
                    eprintln!("plexio-bench: {error}");
                    ExitCode::FAILURE
                }
            }
        }
        Ok(Command::Bench(options)) if options.strace => diagnose_syscalls(&options),
        Ok(Command::Bench(options)) if options.callgrind => diagnose_instructions(&options),
        Ok(Command::Bench(options)) => match bench(&options) {
            Ok(markdown) => print_and_write(&markdown, &options.output),
            Err(error) => {
                eprintln!("plexio-bench: {error}");
                ExitCode::FAILURE
            }
        },
        Err(message) => {
            eprintln!("{message}");
            ExitCode::from(2)
        }
    }
}

/// The echo cases' report, then the `http` scenario's section, each if asked for.
fn bench(options: &cli::BenchOptions) -> Result<String, BenchError> {
    let mut markdown = String::new();
    if !options.cases.is_empty() {
        markdown = report::markdown(&runner::run(options)?);
    }
    if options.http {
        if !markdown.is_empty() {
            markdown.push('\n');
        }
        markdown.push_str(&http::run(options)?);
    }
    Ok(markdown)
}

#[cfg(target_os = "linux")]
fn diagnose_syscalls(options: &cli::BenchOptions) -> ExitCode {
    match runner::diagnose_syscalls(options) {
        Ok(markdown) => {
            println!("{markdown}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("plexio-bench: {error}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn diagnose_syscalls(_options: &cli::BenchOptions) -> ExitCode {
    eprintln!("plexio-bench: --strace runs on Linux only");
    ExitCode::FAILURE
}

#[cfg(target_os = "linux")]
fn diagnose_instructions(options: &cli::BenchOptions) -> ExitCode {
    match runner::diagnose_instructions(options) {
        Ok(markdown) => print_and_write(&markdown, &options.output),
        Err(error) => {
            eprintln!("plexio-bench: {error}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn diagnose_instructions(_options: &cli::BenchOptions) -> ExitCode {
    eprintln!("plexio-bench: --callgrind runs on Linux only");
    ExitCode::FAILURE
}

/// Prints `markdown` and writes it to `output`.
fn print_and_write(markdown: &str, output: &Path) -> ExitCode {
    println!("{markdown}");
    let written = output
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| std::fs::write(output, markdown));
    match written {
        Ok(()) => {
            eprintln!("written to {}", output.display());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("plexio-bench: cannot write {}: {error}", output.display());
            ExitCode::FAILURE
        }
    }
}

fn run_http_server(options: &HttpServerOptions) -> ExitCode {
    if let Some(cpu) = options.cpu {
        if let Err(error) = system::pin_to_cpu(cpu) {
            eprintln!("{} HTTP server: cannot pin to CPU {cpu}: {error}", options.kind);
        }
    }
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    match server::http::serve(options.kind, addr) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{} HTTP server: {error}", options.kind);
            ExitCode::FAILURE
        }
    }
}

fn run_server(options: &ServerOptions) -> ExitCode {
    if let Some(cpu) = options.cpu {
        // Before the runtime starts, so that its threads inherit the affinity.
        if let Err(error) = system::pin_to_cpu(cpu) {
            eprintln!("{} server: cannot pin to CPU {cpu}: {error}", options.kind);
        }
    }
    match server::serve(options.kind, options.addr, options.buffers, options.workers) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{} server: {error}", options.kind);
            ExitCode::FAILURE
        }
    }
}
