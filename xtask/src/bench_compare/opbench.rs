//! Operator benchmark driver for `cargo xtask bench compare`, written into a
//! scaffolded kubeforge project as `manager/examples/opbench.rs` so it
//! builds against exactly the kubeforge the managers use.
//!
//! Usage:
//!   opbench manager <binary> <crd dir> <N> [manager args...]
//!   opbench floor <crd dir> <N> <qps, 0 for none>
//!
//! Each run: a fresh control plane (kubeforge-envtest) with the CRDs, N
//! MyApps created in `default`, then watches on MyApps, Deployments and
//! Services (their initial lists done before the clock starts). `manager`
//! then starts the binary; `floor` makes the writes an operator must make
//! (server-side apply of a Deployment and a Service, and a status patch
//! per MyApp) itself, four at a time. Prints one `RESULT` line:
//! start to first status written, to convergence (every Deployment and
//! Service exists and every MyApp's status.observedGeneration is its
//! generation), and for a manager its CPU seconds at convergence, its peak
//! RSS and its RSS 10 s later; and the requests the API server served in
//! between (its own `apiserver_request_total`, watches left out), in all
//! and the writes to MyApps, with a line per verb and resource on stderr.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{StreamExt as _, TryStreamExt as _};
use kubeforge::k8s_openapi::api::apps::v1::Deployment;
use kubeforge::k8s_openapi::api::core::v1::Service;
use kubeforge::k8s_openapi::api::networking::v1::ServiceCIDR;
use kubeforge::kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kubeforge::kube::core::{ApiResource, GroupVersionKind, PartialObjectMeta};
use kubeforge::kube::runtime::watcher;
use kubeforge::kube::{Client, ResourceExt as _};
use serde_json::json;
use tokio::sync::Mutex;

const GROUP: &str = "apps.example.com";
const KIND: &str = "MyApp";
const PLURAL: &str = "myapps";
const FIELD_MANAGER: &str = "opbench-floor";

/// What the watches have seen, and when.
#[derive(Default)]
struct Progress {
    deployments: HashSet<String>,
    services: HashSet<String>,
    observed: HashSet<String>,
    first_status: Option<Instant>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: opbench manager <binary> <crd dir> <N> [args...] | opbench floor <crd dir> <N> <qps>";
    let mode = args.first().ok_or_else(|| anyhow::anyhow!(usage))?.clone();
    let (binary, rest) = match mode.as_str() {
        "manager" => (Some(PathBuf::from(args.get(1).ok_or_else(|| anyhow::anyhow!(usage))?)), &args[2..]),
        "floor" => (None, &args[1..]),
        _ => anyhow::bail!(usage),
    };
    let crd_dir = PathBuf::from(rest.first().ok_or_else(|| anyhow::anyhow!(usage))?);
    let n: usize = rest.get(1).ok_or_else(|| anyhow::anyhow!(usage))?.parse()?;
    let extra = rest.get(2..).unwrap_or_default().to_vec();
    let timeout = Duration::from_secs(120 + n as u64);

