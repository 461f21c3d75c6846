//! Configuration, read once at start from the environment into one typed value.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Storage {
    /// One SQLite file under `data_dir` holds the table and the queues.
    #[cfg(feature = "local")]
    Embedded { data_dir: PathBuf },
    /// DynamoDB and SQS. With an `endpoint` (a protocol server on loopback) the table and queues
    /// are created on start; in AWS the template owns them and passes the queue URLs.
    Aws {
        table: String,
        endpoint: Option<String>,
        queue_urls: BTreeMap<String, String>,
        /// Dead-letter queue URLs, for the steps that send to their own (`ATLAS_DLQ_URL_…`).
        dlq_urls: BTreeMap<String, String>,
    },
}

/// The local step workers' default `nice` (see `local::worker_runtime`).
pub const DEFAULT_WORKER_NICE: i32 = 10;

#[derive(Debug, Clone)]

pub struct Config {
    pub storage: Storage,
    /// Where the local server listens.
    pub bind: SocketAddr,
    /// The built web app, served at `/` by the local server.
    pub web_dir: PathBuf,
    /// How often the local scheduler ticks (EventBridge does it in AWS).
    pub scheduler_every: Duration,
    /// Whether local mode seeds demo data on first start.
    pub seed_demo: bool,
    /// Who issues the bearer tokens the API accepts.
    pub identity: Identity,
    pub provider: ProviderSettings,
    /// Where operators reach the app (consent callbacks return here); defaults to the bind address.
    pub public_url: Option<String>,
    /// The KMS key wrapping data keys (AWS); without it a key file in the data directory does.
    pub kms_key_id: Option<String>,
    /// Whether local mode runs the step workers (tests turn them off to deliver by hand).
    pub run_workers: bool,
    /// How much the local step workers yield the CPU to request handling (`nice`, 0–19;
    /// `ATLAS_WORKER_NICE`, default 10). 0 runs them at the process's priority.
    pub worker_nice: i32,
    /// Whether the password-less demo sign-in may serve on a non-loopback address (anyone who
    /// reaches it signs in as any demo user).
    pub allow_remote_demo_signin: bool,
    /// How many workspaces one user may create.
    pub workspace_quota: u32,
    /// How often the change feed polls each environment with a baseline (`ATLAS_DRIFT_POLL_SECONDS`,
    /// 10 to 86,400; default 300).
    pub drift_poll_seconds: u64,
    /// DynamoDB against a protocol server (tests) without KMS: the local key file. Tests put it in
    /// their own temporary directory, so it goes when the directory does; unset, a file named
    /// after the table in the system temp directory.
    pub key_file: Option<PathBuf>,
    /// Alert delivery: retries and which webhook URLs are allowed (spec 016).
    pub alerts: AlertSettings,
    /// Platform operators and the support address (spec 025).
    pub platform: PlatformSettings,
    /// Evidence packs in AWS: the bucket and the signing key (ADR 0032). Unset, packs and the
    /// Ed25519 key stay in the data directory.
    pub evidence: EvidenceSettings,
}

/// Where evidence packs are stored and what signs them in AWS (ADR 0032).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EvidenceSettings {
    /// The pack bucket (`ATLAS_EVIDENCE_BUCKET`): packs are `evidence/<ws>/<pack>.zip` there.
    pub bucket: Option<String>,
    /// A path-style S3 endpoint (`ATLAS_S3_ENDPOINT`); unset, the protocol server's endpoint in
    /// tests, or `https://<bucket>.s3.<region>.amazonaws.com` in AWS.
    pub s3_endpoint: Option<String>,
    /// The KMS key objects are encrypted with (`ATLAS_EVIDENCE_SSE_KEY_ID`; default the bucket's).
    pub sse_key_id: Option<String>,
    /// The KMS asymmetric key that signs manifests (`ATLAS_EVIDENCE_KEY_ID`).
    pub signing_key_id: Option<String>,
    /// `ED25519_SHA_512` (default) or `ECDSA_SHA_256` (`ATLAS_EVIDENCE_SIGNING_ALGORITHM`).
    pub signing_algorithm: Option<String>,
}

