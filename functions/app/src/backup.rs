//! Backups: a `backup.capture` run captures every object of the chosen families with its payload,
//! assignments and scope tags (`TenantClient::read_family`: list with `$expand`, else `$batch`). Payloads are stored once per
//! content hash (`BLOB#<hash>`), so an unchanged policy is referenced, not stored again; payloads
//! over DynamoDB's item limit go through the store's compression and chunking. A family that fails
//! to read is a failed unit: the set is Partial and says which family and why.
//!
//! Items (environment partition): `BACKUPSET#<set>` (the set), `BLOB#<hash>` (payloads and
//! family manifests by content) and `BLOBREF#<hash>` (a small mark per payload: when a backup
//! last referenced it). Each family's manifest is named by its capture unit's run record (ADR
//! 0050); older sets have a row per family (ADR 0040) or per object.
//!
//! Payload lifecycle (ADR 0020): before it writes an item referencing a payload, a backup finds
//! the payload's mark fresh (referenced within [`TOUCH_AFTER_MS`]) or touches it (conditional on the
//! mark existing); a mark exists only while its payload does. The sweep deletes a payload only when no item references it and its mark is older than
//! [`PAYLOAD_GRACE_MS`], each delete conditional on the mark still being that old, so a backup that
//! references the payload meanwhile always wins. Writes go in pages: one flush per page locally.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

use atlas_api_types as api;
use atlas_domain::{BackupSetStatus, RunId, RunOutcome, RunState};
use atlas_graph::families::Family;
use atlas_store::{Cond, Key, Query, TableError, TxItem};
use serde_json::{Value, json};

use crate::error::{ServiceError, ServiceResult};
use crate::records::backups::{
    self as rec, BackupItemRecord, BackupSetRecord, BlobRecord, BlobRefRecord, LAST_REFERENCED_MS, PayloadOf,
    WRITTEN_MS,
};
use crate::records::{self, Record};
use crate::scope::EnvScope;
use crate::state::AppState;

/// A backup's families per message (ADR 0051): the families of a message are read side by side
/// after one begin, and the run's end is looked at once for them. 25 families are 5 messages, so
/// a backup still spreads over several workers.
pub const FAMILIES_PER_MESSAGE: usize = 5;

/// How long a payload stays after a backup last referenced it, even when no set does. Longer than
/// [`TOUCH_AFTER_MS`] plus any capture run (2 h deadline), so it covers a backup's time between
/// finding a payload's mark fresh (or touching it) and writing the items that reference it, with a
/// wide margin (22 h) for clock skew between functions.
pub const PAYLOAD_GRACE_MS: i64 = 7 * 24 * 60 * 60 * 1000;
/// A backup touches a payload's mark only when the mark is older than this: four backups a day of
/// an unchanged tenant then write each mark about once a week instead of every time (ADR 0020
/// amendment: a touch is a write unit per object per backup, the fleet's largest line item).
pub const TOUCH_AFTER_MS: i64 = PAYLOAD_GRACE_MS - 24 * 60 * 60 * 1000;
/// Objects written per page: one flush per page on the embedded store.
pub const PAGE: usize = 100;

pub fn blob_key(pk: &str, hash: &str) -> Key {
    Key::new(pk, rec::blob_sk(hash))
}

pub fn blob_ref_key(pk: &str, hash: &str) -> Key {
    Key::new(pk, rec::blob_ref_sk(hash))
}

pub(crate) fn refused(results: Vec<Result<(), TableError>>) -> ServiceResult<Vec<bool>> {
    results
        .into_iter()
        .map(|r| match r {
            Ok(()) => Ok(false),
            Err(TableError::ConditionFailed) => Ok(true),
            Err(e) => Err(e.into()),
        })
        .collect()
}

pub(crate) fn all_written(results: Vec<Result<(), TableError>>) -> ServiceResult<()> {
    for r in results {
        r?;
    }
    Ok(())
}

pub fn content_hash(v: &Value) -> String {
    let bytes = serde_json::to_vec(v).unwrap_or_default();
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &bytes);
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// What one family's capture did.
#[derive(Debug, Default)]
pub struct Captured {
    pub items: usize,
    /// Payloads written now; the rest were already stored by an earlier backup.
    pub stored: usize,
    /// Objects the list named that could not be read in full (retried later in the read, then given
    /// up): `{id, name, reason}`. Each fails alone; the family's other objects are captured.
    pub failed: Vec<Value>,
    /// The content hash of the family's manifest, which the unit's record names (ADR 0050).
    pub manifest: String,
    /// Objects listed whose payload is not stored (found gone when read back): the unit fails.
    pub unreadable: Vec<String>,
}

impl Captured {
    /// The unit's record: what it captured, its manifest and, when it failed, why.
    pub fn detail(&self, family: &Family) -> (atlas_domain::ItemResult, Value) {
        use atlas_domain::ItemResult;
        let mut d = json!({
            "family": family.code, "items": self.items, "stored": self.stored,
            rec::FamilyManifest::ATTR: self.manifest,
        });
        if !self.unreadable.is_empty() {
            d["reason"] = json!(format!(
                "{} of {} objects of {} have no stored payload: {}",
                self.unreadable.len(),
                self.items,
                family.label,
                self.unreadable.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
            ));
            return (ItemResult::Failed, d);
        }
        if let Some(first) = self.failed.first() {
            // The family's other objects are captured; the set is partial and names the objects missing.
            d["reason"] = json!(format!(
                "{} of {} objects could not be read: {}",
                self.failed.len(),
                self.items + self.failed.len(),
                first["reason"].as_str().unwrap_or_default()
            ));
            d["failed_items"] = json!(self.failed);
            return (ItemResult::Failed, d);
        }
        (ItemResult::Succeeded, d)
    }
}

