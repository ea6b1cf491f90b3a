//! The keys that describe a whole type's schema, given to `#[schema(...)]`
//! or (for the Spec) `#[crd(...)]`.

use darling::FromMeta;
use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::LitStr;

use super::SchemaOut;
use super::validation;
use crate::args::{bare_flag, count, one_of};

/// The keys of [`TypeKeys`], in the order error messages list them.
pub(crate) const TYPE_KEYS: &[&str] = &[
    "validation",
    "preserve_unknown_fields",
    "map_type",
    "min_properties",
    "max_properties",
];

pub(crate) const MAP_TYPES: &[&str] = &["atomic", "granular"];

/// Type-level schema keys (see docs/markers.md).
#[derive(Default, FromMeta)]
pub(crate) struct TypeKeys {
    /// Repeatable: one CEL rule each.
    #[darling(multiple, with = validation::rule)]
    validation: Vec<TokenStream>,
    #[darling(default, with = |m| bare_flag(m).map(Some))]
    preserve_unknown_fields: Option<Span>,
    #[darling(default, with = |m| one_of(m, MAP_TYPES).map(Some))]
    map_type: Option<LitStr>,
    #[darling(default, with = |m| count(m).map(|(n, _)| Some(n)))]
    min_properties: Option<u64>,
    #[darling(default, with = |m| count(m).map(|(n, _)| Some(n)))]
    max_properties: Option<u64>,
}

impl TypeKeys {
    /// The schema of the type these keys describe.
    pub(crate) fn into_schema(self) -> SchemaOut {
        let mut out = SchemaOut::default();
        if self.preserve_unknown_fields.is_some() {
            out.set("x-kubernetes-preserve-unknown-fields", quote!(true));
        }
        if let Some(m) = &self.map_type {
            out.set("x-kubernetes-map-type", quote!(#m));
        }
        if let Some(n) = self.min_properties {
            out.set("minProperties", quote!(#n));
        }
        if let Some(n) = self.max_properties {
            out.set("maxProperties", quote!(#n));
        }
        out.rules(&self.validation);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::parse_list;

    #[test]
    fn every_listed_key_is_accepted() {
        for key in TYPE_KEYS {
            let tokens: TokenStream = format!("{key} = \"x\"").parse().unwrap();
            let err = match parse_list::<TypeKeys>(tokens, "schema", TYPE_KEYS) {
                Ok(_) => continue,
                Err(e) => syn::Error::from(e).to_string(),
            };
            assert!(
                !err.starts_with("unknown"),
                "`{key}` is listed but unknown: {err}"
            );
        }
    }
}
