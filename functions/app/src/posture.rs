//! The permission posture report (issue 16, spec 019): every verification is kept as a dated
//! report of each required permission (granted or not, what it blocks); an environment's posture
//! is its latest report, never Ready when there is none or it is stale; a missing permission is a
//! finding (source `permission`) that the next verification granting it resolves.

use atlas_api_types as api;
use atlas_domain::findings::FindingSource;
use atlas_domain::{EnvironmentId, Severity, Status, WorkspaceId};
use atlas_store::TxItem;
use serde_json::json;

use crate::error::ServiceResult;
use crate::findings::{Coverage, Detection};
use crate::records::posture::{PostureReportRecord, reports_of};
use crate::records::tenancy::EnvironmentRecord;
use crate::records::{self, Record};
use crate::scope::{EnvScope, WorkspaceScope};
use crate::state::AppState;

/// A report older than this no longer says how the tenant is: Unknown, not Ready.
pub const STALE_AFTER_MS: i64 = 7 * 24 * 60 * 60 * 1000;

/// Reports kept in an environment's view.
const HISTORY: u32 = 20;

/// The report of a verification and the dashboard's posture counters, to write in the
/// transaction recording it.
pub fn report_items(state: &AppState, ws: &WorkspaceId, env: &EnvironmentId, v: &api::Verification) -> Vec<TxItem> {
    let missing = crate::provider::missing_permissions(&v.permissions).len();
    let report = PostureReportRecord {
        workspace_id: ws.clone(),
        environment_id: env.clone(),
        report_id: state.ids.next_id(),
        verification: v.clone(),
    };
    vec![
        report.create(),
        crate::records::dashboard::posture(ws, env, missing, v.token_ok, v.at_ms),
    ]
}

/// The findings a verification implies: one per permission not granted. A verification that
/// could not sign in says nothing about permissions: no pass at all then.
pub async fn observe(
    state: &AppState,
    ws: &WorkspaceId,
    env: &EnvironmentId,
    v: &api::Verification,
) -> ServiceResult<()> {
    if !v.token_ok {
        return Ok(());
    }
    let detections = v
        .permissions
        .iter()
        .filter(|p| !p.granted)
        .map(|p| Detection {
            environment_id: env.clone(),
            source: FindingSource::Permission,
            object_key: p.permission.clone(),
            property: "granted".into(),
            severity: Severity::High,
            title: format!(
                "Permission {} is not granted: {} cannot work",
                p.permission,
                p.blocks.join(", ")
            ),
            family: None,
            object_id: None,
            baseline_object_id: None,
            object_name: p.permission.clone(),
            kind: None,
            desired: Some(json!(true)),
            current: Some(json!(false)),
            matched_by: None,
            baseline_id: None,
            changed_by: None,
        })
        .collect();
    let coverage = Coverage {
        environment_id: env,
        source: FindingSource::Permission,
        family: None,
        baselines: None,
        objects: None,
    };
    crate::findings::observe(state, ws, detections, &coverage).await?;
    Ok(())
}

fn to_api(r: &PostureReportRecord) -> api::PostureReport {
    let v = &r.verification;
    api::PostureReport {
        id: r.report_id.clone(),
        environment_id: r.environment_id.to_string(),
        verified_ms: v.at_ms,
        token_ok: v.token_ok,
        error: v.error.clone(),
        permissions: v.permissions.clone(),
        failed_probes: v.probes.iter().filter(|p| !p.ok).cloned().collect(),
    }
}

