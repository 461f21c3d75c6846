//! JSON batching: up to 20 requests per `$batch`, each answered (and throttled) on its own.
//!
//! Items that come back 429/5xx are set aside until their `Retry-After` (or backoff) has passed and
//! then re-sent with whatever is queued, while the other items go on; a 429 also pauses the tenant.
//! A GET whose body carries `@odata.nextLink` has its next page queued as another item and the pages
//! are merged, so an item's body is the whole collection or an error, never a prefix.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use reqwest::Method;
use serde_json::{Map, Value, json};
use tracing::{debug, warn};

use crate::client::{Cost, Prepared, ResponseMeta, TenantClient, status_error};
use crate::retry::{full_jitter, is_repeatable, is_retryable_status, parse_retry_after};
use crate::{ApiVersion, GraphError};

/// Graph's limit on requests per `$batch`.
pub const MAX_BATCH: usize = 20;
/// `$batch` calls of reads one [`TenantClient::batch`] keeps in flight. At Graph's 100–300 ms round
/// trip one call at a time moves at most 20 items per round trip; the tenant's in-flight limit
/// and budget bound the total across calls.
pub const BATCHES_IN_FLIGHT: usize = 4;

#[derive(Debug, Clone)]
pub struct BatchRequest {
    /// Unique (case-insensitively) within one call to [`TenantClient::batch`].
    pub id: String,
    pub method: Method,
    /// Relative to the version: `/deviceManagement/configurationPolicies/{id}/assignments`.
    pub url: String,
    pub headers: BTreeMap<String, String>,
    pub body: Option<Value>,
}

impl BatchRequest {
    pub fn new(id: impl Into<String>, method: Method, url: impl Into<String>) -> Self {
        BatchRequest {
            id: id.into(),
            method,
            url: url.into(),
            headers: BTreeMap::new(),
            body: None,
        }
    }

    pub fn get(id: impl Into<String>, url: impl Into<String>) -> Self {
        Self::new(id, Method::GET, url)
    }

    pub fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(name.into(), value.into());
        self
    }
}

