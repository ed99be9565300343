//! The ACM Private CA calls: check the CA, issue, wait, fetch, revoke.

use std::time::Duration;

use aws_sdk_acmpca::Client;
use aws_sdk_acmpca::primitives::Blob;
use aws_sdk_acmpca::types::{
    CertificateAuthorityStatus, RevocationReason, SigningAlgorithm, Validity, ValidityPeriodType,
};
use cfn_custom_resource::{Error, Result};

/// An issued certificate with the chain of its issuer.
#[derive(Clone, Debug)]
pub struct Issued {
    /// Leaf certificate PEM.
    pub certificate: String,
    /// Issuing CA certificate followed by its own chain, PEM.
    pub chain: String,
}

/// ACM Private CA access.
#[derive(Clone, Debug)]
pub struct Pca {
    client: Client,
}

impl Pca {
    /// Wraps an ACM PCA client.
    pub fn new(client: Client) -> Self {
        Pca { client }
    }

    /// Checks that the CA exists and is ACTIVE, and returns the signing algorithm it is
    /// configured with (which follows the CA's key, not the certificate's).
    pub async fn signing_algorithm(&self, ca_arn: &str) -> Result<SigningAlgorithm> {
        let out = self
            .client
            .describe_certificate_authority()
            .certificate_authority_arn(ca_arn)
            .send()
            .await
            .map_err(|e| Error::aws(format!("acm-pca:DescribeCertificateAuthority {ca_arn}"), e))?;
        let ca = out.certificate_authority.ok_or_else(|| {
            Error::Refused(format!("acm-pca:DescribeCertificateAuthority {ca_arn} returned nothing"))
        })?;
        match ca.status() {
            Some(CertificateAuthorityStatus::Active) => {}
            other => {
                return Err(Error::Refused(format!(
                    "certificate authority {ca_arn} is {}, not ACTIVE; install its certificate \
                     (or enable it) before issuing",
                    other.map(|s| s.as_str()).unwrap_or("in an unknown state")
                )));
            }
        }
        ca.certificate_authority_configuration
            .map(|c| c.signing_algorithm)
            .ok_or_else(|| Error::Refused(format!("certificate authority {ca_arn} has no configuration")))
    }

    /// Asks the CA to issue a certificate for `csr_pem`. The same `token` within five minutes
    /// returns the same certificate ARN on AWS (moto ignores the token).
    pub async fn issue(
        &self,
        ca_arn: &str,
        csr_pem: &str,
        signing_algorithm: SigningAlgorithm,
        template_arn: &str,
        validity_days: u32,
        token: &str,
    ) -> Result<String> {
        let validity = Validity::builder()
            .r#type(ValidityPeriodType::Days)
            .value(i64::from(validity_days))
            .build()
            .map_err(|e| Error::property("ValidityDays", e.to_string()))?;
        let out = self
            .client
            .issue_certificate()
            .certificate_authority_arn(ca_arn)
            .csr(Blob::new(csr_pem.as_bytes()))
            .signing_algorithm(signing_algorithm)
            .template_arn(template_arn)
            .validity(validity)
            .idempotency_token(token)
            .send()
            .await
            .map_err(|e| Error::aws(format!("acm-pca:IssueCertificate on {ca_arn}"), e))?;
        out.certificate_arn
            .ok_or_else(|| Error::Refused("acm-pca:IssueCertificate returned no certificate ARN".into()))
    }

