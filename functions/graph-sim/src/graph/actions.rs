//! The other bound actions and functions: scheduled actions, targetApps, ADMX values, priority, messages, secrets.

use serde_json::{Map, Value, json};

use super::assign::{assign, assign_autopilot_devices};
use super::read::{entity, render, shape_nav_items};
use super::write::{bump_version, check_scope_tags, is_default_enrollment, required_str, validate_actions};
use super::{Cx, body_obj, not_found, now};
use crate::catalog::{self, TEMPLATES};
use crate::families::{self, Family, FamilyDef};
use crate::odata::{GraphResp, error};
use crate::seed;
use crate::state::{Obj, Tenant};

pub(super) fn run_action(cx: &Cx<'_>, t: &mut Tenant, def: &'static FamilyDef, id: &str, action: &str) -> GraphResp {
    let unknown = || cx.bad(&format!("Resource not found for the segment '{action}'."));
    match (def.family, action) {
        (Family::AutopilotProfiles, "assign") => assign_autopilot_devices(cx, t, def, id),
        // Neither has an `assign` action: terms take one `POST {id}/assignments` per target,
        // policy sets their assignments through `update`.
        (Family::TermsAndConditions | Family::PolicySets, "assign") => unknown(),
        (Family::PolicySets, "update") => super::assign::update_policy_set(cx, t, def, id),
        (_, "assign") => assign(cx, t, def, id),
        (Family::GroupPolicyConfigurations, "updateDefinitionValues") => update_definition_values(cx, t, def, id),
        (Family::EnrollmentConfigurations, "setPriority") => set_priority(cx, t, def, id),
        (Family::CompliancePolicies, "scheduleActionsForRules") => {
            let body = match body_obj(cx) {
                Ok(b) => b.clone(),
                Err(e) => return e,
            };
            if t.find(def.family, id).is_none() {
                return not_found(cx, def, id);
            }
            let actions = match validate_actions(cx, t, body.get("deviceComplianceScheduledActionForRules")) {
                Ok(a) => a,
                Err(e) => return e,
            };
            if let Some(obj) = t.find_mut(def.family, id) {
                obj.navs.insert("scheduledActionsForRule".into(), actions);
            }
            GraphResp::empty(204)
        }
        (
            Family::IosAppProtections | Family::AndroidAppProtections | Family::TargetedAppConfigurations,
            "targetApps",
        ) => {
            let body = match body_obj(cx) {
                Ok(b) => b.clone(),
                Err(e) => return e,
            };
            let Some(apps) = body.get("apps").and_then(Value::as_array) else {
                return cx.bad("'apps' must be an array.");
            };
            let mut entries = Vec::new();
            for a in apps {
                let ident = &a["mobileAppIdentifier"];
                // Managed-app configurations mix platforms; app protections are one platform each.
                let ios = match def.family {
                    Family::TargetedAppConfigurations => ident["bundleId"].is_string(),
                    f => f == Family::IosAppProtections,
                };
                let key = if ios { "bundleId" } else { "packageId" };
                let Some(app) = ident[key].as_str() else {
                    return cx.bad(&format!("Each app needs mobileAppIdentifier.{key}."));
                };
                entries.push(seed::app_entry(ios, app));
            }
            let Some(obj) = t.find_mut(def.family, id) else {
                return not_found(cx, def, id);
            };
            obj.navs.insert("apps".into(), entries);
            if let Some(g) = body.get("appGroupType") {
                obj.props.insert("appGroupType".into(), g.clone());
            }
            GraphResp::empty(204)
        }
        (Family::Intents, "updateSettings") => {
            let body = match body_obj(cx) {
                Ok(b) => b.clone(),
                Err(e) => return e,
            };
            let Some(settings) = body.get("settings").and_then(Value::as_array) else {
                return cx.bad("'settings' must be an array.");
            };
            let mut parsed = Vec::new();
            for s in settings {
                let Some(def_id) = s["definitionId"].as_str() else {
                    return cx.bad("Each setting needs 'definitionId'.");
                };
                let value_json = match (&s["valueJson"], &s["value"]) {
                    (Value::String(j), _) => j.clone(),
                    (_, v) => v.to_string(),
                };
                parsed.push((def_id.to_string(), value_json));
            }
            if t.find(def.family, id).is_none() {
                return not_found(cx, def, id);
            }
            let new_ids: Vec<String> = parsed.iter().map(|_| t.rng.guid()).collect();
            let Some(obj) = t.find_mut(def.family, id) else {
                return not_found(cx, def, id);
            };
            let list = obj.navs.entry("settings".into()).or_default();
            for ((def_id, vj), nid) in parsed.into_iter().zip(new_ids) {
                match list.iter_mut().find(|x| x["definitionId"].as_str() == Some(&def_id)) {
                    Some(existing) => {
                        let sid = existing["id"].as_str().unwrap_or_default().to_string();
                        *existing = seed::intent_setting(sid, &def_id, &vj);
                    }
                    None => list.push(seed::intent_setting(nid, &def_id, &vj)),
                }
            }
            let mut props = std::mem::take(&mut obj.props);
            bump_version(&mut props, t, def);
            if let Some(obj) = t.find_mut(def.family, id) {
                obj.props = props;
            }
            GraphResp::empty(204)
        }
        (Family::IntentTemplates, "createInstance") => create_instance(cx, t, id),
        _ => unknown(),
    }
}