/// The canonical status of a posture whose latest report is `latest`, at `now_ms`.
pub fn status(latest: Option<&api::PostureReport>, now_ms: i64) -> (Status, String) {
    let Some(r) = latest else {
        return (
            Status::Unknown,
            "Never verified: run a verification to see which permissions are granted.".into(),
        );
    };
    if !r.token_ok {
        let why = r.error.as_deref().unwrap_or("the sign-in was refused");
        return (
            Status::Blocked,
            format!("TenantAtlas could not sign in to the tenant: {why}."),
        );
    }
    let age_days = (now_ms - r.verified_ms) / (24 * 60 * 60 * 1000);
    if now_ms - r.verified_ms > STALE_AFTER_MS {
        return (
            Status::Unknown,
            format!("Last verified {age_days} days ago: verify again to know the tenant's permissions now."),
        );
    }
    let missing = crate::provider::missing_permissions(&r.permissions);
    if !missing.is_empty() {
        return (
            Status::NeedsAttention,
            format!(
                "{} of {} permissions are not granted: {}.",
                missing.len(),
                r.permissions.len(),
                missing.join(", ")
            ),
        );
    }
    if !r.failed_probes.is_empty() {
        let families: Vec<&str> = r.failed_probes.iter().map(|p| p.family.as_str()).collect();
        return (
            Status::NeedsAttention,
            format!(
                "Every permission is granted, but reading failed for: {}.",
                families.join(", ")
            ),
        );
    }
    (
        Status::Ready,
        "Every required permission is granted and every family could be read.".into(),
    )
}

async fn posture_of(
    state: &AppState,
    ws: &WorkspaceId,
    env: &EnvironmentRecord,
    history: u32,
) -> ServiceResult<api::EnvironmentPosture> {
    let q = reports_of(ws, &env.environment_id).backward().limit(history + 1);
    let mut reports: Vec<api::PostureReport> = records::query::<PostureReportRecord>(&state.table, &q)
        .await?
        .items
        .iter()
        .map(to_api)
        .collect();
    let latest = (!reports.is_empty()).then(|| reports.remove(0));
    let (status, status_reason) = status(latest.as_ref(), state.clock.now_millis());
    let missing = latest
        .iter()
        .flat_map(|r| {
            r.permissions
                .iter()
                .filter(|p| !p.granted)
                .map(|p| p.permission.clone())
        })
        .collect();
    Ok(api::EnvironmentPosture {
        environment_id: env.environment_id.to_string(),
        display_name: env.display_name.clone(),
        status,
        status_reason,
        missing,
        latest,
        history: if history == 0 { Vec::new() } else { reports },
    })
}

/// One environment's posture with its recent reports.
pub async fn environment(state: &AppState, scope: &EnvScope) -> ServiceResult<api::EnvironmentPosture> {
    let env = crate::tenancy::environment_record(state, scope).await?;
    posture_of(state, scope.workspace().workspace_id(), &env, HISTORY).await
}

/// Every environment the reader is entitled to, latest report only.
pub async fn workspace(state: &AppState, scope: &WorkspaceScope) -> ServiceResult<api::WorkspacePosture> {
    let mut items = Vec::new();
    for env in crate::tenancy::visible_environments(state, scope).await? {
        items.push(posture_of(state, scope.workspace_id(), &env, 0).await?);
    }
    Ok(api::WorkspacePosture { items })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(at_ms: i64, token_ok: bool, granted: bool) -> api::PostureReport {
        api::PostureReport {
            id: "r".into(),
            environment_id: "env-a".into(),
            verified_ms: at_ms,
            token_ok,
            error: None,
            permissions: vec![api::PermissionPosture {
                permission: "DeviceManagementApps.Read.All".into(),
                granted,
                blocks: vec!["Apps".into()],
            }],
            failed_probes: Vec::new(),
        }
    }

    #[test]
    fn unverified_stale_refused_and_missing_are_never_ready() {
        let now = 100 * 24 * 60 * 60 * 1000;
        assert_eq!(status(None, now).0, Status::Unknown);
        assert_eq!(status(Some(&report(now - 1000, true, true)), now).0, Status::Ready);
        let stale = status(Some(&report(now - STALE_AFTER_MS - 1, true, true)), now);
        assert_eq!(stale.0, Status::Unknown);
        assert!(stale.1.contains("7 days ago"), "{}", stale.1);
        assert_eq!(status(Some(&report(now, false, true)), now).0, Status::Blocked);
        let missing = status(Some(&report(now, true, false)), now);
        assert_eq!(missing.0, Status::NeedsAttention);
        assert!(missing.1.contains("DeviceManagementApps.Read.All"));
    }
}
