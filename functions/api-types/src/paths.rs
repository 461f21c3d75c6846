//! The API's paths, written once: each route's template (the router's `{param}` syntax, used by
//! the route registry) and a builder that fills it with percent-encoded segments (used by the web
//! client and the tests). A builder fills its own template, so the two cannot drift apart.

macro_rules! paths {
    ($($(#[$m:meta])* $name:ident = $tpl:literal => fn $build:ident($($arg:ident),*);)*) => {
        /// The templates, as the route registry declares them.
        pub mod template {
            $($(#[$m])* pub const $name: &str = $tpl;)*

            /// Every template, for tests that prove the registry declares each one.
            pub const ALL: &[&str] = &[$($name),*];
        }

        $($(#[$m])* pub fn $build($($arg: &str),*) -> String {
            fill($tpl, &[$($arg),*])
        })*
    };
}

paths! {
    /// `GET`: service health.
    HEALTH = "/api/health" => fn health();
    /// `GET`: this API's OpenAPI document.
    OPENAPI = "/api/openapi.json" => fn openapi();
    ME = "/api/v1/me" => fn me();
    SUPPORT_REQUESTS = "/api/v1/workspaces/{ws}/support-requests" => fn support_requests(ws);
    SUPPORT_REQUEST = "/api/v1/workspaces/{ws}/support-requests/{support}" => fn support_request(ws, support);
    SYSTEM_RUNS = "/api/v1/system/runs" => fn system_runs();
    SYSTEM_RUNS_EXPORT = "/api/v1/system/runs/export.csv" => fn system_runs_export();
    SYSTEM_RUN = "/api/v1/system/runs/{run}" => fn system_run(run);
    SYSTEM_AUDIT = "/api/v1/system/audit-events" => fn system_audit();
    MY_NOTIFICATIONS = "/api/v1/me/notifications" => fn my_notifications();
    MY_NOTIFICATIONS_READ = "/api/v1/me/notifications/read" => fn my_notifications_read();
    MY_NOTIFICATION_PREFS = "/api/v1/me/notification-preferences" => fn my_notification_prefs();
    WORKSPACES = "/api/v1/workspaces" => fn workspaces();
    WORKSPACE = "/api/v1/workspaces/{ws}" => fn workspace(ws);
    WORKSPACE_PIN = "/api/v1/workspaces/{ws}/pin" => fn workspace_pin(ws);
    ENVIRONMENTS = "/api/v1/workspaces/{ws}/environments" => fn environments(ws);
    ENVIRONMENT = "/api/v1/workspaces/{ws}/environments/{env}" => fn environment(ws, env);
    ENVIRONMENT_POSTURE = "/api/v1/workspaces/{ws}/environments/{env}/posture" => fn environment_posture(ws, env);
    WORKSPACE_POSTURE = "/api/v1/workspaces/{ws}/posture" => fn workspace_posture(ws);
    DASHBOARD = "/api/v1/workspaces/{ws}/dashboard" => fn dashboard(ws);
    LINT_RULES = "/api/v1/workspaces/{ws}/lint-rules" => fn lint_rules(ws);
    ENVIRONMENT_LINT = "/api/v1/workspaces/{ws}/environments/{env}/lint" => fn environment_lint(ws, env);
    COMPARE = "/api/v1/workspaces/{ws}/compare" => fn compare(ws);
    COMPARE_EXPORT = "/api/v1/workspaces/{ws}/compare/export" => fn compare_export(ws);
    MAPPINGS = "/api/v1/workspaces/{ws}/mappings" => fn mappings(ws);
    PROMOTIONS = "/api/v1/workspaces/{ws}/promotions" => fn promotions(ws);
    PROMOTION = "/api/v1/workspaces/{ws}/promotions/{promotion}" => fn promotion(ws, promotion);
    PROMOTION_PLAN = "/api/v1/workspaces/{ws}/promotions/{promotion}/plan" => fn promotion_plan(ws, promotion);
    PROMOTION_DRY_RUN = "/api/v1/workspaces/{ws}/promotions/{promotion}/dry-run" => fn promotion_dry_run(ws, promotion);
    PROMOTION_APPROVE = "/api/v1/workspaces/{ws}/promotions/{promotion}/approve" => fn promotion_approve(ws, promotion);
    PROMOTION_CUTOVER = "/api/v1/workspaces/{ws}/promotions/{promotion}/cutover" => fn promotion_cutover(ws, promotion);
    PROMOTION_ROLLBACK = "/api/v1/workspaces/{ws}/promotions/{promotion}/rollback" => fn promotion_rollback(ws, promotion);
    PROMOTION_CANCEL = "/api/v1/workspaces/{ws}/promotions/{promotion}/cancel" => fn promotion_cancel(ws, promotion);
    LINT_SETTINGS = "/api/v1/workspaces/{ws}/lint/settings" => fn lint_settings(ws);
    MEMBERS = "/api/v1/workspaces/{ws}/members" => fn members(ws);
    MEMBER = "/api/v1/workspaces/{ws}/members/{user}" => fn member(ws, user);
    INVITATIONS = "/api/v1/workspaces/{ws}/invitations" => fn invitations(ws);
    INVITATION = "/api/v1/workspaces/{ws}/invitations/{invitation}" => fn invitation(ws, invitation);
    INVITATION_ACCEPT = "/api/v1/invitations/accept" => fn invitation_accept();
    ONBOARDING = "/api/v1/workspaces/{ws}/onboarding" => fn onboarding(ws);
    ONBOARDING_DRAFT = "/api/v1/workspaces/{ws}/onboarding/{draft}" => fn onboarding_draft(ws, draft);
    PROVIDER_CONNECTION = "/api/v1/workspaces/{ws}/environments/{env}/provider-connection"
        => fn provider_connection(ws, env);
    PROVIDER_CONSENT = "/api/v1/workspaces/{ws}/environments/{env}/provider-connection/consent"
        => fn provider_consent(ws, env);
    PROVIDER_CONSENT_CALLBACK = "/api/v1/provider/consent-callback" => fn provider_consent_callback();
    PROVIDER_VERIFY = "/api/v1/workspaces/{ws}/environments/{env}/provider-connection/verify"
        => fn provider_verify(ws, env);
    PROVIDER_CREDENTIAL = "/api/v1/workspaces/{ws}/environments/{env}/provider-connection/credential"
        => fn provider_credential(ws, env);
    PROVIDER_DISABLE = "/api/v1/workspaces/{ws}/environments/{env}/provider-connection/disable"
        => fn provider_disable(ws, env);
    PROVIDER_ENABLE = "/api/v1/workspaces/{ws}/environments/{env}/provider-connection/enable"
        => fn provider_enable(ws, env);
    INVENTORY_SYNC = "/api/v1/workspaces/{ws}/environments/{env}/inventory/sync" => fn inventory_sync(ws, env);
    DIRECTORY_GROUPS = "/api/v1/workspaces/{ws}/environments/{env}/directory/groups"
        => fn directory_groups(ws, env);
    INVENTORY = "/api/v1/workspaces/{ws}/environments/{env}/inventory" => fn inventory(ws, env);
    INVENTORY_ITEM = "/api/v1/workspaces/{ws}/environments/{env}/inventory/{family}/{item}"
        => fn inventory_item(ws, env, family, item);
    BACKUPS = "/api/v1/workspaces/{ws}/environments/{env}/backups" => fn backups(ws, env);
    BACKUP = "/api/v1/workspaces/{ws}/environments/{env}/backups/{set}" => fn backup(ws, env, set);
    BACKUP_RETRY = "/api/v1/workspaces/{ws}/environments/{env}/backups/{set}/retry" => fn backup_retry(ws, env, set);
    BACKUP_DIFF = "/api/v1/workspaces/{ws}/environments/{env}/backups/{set}/diff" => fn backup_diff(ws, env, set);
    BACKUP_LINT = "/api/v1/workspaces/{ws}/environments/{env}/backups/{set}/lint" => fn backup_lint(ws, env, set);
    BACKUP_ITEM = "/api/v1/workspaces/{ws}/environments/{env}/backups/{set}/items/{family}/{item}"
        => fn backup_item(ws, env, set, family, item);
    BACKUP_SCHEDULES = "/api/v1/workspaces/{ws}/environments/{env}/backup-schedules" => fn backup_schedules(ws, env);
    BACKUP_SCHEDULE = "/api/v1/workspaces/{ws}/environments/{env}/backup-schedules/{schedule}"
        => fn backup_schedule(ws, env, schedule);
    RESTORES = "/api/v1/workspaces/{ws}/environments/{env}/restores" => fn restores(ws, env);
    RESTORE = "/api/v1/workspaces/{ws}/environments/{env}/restores/{restore}" => fn restore(ws, env, restore);
    RESTORE_PREVIEWS = "/api/v1/workspaces/{ws}/environments/{env}/restores/{restore}/previews"
        => fn restore_previews(ws, env, restore);
    RESTORE_CONFIRM = "/api/v1/workspaces/{ws}/environments/{env}/restores/{restore}/confirm"
        => fn restore_confirm(ws, env, restore);
    RESTORE_CANCEL = "/api/v1/workspaces/{ws}/environments/{env}/restores/{restore}/cancel"
        => fn restore_cancel(ws, env, restore);
    OPERATIONS = "/api/v1/workspaces/{ws}/operations" => fn operations(ws);
    OPERATIONS_EXPORT = "/api/v1/workspaces/{ws}/operations/export.csv" => fn operations_export(ws);
    OPERATION = "/api/v1/workspaces/{ws}/operations/{run}" => fn operation(ws, run);
    AUDIT_EVENTS = "/api/v1/workspaces/{ws}/audit-events" => fn audit_events(ws);
    AUDIT_EVENTS_EXPORT = "/api/v1/workspaces/{ws}/audit-events/export.csv" => fn audit_events_export(ws);
    AUDIT_VERIFY = "/api/v1/workspaces/{ws}/audit/verify" => fn audit_verify(ws);
    EVIDENCE = "/api/v1/workspaces/{ws}/evidence" => fn evidence(ws);
    EVIDENCE_SETTINGS = "/api/v1/workspaces/{ws}/evidence/settings" => fn evidence_settings(ws);
    EVIDENCE_PACK = "/api/v1/workspaces/{ws}/evidence/{pack}" => fn evidence_pack(ws, pack);
    EVIDENCE_LINK = "/api/v1/workspaces/{ws}/evidence/{pack}/link" => fn evidence_link(ws, pack);
    EVIDENCE_DOWNLOAD = "/api/v1/evidence-download" => fn evidence_download();
    BASELINES = "/api/v1/workspaces/{ws}/baselines" => fn baselines(ws);
    BASELINE = "/api/v1/workspaces/{ws}/baselines/{baseline}" => fn baseline(ws, baseline);
    BASELINE_SNAPSHOTS = "/api/v1/workspaces/{ws}/baselines/{baseline}/snapshots" => fn baseline_snapshots(ws, baseline);
    BASELINE_CAPTURES = "/api/v1/workspaces/{ws}/baselines/{baseline}/captures" => fn baseline_captures(ws, baseline);
    BASELINE_ASSIGNMENT = "/api/v1/workspaces/{ws}/environments/{env}/baselines/{baseline}"
        => fn baseline_assignment(ws, env, baseline);
    DRIFT = "/api/v1/workspaces/{ws}/environments/{env}/drift" => fn drift(ws, env);
    DRIFT_DETECT = "/api/v1/workspaces/{ws}/environments/{env}/drift/detect" => fn drift_detect(ws, env);
    DRIFT_CHANGES = "/api/v1/workspaces/{ws}/environments/{env}/drift/changes" => fn drift_changes(ws, env);
    FINDINGS = "/api/v1/workspaces/{ws}/findings" => fn findings(ws);
    FINDINGS_EXPORT = "/api/v1/workspaces/{ws}/findings/export.csv" => fn findings_export(ws);
    FINDINGS_TRIAGE = "/api/v1/workspaces/{ws}/findings/triage" => fn findings_triage(ws);
    FINDING = "/api/v1/workspaces/{ws}/findings/{finding}" => fn finding(ws, finding);
    FINDING_EXCEPTIONS = "/api/v1/workspaces/{ws}/findings/{finding}/exceptions" => fn finding_exceptions(ws, finding);
    EXCEPTIONS = "/api/v1/workspaces/{ws}/exceptions" => fn exceptions(ws);
    EXCEPTION = "/api/v1/workspaces/{ws}/exceptions/{exception}" => fn exception(ws, exception);
    EXCEPTION_APPROVE = "/api/v1/workspaces/{ws}/exceptions/{exception}/approve" => fn exception_approve(ws, exception);
    EXCEPTION_REJECT = "/api/v1/workspaces/{ws}/exceptions/{exception}/reject" => fn exception_reject(ws, exception);
    EXCEPTION_REVOKE = "/api/v1/workspaces/{ws}/exceptions/{exception}/revoke" => fn exception_revoke(ws, exception);
    GOVERNANCE_POLICY = "/api/v1/workspaces/{ws}/governance-policy" => fn governance_policy(ws);
    ALERT_RULES = "/api/v1/workspaces/{ws}/alert-rules" => fn alert_rules(ws);
    ALERT_RULE = "/api/v1/workspaces/{ws}/alert-rules/{rule}" => fn alert_rule(ws, rule);
    ALERT_RULE_SNOOZE = "/api/v1/workspaces/{ws}/alert-rules/{rule}/snooze" => fn alert_rule_snooze(ws, rule);
    ALERT_DESTINATIONS = "/api/v1/workspaces/{ws}/alert-destinations" => fn alert_destinations(ws);
    ALERT_DESTINATION = "/api/v1/workspaces/{ws}/alert-destinations/{destination}"
        => fn alert_destination(ws, destination);
    ALERT_DESTINATION_ROTATE = "/api/v1/workspaces/{ws}/alert-destinations/{destination}/rotate-secret"
        => fn alert_destination_rotate(ws, destination);
    ALERT_DESTINATION_TEST = "/api/v1/workspaces/{ws}/alert-destinations/{destination}/test"
        => fn alert_destination_test(ws, destination);
    ALERT_DELIVERIES = "/api/v1/workspaces/{ws}/alert-deliveries" => fn alert_deliveries(ws);
    ALERT_DELIVERY = "/api/v1/workspaces/{ws}/alert-deliveries/{delivery}" => fn alert_delivery(ws, delivery);
    ALERT_DELIVERY_REDELIVER = "/api/v1/workspaces/{ws}/alert-deliveries/{delivery}/redeliver"
        => fn alert_delivery_redeliver(ws, delivery);
    ALERT_OUTBOX = "/api/v1/workspaces/{ws}/alerts/outbox" => fn alert_outbox(ws);
}

/// Percent-encodes a path segment or query value as JavaScript's `encodeURIComponent` does.
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The template with each `{param}` replaced, in order, by an encoded argument.
fn fill(template: &str, args: &[&str]) -> String {
    let mut out = String::with_capacity(template.len() + 16 * args.len());
    let mut args = args.iter();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').map_or(rest.len(), |c| open + c + 1);
        // The macro gives each builder exactly one argument per placeholder.
        out.push_str(&encode(args.next().expect("one argument per placeholder")));
        rest = &rest[close..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders_fill_their_templates_with_encoded_segments() {
        assert_eq!(
            environment("ws-demo", "env-contoso"),
            "/api/v1/workspaces/ws-demo/environments/env-contoso"
        );
        assert_eq!(
            backup_item("w", "e", "s 1", "deviceConfigurations", "a/b?c#d"),
            "/api/v1/workspaces/w/environments/e/backups/s%201/items/deviceConfigurations/a%2Fb%3Fc%23d"
        );
        assert_eq!(operations_export("w"), "/api/v1/workspaces/w/operations/export.csv");
        assert_eq!(me(), template::ME);
    }

    #[test]
    fn encoding_matches_encode_uri_component() {
        assert_eq!(encode("AZaz09-_.!~*'()"), "AZaz09-_.!~*'()");
        assert_eq!(encode("a b/c&d=é"), "a%20b%2Fc%26d%3D%C3%A9");
    }

    #[test]
    fn templates_are_unique() {
        let mut all = template::ALL.to_vec();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), template::ALL.len());
    }
}
