//! The certificate a listener serves, read from a fresh TLS handshake. A fresh one on purpose: the
//! client's open connections keep the certificate of their own handshake, and a renewal is proven
//! only by what a new handshake gets (docs/operators-guide.md, "Certificate renewal").

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;

use crate::error::{Error, Result};
use crate::tls::{self, TlsConfig};

/// Connects to `address`, completes a TLS handshake verified against the configured CA and the
/// address's host name, and returns the served leaf certificate (DER). No Kafka request is sent,
/// so a listener that wants SASL or a client certificate answers the handshake all the same.
pub async fn served_certificate(address: &str, tls_config: &TlsConfig, timeout: Duration) -> Result<Vec<u8>> {
    let server_name = tls::server_name(address)?;
    let connect_error =
        |e: std::io::Error| Error::Connect { broker: address.to_string(), source: Arc::new(e) };
    let tcp = match tokio::time::timeout(timeout, TcpStream::connect(address)).await {
        Ok(Ok(tcp)) => tcp,
        Ok(Err(e)) => return Err(connect_error(e)),
        Err(_) => {
            let what = format!("no TCP connection within {timeout:?}");
            return Err(connect_error(std::io::Error::new(std::io::ErrorKind::TimedOut, what)));
        }
    };
    let connector = tokio_rustls::TlsConnector::from(tls_config.rustls.clone());
    let tls_error = |reason: String| Error::Tls { broker: address.to_string(), reason };
    let stream = match tokio::time::timeout(timeout, connector.connect(server_name, tcp)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(tls_error(tls::explain(&e, address).unwrap_or_else(|| e.to_string()))),
        Err(_) => return Err(tls_error(format!("no TLS handshake within {timeout:?}"))),
    };
    let (_, session) = stream.get_ref();
    session
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(|leaf| leaf.as_ref().to_vec())
        .ok_or_else(|| tls_error("the listener served no certificate".into()))
}