/// How alert deliveries retry, and whether a plain-http webhook on loopback is allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertSettings {
    /// How long a delivery keeps retrying before it fails (`ATLAS_ALERT_RETRY_WINDOW_SECS`, default 24 h).
    pub retry_window: Duration,
    /// The first backoff; each next one doubles (`ATLAS_ALERT_RETRY_BASE_MS`, default 30 s).
    pub retry_base: Duration,
    /// Local and development only: a webhook or Teams URL may be `http://` when its host is a
    /// loopback address (`ATLAS_ALERT_ALLOW_HTTP_LOOPBACK=1`). Everything else must be https.
    pub allow_http_loopback: bool,
    /// Where email alerts are sent (`ATLAS_SMTP_URL`): a relay or, in AWS, the SES SMTP endpoint.
    pub smtp: Option<SmtpUrl>,
    /// The sender of email alerts (`ATLAS_ALERT_FROM`, default `TenantAtlas <alerts@localhost>`).
    pub from: String,
    /// With no SMTP URL, email alerts are written here as `<delivery id>.eml`
    /// (`ATLAS_ALERT_OUTBOX_DIR`; in local mode `<data dir>/outbox` by default; none in AWS).
    pub outbox_dir: Option<PathBuf>,
}

/// Who runs the platform itself (spec 025, ADR 0047): an entitlement no workspace route grants.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PlatformSettings {
    /// Platform operators by user id or e-mail (`ATLAS_PLATFORM_OPERATORS`, comma-separated; in
    /// local mode `platform@demo.test` by default, in AWS nobody). They alone see `/system`.
    pub operators: Vec<String>,
    /// Where support requests are e-mailed (`ATLAS_SUPPORT_ADDRESS`, default
    /// `support@tenantatlas.local`), through the alerts' e-mail path.
    pub support_address: String,
}

/// The default recipient of support requests.
pub const DEFAULT_SUPPORT_ADDRESS: &str = "support@tenantatlas.local";
/// Local mode's demo platform operator.
pub const DEMO_PLATFORM_OPERATOR: &str = "platform@demo.test";

impl PlatformSettings {
    fn from_lookup(get: &impl Fn(&str) -> Option<String>, local: bool) -> Result<Self, ConfigError> {
        let operators = match get("ATLAS_PLATFORM_OPERATORS") {
            Some(v) => v
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect(),
            None if local => vec![DEMO_PLATFORM_OPERATOR.to_owned()],
            None => Vec::new(),
        };
        let support_address = get("ATLAS_SUPPORT_ADDRESS")
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_SUPPORT_ADDRESS.into());
        if support_address.parse::<lettre::message::Mailbox>().is_err() {
            return Err(ConfigError(format!(
                "ATLAS_SUPPORT_ADDRESS is not an e-mail address: {support_address:?}"
            )));
        }
        Ok(Self {
            operators,
            support_address,
        })
    }

    /// Whether a signed-in user is a platform operator: their id, or their e-mail (any case).
    pub fn is_operator(&self, user_id: &str, email: &str) -> bool {
        self.operators
            .iter()
            .any(|o| o == user_id || (!email.is_empty() && o.eq_ignore_ascii_case(email)))
    }
}

/// The default sender of email alerts.
pub const DEFAULT_ALERT_FROM: &str = "TenantAtlas <alerts@localhost>";

/// An SMTP connection URL: `smtp://host:port` (plain, a local relay), `smtp://…?tls=required`
/// (STARTTLS) or `smtps://user:pass@host:465` (TLS from the start; the SES SMTP endpoint). It
/// may hold a password, so it never prints: `Debug` and [`SmtpUrl::redacted`] show scheme, host
/// and port only.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpUrl(String);

impl SmtpUrl {
    pub fn parse(raw: &str) -> Result<Self, ConfigError> {
        let bad = || {
            ConfigError(
                "ATLAS_SMTP_URL must be smtp://host[:port][?tls=required|opportunistic] or                  smtps://[user:password@]host[:port]"
                    .into(),
            )
        };
        let url = reqwest::Url::parse(raw.trim()).map_err(|_| bad())?;
        let tls = url.query_pairs().find(|(k, _)| k == "tls").map(|(_, v)| v.into_owned());
        let scheme_ok = matches!(
            (url.scheme(), tls.as_deref()),
            ("smtp", None | Some("required" | "opportunistic")) | ("smtps", None)
        );
        if !scheme_ok || url.host_str().is_none_or(str::is_empty) {
            return Err(bad());
        }
        Ok(Self(raw.trim().to_owned()))
    }

