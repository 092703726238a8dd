//! The `sanbao` command: see `sanbao --help` and SPEC §5.

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(sanbao::cli::main_with_args(std::env::args_os()))
}
