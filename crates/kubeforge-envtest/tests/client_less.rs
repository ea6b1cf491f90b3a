//! What the crate does without its `client` feature, as `kubeforge run` uses it: start and
//! stop, CRDs and webhook configurations installed from directories and pointed at the local
//! webhook server, CRDs re-installed, kube-apiserver restarted. Checked from outside with
//! kubectl only, so these tests run with and without the feature
//! (`cargo test -p kubeforge-envtest --no-default-features`).

mod common;

use std::path::Path;
use std::process::{Command, Output};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::{assert_torn_down, process_alive, start, start_with};
use kubeforge_envtest::{Environment, Error, WebhookServer, assets};
use serde_json::Value;

/// Two served versions and a conversion webhook on a Service, as Kubebuilder's
/// `config/crd/patches/webhook_in_<kind>.yaml` leaves a CRD; `{maximum}` varies.
const CRD_YAML: &str = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.demo.kubeforge.dev
spec:
  group: demo.kubeforge.dev
  names:
    kind: Widget
    plural: widgets
  scope: Namespaced
  conversion:
    strategy: Webhook
    webhook:
      clientConfig:
        service:
          name: webhook-service
          namespace: system
          path: /convert
      conversionReviewVersions: [v1]
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              replicas:
                type: integer
                maximum: {maximum}
  - name: v2
    served: true
    storage: false
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
"#;

/// As controller-gen writes config/webhook/manifests.yaml.
const WEBHOOKS_YAML: &str = r#"---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata:
  name: mutating-webhook-configuration
webhooks:
- admissionReviewVersions: [v1]
  clientConfig:
    service:
      name: webhook-service
      namespace: system
      path: /mutate-demo-kubeforge-dev-v1-widget
  failurePolicy: Fail
  name: mwidget-v1.kb.io
  rules:
  - apiGroups: [demo.kubeforge.dev]
    apiVersions: [v1]
    operations: [CREATE, UPDATE]
    resources: [widgets]
  sideEffects: None
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: validating-webhook-configuration
webhooks:
- admissionReviewVersions: [v1]
  clientConfig:
    service:
      name: webhook-service
      namespace: system
      path: /validate-demo-kubeforge-dev-v1-widget
  failurePolicy: Fail
  name: vwidget-v1.kb.io
  rules:
  - apiGroups: [demo.kubeforge.dev]
    apiVersions: [v1]
    operations: [CREATE, UPDATE]
    resources: [widgets]
  sideEffects: None
"#;

const WIDGET_YAML: &str = r#"apiVersion: demo.kubeforge.dev/v1
kind: Widget
metadata:
  name: first
  namespace: default
spec:
  replicas: 3
"#;

fn crd_yaml(maximum: u32) -> String {
    CRD_YAML.replace("{maximum}", &maximum.to_string())
}

/// kubectl from the store against `env`, with `stdin` piped in when given.
fn kubectl(env: &Environment, args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write as _;
    let kubectl = assets::find().unwrap_or_else(|e| panic!("{e}")).kubectl;
    let mut child = Command::new(kubectl)
        .arg("--kubeconfig")
        .arg(env.kubeconfig_path())
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("running kubectl");
    let mut input = child.stdin.take().expect("stdin");
    input
        .write_all(stdin.unwrap_or_default().as_bytes())
        .expect("writing kubectl's input");
    drop(input);
    child.wait_with_output().expect("kubectl's output")
}

/// The object kubectl gets, as JSON; panics with kubectl's error otherwise.
fn get(env: &Environment, kind: &str, name: &str) -> Value {
    let output = kubectl(
        env,
        &["get", kind, name, "-o", "json", "--show-managed-fields"],
        None,
    );
    assert!(
        output.status.success(),
        "kubectl get {kind} {name}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON from kubectl")
}

/// Asserts that `client_config` calls `path` on the local webhook server, trusting its CA.
fn assert_points_at(server: &WebhookServer, client_config: &Value, path: &str) {
    assert_eq!(client_config["url"], server.url(path), "{client_config}");
    assert!(client_config.get("service").is_none(), "{client_config}");
    let bundle = STANDARD
        .decode(client_config["caBundle"].as_str().expect("a caBundle"))
        .expect("base64");
    assert_eq!(bundle, server.ca_pem().as_bytes());
}

fn write_project(root: &Path, maximum: u32) {
    let crds = root.join("crd");
    let webhooks = root.join("webhook");
    std::fs::create_dir_all(&crds).expect("mkdir");
    std::fs::create_dir_all(&webhooks).expect("mkdir");
    std::fs::write(
        crds.join("demo.kubeforge.dev_widgets.yaml"),
        crd_yaml(maximum),
    )
    .expect("write");
    std::fs::write(webhooks.join("manifests.yaml"), WEBHOOKS_YAML).expect("write");
    std::fs::write(
        webhooks.join("kustomization.yaml"),
        "resources:\n- manifests.yaml\n",
    )
    .expect("write");
}

