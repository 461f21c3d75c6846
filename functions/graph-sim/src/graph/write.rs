//! Writes: POST, PATCH, PUT and DELETE with Graph's write quirks (read-only fields, types, versions, immutables).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value, json};

use super::read::{entity, render};
use super::{Cx, not_found, now};
use crate::catalog;
use crate::families::{Family, FamilyDef, IdStyle};
use crate::odata::{GraphResp, error};
use crate::state::{Obj, Tenant};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Create,
    Patch,
    Put,
}

/// Server-managed: silently replaced.
const IGNORED: &[&str] = &[
    "id",
    "createdDateTime",
    "lastModifiedDateTime",
    "modifiedDateTime",
    "version",
];
/// Read-only: rejected with 400, so a client that skips the graph-brief §2.2 stripping finds out.
const READ_ONLY: &[&str] = &["supportsScopeTags", "isAssigned"];

fn family_read_only(f: Family) -> &'static [&'static str] {
    match f {
        Family::ConfigurationPolicies => &["settingCount"],
        Family::IosAppProtections | Family::AndroidAppProtections => &["deployedAppCount"],
        Family::AssignmentFilters => &["payloads"],
        Family::TargetedAppConfigurations => &["deployedAppCount"],
        Family::HealthScripts => &["isGlobalScript", "highestAvailableVersion"],
        Family::EnrollmentConfigurations => &["deviceEnrollmentConfigurationType"],
        Family::FeatureUpdateProfiles => &["deployableContentDisplayName", "endOfSupportDate"],
        Family::NotificationTemplates => &["defaultLocale"],
        Family::MobileApps => &[
            "uploadState",
            "publishingState",
            "dependentAppCount",
            "supersedingAppCount",
            "supersededAppCount",
            "size",
        ],
        Family::QualityUpdateProfiles => &["releaseDateDisplayName", "deployableContentDisplayName"],
        Family::DriverUpdateProfiles => &["deviceReporting", "newUpdates", "inventorySyncStatus"],
        Family::PolicySets => &["status", "errorCode"],
        Family::RoleDefinitions => &["isBuiltIn", "isBuiltInRoleDefinition"],
        _ => &[],
    }
}

fn nested_annotation(v: &Value) -> Option<String> {
    match v {
        Value::Object(m) => m.iter().find_map(|(k, v)| {
            if k.ends_with("@odata.context") || k.ends_with("@odata.nextLink") {
                Some(k.clone())
            } else {
                nested_annotation(v)
            }
        }),
        Value::Array(a) => a.iter().find_map(nested_annotation),
        _ => None,
    }
}

/// Validates a create/update body and returns the storable properties (navigation values left in place).
fn clean_body(cx: &Cx<'_>, def: &FamilyDef, mode: Mode) -> Result<Map<String, Value>, GraphResp> {
    let body = match &cx.req.body {
        Some(Value::Object(m)) => m,
        Some(_) => return Err(cx.bad("The request payload must be a JSON object.")),
        None => return Err(cx.bad("Empty Payload. JSON content expected.")),
    };
    let mut out = Map::new();
    for (k, v) in body {
        if k == "@odata.type" {
            out.insert(k.clone(), v.clone());
            continue;
        }
        if k == "@odata.context"
            || k.ends_with("@odata.context")
            || k.ends_with("@odata.nextLink")
            || k.ends_with("@odata.count")
        {
            return Err(cx.bad(&format!("The annotation '{k}' is not allowed in a request payload.")));
        }
        // A role assignment names its role by binding it on create (the only bind it takes).
        if def.family == Family::RoleAssignments && mode == Mode::Create && k == "roleDefinition@odata.bind" {
            out.insert(k.clone(), v.clone());
            continue;
        }
        if k.contains("@odata.") || IGNORED.contains(&k.as_str()) {
            continue;
        }
        if READ_ONLY.contains(&k.as_str()) || family_read_only(def.family).contains(&k.as_str()) {
            return Err(cx.bad(&format!("Property '{k}' is read-only and cannot be set.")));
        }
        let nav_allowed = matches!(
            (def.family, k.as_str(), mode),
            (Family::ConfigurationPolicies, "settings", Mode::Create | Mode::Put)
                | (Family::CompliancePolicies, "scheduledActionsForRule", Mode::Create)
        );
        if (def.navs.contains(&k.as_str()) || k == "assignments") && !nav_allowed {
            let msg = if mode == Mode::Patch {
                format!(
                    "Cannot apply PATCH to navigation property '{k}' on entity type '{}'.",
                    def.base_type
                )
            } else {
                format!("Navigation property '{k}' cannot be set in this request; use the dedicated action.")
            };
            return Err(cx.bad(&msg));
        }
        if let Some(a) = nested_annotation(v) {
            return Err(cx.bad(&format!("The annotation '{a}' is not allowed in a request payload.")));
        }
        out.insert(k.clone(), v.clone());
    }
    Ok(out)
}

