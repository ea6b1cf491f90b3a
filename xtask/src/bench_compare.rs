//! `cargo xtask bench compare [--large] [--runs N] [--cold]`: kubeforge beside
//! Kubebuilder on the same machine in the same run, for the figures the
//! issue states its targets in: scaffolding, `manifests`, builds, and an
//! operator with the same logic on both sides (the MyApp example's).
//!
//! Every timed figure alternates the two sides (kubeforge, Kubebuilder,
//! kubeforge, ...) so a busy moment on a shared machine hits both, and
//! reports medians of `--runs` (default 3). Each side gets one untimed run
//! first, so the Go module and build caches and cargo's target directory are
//! warm for every timed one. The table is printed and written into
//! docs/benchmarks.md between [`BEGIN`] and [`END`].
//!
//! The Go side is Kubebuilder's own scaffold, built with the Go toolchain on
//! PATH and the tools [`crate::kubebuilder`] installs; the operator's Go
//! code (bench_compare/*.go) is part of this harness, written into the
//! scaffold at bench time. The operator driver (bench_compare/opbench.rs) is
//! written into a scaffolded kubeforge project, as bench memory's is.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context as _, Result, bail};

use crate::kubebuilder::{CONTROLLER_TOOLS_VERSION, KUBEBUILDER_VERSION};
use crate::{build_binary, cargo, command, envtest, root, shared_target_dir};

/// Where the table goes in docs/benchmarks.md.
pub const BEGIN: &str = "<!-- bench compare: begin -->";
pub const END: &str = "<!-- bench compare: end -->";

const DRIVER: &str = include_str!("bench_compare/opbench.rs");
const GO_CONTROLLER: &str = include_str!("bench_compare/kubebuilder_controller.go");
const GO_TYPES: &str = include_str!("bench_compare/myapp_types.go");
const GO_CONFIG: &str = include_str!("bench_compare/bench_config.go");

/// The flags of `bench compare`.
#[derive(Debug, PartialEq, Eq)]
pub struct Options {
    /// Also run the operators with 10,000 MyApps.
    pub large: bool,
    /// Timed runs of each side per figure.
    pub runs: usize,
    /// Also measure cold builds and installing each CLI (many minutes on 2 cores).
    pub cold: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            large: false,
            runs: 3,
            cold: false,
        }
    }
}

impl Options {
    /// Reads the flags after `bench compare`, in any order.
    pub fn parse(args: &[String]) -> Result<Options> {
        let mut options = Options::default();
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--large" => options.large = true,
                "--cold" => options.cold = true,
                "--runs" => {
                    let value = args
                        .next()
                        .context("`--runs` needs a number of runs, 1 or more")?;
                    options.runs = match value.parse::<usize>() {
                        Ok(n) if n > 0 => n,
                        _ => bail!(
                            "`--runs {value}`: the number of runs must be a whole number, 1 or more"
                        ),
                    };
                }
                other => bail!(
                    "unexpected argument `{other}` to `bench compare`; `--large`, `--runs N` and `--cold` are allowed"
                ),
            }
        }
        Ok(options)
    }
}

/// How a figure is printed.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Unit {
    Count,
    Seconds,
    Millis,
    Mib,
}

impl Unit {
    fn format(self, value: f64) -> String {
        match self {
            Unit::Count => format!("{value:.0}"),
            Unit::Seconds => format!("{value:.2} s"),
            Unit::Millis => format!("{:.0} ms", value * 1000.0),
            Unit::Mib => format!("{value:.1} MiB"),
        }
    }
}

/// One line of the table: medians of each side's samples.
#[derive(Debug)]
struct Row {
    figure: String,
    unit: Unit,
    kubeforge: Vec<f64>,
    kubebuilder: Vec<f64>,
    /// The highest kubeforge / Kubebuilder ratio the issue allows, where it
    /// states one for this figure.
    target: Option<f64>,
}

impl Row {
    fn new(figure: impl Into<String>, unit: Unit) -> Row {
        Row {
            figure: figure.into(),
            unit,
            kubeforge: Vec::new(),
            kubebuilder: Vec::new(),
            target: None,
        }
    }

    fn target(mut self, ratio: f64) -> Row {
        self.target = Some(ratio);
        self
    }

    fn markdown(&self) -> String {
        let side = |samples: &[f64]| median(samples).map(|m| self.unit.format(m));
        let ours = median(&self.kubeforge);
        let theirs = median(&self.kubebuilder);
        let ratio = match (ours, theirs) {
            (Some(a), Some(b)) if b > 0.0 => Some(a / b),
            _ => None,
        };
        let target = match (self.target, ratio) {
            (Some(most), Some(r)) => {
                format!("≤ {most:.2}: {}", if r <= most { "met" } else { "missed" })
            }
            (Some(most), None) => format!("≤ {most:.2}"),
            _ => String::new(),
        };
        format!(
            "| {} | {} | {} | {} | {target} |",
            self.figure,
            side(&self.kubeforge).unwrap_or_else(|| "not measured".into()),
            side(&self.kubebuilder).unwrap_or_else(|| "not measured".into()),
            ratio.map(|r| format!("{r:.2}")).unwrap_or_default(),
        )
    }
}

