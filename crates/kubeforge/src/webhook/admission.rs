//! Typed defaulting and validation: controller-runtime's CustomDefaulter and
//! CustomValidator, and the AdmissionReview handling around them.

use std::fmt;
use std::future::Future;

use base64::Engine as _;
use json_patch::{Patch, PatchOperation, RemoveOperation};
use k8s_openapi::api::authentication::v1::UserInfo;
use kube::Resource;
use kube::core::admission::{AdmissionRequest, AdmissionResponse, AdmissionReview, Operation};
use kube::core::response::{StatusCause, StatusDetails};
use kube::core::{DynamicObject, Status};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Messages the API server passes back to the client, which kubectl prints as
/// `Warning: ...`. Keep each under 120 characters; longer ones may be cut.
pub type Warnings = Vec<String>;

/// What a webhook knows about the request besides the object: the operation,
/// who asked, and whether it is a dry run.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct AdmissionContext {
    /// CREATE, UPDATE or DELETE (CONNECT never reaches typed webhooks).
    pub operation: Operation,
    /// True for `kubectl --dry-run=server`: the object is not persisted, so
    /// code with side effects outside the object (calls to other systems)
    /// must skip them. The scaffolded webhooks declare `sideEffects: None`,
    /// which is what lets the API server call them on dry runs at all; one
    /// with side effects must declare `NoneOnDryRun` and check this flag.
    pub dry_run: bool,
    /// The object's name (empty on a create with `generateName`).
    pub name: String,
    /// The object's namespace, for namespaced kinds.
    pub namespace: Option<String>,
    /// The subresource the request is for (e.g. "status"), if any.
    pub sub_resource: Option<String>,
    /// The user (or ServiceAccount) making the request.
    pub user_info: UserInfo,
    /// The review's uid, to correlate log lines with the API server's.
    pub uid: String,
}

impl AdmissionContext {
    /// A context for `operation`, not a dry run, for an anonymous user: what
    /// unit tests of a webhook need. The server builds the real one from each
    /// request.
    pub fn new(operation: Operation) -> Self {
        AdmissionContext {
            operation,
            dry_run: false,
            name: String::new(),
            namespace: None,
            sub_resource: None,
            user_info: UserInfo::default(),
            uid: String::new(),
        }
    }

    /// The same context as a dry run.
    #[must_use]
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    fn from_request<T: Resource>(request: &AdmissionRequest<T>) -> Self {
        AdmissionContext {
            operation: request.operation.clone(),
            dry_run: request.dry_run,
            name: request.name.clone(),
            namespace: request.namespace.clone(),
            sub_resource: request.sub_resource.clone(),
            user_info: request.user_info.clone(),
            uid: request.uid.clone(),
        }
    }
}

/// One invalid field: its path as the JSON names it (`spec.image`,
/// `spec.ports[0].name`) and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// The field's path, e.g. `spec.image`.
    pub field: String,
    /// What is wrong and what is allowed, e.g. `must not be empty`.
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Why a webhook refuses a request. The API server returns it to the client
/// as `admission webhook "<name>" denied the request: <message>`.
///
/// [`Denial::field`] is the usual form: it names the field, so the message
/// reads `spec.image: must not be empty`, and the response carries the field
/// in the Status' causes with code 422 (Invalid), like the API server's own
/// validation. [`Denial::new`] is for refusals that are not about one field
/// (code 403, Forbidden).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denial {
    message: Option<String>,
    fields: Vec<FieldError>,
    warnings: Warnings,
    code: u16,
    reason: &'static str,
}

impl Denial {
    /// A refusal that is not about a particular field (403 Forbidden).
    pub fn new(message: impl Into<String>) -> Self {
        Denial {
            message: Some(message.into()),
            fields: Vec::new(),
            warnings: Vec::new(),
            code: 403,
            reason: "Forbidden",
        }
    }

