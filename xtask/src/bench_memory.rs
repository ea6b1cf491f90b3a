//! `cargo xtask bench memory [--large]`: the scaffolded manager's resident
//! memory with 0, 1,000 and 3,000 small MyApps (10,000 with `--large`), so
//! a change that makes memory grow with the number of objects shows.
//!
//! For each count: a fresh control plane (kubeforge-envtest) with the
//! scaffold's CRD and that many MyApps (one short spec field), then the
//! release manager started against it; its VmRSS is sampled every second
//! for 40 s. Reported: the mean RSS over seconds 30-40, the peak (VmHWM),
//! open sockets at the end, and how many MyApps had their status written by
//! then. The driver is an example written into the scaffolded project, so
//! it builds against exactly the kubeforge the manager uses. It measures
//! and prints; nothing here asserts (see docs/memory.md for the numbers and
//! what they should stay under).

use std::process::Stdio;

use anyhow::{Context as _, Result, bail};

use crate::{command, envtest, kubeforge_binary, root, shared_target_dir};

/// Seconds the manager runs per count; RSS is averaged over the last ten.
const SECONDS: u32 = 40;

/// Kubebuilder's scaffolded manager on the same machine, from the issue
/// this benchmark came from: MiB at 3,000 MyApps, and MiB per 1,000 more.
const KUBEBUILDER_AT_3000: f64 = 57.1;
const KUBEBUILDER_PER_1000: f64 = 2.6;

/// Runs the benchmark and prints a Markdown table; `large` adds 10,000 objects.
pub fn run(large: bool) -> Result<()> {
    let kubeforge = kubeforge_binary()?;
    let assets = envtest()?;
    let scratch = tempfile::tempdir()?;
    let project = scratch.path().join("memtest");
    std::fs::create_dir(&project)?;
    let target = shared_target_dir()?;
    let kubeforge_path = root();
    let steps: [Vec<&std::ffi::OsStr>; 3] = [
        [
            "init",
            "--domain",
            "example.com",
            "--project-name",
            "memtest",
            "--kubeforge-path",
        ]
        .iter()
        .map(std::ffi::OsStr::new)
        .chain([kubeforge_path.as_os_str()])
        .collect(),
        [
            "create",
            "api",
            "--group",
            "apps",
            "--version",
            "v1",
            "--kind",
            "MyApp",
        ]
        .iter()
        .map(std::ffi::OsStr::new)
        .collect(),
        vec![std::ffi::OsStr::new("manifests")],
    ];
    for args in steps {
        crate::step(
            &format!("kubeforge {}", args[0].to_string_lossy()),
            command(&kubeforge)
                .args(&args)
                .current_dir(&project)
                .env("CARGO_TARGET_DIR", &target)
                .stdin(Stdio::null()),
        )?;
    }
    let examples = project.join("manager/examples");
    std::fs::create_dir_all(&examples)?;
    std::fs::write(examples.join("membench.rs"), DRIVER)?;
    crate::step(
        "build the manager and the memory driver (release)",
        crate::cargo()
            .args(["build", "--release", "--quiet", "-p", "memtest-manager"])
            .args(["--bin", "manager", "--example", "membench"])
            .current_dir(&project)
            .env("CARGO_TARGET_DIR", &target),
    )?;
    let release = target.join("release");
    let mut counts = vec!["0", "1000", "3000"];
    if large {
        counts.push("10000");
    }
    eprintln!(
        "==> manager memory at {} objects, {SECONDS} s each",
        counts.join(", ")
    );
    let output = command(release.join("examples/membench"))
        .arg(release.join("manager"))
        .arg(project.join("config/crd/bases"))
        .arg(SECONDS.to_string())
        .args(&counts)
        .env("KUBEBUILDER_ASSETS", &assets)
        .current_dir(&project)
        .stderr(Stdio::inherit())
        .output()
        .context("running the memory driver")?;
    if !output.status.success() {
        bail!("the memory driver failed ({})", output.status);
    }
    let rows = parse(&String::from_utf8_lossy(&output.stdout))?;
    println!("{}", table(&rows));
    Ok(())
}

