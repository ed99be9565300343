//! The properties of `Custom::PrivateCertificate`, validated.

use std::net::IpAddr;

use cfn_custom_resource::ssm::validate_name;
use cfn_custom_resource::{Error, Properties, Result};

const PROPERTIES: &[&str] = &[
    "CertificateAuthorityArn",
    "CommonName",
    "DnsNames",
    "IpAddresses",
    "KeyAlgorithm",
    "ValidityDays",
    "Usage",
    "ParameterPrefix",
    "KmsKeyId",
    "RenewalToken",
];

/// Default validity when `ValidityDays` is absent.
pub const DEFAULT_VALIDITY_DAYS: u32 = 365;

/// Key algorithm of the certificate's key (not of the CA).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// ECDSA on P-256.
    EcPrime256v1,
    /// RSA with a 2048-bit modulus.
    Rsa2048,
}

/// What the certificate may be used for; selects the ACM PCA template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Usage {
    /// TLS server authentication.
    Server,
    /// TLS client authentication.
    Client,
    /// Both, e.g. a broker that talks to other brokers over mTLS.
    ServerAndClient,
}

impl Usage {
    /// The ACM PCA template that gives this usage's key usage and extended key usage.
    pub fn template_arn(self, partition: &str) -> String {
        let name = match self {
            Usage::Server => "EndEntityServerAuthCertificate/V1",
            Usage::Client => "EndEntityClientAuthCertificate/V1",
            Usage::ServerAndClient => "EndEntityCertificate/V1",
        };
        format!("arn:{partition}:acm-pca:::template/{name}")
    }
}

/// Validated properties.
#[derive(Clone, Debug, PartialEq)]
pub struct Spec {
    /// The issuing CA.
    pub ca_arn: String,
    /// Subject common name.
    pub common_name: String,
    /// DNS subject alternative names.
    pub dns_names: Vec<String>,
    /// IP address subject alternative names (for clients that connect by address).
    pub ip_addresses: Vec<IpAddr>,
    /// Key algorithm.
    pub key_algorithm: KeyAlgorithm,
    /// Validity in days.
    pub validity_days: u32,
    /// Template selector.
    pub usage: Usage,
    /// Parameter path prefix, without trailing slash.
    pub prefix: String,
    /// KMS key for the private key parameter.
    pub kms_key_id: Option<String>,
    /// Changing it issues a new certificate.
    pub renewal_token: Option<String>,
}

