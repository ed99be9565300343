//! Renewal outside CloudFormation: a direct invoke (no `ResponseURL`) that renews one certificate
//! the function already issued, or revokes the certificate a renewal superseded.
//!
//! - `{"RenewCertificate": {"ParameterPrefix": P}}`: P must lie under `RENEWABLE_PARAMETER_PREFIX`
//!   and hold a certificate this function stored for a CloudFormation resource (the description's
//!   ownership marker and certificate ARN), which the CA confirms it issued (GetCertificate returns
//!   the same certificate). The new certificate copies subject, SANs, usage, key algorithm and
//!   validity from the stored one; nothing in the request can change them, so no principal that
//!   did not exist before can be minted this way (the reserved-name guard needs no stack here).
//!   A new key is made here and goes to SSM only; `P/superseded` keeps the old certificate's
//!   ARN and serial until [`PrivateCertificate::revoke_superseded`] revokes it.
//! - `{"RevokeSuperseded": {"ParameterPrefix": P}}`: revokes the serial `P/superseded` names
//!   (reason SUPERSEDED), never the current certificate, and records when.
//!
//! The answers carry ARNs, serials and dates, never key material.

use cfn_custom_resource::ssm::{NewParameter, validate_name};
use cfn_custom_resource::{Error, Owner, Result};
use rand_core::RngCore;
use serde_json::{Value, json};
use x509_parser::extensions::GeneralName;
use x509_parser::oid_registry::{OID_KEY_TYPE_EC_PUBLIC_KEY, OID_PKCS1_RSAENCRYPTION};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::key::{PrivateKey, inspect};
use crate::spec::{KeyAlgorithm, Spec, Usage};
use crate::{PrivateCertificate, ca_of_certificate};

/// Environment variable: the SSM subtree (ending in `/`) whose certificates may be renewed.
pub const RENEWABLE_PREFIX_ENV: &str = "RENEWABLE_PARAMETER_PREFIX";
/// Event key of a renewal.
pub const RENEW_KEY: &str = "RenewCertificate";
/// Event key of a revocation of the superseded certificate.
pub const REVOKE_KEY: &str = "RevokeSuperseded";
/// Resource type whose certificates can be renewed.
const RESOURCE_TYPE: &str = "Custom::PrivateCertificate";

/// Environment variable: the stage's CAs (comma-separated ARNs) during a CA rollover.
pub const STAGE_CAS_ENV: &str = "STAGE_CERTIFICATE_AUTHORITY_ARNS";
/// Environment variable: the CA renewals issue from once a rollover reaches `issue`.
pub const ISSUING_CA_ENV: &str = "RENEWAL_CERTIFICATE_AUTHORITY_ARN";

/// The CAs a renewal may use. Without a rollover both are empty: a certificate renews from the
/// CA that issued it. During one, the stored certificate must come from one of `stage`, and the
/// new one comes from `issuing` (when set), which must be one of `stage` too. The request never
/// names a CA.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RenewalCas {
    pub stage: Vec<String>,
    pub issuing: Option<String>,
}

impl RenewalCas {
    /// From [`STAGE_CAS_ENV`] and [`ISSUING_CA_ENV`]; a malformed ARN is an error.
    pub fn from_env() -> Result<RenewalCas> {
        let stage = std::env::var(STAGE_CAS_ENV).unwrap_or_default();
        let issuing = std::env::var(ISSUING_CA_ENV).ok().filter(|s| !s.is_empty());
        RenewalCas::new(
            stage.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect(),
            issuing,
        )
    }

    /// Checks the ARNs: each names a CA (`...:certificate-authority/ID`), the issuing one is a
    /// stage CA.
    pub fn new(stage: Vec<String>, issuing: Option<String>) -> Result<RenewalCas> {
        let is_ca = |a: &str| {
            a.starts_with("arn:")
                && a.contains(":acm-pca:")
                && a.contains(":certificate-authority/")
                && !a.contains("/certificate/")
        };
        if let Some(bad) = stage.iter().chain(&issuing).find(|a| !is_ca(a)) {
            return Err(Error::Refused(format!("{bad:?} is not an ACM Private CA ARN")));
        }
        if let Some(i) = &issuing
            && !stage.contains(i)
        {
            return Err(Error::Refused(format!("{ISSUING_CA_ENV} {i} is not one of {STAGE_CAS_ENV}")));
        }
        Ok(RenewalCas { stage, issuing })
    }

