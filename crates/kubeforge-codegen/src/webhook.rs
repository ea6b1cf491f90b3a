//! The `#[webhook(...)]` attribute: its arguments and the
//! `config/webhook/manifests.yaml` they produce.
//!
//! Kubebuilder users know `// +kubebuilder:webhook:path=...,mutating=...`
//! markers; `#[webhook(path = "...", mutating = true, ...)]` is the same thing
//! as a Rust attribute, with the keys in snake case. Like `#[rbac]`, the macro
//! validates the arguments (so mistakes show up in the editor) and
//! `kubeforge manifests` reads the attributes from the sources
//! ([`crate::scan`]) with the same parser, then writes [`render_manifests`]:
//! what controller-gen writes for the same markers.
//!
//! Validation is stricter than controller-gen's where controller-gen passes a
//! value through for the API server to reject (an unknown verb, a
//! `timeoutSeconds` of 60, a webhook name with fewer than three segments):
//! a compile error beats a failed `kubectl apply`.

use crate::names::{is_fully_qualified_name, is_version};
use crate::rbac::explain_keys;
use darling::FromMeta;
use darling::ast::NestedMeta;
use proc_macro2::{Span, TokenStream};
use serde_json::{Value, json};
use syn::spanned::Spanned;
use syn::{Expr, ExprArray, ExprLit, Lit, Meta};

/// One `#[webhook(...)]` attribute, validated, with every value already in
/// the form the API server takes (`Fail`, `CREATE`, `""` for `core`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookArgs {
    /// The URL path the API server calls, e.g. `/mutate-apps-example-com-v1-myapp`.
    pub path: String,
    /// A MutatingWebhookConfiguration entry when true, a validating one when false.
    pub mutating: bool,
    /// `Fail` or `Ignore`: what the API server does when the webhook cannot
    /// be reached.
    pub failure_policy: String,
    /// `None` or `NoneOnDryRun`.
    pub side_effects: String,
    /// API groups; `""` is the core group (`core` is turned into `""`, as
    /// controller-gen does).
    pub groups: Vec<String>,
    pub resources: Vec<String>,
    /// Operations, upper case: `CREATE`, `UPDATE`, `DELETE`, `CONNECT` or `*`.
    pub verbs: Vec<String>,
    pub versions: Vec<String>,
    /// The webhook's name, unique among all webhooks (`mmyapp-v1.kb.io`).
    pub name: String,
    /// AdmissionReview versions the webhook understands, in order of preference.
    pub admission_review_versions: Vec<String>,
    /// `Exact` or `Equivalent`; the API server defaults to `Equivalent`.
    pub match_policy: Option<String>,
    /// `Never` or `IfNeeded` (mutating webhooks only).
    pub reinvocation_policy: Option<String>,
    /// 1 to 30; the API server defaults to 10.
    pub timeout_seconds: Option<u32>,
}

/// Every key of `#[webhook(...)]`, in the order error messages list them (a
/// test checks the parser accepts each).
pub const KEYS: &[&str] = &[
    "path",
    "mutating",
    "failure_policy",
    "side_effects",
    "groups",
    "resources",
    "verbs",
    "versions",
    "name",
    "admission_review_versions",
    "match_policy",
    "reinvocation_policy",
    "timeout_seconds",
];

/// The operations a webhook rule may name (besides `*`), lower case as
/// written in the attribute.
pub const VERBS: &[&str] = &["create", "update", "delete", "connect"];

/// The AdmissionReview versions the API server can send.
pub const ADMISSION_REVIEW_VERSIONS: &[&str] = &["v1", "v1beta1"];

/// A complete attribute, for error messages about its shape.
const EXAMPLE: &str = "`path = \"/mutate-apps-example-com-v1-myapp\", mutating = true, \
     failure_policy = \"fail\", side_effects = \"None\", groups = [\"apps.example.com\"], \
     resources = [\"myapps\"], verbs = [\"create\", \"update\"], versions = [\"v1\"], \
     name = \"mmyapp-v1.kb.io\", admission_review_versions = [\"v1\"]`";

/// The keys that must be given, with an example value each.
const REQUIRED: &[(&str, &str)] = &[
    ("path", "\"/mutate-apps-example-com-v1-myapp\""),
    ("mutating", "true"),
    ("side_effects", "\"None\""),
    ("groups", "[\"apps.example.com\"]"),
    ("resources", "[\"myapps\"]"),
    ("verbs", "[\"create\", \"update\"]"),
    ("versions", "[\"v1\"]"),
    ("name", "\"mmyapp-v1.kb.io\""),
    ("admission_review_versions", "[\"v1\"]"),
];

impl WebhookArgs {
    /// Parses and validates the arguments of `#[webhook(...)]`. List keys
    /// also take a single string (`verbs = "create"`).
    ///
    /// Errors carry the span of the offending token and say what is allowed;
    /// a misspelled key gets a "did you mean" suggestion. The first mistake
    /// in source order is reported (`to_string` and `span` give it).
    pub fn parse(args: TokenStream) -> syn::Result<WebhookArgs> {
        let whole = args.clone();
        let items = NestedMeta::parse_meta_list(args).map_err(|e| {
            syn::Error::new(
                e.span(),
                format!(
                    "{e}; write the arguments as `key = value` separated by commas, e.g. {EXAMPLE}"
                ),
            )
        })?;
        let keys = Keys::from_list(&items).map_err(|e| explain_keys(e, KEYS, "#[webhook]"))?;
        build(keys, &whole)
    }
}

