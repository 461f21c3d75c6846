//! Evidence packs (spec 018, ADR 0030): a ZIP an auditor verifies offline. `POST …/evidence`
//! starts an `evidence.build` run with the pack's record; its one unit reads the period's records,
//! writes the JSON files, `audit.jsonl`, `summary.html` and `README.txt`, then `manifest.json`
//! (every file's SHA-256 and size), `SHA256SUMS`, an Ed25519 signature over the manifest's bytes
//! and the public key. Stored under the evidence directory, or in S3 in AWS (ADR 0032: SSE-KMS,
//! Object Lock until the pack's retention date, a KMS key signing the manifest); downloaded
//! through a link carrying an HMAC token valid five minutes, or in AWS a presigned S3 GET valid
//! 60 seconds. Packs past their retention are deleted by the scheduler's sweep.

pub mod kms;
pub mod s3;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use atlas_api_types as api;
use atlas_domain::{EnvironmentId, ItemResult, OperationType, RunOutcome, WorkspaceId, redact};
use atlas_store::Item;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::error::{ServiceError, ServiceResult};
use crate::records::audit::{self as audit_records, AuditEventRecord};
use crate::records::evidence::{
    self as rec, EvidencePackRecord, EvidenceSettingsRecord, LinkKeyRecord, env_parts, ws_parts,
};
use crate::records::runs::OperationRun;
use crate::records::{self, Record};
use crate::scope::{Entitlement, WorkspaceScope};
use crate::state::AppState;

pub const QUEUE: &str = "evidence-build";
pub const FUNCTION: &str = "step-evidence-build";
pub const DEADLINE_MS: i64 = 15 * 60_000;
/// How long a download link works.
pub const LINK_TTL_MS: i64 = 5 * 60_000;
/// How long a presigned S3 GET works (AWS).
pub const PRESIGNED_TTL: Duration = Duration::from_secs(60);
const DAY_MS: i64 = 86_400_000;
/// The longest period one pack covers.
pub const MAX_PERIOD_MS: i64 = 400 * 86_400_000;
/// What `manifest.json` names as its generator.
pub const GENERATOR: &str = concat!("tenantatlas-evidence/", env!("CARGO_PKG_VERSION"));

/// What a function needs of the evidence bucket and keys in AWS (the template's generated part
/// grants it, ADR 0032): the build step stores and signs (and keys pseudonyms with the sealed
/// link key), the link route presigns GETs (a presigned URL carries its signer's permissions),
/// the download route reads with the link key, and the scheduler's sweep deletes.
pub struct AwsAccess {
    pub s3: &'static [&'static str],
    pub sign: bool,
    pub link_key: bool,
}

pub fn aws_access(function: &str) -> Option<AwsAccess> {
    let (s3, sign, link_key): (&'static [&'static str], bool, bool) = match function {
        FUNCTION => (&["s3:PutObject", "s3:PutObjectRetention"], true, true),
        "post-evidence-link" => (&["s3:GetObject"], false, false),
        "get-evidence-download" => (&["s3:GetObject"], false, true),
        crate::scheduler::FUNCTION => (&["s3:DeleteObject", "s3:DeleteObjectVersion"], false, false),
        _ => return None,
    };
    Some(AwsAccess { s3, sign, link_key })
}

impl AwsAccess {
    /// The environment lines (under `Variables:`).
    pub fn variables(&self) -> String {
        let mut v = String::from("          ATLAS_EVIDENCE_BUCKET: !Ref EvidenceBucket\n");
        if self.sign {
            v.push_str("          ATLAS_EVIDENCE_KEY_ID: !GetAtt EvidenceSigningKey.Arn\n");
            v.push_str("          ATLAS_EVIDENCE_SIGNING_ALGORITHM: !Ref EvidenceSigningAlgorithm\n");
        }
        v
    }

    /// The policy statements (under `Statement:`). `secrets`: the function already has
    /// `kms:Encrypt`/`Decrypt` on the product key.
    pub fn statements(&self, secrets: bool) -> String {
        let mut v = format!(
            "            - Effect: Allow\n              Action: [{}]\n              Resource: !Sub \"${{EvidenceBucket.Arn}}/evidence/*\"\n",
            self.s3.join(", ")
        );
        // SSE-KMS with the product key: a put makes a data key, a get opens it; the link key
        // is sealed by the same key.
        let mut kms: Vec<&str> = Vec::new();
        if self.s3.contains(&"s3:PutObject") {
            kms.push("kms:GenerateDataKey");
        }
        if !secrets && (self.link_key || self.s3.iter().any(|a| *a == "s3:PutObject" || *a == "s3:GetObject")) {
            kms.push("kms:Decrypt");
        }
        if !secrets && self.link_key {
            kms.push("kms:Encrypt");
        }
        if !kms.is_empty() {
            v.push_str(&format!(
                "            - Effect: Allow\n              Action: [{}]\n              Resource: !GetAtt SecretsKey.Arn\n",
                kms.join(", ")
            ));
        }
        if self.sign {
            v.push_str(
                "            - Effect: Allow\n              Action: [kms:Sign, kms:GetPublicKey]\n              Resource: !GetAtt EvidenceSigningKey.Arn\n",
            );
        }
        v
    }
}

/// The DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): the 32 key bytes follow.
const ED25519_SPKI_PREFIX: [u8; 12] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];

/// Where packs live, what signs them, and the link key (ADR 0030, 0032).
pub struct EvidenceStore {
    /// The local signing key's directory (and the packs', stored locally).
    dir: PathBuf,
    key: OnceLock<Arc<SigningKey>>,
    packs: PackStore,
    /// In AWS: the KMS key that signs manifests; `None` signs with the local Ed25519 key.
    kms: Option<kms::KmsSigner>,
    /// In AWS: the link and pseudonym secret, sealed in the table.
    sealed_link_key: tokio::sync::OnceCell<[u8; 32]>,
}

/// Where the ZIPs are.
pub enum PackStore {
    /// `<dir>/<ws>/<pack>.zip`, written to `.part` and renamed.
    Local { dir: PathBuf },
    /// `<prefix><ws>/<pack>.zip` in a bucket with Object Lock.
    S3(s3::S3Store),
}

pub struct SigningKey {
    pair: Ed25519KeyPair,
    /// Derived from the private key: authenticates download links.
    link_key: [u8; 32],
}

