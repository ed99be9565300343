//! `Custom::SecurePassword`: a random password stored as an SSM SecureString.
//!
//! CloudFormation cannot create SecureString parameters, and a password must never appear in a
//! template. This resource generates the password inside the Lambda with the operating
//! system's CSPRNG and writes it straight to SSM; only the parameter's name, ARN and version
//! come back to CloudFormation.
//!
//! Properties: `ParameterName` (required), `Length` (16..=128, default 32),
//! `ExcludeCharacters` (default `"'\` and backtick), `KmsKeyId`, `RotationToken`, `Tags`,
//! `RetainOnDelete`, `Usernames`. The physical id is the parameter name.
//!
//! Without `Usernames` the value is the bare password (the admin's). With `Usernames` (a SCRAM
//! account's two Kafka users) it is a [`StoredCredential`]: a rotation adds the new password as
//! the pending next generation for the other user and leaves the current one alone, since clients
//! read it; the reconciler writes the pending one into Kafka and then promotes it.

use std::collections::BTreeMap;

use cfn_custom_resource::request::stack_arn_prefix;
use cfn_custom_resource::ssm::{self, NewParameter, Parameters, PutOutcome};
use cfn_custom_resource::stacks::Stacks;
use cfn_custom_resource::{CustomResource, Error, Owner, Properties, Request, Result, Success};
use kafka_platform_core::credential::StoredCredential;

/// Default password length.
pub const DEFAULT_LENGTH: u32 = 32;
/// Characters left out unless `ExcludeCharacters` says otherwise: they need quoting in JAAS
/// configs, shells and JSON, where these passwords end up.
pub const DEFAULT_EXCLUDE: &str = "\"'\\`";
/// Fewer distinct characters than this would make a weak password.
const MIN_ALPHABET: usize = 16;

const PROPERTIES: &[&str] = &[
    "ParameterName",
    "Length",
    "ExcludeCharacters",
    "KmsKeyId",
    "RotationToken",
    "Tags",
    "RetainOnDelete",
    "Usernames",
];

/// The validated properties.
#[derive(Clone, Debug, PartialEq)]
pub struct Spec {
    /// Where the password lives.
    pub parameter_name: String,
    /// Number of characters.
    pub length: u32,
    /// The characters a password is drawn from.
    pub alphabet: Vec<u8>,
    /// KMS key for the SecureString; the account's `aws/ssm` key when absent.
    pub kms_key_id: Option<String>,
    /// Changing it generates a new value.
    pub rotation_token: Option<String>,
    /// Tags of the parameter.
    pub tags: BTreeMap<String, String>,
    /// Keep the parameter when the resource is deleted.
    pub retain_on_delete: bool,
    /// A SCRAM account's two Kafka users: the value is a rotating credential (see the module).
    pub usernames: Option<[String; 2]>,
}

impl Spec {
    /// Reads and checks the properties; errors name the property.
    pub fn from_properties(p: &Properties) -> Result<Spec> {
        p.deny_unknown(PROPERTIES)?;
        let parameter_name = p.required_str("ParameterName")?;
        ssm::validate_name("ParameterName", &parameter_name)?;
        let exclude = p.optional_str("ExcludeCharacters")?.unwrap_or_else(|| DEFAULT_EXCLUDE.into());
        let alphabet: Vec<u8> = (b'!'..=b'~').filter(|c| !exclude.as_bytes().contains(c)).collect();
        if alphabet.len() < MIN_ALPHABET {
            return Err(Error::property(
                "ExcludeCharacters",
                format!("leaves {} printable characters; at least {MIN_ALPHABET} are needed", alphabet.len()),
            ));
        }
        Ok(Spec {
            parameter_name,
            length: p.optional_u32("Length", 16..=128)?.unwrap_or(DEFAULT_LENGTH),
            alphabet,
            kms_key_id: p.optional_str("KmsKeyId")?,
            rotation_token: p.optional_str("RotationToken")?,
            tags: p.tags("Tags")?,
            retain_on_delete: p.optional_bool("RetainOnDelete")?.unwrap_or(false),
            usernames: usernames(p)?,
        })
    }