    let env = kubeforge_envtest::Environment::builder().crd_dir(&crd_dir).start().await?;
    let client = env.client();
    // kubeforge-envtest's Service range is a /24 (254 addresses): one Service
    // per MyApp needs more. A second ServiceCIDR extends it (the API server
    // allocates from it without kube-controller-manager).
    let cidr: ServiceCIDR = serde_json::from_value(json!({
        "metadata": { "name": "opbench" },
        "spec": { "cidrs": ["10.96.0.0/12"] }
    }))?;
    Api::<ServiceCIDR>::all(client.clone()).create(&PostParams::default(), &cidr).await?;
    let gvk = GroupVersionKind::gvk(GROUP, "v1", KIND);
    let resource = ApiResource::from_gvk_with_plural(&gvk, PLURAL);
    let apps: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &resource);
    futures::stream::iter(0..n)
        .map(|i| {
            let apps = apps.clone();
            let resource = resource.clone();
            async move {
                let mut object = DynamicObject::new(&format!("app-{i}"), &resource);
                object.data = json!({ "spec": { "replicas": 1, "image": "nginx:1.27", "port": 8080 } });
                apps.create(&PostParams::default(), &object).await.map(drop)
            }
        })
        .buffer_unordered(32)
        .try_collect::<()>()
        .await?;

    let progress = Arc::new(std::sync::Mutex::new(Progress::default()));
    let ready = watch(client.clone(), resource.clone(), progress.clone()).await?;
    ready.await?;

    let requests_before = request_counts(&client).await?;
    let began = Instant::now();
    let mut child = None;
    let mut floor = None;
    match &binary {
        Some(binary) => {
            let stderr = std::fs::File::create(std::env::temp_dir().join(format!("opbench-{n}.log")))?;
            child = Some(
                std::process::Command::new(binary)
                    .arg("--kubeconfig")
                    .arg(env.kubeconfig_path())
                    .args(&extra)
                    .env("METRICS_BIND_ADDRESS", "0")
                    .env("HEALTH_PROBE_BIND_ADDRESS", "0")
                    .env("ENABLE_WEBHOOKS", "false")
                    .env("LOG_LEVEL", "warn")
                    .env("POD_NAMESPACE", "default")
                    .stdout(std::process::Stdio::null())
                    .stderr(stderr)
                    .spawn()?,
            );
        }
        None => {
            let qps: u32 = extra.first().map(|q| q.parse()).transpose()?.unwrap_or(0);
            floor = Some(tokio::spawn(load(client.clone(), resource.clone(), qps)));
        }
    }
    let pid = child.as_ref().map(|c| c.id());

    let mut converged = None;
    while began.elapsed() < timeout {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if let Some(child) = child.as_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                anyhow::bail!("the manager exited early: {status}");
            }
        }
        let p = progress.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        if p.deployments.len() >= n && p.services.len() >= n && p.observed.len() >= n {
            converged = Some(began.elapsed());
            break;
        }
    }
    let cpu = match pid {
        Some(pid) => cpu_seconds(pid)?,
        None => 0.0,
    };
    let (first, counts) = {
        let p = progress.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        (
            p.first_status.map(|t| t.duration_since(began).as_secs_f64()),
            (p.deployments.len(), p.services.len(), p.observed.len()),
        )
    };
    let requests = since(&requests_before, &request_counts(&client).await?);
    let Some(converged) = converged else {
        if let Some(child) = child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
        anyhow::bail!(
            "not converged in {timeout:?}: {} Deployments, {} Services, {} statuses of {n}",
            counts.0, counts.1, counts.2
        );
    };
    if let Some(floor) = floor {
        floor.await??;
    }
    let (mut peak, mut rss10) = (0.0, 0.0);
    if let (Some(pid), Some(child)) = (pid, child.as_mut()) {
        tokio::time::sleep(Duration::from_secs(10)).await;
        rss10 = status_kib(pid, "VmRSS:")? as f64 / 1024.0;
        peak = status_kib(pid, "VmHWM:")? as f64 / 1024.0;
        let _ = child.kill();
        let _ = child.wait();
    }
    for (key, count) in &requests {
        eprintln!("    requests: {key} {count}");
    }
    let total: u64 = requests.values().sum();
    let app_writes: u64 = requests
        .iter()
        .filter(|(key, _)| key.resource.starts_with(PLURAL) && !matches!(key.verb.as_str(), "GET" | "LIST"))
        .map(|(_, count)| count)
        .sum();
    println!(
        "RESULT n={n} first_s={:.3} converge_s={:.3} cpu_s={cpu:.2} peak_mib={peak:.1} rss10_mib={rss10:.1} requests={total} app_writes={app_writes}",
        first.unwrap_or(f64::NAN),
        converged.as_secs_f64(),
    );
    env.stop().await;
    Ok(())
}

