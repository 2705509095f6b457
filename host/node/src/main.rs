//! `phr`: the PHR Ledger command. See `phr --help`.

fn main() -> std::process::ExitCode {
    phr_node::cli::main()
}
