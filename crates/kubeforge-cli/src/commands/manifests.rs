//! `kubeforge manifests`: CRD, RBAC and webhook YAML from the code, as
//! controller-gen does for Kubebuilder.
//!
//! CRDs come from building and running the API crate's `crdgen` binary, which prints
//! what each `#[crd]` type's `crd()` returns (one source of truth with the
//! running operator). Only the API crate is built for that, never the whole
//! operator. RBAC and the webhook configurations come from reading
//! `#[rbac(...)]` and `#[webhook(...)]` attributes in the sources (one walk),
//! like controller-gen reads markers, so they need no build at all.
//!
//! With the helm plugin, each of these files has a copy in the chart
//! (dist/chart/templates, see [`crate::chart`]) written with it, so
//! `--check` also fails when the chart is behind the code.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use anyhow::{Context as _, Result, bail};
use kubeforge_codegen::crd::{
    CLIENT_SIDE_APPLY_LIMIT, ETCD_LIMIT, SizeBudget, human_size, size_budget,
};
use kubeforge_codegen::rbac::ManagerScope;
use kubeforge_codegen::scan::Attributes;

use crate::chart;
use crate::cli::ManifestsArgs;
use crate::project::{Plugin, Project};
use crate::scaffold::Plan;
use crate::scaffold::marker::Marker;

const CRD_KUSTOMIZATION: &str = "config/crd/kustomization.yaml";
const CRD_BASES: &str = "config/crd/bases";
pub use crate::scaffold::ROLE_FILE;
/// The webhook configurations, generated from `#[webhook]` attributes.
pub const WEBHOOK_FILE: &str = "config/webhook/manifests.yaml";
const DEFAULT_KUSTOMIZATION: &str = "config/default/kustomization.yaml";

pub fn run(args: ManifestsArgs) -> Result<ExitCode> {
    let root = std::env::current_dir().context("reading the current directory")?;
    if !args.check {
        write(&root)?;
        return Ok(ExitCode::SUCCESS);
    }
    let project = Project::load(&root)?;
    let manifests = plan(&root, &project, CrdgenBuild::ApiOnly)?;
    // Before anything is compared: a CRD no API server can store is an
    // error whatever is on disk.
    manifests.check_sizes()?;
    // Stale CRDs are part of --check's error line.
    manifests.warn_moved_roles();
    let Manifests { plan, stale, .. } = manifests;
    if plan.is_empty() && stale.is_empty() {
        println!("manifests are up to date");
        return Ok(ExitCode::SUCCESS);
    }
    let mut problems: Vec<String> = plan
        .summary()
        .iter()
        .map(|(_, path)| path.display().to_string())
        .collect();
    problems.extend(
        stale
            .iter()
            .map(|p| format!("{} (no #[crd] type produces it)", p.display())),
    );
    eprintln!(
        "error: manifests are out of date with the code: {}; run `kubeforge manifests` (make manifests)",
        problems.join(", ")
    );
    Ok(ExitCode::FAILURE)
}

/// Writes every manifest that differs from the code: `kubeforge manifests`
/// in the project at `root`, also run in-process by `create api --make`.
pub fn write(root: &Path) -> Result<()> {
    let project = Project::load(root)?;
    let manifests = plan(root, &project, CrdgenBuild::ApiOnly)?;
    // Before anything is written: a CRD no API server can store is an
    // error whatever is on disk.
    manifests.check_sizes()?;
    manifests.warn();
    if manifests.plan.is_empty() {
        println!("manifests are up to date");
        return Ok(());
    }
    super::print_summary(&manifests.plan);
    manifests.plan.apply()
}

/// What `manifests` would change, and generated CRDs no type produces any more.
pub struct Manifests {
    pub plan: Plan,
    /// CRD files of the project's own API groups that no `#[crd]` type
    /// produces (a kind was removed or renamed). kubeforge never deletes
    /// them itself, since a file may hold something a user wants to keep;
    /// `--check` fails on them so the drift cannot go unnoticed.
    pub stale: Vec<PathBuf>,
    /// Namespaces of the Roles that `#[rbac(namespace = ...)]` asks for,
    /// which config/default's kustomize `namespace:` would move into the
    /// operator's namespace at deploy time (a trap Kubebuilder has too).
    pub moved_roles: Vec<String>,
    /// Each CRD file and its size as compact JSON, in file order.
    pub crd_sizes: Vec<(String, usize)>,
}

