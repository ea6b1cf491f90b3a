//! End to end: scaffold a project the way a user would, then build, lint
//! and test it, generate its manifests, check they stay in sync with the
//! code, prove the RBAC check catches a missing rule, and validate every
//! generated manifest against a real API server.
//!
//! Generated projects share one target directory (`<target dir>/e2e`) and start
//! from this workspace's Cargo.lock, so dependencies are built once.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

fn cargo(project: &Path, args: &[&str]) -> std::process::Output {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    Command::new(cargo)
        .args(args)
        .current_dir(project)
        .env("CARGO_TARGET_DIR", shared_target_dir())
        .env_remove("KUBECONFIG")
        .output()
        .expect("running cargo")
}

fn shared_target_dir() -> PathBuf {
    target_dir().join("e2e")
}

#[track_caller]
fn ok(what: &str, output: std::process::Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{what} failed\n--- stdout\n{stdout}\n--- stderr\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn kubeforge_in(project: &Path, args: &[&str]) -> std::process::Output {
    kubeforge(project)
        .args(args)
        .env("CARGO_TARGET_DIR", shared_target_dir())
        .output()
        .expect("running kubeforge")
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{from:?} not in {}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn generated_project_builds_lints_tests_and_keeps_manifests_in_sync() {
    let dir = tempfile::tempdir().unwrap();
    // Named apart from examples/myapp-operator: projects sharing a target
    // directory must not share package names (Cargo would mix up their builds).
    let project = dir.path().join("guestbook");
    std::fs::create_dir(&project).unwrap();
    let repo = repo_root();
    let repo_str = repo.to_string_lossy().into_owned();

    ok(
        "init",
        kubeforge_in(
            &project,
            &[
                "init",
                "--domain",
                "example.com",
                "--kubeforge-path",
                &repo_str,
            ],
        ),
    );
    for args in [
        &["--group", "apps", "--version", "v1", "--kind", "MyApp"][..],
        &[
            "--group",
            "infra",
            "--version",
            "v1beta2",
            "--kind",
            "CacheCluster",
            "--namespaced=false",
        ],
        &[
            "--group",
            "apps",
            "--version",
            "v1",
            "--kind",
            "Deployment",
            "--resource=false",
            "--controller=true",
        ],
        // A second version of MyApp, for its conversion webhook.
        &[
            "--group",
            "apps",
            "--version",
            "v2",
            "--kind",
            "MyApp",
            "--controller=false",
        ],
    ] {
        let mut all = vec!["create", "api"];
        all.extend_from_slice(args);
        ok("create api", kubeforge_in(&project, &all));
    }
    ok(
        "create webhook",
        kubeforge_in(
            &project,
            &[
                "create",
                "webhook",
                "--group",
                "apps",
                "--version",
                "v1",
                "--kind",
                "MyApp",
                "--defaulting",
                "--programmatic-validation",
                "--conversion",
                "--spoke",
                "v2",
            ],
        ),
    );
    std::fs::copy(repo.join("Cargo.lock"), project.join("Cargo.lock")).unwrap();

    // A Rust user's first command passes right after scaffolding, before any
    // `make manifests`: against a real API server, with the operator's own
    // RBAC (kept current by `create api`), CRDs as the code defines them.
    assert!(
        !project
            .join("config/crd/bases/apps.example.com_myapps.yaml")
            .exists(),
        "no CRD file has been generated yet"
    );
    ok("cargo test", cargo(&project, &["test", "--workspace"]));

    // Manifests: written, then in sync.
    let written = ok("manifests", kubeforge_in(&project, &["manifests"]));
    assert!(
        written.contains("config/crd/bases/apps.example.com_myapps.yaml"),
        "{written}"
    );
    assert!(
        written.contains("config/crd/bases/infra.example.com_cacheclusters.yaml"),
        "{written}"
    );
    ok(
        "manifests --check",
        kubeforge_in(&project, &["manifests", "--check"]),
    );
    let crd = std::fs::read_to_string(
        project.join("config/crd/bases/infra.example.com_cacheclusters.yaml"),
    )
    .unwrap();
    assert!(crd.starts_with("---\n"), "{crd}");
    assert!(crd.contains("scope: Cluster"), "{crd}");
    let role = std::fs::read_to_string(project.join("config/rbac/role.yaml")).unwrap();
    for needle in [
        "- myapps/status",
        "- cacheclusters/finalizers",
        "- deployments",
        "- events.k8s.io",
    ] {
        assert!(role.contains(needle), "{needle} in role.yaml:\n{role}");
    }

    // The generated workspace is clean and its own tests pass, against a
    // real API server with the operator's own RBAC.
    ok("cargo fmt --check", cargo(&project, &["fmt", "--check"]));
    ok(
        "cargo build",
        cargo(&project, &["build", "--workspace", "--all-targets"]),
    );
    ok(
        "cargo clippy",
        cargo(
            &project,
            &[
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ],
        ),
    );

    // Every generated manifest is valid against the real API.
    validate_against_api_server(&project);

    // A types edit makes --check fail and name the file; manifests fixes it.
    let types = project.join("api/src/apps/v1/my_app.rs");
    edit(&types, "maximum = 100", "maximum = 50");
    let stale = kubeforge_in(&project, &["manifests", "--check"]);
    assert!(
        !stale.status.success(),
        "--check must fail after a types edit"
    );
    let stderr = String::from_utf8_lossy(&stale.stderr);
    assert!(
        stderr.contains("config/crd/bases/apps.example.com_myapps.yaml"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("role.yaml"),
        "only the changed file is named: {stderr}"
    );
    ok("manifests", kubeforge_in(&project, &["manifests"]));
    ok(
        "manifests --check",
        kubeforge_in(&project, &["manifests", "--check"]),
    );
    let crd =
        std::fs::read_to_string(project.join("config/crd/bases/apps.example.com_myapps.yaml"))
            .unwrap();
    assert!(crd.contains("maximum: 50"), "{crd}");

    // A CRD of the project that no type produces any more is drift too.
    let bases = project.join("config/crd/bases");
    let old = std::fs::read_to_string(bases.join("apps.example.com_myapps.yaml"))
        .unwrap()
        .replace("myapps", "olds");
    std::fs::write(bases.join("apps.example.com_olds.yaml"), old).unwrap();
    let stale = kubeforge_in(&project, &["manifests", "--check"]);
    assert!(!stale.status.success(), "--check must fail on a stale CRD");
    let stderr = String::from_utf8_lossy(&stale.stderr);
    assert!(stderr.contains("apps.example.com_olds.yaml"), "{stderr}");
    std::fs::remove_file(bases.join("apps.example.com_olds.yaml")).unwrap();

    // The RBAC check catches a missing rule: without the status permission
    // the controller's own test fails with 403.
    let controller = project.join("manager/src/controller/my_app.rs");
    let status_rule = "#[kubeforge::rbac(groups = [\"apps.example.com\"], resources = [\"myapps/status\"], verbs = [\"get\", \"update\", \"patch\"])]\n";
    // In its place, a rule for a Role in another namespace, which kustomize
    // would move at deploy time: manifests says so.
    let team_rule = "#[kubeforge::rbac(groups = [\"\"], resources = [\"secrets\"], verbs = [\"get\"], namespace = \"team-a\")]\n";
    edit(&controller, status_rule, team_rule);
    let controller_test = [
        "test",
        "--package",
        "guestbook-manager",
        "--test",
        "my_app_controller",
    ];
    // Before `make manifests`, the test says the role is stale, in one line.
    let stale = cargo(&project, &controller_test);
    let output = String::from_utf8_lossy(&stale.stdout).into_owned();
    assert!(!stale.status.success(), "a stale role must fail:\n{output}");
    assert!(
        output.contains("config/rbac/role.yaml: out of date with the #[rbac] attributes")
            && output.contains("run `make manifests`"),
        "{output}"
    );
    let regenerated = kubeforge_in(&project, &["manifests"]);
    let warnings = String::from_utf8_lossy(&regenerated.stderr).into_owned();
    ok("manifests", regenerated);
    assert!(
        warnings.contains("#[rbac(namespace = \"team-a\")]")
            && warnings.contains("config/default/kustomization.yaml"),
        "{warnings}"
    );
    let denied = cargo(&project, &controller_test);
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&denied.stdout),
        String::from_utf8_lossy(&denied.stderr)
    );
    assert!(
        !denied.status.success(),
        "the test must fail without the status rule:\n{output}"
    );
    assert!(
        output.contains("observedGeneration") || output.contains("403"),
        "{output}"
    );

    watch_rebuilds_and_restarts(&project);
}

/// `kubeforge run --watch` keeps one control plane and follows saved
/// changes: a code change restarts the manager, a broken build leaves the
/// running one alone, and a types change updates the installed CRD.
fn watch_rebuilds_and_restarts(project: &Path) {
    use std::io::{BufRead as _, BufReader};
    use std::process::Stdio;
    use std::sync::mpsc;
    // Only so a broken build fails instead of hanging; rebuilding the
    // manager takes well under this.
    const WAIT: std::time::Duration = std::time::Duration::from_secs(600);

    let mut run = Command::new(env!("CARGO_BIN_EXE_kubeforge"))
        .args(["run", "--watch"])
        .current_dir(project)
        .env("CARGO_TARGET_DIR", shared_target_dir())
        .env_remove("KUBECONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting kubeforge run --watch");
    let stderr = run.stderr.take().unwrap();
    let (sender, lines) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("    {line}");
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    let next = |what: &str, wanted: &dyn Fn(&str) -> bool| -> String {
        loop {
            let line = lines
                .recv_timeout(WAIT)
                .unwrap_or_else(|_| panic!("kubeforge run --watch never printed {what}"));
            if wanted(&line) {
                return line;
            }
        }
    };
    let manager_pid = |line: &str| -> u32 {
        line.trim_start_matches("Manager running (pid ")
            .trim_end_matches(").")
            .parse()
            .unwrap()
    };
    let alive = |pid: u32| Path::new(&format!("/proc/{pid}")).exists();

    let kubeconfig = next("the kubeconfig", &|l| l.contains("export KUBECONFIG="));
    let kubeconfig = kubeconfig
        .trim()
        .trim_start_matches("export KUBECONFIG=")
        .to_owned();
    let first = manager_pid(&next("the first manager", &|l| {
        l.starts_with("Manager running")
    }));
    next("that it watches", &|l| {
        l.starts_with("Watching the sources")
    });

    let main = project.join("manager/src/main.rs");
    let original = std::fs::read_to_string(&main).unwrap();
    std::fs::write(
        &main,
        format!("{original}\n// Saved again by the e2e test.\n"),
    )
    .unwrap();
    let changed = next("the change", &|l| l.starts_with("Changed:"));
    assert!(changed.contains("manager/src/main.rs"), "{changed}");
    let second = manager_pid(&next("a restarted manager", &|l| {
        l.starts_with("Manager running")
    }));
    assert_ne!(first, second);
    assert!(!alive(first), "the old manager {first} was stopped");

    std::fs::write(&main, format!("{original}\nfn broken( {{\n")).unwrap();
    next("the build failure", &|l| {
        l.contains("The manager keeps running")
    });
    assert!(
        alive(second),
        "a failed build keeps manager {second} running"
    );

    std::fs::write(&main, &original).unwrap();
    let types = project.join("api/src/apps/v1/my_app.rs");
    edit(&types, "maximum = 50", "maximum = 40");
    let third = manager_pid(&next("a manager after the types change", &|l| {
        l.starts_with("Manager running")
    }));
    assert!(!alive(second));
    let assets = kubeforge_envtest::assets::find().expect("control-plane binaries");
    let maximum = Command::new(&assets.kubectl)
        .args(["--kubeconfig", &kubeconfig, "get", "crd", "myapps.apps.example.com", "-o"])
        .arg(r#"jsonpath={.spec.versions[?(@.name=="v1")].schema.openAPIV3Schema.properties.spec.properties.replicas.maximum}"#)
        .output()
        .expect("running kubectl");
    assert_eq!(
        ok("kubectl get crd", maximum).trim(),
        "40",
        "the installed CRD follows the code"
    );

    // SAFETY: kill(2) on the child we spawned and have not reaped.
    #[allow(unsafe_code)]
    unsafe {
        libc::kill(run.id() as i32, libc::SIGINT)
    };
    let status = run.wait().unwrap();
    assert!(
        status.success(),
        "kubeforge run --watch exited with {status}"
    );
    reader.join().unwrap();
    assert!(!alive(third), "the manager {third} was stopped");
}

/// `kubectl apply --dry-run=server` of config/default and config/samples on
/// a real API server: every generated manifest is valid.
fn validate_against_api_server(project: &Path) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let assets = kubeforge_envtest::assets::find()
            .expect("control-plane binaries (run `kubeforge envtest`)");
        // config/default uses cert-manager for the webhook's certificate.
        let cert_manager = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cert-manager");
        let env = kubeforge_envtest::Environment::builder()
            .crd_dir(project.join("config/crd/bases"))
            .crd_dir(cert_manager)
            .start()
            .await
            .expect("starting the control plane");
        let kubectl = |args: &[&str]| {
            let output = Command::new(&assets.kubectl)
                .arg("--kubeconfig")
                .arg(env.kubeconfig_path())
                .args(args)
                .current_dir(project)
                .output()
                .expect("running kubectl");
            ok(&format!("kubectl {}", args.join(" ")), output)
        };
        // The namespace must exist for a server-side dry run of what goes in it.
        kubectl(&["create", "namespace", "guestbook-system"]);
        // The CRDs are already installed by envtest (another field manager),
        // and kustomize points a conversion webhook at the namespaced
        // Service: take those fields over, as a fresh cluster would have them.
        let applied = kubectl(&[
            "apply",
            "--server-side",
            "--force-conflicts",
            "--dry-run=server",
            "-k",
            "config/default",
        ]);
        for object in [
            "customresourcedefinition.apiextensions.k8s.io/myapps.apps.example.com",
            "deployment.apps/guestbook-controller-manager",
            "clusterrole.rbac.authorization.k8s.io/guestbook-manager-role",
            "role.rbac.authorization.k8s.io/guestbook-leader-election-role",
            "service/guestbook-controller-manager-metrics-service",
            "service/guestbook-webhook-service",
            "mutatingwebhookconfiguration.admissionregistration.k8s.io/guestbook-mutating-webhook-configuration",
            "validatingwebhookconfiguration.admissionregistration.k8s.io/guestbook-validating-webhook-configuration",
            "certificate.cert-manager.io/guestbook-serving-cert",
            "issuer.cert-manager.io/guestbook-selfsigned-issuer",
        ] {
            assert!(applied.contains(object), "{object} in:\n{applied}");
        }
        // Every sample but the spoke's: storing a MyApp v2 needs the
        // conversion webhook, which only a running manager serves (the
        // project's own tests/my_app_v1_conversion.rs covers that); the
        // kustomization itself must still build.
        kubectl(&["kustomize", "config/samples"]);
        for sample in ["apps_v1_myapp.yaml", "infra_v1beta2_cachecluster.yaml"] {
            let path = format!("config/samples/{sample}");
            kubectl(&["apply", "--server-side", "--dry-run=server", "-f", &path]);
        }
        // Optional bases, applied alone: their objects live in `system`.
        kubectl(&["create", "namespace", "system"]);
        kubectl(&[
            "apply",
            "--server-side",
            "--dry-run=server",
            "-k",
            "config/network-policy",
        ]);
        env.stop().await;
    });
}