impl EvidenceStore {
    /// Packs and the Ed25519 key in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        let dir = dir.into();
        Self::with(dir.clone(), PackStore::Local { dir }, None)
    }

    pub fn with(dir: PathBuf, packs: PackStore, kms: Option<kms::KmsSigner>) -> Self {
        Self {
            dir,
            key: OnceLock::new(),
            packs,
            kms,
            sealed_link_key: tokio::sync::OnceCell::new(),
        }
    }

    pub fn packs(&self) -> &PackStore {
        &self.packs
    }

    /// The signature algorithm of new packs.
    pub fn algorithm(&self) -> kms::Algorithm {
        self.kms.as_ref().map_or(kms::Algorithm::Ed25519, |k| k.algorithm)
    }

    /// Which key signs: the KMS key's id, or `local:<first 16 hex of the public key's SHA-256>`.
    pub fn key_id(&self) -> ServiceResult<String> {
        match &self.kms {
            Some(k) => Ok(k.key_id.clone()),
            None => Ok(format!(
                "local:{}",
                &hex(&Sha256::digest(self.key()?.pair.public_key().as_ref()))[..16]
            )),
        }
    }

    pub async fn sign(&self, msg: &[u8]) -> ServiceResult<Vec<u8>> {
        match &self.kms {
            Some(k) => k.sign(msg).await,
            None => Ok(self.key()?.sign(msg)),
        }
    }

    pub async fn public_pem(&self) -> ServiceResult<String> {
        match &self.kms {
            Some(k) => k.public_pem().await,
            None => Ok(self.key()?.public_pem()),
        }
    }

    /// The secret download links and e-mail pseudonyms are keyed with: derived from the local
    /// signing key, or in AWS (packs in S3 or a KMS signer) a random key sealed by the master key
    /// in the table (created once; ADR 0032), the same in every function.
    pub async fn link_key(&self, state: &AppState) -> ServiceResult<[u8; 32]> {
        if self.kms.is_none() && matches!(self.packs, PackStore::Local { .. }) {
            return Ok(self.key()?.link_key);
        }
        self.sealed_link_key
            .get_or_try_init(|| sealed_link_key(state))
            .await
            .copied()
    }

    /// Stores the ZIP; in S3 locked until `retain_until_ms`. Returns the object's version.
    pub async fn put(
        &self,
        ws: &WorkspaceId,
        pack: &str,
        zip: Vec<u8>,
        retain_until_ms: i64,
    ) -> ServiceResult<Option<String>> {
        // Counted as the S3 request it is in AWS, locally too (issue 21).
        crate::metering::global().s3(false);
        match &self.packs {
            PackStore::Local { .. } => {
                write_atomically(&self.path(ws, pack), &zip).await?;
                Ok(None)
            }
            PackStore::S3(s3) => Ok(s3
                .put(&s3.key(ws.as_str(), pack)?, zip, retain_until_ms)
                .await?
                .version_id),
        }
    }

    pub async fn read(&self, ws: &WorkspaceId, pack: &str) -> ServiceResult<Vec<u8>> {
        crate::metering::global().s3(true);
        match &self.packs {
            PackStore::Local { .. } => tokio::fs::read(self.path(ws, pack)).await.map_err(io),
            PackStore::S3(s3) => s3.get(&s3.key(ws.as_str(), pack)?).await,
        }
    }

    /// Deletes the ZIP (gone already: fine). In S3 the locked version, which Object Lock refuses
    /// before its retention date.
    pub async fn delete(&self, ws: &WorkspaceId, pack: &str, version: Option<&str>) -> ServiceResult<()> {
        crate::metering::global().s3(false);
        match &self.packs {
            PackStore::Local { .. } => match tokio::fs::remove_file(self.path(ws, pack)).await {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(io(e)),
            },
            PackStore::S3(s3) => s3.delete(&s3.key(ws.as_str(), pack)?, version).await,
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The pack's ZIP stored locally: `<dir>/<ws>/<pack>.zip`.
    pub fn path(&self, ws: &WorkspaceId, pack: &str) -> PathBuf {
        let dir = match &self.packs {
            PackStore::Local { dir } => dir,
            PackStore::S3(_) => &self.dir,
        };
        dir.join(ws.as_str()).join(format!("{pack}.zip"))
    }

    /// The local Ed25519 key, generated once into `<dir>/signing-key.pk8` (mode 0600). In AWS a
    /// KMS asymmetric key signs instead (ADR 0032).
    pub fn key(&self) -> ServiceResult<Arc<SigningKey>> {
        if let Some(k) = self.key.get() {
            return Ok(k.clone());
        }
        let k = Arc::new(load_or_create_key(&self.dir.join("signing-key.pk8"))?);
        Ok(self.key.get_or_init(|| k).clone())
    }
}

/// The link key in AWS: read, or made (32 random bytes sealed by the master key) by whoever
/// comes first.
async fn sealed_link_key(state: &AppState) -> ServiceResult<[u8; 32]> {
    const CONTEXT: &str = "evidence-link-key";
    // KMS unavailable: worth a retry; a blob that does not open: not.
    let secret_err = |e: crate::secrets::SecretError| match e {
        crate::secrets::SecretError::KeyUnavailable(_) => ServiceError::Transient(Box::new(e)),
        crate::secrets::SecretError::Unopenable => ServiceError::Permanent(format!("evidence link key: {e}")),
    };
    let open = |r: LinkKeyRecord| async move {
        let s = state.secrets.open(CONTEXT, &r.sealed).await.map_err(secret_err)?;
        <[u8; 32]>::try_from(s.expose())
            .map_err(|_| ServiceError::Permanent("the evidence link key is not 32 bytes".into()))
    };
    if let Some(r) = records::get::<LinkKeyRecord>(&state.table, &rec::link_key_key()).await? {
        return open(r).await;
    }
    let mut fresh = [0u8; 32];
    aws_lc_rs::rand::fill(&mut fresh).map_err(|_| io("no randomness"))?;
    let sealed = state.secrets.seal(CONTEXT, &fresh).await.map_err(secret_err)?;
    let item = LinkKeyRecord { sealed }.to_item();
    match state.table.put(item, Some(atlas_store::Cond::NotExists)).await {
        Ok(()) => Ok(fresh),
        Err(atlas_store::TableError::ConditionFailed) => {
            let theirs = records::get::<LinkKeyRecord>(&state.table, &rec::link_key_key())
                .await?
                .ok_or_else(|| io("the evidence link key vanished"))?;
            open(theirs).await
        }
        Err(e) => Err(e.into()),
    }
}

fn io(e: impl std::fmt::Display) -> ServiceError {
    ServiceError::Permanent(format!("evidence storage: {e}"))
}

fn load_or_create_key(path: &Path) -> ServiceResult<SigningKey> {
    let pkcs8 = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(io)?;
            }
            let rng = aws_lc_rs::rand::SystemRandom::new();
            let doc = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| io("key generation failed"))?;
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o600);
            }
            match opts.open(path) {
                Ok(mut f) => {
                    f.write_all(doc.as_ref()).map_err(io)?;
                    f.sync_all().map_err(io)?;
                    doc.as_ref().to_vec()
                }
                // Another process made it first: use theirs.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => std::fs::read(path).map_err(io)?,
                Err(e) => return Err(io(e)),
            }
        }
        Err(e) => return Err(io(e)),
    };
    let pair =
        Ed25519KeyPair::from_pkcs8(&pkcs8).map_err(|_| io("the signing key file is not an Ed25519 PKCS#8 key"))?;
    let mut h = Sha256::new();
    h.update(b"tenantatlas evidence link v1\n");
    h.update(&pkcs8);
    Ok(SigningKey {
        pair,
        link_key: h.finalize().into(),
    })
}

