//! The OpenAPI schema of a `#[crd]` kind, as controller-gen writes it.
//!
//! `#[crd]` asks kube's derive for `schema = "manual"` and implements the
//! kind's `JsonSchema` with [`root_json_schema`], so `Kind::crd()`, the
//! registry ([`crate::manifests::all_crds`]) and `kubeforge manifests` all
//! get this one schema:
//!
//! 1. schemars generates the Spec and Status *without* inlining, so every
//!    type is a named definition;
//! 2. `null` is taken out of every `Option<T>`: controller-gen writes
//!    `nullable: true` only where asked (`#[field(nullable)]`), and for
//!    server-side apply `null` means something else than leaving a field out;
//! 3. the project's own definitions are inlined, then kube's
//!    [`StructuralSchemaRewriter`] makes enums structural, as before;
//! 4. every `io.k8s.*` definition (a k8s-openapi type the kind embeds) is
//!    replaced by the schema the API server publishes for it
//!    ([`kubernetes`]): list types and map keys (without which server-side
//!    apply treats `containers` as one atomic value), map types, defaults,
//!    int-or-string, quantity patterns, `metadata: {type: object}` inside
//!    templates, required fields as Kubernetes has them;
//! 5. a last pass writes int-or-string as controller-gen does (`anyOf:
//!    [{type: integer}, {type: string}]`), sorts `required` and shortens
//!    descriptions to the project's and the fields' `max_desc_len`.
//!
//! The root is controller-gen's too: `apiVersion`, `kind` and `metadata`
//! properties with its descriptions, no `title`, and the kind's own CEL
//! rules (`#[crd(root_validation(...))]`).
//!
//! Only generated code calls this module, through `kubeforge::__private`.

mod kubernetes;

use std::collections::HashMap;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::core::schema::StructuralSchemaRewriter;
use schemars::generate::SchemaSettings;
use schemars::transform::{AddNullable, RemoveRefSiblings, Transform};
use schemars::{Schema, SchemaGenerator};
use serde_json::{Map, Value, json};

use kubernetes::Definitions;

/// What `#[field(max_desc_len = N)]` leaves on a field for the last pass.
pub const MAX_DESC_LEN_KEY: &str = "x-kubeforge-max-desc-len";

/// Where schemars puts definitions with OpenAPI 3 settings.
const DEFINITIONS_PREFIX: &str = "#/components/schemas/";

/// controller-gen's descriptions of the root's `apiVersion` and `kind`.
const API_VERSION_DESCRIPTION: &str = "APIVersion defines the versioned schema of this representation of an object.\nServers should convert recognized schemas to the latest internal value, and\nmay reject unrecognized values.\nMore info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources";
const KIND_DESCRIPTION: &str = "Kind is a string value representing the REST resource this object represents.\nServers may infer this from the endpoint the client submits requests to.\nCannot be updated.\nIn CamelCase.\nMore info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";

/// What `#[crd]` tells the schema generator about one kind.
#[derive(Debug, Clone, Copy)]
pub struct Root {
    /// The kind, for error messages.
    pub kind: &'static str,
    /// The kind's description (the Spec's doc comment); empty for none.
    pub description: &'static str,
    /// `generator.subschema_for::<Spec>()`.
    pub spec: fn(&mut SchemaGenerator) -> Schema,
    /// The same for the Status, if the kind has one.
    pub status: Option<fn(&mut SchemaGenerator) -> Schema>,
    /// `#[crd(root_validation(...))]`: the root's `x-kubernetes-validations`
    /// (a JSON array), CEL rules over the whole object, where
    /// `self.metadata.name` is visible (controller-gen's `XValidation` on
    /// the kind's type).
    pub validations: Option<fn() -> Value>,
    /// `#[crd(root_external_docs(...))]`: the root's `externalDocs` object
    /// (controller-gen's `+kubebuilder:externalDocs` on the kind's type).
    pub external_docs: Option<fn() -> Value>,
}

/// Why a kind's schema cannot be built. Each is a mistake in the kind's
/// Rust types, reported when `crd()` runs (kube's derive panics there too).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SchemaError {
    /// A type contains itself.
    #[error(
        "{0} contains itself, and a CRD schema cannot be recursive; hold the recursive part in a serde_json::Value with #[field(preserve_unknown_fields)]"
    )]
    Recursive(String),
    /// A `$ref` to nothing (a schemars impl that names a definition it
    /// never adds).
    #[error("the schema refers to {0}, which no type defines")]
    Undefined(String),
    /// The schemas shipped with kubeforge do not inflate.
    #[error("kubeforge's schemas of Kubernetes types are damaged; reinstall kubeforge")]
    Damaged,
}

