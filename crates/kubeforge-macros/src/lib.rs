//! Attribute macros for kubeforge operators: [`macro@crd`], [`macro@schema`]
//! (with `#[field(...)]` on fields) and [`macro@rbac`]. Use them through the
//! `kubeforge` crate, which re-exports them together with the crates they
//! expand to, so an API crate depends on `kubeforge` and `serde` only.
//!
//! They are kubeforge's counterpart of controller-gen's `+kubebuilder:`
//! markers; `docs/markers.md` in the repository maps every marker to its key.
//! A mistake is a compile error at the offending token that says what the
//! key accepts, and a misspelled key gets a "did you mean" suggestion:
//!
//! ```text
//! error: unknown `crd` key `shortname` (did you mean `shortnames`?); expected one of: group, version, kind, ...
//! ```
//!
//! Layout: `args` reads attribute arguments (with darling, as kube-derive
//! does); the `crd` and `schema` modules hold each attribute's keys and what
//! they expand to; `item` is what both do to the item they sit on; `rbac`
//! checks `#[rbac]`. Name rules (DNS names, versions, kinds) come from
//! `kubeforge_codegen::names`, shared with the CLI.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

use proc_macro::TokenStream;

mod args;
mod crd;
mod item;
mod rbac;
mod schema;
mod webhook;