/// Starts the three watches; the returned future resolves once each has
/// listed what exists.
async fn watch(
    client: Client,
    resource: ApiResource,
    progress: Arc<std::sync::Mutex<Progress>>,
) -> anyhow::Result<impl std::future::Future<Output = anyhow::Result<()>>> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<()>(3);
    let apps: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &resource);
    {
        let (progress, tx) = (progress.clone(), tx.clone());
        tokio::spawn(async move {
            let mut stream = watcher::watcher(apps, watcher::Config::default()).boxed();
            while let Some(Ok(event)) = stream.next().await {
                match event {
                    watcher::Event::InitDone => { let _ = tx.send(()).await; }
                    watcher::Event::Apply(o) | watcher::Event::InitApply(o) => {
                        let seen = o.data.pointer("/status/observedGeneration").and_then(|g| g.as_i64());
                        if seen.is_some() && seen == o.metadata.generation {
                            if let Ok(mut p) = progress.lock() {
                                p.first_status.get_or_insert_with(Instant::now);
                                p.observed.insert(o.name_any());
                            }
                        }
                    }
                    _ => {}
                }
            }
        });
    }
    macro_rules! owned {
        ($kind:ty, $field:ident) => {{
            // Metadata only: names are all this needs.
            let api: Api<PartialObjectMeta<$kind>> = Api::namespaced(client.clone(), "default");
            let (progress, tx) = (progress.clone(), tx.clone());
            tokio::spawn(async move {
                let mut stream = watcher::watcher(api, watcher::Config::default()).boxed();
                while let Some(Ok(event)) = stream.next().await {
                    match event {
                        watcher::Event::InitDone => { let _ = tx.send(()).await; }
                        watcher::Event::Apply(o) | watcher::Event::InitApply(o) => {
                            if let Ok(mut p) = progress.lock() {
                                p.$field.insert(o.name_any());
                            }
                        }
                        _ => {}
                    }
                }
            });
        }};
    }
    owned!(Deployment, deployments);
    owned!(Service, services);
    drop(tx);
    Ok(async move {
        for _ in 0..3 {
            rx.recv().await.ok_or_else(|| anyhow::anyhow!("a watch ended before its first list"))?;
        }
        Ok(())
    })
}

/// A token bucket as client-go's: `qps` a second, `2 * qps` at once.
struct Bucket {
    qps: f64,
    burst: f64,
    state: Mutex<(f64, Instant)>,
}

impl Bucket {
    async fn take(&self) {
        if self.qps <= 0.0 {
            return;
        }
        loop {
            let wait = {
                let mut state = self.state.lock().await;
                let now = Instant::now();
                let tokens = (state.0 + now.duration_since(state.1).as_secs_f64() * self.qps).min(self.burst);
                *state = (tokens, now);
                if tokens >= 1.0 {
                    state.0 -= 1.0;
                    return;
                }
                (1.0 - tokens) / self.qps
            };
            tokio::time::sleep(Duration::from_secs_f64(wait)).await;
        }
    }
}

/// The floor: per MyApp, the Deployment and Service the operators apply and
/// the status they write, four MyApps at a time, through one rate limit.
async fn load(client: Client, resource: ApiResource, qps: u32) -> anyhow::Result<()> {
    let bucket = Arc::new(Bucket {
        qps: qps as f64,
        burst: 2.0 * qps as f64,
        state: Mutex::new((2.0 * qps as f64, Instant::now())),
    });
    let apps: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &resource);
    let list = apps.list(&Default::default()).await?;
    let params = PatchParams::apply(FIELD_MANAGER).force();
    futures::stream::iter(list.items)
        .map(|app| {
            let (client, bucket, params) = (client.clone(), bucket.clone(), params.clone());
            let apps = apps.clone();
            async move {
                let name = app.name_any();
                let uid = app.metadata.uid.clone().unwrap_or_default();
                let owner = json!([{ "apiVersion": "apps.example.com/v1", "kind": "MyApp", "name": name, "uid": uid, "controller": true, "blockOwnerDeletion": true }]);
                let selector = json!({ "app.kubernetes.io/name": "myapp", "app.kubernetes.io/instance": name });
                let labels = json!({ "app.kubernetes.io/name": "myapp", "app.kubernetes.io/instance": name, "app.kubernetes.io/managed-by": "myapp-operator" });
                let deployment = json!({
                    "apiVersion": "apps/v1", "kind": "Deployment",
                    "metadata": { "name": name, "namespace": "default", "labels": labels, "ownerReferences": owner },
                    "spec": { "replicas": 1, "selector": { "matchLabels": selector },
                        "template": { "metadata": { "labels": labels },
                            "spec": { "containers": [{ "name": "app", "image": "nginx:1.27",
                                "ports": [{ "name": "http", "containerPort": 8080, "protocol": "TCP" }] }] } } }
                });
                let service = json!({
                    "apiVersion": "v1", "kind": "Service",
                    "metadata": { "name": name, "namespace": "default", "labels": labels, "ownerReferences": owner },
                    "spec": { "selector": selector, "ports": [{ "name": "http", "port": 8080, "protocol": "TCP", "targetPort": "http" }] }
                });
                bucket.take().await;
                Api::<Deployment>::namespaced(client.clone(), "default").patch(&name, &params, &Patch::Apply(&deployment)).await?;
                bucket.take().await;
                Api::<Service>::namespaced(client.clone(), "default").patch(&name, &params, &Patch::Apply(&service)).await?;
                let generation = app.metadata.generation;
                let status = json!({
                    "apiVersion": "apps.example.com/v1", "kind": "MyApp",
                    "status": { "observedGeneration": generation, "conditions": [
                        { "type": "Available", "status": "False", "reason": "ReplicasNotReady", "message": "0/1 replicas ready", "observedGeneration": generation, "lastTransitionTime": "2026-01-01T00:00:00Z" },
                        { "type": "Progressing", "status": "True", "reason": "RollingOut", "message": "0/1 replicas updated, 0 ready", "observedGeneration": generation, "lastTransitionTime": "2026-01-01T00:00:00Z" },
                        { "type": "Degraded", "status": "False", "reason": "AsExpected", "message": "", "observedGeneration": generation, "lastTransitionTime": "2026-01-01T00:00:00Z" }
                    ] }
                });
                bucket.take().await;
                apps.patch_status(&name, &params, &Patch::Apply(&status)).await?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(4)
        .try_collect::<()>()
        .await
}

/// A line of `apiserver_request_total`, without the labels that do not
/// tell operators apart.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct RequestKey {
    verb: String,
    /// `resource` or `resource/subresource`.
    resource: String,
    code: String,
}

impl std::fmt::Display for RequestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {}", self.verb, self.resource, self.code)
    }
}

