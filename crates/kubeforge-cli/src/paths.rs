//! Path arithmetic for project roots that may not exist yet.

use std::path::{Component, Path, PathBuf};

use anyhow::{Context as _, Result};

/// An absolute, normalized path even when it doesn't exist yet (a new
/// project directory): the longest existing prefix is canonicalized and the
/// rest appended.
pub fn absolute(path: &Path) -> Result<PathBuf> {
    let mut existing = path.to_path_buf();
    let mut rest = Vec::new();
    loop {
        if let Ok(canon) = std::fs::canonicalize(&existing) {
            return Ok(rest.iter().rev().fold(canon, |out, part| out.join(part)));
        }
        let Some(name) = existing.file_name().map(|n| n.to_os_string()) else {
            let cwd = std::env::current_dir().context("reading the current directory")?;
            return Ok(rest.iter().rev().fold(cwd, |out, part| out.join(part)));
        };
        rest.push(name);
        if !existing.pop() || existing.as_os_str().is_empty() {
            existing = PathBuf::from(".");
        }
    }
}

/// `target` as seen from the directory `from` (both absolute).
pub fn relative(target: &Path, from: &Path) -> PathBuf {
    let t: Vec<Component<'_>> = target.components().collect();
    let f: Vec<Component<'_>> = from.components().collect();
    let common = t.iter().zip(&f).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..f.len() {
        out.push("..");
    }
    for c in &t[common..] {
        out.push(c.as_os_str());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths() {
        assert_eq!(
            relative(
                Path::new("/r/crates/kubeforge"),
                Path::new("/r/examples/app")
            ),
            PathBuf::from("../../crates/kubeforge")
        );
        assert_eq!(
            relative(Path::new("/r/crates/kubeforge"), Path::new("/r")),
            PathBuf::from("crates/kubeforge")
        );
        assert_eq!(
            relative(Path::new("/r"), Path::new("/r/a/b")),
            PathBuf::from("../..")
        );
    }
}
