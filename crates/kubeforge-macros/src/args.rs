//! Reading attribute arguments with darling (as kube-derive does), shared by
//! `#[crd]`, `#[schema]` and `#[field]`.
//!
//! darling walks the `key = value, key(...), flag` list, rejects unknown and
//! repeated keys (suggesting the closest known key for a typo) and hands each
//! value to one of the readers below. The readers are ours so every error
//! points at the offending token and says what that key accepts, with an
//! example; [`explain`] rewords darling's own messages the same way.

use darling::FromMeta;
use darling::ast::NestedMeta;
use darling::util::path_to_string;
use kubeforge_codegen::rbac::{LITERAL_ITEM, parse_duplicate_field, parse_unknown_field};
use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, ExprArray, ExprLit, ExprUnary, Lit, LitStr, MacroDelimiter, Meta, Token, UnOp};

/// Parses the inside of `#[attr(...)]` into `T`, the darling struct of that
/// attribute's keys (`keys` lists them for error messages).
pub(crate) fn parse_list<T: FromMeta>(
    tokens: TokenStream,
    attr: &str,
    keys: &[&str],
) -> darling::Result<T> {
    let items = parse_items(tokens, attr)?;
    from_items(&items, attr, keys)
}

/// Splits the inside of `#[attr(...)]` into its items, without reading them.
pub(crate) fn parse_items(tokens: TokenStream, attr: &str) -> darling::Result<Vec<NestedMeta>> {
    NestedMeta::parse_meta_list(tokens).map_err(|e| {
        error(
            e.span(),
            format!(
                "{e}; write the arguments of `{attr}(...)` as `key = value`, `key(...)` or `key`, separated by commas"
            ),
        )
    })
}

/// Reads already split items into `T` (`#[field]` gathers the items of
/// every `#[field(...)]` on a field first, so a key repeated across them is
/// caught too).
pub(crate) fn from_items<T: FromMeta>(
    items: &[NestedMeta],
    attr: &str,
    keys: &[&str],
) -> darling::Result<T> {
    T::from_list(items).map_err(|e| explain(e, attr, keys))
}

/// `key(a = .., b = ..)` inside another attribute: `T` reads the inner list.
pub(crate) fn nested<T: FromMeta>(meta: &Meta, keys: &[&str], example: &str) -> darling::Result<T> {
    match meta {
        Meta::List(list) if matches!(list.delimiter, MacroDelimiter::Paren(_)) => {
            parse_list(list.tokens.clone(), &key(meta), keys)
        }
        _ => Err(expects(
            meta,
            &format!("a parenthesized list, e.g. `{example}`"),
        )),
    }
}

/// Rewords darling's messages for an unknown key, a repeated key and a bare
/// literal so they say what is allowed. darling names the allowed keys only
/// when there are fewer than ten and it has no suggestion; ours always lists
/// them, after darling's "did you mean" suggestion when it has one.
pub(crate) fn explain(err: darling::Error, attr: &str, keys: &[&str]) -> darling::Error {
    let errors: Vec<darling::Error> = err
        .flatten()
        .into_iter()
        .map(|single| {
            let span = single.span();
            let message = syn::Error::from(single.clone()).to_string();
            let allowed = keys.join(", ");
            if let Some((key, suggestion)) = parse_unknown_field(&message) {
                let hint = suggestion
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                error(
                    span,
                    format!("unknown `{attr}` key `{key}`{hint}; expected one of: {allowed}"),
                )
            } else if let Some(key) = parse_duplicate_field(&message) {
                error(span, format!("`{key}` is given more than once"))
            } else if message == LITERAL_ITEM {
                error(
                    span,
                    format!(
                        "`{attr}(...)` takes `key = value`, `key(...)` or `key`, not a bare literal; expected one of: {allowed}"
                    ),
                )
            } else {
                single
            }
        })
        .collect();
    darling::Error::multiple(errors)
}

/// An error at `span`.
pub(crate) fn error(span: Span, message: impl Into<String>) -> darling::Error {
    darling::Error::from(syn::Error::new(span, message.into()))
}

/// The key of an item, as written (`type`, `min_length`, ...).
pub(crate) fn key(meta: &Meta) -> String {
    path_to_string(meta.path())
}

/// The span of an item's key.
pub(crate) fn key_span(meta: &Meta) -> Span {
    meta.path().span()
}

/// "`key` expects <what>", at the value (or at the key of a bare flag, or at
/// the parentheses of a list).
pub(crate) fn expects(meta: &Meta, what: &str) -> darling::Error {
    let message = format!("`{}` expects {what}", key(meta));
    match meta {
        Meta::Path(p) => error(p.span(), message),
        Meta::NameValue(nv) => error(nv.value.span(), message),
        Meta::List(l) => error(l.delimiter.span().join(), message),
    }
}

