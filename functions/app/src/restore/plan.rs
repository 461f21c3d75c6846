//! The preview: each chosen item matched to live and classified, groups mapped, the whole
//! fingerprinted over the plan and the live state it read.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use atlas_api_types as api;
use atlas_domain::{EnvironmentId, RunId};
use atlas_graph::TenantClient;
use atlas_graph::families::Family;
use serde_json::{Value, json};

use super::graph_ops::{self, name_of};
use crate::error::{ServiceError, ServiceResult};
use crate::records;
use crate::records::restore::{
    self as rec, Plan, PlannedItem, RestoreDraftRecord, RestoreMappingRecord, RestorePreviewRecord,
};
use crate::scope::EnvScope;
use crate::state::AppState;

/// A client for the scope's tenant, through its provider connection.
pub async fn target_client(state: &AppState, scope: &EnvScope) -> ServiceResult<TenantClient> {
    let conn = crate::provider::consented(state, scope)
        .await?
        .ok_or_else(|| ServiceError::Conflict("the environment's provider connection is not operable".into()))?;
    let app = crate::provider::app_identity(state, scope, &conn).await?;
    Ok(state.graph.tenant(&conn.tenant_id, app))
}

/// A read the plan needs failed. A tenant Graph asked to wait is not a conflict: queued work
/// re-queues itself with the wait, and a preview answers 503 with it.
fn graph_conflict(what: &str, e: atlas_graph::GraphError) -> ServiceError {
    match super::wait_if_throttled(&e) {
        Err(wait) => wait,
        Ok(()) => ServiceError::Conflict(format!("{what} could not be read: {e}")),
    }
}

/// One item's live match.
#[derive(Debug, Clone)]
pub struct Live {
    pub target_id: Option<String>,
    pub matched_by: &'static str,
    pub object: Option<Value>,
    pub warnings: Vec<String>,
    pub conflict: Option<String>,
}

impl Live {
    /// What the fingerprint and the stale checks compare: `-` when nothing matched.
    pub fn hash(&self) -> String {
        match &self.object {
            Some(o) => live_hash(o),
            None => "-".into(),
        }
    }
}

pub fn live_hash(o: &Value) -> String {
    let mut assignments: Vec<String> = o["assignments"]
        .as_array()
        .into_iter()
        .flatten()
        .map(graph_ops::target_key)
        .collect();
    assignments.sort();
    let mut body = o.clone();
    if let Value::Object(m) = &mut body {
        // Enrollment `priority` is renumbered by the service whenever any configuration moves
        // (this run's own `setPriority` calls included): not a change made to this object.
        for k in ["assignments", "lastModifiedDateTime", "@odata.context", "priority"] {
            m.remove(k);
        }
    }
    crate::backup::content_hash(&json!({"body": body, "assignments": assignments}))
}

/// Reads live for every item: one list per family, then each matched object with its assignments.
pub struct LiveReader<'a> {
    pub client: &'a TenantClient,
    pub with_assignments: bool,
    lists: HashMap<&'static str, Vec<Value>>,
    mappings: HashMap<String, String>,
    /// The source is another environment: tenant-local ids (scope tags' `"1"`) mean nothing here.
    cross_tenant: bool,
}

