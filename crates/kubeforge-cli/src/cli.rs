//! The command line, in the shape Kubebuilder users already type.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub use crate::project::License;

#[derive(Debug, Parser)]
#[command(
    name = "kubeforge",
    version,
    about = "Scaffold and maintain Kubernetes operators in Rust (Kubebuilder for kube-rs)",
    after_help = "Examples:
  kubeforge init --domain example.com --project-name myapp
  kubeforge create api --group apps --version v1 --kind MyApp
  kubeforge manifests
  kubeforge run"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a new operator project: a Cargo workspace with an API crate,
    /// a manager crate, config/ kustomize bases, Makefile and Dockerfile.
    #[command(after_help = "Examples:
  mkdir myapp && cd myapp && kubeforge init --domain example.com
  kubeforge init --domain corp.example --project-name infra --license mit --owner \"Infra Team\" ./infra")]
    Init(InitArgs),
    /// Add something to an existing project.
    #[command(
        subcommand,
        after_help = "Example:\n  kubeforge create api --group apps --version v1 --kind MyApp"
    )]
    Create(CreateCommand),
    /// Generate CRD and RBAC manifests under config/ from the #[crd] and
    /// #[rbac] attributes in the code.
    #[command(after_help = "Examples:
  kubeforge manifests          # write config/crd/bases/*.yaml and config/rbac/role.yaml
  kubeforge manifests --check  # in CI: fail if the files on disk differ from the code")]
    Manifests(ManifestsArgs),
    /// Download (once) and print the directory of the local control-plane
    /// binaries: etcd, kube-apiserver and kubectl (setup-envtest's release
    /// archives; built with Go when the release server cannot be reached).
    #[command(after_help = "Examples:
  kubeforge envtest                          # downloads into the store on first use, then prints the path
  export KUBEBUILDER_ASSETS=$(kubeforge envtest)
  kubeforge envtest --bin-dir ./bin          # setup-envtest's --bin-dir: ./bin/k8s/<version>-<os>-<arch>
  kubeforge envtest --index-url https://mirror.example.com/envtest-releases.yaml
  kubeforge envtest --source go              # offline: build from the pinned Go modules")]
    Envtest(EnvtestArgs),
    /// Run the operator: against KUBECONFIG / --kubeconfig when a cluster is
    /// configured, else on a local control plane started for the run.
    #[command(after_help = "Examples:
  kubeforge run                          # local control plane, CRDs and samples applied, Ctrl-C stops it
  kubeforge run --watch                  # rebuild and restart the manager on every saved change
  kubeforge run --kubeconfig ~/.kube/config
  kubeforge run -- --log-level debug     # flags after -- go to the manager")]
    Run(RunArgs),
    /// Change what `init` decided (namespace scope, licence, owner) or add
    /// plugins (Grafana dashboards, a Helm chart), and carry it through the
    /// scaffolded files, keeping your edits (a three-way merge, as `alpha
    /// update`). All or nothing.
    #[command(after_help = "Examples:
  kubeforge edit --namespaced             # watch only the manager's namespace, Roles instead of ClusterRoles
  kubeforge edit --namespaced=false       # back to a cluster-wide manager
  kubeforge edit --license mit --owner \"The MyApp Authors\"
  kubeforge edit --plugins grafana        # grafana/: dashboards over the manager's metrics
  kubeforge edit --plugins helm           # dist/chart: a Helm chart, kept in step by `kubeforge manifests`
  kubeforge edit --plugins grafana.kubebuilder.io/v1-alpha,helm/v2-alpha")]
    Edit(EditArgs),
    /// Experimental commands.
    #[command(subcommand, after_help = "Example:\n  kubeforge alpha update")]
    Alpha(AlphaCommand),
    /// Print kubeforge's version and the versions it scaffolds against.
    #[command(after_help = "Example:\n  kubeforge version")]
    Version,
    /// Print a shell completion script.
    #[command(after_help = "Examples:
  kubeforge completion bash > /etc/bash_completion.d/kubeforge
  kubeforge completion zsh > \"${fpath[1]}/_kubeforge\"")]
    Completion {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Subcommand)]
pub enum CreateCommand {
    /// Add a kind (its Rust types and CRD) and/or a controller for it.
    #[command(after_help = "Examples:
  kubeforge create api --group apps --version v1 --kind MyApp
  kubeforge create api --group infra --version v1beta2 --kind CacheCluster --namespaced=false
  kubeforge create api --group apps --version v1 --kind Deployment --resource=false --controller=true
  kubeforge create api --group apps --version v1 --kind MyApp --resource=false --controller-name myapp-backup
  kubeforge create api --group cert-manager --version v1 --kind Certificate --resource=false \\
      --external-api-path cert_manager_api::v1::Certificate --external-api-domain io --external-api-crate cert-manager-api@1.18")]
    Api(CreateApiArgs),
    /// Add admission webhooks (defaulting, validation) or a conversion
    /// webhook for a kind of this project.
    #[command(after_help = "Examples:
  kubeforge create webhook --group apps --version v1 --kind MyApp --defaulting --programmatic-validation
  kubeforge create webhook --group apps --version v1 --kind MyApp --conversion --spoke v1beta1 --spoke v2")]
    Webhook(CreateWebhookArgs),
}

