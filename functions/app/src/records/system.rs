//! The system console's own records (spec 025, ADR 0047), in partitions no workspace owns.
//!
//! Items: `SYSRUNS#<yyyy-mm-dd> / <created ms>#<run id>` (every run by its UTC start day, written
//! with the run's start: a cross-workspace search reads the days it asks about, never the
//! table) and `SYSAUDIT#<yyyy-mm> / <ms>#<id>` (each access to the console, by month).

use atlas_domain::OperationType;
use atlas_store::{Key, Query, SkCond};
use serde::{Deserialize, Serialize};

use super::Record;

const DAY_MS: i64 = 86_400_000;

fn day(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%d")
        .to_string()
}

fn month(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m")
        .to_string()
}

/// The partition of the runs started on `ms`'s UTC day.
pub fn runs_day_pk(ms: i64) -> String {
    format!("SYSRUNS#{}", day(ms))
}

/// The sort key of a run in its day: start time, then id (newest last).
pub fn run_entry_sk(created_ms: i64, run_id: &str) -> String {
    format!("{created_ms:015}#{run_id}")
}

/// The start of the UTC day of `ms`.
pub fn day_start(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS) * DAY_MS
}

pub const DAY: i64 = DAY_MS;

/// A day's runs between `from_ms` and `to_ms` (inclusive), newest first.
pub fn runs_between(day_ms: i64, from_ms: i64, to_ms: i64) -> Query {
    Query::partition(runs_day_pk(day_ms))
        .sk(SkCond::Between(run_entry_sk(from_ms, ""), run_entry_sk(to_ms, "~")))
        .backward()
}

/// `SYSRUNS#<day> / <ms>#<id>`: a run in the cross-workspace index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemRunEntry {
    pub run_id: String,
    pub workspace_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment_id: Option<String>,
    #[serde(rename = "type")]
    pub kind: OperationType,
    pub created_ms: i64,
}

impl Record for SystemRunEntry {
    const ENTITY: &'static str = "system_run_entry";
    fn key(&self) -> Key {
        Key::new(
            runs_day_pk(self.created_ms),
            run_entry_sk(self.created_ms, &self.run_id),
        )
    }
}

/// The partition of the system audit log of `ms`'s month.
pub fn audit_month_pk(ms: i64) -> String {
    format!("SYSAUDIT#{}", month(ms))
}

/// A month's system audit events, newest first.
pub fn audit_month(ms: i64) -> Query {
    Query::partition(audit_month_pk(ms)).backward()
}

/// `SYSAUDIT#<month> / <ms>#<id>`: one access to the system console.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemAuditRecord {
    pub event_id: String,
    pub at_ms: i64,
    pub user_id: String,
    pub email: String,
    pub action: String,
    pub target: String,
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// The sort key of a system audit event in its month: its time, then its id.
pub fn audit_event_sk(at_ms: i64, event_id: &str) -> String {
    format!("{at_ms:015}#{event_id}")
}

impl Record for SystemAuditRecord {
    const ENTITY: &'static str = "system_audit_event";
    fn key(&self) -> Key {
        Key::new(audit_month_pk(self.at_ms), audit_event_sk(self.at_ms, &self.event_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_months_are_utc() {
        // 2026-12-07T23:59:59.999Z and the next millisecond.
        let ms = 1_796_687_999_999;
        assert_eq!(runs_day_pk(ms), "SYSRUNS#2026-12-07");
        assert_eq!(runs_day_pk(ms + 1), "SYSRUNS#2026-12-08");
        assert_eq!(day_start(ms + 1), ms + 1);
        assert_eq!(audit_month_pk(ms), "SYSAUDIT#2026-12");
        assert!(run_entry_sk(5, "a") < run_entry_sk(10, "a"));
    }
}
