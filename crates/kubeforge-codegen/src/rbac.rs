//! The `#[rbac(...)]` attribute: its arguments, controller-gen's merge of
//! many rules into few, and the `config/rbac/role.yaml` it produces.
//!
//! Kubebuilder users know `// +kubebuilder:rbac:groups=apps,resources=...`
//! markers; `#[rbac(groups = ["apps"], resources = [...], verbs = [...])]` is
//! the same thing as a Rust attribute. The macro only validates arguments (so
//! mistakes show up in the editor); `kubeforge manifests` finds the attributes
//! in the sources ([`crate::scan`]), merges them with [`merge`] and writes
//! [`render_role_yaml`]. The merge reproduces controller-gen's
//! `NormalizeRules` so a project ported from Kubebuilder gets the same
//! role.yaml.
//!
//! Validation is stricter than controller-gen's on purpose: every check
//! below rejects something the API server would refuse or silently ignore,
//! and a compile error beats a failed `kubectl apply`.
//! - Verbs must be one of [`RESOURCE_VERBS`] (or [`URL_VERBS`] for `urls`
//!   rules) or `*`. Kubernetes accepts any verb string, but a typo such as
//!   `lst` grants nothing and fails silently, which is far more common than a
//!   real custom verb.
//! - Resource rules need `groups` (use `""` or `"core"` for the core group),
//!   because the API server rejects resource rules without API groups.
//! - `urls` rules stand alone: non-resource URLs cannot be mixed with
//!   groups, resources or names, and exist only in ClusterRoles.

use crate::names::is_dns1123_label;
use darling::FromMeta;
use darling::ast::NestedMeta;
use proc_macro2::{Span, TokenStream};
use serde::Serialize;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, Lit, Meta};

/// One `#[rbac(...)]` attribute, as written (validated, not yet merged).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RbacRule {
    /// API groups; `""` (or `"core"`, turned into `""` by [`merge`]) is the
    /// core group.
    pub groups: Vec<String>,
    /// Resources, possibly with a subresource (`deployments/status`).
    pub resources: Vec<String>,
    /// Restricts the rule to objects with these names.
    pub resource_names: Vec<String>,
    pub verbs: Vec<String>,
    /// Non-resource URLs such as `/metrics`.
    pub urls: Vec<String>,
    /// Puts the rule in a `Role` in this namespace instead of the ClusterRole.
    pub namespace: Option<String>,
    /// Puts the rule in a role of this name instead of `manager-role`
    /// (controller-gen's `roleName`): e.g. to keep Roles of several
    /// namespaces apart once kustomize moves them into one.
    pub role_name: Option<String>,
}

/// Verbs accepted on resource rules (besides `*`): the ones the Kubernetes
/// API server and its built-in authorizers check.
pub const RESOURCE_VERBS: &[&str] = &[
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
    "impersonate",
    "bind",
    "escalate",
    "use",
    "approve",
    "sign",
    "attest",
];

/// Verbs accepted on `urls` rules (besides `*`): non-resource requests are
/// authorized with the lower-cased HTTP method.
pub const URL_VERBS: &[&str] = &["get", "post", "put", "patch", "delete", "head", "options"];

/// Every key of `#[rbac(...)]`, in the order error messages list them. A
/// test checks [`RbacArgs`] accepts each.
const KEYS: &[&str] = &[
    "groups",
    "resources",
    "verbs",
    "resource_names",
    "urls",
    "namespace",
    "role_name",
];

impl RbacRule {
    /// Parses and validates the arguments of `#[rbac(...)]`, e.g.
    /// `groups = ["apps"], resources = ["deployments"], verbs = ["get", "list"]`.
    /// Any key also takes a single string (`groups = "apps"`).
    ///
    /// Errors carry the span of the offending token and say what is allowed;
    /// a misspelled key gets a "did you mean" suggestion. When the arguments
    /// have several mistakes the error holds them all, first in source order
    /// first (`to_string` and `span` give that one).
    pub fn parse(args: TokenStream) -> syn::Result<RbacRule> {
        let whole = args.clone();
        let items = NestedMeta::parse_meta_list(args).map_err(|e| {
            syn::Error::new(
                e.span(),
                format!(
                    "{e}; write the arguments as `key = value` separated by commas, e.g. \
                     `groups = \"apps\", resources = \"deployments\", verbs = [\"get\"]`"
                ),
            )
        })?;
        let args = RbacArgs::from_list(&items).map_err(explain)?;
        build(args, &whole)
    }
}

/// The keys as darling reads them; every value is checked in [`build`].
#[derive(FromMeta)]
struct RbacArgs {
    #[darling(default)]
    groups: Option<Values>,
    #[darling(default)]
    resources: Option<Values>,
    #[darling(default)]
    verbs: Option<Values>,
    #[darling(default)]
    resource_names: Option<Values>,
    #[darling(default)]
    urls: Option<Values>,
    #[darling(default)]
    namespace: Option<Values>,
    #[darling(default)]
    role_name: Option<Values>,
}

/// The strings of one `key = "a"` or `key = ["a", "b"]`, with spans kept
/// for error messages.
struct Values {
    /// The span of the key, for errors about the key as a whole.
    key: Span,
    values: Vec<(String, Span)>,
}

impl FromMeta for Values {
    fn from_meta(item: &Meta) -> darling::Result<Self> {
        let key = item.path();
        let name = darling::util::path_to_string(key);
        let expected = || {
            format!(
                "expected a string or a list of strings for `{name}`, e.g. `{name} = [\"a\", \"b\"]`"
            )
        };
        let string = |e: &Expr| match e {
            Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) => Ok((s.value(), s.span())),
            other => Err(darling::Error::custom(expected()).with_span(other)),
        };
        let value = match item {
            Meta::NameValue(nv) => &nv.value,
            _ => {
                return Err(darling::Error::custom(format!(
                    "expected `=` after `{name}`, e.g. `{name} = [\"a\", \"b\"]`"
                ))
                .with_span(item));
            }
        };
        let values = match value {
            Expr::Array(array) => {
                if array.elems.is_empty() {
                    return Err(
                        darling::Error::custom(format!("`{name}` must not be empty"))
                            .with_span(array),
                    );
                }
                array.elems.iter().map(string).collect::<Result<_, _>>()?
            }
            single => vec![string(single)?],
        };
        Ok(Values {
            key: key.span(),
            values,
        })
    }
}

