//! The disk under the servers' data, measured alone: how long `fdatasync` of a small append
//! takes at the steady rate, and how much CPU it costs. Renraku waits for one before it
//! acknowledges or broadcasts an update (its group commit may share one among several);
//! y-websocket and y-sweet wait for none. So these are floors under Renraku's fan-out
//! latency and its CPU per update on this machine, and the report puts them beside the p99
//! and the CPU it compares with the others'.

use crate::stats::{percentiles, Percentiles};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

/// What the probe found.
#[derive(Debug, Clone, Copy)]
pub struct DiskSync {
    pub latency: Percentiles,
    /// CPU time per `fdatasync` (user and system, the kernel's work for it and the thread's
    /// wakes after its waits for the disk): the probe's CPU with the syncs less its CPU for
    /// the same appends at the same pace without them.
    pub cpu_us: f64,
}

/// A 4 KiB append and its `fdatasync`, `count` times at `rate` per second, in a file in
/// `dir` (deleted after); then the same appends without the syncs, for their CPU. SQLite
/// appends a WAL frame of one page per commit and syncs it.
pub fn probe(dir: &Path, rate: f64, count: usize) -> std::io::Result<DiskSync> {
    let (took, with) = appends(dir, rate, count, true)?;
    let (_, without) = appends(dir, rate, count, false)?;
    Ok(DiskSync {
        latency: percentiles(took),
        cpu_us: with.saturating_sub(without).as_secs_f64() * 1e6 / count.max(1) as f64,
    })
}

/// The appends, paced; each sync's time when `sync`, and the thread's CPU time for all.
fn appends(
    dir: &Path,
    rate: f64,
    count: usize,
    sync: bool,
) -> std::io::Result<(Vec<u64>, Duration)> {
    let file = tempfile::NamedTempFile::new_in(dir)?;
    let mut f = file.as_file();
    let page = [0x5au8; 4096];
    let every = Duration::from_secs_f64(1.0 / rate);
    let mut took = Vec::with_capacity(count);
    let cpu0 = thread_cpu();
    let start = Instant::now();
    for i in 0..count {
        // Paced from the start, not from the last sync: a slow sync does not slow the rate.
        let due = start + every * i as u32;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        f.write_all(&page)?;
        if sync {
            let t0 = Instant::now();
            f.sync_data()?;
            took.push(t0.elapsed().as_nanos() as u64);
        }
    }
    Ok((took, thread_cpu().saturating_sub(cpu0)))
}

/// The calling thread's CPU time so far.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the struct passed by reference.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_sync_is_counted_and_costs_some_cpu() {
        let dir = tempfile::tempdir().unwrap();
        let d = super::probe(dir.path(), 1_000.0, 20).unwrap();
        assert_eq!(d.latency.count, 20);
        assert!(d.latency.p50_ms <= d.latency.p99_ms && d.latency.p99_ms <= d.latency.max_ms);
        assert!(d.cpu_us >= 0.0 && d.cpu_us.is_finite());
        // The files are gone.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
