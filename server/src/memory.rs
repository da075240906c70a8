//! How the process allocates memory, and gives it back.
//!
//! The `renraku` binary's Rust allocations go to jemalloc (the `#[global_allocator]` in
//! `main.rs`; tests that run the server in-process keep the system's). With glibc's
//! allocator, a row a SQLite thread decodes is freed on a runtime worker and a connection's
//! buffers are allocated by whichever thread ran its task; the arenas those frees return to
//! are locked, and with one arena per core (below) the runtime's workers, sqlx's SQLite
//! worker and the log thread queued on those locks — about three `futex` calls per update
//! at a steady 200 updates/s. jemalloc's per-thread caches and its own arenas take the same
//! load with ~8 % less CPU per update and the same memory per idle connection (7.5 KiB;
//! bench/HISTORY.md, "The allocator").
//!
//! glibc still serves what C code allocates: SQLite, whose values (a room's whole document,
//! megabytes, when it is loaded) are copied by sqlx's worker and freed on a runtime worker.
//! glibc serves allocations of 128 KiB and more with their own `mmap` and gives them back
//! on `free` — but only until the first such block is freed: from then on the threshold
//! rises to that block's size (and the trim threshold to twice it), and every smaller block
//! stays in an arena after it is freed. Fixing the threshold turns that adjustment off, so
//! big buffers go back to the system when they are freed. glibc also gives threads arenas
//! of their own, up to eight per core; one per core keeps the dozen SQLite threads' freed
//! memory in a few heaps instead of a dozen half-empty ones.

/// Allocations at least this large get their own mapping, returned on `free`.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: i32 = 128 * 1024;

/// Call once at start, before the runtime's threads exist.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let arenas = i32::try_from(cores).unwrap_or(i32::MAX);
        // SAFETY: mallopt only sets allocator parameters; called before other threads start.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
            // An operator's own setting wins.
            if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
                libc::mallopt(libc::M_ARENA_MAX, arenas);
            }
        }
    }
}
