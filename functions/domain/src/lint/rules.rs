//! The rule catalogue and the checks. Each check reads the payloads as Graph documents them
//! (property names are cited in each rule's rationale) and returns what it found; [`super::run`]
//! adds the rule id and the effective severity.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use base64::Engine as _;
use serde_json::Value;

use super::{ASSIGNABLE_FAMILIES, LintHit, LintInput, LintObject, LintSettings, NamePattern, RuleInfo, Severity};

const SCRIPTS: &[&str] = &["deviceManagementScripts", "deviceShellScripts", "deviceHealthScripts"];
const DC: &[&str] = &["deviceConfigurations"];
const COMPLIANCE: &[&str] = &["deviceCompliancePolicies"];
const SC: &[&str] = &["configurationPolicies"];
const APP: &[&str] = &["managedAppPolicies"];
const FILTERS: &[&str] = &["assignmentFilters"];

macro_rules! rules {
    ($($id:literal, $sev:ident, $fam:expr, $title:literal, $why:literal, $fix:literal;)*) => {
        /// Every lint rule, in id order.
        pub static RULES: &[RuleInfo] = &[$(RuleInfo {
            id: $id, title: $title, severity: Severity::$sev, rationale: $why, fix_hint: $fix, families: $fam,
        }),*];
    };
}

rules! {
    "LINT001", Low, ASSIGNABLE_FAMILIES, "Unassigned policy",
        "The object's `assignments` collection is empty: it applies to no user or device and only adds noise to reviews and restores.",
        "Assign it to the intended groups, or delete it (a backup keeps it restorable).";
    "LINT002", High, ASSIGNABLE_FAMILIES, "Assignment to a group that no longer exists",
        "An assignment `target.groupId` (groupAssignmentTarget / exclusionGroupAssignmentTarget) names a group that is not in the directory: the include reaches nobody, and a deleted exclusion silently widens the scope.",
        "Remove the assignment or point it at the replacement group.";
    "LINT003", Medium, ASSIGNABLE_FAMILIES, "Assignment to an empty group",
        "An include `groupAssignmentTarget.groupId` names a group with no members: the policy is effectively unassigned for that target.",
        "Populate the group, fix its dynamic membership rule, or remove the assignment.";
    "LINT004", Medium, &[], "All Users / All Devices on a high-risk family",
        "A target of `allLicensedUsersAssignmentTarget` or `allDevicesAssignmentTarget` on a family the workspace marks high-risk (scripts, feature updates by default): one mistake reaches every device at once.",
        "Target a pilot ring group first; widen through groups, with filters where needed.";
    "LINT005", High, &["configurationPolicies", "deviceConfigurations"], "Conflicting setting values across overlapping targets",
        "Two policies set the same single-valued setting (settings catalog choice/simple `settingInstance.settingDefinitionId`; a device configuration's scalar property, or one level into an object property, of the same `@odata.type`; a custom profile's `omaSettings[].omaUri`) to different values and their include targets overlap (a common group, or All Users / All Devices): Intune reports a conflict and applies neither reliably. Multi-instance profiles (Wi-Fi, VPN, certificates, e-mail, custom payloads) and collections are not compared property by property.",
        "Keep the setting in one policy, or make the targets disjoint.";
    "LINT006", Low, &[], "Identical duplicate",
        "Two objects of one family have the same content once names, ids, timestamps, scope tags and assignments are set aside: a duplicate drifts independently and doubles review work.",
        "Merge the assignments into one object and delete the other.";
    "LINT007", Low, &[], "Name does not follow the workspace convention",
        "`displayName` (settings catalog: `name`) matches none of the workspace's naming patterns; consistent names make ownership and platform obvious.",
        "Rename the object to match a pattern from the workspace settings.";
    "LINT008", Info, &[], "Missing description",
        "`description` is empty: reviewers cannot tell the object's purpose or owner.",
        "Describe the purpose, owner and change ticket in `description`.";
    "LINT009", Medium, &[], "Missing scope tag",
        "The workspace requires a scope tag, and `roleScopeTagIds` (filters: `roleScopeTags`) holds only `0` (Default) or nothing: delegated admins cannot be limited to it.",
        "Add the owning team's scope tag.";
    "LINT010", Low, ASSIGNABLE_FAMILIES, "Stale: unassigned and untouched",
        "No assignments and `lastModifiedDateTime` older than the workspace's `stale_days`: most likely abandoned.",
        "Delete it (the backup keeps it) or assign it.";
    "LINT011", Low, FILTERS, "Unused assignment filter",
        "No assignment in the evaluated objects references the filter's id in `target.deviceAndAppManagementAssignmentFilterId`.",
        "Delete the filter, or use it. Evaluate on a full inventory: a partial backup set makes filters look unused.";
    "LINT012", High, COMPLIANCE, "Compliance policy without noncompliance actions",
        "`scheduledActionsForRule[].scheduledActionConfigurations` is empty: Graph requires a `block` action (mark noncompliant), so the policy never flags a device.",
        "Add the `block` action (grace period as per workspace policy) and a notification.";
    "LINT013", Low, COMPLIANCE, "Compliance policy never notifies",
        "The only `scheduledActionConfigurations[].actionType` is `block`: users are never told (`notification` / `pushNotification`) why access stops.",
        "Add a notification action with a message template.";
    "LINT014", Medium, COMPLIANCE, "Compliance grace period too long",
        "The `block` action's `gracePeriodHours` exceeds the workspace's `compliance_max_grace_hours`: noncompliant devices keep access for that long.",
        "Lower `gracePeriodHours` on the block action.";
    "LINT015", High, &["deviceManagementScripts", "deviceHealthScripts"], "Script runs as SYSTEM without signature check",
        "`runAsAccount` is `system` and `enforceSignatureCheck` is not `true`: any change to the script body runs with full device privileges unchecked.",
        "Sign the script and set `enforceSignatureCheck`, or run it as `user`.";
    "LINT016", Medium, SCRIPTS, "Script with an empty body",
        "`scriptContent` (remediations: `detectionScriptContent`) is empty or only whitespace once base64-decoded: the assignment does nothing.",
        "Upload the script content or delete the object.";
    "LINT017", Medium, &["deviceConfigurations", "deviceCompliancePolicies"], "Password shorter than the minimum",
        "`passwordMinimumLength` / `passcodeMinimumLength` / `workProfilePasswordMinimumLength` is below the workspace minimum (`password_min_length`, 14 per the CIS / Intune Windows baseline, for `#microsoft.graph.windows*` types; `mobile_passcode_min_length`, 6, otherwise).",
        "Raise the minimum length.";
    "LINT018", Medium, COMPLIANCE, "Mobile compliance does not require a password",
        "An iOS or Android compliance policy has `passcodeRequired` / `passwordRequired` / `workProfilePasswordRequired` set to `false`: unlocked devices count as compliant.",
        "Require a passcode.";
    "LINT019", High, &["deviceConfigurations", "deviceCompliancePolicies"], "BitLocker not required",
        "`windows10CompliancePolicy.bitLockerEnabled` is `false` (and `storageRequireEncryption` is not `true`), or a `windows10EndpointProtectionConfiguration` configures BitLocker drive policies but `bitLockerEncryptDevice` is `false`.",
        "Require BitLocker (`bitLockerEnabled` / `bitLockerEncryptDevice`).";
    "LINT020", Medium, DC, "BitLocker encryption method weaker than the minimum",
        "`bitLockerSystemDrivePolicy.encryptionMethod` or `bitLockerFixedDrivePolicy.encryptionMethod` is weaker than `bitlocker_min_method` (order: `aesCbc128` < `aesCbc256` < `xtsAes128` < `xtsAes256`; XTS-AES is Microsoft's recommendation for OS and fixed drives; removable drives may keep CBC for compatibility).",
        "Set the encryption method to XTS-AES 128 or 256.";
    "LINT021", High, &["deviceConfigurations", "configurationPolicies"], "Firewall turned off",
        "`firewallProfileDomain|Private|Public.firewallEnabled` is `blocked` (turns the firewall off) in an endpoint protection profile, or a settings catalog `…_enablefirewall` setting is `…_false`.",
        "Set the profile's firewall to enabled (`allowed` / `…_true`).";
    "LINT022", High, &["deviceConfigurations", "configurationPolicies"], "Defender real-time protection off",
        "Settings catalog `device_vendor_msft_policy_config_defender_allowrealtimemonitoring` is `…_0`, or a `windows10GeneralConfiguration` configures Defender (`defender*`) with `defenderRequireRealTimeMonitoring` `false`.",
        "Turn real-time monitoring on.";
    "LINT023", Low, SC, "Settings catalog policy with no settings",
        "`settings` is empty (or `settingCount` is 0): the policy configures nothing.",
        "Add the intended settings or delete the policy.";
    "LINT024", Low, &[], "Duplicate display name",
        "Two objects of one family share a name (case-insensitive): restores and reviews that go by name are ambiguous.",
        "Give each object a unique name.";
    "LINT025", Medium, &["windowsAutopilotDeploymentProfiles"], "Autopilot makes users local administrators",
        "`outOfBoxExperienceSettings.userType` (newer beta: `outOfBoxExperienceSetting.userType`) is `administrator`: the enrolling user gets local admin rights.",
        "Set the user account type to `standard`.";
    "LINT026", Medium, APP, "App protection without PIN",
        "`pinRequired` is `false`: corporate data in managed apps opens without an app PIN.",
        "Require a PIN (`pinRequired`).";
    "LINT027", Medium, &[], "Test or copied object assigned to everyone",
        "The name carries a test marker (workspace `test_name_markers`: `Copy of …`, `test` …) and a target is `allLicensedUsersAssignmentTarget` or `allDevicesAssignmentTarget`.",
        "Assign test objects to a pilot group; rename copies once they are production.";
    "LINT028", Medium, ASSIGNABLE_FAMILIES, "Assigned only to exclusion groups",
        "Every assignment is an `exclusionGroupAssignmentTarget`: with no include target the object applies to nobody.",
        "Add an include target or remove the assignments.";
    "LINT029", Medium, ASSIGNABLE_FAMILIES, "Same group included and excluded",
        "A `groupId` appears both as `groupAssignmentTarget` and as `exclusionGroupAssignmentTarget`: exclusion wins, so the include is dead.",
        "Remove one of the two assignments.";
    "LINT030", High, ASSIGNABLE_FAMILIES, "Assignment filter that does not exist",
        "`target.deviceAndAppManagementAssignmentFilterId` names no known assignment filter: the assignment's scope is undefined and a restore will fail on it.",
        "Point the assignment at an existing filter or remove the filter from it.";
    "LINT031", Medium, &[], "Scope tag that does not exist",
        "`roleScopeTagIds` (filters: `roleScopeTags`) names a tag that is not among the tenant's `roleScopeTags` (or `0`, Default).",
        "Remove the stale tag id or recreate the tag.";
    "LINT032", Low, APP, "App protection PIN shorter than the minimum",
        "`minimumPinLength` is below the workspace's `app_pin_min_length` while a PIN is required (`pinRequired`).",
        "Raise `minimumPinLength`.";
    "LINT033", Info, ASSIGNABLE_FAMILIES, "Too many assignments",
        "More `assignments` than the workspace's `max_assignments`: hard to review; a policy set or a single group is clearer.",
        "Consolidate targets into fewer groups.";
}