impl Manifests {
    /// One warning line per file or Role the user should look at.
    pub fn warn(&self) {
        self.warn_stale();
        self.warn_moved_roles();
    }

    /// Reports each CRD's size (one line each on stdout), warns about those
    /// only server-side apply can install, and fails on the first that etcd
    /// would refuse, saying what to do.
    pub fn check_sizes(&self) -> Result<()> {
        for (file, bytes) in &self.crd_sizes {
            println!("    size {file} ({})", human_size(*bytes));
        }
        for (file, bytes) in &self.crd_sizes {
            match size_budget(*bytes) {
                SizeBudget::Fits => {}
                SizeBudget::ServerSideApplyOnly => eprintln!(
                    "warning: {file} is {}, over the {} client-side `kubectl apply` can keep in its last-applied annotation; install it with server-side apply (`kubectl apply --server-side`, kustomize's `kubectl apply -k --server-side`), or shorten descriptions with `kubeforge::crd_settings!(max_desc_len = N)`",
                    human_size(*bytes),
                    human_size(CLIENT_SIDE_APPLY_LIMIT)
                ),
                SizeBudget::TooLarge => bail!(
                    "{file} is {}, over the {} etcd stores in one object, so no API server can install it; drop descriptions with `kubeforge::crd_settings!(max_desc_len = 0)` in the API crate (or `#[field(max_desc_len = 0)]` on large embedded types such as a PodTemplateSpec), or split the kind",
                    human_size(*bytes),
                    human_size(ETCD_LIMIT)
                ),
            }
        }
        Ok(())
    }

    fn warn_stale(&self) {
        for path in &self.stale {
            let what = if path.starts_with(chart::CRD_DIR) {
                "delete it".to_string()
            } else {
                format!("delete it and its line in {CRD_KUSTOMIZATION}")
            };
            eprintln!(
                "warning: {} is a CRD of this project that no #[crd] type produces any more; {what}",
                path.display()
            );
        }
    }

    fn warn_moved_roles(&self) {
        for namespace in &self.moved_roles {
            eprintln!(
                "warning: #[rbac(namespace = \"{namespace}\")] makes a Role in {namespace}, but the `namespace:` in {DEFAULT_KUSTOMIZATION} moves it to the operator's namespace when deployed; drop `namespace` to grant it cluster-wide, or deploy that Role outside config/default"
            );
        }
    }
}

/// How `crdgen` is built: which packages Cargo resolves its dependencies'
/// features for (see cargo_bin.rs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrdgenBuild {
    /// The API crate alone, as `kubeforge manifests` builds it: the least
    /// to compile and to check, so manifests after an edit come quickest.
    ApiOnly,
    /// Resolved with the manager's package, as `kubeforge run` builds it:
    /// the manager it builds next then shares every dependency (and the API
    /// crate) with `crdgen` instead of compiling them a second time.
    WithManager,
}

