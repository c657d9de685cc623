//! The Argo CD health scripts in `docs/argocd/`, run by a real Lua 5.4 interpreter (Argo CD runs
//! them with gopher-lua, a Lua 5.1 dialect; the scripts use nothing beyond it) on the sample
//! objects in `docs/argocd/samples/` and on a PilotLight read from the API server.

use std::{path::Path, process::Command, time::Duration};

use crate::common::*;
use serde_json::{Value, json};

/// `value` as a Lua table constructor.
fn lua_literal(value: &Value) -> String {
    match value {
        Value::Null => "nil".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => lua_string(s),
        Value::Array(items) => format!("{{{}}}", items.iter().map(lua_literal).collect::<Vec<_>>().join(", ")),
        Value::Object(fields) => format!(
            "{{{}}}",
            fields
                .iter()
                .map(|(k, v)| format!("[{}] = {}", lua_string(k), lua_literal(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn lua_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
            c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// (status, message) the health script for `obj`'s kind returns, as Argo CD would run it: the
/// object in the global `obj`, the script's return value the health.
fn health(obj: &Value) -> (String, String) {
    let script = match obj["kind"].as_str() {
        Some("PilotLight") => "docs/argocd/pilotlight-health.lua",
        Some("FailoverRequest") => "docs/argocd/failoverrequest-health.lua",
        other => panic!("no health script for kind {other:?}"),
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(script);
    let output = Command::new("lua5.4")
        .arg("-e")
        .arg(format!("obj = {}", lua_literal(obj)))
        .arg("-e")
        .arg(format!(
            "local hs = dofile({}); io.write(hs.status, '\\t', hs.message or '')",
            lua_string(&script.to_string_lossy())
        ))
        .output()
        .unwrap_or_else(|e| panic!("running lua5.4 ({e}): install it with `apt-get install lua5.4` (.ci/run does)"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{script:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let (status, message) = stdout.split_once('\t').expect("status<TAB>message");
    (status.to_owned(), message.to_owned())
}

#[test]
fn health_scripts_give_each_sample_the_status_its_name_says() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/argocd/samples");
    let mut checked = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        // `<kind>.<expected>[-<case>].json`
        let expected = name.split('.').nth(1).unwrap().split('-').next().unwrap();
        let obj: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let (status, message) = health(&obj);
        assert_eq!(status.to_lowercase(), expected, "{name}: {message}");
        assert!(!message.is_empty(), "{name}: a health needs a message");
        checked.push(name);
    }
    for kind in ["pilotlight", "failoverrequest"] {
        for status in ["healthy", "progressing", "degraded"] {
            assert!(
                checked.iter().any(|n| n.starts_with(&format!("{kind}.{status}"))),
                "a {status} sample of {kind}"
            );
        }
    }
    assert!(checked.iter().any(|n| n.starts_with("failoverrequest.suspended")));
}

#[test]
fn the_argocd_cm_snippet_embeds_the_scripts_unchanged() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/argocd");
    let snippet = std::fs::read_to_string(root.join("argocd-cm.yaml")).unwrap();
    let snippet: Value = serde_yaml::from_str(&snippet).expect("argocd-cm.yaml is YAML");
    for (key, file) in [
        (
            "resource.customizations.health.pilotlight.dev_PilotLight",
            "pilotlight-health.lua",
        ),
        (
            "resource.customizations.health.pilotlight.dev_FailoverRequest",
            "failoverrequest-health.lua",
        ),
    ] {
        let script = std::fs::read_to_string(root.join(file)).unwrap();
        assert_eq!(
            snippet["data"][key].as_str(),
            Some(script.as_str()),
            "{key} in argocd-cm.yaml differs from {file}"
        );
    }
}

#[tokio::test]
async fn a_pilotlight_from_the_api_server_goes_from_progressing_to_healthy() {
    let mut s = Scenario::new("argocd").await;
    // The smallest PilotLight admission accepts: one DynamoDB table.
    let table = format!("argocd-{}", unique_suffix());
    create_table(&table).await;
    s.manifest["spec"] = json!({
        "regions": {"primary": "us-east-1", "standby": "us-west-2"},
        "storage": {"dynamodb": [{"tableName": table}]},
    });
    let created = s.apply(|_| {}).await;
    let (status, _) = health(&serde_json::to_value(&created).unwrap());
    assert_eq!(status, "Progressing", "no operator has reported yet");
    let operator = s.start_operator().await;
    let ready = s.wait("Ready", "True", None, Duration::from_secs(30)).await;
    let (status, message) = health(&serde_json::to_value(&ready).unwrap());
    assert_eq!(
        (status.as_str(), message.as_str()),
        ("Healthy", "all components converged: StorageReplicating")
    );
    operator.stop().await;
}