pub async fn capture_family(
    state: &AppState,
    scope: &EnvScope,
    set_id: &str,
    client: &atlas_graph::TenantClient,
    family: &Family,
    earlier: &EarlierSets,
) -> ServiceResult<Captured> {
    let set = RunId::parse(set_id).map_err(|e| ServiceError::Permanent(format!("backup set id: {e}")))?;
    // Payloads the previous set's manifest vouches for need no mark read (ADR 0040).
    let prev = previous_manifest(state, scope, &set, family.code, earlier).await?;
    // Storing runs beside the read: each piece of complete objects is stored the moment its
    // reads are done (ADR 0028), so what is left after the last Graph answer is one piece.
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let (read, stored) = tokio::join!(
        client.read_family_into(family, tx),
        store_pieces(state, scope, prev.as_ref(), rx)
    );
    let failed = match read {
        Ok(failed) => failed,
        Err(e) => {
            // The family is not captured: nothing references the payloads stored so far (they
            // are shared and swept by retention), so the set never holds part of a family whose
            // read failed. A crash before this is a failed unit all the same.
            // Throttled for longer than a unit should hold its worker: come back later.
            if let Some(wait) = e.must_wait() {
                return Err(ServiceError::Wait(wait));
            }
            crate::provider::record_run_failure(state, scope, &e).await;
            return Err(ServiceError::Conflict(format!(
                "{} could not be read completely: {e}",
                family.label
            )));
        }
    };
    let mut stored = stored?;
    let mut out = Captured {
        manifest: String::new(),
        unreadable: Vec::new(),
        items: stored.entries.len(),
        stored: stored.written,
        failed: failed
            .iter()
            .map(|f| json!({"id": f.id, "name": f.name, "reason": f.error.to_string()}))
            .collect(),
    };
    // The manifest: one payload listing every object, stored once per content like the rest.
    stored.entries.sort();
    let manifest = rec::Manifest {
        manifest: family.code.to_owned(),
        items: std::mem::take(&mut stored.entries),
    };
    let value = serde_json::to_value(&manifest).map_err(|e| ServiceError::Permanent(e.to_string()))?;
    let hash = content_hash(&value);
    let now = state.clock.now_millis();
    let unchanged = prev.as_ref().is_some_and(|p| p.hash == hash);
    if !unchanged {
        let floor = match &prev {
            Some(p) if stored.vouched => stored.floor.min(p.floor),
            _ => stored.floor,
        };
        keep_manifest(state, scope, &hash, &value, floor.min(now), now).await?;
    }
    // No row of its own: the unit's record names the manifest (ADR 0050).
    out.manifest = hash;
    // The family counts as captured only if every payload this backup stored or found is there:
    // their marks, read back (a mark exists only with its payload). Those the previous manifest
    // vouched for have marks too young for any sweep to take.
    let pk = scope.pk();
    let present = stored_hashes(state, &pk, stored.checked.iter().map(String::as_str)).await?;
    out.unreadable = manifest
        .items
        .iter()
        .filter(|(_, _, h)| stored.checked.contains(h) && !present.contains(h))
        .map(|(id, _, _)| id.clone())
        .collect();
    if !out.unreadable.is_empty() {
        // The unit fails (recorded once, naming its manifest), so the set can never read as complete.
        let update = rec::mark_unreadable(family.code, &out.unreadable);
        let records = scope.records(&state.table);
        state
            .table
            .update(&records.key(rec::set_sk(&set)), &update, Some(Cond::Exists))
            .await?;
    }
    Ok(out)
}

/// The newest earlier set's manifest of a family, when its mark says every payload it lists is
/// safe from the sweep for longer than a capture can take (ADR 0040).
struct Previous {
    hash: String,
    floor: i64,
    hashes: BTreeSet<String>,
}

/// The sets a capture may take its families' previous manifests from, read once per message
/// for all the families it carries (ADR 0056): the newest two earlier sets, each with the
/// manifests its capture units recorded (`None`: a set written before, with family rows).
#[derive(Default)]
pub struct EarlierSets(tokio::sync::OnceCell<Vec<(BackupSetRecord, Option<Vec<rec::FamilyManifest>>)>>);

impl EarlierSets {
    async fn get(
        &self,
        state: &AppState,
        scope: &EnvScope,
        set: &RunId,
    ) -> ServiceResult<&[(BackupSetRecord, Option<Vec<rec::FamilyManifest>>)]> {
        let sets = self
            .0
            .get_or_try_init(|| async {
                let records = scope.records(&state.table);
                // Newest first; later sets (a concurrent backup) and this one are skipped.
                // Sets are written at their start, hours before a later backup reads them:
                // eventually consistent (ADR 0049); a set started a second ago is skipped anyway.
                let newest = records.query(rec::SETS).backward().limit(4).eventually();
                let sets = records::query::<BackupSetRecord>(&state.table, &newest).await?.items;
                let mut out = Vec::new();
                for earlier in sets.into_iter().filter(|s| s.set_id.as_str() < set.as_str()).take(2) {
                    let manifests = if earlier.manifests_on_units {
                        Some(unit_manifests(&state.table, &earlier.set_id, None, Read::Eventually).await?)
                    } else {
                        None
                    };
                    out.push((earlier, manifests));
                }
                Ok::<_, ServiceError>(out)
            })
            .await?;
        Ok(sets)
    }
}

