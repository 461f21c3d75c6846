//! The step unit: what every unit of a run does around its step's work, written once. It begins
//! the unit (re-checks the run, its initiator's membership, entitlement and capability, the
//! environment and, for a step that reads Graph, the provider connection), runs the work, records
//! the unit's result (ending the run when it was the last) and lets the step finish up. Errors are
//! mapped to the message's fate here and only here: a unit that cannot succeed is recorded failed,
//! a transient failure retries the message, a Graph `Retry-After` defers it.

use atlas_domain::{ItemResult, RunOutcome};
use atlas_graph::TenantClient;
use atlas_graph::families::Family;
use serde_json::{Value, json};

use super::StepError;
use crate::error::{ApiError, ServiceError, ServiceResult};
use crate::runs::{self, WorkMessage};
use crate::scope::EnvScope;
use crate::state::AppState;

/// How a step's work ended.
pub enum Done {
    /// Record this result; the run ends when it was the last unit.
    Record(ItemResult, Value),
    /// An earlier delivery recorded the unit and may have crashed before ending the run.
    AlreadyRecorded,
}

/// What a step's work is given once its unit has begun.
pub struct Unit<'a> {
    pub state: &'a AppState,
    pub message: &'a WorkMessage,
    /// The initiator's scope, rebuilt from the re-checked membership.
    pub scope: EnvScope,
    client: Option<TenantClient>,
}

impl Unit<'_> {
    /// The environment's tenant, signed in as its connection: only a step that reads Graph has one.
    pub fn client(&self) -> ServiceResult<&TenantClient> {
        self.client
            .as_ref()
            .ok_or_else(|| ServiceError::Permanent("this step does not read Graph".into()))
    }
}

/// A step's own part of a unit; [`run`] does the rest.
#[async_trait::async_trait]
pub trait StepWork: Sync {
    /// The work reads Graph: its unit also needs an operable provider connection.
    const GRAPH: bool;
    /// A store that cannot write (a full disk) fails the run and the unit, saying so, instead of
    /// retrying the message.
    const FULL_STORE_FAILS_RUN: bool = false;
    /// A unit per policy family (its item is the family's code): an unknown family is skipped,
    /// and a failed unit names its family.
    const PER_FAMILY: bool = false;

    /// The detail of a unit whose item this step cannot work at all: recorded Skipped before the
    /// run is begun. `None` for a workable item.
    fn unworkable(&self, m: &WorkMessage) -> Option<Value> {
        (Self::PER_FAMILY && Family::by_code(&m.item).is_none()).then(|| json!({"reason": "unknown family"}))
    }

