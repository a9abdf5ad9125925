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
    // SAFETY: sysconf takes no pointers and has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let per_second = u64::try_from(per_second)
        .ok()
        .filter(|&per_second| per_second > 0)
        .ok_or_else(io::Error::last_os_error)?;
    Ok(Duration::from_nanos(ticks.saturating_mul(1_000_000_000) / per_second))
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
