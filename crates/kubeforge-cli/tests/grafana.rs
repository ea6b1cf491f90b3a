//! `kubeforge edit --plugins grafana`: the dashboards are valid, stable
//! JSON in Grafana's dashboard model, and every PromQL expression in them
//! names only metrics a kubeforge manager exports, so no panel stays empty.

mod common;

use std::path::Path;

use common::*;
use serde_json::Value;

/// Every metric a kubeforge manager exports, under controller-runtime's
/// names, and whether it is a histogram (queried as `_bucket`, `_sum` and
/// `_count`). This list must match crates/kubeforge/src/manager/metrics.rs
/// (and the process and tokio runtime collectors it registers): a
/// dashboard over a name not on it would show nothing, and a name on it
/// that no dashboard shows is checked too.
const EXPORTED: &[(&str, bool)] = &[
    ("controller_runtime_reconcile_total", false),
    ("controller_runtime_reconcile_errors_total", false),
    ("controller_runtime_reconcile_time_seconds", true),
    ("controller_runtime_max_concurrent_reconciles", false),
    ("controller_runtime_active_workers", false),
    ("rest_client_requests_total", false),
    ("process_cpu_seconds_total", false),
    ("process_resident_memory_bytes", false),
    ("process_virtual_memory_bytes", false),
    ("process_open_fds", false),
    ("process_max_fds", false),
    ("process_start_time_seconds", false),
    ("leader_election_master_status", false),
    ("tokio_runtime_workers", false),
    ("tokio_runtime_alive_tasks", false),
    ("tokio_runtime_global_queue_depth", false),
];

const DASHBOARDS: [&str; 2] = [
    "grafana/controller-runtime-metrics.json",
    "grafana/controller-resources-metrics.json",
];

/// The exported family a series name belongs to, if any.
fn family(series: &str) -> Option<&'static str> {
    EXPORTED.iter().find_map(|(name, histogram)| {
        let matches = series == *name
            || (*histogram
                && ["_bucket", "_sum", "_count"]
                    .iter()
                    .any(|suffix| series.strip_suffix(suffix) == Some(name)));
        matches.then_some(*name)
    })
}

/// The series names a PromQL expression selects: identifiers that are not
/// functions (followed by `(`), aggregations, keywords, label names in
/// grouping lists, or inside label matchers, strings or range selectors.
fn metric_names(expr: &str) -> Vec<String> {
    const KEYWORDS: [&str; 20] = [
        "and",
        "or",
        "unless",
        "bool",
        "offset",
        "atan2",
        "sum",
        "avg",
        "min",
        "max",
        "count",
        "group",
        "stddev",
        "stdvar",
        "topk",
        "bottomk",
        "quantile",
        "count_values",
        "limitk",
        "limit_ratio",
    ];
    const GROUPING: [&str; 6] = [
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
    ];
    // Drop strings, label matchers and ranges.
    let mut cleaned = String::new();
    let mut depth = 0;
    let mut quote = None;
    for c in expr.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'' | '`') => quote = Some(c),
            (None, '{' | '[') => depth += 1,
            (None, '}' | ']') => depth -= 1,
            (None, c) if depth == 0 => cleaned.push(c),
            _ => {}
        }
    }
    let chars: Vec<char> = cleaned.chars().collect();
    let mut names = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if !(c.is_ascii_alphabetic() || c == '_' || c == ':') {
            // Numbers such as 0.99 or 1e3 are not names.
            if c.is_ascii_digit() {
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                    i += 1;
                }
            } else {
                i += 1;
            }
            continue;
        }
        let start = i;
        while i < chars.len()
            && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
        {
            i += 1;
        }
        let word: String = chars[start..i].iter().collect();
        let mut next = i;
        while next < chars.len() && chars[next].is_whitespace() {
            next += 1;
        }
        if GROUPING.contains(&word.as_str()) {
            // Skip the label list that follows.
            if chars.get(next) == Some(&'(') {
                i = next + chars[next..].iter().position(|c| *c == ')').unwrap_or(0) + 1;
            }
            continue;
        }
        if chars.get(next) == Some(&'(') || KEYWORDS.contains(&word.as_str()) {
            continue;
        }
        names.push(word);
    }
    names
}

#[test]
fn metric_names_are_what_an_expression_selects() {
    assert_eq!(
        metric_names(
            r#"histogram_quantile(0.99, sum by (controller, le) (rate(a_bucket{job="$job", x=~"a b"}[5m])))"#
        ),
        ["a_bucket"]
    );
    assert_eq!(
        metric_names("time() - b{pod=~\"$pod\"} and on (pod) c * 100"),
        ["b", "c"]
    );
    assert_eq!(
        family("controller_runtime_reconcile_time_seconds_bucket"),
        Some("controller_runtime_reconcile_time_seconds")
    );
    assert_eq!(family("controller_runtime_reconcile_total_count"), None);
    assert_eq!(family("workqueue_depth"), None);
}

/// `value` printed as sorted-key, two-space JSON: the form the dashboards
/// are stored in, so they diff cleanly and never reorder.
fn canonical(value: &Value, indent: usize) -> String {
    let pad = |n: usize| " ".repeat(n);
    match value {
        Value::Object(map) if !map.is_empty() => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let items: Vec<String> = keys
                .iter()
                .map(|k| {
                    format!(
                        "{}{}: {}",
                        pad(indent + 2),
                        Value::String((*k).clone()),
                        canonical(&map[k.as_str()], indent + 2)
                    )
                })
                .collect();
            format!("{{\n{}\n{}}}", items.join(",\n"), pad(indent))
        }
        Value::Array(items) if !items.is_empty() => {
            let items: Vec<String> = items
                .iter()
                .map(|v| format!("{}{}", pad(indent + 2), canonical(v, indent + 2)))
                .collect();
            format!("[\n{}\n{}]", items.join(",\n"), pad(indent))
        }
        other => other.to_string(),
    }
}