/// A project without kinds yet (Kubebuilder's state after `init`) renders
/// its install: config/crd, still empty, joins config/default only with the
/// first `create api` that adds a kind, because kustomize refuses an empty
/// kustomization.
#[test]
fn the_install_renders_before_and_after_the_first_kind() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("shop");
    std::fs::create_dir(&project).unwrap();
    let kubectl = kubeforge_envtest::assets::find()
        .expect("control-plane binaries")
        .kubectl;
    let render = || {
        Command::new(&kubectl)
            .args(["kustomize", "config/default"])
            .current_dir(&project)
            .output()
            .expect("running kubectl")
    };
    ok(
        "kubeforge init",
        kubeforge_in(&project, &["init", "--domain", "example.com"]),
    );
    let rendered = ok("kubectl kustomize config/default after init", render());
    assert!(rendered.contains("kind: Deployment"), "{rendered}");
    assert!(!rendered.contains("CustomResourceDefinition"), "{rendered}");

    ok(
        "kubeforge create api",
        kubeforge_in(
            &project,
            &[
                "create",
                "api",
                "--group",
                "apps",
                "--version",
                "v1",
                "--kind",
                "Book",
            ],
        ),
    );
    // The CRD itself is written by `kubeforge manifests` (a build); stand in
    // for it so kustomize has the file the new entry names.
    let crd = project.join("config/crd/bases/apps.example.com_books.yaml");
    std::fs::create_dir_all(crd.parent().unwrap()).unwrap();
    std::fs::write(
        &crd,
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: books.apps.example.com\n",
    )
    .unwrap();
    let rendered = ok(
        "kubectl kustomize config/default after create api",
        render(),
    );
    assert!(
        rendered.contains("kind: CustomResourceDefinition"),
        "{rendered}"
    );
}