#[tokio::test]
async fn crds_and_webhooks_from_directories_call_the_local_server_and_follow_reinstalls() {
    let project = tempfile::tempdir().expect("tempdir");
    write_project(project.path(), 10);
    let env = start_with(
        Environment::builder()
            .crd_dir(project.path().join("crd"))
            .webhook_dir(project.path().join("webhook")),
    )
    .await;
    let server = env.webhook_server().expect("webhooks were asked for");
    let cert_dir = server.cert_dir().to_owned();
    assert!(cert_dir.join("tls.crt").is_file() && cert_dir.join("tls.key").is_file());

    // Established and servable the moment start() returns.
    let crd = get(&env, "crd", "widgets.demo.kubeforge.dev");
    let conditions = crd["status"]["conditions"].as_array().expect("conditions");
    assert!(
        conditions
            .iter()
            .any(|c| c["type"] == "Established" && c["status"] == "True"),
        "{conditions:?}"
    );
    let listed = kubectl(&env, &["get", "widgets.v2.demo.kubeforge.dev", "-A"], None);
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    assert_points_at(
        server,
        &crd["spec"]["conversion"]["webhook"]["clientConfig"],
        "/convert",
    );

    let mutating = get(
        &env,
        "mutatingwebhookconfiguration",
        "mutating-webhook-configuration",
    );
    assert_points_at(
        server,
        &mutating["webhooks"][0]["clientConfig"],
        "/mutate-demo-kubeforge-dev-v1-widget",
    );
    let validating = get(
        &env,
        "validatingwebhookconfiguration",
        "validating-webhook-configuration",
    );
    assert_points_at(
        server,
        &validating["webhooks"][0]["clientConfig"],
        "/validate-demo-kubeforge-dev-v1-widget",
    );
    for (name, object) in [("mutating", &mutating), ("validating", &validating)] {
        assert_eq!(
            object["metadata"]["managedFields"][0]["manager"], "kubeforge-envtest",
            "{name}"
        );
    }

    // The API server really calls the local server: nothing listens there in this test,
    // so with `failurePolicy: Fail` the create fails, naming the local URL.
    let created = kubectl(&env, &["create", "-f", "-"], Some(WIDGET_YAML));
    assert!(!created.status.success(), "no webhook server runs");
    let error = String::from_utf8_lossy(&created.stderr);
    assert!(
        error.contains(&format!(
            "https://127.0.0.1:{}/mutate-demo-kubeforge-dev-v1-widget",
            server.port()
        )),
        "{error}"
    );

    // As `kubeforge run --watch` after a change to the types.
    write_project(project.path(), 20);
    let installed = env
        .install_crd_dir(&project.path().join("crd"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(installed, 1);
    let crd = get(&env, "crd", "widgets.demo.kubeforge.dev");
    assert_eq!(
        crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
            ["replicas"]["maximum"],
        20
    );
    assert_points_at(
        server,
        &crd["spec"]["conversion"]["webhook"]["clientConfig"],
        "/convert",
    );

    let (pids, dir) = (env.pids(), env.data_dir().to_owned());
    env.stop().await;
    assert_torn_down(pids, &dir);
    assert!(!cert_dir.exists(), "the webhook certificates are removed");
}

#[tokio::test]
async fn the_api_server_restarts_and_serves_again() {
    let mut env = start().await;
    let before = env.pids();
    env.restart_api_server()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let after = env.pids();
    assert_ne!(after.kube_apiserver, before.kube_apiserver);
    assert!(!process_alive(before.kube_apiserver));
    assert_eq!(after.etcd, before.etcd);
    assert_eq!(
        get(&env, "namespace", "default")["metadata"]["name"],
        "default"
    );

    // CRDs install on the new process as on the first.
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("widgets.yaml"), crd_yaml(5)).expect("write");
    // Its conversion webhook points at a Service, which is kept as it is without a
    // webhook option (and never called: no objects are stored).
    env.install_crd_dir(dir.path())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let crd = get(&env, "crd", "widgets.demo.kubeforge.dev");
    assert_eq!(
        crd["spec"]["conversion"]["webhook"]["clientConfig"]["service"]["path"],
        "/convert"
    );

    let dir = env.data_dir().to_owned();
    env.stop().await;
    assert_torn_down(after, &dir);
}

#[tokio::test]
async fn a_crd_the_api_server_refuses_fails_start_with_its_message_and_leaves_nothing() {
    let crds = tempfile::tempdir().expect("tempdir");
    // No `scope`: the API server's validation, not this crate's, refuses it.
    std::fs::write(
        crds.path().join("broken.yaml"),
        crd_yaml(5).replace("  scope: Namespaced\n", ""),
    )
    .expect("write");
    let parent = tempfile::tempdir().expect("tempdir");
    assets::find().unwrap_or_else(|e| panic!("{e}"));
    let err = Environment::builder()
        .crd_dir(crds.path())
        .data_dir_in(parent.path())
        .start()
        .await
        .expect_err("a CRD without a scope is invalid");
    assert!(
        matches!(
            err,
            Error::Api {
                code: Some(422),
                ..
            }
        ),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.starts_with("installing CRD widgets.demo.kubeforge.dev: HTTP 422: "),
        "{message}"
    );
    assert!(message.contains("spec.scope"), "{message}");
    assert!(!message.contains('\n'), "{message}");
    let left: Vec<_> = std::fs::read_dir(parent.path()).expect("read").collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[tokio::test]
async fn shared_handles_install_their_crds_and_leave_the_plane_running() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("widgets.yaml"), crd_yaml(7)).expect("write");
    let first = Environment::builder()
        .crd_dir(dir.path())
        .start_shared()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(first.is_shared());
    let crd = get(&first, "crd", "widgets.demo.kubeforge.dev");
    assert_eq!(crd["metadata"]["name"], "widgets.demo.kubeforge.dev");
    let (pids, url) = (first.pids(), first.server_url().to_owned());
    first.stop().await;
    assert!(process_alive(pids.kube_apiserver) && process_alive(pids.etcd));

    let second = Environment::shared()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(second.server_url(), url);
    assert_eq!(second.pids(), pids);
    second.stop().await;
}
