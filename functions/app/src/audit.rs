//! The audit log: append-only events of who did what, where, with what outcome. A state change
//! and its event are written in one transaction (see [`tx_items`]); denials are recorded alone.

use atlas_api_types::AuditEvent;
use atlas_domain::{EnvironmentId, WorkspaceId, redact};
use atlas_store::{Cond, Item, Key, TxItem, Update};
use serde_json::{Value, json};

use crate::error::ServiceResult;
use crate::identity::Actor;
use crate::records::audit::{self as audit_records, AUDIT_END, AUDIT_PREFIX, AuditEventRecord, audit_sk};
use crate::records::tenancy::workspace_key;
use crate::records::{self, Record};
use crate::scope::{Entitlement, WorkspaceScope};
use crate::state::AppState;

/// How an audited action ended: the domain's vocabulary.
pub use atlas_domain::EventOutcome as Outcome;

/// What a handler says about its action; who, where and when come from the scope and clock.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// A stable action code, e.g. `invitation.create`.
    pub action: String,
    /// What was acted on, e.g. `invitation/01j…`.
    pub target: String,
    pub environment_id: Option<EnvironmentId>,
    pub outcome: Outcome,
    pub reason: Option<String>,
    pub metadata: Value,
}

impl NewEvent {
    pub fn success(action: &str, target: impl Into<String>) -> Self {
        Self {
            action: action.to_owned(),
            target: target.into(),
            environment_id: None,
            outcome: Outcome::Success,
            reason: None,
            metadata: json!({}),
        }
    }
    pub fn env(mut self, env: &EnvironmentId) -> Self {
        self.environment_id = Some(env.clone());
        self
    }
    pub fn meta(mut self, metadata: Value) -> Self {
        self.metadata = metadata;
        self
    }
}

/// The event's record: who, where and when from the caller, what from `ev`; metadata redacted.
pub fn record(
    state: &AppState,
    ws: &WorkspaceId,
    actor: &Actor,
    request_id: Option<&str>,
    ev: NewEvent,
) -> AuditEventRecord {
    let id = state.ids.next_id();
    let mut metadata = ev.metadata;
    redact::redact(&mut metadata);
    AuditEventRecord::new(
        id,
        state.clock.now_millis(),
        ws.clone(),
        actor,
        ev.action,
        ev.target,
        ev.environment_id,
        ev.outcome,
        ev.reason,
        request_id.map(str::to_owned),
        metadata,
    )
}

pub fn item(state: &AppState, ws: &WorkspaceId, actor: &Actor, request_id: Option<&str>, ev: NewEvent) -> Item {
    record(state, ws, actor, request_id, ev).to_item()
}

/// Adds the event and the workspace's last-activity stamp to a transaction. When the change
/// already updates the workspace item (a transaction may touch an item once), the stamp joins it.
pub fn with_event(
    state: &AppState,
    ws: &WorkspaceId,
    actor: &Actor,
    request_id: Option<&str>,
    mut changes: Vec<TxItem>,
    ev: NewEvent,
) -> Vec<TxItem> {
    let now = state.clock.now_millis();
    let ws_key = workspace_key(ws);
    let mut stamped = false;
    for c in changes.iter_mut() {
        if let TxItem::Update { key, update, .. } = c
            && *key == ws_key
        {
            update
                .ops
                .push(atlas_store::UpdateOp::Set("last_activity_ms".into(), json!(now)));
            stamped = true;
        }
    }
    if !stamped {
        changes.push(TxItem::Update {
            key: ws_key,
            update: Update::new().set("last_activity_ms", now),
            cond: Some(Cond::Exists),
        });
    }
    changes.push(record(state, ws, actor, request_id, ev).create());
    changes
}

/// Writes `changes` and their audit event atomically; nothing is written if any condition fails.
pub async fn commit(
    state: &AppState,
    scope: &WorkspaceScope,
    changes: Vec<TxItem>,
    ev: NewEvent,
) -> Result<(), atlas_store::TableError> {
    let tx = with_event(
        state,
        scope.workspace_id(),
        scope.actor(),
        scope.request_id(),
        changes,
        ev,
    );
    transact(state, tx).await
}

