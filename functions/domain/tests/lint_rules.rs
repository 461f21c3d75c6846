//! Spec 021: every lint rule with one positive and one negative fixture, plus the engine's
//! contract (catalogue, settings, not-evaluated rules, fingerprints, scale).

use std::collections::BTreeMap;
use std::time::Instant;

use base64::Engine as _;

use atlas_domain::Severity;
use atlas_domain::lint::{
    self, Directory, GroupInfo, LintHit, LintInput, LintObject, LintSettings, NamedRef, RULES, RuleSetting,
};
use serde_json::{Value, json};

const DAY_MS: i64 = 86_400_000;
/// 2026-01-01T00:00:00Z
const NOW: i64 = 1_767_225_600_000;

fn obj(family: &str, id: &str, payload: Value) -> LintObject {
    let mut payload = payload;
    payload["id"] = json!(id);
    LintObject {
        family: family.into(),
        id: id.into(),
        payload,
    }
}

fn directory() -> Directory {
    let mut groups = BTreeMap::new();
    groups.insert(
        "g-pilot".to_string(),
        GroupInfo {
            display_name: "Pilot".into(),
            member_count: Some(12),
        },
    );
    groups.insert(
        "g-ring2".to_string(),
        GroupInfo {
            display_name: "Ring 2".into(),
            member_count: None,
        },
    );
    groups.insert(
        "g-empty".to_string(),
        GroupInfo {
            display_name: "Nobody".into(),
            member_count: Some(0),
        },
    );
    Directory {
        groups: Some(groups),
        filters: Some(vec![NamedRef {
            id: "f-1".into(),
            name: "FLT - Corporate".into(),
        }]),
        scope_tags: Some(vec![NamedRef {
            id: "7".into(),
            name: "Berlin".into(),
        }]),
    }
}

fn input(objects: Vec<LintObject>) -> LintInput {
    LintInput {
        objects,
        directory: directory(),
        now_ms: NOW,
    }
}

fn run_with(objects: Vec<LintObject>, settings: &LintSettings) -> lint::LintReport {
    let settings_ok = settings.problems();
    assert!(settings_ok.is_empty(), "{settings_ok:?}");
    lint::run(&input(objects), settings)
}

/// The hits of `rule` on `objects` with `settings`.
fn hits_with(rule: &str, objects: Vec<LintObject>, settings: &LintSettings) -> Vec<LintHit> {
    let report = run_with(objects, settings);
    assert!(
        report.rules_run.iter().any(|r| r == rule),
        "{rule} did not run: {:?}",
        report.not_evaluated
    );
    report.hits.into_iter().filter(|h| h.rule_id == rule).collect()
}

fn hits(rule: &str, objects: Vec<LintObject>) -> Vec<LintHit> {
    hits_with(rule, objects, &LintSettings::default())
}

fn ids(h: &[LintHit]) -> Vec<&str> {
    h.iter().map(|h| h.object_id.as_str()).collect()
}

/// `rule` hits `bad` (once, on it) and not `good`.
fn pos_neg(rule: &str, family: &str, bad: Value, good: Value) -> LintHit {
    pos_neg_with(rule, family, bad, good, &LintSettings::default())
}

fn pos_neg_with(rule: &str, family: &str, bad: Value, good: Value, s: &LintSettings) -> LintHit {
    let h = hits_with(rule, vec![obj(family, "bad", bad)], s);
    assert_eq!(ids(&h), ["bad"], "{rule} positive: {h:?}");
    let none = hits_with(rule, vec![obj(family, "good", good)], s);
    assert!(none.is_empty(), "{rule} negative: {none:?}");
    let hit = h.into_iter().next().unwrap();
    assert_eq!(hit.severity, lint::rule(rule).unwrap().severity);
    hit
}

fn target(odata: &str, group: Option<&str>, filter: Option<&str>) -> Value {
    let mut t = json!({
        "@odata.type": format!("#microsoft.graph.{odata}"),
        "deviceAndAppManagementAssignmentFilterId": filter,
        "deviceAndAppManagementAssignmentFilterType": if filter.is_some() { "include" } else { "none" },
    });
    if let Some(g) = group {
        t["groupId"] = json!(g);
    }
    json!({"id": format!("a_{}", group.unwrap_or(odata)), "target": t})
}

fn inc(g: &str) -> Value {
    target("groupAssignmentTarget", Some(g), None)
}
fn exc(g: &str) -> Value {
    target("exclusionGroupAssignmentTarget", Some(g), None)
}
fn all_users() -> Value {
    target("allLicensedUsersAssignmentTarget", None, None)
}
fn all_devices() -> Value {
    target("allDevicesAssignmentTarget", None, None)
}

/// A clean device configuration with the given extra properties and assignments.
fn dc(odata: &str, extra: Value, assignments: Vec<Value>) -> Value {
    let mut p = json!({
        "@odata.type": format!("#microsoft.graph.{odata}"),
        "displayName": "WIN - Baseline - DC 01",
        "description": "Owned by the workplace team",
        "lastModifiedDateTime": "2025-12-01T10:00:00Z",
        "roleScopeTagIds": ["0", "7"],
        "assignments": assignments,
    });
    merge(&mut p, extra);
    p
}

fn merge(p: &mut Value, extra: Value) {
    if let Value::Object(m) = extra {
        for (k, v) in m {
            p[k] = v;
        }
    }
}

fn with(mut p: Value, extra: Value) -> Value {
    merge(&mut p, extra);
    p
}

fn sc_setting(def: &str, value: &str) -> Value {
    json!({"id": "0", "settingInstance": {
        "@odata.type": "#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance",
        "settingDefinitionId": def, "settingInstanceTemplateReference": null,
        "choiceSettingValue": {"settingValueTemplateReference": null, "value": value, "children": []}}})
}

fn sc(settings: Vec<Value>, assignments: Vec<Value>) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.deviceManagementConfigurationPolicy",
        "name": "WIN - Hardening - SC 01", "description": "Hardening", "platforms": "windows10",
        "technologies": "mdm", "roleScopeTagIds": ["0"], "lastModifiedDateTime": "2025-12-01T10:00:00Z",
        "settings": settings, "assignments": assignments,
    })
}

fn compliance(odata: &str, extra: Value, actions: Value) -> Value {
    dc(
        odata,
        with(
            json!({"scheduledActionsForRule": [{"ruleName": "PasswordRequired", "scheduledActionConfigurations": actions}]}),
            extra,
        ),
        vec![inc("g-pilot")],
    )
}

