//! Drift's pure core: normalizing one Intune object (a Graph payload) so that only what an
//! administrator configured is compared, comparing two normalized objects, and matching the
//! objects of a baseline with those of an environment. No I/O: the caller fills [`Names`].
//!
//! Design decisions (spec 015, "Matching and normalization"):
//! - **Volatile fields** are dropped at every depth: [`VOLATILE`], every `@odata.*` key except
//!   `@odata.type` (the type decides what the object is), and every property annotation
//!   (`settings@odata.context`, `roleScopeTagIds@odata.type`). Nested `id`s go too: in Graph they
//!   are entity keys the service re-issues (setting ids `"0"`, `"1"`…, `{policyId}_{groupId}`
//!   assignment ids); references use other names (`groupId`, `settingDefinitionId`).
//! - **Lists are sets.** Every array is sorted by the canonical serialization of its normalized
//!   elements (object keys sorted), so order never matters; duplicates are kept (a multiset).
//!   Intune carries meaningful order in explicit properties (`priority`, `displayOrder`), not in
//!   list positions. Arrays of objects that each name a distinct `settingDefinitionId` (or
//!   `definitionId`, legacy intents) become a map keyed by that id instead, and so does the
//!   settings catalog's `settings[]` (keyed by `settingInstance.settingDefinitionId`, valued by
//!   the instance), so a difference has a path that names the setting.
//! - **References by name:** `roleScopeTagIds` (and assignment filters' `roleScopeTags`) become
//!   the sorted tag names; assignment targets name their group and filter. An id [`Names`] does
//!   not know stays comparable as `unresolved:{id}` (equal within a tenant, different across).
//! - **Ignored properties** are JSON pointers into the *normalized* document (`/description`,
//!   `/settings/{settingDefinitionId}`, `/assignments/*/intent`); a `*` segment matches every
//!   key or element. They are removed on both sides, so they never produce a difference.
//! - **Matching** cascades: overrides, then family + id (same tenant only), then family +
//!   display name (case-insensitive), then similarity: token Jaccard over the display name's
//!   words and the setting definition ids, at least [`SIMILARITY_THRESHOLD`], assigned greedily
//!   by best score. Each environment object matches at most one baseline object.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::diff::escape;

/// Dropped at every depth before comparing: the service sets them, an administrator does not.
pub const VOLATILE: &[&str] = &[
    "id",
    "createdDateTime",
    "lastModifiedDateTime",
    "modifiedDateTime",
    "version",
    // Derived from other properties (the settings list, the assignments, the tenant's features).
    "settingCount",
    "isAssigned",
    "supportsScopeTags",
];

/// Service-computed properties of one family (graph-brief §2.2), dropped at the top level.
fn family_volatile(family: &str) -> &'static [&'static str] {
    match family {
        "deviceHealthScripts" => &["highestAvailableVersion", "isGlobalScript"],
        "windowsFeatureUpdateProfiles" => &["deployableContentDisplayName", "endOfSupportDate"],
        "assignmentFilters" => &["payloads"],
        // Counted by the service from the targeted apps.
        "managedAppPolicies" | "targetedManagedAppConfigurations" => &["deployedAppCount"],
        // Derived from `@odata.type` and not writable (stripped before every write).
        "deviceEnrollmentConfigurations" => &["platformType", "deviceEnrollmentConfigurationType"],
        // Taken from the localized messages (the default one), not written with the template.
        "notificationMessageTemplates" => &["defaultLocale"],
        _ => &[],
    }
}

/// The least similarity at which an unmatched baseline object is paired with an environment
/// object: a renamed policy keeps most of its name's words and all of its settings.
pub const SIMILARITY_THRESHOLD: f64 = 0.8;

/// The built-in scope tag every tenant has, id `"0"`.
const DEFAULT_SCOPE_TAG: (&str, &str) = ("0", "Default");

/// Display names of the tenant-local objects a payload references, filled by the caller from
/// inventory (each side of a comparison with its own tenant's names).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Names {
    /// Entra group id → display name.
    pub groups: HashMap<String, String>,
    /// Assignment filter id → display name.
    pub filters: HashMap<String, String>,
    /// Role scope tag id → display name (`"0"` is "Default" unless given).
    pub scope_tags: HashMap<String, String>,
}

impl Names {
    pub fn group(mut self, id: &str, name: &str) -> Self {
        self.groups.insert(id.into(), name.into());
        self
    }

    pub fn filter(mut self, id: &str, name: &str) -> Self {
        self.filters.insert(id.into(), name.into());
        self
    }

    pub fn scope_tag(mut self, id: &str, name: &str) -> Self {
        self.scope_tags.insert(id.into(), name.into());
        self
    }

    fn scope_tag_name(&self, id: &str) -> String {
        match self.scope_tags.get(id) {
            Some(n) => n.clone(),
            None if id == DEFAULT_SCOPE_TAG.0 => DEFAULT_SCOPE_TAG.1.into(),
            None => unresolved(id),
        }
    }
}

fn unresolved(id: &str) -> String {
    format!("unresolved:{id}")
}

fn lookup(map: &HashMap<String, String>, id: &str) -> String {
    map.get(id).cloned().unwrap_or_else(|| unresolved(id))
}

/// `payload` as it is compared: volatile fields gone, lists order-free, references by name,
/// `ignored` pointers removed (see the module docs for each rule).
pub fn normalize(family_code: &str, payload: &Value, names: &Names, ignored: &[String]) -> Value {
    let mut v = norm(payload, names);
    if let Value::Object(m) = &mut v {
        for k in family_volatile(family_code) {
            m.remove(*k);
        }
    }
    for p in ignored {
        remove_pointer(&mut v, p);
    }
    v
}