/// Makes a Spec struct a custom resource: the equivalent of controller-gen's
/// `+kubebuilder:object:root`, `resource`, `subresource`, `printcolumn`...
/// markers.
///
/// `#[crd]` goes on the Spec struct (named fields, not generic) and expands
/// to kube's `#[derive(CustomResource)]`, which generates the root type named
/// by `kind` (`MyApp` around `MyAppSpec`) with `MyApp::crd()`. It also adds
/// the derives a CRD type needs and you didn't write (`Clone`, `Debug`,
/// `Serialize`, `Deserialize`, `JsonSchema`), translates `#[field(...)]` on
/// the Spec's fields (see [`macro@schema`]), and registers the version so the
/// API crate's `crdgen` (and so `kubeforge manifests`) finds it. The Spec's
/// doc comment becomes the kind's description.
///
/// ```rust
/// /// MyApp runs a web application.
/// #[kubeforge::crd(
///     group = "apps.example.com",
///     version = "v1",
///     kind = "MyApp",
///     status = MyAppStatus,
///     shortnames = ["ma"],
///     printcolumn(name = "Replicas", type = "integer", json_path = ".spec.replicas"),
///     scale(spec_replicas_path = ".spec.replicas", status_replicas_path = ".status.replicas"),
/// )]
/// #[serde(rename_all = "camelCase")]
/// pub struct MyAppSpec {
///     /// Desired replicas.
///     #[field(minimum = 0, maximum = 100, default = 1)]
///     pub replicas: i32,
/// }
///
/// #[kubeforge::schema]
/// pub struct MyAppStatus {
///     pub replicas: Option<i32>,
/// }
///
/// # fn main() {
/// let crd = MyApp::crd();
/// assert_eq!(crd.metadata.name.as_deref(), Some("myapps.apps.example.com"));
/// assert_eq!(crd.spec.names.short_names, Some(vec!["ma".to_string()]));
/// # }
/// ```
///
/// # Keys
///
/// Required:
///
/// - `group = "apps.example.com"`: the API group, a lowercase DNS name with
///   at least one dot.
/// - `version = "v1"`: `v<N>`, `v<N>alpha<M>` or `v<N>beta<M>` (`"v2beta1"`).
/// - `kind = "MyApp"`: UpperCamelCase ASCII; names the generated root type,
///   so it must differ from the Spec's own name.
///
/// Names and scope:
///
/// - `namespaced` (or `namespaced = false`), or `scope = "Namespaced"` /
///   `scope = "Cluster"`: the kind's scope; namespaced by default, as in
///   Kubebuilder. Use one of the two keys, not both.
/// - `plural = "myapps"`, `singular = "myapp"`: lowercase DNS labels;
///   kube's defaults are the lowercased kind and its English plural.
/// - `shortnames = ["ma"]`, `categories = ["all"]`: a string or a list of
///   lowercase DNS labels (`kubectl get ma`, `kubectl get all`).
///
/// Subresources and printing:
///
/// - `status = MyAppStatus`: the status type (a `#[schema]` type; a string
///   `"MyAppStatus"` works too); turns on the status subresource.
/// - `scale(spec_replicas_path = ".spec.replicas", status_replicas_path =
///   ".status.replicas", label_selector_path = ".status.selector")`: the
///   scale subresource; the selector path is optional; needs `status`.
/// - `printcolumn(name = "Replicas", type = "integer", json_path =
///   ".spec.replicas", description = "Desired replicas", format = "int32",
///   priority = 1)`: a `kubectl get` column; `type` is one of integer,
///   number, string, boolean, date; `format` one of int32, int64, float,
///   double, byte, date, date-time, password; `description`, `format` and
///   `priority` are optional. Repeat the key for more columns.
/// - `selectable_field = ".spec.image"`: a field selector
///   (`kubectl get --field-selector spec.image=...`); repeatable.
///
/// Versions:
///
/// - `storage`: this version is the one stored, for a kind with several
///   versions (several Spec structs with the same group and kind; exactly one
///   says `storage`). A kind with one version stores it.
/// - `served = false`: the API server does not serve this version.
/// - `deprecated` or `deprecated = "use v2 instead"`: the version is
///   deprecated, with kube's or your warning.
/// - `skip_version`: the version is left out of the CRD (controller-gen's
///   `+kubebuilder:skipversion`); its Rust types stay. Not with `storage`.
///
/// The whole object: `root_validation = "self.metadata.name.size() <= 63"`
/// or `root_validation(...)` (as `validation(...)`, repeatable) and
/// `root_external_docs(url = "...", description = "...")`, on the root
/// schema.
///
/// The CRD object:
///
/// - `label("team", "platform")`, `annotation("owner", "platform")`: labels
///   and annotations of the CustomResourceDefinition; repeatable.
///
/// The Spec's schema (the type-level keys of [`macro@schema`], with `self`
/// the spec): `validation = "..."` or `validation(...)` (repeatable),
/// `preserve_unknown_fields`, `map_type = "atomic"`, `min_properties = 1`,
/// `max_properties = 10`, `exactly_one_of` / `at_most_one_of` /
/// `at_least_one_of`, `external_docs(...)`.
///
/// ```rust
/// #[kubeforge::crd(
///     group = "batch.example.com",
///     version = "v1beta1",
///     kind = "Backup",
///     scope = "Cluster",
///     plural = "backups",
///     singular = "backup",
///     categories = ["all", "backups"],
///     printcolumn(name = "Schedule", type = "string", json_path = ".spec.schedule",
///                 description = "When it runs", priority = 1),
///     printcolumn(name = "Keep", type = "integer", format = "int32", json_path = ".spec.keep"),
///     selectable_field = ".spec.schedule",
///     label("team", "platform"),
///     annotation("owner", "platform"),
///     storage,
///     served = true,
///     deprecated = "use v1 instead",
///     validation(rule = "self.keep <= 100", message = "keep at most 100 backups"),
///     min_properties = 1,
/// )]
/// pub struct BackupSpec {
///     pub schedule: String,
///     pub keep: i32,
/// }
///
/// # fn main() {
/// let crd = Backup::crd();
/// assert_eq!(crd.spec.scope, "Cluster");
/// assert_eq!(crd.spec.versions[0].deprecated, Some(true));
/// assert_eq!(crd.spec.versions[0].additional_printer_columns.as_ref().map(Vec::len), Some(2));
/// # }
/// ```
#[proc_macro_attribute]
pub fn crd(args: TokenStream, item: TokenStream) -> TokenStream {
    crd::expand_crd(args.into(), item.into()).into()
}

