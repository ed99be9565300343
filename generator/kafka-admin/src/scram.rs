//! SCRAM (RFC 5802) client side, as Kafka uses it: no channel binding, no SASLprep (Kafka's own
//! clients do not normalise either, so the same bytes reach the same salted password).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};

/// Kafka never accepts fewer iterations than this, so a server-first message asking for fewer is
/// treated as an attack or a misconfiguration.
pub const MIN_ITERATIONS: u32 = 4096;
/// The most iterations Kafka accepts for a credential.
pub const MAX_ITERATIONS: u32 = 16384;

/// The SCRAM mechanisms Kafka supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ScramMechanism {
    /// SCRAM-SHA-256.
    Sha256,
    /// SCRAM-SHA-512, the platform's choice.
    Sha512,
}

impl ScramMechanism {
    /// The SASL mechanism name, e.g. `SCRAM-SHA-512`.
    pub fn name(self) -> &'static str {
        match self {
            ScramMechanism::Sha256 => "SCRAM-SHA-256",
            ScramMechanism::Sha512 => "SCRAM-SHA-512",
        }
    }

    /// The code used by the SCRAM credential APIs.
    pub fn code(self) -> i8 {
        match self {
            ScramMechanism::Sha256 => 1,
            ScramMechanism::Sha512 => 2,
        }
    }

    /// The mechanism for a SCRAM credential API code, if known.
    pub fn from_code(code: i8) -> Option<Self> {
        match code {
            1 => Some(ScramMechanism::Sha256),
            2 => Some(ScramMechanism::Sha512),
            _ => None,
        }
    }

    fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        match self {
            ScramMechanism::Sha256 => {
                let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
                m.update(data);
                m.finalize().into_bytes().to_vec()
            }
            ScramMechanism::Sha512 => {
                let mut m = Hmac::<Sha512>::new_from_slice(key).expect("HMAC takes any key length");
                m.update(data);
                m.finalize().into_bytes().to_vec()
            }
        }
    }

    fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            ScramMechanism::Sha256 => Sha256::digest(data).to_vec(),
            ScramMechanism::Sha512 => Sha512::digest(data).to_vec(),
        }
    }
}

impl std::fmt::Display for ScramMechanism {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for ScramMechanism {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_uppercase().as_str() {
            "SCRAM-SHA-256" => Ok(ScramMechanism::Sha256),
            "SCRAM-SHA-512" => Ok(ScramMechanism::Sha512),
            _ => Err(format!("unknown SCRAM mechanism '{s}' (expected SCRAM-SHA-256 or SCRAM-SHA-512)")),
        }
    }
}

/// `Hi(password, salt, i)` of RFC 5802: the salted password, which is also what Kafka's
/// AlterUserScramCredentials stores, so the clear password never leaves the client.
pub fn salted_password(mechanism: ScramMechanism, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
    match mechanism {
        ScramMechanism::Sha256 => {
            let mut out = [0u8; 32];
            pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out);
            out.to_vec()
        }
        ScramMechanism::Sha512 => {
            let mut out = [0u8; 64];
            pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, &mut out);
            out.to_vec()
        }
    }
}

/// [`salted_password`] on tokio's blocking pool.
pub(crate) async fn salted_password_off_thread(
    mechanism: ScramMechanism,
    password: Vec<u8>,
    salt: Vec<u8>,
    iterations: u32,
) -> Result<Vec<u8>, ScramError> {
    tokio::task::spawn_blocking(move || salted_password(mechanism, &password, &salt, iterations))
        .await
        .or_else(|e| err(format!("computing the salted password failed: {e}")))
}

/// Fresh random bytes from the operating system (nonces, salts).
pub(crate) fn random_bytes(len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    getrandom::fill(&mut buf).expect("the operating system's random source is available");
    buf
}

/// Why a SCRAM exchange could not go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScramError(pub String);

impl std::fmt::Display for ScramError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn err<T>(msg: impl Into<String>) -> Result<T, ScramError> {
    Err(ScramError(msg.into()))
}

/// One client-side SCRAM conversation: client-first, then client-final for the server-first, then
/// verification of the server-final message (which proves the server knows the credential too).
pub struct ScramClient {
    mechanism: ScramMechanism,
    password: Vec<u8>,
    client_nonce: String,
    client_first_bare: String,
    expected_server_signature: Option<Vec<u8>>,
}

impl std::fmt::Debug for ScramClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScramClient").field("mechanism", &self.mechanism).finish_non_exhaustive()
    }
}

impl ScramClient {
    /// Starts a conversation with a random nonce.
    pub fn new(mechanism: ScramMechanism, user: &str, password: &str) -> Self {
        let nonce = B64.encode(random_bytes(24));
        Self::with_nonce(mechanism, user, password, &nonce)
    }

    /// Starts a conversation with a given nonce (for test vectors).
    pub fn with_nonce(mechanism: ScramMechanism, user: &str, password: &str, nonce: &str) -> Self {
        let client_first_bare = format!("n={},r={}", escape_user(user), nonce);
        ScramClient {
            mechanism,
            password: password.as_bytes().to_vec(),
            client_nonce: nonce.to_string(),
            client_first_bare,
            expected_server_signature: None,
        }
    }