/// The key inside `…('{key}')` following `marker` in an `@odata.bind` URL.
fn bind_key<'a>(bind: &'a str, marker: &str) -> Option<&'a str> {
    let lower = bind.to_ascii_lowercase();
    let start = lower.find(&marker.to_ascii_lowercase())? + marker.len();
    let rest = &bind[start..];
    let rest = rest.strip_prefix("('")?;
    rest.find("')").map(|end| &rest[..end])
}

/// Builds a stored ADMX definition value from an `updateDefinitionValues` / `definitionValues` entry. `existing`
/// is the value being updated (its id, creation time and definition are kept).
fn parse_definition_value(
    cx: &Cx<'_>,
    t: &mut Tenant,
    entry: &Value,
    existing: Option<&Value>,
) -> Result<Value, GraphResp> {
    let Some(e) = entry.as_object() else {
        return Err(cx.bad("Each definition value must be an object."));
    };
    let def_id = match e.get("definition@odata.bind").and_then(Value::as_str) {
        Some(bind) => bind_key(bind, "groupPolicyDefinitions")
            .ok_or_else(|| cx.bad(&format!("Invalid 'definition@odata.bind' value '{bind}'.")))?
            .to_string(),
        None => existing
            .and_then(|x| x["definition"]["id"].as_str())
            .map(str::to_string)
            .ok_or_else(|| cx.bad("A definition value needs 'definition@odata.bind'."))?,
    };
    let Some(gdef) = catalog::GP_DEFINITIONS
        .iter()
        .find(|d| d.id.eq_ignore_ascii_case(&def_id))
    else {
        return Err(cx.bad(&format!("The group policy definition '{def_id}' was not found.")));
    };
    let enabled = match e.get("enabled") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(cx.bad("'enabled' must be a boolean.")),
    };
    let ts = now();
    let mut values = Vec::new();
    for pv in e
        .get("presentationValues")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        let bind = pv["presentation@odata.bind"].as_str().unwrap_or_default();
        let Some(pid) = bind_key(bind, "presentations") else {
            return Err(cx.bad("Each presentation value needs 'presentation@odata.bind'."));
        };
        if bind_key(bind, "groupPolicyDefinitions").is_some_and(|d| !d.eq_ignore_ascii_case(gdef.id)) {
            return Err(cx.bad(&format!(
                "Presentation '{pid}' does not belong to definition '{}'.",
                gdef.id
            )));
        }
        let Some(p) = gdef.presentations.iter().find(|p| p.id.eq_ignore_ascii_case(pid)) else {
            return Err(cx.bad(&format!(
                "Presentation '{pid}' was not found on definition '{}'.",
                gdef.id
            )));
        };
        let expected = catalog::gp_value_type(p.kind);
        if let Some(ty) = pv["@odata.type"].as_str()
            && !ty
                .trim_start_matches('#')
                .eq_ignore_ascii_case(expected.trim_start_matches('#'))
        {
            return Err(cx.bad(&format!("Presentation '{pid}' takes '{expected}', not '{ty}'.")));
        }
        let v = &pv["value"];
        let ok = match p.kind {
            catalog::GpKind::Text => v.is_string(),
            catalog::GpKind::CheckBox => v.is_boolean(),
            catalog::GpKind::Decimal => v.is_u64(),
            catalog::GpKind::Dropdown(items) => v.as_str().is_some_and(|s| items.contains(&s)),
        };
        if !ok {
            return Err(cx.bad(&format!("Invalid value {v} for presentation '{pid}'.")));
        }
        values.push(seed::gp_presentation_value(t.rng.guid(), p, v.clone(), &ts));
    }
    let id = existing
        .and_then(|x| x["id"].as_str())
        .map_or_else(|| t.rng.guid(), str::to_string);
    let mut value = seed::gp_definition_value(id, gdef, enabled, values, &ts);
    if let Some(created) = existing.and_then(|x| x.get("createdDateTime")) {
        value["createdDateTime"] = created.clone();
    }
    Ok(value)
}

