//! The dashboard (spec 020): needs-attention, per-environment numbers and 30/90-day trends,
//! read from the aggregates kept on write (`records::dashboard`) — three small queries in
//! parallel, none proportional to the findings.

use std::collections::BTreeMap;

use atlas_api_types as api;
use atlas_domain::findings::ExceptionStatus;
use atlas_domain::findings::Severity;
use atlas_domain::{EnvironmentId, EnvironmentLifecycle, OperationType, Status};
use atlas_store::Item;

use crate::error::ServiceResult;
use crate::records::dashboard::{self as rec, Slot, number, text};
use crate::records::exceptions::ExceptionRecord;
use crate::records::tenancy::EnvironmentRecord;
use crate::records::{self, Record};
use crate::scope::WorkspaceScope;
use crate::state::AppState;

/// A backup older than this is stale.
pub const BACKUP_STALE_MS: i64 = 2 * rec::DAY_MS;
/// Exceptions ending within this are "expiring".
pub const EXPIRING_MS: i64 = 7 * rec::DAY_MS;
/// The periods the trends offer.
pub const PERIODS: [u32; 2] = [30, 90];

/// The runs whose last failure is news until a later run of the kind succeeds.
const WATCHED_RUNS: [OperationType; 5] = [
    OperationType::ProviderVerify,
    OperationType::InventorySync,
    OperationType::BackupCapture,
    OperationType::RestoreExecute,
    OperationType::DriftDetect,
];

fn severities(item: Option<&Item>, attr: fn(Severity) -> String) -> api::SeverityCounts {
    let n = |s| item.map_or(0, |i| number(i, &attr(s)));
    api::SeverityCounts {
        critical: n(Severity::Critical),
        high: n(Severity::High),
        medium: n(Severity::Medium),
        low: n(Severity::Low),
        info: n(Severity::Info),
    }
}

fn add(into: &mut api::SeverityCounts, more: &api::SeverityCounts, sign: i64) {
    into.critical += sign * more.critical;
    into.high += sign * more.high;
    into.medium += sign * more.medium;
    into.low += sign * more.low;
    into.info += sign * more.info;
}

fn opt_number(item: Option<&Item>, attr: &str) -> Option<i64> {
    item.and_then(|i| i.get(attr)).and_then(serde_json::Value::as_i64)
}

fn opt_text(item: Option<&Item>, attr: &str) -> Option<String> {
    item.and_then(|i| text(i, attr)).map(str::to_owned)
}