impl<'a> LiveReader<'a> {
    pub async fn new(
        state: &AppState,
        scope: &EnvScope,
        client: &'a TenantClient,
        source_env: &str,
        with_assignments: bool,
    ) -> ServiceResult<LiveReader<'a>> {
        // A source that names no environment has restored nothing anywhere.
        let mappings = match EnvironmentId::parse(source_env) {
            Ok(source_env) => {
                let records = scope.records(&state.table);
                records::query_all::<RestoreMappingRecord>(&state.table, records.query(rec::mappings_of(&source_env)))
                    .await?
                    .into_iter()
                    .filter_map(|m| Some((m.mapped(&source_env)?.to_owned(), m.target_id)))
                    .collect()
            }
            Err(_) => HashMap::new(),
        };
        Ok(LiveReader {
            client,
            with_assignments,
            lists: HashMap::new(),
            mappings,
            cross_tenant: source_env != scope.environment_id().as_str(),
        })
    }

    async fn list(&mut self, family: &'static Family) -> ServiceResult<&Vec<Value>> {
        if !self.lists.contains_key(family.code) {
            let list = self
                .client
                .list_all(&family.list_query())
                .await
                .map_err(|e| graph_conflict(family.label, e))?;
            self.lists.insert(family.code, list);
        }
        Ok(&self.lists[family.code])
    }

    /// Matches by original id, then by a recorded restore mapping, then by family + exact name.
    pub async fn find(&mut self, family: &'static Family, source_id: &str, name: &str) -> ServiceResult<Live> {
        let mapped = self.mappings.get(&rec::mapped_object(family.code, source_id)).cloned();
        // Scope tag ids are numbers each tenant issues: tag "1" of the source is not tag "1" here.
        let by_id = !(self.cross_tenant && family.code == "roleScopeTags");
        let list = self.list(family).await?;
        let has = |id: &str| list.iter().any(|o| o["id"] == id);
        let mut live = Live {
            target_id: None,
            matched_by: "none",
            object: None,
            warnings: Vec::new(),
            conflict: None,
        };
        if by_id && has(source_id) {
            live.target_id = Some(source_id.to_owned());
            live.matched_by = "id";
        } else if let Some(m) = mapped.filter(|m| has(m)) {
            live.target_id = Some(m);
            live.matched_by = "restore_mapping";
        } else if !name.is_empty() {
            let same: Vec<&Value> = list.iter().filter(|o| name_of(o) == name).collect();
            match same.as_slice() {
                [] => {}
                [one] => {
                    live.target_id = one["id"].as_str().map(str::to_owned);
                    live.matched_by = "name";
                    live.warnings.push(format!(
                        "Matched by name only: a live {} is named \"{name}\"; check it is the same policy.",
                        family.label
                    ));
                }
                many => {
                    live.matched_by = "name";
                    live.conflict = Some(format!(
                        "{} live objects are named \"{name}\": which one to write is ambiguous.",
                        many.len()
                    ));
                }
            }
        }
        if let Some(id) = live.target_id.clone() {
            live.object = graph_ops::read_live(self.client, family, &id, self.with_assignments)
                .await
                .map_err(|e| graph_conflict(family.label, e))?;
            if live.object.is_none() {
                // Deleted between the list and the read: nothing to update.
                live.target_id = None;
                live.matched_by = "none";
            }
        }
        Ok(live)
    }
}

/// Maps a group to the target: the operator's choice, the same id, then the same display name.
async fn map_group(
    target: &TenantClient,
    source: Option<&TenantClient>,
    id: &str,
    chosen: Option<&Option<String>>,
) -> ServiceResult<api::GroupMapping> {
    let get = |c: &TenantClient, gid: String| {
        let c = c.clone();
        async move {
            match c.get(&format!("/v1.0/groups/{gid}")).await {
                Ok(v) => Ok(Some(v)),
                Err(e) if e.is_not_found() => Ok(None),
                Err(e) => Err(graph_conflict("Groups", e)),
            }
        }
    };
    let mut m = api::GroupMapping {
        source_group_id: id.to_owned(),
        source_name: None,
        target_group_id: None,
        target_name: None,
        resolution: "unmapped".into(),
    };
    if let Some(src) = source {
        m.source_name = get(src, id.to_owned())
            .await?
            .and_then(|g| g["displayName"].as_str().map(str::to_owned));
    }
    match chosen {
        Some(None) => m.resolution = "dropped".into(),
        Some(Some(t)) => {
            let g = get(target, t.clone()).await?.ok_or_else(|| {
                ServiceError::field(&format!("group_mapping.{id}"), "names no group of the target tenant")
            })?;
            m.target_group_id = Some(t.clone());
            m.target_name = g["displayName"].as_str().map(str::to_owned);
            m.resolution = "chosen".into();
        }
        None => {
            if let Some(g) = get(target, id.to_owned()).await? {
                m.target_group_id = Some(id.to_owned());
                m.target_name = g["displayName"].as_str().map(str::to_owned);
                m.source_name = m.source_name.or(m.target_name.clone());
                m.resolution = "id".into();
            } else if let Some(name) = m.source_name.clone() {
                let q = format!("/v1.0/groups?$filter=displayName eq '{}'", name.replace('\'', "''"));
                let hits = target.list_all(&q).await.map_err(|e| graph_conflict("Groups", e))?;
                if let [one] = hits.as_slice() {
                    m.target_group_id = one["id"].as_str().map(str::to_owned);
                    m.target_name = Some(name);
                    m.resolution = "name".into();
                }
            }
        }
    }
    Ok(m)
}

