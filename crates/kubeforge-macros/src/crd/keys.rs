//! The keys of `#[crd(...)]` and the rules their values follow.

use darling::FromMeta;
use kubeforge_codegen::names::{is_crd_group, is_dns1123_label, is_kind, is_version};
use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::{Expr, ExprLit, Lit, LitStr, Meta, Path};

use super::printcolumn::{self, PrintColumn};
use super::scale::{self, Scale};
use crate::args::{bare_flag, error, expects, flag, key_span, nested, pair, string, strings};
use crate::schema::field::check_url;
use crate::schema::type_keys::{LIST_KEYS, TYPE_KEYS, TypeKeys, root_rule};

/// The keys of [`CrdKeys`] without the type-level ones, in the order error
/// messages list them (see [`crd_keys`]).
const OWN_KEYS: &[&str] = &[
    "group",
    "version",
    "kind",
    "namespaced",
    "scope",
    "status",
    "plural",
    "singular",
    "shortnames",
    "categories",
    "printcolumn",
    "scale",
    "selectable_field",
    "label",
    "annotation",
    "storage",
    "served",
    "deprecated",
    "skip_version",
    "root_validation",
    "root_external_docs",
];

/// Every key `#[crd]` accepts: its own, then the type-level schema keys
/// that fit a Spec (not the list keys of a newtype over a `Vec`, which
/// [`TypeKeys::check`] refuses here).
pub(super) fn crd_keys() -> Vec<&'static str> {
    OWN_KEYS
        .iter()
        .chain(TYPE_KEYS.iter().filter(|k| !LIST_KEYS.contains(k)))
        .copied()
        .collect()
}

/// The parsed `#[crd(...)]` arguments. Every value is checked as it is read;
/// rules between keys are checked in [`super::crd`].
#[derive(FromMeta)]
pub(super) struct CrdKeys {
    #[darling(default, with = |m| string(m, "group = \"apps.example.com\"").and_then(check_group).map(Some))]
    pub group: Option<LitStr>,
    #[darling(default, with = |m| string(m, "version = \"v1\"").and_then(check_version).map(Some))]
    pub version: Option<LitStr>,
    #[darling(default, with = |m| string(m, "kind = \"MyApp\"").and_then(check_kind).map(Some))]
    pub kind: Option<LitStr>,
    /// With the span of the key, for "not both" errors with `scope`.
    #[darling(default, with = |m| flag(m).map(|b| Some((b, key_span(m)))))]
    pub namespaced: Option<(bool, Span)>,
    #[darling(default, with = |m| parse_scope(m).map(|b| Some((b, key_span(m)))))]
    pub scope: Option<(bool, Span)>,
    #[darling(default, with = |m| parse_status(m).map(Some))]
    pub status: Option<Path>,
    #[darling(default, with = |m| dns_label(m, "plural = \"myapps\"", "plural").map(Some))]
    pub plural: Option<LitStr>,
    #[darling(default, with = |m| dns_label(m, "singular = \"myapp\"", "singular").map(Some))]
    pub singular: Option<LitStr>,
    /// Repeatable, each a string or a list.
    #[darling(multiple, with = |m| dns_labels(m, "shortnames = [\"ma\"]", "a short name"))]
    pub shortnames: Vec<Vec<LitStr>>,
    #[darling(multiple, with = |m| dns_labels(m, "categories = [\"all\"]", "a category"))]
    pub categories: Vec<Vec<LitStr>>,
    #[darling(multiple, with = printcolumn::parse)]
    pub printcolumn: Vec<PrintColumn>,
    /// With the span of the key, for the "needs status" error.
    #[darling(default, with = |m| scale::parse(m).map(|s| Some((s, key_span(m)))))]
    pub scale: Option<(Scale, Span)>,
    #[darling(multiple, with = |m| string(m, "selectable_field = \".spec.image\"").and_then(|s| check_json_path(s, "selectable_field")))]
    pub selectable_field: Vec<LitStr>,
    #[darling(multiple, with = pair)]
    pub label: Vec<(LitStr, LitStr)>,
    #[darling(multiple, with = pair)]
    pub annotation: Vec<(LitStr, LitStr)>,
    #[darling(default, with = |m| bare_flag(m).map(Some))]
    pub storage: Option<Span>,
    #[darling(default, with = |m| flag(m).map(Some))]
    pub served: Option<bool>,
    /// `Some(None)` for the bare flag, `Some(Some(warning))` with a text.
    #[darling(default, with = |m| parse_deprecated(m).map(Some))]
    pub deprecated: Option<Option<LitStr>>,
    /// controller-gen's `+kubebuilder:skipversion`: the type exists, the
    /// version is not registered (so not in any CRD `kubeforge manifests`
    /// writes).
    #[darling(default, with = |m| bare_flag(m).map(Some))]
    pub skip_version: Option<Span>,
    /// Repeatable: CEL rules over the whole object (`self.metadata.name`),
    /// in the root schema's `x-kubernetes-validations`.
    #[darling(multiple, with = root_rule)]
    pub root_validation: Vec<TokenStream>,
    /// controller-gen's `+kubebuilder:externalDocs` on the kind's type: the
    /// root schema's `externalDocs`, as JSON tokens.
    #[darling(default, with = |m| parse_external_docs(m).map(Some))]
    pub root_external_docs: Option<TokenStream>,
    /// `validation`, `preserve_unknown_fields`, ...: the Spec's own schema.
    #[darling(flatten)]
    pub schema: TypeKeys,
}