/// The day `YYYY-MM-DD` of an epoch day.
pub fn day_label(day: i64) -> String {
    chrono::DateTime::from_timestamp(day * 86_400, 0)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// The dashboard of the environments `scope` may see (or of `only`), trends over `days`.
pub async fn view(
    state: &AppState,
    scope: &WorkspaceScope,
    only: Option<&EnvironmentId>,
    days: u32,
) -> ServiceResult<api::Dashboard> {
    let now = state.clock.now_millis();
    let today = rec::day_of(now);
    let from = today - i64::from(days.max(1)) + 1;
    let ws = scope.workspace_id();
    let exceptions_q = atlas_store::Query::partition(scope.pk()).begins_with(crate::records::exceptions::EXCEPTIONS);
    let (items, envs, exceptions) = tokio::try_join!(
        async { Ok::<_, crate::error::ServiceError>(state.table.query_all(rec::since(ws, from)).await?) },
        crate::tenancy::visible_environments(state, scope),
        async { Ok(records::query_all::<ExceptionRecord>(&state.table, exceptions_q).await?) },
    )?;
    let envs: Vec<EnvironmentRecord> = envs
        .into_iter()
        .filter(|e| only.is_none_or(|o| *o == e.environment_id))
        .collect();
    let mut counters: BTreeMap<EnvironmentId, Item> = BTreeMap::new();
    let mut aligns: Vec<(EnvironmentId, Item)> = Vec::new();
    let mut day_items: BTreeMap<i64, Vec<(EnvironmentId, Item)>> = BTreeMap::new();
    for item in items {
        match rec::slot(&item) {
            Some(Slot::Now(env)) => {
                counters.insert(env, item);
            }
            Some(Slot::Align(env)) => aligns.push((env, item)),
            Some(Slot::Day(day, env)) if day >= from => day_items.entry(day).or_default().push((env, item)),
            _ => {}
        }
    }
    with_alignment(&mut counters, aligns);
    let shown = |env: &EnvironmentId| envs.iter().any(|e| e.environment_id == *env);
    let mut expiring: BTreeMap<EnvironmentId, u64> = BTreeMap::new();
    for e in &exceptions {
        if e.status == ExceptionStatus::Active && e.expires_ms - now <= EXPIRING_MS && shown(&e.environment_id) {
            *expiring.entry(e.environment_id.clone()).or_default() += 1;
        }
    }

    let mut attention = Vec::new();
    let mut environments = Vec::new();
    for env in &envs {
        let c = counters.get(&env.environment_id);
        let mut tile = tile(env, c);
        let asks = needs_attention(scope, env, c, &tile, expiring.get(&env.environment_id), now);
        // An active environment is as healthy as what it asks of its operators.
        if env.lifecycle == EnvironmentLifecycle::Active {
            tile.status = if !asks.is_empty() {
                Status::NeedsAttention
            } else if tile.last_good_backup_ms.is_some() && tile.posture_verified_ms.is_some() {
                Status::Ready
            } else {
                Status::Unknown
            };
        }
        attention.extend(asks);
        environments.push(tile);
    }
    attention.sort_by(|a, b| {
        (b.weight, b.count)
            .cmp(&(a.weight, a.count))
            .then_with(|| a.environment_name.cmp(&b.environment_name))
    });

    // Trends: the open counts now, walked back through each day's net change.
    let mut open = api::SeverityCounts::default();
    let mut drift_open = 0;
    for t in &environments {
        add(&mut open, &t.open, 1);
        drift_open += t.drift_open;
    }
    let mut trend = Vec::with_capacity(days as usize);
    for day in (from..=today).rev() {
        let mut p = api::TrendPoint {
            day: day_label(day),
            open: open.clone(),
            drift_open,
            ..api::TrendPoint::default()
        };
        for (env, item) in day_items.get(&day).map(Vec::as_slice).unwrap_or_default() {
            if !shown(env) {
                continue;
            }
            let net = severities(Some(item), rec::open_attr);
            add(&mut open, &net, -1);
            drift_open -= number(item, rec::DRIFT_OPEN);
            p.drift_new += number(item, rec::DRIFT_NEW);
            p.backups_succeeded += number(item, rec::BACKUPS_SUCCEEDED);
            p.backups_partial += number(item, rec::BACKUPS_PARTIAL);
            p.backups_failed += number(item, rec::BACKUPS_FAILED);
            p.sla_breaches += number(item, rec::SLA_BREACHES);
        }
        trend.push(p);
    }
    trend.reverse();
    Ok(api::Dashboard {
        workspace_id: ws.to_string(),
        environment_id: only.map(ToString::to_string),
        generated_ms: now,
        attention,
        environments,
        trend,
    })
}

/// Alignment lives on an item of its own (ADR 0052); a counter written before holds some too, and
/// the newer item's families win.
fn with_alignment(counters: &mut BTreeMap<EnvironmentId, Item>, aligns: Vec<(EnvironmentId, Item)>) {
    for (env, align) in aligns {
        let counter = counters.entry(env).or_default();
        counter.extend(align.into_iter().filter(|(k, _)| k.starts_with(rec::ALIGN)));
    }
}

fn tile(env: &EnvironmentRecord, c: Option<&Item>) -> api::EnvironmentDashboard {
    let (mut objects, mut aligned) = (0, 0);
    for (k, v) in c.into_iter().flatten() {
        if k.starts_with(rec::ALIGN) {
            objects += v.get("total").and_then(serde_json::Value::as_i64).unwrap_or(0);
            aligned += v.get("aligned").and_then(serde_json::Value::as_i64).unwrap_or(0);
        }
    }
    api::EnvironmentDashboard {
        environment_id: env.environment_id.to_string(),
        display_name: env.display_name.clone(),
        status: crate::tenancy::environment_status(env.lifecycle),
        open: severities(c, rec::open_attr),
        overdue: severities(c, rec::overdue_attr),
        drift_open: c.map_or(0, |c| number(c, rec::DRIFT_OPEN)),
        last_backup_ms: opt_number(c, rec::LAST_BACKUP_MS),
        last_backup_outcome: opt_text(c, rec::LAST_BACKUP_OUTCOME),
        last_backup_run: opt_text(c, rec::LAST_BACKUP_RUN),
        last_good_backup_ms: opt_number(c, rec::LAST_GOOD_BACKUP_MS),
        permissions_missing: opt_number(c, rec::PERMISSIONS_MISSING),
        posture_verified_ms: opt_number(c, rec::POSTURE_MS),
        baseline_objects: objects,
        baseline_aligned: aligned,
        alignment_percent: (objects > 0).then(|| (aligned as f64) * 100.0 / (objects as f64)),
    }
}

fn plural(n: i64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// What one environment asks of its operators, weighted (spec 020).
fn needs_attention(
    scope: &WorkspaceScope,
    env: &EnvironmentRecord,
    c: Option<&Item>,
    t: &api::EnvironmentDashboard,
    expiring: Option<&u64>,
    now: i64,
) -> Vec<api::AttentionItem> {
    let ws = scope.workspace_id();
    let e = &env.environment_id;
    let name = &env.display_name;
    let findings =
        |severity: &str| format!("/workspaces/{ws}/findings?environment_id={e}&status=open&overdue=true{severity}");
    let mut out = Vec::new();
    let mut push = |kind: &str, weight: u32, count: i64, title: String, link: String| {
        out.push(api::AttentionItem {
            kind: kind.into(),
            weight,
            environment_id: e.to_string(),
            environment_name: name.clone(),
            count: count.max(0) as u64,
            title,
            link,
        });
    };
    if t.overdue.critical > 0 {
        let title = format!(
            "{} past due in {name}",
            plural(t.overdue.critical, "critical finding", "critical findings")
        );
        push(
            "overdue_findings",
            100,
            t.overdue.critical,
            title,
            findings("&severity=critical"),
        );
    }
    for kind in WATCHED_RUNS {
        if let Some((o @ ("failed" | "blocked"), run)) = c.and_then(|c| rec::last_run(c, kind)) {
            let title = format!("The last \u{201c}{}\u{201d} run in {name} {o}", kind.label());
            push("failed_run", 90, 1, title, format!("/workspaces/{ws}/operations/{run}"));
        }
    }
    let active = env.lifecycle == EnvironmentLifecycle::Active;
    if let Some(missing) = t.permissions_missing.filter(|m| *m > 0 && active) {
        let title = format!("{} not granted in {name}", plural(missing, "permission", "permissions"));
        push(
            "missing_permissions",
            80,
            missing,
            title,
            format!("/workspaces/{ws}/posture"),
        );
    }
    if t.overdue.high > 0 {
        let title = format!(
            "{} past due in {name}",
            plural(t.overdue.high, "high finding", "high findings")
        );
        push(
            "overdue_findings",
            70,
            t.overdue.high,
            title,
            findings("&severity=high"),
        );
    }
    let backups = format!("/workspaces/{ws}/environments/{e}/backups");
    match t.last_good_backup_ms {
        None if active => push(
            "backup_missing",
            60,
            1,
            format!("{name} has never been backed up"),
            backups,
        ),
        Some(at) if active && now - at > BACKUP_STALE_MS => {
            let days = (now - at) / rec::DAY_MS;
            push(
                "backup_stale",
                60,
                1,
                format!("The last backup of {name} is {days} days old"),
                backups,
            )
        }
        _ => {}
    }
    if let Some(n) = expiring.copied().filter(|n| *n > 0) {
        let n = n as i64;
        let title = format!(
            "{} in {name} end within 7 days",
            plural(n, "risk acceptance", "risk acceptances")
        );
        push(
            "exception_expiring",
            50,
            n,
            title,
            format!("/workspaces/{ws}/exceptions"),
        );
    }
    let other = t.overdue.medium + t.overdue.low + t.overdue.info;
    if other > 0 {
        let title = format!(
            "{} past due in {name}",
            plural(other, "other finding", "other findings")
        );
        push("overdue_findings", 40, other, title, findings(""));
    }
    match t.posture_verified_ms {
        None if active => push(
            "posture_unverified",
            30,
            1,
            format!("{name}'s permissions were never verified"),
            format!("/workspaces/{ws}/posture"),
        ),
        Some(at) if active && now - at > crate::posture::STALE_AFTER_MS => {
            let title = format!(
                "{name}'s permissions were last verified {} days ago",
                (now - at) / rec::DAY_MS
            );
            push("posture_unverified", 30, 1, title, format!("/workspaces/{ws}/posture"))
        }
        _ => {}
    }
    out
}

/// Counts every environment's counters from its findings, once per data store (a marker item
/// records it): for data written before the dashboard kept them. Run by `atlas-local` at
/// start-up, before it serves, so nothing else writes meanwhile. Returns the environments counted
/// (none when the marker was there).
pub async fn recount_once(state: &AppState) -> ServiceResult<usize> {
    if state.table.get(&rec::recount_marker()).await?.is_some() {
        return Ok(0);
    }
    let mut envs: Vec<EnvironmentRecord> = Vec::new();
    let mut findings: Vec<crate::records::drift::FindingRecord> = Vec::new();
    for item in state.table.dump().await? {
        match item.get("entity").and_then(serde_json::Value::as_str) {
            Some("environment") => envs.push(EnvironmentRecord::from_item(item)?),
            Some("finding") => findings.push(crate::records::drift::FindingRecord::from_item(item)?),
            _ => {}
        }
    }
    for env in &envs {
        let of_ws: Vec<_> = findings
            .iter()
            .filter(|f| f.workspace_id == env.workspace_id)
            .cloned()
            .collect();
        let counted = rec::recount(&env.workspace_id, &env.environment_id, &of_ws);
        state.table.transact(vec![counted]).await?;
    }
    state
        .table
        .put(rec::recount_marker_item(state.clock.now_millis()), None)
        .await?;
    Ok(envs.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item(v: serde_json::Value) -> Item {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn alignment_items_join_their_counters_and_win_over_what_counters_held_before() {
        let (a, b) = (
            EnvironmentId::parse("env-a").unwrap(),
            EnvironmentId::parse("env-b").unwrap(),
        );
        let mut counters = BTreeMap::from([(
            a.clone(),
            item(
                json!({"open_high": 2, "align#fam1": {"total": 4, "aligned": 1}, "align#fam2": {"total": 3, "aligned": 3}}),
            ),
        )]);
        let aligns = vec![
            (
                a.clone(),
                item(
                    json!({"SK": "DASH#N#env-a#A", "entity": "dashboard_alignment", "align#fam1": {"total": 5, "aligned": 5}}),
                ),
            ),
            (b.clone(), item(json!({"align#fam1": {"total": 2, "aligned": 0}}))),
        ];
        with_alignment(&mut counters, aligns);
        let ca = &counters[&a];
        assert_eq!(
            ca["align#fam1"],
            json!({"total": 5, "aligned": 5}),
            "the item's family wins"
        );
        assert_eq!(
            ca["align#fam2"],
            json!({"total": 3, "aligned": 3}),
            "the counter's other families stay"
        );
        assert_eq!((ca["open_high"].clone(), ca.get("SK")), (json!(2), None));
        assert_eq!(counters[&b]["align#fam1"], json!({"total": 2, "aligned": 0}));
    }
}
