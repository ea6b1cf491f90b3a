//! `#[webhook(...)]`: validates its arguments at compile time, leaves the
//! struct alone and gives it a `PATH` constant. The webhook configuration
//! itself is read from the source by `kubeforge manifests` (see
//! `kubeforge_codegen::scan`), like `#[rbac]`.
//!
//! `PATH` is there so the path has one source: the server registers the
//! webhook at `MyAppDefaulter::PATH`, and manifests.yaml tells the API
//! server to call the `path` written in the attribute.

use kubeforge_codegen::webhook::WebhookArgs;
use proc_macro2::TokenStream;
use quote::quote;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput};

/// Checks `args`, returns `item` unchanged followed by
/// `impl Item { pub const PATH: &'static str = "<path>"; }`.
///
/// On invalid arguments the compile error comes first and the item and a
/// `PATH` of `""` are still emitted, so the user sees only our error and not
/// a cascade of "no associated item named `PATH`" errors where it is used.
pub fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let input = match syn::parse2::<DeriveInput>(item.clone()) {
        Ok(input) if !matches!(input.data, Data::Union(_)) => input,
        Ok(input) => return not_a_struct(input.span(), item),
        Err(err) => return not_a_struct(err.span(), item),
    };
    let (path, error) = match WebhookArgs::parse(args) {
        Ok(args) => (args.path, None),
        Err(err) => (String::new(), Some(err.to_compile_error())),
    };
    let name = &input.ident;
    let (impl_generics, type_generics, where_clause) = input.generics.split_for_impl();
    quote! {
        #error
        #item
        impl #impl_generics #name #type_generics #where_clause {
            /// The path the API server calls this webhook at, from its
            /// `#[webhook(path = ...)]`: the webhook configuration
            /// `kubeforge manifests` writes to config/webhook/manifests.yaml
            /// names the same path, so register the webhook's handler here.
            pub const PATH: &'static str = #path;
        }
    }
}

/// The error for an attribute on something other than a struct or enum,
/// followed by the item as it was.
fn not_a_struct(span: proc_macro2::Span, item: TokenStream) -> TokenStream {
    let error = syn::Error::new(
        span,
        "#[webhook] goes on the struct (or enum) that implements the defaulter or validator, \
         e.g. `#[webhook(...)] pub struct MyAppDefaulter;`",
    )
    .to_compile_error();
    quote!(#error #item)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> TokenStream {
        quote!(
            path = "/mutate-apps-example-com-v1-myapp",
            mutating = true,
            side_effects = "None",
            groups = ["apps.example.com"],
            resources = ["myapps"],
            verbs = ["create", "update"],
            versions = ["v1"],
            name = "mmyapp-v1.kb.io",
            admission_review_versions = ["v1"]
        )
    }

    #[test]
    fn the_item_is_kept_and_gets_its_path() {
        let item = quote!(
            #[derive(Clone)]
            pub struct MyAppDefaulter;
        );
        let out = expand(args(), item.clone()).to_string();
        assert!(out.starts_with(&item.to_string()), "{out}");
        let constant = quote!(
            pub const PATH: &'static str = "/mutate-apps-example-com-v1-myapp";
        )
        .to_string();
        assert!(out.contains(&constant), "{out}");
        assert!(out.contains("impl MyAppDefaulter {"), "{out}");
    }

    #[test]
    fn generic_items_get_a_generic_impl() {
        let out = expand(
            args(),
            quote!(
                pub enum Hook<T: Clone>
                where
                    T: Send,
                {
                    A(T),
                }
            ),
        )
        .to_string();
        assert!(
            out.contains("impl < T : Clone > Hook < T > where T : Send , {"),
            "{out}"
        );
    }

    #[test]
    fn invalid_arguments_emit_the_error_then_the_item_and_an_empty_path() {
        let item = quote!(
            pub struct V;
        );
        let out = expand(quote!(path = "/x", pth = "/y"), item.clone()).to_string();
        assert!(out.starts_with(":: core :: compile_error !"), "{out}");
        assert!(out.contains("unknown key `pth`"), "{out}");
        assert!(out.contains(&item.to_string()), "{out}");
        assert!(out.contains("PATH : & 'static str = \"\""), "{out}");
    }

    #[test]
    fn only_structs_and_enums_are_allowed() {
        for item in [
            quote!(
                fn register() {}
            ),
            quote!(
                union U {
                    a: u8,
                }
            ),
            quote!(
                impl X {}
            ),
        ] {
            let out = expand(args(), item.clone()).to_string();
            assert!(
                out.contains("#[webhook] goes on the struct (or enum)"),
                "{out}"
            );
            assert!(out.ends_with(&item.to_string()), "{out}");
            assert!(!out.contains("PATH"), "{out}");
        }
    }
}