async fn previous_manifest(
    state: &AppState,
    scope: &EnvScope,
    set: &RunId,
    family: &str,
    earlier_sets: &EarlierSets,
) -> ServiceResult<Option<Previous>> {
    let records = scope.records(&state.table);
    let fresh_after = state.clock.now_millis() - TOUCH_AFTER_MS;
    for (earlier, manifests) in earlier_sets.get(state, scope, set).await? {
        let Ok(id) = RunId::parse(&earlier.set_id) else {
            continue;
        };
        // Eventually consistent reads (ADR 0049): the row and the payload never change once
        // written, and a mark that misses a touch of the last second only vouches for nothing.
        let read = |sk: String| records.key(sk);
        let row = match manifests {
            Some(manifests) => manifests.iter().find(|m| m.family == family).cloned(),
            None => {
                records::get_eventually::<rec::BackupFamilyRecord>(&state.table, &read(rec::family_sk(&id, family)))
                    .await?
                    .map(rec::FamilyManifest::from)
            }
        };
        let Some(row) = row else {
            continue;
        };
        let Some(mark) =
            records::get_eventually::<BlobRefRecord>(&state.table, &read(rec::blob_ref_sk(&row.manifest))).await?
        else {
            return Ok(None);
        };
        let Some(floor) = mark
            .floor_ms
            .filter(|f| *f >= fresh_after && mark.last_referenced_ms >= fresh_after)
        else {
            return Ok(None);
        };
        let Some(blob) =
            records::get_eventually::<BlobRecord>(&state.table, &read(rec::blob_sk(&row.manifest))).await?
        else {
            return Ok(None);
        };
        let hashes = rec::Manifest::from_payload(blob.into_payload()?)?
            .items
            .into_iter()
            .map(|(_, _, h)| h)
            .collect();
        return Ok(Some(Previous {
            hash: row.manifest,
            floor,
            hashes,
        }));
    }
    Ok(None)
}

/// Keeps a manifest's payload and mark: touches the mark with the new floor, or stores both.
async fn keep_manifest(
    state: &AppState,
    scope: &EnvScope,
    hash: &str,
    manifest: &Value,
    floor: i64,
    now: i64,
) -> ServiceResult<()> {
    let records = scope.records(&state.table);
    let touch = rec::touch_manifest_ref(records.key(rec::blob_ref_sk(hash)), now, floor);
    if !refused(state.table.batch(vec![touch]).await?)?[0] {
        return Ok(());
    }
    let (ws, env) = (scope.workspace().workspace_id(), scope.environment_id());
    let blob = BlobRecord::new(PayloadOf::new(ws, env, hash), now, manifest)?;
    state.table.put(blob.to_item(), None).await?;
    let mark = BlobRefRecord {
        of: PayloadOf::new(ws, env, hash),
        last_referenced_ms: now,
        floor_ms: Some(floor),
    };
    state.table.put(mark.to_item(), None).await?;
    Ok(())
}

/// What [`store_pieces`] stored: every object as `[id, name, hash]`, how many payloads were new,
/// which payloads' marks it found or wrote, and the oldest of those marks.
struct Stored {
    entries: Vec<(String, String, String)>,
    written: usize,
    checked: BTreeSet<String>,
    floor: i64,
    /// Whether some payload was taken on the previous manifest's word.
    vouched: bool,
}

/// Stores pieces of complete objects as they come, up to a page at a time (what is waiting when
/// the store is free goes together), until the read hangs up.
async fn store_pieces(
    state: &AppState,
    scope: &EnvScope,
    prev: Option<&Previous>,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<(usize, Vec<Value>)>,
) -> ServiceResult<Stored> {
    let mut out = Stored {
        entries: Vec::new(),
        written: 0,
        checked: BTreeSet::new(),
        floor: i64::MAX,
        vouched: false,
    };
    while let Some((_, mut page)) = rx.recv().await {
        while page.len() < PAGE {
            match rx.try_recv() {
                Ok((_, more)) => page.extend(more),
                Err(_) => break,
            }
        }
        for page in page.chunks(PAGE) {
            store_page(state, scope, prev, page, &mut out).await?;
        }
    }
    Ok(out)
}

