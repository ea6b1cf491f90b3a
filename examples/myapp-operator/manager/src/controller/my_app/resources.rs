// Copyright the project authors.
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
//     http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.

//! The objects a MyApp owns or records, built from its spec.
//!
//! Pure functions, so unit tests can check exactly what the controller will
//! apply without a cluster, and the reconciler stays a short list of steps.

use std::collections::BTreeMap;

use kubeforge::k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use kubeforge::k8s_openapi::api::core::v1::{
    ConfigMap, Container, ContainerPort, PodSpec, PodTemplateSpec, Service, ServicePort,
    ServiceSpec,
};
use kubeforge::k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, OwnerReference};
use kubeforge::k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kubeforge::kube::ResourceExt as _;
use kubeforge::kube::api::ObjectMeta;
use kubeforge::kube::runtime::reflector::ObjectRef;
use serde_json::Value;

use myapp_api::apps::v1::MyApp;

/// `app.kubernetes.io/managed-by` on everything the controller creates. The
/// controller watches only Deployments and Services carrying it, so it does
/// not cache every Deployment in the cluster.
pub const MANAGED_BY: &str = "myapp-operator";

/// The namespace holding one ConfigMap per MyApp (see [`registry_entry`]):
/// the operator's own (`POD_NAMESPACE`, which config/manager sets from the
/// pod), so installing the operator creates it; creating namespaces is a
/// cluster administrator's call, not this operator's. Outside a cluster
/// (`kubeforge run`, tests) it is `default`, which every cluster has.
pub fn registry_namespace() -> String {
    std::env::var("POD_NAMESPACE")
        .ok()
        .filter(|namespace| !namespace.trim().is_empty())
        .unwrap_or_else(|| "default".to_owned())
}

/// The port name shared by the container and the Service's `targetPort`, so
/// the Service follows the container if the port number changes.
const PORT_NAME: &str = "http";

/// The labels selecting a MyApp's pods. A Deployment's selector is immutable,
/// so these depend only on the MyApp's name, never on its spec.
pub fn selector_labels(app: &MyApp) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_owned(), "myapp".to_owned()),
        ("app.kubernetes.io/instance".to_owned(), app.name_any()),
    ])
}

/// The selector labels plus [`MANAGED_BY`], for every object and pod.
fn labels(app: &MyApp) -> BTreeMap<String, String> {
    let mut labels = selector_labels(app);
    labels.insert(
        "app.kubernetes.io/managed-by".to_owned(),
        MANAGED_BY.to_owned(),
    );
    labels
}

/// Metadata of an owned object: named after the MyApp, in its namespace,
/// with `owner` (a controller reference) so deleting the MyApp lets the
/// garbage collector delete the object, and so `Controller::owns` maps the
/// object's events back to the MyApp.
fn owned_metadata(app: &MyApp, owner: &OwnerReference) -> ObjectMeta {
    ObjectMeta {
        name: Some(app.name_any()),
        namespace: app.namespace(),
        labels: Some(labels(app)),
        owner_references: Some(vec![owner.clone()]),
        ..ObjectMeta::default()
    }
}

// ANCHOR: deployment
/// The Deployment running the MyApp's pods.
pub fn deployment(app: &MyApp, owner: &OwnerReference) -> Deployment {
    let container = Container {
        name: "app".to_owned(),
        image: Some(app.spec.image.clone()),
        ports: Some(vec![ContainerPort {
            name: Some(PORT_NAME.to_owned()),
            container_port: app.spec.port,
            // Part of the list's merge key; spelled out so server-side
            // apply never has to guess it.
            protocol: Some("TCP".to_owned()),
            ..ContainerPort::default()
        }]),
        ..Container::default()
    };
    Deployment {
        metadata: owned_metadata(app, owner),
        spec: DeploymentSpec {
            replicas: Some(app.spec.replicas),
            selector: LabelSelector {
                match_labels: Some(selector_labels(app)),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels(app)),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![container],
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        },
        status: None,
    }
}
// ANCHOR_END: deployment

