//! Compile-time behaviour of `#[crd]`, `#[schema]` and `#[field]`: every kind
//! of mistake is an error at the offending token saying what is allowed
//! (checked-in `.stderr` files), and correct input compiles.
//!
//! After an intended message change: `TRYBUILD=overwrite cargo test -p
//! kubeforge-macros --test ui`, then review the `.stderr` diff.

#[test]
fn ui() {
    // trybuild builds its own project with Cargo's default dev profile, not
    // this workspace's; without this its binaries link kube with full
    // debuginfo (over 100 MB each) for nothing.
    // SAFETY: the only test in this binary, so no other thread reads the
    // environment while it is written.
    unsafe { std::env::set_var("CARGO_PROFILE_DEV_DEBUG", "0") };
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