    /// `field` (its JSON path, e.g. `spec.image`) is invalid: `message` says
    /// what is wrong and what is allowed (422 Invalid).
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Denial {
            message: None,
            fields: Vec::new(),
            warnings: Vec::new(),
            code: 422,
            reason: "Invalid",
        }
        .and_field(field, message)
    }

    /// Another invalid field in the same denial, so the user sees every
    /// problem at once.
    #[must_use]
    pub fn and_field(mut self, field: impl Into<String>, message: impl Into<String>) -> Self {
        self.fields.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
        self
    }

    /// A warning returned with the denial.
    #[must_use]
    pub fn with_warning(mut self, warning: impl Into<String>) -> Self {
        self.warnings.push(warning.into());
        self
    }

    /// Warnings returned with the denial.
    #[must_use]
    pub fn with_warnings<W: Into<String>>(mut self, warnings: impl IntoIterator<Item = W>) -> Self {
        self.warnings.extend(warnings.into_iter().map(Into::into));
        self
    }

    /// A refusal with an explicit HTTP-style code and Status reason, e.g.
    /// 400 "BadRequest" when a request can never be valid.
    fn with_code(mut self, code: u16, reason: &'static str) -> Self {
        self.code = code;
        self.reason = reason;
        self
    }

    /// The text the user sees: the message, then every field error, as
    /// `spec.image: must not be empty` or, for several, Kubernetes' list form
    /// `[spec.a: ..., spec.b: ...]`.
    pub fn message(&self) -> String {
        let fields = match self.fields.as_slice() {
            [] => None,
            [one] => Some(one.to_string()),
            many => Some(format!(
                "[{}]",
                many.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        };
        match (&self.message, fields) {
            (Some(message), Some(fields)) => format!("{message}: {fields}"),
            (Some(message), None) => message.clone(),
            (None, Some(fields)) => fields,
            (None, None) => "denied".to_owned(),
        }
    }

    /// The invalid fields, in the order they were added.
    pub fn fields(&self) -> &[FieldError] {
        &self.fields
    }

    /// The warnings returned with the denial.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The Status code the response carries (403, 422, or the API error's).
    pub fn code(&self) -> u16 {
        self.code
    }

    fn status(&self) -> Status {
        let status = Status::failure(&self.message(), self.reason).with_code(self.code);
        if self.fields.is_empty() {
            return status;
        }
        status.with_details(StatusDetails {
            name: String::new(),
            group: String::new(),
            kind: String::new(),
            uid: String::new(),
            causes: self
                .fields
                .iter()
                .map(|error| StatusCause {
                    reason: "FieldValueInvalid".to_owned(),
                    message: error.message.clone(),
                    field: error.field.clone(),
                })
                .collect(),
            retry_after_seconds: 0,
        })
    }
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for Denial {}

/// So a webhook that looks something up can use `?` on kube calls: an API
/// error keeps its code and message; any other error denies with 500.
impl From<kube::Error> for Denial {
    fn from(error: kube::Error) -> Self {
        match error {
            kube::Error::Api(status) => {
                let code = status.code;
                Denial::new(status.message).with_code(code, "InternalError")
            }
            other => Denial::new(other.to_string()).with_code(500, "InternalError"),
        }
    }
}

/// Sets defaults on a kind's objects before they are validated and stored,
/// like controller-runtime's CustomDefaulter. Implement it for a type of your
/// own (which may hold a `kube::Client`) and register it with
/// [`WebhookServer::defaulter`](super::WebhookServer::defaulter).
///
/// kubeforge decodes the request's object into `K`, lets
/// [`set_defaults`](Defaulter::set_defaults) change it, and answers with the RFC 6902
/// JSON patch from the object as sent to the object as changed. It is called
/// for CREATE and UPDATE; deletes are allowed without calling it.
pub trait Defaulter<K>: Send + Sync + 'static {
    /// Whether the patch may remove fields. By default it only adds and
    /// changes them (controller-runtime's default too): removing an object
    /// field or setting an `Option` to `None` is left out, because a field
    /// `K` does not know (a newer schema, another controller's) would
    /// otherwise be deleted just by passing through `K`. Set it to `true`
    /// when defaulting must delete fields and `K` models the whole schema.
    /// Array elements removed by the defaulter are always removed.
    const REMOVE_FIELDS: bool = false;

    /// Sets defaults on `obj`. An `Err` denies the request. (Not named
    /// `default`, so a defaulter can also derive `Default`.)
    fn set_defaults(
        &self,
        ctx: &AdmissionContext,
        obj: &mut K,
    ) -> impl Future<Output = Result<(), Denial>> + Send;
}

/// Decides whether a kind's objects may be created, updated or deleted, like
/// controller-runtime's CustomValidator. Register it with
/// [`WebhookServer::validator`](super::WebhookServer::validator).
///
/// Each check returns the warnings to show (`Ok(vec![])` for none) or a
/// [`Denial`] naming what is wrong.
pub trait Validator<K>: Send + Sync + 'static {
    /// Checks an object about to be created.
    fn validate_create(
        &self,
        ctx: &AdmissionContext,
        obj: &K,
    ) -> impl Future<Output = Result<Warnings, Denial>> + Send;

    /// Checks an update from `old` to `new` (e.g. immutable fields).
    fn validate_update(
        &self,
        ctx: &AdmissionContext,
        old: &K,
        new: &K,
    ) -> impl Future<Output = Result<Warnings, Denial>> + Send;

    /// Checks an object about to be deleted. The scaffolded webhook
    /// configuration only sends deletes when `delete` is among its verbs;
    /// allowed by default.
    fn validate_delete(
        &self,
        ctx: &AdmissionContext,
        obj: &K,
    ) -> impl Future<Output = Result<Warnings, Denial>> + Send {
        let _ = (ctx, obj);
        std::future::ready(Ok(Vec::new()))
    }
}

