//! The OpenAPI document is complete and true. (a) Structurally: every `$ref` resolves, every
//! schema is valid JSON Schema 2020-12, every registry route is documented with its method,
//! operationId, path and query parameters. (b) Against real answers: every route of the registry
//! is called on a stack holding real synced, backed-up and restored data, and each answer —
//! success and problems — must match the response the document declares for its status, with
//! no undocumented field. A route added without a true schema fails here, naming route, status
//! and field.

use std::collections::{BTreeMap, BTreeSet};

use atlas_api_types::{self as api, paths};
use atlas_app::registry::{Access, Route, routes};
use atlas_store::{Key, Update};
use atlas_tests::app::DEMO_WS;
use atlas_tests::app::{Mode, OPERATOR, OUTSIDER, OWNER, PLATFORM, TestApp, spawn_app};
use reqwest::Method;
use serde_json::{Value, json};

const WS: &str = "/api/v1/workspaces/ws-demo";
/// The environment every `{env}` route acts on: connected to a simulator tenant.
const ENV: &str = "env-sim";
/// The examples' typed confirmation is this display name.
const ENV_NAME: &str = "Contoso (demo)";

fn document() -> Value {
    atlas_app::openapi::document().clone()
}

/// Resolves a local `$ref` (`#/a/b`) in `doc`.
fn resolve<'a>(doc: &'a Value, reference: &str) -> Option<&'a Value> {
    doc.pointer(reference.strip_prefix('#')?)
}

/// Every `$ref` in `v`, with where it occurs.
fn refs(v: &Value, at: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k == "$ref"
                    && let Some(r) = x.as_str()
                {
                    out.push((at.to_owned(), r.to_owned()));
                }
                refs(x, &format!("{at}/{k}"), out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                refs(x, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

fn operation<'a>(doc: &'a Value, r: &Route) -> &'a Value {
    let op = &doc["paths"][r.path][r.method.as_str().to_lowercase()];
    assert!(op.is_object(), "{r:?} is not in the OpenAPI document");
    op
}

/// Closes every object schema of the components to the properties it lists, so a field the
/// handler sends but the document does not declare fails validation (in the test only: the
/// published document leaves clients free to ignore new fields).
fn closed(schemas: &Value) -> Value {
    fn close(v: &mut Value) {
        match v {
            Value::Object(m) => {
                if m.contains_key("properties") && !m.contains_key("additionalProperties") {
                    m.insert("unevaluatedProperties".into(), json!(false));
                }
                m.values_mut().for_each(close);
            }
            Value::Array(a) => a.iter_mut().for_each(close),
            _ => {}
        }
    }
    let mut s = schemas.clone();
    close(&mut s);
    s
}

/// A validator for `schema` (which may `$ref` the components).
fn validator(doc: &Value, schema: &Value) -> Result<jsonschema::Validator, String> {
    let mut root = match schema {
        Value::Object(m) => m.clone(),
        other => return Err(format!("a schema must be an object, not {other}")),
    };
    root.insert("$schema".into(), json!("https://json-schema.org/draft/2020-12/schema"));
    root.insert(
        "components".into(),
        json!({"schemas": closed(&doc["components"]["schemas"])}),
    );
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&Value::Object(root))
        .map_err(|e| e.to_string())
}

