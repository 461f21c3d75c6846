//! The mapping table of an ordered environment pair (spec 022): rows an operator set, and the
//! references of the source's inventory the table does not cover, with what automatic
//! resolution would pick.

use std::collections::{BTreeMap, HashMap};

use atlas_api_types as api;
use atlas_domain::EnvironmentId;
use atlas_store::{Cond, TxItem};
use serde_json::{Value, json};

use super::compare::{Obj, inventory_objects, names_of};
use crate::audit::{self, NewEvent};
use crate::drift::baselines::entitled_environment;
use crate::error::{Fields, ServiceError, ServiceResult};
use crate::records::promotion::{self as rec, MappingRecord};
use crate::records::{self, Record};
use crate::scope::{EnvScope, WorkspaceScope};
use crate::state::AppState;

pub const KINDS: &[&str] = &[
    "group",
    "filter",
    "scope_tag",
    "named_location",
    "app",
    "notification_template",
    "object",
];

/// The inventory family whose objects a kind names, when the inventory holds them.
fn family_of(kind: &str) -> Option<&'static str> {
    match kind {
        "filter" => Some("assignmentFilters"),
        "scope_tag" => Some("roleScopeTags"),
        "notification_template" => Some("notificationMessageTemplates"),
        _ => None,
    }
}

/// Every row of the pair.
pub async fn rows(
    state: &AppState,
    ws: &WorkspaceScope,
    source: &EnvironmentId,
    target: &EnvironmentId,
) -> ServiceResult<Vec<MappingRecord>> {
    Ok(records::query_all(&state.table, rec::mappings_of(ws.workspace_id(), source, target)).await?)
}

/// Both environments of a pair, entitled (else 404) and distinct (else 400).
pub async fn pair(
    state: &AppState,
    ws: &WorkspaceScope,
    source: &str,
    target: &str,
) -> ServiceResult<(EnvScope, EnvScope)> {
    let mut f = Fields::default();
    let s = f.check("source_environment_id", EnvironmentId::parse(source).map_err(|e| e.0));
    let t = f.check("target_environment_id", EnvironmentId::parse(target).map_err(|e| e.0));
    f.checked()?;
    let (Some(s), Some(t)) = (s, t) else {
        return Err(ServiceError::Permanent("checked fields without their values".into()));
    };
    if s == t {
        return Err(ServiceError::field(
            "target_environment_id",
            "is the source environment: a mapping translates between two environments",
        ));
    }
    Ok((
        entitled_environment(state, ws, &s).await?,
        entitled_environment(state, ws, &t).await?,
    ))
}

pub fn to_api(r: &MappingRecord) -> api::Mapping {
    api::Mapping {
        kind: r.kind.clone(),
        source_id: r.source_id.clone(),
        target_id: r.target_id.clone(),
        source_name: r.source_name.clone(),
        target_name: r.target_name.clone(),
        updated_by_email: r.updated_by_email.clone(),
        updated_ms: r.updated_ms,
    }
}

const NO_FILTER: &str = "00000000-0000-0000-0000-000000000000";

/// The references one payload makes: `(kind, id)`.
pub fn references(payload: &Value) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    for a in payload["assignments"].as_array().into_iter().flatten() {
        if let Some(g) = a["target"]["groupId"].as_str() {
            out.push(("group", g.to_owned()));
        }
        if let Some(f) = a["target"]["deviceAndAppManagementAssignmentFilterId"].as_str()
            && !f.is_empty()
            && f != NO_FILTER
        {
            out.push(("filter", f.to_owned()));
        }
    }
    for t in payload["roleScopeTagIds"].as_array().into_iter().flatten() {
        if let Some(t) = t.as_str().filter(|t| *t != "0") {
            out.push(("scope_tag", t.to_owned()));
        }
    }
    templates(payload, &mut out);
    out
}

