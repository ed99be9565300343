//! The few SSM Parameter Store operations the functions need, with errors that name the
//! parameter. Values never appear in errors or logs.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ssm::Client;
use aws_sdk_ssm::types::{ParameterStringFilter, ParameterTier, ParameterType, ResourceTypeForTagging, Tag};

use crate::error::{Error, Result};

/// Values above this size need the Advanced tier.
pub const STANDARD_TIER_MAX: usize = 4096;

/// What is known about an existing parameter without reading its value.
#[derive(Clone, Debug, PartialEq)]
pub struct ParameterInfo {
    /// Description as stored; the functions keep their ownership marker there.
    pub description: String,
    /// Current version.
    pub version: i64,
    /// Standard, Advanced or Intelligent-Tiering.
    pub tier: String,
}

/// One parameter to write.
#[derive(Clone, Debug)]
pub struct NewParameter<'a> {
    /// Full name, e.g. `/kafka/dev/admin/password`.
    pub name: &'a str,
    /// The value; for SecureString a secret.
    pub value: &'a str,
    /// `Some(key)` writes a SecureString (with the account's default key when `key` is None).
    pub secure: Option<Option<&'a str>>,
    /// Ownership marker.
    pub description: &'a str,
    /// Replace an existing parameter.
    pub overwrite: bool,
    /// Tags; only applied when creating (SSM refuses tags together with overwrite).
    pub tags: &'a BTreeMap<String, String>,
}

/// SSM Parameter Store access.
#[derive(Clone, Debug)]
pub struct Parameters {
    client: Client,
}

/// Outcome of a put that must not overwrite.
#[derive(Clone, Debug, PartialEq)]
pub enum PutOutcome {
    /// Written with this version.
    Written(i64),
    /// The parameter already exists; nothing was written.
    AlreadyExists,
}

impl Parameters {
    /// Wraps an SSM client.
    pub fn new(client: Client) -> Self {
        Parameters { client }
    }

    /// Writes a parameter. The tier is Advanced when the value exceeds 4 KB; otherwise
    /// Intelligent-Tiering, which never downgrades an existing Advanced parameter (a plain
    /// Standard would be refused by SSM in that case).
    pub async fn put(&self, p: &NewParameter<'_>) -> Result<PutOutcome> {
        let tier = if p.value.len() > STANDARD_TIER_MAX {
            ParameterTier::Advanced
        } else {
            ParameterTier::IntelligentTiering
        };
        let mut req = self
            .client
            .put_parameter()
            .name(p.name)
            .value(p.value)
            .description(p.description)
            .tier(tier)
            .overwrite(p.overwrite);
        req = match p.secure {
            Some(key) => req.r#type(ParameterType::SecureString).set_key_id(key.map(String::from)),
            None => req.r#type(ParameterType::String),
        };
        if !p.overwrite {
            for (k, v) in p.tags {
                req = req.tags(
                    Tag::builder()
                        .key(k)
                        .value(v)
                        .build()
                        .map_err(|e| Error::property("Tags", format!("tag {k:?}: {e}")))?,
                );
            }
        }
        match req.send().await {
            Ok(out) => Ok(PutOutcome::Written(out.version)),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_parameter_already_exists()) => {
                Ok(PutOutcome::AlreadyExists)
            }
            Err(e) => Err(Error::aws(format!("ssm:PutParameter {}", p.name), e)),
        }
    }

    /// Describes the named parameters that exist (at most 50 names at a time, as SSM allows).
    pub async fn describe(&self, names: &[&str]) -> Result<BTreeMap<String, ParameterInfo>> {
        let mut found = BTreeMap::new();
        for chunk in names.chunks(50) {
            let filter = ParameterStringFilter::builder()
                .key("Name")
                .option("Equals")
                .set_values(Some(chunk.iter().map(|s| s.to_string()).collect()))
                .build()
                .map_err(|e| Error::aws("ssm:DescribeParameters", e))?;
            let mut pages =
                self.client.describe_parameters().parameter_filters(filter).into_paginator().send();
            while let Some(page) = pages.next().await {
                let page =
                    page.map_err(|e| Error::aws(format!("ssm:DescribeParameters {}", chunk.join(", ")), e))?;
                for meta in page.parameters.unwrap_or_default() {
                    let Some(name) = meta.name else { continue };
                    found.insert(
                        name,
                        ParameterInfo {
                            description: meta.description.unwrap_or_default(),
                            version: meta.version,
                            tier: meta.tier.map(|t| t.as_str().to_string()).unwrap_or_default(),
                        },
                    );
                }
            }
        }
        Ok(found)
    }

    /// Reads and decrypts a parameter's value. The caller must not log it.
    pub async fn get_decrypted(&self, name: &str) -> Result<String> {
        self.get(name, true).await
    }

    /// Reads a parameter's value; `decrypt` decrypts a SecureString (the caller must not log it),
    /// without it a String is read with no KMS call.
    pub async fn get(&self, name: &str, decrypt: bool) -> Result<String> {
        let out = self
            .client
            .get_parameter()
            .name(name)
            .with_decryption(decrypt)
            .send()
            .await
            .map_err(|e| Error::aws(format!("ssm:GetParameter {name}"), e))?;
        out.parameter
            .and_then(|p| p.value)
            .ok_or_else(|| Error::Refused(format!("ssm:GetParameter {name} returned no value")))
    }

    /// Deletes parameters; names that are already gone are fine.
    pub async fn delete(&self, names: &[&str]) -> Result<()> {
        for chunk in names.chunks(10) {
            if chunk.is_empty() {
                continue;
            }
            self.client
                .delete_parameters()
                .set_names(Some(chunk.iter().map(|s| s.to_string()).collect()))
                .send()
                .await
                .map_err(|e| Error::aws(format!("ssm:DeleteParameters {}", chunk.join(", ")), e))?;
        }
        Ok(())
    }

    /// Makes the tags of `name` equal `wanted`, given that they were `before`.
    pub async fn sync_tags(
        &self,
        name: &str,
        before: &BTreeMap<String, String>,
        wanted: &BTreeMap<String, String>,
    ) -> Result<()> {
        let removed: BTreeSet<&String> = before.keys().filter(|k| !wanted.contains_key(*k)).collect();
        if !removed.is_empty() {
            self.client
                .remove_tags_from_resource()
                .resource_type(ResourceTypeForTagging::Parameter)
                .resource_id(name)
                .set_tag_keys(Some(removed.into_iter().cloned().collect()))
                .send()
                .await
                .map_err(|e| Error::aws(format!("ssm:RemoveTagsFromResource {name}"), e))?;
        }
        let changed: Vec<Tag> = wanted
            .iter()
            .filter(|(k, v)| before.get(*k) != Some(*v))
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| Error::property("Tags", e.to_string()))?;
        if !changed.is_empty() {
            self.client
                .add_tags_to_resource()
                .resource_type(ResourceTypeForTagging::Parameter)
                .resource_id(name)
                .set_tags(Some(changed))
                .send()
                .await
                .map_err(|e| Error::aws(format!("ssm:AddTagsToResource {name}"), e))?;
        }
        Ok(())
    }
}

