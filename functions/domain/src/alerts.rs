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

impl AlertEventType {
    /// Finding events carry a severity a rule may require a minimum of.
    pub fn is_finding(self) -> bool {
        matches!(
            self,
            AlertEventType::FindingCreated | AlertEventType::FindingReopened | AlertEventType::FindingSlaBreached
        )
    }
}

string_enum!(
    /// Where a rule's alerts go.
    DestinationKind {
        Webhook = "webhook",
        Teams = "teams",
        Email = "email",
    }
);

string_enum!(
    /// A delivery's state: one per matched (event, rule, destination). Pending: sending, or
    /// waiting for its next attempt. Failed: every attempt of the retry window failed (its message
    /// went to the dead-letter queue). Suppressed: the rule was snoozed when the event matched,
    /// recorded, not sent. Cancelled: the rule or destination was deleted or disabled first.
    DeliveryStatus {
        Pending = "pending",
        Delivered = "delivered",
        Failed = "failed",
        Suppressed = "suppressed",
        Cancelled = "cancelled",
    }
);

impl DeliveryStatus {
    /// Pending is still being attempted; suppressed and cancelled were never meant to arrive.
    pub fn canonical(self) -> crate::Status {
        use crate::Status;
        match self {
            DeliveryStatus::Pending => Status::Running,
            DeliveryStatus::Delivered => Status::Ready,
            DeliveryStatus::Failed => Status::Failed,
            DeliveryStatus::Suppressed | DeliveryStatus::Cancelled => Status::Historical,
        }
    }
}
