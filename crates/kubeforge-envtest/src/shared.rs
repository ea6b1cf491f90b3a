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
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

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
    #[cfg(feature = "client")]
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