#[test]
fn the_document_is_structurally_complete() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");

    // Every reference resolves.
    let mut all = Vec::new();
    refs(&doc, "#", &mut all);
    assert!(!all.is_empty());
    let dangling: Vec<_> = all
        .iter()
        .filter(|(_, r)| resolve(&doc, r).is_none())
        .map(|(at, r)| format!("{r} (at {at})"))
        .collect();
    assert!(
        dangling.is_empty(),
        "references that resolve nowhere:\n{}",
        dangling.join("\n")
    );

    // Every component schema is a valid 2020-12 schema, and compiles with its references.
    for (name, schema) in doc["components"]["schemas"].as_object().unwrap() {
        let mut declared = schema.clone();
        declared["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
        if let Err(e) = jsonschema::meta::validate(&declared) {
            panic!("components/schemas/{name} is not a valid JSON Schema 2020-12: {e}: {schema}");
        }
        validator(&doc, &json!({"$ref": format!("#/components/schemas/{name}")}))
            .unwrap_or_else(|e| panic!("components/schemas/{name} does not compile: {e}"));
    }

    // Every route, with its method, a unique operationId, and all its parameters.
    let rs = routes();
    let mut ids = BTreeSet::new();
    for r in &rs {
        let op = operation(&doc, r);
        let name = format!("{} {} ({})", r.method, r.path, r.function);
        assert_eq!(op["operationId"], r.function, "{name}");
        assert!(ids.insert(r.function), "{name}: operationId used twice");
        let params = op["parameters"].as_array().cloned().unwrap_or_default();
        let of = |kind: &str| -> BTreeMap<String, bool> {
            params
                .iter()
                .filter(|p| p["in"] == kind)
                .map(|p| (p["name"].as_str().unwrap().to_owned(), p["required"] == true))
                .collect()
        };
        let path: BTreeMap<String, bool> = atlas_app::openapi::path_params(r.path)
            .into_iter()
            .map(|p| (p.to_owned(), true))
            .collect();
        assert_eq!(of("path"), path, "{name}: every path variable is a required parameter");
        let query: BTreeMap<String, bool> = r
            .query
            .iter()
            .map(|q| (q.to_string(), r.required_query.contains(q)))
            .collect();
        assert_eq!(of("query"), query, "{name}: query parameters and which are required");
        let responses = op["responses"].as_object().unwrap();
        assert!(
            responses.contains_key(&r.status.to_string()),
            "{name}: the success status {} is declared",
            r.status
        );
        let mut problems = vec!["400", "default"];
        if r.access != Access::Public {
            problems.push("401");
        }
        if matches!(r.access, Access::Capability(_)) {
            problems.extend(["403", "404"]);
        }
        if r.access == Access::Platform {
            problems.push("404");
        }
        if r.request.is_some() {
            problems.extend(["413", "415"]);
            assert!(
                op["requestBody"]["content"]["application/json"]["schema"]["$ref"].is_string(),
                "{name}: the request body has a schema"
            );
        }
        for p in problems {
            assert_eq!(
                responses
                    .get(p)
                    .map(|x| &x["content"]["application/problem+json"]["schema"]["$ref"]),
                Some(&json!("#/components/schemas/Problem")),
                "{name}: {p} is declared as a problem"
            );
        }
    }
    // The reference validator agrees, where the test venv has it (CI's does: xtask/requirements.txt).
    let python = atlas_tests::moto::binary().with_file_name("python");
    if python.exists() {
        let file = std::env::temp_dir().join(format!("{}.json", atlas_tests::unique("openapi")));
        std::fs::write(&file, serde_json::to_vec(&doc).unwrap()).unwrap();
        let out = std::process::Command::new(&python)
            .args(["-m", "openapi_spec_validator"])
            .arg(&file)
            .output()
            .unwrap();
        let _ = std::fs::remove_file(&file);
        assert!(
            out.status.success(),
            "openapi-spec-validator refuses the document:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Nothing documented that is not served.
    let documented: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum();
    assert_eq!(
        documented,
        rs.len(),
        "the document has operations the registry does not"
    );
}

/// Checks one answer against what the document declares for `r` at that status. Returns
/// `Err` with route, status and every field that disagrees.
fn check(
    doc: &Value,
    r: &Route,
    case: &str,
    status: u16,
    headers: &reqwest::header::HeaderMap,
    body: &str,
) -> Result<(), String> {
    let name = format!("{} {} ({}) {case} → {status}", r.method, r.path, r.function);
    let op = operation(doc, r);
    let declared = op["responses"]
        .get(status.to_string())
        .or_else(|| op["responses"].get("default"))
        .ok_or_else(|| format!("{name}: status not declared (body {body})"))?;
    let declared = match declared.get("$ref").and_then(Value::as_str) {
        Some(r) => resolve(doc, r).ok_or_else(|| format!("{name}: {r} does not resolve"))?,
        None => declared,
    };
    for h in declared["headers"].as_object().into_iter().flatten().map(|(h, _)| h) {
        if !headers.contains_key(h.as_str()) {
            return Err(format!("{name}: declared header {h} is missing"));
        }
    }
    let media = headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().trim().to_ascii_lowercase());
    let Some(content) = declared["content"].as_object() else {
        return if body.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{name}: declared without content, but answered {media:?}: {body}"
            ))
        };
    };
    let media = media.ok_or_else(|| format!("{name}: no Content-Type; declared {:?}", content.keys()))?;
    let schema = &content.get(&media).ok_or_else(|| {
        format!(
            "{name}: answered {media}, declared {:?}",
            content.keys().collect::<Vec<_>>()
        )
    })?["schema"];
    let instance = if media == "application/json" || media.ends_with("+json") {
        serde_json::from_str(body).map_err(|e| format!("{name}: {media} that is not JSON ({e}): {body}"))?
    } else {
        Value::String(body.to_owned())
    };
    let v = validator(doc, schema).map_err(|e| format!("{name}: the declared schema does not compile: {e}"))?;
    let errors: Vec<String> = v
        .iter_errors(&instance)
        .map(|e| format!("  at {:?}: {e}", e.instance_path().to_string()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        let shown: String = instance.to_string().chars().take(2_000).collect();
        Err(format!(
            "{name}: the answer does not match the declared schema {schema}:\n{}\nanswer: {shown}",
            errors.join("\n")
        ))
    }
}

