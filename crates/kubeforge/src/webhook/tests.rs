//! Handler tests: AdmissionReviews and ConversionReviews in, responses out,
//! and the router over plain HTTP.

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use kube::CustomResource;
use kube::core::conversion::ConversionReview;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::admission::{Reply, defaulting_patch, handle_default, handle_validate};
use super::*;

mod v1 {
    use super::*;

    /// The hub.
    #[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
    #[kube(group = "apps.example.com", version = "v1", kind = "MyApp", namespaced)]
    pub struct MyAppSpec {
        pub image: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub replicas: Option<i32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub tier: Option<String>,
    }
}

mod v1beta1 {
    use super::*;

    /// A spoke: `size` is the hub's `replicas`, required here.
    #[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
    #[kube(
        group = "apps.example.com",
        version = "v1beta1",
        kind = "MyApp",
        namespaced
    )]
    pub struct MyAppSpec {
        pub image: String,
        pub size: i32,
    }
}

mod other {
    use super::*;

    #[derive(CustomResource, Serialize, Deserialize, Clone, Debug, JsonSchema)]
    #[kube(
        group = "batch.tutorial.kubebuilder.io",
        version = "v1",
        kind = "CronJob"
    )]
    pub struct CronJobSpec {
        pub schedule: String,
    }
}

/// Deliberately drops the metadata: kubeforge must keep it anyway.
impl From<v1beta1::MyApp> for v1::MyApp {
    fn from(old: v1beta1::MyApp) -> Self {
        v1::MyApp::new(
            "",
            v1::MyAppSpec {
                image: old.spec.image,
                replicas: Some(old.spec.size),
                tier: None,
            },
        )
    }
}

impl From<v1::MyApp> for v1beta1::MyApp {
    fn from(hub: v1::MyApp) -> Self {
        let mut spoke = v1beta1::MyApp::new(
            "",
            v1beta1::MyAppSpec {
                image: hub.spec.image,
                size: hub.spec.replicas.unwrap_or(1),
            },
        );
        spoke.metadata = hub.metadata;
        spoke
    }
}

fn my_app(spec: Value) -> Value {
    json!({
        "apiVersion": "apps.example.com/v1",
        "kind": "MyApp",
        "metadata": {"name": "demo", "namespace": "default", "creationTimestamp": null},
        "spec": spec,
    })
}

fn admission_review(
    operation: &str,
    object: Option<Value>,
    old_object: Option<Value>,
    dry_run: bool,
) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
            "kind": {"group": "apps.example.com", "version": "v1", "kind": "MyApp"},
            "resource": {"group": "apps.example.com", "version": "v1", "resource": "myapps"},
            "name": "demo",
            "namespace": "default",
            "operation": operation,
            "userInfo": {"username": "alice"},
            "object": object,
            "oldObject": old_object,
            "dryRun": dry_run,
        }
    }))
    .unwrap()
}

/// The review's `response`, which must echo the request's uid.
fn response(reply: Reply) -> Value {
    match reply {
        Reply::Review(review) => {
            assert_eq!(review["apiVersion"], "admission.k8s.io/v1", "{review}");
            assert_eq!(review["kind"], "AdmissionReview", "{review}");
            let response = review["response"].clone();
            assert_eq!(response["uid"], "705ab4f5-6393-11e8-b7cc-42010a800002");
            response
        }
        Reply::BadRequest(message) => panic!("unexpected 400: {message}"),
    }
}

