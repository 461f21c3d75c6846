//! What every handler and step is given: the table, the queues, the clock and the id generator,
//! built once per process from the configuration.

use std::collections::BTreeMap;
use std::sync::Arc;

#[cfg(feature = "local")]
use atlas_store::embedded::EmbeddedStore;
use atlas_store::sqs::SqsQueue;
use atlas_store::{Clock, IdGen, Queue, QueueSpec, SystemClock, Table, UlidIds};

use crate::config::{Config, Identity, ProviderSettings, Storage};
use crate::identity::TokenVerifier;
#[cfg(feature = "local")]
use crate::identity::issuer::LocalIssuer;
use crate::identity::jwt::{JwksVerifier, JwtConfig};
use crate::secrets::{KmsKey, LocalKeyFile, SecretBox};

/// The embedded store's database file, in the data directory.
pub const EMBEDDED_DB_FILE: &str = "atlas.db";

/// After this many receives a message is moved to its dead-letter queue (the template matches it).
pub const MAX_RECEIVES: u32 = 5;

#[derive(Clone)]
pub struct AppState {
    pub table: Table,
    pub queues: Arc<Queues>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGen>,
    pub verifier: Arc<dyn TokenVerifier>,
    /// The bundled issuer, in local mode only.
    #[cfg(feature = "local")]
    pub issuer: Option<Arc<LocalIssuer>>,
    pub secrets: SecretBox,
    pub provider: Arc<ProviderSettings>,
    /// Where operators reach the app: consent callbacks and redirects use it.
    pub public_url: Arc<str>,
    /// One Graph client per process: pooled connections, token cache, budgets.
    pub graph: atlas_graph::GraphClient,
    /// How many workspaces one user may create.
    pub workspace_quota: u32,
    /// How often the change feed polls an environment with a baseline, in seconds.
    pub drift_poll_seconds: u64,
    /// Alert delivery's retry window, backoff and URL policy.
    pub alerts: Arc<crate::config::AlertSettings>,
    /// Platform operators and the support address (spec 025).
    pub platform: Arc<crate::config::PlatformSettings>,
    /// Evidence packs and their signing key (ADR 0030).
    pub evidence: Arc<crate::evidence::EvidenceStore>,
}

/// The work queues by their logical name (`run-reconcile`, …), with their dead-letter queues.
pub struct Queues {
    kind: &'static str,
    main: BTreeMap<String, Arc<dyn Queue>>,
    dead: BTreeMap<String, Arc<dyn Queue>>,
}

impl Queues {
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    pub fn get(&self, name: &str) -> Result<&Arc<dyn Queue>, crate::error::ServiceError> {
        self.main
            .get(name)
            .ok_or_else(|| crate::error::ServiceError::Permanent(format!("queue {name} is not configured")))
    }

    /// The dead-letter queue of `name`, where the process can reach it (in AWS: the steps given
    /// `ATLAS_DLQ_URL_…`).
    pub fn dead_letter(&self, name: &str) -> Option<&Arc<dyn Queue>> {
        self.dead.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.main.keys().map(String::as_str)
    }

