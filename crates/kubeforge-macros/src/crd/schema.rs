//! Schema keys (`#[field(...)]` on fields, and the type-level keys of
//! `#[crd]`/`#[schema]`) translated into schemars 1 attributes.
//!
//! Everything becomes `#[schemars(extend(...))]` (plain keys copied into the
//! field's schema, so integer bounds stay integers), a `#[schemars(transform)]`
//! for the two rewrites `extend` cannot express (int-or-string, embedded
//! resource), and serde attributes where the Rust side must agree with the API
//! server (defaults, optional fields).

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{
    Attribute, Expr, ExprArray, ExprLit, Field, GenericArgument, Ident, Lit, LitStr, PathArguments,
    Type,
};

use super::args::{Arg, Errors, Number, once, parse_args, unknown_key};

const TYPE_KEYS: &[&str] = &[
    "validation",
    "preserve_unknown_fields",
    "map_type",
    "min_properties",
    "max_properties",
];

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
    "optional",
    "required",
];

const VALIDATION_KEYS: &[&str] = &[
    "rule",
    "message",
    "message_expression",
    "reason",
    "field_path",
    "optional_old_self",
];

const REASONS: &[&str] = &[
    "FieldValueInvalid",
    "FieldValueForbidden",
    "FieldValueRequired",
    "FieldValueDuplicate",
];

/// What the keys of one field or type turn into.
#[derive(Default)]
pub(crate) struct SchemaOut {
    /// `"key" = <json tokens>` pairs for `#[schemars(extend(...))]`.
    extend: Vec<(String, TokenStream)>,
    /// Paths of transform functions in `kubeforge::manifests::__schema`.
    transforms: Vec<Ident>,
}

impl SchemaOut {
    fn set(&mut self, key: &str, value: TokenStream) {
        self.extend.push((key.to_string(), value));
    }

