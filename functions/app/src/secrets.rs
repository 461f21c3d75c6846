//! Envelope encryption for credentials and signing keys. Each secret is sealed with its own
//! random data key (AES-256-GCM, from `aws-lc-rs`); the data key is wrapped by a master key —
//! a KMS key in AWS, a key file in local mode — and the additional data binds the sealed blob to
//! the record it belongs to, so it cannot be moved to another. Plaintext never leaves this
//! module except as a [`Secret`], whose `Debug` prints nothing.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("the master key is unavailable: {0}")]
    KeyUnavailable(String),
    /// Wrong key, wrong record, or tampered bytes: indistinguishable by design.
    #[error("the sealed secret cannot be opened")]
    Unopenable,
}

/// Plaintext secret bytes. Never printed, and wiped when dropped.
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
    pub fn expose_str(&self) -> Result<&str, SecretError> {
        std::str::from_utf8(&self.0).map_err(|_| SecretError::Unopenable)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        for b in self.0.iter_mut() {
            // Volatile so the wipe is not optimized away.
            unsafe { std::ptr::write_volatile(b, 0) };
        }
    }
}

/// What is stored: the wrapped data key, the nonce and the ciphertext (with its tag).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    pub v: u8,
    /// Which master key wrapped the data key.
    pub kid: String,
    pub wrapped_key: String,
    pub nonce: String,
    pub ciphertext: String,
}

/// Wraps and unwraps data keys with a master key.
#[async_trait]
pub trait KeyWrapper: Send + Sync + 'static {
    fn kid(&self) -> &str;
    async fn wrap(&self, data_key: &[u8]) -> Result<Vec<u8>, SecretError>;
    async fn unwrap(&self, wrapped: &[u8]) -> Result<Vec<u8>, SecretError>;
}

fn random<const N: usize>() -> Result<[u8; N], SecretError> {
    let mut b = [0u8; N];
    aws_lc_rs::rand::fill(&mut b).map_err(|_| SecretError::KeyUnavailable("no randomness".into()))?;
    Ok(b)
}

fn aead_seal(key: &[u8], aad: &[u8], plaintext: &[u8]) -> Result<(Vec<u8>, Vec<u8>), SecretError> {
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).map_err(|_| SecretError::Unopenable)?);
    let nonce = random::<NONCE_LEN>()?;
    let mut buf = plaintext.to_vec();
    key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), &mut buf)
        .map_err(|_| SecretError::Unopenable)?;
    Ok((nonce.to_vec(), buf))
}

fn aead_open(key: &[u8], aad: &[u8], nonce: &[u8], ciphertext: &[u8]) -> Result<Vec<u8>, SecretError> {
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).map_err(|_| SecretError::Unopenable)?);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SecretError::Unopenable)?;
    let mut buf = ciphertext.to_vec();
    let plain = key
        .open_in_place(nonce, Aad::from(aad), &mut buf)
        .map_err(|_| SecretError::Unopenable)?;
    Ok(plain.to_vec())
}

#[derive(Clone)]
pub struct SecretBox {
    wrapper: Arc<dyn KeyWrapper>,
}

impl SecretBox {
    pub fn new(wrapper: Arc<dyn KeyWrapper>) -> Self {
        Self { wrapper }
    }

    /// Seals `plaintext` for the record named by `context` (e.g. `provider-credential/ws/env`).
    pub async fn seal(&self, context: &str, plaintext: &[u8]) -> Result<Sealed, SecretError> {
        let mut data_key = random::<32>()?;
        let (nonce, ct) = aead_seal(&data_key, context.as_bytes(), plaintext)?;
        let wrapped = self.wrapper.wrap(&data_key).await;
        data_key.iter_mut().for_each(|b| *b = 0);
        Ok(Sealed {
            v: 1,
            kid: self.wrapper.kid().to_owned(),
            wrapped_key: B64.encode(wrapped?),
            nonce: B64.encode(nonce),
            ciphertext: B64.encode(ct),
        })
    }

    pub async fn open(&self, context: &str, sealed: &Sealed) -> Result<Secret, SecretError> {
        let d = |s: &str| B64.decode(s).map_err(|_| SecretError::Unopenable);
        let data_key = Secret::new(self.wrapper.unwrap(&d(&sealed.wrapped_key)?).await?);
        let plain = aead_open(
            data_key.expose(),
            context.as_bytes(),
            &d(&sealed.nonce)?,
            &d(&sealed.ciphertext)?,
        )?;
        Ok(Secret::new(plain))
    }
}

/// Local mode: a 256-bit master key in a file only the owner can read.
pub struct LocalKeyFile {
    key: Secret,
    kid: String,
}

impl LocalKeyFile {
    /// Loads the key at `path`, creating it (mode 0600) on first use.
    pub fn open(path: &Path) -> Result<Self, SecretError> {
        let err = |e: std::io::Error| SecretError::KeyUnavailable(format!("{}: {e}", path.display()));
        let key = match std::fs::read(path) {
            Ok(k) if k.len() == 32 => k,
            Ok(_) => {
                return Err(SecretError::KeyUnavailable(format!(
                    "{} is not a 32-byte key",
                    path.display()
                )));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(err)?;
                }
                let k = random::<32>()?.to_vec();
                write_private(path, &k).map_err(err)?;
                k
            }
            Err(e) => return Err(err(e)),
        };
        let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &key);
        let kid = format!(
            "local:{}",
            &base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(d.as_ref())[..12]
        );
        Ok(Self {
            key: Secret::new(key),
            kid,
        })
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

