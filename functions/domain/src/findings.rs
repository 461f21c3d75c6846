//! The findings lifecycle as data (spec 015, "Findings"): statuses, sources, the transition
//! table, the fingerprint that dedupes recurring detections, and SLA due dates by severity.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use crate::catalog::Severity;

string_enum!(
    /// Where a finding is in its lifecycle; see [`allowed`] for the moves between statuses.
    FindingStatus {
        New = "new",
        Acknowledged = "acknowledged",
        InProgress = "in_progress",
        Resolved = "resolved",
        RiskAccepted = "risk_accepted",
        FalsePositive = "false_positive",
        Reopened = "reopened",
    }
);

impl FindingStatus {
    /// Open findings need attention (in progress: someone is on it); closed ones are history.
    pub fn canonical(self) -> crate::Status {
        use crate::Status;
        match self {
            FindingStatus::New | FindingStatus::Acknowledged | FindingStatus::Reopened => Status::NeedsAttention,
            FindingStatus::InProgress => Status::Running,
            FindingStatus::Resolved | FindingStatus::FalsePositive => Status::Historical,
            FindingStatus::RiskAccepted => Status::Ready,
        }
    }

    /// Still asks for work: counts toward needs-attention and can be overdue.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            FindingStatus::New | FindingStatus::Acknowledged | FindingStatus::InProgress | FindingStatus::Reopened
        )
    }
}

string_enum!(
    /// What detected a finding; one store and one lifecycle for all of them.
    FindingSource {
        Drift = "drift",
        Permission = "permission",
        Connection = "connection",
        Backup = "backup",
        Lint = "lint",
    }
);

/// Whether a finding may move from `from` to `to`. The table:
///
/// | from                          | to                                                   |
/// |-------------------------------|------------------------------------------------------|
/// | `new`, `reopened`             | `acknowledged`                                       |
/// | `acknowledged`                | `in_progress`                                        |
/// | any open status¹              | `resolved`, `risk_accepted`, `false_positive`        |
/// | `resolved`                    | `reopened` (the detection recurred)                  |
/// | `risk_accepted`               | `reopened` (its exception expired, was revoked, or the accepted value changed) |
///
/// ¹ open: `new`, `acknowledged`, `in_progress`, `reopened` ([`FindingStatus::is_open`]);
/// `reopened` behaves like `new`. Nothing else is allowed: no status moves to itself, `new`
/// cannot skip to `in_progress`, `risk_accepted` is entered and left only by the exceptions
/// workflow (spec 016), never by triage, and `false_positive` is final.
pub fn allowed(from: FindingStatus, to: FindingStatus) -> bool {
    use FindingStatus::*;
    match (from, to) {
        (New | Reopened, Acknowledged) => true,
        (Acknowledged, InProgress) => true,
        (f, Resolved | RiskAccepted | FalsePositive) => f.is_open(),
        (Resolved | RiskAccepted, Reopened) => true,
        _ => false,
    }
}

