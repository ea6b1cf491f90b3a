//! `cargo xtask cargo-generate`: the cargo-generate template
//! (`cargo-generate/operator/`, generated from templates/ by the CLI's
//! `cargo_generate` module) run with the real cargo-generate and compared
//! with what `kubeforge init` + `kubeforge create api` write for the same
//! answers, file by file.
//!
//! 1. The committed template is current (its sync test).
//! 2. cargo-generate is installed once per machine from crates.io, pinned
//!    and `--locked`, into `${XDG_CACHE_HOME:-~/.cache}/kubeforge/cargo-generate/<version>`,
//!    outside the repository, staged and renamed into place.
//! 3. For every answer set in [`CASES`] (both scopes, a multi-word kind, a
//!    dotted domain, dashed project names, every licence, values the YAML
//!    writer must quote) both tools scaffold into scratch directories, and
//!    any difference fails with `diff -ru`'s unified diff (which also names
//!    missing and extra files).
//! 4. Answers kubeforge refuses are refused by the template too
//!    ([`REJECTED`]).
//! 5. One generated project (depending on this checkout by path) builds and
//!    passes its tests against a real API server, in the shared target
//!    directory (`<target>/e2e`, seeded with this workspace's Cargo.lock),
//!    then is carried on: `kubeforge create api` for a second kind and
//!    `create webhook` for it (after which it is still identical to the
//!    kubeforge-made project given the same commands), `kubeforge
//!    manifests` and `manifests --check`, and its tests again.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use anyhow::{Context as _, Result, bail};

/// The newest cargo-generate whose published Cargo.lock builds with this
/// workspace's Rust (1.95): 0.24 and later lock crates that need 1.96+.
pub const CARGO_GENERATE_VERSION: &str = "0.23.14";

/// One set of answers, given to both tools.
struct Case {
    name: &'static str,
    domain: &'static str,
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    namespaced: bool,
    license: &'static str,
    owner: &'static str,
    /// Depend on this checkout by path (else crates.io at this version).
    from_path: bool,
}

const CASES: [Case; 5] = [
    Case {
        name: "shop",
        domain: "example.com",
        group: "apps",
        version: "v1",
        kind: "MyApp",
        namespaced: true,
        license: "apache2",
        owner: "",
        from_path: false,
    },
    Case {
        name: "cron-operator",
        domain: "tutorial.kubebuilder.io",
        group: "batch",
        version: "v1",
        kind: "CronJob",
        namespaced: true,
        license: "mit",
        owner: "The CronJob Authors",
        from_path: false,
    },
    Case {
        name: "infra-cache-ops",
        domain: "corp.example",
        group: "infra.cache",
        version: "v1alpha1",
        kind: "CacheCluster",
        namespaced: false,
        license: "none",
        owner: "",
        from_path: false,
    },
    // Values kubeforge's YAML writer quotes, a keyword group (a raw
    // identifier module), a plural from the irregular table.
    Case {
        name: "quoting",
        domain: "on",
        group: "type",
        version: "v2beta3",
        kind: "Yes",
        namespaced: true,
        license: "apache2",
        owner: "1.0",
        from_path: false,
    },
    // The one that is built and tested: a group sorting after
    // events.k8s.io (role.yaml's rule order), a path dependency.
    Case {
        name: "cg-memo",
        domain: "memo.example.org",
        group: "notes",
        version: "v1",
        kind: "PolicyIndex",
        namespaced: true,
        license: "apache2",
        owner: "",
        from_path: true,
    },
];

/// Answers kubeforge refuses, as `--define`s, and the group, version and
/// kind `create api` refuses them as.
const REJECTED: [(&str, [&str; 3]); 4] = [
    ("kind=myApp", ["apps", "v1", "myApp"]),
    ("version=v0", ["apps", "v0", "MyApp"]),
    ("group=Apps", ["Apps", "v1", "MyApp"]),
    // The hook's check: a kind that shadows a prelude name.
    ("kind=Box", ["apps", "v1", "Box"]),
];

