//! EC2: AMI copies and launch templates in the standby region.

use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::types::{
    Filter, Image, LaunchTemplateVersion, RequestLaunchTemplateData, ResourceType, Tag, TagSpecification,
};

use std::collections::HashMap;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

use super::{AwsError, OWNER_TAG, RegionalClients, found};

/// Tag on every AMI copy naming the image it was copied from: how copies are found again.
pub const SOURCE_IMAGE_TAG: &str = "pilotlight.dev/source-image";

/// An AMI as the operator needs it.
#[derive(Clone, Debug, PartialEq)]
pub struct AmiCopy {
    pub image_id: String,
    pub state: super::states::ImageState,
    /// RFC 3339 creation time as EC2 reports it.
    pub creation_date: Option<String>,
}

impl From<&Image> for AmiCopy {
    fn from(image: &Image) -> Self {
        Self {
            image_id: image.image_id().unwrap_or_default().to_owned(),
            state: image.state().map_or("unknown", |s| s.as_str()).into(),
            creation_date: image.creation_date().map(str::to_owned),
        }
    }
}

fn error<E>(operation: &'static str, region: &str, e: SdkError<E, HttpResponse>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    AwsError::from_sdk("ec2", operation, region, e)
}

fn tags(resource: ResourceType, tags: &[(&str, &str)]) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(resource)
        .set_tags(Some(
            tags.iter()
                .map(|(k, v)| Tag::builder().key(*k).value(*v).build())
                .collect(),
        ))
        .build()
}

/// Copies of each of `source_image_ids` in this region (found by the source-image tag), newest
/// first; one call per 200 sources (EC2's limit of values per filter).
pub async fn copies_of(
    aws: &RegionalClients,
    source_image_ids: &[String],
) -> Result<HashMap<String, Vec<AmiCopy>>, AwsError> {
    let mut copies: HashMap<String, Vec<AmiCopy>> = HashMap::new();
    for chunk in source_image_ids.chunks(200) {
        let out = aws
            .ec2
            .describe_images()
            .owners("self")
            .filters(
                Filter::builder()
                    .name(format!("tag:{SOURCE_IMAGE_TAG}"))
                    .set_values(Some(chunk.to_vec()))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| error("DescribeImages", &aws.region, e))?;
        for image in out.images() {
            if image.state().is_some_and(|s| s.as_str() == "deregistered") {
                continue;
            }
            if let Some(source) = image
                .tags()
                .iter()
                .find(|t| t.key() == Some(SOURCE_IMAGE_TAG))
                .and_then(|t| t.value())
            {
                copies.entry(source.to_owned()).or_default().push(AmiCopy::from(image));
            }
        }
    }
    for list in copies.values_mut() {
        list.sort_by(|a, b| b.creation_date.cmp(&a.creation_date));
    }
    Ok(copies)
}

/// Starts copying `source_image_id` from `source_region` into this region; returns the new id.
/// The copy is tagged with its source, so a lost response is found again instead of copied twice.
pub async fn copy_image(
    aws: &RegionalClients,
    source_region: &str,
    source_image_id: &str,
    name: &str,
    owner: &str,
) -> Result<String, AwsError> {
    let out = aws
        .ec2
        .copy_image()
        .source_region(source_region)
        .source_image_id(source_image_id)
        .name(name)
        .description(format!("pilot-light copy of {source_image_id} from {source_region}"))
        .tag_specifications(tags(
            ResourceType::Image,
            &[(SOURCE_IMAGE_TAG, source_image_id), (OWNER_TAG, owner)],
        ))
        .send()
        .await
        .map_err(|e| error("CopyImage", &aws.region, e))?;
    Ok(out.image_id().unwrap_or_default().to_owned())
}

/// The launch template settings the operator manages.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LaunchTemplateData {
    pub image_id: String,
    pub instance_type: String,
    pub key_name: Option<String>,
    pub security_group_ids: Vec<String>,
    pub user_data: Option<String>,
}

impl LaunchTemplateData {
    fn request(&self) -> RequestLaunchTemplateData {
        RequestLaunchTemplateData::builder()
            .image_id(&self.image_id)
            .instance_type(self.instance_type.as_str().into())
            .set_key_name(self.key_name.clone())
            .set_security_group_ids((!self.security_group_ids.is_empty()).then(|| self.security_group_ids.clone()))
            .set_user_data(self.user_data.clone())
            .build()
    }
}

/// The default version of a launch template.
#[derive(Clone, Debug, PartialEq)]
pub struct LaunchTemplate {
    pub version: i64,
    pub data: LaunchTemplateData,
}

