//! `k8s-schemas [--check]`: writes crates/kubeforge/src/crd_schema/kubernetes.deflate,
//! the schemas of Kubernetes' own types that `#[crd]` puts in place of
//! k8s-openapi's when a kind embeds one (a `PodTemplateSpec`, a `Condition`).
//!
//! The source of truth is what the API server publishes: Kubernetes' OpenAPI
//! v3 (`api/openapi-spec/v3/*.json` of the Go module `k8s.io/kubernetes` at
//! the version kubeforge-envtest pins, from the Go module cache or fetched
//! with `go mod download`). Each definition is made structural the way
//! controller-gen writes the same Go type into a CRD:
//!
//! - `allOf: [{$ref}]` becomes a plain `$ref` (short name) next to its
//!   siblings (the field's description, default);
//! - `IntOrString` and `Quantity` become `anyOf: [{type: integer}, {type:
//!   string}]` with `x-kubernetes-int-or-string: true` (a quantity also gets
//!   its pattern), `ObjectMeta` becomes `type: object`, `RawExtension` an
//!   object keeping unknown fields;
//! - what only protobuf, strategic merge patch or discovery use
//!   (`x-kubernetes-patch-*`, `x-kubernetes-group-version-kind`,
//!   `x-kubernetes-unions`) is dropped;
//! - a default is kept when the Go field asks for one (`+default=` or
//!   `+kubebuilder:default=`); the zero values openapi-gen writes for every
//!   non-pointer field (`{}`, `0`, `""`, `false`) are dropped, as
//!   controller-gen never writes them (and `default: {}` on a struct with
//!   required fields would not even be a valid CRD);
//! - the few `+kubebuilder:validation:*` markers on Kubernetes' own types
//!   (the bounds and patterns of `metav1.Condition`) are added, since
//!   openapi-gen does not publish them and every CRD's conditions need them;
//! - `required` is sorted.
//!
//! The file holds one `name<TAB>json` line per definition, sorted by name,
//! after one header line, compressed with raw deflate (about a fifth of the
//! JSON): generated managers link it through `crd()`, so its size is theirs.
//! `--check` compares the decompressed text and also checks that every
//! `io.k8s.*` schema name k8s-openapi uses has a definition.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, Result, bail};
use serde_json::{Map, Value, json};

use crate::root;

/// The generated file, relative to the repository root.
const OUTPUT: &str = "crates/kubeforge/src/crd_schema/kubernetes.deflate";
/// Where the control plane's Go modules are pinned.
const GO_MOD: &str = "crates/kubeforge-envtest/go/go.mod";
/// controller-gen's pattern for `resource.Quantity`.
const QUANTITY_PATTERN: &str = r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$";
/// Keys no CRD schema has.
const DROPPED_KEYS: &[&str] = &[
    "x-kubernetes-patch-merge-key",
    "x-kubernetes-patch-strategy",
    "x-kubernetes-group-version-kind",
    "x-kubernetes-unions",
    "x-kubernetes-action",
];
const REF_PREFIX: &str = "#/components/schemas/";