/// `init --namespaced`: the scaffolded tests run the controllers as the
/// operator's ServiceAccount with nothing but a Role in one namespace, on a
/// real API server, and pass; the install renders a Role and RoleBinding
/// and sets WATCH_NAMESPACE.
#[test]
fn a_namespaced_operator_works_with_only_a_role() {
    let dir = tempfile::tempdir().unwrap();
    // Its own package names, apart from the other generated projects that
    // share the target directory.
    let project = dir.path().join("ledger");
    std::fs::create_dir(&project).unwrap();
    let repo = repo_root();
    let repo_str = repo.to_string_lossy().into_owned();
    ok(
        "init --namespaced",
        kubeforge_in(
            &project,
            &[
                "init",
                "--domain",
                "example.com",
                "--namespaced",
                "--kubeforge-path",
                &repo_str,
            ],
        ),
    );
    for args in [
        &["--group", "apps", "--version", "v1", "--kind", "Ledger"][..],
        &[
            "--group",
            "apps",
            "--version",
            "v1",
            "--kind",
            "Deployment",
            "--resource=false",
            "--controller=true",
        ],
    ] {
        let mut all = vec!["create", "api"];
        all.extend_from_slice(args);
        ok("create api", kubeforge_in(&project, &all));
    }
    let role = std::fs::read_to_string(project.join("config/rbac/role.yaml")).unwrap();
    assert!(!role.contains("ClusterRole"), "only a Role:\n{role}");
    assert!(
        role.contains("- ledgers/status") && role.contains("- deployments"),
        "{role}"
    );
    std::fs::copy(repo.join("Cargo.lock"), project.join("Cargo.lock")).unwrap();

    ok("cargo test", cargo(&project, &["test", "--workspace"]));
    ok("manifests", kubeforge_in(&project, &["manifests"]));

    let kubectl = kubeforge_envtest::assets::find()
        .expect("control-plane binaries")
        .kubectl;
    let rendered = ok(
        "kubectl kustomize config/default",
        Command::new(&kubectl)
            .args(["kustomize", "config/default"])
            .current_dir(&project)
            .output()
            .expect("running kubectl"),
    );
    let docs: Vec<&str> = rendered.split("\n---\n").collect();
    let find = |kind: &str, name: &str| {
        docs.iter()
            .find(|d| {
                d.contains(&format!("kind: {kind}\n")) && d.contains(&format!("name: {name}\n"))
            })
            .unwrap_or_else(|| panic!("no {kind} {name} in:\n{rendered}"))
    };
    assert!(find("Role", "ledger-manager-role").contains("namespace: ledger-system"));
    let binding = find("RoleBinding", "ledger-manager-rolebinding");
    assert!(
        binding.contains("kind: Role\n  name: ledger-manager-role"),
        "{binding}"
    );
    assert!(
        !rendered.contains("name: ledger-manager-role\nrules"),
        "no ClusterRole of that name"
    );
    let deployment = find("Deployment", "ledger-controller-manager");
    assert!(
        deployment.contains("- name: WATCH_NAMESPACE"),
        "{deployment}"
    );
}