impl SigningKey {
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        self.pair.sign(msg).as_ref().to_vec()
    }

    /// The public key as a PEM SubjectPublicKeyInfo (what `openssl pkeyutl -pubin` reads).
    pub fn public_pem(&self) -> String {
        let mut der = ED25519_SPKI_PREFIX.to_vec();
        der.extend_from_slice(self.pair.public_key().as_ref());
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        format!("-----BEGIN PUBLIC KEY-----\n{b64}\n-----END PUBLIC KEY-----\n")
    }
}

fn mac(key: &[u8; 32], msg: &[u8]) -> Vec<u8> {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(msg);
    m.finalize().into_bytes().to_vec()
}

pub fn hex(bytes: &[u8]) -> String {
    crate::audit::hex(bytes)
}

// ---- starting, listing, links ----

/// The request checked: the environment (entitled and existing, else 404), the period (400 with
/// field errors), and a workspace-wide pack only for a member who sees every environment.
pub async fn start(state: &AppState, scope: &WorkspaceScope, body: api::EvidenceStart) -> ServiceResult<OperationRun> {
    let mut f = crate::error::Fields::default();
    let env = match body.environment_id.as_deref() {
        None => None,
        Some(raw) => match EnvironmentId::parse(raw) {
            Ok(e) => Some(e),
            Err(_) => {
                f.push("environment_id", "is not an environment id");
                None
            }
        },
    };
    let now = state.clock.now_millis();
    if body.from < 0 {
        f.push("from", "must be a time in Unix milliseconds");
    }
    if body.to <= body.from {
        f.push("to", "must be after `from`");
    } else if body.to - body.from > MAX_PERIOD_MS {
        f.push("to", "must be at most 400 days after `from`");
    }
    if body.from > now {
        f.push("from", "must not be in the future");
    }
    f.checked()?;
    match &env {
        Some(e) => {
            let exists = scope
                .records(&state.table)
                .get::<crate::records::tenancy::EnvironmentRecord>(crate::records::tenancy::env_sk(e))
                .await?
                .is_some();
            if !scope.entitled_to(e) || !exists {
                return Err(ServiceError::NotFound);
            }
        }
        None if *scope.entitlement() != Entitlement::All => {
            return Err(ServiceError::Refused(
                "a workspace-wide evidence pack needs access to every environment; choose one".into(),
            ));
        }
        None => {}
    }
    let retention = settings(state, scope.workspace_id()).await?.retention_days;
    let start = crate::runs::Start::new(
        state,
        OperationType::EvidenceBuild,
        QUEUE,
        vec![("pack".into(), json!({}))],
        DEADLINE_MS,
    );
    let pack = EvidencePackRecord {
        workspace_id: scope.workspace_id().clone(),
        pack_id: start.id.clone(),
        environment_id: env.clone(),
        status: "building".into(),
        from_ms: body.from,
        to_ms: body.to,
        created_ms: now,
        created_by: scope.actor().email.clone(),
        run_id: start.id.clone(),
        size: None,
        sha256: None,
        files: None,
        reason: None,
        retain_until_ms: Some(now + i64::from(retention) * DAY_MS),
        object_version: None,
        expired_ms: None,
    };
    let start = start.also(vec![pack.create()], "the evidence pack could not be recorded");
    let started = crate::runs::start_in(state, scope, env.as_ref(), start).await?;
    Ok(started.run)
}

/// A pack's state as a canonical word: building runs, an expired pack is gone.
fn pack_status(state: &str) -> atlas_domain::Status {
    use atlas_domain::Status;
    match state {
        "building" => Status::Running,
        "ready" => Status::Ready,
        "failed" => Status::Failed,
        "expired" => Status::Expired,
        _ => Status::Unknown,
    }
}

pub fn to_api(p: &EvidencePackRecord) -> api::EvidencePack {
    api::EvidencePack {
        id: p.pack_id.clone(),
        workspace_id: p.workspace_id.as_str().to_owned(),
        environment_id: p.environment_id.as_ref().map(|e| e.as_str().to_owned()),
        state: p.status.clone(),
        status: pack_status(&p.status),
        from_ms: p.from_ms,
        to_ms: p.to_ms,
        created_ms: p.created_ms,
        created_by: p.created_by.clone(),
        run_id: p.run_id.clone(),
        size: p.size,
        sha256: p.sha256.clone(),
        files: p.files,
        reason: p.reason.clone(),
        retain_until_ms: p.retain_until_ms,
    }
}

/// Whether `scope` may see the pack: its environment's, or every environment for a workspace pack.
fn visible(scope: &WorkspaceScope, p: &EvidencePackRecord) -> bool {
    match &p.environment_id {
        Some(e) => scope.entitled_to(e),
        None => *scope.entitlement() == Entitlement::All,
    }
}

/// The workspace's packs the reader may see, newest first, optionally of one environment.
pub async fn list(
    state: &AppState,
    scope: &WorkspaceScope,
    env: Option<&EnvironmentId>,
) -> ServiceResult<Vec<api::EvidencePack>> {
    let all: Vec<EvidencePackRecord> = records::query_all(&state.table, rec::packs_of(scope.workspace_id())).await?;
    let mut out = Vec::new();
    for p in all
        .into_iter()
        .filter(|p| visible(scope, p) && env.is_none_or(|e| p.environment_id.as_ref() == Some(e)))
    {
        out.push(to_api(&settled(state, p).await?));
    }
    Ok(out)
}

/// A pack still `building` whose run ended without it (reconciled past its deadline, blocked
/// before it began) is shown `failed`, with the run's reason.
async fn settled(state: &AppState, mut p: EvidencePackRecord) -> ServiceResult<EvidencePackRecord> {
    if p.status == "building"
        && let Some(run) = crate::runs::get(state, &p.run_id).await?
        && !run.is_active()
    {
        p.status = "failed".into();
        p.reason = run
            .reason
            .clone()
            .or_else(|| Some("the build run ended without the pack".into()));
    }
    Ok(p)
}

pub async fn get(state: &AppState, scope: &WorkspaceScope, id: &str) -> ServiceResult<EvidencePackRecord> {
    let p: Option<EvidencePackRecord> = records::get(&state.table, &rec::pack_key(scope.workspace_id(), id)).await?;
    settled(state, p.filter(|p| visible(scope, p)).ok_or(ServiceError::NotFound)?).await
}