#[derive(Debug, Subcommand)]
pub enum AlphaCommand {
    /// Re-scaffold the project with this kubeforge's templates and merge in
    /// your edits (three-way, against the recorded pristine scaffold in
    /// .kubeforge/scaffold). All or nothing: on conflicts nothing is written
    /// unless --write-conflicts is given.
    #[command(after_help = "Examples:
  kubeforge alpha update                     # after installing a newer kubeforge
  kubeforge alpha update --write-conflicts   # write conflict markers to resolve by hand")]
    Update(AlphaUpdateArgs),
}

#[derive(Debug, Args)]
pub struct AlphaUpdateArgs {
    /// On conflicts, write the files with <<<<<<< markers instead of
    /// writing nothing.
    #[arg(long)]
    pub write_conflicts: bool,
}

#[derive(Debug, Args)]
pub struct EditArgs {
    /// Make the manager namespace-scoped (true) or cluster-wide (false).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub namespaced: Option<bool>,
    /// The licence header put on generated Rust sources.
    #[arg(long, value_enum)]
    pub license: Option<License>,
    /// The copyright owner named in the licence header.
    #[arg(long)]
    pub owner: Option<String>,
    /// Turn on a plugin: `grafana` (grafana.kubebuilder.io/v1-alpha) or
    /// `helm` (helm.kubebuilder.io/v2-alpha), in any of Kubebuilder's
    /// spellings; repeatable, or comma-separated. Plugins cannot be turned
    /// off again (delete their files and PROJECT's entry by hand).
    #[arg(long, value_name = "PLUGIN", value_delimiter = ',')]
    pub plugins: Vec<String>,
    /// On conflicts between your edits and the change, write the files with
    /// <<<<<<< markers instead of writing nothing.
    #[arg(long)]
    pub write_conflicts: bool,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The domain of the project's API groups (e.g. example.com): a kind in
    /// group `apps` gets the API group apps.<domain>.
    #[arg(long)]
    pub domain: String,
    /// The project's name [default: the directory's name].
    #[arg(long)]
    pub project_name: Option<String>,
    /// The copyright owner named in the licence header of generated sources.
    #[arg(long)]
    pub owner: Option<String>,
    /// The licence header put on generated Rust sources.
    #[arg(long, value_enum, default_value_t = License::Apache2)]
    pub license: License,
    /// A namespace-scoped operator: the manager watches only its own
    /// namespace (WATCH_NAMESPACE) and its #[rbac] rules become a Role there
    /// instead of a ClusterRole, as Kubebuilder's `init --namespaced`.
    #[arg(long)]
    pub namespaced: bool,
    #[command(flatten)]
    pub dependency: DependencyArgs,
    /// The directory to create the project in (created if missing).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
}

/// How the generated project depends on the kubeforge crates.
#[derive(Debug, Args)]
#[group(multiple = false)]
pub struct DependencyArgs {
    /// Depend on kubeforge by path: the root of a kubeforge checkout. Inside
    /// that checkout the path is written relative, so the project stays
    /// portable. [default: the checkout this kubeforge was built from, if it
    /// still exists; else crates.io]
    #[arg(long, value_name = "CHECKOUT")]
    pub kubeforge_path: Option<PathBuf>,
    /// Depend on kubeforge from crates.io at this version.
    #[arg(long, value_name = "VERSION")]
    pub kubeforge_version: Option<String>,
}