/// Derives the schema of a struct or enum used inside a Spec or Status, and
/// enables `#[field(...)]` on its fields.
///
/// Like [`macro@crd`], it adds the derives you didn't write (`Clone`,
/// `Debug`, `Serialize`, `Deserialize`, `JsonSchema`) with paths through
/// `kubeforge`. Doc comments become descriptions; a unit-variant enum becomes
/// `type: string` with `enum: [...]` (serde renames apply).
///
/// # Type-level keys
///
/// Also accepted by `#[crd(...)]`, where they apply to the Spec.
///
/// - `validation = "self.min <= self.max"`: a CEL rule
///   (`x-kubernetes-validations`); repeatable. The long form
///   `validation(rule = "...", message = "...", message_expression = "...",
///   reason = "FieldValueInvalid", field_path = ".max", optional_old_self)`
///   takes `rule` (required), `message` (one line), `message_expression`
///   (CEL), `reason` (one of FieldValueInvalid, FieldValueForbidden,
///   FieldValueRequired, FieldValueDuplicate), `field_path` (a JSON path
///   starting with `.`) and `optional_old_self` (a flag or a boolean).
/// - `preserve_unknown_fields`: keep fields the schema doesn't declare
///   (`x-kubernetes-preserve-unknown-fields: true`).
/// - `map_type = "atomic"` or `"granular"`: how server-side apply merges the
///   object (`x-kubernetes-map-type`, controller-gen's `+structType`).
/// - `min_properties = 1`, `max_properties = 10`: bounds on the number of
///   properties.
/// - `exactly_one_of = ["a", "b"]`, `at_most_one_of = [...]`,
///   `at_least_one_of = [...]`: CEL rules over optional fields, with
///   controller-gen's text; names are JSON field names, checked.
/// - `external_docs(url = "https://...", description = "...")`:
///   `externalDocs` wherever the type is used.
/// - `list_type = "map"`, `list_map_keys = ["name"]` (or `"set"`,
///   `"atomic"`): only on a newtype over a `Vec`, controller-gen's named
///   slice type.
///
/// ```rust
/// #[kubeforge::schema(
///     validation = "self.min <= self.max",
///     validation(rule = "self.max <= 100", message = "max is at most 100",
///                reason = "FieldValueInvalid", field_path = ".max"),
///     map_type = "atomic",
///     min_properties = 1,
///     max_properties = 2,
/// )]
/// pub struct Range {
///     pub min: i32,
///     pub max: i32,
/// }
///
/// #[kubeforge::schema(preserve_unknown_fields)]
/// pub struct Extras {}
///
/// # fn main() {
/// let schema = kubeforge::schemars::schema_for!(Range);
/// assert_eq!(schema.get("x-kubernetes-map-type"), Some(&"atomic".into()));
/// assert_eq!(schema.get("minProperties"), Some(&1.into()));
/// # }
/// ```
///
/// # `#[field(...)]` keys
///
/// On a field of a `#[crd]` or `#[schema]` type. Keys may be split over
/// several `#[field(...)]` attributes; each key is given once.
///
/// Numbers:
///
/// - `minimum = 1`, `maximum = 100`: bounds (integers stay integers,
///   `-5` and `0.5` work too); `minimum` must not exceed `maximum`.
/// - `exclusive_minimum = 0`, `exclusive_maximum = 1`: exclusive bounds,
///   written in the OpenAPI v3.0 form (`minimum: 0` + `exclusiveMinimum:
///   true`); not together with `minimum` / `maximum`.
/// - `multiple_of = 5`: a number greater than 0.
///
/// Strings:
///
/// - `min_length = 1`, `max_length = 63`: length bounds.
/// - `pattern = "^[a-z]+$"`: a regular expression the value must match.
/// - `format = "date-time"`: an OpenAPI format.
/// - `enum = ["Always", "Never"]`: the allowed literal values (for a Rust
///   enum, derive its schema with `#[kubeforge::schema]` instead).
///
/// Lists and maps:
///
/// - `min_items = 1`, `max_items = 16`: bounds on a list's length.
/// - `unique_items`: written as `x-kubernetes-list-type: set` (the API
///   server rejects `uniqueItems: true`).
/// - `list_type = "atomic"`, `"set"` or `"map"`: `x-kubernetes-list-type`;
///   `"map"` needs `list_map_keys = ["name"]`, the item fields that identify
///   an item.
/// - `map_type = "atomic"` or `"granular"`: `x-kubernetes-map-type`.
/// - `min_properties = 1`, `max_properties = 10`: bounds on a map's size.
/// - `items(minimum = 1, max_length = 63, ...)`: the value keys above (and
///   `int_or_string`, `embedded_resource`, `validation(...)`) applied to
///   each item of a list (controller-gen's `validation:items:*`).
///
/// Defaults and presence:
///
/// - `default = 3` (or `"text"`, `["a", "b"]`, `Mode::Fast`, any
///   expression of the field's type): the schema's `default` and
///   `#[serde(default = ...)]` with the same value; the field becomes
///   optional. A value of the wrong type is a compile error.
/// - `optional`: not in `required`; on a non-`Option` field also
///   `#[serde(default)]`. A field is required unless it is an `Option<T>`,
///   has a `default`, or is `optional`.
/// - `required`: in `required` even for an `Option<T>`; not with `optional`
///   or `default`.
/// - `nullable`: `nullable: true`, so `null` is a value the API server
///   stores. As with controller-gen, nothing else is nullable: an
///   `Option<T>` field may be left out, and a `null` sent for it is dropped.
///
/// Descriptions:
///
/// - `max_desc_len = 80`: descriptions of this field and of everything
///   inside it (e.g. an embedded `PodTemplateSpec`) longer than 80
///   characters are cut at a word and end in "..."; `0` drops them. The
///   project-wide limit is `kubeforge::crd_settings!(max_desc_len = N)`;
///   the tighter one wins.
///
/// Documentation: `title = "..."`, `example = <value of the field's type>`,
/// `external_docs(url = "https://...", description = "...")`.
///
/// Free-form values:
///
/// - `type = "object"` (or `string`, `integer`, `number`, `boolean`,
///   `array`): replaces the schema's type; the other keys must fit it.
/// - `schemaless`: drops the type's schema, keeping the description, then
///   applies the other keys (with `type = "object"` and
///   `preserve_unknown_fields`, as Kubebuilder pairs it).
/// - `preserve_unknown_fields`: `x-kubernetes-preserve-unknown-fields: true`
///   (for `serde_json::Value`).
/// - `int_or_string`: `x-kubernetes-int-or-string: true` in place of the
///   type (e.g. on an untagged `enum { Int(i32), Str(String) }`).
/// - `embedded_resource`: a whole Kubernetes object
///   (`x-kubernetes-embedded-resource: true`).
///
/// Rules: `validation = "self.size() > 0"` or `validation(...)` as at type
/// level, applied to the field's value; repeatable.
///
/// ```rust
/// use kubeforge::serde_json::Value;
///
/// #[kubeforge::schema]
/// pub enum Mode {
///     Fast,
///     Safe,
/// }
///
/// #[kubeforge::schema]
/// #[serde(untagged)]
/// pub enum Port {
///     Number(i32),
///     Name(String),
/// }
///
/// #[kubeforge::schema]
/// pub struct Item {
///     pub name: String,
/// }
///
/// #[kubeforge::schema]
/// pub struct Settings {
///     #[field(minimum = 1, maximum = 100, multiple_of = 1)]
///     pub replicas: i32,
///     #[field(exclusive_minimum = 0, exclusive_maximum = 1)]
///     pub ratio: f64,
///     #[field(min_length = 1, max_length = 63, pattern = "^[a-z]+$")]
///     pub name: String,
///     #[field(format = "date-time", nullable)]
///     pub since: Option<String>,
///     #[field(enum = ["Always", "Never"], default = "Always")]
///     pub policy: String,
///     #[field(default = Mode::Fast)]
///     pub mode: Mode,
///     #[field(min_items = 1, max_items = 16, unique_items)]
///     pub tags: Vec<String>,
///     #[field(list_type = "map", list_map_keys = ["name"])]
///     #[field(validation(rule = "self.all(i, i.name != '')", message = "names are set"))]
///     pub items: Vec<Item>,
///     #[field(map_type = "granular", min_properties = 1, max_properties = 10)]
///     pub labels: std::collections::BTreeMap<String, String>,
///     #[field(optional, max_desc_len = 0)]
///     pub debug: bool,
///     #[field(required)]
///     pub owner: Option<String>,
///     #[field(preserve_unknown_fields)]
///     pub extra: Value,
///     #[field(int_or_string)]
///     pub port: Port,
///     #[field(embedded_resource)]
///     pub template: Value,
///     #[field(validation = "self != 'admin'")]
///     pub user: String,
/// }
///
/// # fn main() {
/// let settings: Settings = kubeforge::serde_json::from_value(kubeforge::serde_json::json!({
///     "replicas": 1, "ratio": 0.5, "name": "a", "tags": ["x"], "items": [],
///     "labels": {}, "extra": {}, "port": 80, "template": {}, "user": "u",
/// }))
/// .unwrap();
/// assert_eq!(settings.policy, "Always"); // from `default`
/// assert!(!settings.debug); // from `optional`
/// let schema = kubeforge::schemars::schema_for!(Settings);
/// let replicas = &schema.get("properties").unwrap()["replicas"];
/// assert_eq!(replicas["maximum"], 100);
/// # }
/// ```
#[proc_macro_attribute]
pub fn schema(args: TokenStream, item: TokenStream) -> TokenStream {
    schema::expand_schema(args.into(), item.into()).into()
}

