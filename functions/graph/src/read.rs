//! Full reads of a policy family, for backups: every object with its assignments, by the cheapest
//! route Graph offers — the list with `$expand=assignments` where it can, else `$batch` (20 per
//! call, failed items retried one by one) for the assignments, or for the whole object when the
//! list leaves content out (scripts).
//!
//! The list is read to its end or not at all (`$count=true` is compared with what the pages held).
//! Per-object reads fail per object: an item that stays throttled after the batch client's retries
//! is sent once more after the rest of its chunk (20 objects), and if it still fails it is reported on its own
//! while the family's other objects stand. Only a refusal that concerns the whole family (401, 403)
//! fails the family.

use std::collections::BTreeMap;

use serde_json::Value;
use tracing::Instrument;

use crate::families::{AssignmentsRead, Family};
use crate::{ApiVersion, BatchRequest, BatchResponse, GraphError, TenantClient};

/// Listed objects per chunk of per-object reads: one full `$batch`.
const PIPELINE_CHUNK: usize = crate::MAX_BATCH;

/// One family read in full.
#[derive(Debug, Default)]
pub struct FamilyRead {
    /// Every object the list named and whose own reads all succeeded: content, assignments, settings.
    pub objects: Vec<Value>,
    /// Objects the list named whose own reads still failed at the end; never in `objects`.
    pub failed: Vec<FailedObject>,
}

/// Named objects read one by one ([`TenantClient::read_objects`]).
#[derive(Debug, Default)]
pub struct ObjectsRead {
    pub objects: Vec<Value>,
    /// Ids whose GET answered 404: deleted.
    pub gone: Vec<String>,
    pub failed: Vec<FailedObject>,
}

/// An object that could not be read in full, and why.
#[derive(Debug)]
pub struct FailedObject {
    pub id: String,
    pub name: String,
    pub error: GraphError,
}

/// Whether an object that a list left out still exists, by its own GET.
#[derive(Debug)]
pub enum Presence {
    /// 404: deleted.
    Gone,
    /// The GET found it: the list was short.
    Present,
    /// The GET failed otherwise (throttled, 5xx …): no proof either way.
    Unconfirmed(GraphError),
}

/// An error that says the whole family cannot be read (the credential or the permission), not one item.
fn fails_family(e: &GraphError) -> bool {
    matches!(e, GraphError::Auth(_)) || matches!(e.status(), Some(401 | 403))
}

impl TenantClient {
    /// Every object of `family`, complete, or an error: never a list missing an object or an
    /// object missing its assignments. Objects whose per-object reads failed are in `failed`.
    ///
    /// Pipelined: as pages arrive, their objects' own reads (content, assignments, settings) start
    /// in chunks of one `$batch` each while later pages are still being read. Every request still
    /// goes through the tenant's budget and in-flight limit, so this fills the budget sooner but
    /// never past it.
    pub async fn read_family(&self, family: &Family) -> Result<FamilyRead, GraphError> {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let failed = self.read_family_into(family, tx).await?;
        let mut pieces: Vec<(usize, Vec<Value>)> = Vec::new();
        while let Some(piece) = rx.recv().await {
            pieces.push(piece);
        }
        pieces.sort_by_key(|(base, _)| *base);
        let objects = pieces.into_iter().flat_map(|(_, objects)| objects).collect();
        Ok(FamilyRead { objects, failed })
    }

