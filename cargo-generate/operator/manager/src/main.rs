{{ license_header }}//! The {{ project_name }} operator's manager: parses flags, then runs every
//! controller under kubeforge's manager, which serves /healthz, /readyz and
//! /metrics, takes part in leader election when asked, and shuts down
//! cleanly on SIGTERM or Ctrl-C.

use clap::Parser;
use kubeforge::manager::{Manager, ManagerArgs};

use {{ manager_lib }}::controller;
// +kubeforge:scaffold:imports

/// Command-line flags. Add your own next to the manager's.
#[derive(Debug, Parser)]
#[command(version, about = "The {{ project_name }} operator")]
struct Cli {
    #[command(flatten)]
    manager: ManagerArgs,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // tokio's multi-threaded runtime, started after kubeforge limits the
    // allocator to one arena: an operator's memory stays small at thousands
    // of objects (see kubeforge's docs/memory.md).
    kubeforge::manager::runtime()?.block_on(run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut manager = Manager::new(cli.manager, "{{ leader_election_id }}").await?;
    manager.add_controller("{{ controller_name }}", controller::{{ controller_module }}::run);
    // +kubeforge:scaffold:controllers
    // +kubeforge:scaffold:webhooks
    manager.run().await?;
    Ok(())
}