fn filters_of(payload: &Value) -> Vec<String> {
    payload["assignments"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["target"]["deviceAndAppManagementAssignmentFilterId"].as_str())
        .filter(|f| !f.is_empty() && *f != "00000000-0000-0000-0000-000000000000")
        .map(str::to_owned)
        .collect()
}

/// Maps tenant-local references (`what`, listed at `path`) to the target: by id where ids are
/// global (filter GUIDs) or within the tenant, else by the source object's name, uniquely.
/// `None`: no match, a blocker — never silently dropped or swapped, which would widen an
/// assignment or change who can see an object.
async fn map_by_name(
    target: &TenantClient,
    source: Option<&TenantClient>,
    (what, path): (&str, &str),
    ids: &[String],
    by_id: bool,
    chosen: &BTreeMap<String, String>,
) -> ServiceResult<BTreeMap<String, (Option<String>, String)>> {
    let mut out = BTreeMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let live = target.list_all(path).await.map_err(|e| graph_conflict(what, e))?;
    for id in ids {
        // The mapping table's choice: it must exist in the target, else it blocks.
        if let Some(to) = chosen.get(id) {
            let hit = live.iter().find(|f| f["id"] == to.as_str());
            let name = hit.and_then(|f| f["displayName"].as_str()).unwrap_or(to).to_owned();
            out.insert(id.clone(), (hit.map(|_| to.clone()), name));
            continue;
        }
        if by_id && live.iter().any(|f| f["id"] == id.as_str()) {
            out.insert(id.clone(), (Some(id.clone()), id.clone()));
            continue;
        }
        let name = match source {
            Some(src) => match src.get(&format!("{path}/{id}")).await {
                Ok(f) => f["displayName"].as_str().map(str::to_owned),
                Err(e) if e.is_not_found() => None,
                Err(e) => return Err(graph_conflict(what, e)),
            },
            None => None,
        };
        let hits: Vec<&Value> = name
            .as_deref()
            .map(|n| live.iter().filter(|f| f["displayName"] == n).collect())
            .unwrap_or_default();
        let mapped = match hits.as_slice() {
            [one] => one["id"].as_str().map(str::to_owned),
            _ => None,
        };
        out.insert(id.clone(), (mapped, name.unwrap_or_else(|| id.clone())));
    }
    Ok(out)
}

/// Assignment filter ids are GUIDs: the same id is the same filter, else the source's name.
async fn map_filters(
    target: &TenantClient,
    source: Option<&TenantClient>,
    ids: &[String],
    chosen: &BTreeMap<String, String>,
) -> ServiceResult<BTreeMap<String, (Option<String>, String)>> {
    let filters = ("Assignment filters", "/beta/deviceManagement/assignmentFilters");
    map_by_name(target, source, filters, ids, true, chosen).await
}

