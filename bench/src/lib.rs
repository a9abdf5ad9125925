//! A side-by-side TCP echo benchmark: plexio on each of its backends against tokio, smol, the
//! io_uring runtimes monoio and compio (Linux), and a hand-written epoll loop.
//!
//! The binary (`src/main.rs`) is both halves. Run without a subcommand it is the driver: it
//! starts each echo server as a child process (itself, re-executed with `server --kind ...`),
//! drives it with a single-threaded load generator, reads the server's CPU time and memory
//! from `/proc`, and prints a markdown report. See `bench/README.md`.
//!
//! One job per module:
//!
//! * [`cli`]: command-line parsing.
//! * [`error`]: the error type, which tells a broken server from a failed measurement.
//! * [`server`]: the echo servers under test, written alike.
//! * [`process`]: starting a server as a child process and killing it again.
//! * [`scenario`]: what each scenario asks of the load generator.
//! * [`pattern`]: the deterministic message bytes and their verification.
//! * [`load`]: the load generator for the echo scenarios.
//! * [`idle`]: the idle-connection scenario (memory per connection).
//! * [`http`]: the `http` scenario, hyper on plexio against hyper on tokio, loaded by `wrk`.
//! * [`procfs`]: a process's CPU time and resident memory, read from `/proc`.
//! * [`syscalls`]: `--strace`, system calls per message.
//! * [`callgrind`]: `--callgrind`, user-space instructions per message.
//! * [`system`]: CPU pinning and the descriptor limit.
//! * [`machine`]: a description of the machine, for the report.
//! * [`stats`]: percentiles, medians and spreads.
//! * [`results`]: the figures and outcomes a run produces.
//! * [`runner`]: runs every scenario against every server, repeatedly.
//! * [`multicore`]: `--workers`, the multi-core scenario and its report.
//! * [`report`]: renders the results as markdown.

#[cfg(target_os = "linux")]
pub mod callgrind;
pub mod cli;
pub mod error;
pub mod http;
pub mod idle;
pub mod load;
pub mod machine;
pub mod multicore;
pub mod pattern;
pub mod process;
pub mod procfs;
pub mod report;
pub mod results;
pub mod runner;
pub mod scenario;
pub mod server;
pub mod stats;
#[cfg(target_os = "linux")]
pub mod syscalls;
pub mod system;
