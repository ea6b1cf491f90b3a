//! Command-line flags of a generated `manager` binary.

use std::path::PathBuf;
use std::time::Duration;

/// The Secret self-managed webhook certificates are kept in unless
/// --webhook-cert-secret says otherwise: the one cert-manager fills in the
/// default setup, so switching modes needs no other name.
pub const DEFAULT_WEBHOOK_CERT_SECRET: &str = "webhook-server-cert";

/// Output format of the log lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines, for `kubeforge run` / `cargo run` on a laptop.
    Text,
    /// One JSON object per line, for log collectors in a cluster.
    Json,
}

/// Where the webhook server's certificate comes from (`--webhook-cert-mode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum WebhookCertMode {
    /// Files in --webhook-cert-path, e.g. the Secret cert-manager fills,
    /// mounted into the pod (the scaffold's default).
    #[default]
    Mounted,
    /// The manager makes its own CA and certificate, keeps them in the
    /// Secret --webhook-cert-secret, and writes the CA into its webhook
    /// configurations and conversion CRDs: no cert-manager needed.
    SelfManaged,
}

/// The flags every kubeforge manager accepts, in the spirit of Kubebuilder's
/// `cmd/main.go`, so operators can be deployed with familiar arguments.
///
/// Flatten it into the binary's own `clap::Parser` struct
/// (`#[command(flatten)] manager: ManagerArgs`) so projects can add flags.
/// Every flag except `--kubeconfig` can also be set through the environment
/// variable named in its help, which is handy in a Deployment's `env:`.
#[derive(Clone, Debug, PartialEq, Eq, clap::Args)]
pub struct ManagerArgs {
    /// Address the Prometheus /metrics endpoint binds to: ":8443" for HTTPS,
    /// ":8080" with --metrics-secure=false for plain HTTP, "0" (the default,
    /// as in Kubebuilder) disables it. A Go-style ":8443" means all interfaces.
    #[arg(long, env = "METRICS_BIND_ADDRESS", default_value = "0")]
    pub metrics_bind_address: String,

