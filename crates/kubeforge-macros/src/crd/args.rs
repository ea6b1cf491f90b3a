//! A small `key = value, key(...), flag` argument parser shared by `#[crd]`,
//! `#[schema]` and `#[field]`.
//!
//! We parse by hand instead of going through darling (as kube-derive does) so
//! every error can point at the exact offending token and list what is allowed
//! for that key; darling's generic messages ("Unknown field") would not say it.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Expr, ExprArray, ExprLit, ExprUnary, Ident, Lit, LitStr, Token, UnOp};

/// One argument: `key`, `key = <expr>` or `key(<tokens>)`.
pub(crate) struct Arg {
    pub key: Ident,
    pub value: ArgValue,
}

pub(crate) enum ArgValue {
    Flag,
    Expr(Expr),
    /// The tokens inside `key( ... )`, with the span of the parentheses.
    List(TokenStream, Span),
}

impl Parse for Arg {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        // `type`, `enum` and other keywords are valid keys.
        let key = Ident::parse_any(input)?;
        let value = if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            ArgValue::Expr(input.parse()?)
        } else if input.peek(syn::token::Paren) {
            let content;
            let paren = syn::parenthesized!(content in input);
            ArgValue::List(content.parse()?, paren.span.join())
        } else {
            ArgValue::Flag
        };
        Ok(Arg { key, value })
    }
}

/// Parses a comma-separated argument list.
pub(crate) fn parse_args(tokens: TokenStream) -> syn::Result<Vec<Arg>> {
    let parsed = Punctuated::<Arg, Token![,]>::parse_terminated.parse2(tokens)?;
    Ok(parsed.into_iter().collect())
}

impl Arg {
    pub fn name(&self) -> String {
        self.key.unraw().to_string()
    }

    /// The tokens to point an error about the value at.
    pub fn value_tokens(&self) -> TokenStream {
        match &self.value {
            ArgValue::Flag => self.key.to_token_stream(),
            ArgValue::Expr(e) => e.to_token_stream(),
            ArgValue::List(t, _) => t.clone(),
        }
    }

    fn err_value(&self, what: &str) -> syn::Error {
        let msg = format!("`{}` expects {what}", self.name());
        match &self.value {
            ArgValue::Flag => syn::Error::new(self.key.span(), msg),
            ArgValue::Expr(e) => syn::Error::new_spanned(e, msg),
            ArgValue::List(_, span) => syn::Error::new(*span, msg),
        }
    }

    pub fn expr(&self, what: &str) -> syn::Result<&Expr> {
        match &self.value {
            ArgValue::Expr(e) => Ok(e),
            _ => Err(self.err_value(what)),
        }
    }

