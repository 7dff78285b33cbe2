//! The `dialer` binary: parses the command line and hands over to [`dialer::cli`].

fn main() -> std::process::ExitCode {
    dialer::cli::main()
}
