//! `#[field(...)]`: the schema keys of one field of a `#[crd]` or `#[schema]`
//! type, and the schemars and serde attributes they become.

use darling::FromMeta;
use darling::ast::NestedMeta;
use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{
    Attribute, Expr, ExprArray, ExprLit, Field, GenericArgument, Lit, LitStr, Meta, PathArguments,
    Type,
};

use super::SchemaOut;
use super::type_keys::MAP_TYPES;
use super::validation;
use crate::args::{
    Errors, Number, bare_flag, count, error, expects, expr, from_items, key_span, number, one_of,
    parse_items, string, strings, value_tokens,
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
    "enum",
    "min_items",
    "max_items",
    "unique_items",
    "min_properties",
    "max_properties",
    "default",
    "nullable",
    "preserve_unknown_fields",
    "int_or_string",
    "embedded_resource",
    "list_type",
    "list_map_keys",
    "map_type",
    "validation",
    "max_desc_len",
    "optional",
    "required",
];

const LIST_TYPES: &[&str] = &["atomic", "set", "map"];

/// A number or count with the tokens of its value, so errors comparing two
/// keys can point at the value.
type WithTokens<T> = Option<(T, TokenStream)>;

/// The parsed `#[field(...)]` keys of one field. Flags keep the span of
/// their key for errors about combinations.
#[derive(FromMeta)]
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
    #[darling(default, with = |m| expr(m, "a value, e.g. `default = 3`, `default = \"text\"` or `default = MyEnum::Variant`").map(Some))]
    default: Option<Expr>,
    #[darling(default, with = |m| bare_flag(m).map(Some))]
    nullable: Option<Span>,
    #[darling(default, with = |m| bare_flag(m).map(Some))]
    preserve_unknown_fields: Option<Span>,
    #[darling(default, with = |m| bare_flag(m).map(Some))]
    int_or_string: Option<Span>,
    #[darling(default, with = |m| bare_flag(m).map(Some))]
    embedded_resource: Option<Span>,
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

fn parse_multiple_of(meta: &Meta) -> darling::Result<(Number, TokenStream)> {
    let (n, tokens) = number(meta)?;
    if n.value <= 0.0 {
        return Err(error(tokens.span(), "`multiple_of` must be greater than 0"));
    }
    Ok((n, tokens))
}

fn parse_list_map_keys(meta: &Meta) -> darling::Result<(Vec<LitStr>, Span)> {
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

    let out = keys.schema();
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
        let value = default_value(expr);
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

    field.attrs.extend(
        out.attrs()
            .into_iter()
            .chain(schemars_attrs)
            .chain(serde_attrs)
            .map(|t| -> Attribute { syn::parse_quote!(#t) }),
    );
    default_fn
}

/// `default = ...` as a Rust expression of the field's type: string literals
/// go through `StrDefault` (so `"x"` works for `String`, and is a clear
/// error for anything else), arrays become `vec![..]`,
/// anything else (numbers, `MyEnum::Variant`, calls) is used as written, so a
/// value of the wrong type is an ordinary type error at the literal.
fn default_value(expr: &Expr) -> TokenStream {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => {
            quote_spanned!(s.span()=> ::kubeforge::manifests::__schema::StrDefault::from_default_str(#s))
        }
        Expr::Array(ExprArray { elems, .. }) => {
            let elems = elems.iter().map(default_value);
            quote_spanned!(expr.span()=> ::std::vec![#(#elems),*])
        }
        other => quote!(#other),
    }
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
    fn option_inner_finds_the_type() {
        let ty: Type = syn::parse_quote!(Option<i32>);
        assert!(option_inner(&ty).is_some());
        let ty: Type = syn::parse_quote!(Vec<i32>);
        assert!(option_inner(&ty).is_none());
    }
}
