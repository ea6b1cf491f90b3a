//! Schema rewrites that `#[crd]`'s `#[field(...)]` keys expand to, for what
//! schemars' `extend` cannot express because it only adds keys: replacing a
//! field's shape (int-or-string, schemaless), marking an embedded resource,
//! reaching into a list's `items`, and checking that a string-literal default
//! or example fits the field's type.
//!
//! Neither rewrite makes a field `nullable`: an `Option` is not nullable in
//! a kubeforge CRD unless `#[field(nullable)]` says so (see `crd_schema`).
//!
//! Only generated code calls these, through `kubeforge::__private` (and the
//! older `kubeforge::manifests::__schema`); they are not a stable API.

use schemars::Schema;
use serde_json::Value;

/// Keys that describe the shape of a value; dropped when a field's shape
/// is replaced (int-or-string) so the schema stays structural. `$ref` too:
/// the definition of a non-`Option` enum would otherwise be inlined later,
/// bringing its own `anyOf` back.
const SHAPE_KEYS: &[&str] = &[
    "$ref",
    "type",
    "format",
    "anyOf",
    "oneOf",
    "allOf",
    "items",
    "properties",
    "additionalProperties",
    "required",
    "enum",
    "const",
];

/// What `#[field(default = "text")]` needs from the field's type: a
/// string literal only makes a string. Anything else (an enum, a number)
/// is written as a Rust value instead, so a mismatch is a compile error.
#[diagnostic::on_unimplemented(
    message = "`default = \"...\"` needs a string field, but this field is `{Self}`",
    label = "a string literal can only default a String field",
    note = "write the default as a value of the field's type, e.g. `default = 3` or `default = MyEnum::Variant`"
)]
pub trait StrDefault {
    /// Builds the field's default from the literal.
    fn from_default_str(s: &'static str) -> Self;
}

impl StrDefault for String {
    fn from_default_str(s: &'static str) -> Self {
        s.to_string()
    }
}

impl StrDefault for &'static str {
    fn from_default_str(s: &'static str) -> Self {
        s
    }
}

impl StrDefault for std::borrow::Cow<'static, str> {
    fn from_default_str(s: &'static str) -> Self {
        std::borrow::Cow::Borrowed(s)
    }
}

/// What `#[field(example = "text")]` needs from the field's type, as
/// [`StrDefault`] for defaults: a string literal only makes a string.
#[diagnostic::on_unimplemented(
    message = "`example = \"...\"` needs a string field, but this field is `{Self}`",
    label = "a string literal can only be the example of a String field",
    note = "write the example as a value of the field's type, e.g. `example = 3` or `example = MyEnum::Variant`"
)]
pub trait StrExample {
    /// Builds the field's example from the literal.
    fn from_example_str(s: &'static str) -> Self;
}

impl StrExample for String {
    fn from_example_str(s: &'static str) -> Self {
        s.to_string()
    }
}

impl StrExample for &'static str {
    fn from_example_str(s: &'static str) -> Self {
        s
    }
}

impl StrExample for std::borrow::Cow<'static, str> {
    fn from_example_str(s: &'static str) -> Self {
        std::borrow::Cow::Borrowed(s)
    }
}

/// What `#[field(items(...))]` needs from the field's type: a list, whose
/// schema has the `items` the keys go into. Checked at compile time so a
/// misplaced `items(...)` is an error at the key rather than when `crd()`
/// runs.
#[diagnostic::on_unimplemented(
    message = "`items(...)` applies to list fields, but this field is `{Self}`",
    label = "`items(...)` describes each element of a list",
    note = "put `items(...)` on a `Vec<T>`, an array, a set, or an `Option` of one; for a single value use the keys directly"
)]
pub trait ListField {}

impl<T> ListField for Vec<T> {}
impl<T> ListField for std::collections::VecDeque<T> {}
impl<T> ListField for std::collections::LinkedList<T> {}
impl<T> ListField for std::collections::BTreeSet<T> {}
impl<T, S> ListField for std::collections::HashSet<T, S> {}
impl<T> ListField for std::collections::BinaryHeap<T> {}
impl<T, const N: usize> ListField for [T; N] {}
impl<T> ListField for [T] {}
impl<L: ListField + ?Sized> ListField for Box<L> {}
impl<L: ListField> ListField for Option<L> {}

/// `#[field(items(...))]` on the field `field` (of list type `L`): `keys`
/// (a JSON object) go into the list's `items` schema, then `transforms`
/// (int-or-string, embedded resource) rewrite it, as the same keys do to a
/// field. controller-gen's `+kubebuilder:validation:items:*` markers.
///
/// # Panics
///
/// When the field's schema has no `items` schema, which [`ListField`]
/// rules out unless the schema comes from elsewhere (`#[schemars(with =
/// ...)]`); the message names the field, as `crd()` reports other schema
/// mistakes.
pub fn items<'a, L: ListField + ?Sized>(
    field: &'a str,
    keys: Value,
    transforms: &'a [fn(&mut Schema)],
) -> impl FnMut(&mut Schema) + 'a {
    move |schema: &mut Schema| {
        let Some(items) = schema.get_mut("items").filter(|i| !i.is_array()) else {
            panic!(
                "#[field(items(...))] on `{field}`: its schema is not a list with one `items` schema ({})",
                schema.as_value()
            );
        };
        // `true` (any value, e.g. `serde_json::Value`) stays a schema;
        // `ensure_object` below turns it into `{}` for the keys.
        let mut item: Schema = Schema::try_from(items.take()).unwrap_or_default();
        if let Value::Object(keys) = &keys {
            let obj = item.ensure_object();
            for (k, v) in keys {
                obj.insert(k.clone(), v.clone());
            }
        }
        for transform in transforms {
            transform(&mut item);
        }
        *items = item.to_value();
    }
}