/// The response's patch, decoded from base64.
fn patch_of(response: &Value) -> json_patch::Patch {
    let encoded = response["patch"]
        .as_str()
        .unwrap_or_else(|| panic!("no base64 patch in {response}"));
    assert_eq!(response["patchType"], "JSONPatch");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// Adds a label and a default replica count; a dry run is recorded.
#[derive(Default)]
struct LabelDefaulter {
    dry_runs: Mutex<Vec<bool>>,
}

impl Defaulter<v1::MyApp> for LabelDefaulter {
    async fn set_defaults(
        &self,
        ctx: &AdmissionContext,
        obj: &mut v1::MyApp,
    ) -> Result<(), Denial> {
        self.dry_runs.lock().unwrap().push(ctx.dry_run);
        if obj.spec.image == "forbidden" {
            return Err(Denial::field("spec.image", "may not be \"forbidden\""));
        }
        obj.metadata
            .labels
            .get_or_insert_default()
            .insert("app.kubernetes.io/name".into(), "demo".into());
        obj.spec.replicas.get_or_insert(1);
        Ok(())
    }
}

#[tokio::test]
async fn defaulting_answers_with_a_json_patch_of_the_changes() {
    let defaulter = LabelDefaulter::default();
    let object = my_app(json!({"image": "nginx"}));
    let reply = handle_default::<v1::MyApp, _>(
        &defaulter,
        &admission_review("CREATE", Some(object.clone()), None, false),
    )
    .await;
    let response = response(reply);
    assert_eq!(response["allowed"], true, "{response}");
    let patch = patch_of(&response);
    let mut operations = serde_json::to_value(&patch).unwrap();
    operations
        .as_array_mut()
        .unwrap()
        .sort_by_key(|op| op["path"].to_string());
    assert_eq!(
        operations,
        json!([
            {"op": "add", "path": "/metadata/labels", "value": {"app.kubernetes.io/name": "demo"}},
            {"op": "add", "path": "/spec/replicas", "value": 1},
        ]),
        "creationTimestamp: null is not removed, and nothing else changes"
    );
    let mut patched = object;
    json_patch::patch(&mut patched, &patch).unwrap();
    assert_eq!(
        patched["metadata"]["labels"]["app.kubernetes.io/name"],
        "demo"
    );
    assert_eq!(*defaulter.dry_runs.lock().unwrap(), [false]);
}

#[tokio::test]
async fn a_label_added_to_existing_labels_is_one_add_operation() {
    let mut object = my_app(json!({"image": "nginx", "replicas": 3}));
    object["metadata"]["labels"] = json!({"team": "a"});
    let reply = handle_default::<v1::MyApp, _>(
        &LabelDefaulter::default(),
        &admission_review("UPDATE", Some(object.clone()), Some(object), false),
    )
    .await;
    let response = response(reply);
    assert_eq!(
        serde_json::to_value(patch_of(&response)).unwrap(),
        json!([{"op": "add", "path": "/metadata/labels/app.kubernetes.io~1name", "value": "demo"}])
    );
}

#[tokio::test]
async fn nothing_to_default_means_no_patch() {
    let mut object = my_app(json!({"image": "nginx", "replicas": 2}));
    object["metadata"]["labels"] = json!({"app.kubernetes.io/name": "demo"});
    let response = response(
        handle_default::<v1::MyApp, _>(
            &LabelDefaulter::default(),
            &admission_review("CREATE", Some(object), None, false),
        )
        .await,
    );
    assert_eq!(response["allowed"], true);
    assert!(response.get("patch").is_none(), "{response}");
    assert!(response.get("patchType").is_none(), "{response}");
}

#[tokio::test]
async fn the_dry_run_flag_reaches_the_defaulter_and_deletes_skip_it() {
    let defaulter = LabelDefaulter::default();
    let object = my_app(json!({"image": "nginx"}));
    let response = response(
        handle_default::<v1::MyApp, _>(
            &defaulter,
            &admission_review("CREATE", Some(object.clone()), None, true),
        )
        .await,
    );
    assert!(
        response["patch"].is_string(),
        "a dry run is still defaulted"
    );
    let deleted = response_of_delete(&defaulter, object).await;
    assert_eq!(deleted["allowed"], true);
    assert_eq!(
        *defaulter.dry_runs.lock().unwrap(),
        [true],
        "not called on delete"
    );
}

async fn response_of_delete(defaulter: &LabelDefaulter, object: Value) -> Value {
    response(
        handle_default::<v1::MyApp, _>(
            defaulter,
            &admission_review("DELETE", None, Some(object), false),
        )
        .await,
    )
}

#[tokio::test]
async fn a_defaulter_can_deny() {
    let response = response(
        handle_default::<v1::MyApp, _>(
            &LabelDefaulter::default(),
            &admission_review(
                "CREATE",
                Some(my_app(json!({"image": "forbidden"}))),
                None,
                false,
            ),
        )
        .await,
    );
    assert_eq!(response["allowed"], false);
    assert_eq!(
        response["status"]["message"],
        "spec.image: may not be \"forbidden\""
    );
    assert!(response.get("patch").is_none());
}

#[test]
fn removals_are_left_out_of_defaulting_patches_unless_asked_for() {
    let original = json!({
        "spec": {"image": "nginx", "unknownToK": true, "ports": [1, 2, 3], "tier": "web"},
    });
    let defaulted = json!({"spec": {"image": "nginx", "ports": [1], "tier": null}});
    let kept = defaulting_patch(&original, &defaulted, false);
    assert_eq!(
        serde_json::to_value(&kept).unwrap(),
        json!([
            {"op": "remove", "path": "/spec/ports/1"},
            {"op": "remove", "path": "/spec/ports/1"},
        ]),
        "array elements go; unknown fields and None-ed fields stay"
    );
    let removing = defaulting_patch(&original, &defaulted, true);
    let mut doc = original.clone();
    json_patch::patch(&mut doc, &removing).unwrap();
    assert_eq!(doc, json!({"spec": {"image": "nginx", "ports": [1]}}));
    // An unset Option that serde writes as null is not added.
    let added = defaulting_patch(&json!({"spec": {}}), &json!({"spec": {"tier": null}}), true);
    assert!(added.0.is_empty(), "{added:?}");
}

/// Checks images and immutability; warns about `latest`; records dry runs.
#[derive(Default)]
struct ImageValidator {
    dry_runs: Mutex<Vec<bool>>,
}

impl ImageValidator {
    fn check(&self, ctx: &AdmissionContext, obj: &v1::MyApp) -> Result<Warnings, Denial> {
        self.dry_runs.lock().unwrap().push(ctx.dry_run);
        let mut warnings = Vec::new();
        if obj.spec.image.ends_with(":latest") {
            warnings.push("spec.image: the latest tag is not reproducible".to_owned());
        }
        if obj.spec.image.is_empty() {
            return Err(
                Denial::field("spec.image", "must name a container image").with_warnings(warnings)
            );
        }
        Ok(warnings)
    }
}

impl Validator<v1::MyApp> for ImageValidator {
    async fn validate_create(
        &self,
        ctx: &AdmissionContext,
        obj: &v1::MyApp,
    ) -> Result<Warnings, Denial> {
        self.check(ctx, obj)
    }

    async fn validate_update(
        &self,
        ctx: &AdmissionContext,
        old: &v1::MyApp,
        new: &v1::MyApp,
    ) -> Result<Warnings, Denial> {
        let warnings = self.check(ctx, new)?;
        if old.spec.tier.is_some() && old.spec.tier != new.spec.tier {
            return Err(Denial::field("spec.tier", "is immutable")
                .and_field("spec.image", "checked after spec.tier"));
        }
        Ok(warnings)
    }

    async fn validate_delete(
        &self,
        _ctx: &AdmissionContext,
        obj: &v1::MyApp,
    ) -> Result<Warnings, Denial> {
        if obj.spec.tier.as_deref() == Some("prod") {
            return Err(Denial::new("production apps cannot be deleted"));
        }
        Ok(vec![])
    }
}

async fn validate(validator: &ImageValidator, body: Vec<u8>) -> Value {
    response(handle_validate::<v1::MyApp, _>(validator, &body).await)
}

#[tokio::test]
async fn a_denial_names_the_field_and_carries_warnings() {
    let validator = ImageValidator::default();
    let response = validate(
        &validator,
        admission_review("CREATE", Some(my_app(json!({"image": ""}))), None, false),
    )
    .await;
    assert_eq!(response["allowed"], false, "{response}");
    let status = &response["status"];
    assert_eq!(status["message"], "spec.image: must name a container image");
    assert_eq!(status["code"], 422);
    assert_eq!(status["reason"], "Invalid");
    assert_eq!(status["details"]["causes"][0]["field"], "spec.image");
    assert!(response.get("warnings").is_none());

    let response = validate(
        &validator,
        admission_review(
            "CREATE",
            Some(my_app(json!({"image": "nginx:latest"}))),
            None,
            false,
        ),
    )
    .await;
    assert_eq!(response["allowed"], true);
    assert_eq!(
        response["warnings"],
        json!(["spec.image: the latest tag is not reproducible"])
    );
}

#[tokio::test]
async fn updates_see_both_objects_and_several_fields_are_listed() {
    let validator = ImageValidator::default();
    let old = my_app(json!({"image": "nginx", "tier": "web"}));
    let new = my_app(json!({"image": "nginx", "tier": "db"}));
    let response = validate(
        &validator,
        admission_review("UPDATE", Some(new), Some(old), true),
    )
    .await;
    assert_eq!(response["allowed"], false);
    assert_eq!(
        response["status"]["message"],
        "[spec.tier: is immutable, spec.image: checked after spec.tier]"
    );
    assert_eq!(*validator.dry_runs.lock().unwrap(), [true]);
}

#[tokio::test]
async fn deletes_are_validated_against_the_old_object() {
    let validator = ImageValidator::default();
    let prod = my_app(json!({"image": "nginx", "tier": "prod"}));
    let response = validate(
        &validator,
        admission_review("DELETE", None, Some(prod), false),
    )
    .await;
    assert_eq!(response["allowed"], false);
    assert_eq!(response["status"]["code"], 403);
    assert_eq!(
        response["status"]["message"],
        "production apps cannot be deleted"
    );
}

#[tokio::test]
async fn an_object_that_is_not_the_kind_is_denied_not_a_crash() {
    let validator = ImageValidator::default();
    let response = validate(
        &validator,
        admission_review("CREATE", Some(my_app(json!({"image": 42}))), None, false),
    )
    .await;
    assert_eq!(response["allowed"], false);
    assert_eq!(response["status"]["code"], 400);
    let message = response["status"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("the object is not a valid apps.example.com/v1 MyApp: invalid type"),
        "{message}"
    );

    let response = validate(
        &validator,
        admission_review("UPDATE", Some(my_app(json!({"image": "x"}))), None, false),
    )
    .await;
    assert_eq!(
        response["status"]["message"],
        "the AdmissionReview's request has no oldObject"
    );
}

#[tokio::test]
async fn a_request_for_another_kind_is_denied() {
    let mut review: Value = serde_json::from_slice(&admission_review(
        "CREATE",
        Some(my_app(json!({"image": "x"}))),
        None,
        false,
    ))
    .unwrap();
    review["request"]["kind"]["version"] = json!("v1beta1");
    let response = validate(
        &ImageValidator::default(),
        serde_json::to_vec(&review).unwrap(),
    )
    .await;
    assert_eq!(response["allowed"], false);
    let message = response["status"]["message"].as_str().unwrap();
    assert!(
        message.starts_with(
            "this webhook handles apps.example.com/v1 MyApp only, not apps.example.com/v1beta1 MyApp"
        ),
        "{message}"
    );
}

#[tokio::test]
async fn a_body_that_is_not_an_admission_review_is_a_bad_request() {
    let validator = ImageValidator::default();
    for (body, expected) in [
        (&b"{not json"[..], "the request body is not JSON"),
        (
            br#"{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1"}"#,
            "the AdmissionReview has no request",
        ),
        (
            br#"{"kind":"Pod","apiVersion":"v1","request":{}}"#,
            "the request body is not an AdmissionReview",
        ),
        (
            br#"{"kind":"ConversionReview","apiVersion":"admission.k8s.io/v1"}"#,
            "expected kind AdmissionReview",
        ),
    ] {
        match handle_validate::<v1::MyApp, _>(&validator, body).await {
            Reply::BadRequest(message) => assert!(message.contains(expected), "{message}"),
            Reply::Review(review) => panic!("{} answered {review}", String::from_utf8_lossy(body)),
        }
    }
}

#[test]
fn paths_follow_kubebuilder() {
    assert_eq!(
        mutate_path::<other::CronJob>(),
        "/mutate-batch-tutorial-kubebuilder-io-v1-cronjob"
    );
    assert_eq!(
        validate_path::<v1::MyApp>(),
        "/validate-apps-example-com-v1-myapp"
    );
    assert_eq!(
        mutate_path::<k8s_openapi::api::core::v1::Pod>(),
        "/mutate--v1-pod"
    );
}

fn spoke_object(size: i32) -> Value {
    json!({
        "apiVersion": "apps.example.com/v1beta1",
        "kind": "MyApp",
        "metadata": {
            "name": "demo", "namespace": "default", "uid": "1", "resourceVersion": "7",
            "labels": {"team": "a"}, "annotations": {"note": "kept"},
        },
        "spec": {"image": "nginx", "size": size},
    })
}

fn conversion_review(desired: &str, objects: Vec<Value>) -> ConversionReview {
    serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "ConversionReview",
        "request": {"uid": "c1", "desiredAPIVersion": desired, "objects": objects},
    }))
    .unwrap()
}

