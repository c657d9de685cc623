//! The chart's Grafana dashboard (`charts/pilot-light/dashboards/pilot-light.json`) queries only
//! series the operator exports, with labels those series have, and every panel uses the
//! dashboard's `$datasource`. The exported series come from rendering a populated
//! `telemetry::Metrics`, so the check follows the code: no test environment is needed.

use std::{
    collections::{BTreeMap, BTreeSet, HashSet},
    path::Path,
    time::Duration,
};

use pilot_light::telemetry::{Metrics, ObjectLabels};
use serde_json::Value;

const DASHBOARD: &str = "charts/pilot-light/dashboards/pilot-light.json";

/// Labels the scrape adds to every series (the Prometheus Operator's target labels for a
/// ServiceMonitor). `namespace` is left out on purpose: on the per-PilotLight series it is the
/// PilotLight's label, and a dashboard must not group the other series by the operator's own.
const SCRAPE_LABELS: [&str; 6] = ["job", "instance", "pod", "container", "service", "endpoint"];

/// PromQL keywords followed by a list of label names.
const GROUPING: [&str; 6] = ["by", "without", "on", "ignoring", "group_left", "group_right"];

#[test]
fn the_dashboard_queries_only_exported_metrics_and_labels() {
    let problems = problems(&dashboard(), &exposition());
    assert!(
        problems.is_empty(),
        "{DASHBOARD} does not match the operator's metrics (src/telemetry.rs):\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn a_histogram_suffix_on_a_gauge_is_caught() {
    let exposition = exposition();
    let mut dashboard = dashboard();
    edit_exprs(
        &mut dashboard,
        "Aurora replication lag",
        "pilot_light_replication_lag_seconds{",
        "pilot_light_replication_lag_seconds_count{",
    );
    assert_reported(
        &problems(&dashboard, &exposition),
        &[
            "Aurora replication lag",
            "pilot_light_replication_lag_seconds_count",
            "gauge",
        ],
    );
}

#[test]
fn a_counter_without_total_and_a_misspelt_metric_are_caught() {
    let exposition = exposition();
    let mut dashboard = dashboard();
    edit_exprs(
        &mut dashboard,
        "Reconciliations",
        "pilot_light_reconciliations_total",
        "pilot_light_reconciliations",
    );
    edit_exprs(
        &mut dashboard,
        "Standby AMI age",
        "pilot_light_standby_image_age_seconds",
        "pilot_light_standby_ami_age_seconds",
    );
    let problems = problems(&dashboard, &exposition);
    assert_reported(
        &problems,
        &["Reconciliations", "pilot_light_reconciliations ", "counter"],
    );
    assert_reported(&problems, &["Standby AMI age", "pilot_light_standby_ami_age_seconds"]);
}

#[test]
fn labels_a_metric_does_not_have_are_caught() {
    let exposition = exposition();
    let mut dashboard = dashboard();
    // Steps have no request type; their state is `state`, not `phase`.
    edit_exprs(&mut dashboard, "Step duration p95", "by (le, step)", "by (le, type)");
    edit_exprs(&mut dashboard, "Step duration p95", "{state=", "{phase=");
    let problems = problems(&dashboard, &exposition);
    assert_reported(
        &problems,
        &[
            "Step duration p95",
            "pilot_light_failover_step_duration_seconds_bucket",
            "\"type\"",
        ],
    );
    assert_reported(
        &problems,
        &[
            "Step duration p95",
            "pilot_light_failover_step_duration_seconds_bucket",
            "\"phase\"",
        ],
    );
}

#[test]
fn duplicate_ids_and_other_datasources_are_caught() {
    let exposition = exposition();
    let mut dashboard = dashboard();
    let panels = dashboard["panels"].as_array_mut().expect("panels");
    let first = panels[1]["id"].clone();
    panels[2]["id"] = first;
    panels[3]["datasource"] = serde_json::json!({ "type": "prometheus", "uid": "prometheus" });
    let (second, third) = (title(&panels[2]).to_owned(), title(&panels[3]).to_owned());
    let problems = problems(&dashboard, &exposition);
    assert_reported(&problems, &[&second, "id"]);
    assert_reported(&problems, &[&third, "$datasource"]);
}

// ---- The exported series -------------------------------------------------------------------

/// One series name in the exposition, e.g. `pilot_light_aws_calls_total`.
struct Series {
    family: String,
    kind: String,
    /// Label names of its samples (`le` on a histogram's `_bucket`).
    labels: BTreeSet<String>,
}

struct Exposition {
    /// `# TYPE` lines: family name to type.
    families: BTreeMap<String, String>,
    series: BTreeMap<String, Series>,
}

fn exposition() -> Exposition {
    let metrics = Metrics::default();
    populate(&metrics);
    parse_exposition(&metrics.render())
}

/// One sample in every family: prometheus-client leaves out families without samples, and the
/// samples give each family's label names.
fn populate(metrics: &Metrics) {
    let object = ObjectLabels {
        namespace: "payments".into(),
        name: "orders".into(),
    };
    metrics.reconciled("pilotlight", Duration::from_millis(40));
    metrics.reconcile_failed("pilotlight", "aws_throttled");
    metrics.set_readiness(
        object.clone(),
        false,
        &[("DatabaseReplicating", true), ("ComputeReady", false)],
        Some(Duration::from_millis(800)),
        Some(Duration::from_secs(3 * 86_400)),
    );
    metrics.set_primary_healthy(object.clone(), Some(false));
    metrics.set_drill_passed(object.clone(), Some(true));
    metrics.request_created("detection");
    metrics.request_ended(
        object,
        "Drill",
        "Succeeded",
        Some(Duration::from_secs(90)),
        Some(75.0),
        Some(0.0),
    );
    metrics.step_finished("PromoteDatabase", "Succeeded", Duration::from_secs(40));
    metrics.aws_call("RDS", "DescribeGlobalClusters", "us-east-1", "ok");
    metrics.set_leader(true);
}

/// Families from the `# TYPE` lines and, for each, the series names its type implies (a counter
/// is only `<family>_total`, a histogram only `_bucket`, `_sum` and `_count`), each with the
/// label names of its samples.
fn parse_exposition(text: &str) -> Exposition {
    let mut families = BTreeMap::new();
    let mut sampled: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (family, kind) = rest.split_once(' ').unwrap_or_else(|| panic!("bad TYPE line {line:?}"));
            families.insert(family.to_owned(), kind.to_owned());
        } else if !line.starts_with('#') && !line.trim().is_empty() {
            let end = line.find(['{', ' ']).unwrap_or(line.len());
            let labels = sampled.entry(line[..end].to_owned()).or_default();
            if line[end..].starts_with('{') {
                let (names, _) = matchers(&line[end + 1..]).unwrap_or_else(|e| panic!("sample {line:?}: {e}"));
                labels.extend(names);
            }
        }
    }
    let mut series = BTreeMap::new();
    for (family, kind) in &families {
        for suffix in suffixes(kind) {
            let name = format!("{family}{suffix}");
            let labels = sampled.remove(&name).unwrap_or_else(|| {
                panic!("{family} ({kind}) has no {name} samples: set one in populate() so that its labels are known")
            });
            let (family, kind) = (family.clone(), kind.clone());
            series.insert(name, Series { family, kind, labels });
        }
    }
    assert!(
        sampled.is_empty(),
        "samples outside their family's type: {:?}",
        sampled.keys()
    );
    Exposition { families, series }
}

