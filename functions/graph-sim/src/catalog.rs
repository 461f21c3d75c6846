//! Static catalogs: the names, settings, apps, templates, ADMX definitions and versions tenants are built from.

use serde_json::{Value, json};

pub(crate) const AUDIENCES: &[&str] = &[
    "Pilot Devices",
    "All Windows",
    "Finance Users",
    "Kiosk Devices",
    "iOS Corporate",
    "Android Work Profile",
    "Developers",
    "Executives",
    "Contractors",
    "Helpdesk",
    "macOS Fleet",
    "Shared PCs",
];

pub(crate) const TAGS: &[&str] = &["EMEA", "AMER", "APAC", "Helpdesk", "Servers", "Retail"];

/// Assignment filters: platform, label and rule.
pub(crate) const FILTER_KINDS: &[(&str, &str, &str)] = &[
    (
        "windows10AndLater",
        "Windows 11",
        "(device.osVersion -startsWith \"10.0.22\")",
    ),
    (
        "windows10AndLater",
        "Corporate Windows",
        "(device.deviceOwnership -eq \"Corporate\")",
    ),
    ("iOS", "iPads", "(device.model -contains \"iPad\")"),
    ("android", "Samsung", "(device.manufacturer -eq \"samsung\")"),
    (
        "macOS",
        "Apple silicon",
        "(device.model -startsWith \"Mac\") and (device.osVersion -startsWith \"14\")",
    ),
    (
        "androidForWork",
        "Work profile Pixel",
        "(device.manufacturer -eq \"Google\")",
    ),
];

