//! The keys that describe a whole type's schema, given to `#[schema(...)]`
//! or (for the Spec) `#[crd(...)]`.
//!
//! Most become schema keywords as they are read. Two groups also need the
//! item they sit on, checked by [`TypeKeys::check`]: the one-of keys name
//! fields of the struct (by their JSON names, as serde writes them), and the
//! list keys only make sense on a newtype over a `Vec`.

use darling::FromMeta;
use darling::ast::NestedMeta;
use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::spanned::Spanned;
use syn::{Attribute, Data, DeriveInput, Expr, ExprLit, Fields, Lit, LitStr, Meta, Type};

use super::SchemaOut;
use super::validation;
use crate::args::{Errors, bare_flag, count, error, key, key_span, one_of, strings, value_tokens};

/// The keys of [`TypeKeys`], in the order error messages list them.
pub(crate) const TYPE_KEYS: &[&str] = &[
    "validation",
    "preserve_unknown_fields",
    "map_type",
    "min_properties",
    "max_properties",
    "exactly_one_of",
    "at_most_one_of",
    "at_least_one_of",
    "list_type",
    "list_map_keys",
    "external_docs",
];

/// The type-level keys that only a newtype over a `Vec` takes (so not a
/// `#[crd]` Spec, which has named fields).
pub(crate) const LIST_KEYS: &[&str] = &["list_type", "list_map_keys"];

pub(crate) const MAP_TYPES: &[&str] = &["atomic", "granular"];

const LIST_TYPES: &[&str] = &["atomic", "set", "map"];

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
    /// Repeatable: one group of fields each.
    #[darling(multiple, with = |m| FieldGroup::parse(m, OneOf::Exactly))]
    exactly_one_of: Vec<FieldGroup>,
    #[darling(multiple, with = |m| FieldGroup::parse(m, OneOf::AtMost))]
    at_most_one_of: Vec<FieldGroup>,
    #[darling(multiple, with = |m| FieldGroup::parse(m, OneOf::AtLeast))]
    at_least_one_of: Vec<FieldGroup>,
    /// With the span of the key, for "only on a newtype over a Vec".
    #[darling(default, with = |m| one_of(m, LIST_TYPES).map(|l| Some((l, key_span(m)))))]
    list_type: Option<(LitStr, Span)>,
    #[darling(default, with = |m| super::field::parse_list_map_keys(m).map(Some))]
    list_map_keys: Option<(Vec<LitStr>, Span)>,
    /// `externalDocs`, as on a field (a field's own wins where the type is used).
    #[darling(default, with = |m| super::field::parse_external_docs(m).map(Some))]
    external_docs: Option<TokenStream>,
}

/// `root_validation(...)` of `#[crd]`: the same sub-keys as
/// `validation(...)`, as one `x-kubernetes-validations` entry. The rule is
/// checked here so its error names the key the user wrote.
pub(crate) fn root_rule(meta: &Meta) -> darling::Result<TokenStream> {
    if let Meta::List(list) = meta {
        let items = NestedMeta::parse_meta_list(list.tokens.clone()).unwrap_or_default();
        let has_rule = items
            .iter()
            .any(|i| matches!(i, NestedMeta::Meta(m) if m.path().is_ident("rule")));
        if !has_rule && !items.is_empty() {
            return Err(error(
                key_span(meta),
                "`root_validation(...)` needs a CEL `rule = \"...\"` over the whole object, e.g. `rule = \"self.metadata.name.size() <= 63\"`",
            ));
        }
    }
    validation::rule(meta)
}

/// Which of controller-gen's one-of markers a [`FieldGroup`] is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum OneOf {
    /// `+kubebuilder:validation:ExactlyOneOf`
    Exactly,
    /// `+kubebuilder:validation:AtMostOneOf`
    AtMost,
    /// `+kubebuilder:validation:AtLeastOneOf`
    AtLeast,
}

/// One `exactly_one_of = [...]` (or `at_most_`, `at_least_`): field names,
/// as written, with the key's span.
struct FieldGroup {
    kind: OneOf,
    names: Vec<LitStr>,
    key: Span,
}