/// Every manifest file as the code says it should be, as a plan of the
/// files that differ from disk.
pub fn plan(root: &Path, project: &Project, build: CrdgenBuild) -> Result<Manifests> {
    let mut plan = Plan::new(root);
    let mut generated = BTreeSet::new();
    let mut crd_sizes = Vec::new();
    let helm = project.has_plugin(Plugin::Helm);
    for crd in crdgen(root, project, build)? {
        let rendered = kubeforge_codegen::crd::render_crd(&crd)?;
        let rel = format!("{CRD_BASES}/{}", rendered.file_name);
        crd_sizes.push((rel.clone(), rendered.json_bytes));
        if helm {
            plan.write_generated(
                format!("{}/{}", chart::CRD_DIR, rendered.file_name),
                chart::crd(&rendered.file_name, &rendered.yaml),
            )?;
        }
        plan.write_generated(&rel, rendered.yaml)?;
        if root.join(CRD_KUSTOMIZATION).exists() {
            plan.insert_at_marker(
                CRD_KUSTOMIZATION,
                Marker::CrdResources,
                &format!("- bases/{}", rendered.file_name),
            )?;
        }
        generated.insert(rendered.file_name);
    }
    let found = Attributes::from_dir(root)?;
    let merged = kubeforge_codegen::rbac::merge(&found.rbac);
    let moved_roles = if sets_namespace(&root.join(DEFAULT_KUSTOMIZATION)) {
        merged.namespaced.keys().cloned().collect()
    } else {
        Vec::new()
    };
    plan_from_source(&mut plan, &found, project.manager_scope(), helm)?;
    let mut stale: Vec<PathBuf> = stale_crds(&root.join(CRD_BASES), &generated, &project.domain)?
        .into_iter()
        .map(|name| Path::new(CRD_BASES).join(name))
        .collect();
    if helm {
        stale.extend(
            stale_chart_crds(&root.join(chart::CRD_DIR), &generated, &project.domain)?
                .into_iter()
                .map(|name| Path::new(chart::CRD_DIR).join(name)),
        );
    }
    Ok(Manifests {
        plan,
        stale,
        moved_roles,
        crd_sizes,
    })
}

/// Plans what comes from source without a build: [`ROLE_FILE`] from the
/// `#[rbac]` attributes, and [`WEBHOOK_FILE`] from the `#[webhook]` ones,
/// and with `helm` their copies in the chart. Without webhooks, no webhook
/// file is planned: a project without webhooks has no such file, and one
/// whose attributes were all removed keeps the file for the user to delete
/// with its kustomization entry.
fn plan_from_source(
    plan: &mut Plan,
    found: &Attributes,
    scope: ManagerScope,
    helm: bool,
) -> Result<()> {
    let role = found.role_yaml(scope);
    if helm {
        plan.write_generated(chart::ROLE_FILE, chart::role(&role))?;
    }
    plan.write_generated(ROLE_FILE, role)?;
    if let Some(yaml) = found.webhook_manifests()? {
        if helm {
            plan.write_generated(chart::WEBHOOK_FILE, chart::webhooks(&yaml))?;
        }
        plan.write_generated(WEBHOOK_FILE, yaml)?;
    }
    Ok(())
}

/// Plans the manifests that come from source (see [`plan_from_source`])
/// for a scaffolding command that leaves `project` as PROJECT: the
/// attributes of the sources on disk, with those the plan creates read
/// from the plan, so `cargo test`, kustomize and the chart see current RBAC
/// and webhooks right after `create api`, `create webhook` or `edit`,
/// without waiting for `kubeforge manifests`.
pub fn plan_project_source_manifests(
    plan: &mut Plan,
    root: &Path,
    project: &Project,
) -> Result<()> {
    plan_source_manifests_for(
        plan,
        root,
        project.manager_scope(),
        project.has_plugin(Plugin::Helm),
    )
}

fn plan_source_manifests_for(
    plan: &mut Plan,
    root: &Path,
    scope: ManagerScope,
    helm: bool,
) -> Result<()> {
    let mut found = Attributes::from_dir(root)?;
    let mut planned: Vec<(PathBuf, String)> = plan
        .created()
        .filter(|(path, _)| path.extension().is_some_and(|e| e == "rs"))
        .map(|(path, text)| (root.join(path), text.to_string()))
        .collect();
    // Files `create api --force` writes again: their new attributes count.
    // Those on disk are an earlier render of the same scaffold (anything
    // else is refused), so keeping both loses no rule.
    for rel in plan.replaced() {
        if rel.extension().is_some_and(|e| e == "rs") {
            planned.push((root.join(rel), plan.read(rel)?));
        }
    }
    found.extend(Attributes::from_sources(planned)?);
    plan_from_source(plan, &found, scope, helm)
}