/// darling's messages for a misspelled or repeated key, reworded to say what
/// is allowed (darling lists the keys only when there are few, and only
/// without a suggestion).
fn explain(err: darling::Error) -> syn::Error {
    explain_keys(err, KEYS, "#[rbac]")
}

/// [`explain`] for any attribute whose keys are `keys` (`attr`, e.g.
/// `#[webhook]`, names it when darling reports nothing specific), so every
/// attribute this crate parses words key mistakes the same way.
pub(crate) fn explain_keys(err: darling::Error, keys: &[&str], attr: &str) -> syn::Error {
    let mut out: Option<syn::Error> = None;
    for single in err.flatten() {
        let span = single.span();
        let message = syn::Error::from(single).to_string();
        let message = if let Some((key, suggestion)) = parse_unknown_field(&message) {
            let hint = suggestion
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            format!(
                "unknown key `{key}`{hint}; expected one of: {}",
                keys.join(", ")
            )
        } else if let Some(key) = parse_duplicate_field(&message) {
            format!("duplicate key `{key}`")
        } else if message == LITERAL_ITEM {
            format!(
                "expected `key = value`, not a bare literal; keys: {}",
                keys.join(", ")
            )
        } else {
            message
        };
        let error = syn::Error::new(span, message);
        match &mut out {
            Some(all) => all.combine(error),
            None => out = Some(error),
        }
    }
    out.unwrap_or_else(|| syn::Error::new(Span::call_site(), format!("invalid {attr} arguments")))
}

/// The key and the suggestion of darling's "Unknown field: `x`. Did you mean
/// `y`?" (`suggestions` feature). Public so the macros reword darling's
/// message the same way; a test pins darling's wording.
#[doc(hidden)]
pub fn parse_unknown_field(message: &str) -> Option<(&str, Option<&str>)> {
    let rest = message.strip_prefix("Unknown field: `")?;
    let (key, rest) = rest.split_once('`')?;
    let suggestion = rest
        .strip_prefix(". Did you mean `")
        .and_then(|r| r.split_once('`'))
        .map(|(s, _)| s);
    Some((key, suggestion))
}

/// darling's message for a bare literal (`#[rbac("pods")]`) where a
/// `key = value` belongs.
#[doc(hidden)]
pub const LITERAL_ITEM: &str = "Unexpected meta-item format `literal`";

/// The key of darling's "Duplicate field `x`".
#[doc(hidden)]
pub fn parse_duplicate_field(message: &str) -> Option<&str> {
    message.strip_prefix("Duplicate field `")?.strip_suffix('`')
}

fn build(args: RbacArgs, whole: &TokenStream) -> syn::Result<RbacRule> {
    let missing = |msg: &str| {
        if whole.is_empty() {
            syn::Error::new(Span::call_site(), msg)
        } else {
            syn::Error::new_spanned(whole, msg)
        }
    };
    let Some(verbs) = &args.verbs else {
        return Err(missing("`verbs` is required"));
    };

    if let Some(urls) = &args.urls {
        if args.groups.is_some() || args.resources.is_some() {
            return Err(syn::Error::new(
                urls.key,
                "`urls` cannot be combined with `groups`/`resources`",
            ));
        }
        if let Some(f) = &args.resource_names {
            return Err(syn::Error::new(
                f.key,
                "`resource_names` cannot be used with `urls`",
            ));
        }
        if let Some(f) = &args.namespace {
            return Err(syn::Error::new(
                f.key,
                "`namespace` cannot be used with `urls`: non-resource URLs exist only in ClusterRoles",
            ));
        }
        check_verbs(verbs, URL_VERBS, " for `urls`")?;
        for (url, span) in &urls.values {
            check_url(url, *span)?;
        }
        return Ok(RbacRule {
            verbs: values(verbs),
            urls: values(urls),
            role_name: role_name(&args)?,
            ..RbacRule::default()
        });
    }

    let Some(resources) = &args.resources else {
        return Err(missing("`resources` is required unless `urls` is given"));
    };
    let Some(groups) = &args.groups else {
        return Err(missing(
            "`groups` is required with `resources`; use `groups = \"\"` (or \"core\") for the core API group",
        ));
    };
    check_verbs(verbs, RESOURCE_VERBS, "")?;
    for (group, span) in &groups.values {
        check_group(group, *span)?;
    }
    for (resource, span) in &resources.values {
        check_resource(resource, *span)?;
    }
    let resource_names = match &args.resource_names {
        Some(f) => {
            for (name, span) in &f.values {
                check_resource_name(name, *span)?;
            }
            values(f)
        }
        None => Vec::new(),
    };
    let namespace = match &args.namespace {
        Some(f) => match f.values.as_slice() {
            [(ns, span)] => {
                check_namespace(ns, *span)?;
                Some(ns.clone())
            }
            _ => {
                return Err(syn::Error::new(
                    f.key,
                    "`namespace` takes a single string, e.g. `namespace = \"my-namespace\"`",
                ));
            }
        },
        None => None,
    };
    Ok(RbacRule {
        groups: values(groups),
        resources: values(resources),
        resource_names,
        verbs: values(verbs),
        urls: Vec::new(),
        namespace,
        role_name: role_name(&args)?,
    })
}

/// `role_name = "..."`: one name, valid for a Role or ClusterRole as
/// kubeforge writes them (a DNS-1123 subdomain, like every other name in
/// config/, so kustomize's prefix keeps it valid).
fn role_name(args: &RbacArgs) -> syn::Result<Option<String>> {
    let Some(f) = &args.role_name else {
        return Ok(None);
    };
    match f.values.as_slice() {
        [(name, span)] => {
            if crate::names::validate_dns1123_subdomain("role_name", name).is_err() {
                return Err(syn::Error::new(
                    *span,
                    format!(
                        "invalid role_name `{name}`; expected a DNS subdomain: lower-case letters, digits, '-' and '.', e.g. \"infra-manager\""
                    ),
                ));
            }
            Ok(Some(name.clone()))
        }
        _ => Err(syn::Error::new(
            f.key,
            "`role_name` takes a single string, e.g. `role_name = \"infra-manager\"`",
        )),
    }
}