/// The full `@odata.type` to store, checked against the family.
fn check_type(def: &FamilyDef, given: Option<&Value>) -> Result<String, String> {
    let base_short = def.base_type.trim_start_matches("microsoft.graph.");
    let Some(given) = given else {
        if def.abstract_base {
            return Err(format!(
                "An instance of the abstract type '{}' cannot be created; specify a derived type with @odata.type.",
                def.base_type
            ));
        }
        return Ok(format!("#{}", def.base_type));
    };
    let g = given.as_str().unwrap_or_default().trim_start_matches('#');
    let name = g
        .strip_prefix("microsoft.graph.")
        .ok_or_else(|| format!("Unknown type '{g}'."))?;
    let ok = match def.family {
        Family::DeviceConfigurations => name.ends_with("Configuration") && name != base_short,
        Family::CompliancePolicies => name.ends_with("CompliancePolicy") && name != base_short,
        Family::AutopilotProfiles => name.ends_with("WindowsAutopilotDeploymentProfile") && name != base_short,
        Family::EnrollmentConfigurations => {
            name.contains("Enrollment") && name.ends_with("Configuration") && name != base_short
        }
        Family::MobileAppConfigurations => name.ends_with("AppConfiguration") && name != base_short,
        Family::MobileApps => name.ends_with("App") && name != base_short,
        Family::RoleDefinitions => name == base_short || name == "roleDefinition",
        _ => name == base_short,
    };
    if ok {
        Ok(format!("#microsoft.graph.{name}"))
    } else {
        Err(format!("Type '{g}' is not valid for {}.", def.name))
    }
}

fn new_id(t: &mut Tenant, def: &FamilyDef) -> String {
    match def.id_style {
        IdStyle::Guid => t.rng.guid(),
        IdStyle::TPrefixed => format!("T_{}", t.rng.guid()),
        IdStyle::APrefixed => format!("A_{}", t.rng.guid()),
        IdStyle::Numeric => {
            let max = t
                .objects(def.family)
                .iter()
                .filter_map(|o| o.id.parse::<u64>().ok())
                .max()
                .unwrap_or(0);
            (max + 1).to_string()
        }
    }
}

fn scope_tag_key(def: &FamilyDef) -> Option<&'static str> {
    match def.family {
        Family::AssignmentFilters | Family::PolicySets => Some("roleScopeTags"),
        Family::Groups | Family::RoleScopeTags | Family::Organization => None,
        _ => Some("roleScopeTagIds"),
    }
}

pub(super) fn check_scope_tags(
    cx: &Cx<'_>,
    t: &Tenant,
    def: &FamilyDef,
    props: &Map<String, Value>,
) -> Result<(), GraphResp> {
    let Some(key) = scope_tag_key(def) else { return Ok(()) };
    let Some(tags) = props.get(key) else { return Ok(()) };
    let Some(tags) = tags.as_array() else {
        return Err(cx.bad(&format!("'{key}' must be an array of strings.")));
    };
    if !cx.strict {
        return Ok(());
    }
    for tag in tags {
        let id = tag.as_str().unwrap_or_default();
        if t.find(Family::RoleScopeTags, id).is_none() {
            return Err(cx.bad(&format!("Scope tag '{id}' does not exist in this tenant.")));
        }
    }
    Ok(())
}

pub(super) fn required_str(cx: &Cx<'_>, props: &Map<String, Value>, key: &str) -> Result<(), GraphResp> {
    match props.get(key).and_then(Value::as_str) {
        Some(s) if !s.trim().is_empty() => Ok(()),
        _ => Err(cx.bad(&format!("The property '{key}' is required."))),
    }
}