/// The value of `key = value`.
fn value(meta: &Meta) -> Option<&Expr> {
    match meta {
        Meta::NameValue(nv) => Some(&nv.value),
        _ => None,
    }
}

fn as_str(expr: &Expr) -> Option<&LitStr> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Some(s),
        _ => None,
    }
}

/// The tokens of the value, for errors that compare two keys.
pub(crate) fn value_tokens(meta: &Meta) -> TokenStream {
    match meta {
        Meta::Path(p) => p.to_token_stream(),
        Meta::NameValue(nv) => nv.value.to_token_stream(),
        Meta::List(l) => l.tokens.clone(),
    }
}

/// Any expression: `key = <expr>`.
pub(crate) fn expr(meta: &Meta, what: &str) -> darling::Result<Expr> {
    value(meta).cloned().ok_or_else(|| expects(meta, what))
}

/// `key = "..."`.
pub(crate) fn string(meta: &Meta, example: &str) -> darling::Result<LitStr> {
    value(meta)
        .and_then(as_str)
        .cloned()
        .ok_or_else(|| expects(meta, &format!("a string literal, e.g. `{example}`")))
}

/// `key = "..."` with one of `allowed`.
pub(crate) fn one_of(meta: &Meta, allowed: &[&str]) -> darling::Result<LitStr> {
    let first = allowed.first().copied().unwrap_or_default();
    let s = string(meta, &format!("{} = \"{first}\"", key(meta)))?;
    if allowed.contains(&s.value().as_str()) {
        Ok(s)
    } else {
        let list: Vec<String> = allowed.iter().map(|a| format!("\"{a}\"")).collect();
        Err(error(
            s.span(),
            format!("`{}` must be one of: {}", key(meta), list.join(", ")),
        ))
    }
}

/// `key = "a"` or `key = ["a", "b"]`.
pub(crate) fn strings(meta: &Meta, example: &str) -> darling::Result<Vec<LitStr>> {
    let err = || {
        expects(
            meta,
            &format!("a list of string literals, e.g. `{example}`"),
        )
    };
    match value(meta).ok_or_else(err)? {
        Expr::Array(ExprArray { elems, .. }) => elems
            .iter()
            .map(|e| {
                as_str(e).cloned().ok_or_else(|| {
                    error(
                        e.span(),
                        format!("`{}` expects string literals only", key(meta)),
                    )
                })
            })
            .collect(),
        other => as_str(other).cloned().map(|s| vec![s]).ok_or_else(err),
    }
}

/// A flag (`key`) or an explicit `key = true|false`.
pub(crate) fn flag(meta: &Meta) -> darling::Result<bool> {
    match meta {
        Meta::Path(_) => Ok(true),
        Meta::NameValue(nv) => match &nv.value {
            Expr::Lit(ExprLit {
                lit: Lit::Bool(b), ..
            }) => Ok(b.value),
            _ => Err(flag_error(meta)),
        },
        Meta::List(_) => Err(flag_error(meta)),
    }
}

fn flag_error(meta: &Meta) -> darling::Error {
    expects(
        meta,
        &format!("no value (`{0}`) or a boolean (`{0} = true`)", key(meta)),
    )
}

/// A flag with no value at all; gives the key's span, for errors about the
/// flag together with another key.
pub(crate) fn bare_flag(meta: &Meta) -> darling::Result<Span> {
    match meta {
        Meta::Path(p) => Ok(p.span()),
        _ => Err(expects(
            meta,
            &format!("no value: write just `{}`", key(meta)),
        )),
    }
}

/// A non-negative integer literal, with the value's tokens.
pub(crate) fn count(meta: &Meta) -> darling::Result<(u64, TokenStream)> {
    let err = || {
        expects(
            meta,
            &format!("a non-negative integer, e.g. `{} = 1`", key(meta)),
        )
    };
    match value(meta) {
        Some(
            e @ Expr::Lit(ExprLit {
                lit: Lit::Int(i), ..
            }),
        ) => i
            .base10_parse::<u64>()
            .map(|n| (n, e.to_token_stream()))
            .map_err(|_| err()),
        _ => Err(err()),
    }
}

/// A number literal (integer or float, optionally negative), with the
/// value's tokens.
pub(crate) fn number(meta: &Meta) -> darling::Result<(Number, TokenStream)> {
    let err = || {
        expects(
            meta,
            &format!("a number literal, e.g. `{0} = 1` or `{0} = 0.5`", key(meta)),
        )
    };
    let expr = value(meta).ok_or_else(err)?;
    let n = number_of(expr).ok_or_else(err)?;
    Ok((n, expr.to_token_stream()))
}

