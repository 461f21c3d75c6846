//! The real client against the Graph simulator over HTTP: paging, tokens, `$batch`, and one test per
//! fault kind. Each fault ends in the right typed error or succeeds within its retries; no read yields
//! a shorter list. Delays are kept to fractions of a second.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{KeyPair, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use atlas_graph::{
    ApiVersion, AppIdentity, BatchRequest, CertificateCredential, GraphClient, GraphConfig, GraphError, GraphRequest,
    Method, TenantClient,
};
use atlas_graph_sim::{
    ALL_ROLES, AppSpec, Delay, Faults, PagingFault, RateLimit, ServerErrors, SimConfig, SimHandle, Simulator,
    TenantSpec, Throttle,
};

const CLIENT: &str = "11111111-1111-4111-8111-111111111111";
const SECRET: &str = "sim-secret-value";
const POLICIES: &str = "/beta/deviceManagement/configurationPolicies";
const DEVICE_CONFIGS: &str = "/beta/deviceManagement/deviceConfigurations";

struct Env {
    sim: SimHandle,
    tenant: String,
    graph: GraphClient,
    tc: TenantClient,
}

/// A fresh simulator with one tenant (`policies` objects per family), our app consented with every role,
/// and a client with short backoffs.
async fn env_with(policies: usize, tweak: impl FnOnce(&mut GraphConfig)) -> Env {
    env_sim(SimConfig::default(), policies, tweak).await
}

/// [`env_with`] on a simulator that pages every list by `page_size`.
async fn env_paged(policies: usize, page_size: usize) -> Env {
    let config = SimConfig {
        page_size: Some(page_size),
        ..SimConfig::default()
    };
    env_sim(config, policies, |_| {}).await
}

async fn env_sim(config: SimConfig, policies: usize, tweak: impl FnOnce(&mut GraphConfig)) -> Env {
    let sim = Simulator::start(config).await.expect("simulator starts");
    let tenant = sim
        .add_tenant(TenantSpec {
            policies_per_family: Some(policies),
            ..TenantSpec::default()
        })
        .id;
    sim.register_app(CLIENT, SECRET);
    sim.grant(&tenant, CLIENT, ALL_ROLES);
    let mut config = GraphConfig::for_base_url(&sim.base_url);
    config.timeout = Duration::from_secs(5);
    config.max_retries = 4;
    config.backoff_base = Duration::from_millis(10);
    config.backoff_cap = Duration::from_millis(100);
    tweak(&mut config);
    let graph = GraphClient::new(config).expect("client builds");
    let tc = graph.tenant(&tenant, AppIdentity::with_secret(CLIENT, SECRET));
    Env { sim, tenant, graph, tc }
}

async fn env(policies: usize) -> Env {
    env_with(policies, |_| {}).await
}

fn ids(items: &[serde_json::Value]) -> HashSet<String> {
    items.iter().map(|v| v["id"].as_str().expect("id").to_owned()).collect()
}

fn expect_incomplete(r: Result<Vec<serde_json::Value>, GraphError>) -> (u32, usize, String, Option<Box<GraphError>>) {
    match r {
        Err(GraphError::Incomplete {
            pages_read,
            items_read,
            reason,
            source,
            ..
        }) => (pages_read, items_read, reason, source),
        Ok(items) => panic!("a broken list came back as {} items instead of an error", items.len()),
        Err(e) => panic!("expected Incomplete, got {e:?}"),
    }
}

#[tokio::test]
async fn paging_reads_the_settings_catalog_to_the_end_at_25_per_page() {
    let env = env(60).await;
    let items = env.tc.list_all(POLICIES).await.unwrap();
    assert_eq!(items.len(), 60);
    assert_eq!(ids(&items).len(), 60);
    let expected: HashSet<String> = ids(&env.sim.objects(&env.tenant, "configurationPolicies"));
    assert_eq!(ids(&items), expected);
    let stats = env.sim.stats(&env.tenant);
    assert_eq!(
        stats.count("GET", "configurationPolicies"),
        3,
        "25 + 25 + 10: {:?}",
        stats.requests
    );

    // A policy's settings page at 25 too, and are read whole.
    let id = items[0]["id"].as_str().unwrap();
    let settings = env.tc.list_all(&format!("{POLICIES}/{id}/settings")).await.unwrap();
    let in_sim = env.tc.get(&format!("{POLICIES}/{id}?$expand=settings")).await.unwrap();
    assert_eq!(settings.len(), in_sim["settings"].as_array().unwrap().len());
}