    /// Serve /metrics over HTTPS to callers whose bearer token the API server
    /// authenticates (TokenReview) and authorizes for GET /metrics
    /// (SubjectAccessReview), as Kubebuilder projects do. "false" serves
    /// plain HTTP to anyone who can reach the port.
    #[arg(
        long,
        env = "METRICS_SECURE",
        default_value_t = true,
        action = clap::ArgAction::Set,
        num_args = 0..=1,
        default_missing_value = "true",
    )]
    pub metrics_secure: bool,

    /// Directory with the metrics server's certificate and key (for example
    /// a cert-manager Secret mounted into the pod). Without it, a self-signed
    /// certificate is generated at start.
    #[arg(long, env = "METRICS_CERT_PATH")]
    pub metrics_cert_path: Option<PathBuf>,

    /// File name of the certificate (PEM chain) in --metrics-cert-path.
    #[arg(long, env = "METRICS_CERT_NAME", default_value = "tls.crt")]
    pub metrics_cert_name: String,

    /// File name of the private key (PEM) in --metrics-cert-path.
    #[arg(long, env = "METRICS_CERT_KEY", default_value = "tls.key")]
    pub metrics_cert_key: String,

    /// Serve the webhooks registered with `Manager::add_webhooks`. Set
    /// ENABLE_WEBHOOKS=false to run without them (and without their
    /// certificate), e.g. on a laptop, as in Kubebuilder projects.
    #[arg(
        long,
        env = "ENABLE_WEBHOOKS",
        default_value_t = true,
        action = clap::ArgAction::Set,
        num_args = 0..=1,
        default_missing_value = "true",
    )]
    pub enable_webhooks: bool,

    /// Port the webhook server listens on (HTTPS, all interfaces).
    #[arg(long, env = "WEBHOOK_PORT", default_value_t = crate::webhook::DEFAULT_PORT)]
    pub webhook_port: u16,

    /// Directory with the webhook server's certificate and key: the mounted
    /// webhook-server-cert Secret in a cluster. Reloaded when they change.
    #[arg(long, env = "WEBHOOK_CERT_PATH", default_value = crate::webhook::DEFAULT_CERT_DIR)]
    pub webhook_cert_path: PathBuf,

    /// File name of the certificate (PEM chain) in --webhook-cert-path.
    #[arg(long, env = "WEBHOOK_CERT_NAME", default_value = crate::webhook::DEFAULT_CERT_NAME)]
    pub webhook_cert_name: String,

    /// File name of the private key (PEM) in --webhook-cert-path.
    #[arg(long, env = "WEBHOOK_CERT_KEY", default_value = crate::webhook::DEFAULT_KEY_NAME)]
    pub webhook_cert_key: String,

    /// Where the webhook certificate comes from: "mounted" files in
    /// --webhook-cert-path (cert-manager's Secret), or "self-managed": the
    /// manager creates a CA and certificate in the Secret
    /// --webhook-cert-secret, renews them, and writes the CA into its webhook
    /// configurations and CRDs (needs config/selfmanaged-certs' RBAC).
    #[arg(long, env = "WEBHOOK_CERT_MODE", value_enum, default_value_t = WebhookCertMode::Mounted)]
    pub webhook_cert_mode: WebhookCertMode,

    /// With --webhook-cert-mode=self-managed: the Secret, in the pod's
    /// namespace (POD_NAMESPACE), that every replica shares.
    #[arg(long, env = "WEBHOOK_CERT_SECRET", default_value = DEFAULT_WEBHOOK_CERT_SECRET)]
    pub webhook_cert_secret: String,

    /// With --webhook-cert-mode=self-managed: the Service the API server
    /// calls the webhooks through, named in the certificate. Defaults to
    /// "<prefix>webhook-service" (`Manager::webhook_name_prefix`).
    #[arg(long, env = "WEBHOOK_SERVICE_NAME")]
    pub webhook_service_name: Option<String>,

    /// Let the webhook server speak HTTP/2. Off by default, as in
    /// Kubebuilder, because of the HTTP/2 rapid-reset advisories
    /// (CVE-2023-44487); needs kubeforge's `webhook-http2` feature.
    #[arg(long, env = "ENABLE_HTTP2")]
    pub enable_http2: bool,

    /// Address the /healthz and /readyz probe endpoints bind to ("0" disables them).
    #[arg(
        long,
        env = "HEALTH_PROBE_BIND_ADDRESS",
        default_value = "0.0.0.0:8081"
    )]
    pub health_probe_bind_address: String,

    /// Enable leader election, so only one replica runs the controllers.
    #[arg(long, env = "LEADER_ELECT")]
    pub leader_elect: bool,

    /// Namespace of the leader-election Lease. Defaults to the pod's namespace
    /// (POD_NAMESPACE, then the in-cluster service-account namespace file),
    /// else "default".
    #[arg(long, env = "LEADER_ELECTION_NAMESPACE")]
    pub leader_election_namespace: Option<String>,

    /// How long a non-renewed leader lease stays valid before another replica
    /// may take over ("15s", "1m" or plain seconds).
    #[arg(long, env = "LEASE_DURATION", default_value = "15s", value_parser = parse_duration)]
    pub lease_duration: Duration,

    /// How long before the lease expires the leader renews it; also the
    /// tolerated clock skew. Defaults to a third of --lease-duration.
    #[arg(long, env = "LEASE_RENEW_GRACE", value_parser = parse_duration)]
    pub lease_renew_grace: Option<Duration>,

    /// How long controllers get to finish after SIGTERM before they are aborted.
    #[arg(long, env = "GRACEFUL_SHUTDOWN_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub graceful_shutdown_timeout: Duration,

    /// Log format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Log filter, e.g. "info" or "info,kube=debug". When unset, RUST_LOG is
    /// used, and "info" when that is unset too.
    #[arg(long, env = "LOG_LEVEL")]
    pub log_level: Option<String>,

    /// Namespaces the controllers watch, comma-separated ("team-a,team-b");
    /// unset or empty watches every namespace. A namespace-scoped operator
    /// (`kubeforge init --namespaced`) sets it to its own namespace in
    /// config/manager, so a Role there is all the permission it needs.
    #[arg(long, env = "WATCH_NAMESPACE", default_value = "")]
    pub watch_namespace: super::WatchNamespaces,

    /// Path to a kubeconfig. When unset, kube's inference applies: KUBECONFIG,
    /// ~/.kube/config, then the in-cluster service account.
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,

    /// Reconcile concurrency and the client's rate limit
    /// (--max-concurrent-reconciles, --kube-api-qps, --kube-api-burst).
    #[command(flatten)]
    pub limits: super::LimitArgs,
}

