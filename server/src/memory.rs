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

/// Allocations at least this large get their own mapping, returned on `free`.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: i32 = 128 * 1024;

/// Call once at start, before the runtime's threads exist.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; called before other threads start.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    }
}