/// A detection before the rule id and severity are added.
pub(crate) struct Found {
    family: String,
    object_id: String,
    object_name: String,
    property: Option<String>,
    message: String,
    related: Vec<String>,
}

impl Found {
    pub(crate) fn into_hit(self, rule_id: &str, severity: Severity) -> LintHit {
        LintHit {
            rule_id: rule_id.into(),
            severity,
            family: self.family,
            object_id: self.object_id,
            object_name: self.object_name,
            property: self.property,
            message: self.message,
            related: self.related,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    AllUsers,
    AllDevices,
    Include,
    Exclude,
    Other,
}

struct Target<'a> {
    index: usize,
    kind: Kind,
    group: Option<&'a str>,
    filter: Option<&'a str>,
}

struct Obj<'a> {
    o: &'a LintObject,
    name: &'a str,
    name_prop: &'static str,
    /// `None`: the payload has no `assignments` array (not read, or not assignable).
    targets: Option<Vec<Target<'a>>>,
}

impl Obj<'_> {
    fn p(&self) -> &Value {
        &self.o.payload
    }

    fn str(&self, key: &str) -> Option<&str> {
        self.p().get(key).and_then(Value::as_str)
    }

    fn bool(&self, key: &str) -> Option<bool> {
        self.p().get(key).and_then(Value::as_bool)
    }

    fn odata(&self) -> &str {
        self.str("@odata.type").unwrap_or("")
    }

    fn found(&self, property: Option<String>, message: String) -> Found {
        Found {
            family: self.o.family.clone(),
            object_id: self.o.id.clone(),
            object_name: self.name.to_string(),
            property,
            message,
            related: Vec::new(),
        }
    }

    fn targets(&self) -> &[Target<'_>] {
        self.targets.as_deref().unwrap_or(&[])
    }

    fn broad(&self) -> bool {
        self.targets()
            .iter()
            .any(|t| matches!(t.kind, Kind::AllUsers | Kind::AllDevices))
    }
}

pub(crate) struct Ctx<'a> {
    s: &'a LintSettings,
    now_ms: i64,
    objs: Vec<Obj<'a>>,
    groups: Option<&'a BTreeMap<String, super::GroupInfo>>,
    /// Filter id → name.
    filters: Option<BTreeMap<String, String>>,
    tags: Option<BTreeSet<String>>,
    patterns: Vec<NamePattern>,
}