/// A download link for a ready pack: `<public url>/api/v1/evidence-download?token=<token>`, or
/// with S3 storage a GET of the object presigned for 60 seconds. Either is issued only here,
/// after the route authorized the caller (404 unless they see the pack, 403 without the
/// capability); an expired pack is 409 like any pack not ready.
pub async fn link(state: &AppState, scope: &WorkspaceScope, id: &str) -> ServiceResult<api::EvidenceLink> {
    let p = get(state, scope, id).await?;
    if p.status != "ready" {
        return Err(ServiceError::Conflict(format!("the pack is {}, not ready", p.status)));
    }
    if let PackStore::S3(s3) = state.evidence.packs() {
        // S3 checks the signature against its own clock: the wall clock, not the app's.
        let now = std::time::SystemTime::now();
        let url = s3
            .presign_get(
                &s3.key(scope.workspace_id().as_str(), id)?,
                PRESIGNED_TTL,
                now,
                Some(&format!("evidence-{id}.zip")),
            )
            .await?;
        let now_ms = now
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        return Ok(api::EvidenceLink {
            url,
            expires_ms: now_ms + PRESIGNED_TTL.as_millis() as i64,
        });
    }
    let expires_ms = state.clock.now_millis() + LINK_TTL_MS;
    let token = token(
        &state.evidence.link_key(state).await?,
        scope.workspace_id(),
        id,
        expires_ms,
    );
    Ok(api::EvidenceLink {
        url: format!(
            "{}{}?token={token}",
            state.public_url.trim_end_matches('/'),
            api::paths::evidence_download()
        ),
        expires_ms,
    })
}

fn b64u() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
}

/// `<base64url(ws.pack.expires)>.<base64url(HMAC-SHA256)>`.
pub fn token(key: &[u8; 32], ws: &WorkspaceId, pack: &str, expires_ms: i64) -> String {
    let claim = format!("{ws}.{pack}.{expires_ms}");
    let mac = mac(key, claim.as_bytes());
    format!("{}.{}", b64u().encode(claim), b64u().encode(mac))
}

/// The pack a token names, if its MAC holds and it has not expired.
pub fn check_token(key: &[u8; 32], token: &str, now_ms: i64) -> Option<(WorkspaceId, String)> {
    let (claim, mac) = token.split_once('.')?;
    let claim = b64u().decode(claim).ok()?;
    let mac = b64u().decode(mac).ok()?;
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key).ok()?;
    m.update(&claim);
    m.verify_slice(&mac).ok()?;
    let claim = String::from_utf8(claim).ok()?;
    let mut parts = claim.splitn(3, '.');
    let (ws, pack, exp) = (parts.next()?, parts.next()?, parts.next()?);
    if exp.parse::<i64>().ok()? < now_ms {
        return None;
    }
    Some((WorkspaceId::parse(ws).ok()?, pack.to_owned()))
}

