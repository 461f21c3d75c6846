//! The dashboard's aggregates (spec 020), kept on write in the workspace's partition:
//! `DASH#N#<env>` (an environment's counters now), `DASH#N#<env>#A` (its baseline alignment per
//! family, apart from the counters since ADR 0052: every finding and run end rewrites the
//! counters, billed at their whole size) and `DASH#D#<epoch day>#<env>` (the net changes and
//! counts of one UTC day). Day items sort before the counters, so one range query
//! from a day reads the period's days and every counter.

use std::collections::BTreeMap;

use atlas_domain::findings::{FindingSource, Severity};
use atlas_domain::{EnvironmentId, OperationType, RunOutcome, WorkspaceId};
use atlas_store::{Item, Key, Query, SkCond, TxItem, Update};
use serde_json::Value;

use super::drift::FindingRecord;
use super::keys::ws_pk;

const DAYS: &str = "DASH#D#";
const NOW: &str = "DASH#N#";
pub const DAY_MS: i64 = 86_400_000;
/// Marks a counter item whose values were counted from the findings (not only changed since).
pub const BASE: &str = "base";

pub fn day_of(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS)
}

pub fn counter_key(ws: &WorkspaceId, env: &EnvironmentId) -> Key {
    Key::new(ws_pk(ws), format!("{NOW}{env}"))
}

/// The environment's baseline alignment per family (ADR 0052); counters written before hold it
/// themselves.
pub fn align_key(ws: &WorkspaceId, env: &EnvironmentId) -> Key {
    Key::new(ws_pk(ws), format!("{NOW}{env}{ALIGN_ITEM}"))
}

/// The suffix of an alignment item's sort key.
const ALIGN_ITEM: &str = "#A";

pub fn day_key(ws: &WorkspaceId, env: &EnvironmentId, day: i64) -> Key {
    Key::new(ws_pk(ws), format!("{DAYS}{day:06}#{env}"))
}

/// Every day item from `from_day` on and every counter of the workspace.
pub fn since(ws: &WorkspaceId, from_day: i64) -> Query {
    Query::partition(ws_pk(ws)).sk(SkCond::Between(format!("{DAYS}{from_day:06}"), format!("{NOW}~")))
}

/// What an item of [`since`] is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    Now(EnvironmentId),
    /// The environment's alignment item.
    Align(EnvironmentId),
    Day(i64, EnvironmentId),
}

pub fn slot(item: &Item) -> Option<Slot> {
    let sk = item.get("SK")?.as_str()?;
    if let Some(env) = sk.strip_prefix(NOW) {
        if let Some(env) = env.strip_suffix(ALIGN_ITEM) {
            return EnvironmentId::parse(env).ok().map(Slot::Align);
        }
        return EnvironmentId::parse(env).ok().map(Slot::Now);
    }
    let (day, env) = sk.strip_prefix(DAYS)?.split_once('#')?;
    Some(Slot::Day(day.parse().ok()?, EnvironmentId::parse(env).ok()?))
}

/// A counter's or a day's number (0 when absent).
pub fn number(item: &Item, attr: &str) -> i64 {
    item.get(attr).and_then(Value::as_i64).unwrap_or(0)
}

pub fn text<'a>(item: &'a Item, attr: &str) -> Option<&'a str> {
    item.get(attr).and_then(Value::as_str)
}

pub fn open_attr(s: Severity) -> String {
    format!("open_{s}")
}

pub fn overdue_attr(s: Severity) -> String {
    format!("overdue_{s}")
}

pub const DRIFT_OPEN: &str = "drift_open";
pub const DRIFT_NEW: &str = "drift_new";
pub const SLA_BREACHES: &str = "sla_breaches";

/// What one finding adds to its environment's counters: open by severity, overdue (open with an
/// SLA step taken), open drift.
pub fn contribution(f: &FindingRecord) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    if f.status.is_open() {
        out.insert(open_attr(f.severity), 1);
        if f.sla_step >= 1 {
            out.insert(overdue_attr(f.severity), 1);
        }
        if f.source == FindingSource::Drift {
            out.insert(DRIFT_OPEN.to_owned(), 1);
        }
    }
    out
}