    /// The CA a certificate issued by `stored_ca` renews from (pure).
    pub fn issuing_for(&self, stored_ca: &str) -> Result<String> {
        if !self.stage.is_empty() && !self.stage.iter().any(|c| c == stored_ca) {
            return Err(Error::Refused(format!(
                "the stored certificate comes from {stored_ca}, which is not a CA of this stage; not renewing it"
            )));
        }
        Ok(self.issuing.clone().unwrap_or_else(|| stored_ca.to_string()))
    }
}

/// A direct request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Direct {
    Renew { prefix: String },
    RevokeSuperseded { prefix: String },
}

impl Direct {
    /// Reads a direct request; errors name the field. `renewable` is the allowed subtree.
    pub fn from_event(event: &Value, renewable: Option<&str>) -> Result<Direct> {
        let (key, body) = match (event.get(RENEW_KEY), event.get(REVOKE_KEY)) {
            (Some(b), None) => (RENEW_KEY, b),
            (None, Some(b)) => (REVOKE_KEY, b),
            _ => {
                return Err(Error::MalformedEvent(format!(
                    "neither a custom-resource request nor exactly one of {RENEW_KEY}, {REVOKE_KEY}"
                )));
            }
        };
        let field = format!("{key}.ParameterPrefix");
        let prefix = body
            .get("ParameterPrefix")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::property(&field, "is required (a string)"))?
            .trim_end_matches('/')
            .to_string();
        validate_name(&field, &prefix)?;
        let Some(root) = renewable.filter(|r| r.starts_with('/') && r.ends_with('/')) else {
            return Err(Error::Refused(format!(
                "this function has no {RENEWABLE_PREFIX_ENV} (an SSM path ending in /), so it renews nothing"
            )));
        };
        if !prefix.starts_with(root) || prefix.split('/').any(|p| p == ".." || p == ".") {
            return Err(Error::property(&field, format!("{prefix:?} is not under {root}")));
        }
        Ok(if key == RENEW_KEY { Direct::Renew { prefix } } else { Direct::RevokeSuperseded { prefix } })
    }
}

/// `P/superseded`: the certificate a renewal replaced, until it is revoked (JSON, no secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Superseded {
    pub certificate_arn: String,
    pub serial: String,
    pub not_after: String,
    /// Unix seconds of the renewal.
    pub superseded_at: i64,
    /// Unix seconds of the revocation; `None` while pending.
    pub revoked_at: Option<i64>,
}

impl Superseded {
    pub fn to_json(&self) -> String {
        json!({
            "CertificateArn": self.certificate_arn, "Serial": self.serial, "NotAfter": self.not_after,
            "SupersededAt": self.superseded_at, "RevokedAt": self.revoked_at,
        })
        .to_string()
    }

    pub fn parse(text: &str) -> Option<Superseded> {
        let v: Value = serde_json::from_str(text).ok()?;
        Some(Superseded {
            certificate_arn: v["CertificateArn"].as_str()?.to_string(),
            serial: v["Serial"].as_str()?.to_string(),
            not_after: v["NotAfter"].as_str().unwrap_or_default().to_string(),
            superseded_at: v["SupersededAt"].as_i64()?,
            revoked_at: v["RevokedAt"].as_i64(),
        })
    }
}

/// The stored description of a certificate's parameters:
/// `<marker> certificate <ARN>[ renewing <ARN the resource was created with>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub owner: Owner,
    pub marker: String,
    pub certificate_arn: String,
    /// The resource's physical id (the first certificate); equal to `certificate_arn` before any
    /// renewal.
    pub resource_id: String,
}

impl Stored {
    pub fn parse(description: &str) -> Option<Stored> {
        let owner = Owner::parse(description)?;
        let marker = format!(
            "Managed by CloudFormation: {} {} in {}",
            owner.resource_type, owner.logical_resource_id, owner.stack_id
        );
        let rest = description.strip_prefix(&marker)?.strip_prefix(" certificate ")?;
        let (arn, resource_id) = match rest.split_once(" renewing ") {
            Some((arn, original)) => (arn, original),
            None => (rest, rest),
        };
        (ca_of_certificate(arn).is_some() && ca_of_certificate(resource_id).is_some()).then(|| Stored {
            owner,
            marker,
            certificate_arn: arn.to_string(),
            resource_id: resource_id.to_string(),
        })
    }

