//! The policy families the simulator serves, with the per-family facts of graph-brief §2 and §5:
//! paths, API versions, permissions, status codes, assign body keys, page sizes.

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Family {
    ConfigurationPolicies,
    DeviceConfigurations,
    CompliancePolicies,
    IosAppProtections,
    AndroidAppProtections,
    /// `deviceAppManagement/managedAppPolicies`: a read-only union of the app-protection collections.
    ManagedAppPolicies,
    Intents,
    IntentTemplates,
    Scripts,
    /// `deviceManagement/deviceShellScripts` (macOS).
    ShellScripts,
    /// `deviceManagement/deviceHealthScripts` (remediations).
    HealthScripts,
    /// `deviceManagement/groupPolicyConfigurations` (ADMX).
    GroupPolicyConfigurations,
    /// `deviceManagement/groupPolicyDefinitions`: the read-only ADMX catalog the configurations bind to.
    GroupPolicyDefinitions,
    AutopilotProfiles,
    EnrollmentConfigurations,
    /// `deviceAppManagement/mobileAppConfigurations` (managed devices).
    MobileAppConfigurations,
    /// `deviceAppManagement/targetedManagedAppConfigurations` (managed apps).
    TargetedAppConfigurations,
    FeatureUpdateProfiles,
    NotificationTemplates,
    AssignmentFilters,
    RoleScopeTags,
    Groups,
    Organization,
    /// `deviceManagement/auditEvents`: the tenant's Intune audit log, read-only (see `audit.rs`).
    AuditEvents,
    /// `deviceAppManagement/mobileApps`: app metadata (binaries live in content versions, not served).
    MobileApps,
    QualityUpdateProfiles,
    DriverUpdateProfiles,
    /// `deviceAppManagement/policySets`: bundles of other families' objects, assigned together.
    PolicySets,
    /// `deviceManagement/roleDefinitions`: Intune roles, built-in ones read-only.
    RoleDefinitions,
    /// `deviceManagement/roleAssignments`: who holds an Intune role, over which groups.
    RoleAssignments,
    TermsAndConditions,
    DeviceCategories,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IdStyle {
    Guid,
    /// App protections: `T_<guid>`.
    TPrefixed,
    /// Managed-app configurations: `A_<guid>`.
    APrefixed,
    /// Role scope tags: `"0"`, `"1"`, ….
    Numeric,
}

pub(crate) struct AssignDef {
    /// Body key holding the desired assignments (replace-all).
    pub key: &'static str,
    /// Further keys accepted and merged into the same list.
    pub extra_keys: &'static [&'static str],
    pub status: u16,
    /// 200 with `{value:[…]}` when true; otherwise an empty body.
    pub returns_value: bool,
    pub assignment_type: &'static str,
}

pub(crate) struct FamilyDef {
    pub family: Family,
    /// Short name used in stats, `forbidden_families` and the admin API.
    pub name: &'static str,
    pub path: &'static str,
    pub v1: bool,
    pub read_roles: &'static [&'static str],
    pub write_roles: &'static [&'static str],
    /// Qualified base type without `#`.
    pub base_type: &'static str,
    /// POST must carry a derived `@odata.type` (abstract base types).
    pub abstract_base: bool,
    pub name_prop: &'static str,
    /// 0: no POST on the collection.
    pub create_status: u16,
    pub patch_status: u16,
    pub put_status: u16,
    pub delete_status: u16,
    pub assign: Option<AssignDef>,
    /// Navigation properties reachable as `{id}/{nav}` and with `$expand`.
    pub navs: &'static [&'static str],
    pub page_default: usize,
    pub page_max: usize,
    /// Directory (Entra) object: directory-style error codes.
    pub directory: bool,
    pub has_version: bool,
    pub id_style: IdStyle,
    /// Counted in `Stats::objects` (false for views over other families).
    pub stored: bool,
}