/// Plans the chart's copies of the project's CRDs already in
/// config/crd/bases (when the helm plugin is turned on: `edit` builds
/// nothing, so the chart starts from what `kubeforge manifests` last
/// wrote, and the next `manifests` rewrites both). CRDs of other API groups
/// there (vendored ones) are not the project's and stay out of the chart.
pub fn plan_chart_crds_from_bases(plan: &mut Plan, root: &Path, project: &Project) -> Result<()> {
    let bases = root.join(CRD_BASES);
    for name in project_crds(&bases, &project.domain)? {
        let yaml = std::fs::read_to_string(bases.join(&name))
            .with_context(|| format!("reading {CRD_BASES}/{name}"))?;
        plan.write_generated(
            format!("{}/{name}", chart::CRD_DIR),
            chart::crd(&name, &yaml),
        )?;
    }
    Ok(())
}

/// Whether a kustomization sets one namespace for everything it deploys.
fn sets_namespace(kustomization: &Path) -> bool {
    std::fs::read_to_string(kustomization)
        .map(|text| text.lines().any(|line| line.starts_with("namespace:")))
        .unwrap_or(false)
}

/// File names in `bases` holding a CRD in `domain`'s API groups that is not
/// among `generated`. CRDs of other groups (vendored ones) are not ours.
fn stale_crds(bases: &Path, generated: &BTreeSet<String>, domain: &str) -> Result<Vec<String>> {
    Ok(project_crds(bases, domain)?
        .into_iter()
        .filter(|name| !generated.contains(name))
        .collect())
}

/// File names in the chart's CRD directory that no `#[crd]` type produces
/// any more. They are templates, not YAML, so whether one is the
/// project's is read from its name (`<group>_<plural>.yaml`, as
/// config/crd/bases names them), which is how [`chart::crd`] files are named.
fn stale_chart_crds(dir: &Path, generated: &BTreeSet<String>, domain: &str) -> Result<Vec<String>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut stale = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let ours = name
            .strip_suffix(".yaml")
            .and_then(|stem| stem.split_once('_'))
            .is_some_and(|(group, _)| group == domain || group.ends_with(&format!(".{domain}")));
        if ours && !generated.contains(&name) {
            stale.push(name);
        }
    }
    stale.sort();
    Ok(stale)
}