    /// The value a new parameter starts with.
    fn first_value(&self, password: String) -> String {
        match &self.usernames {
            Some(users) => StoredCredential::first(&users[0], password).to_json(),
            None => password,
        }
    }

    /// The value after an update, from the `current` one: rotated when `rotate`, else the same
    /// secret in this spec's format. Errors name the parameter, never a value.
    fn next_value(&self, current: Option<&str>, rotate: bool) -> Result<String> {
        let name = &self.parameter_name;
        let password = || generate_password(self.length, &self.alphabet);
        let Some(users) = &self.usernames else {
            return match (rotate, current) {
                (true, _) => password(),
                (false, Some(v)) => Ok(StoredCredential::parse(v, name).map_err(Error::Refused)?.password),
                (false, None) => unreachable!("the current value is read unless rotating"),
            };
        };
        let current = current.expect("a credential's current value is always read");
        let stored = StoredCredential::parse(current, &users[0])
            .map_err(|e| Error::Refused(format!("SSM parameter {name}: {e}")))?;
        Ok(if rotate { stored.rotate(users, password()?) } else { stored }.to_json())
    }
}

/// `Usernames`: absent, or exactly two different Kafka user names.
fn usernames(p: &Properties) -> Result<Option<[String; 2]>> {
    let list = p.string_list("Usernames")?;
    match <[String; 2]>::try_from(list) {
        Ok(pair) if pair[0] != pair[1] => Ok(Some(pair)),
        Ok(_) => Err(Error::property("Usernames", "the two user names must differ")),
        Err(list) if list.is_empty() => Ok(None),
        Err(list) => Err(Error::property(
            "Usernames",
            format!("expected the account's two Kafka users, got {} names", list.len()),
        )),
    }
}

/// Draws `length` characters uniformly from `alphabet` with the OS CSPRNG.
pub fn generate_password(length: u32, alphabet: &[u8]) -> Result<String> {
    assert!(!alphabet.is_empty() && alphabet.len() <= 256);
    // Rejection sampling: bytes at or above the largest multiple of the alphabet size are
    // dropped, so that every character is equally likely.
    let limit = 256 - (256 % alphabet.len());
    let mut out = String::with_capacity(length as usize);
    let mut buf = [0u8; 64];
    while out.len() < length as usize {
        getrandom::fill(&mut buf)
            .map_err(|e| Error::Refused(format!("the operating system's random source failed: {e}")))?;
        for &b in &buf {
            if (b as usize) < limit && out.len() < length as usize {
                out.push(alphabet[b as usize % alphabet.len()] as char);
            }
        }
    }
    Ok(out)
}

/// The resource, backed by SSM (and CloudFormation, to tell a deleted owner stack from a live one).
pub struct SecurePassword {
    parameters: Parameters,
    stacks: Stacks,
}

impl SecurePassword {
    /// A resource writing through `ssm`, asking `cloudformation` about earlier owners.
    pub fn new(ssm: aws_sdk_ssm::Client, cloudformation: aws_sdk_cloudformation::Client) -> Self {
        SecurePassword { parameters: Parameters::new(ssm), stacks: Stacks::new(cloudformation) }
    }

    fn success(&self, request: &Request, name: &str, version: i64) -> Success {
        Success::new(name)
            .with("ParameterName", name)
            .with(
                "ParameterArn",
                ssm::parameter_arn(request.partition(), request.region(), request.account_id(), name),
            )
            .with("Version", version.to_string())
    }

    /// Writes a new value to `spec.parameter_name`.
    async fn write(
        &self,
        request: &Request,
        spec: &Spec,
        value: &str,
        overwrite: bool,
    ) -> Result<PutOutcome> {
        self.parameters
            .put(&NewParameter {
                name: &spec.parameter_name,
                value,
                secure: Some(spec.kms_key_id.as_deref()),
                description: &request.owner_marker(),
                overwrite,
                tags: &spec.tags,
            })
            .await
    }