fn my_app_conversion() -> Conversion<v1::MyApp> {
    Conversion::<v1::MyApp>::new().spoke::<v1beta1::MyApp>()
}

#[test]
fn conversion_goes_through_the_hub_and_keeps_metadata() {
    let conversion = my_app_conversion();
    conversion.check().unwrap();
    assert_eq!(conversion.versions(), ["v1", "v1beta1"]);
    let hub = conversion
        .convert(spoke_object(3), "apps.example.com/v1")
        .unwrap();
    assert_eq!(hub["apiVersion"], "apps.example.com/v1");
    assert_eq!(hub["kind"], "MyApp");
    assert_eq!(hub["spec"], json!({"image": "nginx", "replicas": 3}));
    assert_eq!(
        hub["metadata"],
        spoke_object(3)["metadata"],
        "the From impl dropped the metadata; kubeforge keeps it"
    );
    let back = conversion.convert(hub, "apps.example.com/v1beta1").unwrap();
    assert_eq!(back, spoke_object(3));
    let same = conversion
        .convert(spoke_object(4), "apps.example.com/v1beta1")
        .unwrap();
    assert_eq!(same, spoke_object(4), "the same version is left alone");
}

/// The API server converts pruned objects (the fields one manager owns, no
/// metadata) to track server-side apply ownership across versions; seen
/// with kube-apiserver 1.37 applying a spoke sample.
#[test]
fn pruned_objects_without_metadata_are_converted_as_far_as_they_go() {
    let conversion = my_app_conversion();
    // Whole enough for the types: converted, with the empty metadata the
    // API server requires of a converted object (it restores the original's).
    let pruned = json!({
        "apiVersion": "apps.example.com/v1beta1",
        "kind": "MyApp",
        "spec": {"image": "nginx", "size": 2},
    });
    let hub = conversion.convert(pruned, "apps.example.com/v1").unwrap();
    assert_eq!(
        hub,
        json!({
            "apiVersion": "apps.example.com/v1",
            "kind": "MyApp",
            "metadata": {},
            "spec": {"image": "nginx", "replicas": 2},
        })
    );
    // Missing a field the types require: relabelled, not refused.
    let partial = json!({
        "apiVersion": "apps.example.com/v1beta1",
        "kind": "MyApp",
        "spec": {"size": 2},
    });
    let relabelled = conversion.convert(partial, "apps.example.com/v1").unwrap();
    assert_eq!(
        relabelled,
        json!({"apiVersion": "apps.example.com/v1", "kind": "MyApp", "metadata": {}, "spec": {"size": 2}})
    );
    // A whole object that does not fit is still an error.
    let mut broken = spoke_object(1);
    broken["spec"] = json!({"size": "two"});
    assert!(conversion.convert(broken, "apps.example.com/v1").is_err());
}