pub(crate) const CFG_READ: &[&str] = &[
    "DeviceManagementConfiguration.Read.All",
    "DeviceManagementConfiguration.ReadWrite.All",
];
pub(crate) const CFG_WRITE: &[&str] = &["DeviceManagementConfiguration.ReadWrite.All"];
const SCRIPTS_READ: &[&str] = &[
    "DeviceManagementScripts.Read.All",
    "DeviceManagementScripts.ReadWrite.All",
];
const SCRIPTS_WRITE: &[&str] = &["DeviceManagementScripts.ReadWrite.All"];
const SVC_READ: &[&str] = &[
    "DeviceManagementServiceConfig.Read.All",
    "DeviceManagementServiceConfig.ReadWrite.All",
];
const SVC_WRITE: &[&str] = &["DeviceManagementServiceConfig.ReadWrite.All"];
const APPS_READ: &[&str] = &["DeviceManagementApps.Read.All", "DeviceManagementApps.ReadWrite.All"];
const APPS_WRITE: &[&str] = &["DeviceManagementApps.ReadWrite.All"];
const RBAC_READ: &[&str] = &[
    "DeviceManagementRBAC.Read.All",
    "DeviceManagementRBAC.ReadWrite.All",
    "DeviceManagementConfiguration.Read.All",
    "DeviceManagementConfiguration.ReadWrite.All",
];
const RBAC_WRITE: &[&str] = &["DeviceManagementRBAC.ReadWrite.All"];
/// Intune roles and their assignments: the RBAC roles only (their reference pages name no other).
const RBAC_ONLY_READ: &[&str] = &["DeviceManagementRBAC.Read.All", "DeviceManagementRBAC.ReadWrite.All"];
/// Device categories: listing also takes the configuration roles; writes need ManagedDevices.
const CATEGORY_READ: &[&str] = &[
    "DeviceManagementManagedDevices.Read.All",
    "DeviceManagementManagedDevices.ReadWrite.All",
    "DeviceManagementConfiguration.Read.All",
    "DeviceManagementConfiguration.ReadWrite.All",
];
const CATEGORY_WRITE: &[&str] = &["DeviceManagementManagedDevices.ReadWrite.All"];
const GROUP_READ: &[&str] = &[
    "Group.Read.All",
    "Group.ReadWrite.All",
    "GroupMember.Read.All",
    "GroupMember.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
const GROUP_WRITE: &[&str] = &["Group.ReadWrite.All", "Directory.ReadWrite.All"];

/// Every application role the simulator knows; the default consent set for `.default`.
pub const ALL_ROLES: &[&str] = &[
    "DeviceManagementConfiguration.ReadWrite.All",
    "DeviceManagementScripts.ReadWrite.All",
    "DeviceManagementServiceConfig.ReadWrite.All",
    "DeviceManagementApps.ReadWrite.All",
    "DeviceManagementRBAC.ReadWrite.All",
    "DeviceManagementManagedDevices.ReadWrite.All",
    "Group.ReadWrite.All",
];

/// The read-only set of graph-brief §5 (backup / drift).
pub const READ_ROLES: &[&str] = &[
    "DeviceManagementConfiguration.Read.All",
    "DeviceManagementScripts.Read.All",
    "DeviceManagementServiceConfig.Read.All",
    "DeviceManagementApps.Read.All",
    "DeviceManagementRBAC.Read.All",
    "DeviceManagementManagedDevices.Read.All",
    "Group.Read.All",
];

const fn assign(key: &'static str, status: u16, returns_value: bool, assignment_type: &'static str) -> AssignDef {
    AssignDef {
        key,
        extra_keys: &[],
        status,
        returns_value,
        assignment_type,
    }
}

/// A family with the facts most Intune families share: beta only, the configuration roles, a concrete base
/// type named by `displayName`, POST 201 / PATCH 200 / DELETE 200 and no PUT, an `assignments` navigation and
/// no assign action, pages of 100 up to 1000, GUID ids, no version, stored. Each entry of [`FAMILIES`] states
/// what differs.
const fn intune(family: Family, name: &'static str, path: &'static str, base_type: &'static str) -> FamilyDef {
    FamilyDef {
        family,
        name,
        path,
        v1: false,
        read_roles: CFG_READ,
        write_roles: CFG_WRITE,
        base_type,
        abstract_base: false,
        name_prop: "displayName",
        create_status: 201,
        patch_status: 200,
        put_status: 0,
        delete_status: 200,
        assign: None,
        navs: &["assignments"],
        page_default: 100,
        page_max: 1000,
        directory: false,
        has_version: false,
        id_style: IdStyle::Guid,
        stored: true,
    }
}

/// The iOS and Android app protections, alike but for their names.
const fn app_protection(family: Family, name: &'static str, path: &'static str, base_type: &'static str) -> FamilyDef {
    FamilyDef {
        v1: true,
        read_roles: APPS_READ,
        write_roles: APPS_WRITE,
        patch_status: 204,
        delete_status: 204,
        assign: Some(MANAGED_APP_ASSIGN),
        navs: &["assignments", "apps"],
        has_version: true,
        id_style: IdStyle::TPrefixed,
        ..intune(family, name, path, base_type)
    }
}

/// The assign body of app protections and managed-app configurations alike.
const MANAGED_APP_ASSIGN: AssignDef = assign(
    "assignments",
    204,
    false,
    "microsoft.graph.targetedManagedAppPolicyAssignment",
);

/// The assign body of Windows and macOS scripts alike.
const SCRIPT_ASSIGN: AssignDef = AssignDef {
    key: "deviceManagementScriptAssignments",
    extra_keys: &["deviceManagementScriptGroupAssignments"],
    status: 200,
    returns_value: false,
    assignment_type: "microsoft.graph.deviceManagementScriptAssignment",
};

pub(crate) static FAMILIES: &[FamilyDef] = &[
    FamilyDef {
        name_prop: "name",
        patch_status: 204,
        put_status: 204,
        assign: Some(assign(
            "assignments",
            200,
            true,
            "microsoft.graph.deviceManagementConfigurationPolicyAssignment",
        )),
        navs: &["settings", "assignments"],
        page_default: 25,
        page_max: 25,
        ..intune(
            Family::ConfigurationPolicies,
            "configurationPolicies",
            "deviceManagement/configurationPolicies",
            "microsoft.graph.deviceManagementConfigurationPolicy",
        )
    },
    FamilyDef {
        v1: true,
        abstract_base: true,
        patch_status: 204,
        assign: Some(assign(
            "assignments",
            200,
            true,
            "microsoft.graph.deviceConfigurationAssignment",
        )),
        has_version: true,
        ..intune(
            Family::DeviceConfigurations,
            "deviceConfigurations",
            "deviceManagement/deviceConfigurations",
            "microsoft.graph.deviceConfiguration",
        )
    },
    FamilyDef {
        v1: true,
        abstract_base: true,
        patch_status: 204,
        assign: Some(assign(
            "assignments",
            200,
            true,
            "microsoft.graph.deviceCompliancePolicyAssignment",
        )),
        navs: &["assignments", "scheduledActionsForRule"],
        has_version: true,
        ..intune(
            Family::CompliancePolicies,
            "deviceCompliancePolicies",
            "deviceManagement/deviceCompliancePolicies",
            "microsoft.graph.deviceCompliancePolicy",
        )
    },
    app_protection(
        Family::IosAppProtections,
        "iosManagedAppProtections",
        "deviceAppManagement/iosManagedAppProtections",
        "microsoft.graph.iosManagedAppProtection",
    ),
    app_protection(
        Family::AndroidAppProtections,
        "androidManagedAppProtections",
        "deviceAppManagement/androidManagedAppProtections",
        "microsoft.graph.androidManagedAppProtection",
    ),
    FamilyDef {
        v1: true,
        read_roles: APPS_READ,
        write_roles: APPS_WRITE,
        abstract_base: true,
        create_status: 0,
        patch_status: 0,
        delete_status: 0,
        navs: &[],
        has_version: true,
        id_style: IdStyle::TPrefixed,
        stored: false,
        ..intune(
            Family::ManagedAppPolicies,
            "managedAppPolicies",
            "deviceAppManagement/managedAppPolicies",
            "microsoft.graph.managedAppPolicy",
        )
    },
    FamilyDef {
        create_status: 0,
        assign: Some(assign(
            "assignments",
            204,
            false,
            "microsoft.graph.deviceManagementIntentAssignment",
        )),
        navs: &["settings", "assignments"],
        ..intune(
            Family::Intents,
            "intents",
            "deviceManagement/intents",
            "microsoft.graph.deviceManagementIntent",
        )
    },
    FamilyDef {
        create_status: 0,
        patch_status: 0,
        delete_status: 0,
        navs: &["settings"],
        stored: false,
        ..intune(
            Family::IntentTemplates,
            "templates",
            "deviceManagement/templates",
            "microsoft.graph.deviceManagementTemplate",
        )
    },
    FamilyDef {
        read_roles: SCRIPTS_READ,
        write_roles: SCRIPTS_WRITE,
        assign: Some(SCRIPT_ASSIGN),
        ..intune(
            Family::Scripts,
            "deviceManagementScripts",
            "deviceManagement/deviceManagementScripts",
            "microsoft.graph.deviceManagementScript",
        )
    },
    FamilyDef {
        read_roles: SCRIPTS_READ,
        write_roles: SCRIPTS_WRITE,
        assign: Some(SCRIPT_ASSIGN),
        ..intune(
            Family::ShellScripts,
            "deviceShellScripts",
            "deviceManagement/deviceShellScripts",
            "microsoft.graph.deviceShellScript",
        )
    },
    FamilyDef {
        read_roles: SCRIPTS_READ,
        write_roles: SCRIPTS_WRITE,
        // The docs say 204; ICD expects 200 (graph-brief §2).
        assign: Some(assign(
            "deviceHealthScriptAssignments",
            200,
            false,
            "microsoft.graph.deviceHealthScriptAssignment",
        )),
        ..intune(
            Family::HealthScripts,
            "deviceHealthScripts",
            "deviceManagement/deviceHealthScripts",
            "microsoft.graph.deviceHealthScript",
        )
    },
    FamilyDef {
        delete_status: 204,
        assign: Some(assign(
            "assignments",
            200,
            true,
            "microsoft.graph.groupPolicyConfigurationAssignment",
        )),
        navs: &["assignments", "definitionValues"],
        ..intune(
            Family::GroupPolicyConfigurations,
            "groupPolicyConfigurations",
            "deviceManagement/groupPolicyConfigurations",
            "microsoft.graph.groupPolicyConfiguration",
        )
    },
    FamilyDef {
        create_status: 0,
        patch_status: 0,
        delete_status: 0,
        navs: &["presentations"],
        stored: false,
        ..intune(
            Family::GroupPolicyDefinitions,
            "groupPolicyDefinitions",
            "deviceManagement/groupPolicyDefinitions",
            "microsoft.graph.groupPolicyDefinition",
        )
    },
    FamilyDef {
        read_roles: SVC_READ,
        write_roles: SVC_WRITE,
        abstract_base: true,
        // `assign` takes `{deviceIds}`, not groups; groups go through `POST {id}/assignments` (201) one by one.
        assign: Some(assign(
            "deviceIds",
            204,
            false,
            "microsoft.graph.windowsAutopilotDeploymentProfileAssignment",
        )),
        navs: &["assignments", "assignedDevices"],
        ..intune(
            Family::AutopilotProfiles,
            "windowsAutopilotDeploymentProfiles",
            "deviceManagement/windowsAutopilotDeploymentProfiles",
            "microsoft.graph.windowsAutopilotDeploymentProfile",
        )
    },
    FamilyDef {
        v1: true,
        read_roles: SVC_READ,
        write_roles: SVC_WRITE,
        abstract_base: true,
        assign: Some(assign(
            "enrollmentConfigurationAssignments",
            200,
            false,
            "microsoft.graph.enrollmentConfigurationAssignment",
        )),
        has_version: true,
        ..intune(
            Family::EnrollmentConfigurations,
            "deviceEnrollmentConfigurations",
            "deviceManagement/deviceEnrollmentConfigurations",
            "microsoft.graph.deviceEnrollmentConfiguration",
        )
    },
    FamilyDef {
        v1: true,
        read_roles: APPS_READ,
        write_roles: APPS_WRITE,
        abstract_base: true,
        patch_status: 204,
        assign: Some(assign(
            "assignments",
            200,
            true,
            "microsoft.graph.managedDeviceMobileAppConfigurationAssignment",
        )),
        has_version: true,
        ..intune(
            Family::MobileAppConfigurations,
            "mobileAppConfigurations",
            "deviceAppManagement/mobileAppConfigurations",
            "microsoft.graph.managedDeviceMobileAppConfiguration",
        )
    },
    FamilyDef {
        v1: true,
        read_roles: APPS_READ,
        write_roles: APPS_WRITE,
        patch_status: 204,
        assign: Some(MANAGED_APP_ASSIGN),
        navs: &["assignments", "apps"],
        has_version: true,
        id_style: IdStyle::APrefixed,
        ..intune(
            Family::TargetedAppConfigurations,
            "targetedManagedAppConfigurations",
            "deviceAppManagement/targetedManagedAppConfigurations",
            "microsoft.graph.targetedManagedAppConfiguration",
        )
    },
    FamilyDef {
        assign: Some(assign(
            "assignments",
            200,
            true,
            "microsoft.graph.windowsFeatureUpdateProfileAssignment",
        )),
        ..intune(
            Family::FeatureUpdateProfiles,
            "windowsFeatureUpdateProfiles",
            "deviceManagement/windowsFeatureUpdateProfiles",
            "microsoft.graph.windowsFeatureUpdateProfile",
        )
    },
    FamilyDef {
        v1: true,
        read_roles: SVC_READ,
        write_roles: SVC_WRITE,
        create_status: 200,
        navs: &["localizedNotificationMessages"],
        ..intune(
            Family::NotificationTemplates,
            "notificationMessageTemplates",
            "deviceManagement/notificationMessageTemplates",
            "microsoft.graph.notificationMessageTemplate",
        )
    },
    FamilyDef {
        navs: &[],
        ..intune(
            Family::AssignmentFilters,
            "assignmentFilters",
            "deviceManagement/assignmentFilters",
            "microsoft.graph.deviceAndAppManagementAssignmentFilter",
        )
    },
    FamilyDef {
        read_roles: RBAC_READ,
        write_roles: RBAC_WRITE,
        create_status: 200,
        // Auto-assignment of the tag to groups (graph-brief §2, `roleScopeTagAutoAssignment`).
        assign: Some(assign(
            "assignments",
            200,
            true,
            "microsoft.graph.roleScopeTagAutoAssignment",
        )),
        id_style: IdStyle::Numeric,
        ..intune(
            Family::RoleScopeTags,
            "roleScopeTags",
            "deviceManagement/roleScopeTags",
            "microsoft.graph.roleScopeTag",
        )
    },
    FamilyDef {
        v1: true,
        read_roles: GROUP_READ,
        write_roles: GROUP_WRITE,
        patch_status: 204,
        delete_status: 204,
        navs: &["members"],
        page_max: 999,
        directory: true,
        ..intune(Family::Groups, "groups", "groups", "microsoft.graph.group")
    },
    FamilyDef {
        v1: true,
        read_roles: &[],
        write_roles: &["Organization.ReadWrite.All"],
        create_status: 0,
        patch_status: 0,
        delete_status: 0,
        navs: &[],
        page_max: 999,
        directory: true,
        stored: false,
        ..intune(
            Family::Organization,
            "organization",
            "organization",
            "microsoft.graph.organization",
        )
    },
    FamilyDef {
        v1: true,
        // The docs name DeviceManagementApps.*; Intune grants the log to any DeviceManagement* read role
        // (IntuneCD reads it with DeviceManagementConfiguration.Read.All, graph-brief §3).
        read_roles: AUDIT_READ,
        create_status: 0,
        patch_status: 0,
        delete_status: 0,
        navs: &[],
        stored: false,
        ..intune(
            Family::AuditEvents,
            "auditEvents",
            "deviceManagement/auditEvents",
            "microsoft.graph.auditEvent",
        )
    },
    FamilyDef {
        v1: true,
        read_roles: APPS_READ,
        write_roles: APPS_WRITE,
        abstract_base: true,
        patch_status: 204,
        assign: Some(assign(
            "mobileAppAssignments",
            204,
            false,
            "microsoft.graph.mobileAppAssignment",
        )),
        navs: &["assignments", "categories", "contentVersions"],
        ..intune(
            Family::MobileApps,
            "mobileApps",
            "deviceAppManagement/mobileApps",
            "microsoft.graph.mobileApp",
        )
    },
    FamilyDef {
        assign: Some(assign(
            "assignments",
            204,
            false,
            "microsoft.graph.windowsQualityUpdateProfileAssignment",
        )),
        ..intune(
            Family::QualityUpdateProfiles,
            "windowsQualityUpdateProfiles",
            "deviceManagement/windowsQualityUpdateProfiles",
            "microsoft.graph.windowsQualityUpdateProfile",
        )
    },
    FamilyDef {
        assign: Some(assign(
            "assignments",
            204,
            false,
            "microsoft.graph.windowsDriverUpdateProfileAssignment",
        )),
        navs: &["assignments", "driverInventories"],
        ..intune(
            Family::DriverUpdateProfiles,
            "windowsDriverUpdateProfiles",
            "deviceManagement/windowsDriverUpdateProfiles",
            "microsoft.graph.windowsDriverUpdateProfile",
        )
    },
    FamilyDef {
        // No `assign` action: assignments come with `POST {id}/update` or one `POST {id}/assignments` each.
        assign: Some(assign("assignments", 204, false, "microsoft.graph.policySetAssignment")),
        navs: &["assignments", "items"],
        ..intune(
            Family::PolicySets,
            "policySets",
            "deviceAppManagement/policySets",
            "microsoft.graph.policySet",
        )
    },
    FamilyDef {
        v1: true,
        read_roles: RBAC_ONLY_READ,
        write_roles: RBAC_WRITE,
        navs: &["roleAssignments"],
        ..intune(
            Family::RoleDefinitions,
            "roleDefinitions",
            "deviceManagement/roleDefinitions",
            "microsoft.graph.deviceAndAppManagementRoleDefinition",
        )
    },
    FamilyDef {
        v1: true,
        read_roles: RBAC_ONLY_READ,
        write_roles: RBAC_WRITE,
        navs: &["roleDefinition", "roleScopeTags"],
        ..intune(
            Family::RoleAssignments,
            "roleAssignments",
            "deviceManagement/roleAssignments",
            "microsoft.graph.deviceAndAppManagementRoleAssignment",
        )
    },
    FamilyDef {
        v1: true,
        read_roles: SVC_READ,
        write_roles: SVC_WRITE,
        // Group targets one by one through `POST {id}/assignments` (201); there is no `assign` action.
        assign: Some(assign(
            "assignments",
            201,
            false,
            "microsoft.graph.termsAndConditionsAssignment",
        )),
        navs: &["assignments", "acceptanceStatuses", "groupAssignments"],
        has_version: true,
        ..intune(
            Family::TermsAndConditions,
            "termsAndConditions",
            "deviceManagement/termsAndConditions",
            "microsoft.graph.termsAndConditions",
        )
    },
    FamilyDef {
        v1: true,
        read_roles: CATEGORY_READ,
        write_roles: CATEGORY_WRITE,
        navs: &[],
        ..intune(
            Family::DeviceCategories,
            "deviceCategories",
            "deviceManagement/deviceCategories",
            "microsoft.graph.deviceCategory",
        )
    },
];

const AUDIT_READ: &[&str] = &[
    "DeviceManagementApps.Read.All",
    "DeviceManagementApps.ReadWrite.All",
    "DeviceManagementConfiguration.Read.All",
    "DeviceManagementConfiguration.ReadWrite.All",
    "DeviceManagementServiceConfig.Read.All",
    "DeviceManagementServiceConfig.ReadWrite.All",
    "DeviceManagementRBAC.Read.All",
    "DeviceManagementRBAC.ReadWrite.All",
    "DeviceManagementScripts.Read.All",
    "DeviceManagementScripts.ReadWrite.All",
    "DeviceManagementManagedDevices.Read.All",
    "DeviceManagementManagedDevices.ReadWrite.All",
];

pub(crate) fn def(family: Family) -> &'static FamilyDef {
    FAMILIES
        .iter()
        .find(|d| d.family == family)
        .expect("every family has a definition")
}