#[tokio::test]
async fn one_token_request_serves_many_calls() {
    let env = env(5).await;
    let token = env.tc.token().await.unwrap();
    assert!(
        token.has_role("DeviceManagementConfiguration.ReadWrite.All"),
        "{:?}",
        token.roles
    );
    assert_eq!(token.tenant_id.as_deref(), Some(env.tenant.as_str()));

    for _ in 0..5 {
        env.tc.list_all(POLICIES).await.unwrap();
    }
    // Concurrent callers on clones and on a second handle for the same tenant and app share the token.
    let second = env.graph.tenant(&env.tenant, AppIdentity::with_secret(CLIENT, SECRET));
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let tc = if i % 2 == 0 { env.tc.clone() } else { second.clone() };
            tokio::spawn(async move { tc.get(DEVICE_CONFIGS).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let stats = env.sim.stats(&env.tenant);
    assert_eq!(stats.token_requests, 1);
    assert!(stats.graph_requests >= 13, "{}", stats.graph_requests);
}

#[tokio::test]
async fn certificate_credential_signs_an_assertion_the_token_endpoint_accepts() {
    let env = env(3).await;
    let cert_client = "22222222-2222-4222-8222-222222222222";
    let key = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
    let key_pem = pem("PRIVATE KEY", key.as_der().unwrap().as_ref());
    let cert_pem = pem("CERTIFICATE", b"stand-in certificate bytes");
    env.sim.register_app_spec(AppSpec {
        client_id: cert_client.into(),
        public_key: Some(STANDARD.encode(key.public_key().as_ref())),
        ..AppSpec::default()
    });
    env.sim
        .grant(&env.tenant, cert_client, &["DeviceManagementConfiguration.Read.All"]);

    let cred = CertificateCredential::from_pem(&key_pem, &cert_pem).unwrap();
    let tc = env
        .graph
        .tenant(&env.tenant, AppIdentity::with_certificate(cert_client, cred));
    assert_eq!(tc.list_all(POLICIES).await.unwrap().len(), 3);
    assert_eq!(
        tc.token().await.unwrap().roles,
        vec!["DeviceManagementConfiguration.Read.All"]
    );

    // Signed with another key: the signature check fails. A fresh client, so no cached token answers.
    let other = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
    let wrong =
        CertificateCredential::from_pem(&pem("PRIVATE KEY", other.as_der().unwrap().as_ref()), &cert_pem).unwrap();
    let fresh = GraphClient::new(env.graph.config().clone()).unwrap();
    let tc = fresh.tenant(&env.tenant, AppIdentity::with_certificate(cert_client, wrong));
    match tc.get(POLICIES).await {
        Err(GraphError::Auth(a)) => {
            assert_eq!(a.code, "invalid_client");
            assert_eq!(a.status, 401);
            assert!(a.error_codes.contains(&700027), "{a:?}");
        }
        other => panic!("expected Auth, got {other:?}"),
    }
}

fn pem(label: &str, der: &[u8]) -> String {
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        STANDARD.encode(der)
    )
}

#[tokio::test]
async fn fractional_retry_after_is_honoured() {
    let env = env(3).await;
    env.tc.token().await.unwrap();
    env.sim.set_faults(&env.tenant, Faults::throttle_every(2, Some(0.35)));
    env.tc.get(DEVICE_CONFIGS).await.unwrap(); // 1st: passes
    let started = Instant::now();
    env.tc.get(DEVICE_CONFIGS).await.unwrap(); // 2nd: 429 Retry-After 0.350, then passes
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(350), "waited only {elapsed:?}");
    assert!(elapsed < Duration::from_secs(2), "waited {elapsed:?}");
    assert_eq!(env.sim.stats(&env.tenant).throttled, 1);
}

#[tokio::test]
async fn integer_retry_after_is_honoured() {
    let env = env(3).await;
    env.tc.token().await.unwrap();
    env.sim.set_faults(&env.tenant, Faults::throttle_every(1, Some(1.0)));
    let started = Instant::now();
    // every_nth = 1 throttles every request: after 1 retry the error is typed and carries the delay.
    let graph = GraphClient::new(GraphConfig {
        max_retries: 1,
        ..env.graph.config().clone()
    })
    .unwrap();
    let tc = graph.tenant(&env.tenant, AppIdentity::with_secret(CLIENT, SECRET));
    match tc.get(DEVICE_CONFIGS).await {
        Err(GraphError::Throttled(r)) => {
            assert_eq!(r.status, 429);
            assert_eq!(r.code, "TooManyRequests");
            assert_eq!(r.retry_after, Some(Duration::from_secs(1)));
            assert!(r.request_id.is_some());
            assert!(r.client_request_id.is_some());
        }
        other => panic!("expected Throttled, got {other:?}"),
    }
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_secs(1), "waited only {elapsed:?}");
    assert_eq!(env.sim.stats(&env.tenant).throttled, 2);
}

#[tokio::test]
async fn throttled_pages_are_retried_and_the_list_is_whole() {
    let env = env(60).await;
    env.sim
        .set_faults(&env.tenant, Faults::throttle_fraction(0.4, Some(0.02)));
    let items = env.tc.list_all(POLICIES).await.unwrap();
    assert_eq!(ids(&items).len(), 60);
    let stats = env.sim.stats(&env.tenant);
    assert!(stats.throttled >= 1);
    // The client's own counters agree with what the server saw: every attempt, every 429.
    let c = env.graph.counters();
    assert_eq!(
        (c.sent, c.throttled, c.server_errors),
        (stats.graph_requests, stats.throttled, 0)
    );
}

#[tokio::test]
async fn server_errors_are_retried_and_the_list_is_whole() {
    let env = env(60).await;
    env.sim.set_faults(
        &env.tenant,
        Faults {
            server_errors: Some(ServerErrors {
                every_nth: Some(2),
                statuses: vec![500, 502, 503, 504],
                retry_after: Some(0.05),
                ..ServerErrors::default()
            }),
            ..Faults::default()
        },
    );
    let items = env.tc.list_all(POLICIES).await.unwrap();
    assert_eq!(ids(&items).len(), 60);
    let stats = env.sim.stats(&env.tenant);
    assert!(stats.server_errors >= 2);
    let c = env.graph.counters();
    assert_eq!((c.sent, c.server_errors), (stats.graph_requests, stats.server_errors));
}