    /// [`Self::read_family`], handing each piece of complete objects to `sink` the moment its
    /// reads are done — a list page when the family needs no per-object reads, else a chunk of
    /// one `$batch` — tagged with its first object's position in the list, so a caller can store
    /// while the rest is still being read. Returns the objects that could not be read in full
    /// (never in a piece). On an error the pieces already handed over are not the whole family.
    pub async fn read_family_into(
        &self,
        family: &Family,
        sink: tokio::sync::mpsc::UnboundedSender<(usize, Vec<Value>)>,
    ) -> Result<Vec<FailedObject>, GraphError> {
        let per_object_work =
            family.refetch_items || family.assignments == AssignmentsRead::Batch || family.settings.is_some();
        let mut pages = self.list_pages(&family.counted_list_query())?;
        // Objects listed but not yet handed to a chunk.
        let mut pending: Vec<Value> = Vec::new();
        let mut chunks = tokio::task::JoinSet::new();
        let mut spawn = |base: usize, chunk: Vec<Value>| {
            let (client, family, sink) = (self.clone(), *family, sink.clone());
            chunks.spawn(
                async move {
                    let mut chunk = chunk;
                    let mut failed = BTreeMap::new();
                    client.read_objects_of(&family, &mut chunk, &mut failed).await?;
                    let (ok, bad) = split_failed(chunk, failed);
                    // A closed sink means the caller stopped listening: nothing left to do.
                    let _ = sink.send((base, ok));
                    Ok::<_, GraphError>((base, bad))
                }
                .instrument(tracing::Span::current()),
            );
        };
        let mut next_base = 0;
        while let Some(page) = pages.next_page().await? {
            if !per_object_work {
                let n = page.len();
                let _ = sink.send((next_base, page));
                next_base += n;
                continue;
            }
            pending.extend(page);
            while pending.len() >= PIPELINE_CHUNK {
                let rest = pending.split_off(PIPELINE_CHUNK);
                spawn(next_base, std::mem::replace(&mut pending, rest));
                next_base += PIPELINE_CHUNK;
            }
        }
        if !pending.is_empty() {
            spawn(next_base, std::mem::take(&mut pending));
        }
        let mut failed = Vec::new();
        while let Some(joined) = chunks.join_next().await {
            failed.push(joined.map_err(|e| GraphError::InvalidInput(format!("a read task ended: {e}")))??);
        }
        // In list order, as a whole read reports them.
        failed.sort_by_key(|(base, _)| *base);
        Ok(failed.into_iter().flat_map(|(_, bad)| bad).collect())
    }

    /// The per-object reads of listed objects: content or assignments, then settings.
    async fn read_objects_of(
        &self,
        family: &Family,
        objects: &mut [Value],
        failed: &mut BTreeMap<usize, GraphError>,
    ) -> Result<(), GraphError> {
        let per_object: Vec<(usize, String)> = objects
            .iter()
            .enumerate()
            .filter_map(|(i, o)| {
                let url = if family.refetch_items {
                    family.refetch_batch_url(o.get("id")?.as_str()?)
                } else if family.assignments == AssignmentsRead::Batch {
                    family.object_assignments_batch_url(o)?
                } else {
                    return None;
                };
                Some((i, url))
            })
            .collect();
        if !per_object.is_empty() {
            self.read_per_object(family, objects, per_object, failed).await?;
        }
        self.read_settings_into(family, objects, failed).await
    }