/// One item's outcome, in the order the requests were given.
#[derive(Debug)]
pub struct BatchResponse {
    pub id: String,
    pub result: Result<BatchItem, GraphError>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BatchItem {
    pub status: u16,
    /// Header names in lower case.
    pub headers: BTreeMap<String, String>,
    /// For a paged GET: the first page's envelope with every page's `value` and no nextLink.
    pub body: Value,
    /// How many pages made up `body` (1 unless the item was paged).
    pub pages: u32,
}

/// One wire request: an original item, a retry of it, or the next page of it.
struct Pending {
    item: usize,
    method: Method,
    url: String,
    headers: BTreeMap<String, String>,
    body: Option<Value>,
    retry: u32,
}

/// Pages collected so far for a paged GET item.
#[derive(Default)]
struct Pages {
    first: Option<Map<String, Value>>,
    headers: BTreeMap<String, String>,
    values: Vec<Value>,
    count: u32,
    seen_links: HashSet<String>,
}

impl TenantClient {
    /// Runs `requests` as `$batch` calls of at most 20 against `version`. The outer call fails only when
    /// a whole `$batch` does (after its own retries); everything else is per item.
    pub async fn batch(
        &self,
        version: ApiVersion,
        requests: Vec<BatchRequest>,
    ) -> Result<Vec<BatchResponse>, GraphError> {
        let mut ids = HashSet::new();
        let mut queue = VecDeque::with_capacity(requests.len());
        for (item, r) in requests.iter().enumerate() {
            if r.id.is_empty() || !ids.insert(r.id.to_ascii_lowercase()) {
                return Err(GraphError::InvalidInput(format!(
                    "batch id {:?} is empty or repeated",
                    r.id
                )));
            }
            queue.push_back(Pending {
                item,
                method: r.method.clone(),
                url: self
                    .batch_relative_url(version, &r.url)
                    .map_err(GraphError::InvalidInput)?,
                headers: r.headers.clone(),
                body: r.body.clone(),
                retry: 0,
            });
        }
        let batch_path = format!("/{}/$batch", version.as_str());
        let batch_url = self.resolve(&batch_path)?;
        let config = self.config().clone();
        let mut results: Vec<Option<Result<BatchItem, GraphError>>> = requests.iter().map(|_| None).collect();
        let mut pages: HashMap<usize, Pages> = HashMap::new();
        // Items waiting out a retry delay, with the time they may be sent again.
        let mut deferred: Vec<(tokio::time::Instant, Pending)> = Vec::new();

        // Reads go out several `$batch` calls at a time, so a family's assignment and settings reads
        // do not wait a round trip each; the tenant's budget and in-flight limit still pace them
        // (`execute`). Writes keep one call in flight: an error must not leave other writes' answers
        // unread.
        let all_reads = requests.iter().all(|r| is_repeatable(&r.method));
        let parallel = if all_reads { BATCHES_IN_FLIGHT } else { 1 };
        let mut in_flight = FuturesUnordered::new();
        loop {
            let now = tokio::time::Instant::now();
            let (ready, later): (Vec<_>, Vec<_>) = deferred.into_iter().partition(|(t, _)| *t <= now);
            deferred = later;
            queue.extend(ready.into_iter().map(|(_, p)| p));
            while in_flight.len() < parallel && !queue.is_empty() {
                let chunk: Vec<Pending> = queue.drain(..queue.len().min(MAX_BATCH)).collect();
                in_flight.push(self.send_chunk(&batch_url, chunk));
            }
            let earliest = deferred.iter().map(|(t, _)| *t).min();
            let (chunk, response) = match (in_flight.is_empty(), earliest) {
                (true, None) => break,
                (true, Some(t)) => {
                    debug!(items = deferred.len(), "waiting to re-send batch items");
                    tokio::time::sleep_until(t).await;
                    continue;
                }
                (false, None) => in_flight.next().await.expect("not empty"),
                (false, Some(t)) => tokio::select! {
                    done = in_flight.next() => done.expect("not empty"),
                    () = tokio::time::sleep_until(t) => continue,
                },
            };
            let response = response?;
            let mut answers = parse_batch_answers(&response.body).map_err(|message| GraphError::Decode {
                path: batch_path.clone(),
                message,
            })?;

            let sent_at = tokio::time::Instant::now();
            let mut again = |delay: Duration, p: Pending| {
                deferred.push((
                    sent_at + delay,
                    Pending {
                        retry: p.retry + 1,
                        ..p
                    },
                ))
            };
            for (i, p) in chunk.into_iter().enumerate() {
                let item_path = format!("/{}{}", version.as_str(), p.url);
                let Some(answer) = answers.remove(&(i + 1).to_string()) else {
                    if p.retry < config.max_retries {
                        again(full_jitter(p.retry, config.backoff_base, config.backoff_cap), p);
                    } else {
                        results[p.item] = Some(Err(GraphError::Decode {
                            path: item_path,
                            message: "the batch response has no answer for this item".into(),
                        }));
                    }
                    continue;
                };
                let status = answer.status;
                self.client.count_answer(status);
                if is_retryable_status(status, is_repeatable(&p.method)) && p.retry < config.max_retries {
                    let retry_after = answer
                        .headers
                        .get("retry-after")
                        .and_then(|v| parse_retry_after(v, SystemTime::now()));
                    let delay =
                        retry_after.unwrap_or_else(|| full_jitter(p.retry, config.backoff_base, config.backoff_cap));
                    if status == 429 {
                        self.pause_tenant(delay);
                    }
                    debug!(item = %requests[p.item].id, status, retry = p.retry, delay_ms = delay.as_millis() as u64, "batch item retry");
                    again(delay, p);
                    continue;
                }
                if !(200..300).contains(&status) {
                    let meta = ResponseMeta {
                        request_id: answer.headers.get("request-id").cloned(),
                        client_request_id: answer
                            .headers
                            .get("client-request-id")
                            .cloned()
                            .or_else(|| Some(response.client_request_id.clone())),
                        approval_code: answer.headers.get("x-msft-approval-code").cloned(),
                        retry_after: answer
                            .headers
                            .get("retry-after")
                            .and_then(|v| parse_retry_after(v, SystemTime::now())),
                    };
                    let err = status_error(p.method.as_str(), &item_path, status, &meta, &answer.body, &[]);
                    warn!(item = %requests[p.item].id, status, code = err.code().unwrap_or(""), "batch item failed");
                    // A failed later page makes the whole collection unreadable, not shorter.
                    results[p.item] = Some(Err(match pages.remove(&p.item) {
                        Some(pg) if pg.count > 0 => GraphError::Incomplete {
                            path: format!("/{}/{}", version.as_str(), requests[p.item].url.trim_start_matches('/')),
                            pages_read: pg.count,
                            items_read: pg.values.len(),
                            reason: format!("page {} failed", pg.count + 1),
                            source: Some(Box::new(err)),
                        },
                        _ => err,
                    }));
                    continue;
                }
                if p.method != Method::GET {
                    results[p.item] = Some(Ok(BatchItem {
                        status,
                        headers: answer.headers,
                        body: answer.body,
                        pages: 1,
                    }));
                    continue;
                }
                let pg = pages.entry(p.item).or_default();
                let path = || format!("/{}/{}", version.as_str(), requests[p.item].url.trim_start_matches('/'));
                match self.absorb_page(version, pg, status, answer) {
                    Ok(Step::Next(next_url)) => queue.push_back(Pending {
                        item: p.item,
                        method: Method::GET,
                        url: next_url,
                        headers: p.headers,
                        body: None,
                        retry: 0,
                    }),
                    Ok(Step::Done(item)) => {
                        pages.remove(&p.item);
                        results[p.item] = Some(Ok(item));
                    }
                    Err(reason) => {
                        let pg = pages.remove(&p.item).unwrap_or_default();
                        results[p.item] = Some(Err(GraphError::Incomplete {
                            path: path(),
                            pages_read: pg.count,
                            items_read: pg.values.len(),
                            reason,
                            source: None,
                        }));
                    }
                }
            }
        }

        Ok(requests
            .into_iter()
            .zip(results)
            .map(|(r, result)| BatchResponse {
                id: r.id,
                result: result.unwrap_or_else(|| Err(GraphError::InvalidInput("batch item was never answered".into()))),
            })
            .collect())
    }