    /// The same queues, each passed through `wrap` (tests inject failures at the port).
    pub fn wrapped(&self, wrap: impl Fn(Arc<dyn Queue>) -> Arc<dyn Queue>) -> Queues {
        let each = |m: &BTreeMap<String, Arc<dyn Queue>>| m.iter().map(|(k, q)| (k.clone(), wrap(q.clone()))).collect();
        Queues {
            kind: self.kind,
            main: each(&self.main),
            dead: each(&self.dead),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("cannot start: {0}")]
pub struct StartError(pub String);

/// The process's connections, plus the embedded store when there is one.
pub struct Started {
    pub state: AppState,
    #[cfg(feature = "local")]
    pub store: Option<EmbeddedStore>,
}

impl AppState {
    /// `public_url` is where the local server is reached (the local issuer's tokens name it).
    pub async fn connect(config: &Config, public_url: &str) -> Result<Started, StartError> {
        Self::connect_with(config, public_url, Arc::new(SystemClock), Arc::new(UlidIds)).await
    }

    pub async fn connect_with(
        config: &Config,
        public_url: &str,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGen>,
    ) -> Result<Started, StartError> {
        let mut started = Self::connect_storage(config, clock, ids).await?;
        let st = &mut started.state;
        st.provider = Arc::new(config.provider.clone());
        st.workspace_quota = config.workspace_quota;
        st.drift_poll_seconds = config.drift_poll_seconds;
        st.alerts = Arc::new(config.alerts.clone());
        st.platform = Arc::new(config.platform.clone());
        // Packs and the local signing key: in the data directory; with the protocol server next
        // to the test's key file; with a bucket (and a KMS signing key) in S3 (ADR 0032).
        let evidence_dir = match &config.storage {
            #[cfg(feature = "local")]
            Storage::Embedded { data_dir } => data_dir.join("evidence"),
            Storage::Aws { table, .. } => match config.key_file.as_ref().and_then(|k| k.parent()) {
                Some(dir) => dir.join("evidence"),
                None => std::env::temp_dir().join(format!("atlas-{table}-evidence")),
            },
        };
        st.evidence = Arc::new(evidence_store(config, evidence_dir).await?);
        // Step Lambdas write to one tenant side by side: in AWS the tenant's write budget is
        // kept in the table, so together they stay under Intune's ceiling (ADR 0015).
        let shared: Option<Arc<dyn atlas_graph::SharedBudget>> = match config.storage {
            Storage::Aws { .. } => Some(Arc::new(TableBudget {
                table: st.table.clone(),
            })),
            #[cfg(feature = "local")]
            Storage::Embedded { .. } => None,
        };
        st.graph = graph_client_with(&config.provider, shared)?;
        st.public_url = config
            .public_url
            .clone()
            .unwrap_or_else(|| public_url.trim_end_matches('/').to_owned())
            .into();
        st.secrets = match (&config.kms_key_id, &config.storage) {
            (Some(key_id), Storage::Aws { endpoint, .. }) => {
                let conf = atlas_store::aws::sdk_config(endpoint.as_deref()).await;
                SecretBox::new(Arc::new(KmsKey::new(aws_sdk_kms::Client::new(&conf), key_id)))
            }
            #[cfg(feature = "local")]
            (Some(_), Storage::Embedded { .. }) => {
                return Err(StartError("ATLAS_KMS_KEY_ID needs ATLAS_STORAGE=dynamodb".into()));
            }
            #[cfg(feature = "local")]
            (None, Storage::Embedded { data_dir }) => SecretBox::new(Arc::new(
                LocalKeyFile::open(&data_dir.join("master.key")).map_err(|e| StartError(e.to_string()))?,
            )),
            (
                None,
                Storage::Aws {
                    endpoint: Some(_),
                    table,
                    ..
                },
            ) => {
                // Protocol-server mode (tests): a key file next to nothing persistent.
                let path = config
                    .key_file
                    .clone()
                    .unwrap_or_else(|| std::env::temp_dir().join(format!("atlas-{table}-master.key")));
                SecretBox::new(Arc::new(
                    LocalKeyFile::open(&path).map_err(|e| StartError(e.to_string()))?,
                ))
            }
            (None, Storage::Aws { endpoint: None, .. }) => {
                return Err(StartError("ATLAS_KMS_KEY_ID is required in AWS".into()));
            }
        };
        match &config.identity {
            #[cfg(feature = "local")]
            Identity::Local { audience } => {
                let key = issuer_key(&st.table).await?;
                let url = format!("{}/oidc", public_url.trim_end_matches('/'));
                let issuer = LocalIssuer::new(url, audience.clone(), key, st.clock.clone())
                    .map_err(|e| StartError(e.to_string()))?;
                let verifier = JwksVerifier::with_source(issuer.verifier_config(), issuer.source(), st.clock.clone());
                st.verifier = Arc::new(verifier);
                st.issuer = Some(Arc::new(issuer));
            }
            Identity::External {
                issuer,
                audience,
                jwks_url,
            } => {
                let v = JwksVerifier::new(JwtConfig::new(issuer.clone(), audience.clone(), jwks_url.clone()))
                    .map_err(|e| StartError(e.to_string()))?;
                st.verifier = Arc::new(v);
            }
        }
        Ok(started)
    }

    /// The state over connected storage, before the configuration's identity, secrets and
    /// provider settings are applied.
    fn unconfigured(
        table: Table,
        queues: Queues,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGen>,
    ) -> Result<AppState, StartError> {
        // Every queue's requests counted as SQS bills them (issue 21).
        let wrap = |m: BTreeMap<String, Arc<dyn Queue>>| -> BTreeMap<String, Arc<dyn Queue>> {
            m.into_iter()
                .map(|(k, q)| (k, Arc::new(crate::metering::CountedQueue(q)) as Arc<dyn Queue>))
                .collect()
        };
        let queues = Queues {
            kind: queues.kind,
            main: wrap(queues.main),
            dead: wrap(queues.dead),
        };
        Ok(AppState {
            // The process's total: every unit's meter charges it too (ADR 0038).
            table: table.metered(atlas_store::Meter::new()),
            queues: Arc::new(queues),
            clock,
            ids,
            verifier: Arc::new(NoTokens),
            #[cfg(feature = "local")]
            issuer: None,
            secrets: SecretBox::new(Arc::new(Unset)),
            provider: Arc::new(ProviderSettings::default()),
            public_url: "http://localhost".into(),
            graph: graph_client(&ProviderSettings::default())?,
            workspace_quota: crate::config::DEFAULT_WORKSPACE_QUOTA,
            drift_poll_seconds: crate::drift::baselines::DEFAULT_POLL_SECONDS,
            alerts: Arc::default(),
            platform: Arc::default(),
            evidence: Arc::new(crate::evidence::EvidenceStore::new(
                std::env::temp_dir().join("atlas-evidence"),
            )),
        })
    }

    async fn connect_storage(
        config: &Config,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGen>,
    ) -> Result<Started, StartError> {
        let names: Vec<&str> = crate::steps::steps().iter().map(|s| s.queue).collect();
        match &config.storage {
            #[cfg(feature = "local")]
            Storage::Embedded { data_dir } => {
                let store = EmbeddedStore::open(&data_dir.join(EMBEDDED_DB_FILE), clock.clone())
                    .map_err(|e| StartError(e.to_string()))?;
                let mut main = BTreeMap::new();
                let mut dead = BTreeMap::new();
                for n in names {
                    let (m, d) = QueueSpec::with_dlq(n, MAX_RECEIVES);
                    main.insert(n.to_owned(), store.queue(&m).map_err(|e| StartError(e.to_string()))?);
                    dead.insert(n.to_owned(), store.queue(&d).map_err(|e| StartError(e.to_string()))?);
                }
                let queues = Queues {
                    kind: "embedded",
                    main,
                    dead,
                };
                let state = Self::unconfigured(Table::new(store.table()), queues, clock, ids)?;
                Ok(Started {
                    state,
                    store: Some(store),
                })
            }
            Storage::Aws {
                table,
                endpoint,
                queue_urls,
                dlq_urls,
            } => {
                let conf = atlas_store::aws::sdk_config(endpoint.as_deref()).await;
                let raw = atlas_store::dynamo::DynamoTable::new(atlas_store::aws::dynamo_client(&conf), table);
                let sqs = atlas_store::aws::sqs_client(&conf);
                let mut main: BTreeMap<String, Arc<dyn Queue>> = BTreeMap::new();
                let mut dead: BTreeMap<String, Arc<dyn Queue>> = BTreeMap::new();
                if endpoint.is_some() {
                    // A protocol server on loopback: create what the template would.
                    raw.ensure_table().await.map_err(|e| StartError(e.to_string()))?;
                    for n in names {
                        let (m, d) = QueueSpec::with_dlq(&format!("{table}-{n}"), MAX_RECEIVES);
                        let dq = SqsQueue::ensure(&sqs, &d)
                            .await
                            .map_err(|e| StartError(e.to_string()))?;
                        let mq = SqsQueue::ensure(&sqs, &m)
                            .await
                            .map_err(|e| StartError(e.to_string()))?;
                        main.insert(n.to_owned(), Arc::new(mq));
                        dead.insert(n.to_owned(), Arc::new(dq));
                    }
                } else {
                    for n in names {
                        if let Some(url) = queue_urls.get(n) {
                            main.insert(n.to_owned(), Arc::new(SqsQueue::new(sqs.clone(), url, n)));
                        }
                        if let Some(url) = dlq_urls.get(n) {
                            dead.insert(n.to_owned(), Arc::new(SqsQueue::new(sqs.clone(), url, n)));
                        }
                    }
                }
                let queues = Queues {
                    kind: "sqs",
                    main,
                    dead,
                };
                let state = Self::unconfigured(atlas_store::Table::new(Arc::new(raw)), queues, clock, ids)?;
                Ok(Started {
                    state,
                    #[cfg(feature = "local")]
                    store: None,
                })
            }
        }
    }
}

/// Evidence packs: the data directory, or with `ATLAS_EVIDENCE_BUCKET` S3 (created with Object
/// Lock on the protocol server, as the template does in AWS) and with `ATLAS_EVIDENCE_KEY_ID` a
/// KMS signing key (ADR 0032).
pub async fn evidence_store(
    config: &Config,
    dir: std::path::PathBuf,
) -> Result<crate::evidence::EvidenceStore, StartError> {
    use crate::evidence::{PackStore, kms, s3};
    let ev = &config.evidence;
    let endpoint = match &config.storage {
        Storage::Aws { endpoint, .. } => endpoint.clone(),
        #[cfg(feature = "local")]
        Storage::Embedded { .. } => None,
    };
    if ev.bucket.is_none() && ev.signing_key_id.is_none() {
        return Ok(crate::evidence::EvidenceStore::new(dir));
    }
    if !matches!(config.storage, Storage::Aws { .. }) {
        return Err(StartError(
            "ATLAS_EVIDENCE_BUCKET and ATLAS_EVIDENCE_KEY_ID need ATLAS_STORAGE=dynamodb".into(),
        ));
    }
    let conf = atlas_store::aws::sdk_config(endpoint.as_deref()).await;
    let packs = match &ev.bucket {
        None => PackStore::Local { dir: dir.clone() },
        Some(bucket) => {
            let credentials = conf
                .credentials_provider()
                .ok_or_else(|| StartError("no AWS credentials for the evidence bucket".into()))?;
            let region = conf.region().map_or_else(|| "us-east-1".to_owned(), |r| r.to_string());
            let addressing = match ev.s3_endpoint.clone().or(endpoint.clone()) {
                Some(endpoint) => s3::Addressing::Path { endpoint },
                None => s3::Addressing::VirtualHost,
            };
            // The protocol server's S3 (tests): create what the template would. An explicit
            // ATLAS_S3_ENDPOINT is someone's S3 with its bucket made.
            let on_protocol_server = endpoint.is_some() && ev.s3_endpoint.is_none();
            let store = s3::S3Store::new(
                bucket,
                "evidence/",
                region,
                addressing,
                ev.sse_key_id.clone().or_else(|| config.kms_key_id.clone()),
                credentials,
            );
            if on_protocol_server {
                store
                    .ensure_bucket()
                    .await
                    .map_err(|e| StartError(format!("evidence bucket: {e}")))?;
            }
            PackStore::S3(store)
        }
    };
    let signer = match &ev.signing_key_id {
        None => None,
        Some(key_id) => {
            let name = ev.signing_algorithm.as_deref().unwrap_or("ED25519_SHA_512");
            let alg = kms::Algorithm::from_kms(name).ok_or_else(|| {
                StartError(format!(
                    "ATLAS_EVIDENCE_SIGNING_ALGORITHM must be ED25519_SHA_512 or ECDSA_SHA_256: {name:?}"
                ))
            })?;
            Some(kms::KmsSigner::new(aws_sdk_kms::Client::new(&conf), key_id, alg))
        }
    };
    Ok(crate::evidence::EvidenceStore::with(dir, packs, signer))
}

/// Refuses every token; replaced during start by the configured verifier.
struct NoTokens;

#[async_trait::async_trait]
impl TokenVerifier for NoTokens {
    async fn verify(&self, _: &str) -> Result<crate::identity::Actor, crate::identity::AuthError> {
        Err(crate::identity::AuthError::Invalid(
            "no identity provider is configured".into(),
        ))
    }
}

/// The local issuer's signing key, made once and kept in the store so tokens outlive restarts.
#[cfg(feature = "local")]
async fn issuer_key(table: &Table) -> Result<Vec<u8>, StartError> {
    use crate::records::Record;
    use crate::records::tenancy::{IssuerKeyRecord, issuer_key_key};
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let err = |e: atlas_store::TableError| StartError(format!("issuer key: {e}"));
    let read = |k: Option<IssuerKeyRecord>| k.and_then(|k| b64.decode(k.pkcs8).ok());
    if let Some(k) = read(crate::records::get(table, &issuer_key_key()).await.map_err(err)?) {
        return Ok(k);
    }
    let fresh = LocalIssuer::generate_key();
    let item = IssuerKeyRecord {
        pkcs8: b64.encode(&fresh),
    }
    .to_item();
    match table.put(item, Some(atlas_store::Cond::NotExists)).await {
        Ok(()) => Ok(fresh),
        // Another process made one first: use theirs.
        Err(atlas_store::TableError::ConditionFailed) => {
            let theirs = crate::records::get(table, &issuer_key_key()).await.map_err(err)?;
            if theirs.is_none() {
                return Err(StartError("issuer key vanished".into()));
            }
            read(theirs).ok_or_else(|| StartError("issuer key is unreadable".into()))
        }
        Err(e) => Err(err(e)),
    }
}

/// Stands in until start-up installs the configured master key.
struct Unset;

#[async_trait::async_trait]
impl crate::secrets::KeyWrapper for Unset {
    fn kid(&self) -> &str {
        "unset"
    }
    async fn wrap(&self, _: &[u8]) -> Result<Vec<u8>, crate::secrets::SecretError> {
        Err(crate::secrets::SecretError::KeyUnavailable(
            "no master key configured".into(),
        ))
    }
    async fn unwrap(&self, _: &[u8]) -> Result<Vec<u8>, crate::secrets::SecretError> {
        Err(crate::secrets::SecretError::KeyUnavailable(
            "no master key configured".into(),
        ))
    }
}

fn graph_client(p: &ProviderSettings) -> Result<atlas_graph::GraphClient, StartError> {
    graph_client_with(p, None)
}

fn graph_client_with(
    p: &ProviderSettings,
    shared_writes: Option<Arc<dyn atlas_graph::SharedBudget>>,
) -> Result<atlas_graph::GraphClient, StartError> {
    let config = atlas_graph::GraphConfig {
        graph_base: p.graph_base.trim_end_matches('/').to_owned(),
        login_base: p.login_base.trim_end_matches('/').to_owned(),
        // A longer Retry-After re-queues the unit with that delay (ADR 0022).
        max_retry_wait: crate::steps::MAX_RETRY_WAIT,
        ..atlas_graph::GraphConfig::default()
    };
    atlas_graph::GraphClient::with_shared_writes(config, shared_writes)
        .map_err(|e| StartError(format!("graph client: {e}")))
}

/// A Graph budget kept in the table: one counter per key and fixed slot, taken with a
/// conditional atomic add, expiring by TTL. Slots follow the wall clock, as Graph's windows do
/// (never a test's manual clock, which would never reach the next slot).
pub struct TableBudget {
    pub table: Table,
}

impl atlas_graph::SharedBudget for TableBudget {
    fn take<'a>(
        &'a self,
        key: &'a str,
        units: u32,
        limit: u32,
        slot: std::time::Duration,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), std::time::Duration>> + Send + 'a>> {
        use atlas_store::{Cond, TableError, Update};
        Box::pin(async move {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64);
            let slot_ms = (slot.as_millis() as i64).max(1);
            let index = now / slot_ms;
            let key = crate::records::provider::budget_key(key, index);
            let update = Update::new().add("n", i64::from(units)).set("ttl", now / 1000 + 3_600);
            let room = i64::from(limit.saturating_sub(units));
            let cond = Cond::Or(vec![Cond::AttrNotExists("n".into()), Cond::Le("n".into(), room.into())]);
            match self.table.update(&key, &update, Some(cond)).await {
                Ok(_) => Ok(()),
                Err(TableError::ConditionFailed) => Err(std::time::Duration::from_millis(
                    ((index + 1) * slot_ms - now).max(1) as u64,
                )),
                // The table is unavailable: Graph's own 429s still pace the writes.
                Err(e) => {
                    tracing::warn!(error = %e, "shared Graph budget unavailable; writing on the local budget");
                    Ok(())
                }
            }
        })
    }
}