/// The ZIP a valid link names (and its record), or `None` (expired, forged, gone, or the pack
/// past its retention).
pub async fn download(state: &AppState, token: &str) -> ServiceResult<Option<(EvidencePackRecord, Vec<u8>)>> {
    let key = state.evidence.link_key(state).await?;
    let Some((ws, pack)) = check_token(&key, token, state.clock.now_millis()) else {
        return Ok(None);
    };
    let p: Option<EvidencePackRecord> = records::get(&state.table, &rec::pack_key(&ws, &pack)).await?;
    let Some(p) = p.filter(|p| p.status == "ready") else {
        return Ok(None);
    };
    match state.evidence.read(&ws, &pack).await {
        Ok(bytes) => Ok(Some((p, bytes))),
        Err(ServiceError::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

// ---- settings and retention ----

/// The workspace's evidence settings: the defaults until an owner sets them (`include_emails`
/// then still honours the workspace item's older `evidence_include_emails`).
pub async fn settings(state: &AppState, ws: &WorkspaceId) -> ServiceResult<api::EvidenceSettings> {
    let stored: Option<EvidenceSettingsRecord> = records::get(&state.table, &rec::settings_key(ws)).await?;
    Ok(match stored {
        Some(r) => api::EvidenceSettings {
            retention_days: r.retention_days,
            include_emails: r.include_emails,
        },
        None => {
            let ws_item = state.table.get(&crate::records::tenancy::workspace_key(ws)).await?;
            api::EvidenceSettings {
                include_emails: rec::include_emails(ws_item.as_ref()),
                ..api::EvidenceSettings::default()
            }
        }
    })
}

/// Replaces the settings (400 with field errors and nothing written when invalid), audited with
/// the old and new values. The retention applies to packs started from now on.
pub async fn set_settings(
    state: &AppState,
    scope: &WorkspaceScope,
    body: api::EvidenceSettings,
) -> ServiceResult<api::EvidenceSettings> {
    let mut f = crate::error::Fields::default();
    let (lo, hi) = (
        api::EvidenceSettings::MIN_RETENTION_DAYS,
        api::EvidenceSettings::MAX_RETENTION_DAYS,
    );
    if !(lo..=hi).contains(&body.retention_days) {
        f.push("retention_days", format!("must be {lo} to {hi} days"));
    }
    f.checked()?;
    let ws = scope.workspace_id();
    let old = settings(state, ws).await?;
    let r = EvidenceSettingsRecord {
        workspace_id: ws.clone(),
        retention_days: body.retention_days,
        include_emails: body.include_emails,
        updated_ms: state.clock.now_millis(),
        updated_by: scope.actor().email.clone(),
    };
    let audit = crate::audit::NewEvent::success("evidence_settings.update", "evidence-settings")
        .meta(json!({"old": old, "new": body}));
    crate::audit::commit(state, scope, vec![r.put()], audit).await?;
    Ok(body)
}

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    /// Packs past their retention: ZIP deleted, record marked `expired`.
    pub expired: usize,
    /// Deletions that failed (storage down, or Object Lock still holding): retried next tick.
    pub failed: usize,
}

/// [`sweep`] from the scheduler's tick: a failure is logged, and the next tick retries.
pub async fn sweep_logged(state: &AppState) {
    match sweep(state).await {
        Ok(s) if s != Swept::default() => {
            tracing::info!(expired = s.expired, failed = s.failed, "evidence retention sweep")
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "evidence retention sweep failed; the next tick retries"),
    }
}

/// Deletes the packs past their retention date: the ZIP first (so a failure leaves the pack
/// listed and retried), then the record is marked `expired` and leaves the retention index.
pub async fn sweep(state: &AppState) -> ServiceResult<Swept> {
    let now = state.clock.now_millis();
    let mut out = Swept::default();
    let due: Vec<EvidencePackRecord> = records::query_all(&state.table, rec::packs_due_by(now)).await?;
    for p in due {
        if p.status == "expired" || p.retain_until_ms.is_none_or(|t| t > now) {
            continue;
        }
        if let Err(e) = state
            .evidence
            .delete(&p.workspace_id, &p.pack_id, p.object_version.as_deref())
            .await
        {
            tracing::warn!(error = %e, pack = %p.pack_id, "evidence pack past retention not deleted; the next tick retries");
            out.failed += 1;
            continue;
        }
        let cond = atlas_store::Cond::AttrExists("GSI1PK".into());
        match state
            .table
            .update(
                &rec::pack_key(&p.workspace_id, &p.pack_id),
                &rec::expired(now),
                Some(cond),
            )
            .await
        {
            Ok(_) => out.expired += 1,
            // Another tick swept it first.
            Err(atlas_store::TableError::ConditionFailed) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}

// ---- the step ----

/// The `evidence.build` unit: re-checks the initiator, builds and stores the pack, records it.
pub async fn build_step(state: &AppState, body: &str) -> ServiceResult<()> {
    let m: crate::runs::WorkMessage =
        serde_json::from_str(body).map_err(|e| ServiceError::Permanent(format!("malformed message: {e}")))?;
    let run = match crate::runs::begin(state, &m.run_id).await? {
        crate::runs::Begin::Proceed(run, _) => run,
        crate::runs::Begin::Finished => return Ok(()),
    };
    let ws = run.workspace().map_err(ServiceError::Permanent)?;
    let key = rec::pack_key(&ws, &m.run_id);
    let Some(pack) = records::get::<EvidencePackRecord>(&state.table, &key).await? else {
        crate::runs::finish(
            state,
            &m.run_id,
            RunOutcome::Failed,
            Some("The pack's record is gone.".into()),
        )
        .await?;
        return Ok(());
    };
    let allowed = match crate::tenancy::membership(state, &ws, &run.initiator_id).await? {
        Some(mb) => {
            mb.role.can(atlas_domain::Capability::EvidenceExport)
                && match &pack.environment_id {
                    Some(e) => mb.entitlement.allows(e),
                    None => mb.entitlement == Entitlement::All,
                }
        }
        None => false,
    };
    if !allowed {
        let why = "The initiator lost access.";
        state.table.update(&key, &rec::failed(why), None).await?;
        crate::runs::finish(state, &m.run_id, RunOutcome::Blocked, Some(why.into())).await?;
        return Ok(());
    }
    match build_and_store(state, &ws, &pack).await {
        Ok((built, sha, size, version)) => {
            state
                .table
                .update(&key, &rec::built(size, &sha, built.files, version.as_deref()), None)
                .await?;
            crate::runs::record(
                state,
                &m.run_id,
                &m.item,
                ItemResult::Succeeded,
                json!({"size": size, "sha256": sha, "files": built.files, "objects": built.objects}),
            )
            .await?;
        }
        Err(ServiceError::Permanent(why)) => {
            state.table.update(&key, &rec::failed(&why), None).await?;
            crate::runs::record(state, &m.run_id, &m.item, ItemResult::Failed, json!({"reason": why})).await?;
        }
        Err(e) => return Err(e),
    }
    Ok(())
}

/// Builds the ZIP and stores it: its hash, size and the stored object's version. A failed put
/// fails here, before the record says `ready`: a transient error retries the message like any
/// other, a permanent one marks the pack failed; a pack is never listed ready without its ZIP.
async fn build_and_store(
    state: &AppState,
    ws: &WorkspaceId,
    pack: &EvidencePackRecord,
) -> ServiceResult<(Built, String, u64, Option<String>)> {
    let mut built = build(state, pack).await?;
    let zip = std::mem::take(&mut built.zip);
    let sha = hex(&Sha256::digest(&zip));
    let size = zip.len() as u64;
    let retain_until = pack
        .retain_until_ms
        .unwrap_or_else(|| state.clock.now_millis() + 365 * DAY_MS);
    let version = state.evidence.put(ws, &pack.pack_id, zip, retain_until).await?;
    Ok((built, sha, size, version))
}

async fn write_atomically(path: &Path, bytes: &[u8]) -> ServiceResult<()> {
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent).await.map_err(io)?;
    }
    let tmp = path.with_extension("zip.part");
    tokio::fs::write(&tmp, bytes).await.map_err(io)?;
    tokio::fs::rename(&tmp, path).await.map_err(io)
}

// ---- building ----

pub struct Built {
    pub zip: Vec<u8>,
    pub files: u32,
    /// Records put in the pack (every JSON entry and audit line).
    pub objects: u64,
}

async fn query_items(state: &AppState, q: atlas_store::Query) -> ServiceResult<Vec<Item>> {
    let mut out = Vec::new();
    let mut q = q.limit(1000);
    loop {
        let page = state.table.query(&q).await?;
        out.extend(page.items);
        match page.next {
            Some(n) => q.cursor = Some(n),
            None => return Ok(out),
        }
    }
}

fn num(i: &Item, k: &str) -> Option<i64> {
    i.get(k).and_then(Value::as_i64)
}

fn text<'a>(i: &'a Item, k: &str) -> &'a str {
    i.get(k).and_then(Value::as_str).unwrap_or_default()
}

fn in_period(ms: Option<i64>, p: &EvidencePackRecord) -> bool {
    ms.is_some_and(|t| t >= p.from_ms && t < p.to_ms)
}

