//! AWS partitions. A region belongs to exactly one partition, and every ARN and service
//! domain chatctl writes carries that partition: `arn:aws-cn:iam::aws:policy/…` in
//! Beijing, `….amazonaws.com.cn` hosts there. One function builds every ARN ([`Partition::arn`]).
//!
//! The region patterns are those of the AWS SDKs' partition table (`partitions.json` in
//! botocore and smithy-rs, `regionRegex` per partition).

use anyhow::{Result, bail};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Partition {
    /// `^(us|eu|ap|sa|ca|me|af|il|mx)-\w+-\d+$`
    #[serde(rename = "aws")]
    Aws,
    /// `^cn-\w+-\d+$`
    #[serde(rename = "aws-cn")]
    AwsCn,
    /// `^us-gov-\w+-\d+$`
    #[serde(rename = "aws-us-gov")]
    AwsUsGov,
}

/// Region prefixes of the standard partition.
const AWS_PREFIXES: &[&str] = &["us", "eu", "ap", "sa", "ca", "me", "af", "il", "mx"];

/// Partitions the SDKs know and chatctl does not deploy to (isolated and sovereign clouds,
/// whose services and endpoints it has never been checked against): `(prefix, partition)`.
const UNSUPPORTED: &[(&str, &str)] = &[
    ("us-iso-", "aws-iso"),
    ("us-isob-", "aws-iso-b"),
    ("eu-isoe-", "aws-iso-e"),
    ("us-isof-", "aws-iso-f"),
    ("eusc-de-", "aws-eusc"),
];

impl Partition {
    /// The partition of `region`; a region of another or of no known partition is refused.
    pub fn of_region(region: &str) -> Result<Self> {
        let word =
            |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        let number = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
        let parts: Vec<&str> = region.split('-').collect();
        match parts.as_slice() {
            ["us", "gov", name, n] if word(name) && number(n) => return Ok(Self::AwsUsGov),
            ["cn", name, n] if word(name) && number(n) => return Ok(Self::AwsCn),
            [prefix, name, n] if AWS_PREFIXES.contains(prefix) && word(name) && number(n) => {
                return Ok(Self::Aws);
            }
            _ => {}
        }
        if let Some((_, partition)) = UNSUPPORTED.iter().find(|(p, _)| region.starts_with(p)) {
            bail!(
                "region \"{region}\" is in the AWS partition {partition}, which chatctl does not deploy to: use a region of the aws, aws-cn or aws-us-gov partition"
            );
        }
        bail!(
            "region \"{region}\" belongs to no AWS partition chatctl knows: regions look like eu-west-1 (aws), cn-north-1 (aws-cn) or us-gov-west-1 (aws-us-gov)"
        )
    }

    /// The partition as it appears in ARNs.
    pub fn id(self) -> &'static str {
        match self {
            Self::Aws => "aws",
            Self::AwsCn => "aws-cn",
            Self::AwsUsGov => "aws-us-gov",
        }
    }

    /// The domain of the partition's service endpoints (`execute-api.{region}.{suffix}`).
    pub fn dns_suffix(self) -> &'static str {
        match self {
            Self::AwsCn => "amazonaws.com.cn",
            Self::Aws | Self::AwsUsGov => "amazonaws.com",
        }
    }

    /// Whether the partition offers Cognito user pools: the SDKs' endpoint table (botocore's
    /// `endpoints.json`, service `cognito-idp`) lists regions of aws and aws-us-gov, none of
    /// aws-cn.
    pub fn has_user_pools(self) -> bool {
        !matches!(self, Self::AwsCn)
    }

    /// `arn:{partition}:{service}:{region}:{account}:{resource}`; region and account are
    /// empty for global resources (`arn:aws:iam::aws:policy/…` has account `aws`).
    pub fn arn(self, service: &str, region: &str, account: &str, resource: &str) -> String {
        format!("arn:{}:{service}:{region}:{account}:{resource}", self.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_map_to_their_partition() {
        for (region, partition) in [
            ("eu-west-1", Partition::Aws),
            ("us-east-1", Partition::Aws),
            ("ap-southeast-2", Partition::Aws),
            ("il-central-1", Partition::Aws),
            ("mx-central-1", Partition::Aws),
            ("cn-north-1", Partition::AwsCn),
            ("cn-northwest-1", Partition::AwsCn),
            ("us-gov-west-1", Partition::AwsUsGov),
            ("us-gov-east-1", Partition::AwsUsGov),
        ] {
            assert_eq!(Partition::of_region(region).unwrap(), partition, "{region}");
        }
    }

    #[test]
    fn other_partitions_and_unknown_regions_are_refused_by_name() {
        let err = Partition::of_region("us-iso-east-1")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "region \"us-iso-east-1\" is in the AWS partition aws-iso, which chatctl does not deploy to: use a region of the aws, aws-cn or aws-us-gov partition"
        );
        assert!(
            Partition::of_region("us-isob-east-1")
                .unwrap_err()
                .to_string()
                .contains("aws-iso-b")
        );
        assert!(
            Partition::of_region("eusc-de-east-1")
                .unwrap_err()
                .to_string()
                .contains("aws-eusc")
        );
        for unknown in ["xx-west-1", "moon-base-1", "eu-west", "eu-west-x"] {
            let err = Partition::of_region(unknown).unwrap_err().to_string();
            assert!(
                err.contains("belongs to no AWS partition"),
                "{unknown}: {err}"
            );
        }
    }

    #[test]
    fn arns_and_domains_carry_the_partition() {
        assert_eq!(
            Partition::AwsCn.arn("iam", "", "aws", "policy/service-role/X"),
            "arn:aws-cn:iam::aws:policy/service-role/X"
        );
        assert_eq!(
            Partition::AwsUsGov.arn("dynamodb", "us-gov-west-1", "1", "table/t"),
            "arn:aws-us-gov:dynamodb:us-gov-west-1:1:table/t"
        );
        assert_eq!(Partition::AwsCn.dns_suffix(), "amazonaws.com.cn");
        assert_eq!(Partition::AwsUsGov.dns_suffix(), "amazonaws.com");
    }
}
