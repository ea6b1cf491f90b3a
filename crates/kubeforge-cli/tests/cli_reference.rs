//! docs/reference/cli.md is generated from the clap definitions, so the
//! book's command reference cannot drift from the binary (rust-analyzer's
//! "tests that keep generated files in sync"): this test renders it and,
//! when the file on disk differs, writes the new text and fails. Run
//! `cargo test -p kubeforge-cli --test cli_reference` and commit the file.

use std::fmt::Write as _;
use std::path::Path;

use clap::{Arg, ArgAction, Command, CommandFactory as _};
use kubeforge_cli::cli::Cli;

const HEADER: &str = "\
<!-- Generated from crates/kubeforge-cli/src/cli.rs by
     `cargo test -p kubeforge-cli --test cli_reference`. Do not edit. -->

# Command reference

Every `kubeforge` command and flag, generated from the CLI's own
definitions. `kubeforge <command> --help` prints the same. The pages beside
this one explain what each command does and why.
";

#[test]
fn cli_reference_is_current() {
    let mut cli = Cli::command();
    cli.build();
    let mut out = String::from(HEADER);
    render(&mut out, &cli, 0);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/reference/cli.md");
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    if current != out {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &out).unwrap();
        panic!(
            "{} was out of date and has been rewritten from the CLI's definitions; review and commit it",
            path.display()
        );
    }
}

/// One command's section, then its subcommands' in definition order.
fn render(out: &mut String, cmd: &Command, depth: usize) {
    let name = cmd.get_bin_name().unwrap_or(cmd.get_name()).to_owned();
    if depth > 0 {
        writeln!(out, "\n## `{name}`\n").unwrap();
        if let Some(about) = cmd.get_long_about().or(cmd.get_about()) {
            writeln!(out, "{}\n", unwrap_lines(&about.to_string())).unwrap();
        }
        let usage = cmd.clone().render_usage().to_string();
        let usage = usage.trim_start_matches("Usage: ");
        writeln!(out, "```text\n{usage}\n```").unwrap();
    }
    let args: Vec<&Arg> = cmd
        .get_arguments()
        .filter(|arg| {
            !arg.is_hide_set()
                && !matches!(
                    arg.get_action(),
                    ArgAction::Help
                        | ArgAction::HelpShort
                        | ArgAction::HelpLong
                        | ArgAction::Version
                )
        })
        .collect();
    if !args.is_empty() && depth > 0 {
        writeln!(out, "\n| Argument | Default | What it does |").unwrap();
        writeln!(out, "| --- | --- | --- |").unwrap();
        for arg in args {
            writeln!(
                out,
                "| {} | {} | {} |",
                spelling(arg),
                default(arg),
                help(arg)
            )
            .unwrap();
        }
    }
    if depth > 0
        && let Some(after) = cmd.get_after_help()
    {
        writeln!(out, "\n```text\n{}\n```", after.to_string().trim_end()).unwrap();
    }
    for sub in cmd.get_subcommands() {
        if sub.is_hide_set() || sub.get_name() == "help" {
            continue;
        }
        render(out, sub, depth + 1);
    }
}

/// `--flag <VALUE>`, `-s, --flag`, or `<DIR>` for a positional, plus the
/// environment variable that also sets it.
fn spelling(arg: &Arg) -> String {
    let value = arg
        .get_value_names()
        .map(|names| {
            names
                .iter()
                .map(|n| format!("<{n}>"))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|| format!("<{}>", arg.get_id().as_str().to_uppercase()));
    let takes_value = arg.get_action().takes_values();
    let mut text = if arg.is_positional() {
        format!("`{value}`")
    } else {
        let mut flag = String::new();
        if let Some(short) = arg.get_short() {
            write!(flag, "-{short}, ").unwrap();
        }
        write!(
            flag,
            "--{}",
            arg.get_long().unwrap_or(arg.get_id().as_str())
        )
        .unwrap();
        if takes_value {
            let optional = arg.get_num_args().is_some_and(|n| n.min_values() == 0);
            if optional {
                write!(flag, "[={value}]").unwrap();
            } else {
                write!(flag, " {value}").unwrap();
            }
        }
        format!("`{flag}`")
    };
    if let Some(env) = arg.get_env() {
        write!(text, "<br>env `{}`", env.to_string_lossy()).unwrap();
    }
    text
}

fn default(arg: &Arg) -> String {
    let defaults: Vec<String> = arg
        .get_default_values()
        .iter()
        .map(|v| v.to_string_lossy().into_owned())
        .collect();
    if defaults.is_empty() || !arg.get_action().takes_values() {
        String::new()
    } else {
        format!("`{}`", defaults.join(","))
    }
}

/// The help text on one line, with the allowed values of an enum.
fn help(arg: &Arg) -> String {
    let mut text = arg
        .get_long_help()
        .or(arg.get_help())
        .map(|h| unwrap_lines(&h.to_string()))
        .unwrap_or_default();
    let values: Vec<String> = arg
        .get_possible_values()
        .iter()
        .filter(|v| !v.is_hide_set())
        .map(|v| format!("`{}`", v.get_name()))
        .collect();
    let is_bool = values.len() == 2 && values.iter().all(|v| v == "`true`" || v == "`false`");
    if !values.is_empty() && !is_bool {
        if !text.is_empty() && !text.ends_with('.') {
            text.push('.');
        }
        let space = if text.is_empty() { "" } else { " " };
        write!(text, "{space}One of: {}.", values.join(", ")).unwrap();
    }
    text.replace('|', "\\|")
}

/// Doc-comment paragraphs joined into one Markdown line each; blank lines
/// become line breaks so a table cell stays one row. Placeholders such as
/// `<group>` outside code spans are escaped, or the book would read them
/// as HTML tags.
fn unwrap_lines(text: &str) -> String {
    text.split("\n\n")
        .map(|para| escape_outside_code(&para.split_whitespace().collect::<Vec<_>>().join(" ")))
        .collect::<Vec<_>>()
        .join("<br>")
}

fn escape_outside_code(text: &str) -> String {
    text.split('`')
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 0 {
                part.replace('<', "&lt;").replace('>', "&gt;")
            } else {
                part.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("`")
}
