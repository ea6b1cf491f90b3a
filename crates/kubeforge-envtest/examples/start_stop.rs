//! Measures start-to-ready and stop times of the control plane, stopping it
//! once idle and once with a watch open (as when a controller test ends):
//! `cargo run --release -p kubeforge-envtest --example start_stop [runs]`.

use std::time::Instant;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, WatchParams};
use kubeforge_envtest::Environment;

#[tokio::main]
async fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(3);
    for run in 1..=runs {
        let began = Instant::now();
        let env = start_or_exit().await;
        let started = began.elapsed();
        let stopping = Instant::now();
        env.stop().await;
        let stopped = stopping.elapsed();

        let env = start_or_exit().await;
        let namespaces: Api<Namespace> = Api::all(env.client());
        let watch = match namespaces.watch(&WatchParams::default(), "0").await {
            Ok(watch) => watch,
            Err(e) => {
                eprintln!("error: watching namespaces: {e}");
                std::process::exit(1);
            }
        };
        let watching = tokio::spawn(async move {
            use futures::StreamExt as _;
            let mut watch = std::pin::pin!(watch);
            while watch.next().await.is_some() {}
        });
        let stopping = Instant::now();
        env.stop().await;
        let stopped_watched = stopping.elapsed();
        watching.abort();
        println!(
            "run {run}: start-to-ready {:.2}s, stop {:.2}s, stop with a watch open {:.2}s",
            started.as_secs_f64(),
            stopped.as_secs_f64(),
            stopped_watched.as_secs_f64()
        );
    }
}

async fn start_or_exit() -> Environment {
    match Environment::start().await {
        Ok(env) => env,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