    /// Waits until the certificate is issued and returns it with its chain. The caller's
    /// deadline bounds the wait; issuance normally takes seconds.
    pub async fn fetch(&self, ca_arn: &str, cert_arn: &str) -> Result<Issued> {
        let mut pause = Duration::from_millis(250);
        let (certificate, chain) = loop {
            match self
                .client
                .get_certificate()
                .certificate_authority_arn(ca_arn)
                .certificate_arn(cert_arn)
                .send()
                .await
            {
                Ok(out) => {
                    break (out.certificate.unwrap_or_default(), out.certificate_chain.unwrap_or_default());
                }
                Err(e) if e.as_service_error().is_some_and(|s| s.is_request_in_progress_exception()) => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(3));
                }
                Err(e) => return Err(Error::aws(format!("acm-pca:GetCertificate {cert_arn}"), e)),
            }
        };
        if certificate.is_empty() {
            return Err(Error::Refused(format!("acm-pca:GetCertificate {cert_arn} returned no certificate")));
        }
        // AWS returns the issuer's chain with the certificate. moto leaves it empty for a
        // certificate issued by a root CA it signed itself; the CA's own certificate is the
        // chain then.
        let chain = if chain.trim().is_empty() { self.ca_chain(ca_arn).await? } else { chain };
        Ok(Issued { certificate: with_newline(certificate), chain: with_newline(chain) })
    }

    /// The CA's certificate followed by its chain (empty for a root).
    async fn ca_chain(&self, ca_arn: &str) -> Result<String> {
        let out = self
            .client
            .get_certificate_authority_certificate()
            .certificate_authority_arn(ca_arn)
            .send()
            .await
            .map_err(|e| Error::aws(format!("acm-pca:GetCertificateAuthorityCertificate {ca_arn}"), e))?;
        let mut chain = with_newline(out.certificate.unwrap_or_default());
        if let Some(rest) = out.certificate_chain.filter(|c| !c.trim().is_empty()) {
            chain.push_str(&with_newline(rest));
        }
        Ok(chain)
    }

    /// Reads the PEM of an issued certificate without waiting; `None` when the CA or the
    /// certificate is gone (or, on moto, already revoked).
    pub async fn certificate_if_present(&self, ca_arn: &str, cert_arn: &str) -> Result<Option<String>> {
        match self
            .client
            .get_certificate()
            .certificate_authority_arn(ca_arn)
            .certificate_arn(cert_arn)
            .send()
            .await
        {
            Ok(out) => Ok(out.certificate),
            Err(e)
                if e.as_service_error().is_some_and(|s| {
                    s.is_resource_not_found_exception()
                        || s.is_request_in_progress_exception()
                        || s.is_invalid_state_exception()
                }) =>
            {
                tracing::warn!(certificate = cert_arn, error = %cfn_custom_resource::Error::aws("acm-pca:GetCertificate", e), "certificate not readable; not revoking it");
                Ok(None)
            }
            Err(e) => Err(Error::aws(format!("acm-pca:GetCertificate {cert_arn}"), e)),
        }
    }

    /// Revokes a certificate; already revoked, or a CA that is gone or disabled, is not an error
    /// (a stack must stay deletable), but is logged.
    pub async fn revoke(&self, ca_arn: &str, cert_arn: &str, serial: &str) -> Result<()> {
        self.revoke_for(ca_arn, cert_arn, serial, RevocationReason::CessationOfOperation).await
    }

    /// Revokes a certificate that a renewal replaced (reason SUPERSEDED), as [`Pca::revoke`].
    pub async fn revoke_superseded(&self, ca_arn: &str, cert_arn: &str, serial: &str) -> Result<()> {
        self.revoke_for(ca_arn, cert_arn, serial, RevocationReason::Superseded).await
    }

    async fn revoke_for(
        &self,
        ca_arn: &str,
        cert_arn: &str,
        serial: &str,
        reason: RevocationReason,
    ) -> Result<()> {
        match self
            .client
            .revoke_certificate()
            .certificate_authority_arn(ca_arn)
            .certificate_serial(serial)
            .revocation_reason(reason.clone())
            .send()
            .await
        {
            Ok(_) => {
                tracing::info!(
                    certificate = cert_arn,
                    serial,
                    reason = reason.as_str(),
                    "certificate revoked"
                );
                Ok(())
            }
            Err(e)
                if e.as_service_error().is_some_and(|s| {
                    s.is_request_already_processed_exception()
                        || s.is_resource_not_found_exception()
                        || s.is_invalid_state_exception()
                }) =>
            {
                tracing::warn!(certificate = cert_arn, error = %Error::aws("acm-pca:RevokeCertificate", e), "certificate not revoked");
                Ok(())
            }
            Err(e) => Err(Error::aws(format!("acm-pca:RevokeCertificate {cert_arn}"), e)),
        }
    }
}

fn with_newline(mut pem: String) -> String {
    if !pem.is_empty() && !pem.ends_with('\n') {
        pem.push('\n');
    }
    pem
}
