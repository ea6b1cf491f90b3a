//! `#[crd(...)]` and `#[schema(...)]`: kubeforge's equivalent of
//! controller-gen's CRD and validation markers (docs/markers.md).
//!
//! `#[crd]` does not build the CustomResourceDefinition itself: it checks its
//! arguments (so a mistake is reported at the offending token, with what is
//! allowed, instead of surfacing from inside kube-derive), then expands to
//! kube's `#[derive(CustomResource)]` with an equivalent `#[kube(...)]`
//! attribute. The CRD that `kubeforge manifests` writes is therefore exactly
//! the one `Kind::crd()` returns at run time. Field-level `#[field(...)]`
//! attributes become schemars 1 attributes (see [`schema`]).

mod args;
mod schema;

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote};
use syn::punctuated::Punctuated;
use syn::{Attribute, Data, DeriveInput, Expr, ExprLit, Fields, Ident, Lit, LitStr, Path, Token};

use args::{Arg, Errors, once, parse_args, unknown_key};
use schema::{SchemaOut, finish_rules, process_field, type_key, type_keys};

const CRD_KEYS: &[&str] = &[
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
    "validation",
    "preserve_unknown_fields",
    "map_type",
    "min_properties",
    "max_properties",
];

const PRINTCOLUMN_KEYS: &[&str] = &[
    "name",
    "type",
    "json_path",
    "description",
    "format",
    "priority",
];
const COLUMN_TYPES: &[&str] = &["integer", "number", "string", "boolean", "date"];
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
const SCALE_KEYS: &[&str] = &[
    "spec_replicas_path",
    "status_replicas_path",
    "label_selector_path",
];

/// Entry point of `#[crd(...)]`.
pub(crate) fn expand_crd(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut input: DeriveInput = match syn::parse2(item) {
        Ok(i) => i,
        Err(e) => return e.to_compile_error(),
    };
    let original = input.clone();
    match crd(args, &mut input) {
        Ok(out) => out,
        Err(e) => fallback(e, original),
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
        Err(e) => fallback(e, original),
    }
}

/// On error, emit the errors and the item without our attributes, so the
/// only messages the user sees are ours (not "cannot find attribute `field`").
fn fallback(e: syn::Error, mut input: DeriveInput) -> TokenStream {
    for_each_field(&mut input.data, |f, _| {
        f.attrs.retain(|a| !a.path().is_ident("field"))
    });
    let err = e.to_compile_error();
    quote!(#err #input)
}

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

/// Shared by both attributes: field processing, derives, crate paths.
struct Prepared {
    /// Attributes to put right after the user's own.
    container_attrs: Vec<TokenStream>,
    /// Derives the user didn't write.
    missing_derives: Vec<TokenStream>,
    default_fns: Vec<TokenStream>,
}

fn prepare(input: &mut DeriveInput, type_out: &SchemaOut, errors: &mut Errors) -> Prepared {
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

fn has_crate_attr(attrs: &[Attribute], name: &str) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident(name)
            && a.meta
                .require_list()
                .map(|l| l.tokens.to_string().contains("crate"))
                .unwrap_or(false)
    })
}

fn emit(
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

fn schema_type(args: TokenStream, input: &mut DeriveInput) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let mut out = SchemaOut::default();
    let mut rules = Vec::new();
    for arg in errors.ok(parse_args(args)).unwrap_or_default() {
        if !type_key(&arg, &mut out, &mut rules, &mut errors) {
            errors.push(unknown_key(&arg, "schema", type_keys()));
        }
    }
    finish_rules(&mut out, rules);
    let prepared = prepare(input, &out, &mut errors);
    errors.finish()?;
    Ok(emit(input, prepared, None, TokenStream::new()))
}

struct PrintColumn {
    name: LitStr,
    type_: LitStr,
    json_path: LitStr,
    description: Option<LitStr>,
    format: Option<LitStr>,
    priority: Option<u64>,
}

struct Scale {
    spec: LitStr,
    status: LitStr,
    selector: Option<LitStr>,
}

/// The parsed `#[crd(...)]` arguments.
#[derive(Default)]
struct CrdArgs {
    group: Option<LitStr>,
    version: Option<LitStr>,
    kind: Option<LitStr>,
    namespaced: Option<bool>,
    status: Option<Path>,
    plural: Option<LitStr>,
    singular: Option<LitStr>,
    shortnames: Vec<LitStr>,
    categories: Vec<LitStr>,
    printcolumns: Vec<PrintColumn>,
    scale: Option<(Scale, Span)>,
    selectable: Vec<LitStr>,
    labels: Vec<(LitStr, LitStr)>,
    annotations: Vec<(LitStr, LitStr)>,
    storage: Option<bool>,
    served: Option<bool>,
    deprecated: Option<Option<LitStr>>,
}

