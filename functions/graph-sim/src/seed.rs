//! Deterministic, realistic tenant content: N objects per family with varied names, platforms and settings,
//! assignments to the tenant's groups (with filters), scope tags, and some secret-looking values
//! (Wi-Fi pre-shared keys, encrypted OMA-URI values, passwords in scripts) for redaction to find.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value, json};
use time::{Duration, OffsetDateTime};

use crate::catalog::{
    ADMX_AREAS, ANDROID_APPS, AUDIENCES, DEFAULT_ENROLLMENT_SUFFIX, Def, FEATURE_UPDATES, FILTER_KINDS, GP_DEFINITIONS,
    GpDefinition, GpKind, GpPresentation, IOS_APPS, IOS_DEFS, SSIDS, TAGS, TEMPLATES, WIN_DEFS, gp_definition_json,
    gp_presentation_json, gp_value_type,
};
use crate::families::Family;
use crate::rng::Rng;
use crate::state::Obj;

pub(crate) const ALL_DEVICES_ID: &str = "adadadad-808e-44e2-905a-0b7873a8a531";
pub(crate) const ALL_USERS_ID: &str = "acacacac-9df4-4c7d-9d50-4ef0226f57a9";
pub(crate) const NULL_GUID: &str = "00000000-0000-0000-0000-000000000000";

/// Graph's timestamp format: seven fractional digits and `Z`.
pub(crate) fn graph_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:07}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.nanosecond() / 100
    )
}

fn seeded_time(rng: &mut Rng) -> (String, String) {
    let base = OffsetDateTime::from_unix_timestamp(1_704_067_200).expect("valid epoch"); // 2024-01-01
    let created = base
        + Duration::seconds(rng.below(400 * 86_400) as i64)
        + Duration::nanoseconds(rng.below(1_000_000_000) as i64);
    let modified = created + Duration::seconds(rng.below(120 * 86_400) as i64);
    (graph_time(created), graph_time(modified))
}

pub(crate) fn secret(rng: &mut Rng, len: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789!#%*+-=?@";
    (0..len).map(|_| *rng.pick(CHARS) as char).collect()
}

/// Context shared by the per-family generators.
struct Ctx {
    rng: Rng,
    groups: Vec<String>,
    filters: Vec<(String, &'static str)>,
    tags: Vec<String>,
}

impl Ctx {
    fn scope_tags(&mut self) -> Value {
        let mut tags = vec!["0".to_string()];
        if self.tags.len() > 1 && self.rng.chance(0.35) {
            let t = self.rng.pick(&self.tags[1..]).clone();
            if self.rng.chance(0.5) {
                tags = vec![t];
            } else {
                tags.push(t);
            }
        }
        json!(tags)
    }

    /// `obj` with its seeded assignments (see [`Ctx::assignments`]).
    fn assigned(&mut self, mut obj: Obj, kind: AssignKind, platform_filter: Option<&str>) -> Obj {
        let assignments = self.assignments(&obj.id, kind, platform_filter);
        obj.navs.insert("assignments".into(), assignments);
        obj
    }

