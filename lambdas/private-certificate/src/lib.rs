//! `Custom::PrivateCertificate`: a certificate from ACM Private CA for a key that is made in
//! the Lambda and only ever stored as an SSM SecureString.
//!
//! Create and every Update that changes a property issue a new certificate: a fresh key and
//! CSR (rcgen), `IssueCertificate` with an idempotency token derived from the request, a wait
//! for issuance within the time left, `GetCertificate`, then the parameters
//! `<ParameterPrefix>/private-key` (SecureString, PKCS#8 PEM, `KmsKeyId`),
//! `<ParameterPrefix>/certificate` (leaf PEM) and `<ParameterPrefix>/chain` (issuer chain PEM).
//! The physical id is the certificate ARN, so a new certificate is a replacement and
//! CloudFormation deletes the old one afterwards: Delete revokes it and removes the parameters
//! that still hold it (their description names the certificate ARN), never those that a newer
//! certificate of the same resource has taken over.

pub mod guard;
pub mod key;
pub mod pca;
pub mod renew;
pub mod spec;

use cfn_custom_resource::ssm::{NewParameter, Parameters, PutOutcome};
use cfn_custom_resource::{CustomResource, Error, Properties, Request, Result, Success};
use rand_core::RngCore;

use crate::guard::Guard;
use crate::key::{CertificateInfo, PrivateKey, inspect};
use crate::pca::{Issued, Pca};
use crate::spec::Spec;

/// The resource, backed by ACM PCA and SSM.
pub struct PrivateCertificate {
    pca: Pca,
    parameters: Parameters,
    ssm: aws_sdk_ssm::Client,
    guard: Guard,
    renewal_cas: renew::RenewalCas,
}

/// The CA ARN a certificate ARN belongs to
/// (`arn:...:certificate-authority/CA/certificate/ID` -> `arn:...:certificate-authority/CA`).
pub fn ca_of_certificate(cert_arn: &str) -> Option<&str> {
    let (ca, id) = cert_arn.split_once("/certificate/")?;
    (ca.contains(":acm-pca:") && ca.contains(":certificate-authority/") && !id.is_empty()).then_some(ca)
}

fn description(request: &Request, cert_arn: &str) -> String {
    format!("{} certificate {cert_arn}", request.owner_marker())
}

impl PrivateCertificate {
    /// A resource using these clients, issuing reserved names only as `guard` allows.
    pub fn new(pca: aws_sdk_acmpca::Client, ssm: aws_sdk_ssm::Client, guard: Guard) -> Self {
        PrivateCertificate {
            pca: Pca::new(pca),
            parameters: Parameters::new(ssm.clone()),
            ssm,
            guard,
            renewal_cas: renew::RenewalCas::default(),
        }
    }

    /// The stage's CAs during a CA rollover: which CA a renewal issues from, and which CAs a
    /// renewed certificate may come from (docs/operators-guide.md, "CA rollover").
    pub fn with_renewal_cas(mut self, cas: renew::RenewalCas) -> Self {
        self.renewal_cas = cas;
        self
    }

    /// The KMS key of an existing SecureString parameter (`None`: the account's default key).
    async fn key_id(&self, name: &str) -> Result<Option<String>> {
        let filter = aws_sdk_ssm::types::ParameterStringFilter::builder()
            .key("Name")
            .option("Equals")
            .values(name)
            .build()
            .map_err(|e| Error::aws("ssm:DescribeParameters", e))?;
        let out = self
            .ssm
            .describe_parameters()
            .parameter_filters(filter)
            .send()
            .await
            .map_err(|e| Error::aws(format!("ssm:DescribeParameters {name}"), e))?;
        Ok(out.parameters.unwrap_or_default().into_iter().next().and_then(|p| p.key_id))
    }

    fn names(spec: &Spec) -> [String; 4] {
        [
            spec.key_parameter(),
            spec.certificate_parameter(),
            spec.chain_parameter(),
            format!("{}/superseded", spec.prefix),
        ]
    }

    fn success(spec: &Spec, cert_arn: &str, info: &CertificateInfo) -> Success {
        Success::new(cert_arn)
            .with("CertificateArn", cert_arn)
            .with("Serial", info.serial.clone())
            .with("NotAfter", info.not_after.clone())
            .with("KeyParameter", spec.key_parameter())
            .with("CertificateParameter", spec.certificate_parameter())
            .with("ChainParameter", spec.chain_parameter())
    }

