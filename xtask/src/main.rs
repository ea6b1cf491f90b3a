//! Repository chores, as `cargo xtask <task>` (the rust-analyzer pattern):
//! plain Rust instead of shell scripts, so they run the same everywhere.
//!
//! - `ci`: everything CI runs, in order; `.ci/run` calls it.
//! - `regen-example [--check]`: rebuild examples/myapp-operator from the
//!   templates, keeping its hand-written code.
//! - `envtest`: build (once) the control-plane binaries, print their directory.
//! - `demo`: the main job: the MyApp example end to end on a local control plane.
//! - `bench`: the measurements in docs/benchmarks.md.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, Result, bail};

mod bench;
mod demo;
mod example;

fn main() -> std::process::ExitCode {
    match run_task() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run_task() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let task = args.first().map(String::as_str).unwrap_or("help");
    match task {
        "ci" => ci(),
        "envtest" => envtest().map(|dir| println!("{}", dir.display())),
        "demo" => demo::run(),
        "bench" => bench::run(),
        "regen-example" => example::regen(args.iter().any(|a| a == "--check")),
        "help" | "--help" | "-h" => {
            println!(
                "cargo xtask <task>\n\n  ci                     everything CI runs (fmt, clippy, all tests, example checks)\n  envtest                build (once) etcd, kube-apiserver and kubectl; print their directory\n  regen-example [--check]  rebuild examples/myapp-operator from the templates, keeping hand-written code\n  demo                   run the MyApp example operator end to end on a local control plane\n  bench                  measure what docs/benchmarks.md reports"
            );
            Ok(())
        }
        other => bail!("unknown task `{other}`; run `cargo xtask help` for the list"),
    }
}

/// The repository root (xtask lives one level below it).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The one target directory every generated project and the example share,
/// so dependencies are compiled once per machine.
pub fn shared_target_dir() -> PathBuf {
    root().join("target/e2e")
}

pub fn cargo() -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root());
    cmd
}

/// Runs a command, failing with its description if it fails.
pub fn step(what: &str, cmd: &mut Command) -> Result<()> {
    eprintln!("==> {what}");
    let began = std::time::Instant::now();
    let status = cmd.status().with_context(|| format!("starting: {what}"))?;
    took(what, began);
    if !status.success() {
        bail!("failed: {what} ({status})");
    }
    Ok(())
}

/// Reports a step's wall time, so CI logs show where the minutes go.
fn took(what: &str, began: std::time::Instant) {
    eprintln!("<== {what}: {:.0} s", began.elapsed().as_secs_f64());
}

/// Builds the kubeforge CLI (debug) and returns its path.
pub fn kubeforge_binary() -> Result<PathBuf> {
    step(
        "build the kubeforge CLI",
        cargo().args([
            "build",
            "--quiet",
            "--package",
            "kubeforge-cli",
            "--bin",
            "kubeforge",
        ]),
    )?;
    Ok(root().join("target/debug/kubeforge"))
}

/// `kubeforge envtest`: the control-plane binaries' directory, built with Go
/// into the cache outside the repository on first use.
pub fn envtest() -> Result<PathBuf> {
    let kubeforge = kubeforge_binary()?;
    eprintln!("==> control-plane binaries (kubeforge envtest)");
    let output = Command::new(&kubeforge)
        .arg("envtest")
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("running kubeforge envtest")?;
    if !output.status.success() {
        bail!("kubeforge envtest failed");
    }
    let dir = String::from_utf8(output.stdout).context("kubeforge envtest printed non-UTF-8")?;
    Ok(PathBuf::from(dir.trim()))
}

/// Everything CI checks. Each step's failure stops the run. Ends with one
/// line totalling every `cargo test` run, whatever happened.
fn ci() -> Result<()> {
    // Everything here is built once, so incremental caches would only cost
    // disk, which a CI machine may be short of.
    // SAFETY: xtask has not started any thread yet; children inherit it.
    unsafe { std::env::set_var("CARGO_INCREMENTAL", "0") };
    report_disk("before");
    let result = (|| {
        let assets = envtest()?;
        lint_and_test("kubeforge", &root(), None, &assets)?;
        example::check(&assets)?;
        demo::run()
    })();
    report_disk("after");
    let (passed, failed) = TEST_TOTALS.with(|t| t.get());
    println!("ci: {passed} passed, {failed} failed");
    result
}

/// Free disk space and the size of target/, best effort: a CI run that
/// fills the disk fails in the linker, far from the cause.
fn report_disk(when: &str) {
    let first_field = |program: &str, args: &[&str]| -> String {
        Command::new(program)
            .args(args)
            .current_dir(root())
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|text| {
                let last = text.lines().last()?.to_owned();
                last.split_whitespace().next().map(str::to_owned)
            })
            .unwrap_or_else(|| "?".into())
    };
    let free = first_field("df", &["-h", "--output=avail", "."]);
    let target = first_field("du", &["-sh", "target"]);
    eprintln!("disk {when}: {free} free, target/ holds {target}");
}

thread_local! {
    /// Tests passed and failed across every `cargo test` this process ran.
    static TEST_TOTALS: std::cell::Cell<(u64, u64)> = const { std::cell::Cell::new((0, 0)) };
}

/// Like [`step`] for `cargo test`: passes its output through and adds its
/// `test result:` lines to the totals `ci` reports.
pub fn test_step(what: &str, cmd: &mut Command) -> Result<()> {
    use std::io::{BufRead as _, BufReader};
    eprintln!("==> {what}");
    let began = std::time::Instant::now();
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .spawn()
        .with_context(|| format!("starting: {what}"))?;
    let stdout = child.stdout.take().context("test output")?;
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        println!("{line}");
        if let Some(counts) = line.strip_prefix("test result: ") {
            let number = |word: &str| -> u64 {
                counts
                    .split(';')
                    .find_map(|part| {
                        part.trim()
                            .strip_suffix(word)?
                            .trim()
                            .rsplit(' ')
                            .next()?
                            .parse()
                            .ok()
                    })
                    .unwrap_or(0)
            };
            let (passed, failed) = (number("passed"), number("failed"));
            TEST_TOTALS.with(|t| {
                let (p, f) = t.get();
                t.set((p + passed, f + failed));
            });
        }
    }
    let status = child
        .wait()
        .with_context(|| format!("waiting for: {what}"))?;
    took(what, began);
    if !status.success() {
        bail!("failed: {what} ({status})");
    }
    Ok(())
}

/// rustfmt, clippy with warnings as errors, and every test (those that need
/// a control plane find it through KUBEBUILDER_ASSETS) of one workspace.
pub fn lint_and_test(
    what: &str,
    dir: &Path,
    target_dir: Option<&Path>,
    assets: &Path,
) -> Result<()> {
    let in_dir = |args: &[&str]| {
        let mut cmd = cargo();
        cmd.args(args)
            .current_dir(dir)
            .env("KUBEBUILDER_ASSETS", assets);
        if let Some(target_dir) = target_dir {
            cmd.env("CARGO_TARGET_DIR", target_dir);
        }
        cmd
    };
    step(
        &format!("{what}: cargo fmt --check"),
        &mut in_dir(&["fmt", "--check"]),
    )?;
    step(
        &format!("{what}: cargo clippy -D warnings"),
        &mut in_dir(&[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    test_step(
        &format!("{what}: cargo test (against a real API server)"),
        &mut in_dir(&["test", "--workspace"]),
    )
}