/// Series-name suffixes of an OpenMetrics type.
fn suffixes(kind: &str) -> &'static [&'static str] {
    match kind {
        "counter" => &["_total"],
        "histogram" | "gaugehistogram" => &["_bucket", "_sum", "_count"],
        "summary" => &["", "_sum", "_count"],
        "info" => &["_info"],
        _ => &[""],
    }
}

impl Exposition {
    /// Why `name` is not an exported series.
    fn missing(&self, name: &str) -> String {
        let family = self.families.get_key_value(name).or_else(|| {
            ["_total", "_bucket", "_sum", "_count", "_info"]
                .iter()
                .filter_map(|suffix| name.strip_suffix(suffix))
                .find_map(|family| self.families.get_key_value(family))
        });
        match family {
            Some((family, kind)) => {
                let names: Vec<String> = suffixes(kind).iter().map(|s| format!("{family}{s}")).collect();
                format!(
                    "{name} is not exported: {family} is a {kind}, exported as {}",
                    names.join(", ")
                )
            }
            None => format!(
                "{name} is not exported: no such metric in src/telemetry.rs (or populate() in this test sets none of it)"
            ),
        }
    }
}

// ---- The dashboard -------------------------------------------------------------------------

fn dashboard() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(DASHBOARD);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{DASHBOARD} is not valid JSON: {e}"))
}

