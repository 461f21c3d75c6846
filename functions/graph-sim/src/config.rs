//! The public value types: configuration, tenant and app specs, stats.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::families::ALL_ROLES;
use crate::faults::Faults;

/// Simulator configuration. `Default` binds 127.0.0.1:0 with no tenants.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Seeds tenant ids, content and fault decisions.
    pub seed: u64,
    pub bind: SocketAddr,
    /// Tenants created at start (each with `policies_per_family` objects per family).
    pub tenants: usize,
    pub policies_per_family: usize,
    /// `expires_in` of access tokens (Entra: 3599 s).
    pub token_lifetime: Duration,
    /// Overrides every family's default page size (settings catalog's 25 included); `$top` still wins.
    pub page_size: Option<usize>,
    /// `$batch` answers in a seeded, shuffled order, as Graph may ("in any order").
    pub shuffle_batch_responses: bool,
    /// Roles granted by admin consent with `.default` when the app registration lists none.
    pub default_roles: Vec<String>,
    /// Faults given to every tenant created at start (the binary's `--throttle`).
    pub initial_faults: Faults,
    /// Reject scope tag, group and filter ids that do not exist in the tenant (stricter than Graph is known
    /// to be, so a restore that forgets to map ids fails loudly).
    pub strict_references: bool,
    /// Serve the `/_sim` admin API (off: only what Microsoft serves, for clients that must not
    /// depend on it).
    pub admin_api: bool,
    /// How long an audit event stays hidden from `deviceManagement/auditEvents` after the change
    /// (Intune's appear after minutes; tests use 0).
    pub audit_delay_ms: u64,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 42,
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            tenants: 0,
            policies_per_family: 5,
            token_lifetime: Duration::from_secs(3599),
            page_size: None,
            shuffle_batch_responses: true,
            default_roles: ALL_ROLES.iter().map(|r| r.to_string()).collect(),
            initial_faults: Faults::default(),
            strict_references: true,
            admin_api: true,
            audit_delay_ms: 0,
        }
    }
}

/// What `/adminconsent` does for a tenant.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "behavior", rename_all = "snake_case")]
pub enum ConsentBehavior {
    /// Redirect with `admin_consent=True` and grant the roles.
    #[default]
    Grant,
    /// Redirect with `admin_consent=False`; nothing is granted.
    Decline,
    /// Redirect with `error` and `error_description` (v2 also carries `admin_consent=True`, as the docs show).
    Error { error: String, error_description: String },
}

impl ConsentBehavior {
    /// The admin cancelled: `access_denied` with AADSTS65004.
    pub fn access_denied() -> Self {
        ConsentBehavior::Error {
            error: "access_denied".into(),
            error_description: "AADSTS65004: User declined to consent to access the app.".into(),
        }
    }
}

/// A tenant to create. Every field is optional; `Default` derives everything from the seed.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TenantSpec {
    /// Tenant id (GUID).
    pub id: Option<String>,
    pub display_name: Option<String>,
    /// Verified domains; `<name>.onmicrosoft.com` is added when missing.
    pub domains: Vec<String>,
    /// Seeded objects per family (default: `SimConfig::policies_per_family`).
    pub policies_per_family: Option<usize>,
    pub seed: Option<u64>,
    pub consent: ConsentBehavior,
}

/// A created tenant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantInfo {
    pub id: String,
    pub display_name: String,
    /// Verified domains; the first is the default. One is always an initial `*.onmicrosoft.com` domain.
    pub domains: Vec<String>,
}

/// A (multi-tenant) app registration.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AppSpec {
    pub client_id: String,
    pub secret: Option<String>,
    pub display_name: Option<String>,
    /// Allowed `redirect_uri`s for admin consent; empty allows any.
    pub redirect_uris: Vec<String>,
    /// "Required permissions" granted by consent with `.default`; empty uses `SimConfig::default_roles`.
    pub required_roles: Vec<String>,
    /// Base64 DER RSA public key (SPKI or PKCS#1) of the certificate; when set, client assertions must be
    /// signed with it (RS256 or PS256).
    pub public_key: Option<String>,
    /// The manifest's `groupMembershipClaims` (`None`, `SecurityGroup`, `DirectoryRole`, `All`, …):
    /// ID tokens carry the signed-in user's directory roles in `wids` only with `DirectoryRole` or `All`.
    pub group_membership_claims: Option<String>,
}

impl AppSpec {
    /// Whether ID tokens for this app carry `wids`.
    pub fn emits_wids(&self) -> bool {
        self.group_membership_claims
            .as_deref()
            .is_some_and(|g| g.split(',').any(|p| ["DirectoryRole", "All"].contains(&p.trim())))
    }
}

/// Directory role template ids (the same in every tenant).
pub const GLOBAL_ADMINISTRATOR: &str = "62e90394-69f5-4237-9190-012177145e10";
pub const INTUNE_ADMINISTRATOR: &str = "3a2c62db-5318-420d-8d74-23affee5d9d5";
pub const PRIVILEGED_ROLE_ADMINISTRATOR: &str = "e8611ab8-c189-46e8-94e1-60213ab1f814";
/// In every member's `wids`: the default user role.
pub const DEFAULT_USER_ROLE: &str = "b79fbf4d-3ef9-4689-8143-76b194e85509";