pub(crate) fn by_name(name: &str) -> Option<&'static FamilyDef> {
    FAMILIES.iter().find(|d| d.name.eq_ignore_ascii_case(name))
}

/// The app-protection families `managedAppPolicies` lists.
pub(crate) const APP_PROTECTIONS: &[Family] = &[Family::IosAppProtections, Family::AndroidAppProtections];

/// True when `roles` allows the access (`read_roles` empty: any valid token).
pub(crate) fn allowed(roles: &[String], needed: &[&str]) -> bool {
    needed.is_empty() || roles.iter().any(|r| needed.iter().any(|n| n.eq_ignore_ascii_case(r)))
}

/// The Multi Admin Approval `policyType` that protects writes to a family (Intune's MAA areas:
/// apps, scripts, compliance, configuration, app protection, endpoint security, filters, RBAC).
pub(crate) fn approval_policy_type(name: &str) -> Option<&'static str> {
    Some(match name {
        "deviceCompliancePolicies" | "notificationMessageTemplates" => "compliancePolicy",
        "configurationPolicies"
        | "deviceConfigurations"
        | "groupPolicyConfigurations"
        | "windowsFeatureUpdateProfiles" => "configurationPolicy",
        "intents" => "endpointSecurityPolicy",
        "deviceManagementScripts" | "deviceShellScripts" | "deviceHealthScripts" => "script",
        "iosManagedAppProtections"
        | "androidManagedAppProtections"
        | "managedAppPolicies"
        | "targetedManagedAppConfigurations" => "appProtectionPolicy",
        "mobileAppConfigurations" | "mobileApps" => "app",
        "assignmentFilters" => "filter",
        "roleScopeTags" | "roleDefinitions" | "roleAssignments" => "role",
        "windowsQualityUpdateProfiles" | "windowsDriverUpdateProfiles" => "configurationPolicy",
        _ => return None,
    })
}