/// `#[field(schemaless)]`: the field's schema is emptied of everything its
/// Rust type put there, keeping its description and default, and then gets
/// the field's other keys (`keys`, a JSON object), as controller-gen's
/// `+kubebuilder:validation:Schemaless` starts from an empty schema and
/// applies the field's other markers.
pub fn schemaless(keys: Value) -> impl FnMut(&mut Schema) {
    move |schema: &mut Schema| {
        let mut kept = serde_json::Map::new();
        if let Some(obj) = schema.as_object_mut() {
            for k in ["description", "default"] {
                if let Some(v) = obj.remove(k) {
                    kept.insert(k.into(), v);
                }
            }
        }
        if let Value::Object(keys) = &keys {
            for (k, v) in keys {
                kept.insert(k.clone(), v.clone());
            }
        }
        *schema = Schema::from(kept);
    }
}

/// `x-kubernetes-int-or-string: true` in place of the field's own shape;
/// the CRD's last pass spells it out as controller-gen does (`anyOf:
/// [{type: integer}, {type: string}]`).
pub fn int_or_string(schema: &mut Schema) {
    let obj = schema.ensure_object();
    for k in SHAPE_KEYS {
        obj.remove(*k);
    }
    obj.insert("x-kubernetes-int-or-string".into(), Value::Bool(true));
}

/// `x-kubernetes-embedded-resource: true` on an object; an object with no
/// declared properties (e.g. `serde_json::Value`) also keeps unknown
/// fields, which the API server requires for an embedded resource.
pub fn embedded_resource(schema: &mut Schema) {
    let obj = schema.ensure_object();
    let has_props = obj
        .get("properties")
        .is_some_and(|p| p.as_object().is_some_and(|m| !m.is_empty()));
    for k in ["anyOf", "oneOf", "allOf"] {
        obj.remove(k);
    }
    obj.insert("type".into(), Value::from("object"));
    obj.insert("x-kubernetes-embedded-resource".into(), Value::Bool(true));
    if !has_props {
        obj.insert(
            "x-kubernetes-preserve-unknown-fields".into(),
            Value::Bool(true),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn int_or_string_replaces_shape() {
        let mut s: schemars::Schema =
            serde_json::from_value(json!({"type": ["string", "null"], "description": "d"}))
                .expect("schema");
        int_or_string(&mut s);
        assert_eq!(
            s.to_value(),
            json!({"description": "d", "x-kubernetes-int-or-string": true})
        );
    }

    #[test]
    fn items_get_the_keys_then_the_transforms() {
        let mut s: Schema = serde_json::from_value(
            json!({"type": "array", "items": {"type": "string", "format": "x"}}),
        )
        .expect("schema");
        let transforms: [fn(&mut Schema); 1] = [int_or_string];
        items::<Vec<String>>("T.f", json!({"pattern": "^a"}), &transforms)(&mut s);
        assert_eq!(
            s.to_value(),
            json!({"type": "array", "items": {"pattern": "^a", "x-kubernetes-int-or-string": true}})
        );
        // `true` (any value) becomes an object the keys fit in.
        let mut s: Schema =
            serde_json::from_value(json!({"type": "array", "items": true})).expect("schema");
        items::<Vec<String>>("T.f", json!({"type": "object"}), &[])(&mut s);
        assert_eq!(
            s.to_value(),
            json!({"type": "array", "items": {"type": "object"}})
        );
    }

    #[test]
    #[should_panic(expected = "#[field(items(...))] on `T.f`")]
    fn items_of_a_schema_without_items_name_the_field() {
        let mut s: Schema = serde_json::from_value(json!({"type": "string"})).expect("schema");
        items::<Vec<String>>("T.f", json!({}), &[])(&mut s);
    }

    #[test]
    fn schemaless_keeps_only_the_description_default_and_keys() {
        let mut s: Schema = serde_json::from_value(json!({
            "$ref": "#/components/schemas/Node",
            "description": "d",
            "default": {},
            "type": "object",
            "properties": {"a": {"type": "string"}},
        }))
        .expect("schema");
        schemaless(json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}))(&mut s);
        assert_eq!(
            s.to_value(),
            json!({"description": "d", "default": {}, "type": "object", "x-kubernetes-preserve-unknown-fields": true})
        );
    }

    #[test]
    fn int_or_string_drops_a_reference() {
        let mut s: Schema =
            serde_json::from_value(json!({"$ref": "#/components/schemas/E", "description": "d"}))
                .expect("schema");
        int_or_string(&mut s);
        assert_eq!(
            s.to_value(),
            json!({"description": "d", "x-kubernetes-int-or-string": true})
        );
    }

    #[test]
    fn embedded_resource_keeps_unknown_fields_without_properties() {
        let mut s = schemars::Schema::from(true);
        embedded_resource(&mut s);
        assert_eq!(
            s.to_value(),
            json!({"type": "object", "x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true})
        );
    }
}
