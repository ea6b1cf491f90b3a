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

//! Shared by the webhook tests: a control plane with the project's CRDs and
//! webhook configurations (config/crd/bases, config/webhook, as `kubeforge
//! manifests` writes them), and the manager serving every webhook to it over
//! TLS with a certificate the control plane trusts.

use std::path::Path;

use anyhow::Context as _;
use kubeforge::manager::{Manager, ManagerArgs, ManagerError};
use kubeforge_envtest::Environment;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use myapp_manager::webhook;

/// The control plane and the manager serving the webhooks.
pub struct Running {
    pub env: Environment,
    stop: oneshot::Sender<()>,
    manager: JoinHandle<Result<(), ManagerError>>,
}

/// Starts both; the API server calls the webhooks as soon as this returns.
pub async fn start() -> anyhow::Result<Running> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let env = Environment::builder()
        .crd_dir(root.join("config/crd/bases"))
        .webhook_dir(root.join("config/webhook"))
        .start()
        .await?;
    let server = env
        .webhook_server()
        .context("config/webhook has no webhook configurations: run `make manifests`")?;
    let args = ManagerArgs {
        metrics_bind_address: "0".into(),
        health_probe_bind_address: "0".into(),
        webhook_port: server.port(),
        webhook_cert_path: server.cert_dir().to_path_buf(),
        ..ManagerArgs::default()
    };
    let mut manager = Manager::with_client(args, "myapp.example.com", env.client())?;
    manager.add_webhooks(webhook::register);
    manager.bind().await?;
    let (stop, stopped) = oneshot::channel::<()>();
    let manager = tokio::spawn(manager.run_until(async {
        let _ = stopped.await;
    }));
    Ok(Running { env, stop, manager })
}

impl Running {
    /// Stops the manager, then the control plane.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.manager.await??;
        self.env.stop().await;
        Ok(())
    }
}