/// The keys as darling reads them; every value is read and checked in
/// [`build`], so errors can say what each key takes.
#[derive(FromMeta)]
struct Keys {
    #[darling(default)]
    path: Option<Arg>,
    #[darling(default)]
    mutating: Option<Arg>,
    #[darling(default)]
    failure_policy: Option<Arg>,
    #[darling(default)]
    side_effects: Option<Arg>,
    #[darling(default)]
    groups: Option<Arg>,
    #[darling(default)]
    resources: Option<Arg>,
    #[darling(default)]
    verbs: Option<Arg>,
    #[darling(default)]
    versions: Option<Arg>,
    #[darling(default)]
    name: Option<Arg>,
    #[darling(default)]
    admission_review_versions: Option<Arg>,
    #[darling(default)]
    match_policy: Option<Arg>,
    #[darling(default)]
    reinvocation_policy: Option<Arg>,
    #[darling(default)]
    timeout_seconds: Option<Arg>,
}

/// One `key = value`, not yet read.
struct Arg {
    name: String,
    /// The key, for errors about the key as a whole.
    key: Span,
    value: Expr,
}

impl FromMeta for Arg {
    fn from_meta(item: &Meta) -> darling::Result<Self> {
        let name = darling::util::path_to_string(item.path());
        match item {
            Meta::NameValue(nv) => Ok(Arg {
                key: nv.path.span(),
                name,
                value: nv.value.clone(),
            }),
            _ => Err(darling::Error::custom(format!(
                "expected `=` after `{name}`, e.g. `{name} = {}`",
                example(&name)
            ))
            .with_span(item)),
        }
    }
}

/// An example value of `key`, for error messages.
fn example(key: &str) -> &'static str {
    match key {
        "failure_policy" => "\"fail\"",
        "match_policy" => "\"Exact\"",
        "reinvocation_policy" => "\"IfNeeded\"",
        "timeout_seconds" => "10",
        _ => REQUIRED
            .iter()
            .find(|(k, _)| *k == key)
            .map_or("\"...\"", |(_, v)| v),
    }
}

impl Arg {
    fn error(&self, span: Span, what: &str) -> syn::Error {
        syn::Error::new(
            span,
            format!(
                "`{}` takes {what}, e.g. `{} = {}`",
                self.name,
                self.name,
                example(&self.name)
            ),
        )
    }

