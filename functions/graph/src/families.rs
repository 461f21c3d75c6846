//! The Intune policy families we back up, diff and restore, with the quirks each one needs
//! (graph-brief §2, §5). Both reference tools use beta for every family, and so do we: the beta
//! shapes are the ones restores write back.

use serde_json::Value;

use crate::ApiVersion;

/// An application-permission area; each has a `.Read.All` and a `.ReadWrite.All` role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PermissionArea {
    /// DeviceManagementConfiguration.*
    Configuration,
    /// DeviceManagementScripts.* (required for scripts since 2025-07-31)
    Scripts,
    /// DeviceManagementServiceConfig.*
    ServiceConfig,
    /// DeviceManagementApps.*
    Apps,
    /// DeviceManagementRBAC.*
    Rbac,
    /// DeviceManagementManagedDevices.* (device categories: their create and update name only it)
    ManagedDevices,
}

impl PermissionArea {
    pub fn read(self) -> &'static str {
        match self {
            PermissionArea::Configuration => "DeviceManagementConfiguration.Read.All",
            PermissionArea::Scripts => "DeviceManagementScripts.Read.All",
            PermissionArea::ServiceConfig => "DeviceManagementServiceConfig.Read.All",
            PermissionArea::Apps => "DeviceManagementApps.Read.All",
            PermissionArea::Rbac => "DeviceManagementRBAC.Read.All",
            PermissionArea::ManagedDevices => "DeviceManagementManagedDevices.Read.All",
        }
    }

    pub fn write(self) -> &'static str {
        match self {
            PermissionArea::Configuration => "DeviceManagementConfiguration.ReadWrite.All",
            PermissionArea::Scripts => "DeviceManagementScripts.ReadWrite.All",
            PermissionArea::ServiceConfig => "DeviceManagementServiceConfig.ReadWrite.All",
            PermissionArea::Apps => "DeviceManagementApps.ReadWrite.All",
            PermissionArea::Rbac => "DeviceManagementRBAC.ReadWrite.All",
            PermissionArea::ManagedDevices => "DeviceManagementManagedDevices.ReadWrite.All",
        }
    }

    /// Microsoft Graph app-role ids of (read, write), where verified (the Scripts ids are not: resolve
    /// them from the Graph service principal's `appRoles` at run time).
    pub fn role_ids(self) -> Option<(&'static str, &'static str)> {
        match self {
            PermissionArea::Configuration => Some((
                "dc377aa6-52d8-4e23-b271-2a7ae04cedf3",
                "9241abd9-d0e6-425a-bd4f-47ba86e767a4",
            )),
            PermissionArea::ServiceConfig => Some((
                "06a5fe6d-c49d-46a7-b082-56b1b14103c7",
                "5ac13192-7ace-4fcf-b828-1a26f28068ee",
            )),
            PermissionArea::Apps => Some((
                "7a6ee1e7-141e-4cec-ae74-d9db155731ff",
                "78145de6-330d-4800-a6ce-494ff2d33d07",
            )),
            PermissionArea::Rbac => Some((
                "58ca0d9a-1575-47e1-a3cb-007ef2e4583b",
                "e330c4f0-4170-414e-a55a-2f022ec2b57b",
            )),
            PermissionArea::ManagedDevices => Some((
                "2f51be20-0bb4-4fed-bf7b-db946066c75e",
                "243333ab-4d21-40cb-a475-36241daa0842",
            )),
            PermissionArea::Scripts => None,
        }
    }

    /// Whether granted `roles` (the token's claim) allow reading; ReadWrite implies Read.
    pub fn can_read(self, roles: &[String]) -> bool {
        roles
            .iter()
            .any(|r| r.eq_ignore_ascii_case(self.read()) || r.eq_ignore_ascii_case(self.write()))
    }

    pub fn can_write(self, roles: &[String]) -> bool {
        roles.iter().any(|r| r.eq_ignore_ascii_case(self.write()))
    }
}

