//! The policy families a baseline can cover: code and label of each family the Graph client
//! knows (`functions/graph/src/families.rs`, `FAMILIES`), kept here so the web app needs no
//! request to offer them.

pub const FAMILIES: &[(&str, &str)] = &[
    ("deviceConfigurations", "Device configuration"),
    ("deviceCompliancePolicies", "Compliance policy"),
    ("configurationPolicies", "Settings catalog"),
    ("groupPolicyConfigurations", "Administrative templates (ADMX)"),
    ("deviceManagementScripts", "PowerShell scripts"),
    ("deviceShellScripts", "Shell scripts (macOS)"),
    ("deviceHealthScripts", "Remediations"),
    ("windowsAutopilotDeploymentProfiles", "Autopilot deployment profiles"),
    ("deviceEnrollmentConfigurations", "Enrollment configurations"),
    ("intents", "Endpoint security (intents)"),
    ("roleScopeTags", "Scope tags"),
    ("assignmentFilters", "Assignment filters"),
    ("mobileAppConfigurations", "App configuration (managed devices)"),
    ("targetedManagedAppConfigurations", "App configuration (managed apps)"),
    ("managedAppPolicies", "App protection"),
    ("windowsFeatureUpdateProfiles", "Windows feature updates"),
    ("notificationMessageTemplates", "Notification templates"),
    ("mobileApps", "Apps"),
    ("windowsQualityUpdateProfiles", "Windows quality updates"),
    ("windowsDriverUpdateProfiles", "Windows driver updates"),
    ("policySets", "Policy sets"),
    ("roleDefinitions", "Intune roles"),
    ("roleAssignments", "Intune role assignments"),
    ("termsAndConditions", "Terms and conditions"),
    ("deviceCategories", "Device categories"),
];

/// The label of a family code, or the code itself when unknown.
pub fn label(code: &str) -> &str {
    FAMILIES.iter().find(|(c, _)| *c == code).map_or(code, |(_, l)| l)
}
