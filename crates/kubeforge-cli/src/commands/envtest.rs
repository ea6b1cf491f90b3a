//! `kubeforge envtest`: make sure the local control-plane binaries exist
//! (downloading setup-envtest's release archive, or building them from pinned
//! Go modules, the first time) and print where.

use anyhow::{Context, Result};
use kubeforge_envtest::assets::{self, EnsureOptions, Source};

use crate::cli::{EnvtestArgs, EnvtestSource};

pub fn run(args: EnvtestArgs) -> Result<()> {
    // Absolute, so the printed path works as KUBEBUILDER_ASSETS from any directory.
    let bin_dir = args
        .bin_dir
        .map(|dir| {
            std::path::absolute(&dir).with_context(|| format!("--bin-dir {}", dir.display()))
        })
        .transpose()?;
    let options = EnsureOptions {
        index_url: args.index_url,
        bin_dir,
        source: Some(match args.source {
            EnvtestSource::Auto => Source::Auto,
            EnvtestSource::Download => Source::Download,
            EnvtestSource::Go => Source::Go,
        }),
    };
    // Progress goes to stderr so `$(kubeforge envtest)` captures only the path.
    let dir = assets::ensure_with(&options, |line| eprintln!("{line}"))?;
    println!("{}", dir.display());
    Ok(())
}