    /// The URL itself, password included: only the SMTP transport reads it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `smtps://email-smtp.eu-west-1.amazonaws.com:465`: what logs and answers may show.
    pub fn redacted(&self) -> String {
        match reqwest::Url::parse(&self.0) {
            Ok(u) => format!(
                "{}://{}{}",
                u.scheme(),
                u.host_str().unwrap_or_default(),
                u.port().map(|p| format!(":{p}")).unwrap_or_default()
            ),
            Err(_) => "smtp://…".into(),
        }
    }
}

impl std::fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SmtpUrl({})", self.redacted())
    }
}

impl Default for AlertSettings {
    fn default() -> Self {
        Self {
            retry_window: Duration::from_secs(24 * 3600),
            retry_base: Duration::from_millis(30_000),
            allow_http_loopback: false,
            smtp: None,
            from: DEFAULT_ALERT_FROM.into(),
            outbox_dir: None,
        }
    }
}

impl AlertSettings {
    fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let d = Self::default();
        let num = |key: &str, min: u64, max: u64| -> Result<Option<u64>, ConfigError> {
            get(key)
                .map(|v| {
                    v.parse::<u64>()
                        .ok()
                        .filter(|n| (min..=max).contains(n))
                        .ok_or_else(|| ConfigError(format!("{key} must be {min} to {max}: {v:?}")))
                })
                .transpose()
        };
        Ok(Self {
            retry_window: num("ATLAS_ALERT_RETRY_WINDOW_SECS", 1, 7 * 86_400)?
                .map_or(d.retry_window, Duration::from_secs),
            retry_base: num("ATLAS_ALERT_RETRY_BASE_MS", 1, 3_600_000)?.map_or(d.retry_base, Duration::from_millis),
            allow_http_loopback: get("ATLAS_ALERT_ALLOW_HTTP_LOOPBACK").is_some_and(|v| v == "1" || v == "true"),
            smtp: get("ATLAS_SMTP_URL")
                .filter(|v| !v.trim().is_empty())
                .map(|v| SmtpUrl::parse(&v))
                .transpose()?,
            from: match get("ATLAS_ALERT_FROM").filter(|v| !v.trim().is_empty()) {
                Some(v) => {
                    v.parse::<lettre::message::Mailbox>()
                        .map_err(|_| ConfigError(format!("ATLAS_ALERT_FROM is not an address: {v:?}")))?;
                    v
                }
                None => d.from,
            },
            outbox_dir: get("ATLAS_ALERT_OUTBOX_DIR").map(PathBuf::from),
        })
    }
}

/// The default of [`Config::workspace_quota`].
pub const DEFAULT_WORKSPACE_QUOTA: u32 = 10;

/// How Microsoft Graph and the sign-in service are reached, and with which platform app.
#[derive(Clone, PartialEq, Eq)]
pub struct ProviderSettings {
    pub graph_base: String,
    pub login_base: String,
    /// TenantAtlas's multi-tenant app registration (client id, secret), when it has one.
    pub platform_app: Option<(String, String)>,
    /// Local mode without a configured Graph: run the bundled simulator.
    pub simulate: bool,
}

impl std::fmt::Debug for ProviderSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderSettings")
            .field("graph_base", &self.graph_base)
            .field("login_base", &self.login_base)
            .field("platform_app", &self.platform_app.as_ref().map(|(id, _)| id))
            .field("simulate", &self.simulate)
            .finish()
    }
}