const NULL_GUID: &str = "00000000-0000-0000-0000-000000000000";

/// Every group id an object's assignments name (include or exclude).
pub(crate) fn group_ids(p: &Value) -> Vec<&str> {
    parse_targets(p)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|t| t.group)
        .collect()
}

fn parse_targets(p: &Value) -> Option<Vec<Target<'_>>> {
    let list = p.get("assignments")?.as_array()?;
    Some(
        list.iter()
            .enumerate()
            .map(|(index, a)| {
                let t = a.get("target").unwrap_or(&Value::Null);
                let kind = match t.get("@odata.type").and_then(Value::as_str).unwrap_or("") {
                    "#microsoft.graph.allLicensedUsersAssignmentTarget" => Kind::AllUsers,
                    "#microsoft.graph.allDevicesAssignmentTarget" => Kind::AllDevices,
                    "#microsoft.graph.groupAssignmentTarget" => Kind::Include,
                    "#microsoft.graph.exclusionGroupAssignmentTarget" => Kind::Exclude,
                    _ => Kind::Other,
                };
                let filter_type = t
                    .get("deviceAndAppManagementAssignmentFilterType")
                    .and_then(Value::as_str);
                let filter = t
                    .get("deviceAndAppManagementAssignmentFilterId")
                    .and_then(Value::as_str)
                    .filter(|f| !f.is_empty() && *f != NULL_GUID && filter_type != Some("none"));
                Target {
                    index,
                    kind,
                    group: t.get("groupId").and_then(Value::as_str).filter(|g| !g.is_empty()),
                    filter,
                }
            })
            .collect(),
    )
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(input: &'a LintInput, s: &'a LintSettings) -> Ctx<'a> {
        let objs: Vec<Obj<'a>> = input
            .objects
            .iter()
            .map(|o| {
                let (name_prop, name) = ["displayName", "name"]
                    .iter()
                    .find_map(|k| o.payload.get(*k).and_then(Value::as_str).map(|n| (*k, n)))
                    .unwrap_or(("displayName", o.id.as_str()));
                Obj {
                    o,
                    name,
                    name_prop,
                    targets: parse_targets(&o.payload),
                }
            })
            .collect();
        let from_objects = |family: &str| -> Option<Vec<(String, String)>> {
            let found: Vec<_> = objs
                .iter()
                .filter(|x| x.o.family == family)
                .map(|x| (x.o.id.clone(), x.name.to_string()))
                .collect();
            (!found.is_empty()).then_some(found)
        };
        let filters = match &input.directory.filters {
            Some(f) => Some(f.iter().map(|r| (r.id.clone(), r.name.clone())).collect()),
            None => from_objects("assignmentFilters").map(|v| v.into_iter().collect()),
        };
        let tags = match &input.directory.scope_tags {
            Some(t) => Some(t.iter().map(|r| r.id.clone()).collect::<BTreeSet<_>>()),
            None => from_objects("roleScopeTags").map(|v| v.into_iter().map(|(id, _)| id).collect()),
        }
        .map(|mut t| {
            t.insert("0".to_string());
            t
        });
        Ctx {
            s,
            now_ms: input.now_ms,
            objs,
            groups: input.directory.groups.as_ref(),
            filters,
            tags,
            patterns: s
                .naming_patterns
                .iter()
                .filter_map(|p| NamePattern::parse(p).ok())
                .collect(),
        }
    }

    fn of<'s>(&'s self, families: &'s [&str]) -> impl Iterator<Item = &'s Obj<'a>> + 's {
        self.objs
            .iter()
            .filter(move |x| families.is_empty() || families.contains(&x.o.family.as_str()))
    }
}

type Outcome = Result<Vec<Found>, String>;

/// Runs rule `id`; `Err(reason)` when it cannot be evaluated on this input.
pub(crate) fn check(id: &str, c: &Ctx<'_>) -> Outcome {
    let info = super::rule(id).expect("a catalogued rule");
    let fams = info.families;
    match id {
        "LINT001" => Ok(unassigned(c, fams)),
        "LINT002" => deleted_groups(c, fams),
        "LINT003" => empty_groups(c, fams),
        "LINT004" => Ok(high_risk_broad(c)),
        "LINT005" => Ok(conflicts(c)),
        "LINT006" => Ok(duplicates(c)),
        "LINT007" => naming(c),
        "LINT008" => Ok(missing_description(c)),
        "LINT009" => missing_scope_tag(c),
        "LINT010" => Ok(stale(c, fams)),
        "LINT011" => unused_filters(c),
        "LINT012" => Ok(compliance_actions(c, Actions::None)),
        "LINT013" => Ok(compliance_actions(c, Actions::BlockOnly)),
        "LINT014" => Ok(compliance_grace(c)),
        "LINT015" => Ok(unsigned_system_scripts(c, fams)),
        "LINT016" => Ok(empty_scripts(c)),
        "LINT017" => Ok(short_passwords(c, fams)),
        "LINT018" => Ok(mobile_no_password(c)),
        "LINT019" => Ok(bitlocker_not_required(c)),
        "LINT020" => Ok(bitlocker_weak(c)),
        "LINT021" => Ok(firewall_off(c)),
        "LINT022" => Ok(defender_rtp_off(c)),
        "LINT023" => Ok(empty_settings_catalog(c)),
        "LINT024" => Ok(duplicate_names(c)),
        "LINT025" => Ok(autopilot_admin(c, fams)),
        "LINT026" => Ok(app_no_pin(c)),
        "LINT027" => Ok(test_broad(c)),
        "LINT028" => Ok(only_exclusions(c, fams)),
        "LINT029" => Ok(include_and_exclude(c, fams)),
        "LINT030" => unknown_filters(c, fams),
        "LINT031" => unknown_scope_tags(c),
        "LINT032" => Ok(app_pin_short(c)),
        "LINT033" => Ok(too_many_assignments(c, fams)),
        _ => Err("no check implemented".into()),
    }
}

fn target_ptr(t: &Target<'_>, leaf: &str) -> Option<String> {
    Some(format!("/assignments/{}/target{leaf}", t.index))
}

fn unassigned(c: &Ctx<'_>, fams: &[&str]) -> Vec<Found> {
    c.of(fams)
        .filter(|x| x.targets.as_ref().is_some_and(Vec::is_empty))
        .map(|x| {
            x.found(
                Some("/assignments".into()),
                "not assigned to any group, user or device".into(),
            )
        })
        .collect()
}

const NO_GROUPS: &str = "groups were not read (the directory's groups are not in the inventory)";