/// The median (the upper one of an even count), or None without samples.
fn median(samples: &[f64]) -> Option<f64> {
    let mut sorted: Vec<f64> = samples.iter().copied().filter(|s| s.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied()
}

/// What the whole run found, for the report.
struct Report {
    rows: Vec<Row>,
    floors: Vec<String>,
    notes: Vec<String>,
    commands: Vec<String>,
}

/// The Go tools and the environment every Go command runs with.
struct Go {
    go: PathBuf,
    kubebuilder: PathBuf,
    controller_gen: PathBuf,
    path: OsString,
}

impl Go {
    /// `program` in `dir`, with the tools first on PATH. The Go caches are
    /// the user's (GOCACHE, GOMODCACHE, GOFLAGS and GOPROXY as the
    /// environment has them), as when a Kubebuilder user runs the command.
    fn command(&self, program: &Path, dir: &Path) -> Command {
        let mut cmd = Command::new(program);
        cmd.current_dir(dir)
            .env("PATH", &self.path)
            .env("GOWORK", "off")
            .env("CGO_ENABLED", "0")
            .stdin(Stdio::null());
        cmd
    }
}

/// Runs `cmd` and returns its wall time in seconds; its output is kept and
/// shown only if it fails.
fn timed(what: &str, cmd: &mut Command) -> Result<f64> {
    // Gigabytes written by the stage before (Go builds, a release build)
    // are still being flushed for a while; a timed command that writes
    // (cargo's incremental files, rlibs) would wait behind that writeback.
    // Flushed first, outside the clock, so each side pays only for its own.
    let _ = Command::new("sync").status();
    let began = Instant::now();
    let output = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("starting: {what}"))?;
    let elapsed = began.elapsed().as_secs_f64();
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(20).collect();
        bail!(
            "failed: {what} ({}):\n{}",
            output.status,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    Ok(elapsed)
}

/// A fresh empty directory `name` under `parent`.
fn fresh(parent: &Path, name: &str) -> Result<PathBuf> {
    let dir = parent.join(name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// Replaces the first line containing `anchor` in `file` with itself plus
/// `line` after it (a one-line edit); returns the original text to restore.
fn insert_after(file: &Path, anchor: &str, line: &str) -> Result<String> {
    let original =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let edited = insert_line(&original, anchor, line)
        .with_context(|| format!("no line with `{anchor}` in {}", file.display()))?;
    std::fs::write(file, edited).with_context(|| format!("writing {}", file.display()))?;
    Ok(original)
}

/// Runs `run` with `line` inserted after `anchor` in `file`, then puts the
/// file back (also when `run` failed): one timed run after a one-line edit.
fn with_line(
    file: &Path,
    anchor: &str,
    line: &str,
    run: impl FnOnce() -> Result<f64>,
) -> Result<f64> {
    let original = insert_after(file, anchor, line)?;
    let took = run();
    std::fs::write(file, original).with_context(|| format!("restoring {}", file.display()))?;
    took
}

/// `text` with `line` inserted after the first line containing `anchor`.
fn insert_line(text: &str, anchor: &str, line: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len() + line.len() + 1);
    let mut done = false;
    for l in text.split_inclusive('\n') {
        out.push_str(l);
        if !done && l.contains(anchor) {
            if !l.ends_with('\n') {
                out.push('\n');
            }
            out.push_str(line);
            out.push('\n');
            done = true;
        }
    }
    done.then_some(out)
}

pub fn run(options: Options) -> Result<()> {
    let began = Instant::now();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let kubeforge = build_binary("kubeforge-cli", "kubeforge", true)?;
    let assets = envtest()?;
    let go_binary = crate::go_tools::go(
        "`bench compare` builds Kubebuilder's scaffold with Go (install Go 1.25 or later)",
    )?;
    let tools = crate::kubebuilder::tools(&go_binary)?;
    let go = Go {
        path: crate::kubebuilder::path_with(&tools.dir)?,
        go: go_binary,
        kubebuilder: tools.kubebuilder,
        controller_gen: tools.controller_gen,
    };
    let scratch = tempfile::Builder::new()
        .prefix("kubeforge-bench-compare-")
        .tempdir()?;
    let target = shared_target_dir()?;
    let mut report = Report {
        rows: Vec::new(),
        floors: Vec::new(),
        notes: Vec::new(),
        commands: Vec::new(),
    };

    // The operators first: they need the most building, and a failure
    // there should cost the least time. Their rows go last.
    let kf = kubeforge_project(&kubeforge, scratch.path(), &target)?;
    let mut operator_rows = Report {
        rows: Vec::new(),
        floors: Vec::new(),
        notes: Vec::new(),
        commands: Vec::new(),
    };
    operators(
        &go,
        &kf,
        scratch.path(),
        &target,
        &assets,
        &options,
        &mut operator_rows,
    )?;
    scaffold(&kubeforge, &go, scratch.path(), options.runs, &mut report)?;
    let kb = kubebuilder_project(&go, scratch.path(), "kbscaffold")?;
    manifests(
        &kubeforge,
        &go,
        &kf,
        &kb,
        &target,
        options.runs,
        &mut report,
    )?;
    builds(&go, &kf, &kb, &target, &options, &mut report)?;
    let controller_runtime = {
        let go_mod = std::fs::read_to_string(kb.join("go.mod"))?;
        crate::kubebuilder::required_version(&go_mod, "sigs.k8s.io/controller-runtime")
            .unwrap_or_else(|| "unknown".into())
    };
    report.rows.append(&mut operator_rows.rows);
    report.floors.append(&mut operator_rows.floors);
    report.commands.append(&mut operator_rows.commands);

    let took = began.elapsed().as_secs_f64() / 60.0;
    let text = render(
        &report,
        &Environment::read(&go, &controller_runtime, load.trim())?,
        &options,
        took,
    );
    println!("\n{text}");
    let doc = root().join("docs/benchmarks.md");
    let current = std::fs::read_to_string(&doc).context("reading docs/benchmarks.md")?;
    std::fs::write(&doc, splice(&current, &text)).context("writing docs/benchmarks.md")?;
    eprintln!("wrote the table into {}", doc.display());
    Ok(())
}

/// Figure 1: `kubeforge init` + `create api` against Kubebuilder's, both as
/// users run it (modules fetched, `make generate`) and without either.
fn scaffold(
    kubeforge: &Path,
    go: &Go,
    scratch: &Path,
    runs: usize,
    report: &mut Report,
) -> Result<()> {
    eprintln!("==> scaffold: {runs} runs of each, alternating, after one untimed run");
    let kb_init = [
        "init",
        "--domain",
        "example.com",
        "--repo",
        "example.com/kbbench",
    ];
    let kb_api: Vec<&str> = [&crate::CREATE_MYAPP[..], &["--resource", "--controller"]].concat();
    // The same flags on both sides: a defaulting and a validating webhook.
    let webhook: Vec<&str> = [
        &["create", "webhook"][..],
        &crate::CREATE_MYAPP[2..],
        &["--defaulting", "--programmatic-validation"],
    ]
    .concat();
    let kubeforge_once = |dir: &Path| -> Result<f64> {
        let mut total = 0.0;
        for args in [
            &["init", "--domain", "example.com"][..],
            &crate::CREATE_MYAPP[..],
            &webhook[..],
        ] {
            total += timed(
                &format!("kubeforge {}", args.join(" ")),
                command(kubeforge).args(args).current_dir(dir),
            )?;
        }
        Ok(total)
    };
    let kubebuilder_once = |dir: &Path, lean: bool| -> Result<f64> {
        let init: Vec<&str> = if lean {
            [&kb_init[..], &["--fetch-deps=false"]].concat()
        } else {
            kb_init.to_vec()
        };
        let (api, webhook): (Vec<&str>, Vec<&str>) = if lean {
            (
                [&kb_api[..], &["--make=false"]].concat(),
                [&webhook[..], &["--make=false"]].concat(),
            )
        } else {
            (kb_api.clone(), webhook.clone())
        };
        let mut total = 0.0;
        for args in [init, api, webhook] {
            total += timed(
                &format!("kubebuilder {}", args.join(" ")),
                go.command(&go.kubebuilder, dir).args(&args),
            )?;
        }
        Ok(total)
    };
    let mut full = Row::new(
        "`init` + `create api --group apps --version v1 --kind MyApp` + `create webhook` (defaulting and validation), as users run them (Kubebuilder fetches modules and runs `make generate`)",
        Unit::Millis,
    );
    let mut lean = Row::new(
        "the same, Kubebuilder with `init --fetch-deps=false` and `create api`/`create webhook --make=false`",
        Unit::Millis,
    );
    for run in 0..=runs {
        let kf = kubeforge_once(&fresh(scratch, "scaffold-kf/myapp")?)?;
        let kb_full = kubebuilder_once(&fresh(scratch, "scaffold-kb/myapp")?, false)?;
        let kb_lean = kubebuilder_once(&fresh(scratch, "scaffold-kb-lean/myapp")?, true)?;
        eprintln!(
            "    run {run}{}: kubeforge {:.0} ms, Kubebuilder {:.1} s, Kubebuilder without fetch/make {:.2} s",
            if run == 0 { " (untimed)" } else { "" },
            kf * 1000.0,
            kb_full,
            kb_lean
        );
        if run > 0 {
            full.kubeforge.push(kf);
            full.kubebuilder.push(kb_full);
            lean.kubeforge.push(kf);
            lean.kubebuilder.push(kb_lean);
        }
    }
    report.rows.push(full);
    report.rows.push(lean);
    report.commands.push(format!(
        "scaffold: `kubeforge init --domain example.com && kubeforge {} && kubeforge {}` (release CLI) vs `kubebuilder {} && kubebuilder {} && kubebuilder {}`, and with `--fetch-deps=false` / `--make=false`; each in a fresh directory",
        crate::CREATE_MYAPP.join(" "),
        webhook.join(" "),
        kb_init.join(" "),
        kb_api.join(" "),
        webhook.join(" ")
    ));
    report.notes.push(
        "Kubebuilder's scaffold ran with the Go module and build caches warm (one untimed run first): \
         its `make generate` still `go install`s controller-gen into the new project's bin/."
            .into(),
    );
    Ok(())
}

/// A kubeforge project (`init` + `create api` + `manifests`, its
/// dependencies built into the shared target directory) with the operator
/// driver in it.
struct KubeforgeProject {
    dir: PathBuf,
    manager_crate: String,
}

fn kubeforge_project(kubeforge: &Path, scratch: &Path, target: &Path) -> Result<KubeforgeProject> {
    let dir = fresh(scratch, "kf/cmpbench")?;
    let root = root();
    let init: Vec<OsString> = [
        "init",
        "--domain",
        "example.com",
        "--project-name",
        "cmpbench",
        "--kubeforge-path",
    ]
    .iter()
    .map(OsString::from)
    .chain([root.into_os_string()])
    .collect();
    for args in [
        init,
        crate::CREATE_MYAPP.iter().map(OsString::from).collect(),
        vec![OsString::from("manifests")],
    ] {
        crate::step(
            &format!("kubeforge {}", args[0].to_string_lossy()),
            command(kubeforge)
                .args(&args)
                .current_dir(&dir)
                .env("CARGO_TARGET_DIR", target)
                .stdin(Stdio::null()),
        )?;
    }
    let examples = dir.join("manager/examples");
    std::fs::create_dir_all(&examples)?;
    std::fs::write(examples.join("opbench.rs"), DRIVER)?;
    // The driver reads the API server's /metrics with kube's raw request,
    // which takes an `http::Request` (already in the lock file via kube).
    let manifest = dir.join("manager/Cargo.toml");
    let marker = "# +kubeforge:scaffold:dev-dependencies";
    let text = std::fs::read_to_string(&manifest)?;
    if !text.contains(marker) {
        bail!(
            "{} has no `{marker}` line; update bench_compare",
            manifest.display()
        );
    }
    std::fs::write(
        &manifest,
        text.replacen(marker, &format!("http = \"1\"\n{marker}"), 1),
    )?;
    Ok(KubeforgeProject {
        dir,
        manager_crate: "cmpbench-manager".into(),
    })
}

/// Kubebuilder's scaffold as a user gets it (`init`, `create api`, then
/// the Makefile's `generate` and `manifests` with the cached controller-gen).
fn kubebuilder_project(go: &Go, scratch: &Path, name: &str) -> Result<PathBuf> {
    let dir = fresh(scratch, &format!("kb/{name}"))?;
    let api: Vec<&str> = [
        &crate::CREATE_MYAPP[..],
        &["--resource", "--controller", "--make=false"],
    ]
    .concat();
    let init = [
        "init",
        "--domain",
        "example.com",
        "--repo",
        "example.com/kbbench",
    ];
    crate::step(
        "kubebuilder init",
        go.command(&go.kubebuilder, &dir).args(init),
    )?;
    crate::step(
        "kubebuilder create api",
        go.command(&go.kubebuilder, &dir).args(&api),
    )?;
    crate::step(
        "controller-gen object (make generate)",
        go.command(&go.controller_gen, &dir).args(GENERATE_ARGS),
    )?;
    crate::step(
        "controller-gen rbac crd webhook (make manifests)",
        go.command(&go.controller_gen, &dir).args(MANIFESTS_ARGS),
    )?;
    Ok(dir)
}

/// The scaffolded Makefile's `generate` target's controller-gen arguments.
const GENERATE_ARGS: [&str; 2] = ["object:headerFile=hack/boilerplate.go.txt", "paths=./..."];

/// The scaffolded Makefile's `manifests` target's controller-gen arguments.
const MANIFESTS_ARGS: [&str; 5] = [
    "rbac:roleName=manager-role",
    "crd",
    "webhook",
    "paths=./...",
    "output:crd:artifacts:config=config/crd/bases",
];

/// Figure 2: `kubeforge manifests` against controller-gen as the Makefile
/// runs it, with nothing changed and after adding a field to the spec.
fn manifests(
    kubeforge: &Path,
    go: &Go,
    kf: &KubeforgeProject,
    kb: &Path,
    target: &Path,
    runs: usize,
    report: &mut Report,
) -> Result<()> {
    eprintln!("==> manifests: {runs} runs of each, alternating");
    let kf_types = kf.dir.join("api/src/apps/v1/my_app.rs");
    let kb_types = kb.join("api/v1/myapp_types.go");
    let kf_run = || {
        timed(
            "kubeforge manifests",
            command(kubeforge)
                .arg("manifests")
                .current_dir(&kf.dir)
                .env("CARGO_TARGET_DIR", target),
        )
    };
    let kb_run = || {
        timed(
            "controller-gen (make manifests)",
            go.command(&go.controller_gen, kb).args(MANIFESTS_ARGS),
        )
    };
    let mut unchanged = Row::new(
        "`manifests`, nothing changed (kubeforge vs controller-gen as `make manifests` runs it)",
        Unit::Seconds,
    );
    let mut edited = Row::new(
        "`manifests` after adding a field to the spec",
        Unit::Seconds,
    )
    .target(1.0);
    let kf_edited = |edit: &str| {
        let line = format!("    pub bench_edit_{edit}: Option<i32>,");
        with_line(&kf_types, "pub replicas: i32,", &line, kf_run)
    };
    let kb_edited = |edit: &str| {
        let line = format!("\tBenchEdit{edit} *int32 `json:\"benchEdit{edit},omitempty\"`");
        with_line(&kb_types, "Foo *string", &line, kb_run)
    };
    // Untimed, each path once, so every timed run finds the caches warm:
    // the first edit after the operators' runs read the project's
    // dependencies back from disk (7.9 s against 0.75 s for the next).
    kf_edited("warm")?;
    kb_edited("warm")?;
    kf_run()?;
    kb_run()?;
    for run in 0..runs {
        unchanged.kubeforge.push(kf_run()?);
        unchanged.kubebuilder.push(kb_run()?);
        edited.kubeforge.push(kf_edited(&run.to_string())?);
        edited.kubebuilder.push(kb_edited(&run.to_string())?);
        // Putting the file back is an edit too: regenerate, untimed, so
        // the next "nothing changed" run is one.
        kf_run()?;
        kb_run()?;
        eprintln!(
            "    run {run}: unchanged {:.2} s / {:.2} s, edited {:.2} s / {:.2} s",
            unchanged.kubeforge[run],
            unchanged.kubebuilder[run],
            edited.kubeforge[run],
            edited.kubebuilder[run]
        );
    }
    // Leave both projects as they were for the builds.
    kf_run()?;
    kb_run()?;
    report.rows.push(unchanged);
    report.rows.push(edited);
    report.commands.push(format!(
        "manifests: `kubeforge manifests` (release CLI, the project's dependencies built in the shared target directory) vs `controller-gen {}`, warm Go build cache; the edit adds `pub bench_edit_N: Option<i32>,` / `BenchEditN *int32` to the spec",
        MANIFESTS_ARGS.join(" ")
    ));
    Ok(())
}

/// Figure 3: incremental debug builds after a one-line change to the
/// reconcile, release binary sizes, and (with `--cold`) cold builds.
fn builds(
    go: &Go,
    kf: &KubeforgeProject,
    kb: &Path,
    target: &Path,
    options: &Options,
    report: &mut Report,
) -> Result<()> {
    let runs = options.runs;
    eprintln!("==> builds: {runs} incremental builds of each, alternating");
    let kf_build = |target: &Path| {
        timed(
            "cargo build (debug manager)",
            cargo()
                .args([
                    "build",
                    "--quiet",
                    "-p",
                    &kf.manager_crate,
                    "--bin",
                    "manager",
                ])
                .current_dir(&kf.dir)
                .env("CARGO_TARGET_DIR", target),
        )
    };
    let kb_build = |cache: Option<&Path>| {
        let mut cmd = go.command(&go.go, kb);
        cmd.args(["build", "-o", "bin/manager", "cmd/main.go"]);
        if let Some(cache) = cache {
            cmd.env("GOCACHE", cache);
        }
        timed("go build (make build)", &mut cmd)
    };
    let kf_reconcile = kf.dir.join("manager/src/controller/my_app.rs");
    let kb_reconcile = kb.join("internal/controller/myapp_controller.go");
    let mut incremental = Row::new(
        "debug build after a one-line change to the reconcile (`cargo build` of the manager vs `go build -o bin/manager cmd/main.go`)",
        Unit::Seconds,
    );
    kf_build(target)?;
    kb_build(None)?;
    for run in 0..runs {
        incremental.kubeforge.push(with_line(
            &kf_reconcile,
            "// difference (create or update owned objects",
            &format!("            let _bench_edit = {run};"),
            || kf_build(target),
        )?);
        incremental.kubebuilder.push(with_line(
            &kb_reconcile,
            "_ = logf.FromContext(ctx)",
            &format!("\t_ = {run}"),
            || kb_build(None),
        )?);
        eprintln!(
            "    run {run}: {:.1} s / {:.1} s",
            incremental.kubeforge[run], incremental.kubebuilder[run]
        );
    }
    report.rows.push(incremental);

    eprintln!("==> release binaries of the scaffolds");
    crate::step(
        "cargo build --release (the scaffold's profile)",
        cargo()
            .args([
                "build",
                "--release",
                "--quiet",
                "-p",
                &kf.manager_crate,
                "--bin",
                "manager",
            ])
            .current_dir(&kf.dir)
            .env("CARGO_TARGET_DIR", target),
    )?;
    let kf_size = std::fs::metadata(target.join("release/manager"))?.len();
    // As the scaffold's Dockerfile builds it.
    crate::step(
        "go build -a -o manager cmd/main.go (the Dockerfile's build)",
        go.command(&go.go, kb)
            .args(["build", "-a", "-o", "manager", "cmd/main.go"]),
    )?;
    let kb_size = std::fs::metadata(kb.join("manager"))?.len();
    let mut size = Row::new(
        "scaffolded manager, release binary (Kubebuilder: the Dockerfile's `CGO_ENABLED=0 go build -a -o manager cmd/main.go`)",
        Unit::Mib,
    );
    size.kubeforge.push(kf_size as f64 / 1048576.0);
    size.kubebuilder.push(kb_size as f64 / 1048576.0);
    report.rows.push(size);

    if options.cold {
        eprintln!("==> cold builds (--cold), once each");
        let cold_target = crate::target_dir()?.join("bench-compare-cold");
        if cold_target.exists() {
            std::fs::remove_dir_all(&cold_target)?;
        }
        let cold_cache = tempfile::Builder::new()
            .prefix("kubeforge-cold-gocache-")
            .tempdir()?;
        let mut cold = Row::new(
            "cold debug build of the scaffolded manager (fresh CARGO_TARGET_DIR / fresh GOCACHE; registry and module caches warm)",
            Unit::Seconds,
        );
        cold.kubeforge.push(kf_build(&cold_target)?);
        cold.kubebuilder.push(kb_build(Some(cold_cache.path()))?);
        std::fs::remove_dir_all(&cold_target)?;
        report.rows.push(cold);
        install(go, &cold_target, runs, report)?;
    } else {
        report.notes.push(
            "Cold builds: not measured in this run (`--cold` measures them, once each).".into(),
        );
    }
    report.notes.push(
        "Container images: not measured (no Docker on this machine). kubeforge's Dockerfile and Kubebuilder's both end on `gcr.io/distroless/static:nonroot`; Kubebuilder builds on `golang:1.26`."
            .into(),
    );
    report.commands.push(format!(
        "builds: `cargo build -p {} --bin manager` after inserting `let _bench_edit = N;` in the reconcile vs `go build -o bin/manager cmd/main.go` after inserting `_ = N`; `cargo build --release` vs `go build -a -o manager cmd/main.go`",
        kf.manager_crate
    ));
    Ok(())
}

/// Installing each tool as its README says, from empty build caches (the
/// crates and Go modules already downloaded): the first thing a newcomer
/// waits for. Alternating, `runs` times each.
fn install(go: &Go, cold_target: &Path, runs: usize, report: &mut Report) -> Result<()> {
    eprintln!("==> installing the CLIs (--cold): {runs} runs of each, alternating");
    let go_install = format!("sigs.k8s.io/kubebuilder/v4@{}", KUBEBUILDER_VERSION);
    let mut row = Row::new(
        format!(
            "installing the CLI (`cargo install --locked --path crates/kubeforge-cli`, empty target directory, vs `go install {go_install}`, empty GOCACHE)"
        ),
        Unit::Seconds,
    )
    .target(2.0);
    for run in 0..runs {
        let cache = tempfile::Builder::new()
            .prefix("kubeforge-install-gocache-")
            .tempdir()?;
        let bin = tempfile::Builder::new()
            .prefix("kubeforge-install-bin-")
            .tempdir()?;
        row.kubebuilder.push(timed(
            "go install (Kubebuilder)",
            go.command(&go.go, bin.path())
                .args(["install", &go_install])
                .env("GOCACHE", cache.path())
                .env("GOBIN", bin.path()),
        )?);
        if cold_target.exists() {
            std::fs::remove_dir_all(cold_target)?;
        }
        row.kubeforge.push(timed(
            "cargo install --path crates/kubeforge-cli",
            cargo()
                .args(["install", "--quiet", "--locked", "--path"])
                .arg(root().join("crates/kubeforge-cli"))
                .arg("--root")
                .arg(bin.path())
                .current_dir(root())
                .env("CARGO_TARGET_DIR", cold_target),
        )?);
        std::fs::remove_dir_all(cold_target)?;
        eprintln!(
            "    run {run}: {:.1} s / {:.1} s",
            row.kubeforge[run], row.kubebuilder[run]
        );
    }
    report.rows.push(row);
    Ok(())
}

/// One driver result.
#[derive(Debug, Clone, PartialEq)]
struct Run {
    n: u64,
    first_s: f64,
    converge_s: f64,
    cpu_s: f64,
    peak_mib: f64,
    rss10_mib: f64,
    /// Requests the API server served from start to convergence, watches
    /// left out.
    requests: f64,
    /// Of those, writes to MyApps (the finalizer, the status).
    app_writes: f64,
}

/// Reads the driver's `RESULT n=100 first_s=0.2 ...` line.
fn parse_result(text: &str) -> Result<Run> {
    let line = text
        .lines()
        .find(|l| l.starts_with("RESULT "))
        .with_context(|| format!("the operator driver printed no RESULT line:\n{text}"))?;
    let field = |key: &str| -> Result<f64> {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
            .with_context(|| format!("no `{key}` in the driver's line `{line}`"))?
            .parse::<f64>()
            .with_context(|| format!("`{key}` is not a number in `{line}`"))
    };
    Ok(Run {
        n: field("n")? as u64,
        first_s: field("first_s")?,
        converge_s: field("converge_s")?,
        cpu_s: field("cpu_s")?,
        peak_mib: field("peak_mib")?,
        rss10_mib: field("rss10_mib")?,
        requests: field("requests")?,
        app_writes: field("app_writes")?,
    })
}

/// Figure 4: the example's operator in both, on fresh control planes, and
/// the floor: the same writes from a load generator.
fn operators(
    go: &Go,
    kf: &KubeforgeProject,
    scratch: &Path,
    target: &Path,
    assets: &Path,
    options: &Options,
    report: &mut Report,
) -> Result<()> {
    // The driver, and the example's manager (release, the example's profile).
    crate::step(
        "build the operator driver (release)",
        cargo()
            .args([
                "build",
                "--release",
                "--quiet",
                "-p",
                &kf.manager_crate,
                "--example",
                "opbench",
            ])
            .current_dir(&kf.dir)
            .env("CARGO_TARGET_DIR", target),
    )?;
    let driver = scratch.join("opbench");
    std::fs::copy(target.join("release/examples/opbench"), &driver)?;
    let example = crate::example::dir();
    let kf_manager = crate::bench_memory::build_manager(
        "the MyApp example's manager",
        &example,
        &["-p", "myapp-manager"],
        target,
        scratch,
    )?;
    let kb_dir = kubebuilder_project(go, scratch, "kbop")?;
    std::fs::write(kb_dir.join("api/v1/myapp_types.go"), GO_TYPES)?;
    std::fs::write(
        kb_dir.join("internal/controller/myapp_controller.go"),
        GO_CONTROLLER,
    )?;
    std::fs::write(kb_dir.join("cmd/bench_config.go"), GO_CONFIG)?;
    let main_go = kb_dir.join("cmd/main.go");
    let main = std::fs::read_to_string(&main_go)?;
    if !main.contains("ctrl.GetConfigOrDie()") {
        bail!(
            "Kubebuilder's cmd/main.go no longer calls ctrl.GetConfigOrDie(); update bench_compare"
        );
    }
    std::fs::write(
        &main_go,
        main.replacen("ctrl.GetConfigOrDie()", "benchConfig()", 1),
    )?;
    // The scaffold's controller test refers to the scaffold's spec; the
    // build below does not compile tests, but `go vet` would.
    let _ = std::fs::remove_file(kb_dir.join("internal/controller/myapp_controller_test.go"));
    crate::step(
        "controller-gen object",
        go.command(&go.controller_gen, &kb_dir).args(GENERATE_ARGS),
    )?;
    crate::step(
        "controller-gen manifests",
        go.command(&go.controller_gen, &kb_dir).args(MANIFESTS_ARGS),
    )?;
    let kb_manager = scratch.join("kbop-manager");
    crate::step(
        "go build the Kubebuilder operator",
        go.command(&go.go, &kb_dir)
            .arg("build")
            .arg("-o")
            .arg(&kb_manager)
            // The package, not cmd/main.go: cmd/bench_config.go is part of it.
            .arg("./cmd"),
    )?;
    let mut size = Row::new(
        "MyApp operator, release binary (kubeforge: the example's profile; Go: `go build`)",
        Unit::Mib,
    );
    size.kubeforge
        .push(std::fs::metadata(&kf_manager)?.len() as f64 / 1048576.0);
    size.kubebuilder
        .push(std::fs::metadata(&kb_manager)?.len() as f64 / 1048576.0);
    report.rows.push(size);

    let kf_crds = example.join("config/crd/bases");
    let kb_crds = kb_dir.join("config/crd/bases");
    let drive = |args: Vec<OsString>, env: &[(&str, &str)]| -> Result<Run> {
        let output = command(&driver)
            .args(&args)
            .envs(env.iter().copied())
            .env("KUBEBUILDER_ASSETS", assets)
            .stderr(Stdio::inherit())
            .output()
            .context("running the operator driver")?;
        if !output.status.success() {
            bail!(
                "the operator driver failed ({}) with {:?}",
                output.status,
                args
            );
        }
        parse_result(&String::from_utf8_lossy(&output.stdout))
    };
    let manager_args = |manager: &Path, crds: &Path, n: u64, extra: &[&str]| -> Vec<OsString> {
        let mut args = vec![
            OsString::from("manager"),
            manager.as_os_str().to_owned(),
            crds.as_os_str().to_owned(),
            OsString::from(n.to_string()),
        ];
        args.extend(extra.iter().map(OsString::from));
        args
    };
    let kb_extra = [
        "--metrics-bind-address=0",
        "--health-probe-bind-address=0",
        "--zap-log-level=error",
    ];
    let mut counts = vec![100u64, 1000];
    if options.large {
        counts.push(10000);
    }
    for n in counts {
        let large = n >= 10000;
        let label = |what: &str| format!("N = {n}: {what}");
        let mut first = Row::new(label("start → first status written"), Unit::Seconds).target(1.0);
        let mut converge = Row::new(label("start → converged"), Unit::Seconds).target(1.0);
        // client-go rate-limits each REST client (one per kind, more for
        // the API reader and events) on its own; kubeforge has one client.
        let mut shared = Row::new(
            label(
                "start → converged, the Go client with one shared 50 QPS bucket (`BENCH_SHARED_RATE_LIMITER=1`)",
            ),
            Unit::Seconds,
        );
        let mut cpu = Row::new(label("CPU (user + system) at convergence"), Unit::Seconds);
        let mut peak = Row::new(label("peak RSS (VmHWM)"), Unit::Mib);
        let mut rss = Row::new(label("RSS 10 s after converging"), Unit::Mib);
        // What the converge time is made of: the API server's own count.
        let mut requests = Row::new(
            label("requests the API server served, start → converged (watches left out)"),
            Unit::Count,
        );
        let mut app_writes = Row::new(
            label(
                "of those, writes to MyApps (finalizer, status; one 50 QPS bucket on both sides)",
            ),
            Unit::Count,
        );
        if large {
            cpu = cpu.target(0.5);
            rss = rss.target(0.33);
        }
        let (mut floor_limited, mut floor_free) = (Vec::new(), Vec::new());
        for run in 0..options.runs {
            eprintln!("==> operators, N = {n}, run {}", run + 1);
            let ours = drive(manager_args(&kf_manager, &kf_crds, n, &[]), &[])?;
            eprintln!("    kubeforge: {ours:?}");
            let theirs = drive(manager_args(&kb_manager, &kb_crds, n, &kb_extra), &[])?;
            eprintln!("    Kubebuilder: {theirs:?}");
            // Only where it takes seconds: it explains, it is not a target.
            if n <= 100 {
                let one_bucket = drive(
                    manager_args(&kb_manager, &kb_crds, n, &kb_extra),
                    &[("BENCH_SHARED_RATE_LIMITER", "1")],
                )?;
                eprintln!("    Kubebuilder, one shared rate limiter: {one_bucket:?}");
                shared.kubeforge.push(ours.converge_s);
                shared.kubebuilder.push(one_bucket.converge_s);
            }
            for (row, value) in [
                (&mut first, (ours.first_s, theirs.first_s)),
                (&mut converge, (ours.converge_s, theirs.converge_s)),
                (&mut cpu, (ours.cpu_s, theirs.cpu_s)),
                (&mut peak, (ours.peak_mib, theirs.peak_mib)),
                (&mut rss, (ours.rss10_mib, theirs.rss10_mib)),
                (&mut requests, (ours.requests, theirs.requests)),
                (&mut app_writes, (ours.app_writes, theirs.app_writes)),
            ] {
                row.kubeforge.push(value.0);
                row.kubebuilder.push(value.1);
            }
            let floor = |qps: &str| {
                drive(
                    vec![
                        OsString::from("floor"),
                        kf_crds.as_os_str().to_owned(),
                        OsString::from(n.to_string()),
                        OsString::from(qps),
                    ],
                    &[],
                )
            };
            let limited = floor("50")?;
            let free = floor("0")?;
            eprintln!(
                "    floor: {:.2} s at 50 QPS, {:.2} s unlimited",
                limited.converge_s, free.converge_s
            );
            floor_limited.push(limited.converge_s);
            floor_free.push(free.converge_s);
        }
        let (Some(limited), Some(free)) = (median(&floor_limited), median(&floor_free)) else {
            bail!("no floor measured at N = {n}");
        };
        let ratio = |samples: &[f64], floor: f64| {
            median(samples).map_or_else(String::new, |c| format!("{:.2}", c / floor))
        };
        report.floors.push(format!(
            "| {n} | {} | {} | {} ({}) | {} | {} |",
            Unit::Seconds.format(limited),
            Unit::Seconds.format(free),
            ratio(&converge.kubeforge, limited),
            if median(&converge.kubeforge).is_some_and(|c| c / limited <= 1.2) {
                "met"
            } else {
                "missed"
            },
            ratio(&converge.kubebuilder, limited),
            ratio(&converge.kubebuilder, free),
        ));
        report.rows.extend([first, converge, requests, app_writes]);
        if !shared.kubebuilder.is_empty() {
            report.rows.push(shared);
        }
        report.rows.extend([cpu, peak, rss]);
    }
    report.commands.push(format!(
        "operators: `opbench manager <manager> <crd dir> N` (driver: xtask/src/bench_compare/opbench.rs) with the example's release manager (no extra flags; METRICS_BIND_ADDRESS=0, HEALTH_PROBE_BIND_ADDRESS=0, ENABLE_WEBHOOKS=false, LOG_LEVEL=warn) and the Go operator (`{}`); floor: `opbench floor <crd dir> N 50` and `... 0`",
        kb_extra.join(" ")
    ));
    Ok(())
}

/// The machine and tool versions the report states.
struct Environment {
    cores: usize,
    memory_gib: f64,
    commit: String,
    rustc: String,
    go: String,
    controller_runtime: String,
    load: String,
}

impl Environment {
    fn read(go: &Go, controller_runtime: &str, load: &str) -> Result<Environment> {
        let output = |cmd: &mut Command| -> String {
            cmd.output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
                .unwrap_or_else(|| "unknown".into())
        };
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory_kib: f64 = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0.0);
        let mut commit = output(command("git").args(["rev-parse", "--short", "HEAD"]));
        if !output(command("git").args(["status", "--porcelain"])).is_empty() {
            commit.push_str(" + uncommitted changes");
        }
        Ok(Environment {
            cores: std::thread::available_parallelism().map_or(0, usize::from),
            memory_gib: memory_kib / 1048576.0,
            commit,
            rustc: output(command("rustc").arg("--version")),
            go: output(Command::new(&go.go).arg("version")),
            controller_runtime: controller_runtime.to_owned(),
            load: load.to_owned(),
        })
    }
}

/// The Markdown that goes between the markers.
fn render(report: &Report, env: &Environment, options: &Options, minutes: f64) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "Measured by `cargo xtask bench compare{}{}{}` in {minutes:.0} min: medians of {} alternating runs of each side.\n\n",
        if options.large { " --large" } else { "" },
        if options.runs != 3 { format!(" --runs {}", options.runs) } else { String::new() },
        if options.cold { " --cold" } else { "" },
        options.runs
    ));
    out.push_str(&format!(
        "Machine: {} cores, {:.0} GiB; load average at the start {}. kubeforge {}, {}; Kubebuilder {KUBEBUILDER_VERSION}, controller-gen {CONTROLLER_TOOLS_VERSION}, controller-runtime {}, {}.\n\n",
        env.cores, env.memory_gib, env.load, env.commit, env.rustc, env.controller_runtime, env.go
    ));
    out.push_str("| Figure | kubeforge | Kubebuilder | kubeforge / Kubebuilder | Target |\n| --- | --- | --- | --- | --- |\n");
    for row in &report.rows {
        out.push_str(&row.markdown());
        out.push('\n');
    }
    if !report.floors.is_empty() {
        out.push_str("\nThe floor: the same Deployment, Service and status writes per MyApp made directly by the driver, 4 at a time (target: converge ≤ 1.2 × floor at 50 QPS).\n\n");
        out.push_str("| MyApps | Floor, 50 QPS / burst 100 | Floor, no limit | kubeforge converge / floor | Kubebuilder converge / floor (50 QPS) | Kubebuilder converge / floor (no limit) |\n| --- | --- | --- | --- | --- | --- |\n");
        for line in &report.floors {
            out.push_str(line);
            out.push('\n');
        }
    }
    out.push('\n');
    for note in &report.notes {
        out.push_str(&format!("- {note}\n"));
    }
    out.push_str("\nCommands:\n\n");
    for command in &report.commands {
        out.push_str(&format!("- {command}\n"));
    }
    out
}