    async fn work(&self, u: &Unit<'_>) -> ServiceResult<Done>;

    /// The detail of a unit that failed for `why` where retrying cannot help (a conflict: the
    /// records it needs are gone or changed, the connection cannot be used). `None`: retried.
    fn failed(&self, m: &WorkMessage, why: &str) -> Option<Value> {
        Self::PER_FAMILY.then(|| json!({"family": m.item, "reason": why}))
    }

    /// After the unit was recorded, or found its run already ended.
    async fn after(&self, _state: &AppState, _run_id: &str) -> ServiceResult<()> {
        Ok(())
    }
}

/// The one mapping of a service error to a message's fate: a wait defers the message, anything
/// else retries it (a unit that cannot succeed was recorded failed before it got here).
pub(super) fn service_to_step(e: ServiceError) -> StepError {
    match e {
        ServiceError::Wait(d) => StepError::Defer(d),
        e => StepError::Retry(ApiError::from(e).to_string()),
    }
}

/// Runs one unit of `W`'s step for the message `body`. Log lines are written inside the span
/// the caller opened with [`super::unit_span`].
pub async fn run<W: StepWork>(state: AppState, body: String, w: W) -> Result<(), StepError> {
    let m: WorkMessage = serde_json::from_str(&body).map_err(|e| StepError::Malformed(e.to_string()))?;
    let state = &state;
    if !m.also.is_empty() {
        return run_group(state, &m, &w).await;
    }
    if let Some(detail) = w.unworkable(&m) {
        if record(state, &m, None, ItemResult::Skipped, detail).await? {
            w.after(state, &m.run_id).await.map_err(service_to_step)?;
        }
        return Ok(());
    }
    let Some((run, scope, client)) = begin(state, &m, W::GRAPH).await.map_err(service_to_step)? else {
        // The run ended (perhaps by an earlier delivery that crashed before finishing up).
        w.after(state, &m.run_id).await.map_err(service_to_step)?;
        return Ok(());
    };
    if m.env.is_none() {
        // A message from before runs named their environment: the span learns it from the run.
        let span = tracing::Span::current();
        span.record(
            "workspace_id",
            tracing::field::display(scope.workspace().workspace_id()),
        );
        span.record("environment_id", tracing::field::display(scope.environment_id()));
    }
    let u = Unit {
        state,
        message: &m,
        scope,
        client,
    };
    let done = match w.work(&u).await {
        Ok(done) => done,
        Err(ServiceError::Conflict(why)) => match w.failed(&m, &why) {
            Some(detail) => Done::Record(ItemResult::Failed, detail),
            None => return Err(service_to_step(ServiceError::Conflict(why))),
        },
        // A full disk: the run fails saying so, and so does the unit (when the store still takes
        // those small writes; else the message is retried and the run says it when it can).
        // The unit is recorded before the run ends, so no reader sees the run ended without it.
        Err(e) => match e.store_write_failure().filter(|_| W::FULL_STORE_FAILS_RUN) {
            Some(why) => {
                let detail = w.failed(&m, &why).unwrap_or_else(|| json!({"reason": why}));
                let first = runs::record_unit(state, &m.run_id, &m.item, ItemResult::Failed, detail)
                    .await
                    .map_err(service_to_step)?;
                runs::finish(state, &m.run_id, RunOutcome::Failed, Some(why))
                    .await
                    .map_err(service_to_step)?;
                logged(ItemResult::Failed, first);
                Done::AlreadyRecorded
            }
            None => return Err(service_to_step(e)),
        },
    };
    let run_done = match done {
        Done::Record(result, detail) => record(state, &m, Some(&run), result, detail).await?,
        Done::AlreadyRecorded => runs::recount(state, &m.run_id, &m.item)
            .await
            .map_err(service_to_step)?,
    };
    // Only a unit that saw its run end finishes it up; the others would read the run to learn
    // it is still going. A crash before this is healed by the redelivery, whose begin finds the
    // run ended.
    if run_done {
        w.after(state, &m.run_id).await.map_err(service_to_step)?;
    }
    Ok(())
}

/// What one unit of a message of several came to.
enum Fate {
    Record(ItemResult, Value),
    /// An earlier delivery recorded it.
    Recorded,
    /// Back to the queue after this long (Graph's `Retry-After`).
    Wait(std::time::Duration),
    /// A transient failure: the message is delivered again.
    Retry(ServiceError),
}

/// A message of several units of one run (ADR 0051: a backup's families): they begin once (one
/// re-check of the run, its initiator, the environment and the connection), work side by side,
/// are recorded, and whether the run has ended is looked at once. Units that must wait go back to
/// the queue together, without those recorded; a transient failure retries the whole message
/// (a unit recorded already is worked again and counted once).
async fn run_group<W: StepWork>(state: &AppState, m: &WorkMessage, w: &W) -> Result<(), StepError> {
    let mut workable = Vec::new();
    let mut ended = false;
    for u in m.units() {
        match w.unworkable(&u) {
            Some(detail) => ended |= record(state, &u, None, ItemResult::Skipped, detail).await?,
            None => workable.push(u),
        }
    }
    let begun = match workable.first() {
        Some(first) => begin(state, first, W::GRAPH).await.map_err(service_to_step)?,
        None => None,
    };
    let Some((run, scope, client)) = begun else {
        // Nothing to work, or the run ended (perhaps by an earlier delivery).
        if ended || !workable.is_empty() {
            w.after(state, &m.run_id).await.map_err(service_to_step)?;
        }
        return Ok(());
    };
    let units: Vec<Unit<'_>> = workable
        .iter()
        .map(|message| Unit {
            state,
            message,
            scope: scope.clone(),
            client: client.clone(),
        })
        .collect();
    let works = futures_util::future::join_all(units.iter().map(|u| w.work(u))).await;
    let mut fates = Vec::with_capacity(works.len());
    let mut full = None;
    for (u, res) in workable.iter().zip(works) {
        fates.push(match res {
            Ok(Done::Record(result, detail)) => Fate::Record(result, detail),
            Ok(Done::AlreadyRecorded) => Fate::Recorded,
            Err(ServiceError::Conflict(why)) => match w.failed(u, &why) {
                Some(detail) => Fate::Record(ItemResult::Failed, detail),
                None => Fate::Retry(ServiceError::Conflict(why)),
            },
            Err(ServiceError::Wait(d)) => Fate::Wait(d),
            // A full disk fails the unit and the run, as for a unit alone.
            Err(e) => match e.store_write_failure().filter(|_| W::FULL_STORE_FAILS_RUN) {
                Some(why) => {
                    let detail = w.failed(u, &why).unwrap_or_else(|| json!({"reason": why}));
                    full = Some(why);
                    Fate::Record(ItemResult::Failed, detail)
                }
                None => Fate::Retry(e),
            },
        });
    }
    let mut to_record = Vec::new();
    let (mut waits, mut retry, mut recount) = (Vec::new(), None, Vec::new());
    for (u, fate) in workable.iter().zip(fates) {
        match fate {
            Fate::Record(result, detail) => to_record.push((u.item.clone(), result, detail)),
            Fate::Recorded => recount.push(u.item.clone()),
            Fate::Wait(d) => waits.push((u.item.clone(), d)),
            Fate::Retry(e) => retry = Some(e),
        }
    }
    let results: Vec<ItemResult> = to_record.iter().map(|(_, r, _)| *r).collect();
    let (firsts, mut run_done) = runs::record_all(state, &m.run_id, Some(&run), to_record)
        .await
        .map_err(service_to_step)?;
    for (result, first) in results.into_iter().zip(firsts) {
        logged(result, first);
    }
    for item in recount {
        run_done |= runs::recount(state, &m.run_id, &item).await.map_err(service_to_step)?;
    }
    if let Some(why) = full {
        runs::finish(state, &m.run_id, RunOutcome::Failed, Some(why))
            .await
            .map_err(service_to_step)?;
        run_done = true;
    }
    if run_done {
        w.after(state, &m.run_id).await.map_err(service_to_step)?;
    }
    if let Some(e) = retry {
        return Err(service_to_step(e));
    }
    if let Some(longest) = waits.iter().map(|(_, d)| *d).max() {
        // The units that must wait go back together, as one message.
        let mut rest = m.clone();
        rest.item = waits[0].0.clone();
        rest.also = waits[1..].iter().map(|(i, _)| i.clone()).collect();
        let body = serde_json::to_string(&rest).map_err(|e| StepError::Malformed(e.to_string()))?;
        return Err(StepError::DeferWith(longest, body));
    }
    Ok(())
}

/// Records the unit's result (with the run its begin read, if it began), ending the run when it
/// was the last; true when the run has ended.
async fn record(
    state: &AppState,
    m: &WorkMessage,
    run: Option<&crate::records::runs::OperationRun>,
    result: ItemResult,
    detail: Value,
) -> Result<bool, StepError> {
    let r = runs::record_known(state, &m.run_id, run, &m.item, result, detail)
        .await
        .map_err(service_to_step)?;
    logged(result, r.first);
    Ok(r.run_done)
}

fn logged(result: ItemResult, first: bool) {
    tracing::info!(result = result.as_str(), repeated = !first, "unit recorded");
}

/// Begins a unit: re-checks its run (`runs::begin`), rebuilds the initiator's scope and, for a
/// step that reads Graph, signs in to the environment's tenant. `None` when the run ended, or
/// was just ended Blocked, and the message is only acknowledged.
async fn begin(
    state: &AppState,
    m: &WorkMessage,
    graph: bool,
) -> ServiceResult<Option<(Box<crate::records::runs::OperationRun>, EnvScope, Option<TenantClient>)>> {
    let (run, scope) = match runs::begin(state, &m.run_id).await? {
        runs::Begin::Proceed(run, scope) => (run, scope),
        runs::Begin::Finished => return Ok(None),
    };
    let Some(scope) = scope else {
        let why = Some("The initiator lost access.".to_owned());
        runs::finish(state, &m.run_id, RunOutcome::Blocked, why).await?;
        return Ok(None);
    };
    if !graph {
        return Ok(Some((run, scope, None)));
    }
    let conn = crate::provider::load_at_execution(state, &scope).await?;
    let lifecycle = conn.as_ref().map(|c| c.lifecycle);
    let Some(conn) = conn.filter(|c| c.lifecycle == atlas_domain::ConnectionLifecycle::Consented) else {
        let why = format!(
            "The provider connection is not operable ({}).",
            lifecycle.map_or("none", |l| l.as_str())
        );
        runs::finish(state, &m.run_id, RunOutcome::Blocked, Some(why)).await?;
        return Ok(None);
    };
    let app = crate::provider::app_identity(state, &scope, &conn).await?;
    let client = state.graph.tenant(&conn.tenant_id, app);
    Ok(Some((run, scope, Some(client))))
}

/// The family of a per-family unit ([`StepWork::unworkable`] skipped the unknown ones).
fn family_of(m: &WorkMessage) -> ServiceResult<&'static Family> {
    Family::by_code(&m.item).ok_or_else(|| ServiceError::Permanent("unknown family".into()))
}