/// The counter and day updates for one finding written as `after` over `before` (none: new),
/// on the day `now_ms`: nothing when its contribution does not change.
pub fn finding_changes(before: Option<&FindingRecord>, after: &FindingRecord, now_ms: i64) -> Vec<TxItem> {
    let mut delta = contribution(after);
    for (k, v) in before.map(contribution).unwrap_or_default() {
        *delta.entry(k).or_default() -= v;
    }
    delta.retain(|_, v| *v != 0);
    let mut day = delta.clone();
    let was_open = before.is_some_and(|b| b.status.is_open());
    if after.status.is_open() && !was_open && after.source == FindingSource::Drift {
        day.insert(DRIFT_NEW.to_owned(), 1);
    }
    if after.sla_step >= 1 && before.is_some_and(|b| b.sla_step == 0) {
        day.insert(SLA_BREACHES.to_owned(), 1);
    }
    let mut out = Vec::new();
    if !delta.is_empty() {
        out.push(adds(counter_key(&after.workspace_id, &after.environment_id), &delta));
    }
    if !day.is_empty() {
        let key = day_key(&after.workspace_id, &after.environment_id, day_of(now_ms));
        out.push(adds(key, &day));
    }
    out
}

fn adds(key: Key, by: &BTreeMap<String, i64>) -> TxItem {
    let mut update = Update::new().set_if_absent("entity", "dashboard");
    for (k, v) in by {
        update = update.add(k, *v);
    }
    TxItem::Update {
        key,
        update,
        cond: None,
    }
}

/// Adds `by` to `attr` of the environment's day item.
pub fn day_add(ws: &WorkspaceId, env: &EnvironmentId, now_ms: i64, by: &[(&str, i64)]) -> TxItem {
    let map = by.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect();
    adds(day_key(ws, env, day_of(now_ms)), &map)
}

pub const BACKUPS_SUCCEEDED: &str = "backups_succeeded";
pub const BACKUPS_PARTIAL: &str = "backups_partial";
pub const BACKUPS_FAILED: &str = "backups_failed";
pub const RUNS_FAILED: &str = "runs_failed";
pub const LAST_BACKUP_MS: &str = "last_backup_ms";
pub const LAST_BACKUP_OUTCOME: &str = "last_backup_outcome";
pub const LAST_BACKUP_RUN: &str = "last_backup_run";
/// The last backup that captured anything (succeeded or partial).
pub const LAST_GOOD_BACKUP_MS: &str = "last_good_backup_ms";

/// The counter attribute holding the outcome of the last run of `kind` (and `_run`, `_ms`).
pub fn last_run_attr(kind: OperationType) -> String {
    format!("last_{}", kind.as_str().replace('.', "_"))
}

/// The last run of `kind` as the counter item holds it: its outcome and run id.
pub fn last_run(item: &Item, kind: OperationType) -> Option<(&str, &str)> {
    let attr = last_run_attr(kind);
    let outcome = text(item, &attr)?;
    Some((outcome, text(item, &format!("{attr}_run")).unwrap_or_default()))
}

/// What a run's end adds: the day's backup outcome or failure counts, and the counter's last
/// run of its kind (and last backup).
pub fn run_ended(
    ws: &WorkspaceId,
    env: &EnvironmentId,
    run_id: &str,
    kind: OperationType,
    outcome: RunOutcome,
    now_ms: i64,
) -> Vec<TxItem> {
    let mut day: Vec<(&str, i64)> = Vec::new();
    let last = last_run_attr(kind);
    let mut set: Vec<(String, Value)> = vec![
        (last.clone(), outcome.as_str().into()),
        (format!("{last}_run"), run_id.into()),
        (format!("{last}_ms"), now_ms.into()),
    ];
    if kind == OperationType::BackupCapture {
        day.push(match outcome {
            RunOutcome::Succeeded => (BACKUPS_SUCCEEDED, 1),
            RunOutcome::PartiallySucceeded => (BACKUPS_PARTIAL, 1),
            RunOutcome::Cancelled => (BACKUPS_FAILED, 0),
            RunOutcome::Failed | RunOutcome::Blocked => (BACKUPS_FAILED, 1),
        });
        set.push((LAST_BACKUP_MS.into(), now_ms.into()));
        set.push((LAST_BACKUP_OUTCOME.into(), outcome.as_str().into()));
        set.push((LAST_BACKUP_RUN.into(), run_id.into()));
        if matches!(outcome, RunOutcome::Succeeded | RunOutcome::PartiallySucceeded) {
            set.push((LAST_GOOD_BACKUP_MS.into(), now_ms.into()));
        }
    }
    if matches!(outcome, RunOutcome::Failed | RunOutcome::Blocked) {
        day.push((RUNS_FAILED, 1));
    }
    day.retain(|(_, v)| *v != 0);
    let mut out = vec![counter_set(ws, env, set)];
    if !day.is_empty() {
        out.push(day_add(ws, env, now_ms, &day));
    }
    out
}

