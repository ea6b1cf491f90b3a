//! Builds (or finds) the control-plane binaries, like `kubeforge envtest`, and prints
//! their directory: `cargo run -p kubeforge-envtest --example ensure_assets`.

fn main() {
    match kubeforge_envtest::assets::ensure(|line| eprintln!("{line}")) {
        Ok(dir) => println!("{}", dir.display()),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