/// Reads the pack's records and writes its ZIP.
pub async fn build(state: &AppState, pack: &EvidencePackRecord) -> ServiceResult<Built> {
    let ws = &pack.workspace_id;
    let only = pack.environment_id.as_ref();
    let env_ok = |i: &Item| only.is_none_or(|e| text(i, "environment_id") == e.as_str());
    let include_emails = settings(state, ws).await?.include_emails;

    // Environments, with their connection's state.
    let mut environments = Vec::new();
    let mut env_ids = Vec::new();
    for e in query_items(state, rec::in_workspace(ws, ws_parts::ENVIRONMENTS)).await? {
        let Ok(id) = EnvironmentId::parse(text(&e, "environment_id")) else {
            continue;
        };
        if only.is_some_and(|o| *o != id) {
            continue;
        }
        let conn = query_items(state, rec::in_environment(ws, &id, env_parts::CONNECTION))
            .await?
            .into_iter()
            .next();
        let connection = conn.map(|c| {
            json!({
                "lifecycle": c.get("lifecycle"), "tenant_id": c.get("tenant_id"),
                "verified_ms": c.get("verified_ms"), "status": c.get("status"),
            })
        });
        let mut e = rec::plain(e);
        e.insert("connection".into(), connection.unwrap_or(Value::Null));
        environments.push(Value::Object(e));
        env_ids.push(id);
    }

    // Baseline profiles and their snapshot versions (of this environment: its source or assigned).
    let profiles = query_items(state, rec::in_workspace(ws, ws_parts::BASELINES)).await?;
    let snapshots = query_items(state, rec::in_workspace(ws, ws_parts::SNAPSHOTS)).await?;
    let assigned: BTreeSet<String> = match only {
        Some(e) => query_items(state, rec::in_workspace(ws, &crate::records::drift::assignments_of(e)))
            .await?
            .iter()
            .map(|a| text(a, "profile_id").to_owned())
            .collect(),
        None => BTreeSet::new(),
    };
    let profile_ok = |p: &Item| {
        only.is_none_or(|e| text(p, "source_environment_id") == e.as_str() || assigned.contains(text(p, "profile_id")))
    };
    let kept: BTreeSet<String> = profiles
        .iter()
        .filter(|p| profile_ok(p))
        .map(|p| text(p, "profile_id").to_owned())
        .collect();
    let baselines = json!({
        "profiles": profiles.into_iter().filter(|p| kept.contains(text(p, "profile_id"))).map(|p| Value::Object(rec::plain(p))).collect::<Vec<_>>(),
        "snapshots": snapshots.into_iter().filter(|s| kept.contains(text(s, "profile_id"))).map(|s| Value::Object(rec::plain(s))).collect::<Vec<_>>(),
    });

    // Findings of the period, each with every transition.
    let mut events_of: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for ev in query_items(state, rec::in_workspace(ws, ws_parts::FINDING_EVENTS)).await? {
        events_of
            .entry(text(&ev, "finding_id").to_owned())
            .or_default()
            .push(Value::Object(rec::plain(ev)));
    }
    let mut findings = Vec::new();
    for f in query_items(state, rec::in_workspace(ws, ws_parts::FINDINGS)).await? {
        if text(&f, "entity") != "finding" || !env_ok(&f) {
            continue;
        }
        let transitions = events_of.remove(text(&f, "finding_id")).unwrap_or_default();
        let touched = in_period(num(&f, "first_seen_ms"), pack)
            || in_period(num(&f, "opened_ms"), pack)
            || transitions
                .iter()
                .any(|t| in_period(t.get("at_ms").and_then(Value::as_i64), pack));
        if !touched {
            continue;
        }
        let mut f = rec::plain(f);
        f.insert("transitions".into(), Value::Array(transitions));
        findings.push(Value::Object(f));
    }

    // Exceptions alive in the period: requester, approver, justification, expiry, history.
    let mut exception_events: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for ev in query_items(state, rec::in_workspace(ws, ws_parts::EXCEPTION_EVENTS)).await? {
        exception_events
            .entry(text(&ev, "exception_id").to_owned())
            .or_default()
            .push(Value::Object(rec::plain(ev)));
    }
    let mut exceptions = Vec::new();
    for x in query_items(state, rec::in_workspace(ws, ws_parts::EXCEPTIONS)).await? {
        if text(&x, "entity") != "finding_exception" || !env_ok(&x) {
            continue;
        }
        let began = num(&x, "requested_ms").unwrap_or(0);
        let ended = num(&x, "ended_ms").unwrap_or(i64::MAX);
        if began >= pack.to_ms || ended < pack.from_ms {
            continue;
        }
        let history = exception_events.remove(text(&x, "exception_id")).unwrap_or_default();
        let mut x = rec::plain(x);
        x.insert("history".into(), Value::Array(history));
        exceptions.push(Value::Object(x));
    }

    // Runs of the period: backups taken, restore runs and their writes.
    let runs: Vec<OperationRun> = records::query_all(&state.table, crate::records::runs::workspace_runs(ws)).await?;
    let runs: Vec<OperationRun> = runs
        .into_iter()
        .filter(|r| in_period(Some(r.created_ms), pack))
        .filter(|r| only.is_none_or(|e| r.environment_id.as_deref() == Some(e.as_str())))
        .collect();
    // A run still active shows the counts its tally holds (ADR 0044).
    let mut tallied = Vec::with_capacity(runs.len());
    for r in runs {
        tallied.push(crate::runs::tallied(state, r).await?);
    }
    let runs = tallied;
    let run_json = |r: &OperationRun| serde_json::to_value(r.to_api()).unwrap_or(Value::Null);
    let backup_runs: Vec<Value> = runs
        .iter()
        .filter(|r| r.kind == OperationType::BackupCapture)
        .map(run_json)
        .collect();
    let mut restore_runs = Vec::new();
    let mut restore_writes = Vec::new();
    for r in runs.iter().filter(|r| r.kind == OperationType::RestoreExecute) {
        restore_runs.push(run_json(r));
        for unit in crate::records::runs::units(&state.table, &r.run_id, false).await? {
            let mut it = json!(unit);
            it["initiator"] = json!(r.initiator_email);
            restore_writes.push(it);
        }
    }
    let mut backup_sets = Vec::new();
    let mut restores = Vec::new();
    let mut feed = Vec::new();
    for e in &env_ids {
        for s in query_items(state, rec::in_environment(ws, e, env_parts::BACKUP_SETS)).await? {
            if in_period(num(&s, "created_ms"), pack) {
                backup_sets.push(Value::Object(rec::plain(s)));
            }
        }
        for d in query_items(state, rec::in_environment(ws, e, env_parts::RESTORES)).await? {
            if text(&d, "entity") == "restore" && in_period(num(&d, "created_ms"), pack) {
                restores.push(Value::Object(rec::plain(d)));
            }
        }
        for c in query_items(state, rec::in_environment(ws, e, env_parts::CHANGES)).await? {
            if in_period(num(&c, "at_ms"), pack) {
                feed.push(Value::Object(rec::plain(c)));
            }
        }
    }
    let changes = json!({"change_feed": feed, "restore_writes": restore_writes});
    let backups = json!({"backup_sets": backup_sets, "backup_runs": backup_runs, "restores": restores, "restore_runs": restore_runs});

    // The audit chain's events of the period, in seq order.
    let mut audit: Vec<AuditEventRecord> = Vec::new();
    let mut unchained = 0u64;
    for r in records::query_all::<AuditEventRecord>(&state.table, audit_records::all_events(ws)).await? {
        if !in_period(Some(r.at_ms), pack) || only.is_some_and(|e| r.environment_id.as_ref() != Some(e)) {
            continue;
        }
        if r.seq.is_none() {
            unchained += 1;
        }
        audit.push(r);
    }
    audit.sort_by_key(|r| (r.seq.unwrap_or(0), r.at_ms));
    let verification = crate::audit::verify(state, ws).await?;

    let mut pseud = Pseudonyms::new(state, ws, include_emails).await?;
    let mut files = FileSet::default();
    let mut objects = 0u64;
    let mut json_file = |files: &mut FileSet, name: &str, mut v: Value, pseud: &mut Pseudonyms| -> ServiceResult<()> {
        redact::redact(&mut v);
        pseud.apply(&mut v);
        objects += count(&v);
        files.add(name, serde_json::to_vec_pretty(&v).map_err(io)?);
        Ok(())
    };
    json_file(
        &mut files,
        "environments.json",
        Value::Array(environments.clone()),
        &mut pseud,
    )?;
    json_file(&mut files, "baselines.json", baselines, &mut pseud)?;
    json_file(&mut files, "findings.json", Value::Array(findings.clone()), &mut pseud)?;
    json_file(
        &mut files,
        "exceptions.json",
        Value::Array(exceptions.clone()),
        &mut pseud,
    )?;
    json_file(&mut files, "changes.json", changes, &mut pseud)?;
    json_file(&mut files, "backups.json", backups, &mut pseud)?;
    let mut lines = Vec::new();
    for r in &audit {
        let mut v = serde_json::to_value(r).map_err(io)?;
        if let Value::Object(m) = &mut v {
            m.retain(|k, _| k != "GSI1PK" && k != "GSI1SK");
        }
        pseud.apply(&mut v);
        serde_json::to_writer(&mut lines, &v).map_err(io)?;
        lines.push(b'\n');
    }
    files.add("audit.jsonl", lines);
    let n_audit = audit.len();

    let created_ms = state.clock.now_millis();
    let summary = summary_html(
        pack,
        created_ms,
        &environments,
        &findings,
        &exceptions,
        n_audit,
        &verification,
        &mut pseud,
    );
    files.add("summary.html", summary.into_bytes());
    let alg = state.evidence.algorithm();
    files.add("README.txt", readme(pack, alg).into_bytes());
    files.add("public_key.pem", state.evidence.public_pem().await?.into_bytes());

    // SHA256SUMS lists every file above; the manifest lists them and SHA256SUMS, and is signed.
    let mut sums = String::new();
    for (name, b) in &files.entries {
        sums.push_str(&format!("{}  {name}\n", hex(&Sha256::digest(b))));
    }
    files.add("SHA256SUMS", sums.into_bytes());
    let manifest = json!({
        "format": "tenantatlas-evidence-pack/1",
        "generator": GENERATOR,
        "created_at": crate::audit::iso8601(created_ms),
        "workspace_id": pack.workspace_id,
        "environment_id": pack.environment_id,
        "pack_id": pack.pack_id,
        "period": {"from": crate::audit::iso8601(pack.from_ms), "to": crate::audit::iso8601(pack.to_ms), "from_ms": pack.from_ms, "to_ms": pack.to_ms},
        "emails": if include_emails { "included" } else { "pseudonymized" },
        "audit_chain": {
            "events_in_pack": n_audit, "unchained_in_pack": unchained,
            "head_seq": verification.head_seq, "head_hash": verification.head_hash,
            "verified_events": verification.verified_events, "first_broken": verification.first_broken,
        },
        "signature": {"algorithm": alg.manifest_name(), "key_id": state.evidence.key_id()?, "file": "manifest.sig", "public_key": "public_key.pem", "over": "manifest.json"},
        "retain_until": pack.retain_until_ms.map(crate::audit::iso8601),
        "files": files.entries.iter().map(|(name, b)| json!({"path": name, "size": b.len(), "sha256": hex(&Sha256::digest(b))})).collect::<Vec<_>>(),
    });
    let manifest = serde_json::to_vec_pretty(&manifest).map_err(io)?;
    let sig = state.evidence.sign(&manifest).await?;
    files.add("manifest.json", manifest);
    files.add("manifest.sig", sig);
    let count = files.entries.len() as u32;
    Ok(Built {
        zip: files.zip(&pack.pack_id)?,
        files: count,
        objects: objects + n_audit as u64,
    })
}