fn is_annotation(key: &str) -> bool {
    match key.find("@odata.") {
        Some(0) => key != "@odata.type",
        Some(_) => true,
        None => false,
    }
}

fn norm(v: &Value, names: &Names) -> Value {
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, val) in m {
                if VOLATILE.contains(&k.as_str()) || is_annotation(k) {
                    continue;
                }
                let n = match (k.as_str(), val) {
                    ("roleScopeTagIds" | "roleScopeTags", Value::Array(ids)) => {
                        let mut tags: Vec<String> = ids
                            .iter()
                            .map(|i| names.scope_tag_name(i.as_str().unwrap_or_default()))
                            .collect();
                        tags.sort();
                        Value::from(tags)
                    }
                    (k, Value::Array(items)) if is_assignment_list(k, items) => {
                        sorted(items.iter().map(|a| assignment(a, names)).collect())
                    }
                    ("settings", Value::Array(items)) if items.iter().all(|s| s.get("settingInstance").is_some()) => {
                        keyed_settings(items, names)
                    }
                    _ => norm(val, names),
                };
                out.insert(k.clone(), n);
            }
            Value::Object(out)
        }
        Value::Array(items) => {
            let items: Vec<Value> = items.iter().map(|i| norm(i, names)).collect();
            by_definition_id(&items).unwrap_or_else(|| sorted(items))
        }
        other => other.clone(),
    }
}

/// `assignments`, or a family's own assignment navigation (`deviceManagementScriptAssignments`,
/// `enrollmentConfigurationAssignments`…) whose items carry a `target`.
fn is_assignment_list(key: &str, items: &[Value]) -> bool {
    (key == "assignments" || key.ends_with("Assignments"))
        && items.iter().all(|a| a.get("target").is_some_and(Value::is_object))
}

/// An assignment as `{target, group?, filter?, filterMode?, intent?, …}`: the target kind
/// (`group`, `exclusionGroup`, `allDevices`, `allLicensedUsers`…), names instead of ids, and the
/// assignment's other settings (`intent`, `runSchedule`…). Its id, its type (implied by the
/// family) and `source`/`sourceId` (a policy set's bookkeeping) are not compared.
fn assignment(a: &Value, names: &Names) -> Value {
    let mut out = Map::new();
    let target = &a["target"];
    let kind = target["@odata.type"].as_str().unwrap_or_default();
    let kind = kind.trim_start_matches('#').trim_start_matches("microsoft.graph.");
    let kind = kind.strip_suffix("AssignmentTarget").unwrap_or(kind);
    out.insert("target".into(), Value::from(kind));
    if let Some(g) = target["groupId"].as_str() {
        out.insert("group".into(), Value::from(lookup(&names.groups, g)));
    }
    let filter_id = target["deviceAndAppManagementAssignmentFilterId"]
        .as_str()
        .unwrap_or_default();
    let mode = target["deviceAndAppManagementAssignmentFilterType"]
        .as_str()
        .unwrap_or("none");
    // Graph reports "no filter" as a null id, an empty one or the all-zero GUID with mode `none`.
    if !filter_id.is_empty() && mode != "none" && filter_id.chars().any(|c| c != '0' && c != '-') {
        out.insert("filter".into(), Value::from(lookup(&names.filters, filter_id)));
        out.insert("filterMode".into(), Value::from(mode));
    }
    if let Value::Object(t) = norm(target, names) {
        for (k, v) in t {
            if !matches!(
                k.as_str(),
                "@odata.type"
                    | "groupId"
                    | "deviceAndAppManagementAssignmentFilterId"
                    | "deviceAndAppManagementAssignmentFilterType"
            ) {
                out.insert(k, v);
            }
        }
    }
    if let Value::Object(rest) = norm(a, names) {
        for (k, v) in rest {
            if !matches!(k.as_str(), "@odata.type" | "target" | "source" | "sourceId") && !v.is_null() {
                out.insert(k, v);
            }
        }
    }
    Value::Object(out)
}

/// Settings catalog `settings[]` as `{settingDefinitionId: normalized settingInstance}`.
fn keyed_settings(items: &[Value], names: &Names) -> Value {
    let mut out = Map::new();
    let mut rest = Vec::new();
    for s in items {
        match s["settingInstance"]["settingDefinitionId"].as_str() {
            Some(def) if !out.contains_key(def) => {
                out.insert(def.to_owned(), norm(&s["settingInstance"], names));
            }
            // A repeated or missing definition id cannot key a map: keep it order-free apart.
            _ => rest.push(norm(s, names)),
        }
    }
    if !rest.is_empty() {
        out.insert("(unkeyed)".into(), sorted(rest));
    }
    Value::Object(out)
}

/// An array whose objects each name a distinct definition id, as a map keyed by it.
fn by_definition_id(items: &[Value]) -> Option<Value> {
    let key = ["settingDefinitionId", "definitionId"]
        .into_iter()
        .find(|k| !items.is_empty() && items.iter().all(|i| i.get(*k).is_some_and(Value::is_string)))?;
    let mut out = Map::new();
    for i in items {
        let id = i[key].as_str()?;
        if out.insert(id.to_owned(), i.clone()).is_some() {
            return None;
        }
    }
    Some(Value::Object(out))
}

fn sorted(mut items: Vec<Value>) -> Value {
    items.sort_by_cached_key(canonical);
    Value::Array(items)
}

