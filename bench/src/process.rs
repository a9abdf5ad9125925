//! Starting an echo server as a child process (this binary, re-executed with `server`), and
//! killing it again, also when the driver unwinds.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::error::BenchError;
use crate::server::{Buffers, ServerKind};

/// How long a server may take to start and print its address.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A running echo server, killed when dropped.
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    kind: ServerKind,
    addr: SocketAddr,
    /// The server's own process id (not strace's, when traced; valgrind runs it in place, so
    /// there it is valgrind's too).
    pid: u32,
}

impl ServerProcess {
    /// Starts a `kind` server on an ephemeral port of 127.0.0.1, pinned to `cpu` if given,
    /// with the buffer policy `buffers`, and waits until it listens.
    pub fn start(
        kind: ServerKind,
        cpu: Option<usize>,
        buffers: Buffers,
    ) -> Result<ServerProcess, BenchError> {
        ServerProcess::start_with(Command::new(std::env::current_exe()?), kind, cpu, buffers, &[])
    }

    /// Starts a `kind` server with `workers` worker threads (`server --workers`), unpinned
    /// and with eager buffers, and waits until it listens: the multi-core scenario's servers.
    pub fn start_with_workers(
        kind: ServerKind,
        workers: usize,
    ) -> Result<ServerProcess, BenchError> {
        let command = Command::new(std::env::current_exe()?);
        let extra = ["--workers".to_owned(), workers.to_string()];
        ServerProcess::start_with(command, kind, None, Buffers::Eager, &extra)
    }

    /// Like [`start`](Self::start) with eager buffers (the diagnostics run echo cases only),
    /// but with the server's command line appended to `wrapper`: a program that runs the server
    /// either as its child (strace) or in place of itself (valgrind, which keeps the process
    /// id). Stop it with [`stop_wrapped`](Self::stop_wrapped), so that the wrapper can finish
    /// its output.
    pub fn start_wrapped(
        mut wrapper: Command,
        kind: ServerKind,
        cpu: Option<usize>,
    ) -> Result<ServerProcess, BenchError> {
        wrapper.arg(std::env::current_exe()?);
        ServerProcess::start_with(wrapper, kind, cpu, Buffers::Eager, &[])
    }

    /// [`start_wrapped`](Self::start_wrapped) under `strace -c -f`, which writes its syscall
    /// summary to `summary` once the server is stopped with [`stop_traced`](Self::stop_traced).
    /// With `list_calls`, `strace -C -f`: every call is listed in `summary` too (one line
    /// each, with its result), before the summary.
    pub fn start_traced(
        kind: ServerKind,
        cpu: Option<usize>,
        summary: &Path,
        list_calls: bool,
    ) -> Result<ServerProcess, BenchError> {
        let mut strace = Command::new("strace");
        strace.args([if list_calls { "-C" } else { "-c" }, "-f", "-o"]).arg(summary);
        ServerProcess::start_wrapped(strace, kind, cpu)
    }

    fn start_with(
        mut command: Command,
        kind: ServerKind,
        cpu: Option<usize>,
        buffers: Buffers,
        extra: &[String],
    ) -> Result<ServerProcess, BenchError> {
        command.args(server_args(kind, cpu, buffers)).args(extra);
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|error| {
                BenchError::failed(format!("cannot start the {kind} server: {error}"))
            })?;
        let stdout = child.stdout.take().expect("stdout is piped");
        // From here on, dropping `server` kills the child (which also ends the reader thread).
        let mut server =
            ServerProcess { child, kind, addr: SocketAddr::from(([127, 0, 0, 1], 0)), pid: 0 };
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let read = BufReader::new(stdout).read_line(&mut line).map(|_| line);
            let _ = sender.send(read);
        });
        let line = match receiver.recv_timeout(START_TIMEOUT) {
            Ok(Ok(line)) => line,
            Ok(Err(error)) => return Err(server.failure(format!("reading its address: {error}"))),
            Err(_) => return Err(server.failure("it did not print its address in time".to_owned())),
        };
        let mut words = line.split_whitespace();
        match (words.next().map(str::parse), words.next().map(str::parse)) {
            (Some(Ok(addr)), Some(Ok(pid))) => (server.addr, server.pid) = (addr, pid),
            _ => return Err(server.failure(format!("it printed {line:?}"))),
        }
        Ok(server)
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Adds to `error` that the server process has exited, and how, if it has.
    pub fn explain(&mut self, error: BenchError) -> BenchError {
        match self.child.try_wait() {
            Ok(Some(status)) => error.context(&format!("{} server exited ({status})", self.kind)),
            _ => error,
        }
    }

    /// Kills the traced server (strace then writes its summary and exits) and waits up to
    /// `timeout` for strace to exit; strace is killed on drop if it has not.
    #[cfg(unix)]
    pub fn stop_traced(
        &mut self,
        timeout: Duration,
    ) -> std::io::Result<Option<std::process::ExitStatus>> {
        self.stop_wrapped(libc::SIGKILL, timeout)
    }

    /// Sends `signal` to a server started with [`start_wrapped`](Self::start_wrapped) and
    /// waits up to `timeout` for the wrapper to exit (returning `None` if it has not); the
    /// wrapper is killed on drop if it has not.
    #[cfg(unix)]
    pub fn stop_wrapped(
        &mut self,
        signal: libc::c_int,
        timeout: Duration,
    ) -> std::io::Result<Option<std::process::ExitStatus>> {
        let pid = libc::pid_t::try_from(self.pid).map_err(std::io::Error::other)?;
        // A wrapper already reaped (by `explain`) may have left its id to another process.
        if let Some(status) = self.child.try_wait()? {
            return Ok(Some(status));
        }
        // SAFETY: kill takes no pointers. `pid` is either the wrapper's child, which the
        // wrapper (strace) reaps only after it has died, or the wrapper itself (valgrind runs
        // the server in place), our child and not yet reaped (just checked); either way the
        // id still names the server (or a zombie of it).
        if unsafe { libc::kill(pid, signal) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(Some(status));
            }
            if std::time::Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn failure(&mut self, message: String) -> BenchError {
        let error =
            BenchError::failed(format!("the {} server failed to start: {message}", self.kind));
        self.explain(error)
    }
}

/// The arguments that make this binary the `kind` server with `cpu` and `buffers`.
pub fn server_args(kind: ServerKind, cpu: Option<usize>, buffers: Buffers) -> Vec<String> {
    let mut args: Vec<String> =
        ["server", "--kind", kind.name(), "--addr", "127.0.0.1:0"].map(str::to_owned).to_vec();
    if let Some(cpu) = cpu {
        args.extend(["--cpu".to_owned(), cpu.to_string()]);
    }
    args.extend(buffers.flag().map(str::to_owned));
    args
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // It may have exited already; either way, reap it.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{self, Command};

    #[test]
    fn server_args_round_trip_through_the_parser() {
        for buffers in [Buffers::Eager, Buffers::Lazy] {
            let args = server_args(ServerKind::Smol, Some(1), buffers);
            assert_eq!(args.iter().any(|arg| arg == "--lazy-buffers"), buffers == Buffers::Lazy);
            let Ok(Command::Server(options)) = cli::parse(args) else { panic!() };
            assert_eq!(options.kind, ServerKind::Smol);
            assert_eq!(options.cpu, Some(1));
            assert_eq!(options.buffers, buffers);
        }
    }
}
