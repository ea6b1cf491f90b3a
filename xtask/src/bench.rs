//! Benchmarks behind docs/benchmarks.md. They measure and print; nothing
//! here asserts a time (timed tests are flaky on shared machines).
//!
//! - `kubeforge manifests` on a copy of the MyApp example with dependencies
//!   built: with nothing changed, and after a one-line change to the types;
//! - kubeforge-envtest start-to-ready and stop;
//! - the MyApp manager: release binary size, and peak memory while it
//!   reconciles the sample on a local control plane;
//! - scaffolding: `kubeforge init` then `create api` in a fresh directory,
//!   with the release build of the CLI (alone: `cargo xtask bench scaffold`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use crate::{build_binary, cargo, command, kubeforge_binary, scratch_dir, step, target_dir};

const RUNS: usize = 5;

/// Runs of the scaffolding benchmark: it takes milliseconds, so more runs
/// cost nothing and steady the median on a shared machine.
const SCAFFOLD_RUNS: usize = 11;

pub fn run() -> Result<()> {
    let kubeforge = kubeforge_binary()?;
    let manifests = manifests(&kubeforge)?;
    let envtest = envtest_startup()?;
    let assets = crate::envtest()?;
    let (size, rss) = manager_footprint(&kubeforge, &assets)?;
    let scaffold = scaffold(&build_binary("kubeforge-cli", "kubeforge", true)?)?;
    println!("\n| Benchmark | Result | Target |");
    println!("| --- | --- | --- |");
    println!(
        "| `kubeforge manifests`, nothing changed (median of {RUNS}) | {} | ≤ 0.5 s |",
        secs(manifests.0)
    );
    println!(
        "| `kubeforge manifests`, one-line types change (median of {RUNS}) | {} | ≤ 3 s |",
        secs(manifests.1)
    );
    println!(
        "| kubeforge-envtest start to ready (median of {RUNS}) | {} | ≤ 5 s |",
        secs(envtest.0)
    );
    println!(
        "| kubeforge-envtest stop (median of {RUNS}) | {} | |",
        secs(envtest.1)
    );
    println!(
        "| kubeforge-envtest stop with a watch open (median of {RUNS}) | {} | |",
        secs(envtest.2)
    );
    println!(
        "| MyApp manager release binary | {:.1} MiB | |",
        size as f64 / 1048576.0
    );
    println!(
        "| MyApp manager peak RSS, reconciling the sample | {:.1} MiB | |",
        rss as f64 / 1024.0
    );
    println!("{}", scaffold_row(scaffold));
    Ok(())
}

/// `cargo xtask bench scaffold`: only the scaffolding figure, in seconds
/// rather than the minutes the whole set takes.
pub fn scaffold_only() -> Result<()> {
    let kubeforge = build_binary("kubeforge-cli", "kubeforge", true)?;
    let scaffold = scaffold(&kubeforge)?;
    println!("\n| Benchmark | Result | Target |");
    println!("| --- | --- | --- |");
    println!("{}", scaffold_row(scaffold));
    Ok(())
}

fn scaffold_row(median: Duration) -> String {
    format!(
        "| `kubeforge init` + `create api --group apps --version v1 --kind MyApp`, release build (median of {SCAFFOLD_RUNS}) | {:.0} ms | ≤ 50 ms |",
        median.as_secs_f64() * 1000.0
    )
}

