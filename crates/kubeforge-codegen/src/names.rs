//! Validating user-given names and deriving the names kubeforge generates
//! from them, the way Kubebuilder does, so platform engineers get the plurals,
//! CRD names and file names they already know.
//!
//! Every validator returns one line saying what is wrong and what is allowed;
//! the CLI prints it as is.

use std::fmt;

/// A user-input error: one line, printed as is, and the command exits non-zero.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidName(pub String);

impl fmt::Display for InvalidName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InvalidName {}

fn invalid(msg: String) -> Result<(), InvalidName> {
    Err(InvalidName(msg))
}

/// Checks a DNS-1123 subdomain (what Kubernetes requires of API groups):
/// lowercase alphanumerics, '-' and '.', each label starting and ending with
/// an alphanumeric, at most 63 characters a label and 253 in all.
pub fn validate_dns1123_subdomain(what: &str, value: &str) -> Result<(), InvalidName> {
    let allowed = "lowercase letters, digits, '-' and '.', each dot-separated part starting and ending with a letter or digit (e.g. example.com)";
    if value.is_empty() {
        return invalid(format!("{what} must not be empty; allowed: {allowed}"));
    }
    if value.len() > 253 {
        return invalid(format!(
            "{what} `{value}` is longer than 253 characters; allowed: {allowed}"
        ));
    }
    if !is_dns1123_subdomain(value) {
        return invalid(format!(
            "{what} `{value}` is not a DNS-1123 subdomain; allowed: {allowed}"
        ));
    }
    Ok(())
}

/// A DNS-1123 subdomain: dot-separated [DNS-1123 labels](is_dns1123_label),
/// at most 253 characters in all. API groups, namespaced object names and
/// most other Kubernetes names are subdomains.
pub fn is_dns1123_subdomain(value: &str) -> bool {
    !value.is_empty() && value.len() <= 253 && value.split('.').all(is_dns1123_label)
}

/// A DNS-1123 subdomain with at least one dot, as the API server requires of
/// a CustomResourceDefinition's group (`apps.example.com`, not `example`):
/// the CRD is named `<plural>.<group>`, and a dot-less group could collide
/// with a built-in one.
pub fn is_crd_group(value: &str) -> bool {
    value.contains('.') && is_dns1123_subdomain(value)
}

/// A DNS-1123 subdomain with at least three dot-separated parts
/// (`mmyapp-v1.kb.io`), as the API server requires of an admission
/// webhook's name (apimachinery's `IsFullyQualifiedName`).
pub fn is_fully_qualified_name(value: &str) -> bool {
    value.split('.').count() >= 3 && is_dns1123_subdomain(value)
}