    /// One `$batch` call of `chunk`; the chunk comes back with the answer so its items can be matched.
    async fn send_chunk(
        &self,
        batch_url: &reqwest::Url,
        chunk: Vec<Pending>,
    ) -> (Vec<Pending>, Result<crate::GraphResponse, GraphError>) {
        let wire: Vec<Value> = chunk
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let mut r = json!({"id": (i + 1).to_string(), "method": p.method.as_str(), "url": p.url});
                let mut headers = p.headers.clone();
                if let Some(body) = &p.body {
                    if !headers.keys().any(|k| k.eq_ignore_ascii_case("content-type")) {
                        headers.insert("Content-Type".into(), "application/json".into());
                    }
                    r["body"] = body.clone();
                }
                if !headers.is_empty() {
                    r["headers"] = json!(headers);
                }
                r
            })
            .collect();
        let mut costs: Vec<Cost> = Vec::new();
        for p in chunk.iter() {
            let service = crate::services::service_of(&p.url);
            let write = u32::from(p.method != Method::GET);
            match costs.iter_mut().find(|c| c.service == service) {
                Some(c) => {
                    c.requests += 1;
                    c.writes += write;
                }
                None => costs.push(Cost {
                    service,
                    requests: 1,
                    writes: write,
                }),
            }
        }
        self.client.count_batch_items(chunk.len());
        let body = json!({ "requests": wire });
        let response = self
            .execute(Prepared {
                method: Method::POST,
                url: batch_url.clone(),
                body: Some(&body),
                headers: &[],
                repeatable: chunk.iter().all(|p| is_repeatable(&p.method)),
                costs,
            })
            .await;
        (chunk, response)
    }

    /// Adds one page of a GET item to `pg`: the next page's batch URL, the finished item, or why the
    /// collection cannot be read to its end.
    fn absorb_page(&self, version: ApiVersion, pg: &mut Pages, status: u16, answer: Answer) -> Result<Step, String> {
        let page_no = pg.count + 1;
        let link = answer.body.get("@odata.nextLink").cloned();
        if pg.count == 0 && matches!(link, None | Some(Value::Null)) {
            // One page: the body is the answer, whatever its shape.
            check_count(
                &answer.body,
                answer.body.get("value").and_then(Value::as_array).map_or(0, Vec::len),
            )?;
            return Ok(Step::Done(BatchItem {
                status,
                headers: answer.headers,
                body: answer.body,
                pages: 1,
            }));
        }
        let Value::Object(mut page) = answer.body else {
            return Err(format!("page {page_no} is not a JSON object"));
        };
        page.remove("@odata.nextLink");
        let Some(Value::Array(values)) = page.remove("value") else {
            return Err(format!("page {page_no} has no value array"));
        };
        pg.values.extend(values);
        if pg.count == 0 {
            pg.headers = answer.headers;
            pg.first = Some(page);
        }
        pg.count += 1;
        match link {
            None | Some(Value::Null) => {
                let mut body = pg.first.take().unwrap_or_default();
                let values = std::mem::take(&mut pg.values);
                let total = values.len();
                body.insert("value".into(), Value::Array(values));
                let body = Value::Object(body);
                check_count(&body, total)?;
                Ok(Step::Done(BatchItem {
                    status,
                    headers: std::mem::take(&mut pg.headers),
                    body,
                    pages: pg.count,
                }))
            }
            Some(Value::String(link)) => {
                let next = self.batch_relative_url(version, &link)?;
                if !pg.seen_links.insert(next.clone()) {
                    return Err("nextLink repeats an earlier page".into());
                }
                Ok(Step::Next(next))
            }
            Some(_) => Err("nextLink is not a string".into()),
        }
    }

    /// A batch item URL relative to `version` (`/deviceManagement/…`), from a relative URL or from an
    /// absolute one under our base and the same version (a nextLink).
    fn batch_relative_url(&self, version: ApiVersion, url: &str) -> Result<String, String> {
        if url.starts_with("http://") || url.starts_with("https://") {
            let absolute = self.resolve_next_link(url)?;
            let full = TenantClient::display_path(&absolute);
            let under_base = full.strip_prefix(self.graph_base_path()).unwrap_or(&full);
            return under_base
                .strip_prefix(&format!("/{}", version.as_str()))
                .filter(|rest| rest.starts_with('/'))
                .map(str::to_owned)
                .ok_or_else(|| format!("{url:?} is not under /{}", version.as_str()));
        }
        if url.is_empty() {
            return Err("empty batch url".into());
        }
        Ok(if url.starts_with('/') {
            url.to_owned()
        } else {
            format!("/{url}")
        })
    }
}