/// How often an audited write is tried when only a chain head moved under it.
pub const CHAIN_ATTEMPTS: u32 = 16;
/// The `prev_hash` of a chain's first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The bytes an event's `hash` is the SHA-256 of: a JSON object, compact, keys sorted
/// (byte order, recursively, metadata included), of exactly these fields: `action`,
/// `actor_email`, `actor_id`, `at_ms`, `environment_id` (null when none), `id`, `metadata`,
/// `outcome`, `prev_hash`, `reason`, `request_id`, `seq`, `target`, `workspace_id`.
pub fn canonical(r: &AuditEventRecord) -> Vec<u8> {
    // serde_json's map is a BTreeMap here (no `preserve_order`): serialization sorts keys.
    let v = json!({
        "action": r.action,
        "actor_email": r.actor_email,
        "actor_id": r.actor_id,
        "at_ms": r.at_ms,
        "environment_id": r.environment_id.as_ref().map(|e| e.as_str()),
        "id": r.id,
        "metadata": sorted(&r.metadata),
        "outcome": r.outcome.as_str(),
        "prev_hash": r.prev_hash,
        "reason": r.reason,
        "request_id": r.request_id,
        "seq": r.seq,
        "target": r.target,
        "workspace_id": r.workspace_id.as_str(),
    });
    serde_json::to_vec(&v).expect("JSON values serialize")
}

/// `v` with every object's keys in byte order, whatever map the build uses.
fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Value::Object(keys.into_iter().map(|k| (k.clone(), sorted(&m[k]))).collect())
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
        v => v.clone(),
    }
}

/// The event's chain hash: lowercase hex SHA-256 of [`canonical`].
pub fn chain_hash(r: &AuditEventRecord) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(canonical(r)))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A workspace's chain head as stored on its workspace item (absent = 0, the genesis hash).
async fn read_head(state: &AppState, ws: &WorkspaceId) -> Result<Option<(u64, String)>, atlas_store::TableError> {
    let Some(item) = state.table.get(&workspace_key(ws)).await? else {
        return Ok(None);
    };
    let seq = item.get(audit_records::HEAD_SEQ).and_then(Value::as_u64).unwrap_or(0);
    let hash = item
        .get(audit_records::HEAD_HASH)
        .and_then(Value::as_str)
        .unwrap_or(GENESIS)
        .to_owned();
    Ok(Some((seq, hash)))
}

/// The head's condition: still at `seq` (absent when 0), on an existing workspace item.
fn head_cond(seq: u64) -> Cond {
    let at = if seq == 0 {
        Cond::AttrNotExists(audit_records::HEAD_SEQ.into())
    } else {
        Cond::eq(audit_records::HEAD_SEQ, seq)
    };
    Cond::And(vec![Cond::Exists, at])
}

/// Links the audit events in `tx` into their workspaces' chains, then writes it.
///
/// Every audit event `Put` in `tx` gets the next `seq`, the head's hash as `prev_hash`, and its
/// own `hash`; each workspace's head (`audit_seq`, `audit_head` on its workspace item) moves in
/// the same transaction, conditioned on being what was read. When only a head's condition failed
/// (another audited write got there first), the whole transaction is linked again and retried,
/// up to [`CHAIN_ATTEMPTS`] times with a jittered pause, then the write is refused as
/// `Throttled` (503). A failure of the caller's own conditions is returned unchanged, with the
/// caller's indices: head updates are merged into the caller's workspace item write or appended.
pub async fn transact(state: &AppState, tx: Vec<TxItem>) -> Result<(), atlas_store::TableError> {
    use atlas_store::TableError;
    // The workspaces whose chains this transaction extends, in order of first event.
    let mut chains: Vec<WorkspaceId> = Vec::new();
    for it in &tx {
        if let TxItem::Put { item, .. } = it
            && item.get("entity").and_then(Value::as_str) == Some(AuditEventRecord::ENTITY)
            && let Some(ws) = item.get("workspace_id").and_then(Value::as_str)
            && let Ok(ws) = WorkspaceId::parse(ws)
            && !chains.contains(&ws)
        {
            chains.push(ws);
        }
    }
    if chains.is_empty() {
        return state.table.transact(tx).await;
    }
    for attempt in 1..=CHAIN_ATTEMPTS {
        let mut heads = Vec::with_capacity(chains.len());
        for ws in &chains {
            heads.push(read_head(state, ws).await?);
        }
        let (linked, head_at) = link(&tx, &chains, &heads)?;
        match state.table.transact(linked).await {
            Ok(()) => return Ok(()),
            Err(TableError::TransactionCanceled { reasons }) => {
                let failed: Vec<usize> = reasons
                    .iter()
                    .enumerate()
                    .filter_map(|(i, r)| r.as_ref().map(|_| i))
                    .collect();
                let only_heads = !failed.is_empty() && failed.iter().all(|i| head_at.contains(i));
                let mut moved = false;
                if only_heads {
                    for (n, ws) in chains.iter().enumerate() {
                        if failed.contains(&head_at[n]) && read_head(state, ws).await? != heads[n] {
                            moved = true;
                        }
                    }
                }
                if !moved {
                    return Err(TableError::TransactionCanceled { reasons });
                }
                tracing::debug!(attempt, "an audit chain head moved; linking again");
                let jitter = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.subsec_nanos() as u64)
                    .unwrap_or(0)
                    % (2 + 3 * attempt as u64);
                tokio::time::sleep(std::time::Duration::from_millis(jitter)).await;
            }
            Err(e) => return Err(e),
        }
    }
    tracing::warn!("an audited write lost the chain head {CHAIN_ATTEMPTS} times; refused as busy");
    Err(TableError::Throttled)
}

