//! Domain types and rules, free of I/O: identifiers, the capability catalog and role map, the
//! canonical status vocabulary, the operation-type catalog and redaction. One place each.

#[macro_use]
pub mod catalog;
pub mod ids;
pub mod redact;

pub use catalog::{Capability, OperationType, Role, Severity, Status};
pub use ids::{DisplayName, Email, EnvironmentId, IdError, InvitationId, RunId, TenantId, UserId, WorkspaceId};
pub mod diff;
pub mod run;
pub mod states;
pub use run::{ItemResult, RunOutcome, RunState};
pub use states::{
    AdminRole, BackupSetStatus, ConnectionLifecycle, ConsentOutcome, EnvironmentLifecycle, EventOutcome,
    FamilySyncStatus, HealthStatus, InventoryStatus, InvitationStatus, RestoreState,
};
pub mod alerts;
pub mod drift;
pub mod findings;
pub mod lint;
