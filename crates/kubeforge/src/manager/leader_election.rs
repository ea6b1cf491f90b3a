//! Leader election with a `coordination.k8s.io` Lease, as controller-runtime
//! does it: controllers start only once this instance holds the Lease, the
//! manager fails (so the pod restarts as a follower) when the Lease is lost,
//! and the Lease is released at a clean shutdown so a successor can take
//! over at once instead of waiting for it to expire.

use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::pin::{Pin, pin};
use std::time::{Duration, Instant};

use kube::Client;
use kube_lease_manager::LeaseManagerBuilder;
use tracing::{error, info, warn};

use super::controllers::{BoxedController, RunningControllers};
use super::error::error_chain;
use super::http::{Health, Phase};
use super::metrics::ManagerMetrics;
use super::{ManagerArgs, ManagerError};

/// Where Kubernetes mounts the pod's namespace for in-cluster clients.
const SERVICE_ACCOUNT_NAMESPACE_FILE: &str =
    "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

/// Pause between retries after a Lease API error, so an API outage does not
/// turn into a hot loop.
const LEASE_RETRY_BACKOFF: Duration = Duration::from_secs(1);

/// Leader-election settings resolved from the flags; owned so the
/// manager's (non-`Sync`) controller list is not borrowed across awaits.
pub(super) struct LeaderElection {
    lease: String,
    namespace: String,
    duration: u64,
    grace: u64,
    client: Client,
    metrics: ManagerMetrics,
    shutdown_timeout: Duration,
}

impl LeaderElection {
    /// The election for Lease `lease`, with `timing` from [`lease_timing`];
    /// the namespace is --leader-election-namespace, else the pod's own.
    pub(super) fn new(
        lease: &str,
        args: &ManagerArgs,
        (duration, grace): (u64, u64),
        client: &Client,
        metrics: &ManagerMetrics,
    ) -> Self {
        LeaderElection {
            lease: lease.to_owned(),
            namespace: args
                .leader_election_namespace
                .clone()
                .unwrap_or_else(default_leader_election_namespace),
            duration,
            grace,
            client: client.clone(),
            metrics: metrics.clone(),
            shutdown_timeout: args.graceful_shutdown_timeout,
        }
    }

    /// Campaigns for the Lease until `shutdown`, starting `pending` once
    /// leading; then stops the controllers while still renewing, and
    /// releases the Lease unless it was lost.
    pub(super) async fn run<S: Future<Output = ()>>(
        &self,
        shutdown: &mut Pin<&mut S>,
        running: &mut RunningControllers,
        pending: Vec<(String, BoxedController)>,
        health: &Health,
    ) -> Result<(), ManagerError> {
        let (duration, grace) = (self.duration, self.grace);
        let namespace = &self.namespace;
        let identity = leader_identity();
        let lease_error = |source| ManagerError::LeaderElection {
            lease: self.lease.clone(),
            namespace: namespace.clone(),
            source,
        };
        info!(lease = %self.lease, %namespace, %identity, "attempting to acquire leader lease");
        let lease = tokio::select! {
            built = LeaseManagerBuilder::new(self.client.clone(), &self.lease)
                .with_namespace(namespace)
                .with_identity(&identity)
                .with_duration(duration)
                .with_grace(grace)
                .build() => built.map_err(lease_error)?,
            () = shutdown.as_mut() => {
                health.set(Phase::ShuttingDown);
                return Ok(());
            }
        };
        self.metrics.set_leader(&self.lease, false);

        let mut pending = Some(pending);
        let mut leading = false;
        // Start of the current run of renewal errors while leading: past the
        // renew grace the lease may have expired, so we must assume it's lost.
        let mut failing_since: Option<(Instant, Instant)> = None;
        let outcome = loop {
            tokio::select! {
                biased;
                () = shutdown.as_mut() => break Ok(()),
                exit = running.next_exit(), if !running.is_empty() => {
                    if let Err(error) = exit {
                        break Err(error);
                    }
                }
                changed = lease.changed() => match changed {
                    Ok(true) => {
                        info!(lease = %self.lease, %identity, "acquired leadership; starting controllers");
                        leading = true;
                        failing_since = None;
                        self.metrics.set_leader(&self.lease, true);
                        if let Some(controllers) = pending.take() {
                            running.start(controllers, &self.client, &self.metrics);
                        }
                    }
                    Ok(false) => {
                        if leading {
                            break Err(ManagerError::LeadershipLost(self.lease.clone()));
                        }
                    }
                    Err(error) => {
                        warn!(lease = %self.lease, error = %error_chain(&error), "leader election error");
                        if leading {
                            let now = Instant::now();
                            let first = match failing_since {
                                // Errors further apart than a renew interval mean
                                // renewals succeeded in between: a new episode.
                                Some((first, last))
                                    if now.duration_since(last) < Duration::from_secs(duration) => first,
                                _ => now,
                            };
                            failing_since = Some((first, now));
                            if now.duration_since(first) >= Duration::from_secs(grace) {
                                break Err(ManagerError::LeadershipLost(self.lease.clone()));
                            }
                        }
                        tokio::time::sleep(LEASE_RETRY_BACKOFF).await;
                    }
                },
            }
        };

        health.set(Phase::ShuttingDown);
        let lost = matches!(outcome, Err(ManagerError::LeadershipLost(_)));
        if lost {
            error!(lease = %self.lease, "leadership lost; stopping controllers");
        }
        // Keep renewing while controllers drain so the lease cannot expire
        // under them and let a second leader start early.
        let stopped = {
            let stop = running.stop(self.shutdown_timeout);
            let mut stop = pin!(stop);
            loop {
                tokio::select! {
                    stopped = &mut stop => break stopped,
                    changed = lease.changed(), if leading && !lost => {
                        match changed {
                            Ok(now_leading) => leading = now_leading,
                            Err(_) => tokio::time::sleep(LEASE_RETRY_BACKOFF).await,
                        }
                    }
                }
            }
        };
        if !lost {
            match lease.release().await {
                Ok(()) => info!(lease = %self.lease, "released leader lease"),
                Err(error) => {
                    warn!(lease = %self.lease, error = %error_chain(&error), "cannot release leader lease")
                }
            }
        }
        self.metrics.set_leader(&self.lease, false);
        outcome.and(stopped)
    }
}

