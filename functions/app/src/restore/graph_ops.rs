//! Writes with each family's create / update / assign semantics (graph-brief §2, §2.1), and the
//! live reads restore compares against.

use atlas_graph::families::{Assign, Create, Family, STRIP_ALWAYS, Update, WriteMode};
use atlas_graph::{GraphError, TenantClient};
use serde_json::{Map, Value, json};

/// A live object as restore compares it: `GET {item}` (with the family's `$expand`) and, when
/// assignments matter, its `assignments`. `None` when it does not exist.
pub async fn read_live(
    client: &TenantClient,
    family: &Family,
    id: &str,
    with_assignments: bool,
) -> Result<Option<Value>, GraphError> {
    let mut object = match client.get(&family.item_path(id)).await {
        Ok(v) => v,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e),
    };
    if family.settings.is_some() {
        client.read_settings(family, std::slice::from_mut(&mut object)).await?;
    }
    if with_assignments && family.assign != Assign::None {
        // Mixed-type lists (app protection) keep assignments under the object's type collection.
        let url = family
            .object_assignments_batch_url(&object)
            .unwrap_or_else(|| family.assignments_batch_url(id));
        let list = client.list_all(&format!("/{}{url}", family.version.as_str())).await?;
        object["assignments"] = Value::Array(list);
    }
    Ok(Some(object))
}

