//! `#[crd(...)]`: kubeforge's equivalent of controller-gen's CRD markers
//! (docs/markers.md).
//!
//! `#[crd]` does not build the CustomResourceDefinition itself: it checks its
//! arguments (so a mistake is reported at the offending token, with what is
//! allowed, instead of surfacing from inside kube-derive), then expands to
//! kube's `#[derive(CustomResource)]` with an equivalent `#[kube(...)]`
//! attribute ([`kube_attr`]). The CRD that `kubeforge manifests` writes is
//! therefore exactly the one `Kind::crd()` returns at run time. Field-level
//! `#[field(...)]` attributes become schemars attributes (see
//! [`crate::schema`]).

mod keys;
mod kube_attr;
mod printcolumn;
mod scale;

use proc_macro2::{Span, TokenStream};
use syn::{Data, DeriveInput, Fields, LitStr};

use crate::args::{Errors, parse_list};
use crate::item;
use keys::{CrdKeys, crd_keys};

/// Entry point of `#[crd(...)]`.
pub(crate) fn expand_crd(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut input: DeriveInput = match syn::parse2(item) {
        Ok(i) => i,
        Err(e) => return e.to_compile_error(),
    };
    let original = input.clone();
    match crd(args, &mut input) {
        Ok(out) => out,
        Err(e) => item::fallback(e, original),
    }
}

/// The group, version and kind every `#[crd]` needs.
pub(super) struct Gvk {
    pub group: LitStr,
    pub version: LitStr,
    pub kind: LitStr,
}

fn crd(args: TokenStream, input: &mut DeriveInput) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let mut keys: Option<CrdKeys> = errors.ok(parse_list(args, "crd", &crd_keys()));
    let gvk = keys.as_mut().and_then(|k| gvk(k, &mut errors));
    check_struct(input, gvk.as_ref(), &mut errors);
    if let Some(k) = &keys {
        check_combinations(k, &mut errors);
        k.schema.check(input, &mut errors);
    }

    let type_out = keys
        .as_mut()
        .map(|k| std::mem::take(&mut k.schema).into_schema())
        .unwrap_or_default();
    let prepared = item::prepare(input, &type_out, &mut errors);
    errors.finish()?;
    let (Some(keys), Some(gvk)) = (keys, gvk) else {
        // Unreachable: a failed parse or a missing key was reported above.
        return Err(syn::Error::new(
            Span::call_site(),
            "#[crd] needs group, version and kind",
        ));
    };
    Ok(kube_attr::expand(input, prepared, &keys, &gvk))
}

/// Takes the group, version and kind out of `keys`, reporting the missing
/// ones in one error.
fn gvk(keys: &mut CrdKeys, errors: &mut Errors) -> Option<Gvk> {
    match (keys.group.take(), keys.version.take(), keys.kind.take()) {
        (Some(group), Some(version), Some(kind)) => Some(Gvk {
            group,
            version,
            kind,
        }),
        (group, version, kind) => {
            let missing: Vec<String> = [
                ("group", group.is_none()),
                ("version", version.is_none()),
                ("kind", kind.is_none()),
            ]
            .into_iter()
            .filter(|(_, m)| *m)
            .map(|(k, _)| format!("`{k}`"))
            .collect();
            errors.push(syn::Error::new(
                Span::call_site(),
                format!(
                    "#[crd] is missing {}: write e.g. #[kubeforge::crd(group = \"apps.example.com\", version = \"v1\", kind = \"MyApp\")]",
                    missing.join(", ")
                ),
            ));
            None
        }
    }
}

/// The Spec must be a plain struct with named fields, not named like the
/// kind kube generates around it.
fn check_struct(input: &DeriveInput, gvk: Option<&Gvk>, errors: &mut Errors) {
    match &input.data {
        Data::Struct(s) if matches!(s.fields, Fields::Named(_)) => {}
        _ => errors.push(syn::Error::new_spanned(
            &input.ident,
            "#[crd] goes on the Spec struct, which must have named fields (e.g. `struct MyAppSpec { replicas: i32 }`)",
        )),
    }
    if !input.generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(
            &input.generics,
            "a #[crd] Spec struct cannot be generic: the CRD has one fixed schema",
        ));
    }
    if let Some(Gvk { kind, .. }) = gvk
        && input.ident == kind.value()
    {
        errors.push(syn::Error::new(
            kind.span(),
            format!(
                "`kind` must differ from the struct name: #[crd] generates `struct {}` around this Spec (name the Spec e.g. `{}Spec`)",
                kind.value(),
                kind.value()
            ),
        ));
    }
}

/// Rules between keys.
fn check_combinations(keys: &CrdKeys, errors: &mut Errors) {
    if let (Some(_), Some((_, span))) = (&keys.namespaced, &keys.scope) {
        errors.push(syn::Error::new(
            *span,
            "use either `namespaced` or `scope`, not both",
        ));
    }
    if let Some((_, span)) = &keys.scale
        && keys.status.is_none()
    {
        errors.push(syn::Error::new(
            *span,
            "`scale(...)` needs the status subresource: add `status = MyAppStatus`",
        ));
    }
    if let (Some(_), Some(span)) = (&keys.storage, keys.skip_version) {
        errors.push(syn::Error::new(
            span,
            "a `skip_version` version is left out of the CRD, so it cannot be the storage version: remove `storage` or `skip_version`",
        ));
    }
}