fn validate_settings(cx: &Cx<'_>, v: Option<&Value>) -> Result<Vec<Value>, GraphResp> {
    let Some(v) = v else { return Ok(Vec::new()) };
    let Some(arr) = v.as_array() else {
        return Err(cx.bad("'settings' must be an array."));
    };
    let mut out = Vec::with_capacity(arr.len());
    for (i, s) in arr.iter().enumerate() {
        let inst = &s["settingInstance"];
        if !inst["@odata.type"].is_string() || !inst["settingDefinitionId"].is_string() {
            return Err(cx.bad(&format!(
                "Setting {i} is invalid: settingInstance needs '@odata.type' and 'settingDefinitionId'."
            )));
        }
        let mut s = s.clone();
        if let Value::Object(m) = &mut s {
            m.remove("id");
            m.remove("settingDefinitions");
        }
        out.push(s);
    }
    Ok(out)
}

pub(super) fn validate_actions(cx: &Cx<'_>, t: &mut Tenant, v: Option<&Value>) -> Result<Vec<Value>, GraphResp> {
    let one_block = || cx.bad("Compliance policy must have one and only one block scheduled action");
    let Some(rules) = v.and_then(Value::as_array) else {
        return Err(one_block());
    };
    let mut blocks = 0;
    let mut out = Vec::new();
    for rule in rules {
        let Some(configs) = rule["scheduledActionConfigurations"].as_array() else {
            return Err(one_block());
        };
        let mut new_configs = Vec::new();
        for c in configs {
            if c["actionType"].as_str() == Some("block") {
                blocks += 1;
            }
            let mut c = c.clone();
            c["id"] = json!(t.rng.guid());
            if c.get("notificationMessageCCList").is_none() {
                c["notificationMessageCCList"] = json!([]);
            }
            new_configs.push(c);
        }
        out.push(
            json!({"id": t.rng.guid(), "ruleName": rule.get("ruleName").cloned().unwrap_or(Value::Null),
                        "scheduledActionConfigurations": new_configs}),
        );
    }
    if blocks != 1 {
        return Err(one_block());
    }
    Ok(out)
}

pub(super) fn bump_version(props: &mut Map<String, Value>, t: &mut Tenant, def: &FamilyDef) {
    props.insert("lastModifiedDateTime".into(), json!(now()));
    if !def.has_version {
        return;
    }
    let next = match props.get("version") {
        Some(Value::Number(n)) => json!(n.as_u64().unwrap_or(0) + 1),
        Some(Value::String(_)) => json!(format!("\"{}\"", t.rng.guid())),
        _ => json!(1),
    };
    props.insert("version".into(), next);
}

