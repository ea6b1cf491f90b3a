//! Every kind of bad input: one clear line saying what is wrong and what is
//! allowed, a non-zero exit, and the directory byte-for-byte unchanged.

mod common;

use std::path::Path;

use common::*;

/// Runs kubeforge in `dir` with `args`, expects failure with a message
/// containing each of `expected`, and checks nothing on disk changed.
fn rejects(dir: &Path, args: &[&str], expected: &[&str]) {
    let before = tree(dir);
    let output = kubeforge(dir).args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "{args:?} should fail; stderr: {stderr}"
    );
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{args:?}: one line, got:\n{stderr}");
    assert!(lines[0].starts_with("error: "), "{args:?}: {stderr}");
    for needle in expected {
        assert!(
            stderr.contains(needle),
            "{args:?}: expected {needle:?} in: {stderr}"
        );
    }
    assert_eq!(tree(dir), before, "{args:?} changed the directory");
}

fn create<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut all = vec!["create", "api"];
    all.extend_from_slice(args);
    all
}

#[test]
fn init_rejects_bad_domains() {
    let dir = tempfile::tempdir().unwrap();
    for domain in [
        "Example.com",
        "-example.com",
        "exa_mple.com",
        "example..com",
        "",
    ] {
        let flag = format!("--domain={domain}");
        rejects(
            dir.path(),
            &["init", &flag, "--project-name", "myapp"],
            &["domain", "allowed: lowercase letters, digits, '-' and '.'"],
        );
    }
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing written"
    );
}

#[test]
fn init_rejects_bad_project_names() {
    let dir = tempfile::tempdir().unwrap();
    rejects(
        dir.path(),
        &[
            "init",
            "--domain",
            "example.com",
            "--project-name",
            "My_App",
        ],
        &["project name `My_App` is invalid", "allowed:"],
    );
}

#[test]
fn init_rejects_an_existing_project() {
    let dir = project();
    rejects(
        dir.path(),
        &["init", "--domain", "example.com", "--project-name", "other"],
        &["already holds a project (PROJECT exists)"],
    );
    let cargo_only = tempfile::tempdir().unwrap();
    std::fs::write(
        cargo_only.path().join("Cargo.toml"),
        "[package]\nname = \"mine\"\n",
    )
    .unwrap();
    rejects(
        cargo_only.path(),
        &["init", "--domain", "example.com", "--project-name", "myapp"],
        &["already holds a project (Cargo.toml exists)"],
    );
}

#[test]
fn init_never_overwrites_a_users_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Makefile"), "my own targets\n").unwrap();
    rejects(
        dir.path(),
        &["init", "--domain", "example.com", "--project-name", "myapp"],
        &["Makefile already exists", "never overwrites"],
    );
}

#[test]
fn create_api_outside_a_project() {
    let dir = tempfile::tempdir().unwrap();
    rejects(
        dir.path(),
        &create(&["--group", "apps", "--version", "v1", "--kind", "MyApp"]),
        &["no PROJECT file", "kubeforge init"],
    );
}

#[test]
fn create_api_rejects_bad_groups() {
    let dir = project();
    for group in ["Apps", "apps_v1", "-apps", "apps."] {
        let flag = format!("--group={group}");
        rejects(
            dir.path(),
            &create(&[&flag, "--version", "v1", "--kind", "Thing"]),
            &["group", "is not a DNS-1123 subdomain", "allowed:"],
        );
    }
}

#[test]
fn create_api_rejects_bad_versions() {
    let dir = project();
    for version in ["1", "v0", "V1", "v1alpha", "v1gamma1", "version1"] {
        rejects(
            dir.path(),
            &create(&["--group", "apps", "--version", version, "--kind", "Thing"]),
            &["version", "allowed: v<N>, v<N>alpha<M> or v<N>beta<M>"],
        );
    }
}