impl FieldGroup {
    fn parse(meta: &Meta, kind: OneOf) -> darling::Result<Self> {
        let example = format!("{} = [\"http\", \"grpc\"]", key(meta));
        let names = strings(meta, &example)?;
        if names.is_empty() {
            return Err(error(
                value_tokens(meta).span(),
                format!(
                    "`{}` needs at least one field name, e.g. `{example}`",
                    key(meta)
                ),
            ));
        }
        let mut errors = darling::Error::accumulator();
        for (i, name) in names.iter().enumerate() {
            let value = name.value();
            if value.contains('.') {
                errors.push(error(
                    name.span(),
                    format!(
                        "`{}` names fields of this type, not nested ones (`{value}`); put the key on the nested type",
                        key(meta)
                    ),
                ));
            } else if names[..i].iter().any(|n| n.value() == value) {
                errors.push(error(
                    name.span(),
                    format!("`{value}` is named twice in `{}`", key(meta)),
                ));
            }
        }
        errors.finish_with(FieldGroup {
            kind,
            names,
            key: key_span(meta),
        })
    }

    fn key_name(&self) -> &'static str {
        match self.kind {
            OneOf::Exactly => "exactly_one_of",
            OneOf::AtMost => "at_most_one_of",
            OneOf::AtLeast => "at_least_one_of",
        }
    }

    /// The `x-kubernetes-validations` entry, with controller-gen's rule and
    /// message (controller-tools v0.22.0, `pkg/crd/markers/validation.go`):
    /// a sum of `(has(self.f)?1:0)` compared with 1, or `has(..)||has(..)`.
    fn rule(&self) -> TokenStream {
        let names: Vec<String> = self.names.iter().map(LitStr::value).collect();
        let (rule, message) = match self.kind {
            OneOf::Exactly => (
                format!("{} == 1", sum_of_has(&names)),
                format!(
                    "exactly one of the fields in [{}] must be set",
                    names.join(" ")
                ),
            ),
            OneOf::AtMost => (
                format!("{} <= 1", sum_of_has(&names)),
                format!(
                    "at most one of the fields in [{}] may be set",
                    names.join(" ")
                ),
            ),
            OneOf::AtLeast => (
                names
                    .iter()
                    .map(|n| format!("has(self.{})", cel_property(n)))
                    .collect::<Vec<_>>()
                    .join("||"),
                format!(
                    "at least one of the fields in [{}] must be set",
                    names.join(" ")
                ),
            ),
        };
        let rule = LitStr::new(&rule, self.key);
        let message = LitStr::new(&message, self.key);
        quote!({ "rule": #rule, "message": #message })
    }
}

/// `(has(self.a)?1:0)+(has(self.b)?1:0)`.
fn sum_of_has(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("(has(self.{})?1:0)", cel_property(n)))
        .collect::<Vec<_>>()
        .join("+")
}

/// The CEL keywords Kubernetes escapes as `__{keyword}__` in property names.
const CEL_RESERVED: &[&str] = &[
    "true",
    "false",
    "null",
    "in",
    "as",
    "break",
    "const",
    "continue",
    "else",
    "for",
    "function",
    "if",
    "import",
    "let",
    "loop",
    "package",
    "namespace",
    "return",
    "var",
    "void",
    "while",
];

/// A property name as Kubernetes' CEL spells it after `self.`: unchanged for
/// ordinary names (so rules are controller-gen's), escaped where the name
/// has `-`, `.`, `/`, `__` or is a CEL keyword (which controller-gen writes
/// as is, giving a rule the API server refuses).
fn cel_property(name: &str) -> String {
    if CEL_RESERVED.contains(&name) {
        return format!("__{name}__");
    }
    name.replace("__", "__underscores__")
        .replace('.', "__dot__")
        .replace('-', "__dash__")
        .replace('/', "__slash__")
}

/// Whether CEL can reach a property of this name at all
/// (`[a-zA-Z_.-/][a-zA-Z0-9_.-/]*`).
fn cel_accessible(name: &str) -> bool {
    let ok = |c: char, first: bool| {
        c.is_ascii_alphabetic()
            || matches!(c, '_' | '.' | '-' | '/')
            || (!first && c.is_ascii_digit())
    };
    let mut chars = name.chars();
    chars.next().is_some_and(|c| ok(c, true)) && chars.all(|c| ok(c, false))
}

impl TypeKeys {
    /// The rules that need the item these keys sit on: one-of names are
    /// fields the object may leave out, and list keys go on a newtype over
    /// a `Vec`.
    pub(crate) fn check(&self, input: &DeriveInput, errors: &mut Errors) {
        self.check_one_of(input, errors);
        self.check_list(input, errors);
    }