fn definition_of(v: &Value) -> &str {
    v["definition"]["id"].as_str().unwrap_or_default()
}

/// `POST {id}/updateDefinitionValues {added, updated, deletedIds}` → 204, all or nothing.
fn update_definition_values(cx: &Cx<'_>, t: &mut Tenant, def: &'static FamilyDef, id: &str) -> GraphResp {
    let body = match body_obj(cx) {
        Ok(b) => b.clone(),
        Err(e) => return e,
    };
    if let Some(k) = body
        .keys()
        .find(|k| !["added", "updated", "deletedIds"].contains(&k.as_str()))
    {
        return cx.bad(&format!(
            "The parameter '{k}' in the request payload is not a valid parameter for the operation 'updateDefinitionValues'."
        ));
    }
    let Some(obj) = t.find(def.family, id) else {
        return not_found(cx, def, id);
    };
    let mut list = obj.navs.get("definitionValues").cloned().unwrap_or_default();
    let array = |k: &str| -> Result<Vec<Value>, GraphResp> {
        match body.get(k) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(a)) => Ok(a.clone()),
            Some(_) => Err(cx.bad(&format!("'{k}' must be an array."))),
        }
    };
    let (added, updated, deleted) = match (array("added"), array("updated"), array("deletedIds")) {
        (Ok(a), Ok(u), Ok(d)) => (a, u, d),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return e,
    };
    for d in &deleted {
        let Some(did) = d.as_str() else {
            return cx.bad("'deletedIds' must hold strings.");
        };
        let before = list.len();
        list.retain(|v| !v["id"].as_str().is_some_and(|x| x.eq_ignore_ascii_case(did)));
        if list.len() == before {
            return cx.bad(&format!("Definition value '{did}' was not found."));
        }
    }
    for u in &updated {
        let Some(uid) = u["id"].as_str() else {
            return cx.bad("Each updated definition value needs its 'id'.");
        };
        let Some(pos) = list
            .iter()
            .position(|v| v["id"].as_str().is_some_and(|x| x.eq_ignore_ascii_case(uid)))
        else {
            return cx.bad(&format!("Definition value '{uid}' was not found."));
        };
        let existing = list[pos].clone();
        match parse_definition_value(cx, t, u, Some(&existing)) {
            Ok(v) => list[pos] = v,
            Err(e) => return e,
        }
    }
    for a in &added {
        let v = match parse_definition_value(cx, t, a, None) {
            Ok(v) => v,
            Err(e) => return e,
        };
        if list.iter().any(|x| definition_of(x) == definition_of(&v)) {
            return cx.bad(&format!(
                "The definition '{}' is already configured in this policy.",
                definition_of(&v)
            ));
        }
        list.push(v);
    }
    let Some(obj) = t.find_mut(def.family, id) else {
        return not_found(cx, def, id);
    };
    obj.navs.insert("definitionValues".into(), list);
    obj.props.insert("lastModifiedDateTime".into(), json!(now()));
    GraphResp::empty(204)
}