/// Kubebuilder's other `create api` flags on a real project: a controller
/// for another crate's kind (`--external-api-path`, its crate added as a
/// path dependency by `--external-api-crate`), a second, named controller
/// for that kind and for one of the project's own (`--controller-name`),
/// and `--make` writing the CRD. The project builds clean and its tests
/// pass against a real API server, the external kind's CRD installed from
/// its type.
#[test]
fn controllers_for_an_external_kind_and_named_controllers_build_and_pass() {
    let dir = tempfile::tempdir().unwrap();
    let repo = repo_root();
    // The other operator's API crate: one kube-derive CustomResource. It
    // uses kube and its companions through kubeforge (the same source the
    // project uses, so one build serves both), plus serde for the derives.
    let external = dir.path().join("notes-api");
    std::fs::create_dir_all(external.join("src/v1")).unwrap();
    std::fs::write(
        external.join("Cargo.toml"),
        format!(
            "[package]\nname = \"notes-api\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n[dependencies]\nkubeforge = {{ path = \"{}\", default-features = false }}\nserde = {{ version = \"1\", features = [\"derive\"] }}\n",
            repo.join("crates/kubeforge").display()
        ),
    )
    .unwrap();
    std::fs::write(
        external.join("src/lib.rs"),
        "//! Another operator's API.\n\npub mod v1;\n",
    )
    .unwrap();
    std::fs::write(
        external.join("src/v1/mod.rs"),
        r#"//! notes.example.org/v1.

use kubeforge::kube::CustomResource;
use kubeforge::schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A note, as the other operator defines it.
#[derive(CustomResource, Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[kube(
    group = "notes.example.org",
    version = "v1",
    kind = "Note",
    namespaced,
    crates(
        kube_core = "::kubeforge::kube::core",
        k8s_openapi = "::kubeforge::k8s_openapi",
        schemars = "::kubeforge::schemars",
        serde = "::serde",
        serde_json = "::kubeforge::serde_json",
        std = "::std"
    )
)]
#[schemars(crate = "::kubeforge::schemars")]
pub struct NoteSpec {
    pub text: String,
}
"#,
    )
    .unwrap();

    // Named apart from the other generated projects sharing the target
    // directory.
    let project = dir.path().join("notekeeper");
    std::fs::create_dir(&project).unwrap();
    let repo_str = repo.to_string_lossy().into_owned();
    ok(
        "init",
        kubeforge_in(
            &project,
            &[
                "init",
                "--domain",
                "example.com",
                "--kubeforge-path",
                &repo_str,
            ],
        ),
    );
    // Before --make builds anything.
    std::fs::copy(repo.join("Cargo.lock"), project.join("Cargo.lock")).unwrap();
    for args in [
        &[
            "--group",
            "notes",
            "--version",
            "v1",
            "--kind",
            "Note",
            "--resource=false",
            "--external-api-path",
            "notes_api::v1::Note",
            "--external-api-domain",
            "example.org",
            "--external-api-crate",
            "notes-api",
            "--external-api-crate-path",
            "../notes-api",
        ][..],
        &[
            "--group",
            "notes",
            "--version",
            "v1",
            "--kind",
            "Note",
            "--resource=false",
            "--controller-name",
            "note-audit",
        ],
        &[
            "--group",
            "apps",
            "--version",
            "v1",
            "--kind",
            "Board",
            "--make",
        ],
        &[
            "--group",
            "apps",
            "--version",
            "v1",
            "--kind",
            "Board",
            "--resource=false",
            "--controller-name",
            "board-archiver",
        ],
    ] {
        let mut all = vec!["create", "api"];
        all.extend_from_slice(args);
        ok("create api", kubeforge_in(&project, &all));
    }
    let cargo_toml = std::fs::read_to_string(project.join("manager/Cargo.toml")).unwrap();
    assert!(
        cargo_toml.contains(
            "notes-api = { path = \"../../notes-api\" }\n# +kubeforge:scaffold:dependencies\n"
        ),
        "{cargo_toml}"
    );
    assert!(
        project
            .join("config/crd/bases/apps.example.com_boards.yaml")
            .is_file(),
        "--make wrote the CRD"
    );
    let role = std::fs::read_to_string(project.join("config/rbac/role.yaml")).unwrap();
    assert!(
        role.contains("  - notes.example.org\n  resources:\n  - notes\n"),
        "{role}"
    );

    ok("cargo fmt --check", cargo(&project, &["fmt", "--check"]));
    // Every controller's test, the external kind's with its CRD installed
    // from the type, as the operator's ServiceAccount.
    let tested = ok("cargo test", cargo(&project, &["test", "--workspace"]));
    // Two controllers of each kind, each with its own test binary.
    for test in [
        "test operator_role_can_list_and_watch_note ... ok",
        "test reconcile_records_the_observed_generation ... ok",
    ] {
        assert_eq!(tested.matches(test).count(), 2, "{test} in:\n{tested}");
    }
    ok(
        "cargo clippy",
        cargo(
            &project,
            &[
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ],
        ),
    );
}
