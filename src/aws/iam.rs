//! IAM: checks that roles named in the spec exist before AWS is told to use them.

use super::{AwsError, RegionalClients};

/// The role's name: the last path segment of `arn:aws:iam::<account>:role/<path/>name`.
pub fn role_name(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// Succeeds when the role exists; NotFound (`NoSuchEntity`) names it otherwise. S3 accepts a
/// replication rule with a role that does not exist and then fails every object silently, so the
/// role is checked before the rule is written.
pub async fn require_role(aws: &RegionalClients, arn: &str) -> Result<(), AwsError> {
    aws.iam
        .get_role()
        .role_name(role_name(arn))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("iam", "GetRole", &aws.region, e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn role_names_come_from_the_last_path_segment() {
        assert_eq!(
            super::role_name("arn:aws:iam::123456789012:role/S3ReplicationRole"),
            "S3ReplicationRole"
        );
        assert_eq!(
            super::role_name("arn:aws:iam::123456789012:role/service/dr/Replicate"),
            "Replicate"
        );
    }
}
