//! TLS settings: the brokers are verified against a given CA (PEM); for mTLS the client presents a
//! certificate chain and key (PEM), as the platform gets them from ACM Private CA.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{AlertDescription, CertificateError};

use crate::error::{Error, Result};

/// How to secure connections to the brokers. TLS is not optional: there is no plaintext mode.
#[derive(Clone)]
pub struct TlsConfig {
    pub(crate) rustls: Arc<rustls::ClientConfig>,
    pub(crate) client_certificate: bool,
    /// The trusted CAs, for [`TlsConfig::verify_server_chain`].
    roots: Arc<rustls::RootCertStore>,
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfig")
            .field("client_certificate", &self.client_certificate)
            .finish_non_exhaustive()
    }
}

impl TlsConfig {
    /// Trusts the CA certificates in `ca_pem`; no client certificate (SASL_SSL listeners).
    pub fn new(ca_pem: &[u8]) -> Result<Self> {
        Self::build(ca_pem, None)
    }

    /// Trusts the CA certificates in `ca_pem` and presents `chain_pem` (leaf first) with `key_pem`
    /// (PKCS#8, PKCS#1 or SEC1, unencrypted) for mTLS listeners.
    pub fn with_client_certificate(ca_pem: &[u8], chain_pem: &[u8], key_pem: &[u8]) -> Result<Self> {
        Self::build(ca_pem, Some((chain_pem, key_pem)))
    }

    /// [`TlsConfig::new`] with the CA read from a file.
    pub fn from_ca_file(ca: &Path) -> Result<Self> {
        Self::new(&read(ca, "CA certificates")?)
    }

    /// [`TlsConfig::with_client_certificate`] with everything read from files.
    pub fn from_files(ca: &Path, chain: &Path, key: &Path) -> Result<Self> {
        Self::with_client_certificate(
            &read(ca, "CA certificates")?,
            &read(chain, "client certificate chain")?,
            &read(key, "client private key")?,
        )
    }

    fn build(ca_pem: &[u8], identity: Option<(&[u8], &[u8])>) -> Result<Self> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in certificates(ca_pem, "CA")? {
            roots.add(cert).map_err(|e| Error::Config(format!("CA certificate is not usable: {e}")))?;
        }
        // The provider is chosen here rather than process-wide, so a binary that also links
        // aws-lc-rs (the AWS SDK) cannot make the choice ambiguous.
        let roots = Arc::new(roots);
        let builder =
            rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .map_err(|e| Error::Config(format!("TLS setup: {e}")))?
                .with_root_certificates(roots.clone());
        let config = match identity {
            None => builder.with_no_client_auth(),
            Some((chain_pem, key_pem)) => {
                let chain = certificates(chain_pem, "client certificate chain")?;
                let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| {
                    Error::Config(format!(
                        "client private key: {e} (expected an unencrypted PEM key: PKCS#8, PKCS#1 or SEC1)"
                    ))
                })?;
                builder.with_client_auth_cert(chain, key).map_err(|e| {
                    Error::Config(format!("client certificate and key do not fit together: {e}"))
                })?
            }
        };
        Ok(TlsConfig { rustls: Arc::new(config), client_certificate: identity.is_some(), roots })
    }
}

impl TlsConfig {
    /// Whether connections present a client certificate (a listener with `ssl.client.auth=required`,
    /// such as the KRaft controller listener, accepts no other).
    pub fn has_client_certificate(&self) -> bool {
        self.client_certificate
    }

    /// Checks, as a handshake to `host` would, that `chain_pem` (leaf first) is a server
    /// certificate for `host` issued under the trusted CAs and valid now, without connecting.
    pub fn verify_server_chain(&self, chain_pem: &str, host: &str) -> Result<()> {
        let chain = certificates(chain_pem.as_bytes(), "certificate chain")?;
        let name = ServerName::try_from(host.to_string())
            .map_err(|_| Error::Config(format!("'{host}' is not a valid host name")))?;
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            self.roots.clone(),
            Arc::new(rustls::crypto::ring::default_provider()),
        )
        .build()
        .map_err(|e| Error::Config(format!("TLS setup: {e}")))?;
        verifier
            .verify_server_cert(&chain[0], &chain[1..], &name, &[], rustls::pki_types::UnixTime::now())
            .map(drop)
            .map_err(|e| Error::Config(format!("a handshake to {host} would refuse it: {e}")))
    }
}