fn deleted_groups(c: &Ctx<'_>, fams: &[&str]) -> Outcome {
    let groups = c.groups.ok_or(NO_GROUPS)?;
    let mut out = Vec::new();
    for x in c.of(fams) {
        for t in x.targets() {
            if let Some(g) = t.group.filter(|g| !groups.contains_key(*g)) {
                let what = if t.kind == Kind::Exclude { "excludes" } else { "targets" };
                out.push(x.found(
                    target_ptr(t, "/groupId"),
                    format!("{what} group {g}, which no longer exists"),
                ));
            }
        }
    }
    Ok(out)
}

fn empty_groups(c: &Ctx<'_>, fams: &[&str]) -> Outcome {
    let groups = c.groups.ok_or(NO_GROUPS)?;
    let mut out = Vec::new();
    for x in c.of(fams) {
        for t in x.targets().iter().filter(|t| t.kind == Kind::Include) {
            let Some(g) = t.group else { continue };
            if let Some(info) = groups.get(g).filter(|i| i.member_count == Some(0)) {
                out.push(x.found(
                    target_ptr(t, "/groupId"),
                    format!("targets group \"{}\", which has no members", info.display_name),
                ));
            }
        }
    }
    Ok(out)
}

fn broad_label(k: Kind) -> &'static str {
    if k == Kind::AllUsers {
        "All Users"
    } else {
        "All Devices"
    }
}

fn high_risk_broad(c: &Ctx<'_>) -> Vec<Found> {
    let mut out = Vec::new();
    for x in c.objs.iter().filter(|x| c.s.high_risk_families.contains(&x.o.family)) {
        for t in x
            .targets()
            .iter()
            .filter(|t| matches!(t.kind, Kind::AllUsers | Kind::AllDevices))
        {
            out.push(x.found(
                target_ptr(t, ""),
                format!("{} is high-risk and is assigned to {}", x.o.family, broad_label(t.kind)),
            ));
        }
    }
    out
}

/// Keys the duplicate and conflict rules set aside at the top level: identity, metadata,
/// scope and assignments.
const META: &[&str] = &[
    "id",
    "displayName",
    "name",
    "description",
    "createdDateTime",
    "lastModifiedDateTime",
    "modifiedDateTime",
    "version",
    "assignments",
    "roleScopeTagIds",
    "roleScopeTags",
    "supportsScopeTags",
    "isAssigned",
    "settingCount",
    "priority",
    "priorityMetaData",
    "creationSource",
    "@odata.context",
];

/// Set aside at every depth: per-object ids and stamps.
const VOLATILE: &[&str] = &[
    "id",
    "createdDateTime",
    "lastModifiedDateTime",
    "modifiedDateTime",
    "version",
    "@odata.context",
    "secretReferenceValueId",
];

/// JSON with sorted keys (whatever serde_json's map order), without `VOLATILE` keys below the
/// top and without `skip_top` keys at the top.
fn canon(v: &Value, skip_top: &[&str], out: &mut String) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().filter(|k| !skip_top.contains(&k.as_str())).collect();
            keys.sort_unstable();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_json_str(k, out);
                out.push(':');
                canon(&m[k], VOLATILE, out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, e) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canon(e, VOLATILE, out);
            }
            out.push(']');
        }
        Value::String(s) => push_json_str(s, out),
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
    }
}

fn push_json_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn canon_str(v: &Value) -> String {
    let mut s = String::new();
    canon(v, VOLATILE, &mut s);
    s
}

/// Whether a device-configuration value means "not configured" (Graph booleans default to
/// `false`, enums to `notConfigured`, complex values to objects of those).
fn unconfigured(v: &Value) -> bool {
    match v {
        Value::Null | Value::Bool(false) => true,
        Value::String(s) => s.is_empty() || s == "notConfigured",
        Value::Array(a) => a.is_empty(),
        // Graph returns complex properties as objects of nulls when nothing is set in them.
        Value::Object(m) => m.iter().all(|(k, v)| k == "@odata.type" || unconfigured(v)),
        _ => false,
    }
}

/// Device-configuration types of which a device takes several instances side by side (Wi-Fi,
/// VPN, certificates, e-mail, custom payloads): two of them with different values are two
/// profiles, not a conflict. Matched case-insensitively as substrings of `@odata.type`.
const MULTI_INSTANCE: &[&str] = &[
    "wifi",
    "vpn",
    "certificate",
    "pkcs",
    "scep",
    "pfx",
    "trustedroot",
    "email",
    "custom",
    "wiredNetwork",
];

/// Settings-catalog instance types that hold one value (collections hold several by design).
const SINGLE_VALUE_INSTANCES: &[&str] = &[
    "#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance",
    "#microsoft.graph.deviceManagementConfigurationSimpleSettingInstance",
];

/// (setting key, property, canonical value) of each single-valued setting an object configures.
fn settings_of(x: &Obj<'_>) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    match x.o.family.as_str() {
        "configurationPolicies" => {
            for s in x.p().get("settings").and_then(Value::as_array).into_iter().flatten() {
                let Some(inst) = s.get("settingInstance") else { continue };
                let single = inst
                    .get("@odata.type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| SINGLE_VALUE_INSTANCES.contains(&t));
                if let Some(def) = inst
                    .get("settingDefinitionId")
                    .and_then(Value::as_str)
                    .filter(|_| single)
                {
                    out.push((format!("sc:{def}"), format!("setting:{def}"), canon_str(inst)));
                }
            }
        }
        "deviceConfigurations" => {
            let t = x.odata();
            // Custom (OMA-URI) profiles: the same `omaUri` with different values is a conflict.
            for (i, oma) in x
                .p()
                .get("omaSettings")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                if let Some(uri) = oma.get("omaUri").and_then(Value::as_str) {
                    let value = oma.get("value").map(canon_str).unwrap_or_default();
                    out.push((
                        format!("oma:{}", uri.to_lowercase()),
                        format!("/omaSettings/{i}/value"),
                        value,
                    ));
                }
            }
            let lower = t.to_lowercase();
            if MULTI_INSTANCE.iter().any(|m| lower.contains(&m.to_lowercase())) {
                return out;
            }
            let Some(m) = x.p().as_object() else { return out };
            for (k, v) in m {
                if META.contains(&k.as_str()) || k == "@odata.type" || unconfigured(v) {
                    continue;
                }
                match v {
                    // One level of nesting (`firewallProfileDomain`, `bitLockerSystemDrivePolicy`):
                    // each scalar is its own setting.
                    Value::Object(inner) => {
                        for (ik, iv) in inner {
                            if ik == "@odata.type" || unconfigured(iv) || iv.is_object() || iv.is_array() {
                                continue;
                            }
                            let ptr = format!("/{}/{}", escape_ptr(k), escape_ptr(ik));
                            out.push((setting_of(t, &ptr), ptr, canon_str(iv)));
                        }
                    }
                    // Lists (allowed apps, exclusions) merge or differ by design.
                    Value::Array(_) => {}
                    _ => {
                        let ptr = format!("/{}", escape_ptr(k));
                        out.push((setting_of(t, &ptr), ptr, canon_str(v)));
                    }
                }
            }
        }
        _ => {}
    }
    out
}