fn title(panel: &Value) -> &str {
    panel["title"].as_str().unwrap_or("(untitled)")
}

/// Every panel, rows' nested panels included.
fn panels(dashboard: &Value) -> Vec<&Value> {
    fn walk<'a>(list: &'a Value, out: &mut Vec<&'a Value>) {
        for panel in list.as_array().into_iter().flatten() {
            out.push(panel);
            walk(&panel["panels"], out);
        }
    }
    let mut out = Vec::new();
    walk(&dashboard["panels"], &mut out);
    out
}

/// One PromQL text to check: a panel target's `expr` or a template variable's query.
struct Query {
    /// `panel "<title>"` or `variable "<name>"`.
    owner: String,
    text: String,
    legend: Option<String>,
}

fn queries(dashboard: &Value) -> Vec<Query> {
    let mut out = Vec::new();
    for panel in panels(dashboard) {
        for target in panel["targets"].as_array().into_iter().flatten() {
            if let Some(expr) = target["expr"].as_str() {
                out.push(Query {
                    owner: format!("panel {:?}", title(panel)),
                    text: expr.to_owned(),
                    legend: target["legendFormat"].as_str().map(str::to_owned),
                });
            }
        }
    }
    for variable in variables(dashboard).into_iter().filter(|v| v["type"] == "query") {
        let owner = format!("variable {:?}", variable["name"].as_str().unwrap_or_default());
        let query = &variable["query"];
        for text in [query.as_str(), query["query"].as_str(), variable["definition"].as_str()]
            .into_iter()
            .flatten()
        {
            let (owner, text, legend) = (owner.clone(), text.to_owned(), None);
            out.push(Query { owner, text, legend });
        }
    }
    out
}

fn variables(dashboard: &Value) -> Vec<&Value> {
    dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
        .collect()
}

/// Whether `datasource` (an object with a `uid`, or the older plain string) is `$datasource`.
fn is_datasource_variable(datasource: &Value) -> bool {
    let uid = datasource.as_str().or_else(|| datasource["uid"].as_str());
    let kind_ok = datasource["type"].as_str().is_none_or(|t| t == "prometheus");
    kind_ok && matches!(uid, Some("$datasource" | "${datasource}"))
}

// ---- The checks ----------------------------------------------------------------------------

/// Everything wrong with `dashboard` against `exposition`, one message each, naming the panel
/// (or variable) and the metric.
fn problems(dashboard: &Value, exposition: &Exposition) -> Vec<String> {
    let mut problems = Vec::new();
    for (key, want) in [("uid", "pilot-light"), ("title", "pilot-light")] {
        if dashboard[key] != want {
            problems.push(format!("the dashboard's {key} is {}, not {want:?}", dashboard[key]));
        }
    }

    let defined: BTreeSet<&str> = variables(dashboard).iter().filter_map(|v| v["name"].as_str()).collect();
    for name in ["datasource", "namespace", "pilotlight"] {
        if !defined.contains(name) {
            problems.push(format!("no template variable {name:?}"));
        }
    }
    for variable in variables(dashboard) {
        let name = variable["name"].as_str().unwrap_or_default();
        match variable["type"].as_str() {
            Some("datasource") if variable["query"] != "prometheus" => {
                problems.push(format!(
                    "variable {name:?} selects {} data sources, not prometheus",
                    variable["query"]
                ));
            }
            Some("query") if !is_datasource_variable(&variable["datasource"]) => {
                problems.push(format!(
                    "variable {name:?} queries {}, not $datasource",
                    variable["datasource"]
                ));
            }
            _ => {}
        }
    }

    let mut ids = HashSet::new();
    for panel in panels(dashboard) {
        let owner = format!("panel {:?}", title(panel));
        match panel["id"].as_u64() {
            None => problems.push(format!("{owner} has no numeric id")),
            Some(id) if !ids.insert(id) => problems.push(format!("{owner} reuses id {id}")),
            Some(_) => {}
        }
        if panel["type"] == "row" {
            if !panel["datasource"].is_null() && !is_datasource_variable(&panel["datasource"]) {
                problems.push(format!(
                    "{owner}: row datasource {} is not $datasource",
                    panel["datasource"]
                ));
            }
            continue;
        }
        if !is_datasource_variable(&panel["datasource"]) {
            problems.push(format!(
                "{owner}: datasource {} is not $datasource",
                panel["datasource"]
            ));
        }
        let targets = panel["targets"].as_array().map(Vec::as_slice).unwrap_or_default();
        if targets.is_empty() {
            problems.push(format!("{owner} has no targets"));
        }
        let mut ref_ids = HashSet::new();
        for target in targets {
            if !target["datasource"].is_null() && !is_datasource_variable(&target["datasource"]) {
                problems.push(format!(
                    "{owner}: target {} uses datasource {}, not $datasource",
                    target["refId"], target["datasource"]
                ));
            }
            if !ref_ids.insert(target["refId"].to_string()) {
                problems.push(format!("{owner}: refId {} is used twice", target["refId"]));
            }
            if target["expr"].as_str().is_none_or(|e| e.trim().is_empty()) {
                problems.push(format!("{owner}: target {} has no expr", target["refId"]));
            }
        }
    }

    for query in queries(dashboard) {
        check_query(&query, exposition, &defined, &mut problems);
    }
    problems
}

