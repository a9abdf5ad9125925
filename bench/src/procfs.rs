//! A process's CPU time and resident memory, read from `/proc` (Linux only; elsewhere the
//! functions return an `Unsupported` error and the report leaves those figures out).

use std::io;
use std::time::Duration;

/// The CPU time (user plus system, all threads) process `pid` has used so far, from
/// `/proc/PID/stat`, in clock ticks converted with `sysconf(_SC_CLK_TCK)`.
#[cfg(target_os = "linux")]
pub fn cpu_time(pid: u32) -> io::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let ticks = parse_cpu_ticks(&stat)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unexpected /proc/PID/stat"))?;
    Ok(Duration::from_nanos(ticks.saturating_mul(1_000_000_000) / ticks_per_second()?))
}

/// `sysconf(_SC_CLK_TCK)`: the clock ticks of `/proc/PID/stat` in a second.
#[cfg(target_os = "linux")]
fn ticks_per_second() -> io::Result<u64> {
    // SAFETY: sysconf takes no pointers and has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(per_second)
        .ok()
        .filter(|&per_second| per_second > 0)
        .ok_or_else(io::Error::last_os_error)
}

/// One reading of a process's CPU time, to measure the time it used between two readings
/// ([`since`](CpuReading::since)) more finely than [`cpu_time`]'s clock ticks (10 ms each
/// on most kernels: 0.6 % of a server's 1.6 s in a 5 s run on a third of a core).
#[derive(Debug)]
pub struct CpuReading {
    /// [`cpu_time`]: every thread, those that have exited included, in clock ticks.
    ticks: Duration,
    /// The length of a clock tick.
    tick: Duration,
    /// Each live thread's id and run time to the nanosecond (the first field of
    /// `/proc/PID/task/TID/schedstat`, the scheduler's own account), in the order of the
    /// ids; `None` where the kernel does not give it.
    threads: Option<Vec<(u32, u64)>>,
}

impl CpuReading {
    /// Reads process `pid`'s CPU time now.
    #[cfg(target_os = "linux")]
    pub fn read(pid: u32) -> io::Result<CpuReading> {
        let ticks = cpu_time(pid)?;
        let tick = Duration::from_nanos(1_000_000_000 / ticks_per_second()?);
        Ok(CpuReading { ticks, tick, threads: thread_run_times(pid).ok() })
    }

    /// See the Linux version; not available on this platform.
    #[cfg(not(target_os = "linux"))]
    pub fn read(_pid: u32) -> io::Result<CpuReading> {
        Err(io::Error::new(io::ErrorKind::Unsupported, "CPU time is read from /proc (Linux)"))
    }

    /// The CPU time used from `earlier` to this reading. To the nanosecond where the same
    /// threads were alive at both readings and the clock-tick count agrees within two ticks
    /// (a thread that came and went in between would be missing from the finer sum); in
    /// clock ticks otherwise.
    pub fn since(&self, earlier: &CpuReading) -> Duration {
        let coarse = self.ticks.saturating_sub(earlier.ticks);
        let (Some(now), Some(then)) = (&self.threads, &earlier.threads) else { return coarse };
        let same_threads =
            now.len() == then.len() && now.iter().zip(then).all(|(now, then)| now.0 == then.0);
        if !same_threads {
            return coarse;
        }
        let sum = |threads: &[(u32, u64)]| threads.iter().map(|&(_, nanos)| nanos).sum::<u64>();
        let fine = Duration::from_nanos(sum(now).saturating_sub(sum(then)));
        if fine.abs_diff(coarse) <= 2 * self.tick { fine } else { coarse }
    }
}

/// The run time of each live thread of process `pid`, in nanoseconds, by thread id.
#[cfg(target_os = "linux")]
fn thread_run_times(pid: u32) -> io::Result<Vec<(u32, u64)>> {
    let mut threads = Vec::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let entry = entry?;
        let Some(tid) = entry.file_name().to_str().and_then(|name| name.parse().ok()) else {
            continue;
        };
        let schedstat = std::fs::read_to_string(entry.path().join("schedstat"))?;
        let nanos = parse_run_time(&schedstat).ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidData, "unexpected /proc/PID/task/TID/schedstat")
        })?;
        threads.push((tid, nanos));
    }
    threads.sort_unstable();
    Ok(threads)
}

