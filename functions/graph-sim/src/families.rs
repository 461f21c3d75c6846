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
    AssignmentFilters,
    RoleScopeTags,
    Groups,
    Organization,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IdStyle {
    Guid,
    /// App protections: `T_<guid>`.
    TPrefixed,
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
const APPS_READ: &[&str] = &["DeviceManagementApps.Read.All", "DeviceManagementApps.ReadWrite.All"];
const APPS_WRITE: &[&str] = &["DeviceManagementApps.ReadWrite.All"];
const RBAC_READ: &[&str] = &[
    "DeviceManagementRBAC.Read.All",
    "DeviceManagementRBAC.ReadWrite.All",
    "DeviceManagementConfiguration.Read.All",
    "DeviceManagementConfiguration.ReadWrite.All",
];
const RBAC_WRITE: &[&str] = &["DeviceManagementRBAC.ReadWrite.All"];
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
    "Group.ReadWrite.All",
];

/// The read-only set of graph-brief §5 (backup / drift).
pub const READ_ROLES: &[&str] = &[
    "DeviceManagementConfiguration.Read.All",
    "DeviceManagementScripts.Read.All",
    "DeviceManagementServiceConfig.Read.All",
    "DeviceManagementApps.Read.All",
    "DeviceManagementRBAC.Read.All",
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

pub(crate) static FAMILIES: &[FamilyDef] = &[
    FamilyDef {
        family: Family::ConfigurationPolicies,
        name: "configurationPolicies",
        path: "deviceManagement/configurationPolicies",
        v1: false,
        read_roles: CFG_READ,
        write_roles: CFG_WRITE,
        base_type: "microsoft.graph.deviceManagementConfigurationPolicy",
        abstract_base: false,
        name_prop: "name",
        create_status: 201,
        patch_status: 204,
        put_status: 204,
        delete_status: 200,
        assign: Some(assign(
            "assignments",
            200,
            true,
            "microsoft.graph.deviceManagementConfigurationPolicyAssignment",
        )),
        navs: &["settings", "assignments"],
        page_default: 25,
        page_max: 25,
        directory: false,
        has_version: false,
        id_style: IdStyle::Guid,
        stored: true,
    },
    FamilyDef {
        family: Family::DeviceConfigurations,
        name: "deviceConfigurations",
        path: "deviceManagement/deviceConfigurations",
        v1: true,
        read_roles: CFG_READ,
        write_roles: CFG_WRITE,
        base_type: "microsoft.graph.deviceConfiguration",
        abstract_base: true,
        name_prop: "displayName",
        create_status: 201,
        patch_status: 204,
        put_status: 0,
        delete_status: 200,
        assign: Some(assign(
            "assignments",
            200,
            true,
            "microsoft.graph.deviceConfigurationAssignment",
        )),
        navs: &["assignments"],
        page_default: 100,
        page_max: 1000,
        directory: false,
        has_version: true,
        id_style: IdStyle::Guid,
        stored: true,
    },
    FamilyDef {
        family: Family::CompliancePolicies,
        name: "deviceCompliancePolicies",
        path: "deviceManagement/deviceCompliancePolicies",
        v1: true,
        read_roles: CFG_READ,
        write_roles: CFG_WRITE,
        base_type: "microsoft.graph.deviceCompliancePolicy",
        abstract_base: true,
        name_prop: "displayName",
        create_status: 201,
        patch_status: 204,
        put_status: 0,
        delete_status: 200,
        assign: Some(assign(
            "assignments",
            200,
            true,
            "microsoft.graph.deviceCompliancePolicyAssignment",
        )),
        navs: &["assignments", "scheduledActionsForRule"],
        page_default: 100,
        page_max: 1000,
        directory: false,
        has_version: true,
        id_style: IdStyle::Guid,
        stored: true,
    },
    FamilyDef {
        family: Family::IosAppProtections,
        name: "iosManagedAppProtections",
        path: "deviceAppManagement/iosManagedAppProtections",
        v1: true,
        read_roles: APPS_READ,
        write_roles: APPS_WRITE,
        base_type: "microsoft.graph.iosManagedAppProtection",
        abstract_base: false,
        name_prop: "displayName",
        create_status: 201,
        patch_status: 204,
        put_status: 0,
        delete_status: 204,
        assign: Some(assign(
            "assignments",
            204,
            false,
            "microsoft.graph.targetedManagedAppPolicyAssignment",
        )),
        navs: &["assignments", "apps"],
        page_default: 100,
        page_max: 1000,
        directory: false,
        has_version: true,
        id_style: IdStyle::TPrefixed,
        stored: true,
    },
    FamilyDef {
        family: Family::AndroidAppProtections,
        name: "androidManagedAppProtections",
        path: "deviceAppManagement/androidManagedAppProtections",
        v1: true,
        read_roles: APPS_READ,
        write_roles: APPS_WRITE,
        base_type: "microsoft.graph.androidManagedAppProtection",
        abstract_base: false,
        name_prop: "displayName",
        create_status: 201,
        patch_status: 204,
        put_status: 0,
        delete_status: 204,
        assign: Some(assign(
            "assignments",
            204,
            false,
            "microsoft.graph.targetedManagedAppPolicyAssignment",
        )),
        navs: &["assignments", "apps"],
        page_default: 100,
        page_max: 1000,
        directory: false,
        has_version: true,
        id_style: IdStyle::TPrefixed,
        stored: true,
    },
    FamilyDef {
        family: Family::ManagedAppPolicies,
        name: "managedAppPolicies",
        path: "deviceAppManagement/managedAppPolicies",
        v1: true,
        read_roles: APPS_READ,
        write_roles: APPS_WRITE,
        base_type: "microsoft.graph.managedAppPolicy",
        abstract_base: true,
        name_prop: "displayName",
        create_status: 0,
        patch_status: 0,
        put_status: 0,
        delete_status: 0,
        assign: None,
        navs: &[],
        page_default: 100,
        page_max: 1000,
        directory: false,
        has_version: true,
        id_style: IdStyle::TPrefixed,
        stored: false,
    },
    FamilyDef {
        family: Family::Intents,
        name: "intents",
        path: "deviceManagement/intents",
        v1: false,
        read_roles: CFG_READ,
        write_roles: CFG_WRITE,
        base_type: "microsoft.graph.deviceManagementIntent",
        abstract_base: false,
        name_prop: "displayName",
        create_status: 0,
        patch_status: 200,
        put_status: 0,
        delete_status: 200,
        assign: Some(assign(
            "assignments",
            204,
            false,
            "microsoft.graph.deviceManagementIntentAssignment",
        )),
        navs: &["settings", "assignments"],
        page_default: 100,
        page_max: 1000,
        directory: false,
        has_version: false,
        id_style: IdStyle::Guid,
        stored: true,
    },
    FamilyDef {
        family: Family::IntentTemplates,
        name: "templates",
        path: "deviceManagement/templates",
        v1: false,
        read_roles: CFG_READ,
        write_roles: CFG_WRITE,
        base_type: "microsoft.graph.deviceManagementTemplate",
        abstract_base: false,
        name_prop: "displayName",
        create_status: 0,
        patch_status: 0,
        put_status: 0,
        delete_status: 0,
        assign: None,
        navs: &["settings"],
        page_default: 100,
        page_max: 1000,
        directory: false,
        has_version: false,
        id_style: IdStyle::Guid,
        stored: false,
    },
    FamilyDef {
        family: Family::Scripts,
        name: "deviceManagementScripts",
        path: "deviceManagement/deviceManagementScripts",
        v1: false,
        read_roles: SCRIPTS_READ,
        write_roles: SCRIPTS_WRITE,
        base_type: "microsoft.graph.deviceManagementScript",
        abstract_base: false,
        name_prop: "displayName",
        create_status: 201,
        patch_status: 200,
        put_status: 0,
        delete_status: 200,
        assign: Some(AssignDef {
            key: "deviceManagementScriptAssignments",
            extra_keys: &["deviceManagementScriptGroupAssignments"],
            status: 200,
            returns_value: false,
            assignment_type: "microsoft.graph.deviceManagementScriptAssignment",
        }),
        navs: &["assignments"],
        page_default: 100,
        page_max: 1000,
        directory: false,
        has_version: false,
        id_style: IdStyle::Guid,
        stored: true,
    },
    FamilyDef {
        family: Family::AssignmentFilters,
        name: "assignmentFilters",
        path: "deviceManagement/assignmentFilters",
        v1: false,
        read_roles: CFG_READ,
        write_roles: CFG_WRITE,
        base_type: "microsoft.graph.deviceAndAppManagementAssignmentFilter",
        abstract_base: false,
        name_prop: "displayName",
        create_status: 201,
        patch_status: 200,
        put_status: 0,
        delete_status: 200,
        assign: None,
        navs: &[],
        page_default: 100,
        page_max: 1000,
        directory: false,
        has_version: false,
        id_style: IdStyle::Guid,
        stored: true,
    },
    FamilyDef {
        family: Family::RoleScopeTags,
        name: "roleScopeTags",
        path: "deviceManagement/roleScopeTags",
        v1: false,
        read_roles: RBAC_READ,
        write_roles: RBAC_WRITE,
        base_type: "microsoft.graph.roleScopeTag",
        abstract_base: false,
        name_prop: "displayName",
        create_status: 200,
        patch_status: 200,
        put_status: 0,
        delete_status: 200,
        assign: None,
        navs: &[],
        page_default: 100,
        page_max: 1000,
        directory: false,
        has_version: false,
        id_style: IdStyle::Numeric,
        stored: true,
    },
    FamilyDef {
        family: Family::Groups,
        name: "groups",
        path: "groups",
        v1: true,
        read_roles: GROUP_READ,
        write_roles: GROUP_WRITE,
        base_type: "microsoft.graph.group",
        abstract_base: false,
        name_prop: "displayName",
        create_status: 201,
        patch_status: 204,
        put_status: 0,
        delete_status: 204,
        assign: None,
        navs: &[],
        page_default: 100,
        page_max: 999,
        directory: true,
        has_version: false,
        id_style: IdStyle::Guid,
        stored: true,
    },
    FamilyDef {
        family: Family::Organization,
        name: "organization",
        path: "organization",
        v1: true,
        read_roles: &[],
        write_roles: &["Organization.ReadWrite.All"],
        base_type: "microsoft.graph.organization",
        abstract_base: false,
        name_prop: "displayName",
        create_status: 0,
        patch_status: 0,
        put_status: 0,
        delete_status: 0,
        assign: None,
        navs: &[],
        page_default: 100,
        page_max: 999,
        directory: true,
        has_version: false,
        id_style: IdStyle::Guid,
        stored: false,
    },
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
