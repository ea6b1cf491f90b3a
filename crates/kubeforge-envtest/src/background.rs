//! Servers that outlive a test: started once per test process, on a thread
//! and runtime of their own.
//!
//! Each `#[tokio::test]` has a runtime that ends with the test, and a server
//! spawned on it stops answering the moment its test returns, while the
//! shared control plane ([`crate::Environment::shared`]) keeps calling it for
//! the binary's other tests (webhook configurations are cluster-scoped). So a
//! server that serves the whole binary, such as the manager's webhook server,
//! runs here instead, started by whichever test asks first.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use crate::Error;

/// What a background task returns when it fails.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Handed to a background task: call [`Ready::ready`] once it serves, so the
/// tests waiting in [`once_per_process`] go on.
pub struct Ready(mpsc::Sender<Result<(), String>>);

impl Ready {
    /// The task serves; every caller of [`once_per_process`] for it returns.
    pub fn ready(self) {
        let _ = self.0.send(Ok(()));
    }
}

/// Starts `task` under `name` the first time this process asks for it, on a
/// dedicated thread with a current-thread runtime, and waits until it calls
/// [`Ready::ready`]. Later calls with the same `name` wait for the same start
/// and do not run their `task`. A task that fails or returns before it is
/// ready fails every call, with its error, so the binary's tests fail at once
/// rather than each waiting for a server that will not come.
///
/// ```no_run
/// # async fn demo() -> Result<(), kubeforge_envtest::Error> {
/// kubeforge_envtest::once_per_process("webhook-server", |ready| async move {
///     // bind the server here, then:
///     ready.ready();
///     std::future::pending::<()>().await; // serve until the process exits
///     Ok(())
/// })
/// .await?;
/// # Ok(()) }
/// ```
pub async fn once_per_process<F, Fut>(name: &str, task: F) -> Result<(), Error>
where
    F: FnOnce(Ready) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), BoxError>> + 'static,
{
    /// Each name's start, once it began: ready, or why not.
    type Started = Arc<OnceLock<Result<(), String>>>;
    static STARTED: Mutex<BTreeMap<String, Started>> = Mutex::new(BTreeMap::new());
    let cell = STARTED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(name.to_owned())
        .or_default()
        .clone();
    let name = name.to_owned();
    let what = name.clone();
    tokio::task::spawn_blocking(move || cell.get_or_init(|| start(name, task)).clone())
        .await
        .map_err(|e| Error::Start(format!("starting {what}: {e}")))?
        .map_err(|e| Error::Start(format!("{what}: {e}")))
}

/// Runs `task` on its own thread; returns once it is ready or has failed.
fn start<F, Fut>(name: String, task: F) -> Result<(), String>
where
    F: FnOnce(Ready) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), BoxError>> + 'static,
{
    let (sender, ready) = mpsc::channel();
    let failed = sender.clone();
    std::thread::Builder::new()
        .name(name)
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(e) => {
                    let _ = failed.send(Err(format!("cannot build its runtime: {e}")));
                    return;
                }
            };
            if let Err(e) = runtime.block_on(task(Ready(sender))) {
                // Before it was ready, this reaches the waiting tests; after,
                // only the test output can say why later calls fail.
                eprintln!("background task stopped: {e}");
                let _ = failed.send(Err(e.to_string()));
            }
        })
        .map_err(|e| format!("cannot start its thread: {e}"))?;
    ready
        .recv()
        .map_err(|_| "it ended before it was ready".to_owned())?
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn starts_once_and_outlives_the_caller() {
        static RUNS: AtomicUsize = AtomicUsize::new(0);
        for _ in 0..3 {
            once_per_process("counter", |ready| async move {
                RUNS.fetch_add(1, Ordering::SeqCst);
                ready.ready();
                std::future::pending::<()>().await;
                Ok(())
            })
            .await
            .expect("ready");
        }
        assert_eq!(RUNS.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_task_that_fails_before_ready_fails_every_caller() {
        for _ in 0..2 {
            let err = once_per_process("broken", |_ready| async move {
                Err::<(), BoxError>("port in use".into())
            })
            .await
            .expect_err("not ready");
            assert!(err.to_string().contains("broken: port in use"), "{err}");
        }
    }
}
