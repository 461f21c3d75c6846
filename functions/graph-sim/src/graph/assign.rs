//! Assignments: `assign`, `POST`/`DELETE {id}/assignments` and Autopilot's device assign, as Graph validates them.

use serde_json::{Map, Value, json};

use super::route::canonical;
use super::{Cx, body_obj, not_found};
use crate::families::{self, Family, FamilyDef};
use crate::odata::{GraphResp, error};
use crate::seed::{self, ALL_DEVICES_ID, ALL_USERS_ID, AssignKind};
use crate::state::Tenant;

const TARGETS: &[&str] = &[
    "groupAssignmentTarget",
    "exclusionGroupAssignmentTarget",
    "allDevicesAssignmentTarget",
    "allLicensedUsersAssignmentTarget",
];

/// Validates one requested assignment and returns its stored form.
fn build_assignment(cx: &Cx<'_>, t: &Tenant, def: &FamilyDef, policy_id: &str, a: &Value) -> Result<Value, GraphResp> {
    let kind = AssignKind::of(def.family).ok_or_else(|| cx.bad("This family has no assignments."))?;
    let target = a
        .get("target")
        .and_then(Value::as_object)
        .ok_or_else(|| cx.bad("Each assignment needs a 'target' object."))?;
    let ty = target
        .get("@odata.type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .trim_start_matches('#');
    let short = ty.strip_prefix("microsoft.graph.").unwrap_or(ty);
    let short =
        canonical(TARGETS, short).ok_or_else(|| cx.bad(&format!("Unsupported assignment target type '{ty}'.")))?;
    let mut clean = Map::new();
    clean.insert("@odata.type".into(), json!(format!("#microsoft.graph.{short}")));
    let target_id = match short {
        "groupAssignmentTarget" | "exclusionGroupAssignmentTarget" => {
            let gid = target
                .get("groupId")
                .and_then(Value::as_str)
                .ok_or_else(|| cx.bad("A group target needs 'groupId'."))?;
            if cx.strict && t.find(Family::Groups, gid).is_none() {
                return Err(cx.bad(&format!("Group '{gid}' was not found in this tenant.")));
            }
            clean.insert("groupId".into(), json!(gid));
            gid.to_string()
        }
        "allDevicesAssignmentTarget" => ALL_DEVICES_ID.to_string(),
        _ => ALL_USERS_ID.to_string(),
    };
    let ftype = target
        .get("deviceAndAppManagementAssignmentFilterType")
        .and_then(Value::as_str)
        .unwrap_or("none");
    let fid = target
        .get("deviceAndAppManagementAssignmentFilterId")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty() && *s != seed::NULL_GUID);
    if !["none", "include", "exclude"].contains(&ftype) {
        return Err(cx.bad(&format!("Invalid filter type '{ftype}'.")));
    }
    if ftype != "none" {
        let Some(f) = fid else {
            return Err(cx.bad("A filter type other than 'none' needs a filter id."));
        };
        if cx.strict && t.find(Family::AssignmentFilters, f).is_none() {
            return Err(cx.bad(&format!("Assignment filter '{f}' was not found in this tenant.")));
        }
    }
    clean.insert(
        "deviceAndAppManagementAssignmentFilterId".into(),
        json!(fid.filter(|_| ftype != "none")),
    );
    clean.insert("deviceAndAppManagementAssignmentFilterType".into(), json!(ftype));
    let mut stored = seed::assignment_value(kind, policy_id, &target_id, Value::Object(clean));
    if kind == AssignKind::MobileApp {
        // An app assignment says what it does to the app: Graph refuses one without an intent.
        let intent = a.get("intent").and_then(Value::as_str).unwrap_or_default();
        if !MOBILE_APP_INTENTS.contains(&intent) {
            return Err(cx.bad(&format!(
                "A mobile app assignment needs 'intent' (one of {}).",
                MOBILE_APP_INTENTS.join(", ")
            )));
        }
        stored["intent"] = json!(intent);
        stored["settings"] = a.get("settings").cloned().unwrap_or(Value::Null);
    }
    if kind == AssignKind::HealthScript {
        let run = match a.get("runRemediationScript") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(cx.bad("'runRemediationScript' must be a boolean.")),
        };
        let schedule = match a.get("runSchedule") {
            None | Some(Value::Null) => json!({"@odata.type": "#microsoft.graph.deviceHealthScriptDailySchedule",
                                              "interval": 1, "useUtc": false, "time": "09:00:00"}),
            Some(Value::Object(m))
                if m.get("@odata.type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.contains("deviceHealthScript") && t.ends_with("Schedule")) =>
            {
                Value::Object(m.clone())
            }
            Some(_) => return Err(cx.bad("'runSchedule' needs a deviceHealthScript…Schedule '@odata.type'.")),
        };
        stored["runRemediationScript"] = json!(run);
        stored["runSchedule"] = schedule;
    }
    Ok(stored)
}

const MOBILE_APP_INTENTS: &[&str] = &["available", "required", "uninstall", "availableWithoutEnrollment"];