    pub fn string(&self, example: &str) -> syn::Result<LitStr> {
        match &self.value {
            ArgValue::Expr(Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            })) => Ok(s.clone()),
            _ => Err(self.err_value(&format!("a string literal, e.g. `{example}`"))),
        }
    }

    /// A flag (`key`) or an explicit `key = true|false`.
    pub fn flag(&self) -> syn::Result<bool> {
        match &self.value {
            ArgValue::Flag => Ok(true),
            ArgValue::Expr(Expr::Lit(ExprLit {
                lit: Lit::Bool(b), ..
            })) => Ok(b.value),
            _ => Err(self.err_value(&format!(
                "no value (`{0}`) or a boolean (`{0} = true`)",
                self.name()
            ))),
        }
    }

    /// A flag with no value at all.
    pub fn bare_flag(&self) -> syn::Result<()> {
        match &self.value {
            ArgValue::Flag => Ok(()),
            _ => Err(self.err_value(&format!("no value: write just `{}`", self.name()))),
        }
    }

    /// A non-negative integer literal.
    pub fn count(&self) -> syn::Result<u64> {
        let err = || {
            self.err_value(&format!(
                "a non-negative integer, e.g. `{} = 1`",
                self.name()
            ))
        };
        match &self.value {
            ArgValue::Expr(Expr::Lit(ExprLit {
                lit: Lit::Int(i), ..
            })) => i.base10_parse::<u64>().map_err(|_| err()),
            _ => Err(err()),
        }
    }

    /// A number literal (integer or float, optionally negative).
    pub fn number(&self) -> syn::Result<Number> {
        let err = || {
            self.err_value(&format!(
                "a number literal, e.g. `{0} = 1` or `{0} = 0.5`",
                self.name()
            ))
        };
        let ArgValue::Expr(expr) = &self.value else {
            return Err(err());
        };
        number_of(expr).ok_or_else(err)
    }

    /// `["a", "b"]` (a single `"a"` is accepted too).
    pub fn strings(&self, example: &str) -> syn::Result<Vec<LitStr>> {
        let err = || self.err_value(&format!("a list of string literals, e.g. `{example}`"));
        match &self.value {
            ArgValue::Expr(Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            })) => Ok(vec![s.clone()]),
            ArgValue::Expr(Expr::Array(ExprArray { elems, .. })) => elems
                .iter()
                .map(|e| match e {
                    Expr::Lit(ExprLit {
                        lit: Lit::Str(s), ..
                    }) => Ok(s.clone()),
                    other => Err(syn::Error::new_spanned(
                        other,
                        format!("`{}` expects string literals only", self.name()),
                    )),
                })
                .collect(),
            _ => Err(err()),
        }
    }

    /// The nested arguments of `key(a = .., b = ..)`.
    pub fn nested(&self, example: &str) -> syn::Result<Vec<Arg>> {
        match &self.value {
            ArgValue::List(tokens, _) => parse_args(tokens.clone()),
            _ => Err(self.err_value(&format!("a parenthesized list, e.g. `{example}`"))),
        }
    }

    /// `key("a", "b")`: two string literals.
    pub fn pair(&self) -> syn::Result<(LitStr, LitStr)> {
        let example = format!("{}(\"key\", \"value\")", self.name());
        let ArgValue::List(tokens, _) = &self.value else {
            return Err(self.err_value(&format!("a key and a value, e.g. `{example}`")));
        };
        let lits = Punctuated::<Lit, Token![,]>::parse_terminated
            .parse2(tokens.clone())
            .map_err(|_| self.err_value(&format!("two string literals, e.g. `{example}`")))?;
        match lits.iter().collect::<Vec<_>>().as_slice() {
            [Lit::Str(k), Lit::Str(v)] => Ok((k.clone(), v.clone())),
            _ => Err(self.err_value(&format!("two string literals, e.g. `{example}`"))),
        }
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
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Int(i), ..
        }) => {
            let value = i.base10_parse::<f64>().ok()?;
            let digits: proc_macro2::Literal = syn::parse_str(i.base10_digits()).ok()?;
            Some(Number {
                tokens: quote!(#digits),
                value,
            })
        }
        Expr::Lit(ExprLit {
            lit: Lit::Float(f), ..
        }) => {
            let value = f.base10_parse::<f64>().ok()?;
            let digits: proc_macro2::Literal = syn::parse_str(f.base10_digits()).ok()?;
            Some(Number {
                tokens: quote!(#digits),
                value,
            })
        }
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_),
            expr,
            ..
        }) => {
            let inner = number_of(expr)?;
            let tokens = inner.tokens;
            Some(Number {
                tokens: quote!(-#tokens),
                value: -inner.value,
            })
        }
        _ => None,
    }
}

/// Error for a key that isn't allowed, listing the allowed ones.
pub(crate) fn unknown_key(arg: &Arg, attr: &str, allowed: &[&str]) -> syn::Error {
    syn::Error::new(
        arg.key.span(),
        format!(
            "unknown `{attr}` key `{}`; expected one of: {}",
            arg.name(),
            allowed.join(", ")
        ),
    )
}

/// Collects errors so one compile reports all mistakes at once.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub fn push(&mut self, e: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }

    /// Unwraps a result, recording its error.
    pub fn ok<T>(&mut self, r: syn::Result<T>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.push(e);
                None
            }
        }
    }

    /// True when nothing was recorded, so a "missing key" error is not
    /// piled on top of a more precise one.
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    pub fn finish(self) -> syn::Result<()> {
        match self.0 {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// Rejects a key given twice.
pub(crate) fn once<T>(slot: &mut Option<T>, arg: &Arg, value: T, errors: &mut Errors) {
    if slot.is_some() {
        errors.push(syn::Error::new(
            arg.key.span(),
            format!("`{}` is given more than once", arg.name()),
        ));
    } else {
        *slot = Some(value);
    }
}
