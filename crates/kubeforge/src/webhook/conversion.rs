//! Conversion webhooks, hub and spoke, as in Kubebuilder: one version of a
//! kind is the hub; every other version (a spoke) converts to and from the
//! hub with Rust's own conversion traits, so a conversion between any two
//! versions goes spoke → hub → spoke and no pair needs code of its own.
//!
//! ```no_run
//! # mod v1 { #[derive(Clone, Debug, serde::Serialize, serde::Deserialize, kube::CustomResource, schemars::JsonSchema)]
//! #   #[kube(group = "apps.example.com", version = "v1", kind = "MyApp", namespaced)]
//! #   pub struct MyAppSpec { pub replicas: i32 } }
//! # mod v1beta1 { #[derive(Clone, Debug, serde::Serialize, serde::Deserialize, kube::CustomResource, schemars::JsonSchema)]
//! #   #[kube(group = "apps.example.com", version = "v1beta1", kind = "MyApp", namespaced)]
//! #   pub struct MyAppSpec { pub size: i32 } }
//! use kubeforge::webhook::Conversion;
//!
//! impl From<v1beta1::MyApp> for v1::MyApp {
//!     fn from(old: v1beta1::MyApp) -> Self {
//!         let mut hub = v1::MyApp::new("", v1::MyAppSpec { replicas: old.spec.size });
//!         hub.metadata = old.metadata;
//!         hub
//!     }
//! }
//! impl From<v1::MyApp> for v1beta1::MyApp {
//!     fn from(hub: v1::MyApp) -> Self {
//!         let mut old = v1beta1::MyApp::new("", v1beta1::MyAppSpec { size: hub.spec.replicas });
//!         old.metadata = hub.metadata;
//!         old
//!     }
//! }
//!
//! let conversion = Conversion::<v1::MyApp>::new().spoke::<v1beta1::MyApp>();
//! ```
//!
//! Metadata is the API server's business: whatever the conversions do, each
//! converted object keeps the original's metadata, except labels and
//! annotations, which are taken from the converted object when it has them
//! (Kubernetes lets a conversion change only those, e.g. to keep a field the
//! other version lacks in an annotation).

use std::fmt::{self, Display};

use kube::Resource;
use kube::core::Status;
use kube::core::conversion::{ConversionRequest, ConversionResponse, ConversionReview};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::WebhookError;

/// A spoke's conversions, type-erased: the spoke's type only matters inside.
struct Spoke<Hub> {
    version: String,
    to_hub: fn(Value) -> Result<Hub, String>,
    from_hub: fn(Hub) -> Result<Value, String>,
}

/// The conversions of one kind: its hub type and the spokes registered with
/// [`spoke`](Conversion::spoke). Serve it with
/// [`WebhookServer::conversion`](super::WebhookServer::conversion).
pub struct Conversion<Hub> {
    spokes: Vec<Spoke<Hub>>,
    /// The first registration mistake, reported by [`Conversion::check`] and
    /// when the server starts, so the builder chain stays free of `?`.
    error: Option<String>,
}

impl<Hub> fmt::Debug for Conversion<Hub>
where
    Hub: Resource<DynamicType = ()>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conversion")
            .field("kind", &Hub::kind(&()))
            .field("hub", &Hub::api_version(&()))
            .field(
                "spokes",
                &self.spokes.iter().map(|s| &s.version).collect::<Vec<_>>(),
            )
            .field("error", &self.error)
            .finish()
    }
}

impl<Hub> Default for Conversion<Hub>
where
    Hub: Resource<DynamicType = ()> + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    fn default() -> Self {
        Self::new()
    }
}