pub fn run(check: bool) -> Result<()> {
    let versions = pinned_versions()?;
    let spec_dir =
        module_dir("k8s.io/kubernetes", &versions.kubernetes)?.join("api/openapi-spec/v3");
    let mut definitions = read_definitions(&spec_dir)?;
    let markers = read_markers(&versions)?;
    let count = definitions.len();
    for (name, schema) in definitions.iter_mut() {
        *schema = convert_definition(name, schema, &markers);
    }
    let text = render(&versions.kubernetes, &definitions);
    check_k8s_openapi_names(&versions.kubernetes, &definitions)?;
    let path = root().join(OUTPUT);
    let current = std::fs::read(&path)
        .ok()
        .and_then(|bytes| miniz_oxide::inflate::decompress_to_vec(&bytes).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .unwrap_or_default();
    if check {
        if current != text {
            bail!(
                "{OUTPUT} is stale: it is not what Kubernetes {} publishes; run `cargo xtask k8s-schemas` and commit the result",
                versions.kubernetes
            );
        }
        eprintln!(
            "{OUTPUT} matches Kubernetes {} ({count} definitions)",
            versions.kubernetes
        );
    } else if current == text {
        eprintln!("{OUTPUT} is up to date ({count} definitions)");
    } else {
        let compressed = miniz_oxide::deflate::compress_to_vec(text.as_bytes(), 10);
        std::fs::write(&path, &compressed)
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!(
            "wrote {OUTPUT} ({count} definitions from Kubernetes {}; {} bytes, {} uncompressed)",
            versions.kubernetes,
            compressed.len(),
            text.len()
        );
    }
    Ok(())
}

/// The Go module versions of the control plane kubeforge-envtest builds.
struct Versions {
    /// e.g. `v1.37.2`
    kubernetes: String,
    /// e.g. `v0.37.2`
    api: String,
    apimachinery: String,
}

fn pinned_versions() -> Result<Versions> {
    let path = root().join(GO_MOD);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let version = |module: &str| -> Result<String> {
        text.lines()
            .map(str::trim)
            .find_map(|line| {
                let mut words = line.split_whitespace();
                (words.next() == Some(module))
                    .then(|| words.next().map(str::to_string))
                    .flatten()
            })
            .with_context(|| format!("{GO_MOD} does not pin {module}"))
    };
    Ok(Versions {
        kubernetes: version("k8s.io/kubernetes")?,
        api: version("k8s.io/api")?,
        apimachinery: version("k8s.io/apimachinery")?,
    })
}

/// The directory of a Go module in the module cache, downloaded through
/// the Go module proxy when it is not there yet.
fn module_dir(module: &str, version: &str) -> Result<PathBuf> {
    let output = Command::new("go")
        .args(["env", "GOMODCACHE"])
        .output()
        .context("running `go env GOMODCACHE` (Go is needed to find Kubernetes' OpenAPI)")?;
    let cache = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    let dir = cache.join(format!("{module}@{version}"));
    if dir.is_dir() {
        return Ok(dir);
    }
    // `go mod download` needs a module to run in; an empty one will do.
    let scratch = tempfile::tempdir().context("creating a scratch Go module")?;
    std::fs::write(scratch.path().join("go.mod"), "module scratch\n")
        .context("writing a scratch go.mod")?;
    let output = Command::new("go")
        .args(["mod", "download", "-json", &format!("{module}@{version}")])
        .env("GOFLAGS", "-mod=mod")
        .current_dir(scratch.path())
        .output()
        .with_context(|| format!("running `go mod download {module}@{version}`"))?;
    if !output.status.success() {
        bail!(
            "`go mod download {module}@{version}` failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let info: Value = serde_json::from_slice(&output.stdout)
        .context("reading `go mod download -json`'s output")?;
    info["Dir"]
        .as_str()
        .map(PathBuf::from)
        .with_context(|| format!("`go mod download` gave no directory for {module}@{version}"))
}

/// Every `io.k8s.*` definition of every OpenAPI v3 document, minus the keys
/// that differ between documents (the group-version-kinds of DeleteOptions).
fn read_definitions(dir: &Path) -> Result<BTreeMap<String, Value>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut definitions = BTreeMap::new();
    for file in files {
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("reading {}", file.display()))?;
        let doc: Value =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", file.display()))?;
        let Some(schemas) = doc["components"]["schemas"].as_object() else {
            continue;
        };
        for (name, schema) in schemas {
            if !name.starts_with("io.k8s.") {
                continue;
            }
            let mut schema = schema.clone();
            drop_keys(&mut schema);
            if let Some(seen) = definitions.get(name)
                && seen != &schema
            {
                bail!(
                    "{name} differs between OpenAPI documents (seen again in {})",
                    file.display()
                );
            }
            definitions.insert(name.clone(), schema);
        }
    }
    if definitions.is_empty() {
        bail!("{} holds no io.k8s.* definitions", dir.display());
    }
    Ok(definitions)
}

fn drop_keys(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for k in DROPPED_KEYS {
                map.remove(*k);
            }
            map.values_mut().for_each(drop_keys);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_keys),
        _ => {}
    }
}

/// What the Go source says about one field that the OpenAPI does not.
#[derive(Debug, Default)]
struct FieldMarkers {
    /// A `+default=` or `+kubebuilder:default=` marker: the published
    /// default is one the type asks for, not openapi-gen's zero value.
    has_default: bool,
    /// Schema keys from `+kubebuilder:validation:*` markers.
    validations: Map<String, Value>,
}

/// Markers by definition name, then JSON field name.
type Markers = BTreeMap<String, BTreeMap<String, FieldMarkers>>;

/// Structs embedded with `json:",inline"`: (embedding, embedded)
/// definition names. openapi-gen flattens the embedded fields, defaults
/// included, into the embedding definition, so their markers apply there.
type Embeddings = Vec<(String, String)>;