/// `doc` with the text between [`BEGIN`] and [`END`] replaced by `block`; a
/// section with both markers is appended when they are missing.
fn splice(doc: &str, block: &str) -> String {
    let block = block.trim_end();
    if let (Some(start), Some(end)) = (doc.find(BEGIN), doc.find(END))
        && start < end
    {
        let before = &doc[..start + BEGIN.len()];
        let after = &doc[end..];
        return format!("{before}\n{block}\n{after}");
    }
    format!(
        "{}\n\n## Side by side with Kubebuilder\n\n{BEGIN}\n{block}\n{END}\n",
        doc.trim_end()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_the_flags() {
        assert_eq!(Options::parse(&[]).unwrap(), Options::default());
        assert_eq!(
            Options::parse(&args(&["--runs", "1", "--large", "--cold"])).unwrap(),
            Options {
                large: true,
                runs: 1,
                cold: true
            }
        );
        for bad in [
            &["--runs"][..],
            &["--runs", "0"],
            &["--runs", "x"],
            &["--fast"],
        ] {
            let err = Options::parse(&args(bad)).unwrap_err().to_string();
            assert!(err.contains("--runs") || err.contains("`--fast`"), "{err}");
        }
    }

    #[test]
    fn parses_the_driver_line() {
        let run = parse_result(
            "noise\nRESULT n=1000 first_s=0.412 converge_s=61.200 cpu_s=3.10 peak_mib=20.5 rss10_mib=18.0 requests=5012 app_writes=2003\n",
        )
        .unwrap();
        assert_eq!(run.n, 1000);
        assert_eq!(run.converge_s, 61.2);
        assert_eq!(run.rss10_mib, 18.0);
        assert!(parse_result("nothing").is_err());
        assert!(parse_result("RESULT n=1 first_s=x").is_err());
    }

    #[test]
    fn medians_ratios_and_verdicts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[]), None);
        let mut row = Row::new("converge", Unit::Seconds).target(1.0);
        row.kubeforge = vec![2.0, 4.0, 3.0];
        row.kubebuilder = vec![2.0, 2.0, 2.0];
        assert_eq!(
            row.markdown(),
            "| converge | 3.00 s | 2.00 s | 1.50 | ≤ 1.00: missed |"
        );
        row.kubeforge = vec![1.0];
        assert_eq!(
            row.markdown(),
            "| converge | 1.00 s | 2.00 s | 0.50 | ≤ 1.00: met |"
        );
        let empty = Row::new("cold", Unit::Mib);
        assert_eq!(
            empty.markdown(),
            "| cold | not measured | not measured |  |  |"
        );
    }

    #[test]
    fn inserts_one_line_after_the_anchor() {
        let text = "struct S {\n    pub replicas: i32,\n}\n";
        assert_eq!(
            insert_line(text, "pub replicas", "    pub x: u8,").unwrap(),
            "struct S {\n    pub replicas: i32,\n    pub x: u8,\n}\n"
        );
        assert!(insert_line(text, "missing", "x").is_none());
    }

    #[test]
    fn splices_between_the_markers() {
        let doc = format!("# B\n\nkeep\n\n{BEGIN}\nold\n{END}\n\ntail\n");
        let out = splice(&doc, "new\n");
        assert_eq!(out, format!("# B\n\nkeep\n\n{BEGIN}\nnew\n{END}\n\ntail\n"));
        let appended = splice("# B\n", "new");
        assert!(appended.starts_with("# B\n\n## Side by side"), "{appended}");
        assert!(
            appended.ends_with(&format!("{BEGIN}\nnew\n{END}\n")),
            "{appended}"
        );
    }
}