impl<Hub> Conversion<Hub>
where
    Hub: Resource<DynamicType = ()> + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    /// Conversions of `Hub`'s kind through `Hub`'s version.
    pub fn new() -> Self {
        Conversion {
            spokes: Vec::new(),
            error: None,
        }
    }

    /// Adds the version `S` converts: `Hub: From<S>` and `S: From<Hub>` (or
    /// `TryFrom` both ways, for conversions that can fail). `S` must be the
    /// same group and kind as the hub, in another version, registered once;
    /// a mistake is reported by [`check`](Conversion::check) and when the
    /// server starts.
    #[must_use]
    pub fn spoke<S>(mut self) -> Self
    where
        S: Resource<DynamicType = ()> + Serialize + DeserializeOwned + TryFrom<Hub> + 'static,
        <S as TryFrom<Hub>>::Error: Display,
        Hub: TryFrom<S>,
        <Hub as TryFrom<S>>::Error: Display,
    {
        let version = S::version(&()).into_owned();
        let problem = if S::group(&()) != Hub::group(&()) || S::kind(&()) != Hub::kind(&()) {
            Some(format!(
                "spoke {} {} is not the hub's kind {} {}: a conversion serves one group and kind",
                S::api_version(&()),
                S::kind(&()),
                Hub::api_version(&()),
                Hub::kind(&())
            ))
        } else if version == Hub::version(&()) {
            Some(format!(
                "spoke {} {} is the hub's own version: register only the other versions as spokes",
                S::api_version(&()),
                S::kind(&())
            ))
        } else if self.spokes.iter().any(|spoke| spoke.version == version) {
            Some(format!(
                "spoke {} {} is registered twice",
                S::api_version(&()),
                S::kind(&())
            ))
        } else {
            None
        };
        if let Some(problem) = problem {
            self.error.get_or_insert(problem);
            return self;
        }
        self.spokes.push(Spoke {
            version,
            to_hub: spoke_to_hub::<S, Hub>,
            from_hub: hub_to_spoke::<S, Hub>,
        });
        self
    }

    /// `Ok` if every [`spoke`](Conversion::spoke) was registered correctly;
    /// otherwise what is wrong.
    pub fn check(&self) -> Result<(), WebhookError> {
        match &self.error {
            Some(problem) => Err(WebhookError::Registration(problem.clone())),
            None => Ok(()),
        }
    }

    /// The versions this conversion serves, hub first.
    pub fn versions(&self) -> Vec<String> {
        std::iter::once(Hub::version(&()).into_owned())
            .chain(self.spokes.iter().map(|spoke| spoke.version.clone()))
            .collect()
    }

    /// Converts one object (as JSON, with its `apiVersion`) to
    /// `desired_api_version`, as the API server asks in a ConversionReview.
    pub fn convert(&self, object: Value, desired_api_version: &str) -> Result<Value, String> {
        self.check().map_err(|e| e.to_string())?;
        let kind = Hub::kind(&());
        let group = Hub::group(&());
        let described = describe(&object, &kind);
        let api_version = object
            .get("apiVersion")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{described} has no apiVersion"))?
            .to_owned();
        let from = self.version_of(&api_version, &group).map_err(|problem| {
            format!("cannot convert {described} from {api_version}: {problem}")
        })?;
        let to = self
            .version_of(desired_api_version, &group)
            .map_err(|problem| {
                format!("cannot convert {described} to {desired_api_version}: {problem}")
            })?;
        if from == to {
            return Ok(object);
        }
        let failed = |e: String| {
            format!("cannot convert {described} from {api_version} to {desired_api_version}: {e}")
        };
        // The API server also converts *pruned* objects: only the fields one
        // field manager owns, without metadata, to track server-side apply
        // ownership across versions. Go's conversions read missing fields as
        // zero values; serde does not, so such an object is converted with
        // empty metadata and, if it still does not make a whole object, only
        // relabelled: it is bookkeeping and never stored. Either way the
        // answer carries an empty `metadata`: the API server refuses a
        // converted object without one ("missing metadata in converted
        // object") and then puts the original's back itself.
        let Some(metadata) = object.get("metadata").cloned() else {
            return Ok(self.convert_pruned(object, &from, &to, desired_api_version));
        };
        let metadata = Some(metadata);
        let hub = match self.spokes.iter().find(|spoke| spoke.version == from) {
            Some(spoke) => (spoke.to_hub)(object).map_err(failed)?,
            None => Hub::deserialize(&object)
                .map_err(|e| failed(format!("not a valid {}: {e}", Hub::api_version(&()))))?,
        };
        let mut converted = match self.spokes.iter().find(|spoke| spoke.version == to) {
            Some(spoke) => (spoke.from_hub)(hub).map_err(failed)?,
            None => serde_json::to_value(&hub).map_err(|e| failed(e.to_string()))?,
        };
        let Some(fields) = converted.as_object_mut() else {
            return Err(failed(
                "the conversion did not give a JSON object".to_owned(),
            ));
        };
        fields.insert("apiVersion".to_owned(), desired_api_version.into());
        fields.insert("kind".to_owned(), kind.into_owned().into());
        keep_metadata(metadata, fields);
        Ok(converted)
    }

    /// [`Conversion::convert`] for a pruned object (no metadata): converted
    /// through the types when it deserializes with empty metadata, else given
    /// the desired `apiVersion` as it is; with empty `metadata` either way.
    fn convert_pruned(
        &self,
        object: Value,
        from: &str,
        to: &str,
        desired_api_version: &str,
    ) -> Value {
        let mut whole = object.clone();
        if let Some(fields) = whole.as_object_mut() {
            fields.insert("metadata".to_owned(), Value::Object(Default::default()));
        }
        let hub = match self.spokes.iter().find(|spoke| spoke.version == from) {
            Some(spoke) => (spoke.to_hub)(whole).ok(),
            None => Hub::deserialize(&whole).ok(),
        };
        let converted =
            hub.and_then(
                |hub| match self.spokes.iter().find(|spoke| spoke.version == to) {
                    Some(spoke) => (spoke.from_hub)(hub).ok(),
                    None => serde_json::to_value(&hub).ok(),
                },
            );
        let mut converted = match converted {
            Some(converted @ Value::Object(_)) => converted,
            _ => object,
        };
        if let Some(fields) = converted.as_object_mut() {
            fields.insert("apiVersion".to_owned(), desired_api_version.into());
            fields.insert("metadata".to_owned(), Value::Object(Default::default()));
        }
        converted
    }

    /// Answers a ConversionReview for this kind alone; the server's `/convert`
    /// routes each object to its kind's conversion instead.
    pub fn review(&self, review: ConversionReview) -> Result<ConversionReview, WebhookError> {
        convert_review(&[self as &dyn ErasedConversion], review)
    }

    /// The version `api_version` names, if it is this kind's group and one
    /// of its versions.
    fn version_of(&self, api_version: &str, group: &str) -> Result<String, String> {
        let (their_group, version) = match api_version.rsplit_once('/') {
            Some((group, version)) => (group, version),
            None => ("", api_version),
        };
        if their_group != group {
            return Err(format!(
                "group {their_group:?} is not {group:?}, the only group this conversion serves"
            ));
        }
        if self.versions().iter().any(|known| known == version) {
            Ok(version.to_owned())
        } else {
            Err(format!(
                "unknown version {version}; known versions are {} (hub), {}",
                Hub::version(&()),
                match self.spokes.as_slice() {
                    [] => "and no spokes".to_owned(),
                    spokes => spokes
                        .iter()
                        .map(|s| s.version.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                }
            ))
        }
    }
}