fn tags_of(payload: &Value) -> Vec<String> {
    payload["roleScopeTagIds"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t.as_str().map(str::to_owned))
        .collect()
}

/// Scope tags are tenant-local: tag "1" of one tenant may be another tag in the next, so across
/// tenants a tag is matched by name only; within the tenant by id. The built-in Default ("0")
/// exists everywhere.
async fn map_scope_tags(
    target: &TenantClient,
    source: Option<&TenantClient>,
    same_tenant: bool,
    ids: &[String],
    chosen: &BTreeMap<String, String>,
) -> ServiceResult<BTreeMap<String, (Option<String>, String)>> {
    let custom: Vec<String> = ids.iter().filter(|t| t.as_str() != "0").cloned().collect();
    let tags = ("Scope tags", "/beta/deviceManagement/roleScopeTags");
    map_by_name(target, source, tags, &custom, same_tenant, chosen).await
}

/// `payload` with its scope tag ids replaced by their targets (unmapped ones left as they are).
pub fn with_scope_tags(payload: &Value, tags: &BTreeMap<String, String>) -> Value {
    let mut out = payload.clone();
    if let Some(ids) = out.get_mut("roleScopeTagIds").and_then(Value::as_array_mut) {
        for t in ids.iter_mut() {
            if let Some(to) = t.as_str().and_then(|s| tags.get(s)) {
                *t = json!(to);
            }
        }
    }
    out
}

fn groups_of(payload: &Value) -> Vec<String> {
    payload["assignments"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["target"]["groupId"].as_str().map(str::to_owned))
        .collect()
}

/// The assignments to write, mapped to the target's groups; dropped ones described apart.
fn desired_assignments(
    payload: &Value,
    groups: &BTreeMap<String, api::GroupMapping>,
    filters: &BTreeMap<String, (Option<String>, String)>,
    describe: &impl Fn(&Value) -> String,
) -> (Vec<Value>, Vec<String>) {
    let mut keep = Vec::new();
    let mut dropped = Vec::new();
    for a in payload["assignments"].as_array().into_iter().flatten() {
        let Some(mut a) = graph_ops::clean_assignment(a) else {
            continue;
        };
        let filter = a["target"]["deviceAndAppManagementAssignmentFilterId"]
            .as_str()
            .map(str::to_owned);
        if let Some((Some(to), _)) = filter.and_then(|f| filters.get(&f)) {
            a["target"]["deviceAndAppManagementAssignmentFilterId"] = json!(to);
        }
        if let Some(gid) = a["target"]["groupId"].as_str().map(str::to_owned) {
            match groups.get(&gid) {
                Some(g) if g.resolution == "dropped" => {
                    dropped.push(describe(&a));
                    continue;
                }
                Some(g) => {
                    if let Some(t) = &g.target_group_id {
                        a["target"]["groupId"] = json!(t);
                    }
                }
                None => {}
            }
        }
        keep.push(a);
    }
    (keep, dropped)
}

fn field_changes(family: &Family, live: &Value, payload: &Value) -> Vec<api::FieldChange> {
    // Compared on the real values, then masked: a changed secret is shown as a masked change.
    let want = graph_ops::comparable(family, payload);
    let have = graph_ops::comparable(family, live);
    let mut changes = Vec::new();
    for (k, v) in want.as_object().into_iter().flatten() {
        let before = have.get(k).cloned().unwrap_or(Value::Null);
        changes.extend(atlas_domain::diff::diff(&json!({ k: before }), &json!({ k: v })));
    }
    crate::backup::field_changes(atlas_domain::diff::mask_changes(&have, &want, changes))
}

