//! The `kubeforge` command. All the work is in the library so tests can
//! drive it in-process; main only turns an error into one line and an exit code.

use std::process::ExitCode;

fn main() -> ExitCode {
    match kubeforge_cli::run(std::env::args_os()) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {}", kubeforge_cli::one_line(&err));
            ExitCode::FAILURE
        }
    }
}