    /// The client-first message (GS2 header `n,,`: no channel binding, no authzid).
    pub fn client_first(&self) -> String {
        format!("n,,{}", self.client_first_bare)
    }

    /// Answers the server-first message with the client-final message carrying the proof. The
    /// iteration count is checked first, and the salted password (thousands of HMAC rounds) is
    /// computed on tokio's blocking pool, never on the thread that runs the connection's tasks.
    pub async fn client_final(&mut self, server_first: &str) -> Result<String, ScramError> {
        let mut nonce = None;
        let mut salt = None;
        let mut iterations = None;
        for attr in server_first.split(',') {
            match attr.split_once('=') {
                Some(("r", v)) => nonce = Some(v),
                Some(("s", v)) => salt = Some(v),
                Some(("i", v)) => iterations = Some(v),
                Some(("e", v)) => return err(format!("server refused: {v}")),
                Some(("m", _)) => {
                    return err("server requires a SCRAM extension this client does not know");
                }
                _ => {}
            }
        }
        let (Some(nonce), Some(salt), Some(iterations)) = (nonce, salt, iterations) else {
            return err("server-first message lacks the nonce, salt or iteration count");
        };
        if !nonce.starts_with(&self.client_nonce) || nonce.len() == self.client_nonce.len() {
            return err("server nonce does not extend the client nonce");
        }
        let salt = B64.decode(salt).or_else(|_| err("server salt is not valid base64"))?;
        let iterations: u32 = iterations.parse().or_else(|_| err("iteration count is not a number"))?;
        if iterations < MIN_ITERATIONS {
            return err(format!(
                "server asks for {iterations} iterations, fewer than the minimum {MIN_ITERATIONS}"
            ));
        }
        // Kafka stores no credential above this; more would pin a CPU long past any timeout.
        if iterations > MAX_ITERATIONS {
            return err(format!(
                "server asks for {iterations} iterations, more than Kafka's maximum {MAX_ITERATIONS}"
            ));
        }

        let m = self.mechanism;
        let salted = salted_password_off_thread(m, self.password.clone(), salt, iterations).await?;
        let client_key = m.hmac(&salted, b"Client Key");
        let stored_key = m.hash(&client_key);
        // "biws" is base64("n,,"), the GS2 header repeated as channel binding data.
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{server_first},{without_proof}", self.client_first_bare);
        let client_signature = m.hmac(&stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key.iter().zip(&client_signature).map(|(k, s)| k ^ s).collect();
        let server_key = m.hmac(&salted, b"Server Key");
        self.expected_server_signature = Some(m.hmac(&server_key, auth_message.as_bytes()));
        Ok(format!("{without_proof},p={}", B64.encode(proof)))
    }

    /// Checks the server-final message: a server that cannot prove it knows the credential is
    /// not the cluster we meant to talk to.
    pub fn verify_server_final(&self, server_final: &str) -> Result<(), ScramError> {
        let Some(expected) = &self.expected_server_signature else {
            return err("server-final message before client-final");
        };
        if let Some(reason) = server_final.strip_prefix("e=") {
            return err(format!("server refused: {reason}"));
        }
        let Some(v) = server_final.split(',').find_map(|a| a.strip_prefix("v=")) else {
            return err("server-final message lacks the server signature");
        };
        let signature = B64.decode(v).or_else(|_| err("server signature is not valid base64"))?;
        if &signature != expected {
            return err("server signature does not match: the broker does not hold this user's credential");
        }
        Ok(())
    }
}

/// `=` and `,` are the only characters RFC 5802 escapes in the user name.
fn escape_user(user: &str) -> String {
    user.replace('=', "=3D").replace(',', "=2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7677, section 3: the SCRAM-SHA-256 example exchange.
    #[tokio::test]
    async fn rfc7677_sha256_example() {
        let mut c = ScramClient::with_nonce(ScramMechanism::Sha256, "user", "pencil", "rOprNGfwEbeRWgbNEkqO");
        assert_eq!(c.client_first(), "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        let server_first =
            "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let client_final = c.client_final(server_first).await.unwrap();
        assert_eq!(
            client_final,
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        c.verify_server_final("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=").unwrap();
    }

    #[tokio::test]
    async fn wrong_server_signature_is_rejected() {
        let mut c = ScramClient::with_nonce(ScramMechanism::Sha256, "user", "pencil", "rOprNGfwEbeRWgbNEkqO");
        c.client_final(
            "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        )
        .await
        .unwrap();
        let e = c.verify_server_final("v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=").unwrap_err();
        assert!(e.0.contains("does not match"), "{e}");
        let e = c.verify_server_final("e=invalid-proof").unwrap_err();
        assert_eq!(e.0, "server refused: invalid-proof");
    }

    #[tokio::test]
    async fn server_nonce_must_extend_client_nonce() {
        let mut c = ScramClient::with_nonce(ScramMechanism::Sha512, "u", "p", "abc");
        assert!(c.client_final("r=xyz123,s=QSXCR+Q6sek8bf92,i=4096").await.is_err());
        assert!(c.client_final("r=abc,s=QSXCR+Q6sek8bf92,i=4096").await.is_err());
    }

    #[tokio::test]
    async fn too_few_iterations_are_refused() {
        let mut c = ScramClient::with_nonce(ScramMechanism::Sha512, "u", "p", "abc");
        let e = c.client_final("r=abcdef,s=QSXCR+Q6sek8bf92,i=1000").await.unwrap_err();
        assert!(e.0.contains("fewer than the minimum"), "{e}");
    }

    #[tokio::test]
    async fn too_many_iterations_are_refused_before_any_hashing() {
        let mut c = ScramClient::with_nonce(ScramMechanism::Sha512, "u", "p", "abc");
        // 2^32-1 rounds of HMAC-SHA-512 would run for hours.
        let e = c.client_final("r=abcdef,s=QSXCR+Q6sek8bf92,i=4294967295").await.unwrap_err();
        assert_eq!(e.0, "server asks for 4294967295 iterations, more than Kafka's maximum 16384");
        let e = c.client_final("r=abcdef,s=QSXCR+Q6sek8bf92,i=16385").await.unwrap_err();
        assert!(e.0.contains("more than Kafka's maximum"), "{e}");
        assert!(c.client_final("r=abcdef,s=QSXCR+Q6sek8bf92,i=16384").await.is_ok());
    }

    // The only blocking thread is held busy, so a client-final computed on the blocking pool
    // cannot be ready at its first poll; one computed inline on the async thread would be.
    #[test]
    fn the_salted_password_is_computed_on_the_blocking_pool() {
        use std::future::Future;
        use std::task::{Context, Waker};
        let runtime = tokio::runtime::Builder::new_current_thread().max_blocking_threads(1).build().unwrap();
        let (release, wait) = std::sync::mpsc::channel::<()>();
        runtime.block_on(async {
            let busy = tokio::task::spawn_blocking(move || wait.recv());
            let mut c = ScramClient::with_nonce(ScramMechanism::Sha512, "u", "p", "abc");
            let mut answer = Box::pin(c.client_final("r=abcdef,s=QSXCR+Q6sek8bf92,i=4096"));
            let first = answer.as_mut().poll(&mut Context::from_waker(Waker::noop()));
            assert!(first.is_pending(), "PBKDF2 ran on the async thread");
            release.send(()).unwrap();
            assert!(answer.await.unwrap().starts_with("c=biws,r=abcdef,p="));
            busy.await.unwrap().unwrap();
        });
    }

    #[test]
    fn user_names_are_escaped() {
        let c = ScramClient::with_nonce(ScramMechanism::Sha512, "a=b,c", "p", "n");
        assert_eq!(c.client_first(), "n,,n=a=3Db=2Cc,r=n");
    }

    // RFC 7914, section 11: PBKDF2-HMAC-SHA256 of "passwd" and "salt" with 1 iteration (first block).
    #[test]
    fn salted_password_is_pbkdf2() {
        let out = salted_password(ScramMechanism::Sha256, b"passwd", b"salt", 1);
        assert_eq!(hex(&out), "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc");
        assert_eq!(salted_password(ScramMechanism::Sha512, b"p", b"s", 4096).len(), 64);
    }

    #[tokio::test]
    async fn sha512_exchange_round_trips_against_a_server_computation() {
        // The server side computed independently from the stored credential, as Kafka does.
        let m = ScramMechanism::Sha512;
        let salt = b"0123456789abcdef";
        let salted = salted_password(m, b"secret", salt, 4096);
        let stored_key = m.hash(&m.hmac(&salted, b"Client Key"));
        let server_key = m.hmac(&salted, b"Server Key");

        let mut c = ScramClient::with_nonce(m, "alice", "secret", "cnonce");
        let server_first = format!("r=cnonceSNONCE,s={},i=4096", B64.encode(salt));
        let client_final = c.client_final(&server_first).await.unwrap();
        let (without_proof, proof) = client_final.rsplit_once(",p=").unwrap();
        let auth = format!("n=alice,r=cnonce,{server_first},{without_proof}");
        let sig = m.hmac(&stored_key, auth.as_bytes());
        let client_key: Vec<u8> = B64.decode(proof).unwrap().iter().zip(&sig).map(|(p, s)| p ^ s).collect();
        assert_eq!(m.hash(&client_key), stored_key, "server accepts the proof");
        let server_sig = m.hmac(&server_key, auth.as_bytes());
        c.verify_server_final(&format!("v={}", B64.encode(server_sig))).unwrap();
    }

    #[test]
    fn mechanism_names_and_codes() {
        assert_eq!("scram-sha-512".parse::<ScramMechanism>().unwrap(), ScramMechanism::Sha512);
        assert_eq!(ScramMechanism::Sha512.code(), 2);
        assert_eq!(ScramMechanism::from_code(1), Some(ScramMechanism::Sha256));
        assert!("PLAIN".parse::<ScramMechanism>().is_err());
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }
}