/// Why an object missing from the target cannot be created from the backup, if it cannot.
fn create_conflict(family: &Family, payload: &Value) -> Option<String> {
    if family.code == "roleDefinitions" && payload["isBuiltIn"] == true {
        return Some("A built-in Intune role cannot be created: every tenant has its own, matched by name.".into());
    }
    // Intune's default enrollment configurations (priority 0, ids `…_Default…`) exist in every
    // tenant; a POST would make a custom one in their place.
    let default = payload["priority"] == 0 || payload["id"].as_str().is_some_and(|i| i.contains("_Default"));
    (family.code == "deviceEnrollmentConfigurations" && default).then(|| {
        "A default enrollment configuration cannot be created: every tenant has its own, matched by name.".into()
    })
}

#[cfg(test)]
mod create_conflict_tests {
    use super::*;

    #[test]
    fn built_in_roles_and_default_enrollment_configurations_are_never_created() {
        let roles = Family::by_code("roleDefinitions").unwrap();
        assert!(create_conflict(roles, &json!({"isBuiltIn": true})).is_some());
        assert!(create_conflict(roles, &json!({"isBuiltIn": false})).is_none());
        let enrollment = Family::by_code("deviceEnrollmentConfigurations").unwrap();
        assert!(create_conflict(enrollment, &json!({"id": "x_DefaultLimit", "priority": 0})).is_some());
        assert!(create_conflict(enrollment, &json!({"id": "y", "priority": 2})).is_none());
        let app = json!({"@odata.type": "#microsoft.graph.win32LobApp"});
        assert!(is_line_of_business_app(&app));
        assert!(!is_line_of_business_app(
            &json!({"@odata.type": "#microsoft.graph.iosStoreApp"})
        ));
    }
}

/// A line-of-business app keeps its package in content versions a backup does not hold.
fn is_line_of_business_app(payload: &Value) -> bool {
    payload["@odata.type"]
        .as_str()
        .is_some_and(|t| t.contains("LobApp") || t.ends_with("MSI"))
}

/// Why a matched object cannot take the backup's state, if it cannot.
fn conflict_of(family: &Family, live: &Value, payload: &Value) -> Option<String> {
    let ty = |v: &Value| v["@odata.type"].as_str().map(str::to_owned);
    if let (Some(a), Some(b)) = (ty(live), ty(payload))
        && a != b
    {
        return Some(format!(
            "The live object is a {a}, the backup a {b}: Graph cannot change an object's type."
        ));
    }
    // Intune's built-in roles take no writes; one that differs from the backup stays as it is.
    if family.code == "roleDefinitions" && (payload["isBuiltIn"] == true || live["isBuiltIn"] == true) {
        let changes = field_changes(family, live, payload);
        if !changes.is_empty() {
            return Some("A built-in Intune role cannot be changed: Graph refuses writes to it.".into());
        }
    }
    if family.code == "configurationPolicies" {
        for k in ["platforms", "technologies"] {
            if live.get(k).is_some() && payload.get(k).is_some() && live[k] != payload[k] {
                return Some(format!(
                    "{k} differs ({} live, {} in the backup): Graph refuses to change it once created.",
                    live[k], payload[k]
                ));
            }
        }
    }
    None
}

pub struct Planned {
    pub record: RestorePreviewRecord,
}

/// Builds a preview of `draft`. Reads live; writes nothing to Graph.
pub async fn preview(
    state: &AppState,
    scope: &EnvScope,
    draft: &RestoreDraftRecord,
    mapping: &BTreeMap<String, Option<String>>,
) -> ServiceResult<Planned> {
    preview_with(state, scope, draft, mapping, &References::default()).await
}

/// References a mapping table chose (source id → target id), beyond groups.
#[derive(Debug, Clone, Default)]
pub struct References {
    pub filters: BTreeMap<String, String>,
    pub scope_tags: BTreeMap<String, String>,
    /// Replaced wherever they occur as a value of the payload.
    pub ids: BTreeMap<String, String>,
}