pub(super) fn create(cx: &Cx<'_>, t: &mut Tenant, def: &'static FamilyDef) -> GraphResp {
    let mut props = match clean_body(cx, def, Mode::Create) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let odata_type = match check_type(def, props.get("@odata.type")) {
        Ok(ty) => ty,
        Err(m) => return cx.bad(&m),
    };
    if def.family == Family::Groups {
        return create_group(cx, t, def, props);
    }
    if let Err(e) = required_str(cx, &props, def.name_prop) {
        return e;
    }
    if let Err(e) = check_scope_tags(cx, t, def, &props) {
        return e;
    }
    let mut navs = Vec::new();
    match def.family {
        Family::ConfigurationPolicies => {
            for k in ["platforms", "technologies"] {
                if let Err(e) = required_str(cx, &props, k) {
                    return e;
                }
            }
            match validate_settings(cx, props.remove("settings").as_ref()) {
                Ok(s) => navs.push(("settings", s)),
                Err(e) => return e,
            }
            props.entry("templateReference").or_insert_with(
                || json!({"templateId": "", "templateFamily": "none", "templateDisplayName": null, "templateDisplayVersion": null}),
            );
            props.entry("creationSource").or_insert(Value::Null);
        }
        Family::CompliancePolicies => match validate_actions(cx, t, props.remove("scheduledActionsForRule").as_ref()) {
            Ok(a) => navs.push(("scheduledActionsForRule", a)),
            Err(e) => return e,
        },
        Family::Scripts | Family::ShellScripts => {
            if let Err(e) = check_base64(cx, &props, &["scriptContent"]) {
                return e;
            }
        }
        Family::HealthScripts => {
            if let Err(e) = check_base64(cx, &props, &["detectionScriptContent", "remediationScriptContent"]) {
                return e;
            }
            props.insert("isGlobalScript".into(), json!(false));
            props.insert("highestAvailableVersion".into(), Value::Null);
            props.insert("version".into(), json!("1"));
            props
                .entry("deviceHealthScriptType")
                .or_insert(json!("deviceHealthScript"));
        }
        Family::GroupPolicyConfigurations => {
            navs.push(("definitionValues", Vec::new()));
            props
                .entry("policyConfigurationIngestionType")
                .or_insert(json!("builtIn"));
        }
        Family::AutopilotProfiles => {
            navs.push(("assignedDevices", Vec::new()));
            props.entry("managementServiceAppId").or_insert(Value::Null);
            props.entry("deviceType").or_insert(json!("windowsPc"));
        }
        Family::EnrollmentConfigurations => {
            // The service places a new configuration last; `setPriority` moves it (graph-brief §2).
            let next = t
                .objects(def.family)
                .iter()
                .filter_map(|o| o.props.get("priority").and_then(Value::as_u64))
                .max()
                .unwrap_or(0)
                + 1;
            props.insert("priority".into(), json!(next));
        }
        Family::MobileAppConfigurations => match props.get("targetedMobileApps") {
            None | Some(Value::Null) => {
                props.insert("targetedMobileApps".into(), json!([]));
            }
            Some(Value::Array(a)) if a.iter().all(Value::is_string) => {}
            Some(_) => return cx.bad("'targetedMobileApps' must be an array of app ids."),
        },
        Family::TargetedAppConfigurations => {
            navs.push(("apps", Vec::new()));
            props.entry("appGroupType").or_insert(json!("selectedPublicApps"));
            props.entry("customSettings").or_insert(json!([]));
        }
        Family::FeatureUpdateProfiles => {
            if let Err(e) = set_feature_update_version(cx, &mut props, true) {
                return e;
            }
        }
        Family::NotificationTemplates => {
            navs.push(("localizedNotificationMessages", Vec::new()));
            props.entry("brandingOptions").or_insert(json!("none"));
        }
        Family::AssignmentFilters => {
            for k in ["platform", "rule"] {
                if let Err(e) = required_str(cx, &props, k) {
                    return e;
                }
            }
            props
                .entry("assignmentFilterManagementType")
                .or_insert(json!("devices"));
            props.entry("payloads").or_insert(json!([]));
        }
        Family::RoleScopeTags => {
            props.insert("isBuiltIn".into(), json!(false));
        }
        Family::IosAppProtections | Family::AndroidAppProtections => {
            navs.push(("apps", Vec::new()));
            props.entry("appGroupType").or_insert(json!("selectedPublicApps"));
        }
        Family::MobileApps => {
            // Metadata only: a line-of-business app waits for its package (content versions).
            let lob = odata_type.contains("LobApp") || odata_type.ends_with("MSI");
            props.insert(
                "publishingState".into(),
                json!(if lob { "notPublished" } else { "published" }),
            );
            props.insert("uploadState".into(), json!(if lob { 0 } else { 1 }));
            for k in ["dependentAppCount", "supersedingAppCount", "supersededAppCount"] {
                props.insert(k.into(), json!(0));
            }
            if lob {
                props.insert("size".into(), json!(0));
                props.insert("committedContentVersion".into(), Value::Null);
            }
            navs.push(("categories", Vec::new()));
        }
        Family::QualityUpdateProfiles => {
            if let Err(e) = set_quality_update(cx, &mut props, true) {
                return e;
            }
        }
        Family::DriverUpdateProfiles => {
            if let Err(e) = check_driver_approval(cx, &props, None) {
                return e;
            }
            props.insert("deviceReporting".into(), json!(0));
            props.insert("newUpdates".into(), json!(0));
            props.insert(
                "inventorySyncStatus".into(),
                json!({"driverInventorySyncState": "pending", "lastSuccessfulSyncDateTime": "0001-01-01T00:00:00Z"}),
            );
            navs.push(("driverInventories", Vec::new()));
        }
        Family::PolicySets => {
            props.insert("status".into(), json!("notAssigned"));
            props.insert("errorCode".into(), json!("noError"));
            props.entry("guidedDeploymentTags").or_insert(json!([]));
            navs.push(("items", Vec::new()));
        }
        Family::RoleDefinitions => {
            match props.get("rolePermissions") {
                None | Some(Value::Null) => {
                    props.insert("rolePermissions".into(), json!([]));
                }
                Some(Value::Array(_)) => {}
                Some(_) => return cx.bad("'rolePermissions' must be an array."),
            }
            props.insert("isBuiltIn".into(), json!(false));
            props.insert("isBuiltInRoleDefinition".into(), json!(false));
            navs.push(("roleAssignments", Vec::new()));
        }
        Family::RoleAssignments => match role_definition_of(cx, t, &mut props) {
            Ok(role) => navs.push(("roleDefinition", vec![role])),
            Err(e) => return e,
        },
        Family::TermsAndConditions => {
            navs.push(("acceptanceStatuses", Vec::new()));
            navs.push(("groupAssignments", Vec::new()));
        }
        _ => {}
    }
    let id = new_id(t, def);
    let ts = now();
    props.insert("id".into(), json!(id));
    props.insert("@odata.type".into(), json!(odata_type));
    props.insert("createdDateTime".into(), json!(ts));
    props.insert("lastModifiedDateTime".into(), json!(ts));
    if let Some(key) = scope_tag_key(def) {
        props.entry(key).or_insert(json!(["0"]));
    }
    if def.has_version {
        let v = if matches!(
            def.family,
            Family::IosAppProtections | Family::AndroidAppProtections | Family::TargetedAppConfigurations
        ) {
            json!(format!("\"{}\"", t.rng.guid()))
        } else {
            json!(1)
        };
        props.insert("version".into(), v);
    }
    if def.family == Family::DeviceConfigurations {
        props.insert("supportsScopeTags".into(), json!(true));
    }
    let mut obj = Obj::new(id.clone(), props);
    for (k, v) in navs {
        if k == "settings" {
            obj.set_settings(v);
        } else {
            obj.navs.insert(k.into(), v);
        }
    }
    if def.assign.is_some() {
        obj.navs.insert("assignments".into(), Vec::new());
    }
    obj.protect_oma_settings();
    let m = render(cx, def, &obj, &[], false);
    t.objects_mut(def.family).push(obj);
    let location = format!("{}/{}('{id}')", cx.base(), def.path);
    GraphResp::json(def.create_status, entity(cx, def, m)).with_header("Location", location)
}