#[test]
fn create_api_rejects_bad_kinds() {
    let dir = project();
    for kind in ["myApp", "My_App", "My-App", "1App"] {
        rejects(
            dir.path(),
            &create(&["--group", "apps", "--version", "v1", "--kind", kind]),
            &["is not UpperCamelCase", "allowed:"],
        );
    }
    for kind in ["Self", "Type", "Match", "Box", "Option"] {
        rejects(
            dir.path(),
            &create(&["--group", "apps", "--version", "v1", "--kind", kind]),
            &["Rust keyword", "choose another kind name"],
        );
    }
}

#[test]
fn create_api_rejects_an_existing_kind() {
    let dir = project();
    rejects(
        dir.path(),
        &create(&["--group", "apps", "--version", "v1", "--kind", "MyApp"]),
        &["kind MyApp already exists in apps.example.com/v1"],
    );
}

#[test]
fn create_api_rejects_unknown_builtin_kinds() {
    let dir = project();
    rejects(
        dir.path(),
        &create(&[
            "--group",
            "apps",
            "--version",
            "v1",
            "--kind",
            "Deploymnt",
            "--resource=false",
        ]),
        &["apps/v1 has no kind Deploymnt", "Deployment"],
    );
    rejects(
        dir.path(),
        &create(&[
            "--group",
            "nosuch",
            "--version",
            "v1",
            "--kind",
            "Thing",
            "--resource=false",
        ]),
        &["not a built-in Kubernetes API group version"],
    );
}

#[test]
fn create_api_rejects_a_scope_change_across_versions() {
    let dir = project();
    rejects(
        dir.path(),
        &create(&[
            "--group",
            "apps",
            "--version",
            "v2",
            "--kind",
            "MyApp",
            "--namespaced=false",
            "--controller=false",
        ]),
        &["every version of a kind has the same scope"],
    );
}

#[test]
fn create_api_rejects_a_second_controller() {
    let dir = project();
    rejects(
        dir.path(),
        &create(&["--group", "apps", "--version", "v2", "--kind", "MyApp"]),
        &[
            "a controller for MyApp already exists",
            "--controller=false",
        ],
    );
}

#[test]
fn create_api_needs_something_to_create() {
    let dir = project();
    rejects(
        dir.path(),
        &create(&[
            "--group",
            "apps",
            "--version",
            "v2",
            "--kind",
            "Other",
            "--resource=false",
            "--controller=false",
        ]),
        &["leave nothing to create"],
    );
}

#[test]
fn create_api_reports_a_missing_marker_and_writes_nothing() {
    let dir = project();
    let main = dir.path().join("manager/src/main.rs");
    let text = std::fs::read_to_string(&main).unwrap();
    std::fs::write(
        &main,
        text.replace("// +kubeforge:scaffold:controllers", ""),
    )
    .unwrap();
    rejects(
        dir.path(),
        &create(&["--group", "apps", "--version", "v1", "--kind", "Other"]),
        &[
            "manager/src/main.rs",
            "scaffold marker `// +kubeforge:scaffold:controllers` not found",
        ],
    );
}

/// A failure while writing undoes everything the command already wrote.
/// Here a file stands where the new group's directory must go: planning
/// cannot see it (nothing named api/src/zeta/mod.rs exists), so PROJECT and
/// api/src/lib.rs are written before the write into api/src/zeta/ fails.
#[test]
fn create_api_is_all_or_nothing() {
    let dir = project();
    std::fs::write(dir.path().join("api/src/zeta"), "not a directory\n").unwrap();
    let before = tree(dir.path());
    let output = kubeforge(dir.path())
        .args(create(&[
            "--group",
            "zeta",
            "--version",
            "v1",
            "--kind",
            "Other",
        ]))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("api/src/zeta/mod.rs"), "{stderr}");
    assert_eq!(
        tree(dir.path()),
        before,
        "a failed command leaves the tree as it was"
    );
}

#[test]
fn manifests_outside_a_project() {
    let dir = tempfile::tempdir().unwrap();
    rejects(dir.path(), &["manifests"], &["no PROJECT file"]);
}

