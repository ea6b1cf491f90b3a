//! The manager's Kubernetes client, from `--kubeconfig` or, as kubectl and
//! controller-runtime do, from `KUBECONFIG`, `~/.kube/config` or the pod's
//! service account.

use std::path::Path;

use kube::Client;
use kube::config::{Config, KubeConfigOptions, Kubeconfig};

use super::{LimitArgs, ManagerError};

/// Builds the client with the client-side rate limit of `limits`
/// (`--kube-api-qps`, `--kube-api-burst`); an explicit `kubeconfig` path
/// must load, otherwise the configuration is inferred.
pub(super) async fn build_limited_client(
    kubeconfig: Option<&Path>,
    limits: &LimitArgs,
) -> Result<Client, ManagerError> {
    limits.client(load_config(kubeconfig).await?)
}

/// The client configuration from `kubeconfig`, or inferred without one.
async fn load_config(kubeconfig: Option<&Path>) -> Result<Config, ManagerError> {
    Ok(match kubeconfig {
        Some(path) => {
            let kubeconfig_error = |source| ManagerError::Kubeconfig {
                path: path.to_owned(),
                source,
            };
            let kubeconfig = Kubeconfig::read_from(path).map_err(kubeconfig_error)?;
            Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
                .await
                .map_err(kubeconfig_error)?
        }
        None => Config::infer().await.map_err(ManagerError::InferConfig)?,
    })
}
