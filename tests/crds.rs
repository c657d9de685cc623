//! The committed CRDs are exactly what the Rust types generate.

use std::path::Path;

#[test]
fn committed_crds_match_the_rust_types() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("crds");
    for (file, generated) in pilot_light::api::crd_documents() {
        let path = dir.join(file);
        let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        assert!(
            committed == generated,
            "{} is stale: regenerate it with `make crds` (cargo run -- crd --dir crds) and commit it",
            path.display()
        );
    }
}