/// The role a new role assignment binds (`roleDefinition@odata.bind`), which must exist, and its
/// members, which must be groups of the tenant (strict references).
fn role_definition_of(cx: &Cx<'_>, t: &Tenant, props: &mut Map<String, Value>) -> Result<Value, GraphResp> {
    let bind = props.remove("roleDefinition@odata.bind");
    let Some(bind) = bind.as_ref().and_then(Value::as_str) else {
        return Err(cx.bad("A role assignment needs its role: 'roleDefinition@odata.bind' is required."));
    };
    let id = bind
        .rsplit_once("roleDefinitions")
        .map(|(_, rest)| rest.trim_matches(|c| matches!(c, '(' | ')' | '\'' | '/')))
        .unwrap_or_default();
    let Some(role) = t.find(Family::RoleDefinitions, id) else {
        return Err(cx.bad(&format!("Role definition '{id}' was not found in this tenant.")));
    };
    let role = json!({"@odata.type": "#microsoft.graph.deviceAndAppManagementRoleDefinition", "id": role.id,
                      "displayName": role.props.get("displayName"), "description": role.props.get("description"),
                      "isBuiltIn": role.props.get("isBuiltIn")});
    for k in ["members", "resourceScopes"] {
        let ids = match props.get(k) {
            None | Some(Value::Null) => {
                props.insert(k.into(), json!([]));
                continue;
            }
            Some(Value::Array(a)) if a.iter().all(Value::is_string) => a.clone(),
            Some(_) => return Err(cx.bad(&format!("'{k}' must be an array of group ids."))),
        };
        for g in ids.iter().filter_map(Value::as_str) {
            if cx.strict && t.find(Family::Groups, g).is_none() {
                return Err(cx.bad(&format!("Group '{g}' was not found in this tenant.")));
            }
        }
    }
    props.entry("scopeType").or_insert(json!("resourceScope"));
    Ok(role)
}

