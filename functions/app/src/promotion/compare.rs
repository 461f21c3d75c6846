//! Compare two sides — an environment's inventory, a backup set, a baseline snapshot — from
//! stored payloads only (spec 022): drift's matcher and normalization, with A's references
//! translated through the mapping table of A's environment → B's.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use atlas_api_types as api;
use atlas_domain::drift::{self as core, Candidate, Names};
use atlas_domain::{EnvironmentId, InventoryStatus, RunId};
use atlas_graph::families::Family;
use serde_json::Value;

use crate::drift::baselines;
use crate::error::{ServiceError, ServiceResult};
use crate::records::drift::{self as drec, BaselineProfile, SnapshotItem, SnapshotRecord};
use crate::records::inventory::{self as irec, InventoryItem};
use crate::records::promotion::MappingRecord;
use crate::records::{self};
use crate::scope::{EnvScope, WorkspaceScope};
use crate::state::AppState;

/// One stored object of a side.
#[derive(Debug, Clone)]
pub struct Obj {
    pub family: String,
    pub id: String,
    pub name: String,
    pub payload: Value,
}

/// A side, loaded.
pub struct Side {
    pub api: api::CompareSide,
    pub scope: EnvScope,
    pub objects: Vec<Obj>,
    pub names: Names,
    /// A baseline's ignored properties (pointers into the normalized document).
    pub ignored: Vec<String>,
}

enum SideRef {
    Environment(EnvironmentId),
    Backup(EnvironmentId, RunId),
    Baseline(String, Option<u32>),
}

fn parse(field: &str, raw: &str) -> ServiceResult<SideRef> {
    let bad = || {
        ServiceError::field(
            field,
            "is environment:{env}, backup:{env}:{set} or baseline:{baseline}[:{number}]",
        )
    };
    let parts: Vec<&str> = raw.trim().split(':').collect();
    let env = |s: &str| EnvironmentId::parse(s).map_err(|_| bad());
    match parts.as_slice() {
        ["environment", e] => Ok(SideRef::Environment(env(e)?)),
        ["backup", e, s] => Ok(SideRef::Backup(env(e)?, RunId::parse(s).map_err(|_| bad())?)),
        ["baseline", b] if !b.is_empty() => Ok(SideRef::Baseline((*b).to_owned(), None)),
        ["baseline", b, n] if !b.is_empty() => {
            Ok(SideRef::Baseline((*b).to_owned(), Some(n.parse().map_err(|_| bad())?)))
        }
        _ => Err(bad()),
    }
}