/// A serialization with object keys sorted, whatever the map's own order.
pub fn canonical(v: &Value) -> String {
    fn write(v: &Value, out: &mut String) {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                out.push('{');
                for (i, k) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::from(k.as_str()).to_string());
                    out.push(':');
                    write(&m[k], out);
                }
                out.push('}');
            }
            Value::Array(a) => {
                out.push('[');
                for (i, x) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(x, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    write(v, &mut out);
    out
}

fn unescape(seg: &str) -> String {
    seg.replace("~1", "/").replace("~0", "~")
}

/// Removes what the JSON pointer `ptr` names; `*` matches every key or element.
fn remove_pointer(v: &mut Value, ptr: &str) {
    let segs: Vec<String> = ptr.split('/').skip(1).map(unescape).collect();
    if !segs.is_empty() {
        remove_at(v, &segs);
    }
}

fn remove_at(v: &mut Value, segs: &[String]) {
    let (head, tail) = (&segs[0], &segs[1..]);
    match v {
        Value::Object(m) if tail.is_empty() => {
            if head == "*" {
                m.clear();
            } else {
                m.remove(head);
            }
        }
        Value::Object(m) => {
            for (k, child) in m.iter_mut() {
                if head == "*" || k == head {
                    remove_at(child, tail);
                }
            }
        }
        Value::Array(a) if tail.is_empty() => {
            if head == "*" {
                a.clear();
            } else if let Ok(i) = head.parse::<usize>()
                && i < a.len()
            {
                a.remove(i);
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter_mut().enumerate() {
                if head == "*" || head.parse::<usize>() == Ok(i) {
                    remove_at(child, tail);
                }
            }
        }
        _ => {}
    }
}

/// One property of a matched object that is not as the baseline wants it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Difference {
    /// A JSON pointer into the normalized documents (`/settings/{settingDefinitionId}/…`);
    /// inside a list, the element's index in the normalized (sorted) document of its side.
    pub path: String,
    /// What the baseline has there; `None` when the environment has something the baseline lacks.
    pub desired: Option<Value>,
    /// What the environment has there; `None` when it lacks what the baseline has.
    pub current: Option<Value>,
}

/// Every difference between two [`normalize`]d objects. Objects compare key by key; lists as
/// multisets: equal elements cancel, a single remaining pair of objects is compared inside, any
/// other remaining element is reported whole (desired-only or current-only).
pub fn compare(desired: &Value, current: &Value) -> Vec<Difference> {
    let mut out = Vec::new();
    walk("", desired, current, &mut out);
    out
}

fn push(out: &mut Vec<Difference>, path: &str, desired: Option<&Value>, current: Option<&Value>) {
    out.push(Difference {
        path: if path.is_empty() { "/".into() } else { path.into() },
        desired: desired.cloned(),
        current: current.cloned(),
    });
}

fn walk(path: &str, d: &Value, c: &Value, out: &mut Vec<Difference>) {
    match (d, c) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let p = format!("{path}/{}", escape(k));
                match (x.get(k), y.get(k)) {
                    (Some(a), Some(b)) => walk(&p, a, b, out),
                    (a, b) => push(out, &p, a, b),
                }
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            // Multiset difference by canonical form: what is left on each side, with its index.
            let mut left: BTreeMap<String, Vec<usize>> = BTreeMap::new();
            for (i, v) in y.iter().enumerate() {
                left.entry(canonical(v)).or_default().push(i);
            }
            let mut only_d = Vec::new();
            for (i, v) in x.iter().enumerate() {
                match left.get_mut(&canonical(v)).and_then(Vec::pop) {
                    Some(_) => {}
                    None => only_d.push(i),
                }
            }
            let mut only_c: Vec<usize> = left.into_values().flatten().collect();
            only_c.sort_unstable();
            if let ([i], [j]) = (only_d.as_slice(), only_c.as_slice())
                && x[*i].is_object()
                && y[*j].is_object()
            {
                return walk(&format!("{path}/{i}"), &x[*i], &y[*j], out);
            }
            for i in only_d {
                push(out, &format!("{path}/{i}"), Some(&x[i]), None);
            }
            for j in only_c {
                push(out, &format!("{path}/{j}"), None, Some(&y[j]));
            }
        }
        (a, b) if a == b => {}
        (a, b) => push(out, path, Some(a), Some(b)),
    }
}

string_enum!(
    /// What drift found for one object: `missing` (in the baseline, not in the environment),
    /// `extra` (in the environment only; reported when the profile asks) or `changed`.
    DriftKind {
        Missing = "missing",
        Extra = "extra",
        Changed = "changed",
    }
);

string_enum!(
    /// How a baseline object found its environment object; `similarity` is shown for review.
    MatchedBy {
        Id = "id",
        Name = "name",
        Similarity = "similarity",
        Override = "override",
    }
);

/// One object offered for matching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub family: String,
    pub id: String,
    pub display_name: String,
    /// Settings catalog definition ids; they make a renamed policy recognizable.
    pub setting_definition_ids: Vec<String>,
}