/// What an admission handler answers: a review (HTTP 200, allowed or not),
/// or 400 for a body that is not an AdmissionReview.
#[derive(Debug)]
pub(crate) enum Reply {
    Review(Value),
    BadRequest(String),
}

/// A parsed AdmissionReview: the request with its objects kept as the JSON
/// the API server sent, so the patch is computed against exactly that.
struct Parsed {
    request: AdmissionRequest<DynamicObject>,
    object: Option<Value>,
    old_object: Option<Value>,
}

fn parse(body: &[u8]) -> Result<Parsed, String> {
    let mut value: Value =
        serde_json::from_slice(body).map_err(|e| format!("the request body is not JSON: {e}"))?;
    // Objects are taken out before the review is decoded, so an object that
    // K (or DynamicObject) cannot read is a denial of that object rather than
    // a malformed review.
    let mut take = |field: &str| {
        value
            .get_mut("request")
            .and_then(|request| request.get_mut(field))
            .map(Value::take)
            .filter(|object| !object.is_null())
    };
    let (object, old_object) = (take("object"), take("oldObject"));
    let review: AdmissionReview<DynamicObject> = serde_json::from_value(value)
        .map_err(|e| format!("the request body is not an AdmissionReview: {e}"))?;
    if review.types.kind != "AdmissionReview" {
        return Err(format!(
            "the request body is a {:?}, expected kind AdmissionReview",
            review.types.kind
        ));
    }
    let request = review
        .try_into()
        .map_err(|_| "the AdmissionReview has no request".to_owned())?;
    Ok(Parsed {
        request,
        object,
        old_object,
    })
}

/// The review answering `request` with `response`; the patch, if any, is
/// written base64-encoded as the API server documents it (kube serializes
/// the bytes as a number array, which Go also accepts, but at three times
/// the size).
fn review(response: AdmissionResponse, patch: Option<&[u8]>) -> Reply {
    let mut value = match serde_json::to_value(response.into_review()) {
        Ok(value) => value,
        Err(e) => return Reply::BadRequest(format!("cannot encode the AdmissionReview: {e}")),
    };
    if let (Some(patch), Some(slot)) = (patch, value.pointer_mut("/response/patch")) {
        *slot = Value::String(base64::engine::general_purpose::STANDARD.encode(patch));
    }
    Reply::Review(value)
}

fn deny(request: &AdmissionRequest<DynamicObject>, denial: &Denial) -> Reply {
    let mut response = AdmissionResponse::from(request).deny(denial.message());
    response.result = denial.status();
    if !denial.warnings.is_empty() {
        response.warnings = Some(denial.warnings.clone());
    }
    review(response, None)
}

fn allow(request: &AdmissionRequest<DynamicObject>, warnings: Warnings) -> Reply {
    let mut response = AdmissionResponse::from(request);
    if !warnings.is_empty() {
        response.warnings = Some(warnings);
    }
    review(response, None)
}

/// `apps.example.com/v1 MyApp`, as messages name a kind.
fn kind_name<K: Resource<DynamicType = ()>>() -> String {
    format!("{} {}", K::api_version(&()), K::kind(&()))
}

/// Refuses a request for another kind or version than `K`: the webhook
/// configuration's rules send it something this handler cannot read.
fn check_kind<K: Resource<DynamicType = ()>>(
    request: &AdmissionRequest<DynamicObject>,
) -> Result<(), Denial> {
    let gvk = &request.kind;
    if gvk.group == K::group(&()) && gvk.version == K::version(&()) && gvk.kind == K::kind(&()) {
        return Ok(());
    }
    let got = if gvk.group.is_empty() {
        format!("{} {}", gvk.version, gvk.kind)
    } else {
        format!("{}/{} {}", gvk.group, gvk.version, gvk.kind)
    };
    Err(Denial::new(format!(
        "this webhook handles {} only, not {got}: list only that kind and version in the webhook configuration's rules",
        kind_name::<K>()
    ))
    .with_code(400, "BadRequest"))
}

/// Decodes the request's `object` or `oldObject` (`which`) into `K`.
fn decode<K>(raw: Option<&Value>, which: &str) -> Result<K, Denial>
where
    K: Resource<DynamicType = ()> + DeserializeOwned,
{
    let raw = raw.ok_or_else(|| {
        Denial::new(format!("the AdmissionReview's request has no {which}"))
            .with_code(400, "BadRequest")
    })?;
    K::deserialize(raw).map_err(|e| {
        Denial::new(format!(
            "the {which} is not a valid {}: {e}",
            kind_name::<K>()
        ))
        .with_code(400, "BadRequest")
    })
}