/// Stores one page of objects' payloads (content-addressed, each once) and lists them in `out`.
async fn store_page(
    state: &AppState,
    scope: &EnvScope,
    prev: Option<&Previous>,
    page: &[Value],
    out: &mut Stored,
) -> ServiceResult<()> {
    let records = scope.records(&state.table);
    let (ws, env) = (scope.workspace().workspace_id(), scope.environment_id());
    let now = state.clock.now_millis();
    let mut payloads: BTreeMap<String, &Value> = BTreeMap::new();
    for object in page {
        let Some(id) = object.get("id").and_then(Value::as_str) else {
            continue;
        };
        let hash = content_hash(object);
        let name = object
            .get("displayName")
            .or(object.get("name"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        out.entries.push((id.to_owned(), name.to_owned(), hash.clone()));
        if prev.is_some_and(|p| p.hashes.contains(&hash)) {
            out.vouched = true;
        } else {
            payloads.insert(hash, object);
        }
    }
    if payloads.is_empty() {
        return Ok(());
    }
    // 1. Read each payload's mark (a read unit is a fifth of a write's price): a fresh mark needs
    //    nothing; an old one is touched (conditional on it existing); none, or a refused touch,
    //    means the payload is not stored.
    let marks = mark_times(state, &scope.pk(), payloads.keys().map(String::as_str)).await?;
    let stale_after = now - TOUCH_AFTER_MS;
    let mut missing: Vec<(&String, &&Value)> = Vec::new();
    let mut stale: Vec<(&String, &&Value)> = Vec::new();
    for p in &payloads {
        out.checked.insert(p.0.clone());
        match marks.get(p.0) {
            Some(at) if *at >= stale_after => out.floor = out.floor.min(*at),
            Some(_) => stale.push(p),
            None => missing.push(p),
        }
    }
    if !stale.is_empty() {
        let touches = stale
            .iter()
            .map(|(h, _)| rec::touch_blob_ref(records.key(rec::blob_ref_sk(h)), now))
            .collect();
        let refused_touches = refused(state.table.batch(touches).await?)?;
        out.floor = out.floor.min(now);
        missing.extend(
            stale
                .into_iter()
                .zip(refused_touches)
                .filter_map(|(p, gone)| gone.then_some(p)),
        );
    }
    // 2. Store the missing payloads, then their marks: a mark never exists without its payload.
    if !missing.is_empty() {
        out.floor = out.floor.min(now);
        let blobs = missing
            .iter()
            .map(|(hash, object)| Ok(BlobRecord::new(PayloadOf::new(ws, env, hash), now, object)?.put()))
            .collect::<ServiceResult<Vec<_>>>()?;
        all_written(state.table.batch(blobs).await?)?;
        let marks = missing
            .iter()
            .map(|(hash, _)| {
                let mark = BlobRefRecord {
                    of: PayloadOf::new(ws, env, hash),
                    last_referenced_ms: now,
                    floor_ms: None,
                };
                mark.put()
            })
            .collect();
        all_written(state.table.batch(marks).await?)?;
    }
    out.written += missing.len();
    Ok(())
}

/// The payload marks of `hashes` that exist, with when a backup last referenced each: one read
/// per distinct hash, 16 at a time.
async fn mark_times<'a>(
    state: &AppState,
    pk: &str,
    hashes: impl Iterator<Item = &'a str>,
) -> ServiceResult<BTreeMap<String, i64>> {
    use futures_util::{StreamExt, TryStreamExt};
    let keys: Vec<(Key, String)> = hashes
        .collect::<BTreeSet<&str>>()
        .into_iter()
        .map(|h| (blob_ref_key(pk, h), h.to_owned()))
        .collect();
    let table = &state.table;
    let found: Vec<Option<(String, i64)>> = futures_util::stream::iter(keys)
        .map(|(key, h)| async move {
            let mark = table.get(&key).await?;
            Ok::<_, TableError>(mark.map(|m| (h, m.get(LAST_REFERENCED_MS).and_then(Value::as_i64).unwrap_or(0))))
        })
        .buffer_unordered(16)
        .try_collect()
        .await?;
    Ok(found.into_iter().flatten().collect())
}

/// Which of `hashes` have a payload mark (a mark exists only with its payload).
async fn stored_hashes<'a>(
    state: &AppState,
    pk: &str,
    hashes: impl Iterator<Item = &'a str>,
) -> ServiceResult<BTreeSet<String>> {
    Ok(mark_times(state, pk, hashes).await?.into_keys().collect())
}

pub fn set_api(set: &BackupSetRecord, run: Option<&crate::records::runs::OperationRun>) -> api::BackupSet {
    let run_view = run.map(crate::runs::to_api);
    // Written by each family's capture when some of its items have no stored payload.
    let unreadable = set.unreadable();
    let status = match &run_view {
        Some(r) if r.state != RunState::Completed => BackupSetStatus::Running,
        Some(r) => match r.outcome {
            // Never complete with an unreadable item, whatever the run says.
            Some(RunOutcome::Succeeded) if !unreadable.is_empty() => BackupSetStatus::Partial,
            Some(RunOutcome::Succeeded) => BackupSetStatus::Complete,
            Some(RunOutcome::PartiallySucceeded) => BackupSetStatus::Partial,
            _ => BackupSetStatus::Failed,
        },
        None => BackupSetStatus::Unknown,
    };
    api::BackupSet {
        id: set.set_id.clone(),
        created_ms: set.created_ms,
        families: set.families.clone(),
        state: status,
        status: status.canonical(),
        run: run_view,
        unreadable,
    }
}

/// A set of the scope's environment with its run, `None` when there is no such set.
pub async fn set_view(state: &AppState, scope: &EnvScope, set: &RunId) -> ServiceResult<Option<api::BackupSet>> {
    let Some(rec) = scope
        .records(&state.table)
        .get::<BackupSetRecord>(rec::set_sk(set))
        .await?
    else {
        return Ok(None);
    };
    let run = crate::runs::get(state, set.as_str()).await?;
    Ok(Some(set_api(&rec, run.as_ref())))
}

/// A set's items, `None` when there is no such set.
pub async fn set_items(
    state: &AppState,
    scope: &EnvScope,
    set: &RunId,
) -> ServiceResult<Option<Vec<BackupItemRecord>>> {
    let records = scope.records(&state.table);
    if records.get::<BackupSetRecord>(rec::set_sk(set)).await?.is_none() {
        return Ok(None);
    }
    Ok(Some(items_in(&state.table, &scope.pk(), set, None).await?))
}