pub fn run() -> Result<()> {
    crate::step(
        "the cargo-generate template is current (cargo_generate_template test)",
        crate::cargo().args([
            "test",
            "--quiet",
            "-p",
            "kubeforge-cli",
            "--test",
            "cargo_generate_template",
        ]),
    )?;
    let cargo_generate = install()?;
    let kubeforge = crate::kubeforge_binary()?;
    let checkout = std::fs::canonicalize(crate::root()).context("the checkout's path")?;
    let scratch = tempfile::Builder::new()
        .prefix("kubeforge-cargo-generate-")
        .tempdir()
        .context("creating a scratch directory")?;
    let generated = scratch.path().join("cargo-generate");
    let scaffolded = scratch.path().join("kubeforge");
    for dir in [&generated, &scaffolded] {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    for case in &CASES {
        let ours = generate(&cargo_generate, &checkout, &generated, case, &[])?;
        let theirs = scaffold(&kubeforge, &checkout, &scaffolded, case)?;
        compare(case.name, &theirs, &ours)?;
    }
    for (define, [group, version, kind]) in REJECTED {
        let flags = [
            "create",
            "api",
            "--group",
            group,
            "--version",
            version,
            "--kind",
            kind,
        ];
        let into = tempfile::tempdir_in(scratch.path()).context("creating a scratch directory")?;
        let out = run_generate(
            &cargo_generate,
            &checkout,
            into.path(),
            &CASES[0],
            &[define],
        )?;
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // cargo-generate's own words for a regex mismatch, or the hook's
        // (kubeforge's) for what a regex cannot say; either names the value.
        let value = define.split_once('=').map_or(define, |(_, v)| v);
        let reason = said
            .lines()
            .find(|l| l.contains("Sorry") || l.contains("Runtime error"))
            .unwrap_or_default()
            .trim();
        if out.status.success() || !reason.contains(value) {
            bail!(
                "cargo generate did not refuse `--define {define}` (which kubeforge refuses) naming the value:\n{said}"
            );
        }
        eprintln!("refused as expected: --define {define}: {reason}");
        let project = scaffolded.join(CASES[0].name);
        let out = Command::new(&kubeforge)
            .args(flags)
            .current_dir(&project)
            .stdin(Stdio::null())
            .output()
            .context("running kubeforge")?;
        if out.status.success() {
            bail!(
                "kubeforge accepted `{}`, which the template refuses",
                flags.join(" ")
            );
        }
    }
    let Some(case) = CASES.iter().find(|c| c.from_path) else {
        bail!("no case depends on the checkout by path");
    };
    build_and_carry_on(&kubeforge, case, &generated, &scaffolded)
}

/// `cargo generate` for `case` into `into/<name>`; returns that directory.
fn generate(
    cargo_generate: &Path,
    checkout: &Path,
    into: &Path,
    case: &Case,
    extra: &[&str],
) -> Result<PathBuf> {
    let out = run_generate(cargo_generate, checkout, into, case, extra)?;
    if !out.status.success() {
        bail!(
            "cargo generate for {} failed:\n{}{}",
            case.name,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(into.join(case.name))
}

fn run_generate(
    cargo_generate: &Path,
    checkout: &Path,
    into: &Path,
    case: &Case,
    extra: &[&str],
) -> Result<Output> {
    let path = if case.from_path {
        checkout.to_string_lossy().into_owned()
    } else {
        String::new()
    };
    let defines = [
        format!("domain={}", case.domain),
        format!("group={}", case.group),
        format!("version={}", case.version),
        format!("kind={}", case.kind),
        format!("namespaced={}", case.namespaced),
        format!("license={}", case.license),
        format!("owner={}", case.owner),
        format!("kubeforge_path={path}"),
    ];
    let mut cmd = Command::new(cargo_generate);
    cmd.arg("generate")
        // The template folder itself: `--path <checkout> cargo-generate/operator`
        // makes the same project but first copies the whole checkout,
        // target/ included when it is there.
        .arg("--path")
        .arg(checkout.join("cargo-generate").join("operator"))
        .args(["--name", case.name, "--silent", "--vcs", "none"])
        .arg("--destination")
        .arg(into);
    // Later --defines win, so a rejected answer replaces the case's.
    for define in defines
        .iter()
        .map(String::as_str)
        .chain(extra.iter().copied())
    {
        cmd.args(["--define", define]);
    }
    eprintln!("==> cargo generate {} ({})", case.name, extra.join(" "));
    // Its errors without a backtrace, whatever the caller's RUST_BACKTRACE.
    cmd.env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .output()
        .context("running cargo-generate")
}

/// `kubeforge init` + `kubeforge create api` for `case` into
/// `into/<name>`; returns that directory.
fn scaffold(kubeforge: &Path, checkout: &Path, into: &Path, case: &Case) -> Result<PathBuf> {
    let project = into.join(case.name);
    std::fs::create_dir_all(&project).with_context(|| format!("creating {}", project.display()))?;
    let mut init: Vec<String> = [
        "init",
        "--domain",
        case.domain,
        "--project-name",
        case.name,
        "--license",
        case.license,
    ]
    .map(String::from)
    .to_vec();
    if !case.owner.is_empty() {
        init.extend(["--owner".into(), case.owner.into()]);
    }
    if case.from_path {
        init.extend(["--kubeforge-path".into(), checkout.to_string_lossy().into()]);
    } else {
        init.extend(["--kubeforge-version".into(), kubeforge_version()?]);
    }
    let namespaced = format!("--namespaced={}", case.namespaced);
    let create = [
        "create",
        "api",
        "--group",
        case.group,
        "--version",
        case.version,
        "--kind",
        case.kind,
        &namespaced,
    ];
    kubeforge_in(
        kubeforge,
        &project,
        &init.iter().map(String::as_str).collect::<Vec<_>>(),
    )?;
    kubeforge_in(kubeforge, &project, &create)?;
    Ok(project)
}

fn kubeforge_in(kubeforge: &Path, dir: &Path, args: &[&str]) -> Result<()> {
    crate::step(
        &format!("kubeforge {}", args.join(" ")),
        Command::new(kubeforge)
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stdin(Stdio::null()),
    )
}

/// The version the kubeforge crates have in this checkout: what both
/// tools write as the crates.io dependency.
fn kubeforge_version() -> Result<String> {
    let text = std::fs::read_to_string(crate::root().join("Cargo.toml"))
        .context("reading the workspace's Cargo.toml")?;
    let mut in_package = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[workspace.package]";
        } else if in_package && let Some(value) = line.strip_prefix("version") {
            return Ok(value
                .trim_start_matches([' ', '='])
                .trim_matches('"')
                .to_string());
        }
    }
    bail!("no version in the workspace's [workspace.package]")
}

/// Fails with a unified diff (and the files only one side has) unless the
/// two trees are identical.
fn compare(what: &str, kubeforge: &Path, cargo_generate: &Path) -> Result<()> {
    let out = Command::new("diff")
        .args(["-ru", "--exclude=target", "--exclude=Cargo.lock"])
        .arg(kubeforge)
        .arg(cargo_generate)
        .output()
        .context("running diff")?;
    if !out.status.success() {
        bail!(
            "{what}: cargo generate's project differs from kubeforge's (- kubeforge, + cargo generate):\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    eprintln!("{what}: the cargo-generate project and kubeforge's are identical");
    Ok(())
}

/// The generated project's own tests, then more kubeforge commands on it,
/// matched on the kubeforge-made twin.
fn build_and_carry_on(
    kubeforge: &Path,
    case: &Case,
    generated: &Path,
    scaffolded: &Path,
) -> Result<()> {
    let project = generated.join(case.name);
    let twin = scaffolded.join(case.name);
    let assets = crate::envtest()?;
    std::fs::copy(crate::root().join("Cargo.lock"), project.join("Cargo.lock"))
        .context("seeding the generated project's Cargo.lock")?;
    let target = crate::shared_target_dir()?;
    crate::test_step(
        &format!(
            "{}: cargo test --workspace (generated by cargo generate)",
            case.name
        ),
        crate::cargo()
            .args(["test", "--workspace"])
            .current_dir(&project)
            .env("CARGO_TARGET_DIR", &target)
            .env("KUBEBUILDER_ASSETS", &assets),
    )?;
    let second = [
        "create",
        "api",
        "--group",
        case.group,
        "--version",
        "v1",
        "--kind",
        "Archive",
    ];
    let webhook = [
        "create",
        "webhook",
        "--group",
        case.group,
        "--version",
        "v1",
        "--kind",
        "Archive",
        "--defaulting",
        "--programmatic-validation",
    ];
    for dir in [&project, &twin] {
        kubeforge_in(kubeforge, dir, &second)?;
        kubeforge_in(kubeforge, dir, &webhook)?;
    }
    compare(
        &format!("{} + a second kind and its webhooks", case.name),
        &twin,
        &project,
    )?;
    for args in [&["manifests"][..], &["manifests", "--check"]] {
        crate::step(
            &format!("{}: kubeforge {}", case.name, args.join(" ")),
            Command::new(kubeforge)
                .args(args)
                .current_dir(&project)
                .env("CARGO_TARGET_DIR", &target)
                .stdin(Stdio::null()),
        )?;
    }
    crate::test_step(
        &format!("{}: cargo test --workspace (two kinds)", case.name),
        crate::cargo()
            .args(["test", "--workspace"])
            .current_dir(&project)
            .env("CARGO_TARGET_DIR", &target)
            .env("KUBEBUILDER_ASSETS", &assets),
    )
}

/// cargo-generate, installed once per machine and reused when present.
fn install() -> Result<PathBuf> {
    let root = crate::go_tools::cache_home()?
        .join("kubeforge")
        .join("cargo-generate")
        .join(CARGO_GENERATE_VERSION);
    let binary = root.join("bin").join("cargo-generate");
    if binary.is_file() {
        return Ok(binary);
    }
    let parent = root.parent().context("the cache directory")?;
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let staging = tempfile::Builder::new()
        .prefix(".installing-")
        .tempdir_in(parent)
        .context("creating a staging directory for cargo install")?;
    // Without default features: they only choose a vendored libgit2, which
    // --path templates do not need. Unoptimized (`--debug`): it renders a
    // few dozen small files per run, so optimizing its large dependency
    // tree would only lengthen CI's first run on a fresh machine (measured:
    // 190 s of CPU against 396 s for the release build).
    crate::step(
        &format!("cargo install cargo-generate {CARGO_GENERATE_VERSION}"),
        crate::cargo()
            .args([
                "install",
                "--locked",
                "--debug",
                "--no-default-features",
                "--version",
                CARGO_GENERATE_VERSION,
                "--root",
            ])
            .arg(staging.path())
            .arg("cargo-generate")
            // Its own target directory, thrown away: nothing else reuses it.
            .env_remove("CARGO_TARGET_DIR")
            // No debug info: a backtrace of cargo-generate is not what CI
            // is after, and without it the binary is a fraction of the size.
            .env("CARGO_PROFILE_DEV_DEBUG", "false")
            .stdin(Stdio::null()),
    )?;
    let staged = staging.keep();
    std::fs::rename(&staged, &root)
        .with_context(|| format!("moving cargo-generate into {}", root.display()))?;
    Ok(binary)
}