    /// Creates the parameter, or adopts it when a retry of this resource's own request already
    /// made it, or when the same resource of a deleted stack of the same name left it behind.
    async fn create_parameter(&self, request: &Request, spec: &Spec) -> Result<Success> {
        let value = spec.first_value(generate_password(spec.length, &spec.alphabet)?);
        match self.write(request, spec, &value, false).await? {
            PutOutcome::Written(version) => Ok(self.success(request, &spec.parameter_name, version)),
            PutOutcome::AlreadyExists => {
                let name = spec.parameter_name.as_str();
                let existing = self.parameters.describe(&[name]).await?;
                let Some(info) = existing.get(name) else {
                    return Err(Error::Refused(format!(
                        "SSM parameter {name} existed a moment ago and is gone now; retry the stack operation"
                    )));
                };
                if info.description == request.owner_marker() {
                    tracing::info!(parameter = name, "parameter already made by this resource; adopting it");
                    return Ok(self.success(request, name, info.version));
                }
                match Owner::parse(&info.description) {
                    Some(owner) if self.left_by_deleted_predecessor(request, &owner).await? => {
                        self.take_over(request, spec, &owner).await
                    }
                    Some(owner) => Err(Error::Refused(format!(
                        "SSM parameter {name} already exists and is not managed by this resource: it \
                         belongs to {} {} of stack {}, which is not a deleted earlier stack of this \
                         name; choose another ParameterName or delete the parameter",
                        owner.resource_type, owner.logical_resource_id, owner.stack_id
                    ))),
                    None => Err(Error::Refused(format!(
                        "SSM parameter {name} already exists and is not managed by this resource; \
                         choose another ParameterName or delete the parameter"
                    ))),
                }
            }
        }
    }

    /// Whether `owner` is this very resource in an earlier stack of the same name, account and
    /// region that CloudFormation has deleted: a retained parameter of a rolled-back or deleted
    /// stack. Stack names are unique among live stacks, so a new stack of the same name implies
    /// the old one is gone; CloudFormation is asked anyway, so a live owner is never dispossessed.
    async fn left_by_deleted_predecessor(&self, request: &Request, owner: &Owner) -> Result<bool> {
        let same_resource = owner.resource_type == request.resource_type
            && owner.logical_resource_id == request.logical_resource_id
            && owner.stack_id != request.stack_id
            && request.stack_name().is_some()
            && stack_arn_prefix(&owner.stack_id) == stack_arn_prefix(&request.stack_id)
            && cfn_custom_resource::request::stack_name(&owner.stack_id) == request.stack_name();
        if !same_resource {
            return Ok(false);
        }
        let status = self.stacks.stack_status(&owner.stack_id).await?;
        Ok(matches!(status.as_deref(), None | Some("DELETE_COMPLETE")))
    }

    /// Adopts a parameter its deleted predecessor retained: the value stays (a restored cluster
    /// may still hold it as a SCRAM credential), the marker and tags become this resource's.
    async fn take_over(&self, request: &Request, spec: &Spec, owner: &Owner) -> Result<Success> {
        let name = spec.parameter_name.as_str();
        let current = self.parameters.get_decrypted(name).await?;
        let PutOutcome::Written(version) = self.write(request, spec, &current, true).await? else {
            unreachable!("overwriting puts never report AlreadyExists")
        };
        // SSM refuses tags together with Overwrite; the earlier stack's tags are kept and
        // this resource's are added on top.
        self.parameters.sync_tags(name, &BTreeMap::new(), &spec.tags).await?;
        tracing::info!(
            parameter = name,
            previous_stack = %owner.stack_id,
            "parameter retained by a deleted stack of the same name; adopted with its value"
        );
        Ok(self.success(request, name, version))
    }
}

