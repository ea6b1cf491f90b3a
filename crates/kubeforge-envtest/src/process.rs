//! Child processes (etcd, kube-apiserver) that never outlive their owner.
//!
//! Dropping a [`ManagedProcess`] (also while unwinding from a panic) signals its whole
//! process group, SIGTERM then SIGKILL, and reaps it; on Linux `PR_SET_PDEATHSIG` also has
//! the kernel kill the child if the test process dies without unwinding (SIGKILL, abort,
//! OOM).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::Error;

/// A running child with its stdout and stderr in a log file; stopped and reaped on drop.
pub(crate) struct ManagedProcess {
    name: &'static str,
    child: Option<Child>,
    pid: u32,
    log: PathBuf,
    /// How long the process gets to exit after SIGTERM before it is SIGKILLed; zero means
    /// SIGKILL at once.
    grace: Duration,
}

struct SpawnRequest {
    command: Command,
    reply: mpsc::Sender<std::io::Result<Child>>,
}

/// `PR_SET_PDEATHSIG` fires when the *thread* that forked the child exits, not the process.
/// Tests spawn from short-lived threads (tokio blocking pool, per-test threads, a shared
/// environment started by whichever test came first), so children are forked from one
/// dedicated thread that lives as long as the process.
fn spawner() -> Option<&'static mpsc::Sender<SpawnRequest>> {
    static SPAWNER: OnceLock<Option<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    SPAWNER
        .get_or_init(|| {
            let (tx, rx) = mpsc::channel::<SpawnRequest>();
            std::thread::Builder::new()
                .name("kubeforge-envtest-spawner".into())
                .spawn(move || {
                    for mut request in rx {
                        let _ = request.reply.send(request.command.spawn());
                    }
                })
                .ok()
                .map(|_| tx)
        })
        .as_ref()
}

fn spawn(mut command: Command) -> std::io::Result<Child> {
    use std::os::unix::process::CommandExt;

    // Own process group: signals from the terminal (Ctrl-C to `cargo test`) don't race our
    // orderly shutdown, and teardown can signal the whole group.
    command.process_group(0);
    #[cfg(target_os = "linux")]
    die_with_parent(&mut command);
    match spawner() {
        Some(tx) => {
            let (reply_tx, reply_rx) = mpsc::channel();
            tx.send(SpawnRequest {
                command,
                reply: reply_tx,
            })
            .map_err(|_| std::io::Error::other("spawner thread is gone"))?;
            reply_rx
                .recv()
                .map_err(|_| std::io::Error::other("spawner thread is gone"))?
        }
        None => command.spawn(),
    }
}

/// Makes the kernel SIGKILL the child when this process dies, even without unwinding
/// (`PR_SET_PDEATHSIG`), so a killed test run leaves no control plane behind.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn die_with_parent(command: &mut Command) {
    use std::os::unix::process::CommandExt;

    let parent = std::process::id();
    // SAFETY: the closure runs in the forked child before exec, where only async-signal-safe
    // functions may be called: it calls only prctl and getppid, and builds its errors from
    // raw OS error codes, which does not allocate.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl; then nobody would kill us.
            if libc::getppid() as u32 != parent {
                return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
}

/// Sends `signal` to the process group led by `pid`, so children the process started go too.
///
/// Callers only signal a group whose leader they have not reaped yet: until then the id
/// cannot be reused by an unrelated process group.
#[allow(unsafe_code)]
fn signal_group(pid: u32, signal: libc::c_int) {
    // SAFETY: killpg is a plain syscall with no memory-safety preconditions.
    unsafe { libc::killpg(pid as libc::pid_t, signal) };
}

impl ManagedProcess {
    /// Starts `program args...` with stdout and stderr going to `log`; stopping it allows
    /// `grace` between SIGTERM and SIGKILL.
    pub(crate) fn start(
        name: &'static str,
        program: &Path,
        args: &[String],
        log: PathBuf,
        grace: Duration,
    ) -> Result<Self, Error> {
        let out =
            File::create(&log).map_err(|e| Error::io(format!("creating {}", log.display()), e))?;
        let err = out
            .try_clone()
            .map_err(|e| Error::io(format!("opening {}", log.display()), e))?;
        let mut command = Command::new(program);
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        let child = spawn(command)
            .map_err(|e| Error::io(format!("starting {name} ({})", program.display()), e))?;
        let pid = child.id();
        tracing::debug!(name, pid, "started");
        Ok(ManagedProcess {
            name,
            child: Some(child),
            pid,
            log,
            grace,
        })
    }

    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    /// `Some(description)` if the process has exited.
    pub(crate) fn exited(&mut self) -> Option<String> {
        let child = self.child.as_mut()?;
        match child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            Ok(None) => None,
            Err(e) => Some(format!("unknown state: {e}")),
        }
    }

    /// The last `n` lines the process logged, joined with " | " to stay on one line.
    pub(crate) fn log_tail(&self, n: usize) -> String {
        let mut text = String::new();
        if let Ok(mut file) = File::open(&self.log) {
            // Only the end matters; the apiserver log can be large.
            let len = file.metadata().map(|m| m.len()).unwrap_or(0);
            let _ = file.seek(SeekFrom::Start(len.saturating_sub(16 * 1024)));
            let mut bytes = Vec::new();
            let _ = file.read_to_end(&mut bytes);
            text = String::from_utf8_lossy(&bytes).into_owned();
        }
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        lines[lines.len().saturating_sub(n)..].join(" | ")
    }

    pub(crate) fn name(&self) -> &'static str {
        self.name
    }

    /// SIGTERM the process group, wait up to its grace period, then SIGKILL; always reaps.
    /// Blocking on purpose: it runs in `Drop`, which may be outside any async runtime.
    pub(crate) fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // Signal only while unreaped: until then the pid (and group id) cannot be reused.
        if let Ok(None) = child.try_wait() {
            let first = if self.grace.is_zero() {
                libc::SIGKILL
            } else {
                libc::SIGTERM
            };
            signal_group(self.pid, first);
            let deadline = Instant::now() + self.grace;
            let mut delay = Duration::from_millis(5);
            loop {
                match child.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if first == libc::SIGKILL => break,
                    Ok(None) if Instant::now() >= deadline => {
                        tracing::warn!(
                            name = self.name,
                            pid = self.pid,
                            "did not stop on SIGTERM; killing"
                        );
                        // Still unreaped, so still our group.
                        signal_group(self.pid, libc::SIGKILL);
                        break;
                    }
                    Ok(None) => {
                        std::thread::sleep(delay);
                        delay = (delay * 2).min(Duration::from_millis(50));
                    }
                }
            }
        }
        let _ = child.wait();
        tracing::debug!(name = self.name, pid = self.pid, "stopped");
    }
}

impl Drop for ManagedProcess {
    fn drop(&mut self) {
        self.stop();
    }
}
