//! JSON batching (graph-brief §4.4): at most 20 requests, ids unique case-insensitively, relative urls with or
//! without a leading slash, `Content-Type` required with a body, `dependsOn` honoured (a failed dependency gives
//! 424), items throttled and failed one by one, answers in a seeded shuffled order.

use serde_json::{Map, Value, json};

use crate::auth::Caller;
use crate::faults::{Draw, Injected};
use crate::graph;
use crate::odata::{GraphReq, GraphResp, ReqIds, Version, bad_request, error, server_error};
use crate::rng::{Rng, hash_parts};
use crate::state::{Shared, World};

const MAX_REQUESTS: usize = 20;
const CONTENT_TYPE: &str =
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";

struct Item {
    id: String,
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<Value>,
    depends_on: Vec<String>,
}

fn parse(body: Option<&Value>) -> Result<Vec<Item>, String> {
    let invalid = || "Invalid batch payload format.".to_string();
    let requests = body
        .and_then(|b| b.get("requests"))
        .and_then(Value::as_array)
        .ok_or_else(invalid)?;
    if requests.is_empty() {
        return Err(invalid());
    }
    if requests.len() > MAX_REQUESTS {
        return Err(format!(
            "The number of batch requests ({}) exceeds the limit of {MAX_REQUESTS}.",
            requests.len()
        ));
    }
    let mut items: Vec<Item> = Vec::new();
    for r in requests {
        let id = match &r["id"] {
            Value::String(s) if !s.is_empty() => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => return Err("Each batch request needs an 'id'.".into()),
        };
        if items.iter().any(|i| i.id.eq_ignore_ascii_case(&id)) {
            return Err(format!(
                "Batch request ids must be unique; '{id}' appears more than once."
            ));
        }
        let method = r["method"]
            .as_str()
            .ok_or_else(|| format!("Batch request '{id}' needs a 'method'."))?
            .to_ascii_uppercase();
        let url = r["url"]
            .as_str()
            .ok_or_else(|| format!("Batch request '{id}' needs a 'url'."))?
            .to_string();
        let headers = match &r["headers"] {
            Value::Object(h) => h
                .iter()
                .map(|(k, v)| {
                    (
                        k.to_ascii_lowercase(),
                        v.as_str().map_or_else(|| v.to_string(), str::to_string),
                    )
                })
                .collect(),
            _ => Vec::new(),
        };
        let depends_on = match &r["dependsOn"] {
            Value::Array(a) => a
                .iter()
                .map(|d| match d {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect(),
            _ => Vec::new(),
        };
        let body = r.get("body").filter(|b| !b.is_null()).cloned();
        items.push(Item {
            id,
            method,
            url,
            headers,
            body,
            depends_on,
        });
    }
    for i in &items {
        for d in &i.depends_on {
            if !items.iter().any(|o| o.id.eq_ignore_ascii_case(d)) {
                return Err(format!("Batch request '{}' depends on unknown request '{d}'.", i.id));
            }
        }
    }
    Ok(items)
}

/// Execution order honouring `dependsOn`; `None` on a cycle.
fn order(items: &[Item]) -> Option<Vec<usize>> {
    let mut done: Vec<usize> = Vec::new();
    while done.len() < items.len() {
        let next = (0..items.len()).find(|i| {
            !done.contains(i)
                && items[*i]
                    .depends_on
                    .iter()
                    .all(|d| done.iter().any(|j| items[*j].id.eq_ignore_ascii_case(d)))
        })?;
        done.push(next);
    }
    Some(done)
}

pub(crate) fn handle(
    shared: &Shared,
    w: &mut World,
    caller: &Caller,
    version: Version,
    body: Option<&Value>,
    ids: &ReqIds,
) -> GraphResp {
    let t = &mut w.tenants[caller.tenant_index];
    t.count_request("POST", "$batch");
    t.stats.batch_requests += 1;
    let tenant_id = t.info.id.clone();
    let draw = Draw {
        seed: shared.config.seed,
        tenant: &tenant_id,
        method: "POST",
        url: "$batch",
        is_write: true,
        batch_item: false,
        app: &caller.app_id,
        service: ("directory", 1),
    };
    if let Some(Injected::ServerError { status, retry_after }) = t.faults.decide(&mut t.fault_state, &draw, false) {
        t.stats.server_errors += 1;
        return server_error(ids, status, retry_after);
    }
    let items = match parse(body) {
        Ok(i) => i,
        Err(m) => return bad_request(ids, &m),
    };
    let Some(order) = order(&items) else {
        return bad_request(ids, "The dependsOn graph of the batch has a cycle.");
    };

    let mut results: Vec<Option<(u16, Value)>> = vec![None; items.len()];
    for idx in order {
        let item = &items[idx];
        let failed_dep = item.depends_on.iter().find(|d| {
            items
                .iter()
                .position(|o| o.id.eq_ignore_ascii_case(d))
                .and_then(|j| results[j].as_ref())
                .is_some_and(|(s, _)| !(200..300).contains(s))
        });
        let resp = if let Some(d) = failed_dep {
            error(
                ids,
                424,
                "FailedDependency",
                &format!("The request depends on request '{d}', which failed."),
            )
        } else {
            run_item(shared, w, caller, version, item, ids)
        };
        results[idx] = Some((resp.status, response_item(&item.id, resp)));
    }
    let mut responses: Vec<Value> = results.into_iter().flatten().map(|(_, v)| v).collect();
    if shared.config.shuffle_batch_responses {
        let joined: Vec<&str> = items.iter().map(|i| i.id.as_str()).collect();
        let mut rng = Rng::new(hash_parts(shared.config.seed, &joined));
        for i in (1..responses.len()).rev() {
            responses.swap(i, rng.below(i + 1));
        }
    }
    GraphResp::json(200, json!({"responses": responses}))
}

fn run_item(shared: &Shared, w: &mut World, caller: &Caller, version: Version, item: &Item, ids: &ReqIds) -> GraphResp {
    w.tenants[caller.tenant_index].stats.batch_items += 1;
    let url = item.url.trim_start_matches('/');
    if url.starts_with("http://") || url.starts_with("https://") || url.starts_with("v1.0/") || url.starts_with("beta/")
    {
        return bad_request(
            ids,
            "Invalid request URL: batch request urls are relative to the version, e.g. '/groups'.",
        );
    }
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    if path.eq_ignore_ascii_case("$batch") || path.eq_ignore_ascii_case("%24batch") {
        return bad_request(ids, "Nested batch requests are not supported.");
    }
    if item.body.is_some() && !item.headers.iter().any(|(k, _)| k == "content-type") {
        return bad_request(
            ids,
            &format!(
                "Write request id : {} does not contain Content-Type header or body.",
                item.id
            ),
        );
    }
    let req = GraphReq {
        method: item.method.clone(),
        version,
        raw_path: path.to_string(),
        query: form_urlencoded::parse(query.as_bytes()).into_owned().collect(),
        headers: item.headers.clone(),
        body: item.body.clone(),
        body_invalid: false,
    };
    graph::execute(shared, w, caller, &req, ids, true)
}

fn response_item(id: &str, resp: GraphResp) -> Value {
    let mut headers = Map::new();
    if resp.body.is_some() {
        headers.insert("Content-Type".into(), json!(CONTENT_TYPE));
    }
    for (k, v) in resp.headers {
        headers.insert(k, json!(v));
    }
    let mut item = Map::new();
    item.insert("id".into(), json!(id));
    item.insert("status".into(), json!(resp.status));
    item.insert("headers".into(), Value::Object(headers));
    if let Some(b) = resp.body {
        item.insert("body".into(), b);
    }
    Value::Object(item)
}