fn check_query(query: &Query, exposition: &Exposition, defined: &BTreeSet<&str>, problems: &mut Vec<String>) {
    let Query { owner, text, legend } = query;
    for variable in variable_refs(text) {
        if !variable.starts_with("__") && !defined.contains(variable.as_str()) {
            problems.push(format!("{owner}: ${variable} is not a template variable (in {text:?})"));
        }
    }

    // Every `pilot_light_…` token must be an exported series name, exactly.
    let tokens = metric_tokens(text);
    for token in &tokens {
        if !exposition.series.contains_key(token) {
            problems.push(format!("{owner}: {} (in {text:?})", exposition.missing(token)));
        }
    }
    if tokens.is_empty() && !owner.starts_with("variable") {
        problems.push(format!("{owner}: {text:?} queries no pilot_light metric"));
    }

    let scan = match scan(text) {
        Ok(scan) => scan,
        Err(e) => {
            problems.push(format!("{owner}: cannot read {text:?}: {e}"));
            return;
        }
    };
    let scanned: BTreeSet<&String> = scan.selectors.iter().map(|(name, _)| name).collect();
    if scanned != tokens.iter().collect() {
        problems.push(format!("{owner}: metric names outside selectors in {text:?}"));
    }
    let known: Vec<(&String, &Series)> = scan
        .selectors
        .iter()
        .filter_map(|(name, _)| exposition.series.get(name).map(|series| (name, series)))
        .collect();
    let has = |series: &Series, label: &str| series.labels.contains(label) || SCRAPE_LABELS.contains(&label);

    for (name, labels) in &scan.selectors {
        let Some(series) = exposition.series.get(name) else {
            continue;
        };
        for label in labels.iter().filter(|label| !has(series, label)) {
            problems.push(format!(
                "{owner}: {name} has no label {label:?} to select on (its labels: {})",
                describe(series)
            ));
        }
    }
    for (keyword, labels) in &scan.grouping {
        for label in labels {
            for (name, series) in known.iter().filter(|(_, series)| !has(series, label)) {
                problems.push(format!(
                    "{owner}: {keyword} ({label}) but {name} has no label {label:?} (its labels: {})",
                    describe(series)
                ));
            }
        }
    }
    if let Some(label) = label_values_label(text) {
        for (name, series) in known.iter().filter(|(_, series)| !has(series, &label)) {
            problems.push(format!(
                "{owner}: label_values of {label:?}, which {name} does not have (its labels: {})",
                describe(series)
            ));
        }
    }
    if text.contains("histogram_quantile") {
        for (name, series) in &known {
            if series.kind != "histogram" || !name.ends_with("_bucket") {
                problems.push(format!(
                    "{owner}: histogram_quantile over {name}, which is not a histogram's _bucket"
                ));
            }
        }
        if !scan
            .grouping
            .iter()
            .any(|(k, labels)| k == "by" && labels.iter().any(|l| l == "le"))
        {
            problems.push(format!(
                "{owner}: histogram_quantile without `by (le, ...)` in {text:?}"
            ));
        }
    }

    // A legend can only show labels the result keeps.
    let by: BTreeSet<&str> = scan
        .grouping
        .iter()
        .filter(|(keyword, _)| keyword == "by")
        .flat_map(|(_, labels)| labels.iter().map(String::as_str))
        .collect();
    for label in legend.as_deref().map(legend_labels).unwrap_or_default() {
        let missing: Vec<&String> = known.iter().filter(|(_, s)| !has(s, &label)).map(|(n, _)| *n).collect();
        if !missing.is_empty() {
            problems.push(format!(
                "{owner}: legend {{{{{label}}}}}, a label {missing:?} do not have"
            ));
        } else if !by.is_empty() && !by.contains(label.as_str()) {
            problems.push(format!(
                "{owner}: legend {{{{{label}}}}} but the query keeps only by ({by:?}) of {tokens:?}"
            ));
        }
    }
}