fn action(kind: &str, hours: u64) -> Value {
    json!({"id": format!("act-{kind}"), "actionType": kind, "gracePeriodHours": hours,
           "notificationTemplateId": "00000000-0000-0000-0000-000000000000", "notificationMessageCCList": []})
}

fn script(extra: Value) -> Value {
    with(
        json!({"@odata.type": "#microsoft.graph.deviceManagementScript", "displayName": "WIN - Inventory - PS 01",
               "description": "Collects inventory", "scriptContent": "V3JpdGUtT3V0cHV0ICdoaSc=", "runAsAccount": "user",
               "enforceSignatureCheck": false, "fileName": "inv.ps1", "roleScopeTagIds": ["0"],
               "assignments": [inc("g-pilot")]}),
        extra,
    )
}

fn app(extra: Value) -> Value {
    with(
        json!({"@odata.type": "#microsoft.graph.iosManagedAppProtection", "displayName": "IOS - MAM - APP 01",
               "description": "Outlook and Teams", "pinRequired": true, "minimumPinLength": 6,
               "roleScopeTagIds": ["0"], "assignments": [inc("g-pilot")]}),
        extra,
    )
}

// ---- the rules ---------------------------------------------------------------------------

#[test]
fn lint001_unassigned_policy() {
    let h = pos_neg(
        "LINT001",
        "deviceConfigurations",
        dc("windows10GeneralConfiguration", json!({}), vec![]),
        dc("windows10GeneralConfiguration", json!({}), vec![inc("g-pilot")]),
    );
    assert_eq!(h.property.as_deref(), Some("/assignments"));
    // No `assignments` array (not read): unknown, not unassigned.
    let mut p = dc("windows10GeneralConfiguration", json!({}), vec![]);
    p.as_object_mut().unwrap().remove("assignments");
    assert!(hits("LINT001", vec![obj("deviceConfigurations", "x", p)]).is_empty());
    // Families that are not assignable are never "unassigned".
    assert!(
        hits(
            "LINT001",
            vec![obj(
                "assignmentFilters",
                "f",
                json!({"displayName": "F", "assignments": []})
            )]
        )
        .is_empty()
    );
}

#[test]
fn lint002_assignment_to_deleted_group() {
    let h = pos_neg(
        "LINT002",
        "deviceConfigurations",
        dc(
            "windows10GeneralConfiguration",
            json!({}),
            vec![inc("g-pilot"), exc("g-gone")],
        ),
        dc(
            "windows10GeneralConfiguration",
            json!({}),
            vec![inc("g-pilot"), exc("g-ring2")],
        ),
    );
    assert_eq!(h.property.as_deref(), Some("/assignments/1/target/groupId"));
    assert!(h.message.contains("excludes group g-gone"));
}

#[test]
fn lint003_assignment_to_empty_group() {
    pos_neg(
        "LINT003",
        "deviceConfigurations",
        dc("windows10GeneralConfiguration", json!({}), vec![inc("g-empty")]),
        // Unknown member count and excluding an empty group are fine.
        dc(
            "windows10GeneralConfiguration",
            json!({}),
            vec![inc("g-ring2"), exc("g-empty")],
        ),
    );
}

#[test]
fn lint004_all_users_on_high_risk_family() {
    let h = pos_neg(
        "LINT004",
        "deviceManagementScripts",
        script(json!({"assignments": [all_devices()]})),
        script(json!({})),
    );
    assert_eq!(h.property.as_deref(), Some("/assignments/0/target"));
    // Not high-risk by default: device configurations to all users.
    let dc_all = dc("windows10GeneralConfiguration", json!({}), vec![all_users()]);
    assert!(hits("LINT004", vec![obj("deviceConfigurations", "d", dc_all.clone())]).is_empty());
    let s = LintSettings {
        high_risk_families: vec!["deviceConfigurations".into()],
        ..LintSettings::default()
    };
    assert_eq!(
        hits_with("LINT004", vec![obj("deviceConfigurations", "d", dc_all)], &s).len(),
        1
    );
}

