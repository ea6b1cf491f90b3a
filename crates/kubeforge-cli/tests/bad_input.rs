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

#[test]
fn create_api_rejects_bad_controller_names() {
    let dir = project();
    let root = dir.path();
    let myapp = [
        "--group",
        "apps",
        "--version",
        "v1",
        "--kind",
        "MyApp",
        "--resource=false",
    ];
    let with = |extra: &[&'static str]| create(&[&myapp[..], extra].concat());
    for name in ["MyApp", "1app", "my.app", "my app", ""] {
        let flag = format!("--controller-name={name}");
        rejects(
            root,
            &create(&[&myapp[..], &[flag.as_str()]].concat()),
            &[
                "is invalid",
                "allowed: lowercase letters, digits, '-' and '_', starting with a letter",
            ],
        );
    }
    rejects(
        root,
        &with(&["--controller-name", "type"]),
        &["controller name `type` is the Rust keyword `type`"],
    );
    rejects(
        root,
        &with(&[]),
        &[
            "MyApp apps/v1 already has the controller `my_app`",
            "allowed: --controller-name NAME",
        ],
    );
    rejects(
        root,
        &create(&[
            "--group",
            "apps",
            "--version",
            "v1",
            "--kind",
            "Other",
            "--controller=false",
            "--controller-name",
            "other",
        ]),
        &["--controller-name names a controller, and --controller=false asks for none"],
    );
    create_api(
        root,
        "--group apps --version v1 --kind MyApp --resource=false --controller-name my-app-backup",
    );
    // The same name twice, or a name that is the same module.
    for name in ["my-app-backup", "my_app_backup"] {
        rejects(
            root,
            &create(&[&myapp[..], &["--controller-name", name]].concat()),
            &[&format!(
                "MyApp apps/v1 already has the controller `{name}`"
            )],
        );
    }
    // Another kind's controller module: the name picks the file.
    create_api(
        root,
        "--group apps --version v1 --kind Deployment --resource=false",
    );
    rejects(
        root,
        &create(&[
            "--group",
            "apps",
            "--version",
            "v1",
            "--kind",
            "Deployment",
            "--resource=false",
            "--controller-name",
            "my-app-backup",
        ]),
        &[
            "manager/src/controller/my_app_backup.rs already exists",
            "allowed: another --controller-name",
        ],
    );
    rejects(
        root,
        &with(&["--controller-name", "deployment"]),
        &[
            "manager/src/controller/deployment.rs already exists",
            "allowed: another --controller-name",
        ],
    );
}

#[test]
fn create_api_rejects_bad_external_kinds() {
    let dir = project();
    let root = dir.path();
    let memo = [
        "--group",
        "memo",
        "--version",
        "v1",
        "--kind",
        "Memo",
        "--resource=false",
    ];
    let with = |extra: &[&'static str]| create(&[&memo[..], extra].concat());
    let path = ["--external-api-path", "memo_api::v1::Memo"];
    let with_path = |extra: &[&'static str]| create(&[&memo[..], &path[..], extra].concat());
    for (bad, message) in [
        ("memo", "`memo` is not a Rust path"),
        ("memo_api::v1::", "is not a Rust path"),
        ("memo-api::v1::Memo", "is not a Rust path"),
        ("memo_api::v1::Other", "does not end with the kind Memo"),
        ("memo_api::type::Memo", "has the keyword `type`"),
        ("crate::v1::Memo", "has the keyword `crate`"),
    ] {
        rejects(
            root,
            &with(&["--external-api-path", bad]),
            &[message, "allowed: a Rust path to the type"],
        );
    }
    rejects(
        root,
        &create(&[
            "--group",
            "memo",
            "--version",
            "v1",
            "--kind",
            "Memo",
            "--external-api-path",
            "memo_api::v1::Memo",
        ]),
        &["allowed: --external-api-path with --resource=false"],
    );
    for flag in [
        "--external-api-domain",
        "--external-api-crate",
        "--external-api-crate-path",
    ] {
        rejects(
            root,
            &with(&[flag, "x"]),
            &[flag, "needs --external-api-path"],
        );
    }
    rejects(
        root,
        &with_path(&["--external-api-domain", "Example.org"]),
        &["--external-api-domain `Example.org` is not a DNS-1123 subdomain"],
    );
    for (spec, message) in [
        ("memo-api", "needs a version or a path"),
        ("memo api@1", "is not a crate name"),
        ("1memo@1", "is not a crate name"),
        ("memo-api@", "is not a version requirement"),
        ("memo-api@one", "is not a version requirement"),
    ] {
        rejects(
            root,
            &with_path(&["--external-api-crate", spec]),
            &[message, "allowed: NAME@VERSION"],
        );
    }
    rejects(
        root,
        &with_path(&["--external-api-crate-path", "../memo-api"]),
        &["--external-api-crate-path needs --external-api-crate NAME"],
    );
    rejects(
        root,
        &with_path(&[
            "--external-api-crate",
            "memo-api",
            "--external-api-crate-path",
            "../nowhere",
        ]),
        &["--external-api-crate-path `../nowhere` has no Cargo.toml"],
    );
    let other = tempfile::tempdir().unwrap();
    std::fs::write(
        other.path().join("Cargo.toml"),
        "[package]\nname = \"notes-api\"\nversion = \"0.1.0\"\n",
    )
    .unwrap();
    let other_dir = other.path().to_str().unwrap();
    rejects(
        root,
        &create(
            &[
                &memo[..],
                &path[..],
                &[
                    "--external-api-crate",
                    "memo-api",
                    "--external-api-crate-path",
                    other_dir,
                ],
            ]
            .concat(),
        ),
        &["holds the package `notes-api`, not `memo-api`"],
    );

    // Recorded once, an external kind's flags must agree with PROJECT.
    create_api(
        root,
        "--group memo --version v1 --kind Memo --resource=false --external-api-path memo_api::v1::Memo --external-api-crate memo-api@1.2",
    );
    rejects(
        root,
        &with_path(&[
            "--external-api-crate",
            "memo-api@1.3",
            "--controller-name",
            "memo-2",
        ]),
        &["already in PROJECT as an external kind with --external-api-crate memo-api@1.2"],
    );
    // Another kind of the same crate may not ask for another version of it.
    rejects(
        root,
        &create(&[
            "--group",
            "memo",
            "--version",
            "v1",
            "--kind",
            "Note",
            "--resource=false",
            "--external-api-path",
            "memo_api::v1::Note",
            "--external-api-crate",
            "memo-api@1.3",
        ]),
        &[
            "manager/Cargo.toml already depends on `memo-api` (`memo-api = \"1.2\"`)",
            "leave out --external-api-crate",
        ],
    );
    // A project from before the dependencies marker.
    let cargo_toml = root.join("manager/Cargo.toml");
    let text = std::fs::read_to_string(&cargo_toml).unwrap();
    std::fs::write(
        &cargo_toml,
        text.replace("# +kubeforge:scaffold:dependencies\n", "")
            .replace("memo-api = \"1.2\"\n", ""),
    )
    .unwrap();
    rejects(
        root,
        &create(&[
            "--group",
            "other",
            "--version",
            "v1",
            "--kind",
            "Note",
            "--resource=false",
            "--external-api-path",
            "notes_api::v1::Note",
            "--external-api-crate",
            "notes-api@1",
        ]),
        &[
            "manager/Cargo.toml has no `# +kubeforge:scaffold:dependencies` line",
            "leave out --external-api-crate and add the dependency yourself",
        ],
    );
}

#[test]
fn create_api_force_refuses_edited_files() {
    let dir = project();
    let root = dir.path();
    let controller = root.join("manager/src/controller/my_app.rs");
    let types = root.join("api/src/apps/v1/my_app.rs");
    for file in [&controller, &types] {
        let text = std::fs::read_to_string(file).unwrap();
        std::fs::write(file, format!("{text}// mine\n")).unwrap();
    }
    rejects(
        root,
        &create(&[
            "--group",
            "apps",
            "--version",
            "v1",
            "--kind",
            "MyApp",
            "--force",
        ]),
        &[
            "--force would overwrite api/src/apps/v1/my_app.rs, manager/src/controller/my_app.rs",
            "nothing was written",
        ],
    );
    rejects(
        root,
        &create(&[
            "--group",
            "apps",
            "--version",
            "v1",
            "--kind",
            "MyApp",
            "--force",
            "--namespaced=false",
        ]),
        &["--force re-scaffolds MyApp as PROJECT records it, with --namespaced=true"],
    );
    rejects(
        root,
        &create(&[
            "--group",
            "apps",
            "--version",
            "v1",
            "--kind",
            "MyApp",
            "--force",
            "--plural",
            "myapplications",
        ]),
        &["with the plural `myapps`"],
    );
}
