//! The `fincert` binary: parse the command line and hand off. Nothing else lives here.

/// mimalloc: per-request allocations on the signing path cost a tenth of glibc malloc's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    fincert::cli::main()
}