/// Every panel, rows' nested panels included.
fn panels(dashboard: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().into_iter().flatten() {
        out.push(panel);
        out.extend(panel["panels"].as_array().into_iter().flatten());
    }
    out
}

fn dashboards() -> (tempfile::TempDir, Vec<(String, Value)>) {
    let dir = project();
    let root = dir.path();
    kubeforge(root)
        .args(["edit", "--plugins", "grafana"])
        .assert()
        .success();
    let dashboards = DASHBOARDS
        .iter()
        .map(|rel| {
            let text = std::fs::read_to_string(root.join(rel)).unwrap();
            let value: Value = serde_json::from_str(&text)
                .unwrap_or_else(|err| panic!("{rel} is not valid JSON: {err}"));
            assert_eq!(
                text,
                format!("{}\n", canonical(&value, 0)),
                "{rel} is not in sorted-key, two-space form"
            );
            (rel.to_string(), value)
        })
        .collect();
    (dir, dashboards)
}

#[test]
fn dashboards_query_only_metrics_the_manager_exports() {
    let (_dir, dashboards) = dashboards();
    let mut shown = std::collections::BTreeSet::new();
    for (rel, dashboard) in &dashboards {
        let mut exprs = Vec::new();
        for panel in panels(dashboard) {
            for target in panel["targets"].as_array().into_iter().flatten() {
                exprs.push(target["expr"].as_str().unwrap_or_default().to_string());
            }
        }
        assert!(exprs.len() >= 5, "{rel}: {exprs:?}");
        // The variables' label_values(<selector>, <label>) queries select series too.
        for variable in dashboard["templating"]["list"].as_array().unwrap() {
            if variable["type"] == "query" {
                let query = variable["query"]["query"].as_str().unwrap();
                let selector = query
                    .strip_prefix("label_values(")
                    .and_then(|q| q.rsplit_once(','))
                    .map(|(selector, _)| selector)
                    .unwrap_or_else(|| panic!("{rel}: unexpected variable query {query}"));
                exprs.push(selector.to_string());
            }
        }
        for expr in exprs {
            let names = metric_names(&expr);
            assert!(!names.is_empty(), "{rel}: no metric in `{expr}`");
            for name in names {
                let exported = family(&name).unwrap_or_else(|| {
                    panic!(
                        "{rel}: `{expr}` queries {name}, which a kubeforge manager does not export"
                    )
                });
                shown.insert(exported);
            }
        }
    }
    let unshown: Vec<&str> = EXPORTED
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| !shown.contains(name))
        .collect();
    assert!(unshown.is_empty(), "no panel shows {unshown:?}");
}

/// The shape Grafana imports: a `datasource` variable of type prometheus
/// every query goes through, and Kubebuilder's job/namespace/pod variables.
#[test]
fn dashboards_pick_a_prometheus_data_source_and_a_manager() {
    let (_dir, dashboards) = dashboards();
    for (rel, dashboard) in &dashboards {
        assert!(dashboard["schemaVersion"].as_u64() >= Some(36), "{rel}");
        assert!(dashboard["title"].as_str().is_some_and(|t| !t.is_empty()));
        let variables = dashboard["templating"]["list"].as_array().unwrap();
        let names: Vec<&str> = variables
            .iter()
            .map(|v| v["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["datasource", "namespace", "job", "pod"], "{rel}");
        assert_eq!(variables[0]["type"], "datasource");
        assert_eq!(variables[0]["query"], "prometheus");
        let datasource = serde_json::json!({ "type": "prometheus", "uid": "${datasource}" });
        for variable in &variables[1..] {
            assert_eq!(variable["type"], "query", "{rel}: {variable}");
            assert_eq!(variable["datasource"], datasource, "{rel}");
        }
        let mut ids = std::collections::BTreeSet::new();
        for panel in panels(dashboard) {
            assert!(
                ids.insert(panel["id"].as_u64().unwrap()),
                "{rel}: panel ids repeat"
            );
            assert!(panel["gridPos"]["w"].as_u64().is_some(), "{rel}: {panel}");
            if panel["type"] == "row" {
                continue;
            }
            assert_eq!(panel["datasource"], datasource, "{rel}: {}", panel["title"]);
            for target in panel["targets"].as_array().unwrap() {
                assert_eq!(
                    target["datasource"], datasource,
                    "{rel}: {}",
                    panel["title"]
                );
                let expr = target["expr"].as_str().unwrap();
                assert!(
                    expr.contains(r#"job="$job", namespace="$namespace", pod=~"$pod""#),
                    "{rel}: `{expr}` ignores the job/namespace/pod variables"
                );
            }
        }
    }
}

/// The dashboards are scaffold files like any other: re-running the edit
/// changes nothing, and a user's edit survives another edit.
#[test]
fn dashboards_are_kept_like_scaffold_files() {
    let (dir, _) = dashboards();
    let root = dir.path();
    let rel = Path::new(DASHBOARDS[0]);
    let edited = std::fs::read_to_string(root.join(rel))
        .unwrap()
        .replace("\"refresh\": \"30s\"", "\"refresh\": \"1m\"");
    std::fs::write(root.join(rel), &edited).unwrap();
    let before = tree(root);
    kubeforge(root)
        .args(["edit", "--plugins", "grafana/v1-alpha"])
        .assert()
        .success()
        .stdout(predicates::str::contains("nothing to change"));
    assert_eq!(tree(root), before);
    kubeforge(root)
        .args(["edit", "--license", "mit"])
        .assert()
        .success();
    assert_eq!(std::fs::read_to_string(root.join(rel)).unwrap(), edited);
}