    fn string(&self) -> syn::Result<(String, Span)> {
        match &self.value {
            Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) => Ok((s.value(), s.span())),
            other => Err(self.error(other.span(), "a string")),
        }
    }

    /// A string or a non-empty list of strings.
    fn strings(&self) -> syn::Result<Vec<(String, Span)>> {
        let what = "a string or a list of strings";
        let string = |e: &Expr| match e {
            Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) => Ok((s.value(), s.span())),
            other => Err(self.error(other.span(), what)),
        };
        match &self.value {
            Expr::Array(ExprArray { elems, .. }) if elems.is_empty() => Err(syn::Error::new(
                self.value.span(),
                format!(
                    "`{}` must not be empty, e.g. `{} = {}`",
                    self.name,
                    self.name,
                    example(&self.name)
                ),
            )),
            Expr::Array(array) => array.elems.iter().map(string).collect(),
            single => Ok(vec![string(single)?]),
        }
    }

    fn boolean(&self) -> syn::Result<bool> {
        match &self.value {
            Expr::Lit(ExprLit {
                lit: Lit::Bool(b), ..
            }) => Ok(b.value),
            other => Err(self.error(other.span(), "`true` or `false`")),
        }
    }

    fn integer(&self) -> syn::Result<(u64, Span)> {
        match &self.value {
            Expr::Lit(ExprLit {
                lit: Lit::Int(i), ..
            }) => {
                let value = i
                    .base10_parse::<u64>()
                    .map_err(|_| self.error(i.span(), "a whole number"))?;
                Ok((value, i.span()))
            }
            other => Err(self.error(other.span(), "a whole number")),
        }
    }

    /// A string that must be one of `allowed` (compared ignoring case when
    /// `any_case`), returned as spelled in `allowed`.
    fn choice(&self, allowed: &[&'static str], any_case: bool) -> syn::Result<&'static str> {
        let (value, span) = self.string()?;
        allowed
            .iter()
            .find(|a| {
                if any_case {
                    a.eq_ignore_ascii_case(&value)
                } else {
                    **a == value
                }
            })
            .copied()
            .ok_or_else(|| {
                let list = allowed
                    .iter()
                    .map(|a| format!("\"{a}\""))
                    .collect::<Vec<_>>()
                    .join(", ");
                syn::Error::new(
                    span,
                    format!(
                        "invalid `{}` \"{value}\"; expected one of: {list}",
                        self.name
                    ),
                )
            })
    }
}

fn build(keys: Keys, whole: &TokenStream) -> syn::Result<WebhookArgs> {
    let given = [
        ("path", keys.path.is_some()),
        ("mutating", keys.mutating.is_some()),
        ("side_effects", keys.side_effects.is_some()),
        ("groups", keys.groups.is_some()),
        ("resources", keys.resources.is_some()),
        ("verbs", keys.verbs.is_some()),
        ("versions", keys.versions.is_some()),
        ("name", keys.name.is_some()),
        (
            "admission_review_versions",
            keys.admission_review_versions.is_some(),
        ),
    ];
    let missing: Vec<String> = given
        .iter()
        .filter(|(_, is_given)| !is_given)
        .map(|(key, _)| format!("{key} = {}", example(key)))
        .collect();
    let (
        Some(path),
        Some(mutating),
        Some(side_effects),
        Some(groups),
        Some(resources),
        Some(verbs),
        Some(versions),
        Some(name),
        Some(admission_review_versions),
    ) = (
        &keys.path,
        &keys.mutating,
        &keys.side_effects,
        &keys.groups,
        &keys.resources,
        &keys.verbs,
        &keys.versions,
        &keys.name,
        &keys.admission_review_versions,
    )
    else {
        let message = format!("missing required keys: `{}`", missing.join("`, `"));
        return Err(if whole.is_empty() {
            syn::Error::new(Span::call_site(), message)
        } else {
            syn::Error::new_spanned(whole, message)
        });
    };

    let (path, path_span) = path.string()?;
    check_path(&path, path_span)?;
    let mutating_value = mutating.boolean()?;
    let failure_policy = match &keys.failure_policy {
        Some(arg) => arg.choice(&["Fail", "Ignore"], true)?,
        None => "Fail",
    }
    .to_string();
    let side_effects = side_effects
        .choice(&["None", "NoneOnDryRun"], false)
        .map_err(|e| {
            syn::Error::new(
                e.span(),
                format!(
                    "{e} (admissionregistration.k8s.io/v1 refuses `Some` and `Unknown`: \
                     the API server could not dry-run requests through the webhook)"
                ),
            )
        })?
        .to_string();

    let groups = groups
        .strings()?
        .into_iter()
        .map(|(group, span)| check_group(group, span))
        .collect::<syn::Result<Vec<_>>>()?;
    let resources = resources.strings()?;
    for (resource, span) in &resources {
        check_resource(resource, *span)?;
    }
    let verbs = verbs
        .strings()?
        .into_iter()
        .map(|(verb, span)| check_verb(&verb, span))
        .collect::<syn::Result<Vec<_>>>()?;
    let versions = versions.strings()?;
    for (version, span) in &versions {
        check_version(version, *span)?;
    }
    let (groups, resources, verbs, versions) = (
        only_star(groups, "groups")?,
        only_star(resources, "resources")?,
        only_star(verbs, "verbs")?,
        only_star(versions, "versions")?,
    );

    let (name, name_span) = name.string()?;
    if !is_fully_qualified_name(&name) {
        return Err(syn::Error::new(
            name_span,
            format!(
                "invalid webhook name `{name}`; expected a lower-case DNS name with at least three \
                 dot-separated parts, e.g. `mmyapp-v1.kb.io`"
            ),
        ));
    }
    let admission_review_versions = check_review_versions(
        admission_review_versions.strings()?,
        admission_review_versions.key,
    )?;

    let match_policy = match &keys.match_policy {
        Some(arg) => Some(arg.choice(&["Exact", "Equivalent"], false)?.to_string()),
        None => None,
    };
    let reinvocation_policy = match &keys.reinvocation_policy {
        Some(arg) if !mutating_value => {
            return Err(syn::Error::new(
                arg.key,
                "`reinvocation_policy` applies to mutating webhooks only; remove it or set `mutating = true`",
            ));
        }
        Some(arg) => Some(arg.choice(&["Never", "IfNeeded"], false)?.to_string()),
        None => None,
    };
    let timeout_seconds = match &keys.timeout_seconds {
        Some(arg) => {
            let (seconds, span) = arg.integer()?;
            match u32::try_from(seconds) {
                Ok(s @ 1..=30) => Some(s),
                _ => {
                    return Err(syn::Error::new(
                        span,
                        format!(
                            "invalid `timeout_seconds` {seconds}; expected 1 to 30 (the API server's limit)"
                        ),
                    ));
                }
            }
        }
        None => None,
    };

    Ok(WebhookArgs {
        path,
        mutating: mutating_value,
        failure_policy,
        side_effects,
        groups: values(groups),
        resources: values(resources),
        verbs: values(verbs),
        versions: values(versions),
        name,
        admission_review_versions,
        match_policy,
        reinvocation_policy,
        timeout_seconds,
    })
}

fn values(list: Vec<(String, Span)>) -> Vec<String> {
    list.into_iter().map(|(v, _)| v).collect()
}

/// An absolute URL path, as the API server requires of a service path: it
/// starts with `/`, and has no empty, `.` or `..` segments, no query or
/// fragment and no spaces.
fn check_path(path: &str, span: Span) -> syn::Result<()> {
    let ok = path.starts_with('/')
        && !path
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '?' || c == '#')
        && (path == "/"
            || path[1..]
                .split('/')
                .all(|segment| !segment.is_empty() && segment != "." && segment != ".."));
    if ok {
        Ok(())
    } else {
        Err(syn::Error::new(
            span,
            format!(
                "invalid path `{path}`; expected an absolute URL path such as \
                 `/mutate-apps-example-com-v1-myapp` (starts with `/`; no spaces, `?`, `#`, \
                 empty, `.` or `..` segments)"
            ),
        ))
    }
}

