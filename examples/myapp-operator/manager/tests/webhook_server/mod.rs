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
//!
//! A test binary starts one control plane and one webhook server, not one
//! per test: starting etcd and kube-apiserver takes seconds, the webhooks
//! keep no state between requests, and webhook configurations are
//! cluster-scoped, so the binary's tests could not each have their own
//! anyway. Each test works in a namespace of its own (`env.namespace()`),
//! which `stop()` deletes; cluster-scoped objects are shared, so give them
//! names no other test of the binary uses. A test that needs a control plane
//! to itself (to restart the API server, say) starts a private one with
//! `Environment::builder()...start()` and its own manager.

use std::path::Path;

use anyhow::Context as _;
use kubeforge::kube;
use kubeforge::manager::{Manager, ManagerArgs};
use kubeforge_envtest::Environment;

use myapp_manager::webhook;

/// The shared control plane, with the webhooks served.
pub struct Running {
    /// This test's handle: its own client and namespace.
    pub env: Environment,
}

/// Connects to the binary's control plane and starts the webhook server if no
/// test did yet; the API server calls the webhooks as soon as this returns.
pub async fn start() -> anyhow::Result<Running> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let env = Environment::builder()
        // The CRDs as the code defines them: what `kubeforge manifests` writes
        // to config/crd/bases, so this passes before the first `make manifests`
        // (`make lint` fails if those files drift from the code).
        .crds(kubeforge::manifests::all_crds()?)
        .webhook_dir(root.join("config/webhook"))
        .start_shared()
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
    let config = env.config();
    // The first test starts the manager; the others wait until it serves. It
    // runs for the rest of the binary on a thread of its own: each test's
    // runtime ends with the test.
    kubeforge_envtest::once_per_process("webhook-server", move |ready| async move {
        let client = kube::Client::try_from(config)?;
        let mut manager = Manager::with_client(args, "myapp.example.com", client)?;
        manager.add_webhooks(webhook::register);
        manager.bind().await?;
        ready.ready();
        manager.run_until(std::future::pending()).await?;
        Ok(())
    })
    .await?;
    Ok(Running { env })
}

impl Running {
    /// Deletes the test's namespace with everything in it. The control plane
    /// and the webhook server keep running for the binary's other tests and
    /// stop when it exits.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.env.stop().await;
        Ok(())
    }
}
