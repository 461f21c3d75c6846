//! The tenant's Intune audit log (`GET /deviceManagement/auditEvents`, graph-brief §3 "Change feed"):
//! every write to an Intune object, through Graph or through `/_sim` (an admin in the portal), appends
//! an `auditEvent` of Graph's documented shape (`resources/intune-auditing-auditevent.md`).
//! Directory objects (groups) are not Intune's: their changes go to Entra's audit log, not this one.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use crate::families::FamilyDef;
use crate::rng::{guid_from, hash_parts};
use crate::seed::graph_time;
use crate::state::Obj;

/// Events kept per tenant. Intune keeps a year; the simulator keeps the newest 10,000 so that a
/// long benchmark cannot grow without bound (the oldest are dropped first).
pub(crate) const MAX_EVENTS: usize = 10_000;

/// The app Intune names for changes made in the admin center.
const PORTAL_APP_ID: &str = "5926fc8e-304e-4f59-8bed-58ca97cc39a4";
const PORTAL_APP_NAME: &str = "Microsoft Intune portal extension";

/// Who made a change.
#[derive(Clone, Debug)]
pub(crate) enum Actor {
    /// App-only token: the app that holds it.
    App {
        app_id: String,
        display_name: String,
        /// Object id of the app's service principal in the tenant.
        sp_id: String,
    },
    /// A signed-in administrator (the portal, or a delegated token).
    User {
        upn: String,
        user_id: Option<String>,
        app_id: String,
        app_name: String,
    },
}

impl Actor {
    /// An administrator working in the Intune admin center.
    pub(crate) fn portal_user(upn: String, user_id: Option<String>) -> Self {
        Actor::User {
            upn,
            user_id,
            app_id: PORTAL_APP_ID.into(),
            app_name: PORTAL_APP_NAME.into(),
        }
    }

    fn to_json(&self) -> Value {
        match self {
            Actor::App {
                app_id,
                display_name,
                sp_id,
            } => json!({
                "@odata.type": "microsoft.graph.auditActor",
                "type": "Application", "auditActorType": "Application", "userPermissions": [],
                "applicationId": app_id, "applicationDisplayName": display_name,
                "userPrincipalName": null, "servicePrincipalName": app_id, "ipAddress": null, "userId": sp_id,
            }),
            Actor::User {
                upn,
                user_id,
                app_id,
                app_name,
            } => json!({
                "@odata.type": "microsoft.graph.auditActor",
                "type": "ItPro", "auditActorType": "ItPro", "userPermissions": ["*"],
                "applicationId": app_id, "applicationDisplayName": app_name,
                "userPrincipalName": upn, "servicePrincipalName": null, "ipAddress": null, "userId": user_id,
            }),
        }
    }
}

/// `activityOperationType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Create,
    Patch,
    Delete,
    Action,
}

impl Op {
    fn as_str(self) -> &'static str {
        match self {
            Op::Create => "Create",
            Op::Patch => "Patch",
            Op::Delete => "Delete",
            Op::Action => "Action",
        }
    }
}

/// One change to record: the object before and after (either may be absent).
pub(crate) struct Change<'a> {
    pub def: &'static FamilyDef,
    pub op: Op,
    /// `assign`, `scheduleActionsForRules` …: names the activity of an `Action`.
    pub action: Option<&'a str>,
    pub resource_id: &'a str,
    pub before: Option<&'a Obj>,
    pub after: Option<&'a Obj>,
    pub actor: Actor,
    pub correlation_id: &'a str,
}

struct Entry {
    /// Hidden from reads until then, as Intune's events appear with a delay.
    visible_at: Instant,
    body: Value,
}

/// Oldest first; reads reverse it.
#[derive(Default)]
pub(crate) struct AuditLog {
    events: VecDeque<Entry>,
    seq: u64,
}

