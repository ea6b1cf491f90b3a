//! Repository chores, as `cargo xtask <task>` (the rust-analyzer pattern):
//! plain Rust instead of shell scripts, so they run the same everywhere.
//!
//! - `ci`: everything CI runs, in order; `.ci/run` calls it.
//! - `regen-example [--check]`: rebuild examples/myapp-operator from the
//!   templates, keeping its hand-written code.
//! - `envtest`: build (once) the control-plane binaries, print their directory.
//! - `actionlint`: check the GitHub Actions workflows `kubeforge init`
//!   scaffolds with actionlint (installed once with `go install`).
//! - `book`: check docs/' links and build them as an mdBook (installed once).
//! - `helm`: check the Helm chart `kubeforge edit --plugins helm` scaffolds
//!   with `helm lint`, `helm template` and a server-side dry-run on a real
//!   API server (Helm installed once with `go install`).
//! - `cargo-generate`: run the cargo-generate template (cargo-generate/operator/)
//!   with the real cargo-generate (installed once) and diff its projects
//!   against `kubeforge init` + `create api`'s; build and test one.
//! - `demo`: the main job: the MyApp example end to end on a local control plane.
//! - `bench [scaffold | memory [--large] [--kubebuilder] | compare [--large] [--runs N] [--cold]]`:
//!   the measurements in docs/benchmarks.md and docs/memory.md.
//! - `builtin-kinds [--check]`: regenerate crates/kubeforge-cli/src/builtin_kinds.rs
//!   from k8s-openapi's sources.
//! - `k8s-schemas [--check]`: regenerate crates/kubeforge/src/crd_schema/kubernetes.deflate
//!   from Kubernetes' OpenAPI.
//!
//! Binaries and the target directory are found through cargo (its JSON
//! messages and `cargo metadata`), so CARGO_TARGET_DIR and `build.target-dir`
//! are honoured.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context as _, Result, bail};

mod actionlint;
mod bench;
mod bench_compare;
mod bench_memory;
mod book;
mod builtin_kinds;
mod cargo_generate;
mod demo;
mod example;
mod go_tools;
mod helm;
mod k8s_schemas;
mod kubebuilder;

