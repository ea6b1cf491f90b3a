//! cargo-generate/operator/ is generated from templates/ (see
//! `kubeforge_cli::cargo_generate`), so the cargo-generate template cannot
//! drift from what `kubeforge init` + `kubeforge create api` write
//! (rust-analyzer's "tests that keep generated files in sync"): this test
//! regenerates it and, when the folder on disk differs, rewrites it and
//! fails. Run `cargo test -p kubeforge-cli --test cargo_generate_template`
//! and commit the folder. `cargo xtask cargo-generate` runs the real
//! cargo-generate on it and diffs the result against kubeforge's.

use std::path::Path;

use kubeforge_cli::cargo_generate;

#[test]
fn cargo_generate_template_is_current() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(cargo_generate::DIR);
    let changed = cargo_generate::write(&dir).unwrap();
    assert!(
        !changed,
        "{} was out of date and has been regenerated from templates/; review and commit it",
        dir.display()
    );
}
