//! [`Scope`] and [`WatchNamespaces`]: which namespaces a manager's
//! controllers watch (`--watch-namespace`, Kubebuilder's WATCH_NAMESPACE).
//!
//! A cluster-scoped manager (the default) watches every namespace with one
//! controller per kind. A namespace-scoped one (`kubeforge init
//! --namespaced`) runs one controller per watched namespace: kube-runtime's
//! reflector keeps one store per watch, and a Role grants nothing outside its
//! namespace, so there is no cluster-wide list to make. Each controller is
//! as lean as the cluster-wide one; a manager watching three namespaces runs
//! three small ones.

use std::fmt;
use std::str::FromStr;

use k8s_openapi::NamespaceResourceScope;
use kube::{Api, Client, Resource};

/// Where one controller's watches, lists and writes look.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Every namespace, through cluster-wide requests (needs a ClusterRole).
    Cluster,
    /// One namespace (a Role in it is enough).
    Namespace(String),
}

impl Scope {
    /// The namespace, or `None` for the whole cluster.
    pub fn namespace(&self) -> Option<&str> {
        match self {
            Scope::Cluster => None,
            Scope::Namespace(namespace) => Some(namespace),
        }
    }

    /// An `Api` for the namespaced kind `K` in this scope: `Api::all` for
    /// the cluster, `Api::namespaced` for one namespace. Cluster-scoped
    /// kinds (which no Role can grant) use `Api::all` whatever the scope.
    pub fn api<K>(&self, client: Client) -> Api<K>
    where
        K: Resource<Scope = NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        match self {
            Scope::Cluster => Api::all(client),
            Scope::Namespace(namespace) => Api::namespaced(client, namespace),
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Cluster => f.write_str("all namespaces"),
            Scope::Namespace(namespace) => write!(f, "namespace {namespace}"),
        }
    }
}

/// The value of `--watch-namespace` (WATCH_NAMESPACE): namespaces separated
/// by commas, or nothing for every namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WatchNamespaces(Vec<String>);

impl WatchNamespaces {
    /// Watch exactly these namespaces (none: every namespace).
    pub fn new<I, S>(namespaces: I) -> Result<Self, String>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut out: Vec<String> = Vec::new();
        for namespace in namespaces {
            let namespace = namespace.into();
            check_namespace(&namespace)?;
            if !out.contains(&namespace) {
                out.push(namespace);
            }
        }
        Ok(WatchNamespaces(out))
    }

    /// The namespaces named, in the order given (empty: every namespace).
    pub fn namespaces(&self) -> &[String] {
        &self.0
    }

    /// One [`Scope`] per controller to run: the cluster, or each namespace.
    pub fn scopes(&self) -> Vec<Scope> {
        if self.0.is_empty() {
            vec![Scope::Cluster]
        } else {
            self.0.iter().cloned().map(Scope::Namespace).collect()
        }
    }
}

impl FromStr for WatchNamespaces {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let value = value.trim();
        if value.is_empty() {
            return Ok(WatchNamespaces::default());
        }
        WatchNamespaces::new(value.split(',').map(str::trim))
    }
}

impl fmt::Display for WatchNamespaces {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(","))
    }
}

/// A namespace name is a DNS-1123 label: the API server refuses anything
/// else, so say so at start rather than in every watch's error.
fn check_namespace(namespace: &str) -> Result<(), String> {
    let valid = !namespace.is_empty()
        && namespace.len() <= 63
        && namespace
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !namespace.starts_with('-')
        && !namespace.ends_with('-');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "{namespace:?} is not a namespace name; expected comma-separated DNS labels \
             (lowercase letters, digits and '-', at most 63), e.g. \"team-a,team-b\", or nothing for all namespaces"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_means_the_whole_cluster() {
        let all: WatchNamespaces = "".parse().unwrap();
        assert_eq!(all.scopes(), vec![Scope::Cluster]);
        assert_eq!(" ".parse::<WatchNamespaces>().unwrap(), all);
    }

    #[test]
    fn a_list_gives_one_scope_per_namespace_once() {
        let some: WatchNamespaces = "team-a, team-b,team-a".parse().unwrap();
        assert_eq!(
            some.scopes(),
            vec![
                Scope::Namespace("team-a".into()),
                Scope::Namespace("team-b".into())
            ]
        );
        assert_eq!(some.to_string(), "team-a,team-b");
    }

    #[test]
    fn bad_names_are_refused_with_what_is_allowed() {
        for bad in ["Team", "a,,b", "-a", "a_b", &"x".repeat(64)] {
            let error = bad.parse::<WatchNamespaces>().unwrap_err();
            assert!(error.contains("DNS labels"), "{bad}: {error}");
        }
    }
}