/// `kubeforge create api` for the MyApp kind every check and benchmark
/// scaffolds (the example's, and Kubebuilder's tutorial kind).
pub const CREATE_MYAPP: [&str; 8] = [
    "create",
    "api",
    "--group",
    "apps",
    "--version",
    "v1",
    "--kind",
    "MyApp",
];

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
        "actionlint" => actionlint::run(),
        "book" => book::run().map(|_| ()),
        "helm" => helm::run(),
        "cargo-generate" => cargo_generate::run(),
        "envtest" => envtest().map(|dir| println!("{}", dir.display())),
        "demo" => demo::run(),
        "bench" => match args.get(1).map(String::as_str) {
            None => bench::run(),
            Some("scaffold") => bench::scaffold_only(),
            Some("memory") => bench_memory::run(bench_memory::Options::parse(
                args.get(2..).unwrap_or_default(),
            )?),
            Some("compare") => bench_compare::run(bench_compare::Options::parse(
                args.get(2..).unwrap_or_default(),
            )?),
            Some(other) => {
                bail!(
                    "unknown benchmark `{other}`; `scaffold`, `memory [--large] [--kubebuilder]` and `compare [--large] [--runs N] [--cold]` are the ones that run alone"
                )
            }
        },
        "regen-example" => example::regen(has_flag(&args, "--check")?),
        "builtin-kinds" => builtin_kinds::run(has_flag(&args, "--check")?),
        "k8s-schemas" => k8s_schemas::run(has_flag(&args, "--check")?),
        "help" | "--help" | "-h" => {
            println!(
                "cargo xtask <task>\n\n  ci                       everything CI runs (fmt, clippy, all tests, example checks)\n  envtest                  build (once) etcd, kube-apiserver and kubectl; print their directory\n  actionlint               check the GitHub Actions workflows `kubeforge init` scaffolds, with actionlint\n  book                     check docs/' links and build the kubeforge book (mdBook, installed once)\n  helm                     check the Helm chart `edit --plugins helm` scaffolds: helm lint, helm template, server-side dry-run\n  cargo-generate           run cargo-generate/operator/ with cargo-generate; diff against kubeforge init + create api; build and test one\n  regen-example [--check]  rebuild examples/myapp-operator from the templates, keeping hand-written code\n  builtin-kinds [--check]  regenerate crates/kubeforge-cli/src/builtin_kinds.rs from k8s-openapi\n  k8s-schemas [--check]    regenerate crates/kubeforge/src/crd_schema/kubernetes.deflate from Kubernetes' OpenAPI\n  demo                     run the MyApp example operator end to end on a local control plane\n  bench [scaffold]         measure what docs/benchmarks.md reports (`scaffold`: only init + create api)\n  bench memory [--large] [--kubebuilder]\n                           resident memory of the scaffolded and the example managers at N = 0, 1,000, 3,000 (10,000 with --large) objects;\n                           --kubebuilder also measures Kubebuilder's scaffolded manager (needs Go) and prints the ratios\n  bench compare [--large] [--runs N] [--cold]\n                           kubeforge beside Kubebuilder on this machine: scaffolding, manifests, builds, the MyApp operator at N = 100, 1,000\n                           (10,000 with --large); medians of N alternating runs (default 3); writes the table into docs/benchmarks.md"
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

/// `--check` or nothing: the only argument the generating tasks take.
fn has_flag(args: &[String], flag: &str) -> Result<bool> {
    match args.get(1..).unwrap_or_default() {
        [] => Ok(false),
        [only] if only == flag => Ok(true),
        rest => bail!(
            "unexpected arguments `{}`; `{flag}` is the only one allowed",
            rest.join(" ")
        ),
    }
}

/// This workspace's target directory as cargo resolves it: CARGO_TARGET_DIR,
/// a `build.target-dir` setting, or `target/` in the checkout. Asked once.
pub fn target_dir() -> Result<PathBuf> {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    if let Some(dir) = DIR.get() {
        return Ok(dir.clone());
    }
    // Asked from the root, where every cargo this run starts runs, so a
    // relative CARGO_TARGET_DIR means the same directory to all of them.
    let metadata = cargo_metadata::MetadataCommand::new()
        .manifest_path(root().join("Cargo.toml"))
        .current_dir(root())
        .no_deps()
        .exec()
        .context("cargo metadata (to find the target directory)")?;
    Ok(DIR
        .get_or_init(|| metadata.target_directory.into_std_path_buf())
        .clone())
}

/// The one target directory every generated project and the example share,
/// so dependencies are compiled once per machine: `<target directory>/e2e`.
pub fn shared_target_dir() -> Result<PathBuf> {
    Ok(target_dir()?.join("e2e"))
}

/// Where copies of the example go (`regen-example --check`, `bench`): the
/// git-ignored `target/` of the checkout, whatever the target directory is,
/// because a copy must sit at the example's depth inside the checkout for
/// its relative path dependencies to resolve the same way. Only copies of
/// sources go here; their builds go under [`target_dir`].
pub fn scratch_dir() -> PathBuf {
    root().join("target")
}

/// Set by `ci`: every child (cargo, and kubeforge, which runs cargo) gets
/// CARGO_INCREMENTAL=0.
static INCREMENTAL_OFF: AtomicBool = AtomicBool::new(false);

/// A command for `program` with the environment this run gives children,
/// started in the repository root.
pub fn command(program: impl AsRef<OsStr>) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(root());
    if INCREMENTAL_OFF.load(Ordering::Relaxed) {
        cmd.env("CARGO_INCREMENTAL", "0");
    }
    cmd
}

pub fn cargo() -> Command {
    command(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
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
    build_binary("kubeforge-cli", "kubeforge", false)
}

/// Builds `bin` of this workspace's `package` and returns the executable
/// cargo reports, wherever the target directory is. (Only this workspace
/// builds into it, so the path holds this build: see the CLI's cargo_bin.rs
/// for when it does not.)
pub fn build_binary(package: &str, bin: &str, release: bool) -> Result<PathBuf> {
    let what = format!(
        "build {bin} ({})",
        if release { "release" } else { "debug" }
    );
    eprintln!("==> {what}");
    let began = std::time::Instant::now();
    let mut child = cargo()
        .arg("build")
        .args(release.then_some("--release"))
        .args([
            "--quiet",
            "--message-format=json-render-diagnostics",
            "--package",
            package,
            "--bin",
            bin,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting: {what}"))?;
    let stdout = child.stdout.take().context("cargo build's output")?;
    let mut executable = None;
    for message in cargo_metadata::Message::parse_stream(std::io::BufReader::new(stdout)) {
        if let cargo_metadata::Message::CompilerArtifact(artifact) =
            message.context("reading cargo build's output")?
            && artifact.target.name == bin
            && let Some(exe) = artifact.executable
        {
            executable = Some(exe.into_std_path_buf());
        }
    }
    let status = child
        .wait()
        .with_context(|| format!("waiting for: {what}"))?;
    took(&what, began);
    if !status.success() {
        bail!("failed: {what} ({status})");
    }
    executable.with_context(|| format!("cargo built {package} but reported no `{bin}` executable"))
}

/// `kubeforge envtest`: the control-plane binaries' directory, built with Go
/// into the cache outside the repository on first use.
pub fn envtest() -> Result<PathBuf> {
    envtest_with(&kubeforge_binary()?)
}

/// [`envtest`] with a CLI already built.
pub fn envtest_with(kubeforge: &Path) -> Result<PathBuf> {
    eprintln!("==> control-plane binaries (kubeforge envtest)");
    let output = command(kubeforge)
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
    INCREMENTAL_OFF.store(true, Ordering::Relaxed);
    report_disk("before");
    let result = (|| {
        // Cheap, and no build needed: a stale table fails in seconds.
        builtin_kinds::run(true)?;
        k8s_schemas::run(true)?;
        book::run()?;
        let assets = envtest()?;
        actionlint::run()?;
        helm::run()?;
        lint_and_test("kubeforge", &root(), None, &assets)?;
        example::check(&assets)?;
        cargo_generate::run()?;
        demo::run()
    })();
    report_disk("after");
    let (passed, failed) = TEST_TOTALS.with(|t| t.get());
    println!("ci: {passed} passed, {failed} failed");
    result
}

/// Free disk space and the size of the target directory, best effort: a CI
/// run that fills the disk fails in the linker, far from the cause.
fn report_disk(when: &str) {
    let first_field = |program: &str, args: &[&OsStr]| -> String {
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
    let Ok(target_dir) = target_dir() else {
        eprintln!("disk {when}: cannot tell (cargo metadata failed)");
        return;
    };
    // The file system the target directory is (or will be) on.
    let on = target_dir
        .ancestors()
        .find(|dir| dir.exists())
        .unwrap_or(Path::new("."));
    let free = first_field(
        "df",
        &["-h".as_ref(), "--output=avail".as_ref(), on.as_os_str()],
    );
    let used = if target_dir.exists() {
        first_field("du", &["-sh".as_ref(), target_dir.as_os_str()])
    } else {
        "nothing yet".into()
    };
    eprintln!(
        "disk {when}: {free} free, the target directory ({}) holds {used}",
        target_dir.display()
    );
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