/// IM's way: `POST {id}/definitionValues` with one value → 201.
pub(super) fn add_definition_value(cx: &Cx<'_>, t: &mut Tenant, def: &'static FamilyDef, id: &str) -> GraphResp {
    let Some(body) = cx.req.body.clone() else {
        return cx.bad("Empty Payload. JSON content expected.");
    };
    let Some(obj) = t.find(def.family, id) else {
        return not_found(cx, def, id);
    };
    let policy_id = obj.id.clone();
    let v = match parse_definition_value(cx, t, &body, None) {
        Ok(v) => v,
        Err(e) => return e,
    };
    let Some(obj) = t.find_mut(def.family, id) else {
        return not_found(cx, def, id);
    };
    let list = obj.navs.entry("definitionValues".into()).or_default();
    if list.iter().any(|x| definition_of(x) == definition_of(&v)) {
        return cx.bad(&format!(
            "The definition '{}' is already configured in this policy.",
            definition_of(&v)
        ));
    }
    list.push(v.clone());
    let mut shown = [v];
    shape_nav_items("definitionValues", &mut shown, &[]);
    let [mut v] = shown;
    v["@odata.context"] = cx.nav_entity_context(def, &policy_id, "definitionValues");
    GraphResp::json(201, v)
}

/// `POST deviceEnrollmentConfigurations/{id}/setPriority {"priority": n}` → 200: moves the configuration to
/// position n among the custom configurations of its type, renumbering them 1…k.
fn set_priority(cx: &Cx<'_>, t: &mut Tenant, def: &'static FamilyDef, id: &str) -> GraphResp {
    let body = match body_obj(cx) {
        Ok(b) => b,
        Err(e) => return e,
    };
    let Some(n) = body.get("priority").and_then(Value::as_u64).filter(|n| *n >= 1) else {
        return cx.bad("'priority' must be an integer of at least 1.");
    };
    let Some(obj) = t.find(def.family, id) else {
        return not_found(cx, def, id);
    };
    if is_default_enrollment(obj) {
        return cx.bad("The priority of a default enrollment configuration cannot be changed.");
    }
    let kind = catalog::enrollment_type(obj.props["@odata.type"].as_str().unwrap_or_default());
    let this = obj.id.clone();
    let ts = now();
    let list = t.objects_mut(def.family);
    let mut same: Vec<(u64, String)> = list
        .iter()
        .filter(|o| {
            !is_default_enrollment(o)
                && o.id != this
                && catalog::enrollment_type(o.props["@odata.type"].as_str().unwrap_or_default()) == kind
        })
        .map(|o| {
            (
                o.props.get("priority").and_then(Value::as_u64).unwrap_or(0),
                o.id.clone(),
            )
        })
        .collect();
    same.sort();
    let mut order: Vec<String> = same.into_iter().map(|(_, id)| id).collect();
    let pos = (n as usize - 1).min(order.len());
    order.insert(pos, this.clone());
    for o in list.iter_mut() {
        if let Some(p) = order.iter().position(|x| *x == o.id) {
            o.props.insert("priority".into(), json!(p + 1));
            if o.id == this {
                o.props.insert("lastModifiedDateTime".into(), json!(ts));
            }
        }
    }
    GraphResp::empty(200)
}