/// Checks `expeditedUpdateSettings` against the releases Intune offers and fills the computed names.
fn set_quality_update(cx: &Cx<'_>, props: &mut Map<String, Value>, required: bool) -> Result<(), GraphResp> {
    let Some(settings) = props.get("expeditedUpdateSettings") else {
        return if required {
            Err(cx.bad("The property 'expeditedUpdateSettings' is required."))
        } else {
            Ok(())
        };
    };
    let given = settings["qualityUpdateRelease"].as_str().unwrap_or_default();
    let Some((_, display)) = catalog::QUALITY_UPDATES.iter().find(|(r, _)| *r == given) else {
        return Err(cx.bad(&format!("Quality update release '{given}' is not valid.")));
    };
    match settings.get("daysUntilForcedReboot") {
        None | Some(Value::Null) => {}
        Some(d) if d.as_u64().is_some_and(|d| d <= 2) => {}
        Some(_) => return Err(cx.bad("'daysUntilForcedReboot' must be 0, 1 or 2.")),
    }
    props.insert("releaseDateDisplayName".into(), json!(display));
    props.insert(
        "deployableContentDisplayName".into(),
        json!(format!("{display} - Security Updates")),
    );
    Ok(())
}

/// `approvalType` is `manual` or `automatic`; a deferral applies to automatic approval only (0–30 days).
fn check_driver_approval(cx: &Cx<'_>, props: &Map<String, Value>, existing: Option<&Obj>) -> Result<(), GraphResp> {
    let approval = props
        .get("approvalType")
        .or_else(|| existing.and_then(|o| o.props.get("approvalType")))
        .and_then(Value::as_str);
    if !matches!(approval, Some("manual" | "automatic")) {
        return Err(cx.bad("'approvalType' must be 'manual' or 'automatic'."));
    }
    match props.get("deploymentDeferralInDays") {
        None | Some(Value::Null) => Ok(()),
        Some(_) if approval == Some("manual") => {
            Err(cx.bad("'deploymentDeferralInDays' applies to automatic approval only."))
        }
        Some(d) if d.as_u64().is_some_and(|d| d <= 30) => Ok(()),
        Some(_) => Err(cx.bad("'deploymentDeferralInDays' must be between 0 and 30.")),
    }
}

fn check_base64(cx: &Cx<'_>, props: &Map<String, Value>, keys: &[&str]) -> Result<(), GraphResp> {
    for k in keys {
        if let Some(c) = props.get(*k)
            && !c.is_null()
            && c.as_str().is_none_or(|s| B64.decode(s).is_err())
        {
            return Err(cx.bad(&format!("'{k}' must be base64.")));
        }
    }
    Ok(())
}

/// Checks `featureUpdateVersion` against the versions Intune offers and fills the computed fields.
fn set_feature_update_version(cx: &Cx<'_>, props: &mut Map<String, Value>, required: bool) -> Result<(), GraphResp> {
    let Some(v) = props.get("featureUpdateVersion") else {
        return if required {
            Err(cx.bad("The property 'featureUpdateVersion' is required."))
        } else {
            Ok(())
        };
    };
    let given = v.as_str().unwrap_or_default();
    let Some((version, display, eos)) = catalog::FEATURE_UPDATES
        .iter()
        .find(|(x, _, _)| x.eq_ignore_ascii_case(given))
    else {
        return Err(cx.bad(&format!("Feature update version '{given}' is not valid.")));
    };
    props.insert("featureUpdateVersion".into(), json!(version));
    props.insert("deployableContentDisplayName".into(), json!(display));
    props.insert("endOfSupportDate".into(), json!(eos));
    Ok(())
}