/// One count's figures, as the driver prints them.
#[derive(Debug, PartialEq)]
struct Row {
    objects: u64,
    rss_mib: f64,
    peak_mib: f64,
    sockets: u64,
    reconciled: u64,
}

/// Reads the driver's `N=1000 rss_30_40_mib=17.9 peak_mib=18.0 ...` lines.
fn parse(text: &str) -> Result<Vec<Row>> {
    let rows: Vec<Row> = text
        .lines()
        .filter(|line| line.starts_with("N="))
        .map(|line| {
            let field = |key: &str| -> Result<&str> {
                line.split_whitespace()
                    .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
                    .with_context(|| format!("no `{key}` in the driver's line `{line}`"))
            };
            Ok(Row {
                objects: field("N")?.parse()?,
                rss_mib: field("rss_30_40_mib")?.parse()?,
                peak_mib: field("peak_mib")?.parse()?,
                sockets: field("sockets")?.parse()?,
                reconciled: field("reconciled")?.parse()?,
            })
        })
        .collect::<Result<_>>()?;
    if rows.is_empty() {
        bail!("the memory driver printed no results:\n{text}");
    }
    Ok(rows)
}

/// The Markdown table, plus the slope between consecutive counts.
fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "\n| MyApps | RSS at 30-40 s | Peak RSS | Sockets | Status written in 40 s | MiB per 1,000 more |\n| --- | --- | --- | --- | --- | --- |\n",
    );
    let mut previous: Option<&Row> = None;
    for row in rows {
        let slope = match previous {
            Some(p) if row.objects > p.objects && p.objects > 0 => format!(
                "{:.1}",
                (row.rss_mib - p.rss_mib) * 1000.0 / (row.objects - p.objects) as f64
            ),
            _ => String::new(),
        };
        out.push_str(&format!(
            "| {} | {:.1} MiB | {:.1} MiB | {} | {} | {slope} |\n",
            row.objects, row.rss_mib, row.peak_mib, row.sockets, row.reconciled
        ));
        previous = Some(row);
    }
    out.push_str(&format!(
        "\nTargets (Kubebuilder's scaffold on the same machine): at 3,000 MyApps at most {:.1} MiB (half of {KUBEBUILDER_AT_3000} MiB); at most {KUBEBUILDER_PER_1000} MiB per 1,000 more objects.\n",
        KUBEBUILDER_AT_3000 / 2.0
    ));
    out
}