/// The ClusterIP Service in front of the MyApp's pods.
pub fn service(app: &MyApp, owner: &OwnerReference) -> Service {
    Service {
        metadata: owned_metadata(app, owner),
        spec: Some(ServiceSpec {
            selector: Some(selector_labels(app)),
            ports: Some(vec![ServicePort {
                name: Some(PORT_NAME.to_owned()),
                port: app.spec.port,
                protocol: Some("TCP".to_owned()),
                target_port: Some(IntOrString::String(PORT_NAME.to_owned())),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

/// The name of a MyApp's registry entry, `<namespace>.<name>`: unambiguous,
/// because namespace names cannot contain a dot.
pub fn registry_name(app: &MyApp) -> String {
    format!("{}.{}", app.namespace().unwrap_or_default(), app.name_any())
}

/// The MyApp's entry in the registry namespace: a record, outside the MyApp's
/// namespace, of which apps exist and what they run (a stand-in for any
/// external system an operator keeps in sync: DNS, a service catalog, ...).
///
/// Owner references cannot cross namespaces, so the garbage collector would
/// never delete it; the controller's finalizer does.
pub fn registry_entry(app: &MyApp, registry_namespace: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(registry_name(app)),
            namespace: Some(registry_namespace.to_owned()),
            labels: Some(BTreeMap::from([(
                "app.kubernetes.io/managed-by".to_owned(),
                MANAGED_BY.to_owned(),
            )])),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([
            ("namespace".to_owned(), app.namespace().unwrap_or_default()),
            ("name".to_owned(), app.name_any()),
            ("image".to_owned(), app.spec.image.clone()),
            ("port".to_owned(), app.spec.port.to_string()),
        ])),
        ..ConfigMap::default()
    }
}

/// The MyApp a registry entry records, from its data (owner references
/// cannot point across namespaces); `None` for a ConfigMap that is not an
/// entry.
pub fn registry_owner(entry: &ConfigMap) -> Option<ObjectRef<MyApp>> {
    let data = entry.data.as_ref()?;
    let (namespace, name) = (data.get("namespace")?, data.get("name")?);
    Some(ObjectRef::new(name).within(namespace))
}

/// Whether every field set in `desired` has the same value in `actual`.
///
/// The API server adds defaults and fields that other actors own (status,
/// `clusterIP`, annotations, ...), so equality would never hold; what
/// matters is whether applying `desired` would change anything. Lists must
/// match element by element, since the controller owns the whole list.
pub fn is_subset(desired: &Value, actual: &Value) -> bool {
    match (desired, actual) {
        (Value::Object(desired), Value::Object(actual)) => desired
            .iter()
            .all(|(key, value)| actual.get(key).is_some_and(|a| is_subset(value, a))),
        (Value::Array(desired), Value::Array(actual)) => {
            desired.len() == actual.len()
                && desired.iter().zip(actual).all(|(d, a)| is_subset(d, a))
        }
        (desired, actual) => desired == actual,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kubeforge::kube::Resource as _;
    use myapp_api::apps::v1::MyAppSpec;
    use serde_json::json;

    fn app() -> MyApp {
        let mut app = MyApp::new(
            "web",
            MyAppSpec {
                replicas: 3,
                image: "nginx:1.27".into(),
                port: 8080,
            },
        );
        app.metadata.namespace = Some("shop".into());
        app.metadata.uid = Some("1234".into());
        app
    }

    fn owner(app: &MyApp) -> OwnerReference {
        app.controller_owner_ref(&()).expect("named, with a uid")
    }

    #[test]
    fn deployment_runs_the_spec() {
        let app = app();
        let d = deployment(&app, &owner(&app));
        assert_eq!(d.metadata.name.as_deref(), Some("web"));
        assert_eq!(d.metadata.namespace.as_deref(), Some("shop"));
        let spec = d.spec;
        assert_eq!(spec.replicas, Some(3));
        let pod = spec.template.spec.expect("pod spec");
        assert_eq!(pod.containers.len(), 1);
        assert_eq!(pod.containers[0].image.as_deref(), Some("nginx:1.27"));
        let ports = pod.containers[0].ports.as_ref().expect("ports");
        assert_eq!(ports[0].container_port, 8080);
        assert_eq!(ports[0].name.as_deref(), Some("http"));
    }

    #[test]
    fn deployment_selects_its_own_pods() {
        let app = app();
        let spec = deployment(&app, &owner(&app)).spec;
        let selector = spec.selector.match_labels.expect("match labels");
        let pod_labels = spec
            .template
            .metadata
            .and_then(|m| m.labels)
            .expect("labels");
        assert!(selector.iter().all(|(k, v)| pod_labels.get(k) == Some(v)));
        assert_eq!(
            selector
                .get("app.kubernetes.io/instance")
                .map(String::as_str),
            Some("web")
        );
    }

    #[test]
    fn owned_objects_have_a_controller_reference() {
        let app = app();
        for meta in [
            deployment(&app, &owner(&app)).metadata,
            service(&app, &owner(&app)).metadata,
        ] {
            let refs = meta.owner_references.expect("owner references");
            assert_eq!(refs.len(), 1);
            assert_eq!(refs[0].kind, "MyApp");
            assert_eq!(refs[0].uid, "1234");
            assert_eq!(refs[0].controller, Some(true));
            assert_eq!(
                meta.labels
                    .expect("labels")
                    .get("app.kubernetes.io/managed-by")
                    .map(String::as_str),
                Some(MANAGED_BY)
            );
        }
        assert_eq!(
            kubeforge::lean::managed_by_selector(MANAGED_BY),
            format!("app.kubernetes.io/managed-by={MANAGED_BY}"),
            "the controller's watches select what these objects carry"
        );
    }

    #[test]
    fn service_exposes_the_port_by_name() {
        let app = app();
        let spec = service(&app, &owner(&app)).spec.expect("spec");
        let ports = spec.ports.expect("ports");
        assert_eq!(ports.len(), 1);
        assert_eq!(ports[0].port, 8080);
        assert_eq!(
            ports[0].target_port,
            Some(IntOrString::String("http".into()))
        );
        assert_eq!(spec.selector, Some(selector_labels(&app)));
    }

    #[test]
    fn registry_entry_lives_outside_the_apps_namespace() {
        let entry = registry_entry(&app(), "myapp-system");
        assert_eq!(entry.metadata.name.as_deref(), Some("shop.web"));
        assert_eq!(entry.metadata.namespace.as_deref(), Some("myapp-system"));
        assert!(entry.metadata.owner_references.is_none());
        let data = entry.data.expect("data");
        assert_eq!(data.get("image").map(String::as_str), Some("nginx:1.27"));
        assert_eq!(data.get("port").map(String::as_str), Some("8080"));
    }

    #[test]
    fn a_registry_entry_leads_back_to_its_myapp() {
        let entry = registry_entry(&app(), "myapp-system");
        assert_eq!(
            registry_owner(&entry),
            Some(ObjectRef::new("web").within("shop"))
        );
        assert_eq!(registry_owner(&ConfigMap::default()), None);
    }

    #[test]
    fn subset_ignores_fields_the_server_adds() {
        let desired = json!({"spec": {"replicas": 1, "ports": [{"port": 80}]}});
        let actual = json!({
            "spec": {"replicas": 1, "ports": [{"port": 80, "protocol": "TCP"}], "clusterIP": "10.0.0.1"},
            "status": {},
        });
        assert!(is_subset(&desired, &actual));
    }

    #[test]
    fn subset_detects_changed_missing_and_extra_items() {
        let desired = json!({"spec": {"replicas": 1, "ports": [{"port": 80}]}});
        let scaled = json!({"spec": {"replicas": 5, "ports": [{"port": 80}]}});
        let missing = json!({"spec": {"ports": [{"port": 80}]}});
        let extra = json!({"spec": {"replicas": 1, "ports": [{"port": 80}, {"port": 81}]}});
        assert!(!is_subset(&desired, &scaled));
        assert!(!is_subset(&desired, &missing));
        assert!(!is_subset(&desired, &extra));
    }
}