/// A device configuration setting's identity: its profile type and its pointer (which starts
/// with `/` and escapes its own slashes, so the two parts cannot run into each other).
fn setting_of(odata_type: &str, ptr: &str) -> String {
    ["dc:", odata_type, ptr].concat()
}

fn escape_ptr(k: &str) -> String {
    k.replace('~', "~0").replace('/', "~1")
}

/// Related ids listed per conflict or duplicate at most (the count is in the message).
const RELATED_CAP: usize = 10;

fn conflicts(c: &Ctx<'_>) -> Vec<Found> {
    struct Entry {
        obj: usize,
        prop: String,
        /// The value, interned per key (long canonical strings compare slowly).
        value: u32,
    }
    // Index by setting key; only objects with an include target take part.
    let mut by_key: BTreeMap<String, (HashMap<String, u32>, Vec<Entry>)> = BTreeMap::new();
    let mut includes: Vec<Vec<&str>> = vec![Vec::new(); c.objs.len()];
    let mut broad = vec![false; c.objs.len()];
    for (i, x) in c.objs.iter().enumerate() {
        if !matches!(x.o.family.as_str(), "configurationPolicies" | "deviceConfigurations") {
            continue;
        }
        includes[i] = x
            .targets()
            .iter()
            .filter(|t| t.kind == Kind::Include)
            .filter_map(|t| t.group)
            .collect();
        broad[i] = x.broad();
        if includes[i].is_empty() && !broad[i] {
            continue;
        }
        for (key, prop, value) in settings_of(x) {
            let (values, entries) = by_key.entry(key).or_default();
            let next = values.len() as u32;
            let value = *values.entry(value).or_insert(next);
            entries.push(Entry { obj: i, prop, value });
        }
    }
    let mut out = Vec::new();
    for (key, (values, entries)) in by_key {
        if entries.len() < 2 || values.len() < 2 {
            continue;
        }
        // target → value → objects; broad: value → objects.
        let mut per_target: HashMap<&str, BTreeMap<u32, Vec<usize>>> = HashMap::new();
        let mut broad_by_value: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        let mut all_by_value: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        for e in &entries {
            all_by_value.entry(e.value).or_default().push(e.obj);
            if broad[e.obj] {
                broad_by_value.entry(e.value).or_default().push(e.obj);
            }
            for g in &includes[e.obj] {
                per_target.entry(g).or_default().entry(e.value).or_default().push(e.obj);
            }
        }
        for e in &entries {
            let mut related: BTreeSet<usize> = BTreeSet::new();
            let take = |m: &BTreeMap<u32, Vec<usize>>, related: &mut BTreeSet<usize>| {
                for (v, objs) in m {
                    if *v == e.value {
                        continue;
                    }
                    for &o in objs {
                        if related.len() >= RELATED_CAP {
                            return;
                        }
                        if o != e.obj {
                            related.insert(o);
                        }
                    }
                }
            };
            if broad[e.obj] {
                take(&all_by_value, &mut related);
            } else {
                take(&broad_by_value, &mut related);
                for g in &includes[e.obj] {
                    if let Some(m) = per_target.get(g) {
                        take(m, &mut related);
                    }
                }
            }
            if related.is_empty() {
                continue;
            }
            let x = &c.objs[e.obj];
            let shown = key.split_once(':').map_or(key.as_str(), |(_, k)| k);
            let mut f = x.found(
                Some(e.prop.clone()),
                format!(
                    "{shown} is set differently in {}{} other polic{} with overlapping targets",
                    if related.len() >= RELATED_CAP { "at least " } else { "" },
                    related.len(),
                    if related.len() == 1 { "y" } else { "ies" }
                ),
            );
            f.related = super::sorted_ids(related.iter().map(|&o| c.objs[o].o.id.as_str()));
            out.push(f);
        }
    }
    out
}

fn duplicates(c: &Ctx<'_>) -> Vec<Found> {
    let mut groups: BTreeMap<(&str, String), Vec<usize>> = BTreeMap::new();
    for (i, x) in c.objs.iter().enumerate() {
        if matches!(x.o.family.as_str(), "roleScopeTags" | "notificationMessageTemplates") {
            continue;
        }
        let Some(m) = x.p().as_object() else { continue };
        if m.keys().all(|k| k == "@odata.type" || META.contains(&k.as_str())) {
            continue; // nothing but a type: not evidence of duplication
        }
        let mut content = String::new();
        canon(x.p(), META, &mut content);
        let digest = super::digest(&content);
        groups.entry((x.o.family.as_str(), digest)).or_default().push(i);
    }
    let mut out = Vec::new();
    for members in groups.into_values().filter(|m| m.len() > 1) {
        for &i in &members {
            let x = &c.objs[i];
            let others = members.iter().filter(|&&o| o != i).take(RELATED_CAP);
            let mut f = x.found(
                None,
                format!(
                    "has the same content as {} other object(s) of {}",
                    members.len() - 1,
                    x.o.family
                ),
            );
            f.related = super::sorted_ids(others.map(|&o| c.objs[o].o.id.as_str()));
            out.push(f);
        }
    }
    out
}

fn naming(c: &Ctx<'_>) -> Outcome {
    if c.patterns.is_empty() {
        return Err("no naming pattern is set in the workspace settings".into());
    }
    Ok(c.objs
        .iter()
        .filter(|x| !(x.o.family == "roleScopeTags" && x.o.id == "0"))
        .filter(|x| !c.patterns.iter().any(|p| p.matches(x.name)))
        .map(|x| {
            x.found(
                Some(format!("/{}", x.name_prop)),
                format!("\"{}\" matches none of the workspace's naming patterns", x.name),
            )
        })
        .collect())
}

fn missing_description(c: &Ctx<'_>) -> Vec<Found> {
    c.objs
        .iter()
        .filter(|x| x.str("description").is_none_or(|d| d.trim().is_empty()))
        .map(|x| x.found(Some("/description".into()), "has no description".into()))
        .collect()
}

fn scope_tag_list<'v>(x: &'v Obj<'_>) -> Option<(&'static str, &'v Vec<Value>)> {
    ["roleScopeTagIds", "roleScopeTags"]
        .into_iter()
        .find_map(|k| x.p().get(k).and_then(Value::as_array).map(|a| (k, a)))
}