/// How a new object is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Create {
    /// POST the cleaned body to the collection.
    Post,
    /// POST, and the body must hold exactly one `block` action in `scheduledActionsForRule`.
    PostWithBlockAction,
    /// POST `{displayName, description, roleScopeTagIds}`, then `POST {id}/updateDefinitionValues`.
    PostThenDefinitionValues,
    /// `POST templates/{templateId}/createInstance {displayName, description, settingsDelta, roleScopeTagIds}`.
    TemplateCreateInstance,
    /// POST without `apps`, then `POST {id}/targetApps {apps, appGroupType}`.
    PostThenTargetApps,
    /// POST to the per-type collection (`iosManagedAppProtections` …), then `targetApps`.
    PostToTypeCollection,
    /// POST the template, then one `POST {id}/localizedNotificationMessages` per locale.
    PostThenLocalizedMessages,
    /// Policy sets: POST without `items`, then `POST {id}/update {addedPolicySetItems}`.
    PostThenPolicySetItems,
    /// Intune role assignments: POST with `roleDefinition@odata.bind` naming the backup's role
    /// definition (the expanded `roleDefinition` is a navigation, refused in a body).
    PostWithRoleDefinitionBind,
}

/// How an existing object is updated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Update {
    Patch,
    /// PUT the full body (settings catalog: PATCH cannot touch `settings`).
    Put,
    /// `POST {id}/scheduleActionsForRules`, then PATCH without `scheduledActionsForRule`.
    ScheduleActionsThenPatch,
    /// PATCH the metadata; values through `POST {id}/updateDefinitionValues {added, updated, deletedIds}`.
    PatchThenDefinitionValues,
    /// `POST intents/{id}/updateSettings {settings}`.
    UpdateSettingsAction,
    /// PATCH without `priority`; priority through `POST {id}/setPriority`.
    PatchThenSetPriority,
    /// PATCH on the per-type collection.
    PatchOnTypeCollection,
    /// PATCH the template; each locale at `localizedNotificationMessages/{id}`.
    PatchThenLocalizedMessages,
    /// PATCH the metadata; items through `POST {id}/update` (live items deleted, the backup's added).
    PatchThenPolicySetItems,
}

/// How assignments are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assign {
    /// `POST {id}/{action} {"<body_key>": [all assignments]}` (replace-all).
    Action {
        action: &'static str,
        body_key: &'static str,
    },
    /// Autopilot: `POST {id}/assignments {"target": …}` once per group target.
    PerTarget,
    /// App protection: `POST {typeCollection}/{id}/assign {"assignments": […]}`.
    TypeCollectionAction,
    /// Not assignable (referenced from elsewhere).
    None,
}

/// A sub-collection read per object (settings, definition values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SettingsRead {
    /// Relative to the item: `settings`, `definitionValues`.
    pub path: &'static str,
    /// Query to add, without `?` (may be empty).
    pub query: &'static str,
    /// A further read per child (`presentationValues` with `$expand=presentation` for ADMX).
    pub per_child: Option<(&'static str, &'static str)>,
}

/// How a full read gets each object's assignments (graph-brief §2, §4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssignmentsRead {
    /// The list takes `$expand=assignments`.
    ListExpand,
    /// The list cannot expand them: `GET {item}/assignments` per object through `$batch`.
    Batch,
    /// Not assignable.
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    Create,
    Update,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Family {
    /// Stable code: the collection's name.
    pub code: &'static str,
    pub label: &'static str,
    pub version: ApiVersion,
    /// Under the version: `/deviceManagement/configurationPolicies`.
    pub collection: &'static str,
    pub permission: PermissionArea,
    /// `$expand` for a full read of one object (and of the list, where Graph allows it).
    pub expand: Option<&'static str>,
    /// Items per list page the service is known to use (`configurationPolicies`: 25).
    pub page_size: Option<u32>,
    pub settings: Option<SettingsRead>,
    /// The list omits content (script bodies): GET each object by id (through `$batch`, with
    /// `$expand=assignments`).
    pub refetch_items: bool,
    pub assignments: AssignmentsRead,
    pub create: Create,
    pub update: Update,
    pub assign: Assign,
    /// Delete the assignments before the object (Autopilot).
    pub unassign_before_delete: bool,
    /// Restores write the object's metadata only: content the backup cannot hold (app binaries)
    /// must be supplied in Intune afterwards.
    pub metadata_only: bool,
    /// Read-only fields of this family, stripped before create and update.
    pub strip: &'static [&'static str],
    /// Stripped before update only.
    pub strip_on_update: &'static [&'static str],
}

/// Stripped from every family before a write (IM `Start-GraphPreImport`, ICD `remove_keys`).
pub const STRIP_ALWAYS: &[&str] = &[
    "id",
    "createdDateTime",
    "lastModifiedDateTime",
    "modifiedDateTime",
    "version",
    "supportsScopeTags",
    "isAssigned",
    "@odata.context",
    "assignments",
];

