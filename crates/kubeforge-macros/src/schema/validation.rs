//! `validation(...)`: one CEL rule of `x-kubernetes-validations`, on a field
//! or a type (controller-gen's `XValidation` marker).

use darling::FromMeta;
use proc_macro2::TokenStream;
use quote::quote;
use syn::{LitStr, Meta};

use crate::args::{error, flag, key_span, nested, one_of, string};

/// The keys of `validation(...)`, in the order error messages list them.
const VALIDATION_KEYS: &[&str] = &[
    "rule",
    "message",
    "message_expression",
    "reason",
    "field_path",
    "optional_old_self",
];

/// The reasons the API server accepts.
const REASONS: &[&str] = &[
    "FieldValueInvalid",
    "FieldValueForbidden",
    "FieldValueRequired",
    "FieldValueDuplicate",
];

#[derive(FromMeta)]
struct ValidationKeys {
    #[darling(default, with = |m| nonempty(m, "rule = \"self > 0\"").map(Some))]
    rule: Option<LitStr>,
    #[darling(default, with = |m| parse_message(m).map(Some))]
    message: Option<LitStr>,
    #[darling(default, with = |m| nonempty(m, "message_expression = \"'got ' + string(self)\"").map(Some))]
    message_expression: Option<LitStr>,
    #[darling(default, with = |m| one_of(m, REASONS).map(Some))]
    reason: Option<LitStr>,
    #[darling(default, with = |m| parse_field_path(m).map(Some))]
    field_path: Option<LitStr>,
    #[darling(default, with = |m| flag(m).map(Some))]
    optional_old_self: Option<bool>,
}

/// `validation(rule = "...", message = "...", ...)` or `validation = "rule"`,
/// as the JSON tokens of one `x-kubernetes-validations` entry.
pub(super) fn rule(meta: &Meta) -> darling::Result<TokenStream> {
    if let Meta::NameValue(_) = meta {
        let rule = nonempty(meta, "validation = \"self.size() > 0\"")?;
        return Ok(quote!({ "rule": #rule }));
    }
    let keys: ValidationKeys = nested(
        meta,
        VALIDATION_KEYS,
        "validation(rule = \"self.a <= self.b\", message = \"a must not exceed b\")",
    )?;
    let Some(rule) = keys.rule else {
        return Err(error(
            key_span(meta),
            "`validation(...)` needs a CEL `rule = \"...\"`",
        ));
    };
    let mut entries = vec![quote!("rule": #rule)];
    if let Some(s) = keys.message {
        entries.push(quote!("message": #s));
    }
    if let Some(s) = keys.message_expression {
        entries.push(quote!("messageExpression": #s));
    }
    if let Some(s) = keys.reason {
        entries.push(quote!("reason": #s));
    }
    if let Some(s) = keys.field_path {
        entries.push(quote!("fieldPath": #s));
    }
    if let Some(b) = keys.optional_old_self {
        entries.push(quote!("optionalOldSelf": #b));
    }
    Ok(quote!({ #(#entries),* }))
}

/// A string that is not blank.
fn nonempty(meta: &Meta, example: &str) -> darling::Result<LitStr> {
    let s = string(meta, example)?;
    if s.value().trim().is_empty() {
        let key = crate::args::key(meta);
        let key = if key == "validation" {
            "rule".into()
        } else {
            key
        };
        return Err(error(s.span(), format!("`{key}` must not be empty")));
    }
    Ok(s)
}

fn parse_message(meta: &Meta) -> darling::Result<LitStr> {
    let s = string(meta, "message = \"must be positive\"")?;
    if s.value().contains('\n') || s.value().trim().is_empty() {
        return Err(error(
            s.span(),
            "`message` must be non-empty and on one line (the API server rejects line breaks)",
        ));
    }
    Ok(s)
}

fn parse_field_path(meta: &Meta) -> darling::Result<LitStr> {
    let s = string(meta, "field_path = \".spec.replicas\"")?;
    if !(s.value().starts_with('.') || s.value().starts_with('[')) {
        return Err(error(
            s.span(),
            "`field_path` is a JSON path relative to the value, starting with `.` (e.g. \".replicas\")",
        ));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(tokens: TokenStream) -> Result<String, String> {
        let meta: Meta = syn::parse2(tokens).unwrap();
        rule(&meta)
            .map(|t| t.to_string())
            .map_err(|e| syn::Error::from(e).to_string())
    }

    #[test]
    fn both_forms_give_one_entry() {
        assert_eq!(
            entry(quote!(validation = "self > 0")).unwrap(),
            quote!({ "rule": "self > 0" }).to_string()
        );
        assert_eq!(
            entry(quote!(validation(
                rule = "self > 0",
                message = "m",
                reason = "FieldValueInvalid",
                optional_old_self
            )))
            .unwrap(),
            quote!({ "rule": "self > 0", "message": "m", "reason": "FieldValueInvalid", "optionalOldSelf": true })
                .to_string()
        );
    }

    #[test]
    fn mistakes_are_explained() {
        assert_eq!(
            entry(quote!(validation = " ")).unwrap_err(),
            "`rule` must not be empty"
        );
        assert_eq!(
            entry(quote!(validation(message = "m"))).unwrap_err(),
            "`validation(...)` needs a CEL `rule = \"...\"`"
        );
        assert_eq!(
            entry(quote!(validation(rule = "x", mesage = "m"))).unwrap_err(),
            "unknown `validation` key `mesage` (did you mean `message`?); expected one of: rule, message, message_expression, reason, field_path, optional_old_self"
        );
        assert_eq!(
            entry(quote!(validation(rule = "x", message = "a\nb"))).unwrap_err(),
            "`message` must be non-empty and on one line (the API server rejects line breaks)"
        );
    }
}
