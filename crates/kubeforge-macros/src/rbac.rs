//! `#[rbac(...)]`: validates its arguments at compile time and otherwise
//! leaves the item alone. The rules themselves are read from the source by
//! `kubeforge manifests` (see `kubeforge_codegen::scan`), so the attribute
//! needs no run-time footprint.

use kubeforge_codegen::rbac::RbacRule;
use proc_macro2::TokenStream;

/// Checks `args` and returns `item` unchanged. On invalid arguments the
/// compile error comes first and the item is still emitted, so the user sees
/// only our error and not a cascade of "cannot find function" errors.
///
/// The item is never parsed: the attribute may sit on any item (fn, struct,
/// impl, mod, ...), and it has nothing to say about it.
pub fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    match RbacRule::parse(args) {
        Ok(_) => item,
        Err(err) => {
            let mut out = err.to_compile_error();
            out.extend(item);
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    #[test]
    fn valid_arguments_return_the_item_unchanged() {
        let item = quote!(
            pub struct Reconciler;
        );
        let out = expand(
            quote!(groups = "apps", resources = "deployments", verbs = ["get"]),
            item.clone(),
        );
        assert_eq!(out.to_string(), item.to_string());
    }

    #[test]
    fn invalid_arguments_emit_the_error_then_the_item() {
        let item = quote!(
            fn reconcile() {}
        );
        let out = expand(
            quote!(groups = "", resources = "pods", verb = "get"),
            item.clone(),
        )
        .to_string();
        assert!(out.starts_with(":: core :: compile_error !"), "{out}");
        assert!(out.contains("unknown key `verb`"), "{out}");
        assert!(out.ends_with(&item.to_string()), "{out}");
    }
}
