//! Request and response types shared by the functions and the web app, so the contract cannot drift.

mod alerts;
mod dashboard;
mod directory;
mod drift;
mod exceptions;
mod lint;
mod notifications;
mod onboarding;
mod posture;
mod promotion;
mod restore;
mod support;
mod system;
pub use alerts::*;
pub use dashboard::*;
pub use directory::*;
pub use drift::*;
pub use exceptions::*;
pub use lint::*;
pub use notifications::*;
pub use onboarding::*;
pub use posture::*;
pub use promotion::*;
pub use restore::*;
pub use support::*;
pub use system::*;

pub use atlas_domain::{
    AdminRole, BackupSetStatus, ConnectionLifecycle, ConsentOutcome, EnvironmentLifecycle, EventOutcome,
    FamilySyncStatus, HealthStatus, InventoryStatus, InvitationStatus, OperationType, RestoreState, Role, RunOutcome,
    RunState, Status,
};
use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// `GET /api/health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Health {
    /// `ok` when storage and queue answered, `degraded` otherwise.
    /// `ok` or `degraded`.
    pub state: HealthStatus,
    pub status: Status,
    /// The build's version.
    pub version: String,
    /// Which table adapter serves this process: `embedded` or `dynamodb`.
    pub storage: String,
    /// Which queue adapter serves this process: `embedded` or `sqs`.
    pub queue: String,
    /// Why the status is `degraded`: `the store cannot write: …` (a full disk, a read-only volume).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// An `application/problem+json` body (RFC 9457).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Problem {
    /// A URI naming the problem kind, e.g. `urn:tenantatlas:problem:validation`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Field-level messages for validation problems.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// The request id, to quote when asking for help.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct FieldError {
    /// The field's name as the client sent it, e.g. `display_name` or `query.environment_id`.
    pub field: String,
    pub message: String,
}

