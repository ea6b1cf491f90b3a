//! Compile-time behaviour of `#[crd]`, `#[schema]` and `#[field]`: every kind
//! of mistake is an error at the offending token saying what is allowed
//! (checked-in `.stderr` files), and correct input compiles.
//!
//! After an intended message change: `TRYBUILD=overwrite cargo test -p
//! kubeforge-macros --test ui`, then review the `.stderr` diff.

#[test]
fn ui() {
    without_debuginfo();
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}

/// trybuild builds its own project with Cargo's default dev profile, not
/// this workspace's; without this its binaries link kube with full debuginfo
/// (over 100 MB each) for nothing.
#[allow(unsafe_code)]
fn without_debuginfo() {
    // SAFETY: `ui` is the only test in this binary and calls this before
    // starting anything, so no other thread reads the environment while it
    // is written.
    unsafe { std::env::set_var("CARGO_PROFILE_DEV_DEBUG", "0") };
}