/// The kind's `JsonSchema::json_schema`: the finished CRD schema.
///
/// kube's `crd()` runs its own generator (which adds `nullable` to every
/// `Option` and a `title`) around this call, and hands it to us mutably;
/// it is replaced by one whose only transform drops the `title` schemars
/// adds to a root, so what `crd()` returns is exactly [`generate`]'s.
///
/// # Panics
///
/// When the Rust types cannot make a CRD schema ([`SchemaError`]), as
/// kube's `crd()` does when schemars' output is not a valid schema.
pub fn root_json_schema(generator: &mut SchemaGenerator, root: &Root) -> Schema {
    let schema = match generate(root, crate::manifests::project_max_desc_len()) {
        Ok(schema) => schema,
        Err(e) => panic!("cannot build the CRD schema of {}: {e}", root.kind),
    };
    *generator = SchemaSettings::openapi3()
        .with(|s| {
            s.meta_schema = None;
            s.transforms = vec![Box::new(RemoveRootTitle)];
        })
        .into_generator();
    schema
}

/// `crd()` as `#[crd]` types expose it: kube's, plus what kube's derive
/// leaves out and controller-gen writes (`names.listKind`).
pub fn finish_crd(mut crd: CustomResourceDefinition) -> CustomResourceDefinition {
    let names = &mut crd.spec.names;
    if names.list_kind.is_none() {
        names.list_kind = Some(format!("{}List", names.kind));
    }
    crd
}

/// Drops the `title` schemars gives every root schema.
#[derive(Debug, Clone)]
struct RemoveRootTitle;

impl Transform for RemoveRootTitle {
    fn transform(&mut self, schema: &mut Schema) {
        schema.remove("title");
    }
}

/// OpenAPI 3 without inlining, without `nullable` for every `Option`, and
/// with `$ref` siblings (a field's description) kept beside the `$ref`.
fn settings() -> SchemaSettings {
    let mut settings = SchemaSettings::openapi3().with(|s| {
        s.meta_schema = None;
        s.inline_subschemas = false;
    });
    settings
        .transforms
        .retain(|t| !t.is::<AddNullable>() && !t.is::<RemoveRefSiblings>());
    settings
}

/// The finished schema of `root` (see the module docs for the steps).
pub fn generate(root: &Root, project_max_desc_len: Option<usize>) -> Result<Schema, SchemaError> {
    let mut generator = settings().into_generator();
    let spec = (root.spec)(&mut generator);
    let status = root.status.map(|status| status(&mut generator));

    let mut properties = Map::new();
    properties.insert(
        "apiVersion".into(),
        json!({"description": API_VERSION_DESCRIPTION, "type": "string"}),
    );
    properties.insert(
        "kind".into(),
        json!({"description": KIND_DESCRIPTION, "type": "string"}),
    );
    properties.insert("metadata".into(), json!({"type": "object"}));
    properties.insert("spec".into(), spec.to_value());
    if let Some(status) = status {
        properties.insert("status".into(), status.to_value());
    }
    let mut object = Map::new();
    if !root.description.is_empty() {
        object.insert("description".into(), root.description.into());
    }
    if let Some(docs) = root.external_docs {
        object.insert("externalDocs".into(), docs());
    }
    object.insert("properties".into(), properties.into());
    object.insert("required".into(), json!(["spec"]));
    object.insert("type".into(), "object".into());
    if let Some(rules) = root.validations.map(|rules| rules())
        && rules.as_array().is_some_and(|r| !r.is_empty())
    {
        object.insert("x-kubernetes-validations".into(), rules);
    }
    let mut schema = Schema::from(object);
    for transform in generator.transforms_mut() {
        transform.transform(&mut schema);
    }
    let mut own = generator.take_definitions(true);
    let mut value = schema.to_value();

    // 2. No `null` from `Option`s.
    strip_null(&mut value);
    own.values_mut().for_each(strip_null);

    // 3. The project's types inline, Kubernetes' left as `$ref`s.
    let mut resolver = Resolver {
        own: &own,
        kubernetes: None,
        done: HashMap::new(),
        stack: Vec::new(),
    };
    resolver.inline(&mut value, Pass::Own)?;
    let mut schema = Schema::try_from(value).map_err(|_| SchemaError::Damaged)?;
    StructuralSchemaRewriter.transform(&mut schema);

    // 4. Kubernetes' types as the API server publishes them.
    let mut value = schema.to_value();
    resolver.inline(&mut value, Pass::Kubernetes)?;

    // 5. controller-gen's spelling, descriptions within their limits.
    finish(&mut value, project_max_desc_len);
    Schema::try_from(value).map_err(|_| SchemaError::Damaged)
}

/// Which `$ref`s a pass of [`Resolver::inline`] replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    /// Definitions schemars generated, except Kubernetes' own types.
    Own,
    /// Kubernetes' types, from [`kubernetes`].
    Kubernetes,
}