/// ICD strips these too.
pub const STRIP_ICD: &[&str] = &[
    "topicIdentifier",
    "certificate",
    "sourceId",
    "companyCodes",
    "token",
    "lastSyncDateTime",
    "isReadOnly",
    "secretReferenceValueId",
    "isEncrypted",
    "deployedAppCount",
    "deviceHealthScriptType",
];

const ASSIGN: Assign = Assign::Action {
    action: "assign",
    body_key: "assignments",
};

const fn family(
    code: &'static str,
    label: &'static str,
    collection: &'static str,
    permission: PermissionArea,
) -> Family {
    Family {
        code,
        label,
        version: ApiVersion::Beta,
        collection,
        permission,
        expand: None,
        page_size: None,
        settings: None,
        refetch_items: false,
        assignments: AssignmentsRead::ListExpand,
        create: Create::Post,
        update: Update::Patch,
        assign: ASSIGN,
        unassign_before_delete: false,
        metadata_only: false,
        strip: &[],
        strip_on_update: &[],
    }
}

use PermissionArea::{Apps, Configuration, ManagedDevices, Rbac, Scripts, ServiceConfig};

pub static FAMILIES: &[Family] = &[
    Family {
        strip: &["privacyAccessControls"],
        ..family(
            "deviceConfigurations",
            "Device configuration",
            "/deviceManagement/deviceConfigurations",
            Configuration,
        )
    },
    Family {
        expand: Some("scheduledActionsForRule($expand=scheduledActionConfigurations)"),
        create: Create::PostWithBlockAction,
        update: Update::ScheduleActionsThenPatch,
        strip_on_update: &["scheduledActionsForRule"],
        ..family(
            "deviceCompliancePolicies",
            "Compliance policy",
            "/deviceManagement/deviceCompliancePolicies",
            Configuration,
        )
    },
    Family {
        // The list expands settings (as `GET {id}?$expand=settings` does), so no per-object read.
        expand: Some("settings"),
        page_size: Some(25),
        settings: Some(SettingsRead {
            path: "settings",
            query: "",
            per_child: None,
        }),
        update: Update::Put,
        strip: &["settingCount"],
        ..family(
            "configurationPolicies",
            "Settings catalog",
            "/deviceManagement/configurationPolicies",
            Configuration,
        )
    },
    Family {
        settings: Some(SettingsRead {
            path: "definitionValues",
            query: "$expand=definition",
            per_child: Some(("presentationValues", "$expand=presentation")),
        }),
        create: Create::PostThenDefinitionValues,
        update: Update::PatchThenDefinitionValues,
        strip: &["definitionValues"],
        ..family(
            "groupPolicyConfigurations",
            "Administrative templates (ADMX)",
            "/deviceManagement/groupPolicyConfigurations",
            Configuration,
        )
    },
    Family {
        refetch_items: true,
        assign: Assign::Action {
            action: "assign",
            body_key: "deviceManagementScriptAssignments",
        },
        ..family(
            "deviceManagementScripts",
            "PowerShell scripts",
            "/deviceManagement/deviceManagementScripts",
            Scripts,
        )
    },
    Family {
        refetch_items: true,
        assign: Assign::Action {
            action: "assign",
            body_key: "deviceManagementScriptAssignments",
        },
        ..family(
            "deviceShellScripts",
            "Shell scripts (macOS)",
            "/deviceManagement/deviceShellScripts",
            Scripts,
        )
    },
    Family {
        refetch_items: true,
        assign: Assign::Action {
            action: "assign",
            body_key: "deviceHealthScriptAssignments",
        },
        strip: &["isGlobalScript", "highestAvailableVersion"],
        ..family(
            "deviceHealthScripts",
            "Remediations",
            "/deviceManagement/deviceHealthScripts",
            Scripts,
        )
    },
    Family {
        assign: Assign::PerTarget,
        unassign_before_delete: true,
        strip_on_update: &["managementServiceAppId"],
        ..family(
            "windowsAutopilotDeploymentProfiles",
            "Autopilot deployment profiles",
            "/deviceManagement/windowsAutopilotDeploymentProfiles",
            ServiceConfig,
        )
    },
    Family {
        update: Update::PatchThenSetPriority,
        assign: Assign::Action {
            action: "assign",
            body_key: "enrollmentConfigurationAssignments",
        },
        strip: &["priority", "deviceEnrollmentConfigurationType", "platformType"],
        ..family(
            "deviceEnrollmentConfigurations",
            "Enrollment configurations",
            "/deviceManagement/deviceEnrollmentConfigurations",
            ServiceConfig,
        )
    },
    Family {
        settings: Some(SettingsRead {
            path: "settings",
            query: "",
            per_child: None,
        }),
        create: Create::TemplateCreateInstance,
        update: Update::UpdateSettingsAction,
        ..family(
            "intents",
            "Endpoint security (intents)",
            "/deviceManagement/intents",
            Configuration,
        )
    },
    family("roleScopeTags", "Scope tags", "/deviceManagement/roleScopeTags", Rbac),
    Family {
        assign: Assign::None,
        assignments: AssignmentsRead::None,
        strip: &["payloads"],
        strip_on_update: &["platform"],
        ..family(
            "assignmentFilters",
            "Assignment filters",
            "/deviceManagement/assignmentFilters",
            Configuration,
        )
    },
    Family {
        assign: Assign::Action {
            action: "microsoft.graph.managedDeviceMobileAppConfiguration/assign",
            body_key: "assignments",
        },
        ..family(
            "mobileAppConfigurations",
            "App configuration (managed devices)",
            "/deviceAppManagement/mobileAppConfigurations",
            Apps,
        )
    },
    Family {
        create: Create::PostThenTargetApps,
        strip: &["apps"],
        ..family(
            "targetedManagedAppConfigurations",
            "App configuration (managed apps)",
            "/deviceAppManagement/targetedManagedAppConfigurations",
            Apps,
        )
    },
    Family {
        create: Create::PostToTypeCollection,
        update: Update::PatchOnTypeCollection,
        assign: Assign::TypeCollectionAction,
        // The mixed-type list's base type (`managedAppPolicy`) has no `assignments`; each object's
        // live on its type collection (`iosManagedAppProtections/{id}/assignments`).
        assignments: AssignmentsRead::Batch,
        strip: &["apps", "exemptAppLockerFiles", "protectedAppLockerFiles"],
        ..family(
            "managedAppPolicies",
            "App protection",
            "/deviceAppManagement/managedAppPolicies",
            Apps,
        )
    },
    Family {
        strip: &["deployableContentDisplayName", "endOfSupportDate"],
        ..family(
            "windowsFeatureUpdateProfiles",
            "Windows feature updates",
            "/deviceManagement/windowsFeatureUpdateProfiles",
            Configuration,
        )
    },
    Family {
        create: Create::PostThenLocalizedMessages,
        update: Update::PatchThenLocalizedMessages,
        assign: Assign::None,
        assignments: AssignmentsRead::None,
        strip: &["defaultLocale", "localizedNotificationMessages"],
        ..family(
            "notificationMessageTemplates",
            "Notification templates",
            "/deviceManagement/notificationMessageTemplates",
            ServiceConfig,
        )
    },
    // Families added for issue 18 (item 6); each one's quirks are in specs/003-provider-connections.md ("Policy families").
    Family {
        // Metadata only: `win32LobApp` & co. keep their package in content versions the backup does
        // not read; a recreated line-of-business app waits for its binary (`publishingState`).
        metadata_only: true,
        assign: Assign::Action {
            action: "assign",
            body_key: "mobileAppAssignments",
        },
        strip: &[
            "uploadState",
            "publishingState",
            "dependentAppCount",
            "supersedingAppCount",
            "supersededAppCount",
            "committedContentVersion",
            "size",
        ],
        ..family("mobileApps", "Apps", "/deviceAppManagement/mobileApps", Apps)
    },
    Family {
        strip: &["releaseDateDisplayName", "deployableContentDisplayName"],
        ..family(
            "windowsQualityUpdateProfiles",
            "Windows quality updates",
            "/deviceManagement/windowsQualityUpdateProfiles",
            Configuration,
        )
    },
    Family {
        // The approval method is fixed once the profile exists.
        strip: &["deviceReporting", "newUpdates", "inventorySyncStatus"],
        strip_on_update: &["approvalType"],
        ..family(
            "windowsDriverUpdateProfiles",
            "Windows driver updates",
            "/deviceManagement/windowsDriverUpdateProfiles",
            Configuration,
        )
    },
    Family {
        expand: Some("items"),
        create: Create::PostThenPolicySetItems,
        update: Update::PatchThenPolicySetItems,
        // The `update` action replaces the set's assignments along with its items.
        assign: Assign::Action {
            action: "update",
            body_key: "assignments",
        },
        strip: &["status", "errorCode", "items"],
        ..family(
            "policySets",
            "Policy sets",
            "/deviceAppManagement/policySets",
            Configuration,
        )
    },
    Family {
        assign: Assign::None,
        assignments: AssignmentsRead::None,
        strip: &["isBuiltIn", "isBuiltInRoleDefinition", "roleAssignments"],
        ..family(
            "roleDefinitions",
            "Intune roles",
            "/deviceManagement/roleDefinitions",
            Rbac,
        )
    },
    Family {
        expand: Some("roleDefinition"),
        create: Create::PostWithRoleDefinitionBind,
        assign: Assign::None,
        assignments: AssignmentsRead::None,
        strip: &["roleDefinition"],
        ..family(
            "roleAssignments",
            "Intune role assignments",
            "/deviceManagement/roleAssignments",
            Rbac,
        )
    },
    Family {
        // No `assign` action: one `POST {id}/assignments {target}` per group, as Autopilot.
        assign: Assign::PerTarget,
        strip: &["acceptanceStatuses", "groupAssignments"],
        ..family(
            "termsAndConditions",
            "Terms and conditions",
            "/deviceManagement/termsAndConditions",
            ServiceConfig,
        )
    },
    Family {
        assign: Assign::None,
        assignments: AssignmentsRead::None,
        ..family(
            "deviceCategories",
            "Device categories",
            "/deviceManagement/deviceCategories",
            ManagedDevices,
        )
    },
];

