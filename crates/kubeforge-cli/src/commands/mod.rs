//! One module per subcommand; [`dispatch`] routes to them.

use std::process::ExitCode;

use anyhow::Result;
use clap::CommandFactory as _;

use crate::cli::{AlphaCommand, Cli, Command, CreateCommand};

pub mod alpha_update;
pub mod create_api;
pub mod create_webhook;
pub mod edit;
pub mod envtest;
pub mod init;
pub mod manifests;
pub mod run;

pub fn dispatch(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Init(args) => init::run(args).map(|()| ExitCode::SUCCESS),
        Command::Create(CreateCommand::Api(args)) => {
            create_api::run(args).map(|()| ExitCode::SUCCESS)
        }
        Command::Create(CreateCommand::Webhook(args)) => {
            create_webhook::run(args).map(|()| ExitCode::SUCCESS)
        }
        Command::Manifests(args) => manifests::run(args),
        Command::Edit(args) => edit::run(args),
        Command::Alpha(AlphaCommand::Update(args)) => alpha_update::run(args),
        Command::Envtest(args) => envtest::run(args).map(|()| ExitCode::SUCCESS),
        Command::Run(args) => run::run(args),
        Command::Version => {
            println!(
                "kubeforge {}\nkube 5, k8s-openapi 0.29 (Kubernetes {})",
                crate::KUBEFORGE_VERSION,
                crate::KUBERNETES_VERSION
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Completion { shell } => {
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "kubeforge", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Prints what a plan did, one line a file, in the plan's (sorted) order.
/// The record of the pristine scaffold is bookkeeping: one line for all of it.
pub fn print_summary(plan: &crate::scaffold::Plan) {
    let record = std::path::Path::new(crate::regenerate::BASE_DIR);
    let (recorded, files): (Vec<_>, Vec<_>) = plan
        .summary()
        .into_iter()
        .partition(|(_, path)| path.starts_with(record));
    for (verb, path) in files {
        println!("{verb:>8} {}", path.display());
    }
    if !recorded.is_empty() {
        println!("  record {} ({} files)", record.display(), recorded.len());
    }
}

#[cfg(test)]
mod tests {
    use crate::cli::{CreateApiArgs, DependencyArgs, InitArgs};
    use crate::project::License;

    fn api(
        group: &str,
        version: &str,
        kind: &str,
        namespaced: bool,
        resource: bool,
    ) -> CreateApiArgs {
        CreateApiArgs {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
            namespaced: Some(namespaced),
            plural: None,
            resource,
            controller: true,
            controller_name: None,
            external_api_path: None,
            external_api_domain: None,
            external_api_crate: None,
            external_api_crate_path: None,
            make: false,
            force: false,
        }
    }

    /// A template file that no command renders is dead weight that drifts:
    /// scaffold every variant and require each embedded file to be used.
    #[test]
    fn every_template_is_rendered() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let init = InitArgs {
            domain: "example.com".into(),
            project_name: Some("coverage".into()),
            owner: None,
            license: License::Mit,
            namespaced: false,
            dependency: DependencyArgs {
                kubeforge_path: None,
                kubeforge_version: Some("0.1.0".into()),
            },
            dir: root.to_path_buf(),
        };
        let (plan, _) = super::init::plan(&init, root).unwrap();
        plan.apply().unwrap();
        for args in [
            api("apps", "v1", "MyApp", true, true),
            api("infra", "v1beta2", "CacheCluster", false, true),
            api("apps", "v1", "Deployment", true, false),
        ] {
            super::create_api::plan(&args, root)
                .unwrap()
                .apply()
                .unwrap();
        }
        let mut v2 = api("apps", "v2", "MyApp", true, true);
        v2.controller = false;
        super::create_api::plan(&v2, root).unwrap().apply().unwrap();
        // The external kind's branches of the controller templates.
        let mut external = api("cert-manager", "v1", "Certificate", true, false);
        external.external_api_path = Some("cert_manager_api::v1::Certificate".into());
        external.external_api_domain = Some("io".into());
        external.external_api_crate = Some("cert-manager-api@1.18".into());
        super::create_api::plan(&external, root)
            .unwrap()
            .apply()
            .unwrap();
        let webhook = crate::cli::CreateWebhookArgs {
            group: "apps".into(),
            version: "v1".into(),
            kind: "MyApp".into(),
            plural: None,
            defaulting: true,
            programmatic_validation: true,
            conversion: true,
            spoke: vec!["v2".into()],
            defaulting_path: None,
            validation_path: None,
        };
        super::create_webhook::plan(&webhook, root)
            .unwrap()
            .apply()
            .unwrap();
        let project = crate::project::Project::load(root).unwrap();
        let mut edited = project.clone();
        for plugin in crate::project::Plugin::ALL {
            edited.add_plugin(plugin);
        }
        super::edit::plan(root, &project, &edited)
            .unwrap()
            .0
            .apply()
            .unwrap();
        let rendered = crate::scaffold::templates::rendered_template_names();
        let unused: Vec<String> = crate::scaffold::templates::all_template_names()
            .into_iter()
            .filter(|name| !rendered.contains(name))
            .collect();
        assert!(unused.is_empty(), "templates never rendered: {unused:?}");
    }
}
