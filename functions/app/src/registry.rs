//! The route registry: the single source of truth for every HTTP function — method, path,
//! Lambda function name, the capability it requires (or that it is public), and its handler.
//! The local router, the per-route Lambda binaries, the SAM template and the OpenAPI document
//! are all derived from it, and a test fails when any of them disagrees.

use atlas_domain::Capability;
use axum::http::Method;
use axum::routing::MethodRouter;
use utoipa::openapi::{RefOr, schema::Schema};

use crate::state::AppState;

/// Who may call a route. Every route declares one; there is no default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not (health, the OpenAPI document, webhooks that carry their own proof).
    Public,
    /// Any signed-in user; the handler itself scopes what they see.
    SignedIn,
    /// A member of the route's workspace (and environment) holding this capability.
    Capability(Capability),
    /// A platform operator (deployment configuration, never a workspace role): everyone else
    /// signed in gets 404, as if `/system` did not exist (spec 025).
    Platform,
}

/// What a function may do to the table; the template grants exactly the matching IAM actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TableAccess {
    None,
    Read,
    Write,
}

impl TableAccess {
    pub fn actions(self) -> &'static [&'static str] {
        match self {
            TableAccess::None => &[],
            TableAccess::Read => &["dynamodb:GetItem", "dynamodb:Query"],
            TableAccess::Write => &[
                "dynamodb:GetItem",
                "dynamodb:Query",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
                "dynamodb:ConditionCheckItem",
            ],
        }
    }
}

/// The documented success body of a route.
#[derive(Clone, Copy)]
pub enum Body {
    /// A JSON body of a schema type: its name and schema.
    Json(SchemaFn),
    /// The OpenAPI document itself.
    OpenApi,
    /// `204 No Content`.
    Empty,
    /// A CSV download.
    Csv,
    /// A ZIP download (an evidence pack).
    Zip,
    /// A JSON object whose shape is not ours (e.g. a policy exactly as Graph returned it), with
    /// what it is.
    FreeForm(&'static str),
}

/// A named schema and every schema it refers to (so each `$ref` of the document resolves).
pub struct NamedSchema {
    pub name: String,
    pub schema: RefOr<Schema>,
    pub refs: Vec<(String, RefOr<Schema>)>,
}

/// A named schema, produced on demand.
pub type SchemaFn = fn() -> NamedSchema;

pub fn schema<T: utoipa::ToSchema>() -> NamedSchema {
    let mut refs = Vec::new();
    T::schemas(&mut refs);
    NamedSchema {
        name: T::name().into_owned(),
        schema: T::schema(),
        refs,
    }
}

#[derive(Clone)]
pub struct Route {
    pub method: Method,
    /// With `{param}` segments, as both axum and OpenAPI write them.
    pub path: &'static str,
    /// The Lambda function (and binary) name, e.g. `get-health`.
    pub function: &'static str,
    pub access: Access,
    pub summary: &'static str,
    pub tag: &'static str,
    pub table: TableAccess,
    /// Queues this route sends work to.
    pub sends: &'static [&'static str],
    /// The query parameters it accepts; any other key is a 400 naming it.
    pub query: &'static [&'static str],
    /// Those of `query` the route cannot answer without (a 400 naming the key when left out).
    pub required_query: &'static [&'static str],
    /// The JSON request body, if any.
    pub request: Option<SchemaFn>,
    /// A valid request body, for the documentation and the authorization matrix test.
    pub example: Option<fn() -> serde_json::Value>,
    /// The success status and body.
    pub status: u16,
    pub body: Body,
    pub handler: fn() -> MethodRouter<AppState>,
    /// Seals or opens secrets (provider credentials, consent state): the template grants it the KMS key.
    pub secrets: bool,
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} ({})", self.method, self.path, self.function)
    }
}

/// Declares a route; the method is written once, so the handler cannot be mounted on another,
/// and `access` has no default, so a route without a declared capability does not compile.
macro_rules! route {
    (@required) => { &[] };
    (@required $required:expr) => { $required };
    (@secrets) => { false };
    (@secrets $secrets:literal) => { $secrets };
    ($method:ident $path:expr => $function:literal {
        access: $access:expr,
        $(secrets: $secrets:literal,)?
        summary: $summary:literal,
        tag: $tag:literal,
        table: $table:ident,
        sends: [$($q:literal),* $(,)?],
        query: $query:expr,
        $(required_query: $required:expr,)?
        request: $request:expr,
        example: $example:expr,
        status: $status:literal,
        body: $body:expr,
        handler: $handler:path $(,)?
    }) => {
        Route {
            method: Method::$method,
            path: $path,
            function: $function,
            access: $access,
            summary: $summary,
            tag: $tag,
            table: TableAccess::$table,
            sends: &[$($q),*],
            query: $query,
            required_query: route!(@required $($required)?),
            request: $request,
            example: $example,
            status: $status,
            body: $body,
            handler: || axum::routing::on(axum::routing::MethodFilter::$method, $handler),
            secrets: route!(@secrets $($secrets)?),
        }
    };
}

const NONE: &[&str] = &[];