#[test]
fn a_conversion_review_converts_every_object_or_fails_clearly() {
    let conversion = my_app_conversion();
    let review = conversion
        .review(conversion_review(
            "apps.example.com/v1",
            vec![spoke_object(1), spoke_object(2)],
        ))
        .unwrap();
    let response = review.response.unwrap();
    assert_eq!(response.uid, "c1");
    assert_eq!(
        response.result.status,
        Some(kube::core::response::StatusSummary::Success)
    );
    let replicas: Vec<_> = response
        .converted_objects
        .iter()
        .map(|o| o["spec"]["replicas"].clone())
        .collect();
    assert_eq!(replicas, [json!(1), json!(2)]);

    let mut unknown = spoke_object(1);
    unknown["apiVersion"] = json!("apps.example.com/v2");
    let failed = conversion
        .review(conversion_review(
            "apps.example.com/v1",
            vec![spoke_object(1), unknown],
        ))
        .unwrap()
        .response
        .unwrap();
    assert!(failed.result.is_failure());
    assert!(failed.converted_objects.is_empty());
    assert_eq!(
        failed.result.message,
        "cannot convert MyApp \"default/demo\" from apps.example.com/v2: unknown version v2; known versions are v1 (hub), v1beta1"
    );
    let failed = conversion
        .review(conversion_review(
            "apps.example.com/v3",
            vec![spoke_object(1)],
        ))
        .unwrap()
        .response
        .unwrap();
    assert!(
        failed.result.message.ends_with(
            "to apps.example.com/v3: unknown version v3; known versions are v1 (hub), v1beta1"
        ),
        "{}",
        failed.result.message
    );
}

