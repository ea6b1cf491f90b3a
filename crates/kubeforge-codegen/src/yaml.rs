//! The deterministic YAML writer every generated manifest goes through.
//!
//! Generated files are committed by users and diffed on every `kubeforge
//! manifests` run, so the output must be byte-stable and look like what
//! controller-gen (through `sigs.k8s.io/yaml`) writes: block style, two-space
//! indentation, sequences not indented under their key, map keys sorted,
//! strings quoted only when a plain scalar would read back as something else.
//!
//! Scalar styles follow go-yaml's choices so diffs against Kubebuilder
//! projects stay small:
//! - plain when that reads back as the same string;
//! - double-quoted when the text would resolve to another type (`""`,
//!   `"true"`, `"1"`, `"null"`, ...) or holds characters that need escapes;
//! - single-quoted when only YAML indicators prevent a plain scalar (`'*'`);
//! - literal blocks (`|`, `|-`, `|+`) for multi-line text, unless a line ends
//!   in a space or the text has control characters (then double-quoted, as
//!   go-yaml does), because a literal block cannot keep those faithfully.
//!
//! Unlike go-yaml we never fold long lines: folding is purely cosmetic and
//! every extra rule is a chance to break the round trip.
//!
//! Why this is not serde-saphyr's serializer or a libyaml-based one (both
//! measured against controller-gen's output): `docs/yaml-writer.md`.
//!
//! Quoting is deliberately conservative: anything that YAML 1.1 *or* 1.2
//! could read as a number, boolean, null or timestamp is quoted, because the
//! same file is read by Go (YAML 1.1 rules), kubectl and Rust tools.

use serde_json::{Map, Value};
use std::fmt::Write as _;

/// Renders `value` as one YAML document, starting with `---\n` and ending
/// with a newline.
///
/// Map keys are written in sorted order whatever order the `Map` iterates in,
/// so the output stays the same even if some crate in the build turns on
/// serde_json's `preserve_order` feature (controller-gen sorts keys too).
pub fn to_document(value: &Value) -> String {
    let mut out = String::from("---\n");
    match value {
        Value::Object(map) if !map.is_empty() => write_map(&mut out, map, 0, false),
        Value::Array(items) if !items.is_empty() => write_seq(&mut out, items, 0, false),
        Value::String(s) => {
            // A block scalar at the root has no parent indentation to be
            // relative to, and parsers disagree on where an indentation
            // indicator counts from there, so only use one when the content
            // indentation can be auto-detected.
            let style = choose_style(s, true);
            let style = match style {
                Style::Literal if needs_indent_indicator(s) => Style::Double,
                other => other,
            };
            // Content indented so no line can look like a document marker.
            write_string(&mut out, s, style, 2);
            out.push('\n');
        }
        other => {
            write_inline(&mut out, other);
            out.push('\n');
        }
    }
    out
}

/// Renders several documents, one after the other (each starts with `---`).
pub fn to_documents(values: &[Value]) -> String {
    values.iter().map(to_document).collect()
}

/// Longest key written as an implicit (`key: value`) key. YAML limits
/// implicit keys to 1024 characters; longer ones need the explicit `? key`
/// form.
const MAX_IMPLICIT_KEY: usize = 1000;

/// Writes the entries of a non-empty map whose keys sit at column `indent`.
/// With `inline_first` the first key continues the current line (after `- `).
fn write_map(out: &mut String, map: &Map<String, Value>, indent: usize, inline_first: bool) {
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    for (i, (key, value)) in entries.into_iter().enumerate() {
        if i > 0 || !inline_first {
            push_indent(out, indent);
        }
        let key_style = choose_style(key, false);
        if key.len() > MAX_IMPLICIT_KEY {
            out.push_str("? ");
            write_string(out, key, key_style, indent + 2);
            out.push('\n');
            push_indent(out, indent);
        } else {
            write_string(out, key, key_style, indent + 2);
        }
        out.push(':');
        write_value_after(out, value, indent, false);
    }
}