/// Every command's --help shows an example.
#[test]
fn every_help_has_an_example() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &[][..],
        &["init"],
        &["create"],
        &["create", "api"],
        &["create", "webhook"],
        &["manifests"],
        &["envtest"],
        &["run"],
        &["version"],
        &["completion"],
        &["alpha"],
        &["alpha", "update"],
    ] {
        let mut all = args.to_vec();
        all.push("--help");
        let output = kubeforge(dir.path()).args(&all).output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{all:?}");
        assert!(
            stdout.contains("Example"),
            "{all:?} --help has no example:\n{stdout}"
        );
        assert!(
            stdout.contains("kubeforge "),
            "{all:?} --help example names kubeforge:\n{stdout}"
        );
    }
}

fn webhook<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut all = vec!["create", "webhook"];
    all.extend_from_slice(args);
    all
}

#[test]
fn create_webhook_rejects_bad_requests() {
    let dir = project();
    let root = dir.path();
    let kind = ["--group", "apps", "--version", "v1", "--kind", "MyApp"];
    rejects(
        root,
        &webhook(&kind),
        &[
            "no webhook asked for",
            "allowed: one or more of --defaulting",
        ],
    );
    rejects(
        root,
        &webhook(&[
            "--group",
            "apps",
            "--version",
            "v1",
            "--kind",
            "Other",
            "--defaulting",
        ]),
        &[
            "Other apps/v1 is not a kind of this project",
            "allowed: MyApp apps/v1",
        ],
    );
    rejects(
        root,
        &webhook(&[&kind[..], &["--conversion", "--spoke", "v2"]].concat()),
        &["MyApp has only version v1", "create api --version"],
    );
    rejects(
        root,
        &webhook(&[&kind[..], &["--defaulting", "--defaulting-path", "mutate"]].concat()),
        &[
            "--defaulting-path `mutate` is invalid",
            "allowed: an absolute URL path",
        ],
    );
    rejects(
        root,
        &webhook(&[&kind[..], &["--defaulting", "--plural", "myapp"]].concat()),
        &["--plural myapp does not match", "allowed: myapps"],
    );

    create_api(
        root,
        "--group apps --version v2 --kind MyApp --controller=false",
    );
    create_api(
        root,
        "--group apps --version v3 --kind MyApp --controller=false",
    );
    for (spoke, message) in [
        ("v1", "--spoke v1 is the hub"),
        ("v9", "--spoke v9 is not a version of MyApp"),
        ("v2,v2", "--spoke v2 is given twice"),
    ] {
        rejects(
            root,
            &webhook(&[&kind[..], &["--conversion", "--spoke", spoke]].concat()),
            &[message, "allowed"],
        );
    }
    rejects(
        root,
        &webhook(&[&kind[..], &["--conversion"]].concat()),
        &["--conversion needs at least one --spoke", "allowed: v2, v3"],
    );

    kubeforge(root)
        .args(webhook(&[&kind[..], &["--defaulting"]].concat()))
        .assert()
        .success();
    rejects(
        root,
        &webhook(&[&kind[..], &["--defaulting"]].concat()),
        &[
            "MyApp apps/v1 already has a defaulting webhook",
            "allowed: the webhooks it lacks",
        ],
    );
    // The webhooks it lacks can be added later.
    kubeforge(root)
        .args(webhook(
            &[&kind[..], &["--programmatic-validation"]].concat(),
        ))
        .assert()
        .success();
    kubeforge(root)
        .args(webhook(
            &[&kind[..], &["--conversion", "--spoke", "v2"]].concat(),
        ))
        .assert()
        .success();
    rejects(
        root,
        &webhook(&[
            "--group",
            "apps",
            "--version",
            "v2",
            "--kind",
            "MyApp",
            "--conversion",
            "--spoke",
            "v3",
        ]),
        &[
            "MyApp already has a conversion webhook with hub v1",
            "allowed: one hub per kind",
        ],
    );
    let project = std::fs::read_to_string(root.join("PROJECT")).unwrap();
    assert!(
        project.contains("  webhooks:\n    conversion: true\n    defaulting: true\n    spoke:\n    - v2\n    validation: true\n    webhookVersion: v1\n"),
        "{project}"
    );
}