/// The policy-set item types and the family each one's `payloadId` names.
const POLICY_SET_ITEMS: &[(&str, Family)] = &[
    ("mobileAppPolicySetItem", Family::MobileApps),
    ("deviceConfigurationPolicySetItem", Family::DeviceConfigurations),
    ("deviceCompliancePolicyPolicySetItem", Family::CompliancePolicies),
    ("managedAppProtectionPolicySetItem", Family::IosAppProtections),
    (
        "managedDeviceMobileAppConfigurationPolicySetItem",
        Family::MobileAppConfigurations,
    ),
    (
        "targetedManagedAppConfigurationPolicySetItem",
        Family::TargetedAppConfigurations,
    ),
    (
        "windowsAutopilotDeploymentProfilePolicySetItem",
        Family::AutopilotProfiles,
    ),
    (
        "deviceManagementConfigurationPolicyPolicySetItem",
        Family::ConfigurationPolicies,
    ),
];

/// `POST policySets/{id}/update {addedPolicySetItems, updatedPolicySetItems, deletedPolicySetItems,
/// assignments}` → 204: items added, updated and removed, and the assignments replaced when given.
/// Every added item's `payloadId` must name an object of its type in this tenant.
pub(super) fn update_policy_set(cx: &Cx<'_>, t: &mut Tenant, def: &'static FamilyDef, id: &str) -> GraphResp {
    let body = match body_obj(cx) {
        Ok(b) => b.clone(),
        Err(e) => return e,
    };
    const KEYS: &[&str] = &[
        "addedPolicySetItems",
        "updatedPolicySetItems",
        "deletedPolicySetItems",
        "assignments",
    ];
    if let Some(k) = body.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return cx.bad(&format!(
            "The parameter '{k}' in the request payload is not a valid parameter for the operation 'update'."
        ));
    }
    let Some(obj) = t.find(def.family, id) else {
        return not_found(cx, def, id);
    };
    let policy_id = obj.id.clone();
    let mut items = obj.navs.get("items").cloned().unwrap_or_default();
    let list = |k: &str| body.get(k).and_then(Value::as_array).cloned().unwrap_or_default();
    let deleted: Vec<String> = list("deletedPolicySetItems")
        .iter()
        .filter_map(|v| v.as_str().or(v["id"].as_str()).map(str::to_owned))
        .collect();
    items.retain(|i| !deleted.iter().any(|d| i["id"].as_str() == Some(d.as_str())));
    let ts = super::now();
    for added in list("addedPolicySetItems") {
        let ty = added["@odata.type"]
            .as_str()
            .unwrap_or_default()
            .trim_start_matches('#');
        let short = ty.strip_prefix("microsoft.graph.").unwrap_or(ty);
        let Some((short, family)) = POLICY_SET_ITEMS.iter().find(|(n, _)| n.eq_ignore_ascii_case(short)) else {
            return cx.bad(&format!("Unsupported policy set item type '{ty}'."));
        };
        let Some(payload) = added["payloadId"].as_str() else {
            return cx.bad("Each policy set item needs 'payloadId'.");
        };
        let found = t.find(*family, payload).or_else(|| {
            (*family == Family::IosAppProtections)
                .then(|| t.find(Family::AndroidAppProtections, payload))
                .flatten()
        });
        let Some(target) = found else {
            return cx.bad(&format!(
                "The policy set item's payload '{payload}' was not found in this tenant."
            ));
        };
        if items.iter().any(|i| i["payloadId"] == payload) {
            continue;
        }
        let name = target.props.get("displayName").or(target.props.get("name")).cloned();
        let item_type = target.props.get("@odata.type").cloned();
        let mut item = json!({"@odata.type": format!("#microsoft.graph.{short}"), "id": t.rng.guid(),
            "payloadId": payload, "displayName": name, "itemType": item_type,
            "status": "success", "errorCode": "noError", "createdDateTime": ts, "lastModifiedDateTime": ts,
            "guidedDeploymentTags": added.get("guidedDeploymentTags").cloned().unwrap_or(json!([]))});
        if *short == "mobileAppPolicySetItem" {
            item["intent"] = added.get("intent").cloned().unwrap_or(json!("required"));
            item["settings"] = added.get("settings").cloned().unwrap_or(Value::Null);
        }
        items.push(item);
    }
    let assignments = match body.get("assignments") {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) => {
            let mut stored: Vec<Value> = Vec::new();
            for x in a {
                match build_assignment(cx, t, def, &policy_id, x) {
                    Ok(v) if !stored.iter().any(|s| s["id"] == v["id"]) => stored.push(v),
                    Ok(_) => {}
                    Err(e) => return e,
                }
            }
            Some(stored)
        }
        Some(_) => return cx.bad("'assignments' must be an array."),
    };
    let Some(obj) = t.find_mut(def.family, id) else {
        return not_found(cx, def, id);
    };
    obj.navs.insert("items".into(), items);
    if let Some(a) = assignments {
        obj.navs.insert("assignments".into(), a);
    }
    GraphResp::empty(204)
}