impl CustomResource for SecurePassword {
    async fn create(&self, request: &Request) -> Result<Success> {
        let spec = Spec::from_properties(&request.properties)?;
        self.create_parameter(request, &spec).await
    }

    async fn update(&self, request: &Request, physical_id: &str, old: &Properties) -> Result<Success> {
        let spec = Spec::from_properties(&request.properties)?;
        if spec.parameter_name != physical_id {
            // A new name is a new resource; CloudFormation deletes the old parameter afterwards.
            return self.create_parameter(request, &spec).await;
        }
        // The old properties were valid once; if they no longer parse, treat everything as changed.
        let old_spec = Spec::from_properties(old).ok();
        let rotate = old_spec.as_ref().is_none_or(|o| o.rotation_token != spec.rotation_token);
        let rekey = old_spec.as_ref().is_none_or(|o| o.kms_key_id != spec.kms_key_id);
        let reformat = old_spec.as_ref().is_none_or(|o| o.usernames != spec.usernames);
        let name = spec.parameter_name.as_str();

        let version = if rotate || rekey || reformat {
            // A bare password is rotated without reading it; everything else starts from the
            // current value (a credential keeps its current generation; a new key re-encrypts).
            let current = if rotate && spec.usernames.is_none() {
                None
            } else {
                Some(self.parameters.get_decrypted(name).await?)
            };
            let value = spec.next_value(current.as_deref(), rotate)?;
            self.write(request, &spec, &value, true).await?
        } else {
            // Length or ExcludeCharacters changes take effect with the next rotation.
            let info = self.parameters.describe(&[name]).await?;
            match info.get(name) {
                Some(i) => PutOutcome::Written(i.version),
                None => {
                    return Err(Error::Refused(format!(
                        "SSM parameter {name} is gone; set a new RotationToken to recreate it"
                    )));
                }
            }
        };
        let PutOutcome::Written(version) = version else {
            unreachable!("overwriting puts never report AlreadyExists")
        };
        let old_tags = old_spec.map(|o| o.tags).unwrap_or_default();
        self.parameters.sync_tags(name, &old_tags, &spec.tags).await?;
        Ok(self.success(request, name, version))
    }