#[tokio::test]
async fn persistent_server_errors_are_typed_and_a_create_is_not_repeated() {
    let env = env(3).await;
    env.tc.token().await.unwrap();
    let errors = |status| Faults {
        server_errors: Some(ServerErrors {
            every_nth: Some(1),
            statuses: vec![status],
            ..ServerErrors::default()
        }),
        ..Faults::default()
    };
    env.sim.set_faults(&env.tenant, errors(503));
    match env.tc.get(DEVICE_CONFIGS).await {
        Err(GraphError::Http(r)) => {
            assert_eq!(r.status, 503);
            assert!(r.request_id.is_some());
        }
        other => panic!("expected Http 503, got {other:?}"),
    }
    assert_eq!(env.sim.stats(&env.tenant).server_errors, 5, "1 try + 4 retries");

    // A 502 on a create may hide a created object: it is reported, not re-sent.
    env.sim.set_faults(&env.tenant, errors(502));
    env.sim.reset_stats(&env.tenant);
    let body = json!({"@odata.type": "#microsoft.graph.windows10GeneralConfiguration", "displayName": "new"});
    match env.tc.post(DEVICE_CONFIGS, &body).await {
        Err(GraphError::Http(r)) => assert_eq!(r.status, 502),
        other => panic!("expected Http 502, got {other:?}"),
    }
    assert_eq!(env.sim.stats(&env.tenant).count("POST", "deviceConfigurations"), 1);
}

#[tokio::test]
async fn batch_retries_failed_items_and_follows_next_links_in_item_bodies() {
    let env = env(60).await;
    let objects = env.sim.objects(&env.tenant, "configurationPolicies");
    env.sim.set_faults(
        &env.tenant,
        Faults {
            throttle: Some(Throttle {
                every_nth: Some(7),
                retry_after: Some(0.05),
                ..Throttle::default()
            }),
            batch_item_errors: Some(ServerErrors {
                every_nth: Some(4),
                statuses: vec![500, 503, 504],
                ..ServerErrors::default()
            }),
            ..Faults::default()
        },
    );
    // One paged list (3 pages) plus 24 single objects: 25 requests, so two `$batch` calls at least.
    let mut requests = vec![BatchRequest::get("list", "/deviceManagement/configurationPolicies")];
    for o in objects.iter().take(24) {
        let id = o["id"].as_str().unwrap();
        requests.push(BatchRequest::get(
            id,
            format!("deviceManagement/configurationPolicies/{id}"),
        ));
    }
    let responses = env.tc.batch(ApiVersion::Beta, requests).await.unwrap();
    assert_eq!(responses.len(), 25);

    let list = responses[0].result.as_ref().expect("the list item succeeds");
    assert_eq!(responses[0].id, "list");
    assert_eq!(list.status, 200);
    assert_eq!(list.pages, 3);
    assert!(list.body.get("@odata.nextLink").is_none());
    assert_eq!(ids(list.body["value"].as_array().unwrap()).len(), 60);
    for r in &responses[1..] {
        let item = r.result.as_ref().unwrap_or_else(|e| panic!("{} failed: {e}", r.id));
        assert_eq!(item.status, 200);
        assert_eq!(
            item.body["id"].as_str(),
            Some(r.id.as_str()),
            "answers are paired by id"
        );
    }
    let stats = env.sim.stats(&env.tenant);
    assert!(stats.batch_requests >= 3, "{stats:?}");
    assert!(stats.server_errors >= 1 && stats.throttled >= 1, "{stats:?}");
    // The client counts batch items and their 429/5xx answers as the server does.
    let c = env.graph.counters();
    assert_eq!(
        (c.sent, c.batch_items, c.throttled, c.server_errors),
        (
            stats.graph_requests - stats.batch_items,
            stats.batch_items,
            stats.throttled,
            stats.server_errors
        )
    );
}

#[tokio::test]
async fn batch_item_errors_that_persist_are_typed_per_item() {
    let env = env(30).await;
    env.sim.set_faults(
        &env.tenant,
        Faults {
            paging: Some(PagingFault::DeadNextLink),
            forbidden_families: vec!["deviceConfigurations".into()],
            ..Faults::default()
        },
    );
    let responses = env
        .tc
        .batch(
            ApiVersion::Beta,
            vec![
                BatchRequest::get("1", "/deviceManagement/configurationPolicies"),
                BatchRequest::get("2", "/deviceManagement/deviceConfigurations"),
                BatchRequest::get("3", "/deviceManagement/assignmentFilters"),
            ],
        )
        .await
        .unwrap();
    match &responses[0].result {
        Err(GraphError::Incomplete {
            pages_read,
            items_read,
            source,
            ..
        }) => {
            assert_eq!((*pages_read, *items_read), (1, 25));
            assert_eq!(source.as_ref().and_then(|s| s.status()), Some(404));
        }
        other => panic!("expected Incomplete, got {other:?}"),
    }
    match &responses[1].result {
        Err(e) => assert!(e.is_forbidden(), "{e:?}"),
        other => panic!("expected 403, got {other:?}"),
    }
    assert!(responses[2].result.is_ok());
}

#[tokio::test]
async fn batch_rejects_duplicate_ids_before_sending() {
    let env = env(1).await;
    let r = env
        .tc
        .batch(
            ApiVersion::Beta,
            vec![
                BatchRequest::get("a", "/deviceManagement/deviceConfigurations"),
                BatchRequest::get("A", "/deviceManagement/deviceConfigurations"),
            ],
        )
        .await;
    assert!(matches!(r, Err(GraphError::InvalidInput(_))), "{r:?}");
    assert_eq!(env.sim.stats(&env.tenant).batch_requests, 0);
}