/// Every HTTP route of the product.
pub fn routes() -> Vec<Route> {
    use crate::routes::{
        alerts, audit, backups, dashboard, directory, drift, environments, evidence, exceptions, health, inventory,
        invitations, lint, members, notifications, onboarding, openapi, operations, posture, promotion, provider,
        restores, support, system, workspaces,
    };
    use Access::{Capability as Cap, Platform, Public, SignedIn};
    use atlas_api_types as api;
    use atlas_api_types::paths::template as T;
    use atlas_domain::Capability::*;
    use serde_json::json;
    vec![
        route!(GET T::HEALTH => "get-health" {
            access: Public,
            summary: "Service health: version and which storage and queue serve it",
            tag: "system", table: Read, sends: [], query: NONE, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::Health>),
            handler: health::get,
        }),
        route!(GET T::OPENAPI => "get-openapi" {
            access: Public,
            summary: "This API's OpenAPI document",
            tag: "system", table: None, sends: [], query: NONE, request: None, example: None,
            status: 200, body: Body::OpenApi,
            handler: openapi::get,
        }),
        route!(GET T::ME => "get-me" {
            access: SignedIn,
            summary: "The signed-in user, their memberships and capabilities per workspace",
            tag: "identity", table: Read, sends: [], query: NONE, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::Me>),
            handler: workspaces::me,
        }),
        route!(GET T::MY_NOTIFICATIONS => "get-my-notifications" {
            access: SignedIn,
            summary: "My notifications, newest first, with the unread count; only what I can still see",
            tag: "identity", table: Read, sends: [], query: notifications::PAGE_QUERY, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::NotificationPage>),
            handler: notifications::list,
        }),
        route!(POST T::MY_NOTIFICATIONS_READ => "post-my-notifications-read" {
            access: SignedIn,
            summary: "Mark my notifications read, up to one of them or all",
            tag: "identity", table: Write, sends: [], query: NONE,
            request: Some(schema::<api::NotificationsRead>),
            example: Some(|| json!({})),
            status: 204, body: Body::Empty,
            handler: notifications::read,
        }),
        route!(GET T::MY_NOTIFICATION_PREFS => "get-my-notification-prefs" {
            access: SignedIn,
            summary: "Which of my runs' endings notify me (opt-in)",
            tag: "identity", table: Read, sends: [], query: NONE, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::NotificationPrefs>),
            handler: notifications::get_prefs,
        }),
        route!(PUT T::MY_NOTIFICATION_PREFS => "put-my-notification-prefs" {
            access: SignedIn,
            summary: "Opt in or out of notifications when my runs complete, fail or are blocked",
            tag: "identity", table: Write, sends: [], query: NONE,
            request: Some(schema::<api::NotificationPrefs>),
            example: Some(|| json!({"run_completed": false, "run_failed": true, "run_blocked": true})),
            status: 200, body: Body::Json(schema::<api::NotificationPrefs>),
            handler: notifications::put_prefs,
        }),
        route!(GET T::WORKSPACES => "get-workspaces" {
            access: SignedIn,
            summary: "The workspace chooser: my workspaces with search, sort, pins and environment badges",
            tag: "workspaces", table: Read, sends: [], query: &["search", "sort"], request: None, example: None,
            status: 200, body: Body::Json(schema::<api::WorkspaceList>),
            handler: workspaces::list,
        }),
        route!(POST T::WORKSPACES => "post-workspaces" {
            access: SignedIn,
            summary: "Create a workspace; the creator becomes its owner",
            tag: "workspaces", table: Write, sends: [], query: NONE,
            request: Some(schema::<api::WorkspaceCreate>),
            example: Some(|| json!({"name": "Northwind MSP", "slug": "northwind"})),
            status: 201, body: Body::Json(schema::<api::Workspace>),
            handler: workspaces::create,
        }),
        route!(GET T::WORKSPACE => "get-workspace" {
            access: Cap(WorkspaceView),
            summary: "A workspace",
            tag: "workspaces", table: Read, sends: [], query: NONE, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::Workspace>),
            handler: workspaces::get,
        }),
        route!(PUT T::WORKSPACE_PIN => "put-workspace-pin" {
            access: Cap(WorkspaceView),
            summary: "Pin the workspace to the top of my chooser",
            tag: "workspaces", table: Write, sends: [], query: NONE, request: None, example: None,
            status: 204, body: Body::Empty,
            handler: workspaces::pin,
        }),
        route!(DELETE T::WORKSPACE_PIN => "delete-workspace-pin" {
            access: Cap(WorkspaceView),
            summary: "Unpin the workspace",
            tag: "workspaces", table: Write, sends: [], query: NONE, request: None, example: None,
            status: 204, body: Body::Empty,
            handler: workspaces::unpin,
        }),
        route!(GET T::ENVIRONMENTS => "get-environments" {
            access: Cap(WorkspaceView),
            summary: "The managed environments I am entitled to",
            tag: "environments", table: Read, sends: [], query: NONE, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::EnvironmentList>),
            handler: environments::list,
        }),
        route!(POST T::ENVIRONMENTS => "post-environments" {
            access: Cap(EnvironmentsManage),
            summary: "Add a managed environment (one Entra tenant)",
            tag: "environments", table: Write, sends: [], query: NONE,
            request: Some(schema::<api::EnvironmentCreate>),
            example: Some(|| json!({"slug": "env-litware", "display_name": "Litware", "tenant_id": "33333333-3333-4333-8333-333333333333", "primary_domain": "litware.onmicrosoft.com"})),
            status: 201, body: Body::Json(schema::<api::Environment>),
            handler: environments::create,
        }),
        route!(GET T::ENVIRONMENT => "get-environment" {
            access: Cap(WorkspaceView),
            summary: "A managed environment",
            tag: "environments", table: Read, sends: [], query: NONE, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::Environment>),
            handler: environments::get,
        }),
        route!(PATCH T::ENVIRONMENT => "patch-environment" {
            access: Cap(EnvironmentsManage),
            summary: "Rename an environment or change its lifecycle",
            tag: "environments", table: Write, sends: [], query: NONE,
            request: Some(schema::<api::EnvironmentPatch>),
            example: Some(|| json!({"display_name": "Contoso (production)"})),
            status: 200, body: Body::Json(schema::<api::Environment>),
            handler: environments::patch,
        }),
        route!(GET T::MEMBERS => "get-members" {
            access: Cap(WorkspaceView),
            summary: "Members of the workspace with their roles and environments",
            tag: "members", table: Read, sends: [], query: NONE, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::MemberList>),
            handler: members::list,
        }),
        route!(PATCH T::MEMBER => "patch-member" {
            access: Cap(MembersManage),
            summary: "Change a member's role or environments (the last owner stays an owner)",
            tag: "members", table: Write, sends: [], query: NONE,
            request: Some(schema::<api::MemberPatch>),
            example: Some(|| json!({"role": "manager"})),
            status: 200, body: Body::Json(schema::<api::Member>),
            handler: members::patch,
        }),
        route!(DELETE T::MEMBER => "delete-member" {
            access: Cap(MembersManage),
            summary: "Remove a member (not the last owner)",
            tag: "members", table: Write, sends: [], query: NONE, request: None, example: None,
            status: 204, body: Body::Empty,
            handler: members::delete,
        }),
        route!(GET T::INVITATIONS => "get-invitations" {
            access: Cap(MembersManage),
            summary: "Invitations of the workspace",
            tag: "members", table: Read, sends: [], query: NONE, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::InvitationList>),
            handler: invitations::list,
        }),
        route!(POST T::INVITATIONS => "post-invitations" {
            access: Cap(MembersManage),
            summary: "Invite someone by email; the answer holds the one-time acceptance token",
            tag: "members", table: Write, sends: [], query: NONE,
            request: Some(schema::<api::InvitationCreate>),
            example: Some(|| json!({"email": "new.hire@demo.test", "role": "operator", "environments": ["env-contoso"]})),
            status: 201, body: Body::Json(schema::<api::InvitationCreated>),
            handler: invitations::create,
        }),
        route!(DELETE T::INVITATION => "delete-invitation" {
            access: Cap(MembersManage),
            summary: "Revoke a pending invitation",
            tag: "members", table: Write, sends: [], query: NONE, request: None, example: None,
            status: 204, body: Body::Empty,
            handler: invitations::revoke,
        }),
        route!(POST T::INVITATION_ACCEPT => "post-invitation-accept" {
            access: SignedIn,
            summary: "Accept an invitation with its token (the signed-in email must match)",
            tag: "members", table: Write, sends: [], query: NONE,
            request: Some(schema::<api::InvitationAccept>),
            example: Some(|| json!({"token": "{invitation_token}"})),
            status: 200, body: Body::Json(schema::<api::MyMembership>),
            handler: invitations::accept,
        }),
        route!(GET T::ONBOARDING => "get-onboarding" {
            access: Cap(EnvironmentsManage),
            summary: "Onboarding drafts of environments I am entitled to, each with the step it stands at (derived from the environment, its connection and runs)",
            tag: "environments", table: Read, sends: [], query: NONE, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::OnboardingDraftList>),
            handler: onboarding::list,
        }),
        route!(POST T::ONBOARDING => "post-onboarding" {
            access: Cap(EnvironmentsManage),
            summary: "Start onboarding: add an environment by name and tenant (GUID or verified domain) with its provider connection; the same tenant again returns its draft",
            tag: "environments", table: Write, sends: [], query: NONE,
            request: Some(schema::<api::OnboardingCreate>),
            example: Some(|| json!({"display_name": "Litware", "tenant": "33333333-3333-4333-8333-333333333333"})),
            status: 201, body: Body::Json(schema::<api::OnboardingDraft>),
            handler: onboarding::create,
        }),
        route!(GET T::ONBOARDING_DRAFT => "get-onboarding-draft" {
            access: Cap(EnvironmentsManage),
            summary: "An onboarding draft: the next step, its run, and why",
            tag: "environments", table: Read, sends: [], query: NONE, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::OnboardingDraft>),
            handler: onboarding::get,
        }),
        route!(PATCH T::ONBOARDING_DRAFT => "patch-onboarding-draft" {
            access: Cap(EnvironmentsManage),
            summary: "Do an onboarding step (verify, inventory, backup) once: a step done or running is not started again",
            tag: "environments", table: Write, sends: ["provider-verify", "inventory-sync", "backup-capture"], query: NONE,
            request: Some(schema::<api::OnboardingAdvance>),
            example: Some(|| json!({"step": "verify"})),
            status: 200, body: Body::Json(schema::<api::OnboardingDraft>),
            handler: onboarding::advance,
        }),
        route!(GET T::ENVIRONMENT_POSTURE => "get-environment-posture" {
            access: Cap(WorkspaceView),
            summary: "The environment's permission posture: each required permission, granted or not, what it blocks, when verified; its reports, newest first",
            tag: "provider", table: Read, sends: [], query: NONE, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::EnvironmentPosture>),
            handler: posture::environment,
        }),
        route!(GET T::WORKSPACE_POSTURE => "get-workspace-posture" {
            access: Cap(WorkspaceView),
            summary: "The permission posture of every environment I am entitled to (stale or unverified is never Ready)",
            tag: "provider", table: Read, sends: [], query: NONE, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::WorkspacePosture>),
            handler: posture::workspace,
        }),
        route!(GET T::DASHBOARD => "get-dashboard" {
            access: Cap(WorkspaceView),
            summary: "The dashboard: what needs attention first, each entitled environment's numbers (open and overdue findings, last backup, missing permissions, baseline alignment), and 30- or 90-day trends",
            tag: "workspaces", table: Read, sends: [], query: dashboard::QUERY, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::Dashboard>),
            handler: dashboard::get,
        }),
        route!(GET T::LINT_RULES => "get-lint-rules" {
            access: Cap(WorkspaceView),
            summary: "The offline policy lint's rules: id, title, severity, rationale (the Graph properties read) and fix hint",
            tag: "lint", table: None, sends: [], query: NONE, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::LintRuleList>),
            handler: lint::rules,
        }),
        route!(GET T::ENVIRONMENT_LINT => "get-environment-lint" {
            access: Cap(WorkspaceView),
            summary: "Lint the environment's current inventory with every rule (no Graph call): hits, and the rules that could not run and why",
            tag: "lint", table: Read, sends: [], query: NONE, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::LintReport>),
            handler: lint::environment,
        }),
        route!(GET T::COMPARE => "get-compare" {
            access: Cap(InventoryView),
            summary: "Compare two sides (environment:{env}, backup:{env}:{set}, baseline:{id}[:{n}]) from stored data: per family and object only in A, only in B, different (each property), same",
            tag: "promotion", table: Read, sends: [], query: promotion::COMPARE_QUERY, required_query: &["a", "b"], request: None,
            example: Some(|| json!({"a": "{side}", "b": "{side}"})),
            status: 200, body: Body::Json(schema::<api::Comparison>),
            handler: promotion::get_compare,
        }),
        route!(GET T::COMPARE_EXPORT => "get-compare-export" {
            access: Cap(InventoryView),
            summary: "The comparison as CSV: one row per differing property, one per object otherwise",
            tag: "promotion", table: Read, sends: [], query: promotion::COMPARE_QUERY, required_query: &["a", "b"], request: None,
            example: Some(|| json!({"a": "{side}", "b": "{side}"})),
            status: 200, body: Body::Csv,
            handler: promotion::export_compare,
        }),
        route!(GET T::MAPPINGS => "get-mappings" {
            access: Cap(InventoryView),
            summary: "The mapping table of a source → target environment pair, and the source references it does not map (with what automatic resolution picks)",
            tag: "promotion", table: Read, sends: [], query: promotion::MAPPING_QUERY, required_query: &["source_environment_id", "target_environment_id"], request: None,
            example: Some(|| json!({"source_environment_id": "{source_env}", "target_environment_id": "{target_env}"})),
            status: 200, body: Body::Json(schema::<api::MappingTable>),
            handler: promotion::get_mappings,
        }),
        route!(POST T::MAPPINGS => "post-mappings" {
            access: Cap(RestorePreview),
            summary: "Set and remove rows of a pair's mapping table in one audited change (all or nothing)",
            tag: "promotion", table: Write, sends: [], query: NONE,
            request: Some(schema::<api::MappingChange>),
            example: Some(|| json!({"source_environment_id": "{source_env}", "target_environment_id": "{target_env}", "set": [{"kind": "group", "source_id": "00000000-0000-4000-8000-000000000001", "target_id": "00000000-0000-4000-8000-000000000002"}]})),
            status: 200, body: Body::Json(schema::<api::MappingTable>),
            handler: promotion::post_mappings,
        }),
        route!(GET T::PROMOTIONS => "get-promotions" {
            access: Cap(InventoryView),
            summary: "The workspace's promotions between environments I am entitled to, newest first",
            tag: "promotion", table: Read, sends: [], query: NONE, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::PromotionList>),
            handler: promotion::list,
        }),
        route!(POST T::PROMOTIONS => "post-promotions" {
            access: Cap(RestorePreview),
            secrets: true,
            summary: "Plan promoting objects of a source environment's backup set onto a target: the restore engine's preview with the mapping table applied",
            tag: "promotion", table: Write, sends: [], query: NONE,
            request: Some(schema::<api::PromotionCreate>),
            example: Some(|| json!({"source_environment_id": "{source_env}", "target_environment_id": "{target_env}"})),
            status: 201, body: Body::Json(schema::<api::Promotion>),
            handler: promotion::create,
        }),
        route!(GET T::PROMOTION => "get-promotion" {
            access: Cap(InventoryView),
            summary: "A promotion: plan, dry-run, approval, pre-cutover backup, cutover run, verification",
            tag: "promotion", table: Read, sends: [], query: NONE, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::Promotion>),
            handler: promotion::get,
        }),
        route!(POST T::PROMOTION_PLAN => "post-promotion-plan" {
            access: Cap(RestorePreview),
            secrets: true,
            summary: "Plan again against the target as it is now (voids the dry-run and any approval)",
            tag: "promotion", table: Write, sends: [], query: NONE, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::Promotion>),
            handler: promotion::plan,
        }),
        route!(POST T::PROMOTION_DRY_RUN => "post-promotion-dry-run" {
            access: Cap(RestorePreview),
            secrets: true,
            summary: "Validate the plan against the target without writing to it: references, permissions, Multi Admin Approval, conflicts, changes since the plan",
            tag: "promotion", table: Write, sends: [], query: NONE, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::Promotion>),
            handler: promotion::dry_run,
        }),
        route!(POST T::PROMOTION_APPROVE => "post-promotion-approve" {
            access: Cap(RestoreExecute),
            summary: "Approve the plan (its fingerprint): a member other than the planner",
            tag: "promotion", table: Write, sends: [], query: NONE,
            request: Some(schema::<api::PromotionDecision>),
            example: Some(|| json!({"plan_fingerprint": "{plan_fingerprint}"})),
            status: 200, body: Body::Json(schema::<api::Promotion>),
            handler: promotion::approve,
        }),
        route!(POST T::PROMOTION_CUTOVER => "post-promotion-cutover" {
            access: Cap(RestoreExecute),
            secrets: true,
            summary: "Cut over an approved plan (fingerprint, typed target name): the target's backup first, then the restore run, then verification",
            tag: "promotion", table: Write, sends: ["backup-capture"], query: NONE,
            request: Some(schema::<api::PromotionDecision>),
            example: Some(|| json!({"plan_fingerprint": "{plan_fingerprint}", "confirm": "{target_name}"})),
            status: 202, body: Body::Json(schema::<api::Promotion>),
            handler: promotion::cutover,
        }),
        route!(POST T::PROMOTION_ROLLBACK => "post-promotion-rollback" {
            access: Cap(RestoreExecute),
            summary: "Draft the restore of the target's pre-cutover backup for the objects the promotion updated",
            tag: "promotion", table: Write, sends: [], query: NONE,
            request: Some(schema::<api::PromotionDecision>),
            example: Some(|| json!({"plan_fingerprint": "{plan_fingerprint}"})),
            status: 200, body: Body::Json(schema::<api::Promotion>),
            handler: promotion::rollback,
        }),
        route!(POST T::PROMOTION_CANCEL => "post-promotion-cancel" {
            access: Cap(RestorePreview),
            summary: "Cancel a promotion before cutover (its restore draft too)",
            tag: "promotion", table: Write, sends: [], query: NONE, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::Promotion>),
            handler: promotion::cancel,
        }),
        route!(POST T::ENVIRONMENT_LINT => "post-environment-lint" {
            access: Cap(FindingsTriage),
            summary: "Lint the inventory with the workspace's settings and record each hit as a finding of source lint (gone hits resolve; skipped when a family's last read was incomplete)",
            tag: "lint", table: Write, sends: [], query: NONE, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::LintRecorded>),
            handler: lint::record,
        }),
        route!(GET T::LINT_SETTINGS => "get-lint-settings" {
            access: Cap(WorkspaceView),
            summary: "The workspace's lint settings: rules on or off, severity overrides, parameters (defaults until set)",
            tag: "lint", table: Read, sends: [], query: NONE, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::LintSettings>),
            handler: lint::get_settings,
        }),
        route!(PUT T::LINT_SETTINGS => "put-lint-settings" {
            access: Cap(BaselineManage),
            summary: "Set the workspace's lint settings (400 naming each bad field, nothing stored; audited with the fields changed)",
            tag: "lint", table: Write, sends: [], query: NONE,
            request: Some(schema::<api::LintSettings>),
            example: Some(|| json!({"rules": {"LINT008": {"enabled": false}, "LINT001": {"severity": "medium"}}, "stale_days": 90, "naming_patterns": ["{WIN|MAC|IOS|AND} - {Area} - *"]})),
            status: 200, body: Body::Json(schema::<api::LintSettings>),
            handler: lint::put_settings,
        }),
        route!(GET T::PROVIDER_CONNECTION => "get-provider-connection" {
            access: Cap(WorkspaceView),
            summary: "The environment's provider connection: status, consent, permission posture (never credentials)",
            tag: "provider", table: Read, sends: [], query: NONE, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::ProviderConnection>),
            handler: provider::get,
        }),
        route!(POST T::PROVIDER_CONNECTION => "post-provider-connection" {
            access: Cap(ProviderManage),
            secrets: true,
            summary: "Create the provider connection (the platform app, or a dedicated app registration)",
            tag: "provider", table: Write, sends: [], query: NONE,
            request: Some(schema::<api::ProviderConnectionCreate>),
            example: Some(|| json!({"tenant": "contoso.demo.test", "dedicated_app": {"client_id": "55555555-5555-4555-8555-555555555555", "client_secret": "example-secret-value"}})),
            status: 201, body: Body::Json(schema::<api::ProviderConnection>),
            handler: provider::create,
        }),
        route!(POST T::PROVIDER_CONSENT => "post-provider-consent" {
            access: Cap(ProviderManage),
            secrets: true,
            summary: "Start admin consent: a consent URL with a signed, single-use state valid for 15 minutes",
            tag: "provider", table: Write, sends: [], query: NONE, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::ConsentStart>),
            handler: provider::start_consent,
        }),
        route!(GET T::PROVIDER_CONSENT_CALLBACK => "get-provider-consent-callback" {
            access: Public,
            secrets: true,
            summary: "The admin-consent callback webhook (authenticated by its signed state); redirects to the web app",
            tag: "provider", table: Write, sends: [], query: provider::CALLBACK_QUERY, required_query: &["state"], request: None,
            example: Some(|| json!({"state": "{consent_state}", "admin_consent": "True", "tenant": "{tenant_id}"})),
            status: 303, body: Body::Empty,
            handler: provider::consent_callback,
        }),
        route!(POST T::PROVIDER_VERIFY => "post-provider-verify" {
            access: Cap(ProviderVerify),
            summary: "Verify the connection as a provider.verify run: sign in, compare permissions, probe each family",
            tag: "provider", table: Write, sends: ["provider-verify"], query: NONE, request: None, example: None,
            status: 202, body: Body::Json(schema::<api::OperationRun>),
            handler: provider::start_verify,
        }),
        route!(PUT T::PROVIDER_CREDENTIAL => "put-provider-credential" {
            access: Cap(ProviderManage),
            secrets: true,
            summary: "Rotate the dedicated app's client secret (high risk: confirm with the environment's name)",
            tag: "provider", table: Write, sends: [], query: NONE,
            request: Some(schema::<api::CredentialRotate>),
            example: Some(|| json!({"client_secret": "rotated-secret-value", "confirm": "Contoso (demo)"})),
            status: 200, body: Body::Json(schema::<api::ProviderConnection>),
            handler: provider::rotate_credential,
        }),
        route!(POST T::PROVIDER_DISABLE => "post-provider-disable" {
            access: Cap(ProviderManage),
            summary: "Disable the connection: no Graph call is made for it (high risk: confirm with the environment's name)",
            tag: "provider", table: Write, sends: [], query: NONE,
            request: Some(schema::<api::Confirm>),
            example: Some(|| json!({"confirm": "Contoso (demo)"})),
            status: 200, body: Body::Json(schema::<api::ProviderConnection>),
            handler: provider::disable,
        }),
        route!(POST T::PROVIDER_ENABLE => "post-provider-enable" {
            access: Cap(ProviderManage),
            summary: "Enable a disabled connection again: consented (verify again) when its proof stands, else waiting for consent (409 when not disabled)",
            tag: "provider", table: Write, sends: [], query: NONE, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::ProviderConnection>),
            handler: provider::enable,
        }),
        route!(PATCH T::PROVIDER_CONNECTION => "patch-provider-connection" {
            access: Cap(ProviderManage),
            summary: "Edit the connection's tenant (checked against the environment's) or dedicated client id; a change resets consent (400 naming each bad field, nothing stored)",
            tag: "provider", table: Write, sends: [], query: NONE,
            request: Some(schema::<api::ProviderConnectionUpdate>),
            example: Some(|| json!({"tenant": "{tenant_id}"})),
            status: 200, body: Body::Json(schema::<api::ProviderConnection>),
            handler: provider::update,
        }),
        route!(DELETE T::PROVIDER_CONNECTION => "delete-provider-connection" {
            access: Cap(ProviderManage),
            summary: "Remove the connection and its stored credential so it can be created again (high risk: confirm with the environment's name)",
            tag: "provider", table: Write, sends: [], query: NONE,
            request: Some(schema::<api::Confirm>),
            example: Some(|| json!({"confirm": "Contoso (demo)"})),
            status: 200, body: Body::Json(schema::<api::ProviderConnection>),
            handler: provider::remove,
        }),
        route!(POST T::INVENTORY_SYNC => "post-inventory-sync" {
            access: Cap(InventorySync),
            summary: "Start an inventory.sync run: every policy family read to the end, ghosts detected",
            tag: "inventory", table: Write, sends: ["inventory-sync"], query: NONE, request: None, example: None,
            status: 202, body: Body::Json(schema::<api::OperationRun>),
            handler: inventory::start_sync,
        }),
        route!(GET T::INVENTORY => "get-inventory" {
            access: Cap(InventoryView),
            summary: "The environment's inventory with family, status (active or deleted) and search filters",
            tag: "inventory", table: Read, sends: [], query: inventory::LIST_QUERY, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::InventoryPage>),
            handler: inventory::list,
        }),
        route!(GET T::INVENTORY_ITEM => "get-inventory-item" {
            access: Cap(InventoryView),
            summary: "One inventory item with its payload (secret-looking values redacted) and history",
            tag: "inventory", table: Read, sends: [], query: NONE, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::InventoryItem>),
            handler: inventory::get,
        }),
        route!(GET T::DIRECTORY_GROUPS => "get-directory-groups" {
            access: Cap(InventoryView),
            secrets: true,
            summary: "The environment's Entra groups by display name: a name prefix searched, or ids named (live from Graph)",
            tag: "inventory", table: Read, sends: [], query: directory::GROUPS_QUERY, request: None,
            example: Some(|| json!({"search": "SG-"})),
            status: 200, body: Body::Json(schema::<api::DirectoryGroupList>),
            handler: directory::groups,
        }),
        route!(POST T::BACKUPS => "post-backups" {
            access: Cap(BackupRun),
            summary: "Start a backup.capture run of the chosen families (all when left out)",
            tag: "backups", table: Write, sends: ["backup-capture"], query: NONE,
            request: Some(schema::<api::BackupStart>),
            example: Some(|| json!({"families": ["configurationPolicies", "deviceConfigurations"]})),
            status: 202, body: Body::Json(schema::<api::OperationRun>),
            handler: backups::start,
        }),
        route!(GET T::BACKUPS => "get-backups" {
            access: Cap(BackupView),
            summary: "Backup sets, newest first, each complete, partial, failed or running",
            tag: "backups", table: Read, sends: [], query: NONE, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::BackupSetList>),
            handler: backups::list,
        }),
        route!(GET T::BACKUP => "get-backup" {
            access: Cap(BackupView),
            summary: "A backup set and its items",
            tag: "backups", table: Read, sends: [], query: NONE, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::BackupSetDetail>),
            handler: backups::get,
        }),
        route!(DELETE T::BACKUP => "delete-backup" {
            access: Cap(BackupManage),
            summary: "Delete a backup set (high risk: confirm with the environment's display name)",
            tag: "backups", table: Write, sends: [], query: NONE,
            request: Some(schema::<api::Confirm>),
            example: Some(|| json!({"confirm": "Contoso (demo)"})),
            status: 204, body: Body::Empty,
            handler: backups::delete,
        }),
        route!(POST T::BACKUP_RETRY => "post-backup-retry" {
            access: Cap(BackupRun),
            summary: "Retry a partial or failed backup's failed items: a new backup.capture run of only their families, started once per set",
            tag: "backups", table: Write, sends: ["backup-capture"], query: NONE, request: None, example: None,
            status: 202, body: Body::Json(schema::<api::OperationRun>),
            handler: backups::retry,
        }),
        route!(GET T::BACKUP_DIFF => "get-backup-diff" {
            access: Cap(BackupView),
            summary: "Diff of two sets: added, removed and changed objects with field-level changes",
            tag: "backups", table: Read, sends: [], query: &["with"], required_query: &["with"], request: None,
            example: Some(|| json!({"with": "{set}"})),
            status: 200, body: Body::Json(schema::<api::BackupDiff>),
            handler: backups::diff,
        }),
        route!(GET T::BACKUP_LINT => "get-backup-lint" {
            access: Cap(BackupView),
            summary: "Lint a backup set's items with the workspace's settings (no Graph call): hits, and the rules that could not run and why",
            tag: "lint", table: Read, sends: [], query: NONE, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::LintReport>),
            handler: lint::backup_set,
        }),
        route!(GET T::BACKUP_ITEM => "get-backup-item" {
            access: Cap(BackupView),
            summary: "A captured object's JSON (secret-looking values redacted)",
            tag: "backups", table: Read, sends: [], query: NONE, request: None, example: None,
            status: 200, body: Body::FreeForm("The object exactly as Graph returned it when captured (secret-looking values redacted); its shape is Microsoft Graph's, per family"),
            handler: backups::item,
        }),
        route!(POST T::BACKUP_SCHEDULES => "post-backup-schedules" {
            access: Cap(BackupManage),
            summary: "Schedule backups every N minutes or by a cron expression in a time zone (each due backup starts exactly once)",
            tag: "backups", table: Write, sends: [], query: NONE,
            request: Some(schema::<api::BackupScheduleCreate>),
            example: Some(|| json!({"every_minutes": 1440, "time_zone": "Europe/Berlin"})),
            status: 201, body: Body::Json(schema::<api::BackupSchedule>),
            handler: backups::create_schedule,
        }),
        route!(GET T::BACKUP_SCHEDULES => "get-backup-schedules" {
            access: Cap(BackupView),
            summary: "Backup schedules with their next runs",
            tag: "backups", table: Read, sends: [], query: NONE, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::BackupScheduleList>),
            handler: backups::list_schedules,
        }),
        route!(DELETE T::BACKUP_SCHEDULE => "delete-backup-schedule" {
            access: Cap(BackupManage),
            summary: "Delete a backup schedule",
            tag: "backups", table: Write, sends: [], query: NONE, request: None, example: None,
            status: 204, body: Body::Empty,
            handler: backups::delete_schedule,
        }),
        route!(PATCH T::BACKUP_SCHEDULE => "patch-backup-schedule" {
            access: Cap(BackupManage),
            summary: "Change a backup schedule's cron or interval, time zone, families, or pause and resume it",
            tag: "backups", table: Write, sends: [], query: NONE,
            request: Some(schema::<api::BackupScheduleUpdate>),
            example: Some(|| json!({"cron": "30 2 * * *", "enabled": true})),
            status: 200, body: Body::Json(schema::<api::BackupSchedule>),
            handler: backups::update_schedule,
        }),
        route!(POST T::RESTORES => "post-restores" {
            access: Cap(RestorePreview),
            secrets: true,
            summary: "Draft a restore of a backup set (of this or another environment) into this environment",
            tag: "restores", table: Write, sends: [], query: NONE,
            request: Some(schema::<api::RestoreCreate>),
            example: Some(|| json!({"backup_set_id": "{set}", "include_assignments": true})),
            status: 201, body: Body::Json(schema::<api::Restore>),
            handler: restores::create,
        }),
        route!(GET T::RESTORES => "get-restores" {
            access: Cap(RestorePreview),
            secrets: true,
            summary: "Restores into this environment, newest first, with readiness, preview and run",
            tag: "restores", table: Read, sends: [], query: NONE, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::RestoreList>),
            handler: restores::list,
        }),
        route!(GET T::RESTORE => "get-restore" {
            access: Cap(RestorePreview),
            secrets: true,
            summary: "A restore with its readiness checks, latest preview and run",
            tag: "restores", table: Read, sends: [], query: NONE, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::Restore>),
            handler: restores::get,
        }),
        route!(POST T::RESTORE_PREVIEWS => "post-restore-preview" {
            access: Cap(RestorePreview),
            secrets: true,
            summary: "Preview: match every item to live, diff, map groups; fingerprinted, expires in 15 minutes",
            tag: "restores", table: Write, sends: [], query: NONE,
            request: Some(schema::<api::RestorePreviewRequest>),
            example: Some(|| json!({"group_mapping": {}})),
            status: 201, body: Body::Json(schema::<api::RestorePreview>),
            handler: restores::preview,
        }),
        route!(POST T::RESTORE_CONFIRM => "post-restore-confirm" {
            access: Cap(RestoreExecute),
            secrets: true,
            summary: "Confirm the latest preview (id, fingerprint, typed environment name): starts restore.execute",
            tag: "restores", table: Write, sends: ["restore-execute"], query: NONE,
            request: Some(schema::<api::RestoreConfirm>),
            example: Some(|| json!({"preview_id": "{preview}", "fingerprint": "{fingerprint}", "confirm": "Contoso (demo)"})),
            status: 202, body: Body::Json(schema::<api::OperationRun>),
            handler: restores::confirm,
        }),
        route!(POST T::RESTORE_CANCEL => "post-restore-cancel" {
            access: Cap(RestorePreview),
            secrets: true,
            summary: "Cancel a restore that was not confirmed; creates no run",
            tag: "restores", table: Write, sends: [], query: NONE, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::Restore>),
            handler: restores::cancel,
        }),
        route!(GET T::OPERATIONS => "get-operations" {
            access: Cap(OperationsView),
            summary: "The operations hub: runs newest first, filtered by environment_id, operation_type and status",
            tag: "operations", table: Read, sends: [], query: operations::HUB_QUERY, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::OperationPage>),
            handler: operations::list,
        }),
        route!(GET T::OPERATIONS_EXPORT => "get-operations-csv" {
            access: Cap(OperationsView),
            summary: "The operations hub as CSV",
            tag: "operations", table: Read, sends: [], query: operations::HUB_FILTERS, request: None, example: None,
            status: 200, body: Body::Csv,
            handler: operations::export,
        }),
        route!(GET T::OPERATION => "get-operation" {
            access: Cap(OperationsView),
            summary: "The canonical run viewer (legitimate from the run; reports a selected-environment mismatch)",
            tag: "operations", table: Read, sends: [], query: &["selected_environment_id"], request: None, example: None,
            status: 200, body: Body::Json(schema::<api::OperationView>),
            handler: operations::get,
        }),
        route!(GET T::AUDIT_EVENTS => "get-audit-events" {
            access: Cap(AuditView),
            summary: "The audit log, newest first, with filters and cursor pages",
            tag: "audit", table: Read, sends: [], query: audit::LIST_QUERY, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::AuditPage>),
            handler: audit::list,
        }),
        route!(GET T::AUDIT_EVENTS_EXPORT => "get-audit-events-csv" {
            access: Cap(AuditView),
            summary: "The audit log as CSV (streamed; cells escaped against formula injection)",
            tag: "audit", table: Read, sends: [], query: audit::FILTERS, request: None, example: None,
            status: 200, body: Body::Csv,
            handler: audit::export,
        }),
        route!(GET T::AUDIT_VERIFY => "get-audit-verify" {
            access: Cap(AuditView),
            summary: "Verifies the workspace's audit hash chain and names its first broken link",
            tag: "audit", table: Read, sends: [], query: NONE, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::AuditVerification>),
            handler: audit::verify,
        }),
        route!(POST T::EVIDENCE => "post-evidence" {
            access: Cap(EvidenceExport),
            summary: "Start an evidence.build run: a signed evidence pack of the workspace or one environment for a period",
            tag: "evidence", table: Write, sends: ["evidence-build"], query: NONE,
            request: Some(schema::<api::EvidenceStart>),
            example: Some(|| json!({"environment_id": "env-contoso", "from": 1_790_000_000_000_i64, "to": 1_797_000_000_000_i64})),
            status: 202, body: Body::Json(schema::<api::OperationRun>),
            handler: evidence::start,
        }),
        route!(GET T::EVIDENCE => "get-evidence" {
            access: Cap(EvidenceExport),
            summary: "The workspace's evidence packs, newest first (filter environment_id): status, period, size, SHA-256",
            tag: "evidence", table: Read, sends: [], query: evidence::LIST_QUERY, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::EvidencePackList>),
            handler: evidence::list,
        }),
        route!(GET T::EVIDENCE_SETTINGS => "get-evidence-settings" {
            access: Cap(EvidenceExport),
            summary: "The workspace's evidence settings: retention of new packs (days), member e-mails in packs",
            tag: "evidence", table: Read, sends: [], query: NONE, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::EvidenceSettings>),
            handler: evidence::get_settings,
        }),
        route!(PUT T::EVIDENCE_SETTINGS => "put-evidence-settings" {
            access: Cap(MembersManage),
            summary: "Set the workspace's evidence settings (retention 30 to 3,650 days; audited with the old and new values)",
            tag: "evidence", table: Write, sends: [], query: NONE,
            request: Some(schema::<api::EvidenceSettings>),
            example: Some(|| json!({"retention_days": 730, "include_emails": false})),
            status: 200, body: Body::Json(schema::<api::EvidenceSettings>),
            handler: evidence::put_settings,
        }),
        route!(GET T::EVIDENCE_PACK => "get-evidence-pack" {
            access: Cap(EvidenceExport),
            summary: "One evidence pack",
            tag: "evidence", table: Read, sends: [], query: NONE, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::EvidencePack>),
            handler: evidence::get,
        }),
        route!(POST T::EVIDENCE_LINK => "post-evidence-link" {
            access: Cap(EvidenceExport),
            summary: "A download link for a ready pack, valid 5 minutes (an HMAC token; no bearer token needed)",
            tag: "evidence", table: Read, sends: [], query: NONE, request: None, example: None,
            status: 201, body: Body::Json(schema::<api::EvidenceLink>),
            handler: evidence::link,
        }),
        route!(GET T::EVIDENCE_DOWNLOAD => "get-evidence-download" {
            access: Public,
            summary: "Download an evidence pack's ZIP through a link's token (expired or forged: 404)",
            tag: "evidence", table: Read, sends: [], query: evidence::DOWNLOAD_QUERY, required_query: &["token"], request: None,
            example: Some(|| json!({"token": "{evidence_token}"})),
            status: 200, body: Body::Zip,
            handler: evidence::download,
        }),
        route!(GET T::BASELINES => "get-baselines" {
            access: Cap(WorkspaceView),
            summary: "Baseline profiles of the workspace, with their assignments to environments I can see",
            tag: "drift", table: Read, sends: [], query: NONE, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::BaselineList>),
            handler: drift::list_baselines,
        }),
        route!(POST T::BASELINES => "post-baselines" {
            access: Cap(BaselineManage),
            summary: "Create a baseline profile: a source environment, its families or objects, ignored properties",
            tag: "drift", table: Write, sends: [], query: NONE,
            request: Some(schema::<api::BaselineCreate>),
            example: Some(|| json!({"name": "Gold: Windows", "source_environment_id": "env-contoso", "families": ["deviceConfigurations", "configurationPolicies"], "ignored_properties": ["/description"], "report_extra": true})),
            status: 201, body: Body::Json(schema::<api::Baseline>),
            handler: drift::create_baseline,
        }),
        route!(GET T::BASELINE => "get-baseline" {
            access: Cap(WorkspaceView),
            summary: "A baseline profile",
            tag: "drift", table: Read, sends: [], query: NONE, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::Baseline>),
            handler: drift::get_baseline,
        }),
        route!(GET T::BASELINE_SNAPSHOTS => "get-baseline-snapshots" {
            access: Cap(WorkspaceView),
            summary: "A baseline's immutable snapshots, newest first",
            tag: "drift", table: Read, sends: [], query: NONE, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::BaselineSnapshotList>),
            handler: drift::list_snapshots,
        }),
        route!(POST T::BASELINE_SNAPSHOTS => "post-baseline-snapshots" {
            access: Cap(BaselineManage),
            summary: "Capture a baseline snapshot from a complete backup set of its source environment (the newest by default)",
            tag: "drift", table: Write, sends: [], query: NONE,
            request: Some(schema::<api::SnapshotCreate>),
            example: Some(|| json!({})),
            status: 201, body: Body::Json(schema::<api::BaselineSnapshot>),
            handler: drift::capture_snapshot,
        }),
        route!(POST T::BASELINE_CAPTURES => "post-baseline-captures" {
            access: Cap(BaselineManage),
            summary: "A fresh capture: back up the baseline's families in its source environment; the complete set becomes its next snapshot",
            tag: "drift", table: Write, sends: ["backup-capture"], query: NONE, request: None, example: None,
            status: 202, body: Body::Json(schema::<api::OperationRun>),
            handler: drift::capture_fresh,
        }),
        route!(PUT T::BASELINE_ASSIGNMENT => "put-baseline-assignment" {
            access: Cap(BaselineManage),
            summary: "Assign a baseline to the environment (priority, pinned snapshot, object overrides); its change feed starts",
            tag: "drift", table: Write, sends: [], query: NONE,
            request: Some(schema::<api::BaselineAssign>),
            example: Some(|| json!({"priority": 10})),
            status: 200, body: Body::Json(schema::<api::BaselineAssignment>),
            handler: drift::assign,
        }),
        route!(DELETE T::BASELINE_ASSIGNMENT => "delete-baseline-assignment" {
            access: Cap(BaselineManage),
            summary: "Remove a baseline from the environment",
            tag: "drift", table: Write, sends: [], query: NONE, request: None, example: None,
            status: 204, body: Body::Empty,
            handler: drift::unassign,
        }),
        route!(GET T::DRIFT => "get-drift" {
            access: Cap(InventoryView),
            summary: "The environment's drift: assigned baselines, open drift findings by kind, the change feed's last poll",
            tag: "drift", table: Read, sends: [], query: NONE, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::DriftSummary>),
            handler: drift::summary,
        }),
        route!(POST T::DRIFT_DETECT => "post-drift-detect" {
            access: Cap(BaselineManage),
            summary: "Start a drift.detect run: each covered family read from Graph and compared with the baselines",
            tag: "drift", table: Write, sends: ["drift-detect"], query: drift::DETECT_QUERY, request: None, example: None,
            status: 202, body: Body::Json(schema::<api::OperationRun>),
            handler: drift::start_detect,
        }),
        route!(GET T::DRIFT_CHANGES => "get-drift-changes" {
            access: Cap(InventoryView),
            summary: "Changes the change feed saw in the environment's Intune audit log: who, what, when, old and new values",
            tag: "drift", table: Read, sends: [], query: NONE, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::DriftChangeList>),
            handler: drift::changes,
        }),
        route!(GET T::FINDINGS => "get-findings" {
            access: Cap(WorkspaceView),
            summary: "The findings hub: every source, filtered by environment, status (or open), severity, source, owner, overdue",
            tag: "findings", table: Read, sends: [], query: drift::FINDINGS_QUERY, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::FindingPage>),
            handler: drift::list_findings,
        }),
        route!(GET T::FINDINGS_EXPORT => "get-findings-csv" {
            access: Cap(WorkspaceView),
            summary: "The findings hub as CSV (ISO 8601 times; cells escaped against formula injection)",
            tag: "findings", table: Read, sends: [], query: drift::FINDINGS_FILTERS, request: None, example: None,
            status: 200, body: Body::Csv,
            handler: drift::export_findings,
        }),
        route!(POST T::FINDINGS_TRIAGE => "post-findings-triage" {
            access: Cap(FindingsTriage),
            summary: "Triage findings in bulk: a status, an owner or both; each finding answers on its own",
            tag: "findings", table: Write, sends: [], query: NONE,
            request: Some(schema::<api::FindingsTriage>),
            example: Some(|| json!({"ids": ["{finding_id}"], "state": "acknowledged"})),
            status: 200, body: Body::Json(schema::<api::TriageResult>),
            handler: drift::triage,
        }),
        route!(GET T::FINDING => "get-finding" {
            access: Cap(WorkspaceView),
            summary: "A finding with its history: transitions, detections, desired vs current",
            tag: "findings", table: Read, sends: [], query: NONE, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::FindingDetail>),
            handler: drift::get_finding,
        }),
        route!(POST T::FINDING_EXCEPTIONS => "post-finding-exceptions" {
            access: Cap(FindingsTriage),
            summary: "Request a risk acceptance for an open finding: justification, ticket, an expiry within the workspace's cap",
            tag: "exceptions", table: Write, sends: [], query: NONE,
            request: Some(schema::<api::ExceptionRequest>),
            // The expiry must be within the workspace's cap from now: the example is 30 days out.
            example: Some(|| json!({"justification": "Legacy kiosk devices need this until they are replaced", "ticket_url": "https://tickets.example.com/CHG-1042", "expires_ms": crate::exceptions::days_from_now(30)})),
            status: 201, body: Body::Json(schema::<api::Exception>),
            handler: exceptions::request,
        }),
        route!(GET T::EXCEPTIONS => "get-exceptions" {
            access: Cap(WorkspaceView),
            summary: "Risk acceptances in my environments, newest first: who requested and approved each, until when, why",
            tag: "exceptions", table: Read, sends: [], query: exceptions::LIST_QUERY, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::ExceptionList>),
            handler: exceptions::list,
        }),
        route!(GET T::EXCEPTION => "get-exception" {
            access: Cap(WorkspaceView),
            summary: "A risk acceptance with its history (requested, approved, warned, expired, revoked, voided)",
            tag: "exceptions", table: Read, sends: [], query: NONE, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::ExceptionDetail>),
            handler: exceptions::detail,
        }),
        route!(POST T::EXCEPTION_APPROVE => "post-exception-approve" {
            access: Cap(FindingsAcceptRisk),
            summary: "Approve a requested risk acceptance (not your own): the finding becomes risk_accepted with its value pinned",
            tag: "exceptions", table: Write, sends: [], query: NONE,
            request: Some(schema::<api::ExceptionDecision>),
            example: Some(|| json!({"reason": "Compensating control: kiosk VLAN"})),
            status: 200, body: Body::Json(schema::<api::Exception>),
            handler: exceptions::approve,
        }),
        route!(POST T::EXCEPTION_REJECT => "post-exception-reject" {
            access: Cap(FindingsAcceptRisk),
            summary: "Reject a requested risk acceptance, with the reason",
            tag: "exceptions", table: Write, sends: [], query: NONE,
            request: Some(schema::<api::ExceptionDecision>),
            example: Some(|| json!({"reason": "Replace the devices instead"})),
            status: 200, body: Body::Json(schema::<api::Exception>),
            handler: exceptions::reject,
        }),
        route!(POST T::EXCEPTION_REVOKE => "post-exception-revoke" {
            access: Cap(FindingsTriage),
            summary: "Revoke an accepted risk (findings.accept_risk; the finding reopens) or withdraw a request (its requester)",
            tag: "exceptions", table: Write, sends: [], query: NONE,
            request: Some(schema::<api::ExceptionDecision>),
            example: Some(|| json!({"reason": "The devices were replaced"})),
            status: 200, body: Body::Json(schema::<api::Exception>),
            handler: exceptions::revoke,
        }),
        route!(GET T::GOVERNANCE_POLICY => "get-governance-policy" {
            access: Cap(WorkspaceView),
            summary: "The workspace's governance policy: SLA days by severity, escalation, the longest risk acceptance",
            tag: "exceptions", table: Read, sends: [], query: NONE, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::GovernancePolicy>),
            handler: exceptions::get_policy,
        }),
        route!(PUT T::GOVERNANCE_POLICY => "put-governance-policy" {
            access: Cap(MembersManage),
            summary: "Set the workspace's governance policy (audited with the old and new values)",
            tag: "exceptions", table: Write, sends: [], query: NONE,
            request: Some(schema::<api::GovernancePolicy>),
            example: Some(|| json!({"sla": {"critical_days": 1, "high_days": 7, "medium_days": 30, "low_days": 90}, "escalate_after_days": 3, "exception_max_days": 60, "exception_warn_days": 7})),
            status: 200, body: Body::Json(schema::<api::GovernancePolicy>),
            handler: exceptions::put_policy,
        }),
        route!(GET T::ALERT_RULES => "get-alert-rules" {
            access: Cap(WorkspaceView),
            summary: "Alert rules of the workspace: event types, minimum severity, environments, destinations, snooze",
            tag: "alerts", table: Read, sends: [], query: NONE, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::AlertRuleList>),
            handler: alerts::list_rules,
        }),
        route!(POST T::ALERT_RULES => "post-alert-rules" {
            access: Cap(AlertsManage),
            summary: "Create an alert rule (audited)",
            tag: "alerts", table: Write, sends: [], query: NONE,
            request: Some(schema::<api::AlertRuleCreate>),
            example: Some(|| json!({"name": "Critical drift", "event_types": ["finding.created", "finding.reopened"], "min_severity": "high", "destinations": ["{destination}"]})),
            status: 201, body: Body::Json(schema::<api::AlertRule>),
            handler: alerts::create_rule,
        }),
        route!(GET T::ALERT_RULE => "get-alert-rule" {
            access: Cap(WorkspaceView),
            summary: "An alert rule",
            tag: "alerts", table: Read, sends: [], query: NONE, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::AlertRule>),
            handler: alerts::get_rule,
        }),
        route!(PATCH T::ALERT_RULE => "patch-alert-rule" {
            access: Cap(AlertsManage),
            summary: "Change an alert rule; only the fields given change (audited)",
            tag: "alerts", table: Write, sends: [], query: NONE,
            request: Some(schema::<api::AlertRulePatch>),
            example: Some(|| json!({"enabled": false})),
            status: 200, body: Body::Json(schema::<api::AlertRule>),
            handler: alerts::patch_rule,
        }),
        route!(DELETE T::ALERT_RULE => "delete-alert-rule" {
            access: Cap(AlertsManage),
            summary: "Delete an alert rule; its pending deliveries are cancelled (audited)",
            tag: "alerts", table: Write, sends: [], query: NONE, request: None, example: None,
            status: 204, body: Body::Empty,
            handler: alerts::delete_rule,
        }),
        route!(PUT T::ALERT_RULE_SNOOZE => "put-alert-rule-snooze" {
            access: Cap(AlertsManage),
            summary: "Snooze a rule with a reason for at most 30 days: its matches are recorded as suppressed (audited)",
            tag: "alerts", table: Write, sends: [], query: NONE,
            request: Some(schema::<api::AlertRuleSnooze>),
            example: Some(|| json!({"reason": "Planned maintenance", "hours": 48})),
            status: 200, body: Body::Json(schema::<api::AlertRule>),
            handler: alerts::snooze_rule,
        }),
        route!(DELETE T::ALERT_RULE_SNOOZE => "delete-alert-rule-snooze" {
            access: Cap(AlertsManage),
            summary: "End a rule's snooze (audited)",
            tag: "alerts", table: Write, sends: [], query: NONE, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::AlertRule>),
            handler: alerts::unsnooze_rule,
        }),
        route!(GET T::ALERT_DESTINATIONS => "get-alert-destinations" {
            access: Cap(WorkspaceView),
            summary: "Alert destinations (never a secret: a Teams URL shows masked)",
            tag: "alerts", table: Read, sends: [], query: NONE, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::AlertDestinationList>),
            handler: alerts::list_destinations,
        }),
        route!(POST T::ALERT_DESTINATIONS => "post-alert-destinations" {
            access: Cap(AlertsManage),
            secrets: true,
            summary: "Create a destination: a signed webhook (its secret is shown once, here) or a Teams Workflows URL (sealed)",
            tag: "alerts", table: Write, sends: [], query: NONE,
            request: Some(schema::<api::AlertDestinationCreate>),
            example: Some(|| json!({"name": "SOC webhook", "kind": "webhook", "url": "https://hooks.example.com/tenantatlas"})),
            status: 201, body: Body::Json(schema::<api::DestinationCreated>),
            handler: alerts::create_destination,
        }),
        route!(GET T::ALERT_DESTINATION => "get-alert-destination" {
            access: Cap(WorkspaceView),
            summary: "An alert destination (never its secret)",
            tag: "alerts", table: Read, sends: [], query: NONE, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::AlertDestination>),
            handler: alerts::get_destination,
        }),
        route!(PATCH T::ALERT_DESTINATION => "patch-alert-destination" {
            access: Cap(AlertsManage),
            secrets: true,
            summary: "Change a destination's name, URL or enabled flag (audited; a secret URL's value never is)",
            tag: "alerts", table: Write, sends: [], query: NONE,
            request: Some(schema::<api::AlertDestinationPatch>),
            example: Some(|| json!({"name": "SOC webhook (primary)"})),
            status: 200, body: Body::Json(schema::<api::AlertDestination>),
            handler: alerts::patch_destination,
        }),
        route!(DELETE T::ALERT_DESTINATION => "delete-alert-destination" {
            access: Cap(AlertsManage),
            summary: "Delete a destination; its pending deliveries are cancelled (audited)",
            tag: "alerts", table: Write, sends: [], query: NONE, request: None, example: None,
            status: 204, body: Body::Empty,
            handler: alerts::delete_destination,
        }),
        route!(POST T::ALERT_DESTINATION_ROTATE => "post-alert-destination-rotate" {
            access: Cap(AlertsManage),
            secrets: true,
            summary: "Rotate a webhook's signing secret: the new one is shown once; the old one signs too for the grace period",
            tag: "alerts", table: Write, sends: [], query: NONE,
            request: Some(schema::<api::AlertSecretRotate>),
            example: Some(|| json!({"grace_hours": 24})),
            status: 200, body: Body::Json(schema::<api::DestinationCreated>),
            handler: alerts::rotate_secret,
        }),
        route!(POST T::ALERT_DESTINATION_TEST => "post-alert-destination-test" {
            access: Cap(AlertsManage),
            summary: "Send a test event to the destination through the same dispatch and delivery path",
            tag: "alerts", table: Write, sends: ["alert-deliver"], query: NONE, request: None, example: None,
            status: 202, body: Body::Json(schema::<api::AlertDelivery>),
            handler: alerts::send_test,
        }),
        route!(GET T::ALERT_DELIVERIES => "get-alert-deliveries" {
            access: Cap(WorkspaceView),
            summary: "Alert deliveries, newest first, filtered by status, rule_id and destination_id",
            tag: "alerts", table: Read, sends: [], query: alerts::DELIVERIES_QUERY, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::AlertDeliveryPage>),
            handler: alerts::list_deliveries,
        }),
        route!(GET T::ALERT_DELIVERY => "get-alert-delivery" {
            access: Cap(WorkspaceView),
            summary: "A delivery with every attempt: time, status or error, latency, the first 512 bytes of the answer",
            tag: "alerts", table: Read, sends: [], query: NONE, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::AlertDeliveryDetail>),
            handler: alerts::get_delivery,
        }),
        route!(POST T::ALERT_DELIVERY_REDELIVER => "post-alert-delivery-redeliver" {
            access: Cap(AlertsManage),
            summary: "Redeliver: a new attempt series on the same delivery (the same event id)",
            tag: "alerts", table: Write, sends: ["alert-deliver"], query: NONE, request: None, example: None,
            status: 202, body: Body::Json(schema::<api::AlertDelivery>),
            handler: alerts::redeliver,
        }),
        route!(GET T::ALERT_OUTBOX => "get-alert-outbox" {
            access: Cap(WorkspaceView),
            summary: "Email alerts written to the local outbox (no SMTP configured), this workspace's only, newest first",
            tag: "alerts", table: Read, sends: [], query: alerts::OUTBOX_QUERY, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::AlertOutboxList>),
            handler: alerts::list_outbox,
        }),
        route!(POST T::SUPPORT_REQUESTS => "post-support-request" {
            access: Cap(SupportRequestCreate),
            summary: "Ask support for help: the server snapshots the context (run, connection, scope; secrets redacted), saves it, then e-mails it; the same request within 10 minutes answers 200 with the first",
            tag: "support", table: Write, sends: ["alert-deliver"], query: NONE,
            request: Some(schema::<api::SupportRequestCreate>),
            example: Some(|| json!({"source_type": "generic", "issue_kind": "ux_feedback", "message": "The backup page could say which items failed."})),
            status: 201, body: Body::Json(schema::<api::SupportRequest>),
            handler: support::create,
        }),
        route!(GET T::SUPPORT_REQUESTS => "get-support-requests" {
            access: Cap(SupportRequestCreate),
            summary: "My support requests (an owner's: the workspace's), newest first",
            tag: "support", table: Read, sends: [], query: NONE, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::SupportRequestList>),
            handler: support::list,
        }),
        route!(GET T::SUPPORT_REQUEST => "get-support-request" {
            access: Cap(SupportRequestCreate),
            summary: "One support request with its context and delivery state (its creator's, or an owner's)",
            tag: "support", table: Read, sends: [], query: NONE, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::SupportRequest>),
            handler: support::get,
        }),
        route!(GET T::SYSTEM_RUNS => "get-system-runs" {
            access: Platform,
            summary: "Runs of every workspace, newest first, by status, type, workspace and time (since/until, at most 31 days)",
            tag: "system", table: Write, sends: [], query: system::RUNS_QUERY, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::SystemRunPage>),
            handler: system::runs,
        }),
        route!(GET T::SYSTEM_RUNS_EXPORT => "get-system-runs-csv" {
            access: Platform,
            summary: "The same search's run metadata as CSV",
            tag: "system", table: Write, sends: [], query: system::EXPORT_QUERY, request: None, example: None,
            status: 200, body: Body::Csv,
            handler: system::export,
        }),
        route!(GET T::SYSTEM_RUN => "get-system-run" {
            access: Platform,
            summary: "A run's failure drill-down: its errors and every step result, secrets redacted",
            tag: "system", table: Write, sends: [], query: NONE, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::SystemRunDetail>),
            handler: system::run,
        }),
        route!(GET T::SYSTEM_AUDIT => "get-system-audit-events" {
            access: Platform,
            summary: "The system audit log: every access to the system console, newest first",
            tag: "system", table: Write, sends: [], query: system::AUDIT_QUERY, request: None, example: None,
            status: 200, body: Body::Json(schema::<api::SystemAuditPage>),
            handler: system::audit,
        }),
    ]
}