/// The keys of `root_external_docs(...)`.
const EXTERNAL_DOCS_KEYS: &[&str] = &["url", "description"];

#[derive(FromMeta)]
struct ExternalDocsKeys {
    #[darling(default, with = |m| string(m, "url = \"https://example.com/docs\"").and_then(|url| check_url(&url).map(|()| Some(url))))]
    url: Option<LitStr>,
    #[darling(default, with = |m| string(m, "description = \"About MyApp\"").map(Some))]
    description: Option<LitStr>,
}

/// `root_external_docs(url = "...", description = "...")`, as the JSON
/// tokens of an `externalDocs` object.
fn parse_external_docs(meta: &Meta) -> darling::Result<TokenStream> {
    let keys: ExternalDocsKeys = nested(
        meta,
        EXTERNAL_DOCS_KEYS,
        "root_external_docs(url = \"https://example.com/docs\", description = \"About MyApp\")",
    )?;
    let Some(url) = keys.url else {
        return Err(error(
            key_span(meta),
            "`root_external_docs(...)` needs `url = \"...\"`",
        ));
    };
    Ok(match keys.description {
        Some(d) if !d.value().is_empty() => quote!({ "description": #d, "url": #url }),
        _ => quote!({ "url": #url }),
    })
}

/// `scope = "Namespaced" | "Cluster"`: whether the kind is namespaced.
fn parse_scope(meta: &Meta) -> darling::Result<bool> {
    let s = string(meta, "scope = \"Cluster\"")?;
    match s.value().as_str() {
        "Namespaced" => Ok(true),
        "Cluster" => Ok(false),
        _ => Err(error(
            s.span(),
            "`scope` must be \"Namespaced\" or \"Cluster\"",
        )),
    }
}

/// `status = MyAppStatus` (or the path as a string).
fn parse_status(meta: &Meta) -> darling::Result<Path> {
    let expected = || expects(meta, "the status type, e.g. `status = MyAppStatus`");
    match meta {
        Meta::NameValue(nv) => match &nv.value {
            Expr::Path(p) => Ok(p.path.clone()),
            Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) => s.parse::<Path>().map_err(darling::Error::from),
            _ => Err(expected()),
        },
        _ => Err(expected()),
    }
}

/// `deprecated` or `deprecated = "warning"`.
fn parse_deprecated(meta: &Meta) -> darling::Result<Option<LitStr>> {
    match meta {
        Meta::Path(_) => Ok(None),
        _ => string(meta, "deprecated = \"use v1 instead\"").map(Some),
    }
}

fn dns_label(meta: &Meta, example: &str, what: &str) -> darling::Result<LitStr> {
    string(meta, example).and_then(|s| check_label(s, what))
}

fn dns_labels(meta: &Meta, example: &str, what: &str) -> darling::Result<Vec<LitStr>> {
    let mut errors = darling::Error::accumulator();
    let labels = strings(meta, example)?
        .into_iter()
        .filter_map(|s| errors.handle(check_label(s, what)))
        .collect();
    errors.finish_with(labels)
}

/// A JSON path into the object, as printer columns and selectable fields
/// take them.
pub(super) fn check_json_path(s: LitStr, key: &str) -> darling::Result<LitStr> {
    if s.value().starts_with('.') && s.value().len() > 1 {
        Ok(s)
    } else {
        Err(error(
            s.span(),
            format!("`{key}` must be a JSON path starting with `.`, e.g. \".spec.replicas\""),
        ))
    }
}

/// A CRD's group is a DNS subdomain with at least one dot.
fn check_group(s: LitStr) -> darling::Result<LitStr> {
    if is_crd_group(&s.value()) {
        Ok(s)
    } else {
        Err(error(
            s.span(),
            "`group` must be a lowercase DNS name with at least one dot, e.g. \"apps.example.com\"",
        ))
    }
}

/// Kubernetes version names: v1, v2beta3, v1alpha1 (this is also their sort key).
fn check_version(s: LitStr) -> darling::Result<LitStr> {
    if is_version(&s.value()) {
        Ok(s)
    } else {
        Err(error(
            s.span(),
            "`version` must look like v1, v2beta1 or v1alpha2 (v<N>[alpha<N>|beta<N>])",
        ))
    }
}

fn check_kind(s: LitStr) -> darling::Result<LitStr> {
    if is_kind(&s.value()) {
        Ok(s)
    } else {
        Err(error(
            s.span(),
            "`kind` must be an UpperCamelCase name of ASCII letters and digits (at most 63), e.g. \"MyApp\"",
        ))
    }
}

/// Plural, singular, short names and categories are DNS labels.
fn check_label(s: LitStr, what: &str) -> darling::Result<LitStr> {
    if is_dns1123_label(&s.value()) {
        Ok(s)
    } else {
        Err(error(
            s.span(),
            format!("{what} must be a lowercase DNS label (a-z, 0-9, '-'), e.g. \"myapps\""),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::parse_list;
    use proc_macro2::TokenStream;
    use quote::quote;

    fn lit(s: &str) -> LitStr {
        LitStr::new(s, Span::call_site())
    }

    fn parse(tokens: TokenStream) -> Result<CrdKeys, String> {
        parse_list::<CrdKeys>(tokens, "crd", &crd_keys())
            .map_err(|e| syn::Error::from(e).to_string())
    }

    #[test]
    fn versions() {
        for ok in ["v1", "v2", "v10", "v1beta1", "v2alpha3"] {
            assert!(check_version(lit(ok)).is_ok(), "{ok}");
        }
        for bad in ["1", "v0", "V1", "v1beta", "v1gamma1", "v01", "v1beta01", ""] {
            assert!(check_version(lit(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn groups_and_labels() {
        assert!(check_group(lit("apps.example.com")).is_ok());
        assert!(check_group(lit("example")).is_err());
        assert!(check_group(lit("Apps.example.com")).is_err());
        assert!(check_label(lit("my-apps"), "plural").is_ok());
        assert!(check_label(lit("-x"), "plural").is_err());
        assert!(check_kind(lit("MyApp")).is_ok());
        assert!(check_kind(lit("myApp")).is_err());
    }

    #[test]
    fn every_listed_key_is_accepted() {
        for key in crd_keys() {
            let tokens: TokenStream = format!("{key} = \"x\"").parse().unwrap();
            if let Err(e) = parse(tokens) {
                assert!(
                    !e.starts_with("unknown"),
                    "`{key}` is listed but unknown: {e}"
                );
            }
        }
    }

    #[test]
    fn misspelled_keys_get_a_suggestion_from_either_key_set() {
        let err = parse(quote!(grup = "a.b")).err().unwrap_or_default();
        assert!(
            err.starts_with("unknown `crd` key `grup` (did you mean `group`?); expected one of: group, version, kind,"),
            "{err}"
        );
        // ... then the type-level ones, without the list keys a Spec cannot take.
        assert!(
            err.contains(
                "deprecated, skip_version, root_validation, root_external_docs, validation, "
            ),
            "{err}"
        );
        assert!(
            err.contains("min_properties, max_properties, exactly_one_of"),
            "{err}"
        );
        assert!(!err.contains("list_type"), "{err}");
        // A type-level key is suggested too, although darling reads those
        // through the flattened TypeKeys.
        let err = parse(quote!(max_propertes = 1)).err().unwrap_or_default();
        assert!(
            err.starts_with("unknown `crd` key `max_propertes` (did you mean `max_properties`?)"),
            "{err}"
        );
    }

    #[test]
    fn root_keys_are_read_and_checked() {
        let keys = parse(quote!(
            group = "a.b",
            version = "v1",
            kind = "K",
            skip_version,
            root_validation(rule = "self.metadata.name.size() <= 63", message = "short"),
            root_validation = "true",
            root_external_docs(url = "https://example.com/k", description = "About K")
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(keys.skip_version.is_some());
        assert_eq!(keys.root_validation.len(), 2);
        assert_eq!(
            keys.root_external_docs.map(|d| d.to_string()),
            Some(quote!({ "description": "About K", "url": "https://example.com/k" }).to_string())
        );
        let err = |tokens: TokenStream| parse(tokens).err().unwrap_or_default();
        assert_eq!(
            err(quote!(root_validation(message = "m"))),
            "`root_validation(...)` needs a CEL `rule = \"...\"` over the whole object, e.g. `rule = \"self.metadata.name.size() <= 63\"`"
        );
        assert_eq!(
            err(quote!(root_external_docs(description = "d"))),
            "`root_external_docs(...)` needs `url = \"...\"`"
        );
        for bad in ["example.com/docs", "https://example.com/a b", "", "http:"] {
            assert_eq!(
                err(quote!(root_external_docs(url = #bad))),
                "`url` must be an absolute URL (e.g. \"https://example.com/docs\") or an absolute path (e.g. \"/docs\"), without spaces",
                "{bad}"
            );
        }
        assert_eq!(
            err(quote!(skip_version = true)),
            "`skip_version` expects no value: write just `skip_version`"
        );
    }

    #[test]
    fn values_are_read() {
        let keys = parse(quote!(
            group = "a.b",
            version = "v1",
            kind = "K",
            scope = "Cluster",
            shortnames = "k",
            shortnames = ["kk"],
            deprecated,
            served = false,
            label("x", "y"),
            validation = "self.a > 0",
            min_properties = 1
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(keys.scope.map(|(b, _)| b), Some(false));
        assert_eq!(keys.shortnames.concat().len(), 2);
        assert!(matches!(keys.deprecated, Some(None)));
        assert_eq!(keys.served, Some(false));
        assert_eq!(keys.label.len(), 1);
        let schema = keys.schema.into_schema().attrs()[0].to_string();
        assert!(schema.contains("x-kubernetes-validations"), "{schema}");
        assert!(schema.contains("\"minProperties\" = 1u64"), "{schema}");
    }
}