impl Default for ProviderSettings {
    fn default() -> Self {
        Self {
            graph_base: "https://graph.microsoft.com".into(),
            login_base: "https://login.microsoftonline.com".into(),
            platform_app: None,
            simulate: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// The bundled OIDC issuer, mounted at `<public url>/oidc` (local mode and tests).
    #[cfg(feature = "local")]
    Local { audience: String },
    /// An external OIDC issuer (Entra ID, Cognito): tokens are checked against its JWKS.
    External {
        issuer: String,
        audience: String,
        jwks_url: String,
    },
}

pub const DEFAULT_AUDIENCE: &str = "tenantatlas-api";

#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads from any lookup, so tests need not touch the process environment.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let storage = match get("ATLAS_STORAGE").as_deref().unwrap_or("embedded") {
            #[cfg(feature = "local")]
            "embedded" => Storage::Embedded {
                data_dir: get("ATLAS_DATA_DIR")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| ".atlas-data".into()),
            },
            #[cfg(not(feature = "local"))]
            "embedded" => {
                return Err(ConfigError(
                    "ATLAS_STORAGE=embedded (the default) is local mode's store, which this build leaves out \
                     (cargo feature `local`): set ATLAS_STORAGE=dynamodb"
                        .into(),
                ));
            }
            "dynamodb" => {
                let table =
                    get("ATLAS_TABLE").ok_or_else(|| ConfigError("ATLAS_TABLE is required with dynamodb".into()))?;
                let queue_urls = crate::steps::steps()
                    .iter()
                    .filter_map(|s| get(&queue_url_var(s.queue)).map(|u| (s.queue.to_owned(), u)))
                    .collect();
                let dlq_urls = crate::steps::steps()
                    .iter()
                    .filter_map(|s| get(&dlq_url_var(s.queue)).map(|u| (s.queue.to_owned(), u)))
                    .collect();
                Storage::Aws {
                    table,
                    endpoint: get("ATLAS_AWS_ENDPOINT"),
                    queue_urls,
                    dlq_urls,
                }
            }
            other => {
                return Err(ConfigError(format!(
                    "ATLAS_STORAGE must be embedded or dynamodb, not {other:?}"
                )));
            }
        };
        let alerts = AlertSettings::from_lookup(&get)?;
        // Local mode's outbox is in its data directory; AWS has none (an email destination
        // needs ATLAS_SMTP_URL there).
        #[cfg(feature = "local")]
        let alerts = match (&alerts.outbox_dir, &storage) {
            (None, Storage::Embedded { data_dir }) => AlertSettings {
                outbox_dir: Some(data_dir.join("outbox")),
                ..alerts
            },
            _ => alerts,
        };
        let platform = PlatformSettings::from_lookup(&get, !matches!(storage, Storage::Aws { .. }))?;
        let host = get("ATLAS_HOST").unwrap_or_else(|| "127.0.0.1".into());
        let port: u16 = match get("ATLAS_PORT") {
            Some(p) => p
                .parse()
                .map_err(|_| ConfigError(format!("ATLAS_PORT is not a port: {p:?}")))?,
            None => 8080,
        };
        let bind = format!("{host}:{port}")
            .parse()
            .map_err(|_| ConfigError(format!("ATLAS_HOST is not an IP address: {host:?}")))?;
        let scheduler_every = match get("ATLAS_SCHEDULER_SECS") {
            Some(s) => Duration::from_secs(
                s.parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| ConfigError(format!("ATLAS_SCHEDULER_SECS: {s:?}")))?,
            ),
            None => Duration::from_secs(60),
        };
        Ok(Self {
            storage,
            bind,
            web_dir: get("ATLAS_WEB_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| "web/dist".into()),
            scheduler_every,
            seed_demo: get("ATLAS_SEED_DEMO").is_none_or(|v| v != "0" && v != "false"),
            provider: ProviderSettings {
                simulate: get("ATLAS_GRAPH_BASE_URL").is_none() && get("ATLAS_STORAGE").is_none_or(|s| s == "embedded"),
                graph_base: get("ATLAS_GRAPH_BASE_URL").unwrap_or_else(|| "https://graph.microsoft.com".into()),
                login_base: get("ATLAS_LOGIN_BASE_URL").unwrap_or_else(|| "https://login.microsoftonline.com".into()),
                platform_app: get("ATLAS_PROVIDER_CLIENT_ID").zip(get("ATLAS_PROVIDER_CLIENT_SECRET")),
            },
            public_url: get("ATLAS_PUBLIC_URL").map(|u| u.trim_end_matches('/').to_owned()),
            kms_key_id: get("ATLAS_KMS_KEY_ID"),
            run_workers: get("ATLAS_WORKERS").is_none_or(|v| v != "0" && v != "false"),
            worker_nice: match get("ATLAS_WORKER_NICE") {
                Some(v) => v
                    .parse()
                    .ok()
                    .filter(|n| (0..=19).contains(n))
                    .ok_or_else(|| ConfigError(format!("ATLAS_WORKER_NICE must be 0 to 19: {v:?}")))?,
                None => DEFAULT_WORKER_NICE,
            },
            allow_remote_demo_signin: get("ATLAS_ALLOW_REMOTE_DEMO_SIGNIN").is_some_and(|v| v == "1" || v == "true"),
            workspace_quota: match get("ATLAS_WORKSPACE_QUOTA") {
                Some(q) => q
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| ConfigError(format!("ATLAS_WORKSPACE_QUOTA must be a positive number: {q:?}")))?,
                None => DEFAULT_WORKSPACE_QUOTA,
            },
            drift_poll_seconds: match get("ATLAS_DRIFT_POLL_SECONDS") {
                Some(q) => q
                    .parse()
                    .ok()
                    .filter(|n| (10..=86_400).contains(n))
                    .ok_or_else(|| ConfigError(format!("ATLAS_DRIFT_POLL_SECONDS must be 10 to 86400: {q:?}")))?,
                None => crate::drift::baselines::DEFAULT_POLL_SECONDS,
            },
            key_file: None,
            alerts,
            platform,
            evidence: EvidenceSettings {
                bucket: get("ATLAS_EVIDENCE_BUCKET"),
                s3_endpoint: get("ATLAS_S3_ENDPOINT"),
                sse_key_id: get("ATLAS_EVIDENCE_SSE_KEY_ID"),
                signing_key_id: get("ATLAS_EVIDENCE_KEY_ID"),
                signing_algorithm: get("ATLAS_EVIDENCE_SIGNING_ALGORITHM"),
            },
            identity: match get("ATLAS_OIDC_ISSUER") {
                #[cfg(feature = "local")]
                None => Identity::Local {
                    audience: get("ATLAS_OIDC_AUDIENCE").unwrap_or_else(|| DEFAULT_AUDIENCE.into()),
                },
                #[cfg(not(feature = "local"))]
                None => {
                    return Err(ConfigError(
                        "ATLAS_OIDC_ISSUER is required: the bundled demo sign-in is local mode's, which this \
                         build leaves out (cargo feature `local`)"
                            .into(),
                    ));
                }
                Some(issuer) => {
                    let issuer = issuer.trim_end_matches('/').to_owned();
                    Identity::External {
                        audience: get("ATLAS_OIDC_AUDIENCE").ok_or_else(|| {
                            ConfigError("ATLAS_OIDC_AUDIENCE is required with ATLAS_OIDC_ISSUER".into())
                        })?,
                        jwks_url: get("ATLAS_OIDC_JWKS_URL")
                            .unwrap_or_else(|| format!("{issuer}/.well-known/jwks.json")),
                        issuer,
                    }
                }
            },
        })
    }

    /// Local defaults on a given data directory (used by tests and `atlas-local`).
    #[cfg(feature = "local")]
    pub fn embedded(data_dir: impl Into<PathBuf>) -> Self {
        let data_dir: PathBuf = data_dir.into();
        let alerts = AlertSettings {
            outbox_dir: Some(data_dir.join("outbox")),
            ..AlertSettings::default()
        };
        Self {
            storage: Storage::Embedded { data_dir },
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            web_dir: "web/dist".into(),
            scheduler_every: Duration::from_secs(60),
            seed_demo: true,
            identity: Identity::Local {
                audience: DEFAULT_AUDIENCE.into(),
            },
            provider: ProviderSettings::default(),
            public_url: None,
            kms_key_id: None,
            run_workers: true,
            worker_nice: DEFAULT_WORKER_NICE,
            allow_remote_demo_signin: false,
            workspace_quota: DEFAULT_WORKSPACE_QUOTA,
            drift_poll_seconds: crate::drift::baselines::DEFAULT_POLL_SECONDS,
            key_file: None,
            alerts,
            platform: PlatformSettings {
                operators: vec![DEMO_PLATFORM_OPERATOR.to_owned()],
                support_address: DEFAULT_SUPPORT_ADDRESS.into(),
            },
            evidence: EvidenceSettings::default(),
        }
    }
}

