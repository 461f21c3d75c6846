//! The offline policy lint (spec 021): rules over a backup set or the inventory, with no Graph
//! calls. Pure functions: [`run`] takes the stored payloads, what we know of the directory and
//! the workspace's [`LintSettings`], and returns a [`LintReport`]. Every rule is listed in
//! [`RULES`]; the checks live in the `rules` module.

mod pattern;
mod rules;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

pub use crate::catalog::Severity;
pub use pattern::{NamePattern, PatternError};

/// One stored object: its family code (`deviceConfigurations` …), its Graph id and the payload
/// as read, with its `assignments` array where the family is assignable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LintObject {
    pub family: String,
    pub id: String,
    pub payload: Value,
}

/// An Entra group as far as the lint needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupInfo {
    pub display_name: String,
    /// `None`: not counted (the group rules then only check existence).
    pub member_count: Option<u64>,
}

/// An assignment filter or a scope tag: id and display name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedRef {
    pub id: String,
    pub name: String,
}

/// What the lint knows of the tenant beyond the policies. `None` means "not read": the rules
/// that need it are reported in [`LintReport::not_evaluated`] instead of guessing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Directory {
    /// Groups by object id.
    pub groups: Option<BTreeMap<String, GroupInfo>>,
    /// Assignment filters; when `None`, taken from `assignmentFilters` objects in the input, if any.
    pub filters: Option<Vec<NamedRef>>,
    /// Scope tags; when `None`, taken from `roleScopeTags` objects in the input, if any. The
    /// built-in tag `0` (Default) always exists.
    pub scope_tags: Option<Vec<NamedRef>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LintInput {
    pub objects: Vec<LintObject>,
    pub directory: Directory,
    /// Evaluation time, epoch ms (the stale rule).
    pub now_ms: i64,
}

/// A rule's entry in the catalogue (serialises for the API's rule list).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RuleInfo {
    pub id: &'static str,
    pub title: &'static str,
    pub severity: Severity,
    pub rationale: &'static str,
    pub fix_hint: &'static str,
    /// Families the rule looks at; empty: every family.
    pub families: &'static [&'static str],
}

/// Per-rule workspace override.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct RuleSetting {
    /// `Some(false)` turns the rule off; `None` keeps its default (on).
    pub enabled: Option<bool>,
    pub severity: Option<Severity>,
}

/// The workspace's lint settings (what a stored document leaves out keeps its default; a field
/// it does not know is refused, so a misspelt setting is not silently ignored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct LintSettings {
    /// By rule id (`LINT007`).
    pub rules: BTreeMap<String, RuleSetting>,
    /// Names must match one of these (see [`NamePattern`]); empty: LINT007 is not evaluated.
    pub naming_patterns: Vec<String>,
    /// LINT009: every object must carry a scope tag other than `0` (Default).
    pub require_scope_tag: bool,
    /// LINT010: unassigned and not modified for this many days.
    pub stale_days: u32,
    /// LINT017: minimum password length on Windows (CIS / Intune security baseline: 14).
    pub password_min_length: u32,
    /// LINT017: minimum passcode length on iOS, Android and macOS.
    pub mobile_passcode_min_length: u32,
    /// LINT032: minimum app-protection PIN length.
    pub app_pin_min_length: u32,
    /// LINT014: the longest grace before a noncompliant device is marked noncompliant.
    pub compliance_max_grace_hours: u32,
    /// LINT004: families that must not target All Users / All Devices.
    pub high_risk_families: Vec<String>,
    /// LINT020: the weakest accepted BitLocker method for OS and fixed drives: `xtsAes128` or `xtsAes256`.
    pub bitlocker_min_method: String,
    /// LINT027: name markers of test objects and copies (case-insensitive; whole words, or a prefix when ending in a space).
    pub test_name_markers: Vec<String>,
    /// LINT033: more assignments than this on one object.
    pub max_assignments: u32,
    /// Not a rule's: record the inventory's lint as findings of source `lint` after every
    /// inventory sync that read every family completely (off: only when asked to).
    pub record_after_sync: bool,
}

impl Default for LintSettings {
    fn default() -> Self {
        LintSettings {
            rules: BTreeMap::new(),
            naming_patterns: Vec::new(),
            require_scope_tag: false,
            stale_days: 180,
            password_min_length: 14,
            mobile_passcode_min_length: 6,
            app_pin_min_length: 6,
            compliance_max_grace_hours: 72,
            high_risk_families: [
                "deviceManagementScripts",
                "deviceShellScripts",
                "deviceHealthScripts",
                "windowsFeatureUpdateProfiles",
            ]
            .map(String::from)
            .to_vec(),
            bitlocker_min_method: "xtsAes128".into(),
            test_name_markers: ["copy of ", "test", "demo", "temp"].map(String::from).to_vec(),
            max_assignments: 20,
            record_after_sync: false,
        }
    }
}

