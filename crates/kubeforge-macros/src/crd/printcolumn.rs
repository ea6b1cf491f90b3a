//! `printcolumn(...)`: an extra column of `kubectl get` (controller-gen's
//! `+kubebuilder:printcolumn`).

use darling::FromMeta;
use proc_macro2::TokenStream;
use quote::quote;
use syn::{LitStr, Meta};

use super::keys::check_json_path;
use crate::args::{count, error, key_span, nested, one_of, string};

/// The keys of `printcolumn(...)`, in the order error messages list them.
const PRINTCOLUMN_KEYS: &[&str] = &[
    "name",
    "type",
    "json_path",
    "description",
    "format",
    "priority",
];

/// The column types the API server accepts.
const COLUMN_TYPES: &[&str] = &["integer", "number", "string", "boolean", "date"];

/// The column formats the API server accepts.
const COLUMN_FORMATS: &[&str] = &[
    "int32",
    "int64",
    "float",
    "double",
    "byte",
    "date",
    "date-time",
    "password",
];

#[derive(FromMeta)]
struct PrintColumnKeys {
    #[darling(default, with = |m| string(m, "name = \"Replicas\"").map(Some))]
    name: Option<LitStr>,
    #[darling(rename = "type", default, with = |m| one_of(m, COLUMN_TYPES).map(Some))]
    type_: Option<LitStr>,
    #[darling(default, with = |m| string(m, "json_path = \".spec.replicas\"").and_then(|s| check_json_path(s, "json_path")).map(Some))]
    json_path: Option<LitStr>,
    #[darling(default, with = |m| string(m, "description = \"Desired replicas\"").map(Some))]
    description: Option<LitStr>,
    #[darling(default, with = |m| one_of(m, COLUMN_FORMATS).map(Some))]
    format: Option<LitStr>,
    #[darling(default, with = |m| count(m).map(|(n, _)| Some(n)))]
    priority: Option<u64>,
}

/// One printer column, complete.
pub(crate) struct PrintColumn {
    name: LitStr,
    type_: LitStr,
    json_path: LitStr,
    description: Option<LitStr>,
    format: Option<LitStr>,
    priority: Option<u64>,
}

/// Reads `printcolumn(name = .., type = .., json_path = .., ...)`.
pub(crate) fn parse(meta: &Meta) -> darling::Result<PrintColumn> {
    let keys: PrintColumnKeys = nested(
        meta,
        PRINTCOLUMN_KEYS,
        "printcolumn(name = \"Replicas\", type = \"integer\", json_path = \".spec.replicas\")",
    )?;
    match (keys.name, keys.type_, keys.json_path) {
        (Some(name), Some(type_), Some(json_path)) => Ok(PrintColumn {
            name,
            type_,
            json_path,
            description: keys.description,
            format: keys.format,
            priority: keys.priority,
        }),
        (name, type_, json_path) => {
            let missing: Vec<&str> = [
                ("name", name.is_none()),
                ("type", type_.is_none()),
                ("json_path", json_path.is_none()),
            ]
            .into_iter()
            .filter(|(_, m)| *m)
            .map(|(k, _)| k)
            .collect();
            Err(error(
                key_span(meta),
                format!("`printcolumn(...)` is missing {}", missing.join(", ")),
            ))
        }
    }
}

impl PrintColumn {
    /// The column as kube-derive's `printcolumn(...)`.
    pub(crate) fn kube_tokens(&self) -> TokenStream {
        let PrintColumn {
            name,
            type_,
            json_path,
            description,
            format,
            priority,
        } = self;
        let mut items = vec![
            quote!(name = #name),
            quote!(type_ = #type_),
            quote!(json_path = #json_path),
        ];
        if let Some(d) = description {
            items.push(quote!(description = #d));
        }
        if let Some(f) = format {
            items.push(quote!(format = #f));
        }
        if let Some(p) = priority {
            let p = proc_macro2::Literal::u64_unsuffixed(*p);
            items.push(quote!(priority = #p));
        }
        quote!(printcolumn(#(#items),*))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(tokens: TokenStream) -> Result<String, String> {
        let meta: Meta = syn::parse2(tokens).unwrap();
        parse(&meta)
            .map(|c| c.kube_tokens().to_string())
            .map_err(|e| syn::Error::from(e).to_string())
    }

    #[test]
    fn a_column_becomes_kubes_printcolumn() {
        assert_eq!(
            column(
                quote!(printcolumn(name = "R", type = "integer", json_path = ".spec.r", priority = 1))
            ),
            Ok(quote!(printcolumn(
                name = "R",
                type_ = "integer",
                json_path = ".spec.r",
                priority = 1
            ))
            .to_string())
        );
    }

    #[test]
    fn mistakes_are_explained() {
        assert_eq!(
            column(quote!(printcolumn(name = "R"))).unwrap_err(),
            "`printcolumn(...)` is missing type, json_path"
        );
        assert_eq!(
            column(quote!(printcolumn(
                name = "R",
                typ = "integer",
                json_path = ".a"
            )))
            .unwrap_err(),
            "unknown `printcolumn` key `typ` (did you mean `type`?); expected one of: name, type, json_path, description, format, priority"
        );
        assert_eq!(
            column(quote!(printcolumn = "R")).unwrap_err(),
            "`printcolumn` expects a parenthesized list, e.g. `printcolumn(name = \"Replicas\", type = \"integer\", json_path = \".spec.replicas\")`"
        );
    }
}