    fn groups(&self) -> impl Iterator<Item = &FieldGroup> {
        // controller-gen's order (its ApplyPriority): AtMostOneOf,
        // ExactlyOneOf, AtLeastOneOf, each in source order.
        self.at_most_one_of
            .iter()
            .chain(&self.exactly_one_of)
            .chain(&self.at_least_one_of)
    }

    fn check_one_of(&self, input: &DeriveInput, errors: &mut Errors) {
        if self.groups().next().is_none() {
            return;
        }
        let fields = match &input.data {
            Data::Struct(s) if matches!(s.fields, Fields::Named(_)) => json_fields(input),
            _ => {
                for group in self.groups() {
                    errors.push(syn::Error::new(
                        group.key,
                        format!(
                            "`{}` names fields, so it goes on a struct with named fields; `{}` has none",
                            group.key_name(),
                            input.ident
                        ),
                    ));
                }
                return;
            }
        };
        // A flattened field brings fields this macro cannot see.
        let flattened = fields.iter().any(|f| f.flatten);
        let listed = fields
            .iter()
            .filter(|f| !f.flatten)
            .map(|f| f.name.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        for group in self.groups() {
            for name in &group.names {
                let value = name.value();
                match fields.iter().find(|f| !f.flatten && f.name == value) {
                    Some(field) => {
                        if let Some(why) = &field.always_set {
                            errors.push(syn::Error::new(
                                name.span(),
                                format!(
                                    "`{value}` {why}, so `{}` would always count it as set; make it an `Option<...>` or `#[field(optional)]`",
                                    group.key_name()
                                ),
                            ));
                        } else if !cel_accessible(&value) {
                            errors.push(syn::Error::new(
                                name.span(),
                                format!(
                                    "CEL rules cannot reach a property named `{value}` (Kubernetes allows letters, digits, `_`, `.`, `-` and `/`, not starting with a digit); rename it with `#[serde(rename = \"...\")]`"
                                ),
                            ));
                        }
                    }
                    None if flattened => {}
                    None => errors.push(syn::Error::new(
                        name.span(),
                        format!(
                            "`{value}` is not a field of `{}`; its fields (JSON names, after serde renames) are: {listed}",
                            input.ident
                        ),
                    )),
                }
            }
        }
    }

    fn check_list(&self, input: &DeriveInput, errors: &mut Errors) {
        let spans: Vec<(Span, &str)> = self
            .list_type
            .as_ref()
            .map(|(_, s)| (*s, "list_type"))
            .into_iter()
            .chain(
                self.list_map_keys
                    .as_ref()
                    .map(|(_, s)| (*s, "list_map_keys")),
            )
            .collect();
        if spans.is_empty() {
            return;
        }
        if !is_vec_newtype(input) {
            for (span, key) in spans {
                errors.push(syn::Error::new(
                    span,
                    format!(
                        "`{key}` on a type goes on a newtype over a `Vec`, e.g. `struct Ports(Vec<Port>);`; on a field, write `#[field({key} = ...)]`"
                    ),
                ));
            }
            return;
        }
        if let Some((_, span)) = &self.list_map_keys
            && self.list_type.as_ref().map(|(l, _)| l.value()) != Some("map".into())
        {
            errors.push(syn::Error::new(
                *span,
                "`list_map_keys` needs `list_type = \"map\"` on the same type",
            ));
        }
        if let Some((lt, _)) = &self.list_type
            && lt.value() == "map"
            && self.list_map_keys.is_none()
        {
            errors.push(syn::Error::new(
                lt.span(),
                "`list_type = \"map\"` needs `list_map_keys = [\"...\"]` naming the key fields",
            ));
        }
    }

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
        if let Some((lt, _)) = &self.list_type {
            out.set("x-kubernetes-list-type", quote!(#lt));
        }
        if let Some((k, _)) = &self.list_map_keys {
            out.set("x-kubernetes-list-map-keys", quote!([#(#k),*]));
        }
        if let Some(docs) = &self.external_docs {
            out.set("externalDocs", docs.clone());
        }
        // controller-gen writes XValidation rules before the one-of ones.
        let one_of: Vec<TokenStream> = self.groups().map(FieldGroup::rule).collect();
        let mut rules = self.validation;
        rules.extend(one_of);
        out.rules(&rules);
        out
    }
}

/// `struct Ports(Vec<Port>);` (any path ending in `Vec`).
fn is_vec_newtype(input: &DeriveInput) -> bool {
    let Data::Struct(s) = &input.data else {
        return false;
    };
    let Fields::Unnamed(fields) = &s.fields else {
        return false;
    };
    let mut iter = fields.unnamed.iter();
    match (iter.next(), iter.next()) {
        (Some(only), None) => {
            last_segment(&only.ty).is_some_and(|(name, has_args)| name == "Vec" && has_args)
        }
        _ => false,
    }
}

/// The last path segment of a type and whether it has generic arguments.
fn last_segment(ty: &Type) -> Option<(String, bool)> {
    match ty {
        Type::Path(p) => p.path.segments.last().map(|s| {
            (
                s.ident.to_string(),
                !matches!(s.arguments, syn::PathArguments::None),
            )
        }),
        _ => None,
    }
}

/// A field as it appears in the JSON object.
struct JsonField {
    /// The JSON name (serde's `rename` or `rename_all` applied).
    name: String,
    /// `#[serde(flatten)]`: its fields are the inner type's.
    flatten: bool,
    /// Why the object always has this field, if it does.
    always_set: Option<String>,
}

/// The fields of a struct with named fields, as serde names them.
fn json_fields(input: &DeriveInput) -> Vec<JsonField> {
    let Data::Struct(s) = &input.data else {
        return Vec::new();
    };
    let container = serde_items(&input.attrs);
    let rename_all = container.iter().find_map(|m| match m {
        Meta::NameValue(nv) if nv.path.is_ident("rename_all") => lit_str(&nv.value),
        Meta::List(l) if l.path.is_ident("rename_all") => serialize_name(l),
        _ => None,
    });
    let container_default = container.iter().any(|m| m.path().is_ident("default"));
    let mut out = Vec::new();
    for field in &s.fields {
        let Some(ident) = &field.ident else { continue };
        let serde = serde_items(&field.attrs);
        let has = |name: &str| serde.iter().any(|m| m.path().is_ident(name));
        if has("skip") || has("skip_deserializing") {
            continue;
        }
        let rust_name = ident.to_string();
        let rust_name = rust_name.trim_start_matches("r#");
        let renamed = serde.iter().find_map(|m| match m {
            Meta::NameValue(nv) if nv.path.is_ident("rename") => lit_str(&nv.value),
            Meta::List(l) if l.path.is_ident("rename") => serialize_name(l),
            _ => None,
        });
        let name = renamed.unwrap_or_else(|| match &rename_all {
            Some(rule) => rename_field(rust_name, rule),
            None => rust_name.to_string(),
        });
        let keys = field_keys(&field.attrs);
        let has_key = |name: &str| keys.iter().any(|m| m.path().is_ident(name));
        let is_option = last_segment(&field.ty).is_some_and(|(n, _)| n == "Option");
        let always_set = if has_key("required") {
            Some("is `#[field(required)]`".to_string())
        } else if has_key("default") {
            Some("has a `default`, which the API server fills in".to_string())
        } else if is_option || has_key("optional") || has("default") || container_default {
            None
        } else {
            Some("is required (not an `Option`, no `#[field(optional)]`)".to_string())
        };
        out.push(JsonField {
            name,
            flatten: has("flatten"),
            always_set,
        });
    }
    out
}

/// The items of every `#[serde(...)]` attribute.
fn serde_items(attrs: &[Attribute]) -> Vec<Meta> {
    items_of(attrs, "serde")
}

/// The items of every `#[field(...)]` attribute (read only; the field's
/// own processing reports their mistakes).
fn field_keys(attrs: &[Attribute]) -> Vec<Meta> {
    items_of(attrs, "field")
}

fn items_of(attrs: &[Attribute], name: &str) -> Vec<Meta> {
    attrs
        .iter()
        .filter(|a| a.path().is_ident(name))
        .filter_map(|a| a.meta.require_list().ok())
        .filter_map(|l| NestedMeta::parse_meta_list(l.tokens.clone()).ok())
        .flatten()
        .filter_map(|item| match item {
            NestedMeta::Meta(m) => Some(m),
            _ => None,
        })
        .collect()
}

fn lit_str(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Some(s.value()),
        _ => None,
    }
}

/// `rename(serialize = "x", ...)` / `rename_all(serialize = "x")`: the
/// serialized name, which is what the API server sees.
fn serialize_name(list: &syn::MetaList) -> Option<String> {
    NestedMeta::parse_meta_list(list.tokens.clone())
        .ok()?
        .into_iter()
        .find_map(|item| match item {
            NestedMeta::Meta(Meta::NameValue(nv)) if nv.path.is_ident("serialize") => {
                lit_str(&nv.value)
            }
            _ => None,
        })
}

/// serde's `rename_all` applied to a field name (serde_derive's
/// `RenameRule::apply_to_field`).
fn rename_field(field: &str, rule: &str) -> String {
    let pascal = || {
        let mut out = String::new();
        let mut capitalize = true;
        for ch in field.chars() {
            if ch == '_' {
                capitalize = true;
            } else if capitalize {
                out.push(ch.to_ascii_uppercase());
                capitalize = false;
            } else {
                out.push(ch);
            }
        }
        out
    };
    match rule {
        "UPPERCASE" | "SCREAMING_SNAKE_CASE" => field.to_ascii_uppercase(),
        "PascalCase" => pascal(),
        "camelCase" => {
            let p = pascal();
            let mut chars = p.chars();
            match chars.next() {
                Some(first) => first.to_ascii_lowercase().to_string() + chars.as_str(),
                None => p,
            }
        }
        "kebab-case" => field.replace('_', "-"),
        "SCREAMING-KEBAB-CASE" => field.to_ascii_uppercase().replace('_', "-"),
        // "lowercase", "snake_case", or a rule serde itself refuses.
        _ => field.to_string(),
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

    fn keys(tokens: TokenStream) -> TypeKeys {
        parse_list::<TypeKeys>(tokens, "schema", TYPE_KEYS)
            .unwrap_or_else(|e| panic!("{}", syn::Error::from(e)))
    }

    fn check(keys: &TypeKeys, item: DeriveInput) -> Vec<String> {
        let mut errors = Errors::default();
        keys.check(&item, &mut errors);
        match errors.finish() {
            Ok(()) => Vec::new(),
            Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn one_of_rules_are_controller_gens_in_its_order() {
        let schema = keys(quote!(
            exactly_one_of = ["http", "grpc"],
            at_least_one_of = ["email", "phone"],
            validation = "self.a > 0",
            at_most_one_of = ["configMapRef", "secretRef"],
        ))
        .into_schema();
        let attrs = schema.attrs()[0].to_string();
        let rules = [
            "\"rule\" : \"self.a > 0\"",
            "\"rule\" : \"(has(self.configMapRef)?1:0)+(has(self.secretRef)?1:0) <= 1\" , \"message\" : \"at most one of the fields in [configMapRef secretRef] may be set\"",
            "\"rule\" : \"(has(self.http)?1:0)+(has(self.grpc)?1:0) == 1\" , \"message\" : \"exactly one of the fields in [http grpc] must be set\"",
            "\"rule\" : \"has(self.email)||has(self.phone)\" , \"message\" : \"at least one of the fields in [email phone] must be set\"",
        ];
        let mut at = 0;
        for rule in rules {
            let found = attrs[at..]
                .find(rule)
                .unwrap_or_else(|| panic!("{rule} not after {at} in {attrs}"));
            at += found + rule.len();
        }
    }

    #[test]
    fn property_names_are_escaped_as_kubernetes_reads_them() {
        assert_eq!(cel_property("replicas"), "replicas");
        assert_eq!(cel_property("max-surge"), "max__dash__surge");
        assert_eq!(
            cel_property("a__b.c/d"),
            "a__underscores__b__dot__c__slash__d"
        );
        assert_eq!(cel_property("namespace"), "__namespace__");
        assert!(cel_accessible("_a1"));
        assert!(!cel_accessible("1a"));
        assert!(!cel_accessible("a b"));
    }

    #[test]
    fn names_are_serdes() {
        for (rule, field, json) in [
            ("camelCase", "config_map_ref", "configMapRef"),
            ("PascalCase", "config_map_ref", "ConfigMapRef"),
            ("kebab-case", "config_map_ref", "config-map-ref"),
            ("SCREAMING_SNAKE_CASE", "a_b", "A_B"),
            ("SCREAMING-KEBAB-CASE", "a_b", "A-B"),
            ("lowercase", "a_b", "a_b"),
        ] {
            assert_eq!(rename_field(field, rule), json, "{rule}");
        }
        let item: DeriveInput = syn::parse_quote! {
            #[serde(rename_all = "camelCase")]
            struct S {
                config_map: Option<String>,
                #[serde(rename = "sec")]
                secret: Option<String>,
                #[serde(rename(serialize = "x", deserialize = "y"))]
                r#type: Option<String>,
                #[serde(skip)]
                hidden: Option<String>,
                count: i32,
                #[field(optional)]
                flag: bool,
                #[field(default = 3)]
                level: i32,
                #[field(required)]
                owner: Option<String>,
            }
        };
        let fields = json_fields(&item);
        let named: Vec<(&str, bool)> = fields
            .iter()
            .map(|f| (f.name.as_str(), f.always_set.is_none()))
            .collect();
        assert_eq!(
            named,
            [
                ("configMap", true),
                ("sec", true),
                ("x", true),
                ("count", false),
                ("flag", true),
                ("level", false),
                ("owner", false),
            ]
        );
    }

    #[test]
    fn one_of_names_must_be_optional_fields() {
        let k = keys(quote!(exactly_one_of = ["a", "count", "nope"]));
        let errors = check(
            &k,
            syn::parse_quote! {
                struct S { a: Option<i32>, count: i32 }
            },
        );
        assert_eq!(
            errors,
            [
                "`count` is required (not an `Option`, no `#[field(optional)]`), so `exactly_one_of` would always count it as set; make it an `Option<...>` or `#[field(optional)]`",
                "`nope` is not a field of `S`; its fields (JSON names, after serde renames) are: a, count",
            ]
        );
        // A flattened field may hold the name.
        let errors = check(
            &keys(quote!(at_most_one_of = ["inner"])),
            syn::parse_quote! {
                struct S { #[serde(flatten)] rest: Inner }
            },
        );
        assert!(errors.is_empty(), "{errors:?}");
        let errors = check(
            &k,
            syn::parse_quote! {
                struct S(Option<i32>);
            },
        );
        assert_eq!(
            errors,
            [
                "`exactly_one_of` names fields, so it goes on a struct with named fields; `S` has none"
            ]
        );
    }

    #[test]
    fn group_mistakes_are_explained() {
        let err = |tokens: TokenStream| {
            parse_list::<TypeKeys>(tokens, "schema", TYPE_KEYS)
                .err()
                .map(|e| syn::Error::from(e).to_string())
                .unwrap_or_default()
        };
        assert_eq!(
            err(quote!(exactly_one_of = [])),
            "`exactly_one_of` needs at least one field name, e.g. `exactly_one_of = [\"http\", \"grpc\"]`"
        );
        assert_eq!(
            err(quote!(at_most_one_of = ["a", "a"])),
            "`a` is named twice in `at_most_one_of`"
        );
        assert_eq!(
            err(quote!(at_least_one_of = ["a.b"])),
            "`at_least_one_of` names fields of this type, not nested ones (`a.b`); put the key on the nested type"
        );
    }

    #[test]
    fn list_keys_go_on_a_vec_newtype() {
        let map = keys(quote!(list_type = "map", list_map_keys = ["name"]));
        let newtype: DeriveInput = syn::parse_quote!(
            struct Ports(Vec<Port>);
        );
        assert!(check(&map, newtype.clone()).is_empty());
        assert_eq!(
            check(
                &map,
                syn::parse_quote!(
                    struct Ports(Option<Port>);
                )
            ),
            [
                "`list_type` on a type goes on a newtype over a `Vec`, e.g. `struct Ports(Vec<Port>);`; on a field, write `#[field(list_type = ...)]`",
                "`list_map_keys` on a type goes on a newtype over a `Vec`, e.g. `struct Ports(Vec<Port>);`; on a field, write `#[field(list_map_keys = ...)]`",
            ]
        );
        assert_eq!(
            check(&keys(quote!(list_type = "map")), newtype.clone()),
            ["`list_type = \"map\"` needs `list_map_keys = [\"...\"]` naming the key fields"]
        );
        assert_eq!(
            check(
                &keys(quote!(list_type = "set", list_map_keys = ["a"])),
                newtype
            ),
            ["`list_map_keys` needs `list_type = \"map\"` on the same type"]
        );
    }
}