pub const PERMISSIONS_MISSING: &str = "permissions_missing";
pub const POSTURE_MS: &str = "posture_ms";
pub const POSTURE_SIGNED_IN: &str = "posture_signed_in";

/// What a verification sets: how many required permissions are missing, and when.
pub fn posture(ws: &WorkspaceId, env: &EnvironmentId, missing: usize, signed_in: bool, at_ms: i64) -> TxItem {
    counter_set(
        ws,
        env,
        vec![
            (PERMISSIONS_MISSING.into(), (missing as i64).into()),
            (POSTURE_MS.into(), at_ms.into()),
            (POSTURE_SIGNED_IN.into(), signed_in.into()),
        ],
    )
}

/// The prefix of a family's alignment attributes (`…total`, `…aligned`, `…ms`).
pub const ALIGN: &str = "align#";

/// What a drift pass over one family sets: baseline objects compared, and how many match.
pub fn alignment(
    ws: &WorkspaceId,
    env: &EnvironmentId,
    family: &str,
    total: usize,
    aligned: usize,
    at_ms: i64,
) -> TxItem {
    let value = serde_json::json!({"total": total, "aligned": aligned, "at_ms": at_ms});
    TxItem::Update {
        key: align_key(ws, env),
        update: Update::new()
            .set_if_absent("entity", "dashboard_alignment")
            .set(&format!("{ALIGN}{family}"), value),
        cond: None,
    }
}

/// A family's alignment as stored on the counter item: `(total, aligned)`.
pub fn alignment_of(counter: &Item, family: &str) -> Option<(usize, usize)> {
    let a = counter.get(&format!("{ALIGN}{family}"))?;
    let n = |k: &str| a.get(k).and_then(Value::as_u64).map(|v| v as usize);
    Some((n("total")?, n("aligned")?))
}

/// Sets attributes of the environment's counter item.
pub fn counter_set(ws: &WorkspaceId, env: &EnvironmentId, values: Vec<(String, Value)>) -> TxItem {
    let mut update = Update::new().set_if_absent("entity", "dashboard");
    for (k, v) in values {
        update = update.set(&k, v);
    }
    TxItem::Update {
        key: counter_key(ws, env),
        update,
        cond: None,
    }
}

/// The counters of an environment counted from its findings, replacing what the item held for
/// them (the start-up recount of data written before the dashboard existed).
pub fn recount(ws: &WorkspaceId, env: &EnvironmentId, findings: &[FindingRecord]) -> TxItem {
    let mut totals: BTreeMap<String, i64> = BTreeMap::new();
    for f in findings.iter().filter(|f| f.environment_id == *env) {
        for (k, v) in contribution(f) {
            *totals.entry(k).or_default() += v;
        }
    }
    let mut values: Vec<(String, Value)> = Vec::new();
    for s in Severity::ALL {
        values.push((open_attr(*s), totals.get(&open_attr(*s)).copied().unwrap_or(0).into()));
        values.push((
            overdue_attr(*s),
            totals.get(&overdue_attr(*s)).copied().unwrap_or(0).into(),
        ));
    }
    values.push((DRIFT_OPEN.into(), totals.get(DRIFT_OPEN).copied().unwrap_or(0).into()));
    values.push((BASE.into(), 1.into()));
    counter_set(ws, env, values)
}

/// The item marking that the counters were counted from the findings once (spec 020).
pub fn recount_marker() -> Key {
    Key::new("SYSTEM", "DASHBOARD#RECOUNT#1")
}

pub fn recount_marker_item(at_ms: i64) -> Item {
    let key = recount_marker();
    let mut item = Item::new();
    item.insert("PK".into(), key.pk.into());
    item.insert("SK".into(), key.sk.into());
    item.insert("entity".into(), "dashboard_recount".into());
    item.insert("at_ms".into(), at_ms.into());
    item
}

/// Appends `more` to `tx`, merging an update of an item `tx` already updates (DynamoDB refuses a
/// transaction naming one item twice): additions to one attribute are summed, sets keep the last.
pub fn push_merged(tx: &mut Vec<TxItem>, more: Vec<TxItem>) {
    for item in more {
        let TxItem::Update {
            key,
            update,
            cond: None,
        } = item
        else {
            tx.push(item);
            continue;
        };
        let existing = tx.iter_mut().find_map(|t| match t {
            TxItem::Update {
                key: k,
                update: u,
                cond: None,
            } if *k == key => Some(u),
            _ => None,
        });
        match existing {
            Some(u) => merge(u, update),
            None => tx.push(TxItem::Update {
                key,
                update,
                cond: None,
            }),
        }
    }
}

