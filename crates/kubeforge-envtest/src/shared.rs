//! One control plane per test process, shared by every test that asks for it
//! ([`EnvironmentBuilder::start_shared`](crate::EnvironmentBuilder::start_shared)), with a
//! namespace per test.
//!
//! Starting etcd and kube-apiserver costs seconds; a test binary with a dozen tests should
//! pay that once. What is shared is the *processes* (and their data dir, certificates and
//! kubeconfig), never a `kube::Client`: each `#[tokio::test]` has its own runtime and a
//! client is bound to the runtime that built it, so every handle builds its own client from
//! the shared configuration.
//!
//! The plane is started once, from a dedicated thread with its own runtime, so no test's
//! runtime (which ends with its test) owns anything the plane needs. Its processes are
//! forked by `process`'s long-lived spawner thread, so they outlive the test that started
//! them. At process exit an `atexit` handler stops them and removes the data dir; the
//! kernel's `PR_SET_PDEATHSIG` kills them if the process dies without exiting (SIGKILL).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{
    Api, DeleteParams, DynamicObject, ListParams, ObjectMeta, Patch, PatchParams, PostParams,
};
use kube::discovery::{Discovery, Scope, verbs};

use crate::Error;
use crate::assets::{self, Assets};
use crate::control_plane::{self, ControlPlane};
use crate::environment::{self, ProcessIds};
use crate::kubeconfig::AdminKubeconfig;
use crate::webhooks::WebhookServer;

/// The running shared control plane. Lives in a static for the rest of the process.
pub(crate) struct SharedPlane {
    pub(crate) admin: Arc<AdminKubeconfig>,
    pub(crate) server: String,
    pub(crate) pids: ProcessIds,
    pub(crate) data_dir: PathBuf,
    /// Taken and dropped (processes stopped, data dir removed) by the `atexit` handler.
    plane: Mutex<Option<ControlPlane>>,
    /// One webhook server (CA, certificate, port) for every handle that asks for webhooks:
    /// webhook configurations are cluster-scoped, so two tests cannot each have their own.
    /// Its directory is inside the data dir, so it goes with it at exit.
    webhook: Mutex<Option<Arc<WebhookServer>>>,
    /// Every CRD any handle asked to convert through the webhook server, so a later apply
    /// of the same CRD by a handle that did not ask keeps converting.
    conversion_crds: Mutex<Vec<String>>,
}

/// The shared plane, or why it could not start (kept, so that the other tests of the binary
/// fail at once instead of each waiting for a start that fails the same way).
static SHARED: OnceLock<Result<SharedPlane, String>> = OnceLock::new();

/// The shared plane, started on first use with `assets` (found or downloaded when `None`)
/// and its data dir in `parent`; later callers' `assets` and `parent` are ignored.
pub(crate) async fn get(
    assets: Option<Assets>,
    parent: Option<PathBuf>,
) -> Result<&'static SharedPlane, Error> {
    // Waiting for another test's start blocks; keep that off this test's runtime.
    let shared = tokio::task::spawn_blocking(move || {
        SHARED.get_or_init(|| start_on_own_thread(assets, parent))
    })
    .await
    .map_err(|e| Error::Start(format!("starting the shared control plane failed: {e}")))?;
    shared.as_ref().map_err(|message| {
        Error::Start(format!(
            "the shared control plane of this test process did not start: {message}"
        ))
    })
}

impl SharedPlane {
    /// The shared webhook server, created by the first handle that asks for one.
    pub(crate) fn webhook_server(&self) -> Result<Arc<WebhookServer>, Error> {
        let mut slot = self.webhook.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(server) = slot.as_ref() {
            return Ok(server.clone());
        }
        let server = Arc::new(WebhookServer::create(Some(&self.data_dir))?);
        *slot = Some(server.clone());
        Ok(server)
    }

    /// The webhook server if some handle created it.
    pub(crate) fn existing_webhook_server(&self) -> Option<Arc<WebhookServer>> {
        self.webhook
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Adds `names` to the CRDs converted through the webhook server; returns all of them.
    pub(crate) fn add_conversion_crds(&self, names: &[String]) -> Vec<String> {
        let mut all = self
            .conversion_crds
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for name in names {
            if !all.contains(name) {
                all.push(name.clone());
            }
        }
        all.clone()
    }
}

/// Starts the plane on a thread of its own, with a runtime of its own, and registers the
/// `atexit` handler that stops it. The error is kept as text: [`Error`] is not `Clone`.
fn start_on_own_thread(
    assets: Option<Assets>,
    parent: Option<PathBuf>,
) -> Result<SharedPlane, String> {
    let thread = std::thread::Builder::new()
        .name("kubeforge-envtest-shared".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("building its runtime: {e}"))?;
            runtime
                .block_on(start(assets, parent))
                .map_err(|e| e.to_string())
        })
        .map_err(|e| format!("spawning its thread: {e}"))?;
    let shared = thread
        .join()
        .map_err(|_| "the thread starting it panicked".to_string())??;
    if !register_exit_handler() {
        tracing::warn!(
            "could not register the atexit handler; the shared control plane's data dir {} will be left behind",
            shared.data_dir.display()
        );
    }
    Ok(shared)
}

