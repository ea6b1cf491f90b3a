//! Compile-time behaviour of `#[crd]`, `#[schema]` and `#[field]`: every kind
//! of mistake is an error at the offending token saying what is allowed
//! (checked-in `.stderr` files), and correct input compiles.
//!
//! After an intended message change: `TRYBUILD=overwrite cargo test -p
//! kubeforge-macros --test ui`, then review the `.stderr` diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