pub fn find(function: &str) -> Option<Route> {
    routes().into_iter().find(|r| r.function == function)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn functions_and_method_paths_are_unique() {
        let rs = routes();
        let names: BTreeSet<_> = rs.iter().map(|r| r.function).collect();
        assert_eq!(names.len(), rs.len(), "function names are unique");
        let mp: BTreeSet<_> = rs.iter().map(|r| (r.method.as_str().to_owned(), r.path)).collect();
        assert_eq!(mp.len(), rs.len(), "method + path pairs are unique");
        let steps: BTreeSet<_> = crate::steps::steps().iter().map(|s| s.function).collect();
        assert!(names.is_disjoint(&steps));
    }

    #[test]
    fn required_query_keys_are_declared_query_keys() {
        for r in routes() {
            for k in r.required_query {
                assert!(r.query.contains(k), "{r:?}: required query key {k} is not in `query`");
            }
        }
    }

    #[test]
    fn names_are_lambda_safe_and_paths_are_under_api() {
        for r in routes() {
            assert!(r.path.starts_with("/api/"), "{r:?}");
            assert!(
                r.function.len() <= 40
                    && r.function
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{r:?}"
            );
            assert!(
                r.function.starts_with(&r.method.as_str().to_lowercase()),
                "function names start with their method: {r:?}"
            );
        }
    }

    #[test]
    fn every_path_builder_has_a_route_and_every_route_a_builder() {
        use atlas_api_types::paths::template;
        let declared: BTreeSet<_> = routes().iter().map(|r| r.path).collect();
        let built: BTreeSet<_> = template::ALL.iter().copied().collect();
        assert_eq!(
            declared, built,
            "the registry and atlas_api_types::paths name the same paths"
        );
    }
}