/// The API server's request counters (its /metrics), watches left out:
/// they are long-lived and counted when they start, not per event.
async fn request_counts(client: &Client) -> anyhow::Result<BTreeMap<RequestKey, u64>> {
    let request = http::Request::get("/metrics").body(Vec::new())?;
    let text = client.request_text(request).await?;
    let mut counts = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("apiserver_request_total{") else { continue };
        let Some((labels, value)) = rest.rsplit_once("} ") else { continue };
        let label = |name: &str| {
            labels
                .split(',')
                .find_map(|pair| pair.strip_prefix(name)?.strip_prefix("=\""))
                .map(|v| v.trim_end_matches('"').to_owned())
                .unwrap_or_default()
        };
        let verb = label("verb");
        if verb == "WATCH" || verb.is_empty() {
            continue;
        }
        let (resource, subresource) = (label("resource"), label("subresource"));
        let key = RequestKey {
            verb,
            resource: if subresource.is_empty() { resource } else { format!("{resource}/{subresource}") },
            code: label("code"),
        };
        *counts.entry(key).or_default() += value.trim().parse::<f64>().unwrap_or(0.0) as u64;
    }
    Ok(counts)
}

/// What `after` counted beyond `before`.
fn since(before: &BTreeMap<RequestKey, u64>, after: &BTreeMap<RequestKey, u64>) -> BTreeMap<RequestKey, u64> {
    after
        .iter()
        .filter_map(|(key, count)| {
            let added = count.saturating_sub(before.get(key).copied().unwrap_or(0));
            (added > 0).then(|| (key.clone(), added))
        })
        .collect()
}

/// utime + stime of a process, in seconds (/proc/<pid>/stat, clock ticks
/// of 1/100 s, as on every Linux the kernel's USER_HZ is).
fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces), from field 3.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> anyhow::Result<f64> {
        Ok(fields.get(i).ok_or_else(|| anyhow::anyhow!("short /proc/{pid}/stat"))?.parse::<f64>()?)
    };
    // utime is field 14, stime 15: indexes 11 and 12 after the name.
    Ok((ticks(11)? + ticks(12)?) / 100.0)
}

fn status_kib(pid: u32, key: &str) -> anyhow::Result<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = text
        .lines()
        .find(|l| l.starts_with(key))
        .ok_or_else(|| anyhow::anyhow!("no {key} in /proc/{pid}/status"))?;
    Ok(line
        .split_whitespace()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("bad {key} line"))?
        .parse()?)
}