impl Family {
    pub fn by_code(code: &str) -> Option<&'static Family> {
        FAMILIES.iter().find(|f| f.code == code)
    }

    /// `/beta/deviceManagement/configurationPolicies`
    pub fn list_path(&self) -> String {
        format!("/{}{}", self.version.as_str(), self.collection)
    }

    /// The list path with `$expand` when the family has one.
    pub fn list_query(&self) -> String {
        match self.expand {
            Some(expand) => format!("{}?$expand={expand}", self.list_path()),
            None => self.list_path(),
        }
    }

    /// The list path for a full read: the family's `$expand` plus `assignments` where the list
    /// can expand them (refetched families get them with each object instead).
    pub fn full_list_query(&self) -> String {
        let assignments = self.assignments == AssignmentsRead::ListExpand && !self.refetch_items;
        match (self.expand, assignments) {
            (Some(e), true) => format!("{}?$expand=assignments,{e}", self.list_path()),
            (None, true) => format!("{}?$expand=assignments", self.list_path()),
            _ => self.list_query(),
        }
    }

    /// [`Family::full_list_query`] asking for `$count=true`, so a list that ends early (a page without
    /// `@odata.nextLink` before the end, a short page) shows against `@odata.count`. Intune collections
    /// take OData's `$count` without `ConsistencyLevel`, which only directory objects need.
    pub fn counted_list_query(&self) -> String {
        let q = self.full_list_query();
        let sep = if q.contains('?') { '&' } else { '?' };
        format!("{q}{sep}$count=true")
    }

    /// `/beta/deviceManagement/configurationPolicies/{id}`, with the family's `$expand`.
    pub fn item_path(&self, id: &str) -> String {
        match self.expand {
            Some(expand) => format!("{}/{id}?$expand={expand}", self.list_path()),
            None => format!("{}/{id}", self.list_path()),
        }
    }

    /// One object re-read in full, relative to the version (for `$batch`), assignments included.
    pub fn refetch_batch_url(&self, id: &str) -> String {
        let mut expand = vec![];
        if self.assignments != AssignmentsRead::None {
            expand.push("assignments");
        }
        expand.extend(self.expand);
        if expand.is_empty() {
            format!("{}/{id}", self.collection)
        } else {
            format!("{}/{id}?$expand={}", self.collection, expand.join(","))
        }
    }

    /// Where an object's assignments are read, relative to the version (for `$batch`): under the
    /// object's type collection for a mixed-type list, else under the family's collection.
    pub fn object_assignments_batch_url(&self, object: &Value) -> Option<String> {
        let id = object.get("id")?.as_str()?;
        if self.create != Create::PostToTypeCollection {
            return Some(self.assignments_batch_url(id));
        }
        Some(format!("{}/{id}/assignments", self.type_collection(object)?))
    }

    /// A mixed-type list's per-type collection for `object`, relative to the version:
    /// `#microsoft.graph.iosManagedAppProtection` → `/deviceAppManagement/iosManagedAppProtections`.
    pub fn type_collection(&self, object: &Value) -> Option<String> {
        let ty = object
            .get("@odata.type")?
            .as_str()?
            .strip_prefix("#microsoft.graph.")
            .filter(|t| !t.is_empty())?;
        let plural = match ty.strip_suffix('y') {
            Some(stem) => format!("{stem}ies"),
            None if ty.ends_with('s') => ty.to_owned(),
            None => format!("{ty}s"),
        };
        let parent = self.collection.rsplit_once('/')?.0;
        Some(format!("{parent}/{plural}"))
    }

    /// `{item}/assignments`, relative to the version (for `$batch`).
    pub fn assignments_batch_url(&self, id: &str) -> String {
        format!("{}/{id}/assignments", self.collection)
    }

    /// `{item}/{settings}` with its query, when the family has settings to read.
    pub fn settings_path(&self, id: &str) -> Option<String> {
        self.settings.map(|s| {
            let base = format!("{}/{id}/{}", self.list_path(), s.path);
            if s.query.is_empty() {
                base
            } else {
                format!("{base}?{}", s.query)
            }
        })
    }

    pub fn read_permission(&self) -> &'static str {
        self.permission.read()
    }

    pub fn write_permission(&self) -> &'static str {
        self.permission.write()
    }

    /// The Multi Admin Approval `policyType` (of `/beta/deviceManagement/operationApprovalPolicies`)
    /// whose policies put writes to this family on hold for a second administrator (graph-brief §4.3).
    pub fn approval_policy_type(&self) -> Option<&'static str> {
        Some(match self.code {
            "deviceCompliancePolicies" | "notificationMessageTemplates" => "compliancePolicy",
            "configurationPolicies"
            | "deviceConfigurations"
            | "groupPolicyConfigurations"
            | "windowsFeatureUpdateProfiles" => "configurationPolicy",
            "intents" => "endpointSecurityPolicy",
            "deviceManagementScripts" | "deviceShellScripts" | "deviceHealthScripts" => "script",
            "managedAppPolicies" | "targetedManagedAppConfigurations" => "appProtectionPolicy",
            "mobileAppConfigurations" => "app",
            "assignmentFilters" => "filter",
            "roleScopeTags" | "roleDefinitions" | "roleAssignments" => "role",
            "mobileApps" => "app",
            "windowsQualityUpdateProfiles" | "windowsDriverUpdateProfiles" => "configurationPolicy",
            _ => return None,
        })
    }

    /// A copy of `object` ready to send: read-only fields and OData annotations removed. The top-level
    /// keys of [`STRIP_ALWAYS`], [`STRIP_ICD`] and this family's lists go; annotations
    /// (`*@odata.context`, `*@odata.nextLink`, `*@odata.id`, `prop@odata.type`) go at every depth, but a
    /// bare `@odata.type` stays everywhere, as Graph needs it on derived types (settings, targets).
    pub fn strip_for_write(&self, object: &Value, mode: WriteMode) -> Value {
        let mut out = object.clone();
        strip_annotations(&mut out);
        if let Value::Object(map) = &mut out {
            let update_only: &[&str] = if mode == WriteMode::Update {
                self.strip_on_update
            } else {
                &[]
            };
            for key in STRIP_ALWAYS
                .iter()
                .chain(STRIP_ICD)
                .chain(self.strip)
                .chain(update_only)
            {
                map.remove(*key);
            }
        }
        out
    }
}