/// The first field of a `schedstat` line: the time the thread has run, in nanoseconds.
fn parse_run_time(schedstat: &str) -> Option<u64> {
    schedstat.split_whitespace().next()?.parse().ok()
}

/// The resident set size of process `pid` in bytes, from `VmRSS` in `/proc/PID/status`.
#[cfg(target_os = "linux")]
pub fn resident_set(pid: u32) -> io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    parse_vm_rss(&status)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no VmRSS in /proc/PID/status"))
}

/// See the Linux version; not available on this platform.
#[cfg(not(target_os = "linux"))]
pub fn cpu_time(_pid: u32) -> io::Result<Duration> {
    Err(io::Error::new(io::ErrorKind::Unsupported, "CPU time is read from /proc (Linux)"))
}

/// See the Linux version; not available on this platform.
#[cfg(not(target_os = "linux"))]
pub fn resident_set(_pid: u32) -> io::Result<u64> {
    Err(io::Error::new(io::ErrorKind::Unsupported, "memory is read from /proc (Linux)"))
}

/// `utime + stime` (fields 14 and 15) of a `/proc/PID/stat` line. The command name (field 2)
/// may hold spaces and parentheses, so the fields are counted from its closing parenthesis.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    // After the name come field 3 (state) onwards: utime is the 12th of those.
    let mut fields = after_name.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(user + system)
}

/// The `VmRSS:` line of `/proc/PID/status`, in bytes.
fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find_map(|line| line.strip_prefix("VmRSS:"))?;
    let kib: u64 = line.trim().strip_suffix("kB")?.trim().parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_an_awkward_name() {
        let stat = "1234 (a (b) c) S 1 1234 1234 0 -1 4194560 100 0 0 0 17 5 0 0 20 0 1 0 1 1 1";
        assert_eq!(parse_cpu_ticks(stat), Some(22));
    }

    #[test]
    fn cpu_readings_count_to_the_nanosecond_only_where_the_same_threads_account_for_it() {
        let tick = Duration::from_millis(10);
        let reading = |ticks_ms: u64, threads: Option<Vec<(u32, u64)>>| CpuReading {
            ticks: Duration::from_millis(ticks_ms),
            tick,
            threads,
        };
        let earlier = reading(1_000, Some(vec![(7, 1_004_000_000)]));
        // The same thread, the ticks agreeing: the finer figure.
        let later = reading(2_600, Some(vec![(7, 2_607_300_000)]));
        assert_eq!(later.since(&earlier), Duration::from_nanos(1_603_300_000));
        // A thread that came and went in between (the ticks say more ran): the ticks.
        let later = reading(2_700, Some(vec![(7, 2_607_300_000)]));
        assert_eq!(later.since(&earlier), Duration::from_millis(1_700));
        // Another set of threads: the ticks.
        let later = reading(2_600, Some(vec![(7, 2_500_000_000), (8, 107_300_000)]));
        assert_eq!(later.since(&earlier), Duration::from_millis(1_600));
        // No finer figure: the ticks.
        let later = reading(2_600, None);
        assert_eq!(later.since(&earlier), Duration::from_millis(1_600));
        assert_eq!(parse_run_time("2607300000 1200 87\n"), Some(2_607_300_000));
        assert_eq!(parse_run_time(""), None);
    }

    #[test]
    fn parses_vm_rss() {
        assert_eq!(parse_vm_rss("Name:\tx\nVmRSS:\t    2048 kB\nThreads: 1\n"), Some(2048 * 1024));
        assert_eq!(parse_vm_rss("Name:\tx\n"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn reads_this_process() {
        let pid = std::process::id();
        assert!(resident_set(pid).unwrap() > 0);
        cpu_time(pid).unwrap();
    }
}
