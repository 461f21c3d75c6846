//! The catalogs operators see and authorization checks: each is defined once, here.

use serde::{Deserialize, Serialize};

// Codes are matched as `tt`, not `literal`: utoipa's derive reads a rename only from a bare
// literal token, and a `literal` fragment reaches it wrapped (the schema then lists variant names).
macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $s:tt),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        pub enum $name {
            $(#[serde(rename = $s)] $variant),*
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s),* }
            }

            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some($name::$variant),)* _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        /// Compares with the wire code, as a client reading the JSON would.
        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
    };
}

string_enum!(
    /// What a member may do. Routes and queued steps name one; roles grant sets of them.
    Capability {
        WorkspaceView = "workspace.view",
        ProviderManage = "provider.manage",
        ProviderVerify = "provider.verify",
        InventoryView = "inventory.view",
        InventorySync = "inventory.sync",
        BackupView = "backup.view",
        BackupRun = "backup.run",
        BackupManage = "backup.manage",
        RestorePreview = "restore.preview",
        RestoreExecute = "restore.execute",
        OperationsView = "operations.view",
        FindingsTriage = "findings.triage",
        FindingsAcceptRisk = "findings.accept_risk",
        BaselineManage = "baseline.manage",
        EvidenceExport = "evidence.export",
        AlertsManage = "alerts.manage",
        EnvironmentsManage = "environments.manage",
        MembersManage = "members.manage",
        AuditView = "audit.view",
        // Every role holds it: a read-only member locked out of something must be able to ask.
        SupportRequestCreate = "support.request.create",
    }
);

string_enum!(
    /// Workspace roles, most powerful first.
    Role {
        Owner = "owner",
        Manager = "manager",
        Operator = "operator",
        Readonly = "readonly",
    }
);

impl Role {
    /// The role → capabilities map: the only place it is written down.
    pub fn capabilities(self) -> &'static [Capability] {
        use Capability::*;
        const READ: &[Capability] = &[
            WorkspaceView,
            InventoryView,
            BackupView,
            OperationsView,
            SupportRequestCreate,
        ];
        const OPERATOR: &[Capability] = &[
            WorkspaceView,
            InventoryView,
            BackupView,
            OperationsView,
            ProviderVerify,
            InventorySync,
            BackupRun,
            RestorePreview,
            FindingsTriage,
            SupportRequestCreate,
        ];
        const MANAGER: &[Capability] = &[
            WorkspaceView,
            InventoryView,
            BackupView,
            OperationsView,
            ProviderVerify,
            InventorySync,
            BackupRun,
            RestorePreview,
            FindingsTriage,
            ProviderManage,
            BackupManage,
            RestoreExecute,
            FindingsAcceptRisk,
            BaselineManage,
            EvidenceExport,
            AlertsManage,
            AuditView,
            EnvironmentsManage,
            SupportRequestCreate,
        ];
        match self {
            Role::Owner => Capability::ALL,
            Role::Manager => MANAGER,
            Role::Operator => OPERATOR,
            Role::Readonly => READ,
        }
    }

    pub fn can(self, c: Capability) -> bool {
        self.capabilities().contains(&c)
    }
}

string_enum!(
    /// The canonical status vocabulary shown to operators; internal states map onto it.
    Status {
        Ready = "ready",
        NeedsAttention = "needs_attention",
        Blocked = "blocked",
        Running = "running",
        Failed = "failed",
        Expired = "expired",
        NotConfigured = "not_configured",
        Unknown = "unknown",
        Historical = "historical",
        Superseded = "superseded",
    }
);

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Ready => "Ready",
            Status::NeedsAttention => "Needs attention",
            Status::Blocked => "Blocked",
            Status::Running => "Running",
            Status::Failed => "Failed",
            Status::Expired => "Expired",
            Status::NotConfigured => "Not configured",
            Status::Unknown => "Unknown",
            Status::Historical => "Historical",
            Status::Superseded => "Superseded",
        }
    }
}

string_enum!(
    Severity {
        Critical = "critical",
        High = "high",
        Medium = "medium",
        Low = "low",
        Info = "info",
    }
);

string_enum!(
    /// Stable operation type codes; operator labels come from [`OperationType::label`].
    OperationType {
        ProviderVerify = "provider.verify",
        InventorySync = "inventory.sync",
        BackupCapture = "backup.capture",
        BackupPrune = "backup.prune",
        RestoreExecute = "restore.execute",
        RunReconcile = "run.reconcile",
        DriftDetect = "drift.detect",
        EvidenceBuild = "evidence.build",
        AlertDeliver = "alert.deliver",
    }
);

impl OperationType {
    pub fn label(self) -> &'static str {
        match self {
            OperationType::ProviderVerify => "Verify provider",
            OperationType::InventorySync => "Sync inventory",
            OperationType::BackupCapture => "Capture backup",
            OperationType::BackupPrune => "Prune backups",
            OperationType::RestoreExecute => "Execute restore",
            OperationType::RunReconcile => "Reconcile stuck runs",
            OperationType::DriftDetect => "Detect drift",
            OperationType::EvidenceBuild => "Build evidence pack",
            OperationType::AlertDeliver => "Deliver alert",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::{ItemResult, RunOutcome, RunState};

    #[test]
    fn codes_round_trip_and_are_unique() {
        for c in Capability::ALL {
            assert_eq!(Capability::parse(c.as_str()), Some(*c));
        }
        let mut codes: Vec<_> = OperationType::ALL.iter().map(|o| o.as_str()).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), OperationType::ALL.len());
        assert!(OperationType::ALL.iter().all(|o| !o.label().is_empty()));
    }

    #[test]
    fn roles_are_nested_and_owner_has_everything() {
        for c in Role::Readonly.capabilities() {
            assert!(Role::Operator.can(*c), "operator has {c}");
        }
        for c in Role::Operator.capabilities() {
            assert!(Role::Manager.can(*c), "manager has {c}");
        }
        assert!(Capability::ALL.iter().all(|c| Role::Owner.can(*c)));
        assert!(!Role::Manager.can(Capability::MembersManage));
        assert!(!Role::Readonly.can(Capability::BackupRun));
    }

    #[test]
    fn run_vocabulary_keeps_its_stored_strings() {
        let states: Vec<_> = RunState::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(states, ["queued", "running", "completed"]);
        let outcomes: Vec<_> = RunOutcome::ALL.iter().map(|o| o.as_str()).collect();
        assert_eq!(
            outcomes,
            ["succeeded", "partially_succeeded", "failed", "blocked", "cancelled"]
        );
        assert_eq!(
            serde_json::to_string(&RunOutcome::PartiallySucceeded).unwrap(),
            "\"partially_succeeded\""
        );
        assert_eq!(RunOutcome::of_counts(3, 0, 1), RunOutcome::Succeeded);
        assert_eq!(RunOutcome::of_counts(0, 2, 1), RunOutcome::PartiallySucceeded);
        assert_eq!(RunOutcome::of_counts(0, 2, 0), RunOutcome::Failed);
        assert!(RunState::Running.is_active() && !RunState::Completed.is_active());
        assert_eq!(ItemResult::parse("skipped"), Some(ItemResult::Skipped));
    }
}