/// The JSON patch turning `original` into `defaulted`, without removals
/// unless `remove_fields` (see [`Defaulter::REMOVE_FIELDS`]).
pub(crate) fn defaulting_patch(original: &Value, defaulted: &Value, remove_fields: bool) -> Patch {
    let patch = json_patch::diff(original, defaulted);
    let mut kept = Vec::with_capacity(patch.0.len());
    for operation in patch.0 {
        match operation {
            // Serde writes an unset Option as null; adding a null adds nothing.
            PatchOperation::Add(ref add) if add.value.is_null() => {}
            // Setting a field to None (null) means removing it.
            PatchOperation::Replace(replace) if replace.value.is_null() => {
                if remove_fields && !in_array(original, &replace.path) {
                    kept.push(PatchOperation::Remove(RemoveOperation {
                        path: replace.path,
                    }));
                }
            }
            PatchOperation::Remove(ref remove)
                if !remove_fields && !in_array(original, &remove.path) => {}
            other => kept.push(other),
        }
    }
    Patch(kept)
}

/// Whether `path` names an element of an array in `doc` (rather than an
/// object's field): array elements a defaulter removes are always removed.
fn in_array(doc: &Value, path: &json_patch::jsonptr::Pointer) -> bool {
    path.parent()
        .and_then(|parent| parent.resolve(doc).ok())
        .is_some_and(Value::is_array)
}

/// Answers an AdmissionReview for a defaulting webhook of kind `K`.
pub(crate) async fn handle_default<K, D>(defaulter: &D, body: &[u8]) -> Reply
where
    K: Resource<DynamicType = ()> + DeserializeOwned + Serialize + Send + Sync,
    D: Defaulter<K>,
{
    let parsed = match parse(body) {
        Ok(parsed) => parsed,
        Err(message) => return Reply::BadRequest(message),
    };
    let request = &parsed.request;
    // Only creates and updates have an object to default (controller-runtime
    // skips deletes too); CONNECT carries options, not the kind.
    if !matches!(request.operation, Operation::Create | Operation::Update) {
        return allow(request, Vec::new());
    }
    let result = async {
        check_kind::<K>(request)?;
        let mut obj = decode::<K>(parsed.object.as_ref(), "object")?;
        defaulter
            .set_defaults(&AdmissionContext::from_request(request), &mut obj)
            .await?;
        serde_json::to_value(&obj).map_err(|e| {
            Denial::new(format!(
                "cannot encode the defaulted {}: {e}",
                kind_name::<K>()
            ))
            .with_code(500, "InternalError")
        })
    }
    .await;
    let defaulted = match result {
        Ok(defaulted) => defaulted,
        Err(denial) => return deny(request, &denial),
    };
    let Some(original) = parsed.object.as_ref() else {
        return allow(request, Vec::new());
    };
    let patch = defaulting_patch(original, &defaulted, D::REMOVE_FIELDS);
    if patch.0.is_empty() {
        return allow(request, Vec::new());
    }
    let bytes = match serde_json::to_vec(&patch) {
        Ok(bytes) => bytes,
        Err(e) => return Reply::BadRequest(format!("cannot encode the patch: {e}")),
    };
    match AdmissionResponse::from(request).with_patch(patch) {
        Ok(response) => review(response, Some(&bytes)),
        Err(e) => Reply::BadRequest(e.to_string()),
    }
}

/// Answers an AdmissionReview for a validating webhook of kind `K`.
pub(crate) async fn handle_validate<K, V>(validator: &V, body: &[u8]) -> Reply
where
    K: Resource<DynamicType = ()> + DeserializeOwned + Send + Sync,
    V: Validator<K>,
{
    let parsed = match parse(body) {
        Ok(parsed) => parsed,
        Err(message) => return Reply::BadRequest(message),
    };
    let request = &parsed.request;
    let ctx = AdmissionContext::from_request(request);
    let result = async {
        check_kind::<K>(request)?;
        match request.operation {
            Operation::Create => {
                let obj = decode::<K>(parsed.object.as_ref(), "object")?;
                validator.validate_create(&ctx, &obj).await
            }
            Operation::Update => {
                let old = decode::<K>(parsed.old_object.as_ref(), "oldObject")?;
                let new = decode::<K>(parsed.object.as_ref(), "object")?;
                validator.validate_update(&ctx, &old, &new).await
            }
            Operation::Delete => {
                let obj = decode::<K>(parsed.old_object.as_ref(), "oldObject")?;
                validator.validate_delete(&ctx, &obj).await
            }
            Operation::Connect => Err(Denial::new(
                "CONNECT is not validated by this webhook: list only create, update and delete in its rules",
            )
            .with_code(400, "BadRequest")),
        }
    }
    .await;
    match result {
        Ok(warnings) => allow(request, warnings),
        Err(denial) => deny(request, &denial),
    }
}