    /// Refuses to overwrite parameters that another resource (or a person) made.
    async fn check_parameters_are_ours(&self, request: &Request, spec: &Spec) -> Result<()> {
        let names = Self::names(spec);
        let existing = self.parameters.describe(&names.each_ref().map(String::as_str)).await?;
        let marker = request.owner_marker();
        match existing.iter().find(|(_, info)| !info.description.starts_with(&marker)) {
            Some((name, _)) => Err(Error::Refused(format!(
                "SSM parameter {name} already exists and is not managed by this resource; \
                 choose another ParameterPrefix or delete the parameter"
            ))),
            None => Ok(()),
        }
    }

    /// Issues a certificate for a new key and stores key, certificate and chain.
    async fn issue(&self, request: &Request, spec: &Spec) -> Result<Success> {
        self.guard.check(request, &spec.common_name).await?;
        let signing = self.pca.signing_algorithm(&spec.ca_arn).await?;
        self.check_parameters_are_ours(request, spec).await?;
        let template = spec.usage.template_arn(request.partition());
        let mut token = request.idempotency_token();
        let mut attempts = 0;
        let (key, cert_arn, issued, info) = loop {
            attempts += 1;
            let algorithm = spec.key_algorithm;
            // Key generation is CPU work (RSA takes a while); keep the runtime thread free so
            // that the deadline guard can still fire.
            let key = tokio::task::spawn_blocking(move || PrivateKey::generate(algorithm))
                .await
                .map_err(|e| Error::Refused(format!("key generation failed: {e}")))??;
            let csr = key.csr_pem(spec)?;
            let cert_arn = self
                .pca
                .issue(&spec.ca_arn, &csr, signing.clone(), &template, spec.validity_days, &token)
                .await?;
            let issued = self.pca.fetch(&spec.ca_arn, &cert_arn).await?;
            let info = inspect(&issued.certificate)?;
            if info.public_key_bits == key.public_key_bits() {
                break (key, cert_arn, issued, info);
            }
            // A retry of this request got the certificate the first attempt asked for, whose
            // key died with that attempt. Revoke it and ask again with a fresh token.
            self.pca.revoke(&spec.ca_arn, &cert_arn, &info.serial).await?;
            if attempts >= 2 {
                return Err(Error::Refused(format!(
                    "ACM PCA returned certificate {cert_arn} for a different key twice; retry the stack operation"
                )));
            }
            token = format!("{:016x}{:016x}", rand_core::OsRng.next_u64(), rand_core::OsRng.next_u64());
        };
        if let Err(e) = self.store(request, spec, &key, &cert_arn, &issued).await {
            self.undo(request, spec, &cert_arn, &info).await;
            return Err(e);
        }
        tracing::info!(certificate = %cert_arn, serial = %info.serial, "certificate issued and stored");
        Ok(Self::success(spec, &cert_arn, &info))
    }

    async fn store(
        &self,
        request: &Request,
        spec: &Spec,
        key: &PrivateKey,
        cert_arn: &str,
        issued: &Issued,
    ) -> Result<()> {
        let description = description(request, cert_arn);
        let no_tags = Default::default();
        let pem = key.pkcs8_pem();
        let writes = [
            (spec.chain_parameter(), issued.chain.as_str(), None),
            (spec.certificate_parameter(), issued.certificate.as_str(), None),
            (spec.key_parameter(), pem.as_str(), Some(spec.kms_key_id.as_deref())),
        ];
        for (name, value, secure) in writes {
            let put = NewParameter {
                name: &name,
                value,
                secure,
                description: &description,
                overwrite: true,
                tags: &no_tags,
            };
            match self.parameters.put(&put).await? {
                PutOutcome::Written(_) => {}
                PutOutcome::AlreadyExists => unreachable!("overwriting puts never report AlreadyExists"),
            }
        }
        Ok(())
    }

    /// Best effort after a failed store: revoke the certificate nobody will use and remove the
    /// parameters that hold it. Earlier parameters that were overwritten are not restored.
    async fn undo(&self, request: &Request, spec: &Spec, cert_arn: &str, info: &CertificateInfo) {
        if let Err(e) = self.pca.revoke(&spec.ca_arn, cert_arn, &info.serial).await {
            tracing::error!(error = %e, certificate = cert_arn, "could not revoke after a failed store");
        }
        if let Err(e) = self.delete_parameters_of(request, spec, cert_arn).await {
            tracing::error!(error = %e, "could not remove parameters after a failed store");
        }
    }