fn is_annotation_to_strip(key: &str) -> bool {
    key.ends_with("@odata.context")
        || key.ends_with("@odata.nextLink")
        || key.ends_with("@odata.id")
        || (key.ends_with("@odata.type") && key != "@odata.type")
}

fn strip_annotations(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|k, _| !is_annotation_to_strip(k));
            map.values_mut().for_each(strip_annotations);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_annotations),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn codes_are_unique_and_paths_well_formed() {
        let mut codes: Vec<_> = FAMILIES.iter().map(|f| f.code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), FAMILIES.len());
        assert_eq!(FAMILIES.len(), 25);
        for f in FAMILIES {
            assert!(f.collection.starts_with("/device"), "{}", f.code);
            assert!(f.collection.ends_with(f.code), "{}", f.code);
            assert_eq!(Family::by_code(f.code), Some(f));
            assert!(f.read_permission().ends_with(".Read.All"));
            assert!(f.write_permission().ends_with(".ReadWrite.All"));
        }
    }

    #[test]
    fn settings_catalog_quirks() {
        let f = Family::by_code("configurationPolicies").unwrap();
        assert_eq!(f.list_path(), "/beta/deviceManagement/configurationPolicies");
        assert_eq!(f.page_size, Some(25));
        assert_eq!(f.update, Update::Put);
        assert_eq!(
            f.settings_path("p1").unwrap(),
            "/beta/deviceManagement/configurationPolicies/p1/settings"
        );
        assert_eq!(f.read_permission(), "DeviceManagementConfiguration.Read.All");
    }

    #[test]
    fn compliance_reads_its_actions_and_admx_its_definitions() {
        let c = Family::by_code("deviceCompliancePolicies").unwrap();
        assert_eq!(
            c.item_path("x"),
            "/beta/deviceManagement/deviceCompliancePolicies/x?$expand=scheduledActionsForRule($expand=scheduledActionConfigurations)"
        );
        let a = Family::by_code("groupPolicyConfigurations").unwrap();
        assert_eq!(
            a.settings_path("g").unwrap(),
            "/beta/deviceManagement/groupPolicyConfigurations/g/definitionValues?$expand=definition"
        );
        assert_eq!(
            Family::by_code("deviceHealthScripts").unwrap().permission,
            PermissionArea::Scripts
        );
        assert_eq!(
            Family::by_code("windowsAutopilotDeploymentProfiles").unwrap().assign,
            Assign::PerTarget
        );
    }

    #[test]
    fn strip_removes_read_only_fields_and_annotations_but_keeps_odata_types() {
        let f = Family::by_code("configurationPolicies").unwrap();
        let live = json!({
            "@odata.context": "https://graph.microsoft.com/beta/$metadata#deviceManagement/configurationPolicies/$entity",
            "@odata.type": "#microsoft.graph.deviceManagementConfigurationPolicy",
            "id": "p1", "createdDateTime": "x", "lastModifiedDateTime": "x", "settingCount": 2, "isAssigned": true,
            "version": 3, "supportsScopeTags": true, "token": "t", "name": "Baseline",
            "roleScopeTagIds@odata.type": "#Collection(String)", "roleScopeTagIds": ["0"],
            "assignments@odata.context": "…", "assignments": [{"id": "a"}],
            "settings": [{"id": "0", "@odata.type": "#microsoft.graph.deviceManagementConfigurationSetting",
                "settingInstance": {"@odata.type": "#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance",
                    "settingDefinitionId": "d", "children@odata.nextLink": "…", "value@odata.id": "…"}}],
        });
        let out = f.strip_for_write(&live, WriteMode::Create);
        assert_eq!(
            out,
            json!({
                "@odata.type": "#microsoft.graph.deviceManagementConfigurationPolicy",
                "name": "Baseline", "roleScopeTagIds": ["0"],
                "settings": [{"id": "0", "@odata.type": "#microsoft.graph.deviceManagementConfigurationSetting",
                    "settingInstance": {"@odata.type": "#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance",
                        "settingDefinitionId": "d"}}],
            })
        );
    }

    #[test]
    fn update_only_fields() {
        let f = Family::by_code("assignmentFilters").unwrap();
        let live = json!({"displayName": "f", "platform": "windows10AndLater", "rule": "r", "payloads": []});
        assert_eq!(
            f.strip_for_write(&live, WriteMode::Create),
            json!({"displayName": "f", "platform": "windows10AndLater", "rule": "r"})
        );
        assert_eq!(
            f.strip_for_write(&live, WriteMode::Update),
            json!({"displayName": "f", "rule": "r"})
        );
        let c = Family::by_code("deviceCompliancePolicies").unwrap();
        let live = json!({"displayName": "c", "scheduledActionsForRule": [{"ruleName": "PasswordRequired"}]});
        assert!(
            c.strip_for_write(&live, WriteMode::Create)
                .get("scheduledActionsForRule")
                .is_some()
        );
        assert!(
            c.strip_for_write(&live, WriteMode::Update)
                .get("scheduledActionsForRule")
                .is_none()
        );
    }

    #[test]
    fn full_reads_take_assignments_from_the_list_or_per_object() {
        let c = Family::by_code("deviceCompliancePolicies").unwrap();
        assert_eq!(
            c.full_list_query(),
            "/beta/deviceManagement/deviceCompliancePolicies?$expand=assignments,scheduledActionsForRule($expand=scheduledActionConfigurations)"
        );
        let f = Family::by_code("assignmentFilters").unwrap();
        assert_eq!(f.full_list_query(), "/beta/deviceManagement/assignmentFilters");
        let s = Family::by_code("deviceManagementScripts").unwrap();
        assert_eq!(s.full_list_query(), "/beta/deviceManagement/deviceManagementScripts");
        assert_eq!(
            s.refetch_batch_url("s1"),
            "/deviceManagement/deviceManagementScripts/s1?$expand=assignments"
        );
        assert_eq!(
            f.counted_list_query(),
            "/beta/deviceManagement/assignmentFilters?$count=true"
        );
        assert_eq!(c.counted_list_query(), format!("{}&$count=true", c.full_list_query()));
        let m = Family::by_code("managedAppPolicies").unwrap();
        assert_eq!(m.full_list_query(), "/beta/deviceAppManagement/managedAppPolicies");
        let ios = json!({"id": "T_1", "@odata.type": "#microsoft.graph.iosManagedAppProtection"});
        assert_eq!(
            m.object_assignments_batch_url(&ios).unwrap(),
            "/deviceAppManagement/iosManagedAppProtections/T_1/assignments"
        );
        let wip = json!({"id": "w", "@odata.type": "#microsoft.graph.mdmWindowsInformationProtectionPolicy"});
        assert_eq!(
            m.object_assignments_batch_url(&wip).unwrap(),
            "/deviceAppManagement/mdmWindowsInformationProtectionPolicies/w/assignments"
        );
    }

    #[test]
    fn families_added_for_issue_18() {
        let ps = Family::by_code("policySets").unwrap();
        assert_eq!(
            ps.full_list_query(),
            "/beta/deviceAppManagement/policySets?$expand=assignments,items"
        );
        assert!(ps.strip_for_write(&json!({"items": [], "status": "success"}), WriteMode::Create) == json!({}));
        let ra = Family::by_code("roleAssignments").unwrap();
        assert_eq!(
            ra.item_path("a"),
            "/beta/deviceManagement/roleAssignments/a?$expand=roleDefinition"
        );
        assert_eq!(
            ra.full_list_query(),
            "/beta/deviceManagement/roleAssignments?$expand=roleDefinition"
        );
        let rd = Family::by_code("roleDefinitions").unwrap();
        let live = json!({"displayName": "r", "isBuiltIn": false, "rolePermissions": []});
        assert_eq!(
            rd.strip_for_write(&live, WriteMode::Create),
            json!({"displayName": "r", "rolePermissions": []})
        );
        let drivers = Family::by_code("windowsDriverUpdateProfiles").unwrap();
        let live = json!({"displayName": "d", "approvalType": "manual", "newUpdates": 2});
        assert_eq!(
            drivers.strip_for_write(&live, WriteMode::Update),
            json!({"displayName": "d"})
        );
        let apps = Family::by_code("mobileApps").unwrap();
        assert!(apps.metadata_only && apps.permission == Apps);
        assert_eq!(Family::by_code("termsAndConditions").unwrap().assign, Assign::PerTarget);
        let cats = Family::by_code("deviceCategories").unwrap();
        assert_eq!(cats.write_permission(), "DeviceManagementManagedDevices.ReadWrite.All");
        assert_eq!(cats.full_list_query(), "/beta/deviceManagement/deviceCategories");
    }

    /// The web app keeps its own copy of codes and labels (no request needed to offer them): each
    /// family's entry must be there, named as here.
    #[test]
    fn the_web_app_names_every_family() {
        let web = include_str!("../../../web/src/families.rs");
        for f in FAMILIES {
            let entry = format!("(\"{}\", \"{}\")", f.code, f.label);
            assert!(web.contains(&entry), "web/src/families.rs lacks {entry}");
        }
        assert_eq!(web.matches("\", \"").count(), FAMILIES.len());
    }

    #[test]
    fn permissions_from_roles() {
        let roles = vec![
            "DeviceManagementConfiguration.ReadWrite.All".to_owned(),
            "DeviceManagementApps.Read.All".to_owned(),
        ];
        assert!(Configuration.can_read(&roles));
        assert!(Configuration.can_write(&roles));
        assert!(Apps.can_read(&roles));
        assert!(!Apps.can_write(&roles));
        assert!(!Scripts.can_read(&roles));
    }
}
