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
///
/// ¹ open: `new`, `acknowledged`, `in_progress`, `reopened` ([`FindingStatus::is_open`]);
/// `reopened` behaves like `new`. Nothing else is allowed: no status moves to itself, `new`
/// cannot skip to `in_progress`, and `risk_accepted` / `false_positive` are left only by the
/// exceptions workflow (a later issue), never by triage.
pub fn allowed(from: FindingStatus, to: FindingStatus) -> bool {
    use FindingStatus::*;
    match (from, to) {
        (New | Reopened, Acknowledged) => true,
        (Acknowledged, InProgress) => true,
        (f, Resolved | RiskAccepted | FalsePositive) => f.is_open(),
        (Resolved, Reopened) => true,
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