/// A settings catalog setting instance.
pub(crate) enum Def {
    Choice(&'static str, &'static [&'static str]),
    Int(&'static str, i64, i64),
    Str(&'static str, &'static [&'static str]),
}

pub(crate) const WIN_DEFS: &[Def] = &[
    Def::Choice(
        "device_vendor_msft_policy_config_defender_allowarchivescanning",
        &["_0", "_1"],
    ),
    Def::Choice(
        "device_vendor_msft_policy_config_defender_allowbehaviormonitoring",
        &["_0", "_1"],
    ),
    Def::Choice(
        "device_vendor_msft_policy_config_defender_allowcloudprotection",
        &["_0", "_1"],
    ),
    Def::Choice(
        "device_vendor_msft_policy_config_defender_allowemailscanning",
        &["_0", "_1"],
    ),
    Def::Choice(
        "device_vendor_msft_policy_config_defender_allowrealtimemonitoring",
        &["_0", "_1"],
    ),
    Def::Choice(
        "device_vendor_msft_policy_config_defender_cloudblocklevel",
        &["_0", "_2", "_4", "_6"],
    ),
    Def::Int("device_vendor_msft_policy_config_defender_avgcpuloadfactor", 10, 80),
    Def::Int(
        "device_vendor_msft_policy_config_defender_daystoretaincleanedmalware",
        0,
        90,
    ),
    Def::Choice(
        "device_vendor_msft_policy_config_browser_allowpasswordmanager",
        &["_0", "_1"],
    ),
    Def::Choice("device_vendor_msft_bitlocker_requiredeviceencryption", &["_0", "_1"]),
    Def::Choice(
        "device_vendor_msft_policy_config_devicelock_devicepasswordenabled",
        &["_0", "_1"],
    ),
    Def::Int("device_vendor_msft_policy_config_devicelock_minimumpasswordage", 1, 30),
    Def::Int(
        "device_vendor_msft_policy_config_devicelock_maxinactivitytimedevicelock",
        1,
        15,
    ),
    Def::Choice(
        "device_vendor_msft_policy_config_experience_allowcortana",
        &["_0", "_1"],
    ),
    Def::Choice(
        "device_vendor_msft_policy_config_privacy_letappsaccesscamera",
        &["_0", "_1", "_2"],
    ),
    Def::Choice(
        "device_vendor_msft_policy_config_update_allowautoupdate",
        &["_0", "_1", "_2", "_3", "_4", "_5"],
    ),
    Def::Int("device_vendor_msft_policy_config_update_activehoursstart", 6, 10),
    Def::Int("device_vendor_msft_policy_config_update_activehoursend", 17, 22),
    Def::Choice(
        "device_vendor_msft_firewall_mdmstore_domainprofile_enablefirewall",
        &["_false", "_true"],
    ),
    Def::Choice(
        "device_vendor_msft_firewall_mdmstore_publicprofile_enablefirewall",
        &["_false", "_true"],
    ),
    Def::Str(
        "device_vendor_msft_policy_config_localpoliciessecurityoptions_interactivelogon_messagetextforusersattemptingtologon",
        &[
            "Authorised use only.",
            "This device is managed by Contoso IT.",
            "Unauthorised access is prohibited.",
        ],
    ),
];

pub(crate) const IOS_DEFS: &[Def] = &[
    Def::Choice("com.apple.applicationaccess_allowcamera", &["_false", "_true"]),
    Def::Choice("com.apple.applicationaccess_allowscreenshot", &["_false", "_true"]),
    Def::Choice("com.apple.applicationaccess_allowairdrop", &["_false", "_true"]),
    Def::Choice("com.apple.applicationaccess_forceencryptedbackup", &["_false", "_true"]),
    Def::Int("com.apple.mobiledevice.passwordpolicy_minlength", 4, 12),
    Def::Int("com.apple.mobiledevice.passwordpolicy_maxinactivity", 1, 15),
];

pub(crate) const ADMX_AREAS: &[&str] = &[
    "terminalserver",
    "windowsexplorer",
    "officeupdate",
    "edge",
    "onedrive",
    "printers",
];

pub(crate) const SSIDS: &[&str] = &[
    "CORP-WLAN",
    "Contoso-Secure",
    "Fabrikam-Guest",
    "Warehouse-IoT",
    "Retail-POS",
];

pub(crate) const IOS_APPS: &[&str] = &[
    "com.microsoft.office.outlook",
    "com.microsoft.skype.teams",
    "com.microsoft.msedge",
    "com.microsoft.officemobile",
];
pub(crate) const ANDROID_APPS: &[&str] = &[
    "com.microsoft.office.outlook",
    "com.microsoft.teams",
    "com.microsoft.emmx",
    "com.microsoft.office.officehubrow",
];

/// Legacy endpoint security templates (`deviceManagement/templates`), with their default settings.
pub(crate) struct Template {
    pub id: &'static str,
    pub display_name: &'static str,
    pub template_type: &'static str,
    pub subtype: &'static str,
    pub settings: &'static [(&'static str, &'static str)],
}

pub(crate) const TEMPLATES: &[Template] = &[
    Template {
        id: "4356d05c-a4ab-4a07-9ece-739f7c792910",
        display_name: "Microsoft Defender Firewall",
        template_type: "endpointSecurityFirewall",
        subtype: "firewall",
        settings: &[
            (
                "deviceConfiguration--windows10EndpointProtectionConfiguration_firewallBlockStatefulFTP",
                "true",
            ),
            (
                "deviceConfiguration--windows10EndpointProtectionConfiguration_firewallIdleTimeoutForSecurityAssociationInSeconds",
                "300",
            ),
            (
                "deviceConfiguration--windows10EndpointProtectionConfiguration_firewallCertificateRevocationListCheckMethod",
                "\"deviceDefault\"",
            ),
        ],
    },
    Template {
        id: "d1174162-1dd2-4976-affc-6667049ab0ae",
        display_name: "BitLocker",
        template_type: "endpointSecurityDiskEncryption",
        subtype: "diskEncryption",
        settings: &[
            (
                "deviceConfiguration--windows10EndpointProtectionConfiguration_bitLockerEncryptDevice",
                "true",
            ),
            (
                "deviceConfiguration--windows10EndpointProtectionConfiguration_bitLockerRecoveryPasswordRotation",
                "\"enabledForAzureAd\"",
            ),
            (
                "deviceConfiguration--windows10EndpointProtectionConfiguration_bitLockerDisableWarningForOtherDiskEncryption",
                "true",
            ),
        ],
    },
    Template {
        id: "e44c2ca3-2f9a-400a-a113-6cc88efd773d",
        display_name: "Endpoint detection and response",
        template_type: "endpointSecurityEndpointDetectionAndResponse",
        subtype: "endpointDetectionAndResponse",
        settings: &[
            (
                "deviceConfiguration--windowsDefenderAdvancedThreatProtectionConfiguration_allowSampleSharing",
                "true",
            ),
            (
                "deviceConfiguration--windowsDefenderAdvancedThreatProtectionConfiguration_enableExpeditedTelemetryReporting",
                "false",
            ),
        ],
    },
];

/// ADMX presentation kinds (graph-brief §2.1): which value type each takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GpKind {
    Text,
    CheckBox,
    Decimal,
    Dropdown(&'static [&'static str]),
}

pub(crate) struct GpPresentation {
    pub id: &'static str,
    pub label: &'static str,
    pub kind: GpKind,
}

/// A built-in ADMX definition of `deviceManagement/groupPolicyDefinitions`.
pub(crate) struct GpDefinition {
    pub id: &'static str,
    pub display_name: &'static str,
    pub class_type: &'static str,
    pub category_path: &'static str,
    pub presentations: &'static [GpPresentation],
}

pub(crate) const GP_DEFINITIONS: &[GpDefinition] = &[
    GpDefinition {
        id: "0f4a43c1-1e0c-4c4b-8f51-2b3a7f1d9e01",
        display_name: "Configure the home page URL",
        class_type: "machine",
        category_path: "\\Microsoft Edge\\Startup, home page and new tab page",
        presentations: &[GpPresentation {
            id: "6a1d3e2b-5c4f-4e8a-9b7d-0c1e2f3a4b01",
            label: "Home page URL",
            kind: GpKind::Text,
        }],
    },
    GpDefinition {
        id: "1b5e7d20-3a6f-4d2c-9e84-6f7a8b9c0d02",
        display_name: "Turn on PowerShell Script Block Logging",
        class_type: "machine",
        category_path: "\\Windows Components\\Windows PowerShell",
        presentations: &[GpPresentation {
            id: "7b2e4f3c-6d50-4f9b-8c8e-1d2f3a4b5c02",
            label: "Log script block invocation start / stop events:",
            kind: GpKind::CheckBox,
        }],
    },
    GpDefinition {
        id: "2c6f8e31-4b70-4e3d-8f95-7a8b9c0d1e03",
        display_name: "Configure Automatic Updates",
        class_type: "machine",
        category_path: "\\Windows Components\\Windows Update\\Manage end user experience",
        presentations: &[
            GpPresentation {
                id: "8c3f5a4d-7e61-4a0c-9d9f-2e3a4b5c6d03",
                label: "Configure automatic updating:",
                kind: GpKind::Dropdown(&["2", "3", "4", "5", "7"]),
            },
            GpPresentation {
                id: "9d4a6b5e-8f72-4b1d-8eaa-3f4b5c6d7e04",
                label: "Scheduled install time",
                kind: GpKind::Decimal,
            },
        ],
    },
    GpDefinition {
        id: "3d7a9f42-5c81-4f4e-9aa6-8b9c0d1e2f04",
        display_name: "Prevent access to registry editing tools",
        class_type: "user",
        category_path: "\\System",
        presentations: &[GpPresentation {
            id: "ae5b7c6f-9a83-4c2e-9fbb-4a5c6d7e8f05",
            label: "Disable regedit from running silently?",
            kind: GpKind::Dropdown(&["1", "2"]),
        }],
    },
    GpDefinition {
        id: "4e8b0a53-6d92-4a5f-8bb7-9c0d1e2f3a05",
        display_name: "Remove Recycle Bin icon from desktop",
        class_type: "user",
        category_path: "\\Desktop",
        presentations: &[],
    },
    GpDefinition {
        id: "5f9c1b64-7ea3-4b60-9cc8-0d1e2f3a4b06",
        display_name: "Specify intranet Microsoft update service location",
        class_type: "machine",
        category_path: "\\Windows Components\\Windows Update\\Manage updates offered from Windows Server Update Service",
        presentations: &[
            GpPresentation {
                id: "bf6c8d7a-ab94-4d3f-8acc-5b6d7e8f9a06",
                label: "Set the intranet update service for detecting updates:",
                kind: GpKind::Text,
            },
            GpPresentation {
                id: "c07d9e8b-bca5-4e40-9bdd-6c7e8f9a0b07",
                label: "Set the intranet statistics server:",
                kind: GpKind::Text,
            },
        ],
    },
];

const GP_CATALOG_TIME: &str = "2024-05-14T18:25:53.1420000Z";

pub(crate) fn gp_definition_json(d: &GpDefinition) -> Value {
    json!({"@odata.type": "#microsoft.graph.groupPolicyDefinition", "id": d.id, "displayName": d.display_name,
           "classType": d.class_type, "categoryPath": d.category_path, "explainText": format!("{} (ADMX-backed).", d.display_name),
           "supportedOn": "At least Windows 10", "policyType": "admxBacked", "hasRelatedDefinitions": false,
           "groupStatus": "available", "version": "1.0", "minDeviceCspVersion": "10.0", "minUserCspVersion": "10.0",
           "lastModifiedDateTime": GP_CATALOG_TIME})
}

pub(crate) fn gp_presentation_json(p: &GpPresentation) -> Value {
    let mut v = json!({"id": p.id, "label": p.label, "lastModifiedDateTime": GP_CATALOG_TIME});
    let extra = match p.kind {
        GpKind::Text => json!({"@odata.type": "#microsoft.graph.groupPolicyPresentationTextBox",
                               "defaultValue": "", "required": false, "maxLength": 1023}),
        GpKind::CheckBox => {
            json!({"@odata.type": "#microsoft.graph.groupPolicyPresentationCheckBox", "defaultChecked": false})
        }
        GpKind::Decimal => json!({"@odata.type": "#microsoft.graph.groupPolicyPresentationDecimalTextBox",
                                  "defaultValue": 3, "spin": true, "spinStep": 1, "required": true,
                                  "minValue": 0, "maxValue": 23}),
        GpKind::Dropdown(items) => json!({"@odata.type": "#microsoft.graph.groupPolicyPresentationDropdownList",
                                          "defaultItem": null, "required": true,
                                          "items": items.iter().map(|i| json!({"displayName": format!("Option {i}"), "value": i})).collect::<Vec<_>>()}),
    };
    if let (Some(m), Value::Object(extra)) = (v.as_object_mut(), extra) {
        m.extend(extra);
    }
    v
}

/// The `@odata.type` of a presentation value for `kind`.
pub(crate) fn gp_value_type(kind: GpKind) -> &'static str {
    match kind {
        GpKind::Text | GpKind::Dropdown(_) => "#microsoft.graph.groupPolicyPresentationValueText",
        GpKind::CheckBox => "#microsoft.graph.groupPolicyPresentationValueBoolean",
        GpKind::Decimal => "#microsoft.graph.groupPolicyPresentationValueDecimal",
    }
}

/// `deviceEnrollmentConfigurationType` for an enrollment configuration's `@odata.type`.
pub(crate) fn enrollment_type(odata: &str) -> &'static str {
    match odata.trim_start_matches("#microsoft.graph.") {
        "deviceEnrollmentPlatformRestrictionConfiguration" => "singlePlatformRestriction",
        "deviceEnrollmentPlatformRestrictionsConfiguration" => "platformRestrictions",
        "windows10EnrollmentCompletionPageConfiguration" => "windows10EnrollmentCompletionPageConfiguration",
        "deviceEnrollmentLimitConfiguration" => "limit",
        "deviceEnrollmentWindowsHelloForBusinessConfiguration" => "windowsHelloForBusiness",
        _ => "unknown",
    }
}

/// Default enrollment configurations end in this and sit at priority 0.
pub(crate) const DEFAULT_ENROLLMENT_SUFFIX: &str = "_DefaultLimit";

/// Feature update versions Intune offers, with their display name and end of support.
pub(crate) const FEATURE_UPDATES: &[(&str, &str, &str)] = &[
    (
        "Windows 10, version 22H2",
        "Windows 10, version 22H2",
        "2025-10-14T00:00:00Z",
    ),
    (
        "Windows 11, version 23H2",
        "Windows 11, version 23H2",
        "2026-11-10T00:00:00Z",
    ),
    (
        "Windows 11, version 24H2",
        "Windows 11, version 24H2",
        "2027-10-12T00:00:00Z",
    ),
];

/// Quality update releases Intune offers to expedite: `qualityUpdateRelease` and its display name.
pub(crate) const QUALITY_UPDATES: &[(&str, &str)] = &[
    ("2025-01-14T00:00:00Z", "January 14, 2025 - 2025.01 B"),
    ("2025-02-11T00:00:00Z", "February 11, 2025 - 2025.02 B"),
    ("2025-03-11T00:00:00Z", "March 11, 2025 - 2025.03 B"),
];

/// Apps the tenants hold: `@odata.type` (short), name, publisher and the type's own properties.
pub(crate) fn app_kinds() -> Vec<(&'static str, &'static str, &'static str, Value)> {
    vec![
        (
            "win32LobApp",
            "7-Zip",
            "Igor Pavlov",
            json!({"fileName": "7z2409-x64.intunewin", "setupFilePath": "7z2409-x64.exe",
                   "installCommandLine": "7z2409-x64.exe /S", "uninstallCommandLine": "\"%ProgramFiles%\\7-Zip\\Uninstall.exe\" /S",
                   "applicableArchitectures": "x64", "minimumSupportedWindowsRelease": "1607",
                   "installExperience": {"runAsAccount": "system", "deviceRestartBehavior": "suppress"}}),
        ),
        (
            "winGetApp",
            "Microsoft Company Portal",
            "Microsoft Corporation",
            json!({"packageIdentifier": "9WZDNCRFJ3PZ", "installExperience": {"runAsAccount": "user"}}),
        ),
        (
            "iosStoreApp",
            "Microsoft Authenticator",
            "Microsoft Corporation",
            json!({"bundleId": "com.microsoft.azureauthenticator", "appStoreUrl": "https://apps.apple.com/app/id983156458",
                   "applicableDeviceType": {"iPad": true, "iPhoneAndIPod": true}, "minimumSupportedOperatingSystem": {"v15_0": true}}),
        ),
        (
            "webApp",
            "HR Portal",
            "Contoso",
            json!({"appUrl": "https://hr.contoso.example", "useManagedBrowser": true}),
        ),
        (
            "androidManagedStoreApp",
            "Microsoft Teams",
            "Microsoft Corporation",
            json!({"packageId": "com.microsoft.teams", "appIdentifier": "com.microsoft.teams",
                   "appStoreUrl": "https://play.google.com/store/apps/details?id=com.microsoft.teams", "isPrivate": false}),
        ),
        (
            "macOSLobApp",
            "Contoso VPN",
            "Contoso",
            json!({"bundleId": "com.contoso.vpn", "buildNumber": "4.2.1", "fileName": "ContosoVPN.pkg",
                   "minimumSupportedOperatingSystem": {"v13_0": true}}),
        ),
    ]
}

/// Intune's built-in roles: fixed ids, the same in every tenant, and read-only.
pub(crate) const BUILT_IN_ROLES: &[(&str, &str, &[&str])] = &[
    (
        "0bd113fe-6be5-400c-a28f-ae5553f9c0be",
        "Policy and Profile manager",
        &[
            "Microsoft.Intune_DeviceConfigurations_Read",
            "Microsoft.Intune_DeviceConfigurations_Create",
            "Microsoft.Intune_DeviceConfigurations_Update",
            "Microsoft.Intune_DeviceConfigurations_Assign",
        ],
    ),
    (
        "9e0cc482-82df-4ab2-a24c-0c23a3f52e1e",
        "Help Desk Operator",
        &[
            "Microsoft.Intune_ManagedDevices_Read",
            "Microsoft.Intune_RemoteTasks_RebootNow",
            "Microsoft.Intune_RemoteTasks_ResetPasscode",
        ],
    ),
    (
        "c56d53a2-73d0-4502-b6bd-4a9d3dba28d5",
        "Read Only Operator",
        &[
            "Microsoft.Intune_ManagedDevices_Read",
            "Microsoft.Intune_DeviceConfigurations_Read",
            "Microsoft.Intune_MobileApps_Read",
        ],
    ),
];

/// Custom role permissions the seeded custom roles draw from.
pub(crate) const ROLE_ACTIONS: &[&str] = &[
    "Microsoft.Intune_MobileApps_Read",
    "Microsoft.Intune_MobileApps_Assign",
    "Microsoft.Intune_DeviceCompliancePolices_Read",
    "Microsoft.Intune_DeviceCompliancePolices_Update",
    "Microsoft.Intune_EndpointAnalytics_Read",
    "Microsoft.Intune_Organization_Read",
    "Microsoft.Intune_RemoteTasks_SyncDevice",
];

pub(crate) const DEVICE_CATEGORIES: &[&str] = &[
    "Corporate laptop",
    "Kiosk",
    "Shared device",
    "Field tablet",
    "Developer workstation",
];
