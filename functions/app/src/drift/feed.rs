//! The change feed (spec 015, "Change feed"): every few minutes per environment with a baseline,
//! read the tenant's Intune audit log since the cursor, refetch only the objects it names, update
//! the inventory with them, re-evaluate their drift (the changed objects alone when that is
//! the same as re-evaluating their families, ADR 0042) and record each change with who made it.
//! The nightly `drift.detect` run stays the safety net for what the log does not say.
//!
//! - The scheduler tick claims the poll slot (one conditional write for every environment: two
//!   ticks send one slot's polls once) and sends the due environments' polls in batches of
//!   [`POLL_BATCH`]; one invocation works a batch, several environments side by side (ADR 0041).
//! - A poll that finds nothing writes nothing (the cursor stays; "last polled" is refreshed at
//!   most every [`QUIET_WRITE_MS`]).
//! - Events appear in the log minutes after the change: the read overlaps the cursor by
//!   [`OVERLAP_MS`], and an event already recorded (`DRIFTCHANGE#<id>`) is not worked again.
//! - A change is recorded only after its object was refetched and its family evaluated, so a crash
//!   in between works it again at the next poll. An object whose read failed holds the cursor
//!   before its event; a log read that fails advances nothing.
//! - The poll runs with the authority of the member who assigned the first baseline, re-checked
//!   at every poll: without `baseline.manage` on the environment, nothing is read.

use std::collections::{BTreeMap, BTreeSet};

use atlas_domain::{Capability, EnvironmentId, EnvironmentLifecycle, WorkspaceId};
use atlas_graph::AuditEvent;
use atlas_graph::families::Family;
use atlas_store::{OutMessage, TableError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{ServiceError, ServiceResult};
use crate::identity::Actor;
use crate::records::drift::{self as rec, DriftChangeRecord, DriftWatch};
use crate::records::inventory::{self as irec, InventoryItem};
use crate::records::{self, Record};
use crate::scope::{EnvScope, Proof, WorkspaceScope};
use crate::state::AppState;

/// The queue of change-feed polls (one message per environment and due time).
pub const POLL_QUEUE: &str = "drift-poll";
/// How far before the cursor each read starts: the log shows events minutes after the change.
pub const OVERLAP_MS: i64 = 10 * 60 * 1000;
/// Most changes listed by the change view.
const LIST_LIMIT: usize = 200;
/// Environments per poll message (one invocation): a quiet poll is a few reads and one Graph
/// call, so one invocation works many, [`POLL_PARALLEL`] at a time.
pub const POLL_BATCH: usize = 25;
/// Environments of one batch polled side by side.
const POLL_PARALLEL: usize = 8;
/// Most worked events a watch remembers to skip in the overlap.
const SEEN_MAX: usize = 100;
/// How stale "last polled" may get while polls find nothing (a quiet poll writes nothing else).
/// Three hours: the record proves the feed runs, and each refresh is a write with its index entry
/// for every environment (the fleet bench, docs/cost.md run 15); the summary says how stale it may be.
pub const QUIET_WRITE_MS: i64 = 3 * 60 * 60 * 1000;

/// One poll of one environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollMessage {
    pub workspace_id: WorkspaceId,
    pub environment_id: EnvironmentId,
    /// The watch as the tick read it from the index, so the poll does not read it again: as
    /// fresh as the eventually consistent read it replaces (ADR 0054). Absent when it is large,
    /// and in messages sent before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watch: Option<DriftWatch>,
}

/// Most bytes of a watch carried in a poll message: 25 of them stay well inside one 64 KB SQS
/// request, and a watch remembering many events is read by its poll instead.
const CARRY_MAX: usize = 2_048;

impl PollMessage {
    pub fn new(workspace_id: WorkspaceId, environment_id: EnvironmentId) -> Self {
        Self {
            workspace_id,
            environment_id,
            watch: None,
        }
    }

    /// The poll of `w`'s environment, carrying `w` when it is small.
    fn carrying(w: DriftWatch) -> Self {
        let small = serde_json::to_vec(&w).is_ok_and(|b| b.len() <= CARRY_MAX);
        Self {
            workspace_id: w.workspace_id.clone(),
            environment_id: w.environment_id.clone(),
            watch: small.then_some(w),
        }
    }
}

/// One message of the poll queue: the environments one invocation polls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollBatch {
    pub polls: Vec<PollMessage>,
}