/// `key("a", "b")`: two string literals.
pub(crate) fn pair(meta: &Meta) -> darling::Result<(LitStr, LitStr)> {
    let example = format!("{}(\"key\", \"value\")", key(meta));
    let Meta::List(list) = meta else {
        return Err(expects(
            meta,
            &format!("a key and a value, e.g. `{example}`"),
        ));
    };
    let err = || expects(meta, &format!("two string literals, e.g. `{example}`"));
    let lits = list
        .parse_args_with(Punctuated::<Lit, Token![,]>::parse_terminated)
        .map_err(|_| err())?;
    match lits.iter().collect::<Vec<_>>().as_slice() {
        [Lit::Str(k), Lit::Str(v)] => Ok((k.clone(), v.clone())),
        _ => Err(err()),
    }
}

/// A number from the attribute, kept as the literal tokens (so `1` stays an
/// integer in the schema) and as f64 for range checks.
#[derive(Clone)]
pub(crate) struct Number {
    pub tokens: TokenStream,
    pub value: f64,
}

fn number_of(expr: &Expr) -> Option<Number> {
    // darling reads `-1` as one literal; syn's expression parser as a
    // negation. Both end up here.
    let (negative, digits, value) = match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Int(i), ..
        }) => (false, i.base10_digits(), i.base10_parse::<f64>().ok()?),
        Expr::Lit(ExprLit {
            lit: Lit::Float(f), ..
        }) => (false, f.base10_digits(), f.base10_parse::<f64>().ok()?),
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_),
            expr,
            ..
        }) => {
            let inner = number_of(expr)?;
            let tokens = inner.tokens;
            return Some(Number {
                tokens: quote!(-#tokens),
                value: -inner.value,
            });
        }
        _ => return None,
    };
    let (negative, digits) = match digits.strip_prefix('-') {
        Some(rest) => (!negative, rest),
        None => (negative, digits),
    };
    let literal: proc_macro2::Literal = syn::parse_str(digits).ok()?;
    let tokens = if negative {
        quote!(-#literal)
    } else {
        quote!(#literal)
    };
    Some(Number { tokens, value })
}

/// Collects errors so one compile reports all mistakes at once.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub fn push(&mut self, e: impl Into<syn::Error>) {
        let e = e.into();
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }

    /// Unwraps a result, recording its error.
    pub fn ok<T>(&mut self, r: darling::Result<T>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.push(e);
                None
            }
        }
    }

    pub fn finish(self) -> syn::Result<()> {
        match self.0 {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(tokens: TokenStream) -> Meta {
        syn::parse2(tokens).unwrap()
    }

    #[test]
    fn numbers_keep_their_literal_and_sign() {
        for (tokens, text, value) in [
            (quote!(minimum = 1), "1", 1.0),
            (quote!(minimum = -5), "- 5", -5.0),
            (quote!(minimum = 0.25), "0.25", 0.25),
            (quote!(minimum = -0.5), "- 0.5", -0.5),
        ] {
            let (n, _) = number(&meta(tokens)).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(n.tokens.to_string(), text);
            assert_eq!(n.value, value);
        }
        let items = NestedMeta::parse_meta_list(quote!(minimum = -3)).unwrap();
        let NestedMeta::Meta(m) = &items[0] else {
            panic!("not a meta")
        };
        let (n, _) = number(m).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((n.tokens.to_string().as_str(), n.value), ("- 3", -3.0));
        assert!(number(&meta(quote!(minimum = "ten"))).is_err());
    }

    #[test]
    fn readers_say_what_the_key_expects() {
        let msg = |r: darling::Result<()>| syn::Error::from(r.unwrap_err()).to_string();
        assert_eq!(
            msg(string(&meta(quote!(plural = 3)), "plural = \"myapps\"").map(drop)),
            "`plural` expects a string literal, e.g. `plural = \"myapps\"`"
        );
        assert_eq!(
            msg(one_of(&meta(quote!(map_type = "x")), &["atomic", "granular"]).map(drop)),
            "`map_type` must be one of: \"atomic\", \"granular\""
        );
        assert_eq!(
            msg(bare_flag(&meta(quote!(storage = true))).map(drop)),
            "`storage` expects no value: write just `storage`"
        );
        assert_eq!(
            msg(count(&meta(quote!(max_items = -1))).map(drop)),
            "`max_items` expects a non-negative integer, e.g. `max_items = 1`"
        );
        assert_eq!(
            msg(pair(&meta(quote!(label("a")))).map(drop)),
            "`label` expects two string literals, e.g. `label(\"key\", \"value\")`"
        );
        assert!(flag(&meta(quote!(served = false))).is_ok_and(|b| !b));
        assert_eq!(
            strings(&meta(quote!(shortnames = "ma")), "")
                .map(|v| v.len())
                .ok(),
            Some(1)
        );
    }
}