fn create_group(cx: &Cx<'_>, t: &mut Tenant, def: &'static FamilyDef, mut props: Map<String, Value>) -> GraphResp {
    for (k, is_bool) in [
        ("displayName", false),
        ("mailEnabled", true),
        ("mailNickname", false),
        ("securityEnabled", true),
    ] {
        let ok = if is_bool {
            props.get(k).is_some_and(Value::is_boolean)
        } else {
            props.get(k).and_then(Value::as_str).is_some_and(|s| !s.is_empty())
        };
        if !ok {
            return error(
                cx.ids,
                400,
                "Request_BadRequest",
                &format!("Invalid value specified for property '{k}' of resource 'Group'."),
            );
        }
    }
    let id = t.rng.guid();
    let ts = now();
    let ts = format!("{}Z", &ts[..19]);
    let sid = format!(
        "S-1-12-1-{}-{}-{}-{}",
        t.rng.next_u64() as u32,
        t.rng.next_u64() as u32,
        t.rng.next_u64() as u32,
        t.rng.next_u64() as u32
    );
    for (k, v) in [
        ("id", json!(id)),
        ("@odata.type", json!("#microsoft.graph.group")),
        ("createdDateTime", json!(ts)),
        ("securityIdentifier", json!(sid)),
        ("deletedDateTime", Value::Null),
        ("mail", Value::Null),
    ] {
        props.insert(k.into(), v);
    }
    for (k, v) in [
        ("groupTypes", json!([])),
        ("membershipRule", Value::Null),
        ("membershipRuleProcessingState", Value::Null),
        ("description", Value::Null),
        ("visibility", Value::Null),
        ("classification", Value::Null),
    ] {
        props.entry(k).or_insert(v);
    }
    let obj = Obj::new(id.clone(), props);
    let m = render(cx, def, &obj, &[], false);
    t.objects_mut(def.family).push(obj);
    let location = format!("{}/directoryObjects/{id}/Microsoft.DirectoryServices.Group", cx.base());
    GraphResp::json(201, entity(cx, def, m)).with_header("Location", location)
}

pub(super) fn patch(cx: &Cx<'_>, t: &mut Tenant, def: &'static FamilyDef, id: &str) -> GraphResp {
    let mut props = match clean_body(cx, def, Mode::Patch) {
        Ok(p) => p,
        Err(e) => return e,
    };
    if def.family == Family::EnrollmentConfigurations && props.contains_key("priority") {
        return cx.bad("Priority cannot be updated with PATCH; use the setPriority action.");
    }
    if def.family == Family::FeatureUpdateProfiles
        && let Err(e) = set_feature_update_version(cx, &mut props, false)
    {
        return e;
    }
    if def.family == Family::QualityUpdateProfiles
        && let Err(e) = set_quality_update(cx, &mut props, false)
    {
        return e;
    }
    if let Err(e) = check_scope_tags(cx, t, def, &props) {
        return e;
    }
    let Some(existing) = t.find(def.family, id) else {
        return not_found(cx, def, id);
    };
    if let Some(ty) = props.get("@odata.type")
        && ty.as_str().map(|s| s.trim_start_matches('#'))
            != existing.props["@odata.type"]
                .as_str()
                .map(|s| s.trim_start_matches('#'))
    {
        return cx.bad("The @odata.type of an existing object cannot be changed.");
    }
    if let Some(e) = immutable_change(cx, def, existing, &props) {
        return e;
    }
    if def.family == Family::RoleDefinitions && existing.props.get("isBuiltIn") == Some(&json!(true)) {
        return cx.bad("Built-in role definitions cannot be modified.");
    }
    if def.family == Family::DriverUpdateProfiles
        && let Err(e) = check_driver_approval(cx, &props, Some(existing))
    {
        return e;
    }
    let Some(obj) = t.find_mut(def.family, id) else {
        return not_found(cx, def, id);
    };
    for (k, v) in props {
        obj.props.insert(k, v);
    }
    obj.protect_oma_settings();
    let mut props = std::mem::take(&mut obj.props);
    let obj_id = obj.id.clone();
    bump_version(&mut props, t, def);
    let Some(obj) = t.find_mut(def.family, &obj_id) else {
        return not_found(cx, def, id);
    };
    obj.props = props;
    if def.patch_status == 200 {
        let m = render(cx, def, obj, &[], false);
        GraphResp::json(200, entity(cx, def, m))
    } else {
        GraphResp::empty(def.patch_status)
    }
}

