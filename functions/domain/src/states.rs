//! The closed vocabularies of the records the API shows (lifecycles, per-record statuses and
//! outcomes), so the functions and the web app name them the same way.

use serde::{Deserialize, Serialize};

use crate::Status;

string_enum!(
    /// `GET /api/health`: storage and queue answered, or not.
    HealthStatus {
        Ok = "ok",
        Degraded = "degraded",
    }
);

string_enum!(
    /// An environment's lifecycle, set by operators; its canonical status follows from it.
    EnvironmentLifecycle {
        Active = "active",
        Suspended = "suspended",
        Archived = "archived",
    }
);

string_enum!(
    /// An invitation's status (`expired` is derived from its expiry).
    InvitationStatus {
        Pending = "pending",
        Accepted = "accepted",
        Revoked = "revoked",
        Expired = "expired",
    }
);

string_enum!(
    /// How an audited action ended.
    EventOutcome {
        Success = "success",
        Denied = "denied",
        Failed = "failed",
    }
);

string_enum!(
    /// A provider connection's lifecycle.
    ConnectionLifecycle {
        Created = "created",
        ConsentPending = "consent_pending",
        Consented = "consented",
        ConsentFailed = "consent_failed",
        Disabled = "disabled",
    }
);

string_enum!(
    /// How the tenant administrator answered the consent prompt.
    ConsentOutcome {
        Granted = "granted",
        Declined = "declined",
        Error = "error",
    }
);

string_enum!(
    /// The Entra directory roles that prove administration of a tenant (their display names).
    AdminRole {
        GlobalAdministrator = "Global Administrator",
        PrivilegedRoleAdministrator = "Privileged Role Administrator",
        IntuneAdministrator = "Intune Administrator",
    }
);

string_enum!(
    /// An inventory object: present in Intune, or a ghost kept after it was deleted there.
    InventoryStatus {
        Active = "active",
        Deleted = "deleted",
    }
);

string_enum!(
    /// One policy family's last sync: read in full, or not (nothing of it was changed).
    FamilySyncStatus {
        Ok = "ok",
        Unknown = "unknown",
    }
);

string_enum!(
    /// A backup set: never `complete` unless every family was captured; `unknown` when its run is gone.
    BackupSetStatus {
        Running = "running",
        Complete = "complete",
        Partial = "partial",
        Failed = "failed",
        Unknown = "unknown",
    }
);

string_enum!(
    /// A restore: `confirmed` once a run exists.
    RestoreState {
        Draft = "draft",
        Previewed = "previewed",
        Confirmed = "confirmed",
        Cancelled = "cancelled",
    }
);

/// Each internal state shown to operators as one word of the canonical vocabulary
/// (PRODUCT.md, contract 5): the API returns both, the web app shows only the canonical one.
impl HealthStatus {
    pub fn canonical(self) -> Status {
        match self {
            HealthStatus::Ok => Status::Ready,
            HealthStatus::Degraded => Status::NeedsAttention,
        }
    }
}

impl InvitationStatus {
    /// A pending invitation waits on someone: it needs attention until accepted, revoked or expired.
    pub fn canonical(self) -> Status {
        match self {
            InvitationStatus::Pending => Status::NeedsAttention,
            InvitationStatus::Accepted => Status::Ready,
            InvitationStatus::Revoked => Status::Historical,
            InvitationStatus::Expired => Status::Expired,
        }
    }
}

impl InventoryStatus {
    pub fn canonical(self) -> Status {
        match self {
            InventoryStatus::Active => Status::Ready,
            InventoryStatus::Deleted => Status::Historical,
        }
    }
}

impl FamilySyncStatus {
    pub fn canonical(self) -> Status {
        match self {
            FamilySyncStatus::Ok => Status::Ready,
            FamilySyncStatus::Unknown => Status::Unknown,
        }
    }
}

impl BackupSetStatus {
    /// A partial set is usable but incomplete: it needs attention, it did not fail.
    pub fn canonical(self) -> Status {
        match self {
            BackupSetStatus::Running => Status::Running,
            BackupSetStatus::Complete => Status::Ready,
            BackupSetStatus::Partial => Status::NeedsAttention,
            BackupSetStatus::Failed => Status::Failed,
            BackupSetStatus::Unknown => Status::Unknown,
        }
    }
}

impl RestoreState {
    /// Before its run a restore is a draft (not configured until previewed); once confirmed its
    /// run's status speaks for it, which the caller passes.
    pub fn canonical(self, run: Option<Status>) -> Status {
        match self {
            RestoreState::Draft => Status::NotConfigured,
            RestoreState::Previewed => Status::Ready,
            RestoreState::Confirmed => run.unwrap_or(Status::Unknown),
            RestoreState::Cancelled => Status::Historical,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_through_serde_as_their_strings() {
        fn check<T: Copy + PartialEq + std::fmt::Debug + Serialize + serde::de::DeserializeOwned>(
            all: &[T],
            code: fn(T) -> &'static str,
        ) {
            for v in all {
                let json = serde_json::to_string(v).unwrap();
                assert_eq!(json, format!("\"{}\"", code(*v)));
                assert_eq!(serde_json::from_str::<T>(&json).unwrap(), *v);
            }
        }
        check(HealthStatus::ALL, HealthStatus::as_str);
        check(EnvironmentLifecycle::ALL, EnvironmentLifecycle::as_str);
        check(InvitationStatus::ALL, InvitationStatus::as_str);
        check(EventOutcome::ALL, EventOutcome::as_str);
        check(ConnectionLifecycle::ALL, ConnectionLifecycle::as_str);
        check(ConsentOutcome::ALL, ConsentOutcome::as_str);
        check(AdminRole::ALL, AdminRole::as_str);
        check(InventoryStatus::ALL, InventoryStatus::as_str);
        check(FamilySyncStatus::ALL, FamilySyncStatus::as_str);
        check(BackupSetStatus::ALL, BackupSetStatus::as_str);
        check(RestoreState::ALL, RestoreState::as_str);
        check(crate::RunState::ALL, crate::RunState::as_str);
        check(crate::RunOutcome::ALL, crate::RunOutcome::as_str);
        assert!(serde_json::from_str::<RestoreState>("\"unheard-of\"").is_err());
    }
}
