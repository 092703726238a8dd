//! The `sanbao` command: see `sanbao --help` and SPEC §5.

/// mimalloc instead of glibc's allocator (BENCHMARKS.md: allocation was ~8 % of the
/// HTTP server's CPU).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    sanbao::no_huge_pages();
    std::process::ExitCode::from(sanbao::cli::main_with_args(std::env::args_os()))
}