fn missing_scope_tag(c: &Ctx<'_>) -> Outcome {
    if !c.s.require_scope_tag {
        return Err("the workspace does not require scope tags (require_scope_tag is off)".into());
    }
    Ok(c.objs
        .iter()
        .filter(|x| x.o.family != "roleScopeTags")
        .filter_map(|x| {
            let (key, tags) = scope_tag_list(x)?;
            tags.iter()
                .all(|t| t.as_str().is_none_or(|t| t == "0"))
                .then(|| x.found(Some(format!("/{key}")), "carries no scope tag besides Default".into()))
        })
        .collect())
}

/// Epoch ms of an ISO 8601 / Graph `DateTimeOffset` (`2024-05-01T10:20:30.1234567Z`, or with
/// an offset); `None` when it is not one.
pub(crate) fn parse_time_ms(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes().all(|c| c.is_ascii_digit()).then(|| t.parse().ok())?
    };
    let (y, mo, d, h, mi, sec) = (
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut ms = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let frac = &s[start..i];
        if frac.is_empty() {
            return None;
        }
        ms = format!("{:0<3}", &frac[..frac.len().min(3)]).parse().ok()?;
    }
    let offset_min = match &s[i..] {
        "" | "Z" | "z" => 0,
        o if o.len() == 6 && (o.starts_with('+') || o.starts_with('-')) && &o[3..4] == ":" => {
            let oh: i64 = o[1..3].parse().ok()?;
            let om: i64 = o[4..6].parse().ok()?;
            let sign = if o.starts_with('-') { -1 } else { 1 };
            sign * (oh * 60 + om)
        }
        _ => return None,
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let yy = if mo <= 2 { y - 1 } else { y };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400 + h * 3600 + mi * 60 + sec - offset_min * 60) * 1000) + ms)
}

const DAY_MS: i64 = 86_400_000;

fn stale(c: &Ctx<'_>, fams: &[&str]) -> Vec<Found> {
    let cutoff = c.now_ms.saturating_sub(i64::from(c.s.stale_days) * DAY_MS);
    c.of(fams)
        .filter(|x| x.targets.as_ref().is_some_and(Vec::is_empty))
        .filter_map(|x| {
            let (key, t) = ["lastModifiedDateTime", "modifiedDateTime"]
                .into_iter()
                .find_map(|k| x.str(k).and_then(parse_time_ms).map(|t| (k, t)))?;
            (t < cutoff).then(|| {
                x.found(
                    Some(format!("/{key}")),
                    format!(
                        "unassigned and not modified for {} days (threshold {})",
                        (c.now_ms - t) / DAY_MS,
                        c.s.stale_days
                    ),
                )
            })
        })
        .collect()
}

const NO_FILTERS: &str = "assignment filters were not read (no directory filters and no assignmentFilters objects)";

fn unused_filters(c: &Ctx<'_>) -> Outcome {
    let filters = c.filters.as_ref().ok_or(NO_FILTERS)?;
    if !c.objs.iter().any(|x| x.targets.is_some()) {
        return Err("no object with assignments was evaluated".into());
    }
    let used: BTreeSet<&str> = c
        .objs
        .iter()
        .flat_map(|x| x.targets().iter().filter_map(|t| t.filter))
        .collect();
    Ok(filters
        .iter()
        .filter(|(id, _)| !used.contains(id.as_str()))
        .map(|(id, name)| Found {
            family: "assignmentFilters".into(),
            object_id: id.clone(),
            object_name: name.clone(),
            property: None,
            message: "no assignment uses this filter".into(),
            related: Vec::new(),
        })
        .collect())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Actions {
    None,
    BlockOnly,
}

fn action_configs<'v>(x: &'v Obj<'_>) -> Option<Vec<(String, &'v Value)>> {
    let rules = x.p().get("scheduledActionsForRule")?.as_array()?;
    let mut out = Vec::new();
    for (i, r) in rules.iter().enumerate() {
        let configs = r.get("scheduledActionConfigurations").and_then(Value::as_array);
        for (j, a) in configs.into_iter().flatten().enumerate() {
            out.push((
                format!("/scheduledActionsForRule/{i}/scheduledActionConfigurations/{j}"),
                a,
            ));
        }
    }
    Some(out)
}

fn compliance_actions(c: &Ctx<'_>, which: Actions) -> Vec<Found> {
    let mut out = Vec::new();
    for x in c.of(COMPLIANCE) {
        // Absent: the payload was read without `$expand=scheduledActionsForRule`; nothing to judge.
        let Some(configs) = action_configs(x) else { continue };
        let types: Vec<&str> = configs
            .iter()
            .map(|(_, a)| a.get("actionType").and_then(Value::as_str).unwrap_or(""))
            .collect();
        match which {
            Actions::None if configs.is_empty() => out.push(x.found(
                Some("/scheduledActionsForRule".into()),
                "has no actions for noncompliance (not even marking devices noncompliant)".into(),
            )),
            Actions::BlockOnly if !types.is_empty() && types.iter().all(|t| *t == "block") => out.push(x.found(
                Some("/scheduledActionsForRule".into()),
                "marks devices noncompliant but never notifies the user".into(),
            )),
            _ => {}
        }
    }
    out
}

fn compliance_grace(c: &Ctx<'_>) -> Vec<Found> {
    let max = u64::from(c.s.compliance_max_grace_hours);
    let mut out = Vec::new();
    for x in c.of(COMPLIANCE) {
        for (ptr, a) in action_configs(x).unwrap_or_default() {
            let grace = a.get("gracePeriodHours").and_then(Value::as_u64).unwrap_or(0);
            if a.get("actionType").and_then(Value::as_str) == Some("block") && grace > max {
                out.push(x.found(
                    Some(format!("{ptr}/gracePeriodHours")),
                    format!("noncompliant devices keep access for {grace} hours (maximum {max})"),
                ));
            }
        }
    }
    out
}

fn unsigned_system_scripts(c: &Ctx<'_>, fams: &[&str]) -> Vec<Found> {
    c.of(fams)
        .filter(|x| x.str("runAsAccount") == Some("system") && x.bool("enforceSignatureCheck") != Some(true))
        .map(|x| {
            x.found(
                Some("/enforceSignatureCheck".into()),
                "runs as SYSTEM without a signature check".into(),
            )
        })
        .collect()
}

fn empty_scripts(c: &Ctx<'_>) -> Vec<Found> {
    let mut out = Vec::new();
    for x in c.of(SCRIPTS) {
        let key = if x.o.family == "deviceHealthScripts" {
            "detectionScriptContent"
        } else {
            "scriptContent"
        };
        // Absent: the list read omits content; only a full read can tell.
        let Some(v) = x.p().get(key) else { continue };
        let empty = match v {
            Value::Null => true,
            Value::String(s) => match base64::engine::general_purpose::STANDARD.decode(s.trim()) {
                Ok(bytes) => String::from_utf8_lossy(&bytes)
                    .trim()
                    .trim_start_matches('\u{feff}')
                    .trim()
                    .is_empty(),
                Err(_) => false,
            },
            _ => false,
        };
        if empty {
            out.push(x.found(Some(format!("/{key}")), "the script body is empty".into()));
        }
    }
    out
}

