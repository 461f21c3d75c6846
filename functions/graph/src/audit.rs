//! The Intune audit log as a change feed (graph-brief §3): `GET /v1.0/deviceManagement/auditEvents`
//! filtered on `activityDateTime`, every page read (a page that still fails after the retries fails
//! the read: a short feed would silently lose changes).

use serde::{Deserialize, Deserializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::{GraphError, TenantClient};

/// One `auditEvent` (`resources/intune-auditing-auditevent.md`); unknown fields are ignored and
/// missing or null ones are empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AuditEvent {
    pub id: String,
    #[serde(deserialize_with = "null_as_default")]
    pub display_name: String,
    #[serde(deserialize_with = "null_as_default")]
    pub component_name: String,
    #[serde(deserialize_with = "null_as_default")]
    pub activity_type: String,
    /// `Create`, `Patch`, `Delete`, `Action` (and `Get`, which the feed filters out).
    #[serde(deserialize_with = "null_as_default")]
    pub activity_operation_type: String,
    #[serde(deserialize_with = "null_as_default")]
    pub activity_result: String,
    /// ISO 8601 UTC, as Graph sent it (see [`AuditEvent::activity_ms`]).
    #[serde(deserialize_with = "null_as_default")]
    pub activity_date_time: String,
    #[serde(deserialize_with = "null_as_default")]
    pub correlation_id: String,
    #[serde(deserialize_with = "null_as_default")]
    pub actor: AuditActor,
    #[serde(deserialize_with = "null_as_default")]
    pub resources: Vec<AuditResource>,
}

/// Who made the change: a user (`user_principal_name`) or an app (`application_display_name`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AuditActor {
    /// `ItPro` for an administrator, `Application` for an app-only token.
    #[serde(rename = "type", deserialize_with = "null_as_default")]
    pub kind: String,
    pub user_principal_name: Option<String>,
    pub application_display_name: Option<String>,
    pub application_id: Option<String>,
    pub user_id: Option<String>,
    pub ip_address: Option<String>,
}

/// An object the event changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AuditResource {
    #[serde(deserialize_with = "null_as_default")]
    pub display_name: String,
    #[serde(rename = "type", deserialize_with = "null_as_default")]
    pub kind: String,
    #[serde(deserialize_with = "null_as_default")]
    pub resource_id: String,
    #[serde(deserialize_with = "null_as_default")]
    pub modified_properties: Vec<AuditProperty>,
}

/// A property the event changed; Graph gives both values as strings (JSON text for non-strings).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AuditProperty {
    #[serde(deserialize_with = "null_as_default")]
    pub display_name: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
}

impl AuditEvent {
    /// `activity_date_time` as Unix milliseconds; `None` when Graph sent something unreadable.
    pub fn activity_ms(&self) -> Option<i64> {
        let t = OffsetDateTime::parse(&self.activity_date_time, &Rfc3339).ok()?;
        i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
    }

    /// The user's UPN, else the app's display name.
    pub fn actor_name(&self) -> Option<&str> {
        self.actor
            .user_principal_name
            .as_deref()
            .or(self.actor.application_display_name.as_deref())
            .filter(|s| !s.is_empty())
    }
}

fn null_as_default<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// The list path for events after `after_ms` (exclusive), `Get` events left out.
pub fn audit_events_path(after_ms: i64) -> Result<String, GraphError> {
    let after = OffsetDateTime::from_unix_timestamp_nanos(i128::from(after_ms) * 1_000_000)
        .map_err(|e| GraphError::InvalidInput(format!("audit cursor {after_ms} ms: {e}")))?;
    // Milliseconds, `Z`: Graph compares DateTimeOffset values as instants.
    let after = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        after.year(),
        u8::from(after.month()),
        after.day(),
        after.hour(),
        after.minute(),
        after.second(),
        after.millisecond()
    );
    Ok(format!(
        "/v1.0/deviceManagement/auditEvents?$filter=activityDateTime gt {after} and activityOperationType ne 'Get'"
    ))
}

impl TenantClient {
    /// Every Intune audit event after `after_ms` (Unix ms, exclusive) but `Get`s, newest first as
    /// Graph lists them, following every `@odata.nextLink` with the usual retries. A page that still
    /// fails is [`GraphError::Incomplete`], never a shorter list. Events appear in the log minutes
    /// after the change: callers overlap their cursor and dedupe by [`AuditEvent::id`].
    pub async fn audit_events_since(&self, after_ms: i64) -> Result<Vec<AuditEvent>, GraphError> {
        let path = audit_events_path(after_ms)?;
        self.list_all(&path)
            .await?
            .into_iter()
            .map(|v| {
                serde_json::from_value(v)
                    .map_err(|e| GraphError::InvalidInput(format!("an audit event is not an auditEvent: {e}")))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_names_the_cursor_in_utc_milliseconds() {
        let p = audit_events_path(1_796_464_800_123).unwrap();
        assert!(
            p.ends_with("activityDateTime gt 2026-12-05T10:00:00.123Z and activityOperationType ne 'Get'"),
            "{p}"
        );
    }

    #[test]
    fn events_parse_with_nulls_and_unknown_fields() {
        let e: AuditEvent = serde_json::from_value(serde_json::json!({
            "@odata.type": "#microsoft.graph.auditEvent", "id": "e1", "displayName": null, "category": "x",
            "activityDateTime": "2026-12-05T10:00:00.1234567Z", "activityOperationType": "Patch",
            "actor": {"type": "Application", "applicationDisplayName": "TenantAtlas", "userPrincipalName": null,
                      "userPermissions": []},
            "resources": [{"resourceId": "r1", "modifiedProperties": null, "auditResourceType": "y"}],
        }))
        .unwrap();
        assert_eq!(e.activity_ms(), Some(1_796_464_800_123));
        assert_eq!(e.actor_name(), Some("TenantAtlas"));
        assert_eq!(e.resources[0].resource_id, "r1");
        assert!(e.resources[0].modified_properties.is_empty());
        assert_eq!(e.display_name, "");
    }
}
