//! `#[field(...)]`: the schema keys of one field of a `#[crd]` or `#[schema]`
//! type, and the schemars and serde attributes they become.

use darling::FromMeta;
use darling::ast::NestedMeta;
use proc_macro2::{Group, Ident, Span, TokenStream, TokenTree};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{
    Attribute, Expr, ExprArray, ExprLit, Field, GenericArgument, Lit, LitStr, Meta, PathArguments,
    Type,
};

use super::SchemaOut;
use super::type_keys::MAP_TYPES;
use super::validation;
use crate::args::{
    Errors, Number, bare_flag, count, error, expects, expr, from_items, key_span, nested, number,
    one_of, parse_items, string, strings, value_tokens,
};

/// The keys of [`FieldKeys`], in the order error messages list them.
const FIELD_KEYS: &[&str] = &[
    "minimum",
    "maximum",
    "exclusive_minimum",
    "exclusive_maximum",
    "multiple_of",
    "min_length",
    "max_length",
    "pattern",
    "format",
    "type",
    "enum",
    "min_items",
    "max_items",
    "unique_items",
    "items",
    "min_properties",
    "max_properties",
    "default",
    "example",
    "title",
    "external_docs",
    "nullable",
    "preserve_unknown_fields",
    "int_or_string",
    "embedded_resource",
    "schemaless",
    "list_type",
    "list_map_keys",
    "map_type",
    "validation",
    "max_desc_len",
    "optional",
    "required",
];

/// The keys of `items(...)`: controller-gen's `+kubebuilder:validation:items:*`
/// markers (its validation markers, each applied to the list's items), in
/// the order error messages list them.
const ITEM_KEYS: &[&str] = &[
    "minimum",
    "maximum",
    "exclusive_minimum",
    "exclusive_maximum",
    "multiple_of",
    "min_length",
    "max_length",
    "pattern",
    "format",
    "type",
    "enum",
    "min_items",
    "max_items",
    "unique_items",
    "min_properties",
    "max_properties",
    "preserve_unknown_fields",
    "int_or_string",
    "embedded_resource",
    "validation",
];

const LIST_TYPES: &[&str] = &["atomic", "set", "map"];

/// The values of `type`: OpenAPI's types, as controller-gen's
/// `+kubebuilder:validation:Type` lists them (the API server accepts no
/// other in a structural schema).
const SCHEMA_TYPES: &[&str] = &["string", "integer", "number", "boolean", "object", "array"];

/// The keys of `external_docs(...)`.
const EXTERNAL_DOCS_KEYS: &[&str] = &["url", "description"];

/// A number or count with the tokens of its value, so errors comparing two
/// keys can point at the value.
type WithTokens<T> = Option<(T, TokenStream)>;