fn short_passwords(c: &Ctx<'_>, fams: &[&str]) -> Vec<Found> {
    const PAIRS: &[(&str, &str)] = &[
        ("passwordMinimumLength", "passwordRequired"),
        ("passcodeMinimumLength", "passcodeRequired"),
        ("workProfilePasswordMinimumLength", "workProfilePasswordRequired"),
    ];
    let mut out = Vec::new();
    for x in c.of(fams) {
        let windows = x.odata().starts_with("#microsoft.graph.windows");
        let min = u64::from(if windows {
            c.s.password_min_length
        } else {
            c.s.mobile_passcode_min_length
        });
        for (len_key, req_key) in PAIRS {
            let Some(len) = x.p().get(*len_key).and_then(Value::as_u64) else {
                continue;
            };
            if len < min && x.bool(req_key) != Some(false) {
                out.push(x.found(
                    Some(format!("/{len_key}")),
                    format!("{len_key} is {len}, below the minimum of {min}"),
                ));
            }
        }
    }
    out
}

fn mobile_no_password(c: &Ctx<'_>) -> Vec<Found> {
    let mut out = Vec::new();
    for x in c.of(COMPLIANCE) {
        let t = x.odata();
        if !(t.starts_with("#microsoft.graph.ios") || t.starts_with("#microsoft.graph.android")) {
            continue;
        }
        for key in ["passcodeRequired", "passwordRequired", "workProfilePasswordRequired"] {
            if x.bool(key) == Some(false) {
                out.push(x.found(
                    Some(format!("/{key}")),
                    format!("{key} is false: devices without a passcode are compliant"),
                ));
            }
        }
    }
    out
}

const EP: &str = "#microsoft.graph.windows10EndpointProtectionConfiguration";

fn bitlocker_not_required(c: &Ctx<'_>) -> Vec<Found> {
    let mut out = Vec::new();
    for x in c.objs.iter() {
        match (x.o.family.as_str(), x.odata()) {
            ("deviceCompliancePolicies", "#microsoft.graph.windows10CompliancePolicy")
                if x.bool("bitLockerEnabled") == Some(false) && x.bool("storageRequireEncryption") != Some(true) =>
            {
                out.push(x.found(Some("/bitLockerEnabled".into()), "does not require BitLocker".into()));
            }
            ("deviceConfigurations", EP) => {
                let configures = x.p().as_object().is_some_and(|m| {
                    m.iter()
                        .any(|(k, v)| k.starts_with("bitLocker") && k != "bitLockerEncryptDevice" && !unconfigured(v))
                });
                if configures && x.bool("bitLockerEncryptDevice") == Some(false) {
                    out.push(x.found(
                        Some("/bitLockerEncryptDevice".into()),
                        "configures BitLocker but does not require device encryption".into(),
                    ));
                }
            }
            _ => {}
        }
    }
    out
}

fn method_rank(m: &str) -> Option<u8> {
    Some(match m {
        "aesCbc128" => 0,
        "aesCbc256" => 1,
        "xtsAes128" => 2,
        "xtsAes256" => 3,
        _ => return None,
    })
}

fn bitlocker_weak(c: &Ctx<'_>) -> Vec<Found> {
    let min = method_rank(&c.s.bitlocker_min_method).unwrap_or(2);
    let mut out = Vec::new();
    for x in c.of(DC).filter(|x| x.odata() == EP) {
        for drive in ["bitLockerSystemDrivePolicy", "bitLockerFixedDrivePolicy"] {
            let Some(m) = x
                .p()
                .get(drive)
                .and_then(|d| d.get("encryptionMethod"))
                .and_then(Value::as_str)
            else {
                continue;
            };
            if method_rank(m).is_some_and(|r| r < min) {
                out.push(x.found(
                    Some(format!("/{drive}/encryptionMethod")),
                    format!("{drive} uses {m}, weaker than {}", c.s.bitlocker_min_method),
                ));
            }
        }
    }
    out
}

/// (settingDefinitionId, choice value) of each top-level settings catalog setting.
fn choices<'v>(x: &'v Obj<'_>) -> impl Iterator<Item = (&'v str, &'v str)> {
    x.p()
        .get("settings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| {
            let inst = s.get("settingInstance")?;
            let def = inst.get("settingDefinitionId")?.as_str()?;
            let val = inst.get("choiceSettingValue")?.get("value")?.as_str()?;
            Some((def, val))
        })
}

fn firewall_off(c: &Ctx<'_>) -> Vec<Found> {
    let mut out = Vec::new();
    for x in c.of(DC).filter(|x| x.odata() == EP) {
        for profile in [
            "firewallProfileDomain",
            "firewallProfilePrivate",
            "firewallProfilePublic",
        ] {
            let state = x
                .p()
                .get(profile)
                .and_then(|p| p.get("firewallEnabled"))
                .and_then(Value::as_str);
            if state == Some("blocked") {
                out.push(x.found(
                    Some(format!("/{profile}/firewallEnabled")),
                    format!("turns the firewall off ({profile})"),
                ));
            }
        }
    }
    for x in c.of(SC) {
        for (def, val) in choices(x) {
            if def.ends_with("_enablefirewall") && val.ends_with("_false") {
                out.push(x.found(
                    Some(format!("setting:{def}")),
                    format!("turns the firewall off ({def})"),
                ));
            }
        }
    }
    out
}

fn defender_rtp_off(c: &Ctx<'_>) -> Vec<Found> {
    const DEF: &str = "device_vendor_msft_policy_config_defender_allowrealtimemonitoring";
    let mut out = Vec::new();
    for x in c.of(SC) {
        for (def, val) in choices(x) {
            if def == DEF && val == format!("{DEF}_0") {
                out.push(x.found(
                    Some(format!("setting:{def}")),
                    "turns Defender real-time monitoring off".into(),
                ));
            }
        }
    }
    for x in c
        .of(DC)
        .filter(|x| x.odata() == "#microsoft.graph.windows10GeneralConfiguration")
    {
        let configures_defender = x.p().as_object().is_some_and(|m| {
            m.iter().any(|(k, v)| {
                k.starts_with("defender")
                    && k != "defenderRequireRealTimeMonitoring"
                    && !unconfigured(v)
                    && v.as_str() != Some("userDefined")
            })
        });
        if configures_defender && x.bool("defenderRequireRealTimeMonitoring") == Some(false) {
            out.push(x.found(
                Some("/defenderRequireRealTimeMonitoring".into()),
                "configures Defender without requiring real-time monitoring".into(),
            ));
        }
    }
    out
}