#[test]
fn conversion_registration_mistakes_are_reported() {
    let twice = my_app_conversion().spoke::<v1beta1::MyApp>();
    assert_eq!(
        twice.check().unwrap_err().to_string(),
        "webhook registration: spoke apps.example.com/v1beta1 MyApp is registered twice"
    );
    let server = WebhookServer::new(WebhookConfig::new())
        .conversion(my_app_conversion())
        .conversion(my_app_conversion());
    assert!(
        server
            .router()
            .unwrap_err()
            .to_string()
            .contains("a conversion for apps.example.com MyApp is registered twice")
    );
    let server = WebhookServer::new(WebhookConfig::new())
        .validator::<v1::MyApp, _>(ImageValidator::default())
        .validator::<v1::MyApp, _>(ImageValidator::default());
    assert_eq!(
        server.router().unwrap_err().to_string(),
        "webhook registration: /validate-apps-example-com-v1-myapp is registered twice (a validating and a validating webhook); give one another path"
    );
}

#[test]
fn round_trip_helpers_catch_lossy_conversions() {
    let spoke = v1beta1::MyApp::new(
        "demo",
        v1beta1::MyAppSpec {
            image: "nginx".into(),
            size: 2,
        },
    );
    conversion::assert_round_trip::<v1::MyApp, v1beta1::MyApp>(spoke);
    // The spoke has no tier, and a missing replica count comes back as 1.
    let hub = v1::MyApp::new(
        "demo",
        v1::MyAppSpec {
            image: "nginx".into(),
            replicas: None,
            tier: Some("web".into()),
        },
    );
    let problem = conversion::check_hub_round_trip::<v1::MyApp, v1beta1::MyApp>(hub).unwrap_err();
    assert!(
        problem.starts_with("apps.example.com/v1 MyApp did not survive the round trip through apps.example.com/v1beta1"),
        "{problem}"
    );
    assert!(
        problem.contains(r#"{"op":"add","path":"/spec/replicas","value":1}"#),
        "{problem}"
    );
    assert!(
        problem.contains(r#"{"op":"remove","path":"/spec/tier"}"#),
        "{problem}"
    );
}

proptest::proptest! {
    #[test]
    fn every_spoke_survives_the_round_trip(image in "[a-z]{1,12}", size in proptest::num::i32::ANY) {
        let spoke = v1beta1::MyApp::new("demo", v1beta1::MyAppSpec { image, size });
        proptest::prop_assert_eq!(
            conversion::check_round_trip::<v1::MyApp, v1beta1::MyApp>(spoke),
            Ok(())
        );
    }
}

/// POSTs `body` to `path` on a plain-HTTP server; status and body.
async fn post(addr: std::net::SocketAddr, path: &str, body: &[u8]) -> (u16, String) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response.split(' ').nth(1).unwrap().parse().unwrap();
    let body = response.split_once("\r\n\r\n").unwrap().1.to_owned();
    (status, body)
}

#[tokio::test]
async fn the_router_serves_every_registered_path() {
    let server = WebhookServer::new(WebhookConfig::new())
        .defaulter::<v1::MyApp, _>(LabelDefaulter::default())
        .validator::<v1::MyApp, _>(ImageValidator::default())
        .conversion(my_app_conversion());
    assert_eq!(
        server.paths(),
        [
            "/mutate-apps-example-com-v1-myapp",
            "/validate-apps-example-com-v1-myapp",
            "/convert"
        ]
    );
    let router = server.router().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    let review = admission_review(
        "CREATE",
        Some(my_app(json!({"image": "nginx"}))),
        None,
        false,
    );
    let (status, body) = post(addr, "/mutate-apps-example-com-v1-myapp", &review).await;
    assert_eq!(status, 200, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert!(body["response"]["patch"].is_string(), "{body}");

    let (status, body) = post(addr, "/validate-apps-example-com-v1-myapp", &review).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["response"]["allowed"],
        true
    );

    let (status, body) = post(addr, "/validate-apps-example-com-v1-myapp", b"[]").await;
    assert_eq!(status, 400);
    assert!(
        body.starts_with("the request body is not an AdmissionReview"),
        "{body}"
    );

    let convert = serde_json::to_vec(&conversion_review(
        "apps.example.com/v1",
        vec![spoke_object(5)],
    ))
    .unwrap();
    let (status, body) = post(addr, "/convert", &convert).await;
    assert_eq!(status, 200, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        body["response"]["convertedObjects"][0]["spec"]["replicas"], 5,
        "{body}"
    );
    let (status, body) = post(addr, "/convert", b"{}").await;
    assert_eq!(status, 400, "{body}");

    let other = serde_json::to_vec(&conversion_review(
        "batch.tutorial.kubebuilder.io/v1",
        vec![json!({"apiVersion": "batch.tutorial.kubebuilder.io/v2", "kind": "CronJob", "metadata": {"name": "x"}})],
    ))
    .unwrap();
    let (_, body) = post(addr, "/convert", &other).await;
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        body["response"]["result"]["message"],
        "no conversion is registered for kind \"CronJob\" in group \"batch.tutorial.kubebuilder.io\"; this webhook converts: apps.example.com MyApp"
    );
}

