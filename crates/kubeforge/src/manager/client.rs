//! The manager's Kubernetes client, from `--kubeconfig` or, as kubectl and
//! controller-runtime do, from `KUBECONFIG`, `~/.kube/config` or the pod's
//! service account.

use std::path::Path;

use kube::Client;
use kube::config::{Config, KubeConfigOptions, Kubeconfig};

use super::ManagerError;

/// Builds the client; an explicit `kubeconfig` path must load, otherwise the
/// configuration is inferred.
pub(super) async fn build_client(kubeconfig: Option<&Path>) -> Result<Client, ManagerError> {
    let config = match kubeconfig {
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
    };
    Client::try_from(config).map_err(ManagerError::Client)
}