/// Where a `status` names something else: RFC 9457's HTTP status code of a problem.
const NOT_A_STATE: &[&str] = &["Problem"];

/// Whether `v` (a property's or parameter's schema) is the canonical `Status`, possibly nullable.
fn is_canonical(v: &Value) -> bool {
    let is_ref = |v: &Value| v.get("$ref").and_then(Value::as_str) == Some("#/components/schemas/Status");
    is_ref(v)
        || ["oneOf", "anyOf", "allOf"].iter().any(|k| {
            v.get(*k).and_then(Value::as_array).is_some_and(|alts| {
                alts.iter().any(is_ref) && alts.iter().all(|a| is_ref(a) || a.get("type") == Some(&json!("null")))
            })
        })
}

/// Issue 18 item 3: every object with a state also returns its canonical status, and no `status`
/// anywhere in the API (field or filter) speaks another vocabulary.
#[test]
fn every_status_in_the_document_is_the_canonical_vocabulary() {
    let doc = document();
    let canonical: Vec<&str> = atlas_domain::Status::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(
        canonical,
        [
            "ready",
            "needs_attention",
            "blocked",
            "running",
            "failed",
            "expired",
            "not_configured",
            "unknown",
            "historical",
            "superseded"
        ],
        "the vocabulary is PRODUCT.md's"
    );
    let declared: Vec<&str> = doc
        .pointer("/components/schemas/Status/enum")
        .and_then(Value::as_array)
        .expect("the document declares Status")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(declared, canonical, "the document's Status is the canonical vocabulary");

    // A request body sets a state (a triage, a lifecycle change): it is not an object that has one.
    let requests: BTreeSet<String> = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .filter_map(|op| {
            op.pointer("/requestBody/content/application~1json/schema/$ref")?
                .as_str()
        })
        .filter_map(|r| r.rsplit('/').next().map(str::to_owned))
        .collect();
    assert!(
        requests.contains("FindingsTriage"),
        "request bodies found: {requests:?}"
    );
    let mut wrong = Vec::new();
    let mut checked = 0;
    for (name, schema) in doc["components"]["schemas"].as_object().unwrap() {
        let Some(props) = schema.get("properties").and_then(Value::as_object) else {
            continue;
        };
        if let Some(status) = props.get("status")
            && !NOT_A_STATE.contains(&name.as_str())
        {
            checked += 1;
            if !is_canonical(status) {
                wrong.push(format!("{name}.status is {status}, not the canonical Status"));
            }
        }
        for state in ["state", "lifecycle"] {
            if props.contains_key(state) && !props.contains_key("status") && !requests.contains(name) {
                wrong.push(format!("{name} has a {state} but no canonical status"));
            }
        }
    }
    let mut filters = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for p in op.get("parameters").and_then(Value::as_array).into_iter().flatten() {
                if p["name"] == "status" {
                    filters += 1;
                    if !is_canonical(&p["schema"]) {
                        wrong.push(format!("{method} {path}: the status filter is {}", p["schema"]));
                    }
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "status outside the canonical vocabulary:\n{}",
        wrong.join("\n")
    );
    assert!(
        checked >= 15,
        "only {checked} schemas with a status: the walk missed them"
    );
    assert!(filters >= 1, "the operations hub filters by status");
}

/// The walk above fails on a status of another vocabulary (it would not pass a broken document).
#[test]
fn the_status_walk_refuses_another_vocabulary() {
    assert!(is_canonical(&json!({"$ref": "#/components/schemas/Status"})));
    assert!(is_canonical(
        &json!({"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/Status"}]})
    ));
    assert!(!is_canonical(&json!({"type": "string"})));
    assert!(!is_canonical(&json!({"$ref": "#/components/schemas/FindingStatus"})));
    assert!(!is_canonical(
        &json!({"oneOf": [{"type": "string"}, {"$ref": "#/components/schemas/Status"}]})
    ));
}