struct Resolver<'a> {
    own: &'a Map<String, Value>,
    /// Loaded on the first `io.k8s.*` reference.
    kubernetes: Option<&'static Definitions>,
    /// Kubernetes definitions already inlined, by name.
    done: HashMap<String, Value>,
    /// The definitions being inlined, to catch recursion.
    stack: Vec<String>,
}

impl Resolver<'_> {
    /// Whether `name` is a Kubernetes type kubeforge has the schema of.
    fn is_kubernetes(&mut self, name: &str) -> Result<bool, SchemaError> {
        if !name.starts_with("io.k8s.") {
            return Ok(false);
        }
        Ok(self.definitions()?.get(name).is_some())
    }

    fn definitions(&mut self) -> Result<&'static Definitions, SchemaError> {
        if let Some(d) = self.kubernetes {
            return Ok(d);
        }
        let d = Definitions::load().ok_or(SchemaError::Damaged)?;
        self.kubernetes = Some(d);
        Ok(d)
    }

    /// Replaces the `$ref`s `pass` is about, recursively, by what they
    /// name; a `$ref`'s siblings (a field's description, default, list
    /// type) win over the definition's own keys.
    fn inline(&mut self, v: &mut Value, pass: Pass) -> Result<(), SchemaError> {
        let Value::Object(map) = v else {
            return Ok(());
        };
        for sub in subschemas(map) {
            self.inline(sub, pass)?;
        }
        let Some(Value::String(reference)) = map.get("$ref") else {
            return Ok(());
        };
        let name = reference
            .strip_prefix(DEFINITIONS_PREFIX)
            .unwrap_or(reference)
            .to_string();
        let kubernetes = self.is_kubernetes(&name)?;
        let target = match (pass, kubernetes) {
            (Pass::Own, false) => self.own_definition(&name)?,
            (Pass::Kubernetes, true) => self.kubernetes_definition(&name)?,
            _ => return Ok(()),
        };
        map.remove("$ref");
        if let Value::Object(target) = target {
            for (k, v) in target {
                map.entry(k).or_insert(v);
            }
        }
        Ok(())
    }

    fn enter(&mut self, name: &str) -> Result<(), SchemaError> {
        if self.stack.iter().any(|n| n == name) {
            return Err(SchemaError::Recursive(name.to_string()));
        }
        self.stack.push(name.to_string());
        Ok(())
    }

    fn own_definition(&mut self, name: &str) -> Result<Value, SchemaError> {
        let mut target = self
            .own
            .get(name)
            .cloned()
            .ok_or_else(|| SchemaError::Undefined(name.to_string()))?;
        self.enter(name)?;
        self.inline(&mut target, Pass::Own)?;
        self.stack.pop();
        Ok(target)
    }

    fn kubernetes_definition(&mut self, name: &str) -> Result<Value, SchemaError> {
        if let Some(done) = self.done.get(name) {
            return Ok(done.clone());
        }
        let mut target = self
            .definitions()?
            .get(name)
            .ok_or_else(|| SchemaError::Undefined(name.to_string()))?;
        self.enter(name)?;
        self.inline(&mut target, Pass::Kubernetes)?;
        self.stack.pop();
        self.done.insert(name.to_string(), target.clone());
        Ok(target)
    }
}

/// The subschemas directly inside a schema object.
fn subschemas(map: &mut Map<String, Value>) -> Vec<&mut Value> {
    let mut out = Vec::new();
    for (key, value) in map.iter_mut() {
        match (key.as_str(), value) {
            ("properties" | "patternProperties", Value::Object(props)) => {
                out.extend(props.values_mut());
            }
            ("items" | "additionalProperties" | "not", v @ Value::Object(_)) => out.push(v),
            ("items" | "anyOf" | "oneOf" | "allOf", Value::Array(list)) => {
                out.extend(list.iter_mut())
            }
            _ => {}
        }
    }
    out
}

/// Takes out the `null` that schemars adds for `Option<T>`: `type: [T,
/// "null"]`, `null` in `enum`, and `anyOf: [T, {type: null}]`.
fn strip_null(v: &mut Value) {
    let Value::Object(map) = v else { return };
    if let Some(Value::Array(types)) = map.get_mut("type") {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            let only = types.remove(0);
            map.insert("type".into(), only);
        }
    }
    if let Some(Value::Array(values)) = map.get_mut("enum") {
        values.retain(|v| !v.is_null());
    }
    if let Some(Value::Array(any)) = map.get_mut("anyOf") {
        let before = any.len();
        any.retain(|s| !is_null_schema(s));
        if any.len() < before && any.len() == 1 {
            let only = any.remove(0);
            map.remove("anyOf");
            if let Value::Object(inner) = only {
                for (k, v) in inner {
                    map.entry(k).or_insert(v);
                }
            }
        }
    }
    for sub in subschemas(map) {
        strip_null(sub);
    }
}

