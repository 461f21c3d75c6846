//! HTTP glue: the router and the Graph entry point (`/v1.0/…`, `/beta/…`).

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use axum::routing::{any, get, post};
use serde_json::{Value, json};

use crate::faults::Draw;
use crate::odata::{GraphReq, GraphResp, ReqIds, Version, error, inner_date};
use crate::{Sim, admin, auth, batch, graph, login};

const ODATA_JSON: &str =
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";
const DIAGNOSTIC: &str = r#"{"ServerInfo":{"DataCenter":"West Europe","Slice":"E","Ring":"5","ScaleUnit":"003","RoleInstance":"AM2PEPF0000SIM"}}"#;

pub(crate) fn router(sim: Sim) -> Router {
    let admin = sim.config.admin_api;
    let graph = Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(auth::token))
        .route("/{tenant}/v2.0/adminconsent", get(auth::admin_consent_v2))
        .route("/{tenant}/adminconsent", get(auth::admin_consent_v1))
        .route(
            "/{tenant}/oauth2/v2.0/authorize",
            get(login::authorize_page).post(login::authorize_sign_in),
        )
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(login::openid_configuration),
        )
        .route("/{tenant}/discovery/v2.0/keys", get(auth::jwks))
        .route("/{tenant}/discovery/keys", get(auth::jwks))
        .route("/v1.0/{*rest}", any(graph_entry))
        .route("/beta/{*rest}", any(graph_entry));
    let graph = if admin {
        graph.nest("/_sim", admin::router())
    } else {
        graph
    };
    graph.with_state(sim)
}

/// A JSON response with Graph's content type and the given extra headers.
pub(crate) fn json_response(status: StatusCode, headers: &[(String, String)], body: Option<Value>) -> Response {
    let mut builder = Response::builder().status(status);
    if body.is_some() {
        builder = builder.header(header::CONTENT_TYPE, ODATA_JSON);
    }
    for (k, v) in headers {
        if let (Ok(k), Ok(v)) = (HeaderName::try_from(k.as_str()), HeaderValue::try_from(v.as_str())) {
            builder = builder.header(k, v);
        }
    }
    let bytes = body
        .map(|b| serde_json::to_vec(&b).unwrap_or_default())
        .unwrap_or_default();
    builder
        .body(Body::from(bytes))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

fn to_response(resp: GraphResp, ids: &ReqIds) -> Response {
    let mut headers = vec![
        ("request-id".to_string(), ids.request_id.clone()),
        ("client-request-id".to_string(), ids.client_request_id.clone()),
        ("x-ms-ags-diagnostic".to_string(), DIAGNOSTIC.to_string()),
        ("OData-Version".to_string(), "4.0".to_string()),
        ("Cache-Control".to_string(), "no-cache".to_string()),
    ];
    headers.extend(resp.headers);
    let status = StatusCode::from_u16(resp.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_response(status, &headers, resp.body)
}

fn unauthorized(ids: &ReqIds, message: &str) -> GraphResp {
    let mut r = error(ids, 401, "InvalidAuthenticationToken", message);
    if let Some(Value::Object(e)) = r.body.as_mut().and_then(|b| b.get_mut("error")) {
        e.insert(
            "innerError".into(),
            json!({"date": inner_date(), "request-id": ids.request_id, "client-request-id": ids.client_request_id}),
        );
    }
    r.with_header(
        "WWW-Authenticate",
        "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\"",
    )
}

async fn graph_entry(State(sim): State<Sim>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let path = uri.path().trim_start_matches('/');
    let (ver, rest) = path.split_once('/').unwrap_or((path, ""));
    let version = Version::parse(ver).unwrap_or(Version::Beta);
    let request_id = sim.next_request_id();
    let client_request_id = headers
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| request_id.clone());
    let ids = ReqIds {
        request_id,
        client_request_id,
    };
    let (json_body, body_invalid) = if body.iter().all(u8::is_ascii_whitespace) {
        (None, false)
    } else {
        match serde_json::from_slice::<Value>(&body) {
            Ok(v) => (Some(v), false),
            Err(_) => (None, true),
        }
    };
    let req = GraphReq {
        method: method.as_str().to_ascii_uppercase(),
        version,
        raw_path: rest.to_string(),
        query: uri
            .query()
            .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .unwrap_or_default(),
        headers: headers
            .iter()
            .filter_map(|(k, v)| {
                v.to_str()
                    .ok()
                    .map(|v| (k.as_str().to_ascii_lowercase(), v.to_string()))
            })
            .collect(),
        body: json_body,
        body_invalid,
    };
    let is_batch = rest.eq_ignore_ascii_case("$batch") || rest.eq_ignore_ascii_case("%24batch");
    let recorded_path = match uri.query() {
        Some(q) => format!("{rest}?{q}"),
        None => rest.to_string(),
    };
    let (resp, delay, arrival) = {
        let mut w = sim.world();
        match auth::authenticate(&sim, &w, &headers) {
            Err(msg) => (unauthorized(&ids, msg), None, None),
            Ok(caller) => {
                let arrival = w.tenants[caller.tenant_index].arrived(&req.method, &recorded_path);
                let gate = w.tenants[caller.tenant_index].gate();
                let t = &w.tenants[caller.tenant_index];
                let url = req.url_for_hash();
                let draw = Draw {
                    seed: sim.config.seed,
                    tenant: &t.info.id,
                    method: &req.method,
                    url: &url,
                    is_write: req.is_write(),
                    batch_item: false,
                    app: &caller.app_id,
                    service: ("directory", 1),
                };
                let delay = t.faults.delay_for(&draw, false);
                let resp = if login::is_my_directory_roles(rest) {
                    w.tenants[caller.tenant_index]
                        .count_request(&req.method, "me/transitiveMemberOf/microsoft.graph.directoryRole");
                    login::my_directory_roles(
                        &w,
                        caller.tenant_index,
                        caller.user.as_deref(),
                        &caller.scopes,
                        &req.method,
                        &ids,
                        version.as_str(),
                    )
                } else if !is_batch {
                    graph::execute(&sim, &mut w, &caller, &req, &ids, false)
                } else if req.method != "POST" {
                    error(&ids, 405, "MethodNotAllowed", "$batch accepts POST only.")
                } else if req.body_invalid {
                    error(&ids, 400, "BadRequest", "Invalid batch payload format.")
                } else {
                    batch::handle(&sim, &mut w, &caller, version, req.body.as_ref(), &ids)
                };
                (resp, delay, Some((caller.tenant_index, arrival, gate)))
            }
        }
    };
    // A test's gate (`Faults::hold_until_in_flight`): wait until enough requests are in flight.
    let arrival = match arrival {
        Some((tenant, arrival, Some(mut gate))) => {
            let _ = tokio::time::timeout(crate::faults::GATE_MAX_WAIT, gate.changed()).await;
            Some((tenant, arrival))
        }
        Some((tenant, arrival, None)) => Some((tenant, arrival)),
        None => None,
    };
    // Latency (`Faults::delay`) once per request: a `$batch` envelope waits once, not per item.
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    let response = to_response(resp, &ids);
    if let Some((tenant, arrival)) = arrival {
        sim.world().tenants[tenant].answered(arrival);
    }
    response
}