/// `kubeforge init --domain example.com` then `kubeforge create api --group
/// apps --version v1 --kind MyApp` in a new empty directory, as the README's
/// quickstart does: the median wall time of both together. One untimed run
/// first, so every timed one finds the binary in the page cache.
fn scaffold(kubeforge: &Path) -> Result<Duration> {
    eprintln!("==> kubeforge init + create api, {SCAFFOLD_RUNS} runs");
    let steps: [&[&str]; 2] = [&["init", "--domain", "example.com"], &crate::CREATE_MYAPP];
    let mut samples = Vec::with_capacity(SCAFFOLD_RUNS);
    for run in 0..=SCAFFOLD_RUNS {
        let dir = tempfile::tempdir()?;
        let project = dir.path().join("myapp");
        std::fs::create_dir(&project)?;
        let began = Instant::now();
        for args in steps {
            let output = command(kubeforge)
                .args(args)
                .current_dir(&project)
                .stdin(Stdio::null())
                .output()?;
            if !output.status.success() {
                bail!(
                    "kubeforge {} failed: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&output.stderr).trim()
                );
            }
        }
        let elapsed = began.elapsed();
        if run > 0 {
            samples.push(elapsed);
        }
    }
    let ms = |d: &Duration| format!("{:.0}", d.as_secs_f64() * 1000.0);
    eprintln!(
        "    runs (ms): {}",
        samples.iter().map(ms).collect::<Vec<_>>().join(" ")
    );
    Ok(median(samples))
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// A copy of the example at the same depth (its path dependencies resolve)
/// with its own target directory, so the benchmark never disturbs other
/// builds.
fn example_copy() -> Result<(PathBuf, PathBuf)> {
    let copy = scratch_dir().join("myapp-operator-bench");
    let target = target_dir()?.join("bench");
    if copy.exists() {
        std::fs::remove_dir_all(&copy)?;
    }
    crate::example::copy_tree(&crate::example::dir(), &copy)?;
    Ok((copy, target))
}

fn timed(cmd: &mut Command) -> Result<Duration> {
    let began = Instant::now();
    let status = cmd.stdout(Stdio::null()).status()?;
    if !status.success() {
        bail!("{cmd:?} failed");
    }
    Ok(began.elapsed())
}

fn manifests(kubeforge: &Path) -> Result<(Duration, Duration)> {
    let (copy, target) = example_copy()?;
    let types = copy.join("api/src/apps/v1/my_app.rs");
    let kf = || {
        let mut cmd = command(kubeforge);
        cmd.arg("manifests")
            .current_dir(&copy)
            .env("CARGO_TARGET_DIR", &target);
        cmd
    };
    step("manifests: build the API crate once", &mut kf())?;
    let unchanged = (0..RUNS)
        .map(|_| timed(&mut kf()))
        .collect::<Result<Vec<_>>>()?;
    let original = std::fs::read_to_string(&types)?;
    let mut changed = Vec::new();
    for i in 0..RUNS {
        // One line: a doc comment on the kind, which reaches the CRD.
        std::fs::write(
            &types,
            format!("{original}\n/// Benchmark edit {i}.\nconst _: () = ();\n"),
        )?;
        changed.push(timed(&mut kf())?);
    }
    std::fs::write(&types, original)?;
    Ok((median(unchanged), median(changed)))
}

/// Start-to-ready, idle stop and stop with a watch open: medians.
fn envtest_startup() -> Result<(Duration, Duration, Duration)> {
    eprintln!("==> envtest start/stop, {RUNS} runs");
    let output = cargo()
        .args([
            "run",
            "--quiet",
            "--release",
            "-p",
            "kubeforge-envtest",
            "--example",
            "start_stop",
        ])
        .arg(RUNS.to_string())
        .stderr(Stdio::inherit())
        .output()?;
    if !output.status.success() {
        bail!("the envtest start_stop example failed");
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let mut starts = Vec::new();
    let mut stops = Vec::new();
    let mut watched_stops = Vec::new();
    for line in text.lines() {
        // "run N: start-to-ready 2.73s, stop 0.10s, stop with a watch open 0.09s"
        let number = |key: &str| -> Option<f64> {
            let rest = line.split(key).nth(1)?;
            rest.trim().split('s').next()?.parse().ok()
        };
        if let (Some(start), Some(stop), Some(watched)) = (
            number("start-to-ready"),
            number("stop"),
            number("watch open"),
        ) {
            starts.push(Duration::from_secs_f64(start));
            stops.push(Duration::from_secs_f64(stop));
            watched_stops.push(Duration::from_secs_f64(watched));
        }
    }
    if starts.is_empty() {
        bail!("no timings in the start_stop output:\n{text}");
    }
    Ok((median(starts), median(stops), median(watched_stops)))
}

/// Release size of the manager, and its peak RSS (VmHWM) once it has
/// reconciled the sample on a local control plane.
fn manager_footprint(kubeforge: &Path, assets: &Path) -> Result<(u64, u64)> {
    let (copy, target) = example_copy()?;
    crate::demo::with_running_operator(kubeforge, &copy, &target, assets, true, |session| {
        session.wait_for_sample()?;
        // Let a few resyncs and watch events pass before reading the peak.
        std::thread::sleep(std::time::Duration::from_secs(5));
        let rss = crate::demo::peak_rss_kib(session.manager_pid)?;
        // The binary the running manager was started from, wherever cargo
        // put it.
        let size = std::fs::metadata(format!("/proc/{}/exe", session.manager_pid))?.len();
        Ok((size, rss))
    })
}