/// `provider.verify`: one unit per run.
pub struct ProviderVerify;

#[async_trait::async_trait]
impl StepWork for ProviderVerify {
    const GRAPH: bool = false;

    async fn work(&self, u: &Unit<'_>) -> ServiceResult<Done> {
        crate::provider::verify(u.state, &u.scope).await?;
        let connection = crate::provider::load(u.state, &u.scope).await?;
        let (st, reason) = crate::provider::status(connection.as_ref(), u.state.clock.now_millis());
        let result = if st == atlas_domain::Status::Ready {
            ItemResult::Succeeded
        } else {
            ItemResult::Failed
        };
        Ok(Done::Record(result, json!({"status": st.as_str(), "reason": reason})))
    }

    fn failed(&self, _m: &WorkMessage, why: &str) -> Option<Value> {
        Some(json!({"reason": why}))
    }
}

/// `inventory.sync`: one unit per family.
pub struct InventorySync;

#[async_trait::async_trait]
impl StepWork for InventorySync {
    const GRAPH: bool = true;
    const FULL_STORE_FAILS_RUN: bool = true;
    const PER_FAMILY: bool = true;

    async fn work(&self, u: &Unit<'_>) -> ServiceResult<Done> {
        let family = family_of(u.message)?;
        let r = crate::inventory::sync_family(u.state, &u.scope, u.client()?, family).await?;
        Ok(Done::Record(
            ItemResult::Succeeded,
            json!({"family": family.code, "seen": r.seen, "added": r.added, "changed": r.changed, "ghosted": r.ghosted, "restored": r.restored, "unread": r.unread}),
        ))
    }

