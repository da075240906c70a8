//! What the kernel says about a process: CPU time from `/proc/<pid>/stat`, resident memory
//! from `/proc/<pid>/status`; the file-descriptor limit; and a sampler of peak memory.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Clock ticks per second, for the CPU times in `/proc/<pid>/stat`.
fn ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a constant.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// User + system CPU seconds used so far by `pid` (its threads included).
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of stat (utime, stime) are 11 and 12 after the state field (3).
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / ticks_per_second())
}

/// Resident set size in KiB (`VmRSS`).
pub fn rss_kib(pid: u32) -> Option<u64> {
    status_kib(pid, "VmRSS:")
}

/// Resident memory split as the kernel counts it: (anonymous, file-backed) KiB — heap and
/// stacks, then mapped files (the binary, and SQLite's pages when it maps its file).
pub fn rss_split_kib(pid: u32) -> Option<(u64, u64)> {
    Some((status_kib(pid, "RssAnon:")?, status_kib(pid, "RssFile:")?))
}

fn status_kib(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    line[key.len()..].split_whitespace().next()?.parse().ok()
}

/// Parent pid of `pid`.
fn ppid(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// Every live descendant of `root`.
pub fn descendants(root: u32) -> Vec<u32> {
    let mut all: Vec<(u32, u32)> = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            if let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) {
                if let Some(parent) = ppid(pid) {
                    all.push((pid, parent));
                }
            }
        }
    }
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let p = found[i];
        found.extend(all.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    found.remove(0);
    found
}

pub fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

/// Raises the soft open-files limit to the hard limit; children inherit it. Returns it.
pub fn raise_nofile_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls on a local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 1024;
        }
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
    }
    lim.rlim_cur
}

/// Sends SIGKILL to a whole process group (one we started with `process_group(0)`).
pub fn kill_group(pgid: u32) {
    // SAFETY: kill(2) with a negative pid names the group; failure (already gone) is fine.
    unsafe {
        libc::kill(-(pgid as i32), libc::SIGKILL);
    }
}

/// CPU and memory of one process over a measured window.
pub struct Meter {
    pid: u32,
    cpu0: f64,
    t0: Instant,
    peak_kib: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

/// What a `Meter` saw.
#[derive(Clone, Copy, Debug, Default)]
pub struct Usage {
    /// Share of one core, in percent.
    pub cpu_percent: f64,
    /// CPU time used, user + system.
    pub cpu_secs: f64,
    pub rss_end_mib: f64,
    pub rss_peak_mib: f64,
}

impl Meter {
    /// Starts measuring `pid`; peak RSS is sampled every 50 ms.
    pub fn start(pid: u32) -> Meter {
        let peak_kib = Arc::new(AtomicU64::new(rss_kib(pid).unwrap_or(0)));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (peak_kib.clone(), stop.clone());
        tokio::spawn(async move {
            while !s.load(Ordering::Relaxed) {
                if let Some(kib) = rss_kib(pid) {
                    p.fetch_max(kib, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        Meter {
            pid,
            cpu0: cpu_seconds(pid).unwrap_or(0.0),
            t0: Instant::now(),
            peak_kib,
            stop,
        }
    }

    pub fn finish(self) -> Usage {
        self.stop.store(true, Ordering::Relaxed);
        let elapsed = self.t0.elapsed().as_secs_f64().max(1e-9);
        let cpu = cpu_seconds(self.pid).unwrap_or(self.cpu0) - self.cpu0;
        let end = rss_kib(self.pid).unwrap_or(0);
        let peak = self.peak_kib.load(Ordering::Relaxed).max(end);
        Usage {
            cpu_percent: 100.0 * cpu / elapsed,
            cpu_secs: cpu,
            rss_end_mib: end as f64 / 1024.0,
            rss_peak_mib: peak as f64 / 1024.0,
        }
    }
}

/// The machine, for the report's header.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU".to_owned(), |(_, m)| m.trim().to_owned());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_gib = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kib| kib.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0 / 1024.0);
    format!("{cores} cores (nproc), {mem_gib:.1} GiB RAM, {model}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_its_own_process() {
        let me = std::process::id();
        assert!(cpu_seconds(me).is_some());
        assert!(rss_kib(me).unwrap() > 0);
        assert!(cmdline(me).contains("renraku_bench"));
    }
}