impl From<&LaunchTemplateVersion> for LaunchTemplate {
    fn from(v: &LaunchTemplateVersion) -> Self {
        let data = v.launch_template_data();
        Self {
            version: v.version_number().unwrap_or_default(),
            data: LaunchTemplateData {
                image_id: data.and_then(|d| d.image_id()).unwrap_or_default().to_owned(),
                instance_type: data
                    .and_then(|d| d.instance_type())
                    .map(|t| t.as_str().to_owned())
                    .unwrap_or_default(),
                key_name: data.and_then(|d| d.key_name()).map(str::to_owned),
                security_group_ids: data.map(|d| d.security_group_ids().to_vec()).unwrap_or_default(),
                user_data: data.and_then(|d| d.user_data()).map(str::to_owned),
            },
        }
    }
}

/// The template's default version, or `None` when no template has this name.
pub async fn default_launch_template_version(
    aws: &RegionalClients,
    name: &str,
) -> Result<Option<LaunchTemplate>, AwsError> {
    let out = aws
        .ec2
        .describe_launch_template_versions()
        .launch_template_name(name)
        .versions("$Default")
        .send()
        .await
        .map_err(|e| error("DescribeLaunchTemplateVersions", &aws.region, e));
    Ok(found(out)?.and_then(|o| o.launch_template_versions().first().map(LaunchTemplate::from)))
}

/// Creates the template (version 1 is its default), tagged with its owner.
pub async fn create_launch_template(
    aws: &RegionalClients,
    name: &str,
    data: &LaunchTemplateData,
    owner: &str,
) -> Result<(), AwsError> {
    aws.ec2
        .create_launch_template()
        .launch_template_name(name)
        .launch_template_data(data.request())
        .tag_specifications(tags(ResourceType::LaunchTemplate, &[(OWNER_TAG, owner)]))
        .send()
        .await
        .map_err(|e| error("CreateLaunchTemplate", &aws.region, e))?;
    Ok(())
}

/// Adds a version and makes it the default; returns its number.
pub async fn set_launch_template_version(
    aws: &RegionalClients,
    name: &str,
    data: &LaunchTemplateData,
) -> Result<i64, AwsError> {
    let out = aws
        .ec2
        .create_launch_template_version()
        .launch_template_name(name)
        .version_description("pilot-light")
        .launch_template_data(data.request())
        .send()
        .await
        .map_err(|e| error("CreateLaunchTemplateVersion", &aws.region, e))?;
    let version = out
        .launch_template_version()
        .and_then(|v| v.version_number())
        .unwrap_or_default();
    aws.ec2
        .modify_launch_template()
        .launch_template_name(name)
        .default_version(version.to_string())
        .send()
        .await
        .map_err(|e| error("ModifyLaunchTemplate", &aws.region, e))?;
    Ok(version)
}

/// The value of the owner tag of the named template, `None` when it has none or does not exist.
pub async fn launch_template_owner(aws: &RegionalClients, name: &str) -> Result<Option<String>, AwsError> {
    let out = aws
        .ec2
        .describe_launch_templates()
        .launch_template_names(name)
        .send()
        .await
        .map_err(|e| error("DescribeLaunchTemplates", &aws.region, e));
    Ok(found(out)?.and_then(|o| {
        o.launch_templates()
            .first()
            .and_then(|t| t.tags().iter().find(|t| t.key() == Some(OWNER_TAG)))
            .and_then(|t| t.value().map(str::to_owned))
    }))
}

pub async fn delete_launch_template(aws: &RegionalClients, name: &str) -> Result<(), AwsError> {
    let out = aws
        .ec2
        .delete_launch_template()
        .launch_template_name(name)
        .send()
        .await
        .map_err(|e| error("DeleteLaunchTemplate", &aws.region, e));
    found(out).map(|_| ())
}

/// Which of `ids` are not security groups of this region (one call, a `group-id` filter, which
/// does not fail on missing ones).
pub async fn missing_security_groups(aws: &RegionalClients, ids: &[String]) -> Result<Vec<String>, AwsError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let out = aws
        .ec2
        .describe_security_groups()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("group-id")
                .set_values(Some(ids.to_vec()))
                .build(),
        )
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ec2", "DescribeSecurityGroups", &aws.region, e))?;
    let found: Vec<&str> = out.security_groups().iter().filter_map(|g| g.group_id()).collect();
    Ok(ids.iter().filter(|id| !found.contains(&id.as_str())).cloned().collect())
}