/// `MyApp "default/name"`, as conversion errors name an object.
fn describe(object: &Value, kind: &str) -> String {
    let field = |name: &str| {
        object
            .pointer(&format!("/metadata/{name}"))
            .and_then(Value::as_str)
    };
    match (field("namespace"), field("name")) {
        (Some(namespace), Some(name)) => format!("{kind} \"{namespace}/{name}\""),
        (None, Some(name)) => format!("{kind} \"{name}\""),
        _ => kind.to_owned(),
    }
}

/// Puts the original metadata on the converted object, with the converted
/// object's labels and annotations when it has them.
fn keep_metadata(original: Option<Value>, converted: &mut serde_json::Map<String, Value>) {
    let Some(Value::Object(mut metadata)) = original else {
        return;
    };
    if let Some(Value::Object(theirs)) = converted.get("metadata") {
        for key in ["labels", "annotations"] {
            if let Some(value) = theirs.get(key) {
                metadata.insert(key.to_owned(), value.clone());
            }
        }
    }
    converted.insert("metadata".to_owned(), Value::Object(metadata));
}

fn spoke_to_hub<S, Hub>(object: Value) -> Result<Hub, String>
where
    S: Resource<DynamicType = ()> + DeserializeOwned,
    Hub: TryFrom<S>,
    <Hub as TryFrom<S>>::Error: Display,
{
    let spoke =
        S::deserialize(&object).map_err(|e| format!("not a valid {}: {e}", S::api_version(&())))?;
    Hub::try_from(spoke).map_err(|e| e.to_string())
}