fn describe(series: &Series) -> String {
    let labels: Vec<&str> = series.labels.iter().map(String::as_str).collect();
    format!(
        "{}; {} is a {}; scrape labels: {}",
        if labels.is_empty() {
            "none".to_owned()
        } else {
            labels.join(", ")
        },
        series.family,
        series.kind,
        SCRAPE_LABELS.join(", ")
    )
}

// ---- A small PromQL reader -----------------------------------------------------------------

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b':'
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b':'
}

/// Every `pilot_light_[a-z0-9_]+` token (not inside a longer identifier).
fn metric_tokens(text: &str) -> BTreeSet<String> {
    let bytes = text.as_bytes();
    let mut tokens = BTreeSet::new();
    for (start, _) in text.match_indices("pilot_light_") {
        if start > 0 && is_ident(bytes[start - 1]) {
            continue;
        }
        let len = bytes[start..]
            .iter()
            .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || **c == b'_')
            .count();
        tokens.insert(text[start..start + len].to_owned());
    }
    tokens
}

/// Grafana variables referenced as `$name`, `${name}` or `${name:format}`.
fn variable_refs(text: &str) -> Vec<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    for (at, _) in text.match_indices('$') {
        let rest = &bytes[at + 1..];
        let (start, braced) = if rest.first() == Some(&b'{') {
            (1, true)
        } else {
            (0, false)
        };
        let len = rest[start..].iter().take_while(|c| is_ident(**c)).count();
        if len > 0 || braced {
            out.push(String::from_utf8_lossy(&rest[start..start + len]).into_owned());
        }
    }
    out
}

/// `{{label}}` references of a legend format.
fn legend_labels(legend: &str) -> Vec<String> {
    legend
        .split("{{")
        .skip(1)
        .filter_map(|part| part.split_once("}}"))
        .map(|(label, _)| label.trim().to_owned())
        .collect()
}

/// The label of a `label_values(<selector>, <label>)` variable query.
fn label_values_label(text: &str) -> Option<String> {
    let inner = text.trim().strip_prefix("label_values(")?.strip_suffix(')')?;
    let (_, label) = inner.rsplit_once(',')?;
    Some(label.trim().to_owned())
}

#[derive(Default)]
struct Scan {
    /// `pilot_light_…` selectors and the label names their matchers use.
    selectors: Vec<(String, Vec<String>)>,
    /// `by`, `without`, `on`, `ignoring`, `group_left` and `group_right` label lists.
    grouping: Vec<(String, Vec<String>)>,
}