/// The parsed `#[field(...)]` keys of one field. Flags keep the span of
/// their key for errors about combinations.
#[derive(Default, FromMeta)]
struct FieldKeys {
    #[darling(default, with = |m| number(m).map(Some))]
    minimum: WithTokens<Number>,
    #[darling(default, with = |m| number(m).map(Some))]
    maximum: WithTokens<Number>,
    #[darling(default, with = |m| number(m).map(Some))]
    exclusive_minimum: WithTokens<Number>,
    #[darling(default, with = |m| number(m).map(Some))]
    exclusive_maximum: WithTokens<Number>,
    #[darling(default, with = |m| parse_multiple_of(m).map(Some))]
    multiple_of: WithTokens<Number>,
    #[darling(default, with = |m| count(m).map(Some))]
    min_length: WithTokens<u64>,
    #[darling(default, with = |m| count(m).map(Some))]
    max_length: WithTokens<u64>,
    #[darling(default, with = |m| string(m, "pattern = \"^[a-z]+$\"").map(Some))]
    pattern: Option<LitStr>,
    #[darling(default, with = |m| string(m, "format = \"date-time\"").map(Some))]
    format: Option<LitStr>,
    #[darling(rename = "type", default, with = |m| one_of(m, SCHEMA_TYPES).map(Some))]
    schema_type: Option<LitStr>,
    #[darling(rename = "enum", default, with = |m| parse_enum(m).map(Some))]
    enum_values: Option<Vec<Lit>>,
    #[darling(default, with = |m| count(m).map(Some))]
    min_items: WithTokens<u64>,
    #[darling(default, with = |m| count(m).map(Some))]
    max_items: WithTokens<u64>,
    #[darling(default, with = |m| bare_flag(m).map(Some))]
    unique_items: Option<Span>,
    /// The keys of `items(...)`, with the span of the key.
    #[darling(default, with = |m| parse_item_keys(m).map(Some))]
    items: Option<(Box<FieldKeys>, Span)>,
    #[darling(default, with = |m| count(m).map(Some))]
    min_properties: WithTokens<u64>,
    #[darling(default, with = |m| count(m).map(Some))]
    max_properties: WithTokens<u64>,
    #[darling(default, with = |m| expr(m, "a value, e.g. `default = 3`, `default = \"text\"` or `default = MyEnum::Variant`").map(Some))]
    default: Option<Expr>,
    #[darling(default, with = |m| expr(m, "a value of the field's type, e.g. `example = 3`, `example = \"text\"` or `example = [\"a\", \"b\"]`").map(Some))]
    example: Option<Expr>,
    #[darling(default, with = |m| string(m, "title = \"Replicas\"").map(Some))]
    title: Option<LitStr>,
    #[darling(default, with = |m| parse_external_docs(m).map(Some))]
    external_docs: Option<TokenStream>,
    #[darling(default, with = |m| bare_flag(m).map(Some))]
    nullable: Option<Span>,
    #[darling(default, with = |m| bare_flag(m).map(Some))]
    preserve_unknown_fields: Option<Span>,
    #[darling(default, with = |m| bare_flag(m).map(Some))]
    int_or_string: Option<Span>,
    #[darling(default, with = |m| bare_flag(m).map(Some))]
    embedded_resource: Option<Span>,
    #[darling(default, with = |m| bare_flag(m).map(Some))]
    schemaless: Option<Span>,
    #[darling(default, with = |m| one_of(m, LIST_TYPES).map(Some))]
    list_type: Option<LitStr>,
    #[darling(default, with = |m| parse_list_map_keys(m).map(Some))]
    list_map_keys: Option<(Vec<LitStr>, Span)>,
    #[darling(default, with = |m| one_of(m, MAP_TYPES).map(Some))]
    map_type: Option<LitStr>,
    /// Repeatable: one CEL rule each.
    #[darling(multiple, with = validation::rule)]
    validation: Vec<TokenStream>,
    #[darling(default, with = |m| count(m).map(Some))]
    max_desc_len: WithTokens<u64>,
    #[darling(default, with = |m| bare_flag(m).map(Some))]
    optional: Option<Span>,
    #[darling(default, with = |m| bare_flag(m).map(Some))]
    required: Option<Span>,
}

/// What `items(...)` reads: the [`FieldKeys`] that make sense for one
/// element of a list (see [`ITEM_KEYS`]); a separate struct so darling
/// refuses the others, naming what `items(...)` takes.
#[derive(FromMeta)]
struct ItemKeys {
    #[darling(default, with = |m| number(m).map(Some))]
    minimum: WithTokens<Number>,
    #[darling(default, with = |m| number(m).map(Some))]
    maximum: WithTokens<Number>,
    #[darling(default, with = |m| number(m).map(Some))]
    exclusive_minimum: WithTokens<Number>,
    #[darling(default, with = |m| number(m).map(Some))]
    exclusive_maximum: WithTokens<Number>,
    #[darling(default, with = |m| parse_multiple_of(m).map(Some))]
    multiple_of: WithTokens<Number>,
    #[darling(default, with = |m| count(m).map(Some))]
    min_length: WithTokens<u64>,
    #[darling(default, with = |m| count(m).map(Some))]
    max_length: WithTokens<u64>,
    #[darling(default, with = |m| string(m, "pattern = \"^[a-z]+$\"").map(Some))]
    pattern: Option<LitStr>,
    #[darling(default, with = |m| string(m, "format = \"date-time\"").map(Some))]
    format: Option<LitStr>,
    #[darling(rename = "type", default, with = |m| one_of(m, SCHEMA_TYPES).map(Some))]
    schema_type: Option<LitStr>,
    #[darling(rename = "enum", default, with = |m| parse_enum(m).map(Some))]
    enum_values: Option<Vec<Lit>>,
    #[darling(default, with = |m| count(m).map(Some))]
    min_items: WithTokens<u64>,
    #[darling(default, with = |m| count(m).map(Some))]
    max_items: WithTokens<u64>,
    #[darling(default, with = |m| bare_flag(m).map(Some))]
    unique_items: Option<Span>,
    #[darling(default, with = |m| count(m).map(Some))]
    min_properties: WithTokens<u64>,
    #[darling(default, with = |m| count(m).map(Some))]
    max_properties: WithTokens<u64>,
    #[darling(default, with = |m| bare_flag(m).map(Some))]
    preserve_unknown_fields: Option<Span>,
    #[darling(default, with = |m| bare_flag(m).map(Some))]
    int_or_string: Option<Span>,
    #[darling(default, with = |m| bare_flag(m).map(Some))]
    embedded_resource: Option<Span>,
    #[darling(multiple, with = validation::rule)]
    validation: Vec<TokenStream>,
}

