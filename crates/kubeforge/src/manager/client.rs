//! Where the manager's client configuration comes from: `--kubeconfig` or, as kubectl and
//! controller-runtime do, from `KUBECONFIG`, `~/.kube/config` or the pod's
//! service account.

use std::path::Path;

use kube::config::{Config, KubeConfigOptions, Kubeconfig};

use super::ManagerError;

/// The client configuration from `kubeconfig`, or inferred without one.
pub(super) async fn load_config(kubeconfig: Option<&Path>) -> Result<Config, ManagerError> {
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
