//! Measures start-to-ready and stop times of the control plane:
//! `cargo run --release -p kubeforge-envtest --example start_stop [runs]`.

use std::time::Instant;

use kubeforge_envtest::Environment;

#[tokio::main]
async fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(3);
    for run in 1..=runs {
        let began = Instant::now();
        let env = match Environment::start().await {
            Ok(env) => env,
            Err(e) => {
                eprintln!("error: {e}");
                std::process::exit(1);
            }
        };
        let started = began.elapsed();
        let stopping = Instant::now();
        env.stop().await;
        println!(
            "run {run}: start-to-ready {:.2}s, stop {:.2}s",
            started.as_secs_f64(),
            stopping.elapsed().as_secs_f64()
        );
    }
}