    /// Once the run succeeded, the inventory's lint is recorded as findings (spec 021).
    async fn after(&self, state: &AppState, run_id: &str) -> ServiceResult<()> {
        crate::lint::after_sync(state, run_id).await
    }
}

/// `backup.capture`: one unit per family. Made per message: the families it carries share one
/// read of the earlier sets (ADR 0056).
#[derive(Default)]
pub struct BackupCapture(crate::backup::EarlierSets);

#[async_trait::async_trait]
impl StepWork for BackupCapture {
    const GRAPH: bool = true;
    const FULL_STORE_FAILS_RUN: bool = true;
    const PER_FAMILY: bool = true;

    async fn work(&self, u: &Unit<'_>) -> ServiceResult<Done> {
        let family = family_of(u.message)?;
        let c =
            crate::backup::capture_family(u.state, &u.scope, &u.message.run_id, u.client()?, family, &self.0).await?;
        let (result, detail) = c.detail(family);
        Ok(Done::Record(result, detail))
    }

    /// The last unit ends the run: verify the set, then start its retention.
    async fn after(&self, state: &AppState, run_id: &str) -> ServiceResult<()> {
        crate::backup::settle(state, run_id).await
    }
}

/// `restore.execute`: one unit per item.
pub struct RestoreExecute;