/// File names in `bases` holding a CRD in `domain`'s API groups, sorted.
fn project_crds(bases: &Path, domain: &str) -> Result<Vec<String>> {
    if !bases.is_dir() {
        return Ok(Vec::new());
    }
    let mut found = Vec::new();
    for entry in walkdir::WalkDir::new(bases).min_depth(1).max_depth(1) {
        let entry = entry.with_context(|| format!("reading {}", bases.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".yaml") {
            continue;
        }
        let text = std::fs::read_to_string(entry.path())
            .with_context(|| format!("reading {}", entry.path().display()))?;
        let Ok(doc) = serde_saphyr::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        let is_crd = doc["kind"] == "CustomResourceDefinition";
        let group = doc["spec"]["group"].as_str().unwrap_or_default();
        if is_crd && (group == domain || group.ends_with(&format!(".{domain}"))) {
            found.push(name);
        }
    }
    found.sort();
    Ok(found)
}

/// Builds and runs the API crate's `crdgen` binary; returns its CRDs.
fn crdgen(root: &Path, project: &Project, build: CrdgenBuild) -> Result<Vec<serde_json::Value>> {
    let api_crate = format!("{}-api", project.project_name);
    let mut packages = crate::cargo_bin::Packages::one(&api_crate);
    if build == CrdgenBuild::WithManager {
        packages = packages.with(root, format!("{}-manager", project.project_name));
    }
    let crdgen = crate::cargo_bin::build(root, &packages, "crdgen", false)?;
    let output = Command::new(&crdgen)
        .current_dir(root)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("running {}", crdgen.display()))?;
    if !output.status.success() {
        bail!("{api_crate}'s crdgen failed (its message is above)");
    }
    #[derive(serde::Deserialize)]
    struct Output {
        crds: Vec<serde_json::Value>,
    }
    let parsed: Output = serde_json::from_slice(&output.stdout)
        .with_context(|| format!("{api_crate}'s crdgen printed something that is not its JSON"))?;
    Ok(parsed.crds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_crds_are_ours_and_not_generated() {
        let dir = tempfile::tempdir().unwrap();
        let crd = |group: &str| {
            format!(
                "---\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nspec:\n  group: {group}\n"
            )
        };
        std::fs::write(
            dir.path().join("apps.example.com_myapps.yaml"),
            crd("apps.example.com"),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("apps.example.com_olds.yaml"),
            crd("apps.example.com"),
        )
        .unwrap();
        std::fs::write(dir.path().join("vendor.io_things.yaml"), crd("vendor.io")).unwrap();
        std::fs::write(dir.path().join("notes.yaml"), "just: data\n").unwrap();
        let generated = BTreeSet::from(["apps.example.com_myapps.yaml".to_string()]);
        let stale = stale_crds(dir.path(), &generated, "example.com").unwrap();
        assert_eq!(stale, ["apps.example.com_olds.yaml"]);
        let none = stale_crds(&dir.path().join("missing"), &generated, "example.com").unwrap();
        assert!(none.is_empty());
    }

    fn webhook_source(verbs: &str) -> String {
        format!(
            "#[kubeforge::webhook(path = \"/mutate-apps-example-com-v1-myapp\", mutating = true, \
             failure_policy = \"fail\", side_effects = \"None\", groups = [\"apps.example.com\"], \
             resources = [\"myapps\"], verbs = {verbs}, versions = [\"v1\"], \
             name = \"mmyapp-v1.kb.io\", admission_review_versions = [\"v1\"])]\n\
             pub struct MyAppDefaulter;\n"
        )
    }

    #[test]
    fn webhook_manifests_are_written_then_kept_in_step_with_the_code() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir
            .path()
            .join("manager/src/webhook/my_app_v1_defaulter.rs");
        std::fs::create_dir_all(source.parent().unwrap()).unwrap();
        std::fs::write(&source, webhook_source("[\"create\", \"update\"]")).unwrap();

        let planned = |dir: &Path| {
            let mut plan = Plan::new(dir);
            plan_from_source(
                &mut plan,
                &Attributes::from_dir(dir).unwrap(),
                ManagerScope::Cluster,
                false,
            )
            .unwrap();
            plan
        };
        let plan = planned(dir.path());
        let summary: Vec<String> = plan
            .summary()
            .iter()
            .map(|(_, p)| p.display().to_string())
            .collect();
        assert_eq!(summary, [ROLE_FILE, WEBHOOK_FILE]);
        plan.apply().unwrap();
        let written = std::fs::read_to_string(dir.path().join(WEBHOOK_FILE)).unwrap();
        assert!(
            written.contains("kind: MutatingWebhookConfiguration"),
            "{written}"
        );
        assert!(
            written.contains("    - CREATE\n    - UPDATE\n"),
            "{written}"
        );
        // In step: nothing to do (what --check reports as up to date).
        assert!(planned(dir.path()).is_empty());
        // A changed verb is drift.
        std::fs::write(&source, webhook_source("[\"create\"]")).unwrap();
        assert!(!planned(dir.path()).is_empty());
        // Without any #[webhook], an existing file is left alone.
        std::fs::write(&source, "pub struct MyAppDefaulter;\n").unwrap();
        assert!(planned(dir.path()).is_empty());
    }

    /// With the helm plugin, the chart's copies are written with config/'s,
    /// and a copy that differs from the code is drift (what `--check`
    /// reports), whatever config/ says.
    #[test]
    fn chart_copies_are_written_and_kept_in_step_with_the_code() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("defaulter.rs"),
            webhook_source("[\"create\"]"),
        )
        .unwrap();
        let planned = |dir: &Path| {
            let mut plan = Plan::new(dir);
            let found = Attributes::from_dir(dir).unwrap();
            plan_from_source(&mut plan, &found, ManagerScope::Cluster, true).unwrap();
            plan
        };
        let plan = planned(dir.path());
        let summary: Vec<String> = plan
            .summary()
            .iter()
            .map(|(_, p)| p.display().to_string())
            .collect();
        assert_eq!(
            summary,
            [
                ROLE_FILE,
                WEBHOOK_FILE,
                chart::ROLE_FILE,
                chart::WEBHOOK_FILE
            ]
        );
        plan.apply().unwrap();
        let config = std::fs::read_to_string(dir.path().join(WEBHOOK_FILE)).unwrap();
        let copy = std::fs::read_to_string(dir.path().join(chart::WEBHOOK_FILE)).unwrap();
        assert_eq!(copy, chart::webhooks(&config));
        assert!(planned(dir.path()).is_empty());
        let stale = copy.replace("- CREATE", "- DELETE");
        std::fs::write(dir.path().join(chart::WEBHOOK_FILE), stale).unwrap();
        let summary: Vec<String> = planned(dir.path())
            .summary()
            .iter()
            .map(|(_, p)| p.display().to_string())
            .collect();
        assert_eq!(summary, [chart::WEBHOOK_FILE]);
    }

    #[test]
    fn stale_chart_crds_are_named_in_the_projects_groups() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "apps.example.com_myapps.yaml",
            "apps.example.com_olds.yaml",
            "example.com_roots.yaml",
            "vendor.io_things.yaml",
            "notes.txt",
        ] {
            std::fs::write(dir.path().join(name), "{{- if .Values.crd.enable }}\n").unwrap();
        }
        let generated = BTreeSet::from(["apps.example.com_myapps.yaml".to_string()]);
        let stale = stale_chart_crds(dir.path(), &generated, "example.com").unwrap();
        assert_eq!(
            stale,
            ["apps.example.com_olds.yaml", "example.com_roots.yaml"]
        );
    }

    #[test]
    fn two_webhooks_with_one_name_fail_naming_both_files() {
        let dir = tempfile::tempdir().unwrap();
        for file in ["a.rs", "b.rs"] {
            std::fs::write(dir.path().join(file), webhook_source("\"create\"")).unwrap();
        }
        let mut plan = Plan::new(dir.path());
        let found = Attributes::from_dir(dir.path()).unwrap();
        let err = plan_from_source(&mut plan, &found, ManagerScope::Cluster, false)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("b.rs:1:1: webhook name `mmyapp-v1.kb.io` is already used at "),
            "{err}"
        );
        assert!(err.contains("a.rs:1:1;"), "{err}");
    }

    fn with_sizes(sizes: &[usize]) -> Manifests {
        Manifests {
            plan: Plan::in_memory(),
            stale: Vec::new(),
            moved_roles: Vec::new(),
            crd_sizes: sizes
                .iter()
                .enumerate()
                .map(|(i, b)| (format!("config/crd/bases/g_k{i}s.yaml"), *b))
                .collect(),
        }
    }

    #[test]
    fn crds_etcd_cannot_store_fail_naming_the_file_and_the_fix() {
        assert!(
            with_sizes(&[10_000, CLIENT_SIDE_APPLY_LIMIT + 1])
                .check_sizes()
                .is_ok()
        );
        let err = with_sizes(&[10_000, ETCD_LIMIT + 1])
            .check_sizes()
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("config/crd/bases/g_k1s.yaml is 1.5 MiB, over the 1.5 MiB etcd stores"),
            "{err}"
        );
        assert!(err.contains("max_desc_len = 0"), "{err}");
    }

    #[test]
    fn only_a_kustomization_with_one_namespace_moves_roles() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("kustomization.yaml");
        assert!(!sets_namespace(&file), "no kustomization");
        std::fs::write(&file, "# namespace: commented\nresources:\n- ../crd\n").unwrap();
        assert!(!sets_namespace(&file));
        std::fs::write(&file, "namespace: myapp-system\nnamePrefix: myapp-\n").unwrap();
        assert!(sets_namespace(&file));
    }
}