#[test]
fn lint005_conflicting_settings_on_overlapping_targets() {
    const DEF: &str = "device_vendor_msft_policy_config_camera_allowcamera";
    let a = sc(vec![sc_setting(DEF, &format!("{DEF}_0"))], vec![inc("g-pilot")]);
    let b = sc(
        vec![sc_setting(DEF, &format!("{DEF}_1"))],
        vec![inc("g-pilot"), inc("g-ring2")],
    );
    let h = hits(
        "LINT005",
        vec![
            obj("configurationPolicies", "a", a.clone()),
            obj("configurationPolicies", "b", b.clone()),
        ],
    );
    assert_eq!(ids(&h), ["a", "b"]);
    assert_eq!(h[0].related, ["b"]);
    assert_eq!(h[0].property.as_deref(), Some(&*format!("setting:{DEF}")));
    // Disjoint targets: no conflict.
    let c = sc(vec![sc_setting(DEF, &format!("{DEF}_1"))], vec![inc("g-ring2")]);
    assert!(
        hits(
            "LINT005",
            vec![
                obj("configurationPolicies", "a", a.clone()),
                obj("configurationPolicies", "c", c.clone())
            ]
        )
        .is_empty()
    );
    // The same value: no conflict.
    assert!(
        hits(
            "LINT005",
            vec![
                obj("configurationPolicies", "a", a.clone()),
                obj("configurationPolicies", "a2", a.clone())
            ]
        )
        .is_empty()
    );
    // All Devices overlaps every group.
    let d = sc(vec![sc_setting(DEF, &format!("{DEF}_1"))], vec![all_devices()]);
    let h = hits(
        "LINT005",
        vec![
            obj("configurationPolicies", "a", a),
            obj("configurationPolicies", "d", d),
        ],
    );
    assert_eq!(ids(&h), ["a", "d"]);
    // Device configurations: the same property of the same type.
    let x = dc(
        "windows10GeneralConfiguration",
        json!({"passwordMinimumLength": 8}),
        vec![inc("g-pilot")],
    );
    let y = dc(
        "windows10GeneralConfiguration",
        json!({"passwordMinimumLength": 14}),
        vec![inc("g-pilot")],
    );
    let z = dc(
        "iosGeneralDeviceConfiguration",
        json!({"passwordMinimumLength": 14}),
        vec![inc("g-pilot")],
    );
    let h = hits(
        "LINT005",
        vec![
            obj("deviceConfigurations", "x", x.clone()),
            obj("deviceConfigurations", "y", y),
        ],
    );
    assert_eq!(ids(&h), ["x", "y"]);
    assert_eq!(h[0].property.as_deref(), Some("/passwordMinimumLength"));
    assert!(
        hits(
            "LINT005",
            vec![obj("deviceConfigurations", "x", x), obj("deviceConfigurations", "z", z)]
        )
        .is_empty()
    );
    // Nested settings compare one level down.
    let fw = |state: &str| {
        dc(
            "windows10EndpointProtectionConfiguration",
            json!({"firewallProfileDomain": {"firewallEnabled": state, "inboundConnectionsBlocked": true}}),
            vec![all_devices()],
        )
    };
    let h = hits(
        "LINT005",
        vec![
            obj("deviceConfigurations", "f1", fw("allowed")),
            obj("deviceConfigurations", "f2", fw("blocked")),
        ],
    );
    assert_eq!(ids(&h), ["f1", "f2"]);
    assert_eq!(h[0].property.as_deref(), Some("/firewallProfileDomain/firewallEnabled"));
    // Two Wi-Fi profiles for two networks are two profiles, not a conflict.
    let wifi = |ssid: &str| {
        dc(
            "windows10WiFiConfiguration",
            json!({"ssid": ssid, "networkName": ssid}),
            vec![inc("g-pilot")],
        )
    };
    assert!(
        hits(
            "LINT005",
            vec![
                obj("deviceConfigurations", "w1", wifi("CORP")),
                obj("deviceConfigurations", "w2", wifi("GUEST"))
            ]
        )
        .is_empty()
    );
    // Custom profiles conflict on the same OMA-URI only.
    let oma = |uri: &str, v: i64| {
        dc(
            "windows10CustomConfiguration",
            json!({"omaSettings": [{"@odata.type": "#microsoft.graph.omaSettingInteger", "displayName": "x", "omaUri": uri, "value": v}]}),
            vec![inc("g-pilot")],
        )
    };
    const URI: &str = "./Device/Vendor/MSFT/Policy/Config/System/AllowTelemetry";
    let h = hits(
        "LINT005",
        vec![
            obj("deviceConfigurations", "o1", oma(URI, 1)),
            obj("deviceConfigurations", "o2", oma(URI, 3)),
        ],
    );
    assert_eq!(ids(&h), ["o1", "o2"]);
    assert_eq!(h[0].property.as_deref(), Some("/omaSettings/0/value"));
    assert!(
        hits(
            "LINT005",
            vec![
                obj("deviceConfigurations", "o1", oma(URI, 1)),
                obj("deviceConfigurations", "o3", oma("./Device/Other", 3))
            ]
        )
        .is_empty()
    );
    // Settings-catalog collections (Apple Wi-Fi payloads …) are not single values.
    let coll = |ssid: &str| {
        sc(
            vec![json!({"settingInstance": {
                "@odata.type": "#microsoft.graph.deviceManagementConfigurationGroupSettingCollectionInstance",
                "settingDefinitionId": "com.apple.wifi.managed_com.apple.wifi.managed",
                "groupSettingCollectionValue": [{"children": [{"settingDefinitionId": "ssid", "value": ssid}]}]}})],
            vec![inc("g-pilot")],
        )
    };
    assert!(
        hits(
            "LINT005",
            vec![
                obj("configurationPolicies", "c1", coll("A")),
                obj("configurationPolicies", "c2", coll("B"))
            ]
        )
        .is_empty()
    );
}

#[test]
fn lint006_identical_duplicates() {
    let a = dc(
        "windows10GeneralConfiguration",
        json!({"cameraBlocked": true}),
        vec![inc("g-pilot")],
    );
    let b = with(
        a.clone(),
        json!({"displayName": "Other name", "lastModifiedDateTime": "2024-01-01T00:00:00Z", "assignments": []}),
    );
    let h = hits(
        "LINT006",
        vec![
            obj("deviceConfigurations", "a", a.clone()),
            obj("deviceConfigurations", "b", b),
        ],
    );
    assert_eq!(ids(&h), ["a", "b"]);
    assert_eq!(h[0].related, ["b"]);
    let c = with(a.clone(), json!({"cameraBlocked": false}));
    assert!(
        hits(
            "LINT006",
            vec![
                obj("deviceConfigurations", "a", a.clone()),
                obj("deviceConfigurations", "c", c)
            ]
        )
        .is_empty()
    );
    // The same content in two families is not a duplicate.
    assert!(
        hits(
            "LINT006",
            vec![obj("deviceConfigurations", "a", a.clone()), obj("intents", "i", a)]
        )
        .is_empty()
    );
}

#[test]
fn lint007_naming_convention() {
    let s = LintSettings {
        naming_patterns: vec!["{WIN|MAC|IOS|AND} - {Area} - *".into()],
        ..LintSettings::default()
    };
    let h = pos_neg_with(
        "LINT007",
        "configurationPolicies",
        with(sc(vec![], vec![]), json!({"name": "hardening for windows"})),
        sc(vec![], vec![]),
        &s,
    );
    assert_eq!(h.property.as_deref(), Some("/name"));
    // No pattern: not evaluated, and says so.
    let r = lint::run(&input(vec![]), &LintSettings::default());
    assert!(
        r.not_evaluated
            .iter()
            .any(|(id, why)| id == "LINT007" && why.contains("naming pattern"))
    );
}

#[test]
fn lint008_missing_description() {
    pos_neg(
        "LINT008",
        "deviceConfigurations",
        dc(
            "windows10GeneralConfiguration",
            json!({"description": "  "}),
            vec![inc("g-pilot")],
        ),
        dc("windows10GeneralConfiguration", json!({}), vec![inc("g-pilot")]),
    );
}

#[test]
fn lint009_missing_scope_tag() {
    let s = LintSettings {
        require_scope_tag: true,
        ..LintSettings::default()
    };
    let h = pos_neg_with(
        "LINT009",
        "deviceConfigurations",
        dc(
            "windows10GeneralConfiguration",
            json!({"roleScopeTagIds": ["0"]}),
            vec![inc("g-pilot")],
        ),
        dc("windows10GeneralConfiguration", json!({}), vec![inc("g-pilot")]),
        &s,
    );
    assert_eq!(h.property.as_deref(), Some("/roleScopeTagIds"));
    let r = lint::run(&input(vec![]), &LintSettings::default());
    assert!(r.not_evaluated.iter().any(|(id, _)| id == "LINT009"));
}