    /// The schemars attributes to put on the field or type.
    pub fn attrs(&self) -> Vec<TokenStream> {
        let mut out = Vec::new();
        if !self.extend.is_empty() {
            let pairs = self.extend.iter().map(|(k, v)| quote!(#k = #v));
            out.push(quote!(#[schemars(extend(#(#pairs),*))]));
        }
        for t in &self.transforms {
            out.push(quote!(#[schemars(transform = ::kubeforge::manifests::__schema::#t)]));
        }
        out
    }
}

/// Parses the type-level keys given to `#[crd(...)]` or `#[schema(...)]`.
pub(crate) fn type_key(
    arg: &Arg,
    out: &mut SchemaOut,
    rules: &mut Vec<TokenStream>,
    errors: &mut Errors,
) -> bool {
    match arg.name().as_str() {
        "validation" => {
            if let Some(r) = errors.ok(validation_rule(arg)) {
                rules.push(r);
            }
        }
        "preserve_unknown_fields" => {
            if let Some(()) = errors.ok(arg.bare_flag()) {
                out.set("x-kubernetes-preserve-unknown-fields", quote!(true));
            }
        }
        "map_type" => {
            if let Some(v) = errors.ok(one_of(arg, &["atomic", "granular"])) {
                out.set("x-kubernetes-map-type", quote!(#v));
            }
        }
        "min_properties" => {
            if let Some(n) = errors.ok(arg.count()) {
                out.set("minProperties", quote!(#n));
            }
        }
        "max_properties" => {
            if let Some(n) = errors.ok(arg.count()) {
                out.set("maxProperties", quote!(#n));
            }
        }
        _ => return false,
    }
    true
}

pub(crate) fn type_keys() -> &'static [&'static str] {
    TYPE_KEYS
}

/// Finishes type-level output: adds the collected CEL rules.
pub(crate) fn finish_rules(out: &mut SchemaOut, rules: Vec<TokenStream>) {
    if !rules.is_empty() {
        out.set("x-kubernetes-validations", quote!([#(#rules),*]));
    }
}

fn one_of(arg: &Arg, allowed: &[&str]) -> syn::Result<LitStr> {
    let example = format!("{} = \"{}\"", arg.name(), allowed[0]);
    let s = arg.string(&example)?;
    if allowed.contains(&s.value().as_str()) {
        Ok(s)
    } else {
        Err(syn::Error::new(
            s.span(),
            format!(
                "`{}` must be one of: {}",
                arg.name(),
                allowed
                    .iter()
                    .map(|a| format!("\"{a}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ))
    }
}

/// `validation(rule = "...", message = "...", ...)` or `validation = "rule"`,
/// as the JSON tokens of one `x-kubernetes-validations` entry.
pub(crate) fn validation_rule(arg: &Arg) -> syn::Result<TokenStream> {
    if let syn::Result::Ok(rule) = arg.string("validation = \"self.size() > 0\"") {
        check_nonempty(&rule, "rule")?;
        return Ok(quote!({ "rule": #rule }));
    }
    let nested =
        arg.nested("validation(rule = \"self.a <= self.b\", message = \"a must not exceed b\")")?;
    let mut errors = Errors::default();
    let mut rule = None;
    let mut entries = Vec::new();
    for a in &nested {
        match a.name().as_str() {
            "rule" => {
                if let Some(s) = errors.ok(a.string("rule = \"self > 0\"")) {
                    errors.ok(check_nonempty(&s, "rule"));
                    once(&mut rule, a, s, &mut errors);
                }
            }
            "message" => {
                if let Some(s) = errors.ok(a.string("message = \"must be positive\"")) {
                    if s.value().contains('\n') || s.value().trim().is_empty() {
                        errors.push(syn::Error::new(
                            s.span(),
                            "`message` must be non-empty and on one line (the API server rejects line breaks)",
                        ));
                    }
                    entries.push(quote!("message": #s));
                }
            }
            "message_expression" => {
                if let Some(s) =
                    errors.ok(a.string("message_expression = \"'got ' + string(self)\""))
                {
                    errors.ok(check_nonempty(&s, "message_expression"));
                    entries.push(quote!("messageExpression": #s));
                }
            }
            "reason" => {
                if let Some(s) = errors.ok(one_of(a, REASONS)) {
                    entries.push(quote!("reason": #s));
                }
            }
            "field_path" => {
                if let Some(s) = errors.ok(a.string("field_path = \".spec.replicas\"")) {
                    if !(s.value().starts_with('.') || s.value().starts_with('[')) {
                        errors.push(syn::Error::new(
                            s.span(),
                            "`field_path` is a JSON path relative to the value, starting with `.` (e.g. \".replicas\")",
                        ));
                    }
                    entries.push(quote!("fieldPath": #s));
                }
            }
            "optional_old_self" => {
                if let Some(b) = errors.ok(a.flag()) {
                    entries.push(quote!("optionalOldSelf": #b));
                }
            }
            _ => errors.push(unknown_key(a, "validation", VALIDATION_KEYS)),
        }
    }
    if rule.is_none() && errors.is_empty() {
        errors.push(syn::Error::new(
            arg.key.span(),
            "`validation(...)` needs a CEL `rule = \"...\"`",
        ));
    }
    errors.finish()?;
    let rule = rule.map(|r| quote!("rule": #r));
    Ok(quote!({ #rule #(, #entries)* }))
}

fn check_nonempty(s: &LitStr, what: &str) -> syn::Result<()> {
    if s.value().trim().is_empty() {
        Err(syn::Error::new(
            s.span(),
            format!("`{what}` must not be empty"),
        ))
    } else {
        Ok(())
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
    let mut args = Vec::new();
    for attr in &ours {
        match &attr.meta {
            syn::Meta::List(list) => {
                if let Some(a) = errors.ok(parse_args(list.tokens.clone())) {
                    args.extend(a);
                }
            }
            other => errors.push(syn::Error::new_spanned(
                other,
                "expected `#[field(key = value, ...)]`, e.g. `#[field(minimum = 1)]`",
            )),
        }
    }
    let keys = FieldKeys::parse(&args, errors);
    keys.check(errors);

    let mut out = SchemaOut::default();
    let mut serde_attrs = Vec::new();
    let mut schemars_attrs = Vec::new();
    let num = |out: &mut SchemaOut, key: &str, n: &Option<(Number, TokenStream)>| {
        if let Some((n, _)) = n {
            let t = &n.tokens;
            out.set(key, quote!(#t));
        }
    };
    num(&mut out, "minimum", &keys.minimum);
    num(&mut out, "maximum", &keys.maximum);
    // OpenAPI v3.0 (what CRDs use) spells exclusive bounds as a boolean next
    // to minimum/maximum, unlike JSON Schema 2020-12.
    if keys.exclusive_minimum.is_some() {
        num(&mut out, "minimum", &keys.exclusive_minimum);
        out.set("exclusiveMinimum", quote!(true));
    }
    if keys.exclusive_maximum.is_some() {
        num(&mut out, "maximum", &keys.exclusive_maximum);
        out.set("exclusiveMaximum", quote!(true));
    }
    num(&mut out, "multipleOf", &keys.multiple_of);
    let count = |out: &mut SchemaOut, key: &str, n: &Option<(u64, TokenStream)>| {
        if let Some((n, _)) = n {
            out.set(key, quote!(#n));
        }
    };
    count(&mut out, "minLength", &keys.min_length);
    count(&mut out, "maxLength", &keys.max_length);
    count(&mut out, "minItems", &keys.min_items);
    count(&mut out, "maxItems", &keys.max_items);
    count(&mut out, "minProperties", &keys.min_properties);
    count(&mut out, "maxProperties", &keys.max_properties);
    if let Some(p) = &keys.pattern {
        out.set("pattern", quote!(#p));
    }
    if let Some(f) = &keys.format {
        out.set("format", quote!(#f));
    }
    if let Some(values) = &keys.enum_values {
        out.set("enum", quote!([#(#values),*]));
    }
    if keys.nullable {
        out.set("nullable", quote!(true));
    }
    if keys.preserve_unknown_fields {
        out.set("x-kubernetes-preserve-unknown-fields", quote!(true));
    }
    // The API server rejects `uniqueItems: true` (quadratic to check); a set
    // list type is how Kubernetes says "unique items".
    let list_type = match (&keys.list_type, keys.unique_items.is_some()) {
        (Some(lt), _) => Some(quote!(#lt)),
        (None, true) => Some(quote!("set")),
        (None, false) => None,
    };
    if let Some(lt) = list_type {
        out.set("x-kubernetes-list-type", lt);
    }
    if let Some((k, _)) = &keys.list_map_keys {
        out.set("x-kubernetes-list-map-keys", quote!([#(#k),*]));
    }
    if let Some(m) = &keys.map_type {
        out.set("x-kubernetes-map-type", quote!(#m));
    }
    finish_rules(&mut out, keys.rules.clone());
    if keys.int_or_string {
        out.transforms.push(format_ident!("int_or_string"));
    }
    if keys.embedded_resource {
        out.transforms.push(format_ident!("embedded_resource"));
    }
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

    let generated = out.attrs();
    field.attrs.extend(
        generated
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
pub(crate) fn option_inner(ty: &Type) -> Option<&Type> {
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

/// The parsed `#[field(...)]` keys of one field. Each `Option<(value, tokens)>`
/// keeps the value tokens so cross-key errors can point at them.
#[derive(Default)]
struct FieldKeys {
    minimum: Option<(Number, TokenStream)>,
    maximum: Option<(Number, TokenStream)>,
    exclusive_minimum: Option<(Number, TokenStream)>,
    exclusive_maximum: Option<(Number, TokenStream)>,
    multiple_of: Option<(Number, TokenStream)>,
    min_length: Option<(u64, TokenStream)>,
    max_length: Option<(u64, TokenStream)>,
    min_items: Option<(u64, TokenStream)>,
    max_items: Option<(u64, TokenStream)>,
    min_properties: Option<(u64, TokenStream)>,
    max_properties: Option<(u64, TokenStream)>,
    pattern: Option<LitStr>,
    format: Option<LitStr>,
    enum_values: Option<Vec<Lit>>,
    unique_items: Option<Span>,
    default: Option<Expr>,
    nullable: bool,
    preserve_unknown_fields: bool,
    int_or_string: bool,
    embedded_resource: bool,
    list_type: Option<LitStr>,
    list_map_keys: Option<(Vec<LitStr>, Span)>,
    map_type: Option<LitStr>,
    rules: Vec<TokenStream>,
    optional: Option<Span>,
    required: Option<Span>,
}

impl FieldKeys {
    fn parse(args: &[Arg], errors: &mut Errors) -> Self {
        let mut k = FieldKeys::default();
        for arg in args {
            let name = arg.name();
            let tokens = arg.value_tokens();
            macro_rules! number {
                ($slot:ident) => {
                    if let Some(n) = errors.ok(arg.number()) {
                        once(&mut k.$slot, arg, (n, tokens), errors);
                    }
                };
            }
            macro_rules! count {
                ($slot:ident) => {
                    if let Some(n) = errors.ok(arg.count()) {
                        once(&mut k.$slot, arg, (n, tokens), errors);
                    }
                };
            }
            macro_rules! flag {
                ($slot:ident) => {
                    if let Some(()) = errors.ok(arg.bare_flag()) {
                        k.$slot = true;
                    }
                };
            }
            match name.as_str() {
                "minimum" => number!(minimum),
                "maximum" => number!(maximum),
                "exclusive_minimum" => number!(exclusive_minimum),
                "exclusive_maximum" => number!(exclusive_maximum),
                "multiple_of" => {
                    if let Some(n) = errors.ok(arg.number()) {
                        if n.value <= 0.0 {
                            errors.push(syn::Error::new_spanned(&tokens, "`multiple_of` must be greater than 0"));
                        }
                        once(&mut k.multiple_of, arg, (n, tokens), errors);
                    }
                }
                "min_length" => count!(min_length),
                "max_length" => count!(max_length),
                "min_items" => count!(min_items),
                "max_items" => count!(max_items),
                "min_properties" => count!(min_properties),
                "max_properties" => count!(max_properties),
                "pattern" => {
                    if let Some(s) = errors.ok(arg.string("pattern = \"^[a-z]+$\"")) {
                        once(&mut k.pattern, arg, s, errors);
                    }
                }
                "format" => {
                    if let Some(s) = errors.ok(arg.string("format = \"date-time\"")) {
                        once(&mut k.format, arg, s, errors);
                    }
                }
                "enum" => {
                    if let Some(v) = errors.ok(enum_values(arg)) {
                        once(&mut k.enum_values, arg, v, errors);
                    }
                }
                "unique_items" => {
                    if let Some(()) = errors.ok(arg.bare_flag()) {
                        k.unique_items = Some(arg.key.span());
                    }
                }
                "default" => {
                    if let Some(e) = errors.ok(arg.expr("a value, e.g. `default = 3`, `default = \"text\"` or `default = MyEnum::Variant`")) {
                        once(&mut k.default, arg, e.clone(), errors);
                    }
                }
                "nullable" => flag!(nullable),
                "preserve_unknown_fields" => flag!(preserve_unknown_fields),
                "int_or_string" => flag!(int_or_string),
                "embedded_resource" => flag!(embedded_resource),
                "list_type" => {
                    if let Some(s) = errors.ok(one_of(arg, &["atomic", "set", "map"])) {
                        once(&mut k.list_type, arg, s, errors);
                    }
                }
                "list_map_keys" => {
                    if let Some(v) = errors.ok(arg.strings("list_map_keys = [\"name\"]")) {
                        if v.is_empty() {
                            errors.push(syn::Error::new_spanned(&tokens, "`list_map_keys` needs at least one key"));
                        }
                        once(&mut k.list_map_keys, arg, (v, arg.key.span()), errors);
                    }
                }
                "map_type" => {
                    if let Some(s) = errors.ok(one_of(arg, &["atomic", "granular"])) {
                        once(&mut k.map_type, arg, s, errors);
                    }
                }
                "validation" => {
                    if let Some(r) = errors.ok(validation_rule(arg)) {
                        k.rules.push(r);
                    }
                }
                "optional" => {
                    if let Some(()) = errors.ok(arg.bare_flag()) {
                        k.optional = Some(arg.key.span());
                    }
                }
                "required" => {
                    if let Some(()) = errors.ok(arg.bare_flag()) {
                        k.required = Some(arg.key.span());
                    }
                }
                _ => errors.push(unknown_key(arg, "field", FIELD_KEYS)),
            }
        }
        k
    }

    /// Checks between keys: contradictions the API server would reject or
    /// that would silently make Rust and the schema disagree.
    fn check(&self, errors: &mut Errors) {
        fn order<T: PartialOrd + Copy>(
            lo: &Option<(T, TokenStream)>,
            hi: &Option<(T, TokenStream)>,
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
        let value =
            |n: &Option<(Number, TokenStream)>| n.as_ref().map(|(n, t)| (n.value, t.clone()));
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
        if self.int_or_string && self.embedded_resource {
            errors.push(syn::Error::new(
                Span::call_site(),
                "`int_or_string` and `embedded_resource` cannot be combined",
            ));
        }
    }
}

fn enum_values(arg: &Arg) -> syn::Result<Vec<Lit>> {
    let err = || {
        syn::Error::new_spanned(
            arg.value_tokens(),
            "`enum` expects a list of literals, e.g. `enum = [\"Always\", \"Never\"]` (for a Rust enum, derive its schema with #[kubeforge::schema] instead)",
        )
    };
    let expr = arg.expr("a list of literals").map_err(|_| err())?;
    let Expr::Array(ExprArray { elems, .. }) = expr else {
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