/// Validates the lease timing flags and converts them to whole seconds, the
/// unit of `Lease.spec.leaseDurationSeconds`.
pub(super) fn lease_timing(args: &ManagerArgs) -> Result<(u64, u64), ManagerError> {
    let duration = args.lease_duration.as_secs();
    if duration < 2 {
        return Err(ManagerError::LeaderElectionConfig(format!(
            "--lease-duration must be at least 2s, got {:?}",
            args.lease_duration
        )));
    }
    let grace = match args.lease_renew_grace {
        Some(grace) => grace.as_secs(),
        None => (duration / 3).max(1),
    };
    if grace == 0 || grace >= duration {
        return Err(ManagerError::LeaderElectionConfig(format!(
            "--lease-renew-grace must be at least 1s and shorter than --lease-duration \
             ({duration}s), got {grace}s"
        )));
    }
    Ok((duration, grace))
}

/// The namespace of the pod we run in, so the Lease lives next to the
/// operator by default (what controller-runtime does in-cluster).
fn default_leader_election_namespace() -> String {
    pod_namespace().unwrap_or_else(|| "default".to_owned())
}

/// The pod's namespace: POD_NAMESPACE, else the in-cluster service-account
/// namespace file; `None` outside a cluster without POD_NAMESPACE.
pub(super) fn pod_namespace() -> Option<String> {
    if let Ok(namespace) = std::env::var("POD_NAMESPACE")
        && !namespace.trim().is_empty()
    {
        return Some(namespace.trim().to_owned());
    }
    if let Ok(namespace) = std::fs::read_to_string(SERVICE_ACCOUNT_NAMESPACE_FILE)
        && !namespace.trim().is_empty()
    {
        return Some(namespace.trim().to_owned());
    }
    None
}

/// `<pod name>_<random>`, like controller-runtime's `<hostname>_<uuid>`: the
/// pod name shows up in the Lease for humans, the suffix keeps a restarted
/// container from inheriting its predecessor's lock.
fn leader_identity() -> String {
    let host = ["POD_NAME", "HOSTNAME"]
        .iter()
        .find_map(|var| std::env::var(var).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "kubeforge".to_owned());
    // RandomState is seeded randomly per process; mixing in the time keeps two
    // managers of one process (tests) distinct too.
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    if let Ok(since_epoch) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        hasher.write_u128(since_epoch.as_nanos());
    }
    format!("{host}_{:016x}", hasher.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_timing_defaults_to_a_third() {
        let args = ManagerArgs {
            leader_elect: true,
            ..ManagerArgs::default()
        };
        assert_eq!(lease_timing(&args).unwrap(), (15, 5));
        let short = ManagerArgs {
            lease_duration: Duration::from_secs(2),
            ..args.clone()
        };
        assert_eq!(lease_timing(&short).unwrap(), (2, 1));
    }

    #[test]
    fn lease_timing_rejects_unusable_values() {
        let args = ManagerArgs::default();
        let too_short = ManagerArgs {
            lease_duration: Duration::from_secs(1),
            ..args.clone()
        };
        assert!(lease_timing(&too_short).is_err());
        let grace_too_long = ManagerArgs {
            lease_renew_grace: Some(Duration::from_secs(15)),
            ..args.clone()
        };
        assert!(lease_timing(&grace_too_long).is_err());
        let zero_grace = ManagerArgs {
            lease_renew_grace: Some(Duration::from_millis(500)),
            ..args
        };
        assert!(lease_timing(&zero_grace).is_err());
    }

    #[test]
    fn identities_are_unique() {
        assert_ne!(leader_identity(), leader_identity());
    }
}