    /// Revokes what renewals of the resource `physical_id` issued: the certificate its parameters
    /// hold now, and a superseded one that is not revoked yet.
    async fn revoke_renewals(&self, request: &Request, spec: &Spec, physical_id: &str) -> Result<()> {
        let name = spec.certificate_parameter();
        let described = self.parameters.describe(&[name.as_str()]).await?;
        let Some(stored) = described
            .get(&name)
            .filter(|i| i.description.starts_with(&request.owner_marker()))
            .and_then(|i| renew::Stored::parse(&i.description))
            .filter(|s| s.resource_id == physical_id && s.certificate_arn != physical_id)
        else {
            return Ok(());
        };
        let mut arns = vec![stored.certificate_arn.clone()];
        if let Ok(Some(s)) = self.superseded(&spec.prefix).await
            && s.revoked_at.is_none()
            && s.certificate_arn != physical_id
        {
            arns.push(s.certificate_arn);
        }
        for arn in arns {
            let Some(ca) = ca_of_certificate(&arn) else { continue };
            if let Some(pem) = self.pca.certificate_if_present(ca, &arn).await? {
                self.pca.revoke(ca, &arn, &inspect(&pem)?.serial).await?;
            }
        }
        Ok(())
    }

    /// Deletes the parameters under `spec`'s prefix that hold `cert_arn`.
    async fn delete_parameters_of(&self, request: &Request, spec: &Spec, cert_arn: &str) -> Result<()> {
        let names = Self::names(spec);
        let existing = self.parameters.describe(&names.each_ref().map(String::as_str)).await?;
        let wanted = description(request, cert_arn);
        // Renewals (renew.rs) keep the resource's first certificate ARN in the description.
        let renewed = |d: &str| {
            d.starts_with(&request.owner_marker())
                && renew::Stored::parse(d).is_some_and(|s| s.resource_id == cert_arn)
        };
        let ours: Vec<&str> = existing
            .iter()
            .filter(|(_, info)| info.description == wanted || renewed(&info.description))
            .map(|(name, _)| name.as_str())
            .collect();
        if ours.len() < existing.len() {
            tracing::info!(certificate = cert_arn, "some parameters hold a newer certificate; keeping them");
        }
        self.parameters.delete(&ours).await
    }
}

impl CustomResource for PrivateCertificate {
    async fn create(&self, request: &Request) -> Result<Success> {
        let spec = Spec::from_properties(&request.properties)?;
        self.issue(request, &spec).await
    }

    async fn update(&self, request: &Request, physical_id: &str, old: &Properties) -> Result<Success> {
        let spec = Spec::from_properties(&request.properties)?;
        if Spec::from_properties(old).ok().as_ref() != Some(&spec) {
            // Any change (names, algorithm, usage, validity, prefix, key, RenewalToken) needs a
            // new certificate; the new ARN tells CloudFormation to delete the old one.
            return self.issue(request, &spec).await;
        }
        let ca = ca_of_certificate(physical_id).unwrap_or(&spec.ca_arn);
        match self.pca.certificate_if_present(ca, physical_id).await? {
            Some(pem) => Ok(Self::success(&spec, physical_id, &inspect(&pem)?)),
            None => Err(Error::Refused(format!(
                "certificate {physical_id} is no longer available from the CA; set a new RenewalToken to issue a new one"
            ))),
        }
    }

    async fn delete(&self, request: &Request, physical_id: &str) -> Result<()> {
        let Some(ca) = ca_of_certificate(physical_id) else {
            tracing::warn!(physical_id, "not a certificate ARN; nothing to delete");
            return Ok(());
        };
        if let Some(pem) = self.pca.certificate_if_present(ca, physical_id).await? {
            let info = inspect(&pem)?;
            self.pca.revoke(ca, physical_id, &info.serial).await?;
        }
        match Spec::from_properties(&request.properties) {
            Ok(spec) => {
                self.revoke_renewals(request, &spec, physical_id).await?;
                self.delete_parameters_of(request, &spec, physical_id).await
            }
            Err(e) => {
                tracing::warn!(error = %e, "properties unreadable; the certificate is revoked but its parameters are kept");
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ca_follows_from_the_certificate_arn() {
        let ca = "arn:aws:acm-pca:eu-west-1:123456789012:certificate-authority/11111111-2222";
        assert_eq!(ca_of_certificate(&format!("{ca}/certificate/abcdef")), Some(ca));
        assert_eq!(ca_of_certificate("create-failed:req"), None);
        assert_eq!(ca_of_certificate(&format!("{ca}/certificate/")), None);
        assert_eq!(ca_of_certificate("arn:aws:s3:::b/certificate/x"), None);
    }
}