fn crd(args: TokenStream, input: &mut DeriveInput) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let mut a = CrdArgs::default();
    let mut out = SchemaOut::default();
    let mut rules = Vec::new();
    let parsed = match parse_args(args) {
        Ok(p) => p,
        Err(e) => {
            errors.push(e);
            Vec::new()
        }
    };
    for arg in &parsed {
        crd_key(arg, &mut a, &mut out, &mut rules, &mut errors);
    }
    finish_rules(&mut out, rules);

    let missing: Vec<&str> = [
        ("group", a.group.is_none()),
        ("version", a.version.is_none()),
        ("kind", a.kind.is_none()),
    ]
    .into_iter()
    .filter(|(_, m)| *m)
    .map(|(k, _)| k)
    .collect();
    if !missing.is_empty() && errors.is_empty() {
        errors.push(syn::Error::new(
            Span::call_site(),
            format!(
                "#[crd] is missing {}: write e.g. #[kubeforge::crd(group = \"apps.example.com\", version = \"v1\", kind = \"MyApp\")]",
                missing.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", ")
            ),
        ));
    }
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
    if let Some(kind) = &a.kind
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
    if let Some((_, span)) = &a.scale
        && a.status.is_none()
    {
        errors.push(syn::Error::new(
            *span,
            "`scale(...)` needs the status subresource: add `status = MyAppStatus`",
        ));
    }

    let prepared = prepare(input, &out, &mut errors);
    errors.finish()?;
    let (Some(group), Some(version), Some(kind)) = (&a.group, &a.version, &a.kind) else {
        // Unreachable: missing keys were reported above.
        return Err(syn::Error::new(
            Span::call_site(),
            "#[crd] needs group, version and kind",
        ));
    };

    let mut kube = vec![
        quote!(group = #group),
        quote!(version = #version),
        quote!(kind = #kind),
    ];
    if a.namespaced.unwrap_or(true) {
        kube.push(quote!(namespaced));
    }
    if let Some(status) = &a.status {
        let s = status.to_token_stream().to_string().replace(' ', "");
        kube.push(quote!(status = #s));
    }
    if let Some(p) = &a.plural {
        kube.push(quote!(plural = #p));
    }
    if let Some(s) = &a.singular {
        kube.push(quote!(singular = #s));
    }
    for s in &a.shortnames {
        kube.push(quote!(shortname = #s));
    }
    for c in &a.categories {
        kube.push(quote!(category = #c));
    }
    for p in &a.printcolumns {
        let PrintColumn {
            name,
            type_,
            json_path,
            description,
            format,
            priority,
        } = p;
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
        kube.push(quote!(printcolumn(#(#items),*)));
    }
    if let Some((s, _)) = &a.scale {
        let (spec, status) = (&s.spec, &s.status);
        let selector = s
            .selector
            .as_ref()
            .map(|l| quote!(, label_selector_path = #l));
        kube.push(
            quote!(scale(spec_replicas_path = #spec, status_replicas_path = #status #selector)),
        );
    }
    for s in &a.selectable {
        kube.push(quote!(selectable = #s));
    }
    for (k, v) in &a.labels {
        kube.push(quote!(label(#k, #v)));
    }
    for (k, v) in &a.annotations {
        kube.push(quote!(annotation(#k, #v)));
    }
    if let Some(false) = a.served {
        kube.push(quote!(served = false));
    }
    match &a.deprecated {
        Some(Some(w)) => kube.push(quote!(deprecated = #w)),
        Some(None) => kube.push(quote!(deprecated)),
        None => {}
    }
    // The kind's description is the Spec's doc comment, not kube's
    // "Auto-generated derived type" sentence (an empty doc means none).
    let doc = doc_text(&input.attrs);
    kube.push(quote!(doc = #doc));
    kube.push(quote!(crates(
        kube_core = "::kubeforge::kube::core",
        kube = "::kubeforge::kube",
        k8s_openapi = "::kubeforge::k8s_openapi",
        schemars = "::kubeforge::schemars",
        serde = "::kubeforge::__private::serde",
        serde_json = "::kubeforge::serde_json",
        std = "::std"
    )));

    let root = Ident::new(&kind.value(), kind.span());
    let storage = a.storage.unwrap_or(false);
    let version_str = version.value();
    let kind_str = kind.value();
    let register = quote! {
        ::kubeforge::__private::inventory::submit! {
            ::kubeforge::manifests::CrdVersion {
                kind: #kind_str,
                version: #version_str,
                storage: #storage,
                rust_type: ::core::concat!(::core::module_path!(), "::", #kind_str),
                crd: <#root as ::kubeforge::kube::core::crd::v1::CustomResourceExt>::crd,
            }
        }
    };
    let extra = quote!(#[kube(#(#kube),*)]);
    let derive = quote!(::kubeforge::kube::CustomResource);
    let item = emit(input, prepared, Some(derive), extra);
    Ok(quote!(#item #register))
}

fn crd_key(
    arg: &Arg,
    a: &mut CrdArgs,
    out: &mut SchemaOut,
    rules: &mut Vec<TokenStream>,
    errors: &mut Errors,
) {
    match arg.name().as_str() {
        "group" => {
            if let Some(s) = errors.ok(arg
                .string("group = \"apps.example.com\"")
                .and_then(check_group))
            {
                once(&mut a.group, arg, s, errors);
            }
        }
        "version" => {
            if let Some(s) = errors.ok(arg.string("version = \"v1\"").and_then(check_version)) {
                once(&mut a.version, arg, s, errors);
            }
        }
        "kind" => {
            if let Some(s) = errors.ok(arg.string("kind = \"MyApp\"").and_then(check_kind)) {
                once(&mut a.kind, arg, s, errors);
            }
        }
        "namespaced" => {
            if let Some(b) = errors.ok(arg.flag()) {
                once(&mut a.namespaced, arg, b, errors);
            }
        }
        "scope" => {
            if let Some(s) = errors.ok(arg.string("scope = \"Cluster\"")) {
                match s.value().as_str() {
                    "Namespaced" => once(&mut a.namespaced, arg, true, errors),
                    "Cluster" => once(&mut a.namespaced, arg, false, errors),
                    _ => errors.push(syn::Error::new(
                        s.span(),
                        "`scope` must be \"Namespaced\" or \"Cluster\"",
                    )),
                }
            }
        }
        "status" => {
            let path = match &arg.value {
                args::ArgValue::Expr(Expr::Path(p)) => Ok(p.path.clone()),
                args::ArgValue::Expr(Expr::Lit(ExprLit {
                    lit: Lit::Str(s), ..
                })) => s.parse::<Path>(),
                _ => Err(syn::Error::new_spanned(
                    arg.value_tokens(),
                    "`status` expects the status type, e.g. `status = MyAppStatus`",
                )),
            };
            if let Some(p) = errors.ok(path) {
                once(&mut a.status, arg, p, errors);
            }
        }
        "plural" => {
            if let Some(s) = errors.ok(arg
                .string("plural = \"myapps\"")
                .and_then(|s| check_label(s, "plural")))
            {
                once(&mut a.plural, arg, s, errors);
            }
        }
        "singular" => {
            if let Some(s) = errors.ok(arg
                .string("singular = \"myapp\"")
                .and_then(|s| check_label(s, "singular")))
            {
                once(&mut a.singular, arg, s, errors);
            }
        }
        "shortnames" => {
            if let Some(v) = errors.ok(arg.strings("shortnames = [\"ma\"]")) {
                for s in v {
                    if let Some(s) = errors.ok(check_label(s, "a short name")) {
                        a.shortnames.push(s);
                    }
                }
            }
        }
        "categories" => {
            if let Some(v) = errors.ok(arg.strings("categories = [\"all\"]")) {
                for s in v {
                    if let Some(s) = errors.ok(check_label(s, "a category")) {
                        a.categories.push(s);
                    }
                }
            }
        }
        "printcolumn" => {
            if let Some(p) = errors.ok(printcolumn(arg)) {
                a.printcolumns.push(p);
            }
        }
        "scale" => {
            if let Some(s) = errors.ok(scale(arg)) {
                once(&mut a.scale, arg, (s, arg.key.span()), errors);
            }
        }
        "selectable_field" => {
            if let Some(s) = errors.ok(arg
                .string("selectable_field = \".spec.image\"")
                .and_then(|s| json_path(s, "selectable_field")))
            {
                a.selectable.push(s);
            }
        }
        "label" => {
            if let Some(p) = errors.ok(arg.pair()) {
                a.labels.push(p);
            }
        }
        "annotation" => {
            if let Some(p) = errors.ok(arg.pair()) {
                a.annotations.push(p);
            }
        }
        "storage" => {
            if let Some(()) = errors.ok(arg.bare_flag()) {
                once(&mut a.storage, arg, true, errors);
            }
        }
        "served" => {
            if let Some(b) = errors.ok(arg.flag()) {
                once(&mut a.served, arg, b, errors);
            }
        }
        "deprecated" => {
            let w = match &arg.value {
                args::ArgValue::Flag => Ok(None),
                _ => arg.string("deprecated = \"use v1 instead\"").map(Some),
            };
            if let Some(w) = errors.ok(w) {
                once(&mut a.deprecated, arg, w, errors);
            }
        }
        _ => {
            if !type_key(arg, out, rules, errors) {
                errors.push(unknown_key(arg, "crd", CRD_KEYS));
            }
        }
    }
}

fn printcolumn(arg: &Arg) -> syn::Result<PrintColumn> {
    let nested = arg.nested(
        "printcolumn(name = \"Replicas\", type = \"integer\", json_path = \".spec.replicas\")",
    )?;
    let mut errors = Errors::default();
    let (mut name, mut type_, mut path, mut description, mut format, mut priority) =
        (None, None, None, None, None, None);
    for n in &nested {
        match n.name().as_str() {
            "name" => {
                if let Some(s) = errors.ok(n.string("name = \"Replicas\"")) {
                    once(&mut name, n, s, &mut errors);
                }
            }
            "type" => {
                if let Some(s) = errors.ok(n
                    .string("type = \"integer\"")
                    .and_then(|s| among(s, "type", COLUMN_TYPES)))
                {
                    once(&mut type_, n, s, &mut errors);
                }
            }
            "json_path" => {
                if let Some(s) = errors.ok(n
                    .string("json_path = \".spec.replicas\"")
                    .and_then(|s| json_path(s, "json_path")))
                {
                    once(&mut path, n, s, &mut errors);
                }
            }
            "description" => {
                if let Some(s) = errors.ok(n.string("description = \"Desired replicas\"")) {
                    once(&mut description, n, s, &mut errors);
                }
            }
            "format" => {
                if let Some(s) = errors.ok(n
                    .string("format = \"int32\"")
                    .and_then(|s| among(s, "format", COLUMN_FORMATS)))
                {
                    once(&mut format, n, s, &mut errors);
                }
            }
            "priority" => {
                if let Some(p) = errors.ok(n.count()) {
                    once(&mut priority, n, p, &mut errors);
                }
            }
            _ => errors.push(unknown_key(n, "printcolumn", PRINTCOLUMN_KEYS)),
        }
    }
    let missing: Vec<&str> = [
        ("name", name.is_none()),
        ("type", type_.is_none()),
        ("json_path", path.is_none()),
    ]
    .into_iter()
    .filter(|(_, m)| *m)
    .map(|(k, _)| k)
    .collect();
    if !missing.is_empty() && errors.is_empty() {
        errors.push(syn::Error::new(
            arg.key.span(),
            format!("`printcolumn(...)` is missing {}", missing.join(", ")),
        ));
    }
    errors.finish()?;
    match (name, type_, path) {
        (Some(name), Some(type_), Some(json_path)) => Ok(PrintColumn {
            name,
            type_,
            json_path,
            description,
            format,
            priority,
        }),
        _ => Err(syn::Error::new(
            arg.key.span(),
            "`printcolumn(...)` needs name, type and json_path",
        )),
    }
}

fn scale(arg: &Arg) -> syn::Result<Scale> {
    let nested = arg.nested("scale(spec_replicas_path = \".spec.replicas\", status_replicas_path = \".status.replicas\")")?;
    let mut errors = Errors::default();
    let (mut spec, mut status, mut selector) = (None, None, None);
    for n in &nested {
        let under = |s: LitStr, prefix: &str| -> syn::Result<LitStr> {
            if s.value().starts_with(prefix) && s.value().len() > prefix.len() {
                Ok(s)
            } else {
                Err(syn::Error::new(
                    s.span(),
                    format!(
                        "`{}` must be a JSON path under `{prefix}` (e.g. \"{prefix}replicas\")",
                        n.name()
                    ),
                ))
            }
        };
        match n.name().as_str() {
            "spec_replicas_path" => {
                if let Some(s) = errors.ok(n
                    .string("spec_replicas_path = \".spec.replicas\"")
                    .and_then(|s| under(s, ".spec.")))
                {
                    once(&mut spec, n, s, &mut errors);
                }
            }
            "status_replicas_path" => {
                if let Some(s) = errors.ok(n
                    .string("status_replicas_path = \".status.replicas\"")
                    .and_then(|s| under(s, ".status.")))
                {
                    once(&mut status, n, s, &mut errors);
                }
            }
            "label_selector_path" => {
                let check = |s: LitStr| {
                    if s.value().starts_with(".spec.") || s.value().starts_with(".status.") {
                        Ok(s)
                    } else {
                        Err(syn::Error::new(
                            s.span(),
                            "`label_selector_path` must be a JSON path under `.spec.` or `.status.`",
                        ))
                    }
                };
                if let Some(s) = errors.ok(n
                    .string("label_selector_path = \".status.selector\"")
                    .and_then(check))
                {
                    once(&mut selector, n, s, &mut errors);
                }
            }
            _ => errors.push(unknown_key(n, "scale", SCALE_KEYS)),
        }
    }
    if (spec.is_none() || status.is_none()) && errors.is_empty() {
        errors.push(syn::Error::new(
            arg.key.span(),
            "`scale(...)` needs both `spec_replicas_path` and `status_replicas_path`",
        ));
    }
    errors.finish()?;
    match (spec, status) {
        (Some(spec), Some(status)) => Ok(Scale {
            spec,
            status,
            selector,
        }),
        _ => Err(syn::Error::new(
            arg.key.span(),
            "`scale(...)` needs spec and status paths",
        )),
    }
}

fn among(s: LitStr, key: &str, allowed: &[&str]) -> syn::Result<LitStr> {
    if allowed.contains(&s.value().as_str()) {
        Ok(s)
    } else {
        Err(syn::Error::new(
            s.span(),
            format!(
                "`{key}` must be one of: {}",
                allowed
                    .iter()
                    .map(|a| format!("\"{a}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ))
    }
}

fn json_path(s: LitStr, key: &str) -> syn::Result<LitStr> {
    if s.value().starts_with('.') && s.value().len() > 1 {
        Ok(s)
    } else {
        Err(syn::Error::new(
            s.span(),
            format!("`{key}` must be a JSON path starting with `.`, e.g. \".spec.replicas\""),
        ))
    }
}

/// The API server wants a DNS subdomain with at least one dot.
fn check_group(s: LitStr) -> syn::Result<LitStr> {
    let v = s.value();
    let ok = v.contains('.') && v.len() <= 253 && v.split('.').all(is_dns_label);
    if ok {
        Ok(s)
    } else {
        Err(syn::Error::new(
            s.span(),
            "`group` must be a lowercase DNS name with at least one dot, e.g. \"apps.example.com\"",
        ))
    }
}

/// Kubernetes version names: v1, v2beta3, v1alpha1 (this is also their sort key).
fn check_version(s: LitStr) -> syn::Result<LitStr> {
    fn number(x: &str) -> bool {
        !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit()) && !x.starts_with('0')
    }
    let v = s.value();
    let ok = v.strip_prefix('v').is_some_and(|rest| {
        let split = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (major, tail) = rest.split_at(split);
        number(major)
            && (tail.is_empty()
                || tail.strip_prefix("alpha").is_some_and(number)
                || tail.strip_prefix("beta").is_some_and(number))
    });
    if ok {
        Ok(s)
    } else {
        Err(syn::Error::new(
            s.span(),
            "`version` must look like v1, v2beta1 or v1alpha2 (v<N>[alpha<N>|beta<N>])",
        ))
    }
}

fn check_kind(s: LitStr) -> syn::Result<LitStr> {
    let v = s.value();
    let ok = v.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && v.chars().all(|c| c.is_ascii_alphanumeric());
    if ok {
        Ok(s)
    } else {
        Err(syn::Error::new(
            s.span(),
            "`kind` must be an UpperCamelCase name of ASCII letters and digits, e.g. \"MyApp\"",
        ))
    }
}

fn check_label(s: LitStr, what: &str) -> syn::Result<LitStr> {
    if is_dns_label(&s.value()) {
        Ok(s)
    } else {
        Err(syn::Error::new(
            s.span(),
            format!("{what} must be a lowercase DNS label (a-z, 0-9, '-'), e.g. \"myapps\""),
        ))
    }
}

fn is_dns_label(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 63
        && v.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !v.starts_with('-')
        && !v.ends_with('-')
}

/// The doc comment as schemars would read it: lines joined by newlines, one
/// leading space per line dropped, trimmed.
fn doc_text(attrs: &[Attribute]) -> String {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| a.meta.require_name_value().ok())
        .filter_map(|nv| match &nv.value {
            Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) => {
                let v = s.value();
                Some(v.strip_prefix(' ').map(str::to_string).unwrap_or(v))
            }
            _ => None,
        })
        .collect();
    lines.join("\n").trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> LitStr {
        LitStr::new(s, Span::call_site())
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
}
