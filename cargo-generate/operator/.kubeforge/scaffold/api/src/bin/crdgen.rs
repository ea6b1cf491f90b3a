{{ license_header }}//! Prints every custom resource defined in {{ api_crate }} as JSON, for
//! `kubeforge manifests`. Kinds register themselves, so this file never
//! needs editing.

use {{ api_lib }} as _;

fn main() -> std::process::ExitCode {
    kubeforge::manifests::crdgen_main()
}
