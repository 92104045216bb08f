//! The `fincert` binary: parse the command line and hand off. Nothing else lives here.

fn main() -> std::process::ExitCode {
    fincert::cli::main()
}
