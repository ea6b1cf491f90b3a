//! Schema rewrites that `#[crd]`'s `#[field(...)]` keys expand to, for what
//! schemars' `extend` cannot express because it only adds keys: replacing a
//! field's shape (int-or-string), marking an embedded resource, and checking
//! that a string-literal default fits the field's type.
//!
//! Neither rewrite makes a field `nullable`: an `Option` is not nullable in
//! a kubeforge CRD unless `#[field(nullable)]` says so (see `crd_schema`).
//!
//! Only generated code calls these, through `kubeforge::__private` (and the
//! older `kubeforge::manifests::__schema`); they are not a stable API.

use schemars::Schema;
use serde_json::Value;

/// Keys that describe the shape of a value; dropped when a field's shape
/// is replaced (int-or-string) so the schema stays structural.
const SHAPE_KEYS: &[&str] = &[
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
    fn embedded_resource_keeps_unknown_fields_without_properties() {
        let mut s = schemars::Schema::from(true);
        embedded_resource(&mut s);
        assert_eq!(
            s.to_value(),
            json!({"type": "object", "x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true})
        );
    }
}