#[derive(Debug, Args)]
pub struct CreateApiArgs {
    /// The API group, without the domain (e.g. apps; `core` for the core group).
    #[arg(long)]
    pub group: String,
    /// The API version (e.g. v1, v1alpha1, v2beta3).
    #[arg(long)]
    pub version: String,
    /// The kind, in UpperCamelCase (e.g. MyApp).
    #[arg(long)]
    pub kind: String,
    /// Whether the kind is namespaced; false gives a cluster-scoped kind
    /// (for an external kind: says which it is) [default: true].
    #[arg(long, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub namespaced: Option<bool>,
    /// The plural, if Kubebuilder's rules get it wrong [default: derived from the kind].
    #[arg(long)]
    pub plural: Option<String>,
    /// Scaffold the kind's types and CRD.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub resource: bool,
    /// Scaffold a controller for the kind.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub controller: bool,
    /// Another controller for a kind that has one: its module
    /// (manager/src/controller/<NAME>.rs, '-' as '_') and the name it is
    /// added to the manager under (metrics, logs) [default: the kind's
    /// snake_case name].
    #[arg(long, value_name = "NAME")]
    pub controller_name: Option<String>,
    /// With --resource=false: a kind defined in another crate, as the Rust
    /// path of its type (e.g. cert_manager_api::v1::Certificate).
    #[arg(long, value_name = "RUST_PATH")]
    pub external_api_path: Option<String>,
    /// The external kind's domain: its API group is <group>.<DOMAIN>
    /// [default: the group as written].
    #[arg(long, value_name = "DOMAIN")]
    pub external_api_domain: Option<String>,
    /// The crate to add to manager/Cargo.toml for the external kind, as
    /// `cargo add` takes it: NAME@VERSION, or NAME with
    /// --external-api-crate-path [default: add nothing; the manager must
    /// already depend on it].
    #[arg(long, value_name = "NAME[@VERSION]")]
    pub external_api_crate: Option<String>,
    /// The external crate's directory, for a path dependency (relative to
    /// the project root, or absolute).
    #[arg(long, value_name = "DIR")]
    pub external_api_crate_path: Option<String>,
    /// Run `kubeforge manifests` after scaffolding (Kubebuilder's `make
    /// generate`); off by default, since it builds the API crate.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub make: bool,
    /// Re-scaffold an existing kind's files: each one that is as the
    /// scaffold wrote it (or was deleted) is written again; refused, with
    /// nothing written, if any was edited.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct CreateWebhookArgs {
    /// The kind's API group, without the domain (e.g. apps).
    #[arg(long)]
    pub group: String,
    /// The kind's API version (e.g. v1); with --conversion, the hub.
    #[arg(long)]
    pub version: String,
    /// The kind (e.g. MyApp); it must be in PROJECT.
    #[arg(long)]
    pub kind: String,
    /// The kind's plural, if it is not the one PROJECT records.
    #[arg(long)]
    pub plural: Option<String>,
    /// A mutating webhook that sets defaults on create and update.
    #[arg(long)]
    pub defaulting: bool,
    /// A validating webhook that checks create, update and delete.
    #[arg(long)]
    pub programmatic_validation: bool,
    /// A conversion webhook: --version is the hub (the storage version),
    /// each --spoke converts to and from it.
    #[arg(long)]
    pub conversion: bool,
    /// A version converted through the hub (repeatable, or comma-separated).
    #[arg(
        long,
        value_name = "VERSION",
        value_delimiter = ',',
        requires = "conversion"
    )]
    pub spoke: Vec<String>,
    /// The defaulting webhook's path [default: /mutate-<group>-<version>-<kind>].
    #[arg(long, value_name = "PATH", requires = "defaulting")]
    pub defaulting_path: Option<String>,
    /// The validating webhook's path [default: /validate-<group>-<version>-<kind>].
    #[arg(long, value_name = "PATH", requires = "programmatic_validation")]
    pub validation_path: Option<String>,
}

#[derive(Debug, Args)]
pub struct ManifestsArgs {
    /// Write nothing; exit 1 and name the files that differ from what the code says.
    #[arg(long)]
    pub check: bool,
}

#[derive(Debug, Args)]
pub struct EnvtestArgs {
    /// The envtest release index to download from, e.g. a mirror (setup-envtest's
    /// --index) [default: controller-tools' envtest-releases.yaml on GitHub].
    #[arg(long, value_name = "URL", env = kubeforge_envtest::assets::INDEX_URL_ENV)]
    pub index_url: Option<String>,
    /// The store root (setup-envtest's --bin-dir): the binaries go to
    /// DIR/k8s/<version>-<os>-<arch> [default: ${XDG_DATA_HOME:-~/.local/share}/kubebuilder-envtest].
    /// Set the environment variable for tests to look there too.
    #[arg(long, value_name = "DIR", env = kubeforge_envtest::assets::BIN_DIR_ENV)]
    pub bin_dir: Option<PathBuf>,
    /// Where missing binaries come from.
    #[arg(
        long,
        value_enum,
        default_value_t = EnvtestSource::Auto,
        env = kubeforge_envtest::assets::SOURCE_ENV
    )]
    pub source: EnvtestSource,
}

/// `kubeforge envtest --source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EnvtestSource {
    /// Download; build with Go if the release server cannot be reached or lacks the version.
    Auto,
    /// Download only; no Go needed.
    Download,
    /// Build with Go only; never contact the release index.
    Go,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Run against this cluster instead of a local control plane.
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// Build and run the manager with optimizations.
    #[arg(long)]
    pub release: bool,
    /// Rebuild and restart the manager when the sources change, keeping the
    /// control plane and its objects (a failed build keeps the old manager).
    #[arg(long)]
    pub watch: bool,
    /// Extra arguments passed to the manager binary (after `--`).
    #[arg(last = true)]
    pub manager_args: Vec<String>,
}
