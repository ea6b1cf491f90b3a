//! Attribute macros for kubeforge operators. Use them through the `kubeforge`
//! crate, which re-exports them together with the crates they expand to.

use proc_macro::TokenStream;

mod crd;
mod rbac;

/// Marks a Spec struct as a custom resource (see docs/markers.md).
#[proc_macro_attribute]
pub fn crd(args: TokenStream, item: TokenStream) -> TokenStream {
    crd::expand_crd(args.into(), item.into()).into()
}

/// Field-level schema attributes on a type nested in a custom resource.
#[proc_macro_attribute]
pub fn schema(args: TokenStream, item: TokenStream) -> TokenStream {
    crd::expand_schema(args.into(), item.into()).into()
}

/// Declares an RBAC rule the operator needs. Read from source by
/// `kubeforge manifests`; the macro itself only validates its arguments.
#[proc_macro_attribute]
pub fn rbac(args: TokenStream, item: TokenStream) -> TokenStream {
    rbac::expand(args.into(), item.into()).into()
}
