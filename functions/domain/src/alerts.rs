//! Alert events (spec 016): what the product tells operators about, by type. Services write an
//! event into the workspace's alert outbox in the same transaction as the change it reports;
//! the alert dispatcher matches it against the workspace's rules and delivers it.

use serde::{Deserialize, Serialize};

string_enum!(
    /// The type of an alert event; rules subscribe to types.
    AlertEventType {
        FindingCreated = "finding.created",
        FindingReopened = "finding.reopened",
        FindingSlaBreached = "finding.sla_breached",
        ExceptionExpiring = "exception.expiring",
        ExceptionExpired = "exception.expired",
        RunFailed = "run.failed",
        RunBlocked = "run.blocked",
        RunPartial = "run.partial",
        ConnectionDegraded = "connection.degraded",
        BackupMissed = "backup.missed",
        Test = "test",
    }
);