fn hub_to_spoke<S, Hub>(hub: Hub) -> Result<Value, String>
where
    S: Serialize + TryFrom<Hub>,
    <S as TryFrom<Hub>>::Error: Display,
{
    let spoke = S::try_from(hub).map_err(|e| e.to_string())?;
    serde_json::to_value(&spoke).map_err(|e| e.to_string())
}

/// A [`Conversion`] whose hub type is hidden, so one `/convert` can serve
/// several kinds.
pub(crate) trait ErasedConversion: Send + Sync {
    fn group(&self) -> String;
    fn kind(&self) -> String;
    /// The CRD's name, `<plural>.<group>`.
    fn crd_name(&self) -> String;
    fn convert(&self, object: Value, desired_api_version: &str) -> Result<Value, String>;
}

impl<Hub> ErasedConversion for Conversion<Hub>
where
    Hub: Resource<DynamicType = ()> + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    fn group(&self) -> String {
        Hub::group(&()).into_owned()
    }
    fn kind(&self) -> String {
        Hub::kind(&()).into_owned()
    }
    fn crd_name(&self) -> String {
        format!("{}.{}", Hub::plural(&()), Hub::group(&()))
    }
    fn convert(&self, object: Value, desired_api_version: &str) -> Result<Value, String> {
        Conversion::convert(self, object, desired_api_version)
    }
}

/// Answers a ConversionReview: every object converted by its kind's
/// conversion, or a failed review naming the first object that could not be.
/// `Err` for a review without a request (HTTP 400).
pub(crate) fn convert_review(
    conversions: &[&dyn ErasedConversion],
    review: ConversionReview,
) -> Result<ConversionReview, WebhookError> {
    if review.types.kind != "ConversionReview" {
        return Err(WebhookError::BadRequest(format!(
            "the request body is a {:?}, expected kind ConversionReview",
            review.types.kind
        )));
    }
    let mut request = ConversionRequest::from_review(review)
        .map_err(|_| WebhookError::BadRequest("the ConversionReview has no request".to_owned()))?;
    let objects = std::mem::take(&mut request.objects);
    let desired = request.desired_api_version.clone();
    let response = ConversionResponse::for_request(request);
    let mut converted = Vec::with_capacity(objects.len());
    for object in objects {
        match convert_one(conversions, object, &desired) {
            Ok(object) => converted.push(object),
            Err(message) => {
                return Ok(response
                    .failure(Status::failure(&message, "BadRequest").with_code(400))
                    .into_review());
            }
        }
    }
    Ok(response.success(converted).into_review())
}

fn convert_one(
    conversions: &[&dyn ErasedConversion],
    object: Value,
    desired: &str,
) -> Result<Value, String> {
    let kind = object
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let group = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .and_then(|api_version| api_version.rsplit_once('/'))
        .map_or("", |(group, _)| group);
    let conversion = conversions
        .iter()
        .find(|c| c.kind() == kind && c.group() == group)
        .ok_or_else(|| {
            let served: Vec<String> = conversions
                .iter()
                .map(|c| format!("{} {}", c.group(), c.kind()))
                .collect();
            format!(
                "no conversion is registered for kind {kind:?} in group {group:?}; this webhook converts: {}",
                served.join(", ")
            )
        })?;
    conversion.convert(object, desired)
}