#[tokio::test]
async fn slow_responses_end_in_a_typed_timeout() {
    let env = env_with(3, |c| {
        c.timeout = Duration::from_millis(250);
        c.max_retries = 1;
    })
    .await;
    env.tc.token().await.unwrap();
    env.sim.set_faults(
        &env.tenant,
        Faults {
            delay: Some(Delay {
                ms: 1500,
                ..Delay::default()
            }),
            ..Faults::default()
        },
    );
    let started = Instant::now();
    match env.tc.get(DEVICE_CONFIGS).await {
        Err(GraphError::Timeout { method, path, timeout }) => {
            assert_eq!(method, "GET");
            assert_eq!(path, DEVICE_CONFIGS);
            assert_eq!(timeout, Duration::from_millis(250));
        }
        other => panic!("expected Timeout, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_dead_next_link_is_incomplete_not_a_shorter_list() {
    let env = env(60).await;
    env.sim.set_faults(
        &env.tenant,
        Faults {
            paging: Some(PagingFault::DeadNextLink),
            ..Faults::default()
        },
    );
    let (pages, items, reason, source) = expect_incomplete(env.tc.list_all(POLICIES).await);
    assert_eq!((pages, items), (1, 25));
    assert!(reason.contains("page 2"), "{reason}");
    let source = source.expect("the failed page's error");
    assert_eq!(source.status(), Some(404));
    assert!(source.request_id().is_some());
}

#[tokio::test]
async fn a_missing_next_link_is_incomplete_not_a_shorter_list() {
    let env = env(60).await;
    env.sim.set_faults(
        &env.tenant,
        Faults {
            paging: Some(PagingFault::MissingNextLink),
            ..Faults::default()
        },
    );
    let (pages, items, reason, _) = expect_incomplete(env.tc.list_all(POLICIES).await);
    assert_eq!((pages, items), (1, 25));
    assert!(reason.contains("@odata.count is 60"), "{reason}");
}

fn family(code: &str) -> &'static atlas_graph::families::Family {
    atlas_graph::families::Family::by_code(code).unwrap()
}

fn expect_family_incomplete(r: Result<atlas_graph::FamilyRead, GraphError>) -> (u32, usize, String) {
    match r {
        Err(GraphError::Incomplete {
            pages_read,
            items_read,
            reason,
            ..
        }) => (pages_read, items_read, reason),
        Ok(read) => panic!(
            "a broken list came back as {} objects instead of an error",
            read.objects.len()
        ),
        Err(e) => panic!("expected Incomplete, got {e:?}"),
    }
}

/// deviceConfigurations answers `@odata.count` only when asked: the family read asks.
#[tokio::test]
async fn a_family_read_asks_for_the_count_and_sees_a_later_page_without_next_link() {
    let env = env_paged(35, 10).await;
    env.sim.set_faults(
        &env.tenant,
        Faults {
            paging: Some(PagingFault::MissingNextLink),
            paging_page: Some(2),
            paging_families: vec!["deviceConfigurations".into()],
            ..Faults::default()
        },
    );
    let (pages, items, reason) = expect_family_incomplete(env.tc.read_family(family("deviceConfigurations")).await);
    assert_eq!((pages, items), (2, 20));
    assert!(reason.contains("@odata.count is 35"), "{reason}");
    // Another family's lists are untouched by the fault.
    let filters = env.tc.read_family(family("assignmentFilters")).await.unwrap();
    assert_eq!(filters.objects.len(), 35);
}

#[tokio::test]
async fn a_short_page_is_an_incomplete_family_read() {
    let env = env_paged(35, 10).await;
    env.sim.set_faults(
        &env.tenant,
        Faults {
            paging: Some(PagingFault::ShortPage),
            paging_families: vec!["deviceConfigurations".into()],
            ..Faults::default()
        },
    );
    let (pages, items, reason) = expect_family_incomplete(env.tc.read_family(family("deviceConfigurations")).await);
    assert_eq!(
        (pages, items),
        (4, 30),
        "page 1 held 5 of its 10, the nextLink went on at 10"
    );
    assert!(reason.contains("@odata.count is 35 but the pages held 30"), "{reason}");
}

/// A list that ignores `$count` and ends early looks complete; the left-out objects' own GETs tell a
/// deletion (404) from an object that is still there.
#[tokio::test]
async fn without_a_count_the_objects_own_gets_tell_deleted_from_left_out() {
    let env = env_paged(25, 10).await;
    let fam = family("deviceConfigurations");
    let all: Vec<String> = ids(&env.sim.objects(&env.tenant, "deviceConfigurations"))
        .into_iter()
        .collect();
    env.sim.set_faults(
        &env.tenant,
        Faults {
            paging: Some(PagingFault::MissingNextLink),
            no_count: true,
            ..Faults::default()
        },
    );
    let read = env.tc.read_family(fam).await.unwrap();
    assert_eq!(read.objects.len(), 10, "nothing on the wire tells the list is short");
    let listed = ids(&read.objects);
    let missing: Vec<String> = all.iter().filter(|id| !listed.contains(*id)).cloned().collect();
    assert_eq!(missing.len(), 15);
    env.tc
        .delete(&format!("{DEVICE_CONFIGS}/{}", missing[0]))
        .await
        .unwrap();
    let answers = env.tc.confirm_absent(fam, &missing).await.unwrap();
    assert_eq!(answers.len(), 15);
    for (id, presence) in &answers {
        let want_gone = *id == missing[0];
        assert_eq!(
            matches!(presence, atlas_graph::Presence::Gone),
            want_gone,
            "{id}: {presence:?}"
        );
        assert_eq!(
            matches!(presence, atlas_graph::Presence::Present),
            !want_gone,
            "{id}: {presence:?}"
        );
    }
}

/// One object that answers 429 every time fails alone, after the batch client's retries and a second
/// pass at the end of the read; the family's other objects are read in full.
#[tokio::test]
async fn one_persistently_throttled_object_fails_alone() {
    let env = env(6).await;
    let fam = family("deviceManagementScripts");
    let objects = env.sim.objects(&env.tenant, "deviceManagementScripts");
    let hot = objects[2]["id"].as_str().unwrap().to_owned();
    env.sim.set_faults(
        &env.tenant,
        Faults {
            throttle: Some(Throttle {
                fraction: 1.0,
                retry_after: Some(0.01),
                paths: vec![format!("deviceManagementScripts/{hot}")],
                ..Throttle::default()
            }),
            ..Faults::default()
        },
    );
    let read = env.tc.read_family(fam).await.unwrap();
    assert_eq!(read.objects.len(), 5);
    assert!(!ids(&read.objects).contains(&hot));
    // The others are whole: content (scripts are re-read for it) and assignments.
    for o in &read.objects {
        assert!(o["scriptContent"].is_string(), "{o}");
        assert!(o["assignments"].is_array(), "{o}");
    }
    assert_eq!(read.failed.len(), 1);
    assert_eq!(read.failed[0].id, hot);
    assert!(!read.failed[0].name.is_empty());
    assert!(
        matches!(read.failed[0].error, GraphError::Throttled(_)),
        "{:?}",
        read.failed[0].error
    );
    // Retried in the batch client (4 retries) and once more in a second pass: 2 × 5 answers of 429.
    assert_eq!(env.graph.counters().throttled, 10);
}

#[tokio::test]
async fn revoked_consent_is_an_auth_error() {
    let env = env(3).await;
    env.tc.get(DEVICE_CONFIGS).await.unwrap();
    // Graph now rejects the cached token; the client refreshes once and the token endpoint refuses.
    env.sim.set_faults(
        &env.tenant,
        Faults {
            consent_revoked: true,
            ..Faults::default()
        },
    );
    match env.tc.get(DEVICE_CONFIGS).await {
        Err(GraphError::Auth(a)) => {
            assert_eq!(a.code, "invalid_client");
            assert_eq!(a.status, 401);
            assert!(a.error_codes.contains(&7000229), "{a:?}");
        }
        other => panic!("expected Auth, got {other:?}"),
    }
    assert_eq!(env.sim.stats(&env.tenant).token_requests, 2);

    // The same through the service principal being removed.
    env.sim.clear_faults(&env.tenant);
    env.tc.get(DEVICE_CONFIGS).await.unwrap();
    env.sim.revoke(&env.tenant, CLIENT);
    let err = env.tc.list_all(POLICIES).await.unwrap_err();
    assert_eq!(err.code(), Some("invalid_client"), "{err:?}");
}

#[tokio::test]
async fn a_missing_permission_is_a_typed_403() {
    let env = env(3).await;
    let reader = "33333333-3333-4333-8333-333333333333";
    env.sim.register_app(reader, SECRET);
    env.sim.grant(&env.tenant, reader, &["DeviceManagementApps.Read.All"]);
    let tc = env.graph.tenant(&env.tenant, AppIdentity::with_secret(reader, SECRET));
    let token = tc.token().await.unwrap();
    assert_eq!(token.roles, vec!["DeviceManagementApps.Read.All"]);
    match tc.list_all(POLICIES).await {
        Err(e @ GraphError::Http(_)) => {
            assert!(e.is_forbidden());
            assert_eq!(e.status(), Some(403));
            assert!(e.code().is_some());
            assert!(e.request_id().is_some());
            assert!(e.client_request_id().is_some());
        }
        other => panic!("expected 403, got {other:?}"),
    }
    assert_eq!(
        env.sim.stats(&env.tenant).count("GET", "configurationPolicies"),
        1,
        "a 403 is not retried"
    );

    // And a family the tenant forbids whatever the roles.
    env.sim.set_faults(
        &env.tenant,
        Faults {
            forbidden_families: vec!["configurationPolicies".into()],
            ..Faults::default()
        },
    );
    let err = env.tc.list_all(POLICIES).await.unwrap_err();
    assert!(err.is_forbidden(), "{err:?}");
}

#[tokio::test]
async fn the_write_budget_slows_us_down_before_the_service_throttles() {
    let window = Duration::from_millis(600);
    let env = env_with(3, |c| {
        c.app_writes_per_20s = 4;
        // Our window is a little longer than the service's: we stamp before sending, it counts on arrival.
        c.budget_window = window + Duration::from_millis(100);
    })
    .await;
    env.sim.set_faults(
        &env.tenant,
        Faults {
            rate_limit: Some(RateLimit {
                window_ms: window.as_millis() as u64,
                max_requests: 1000,
                max_writes: 4,
                fractional_retry_after: true,
            }),
            ..Faults::default()
        },
    );
    let target = env.sim.objects(&env.tenant, "deviceConfigurations")[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let started = Instant::now();
    for i in 0..8 {
        env.tc
            .patch(
                &format!("{DEVICE_CONFIGS}/{target}"),
                &json!({"description": format!("edit {i}")}),
            )
            .await
            .unwrap();
    }
    assert!(
        started.elapsed() >= window,
        "8 writes at 4 per window took {:?}",
        started.elapsed()
    );
    assert_eq!(env.sim.stats(&env.tenant).throttled, 0);
}

/// Intune's limits are per service: reads of two services each get the full allowance, while a
/// fifth read of one service waits for its window.
#[tokio::test]
async fn each_intune_service_has_its_own_allowance() {
    let window = Duration::from_secs(4);
    let env = env_with(3, |c| {
        c.app_requests_per_20s = 4;
        c.budget_window = window;
    })
    .await;
    env.tc.token().await.unwrap();
    let started = Instant::now();
    for _ in 0..4 {
        env.tc.get(DEVICE_CONFIGS).await.unwrap();
        env.tc.get(POLICIES).await.unwrap();
    }
    assert!(
        started.elapsed() < window / 2,
        "4 reads at each of two services waited: {:?}",
        started.elapsed()
    );
    env.tc.get(POLICIES).await.unwrap();
    assert!(
        started.elapsed() >= window,
        "a fifth read at one service went out after {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn the_tenant_concurrency_limit_holds() {
    let env = env_with(3, |c| c.tenant_concurrency = 1).await;
    env.tc.token().await.unwrap();
    env.sim.set_faults(
        &env.tenant,
        Faults {
            delay: Some(Delay {
                ms: 150,
                ..Delay::default()
            }),
            ..Faults::default()
        },
    );
    let started = Instant::now();
    let tasks: Vec<_> = (0..3)
        .map(|_| {
            let tc = env.tc.clone();
            tokio::spawn(async move { tc.get(DEVICE_CONFIGS).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert!(
        started.elapsed() >= Duration::from_millis(450),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn multi_admin_approval_is_a_typed_error_with_the_approval_code() {
    let env = env(3).await;
    env.sim.set_faults(
        &env.tenant,
        Faults {
            approval_required: true,
            ..Faults::default()
        },
    );
    let target = env.sim.objects(&env.tenant, "deviceConfigurations")[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("{DEVICE_CONFIGS}/{target}");
    let body = json!({"description": "needs approval"});
    match env.tc.patch(&path, &body).await {
        Err(GraphError::Http(r)) => assert_eq!(r.status, 400),
        other => panic!("expected 400, got {other:?}"),
    }
    let request = GraphRequest::new(Method::PATCH, &path)
        .body(body)
        .header("x-msft-approval-justification", STANDARD.encode("quarterly baseline"));
    match env.tc.send(request).await {
        Err(GraphError::ApprovalRequired(r)) => {
            assert_eq!(r.status, 403);
            assert_eq!(r.code, "ApprovalRequired");
            assert!(r.approval_code.is_some());
        }
        other => panic!("expected ApprovalRequired, got {other:?}"),
    }
    // Reads are not gated.
    env.tc.get(&path).await.unwrap();
}

// The Intune audit log as a change feed (`audit_events_since`).

const DEVICE_CONFIGS_V1: &str = "/v1.0/deviceManagement/deviceConfigurations";

/// The ids of the first `n` device configurations.
async fn device_config_ids(env: &Env, n: usize) -> Vec<String> {
    let items = env.tc.list_all(DEVICE_CONFIGS_V1).await.unwrap();
    let mut ids: Vec<String> = items.iter().map(|v| v["id"].as_str().unwrap().to_owned()).collect();
    ids.truncate(n);
    assert_eq!(ids.len(), n, "the tenant is seeded with enough device configurations");
    ids
}

async fn rename(env: &Env, id: &str, name: &str) {
    env.tc
        .patch(&format!("{DEVICE_CONFIGS_V1}/{id}"), &json!({"displayName": name}))
        .await
        .unwrap();
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Waits (polling, 2 s deadline) until the wall clock has passed `ms`.
async fn clock_past(ms: i64) {
    let deadline = Instant::now() + Duration::from_secs(2);
    while now_ms() <= ms {
        assert!(Instant::now() < deadline, "the clock did not pass {ms}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

#[tokio::test]
async fn a_graph_patch_is_in_the_audit_feed_with_old_and_new_values_and_the_app_as_actor() {
    let env = env(3).await;
    let id = device_config_ids(&env, 1).await.remove(0);
    let before = env.tc.get(&format!("{DEVICE_CONFIGS_V1}/{id}")).await.unwrap();
    let old_name = before["displayName"].as_str().unwrap().to_owned();
    assert!(
        env.tc.audit_events_since(0).await.unwrap().is_empty(),
        "reads are not audited"
    );

    rename(&env, &id, "Renamed by the app").await;
    let events = env.tc.audit_events_since(0).await.unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0];
    assert_eq!(e.activity_operation_type, "Patch");
    assert_eq!(e.activity_result, "Success");
    assert_eq!(e.component_name, "DeviceConfiguration");
    assert_eq!(e.activity_type, "Patch DeviceConfiguration");
    assert_eq!(e.actor.kind, "Application");
    assert_eq!(e.actor.application_id.as_deref(), Some(CLIENT));
    assert_eq!(e.actor.user_principal_name, None);
    assert!(e.actor_name().is_some());
    assert!(
        e.activity_ms().is_some_and(|ms| (now_ms() - ms).abs() < 60_000),
        "{e:?}"
    );
    assert!(!e.correlation_id.is_empty());
    let r = &e.resources[0];
    assert_eq!(r.resource_id, id);
    assert_eq!(r.display_name, "Renamed by the app");
    let ty = before["@odata.type"].as_str().unwrap().rsplit('.').next().unwrap();
    assert!(r.kind.eq_ignore_ascii_case(ty), "{} vs {ty}", r.kind);
    assert_ne!(r.kind, ty, "PascalCase, as Intune names types");
    let changed: Vec<_> = r
        .modified_properties
        .iter()
        .map(|p| (p.display_name.as_str(), p.old_value.as_deref(), p.new_value.as_deref()))
        .collect();
    assert_eq!(
        changed,
        vec![("displayName", Some(old_name.as_str()), Some("Renamed by the app"))]
    );

    // An assign is an Action naming the assignments it changed; a delete a Delete.
    env.tc
        .post(
            &format!("{DEVICE_CONFIGS_V1}/{id}/assign"),
            &json!({"assignments": [{"target": {"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget"}}]}),
        )
        .await
        .unwrap();
    env.tc.delete(&format!("{DEVICE_CONFIGS_V1}/{id}")).await.unwrap();
    let events = env.tc.audit_events_since(0).await.unwrap();
    let ops: Vec<&str> = events.iter().map(|e| e.activity_operation_type.as_str()).collect();
    assert_eq!(ops, vec!["Delete", "Action", "Patch"], "newest first");
    assert_eq!(events[1].activity_type, "Assign DeviceConfiguration");
    let assigned = &events[1].resources[0].modified_properties;
    assert_eq!(assigned.len(), 1, "{assigned:?}");
    assert_eq!(assigned[0].display_name, "assignments");
    assert!(
        assigned[0]
            .new_value
            .as_deref()
            .unwrap()
            .contains("allDevicesAssignmentTarget")
    );
    assert_eq!(events[0].resources[0].resource_id, id);
}

#[tokio::test]
async fn a_portal_write_through_sim_is_in_the_audit_feed_with_the_user_as_actor() {
    let env = env(3).await;
    let id = device_config_ids(&env, 1).await.remove(0);
    let admin = env
        .sim
        .users(&env.tenant)
        .into_iter()
        .find(|u| u.key == "intune-admin")
        .unwrap();
    let http = reqwest::Client::new();
    let url = format!(
        "{}/_sim/tenants/{}/objects/deviceConfigurations/{id}",
        env.sim.base_url, env.tenant
    );
    // An actor who is nobody is refused and changes nothing.
    let refused = http
        .patch(&url)
        .header("X-Sim-Actor", "nobody")
        .json(&json!({"description": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    assert!(env.tc.audit_events_since(0).await.unwrap().is_empty());

    let patched = http
        .patch(&url)
        .header("X-Sim-Actor", "intune-admin")
        .json(&json!({"description": "Changed in the portal"}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 204);
    let events = env.tc.audit_events_since(0).await.unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0];
    assert_eq!(e.activity_operation_type, "Patch");
    assert_eq!(e.actor.kind, "ItPro");
    assert_eq!(
        e.actor.user_principal_name.as_deref(),
        Some(admin.user_principal_name.as_str())
    );
    assert_eq!(e.actor.user_id.as_deref(), Some(admin.id.as_str()));
    assert_eq!(e.actor_name(), Some(admin.user_principal_name.as_str()));
    let p = &e.resources[0].modified_properties;
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(
        (p[0].display_name.as_str(), p[0].new_value.as_deref()),
        ("description", Some("Changed in the portal"))
    );

    // Existing callers send no actor: the Global Administrator deletes.
    let deleted = http.delete(&url).send().await.unwrap();
    assert_eq!(deleted.status(), 204);
    let events = env.tc.audit_events_since(0).await.unwrap();
    assert_eq!(events[0].activity_operation_type, "Delete");
    assert!(
        events[0]
            .actor
            .user_principal_name
            .as_deref()
            .is_some_and(|u| u.starts_with("admin@")),
        "{:?}",
        events[0].actor
    );
}

#[tokio::test]
async fn the_audit_feed_returns_only_newer_events_newest_first() {
    let env = env(5).await;
    let ids = device_config_ids(&env, 4).await;
    rename(&env, &ids[0], "first").await;
    let first = env.tc.audit_events_since(0).await.unwrap();
    let cursor = first[0].activity_ms().unwrap() + 1;
    clock_past(cursor + 1).await;
    for (i, id) in ids[1..].iter().enumerate() {
        rename(&env, id, &format!("later {i}")).await;
    }
    let newer = env.tc.audit_events_since(cursor).await.unwrap();
    let named: Vec<&str> = newer.iter().map(|e| e.resources[0].resource_id.as_str()).collect();
    assert_eq!(named, vec![ids[3].as_str(), ids[2].as_str(), ids[1].as_str()]);
    let times: Vec<&str> = newer.iter().map(|e| e.activity_date_time.as_str()).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    assert!(env.tc.audit_events_since(now_ms() + 60_000).await.unwrap().is_empty());
}

#[tokio::test]
async fn the_audit_feed_reads_every_page_once_and_retries_throttled_pages() {
    let env = env_paged(12, 3).await;
    let ids = device_config_ids(&env, 10).await;
    for id in &ids {
        rename(&env, id, &format!("paged {id}")).await;
    }
    env.sim.reset_stats(&env.tenant);
    let events = env.tc.audit_events_since(0).await.unwrap();
    assert_eq!(events.len(), 10);
    let unique: HashSet<&str> = events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(unique.len(), 10, "no event twice");
    let named: HashSet<&str> = events.iter().map(|e| e.resources[0].resource_id.as_str()).collect();
    assert_eq!(named, ids.iter().map(String::as_str).collect());
    assert_eq!(env.sim.stats(&env.tenant).count("GET", "auditEvents"), 4, "pages of 3");

    // `$top` sets the page size.
    let page = env.tc.get("/v1.0/deviceManagement/auditEvents?$top=4").await.unwrap();
    assert_eq!(page["value"].as_array().unwrap().len(), 4);
    assert!(page["@odata.nextLink"].is_string());

    // Throttled pages are retried and the feed is whole.
    env.sim
        .set_faults(&env.tenant, Faults::throttle_fraction(0.5, Some(0.02)));
    let again = env.tc.audit_events_since(0).await.unwrap();
    assert_eq!(again, events);
    assert!(env.sim.stats(&env.tenant).throttled >= 1);
}

#[tokio::test]
async fn a_page_of_the_audit_feed_that_keeps_failing_is_an_error_not_a_shorter_feed() {
    let env = env_paged(6, 2).await;
    for id in device_config_ids(&env, 5).await {
        rename(&env, &id, "x").await;
    }
    env.sim.set_faults(
        &env.tenant,
        Faults {
            paging: Some(PagingFault::DeadNextLink),
            paging_families: vec!["auditEvents".into()],
            ..Faults::default()
        },
    );
    match env.tc.audit_events_since(0).await {
        Err(GraphError::Incomplete { pages_read, .. }) => assert_eq!(pages_read, 1),
        other => panic!("expected Incomplete, got {other:?}"),
    }
}

#[tokio::test]
async fn audit_events_need_a_device_management_role_and_appear_after_the_delay() {
    let config = SimConfig {
        audit_delay_ms: 300,
        ..SimConfig::default()
    };
    let env = env_sim(config, 2, |_| {}).await;
    let id = device_config_ids(&env, 1).await.remove(0);
    rename(&env, &id, "delayed").await;
    assert!(
        env.tc.audit_events_since(0).await.unwrap().is_empty(),
        "not visible yet"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    let events = loop {
        let events = env.tc.audit_events_since(0).await.unwrap();
        if !events.is_empty() {
            break events;
        }
        assert!(Instant::now() < deadline, "the event never became visible");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(events[0].resources[0].resource_id, id);

    let groups_only = "44444444-4444-4444-8444-444444444444";
    env.sim.register_app(groups_only, SECRET);
    env.sim.grant(&env.tenant, groups_only, &["Group.Read.All"]);
    let tc = env
        .graph
        .tenant(&env.tenant, AppIdentity::with_secret(groups_only, SECRET));
    let err = tc.audit_events_since(0).await.unwrap_err();
    assert!(err.is_forbidden(), "{err:?}");
}

#[tokio::test]
async fn batch_writes_and_portal_creates_are_audited_one_event_each_and_groups_are_not() {
    let env = env(3).await;
    let ids = device_config_ids(&env, 2).await;
    let requests = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            BatchRequest::new(
                i.to_string(),
                Method::PATCH,
                format!("/deviceManagement/deviceConfigurations/{id}"),
            )
            .body(json!({"description": format!("batched {i}")}))
        })
        .collect();
    let answers = env.tc.batch(ApiVersion::V1, requests).await.unwrap();
    assert!(answers.iter().all(|a| a.result.is_ok()), "{answers:?}");
    // Entra's objects are audited by Entra, not in Intune's log.
    env.tc
        .post(
            "/v1.0/groups",
            &json!({"displayName": "SG-Audit", "mailEnabled": false, "mailNickname": "sgaudit", "securityEnabled": true}),
        )
        .await
        .unwrap();
    let created = reqwest::Client::new()
        .post(format!(
            "{}/_sim/tenants/{}/objects/assignmentFilters",
            env.sim.base_url, env.tenant
        ))
        .header("X-Sim-Actor", "roles.admin@".to_owned() + &env.sim.tenants()[0].domains[0])
        .json(&json!({"displayName": "Portal filter", "platform": "windows10AndLater", "rule": "(device.model -eq \"x\")"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let new_id = created.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let events = env.tc.audit_events_since(0).await.unwrap();
    assert_eq!(events.len(), 3, "{events:?}");
    let create = &events[0];
    assert_eq!(create.activity_operation_type, "Create");
    assert_eq!(create.component_name, "AssignmentFilter");
    assert!(
        create
            .actor
            .user_principal_name
            .as_deref()
            .unwrap()
            .starts_with("roles.admin@")
    );
    assert_eq!(create.resources[0].resource_id, new_id);
    let name = create.resources[0]
        .modified_properties
        .iter()
        .find(|p| p.display_name == "displayName")
        .unwrap();
    assert_eq!(
        (name.old_value.as_deref(), name.new_value.as_deref()),
        (None, Some("Portal filter"))
    );
    let patched: HashSet<&str> = events[1..]
        .iter()
        .map(|e| e.resources[0].resource_id.as_str())
        .collect();
    assert_eq!(patched, ids.iter().map(String::as_str).collect());
    assert!(
        events[1..]
            .iter()
            .all(|e| e.actor.application_id.as_deref() == Some(CLIENT))
    );
}