#[test]
fn the_check_refuses_what_the_document_does_not_declare() {
    let doc = document();
    let health = routes().into_iter().find(|r| r.function == "get-health").unwrap();
    let mut json = reqwest::header::HeaderMap::new();
    json.insert("content-type", "application/json".parse().unwrap());
    let good = json!({"state": "ok", "status": "ready", "version": "1", "storage": "embedded", "queue": "embedded"});
    assert_eq!(check(&doc, &health, "t", 200, &json, &good.to_string()), Ok(()));
    let mut extra = good.clone();
    extra["uptime"] = json!(5);
    let e = check(&doc, &health, "t", 200, &json, &extra.to_string()).unwrap_err();
    assert!(e.contains("get-health") && e.contains("uptime"), "{e}");
    let mut wrong = good.clone();
    wrong["version"] = json!(1);
    let e = check(&doc, &health, "t", 200, &json, &wrong.to_string()).unwrap_err();
    assert!(e.contains("/version"), "{e}");
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("queue");
    assert!(check(&doc, &health, "t", 200, &json, &missing.to_string()).is_err());
    // A problem must be problem+json, and shaped like one.
    let e = check(&doc, &health, "t", 400, &json, "{}").unwrap_err();
    assert!(e.contains("application/json"), "{e}");
    let mut problem = reqwest::header::HeaderMap::new();
    problem.insert("content-type", "application/problem+json".parse().unwrap());
    assert!(check(&doc, &health, "t", 400, &problem, r#"{"title": "x"}"#).is_err());
    let ok = r#"{"type": "urn:x", "title": "x", "status": 400, "errors": [{"field": "query.x", "message": "m"}]}"#;
    assert_eq!(check(&doc, &health, "t", 400, &problem, ok), Ok(()));
}

fn fill(r: &Route, f: &BTreeMap<&'static str, String>) -> String {
    let mut p = r.path.to_owned();
    for (k, v) in f {
        p = p.replace(&format!("{{{k}}}"), v);
    }
    assert!(
        !p.contains('{'),
        "{r:?}: the OpenAPI test has no value for a parameter of {p}"
    );
    p
}

/// The route's example with `{placeholder}` strings filled in.
fn example(r: &Route, f: &BTreeMap<&'static str, String>) -> Option<Value> {
    let mut v = r.example.map(|e| e())?;
    if let Value::Object(m) = &mut v {
        // Placeholders as values and inside lists of values (`"destinations": ["{destination}"]`).
        let values = m.values_mut().flat_map(|val| match val {
            Value::Array(a) => a.iter_mut().collect::<Vec<_>>(),
            other => vec![other],
        });
        for val in values {
            if let Value::String(s) = val
                && let Some(k) = s.strip_prefix('{').and_then(|s| s.strip_suffix('}'))
            {
                *s = f
                    .get(k)
                    .unwrap_or_else(|| panic!("{r:?}: the OpenAPI test has no value for {{{k}}} in the example"))
                    .clone();
            }
        }
    }
    Some(v)
}

struct Call<'a> {
    r: &'a Route,
    as_user: Option<&'a str>,
    /// Query keys to leave out of the example (a required key's 400).
    without: Option<&'a str>,
    /// An undeclared query key to add.
    extra: bool,
}

async fn call(
    app: &TestApp,
    c: Call<'_>,
    f: &BTreeMap<&'static str, String>,
) -> (u16, reqwest::header::HeaderMap, String) {
    let r = c.r;
    let method = Method::from_bytes(r.method.as_str().as_bytes()).unwrap();
    let mut req = app.req(method, &fill(r, f), c.as_user);
    let mut query: Vec<(String, String)> = Vec::new();
    if let Some(b) = example(r, f) {
        if r.method == "GET" {
            query = b
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
                .collect();
        } else {
            req = req.json(&b);
        }
    }
    query.retain(|(k, _)| Some(k.as_str()) != c.without);
    if c.extra {
        query.push(("not_a_parameter".into(), "1".into()));
    }
    if !query.is_empty() {
        req = req.query(&query);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, headers, res.text().await.unwrap())
}

/// Starts a run and waits for it; returns its id.
async fn run(app: &TestApp, path: &str, body: Value) -> String {
    let view = app.run_to_completion(path, body).await;
    assert_eq!(
        view.run.outcome.map(|o| o.as_str()),
        Some("succeeded"),
        "{path}: {view:?}"
    );
    view.run.id
}

/// A world with real data for `r`: a connected environment synced twice (with a changed and a
/// deleted policy in between), two backups, a previewed restore, a schedule and an invitation.
/// Routes that only read the workspace get just the invitation.
async fn world(app: &TestApp, r: &Route) -> BTreeMap<&'static str, String> {
    let mut f = BTreeMap::from([("ws", "ws-demo".to_owned()), ("user", "u-operator".to_owned())]);
    let res = app
        .post_as(
            OWNER,
            &paths::invitations(DEMO_WS),
            json!({"email": OUTSIDER, "role": "readonly", "environments": "all"}),
        )
        .await;
    assert_eq!(res.status(), 201, "world: invitation");
    let created: Value = res.json().await.unwrap();
    f.insert("invitation", created["invitation"]["id"].as_str().unwrap().to_owned());
    f.insert("invitation_token", created["accept_token"].as_str().unwrap().to_owned());
    if r.path.contains("{support}") {
        let body = json!({"source_type": "generic", "issue_kind": "other", "message": "World"});
        let res = app.post_as(OWNER, &paths::support_requests(DEMO_WS), body).await;
        assert_eq!(res.status(), 201, "world: support request");
        let created: Value = res.json().await.unwrap();
        f.insert("support", created["id"].as_str().unwrap().to_owned());
    }

    if r.path.contains("/provider/") {
        // The consent callback: a connection waiting for consent, and the state it was sent with.
        let (tenant, domain) = atlas_tests::sim::new_tenant();
        let env = json!({"slug": "env-cb", "display_name": "Callback", "tenant_id": tenant, "primary_domain": domain});
        assert_eq!(
            app.post_as(OWNER, &paths::environments(DEMO_WS), env).await.status(),
            201
        );
        let conn = format!("{WS}/environments/env-cb/provider-connection");
        assert_eq!(app.post_as(OWNER, &conn, json!({"tenant": tenant})).await.status(), 201);
        let start: Value = app
            .post_as(OWNER, &format!("{conn}/consent"), json!({}))
            .await
            .json()
            .await
            .unwrap();
        let url = reqwest::Url::parse(start["consent_url"].as_str().unwrap()).unwrap();
        let state = url.query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned();
        f.insert("consent_state", state);
        f.insert("tenant_id", tenant);
        return f;
    }
    if r.path.contains("/alert-") {
        let w = app.alert_world().await;
        f.insert("destination", w.destination);
        f.insert("rule", w.rule);
        f.insert("delivery", w.delivery);
        return f;
    }
    if r.path.contains("/evidence/") || r.path.contains("evidence-download") {
        // A ready evidence pack of the workspace and a download link's token.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        let pack = run(
            app,
            &paths::evidence(DEMO_WS),
            json!({"from": now - 86_400_000, "to": now}),
        )
        .await;
        let link: Value = app
            .post_as(OWNER, &paths::evidence_link(DEMO_WS, &pack), json!({}))
            .await
            .json()
            .await
            .unwrap();
        let url = link["url"].as_str().unwrap();
        f.insert("evidence_token", url.split("token=").nth(1).unwrap().to_owned());
        f.insert("pack", pack);
        return f;
    }
    if r.path.contains("{draft}") {
        // An onboarding draft whose consent is seeded: verifying is its next step.
        let body = json!({"display_name": "Litware", "tenant": "33333333-3333-4333-8333-333333333333"});
        let res = app.post_as(OWNER, &paths::onboarding(DEMO_WS), body).await;
        assert_eq!(res.status(), 201, "world: onboarding draft");
        let id = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
        app.seed_consent(DEMO_WS, &id).await;
        f.insert("draft", id);
        return f;
    }
    if r.path.ends_with("/provider-connection") && r.method == "POST" {
        // Creating the connection: the demo environment has none yet.
        f.insert("env", "env-contoso".to_owned());
        return f;
    }
    let with_data = [
        "/inventory",
        "/backup",
        "/restores",
        "/operations",
        "/audit-events",
        "/baselines",
        "/drift",
        "/findings",
        "/exceptions",
        "/system/runs",
    ]
    .iter()
    .any(|p| r.path.contains(p));
    if atlas_tests::promotion::wants(r.path) {
        f.extend(atlas_tests::promotion::world(app, r.path).await);
    }
    if !r.path.contains("{env}") && !with_data {
        return f;
    }
    let (tenant, env) = app.connected_env_with(ENV, Some(3)).await;
    // Typed confirmations in the examples name the demo environment: this one takes its name.
    let rename = |slug: &'static str, name: &'static str| async move {
        let res = app
            .patch_as(OWNER, &paths::environment(DEMO_WS, slug), json!({"display_name": name}))
            .await;
        assert_eq!(res.status(), 200, "world: rename {slug}");
    };
    rename("env-contoso", "Contoso (original)").await;
    rename(ENV, ENV_NAME).await;
    f.insert("env", ENV.to_owned());
    f.insert("tenant_id", tenant.clone());
    // Rotating a credential is for a customer's own app registration.
    if r.request.is_some_and(|s| s().name == "CredentialRotate") {
        let key = Key::new(
            atlas_tests::app::demo_env_pk(ENV),
            atlas_app::records::provider::CONNECTION_SK,
        );
        let point = Update::new()
            .set("app_mode", "dedicated")
            .set("client_id", "55555555-5555-4555-8555-555555555555");
        app.app().state.table.update(&key, &point, None).await.unwrap();
    }
    // Enabling acts on a disabled connection.
    if r.path.ends_with("/provider-connection/enable") {
        let res = app
            .post_as(
                OWNER,
                &paths::provider_disable(DEMO_WS, ENV),
                json!({"confirm": ENV_NAME}),
            )
            .await;
        assert_eq!(res.status(), 200, "world: disable");
    }
    if !with_data {
        return f;
    }

    let sync = run(app, &format!("{env}/inventory/sync"), json!({})).await;
    let first = run(app, &format!("{env}/backups"), json!({})).await;
    let sim = &atlas_tests::sim::shared().sim;
    let family = "deviceConfigurations";
    let objects = sim.objects(&tenant, family);
    assert!(objects.len() >= 2, "world: the tenant has {family}");
    let changed = objects[0]["id"].as_str().unwrap().to_owned();
    let deleted = objects[1]["id"].as_str().unwrap().to_owned();
    assert!(sim.patch_object(
        &tenant,
        family,
        &changed,
        json!({"description": "changed for the diff"})
    ));
    assert!(sim.delete_object(&tenant, family, &deleted));
    run(app, &format!("{env}/inventory/sync"), json!({})).await;
    run(app, &format!("{env}/backups"), json!({})).await;
    f.insert("run", sync);
    f.insert("family", family.to_owned());
    f.insert("item", changed);
    // The first set: restoring it over the changed tenant plans an update and a create.
    f.insert("set", first);

    let res = app
        .post_as(
            OWNER,
            &format!("{env}/backup-schedules"),
            json!({"cron": "30 2 * * *", "time_zone": "Europe/Berlin", "keep_last": 7}),
        )
        .await;
    assert_eq!(res.status(), 201, "world: schedule");
    f.insert(
        "schedule",
        res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned(),
    );

    // A baseline captured from the first set, assigned and detected: a changed and a missing finding.
    let res = app
        .post_as(
            OWNER,
            &paths::baselines(DEMO_WS),
            json!({"name": "World gold", "source_environment_id": ENV, "families": [family], "report_extra": true}),
        )
        .await;
    assert_eq!(res.status(), 201, "world: baseline");
    let baseline = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let res = app
        .post_as(
            OWNER,
            &paths::baseline_snapshots(DEMO_WS, &baseline),
            json!({"from_backup_set_id": f["set"]}),
        )
        .await;
    assert_eq!(res.status(), 201, "world: snapshot");
    let res = app
        .req(
            Method::PUT,
            &paths::baseline_assignment(DEMO_WS, ENV, &baseline),
            Some(OWNER),
        )
        .json(&json!({"priority": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "world: assignment");
    run(app, &paths::drift_detect(DEMO_WS, ENV), json!({})).await;
    let found: api::FindingPage = app.get_as(OWNER, &paths::findings(DEMO_WS)).await.json().await.unwrap();
    assert_eq!(found.total, 2, "world: a changed and a missing policy");
    f.insert("finding", found.items[0].id.clone());
    f.insert("finding_id", found.items[0].id.clone());
    f.insert("baseline", baseline);
    // A risk acceptance of the other finding, requested by the operator: the owner may approve,
    // reject or withdraw it, and the first finding stays free for a new request.
    let body = json!({"justification": "World", "expires_ms": atlas_app::exceptions::days_from_now(30)});
    let res = app
        .post_as(OPERATOR, &paths::finding_exceptions(DEMO_WS, &found.items[1].id), body)
        .await;
    assert_eq!(res.status(), 201, "world: exception");
    let exception = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    f.insert("exception", exception);

    let base = format!("{env}/restores");
    let res = app.post_as(OWNER, &base, json!({"backup_set_id": f["set"]})).await;
    assert_eq!(res.status(), 201, "world: restore");
    let restore = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let res = app
        .post_as(OWNER, &format!("{base}/{restore}/previews"), json!({}))
        .await;
    assert_eq!(res.status(), 201, "world: preview");
    let preview: Value = res.json().await.unwrap();
    f.insert("preview", preview["id"].as_str().unwrap().to_owned());
    f.insert("fingerprint", preview["fingerprint"].as_str().unwrap().to_owned());
    f.insert("restore", restore);
    if r.path.ends_with("/retry") {
        // A partial set to retry: one family refused by the tenant.
        sim.set_faults(
            &tenant,
            atlas_graph_sim::Faults {
                forbidden_families: vec!["deviceCompliancePolicies".into()],
                ..Default::default()
            },
        );
        let body = json!({"families": ["deviceCompliancePolicies", "assignmentFilters"]});
        let v = app.run_to_completion(&format!("{env}/backups"), body).await;
        sim.clear_faults(&tenant);
        f.insert("set", v.run.id);
    }
    f
}

/// One route's answers: how many were checked and which disagree with the document.
async fn check_route(mode: Mode, doc: std::sync::Arc<Value>, r: Route) -> (usize, Vec<String>) {
    let doc = &*doc;
    let r = &r;
    let mut failures = Vec::new();
    let mut checked = 0;
    let app = spawn_app(mode).await;
    let served: Value = app.get("/api/openapi.json").await.json().await.unwrap();
    assert_eq!(&served, doc, "the served document is the derived one");
    let f = world(&app, r).await;
    let name = format!("{} {} ({})", r.method, r.path, r.function);
    let mut unnamed = Vec::new();
    let mut expect = |case: &str, want: u16, (status, headers, body): (u16, reqwest::header::HeaderMap, String)| {
        checked += 1;
        if status != want {
            failures.push(format!("{name} {case}: expected {want}, got {status}: {body}"));
        } else if let Err(e) = check(doc, r, case, status, &headers, &body) {
            failures.push(e);
        }
        body
    };
    let owner = Some(OWNER);
    let base = |as_user| Call {
        r,
        as_user,
        without: None,
        extra: false,
    };
    // Problems first: none of them changes anything. The invitation is the outsider's to accept.
    let as_user = match r.access {
        Access::Public => None,
        Access::SignedIn
            if r.example
                .is_some_and(|e| e().to_string().contains("{invitation_token}")) =>
        {
            Some(OUTSIDER)
        }
        Access::Platform => Some(PLATFORM),
        _ => owner,
    };
    expect(
        "with an undeclared query key",
        400,
        call(
            &app,
            Call {
                extra: true,
                ..base(as_user)
            },
            &f,
        )
        .await,
    );
    for k in r.required_query {
        let body = expect(
            &format!("without required query key {k}"),
            400,
            call(
                &app,
                Call {
                    without: Some(k),
                    ..base(as_user)
                },
                &f,
            )
            .await,
        );
        if !body.contains(&format!("\"query.{k}\"")) {
            unnamed.push(format!(
                "{name} without {k}: the problem does not name query.{k}: {body}"
            ));
        }
    }
    if r.access != Access::Public {
        expect("anonymous", 401, call(&app, base(None), &f).await);
    }
    if matches!(r.access, Access::Capability(_)) {
        expect("as an outsider", 404, call(&app, base(Some(OUTSIDER)), &f).await);
    }
    if r.access == Access::Platform {
        expect("as a workspace owner", 404, call(&app, base(owner), &f).await);
    }
    expect("as the owner", r.status, call(&app, base(as_user), &f).await);
    failures.append(&mut unnamed);
    app.stop().await;
    (checked, failures)
}

async fn every_route_answers_as_documented(mode: Mode) {
    let doc = std::sync::Arc::new(document());
    let all = routes();
    // Each route gets its own stack; they wait on runs and the simulator more than on the CPU, so
    // a few at a time.
    let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(6));
    let mut tasks = tokio::task::JoinSet::new();
    for r in all.iter().cloned() {
        let (doc, gate) = (doc.clone(), gate.clone());
        tasks.spawn(async move {
            let _slot = gate.acquire_owned().await.expect("gate");
            check_route(mode, doc, r).await
        });
    }
    let (mut checked, mut failures) = (0, Vec::new());
    while let Some(done) = tasks.join_next().await {
        let (n, mut f) = done.expect("a route's check panicked");
        checked += n;
        failures.append(&mut f);
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} answers disagree with the OpenAPI document:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    println!(
        "openapi ({mode:?}): {} routes, {checked} answers, all as documented",
        all.len()
    );
}

// Embedded only: the handlers and the codec that shape every answer are the same on both
// backends, and each backend's storage contract has its own tests (contract.rs); a fresh stack with
// real data per route costs minutes more against the protocol server for no other answer.
#[tokio::test]
async fn every_route_answers_as_documented_embedded() {
    every_route_answers_as_documented(Mode::Embedded).await;
}