/// An API group (see [`crate::names::check_rule_group`]); `"core"` becomes
/// `""`, as the API server spells the core group.
fn check_group(group: String, span: Span) -> syn::Result<(String, Span)> {
    crate::names::check_rule_group(&group).map_err(|message| syn::Error::new(span, message))?;
    Ok((
        if group == "core" {
            String::new()
        } else {
            group
        },
        span,
    ))
}

fn check_resource(resource: &str, span: Span) -> syn::Result<()> {
    crate::names::check_rule_resource(resource).map_err(|message| syn::Error::new(span, message))
}

/// One of [`VERBS`] or `*`, in any case; returned upper case, as the API
/// takes operations.
fn check_verb(verb: &str, span: Span) -> syn::Result<(String, Span)> {
    if verb == "*" || VERBS.iter().any(|v| v.eq_ignore_ascii_case(verb)) {
        Ok((verb.to_ascii_uppercase(), span))
    } else {
        Err(syn::Error::new(
            span,
            format!(
                "unknown verb `{verb}`; expected one of: {}, *",
                VERBS.join(", ")
            ),
        ))
    }
}

fn check_version(version: &str, span: Span) -> syn::Result<()> {
    if version == "*" || is_version(version) {
        Ok(())
    } else {
        Err(syn::Error::new(
            span,
            format!(
                "invalid version `{version}`; expected an API version such as `v1`, `v1alpha1` \
                 or `v2beta3`, or `*`"
            ),
        ))
    }
}

/// The API server refuses `*` next to other values in a rule's list.
fn only_star(list: Vec<(String, Span)>, key: &str) -> syn::Result<Vec<(String, Span)>> {
    if list.len() > 1
        && let Some((_, span)) = list.iter().find(|(v, _)| v == "*")
    {
        return Err(syn::Error::new(
            *span,
            format!("`*` in `{key}` already matches everything; it must be the only value"),
        ));
    }
    Ok(list)
}

/// Each of [`ADMISSION_REVIEW_VERSIONS`], at most once, and `v1` among them:
/// kubeforge's webhook server answers `admission.k8s.io/v1` reviews.
fn check_review_versions(list: Vec<(String, Span)>, key: Span) -> syn::Result<Vec<String>> {
    for (i, (version, span)) in list.iter().enumerate() {
        if !ADMISSION_REVIEW_VERSIONS.contains(&version.as_str()) {
            return Err(syn::Error::new(
                *span,
                format!(
                    "unknown AdmissionReview version `{version}`; expected one of: {}",
                    ADMISSION_REVIEW_VERSIONS.join(", ")
                ),
            ));
        }
        if list[..i].iter().any(|(v, _)| v == version) {
            return Err(syn::Error::new(
                *span,
                format!("`{version}` is listed twice in `admission_review_versions`"),
            ));
        }
    }
    if !list.iter().any(|(v, _)| v == "v1") {
        return Err(syn::Error::new(
            key,
            "`admission_review_versions` must include \"v1\": kubeforge's webhook server answers admission.k8s.io/v1 reviews",
        ));
    }
    Ok(values(list))
}

/// Renders `config/webhook/manifests.yaml` as controller-gen does: the
/// MutatingWebhookConfiguration `mutating-webhook-configuration`, then the
/// ValidatingWebhookConfiguration `validating-webhook-configuration`, each
/// only when it has webhooks, webhooks sorted by name, every webhook calling
/// the Service `webhook-service` in namespace `system` (kustomize renames
/// both at deploy time). `None` when there are no webhooks at all.
///
/// Names are expected to be unique ([`crate::scan::Attributes::webhook_manifests`]
/// checks that, naming the files).
pub fn render_manifests(webhooks: &[WebhookArgs]) -> Option<String> {
    let mut docs = Vec::new();
    for (mutating, kind, name) in [
        (
            true,
            "MutatingWebhookConfiguration",
            "mutating-webhook-configuration",
        ),
        (
            false,
            "ValidatingWebhookConfiguration",
            "validating-webhook-configuration",
        ),
    ] {
        let mut these: Vec<&WebhookArgs> =
            webhooks.iter().filter(|w| w.mutating == mutating).collect();
        if these.is_empty() {
            continue;
        }
        these.sort_by(|a, b| a.name.cmp(&b.name));
        docs.push(json!({
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": kind,
            "metadata": { "name": name },
            "webhooks": these.into_iter().map(webhook_json).collect::<Vec<_>>(),
        }));
    }
    (!docs.is_empty()).then(|| crate::yaml::to_documents(&docs))
}