#[test]
fn lint010_stale() {
    let old = dc(
        "windows10GeneralConfiguration",
        json!({"lastModifiedDateTime": "2025-01-01T00:00:00.1234567Z"}),
        vec![],
    );
    let h = pos_neg(
        "LINT010",
        "deviceConfigurations",
        old.clone(),
        // Recently touched.
        dc("windows10GeneralConfiguration", json!({}), vec![]),
    );
    assert!(h.message.contains("364 days"), "{}", h.message); // 365 days less the fraction
    // Old but assigned: not stale.
    assert!(
        hits(
            "LINT010",
            vec![obj(
                "deviceConfigurations",
                "x",
                with(old, json!({"assignments": [inc("g-pilot")]}))
            )]
        )
        .is_empty()
    );
    let s = LintSettings {
        stale_days: 400,
        ..LintSettings::default()
    };
    let old = dc(
        "windows10GeneralConfiguration",
        json!({"lastModifiedDateTime": "2025-01-01T00:00:00Z"}),
        vec![],
    );
    assert!(hits_with("LINT010", vec![obj("deviceConfigurations", "x", old)], &s).is_empty());
}

#[test]
fn lint011_unused_assignment_filter() {
    let filtered = dc(
        "windows10GeneralConfiguration",
        json!({}),
        vec![target("groupAssignmentTarget", Some("g-pilot"), Some("f-1"))],
    );
    let plain = dc("windows10GeneralConfiguration", json!({}), vec![inc("g-pilot")]);
    let h = hits("LINT011", vec![obj("deviceConfigurations", "p", plain)]);
    assert_eq!(ids(&h), ["f-1"]);
    assert_eq!(
        (h[0].family.as_str(), h[0].object_name.as_str()),
        ("assignmentFilters", "FLT - Corporate")
    );
    assert!(hits("LINT011", vec![obj("deviceConfigurations", "p", filtered)]).is_empty());
}

#[test]
fn lint012_compliance_without_actions() {
    let h = pos_neg(
        "LINT012",
        "deviceCompliancePolicies",
        compliance("windows10CompliancePolicy", json!({}), json!([])),
        compliance("windows10CompliancePolicy", json!({}), json!([action("block", 0)])),
    );
    assert_eq!(h.property.as_deref(), Some("/scheduledActionsForRule"));
}

#[test]
fn lint013_compliance_never_notifies() {
    pos_neg(
        "LINT013",
        "deviceCompliancePolicies",
        compliance("windows10CompliancePolicy", json!({}), json!([action("block", 0)])),
        compliance(
            "windows10CompliancePolicy",
            json!({}),
            json!([action("block", 0), action("notification", 24)]),
        ),
    );
}

#[test]
fn lint014_compliance_grace_too_long() {
    let h = pos_neg(
        "LINT014",
        "deviceCompliancePolicies",
        compliance("windows10CompliancePolicy", json!({}), json!([action("block", 240)])),
        // A long grace on a notification is fine.
        compliance(
            "windows10CompliancePolicy",
            json!({}),
            json!([action("block", 24), action("notification", 240)]),
        ),
    );
    assert_eq!(
        h.property.as_deref(),
        Some("/scheduledActionsForRule/0/scheduledActionConfigurations/0/gracePeriodHours")
    );
}

#[test]
fn lint015_system_script_without_signature_check() {
    pos_neg(
        "LINT015",
        "deviceManagementScripts",
        script(json!({"runAsAccount": "system"})),
        script(json!({"runAsAccount": "system", "enforceSignatureCheck": true})),
    );
    // Remediations carry the same two properties.
    let h = hits(
        "LINT015",
        vec![obj(
            "deviceHealthScripts",
            "r",
            script(json!({"runAsAccount": "system", "scriptContent": null})),
        )],
    );
    assert_eq!(ids(&h), ["r"]);
}

#[test]
fn lint016_script_with_empty_body() {
    pos_neg(
        "LINT016",
        "deviceManagementScripts",
        script(json!({"scriptContent": "ICAK"})), // "  \n"
        script(json!({})),
    );
    // Content not read (the list omits it): nothing to judge.
    let mut p = script(json!({}));
    p.as_object_mut().unwrap().remove("scriptContent");
    assert!(hits("LINT016", vec![obj("deviceManagementScripts", "x", p)]).is_empty());
}

#[test]
fn lint017_password_shorter_than_minimum() {
    let h = pos_neg(
        "LINT017",
        "deviceConfigurations",
        dc(
            "windows10GeneralConfiguration",
            json!({"passwordRequired": true, "passwordMinimumLength": 8}),
            vec![inc("g-pilot")],
        ),
        dc(
            "windows10GeneralConfiguration",
            json!({"passwordRequired": true, "passwordMinimumLength": 14}),
            vec![inc("g-pilot")],
        ),
    );
    assert_eq!(h.property.as_deref(), Some("/passwordMinimumLength"));
    // Mobile types use the mobile minimum (6).
    let ios = |n: u64| {
        compliance(
            "iosCompliancePolicy",
            json!({"passcodeRequired": true, "passcodeMinimumLength": n}),
            json!([action("block", 0)]),
        )
    };
    assert_eq!(
        hits("LINT017", vec![obj("deviceCompliancePolicies", "i", ios(4))]).len(),
        1
    );
    assert!(hits("LINT017", vec![obj("deviceCompliancePolicies", "i", ios(6))]).is_empty());
}

#[test]
fn lint018_mobile_compliance_without_password() {
    pos_neg(
        "LINT018",
        "deviceCompliancePolicies",
        compliance(
            "androidCompliancePolicy",
            json!({"passwordRequired": false}),
            json!([action("block", 0)]),
        ),
        compliance(
            "androidCompliancePolicy",
            json!({"passwordRequired": true}),
            json!([action("block", 0)]),
        ),
    );
    // Windows is not "mobile".
    let w = compliance(
        "windows10CompliancePolicy",
        json!({"passwordRequired": false}),
        json!([action("block", 0)]),
    );
    assert!(hits("LINT018", vec![obj("deviceCompliancePolicies", "w", w)]).is_empty());
}