impl From<ItemKeys> for FieldKeys {
    fn from(i: ItemKeys) -> Self {
        FieldKeys {
            minimum: i.minimum,
            maximum: i.maximum,
            exclusive_minimum: i.exclusive_minimum,
            exclusive_maximum: i.exclusive_maximum,
            multiple_of: i.multiple_of,
            min_length: i.min_length,
            max_length: i.max_length,
            pattern: i.pattern,
            format: i.format,
            schema_type: i.schema_type,
            enum_values: i.enum_values,
            min_items: i.min_items,
            max_items: i.max_items,
            unique_items: i.unique_items,
            min_properties: i.min_properties,
            max_properties: i.max_properties,
            preserve_unknown_fields: i.preserve_unknown_fields,
            int_or_string: i.int_or_string,
            embedded_resource: i.embedded_resource,
            validation: i.validation,
            ..FieldKeys::default()
        }
    }
}

/// `items(key = value, ...)`: at least one key, each as on a field.
fn parse_item_keys(meta: &Meta) -> darling::Result<(Box<FieldKeys>, Span)> {
    if let Meta::List(list) = meta
        && list.tokens.is_empty()
    {
        return Err(expects(
            meta,
            "at least one key, e.g. `items(max_length = 63)`",
        ));
    }
    let keys: ItemKeys = nested(meta, ITEM_KEYS, "items(minimum = 1, max_length = 63)")?;
    Ok((Box::new(keys.into()), key_span(meta)))
}