impl LintSettings {
    /// Field-level problems (`field`, why), for a problem+json answer.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for id in self.rules.keys() {
            if rule(id).is_none() {
                out.push((format!("rules.{id}"), "unknown rule id".into()));
            }
        }
        for (i, p) in self.naming_patterns.iter().enumerate() {
            if let Err(e) = NamePattern::parse(p) {
                out.push((format!("naming_patterns[{i}]"), e.to_string()));
            }
        }
        let ranges: [(&str, u32, u32, u32); 6] = [
            ("stale_days", self.stale_days, 1, 3650),
            ("password_min_length", self.password_min_length, 4, 16),
            ("mobile_passcode_min_length", self.mobile_passcode_min_length, 4, 16),
            ("app_pin_min_length", self.app_pin_min_length, 4, 16),
            ("compliance_max_grace_hours", self.compliance_max_grace_hours, 0, 8760),
            ("max_assignments", self.max_assignments, 1, 1000),
        ];
        for (field, v, lo, hi) in ranges {
            if v < lo || v > hi {
                out.push((field.into(), format!("must be {lo} to {hi}")));
            }
        }
        for (i, f) in self.high_risk_families.iter().enumerate() {
            if !KNOWN_FAMILIES.contains(&f.as_str()) {
                out.push((format!("high_risk_families[{i}]"), "unknown family code".into()));
            }
        }
        if !matches!(self.bitlocker_min_method.as_str(), "xtsAes128" | "xtsAes256") {
            out.push(("bitlocker_min_method".into(), "must be xtsAes128 or xtsAes256".into()));
        }
        for (i, m) in self.test_name_markers.iter().enumerate() {
            if m.trim().is_empty() {
                out.push((format!("test_name_markers[{i}]"), "must not be blank".into()));
            }
        }
        out
    }

    pub fn enabled(&self, id: &str) -> bool {
        self.rules.get(id).and_then(|r| r.enabled).unwrap_or(true)
    }

    pub fn severity(&self, info: &RuleInfo) -> Severity {
        self.rules
            .get(info.id)
            .and_then(|r| r.severity)
            .unwrap_or(info.severity)
    }
}

/// The family codes of `atlas-graph`'s `FAMILIES` (the domain crate does not depend on it).
pub const KNOWN_FAMILIES: &[&str] = &[
    "deviceConfigurations",
    "deviceCompliancePolicies",
    "configurationPolicies",
    "groupPolicyConfigurations",
    "deviceManagementScripts",
    "deviceShellScripts",
    "deviceHealthScripts",
    "windowsAutopilotDeploymentProfiles",
    "deviceEnrollmentConfigurations",
    "intents",
    "roleScopeTags",
    "assignmentFilters",
    "mobileAppConfigurations",
    "targetedManagedAppConfigurations",
    "managedAppPolicies",
    "windowsFeatureUpdateProfiles",
    "notificationMessageTemplates",
];

/// Families whose objects carry assignments (`atlas-graph` `Assign::None` ones excluded).
pub const ASSIGNABLE_FAMILIES: &[&str] = &[
    "deviceConfigurations",
    "deviceCompliancePolicies",
    "configurationPolicies",
    "groupPolicyConfigurations",
    "deviceManagementScripts",
    "deviceShellScripts",
    "deviceHealthScripts",
    "windowsAutopilotDeploymentProfiles",
    "deviceEnrollmentConfigurations",
    "intents",
    "mobileAppConfigurations",
    "targetedManagedAppConfigurations",
    "managedAppPolicies",
    "windowsFeatureUpdateProfiles",
];

/// One detection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LintHit {
    pub rule_id: String,
    pub severity: Severity,
    pub family: String,
    pub object_id: String,
    pub object_name: String,
    /// A JSON pointer into the payload (`/assignments/0/target/groupId`); for a settings-catalog
    /// setting `setting:{settingDefinitionId}` (array order is not stable across reads).
    pub property: Option<String>,
    pub message: String,
    /// Other objects involved (duplicates, conflicts), sorted.
    pub related: Vec<String>,
}

impl LintHit {
    /// Stable identity across runs: lowercase hex sha256 over rule, family, object id and
    /// property, each prefixed with its length (as [`crate::findings::fingerprint`]).
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        let prop = self.property.as_deref().unwrap_or("");
        for part in ["lint", &self.rule_id, &self.family, &self.object_id, prop] {
            h.update(format!("{}:", part.len()).as_bytes());
            h.update(part.as_bytes());
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LintReport {
    /// Sorted by rule, family, object, property.
    pub hits: Vec<LintHit>,
    /// Enabled rules that could not run, with why (groups not read …).
    pub not_evaluated: Vec<(String, String)>,
    /// Rules that ran.
    pub rules_run: Vec<String>,
}

/// The groups the objects' assignments name: what the group rules need looked up.
pub fn referenced_groups(objects: &[LintObject]) -> std::collections::BTreeSet<String> {
    objects
        .iter()
        .flat_map(|o| rules::group_ids(&o.payload))
        .map(str::to_owned)
        .collect()
}

pub fn rule(id: &str) -> Option<&'static RuleInfo> {
    RULES.iter().find(|r| r.id == id)
}

pub use rules::RULES;

/// Runs every enabled rule over `input`. Settings are assumed valid ([`LintSettings::problems`]);
/// an unparsable naming pattern is skipped.
pub fn run(input: &LintInput, settings: &LintSettings) -> LintReport {
    let ctx = rules::Ctx::new(input, settings);
    let mut report = LintReport::default();
    for info in RULES {
        if !settings.enabled(info.id) {
            continue;
        }
        match rules::check(info.id, &ctx) {
            Ok(hits) => {
                report.rules_run.push(info.id.to_string());
                let severity = settings.severity(info);
                report
                    .hits
                    .extend(hits.into_iter().map(|h| h.into_hit(info.id, severity)));
            }
            Err(reason) => report.not_evaluated.push((info.id.to_string(), reason)),
        }
    }
    report.hits.sort_by(|a, b| {
        (&a.rule_id, &a.family, &a.object_id, &a.property).cmp(&(&b.rule_id, &b.family, &b.object_id, &b.property))
    });
    report
}

/// Object ids named in `related`, deduplicated and sorted.
pub(crate) fn sorted_ids<'a>(ids: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut v: Vec<&str> = ids.into_iter().collect();
    v.sort_unstable();
    v.dedup();
    v.into_iter().map(String::from).collect()
}

/// Lowercase hex sha256.
pub(crate) fn digest(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
