//! The main job: what a newcomer runs to see kubeforge work on a fresh
//! machine. Scaffolds a sample operator into target/demo with the CLI,
//! generates its manifests, builds it, and runs its tests, which start a
//! real local control plane and run the controller with its own RBAC.

use std::process::Command;

use anyhow::{Context as _, Result};

use crate::{cargo, envtest, kubeforge_binary, root, shared_target_dir, step};

pub fn run() -> Result<()> {
    let assets = envtest()?;
    let kubeforge = kubeforge_binary()?;
    let demo = root().join("target/demo/myapp");
    if demo.exists() {
        std::fs::remove_dir_all(&demo).with_context(|| format!("removing {}", demo.display()))?;
    }
    std::fs::create_dir_all(&demo).with_context(|| format!("creating {}", demo.display()))?;
    let kf = |args: &[&str]| {
        let mut cmd = Command::new(&kubeforge);
        cmd.args(args)
            .current_dir(&demo)
            .env("CARGO_TARGET_DIR", shared_target_dir())
            .env("KUBEBUILDER_ASSETS", &assets);
        cmd
    };
    step(
        "kubeforge init --domain example.com",
        &mut kf(&["init", "--domain", "example.com", "--project-name", "myapp"]),
    )?;
    step(
        "kubeforge create api --group apps --version v1 --kind MyApp",
        &mut kf(&[
            "create",
            "api",
            "--group",
            "apps",
            "--version",
            "v1",
            "--kind",
            "MyApp",
        ]),
    )?;
    std::fs::copy(root().join("Cargo.lock"), demo.join("Cargo.lock"))
        .context("seeding Cargo.lock")?;
    step("kubeforge manifests", &mut kf(&["manifests"]))?;
    let in_demo = |args: &[&str]| {
        let mut cmd = cargo();
        cmd.args(args)
            .current_dir(&demo)
            .env("CARGO_TARGET_DIR", shared_target_dir())
            .env("KUBEBUILDER_ASSETS", &assets);
        cmd
    };
    step(
        "cargo build (the operator)",
        &mut in_demo(&["build", "--workspace"]),
    )?;
    step(
        "cargo test (controller against a real API server, with its own RBAC)",
        &mut in_demo(&["test", "--workspace"]),
    )?;
    eprintln!(
        "\nDone: the operator is in {}.\nTry it on a local control plane: cd {} && {} run",
        demo.display(),
        demo.display(),
        kubeforge.display()
    );
    Ok(())
}