/// The Intune service whose published limits a family's requests count against, with its scale
/// (the devices service allows twice the others), per Graph's throttling page ("Intune … service
/// limits" and the resources each lists). ADMX and Autopilot profiles are on no list: ADMX gets
/// an allowance of its own, Autopilot counts with enrollment (its reference pages' namespace).
/// Outside Intune (`groups`, `organization`, …): `directory`.
pub(crate) fn throttle_service(family: &str) -> (&'static str, u32) {
    match family {
        "deviceConfigurations" | "deviceCompliancePolicies" => ("device configuration", 1),
        "configurationPolicies" => ("device config v2", 1),
        "intents" | "templates" => ("device intent", 1),
        "deviceManagementScripts" | "deviceShellScripts" | "deviceHealthScripts" => ("devices", 2),
        "managedAppPolicies"
        | "iosManagedAppProtections"
        | "androidManagedAppProtections"
        | "targetedManagedAppConfigurations"
        | "mdmWindowsInformationProtectionPolicies" => ("managed applications", 1),
        "mobileAppConfigurations" | "mobileApps" => ("applications", 1),

        "assignmentFilters" | "policySets" => ("bundles", 1),
        "windowsFeatureUpdateProfiles" | "windowsQualityUpdateProfiles" => ("updates", 1),
        "windowsDriverUpdateProfiles" => ("driver updates (not listed)", 1),
        "deviceEnrollmentConfigurations" | "windowsAutopilotDeploymentProfiles" | "deviceCategories" => {
            ("enrollment", 1)
        }
        "termsAndConditions" => ("company terms", 1),
        "notificationMessageTemplates" => ("notifications", 1),
        "roleScopeTags" | "roleDefinitions" | "roleAssignments" => ("rbac", 1),
        "auditEvents" => ("auditing", 1),
        "groupPolicyConfigurations" | "groupPolicyDefinitions" => ("group policy (not listed)", 1),
        "operationApprovalPolicies" => ("multi admin approval (not listed)", 1),
        _ => ("directory", 1),
    }
}

/// Every `policyType` [`approval_policy_type`] names.
pub(crate) const APPROVAL_POLICY_TYPES: &[&str] = &[
    "app",
    "appProtectionPolicy",
    "compliancePolicy",
    "configurationPolicy",
    "endpointSecurityPolicy",
    "filter",
    "role",
    "script",
];