/// A directory role's display name, for the role template ids the simulator knows.
pub fn role_name(template_id: &str) -> &'static str {
    match template_id {
        GLOBAL_ADMINISTRATOR => "Global Administrator",
        INTUNE_ADMINISTRATOR => "Intune Administrator",
        PRIVILEGED_ROLE_ADMINISTRATOR => "Privileged Role Administrator",
        _ => "Directory role",
    }
}

/// A user of a tenant who can sign in at `/{tenant}/oauth2/v2.0/authorize`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimUser {
    /// Stable handle: the sign-in page's button is `data-testid="sign-in-{key}"`.
    pub key: String,
    /// Object id (the ID token's `oid`).
    pub id: String,
    pub user_principal_name: String,
    pub display_name: String,
    /// Directory role template ids held (directly or through a group).
    pub roles: Vec<String>,
}

/// What a rate limiter let through at one Intune service.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceAdmitted {
    /// The service's allowance relative to the default (2 for devices).
    pub scale: u32,
    pub total: u64,
    /// By whole seconds since the stats were reset.
    pub per_second: BTreeMap<u64, u64>,
    /// When the last one arrived, in milliseconds since the stats were reset.
    pub last_ms: u64,
}

/// Counters for one tenant.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Graph requests (batch items included) by `"METHOD route"`, e.g.
    /// `"GET deviceManagement/configurationPolicies/{id}/settings"` or `"POST $batch"`.
    pub requests: BTreeMap<String, u64>,
    pub graph_requests: u64,
    pub batch_requests: u64,
    /// Requests that arrived inside a `$batch` (also in `graph_requests`, each counted and
    /// throttled on its own); `graph_requests - batch_items` is what went over the wire.
    pub batch_items: u64,
    /// Requests and batch items not answered 429 (what a rate limiter counts), by whole seconds
    /// since the stats were reset: how full each 20 s window was.
    pub admitted_per_second: BTreeMap<u64, u64>,
    /// When the last of them arrived, in milliseconds since the stats were reset.
    pub last_admitted_ms: u64,
    /// The same, per Intune service (its limits are per service; see `RateLimit`).
    #[serde(default)]
    pub admitted_by_service: BTreeMap<String, ServiceAdmitted>,
    pub token_requests: u64,
    /// Answered 429 (fault or rate limit).
    pub throttled: u64,
    /// Answered with an injected 5xx.
    pub server_errors: u64,
    /// Objects per family (`configurationPolicies`, `groups`, …).
    pub objects: BTreeMap<String, usize>,
    /// Assignments per family.
    pub assignments: BTreeMap<String, usize>,
    /// Graph requests (a `$batch` envelope is one; token requests are not Graph) being answered at
    /// once, at most: from arrival until the answer, latency (`Faults::delay`) included.
    #[serde(default)]
    pub in_flight_max: u64,
    /// Every Graph request's time from arrival to answer, added up, in microseconds. Over the span
    /// from the first arrival to the last answer it is the mean number in flight.
    #[serde(default)]
    pub in_flight_us: u64,
    /// Wall clock (Unix milliseconds) of the first Graph request's arrival since the reset.
    #[serde(default)]
    pub first_arrival_unix_ms: Option<u64>,
    /// Wall clock (Unix milliseconds) of the last answer to a Graph request since the reset.
    #[serde(default)]
    pub last_answer_unix_ms: Option<u64>,
    /// The Graph requests since the reset in arrival order (the first [`RECORD_LIMIT`]), so a test
    /// can assert which requests overlapped instead of timing them.
    #[serde(default)]
    pub recorded: Vec<Recorded>,
}

/// How many requests [`Stats::recorded`] keeps.
pub const RECORD_LIMIT: usize = 20_000;

/// One Graph request as the simulator saw it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Recorded {
    pub method: String,
    /// Path under the version, with the query: `deviceManagement/deviceConfigurations?$expand=…`,
    /// or `$batch`.
    pub path: String,
    /// Microseconds since the reset.
    pub arrived_us: u64,
    /// Microseconds since the reset; `None` while it is still being answered.
    pub answered_us: Option<u64>,
    /// Other Graph requests of the tenant in flight when it arrived.
    pub in_flight_at_arrival: u64,
}

impl Recorded {
    /// Whether the two were in flight at the same time (one arrived before the other was answered).
    pub fn overlaps(&self, other: &Recorded) -> bool {
        let end = |r: &Recorded| r.answered_us.unwrap_or(u64::MAX);
        self.arrived_us < end(other) && other.arrived_us < end(self)
    }
}

impl Stats {
    /// Mean Graph requests in flight between the first arrival and the last answer.
    pub fn in_flight_mean(&self) -> Option<f64> {
        let span_ms = self.last_answer_unix_ms?.checked_sub(self.first_arrival_unix_ms?)?;
        (span_ms > 0).then(|| self.in_flight_us as f64 / 1000.0 / span_ms as f64)
    }

    /// Requests with this method whose route contains the family path segment (e.g. `"configurationPolicies"`).
    pub fn count(&self, method: &str, family: &str) -> u64 {
        self.requests
            .iter()
            .filter(|(k, _)| {
                k.split_once(' ').is_some_and(|(m, route)| {
                    m.eq_ignore_ascii_case(method) && route.split('/').any(|s| s.eq_ignore_ascii_case(family))
                })
            })
            .map(|(_, n)| n)
            .sum()
    }

    pub fn objects_of(&self, family: &str) -> usize {
        self.objects.get(family).copied().unwrap_or(0)
    }
}