impl Default for ManagerArgs {
    /// The flag defaults, for tests and for embedding the manager without clap.
    fn default() -> Self {
        ManagerArgs {
            metrics_bind_address: "0".into(),
            metrics_secure: true,
            metrics_cert_path: None,
            metrics_cert_name: "tls.crt".into(),
            metrics_cert_key: "tls.key".into(),
            enable_webhooks: true,
            webhook_port: crate::webhook::DEFAULT_PORT,
            webhook_cert_path: crate::webhook::DEFAULT_CERT_DIR.into(),
            webhook_cert_name: crate::webhook::DEFAULT_CERT_NAME.into(),
            webhook_cert_key: crate::webhook::DEFAULT_KEY_NAME.into(),
            webhook_cert_mode: WebhookCertMode::Mounted,
            webhook_cert_secret: DEFAULT_WEBHOOK_CERT_SECRET.into(),
            webhook_service_name: None,
            enable_http2: false,
            health_probe_bind_address: "0.0.0.0:8081".into(),
            leader_elect: false,
            leader_election_namespace: None,
            lease_duration: Duration::from_secs(15),
            lease_renew_grace: None,
            graceful_shutdown_timeout: Duration::from_secs(30),
            log_format: LogFormat::Text,
            log_level: None,
            watch_namespace: super::WatchNamespaces::default(),
            kubeconfig: None,
            limits: super::LimitArgs::default(),
        }
    }
}