/// The identity of a detection: a recurring one has the same fingerprint and updates its
/// finding instead of opening another. Lowercase hex sha256 over the four parts, each prefixed
/// with its length so that no two different tuples serialize alike (`a|bc` vs `ab|c`).
pub fn fingerprint(environment_id: &str, source: FindingSource, object_key: &str, property: &str) -> String {
    let mut h = Sha256::new();
    for part in [environment_id, source.as_str(), object_key, property] {
        h.update(format!("{}:", part.len()).as_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// Days allowed to close a finding, by severity (a workspace policy); `info` has no due date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct SlaPolicy {
    pub critical_days: u32,
    pub high_days: u32,
    pub medium_days: u32,
    pub low_days: u32,
}

impl Default for SlaPolicy {
    fn default() -> Self {
        SlaPolicy {
            critical_days: 1,
            high_days: 7,
            medium_days: 30,
            low_days: 90,
        }
    }
}

impl SlaPolicy {
    pub fn days(&self, severity: Severity) -> Option<u32> {
        match severity {
            Severity::Critical => Some(self.critical_days),
            Severity::High => Some(self.high_days),
            Severity::Medium => Some(self.medium_days),
            Severity::Low => Some(self.low_days),
            Severity::Info => None,
        }
    }

    /// When a finding of `severity` opened at `opened_ms` is due (epoch ms).
    pub fn due_ms(&self, severity: Severity, opened_ms: i64) -> Option<i64> {
        self.days(severity)
            .map(|d| opened_ms.saturating_add(i64::from(d) * DAY_MS))
    }

    /// Open and past its due date at `now_ms`; a closed finding is never overdue.
    pub fn overdue(&self, severity: Severity, status: FindingStatus, opened_ms: i64, now_ms: i64) -> bool {
        status.is_open() && self.due_ms(severity, opened_ms).is_some_and(|due| now_ms > due)
    }
}

string_enum!(
    /// Where a risk acceptance is: `requested → active → expired | revoked | voided`, or
    /// `requested → rejected | withdrawn | expired`.
    ExceptionStatus {
        Requested = "requested",
        Active = "active",
        Rejected = "rejected",
        Withdrawn = "withdrawn",
        Revoked = "revoked",
        Expired = "expired",
        Voided = "voided",
    }
);

impl ExceptionStatus {
    /// A requested exception waits for an approver; an active one holds; the rest are history.
    pub fn canonical(self) -> crate::Status {
        use crate::Status;
        match self {
            ExceptionStatus::Requested => Status::NeedsAttention,
            ExceptionStatus::Active => Status::Ready,
            ExceptionStatus::Expired => Status::Expired,
            ExceptionStatus::Rejected
            | ExceptionStatus::Withdrawn
            | ExceptionStatus::Revoked
            | ExceptionStatus::Voided => Status::Historical,
        }
    }

    /// Requested or active: the finding's one current exception.
    pub fn is_current(self) -> bool {
        matches!(self, ExceptionStatus::Requested | ExceptionStatus::Active)
    }
}

/// A workspace's governance policy: SLA days, escalation, and how long a risk may be accepted
/// (`GET|PUT /workspaces/{ws}/governance-policy`; what a PUT leaves out keeps its default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct GovernancePolicy {
    pub sla: SlaPolicy,
    /// How long after a finding's due date its environment's managers are told (the owner is
    /// told at the due date).
    pub escalate_after_days: u32,
    /// The longest a risk may be accepted: every exception expires (no permanent acceptance).
    pub exception_max_days: u32,
    /// How long before an exception expires the warning goes out.
    pub exception_warn_days: u32,
}

impl Default for GovernancePolicy {
    fn default() -> Self {
        GovernancePolicy {
            sla: SlaPolicy::default(),
            escalate_after_days: 3,
            exception_max_days: 90,
            exception_warn_days: 7,
        }
    }
}

impl GovernancePolicy {
    pub const MAX_EXCEPTION_DAYS: u32 = 365;
    pub const MAX_SLA_DAYS: u32 = 365;

    /// The fields that are out of range, with why.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let sla = [
            ("sla.critical_days", self.sla.critical_days),
            ("sla.high_days", self.sla.high_days),
            ("sla.medium_days", self.sla.medium_days),
            ("sla.low_days", self.sla.low_days),
        ];
        for (field, days) in sla {
            if days == 0 || days > Self::MAX_SLA_DAYS {
                out.push((field, format!("must be 1 to {} days", Self::MAX_SLA_DAYS)));
            }
        }
        if self.escalate_after_days == 0 || self.escalate_after_days > 90 {
            out.push(("escalate_after_days", "must be 1 to 90 days".into()));
        }
        if self.exception_max_days == 0 || self.exception_max_days > Self::MAX_EXCEPTION_DAYS {
            out.push((
                "exception_max_days",
                format!(
                    "must be 1 to {} days (no permanent acceptance)",
                    Self::MAX_EXCEPTION_DAYS
                ),
            ));
        }
        if self.exception_warn_days == 0 || self.exception_warn_days >= self.exception_max_days.max(1) {
            out.push((
                "exception_warn_days",
                "must be at least 1 day and less than exception_max_days".into(),
            ));
        }
        out
    }

    /// The latest expiry an exception requested at `now_ms` may have.
    pub fn latest_expiry_ms(&self, now_ms: i64) -> i64 {
        now_ms.saturating_add(i64::from(self.exception_max_days) * DAY_MS)
    }

    /// When the expiry warning of an exception expiring at `expires_ms` is due.
    pub fn warn_at_ms(&self, expires_ms: i64) -> i64 {
        expires_ms.saturating_sub(i64::from(self.exception_warn_days) * DAY_MS)
    }

    /// When managers are told about a finding due at `due_ms` and still open.
    pub fn escalate_at_ms(&self, due_ms: i64) -> i64 {
        due_ms.saturating_add(i64::from(self.escalate_after_days) * DAY_MS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use FindingStatus::*;

    #[test]
    fn the_transition_table_allows_exactly_the_documented_moves() {
        let mut expected = vec![
            (New, Acknowledged),
            (Acknowledged, InProgress),
            (InProgress, Resolved),
            (Resolved, Reopened),
            (RiskAccepted, Reopened),
            (Reopened, Acknowledged),
        ];
        for open in [New, Acknowledged, InProgress, Reopened] {
            for to in [Resolved, RiskAccepted, FalsePositive] {
                expected.push((open, to));
            }
        }
        for &from in FindingStatus::ALL {
            for &to in FindingStatus::ALL {
                assert_eq!(allowed(from, to), expected.contains(&(from, to)), "{from} → {to}");
            }
        }
        // Samples of what is refused, spelled out.
        for (from, to) in [
            (New, Reopened),
            (Resolved, InProgress),
            (New, InProgress),
            (New, New),
            (Resolved, Resolved),
            (RiskAccepted, Resolved),
            (FalsePositive, Reopened),
            (Resolved, Acknowledged),
        ] {
            assert!(!allowed(from, to), "{from} → {to} must be refused");
        }
    }

    #[test]
    fn fingerprints_are_stable_and_distinct_per_part() {
        let f = fingerprint(
            "env-1",
            FindingSource::Drift,
            "configurationPolicies/p1",
            "/settings/a/value",
        );
        assert_eq!(
            f,
            fingerprint(
                "env-1",
                FindingSource::Drift,
                "configurationPolicies/p1",
                "/settings/a/value"
            )
        );
        assert_eq!(f.len(), 64);
        assert!(f.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        let others = [
            fingerprint(
                "env-1",
                FindingSource::Drift,
                "configurationPolicies/p1",
                "/settings/b/value",
            ),
            fingerprint(
                "env-2",
                FindingSource::Drift,
                "configurationPolicies/p1",
                "/settings/a/value",
            ),
            fingerprint(
                "env-1",
                FindingSource::Backup,
                "configurationPolicies/p1",
                "/settings/a/value",
            ),
            fingerprint(
                "env-1",
                FindingSource::Drift,
                "configurationPolicies/p2",
                "/settings/a/value",
            ),
            // The same characters split differently between parts.
            fingerprint(
                "env-1",
                FindingSource::Drift,
                "configurationPolicies/p1/settings/a",
                "/value",
            ),
        ];
        for o in &others {
            assert_ne!(&f, o);
        }
        // sha256("0:5:drift0:0:"), computed apart; pinned so that stored fingerprints stay valid.
        assert_eq!(
            fingerprint("", FindingSource::Drift, "", ""),
            "df35301f3fa509b97d5f4701c680f41ec3f01153d79c9b0fe9adf8a3c99fef0b"
        );
    }

    #[test]
    fn sla_defaults_due_dates_and_overdue() {
        let p = SlaPolicy::default();
        assert_eq!(
            (p.critical_days, p.high_days, p.medium_days, p.low_days),
            (1, 7, 30, 90)
        );
        let opened = 1_700_000_000_000;
        assert_eq!(p.due_ms(Severity::Critical, opened), Some(opened + DAY_MS));
        assert_eq!(p.due_ms(Severity::High, opened), Some(opened + 7 * DAY_MS));
        assert_eq!(p.due_ms(Severity::Medium, opened), Some(opened + 30 * DAY_MS));
        assert_eq!(p.due_ms(Severity::Low, opened), Some(opened + 90 * DAY_MS));
        assert_eq!(p.due_ms(Severity::Info, opened), None);
        let due = opened + 7 * DAY_MS;
        assert!(!p.overdue(Severity::High, New, opened, due));
        assert!(p.overdue(Severity::High, New, opened, due + 1));
        assert!(p.overdue(Severity::High, Reopened, opened, due + 1));
        assert!(!p.overdue(Severity::High, Resolved, opened, due + 1));
        assert!(!p.overdue(Severity::High, RiskAccepted, opened, due + 1));
        assert!(!p.overdue(Severity::Info, New, opened, i64::MAX));
        // A workspace policy read from storage keeps the defaults for what it does not set.
        let custom: SlaPolicy = serde_json::from_str(r#"{"critical_days": 2}"#).unwrap();
        assert_eq!(
            custom,
            SlaPolicy {
                critical_days: 2,
                ..SlaPolicy::default()
            }
        );
    }

    #[test]
    fn governance_policy_defaults_and_ranges() {
        let p = GovernancePolicy::default();
        assert!(p.problems().is_empty());
        assert_eq!(
            (p.exception_max_days, p.exception_warn_days, p.escalate_after_days),
            (90, 7, 3)
        );
        let now = 1_700_000_000_000;
        assert_eq!(p.latest_expiry_ms(now), now + 90 * DAY_MS);
        assert_eq!(p.warn_at_ms(now + 30 * DAY_MS), now + 23 * DAY_MS);
        assert_eq!(p.escalate_at_ms(now), now + 3 * DAY_MS);
        let bad = GovernancePolicy {
            exception_max_days: 0,
            exception_warn_days: 0,
            sla: SlaPolicy {
                high_days: 0,
                ..SlaPolicy::default()
            },
            ..p
        };
        let fields: Vec<_> = bad.problems().into_iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["sla.high_days", "exception_max_days", "exception_warn_days"]);
        let forever = GovernancePolicy {
            exception_max_days: 10_000,
            ..p
        };
        assert_eq!(forever.problems()[0].0, "exception_max_days");
        // Stored policies keep the defaults for what they do not set.
        let stored: GovernancePolicy = serde_json::from_str(r#"{"exception_max_days": 30}"#).unwrap();
        assert_eq!(stored.sla, SlaPolicy::default());
        assert_eq!(stored.exception_warn_days, 7);
    }

    #[test]
    fn codes_round_trip_through_serde_as_snake_case() {
        for s in FindingStatus::ALL {
            let json = serde_json::to_string(s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
            assert_eq!(FindingStatus::parse(s.as_str()), Some(*s));
        }
        assert_eq!(serde_json::to_string(&InProgress).unwrap(), "\"in_progress\"");
        assert_eq!(serde_json::to_string(&RiskAccepted).unwrap(), "\"risk_accepted\"");
        assert_eq!(FindingSource::parse("permission"), Some(FindingSource::Permission));
        assert_eq!(FindingSource::Connection.to_string(), "connection");
        assert_eq!(Severity::parse("critical"), Some(Severity::Critical));
        assert!(serde_json::from_str::<FindingStatus>("\"closed\"").is_err());
    }
}