/// `tx` with its events linked after `heads` and each head's update; also where each chain's
/// head write sits (by index into the result).
fn link(
    tx: &[TxItem],
    chains: &[WorkspaceId],
    heads: &[Option<(u64, String)>],
) -> Result<(Vec<TxItem>, Vec<usize>), atlas_store::TableError> {
    let mut out = tx.to_vec();
    let mut next: Vec<(u64, String)> = heads
        .iter()
        .map(|h| h.clone().unwrap_or_else(|| (0, GENESIS.to_owned())))
        .collect();
    let read: Vec<u64> = next.iter().map(|(s, _)| *s).collect();
    for it in out.iter_mut() {
        if let TxItem::Put { item, .. } = it
            && item.get("entity").and_then(Value::as_str) == Some(AuditEventRecord::ENTITY)
        {
            let Some(n) = item
                .get("workspace_id")
                .and_then(Value::as_str)
                .and_then(|w| chains.iter().position(|c| c.as_str() == w))
            else {
                continue;
            };
            let mut r = AuditEventRecord::from_item(item.clone())?;
            let (seq, prev) = &next[n];
            r.seq = Some(seq + 1);
            r.prev_hash = Some(prev.clone());
            let h = chain_hash(&r);
            r.hash = Some(h.clone());
            next[n] = (seq + 1, h);
            *item = r.to_item();
        }
    }
    let mut head_at = Vec::with_capacity(chains.len());
    for (n, ws) in chains.iter().enumerate() {
        let key = workspace_key(ws);
        let (seq, hash) = &next[n];
        let mut found = None;
        for (i, it) in out.iter_mut().enumerate() {
            match it {
                TxItem::Update { key: k, update, cond } if *k == key => {
                    update
                        .ops
                        .push(atlas_store::UpdateOp::Set(audit_records::HEAD_SEQ.into(), json!(seq)));
                    update
                        .ops
                        .push(atlas_store::UpdateOp::Set(audit_records::HEAD_HASH.into(), json!(hash)));
                    *cond = Some(match cond.take() {
                        Some(c) => Cond::And(vec![c, head_cond(read[n])]),
                        None => head_cond(read[n]),
                    });
                    found = Some(i);
                }
                // A workspace created with its first event: the head starts on the new item.
                TxItem::Put { item, .. } if Key::of(item).is_ok_and(|k| k == key) => {
                    item.insert(audit_records::HEAD_SEQ.into(), json!(seq));
                    item.insert(audit_records::HEAD_HASH.into(), json!(hash));
                    found = Some(i);
                }
                TxItem::Delete { key: k, .. } | TxItem::Check { key: k, .. } if *k == key => {
                    return Err(atlas_store::TableError::Validation(
                        "an audited transaction cannot delete or only check its workspace item".into(),
                    ));
                }
                _ => {}
            }
        }
        let at = match found {
            Some(i) => i,
            None => {
                out.push(TxItem::Update {
                    key,
                    update: Update::new()
                        .set(audit_records::HEAD_SEQ, *seq)
                        .set(audit_records::HEAD_HASH, hash.clone()),
                    cond: Some(head_cond(read[n])),
                });
                out.len() - 1
            }
        };
        head_at.push(at);
    }
    Ok((out, head_at))
}

