/// Rust's allocations; see `memory.rs` for why not glibc's.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> anyhow::Result<()> {
    // Before any thread exists: see `memory.rs` for why.
    renraku_server::memory::tune_allocator();
    renraku_server::init_tracing();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(renraku_server::run_cli())
}