fn name_of(payload: &Value) -> String {
    payload
        .get("displayName")
        .or(payload.get("name"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The active objects of an environment's inventory.
pub async fn inventory_objects(state: &AppState, scope: &EnvScope) -> ServiceResult<Vec<Obj>> {
    let env = scope.records(&state.table);
    let items: Vec<InventoryItem> = records::query_all(&state.table, env.query(irec::items_prefix(None))).await?;
    Ok(items
        .into_iter()
        .filter(|i| i.status == InventoryStatus::Active)
        .map(|i| Obj {
            family: i.family,
            id: i.item_id,
            name: i.view.name,
            payload: i.payload,
        })
        .collect())
}

/// The objects of a backup set (`None`: no such set).
pub async fn set_objects(state: &AppState, scope: &EnvScope, set: &RunId) -> ServiceResult<Option<Vec<Obj>>> {
    let Some(items) = crate::backup::set_items(state, scope, set).await? else {
        return Ok(None);
    };
    let mut out = Vec::with_capacity(items.len());
    for i in items {
        let payload = crate::backup::payload(state, scope, &i.hash).await?.ok_or_else(|| {
            ServiceError::Conflict(format!("the payload of {}/{} is not stored", i.family, i.item_id))
        })?;
        out.push(Obj {
            family: i.family,
            id: i.item_id,
            name: i.name,
            payload,
        });
    }
    Ok(Some(out))
}

async fn env_name(state: &AppState, scope: &EnvScope) -> ServiceResult<String> {
    Ok(crate::tenancy::environment_record(state, scope).await?.display_name)
}

async fn load(state: &AppState, ws: &WorkspaceScope, field: &str, raw: &str) -> ServiceResult<Side> {
    let (scope, kind, label, objects, ignored) = match parse(field, raw)? {
        SideRef::Environment(env) => {
            let scope = baselines::entitled_environment(state, ws, &env).await?;
            let name = env_name(state, &scope).await?;
            let objects = inventory_objects(state, &scope).await?;
            (
                scope,
                "environment",
                format!("{name} (current inventory)"),
                objects,
                vec![],
            )
        }
        SideRef::Backup(env, set) => {
            let scope = baselines::entitled_environment(state, ws, &env).await?;
            let name = env_name(state, &scope).await?;
            let objects = set_objects(state, &scope, &set).await?.ok_or(ServiceError::NotFound)?;
            let at = crate::backup::set_view(state, &scope, &set)
                .await?
                .map(|v| crate::audit::iso8601(v.created_ms))
                .unwrap_or_default();
            (scope, "backup", format!("{name} (backup of {at})"), objects, vec![])
        }
        SideRef::Baseline(id, number) => {
            let p: BaselineProfile = baselines::profile(state, ws, &id).await?;
            let scope = baselines::entitled_environment(state, ws, &p.source_environment_id).await?;
            let number = number.unwrap_or(p.latest_snapshot);
            let header: Option<SnapshotRecord> = ws
                .records(&state.table)
                .get(drec::snapshot_sk(&p.profile_id, number))
                .await?;
            if header.is_none() {
                return Err(ServiceError::NotFound);
            }
            let q = scope
                .records(&state.table)
                .query(drec::snapshot_items(&p.profile_id, number, None));
            let items: Vec<SnapshotItem> = records::query_all(&state.table, q).await?;
            let mut objects = Vec::with_capacity(items.len());
            for i in items {
                let payload = crate::backup::payload(state, &scope, &i.hash).await?.ok_or_else(|| {
                    ServiceError::Conflict(format!("the payload of {}/{} is not stored", i.family, i.item_id))
                })?;
                objects.push(Obj {
                    family: i.family,
                    id: i.item_id,
                    name: i.name,
                    payload,
                });
            }
            let label = format!("baseline \"{}\" snapshot {number}", p.name);
            (scope, "baseline", label, objects, p.ignored_properties.clone())
        }
    };
    let names = crate::drift::names(state, &scope.pk()).await?;
    let environment_name = env_name(state, &scope).await?;
    Ok(Side {
        api: api::CompareSide {
            reference: raw.trim().to_owned(),
            kind: kind.into(),
            environment_id: scope.environment_id().to_string(),
            environment_name,
            label,
            objects: objects.len() as u64,
        },
        scope,
        objects,
        names,
        ignored,
    })
}

/// How A's references become B's: names for what drift compares by name, ids replaced for the
/// rest, and object pins for the matcher.
#[derive(Debug, Default, Clone)]
pub struct Translation {
    pub a_names: Names,
    pub b_names: Names,
    /// Source id → target id, replaced wherever it is a string value of A's payloads.
    pub ids: BTreeMap<String, String>,
    /// Source object id → target object id (mappings of kind `object`).
    pub overrides: BTreeMap<String, String>,
    pub applied: u64,
}

/// Ids shorter than this are never replaced as bare strings (scope tag "1" is everywhere).
const MIN_REPLACED_ID: usize = 8;

impl Translation {
    pub fn new(mut a_names: Names, mut b_names: Names, rows: &[MappingRecord]) -> Translation {
        let mut ids = BTreeMap::new();
        let mut overrides = BTreeMap::new();
        for r in rows {
            let target_label = |known: Option<&String>| {
                known
                    .cloned()
                    .or_else(|| r.target_name.clone())
                    .unwrap_or_else(|| r.target_id.clone())
            };
            match r.kind.as_str() {
                "filter" => {
                    let n = target_label(b_names.filters.get(&r.target_id));
                    a_names.filters.insert(r.source_id.clone(), n);
                }
                "scope_tag" => {
                    let n = target_label(b_names.scope_tags.get(&r.target_id));
                    a_names.scope_tags.insert(r.source_id.clone(), n);
                }
                "group" => {
                    // Groups are not in the inventory: both sides name the group the same way.
                    let n = target_label(b_names.groups.get(&r.target_id));
                    a_names.groups.insert(r.source_id.clone(), n.clone());
                    b_names.groups.insert(r.target_id.clone(), n);
                }
                "object" => {
                    overrides.insert(r.source_id.clone(), r.target_id.clone());
                }
                _ => {
                    if r.source_id.len() >= MIN_REPLACED_ID {
                        ids.insert(r.source_id.clone(), r.target_id.clone());
                    }
                }
            }
        }
        Translation {
            a_names,
            b_names,
            ids,
            overrides,
            applied: rows.len() as u64,
        }
    }
}

/// `v` with every string value that is a key of `ids` replaced by its value.
pub fn replace_ids(v: &Value, ids: &BTreeMap<String, String>) -> Value {
    if ids.is_empty() {
        return v.clone();
    }
    match v {
        Value::String(s) => match ids.get(s) {
            Some(t) => Value::String(t.clone()),
            None => v.clone(),
        },
        Value::Array(a) => Value::Array(a.iter().map(|x| replace_ids(x, ids)).collect()),
        Value::Object(m) => Value::Object(m.iter().map(|(k, x)| (k.clone(), replace_ids(x, ids))).collect()),
        other => other.clone(),
    }
}

/// What comparing two lists of objects found.
#[derive(Debug, Default)]
pub struct Compared {
    pub objects: Vec<api::CompareObject>,
    pub families: Vec<api::CompareFamily>,
    pub counts: api::CompareCounts,
}

fn bump(c: &mut api::CompareCounts, result: &str) {
    match result {
        "only_a" => c.only_a += 1,
        "only_b" => c.only_b += 1,
        "different" => c.different += 1,
        _ => c.same += 1,
    }
}

/// Compares A's objects with B's, family by family. `same_env`: ids are comparable.
pub fn compare_objects(a: &[Obj], b: &[Obj], same_env: bool, t: &Translation, ignored: &[String]) -> Compared {
    let mut by_family: BTreeMap<&str, (Vec<&Obj>, Vec<&Obj>)> = BTreeMap::new();
    for o in a {
        by_family.entry(o.family.as_str()).or_default().0.push(o);
    }
    for o in b {
        by_family.entry(o.family.as_str()).or_default().1.push(o);
    }
    let mut out = Compared::default();
    for (family, (fa, fb)) in by_family {
        // An enrollment configuration's priority is its rank among its tenant's others: across
        // tenants with different sets it cannot compare (graph-brief §2.2).
        let mut ignored = ignored.to_vec();
        if !same_env && family == "deviceEnrollmentConfigurations" {
            ignored.push("/priority".into());
        }
        let ignored = ignored.as_slice();
        // The stored id, whatever the payload says (a snapshot's payload may lack one).
        let candidate = |o: &&Obj| Candidate {
            id: o.id.clone(),
            ..Candidate::from_payload(family, &o.payload)
        };
        let ca: Vec<Candidate> = fa.iter().map(candidate).collect();
        let cb: Vec<Candidate> = fb.iter().map(candidate).collect();
        let m = core::match_objects(&ca, &cb, same_env, &t.overrides);
        let mut counts = api::CompareCounts::default();
        let mut rows = Vec::new();
        for p in &m.pairs {
            let (oa, ob) = (fa[p.baseline], fb[p.env]);
            let da = core::normalize(family, &replace_ids(&oa.payload, &t.ids), &t.a_names, ignored);
            let db = core::normalize(family, &ob.payload, &t.b_names, ignored);
            let secrets: Vec<String> = atlas_domain::redact::secret_pointers(&da)
                .into_iter()
                .chain(atlas_domain::redact::secret_pointers(&db))
                .collect();
            let differences: Vec<api::CompareDifference> = core::compare(&da, &db)
                .into_iter()
                .map(|d| api::CompareDifference {
                    a: crate::drift::masked(&d.path, d.desired, &secrets),
                    b: crate::drift::masked(&d.path, d.current, &secrets),
                    path: d.path,
                })
                .collect();
            let result = if differences.is_empty() { "same" } else { "different" };
            rows.push(api::CompareObject {
                family: family.to_owned(),
                result: result.into(),
                a_id: Some(oa.id.clone()),
                a_name: Some(oa.name.clone()),
                b_id: Some(ob.id.clone()),
                b_name: Some(ob.name.clone()),
                matched_by: Some(p.matched_by.as_str().to_owned()),
                score: p.score,
                differences,
            });
        }
        for &i in &m.missing {
            rows.push(only(family, "only_a", Some(fa[i]), None));
        }
        for &i in &m.extra {
            rows.push(only(family, "only_b", None, Some(fb[i])));
        }
        rows.sort_by(|x, y| {
            let n = |o: &api::CompareObject| o.a_name.clone().or(o.b_name.clone()).unwrap_or_default().to_lowercase();
            n(x).cmp(&n(y))
        });
        for r in &rows {
            bump(&mut counts, &r.result);
            bump(&mut out.counts, &r.result);
        }
        out.families.push(api::CompareFamily {
            family: family.to_owned(),
            label: Family::by_code(family).map(|f| f.label).unwrap_or(family).to_owned(),
            counts,
        });
        out.objects.extend(rows);
    }
    out
}

fn only(family: &str, result: &str, a: Option<&Obj>, b: Option<&Obj>) -> api::CompareObject {
    api::CompareObject {
        family: family.to_owned(),
        result: result.into(),
        a_id: a.map(|o| o.id.clone()),
        a_name: a.map(|o| o.name.clone()),
        b_id: b.map(|o| o.id.clone()),
        b_name: b.map(|o| o.name.clone()),
        matched_by: None,
        score: None,
        differences: vec![],
    }
}

/// `GET …/compare?a=&b=[&family=]`.
pub async fn compare(
    state: &AppState,
    ws: &WorkspaceScope,
    a: &str,
    b: &str,
    family: Option<&str>,
) -> ServiceResult<api::Comparison> {
    if let Some(f) = family
        && Family::by_code(f).is_none()
    {
        return Err(ServiceError::field("query.family", "is not a policy family code"));
    }
    let (mut sa, mut sb) = (
        load(state, ws, "query.a", a).await?,
        load(state, ws, "query.b", b).await?,
    );
    if let Some(f) = family {
        sa.objects.retain(|o| o.family == f);
        sb.objects.retain(|o| o.family == f);
    }
    let same_env = sa.scope.environment_id() == sb.scope.environment_id();
    let rows = if same_env {
        vec![]
    } else {
        super::mappings::rows(state, ws, sa.scope.environment_id(), sb.scope.environment_id()).await?
    };
    let ignored: Vec<String> = sa
        .ignored
        .iter()
        .chain(&sb.ignored)
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let t = Translation::new(sa.names.clone(), sb.names.clone(), &rows);
    let c = compare_objects(&sa.objects, &sb.objects, same_env, &t, &ignored);
    Ok(api::Comparison {
        a: sa.api,
        b: sb.api,
        counts: c.counts,
        families: c.families,
        objects: c.objects,
        mappings_applied: t.applied,
        compared_ms: state.clock.now_millis(),
    })
}

/// The comparison as CSV: one row per difference, and one per object without differences.
pub fn csv(c: &api::Comparison) -> String {
    use crate::audit::csv_cell as cell;
    let mut out = String::from("family,result,a_name,a_id,b_name,b_id,matched_by,score,path,a_value,b_value\r\n");
    let json = |v: &Option<Value>| v.as_ref().map(Value::to_string).unwrap_or_default();
    for o in &c.objects {
        let head = [
            cell(&o.family),
            cell(&o.result),
            cell(o.a_name.as_deref().unwrap_or_default()),
            cell(o.a_id.as_deref().unwrap_or_default()),
            cell(o.b_name.as_deref().unwrap_or_default()),
            cell(o.b_id.as_deref().unwrap_or_default()),
            cell(o.matched_by.as_deref().unwrap_or_default()),
            cell(&o.score.map(|s| format!("{s:.2}")).unwrap_or_default()),
        ]
        .join(",");
        if o.differences.is_empty() {
            out.push_str(&format!("{head},\"\",\"\",\"\"\r\n"));
        }
        for d in &o.differences {
            out.push_str(&format!(
                "{head},{},{},{}\r\n",
                cell(&d.path),
                cell(&json(&d.a)),
                cell(&json(&d.b))
            ));
        }
    }
    out
}

/// Id → name of the objects of one family (for naming references).
pub fn names_of(objects: &[Obj], family: &str) -> HashMap<String, String> {
    objects
        .iter()
        .filter(|o| o.family == family)
        .map(|o| {
            (
                o.id.clone(),
                if o.name.is_empty() {
                    name_of(&o.payload)
                } else {
                    o.name.clone()
                },
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use atlas_domain::{EnvironmentId, WorkspaceId};
    use serde_json::json;

    fn row(kind: &str, from: &str, to: &str) -> MappingRecord {
        MappingRecord {
            workspace_id: WorkspaceId::parse("ws-t").unwrap(),
            source_environment_id: EnvironmentId::parse("env-a").unwrap(),
            target_environment_id: EnvironmentId::parse("env-b").unwrap(),
            kind: kind.into(),
            source_id: from.into(),
            target_id: to.into(),
            source_name: None,
            target_name: None,
            updated_by_email: "o@t".into(),
            updated_ms: 1,
        }
    }

    fn obj(id: &str, payload: Value) -> Obj {
        Obj {
            family: "deviceCompliancePolicies".into(),
            id: id.into(),
            name: payload["displayName"].as_str().unwrap_or_default().into(),
            payload,
        }
    }

    const GA: &str = "aaaaaaaa-0000-4000-8000-000000000001";
    const GB: &str = "bbbbbbbb-0000-4000-8000-000000000001";
    const FA: &str = "aaaaaaaa-0000-4000-8000-0000000000f1";
    const FB: &str = "bbbbbbbb-0000-4000-8000-0000000000f1";
    const TA: &str = "aaaaaaaa-0000-4000-8000-0000000000e1";
    const TB: &str = "bbbbbbbb-0000-4000-8000-0000000000e1";
    const AA: &str = "aaaaaaaa-0000-4000-8000-0000000000a1";
    const AB: &str = "bbbbbbbb-0000-4000-8000-0000000000a1";
    const LA: &str = "aaaaaaaa-0000-4000-8000-0000000000c1";
    const LB: &str = "bbbbbbbb-0000-4000-8000-0000000000c1";

    /// One policy as each tenant holds it: every reference is the tenant's own id.
    fn policy(name: &str, g: &str, f: &str, tag: &str, template: &str, app: &str, location: &str) -> Value {
        json!({
            "@odata.type": "#microsoft.graph.windows10CompliancePolicy", "displayName": name,
            "roleScopeTagIds": ["0", tag],
            "scheduledActionsForRule": [{"ruleName": "r", "scheduledActionConfigurations": [
                {"actionType": "notification", "notificationTemplateId": template, "notificationMessageTemplateId": template}]}],
            "targetedApps": [app], "includeLocations": [location],
            "assignments": [{"target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": g,
                "deviceAndAppManagementAssignmentFilterId": f, "deviceAndAppManagementAssignmentFilterType": "include"}}],
        })
    }

    fn names(filter: (&str, &str), tag: (&str, &str)) -> Names {
        Names::default().filter(filter.0, filter.1).scope_tag(tag.0, tag.1)
    }

    #[test]
    fn each_reference_kind_is_translated_by_the_mapping_table() {
        let a = [obj("pa", policy("P", GA, FA, "1", TA, AA, LA))];
        let b = [obj("pb", policy("P", GB, FB, "7", TB, AB, LB))];
        // Tenant-local names differ too: only the mapping table can say they are the same.
        let (an, bn) = (
            names((FA, "Win A"), ("1", "Berlin")),
            names((FB, "Win B"), ("7", "Paris")),
        );
        let bare = Translation::new(an.clone(), bn.clone(), &[]);
        let c = compare_objects(&a, &b, false, &bare, &[]);
        assert_eq!(c.objects[0].matched_by.as_deref(), Some("name"));
        let differing: BTreeSet<String> = c.objects[0].differences.iter().map(|d| d.path.clone()).collect();
        for part in [
            "roleScopeTagIds",
            "assignments",
            "targetedApps",
            "includeLocations",
            "scheduledActionsForRule",
        ] {
            assert!(
                differing.iter().any(|p| p.contains(part)),
                "{part} differs unmapped: {differing:?}"
            );
        }
        // Each kind mapped but one: exactly that one still differs.
        let all = [
            ("group", GA, GB),
            ("filter", FA, FB),
            ("scope_tag", "1", "7"),
            ("notification_template", TA, TB),
            ("app", AA, AB),
            ("named_location", LA, LB),
        ];
        let rows: Vec<MappingRecord> = all.iter().map(|(k, f, t)| row(k, f, t)).collect();
        let c = compare_objects(&a, &b, false, &Translation::new(an.clone(), bn.clone(), &rows), &[]);
        assert_eq!(c.objects[0].result, "same", "{:?}", c.objects[0].differences);
        for (skip, (kind, ..)) in all.iter().enumerate() {
            let some: Vec<MappingRecord> = rows
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != skip)
                .map(|(_, r)| r.clone())
                .collect();
            let c = compare_objects(&a, &b, false, &Translation::new(an.clone(), bn.clone(), &some), &[]);
            assert_eq!(c.objects[0].result, "different", "{kind} left unmapped");
        }
    }

    #[test]
    fn an_object_mapping_pins_the_match_and_short_ids_are_never_replaced() {
        let a = [obj("pa", json!({"displayName": "Old name", "x": "1"}))];
        let b = [
            obj("pb", json!({"displayName": "Old name", "x": "1"})),
            obj("pc", json!({"displayName": "Renamed", "x": "1"})),
        ];
        let t = Translation::new(Names::default(), Names::default(), &[row("object", "pa", "pc")]);
        let c = compare_objects(&a, &b, false, &t, &[]);
        let pinned = c.objects.iter().find(|o| o.a_id.as_deref() == Some("pa")).unwrap();
        assert_eq!(
            (pinned.b_id.as_deref(), pinned.matched_by.as_deref()),
            (Some("pc"), Some("override"))
        );
        // A mapping of a short id (`"1"`) must not rewrite every "1" in the payload.
        let t = Translation::new(Names::default(), Names::default(), &[row("app", "1", "2")]);
        assert!(t.ids.is_empty());
        assert_eq!(replace_ids(&json!({"x": "1"}), &t.ids), json!({"x": "1"}));
    }
}
