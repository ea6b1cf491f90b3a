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

//! Two replicas of the manager with `--leader-elect`: only the holder of the
//! Lease reconciles, and the other takes over when it stops. Each manager's
//! /metrics tells whether it leads and how many reconciles it ran.

mod common;

use std::net::SocketAddr;

use common::{Cluster, RunningManager, eventually, manager_args, project_root};
use kubeforge::k8s_openapi::api::apps::v1::Deployment;
use kubeforge::k8s_openapi::api::coordination::v1::Lease;
use kubeforge::kube::Api;
use kubeforge::manager::{Manager, ManagerArgs};
use std::time::Duration;

/// The Lease's name: the id main.rs passes to the manager.
const LEASE: &str = "myapp.example.com";
/// Where the Lease lives: the operator's namespace, as deployed.
const NAMESPACE: &str = "myapp-system";

const LEADING: &str = r#"leader_election_master_status{name="myapp.example.com"}"#;
const RECONCILES: &str =
    r#"controller_runtime_reconcile_total{controller="my_app",result="success"}"#;

/// The value of one sample in a manager's /metrics, if present. A plain
/// blocking HTTP/1.1 GET: not worth an HTTP client dependency.
async fn sample(addr: SocketAddr, series: &'static str) -> anyhow::Result<Option<f64>> {
    use std::io::{Read as _, Write as _};
    let response = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(addr)?;
        let request = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes())?;
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        std::io::Result::Ok(response)
    })
    .await??;
    Ok(response.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.trim();
        value.parse().ok()
    }))
}

/// Starts a manager that takes part in leader election, and returns it with
/// its metrics address.
async fn start_replica(
    cluster: &Cluster,
    args: &ManagerArgs,
) -> anyhow::Result<(RunningManager, SocketAddr)> {
    let mut manager = Manager::with_client(args.clone(), LEASE, cluster.operator.clone())?;
    manager.bind().await?;
    let metrics = manager
        .metrics_addr()
        .ok_or_else(|| anyhow::anyhow!("metrics are enabled"))?;
    Ok((RunningManager::spawn(manager), metrics))
}

#[tokio::test]
async fn only_the_leader_reconciles_and_a_follower_takes_over() -> anyhow::Result<()> {
    let mut cluster = Cluster::start_private().await?;
    // The Lease permissions ship in their own Role, written for kustomize's
    // placeholder namespace `system`; envtest puts it in the operator's
    // namespace, as a deployment does.
    cluster.operator = cluster
        .env
        .service_account_client(
            NAMESPACE,
            "controller-manager",
            &project_root().join("config/rbac/leader_election_role.yaml"),
        )
        .await?;
    let args = ManagerArgs {
        metrics_bind_address: "127.0.0.1:0".into(),
        // Read over plain HTTP by this test; serving metrics securely is the
        // kubeforge crate's to test.
        metrics_secure: false,
        leader_elect: true,
        leader_election_namespace: Some(NAMESPACE.into()),
        lease_duration: Duration::from_secs(3),
        lease_renew_grace: Some(Duration::from_secs(1)),
        ..manager_args()
    };
    let deployments = cluster.api::<Deployment>();

    let (first, first_metrics) = start_replica(&cluster, &args).await?;
    eventually("the first replica to lead", || async {
        Ok((sample(first_metrics, LEADING).await? == Some(1.0)).then_some(()))
    })
    .await?;
    cluster
        .create_app("one", serde_json::json!({ "image": "nginx:1.27" }))
        .await?;
    eventually("the leader to reconcile", || async {
        Ok(deployments.get_opt("one").await?)
    })
    .await?;

    let (second, second_metrics) = start_replica(&cluster, &args).await?;
    eventually("the second replica to follow", || async {
        Ok((sample(second_metrics, LEADING).await? == Some(0.0)).then_some(()))
    })
    .await?;
    // Let the leader renew the Lease twice while the follower competes: a
    // follower that wrongly took over would have reconciled by then.
    let leases: Api<Lease> = Api::namespaced(cluster.admin.clone(), NAMESPACE);
    let renew_time = || async {
        let lease = leases.get(LEASE).await?;
        anyhow::Ok(lease.spec.and_then(|s| s.renew_time))
    };
    for _ in 0..2 {
        let last = renew_time().await?;
        eventually("a Lease renewal", || async {
            Ok((renew_time().await? != last).then_some(()))
        })
        .await?;
    }
    assert_eq!(
        sample(second_metrics, RECONCILES).await?,
        None,
        "the follower reconciled"
    );
    assert_eq!(sample(first_metrics, LEADING).await?, Some(1.0));

    first.stop().await?;
    eventually("the second replica to take over", || async {
        Ok((sample(second_metrics, LEADING).await? == Some(1.0)).then_some(()))
    })
    .await?;
    cluster
        .create_app("two", serde_json::json!({ "image": "nginx:1.27" }))
        .await?;
    eventually("the new leader to reconcile", || async {
        Ok(deployments.get_opt("two").await?)
    })
    .await?;
    assert!(
        sample(second_metrics, RECONCILES)
            .await?
            .is_some_and(|n| n > 0.0)
    );

    second.stop().await?;
    cluster.env.stop().await;
    Ok(())
}