/// The markers of every `types.go` of k8s.io/api and of metav1.
fn read_markers(versions: &Versions) -> Result<Markers> {
    let mut markers = Markers::new();
    let api = module_dir("k8s.io/api", &versions.api)?;
    let machinery = module_dir("k8s.io/apimachinery", &versions.apimachinery)?;
    let mut sources = Vec::new();
    for entry in walkdir::WalkDir::new(&api).sort_by_file_name() {
        let entry = entry.with_context(|| format!("reading {}", api.display()))?;
        if entry.file_name() == "types.go" {
            let rel = entry
                .path()
                .parent()
                .and_then(|p| p.strip_prefix(&api).ok())
                .context("a types.go outside k8s.io/api")?;
            let prefix = format!(
                "io.k8s.api.{}",
                rel.to_string_lossy().replace(['/', '\\'], ".")
            );
            sources.push((entry.into_path(), prefix));
        }
    }
    sources.push((
        machinery.join("pkg/apis/meta/v1/types.go"),
        "io.k8s.apimachinery.pkg.apis.meta.v1".to_string(),
    ));
    let mut embeddings = Embeddings::new();
    for (path, prefix) in sources {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        read_go_markers(&text, &prefix, &mut markers, &mut embeddings)
            .with_context(|| format!("reading the markers of {}", path.display()))?;
    }
    inherit_embedded(&mut markers, &embeddings);
    Ok(markers)
}

/// Copies the markers of embedded structs' fields into the structs that
/// embed them, through any depth of embedding.
fn inherit_embedded(markers: &mut Markers, embeddings: &Embeddings) {
    loop {
        let mut changed = false;
        for (outer, inner) in embeddings {
            let Some(fields) = markers.get(inner) else {
                continue;
            };
            let copied: Vec<(String, FieldMarkers)> = fields
                .iter()
                .filter(|(name, _)| {
                    !markers
                        .get(outer)
                        .is_some_and(|o| o.contains_key(name.as_str()))
                })
                .map(|(name, m)| {
                    let copy = FieldMarkers {
                        has_default: m.has_default,
                        validations: m.validations.clone(),
                    };
                    (name.clone(), copy)
                })
                .collect();
            if !copied.is_empty() {
                changed = true;
                markers.entry(outer.clone()).or_default().extend(copied);
            }
        }
        if !changed {
            return;
        }
    }
}

/// Reads the markers in the comments above struct fields: enough Go to
/// follow `type X struct { ... }` blocks and json tags, no more.
fn read_go_markers(
    text: &str,
    prefix: &str,
    markers: &mut Markers,
    embeddings: &mut Embeddings,
) -> Result<()> {
    let mut current: Option<String> = None;
    let mut pending: Vec<String> = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if let Some(rest) = line.strip_prefix("type ") {
            let mut words = rest.split_whitespace();
            if let (Some(name), Some("struct")) = (words.next(), words.next()) {
                current = Some(format!("{prefix}.{name}"));
            }
            pending.clear();
            continue;
        }
        if line.starts_with('}') {
            current = None;
            pending.clear();
            continue;
        }
        let Some(definition) = &current else { continue };
        if let Some(comment) = trimmed.strip_prefix("//") {
            let comment = comment.trim();
            if comment.starts_with("+default=") || comment.starts_with("+kubebuilder:") {
                pending.push(comment.to_string());
            }
            continue;
        }
        if trimmed.is_empty() {
            pending.clear();
            continue;
        }
        // An embedded struct: one word (the type) before the tag, which
        // gives no JSON name (`json:""` or `json:",inline"`).
        let mut words = trimmed.split_whitespace();
        if let (Some(embedded), Some(tag)) = (words.next(), words.next())
            && tag.starts_with('`')
            && embedded
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
            && json_name(trimmed).is_none()
        {
            embeddings.push((definition.clone(), format!("{prefix}.{embedded}")));
            pending.clear();
            continue;
        }
        let Some(json_name) = json_name(trimmed) else {
            pending.clear();
            continue;
        };
        let field = markers
            .entry(definition.clone())
            .or_default()
            .entry(json_name)
            .or_default();
        for marker in pending.drain(..) {
            apply_marker(&marker, field)?;
        }
    }
    Ok(())
}

/// The JSON name of a struct field line, from its `json:"name,..."` tag.
fn json_name(line: &str) -> Option<String> {
    let tag = line.split("json:\"").nth(1)?;
    let name = tag.split(['"', ',']).next()?;
    (!name.is_empty() && name != "-").then(|| name.to_string())
}