#[test]
fn lint019_bitlocker_not_required() {
    pos_neg(
        "LINT019",
        "deviceCompliancePolicies",
        compliance(
            "windows10CompliancePolicy",
            json!({"bitLockerEnabled": false}),
            json!([action("block", 0)]),
        ),
        compliance(
            "windows10CompliancePolicy",
            json!({"bitLockerEnabled": true}),
            json!([action("block", 0)]),
        ),
    );
    let ep = |encrypt: bool| {
        dc(
            "windows10EndpointProtectionConfiguration",
            json!({"bitLockerEncryptDevice": encrypt, "bitLockerSystemDrivePolicy": {"encryptionMethod": "xtsAes256"}}),
            vec![inc("g-pilot")],
        )
    };
    let h = pos_neg("LINT019", "deviceConfigurations", ep(false), ep(true));
    assert_eq!(h.property.as_deref(), Some("/bitLockerEncryptDevice"));
    // A firewall-only endpoint protection profile does not configure BitLocker.
    let fw = dc(
        "windows10EndpointProtectionConfiguration",
        json!({"bitLockerEncryptDevice": false, "firewallProfileDomain": {"firewallEnabled": "allowed"},
                   "bitLockerSystemDrivePolicy": {"@odata.type": "microsoft.graph.bitLockerSystemDrivePolicy",
                       "encryptionMethod": null, "startupAuthenticationRequired": false, "recoveryOptions": null}}),
        vec![inc("g-pilot")],
    );
    assert!(hits("LINT019", vec![obj("deviceConfigurations", "fw", fw)]).is_empty());
}

#[test]
fn lint020_bitlocker_weak_method() {
    let ep = |m: &str| {
        dc(
            "windows10EndpointProtectionConfiguration",
            json!({"bitLockerEncryptDevice": true, "bitLockerSystemDrivePolicy": {"encryptionMethod": m},
                   "bitLockerRemovableDrivePolicy": {"encryptionMethod": "aesCbc128"}}),
            vec![inc("g-pilot")],
        )
    };
    let h = pos_neg("LINT020", "deviceConfigurations", ep("aesCbc256"), ep("xtsAes128"));
    assert_eq!(
        h.property.as_deref(),
        Some("/bitLockerSystemDrivePolicy/encryptionMethod")
    );
    let s = LintSettings {
        bitlocker_min_method: "xtsAes256".into(),
        ..LintSettings::default()
    };
    assert_eq!(
        hits_with("LINT020", vec![obj("deviceConfigurations", "x", ep("xtsAes128"))], &s).len(),
        1
    );
}

#[test]
fn lint021_firewall_off() {
    let ep = |state: &str| {
        dc(
            "windows10EndpointProtectionConfiguration",
            json!({"firewallProfilePublic": {"firewallEnabled": state}}),
            vec![inc("g-pilot")],
        )
    };
    let h = pos_neg("LINT021", "deviceConfigurations", ep("blocked"), ep("allowed"));
    assert_eq!(h.property.as_deref(), Some("/firewallProfilePublic/firewallEnabled"));
    const DEF: &str = "vendor_msft_firewall_mdmstore_publicprofile_enablefirewall";
    pos_neg(
        "LINT021",
        "configurationPolicies",
        sc(vec![sc_setting(DEF, &format!("{DEF}_false"))], vec![inc("g-pilot")]),
        sc(vec![sc_setting(DEF, &format!("{DEF}_true"))], vec![inc("g-pilot")]),
    );
}

#[test]
fn lint022_defender_realtime_off() {
    const DEF: &str = "device_vendor_msft_policy_config_defender_allowrealtimemonitoring";
    pos_neg(
        "LINT022",
        "configurationPolicies",
        sc(vec![sc_setting(DEF, &format!("{DEF}_0"))], vec![inc("g-pilot")]),
        sc(vec![sc_setting(DEF, &format!("{DEF}_1"))], vec![inc("g-pilot")]),
    );
    let general = |rtp: bool| {
        dc(
            "windows10GeneralConfiguration",
            json!({"defenderRequireRealTimeMonitoring": rtp, "defenderScanType": "full"}),
            vec![inc("g-pilot")],
        )
    };
    pos_neg("LINT022", "deviceConfigurations", general(false), general(true));
    // A general configuration that does not touch Defender: false means "not configured".
    let other = dc(
        "windows10GeneralConfiguration",
        json!({"defenderRequireRealTimeMonitoring": false, "cameraBlocked": true}),
        vec![inc("g-pilot")],
    );
    assert!(hits("LINT022", vec![obj("deviceConfigurations", "o", other)]).is_empty());
}

#[test]
fn lint023_empty_settings_catalog_policy() {
    pos_neg(
        "LINT023",
        "configurationPolicies",
        sc(vec![], vec![inc("g-pilot")]),
        sc(vec![sc_setting("x_y", "x_y_1")], vec![inc("g-pilot")]),
    );
}

#[test]
fn lint024_duplicate_names() {
    let a = dc(
        "windows10GeneralConfiguration",
        json!({"cameraBlocked": true}),
        vec![inc("g-pilot")],
    );
    let b = dc(
        "windows10GeneralConfiguration",
        json!({"displayName": "win - baseline - dc 01 "}),
        vec![],
    );
    let h = hits(
        "LINT024",
        vec![
            obj("deviceConfigurations", "a", a.clone()),
            obj("deviceConfigurations", "b", b),
        ],
    );
    assert_eq!(ids(&h), ["a", "b"]);
    assert_eq!(h[1].related, ["a"]);
    let c = with(a.clone(), json!({"displayName": "WIN - Baseline - DC 02"}));
    assert!(
        hits(
            "LINT024",
            vec![obj("deviceConfigurations", "a", a), obj("deviceConfigurations", "c", c)]
        )
        .is_empty()
    );
}

#[test]
fn lint025_autopilot_local_admin() {
    let profile = |user_type: &str| {
        json!({"@odata.type": "#microsoft.graph.azureADWindowsAutopilotDeploymentProfile",
               "displayName": "WIN - Autopilot - AP 01", "description": "User-driven",
               "outOfBoxExperienceSettings": {"hidePrivacySettings": true, "userType": user_type},
               "assignments": [inc("g-pilot")]})
    };
    let h = pos_neg(
        "LINT025",
        "windowsAutopilotDeploymentProfiles",
        profile("administrator"),
        profile("standard"),
    );
    assert_eq!(h.property.as_deref(), Some("/outOfBoxExperienceSettings/userType"));
}

#[test]
fn lint026_app_protection_without_pin() {
    pos_neg(
        "LINT026",
        "managedAppPolicies",
        app(json!({"pinRequired": false})),
        app(json!({})),
    );
}

