//! Start, serve, stop — including when the test panics or a binary is broken.

mod common;

#[cfg(feature = "client")]
use std::process::Command;

#[cfg(feature = "client")]
use common::process_alive;
use common::{assert_torn_down, start};
#[cfg(feature = "client")]
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
#[cfg(feature = "client")]
use kube::api::{Api, ObjectMeta, PostParams};
use kubeforge_envtest::{Assets, Environment, Error, assets};

#[cfg(feature = "client")]
fn config_map(name: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        data: Some([("key".to_string(), "value".to_string())].into()),
        ..ConfigMap::default()
    }
}

#[cfg(feature = "client")]
#[tokio::test]
async fn starts_serves_and_stops_cleanly_on_drop() {
    let env = start().await;
    let pids = env.pids();
    let dir = env.data_dir().to_owned();
    assert!(process_alive(pids.etcd) && process_alive(pids.kube_apiserver));
    assert!(dir.is_dir());
    assert!(
        env.webhook_server().is_none(),
        "no webhook options, no webhook server"
    );

    let version = env.client().apiserver_version().await.expect("version");
    assert_eq!(version.major, "1");
    assert!(
        version.git_version.starts_with("v1.37."),
        "{}",
        version.git_version
    );

    let cms: Api<ConfigMap> = Api::namespaced(env.client(), "default");
    cms.create(&PostParams::default(), &config_map("hello"))
        .await
        .expect("create");
    let got = cms.get("hello").await.expect("get");
    assert_eq!(
        got.data.and_then(|d| d.get("key").cloned()).as_deref(),
        Some("value")
    );

    drop(env);
    assert_torn_down(pids, &dir);
}

#[cfg(feature = "client")]
#[tokio::test]
async fn kubeconfig_works_for_kube_and_kubectl_and_stop_cleans_up() {
    let env = start().await;
    let path = env.kubeconfig_path().to_owned();
    assert!(path.starts_with(env.data_dir()));

    // kube reading the file from disk, not the in-memory copy.
    let kubeconfig = kube::config::Kubeconfig::read_from(&path).expect("read kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .expect("config");
    let client = kube::Client::try_from(config).expect("client");
    Api::<Namespace>::all(client)
        .get("default")
        .await
        .expect("get namespace");
    assert_eq!(env.kubeconfig().current_context.as_deref(), Some("envtest"));

    let kubectl = assets::find().expect("assets").kubectl;
    let out = Command::new(kubectl)
        .arg("--kubeconfig")
        .arg(&path)
        .args(["get", "namespace", "kube-system", "-o", "name"])
        .output()
        .expect("run kubectl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "namespace/kube-system"
    );

    let (pids, dir) = (env.pids(), env.data_dir().to_owned());
    env.stop().await;
    assert_torn_down(pids, &dir);
}

#[test]
fn tears_down_when_the_test_panics() {
    let (tx, rx) = std::sync::mpsc::channel();
    let outcome = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let env = start().await;
            tx.send((env.pids(), env.data_dir().to_owned()))
                .expect("send");
            panic!("deliberate panic while the environment is running");
        })
    })
    .join();
    assert!(outcome.is_err(), "the thread was supposed to panic");
    let (pids, dir) = rx.recv().expect("the environment started before the panic");
    assert_torn_down(pids, &dir);
}

#[tokio::test]
async fn a_binary_that_exits_fails_start_with_its_status_and_leaves_nothing() {
    let real = assets::find().unwrap_or_else(|e| panic!("{e}"));
    let parent = tempfile::tempdir().expect("tempdir");
    let err = Environment::builder()
        .assets(Assets {
            etcd: "/bin/false".into(),
            ..real
        })
        .data_dir_in(parent.path())
        .start()
        .await
        .expect_err("etcd that exits must fail the start");
    assert!(matches!(err, Error::Start(_)), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("etcd exited during start-up"), "{message}");
    assert!(!message.contains('\n'), "{message}");
    let left: Vec<_> = std::fs::read_dir(parent.path()).expect("read").collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[cfg(feature = "client")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_environments_run_in_parallel_independently() {
    let (a, b) = tokio::join!(start(), start());
    assert_ne!(a.server_url(), b.server_url());
    assert_ne!(a.data_dir(), b.data_dir());

    // Same name in both: no shared storage, so no conflict.
    for env in [&a, &b] {
        let cms: Api<ConfigMap> = Api::namespaced(env.client(), "default");
        cms.create(&PostParams::default(), &config_map("same-name"))
            .await
            .expect("create");
    }
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some("only-in-a".into()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    Api::<Namespace>::all(a.client())
        .create(&PostParams::default(), &ns)
        .await
        .expect("create ns");
    let in_b = Api::<Namespace>::all(b.client())
        .get_opt("only-in-a")
        .await
        .expect("get");
    assert!(in_b.is_none());

    let (pa, da, pb, db) = (
        a.pids(),
        a.data_dir().to_owned(),
        b.pids(),
        b.data_dir().to_owned(),
    );
    tokio::join!(a.stop(), b.stop());
    assert_torn_down(pa, &da);
    assert_torn_down(pb, &db);
}

#[test]
fn drop_works_outside_any_runtime() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let env = runtime.block_on(start());
    drop(runtime);
    let (pids, dir) = (env.pids(), env.data_dir().to_owned());
    drop(env);
    assert_torn_down(pids, &dir);
}

#[cfg(feature = "client")]
#[tokio::test]
async fn restarting_the_api_server_keeps_data_port_and_clients() {
    let mut env = start().await;
    let client = env.client();
    let before = env.pids();
    let url = env.server_url().to_owned();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    cms.create(&PostParams::default(), &config_map("survivor"))
        .await
        .expect("create");

    env.restart_api_server().await.expect("restart");

    let after = env.pids();
    assert_ne!(after.kube_apiserver, before.kube_apiserver, "a new process");
    assert!(!process_alive(before.kube_apiserver), "the old one is gone");
    assert_eq!(after.etcd, before.etcd, "etcd keeps running");
    assert_eq!(env.server_url(), url);
    // The client made before the restart still works, and sees the data written before it.
    let got = cms.get("survivor").await.expect("get after restart");
    assert_eq!(
        got.data.and_then(|d| d.get("key").cloned()).as_deref(),
        Some("value")
    );
    cms.create(&PostParams::default(), &config_map("newcomer"))
        .await
        .expect("write after restart");

    let dir = env.data_dir().to_owned();
    env.stop().await;
    assert_torn_down(after, &dir);
}