/// Writes the items of a non-empty sequence whose dashes sit at column
/// `indent`. With `inline_first` the first dash continues the current line.
fn write_seq(out: &mut String, items: &[Value], indent: usize, inline_first: bool) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 || !inline_first {
            push_indent(out, indent);
        }
        out.push('-');
        write_value_after(out, item, indent, true);
    }
}

/// Writes a value that follows `key:` (`in_seq == false`) or `-`
/// (`in_seq == true`), where the key or dash is at column `indent`, and ends
/// the line(s).
fn write_value_after(out: &mut String, value: &Value, indent: usize, in_seq: bool) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            if in_seq {
                out.push(' ');
                write_map(out, map, indent + 2, true);
            } else {
                out.push('\n');
                write_map(out, map, indent + 2, false);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            if in_seq {
                out.push(' ');
                write_seq(out, items, indent + 2, true);
            } else {
                // Sequences are not indented relative to their key, as
                // sigs.k8s.io/yaml writes them.
                out.push('\n');
                write_seq(out, items, indent, false);
            }
        }
        Value::String(s) => {
            out.push(' ');
            write_string(out, s, choose_style(s, true), indent + 2);
            out.push('\n');
        }
        other => {
            out.push(' ');
            write_inline(out, other);
            out.push('\n');
        }
    }
}

/// Writes a value that always fits on one line: null, bool, number and
/// empty collections.
fn write_inline(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(out, n),
        Value::Object(_) => out.push_str("{}"),
        Value::Array(_) => out.push_str("[]"),
        Value::String(s) => write_double_quoted(out, s),
    }
}

fn write_number(out: &mut String, n: &serde_json::Number) {
    if let Some(i) = n.as_i64() {
        let _ = write!(out, "{i}");
    } else if let Some(u) = n.as_u64() {
        let _ = write!(out, "{u}");
    } else if let Some(f) = n.as_f64() {
        // `Debug` always keeps a `.` or an exponent (`1.0`, `1e300`), so the
        // value reads back as a float, never as an integer. serde_json
        // numbers are always finite.
        let _ = write!(out, "{f:?}");
    } else {
        // Only reachable with serde_json's arbitrary_precision feature;
        // its text is valid JSON number syntax, which YAML reads as a number.
        let _ = write!(out, "{n}");
    }
}

