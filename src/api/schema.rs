//! String newtypes whose OpenAPI schema carries the validation the API server enforces, so that
//! one definition serves every field of that kind.

use std::{borrow::Cow, fmt, time::Duration};

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

macro_rules! string_newtype {
    ($(#[$doc:meta])* $name:ident, $schema:tt) => {
        $(#[$doc])*
        #[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl JsonSchema for $name {
            fn schema_name() -> Cow<'static, str> {
                stringify!($name).into()
            }
            fn inline_schema() -> bool {
                true
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!($schema)
            }
        }

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_owned())
            }
        }
    };
}

string_newtype!(
    /// An AWS region name such as `us-east-1`.
    AwsRegion,
    {
        "type": "string",
        "maxLength": 32,
        "x-kubernetes-validations": [{
            "rule": "self.matches('^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]+$')",
            "message": "must be an AWS region name such as us-east-1"
        }]
    }
);

string_newtype!(
    /// An RDS cluster or global-cluster identifier: 1-63 letters, digits or hyphens, starting
    /// with a letter, with no two consecutive hyphens and no trailing hyphen.
    RdsIdentifier,
    {
        "type": "string",
        "maxLength": 63,
        "x-kubernetes-validations": [{
            "rule": "self.matches('^[a-zA-Z][a-zA-Z0-9-]*$') && !self.contains('--') && !self.endsWith('-')",
            "message": "must be an RDS identifier: start with a letter, then letters, digits or single hyphens, not ending in a hyphen, at most 63 characters"
        }]
    }
);

string_newtype!(
    /// A duration in Go syntax (`90s`, `5m`, `1h30m`, `168h`).
    GoDuration,
    {
        "type": "string",
        "maxLength": 32,
        "x-kubernetes-validations": [{
            "rule": "self.matches('^([0-9]+(\\\\.[0-9]+)?(ms|s|m|h))+$')",
            "message": "must be a duration such as 500ms, 5s, 10m or 168h"
        }]
    }
);

string_newtype!(
    /// A Route 53 hosted zone id such as `Z0123456789ABC`.
    HostedZoneId,
    {
        "type": "string",
        "maxLength": 32,
        "x-kubernetes-validations": [{
            "rule": "self.matches('^Z[A-Z0-9]{1,31}$')",
            "message": "must be a Route 53 hosted zone id such as Z0123456789ABC"
        }]
    }
);

string_newtype!(
    /// An S3 bucket name.
    BucketName,
    {
        "type": "string",
        "maxLength": 63,
        "x-kubernetes-validations": [{
            "rule": "self.matches('^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$') && !self.contains('..') && !self.matches('^[0-9]+[.][0-9]+[.][0-9]+[.][0-9]+$')",
            "message": "must be an S3 bucket name: 3-63 lowercase letters, digits, dots or hyphens, no '..', not an IP address"
        }]
    }
);

string_newtype!(
    /// An IAM role ARN.
    IamRoleArn,
    {
        "type": "string",
        "maxLength": 2048,
        "x-kubernetes-validations": [{
            "rule": "self.matches('^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$')",
            "message": "must be an IAM role ARN such as arn:aws:iam::123456789012:role/S3ReplicationRole"
        }]
    }
);

string_newtype!(
    /// A VPC security group id.
    SecurityGroupId,
    {
        "type": "string",
        "maxLength": 32,
        "x-kubernetes-validations": [{
            "rule": "self.matches('^sg-[0-9a-f]{8,17}$')",
            "message": "must be a security group id such as sg-0123456789abcdef0"
        }]
    }
);

string_newtype!(
    /// A VPC subnet id.
    SubnetId,
    {
        "type": "string",
        "maxLength": 32,
        "x-kubernetes-validations": [{
            "rule": "self.matches('^subnet-[0-9a-f]{8,17}$')",
            "message": "must be a subnet id such as subnet-0123456789abcdef0"
        }]
    }
);

string_newtype!(
    /// An Elastic Load Balancing v2 target group ARN.
    TargetGroupArn,
    {
        "type": "string",
        "maxLength": 2048,
        "x-kubernetes-validations": [{
            "rule": "self.matches('^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:[0-9]{12}:targetgroup/.+$')",
            "message": "must be a target group ARN such as arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/dr-targets/0123456789abcdef"
        }]
    }
);

string_newtype!(
    /// An EC2 image id.
    AmiId,
    {
        "type": "string",
        "maxLength": 32,
        "x-kubernetes-validations": [{
            "rule": "self.matches('^ami-[0-9a-f]{8,17}$')",
            "message": "must be an AMI id such as ami-0123456789abcdef0"
        }]
    }
);

string_newtype!(
    /// An RDS DB instance class such as `db.r5.large`.
    DbInstanceClass,
    {
        "type": "string",
        "maxLength": 64,
        "x-kubernetes-validations": [{
            "rule": "self.matches('^db\\\\.[a-z0-9-]+\\\\.[a-z0-9]+$')",
            "message": "must be an RDS instance class such as db.r5.large"
        }]
    }
);

impl GoDuration {
    /// Parses the duration; the schema guarantees the syntax for objects read from the API.
    pub fn to_duration(&self) -> Result<Duration, String> {
        parse_go_duration(&self.0)
    }
}

fn parse_go_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("invalid duration {text:?}: expected e.g. 5s, 10m, 168h");
    let mut total = 0f64;
    let mut rest = text;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(bad)?;
        let value: f64 = rest[..number_len].parse().map_err(|_| bad())?;
        rest = &rest[number_len..];
        let (unit_seconds, unit_len) = if rest.starts_with("ms") {
            (0.001, 2)
        } else if rest.starts_with('s') {
            (1.0, 1)
        } else if rest.starts_with('m') {
            (60.0, 1)
        } else if rest.starts_with('h') {
            (3600.0, 1)
        } else {
            return Err(bad());
        };
        total += value * unit_seconds;
        rest = &rest[unit_len..];
    }
    Ok(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        let d = |s: &str| GoDuration(s.into()).to_duration();
        assert_eq!(d("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(d("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(d("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(d("168h"), Ok(Duration::from_secs(168 * 3600)));
        assert_eq!(d("1.5s"), Ok(Duration::from_millis(1500)));
        assert!(d("").is_err());
        assert!(d("5").is_err());
        assert!(d("5d").is_err());
        assert!(d("s").is_err());
    }
}