/// [`preview`] with the mapping table's choices for filters, scope tags and other references.
pub async fn preview_with(
    state: &AppState,
    scope: &EnvScope,
    draft: &RestoreDraftRecord,
    mapping: &BTreeMap<String, Option<String>>,
    refs: &References,
) -> ServiceResult<Planned> {
    let restore_id = super::restore_id(&draft.restore_id)?;
    let with_assignments = draft.include_assignments;
    let source_env = draft.source_environment_id.clone();
    let source = super::source_scope(scope, draft);
    let client = target_client(state, scope).await?;
    let source_client = if source_env == scope.environment_id().as_str() {
        Some(client.clone())
    } else {
        match EnvironmentId::parse(&source_env) {
            Ok(env) => target_client(state, &scope.sibling(env)).await.ok(),
            Err(_) => None,
        }
    };
    let items = super::chosen_items(state, &source, draft).await?;

    let guid = |v: &str| v.len() == 36 && v.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    for (k, v) in mapping {
        if !guid(k) {
            return Err(ServiceError::field(
                &format!("group_mapping.{k}"),
                "keys are source group ids (GUIDs)",
            ));
        }
        if v.as_deref().is_some_and(|v| !guid(v)) {
            return Err(ServiceError::field(
                &format!("group_mapping.{k}"),
                "is a target group id (GUID) or null to drop",
            ));
        }
    }
    let mut payloads = Vec::new();
    let mut group_ids: Vec<String> = Vec::new();
    let mut filter_ids: Vec<String> = Vec::new();
    let mut tag_ids: Vec<String> = Vec::new();
    for (family, id, name, hash) in &items {
        let p = crate::promotion::compare::replace_ids(&super::payload(state, &source, hash).await?, &refs.ids);
        tag_ids.extend(tags_of(&p));
        if with_assignments {
            group_ids.extend(groups_of(&p));
            filter_ids.extend(filters_of(&p));
        }
        payloads.push((family.clone(), id.clone(), name.clone(), hash.clone(), p));
    }
    group_ids.sort();
    group_ids.dedup();
    filter_ids.sort();
    filter_ids.dedup();
    let filters = map_filters(&client, source_client.as_ref(), &filter_ids, &refs.filters).await?;
    tag_ids.sort();
    tag_ids.dedup();
    let same_tenant = source_env == scope.environment_id().as_str();
    let tags = map_scope_tags(&client, source_client.as_ref(), same_tenant, &tag_ids, &refs.scope_tags).await?;
    let tag_targets: BTreeMap<String, String> = tags
        .iter()
        .filter_map(|(from, (to, _))| to.clone().map(|to| (from.clone(), to)))
        .collect();
    // Unmatched references this restore recreates: the items using them wait for them at execution.
    let recreated_here = |family: &str, refs: &BTreeMap<String, (Option<String>, String)>| -> BTreeSet<String> {
        refs.iter()
            .filter(|(rid, (to, _))| to.is_none() && payloads.iter().any(|(code, id, ..)| code == family && id == *rid))
            .map(|(rid, _)| rid.clone())
            .collect()
    };
    let tags_in_run = recreated_here("roleScopeTags", &tags);
    let in_run = recreated_here("assignmentFilters", &filters);
    for k in mapping.keys() {
        if !group_ids.contains(k) {
            return Err(ServiceError::field(
                &format!("group_mapping.{k}"),
                "is not a group the chosen items are assigned to",
            ));
        }
    }
    let mut groups = BTreeMap::new();
    for g in &group_ids {
        let m = map_group(&client, source_client.as_ref(), g, mapping.get(g)).await?;
        groups.insert(g.clone(), m);
    }
    let group_name = |id: &str| {
        groups
            .values()
            .find(|g| g.target_group_id.as_deref() == Some(id) || g.source_group_id == id)
            .and_then(|g| g.target_name.clone().or(g.source_name.clone()))
    };
    let describe = |a: &Value| graph_ops::describe_target(a, group_name);

    let mut reader = LiveReader::new(state, scope, &client, &source_env, with_assignments).await?;
    let mut planned = Vec::new();
    let mut summary = api::PreviewSummary::default();
    for (code, source_id, name, hash, payload) in &payloads {
        let family = Family::by_code(code).ok_or_else(|| ServiceError::Conflict(format!("{code} is not a family")))?;
        let payload = &with_scope_tags(payload, &tag_targets);
        let await_tags: Vec<&String> = tags_of(payload)
            .into_iter()
            .filter_map(|t| tags_in_run.get(&t))
            .collect();
        let live = reader.find(family, source_id, name).await?;
        let (assign, dropped) = if with_assignments && payload.get("assignments").is_some() {
            let (a, d) = desired_assignments(payload, &groups, &filters, &describe);
            (Some(a), d)
        } else {
            (None, Vec::new())
        };
        let mut warnings = live.warnings.clone();
        let await_filters: Vec<&String> = in_run
            .iter()
            .filter(|fid| {
                assign
                    .iter()
                    .flatten()
                    .any(|a| a["target"]["deviceAndAppManagementAssignmentFilterId"] == fid.as_str())
            })
            .collect();
        for tid in &await_tags {
            let name = tags.get(*tid).map(|(_, n)| n.as_str()).unwrap_or(tid.as_str());
            warnings.push(format!(
                "Scope tag {name} is recreated by this restore: this item is written once it exists."
            ));
        }
        for fid in &await_filters {
            let name = filters.get(*fid).map(|(_, n)| n.as_str()).unwrap_or(fid.as_str());
            warnings.push(format!(
                "Assignment filter {name} is recreated by this restore: these assignments are written once it exists."
            ));
        }
        if with_assignments
            && payload.get("assignments").is_none()
            && family.assign != atlas_graph::families::Assign::None
        {
            warnings.push("The backup holds no assignments for this item: they are left as they are.".into());
        }
        let mut changes = Vec::new();
        let mut assignments = api::AssignmentChanges {
            dropped,
            ..Default::default()
        };
        let mut conflict = live.conflict.clone();
        let action = match (&live.object, &conflict) {
            (_, Some(_)) => "conflict",
            (None, None) => {
                assignments.added = assign.iter().flatten().map(&describe).collect();
                conflict = create_conflict(family, payload);
                if conflict.is_some() {
                    "conflict"
                } else {
                    if family.metadata_only && is_line_of_business_app(payload) {
                        warnings.push(
                            "Only the app's metadata is restored: upload its package in Intune before it can install."
                                .into(),
                        );
                    }
                    "create"
                }
            }
            (Some(o), None) => {
                conflict = conflict_of(family, o, payload);
                changes = field_changes(family, o, payload);
                if let Some(want) = &assign {
                    let have: Vec<Value> = o["assignments"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(graph_ops::clean_assignment)
                        .collect();
                    let hk: Vec<String> = have.iter().map(graph_ops::target_key).collect();
                    let wk: Vec<String> = want.iter().map(graph_ops::target_key).collect();
                    assignments.added = want
                        .iter()
                        .filter(|a| !hk.contains(&graph_ops::target_key(a)))
                        .map(&describe)
                        .collect();
                    assignments.removed = have
                        .iter()
                        .filter(|a| !wk.contains(&graph_ops::target_key(a)))
                        .map(&describe)
                        .collect();
                    assignments.unchanged = want.len().saturating_sub(assignments.added.len()) as u64;
                }
                if conflict.is_some() {
                    "conflict"
                } else if changes.is_empty() && assignments.added.is_empty() && assignments.removed.is_empty() {
                    "unchanged"
                } else {
                    "update"
                }
            }
        };
        match action {
            "create" => summary.create += 1,
            "update" => summary.update += 1,
            "unchanged" => summary.unchanged += 1,
            _ => summary.conflict += 1,
        }
        planned.push(PlannedItem {
            key: format!("{code}/{source_id}"),
            family: code.clone(),
            source_id: source_id.clone(),
            name: name.clone(),
            hash: hash.clone(),
            action: action.to_owned(),
            live_hash: live.hash(),
            target_id: live.target_id,
            matched_by: live.matched_by.to_owned(),
            warnings,
            conflict,
            changes,
            assignments,
            assign,
            await_filters: await_filters.into_iter().cloned().collect(),
            scope_tags: tag_targets.clone(),
            await_tags: await_tags.into_iter().cloned().collect(),
            ids: refs.ids.clone(),
        });
    }

    let readiness = super::readiness(state, scope, draft).await?;
    let mut blockers: Vec<String> = readiness
        .checks
        .iter()
        .filter(|c| c.status == atlas_domain::Status::Blocked)
        .map(|c| c.message.clone())
        .collect();
    for g in groups.values().filter(|g| g.resolution == "unmapped") {
        blockers.push(format!(
            "Group {} has no match in the target: map it or drop its assignments.",
            g.source_name.clone().unwrap_or_else(|| g.source_group_id.clone())
        ));
    }
    for (_, (_, name)) in filters
        .iter()
        .filter(|(fid, (to, _))| to.is_none() && !in_run.contains(*fid))
    {
        blockers.push(format!(
            "Assignment filter {name} has no match in the target: restore it too (in this restore or before), or restore without assignments."
        ));
    }
    for (_, (_, name)) in tags
        .iter()
        .filter(|(tid, (to, _))| to.is_none() && !tags_in_run.contains(*tid))
    {
        blockers.push(format!(
            "Scope tag {name} has no match in the target: create it there or restore it too; a different tag would change who can see these items."
        ));
    }
    for p in &planned {
        if let Some(c) = &p.conflict {
            blockers.push(format!("{}: {c}", p.name));
        }
    }

    let groups: Vec<api::GroupMapping> = groups.into_values().collect();
    let fingerprint = crate::backup::content_hash(&json!({
        "restore": restore_id, "assignments": with_assignments,
        "items": planned.iter().map(|p| json!([p.key, p.action, p.target_id, p.live_hash, p.hash, p.assign])).collect::<Vec<_>>(),
        "filters": filters, "tags": tags, "ids": refs.ids, "groups": groups.iter().map(|g| json!([g.source_group_id, g.target_group_id, g.resolution])).collect::<Vec<_>>(),
    }));
    let preview_id =
        RunId::parse(&state.ids.next_id()).map_err(|e| ServiceError::Permanent(format!("preview id: {e}")))?;
    let now = state.clock.now_millis();
    let plan = Plan {
        fingerprint,
        created_ms: now,
        expires_ms: now + super::PREVIEW_TTL_MS,
        items: planned,
        groups,
        blockers,
        summary,
        include_assignments: with_assignments,
    };
    let (ws, env) = (scope.workspace().workspace_id(), scope.environment_id());
    let record = RestorePreviewRecord::new(ws, env, &preview_id, &restore_id, plan);
    Ok(Planned { record })
}

/// Re-reads live for every planned item and names those whose live state differs from what
/// the preview read (or that now match differently).
pub async fn stale_items(
    state: &AppState,
    scope: &EnvScope,
    draft: &RestoreDraftRecord,
    preview: &RestorePreviewRecord,
) -> ServiceResult<Vec<String>> {
    let client = target_client(state, scope).await?;
    let with_assignments = preview.plan.include_assignments;
    let mut reader = LiveReader::new(state, scope, &client, &draft.source_environment_id, with_assignments).await?;
    let mut stale = Vec::new();
    for p in &preview.plan.items {
        let Some(family) = Family::by_code(&p.family) else {
            continue;
        };
        let live = reader.find(family, &p.source_id, &p.name).await?;
        if live.target_id != p.target_id || live.hash() != p.live_hash {
            stale.push(p.name.clone());
        }
    }
    Ok(stale)
}
