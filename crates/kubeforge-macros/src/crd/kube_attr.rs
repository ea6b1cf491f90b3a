//! The code `#[crd]` expands to: kube's `#[derive(CustomResource)]` with the
//! equivalent `#[kube(...)]` attribute, the kind's schema and `crd()`, and
//! the registration that lets the API crate's `crdgen` print every CRD.
//!
//! kube's derive is told `schema = "manual"`: the kind's `JsonSchema` is
//! kubeforge's (`kubeforge::__private::crd_schema`), which writes the schema
//! as controller-gen does (Kubernetes' own schemas for embedded core types,
//! no `nullable` for every `Option`, the root's `apiVersion`/`kind`/`metadata`).
//! The kind also gets an inherent `crd()`, which shadows
//! `CustomResourceExt::crd` for `MyApp::crd()` and adds what kube's leaves
//! out (`names.listKind`); the registry uses it too, so `MyApp::crd()`,
//! `all_crds()` and `kubeforge manifests` agree.

use proc_macro2::{Ident, TokenStream};
use quote::{ToTokens, quote};
use syn::{Attribute, DeriveInput, Expr, ExprLit, Lit};

use super::Gvk;
use super::keys::CrdKeys;
use crate::item::{self, Prepared};

/// The Spec with kube's derive, plus its `inventory` registration.
pub(super) fn expand(
    input: &DeriveInput,
    prepared: Prepared,
    keys: &CrdKeys,
    gvk: &Gvk,
) -> TokenStream {
    let kube = kube_args(input, keys, gvk);
    let Gvk { version, kind, .. } = gvk;
    let root = Ident::new(&kind.value(), kind.span());
    let storage = keys.storage.is_some();
    let version_str = version.value();
    let kind_str = kind.value();
    let spec = &input.ident;
    let description = doc_text(&input.attrs);
    let status = match &keys.status {
        Some(status) => quote! {
            ::core::option::Option::Some(|generator: &mut ::kubeforge::schemars::SchemaGenerator| {
                generator.subschema_for::<#status>()
            })
        },
        None => quote!(::core::option::Option::None),
    };
    let root_rules = &keys.root_validation;
    let validations = if root_rules.is_empty() {
        quote!(::core::option::Option::None)
    } else {
        quote! {
            ::core::option::Option::Some(|| ::kubeforge::serde_json::json!([#(#root_rules),*]))
        }
    };
    let external_docs = match &keys.root_external_docs {
        Some(docs) => quote! {
            ::core::option::Option::Some(|| ::kubeforge::serde_json::json!(#docs))
        },
        None => quote!(::core::option::Option::None),
    };
    let schema = quote! {
        impl ::kubeforge::schemars::JsonSchema for #root {
            fn schema_name() -> ::std::borrow::Cow<'static, str> {
                ::std::borrow::Cow::Borrowed(#kind_str)
            }

            fn json_schema(
                generator: &mut ::kubeforge::schemars::SchemaGenerator,
            ) -> ::kubeforge::schemars::Schema {
                ::kubeforge::__private::crd_schema::root_json_schema(
                    generator,
                    &::kubeforge::__private::crd_schema::Root {
                        kind: #kind_str,
                        description: #description,
                        spec: |generator: &mut ::kubeforge::schemars::SchemaGenerator| {
                            generator.subschema_for::<#spec>()
                        },
                        status: #status,
                        validations: #validations,
                        external_docs: #external_docs,
                    },
                )
            }
        }

        impl #root {
            /// The CustomResourceDefinition of this kind (this version
            /// only), as `kubeforge manifests` writes it: kube's
            /// `CustomResourceExt::crd` plus `names.listKind`.
            pub fn crd() -> ::kubeforge::k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition {
                ::kubeforge::__private::crd_schema::finish_crd(
                    <Self as ::kubeforge::kube::core::crd::v1::CustomResourceExt>::crd(),
                )
            }
        }
    };
    // A skipped version (controller-gen's `+kubebuilder:skipversion`) is
    // left out of the registry, so out of `all_crds()` and the files
    // `kubeforge manifests` writes; a kind whose versions are all skipped
    // has no CRD at all, as with controller-gen.
    let register = keys.skip_version.is_none().then(|| {
        quote! {
            ::kubeforge::__private::inventory::submit! {
                ::kubeforge::manifests::CrdVersion {
                    kind: #kind_str,
                    version: #version_str,
                    storage: #storage,
                    rust_type: ::core::concat!(::core::module_path!(), "::", #kind_str),
                    crd: #root::crd,
                }
            }
        }
    });
    let extra = quote!(#[kube(#(#kube),*)]);
    let derive = quote!(::kubeforge::kube::CustomResource);
    let item = item::emit(input, prepared, Some(derive), extra);
    quote!(#item #schema #register)
}

/// The arguments of `#[kube(...)]`, in kube-derive's spelling.
fn kube_args(input: &DeriveInput, keys: &CrdKeys, gvk: &Gvk) -> Vec<TokenStream> {
    let Gvk {
        group,
        version,
        kind,
    } = gvk;
    let mut kube = vec![
        quote!(group = #group),
        quote!(version = #version),
        quote!(kind = #kind),
        // The kind's JsonSchema is kubeforge's (see the module docs).
        quote!(schema = "manual"),
    ];
    // Namespaced unless said otherwise, as in Kubebuilder.
    let namespaced = keys.namespaced.or(keys.scope).is_none_or(|(b, _)| b);
    if namespaced {
        kube.push(quote!(namespaced));
    }
    if let Some(status) = &keys.status {
        let s = status.to_token_stream().to_string().replace(' ', "");
        kube.push(quote!(status = #s));
    }
    if let Some(p) = &keys.plural {
        kube.push(quote!(plural = #p));
    }
    if let Some(s) = &keys.singular {
        kube.push(quote!(singular = #s));
    }
    for s in keys.shortnames.iter().flatten() {
        kube.push(quote!(shortname = #s));
    }
    for c in keys.categories.iter().flatten() {
        kube.push(quote!(category = #c));
    }
    for p in &keys.printcolumn {
        kube.push(p.kube_tokens());
    }
    if let Some((s, _)) = &keys.scale {
        kube.push(s.kube_tokens());
    }
    for s in &keys.selectable_field {
        kube.push(quote!(selectable = #s));
    }
    for (k, v) in &keys.label {
        kube.push(quote!(label(#k, #v)));
    }
    for (k, v) in &keys.annotation {
        kube.push(quote!(annotation(#k, #v)));
    }
    if let Some(false) = keys.served {
        kube.push(quote!(served = false));
    }
    match &keys.deprecated {
        Some(Some(w)) => kube.push(quote!(deprecated = #w)),
        Some(None) => kube.push(quote!(deprecated)),
        None => {}
    }
    // The kind's description is the Spec's doc comment, not kube's
    // "Auto-generated derived type" sentence (an empty doc means none).
    let doc = doc_text(&input.attrs);
    kube.push(quote!(doc = #doc));
    kube.push(quote!(crates(
        kube_core = "::kubeforge::kube::core",
        kube = "::kubeforge::kube",
        k8s_openapi = "::kubeforge::k8s_openapi",
        schemars = "::kubeforge::schemars",
        serde = "::kubeforge::__private::serde",
        serde_json = "::kubeforge::serde_json",
        std = "::std"
    )));
    kube
}

/// The doc comment as schemars would read it: lines joined by newlines, one
/// leading space per line dropped, trimmed.
fn doc_text(attrs: &[Attribute]) -> String {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| a.meta.require_name_value().ok())
        .filter_map(|nv| match &nv.value {
            Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) => {
                let v = s.value();
                Some(v.strip_prefix(' ').map(str::to_string).unwrap_or(v))
            }
            _ => None,
        })
        .collect();
    lines.join("\n").trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doc_comments_become_the_description() {
        let input: DeriveInput = syn::parse_quote! {
            /// MyApp runs
            ///  an app.
            struct S;
        };
        assert_eq!(doc_text(&input.attrs), "MyApp runs\n an app.");
    }
}
