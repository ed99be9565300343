//! The artifact bucket: Lambda packages and desired-state files, addressed by content hash.

use serde_json::json;

use crate::model::StageModel;
use crate::render::cfn::{Resource, Template, r, sub, tags};
use crate::render::names;

/// Renders the artifacts stack.
pub fn render(model: &StageModel) -> Template {
    let mut t = Template::new(format!(
        "Kafka platform {}: artifact bucket for Lambda code and desired state",
        model.stage
    ));
    let bucket = names::artifact_bucket(model);
    t.add(
        "ArtifactBucket",
        Resource::new(
            "AWS::S3::Bucket",
            json!({
                "BucketName": bucket,
                "BucketEncryption": { "ServerSideEncryptionConfiguration": [
                    { "ServerSideEncryptionByDefault": { "SSEAlgorithm": "aws:kms" }, "BucketKeyEnabled": true }
                ]},
                "VersioningConfiguration": { "Status": "Enabled" },
                "PublicAccessBlockConfiguration": {
                    "BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true
                },
                "OwnershipControls": { "Rules": [{ "ObjectOwnership": "BucketOwnerEnforced" }] },
                "LifecycleConfiguration": { "Rules": [
                    { "Id": "expire-old-versions", "Status": "Enabled", "NoncurrentVersionExpiration": { "NoncurrentDays": 90 } }
                ]},
                "Tags": tags(&model.tags),
            }),
        )
        .retain()
        .skip_check("CKV_AWS_18", "access logging of a bucket that only CloudFormation and gen deploy read adds a second bucket per stage and nothing to audit beyond CloudTrail data events")
        .skip_check("CKV_AWS_144", "artifacts are rebuilt from git on demand; cross-region replication buys nothing")
        .skip_check("CKV2_AWS_62", "nothing reacts to new artifacts; event notifications would be unused"),
    );
    t.add(
        "ArtifactBucketPolicy",
        Resource::new(
            "AWS::S3::BucketPolicy",
            json!({
                "Bucket": r("ArtifactBucket"),
                "PolicyDocument": { "Version": "2012-10-17", "Statement": [{
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [sub(format!("arn:${{AWS::Partition}}:s3:::{bucket}")), sub(format!("arn:${{AWS::Partition}}:s3:::{bucket}/*"))],
                    "Condition": { "Bool": { "aws:SecureTransport": "false" } }
                }]}
            }),
        ),
    );
    t.output(
        "ArtifactBucketName",
        "Bucket that holds Lambda packages and desired-state files",
        r("ArtifactBucket"),
    );
    t
}
