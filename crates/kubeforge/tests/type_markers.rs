//! controller-gen's type- and kind-level markers, kubeforge's way:
//! `exactly_one_of` / `at_most_one_of` / `at_least_one_of` (on the Spec and
//! on a nested `#[schema]` type), `list_type` / `list_map_keys` on a newtype
//! over a `Vec`, `root_validation` and `root_external_docs` on the kind, and
//! `skip_version`.
//!
//! The kinds below are the Rust spelling of the Go types in
//! tests/controller_gen_types/ (its README has the controller-gen command);
//! their CRDs are compared, descriptions aside, with what controller-gen
//! v0.22.0 wrote for those types. With the `runtime` feature the same CRDs
//! go to a real API server, which must accept them and enforce the rules.

use kubeforge::serde_json::{self, Value};

mod support;
use support::crd_compare::{differences, rendered_crd as ours, without_descriptions};

pub mod v1 {
    /// Choice picks one of several alternatives.
    ///
    /// The one-of keys are out of order on purpose: the rules come out in
    /// controller-gen's order (validation, at most, exactly, at least).
    #[kubeforge::crd(
        group = "markers.example.com",
        version = "v1",
        kind = "Choice",
        at_least_one_of = ["email", "phone"],
        exactly_one_of = ["http", "grpc"],
        validation(rule = "self.replicas >= 0", message = "replicas is not negative"),
        at_most_one_of = ["configMapRef", "secretRef"],
        exactly_one_of = ["tcp", "udp"],
        root_validation(rule = "self.metadata.name.size() <= 20", message = "name is at most 20 characters"),
        root_validation(
            rule = "!has(self.spec.http) || self.metadata.name.startsWith('web-')",
            message = "an http choice is named web-*",
            reason = "FieldValueForbidden",
            field_path = ".spec.http",
        ),
        root_external_docs(url = "https://example.com/choice", description = "About choices"),
    )]
    #[serde(rename_all = "camelCase")]
    pub struct ChoiceSpec {
        /// http endpoint.
        pub http: Option<Endpoint>,
        /// grpc endpoint.
        pub grpc: Option<Endpoint>,
        /// configMapRef names a ConfigMap.
        pub config_map_ref: Option<String>,
        /// secretRef names a Secret.
        pub secret_ref: Option<String>,
        /// email to notify.
        pub email: Option<String>,
        /// phone to call.
        pub phone: Option<String>,
        /// tcp port.
        pub tcp: Option<i32>,
        /// udp port.
        pub udp: Option<i32>,
        /// replicas to run.
        pub replicas: i32,
        /// ports, merged by name and protocol.
        pub ports: Option<Ports>,
        /// tags, each at most once.
        pub tags: Option<Tags>,
        /// args, replaced as a whole.
        pub args: Option<Args>,
    }

    /// Endpoint is reached by host name or by IP address, not both.
    #[kubeforge::schema(at_most_one_of = ["host", "ip"])]
    pub struct Endpoint {
        /// host name.
        pub host: Option<String>,
        /// ip address.
        pub ip: Option<String>,
        /// port number.
        pub port: i32,
    }

    /// Ports is a list of ports keyed by name and protocol.
    #[kubeforge::schema(list_type = "map", list_map_keys = ["name", "protocol"])]
    pub struct Ports(pub Vec<Port>);

    /// Port is one named port.
    #[kubeforge::schema]
    pub struct Port {
        /// name of the port.
        pub name: String,
        /// protocol of the port.
        pub protocol: String,
        /// number of the port.
        pub number: i32,
    }

    /// Tags is a set of strings.
    #[kubeforge::schema(list_type = "set")]
    pub struct Tags(pub Vec<String>);

    /// Args is an atomic list of strings.
    #[kubeforge::schema(list_type = "atomic")]
    pub struct Args(pub Vec<String>);

    /// Shape has two versions; v2 is skipped.
    #[kubeforge::crd(group = "markers.example.com", version = "v1", kind = "Shape")]
    pub struct ShapeSpec {
        /// sides of the shape.
        pub sides: i32,
    }

    /// Ghost has only a skipped version, so it has no CRD at all.
    #[kubeforge::crd(
        group = "markers.example.com",
        version = "v1",
        kind = "Ghost",
        skip_version
    )]
    pub struct GhostSpec {
        /// name of the ghost.
        pub name: String,
    }
}

pub mod v2 {
    /// Shape has two versions; this one is skipped (and still a Rust type).
    #[kubeforge::crd(
        group = "markers.example.com",
        version = "v2",
        kind = "Shape",
        skip_version
    )]
    pub struct ShapeSpec {
        /// corners of the shape.
        pub corners: i32,
    }
}