/// Declares an RBAC rule the operator's manager needs, like controller-gen's
/// `+kubebuilder:rbac` marker. `kubeforge manifests` reads these attributes
/// from the sources (without compiling them), merges them as controller-gen
/// does and writes `config/rbac/role.yaml`; the macro itself only checks its
/// arguments and leaves the item as it is. It may sit on any item (usually
/// the reconciler).
///
/// Every key takes a string or a list of strings.
///
/// - `groups = ["apps"]`: API groups; `""` or `"core"` is the core group,
///   `"*"` every group. Required with `resources`.
/// - `resources = ["deployments", "deployments/status"]`: lowercase plural
///   resources, optionally with a subresource, or `"*"`.
/// - `verbs = ["get", "list", "watch"]`: required; one of get, list, watch,
///   create, update, patch, delete, deletecollection, impersonate, bind,
///   escalate, use, approve, sign, attest, or `"*"`. For `urls`: get, post,
///   put, patch, delete, head, options, or `"*"`.
/// - `resource_names = ["my-config"]`: only these objects.
/// - `urls = ["/metrics"]`: non-resource URLs (a path, optionally ending in
///   `*`); not combined with groups, resources, names or namespace.
/// - `namespace = "my-namespace"`: a Role in that namespace instead of the
///   ClusterRole (one DNS label).
///
/// ```rust
/// #[kubeforge::rbac(groups = "apps", resources = ["deployments"], verbs = ["get", "list", "watch"])]
/// #[kubeforge::rbac(groups = "", resources = "secrets", resource_names = ["webhook-cert"],
///                   verbs = ["get", "update"], namespace = "system")]
/// #[kubeforge::rbac(urls = "/metrics", verbs = "get")]
/// pub struct Reconciler;
/// # fn main() {}
/// ```
#[proc_macro_attribute]
pub fn rbac(args: TokenStream, item: TokenStream) -> TokenStream {
    rbac::expand(args.into(), item.into()).into()
}