    /// The objects `ids` of `family`, each read as [`TenantClient::read_family`] reads it (content,
    /// assignments, settings), for a change feed that names what changed: an object whose GET
    /// answers 404 is in `gone`, one whose reads still failed is in `failed`.
    pub async fn read_objects(&self, family: &Family, ids: &[String]) -> Result<ObjectsRead, GraphError> {
        let assignments_later = !family.refetch_items && family.assignments == AssignmentsRead::Batch;
        let requests = ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let url = if assignments_later {
                    match family.expand {
                        Some(e) => format!("{}/{id}?$expand={e}", family.collection),
                        None => format!("{}/{id}", family.collection),
                    }
                } else {
                    family.refetch_batch_url(id)
                };
                BatchRequest::get(i.to_string(), url)
            })
            .collect();
        let mut out = ObjectsRead::default();
        let mut read: Vec<Value> = Vec::new();
        for answer in self.batch_with_second_pass(family.version, requests).await? {
            let Some(id) = answer.id.parse::<usize>().ok().and_then(|i| ids.get(i)) else {
                continue;
            };
            match answer.result {
                Ok(item) => {
                    let mut body = item.body;
                    if let Some(map) = body.as_object_mut() {
                        map.remove("@odata.context");
                    }
                    read.push(body);
                }
                Err(e) if e.is_not_found() => out.gone.push(id.clone()),
                Err(e) if fails_family(&e) => return Err(e),
                Err(e) => out.failed.push(FailedObject {
                    id: id.clone(),
                    name: String::new(),
                    error: e,
                }),
            }
        }
        let mut failed: BTreeMap<usize, GraphError> = BTreeMap::new();
        if assignments_later {
            let per_object = read
                .iter()
                .enumerate()
                .filter_map(|(i, o)| Some((i, family.object_assignments_batch_url(o)?)))
                .collect::<Vec<_>>();
            if !per_object.is_empty() {
                self.read_per_object(family, &mut read, per_object, &mut failed).await?;
            }
        }
        self.read_settings_into(family, &mut read, &mut failed).await?;
        let (objects, failed) = split_failed(read, failed);
        out.objects = objects;
        out.failed.extend(failed);
        Ok(out)
    }

    /// For each id a complete-looking list left out: does the object's own GET (batched) answer 404?
    /// Only that is proof of a deletion; a list that ended early leaves out objects that still exist.
    pub async fn confirm_absent(&self, family: &Family, ids: &[String]) -> Result<Vec<(String, Presence)>, GraphError> {
        let requests = ids
            .iter()
            .enumerate()
            .map(|(i, id)| BatchRequest::get(i.to_string(), format!("{}/{id}", family.collection)))
            .collect();
        let answers = self.batch_with_second_pass(family.version, requests).await?;
        Ok(ids
            .iter()
            .cloned()
            .zip(answers)
            .map(|(id, a)| {
                let presence = match a.result {
                    Ok(_) => Presence::Present,
                    Err(e) if e.is_not_found() => Presence::Gone,
                    Err(e) => Presence::Unconfirmed(e),
                };
                (id, presence)
            })
            .collect())
    }

    /// `batch`, then the items that failed transiently (still throttled, 5xx, timed out) once more
    /// after all the others: a hot item gets time to cool off without holding up its neighbours.
    async fn batch_with_second_pass(
        &self,
        version: ApiVersion,
        requests: Vec<BatchRequest>,
    ) -> Result<Vec<BatchResponse>, GraphError> {
        let mut answers = self.batch(version, requests.clone()).await?;
        let again: Vec<usize> = answers
            .iter()
            .enumerate()
            .filter(|(_, a)| a.result.as_ref().is_err_and(is_transient))
            .map(|(i, _)| i)
            .collect();
        if again.is_empty() {
            return Ok(answers);
        }
        let retry = again.iter().map(|&i| requests[i].clone()).collect();
        for (i, answer) in again.into_iter().zip(self.batch(version, retry).await?) {
            answers[i] = answer;
        }
        Ok(answers)
    }

    async fn read_per_object(
        &self,
        family: &Family,
        objects: &mut [Value],
        per_object: Vec<(usize, String)>,
        failed: &mut BTreeMap<usize, GraphError>,
    ) -> Result<(), GraphError> {
        let requests = per_object
            .iter()
            .map(|(i, url)| BatchRequest::get(i.to_string(), url.clone()))
            .collect();
        for answer in self.batch_with_second_pass(family.version, requests).await? {
            let Ok(i) = answer.id.parse::<usize>() else {
                continue;
            };
            let item = match answer.result {
                Ok(item) => item,
                Err(e) if fails_family(&e) => return Err(e),
                Err(e) => {
                    failed.insert(i, e);
                    continue;
                }
            };
            let Some(object) = objects.get_mut(i) else {
                continue;
            };
            if family.refetch_items {
                let mut body = item.body;
                if let Some(map) = body.as_object_mut() {
                    map.remove("@odata.context");
                }
                *object = body;
            } else if let Some(map) = object.as_object_mut() {
                let value = item.body.get("value").cloned().unwrap_or(Value::Array(vec![]));
                map.insert("assignments".into(), value);
            }
        }
        Ok(())
    }

    /// Reads what the object's own GET leaves out — settings catalog and intent `settings`, ADMX
    /// `definitionValues` with their `presentationValues` — into each object, under the same name.
    /// A restore writes them back; without them a policy would come back empty. Any failure fails.
    pub async fn read_settings(&self, family: &Family, objects: &mut [Value]) -> Result<(), GraphError> {
        let mut failed = BTreeMap::new();
        self.read_settings_into(family, objects, &mut failed).await?;
        match failed.into_values().next() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// [`TenantClient::read_settings`], with per-object failures put in `failed` (objects already
    /// there are skipped).
    async fn read_settings_into(
        &self,
        family: &Family,
        objects: &mut [Value],
        failed: &mut BTreeMap<usize, GraphError>,
    ) -> Result<(), GraphError> {
        let Some(settings) = family.settings else {
            return Ok(());
        };
        let requests: Vec<BatchRequest> = objects
            .iter()
            .enumerate()
            .filter(|(i, _)| !failed.contains_key(i))
            // Already expanded by the list: nothing to read.
            .filter(|(_, o)| !o.get(settings.path).is_some_and(Value::is_array))
            .filter_map(|(i, o)| {
                let id = o.get("id")?.as_str()?;
                let mut url = format!("{}/{id}/{}", family.collection, settings.path);
                if !settings.query.is_empty() {
                    url = format!("{url}?{}", settings.query);
                }
                Some(BatchRequest::get(i.to_string(), url))
            })
            .collect();
        if !requests.is_empty() {
            for answer in self.batch_with_second_pass(family.version, requests).await? {
                let Ok(i) = answer.id.parse::<usize>() else {
                    continue;
                };
                let item = match answer.result {
                    Ok(item) => item,
                    Err(e) if fails_family(&e) => return Err(e),
                    Err(e) => {
                        failed.insert(i, e);
                        continue;
                    }
                };
                if let Some(map) = objects.get_mut(i).and_then(Value::as_object_mut) {
                    let value = item.body.get("value").cloned().unwrap_or(Value::Array(vec![]));
                    map.insert(settings.path.into(), value);
                }
            }
        }
        let Some((child, query)) = settings.per_child else {
            return Ok(());
        };
        // ADMX: each definition value's presentation values, one batch item per value.
        let mut requests = Vec::new();
        for (i, o) in objects.iter().enumerate() {
            if failed.contains_key(&i) {
                continue;
            }
            let Some(id) = o.get("id").and_then(Value::as_str) else {
                continue;
            };
            for (j, v) in o[settings.path].as_array().into_iter().flatten().enumerate() {
                let Some(vid) = v.get("id").and_then(Value::as_str) else {
                    continue;
                };
                let url = format!("{}/{id}/{}/{vid}/{child}?{query}", family.collection, settings.path);
                requests.push(BatchRequest::get(format!("{i}.{j}"), url));
            }
        }
        if requests.is_empty() {
            return Ok(());
        }
        for answer in self.batch_with_second_pass(family.version, requests).await? {
            let Some((i, j)) = answer.id.split_once('.') else {
                continue;
            };
            let (Ok(i), Ok(j)) = (i.parse::<usize>(), j.parse::<usize>()) else {
                continue;
            };
            let item = match answer.result {
                Ok(item) => item,
                Err(e) if fails_family(&e) => return Err(e),
                Err(e) => {
                    failed.entry(i).or_insert(e);
                    continue;
                }
            };
            if let Some(v) = objects.get_mut(i).and_then(|o| o[settings.path].get_mut(j))
                && let Some(map) = v.as_object_mut()
            {
                let value = item.body.get("value").cloned().unwrap_or(Value::Array(vec![]));
                map.insert(child.into(), value);
            }
        }
        Ok(())
    }
}

/// The objects read in full, and those whose reads failed (by index in `objects`), with why.
fn split_failed(objects: Vec<Value>, mut failed: BTreeMap<usize, GraphError>) -> (Vec<Value>, Vec<FailedObject>) {
    let mut ok = Vec::with_capacity(objects.len());
    let mut bad = Vec::new();
    for (i, object) in objects.into_iter().enumerate() {
        match failed.remove(&i) {
            Some(error) => bad.push(FailedObject {
                id: str_field(&object, &["id"]),
                name: str_field(&object, &["displayName", "name"]),
                error,
            }),
            None => ok.push(object),
        }
    }
    (ok, bad)
}

/// Worth one more try later: still throttled, a 5xx, a timeout or a dropped connection.
fn is_transient(e: &GraphError) -> bool {
    match e {
        GraphError::Throttled(_) | GraphError::Timeout { .. } | GraphError::Network { .. } => true,
        GraphError::Http(r) => r.status >= 500,
        _ => false,
    }
}

fn str_field(v: &Value, keys: &[&str]) -> String {
    keys.iter()
        .find_map(|k| v.get(*k).and_then(Value::as_str))
        .unwrap_or_default()
        .to_owned()
}