    async fn delete(&self, request: &Request, physical_id: &str) -> Result<()> {
        let retain = request.properties.optional_bool("RetainOnDelete")?.unwrap_or(false);
        if retain {
            tracing::info!(parameter = physical_id, "RetainOnDelete is set; keeping the parameter");
            return Ok(());
        }
        let existing = self.parameters.describe(&[physical_id]).await?;
        match existing.get(physical_id) {
            None => Ok(()),
            Some(info) if info.description == request.owner_marker() => {
                self.parameters.delete(&[physical_id]).await
            }
            Some(_) => {
                // Not ours (someone replaced it by hand): leave it, but let the delete succeed.
                tracing::warn!(
                    parameter = physical_id,
                    "parameter is not managed by this resource; not deleting it"
                );
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(v: serde_json::Value) -> Result<Spec> {
        Spec::from_properties(&Properties::from_value(v).unwrap())
    }

    #[test]
    fn defaults_apply_and_strings_are_accepted() {
        let s = spec(json!({"ServiceToken": "x", "ParameterName": "/k/p"})).unwrap();
        assert_eq!(s.length, 32);
        assert!(!s.retain_on_delete);
        assert!(!s.alphabet.contains(&b'"') && !s.alphabet.contains(&b'\\'));
        let s = spec(json!({"ParameterName": "/k/p", "Length": "64", "RetainOnDelete": "true"})).unwrap();
        assert_eq!((s.length, s.retain_on_delete), (64, true));
    }

    #[test]
    fn bad_properties_are_named() {
        let cases = [
            (json!({}), "property ParameterName: is required"),
            (json!({"ParameterName": "/k/p", "Length": "8"}), "property Length:"),
            (json!({"ParameterName": "/k/p", "Length": "129"}), "property Length:"),
            (json!({"ParameterName": "bad name"}), "property ParameterName:"),
            (json!({"ParameterName": "/k/p", "RetainOnDelete": "maybe"}), "property RetainOnDelete:"),
            (json!({"ParameterName": "/k/p", "Colour": "red"}), "property Colour: unknown"),
        ];
        for (props, expected) in cases {
            let msg = spec(props).unwrap_err().to_string();
            assert!(msg.starts_with(expected), "{msg} does not start with {expected}");
        }
    }

    #[test]
    fn excluding_too_much_is_refused() {
        let all: String = (b'!'..=b'~').skip(10).map(char::from).collect();
        let msg = spec(json!({"ParameterName": "/k/p", "ExcludeCharacters": all})).unwrap_err().to_string();
        assert!(msg.starts_with("property ExcludeCharacters: leaves 10"), "{msg}");
    }

    #[test]
    fn passwords_have_the_length_and_only_allowed_characters() {
        let s = spec(json!({"ParameterName": "/k/p", "Length": 128, "ExcludeCharacters": "abc"})).unwrap();
        for _ in 0..20 {
            let p = generate_password(s.length, &s.alphabet).unwrap();
            assert_eq!(p.len(), 128);
            assert!(p.bytes().all(|c| s.alphabet.contains(&c)));
            assert!(!p.contains(['a', 'b', 'c']));
        }
    }

    #[test]
    fn a_credential_rotates_into_the_other_user_and_keeps_the_current_one() {
        let s = spec(json!({"ParameterName": "/k/a", "Usernames": ["a", "a.alt"]})).unwrap();
        let first = s.first_value("one".into());
        let c = StoredCredential::parse(&first, "a").unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str(), c.generation), ("a", "one", 1));
        let rotated = StoredCredential::parse(&s.next_value(Some(&first), true).unwrap(), "a").unwrap();
        assert_eq!((rotated.username.as_str(), rotated.password.as_str()), ("a", "one"), "clients keep it");
        let pending = rotated.pending.clone().unwrap();
        assert_eq!((pending.username.as_str(), pending.generation, pending.password.len()), ("a.alt", 2, 32));
        // Adding Usernames to a bare password keeps it, as generation 1 of the first user.
        let adopted = StoredCredential::parse(&s.next_value(Some("legacy"), false).unwrap(), "a").unwrap();
        assert_eq!(
            (adopted.username.as_str(), adopted.password.as_str(), adopted.generation),
            ("a", "legacy", 1)
        );
        // Removing them leaves the current password bare.
        let bare = spec(json!({"ParameterName": "/k/a"})).unwrap();
        assert_eq!(bare.next_value(Some(&rotated.to_json()), false).unwrap(), "one");
        // A broken credential is refused without showing it.
        let e = s.next_value(Some(r#"{"username": "a", "password": "hunter2""#), true).unwrap_err();
        assert!(e.to_string().contains("/k/a") && !e.to_string().contains("hunter2"), "{e}");
    }

    #[test]
    fn usernames_are_two_different_names() {
        for (names, expected) in [
            (json!(["a"]), "got 1 names"),
            (json!(["a", "b", "c"]), "got 3 names"),
            (json!(["a", "a"]), "must differ"),
        ] {
            let e = spec(json!({"ParameterName": "/k/a", "Usernames": names})).unwrap_err().to_string();
            assert!(e.starts_with("property Usernames:") && e.contains(expected), "{e}");
        }
    }

    #[test]
    fn passwords_use_the_whole_alphabet_and_differ() {
        let alphabet: Vec<u8> = (b'!'..=b'~').collect();
        let a = generate_password(4000, &alphabet).unwrap();
        let used: std::collections::BTreeSet<u8> = a.bytes().collect();
        // 4000 uniform draws from 94 characters miss one with probability < 1e-15.
        assert_eq!(used.len(), alphabet.len());
        assert_ne!(generate_password(32, &alphabet).unwrap(), generate_password(32, &alphabet).unwrap());
    }
}