async fn start(assets: Option<Assets>, parent: Option<PathBuf>) -> Result<SharedPlane, Error> {
    let began = std::time::Instant::now();
    let assets = match assets {
        Some(a) => a,
        None => assets::find_or_download().await?,
    };
    let launched =
        control_plane::retry_start(|| environment::launch(&assets, parent.as_deref())).await?;
    // The admin client of the launch belongs to this thread's runtime, which ends now.
    drop(launched.client);
    let plane = launched.plane;
    tracing::info!(
        elapsed_ms = began.elapsed().as_millis() as u64,
        url = %plane.server_url(),
        "envtest shared control plane ready"
    );
    Ok(SharedPlane {
        admin: Arc::new(launched.admin),
        server: plane.server_url().to_owned(),
        pids: plane.pids(),
        data_dir: plane.data_dir().to_owned(),
        plane: Mutex::new(Some(plane)),
        webhook: Mutex::new(None),
        conversion_crds: Mutex::new(Vec::new()),
    })
}

/// Registers [`stop_at_exit`]. The Rust test harness ends with `std::process::exit` (or by
/// returning from `main`); both run `atexit` handlers, and statics are never dropped, so
/// this is the one hook that runs after the last test.
#[allow(unsafe_code)]
fn register_exit_handler() -> bool {
    // SAFETY: atexit only stores the function pointer; `stop_at_exit` takes no arguments,
    // never unwinds across the FFI boundary (it catches panics) and touches only statics.
    unsafe { libc::atexit(stop_at_exit) == 0 }
}

/// Stops the shared plane's processes (kube-apiserver SIGKILL, etcd SIGTERM then SIGKILL,
/// both reaped) and removes its data dir, webhook certificates included.
extern "C" fn stop_at_exit() {
    let _ = std::panic::catch_unwind(|| {
        if let Some(Ok(shared)) = SHARED.get() {
            let plane = shared
                .plane
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            drop(plane);
        }
    });
}

/// A namespace name unique in this process: `test-<n>-<test name>-<random>`, the test name
/// (libtest names each test's thread after it) making leftovers easy to attribute.
pub(crate) fn unique_namespace_name() -> String {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed) + 1;
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let test = std::thread::current()
        .name()
        .filter(|name| *name != "main")
        .map(|name| name.rsplit("::").next().unwrap_or(name).to_owned())
        .unwrap_or_default();
    let mut label: String = test
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    // A DNS label has at most 63 characters; keep room for the counter and the suffix.
    label.truncate(30);
    let label = label.trim_matches('-');
    let random = format!("{:05x}", random & 0xf_ffff);
    if label.is_empty() {
        format!("test-{n}-{random}")
    } else {
        format!("test-{n}-{label}-{random}")
    }
}

/// Creates the namespace `name`.
pub(crate) async fn create_namespace(client: &kube::Client, name: &str) -> Result<(), Error> {
    let namespace = Namespace {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some([("kubeforge.dev/envtest".to_string(), "test".to_string())].into()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await
        .map(|_| ())
        .map_err(|e| Error::kube(format!("creating namespace {name}"), e))
}

/// Deletes the namespace `name` and everything in it, and waits for nothing.
///
/// envtest runs no kube-controller-manager, so nothing would empty a deleted namespace: it
/// would stay `Terminating` with all its objects. So this does the namespace controller's
/// job: mark the namespace deleted (no new objects can be created in it), delete every
/// namespaced kind in it, drop the finalizers of what remains (the controllers that would
/// remove them are stopped with the test), then finalize the namespace.
pub(crate) async fn delete_namespace(client: &kube::Client, name: &str) -> Result<(), Error> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    match namespaces.delete(name, &DeleteParams::default()).await {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.code == 404 => return Ok(()),
        Err(e) => return Err(Error::kube(format!("deleting namespace {name}"), e)),
    }
    let discovery = Discovery::new(client.clone())
        .run_aggregated()
        .await
        .map_err(|e| Error::kube("discovering the API to empty a namespace", e))?;
    for group in discovery.groups() {
        for (resource, capabilities) in group.recommended_resources() {
            if capabilities.scope != Scope::Namespaced
                || !capabilities.supports_operation(verbs::DELETE_COLLECTION)
            {
                continue;
            }
            let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), name, &resource);
            let what = || format!("deleting {} in namespace {name}", resource.plural);
            let deleted = api
                .delete_collection(&DeleteParams::background(), &ListParams::default())
                .await
                .map_err(|e| Error::kube(what(), e))?;
            if deleted.left().is_some_and(|list| list.items.is_empty()) {
                continue;
            }
            let no_finalizers = serde_json::json!({ "metadata": { "finalizers": null } });
            for object in api
                .list(&ListParams::default())
                .await
                .map_err(|e| Error::kube(what(), e))?
            {
                let Some(object_name) = object.metadata.name.as_deref() else {
                    continue;
                };
                match api
                    .patch(
                        object_name,
                        &PatchParams::default(),
                        &Patch::Merge(&no_finalizers),
                    )
                    .await
                {
                    Ok(_) => {}
                    Err(kube::Error::Api(status)) if status.code == 404 => {}
                    Err(e) => return Err(Error::kube(what(), e)),
                }
            }
        }
    }
    let finalized = Namespace {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        spec: Some(Default::default()),
        ..Namespace::default()
    };
    match namespaces
        .replace_subresource("finalize", name, &PostParams::default(), &finalized)
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(e) => Err(Error::kube(format!("finalizing namespace {name}"), e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_names_are_unique_dns_labels_naming_the_test() {
        let a = unique_namespace_name();
        let b = unique_namespace_name();
        assert_ne!(a, b);
        for name in [&a, &b] {
            assert!(name.len() <= 63, "{name}");
            assert!(name.starts_with("test-"), "{name}");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{name}"
            );
            assert!(!name.ends_with('-'), "{name}");
        }
        // libtest names the thread after the test.
        assert!(a.contains("namespace-names-are-unique"), "{a}");
    }
}