fn merge(into: &mut Update, more: Update) {
    use atlas_store::UpdateOp;
    for op in more.ops {
        let attr = match &op {
            UpdateOp::Set(a, _) | UpdateOp::SetIfAbsent(a, _) | UpdateOp::Remove(a) | UpdateOp::Add(a, _) => a.clone(),
        };
        let same = into.ops.iter_mut().find(|o| match o {
            UpdateOp::Set(a, _) | UpdateOp::SetIfAbsent(a, _) | UpdateOp::Remove(a) | UpdateOp::Add(a, _) => *a == attr,
        });
        match (same, op) {
            (Some(UpdateOp::Add(_, by)), UpdateOp::Add(_, more)) => *by += more,
            (Some(UpdateOp::SetIfAbsent(..)), UpdateOp::SetIfAbsent(..)) => {}
            (Some(slot), op) => *slot = op,
            (None, op) => into.ops.push(op),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use atlas_domain::findings::FindingStatus;

    fn finding(status: FindingStatus, sev: Severity, sla_step: u8) -> FindingRecord {
        serde_json::from_value(serde_json::json!({
            "workspace_id": "ws-a", "environment_id": "env-a", "finding_id": "f1", "source": "drift",
            "status": status, "severity": sev, "title": "t", "first_seen_ms": 0, "last_seen_ms": 0,
            "opened_ms": 0, "count": 1, "sla_step": sla_step, "version": 1
        }))
        .unwrap()
    }

    fn adds_of(t: &TxItem) -> BTreeMap<String, i64> {
        let TxItem::Update { update, .. } = t else {
            panic!("not an update")
        };
        update
            .ops
            .iter()
            .filter_map(|o| match o {
                atlas_store::UpdateOp::Add(a, by) => Some((a.clone(), *by)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_new_open_finding_counts_once_and_closing_it_takes_it_back() {
        let f = finding(FindingStatus::New, Severity::High, 0);
        let made = finding_changes(None, &f, 5 * DAY_MS + 7);
        assert_eq!(made.len(), 2);
        assert_eq!(
            adds_of(&made[0]),
            BTreeMap::from([("drift_open".into(), 1), ("open_high".into(), 1)])
        );
        assert_eq!(made[1].key().unwrap().sk, "DASH#D#000005#env-a");
        assert_eq!(adds_of(&made[1]).get(DRIFT_NEW), Some(&1));
        let mut overdue = f.clone();
        overdue.sla_step = 1;
        let breach = finding_changes(Some(&f), &overdue, 6 * DAY_MS);
        assert_eq!(adds_of(&breach[0]), BTreeMap::from([("overdue_high".into(), 1)]));
        assert_eq!(adds_of(&breach[1]).get(SLA_BREACHES), Some(&1));
        let mut closed = overdue.clone();
        closed.status = FindingStatus::Resolved;
        let c = finding_changes(Some(&overdue), &closed, 6 * DAY_MS);
        assert_eq!(
            adds_of(&c[0]),
            BTreeMap::from([
                ("drift_open".into(), -1),
                ("open_high".into(), -1),
                ("overdue_high".into(), -1)
            ])
        );
        assert!(finding_changes(Some(&f), &f, 0).is_empty(), "no change, no write");
    }

    #[test]
    fn two_updates_of_one_item_merge_into_one() {
        let f = finding(FindingStatus::New, Severity::Low, 0);
        let mut g = f.clone();
        g.finding_id = "f2".into();
        let mut tx = finding_changes(None, &f, 0);
        push_merged(&mut tx, finding_changes(None, &g, 0));
        assert_eq!(tx.len(), 2, "{tx:?}");
        assert_eq!(adds_of(&tx[0]).get("open_low"), Some(&2));
        assert_eq!(adds_of(&tx[1]).get(DRIFT_NEW), Some(&2));
    }

    #[test]
    fn slots_parse_back() {
        let ws = WorkspaceId::parse("ws-a").unwrap();
        let env = EnvironmentId::parse("env-a").unwrap();
        let mut item = Item::new();
        item.insert("SK".into(), day_key(&ws, &env, 42).sk.into());
        assert_eq!(slot(&item), Some(Slot::Day(42, env.clone())));
        item.insert("SK".into(), align_key(&ws, &env).sk.into());
        assert_eq!(slot(&item), Some(Slot::Align(env.clone())));
        item.insert("SK".into(), counter_key(&ws, &env).sk.into());
        assert_eq!(slot(&item), Some(Slot::Now(env)));
    }
}