impl Spec {
    /// Reads and checks the properties; errors name the property.
    pub fn from_properties(p: &Properties) -> Result<Spec> {
        p.deny_unknown(PROPERTIES)?;
        let ca_arn = p.required_str("CertificateAuthorityArn")?;
        let parts: Vec<&str> = ca_arn.split(':').collect();
        if parts.len() != 6
            || parts[0] != "arn"
            || parts[2] != "acm-pca"
            || !parts[5].starts_with("certificate-authority/")
        {
            return Err(Error::property(
                "CertificateAuthorityArn",
                format!(
                    "{ca_arn:?} is not an ACM Private CA ARN (arn:aws:acm-pca:REGION:ACCOUNT:certificate-authority/ID)"
                ),
            ));
        }
        let common_name = p.required_str("CommonName")?;
        if common_name.len() > 64 {
            return Err(Error::property("CommonName", "must have at most 64 characters"));
        }
        let dns_names = p.string_list("DnsNames")?;
        for name in &dns_names {
            check_dns_name(name)?;
        }
        let ip_addresses = p
            .string_list("IpAddresses")?
            .iter()
            .map(|a| {
                a.parse::<IpAddr>().map_err(|_| {
                    Error::property("IpAddresses", format!("{a:?} is not an IPv4 or IPv6 address"))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let key_algorithm = match p.optional_str("KeyAlgorithm")?.as_deref() {
            None | Some("EC_prime256v1") => KeyAlgorithm::EcPrime256v1,
            Some("RSA_2048") => KeyAlgorithm::Rsa2048,
            Some(other) => {
                return Err(Error::property(
                    "KeyAlgorithm",
                    format!("{other:?} is not supported; use EC_prime256v1 or RSA_2048"),
                ));
            }
        };
        let usage = match p.optional_str("Usage")?.as_deref() {
            None | Some("server") => Usage::Server,
            Some("client") => Usage::Client,
            Some("server-and-client") => Usage::ServerAndClient,
            Some(other) => {
                return Err(Error::property(
                    "Usage",
                    format!("{other:?} is not supported; use server, client or server-and-client"),
                ));
            }
        };
        if usage != Usage::Client && dns_names.is_empty() && ip_addresses.is_empty() {
            return Err(Error::property(
                "DnsNames",
                "a server certificate needs at least one DNS name or IP address (clients check the SAN, not the CN)",
            ));
        }
        let prefix = p.required_str("ParameterPrefix")?;
        if !prefix.starts_with('/') {
            return Err(Error::property("ParameterPrefix", format!("{prefix:?} must start with /")));
        }
        validate_name("ParameterPrefix", &prefix)?;
        Ok(Spec {
            ca_arn,
            common_name,
            dns_names,
            ip_addresses,
            key_algorithm,
            validity_days: p.optional_u32("ValidityDays", 1..=3650)?.unwrap_or(DEFAULT_VALIDITY_DAYS),
            usage,
            prefix,
            kms_key_id: p.optional_str("KmsKeyId")?,
            renewal_token: p.optional_str("RenewalToken")?,
        })
    }

    /// `<prefix>/private-key`: SecureString, PKCS#8 PEM.
    pub fn key_parameter(&self) -> String {
        format!("{}/private-key", self.prefix)
    }

    /// `<prefix>/certificate`: String, the leaf certificate PEM.
    pub fn certificate_parameter(&self) -> String {
        format!("{}/certificate", self.prefix)
    }

    /// `<prefix>/chain`: String, the issuing CA chain PEM.
    pub fn chain_parameter(&self) -> String {
        format!("{}/chain", self.prefix)
    }
}

fn check_dns_name(name: &str) -> Result<()> {
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if name.parse::<IpAddr>().is_ok() {
        return Err(Error::property(
            "DnsNames",
            format!("{name:?} is an IP address; list it under IpAddresses"),
        ));
    }
    let body = name.strip_prefix("*.").unwrap_or(name);
    if name.len() > 253 || !body.split('.').all(label_ok) {
        return Err(Error::property("DnsNames", format!("{name:?} is not a valid DNS name")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    const CA: &str = "arn:aws:acm-pca:eu-west-1:123456789012:certificate-authority/abc";

    fn spec(v: Value) -> Result<Spec> {
        Spec::from_properties(&Properties::from_value(v).unwrap())
    }

    fn base() -> Value {
        json!({"ServiceToken": "x", "CertificateAuthorityArn": CA, "CommonName": "b-1",
               "DnsNames": ["b-1.kafka.internal"], "ParameterPrefix": "/kafka/dev/broker-1"})
    }

    #[test]
    fn defaults() {
        let s = spec(base()).unwrap();
        assert_eq!(s.key_algorithm, KeyAlgorithm::EcPrime256v1);
        assert_eq!(s.usage, Usage::Server);
        assert_eq!(s.validity_days, 365);
        assert_eq!(s.key_parameter(), "/kafka/dev/broker-1/private-key");
        assert_eq!(s.certificate_parameter(), "/kafka/dev/broker-1/certificate");
        assert_eq!(s.chain_parameter(), "/kafka/dev/broker-1/chain");
        assert_eq!(
            Usage::ServerAndClient.template_arn("aws"),
            "arn:aws:acm-pca:::template/EndEntityCertificate/V1"
        );
    }

    #[test]
    fn bad_values_name_the_property() {
        let cases: [(&str, Value, &str); 10] = [
            ("CertificateAuthorityArn", json!("arn:aws:s3:::bucket"), "property CertificateAuthorityArn:"),
            ("KeyAlgorithm", json!("EC_secp384r1"), "property KeyAlgorithm:"),
            ("Usage", json!("everything"), "property Usage:"),
            ("ValidityDays", json!("0"), "property ValidityDays:"),
            ("DnsNames", json!(["bad name"]), "property DnsNames:"),
            ("DnsNames", json!([]), "property DnsNames: a server certificate"),
            ("DnsNames", json!(["127.0.0.1"]), "property DnsNames: \"127.0.0.1\" is an IP address"),
            ("IpAddresses", json!(["10.0.0.300"]), "property IpAddresses:"),
            ("ParameterPrefix", json!("kafka/x"), "property ParameterPrefix:"),
            ("Colour", json!("red"), "property Colour: unknown"),
        ];
        for (key, value, expected) in cases {
            let mut props = base();
            props[key] = value;
            let msg = spec(props).unwrap_err().to_string();
            assert!(msg.starts_with(expected), "{key}: {msg}");
        }
    }

    #[test]
    fn strings_and_wildcards_are_accepted() {
        let mut props = base();
        props["ValidityDays"] = json!("30");
        props["DnsNames"] = json!("b-1.kafka.internal,*.kafka.internal");
        props["Usage"] = json!("server-and-client");
        props["KeyAlgorithm"] = json!("RSA_2048");
        let s = spec(props).unwrap();
        assert_eq!(s.validity_days, 30);
        assert_eq!(s.dns_names.len(), 2);
        assert_eq!((s.usage, s.key_algorithm), (Usage::ServerAndClient, KeyAlgorithm::Rsa2048));
    }

    #[test]
    fn ip_addresses_alone_make_a_server_certificate() {
        let mut props = base();
        props.as_object_mut().unwrap().remove("DnsNames");
        props["IpAddresses"] = json!("127.0.0.1, ::1");
        let s = spec(props).unwrap();
        assert_eq!(s.ip_addresses, ["127.0.0.1".parse::<IpAddr>().unwrap(), "::1".parse().unwrap()]);
        assert!(s.dns_names.is_empty());
    }
}