impl AuditLog {
    pub(crate) fn record(&mut self, tenant_id: &str, delay: Duration, change: Change<'_>) {
        if change.def.directory {
            return;
        }
        self.seq += 1;
        let seq = self.seq.to_string();
        let id = guid_from(
            hash_parts(0xA0D1, &[tenant_id, &seq]),
            hash_parts(0xA0D2, &[tenant_id, &seq]),
        );
        let obj = change.after.or(change.before);
        let type_name = obj
            .and_then(|o| o.props.get("@odata.type"))
            .and_then(Value::as_str)
            .unwrap_or(change.def.base_type);
        let resource_type = pascal(type_name);
        let base = pascal(change.def.base_type);
        let verb = match (change.op, change.action) {
            (Op::Action, Some(a)) => pascal(a),
            (op, _) => op.as_str().to_string(),
        };
        let activity = format!("{verb} {base}");
        let name = obj
            .and_then(|o| o.props.get(change.def.name_prop).or_else(|| o.props.get("displayName")))
            .and_then(Value::as_str)
            .unwrap_or_default();
        let component = component(change.def.name);
        let body = json!({
            "@odata.type": "#microsoft.graph.auditEvent",
            "id": id,
            "displayName": activity,
            "componentName": component,
            "actor": change.actor.to_json(),
            "activity": activity,
            "activityDateTime": graph_time(time::OffsetDateTime::now_utc()),
            "activityType": activity,
            "activityOperationType": change.op.as_str(),
            "activityResult": "Success",
            "correlationId": change.correlation_id,
            "resources": [{
                "@odata.type": "microsoft.graph.auditResource",
                "displayName": name,
                "modifiedProperties": modified(change.before, change.after),
                "type": resource_type,
                "auditResourceType": resource_type,
                "resourceId": change.resource_id,
            }],
            "category": component,
        });
        if self.events.len() >= MAX_EVENTS {
            self.events.pop_front();
        }
        self.events.push_back(Entry {
            visible_at: Instant::now() + delay,
            body,
        });
    }

    /// How many events were ever recorded (also the last event's number).
    pub(crate) fn seq(&self) -> u64 {
        self.seq
    }

    /// The events visible now, newest first.
    pub(crate) fn visible(&self) -> Vec<Value> {
        let now = Instant::now();
        self.events
            .iter()
            .rev()
            .filter(|e| e.visible_at <= now)
            .map(|e| e.body.clone())
            .collect()
    }
}

/// The top-level properties (and navigations such as `assignments` or `settings`) that differ, with
/// Graph's string values: a string as it is, anything else as its JSON text, absent as null.
fn modified(before: Option<&Obj>, after: Option<&Obj>) -> Vec<Value> {
    // A delete lists nothing: the resource is gone, not changed.
    let Some(after) = after else {
        return Vec::new();
    };
    let empty = Map::new();
    let no_navs = BTreeMap::new();
    let (old_props, old_navs) = before.map_or((&empty, &no_navs), |b| (&b.props, &b.navs));
    let mut out = Vec::new();
    let mut push = |name: &str, old: Option<Value>, new: Option<Value>| {
        if old != new {
            out.push(json!({
                "@odata.type": "microsoft.graph.auditProperty",
                "displayName": name,
                "oldValue": old.map(graph_string),
                "newValue": new.map(graph_string),
            }));
        }
    };
    let volatile = |k: &str| k == "id" || k.starts_with('@') || k == "lastModifiedDateTime" || k == "version";
    let mut keys: Vec<&String> = old_props.keys().chain(after.props.keys()).collect();
    keys.sort();
    keys.dedup();
    for k in keys.into_iter().filter(|k| !volatile(k)) {
        push(k, old_props.get(k).cloned(), after.props.get(k).cloned());
    }
    let mut navs: Vec<&String> = old_navs.keys().chain(after.navs.keys()).collect();
    navs.sort();
    navs.dedup();
    for n in navs {
        let old = old_navs.get(n).map(|v| Value::Array(v.clone()));
        let new = after.navs.get(n).map(|v| Value::Array(v.clone()));
        // An empty navigation that appeared is no change.
        let empty_arr = |v: &Option<Value>| v.as_ref().is_none_or(|v| v.as_array().is_some_and(Vec::is_empty));
        if empty_arr(&old) && empty_arr(&new) {
            continue;
        }
        push(n, old, new);
    }
    out
}

fn graph_string(v: Value) -> Value {
    match v {
        Value::String(s) => Value::String(s),
        Value::Null => Value::Null,
        other => Value::String(other.to_string()),
    }
}

/// `#microsoft.graph.windows10GeneralConfiguration` → `Windows10GeneralConfiguration`.
fn pascal(s: &str) -> String {
    let last = s.trim_start_matches('#').rsplit('.').next().unwrap_or(s);
    let mut c = last.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}

/// Intune's `componentName` (and `category`) of a family's events.
fn component(family: &str) -> &'static str {
    match family {
        "deviceCompliancePolicies" | "notificationMessageTemplates" => "Compliance",
        "roleDefinitions" | "roleScopeTags" | "roleAssignments" => "Role",
        "deviceEnrollmentConfigurations" | "windowsAutopilotDeploymentProfiles" => "Enrollment",
        "intents" => "DeviceIntent",
        "assignmentFilters" => "AssignmentFilter",
        f if f.contains("App") || f.contains("app") => "Application",
        _ => "DeviceConfiguration",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            pascal("#microsoft.graph.windows10GeneralConfiguration"),
            "Windows10GeneralConfiguration"
        );
        assert_eq!(pascal("assign"), "Assign");
        assert_eq!(graph_string(json!(true)), json!("true"));
        assert_eq!(graph_string(json!("x")), json!("x"));
    }
}
