//! A root CA in moto's ACM Private CA, set up the way an operator does it on AWS: create, get the
//! CSR, self-issue with the RootCACertificate/V1 template, import.

use aws_sdk_acmpca::Client;
use aws_sdk_acmpca::primitives::Blob;
use aws_sdk_acmpca::types::{
    Asn1Subject, CertificateAuthorityConfiguration, CertificateAuthorityStatus, CertificateAuthorityType,
    KeyAlgorithm, SigningAlgorithm, Validity, ValidityPeriodType,
};

/// Creates and activates a root CA with `common_name`; returns its ARN and certificate PEM.
pub async fn create_root_ca(pca: &Client, common_name: &str) -> Result<(String, String), String> {
    let arn = pca
        .create_certificate_authority()
        .certificate_authority_type(CertificateAuthorityType::Root)
        .certificate_authority_configuration(
            CertificateAuthorityConfiguration::builder()
                .key_algorithm(KeyAlgorithm::Rsa2048)
                .signing_algorithm(SigningAlgorithm::Sha256Withrsa)
                .subject(Asn1Subject::builder().common_name(common_name).organization("Tests").build())
                .build()
                .map_err(|e| e.to_string())?,
        )
        .send()
        .await
        .map_err(|e| format!("CreateCertificateAuthority: {e:?}"))?
        .certificate_authority_arn
        .ok_or("CreateCertificateAuthority returned no ARN")?;
    let csr = pca
        .get_certificate_authority_csr()
        .certificate_authority_arn(&arn)
        .send()
        .await
        .map_err(|e| format!("GetCertificateAuthorityCsr: {e:?}"))?
        .csr
        .ok_or("no CSR")?;
    let cert_arn = pca
        .issue_certificate()
        .certificate_authority_arn(&arn)
        .csr(Blob::new(csr.as_bytes()))
        .signing_algorithm(SigningAlgorithm::Sha256Withrsa)
        .template_arn("arn:aws:acm-pca:::template/RootCACertificate/V1")
        .validity(
            Validity::builder()
                .r#type(ValidityPeriodType::Years)
                .value(10)
                .build()
                .map_err(|e| e.to_string())?,
        )
        .send()
        .await
        .map_err(|e| format!("IssueCertificate (root): {e:?}"))?
        .certificate_arn
        .ok_or("IssueCertificate returned no ARN")?;
    let cert = pca
        .get_certificate()
        .certificate_authority_arn(&arn)
        .certificate_arn(&cert_arn)
        .send()
        .await
        .map_err(|e| format!("GetCertificate (root): {e:?}"))?
        .certificate
        .ok_or("no root certificate")?;
    pca.import_certificate_authority_certificate()
        .certificate_authority_arn(&arn)
        .certificate(Blob::new(cert.as_bytes()))
        .send()
        .await
        .map_err(|e| format!("ImportCertificateAuthorityCertificate: {e:?}"))?;
    Ok((arn, cert))
}

/// The certificate of an ACTIVE CA, or `None` when the CA is unknown (e.g. moto restarted) or
/// not active.
pub async fn active_ca_certificate(pca: &Client, arn: &str) -> Option<String> {
    let described = pca.describe_certificate_authority().certificate_authority_arn(arn).send().await.ok()?;
    if described.certificate_authority?.status? != CertificateAuthorityStatus::Active {
        return None;
    }
    pca.get_certificate_authority_certificate().certificate_authority_arn(arn).send().await.ok()?.certificate
}