/// `external_docs(url = "...", description = "...")` as the JSON tokens of
/// `externalDocs`. The URL is checked as controller-gen checks it (Go's
/// `url.ParseRequestURI`: an absolute URL or an absolute path).
pub(crate) fn parse_external_docs(meta: &Meta) -> darling::Result<TokenStream> {
    #[derive(FromMeta)]
    struct ExternalDocs {
        #[darling(default, with = |m| string(m, "url = \"https://example.com/docs\"").map(Some))]
        url: Option<LitStr>,
        #[darling(default, with = |m| string(m, "description = \"The manual\"").map(Some))]
        description: Option<LitStr>,
    }
    let docs: ExternalDocs = nested(
        meta,
        EXTERNAL_DOCS_KEYS,
        "external_docs(url = \"https://example.com/docs\", description = \"The manual\")",
    )?;
    let Some(url) = docs.url else {
        return Err(error(
            key_span(meta),
            "`external_docs(...)` needs `url = \"...\"`, e.g. `external_docs(url = \"https://example.com/docs\")`",
        ));
    };
    check_url(&url)?;
    Ok(match docs.description {
        Some(d) => quote!({ "url": #url, "description": #d }),
        None => quote!({ "url": #url }),
    })
}

/// An `external_docs` URL (on a field, a type or the root): what
/// controller-gen accepts, so a URL it would refuse is refused here too.
pub(crate) fn check_url(url: &LitStr) -> darling::Result<()> {
    if is_request_uri(&url.value()) {
        Ok(())
    } else {
        Err(error(
            url.span(),
            "`url` must be an absolute URL (e.g. \"https://example.com/docs\") or an absolute path (e.g. \"/docs\"), without spaces",
        ))
    }
}

/// What Go's `url.ParseRequestURI` accepts, roughly: a scheme
/// (`[a-zA-Z][a-zA-Z0-9+.-]*:`) followed by something, or a path starting
/// with `/`; no whitespace or control characters anywhere.
fn is_request_uri(url: &str) -> bool {
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    if url.starts_with('/') {
        return true;
    }
    let Some((scheme, rest)) = url.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && !rest.is_empty()
}

fn parse_multiple_of(meta: &Meta) -> darling::Result<(Number, TokenStream)> {
    let (n, tokens) = number(meta)?;
    if n.value <= 0.0 {
        return Err(error(tokens.span(), "`multiple_of` must be greater than 0"));
    }
    Ok((n, tokens))
}

pub(crate) fn parse_list_map_keys(meta: &Meta) -> darling::Result<(Vec<LitStr>, Span)> {
    let keys = strings(meta, "list_map_keys = [\"name\"]")?;
    if keys.is_empty() {
        return Err(error(
            value_tokens(meta).span(),
            "`list_map_keys` needs at least one key",
        ));
    }
    Ok((keys, key_span(meta)))
}

fn parse_enum(meta: &Meta) -> darling::Result<Vec<Lit>> {
    let err = || {
        expects(
            meta,
            "a list of literals, e.g. `enum = [\"Always\", \"Never\"]` (for a Rust enum, derive its schema with #[kubeforge::schema] instead)",
        )
    };
    let Ok(Expr::Array(ExprArray { elems, .. })) = expr(meta, "") else {
        return Err(err());
    };
    elems
        .iter()
        .map(|e| match e {
            Expr::Lit(ExprLit { lit, .. })
                if matches!(
                    lit,
                    Lit::Str(_) | Lit::Int(_) | Lit::Float(_) | Lit::Bool(_)
                ) =>
            {
                Ok(lit.clone())
            }
            _ => Err(err()),
        })
        .collect()
}

impl FieldKeys {
    /// Checks between keys: contradictions the API server would reject or
    /// that would silently make Rust and the schema disagree.
    fn check(&self, errors: &mut Errors) {
        fn order<T: PartialOrd + Copy>(
            lo: &WithTokens<T>,
            hi: &WithTokens<T>,
            lo_name: &str,
            hi_name: &str,
            errors: &mut Errors,
        ) {
            if let (Some((l, _)), Some((h, ht))) = (lo, hi)
                && l > h
            {
                errors.push(syn::Error::new_spanned(
                    ht,
                    format!("`{hi_name}` must not be less than `{lo_name}`"),
                ));
            }
        }
        let value = |n: &WithTokens<Number>| n.as_ref().map(|(n, t)| (n.value, t.clone()));
        let lo = value(&self.minimum).or(value(&self.exclusive_minimum));
        let hi = value(&self.maximum).or(value(&self.exclusive_maximum));
        order(&lo, &hi, "minimum", "maximum", errors);
        order(
            &self.min_length,
            &self.max_length,
            "min_length",
            "max_length",
            errors,
        );
        order(
            &self.min_items,
            &self.max_items,
            "min_items",
            "max_items",
            errors,
        );
        order(
            &self.min_properties,
            &self.max_properties,
            "min_properties",
            "max_properties",
            errors,
        );
        if let (Some(_), Some((_, t))) = (&self.minimum, &self.exclusive_minimum) {
            errors.push(syn::Error::new_spanned(
                t,
                "use either `minimum` or `exclusive_minimum`, not both",
            ));
        }
        if let (Some(_), Some((_, t))) = (&self.maximum, &self.exclusive_maximum) {
            errors.push(syn::Error::new_spanned(
                t,
                "use either `maximum` or `exclusive_maximum`, not both",
            ));
        }
        if let Some((_, span)) = &self.list_map_keys
            && self.list_type.as_ref().map(|l| l.value()) != Some("map".into())
        {
            errors.push(syn::Error::new(
                *span,
                "`list_map_keys` needs `list_type = \"map\"` on the same field",
            ));
        }
        if let Some(lt) = &self.list_type {
            if lt.value() == "map" && self.list_map_keys.is_none() {
                errors.push(syn::Error::new(
                    lt.span(),
                    "`list_type = \"map\"` needs `list_map_keys = [\"...\"]` naming the key fields",
                ));
            }
            if let Some(span) = self.unique_items
                && lt.value() != "set"
            {
                errors.push(syn::Error::new(
                    span,
                    "`unique_items` means `list_type = \"set\"`; it cannot be combined with another list type",
                ));
            }
        }
        if let (Some(_), Some(span)) = (&self.optional, self.required) {
            errors.push(syn::Error::new(
                span,
                "a field cannot be both `optional` and `required`",
            ));
        }
        if let (Some(_), Some(span)) = (&self.default, self.required) {
            errors.push(syn::Error::new(
                span,
                "a field with a `default` is optional (the API server fills it in); remove `required`",
            ));
        }
        if let (Some(_), Some(span)) = (&self.int_or_string, self.embedded_resource) {
            errors.push(syn::Error::new(
                span,
                "`int_or_string` and `embedded_resource` cannot be combined",
            ));
        }
        if let Some((items, span)) = &self.items {
            items.check(errors);
            for (other, name) in [
                (self.int_or_string, "int_or_string"),
                (self.embedded_resource, "embedded_resource"),
                (self.schemaless, "schemaless"),
            ] {
                if other.is_some() {
                    errors.push(syn::Error::new(
                        *span,
                        format!("`items(...)` needs the field's list schema, which `{name}` replaces; remove one of them"),
                    ));
                }
            }
        }
        self.check_type(errors);
    }

    /// With `type = "..."`, the keys must fit that type, as controller-gen
    /// requires (it applies `Type` first, then refuses e.g. `Minimum` on a
    /// string); and the keys that set the type themselves cannot be
    /// combined with it.
    fn check_type(&self, errors: &mut Errors) {
        let Some(ty) = &self.schema_type else { return };
        let value = ty.value();
        if let Some(span) = self.int_or_string {
            errors.push(syn::Error::new(
                span,
                "`int_or_string` replaces the type (an integer or a string); remove `type`",
            ));
        }
        if let Some(span) = self.embedded_resource
            && value != "object"
        {
            errors.push(syn::Error::new(
                span,
                "`embedded_resource` is an object; it cannot be combined with another `type`",
            ));
        }
        let mut misfit = |span: Span, key: &str, wants: &str| {
            errors.push(syn::Error::new(
                span,
                format!("`{key}` applies to {wants}, but the field has `type = \"{value}\"`"),
            ));
        };
        let numeric = value == "integer" || value == "number";
        let mut fraction = Vec::new();
        for (n, key) in [
            (&self.minimum, "minimum"),
            (&self.maximum, "maximum"),
            (&self.exclusive_minimum, "exclusive_minimum"),
            (&self.exclusive_maximum, "exclusive_maximum"),
            (&self.multiple_of, "multiple_of"),
        ] {
            let Some((n, tokens)) = n else { continue };
            if !numeric {
                misfit(
                    tokens.span(),
                    key,
                    "numbers (`type = \"integer\"` or `\"number\"`)",
                );
            } else if value == "integer" && n.value.fract() != 0.0 {
                fraction.push((tokens.span(), key));
            }
        }
        let spans = |keys: &[(Option<Span>, &'static str)]| {
            keys.iter()
                .filter_map(|(s, k)| s.map(|s| (s, *k)))
                .collect::<Vec<_>>()
        };
        let tokens_span = |n: &WithTokens<u64>| n.as_ref().map(|(_, t)| t.span());
        let lit_span = |l: &Option<LitStr>| l.as_ref().map(LitStr::span);
        let groups = [
            (
                "string",
                "strings",
                spans(&[
                    (tokens_span(&self.min_length), "min_length"),
                    (tokens_span(&self.max_length), "max_length"),
                    (lit_span(&self.pattern), "pattern"),
                ]),
            ),
            (
                "array",
                "lists",
                spans(&[
                    (tokens_span(&self.min_items), "min_items"),
                    (tokens_span(&self.max_items), "max_items"),
                    (self.unique_items, "unique_items"),
                    (self.items.as_ref().map(|(_, s)| *s), "items"),
                    (lit_span(&self.list_type), "list_type"),
                    (
                        self.list_map_keys.as_ref().map(|(_, s)| *s),
                        "list_map_keys",
                    ),
                ]),
            ),
            (
                "object",
                "objects",
                spans(&[
                    (tokens_span(&self.min_properties), "min_properties"),
                    (tokens_span(&self.max_properties), "max_properties"),
                ]),
            ),
        ];
        for (wanted, what, used) in groups {
            if value != wanted {
                for (span, key) in used {
                    misfit(span, key, &format!("{what} (`type = \"{wanted}\"`)"));
                }
            }
        }
        for (span, key) in fraction {
            errors.push(syn::Error::new(
                span,
                format!("`{key}` must be a whole number with `type = \"integer\"`"),
            ));
        }
    }

    /// The field's schema keywords, in a fixed order.
    fn schema(&self) -> SchemaOut {
        let mut out = SchemaOut::default();
        let num = |out: &mut SchemaOut, key: &str, n: &WithTokens<Number>| {
            if let Some((n, _)) = n {
                let t = &n.tokens;
                out.set(key, quote!(#t));
            }
        };
        num(&mut out, "minimum", &self.minimum);
        num(&mut out, "maximum", &self.maximum);
        // OpenAPI v3.0 (what CRDs use) spells exclusive bounds as a boolean
        // next to minimum/maximum, unlike JSON Schema 2020-12.
        if self.exclusive_minimum.is_some() {
            num(&mut out, "minimum", &self.exclusive_minimum);
            out.set("exclusiveMinimum", quote!(true));
        }
        if self.exclusive_maximum.is_some() {
            num(&mut out, "maximum", &self.exclusive_maximum);
            out.set("exclusiveMaximum", quote!(true));
        }
        num(&mut out, "multipleOf", &self.multiple_of);
        let count = |out: &mut SchemaOut, key: &str, n: &WithTokens<u64>| {
            if let Some((n, _)) = n {
                out.set(key, quote!(#n));
            }
        };
        count(&mut out, "minLength", &self.min_length);
        count(&mut out, "maxLength", &self.max_length);
        count(&mut out, "minItems", &self.min_items);
        count(&mut out, "maxItems", &self.max_items);
        count(&mut out, "minProperties", &self.min_properties);
        count(&mut out, "maxProperties", &self.max_properties);
        if let Some(p) = &self.pattern {
            out.set("pattern", quote!(#p));
        }
        if let Some(f) = &self.format {
            out.set("format", quote!(#f));
        }
        if let Some(t) = &self.schema_type {
            out.set("type", quote!(#t));
        }
        if let Some(t) = &self.title {
            out.set("title", quote!(#t));
        }
        if let Some(docs) = &self.external_docs {
            out.set("externalDocs", docs.clone());
        }
        if let Some(values) = &self.enum_values {
            out.set("enum", quote!([#(#values),*]));
        }
        if self.nullable.is_some() {
            out.set("nullable", quote!(true));
        }
        if self.preserve_unknown_fields.is_some() {
            out.set("x-kubernetes-preserve-unknown-fields", quote!(true));
        }
        // The API server rejects `uniqueItems: true` (quadratic to check); a
        // set list type is how Kubernetes says "unique items".
        let list_type = match (&self.list_type, self.unique_items.is_some()) {
            (Some(lt), _) => Some(quote!(#lt)),
            (None, true) => Some(quote!("set")),
            (None, false) => None,
        };
        if let Some(lt) = list_type {
            out.set("x-kubernetes-list-type", lt);
        }
        if let Some((k, _)) = &self.list_map_keys {
            out.set("x-kubernetes-list-map-keys", quote!([#(#k),*]));
        }
        if let Some(m) = &self.map_type {
            out.set("x-kubernetes-map-type", quote!(#m));
        }
        out.rules(&self.validation);
        // Applied (and removed) by the CRD schema's last pass, to this
        // field's description and everything inside it; the key is
        // kubeforge::__private::crd_schema::MAX_DESC_LEN_KEY.
        count(&mut out, "x-kubeforge-max-desc-len", &self.max_desc_len);
        if self.int_or_string.is_some() {
            out.transforms.push(format_ident!("int_or_string"));
        }
        if self.embedded_resource.is_some() {
            out.transforms.push(format_ident!("embedded_resource"));
        }
        out.schemaless = self.schemaless.is_some();
        out
    }
}

/// Removes the `#[field(...)]` attributes of `field`, translating them into
/// schemars/serde attributes on the same field. Returns the hidden default
/// function to add to `impl #owner`, if the field has `default = ...`.
pub(crate) fn process_field(
    field: &mut Field,
    owner: &Ident,
    fn_suffix: &str,
    errors: &mut Errors,
) -> Option<TokenStream> {
    let (ours, rest): (Vec<Attribute>, Vec<Attribute>) = field
        .attrs
        .drain(..)
        .partition(|a| a.path().is_ident("field"));
    field.attrs = rest;
    if ours.is_empty() {
        return None;
    }
    // The items of every `#[field(...)]` together, so a key repeated across
    // two attributes is caught like one repeated within one.
    let mut items: Vec<NestedMeta> = Vec::new();
    for attr in &ours {
        match &attr.meta {
            Meta::List(list) => {
                if let Some(more) = errors.ok(parse_items(list.tokens.clone(), "field")) {
                    items.extend(more);
                }
            }
            other => errors.push(syn::Error::new_spanned(
                other,
                "expected `#[field(key = value, ...)]`, e.g. `#[field(minimum = 1)]`",
            )),
        }
    }
    let keys: FieldKeys = errors.ok(from_items(&items, "field", FIELD_KEYS))?;
    keys.check(errors);

    let mut out = keys.schema();
    let mut hidden_fns = Vec::new();
    if let Some((item_keys, span)) = &keys.items {
        // The list's type is named so `ListField` refuses a field that is
        // not a list, at the `items` key; the field's name is for the
        // run-time message when the schema comes from elsewhere.
        let item_out = item_keys.schema();
        let ty = respan(field.ty.to_token_stream(), *span);
        let name = format!("{owner}.{fn_suffix}");
        let json = item_out.json_object();
        let transforms = item_out.transform_paths();
        out.transform_exprs.push(quote_spanned! {*span=>
            ::kubeforge::manifests::__schema::items::<#ty>(#name, #json, &[#(#transforms),*])
        });
    }
    if let Some(expr) = &keys.example {
        // A hidden function of the field's (inner) type, so a value of the
        // wrong type is a compile error, serialized into the schema as the
        // field serializes.
        let name = format_ident!("__kubeforge_example_{}", fn_suffix);
        let ty = option_inner(&field.ty).unwrap_or(&field.ty);
        let value = typed_value(expr, "StrExample", "from_example_str");
        let body = quote_spanned! {expr.span()=> let value: #ty = #value; value };
        hidden_fns.push(quote! {
            #[doc(hidden)]
            #[allow(non_snake_case, clippy::all)]
            fn #name() -> #ty { #body }
        });
        out.set("example", quote!(Self::#name()));
    }
    let mut serde_attrs = Vec::new();
    let mut schemars_attrs = Vec::new();
    if keys.required.is_some() {
        schemars_attrs.push(quote!(#[schemars(required)]));
    }
    if keys.optional.is_some() && option_inner(&field.ty).is_none() {
        // Missing in the object means the type's default on the Rust side;
        // schemars writes that same default into the schema.
        serde_attrs.push(quote!(#[serde(default)]));
    }

    let mut default_fn = None;
    if let Some(expr) = &keys.default {
        let name = format_ident!("__kubeforge_default_{}", fn_suffix);
        let path = format!("{owner}::{name}");
        serde_attrs.push(quote!(#[serde(default = #path)]));
        let ty = &field.ty;
        let value = typed_value(expr, "StrDefault", "from_default_str");
        let body = match option_inner(ty) {
            Some(inner) => quote_spanned! {expr.span()=>
                ::core::option::Option::Some({ let value: #inner = #value; value })
            },
            None => quote_spanned! {expr.span()=> { let value: #ty = #value; value } },
        };
        default_fn = Some(quote! {
            #[doc(hidden)]
            #[allow(non_snake_case, clippy::all)]
            fn #name() -> #ty { #body }
        });
    }
    if !hidden_fns.is_empty() {
        default_fn = Some(quote!(#default_fn #(#hidden_fns)*));
    }

    field.attrs.extend(
        out.attrs()
            .into_iter()
            .chain(schemars_attrs)
            .chain(serde_attrs)
            .map(|t| -> Attribute { syn::parse_quote!(#t) }),
    );
    default_fn
}

/// `default = ...` (or `example = ...`) as a Rust expression of the
/// field's type: string literals go through `StrDefault` (`StrExample`), so
/// `"x"` works for `String` and is a clear error for anything else, arrays
/// become `vec![..]`, anything else (numbers, `MyEnum::Variant`, calls) is
/// used as written, so a value of the wrong type is an ordinary type error
/// at the literal.
fn typed_value(expr: &Expr, trait_name: &str, method: &str) -> TokenStream {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => {
            let trait_name = Ident::new(trait_name, s.span());
            let method = Ident::new(method, s.span());
            quote_spanned!(s.span()=> ::kubeforge::manifests::__schema::#trait_name::#method(#s))
        }
        Expr::Array(ExprArray { elems, .. }) => {
            let elems = elems.iter().map(|e| typed_value(e, trait_name, method));
            quote_spanned!(expr.span()=> ::std::vec![#(#elems),*])
        }
        other => quote!(#other),
    }
}

/// `tokens` with every span set to `span`, so an error about them (the
/// field's type not being a list) points at the key that needs them.
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut tree| {
            if let TokenTree::Group(group) = &tree {
                let mut inner = Group::new(group.delimiter(), respan(group.stream(), span));
                inner.set_span(span);
                tree = TokenTree::Group(inner);
            }
            tree.set_span(span);
            tree
        })
        .collect()
}

/// `T` when `ty` is syntactically `Option<T>`.
fn option_inner(ty: &Type) -> Option<&Type> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != "Option" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first()? {
        GenericArgument::Type(t) if args.args.len() == 1 => Some(t),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(tokens: TokenStream) -> Result<FieldKeys, String> {
        let items = parse_items(tokens, "field").map_err(|e| e.to_string())?;
        from_items(&items, "field", FIELD_KEYS).map_err(|e| syn::Error::from(e).to_string())
    }

    fn check(tokens: TokenStream) -> Vec<String> {
        let mut errors = Errors::default();
        keys(tokens)
            .unwrap_or_else(|e| panic!("{e}"))
            .check(&mut errors);
        match errors.finish() {
            Ok(()) => Vec::new(),
            Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn every_listed_key_is_accepted() {
        for key in FIELD_KEYS {
            let tokens: TokenStream = format!("{key} = \"x\"").parse().unwrap();
            if let Err(e) = keys(tokens) {
                assert!(
                    !e.starts_with("unknown"),
                    "`{key}` is listed but unknown: {e}"
                );
            }
        }
    }

    #[test]
    fn a_misspelled_key_gets_a_suggestion_and_the_list() {
        let err = keys(quote!(minimun = 1)).err().unwrap_or_default();
        assert!(
            err.starts_with("unknown `field` key `minimun` (did you mean `minimum`?); expected one of: minimum, maximum,"),
            "{err}"
        );
        let err = keys(quote!(colour = 1)).err().unwrap_or_default();
        assert!(
            err.starts_with("unknown `field` key `colour`; expected one of: minimum,"),
            "{err}"
        );
    }

    #[test]
    fn repeated_keys_are_rejected() {
        assert_eq!(
            keys(quote!(minimum = 1, minimum = 2)).err().as_deref(),
            Some("`minimum` is given more than once")
        );
    }

    #[test]
    fn combinations_are_checked() {
        assert!(check(quote!(minimum = -5, maximum = 5)).is_empty());
        assert_eq!(
            check(quote!(minimum = 5, maximum = -5)),
            ["`maximum` must not be less than `minimum`"]
        );
        assert_eq!(
            check(quote!(exclusive_minimum = 2, maximum = 1)),
            ["`maximum` must not be less than `minimum`"]
        );
        assert_eq!(
            check(quote!(int_or_string, embedded_resource)),
            ["`int_or_string` and `embedded_resource` cannot be combined"]
        );
        assert_eq!(
            check(quote!(optional, required)),
            ["a field cannot be both `optional` and `required`"]
        );
        assert_eq!(
            check(quote!(unique_items, list_type = "atomic")),
            [
                "`unique_items` means `list_type = \"set\"`; it cannot be combined with another list type"
            ]
        );
    }

    #[test]
    fn unique_items_becomes_a_set_list_type() {
        let out = keys(quote!(unique_items)).map(|k| k.schema().attrs());
        let text = out.map(|a| a[0].to_string()).unwrap_or_default();
        assert!(
            text.contains("\"x-kubernetes-list-type\" = \"set\""),
            "{text}"
        );
        assert!(!text.contains("uniqueItems"), "{text}");
    }

    #[test]
    fn every_item_key_is_accepted_inside_items() {
        for key in ITEM_KEYS {
            let tokens: TokenStream = format!("items({key} = \"x\")").parse().unwrap();
            if let Err(e) = keys(tokens) {
                assert!(
                    !e.starts_with("unknown"),
                    "`{key}` is listed for items but unknown: {e}"
                );
            }
        }
        let err = keys(quote!(items(default = 1))).err().unwrap_or_default();
        assert!(
            err.starts_with("unknown `items` key `default`; expected one of: minimum,"),
            "{err}"
        );
    }

    #[test]
    fn item_keys_are_checked_like_a_fields() {
        assert_eq!(
            check(quote!(items(minimum = 5, maximum = 1))),
            ["`maximum` must not be less than `minimum`"]
        );
        assert_eq!(
            check(quote!(int_or_string, items(min_length = 1))),
            [
                "`items(...)` needs the field's list schema, which `int_or_string` replaces; remove one of them"
            ]
        );
        assert_eq!(
            check(quote!(type = "string", items(min_length = 1))),
            [
                "`items` applies to lists (`type = \"array\"`), but the field has `type = \"string\"`"
            ]
        );
    }

    #[test]
    fn keys_must_fit_the_type() {
        assert!(check(quote!(type = "number", minimum = 0.5, maximum = 100)).is_empty());
        assert!(check(quote!(type = "object", embedded_resource, min_properties = 1)).is_empty());
        assert_eq!(
            check(quote!(type = "integer", minimum = 0.5)),
            ["`minimum` must be a whole number with `type = \"integer\"`"]
        );
        assert_eq!(
            check(quote!(type = "boolean", pattern = "x", min_properties = 1)),
            [
                "`pattern` applies to strings (`type = \"string\"`), but the field has `type = \"boolean\"`",
                "`min_properties` applies to objects (`type = \"object\"`), but the field has `type = \"boolean\"`",
            ]
        );
        assert_eq!(
            check(quote!(type = "string", embedded_resource)),
            ["`embedded_resource` is an object; it cannot be combined with another `type`"]
        );
    }

    #[test]
    fn item_keys_go_into_items() {
        let out = keys(quote!(max_items = 2, items(minimum = 1, enum = [1, 2])))
            .unwrap_or_else(|e| panic!("{e}"));
        let (items, _) = out.items.as_ref().unwrap_or_else(|| panic!("items"));
        let json = items.schema().json_object().to_string();
        assert!(json.contains("\"minimum\" : 1"), "{json}");
        assert!(json.contains("\"enum\" : [1 , 2]"), "{json}");
        let field = out.schema().attrs()[0].to_string();
        assert!(field.contains("\"maxItems\" = 2"), "{field}");
        assert!(!field.contains("minimum"), "{field}");
    }

    #[test]
    fn external_docs_need_a_request_uri() {
        for ok in ["https://example.com/docs", "/docs", "mailto:a@example.com"] {
            assert!(is_request_uri(ok), "{ok}");
        }
        for bad in [
            "",
            "example.com/docs",
            "docs",
            "https://example.com/a b",
            "1http://x",
            ":x",
        ] {
            assert!(!is_request_uri(bad), "{bad}");
        }
        let docs = keys(quote!(external_docs(url = "/docs")))
            .map(|k| k.schema().attrs()[0].to_string())
            .unwrap_or_default();
        assert!(
            docs.contains("\"externalDocs\" = { \"url\" : \"/docs\" }"),
            "{docs}"
        );
    }

    #[test]
    fn schemaless_sends_the_keys_through_its_transform() {
        let attrs = keys(quote!(schemaless, type = "object", preserve_unknown_fields))
            .map(|k| k.schema().attrs())
            .unwrap_or_default();
        assert_eq!(attrs.len(), 1);
        let text = attrs[0].to_string();
        assert!(text.contains("__schema :: schemaless"), "{text}");
        assert!(text.contains("\"type\" : \"object\""), "{text}");
        assert!(!text.contains("extend"), "{text}");
    }

    #[test]
    fn option_inner_finds_the_type() {
        let ty: Type = syn::parse_quote!(Option<i32>);
        assert!(option_inner(&ty).is_some());
        let ty: Type = syn::parse_quote!(Vec<i32>);
        assert!(option_inner(&ty).is_none());
    }
}