/// The name Intune shows: `displayName`, or `name` for the settings catalog.
pub fn name_of(object: &Value) -> String {
    object
        .get("displayName")
        .or(object.get("name"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The writable body: what a write sends, and what is compared.
pub fn body(family: &Family, object: &Value, mode: WriteMode) -> Value {
    family.strip_for_write(object, mode)
}

/// What restore compares: the writable body, plus the settings some families keep apart from
/// it (ADMX definition values are written by an action, not in the body).
pub fn comparable(family: &Family, object: &Value) -> Value {
    let mut b = body(family, object, WriteMode::Update);
    if let (Some(s), Value::Object(m)) = (family.settings, &mut b)
        && let Some(v) = object.get(s.path)
    {
        let mut v = v.clone();
        normalize_settings(&mut v, None);
        m.insert(s.path.to_owned(), v);
    }
    // A policy set's items are written by its `update` action: compared as what they bundle.
    if let (Create::PostThenPolicySetItems, Value::Object(m)) = (family.create, &mut b)
        && object.get("items").is_some()
    {
        m.insert("items".into(), Value::Array(policy_set_items(object)));
    }
    b
}

/// A policy set's items as `update` takes them (`addedPolicySetItems`), in a stable order:
/// what each bundles (`payloadId`) and how; ids, status and names are the service's.
fn policy_set_items(object: &Value) -> Vec<Value> {
    let mut items: Vec<Value> = object["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| {
            pick(
                i,
                &["@odata.type", "payloadId", "guidedDeploymentTags", "intent", "settings"],
            )
        })
        .collect();
    items.sort_by_key(|i| i["payloadId"].as_str().unwrap_or_default().to_owned());
    items
}

/// A role assignment's create body: the role it grants, bound by id (graph-brief §2.2 strips the
/// expanded `roleDefinition`, a navigation Graph refuses in a body).
fn with_role_definition_bind(mut body: Value, payload: &Value) -> Result<Value, GraphError> {
    let role = payload["roleDefinition"]["id"]
        .as_str()
        .ok_or_else(|| GraphError::InvalidInput("the role assignment names no role definition".into()))?;
    body["roleDefinition@odata.bind"] = json!(format!(
        "https://graph.microsoft.com/beta/deviceManagement/roleDefinitions('{role}')"
    ));
    Ok(body)
}

/// Settings as content: the service gives every value and presentation a fresh id and timestamps
/// on each write, so those are left out; a definition or presentation keeps its id, which names
/// what is set.
fn normalize_settings(v: &mut Value, parent: Option<&str>) {
    match v {
        Value::Object(m) => {
            let keep_id = matches!(parent, Some("definition" | "presentation"));
            m.retain(|k, _| {
                !(k.contains("@odata.") && k != "@odata.type"
                    || (k == "id" && !keep_id)
                    || k == "createdDateTime"
                    || k == "lastModifiedDateTime")
            });
            for (k, child) in m.iter_mut() {
                normalize_settings(child, Some(k.as_str()));
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| normalize_settings(i, parent)),
        _ => {}
    }
}

/// An assignment as the `assign` actions take it: target and family fields, without ids.
pub fn clean_assignment(a: &Value) -> Option<Value> {
    if a.get("source").and_then(Value::as_str) == Some("policySets") {
        return None; // inherited from a policy set: not ours to write
    }
    let mut a = a.clone();
    if let Value::Object(m) = &mut a {
        for k in ["id", "sourceId", "source"] {
            m.remove(k);
        }
        m.retain(|k, _| !(k.contains("@odata.") && k != "@odata.type"));
    }
    Some(a)
}

/// A stable key for an assignment target: kind, group, filter.
pub fn target_key(a: &Value) -> String {
    let t = &a["target"];
    let kind = t["@odata.type"]
        .as_str()
        .unwrap_or("")
        .trim_start_matches("#microsoft.graph.");
    format!(
        "{kind}|{}|{}|{}",
        t["groupId"].as_str().unwrap_or(""),
        t["deviceAndAppManagementAssignmentFilterId"].as_str().unwrap_or(""),
        t["deviceAndAppManagementAssignmentFilterType"].as_str().unwrap_or("")
    )
}

/// "include group SG-Pilot", "all devices (filter include …)".
pub fn describe_target(a: &Value, group_name: impl Fn(&str) -> Option<String>) -> String {
    let t = &a["target"];
    let kind = t["@odata.type"].as_str().unwrap_or("");
    let group = || {
        let id = t["groupId"].as_str().unwrap_or("");
        group_name(id).unwrap_or_else(|| id.to_owned())
    };
    let mut d = if kind.ends_with("exclusionGroupAssignmentTarget") {
        format!("exclude group {}", group())
    } else if kind.ends_with("groupAssignmentTarget") {
        format!("include group {}", group())
    } else if kind.ends_with("allDevicesAssignmentTarget") {
        "all devices".to_owned()
    } else if kind.ends_with("allLicensedUsersAssignmentTarget") {
        "all users".to_owned()
    } else {
        kind.trim_start_matches("#microsoft.graph.").to_owned()
    };
    if let Some(f) = t["deviceAndAppManagementAssignmentFilterId"]
        .as_str()
        .filter(|f| !f.is_empty())
    {
        let ty = t["deviceAndAppManagementAssignmentFilterType"]
            .as_str()
            .unwrap_or("include");
        d.push_str(&format!(" (filter {ty} {f})"));
    }
    d
}

fn id_of(created: &Value) -> Result<String, GraphError> {
    created
        .get("id")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| GraphError::InvalidInput("the create answered without an id".into()))
}

fn pick(body: &Value, keys: &[&str]) -> Value {
    let mut m = Map::new();
    for k in keys {
        if let Some(v) = body.get(*k) {
            m.insert((*k).to_owned(), v.clone());
        }
    }
    Value::Object(m)
}

/// Compliance creates need exactly one block action (graph-brief §2.1).
fn with_block_action(mut body: Value) -> Value {
    let has_block = body["scheduledActionsForRule"].as_array().is_some_and(|rules| {
        rules.iter().any(|r| {
            r["scheduledActionConfigurations"]
                .as_array()
                .is_some_and(|c| c.iter().any(|a| a["actionType"] == "block"))
        })
    });
    if !has_block {
        body["scheduledActionsForRule"] = json!([{"ruleName": "PasswordRequired", "scheduledActionConfigurations": [
            {"actionType": "block", "gracePeriodHours": 0, "notificationTemplateId": ""}]}]);
    }
    body
}

/// The per-type collection app protection writes go to (`/beta/deviceAppManagement/iosManagedAppProtections`).
fn type_collection(payload: &Value) -> Result<String, GraphError> {
    let family = Family::by_code("managedAppPolicies").expect("app protection is in the catalog");
    family
        .type_collection(payload)
        .map(|c| format!("/{}{c}", family.version.as_str()))
        .ok_or_else(|| GraphError::InvalidInput("the app protection policy has no @odata.type".into()))
}

/// ADMX values as `updateDefinitionValues` takes them.
fn definition_entries(payload: &Value) -> Vec<Value> {
    let base = "https://graph.microsoft.com/beta/deviceManagement/groupPolicyDefinitions";
    payload["definitionValues"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|dv| {
            let def = dv["definition"]["id"].as_str()?;
            let presentations: Vec<Value> = dv["presentationValues"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| {
                    let pid = p["presentation"]["id"].as_str()?;
                    let mut v = pick(p, &["@odata.type", "value", "values"]);
                    v["presentation@odata.bind"] = json!(format!("{base}('{def}')/presentations('{pid}')"));
                    Some(v)
                })
                .collect();
            Some(json!({
                "enabled": dv["enabled"].as_bool().unwrap_or(true),
                "definition@odata.bind": format!("{base}('{def}')"),
                "presentationValues": presentations,
            }))
        })
        .collect()
}

fn clean_settings(payload: &Value, key: &str) -> Vec<Value> {
    let mut out: Vec<Value> = payload[key].as_array().cloned().unwrap_or_default();
    for s in &mut out {
        if let Value::Object(m) = s {
            m.retain(|k, _| !(k.contains("@odata.") && k != "@odata.type"));
            for k in STRIP_ALWAYS {
                if *k != "id" {
                    m.remove(*k);
                }
            }
        }
    }
    out
}

/// Creates the object (the first write only) and returns its new id. The follow-up writes some
/// families need are [`complete_create`], run once the id is recorded.
pub async fn create(client: &TenantClient, family: &Family, payload: &Value) -> Result<String, GraphError> {
    let body = body(family, payload, WriteMode::Create);
    let base = family.list_path();
    let created = match family.create {
        Create::Post
        | Create::PostThenTargetApps
        | Create::PostThenLocalizedMessages
        | Create::PostThenPolicySetItems => client.post(&base, &body).await?,
        Create::PostWithRoleDefinitionBind => client.post(&base, &with_role_definition_bind(body, payload)?).await?,
        Create::PostWithBlockAction => client.post(&base, &with_block_action(body)).await?,
        Create::PostThenDefinitionValues => {
            let meta = pick(&body, &["displayName", "description", "roleScopeTagIds"]);
            client.post(&base, &meta).await?
        }
        Create::TemplateCreateInstance => {
            let template = payload["templateId"]
                .as_str()
                .ok_or_else(|| GraphError::InvalidInput("the intent has no templateId".into()))?;
            let mut req = pick(&body, &["displayName", "description", "roleScopeTagIds"]);
            req["settingsDelta"] = Value::Array(clean_settings(payload, "settings"));
            client
                .post(
                    &format!("/beta/deviceManagement/templates/{template}/createInstance"),
                    &req,
                )
                .await?
        }
        Create::PostToTypeCollection => client.post(&type_collection(payload)?, &body).await?,
    };
    id_of(&created)
}

/// The writes after the create: ADMX values, targeted apps, localized messages.
pub async fn complete_create(
    client: &TenantClient,
    family: &Family,
    id: &str,
    payload: &Value,
) -> Result<(), GraphError> {
    let item = format!("{}/{id}", family.list_path());
    match family.create {
        Create::PostThenDefinitionValues => {
            let added = definition_entries(payload);
            if !added.is_empty() {
                let req = json!({"added": added, "updated": [], "deletedIds": []});
                client.post(&format!("{item}/updateDefinitionValues"), &req).await?;
            }
        }
        Create::PostThenTargetApps => target_apps(client, &item, payload).await?,
        Create::PostToTypeCollection => {
            target_apps(client, &format!("{}/{id}", type_collection(payload)?), payload).await?
        }
        Create::PostThenLocalizedMessages => {
            for m in payload["localizedNotificationMessages"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let msg = pick(m, &["locale", "subject", "messageTemplate", "isDefault"]);
                client
                    .post(&format!("{item}/localizedNotificationMessages"), &msg)
                    .await?;
            }
        }
        Create::PostThenPolicySetItems => {
            let added = policy_set_items(payload);
            if !added.is_empty() {
                let req =
                    json!({"addedPolicySetItems": added, "updatedPolicySetItems": [], "deletedPolicySetItems": []});
                client.post(&format!("{item}/update"), &req).await?;
            }
        }
        Create::Post
        | Create::PostWithBlockAction
        | Create::TemplateCreateInstance
        | Create::PostWithRoleDefinitionBind => {}
    }
    Ok(())
}

async fn target_apps(client: &TenantClient, item: &str, payload: &Value) -> Result<(), GraphError> {
    let Some(apps) = payload["apps"].as_array().filter(|a| !a.is_empty()) else {
        return Ok(());
    };
    let apps: Vec<Value> = apps
        .iter()
        .map(|a| pick(a, &["mobileAppIdentifier", "version"]))
        .collect();
    let mut req = json!({"apps": apps});
    if let Some(g) = payload.get("appGroupType") {
        req["appGroupType"] = g.clone();
    }
    client.post(&format!("{item}/targetApps"), &req).await.map(|_| ())
}

/// Writes the backup's state over an existing object, per the family's update semantics.
pub async fn update(client: &TenantClient, family: &Family, id: &str, payload: &Value) -> Result<(), GraphError> {
    let body = body(family, payload, WriteMode::Update);
    let item = format!("{}/{id}", family.list_path());
    match family.update {
        Update::Patch => client.patch(&item, &body).await.map(|_| ()),
        Update::Put => client.put(&item, &body).await.map(|_| ()),
        Update::ScheduleActionsThenPatch => {
            let rules = clean_settings(payload, "scheduledActionsForRule");
            if !rules.is_empty() {
                let req = json!({"deviceComplianceScheduledActionForRules": rules});
                client.post(&format!("{item}/scheduleActionsForRules"), &req).await?;
            }
            client.patch(&item, &body).await.map(|_| ())
        }
        Update::PatchThenDefinitionValues => {
            let meta = pick(&body, &["displayName", "description", "roleScopeTagIds"]);
            client.patch(&item, &meta).await?;
            let added = definition_entries(payload);
            if !added.is_empty() {
                let live = client.list_all(&format!("{item}/definitionValues")).await?;
                let deleted: Vec<Value> = live.iter().filter_map(|v| v.get("id").cloned()).collect();
                let req = json!({"added": added, "updated": [], "deletedIds": deleted});
                client.post(&format!("{item}/updateDefinitionValues"), &req).await?;
            }
            Ok(())
        }
        Update::UpdateSettingsAction => {
            // `updateSettings` carries only the settings; name, description and scope tags are
            // the intent's own properties, written by PATCH (documented on deviceManagementIntent).
            let meta = pick(&body, &["displayName", "description", "roleScopeTagIds"]);
            client.patch(&item, &meta).await?;
            let req = json!({"settings": clean_settings(payload, "settings")});
            client.post(&format!("{item}/updateSettings"), &req).await.map(|_| ())
        }
        Update::PatchThenSetPriority => {
            client.patch(&item, &body).await?;
            // A default configuration (priority 0) keeps its place: Graph refuses to move it.
            if let Some(p) = payload
                .get("priority")
                .filter(|p| p.is_number() && p.as_u64() != Some(0))
            {
                client
                    .post(&format!("{item}/setPriority"), &json!({"priority": p}))
                    .await?;
            }
            Ok(())
        }
        Update::PatchOnTypeCollection => client
            .patch(&format!("{}/{id}", type_collection(payload)?), &body)
            .await
            .map(|_| ()),
        Update::PatchThenPolicySetItems => {
            client.patch(&item, &body).await?;
            // Replace the items only when what they bundle differs: `update` re-evaluates the set.
            let live = client.list_all(&format!("{item}/items")).await?;
            let want = policy_set_items(payload);
            if policy_set_items(&json!({"items": live})) != want {
                let deleted: Vec<Value> = live.iter().filter_map(|i| i.get("id").cloned()).collect();
                let req =
                    json!({"addedPolicySetItems": want, "updatedPolicySetItems": [], "deletedPolicySetItems": deleted});
                client.post(&format!("{item}/update"), &req).await?;
            }
            Ok(())
        }
        Update::PatchThenLocalizedMessages => {
            client.patch(&item, &body).await?;
            for m in payload["localizedNotificationMessages"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let Some(locale) = m["locale"].as_str() else { continue };
                let msg = pick(m, &["subject", "messageTemplate", "isDefault"]);
                client
                    .patch(&format!("{item}/localizedNotificationMessages/{id}_{locale}"), &msg)
                    .await?;
            }
            Ok(())
        }
    }
}

/// Replaces the object's assignments with `assignments` (already mapped to the target's groups).
pub async fn assign(
    client: &TenantClient,
    family: &Family,
    id: &str,
    payload: &Value,
    assignments: &[Value],
) -> Result<(), GraphError> {
    let item = format!("{}/{id}", family.list_path());
    match family.assign {
        Assign::Action { action, body_key } => {
            let req = json!({ body_key: assignments });
            client.post(&format!("{item}/{action}"), &req).await.map(|_| ())
        }
        Assign::TypeCollectionAction => {
            let req = json!({"assignments": assignments});
            client
                .post(&format!("{}/{id}/assign", type_collection(payload)?), &req)
                .await
                .map(|_| ())
        }
        Assign::PerTarget => {
            // Autopilot: one POST per group target and one DELETE per target the backup does not
            // have, so the result is the backup's set like every other family's replace-all.
            // Missing targets are added before extra ones go, so a device is never left without
            // a profile in between.
            let live = client.list_all(&format!("{item}/assignments")).await?;
            let have: Vec<String> = live.iter().map(target_key).collect();
            let want: Vec<String> = assignments.iter().map(target_key).collect();
            for a in assignments {
                if !have.contains(&target_key(a)) {
                    let req = json!({"target": a["target"]});
                    client.post(&format!("{item}/assignments"), &req).await?;
                }
            }
            for l in &live {
                let Some(aid) = l["id"].as_str() else { continue };
                if !want.contains(&target_key(l)) {
                    client.delete(&format!("{item}/assignments/{aid}")).await?;
                }
            }
            Ok(())
        }
        Assign::None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_protection_type_collections() {
        let p = json!({"@odata.type": "#microsoft.graph.iosManagedAppProtection"});
        assert_eq!(
            type_collection(&p).unwrap(),
            "/beta/deviceAppManagement/iosManagedAppProtections"
        );
        let w = json!({"@odata.type": "#microsoft.graph.mdmWindowsInformationProtectionPolicy"});
        assert_eq!(
            type_collection(&w).unwrap(),
            "/beta/deviceAppManagement/mdmWindowsInformationProtectionPolicies"
        );
    }

    #[test]
    fn compliance_creates_get_exactly_one_block_action() {
        let b = with_block_action(json!({"displayName": "x"}));
        assert_eq!(
            b["scheduledActionsForRule"][0]["scheduledActionConfigurations"][0]["actionType"],
            "block"
        );
        let kept = json!({"scheduledActionsForRule": [{"ruleName": "r", "scheduledActionConfigurations": [{"actionType": "block", "gracePeriodHours": 12}]}]});
        assert_eq!(with_block_action(kept.clone()), kept);
    }

    #[test]
    fn assignments_lose_ids_and_policy_set_entries() {
        let a = json!({"id": "x_y", "source": "direct", "sourceId": "s", "target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": "g"}});
        assert_eq!(
            clean_assignment(&a).unwrap(),
            json!({"target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": "g"}})
        );
        assert!(clean_assignment(&json!({"source": "policySets", "target": {}})).is_none());
        assert_eq!(describe_target(&a, |_| Some("Pilot".into())), "include group Pilot");
    }

    #[test]
    fn role_assignments_bind_their_role_and_policy_sets_compare_what_they_bundle() {
        let b =
            with_role_definition_bind(json!({"displayName": "a"}), &json!({"roleDefinition": {"id": "r1"}})).unwrap();
        assert_eq!(
            b["roleDefinition@odata.bind"],
            "https://graph.microsoft.com/beta/deviceManagement/roleDefinitions('r1')"
        );
        assert!(with_role_definition_bind(json!({}), &json!({})).is_err());
        let ps = Family::by_code("policySets").unwrap();
        let a = json!({"displayName": "s", "status": "notAssigned", "items": [
            {"id": "i2", "@odata.type": "#microsoft.graph.deviceConfigurationPolicySetItem", "payloadId": "p2", "status": "success"},
            {"id": "i1", "@odata.type": "#microsoft.graph.mobileAppPolicySetItem", "payloadId": "p1", "intent": "required"}]});
        let mut b = a.clone();
        b["items"][0]["id"] = json!("other");
        b["items"][0]["status"] = json!("error");
        assert_eq!(comparable(ps, &a), comparable(ps, &b));
        assert_eq!(comparable(ps, &a)["items"][0]["payloadId"], "p1");
        b["items"][0]["payloadId"] = json!("p3");
        assert_ne!(comparable(ps, &a), comparable(ps, &b));
    }
}