/// Which of the caller's changes (by index) failed its condition, if the transaction was cancelled.
pub fn failed_at(e: &atlas_store::TableError) -> Option<usize> {
    match e {
        atlas_store::TableError::TransactionCanceled { reasons } => reasons.iter().position(Option::is_some),
        _ => None,
    }
}

/// A denial changes nothing, so its event is written alone.
pub async fn record_denial(
    state: &AppState,
    ws: &WorkspaceId,
    actor: &Actor,
    request_id: Option<&str>,
    ev: NewEvent,
) -> ServiceResult<()> {
    let put = TxItem::Put {
        item: item(state, ws, actor, request_id, ev),
        cond: Some(Cond::NotExists),
    };
    transact(state, vec![put]).await?;
    Ok(())
}

/// The event as `reader` may see it, or `None` when it concerns an environment the reader is not
/// entitled to: its own, or one its metadata names under an `…environment_id` key (a restore's
/// source). Environment lists in metadata (`environments` of a grant) keep only the visible ones,
/// as the member list does.
pub fn for_reader(reader: &WorkspaceScope, mut ev: AuditEvent) -> Option<AuditEvent> {
    let entitled = |raw: &str| EnvironmentId::parse(raw).is_ok_and(|e| reader.entitled_to(&e));
    if ev.environment_id.as_deref().is_some_and(|e| !entitled(e)) {
        return None;
    }
    if *reader.entitlement() == Entitlement::All {
        return Some(ev);
    }
    if names_unseen(&ev.metadata, &entitled) {
        return None;
    }
    keep_seen(&mut ev.metadata, &entitled);
    Some(ev)
}

fn names_env(key: &str) -> bool {
    key == "environment_id" || key.ends_with("_environment_id")
}

/// Whether `v` names, under an `…environment_id` key, an environment that is not `entitled`.
/// A value that is no environment id names none.
fn names_unseen(v: &Value, entitled: &dyn Fn(&str) -> bool) -> bool {
    match v {
        Value::Object(m) => m.iter().any(|(k, v)| match v.as_str() {
            Some(id) if names_env(k) => EnvironmentId::parse(id).is_ok() && !entitled(id),
            _ => names_unseen(v, entitled),
        }),
        Value::Array(a) => a.iter().any(|v| names_unseen(v, entitled)),
        _ => false,
    }
}