/// The items of set `set` in the environment partition `pk` (of one family, or all), read from
/// its family manifests: named by its capture units' records (ADR 0050) or, for a set written
/// before, by its family rows; a set written before manifests has item rows. Nothing when `pk`
/// holds no such set.
pub async fn items_in(
    table: &atlas_store::Table,
    pk: &str,
    set: &RunId,
    family: Option<&str>,
) -> ServiceResult<Vec<BackupItemRecord>> {
    // The set in this partition proves its run's records are this environment's.
    let Some(set_rec) = records::get::<BackupSetRecord>(table, &Key::new(pk, rec::set_sk(set))).await? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    if set_rec.manifests_on_units {
        for f in unit_manifests(table, set.as_str(), family, Read::Strongly).await? {
            out.extend(manifest(table, pk, &f.manifest).await?.into_items(pk, set.as_str()));
        }
        return Ok(out);
    }
    let prefix = match family {
        Some(f) => rec::family_sk(set, f),
        None => rec::contents_of(set),
    };
    for row in table.query_all(Query::partition(pk).begins_with(prefix)).await? {
        match rec::SetRow::from_item(row)? {
            Some(rec::SetRow::Family(f)) if family.is_none_or(|want| f.family == want) => {
                out.extend(manifest(table, pk, &f.manifest).await?.into_items(pk, set.as_str()));
            }
            Some(rec::SetRow::Item(i)) => out.push(i),
            _ => {}
        }
    }
    if let Some(f) = family {
        // A legacy set's items of the family.
        let legacy: Vec<BackupItemRecord> =
            records::query_all(table, Query::partition(pk).begins_with(rec::items_of_family(set, f))).await?;
        out.extend(legacy);
    }
    Ok(out)
}

/// How a read of immutable records may be served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Read {
    /// The set may have ended a moment ago.
    Strongly,
    /// Written hours ago, never changed since (ADR 0049).
    Eventually,
}

/// The manifests the capture units of set `set` recorded (ADR 0050), of one family or all: a
/// unit whose family could not be read names none. The caller has found the set in its
/// environment's partition.
async fn unit_manifests(
    table: &atlas_store::Table,
    set: &str,
    family: Option<&str>,
    read: Read,
) -> ServiceResult<Vec<rec::FamilyManifest>> {
    // A family's unit is listed in the record of the message that carried it (ADR 0056), keyed
    // by that message's first family: one query of the set's few records finds it.
    let units = crate::records::runs::units(table, set, read == Read::Eventually).await?;
    Ok(units
        .iter()
        .filter(|u| family.is_none_or(|f| u.item == f))
        .filter_map(rec::FamilyManifest::of_unit)
        .collect())
}

/// A stored manifest; a family row whose manifest is gone is corrupt (the sweep keeps every
/// manifest a set names).
async fn manifest(table: &atlas_store::Table, pk: &str, hash: &str) -> ServiceResult<rec::Manifest> {
    let blob = records::get::<BlobRecord>(table, &blob_key(pk, hash))
        .await?
        .ok_or_else(|| TableError::Corrupt(format!("backup manifest {hash} is missing")))?;
    Ok(rec::Manifest::from_payload(blob.into_payload()?)?)
}

/// One item of a set.
pub async fn item(
    state: &AppState,
    scope: &EnvScope,
    set: &RunId,
    family: &str,
    item_id: &str,
) -> ServiceResult<Option<BackupItemRecord>> {
    Ok(items_in(&state.table, &scope.pk(), set, Some(family))
        .await?
        .into_iter()
        .find(|i| i.item_id == item_id))
}

/// A payload of the scope's environment as captured, secrets included: redact or diff it with
/// masking before it is shown.
pub async fn payload(state: &AppState, scope: &EnvScope, hash: &str) -> ServiceResult<Option<Value>> {
    Ok(scope
        .records(&state.table)
        .get::<BlobRecord>(rec::blob_sk(hash))
        .await?
        .map(BlobRecord::into_payload)
        .transpose()?)
}

/// Live or captured field changes as the API shows them.
pub fn field_changes(changes: Vec<atlas_domain::diff::Change>) -> Vec<api::FieldChange> {
    changes
        .into_iter()
        .map(|c| api::FieldChange {
            path: c.path,
            before: c.before,
            after: c.after,
            secret: c.secret,
        })
        .collect()
}

/// Added, removed and changed objects from set `from` to set `to`, with field-level changes
/// (secret-looking values masked).
pub async fn diff(state: &AppState, scope: &EnvScope, from: &RunId, to: &RunId) -> ServiceResult<api::BackupDiff> {
    let by_key = |items: Vec<BackupItemRecord>| -> BTreeMap<(String, String), api::BackupItem> {
        items
            .iter()
            .map(|i| ((i.family.clone(), i.item_id.clone()), api::BackupItem::from(i)))
            .collect()
    };
    let a = by_key(set_items(state, scope, from).await?.ok_or(ServiceError::NotFound)?);
    let b = by_key(
        set_items(state, scope, to)
            .await?
            .ok_or_else(|| ServiceError::field("query.with", "is not a backup set of this environment"))?,
    );
    // Captured as written, secrets included: only ever diffed with masking.
    let payload = |hash: String| async move { payload(state, scope, &hash).await?.ok_or(ServiceError::NotFound) };
    let mut out = api::BackupDiff {
        from: from.to_string(),
        to: to.to_string(),
        added: vec![],
        removed: vec![],
        changed: vec![],
        unchanged: 0,
    };
    for (k, item) in &b {
        match a.get(k) {
            None => out.added.push(item.clone()),
            Some(old) if old.hash == item.hash => out.unchanged += 1,
            Some(old) => {
                let before = payload(old.hash.clone()).await?;
                let after = payload(item.hash.clone()).await?;
                out.changed.push(api::ChangedItem {
                    item: item.clone(),
                    fields: field_changes(atlas_domain::diff::diff_redacted(&before, &after)),
                });
            }
        }
    }
    out.removed = a
        .iter()
        .filter(|(k, _)| !b.contains_key(*k))
        .map(|(_, v)| v.clone())
        .collect();
    Ok(out)
}