fn empty_settings_catalog(c: &Ctx<'_>) -> Vec<Found> {
    c.of(SC)
        .filter_map(|x| match x.p().get("settings").and_then(Value::as_array) {
            Some(s) if s.is_empty() => Some(x.found(Some("/settings".into()), "configures no settings".into())),
            Some(_) => None,
            None => (x.p().get("settingCount").and_then(Value::as_u64) == Some(0))
                .then(|| x.found(Some("/settingCount".into()), "configures no settings".into())),
        })
        .collect()
}

fn duplicate_names(c: &Ctx<'_>) -> Vec<Found> {
    let mut by_name: BTreeMap<(&str, String), Vec<usize>> = BTreeMap::new();
    for (i, x) in c.objs.iter().enumerate() {
        if x.name != x.o.id {
            by_name
                .entry((x.o.family.as_str(), x.name.trim().to_lowercase()))
                .or_default()
                .push(i);
        }
    }
    let mut out = Vec::new();
    for members in by_name.into_values().filter(|m| m.len() > 1) {
        for &i in &members {
            let x = &c.objs[i];
            let mut f = x.found(
                Some(format!("/{}", x.name_prop)),
                format!(
                    "{} other object(s) of {} are also named \"{}\"",
                    members.len() - 1,
                    x.o.family,
                    x.name
                ),
            );
            f.related = super::sorted_ids(
                members
                    .iter()
                    .filter(|&&o| o != i)
                    .take(RELATED_CAP)
                    .map(|&o| c.objs[o].o.id.as_str()),
            );
            out.push(f);
        }
    }
    out
}

fn autopilot_admin(c: &Ctx<'_>, fams: &[&str]) -> Vec<Found> {
    c.of(fams)
        .filter_map(|x| {
            ["outOfBoxExperienceSettings", "outOfBoxExperienceSetting"]
                .into_iter()
                .find_map(|k| {
                    let admin = x.p().get(k)?.get("userType")?.as_str()? == "administrator";
                    admin.then(|| {
                        x.found(
                            Some(format!("/{k}/userType")),
                            "makes the enrolling user a local administrator".into(),
                        )
                    })
                })
        })
        .collect()
}

fn app_no_pin(c: &Ctx<'_>) -> Vec<Found> {
    c.of(APP)
        .filter(|x| x.bool("pinRequired") == Some(false))
        .map(|x| x.found(Some("/pinRequired".into()), "managed apps open without a PIN".into()))
        .collect()
}

fn app_pin_short(c: &Ctx<'_>) -> Vec<Found> {
    let min = u64::from(c.s.app_pin_min_length);
    c.of(APP)
        .filter(|x| x.bool("pinRequired") != Some(false))
        .filter_map(|x| {
            let len = x.p().get("minimumPinLength")?.as_u64()?;
            (len < min).then(|| {
                x.found(
                    Some("/minimumPinLength".into()),
                    format!("minimumPinLength is {len}, below {min}"),
                )
            })
        })
        .collect()
}

/// Whether `name` carries `marker`: a prefix when the marker ends in a space (`copy of `),
/// otherwise a whole word; case-insensitive.
pub(crate) fn has_marker(name: &str, marker: &str) -> bool {
    let name = name.to_lowercase();
    let marker = marker.to_lowercase();
    if marker.ends_with(' ') {
        return name.starts_with(&marker);
    }
    let word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    name.match_indices(&marker)
        .any(|(i, m)| !word(name[..i].chars().next_back()) && !word(name[i + m.len()..].chars().next()))
}

fn test_broad(c: &Ctx<'_>) -> Vec<Found> {
    let mut out = Vec::new();
    for x in c.objs.iter() {
        let Some(m) =
            c.s.test_name_markers
                .iter()
                .find(|m| !m.trim().is_empty() && has_marker(x.name, m))
        else {
            continue;
        };
        for t in x
            .targets()
            .iter()
            .filter(|t| matches!(t.kind, Kind::AllUsers | Kind::AllDevices))
        {
            out.push(x.found(
                target_ptr(t, ""),
                format!(
                    "named like a test or copy (\"{}\") and assigned to {}",
                    m.trim(),
                    broad_label(t.kind)
                ),
            ));
        }
    }
    out
}

fn only_exclusions(c: &Ctx<'_>, fams: &[&str]) -> Vec<Found> {
    c.of(fams)
        .filter(|x| !x.targets().is_empty() && x.targets().iter().all(|t| t.kind == Kind::Exclude))
        .map(|x| {
            x.found(
                Some("/assignments".into()),
                "is assigned only to exclusion groups, so to nobody".into(),
            )
        })
        .collect()
}

fn include_and_exclude(c: &Ctx<'_>, fams: &[&str]) -> Vec<Found> {
    let mut out = Vec::new();
    for x in c.of(fams) {
        let included: BTreeSet<&str> = x
            .targets()
            .iter()
            .filter(|t| t.kind == Kind::Include)
            .filter_map(|t| t.group)
            .collect();
        for t in x.targets().iter().filter(|t| t.kind == Kind::Exclude) {
            if let Some(g) = t.group.filter(|g| included.contains(g)) {
                out.push(x.found(
                    target_ptr(t, "/groupId"),
                    format!("group {g} is both included and excluded"),
                ));
            }
        }
    }
    out
}

fn unknown_filters(c: &Ctx<'_>, fams: &[&str]) -> Outcome {
    let filters = c.filters.as_ref().ok_or(NO_FILTERS)?;
    let mut out = Vec::new();
    for x in c.of(fams) {
        for t in x.targets() {
            if let Some(f) = t.filter.filter(|f| !filters.contains_key(*f)) {
                out.push(x.found(
                    target_ptr(t, "/deviceAndAppManagementAssignmentFilterId"),
                    format!("uses assignment filter {f}, which does not exist"),
                ));
            }
        }
    }
    Ok(out)
}

fn unknown_scope_tags(c: &Ctx<'_>) -> Outcome {
    let tags = c
        .tags
        .as_ref()
        .ok_or("scope tags were not read (no directory scope tags and no roleScopeTags objects)")?;
    let mut out = Vec::new();
    for x in c.objs.iter().filter(|x| x.o.family != "roleScopeTags") {
        let Some((key, list)) = scope_tag_list(x) else { continue };
        for (i, t) in list.iter().enumerate() {
            if let Some(t) = t.as_str().filter(|t| !tags.contains(*t)) {
                out.push(x.found(
                    Some(format!("/{key}/{i}")),
                    format!("carries scope tag {t}, which does not exist"),
                ));
            }
        }
    }
    Ok(out)
}

fn too_many_assignments(c: &Ctx<'_>, fams: &[&str]) -> Vec<Found> {
    let max = c.s.max_assignments as usize;
    c.of(fams)
        .filter(|x| x.targets().len() > max)
        .map(|x| {
            x.found(
                Some("/assignments".into()),
                format!("has {} assignments (more than {max})", x.targets().len()),
            )
        })
        .collect()
}
