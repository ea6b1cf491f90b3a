//! `scale(...)`: the scale subresource (controller-gen's
//! `+kubebuilder:subresource:scale`).

use darling::FromMeta;
use proc_macro2::TokenStream;
use quote::quote;
use syn::{LitStr, Meta};

use crate::args::{error, key, key_span, nested, string};

/// The keys of `scale(...)`, in the order error messages list them.
const SCALE_KEYS: &[&str] = &[
    "spec_replicas_path",
    "status_replicas_path",
    "label_selector_path",
];

#[derive(FromMeta)]
struct ScaleKeys {
    #[darling(default, with = |m| under(m, ".spec.", "spec_replicas_path = \".spec.replicas\"").map(Some))]
    spec_replicas_path: Option<LitStr>,
    #[darling(default, with = |m| under(m, ".status.", "status_replicas_path = \".status.replicas\"").map(Some))]
    status_replicas_path: Option<LitStr>,
    #[darling(default, with = |m| parse_label_selector_path(m).map(Some))]
    label_selector_path: Option<LitStr>,
}

/// The scale subresource's paths.
pub(crate) struct Scale {
    spec: LitStr,
    status: LitStr,
    selector: Option<LitStr>,
}

/// Reads `scale(spec_replicas_path = .., status_replicas_path = .., ...)`.
pub(crate) fn parse(meta: &Meta) -> darling::Result<Scale> {
    let keys: ScaleKeys = nested(
        meta,
        SCALE_KEYS,
        "scale(spec_replicas_path = \".spec.replicas\", status_replicas_path = \".status.replicas\")",
    )?;
    match (keys.spec_replicas_path, keys.status_replicas_path) {
        (Some(spec), Some(status)) => Ok(Scale {
            spec,
            status,
            selector: keys.label_selector_path,
        }),
        _ => Err(error(
            key_span(meta),
            "`scale(...)` needs both `spec_replicas_path` and `status_replicas_path`",
        )),
    }
}

/// A JSON path strictly under `prefix`.
fn under(meta: &Meta, prefix: &str, example: &str) -> darling::Result<LitStr> {
    let s = string(meta, example)?;
    if s.value().starts_with(prefix) && s.value().len() > prefix.len() {
        Ok(s)
    } else {
        Err(error(
            s.span(),
            format!(
                "`{}` must be a JSON path under `{prefix}` (e.g. \"{prefix}replicas\")",
                key(meta)
            ),
        ))
    }
}

fn parse_label_selector_path(meta: &Meta) -> darling::Result<LitStr> {
    let s = string(meta, "label_selector_path = \".status.selector\"")?;
    if s.value().starts_with(".spec.") || s.value().starts_with(".status.") {
        Ok(s)
    } else {
        Err(error(
            s.span(),
            "`label_selector_path` must be a JSON path under `.spec.` or `.status.`",
        ))
    }
}

impl Scale {
    /// The subresource as kube-derive's `scale(...)`.
    pub(crate) fn kube_tokens(&self) -> TokenStream {
        let (spec, status) = (&self.spec, &self.status);
        let selector = self
            .selector
            .as_ref()
            .map(|l| quote!(, label_selector_path = #l));
        quote!(scale(spec_replicas_path = #spec, status_replicas_path = #status #selector))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scale(tokens: TokenStream) -> Result<String, String> {
        let meta: Meta = syn::parse2(tokens).unwrap();
        parse(&meta)
            .map(|s| s.kube_tokens().to_string())
            .map_err(|e| syn::Error::from(e).to_string())
    }

    #[test]
    fn paths_must_be_under_spec_and_status() {
        assert!(
            scale(quote!(scale(
                spec_replicas_path = ".spec.r",
                status_replicas_path = ".status.r"
            )))
            .is_ok()
        );
        assert_eq!(
            scale(quote!(scale(
                spec_replicas_path = ".status.r",
                status_replicas_path = ".status.r"
            )))
            .unwrap_err(),
            "`spec_replicas_path` must be a JSON path under `.spec.` (e.g. \".spec.replicas\")"
        );
        assert_eq!(
            scale(quote!(scale(spec_replicas_path = ".spec.r"))).unwrap_err(),
            "`scale(...)` needs both `spec_replicas_path` and `status_replicas_path`"
        );
    }
}