impl PollBatch {
    /// A batch, or a single poll as sent before batches.
    pub fn parse(body: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str::<Self>(body)
            .or_else(|_| serde_json::from_str::<PollMessage>(body).map(|p| Self { polls: vec![p] }))
    }
}

/// Claims the current poll slot and sends the polls of every watch due in it, in batches.
/// Returns how many environments' polls were sent; 0 when another tick already sent this slot.
/// A send that fails after the claim skips the slot: the next one reads from the same cursors.
pub async fn send_due(state: &AppState) -> ServiceResult<usize> {
    let now = state.clock.now_millis();
    let every = i64::try_from(state.drift_poll_seconds).unwrap_or(300).max(1) * 1000;
    let (claim, cond) = rec::claim_slot(now - now.rem_euclid(every));
    match state.table.update(&rec::feed_slot_key(), &claim, Some(cond)).await {
        Ok(_) => {}
        Err(TableError::ConditionFailed) => return Ok(0),
        Err(e) => return Err(e.into()),
    }
    let watches: Vec<DriftWatch> = records::query_all(&state.table, rec::watches()).await?;
    // `next_due_ms` is the first poll after the assignment; from then on every slot polls.
    let due: Vec<PollMessage> = watches
        .into_iter()
        .filter(|w| w.next_due_ms <= now)
        .map(PollMessage::carrying)
        .collect();
    let mut messages = Vec::new();
    for polls in due.chunks(POLL_BATCH) {
        let body = serde_json::to_string(&PollBatch { polls: polls.to_vec() })
            .map_err(|e| ServiceError::Permanent(e.to_string()))?;
        messages.push(OutMessage::new(body));
    }
    let queue = state.queues.get(POLL_QUEUE)?;
    for ten in messages.chunks(10) {
        queue.send_batch(ten.to_vec()).await?;
    }
    Ok(due.len())
}

/// Polls every environment of a batch, several at a time. One that fails is logged and left to
/// the next slot (its cursor did not move past anything unworked); the batch is not retried, so
/// one failing environment never re-polls the others.
pub async fn poll_batch(state: &AppState, batch: &PollBatch) -> Vec<(PollMessage, ServiceResult<Polled>)> {
    use futures_util::StreamExt;
    let members = Members::default();
    let members = &members;
    futures_util::stream::iter(batch.polls.iter().cloned())
        .map(|m| async move {
            let res = poll_with(state, &m, members).await;
            (m, res)
        })
        .buffer_unordered(POLL_PARALLEL)
        .collect()
        .await
}

/// What one poll did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Polled {
    /// Events read (the overlap included).
    pub events: usize,
    /// Events new to this poll and about a covered family.
    pub changes: usize,
    /// Objects read from Graph.
    pub refetched: usize,
    /// Objects Graph answered 404 for: ghosts now.
    pub gone: usize,
    /// Families re-evaluated.
    pub families: Vec<String>,
    /// Of those, the families re-evaluated from their changed objects alone (ADR 0042).
    pub by_object: Vec<String>,
    pub opened: usize,
    pub resolved: usize,
    /// Why nothing was read, when nothing was.
    pub skipped: Option<String>,
}

fn skipped(why: &str) -> Polled {
    Polled {
        skipped: Some(why.into()),
        ..Polled::default()
    }
}

/// The memberships one batch's polls re-check, each read once when the batch runs: a batch's
/// watches were mostly assigned by the same member, and reading them once per environment was a
/// quarter of the change feed's reads (ADR 0041 amendment). The re-check stays at execution.
#[derive(Default)]
pub struct Members(tokio::sync::Mutex<BTreeMap<(WorkspaceId, String), Option<crate::tenancy::Membership>>>);

impl Members {
    async fn of(
        &self,
        state: &AppState,
        ws: &WorkspaceId,
        user_id: &str,
    ) -> ServiceResult<Option<crate::tenancy::Membership>> {
        // Held across the read, so polls running side by side wait for one read.
        let mut known = self.0.lock().await;
        let key = (ws.clone(), user_id.to_owned());
        if let Some(m) = known.get(&key) {
            return Ok(m.clone());
        }
        let m = crate::tenancy::membership_at_execution(state, ws, user_id).await?;
        known.insert(key, m.clone());
        Ok(m)
    }
}

