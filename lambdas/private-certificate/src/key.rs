//! Key generation, the CSR, and reading the issued certificate.

use cfn_custom_resource::{Error, Result};
use rcgen::string::Ia5String;
use rcgen::{CertificateParams, DnType, KeyPair, PublicKeyData, SanType};
use rsa::pkcs8::EncodePrivateKey;
use time::format_description::well_known::Rfc3339;
use x509_parser::pem::parse_x509_pem;

use crate::spec::{KeyAlgorithm, Spec};

/// A freshly generated private key. Its PEM is a secret: it only ever goes to SSM.
pub struct PrivateKey {
    pair: KeyPair,
}

impl PrivateKey {
    /// Generates a key of `algorithm` with the OS CSPRNG.
    pub fn generate(algorithm: KeyAlgorithm) -> Result<PrivateKey> {
        let pair = match algorithm {
            KeyAlgorithm::EcPrime256v1 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
                .map_err(|e| Error::Refused(format!("cannot generate an EC key: {e}")))?,
            KeyAlgorithm::Rsa2048 => {
                // ring signs with RSA keys but cannot generate them.
                let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048)
                    .map_err(|e| Error::Refused(format!("cannot generate an RSA key: {e}")))?;
                let der = key
                    .to_pkcs8_der()
                    .map_err(|e| Error::Refused(format!("cannot encode the RSA key: {e}")))?;
                KeyPair::from_pkcs8_der_and_sign_algo(&der.as_bytes().into(), &rcgen::PKCS_RSA_SHA256)
                    .map_err(|e| Error::Refused(format!("cannot load the RSA key: {e}")))?
            }
        };
        Ok(PrivateKey { pair })
    }

    /// PKCS#8 PEM (`BEGIN PRIVATE KEY`), as Kafka's PEM keystores and rustls read it.
    pub fn pkcs8_pem(&self) -> String {
        self.pair.serialize_pem()
    }

    /// The raw public key bits, to check that a certificate belongs to this key.
    pub fn public_key_bits(&self) -> Vec<u8> {
        self.pair.der_bytes().to_vec()
    }

    /// A PEM CSR for the subject, DNS names and IP addresses of `spec`, signed with this key.
    pub fn csr_pem(&self, spec: &Spec) -> Result<String> {
        // Explicit SAN types: CertificateParams::new would turn anything that parses as an address
        // into an IP SAN.
        let mut params = CertificateParams::default();
        for name in &spec.dns_names {
            let name =
                Ia5String::try_from(name.as_str()).map_err(|e| Error::property("DnsNames", e.to_string()))?;
            params.subject_alt_names.push(SanType::DnsName(name));
        }
        params.subject_alt_names.extend(spec.ip_addresses.iter().copied().map(SanType::IpAddress));
        params.distinguished_name.push(DnType::CommonName, spec.common_name.as_str());
        params
            .serialize_request(&self.pair)
            .and_then(|csr| csr.pem())
            .map_err(|e| Error::Refused(format!("cannot build the certificate signing request: {e}")))
    }
}

/// What CloudFormation gets to know about an issued certificate.
#[derive(Clone, Debug, PartialEq)]
pub struct CertificateInfo {
    /// Serial as colon-separated hex, the form RevokeCertificate takes.
    pub serial: String,
    /// End of validity, RFC 3339.
    pub not_after: String,
    /// The raw public key bits.
    pub public_key_bits: Vec<u8>,
}

/// Reads serial, expiry and public key from a PEM certificate.
pub fn inspect(pem: &str) -> Result<CertificateInfo> {
    let bad = |e: String| Error::Refused(format!("ACM PCA returned a certificate that cannot be read: {e}"));
    let (_, pem) = parse_x509_pem(pem.as_bytes()).map_err(|e| bad(e.to_string()))?;
    let cert = pem.parse_x509().map_err(|e| bad(e.to_string()))?;
    let not_after =
        cert.validity().not_after.to_datetime().format(&Rfc3339).map_err(|e| bad(e.to_string()))?;
    Ok(CertificateInfo {
        serial: cert.raw_serial_as_string(),
        not_after,
        public_key_bits: cert.public_key().subject_public_key.data.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cfn_custom_resource::Properties;
    use serde_json::json;

    #[test]
    fn ec_key_makes_a_csr_and_matches_a_self_signed_certificate() {
        let spec = Spec::from_properties(
            &Properties::from_value(json!({
                "CertificateAuthorityArn": "arn:aws:acm-pca:eu-west-1:1:certificate-authority/x",
                "CommonName": "b-1", "DnsNames": ["b-1.kafka.internal"], "ParameterPrefix": "/k/b-1"
            }))
            .unwrap(),
        )
        .unwrap();
        let key = PrivateKey::generate(KeyAlgorithm::EcPrime256v1).unwrap();
        assert!(key.pkcs8_pem().starts_with("-----BEGIN PRIVATE KEY-----"));
        assert!(key.csr_pem(&spec).unwrap().starts_with("-----BEGIN CERTIFICATE REQUEST-----"));
        let cert = CertificateParams::new(vec!["b-1.kafka.internal".to_string()])
            .unwrap()
            .self_signed(&key.pair)
            .unwrap();
        let info = inspect(&cert.pem()).unwrap();
        assert_eq!(info.public_key_bits, key.public_key_bits());
        assert!(info.serial.contains(':'));
        assert!(info.not_after.ends_with('Z'), "{}", info.not_after);
        let other = PrivateKey::generate(KeyAlgorithm::EcPrime256v1).unwrap();
        assert_ne!(info.public_key_bits, other.public_key_bits());
    }

    #[test]
    fn the_csr_carries_dns_names_and_ip_addresses_as_such() {
        let spec = Spec::from_properties(
            &Properties::from_value(json!({
                "CertificateAuthorityArn": "arn:aws:acm-pca:eu-west-1:1:certificate-authority/x",
                "CommonName": "b-1", "DnsNames": ["b-1.kafka.internal"], "IpAddresses": ["127.0.0.1"],
                "ParameterPrefix": "/k/b-1"
            }))
            .unwrap(),
        )
        .unwrap();
        let key = PrivateKey::generate(KeyAlgorithm::EcPrime256v1).unwrap();
        let pem = key.csr_pem(&spec).unwrap();
        let (_, pem) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).unwrap();
        use x509_parser::prelude::FromDer;
        let (_, csr) =
            x509_parser::certification_request::X509CertificationRequest::from_der(&pem.contents).unwrap();
        let sans: Vec<String> = csr
            .requested_extensions()
            .into_iter()
            .flatten()
            .filter_map(|e| match e {
                x509_parser::extensions::ParsedExtension::SubjectAlternativeName(san) => Some(san),
                _ => None,
            })
            .flat_map(|san| san.general_names.iter().map(|n| format!("{n:?}")))
            .collect();
        assert_eq!(sans, ["DNSName(\"b-1.kafka.internal\")", "IPAddress([127, 0, 0, 1])"]);
    }

    #[test]
    fn garbage_is_not_a_certificate() {
        assert!(inspect("not a pem").is_err());
    }
}
