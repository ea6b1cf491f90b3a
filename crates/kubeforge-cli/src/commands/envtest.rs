//! `kubeforge envtest`: make sure the local control-plane binaries exist
//! (building them from pinned Go modules the first time) and print where.

use anyhow::Result;

use crate::cli::EnvtestArgs;

pub fn run(_args: EnvtestArgs) -> Result<()> {
    // Progress goes to stderr so `$(kubeforge envtest)` captures only the path.
    let dir = kubeforge_envtest::assets::ensure(|line| eprintln!("{line}"))?;
    println!("{}", dir.display());
    Ok(())
}
