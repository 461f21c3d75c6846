//! Alert rules (workspace-owned): which events alert, at what severity, for which environments,
//! to which destinations; snoozed with a reason for at most 30 days. Every change is audited.

use atlas_api_types as api;
use atlas_domain::alerts::AlertEventType;
use atlas_domain::{EnvironmentId, Severity};
use serde_json::json;

use crate::audit::NewEvent;
use crate::error::{Fields, ServiceError, ServiceResult};
use crate::records::alerts::{self as rec, AlertDestinationRecord, AlertRuleRecord, Snooze};
use crate::records::{self, Record};
use crate::scope::WorkspaceScope;
use crate::state::AppState;

const MAX_NAME: usize = 100;
const MAX_REASON: usize = 500;
/// The longest snooze: an alert silenced for longer is an alert nobody reads (CIPP's maintainers
/// refuse longer ones for the same reason).
pub const MAX_SNOOZE_MS: i64 = 30 * 86_400_000;

pub fn to_api(r: &AlertRuleRecord, reader: &WorkspaceScope) -> api::AlertRule {
    api::AlertRule {
        id: r.rule_id.clone(),
        name: r.name.clone(),
        event_types: r.event_types.iter().map(|t| t.as_str().to_owned()).collect(),
        min_severity: r.min_severity.map(|s| s.as_str().to_owned()),
        // Only the environments the reader may see are named.
        environments: r.environments.as_ref().map(|envs| {
            envs.iter()
                .filter(|e| reader.entitled_to(e))
                .map(|e| e.as_str().to_owned())
                .collect()
        }),
        destinations: r.destinations.clone(),
        enabled: r.enabled,
        snooze: r.snooze.as_ref().map(|s| api::AlertSnooze {
            until_ms: s.until_ms,
            reason: s.reason.clone(),
            by: s.by.clone(),
            at_ms: s.at_ms,
        }),
        created_ms: r.created_ms,
        created_by: r.created_by.clone(),
        updated_ms: r.updated_ms,
    }
}

fn check_name(f: &mut Fields, name: &str) {
    if name.trim().is_empty() || name.trim().chars().count() > MAX_NAME {
        f.push("name", format!("must be 1 to {MAX_NAME} characters"));
    }
}