    /// The description of a renewal's parameters.
    pub fn renewed(&self, new_arn: &str) -> String {
        format!("{} certificate {new_arn} renewing {}", self.marker, self.resource_id)
    }
}

/// Rebuilds the spec of a stored certificate: its subject, SANs, usage, key algorithm and validity.
pub fn spec_of(pem: &str, ca_arn: &str, prefix: &str, kms_key_id: Option<String>) -> Result<Spec> {
    let bad = |e: String| Error::Refused(format!("the certificate under {prefix} cannot be read: {e}"));
    let (_, block) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).map_err(|e| bad(e.to_string()))?;
    let (_, cert) = X509Certificate::from_der(&block.contents).map_err(|e| bad(e.to_string()))?;
    let common_name = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .ok_or_else(|| bad("no subject common name".into()))?
        .to_string();
    let (mut dns_names, mut ip_addresses) = (Vec::new(), Vec::new());
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(d) => dns_names.push(d.to_string()),
                GeneralName::IPAddress(b) if b.len() == 4 => {
                    ip_addresses.push(std::net::IpAddr::from(<[u8; 4]>::try_from(*b).expect("4 bytes")));
                }
                GeneralName::IPAddress(b) if b.len() == 16 => {
                    ip_addresses.push(std::net::IpAddr::from(<[u8; 16]>::try_from(*b).expect("16 bytes")));
                }
                _ => {}
            }
        }
    }
    let has_san = !dns_names.is_empty() || !ip_addresses.is_empty();
    let usage = match cert.extended_key_usage() {
        Ok(Some(eku)) if eku.value.server_auth && eku.value.client_auth => Usage::ServerAndClient,
        Ok(Some(eku)) if eku.value.server_auth => Usage::Server,
        Ok(Some(eku)) if eku.value.client_auth => Usage::Client,
        // Without the extension (moto's client and server templates) the SANs tell.
        _ if has_san => Usage::Server,
        _ => Usage::Client,
    };
    let algorithm = &cert.public_key().algorithm.algorithm;
    let key_algorithm = if *algorithm == OID_KEY_TYPE_EC_PUBLIC_KEY {
        KeyAlgorithm::EcPrime256v1
    } else if *algorithm == OID_PKCS1_RSAENCRYPTION {
        KeyAlgorithm::Rsa2048
    } else {
        return Err(bad(format!("key algorithm {algorithm} is not one this function issues")));
    };
    let seconds = cert.validity().not_after.timestamp() - cert.validity().not_before.timestamp();
    let validity_days = u32::try_from((seconds + 86_399) / 86_400).unwrap_or(1).clamp(1, 3650);
    Ok(Spec {
        ca_arn: ca_arn.to_string(),
        common_name,
        dns_names,
        ip_addresses,
        key_algorithm,
        validity_days,
        usage,
        prefix: prefix.to_string(),
        kms_key_id,
        renewal_token: None,
    })
}

fn der_of(pem: &str) -> Option<Vec<u8>> {
    x509_parser::pem::parse_x509_pem(pem.as_bytes()).ok().map(|(_, b)| b.contents)
}

fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

impl PrivateCertificate {
    /// Serves a direct request; the value is the invocation's result.
    pub async fn direct(&self, event: Value) -> Result<Value> {
        let renewable = std::env::var(RENEWABLE_PREFIX_ENV).ok();
        match Direct::from_event(&event, renewable.as_deref())? {
            Direct::Renew { prefix } => self.renew(&prefix).await,
            Direct::RevokeSuperseded { prefix } => self.revoke_superseded(&prefix).await,
        }
    }

    /// What the prefix holds now: the stored description and the certificate PEM.
    async fn stored(&self, prefix: &str) -> Result<(Stored, String)> {
        let name = format!("{prefix}/certificate");
        let described = self.parameters.describe(&[name.as_str()]).await?;
        let info = described.get(&name).ok_or_else(|| {
            Error::Refused(format!("{name} does not exist; only an issued certificate renews"))
        })?;
        let stored =
            Stored::parse(&info.description).filter(|s| s.owner.resource_type == RESOURCE_TYPE).ok_or_else(
                || Error::Refused(format!("{name} was not stored by this function for a {RESOURCE_TYPE}")),
            )?;
        // Certificates and records are public: read without decryption (no KMS).
        let pem = self.parameters.get(&name, false).await?;
        Ok((stored, pem))
    }