/// Fields Graph refuses to change after creation.
fn immutable_change(cx: &Cx<'_>, def: &FamilyDef, existing: &Obj, props: &Map<String, Value>) -> Option<GraphResp> {
    let keys: &[&str] = match def.family {
        Family::ConfigurationPolicies => &["platforms", "technologies", "creationSource"],
        Family::AssignmentFilters => &["platform"],
        Family::AutopilotProfiles => &["managementServiceAppId"],
        Family::DriverUpdateProfiles => &["approvalType"],
        _ => &[],
    };
    for k in keys {
        if let Some(v) = props.get(*k)
            && existing.props.get(*k).is_some_and(|old| old != v)
        {
            let msg = if def.family == Family::ConfigurationPolicies {
                "Platform, PolicyType, and CreationSource cannot be changed once created".to_string()
            } else {
                format!("Property '{k}' cannot be changed once created.")
            };
            return Some(cx.bad(&msg));
        }
    }
    None
}

/// Settings catalog update: the full body, settings included (graph-brief §2.1).
pub(super) fn put(cx: &Cx<'_>, t: &mut Tenant, def: &'static FamilyDef, id: &str) -> GraphResp {
    let mut props = match clean_body(cx, def, Mode::Put) {
        Ok(p) => p,
        Err(e) => return e,
    };
    for k in [def.name_prop, "platforms", "technologies"] {
        if let Err(e) = required_str(cx, &props, k) {
            return e;
        }
    }
    if let Err(e) = check_scope_tags(cx, t, def, &props) {
        return e;
    }
    if let Err(m) = check_type(def, props.get("@odata.type")) {
        return cx.bad(&m);
    }
    let Some(existing) = t.find(def.family, id) else {
        return not_found(cx, def, id);
    };
    if let Some(e) = immutable_change(cx, def, existing, &props) {
        return e;
    }
    let settings = match validate_settings(cx, props.remove("settings").as_ref()) {
        Ok(s) => s,
        Err(e) => return e,
    };
    let keep: Map<String, Value> = ["id", "@odata.type", "createdDateTime", "creationSource"]
        .iter()
        .filter_map(|k| existing.props.get(*k).map(|v| (k.to_string(), v.clone())))
        .collect();
    props.extend(keep);
    props.entry("roleScopeTagIds").or_insert(json!(["0"]));
    props
        .entry("templateReference")
        .or_insert_with(|| existing.props.get("templateReference").cloned().unwrap_or(Value::Null));
    bump_version(&mut props, t, def);
    let Some(obj) = t.find_mut(def.family, id) else {
        return not_found(cx, def, id);
    };
    obj.props = props;
    obj.set_settings(settings);
    GraphResp::empty(def.put_status)
}

pub(super) fn delete(cx: &Cx<'_>, t: &mut Tenant, def: &'static FamilyDef, id: &str) -> GraphResp {
    if def.family == Family::RoleScopeTags && id == "0" {
        return cx.bad("The built-in scope tag cannot be deleted.");
    }
    match t.find(def.family, id) {
        None => return not_found(cx, def, id),
        Some(o) if def.family == Family::AutopilotProfiles && !o.assignments().is_empty() => {
            return cx.bad("The deployment profile is assigned. Remove its assignments before deleting it.");
        }
        Some(o) if def.family == Family::EnrollmentConfigurations && is_default_enrollment(o) => {
            return cx.bad("Default enrollment configurations cannot be deleted.");
        }
        Some(o) if def.family == Family::RoleDefinitions && o.props.get("isBuiltIn") == Some(&json!(true)) => {
            return cx.bad("Built-in role definitions cannot be deleted.");
        }
        Some(_) => {}
    }
    let list = t.objects_mut(def.family);
    list.retain(|o| !o.id.eq_ignore_ascii_case(id));
    GraphResp::empty(def.delete_status)
}

pub(super) fn is_default_enrollment(o: &Obj) -> bool {
    o.id.ends_with(catalog::DEFAULT_ENROLLMENT_SUFFIX) || o.props.get("priority") == Some(&json!(0))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::families;

    #[test]
    fn types() {
        let dc = families::def(Family::DeviceConfigurations);
        assert!(check_type(dc, None).is_err());
        assert!(check_type(dc, Some(&json!("#microsoft.graph.deviceConfiguration"))).is_err());
        assert_eq!(
            check_type(dc, Some(&json!("#microsoft.graph.windows10GeneralConfiguration"))).unwrap(),
            "#microsoft.graph.windows10GeneralConfiguration"
        );
        let sc = families::def(Family::ConfigurationPolicies);
        assert_eq!(
            check_type(sc, None).unwrap(),
            "#microsoft.graph.deviceManagementConfigurationPolicy"
        );
    }
}