fn count(v: &Value) -> u64 {
    match v {
        Value::Array(a) => a.len() as u64,
        Value::Object(m) => m.values().filter(|v| v.is_array()).map(count).sum(),
        _ => 0,
    }
}

#[derive(Default)]
struct FileSet {
    entries: Vec<(String, Vec<u8>)>,
}

impl FileSet {
    fn add(&mut self, name: &str, bytes: Vec<u8>) {
        self.entries.push((name.to_owned(), bytes));
    }

    /// Every file under `evidence-<pack>/`, deflated, with a fixed time (the content is dated).
    fn zip(&self, pack: &str) -> ServiceResult<Vec<u8>> {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .last_modified_time(zip::DateTime::default())
            .unix_permissions(0o644);
        for (name, b) in &self.entries {
            w.start_file(format!("evidence-{pack}/{name}"), opts).map_err(io)?;
            w.write_all(b).map_err(io)?;
        }
        Ok(w.finish().map_err(io)?.into_inner())
    }
}

/// Member e-mail addresses replaced by stable pseudonyms (`member-<12 hex>`, an HMAC of the
/// address under the deployment's evidence key), unless the workspace includes them.
struct Pseudonyms {
    key: Option<[u8; 32]>,
}

impl Pseudonyms {
    async fn new(state: &AppState, ws: &WorkspaceId, include: bool) -> ServiceResult<Self> {
        if include {
            return Ok(Self { key: None });
        }
        let k = state.evidence.link_key(state).await?;
        let mut h = Sha256::new();
        h.update(k);
        h.update(ws.as_str().as_bytes());
        Ok(Self {
            key: Some(h.finalize().into()),
        })
    }

    fn name(&self, email: &str) -> String {
        let Some(k) = &self.key else {
            return email.to_owned();
        };
        let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(k).expect("HMAC takes any key length");
        m.update(email.trim().to_lowercase().as_bytes());
        format!("member-{}", &hex(&m.finalize().into_bytes())[..12])
    }

    fn apply(&mut self, v: &mut Value) {
        if self.key.is_none() {
            return;
        }
        match v {
            Value::String(s) if looks_like_email(s) => *s = self.name(s),
            Value::Array(a) => a.iter_mut().for_each(|v| self.apply(v)),
            Value::Object(m) => m.values_mut().for_each(|v| self.apply(v)),
            _ => {}
        }
    }

    fn show(&self, s: &str) -> String {
        if self.key.is_some() && looks_like_email(s) {
            self.name(s)
        } else {
            s.to_owned()
        }
    }
}

fn looks_like_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.contains(char::is_whitespace)
        && !domain.contains('@')
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn field(v: &Value, k: &str) -> String {
    match v.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(Value::Number(n)) => n
            .as_i64()
            .filter(|_| k.ends_with("_ms"))
            .map(crate::audit::iso8601)
            .unwrap_or_else(|| n.to_string()),
        Some(v) => v.to_string(),
    }
}