/// A self-signed pair for 127.0.0.1 written into `dir`; its certificate.
fn write_cert(dir: &std::path::Path) -> rustls::pki_types::CertificateDer<'static> {
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    std::fs::write(dir.join("tls.crt"), cert.pem()).unwrap();
    std::fs::write(dir.join("tls.key"), signing_key.serialize_pem()).unwrap();
    cert.der().clone()
}

/// Connects over TLS trusting `root`, offering `alpn`; the negotiated
/// protocol and the served certificate.
async fn handshake(
    addr: std::net::SocketAddr,
    root: &rustls::pki_types::CertificateDer<'static>,
    alpn: &[&[u8]],
) -> Result<(Option<Vec<u8>>, rustls::pki_types::CertificateDer<'static>), std::io::Error> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(root.clone()).unwrap();
    let mut client = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    client.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
    let tls = tokio_rustls::TlsConnector::from(Arc::new(client))
        .connect(name, tcp)
        .await?;
    let (_, connection) = tls.get_ref();
    Ok((
        connection.alpn_protocol().map(<[u8]>::to_vec),
        connection.peer_certificates().unwrap()[0].clone(),
    ))
}

#[tokio::test]
async fn the_https_server_speaks_http1_only_and_reloads_its_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let first = write_cert(dir.path());
    let server = WebhookServer::new(
        WebhookConfig::new()
            .host("127.0.0.1".parse().unwrap())
            .port(0)
            .cert_dir(dir.path())
            .cert_reload_interval(std::time::Duration::from_millis(50)),
    )
    .validator::<v1::MyApp, _>(ImageValidator::default())
    .bind()
    .await
    .unwrap();
    let addr = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.serve(async {
        let _ = stopped.await;
    }));

    let (alpn, served) = handshake(addr, &first, &[b"h2", b"http/1.1"])
        .await
        .unwrap();
    assert_eq!(alpn.as_deref(), Some(&b"http/1.1"[..]), "h2 is not offered");
    assert_eq!(served, first);

    let second = write_cert(dir.path());
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        if let Ok((_, served)) = handshake(addr, &second, &[]).await {
            assert_eq!(served, second);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the new certificate was never served"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    stop.send(()).unwrap();
    serving.await.unwrap().unwrap();
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "the port is closed after shutdown"
    );
}