/// `run-reconcile` → `ATLAS_QUEUE_URL_RUN_RECONCILE`, as the template sets it.
pub fn queue_url_var(queue: &str) -> String {
    format!("ATLAS_QUEUE_URL_{}", queue.to_uppercase().replace('-', "_"))
}

/// `alert-deliver` → `ATLAS_DLQ_URL_ALERT_DELIVER`: its dead-letter queue, as the template sets it.
pub fn dlq_url_var(queue: &str) -> String {
    format!("ATLAS_DLQ_URL_{}", queue.to_uppercase().replace('-', "_"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let m: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|k| m.get(k).cloned())
    }

    #[test]
    fn defaults_are_local_and_embedded() {
        let c = cfg(&[]).unwrap();
        assert_eq!(
            c.storage,
            Storage::Embedded {
                data_dir: ".atlas-data".into()
            }
        );
        assert_eq!(c.bind.to_string(), "127.0.0.1:8080");
    }

    #[test]
    fn aws_mode_reads_table_and_queue_urls() {
        let c = cfg(&[
            ("ATLAS_STORAGE", "dynamodb"),
            ("ATLAS_TABLE", "t"),
            ("ATLAS_QUEUE_URL_RUN_RECONCILE", "https://sqs/q"),
            ("ATLAS_DLQ_URL_ALERT_DELIVER", "https://sqs/dlq"),
        ])
        .unwrap();
        match c.storage {
            Storage::Aws {
                table,
                endpoint,
                queue_urls,
                dlq_urls,
            } => {
                assert_eq!(table, "t");
                assert_eq!(endpoint, None);
                assert_eq!(
                    queue_urls.get("run-reconcile").map(String::as_str),
                    Some("https://sqs/q")
                );
                assert_eq!(
                    dlq_urls.get("alert-deliver").map(String::as_str),
                    Some("https://sqs/dlq")
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn email_settings_read_and_never_print_the_password() {
        let c = cfg(&[(
            "ATLAS_SMTP_URL",
            "smtps://user:pa55word@email-smtp.eu-west-1.amazonaws.com:465",
        )])
        .unwrap();
        let smtp = c.alerts.smtp.clone().unwrap();
        assert_eq!(smtp.redacted(), "smtps://email-smtp.eu-west-1.amazonaws.com:465");
        assert!(!format!("{c:?}").contains("pa55word"));
        assert_eq!(c.alerts.from, DEFAULT_ALERT_FROM);
        assert_eq!(c.alerts.outbox_dir, Some(PathBuf::from(".atlas-data/outbox")));
        let aws = cfg(&[("ATLAS_STORAGE", "dynamodb"), ("ATLAS_TABLE", "t")]).unwrap();
        assert_eq!(aws.alerts.outbox_dir, None, "AWS has no outbox");
        assert!(
            cfg(&[("ATLAS_SMTP_URL", "http://relay")])
                .unwrap_err()
                .0
                .contains("ATLAS_SMTP_URL")
        );
        assert!(cfg(&[("ATLAS_SMTP_URL", "smtp://relay?tls=maybe")]).is_err());
        assert!(
            cfg(&[("ATLAS_ALERT_FROM", "not an address")])
                .unwrap_err()
                .0
                .contains("ATLAS_ALERT_FROM")
        );
        let c = cfg(&[
            ("ATLAS_SMTP_URL", "smtp://127.0.0.1:2525"),
            ("ATLAS_ALERT_FROM", "Ops <ops@example.com>"),
        ])
        .unwrap();
        assert_eq!(c.alerts.smtp.unwrap().expose(), "smtp://127.0.0.1:2525");
        assert_eq!(c.alerts.from, "Ops <ops@example.com>");
    }

    #[test]
    fn bad_values_are_named() {
        assert!(
            cfg(&[("ATLAS_STORAGE", "dynamodb")])
                .unwrap_err()
                .0
                .contains("ATLAS_TABLE")
        );
        assert!(cfg(&[("ATLAS_PORT", "http")]).unwrap_err().0.contains("ATLAS_PORT"));
        assert!(
            cfg(&[("ATLAS_WORKSPACE_QUOTA", "0")])
                .unwrap_err()
                .0
                .contains("ATLAS_WORKSPACE_QUOTA")
        );
        assert!(
            cfg(&[("ATLAS_STORAGE", "mongo")])
                .unwrap_err()
                .0
                .contains("ATLAS_STORAGE")
        );
    }
}
