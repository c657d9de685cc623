//! The endpoint steps of a failover, whichever database engine: the endpoints ConfigMap and the
//! optional writer CNAME name the promoted writer.

use crate::pilotlight::{endpoints, traffic};
use crate::step::{Done, StepContext, StepError, refused};

/// Names `endpoint` (the promoted writer's) in the endpoints ConfigMap (Kubernetes API only).
pub(crate) async fn update_endpoints(sc: &StepContext<'_>, endpoint: String) -> Result<Done, StepError> {
    let mut status = sc.pl.status.clone().unwrap_or_default();
    status.active_region = Some(sc.direction.to.to_owned());
    let database = status.database.get_or_insert_with(Default::default);
    database.writer_endpoint = Some(endpoint.clone());
    let global = database.global_writer_endpoint.clone();
    endpoints::apply(&sc.ctx.client, &endpoints::desired(sc.pl, &status)).await?;
    let global = global.map(|g| format!(", global writer {g}")).unwrap_or_default();
    Ok(Done::Succeeded(format!(
        "ConfigMap {}: activeRegion {}, writer {endpoint}{global}",
        endpoints::name(sc.pl),
        sc.direction.to
    )))
}

/// Points `writerEndpointRecord` at `endpoint`. Route 53's control plane: deferred while it does
/// not answer (the ConfigMap already names the new writer).
pub(crate) async fn update_writer_record(sc: &StepContext<'_>, endpoint: String) -> Result<Done, StepError> {
    let w = sc
        .pl
        .spec
        .database
        .as_ref()
        .and_then(|d| d.writer_endpoint_record())
        .ok_or_else(|| refused("spec.database names no writerEndpointRecord".into()))?;
    traffic::failover::point_record(sc, w.hosted_zone_id.as_str(), traffic::writer_record(w, &endpoint)).await
}