/// One DNS-1123 label: lowercase alphanumerics and '-', 1 to 63 characters,
/// starting and ending with an alphanumeric.
pub fn is_dns1123_label(label: &str) -> bool {
    let bytes = label.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

/// A project name becomes a crate name prefix, a namespace (`<name>-system`)
/// and a label value, so it must be a DNS-1123 label that also starts with a
/// letter (crate names cannot start with a digit).
pub fn validate_project_name(value: &str) -> Result<(), InvalidName> {
    let ok =
        is_dns1123_label(value) && value.len() <= 40 && value.as_bytes()[0].is_ascii_lowercase();
    if ok {
        Ok(())
    } else {
        invalid(format!(
            "project name `{value}` is invalid; allowed: lowercase letters, digits and '-', starting with a letter and ending with a letter or digit, at most 40 characters (e.g. myapp-operator); set it with --project-name"
        ))
    }
}

/// Kubernetes API versions: v1, v1alpha1, v2beta3 ...
pub fn validate_version(value: &str) -> Result<(), InvalidName> {
    if is_version(value) {
        Ok(())
    } else {
        invalid(format!(
            "version `{value}` is invalid; allowed: v<N>, v<N>alpha<M> or v<N>beta<M> with N, M positive integers (e.g. v1, v1alpha1, v2beta3)"
        ))
    }
}

/// A Kubernetes API version: `v<N>`, `v<N>alpha<M>` or `v<N>beta<M>` with
/// N, M positive integers without leading zeros (v1, v1alpha1, v2beta3).
/// Only these sort the way kubectl and the API server order versions.
pub fn is_version(value: &str) -> bool {
    fn positive(digits: &str) -> bool {
        !digits.is_empty() && !digits.starts_with('0') && digits.bytes().all(|b| b.is_ascii_digit())
    }
    let Some(rest) = value.strip_prefix('v') else {
        return false;
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let (major, rest) = rest.split_at(digits);
    positive(major)
        && (rest.is_empty()
            || rest.strip_prefix("alpha").is_some_and(positive)
            || rest.strip_prefix("beta").is_some_and(positive))
}

/// Rust's strict and reserved keywords: a kind whose module name is one of
/// them would not compile.
pub const RUST_KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl",
    "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
    "return", "self", "static", "struct", "super", "trait", "true", "try", "type", "typeof",
    "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// Names in every Rust module's scope that a generated `struct <Kind>` would
/// shadow, breaking the code around it in confusing ways.
pub const PRELUDE_NAMES: &[&str] = &[
    "Self",
    "Box",
    "Option",
    "Result",
    "String",
    "Vec",
    "Some",
    "None",
    "Ok",
    "Err",
    "Clone",
    "Copy",
    "Default",
    "Drop",
    "Eq",
    "Fn",
    "FnMut",
    "FnOnce",
    "From",
    "Into",
    "Iterator",
    "Ord",
    "PartialEq",
    "PartialOrd",
    "Send",
    "Sized",
    "Sync",
    "ToOwned",
    "ToString",
    "Unpin",
];

/// A kind must be UpperCamelCase (Kubernetes convention, and it becomes a Rust
/// type name) and must yield usable Rust identifiers.
pub fn validate_kind(value: &str) -> Result<(), InvalidName> {
    if !is_kind(value) {
        return invalid(format!(
            "kind `{value}` is not UpperCamelCase; allowed: an ASCII letter A-Z followed by letters and digits, at most 63 characters (e.g. MyApp, CacheCluster)"
        ));
    }
    if PRELUDE_NAMES.contains(&value) {
        return invalid(format!(
            "kind `{value}` is a Rust keyword or prelude name and would not compile cleanly; choose another kind name (e.g. My{value})"
        ));
    }
    let module = snake_case(value);
    if RUST_KEYWORDS.contains(&module.as_str()) {
        return invalid(format!(
            "kind `{value}` becomes the Rust keyword `{module}` as a module name; choose another kind name (e.g. My{value})"
        ));
    }
    Ok(())
}

/// A kind's spelling: UpperCamelCase ASCII (a letter A-Z, then letters and
/// digits), at most 63 characters, since its lowercase form is a DNS label
/// (the CRD's singular name). [`validate_kind`] adds the Rust-specific rules
/// for kinds kubeforge generates modules for.
pub fn is_kind(value: &str) -> bool {
    value.len() <= 63
        && value.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && value.chars().all(|c| c.is_ascii_alphanumeric())
}

/// Turns a kind into snake_case the way Rust module names expect (heck's
/// rules, which kube-derive uses too):
/// `DNSRecord` -> `dns_record`, `MyApp` -> `my_app`, `V2Thing` -> `v2_thing`.
pub fn snake_case(value: &str) -> String {
    heck::ToSnakeCase::to_snake_case(value)
}

/// Kubebuilder derives plurals with flect: lowercase the kind, then apply
/// English plural rules (MyApp -> myapps, Policy -> policies,
/// Ingress -> ingresses). Irregular words follow flect's table for the words
/// that show up in kind names.
pub fn plural(kind: &str) -> String {
    let lower = kind.to_ascii_lowercase();
    const IRREGULAR: &[(&str, &str)] = &[
        ("person", "people"),
        ("child", "children"),
        ("man", "men"),
        ("woman", "women"),
        ("index", "indices"),
        ("matrix", "matrices"),
        ("vertex", "vertices"),
        ("criterion", "criteria"),
        ("datum", "data"),
        ("leaf", "leaves"),
        ("quiz", "quizzes"),
        ("endpoints", "endpoints"),
        ("data", "data"),
        ("metadata", "metadata"),
        ("news", "news"),
        ("series", "series"),
        ("species", "species"),
    ];
    for (singular, plural) in IRREGULAR {
        if let Some(stem) = lower.strip_suffix(singular) {
            // Only whole trailing words: `...Man` but not `...German`.
            let boundary = kind.len() - singular.len();
            let starts_word = boundary == 0 || kind.as_bytes()[boundary].is_ascii_uppercase();
            if starts_word {
                return format!("{stem}{plural}");
            }
        }
    }
    let ends = |s: &str| lower.ends_with(s);
    if ends("s") || ends("x") || ends("z") || ends("ch") || ends("sh") {
        return format!("{lower}es");
    }
    if let Some(stem) = lower.strip_suffix('y') {
        let before = stem.chars().last();
        if before.is_some_and(|c| !"aeiou".contains(c)) {
            return format!("{stem}ies");
        }
    }
    format!("{lower}s")
}

/// A plural given with --plural: it becomes a URL path segment and part of
/// the CRD's name, so lowercase letters and digits only.
pub fn is_plural_name(value: &str) -> bool {
    value.len() <= 63
        && value.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
}

/// A module name for an API group: `apps` -> `apps`, `batch.tutorial` ->
/// `batch_tutorial`, `my-group` -> `my_group`, keywords as raw identifiers.
pub fn group_module(group: &str) -> String {
    rust_ident(&group_dir(group))
}

/// The directory (and plain identifier) for an API group: dots and dashes
/// become underscores, so `batch.tutorial` lives in `api/src/batch_tutorial/`.
pub fn group_dir(group: &str) -> String {
    group.replace(['.', '-'], "_")
}

/// The Rust name of a crate named with dashes (`myapp-api` -> `myapp_api`):
/// what `use` statements and type paths spell.
pub fn crate_ident(crate_name: &str) -> String {
    crate_name.replace('-', "_")
}

/// A module name that is a keyword is written as a raw identifier.
pub fn rust_ident(name: &str) -> String {
    if RUST_KEYWORDS.contains(&name) && !matches!(name, "self" | "super" | "crate") {
        format!("r#{name}")
    } else {
        name.to_string()
    }
}

/// An API group as RBAC and webhook rules name it: a DNS-1123 subdomain
/// (`apps`, `batch.example.com`), `""` or `"core"` for the core group, or
/// `*` for every group. `Err` is the message, for the caller to place.
pub fn check_rule_group(group: &str) -> Result<(), String> {
    if group.is_empty() || group == "*" || group == "core" || is_dns1123_subdomain(group) {
        Ok(())
    } else {
        Err(format!(
            "invalid API group `{group}`; expected a lower-case DNS name such as `apps` or \
             `batch.example.com`, `\"\"` or `\"core\"` for the core group, or `*`"
        ))
    }
}

/// A resource as RBAC and webhook rules name it: a lower-case plural,
/// optionally `/subresource`, either part possibly `*`. Names are held to
/// the DNS-1123 subdomain rule, which every resource of the Kubernetes API
/// and of CRDs (DNS-1035 labels) passes.
pub fn check_rule_resource(resource: &str) -> Result<(), String> {
    let (main, sub) = match resource.split_once('/') {
        Some((main, sub)) => (main, Some(sub)),
        None => (resource, None),
    };
    let ok_part = |p: &str| p == "*" || is_dns1123_subdomain(p);
    if ok_part(main) && sub.is_none_or(ok_part) {
        Ok(())
    } else {
        Err(format!(
            "invalid resource `{resource}`; expected a lower-case plural resource name, \
             optionally with a subresource (`deployments`, `deployments/status`), or `*`"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals_follow_kubebuilder() {
        for (kind, want) in [
            ("MyApp", "myapps"),
            ("Policy", "policies"),
            ("Ingress", "ingresses"),
            ("CacheCluster", "cacheclusters"),
            ("Gateway", "gateways"),
            ("Box2", "box2s"),
            ("Mailbox", "mailboxes"),
            ("Batch", "batches"),
            ("Mesh", "meshes"),
            ("DNSRecord", "dnsrecords"),
            ("Person", "people"),
            ("GermanMan", "germanmen"),
            ("German", "germans"),
            ("Endpoints", "endpoints"),
            ("Status", "statuses"),
        ] {
            assert_eq!(plural(kind), want, "plural of {kind}");
        }
    }

    #[test]
    fn snake_case_splits_acronyms() {
        for (kind, want) in [
            ("DNSRecord", "dns_record"),
            ("MyApp", "my_app"),
            ("CacheCluster", "cache_cluster"),
            ("HTTPRoute", "http_route"),
            ("App", "app"),
            ("V2Thing", "v2_thing"),
            ("ABC", "abc"),
            ("MyApp2", "my_app2"),
            ("App2Thing", "app2_thing"),
            ("IPAddressPool", "ip_address_pool"),
        ] {
            assert_eq!(snake_case(kind), want, "snake_case of {kind}");
        }
    }

    #[test]
    fn versions() {
        for ok in ["v1", "v2", "v1alpha1", "v2beta3", "v10beta12"] {
            assert!(validate_version(ok).is_ok(), "{ok}");
        }
        for bad in [
            "1",
            "v0",
            "V1",
            "v1alpha",
            "v1beta0",
            "v1gamma1",
            "v01",
            "",
            "v1alpha1x",
        ] {
            assert!(validate_version(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn kinds() {
        for ok in ["MyApp", "CacheCluster", "DNSRecord", "App2"] {
            assert!(validate_kind(ok).is_ok(), "{ok}");
        }
        for bad in [
            "myApp", "My_App", "My-App", "", "Self", "Type", "Box", "Match", "Ünicode",
        ] {
            assert!(validate_kind(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn subdomains() {
        for ok in ["example.com", "corp.example", "infra", "a-b.c1"] {
            assert!(validate_dns1123_subdomain("domain", ok).is_ok(), "{ok}");
        }
        for bad in [
            "Example.com",
            "-a.com",
            "a-.com",
            "a..b",
            "",
            "a_b",
            "a.b.",
            ".a",
        ] {
            assert!(validate_dns1123_subdomain("domain", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn predicates_agree_with_validators() {
        for v in [
            "v1", "v2", "v1alpha1", "v2beta3", "v1beta", "v0", "V1", "v1gamma1", "",
        ] {
            assert_eq!(is_version(v), validate_version(v).is_ok(), "{v}");
        }
        for k in [
            "MyApp",
            "DNSRecord",
            "App2",
            "myApp",
            "My_App",
            "",
            "Ünicode",
        ] {
            assert_eq!(is_kind(k), validate_kind(k).is_ok(), "{k}");
        }
        for d in [
            "example.com",
            "infra",
            "a-b.c1",
            "Example.com",
            "a..b",
            "",
            "-a",
        ] {
            assert_eq!(
                is_dns1123_subdomain(d),
                validate_dns1123_subdomain("domain", d).is_ok(),
                "{d}"
            );
        }
        // Rust-only rules stay in validate_kind: `Box` is a fine kind to
        // Kubernetes but would shadow the prelude in generated code.
        assert!(is_kind("Box") && validate_kind("Box").is_err());
    }

    #[test]
    fn lengths_are_limited() {
        assert!(is_dns1123_label(&"a".repeat(63)));
        assert!(!is_dns1123_label(&"a".repeat(64)));
        let long = vec!["a".repeat(63); 4].join(".");
        assert_eq!(long.len(), 255);
        assert!(!is_dns1123_subdomain(&long));
        assert!(is_dns1123_subdomain(&long[..253]));
        assert!(is_kind(&format!("A{}", "b".repeat(62))));
        assert!(!is_kind(&format!("A{}", "b".repeat(63))));
    }

    #[test]
    fn crd_groups_need_a_dot() {
        for ok in ["apps.example.com", "a.b", "my-group.io"] {
            assert!(is_crd_group(ok), "{ok}");
        }
        for bad in ["example", "", "Apps.example.com", "a..b", ".a", "a."] {
            assert!(!is_crd_group(bad), "{bad}");
        }
    }

    #[test]
    fn project_names() {
        for ok in ["myapp", "myapp-operator", "a1"] {
            assert!(validate_project_name(ok).is_ok(), "{ok}");
        }
        for bad in ["MyApp", "1app", "my_app", "-a", "a-", ""] {
            assert!(validate_project_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn group_modules() {
        assert_eq!(group_module("apps"), "apps");
        assert_eq!(group_module("batch.tutorial"), "batch_tutorial");
        assert_eq!(group_module("my-group"), "my_group");
        assert_eq!(group_module("type"), "r#type");
    }

    #[test]
    fn fully_qualified_names_have_three_parts() {
        for good in [
            "mmyapp-v1.kb.io",
            "a.b.c",
            "default.cronjob.testdata.kubebuilder.io",
        ] {
            assert!(is_fully_qualified_name(good), "{good}");
        }
        for bad in [
            "kb.io", "mmyapp", "", "M.kb.io", "a..b.c", "a.b.c.", "a_b.c.d",
        ] {
            assert!(!is_fully_qualified_name(bad), "{bad}");
        }
    }
}
