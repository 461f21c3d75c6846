//! App credentials: a client secret, or a certificate that signs a client assertion (RFC 7523).
//! `Debug` never prints a secret or key material.

use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest::{SHA1_FOR_LEGACY_USE_ONLY, SHA256, digest};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::json;

use crate::GraphError;

/// An app registration as Graph sees it.
#[derive(Clone, Debug)]
pub struct AppIdentity {
    pub client_id: String,
    pub credential: Credential,
}

impl AppIdentity {
    pub fn with_secret(client_id: impl Into<String>, secret: impl Into<String>) -> Self {
        AppIdentity {
            client_id: client_id.into(),
            credential: Credential::Secret(ClientSecret::new(secret)),
        }
    }

    pub fn with_certificate(client_id: impl Into<String>, certificate: CertificateCredential) -> Self {
        AppIdentity {
            client_id: client_id.into(),
            credential: Credential::Certificate(certificate),
        }
    }
}

#[derive(Clone, Debug)]
pub enum Credential {
    Secret(ClientSecret),
    Certificate(CertificateCredential),
}

/// A client secret; its `Debug` is redacted.
#[derive(Clone)]
pub struct ClientSecret(Arc<str>);

impl ClientSecret {
    pub fn new(secret: impl Into<String>) -> Self {
        ClientSecret(Arc::from(secret.into()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret(<redacted>)")
    }
}

/// An RSA private key and the thumbprints of its certificate, as registered on the app.
#[derive(Clone)]
pub struct CertificateCredential {
    key: Arc<RsaKeyPair>,
    x5t: String,
    x5t_s256: String,
}

impl fmt::Debug for CertificateCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateCredential")
            .field("x5t#S256", &self.x5t_s256)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl CertificateCredential {
    /// `private_key_pem`: `PRIVATE KEY` (PKCS#8) or `RSA PRIVATE KEY` (PKCS#1), unencrypted.
    /// `certificate_pem`: the `CERTIFICATE` uploaded to the app. One combined PEM may be passed as both.
    pub fn from_pem(private_key_pem: &str, certificate_pem: &str) -> Result<Self, GraphError> {
        let cert = pem_block(certificate_pem, "CERTIFICATE")
            .ok_or_else(|| invalid("no CERTIFICATE block in the certificate PEM"))??;
        Self::from_pem_key_and_der_cert(private_key_pem, &cert)
    }

    /// As [`Self::from_pem`], with the certificate as DER.
    pub fn from_pem_key_and_der_cert(private_key_pem: &str, certificate_der: &[u8]) -> Result<Self, GraphError> {
        let key = if let Some(der) = pem_block(private_key_pem, "PRIVATE KEY") {
            RsaKeyPair::from_pkcs8(&der?).map_err(|e| invalid(&format!("PKCS#8 private key rejected: {e}")))?
        } else if let Some(der) = pem_block(private_key_pem, "RSA PRIVATE KEY") {
            RsaKeyPair::from_der(&der?).map_err(|e| invalid(&format!("PKCS#1 private key rejected: {e}")))?
        } else if private_key_pem.contains("ENCRYPTED PRIVATE KEY") {
            return Err(invalid("encrypted private keys are not supported; decrypt it first"));
        } else {
            return Err(invalid("no RSA private key block in the key PEM"));
        };
        if certificate_der.is_empty() {
            return Err(invalid("empty certificate"));
        }
        Ok(CertificateCredential {
            key: Arc::new(key),
            x5t: URL_SAFE_NO_PAD.encode(digest(&SHA1_FOR_LEGACY_USE_ONLY, certificate_der)),
            x5t_s256: URL_SAFE_NO_PAD.encode(digest(&SHA256, certificate_der)),
        })
    }

    /// base64url SHA-1 thumbprint of the certificate (JWT header `x5t`).
    pub fn x5t(&self) -> &str {
        &self.x5t
    }

    /// base64url SHA-256 thumbprint of the certificate (JWT header `x5t#S256`).
    pub fn x5t_s256(&self) -> &str {
        &self.x5t_s256
    }

    /// A signed client assertion for `client_id`, addressed to the token endpoint `audience`
    /// (Entra: "certificate credentials": `aud` = token URL, `iss` = `sub` = client id, unique `jti`,
    /// short `exp`). Both thumbprint headers are sent: `x5t#S256` is current, `x5t` still accepted.
    pub fn client_assertion(&self, client_id: &str, audience: &str) -> Result<String, GraphError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|_| invalid("system clock before 1970"))?
            .as_secs();
        let header = json!({"alg": "RS256", "typ": "JWT", "x5t": self.x5t, "x5t#S256": self.x5t_s256});
        let claims = json!({
            "aud": audience,
            "iss": client_id,
            "sub": client_id,
            "jti": crate::new_guid(),
            "iat": now,
            "nbf": now,
            "exp": now + 600,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0u8; self.key.public_modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| invalid("signing the client assertion failed"))?;
        Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}

fn invalid(message: &str) -> GraphError {
    GraphError::InvalidInput(message.to_owned())
}

/// The DER inside the first `-----BEGIN {label}-----` block, if there is one.
fn pem_block(pem: &str, label: &str) -> Option<Result<Vec<u8>, GraphError>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin)? + begin.len();
    let Some(len) = pem[start..].find(&end) else {
        return Some(Err(invalid(&format!("unterminated {label} block"))));
    };
    let body: String = pem[start..start + len].chars().filter(|c| !c.is_whitespace()).collect();
    Some(
        STANDARD
            .decode(body)
            .map_err(|e| invalid(&format!("{label} block is not base64: {e}"))),
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::rsa::KeySize;
    use aws_lc_rs::signature::KeyPair;

    pub(crate) fn pem(label: &str, der: &[u8]) -> String {
        let b64 = STANDARD.encode(der);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
    }

    /// A fresh key (PKCS#8 PEM), its public key (PKCS#1 DER) and a stand-in certificate DER.
    pub(crate) fn test_key() -> (String, Vec<u8>, Vec<u8>) {
        let kp = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        let pkcs8 = kp.as_der().unwrap();
        let public = kp.public_key().as_ref().to_vec();
        (
            pem("PRIVATE KEY", pkcs8.as_ref()),
            public,
            b"not really a certificate".to_vec(),
        )
    }

    #[test]
    fn assertion_is_an_rs256_jwt_with_thumbprints_and_entra_claims() {
        let (key_pem, public_der, cert_der) = test_key();
        let cert_pem = pem("CERTIFICATE", &cert_der);
        let combined = format!("{key_pem}{cert_pem}");
        let cred = CertificateCredential::from_pem(&combined, &combined).unwrap();
        let aud = "https://login.microsoftonline.com/tid/oauth2/v2.0/token";
        let jwt = cred.client_assertion("app-1", aud).unwrap();

        let header = jsonwebtoken::decode_header(&jwt).unwrap();
        assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
        assert_eq!(
            header.x5t.as_deref(),
            Some(
                URL_SAFE_NO_PAD
                    .encode(digest(&SHA1_FOR_LEGACY_USE_ONLY, &cert_der))
                    .as_str()
            )
        );
        assert_eq!(header.x5t_s256.as_deref(), Some(cred.x5t_s256()));
        assert_eq!(URL_SAFE_NO_PAD.decode(cred.x5t()).unwrap().len(), 20);
        assert_eq!(URL_SAFE_NO_PAD.decode(cred.x5t_s256()).unwrap().len(), 32);

        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.set_audience(&[aud]);
        validation.set_issuer(&["app-1"]);
        validation.set_required_spec_claims(&["exp", "aud", "iss", "sub", "nbf"]);
        let key = jsonwebtoken::DecodingKey::from_rsa_der(&public_der);
        let data = jsonwebtoken::decode::<serde_json::Value>(&jwt, &key, &validation).unwrap();
        assert_eq!(data.claims["sub"], "app-1");
        assert_eq!(data.claims["jti"].as_str().unwrap().len(), 36);

        // Each assertion gets its own jti.
        let again =
            jsonwebtoken::decode::<serde_json::Value>(&cred.client_assertion("app-1", aud).unwrap(), &key, &validation)
                .unwrap();
        assert_ne!(again.claims["jti"], data.claims["jti"]);
    }

    #[test]
    fn bad_key_material_is_rejected_up_front() {
        let (key_pem, _, cert_der) = test_key();
        let cert_pem = pem("CERTIFICATE", &cert_der);
        assert!(CertificateCredential::from_pem("nothing here", &cert_pem).is_err());
        assert!(CertificateCredential::from_pem(&key_pem, "no cert").is_err());
        assert!(CertificateCredential::from_pem(&pem("PRIVATE KEY", b"junk"), &cert_pem).is_err());
        assert!(
            CertificateCredential::from_pem(
                "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAA==\n-----END ENCRYPTED PRIVATE KEY-----",
                &cert_pem
            )
            .is_err()
        );
    }

    #[test]
    fn debug_never_shows_secrets() {
        let (key_pem, _, cert_der) = test_key();
        let cred = CertificateCredential::from_pem_key_and_der_cert(&key_pem, &cert_der).unwrap();
        let app = AppIdentity::with_certificate("app", cred);
        let shown = format!("{app:?}");
        assert!(shown.contains("<redacted>"));
        assert!(!shown.contains("MII"));

        let app = AppIdentity::with_secret("app", "s3cr3t-value");
        let shown = format!("{app:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }
}