fn values(f: &Values) -> Vec<String> {
    f.values.iter().map(|(v, _)| v.clone()).collect()
}

fn check_verbs(verbs: &Values, allowed: &[&str], context: &str) -> syn::Result<()> {
    for (verb, span) in &verbs.values {
        if verb != "*" && !allowed.contains(&verb.as_str()) {
            return Err(syn::Error::new(
                *span,
                format!(
                    "unknown verb `{verb}`{context}; expected one of: {}, *",
                    allowed.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

fn check_group(group: &str, span: Span) -> syn::Result<()> {
    crate::names::check_rule_group(group).map_err(|message| syn::Error::new(span, message))
}

fn check_resource(resource: &str, span: Span) -> syn::Result<()> {
    crate::names::check_rule_resource(resource).map_err(|message| syn::Error::new(span, message))
}

fn check_resource_name(name: &str, span: Span) -> syn::Result<()> {
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Err(syn::Error::new(
            span,
            format!("invalid resource name `{name}`; expected a non-empty object name"),
        ))
    } else {
        Ok(())
    }
}

fn check_url(url: &str, span: Span) -> syn::Result<()> {
    let ok = url == "*"
        || (url.starts_with('/')
            && !url.chars().any(|c| c.is_whitespace() || c.is_control())
            // `*` is only meaningful as a final path segment wildcard.
            && url.find('*').is_none_or(|i| i == url.len() - 1));
    if ok {
        Ok(())
    } else {
        Err(syn::Error::new(
            span,
            format!(
                "invalid URL `{url}`; expected a path starting with `/`, optionally ending in `*` \
                 (`/metrics`, `/healthz/*`), or `*`"
            ),
        ))
    }
}

/// A DNS-1123 label, as every namespace name is.
fn check_namespace(ns: &str, span: Span) -> syn::Result<()> {
    if is_dns1123_label(ns) {
        Ok(())
    } else {
        Err(syn::Error::new(
            span,
            format!(
                "invalid namespace `{ns}`; expected a DNS label: lower-case letters, digits and \
                 `-`, at most 63 characters"
            ),
        ))
    }
}

/// A rule of a generated Role or ClusterRole, shaped like
/// `rbac.authorization.k8s.io/v1` `PolicyRule` (empty lists are omitted).
/// Our own type so this crate does not pull in k8s-openapi.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyRule {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub api_groups: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resource_names: Vec<String>,
    pub verbs: Vec<String>,
    #[serde(rename = "nonResourceURLs", skip_serializing_if = "Vec::is_empty")]
    pub non_resource_urls: Vec<String>,
}

/// The merged rules: those for the ClusterRole, those for one Role per
/// namespace, and those of rules that name their own role.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RbacManifest {
    pub cluster_rules: Vec<PolicyRule>,
    pub namespaced: BTreeMap<String, Vec<PolicyRule>>,
    /// Rules with a `role_name`, by (namespace, role name); no namespace
    /// means a ClusterRole.
    pub named: BTreeMap<(Option<String>, String), Vec<PolicyRule>>,
}

/// Merges rules the way controller-gen's `NormalizeRules` does, separately
/// for the ClusterRole and for each namespace:
/// 1. split every rule per resource, turn group `core` into `""`, and union
///    the verbs of rules that are equal but for verbs;
/// 2. union the resources of rules equal but for resources;
/// 3. then the groups of rules equal but for groups;
/// 4. then the URLs of rules equal but for URLs;
/// 5. sort rules by controller-gen's key string
///    (`groups + resources + resourceNames + urls`, lists joined with `&`),
///    and collapse verbs containing `*` to just `*`.
///
/// Every list is deduplicated and sorted at every step. One deliberate
/// difference: where two merged rules end up with the same groups,
/// resources, names and URLs (possible with `urls` rules), controller-gen
/// keeps one of them at random and drops the other's verbs; we union them.
pub fn merge(rules: &[RbacRule]) -> RbacManifest {
    // Keyed like controller-gen's `nsRoleKey`; no role name is the default.
    type RoleKey<'a> = (Option<&'a str>, Option<&'a str>);
    let mut by_role: BTreeMap<RoleKey<'_>, Vec<Working>> = BTreeMap::new();
    for rule in rules {
        let bucket = by_role
            .entry((rule.namespace.as_deref(), rule.role_name.as_deref()))
            .or_default();
        let groups: Vec<String> = rule
            .groups
            .iter()
            .map(|g| {
                if g == "core" {
                    String::new()
                } else {
                    g.clone()
                }
            })
            .collect();
        let split: Vec<Vec<String>> = if rule.resources.is_empty() {
            vec![Vec::new()]
        } else {
            rule.resources.iter().map(|r| vec![r.clone()]).collect()
        };
        for resources in split {
            bucket.push(Working {
                groups: sorted(groups.iter().cloned()),
                resources: sorted(resources),
                resource_names: sorted(rule.resource_names.iter().cloned()),
                urls: sorted(rule.urls.iter().cloned()),
                verbs: sorted(rule.verbs.iter().cloned()),
            });
        }
    }

    let mut manifest = RbacManifest::default();
    for ((namespace, role), working) in by_role {
        let rules = normalize(working);
        match (namespace, role) {
            (None, None) => manifest.cluster_rules = rules,
            (Some(ns), None) => {
                manifest.namespaced.insert(ns.to_string(), rules);
            }
            (ns, Some(role)) => {
                manifest
                    .named
                    .insert((ns.map(str::to_string), role.to_string()), rules);
            }
        }
    }
    manifest
}

/// A rule during merging; every list is kept sorted and deduplicated.
#[derive(Debug, Clone)]
struct Working {
    groups: Vec<String>,
    resources: Vec<String>,
    resource_names: Vec<String>,
    urls: Vec<String>,
    verbs: Vec<String>,
}

impl Working {
    /// controller-gen's `ruleKey`: what a rule applies to.
    fn key(&self) -> [&[String]; 4] {
        [
            &self.groups,
            &self.resources,
            &self.resource_names,
            &self.urls,
        ]
    }

    /// controller-gen sorts rules by `ruleKey.String()`, a string comparison
    /// of the lists joined with `&` and separated by ` + `; reproduced
    /// exactly so rule order matches byte for byte.
    fn sort_key(&self) -> String {
        self.key()
            .iter()
            .map(|l| l.join("&"))
            .collect::<Vec<_>>()
            .join(" + ")
    }
}

fn sorted(items: impl IntoIterator<Item = String>) -> Vec<String> {
    items
        .into_iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

fn union(a: &[String], b: &[String]) -> Vec<String> {
    sorted(a.iter().chain(b).cloned())
}

/// Which field a merge step unions; the other fields must be equal.
#[derive(Clone, Copy)]
enum Field4 {
    Resources,
    Groups,
    Urls,
}

fn normalize(rules: Vec<Working>) -> Vec<PolicyRule> {
    // Step 1: rules with the same key union their verbs.
    let rules = merge_by_key(rules);
    // Steps 2-4.
    let rules = merge_on(rules, Field4::Resources);
    let rules = merge_on(rules, Field4::Groups);
    let mut rules = merge_on(rules, Field4::Urls);

    rules.sort_by_cached_key(Working::sort_key);
    rules
        .into_iter()
        .map(|r| {
            let verbs = if r.verbs.iter().any(|v| v == "*") {
                vec!["*".to_string()]
            } else {
                r.verbs
            };
            PolicyRule {
                api_groups: r.groups,
                resources: r.resources,
                resource_names: r.resource_names,
                verbs,
                non_resource_urls: r.urls,
            }
        })
        .collect()
}

/// Keeps one rule per key, unioning verbs.
fn merge_by_key(rules: Vec<Working>) -> Vec<Working> {
    let mut map: BTreeMap<Vec<Vec<String>>, Working> = BTreeMap::new();
    for rule in rules {
        let key: Vec<Vec<String>> = rule.key().iter().map(|l| l.to_vec()).collect();
        match map.get_mut(&key) {
            Some(existing) => existing.verbs = union(&existing.verbs, &rule.verbs),
            None => {
                map.insert(key, rule);
            }
        }
    }
    map.into_values().collect()
}

/// Unions `field` across rules equal in every other field (verbs included),
/// then re-keys (see [`merge`] on key collisions).
fn merge_on(rules: Vec<Working>, field: Field4) -> Vec<Working> {
    let mut groups: BTreeMap<Vec<Vec<String>>, Working> = BTreeMap::new();
    for rule in rules {
        let others: Vec<Vec<String>> = match field {
            Field4::Resources => vec![
                rule.groups.clone(),
                rule.resource_names.clone(),
                rule.urls.clone(),
                rule.verbs.clone(),
            ],
            Field4::Groups => vec![
                rule.resources.clone(),
                rule.resource_names.clone(),
                rule.urls.clone(),
                rule.verbs.clone(),
            ],
            Field4::Urls => vec![
                rule.groups.clone(),
                rule.resources.clone(),
                rule.resource_names.clone(),
                rule.verbs.clone(),
            ],
        };
        match groups.get_mut(&others) {
            Some(existing) => match field {
                Field4::Resources => {
                    existing.resources = union(&existing.resources, &rule.resources)
                }
                Field4::Groups => existing.groups = union(&existing.groups, &rule.groups),
                Field4::Urls => existing.urls = union(&existing.urls, &rule.urls),
            },
            None => {
                groups.insert(others, rule);
            }
        }
    }
    merge_by_key(groups.into_values().collect())
}

/// The namespace config/ files put the manager's own objects in; kustomize
/// (config/default's `namespace:`) replaces it at deploy time, and
/// kubeforge-envtest with the namespace a test runs the operator in.
pub const MANAGER_NAMESPACE: &str = "system";

/// Where the manager's rules go: what `kubeforge init --namespaced`
/// (PROJECT's top-level `namespaced: true`, Kubebuilder's key) changes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ManagerScope {
    /// Rules without a `namespace` make the ClusterRole, bound by a
    /// ClusterRoleBinding: the manager watches every namespace.
    #[default]
    Cluster,
    /// Rules without a `namespace` make a Role in the manager's own namespace
    /// ([`MANAGER_NAMESPACE`]), bound by a RoleBinding: the manager watches
    /// only its namespace (WATCH_NAMESPACE) and holds no cluster-wide
    /// permission. Rules with `urls` still need the ClusterRole.
    Namespaced,
}

impl ManagerScope {
    /// The scope a PROJECT file declares: a top-level `namespaced: true`.
    /// (Resources' own `namespaced:` keys are indented, so they never match.)
    pub fn of_project(project: &str) -> ManagerScope {
        let namespaced = project.lines().any(|line| {
            line.strip_prefix("namespaced:")
                .is_some_and(|value| value.trim() == "true")
        });
        if namespaced {
            ManagerScope::Namespaced
        } else {
            ManagerScope::Cluster
        }
    }
}

/// Merges `rules` ([`merge`]) for a manager of `scope`: in a namespaced
/// project the rules without a namespace (and without `urls`, which only a
/// ClusterRole can hold) join the Role in [`MANAGER_NAMESPACE`], which
/// always exists since the scaffolded RoleBinding refers to it.
pub fn merge_for(rules: &[RbacRule], scope: ManagerScope) -> RbacManifest {
    match scope {
        ManagerScope::Cluster => merge(rules),
        ManagerScope::Namespaced => {
            let moved: Vec<RbacRule> = rules
                .iter()
                .cloned()
                .map(|mut rule| {
                    if rule.namespace.is_none() && rule.urls.is_empty() {
                        rule.namespace = Some(MANAGER_NAMESPACE.to_string());
                    }
                    rule
                })
                .collect();
            let mut manifest = merge(&moved);
            manifest
                .namespaced
                .entry(MANAGER_NAMESPACE.to_string())
                .or_default();
            manifest
        }
    }
}

/// Renders `config/rbac/role.yaml`: the ClusterRole `role_name` (always for
/// a cluster-scoped manager, with `rules: []` when empty, since the
/// scaffolded ClusterRoleBinding refers to it; for a namespaced one only
/// when a rule needs it), a Role named `role_name` per namespace, and the
/// roles rules named with `role_name`; in controller-gen's order: by
/// namespace (ClusterRoles first), then by name.
pub fn render_role_yaml(m: &RbacManifest, role_name: &str, scope: ManagerScope) -> String {
    let mut roles: Vec<(&str, &str, &[PolicyRule])> = Vec::new();
    if scope == ManagerScope::Cluster || !m.cluster_rules.is_empty() {
        roles.push(("", role_name, &m.cluster_rules));
    }
    for (namespace, rules) in &m.namespaced {
        roles.push((namespace, role_name, rules));
    }
    for ((namespace, name), rules) in &m.named {
        roles.push((namespace.as_deref().unwrap_or(""), name, rules));
    }
    roles.sort_by_key(|(namespace, name, _)| (*namespace, *name));
    let docs: Vec<serde_json::Value> = roles
        .into_iter()
        .map(|(namespace, name, rules)| {
            if namespace.is_empty() {
                json!({
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "ClusterRole",
                    "metadata": { "name": name },
                    "rules": rules_json(rules),
                })
            } else {
                json!({
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "Role",
                    "metadata": { "name": name, "namespace": namespace },
                    "rules": rules_json(rules),
                })
            }
        })
        .collect();
    crate::yaml::to_documents(&docs)
}

fn rules_json(rules: &[PolicyRule]) -> serde_json::Value {
    // PolicyRule is plain strings, so serialization cannot fail; fall back
    // to an empty list rather than panic if that ever changes.
    serde_json::to_value(rules).unwrap_or_else(|_| json!([]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> RbacRule {
        RbacRule {
            groups: groups.iter().map(|s| s.to_string()).collect(),
            resources: resources.iter().map(|s| s.to_string()).collect(),
            verbs: verbs.iter().map(|s| s.to_string()).collect(),
            ..RbacRule::default()
        }
    }

    fn policy(groups: &[&str], resources: &[&str], verbs: &[&str]) -> PolicyRule {
        PolicyRule {
            api_groups: groups.iter().map(|s| s.to_string()).collect(),
            resources: resources.iter().map(|s| s.to_string()).collect(),
            verbs: verbs.iter().map(|s| s.to_string()).collect(),
            ..PolicyRule::default()
        }
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn parse_err(tokens: TokenStream) -> String {
        match RbacRule::parse(tokens) {
            Ok(r) => panic!("expected an error, got {r:?}"),
            Err(e) => e.to_string(),
        }
    }

    // ---- parsing ----

    #[test]
    fn parses_lists_single_strings_and_all_keys() {
        let r = RbacRule::parse(quote! {
            groups = ["apps", ""], resources = "deployments/status",
            verbs = ["get", "list", "watch",], resource_names = ["x"], namespace = "ns-1"
        })
        .unwrap();
        assert_eq!(
            r,
            RbacRule {
                groups: strings(&["apps", ""]),
                resources: strings(&["deployments/status"]),
                resource_names: strings(&["x"]),
                verbs: strings(&["get", "list", "watch"]),
                urls: vec![],
                namespace: Some("ns-1".into()),
                role_name: None,
            }
        );
        let r = RbacRule::parse(quote!(urls = ["/metrics", "/healthz/*"], verbs = "get")).unwrap();
        assert_eq!(r.urls, strings(&["/metrics", "/healthz/*"]));
        assert!(r.groups.is_empty() && r.resources.is_empty());
        let r = RbacRule::parse(quote!(groups = "core", resources = "*", verbs = "*")).unwrap();
        assert_eq!(r.groups, strings(&["core"]));
    }

    #[test]
    fn unknown_key_suggests_and_lists_allowed_keys() {
        assert_eq!(
            parse_err(quote!(groups = "", resources = "pods", verb = "get")),
            "unknown key `verb` (did you mean `verbs`?); expected one of: groups, resources, \
             verbs, resource_names, urls, namespace, role_name"
        );
        assert_eq!(
            parse_err(quote!(colour = "red")),
            "unknown key `colour`; expected one of: groups, resources, verbs, resource_names, \
             urls, namespace, role_name"
        );
        assert!(parse_err(quote!(type = "x")).starts_with("unknown key `type`;"));
        assert!(
            parse_err(quote!("pods", verbs = "get"))
                .starts_with("expected `key = value`, not a bare literal; keys: groups,")
        );
    }

    #[test]
    fn every_listed_key_is_accepted() {
        for key in KEYS {
            let tokens: TokenStream = format!("{key} = \"x\"").parse().unwrap();
            let items = NestedMeta::parse_meta_list(tokens).unwrap();
            if let Err(e) = RbacArgs::from_list(&items) {
                panic!("`{key}` is listed but rejected: {e}");
            }
        }
    }

    /// The rewording relies on darling's wording; this fails if it changes.
    #[test]
    fn darling_messages_are_recognised() {
        let unknown = darling::Error::unknown_field_with_alts("verb", &["verbs", "groups"]);
        assert_eq!(
            parse_unknown_field(&unknown.to_string()),
            Some(("verb", Some("verbs")))
        );
        let unknown = darling::Error::unknown_field_with_alts("zzz", &["verbs", "groups"]);
        assert_eq!(
            parse_unknown_field(&unknown.to_string()),
            Some(("zzz", None))
        );
        let duplicate = darling::Error::duplicate_field("verbs");
        assert_eq!(parse_duplicate_field(&duplicate.to_string()), Some("verbs"));
        assert_eq!(
            darling::Error::unsupported_format("literal").to_string(),
            LITERAL_ITEM
        );
    }

    #[test]
    fn duplicate_and_missing_keys() {
        assert_eq!(
            parse_err(quote!(
                groups = "",
                resources = "pods",
                verbs = "get",
                verbs = "list"
            )),
            "duplicate key `verbs`"
        );
        assert_eq!(
            parse_err(quote!(groups = "", resources = "pods")),
            "`verbs` is required"
        );
        assert_eq!(parse_err(quote!()), "`verbs` is required");
        assert_eq!(
            parse_err(quote!(groups = "", verbs = "get")),
            "`resources` is required unless `urls` is given"
        );
        assert!(
            parse_err(quote!(resources = "pods", verbs = "get"))
                .starts_with("`groups` is required with `resources`")
        );
        assert_eq!(
            parse_err(quote!(groups = "", resources = [], verbs = "get")),
            "`resources` must not be empty"
        );
    }

    #[test]
    fn unknown_verbs_are_rejected_with_the_allowed_set() {
        assert_eq!(
            parse_err(quote!(
                groups = "",
                resources = "pods",
                verbs = ["get", "lst"]
            )),
            "unknown verb `lst`; expected one of: get, list, watch, create, update, patch, delete, \
             deletecollection, impersonate, bind, escalate, use, approve, sign, attest, *"
        );
        assert_eq!(
            parse_err(quote!(urls = "/metrics", verbs = "list")),
            "unknown verb `list` for `urls`; expected one of: get, post, put, patch, delete, head, options, *"
        );
        // Verbs are case-sensitive in Kubernetes: `Get` grants nothing.
        assert!(
            parse_err(quote!(groups = "", resources = "pods", verbs = "Get"))
                .starts_with("unknown verb `Get`")
        );
    }

    #[test]
    fn urls_do_not_mix_with_resource_rules() {
        assert_eq!(
            parse_err(quote!(urls = "/metrics", groups = "", verbs = "get")),
            "`urls` cannot be combined with `groups`/`resources`"
        );
        assert_eq!(
            parse_err(quote!(resources = "pods", urls = "/metrics", verbs = "get")),
            "`urls` cannot be combined with `groups`/`resources`"
        );
        assert_eq!(
            parse_err(quote!(
                urls = "/metrics",
                resource_names = "x",
                verbs = "get"
            )),
            "`resource_names` cannot be used with `urls`"
        );
        assert!(
            parse_err(quote!(urls = "/metrics", namespace = "x", verbs = "get"))
                .starts_with("`namespace` cannot be used with `urls`")
        );
        assert!(parse_err(quote!(urls = "metrics", verbs = "get")).starts_with("invalid URL"));
        assert!(parse_err(quote!(urls = "/a*/b", verbs = "get")).starts_with("invalid URL"));
    }

    #[test]
    fn values_must_be_valid_lower_case_names() {
        for (tokens, prefix) in [
            (
                quote!(groups = "Apps", resources = "pods", verbs = "get"),
                "invalid API group `Apps`",
            ),
            (
                quote!(groups = "", resources = "Pods", verbs = "get"),
                "invalid resource `Pods`",
            ),
            (
                quote!(groups = "", resources = "", verbs = "get"),
                "invalid resource ``",
            ),
            (
                quote!(groups = "", resources = "pods/status/x", verbs = "get"),
                "invalid resource `pods/status/x`",
            ),
            (
                quote!(
                    groups = "",
                    resources = "pods",
                    resource_names = "",
                    verbs = "get"
                ),
                "invalid resource name ``",
            ),
            (
                quote!(
                    groups = "",
                    resources = "pods",
                    namespace = "My_NS",
                    verbs = "get"
                ),
                "invalid namespace `My_NS`",
            ),
            (
                quote!(
                    groups = "",
                    resources = "pods",
                    namespace = ["a", "b"],
                    verbs = "get"
                ),
                "`namespace` takes a single string",
            ),
            (
                quote!(groups = "", resources = pods, verbs = "get"),
                "expected a string or a list of strings for `resources`",
            ),
            (
                quote!(groups = "", resources = [1], verbs = "get"),
                "expected a string or a list of strings for `resources`",
            ),
            (quote!(groups), "expected `=` after `groups`"),
            (quote!(groups("apps")), "expected `=` after `groups`"),
            (
                quote!(groups "apps"),
                "expected `,`; write the arguments as `key = value` separated by commas",
            ),
        ] {
            let err = parse_err(tokens);
            assert!(
                err.starts_with(prefix),
                "{err:?} should start with {prefix:?}"
            );
        }
        RbacRule::parse(quote!(
            groups = "",
            resources = ["*/scale", "pods/*"],
            verbs = "get"
        ))
        .unwrap();
    }

    #[test]
    fn errors_point_at_the_offending_token() {
        let tokens: TokenStream = "groups = \"\", resources = \"pods\", verbs = [\"get\", \"lst\"]"
            .parse()
            .unwrap();
        let err = RbacRule::parse(tokens).unwrap_err();
        // `"lst"` starts at column 49 of the argument text.
        assert_eq!(err.span().start().column, 49);
    }

    // ---- merging ----

    #[test]
    fn verbs_of_equal_rules_are_unioned_deduplicated_and_sorted() {
        let m = merge(&[
            rule(&["apps"], &["deployments"], &["watch", "get"]),
            rule(&["apps"], &["deployments"], &["list", "get", "get"]),
        ]);
        assert_eq!(
            m.cluster_rules,
            vec![policy(
                &["apps"],
                &["deployments"],
                &["get", "list", "watch"]
            )]
        );
    }

    #[test]
    fn every_list_is_deduplicated_and_sorted() {
        let mut r = rule(&["b", "a", "b"], &["y", "x", "y"], &["list", "get", "list"]);
        r.resource_names = strings(&["n2", "n1", "n2"]);
        let m = merge(&[r]);
        let mut want = policy(&["a", "b"], &["x", "y"], &["get", "list"]);
        want.resource_names = strings(&["n1", "n2"]);
        assert_eq!(m.cluster_rules, vec![want]);
    }

    #[test]
    fn a_star_verb_collapses_the_verbs() {
        let m = merge(&[
            rule(&[""], &["pods"], &["get"]),
            rule(&[""], &["pods"], &["*", "list"]),
        ]);
        assert_eq!(m.cluster_rules, vec![policy(&[""], &["pods"], &["*"])]);
    }

    #[test]
    fn core_group_becomes_empty_string_and_merges_with_it() {
        let m = merge(&[
            rule(&["core"], &["pods"], &["get"]),
            rule(&[""], &["pods"], &["list"]),
        ]);
        assert_eq!(
            m.cluster_rules,
            vec![policy(&[""], &["pods"], &["get", "list"])]
        );
    }

    #[test]
    fn multi_resource_rules_split_and_re_merge_by_verbs() {
        // pods ends up with more verbs than services, so they separate;
        // services and configmaps share verbs, so they re-merge.
        let m = merge(&[
            rule(&[""], &["pods", "services"], &["get"]),
            rule(&[""], &["pods"], &["list"]),
            rule(&[""], &["configmaps"], &["get"]),
        ]);
        assert_eq!(
            m.cluster_rules,
            vec![
                policy(&[""], &["configmaps", "services"], &["get"]),
                policy(&[""], &["pods"], &["get", "list"]),
            ]
        );
    }

    #[test]
    fn groups_merge_after_resources() {
        let m = merge(&[
            rule(&["apps"], &["deployments"], &["get"]),
            rule(&["extensions"], &["deployments"], &["get"]),
            rule(&["apps"], &["replicasets"], &["get"]),
        ]);
        // Resources merge first (apps: deployments+replicasets), so the
        // extensions rule no longer has equal resources and stays separate.
        assert_eq!(
            m.cluster_rules,
            vec![
                policy(&["apps"], &["deployments", "replicasets"], &["get"]),
                policy(&["extensions"], &["deployments"], &["get"]),
            ]
        );
        let m = merge(&[
            rule(&["apps"], &["deployments"], &["get"]),
            rule(&["extensions"], &["deployments"], &["get"]),
        ]);
        assert_eq!(
            m.cluster_rules,
            vec![policy(&["apps", "extensions"], &["deployments"], &["get"])]
        );
    }

    #[test]
    fn urls_merge_when_verbs_match() {
        let url = |urls: &[&str], verbs: &[&str]| RbacRule {
            urls: strings(urls),
            verbs: strings(verbs),
            ..RbacRule::default()
        };
        let m = merge(&[
            url(&["/metrics"], &["get"]),
            url(&["/healthz"], &["get"]),
            url(&["/admin"], &["post"]),
        ]);
        let p = |urls: &[&str], verbs: &[&str]| PolicyRule {
            non_resource_urls: strings(urls),
            verbs: strings(verbs),
            ..PolicyRule::default()
        };
        assert_eq!(
            m.cluster_rules,
            vec![
                p(&["/admin"], &["post"]),
                p(&["/healthz", "/metrics"], &["get"])
            ]
        );
        // controller-gen would drop one of these two at random (equal keys
        // after merging URLs); we keep both sets of verbs.
        let m = merge(&[
            url(&["/a"], &["get"]),
            url(&["/b"], &["get"]),
            url(&["/a", "/b"], &["post"]),
        ]);
        assert_eq!(m.cluster_rules, vec![p(&["/a", "/b"], &["get", "post"])]);
    }

    #[test]
    fn namespaced_rules_go_to_a_role_per_namespace() {
        let mut a = rule(&[""], &["secrets"], &["get"]);
        a.namespace = Some("zeta".into());
        let mut b = rule(&[""], &["configmaps"], &["get"]);
        b.namespace = Some("alpha".into());
        let mut c = rule(&[""], &["secrets"], &["list"]);
        c.namespace = Some("zeta".into());
        let m = merge(&[a, b, c, rule(&[""], &["pods"], &["get"])]);
        assert_eq!(m.cluster_rules, vec![policy(&[""], &["pods"], &["get"])]);
        assert_eq!(
            m.namespaced.keys().collect::<Vec<_>>(),
            vec!["alpha", "zeta"]
        );
        assert_eq!(
            m.namespaced["zeta"],
            vec![policy(&[""], &["secrets"], &["get", "list"])]
        );
    }

    #[test]
    fn rules_are_sorted_by_controller_gen_key_string() {
        let m = merge(&[
            rule(&["batch"], &["jobs"], &["get"]),
            rule(&["apps"], &["deployments"], &["list"]),
            rule(&[""], &["pods"], &["watch"]),
            rule(&["apps"], &["daemonsets"], &["watch"]),
        ]);
        let order: Vec<_> = m
            .cluster_rules
            .iter()
            .map(|r| (r.api_groups[0].as_str(), r.resources[0].as_str()))
            .collect();
        assert_eq!(
            order,
            vec![
                ("", "pods"),
                ("apps", "daemonsets"),
                ("apps", "deployments"),
                ("batch", "jobs")
            ]
        );
        // The key is a joined string: "a!" < "a&b" because '!' < '&',
        // although the list ["a", "b"] sorts before ["a!"] element-wise.
        let m = merge(&[
            rule(&["a", "b"], &["x"], &["get"]),
            rule(&["a!"], &["x"], &["list"]),
        ]);
        assert_eq!(m.cluster_rules[0].api_groups, strings(&["a!"]));
    }

    #[test]
    fn empty_input_still_renders_the_cluster_role() {
        let yaml = render_role_yaml(&merge(&[]), "manager-role", ManagerScope::Cluster);
        assert_eq!(
            yaml,
            "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: manager-role\nrules: []\n"
        );
    }

    #[test]
    fn a_namespaced_manager_gets_a_role_in_its_namespace() {
        let empty = render_role_yaml(
            &merge_for(&[], ManagerScope::Namespaced),
            "manager-role",
            ManagerScope::Namespaced,
        );
        assert_eq!(
            empty,
            "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: manager-role\n  namespace: system\nrules: []\n"
        );

        let mut explicit = rule(&["apps"], &["deployments"], &["get"]);
        explicit.namespace = Some(MANAGER_NAMESPACE.into());
        let urls = RbacRule {
            urls: vec!["/metrics".into()],
            verbs: vec!["get".into()],
            ..RbacRule::default()
        };
        let rules = [
            rule(&["apps"], &["deployments"], &["list", "watch"]),
            explicit,
            rule(&[""], &["configmaps"], &["get"]),
            urls,
        ];
        let m = merge_for(&rules, ManagerScope::Namespaced);
        // The rule written with `namespace = "system"` merges with the
        // unqualified ones, as one Role.
        assert_eq!(
            m.namespaced[MANAGER_NAMESPACE],
            vec![
                policy(&[""], &["configmaps"], &["get"]),
                policy(&["apps"], &["deployments"], &["get", "list", "watch"]),
            ]
        );
        // A non-resource URL exists only in a ClusterRole.
        assert_eq!(m.cluster_rules.len(), 1);
        let yaml = render_role_yaml(&m, "manager-role", ManagerScope::Namespaced);
        assert!(yaml.contains("kind: ClusterRole"), "{yaml}");
        assert_eq!(yaml.matches("kind: Role\n").count(), 1, "{yaml}");
    }

    /// controller-gen's `roleName`: rules naming a role make their own
    /// Role or ClusterRole, ordered by namespace (ClusterRoles first), then
    /// by name, as controller-gen orders them.
    #[test]
    fn rules_with_a_role_name_make_their_own_roles() {
        let parse = |args| RbacRule::parse(args).unwrap();
        let rules = [
            parse(quote!(
                groups = "apps",
                resources = "deployments",
                verbs = "get"
            )),
            parse(quote!(
                groups = "apps",
                resources = "deployments",
                verbs = "list",
                namespace = "infrastructure",
                role_name = "infra-manager"
            )),
            parse(quote!(
                groups = "",
                resources = "secrets",
                verbs = "get",
                namespace = "users",
                role_name = "user-secrets"
            )),
            parse(quote!(
                groups = "",
                resources = "nodes",
                verbs = "get",
                role_name = "a-nodes"
            )),
            parse(quote!(
                groups = "",
                resources = "pods",
                verbs = "get",
                namespace = "users"
            )),
        ];
        let yaml = render_role_yaml(&merge(&rules), "manager-role", ManagerScope::Cluster);
        let order: Vec<&str> = yaml
            .split("---\n")
            .filter(|d| !d.is_empty())
            .map(|d| {
                let kind = d.lines().find(|l| l.starts_with("kind:")).unwrap();
                let name = d.lines().find(|l| l.starts_with("  name:")).unwrap();
                let ns = d
                    .lines()
                    .find(|l| l.starts_with("  namespace:"))
                    .unwrap_or("");
                match (kind, name, ns) {
                    ("kind: ClusterRole", "  name: a-nodes", "") => "cluster a-nodes",
                    ("kind: ClusterRole", "  name: manager-role", "") => "cluster manager-role",
                    ("kind: Role", "  name: infra-manager", "  namespace: infrastructure") => {
                        "infrastructure infra-manager"
                    }
                    ("kind: Role", "  name: manager-role", "  namespace: users") => {
                        "users manager-role"
                    }
                    ("kind: Role", "  name: user-secrets", "  namespace: users") => {
                        "users user-secrets"
                    }
                    other => panic!("unexpected role {other:?} in:\n{yaml}"),
                }
            })
            .collect();
        assert_eq!(
            order,
            [
                "cluster a-nodes",
                "cluster manager-role",
                "infrastructure infra-manager",
                "users manager-role",
                "users user-secrets"
            ]
        );
        assert!(
            parse_err(quote!(
                groups = "",
                resources = "pods",
                verbs = "get",
                role_name = "Bad_Name"
            ))
            .starts_with("invalid role_name `Bad_Name`")
        );
        assert!(
            parse_err(quote!(
                groups = "",
                resources = "pods",
                verbs = "get",
                role_name = ["a", "b"]
            ))
            .starts_with("`role_name` takes a single string")
        );
    }

    #[test]
    fn the_scope_comes_from_projects_top_level_key() {
        let cluster =
            "domain: example.com\nresources:\n- api:\n    namespaced: true\n  kind: MyApp\n";
        assert_eq!(ManagerScope::of_project(cluster), ManagerScope::Cluster);
        let namespaced = format!("{cluster}namespaced: true\n");
        assert_eq!(
            ManagerScope::of_project(&namespaced),
            ManagerScope::Namespaced
        );
    }

    #[test]
    fn realistic_role_yaml_snapshot() {
        let rules: Vec<RbacRule> = [
            quote!(
                groups = "webapp.my.domain",
                resources = "guestbooks",
                verbs = [
                    "get", "list", "watch", "create", "update", "patch", "delete"
                ]
            ),
            quote!(
                groups = "webapp.my.domain",
                resources = "guestbooks/status",
                verbs = ["get", "update", "patch"]
            ),
            quote!(
                groups = "webapp.my.domain",
                resources = "guestbooks/finalizers",
                verbs = "update"
            ),
            quote!(
                groups = "apps",
                resources = ["deployments"],
                verbs = [
                    "get", "list", "watch", "create", "update", "patch", "delete"
                ]
            ),
            quote!(
                groups = "core",
                resources = ["services", "configmaps"],
                verbs = [
                    "get", "list", "watch", "create", "update", "patch", "delete"
                ]
            ),
            quote!(
                groups = "",
                resources = "pods",
                verbs = ["get", "list", "watch"]
            ),
            quote!(
                groups = "events.k8s.io",
                resources = "events",
                verbs = ["create", "patch"]
            ),
            quote!(
                groups = "coordination.k8s.io",
                resources = "leases",
                verbs = "*"
            ),
            quote!(urls = "/metrics", verbs = "get"),
            quote!(
                groups = "",
                resources = "secrets",
                resource_names = "webhook-cert",
                verbs = ["get", "update"],
                namespace = "system"
            ),
            quote!(
                groups = "",
                resources = "configmaps",
                verbs = "get",
                namespace = "kube-system"
            ),
        ]
        .into_iter()
        .map(|t| RbacRule::parse(t).unwrap())
        .collect();
        insta::assert_snapshot!(render_role_yaml(
            &merge(&rules),
            "manager-role",
            ManagerScope::Cluster
        ));
    }
}
