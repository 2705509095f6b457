//! `phr`: the PHR Ledger command. See `phr --help`.

// The node allocates and frees many small buffers per transaction across many
// threads; mimalloc does that with fewer locks and page faults than glibc's
// per-thread arenas (measured in the 3-node benchmark).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    phr_node::cli::main()
}