/// What controller-gen wrote into tests/controller_gen_types/.
fn controller_gen(file: &str) -> Value {
    let path = format!(
        "{}/tests/controller_gen_types/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The whole CRD but its `metadata.annotations` (controller-gen signs its
/// files with its version) and descriptions.
fn comparable(mut crd: Value) -> Value {
    if let Some(metadata) = crd["metadata"].as_object_mut() {
        metadata.remove("annotations");
    }
    without_descriptions(&mut crd["spec"]);
    crd
}

fn assert_same(name: &str, file: &str) {
    let mut diffs = Vec::new();
    differences(
        &comparable(ours(name)),
        &comparable(controller_gen(file)),
        "",
        &mut diffs,
    );
    assert!(
        diffs.is_empty(),
        "{name}: {} differences:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

#[test]
fn one_of_rules_list_types_and_root_rules_are_controller_gens() {
    assert_same(
        "choices.markers.example.com",
        "markers.example.com_choices.yaml",
    );
}

#[test]
fn a_skipped_version_is_left_out_like_controller_gen_does() {
    assert_same(
        "shapes.markers.example.com",
        "markers.example.com_shapes.yaml",
    );
    // The Rust type of the skipped version is still there.
    assert_eq!(
        v2::Shape::crd().spec.versions[0].name,
        "v2",
        "kube still derives the skipped version's type"
    );
}

/// A kind whose only version is skipped has no CRD. controller-gen writes
/// none for it either, only a stray empty `_.yaml` (a nameless CRD without
/// versions, which no API server accepts); kubeforge writes nothing.
#[test]
fn a_kind_with_every_version_skipped_has_no_crd() {
    let names: Vec<String> = kubeforge::manifests::all_crds()
        .expect("registered CRDs merge")
        .into_iter()
        .filter_map(|c| c.metadata.name)
        .collect();
    assert_eq!(
        names,
        ["choices.markers.example.com", "shapes.markers.example.com"]
    );
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/controller_gen_types");
    assert!(
        !std::path::Path::new(dir)
            .join("markers.example.com_ghosts.yaml")
            .exists()
    );
    let stray = controller_gen("_.yaml");
    assert!(stray["metadata"].get("name").is_none(), "{stray}");
    assert_eq!(stray["spec"]["versions"], Value::Null, "{stray}");
}

/// The rules spelled out, so a change in the fixture cannot hide one.
#[test]
fn the_rules_say_what_controller_gen_says() {
    let crd = ours("choices.markers.example.com");
    let root = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
    let rules = |v: &Value| -> Vec<(String, String)> {
        v["x-kubernetes-validations"]
            .as_array()
            .expect("x-kubernetes-validations")
            .iter()
            .map(|r| {
                (
                    r["rule"].as_str().unwrap_or_default().to_string(),
                    r["message"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    };
    let pair = |r: &str, m: &str| (r.to_string(), m.to_string());
    assert_eq!(
        rules(&root["properties"]["spec"]),
        [
            pair("self.replicas >= 0", "replicas is not negative"),
            pair(
                "(has(self.configMapRef)?1:0)+(has(self.secretRef)?1:0) <= 1",
                "at most one of the fields in [configMapRef secretRef] may be set"
            ),
            pair(
                "(has(self.http)?1:0)+(has(self.grpc)?1:0) == 1",
                "exactly one of the fields in [http grpc] must be set"
            ),
            pair(
                "(has(self.tcp)?1:0)+(has(self.udp)?1:0) == 1",
                "exactly one of the fields in [tcp udp] must be set"
            ),
            pair(
                "has(self.email)||has(self.phone)",
                "at least one of the fields in [email phone] must be set"
            ),
        ]
    );
    assert_eq!(
        rules(root)[0],
        pair(
            "self.metadata.name.size() <= 20",
            "name is at most 20 characters"
        )
    );
    assert_eq!(
        root["x-kubernetes-validations"][1]["reason"],
        "FieldValueForbidden"
    );
    assert_eq!(
        root["x-kubernetes-validations"][1]["fieldPath"],
        ".spec.http"
    );
    assert_eq!(root["externalDocs"]["url"], "https://example.com/choice");
    let ports = &root["properties"]["spec"]["properties"]["ports"];
    assert_eq!(ports["x-kubernetes-list-type"], "map");
    assert_eq!(
        ports["x-kubernetes-list-map-keys"],
        serde_json::json!(["name", "protocol"])
    );
}

/// The newtype is the `Vec` on the wire, both ways.
#[test]
fn a_list_newtype_is_its_vec_in_json() {
    let spec: v1::ChoiceSpec = serde_json::from_value(serde_json::json!({
        "replicas": 1,
        "ports": [{"name": "http", "protocol": "TCP", "number": 80}],
        "tags": ["a"],
    }))
    .expect("a list deserializes into the newtype");
    let back = serde_json::to_value(&spec).expect("serializes");
    assert_eq!(back["ports"][0]["number"], 80);
    assert_eq!(back["tags"], serde_json::json!(["a"]));
}

#[cfg(feature = "runtime")]
mod envtest {
    use kube::Api;
    use kube::api::{ApiResource, DynamicObject, Patch, PatchParams, PostParams};
    use kubeforge::k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use kubeforge_envtest::Environment;
    use serde_json::{Value, json};

    fn choice(name: &str, spec: Value) -> Value {
        json!({
            "apiVersion": "markers.example.com/v1",
            "kind": "Choice",
            "metadata": {"name": name},
            "spec": spec,
        })
    }

    /// Creates the object, expects 422 Invalid and returns the message.
    async fn rejected(api: &Api<DynamicObject>, object: Value) -> String {
        let object: DynamicObject = serde_json::from_value(object).expect("an object");
        match api.create(&PostParams::default(), &object).await {
            Ok(_) => panic!("the server accepted {:?}", object.data),
            Err(kube::Error::Api(status)) => {
                assert_eq!(status.code, 422, "{status:?}");
                status.message
            }
            Err(e) => panic!("unexpected error {e}"),
        }
    }

    #[tokio::test]
    async fn the_api_server_enforces_the_type_and_kind_markers() {
        let env = Environment::builder()
            .crds(kubeforge::manifests::all_crds().expect("registered CRDs merge"))
            .start()
            .await
            .expect("the API server accepts the Choice and Shape CRDs");
        let client = env.client();

        // The server keeps the root's rules and external docs.
        let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
        let served = crds
            .get("choices.markers.example.com")
            .await
            .expect("installed");
        let root = serde_json::to_value(&served.spec.versions[0].schema).expect("schema");
        let root = &root["openAPIV3Schema"];
        assert_eq!(root["externalDocs"]["url"], "https://example.com/choice");
        assert_eq!(
            root["x-kubernetes-validations"][0]["rule"],
            "self.metadata.name.size() <= 20"
        );
        let shapes = crds
            .get("shapes.markers.example.com")
            .await
            .expect("installed");
        let versions: Vec<&str> = shapes
            .spec
            .versions
            .iter()
            .map(|v| v.name.as_str())
            .collect();
        assert_eq!(versions, ["v1"], "the skipped v2 is not served");

        let resource = ApiResource::erase::<super::v1::Choice>(&());
        let api: Api<DynamicObject> = Api::namespaced_with(client, "default", &resource);
        let valid =
            json!({"http": {"port": 80}, "tcp": 1, "email": "a@example.com", "replicas": 1});
        let object: DynamicObject =
            serde_json::from_value(choice("web-valid", valid.clone())).expect("an object");
        api.create(&PostParams::default(), &object)
            .await
            .expect("a valid Choice is accepted");

        // exactly_one_of, with controller-gen's message.
        let mut both = valid.clone();
        both["grpc"] = json!({"port": 81});
        let message = rejected(&api, choice("web-both", both)).await;
        assert!(
            message.contains(
                "spec: Invalid value: exactly one of the fields in [http grpc] must be set"
            ),
            "{message}"
        );
        let mut neither = valid.clone();
        neither.as_object_mut().map(|s| s.remove("http"));
        let message = rejected(&api, choice("neither", neither)).await;
        assert!(
            message.contains("exactly one of the fields in [http grpc] must be set"),
            "{message}"
        );

        // at_most_one_of on a nested #[schema] type.
        let mut host_and_ip = valid.clone();
        host_and_ip["http"] = json!({"port": 80, "host": "a", "ip": "10.0.0.1"});
        let message = rejected(&api, choice("web-host-ip", host_and_ip)).await;
        assert!(
            message.contains(
                "spec.http: Invalid value: at most one of the fields in [host ip] may be set"
            ),
            "{message}"
        );

        // at_least_one_of.
        let mut no_contact = valid.clone();
        no_contact.as_object_mut().map(|s| s.remove("email"));
        let message = rejected(&api, choice("web-no-contact", no_contact)).await;
        assert!(
            message.contains("at least one of the fields in [email phone] must be set"),
            "{message}"
        );

        // Root rules see metadata.name; the second reports at its fieldPath
        // with its reason.
        let message = rejected(&api, choice("web-a-name-longer-than-twenty", valid.clone())).await;
        assert!(
            message.contains("name is at most 20 characters"),
            "{message}"
        );
        let message = rejected(&api, choice("plain", valid.clone())).await;
        assert!(
            message.contains("spec.http: Forbidden: an http choice is named web-*"),
            "{message}"
        );

        // The list-map newtype: two field managers own one port each.
        let ports = |port: Value| {
            let mut spec = valid.clone();
            spec["ports"] = json!([port]);
            choice("web-valid", spec)
        };
        api.patch(
            "web-valid",
            &PatchParams::apply("alpha"),
            &Patch::Apply(ports(
                json!({"name": "web", "protocol": "TCP", "number": 80}),
            )),
        )
        .await
        .expect("alpha applies its port");
        api.patch(
            "web-valid",
            &PatchParams::apply("beta"),
            &Patch::Apply(ports(
                json!({"name": "web", "protocol": "UDP", "number": 81}),
            )),
        )
        .await
        .expect("beta applies a port with another key, without a conflict");
        let both = api.get("web-valid").await.expect("read back");
        let keys: Vec<(&str, &str)> = both.data["spec"]["ports"]
            .as_array()
            .expect("ports")
            .iter()
            .map(|p| {
                (
                    p["name"].as_str().unwrap_or_default(),
                    p["protocol"].as_str().unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(keys, [("web", "TCP"), ("web", "UDP")]);
    }
}
