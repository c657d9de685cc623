//! The committed CRDs (in `crds/` and in the Helm chart) are exactly what the Rust types
//! generate, and the chart's admission policy is `deploy/admission/`'s.

use std::path::Path;

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

#[test]
fn committed_crds_match_the_rust_types() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in ["crds", "charts/pilot-light/crds"] {
        for (file, generated) in pilot_light::api::crd_documents() {
            let path = root.join(dir).join(file);
            assert!(
                read(&path) == generated,
                "{} is stale: regenerate it with `make crds` and commit it",
                path.display()
            );
        }
    }
}

#[test]
fn the_chart_ships_the_admission_policies_unchanged() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for file in [
        "failoverrequest-approval.yaml",
        "evacuation-approval.yaml",
        "failoverrequest-creator.yaml",
        "pilotlight-traffic-warning.yaml",
    ] {
        assert!(
            read(&root.join("charts/pilot-light/files").join(file)) == read(&root.join("deploy/admission").join(file)),
            "charts/pilot-light/files/{file} differs from deploy/admission/{file}: run `make crds`"
        );
    }
}