/// The authority the poll runs with, re-checked now.
async fn authority(state: &AppState, w: &DriftWatch, members: &Members) -> ServiceResult<Option<EnvScope>> {
    let Some(m) = members.of(state, &w.workspace_id, &w.user_id).await? else {
        return Ok(None);
    };
    if !m.role.can(Capability::BaselineManage) || !m.entitlement.allows(&w.environment_id) {
        return Ok(None);
    }
    let actor = Actor {
        user_id: w.user_id.clone(),
        email: w.user_email.clone(),
        name: String::new(),
    };
    let ws = WorkspaceScope::new(
        actor,
        w.workspace_id.clone(),
        m.role,
        m.entitlement,
        None,
        Proof::checked(),
    );
    Ok(Some(EnvScope::new(ws, w.environment_id.clone(), Proof::checked())))
}

/// Reads the environment's audit log since its cursor and works what it names.
pub async fn poll(state: &AppState, msg: &PollMessage) -> ServiceResult<Polled> {
    poll_with(state, msg, &Members::default()).await
}

/// [`poll`] with the batch's memberships.
async fn poll_with(state: &AppState, msg: &PollMessage, members: &Members) -> ServiceResult<Polled> {
    let key = rec::watch_key(&msg.workspace_id, &msg.environment_id);
    // Eventually consistent (ADR 0050), or as the tick read it from the index (ADR 0054): the
    // last poll wrote it minutes ago. A stale copy only reads the log from an older cursor (its
    // events are recorded, and skipped), and the cursor's and the sweep's writes are conditional
    // on what they replace (an update of a watch deleted meanwhile writes nothing).
    let carried = msg
        .watch
        .clone()
        .filter(|w| w.workspace_id == msg.workspace_id && w.environment_id == msg.environment_id);
    let w = match carried {
        Some(w) => w,
        None => match records::get_eventually::<DriftWatch>(&state.table, &key).await? {
            Some(w) => w,
            None => return Ok(skipped("no baseline is assigned any more")),
        },
    };
    let Some(scope) = authority(state, &w, members).await? else {
        tracing::warn!(user = %w.user_email, "the member who assigned the baseline lost access; the change feed is paused");
        return Ok(skipped("the member who assigned the baseline lost access"));
    };
    match crate::tenancy::environment_at_execution(state, &scope).await {
        Ok(e) if e.lifecycle == EnvironmentLifecycle::Active => {}
        Ok(_) => return Ok(skipped("the environment is not active")),
        Err(ServiceError::NotFound) => return Ok(skipped("the environment is gone")),
        Err(e) => return Err(e),
    }
    let Some(client) = crate::provider::tenant_client_at_execution(state, &scope).await? else {
        return Ok(skipped("the provider connection is not consented"));
    };
    sweep_if_due(state, &scope, &w).await?;
    let since = (w.cursor_ms - OVERLAP_MS).max(0);
    let mut events = match client.audit_events_since(since).await {
        Ok(e) => e,
        Err(e) if e.must_wait().is_some() => return Err(ServiceError::Wait(e.must_wait().unwrap_or_default())),
        Err(e) => {
            crate::provider::record_run_failure(state, &scope, &e).await;
            return Err(ServiceError::Permanent(format!("the audit log could not be read: {e}")));
        }
    };
    // Oldest first: the cursor only moves over what was worked.
    events.sort_by_key(|e| (e.activity_ms().unwrap_or(0), e.id.clone()));
    let mut out = Polled {
        events: events.len(),
        ..Polled::default()
    };
    // The overlap lists the last events worked again: known by the watch, not looked up.
    let known: BTreeSet<&str> = w.seen.iter().map(|(id, _)| id.as_str()).collect();
    events.retain(|e| !known.contains(e.id.as_str()));
    // Most polls read no event: then which families the baselines cover is not needed.
    let covered = if events.is_empty() {
        BTreeSet::new()
    } else {
        super::covered_families(state, &scope).await?
    };
    let env = scope.records(&state.table);
    // Per event: is it new, and which covered family and object does it concern?
    let mut work: Vec<(AuditEvent, Option<&'static Family>)> = Vec::new();
    for ev in events {
        if env.get::<DriftChangeRecord>(rec::change_sk(&ev.id)).await?.is_some() {
            continue;
        }
        let family = match ev.resources.first() {
            Some(r) => family_of(state, &scope, &client, &covered, &r.resource_id).await?,
            None => None,
        };
        work.push((ev, family));
    }
    // Refetch each named object once, by family.
    let mut ids: BTreeMap<&'static str, BTreeSet<String>> = BTreeMap::new();
    for (ev, family) in &work {
        if let (Some(f), Some(r)) = (family, ev.resources.first()) {
            ids.entry(f.code).or_default().insert(r.resource_id.clone());
        }
    }
    let mut unread: BTreeSet<String> = BTreeSet::new();
    for (code, ids) in &ids {
        let Some(family) = Family::by_code(code) else { continue };
        let ids: Vec<String> = ids.iter().cloned().collect();
        let read = match client.read_objects(family, &ids).await {
            Ok(r) => r,
            Err(e) if e.must_wait().is_some() => return Err(ServiceError::Wait(e.must_wait().unwrap_or_default())),
            Err(e) => {
                return Err(ServiceError::Permanent(format!(
                    "{} could not be read: {e}",
                    family.label
                )));
            }
        };
        out.refetched += read.objects.len();
        out.gone += read.gone.len();
        unread.extend(read.failed.iter().map(|f| f.id.clone()));
        crate::inventory::apply_objects(state, &scope, family, &read.objects, &read.gone).await?;
    }
    // Re-evaluate the touched families, naming who changed each object.
    let mut actors: BTreeMap<&'static str, BTreeMap<String, String>> = BTreeMap::new();
    for (ev, family) in &work {
        if let (Some(f), Some(r), Some(who)) = (family, ev.resources.first(), ev.actor_name()) {
            actors
                .entry(f.code)
                .or_default()
                .insert(r.resource_id.clone(), who.to_owned());
        }
    }
    for (code, changed) in &ids {
        let by = actors.remove(code).unwrap_or_default();
        // Only the changed objects when that says all a whole pass would (ADR 0042).
        let evaluated = match super::evaluate_objects(state, &scope, code, changed, &by).await {
            Ok(Some(d)) => {
                out.by_object.push((*code).to_owned());
                Ok(d)
            }
            Ok(None) => super::evaluate_family(state, &scope, code, &by).await,
            Err(e) => Err(e),
        };
        match evaluated {
            Ok(d) => {
                out.opened += d.observed.opened + d.observed.reopened;
                out.resolved += d.observed.resolved;
            }
            // Never read in full yet (or the last read was short): the next full read evaluates it.
            Err(ServiceError::Conflict(why)) => tracing::info!(family = code, %why, "drift not evaluated"),
            Err(e) => return Err(e),
        }
        out.families.push((*code).to_owned());
    }
    // Record the changes worked, and move the cursor up to the first one that was not.
    let now = state.clock.now_millis();
    let mut cursor = w.cursor_ms;
    let mut seen = w.seen.clone();
    for (ev, family) in &work {
        let at = ev.activity_ms().unwrap_or(now);
        let resource = ev.resources.first();
        if resource.is_some_and(|r| unread.contains(&r.resource_id)) {
            break;
        }
        cursor = cursor.max(at);
        seen.push((ev.id.clone(), at));
        // Changes outside the baselines' families are recorded too: shown, and not worked again.
        out.changes += usize::from(family.is_some());
        let change = change_record(&scope, ev, family.map(|f| f.code), now);
        match state
            .table
            .put(change.to_item(), Some(atlas_store::Cond::NotExists))
            .await
        {
            Ok(()) | Err(TableError::ConditionFailed) => {}
            Err(e) => return Err(e.into()),
        }
    }
    // Nothing worked and "last polled" recent enough: nothing to write (most polls).
    let quiet = work.is_empty() && cursor == w.cursor_ms && w.polled_ms.is_some_and(|at| now - at < QUIET_WRITE_MS);
    if !quiet {
        // Those the next read's overlap still lists (a bounded few; more are looked up).
        seen.retain(|(_, at)| *at >= cursor - OVERLAP_MS);
        let skip = seen.len().saturating_sub(SEEN_MAX);
        let (advance, cond) = DriftWatch::advance(cursor, now, &seen[skip..]);
        match state.table.update(&key, &advance, Some(cond)).await {
            Ok(_) | Err(TableError::ConditionFailed) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}

/// Starts the nightly full `drift.detect` run when it is due (once per due time, whatever the
/// number of pollers).
async fn sweep_if_due(state: &AppState, scope: &EnvScope, w: &DriftWatch) -> ServiceResult<()> {
    let now = state.clock.now_millis();
    if w.next_sweep_ms > now {
        return Ok(());
    }
    let (claim, cond) = w.claim_sweep(now + super::baselines::SWEEP_EVERY_MS);
    match state.table.update(&w.key(), &claim, Some(cond)).await {
        Ok(_) => {}
        Err(TableError::ConditionFailed) => return Ok(()),
        Err(e) => return Err(e.into()),
    }
    match super::start_detect(state, scope, None, true).await {
        Ok(started) => tracing::info!(run_id = %started.run.run_id, "nightly drift sweep started"),
        Err(ServiceError::Conflict(why)) => tracing::info!(%why, "nightly drift sweep not started"),
        Err(e) => return Err(e),
    }
    Ok(())
}

/// Which covered family an audited object belongs to: its inventory item's, else (a new object)
/// the first covered family whose GET finds it.
async fn family_of(
    state: &AppState,
    scope: &EnvScope,
    client: &atlas_graph::TenantClient,
    covered: &BTreeSet<String>,
    id: &str,
) -> ServiceResult<Option<&'static Family>> {
    if id.is_empty() {
        return Ok(None);
    }
    let env = scope.records(&state.table);
    for code in covered {
        if env.get::<InventoryItem>(irec::item_sk(code, id)).await?.is_some() {
            return Ok(Family::by_code(code));
        }
    }
    for code in covered {
        let Some(family) = Family::by_code(code) else { continue };
        match client.read_objects(family, &[id.to_owned()]).await {
            Ok(r) if !r.objects.is_empty() => return Ok(Some(family)),
            Ok(_) => {}
            Err(e) if e.must_wait().is_some() => return Err(ServiceError::Wait(e.must_wait().unwrap_or_default())),
            Err(e) => {
                return Err(ServiceError::Permanent(format!(
                    "{} could not be read: {e}",
                    family.label
                )));
            }
        }
    }
    Ok(None)
}

fn change_record(scope: &EnvScope, ev: &AuditEvent, family: Option<&str>, now: i64) -> DriftChangeRecord {
    let r = ev.resources.first();
    let properties: Vec<Value> = r
        .map(|r| {
            r.modified_properties
                .iter()
                .map(|p| {
                    let secret = atlas_domain::redact::is_secret_key(&p.display_name)
                        || p.old_value.as_deref().is_some_and(atlas_domain::redact::looks_secret)
                        || p.new_value.as_deref().is_some_and(atlas_domain::redact::looks_secret);
                    let shown = |v: &Option<String>| match (secret, v) {
                        (_, None) => Value::Null,
                        (true, Some(_)) => Value::String(atlas_domain::redact::MASK.into()),
                        (false, Some(s)) => Value::String(s.clone()),
                    };
                    json!({"name": p.display_name, "old": shown(&p.old_value), "new": shown(&p.new_value)})
                })
                .collect()
        })
        .unwrap_or_default();
    DriftChangeRecord {
        workspace_id: scope.workspace().workspace_id().clone(),
        environment_id: scope.environment_id().clone(),
        event_id: ev.id.clone(),
        at_ms: ev.activity_ms().unwrap_or(now),
        actor: ev.actor_name().unwrap_or("unknown").to_owned(),
        activity: ev.activity_type.clone(),
        operation: ev.activity_operation_type.clone(),
        family: family.map(str::to_owned),
        object_id: r.map(|r| r.resource_id.clone()).unwrap_or_default(),
        object_name: r.map(|r| r.display_name.clone()).unwrap_or_default(),
        properties: Value::Array(properties),
        seen_ms: now,
    }
}

/// The environment's recorded changes, newest first (at most 200).
pub async fn changes(state: &AppState, scope: &EnvScope) -> ServiceResult<atlas_api_types::DriftChangeList> {
    let env = scope.records(&state.table);
    let mut all: Vec<DriftChangeRecord> = records::query_all(&state.table, env.query(rec::CHANGES)).await?;
    all.sort_by(|a, b| (b.at_ms, &b.event_id).cmp(&(a.at_ms, &a.event_id)));
    all.truncate(LIST_LIMIT);
    Ok(atlas_api_types::DriftChangeList {
        items: all
            .into_iter()
            .map(|c| atlas_api_types::DriftChange {
                id: c.event_id,
                at_ms: c.at_ms,
                actor: c.actor,
                activity: c.activity,
                operation: c.operation,
                family: c.family,
                object_id: c.object_id,
                object_name: c.object_name,
                properties: c.properties,
                seen_ms: c.seen_ms,
            })
            .collect(),
    })
}