/// Drops the environments the reader is not `entitled` to from `environments` lists.
fn keep_seen(v: &mut Value, entitled: &dyn Fn(&str) -> bool) {
    match v {
        Value::Object(m) => {
            for (k, v) in m.iter_mut() {
                match v {
                    Value::Array(ids) if k == "environments" => ids.retain(|i| i.as_str().is_some_and(entitled)),
                    v => keep_seen(v, entitled),
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|v| keep_seen(v, entitled)),
        _ => {}
    }
}

/// Hub filters; the environment has been checked against the scope.
#[derive(Debug, Default, Clone)]
pub struct Filters {
    pub environment: Option<EnvironmentId>,
    pub actor: Option<String>,
    pub action: Option<String>,
    pub outcome: Option<Outcome>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
}

/// The smallest id sort key at or after `ms` (ids are ULIDs: time first).
fn bound(ms: i64, high: bool) -> String {
    let u = if high {
        ulid::Ulid::from_parts(ms.max(0) as u64, u128::MAX)
    } else {
        ulid::Ulid::from_parts(ms.max(0) as u64, 0)
    };
    audit_sk(&u.to_string().to_lowercase())
}

/// Newest first. Reads raw pages until `limit` events matched or a read budget is spent; the
/// cursor continues where reading stopped, so filtered pages may be short but never skip.
pub async fn list(
    state: &AppState,
    scope: &WorkspaceScope,
    f: &Filters,
    cursor: Option<String>,
    limit: usize,
) -> ServiceResult<(Vec<AuditEvent>, Option<String>)> {
    let lo = f
        .from_ms
        .map(|ms| bound(ms, false))
        .unwrap_or_else(|| AUDIT_PREFIX.into());
    let hi = f.to_ms.map(|ms| bound(ms, true)).unwrap_or_else(|| AUDIT_END.into());
    let mut q = audit_records::between(scope.workspace_id(), f.environment.as_ref(), lo, hi)
        .backward()
        .limit(100)
        .after(cursor);
    let mut out = Vec::new();
    let mut budget = 20; // pages of 100
    loop {
        let page = records::query::<AuditEventRecord>(&state.table, &q).await?;
        for r in page.items {
            let Some(ev) = for_reader(scope, r.into()) else {
                continue;
            };
            let matches = f
                .actor
                .as_ref()
                .is_none_or(|a| *a == ev.actor_id || *a == ev.actor_email)
                && f.action.as_ref().is_none_or(|a| *a == ev.action)
                && f.outcome.is_none_or(|o| o == ev.outcome);
            if matches {
                out.push(ev);
            }
        }
        budget -= 1;
        match page.next {
            Some(next) if out.len() < limit && budget > 0 => q.cursor = Some(next),
            next => {
                if out.len() > limit {
                    // Stop exactly after the last returned event so nothing is skipped.
                    out.truncate(limit);
                    let last = out.last().expect("non-empty");
                    let key = audit_records::cursor_key(scope.workspace_id(), f.environment.as_ref(), &last.id);
                    return Ok((out, Some(atlas_store::table::encode_cursor(&key))));
                }
                return Ok((out, next));
            }
        }
    }
}

/// Checks the workspace's chain from seq 1 to the head on its workspace item: each event's hash
/// recomputed, each `prev_hash` against the previous event's hash, no seq missing or repeated.
/// Reads every event of the workspace once (sorted by `seq` in memory).
pub async fn verify(state: &AppState, ws: &WorkspaceId) -> ServiceResult<atlas_api_types::AuditVerification> {
    let (head_seq, head_hash) = read_head(state, ws).await?.unwrap_or_else(|| (0, GENESIS.to_owned()));
    let mut chained: Vec<AuditEventRecord> = Vec::new();
    let mut unchained = 0u64;
    let mut q = audit_records::all_events(ws).limit(500);
    loop {
        let page = records::query::<AuditEventRecord>(&state.table, &q).await?;
        for r in page.items {
            if r.seq.is_some() {
                chained.push(r);
            } else {
                unchained += 1;
            }
        }
        match page.next {
            Some(n) => q.cursor = Some(n),
            None => break,
        }
    }
    chained.sort_by_key(|r| r.seq);
    let (verified, first_broken) = check_chain(&chained, head_seq, &head_hash);
    let chain_start_ms = chained.first().filter(|r| r.seq == Some(1)).map(|r| r.at_ms);
    let note = match chain_start_ms {
        Some(ms) if unchained > 0 => {
            format!(
                "chain starts at seq 1 at {}; {unchained} earlier events unchained",
                iso8601(ms)
            )
        }
        None if unchained > 0 => format!("no chained events yet; {unchained} earlier events unchained"),
        _ => String::new(),
    };
    Ok(atlas_api_types::AuditVerification {
        verified_events: verified,
        head_seq,
        head_hash,
        first_broken,
        unchained_events: unchained,
        chain_start_ms,
        note,
    })
}

/// The chain `events` (sorted by seq) against itself and the head: how many links hold before
/// the first that does not, and that one.
pub fn check_chain(
    events: &[AuditEventRecord],
    head_seq: u64,
    head_hash: &str,
) -> (u64, Option<atlas_api_types::AuditChainBreak>) {
    let brk = |seq: u64, id: Option<&str>, reason: &str| atlas_api_types::AuditChainBreak {
        seq,
        event_id: id.map(str::to_owned),
        reason: reason.to_owned(),
    };
    let mut prev = GENESIS.to_owned();
    let mut expected = 1u64;
    for r in events {
        let seq = r.seq.unwrap_or(0);
        if seq > expected {
            return (expected - 1, Some(brk(expected, Some(&r.id), "missing seq")));
        }
        if r.prev_hash.as_deref() != Some(prev.as_str()) {
            return (expected - 1, Some(brk(seq, Some(&r.id), "prev_hash mismatch")));
        }
        let stored = r.hash.clone().unwrap_or_default();
        if chain_hash(r) != stored {
            return (expected - 1, Some(brk(seq, Some(&r.id), "hash mismatch")));
        }
        prev = stored;
        expected += 1;
    }
    let last = expected - 1;
    if head_seq > last {
        return (last, Some(brk(last + 1, None, "missing seq")));
    }
    if head_seq == last && head_seq > 0 && head_hash != prev {
        let id = events.last().map(|r| r.id.as_str());
        return (last - 1, Some(brk(last, id, "hash mismatch")));
    }
    (last, None)
}

/// One CSV cell: quoted, with quotes doubled, and a leading `'` before anything a spreadsheet
/// would run as a formula (`=`, `+`, `-`, `@`, tab, carriage return).
pub fn csv_cell(v: &str) -> String {
    let guarded = if v.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{v}")
    } else {
        v.to_owned()
    };
    format!("\"{}\"", guarded.replace('"', "\"\""))
}

/// Unix milliseconds as ISO 8601 UTC with milliseconds (`2026-12-05T10:00:00.000Z`).
pub fn iso8601(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: u64, prev: &str) -> AuditEventRecord {
        let actor = Actor {
            user_id: "u-1".into(),
            email: "one@example.test".into(),
            name: "One".into(),
        };
        let mut r = AuditEventRecord::new(
            format!("01jx{seq}"),
            5,
            WorkspaceId::parse("ws-a").unwrap(),
            &actor,
            "member.remove".into(),
            "member/u-2".into(),
            None,
            Outcome::Success,
            None,
            Some("req-1".into()),
            json!({"z": 1, "a": {"y": [2, {"c": true, "b": null}], "x": "s"}}),
        );
        r.seq = Some(seq);
        r.prev_hash = Some(prev.to_owned());
        r.hash = Some(chain_hash(&r));
        r
    }

    #[test]
    fn the_canonical_form_is_sorted_compact_json_of_the_documented_fields() {
        let r = event(1, GENESIS);
        let want = format!(
            "{{\"action\":\"member.remove\",\"actor_email\":\"one@example.test\",\"actor_id\":\"u-1\",\"at_ms\":5,\
             \"environment_id\":null,\"id\":\"01jx1\",\"metadata\":{{\"a\":{{\"x\":\"s\",\"y\":[2,{{\"b\":null,\"c\":true}}]}},\"z\":1}},\
             \"outcome\":\"success\",\"prev_hash\":\"{GENESIS}\",\"reason\":null,\"request_id\":\"req-1\",\"seq\":1,\
             \"target\":\"member/u-2\",\"workspace_id\":\"ws-a\"}}"
        );
        assert_eq!(String::from_utf8(canonical(&r)).unwrap(), want);
        use sha2::Digest;
        assert_eq!(
            r.hash.as_deref(),
            Some(hex(&sha2::Sha256::digest(want.as_bytes())).as_str())
        );
    }

    #[test]
    fn the_first_broken_link_is_named() {
        let a = event(1, GENESIS);
        let b = event(2, a.hash.as_deref().unwrap());
        let c = event(3, b.hash.as_deref().unwrap());
        let head = c.hash.clone().unwrap();
        let chain = vec![a.clone(), b.clone(), c.clone()];
        assert_eq!(check_chain(&chain, 3, &head), (3, None));

        let mut edited = chain.clone();
        edited[1].metadata = json!({"z": 2});
        let (n, brk) = check_chain(&edited, 3, &head);
        let brk = brk.unwrap();
        assert_eq!((n, brk.seq, brk.reason.as_str()), (1, 2, "hash mismatch"));

        let gap = vec![a.clone(), c.clone()];
        let brk = check_chain(&gap, 3, &head).1.unwrap();
        assert_eq!(
            (brk.seq, brk.event_id.as_deref(), brk.reason.as_str()),
            (2, Some("01jx3"), "missing seq")
        );

        let mut rechained = chain.clone();
        rechained[1].prev_hash = Some(GENESIS.into());
        rechained[1].hash = Some(chain_hash(&rechained[1]));
        let brk = check_chain(&rechained, 3, &head).1.unwrap();
        assert_eq!((brk.seq, brk.reason.as_str()), (2, "prev_hash mismatch"));

        let brk = check_chain(&chain[..2], 3, &head).1.unwrap();
        assert_eq!((brk.seq, brk.event_id, brk.reason.as_str()), (3, None, "missing seq"));
    }
}