/// Parses "15s", "2m", "1h", "500ms" or a bare number of seconds.
///
/// Hand-rolled rather than pulling in a duration crate: operators only ever
/// pass a handful of simple values here.
pub fn parse_duration(value: &str) -> Result<Duration, String> {
    let value = value.trim();
    let split = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (digits, unit) = value.split_at(split);
    let amount: u64 = digits.parse().map_err(|_| {
        format!("invalid duration {value:?}: expected e.g. \"15s\", \"2m\" or \"30\"")
    })?;
    let multiply = |factor: u64| {
        amount
            .checked_mul(factor)
            .map(Duration::from_secs)
            .ok_or_else(|| format!("duration {value:?} is too large"))
    };
    match unit {
        "" | "s" => Ok(Duration::from_secs(amount)),
        "ms" => Ok(Duration::from_millis(amount)),
        "m" => multiply(60),
        "h" => multiply(3600),
        other => Err(format!(
            "invalid duration unit {other:?} in {value:?}: use ms, s, m or h"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        manager: ManagerArgs,
    }

    fn parse(args: &[&str]) -> Result<ManagerArgs, clap::Error> {
        let argv = std::iter::once("manager").chain(args.iter().copied());
        Cli::try_parse_from(argv).map(|cli| cli.manager)
    }

    // These tests assume none of the flag environment variables are set in
    // the test process, which holds in CI and `cargo test`.

    #[test]
    fn defaults_match_kubebuilder() {
        let args = parse(&[]).unwrap();
        assert_eq!(args, ManagerArgs::default());
        assert_eq!(args.metrics_bind_address, "0");
        assert!(args.metrics_secure);
        assert_eq!(args.metrics_cert_path, None);
        assert_eq!(
            (
                args.metrics_cert_name.as_str(),
                args.metrics_cert_key.as_str()
            ),
            ("tls.crt", "tls.key")
        );
        assert_eq!(args.health_probe_bind_address, "0.0.0.0:8081");
        assert!(!args.leader_elect);
        assert_eq!(args.log_format, LogFormat::Text);
        assert_eq!(args.lease_duration, Duration::from_secs(15));
        assert_eq!(args.graceful_shutdown_timeout, Duration::from_secs(30));
    }

    #[test]
    fn flags_override_defaults() {
        let args = parse(&[
            "--metrics-bind-address",
            ":8080",
            "--metrics-secure=false",
            "--metrics-cert-path=/certs",
            "--metrics-cert-name=cert.pem",
            "--metrics-cert-key",
            "key.pem",
            "--health-probe-bind-address=127.0.0.1:9000",
            "--leader-elect",
            "--leader-election-namespace",
            "ops",
            "--lease-duration",
            "1m",
            "--lease-renew-grace=10",
            "--log-format",
            "json",
            "--log-level",
            "debug,kube=info",
            "--kubeconfig",
            "/tmp/kc",
            "--graceful-shutdown-timeout",
            "5s",
        ])
        .unwrap();
        assert_eq!(args.metrics_bind_address, ":8080");
        assert!(!args.metrics_secure);
        assert_eq!(args.metrics_cert_path, Some(PathBuf::from("/certs")));
        assert_eq!(
            (
                args.metrics_cert_name.as_str(),
                args.metrics_cert_key.as_str()
            ),
            ("cert.pem", "key.pem")
        );
        assert_eq!(args.health_probe_bind_address, "127.0.0.1:9000");
        assert!(args.leader_elect);
        assert_eq!(args.leader_election_namespace.as_deref(), Some("ops"));
        assert_eq!(args.lease_duration, Duration::from_secs(60));
        assert_eq!(args.lease_renew_grace, Some(Duration::from_secs(10)));
        assert_eq!(args.log_format, LogFormat::Json);
        assert_eq!(args.log_level.as_deref(), Some("debug,kube=info"));
        assert_eq!(args.kubeconfig, Some(PathBuf::from("/tmp/kc")));
        assert_eq!(args.graceful_shutdown_timeout, Duration::from_secs(5));
    }

    #[test]
    fn webhook_cert_mode_flags() {
        let args = parse(&[]).unwrap();
        assert_eq!(args.webhook_cert_mode, WebhookCertMode::Mounted);
        assert_eq!(args.webhook_cert_secret, "webhook-server-cert");
        assert_eq!(args.webhook_service_name, None);
        let args = parse(&[
            "--webhook-cert-mode=self-managed",
            "--webhook-cert-secret",
            "certs",
            "--webhook-service-name=svc",
        ])
        .unwrap();
        assert_eq!(args.webhook_cert_mode, WebhookCertMode::SelfManaged);
        assert_eq!(args.webhook_cert_secret, "certs");
        assert_eq!(args.webhook_service_name.as_deref(), Some("svc"));
        let error = parse(&["--webhook-cert-mode=cert-manager"]).unwrap_err();
        assert!(
            error.to_string().contains("mounted, self-managed"),
            "{error}"
        );
    }

    #[test]
    fn bad_values_are_rejected() {
        assert!(parse(&["--log-format", "xml"]).is_err());
        assert!(parse(&["--lease-duration", "soon"]).is_err());
        assert!(parse(&["--leader-elect=maybe"]).is_err());
        assert!(parse(&["--metrics-secure=maybe"]).is_err());
    }

    #[test]
    fn bare_metrics_secure_means_true() {
        assert!(parse(&["--metrics-secure"]).unwrap().metrics_secure);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("15s"), Ok(Duration::from_secs(15)));
        assert_eq!(parse_duration("15"), Ok(Duration::from_secs(15)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("5d").is_err());
        assert!(parse_duration("-5s").is_err());
        assert!(parse_duration(&format!("{}h", u64::MAX)).is_err());
    }
}