/// Environment entitlement of a membership: every environment, or a listed subset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(untagged)]
pub enum Environments {
    /// The string `"all"`.
    All(AllEnvironments),
    /// Environment ids.
    Only(Vec<String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum AllEnvironments {
    All,
}

/// `GET /api/v1/me`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Me {
    pub user_id: String,
    pub email: String,
    pub name: String,
    pub memberships: Vec<MyMembership>,
    /// A platform operator (deployment configuration): the system console is theirs.
    #[serde(default)]
    pub platform_operator: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct MyMembership {
    pub workspace_id: String,
    pub workspace_name: String,
    pub role: Role,
    pub environments: Environments,
    /// Capability codes this member holds in the workspace.
    pub capabilities: Vec<String>,
}

/// One row of the workspace chooser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct WorkspaceSummary {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub role: Role,
    pub pinned: bool,
    /// Environments this member can see.
    pub environment_count: u32,
    /// How many of those environments are in each canonical status (`ready`, `not_configured`, …).
    pub environment_statuses: std::collections::BTreeMap<String, u32>,
    /// Milliseconds since the epoch of the last audited change, if any.
    pub last_activity_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct WorkspaceList {
    pub items: Vec<WorkspaceSummary>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct WorkspaceCreate {
    pub name: String,
    /// Lowercase letters, digits and dashes: a handle unique among the workspaces you created (the
    /// id is minted; use the returned `id` in paths).
    pub slug: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Workspace {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub owner_count: u32,
    pub created_ms: i64,
    pub last_activity_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Environment {
    pub id: String,
    pub workspace_id: String,
    pub display_name: String,
    pub tenant_id: String,
    pub primary_domain: String,
    /// `active`, `suspended` or `archived`.
    pub lifecycle: EnvironmentLifecycle,
    /// The canonical status shown to operators.
    pub status: Status,
    pub created_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct EnvironmentList {
    pub items: Vec<Environment>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EnvironmentCreate {
    /// Lowercase letters, digits and dashes; becomes the environment id.
    pub slug: String,
    pub display_name: String,
    /// The Entra tenant id (a GUID).
    pub tenant_id: String,
    pub primary_domain: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EnvironmentPatch {
    pub display_name: Option<String>,
    /// `active`, `suspended` or `archived`.
    pub lifecycle: Option<EnvironmentLifecycle>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Member {
    pub user_id: String,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub environments: Environments,
    pub joined_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct MemberList {
    pub items: Vec<Member>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MemberPatch {
    pub role: Option<Role>,
    pub environments: Option<Environments>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct InvitationCreate {
    pub email: String,
    pub role: Role,
    pub environments: Environments,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Invitation {
    pub id: String,
    pub email: String,
    pub role: Role,
    pub environments: Environments,
    /// `pending`, `accepted`, `revoked` or `expired`.
    pub state: InvitationStatus,
    pub status: Status,
    pub invited_by: String,
    pub created_ms: i64,
    pub expires_ms: i64,
}

/// The answer to creating an invitation: the only time the acceptance token is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct InvitationCreated {
    pub invitation: Invitation,
    /// Send this to the invitee; it is stored only as a hash.
    pub accept_token: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct InvitationList {
    pub items: Vec<Invitation>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct InvitationAccept {
    pub token: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AuditEvent {
    pub id: String,
    pub at_ms: i64,
    pub actor_id: String,
    pub actor_email: String,
    pub action: String,
    pub target: String,
    pub workspace_id: String,
    pub environment_id: Option<String>,
    /// `success`, `denied` or `failed`.
    pub outcome: EventOutcome,
    pub reason: Option<String>,
    pub request_id: Option<String>,
    /// Context of the action; secret-looking values are redacted.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub metadata: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AuditPage {
    pub items: Vec<AuditEvent>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next: Option<String>,
}

/// `GET …/audit/verify`: the workspace's audit hash chain checked from seq 1 to its head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AuditVerification {
    /// Chained events checked before the first broken link (all of them when none is broken).
    pub verified_events: u64,
    /// The head as the workspace item records it (0 and the genesis hash for an empty chain).
    pub head_seq: u64,
    pub head_hash: String,
    /// The first link that does not hold; `null` when the whole chain verifies.
    pub first_broken: Option<AuditChainBreak>,
    /// Events written before the chain existed (no `seq`): not covered by the chain.
    pub unchained_events: u64,
    /// When seq 1 was written (ms), if the chain has begun.
    pub chain_start_ms: Option<i64>,
    /// In words: "chain starts at seq 1 at <time>; N earlier events unchained", or "".
    pub note: String,
}

/// `POST …/evidence`: build an evidence pack of the workspace, or of one environment, for a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EvidenceStart {
    /// One environment; the whole workspace when left out (needs access to every environment).
    #[serde(default)]
    pub environment_id: Option<String>,
    /// The period, Unix milliseconds: `from` ≤ t < `to`, at most 400 days.
    pub from: i64,
    pub to: i64,
}

/// An evidence pack: what it covers, its state, and the ZIP's size and SHA-256 once built.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct EvidencePack {
    pub id: String,
    pub workspace_id: String,
    pub environment_id: Option<String>,
    /// `building`, `ready`, `failed` or `expired` (past its retention: deleted, not downloadable).
    pub state: String,
    pub status: Status,
    pub from_ms: i64,
    pub to_ms: i64,
    pub created_ms: i64,
    pub created_by: String,
    /// The `evidence.build` run that builds it.
    pub run_id: String,
    pub size: Option<u64>,
    pub sha256: Option<String>,
    pub files: Option<u32>,
    pub reason: Option<String>,
    /// Kept (in AWS: locked against deletion) until then; then deleted. `null` for packs started
    /// before retention existed.
    #[serde(default)]
    pub retain_until_ms: Option<i64>,
}

/// `GET/PUT …/evidence/settings`: how long packs are kept and whether they name members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EvidenceSettings {
    /// Days a new pack is kept, 30 to 3,650 (default 365).
    pub retention_days: u32,
    /// Members' e-mail addresses in packs; pseudonyms when `false` (the default).
    pub include_emails: bool,
}

impl EvidenceSettings {
    pub const MIN_RETENTION_DAYS: u32 = 30;
    pub const MAX_RETENTION_DAYS: u32 = 3650;
}

impl Default for EvidenceSettings {
    fn default() -> Self {
        Self {
            retention_days: 365,
            include_emails: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct EvidencePackList {
    /// Newest first.
    pub items: Vec<EvidencePack>,
}

/// A short-lived download link of a ready pack: no bearer token needed, valid until `expires_ms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct EvidenceLink {
    pub url: String,
    pub expires_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AuditChainBreak {
    pub seq: u64,
    /// The event at `seq`; for a missing seq, the next event found after the gap (`null` when the
    /// chain's tail is missing).
    pub event_id: Option<String>,
    /// `hash mismatch`, `prev_hash mismatch` or `missing seq`.
    pub reason: String,
}

/// `GET …/environments/{env}/provider-connection`. Credentials are never part of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ProviderConnection {
    /// False until a connection is created; `status` is then `not_configured`.
    pub configured: bool,
    /// Canonical: `ready`, `needs_attention`, `blocked`, `expired`, `not_configured` or `unknown`.
    pub status: Status,
    /// Why, in an operator's words.
    pub status_reason: String,
    /// The tenant as entered: a GUID or a verified domain.
    pub tenant: Option<String>,
    /// The Entra tenant GUID, once known.
    pub tenant_id: Option<String>,
    /// `platform` (TenantAtlas's multi-tenant app) or `dedicated` (the customer's own app registration).
    pub app_mode: Option<String>,
    pub client_id: Option<String>,
    /// `created`, `consent_pending`, `consented`, `consent_failed` or `disabled`.
    pub lifecycle: Option<ConnectionLifecycle>,
    pub consent: Option<ConsentResult>,
    /// Whether a credential is stored, and when it was set; never the credential itself.
    pub credential: Option<CredentialInfo>,
    pub verification: Option<Verification>,
    /// The Microsoft Graph application permissions consent asks the tenant for (the app's
    /// statically configured ones, requested with `.default`), read-write ones included, each
    /// with why TenantAtlas needs it.
    #[serde(default)]
    pub requested_permissions: Vec<RequestedPermission>,
}

/// A Graph application permission consent requests, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RequestedPermission {
    /// `DeviceManagementConfiguration.ReadWrite.All`, …
    pub permission: String,
    /// Whether it lets TenantAtlas change the tenant (restore, promotion), not only read it.
    pub read_write: bool,
    /// What needs it, in an operator's words.
    pub why: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ConsentResult {
    /// `granted`, `declined` or `error`.
    pub outcome: ConsentOutcome,
    pub at_ms: i64,
    pub error: Option<String>,
    pub error_description: Option<String>,
    /// The tenant administrator whose sign-in proved the tenant is this workspace's to manage.
    #[serde(default)]
    pub proven_by: Option<ConsentProof>,
}

/// Who proved administration of the tenant by signing in (never a token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ConsentProof {
    /// The administrator's object id in the tenant.
    pub oid: String,
    pub upn: String,
    /// `Global Administrator`, `Privileged Role Administrator` or `Intune Administrator`.
    pub role: AdminRole,
    pub at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CredentialInfo {
    /// `secret`.
    pub kind: String,
    pub version: u32,
    pub set_ms: i64,
}

/// The permission posture and health found by the last verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Verification {
    pub at_ms: i64,
    /// Whether a token could be acquired at all.
    pub token_ok: bool,
    pub error: Option<String>,
    pub permissions: Vec<PermissionPosture>,
    pub probes: Vec<FamilyProbe>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PermissionPosture {
    pub permission: String,
    pub granted: bool,
    /// Features that cannot work without it.
    pub blocks: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct FamilyProbe {
    pub family: String,
    pub ok: bool,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ProviderConnectionCreate {
    /// The tenant's GUID or one of its verified domains.
    pub tenant: String,
    /// Absent: TenantAtlas's own multi-tenant app. Present: the customer's app registration.
    pub dedicated_app: Option<DedicatedApp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DedicatedApp {
    pub client_id: String,
    pub client_secret: String,
}

/// An edit of the provider connection: what is absent stays. A changed tenant or client id
/// resets consent (a tenant administrator consents again).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ProviderConnectionUpdate {
    /// The tenant's GUID or its primary domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// The dedicated app registration's client id (dedicated connections only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ConsentStart {
    /// Open this in the tenant admin's browser.
    pub consent_url: String,
    pub expires_ms: i64,
}

/// A high-risk change: the operator types the environment's display name to confirm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CredentialRotate {
    pub client_secret: String,
    pub confirm: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Confirm {
    pub confirm: String,
}

/// An operation run, at its canonical address `/api/v1/workspaces/{ws}/operations/{run}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct OperationRun {
    pub id: String,
    /// The stable type code, e.g. `provider.verify`.
    pub operation_type: OperationType,
    /// The operator label, e.g. "Verify provider".
    pub label: String,
    pub workspace_id: String,
    pub environment_id: Option<String>,
    /// Who started it; for a scheduled run, the schedule's creator, whose authority it runs with.
    pub initiator: String,
    /// True when a backup schedule started the run, not a member's request.
    #[serde(default)]
    pub scheduled: bool,
    /// `queued`, `running` or `completed`.
    pub state: RunState,
    /// `succeeded`, `partially_succeeded`, `failed`, `blocked` or `cancelled`, once completed.
    pub outcome: Option<RunOutcome>,
    /// Canonical: `running`, `ready`, `needs_attention`, `failed`, `blocked` or `historical`.
    pub status: Status,
    pub reason: Option<String>,
    pub created_ms: i64,
    pub started_ms: Option<i64>,
    pub ended_ms: Option<i64>,
    pub duration_ms: Option<i64>,
    pub total: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub skipped: u64,
    /// DynamoDB read request units the run's steps consumed, in thousandths (an eventually
    /// consistent 4 KB read is 500), as DynamoDB bills them; the embedded store computes the same.
    #[serde(default)]
    pub read_units_milli: u64,
    /// DynamoDB write request units the run's steps consumed, in thousandths.
    #[serde(default)]
    pub write_units_milli: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct OperationPage {
    pub items: Vec<OperationRun>,
    pub next: Option<String>,
}

/// The canonical viewer's answer: the run, and whether the environment the client has selected
/// differs from the run's (an informational banner, never a reason to refuse).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct OperationView {
    pub run: OperationRun,
    pub context_mismatch: bool,
    pub items: Vec<RunItem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RunItem {
    pub item: String,
    /// `succeeded`, `failed` or `skipped`.
    pub result: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub detail: serde_json::Value,
}

/// One Intune object as the last sync saw it. `payload` (secret-looking values redacted) is
/// present on the item's own address only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct InventoryItem {
    pub id: String,
    pub family: String,
    pub name: String,
    pub platform: Option<String>,
    pub last_modified: Option<String>,
    pub assignment_summary: String,
    pub scope_tags: Vec<String>,
    pub payload_hash: String,
    /// `active`, or `deleted` for a ghost: gone from Intune, kept here.
    pub state: InventoryStatus,
    pub status: Status,
    pub deleted_ms: Option<i64>,
    pub last_seen_ms: i64,
    /// What syncs saw happen to it, oldest first (the last 50 events).
    pub history: Vec<InventoryEvent>,
    /// The object as Graph returned it (secret-looking values redacted); `null` in lists.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub payload: Option<serde_json::Value>,
}

/// One event in an inventory item's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct InventoryEvent {
    /// `seen` (first sync that found it), `changed`, `deleted` (gone from Intune) or `restored`
    /// (back after being deleted).
    pub event: String,
    pub at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct InventoryPage {
    pub items: Vec<InventoryItem>,
    pub next: Option<String>,
    /// Each synced family's last sync: a family `unknown` after an incomplete read shows when and why.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub families: Vec<InventoryFamily>,
}

/// A point-in-time capture of an environment's policies. `status`: `running`, `complete`,
/// `partial` (some families failed: see the run's items) or `failed` — never complete unless
/// every family was captured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct BackupSet {
    pub id: String,
    pub created_ms: i64,
    pub families: Vec<String>,
    pub state: BackupSetStatus,
    pub status: Status,
    pub run: Option<OperationRun>,
    /// Items whose payload was not stored when the run ended (`family/id`); any makes the set partial.
    #[serde(default)]
    pub unreadable: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct BackupSetList {
    pub items: Vec<BackupSet>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct BackupItem {
    pub family: String,
    pub id: String,
    pub name: String,
    /// The payload's content hash: equal hashes across sets mean an unchanged policy.
    pub hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct BackupSetDetail {
    pub set: BackupSet,
    pub items: Vec<BackupItem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BackupStart {
    /// Family codes; absent means every family.
    pub families: Option<Vec<String>>,
}

/// `GET …/backups/{set}/diff?with={other}`: what changed from `{set}` to `{other}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct BackupDiff {
    pub from: String,
    pub to: String,
    pub added: Vec<BackupItem>,
    pub removed: Vec<BackupItem>,
    pub changed: Vec<ChangedItem>,
    pub unchanged: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ChangedItem {
    pub item: BackupItem,
    /// Field-level changes (JSON pointers), secret-looking values redacted.
    pub fields: Vec<FieldChange>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct FieldChange {
    pub path: String,
    /// Any JSON value; absent (`null`) when the field did not exist on that side.
    pub before: Option<serde_json::Value>,
    /// Any JSON value; absent (`null`) when the field does not exist on that side.
    pub after: Option<serde_json::Value>,
    /// A secret is involved: its values are shown as `[redacted]`, but the change is real (the
    /// values differ) and a restore writes the real value.
    #[serde(default)]
    pub secret: bool,
}

/// A backup schedule: every `every_minutes`, or at the times of a `cron` expression in `time_zone`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct BackupSchedule {
    pub id: String,
    /// Set for an interval schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every_minutes: Option<u32>,
    /// Set for a cron schedule: five fields (minute hour day-of-month month day-of-week).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    /// An IANA time zone: cron times are local to it; for an interval it is for display.
    pub time_zone: String,
    pub families: Option<Vec<String>>,
    pub next_due_ms: i64,
    /// Retention: keep the newest N completed sets, and/or every set younger than N days.
    pub keep_last: Option<u32>,
    pub keep_days: Option<u32>,
    /// The next five due times, to show operators when it will run.
    pub upcoming_ms: Vec<i64>,
    pub created_by: String,
    /// Retention: partial sets count toward `keep_last` too.
    #[serde(default)]
    pub keep_partial: Option<bool>,
    /// False while paused: no backup starts.
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct BackupScheduleList {
    pub items: Vec<BackupSchedule>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BackupScheduleCreate {
    /// 15 minutes to 31 days. Give this or `cron`, not both.
    #[serde(default)]
    pub every_minutes: Option<u32>,
    /// A five-field cron expression evaluated in `time_zone`, e.g. `30 2 * * *`. When a DST change
    /// skips the local time, the run happens at the first minute after the gap; when it repeats the
    /// time, the run happens once (the first pass).
    #[serde(default)]
    pub cron: Option<String>,
    pub time_zone: String,
    pub families: Option<Vec<String>>,
    /// When the first backup is due (cron: the first run at or after it); now when left out.
    pub first_due_ms: Option<i64>,
    #[serde(default)]
    pub keep_last: Option<u32>,
    #[serde(default)]
    pub keep_days: Option<u32>,
    /// Partial sets count toward `keep_last` like complete ones (by default only complete sets do).
    #[serde(default)]
    pub keep_partial: Option<bool>,
}

/// One policy family's last inventory sync. `status`: `ok`, or `unknown` when the read failed or
/// was incomplete (a list that ended early, a missing object that could not be confirmed deleted):
/// then nothing of the family was changed or ghosted, and `reason` says why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct InventoryFamily {
    pub family: String,
    pub label: String,
    pub state: FamilySyncStatus,
    pub status: Status,
    /// When that sync read the family.
    pub at_ms: i64,
    pub reason: Option<String>,
    /// Objects read, for an `ok` family.
    pub count: Option<u64>,
    /// Objects listed but not read in full (left as before).
    #[serde(default)]
    pub unread: u64,
}

pub mod paths;