    pub(crate) async fn superseded(&self, prefix: &str) -> Result<Option<Superseded>> {
        let name = format!("{prefix}/superseded");
        if self.parameters.describe(&[name.as_str()]).await?.is_empty() {
            return Ok(None);
        }
        let text = self.parameters.get(&name, false).await?;
        Superseded::parse(&text).map(Some).ok_or_else(|| Error::Refused(format!("{name} cannot be read")))
    }

    async fn put_string(&self, name: &str, value: &str, description: &str) -> Result<()> {
        let no_tags = Default::default();
        let put = NewParameter { name, value, secure: None, description, overwrite: true, tags: &no_tags };
        self.parameters.put(&put).await.map(|_| ())
    }

    /// Renews the certificate under `prefix` (see the module documentation).
    pub async fn renew(&self, prefix: &str) -> Result<Value> {
        let (stored, old_pem) = self.stored(prefix).await?;
        if let Some(s) = self.superseded(prefix).await?.filter(|s| s.revoked_at.is_none()) {
            return Err(Error::Refused(format!(
                "{prefix}: the previous renewal is not finished (superseded serial {} is not revoked yet); \
                 push it and revoke the superseded certificate first",
                s.serial
            )));
        }
        let stored_ca =
            ca_of_certificate(&stored.certificate_arn).expect("Stored::parse checked the ARN").to_string();
        let ca = self.renewal_cas.issuing_for(&stored_ca)?;
        let issued = self.pca.certificate_if_present(&stored_ca, &stored.certificate_arn).await?;
        if issued.as_deref().and_then(der_of).is_none()
            || issued.as_deref().and_then(der_of) != der_of(&old_pem)
        {
            return Err(Error::Refused(format!(
                "{prefix}/certificate is not the certificate {} the CA issued; not renewing it",
                stored.certificate_arn
            )));
        }
        let old = inspect(&old_pem)?;
        let key_name = format!("{prefix}/private-key");
        let kms_key_id = self.key_id(&key_name).await?;
        let spec = spec_of(&old_pem, &ca, prefix, kms_key_id)?;
        let signing = self.pca.signing_algorithm(&ca).await?;
        let template = spec.usage.template_arn(stored.owner.stack_id.split(':').nth(1).unwrap_or("aws"));
        let algorithm = spec.key_algorithm;
        let key = tokio::task::spawn_blocking(move || PrivateKey::generate(algorithm))
            .await
            .map_err(|e| Error::Refused(format!("key generation failed: {e}")))??;
        let csr = key.csr_pem(&spec)?;
        let token = format!("{:016x}{:016x}", rand_core::OsRng.next_u64(), rand_core::OsRng.next_u64());
        let cert_arn = self.pca.issue(&ca, &csr, signing, &template, spec.validity_days, &token).await?;
        let new = self.pca.fetch(&ca, &cert_arn).await?;
        let info = inspect(&new.certificate)?;
        if info.public_key_bits != key.public_key_bits() {
            self.pca.revoke(&ca, &cert_arn, &info.serial).await?;
            return Err(Error::Refused(format!("ACM PCA returned {cert_arn} for another key; retry")));
        }
        let superseded = Superseded {
            certificate_arn: stored.certificate_arn.clone(),
            serial: old.serial.clone(),
            not_after: old.not_after.clone(),
            superseded_at: unix_now(),
            revoked_at: None,
        };
        let description = stored.renewed(&cert_arn);
        let superseded_name = format!("{prefix}/superseded");
        // The record of the old serial first (so that it can always be revoked), the certificate
        // before its key: a failure in between puts the old certificate back, which matches the
        // key still stored.
        let written = async {
            self.put_string(&superseded_name, &superseded.to_json(), &description).await?;
            self.put_string(&format!("{prefix}/chain"), &new.chain, &description).await?;
            self.put_string(&format!("{prefix}/certificate"), &new.certificate, &description).await?;
            let pem = key.pkcs8_pem();
            let no_tags = Default::default();
            let put = NewParameter {
                name: &key_name,
                value: &pem,
                secure: Some(spec.kms_key_id.as_deref()),
                description: &description,
                overwrite: true,
                tags: &no_tags,
            };
            self.parameters.put(&put).await.map(|_| ())
        }
        .await;
        if let Err(e) = written {
            let old_description = format!("{} certificate {}", stored.marker, stored.certificate_arn);
            let old_description = if stored.resource_id == stored.certificate_arn {
                old_description
            } else {
                format!("{old_description} renewing {}", stored.resource_id)
            };
            if let Err(r) =
                self.put_string(&format!("{prefix}/certificate"), &old_pem, &old_description).await
            {
                tracing::error!(error = %r, prefix, "could not put the old certificate back");
            }
            if let Err(r) = self.parameters.delete(&[superseded_name.as_str()]).await {
                tracing::error!(error = %r, prefix, "could not remove the superseded record");
            }
            if let Err(r) = self.pca.revoke(&ca, &cert_arn, &info.serial).await {
                tracing::error!(error = %r, certificate = %cert_arn, "could not revoke the unused certificate");
            }
            return Err(e);
        }
        tracing::info!(prefix, certificate = %cert_arn, serial = %info.serial, superseded = %old.serial, "certificate renewed");
        Ok(json!({
            "ParameterPrefix": prefix,
            "CertificateArn": cert_arn,
            "Serial": info.serial,
            "NotAfter": info.not_after,
            "SupersededCertificateArn": stored.certificate_arn,
            "SupersededSerial": old.serial,
        }))
    }