/// `POST notificationMessageTemplates/{id}/localizedNotificationMessages` → 201; ids `{templateId}_{locale}`.
pub(super) fn add_localized_message(cx: &Cx<'_>, t: &mut Tenant, def: &'static FamilyDef, id: &str) -> GraphResp {
    let body = match body_obj(cx) {
        Ok(b) => b.clone(),
        Err(e) => return e,
    };
    for k in ["locale", "subject", "messageTemplate"] {
        if let Err(e) = required_str(cx, &body, k) {
            return e;
        }
    }
    let is_default = match body.get("isDefault") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return cx.bad("'isDefault' must be a boolean."),
    };
    let locale = body["locale"].as_str().unwrap_or_default().to_ascii_lowercase();
    let Some(obj) = t.find_mut(def.family, id) else {
        return not_found(cx, def, id);
    };
    let template_id = obj.id.clone();
    let list = obj.navs.entry("localizedNotificationMessages".into()).or_default();
    if list.iter().any(|m| m["locale"].as_str() == Some(locale.as_str())) {
        return error(
            cx.ids,
            409,
            "Conflict",
            &format!("A message for locale '{locale}' already exists."),
        );
    }
    let is_default = is_default || list.is_empty();
    if is_default {
        for m in list.iter_mut() {
            m["isDefault"] = json!(false);
        }
    }
    let msg = seed::localized_message(
        &template_id,
        &locale,
        body["subject"].as_str().unwrap_or_default(),
        body["messageTemplate"].as_str().unwrap_or_default(),
        is_default,
        &now(),
    );
    list.push(msg.clone());
    let mut msg = msg;
    msg["@odata.context"] = cx.nav_entity_context(def, &template_id, "localizedNotificationMessages");
    GraphResp::json(201, msg)
}

/// `PATCH …/localizedNotificationMessages/{lid}` → 200 with the message; the locale cannot change.
pub(super) fn patch_localized_message(
    cx: &Cx<'_>,
    t: &mut Tenant,
    def: &'static FamilyDef,
    id: &str,
    lid: &str,
) -> GraphResp {
    let body = match body_obj(cx) {
        Ok(b) => b.clone(),
        Err(e) => return e,
    };
    let mut changes = Map::new();
    for (k, v) in &body {
        match k.as_str() {
            "subject" | "messageTemplate" if v.is_string() => {
                changes.insert(k.clone(), v.clone());
            }
            "isDefault" if v.is_boolean() => {
                changes.insert(k.clone(), v.clone());
            }
            "locale" | "id" | "lastModifiedDateTime" | "@odata.type" => {}
            k if k.contains("@odata.") => {}
            _ => return cx.bad(&format!("Invalid value for property '{k}'.")),
        }
    }
    let Some(obj) = t.find_mut(def.family, id) else {
        return not_found(cx, def, id);
    };
    let template_id = obj.id.clone();
    let list = obj.navs.entry("localizedNotificationMessages".into()).or_default();
    let Some(pos) = list
        .iter()
        .position(|m| m["id"].as_str().is_some_and(|x| x.eq_ignore_ascii_case(lid)))
    else {
        return not_found(cx, def, lid);
    };
    if let Some(l) = body.get("locale").and_then(Value::as_str)
        && !list[pos]["locale"].as_str().is_some_and(|x| x.eq_ignore_ascii_case(l))
    {
        return cx.bad("The locale of a localized message cannot be changed.");
    }
    if changes.get("isDefault") == Some(&json!(true)) {
        for m in list.iter_mut() {
            m["isDefault"] = json!(false);
        }
    }
    for (k, v) in changes {
        list[pos][k.as_str()] = v;
    }
    list[pos]["lastModifiedDateTime"] = json!(now());
    let mut msg = list[pos].clone();
    msg["@odata.context"] = cx.nav_entity_context(def, &template_id, "localizedNotificationMessages");
    GraphResp::json(200, msg)
}

