//! The manifest's signer in AWS: a KMS asymmetric key (`kms:Sign`, `kms:GetPublicKey`), ADR 0032.
//! Ed25519 (`ECC_NIST_EDWARDS25519`, `ED25519_SHA_512`) where the region offers it, else P-256
//! ECDSA (`ECC_NIST_P256`, `ECDSA_SHA_256`); the algorithm is a template parameter.

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{MessageType, SigningAlgorithmSpec};
use base64::Engine as _;
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use crate::error::{ServiceError, ServiceResult};

/// KMS's limit on a `RAW` message.
pub const RAW_LIMIT: usize = 4096;

/// The signature algorithms a pack may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Ed25519,
    EcdsaP256Sha256,
}

impl Algorithm {
    /// `ED25519_SHA_512` or `ECDSA_SHA_256` (KMS's names); anything else is a configuration error.
    pub fn from_kms(name: &str) -> Option<Self> {
        match name {
            "ED25519_SHA_512" => Some(Self::Ed25519),
            "ECDSA_SHA_256" => Some(Self::EcdsaP256Sha256),
            _ => None,
        }
    }

    /// What `manifest.json` names.
    pub fn manifest_name(self) -> &'static str {
        match self {
            Self::Ed25519 => "Ed25519",
            Self::EcdsaP256Sha256 => "ECDSA-P256-SHA256",
        }
    }

    /// The README's command that checks `manifest.sig`.
    pub fn verify_command(self) -> &'static str {
        match self {
            Self::Ed25519 => {
                "openssl pkeyutl -verify -pubin -inkey public_key.pem -rawin -in manifest.json -sigfile manifest.sig"
            }
            Self::EcdsaP256Sha256 => {
                "openssl dgst -sha256 -verify public_key.pem -signature manifest.sig manifest.json"
            }
        }
    }

    /// How the README describes `manifest.sig`.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Ed25519 => "an Ed25519 signature",
            Self::EcdsaP256Sha256 => "an ECDSA P-256 signature (SHA-256, DER-encoded)",
        }
    }

    fn kms(self) -> SigningAlgorithmSpec {
        match self {
            Self::Ed25519 => SigningAlgorithmSpec::from("ED25519_SHA_512"),
            Self::EcdsaP256Sha256 => SigningAlgorithmSpec::EcdsaSha256,
        }
    }
}

pub struct KmsSigner {
    client: aws_sdk_kms::Client,
    pub key_id: String,
    pub algorithm: Algorithm,
    public_pem: OnceCell<String>,
}

fn kms_err(what: &str, e: impl std::fmt::Display) -> ServiceError {
    ServiceError::Transient(format!("evidence signing (KMS {what}): {e}").into())
}

impl KmsSigner {
    pub fn new(client: aws_sdk_kms::Client, key_id: impl Into<String>, algorithm: Algorithm) -> Self {
        Self {
            client,
            key_id: key_id.into(),
            algorithm,
            public_pem: OnceCell::new(),
        }
    }

    /// `kms:Sign` over the message's exact bytes (`MessageType RAW`). Over KMS's 4 KiB `RAW` limit
    /// an ECDSA signature is asked for the SHA-256 digest (`DIGEST`: the same signature);
    /// Ed25519 has no such equivalent (ED25519_PH is another algorithm), so it fails.
    pub async fn sign(&self, msg: &[u8]) -> ServiceResult<Vec<u8>> {
        let (message, kind) = if msg.len() <= RAW_LIMIT {
            (msg.to_vec(), MessageType::Raw)
        } else if self.algorithm == Algorithm::EcdsaP256Sha256 {
            (Sha256::digest(msg).to_vec(), MessageType::Digest)
        } else {
            return Err(ServiceError::Permanent(format!(
                "the manifest is {} bytes; KMS signs at most {RAW_LIMIT} with Ed25519",
                msg.len()
            )));
        };
        let out = self
            .client
            .sign()
            .key_id(&self.key_id)
            .message(Blob::new(message))
            .message_type(kind)
            .signing_algorithm(self.algorithm.kms())
            .send()
            .await
            .map_err(|e| kms_err("Sign", aws_sdk_kms::error::DisplayErrorContext(&e)))?;
        out.signature
            .map(Blob::into_inner)
            .ok_or_else(|| kms_err("Sign", "no signature returned"))
    }

    /// `kms:GetPublicKey` as PEM (asked once per process).
    pub async fn public_pem(&self) -> ServiceResult<String> {
        self.public_pem
            .get_or_try_init(|| async {
                let out = self
                    .client
                    .get_public_key()
                    .key_id(&self.key_id)
                    .send()
                    .await
                    .map_err(|e| kms_err("GetPublicKey", aws_sdk_kms::error::DisplayErrorContext(&e)))?;
                let der = out
                    .public_key
                    .map(Blob::into_inner)
                    .ok_or_else(|| kms_err("GetPublicKey", "no key returned"))?;
                Ok(pem(&der))
            })
            .await
            .cloned()
    }
}

/// A DER SubjectPublicKeyInfo as PEM, 64 characters a line.
pub fn pem(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN PUBLIC KEY-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END PUBLIC KEY-----\n");
    out
}