#[test]
fn lint027_test_object_assigned_to_everyone() {
    let h = pos_neg(
        "LINT027",
        "deviceConfigurations",
        dc(
            "windows10GeneralConfiguration",
            json!({"displayName": "Copy of WIN - Baseline"}),
            vec![all_users()],
        ),
        // "Contest" is not the word "test"; and a test object on a pilot group is fine.
        dc(
            "windows10GeneralConfiguration",
            json!({"displayName": "WIN - Contest kiosk"}),
            vec![all_users()],
        ),
    );
    assert!(h.message.contains("All Users"));
    let t = dc(
        "windows10GeneralConfiguration",
        json!({"displayName": "WIN - TEST - wifi"}),
        vec![inc("g-pilot")],
    );
    assert!(hits("LINT027", vec![obj("deviceConfigurations", "t", t)]).is_empty());
}

#[test]
fn lint028_only_exclusion_targets() {
    pos_neg(
        "LINT028",
        "deviceConfigurations",
        dc("windows10GeneralConfiguration", json!({}), vec![exc("g-pilot")]),
        dc(
            "windows10GeneralConfiguration",
            json!({}),
            vec![all_devices(), exc("g-pilot")],
        ),
    );
}

#[test]
fn lint029_include_and_exclude_same_group() {
    let h = pos_neg(
        "LINT029",
        "deviceConfigurations",
        dc(
            "windows10GeneralConfiguration",
            json!({}),
            vec![inc("g-pilot"), exc("g-pilot")],
        ),
        dc(
            "windows10GeneralConfiguration",
            json!({}),
            vec![inc("g-pilot"), exc("g-ring2")],
        ),
    );
    assert_eq!(h.property.as_deref(), Some("/assignments/1/target/groupId"));
}

#[test]
fn lint030_unknown_assignment_filter() {
    let with_filter = |f: &str| {
        dc(
            "windows10GeneralConfiguration",
            json!({}),
            vec![target("groupAssignmentTarget", Some("g-pilot"), Some(f))],
        )
    };
    let h = pos_neg(
        "LINT030",
        "deviceConfigurations",
        with_filter("f-gone"),
        with_filter("f-1"),
    );
    assert_eq!(
        h.property.as_deref(),
        Some("/assignments/0/target/deviceAndAppManagementAssignmentFilterId")
    );
}

#[test]
fn lint031_unknown_scope_tag() {
    let h = pos_neg(
        "LINT031",
        "deviceConfigurations",
        dc(
            "windows10GeneralConfiguration",
            json!({"roleScopeTagIds": ["0", "99"]}),
            vec![inc("g-pilot")],
        ),
        dc(
            "windows10GeneralConfiguration",
            json!({"roleScopeTagIds": ["0", "7"]}),
            vec![inc("g-pilot")],
        ),
    );
    assert_eq!(h.property.as_deref(), Some("/roleScopeTagIds/1"));
}

#[test]
fn lint032_app_pin_too_short() {
    pos_neg(
        "LINT032",
        "managedAppPolicies",
        app(json!({"minimumPinLength": 4})),
        // No PIN at all is LINT026's finding, not a short PIN.
        app(json!({"minimumPinLength": 4, "pinRequired": false})),
    );
}

#[test]
fn lint033_too_many_assignments() {
    let many: Vec<Value> = (0..21).map(|i| inc(&format!("g-{i}"))).collect();
    pos_neg(
        "LINT033",
        "deviceConfigurations",
        dc("windows10GeneralConfiguration", json!({}), many.clone()),
        dc("windows10GeneralConfiguration", json!({}), many[..20].to_vec()),
    );
}

// ---- the engine --------------------------------------------------------------------------

#[test]
fn lint_catalogue_is_complete_and_every_rule_is_tested() {
    assert!(RULES.len() >= 25);
    let src = include_str!("lint_rules.rs");
    for (i, r) in RULES.iter().enumerate() {
        assert_eq!(r.id, format!("LINT{:03}", i + 1), "ids are dense and ordered");
        assert!(
            !r.title.is_empty() && !r.rationale.is_empty() && !r.fix_hint.is_empty(),
            "{}",
            r.id
        );
        let test_name = format!("fn lint{}_", &r.id[4..]);
        assert!(src.contains(&test_name), "{} has no test `{test_name}…`", r.id);
        for f in r.families {
            assert!(lint::KNOWN_FAMILIES.contains(f), "{}: {f}", r.id);
        }
    }
    // With the default settings and a full directory, only the parameterised rules stay out.
    let r = lint::run(&input(vec![]), &LintSettings::default());
    let out: Vec<&str> = r.not_evaluated.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(out, ["LINT007", "LINT009", "LINT011"]);
    assert_eq!(r.rules_run.len() + out.len(), RULES.len());
}

#[test]
fn lint_group_rules_are_not_evaluated_without_groups() {
    let p = dc("windows10GeneralConfiguration", json!({}), vec![inc("g-gone")]);
    let mut inp = input(vec![obj("deviceConfigurations", "x", p)]);
    inp.directory.groups = None;
    inp.directory.filters = None;
    inp.directory.scope_tags = None;
    let r = lint::run(&inp, &LintSettings::default());
    for id in ["LINT002", "LINT003", "LINT011", "LINT030", "LINT031"] {
        assert!(
            r.not_evaluated.iter().any(|(n, _)| n == id),
            "{id}: {:?}",
            r.not_evaluated
        );
        assert!(!r.rules_run.iter().any(|n| n == id));
    }
    assert!(r.hits.iter().all(|h| h.rule_id != "LINT002"));
    // Filters and scope tags are taken from the objects when the directory has none.
    inp.objects
        .push(obj("assignmentFilters", "f-9", json!({"displayName": "FLT - Kiosk"})));
    inp.objects
        .push(obj("roleScopeTags", "7", json!({"displayName": "Berlin"})));
    let r = lint::run(&inp, &LintSettings::default());
    assert!(r.rules_run.iter().any(|n| n == "LINT011"));
    assert!(r.rules_run.iter().any(|n| n == "LINT031"));
    assert!(r.hits.iter().any(|h| h.rule_id == "LINT011" && h.object_id == "f-9"));
}

