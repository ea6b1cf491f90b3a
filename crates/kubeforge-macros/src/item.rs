//! What `#[crd]` and `#[schema]` both do to the item they sit on: translate
//! its `#[field(...)]` attributes, add the derives and crate paths a CRD type
//! needs, and write the item back out.

use proc_macro2::TokenStream;
use quote::quote;
use syn::punctuated::Punctuated;
use syn::{Attribute, Data, DeriveInput, Fields, Path, Token};

use crate::args::Errors;
use crate::schema::SchemaOut;
use crate::schema::field::process_field;

/// On error, emit the errors and the item without our attributes, so the
/// only messages the user sees are ours (not "cannot find attribute `field`").
/// The derives are not added on this path, so `#[serde(...)]` and
/// `#[schemars(...)]` go too unless the user derives what reads them.
pub(crate) fn fallback(e: syn::Error, mut input: DeriveInput) -> TokenStream {
    let derived = derived_names(&input.attrs);
    let has = |name: &str| derived.iter().any(|d| d == name);
    let mut ours = vec!["field"];
    if !has("Serialize") && !has("Deserialize") && !has("JsonSchema") {
        ours.push("serde");
    }
    if !has("JsonSchema") {
        ours.push("schemars");
    }
    let ours = |a: &Attribute| ours.iter().any(|name| a.path().is_ident(name));
    input.attrs.retain(|a| !ours(a));
    for_each_field(&mut input.data, |f, _| f.attrs.retain(|a| !ours(a)));
    let err = e.to_compile_error();
    quote!(#err #input)
}

/// Calls `f` with every field and a name unique within the item
/// (`replicas`, `0`, `Variant_field`), for the hidden default functions.
fn for_each_field(data: &mut Data, mut f: impl FnMut(&mut syn::Field, String)) {
    let mut fields_of = |fields: &mut Fields, prefix: String| {
        for (i, field) in fields.iter_mut().enumerate() {
            let name = field
                .ident
                .as_ref()
                .map(|id| id.to_string().trim_start_matches("r#").to_string())
                .unwrap_or_else(|| i.to_string());
            f(field, format!("{prefix}{name}"));
        }
    };
    match data {
        Data::Struct(s) => fields_of(&mut s.fields, String::new()),
        Data::Enum(e) => {
            for v in &mut e.variants {
                fields_of(&mut v.fields, format!("{}_", v.ident));
            }
        }
        Data::Union(_) => {}
    }
}

/// The item-level output shared by both attributes.
pub(crate) struct Prepared {
    /// Attributes to put right after the user's own.
    container_attrs: Vec<TokenStream>,
    /// Derives the user didn't write.
    missing_derives: Vec<TokenStream>,
    /// Hidden functions behind `#[field(default = ...)]`.
    default_fns: Vec<TokenStream>,
}

/// Translates the fields' `#[field]` attributes (in place) and works out the
/// derives and container attributes to add; `type_out` is the type's own
/// schema keys.
pub(crate) fn prepare(
    input: &mut DeriveInput,
    type_out: &SchemaOut,
    errors: &mut Errors,
) -> Prepared {
    if let Data::Union(u) = &input.data {
        errors.push(syn::Error::new_spanned(
            u.union_token,
            "unions have no Kubernetes schema; use a struct or an enum",
        ));
    }
    for attr in &input.attrs {
        if attr.path().is_ident("kube") {
            errors.push(syn::Error::new_spanned(
                attr,
                "write these settings as `#[kubeforge::crd(...)]` keys instead of `#[kube(...)]` (see docs/markers.md)",
            ));
        }
    }
    let owner = input.ident.clone();
    let mut default_fns = Vec::new();
    for_each_field(&mut input.data, |field, suffix| {
        if let Some(f) = process_field(field, &owner, &suffix, errors) {
            default_fns.push(f);
        }
    });

    let present = derived_names(&input.attrs);
    let wanted: [(&str, TokenStream); 5] = [
        ("Clone", quote!(::core::clone::Clone)),
        ("Debug", quote!(::core::fmt::Debug)),
        (
            "Serialize",
            quote!(::kubeforge::__private::serde::Serialize),
        ),
        (
            "Deserialize",
            quote!(::kubeforge::__private::serde::Deserialize),
        ),
        ("JsonSchema", quote!(::kubeforge::schemars::JsonSchema)),
    ];
    let missing_derives = wanted
        .into_iter()
        .filter(|(name, _)| !present.iter().any(|p| p == name))
        .map(|(_, path)| path)
        .collect();

    let mut container_attrs = Vec::new();
    if !has_crate_attr(&input.attrs, "serde") {
        container_attrs.push(quote!(#[serde(crate = "::kubeforge::__private::serde")]));
    }
    if !has_crate_attr(&input.attrs, "schemars") {
        container_attrs.push(quote!(#[schemars(crate = "::kubeforge::schemars")]));
    }
    container_attrs.extend(type_out.attrs());
    Prepared {
        container_attrs,
        missing_derives,
        default_fns,
    }
}

/// The last path segment of every derive the user wrote.
fn derived_names(attrs: &[Attribute]) -> Vec<String> {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("derive"))
        .filter_map(|a| {
            a.parse_args_with(Punctuated::<Path, Token![,]>::parse_terminated)
                .ok()
        })
        .flat_map(|paths| {
            paths
                .into_iter()
                .filter_map(|p| p.segments.last().map(|s| s.ident.to_string()))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Whether the user already wrote `#[name(crate = ...)]`.
fn has_crate_attr(attrs: &[Attribute], name: &str) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident(name)
            && a.meta
                .require_list()
                .map(|l| l.tokens.to_string().contains("crate"))
                .unwrap_or(false)
    })
}

/// Writes the item back: derives first (`first_derive`, e.g. kube's
/// `CustomResource`, before the missing ones), then the user's attributes,
/// ours, `extra` (e.g. `#[kube(...)]`), the item, and the default functions.
pub(crate) fn emit(
    input: &DeriveInput,
    prepared: Prepared,
    first_derive: Option<TokenStream>,
    extra: TokenStream,
) -> TokenStream {
    let Prepared {
        container_attrs,
        missing_derives,
        default_fns,
    } = prepared;
    let derives: Vec<TokenStream> = first_derive.into_iter().chain(missing_derives).collect();
    let derive_attr = (!derives.is_empty()).then(|| quote!(#[derive(#(#derives),*)]));
    let DeriveInput {
        attrs,
        vis,
        ident,
        generics,
        data,
    } = input;
    let body = match data {
        Data::Struct(s) => {
            let fields = &s.fields;
            let semi = s.semi_token;
            let struct_token = s.struct_token;
            quote!(#struct_token #ident #generics #fields #semi)
        }
        Data::Enum(e) => {
            let variants = &e.variants;
            let enum_token = e.enum_token;
            quote!(#enum_token #ident #generics { #variants })
        }
        Data::Union(u) => {
            let fields = &u.fields;
            let union_token = u.union_token;
            quote!(#union_token #ident #generics #fields)
        }
    };
    let (impl_g, ty_g, where_g) = generics.split_for_impl();
    let impl_defaults = (!default_fns.is_empty()).then(|| {
        quote! {
            impl #impl_g #ident #ty_g #where_g {
                #(#default_fns)*
            }
        }
    });
    quote! {
        #derive_attr
        #(#attrs)*
        #(#container_attrs)*
        #extra
        #vis #body
        #impl_defaults
    }
}