#[allow(clippy::too_many_arguments)]
fn summary_html(
    pack: &EvidencePackRecord,
    created_ms: i64,
    environments: &[Value],
    findings: &[Value],
    exceptions: &[Value],
    audit_events: usize,
    v: &api::AuditVerification,
    pseud: &mut Pseudonyms,
) -> String {
    let mut h = String::new();
    let scope = pack
        .environment_id
        .as_ref()
        .map_or("the whole workspace".to_owned(), |e| format!("environment {e}"));
    h.push_str("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Evidence pack</title>");
    h.push_str("<style>body{font:12px/1.4 sans-serif;margin:2em}table{border-collapse:collapse;width:100%;margin-bottom:1.5em}th,td{border:1px solid #999;padding:3px 5px;text-align:left;vertical-align:top}th{background:#eee}@media print{h2{page-break-before:auto}tr{page-break-inside:avoid}}</style></head><body>");
    h.push_str(&format!(
        "<h1>Evidence pack {}</h1><p>Workspace <b>{}</b>, {}.<br>Period {} to {} (UTC).<br>Created {} by {}.</p>",
        esc(&pack.pack_id),
        esc(pack.workspace_id.as_str()),
        esc(&scope),
        esc(&crate::audit::iso8601(pack.from_ms)),
        esc(&crate::audit::iso8601(pack.to_ms)),
        esc(&crate::audit::iso8601(created_ms)),
        esc(&pseud.show(&pack.created_by)),
    ));
    let chain = match &v.first_broken {
        None => format!("verified: {} events, head seq {}", v.verified_events, v.head_seq),
        Some(b) => format!("BROKEN at seq {} ({})", b.seq, b.reason),
    };
    h.push_str(&format!(
        "<h2>Audit log</h2><p>{audit_events} events in the period (audit.jsonl). Hash chain {}. {}</p>",
        esc(&chain),
        esc(&v.note)
    ));
    let table = |h: &mut String, title: &str, cols: &[&str], rows: &[Value], pseud: &Pseudonyms| {
        h.push_str(&format!("<h2>{} ({})</h2><table><tr>", esc(title), rows.len()));
        for c in cols {
            h.push_str(&format!("<th>{}</th>", esc(c)));
        }
        h.push_str("</tr>");
        for r in rows {
            h.push_str("<tr>");
            for c in cols {
                h.push_str(&format!("<td>{}</td>", esc(&pseud.show(&field(r, c)))));
            }
            h.push_str("</tr>");
        }
        h.push_str("</table>");
    };
    table(
        &mut h,
        "Environments",
        &["environment_id", "display_name", "connection"],
        environments,
        pseud,
    );
    table(
        &mut h,
        "Findings",
        &[
            "finding_id",
            "environment_id",
            "severity",
            "status",
            "title",
            "opened_ms",
            "owner",
        ],
        findings,
        pseud,
    );
    table(
        &mut h,
        "Exceptions",
        &[
            "exception_id",
            "finding_title",
            "status",
            "requested_by",
            "decided_by",
            "justification",
            "expires_ms",
        ],
        exceptions,
        pseud,
    );
    h.push_str("<p>Verify this pack offline: see README.txt.</p></body></html>\n");
    h
}

fn readme(pack: &EvidencePackRecord, alg: kms::Algorithm) -> String {
    format!(
        "TenantAtlas evidence pack {id}\n\
         Workspace {ws}{env}; period {from} to {to} (UTC).\n\
         \n\
         Files: manifest.json lists every file with its SHA-256 and size; manifest.sig is\n\
         {sig_kind} over the exact bytes of manifest.json; public_key.pem is the key\n\
         that signed it (compare it with the one your TenantAtlas administrator published).\n\
         \n\
         Verify, in this directory (GNU coreutils; OpenSSL 3 or later):\n\
         \n\
         sha256sum -c SHA256SUMS\n\
         {verify}\n\
         grep -q \"$(sha256sum SHA256SUMS | cut -c1-64)\" manifest.json && echo \"SHA256SUMS: listed in the signed manifest\"\n\
         \n\
         The first prints OK for every file; the second prints \"{verified}\";\n\
         the third ties SHA256SUMS to the signed manifest (which lists every file's SHA-256 and size).\n\
         Any changed byte makes one of them fail.\n\
         \n\
         audit.jsonl holds the audit events of the period, one JSON object a line, in chain order:\n\
         each event's hash is the SHA-256 of its canonical JSON (sorted keys, no whitespace; fields\n\
         action, actor_email, actor_id, at_ms, environment_id, id, metadata, outcome, prev_hash,\n\
         reason, request_id, seq, target, workspace_id) and prev_hash is the previous event's hash.\n\
         When e-mail addresses are pseudonymized (manifest.json \"emails\"), hashes of events naming\n\
         one cannot be recomputed from this file; the prev_hash links still can be followed.\n",
        id = pack.pack_id,
        sig_kind = alg.describe(),
        verify = alg.verify_command(),
        verified = match alg {
            kms::Algorithm::Ed25519 => "Signature Verified Successfully",
            kms::Algorithm::EcdsaP256Sha256 => "Verified OK",
        },
        ws = pack.workspace_id,
        env = pack
            .environment_id
            .as_ref()
            .map(|e| format!(", environment {e}"))
            .unwrap_or_default(),
        from = crate::audit::iso8601(pack.from_ms),
        to = crate::audit::iso8601(pack.to_ms),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A download token works until its expiry, for its pack only, under its key only.
    #[test]
    fn tokens_expire_and_cannot_be_forged() {
        let key = [7u8; 32];
        let ws = WorkspaceId::parse("ws-demo").unwrap();
        let t = token(&key, &ws, "01PACK", 1_000);
        assert_eq!(check_token(&key, &t, 1_000), Some((ws.clone(), "01PACK".to_owned())));
        assert_eq!(check_token(&key, &t, 1_001), None, "expired");
        assert_eq!(check_token(&[8u8; 32], &t, 0), None, "another deployment's key");
        // Another pack or a later expiry in the claim, with the original MAC.
        let (_, mac) = t.split_once('.').unwrap();
        for claim in ["ws-demo.01OTHER.1000", "ws-demo.01PACK.9999999999999"] {
            let forged = format!("{}.{mac}", b64u().encode(claim));
            assert_eq!(check_token(&key, &forged, 0), None, "{claim}");
        }
        assert_eq!(check_token(&key, "x.y", 0), None);
    }

    #[test]
    fn the_readme_names_the_command_of_its_algorithm() {
        let pack = EvidencePackRecord {
            workspace_id: WorkspaceId::parse("ws-demo").unwrap(),
            pack_id: "01PACK".into(),
            environment_id: None,
            status: "ready".into(),
            from_ms: 0,
            to_ms: 1,
            created_ms: 0,
            created_by: "a@b.c".into(),
            run_id: "01PACK".into(),
            size: None,
            sha256: None,
            files: None,
            reason: None,
            retain_until_ms: None,
            object_version: None,
            expired_ms: None,
        };
        let ed = readme(&pack, kms::Algorithm::Ed25519);
        assert!(ed.contains("openssl pkeyutl -verify -pubin -inkey public_key.pem -rawin"));
        assert!(ed.contains("Signature Verified Successfully"));
        let ec = readme(&pack, kms::Algorithm::EcdsaP256Sha256);
        assert!(ec.contains("openssl dgst -sha256 -verify public_key.pem -signature manifest.sig manifest.json"));
        assert!(ec.contains("Verified OK") && !ec.contains("pkeyutl"));
    }
}
