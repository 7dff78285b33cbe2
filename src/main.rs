//! The `dialer` binary: parses the command line and hands over to [`dialer::cli`].

// The API and the engine allocate many small, short-lived values per request (JSON, SQL
// arrays); mimalloc serves those markedly cheaper than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    dialer::cli::main()
}
