//! The custom resources: the only place that knows the schema.

mod conditions;
mod failover_request;
mod pilotlight;
mod schema;

pub use conditions::{ConditionStatus, ConditionType, set_condition};
pub use failover_request::*;
pub use pilotlight::*;
pub use schema::*;

use kube::CustomResourceExt;

/// API group of both kinds.
pub const GROUP: &str = "pilotlight.dev";

/// The CRDs as YAML documents, in the order they are written to `crds/`.
pub fn crd_documents() -> Vec<(&'static str, String)> {
    vec![
        ("pilotlights.yaml", to_yaml(&PilotLight::crd())),
        ("failoverrequests.yaml", to_yaml(&FailoverRequest::crd())),
    ]
}

fn to_yaml<T: serde::Serialize>(value: &T) -> String {
    serde_yaml::to_string(value).expect("CRD serializes to YAML")
}