fn push_indent(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

/// How a string is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

/// Picks the style for `s`; `block_ok` is false for map keys, which cannot
/// be block scalars.
fn choose_style(s: &str, block_ok: bool) -> Style {
    if s.contains('\n') {
        return if block_ok && literal_ok(s) {
            Style::Literal
        } else {
            Style::Double
        };
    }
    if resolves_to_non_string(s) || !s.chars().all(is_safe_char) {
        return Style::Double;
    }
    if plain_ok(s) {
        Style::Plain
    } else {
        Style::Single
    }
}

/// Characters that can appear unescaped in any scalar style: YAML's
/// printable set minus tab, the Unicode line/paragraph separators, NEL and
/// the byte-order mark (some parsers treat those as breaks or strip them).
fn is_safe_char(c: char) -> bool {
    matches!(c,
        '\u{20}'..='\u{7E}'
        | '\u{A0}'..='\u{D7FF}'
        | '\u{E000}'..='\u{FFFD}'
        | '\u{10000}'..='\u{10FFFF}')
        && !matches!(c, '\u{2028}' | '\u{2029}' | '\u{FEFF}')
}

/// True when a plain scalar with this text would be read as something other
/// than a string by a YAML 1.1 or 1.2 parser (or is ambiguous enough that we
/// quote it anyway).
fn resolves_to_non_string(s: &str) -> bool {
    if s.is_empty() {
        return true;
    }
    const WORDS: &[&str] = &[
        "~",
        "null",
        "true",
        "false",
        "yes",
        "no",
        "y",
        "n",
        "on",
        "off",
        "<<",
        "=",
        ".inf",
        "+.inf",
        "-.inf",
        ".nan",
        // Not YAML, but accepted by float parsers some YAML libraries use.
        "inf",
        "+inf",
        "-inf",
        "nan",
        "infinity",
        "+infinity",
        "-infinity",
    ];
    let lower = s.to_ascii_lowercase();
    if WORDS.contains(&lower.as_str()) {
        return true;
    }
    looks_numeric(s)
}

/// Over-approximates YAML 1.1/1.2 integers (decimal, `0x`, `0o`, `0b`,
/// legacy octal, `_` separators, sexagesimal `1:30`), floats (`1.`, `.5`,
/// `1e3`) and timestamps (`2001-12-14t21:59:43.10-05:00`): an optional sign,
/// then a digit (or `.` and a digit), then only characters those forms use.
fn looks_numeric(s: &str) -> bool {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let mut chars = body.chars();
    let starts_like_number = match chars.next() {
        Some(c) if c.is_ascii_digit() => true,
        Some('.') => chars.next().is_some_and(|c| c.is_ascii_digit()),
        _ => false,
    };
    starts_like_number
        && body.chars().all(|c| {
            c.is_ascii_hexdigit()
                || matches!(
                    c,
                    '_' | '.'
                        | ':'
                        | '+'
                        | '-'
                        | ' '
                        | 'x'
                        | 'X'
                        | 'o'
                        | 'O'
                        | 't'
                        | 'T'
                        | 'z'
                        | 'Z'
                )
        })
}

/// Whether `s` (one line, safe characters, not resolving to another type)
/// may be written as a plain scalar in block context.
fn plain_ok(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    if s.starts_with(' ') || s.ends_with(' ') {
        return false;
    }
    // Document markers; only special at column 0, but quoting is cheap.
    if s.starts_with("---") || s.starts_with("...") {
        return false;
    }
    match first {
        // `-foo` is a valid plain scalar (think `--leader-elect`), `- foo`
        // and a lone `-` are not.
        '-' if s.chars().nth(1).is_none_or(|c| c == ' ') => return false,
        '?' | ':' | ',' | '[' | ']' | '{' | '}' | '#' | '&' | '*' | '!' | '|' | '>' | '\''
        | '"' | '%' | '@' | '`' => return false,
        _ => {}
    }
    !(s.contains(": ") || s.contains(" #") || s.ends_with(':'))
}

/// Whether multi-line `s` can be a literal block scalar. Like go-yaml we
/// refuse trailing spaces before a line break or at the very end (editors
/// and parsers strip them), and characters that would need escapes. Text made
/// only of line breaks is refused too: a block with no content line reads
/// back as `""` whatever its chomping indicator.
fn literal_ok(s: &str) -> bool {
    s.chars().all(|c| c == '\n' || is_safe_char(c))
        && s.chars().any(|c| c != '\n')
        && !s.contains(" \n")
        && !s.ends_with(' ')
}

/// A literal block needs an explicit indentation indicator when its first
/// line starts with a space or is empty, since the parser would otherwise
/// guess the indentation from that line.
fn needs_indent_indicator(s: &str) -> bool {
    s.starts_with(' ') || s.starts_with('\n')
}

/// Writes `s` in `style`; block content lines go at column `content_indent`.
/// Does not write the final line break of a block scalar's last line (the
/// caller ends the line as for any other scalar).
fn write_string(out: &mut String, s: &str, style: Style, content_indent: usize) {
    match style {
        Style::Plain => out.push_str(s),
        Style::Single => {
            out.push('\'');
            out.push_str(&s.replace('\'', "''"));
            out.push('\'');
        }
        Style::Double => write_double_quoted(out, s),
        Style::Literal => write_literal(out, s, content_indent),
    }
}

fn write_literal(out: &mut String, s: &str, content_indent: usize) {
    out.push('|');
    if needs_indent_indicator(s) {
        // Content always sits two columns right of the key or dash that
        // owns it, which is what the indicator counts from.
        out.push('2');
    }
    let body = match s.strip_suffix('\n') {
        None => {
            out.push('-'); // strip: no final line break
            s
        }
        Some(rest) if rest.ends_with('\n') => {
            out.push('+'); // keep: the trailing empty lines are content
            rest
        }
        Some(rest) => rest, // clip: exactly one final line break
    };
    // Every line gets its break here except the last, which the caller ends
    // like any other scalar. Empty lines carry no indentation.
    for line in body.split('\n') {
        out.push('\n');
        if !line.is_empty() {
            push_indent(out, content_indent);
            out.push_str(line);
        }
    }
}

fn write_double_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c if is_safe_char(c) => out.push(c),
            c if (c as u32) <= 0xFF => {
                let _ = write!(out, "\\x{:02X}", c as u32);
            }
            c if (c as u32) <= 0xFFFF => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08X}", c as u32);
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    /// Parses `yaml` back with an independent YAML implementation.
    fn reparse(yaml: &str) -> Value {
        match serde_saphyr::from_str::<Value>(yaml) {
            Ok(v) => v,
            Err(e) => panic!("output does not parse: {e}\n--- output ---\n{yaml}"),
        }
    }

    fn assert_round_trip(value: &Value) {
        let yaml = to_document(value);
        let back = reparse(&yaml);
        assert_eq!(
            &back, value,
            "round trip changed the value; YAML was:\n{yaml}"
        );
    }

    /// Every kind of string that needs special treatment somewhere.
    fn tricky_strings() -> Vec<String> {
        let mut v: Vec<String> = [
            "",
            " ",
            "  ",
            "a",
            "plain text",
            "true",
            "false",
            "True",
            "FALSE",
            "yes",
            "no",
            "Yes",
            "NO",
            "y",
            "n",
            "Y",
            "N",
            "on",
            "off",
            "On",
            "OFF",
            "null",
            "Null",
            "NULL",
            "~",
            "1",
            "-1",
            "+1",
            "1.0",
            "-1.5",
            ".5",
            "1.",
            "1e3",
            "1E-3",
            "0x1F",
            "0o17",
            "0b101",
            "017",
            "1_000",
            "1:30",
            "190:20:30.15",
            ".inf",
            "-.inf",
            "+.Inf",
            ".nan",
            ".NaN",
            "inf",
            "nan",
            "Infinity",
            "2001-12-14",
            "2001-12-14t21:59:43.10-05:00",
            "2001-12-14 21:59:43.10 -5",
            "<<",
            "=",
            "-",
            "--",
            "---",
            "--- a",
            "...",
            "... a",
            "-a",
            "--leader-elect",
            "- a",
            "?",
            "? a",
            "?a",
            ":",
            ":a",
            ": a",
            ",",
            ",a",
            "[",
            "[a]",
            "]",
            "{",
            "{a: b}",
            "}",
            "#",
            "#comment",
            "a #b",
            "a#b",
            "&anchor",
            "*alias",
            "*",
            "!tag",
            "!!str",
            "|",
            "|-",
            ">",
            ">-",
            "'",
            "'quoted'",
            "it's",
            "\"",
            "\"dq\"",
            "%TAG",
            "@at",
            "`tick`",
            "a: b",
            "a:b",
            "a:",
            "key: value # c",
            "trailing ",
            " leading",
            " both ",
            "tab\there",
            "\t",
            "back\\slash",
            "\\",
            "ünïcödé",
            "日本語",
            "emoji 🦀",
            "\u{85}nel",
            "line\u{2028}sep",
            "para\u{2029}sep",
            "\u{feff}bom",
            "bell\u{7}",
            "nul\u{0}",
            "del\u{7f}",
            "esc\u{1b}[0m",
            "cr\rcr",
            "\r\n",
            "\u{a0}nbsp",
            "\u{fffe}",
            "/metrics",
            "/healthz/*",
            "apps",
            "deployments/status",
            "rbac.authorization.k8s.io",
            "v1",
            "x-kubernetes-int-or-string",
            "50%",
            "${VAR}",
            "a,b",
            "a[0]",
            "http://example.com/a?b=c#d",
            "0.0.0.0:8080",
            ":8443",
            "1.2.3",
            "1abc",
            "0",
            "00",
            "-0",
            "1 2",
            "a\u{3000}b",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // Multi-line strings, which may become literal blocks.
        v.extend(
            [
                "a\nb",
                "a\nb\n",
                "a\nb\n\n",
                "a\nb\n\n\n",
                "\na",
                "\n",
                "\n\n",
                "\nleading newline\n",
                " leading space\nsecond",
                "  two\n  lines",
                "first\n  indented\nback",
                "trailing space \nnext",
                "ends with space\n ",
                "a\n \nb",
                "a\n\n\nb",
                "# not a comment\n- not a list\n---\n...",
                "key: value\nother: 1",
                "tab\tin\nblock",
                "unicode ü\n日本",
                "crlf\r\nline",
                "\u{2028}\nx",
                "APIVersion defines the versioned schema of this representation of an object.\nServers should convert recognized schemas to the latest internal value, and\nmay reject unrecognized values.\nMore info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources",
            ]
            .iter()
            .map(|s| s.to_string()),
        );
        v
    }

    /// Pieces that make plain scalars ambiguous or need escapes, glued
    /// together by `string()` so combinations come up (`"yes: #"`, ...).
    const FRAGMENTS: &[&str] = &[
        " ", "  ", ":", ": ", "#", " #", "-", "- ", "?", "'", "\"", "\\", "\n", "\n\n", "\r", "\t",
        "!", "&", "*", "|", ">", "%", "@", "`", ",", "[", "]", "{", "}", "---", "...", "0", "1",
        ".", "e", "x", "_", "+", "~", "yes", "no", "on", "off", "y", "n", "true", "null", "ü",
        "日本", "🦀", "\u{85}", "\u{2028}", "\u{feff}", "\u{0}", "\u{7f}", "\u{a0}",
    ];

    /// Strings that stress the writer: the tricky list (alone and glued in
    /// pairs), sequences of fragments, and arbitrary Unicode.
    fn string() -> impl Strategy<Value = String> {
        let tricky = tricky_strings();
        prop_oneof![
            3 => proptest::sample::select(tricky.clone()),
            1 => (proptest::sample::select(tricky.clone()), proptest::sample::select(tricky))
                .prop_map(|(a, b)| a + &b),
            2 => proptest::collection::vec(proptest::sample::select(FRAGMENTS), 0..6)
                .prop_map(|parts| parts.concat()),
            1 => any::<String>(),
        ]
    }

    /// Any JSON value with strings from `string()`, up to four levels deep.
    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            // serde_json numbers are finite; NaN and infinities become null.
            proptest::num::f64::NORMAL
                .prop_union(proptest::num::f64::SUBNORMAL)
                .or(proptest::num::f64::ZERO)
                .prop_map(Value::from),
            string().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 64, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::vec((string(), inner), 0..4)
                    .prop_map(|entries| Value::Object(entries.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn random_documents_round_trip(v in value()) {
            let yaml = to_document(&v);
            let back = serde_saphyr::from_str::<Value>(&yaml);
            prop_assert!(back.is_ok(), "output does not parse: {:?}\n{}", back, yaml);
            prop_assert_eq!(back.ok(), Some(v), "YAML was:\n{}", yaml);
        }

        #[test]
        fn random_strings_round_trip_as_value_key_and_item(s in string()) {
            for v in [json!(s), json!({ "k": s }), json!({ s.clone(): "v" }), json!([[s]])] {
                let yaml = to_document(&v);
                let back = serde_saphyr::from_str::<Value>(&yaml);
                prop_assert!(back.is_ok(), "output does not parse: {:?}\n{}", back, yaml);
                prop_assert_eq!(back.ok(), Some(v), "YAML was:\n{}", yaml);
            }
        }
    }

    #[test]
    fn every_tricky_string_round_trips_as_value_key_and_item() {
        for s in tricky_strings() {
            assert_round_trip(&json!(s));
            assert_round_trip(&json!({ "k": s }));
            assert_round_trip(&json!({ s.clone(): "v" }));
            assert_round_trip(&json!([s]));
            assert_round_trip(&json!([[s]]));
            assert_round_trip(&json!({ "outer": { "inner": [s, { "deep": s }] } }));
            assert_round_trip(&json!([{ "a": s, "b": [s] }]));
        }
    }

    #[test]
    fn scalars_and_empty_collections_round_trip() {
        let values = [
            json!(null),
            json!(true),
            json!(false),
            json!(0),
            json!(-1),
            json!(i64::MIN),
            json!(i64::MAX),
            json!(u64::MAX),
            json!(1.0),
            json!(-0.5),
            json!(1e300),
            json!(1.5e-7),
            json!(f64::MAX),
            json!(f64::MIN_POSITIVE),
            json!({}),
            json!([]),
            json!({ "a": {}, "b": [], "c": [{}, [], [[]], {"d": {}}] }),
            json!([[], [{}], [[1, 2], [3]], { "e": [] }]),
            json!({ "nested": { "empty": { "map": {} } } }),
        ];
        for v in &values {
            assert_round_trip(v);
        }
    }

    #[test]
    fn multiple_documents_round_trip() {
        let docs = vec![
            json!({ "a": 1 }),
            json!([]),
            json!("x\ny"),
            json!({ "b": [true] }),
        ];
        let yaml = to_documents(&docs);
        let back: Vec<Value> = match serde_saphyr::from_multiple(&yaml) {
            Ok(v) => v,
            Err(e) => panic!("{e}\n{yaml}"),
        };
        assert_eq!(back, docs);
        assert_eq!(yaml.matches("---\n").count(), 4);
    }

    #[test]
    fn quoting_follows_go_yaml_choices() {
        let cases = [
            ("", "\"\""),
            ("true", "\"true\""),
            ("1", "\"1\""),
            ("1.0", "\"1.0\""),
            ("0x1", "\"0x1\""),
            ("null", "\"null\""),
            ("*", "'*'"),
            ("it's", "it's"),
            ("'a", "'''a'"),
            (" a", "' a'"),
            ("a: b", "'a: b'"),
            ("tab\t", "\"tab\\t\""),
            ("get", "get"),
            ("/metrics", "/metrics"),
            ("--leader-elect", "--leader-elect"),
            ("50%", "50%"),
        ];
        for (input, want) in cases {
            let mut out = String::new();
            write_string(&mut out, input, choose_style(input, true), 2);
            assert_eq!(out, want, "for {input:?}");
        }
    }

    #[test]
    fn multi_line_strings_use_literal_blocks_with_chomping() {
        let doc = to_document(&json!({
            "clip": "a\nb\n",
            "keep": "a\n\n",
            "strip": "a\nb",
            "indicator": "  x\ny",
            "space": "a \nb",
        }));
        assert_eq!(
            doc,
            "---\nclip: |\n  a\n  b\nindicator: |2-\n    x\n  y\nkeep: |+\n  a\n\nspace: \"a \\nb\"\nstrip: |-\n  a\n  b\n"
        );
    }

    #[test]
    fn keys_are_sorted_even_when_inserted_out_of_order() {
        let mut m = Map::new();
        m.insert("zeta".into(), json!(1));
        m.insert("alpha".into(), json!(2));
        let doc = to_document(&Value::Object(m));
        assert_eq!(doc, "---\nalpha: 2\nzeta: 1\n");
    }

    #[test]
    fn long_keys_use_the_explicit_form() {
        let key = "k".repeat(MAX_IMPLICIT_KEY + 1);
        let v = json!({ key.clone(): [1], "short": { key: "v" } });
        let doc = to_document(&v);
        assert!(doc.starts_with("---\n? kkk"), "{doc}");
        assert_round_trip(&v);
    }

    #[test]
    fn small_manifest_snapshot() {
        let manifest = json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "example",
                "namespace": "system",
                "labels": { "app.kubernetes.io/name": "example", "empty": "" },
                "annotations": {},
            },
            "data": {
                "enabled": "true",
                "replicas": "3",
                "script": "#!/bin/sh\necho hello\n",
                "description": "first line\nsecond line",
                "pattern": "*.yaml",
            },
            "list": [],
            "rules": [
                { "apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"] },
                { "apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["*"] },
            ],
            "nested": [[1, 2], [], [{ "a": 1.5, "b": null, "c": false }]],
        });
        insta::assert_snapshot!(to_document(&manifest));
    }
}
