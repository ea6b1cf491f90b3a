//! kubeforge's CLI as a library: [`run`] takes the command line and does the
//! work; `main.rs` only reports. See ARCHITECTURE.md for the map.

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser as _;

pub mod builtin_kinds;
pub mod cargo_bin;
pub mod cargo_generate;
pub mod chart;
pub mod cli;
pub mod commands;
pub mod paths;
pub mod project;
pub mod regenerate;
pub mod scaffold;
pub mod source_watch;

/// The kubeforge version generated projects depend on by default.
pub const KUBEFORGE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The Kubernetes version kubeforge targets: k8s-openapi's feature and the
/// control plane kubeforge-envtest runs.
pub const KUBERNETES_VERSION: &str = "1.37.2";

/// The naming rules live in kubeforge-codegen, shared with the macros.
pub use kubeforge_codegen::names;

/// Parses the arguments and runs the command. `Ok` carries the exit code for
/// commands that report a status (e.g. `manifests --check`); `Err` is a
/// failure to print as one line.
pub fn run<I, T>(args: I) -> anyhow::Result<ExitCode>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match cli::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => {
            // Help and version go to stdout with success; usage errors are
            // clap's own clear message.
            let _ = err.print();
            return Ok(if err.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            });
        }
    };
    commands::dispatch(cli)
}

/// An error and its causes on one line, the way users see it.
pub fn one_line(err: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    parts.join(": ").replace('\n', " ")
}