/// `DELETE {id}/{nav}/{nid}` for localized messages and ADMX definition values → 204.
pub(super) fn delete_nav_item(
    cx: &Cx<'_>,
    t: &mut Tenant,
    def: &'static FamilyDef,
    id: &str,
    nav: &str,
    nid: &str,
) -> GraphResp {
    let Some(obj) = t.find_mut(def.family, id) else {
        return not_found(cx, def, id);
    };
    let list = obj.navs.entry(nav.to_string()).or_default();
    let before = list.len();
    list.retain(|a| !a["id"].as_str().is_some_and(|x| x.eq_ignore_ascii_case(nid)));
    if list.len() == before {
        return not_found(cx, def, nid);
    }
    GraphResp::empty(204)
}

/// `POST templates/{templateId}/createInstance`: a new intent from the template's defaults plus `settingsDelta`.
fn create_instance(cx: &Cx<'_>, t: &mut Tenant, template_id: &str) -> GraphResp {
    let intents = families::def(Family::Intents);
    let tdef = families::def(Family::IntentTemplates);
    let Some(tpl) = TEMPLATES.iter().find(|x| x.id.eq_ignore_ascii_case(template_id)) else {
        return not_found(cx, tdef, template_id);
    };
    let body = match body_obj(cx) {
        Ok(b) => b.clone(),
        Err(e) => return e,
    };
    let Some(name) = body
        .get("displayName")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    else {
        return cx.bad("The property 'displayName' is required.");
    };
    let tags = body.get("roleScopeTagIds").cloned().unwrap_or(json!(["0"]));
    let mut tag_props = Map::new();
    tag_props.insert("roleScopeTagIds".into(), tags.clone());
    if let Err(e) = check_scope_tags(cx, t, intents, &tag_props) {
        return e;
    }
    let delta: Vec<(String, String)> = body
        .get("settingsDelta")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| {
                    let d = s["definitionId"].as_str()?.to_string();
                    let vj = match (&s["valueJson"], &s["value"]) {
                        (Value::String(j), _) => j.clone(),
                        (_, v) => v.to_string(),
                    };
                    Some((d, vj))
                })
                .collect()
        })
        .unwrap_or_default();
    let mut settings = Vec::new();
    for (d, v) in tpl.settings {
        let vj = delta
            .iter()
            .find(|(dd, _)| dd == d)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| v.to_string());
        settings.push(seed::intent_setting(t.rng.guid(), d, &vj));
    }
    for (d, vj) in &delta {
        if !tpl.settings.iter().any(|(td, _)| td == d) {
            settings.push(seed::intent_setting(t.rng.guid(), d, vj));
        }
    }
    let id = t.rng.guid();
    let props = json!({"@odata.type": "#microsoft.graph.deviceManagementIntent", "id": id, "displayName": name,
                       "description": body.get("description").cloned().unwrap_or(Value::Null), "templateId": tpl.id,
                       "isMigratingToConfigurationPolicy": false, "lastModifiedDateTime": now(), "roleScopeTagIds": tags});
    let mut obj = Obj::new(id, props.as_object().cloned().unwrap_or_default());
    obj.navs.insert("settings".into(), settings);
    obj.navs.insert("assignments".into(), Vec::new());
    let m = render(cx, intents, &obj, &[], false);
    t.objects_mut(Family::Intents).push(obj);
    GraphResp::json(200, entity(cx, intents, m))
}

pub(super) fn run_function(
    cx: &Cx<'_>,
    t: &mut Tenant,
    def: &'static FamilyDef,
    id: &str,
    f: &str,
    params: &[(String, String)],
) -> GraphResp {
    if def.family != Family::DeviceConfigurations || f != "getOmaSettingPlainTextValue" {
        return cx.bad(&format!("Resource not found for the segment '{f}'."));
    }
    let Some(sref) = params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("secretReferenceValueId"))
        .map(|(_, v)| v)
    else {
        return cx.bad("The parameter 'secretReferenceValueId' is required.");
    };
    let Some(obj) = t.find(def.family, id) else {
        return not_found(cx, def, id);
    };
    match obj.secrets.get(sref) {
        Some(v) => GraphResp::json(
            200,
            json!({"@odata.context": format!("{}Edm.String", cx.meta()), "value": v}),
        ),
        None => not_found(cx, def, sref),
    }
}