    /// 0–3 assignments: group include/exclude, all devices or all users, sometimes with a filter.
    fn assignments(&mut self, policy_id: &str, kind: AssignKind, platform_filter: Option<&str>) -> Vec<Value> {
        let n = self.rng.below(4);
        let mut used = Vec::new();
        let mut out = Vec::new();
        for _ in 0..n {
            let roll = self.rng.below(100);
            let (odata, group) = if roll < 60 {
                ("groupAssignmentTarget", Some(self.rng.pick(&self.groups).clone()))
            } else if roll < 75 {
                (
                    "exclusionGroupAssignmentTarget",
                    Some(self.rng.pick(&self.groups).clone()),
                )
            } else if roll < 90 {
                ("allDevicesAssignmentTarget", None)
            } else {
                ("allLicensedUsersAssignmentTarget", None)
            };
            let target_id = group.clone().unwrap_or_else(|| {
                if odata == "allDevicesAssignmentTarget" {
                    ALL_DEVICES_ID.into()
                } else {
                    ALL_USERS_ID.into()
                }
            });
            if used.contains(&target_id) {
                continue;
            }
            used.push(target_id.clone());
            let filter = (odata != "exclusionGroupAssignmentTarget" && self.rng.chance(0.3))
                .then(|| {
                    let candidates: Vec<_> = self
                        .filters
                        .iter()
                        .filter(|(_, p)| platform_filter.is_none_or(|pf| pf == *p))
                        .collect();
                    (!candidates.is_empty()).then(|| candidates[self.rng.below(candidates.len())].0.clone())
                })
                .flatten();
            let mut target = Map::new();
            target.insert("@odata.type".into(), json!(format!("#microsoft.graph.{odata}")));
            target.insert("deviceAndAppManagementAssignmentFilterId".into(), json!(filter));
            let ftype = match &filter {
                Some(_) if self.rng.chance(0.7) => "include",
                Some(_) => "exclude",
                None => "none",
            };
            target.insert("deviceAndAppManagementAssignmentFilterType".into(), json!(ftype));
            if let Some(g) = group {
                target.insert("groupId".into(), json!(g));
            }
            out.push(assignment_value(kind, policy_id, &target_id, Value::Object(target)));
        }
        out
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AssignKind {
    SettingsCatalog,
    DeviceConfiguration,
    Compliance,
    AppProtection,
    Script,
    Intent,
    GroupPolicy,
    HealthScript,
    Autopilot,
    Enrollment,
    MobileAppConfig,
    FeatureUpdate,
    RoleScopeTag,
    MobileApp,
    QualityUpdate,
    DriverUpdate,
    PolicySet,
    Terms,
}

impl AssignKind {
    pub(crate) fn of(family: Family) -> Option<AssignKind> {
        Some(match family {
            Family::ConfigurationPolicies => AssignKind::SettingsCatalog,
            Family::DeviceConfigurations => AssignKind::DeviceConfiguration,
            Family::CompliancePolicies => AssignKind::Compliance,
            Family::IosAppProtections | Family::AndroidAppProtections => AssignKind::AppProtection,
            Family::Scripts | Family::ShellScripts => AssignKind::Script,
            Family::Intents => AssignKind::Intent,
            Family::GroupPolicyConfigurations => AssignKind::GroupPolicy,
            Family::HealthScripts => AssignKind::HealthScript,
            Family::AutopilotProfiles => AssignKind::Autopilot,
            Family::EnrollmentConfigurations => AssignKind::Enrollment,
            Family::MobileAppConfigurations => AssignKind::MobileAppConfig,
            Family::TargetedAppConfigurations => AssignKind::AppProtection,
            Family::FeatureUpdateProfiles => AssignKind::FeatureUpdate,
            Family::RoleScopeTags => AssignKind::RoleScopeTag,
            Family::MobileApps => AssignKind::MobileApp,
            Family::QualityUpdateProfiles => AssignKind::QualityUpdate,
            Family::DriverUpdateProfiles => AssignKind::DriverUpdate,
            Family::PolicySets => AssignKind::PolicySet,
            Family::TermsAndConditions => AssignKind::Terms,
            _ => return None,
        })
    }

    fn odata_type(self) -> &'static str {
        match self {
            AssignKind::SettingsCatalog => "#microsoft.graph.deviceManagementConfigurationPolicyAssignment",
            AssignKind::DeviceConfiguration => "#microsoft.graph.deviceConfigurationAssignment",
            AssignKind::Compliance => "#microsoft.graph.deviceCompliancePolicyAssignment",
            AssignKind::AppProtection => "#microsoft.graph.targetedManagedAppPolicyAssignment",
            AssignKind::Script => "#microsoft.graph.deviceManagementScriptAssignment",
            AssignKind::Intent => "#microsoft.graph.deviceManagementIntentAssignment",
            AssignKind::GroupPolicy => "#microsoft.graph.groupPolicyConfigurationAssignment",
            AssignKind::HealthScript => "#microsoft.graph.deviceHealthScriptAssignment",
            AssignKind::Autopilot => "#microsoft.graph.windowsAutopilotDeploymentProfileAssignment",
            AssignKind::Enrollment => "#microsoft.graph.enrollmentConfigurationAssignment",
            AssignKind::MobileAppConfig => "#microsoft.graph.managedDeviceMobileAppConfigurationAssignment",
            AssignKind::FeatureUpdate => "#microsoft.graph.windowsFeatureUpdateProfileAssignment",
            AssignKind::RoleScopeTag => "#microsoft.graph.roleScopeTagAutoAssignment",
            AssignKind::MobileApp => "#microsoft.graph.mobileAppAssignment",
            AssignKind::QualityUpdate => "#microsoft.graph.windowsQualityUpdateProfileAssignment",
            AssignKind::DriverUpdate => "#microsoft.graph.windowsDriverUpdateProfileAssignment",
            AssignKind::PolicySet => "#microsoft.graph.policySetAssignment",
            AssignKind::Terms => "#microsoft.graph.termsAndConditionsAssignment",
        }
    }
}

/// The stored form of an assignment; ids follow Intune's `{policyId}_{groupId}` pattern.
pub(crate) fn assignment_value(kind: AssignKind, policy_id: &str, target_id: &str, target: Value) -> Value {
    let mut a = Map::new();
    a.insert("@odata.type".into(), json!(kind.odata_type()));
    a.insert("id".into(), json!(format!("{policy_id}_{target_id}")));
    match kind {
        AssignKind::Script
        | AssignKind::Intent
        | AssignKind::GroupPolicy
        | AssignKind::HealthScript
        | AssignKind::MobileAppConfig
        | AssignKind::FeatureUpdate
        | AssignKind::RoleScopeTag
        | AssignKind::QualityUpdate
        | AssignKind::DriverUpdate
        | AssignKind::PolicySet
        | AssignKind::Terms => {}
        AssignKind::DeviceConfiguration => {
            a.insert("intent".into(), json!("apply"));
            a.insert("source".into(), json!("direct"));
            a.insert("sourceId".into(), json!(policy_id));
        }
        _ => {
            a.insert("source".into(), json!("direct"));
            a.insert("sourceId".into(), json!(policy_id));
        }
    }
    a.insert("target".into(), target);
    Value::Object(a)
}

fn base(
    id: &str,
    odata: &str,
    name_prop: &str,
    name: String,
    description: String,
    rng: &mut Rng,
) -> Map<String, Value> {
    let (created, modified) = seeded_time(rng);
    let mut m = Map::new();
    m.insert("@odata.type".into(), json!(format!("#microsoft.graph.{odata}")));
    m.insert("id".into(), json!(id));
    m.insert(name_prop.into(), json!(name));
    m.insert("description".into(), json!(description));
    m.insert("createdDateTime".into(), json!(created));
    m.insert("lastModifiedDateTime".into(), json!(modified));
    m
}

fn put(m: &mut Map<String, Value>, v: Value) {
    if let Value::Object(o) = v {
        m.extend(o);
    }
}

/// Seeds one tenant: `n` objects per policy family, at least 3 groups, up to 4 custom scope tags.
pub(crate) fn seed_tenant(seed: u64, n: usize, short_name: &str) -> BTreeMap<Family, Vec<Obj>> {
    let mut rng = Rng::new(seed);
    let mut data: BTreeMap<Family, Vec<Obj>> = BTreeMap::new();

    let groups = seed_groups(&mut rng, n.max(3), short_name);
    let group_ids: Vec<String> = groups.iter().map(|g| g.id.clone()).collect();
    data.insert(Family::Groups, groups);

    let tags = seed_tags(&mut rng, n.min(4));
    let tag_ids: Vec<String> = tags.iter().map(|t| t.id.clone()).collect();
    data.insert(Family::RoleScopeTags, tags);

    let mut ctx = Ctx {
        rng,
        groups: group_ids,
        filters: Vec::new(),
        tags: tag_ids,
    };
    let filters = seed_filters(&mut ctx, n);
    ctx.filters = filters
        .iter()
        .map(|f| {
            (
                f.id.clone(),
                platform_static(f.props["platform"].as_str().unwrap_or_default()),
            )
        })
        .collect();
    data.insert(Family::AssignmentFilters, filters);

    data.insert(
        Family::ConfigurationPolicies,
        (0..n).map(|i| settings_policy(&mut ctx, i)).collect(),
    );
    data.insert(
        Family::DeviceConfigurations,
        (0..n).map(|i| device_configuration(&mut ctx, i)).collect(),
    );
    data.insert(
        Family::CompliancePolicies,
        (0..n).map(|i| compliance_policy(&mut ctx, i)).collect(),
    );
    data.insert(
        Family::IosAppProtections,
        (0..n).map(|i| app_protection(&mut ctx, i, true)).collect(),
    );
    data.insert(
        Family::AndroidAppProtections,
        (0..n).map(|i| app_protection(&mut ctx, i, false)).collect(),
    );
    data.insert(Family::Intents, (0..n).map(|i| intent(&mut ctx, i)).collect());
    data.insert(Family::Scripts, (0..n).map(|i| script(&mut ctx, i)).collect());
    // Added later than the families above and seeded after them, so their content is unchanged.
    data.insert(
        Family::ShellScripts,
        (0..n).map(|i| shell_script(&mut ctx, i)).collect(),
    );
    data.insert(
        Family::HealthScripts,
        (0..n).map(|i| health_script(&mut ctx, i)).collect(),
    );
    data.insert(
        Family::GroupPolicyConfigurations,
        (0..n).map(|i| group_policy_configuration(&mut ctx, i)).collect(),
    );
    data.insert(
        Family::AutopilotProfiles,
        (0..n).map(|i| autopilot_profile(&mut ctx, i)).collect(),
    );
    data.insert(
        Family::EnrollmentConfigurations,
        (0..n).map(|i| enrollment_configuration(&mut ctx, i)).collect(),
    );
    data.insert(
        Family::MobileAppConfigurations,
        (0..n).map(|i| mobile_app_configuration(&mut ctx, i)).collect(),
    );
    data.insert(
        Family::TargetedAppConfigurations,
        (0..n).map(|i| targeted_app_configuration(&mut ctx, i)).collect(),
    );
    data.insert(
        Family::FeatureUpdateProfiles,
        (0..n).map(|i| feature_update_profile(&mut ctx, i)).collect(),
    );
    data.insert(
        Family::NotificationTemplates,
        (0..n).map(|i| notification_template(&mut ctx, i)).collect(),
    );
    // Issue 18's families, seeded last with an rng of their own: every earlier family keeps its content.
    ctx.rng = Rng::new(seed ^ 0xFA41_1E50_0018_0006);
    let apps: Vec<Obj> = (0..n).map(|i| mobile_app(&mut ctx, i)).collect();
    data.insert(
        Family::QualityUpdateProfiles,
        (0..n).map(|i| quality_update_profile(&mut ctx, i)).collect(),
    );
    data.insert(
        Family::DriverUpdateProfiles,
        (0..n).map(|i| driver_update_profile(&mut ctx, i)).collect(),
    );
    let sets = (0..n)
        .map(|i| policy_set(&mut ctx, i, &apps, &data[&Family::DeviceConfigurations]))
        .collect();
    data.insert(Family::MobileApps, apps);
    data.insert(Family::PolicySets, sets);
    let roles = role_definitions(&mut ctx, n);
    data.insert(
        Family::RoleAssignments,
        (0..n).map(|i| role_assignment(&mut ctx, i, &roles)).collect(),
    );
    data.insert(Family::RoleDefinitions, roles);
    data.insert(
        Family::TermsAndConditions,
        (0..n).map(|i| terms_and_conditions(&mut ctx, i)).collect(),
    );
    data.insert(
        Family::DeviceCategories,
        (0..n).map(|i| device_category(&mut ctx, i)).collect(),
    );
    ctx.rng = Rng::new(seed ^ 0x5EC2_E75E_ED00_0001);
    ensure_secrets(&mut ctx, &mut data);
    data
}

/// Every tenant shows what redaction must handle, whatever its seed drew: a Wi-Fi profile with a
/// pre-shared key, a settings-catalog policy with a secret setting value, an OMA-URI profile with
/// an encrypted value and a device-restrictions profile with password-length settings. A missing
/// one replaces the content of the last objects (their ids stay), drawn from an rng of its own so
/// nothing else changes.
fn ensure_secrets(ctx: &mut Ctx, data: &mut BTreeMap<Family, Vec<Obj>>) {
    let odata = |o: &Obj| o.props["@odata.type"].as_str().unwrap_or_default().to_owned();
    if let Some(policies) = data.get_mut(&Family::ConfigurationPolicies)
        && let Some(last) = policies.len().checked_sub(1)
        && !policies
            .iter()
            .any(|p| p.props["name"].as_str().is_some_and(|n| n.contains("Wi-Fi")))
    {
        let id = policies[last].id.clone();
        policies[last] = settings_policy_of(ctx, last, id, SC_WIFI);
    }
    let Some(configs) = data.get_mut(&Family::DeviceConfigurations) else {
        return;
    };
    let has = |configs: &[Obj], types: &[&str]| {
        configs
            .iter()
            .any(|o| types.iter().any(|t| odata(o) == format!("#microsoft.graph.{t}")))
    };
    let wanted = [
        (
            DC_WINDOWS_WIFI,
            &["windowsWifiConfiguration", "iosWiFiConfiguration"][..],
        ),
        (DC_OMA_URI, &["windows10CustomConfiguration"][..]),
        (DC_RESTRICTIONS, &["windows10GeneralConfiguration"][..]),
    ];
    for (variant, types) in wanted {
        if has(configs, types) {
            continue;
        }
        // Replace the last object whose kind is not needed, or is shown by another object too.
        let group_of = |o: &Obj| {
            let t = odata(o);
            wanted
                .iter()
                .position(|(_, ts)| ts.iter().any(|x| t == format!("#microsoft.graph.{x}")))
        };
        let spare = (0..configs.len()).rev().find(|&i| match group_of(&configs[i]) {
            None => true,
            Some(g) => configs.iter().filter(|o| group_of(o) == Some(g)).count() > 1,
        });
        if let Some(slot) = spare {
            let id = configs[slot].id.clone();
            configs[slot] = device_configuration_of(ctx, slot, id, variant);
        }
    }
}

fn platform_static(p: &str) -> &'static str {
    ["windows10AndLater", "iOS", "android", "macOS", "androidForWork"]
        .into_iter()
        .find(|x| *x == p)
        .unwrap_or("")
}

fn seed_groups(rng: &mut Rng, n: usize, short_name: &str) -> Vec<Obj> {
    (0..n)
        .map(|i| {
            let id = rng.guid();
            let audience = AUDIENCES[i % AUDIENCES.len()];
            let prefix = rng.pick(&["SG", "GRP", "AAD"]);
            let name = if i < AUDIENCES.len() {
                format!("{prefix}-Intune-{audience}")
            } else {
                format!("{prefix}-Intune-{audience} {}", i / AUDIENCES.len() + 1)
            };
            let dynamic = rng.chance(0.3);
            let (created, _) = seeded_time(rng);
            let nick: String = name.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
            let rule = dynamic.then(|| match rng.below(3) {
                0 => "(device.deviceOSType -eq \"Windows\")".to_string(),
                1 => "(device.deviceOSType -eq \"iPhone\") or (device.deviceOSType -eq \"iPad\")".to_string(),
                _ => format!("(user.department -eq \"{audience}\")"),
            });
            let mut m = Map::new();
            put(
                &mut m,
                json!({
                    "@odata.type": "#microsoft.graph.group",
                    "id": id,
                    "deletedDateTime": null,
                    "classification": null,
                    "createdDateTime": created.split('.').next().map(|s| format!("{s}Z")),
                    "description": format!("{audience} ({short_name})"),
                    "displayName": name,
                    "groupTypes": if dynamic { json!(["DynamicMembership"]) } else { json!([]) },
                    "mail": null,
                    "mailEnabled": false,
                    "mailNickname": nick,
                    "membershipRule": rule,
                    "membershipRuleProcessingState": if dynamic { json!("On") } else { Value::Null },
                    "securityEnabled": true,
                    "securityIdentifier": format!("S-1-12-1-{}-{}-{}-{}", rng.next_u64() as u32, rng.next_u64() as u32, rng.next_u64() as u32, rng.next_u64() as u32),
                    "visibility": null,
                }),
            );
            let mut g = Obj::new(id.clone(), m);
            g.navs.insert("members".into(), seed_members(&id, i));
            g
        })
        .collect()
}

/// 0–40 user members, drawn from the group's id (not the tenant's generator, so adding members
/// changed nothing else the seed makes). Every fifth group after the first few is empty, as
/// stale groups are in real tenants.
fn seed_members(group_id: &str, i: usize) -> Vec<Value> {
    let h = crate::rng::hash_parts(0x6d65_6d62, &[group_id]);
    let n = if i >= AUDIENCES.len() && i % 5 == 4 {
        0
    } else {
        1 + (h % 40) as usize
    };
    (0..n)
        .map(|k| {
            let u = crate::rng::hash_parts(h, &[&k.to_string()]);
            json!({"@odata.type": "#microsoft.graph.user", "id": format!("{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
                u as u32, (u >> 32) as u16, (u >> 48) & 0xfff, (u >> 20) & 0xfff, u & 0xffff_ffff_ffff)})
        })
        .collect()
}

fn seed_tags(rng: &mut Rng, custom: usize) -> Vec<Obj> {
    let mut out = vec![Obj::new(
        "0".into(),
        json!({"@odata.type": "#microsoft.graph.roleScopeTag", "id": "0", "displayName": "Default",
               "description": "Built-in scope tag", "isBuiltIn": true})
        .as_object()
        .cloned()
        .unwrap_or_default(),
    )];
    let start = rng.below(TAGS.len());
    for i in 0..custom {
        let id = (i + 1).to_string();
        let name = TAGS[(start + i) % TAGS.len()];
        out.push(Obj::new(
            id.clone(),
            json!({"@odata.type": "#microsoft.graph.roleScopeTag", "id": id, "displayName": name,
                   "description": format!("Scope for {name} administrators"), "isBuiltIn": false})
            .as_object()
            .cloned()
            .unwrap_or_default(),
        ));
    }
    out
}

fn seed_filters(ctx: &mut Ctx, n: usize) -> Vec<Obj> {
    (0..n)
        .map(|i| {
            let id = ctx.rng.guid();
            let (platform, label, rule) = FILTER_KINDS[(i + ctx.rng.below(2)) % FILTER_KINDS.len()];
            let mut m = base(
                &id,
                "deviceAndAppManagementAssignmentFilter",
                "displayName",
                format!("FLT - {label} {:02}", i + 1),
                format!("Devices matching: {label}"),
                &mut ctx.rng,
            );
            let tags = ctx.scope_tags();
            put(
                &mut m,
                json!({"platform": platform, "rule": rule, "roleScopeTags": tags, "payloads": [],
                       "assignmentFilterManagementType": "devices"}),
            );
            Obj::new(id, m)
        })
        .collect()
}

fn setting_value(rng: &mut Rng, def: &Def) -> Value {
    match def {
        Def::Choice(id, opts) => json!({
            "@odata.type": "#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance",
            "settingDefinitionId": id,
            "settingInstanceTemplateReference": null,
            "choiceSettingValue": {"settingValueTemplateReference": null, "value": format!("{id}{}", rng.pick(opts)), "children": []}
        }),
        Def::Int(id, lo, hi) => json!({
            "@odata.type": "#microsoft.graph.deviceManagementConfigurationSimpleSettingInstance",
            "settingDefinitionId": id,
            "settingInstanceTemplateReference": null,
            "simpleSettingValue": {"@odata.type": "#microsoft.graph.deviceManagementConfigurationIntegerSettingValue",
                                   "settingValueTemplateReference": null, "value": lo + rng.below((hi - lo + 1) as usize) as i64}
        }),
        Def::Str(id, opts) => json!({
            "@odata.type": "#microsoft.graph.deviceManagementConfigurationSimpleSettingInstance",
            "settingDefinitionId": id,
            "settingInstanceTemplateReference": null,
            "simpleSettingValue": {"@odata.type": "#microsoft.graph.deviceManagementConfigurationStringSettingValue",
                                   "settingValueTemplateReference": null, "value": rng.pick(opts)}
        }),
    }
}

fn wrap_setting(instance: Value) -> Value {
    json!({"@odata.type": "#microsoft.graph.deviceManagementConfigurationSetting", "settingInstance": instance})
}

/// macOS/iOS Wi-Fi payload: a group collection with SSID, encryption and the pre-shared key.
fn wifi_group(rng: &mut Rng, ssid: &str) -> Value {
    let p = "com.apple.wifi.managed";
    json!({
        "@odata.type": "#microsoft.graph.deviceManagementConfigurationGroupSettingCollectionInstance",
        "settingDefinitionId": format!("{p}_{p}"),
        "settingInstanceTemplateReference": null,
        "groupSettingCollectionValue": [{"settingValueTemplateReference": null, "children": [
            {"@odata.type": "#microsoft.graph.deviceManagementConfigurationSimpleSettingInstance",
             "settingDefinitionId": format!("{p}_ssid_str"), "settingInstanceTemplateReference": null,
             "simpleSettingValue": {"@odata.type": "#microsoft.graph.deviceManagementConfigurationStringSettingValue",
                                    "settingValueTemplateReference": null, "value": ssid}},
            {"@odata.type": "#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance",
             "settingDefinitionId": format!("{p}_encryptiontype"), "settingInstanceTemplateReference": null,
             "choiceSettingValue": {"settingValueTemplateReference": null, "value": format!("{p}_encryptiontype_1"), "children": []}},
            // A secret setting: written in plain text, read back as a token (`Obj::set_settings`).
            {"@odata.type": "#microsoft.graph.deviceManagementConfigurationSimpleSettingInstance",
             "settingDefinitionId": format!("{p}_password"), "settingInstanceTemplateReference": null,
             "simpleSettingValue": {"@odata.type": "#microsoft.graph.deviceManagementConfigurationSecretSettingValue",
                                    "settingValueTemplateReference": null, "value": secret(rng, 20),
                                    "valueState": "notEncrypted"}},
            {"@odata.type": "#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance",
             "settingDefinitionId": format!("{p}_autojoin"), "settingInstanceTemplateReference": null,
             "choiceSettingValue": {"settingValueTemplateReference": null, "value": format!("{p}_autojoin_true"), "children": []}}
        ]}]
    })
}

fn settings_policy(ctx: &mut Ctx, i: usize) -> Obj {
    let id = ctx.rng.guid();
    let variant = (i + ctx.rng.below(2)) % 5;
    settings_policy_of(ctx, i, id, variant)
}

/// Variant 2 is the macOS Wi-Fi policy, whose password is a secret setting value.
const SC_WIFI: usize = 2;

fn settings_policy_of(ctx: &mut Ctx, i: usize, id: String, variant: usize) -> Obj {
    let (platforms, technologies, area, template) = match variant {
        0 => (
            "windows10",
            "mdm,microsoftSense",
            "Defender AV",
            Some((
                "804339ad-1553-4478-a742-138fb5807418_1",
                "endpointSecurityAntivirus",
                "Microsoft Defender Antivirus",
            )),
        ),
        1 => ("windows10", "mdm", "Device Hardening", None),
        2 => ("macOS", "mdm,appleRemoteManagement", "Wi-Fi", None),
        3 => ("iOS", "mdm", "Restrictions", None),
        _ => (
            "windows10",
            "mdm,microsoftSense",
            "Firewall",
            Some((
                "6078910e-d808-4a9f-a51d-1b8a7bacb7c0_1",
                "endpointSecurityFirewall",
                "Microsoft Defender Firewall",
            )),
        ),
    };
    let prefix = match platforms {
        "macOS" => "MAC",
        "iOS" => "IOS",
        _ => "WIN",
    };
    let name = format!("{prefix} - {area} - SC {:02}", i + 1);
    let mut m = base(
        &id,
        "deviceManagementConfigurationPolicy",
        "name",
        name,
        format!("{area} settings ({platforms})"),
        &mut ctx.rng,
    );

    // Every third policy is large enough to page (> 25 settings).
    let count = if i % 3 == 2 {
        ctx.rng.range(26, 60)
    } else {
        ctx.rng.range(2, 20)
    };
    let mut instances = Vec::new();
    if variant == 2 {
        let ssid = *ctx.rng.pick(SSIDS);
        instances.push(wifi_group(&mut ctx.rng, ssid));
    }
    let defs = if platforms == "windows10" { WIN_DEFS } else { IOS_DEFS };
    let start = ctx.rng.below(defs.len());
    for k in 0..count.min(defs.len()) {
        instances.push(setting_value(&mut ctx.rng, &defs[(start + k) % defs.len()]));
    }
    let area_admx = *ctx.rng.pick(ADMX_AREAS);
    for k in instances.len()..count {
        let def_id = format!("device_vendor_msft_policy_config_admx_{area_admx}_setting{k:03}");
        instances.push(json!({
            "@odata.type": "#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance",
            "settingDefinitionId": def_id,
            "settingInstanceTemplateReference": null,
            "choiceSettingValue": {"settingValueTemplateReference": null,
                                   "value": format!("{def_id}_{}", if ctx.rng.chance(0.5) { "enabled" } else { "disabled" }),
                                   "children": []}
        }));
    }
    let settings: Vec<Value> = instances.into_iter().map(wrap_setting).collect();
    let tags = ctx.scope_tags();
    let template_ref = match template {
        Some((tid, fam, disp)) => {
            json!({"templateId": tid, "templateFamily": fam, "templateDisplayName": disp, "templateDisplayVersion": "Version 1"})
        }
        None => {
            json!({"templateId": "", "templateFamily": "none", "templateDisplayName": null, "templateDisplayVersion": null})
        }
    };
    put(
        &mut m,
        json!({"platforms": platforms, "technologies": technologies, "roleScopeTagIds": tags, "creationSource": null,
               "priorityMetaData": null, "templateReference": template_ref}),
    );
    let mut obj = Obj::new(id.clone(), m);
    obj.set_settings(settings);
    let filter_platform = match platforms {
        "macOS" => "macOS",
        "iOS" => "iOS",
        _ => "windows10AndLater",
    };
    ctx.assigned(obj, AssignKind::SettingsCatalog, Some(filter_platform))
}

fn device_configuration(ctx: &mut Ctx, i: usize) -> Obj {
    let id = ctx.rng.guid();
    let variant = (i + ctx.rng.below(3)) % 6;
    device_configuration_of(ctx, i, id, variant)
}

/// Device configuration variants with secrets (or settings that only look like one).
const DC_RESTRICTIONS: usize = 0;
const DC_OMA_URI: usize = 1;
const DC_WINDOWS_WIFI: usize = 3;

fn device_configuration_of(ctx: &mut Ctx, i: usize, id: String, variant: usize) -> Obj {
    let rng = &mut ctx.rng;
    let (odata, prefix, area, extra, filter_platform) = match variant {
        0 => (
            "windows10GeneralConfiguration",
            "WIN",
            "Device Restrictions",
            json!({"passwordRequired": rng.chance(0.7), "passwordMinimumLength": rng.range(6, 14),
                   "passwordRequiredType": "alphanumeric", "screenCaptureBlocked": rng.chance(0.3),
                   "cameraBlocked": rng.chance(0.2), "defenderRequireRealTimeMonitoring": true,
                   "edgeBlockPasswordManager": rng.chance(0.5), "smartScreenEnableAppInstallControl": false}),
            "windows10AndLater",
        ),
        1 => {
            let sref = rng.guid();
            (
                "windows10CustomConfiguration",
                "WIN",
                "OMA-URI",
                json!({"omaSettings": [
                    {"@odata.type": "#microsoft.graph.omaSettingString", "displayName": "Proxy credentials",
                     "description": "Service account for the proxy",
                     "omaUri": "./Device/Vendor/MSFT/Policy/Config/ADMX_ICM/ProxyCredentials",
                     "secretReferenceValueId": sref, "isEncrypted": true, "value": secret(rng, 18)},
                    {"@odata.type": "#microsoft.graph.omaSettingInteger", "displayName": "Allow telemetry",
                     "description": null, "omaUri": "./Device/Vendor/MSFT/Policy/Config/System/AllowTelemetry",
                     "secretReferenceValueId": null, "isEncrypted": false, "isReadOnly": false, "value": rng.range(0, 3)}
                ]}),
                "windows10AndLater",
            )
        }
        2 => {
            let plist = format!(
                "<?xml version=\"1.0\"?><plist version=\"1.0\"><dict><key>PayloadType</key><string>com.apple.vpn.managed</string><key>SharedSecret</key><string>{}</string></dict></plist>",
                secret(rng, 24)
            );
            (
                "iosCustomConfiguration",
                "IOS",
                "Custom VPN",
                json!({"payloadName": "Corporate VPN", "payloadFileName": "corp-vpn.mobileconfig", "payload": B64.encode(plist)}),
                "iOS",
            )
        }
        3 => (
            "windowsWifiConfiguration",
            "WIN",
            "Wi-Fi",
            {
                let ssid = rng.pick(SSIDS);
                json!({"ssid": ssid, "networkName": ssid, "connectAutomatically": true, "connectWhenNetworkNameIsHidden": false,
                       "wifiSecurityType": "wpa2Personal", "preSharedKey": secret(rng, 16), "proxySetting": "none",
                       "meteredConnectionLimit": "unrestricted", "forceFIPSCompliance": false})
            },
            "windows10AndLater",
        ),
        4 => (
            "iosWiFiConfiguration",
            "IOS",
            "Wi-Fi",
            {
                let ssid = rng.pick(SSIDS);
                json!({"ssid": ssid, "networkName": ssid, "connectAutomatically": true, "connectWhenNetworkNameIsHidden": false,
                       "wiFiSecurityType": "wpaPersonal", "preSharedKey": secret(rng, 20), "proxySettings": "none",
                       "disableMacAddressRandomization": false})
            },
            "iOS",
        ),
        _ => (
            "androidWorkProfileGeneralDeviceConfiguration",
            "AND",
            "Work Profile",
            json!({"passwordMinimumLength": rng.range(4, 10), "passwordRequiredType": "numericComplex",
                   "workProfileBlockCamera": rng.chance(0.3), "workProfileBlockScreenCapture": true,
                   "workProfileDataSharingType": "preventAny"}),
            "androidForWork",
        ),
    };
    let name = format!("{prefix} - {area} - DC {:02}", i + 1);
    let mut m = base(&id, odata, "displayName", name, format!("{area} profile"), &mut ctx.rng);
    let tags = ctx.scope_tags();
    put(
        &mut m,
        json!({"version": ctx.rng.range(1, 9), "roleScopeTagIds": tags, "supportsScopeTags": true,
               "deviceManagementApplicabilityRuleOsEdition": null, "deviceManagementApplicabilityRuleOsVersion": null,
               "deviceManagementApplicabilityRuleDeviceMode": null}),
    );
    put(&mut m, extra);
    let mut obj = Obj::new(id.clone(), m);
    obj.protect_oma_settings();
    ctx.assigned(obj, AssignKind::DeviceConfiguration, Some(filter_platform))
}

/// A compliance rule's actions: exactly one `block`, sometimes a notification first.
pub(crate) fn compliance_actions(rng: &mut Rng) -> Vec<Value> {
    let mut configs = vec![json!({"id": rng.guid(), "gracePeriodHours": 0, "actionType": "block",
                                  "notificationTemplateId": NULL_GUID, "notificationMessageCCList": []})];
    if rng.chance(0.4) {
        configs.push(
            json!({"id": rng.guid(), "gracePeriodHours": rng.range(1, 72), "actionType": "notification",
                            "notificationTemplateId": NULL_GUID, "notificationMessageCCList": []}),
        );
    }
    vec![json!({"id": rng.guid(), "ruleName": "PasswordRequired", "scheduledActionConfigurations": configs})]
}

fn compliance_policy(ctx: &mut Ctx, i: usize) -> Obj {
    let id = ctx.rng.guid();
    let rng = &mut ctx.rng;
    let (odata, prefix, extra, fp) = match (i + rng.below(2)) % 4 {
        0 => (
            "windows10CompliancePolicy",
            "WIN",
            json!({"passwordRequired": true, "passwordMinimumLength": rng.range(6, 14), "osMinimumVersion": rng.pick(&["10.0.19045", "10.0.22621", "10.0.22631"]),
                   "bitLockerEnabled": true, "secureBootEnabled": true, "codeIntegrityEnabled": true,
                   "deviceThreatProtectionEnabled": rng.chance(0.5), "deviceThreatProtectionRequiredSecurityLevel": "medium"}),
            "windows10AndLater",
        ),
        1 => (
            "iosCompliancePolicy",
            "IOS",
            json!({"passcodeRequired": true, "passcodeMinimumLength": rng.range(4, 8), "osMinimumVersion": rng.pick(&["16.0", "17.0", "17.4"]),
                   "securityBlockJailbrokenDevices": true, "managedEmailProfileRequired": false}),
            "iOS",
        ),
        2 => (
            "androidWorkProfileCompliancePolicy",
            "AND",
            json!({"passwordRequired": true, "passwordMinimumLength": rng.range(4, 8), "securityBlockJailbrokenDevices": true,
                   "osMinimumVersion": rng.pick(&["11.0", "12.0", "13.0"]), "securityRequireSafetyNetAttestationBasicIntegrity": true}),
            "androidForWork",
        ),
        _ => (
            "macOSCompliancePolicy",
            "MAC",
            json!({"passwordRequired": true, "storageRequireEncryption": true, "firewallEnabled": true,
                   "osMinimumVersion": rng.pick(&["13.0", "14.0"]), "systemIntegrityProtectionEnabled": true}),
            "macOS",
        ),
    };
    let name = format!("{prefix} - Compliance - CP {:02}", i + 1);
    let mut m = base(
        &id,
        odata,
        "displayName",
        name,
        "Baseline compliance".into(),
        &mut ctx.rng,
    );
    let tags = ctx.scope_tags();
    put(&mut m, json!({"version": ctx.rng.range(1, 6), "roleScopeTagIds": tags}));
    put(&mut m, extra);
    let mut obj = Obj::new(id.clone(), m);
    obj.navs
        .insert("scheduledActionsForRule".into(), compliance_actions(&mut ctx.rng));
    ctx.assigned(obj, AssignKind::Compliance, Some(fp))
}

pub(crate) fn app_entry(ios: bool, app: &str) -> Value {
    if ios {
        json!({"id": format!("{app}.ios"), "version": "-1",
               "mobileAppIdentifier": {"@odata.type": "#microsoft.graph.iosMobileAppIdentifier", "bundleId": app}})
    } else {
        json!({"id": format!("{app}.android"), "version": "-1",
               "mobileAppIdentifier": {"@odata.type": "#microsoft.graph.androidMobileAppIdentifier", "packageId": app}})
    }
}

fn app_protection(ctx: &mut Ctx, i: usize, ios: bool) -> Obj {
    let id = format!("T_{}", ctx.rng.guid());
    let (odata, prefix) = if ios {
        ("iosManagedAppProtection", "IOS")
    } else {
        ("androidManagedAppProtection", "AND")
    };
    let kind = ctx.rng.pick(&["Standard", "Strict", "BYOD", "Frontline"]).to_string();
    let name = format!("{prefix} - App Protection - {kind} {:02}", i + 1);
    let mut m = base(
        &id,
        odata,
        "displayName",
        name,
        format!("{kind} data protection"),
        &mut ctx.rng,
    );
    let rng = &mut ctx.rng;
    let etag = format!("\"{}\"", rng.guid());
    put(
        &mut m,
        json!({"version": etag, "periodOfflineBeforeAccessCheck": "PT12H", "periodOnlineBeforeAccessCheck": "PT30M",
               "allowedInboundDataTransferSources": "allApps", "allowedOutboundDataTransferDestinations": "managedApps",
               "organizationalCredentialsRequired": false, "allowedOutboundClipboardSharingLevel": "managedAppsWithPasteIn",
               "dataBackupBlocked": true, "deviceComplianceRequired": true, "saveAsBlocked": rng.chance(0.6),
               "periodOfflineBeforeWipeIsEnforced": "P90D", "pinRequired": true, "maximumPinRetries": rng.range(3, 10),
               "simplePinBlocked": rng.chance(0.5), "minimumPinLength": rng.range(4, 8), "pinCharacterSet": "numeric",
               "allowedDataStorageLocations": ["oneDriveForBusiness", "sharePoint"], "contactSyncBlocked": false,
               "printBlocked": rng.chance(0.3), "fingerprintBlocked": false, "disableAppPinIfDevicePinIsSet": false,
               "minimumRequiredOsVersion": null, "targetedAppManagementLevels": "unspecified", "appGroupType": "selectedPublicApps"}),
    );
    if ios {
        put(
            &mut m,
            json!({"appDataEncryptionType": "whenDeviceLocked", "faceIdBlocked": false, "minimumRequiredSdkVersion": null}),
        );
    } else {
        put(
            &mut m,
            json!({"screenCaptureBlocked": true, "encryptAppData": true, "minimumRequiredPatchVersion": "2024-01-01"}),
        );
    }
    let tags = ctx.scope_tags();
    m.insert("roleScopeTagIds".into(), tags);
    let apps_src = if ios { IOS_APPS } else { ANDROID_APPS };
    let napps = ctx.rng.range(1, apps_src.len());
    let apps: Vec<Value> = apps_src[..napps].iter().map(|a| app_entry(ios, a)).collect();
    let mut obj = Obj::new(id.clone(), m);
    obj.navs.insert("apps".into(), apps);
    ctx.assigned(obj, AssignKind::AppProtection, None)
}

/// An intent setting instance from a definition id and its JSON value.
pub(crate) fn intent_setting(id: String, definition_id: &str, value_json: &str) -> Value {
    let value: Value = serde_json::from_str(value_json).unwrap_or(Value::Null);
    let odata = match &value {
        Value::Bool(_) => "deviceManagementBooleanSettingInstance",
        Value::Number(_) => "deviceManagementIntegerSettingInstance",
        _ => "deviceManagementStringSettingInstance",
    };
    json!({"@odata.type": format!("#microsoft.graph.{odata}"), "id": id, "definitionId": definition_id,
           "valueJson": value_json, "value": value})
}

fn intent(ctx: &mut Ctx, i: usize) -> Obj {
    let id = ctx.rng.guid();
    let t = &TEMPLATES[(i + ctx.rng.below(2)) % TEMPLATES.len()];
    let name = format!("ES - {} - Intent {:02}", t.display_name, i + 1);
    let mut m = base(
        &id,
        "deviceManagementIntent",
        "displayName",
        name,
        format!("{} (legacy template)", t.display_name),
        &mut ctx.rng,
    );
    m.remove("createdDateTime");
    let tags = ctx.scope_tags();
    put(
        &mut m,
        json!({"templateId": t.id, "isMigratingToConfigurationPolicy": false, "roleScopeTagIds": tags}),
    );
    let settings: Vec<Value> = t
        .settings
        .iter()
        .map(|(def, v)| {
            let v = if *v == "true" && ctx.rng.chance(0.3) {
                "false"
            } else {
                v
            };
            intent_setting(ctx.rng.guid(), def, v)
        })
        .collect();
    let mut obj = Obj::new(id.clone(), m);
    obj.navs.insert("settings".into(), settings);
    ctx.assigned(obj, AssignKind::Intent, Some("windows10AndLater"))
}

fn script(ctx: &mut Ctx, i: usize) -> Obj {
    let id = ctx.rng.guid();
    let rng = &mut ctx.rng;
    let (area, file, body) = match (i + rng.below(2)) % 4 {
        0 => (
            "Map Drives",
            "Map-Drives.ps1",
            "New-PSDrive -Name S -PSProvider FileSystem -Root \\\\fs01\\shared -Persist\n".to_string(),
        ),
        1 => (
            "Local Admin",
            "Set-LocalAdmin.ps1",
            format!(
                "$Password = ConvertTo-SecureString \"{}\" -AsPlainText -Force\nSet-LocalUser -Name \"LocalAdmin\" -Password $Password\n",
                secret(rng, 16)
            ),
        ),
        2 => (
            "Wi-Fi Profile",
            "Add-WifiProfile.ps1",
            format!(
                "$psk = \"{}\"\nnetsh wlan add profile filename=\"corp.xml\" user=all\n",
                secret(rng, 20)
            ),
        ),
        _ => (
            "Inventory Upload",
            "Send-Inventory.ps1",
            format!(
                "$apiKey = \"{}\"\nInvoke-RestMethod -Uri https://inventory.contoso.example/api -Headers @{{ 'x-api-key' = $apiKey }}\n",
                secret(rng, 32)
            ),
        ),
    };
    let name = format!("PS - {area} - {:02}", i + 1);
    let mut m = base(
        &id,
        "deviceManagementScript",
        "displayName",
        name,
        format!("{area} script"),
        &mut ctx.rng,
    );
    let tags = ctx.scope_tags();
    put(
        &mut m,
        json!({"scriptContent": B64.encode(body), "runAsAccount": if ctx.rng.chance(0.7) { "system" } else { "user" },
               "enforceSignatureCheck": false, "fileName": file, "roleScopeTagIds": tags, "runAs32Bit": false}),
    );
    ctx.assigned(Obj::new(id, m), AssignKind::Script, Some("windows10AndLater"))
}

fn shell_script(ctx: &mut Ctx, i: usize) -> Obj {
    let id = ctx.rng.guid();
    let rng = &mut ctx.rng;
    let (area, file, body) = match (i + rng.below(2)) % 3 {
        0 => (
            "Rosetta",
            "install-rosetta.sh",
            "#!/bin/zsh\n/usr/sbin/softwareupdate --install-rosetta --agree-to-license\n".to_string(),
        ),
        1 => (
            "Dock Layout",
            "set-dock.sh",
            "#!/bin/zsh\ndefaults write com.apple.dock persistent-apps -array\nkillall Dock\n".to_string(),
        ),
        _ => (
            "Printer Setup",
            "add-printer.sh",
            format!(
                "#!/bin/bash\nPRINTER_PASSWORD=\"{}\"\nlpadmin -p Floor2 -E -v ipp://print01.contoso.example/ipp/print\n",
                secret(rng, 18)
            ),
        ),
    };
    let name = format!("MAC - {area} - SH {:02}", i + 1);
    let mut m = base(
        &id,
        "deviceShellScript",
        "displayName",
        name,
        format!("{area} (macOS)"),
        &mut ctx.rng,
    );
    let tags = ctx.scope_tags();
    let rng = &mut ctx.rng;
    put(
        &mut m,
        json!({"scriptContent": B64.encode(body), "runAsAccount": if rng.chance(0.7) { "system" } else { "user" },
               "fileName": file, "executionFrequency": rng.pick(&["PT0S", "PT15M", "P1D", "P1W"]),
               "retryCount": rng.range(0, 3), "blockExecutionNotifications": rng.chance(0.5), "roleScopeTagIds": tags}),
    );
    ctx.assigned(Obj::new(id, m), AssignKind::Script, Some("macOS"))
}

/// A remediation assignment's `runSchedule`.
pub(crate) fn health_schedule(rng: &mut Rng) -> Value {
    match rng.below(3) {
        0 => json!({"@odata.type": "#microsoft.graph.deviceHealthScriptHourlySchedule", "interval": rng.range(1, 8)}),
        1 => json!({"@odata.type": "#microsoft.graph.deviceHealthScriptDailySchedule", "interval": 1,
                    "useUtc": false, "time": format!("{:02}:00:00", rng.range(6, 20))}),
        _ => json!({"@odata.type": "#microsoft.graph.deviceHealthScriptRunOnceSchedule", "interval": 1,
                    "useUtc": true, "time": "08:00:00", "date": "2025-03-01"}),
    }
}

fn health_script(ctx: &mut Ctx, i: usize) -> Obj {
    let id = ctx.rng.guid();
    let rng = &mut ctx.rng;
    let (area, publisher, detect, remediate) = match (i + rng.below(2)) % 3 {
        0 => (
            "Clear Teams Cache",
            "Workplace",
            "if (Test-Path \"$env:APPDATA\\Microsoft\\Teams\\Cache\") { exit 1 } else { exit 0 }\n".to_string(),
            "Remove-Item \"$env:APPDATA\\Microsoft\\Teams\\Cache\" -Recurse -Force\n".to_string(),
        ),
        1 => (
            "Restart Stale Devices",
            "Endpoint Ops",
            "$up = (Get-Date) - (gcim Win32_OperatingSystem).LastBootUpTime\nif ($up.TotalDays -gt 14) { exit 1 }\nexit 0\n"
                .to_string(),
            "shutdown /r /t 3600 /c \"Your device restarts in one hour.\"\n".to_string(),
        ),
        _ => (
            "Local Admin Password",
            "Security",
            "if (-not (Get-LocalUser -Name 'LocalAdmin' -ErrorAction SilentlyContinue)) { exit 1 }\nexit 0\n"
                .to_string(),
            format!(
                "$pw = ConvertTo-SecureString \"{}\" -AsPlainText -Force\nNew-LocalUser -Name 'LocalAdmin' -Password $pw\n",
                secret(rng, 16)
            ),
        ),
    };
    let name = format!("RM - {area} - {:02}", i + 1);
    let mut m = base(
        &id,
        "deviceHealthScript",
        "displayName",
        name,
        format!("{area} remediation"),
        &mut ctx.rng,
    );
    let tags = ctx.scope_tags();
    let rng = &mut ctx.rng;
    put(
        &mut m,
        json!({"publisher": publisher, "version": "1", "runAsAccount": if rng.chance(0.8) { "system" } else { "user" },
               "runAs32Bit": false, "enforceSignatureCheck": false, "roleScopeTagIds": tags, "isGlobalScript": false,
               "highestAvailableVersion": null, "deviceHealthScriptType": "deviceHealthScript",
               "detectionScriptContent": B64.encode(detect), "remediationScriptContent": B64.encode(remediate),
               "detectionScriptParameters": [], "remediationScriptParameters": []}),
    );
    let mut obj = Obj::new(id.clone(), m);
    let mut assignments = ctx.assignments(&id, AssignKind::HealthScript, Some("windows10AndLater"));
    for a in &mut assignments {
        a["runRemediationScript"] = json!(ctx.rng.chance(0.8));
        a["runSchedule"] = health_schedule(&mut ctx.rng);
    }
    obj.navs.insert("assignments".into(), assignments);
    obj
}

/// A stored presentation value; `presentation` is shown only with `$expand=presentation`.
pub(crate) fn gp_presentation_value(id: String, p: &GpPresentation, value: Value, ts: &str) -> Value {
    json!({"@odata.type": gp_value_type(p.kind), "id": id, "value": value, "createdDateTime": ts,
           "lastModifiedDateTime": ts, "presentation": gp_presentation_json(p)})
}

/// A stored definition value; `definition` and `presentationValues` are shown only when expanded.
pub(crate) fn gp_definition_value(id: String, d: &GpDefinition, enabled: bool, values: Vec<Value>, ts: &str) -> Value {
    json!({"@odata.type": "#microsoft.graph.groupPolicyDefinitionValue", "id": id, "enabled": enabled,
           "configurationType": "policy", "createdDateTime": ts, "lastModifiedDateTime": ts,
           "definition": gp_definition_json(d), "presentationValues": values})
}

fn group_policy_configuration(ctx: &mut Ctx, i: usize) -> Obj {
    let id = ctx.rng.guid();
    let area = ctx
        .rng
        .pick(&["Edge Baseline", "Windows Update", "Hardening", "User Experience"])
        .to_string();
    let name = format!("WIN - ADMX - {area} {:02}", i + 1);
    let mut m = base(
        &id,
        "groupPolicyConfiguration",
        "displayName",
        name,
        format!("{area} administrative templates"),
        &mut ctx.rng,
    );
    let tags = ctx.scope_tags();
    put(
        &mut m,
        json!({"roleScopeTagIds": tags, "policyConfigurationIngestionType": "builtIn"}),
    );
    let ts = m["lastModifiedDateTime"].as_str().unwrap_or_default().to_string();
    let count = ctx.rng.range(1, 4);
    let start = ctx.rng.below(GP_DEFINITIONS.len());
    let values = (0..count)
        .map(|k| {
            let d = &GP_DEFINITIONS[(start + k) % GP_DEFINITIONS.len()];
            let enabled = ctx.rng.chance(0.85);
            let pvs = d
                .presentations
                .iter()
                .map(|p| {
                    let rng = &mut ctx.rng;
                    let v = match p.kind {
                        GpKind::Text => json!(format!(
                            "https://{}.contoso.example/",
                            rng.pick(&["intranet", "wsus", "home"])
                        )),
                        GpKind::CheckBox => json!(rng.chance(0.5)),
                        GpKind::Decimal => json!(rng.range(0, 23)),
                        GpKind::Dropdown(items) => json!(rng.pick(items)),
                    };
                    gp_presentation_value(ctx.rng.guid(), p, v, &ts)
                })
                .collect();
            gp_definition_value(ctx.rng.guid(), d, enabled, pvs, &ts)
        })
        .collect();
    let mut obj = Obj::new(id.clone(), m);
    obj.navs.insert("definitionValues".into(), values);
    ctx.assigned(obj, AssignKind::GroupPolicy, Some("windows10AndLater"))
}

fn autopilot_profile(ctx: &mut Ctx, i: usize) -> Obj {
    let id = ctx.rng.guid();
    let hybrid = (i + ctx.rng.below(2)) % 3 == 2;
    let (odata, kind) = if hybrid {
        ("activeDirectoryWindowsAutopilotDeploymentProfile", "Hybrid Join")
    } else {
        ("azureADWindowsAutopilotDeploymentProfile", "Entra Join")
    };
    let name = format!("AP - {kind} - {:02}", i + 1);
    let mut m = base(
        &id,
        odata,
        "displayName",
        name,
        format!("Autopilot {kind}"),
        &mut ctx.rng,
    );
    let tags = ctx.scope_tags();
    let rng = &mut ctx.rng;
    let user_mode = rng.chance(0.8);
    put(
        &mut m,
        json!({"language": rng.pick(&["os-default", "en-US", "de-DE"]), "locale": null,
               "deviceNameTemplate": if hybrid { "" } else { rng.pick(&["CON-%SERIAL%", "WIN-%RAND:6%", "LAP-%SERIAL%"]) },
               "deviceType": "windowsPc", "enableWhiteGlove": rng.chance(0.5), "extractHardwareHash": rng.chance(0.6),
               "roleScopeTagIds": tags, "managementServiceAppId": null, "hardwareHashExtractionEnabled": false,
               "preprovisioningAllowed": false,
               "outOfBoxExperienceSettings": {"hidePrivacySettings": true, "hideEULA": true,
                   "userType": if user_mode { "standard" } else { "administrator" }, "deviceUsageType": "singleUser",
                   "skipKeyboardSelectionPage": true, "hideEscapeLink": true},
               "enrollmentStatusScreenSettings": null}),
    );
    if hybrid {
        m.insert("hybridAzureADJoinSkipConnectivityCheck".into(), json!(rng.chance(0.5)));
    }
    let mut obj = Obj::new(id.clone(), m);
    obj.navs.insert("assignedDevices".into(), Vec::new());
    // Autopilot targets groups only (no filters, no all-users).
    let mut assignments = ctx.assignments(&id, AssignKind::Autopilot, Some("windows10AndLater"));
    assignments.retain(|a| {
        a["target"]["groupId"].is_string()
            || a["target"]["@odata.type"] == json!("#microsoft.graph.allDevicesAssignmentTarget")
    });
    for a in &mut assignments {
        a["target"]["deviceAndAppManagementAssignmentFilterId"] = Value::Null;
        a["target"]["deviceAndAppManagementAssignmentFilterType"] = json!("none");
    }
    obj.navs.insert("assignments".into(), assignments);
    obj
}

fn enrollment_configuration(ctx: &mut Ctx, i: usize) -> Obj {
    let guid = ctx.rng.guid();
    if i == 0 {
        // Every tenant has its default configurations (priority 0, targeted at all users, not deletable).
        let id = format!("{guid}{DEFAULT_ENROLLMENT_SUFFIX}");
        let mut m = base(
            &id,
            "deviceEnrollmentLimitConfiguration",
            "displayName",
            "All users and all devices".into(),
            "This is the default Device Limit Restriction applied with the lowest priority to all users regardless of group membership.".into(),
            &mut ctx.rng,
        );
        put(
            &mut m,
            json!({"priority": 0, "version": ctx.rng.range(1, 4), "roleScopeTagIds": ["0"], "limit": 15}),
        );
        let mut obj = Obj::new(id.clone(), m);
        let target = json!({"@odata.type": "#microsoft.graph.allLicensedUsersAssignmentTarget",
                            "deviceAndAppManagementAssignmentFilterId": null,
                            "deviceAndAppManagementAssignmentFilterType": "none"});
        obj.navs.insert(
            "assignments".into(),
            vec![assignment_value(AssignKind::Enrollment, &id, ALL_USERS_ID, target)],
        );
        return obj;
    }
    let id = guid;
    let rng = &mut ctx.rng;
    let (odata, label, extra) = match (i + rng.below(2)) % 4 {
        0 => (
            "deviceEnrollmentPlatformRestrictionConfiguration",
            "Block personal Android",
            json!({"platformType": "android", "platformRestriction": {"platformBlocked": false, "personalDeviceEnrollmentBlocked": true,
                   "osMinimumVersion": rng.pick(&["11.0", "12.0"]), "osMaximumVersion": null, "blockedManufacturers": [], "blockedSkus": []}}),
        ),
        1 => (
            "windows10EnrollmentCompletionPageConfiguration",
            "ESP",
            json!({"showInstallationProgress": true, "blockDeviceSetupRetryByUser": false, "allowDeviceResetOnInstallFailure": true,
                   "allowLogCollectionOnInstallFailure": true, "customErrorMessage": "Contact the service desk on ext. 4400.",
                   "installProgressTimeoutInMinutes": rng.pick(&[60, 90, 120]), "allowDeviceUseOnInstallFailure": false,
                   "selectedMobileAppIds": [], "allowNonBlockingAppInstallation": false, "installQualityUpdates": false,
                   "trackInstallProgressForAutopilotOnly": true, "disableUserStatusTrackingAfterFirstUser": true}),
        ),
        2 => (
            "deviceEnrollmentLimitConfiguration",
            "Device limit",
            json!({"limit": rng.range(3, 10)}),
        ),
        _ => (
            "deviceEnrollmentWindowsHelloForBusinessConfiguration",
            "Windows Hello",
            json!({"pinMinimumLength": rng.range(6, 8), "pinMaximumLength": 127, "pinUppercaseCharactersUsage": "allowed",
                   "pinLowercaseCharactersUsage": "allowed", "pinSpecialCharactersUsage": "allowed", "state": "enabled",
                   "securityDeviceRequired": true, "unlockWithBiometricsEnabled": true, "remotePassportEnabled": false,
                   "pinPreviousBlockCount": 0, "pinExpirationInDays": 0, "enhancedBiometricsState": "notConfigured",
                   "securityKeyForSignIn": "notConfigured", "enhancedSignInSecurity": 0}),
        ),
    };
    let name = format!("ENR - {label} - {i:02}");
    let mut m = base(
        &id,
        odata,
        "displayName",
        name,
        format!("{label} restriction"),
        &mut ctx.rng,
    );
    let tags = ctx.scope_tags();
    put(
        &mut m,
        json!({"priority": i, "version": ctx.rng.range(1, 4), "roleScopeTagIds": tags}),
    );
    put(&mut m, extra);
    let platform = if odata.starts_with("deviceEnrollmentPlatform") {
        None
    } else {
        Some("windows10AndLater")
    };
    ctx.assigned(Obj::new(id, m), AssignKind::Enrollment, platform)
}

fn mobile_app_configuration(ctx: &mut Ctx, i: usize) -> Obj {
    let id = ctx.rng.guid();
    let ios = (i + ctx.rng.below(2)).is_multiple_of(2);
    let app = ctx.rng.guid();
    let (odata, prefix, extra, platform) = if ios {
        let plist = "<dict><key>IntuneMAMUPN</key><string>{{userprincipalname}}</string><key>IntuneMAMAllowedAccountsOnly</key><string>Enabled</string></dict>";
        (
            "iosMobileAppConfiguration",
            "IOS",
            json!({"encodedSettingXml": B64.encode(plist), "settings": [
                {"appConfigKey": "com.microsoft.outlook.EmailProfile.AccountType", "appConfigKeyType": "stringType",
                 "appConfigKeyValue": "ModernAuth"},
                {"appConfigKey": "com.microsoft.outlook.Mail.FocusedInbox", "appConfigKeyType": "booleanType",
                 "appConfigKeyValue": if ctx.rng.chance(0.5) { "true" } else { "false" }}]}),
            "iOS",
        )
    } else {
        let payload = json!({"kind": "androidenterprise#managedConfiguration", "productId": "app:com.microsoft.office.outlook",
                             "managedProperty": [{"key": "com.microsoft.outlook.EmailProfile.EmailUPN", "valueString": "{{userprincipalname}}"}]});
        (
            "androidManagedStoreAppConfiguration",
            "AND",
            json!({"packageId": "app:com.microsoft.office.outlook", "payloadJson": B64.encode(payload.to_string()),
                   "permissionActions": [], "appSupportsOemConfig": false, "profileApplicability": "androidWorkProfile",
                   "connectedAppsEnabled": false}),
            "androidForWork",
        )
    };
    let name = format!("{prefix} - Outlook - ACP {:02}", i + 1);
    let mut m = base(
        &id,
        odata,
        "displayName",
        name,
        "Managed device app configuration".into(),
        &mut ctx.rng,
    );
    let tags = ctx.scope_tags();
    put(
        &mut m,
        json!({"targetedMobileApps": [app], "version": ctx.rng.range(1, 5), "roleScopeTagIds": tags}),
    );
    put(&mut m, extra);
    ctx.assigned(Obj::new(id, m), AssignKind::MobileAppConfig, Some(platform))
}

fn targeted_app_configuration(ctx: &mut Ctx, i: usize) -> Obj {
    let id = format!("A_{}", ctx.rng.guid());
    let (label, settings, apps) = match (i + ctx.rng.below(2)) % 2 {
        0 => (
            "Edge",
            json!([{"name": "com.microsoft.intune.mam.managedbrowser.homepage", "value": "https://intranet.contoso.example"},
                   {"name": "com.microsoft.intune.mam.managedbrowser.AllowTransitionOnBlock", "value": "true"}]),
            vec![
                app_entry(true, "com.microsoft.msedge"),
                app_entry(false, "com.microsoft.emmx"),
            ],
        ),
        _ => (
            "Outlook",
            json!([{"name": "com.microsoft.outlook.Mail.FocusedInbox", "value": "false"},
                   {"name": "com.microsoft.outlook.Contacts.LocalSyncEnabled", "value": "true"}]),
            vec![
                app_entry(true, "com.microsoft.office.outlook"),
                app_entry(false, "com.microsoft.office.outlook"),
            ],
        ),
    };
    let name = format!("MAM - {label} - ACP {:02}", i + 1);
    let mut m = base(
        &id,
        "targetedManagedAppConfiguration",
        "displayName",
        name,
        format!("{label} managed app configuration"),
        &mut ctx.rng,
    );
    let tags = ctx.scope_tags();
    let etag = format!("\"{}\"", ctx.rng.guid());
    put(
        &mut m,
        json!({"version": etag, "customSettings": settings, "appGroupType": "selectedPublicApps",
               "targetedAppManagementLevels": "unspecified", "settings": [], "roleScopeTagIds": tags}),
    );
    let mut obj = Obj::new(id.clone(), m);
    obj.navs.insert("apps".into(), apps);
    ctx.assigned(obj, AssignKind::AppProtection, None)
}

fn feature_update_profile(ctx: &mut Ctx, i: usize) -> Obj {
    let id = ctx.rng.guid();
    let (version, display, eos) = *ctx.rng.pick(FEATURE_UPDATES);
    let ring = ctx.rng.pick(&["Pilot", "Broad", "Critical"]).to_string();
    let name = format!("WUfB - {display} - {ring} {:02}", i + 1);
    let mut m = base(
        &id,
        "windowsFeatureUpdateProfile",
        "displayName",
        name,
        format!("{ring} ring"),
        &mut ctx.rng,
    );
    let tags = ctx.scope_tags();
    let gradual = ctx.rng.chance(0.4);
    put(
        &mut m,
        json!({"featureUpdateVersion": version, "deployableContentDisplayName": display, "endOfSupportDate": eos,
        "roleScopeTagIds": tags, "installLatestWindows10OnWindows11IneligibleDevice": ctx.rng.chance(0.5),
        "installFeatureUpdatesOptional": false,
        "rolloutSettings": if gradual {
            json!({"offerStartDateTimeInUTC": "2025-02-03T00:00:00Z", "offerEndDateTimeInUTC": "2025-03-03T00:00:00Z",
                   "offerIntervalInDays": 7})
        } else {
            json!({"offerStartDateTimeInUTC": null, "offerEndDateTimeInUTC": null, "offerIntervalInDays": null})
        }}),
    );
    ctx.assigned(Obj::new(id, m), AssignKind::FeatureUpdate, Some("windows10AndLater"))
}

/// A localized notification message; ids are `{templateId}_{locale}`.
pub(crate) fn localized_message(
    template_id: &str,
    locale: &str,
    subject: &str,
    body: &str,
    default: bool,
    ts: &str,
) -> Value {
    json!({"@odata.type": "#microsoft.graph.localizedNotificationMessage", "id": format!("{template_id}_{locale}"),
           "lastModifiedDateTime": ts, "locale": locale, "subject": subject, "messageTemplate": body, "isDefault": default})
}

fn notification_template(ctx: &mut Ctx, i: usize) -> Obj {
    let id = ctx.rng.guid();
    let topic = ctx
        .rng
        .pick(&[
            "Non-compliant device",
            "OS out of date",
            "Encryption required",
            "Jailbroken device",
        ])
        .to_string();
    let name = format!("NT - {topic} - {:02}", i + 1);
    let mut m = base(
        &id,
        "notificationMessageTemplate",
        "displayName",
        name,
        format!("Sent when: {topic}"),
        &mut ctx.rng,
    );
    m.remove("createdDateTime");
    let tags = ctx.scope_tags();
    let branding = ctx
        .rng
        .pick(&[
            "includeCompanyLogo,includeCompanyName,includeContactInformation",
            "includeCompanyName",
            "none",
        ])
        .to_string();
    put(&mut m, json!({"brandingOptions": branding, "roleScopeTagIds": tags}));
    let ts = m["lastModifiedDateTime"].as_str().unwrap_or_default().to_string();
    let mut messages = vec![localized_message(
        &id,
        "en-us",
        &format!("Action required: {topic}"),
        &format!(
            "Your device is {}. Open Company Portal to fix it within 24 hours.",
            topic.to_lowercase()
        ),
        true,
        &ts,
    )];
    for (locale, subject) in [("de-de", "Aktion erforderlich"), ("fr-fr", "Action requise")] {
        if ctx.rng.chance(0.5) {
            messages.push(localized_message(
                &id,
                locale,
                &format!("{subject}: {topic}"),
                "Company Portal: https://portal.manage.microsoft.com",
                false,
                &ts,
            ));
        }
    }
    let mut obj = Obj::new(id, m);
    obj.navs.insert("localizedNotificationMessages".into(), messages);
    obj
}

fn mobile_app(ctx: &mut Ctx, i: usize) -> Obj {
    let id = ctx.rng.guid();
    let kinds = crate::catalog::app_kinds();
    let (odata, name, publisher, extra) = kinds[i % kinds.len()].clone();
    let lob = odata.contains("LobApp");
    let mut m = base(
        &id,
        odata,
        "displayName",
        format!("{name} {:02}", i + 1),
        format!("{name} by {publisher}"),
        &mut ctx.rng,
    );
    let tags = ctx.scope_tags();
    put(
        &mut m,
        json!({"publisher": publisher, "isFeatured": ctx.rng.chance(0.2), "privacyInformationUrl": null,
               "informationUrl": null, "owner": "", "developer": "", "notes": "", "roleScopeTagIds": tags,
               "publishingState": "published", "uploadState": 1, "dependentAppCount": 0,
               "supersedingAppCount": 0, "supersededAppCount": 0}),
    );
    if lob {
        put(
            &mut m,
            json!({"committedContentVersion": "1", "size": ctx.rng.range(2_000_000, 90_000_000)}),
        );
    }
    put(&mut m, extra);
    let mut obj = ctx.assigned(Obj::new(id, m), AssignKind::MobileApp, None);
    // Every app assignment says what it does to the app.
    for a in obj.navs.get_mut("assignments").into_iter().flatten() {
        let intent = if a["target"]["@odata.type"] == "#microsoft.graph.exclusionGroupAssignmentTarget" {
            "required"
        } else {
            *ctx.rng.pick(&["required", "available", "uninstall"])
        };
        a["intent"] = json!(intent);
        a["settings"] = Value::Null;
    }
    obj.navs.insert("categories".into(), Vec::new());
    obj
}

fn quality_update_profile(ctx: &mut Ctx, i: usize) -> Obj {
    let id = ctx.rng.guid();
    let (release, display) = *ctx.rng.pick(crate::catalog::QUALITY_UPDATES);
    let mut m = base(
        &id,
        "windowsQualityUpdateProfile",
        "displayName",
        format!("WUfB - Expedite {display} - {:02}", i + 1),
        "Expedited security update".into(),
        &mut ctx.rng,
    );
    let tags = ctx.scope_tags();
    put(
        &mut m,
        json!({"expeditedUpdateSettings": {"qualityUpdateRelease": release, "daysUntilForcedReboot": ctx.rng.range(0, 2)},
               "releaseDateDisplayName": display, "deployableContentDisplayName": format!("{display} - Security Updates"),
               "roleScopeTagIds": tags}),
    );
    ctx.assigned(Obj::new(id, m), AssignKind::QualityUpdate, Some("windows10AndLater"))
}

fn driver_update_profile(ctx: &mut Ctx, i: usize) -> Obj {
    let id = ctx.rng.guid();
    let automatic = ctx.rng.chance(0.5);
    let approval = if automatic { "automatic" } else { "manual" };
    let mut m = base(
        &id,
        "windowsDriverUpdateProfile",
        "displayName",
        format!("WUfB - Drivers - {approval} {:02}", i + 1),
        format!("Driver updates, {approval} approval"),
        &mut ctx.rng,
    );
    let tags = ctx.scope_tags();
    let synced = m["lastModifiedDateTime"].clone();
    let deferral = if automatic {
        json!(ctx.rng.range(0, 14))
    } else {
        Value::Null
    };
    put(
        &mut m,
        json!({"approvalType": approval, "deploymentDeferralInDays": deferral, "deviceReporting": ctx.rng.range(0, 400),
               "newUpdates": ctx.rng.range(0, 9), "roleScopeTagIds": tags,
               "inventorySyncStatus": {"driverInventorySyncState": "success", "lastSuccessfulSyncDateTime": synced}}),
    );
    let mut obj = ctx.assigned(Obj::new(id, m), AssignKind::DriverUpdate, Some("windows10AndLater"));
    obj.navs.insert("driverInventories".into(), Vec::new());
    obj
}

fn policy_set(ctx: &mut Ctx, i: usize, apps: &[Obj], configs: &[Obj]) -> Obj {
    let id = ctx.rng.guid();
    let mut m = base(
        &id,
        "policySet",
        "displayName",
        format!("PS - {} onboarding {:02}", ctx.rng.pick(AUDIENCES), i + 1),
        "Apps and profiles deployed together".into(),
        &mut ctx.rng,
    );
    let ts = m["lastModifiedDateTime"].clone();
    let tags = ctx.scope_tags();
    put(
        &mut m,
        json!({"status": "notAssigned", "errorCode": "noError", "guidedDeploymentTags": [], "roleScopeTags": tags}),
    );
    let mut items = Vec::new();
    if let Some(app) = apps.get(i % apps.len().max(1)) {
        items.push(
            json!({"@odata.type": "#microsoft.graph.mobileAppPolicySetItem", "id": ctx.rng.guid(),
            "payloadId": app.id, "displayName": app.props["displayName"], "itemType": app.props["@odata.type"],
            "status": "success", "errorCode": "noError", "createdDateTime": ts, "lastModifiedDateTime": ts,
            "guidedDeploymentTags": [], "intent": "required", "settings": null}),
        );
    }
    if let Some(c) = configs.get(i % configs.len().max(1)) {
        items.push(
            json!({"@odata.type": "#microsoft.graph.deviceConfigurationPolicySetItem", "id": ctx.rng.guid(),
            "payloadId": c.id, "displayName": c.props["displayName"], "itemType": c.props["@odata.type"],
            "status": "success", "errorCode": "noError", "createdDateTime": ts, "lastModifiedDateTime": ts,
            "guidedDeploymentTags": []}),
        );
    }
    let mut obj = ctx.assigned(Obj::new(id, m), AssignKind::PolicySet, None);
    obj.navs.insert("items".into(), items);
    obj
}

fn role_definition_json(
    id: &str,
    name: &str,
    description: &str,
    actions: &[&str],
    built_in: bool,
    ts: &Value,
) -> Map<String, Value> {
    let mut m = Map::new();
    put(
        &mut m,
        json!({"@odata.type": "#microsoft.graph.deviceAndAppManagementRoleDefinition", "id": id, "displayName": name,
               "description": description, "isBuiltIn": built_in, "isBuiltInRoleDefinition": built_in,
               "roleScopeTagIds": ["0"], "permissions": [],
               "rolePermissions": [{"resourceActions": [{"allowedResourceActions": actions, "notAllowedResourceActions": []}]}],
               "createdDateTime": ts, "lastModifiedDateTime": ts}),
    );
    m
}

/// The built-in roles (fixed ids, the same in every tenant) and `n` custom ones.
fn role_definitions(ctx: &mut Ctx, n: usize) -> Vec<Obj> {
    let ts = json!("2023-06-01T00:00:00.0000000Z");
    let mut out: Vec<Obj> = crate::catalog::BUILT_IN_ROLES
        .iter()
        .map(|(id, name, actions)| {
            let mut o = Obj::new(
                id.to_string(),
                role_definition_json(id, name, &format!("Built-in role: {name}."), actions, true, &ts),
            );
            o.navs.insert("roleAssignments".into(), Vec::new());
            o
        })
        .collect();
    for i in 0..n {
        let id = ctx.rng.guid();
        let (created, _) = seeded_time(&mut ctx.rng);
        let k = 2 + ctx.rng.below(3);
        let actions: Vec<&str> = (0..k)
            .map(|j| crate::catalog::ROLE_ACTIONS[(i + j) % crate::catalog::ROLE_ACTIONS.len()])
            .collect();
        let name = format!("Custom - {} operator {:02}", ctx.rng.pick(TAGS), i + 1);
        let mut m = role_definition_json(&id, &name, "Custom Intune role", &actions, false, &json!(created));
        m.insert("roleScopeTagIds".into(), ctx.scope_tags());
        let mut o = Obj::new(id, m);
        o.navs.insert("roleAssignments".into(), Vec::new());
        out.push(o);
    }
    out
}

fn role_assignment(ctx: &mut Ctx, i: usize, roles: &[Obj]) -> Obj {
    let id = ctx.rng.guid();
    let role = &roles[i % roles.len()];
    let mut m = base(
        &id,
        "deviceAndAppManagementRoleAssignment",
        "displayName",
        format!(
            "{} - assignment {:02}",
            role.props["displayName"].as_str().unwrap_or_default(),
            i + 1
        ),
        "Granted to the service desk".into(),
        &mut ctx.rng,
    );
    m.remove("createdDateTime");
    m.remove("lastModifiedDateTime");
    let members = vec![ctx.rng.pick(&ctx.groups).clone()];
    let scopes = vec![ctx.rng.pick(&ctx.groups).clone()];
    put(
        &mut m,
        json!({"members": members, "resourceScopes": scopes, "scopeType": "resourceScope", "roleScopeTagIds": ["0"]}),
    );
    let mut o = Obj::new(id, m);
    o.navs.insert(
        "roleDefinition".into(),
        vec![
            json!({"@odata.type": "#microsoft.graph.deviceAndAppManagementRoleDefinition", "id": role.id,
                     "displayName": role.props["displayName"], "description": role.props["description"],
                     "isBuiltIn": role.props["isBuiltIn"]}),
        ],
    );
    o
}

fn terms_and_conditions(ctx: &mut Ctx, i: usize) -> Obj {
    let id = ctx.rng.guid();
    let audience = ctx.rng.pick(AUDIENCES).to_string();
    let mut m = base(
        &id,
        "termsAndConditions",
        "displayName",
        format!("T&C - {audience} {:02}", i + 1),
        format!("Acceptable use for {audience}"),
        &mut ctx.rng,
    );
    let modified = m.remove("lastModifiedDateTime").unwrap_or(Value::Null);
    let tags = ctx.scope_tags();
    put(
        &mut m,
        json!({"modifiedDateTime": modified, "title": "Contoso acceptable use", "version": ctx.rng.range(1, 4),
               "bodyText": "Company data stays on managed apps. Report a lost device within 24 hours.",
               "acceptanceStatement": "I accept the acceptable use policy.", "roleScopeTagIds": tags}),
    );
    let mut obj = ctx.assigned(Obj::new(id, m), AssignKind::Terms, None);
    obj.navs.insert("acceptanceStatuses".into(), Vec::new());
    obj.navs.insert("groupAssignments".into(), Vec::new());
    obj
}

fn device_category(ctx: &mut Ctx, i: usize) -> Obj {
    let id = ctx.rng.guid();
    let name = crate::catalog::DEVICE_CATEGORIES[i % crate::catalog::DEVICE_CATEGORIES.len()];
    let mut m = base(
        &id,
        "deviceCategory",
        "displayName",
        format!("{name} {:02}", i + 1),
        format!("Devices users enrol as: {name}"),
        &mut ctx.rng,
    );
    m.remove("createdDateTime");
    m.remove("lastModifiedDateTime");
    m.insert("roleScopeTagIds".into(), ctx.scope_tags());
    Obj::new(id, m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeding_is_deterministic_and_varied() {
        let a = seed_tenant(9, 6, "contoso");
        let b = seed_tenant(9, 6, "contoso");
        let ids = |d: &BTreeMap<Family, Vec<Obj>>| {
            d.values()
                .flat_map(|v| v.iter().map(|o| o.id.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&a), ids(&b));
        assert_ne!(ids(&a), ids(&seed_tenant(10, 6, "contoso")));
        let sc = &a[&Family::ConfigurationPolicies];
        assert_eq!(sc.len(), 6);
        assert!(
            sc.iter().any(|p| p.navs["settings"].len() > 25),
            "some settings catalog policy pages"
        );
        let types: std::collections::BTreeSet<_> = a[&Family::DeviceConfigurations]
            .iter()
            .map(|o| o.props["@odata.type"].to_string())
            .collect();
        assert!(types.len() >= 3, "{types:?}");
    }

    #[test]
    fn later_families_are_seeded_consistently() {
        let a = seed_tenant(9, 4, "contoso");
        for f in [
            Family::ShellScripts,
            Family::HealthScripts,
            Family::GroupPolicyConfigurations,
            Family::AutopilotProfiles,
            Family::EnrollmentConfigurations,
            Family::MobileAppConfigurations,
            Family::TargetedAppConfigurations,
            Family::FeatureUpdateProfiles,
            Family::NotificationTemplates,
        ] {
            assert_eq!(a[&f].len(), 4, "{f:?}");
        }
        let admx = &a[&Family::GroupPolicyConfigurations];
        assert!(admx.iter().all(|o| !o.navs["definitionValues"].is_empty()));
        for v in admx.iter().flat_map(|o| &o.navs["definitionValues"]) {
            let d = GP_DEFINITIONS
                .iter()
                .find(|d| v["definition"]["id"] == json!(d.id))
                .unwrap();
            assert_eq!(v["presentationValues"].as_array().unwrap().len(), d.presentations.len());
        }
        let enrollment = &a[&Family::EnrollmentConfigurations];
        assert!(enrollment[0].id.ends_with(DEFAULT_ENROLLMENT_SUFFIX));
        assert_eq!(enrollment[0].props["priority"], json!(0));
        let templates = &a[&Family::NotificationTemplates];
        assert!(templates.iter().all(|o| {
            o.navs["localizedNotificationMessages"]
                .iter()
                .filter(|m| m["isDefault"] == json!(true))
                .count()
                == 1
        }));
        assert!(
            a[&Family::TargetedAppConfigurations]
                .iter()
                .all(|o| o.id.starts_with("A_"))
        );
    }

    #[test]
    fn every_tenant_has_the_secrets_redaction_must_handle() {
        for seed in 0..40 {
            let t = seed_tenant(seed, 5, "contoso");
            let types: Vec<String> = t[&Family::DeviceConfigurations]
                .iter()
                .map(|o| o.props["@odata.type"].as_str().unwrap().to_owned())
                .collect();
            for want in [
                "windowsWifiConfiguration|iosWiFiConfiguration",
                "windows10CustomConfiguration",
                "windows10GeneralConfiguration",
            ] {
                assert!(
                    types.iter().any(|t| want.split('|').any(|w| t.ends_with(w))),
                    "seed {seed}: {want} in {types:?}"
                );
            }
            let sealed = t[&Family::ConfigurationPolicies].iter().any(|p| {
                serde_json::to_string(&p.navs["settings"])
                    .unwrap()
                    .contains("\"valueState\":\"encryptedValueToken\"")
            });
            assert!(sealed, "seed {seed}: a secret setting value, read back as a token");
            let oma = t[&Family::DeviceConfigurations]
                .iter()
                .find(|o| o.props["@odata.type"] == json!("#microsoft.graph.windows10CustomConfiguration"))
                .unwrap();
            assert_eq!(oma.props["omaSettings"][0]["value"], json!(crate::state::MASK));
            assert_eq!(seed_tenant(seed, 5, "contoso")[&Family::DeviceConfigurations].len(), 5);
        }
    }

    #[test]
    fn time_format_matches_graph() {
        let t = OffsetDateTime::from_unix_timestamp(1_704_067_200).unwrap();
        assert_eq!(graph_time(t), "2024-01-01T00:00:00.0000000Z");
    }
}