    /// Revokes the certificate a renewal of `prefix` superseded, never the current one.
    pub async fn revoke_superseded(&self, prefix: &str) -> Result<Value> {
        let (stored, current_pem) = self.stored(prefix).await?;
        let Some(mut superseded) = self.superseded(prefix).await? else {
            return Err(Error::Refused(format!("{prefix} has no superseded certificate")));
        };
        let current = inspect(&current_pem)?;
        if superseded.serial == current.serial || superseded.certificate_arn == stored.certificate_arn {
            return Err(Error::Refused(format!(
                "{prefix}/superseded names the current certificate {}; not revoking it",
                current.serial
            )));
        }
        if superseded.revoked_at.is_none() {
            let ca = ca_of_certificate(&superseded.certificate_arn).ok_or_else(|| {
                Error::Refused(format!("{prefix}/superseded holds no certificate ARN of a CA"))
            })?;
            self.pca.revoke_superseded(ca, &superseded.certificate_arn, &superseded.serial).await?;
            superseded.revoked_at = Some(unix_now());
            let description = format!(
                "{} certificate {} renewing {}",
                stored.marker, stored.certificate_arn, stored.resource_id
            );
            self.put_string(&format!("{prefix}/superseded"), &superseded.to_json(), &description).await?;
        }
        Ok(json!({
            "ParameterPrefix": prefix,
            "RevokedSerial": superseded.serial,
            "RevokedAt": superseded.revoked_at,
            "CurrentSerial": current.serial,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = "/kafka/dev/tls/";

    #[test]
    fn requests_name_one_action_and_a_prefix_under_the_subtree() {
        let renew = json!({"RenewCertificate": {"ParameterPrefix": "/kafka/dev/tls/nodes/b0/"}});
        assert_eq!(
            Direct::from_event(&renew, Some(ROOT)).unwrap(),
            Direct::Renew { prefix: "/kafka/dev/tls/nodes/b0".into() }
        );
        let revoke = json!({"RevokeSuperseded": {"ParameterPrefix": "/kafka/dev/tls/admin"}});
        assert!(matches!(Direct::from_event(&revoke, Some(ROOT)), Ok(Direct::RevokeSuperseded { .. })));
        let cases = [
            (json!({"RenewCertificate": {"ParameterPrefix": "/kafka/prod/tls/admin"}}), "is not under"),
            (
                json!({"RenewCertificate": {"ParameterPrefix": "/kafka/dev/tls/../secrets"}}),
                "ParameterPrefix",
            ),
            (json!({"RenewCertificate": {}}), "RenewCertificate.ParameterPrefix: is required"),
            (json!({"RenewCertificate": {}, "RevokeSuperseded": {}}), "exactly one of"),
            (json!({"DriftCheck": {}}), "exactly one of"),
        ];
        for (event, expected) in cases {
            let e = Direct::from_event(&event, Some(ROOT)).unwrap_err().to_string();
            assert!(e.contains(expected), "{event}: {e}");
        }
        let e = Direct::from_event(&renew, None).unwrap_err().to_string();
        assert!(e.contains("no RENEWABLE_PARAMETER_PREFIX"), "{e}");
    }

    #[test]
    fn a_rollover_renews_from_the_issuing_ca_and_only_certificates_of_the_stage() {
        let old = "arn:aws:acm-pca:eu-west-1:111122223333:certificate-authority/old".to_string();
        let new = "arn:aws:acm-pca:eu-west-1:111122223333:certificate-authority/new".to_string();
        let other = "arn:aws:acm-pca:eu-west-1:111122223333:certificate-authority/other";
        // No rollover: the CA that issued it.
        assert_eq!(RenewalCas::default().issuing_for(other).unwrap(), other);
        // Trust phase: both CAs, renewals stay with the old one.
        let trust = RenewalCas::new(vec![old.clone(), new.clone()], None).unwrap();
        assert_eq!(trust.issuing_for(&old).unwrap(), old);
        let issue = RenewalCas::new(vec![old.clone(), new.clone()], Some(new.clone())).unwrap();
        assert_eq!(issue.issuing_for(&old).unwrap(), new);
        assert_eq!(issue.issuing_for(&new).unwrap(), new);
        let e = issue.issuing_for(other).unwrap_err().to_string();
        assert!(e.contains("not a CA of this stage"), "{e}");
        let e = RenewalCas::new(vec![old.clone()], Some(new.clone())).unwrap_err().to_string();
        assert!(e.contains("is not one of STAGE_CERTIFICATE_AUTHORITY_ARNS"), "{e}");
        let e = RenewalCas::new(vec![format!("{old}/certificate/x")], None).unwrap_err().to_string();
        assert!(e.contains("not an ACM Private CA ARN"), "{e}");
    }

    #[test]
    fn descriptions_carry_the_owner_and_the_resource_across_renewals() {
        let ca = "arn:aws:acm-pca:eu-west-1:1:certificate-authority/ca";
        let marker = "Managed by CloudFormation: Custom::PrivateCertificate AdminCertificate in \
                      arn:aws:cloudformation:eu-west-1:1:stack/kafka-dev-secrets/g";
        let first = Stored::parse(&format!("{marker} certificate {ca}/certificate/one")).unwrap();
        assert_eq!(first.resource_id, format!("{ca}/certificate/one"));
        let renewed = first.renewed(&format!("{ca}/certificate/two"));
        let second = Stored::parse(&renewed).unwrap();
        assert_eq!(second.certificate_arn, format!("{ca}/certificate/two"));
        assert_eq!(second.resource_id, format!("{ca}/certificate/one"));
        let third = Stored::parse(&second.renewed(&format!("{ca}/certificate/three"))).unwrap();
        assert_eq!(third.resource_id, format!("{ca}/certificate/one"), "the resource id stays the first");
        assert!(Stored::parse("set by hand").is_none());
        assert!(Stored::parse(&format!("{marker} certificate arn:aws:s3:::x")).is_none());
    }

    #[test]
    fn the_superseded_record_round_trips() {
        let s = Superseded {
            certificate_arn: "a".into(),
            serial: "01:02".into(),
            not_after: "2027-01-01T00:00:00Z".into(),
            superseded_at: 5,
            revoked_at: None,
        };
        assert_eq!(Superseded::parse(&s.to_json()), Some(s.clone()));
        let revoked = Superseded { revoked_at: Some(9), ..s };
        assert_eq!(Superseded::parse(&revoked.to_json()), Some(revoked));
        assert_eq!(Superseded::parse("{}"), None);
    }

    #[test]
    fn a_stored_certificate_gives_back_its_spec() {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["b0.kafka.internal".to_string()]).unwrap();
        params.subject_alt_names.push(rcgen::SanType::IpAddress("127.0.0.1".parse().unwrap()));
        params.distinguished_name.push(rcgen::DnType::CommonName, "b0.kafka.internal");
        params.extended_key_usages =
            vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth, rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        params.not_before = rcgen::date_time_ymd(2026, 1, 1);
        params.not_after = rcgen::date_time_ymd(2027, 1, 1);
        let pem = params.self_signed(&key).unwrap().pem();
        let spec = spec_of(&pem, "arn:ca", "/p", Some("alias/k".into())).unwrap();
        assert_eq!(spec.common_name, "b0.kafka.internal");
        assert_eq!(spec.dns_names, ["b0.kafka.internal"]);
        assert_eq!(spec.ip_addresses, ["127.0.0.1".parse::<std::net::IpAddr>().unwrap()]);
        assert_eq!((spec.usage, spec.key_algorithm), (Usage::ServerAndClient, KeyAlgorithm::EcPrime256v1));
        assert_eq!(spec.validity_days, 365);
        assert_eq!(spec.kms_key_id.as_deref(), Some("alias/k"));
        assert!(spec_of("garbage", "arn:ca", "/p", None).is_err());
    }
}