/// The sets of an environment, newest first.
pub async fn sets(state: &AppState, scope: &EnvScope) -> ServiceResult<Vec<api::BackupSet>> {
    sets_of(state, &scope.pk()).await
}

async fn sets_of(state: &AppState, pk: &str) -> ServiceResult<Vec<api::BackupSet>> {
    let sets: Vec<BackupSetRecord> =
        records::query_all(&state.table, Query::partition(pk).begins_with(rec::SETS).backward()).await?;
    let mut out = Vec::with_capacity(sets.len());
    for set in sets {
        let run = crate::runs::get(state, &set.set_id).await?;
        out.push(set_api(&set, run.as_ref()));
    }
    Ok(out)
}

/// Deletes a set and its items, then sweeps the payloads nothing references. Idempotent.
pub async fn delete_set(state: &AppState, scope: &EnvScope, set_id: &RunId) -> ServiceResult<usize> {
    let n = delete_set_items(state, scope, set_id).await?;
    sweep_payloads(state, &scope.pk()).await?;
    Ok(n)
}

async fn delete_set_items(state: &AppState, scope: &EnvScope, set_id: &RunId) -> ServiceResult<usize> {
    let records = scope.records(&state.table);
    let rows = state.table.query_all(records.query(rec::contents_of(set_id))).await?;
    let mut n = 0;
    if let Some(set) = records.get::<BackupSetRecord>(rec::set_sk(set_id)).await?
        && set.manifests_on_units
    {
        // Its families are its run's records, which stay as the run's history.
        let units = unit_manifests(&state.table, set_id.as_str(), None, Read::Strongly).await?;
        n += units.iter().map(|f| f.items).sum::<usize>();
    }
    for row in &rows {
        n += match rec::SetRow::from_item(row.clone())? {
            Some(rec::SetRow::Family(f)) => f.items,
            Some(rec::SetRow::Item(_)) => 1,
            None => 0,
        };
    }
    let keys = rows
        .iter()
        .filter_map(|r| Some(Key::new(r.get("PK")?.as_str()?, r.get("SK")?.as_str()?)));
    for page in keys.collect::<Vec<_>>().chunks(PAGE) {
        let deletes = page
            .iter()
            .map(|key| TxItem::Delete {
                key: key.clone(),
                cond: None,
            })
            .collect();
        all_written(state.table.batch(deletes).await?)?;
    }
    state.table.delete(&records.key(rec::set_sk(set_id)), None).await?;
    Ok(n)
}

/// Deletes the payloads of the environment `pk` that no backup item references and no backup
/// referenced within [`PAYLOAD_GRACE_MS`]. Returns how many it deleted.
pub async fn sweep_payloads(state: &AppState, pk: &str) -> ServiceResult<usize> {
    sweep_payloads_with(state, pk, || async {}).await
}