enum Step {
    Next(String),
    Done(BatchItem),
}

/// Fewer items than the first page's `@odata.count` means pages went missing.
fn check_count(body: &Value, total: usize) -> Result<(), String> {
    match body.get("@odata.count").and_then(Value::as_u64) {
        Some(expected) if (total as u64) < expected => {
            Err(format!("@odata.count is {expected} but the pages held {total}"))
        }
        _ => Ok(()),
    }
}

struct Answer {
    status: u16,
    headers: BTreeMap<String, String>,
    body: Value,
}

/// `{"responses":[{"id","status","headers","body"}]}`, keyed by id (string or number on the wire).
fn parse_batch_answers(body: &Value) -> Result<HashMap<String, Answer>, String> {
    let responses = body
        .get("responses")
        .and_then(Value::as_array)
        .ok_or("the batch response has no responses array")?;
    let mut out = HashMap::new();
    for r in responses {
        let id = match r.get("id") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return Err("a batch answer has no id".into()),
        };
        let status = r
            .get("status")
            .and_then(Value::as_u64)
            .and_then(|s| u16::try_from(s).ok())
            .ok_or_else(|| format!("batch answer {id} has no status"))?;
        let headers = r
            .get("headers")
            .and_then(Value::as_object)
            .map(|h| {
                h.iter()
                    .filter_map(|(k, v)| {
                        let v = match v {
                            Value::String(s) => s.clone(),
                            Value::Number(n) => n.to_string(),
                            _ => return None,
                        };
                        Some((k.to_ascii_lowercase(), v))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let body = r.get("body").cloned().unwrap_or(Value::Null);
        out.insert(id.to_ascii_lowercase(), Answer { status, headers, body });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_accept_string_and_integer_ids_and_lowercase_headers() {
        let body = json!({"responses":[
            {"id":"1","status":200,"headers":{"Content-Type":"application/json"},"body":{"value":[]}},
            {"id":2,"status":429,"headers":{"Retry-After":"0.5"},"body":{"error":{"code":"TooManyRequests"}}},
        ]});
        let answers = parse_batch_answers(&body).unwrap();
        assert_eq!(answers["1"].status, 200);
        assert_eq!(answers["1"].headers["content-type"], "application/json");
        assert_eq!(answers["2"].status, 429);
        assert_eq!(answers["2"].headers["retry-after"], "0.5");
        assert!(parse_batch_answers(&json!({"value":[]})).is_err());
        assert!(parse_batch_answers(&json!({"responses":[{"status":200}]})).is_err());
    }
}