fn is_null_schema(v: &Value) -> bool {
    v.get("type") == Some(&Value::from("null")) || v.get("enum") == Some(&json!([null]))
}

/// The last pass: int-or-string as `anyOf`, sorted `required`, and
/// descriptions within `limit` (the tightest of the project's and of every
/// enclosing field's `max_desc_len`).
fn finish(v: &mut Value, limit: Option<usize>) {
    let Value::Object(map) = v else { return };
    let own = map
        .remove(MAX_DESC_LEN_KEY)
        .and_then(|n| n.as_u64())
        .map(|n| usize::try_from(n).unwrap_or(usize::MAX));
    let limit = match (limit, own) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    if map.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true))
        && !map.contains_key("anyOf")
    {
        map.remove("type");
        map.remove("format");
        map.insert(
            "anyOf".into(),
            json!([{"type": "integer"}, {"type": "string"}]),
        );
    }
    if let Some(Value::Array(required)) = map.get_mut("required") {
        required.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
        required.dedup();
    }
    if let Some(limit) = limit {
        match map.get_mut("description") {
            Some(Value::String(d)) if limit == 0 => {
                d.clear();
            }
            Some(Value::String(d)) => {
                if let Some(short) = truncate_description(d, limit) {
                    *d = short;
                }
            }
            _ => {}
        }
        if map.get("description") == Some(&Value::from("")) {
            map.remove("description");
        }
    }
    // The `anyOf` branches of int-or-string are not fields: no limit there
    // matters, and nothing else nests.
    for sub in subschemas(map) {
        finish(sub, limit);
    }
}

/// controller-gen's `maxDescLen`: a description longer than `max`
/// characters is cut at the last space before the limit and gets "...".
pub fn truncate_description(description: &str, max: usize) -> Option<String> {
    if description.chars().count() <= max {
        return None;
    }
    let cut: String = description.chars().take(max).collect();
    match cut.rfind(char::is_whitespace) {
        Some(n) if n > 0 => Some(format!("{}...", &cut[..n])),
        _ => Some(format!("{cut}...")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_leaves_options() {
        let mut v = json!({
            "properties": {
                "a": {"type": ["string", "null"], "description": "a"},
                "b": {"anyOf": [{"$ref": "#/components/schemas/B"}, {"type": "null"}], "description": "b"},
                "c": {"type": ["string", "null"], "enum": ["x", null]},
                "d": {"type": ["integer", "null"], "nullable": true},
            }
        });
        strip_null(&mut v);
        assert_eq!(
            v,
            json!({
                "properties": {
                    "a": {"type": "string", "description": "a"},
                    "b": {"$ref": "#/components/schemas/B", "description": "b"},
                    "c": {"type": "string", "enum": ["x"]},
                    "d": {"type": "integer", "nullable": true},
                }
            })
        );
    }

    #[test]
    fn descriptions_are_cut_at_a_word_like_controller_gen() {
        assert_eq!(truncate_description("short", 10), None);
        assert_eq!(
            truncate_description("one two three", 9).as_deref(),
            Some("one two...")
        );
        assert_eq!(
            truncate_description("abcdefghij", 4).as_deref(),
            Some("abcd...")
        );
        assert_eq!(
            truncate_description("ééé ééé", 5).as_deref(),
            Some("ééé...")
        );
    }

    #[test]
    fn limits_nest_and_int_or_string_becomes_any_of() {
        let mut v = json!({
            "description": "root text",
            "properties": {
                "a": {
                    "description": "field a text",
                    MAX_DESC_LEN_KEY: 0,
                    "properties": {"b": {"description": "b text", "type": "string"}},
                    "required": ["z", "b"],
                },
                "port": {"x-kubernetes-int-or-string": true, "description": "p"},
            }
        });
        finish(&mut v, Some(6));
        assert_eq!(
            v,
            json!({
                "description": "root...",
                "properties": {
                    "a": {"properties": {"b": {"type": "string"}}, "required": ["b", "z"]},
                    "port": {
                        "anyOf": [{"type": "integer"}, {"type": "string"}],
                        "description": "p",
                        "x-kubernetes-int-or-string": true,
                    },
                }
            })
        );
    }

    #[test]
    fn recursion_is_an_error_naming_the_type() {
        let own: Map<String, Value> = serde_json::from_value(json!({
            "Node": {"properties": {"next": {"$ref": "#/components/schemas/Node"}}}
        }))
        .unwrap();
        let mut resolver = Resolver {
            own: &own,
            kubernetes: None,
            done: HashMap::new(),
            stack: Vec::new(),
        };
        let mut v = json!({"$ref": "#/components/schemas/Node"});
        assert_eq!(
            resolver.inline(&mut v, Pass::Own),
            Err(SchemaError::Recursive("Node".into()))
        );
    }
}
