//! Backup schedules as stored: `<env pk> / SCHEDULE#<id>`, indexed in GSI1 `SCHEDULES#DUE` by
//! the next due time.

use atlas_store::{Key, Query, SkCond};
use serde::{Deserialize, Serialize};

use super::Record;

/// The partition (GSI1) of every schedule, by its next due time.
pub const DUE: &str = "SCHEDULES#DUE";
/// The partition (GSI1) of paused schedules.
pub const PAUSED: &str = "SCHEDULES#PAUSED";

pub fn due_sk(due_ms: i64, ws: &str, env: &str, id: &str) -> String {
    format!("{due_ms:015}#{ws}#{env}#{id}")
}

pub fn schedule_sk(id: &str) -> String {
    format!("SCHEDULE#{id}")
}

pub const SCHEDULES_PREFIX: &str = "SCHEDULE#";

/// Schedules due at or before `now_ms`.
pub fn due_by(now_ms: i64) -> Query {
    Query::gsi1(DUE).sk(SkCond::Lt(format!("{now_ms:015}~")))
}

/// `<env pk> / SCHEDULE#<id>`. The optional settings are stored as `null` when not given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackupSchedule {
    #[serde(rename = "PK")]
    pub pk: String,
    pub schedule_id: String,
    pub workspace_id: String,
    pub environment_id: String,
    #[serde(default)]
    pub every_minutes: Option<u32>,
    #[serde(default)]
    pub cron: Option<String>,
    pub time_zone: String,
    #[serde(default)]
    pub families: Option<Vec<String>>,
    #[serde(default)]
    pub keep_last: Option<u32>,
    #[serde(default)]
    pub keep_days: Option<u32>,
    #[serde(default)]
    pub keep_partial: Option<bool>,
    pub next_due_ms: i64,
    /// Set when a tick claims a due time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_due_ms: Option<i64>,
    pub created_by: String,
    pub created_by_email: String,
    pub created_ms: i64,
    /// `false` while paused: the schedule is then indexed under [`PAUSED`], where no tick looks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(rename = "GSI1PK")]
    pub gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    pub gsi1sk: String,
}

impl Record for BackupSchedule {
    const ENTITY: &'static str = "backup_schedule";
    fn key(&self) -> Key {
        Key::new(self.pk.clone(), schedule_sk(&self.schedule_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn a_schedule_stored_by_main_decodes_and_round_trips() {
        let (id, ws, env, due) = ("s-1", "ws-a", "env-b", 7_i64);
        // As `routes::backups::create_schedule` on main writes it.
        let old: Value = json!({
            "PK": "WS#ws-a#ENV#env-b", "SK": format!("SCHEDULE#{id}"), "entity": "backup_schedule", "schedule_id": id,
            "keep_last": 3, "keep_days": null, "keep_partial": null,
            "workspace_id": ws, "environment_id": env, "every_minutes": null, "cron": "0 3 * * *",
            "time_zone": "Europe/Berlin",
            "families": null, "next_due_ms": due, "created_by": "u-1",
            "created_by_email": "o@x.test", "created_ms": 1,
            "GSI1PK": DUE, "GSI1SK": due_sk(due, ws, env, id),
        });
        let old = old.as_object().cloned().unwrap();
        let s = BackupSchedule::from_item(old.clone()).unwrap();
        assert_eq!(
            (s.keep_last, s.cron.as_deref(), s.families.as_ref()),
            (Some(3), Some("0 3 * * *"), None)
        );
        assert_eq!(s.to_item(), old);
        let mut claimed = old;
        claimed.insert("last_due_ms".into(), json!(due));
        assert_eq!(BackupSchedule::from_item(claimed.clone()).unwrap().to_item(), claimed);
    }
}