/// Checks that `key_pem` is the private key of the leaf of `chain_pem` (leaf first), as a listener
/// given both needs. The error never shows key material.
pub fn check_key_pair(chain_pem: &str, key_pem: &crate::Secret) -> Result<()> {
    let chain = certificates(chain_pem.as_bytes(), "certificate chain")?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.expose().as_bytes()).map_err(|_| {
        Error::Config("the private key is not an unencrypted PEM key (PKCS#8, PKCS#1 or SEC1)".into())
    })?;
    let signer = rustls::crypto::ring::sign::any_supported_type(&key)
        .map_err(|e| Error::Config(format!("the private key is not usable: {e}")))?;
    rustls::sign::CertifiedKey::new(chain, signer)
        .keys_match()
        .map_err(|e| Error::Config(format!("the private key does not belong to the certificate ({e})")))
}

#[cfg(test)]
impl TlsConfig {
    /// A configuration that trusts nothing, for unit tests that never connect.
    pub(crate) fn trusting_nothing() -> Self {
        let roots = Arc::new(rustls::RootCertStore::empty());
        let config =
            rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .expect("ring supports the default versions")
                .with_root_certificates(roots.clone())
                .with_no_client_auth();
        TlsConfig { rustls: Arc::new(config), client_certificate: false, roots }
    }
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::Config(format!("cannot read {what} from {}: {e}", path.display())))
}

fn certificates(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::Config(format!("{what} PEM is malformed: {e}")))?;
    if certs.is_empty() {
        return Err(Error::Config(format!("{what} PEM contains no CERTIFICATE block")));
    }
    Ok(certs)
}

/// The name the broker certificate must be valid for: the host part of `host:port`.
pub(crate) fn server_name(address: &str) -> Result<ServerName<'static>> {
    let host = host_of(address);
    ServerName::try_from(host.to_string()).map_err(|_| {
        Error::Config(format!("'{host}' (from broker address '{address}') is not a valid host name"))
    })
}

fn host_of(address: &str) -> &str {
    // [v6]:port, host:port
    if let Some(rest) = address.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    address.rsplit_once(':').map_or(address, |(h, _)| h)
}

/// Explains a TLS failure (handshake or alert on a later read) with the usual cause.
pub(crate) fn explain(error: &std::io::Error, address: &str) -> Option<String> {
    let tls = error.get_ref()?.downcast_ref::<rustls::Error>()?;
    Some(explain_rustls(tls, address))
}

fn explain_rustls(error: &rustls::Error, address: &str) -> String {
    match error {
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            "the broker's certificate is not signed by the configured CA (unknown issuer); \
             check the CA file the client trusts"
                .to_string()
        }
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => format!(
            "the broker's certificate is not valid for '{}' (its subject alternative names do not \
             contain the address the client connected to)",
            host_of(address)
        ),
        rustls::Error::InvalidCertificate(
            CertificateError::Expired | CertificateError::ExpiredContext { .. },
        ) => "the broker's certificate has expired".to_string(),
        rustls::Error::AlertReceived(
            alert @ (AlertDescription::CertificateRequired
            | AlertDescription::BadCertificate
            | AlertDescription::UnknownCA
            | AlertDescription::CertificateUnknown
            | AlertDescription::HandshakeFailure),
        ) => format!(
            "the broker refused the client's certificate (TLS alert {alert:?}): this listener requires a \
             client certificate issued by a CA the brokers trust"
        ),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_is_taken_from_the_address() {
        assert_eq!(host_of("127.0.0.1:19092"), "127.0.0.1");
        assert_eq!(host_of("b-1.kafka.internal:9094"), "b-1.kafka.internal");
        assert_eq!(host_of("[::1]:9092"), "::1");
        assert!(server_name("127.0.0.1:1").is_ok());
        assert!(server_name("b-1.example.com:9094").is_ok());
    }

    #[test]
    fn pem_without_certificates_is_a_config_error() {
        let e = TlsConfig::new(b"not a pem").unwrap_err();
        assert!(e.to_string().contains("contains no CERTIFICATE block"), "{e}");
    }

    #[test]
    fn unknown_issuer_is_explained() {
        let msg = explain_rustls(&rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer), "h:1");
        assert!(msg.contains("not signed by the configured CA"), "{msg}");
        let msg = explain_rustls(&rustls::Error::AlertReceived(AlertDescription::CertificateRequired), "h:1");
        assert!(msg.contains("requires a client certificate"), "{msg}");
    }
}
