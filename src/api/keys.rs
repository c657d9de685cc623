//! The names users see on objects besides the schema: annotations, finalizers, condition
//! reasons other writers must recognise, and the key that names a PilotLight everywhere.

use kube::ResourceExt;

/// Annotation naming the user who created a request; set by the creator and checked at
/// admission (see `deploy/admission/`). Its user cannot approve the request.
pub const CREATED_BY: &str = "pilotlight.dev/created-by";

/// Annotation saying the operator created a request itself: [`ORIGIN_DETECTION`] for a failing
/// primary, [`ORIGIN_SCHEDULE`] for a scheduled drill. Believed only with the operator as
/// [`CREATED_BY`].
pub const ORIGIN: &str = "pilotlight.dev/origin";
pub const ORIGIN_DETECTION: &str = "detection";
pub const ORIGIN_SCHEDULE: &str = "schedule";
/// A request an [`Evacuation`](super::Evacuation) made; approved by the evacuation's approval.
pub const ORIGIN_EVACUATION: &str = "evacuation";

/// Held on every PilotLight so that deleting it runs the cleanup first.
pub const PILOTLIGHT_FINALIZER: &str = "pilotlight.dev/cleanup";

/// Held on every active FailoverRequest so that deleting a running one stops it between steps
/// first.
pub const REQUEST_FINALIZER: &str = "pilotlight.dev/failover";

/// Reason of a component condition that a running FailoverRequest froze: not a verdict on the
/// standby.
pub const FAILOVER_IN_PROGRESS: &str = "FailoverInProgress";

/// `namespace/name`: the key of an object in the operator's memory, and the value of the owner
/// tag on what it creates in AWS.
pub fn object_key(object: &impl ResourceExt) -> String {
    format!("{}/{}", object.namespace().unwrap_or_default(), object.name_any())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::api::ObjectMeta;

    #[test]
    fn object_key_is_namespace_slash_name() {
        let cm = k8s_openapi::api::core::v1::ConfigMap {
            metadata: ObjectMeta {
                name: Some("app".into()),
                namespace: Some("shop".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        assert_eq!(object_key(&cm), "shop/app");
    }
}