#[async_trait::async_trait]
impl StepWork for RestoreExecute {
    const GRAPH: bool = true;

    async fn work(&self, u: &Unit<'_>) -> ServiceResult<Done> {
        let outcome = crate::restore::execute::unit(u.state, &u.scope, u.client()?, u.message).await?;
        Ok(match outcome {
            Some((result, detail)) => Done::Record(result, detail),
            None => Done::AlreadyRecorded,
        })
    }

    /// Retrying cannot help (the draft, preview or payload is gone): the item fails, with why.
    fn failed(&self, _m: &WorkMessage, why: &str) -> Option<Value> {
        Some(json!({"result": ItemResult::Failed.as_str(), "reason": why}))
    }

    /// Once the run ended, drift re-checks the families it wrote.
    async fn after(&self, state: &AppState, run_id: &str) -> ServiceResult<()> {
        crate::drift::recheck_after_restore(state, run_id).await?;
        crate::promotion::after_cutover(state, run_id).await
    }
}

/// `backup.prune`: one unit.
pub struct BackupPrune;

#[async_trait::async_trait]
impl StepWork for BackupPrune {
    const GRAPH: bool = false;

    async fn work(&self, u: &Unit<'_>) -> ServiceResult<Done> {
        let rules = crate::backup::Retention::of(&u.message.params);
        let deleted = crate::backup::prune(u.state, &u.scope, rules).await?;
        Ok(Done::Record(ItemResult::Succeeded, json!({"deleted": deleted})))
    }
}

/// `drift.detect`: one unit per family: read it from Graph (unless the message says the stored
/// inventory is fresh), then compare it with the environment's baselines.
pub struct DriftDetect;

#[async_trait::async_trait]
impl StepWork for DriftDetect {
    const GRAPH: bool = true;
    const FULL_STORE_FAILS_RUN: bool = true;
    const PER_FAMILY: bool = true;

    async fn work(&self, u: &Unit<'_>) -> ServiceResult<Done> {
        let family = family_of(u.message)?;
        let read = if crate::drift::refresh_requested(&u.message.params) {
            Some(crate::inventory::sync_family(u.state, &u.scope, u.client()?, family).await?)
        } else {
            None
        };
        let d = crate::drift::evaluate_family(u.state, &u.scope, family.code, &Default::default()).await?;
        Ok(Done::Record(
            ItemResult::Succeeded,
            json!({
                "family": family.code, "read": read.map(|r| r.seen), "compared": d.compared,
                "missing": d.missing, "extra": d.extra, "changed": d.changed, "shadowed": d.shadowed,
                "opened": d.observed.opened, "reopened": d.observed.reopened, "updated": d.observed.updated,
                "resolved": d.observed.resolved,
            }),
        ))
    }
}
