//! The `<name>-endpoints` ConfigMap next to a PilotLight: what applications mount to find the
//! active region, the database writer and the bucket to use. Bucket names differ per region
//! (they are global), so after a failover applications must be told which one is active.

pub(crate) mod failover;

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::{
    Api, Resource, ResourceExt,
    api::{ObjectMeta, Patch, PatchParams},
};

use crate::{
    api::{PilotLight, PilotLightStatus},
    config::MANAGER,
};

pub fn name(pl: &PilotLight) -> String {
    format!("{}-endpoints", pl.name_any())
}

/// The ConfigMap for `pl` in its observed state. Pure. Keys: `activeRegion`,
/// `databaseWriterEndpoint` and `databaseGlobalWriterEndpoint` (once known), `cacheEndpoint` (while the
/// standby region serves with its DR cache) and `bucket.<sourceBucket>` = the bucket to use now.
pub fn desired(pl: &PilotLight, status: &PilotLightStatus) -> ConfigMap {
    let spec = &pl.spec;
    let active = status
        .active_region
        .clone()
        .unwrap_or_else(|| spec.regions.primary.to_string());
    let mut data = BTreeMap::from([("activeRegion".to_owned(), active.clone())]);
    if let Some(database) = &status.database {
        if let Some(endpoint) = &database.writer_endpoint {
            data.insert("databaseWriterEndpoint".to_owned(), endpoint.clone());
        }
        if let Some(endpoint) = &database.global_writer_endpoint {
            data.insert("databaseGlobalWriterEndpoint".to_owned(), endpoint.clone());
        }
    }
    // The DR cache serves only while the standby region does.
    if let Some(endpoint) = status.cache.as_ref().and_then(|c| c.endpoint.as_ref())
        && active == spec.regions.standby.as_str()
    {
        data.insert(CACHE_ENDPOINT.to_owned(), endpoint.clone());
    }
    for pair in spec.storage.iter().flat_map(|s| &s.s3) {
        let bucket = if active == spec.regions.primary.as_str() {
            &pair.source_bucket
        } else {
            &pair.destination_bucket
        };
        data.insert(format!("bucket.{}", pair.source_bucket), bucket.to_string());
    }
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name(pl)),
            namespace: pl.namespace(),
            owner_references: pl.controller_owner_ref(&()).map(|r| vec![r]),
            labels: Some(BTreeMap::from([(
                "app.kubernetes.io/managed-by".to_owned(),
                MANAGER.to_owned(),
            )])),
            ..ObjectMeta::default()
        },
        data: Some(data),
        ..ConfigMap::default()
    }
}

/// Key of the DR cache's `address:port`.
pub const CACHE_ENDPOINT: &str = "cacheEndpoint";

/// Sets (or, with `None`, removes) only `cacheEndpoint` with a merge patch, so that a
/// failover's cache step and its endpoints step, which run side by side, never undo each other's
/// keys (under the failover engine's field manager: only its steps call this). A ConfigMap that
/// does not exist yet is left to convergence.
pub async fn set_cache_endpoint(
    client: &kube::Client,
    pl: &PilotLight,
    endpoint: Option<&str>,
) -> Result<(), kube::Error> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), &pl.namespace().unwrap_or_default());
    let patch = serde_json::json!({"data": {CACHE_ENDPOINT: endpoint}});
    match api
        .patch(
            &name(pl),
            &PatchParams {
                field_manager: Some(crate::config::FAILOVER_MANAGER.to_owned()),
                ..PatchParams::default()
            },
            &Patch::Merge(&patch),
        )
        .await
    {
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        other => other.map(|_| ()),
    }
}

/// Server-side applies the ConfigMap (a no-op on the server when nothing changed).
pub async fn apply(client: &kube::Client, config_map: &ConfigMap) -> Result<(), kube::Error> {
    let namespace = config_map.metadata.namespace.as_deref().unwrap_or("default");
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let mut body = config_map.clone();
    body.metadata.managed_fields = None;
    let patch =
        serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": body.metadata, "data": body.data});
    api.patch(
        &config_map.name_any(),
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::DatabaseStatus;

    fn pilotlight() -> PilotLight {
        let mut pl: PilotLight = serde_json::from_value(serde_json::json!({
            "apiVersion": "pilotlight.dev/v1alpha1",
            "kind": "PilotLight",
            "metadata": {"name": "checkout", "namespace": "shop", "uid": "1234"},
            "spec": {
                "regions": {"primary": "us-east-1", "standby": "us-west-2"},
                "storage": {"s3": [{
                    "sourceBucket": "app-assets-us-east-1",
                    "destinationBucket": "app-assets-us-west-2",
                    "replicationRoleArn": "arn:aws:iam::123456789012:role/S3ReplicationRole",
                }]},
            }
        }))
        .unwrap();
        pl.metadata.uid = Some("1234".into());
        pl
    }

    #[test]
    fn points_at_the_primary_while_it_is_active() {
        let status = PilotLightStatus {
            active_region: Some("us-east-1".into()),
            database: Some(DatabaseStatus {
                writer_endpoint: Some("primary.cluster-x".into()),
                global_writer_endpoint: Some("app.global-abc.global.rds.amazonaws.com".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let cm = desired(&pilotlight(), &status);
        assert_eq!(cm.metadata.name.as_deref(), Some("checkout-endpoints"));
        assert_eq!(cm.metadata.namespace.as_deref(), Some("shop"));
        assert_eq!(cm.metadata.owner_references.as_ref().unwrap()[0].name, "checkout");
        let data = cm.data.unwrap();
        assert_eq!(data["activeRegion"], "us-east-1");
        assert_eq!(data["databaseWriterEndpoint"], "primary.cluster-x");
        assert_eq!(
            data["databaseGlobalWriterEndpoint"],
            "app.global-abc.global.rds.amazonaws.com"
        );
        assert_eq!(data["bucket.app-assets-us-east-1"], "app-assets-us-east-1");
    }

    #[test]
    fn points_at_the_standby_bucket_after_a_failover() {
        let status = PilotLightStatus {
            active_region: Some("us-west-2".into()),
            ..Default::default()
        };
        let data = desired(&pilotlight(), &status).data.unwrap();
        assert_eq!(data["activeRegion"], "us-west-2");
        assert_eq!(data["bucket.app-assets-us-east-1"], "app-assets-us-west-2");
        assert!(!data.contains_key("databaseWriterEndpoint"));
        assert!(!data.contains_key("databaseGlobalWriterEndpoint"));
    }
}
