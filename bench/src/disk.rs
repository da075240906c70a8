//! The disk under the servers' data, measured alone: how long `fdatasync` of a small append
//! takes at the steady rate. Renraku waits for one before it acknowledges or broadcasts an
//! update (its group commit may share one among several); y-websocket and y-sweet wait for
//! none. So this is the floor under Renraku's fan-out latency on this machine, and the
//! report puts it beside the p99 it compares with y-sweet's.

use crate::stats::{percentiles, Percentiles};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

/// A 4 KiB append and its `fdatasync`, `count` times at `rate` per second, in a file in
/// `dir` (deleted after). SQLite appends a WAL frame of one page per commit and syncs it.
pub fn sync_latency(dir: &Path, rate: f64, count: usize) -> std::io::Result<Percentiles> {
    let file = tempfile::NamedTempFile::new_in(dir)?;
    let mut f = file.as_file();
    let page = [0x5au8; 4096];
    let every = Duration::from_secs_f64(1.0 / rate);
    let start = Instant::now();
    let mut took = Vec::with_capacity(count);
    for i in 0..count {
        // Paced from the start, not from the last sync: a slow sync does not slow the rate.
        let due = start + every * i as u32;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        f.write_all(&page)?;
        let t0 = Instant::now();
        f.sync_data()?;
        took.push(t0.elapsed().as_nanos() as u64);
    }
    Ok(percentiles(took))
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_sync_is_counted() {
        let dir = tempfile::tempdir().unwrap();
        let p = super::sync_latency(dir.path(), 1_000.0, 20).unwrap();
        assert_eq!(p.count, 20);
        assert!(p.p50_ms <= p.p99_ms && p.p99_ms <= p.max_ms);
        // The file is gone.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