fn templates(v: &Value, out: &mut Vec<(&'static str, String)>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x.as_str()) {
                    ("notificationMessageTemplateId", Some(id)) if !id.is_empty() && id != NO_FILTER => {
                        out.push(("notification_template", id.to_owned()));
                    }
                    _ => templates(x, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| templates(x, out)),
        _ => {}
    }
}

/// Automatic resolution of one reference in the target: same id (not for scope tags, which are
/// tenant-local numbers), else the one target object with the source's name.
fn resolve(
    kind: &str,
    id: &str,
    source_names: &HashMap<String, String>,
    target_names: &HashMap<String, String>,
) -> (String, Option<String>, Option<String>) {
    if kind != "scope_tag"
        && let Some(n) = target_names.get(id)
    {
        return ("id".into(), Some(id.to_owned()), Some(n.clone()));
    }
    if let Some(name) = source_names.get(id) {
        let hits: Vec<(&String, &String)> = target_names.iter().filter(|(_, n)| *n == name).collect();
        if let [(tid, n)] = hits.as_slice() {
            return ("name".into(), Some((*tid).clone()), Some((*n).clone()));
        }
    }
    ("unresolved".into(), None, None)
}

/// What the source's references resolve to, except those the table maps.
pub fn suggestions(source: &[Obj], target: &[Obj], mapped: &[MappingRecord]) -> Vec<api::MappingSuggestion> {
    let mut used: BTreeMap<(&'static str, String), u64> = BTreeMap::new();
    for o in source {
        let mut refs = references(&o.payload);
        refs.sort();
        refs.dedup();
        for r in refs {
            *used.entry(r).or_default() += 1;
        }
    }
    used.into_iter()
        .filter(|((kind, id), _)| !mapped.iter().any(|m| m.kind == *kind && &m.source_id == id))
        .map(|((kind, id), used_by)| {
            let (resolution, target_id, target_name, source_name) = match family_of(kind) {
                Some(fam) => {
                    let (sn, tn) = (names_of(source, fam), names_of(target, fam));
                    let (r, tid, tname) = resolve(kind, &id, &sn, &tn);
                    (r, tid, tname, sn.get(&id).cloned())
                }
                // Groups are not in the inventory: the plan resolves them in the target's
                // directory (same id, then the same display name).
                None => ("at_plan".into(), None, None, None),
            };
            api::MappingSuggestion {
                kind: kind.into(),
                source_id: id,
                source_name,
                resolution,
                target_id,
                target_name,
                used_by,
            }
        })
        .collect()
}

/// `GET …/mappings?source_environment_id=&target_environment_id=`.
pub async fn table(
    state: &AppState,
    ws: &WorkspaceScope,
    source: &str,
    target: &str,
) -> ServiceResult<api::MappingTable> {
    let (s, t) = pair(state, ws, source, target).await?;
    let rows = rows(state, ws, s.environment_id(), t.environment_id()).await?;
    let (so, to) = (inventory_objects(state, &s).await?, inventory_objects(state, &t).await?);
    Ok(api::MappingTable {
        source_environment_id: s.environment_id().to_string(),
        target_environment_id: t.environment_id().to_string(),
        suggestions: suggestions(&so, &to, &rows),
        items: rows.iter().map(to_api).collect(),
    })
}

/// At most this many rows change in one call: they are written in one transaction.
pub const MAX_CHANGES: usize = 90;

/// `POST …/mappings`: sets and removes rows, all or nothing, with one audit event.
pub async fn change(
    state: &AppState,
    ws: &WorkspaceScope,
    body: &api::MappingChange,
) -> ServiceResult<api::MappingTable> {
    let (s, t) = pair(state, ws, &body.source_environment_id, &body.target_environment_id).await?;
    let mut f = Fields::default();
    if body.set.len() + body.remove.len() > MAX_CHANGES {
        f.push("set", format!("at most {MAX_CHANGES} rows change in one request"));
    }
    if body.set.is_empty() && body.remove.is_empty() {
        f.push("set", "names at least one row to set or remove");
    }
    let target_objects = inventory_objects(state, &t).await?;
    let source_objects = inventory_objects(state, &s).await?;
    let guid = |v: &str| v.len() == 36 && v.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    for (i, m) in body.set.iter().enumerate() {
        let at = |k: &str| format!("set[{i}].{k}");
        if !KINDS.contains(&m.kind.as_str()) {
            f.push(&at("kind"), format!("is one of {}", KINDS.join(", ")));
            continue;
        }
        for (k, v) in [("source_id", &m.source_id), ("target_id", &m.target_id)] {
            if v.trim().is_empty() || v.len() > 200 {
                f.push(&at(k), "is an id of 1 to 200 characters");
            }
        }
        if m.kind == "group" && (!guid(&m.source_id) || !guid(&m.target_id)) {
            f.push(&at("target_id"), "group ids are GUIDs (Entra object ids)");
        }
        if let Some(fam) = family_of(&m.kind) {
            let known = names_of(&target_objects, fam);
            let family_read = target_objects.iter().any(|o| o.family == fam);
            if family_read && !known.contains_key(&m.target_id) {
                f.push(
                    &at("target_id"),
                    format!("is not a {fam} object of the target environment"),
                );
            }
        }
        if m.kind == "object" && !target_objects.iter().any(|o| o.id == m.target_id) {
            f.push(
                &at("target_id"),
                "is not an object of the target environment's inventory",
            );
        }
        if body.set[..i]
            .iter()
            .any(|o| o.kind == m.kind && o.source_id == m.source_id)
        {
            f.push(&at("source_id"), "is set twice in this request");
        }
    }
    for (i, m) in body.remove.iter().enumerate() {
        if !KINDS.contains(&m.kind.as_str()) {
            f.push(&format!("remove[{i}].kind"), format!("is one of {}", KINDS.join(", ")));
        }
    }
    f.checked()?;
    let existing = rows(state, ws, s.environment_id(), t.environment_id()).await?;
    let now = state.clock.now_millis();
    let actor = ws.actor().email.clone();
    let mut changes = Vec::new();
    let mut meta = Vec::new();
    for m in &body.set {
        let fam = family_of(&m.kind);
        let name_in = |objs: &[Obj], id: &str| fam.and_then(|f| names_of(objs, f).get(id).cloned());
        let row = MappingRecord {
            workspace_id: ws.workspace_id().clone(),
            source_environment_id: s.environment_id().clone(),
            target_environment_id: t.environment_id().clone(),
            kind: m.kind.clone(),
            source_id: m.source_id.trim().to_owned(),
            target_id: m.target_id.trim().to_owned(),
            source_name: m.source_name.clone().or_else(|| name_in(&source_objects, &m.source_id)),
            target_name: m.target_name.clone().or_else(|| name_in(&target_objects, &m.target_id)),
            updated_by_email: actor.clone(),
            updated_ms: now,
        };
        let before = existing
            .iter()
            .find(|e| e.kind == m.kind && e.source_id == row.source_id);
        meta.push(json!({"kind": m.kind, "source_id": row.source_id, "before": before.map(|b| &b.target_id), "after": row.target_id}));
        changes.push(row.put());
    }
    for m in &body.remove {
        let Some(before) = existing.iter().find(|e| e.kind == m.kind && e.source_id == m.source_id) else {
            continue;
        };
        meta.push(json!({"kind": m.kind, "source_id": m.source_id, "before": before.target_id, "after": null}));
        changes.push(TxItem::Delete {
            key: before.key(),
            cond: Some(Cond::Exists),
        });
    }
    if !changes.is_empty() {
        let ev = NewEvent::success(
            "mapping.update",
            format!("mappings/{}/{}", s.environment_id(), t.environment_id()),
        )
        .meta(json!({"source_environment_id": s.environment_id().as_str(), "target_environment_id": t.environment_id().as_str(), "rows": meta}));
        audit::commit(state, ws, changes, ev).await?;
    }
    table(state, ws, s.environment_id().as_str(), t.environment_id().as_str()).await
}
