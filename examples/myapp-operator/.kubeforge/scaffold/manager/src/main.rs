// Copyright the project authors.
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
//     http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.

//! The myapp operator's manager: parses flags, then runs every
//! controller under kubeforge's manager, which serves /healthz, /readyz and
//! /metrics, takes part in leader election when asked, and shuts down
//! cleanly on SIGTERM or Ctrl-C.

use clap::Parser;
use kubeforge::manager::{Manager, ManagerArgs};

use myapp_manager::controller;
use myapp_manager::webhook;
// +kubeforge:scaffold:imports

/// Command-line flags. Add your own next to the manager's.
#[derive(Debug, Parser)]
#[command(version, about = "The myapp operator")]
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
    let mut manager = Manager::new(cli.manager, "myapp.example.com").await?;
    manager.add_controller("my_app", controller::my_app::run);
    // +kubeforge:scaffold:controllers
    manager.add_webhooks(webhook::register);
    // What kustomize's namePrefix calls the webhook Service and configurations,
    // for --webhook-cert-mode=self-managed (config/selfmanaged-certs).
    manager.webhook_name_prefix("myapp-");
    // +kubeforge:scaffold:webhooks
    manager.run().await?;
    Ok(())
}