#[test]
fn lint_settings_disable_override_and_validate() {
    let p = dc("windows10GeneralConfiguration", json!({}), vec![]);
    let mut s = LintSettings::default();
    s.rules.insert(
        "LINT001".into(),
        RuleSetting {
            enabled: None,
            severity: Some(Severity::High),
        },
    );
    s.rules.insert(
        "LINT008".into(),
        RuleSetting {
            enabled: Some(false),
            severity: None,
        },
    );
    let r = run_with(
        vec![obj("deviceConfigurations", "x", with(p, json!({"description": null})))],
        &s,
    );
    let h: Vec<_> = r.hits.iter().filter(|h| h.rule_id == "LINT001").collect();
    assert_eq!(h[0].severity, Severity::High);
    assert!(!r.rules_run.iter().any(|n| n == "LINT008"));
    assert!(!r.not_evaluated.iter().any(|(n, _)| n == "LINT008"));
    assert!(r.hits.iter().all(|h| h.rule_id != "LINT008"));

    // A stored document keeps the defaults for what it leaves out.
    let stored: LintSettings =
        serde_json::from_str(r#"{"stale_days": 90, "rules": {"LINT004": {"enabled": false}}}"#).unwrap();
    assert_eq!((stored.stale_days, stored.password_min_length), (90, 14));
    assert!(!stored.enabled("LINT004") && stored.enabled("LINT005"));

    let bad = LintSettings {
        naming_patterns: vec!["{WIN|".into()],
        stale_days: 0,
        password_min_length: 30,
        high_risk_families: vec!["nope".into()],
        bitlocker_min_method: "aesCbc128".into(),
        rules: [("LINT999".to_string(), RuleSetting::default())].into_iter().collect(),
        ..LintSettings::default()
    };
    let fields: Vec<String> = bad.problems().into_iter().map(|(f, _)| f).collect();
    assert_eq!(
        fields,
        [
            "rules.LINT999",
            "naming_patterns[0]",
            "stale_days",
            "password_min_length",
            "high_risk_families[0]",
            "bitlocker_min_method"
        ]
    );
}

#[test]
fn lint_fingerprints_are_stable_and_hits_sorted() {
    let objs = || {
        vec![
            obj(
                "deviceConfigurations",
                "b",
                dc("windows10GeneralConfiguration", json!({"description": ""}), vec![]),
            ),
            obj(
                "deviceConfigurations",
                "a",
                dc("windows10GeneralConfiguration", json!({"description": ""}), vec![]),
            ),
        ]
    };
    let r1 = lint::run(&input(objs()), &LintSettings::default());
    let r2 = lint::run(&input(objs().into_iter().rev().collect()), &LintSettings::default());
    assert_eq!(r1.hits, r2.hits);
    let keys: Vec<_> = r1
        .hits
        .iter()
        .map(|h| (h.rule_id.clone(), h.object_id.clone()))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    let fp: Vec<_> = r1.hits.iter().map(LintHit::fingerprint).collect();
    assert!(fp.iter().all(|f| f.len() == 64));
    let unique: std::collections::BTreeSet<_> = fp.iter().collect();
    assert_eq!(unique.len(), fp.len());
    // The fingerprint ignores message and severity (a changed threshold keeps the finding).
    let mut h = r1.hits[0].clone();
    let f = h.fingerprint();
    h.message = "other".into();
    h.severity = Severity::Critical;
    assert_eq!(h.fingerprint(), f);
    h.property = Some("/x".into());
    assert_ne!(h.fingerprint(), f);
}

#[test]
fn lint_times_parse_as_graph_writes_them() {
    // Through the stale rule: exactly on the threshold is not stale, one ms before is.
    let at = |t: &str| {
        dc(
            "windows10GeneralConfiguration",
            json!({"lastModifiedDateTime": t}),
            vec![],
        )
    };
    let s = LintSettings {
        stale_days: 1,
        ..LintSettings::default()
    };
    let run = |t: &str, now: i64| {
        let mut i = input(vec![obj("deviceConfigurations", "x", at(t))]);
        i.now_ms = now;
        lint::run(&i, &s).hits.iter().filter(|h| h.rule_id == "LINT010").count()
    };
    assert_eq!(run("2025-12-31T00:00:00Z", NOW), 0);
    assert_eq!(run("2025-12-30T23:59:59.999Z", NOW), 1);
    assert_eq!(run("2025-12-31T01:00:00+01:00", NOW), 0);
    assert_eq!(run("2025-12-31T00:00:00.0000001Z", NOW + DAY_MS), 1);
    assert_eq!(run("not a date", NOW), 0);
}

#[test]
fn lint_10000_policies_in_under_two_seconds() {
    // 10,000 settings-catalog policies on 49 groups, every one setting the same 10 keys with
    // two different values: the worst case for the conflict and duplicate indexes.
    // Debug builds are several times slower than release: they run a fifth of the set, so that
    // `cargo test` stays quick; `cargo test --release … lint_10000` checks the 2 s target.
    let n = if cfg!(debug_assertions) { 2_000 } else { 10_000 };
    let objects: Vec<LintObject> = (0..n)
        .map(|i| {
            let settings = (0..10)
                .map(|k| {
                    let def = format!("device_vendor_msft_policy_config_k{k}");
                    sc_setting(&def, &format!("{def}_{}", (i + k) % 2))
                })
                .collect();
            let p = with(
                sc(settings, vec![inc(&format!("g-{}", i % 49)), exc("g-pilot")]),
                json!({"name": format!("WIN - Area - SC {i}")}),
            );
            obj("configurationPolicies", &format!("p{i}"), p)
        })
        .collect();
    let inp = input(objects);
    let start = Instant::now();
    let r = lint::run(&inp, &LintSettings::default());
    let took = start.elapsed();
    assert!(r.hits.iter().filter(|h| h.rule_id == "LINT005").count() == n * 10);
    assert!(
        r.hits
            .iter()
            .filter(|h| h.rule_id == "LINT005")
            .all(|h| h.related.len() <= 10)
    );
    let budget = if cfg!(debug_assertions) { 10.0 } else { 2.0 };
    assert!(took.as_secs_f64() < budget, "{took:?}");
    eprintln!("lint of {n} policies: {took:?}");
}

#[test]
fn lint_catalogue_serialises_for_the_api() {
    let v = serde_json::to_value(lint::rule("LINT015").unwrap()).unwrap();
    assert_eq!(v["id"], "LINT015");
    assert_eq!(v["severity"], "high");
    assert_eq!(v["families"], json!(["deviceManagementScripts", "deviceHealthScripts"]));
    let report = lint::run(
        &input(vec![obj(
            "deviceManagementScripts",
            "s",
            script(json!({"runAsAccount": "system"})),
        )]),
        &LintSettings::default(),
    );
    let v = serde_json::to_value(&report).unwrap();
    let hit = v["hits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["rule_id"] == "LINT015")
        .unwrap();
    assert_eq!(hit["property"], "/enforceSignatureCheck");
    assert_eq!(hit["object_name"], "WIN - Inventory - PS 01");
}

#[test]
fn lint_a_simulator_shaped_tenant() {
    // One object per family in the shapes `atlas-graph-sim` seeds (and Graph returns), with the
    // directory's filters and scope tags left to the objects.
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    const RTP: &str = "device_vendor_msft_policy_config_defender_allowrealtimemonitoring";
    let objects = vec![
        obj(
            "configurationPolicies",
            "sc-1",
            with(
                sc(
                    vec![sc_setting(RTP, &format!("{RTP}_1"))],
                    vec![target("groupAssignmentTarget", Some("g-pilot"), Some("f-1"))],
                ),
                json!({"name": "WIN - Defender AV - SC 01", "technologies": "mdm,microsoftSense", "templateReference": {
                "templateId": "804339ad-1553-4478-a742-138fb5807418_1", "templateFamily": "endpointSecurityAntivirus",
                "templateDisplayName": "Microsoft Defender Antivirus", "templateDisplayVersion": "Version 1"}}),
            ),
        ),
        obj(
            "deviceConfigurations",
            "dc-1",
            dc(
                "windows10GeneralConfiguration",
                json!({
            "passwordRequired": true, "passwordMinimumLength": 8, "passwordRequiredType": "alphanumeric",
            "defenderRequireRealTimeMonitoring": true, "smartScreenEnableAppInstallControl": false,
            "deviceManagementApplicabilityRuleOsEdition": null}),
                vec![all_devices()],
            ),
        ),
        obj(
            "deviceCompliancePolicies",
            "cp-1",
            with(
                compliance(
                    "iosCompliancePolicy",
                    json!({"passcodeRequired": true, "passcodeMinimumLength": 4,
                "osMinimumVersion": "17.0", "securityBlockJailbrokenDevices": true, "displayName": "IOS - Compliance - CP 01"}),
                    json!([action("block", 0), action("notification", 24)]),
                ),
                json!({"assignments": [inc("g-ring2")]}),
            ),
        ),
        obj(
            "deviceManagementScripts",
            "ps-1",
            script(json!({"runAsAccount": "system",
            "scriptContent": b64("Get-ComputerInfo | Out-File C:\\\\inv.txt")})),
        ),
        obj(
            "deviceHealthScripts",
            "hs-1",
            json!({"@odata.type": "#microsoft.graph.deviceHealthScript",
            "displayName": "WIN - Remediate - Spooler", "description": "Restarts the spooler", "publisher": "IT",
            "runAsAccount": "user", "enforceSignatureCheck": false, "roleScopeTagIds": ["7"],
            "detectionScriptContent": b64("exit 0"), "remediationScriptContent": "",
            "assignments": [inc("g-pilot")]}),
        ),
        obj(
            "windowsAutopilotDeploymentProfiles",
            "ap-1",
            json!({
            "@odata.type": "#microsoft.graph.azureADWindowsAutopilotDeploymentProfile",
            "displayName": "WIN - Autopilot - User-driven", "description": "Autopilot user-driven",
            "deviceNameTemplate": "CON-%SERIAL%", "roleScopeTagIds": ["0"],
            "outOfBoxExperienceSettings": {"hidePrivacySettings": true, "hideEULA": true, "userType": "administrator",
                "deviceUsageType": "singleUser", "skipKeyboardSelectionPage": true, "hideEscapeLink": true},
            "assignments": [inc("g-pilot")]}),
        ),
        obj(
            "managedAppPolicies",
            "mam-1",
            app(json!({"minimumPinLength": 4, "periodOfflineBeforeWipeIsEnforced": "P90D"})),
        ),
        obj(
            "assignmentFilters",
            "f-1",
            json!({"@odata.type": "#microsoft.graph.deviceAndAppManagementAssignmentFilter",
            "displayName": "FLT - Corporate 01", "description": "Devices matching: Corporate", "platform": "windows10AndLater",
            "rule": "(device.deviceOwnership -eq \"Corporate\")", "roleScopeTags": ["0"], "payloads": []}),
        ),
        obj(
            "assignmentFilters",
            "f-2",
            json!({"@odata.type": "#microsoft.graph.deviceAndAppManagementAssignmentFilter",
            "displayName": "FLT - Kiosk 02", "description": "Devices matching: Kiosk", "platform": "windows10AndLater",
            "rule": "(device.model -startsWith \"Kiosk\")", "roleScopeTags": ["7"], "payloads": []}),
        ),
        obj(
            "roleScopeTags",
            "0",
            json!({"@odata.type": "#microsoft.graph.roleScopeTag", "displayName": "Default",
            "description": "Built-in scope tag", "isBuiltIn": true}),
        ),
        obj(
            "roleScopeTags",
            "7",
            json!({"@odata.type": "#microsoft.graph.roleScopeTag", "displayName": "Berlin",
            "description": "Scope for Berlin administrators", "isBuiltIn": false}),
        ),
        obj(
            "deviceEnrollmentConfigurations",
            "ec-1",
            json!({
            "@odata.type": "#microsoft.graph.deviceEnrollmentLimitConfiguration", "displayName": "All users and all devices",
            "description": "This is the default Device Limit configuration applied with the lowest priority to all users regardless of group membership.",
            "priority": 0, "version": 1, "roleScopeTagIds": ["0"], "limit": 15, "assignments": [all_users()]}),
        ),
        obj(
            "notificationMessageTemplates",
            "nt-1",
            json!({
            "@odata.type": "#microsoft.graph.notificationMessageTemplate", "displayName": "Noncompliance notice",
            "description": "Sent on noncompliance", "brandingOptions": "includeCompanyLogo", "roleScopeTagIds": ["0"]}),
        ),
    ];
    let mut inp = input(objects);
    inp.directory.filters = None;
    inp.directory.scope_tags = None;
    let r = lint::run(&inp, &LintSettings::default());
    let got: Vec<(&str, &str)> = r
        .hits
        .iter()
        .map(|h| (h.rule_id.as_str(), h.object_id.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("LINT011", "f-2"),
            ("LINT015", "ps-1"),
            ("LINT017", "cp-1"),
            ("LINT017", "dc-1"),
            ("LINT025", "ap-1"),
            ("LINT032", "mam-1"),
        ],
        "{:#?}",
        r.hits
    );
    let out: Vec<&str> = r.not_evaluated.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(out, ["LINT007", "LINT009"]);
}