/// [`sweep_payloads`], awaiting `between` after reading what is referenced and before deleting:
/// tests run a backup there to prove the interleaving cannot lose a payload.
pub async fn sweep_payloads_with<F, Fut>(state: &AppState, pk: &str, between: F) -> ServiceResult<usize>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ()>,
{
    let cutoff = state.clock.now_millis() - PAYLOAD_GRACE_MS;
    // Every set's manifests, and the payloads they list (each distinct manifest read once).
    let mut referenced: BTreeSet<String> = BTreeSet::new();
    let mut manifests: BTreeSet<String> = BTreeSet::new();
    // Sets since ADR 0050 name their manifests on their capture units' records (a running set's
    // too: a unit records its manifest when it ends).
    let sets: Vec<BackupSetRecord> =
        records::query_all(&state.table, Query::partition(pk).begins_with(rec::SETS)).await?;
    for set in sets.iter().filter(|s| s.manifests_on_units) {
        let units = unit_manifests(&state.table, &set.set_id, None, Read::Strongly).await?;
        manifests.extend(units.into_iter().map(|f| f.manifest));
    }
    for row in state
        .table
        .query_all(Query::partition(pk).begins_with(rec::ITEMS))
        .await?
    {
        match rec::SetRow::from_item(row)? {
            Some(rec::SetRow::Family(f)) => {
                manifests.insert(f.manifest);
            }
            Some(rec::SetRow::Item(i)) => {
                referenced.insert(i.hash);
            }
            None => {}
        }
    }
    for hash in manifests {
        // Gone only if another sweep found it unreferenced (a backup naming it keeps its mark
        // fresh): nothing of it is left to protect.
        if let Some(blob) = records::get::<BlobRecord>(&state.table, &blob_key(pk, &hash)).await? {
            referenced.extend(
                rec::Manifest::from_payload(blob.into_payload()?)?
                    .items
                    .into_iter()
                    .map(|(_, _, h)| h),
            );
        }
        referenced.insert(hash);
    }
    // Baseline snapshots share the payloads of the backups they were captured from.
    let snapshot_items = Query::partition(pk).begins_with(crate::records::drift::SNAPSHOT_ITEMS);
    referenced.extend(
        records::query_all::<crate::records::drift::SnapshotItem>(&state.table, snapshot_items)
            .await?
            .into_iter()
            .map(|i| i.hash),
    );
    let stale: Vec<String> =
        records::query_all::<BlobRefRecord>(&state.table, Query::partition(pk).begins_with(rec::BLOB_REFS))
            .await?
            .into_iter()
            .filter(|m| m.last_referenced_ms < cutoff && !referenced.contains(&m.of.hash))
            .map(|m| m.of.hash)
            .collect();
    between().await;
    let mut deleted = 0;
    for hash in stale {
        // Conditional on the mark still being stale: a backup that touched it since keeps it.
        let still_stale = Some(rec::older_than(LAST_REFERENCED_MS, cutoff));
        match state.table.delete(&blob_ref_key(pk, &hash), still_stale).await {
            Ok(_) => {}
            Err(TableError::ConditionFailed) => continue,
            Err(e) => return Err(e.into()),
        }
        // The mark is gone, so a backup now writes the payload afresh (`written_ms` after the
        // cutoff) rather than relying on this copy: only an old copy is deleted.
        let old_copy = Some(rec::older_than(WRITTEN_MS, cutoff));
        match state.table.delete(&blob_key(pk, &hash), old_copy).await {
            Ok(_) => deleted += 1,
            Err(TableError::ConditionFailed) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(deleted)
}

/// After a capture run ended: starts the schedule's retention (once), so pruning never overlaps
/// the backup it follows. Safe to call again, from any delivery of the run's messages.
pub async fn settle(state: &AppState, run_id: &str) -> ServiceResult<()> {
    let Some(run) = crate::runs::get_plain(state, run_id).await? else {
        return Ok(());
    };
    if run.status != RunState::Completed {
        return Ok(());
    }
    let Ok(set_id) = RunId::parse(run_id) else {
        return Ok(());
    };
    // The run names its workspace and environment; the set lives in that environment.
    let Some(scope) = crate::runs::scope_of(state, &run).await? else {
        return Ok(());
    };
    let set_key = scope.records(&state.table).key(rec::set_sk(&set_id));
    let Some(set) = records::get::<BackupSetRecord>(&state.table, &set_key).await? else {
        return Ok(());
    };
    if let Some(baseline) = &set.baseline {
        // A fresh baseline capture: the snapshot is taken from this set (idempotent per set).
        let from = atlas_api_types::SnapshotCreate {
            from_backup_set_id: Some(set.set_id.clone()),
        };
        match crate::drift::baselines::capture(state, scope.workspace(), baseline, &from).await {
            Ok(s) => {
                tracing::info!(baseline = %baseline, number = s.number, "baseline snapshot captured from its backup")
            }
            Err(e @ (ServiceError::Conflict(_) | ServiceError::NotFound | ServiceError::Invalid(_))) => {
                tracing::warn!(baseline = %baseline, error = %e, "no baseline snapshot from this backup")
            }
            Err(e) => return Err(e),
        }
    }
    if let Some(promotion) = &set.promotion {
        crate::promotion::after_pre_backup(state, &scope, promotion, &run).await?;
    }
    let Some(retention) = set.retention() else {
        return Ok(());
    };
    if set.prune_run.is_some() {
        return Ok(());
    }
    let units = vec![("prune".to_owned(), retention.clone())];
    let started = crate::runs::start(
        state,
        &scope,
        atlas_domain::OperationType::BackupPrune,
        "backup-prune",
        units,
        10 * 60_000,
    )
    .await?;
    let update = rec::set_prune_run(started.run.run_id.as_str());
    state.table.update(&set_key, &update, Some(Cond::Exists)).await?;
    Ok(())
}

/// Retention rules (a schedule's `keep_last`, `keep_days`, `keep_partial`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Retention {
    /// Keep the newest N good sets, and everything newer than the Nth.
    pub keep_last: Option<u32>,
    /// Keep every set younger than this many days.
    pub keep_days: Option<u32>,
    /// Partial sets count as good for `keep_last` (by default only complete ones do).
    pub keep_partial: bool,
}

impl Retention {
    pub fn of(v: &Value) -> Self {
        let keep = |k: &str| {
            v.get(k)
                .and_then(Value::as_u64)
                .map(|v| v.min(u64::from(u32::MAX)) as u32)
        };
        Self {
            keep_last: keep("keep_last"),
            keep_days: keep("keep_days"),
            keep_partial: v.get("keep_partial").and_then(Value::as_bool).unwrap_or(false),
        }
    }
}

/// The sets (newest first) that retention deletes. `keep_last` counts complete sets (and partial
/// ones under `keep_partial`) and keeps every set newer than the last one it keeps, so failed or
/// empty sets never push a good set out; the newest complete set and unfinished sets are kept
/// whatever the rules say.
pub fn to_prune(sets: &[api::BackupSet], rules: Retention, now_ms: i64) -> Vec<String> {
    if rules.keep_last.is_none() && rules.keep_days.is_none() {
        return Vec::new();
    }
    let good = |s: &api::BackupSet| {
        s.state == BackupSetStatus::Complete || (rules.keep_partial && s.state == BackupSetStatus::Partial)
    };
    let newest_complete = sets.iter().position(|s| s.state == BackupSetStatus::Complete);
    let mut counted = 0u32;
    let mut out = Vec::new();
    for (i, set) in sets.iter().enumerate() {
        let window_open = rules.keep_last.is_some_and(|n| counted < n);
        if good(set) {
            counted += 1;
        }
        let within_last = window_open;
        let within_days = rules
            .keep_days
            .is_some_and(|d| now_ms - set.created_ms < i64::from(d) * 86_400_000);
        let unfinished = matches!(set.state, BackupSetStatus::Running | BackupSetStatus::Unknown);
        if !(within_last || within_days || unfinished || newest_complete == Some(i)) {
            out.push(set.id.clone());
        }
    }
    out
}

/// Retention: deletes the sets [`to_prune`] names, then sweeps payloads. Returns the deleted ids.
pub async fn prune(state: &AppState, scope: &EnvScope, rules: Retention) -> ServiceResult<Vec<String>> {
    let pk = scope.pk();
    let doomed = to_prune(&sets_of(state, &pk).await?, rules, state.clock.now_millis());
    for id in &doomed {
        let set = RunId::parse(id).map_err(|e| ServiceError::Permanent(format!("backup set {id}: {e}")))?;
        delete_set_items(state, scope, &set).await?;
    }
    if !doomed.is_empty() {
        sweep_payloads(state, &pk).await?;
    }
    Ok(doomed)
}

/// How long a capture run may take before the reconciler calls it stuck.
pub const CAPTURE_DEADLINE_MS: i64 = 2 * 60 * 60 * 1000;

/// The set a capture run fills.
/// A capture run over `families` whose set record is written in the same commit as the run, so
/// a completed backup is always listed.
///
/// `retention` (a schedule's rules) is kept on the set and applied once the run ended.
pub fn capture_start(
    state: &AppState,
    scope: &EnvScope,
    families: &[String],
    retention: Option<Value>,
) -> crate::runs::Start {
    capture_start_with(state, scope, families, retention, |_| {})
}

/// The target's backup before a promotion's cutover: once it settles, the cutover goes on.
pub fn capture_start_for_promotion(
    state: &AppState,
    scope: &EnvScope,
    families: &[String],
    promotion: &str,
) -> crate::runs::Start {
    capture_start_with(state, scope, families, None, |set| {
        set.promotion = Some(promotion.to_owned())
    })
}

/// A backup whose set, once complete, becomes a snapshot of the baseline `baseline`.
pub fn capture_start_for_baseline(
    state: &AppState,
    scope: &EnvScope,
    families: &[String],
    baseline: &str,
) -> crate::runs::Start {
    capture_start_with(state, scope, families, None, |set| {
        set.baseline = Some(baseline.to_owned())
    })
}

fn capture_start_with(
    state: &AppState,
    scope: &EnvScope,
    families: &[String],
    retention: Option<Value>,
    follow: impl FnOnce(&mut BackupSetRecord),
) -> crate::runs::Start {
    let units = families.iter().map(|code| (code.clone(), json!({}))).collect();
    let start = crate::runs::Start::new(
        state,
        atlas_domain::OperationType::BackupCapture,
        "backup-capture",
        units,
        CAPTURE_DEADLINE_MS,
    )
    .grouped(FAMILIES_PER_MESSAGE);
    let mut set = BackupSetRecord::new(
        scope.workspace().workspace_id(),
        scope.environment_id(),
        &start.id,
        families,
        state.clock.now_millis(),
        retention,
    );
    follow(&mut set);
    start.also(vec![set.create()], "the backup set already exists")
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    fn set(id: &str, status: &str, age_days: i64) -> api::BackupSet {
        let status = BackupSetStatus::parse(status).expect("a set status");
        api::BackupSet {
            id: id.into(),
            created_ms: 100 * DAY - age_days * DAY,
            families: vec![],
            state: status,
            status: status.canonical(),
            run: None,
            unreadable: vec![],
        }
    }

    fn prune(
        sets: &[api::BackupSet],
        keep_last: Option<u32>,
        keep_days: Option<u32>,
        keep_partial: bool,
    ) -> Vec<String> {
        let rules = Retention {
            keep_last,
            keep_days,
            keep_partial,
        };
        to_prune(sets, rules, 100 * DAY)
    }

    #[test]
    fn failed_and_partial_sets_never_push_a_complete_one_out() {
        let sets = [
            set("f2", "failed", 0),
            set("f1", "failed", 1),
            set("p1", "partial", 2),
            set("c2", "complete", 3),
            set("c1", "complete", 4),
            set("f0", "failed", 5),
        ];
        assert_eq!(prune(&sets, Some(1), None, false), ["c1", "f0"]);
        // Partial sets count only when the policy says so; the newest complete set stays anyway.
        assert_eq!(prune(&sets, Some(1), None, true), ["c1", "f0"]);
        assert_eq!(prune(&sets[..5], Some(1), None, true), ["c1"]);
        assert_eq!(prune(&sets, Some(2), None, false), ["f0"]);
        // Nothing good yet: nothing to make room for.
        assert!(prune(&sets[..3], Some(1), None, false).is_empty());
    }

    #[test]
    fn the_newest_complete_set_and_running_ones_are_always_kept() {
        let sets = [
            set("r", "running", 10),
            set("f", "failed", 30),
            set("c2", "complete", 31),
            set("c1", "complete", 32),
        ];
        // Everything is older than 7 days, yet the newest complete set and the running one stay.
        assert_eq!(prune(&sets, None, Some(7), false), ["f", "c1"]);
        // The failed set is newer than the set keep_last keeps: kept.
        assert_eq!(prune(&sets, Some(1), Some(25), false), ["c1"]);
        assert!(prune(&sets, None, None, false).is_empty(), "no rule, no pruning");
    }
}