#[tokio::test]
async fn missing_certificates_and_http2_without_the_feature_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let error = WebhookServer::new(WebhookConfig::new().port(0).cert_dir(dir.path()))
        .bind()
        .await
        .unwrap_err();
    assert!(
        error.to_string().starts_with(&format!(
            "webhook serving certificate: cannot read the certificate {}",
            dir.path().join("tls.crt").display()
        )),
        "{error}"
    );
    if !cfg!(feature = "webhook-http2") {
        write_cert(dir.path());
        let error = WebhookServer::new(
            WebhookConfig::new()
                .port(0)
                .cert_dir(dir.path())
                .enable_http2(true),
        )
        .bind()
        .await
        .unwrap_err();
        assert!(matches!(error, WebhookError::Http2NotBuilt), "{error}");
    }
}

#[cfg(feature = "webhook-http2")]
#[tokio::test]
async fn http2_is_offered_only_when_enabled() {
    let dir = tempfile::tempdir().unwrap();
    let cert = write_cert(dir.path());
    let server = WebhookServer::new(
        WebhookConfig::new()
            .host("127.0.0.1".parse().unwrap())
            .port(0)
            .cert_dir(dir.path())
            .enable_http2(true),
    )
    .validator::<v1::MyApp, _>(ImageValidator::default())
    .bind()
    .await
    .unwrap();
    let addr = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.serve(async {
        let _ = stopped.await;
    }));
    let (alpn, _) = handshake(addr, &cert, &[b"h2", b"http/1.1"]).await.unwrap();
    assert_eq!(alpn.as_deref(), Some(&b"h2"[..]));
    let (alpn, _) = handshake(addr, &cert, &[b"http/1.1"]).await.unwrap();
    assert_eq!(alpn.as_deref(), Some(&b"http/1.1"[..]));
    stop.send(()).unwrap();
    serving.await.unwrap().unwrap();
}
