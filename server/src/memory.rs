//! How the process returns memory to the system (glibc's allocator).
//!
//! glibc serves allocations of 128 KiB and more with their own `mmap` and gives them back
//! on `free` — but only until the first such block is freed: from then on the threshold
//! rises to that block's size (and the trim threshold to twice it). One Argon2 password
//! hash frees a 19 MiB block, so after the first sign-in every allocation under 19 MiB —
//! upload buffers, decoded thumbnails, step-1 encodings — comes from the per-thread
//! arenas, and each arena keeps up to 38 MiB it no longer uses. With a worker thread per
//! core plus the blocking pool, a server under attack (refused uploads, slow readers) held
//! hundreds of MiB of freed memory. Fixing the threshold turns that adjustment off, so big
//! buffers go back to the system when they are freed.
//!
//! glibc also gives threads arenas of their own, up to eight per core, and the server has
//! many threads besides the runtime's workers: one per pooled SQLite connection, the
//! blocking pool. A row a SQLite thread decodes is freed on a worker; a connection's buffers
//! are allocated by whichever thread ran its task. Each arena keeps its own free lists, so
//! the memory freed in one is not reused by allocations in another, and thousands of
//! long-lived small objects spread over a dozen arenas leave a dozen half-empty heaps. One
//! arena per core (as many as the runtime has workers) held 5,000 idle WebSockets in about
//! 0.6 KiB less each (bench/HISTORY.md), with no change in latency under load: the
//! per-thread caches in front of the arenas serve the small allocations that dominate.

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