/// Selectors and grouping clauses of a PromQL expression (or of the `label_values(…)` of a
/// variable query).
fn scan(text: &str) -> Result<Scan, String> {
    let bytes = text.as_bytes();
    let mut scan = Scan::default();
    let mut i = 0;
    let skip_space = |mut i: usize| {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        i
    };
    while i < bytes.len() {
        let c = bytes[i];
        if matches!(c, b'"' | b'\'' | b'`') {
            i = end_of_string(bytes, i)?;
        } else if c == b'[' {
            // A range or subquery: durations and Grafana interval variables.
            i += bytes[i..].iter().position(|c| *c == b']').ok_or("unclosed [")? + 1;
        } else if c == b'$' {
            i += 1;
            if bytes.get(i) == Some(&b'{') {
                i += bytes[i..].iter().position(|c| *c == b'}').ok_or("unclosed ${")? + 1;
            } else {
                i += bytes[i..].iter().take_while(|c| is_ident(**c)).count();
            }
        } else if c.is_ascii_digit() || c == b'.' {
            // Numbers and durations (5m, 1e3, 0.95).
            i += bytes[i..]
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric() || **c == b'.')
                .count();
        } else if c == b'{' {
            let (_, used) = matchers(&text[i + 1..])?;
            i += 1 + used;
        } else if is_ident_start(c) {
            let start = i;
            i += bytes[i..].iter().take_while(|c| is_ident(**c)).count();
            let word = &text[start..i];
            let next = skip_space(i);
            if word.starts_with("pilot_light_") {
                let mut labels = Vec::new();
                if bytes.get(next) == Some(&b'{') {
                    let (names, used) = matchers(&text[next + 1..])?;
                    labels = names;
                    i = next + 1 + used;
                }
                scan.selectors.push((word.to_owned(), labels));
            } else if GROUPING.contains(&word) && bytes.get(next) == Some(&b'(') {
                let close = next + bytes[next..].iter().position(|c| *c == b')').ok_or("unclosed (")?;
                let labels = text[next + 1..close]
                    .split(',')
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned)
                    .collect();
                scan.grouping.push((word.to_owned(), labels));
                i = close + 1;
            }
        } else {
            i += 1;
        }
    }
    Ok(scan)
}

/// The index just after the string literal that starts at `start`.
fn end_of_string(bytes: &[u8], start: usize) -> Result<usize, String> {
    let quote = bytes[start];
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if quote != b'`' => i += 2,
            c if c == quote => return Ok(i + 1),
            _ => i += 1,
        }
    }
    Err("unclosed string".into())
}

/// Label names of the matchers after a `{` (`name="v"`, `name!~"v"`, …, in PromQL or in the
/// exposition), and how many bytes they take, the closing `}` included.
fn matchers(text: &str) -> Result<(Vec<String>, usize), String> {
    let bytes = text.as_bytes();
    let mut names = Vec::new();
    let mut i = 0;
    loop {
        while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b',') {
            i += 1;
        }
        match bytes.get(i) {
            None => return Err("unclosed {".into()),
            Some(b'}') => return Ok((names, i + 1)),
            Some(c) if is_ident_start(*c) => {}
            Some(c) => return Err(format!("unexpected {:?} in a selector", *c as char)),
        }
        let start = i;
        i += bytes[i..].iter().take_while(|c| is_ident(**c)).count();
        names.push(text[start..i].to_owned());
        i += bytes[i..]
            .iter()
            .take_while(|c| matches!(c, b' ' | b'=' | b'!' | b'~'))
            .count();
        if !matches!(bytes.get(i), Some(b'"' | b'\'' | b'`')) {
            return Err(format!("label {:?} has no quoted value", &text[start..i]));
        }
        i = end_of_string(bytes, i)?;
    }
}

// ---- Helpers of the negative tests ---------------------------------------------------------

/// Replaces `from` with `to` in the exprs of the panels whose title starts with `title_prefix`
/// (it must occur).
fn edit_exprs(dashboard: &mut Value, title_prefix: &str, from: &str, to: &str) {
    fn walk(list: &mut Value, title_prefix: &str, from: &str, to: &str) -> bool {
        let mut edited = false;
        for panel in list.as_array_mut().into_iter().flatten() {
            if title(panel).starts_with(title_prefix) {
                for target in panel["targets"].as_array_mut().into_iter().flatten() {
                    if let Some(expr) = target["expr"].as_str().filter(|e| e.contains(from)) {
                        target["expr"] = Value::String(expr.replace(from, to));
                        edited = true;
                    }
                }
            }
            edited |= walk(&mut panel["panels"], title_prefix, from, to);
        }
        edited
    }
    assert!(
        walk(&mut dashboard["panels"], title_prefix, from, to),
        "no expr of a panel {title_prefix:?} contains {from:?}"
    );
}

/// One of `problems` contains all of `needles`.
fn assert_reported(problems: &[String], needles: &[&str]) {
    assert!(
        problems.iter().any(|p| needles.iter().all(|n| p.contains(n))),
        "no problem mentions all of {needles:?}; problems:\n  {}",
        problems.join("\n  ")
    );
}