fn event_types(f: &mut Fields, codes: &[String]) -> Vec<AlertEventType> {
    if codes.is_empty() {
        f.push("event_types", "name at least one event type");
    }
    let mut out = Vec::new();
    for (i, c) in codes.iter().enumerate() {
        match AlertEventType::parse(c) {
            Some(t) => out.push(t),
            None => {
                let all: Vec<&str> = AlertEventType::ALL.iter().map(|t| t.as_str()).collect();
                f.push(
                    &format!("event_types[{i}]"),
                    format!("must be one of {}", all.join(", ")),
                );
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

fn severity(f: &mut Fields, s: Option<&str>) -> Option<Severity> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Severity::parse(s).or_else(|| {
            f.push("min_severity", "must be critical, high, medium, low or info");
            None
        }),
    }
}

async fn environments(
    state: &AppState,
    scope: &WorkspaceScope,
    f: &mut Fields,
    ids: Option<&[String]>,
) -> ServiceResult<Option<Vec<EnvironmentId>>> {
    let Some(ids) = ids.filter(|l| !l.is_empty()) else {
        return Ok(None);
    };
    let known: Vec<EnvironmentId> = crate::tenancy::visible_environments(state, scope)
        .await?
        .into_iter()
        .map(|e| e.environment_id)
        .collect();
    let mut out = Vec::new();
    for (i, raw) in ids.iter().enumerate() {
        match EnvironmentId::parse(raw) {
            Ok(e) if known.contains(&e) => out.push(e),
            // Unknown and not entitled read the same.
            _ => f.push(
                &format!("environments[{i}]"),
                format!("{raw:?} is not an environment of this workspace"),
            ),
        }
    }
    out.sort();
    out.dedup();
    Ok(Some(out))
}

async fn destinations(
    state: &AppState,
    scope: &WorkspaceScope,
    f: &mut Fields,
    ids: &[String],
) -> ServiceResult<Vec<String>> {
    if ids.is_empty() {
        f.push("destinations", "name at least one destination");
    }
    let ws = scope.records(&state.table);
    let mut out = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let found: Option<AlertDestinationRecord> = if rec::is_id(id) {
            ws.get(rec::destination_sk(id)).await?
        } else {
            None
        };
        match found {
            Some(d) => out.push(d.destination_id),
            None => f.push(
                &format!("destinations[{i}]"),
                format!("{id:?} is not a destination of this workspace"),
            ),
        }
    }
    out.dedup();
    Ok(out)
}

pub async fn create(
    state: &AppState,
    scope: &WorkspaceScope,
    body: &api::AlertRuleCreate,
) -> ServiceResult<api::AlertRule> {
    let mut f = Fields::default();
    check_name(&mut f, &body.name);
    let types = event_types(&mut f, &body.event_types);
    let min = severity(&mut f, body.min_severity.as_deref());
    let envs = environments(state, scope, &mut f, body.environments.as_deref()).await?;
    let dests = destinations(state, scope, &mut f, &body.destinations).await?;
    f.checked()?;
    let now = state.clock.now_millis();
    let rule = AlertRuleRecord {
        workspace_id: scope.workspace_id().clone(),
        rule_id: state.ids.next_id(),
        name: body.name.trim().to_owned(),
        event_types: types,
        min_severity: min,
        environments: envs,
        destinations: dests,
        enabled: body.enabled,
        snooze: None,
        created_ms: now,
        created_by: scope.actor().email.clone(),
        updated_ms: now,
        version: 1,
    };
    let ev = NewEvent::success("alert_rule.create", format!("alert_rule/{}", rule.rule_id)).meta(summary(&rule));
    crate::audit::commit(state, scope, vec![rule.create()], ev).await?;
    Ok(to_api(&rule, scope))
}

/// What an audit event says about a rule (no secrets live on a rule).
fn summary(r: &AlertRuleRecord) -> serde_json::Value {
    json!({
        "name": r.name,
        "event_types": r.event_types,
        "min_severity": r.min_severity,
        "environments": r.environments,
        "destinations": r.destinations,
        "enabled": r.enabled,
    })
}

pub async fn list(state: &AppState, scope: &WorkspaceScope) -> ServiceResult<Vec<api::AlertRule>> {
    let ws = scope.records(&state.table);
    let rules: Vec<AlertRuleRecord> = records::query_all(&state.table, ws.query(rec::RULES)).await?;
    let mut out: Vec<api::AlertRule> = rules.iter().map(|r| to_api(r, scope)).collect();
    out.sort_by_key(|r| r.name.to_lowercase());
    Ok(out)
}

pub async fn rule(state: &AppState, scope: &WorkspaceScope, id: &str) -> ServiceResult<AlertRuleRecord> {
    if !rec::is_id(id) {
        return Err(ServiceError::NotFound);
    }
    scope
        .records(&state.table)
        .get(rec::rule_sk(id))
        .await?
        .ok_or(ServiceError::NotFound)
}

pub async fn get(state: &AppState, scope: &WorkspaceScope, id: &str) -> ServiceResult<api::AlertRule> {
    Ok(to_api(&rule(state, scope, id).await?, scope))
}

/// Writes `next` over `prior` (conditional on its version) with its audit event.
async fn replace(
    state: &AppState,
    scope: &WorkspaceScope,
    prior: &AlertRuleRecord,
    mut next: AlertRuleRecord,
    ev: NewEvent,
) -> ServiceResult<AlertRuleRecord> {
    next.version = prior.version + 1;
    next.updated_ms = state.clock.now_millis();
    let write = super::replace_at(next.to_item(), prior.version);
    super::commit_versioned(state, scope, write, ev, "rule").await?;
    Ok(next)
}

pub async fn patch(
    state: &AppState,
    scope: &WorkspaceScope,
    id: &str,
    body: &api::AlertRulePatch,
) -> ServiceResult<api::AlertRule> {
    let prior = rule(state, scope, id).await?;
    let mut next = prior.clone();
    let mut f = Fields::default();
    if let Some(n) = &body.name {
        check_name(&mut f, n);
        next.name = n.trim().to_owned();
    }
    if let Some(t) = &body.event_types {
        next.event_types = event_types(&mut f, t);
    }
    if let Some(s) = &body.min_severity {
        next.min_severity = severity(&mut f, Some(s));
    }
    if let Some(e) = &body.environments {
        next.environments = environments(state, scope, &mut f, Some(e)).await?;
    }
    if let Some(d) = &body.destinations {
        next.destinations = destinations(state, scope, &mut f, d).await?;
    }
    if let Some(e) = body.enabled {
        next.enabled = e;
    }
    f.checked()?;
    let ev = NewEvent::success("alert_rule.update", format!("alert_rule/{id}"))
        .meta(json!({"before": summary(&prior), "after": summary(&next)}));
    let next = replace(state, scope, &prior, next, ev).await?;
    Ok(to_api(&next, scope))
}

pub async fn delete(state: &AppState, scope: &WorkspaceScope, id: &str) -> ServiceResult<()> {
    let prior = rule(state, scope, id).await?;
    let ev = NewEvent::success("alert_rule.delete", format!("alert_rule/{id}")).meta(summary(&prior));
    let del = super::delete_at(prior.key(), prior.version);
    super::commit_versioned(state, scope, del, ev, "rule").await
}

pub async fn snooze(
    state: &AppState,
    scope: &WorkspaceScope,
    id: &str,
    body: &api::AlertRuleSnooze,
) -> ServiceResult<api::AlertRule> {
    let mut f = Fields::default();
    let reason = body.reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_REASON {
        f.push("reason", format!("say why, in 1 to {MAX_REASON} characters"));
    }
    let now = state.clock.now_millis();
    let (field, until) = match (body.until_ms, body.hours) {
        (Some(u), None) => ("until_ms", u),
        (None, Some(h)) => ("hours", now + i64::from(h) * 3_600_000),
        _ => {
            f.push("until_ms", "give either until_ms (epoch ms) or hours, not both");
            ("until_ms", now)
        }
    };
    if until <= now && f.0.is_empty() {
        f.push(field, "the snooze must end in the future");
    } else if until - now > MAX_SNOOZE_MS {
        f.push(
            field,
            "a rule can be snoozed for at most 30 days (720 hours); snooze again when it ends, or disable the rule",
        );
    }
    f.checked()?;
    let prior = rule(state, scope, id).await?;
    let mut next = prior.clone();
    next.snooze = Some(Snooze {
        until_ms: until,
        reason: reason.to_owned(),
        by: scope.actor().email.clone(),
        at_ms: now,
    });
    let ev = NewEvent::success("alert_rule.snooze", format!("alert_rule/{id}"))
        .meta(json!({"until_ms": until, "reason": reason}));
    let next = replace(state, scope, &prior, next, ev).await?;
    Ok(to_api(&next, scope))
}

pub async fn unsnooze(state: &AppState, scope: &WorkspaceScope, id: &str) -> ServiceResult<api::AlertRule> {
    let prior = rule(state, scope, id).await?;
    let mut next = prior.clone();
    next.snooze = None;
    let ev = NewEvent::success("alert_rule.unsnooze", format!("alert_rule/{id}"))
        .meta(json!({"was_until_ms": prior.snooze.as_ref().map(|s| s.until_ms)}));
    let next = replace(state, scope, &prior, next, ev).await?;
    Ok(to_api(&next, scope))
}