/// Checks a parameter name the way SSM does, so that a bad name fails before anything is
/// written: letters, digits and `_.-/`, a leading `/` when it is a path, no `aws`/`ssm` prefix.
pub fn validate_name(property: &str, name: &str) -> Result<()> {
    let bad = |problem: &str| Err(Error::property(property, format!("{name:?} {problem}")));
    if name.is_empty() || name.len() > 1011 {
        return bad("must have 1 to 1011 characters");
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || "_.-/".contains(*c))) {
        return bad(&format!("contains {c:?}; only letters, digits and _ . - / are allowed"));
    }
    if name.contains('/') && !name.starts_with('/') {
        return bad("must start with / when it contains /");
    }
    if name.ends_with('/') || name.contains("//") {
        return bad("must not end with / or contain //");
    }
    let first = name.trim_start_matches('/').to_ascii_lowercase();
    if first.starts_with("aws") || first.starts_with("ssm") {
        return bad("must not start with aws or ssm (reserved by AWS)");
    }
    Ok(())
}

/// The ARN of a parameter in `partition`, `region` and `account`.
pub fn parameter_arn(partition: &str, region: &str, account: &str, name: &str) -> String {
    let path = if name.starts_with('/') { name.to_string() } else { format!("/{name}") };
    format!("arn:{partition}:ssm:{region}:{account}:parameter{path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_ssm_rules() {
        assert!(validate_name("P", "/kafka/dev/admin").is_ok());
        assert!(validate_name("P", "plain_name.v1").is_ok());
        for bad in ["", "kafka/dev", "/kafka dev", "/kafka/", "/a//b", "/aws/x", "ssm-x", "/k:x"] {
            let msg = validate_name("P", bad).unwrap_err().to_string();
            assert!(msg.starts_with("property P: "), "{msg}");
        }
    }

    #[test]
    fn arns_have_exactly_one_slash_after_parameter() {
        assert_eq!(parameter_arn("aws", "eu-west-1", "1", "/a/b"), "arn:aws:ssm:eu-west-1:1:parameter/a/b");
        assert_eq!(parameter_arn("aws", "r", "1", "a"), "arn:aws:ssm:r:1:parameter/a");
    }
}