impl Candidate {
    /// From a stored Graph payload: `displayName` (or the settings catalog's `name`) and the
    /// definition ids of its `settings[]`.
    pub fn from_payload(family: &str, payload: &Value) -> Candidate {
        let str_at = |k: &str| payload.get(k).and_then(Value::as_str);
        let setting_definition_ids = payload["settings"]
            .as_array()
            .map(|s| {
                s.iter()
                    .filter_map(|s| s["settingInstance"]["settingDefinitionId"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        Candidate {
            family: family.into(),
            id: str_at("id").unwrap_or_default().into(),
            display_name: str_at("displayName")
                .or_else(|| str_at("name"))
                .unwrap_or_default()
                .into(),
            setting_definition_ids,
        }
    }

    fn tokens(&self) -> BTreeSet<String> {
        self.display_name
            .split(|c: char| !c.is_alphanumeric())
            .filter(|t| !t.is_empty())
            .map(str::to_lowercase)
            .chain(
                self.setting_definition_ids
                    .iter()
                    .map(|d| format!("setting:{}", d.to_lowercase())),
            )
            .collect()
    }
}

/// Token Jaccard similarity of two candidates' names and setting definition ids, 0.0 ..= 1.0.
pub fn similarity(a: &Candidate, b: &Candidate) -> f64 {
    jaccard(&a.tokens(), &b.tokens())
}

fn jaccard(a: &BTreeSet<String>, b: &BTreeSet<String>) -> f64 {
    let union = a.union(b).count();
    if union == 0 {
        return 0.0;
    }
    a.intersection(b).count() as f64 / union as f64
}

/// A baseline object and the environment object it is compared with (indices into the slices
/// given to [`match_objects`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Pair {
    pub baseline: usize,
    pub env: usize,
    pub matched_by: MatchedBy,
    /// The similarity score when matched by similarity.
    pub score: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Matching {
    /// In baseline order.
    pub pairs: Vec<Pair>,
    /// Baseline objects with no environment object (indices, ascending).
    pub missing: Vec<usize>,
    /// Environment objects no baseline object claimed (indices, ascending).
    pub extra: Vec<usize>,
}

/// Pairs baseline objects with environment objects of the same family: `overrides` (baseline
/// object id → environment object id) first, then by id when both come from one tenant, then by
/// display name (case-insensitive; among duplicates, the first unclaimed), then by similarity
/// ([`SIMILARITY_THRESHOLD`]; the highest scores are paired first). An environment object is
/// claimed at most once. The similarity pass scores every pair left over within a family, so it
/// costs (unmatched baseline × unmatched environment objects): small once ids or names matched.
pub fn match_objects(
    baseline: &[Candidate],
    env: &[Candidate],
    same_tenant: bool,
    overrides: &BTreeMap<String, String>,
) -> Matching {
    let mut b_of_env: Vec<Option<usize>> = vec![None; env.len()];
    let mut found: Vec<Option<Pair>> = vec![None; baseline.len()];
    let claim =
        |found: &mut [Option<Pair>], b_of_env: &mut [Option<usize>], bi: usize, ei: usize, by: MatchedBy, score| {
            b_of_env[ei] = Some(bi);
            found[bi] = Some(Pair {
                baseline: bi,
                env: ei,
                matched_by: by,
                score,
            });
        };

    for (bi, b) in baseline.iter().enumerate() {
        let Some(target) = overrides.get(&b.id) else { continue };
        if let Some(ei) =
            (0..env.len()).find(|&ei| b_of_env[ei].is_none() && env[ei].family == b.family && &env[ei].id == target)
        {
            claim(&mut found, &mut b_of_env, bi, ei, MatchedBy::Override, None);
        }
    }
    let key = |by: MatchedBy, c: &Candidate| match by {
        MatchedBy::Id => format!("{}\u{1f}{}", c.family, c.id),
        _ => format!("{}\u{1f}{}", c.family, c.display_name.trim().to_lowercase()),
    };
    let passes: &[MatchedBy] = if same_tenant {
        &[MatchedBy::Id, MatchedBy::Name]
    } else {
        &[MatchedBy::Name]
    };
    for &by in passes {
        let mut open: HashMap<String, Vec<usize>> = HashMap::new();
        for ei in (0..env.len()).rev().filter(|&ei| b_of_env[ei].is_none()) {
            open.entry(key(by, &env[ei])).or_default().push(ei);
        }
        for bi in 0..baseline.len() {
            if found[bi].is_some() {
                continue;
            }
            if let Some(ei) = open.get_mut(&key(by, &baseline[bi])).and_then(Vec::pop) {
                claim(&mut found, &mut b_of_env, bi, ei, by, None);
            }
        }
    }

    // Similarity among what is left, per family; greedy by best score (ties: baseline order).
    let left_b: Vec<usize> = (0..baseline.len()).filter(|&bi| found[bi].is_none()).collect();
    let left_e: Vec<usize> = (0..env.len()).filter(|&ei| b_of_env[ei].is_none()).collect();
    let e_tokens: HashMap<usize, BTreeSet<String>> = left_e.iter().map(|&ei| (ei, env[ei].tokens())).collect();
    let mut scored = Vec::new();
    for &bi in &left_b {
        let bt = baseline[bi].tokens();
        for &ei in &left_e {
            if env[ei].family != baseline[bi].family {
                continue;
            }
            let s = jaccard(&bt, &e_tokens[&ei]);
            if s >= SIMILARITY_THRESHOLD {
                scored.push((s, bi, ei));
            }
        }
    }
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    for (s, bi, ei) in scored {
        if found[bi].is_none() && b_of_env[ei].is_none() {
            claim(&mut found, &mut b_of_env, bi, ei, MatchedBy::Similarity, Some(s));
        }
    }

    Matching {
        missing: (0..baseline.len()).filter(|&bi| found[bi].is_none()).collect(),
        extra: (0..env.len()).filter(|&ei| b_of_env[ei].is_none()).collect(),
        pairs: found.into_iter().flatten().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const RTM: &str = "device_vendor_msft_policy_config_defender_allowrealtimemonitoring";
    const ARCHIVE: &str = "device_vendor_msft_policy_config_defender_allowarchivescanning";
    const ASR: &str = "device_vendor_msft_policy_config_defender_attacksurfacereductionrules";

    fn choice(def: &str, value: &str) -> Value {
        json!({"@odata.type": "#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance",
               "settingDefinitionId": def,
               "choiceSettingValue": {"value": format!("{def}_{value}"), "children": []}})
    }

    fn asr(children: Vec<Value>) -> Value {
        json!({"@odata.type": "#microsoft.graph.deviceManagementConfigurationGroupSettingCollectionInstance",
               "settingDefinitionId": ASR,
               "groupSettingCollectionValue": [{"children": children}]})
    }

    /// A settings catalog policy as Graph returns it with `$expand=settings,assignments`.
    fn policy(
        id: &str,
        stamp: &str,
        setting_ids: [&str; 3],
        settings_order: [usize; 3],
        tags: Value,
        assignments: Value,
    ) -> Value {
        let settings = [
            choice(RTM, "1"),
            choice(ARCHIVE, "1"),
            asr(vec![
                choice(&format!("{ASR}_blockexecutable"), "block"),
                choice(&format!("{ASR}_blockofficemacros"), "audit"),
            ]),
        ];
        let settings: Vec<Value> = settings_order
            .iter()
            .map(|&i| json!({"id": setting_ids[i], "settingInstance": settings[i]}))
            .collect();
        json!({
            "@odata.context": format!("https://graph.microsoft.com/beta/$metadata#deviceManagement/configurationPolicies('{id}')"),
            "@odata.type": "#microsoft.graph.deviceManagementConfigurationPolicy",
            "id": id, "name": "Windows - Defender AV", "description": "Corp AV baseline",
            "platforms": "windows10", "technologies": "mdm",
            "createdDateTime": stamp, "lastModifiedDateTime": stamp, "settingCount": 3, "isAssigned": true,
            "roleScopeTagIds@odata.type": "#Collection(String)", "roleScopeTagIds": tags,
            "settings@odata.context": format!("https://graph.microsoft.com/beta/$metadata#deviceManagement/configurationPolicies('{id}')/settings"),
            "settings": settings,
            "assignments": assignments,
        })
    }

    fn group_assignment(policy: &str, group: &str, filter: Option<(&str, &str)>) -> Value {
        let (fid, mode) = filter.unwrap_or(("00000000-0000-0000-0000-000000000000", "none"));
        json!({"@odata.type": "#microsoft.graph.deviceManagementConfigurationPolicyAssignment",
               "id": format!("{policy}_{group}"), "source": "direct", "sourceId": policy,
               "target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": group,
                          "deviceAndAppManagementAssignmentFilterId": fid,
                          "deviceAndAppManagementAssignmentFilterType": mode}})
    }

    fn all_devices(policy: &str) -> Value {
        json!({"@odata.type": "#microsoft.graph.deviceManagementConfigurationPolicyAssignment",
               "id": format!("{policy}_adadadad"), "source": "direct", "sourceId": policy,
               "target": {"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget",
                          "deviceAndAppManagementAssignmentFilterId": null,
                          "deviceAndAppManagementAssignmentFilterType": "none"}})
    }

    /// Tenant A's names and tenant B's: different ids, the same display names.
    fn names() -> (Names, Names) {
        let a = Names::default()
            .group("g-staff-a", "All Staff")
            .group("g-pilot-a", "Pilot devices")
            .filter("f-corp-a", "Corporate devices")
            .scope_tag("7", "EMEA")
            .scope_tag("9", "Servers");
        let b = Names::default()
            .group("g-staff-b", "All Staff")
            .group("g-pilot-b", "Pilot devices")
            .group("g-other-b", "Contractors")
            .filter("f-corp-b", "Corporate devices")
            .scope_tag("12", "EMEA")
            .scope_tag("4", "Servers");
        (a, b)
    }

    fn desired() -> Value {
        policy(
            "p-a",
            "2026-01-01T00:00:00Z",
            ["0", "1", "2"],
            [0, 1, 2],
            json!(["0", "7", "9"]),
            json!([
                group_assignment("p-a", "g-staff-a", Some(("f-corp-a", "include"))),
                all_devices("p-a")
            ]),
        )
    }

    #[test]
    fn an_unchanged_object_with_reordered_lists_new_stamps_reissued_ids_and_other_tag_ids_has_no_difference() {
        let (na, nb) = names();
        let d = normalize("configurationPolicies", &desired(), &na, &[]);
        let mut current = policy(
            "p-b",
            "2026-03-04T05:06:07Z",
            ["5", "3", "4"],
            [2, 0, 1],
            json!(["4", "12", "0"]),
            json!([
                all_devices("p-b"),
                group_assignment("p-b", "g-staff-b", Some(("f-corp-b", "include")))
            ]),
        );
        // Children of a group collection reordered too.
        let children = current["settings"][0]["settingInstance"]["groupSettingCollectionValue"][0]["children"]
            .as_array_mut()
            .unwrap();
        children.reverse();
        let c = normalize("configurationPolicies", &current, &nb, &[]);
        assert_eq!(compare(&d, &c), vec![], "{d:#}\n{c:#}");
        // Normalization kept what matters and dropped what does not.
        assert_eq!(d["settings"][RTM]["choiceSettingValue"]["value"], format!("{RTM}_1"));
        assert_eq!(d["roleScopeTagIds"], json!(["Default", "EMEA", "Servers"]));
        assert_eq!(d["@odata.type"], "#microsoft.graph.deviceManagementConfigurationPolicy");
        for gone in [
            "id",
            "@odata.context",
            "createdDateTime",
            "lastModifiedDateTime",
            "settingCount",
            "settings@odata.context",
            "roleScopeTagIds@odata.type",
        ] {
            assert!(d.get(gone).is_none(), "{gone} kept");
        }
        assert_eq!(
            d["assignments"],
            json!([{"target": "group", "group": "All Staff", "filter": "Corporate devices", "filterMode": "include"},
                   {"target": "allDevices"}])
        );
        // A scope tag with another name is a difference, though the ids are unchanged.
        let renamed = na.clone().scope_tag("7", "APAC");
        let diffs = compare(&d, &normalize("configurationPolicies", &desired(), &renamed, &[]));
        assert_eq!(diffs.len(), 2, "{diffs:?}");
        assert_eq!(diffs[0].desired, Some(json!("EMEA")));
        assert_eq!(diffs[1].current, Some(json!("APAC")));
    }

    #[test]
    fn a_changed_setting_value_is_one_difference_with_its_path_and_both_values() {
        let (na, _) = names();
        let mut current = desired();
        current["lastModifiedDateTime"] = json!("2026-02-02T00:00:00Z");
        current["settings"][0]["settingInstance"]["choiceSettingValue"]["value"] = json!(format!("{RTM}_0"));
        let diffs = compare(
            &normalize("configurationPolicies", &desired(), &na, &[]),
            &normalize("configurationPolicies", &current, &na, &[]),
        );
        assert_eq!(
            diffs,
            vec![Difference {
                path: format!("/settings/{RTM}/choiceSettingValue/value"),
                desired: Some(json!(format!("{RTM}_1"))),
                current: Some(json!(format!("{RTM}_0"))),
            }]
        );

        // A child of a group collection: keyed by its definition id too.
        let mut current = desired();
        current["settings"][2]["settingInstance"]["groupSettingCollectionValue"][0]["children"][1]["choiceSettingValue"]
            ["value"] = json!("x_block");
        let diffs = compare(
            &normalize("configurationPolicies", &desired(), &na, &[]),
            &normalize("configurationPolicies", &current, &na, &[]),
        );
        assert_eq!(diffs.len(), 1, "{diffs:?}");
        assert_eq!(
            diffs[0].path,
            format!(
                "/settings/{ASR}/groupSettingCollectionValue/0/children/{ASR}_blockofficemacros/choiceSettingValue/value"
            )
        );

        // A setting removed in the environment: desired only.
        let mut current = desired();
        current["settings"].as_array_mut().unwrap().remove(1);
        let diffs = compare(
            &normalize("configurationPolicies", &desired(), &na, &[]),
            &normalize("configurationPolicies", &current, &na, &[]),
        );
        assert_eq!(diffs.len(), 1);
        assert_eq!(diffs[0].path, format!("/settings/{ARCHIVE}"));
        assert!(diffs[0].desired.is_some() && diffs[0].current.is_none());
    }

    #[test]
    fn assignments_compare_by_group_and_filter_name_across_tenants() {
        let (na, nb) = names();
        let with = |a: Value| {
            let mut p = desired();
            p["roleScopeTagIds"] = json!(["12", "4", "0"]);
            p["assignments"] = a;
            p
        };
        let d = normalize("configurationPolicies", &desired(), &na, &[]);
        let same = with(json!([
            group_assignment("x", "g-staff-b", Some(("f-corp-b", "include"))),
            all_devices("x")
        ]));
        assert_eq!(
            compare(&d, &normalize("configurationPolicies", &same, &nb, &[])),
            vec![]
        );

        // Another group: one difference, naming both groups.
        let other = with(json!([
            group_assignment("x", "g-other-b", Some(("f-corp-b", "include"))),
            all_devices("x")
        ]));
        let diffs = compare(&d, &normalize("configurationPolicies", &other, &nb, &[]));
        assert_eq!(diffs.len(), 1, "{diffs:?}");
        assert!(diffs[0].path.starts_with("/assignments/"), "{}", diffs[0].path);
        assert!(diffs[0].path.ends_with("/group"), "{}", diffs[0].path);
        assert_eq!(diffs[0].desired, Some(json!("All Staff")));
        assert_eq!(diffs[0].current, Some(json!("Contractors")));

        // The same group with the filter now excluding: a difference in the mode.
        let mode = with(json!([
            group_assignment("x", "g-staff-b", Some(("f-corp-b", "exclude"))),
            all_devices("x")
        ]));
        let diffs = compare(&d, &normalize("configurationPolicies", &mode, &nb, &[]));
        assert_eq!(diffs.len(), 1, "{diffs:?}");
        assert!(diffs[0].path.ends_with("/filterMode"));

        // The group is unknown to the environment's names: never equal by accident.
        let unknown = with(json!([
            group_assignment("x", "g-staff-a", Some(("f-corp-b", "include"))),
            all_devices("x")
        ]));
        let diffs = compare(&d, &normalize("configurationPolicies", &unknown, &nb, &[]));
        assert_eq!(diffs.len(), 1);
        assert_eq!(diffs[0].current, Some(json!("unresolved:g-staff-a")));

        // An assignment removed: desired only, whole.
        let fewer = with(json!([all_devices("x")]));
        let diffs = compare(&d, &normalize("configurationPolicies", &fewer, &nb, &[]));
        assert_eq!(diffs.len(), 1);
        assert_eq!(diffs[0].current, None);
        assert_eq!(diffs[0].desired.as_ref().unwrap()["group"], "All Staff");
    }

    #[test]
    fn ignored_properties_suppress_their_difference_on_both_sides() {
        let (na, _) = names();
        let mut current = desired();
        current["description"] = json!("edited in the portal");
        current["settings"][1]["settingInstance"]["choiceSettingValue"]["value"] = json!(format!("{ARCHIVE}_0"));
        current["assignments"][0]["intent"] = json!("apply");
        let run = |ignored: &[String]| {
            compare(
                &normalize("configurationPolicies", &desired(), &na, ignored),
                &normalize("configurationPolicies", &current, &na, ignored),
            )
        };
        let paths = |d: Vec<Difference>| d.into_iter().map(|d| d.path).collect::<Vec<_>>();
        assert_eq!(paths(run(&[])).len(), 3);
        assert_eq!(
            paths(run(&["/description".into()])),
            vec![
                format!("/assignments/0/intent"),
                format!("/settings/{ARCHIVE}/choiceSettingValue/value")
            ]
        );
        let all = [
            "/description".to_string(),
            format!("/settings/{ARCHIVE}"),
            "/assignments/*/intent".into(),
        ];
        assert_eq!(run(&all), vec![]);
        // Escaped pointer segments name keys holding `/` or `~`.
        let mut odd = json!({"a/b": 1, "c~d": 2, "keep": 3});
        remove_pointer(&mut odd, "/a~1b");
        remove_pointer(&mut odd, "/c~0d");
        assert_eq!(odd, json!({"keep": 3}));
    }

    #[test]
    fn scalar_lists_are_order_free_and_nested_ids_and_annotations_go() {
        let n = Names::default();
        let a = json!({"@odata.type": "#microsoft.graph.windows10GeneralConfiguration", "id": "1",
                       "defenderFileExtensionsToExclude": ["pst", "ost", "tmp"],
                       "omaSettings": [{"id": "s1", "omaUri": "./A", "value": 1}, {"id": "s2", "omaUri": "./B", "value": 2}]});
        let b = json!({"@odata.type": "#microsoft.graph.windows10GeneralConfiguration", "id": "2",
                       "defenderFileExtensionsToExclude": ["tmp", "pst", "ost"],
                       "omaSettings@odata.context": "x",
                       "omaSettings": [{"id": "t2", "omaUri": "./B", "value": 2}, {"id": "t1", "omaUri": "./A", "value": 1}]});
        let (na, nb) = (
            normalize("deviceConfigurations", &a, &n, &[]),
            normalize("deviceConfigurations", &b, &n, &[]),
        );
        assert_eq!(compare(&na, &nb), vec![]);
        // A different type is a difference: the type decides what the object is.
        let mut c = b.clone();
        c["@odata.type"] = json!("#microsoft.graph.windows10CustomConfiguration");
        assert_eq!(compare(&na, &normalize("deviceConfigurations", &c, &n, &[])).len(), 1);
        // One extension added: reported alone, current only.
        let mut c = b.clone();
        c["defenderFileExtensionsToExclude"]
            .as_array_mut()
            .unwrap()
            .push(json!("bak"));
        let diffs = compare(&na, &normalize("deviceConfigurations", &c, &n, &[]));
        assert_eq!(diffs.len(), 1, "{diffs:?}");
        assert_eq!(
            (diffs[0].desired.clone(), diffs[0].current.clone()),
            (None, Some(json!("bak")))
        );
        // A family's service-computed properties are not compared.
        let f1 = json!({"displayName": "f", "rule": "r", "payloads": [{"payloadId": "x"}]});
        let f2 = json!({"displayName": "f", "rule": "r", "payloads": []});
        assert_eq!(
            compare(
                &normalize("assignmentFilters", &f1, &n, &[]),
                &normalize("assignmentFilters", &f2, &n, &[])
            ),
            vec![]
        );
        assert_eq!(
            compare(
                &normalize("deviceConfigurations", &f1, &n, &[]),
                &normalize("deviceConfigurations", &f2, &n, &[])
            )
            .len(),
            1
        );
    }

    /// Every array at every depth shuffled, every `id` re-issued, every stamp moved.
    fn scramble(v: &mut Value, g: &mut crate::redact::tests::Gen) {
        match v {
            Value::Array(a) => {
                for i in (1..a.len()).rev() {
                    a.swap(i, g.below(i as u64 + 1) as usize);
                }
                a.iter_mut().for_each(|x| scramble(x, g));
            }
            Value::Object(m) => {
                for (k, x) in m.iter_mut() {
                    match k.as_str() {
                        "id" => *x = json!(format!("reissued-{}", g.below(1_000_000))),
                        "createdDateTime" | "lastModifiedDateTime" => {
                            *x = json!(format!("2026-0{}-01T00:00:00Z", 1 + g.below(9)))
                        }
                        _ => scramble(x, g),
                    }
                }
            }
            _ => {}
        }
    }

    #[test]
    fn any_reordering_reissue_or_restamp_normalizes_to_the_same_document() {
        let (na, _) = names();
        let d = normalize("configurationPolicies", &desired(), &na, &[]);
        for seed in 0..200u64 {
            let mut g = crate::redact::tests::Gen::new(seed);
            let mut c = desired();
            scramble(&mut c, &mut g);
            let n = normalize("configurationPolicies", &c, &na, &[]);
            assert_eq!(compare(&d, &n), vec![], "seed {seed}");
            assert_eq!(canonical(&d), canonical(&n), "seed {seed}");
        }
    }

    fn cand(family: &str, id: &str, name: &str, settings: &[&str]) -> Candidate {
        Candidate {
            family: family.into(),
            id: id.into(),
            display_name: name.into(),
            setting_definition_ids: settings.iter().map(|s| s.to_string()).collect(),
        }
    }

    const DEFS: [&str; 6] = ["d.rtm", "d.archive", "d.cloud", "d.pua", "d.scan_day", "d.signature"];

    #[test]
    fn same_tenant_matches_by_family_and_id_even_when_renamed() {
        let base = [
            cand("configurationPolicies", "1", "AV", &DEFS),
            cand("deviceConfigurations", "2", "Wi-Fi", &[]),
        ];
        let env = [
            cand("deviceConfigurations", "2", "Wi-Fi corp", &[]),
            cand("configurationPolicies", "1", "Totally other name", &[]),
            cand("configurationPolicies", "3", "New one", &[]),
        ];
        let m = match_objects(&base, &env, true, &BTreeMap::new());
        assert_eq!(
            m.pairs,
            vec![
                Pair {
                    baseline: 0,
                    env: 1,
                    matched_by: MatchedBy::Id,
                    score: None
                },
                Pair {
                    baseline: 1,
                    env: 0,
                    matched_by: MatchedBy::Id,
                    score: None
                },
            ]
        );
        assert_eq!((m.missing, m.extra), (vec![], vec![2]));
        // Across tenants the same ids mean nothing: only names match.
        let m = match_objects(&base, &env, false, &BTreeMap::new());
        assert!(m.pairs.iter().all(|p| p.matched_by != MatchedBy::Id), "{m:?}");
    }

    #[test]
    fn cross_tenant_matches_by_family_and_display_name() {
        let base = [
            cand("configurationPolicies", "a1", "Windows - Defender AV", &DEFS),
            cand("deviceConfigurations", "a2", "Wi-Fi", &[]),
        ];
        let env = [
            // Same name, other family: not a match.
            cand("deviceCompliancePolicies", "b0", "Wi-Fi", &[]),
            cand("deviceConfigurations", "b1", "wi-fi ", &[]),
            cand("configurationPolicies", "b2", "Windows - Defender AV", &DEFS[..2]),
        ];
        let m = match_objects(&base, &env, false, &BTreeMap::new());
        assert_eq!(
            m.pairs,
            vec![
                Pair {
                    baseline: 0,
                    env: 2,
                    matched_by: MatchedBy::Name,
                    score: None
                },
                Pair {
                    baseline: 1,
                    env: 1,
                    matched_by: MatchedBy::Name,
                    score: None
                },
            ]
        );
        assert_eq!((m.missing, m.extra), (vec![], vec![0]));
    }

    #[test]
    fn a_renamed_object_is_matched_by_similarity_and_marked_so_never_missing_plus_extra() {
        let base = [cand(
            "configurationPolicies",
            "a1",
            "Windows - Defender AV baseline",
            &DEFS,
        )];
        let renamed = [
            cand(
                "configurationPolicies",
                "b9",
                "Unrelated kiosk lockdown",
                &["k.1", "k.2"],
            ),
            cand(
                "configurationPolicies",
                "b1",
                "Windows - Defender AV baseline v2",
                &DEFS,
            ),
        ];
        let s = similarity(&base[0], &renamed[1]);
        assert!(s >= SIMILARITY_THRESHOLD, "{s}");
        let m = match_objects(&base, &renamed, false, &BTreeMap::new());
        assert_eq!(m.pairs.len(), 1);
        assert_eq!((m.pairs[0].env, m.pairs[0].matched_by), (1, MatchedBy::Similarity));
        assert_eq!(m.pairs[0].score, Some(s));
        assert_eq!((m.missing, m.extra), (vec![], vec![0]));
        // Also in the same tenant when the object was recreated under another id.
        let m = match_objects(&base, &renamed, true, &BTreeMap::new());
        assert_eq!(m.pairs[0].matched_by, MatchedBy::Similarity);

        // Below the threshold: missing and extra, no pair.
        let far = [cand("configurationPolicies", "b1", "Windows - Defender", &DEFS[..3])];
        assert!(similarity(&base[0], &far[0]) < SIMILARITY_THRESHOLD);
        let m = match_objects(&base, &far, false, &BTreeMap::new());
        assert_eq!((m.pairs, m.missing, m.extra), (vec![], vec![0], vec![0]));

        // Greedy by best score: the closest candidate wins, the other stays extra.
        let two = [
            cand(
                "configurationPolicies",
                "b1",
                "Windows Defender AV baseline (old)",
                &DEFS[..5],
            ),
            cand(
                "configurationPolicies",
                "b2",
                "Windows - Defender AV baseline v2",
                &DEFS,
            ),
        ];
        let m = match_objects(&base, &two, false, &BTreeMap::new());
        assert!(similarity(&base[0], &two[1]) > similarity(&base[0], &two[0]));
        assert!(similarity(&base[0], &two[0]) >= SIMILARITY_THRESHOLD);
        assert_eq!((m.pairs[0].env, m.extra.clone()), (1, vec![0]));
    }

    #[test]
    fn an_override_wins_over_id_name_and_similarity() {
        let base = [
            cand("configurationPolicies", "a1", "AV", &DEFS),
            cand("configurationPolicies", "a2", "Firewall", &[]),
        ];
        let env = [
            cand("configurationPolicies", "a1", "AV", &DEFS),
            cand("configurationPolicies", "b7", "Legacy AV", &[]),
        ];
        let overrides: BTreeMap<String, String> = [("a1".to_string(), "b7".to_string())].into();
        let m = match_objects(&base, &env, true, &overrides);
        assert_eq!(
            m.pairs,
            vec![Pair {
                baseline: 0,
                env: 1,
                matched_by: MatchedBy::Override,
                score: None
            }]
        );
        // The env object the id would have matched is not claimed by anyone else.
        assert_eq!((m.missing, m.extra), (vec![1], vec![0]));
        // An override naming an object of another family is not followed.
        let env = [cand("deviceConfigurations", "b7", "Legacy AV", &[])];
        let m = match_objects(&base[..1], &env, true, &overrides);
        assert_eq!((m.pairs, m.missing, m.extra), (vec![], vec![0], vec![0]));
    }

    #[test]
    fn candidates_read_name_and_setting_ids_from_payloads() {
        let c = Candidate::from_payload("configurationPolicies", &desired());
        assert_eq!(
            (c.id.as_str(), c.display_name.as_str()),
            ("p-a", "Windows - Defender AV")
        );
        assert_eq!(c.setting_definition_ids, vec![RTM, ARCHIVE, ASR]);
        let c = Candidate::from_payload("deviceConfigurations", &json!({"id": "x", "displayName": "Wi-Fi"}));
        assert_eq!((c.display_name.as_str(), c.setting_definition_ids.len()), ("Wi-Fi", 0));
    }

    #[test]
    fn drift_codes_round_trip_through_serde() {
        for k in DriftKind::ALL {
            let s = serde_json::to_string(k).unwrap();
            assert_eq!(s, format!("\"{}\"", k.as_str()));
            assert_eq!(serde_json::from_str::<DriftKind>(&s).unwrap(), *k);
        }
        assert_eq!(serde_json::to_value(DriftKind::Missing).unwrap(), json!("missing"));
        assert_eq!(
            serde_json::to_value(MatchedBy::Similarity).unwrap(),
            json!("similarity")
        );
    }
}
