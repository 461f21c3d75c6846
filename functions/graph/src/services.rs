//! Which Intune service a request counts against.
//!
//! Graph's throttling page states Intune's limits per service ("Intune device configuration
//! service limits", "Intune devices service limits", …), each for the resources it lists: per app
//! per tenant 1,000 requests and 100 writes per 20 s (the devices service 2,000 and 200), and twice
//! that per tenant for all apps. A backup of 25 families therefore has about ten separate
//! allowances, not one; a client that keeps one per-tenant budget either wastes most of them or,
//! if it assumes the per-tenant figure, overruns one service's per-app limit. The map below follows
//! the page's resource lists (`docs/adr/0035-throttle-budgets-per-intune-service.md`).

/// An Intune service's allowance: `scale` × the configured per-app limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// A stable key (`device_configuration`, `devices`, …).
    pub name: String,
    /// 2 for the devices service (2,000 requests and 200 writes per app), 1 for the others.
    pub scale: u32,
}

/// Collections under `deviceManagement/` or `deviceAppManagement/`, by the service whose list
/// names their resource type. Lower case; compared case-insensitively.
const SERVICES: &[(&str, u32, &[&str])] = &[
    (
        "device_configuration",
        1,
        &["deviceconfigurations", "devicecompliancepolicies"],
    ),
    (
        "device_config_v2",
        1,
        &[
            "configurationpolicies",
            "configurationsettings",
            "configurationpolicytemplates",
            "reusablepolicysettings",
            "configurationcategories",
        ],
    ),
    ("device_intent", 1, &["intents", "templates"]),
    (
        "devices",
        2,
        &[
            "devicemanagementscripts",
            "deviceshellscripts",
            "devicehealthscripts",
            "devicecustomattributeshellscripts",
            "manageddevices",
        ],
    ),
    (
        "managed_applications",
        1,
        &[
            "managedapppolicies",
            "iosmanagedappprotections",
            "androidmanagedappprotections",
            "targetedmanagedappconfigurations",
            "mdmwindowsinformationprotectionpolicies",
            "windowsinformationprotectionpolicies",
            "managedappregistrations",
            "defaultmanagedappprotections",
        ],
    ),
    (
        "applications",
        1,
        &["mobileapps", "mobileappconfigurations", "mobileappcategories"],
    ),
    ("bundles", 1, &["assignmentfilters", "policysets"]),
    (
        "updates",
        1,
        &["windowsfeatureupdateprofiles", "windowsqualityupdateprofiles"],
    ),
    // Autopilot profiles are not on the page; their reference pages are the enrollment
    // namespace's, so they share that allowance (the cautious choice).
    (
        "enrollment",
        1,
        &[
            "deviceenrollmentconfigurations",
            "devicecategories",
            "devicemanagementpartners",
            "windowsautopilotdeploymentprofiles",
        ],
    ),
    ("notifications", 1, &["notificationmessagetemplates"]),
    (
        "rbac",
        1,
        &[
            "rolescopetags",
            "roledefinitions",
            "roleassignments",
            "resourceoperations",
        ],
    ),
    ("auditing", 1, &["auditevents"]),
    ("company_terms", 1, &["termsandconditions"]),
    ("wip", 1, &["intunebrandingprofiles"]),
];

/// The service a request to `path` counts against. `path` may be a full URL, a versioned path
/// (`/beta/deviceManagement/…`) or a `$batch` item's relative URL (`deviceManagement/…`, with or
/// without the leading slash). Intune collections the page does not list (ADMX
/// `groupPolicyConfigurations`, …) get an allowance of their own at the default limits; anything
/// outside Intune (`groups`, `organization`, …) counts as `directory`.
pub fn service_of(path: &str) -> Service {
    let path = match path.find("://") {
        Some(i) => path[i + 3..].find('/').map_or("", |j| &path[i + 3 + j..]),
        None => path,
    };
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let mut segments = path.split('/').filter(|s| !s.is_empty());
    let mut first = segments.next().unwrap_or_default();
    if first.eq_ignore_ascii_case("beta") || first.eq_ignore_ascii_case("v1.0") {
        first = segments.next().unwrap_or_default();
    }
    let intune = first.eq_ignore_ascii_case("deviceManagement") || first.eq_ignore_ascii_case("deviceAppManagement");
    if !intune {
        return Service {
            name: "directory".into(),
            scale: 1,
        };
    }
    // `deviceConfigurations('id')` and `deviceConfigurations/id` both name the collection.
    let collection = segments
        .next()
        .unwrap_or_default()
        .split('(')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    for (name, scale, collections) in SERVICES {
        if collections.contains(&collection.as_str()) {
            return Service {
                name: (*name).into(),
                scale: *scale,
            };
        }
    }
    Service {
        name: format!("unlisted:{collection}"),
        scale: 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_count_against_the_service_that_lists_their_resource() {
        let name = |p: &str| service_of(p).name;
        assert_eq!(
            name("/beta/deviceManagement/deviceConfigurations"),
            "device_configuration"
        );
        assert_eq!(
            name("https://graph.microsoft.com/beta/deviceManagement/deviceCompliancePolicies/x?$expand=assignments"),
            "device_configuration"
        );
        assert_eq!(
            name("deviceManagement/configurationPolicies/p/settings"),
            "device_config_v2"
        );
        assert_eq!(name("/deviceManagement/intents/i/settings"), "device_intent");
        assert_eq!(
            name("/beta/deviceManagement/templates/t/createInstance"),
            "device_intent"
        );
        assert_eq!(
            name("/deviceAppManagement/iosManagedAppProtections/T_1/assignments"),
            "managed_applications"
        );
        assert_eq!(
            name("/beta/deviceAppManagement/mobileAppConfigurations"),
            "applications"
        );
        assert_eq!(name("/beta/deviceManagement/assignmentFilters?$count=true"), "bundles");
        assert_eq!(
            name("/beta/deviceManagement/windowsAutopilotDeploymentProfiles/p/assignments"),
            "enrollment"
        );
        assert_eq!(name("/v1.0/deviceManagement/auditEvents?$filter=x"), "auditing");
        assert_eq!(name("/beta/DeviceManagement/RoleScopeTags('1')"), "rbac");
        assert_eq!(name("/v1.0/groups?$filter=displayName eq 'x'"), "directory");
        assert_eq!(name("/beta/$batch"), "directory");
        assert_eq!(
            name("/beta/deviceManagement/groupPolicyConfigurations/g/definitionValues"),
            "unlisted:grouppolicyconfigurations"
        );
    }

    #[test]
    fn the_devices_service_has_twice_the_allowance() {
        assert_eq!(service_of("/beta/deviceManagement/deviceHealthScripts").scale, 2);
        assert_eq!(
            service_of("deviceManagement/deviceShellScripts/s?$expand=assignments").scale,
            2
        );
        assert_eq!(service_of("/beta/deviceManagement/deviceConfigurations").scale, 1);
    }
}