fn apply_marker(marker: &str, field: &mut FieldMarkers) -> Result<()> {
    if marker.starts_with("+default=") || marker.starts_with("+kubebuilder:default=") {
        field.has_default = true;
        return Ok(());
    }
    let Some(rest) = marker.strip_prefix("+kubebuilder:validation:") else {
        bail!("unsupported marker `{marker}`: teach xtask/src/k8s_schemas.rs what it means");
    };
    let (key, value) = rest.split_once('=').unwrap_or((rest, ""));
    let number = || -> Result<Value> {
        value
            .parse::<i64>()
            .map(Value::from)
            .with_context(|| format!("`{marker}` needs an integer"))
    };
    let (name, value) = match key {
        // Kubernetes' OpenAPI decides what is required, and the Go type
        // and format are what it publishes already.
        "Required" | "Optional" | "Type" | "Format" => return Ok(()),
        "MaxLength" => ("maxLength", number()?),
        "MinLength" => ("minLength", number()?),
        "Minimum" => ("minimum", number()?),
        "Maximum" => ("maximum", number()?),
        "MaxItems" => ("maxItems", number()?),
        "MinItems" => ("minItems", number()?),
        "Pattern" => (
            "pattern",
            Value::from(value.trim_matches('`').trim_matches('"')),
        ),
        "Enum" => (
            "enum",
            Value::from(
                value
                    .split(';')
                    .map(|v| v.trim_matches('"').to_string())
                    .collect::<Vec<_>>(),
            ),
        ),
        _ => bail!("unsupported marker `{marker}`: teach xtask/src/k8s_schemas.rs what it means"),
    };
    field.validations.insert(name.to_string(), value);
    Ok(())
}

/// One definition as a CRD schema (see the module docs).
fn convert_definition(name: &str, schema: &Value, markers: &Markers) -> Value {
    let description = schema.get("description").cloned();
    let special = match name {
        "io.k8s.apimachinery.pkg.util.intstr.IntOrString" => Some(int_or_string()),
        "io.k8s.apimachinery.pkg.api.resource.Quantity" => {
            let mut q = int_or_string();
            q["pattern"] = Value::from(QUANTITY_PATTERN);
            Some(q)
        }
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" => Some(json!({"type": "object"})),
        "io.k8s.apimachinery.pkg.runtime.RawExtension" => Some(json!({
            "type": "object",
            "x-kubernetes-preserve-unknown-fields": true,
        })),
        _ => None,
    };
    if let Some(mut special) = special {
        if let Some(d) = description {
            special["description"] = d;
        }
        return special;
    }
    let mut out = schema.clone();
    convert(&mut out, markers.get(name));
    out
}

fn int_or_string() -> Value {
    json!({
        "anyOf": [{"type": "integer"}, {"type": "string"}],
        "x-kubernetes-int-or-string": true,
    })
}

/// Converts a schema in place; `fields` are the markers of the definition
/// whose top-level properties these are.
fn convert(v: &mut Value, fields: Option<&BTreeMap<String, FieldMarkers>>) {
    let Value::Object(map) = v else { return };
    // `allOf: [{$ref}]` is how OpenAPI v3 puts siblings beside a $ref.
    if let Some(Value::Array(all)) = map.get("allOf")
        && let [only] = all.as_slice()
        && let Some(r) = only.get("$ref").cloned()
    {
        map.remove("allOf");
        map.insert("$ref".into(), r);
    }
    if let Some(Value::String(r)) = map.get_mut("$ref") {
        *r = r.trim_start_matches(REF_PREFIX).to_string();
    }
    if let Some(Value::Array(required)) = map.get_mut("required") {
        required.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
    }
    if let Some(Value::Object(props)) = map.get_mut("properties") {
        for (field, schema) in props.iter_mut() {
            let marked = fields.and_then(|f| f.get(field));
            if let Value::Object(s) = schema {
                if s.get("default").is_some_and(is_zero) && !marked.is_some_and(|m| m.has_default) {
                    s.remove("default");
                }
                if let Some(m) = marked {
                    for (k, value) in &m.validations {
                        s.insert(k.clone(), value.clone());
                    }
                }
            }
            convert(schema, None);
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(sub) = map.get_mut(key) {
            convert(sub, None);
        }
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(Value::Array(subs)) = map.get_mut(key) {
            subs.iter_mut().for_each(|s| convert(s, None));
        }
    }
}

/// The zero values openapi-gen writes as defaults of non-pointer fields.
fn is_zero(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::String(s) => s.is_empty(),
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::Bool(b) => !b,
        Value::Null => true,
    }
}

fn render(version: &str, definitions: &BTreeMap<String, Value>) -> String {
    let mut out = format!(
        "# Kubernetes {version} OpenAPI v3 definitions as CRD schemas; generated by `cargo xtask k8s-schemas`, do not edit\n"
    );
    for (name, schema) in definitions {
        out.push_str(name);
        out.push('\t');
        out.push_str(&schema.to_string());
        out.push('\n');
    }
    out
}