/// Converts `spoke` to the hub and back through a [`Conversion`] (so with
/// kubeforge's metadata handling, as the API server would see it) and
/// returns what changed, if anything. Every spoke should survive this: the
/// API server converts stored objects back and forth on every read.
pub fn check_round_trip<Hub, S>(spoke: S) -> Result<(), String>
where
    Hub: Resource<DynamicType = ()>
        + Serialize
        + DeserializeOwned
        + Send
        + Sync
        + TryFrom<S>
        + 'static,
    <Hub as TryFrom<S>>::Error: Display,
    S: Resource<DynamicType = ()> + Serialize + DeserializeOwned + TryFrom<Hub> + 'static,
    <S as TryFrom<Hub>>::Error: Display,
{
    let conversion = Conversion::<Hub>::new().spoke::<S>();
    round_trip(&conversion, &spoke, &Hub::api_version(&()))
}

/// Like [`check_round_trip`], from the hub: hub → spoke → hub. Fields the
/// spoke lacks must be kept somewhere (usually an annotation) for this to hold.
pub fn check_hub_round_trip<Hub, S>(hub: Hub) -> Result<(), String>
where
    Hub: Resource<DynamicType = ()>
        + Serialize
        + DeserializeOwned
        + Send
        + Sync
        + TryFrom<S>
        + 'static,
    <Hub as TryFrom<S>>::Error: Display,
    S: Resource<DynamicType = ()> + Serialize + DeserializeOwned + TryFrom<Hub> + 'static,
    <S as TryFrom<Hub>>::Error: Display,
{
    let conversion = Conversion::<Hub>::new().spoke::<S>();
    round_trip(&conversion, &hub, &S::api_version(&()))
}

/// Panics with what changed unless `spoke` survives spoke → hub → spoke; for
/// property tests (e.g. with proptest) and tests with given values.
///
/// # Panics
///
/// When the round trip fails or changes the object.
#[track_caller]
pub fn assert_round_trip<Hub, S>(spoke: S)
where
    Hub: Resource<DynamicType = ()>
        + Serialize
        + DeserializeOwned
        + Send
        + Sync
        + TryFrom<S>
        + 'static,
    <Hub as TryFrom<S>>::Error: Display,
    S: Resource<DynamicType = ()> + Serialize + DeserializeOwned + TryFrom<Hub> + 'static,
    <S as TryFrom<Hub>>::Error: Display,
{
    if let Err(problem) = check_round_trip::<Hub, S>(spoke) {
        panic!("{problem}");
    }
}

/// Panics with what changed unless `hub` survives hub → spoke → hub.
///
/// # Panics
///
/// When the round trip fails or changes the object.
#[track_caller]
pub fn assert_hub_round_trip<Hub, S>(hub: Hub)
where
    Hub: Resource<DynamicType = ()>
        + Serialize
        + DeserializeOwned
        + Send
        + Sync
        + TryFrom<S>
        + 'static,
    <Hub as TryFrom<S>>::Error: Display,
    S: Resource<DynamicType = ()> + Serialize + DeserializeOwned + TryFrom<Hub> + 'static,
    <S as TryFrom<Hub>>::Error: Display,
{
    if let Err(problem) = check_hub_round_trip::<Hub, S>(hub) {
        panic!("{problem}");
    }
}

/// `start` → `through` → `start`'s version, compared as JSON.
fn round_trip<Hub, T>(conversion: &Conversion<Hub>, start: &T, through: &str) -> Result<(), String>
where
    Hub: Resource<DynamicType = ()> + Serialize + DeserializeOwned + Send + Sync + 'static,
    T: Resource<DynamicType = ()> + Serialize,
{
    conversion.check().map_err(|e| e.to_string())?;
    let mut original = serde_json::to_value(start).map_err(|e| e.to_string())?;
    if let Some(fields) = original.as_object_mut() {
        fields.insert(
            "apiVersion".to_owned(),
            T::api_version(&()).into_owned().into(),
        );
        fields.insert("kind".to_owned(), T::kind(&()).into_owned().into());
    }
    let there = conversion.convert(original.clone(), through)?;
    let back = conversion.convert(there.clone(), &T::api_version(&()))?;
    if back == original {
        return Ok(());
    }
    let changes = serde_json::to_string(&json_patch::diff(&original, &back))
        .unwrap_or_else(|e| e.to_string());
    Err(format!(
        "{} {} did not survive the round trip through {through}: changes {changes}\n  via {there}",
        T::api_version(&()),
        T::kind(&()),
    ))
}