/// One entry of `webhooks:`, as controller-gen builds it.
fn webhook_json(w: &WebhookArgs) -> Value {
    let mut out = json!({
        "admissionReviewVersions": w.admission_review_versions,
        "clientConfig": {
            "service": {
                "name": "webhook-service",
                "namespace": "system",
                "path": w.path,
            },
        },
        "failurePolicy": w.failure_policy,
        "name": w.name,
        "rules": [{
            "apiGroups": w.groups,
            "apiVersions": w.versions,
            "operations": w.verbs,
            "resources": w.resources,
        }],
        "sideEffects": w.side_effects,
    });
    if let Value::Object(map) = &mut out {
        if let Some(policy) = &w.match_policy {
            map.insert("matchPolicy".into(), json!(policy));
        }
        if let Some(policy) = &w.reinvocation_policy {
            map.insert("reinvocationPolicy".into(), json!(policy));
        }
        if let Some(seconds) = w.timeout_seconds {
            map.insert("timeoutSeconds".into(), json!(seconds));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn parse_err(tokens: TokenStream) -> String {
        match WebhookArgs::parse(tokens) {
            Ok(w) => panic!("expected an error, got {w:?}"),
            Err(e) => e.to_string(),
        }
    }

    /// A complete, valid attribute with `extra` keys after it (darling
    /// rejects a repeated key, so tests override by leaving a key out via
    /// [`without`]).
    fn full(extra: TokenStream) -> TokenStream {
        quote!(
            path = "/mutate-apps-example-com-v1-myapp",
            mutating = true,
            side_effects = "None",
            groups = ["apps.example.com"],
            resources = ["myapps"],
            verbs = ["create", "update"],
            versions = ["v1"],
            name = "mmyapp-v1.kb.io",
            admission_review_versions = ["v1"],
            #extra
        )
    }

    /// [`full`] without `key`, with `replacement` appended.
    fn without(key: &str, replacement: TokenStream) -> TokenStream {
        let text = full(quote!()).to_string();
        let kept: Vec<&str> = split_top_level(&text)
            .into_iter()
            .filter(|item| !item.trim_start().starts_with(&format!("{key} =")))
            .collect();
        let mut out: TokenStream = kept.join(",").parse().unwrap();
        if !replacement.is_empty() {
            out.extend(quote!(, #replacement));
        }
        out
    }

    /// Splits `a = 1, b = [x, y]` at the commas outside brackets.
    fn split_top_level(text: &str) -> Vec<&str> {
        let (mut depth, mut start, mut out) = (0, 0, Vec::new());
        for (i, c) in text.char_indices() {
            match c {
                '[' => depth += 1,
                ']' => depth -= 1,
                ',' if depth == 0 => {
                    out.push(&text[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        out.push(&text[start..]);
        out.into_iter().filter(|s| !s.trim().is_empty()).collect()
    }

    fn with(key: &str, value: TokenStream) -> syn::Result<WebhookArgs> {
        let key: proc_macro2::Ident = syn::parse_str(key).unwrap();
        WebhookArgs::parse(without(&key.to_string(), quote!(#key = #value)))
    }

    fn with_err(key: &str, value: TokenStream) -> String {
        match with(key, value) {
            Ok(w) => panic!("expected an error, got {w:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn parses_a_kubebuilder_style_attribute_into_api_values() {
        let w = WebhookArgs::parse(full(quote!(failure_policy = "fail"))).unwrap();
        assert_eq!(
            w,
            WebhookArgs {
                path: "/mutate-apps-example-com-v1-myapp".into(),
                mutating: true,
                failure_policy: "Fail".into(),
                side_effects: "None".into(),
                groups: vec!["apps.example.com".into()],
                resources: vec!["myapps".into()],
                verbs: vec!["CREATE".into(), "UPDATE".into()],
                versions: vec!["v1".into()],
                name: "mmyapp-v1.kb.io".into(),
                admission_review_versions: vec!["v1".into()],
                match_policy: None,
                reinvocation_policy: None,
                timeout_seconds: None,
            }
        );
    }

    #[test]
    fn optional_keys_and_single_strings() {
        let w = WebhookArgs::parse(full(quote!(
            failure_policy = "Ignore",
            match_policy = "Equivalent",
            reinvocation_policy = "IfNeeded",
            timeout_seconds = 30
        )))
        .unwrap();
        assert_eq!(w.failure_policy, "Ignore");
        assert_eq!(w.match_policy.as_deref(), Some("Equivalent"));
        assert_eq!(w.reinvocation_policy.as_deref(), Some("IfNeeded"));
        assert_eq!(w.timeout_seconds, Some(30));

        let w = with("verbs", quote!("Delete")).unwrap();
        assert_eq!(w.verbs, ["DELETE"]);
        let w = with("verbs", quote!("*")).unwrap();
        assert_eq!(w.verbs, ["*"]);
        let w = with("groups", quote!(["core", "", "apps"])).unwrap();
        assert_eq!(w.groups, ["", "", "apps"]);
        let w = with("resources", quote!(["pods", "pods/status", "*/scale"])).unwrap();
        assert_eq!(w.resources, ["pods", "pods/status", "*/scale"]);
        let w = with("admission_review_versions", quote!(["v1", "v1beta1"])).unwrap();
        assert_eq!(w.admission_review_versions, ["v1", "v1beta1"]);
        let w = with("mutating", quote!(false)).unwrap();
        assert!(!w.mutating);
        let w = with("side_effects", quote!("NoneOnDryRun")).unwrap();
        assert_eq!(w.side_effects, "NoneOnDryRun");
    }

    #[test]
    fn every_listed_key_is_accepted() {
        for key in KEYS {
            let tokens: TokenStream = format!("{key} = \"x\"").parse().unwrap();
            let items = NestedMeta::parse_meta_list(tokens).unwrap();
            if let Err(e) = Keys::from_list(&items) {
                panic!("`{key}` is listed but rejected: {e}");
            }
        }
        for (key, _) in REQUIRED {
            assert!(KEYS.contains(key), "{key}");
        }
    }

    #[test]
    fn unknown_and_duplicate_keys() {
        assert_eq!(
            parse_err(full(quote!(failurePolicy = "fail"))),
            "unknown key `failurePolicy` (did you mean `failure_policy`?); expected one of: \
             path, mutating, failure_policy, side_effects, groups, resources, verbs, versions, \
             name, admission_review_versions, match_policy, reinvocation_policy, timeout_seconds"
        );
        assert!(
            parse_err(full(quote!(colour = "red"))).starts_with("unknown key `colour`; expected")
        );
        assert_eq!(parse_err(full(quote!(path = "/x"))), "duplicate key `path`");
        assert!(
            parse_err(quote!("/x", mutating = true))
                .starts_with("expected `key = value`, not a bare literal")
        );
        assert!(parse_err(quote!(path "/x")).starts_with("expected `,`; write the arguments"));
    }

    #[test]
    fn missing_keys_are_listed_with_examples() {
        assert_eq!(
            parse_err(without("name", quote!())),
            "missing required keys: `name = \"mmyapp-v1.kb.io\"`"
        );
        let all = parse_err(quote!());
        assert!(
            all.starts_with(
                "missing required keys: `path = \"/mutate-apps-example-com-v1-myapp\"`, \
                 `mutating = true`, `side_effects = \"None\"`,"
            ),
            "{all}"
        );
        assert!(
            all.ends_with("`admission_review_versions = [\"v1\"]`"),
            "{all}"
        );
    }

    #[test]
    fn invalid_values_say_what_is_allowed() {
        for (key, value, expected) in [
            (
                "path",
                quote!("mutate-x"),
                "invalid path `mutate-x`; expected an absolute URL path",
            ),
            ("path", quote!("/a//b"), "invalid path `/a//b`"),
            ("path", quote!("/a/../b"), "invalid path `/a/../b`"),
            ("path", quote!("/a?b=c"), "invalid path `/a?b=c`"),
            ("path", quote!("/a b"), "invalid path `/a b`"),
            (
                "path",
                quote!(["/a"]),
                "`path` takes a string, e.g. `path = \"/mutate-",
            ),
            (
                "mutating",
                quote!("true"),
                "`mutating` takes `true` or `false`, e.g. `mutating = true`",
            ),
            (
                "side_effects",
                quote!("Some"),
                "invalid `side_effects` \"Some\"; expected one of: \"None\", \"NoneOnDryRun\" \
                 (admissionregistration.k8s.io/v1 refuses",
            ),
            (
                "side_effects",
                quote!("none"),
                "invalid `side_effects` \"none\"",
            ),
            (
                "groups",
                quote!("Apps"),
                "invalid API group `Apps`; expected a lower-case DNS name",
            ),
            (
                "groups",
                quote!(["*", "apps"]),
                "`*` in `groups` already matches everything; it must be the only value",
            ),
            (
                "groups",
                quote!([]),
                "`groups` must not be empty, e.g. `groups = [\"apps.example.com\"]`",
            ),
            ("resources", quote!("MyApps"), "invalid resource `MyApps`"),
            ("resources", quote!("a/b/c"), "invalid resource `a/b/c`"),
            (
                "verbs",
                quote!(["create", "patch"]),
                "unknown verb `patch`; expected one of: create, update, delete, connect, *",
            ),
            (
                "verbs",
                quote!([create]),
                "`verbs` takes a string or a list of strings",
            ),
            (
                "versions",
                quote!("1"),
                "invalid version `1`; expected an API version",
            ),
            (
                "name",
                quote!("mmyapp.kb"),
                "invalid webhook name `mmyapp.kb`; expected a lower-case DNS name with at least three",
            ),
            ("name", quote!("M.kb.io"), "invalid webhook name `M.kb.io`"),
            (
                "admission_review_versions",
                quote!([]),
                "`admission_review_versions` must not be empty",
            ),
            (
                "admission_review_versions",
                quote!("v2"),
                "unknown AdmissionReview version `v2`; expected one of: v1, v1beta1",
            ),
            (
                "admission_review_versions",
                quote!(["v1", "v1"]),
                "`v1` is listed twice",
            ),
            (
                "admission_review_versions",
                quote!("v1beta1"),
                "`admission_review_versions` must include \"v1\"",
            ),
        ] {
            let err = with_err(key, value);
            assert!(
                err.starts_with(expected),
                "{key}: {err:?} should start with {expected:?}"
            );
        }
    }

    #[test]
    fn optional_values_are_checked() {
        for (extra, expected) in [
            (
                quote!(failure_policy = "panic"),
                "invalid `failure_policy` \"panic\"; expected one of: \"Fail\", \"Ignore\"",
            ),
            (
                quote!(match_policy = "exact"),
                "invalid `match_policy` \"exact\"; expected one of: \"Exact\", \"Equivalent\"",
            ),
            (
                quote!(reinvocation_policy = "Always"),
                "invalid `reinvocation_policy` \"Always\"; expected one of: \"Never\", \"IfNeeded\"",
            ),
            (
                quote!(timeout_seconds = 0),
                "invalid `timeout_seconds` 0; expected 1 to 30",
            ),
            (
                quote!(timeout_seconds = 31),
                "invalid `timeout_seconds` 31; expected 1 to 30",
            ),
            (
                quote!(timeout_seconds = "10"),
                "`timeout_seconds` takes a whole number, e.g. `timeout_seconds = 10`",
            ),
            (
                quote!(timeout_seconds),
                "expected `=` after `timeout_seconds`, e.g. `timeout_seconds = 10`",
            ),
        ] {
            let err = parse_err(full(extra));
            assert!(
                err.starts_with(expected),
                "{err:?} should start with {expected:?}"
            );
        }
        let err = WebhookArgs::parse(without(
            "mutating",
            quote!(mutating = false, reinvocation_policy = "IfNeeded"),
        ))
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("`reinvocation_policy` applies to mutating webhooks only"),
            "{err}"
        );
    }

    #[test]
    fn errors_point_at_the_offending_value() {
        let tokens: TokenStream = "path = \"/x\", mutating = true, side_effects = \"Some\""
            .parse()
            .unwrap();
        let err = WebhookArgs::parse(tokens).unwrap_err();
        // The missing keys are checked first; give them all.
        assert!(
            err.to_string().starts_with("missing required keys"),
            "{err}"
        );
        let source = full(quote!()).to_string().replace("\"None\"", "\"Some\"");
        let column = source.find("\"Some\"").unwrap();
        let err = WebhookArgs::parse(source.parse().unwrap()).unwrap_err();
        assert_eq!(err.span().start().column, column);
    }

    fn webhook(name: &str, mutating: bool) -> WebhookArgs {
        let mut w = WebhookArgs::parse(full(quote!())).unwrap();
        w.name = name.into();
        w.mutating = mutating;
        w
    }

    #[test]
    fn no_webhooks_no_manifests() {
        assert_eq!(render_manifests(&[]), None);
    }

    #[test]
    fn each_configuration_is_written_only_when_it_has_webhooks() {
        let only_validating = render_manifests(&[webhook("vmyapp-v1.kb.io", false)]).unwrap();
        assert!(only_validating.starts_with(
            "---\napiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingWebhookConfiguration\n"
        ));
        assert_eq!(only_validating.matches("---").count(), 1);
        let only_mutating = render_manifests(&[webhook("mmyapp-v1.kb.io", true)]).unwrap();
        assert!(only_mutating.contains("kind: MutatingWebhookConfiguration"));
        assert!(!only_mutating.contains("Validating"));
    }

    #[test]
    fn webhooks_are_sorted_by_name_mutating_first() {
        let yaml = render_manifests(&[
            webhook("vzeta.kb.io.x", false),
            webhook("mzeta.kb.io", true),
            webhook("valpha.kb.io", false),
            webhook("malpha.kb.io", true),
        ])
        .unwrap();
        let names: Vec<&str> = yaml
            .lines()
            .filter_map(|l| l.strip_prefix("  name: "))
            .filter(|name| !name.ends_with("-configuration"))
            .collect();
        assert_eq!(
            names,
            [
                "malpha.kb.io",
                "mzeta.kb.io",
                "valpha.kb.io",
                "vzeta.kb.io.x"
            ]
        );
        let mutating = yaml.find("MutatingWebhookConfiguration").unwrap();
        let validating = yaml.find("ValidatingWebhookConfiguration").unwrap();
        assert!(mutating < validating);
    }

    /// Kubebuilder's own testdata (project-v4), marker for marker: the
    /// output must be byte for byte what controller-gen wrote there.
    #[test]
    fn matches_controller_gen_for_kubebuilder_project_v4() {
        let hook = |path: &str, mutating: bool, group: &str, resource: &str, name: &str| {
            let tokens: TokenStream = format!(
                "path = \"{path}\", mutating = {mutating}, failure_policy = \"fail\", \
                 side_effects = \"None\", groups = \"{group}\", resources = \"{resource}\", \
                 verbs = [\"create\", \"update\"], versions = \"v1\", name = \"{name}\", \
                 admission_review_versions = \"v1\""
            )
            .parse()
            .unwrap();
            WebhookArgs::parse(tokens).unwrap()
        };
        let yaml = render_manifests(&[
            hook("/mutate-core-v1-pod", true, "core", "pods", "mpod-v1.kb.io"),
            hook(
                "/validate-crew-testproject-org-v1-captain",
                false,
                "crew.testproject.org",
                "captains",
                "vcaptain-v1.kb.io",
            ),
            hook(
                "/mutate-crew-testproject-org-v1-captain",
                true,
                "crew.testproject.org",
                "captains",
                "mcaptain-v1.kb.io",
            ),
            hook(
                "/mutate-crew-testproject-org-v1-admiral",
                true,
                "crew.testproject.org",
                "admirales",
                "madmiral-v1.kb.io",
            ),
        ])
        .unwrap();
        let rule = |group: &str, resource: &str| {
            format!(
                "  rules:\n  - apiGroups:\n    - {group}\n    apiVersions:\n    - v1\n    operations:\n    \
                 - CREATE\n    - UPDATE\n    resources:\n    - {resource}\n  sideEffects: None\n"
            )
        };
        let entry = |path: &str, name: &str, group: &str, resource: &str| {
            format!(
                "- admissionReviewVersions:\n  - v1\n  clientConfig:\n    service:\n      \
                 name: webhook-service\n      namespace: system\n      path: {path}\n  \
                 failurePolicy: Fail\n  name: {name}\n{}",
                rule(group, resource)
            )
        };
        let expected = format!(
            "---\napiVersion: admissionregistration.k8s.io/v1\nkind: MutatingWebhookConfiguration\n\
             metadata:\n  name: mutating-webhook-configuration\nwebhooks:\n{}{}{}\
             ---\napiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingWebhookConfiguration\n\
             metadata:\n  name: validating-webhook-configuration\nwebhooks:\n{}",
            entry(
                "/mutate-crew-testproject-org-v1-admiral",
                "madmiral-v1.kb.io",
                "crew.testproject.org",
                "admirales"
            ),
            entry(
                "/mutate-crew-testproject-org-v1-captain",
                "mcaptain-v1.kb.io",
                "crew.testproject.org",
                "captains"
            ),
            entry("/mutate-core-v1-pod", "mpod-v1.kb.io", "\"\"", "pods"),
            entry(
                "/validate-crew-testproject-org-v1-captain",
                "vcaptain-v1.kb.io",
                "crew.testproject.org",
                "captains"
            ),
        );
        assert_eq!(yaml, expected);
    }

    /// The project-v4 layout of Kubebuilder's testdata, plus every optional
    /// key, rendered end to end from attribute arguments.
    #[test]
    fn realistic_manifests_snapshot() {
        let webhooks: Vec<WebhookArgs> = [
            quote!(
                path = "/validate-crew-testproject-org-v1-captain",
                mutating = false,
                failure_policy = "fail",
                side_effects = "None",
                groups = ["crew.testproject.org"],
                resources = ["captains"],
                verbs = ["create", "update"],
                versions = ["v1"],
                name = "vcaptain-v1.kb.io",
                admission_review_versions = ["v1"]
            ),
            quote!(
                path = "/mutate-crew-testproject-org-v1-captain",
                mutating = true,
                failure_policy = "fail",
                side_effects = "None",
                groups = ["crew.testproject.org"],
                resources = ["captains"],
                verbs = ["create", "update"],
                versions = ["v1"],
                name = "mcaptain-v1.kb.io",
                admission_review_versions = ["v1"]
            ),
            quote!(
                path = "/mutate-core-v1-pod",
                mutating = true,
                failure_policy = "ignore",
                side_effects = "NoneOnDryRun",
                groups = "core",
                resources = "pods",
                verbs = ["create", "update"],
                versions = "v1",
                name = "mpod-v1.kb.io",
                admission_review_versions = ["v1", "v1beta1"],
                match_policy = "Equivalent",
                reinvocation_policy = "IfNeeded",
                timeout_seconds = 5
            ),
            quote!(
                path = "/mutate-crew-testproject-org-v1-admiral",
                mutating = true,
                side_effects = "None",
                groups = ["crew.testproject.org"],
                resources = ["admirales"],
                verbs = ["create", "update"],
                versions = ["v1"],
                name = "madmiral-v1.kb.io",
                admission_review_versions = "v1"
            ),
            quote!(
                path = "/validate-crew-testproject-org-v2-firstmate",
                mutating = false,
                side_effects = "None",
                groups = ["crew.testproject.org"],
                resources = ["firstmates", "firstmates/scale"],
                verbs = ["*"],
                versions = ["v2"],
                name = "vfirstmate-v2.kb.io",
                admission_review_versions = ["v1"],
                match_policy = "Exact"
            ),
        ]
        .into_iter()
        .map(|t| WebhookArgs::parse(t).unwrap())
        .collect();
        let yaml = render_manifests(&webhooks).unwrap();
        // What a YAML parser reads back is what we meant to write.
        let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&yaml).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0]["webhooks"][2]["rules"][0]["apiGroups"][0], "");
        assert_eq!(docs[0]["webhooks"][2]["timeoutSeconds"], 5);
        insta::assert_snapshot!(yaml);
    }
}