/// Declares an admission webhook, like controller-gen's
/// `+kubebuilder:webhook` marker: put it on the defaulter or validator struct
/// (or enum). `kubeforge manifests` reads these attributes from the sources
/// (without compiling them) and writes config/webhook/manifests.yaml as
/// controller-gen does: a MutatingWebhookConfiguration
/// `mutating-webhook-configuration` and a ValidatingWebhookConfiguration
/// `validating-webhook-configuration`, webhooks sorted by name, each calling
/// the Service `webhook-service` in namespace `system` (kustomize renames
/// both). The struct is left as it is and gets an associated constant
/// `PATH` holding `path`, so the server registers the handler where the
/// configuration sends requests: `server.defaulter_at::<MyApp, _>(MyAppDefaulter::PATH, ...)`.
///
/// Keys are controller-gen's in snake case. List keys also take a single
/// string (`verbs = "create"`).
///
/// - `path = "/mutate-apps-example-com-v1-myapp"`: required; the absolute
///   URL path the API server calls (Kubebuilder's convention:
///   `/mutate-` or `/validate-`, the group with dots as dashes, version, kind).
/// - `mutating = true`: required; `true` for a defaulter (mutating webhook),
///   `false` for a validator.
/// - `failure_policy = "fail"`: `"fail"`/`"Fail"` (the default: requests are
///   refused while the webhook is down) or `"ignore"`/`"Ignore"`.
/// - `side_effects = "None"`: required; `"None"` or `"NoneOnDryRun"`
///   (admissionregistration/v1 accepts nothing else).
/// - `groups = ["apps.example.com"]`: required; API groups, `""` or `"core"`
///   for the core group, or `"*"`.
/// - `resources = ["myapps"]`: required; lower-case plural resources,
///   optionally with a subresource (`"myapps/status"`), or `"*"`.
/// - `verbs = ["create", "update"]`: required; `create`, `update`, `delete`,
///   `connect` or `"*"` (written `CREATE`, `UPDATE`, ... in the manifest).
/// - `versions = ["v1"]`: required; API versions, or `"*"`.
/// - `name = "mmyapp-v1.kb.io"`: required, unique; a lower-case DNS name with
///   at least three dot-separated parts.
/// - `admission_review_versions = ["v1"]`: required; `"v1"` and optionally
///   `"v1beta1"`. kubeforge's server answers v1 reviews, so `"v1"` must be listed.
/// - `match_policy = "Equivalent"`: optional; `"Exact"` or `"Equivalent"`.
/// - `reinvocation_policy = "IfNeeded"`: optional, mutating webhooks only;
///   `"Never"` or `"IfNeeded"`.
/// - `timeout_seconds = 10`: optional; 1 to 30.
///
/// `"*"` must be alone in its list. A mistake is a compile error at the
/// offending value saying what is allowed.
///
/// ```rust
/// #[kubeforge::webhook(
///     path = "/mutate-apps-example-com-v1-myapp",
///     mutating = true,
///     failure_policy = "fail",
///     side_effects = "None",
///     groups = ["apps.example.com"],
///     resources = ["myapps"],
///     verbs = ["create", "update"],
///     versions = ["v1"],
///     name = "mmyapp-v1.kb.io",
///     admission_review_versions = ["v1"],
/// )]
/// pub struct MyAppDefaulter;
///
/// #[kubeforge::webhook(
///     path = "/validate-apps-example-com-v1-myapp",
///     mutating = false,
///     side_effects = "None",
///     groups = "apps.example.com",
///     resources = "myapps",
///     verbs = ["create", "update", "delete"],
///     versions = "v1",
///     name = "vmyapp-v1.kb.io",
///     admission_review_versions = "v1",
///     match_policy = "Exact",
///     timeout_seconds = 5,
/// )]
/// pub struct MyAppValidator;
///
/// # fn main() {
/// assert_eq!(MyAppDefaulter::PATH, "/mutate-apps-example-com-v1-myapp");
/// assert_eq!(MyAppValidator::PATH, "/validate-apps-example-com-v1-myapp");
/// # }
/// ```
#[proc_macro_attribute]
pub fn webhook(args: TokenStream, item: TokenStream) -> TokenStream {
    webhook::expand(args.into(), item.into()).into()
}
