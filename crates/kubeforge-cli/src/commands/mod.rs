//! One module per subcommand; [`dispatch`] routes to them.

use std::process::ExitCode;

use anyhow::Result;
use clap::CommandFactory as _;

use crate::cli::{Cli, Command, CreateCommand};

pub mod create_api;
pub mod envtest;
pub mod init;
pub mod manifests;
pub mod run;

pub fn dispatch(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Init(args) => init::run(args).map(|()| ExitCode::SUCCESS),
        Command::Create(CreateCommand::Api(args)) => {
            create_api::run(args).map(|()| ExitCode::SUCCESS)
        }
        Command::Manifests(args) => manifests::run(args),
        Command::Envtest(args) => envtest::run(args).map(|()| ExitCode::SUCCESS),
        Command::Run(args) => run::run(args),
        Command::Version => {
            println!(
                "kubeforge {}\nkube 5, k8s-openapi 0.29 (Kubernetes {})",
                crate::vars::KUBEFORGE_VERSION,
                crate::vars::KUBERNETES_VERSION
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Completion { shell } => {
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "kubeforge", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Prints what a plan did, one line a file, in the plan's (sorted) order.
pub fn print_summary(plan: &crate::scaffold::Plan) {
    for (verb, path) in plan.summary() {
        println!("{verb:>8} {}", path.display());
    }
}