#[async_trait]
impl KeyWrapper for LocalKeyFile {
    fn kid(&self) -> &str {
        &self.kid
    }
    async fn wrap(&self, data_key: &[u8]) -> Result<Vec<u8>, SecretError> {
        let (nonce, ct) = aead_seal(self.key.expose(), b"atlas-data-key", data_key)?;
        Ok([nonce, ct].concat())
    }
    async fn unwrap(&self, wrapped: &[u8]) -> Result<Vec<u8>, SecretError> {
        if wrapped.len() < NONCE_LEN {
            return Err(SecretError::Unopenable);
        }
        let (nonce, ct) = wrapped.split_at(NONCE_LEN);
        aead_open(self.key.expose(), b"atlas-data-key", nonce, ct)
    }
}

/// AWS mode: data keys wrapped by a KMS key (`Encrypt`/`Decrypt`; the function's role may use
/// only that key). The encryption context names the purpose, as the local wrapper's AAD does.
pub struct KmsKey {
    client: aws_sdk_kms::Client,
    key_id: String,
}

impl KmsKey {
    pub fn new(client: aws_sdk_kms::Client, key_id: impl Into<String>) -> Self {
        Self {
            client,
            key_id: key_id.into(),
        }
    }
}

#[async_trait]
impl KeyWrapper for KmsKey {
    fn kid(&self) -> &str {
        &self.key_id
    }
    async fn wrap(&self, data_key: &[u8]) -> Result<Vec<u8>, SecretError> {
        let out = self
            .client
            .encrypt()
            .key_id(&self.key_id)
            .plaintext(aws_sdk_kms::primitives::Blob::new(data_key))
            .encryption_context("purpose", "atlas-data-key")
            .send()
            .await
            .map_err(|e| SecretError::KeyUnavailable(aws_sdk_kms::error::DisplayErrorContext(&e).to_string()))?;
        out.ciphertext_blob
            .map(|b| b.into_inner())
            .ok_or_else(|| SecretError::KeyUnavailable("KMS returned no ciphertext".into()))
    }
    async fn unwrap(&self, wrapped: &[u8]) -> Result<Vec<u8>, SecretError> {
        let out = self
            .client
            .decrypt()
            .key_id(&self.key_id)
            .ciphertext_blob(aws_sdk_kms::primitives::Blob::new(wrapped))
            .encryption_context("purpose", "atlas-data-key")
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(aws_sdk_kms::operation::decrypt::DecryptError::InvalidCiphertextException(_)) => {
                    SecretError::Unopenable
                }
                _ => SecretError::KeyUnavailable(aws_sdk_kms::error::DisplayErrorContext(&e).to_string()),
            })?;
        out.plaintext.map(|b| b.into_inner()).ok_or(SecretError::Unopenable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key file's directory, removed with the key when the test ends (even when it fails).
    struct KeyDir {
        dir: std::path::PathBuf,
        path: std::path::PathBuf,
    }

    impl Drop for KeyDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn temp_key() -> (KeyDir, LocalKeyFile) {
        let dir = std::env::temp_dir().join(format!("atlas-secrets-{}-{}", std::process::id(), ulid::Ulid::new()));
        let path = dir.join("master.key");
        let k = LocalKeyFile::open(&path).unwrap();
        (KeyDir { dir, path }, k)
    }

    #[test]
    fn a_temp_key_is_removed_with_its_directory() {
        let (guard, _key) = temp_key();
        let (dir, path) = (guard.dir.clone(), guard.path.clone());
        assert!(path.exists());
        drop(guard);
        assert!(!dir.exists(), "{}", dir.display());
    }

    #[tokio::test]
    async fn seal_open_roundtrip_and_binding() {
        let (key_dir, key) = temp_key();
        let path = &key_dir.path;
        let sb = SecretBox::new(Arc::new(key));
        let sealed = sb.seal("cred/ws-a/env-1", b"s3cret-value").await.unwrap();
        assert!(!sealed.ciphertext.contains("s3cret"));
        assert_eq!(
            sb.open("cred/ws-a/env-1", &sealed).await.unwrap().expose(),
            b"s3cret-value"
        );
        assert!(
            matches!(sb.open("cred/ws-a/env-2", &sealed).await, Err(SecretError::Unopenable)),
            "bound to its record"
        );
        let mut tampered = sealed.clone();
        tampered.ciphertext = B64.encode(b"garbage-garbage-garbage-garbage");
        assert!(sb.open("cred/ws-a/env-1", &tampered).await.is_err());
        // The same key file reopens to the same key; a different one cannot open.
        let again = SecretBox::new(Arc::new(LocalKeyFile::open(path).unwrap()));
        assert_eq!(
            again.open("cred/ws-a/env-1", &sealed).await.unwrap().expose(),
            b"s3cret-value"
        );
        let (_other_dir, other) = temp_key();
        assert!(
            SecretBox::new(Arc::new(other))
                .open("cred/ws-a/env-1", &sealed)
                .await
                .is_err()
        );
        assert_eq!(format!("{:?}", Secret::new(b"x".to_vec())), "Secret([redacted])");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(std::fs::metadata(path).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }
}