/// The driver, written into the scaffolded project as
/// `manager/examples/membench.rs`: it uses only what the scaffold's manager
/// crate depends on (kubeforge, kubeforge-envtest, tokio, futures, serde_json).
const DRIVER: &str = r##"
//! Memory benchmark driver: for each N, a fresh control plane with the
//! project's CRDs and N small MyApps, then the release manager started
//! against it; prints its resident memory.
//!
//! Usage: membench <manager binary> <crd dir> <seconds> <N>...
//! Extra manager arguments come from MEMBENCH_MANAGER_ARGS (space separated).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures::{StreamExt as _, TryStreamExt as _};
use kubeforge::kube::api::{Api, DynamicObject, ListParams, PostParams};
use kubeforge::kube::core::{ApiResource, GroupVersionKind};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: membench <manager> <crd dir> <seconds> <N>...";
    let manager = PathBuf::from(args.next().ok_or_else(|| anyhow::anyhow!(usage))?);
    let crd_dir = PathBuf::from(args.next().ok_or_else(|| anyhow::anyhow!(usage))?);
    let seconds: u64 = args.next().ok_or_else(|| anyhow::anyhow!(usage))?.parse()?;
    let counts = args.map(|n| n.parse::<usize>()).collect::<Result<Vec<_>, _>>()?;
    let extra: Vec<String> = std::env::var("MEMBENCH_MANAGER_ARGS")
        .unwrap_or_default()
        .split_whitespace()
        .map(String::from)
        .collect();
    for n in counts {
        let env = kubeforge_envtest::Environment::builder().crd_dir(&crd_dir).start().await?;
        let gvk = GroupVersionKind::gvk(GROUP, "v1", KIND);
        let resource = ApiResource::from_gvk_with_plural(&gvk, PLURAL);
        let api: Api<DynamicObject> = Api::namespaced_with(env.client(), "default", &resource);
        let began = Instant::now();
        futures::stream::iter(0..n)
            .map(|i| {
                let api = api.clone();
                let resource = resource.clone();
                async move {
                    let mut object = DynamicObject::new(&format!("app-{i}"), &resource);
                    object.data = serde_json::json!({ "spec": { "replicas": 1 } });
                    api.create(&PostParams::default(), &object).await.map(drop)
                }
            })
            .buffer_unordered(32)
            .try_collect::<()>()
            .await?;
        let created = began.elapsed();
        let mut child = std::process::Command::new(&manager)
            .arg("--kubeconfig")
            .arg(env.kubeconfig_path())
            .args(&extra)
            .env("METRICS_BIND_ADDRESS", "0")
            .env("HEALTH_PROBE_BIND_ADDRESS", "0")
            .env("ENABLE_WEBHOOKS", "false")
            .env("LOG_LEVEL", "warn")
            .stdout(std::process::Stdio::null())
            .spawn()?;
        let pid = child.id();
        let mut samples = Vec::new();
        for _ in 0..seconds {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if let Ok(Some(status)) = child.try_wait() {
                anyhow::bail!("the manager exited early: {status}");
            }
            samples.push(status_kib(pid, "VmRSS:")?);
        }
        let hwm = status_kib(pid, "VmHWM:")?;
        let threads = status_kib(pid, "Threads:")?;
        let sockets = std::fs::read_dir(format!("/proc/{pid}/fd"))?
            .filter_map(Result::ok)
            .filter(|e| std::fs::read_link(e.path()).is_ok_and(|t| t.to_string_lossy().starts_with("socket:")))
            .count();
        let _ = child.kill();
        let _ = child.wait();
        let late: Vec<u64> = samples.iter().copied().skip(30).collect();
        let late = if late.is_empty() { samples.clone() } else { late };
        let avg = late.iter().sum::<u64>() as f64 / late.len().max(1) as f64;
        let reconciled = api
            .list(&ListParams::default())
            .await?
            .items
            .iter()
            .filter(|o| o.data.pointer("/status/observedGeneration").is_some())
            .count();
        let series: Vec<String> = samples.iter().map(|k| format!("{:.0}", *k as f64 / 1024.0)).collect();
        println!(
            "N={n} rss_30_40_mib={:.1} peak_mib={:.1} threads={threads} sockets={sockets} reconciled={reconciled} create_s={:.1} series=[{}]",
            avg / 1024.0,
            hwm as f64 / 1024.0,
            created.as_secs_f64(),
            series.join(",")
        );
        env.stop().await;
    }
    Ok(())
}

const GROUP: &str = "apps.example.com";
const KIND: &str = "MyApp";
const PLURAL: &str = "myapps";

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
"##;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_driver_and_reports_slopes() {
        let rows = parse(
            "noise\nN=1000 rss_30_40_mib=20.0 peak_mib=21.5 threads=3 sockets=8 reconciled=1000 create_s=1.0 series=[1]\n\
             N=3000 rss_30_40_mib=24.0 peak_mib=25.0 threads=3 sockets=8 reconciled=2000 create_s=3.0 series=[1]\n",
        )
        .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].reconciled, 2000);
        let table = table(&rows);
        assert!(
            table.contains("| 3000 | 24.0 MiB | 25.0 MiB | 8 | 2000 | 2.0 |"),
            "{table}"
        );
        assert!(parse("nothing").is_err());
        assert!(parse("N=1 rss_30_40_mib=x").is_err());
    }
}