pub(super) fn assign(cx: &Cx<'_>, t: &mut Tenant, def: &'static FamilyDef, id: &str) -> GraphResp {
    // ICD assigns shell scripts through `deviceManagementScripts/{id}/assign` (graph-brief §2.1).
    let def = if def.family == Family::Scripts
        && t.find(Family::Scripts, id).is_none()
        && t.find(Family::ShellScripts, id).is_some()
    {
        families::def(Family::ShellScripts)
    } else {
        def
    };
    let Some(spec) = &def.assign else {
        return cx.bad("Resource not found for the segment 'assign'.");
    };
    let body = match body_obj(cx) {
        Ok(b) => b,
        Err(e) => return e,
    };
    if let Some(k) = body
        .keys()
        .find(|k| k.as_str() != spec.key && !spec.extra_keys.contains(&k.as_str()))
    {
        return cx.bad(&format!(
            "The parameter '{k}' in the request payload is not a valid parameter for the operation 'assign'."
        ));
    }
    let mut requested = Vec::new();
    for k in std::iter::once(&spec.key).chain(spec.extra_keys) {
        match body.get(*k) {
            None | Some(Value::Null) => {}
            Some(Value::Array(a)) => requested.extend(a.iter().cloned()),
            Some(_) => return cx.bad(&format!("'{k}' must be an array.")),
        }
    }
    if !body.contains_key(spec.key) {
        return cx.bad(&format!("Value cannot be null. Parameter name: {}", spec.key));
    }
    let Some(obj) = t.find(def.family, id) else {
        return not_found(cx, def, id);
    };
    let policy_id = obj.id.clone();
    let mut stored: Vec<Value> = Vec::new();
    for a in &requested {
        match build_assignment(cx, t, def, &policy_id, a) {
            Ok(v) if !stored.iter().any(|s| s["id"] == v["id"]) => stored.push(v),
            Ok(_) => {}
            Err(e) => return e,
        }
    }
    let Some(obj) = t.find_mut(def.family, id) else {
        return not_found(cx, def, id);
    };
    obj.navs.insert("assignments".into(), stored.clone());
    if spec.returns_value {
        GraphResp::json(
            spec.status,
            json!({"@odata.context": format!("{}Collection({})", cx.meta(), spec.assignment_type), "value": stored}),
        )
    } else {
        GraphResp::empty(spec.status)
    }
}

pub(super) fn add_assignment(cx: &Cx<'_>, t: &mut Tenant, def: &'static FamilyDef, id: &str) -> GraphResp {
    let Some(body) = cx.req.body.as_ref() else {
        return cx.bad("Empty Payload. JSON content expected.");
    };
    let Some(obj) = t.find(def.family, id) else {
        return not_found(cx, def, id);
    };
    let policy_id = obj.id.clone();
    let a = match build_assignment(cx, t, def, &policy_id, body) {
        Ok(a) => a,
        Err(e) => return e,
    };
    let Some(obj) = t.find_mut(def.family, id) else {
        return not_found(cx, def, id);
    };
    let list = obj.navs.entry("assignments".into()).or_default();
    if list.iter().any(|x| x["id"] == a["id"]) {
        return error(cx.ids, 409, "Conflict", "An assignment for this target already exists.");
    }
    list.push(a.clone());
    let mut a = a;
    a["@odata.context"] = cx.nav_entity_context(def, &policy_id, "assignments");
    GraphResp::json(201, a)
}

pub(super) fn delete_assignment(
    cx: &Cx<'_>,
    t: &mut Tenant,
    def: &'static FamilyDef,
    id: &str,
    aid: &str,
) -> GraphResp {
    let Some(obj) = t.find_mut(def.family, id) else {
        return not_found(cx, def, id);
    };
    let list = obj.navs.entry("assignments".into()).or_default();
    let before = list.len();
    list.retain(|a| !a["id"].as_str().is_some_and(|x| x.eq_ignore_ascii_case(aid)));
    if list.len() == before {
        return not_found(cx, def, aid);
    }
    GraphResp::empty(204)
}

/// Autopilot `assign` takes device ids, not groups (graph-brief §2); groups use `POST {id}/assignments`.
pub(super) fn assign_autopilot_devices(cx: &Cx<'_>, t: &mut Tenant, def: &'static FamilyDef, id: &str) -> GraphResp {
    let body = match body_obj(cx) {
        Ok(b) => b,
        Err(e) => return e,
    };
    if let Some(k) = body.keys().find(|k| k.as_str() != "deviceIds") {
        return cx.bad(&format!(
            "The parameter '{k}' in the request payload is not a valid parameter for the operation 'assign'."
        ));
    }
    let Some(ids) = body
        .get("deviceIds")
        .and_then(Value::as_array)
        .filter(|a| a.iter().all(Value::is_string))
    else {
        return cx.bad("'deviceIds' must be an array of device ids.");
    };
    let devices: Vec<Value> = ids
        .iter()
        .map(|d| json!({"@odata.type": "#microsoft.graph.windowsAutopilotDeviceIdentity", "id": d}))
        .collect();
    let Some(obj) = t.find_mut(def.family, id) else {
        return not_found(cx, def, id);
    };
    obj.navs.insert("assignedDevices".into(), devices);
    GraphResp::empty(def.assign.as_ref().map_or(204, |a| a.status))
}