/// Every `io.k8s.*` name k8s-openapi's `JsonSchema` impls give for this
/// Kubernetes version must have a definition, or a kind embedding that type
/// would keep k8s-openapi's schema.
fn check_k8s_openapi_names(version: &str, definitions: &BTreeMap<String, Value>) -> Result<()> {
    let metadata = cargo_metadata::MetadataCommand::new()
        .manifest_path(root().join("Cargo.toml"))
        .exec()
        .context("cargo metadata (to find k8s-openapi's sources)")?;
    let package = metadata
        .packages
        .iter()
        .find(|p| p.name.as_str() == "k8s-openapi")
        .context("the workspace does not depend on k8s-openapi")?;
    let minor = version
        .trim_start_matches('v')
        .splitn(3, '.')
        .take(2)
        .collect::<Vec<_>>()
        .join("_");
    let dir = package
        .manifest_path
        .parent()
        .context("k8s-openapi's manifest has no directory")?
        .join("src")
        .join(format!("v{minor}"))
        .into_std_path_buf();
    let mut missing = BTreeSet::new();
    let mut seen = 0;
    for entry in walkdir::WalkDir::new(&dir).sort_by_file_name() {
        let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
        if entry.path().extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(entry.path())
            .with_context(|| format!("reading {}", entry.path().display()))?;
        let Some(after) = text.split("fn schema_name()").nth(1) else {
            continue;
        };
        let Some(name) = after.split('"').nth(1) else {
            continue;
        };
        seen += 1;
        if !definitions.contains_key(name) {
            missing.insert(name.to_string());
        }
    }
    if seen == 0 {
        bail!("found no JsonSchema impls in {}", dir.display());
    }
    if !missing.is_empty() {
        bail!(
            "k8s-openapi {} names schemas Kubernetes {version} does not publish: {}",
            package.version,
            missing.into_iter().collect::<Vec<_>>().join(", ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_attach_to_the_field_below_them() {
        let go = "type Condition struct {\n\t// type of condition.\n\t// +required\n\t// +kubebuilder:validation:MaxLength=316\n\t// +kubebuilder:validation:Enum=True;False\n\tType string `json:\"type\" protobuf:\"bytes,1\"`\n\n\t// +default=\"TCP\"\n\tProtocol string `json:\"protocol,omitempty\"`\n\tOther string `json:\"other\"`\n}\n";
        let mut markers = Markers::new();
        let mut embeddings = Embeddings::new();
        read_go_markers(go, "io.k8s.x.v1", &mut markers, &mut embeddings).unwrap();
        let fields = &markers["io.k8s.x.v1.Condition"];
        assert_eq!(fields["type"].validations["maxLength"], 316);
        assert_eq!(fields["type"].validations["enum"], json!(["True", "False"]));
        assert!(fields["protocol"].has_default);
        assert!(!fields["other"].has_default);
    }

    #[test]
    fn embedded_structs_pass_their_markers_on() {
        let go = "type Ref struct {\n\t// +default=\"\"\n\tName string `json:\"name,omitempty\"`\n}\n\ntype Selector struct {\n\tRef `json:\"\" protobuf:\"bytes,1\"`\n\tKey string `json:\"key\"`\n}\n";
        let mut markers = Markers::new();
        let mut embeddings = Embeddings::new();
        read_go_markers(go, "io.k8s.x.v1", &mut markers, &mut embeddings).unwrap();
        inherit_embedded(&mut markers, &embeddings);
        assert!(markers["io.k8s.x.v1.Selector"]["name"].has_default);
        assert!(!markers["io.k8s.x.v1.Selector"]["key"].has_default);
    }

    #[test]
    fn zero_defaults_go_unless_asked_for() {
        let mut fields = BTreeMap::new();
        fields.insert(
            "protocol".to_string(),
            FieldMarkers {
                has_default: true,
                ..FieldMarkers::default()
            },
        );
        let markers = Markers::from([("io.k8s.x.v1.Port".to_string(), fields)]);
        let schema = json!({
            "properties": {
                "port": {"default": 0, "type": "integer"},
                "protocol": {"default": "", "type": "string"},
                "spec": {"allOf": [{"$ref": "#/components/schemas/io.k8s.x.v1.Spec"}], "default": {}},
            },
            "required": ["port", "name"],
        });
        let out = convert_definition("io.k8s.x.v1.Port", &schema, &markers);
        assert_eq!(
            out,
            json!({
                "properties": {
                    "port": {"type": "integer"},
                    "protocol": {"default": "", "type": "string"},
                    "spec": {"$ref": "io.k8s.x.v1.Spec"},
                },
                "required": ["name", "port"],
            })
        );
    }
}
