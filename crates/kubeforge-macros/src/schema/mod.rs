//! Schema keys translated into schemars 1 attributes: `#[field(...)]` on
//! fields ([`field`]), and the type-level keys of `#[schema(...)]` and
//! `#[crd(...)]` ([`type_keys`]); `#[schema]` itself is [`expand_schema`].
//!
//! Everything becomes `#[schemars(extend(...))]` (plain keys copied into the
//! field's schema, so integer bounds stay integers), a `#[schemars(transform)]`
//! for the two rewrites `extend` cannot express (int-or-string, embedded
//! resource), and serde attributes where the Rust side must agree with the API
//! server (defaults, optional fields).

pub(crate) mod field;
pub(crate) mod type_keys;
mod validation;

use proc_macro2::{Ident, TokenStream};
use quote::quote;
use syn::DeriveInput;

use crate::args::{Errors, parse_list};
use crate::item;
use type_keys::{TYPE_KEYS, TypeKeys};

/// What the keys of one field or type turn into.
#[derive(Default)]
pub(crate) struct SchemaOut {
    /// `"key" = <json tokens>` pairs for `#[schemars(extend(...))]`.
    extend: Vec<(String, TokenStream)>,
    /// Names of transform functions in `kubeforge::manifests::__schema`.
    transforms: Vec<Ident>,
    /// Transform expressions applied after those (`items(...)`).
    pub(crate) transform_exprs: Vec<TokenStream>,
    /// `#[field(schemaless)]`: the `extend` keys go in through
    /// `field_schema::schemaless`, which first empties the schema (schemars
    /// applies `extend` before any transform, so a plain `extend` would be
    /// emptied too).
    pub(crate) schemaless: bool,
}

impl SchemaOut {
    pub(crate) fn set(&mut self, key: &str, value: TokenStream) {
        self.extend.push((key.to_string(), value));
    }

    /// Adds the CEL rules, if any, as `x-kubernetes-validations`.
    pub(crate) fn rules(&mut self, rules: &[TokenStream]) {
        if !rules.is_empty() {
            self.set("x-kubernetes-validations", quote!([#(#rules),*]));
        }
    }

    /// The `extend` keys as one JSON object, for the transforms that take
    /// them (`schemaless`, `items`).
    pub(crate) fn json_object(&self) -> TokenStream {
        let pairs = self.extend.iter().map(|(k, v)| quote!(#k: #v));
        quote!(::kubeforge::serde_json::json!({ #(#pairs),* }))
    }

    /// The transforms by name, as paths.
    pub(crate) fn transform_paths(&self) -> Vec<TokenStream> {
        self.transforms
            .iter()
            .map(|t| quote!(::kubeforge::manifests::__schema::#t))
            .collect()
    }

    /// The schemars attributes to put on the field or type.
    pub(crate) fn attrs(&self) -> Vec<TokenStream> {
        let mut out = Vec::new();
        if self.schemaless {
            let keys = self.json_object();
            out.push(quote!(#[schemars(transform = ::kubeforge::manifests::__schema::schemaless(#keys))]));
        } else if !self.extend.is_empty() {
            let pairs = self.extend.iter().map(|(k, v)| quote!(#k = #v));
            out.push(quote!(#[schemars(extend(#(#pairs),*))]));
        }
        for t in self
            .transform_paths()
            .into_iter()
            .chain(self.transform_exprs.iter().cloned())
        {
            out.push(quote!(#[schemars(transform = #t)]));
        }
        out
    }
}

/// Entry point of `#[schema(...)]`.
pub(crate) fn expand_schema(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut input: DeriveInput = match syn::parse2(item) {
        Ok(i) => i,
        Err(e) => return e.to_compile_error(),
    };
    let original = input.clone();
    match schema_type(args, &mut input) {
        Ok(out) => out,
        Err(e) => item::fallback(e, original),
    }
}

fn schema_type(args: TokenStream, input: &mut DeriveInput) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let keys: TypeKeys = errors
        .ok(parse_list(args, "schema", TYPE_KEYS))
        .unwrap_or_default();
    keys.check(input, &mut errors);
    let out = keys.into_schema();
    let prepared = item::prepare(input, &out, &mut errors);
    errors.finish()?;
    Ok(item::emit(input, prepared, None, TokenStream::new()))
}
