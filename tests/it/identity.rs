//! Identity: the JWKS verifier against tokens of the local issuer, in-process and over HTTP, and
//! the issuer's authorization-code flow with PKCE.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use atlas_app::identity::issuer::{self, DEMO_GRANT, LocalIssuer, pkce_s256};
use atlas_app::identity::jwt::{JwkSet, JwksSource, JwksVerifier, JwtConfig};
use atlas_app::identity::{Actor, AuthError, DEMO_USERS, DemoUser, TokenVerifier};
use atlas_store::{Clock, ManualClock, SystemClock};
use reqwest::StatusCode;
use reqwest::header::LOCATION;
use serde_json::Value;
use time::OffsetDateTime;

const ISSUER: &str = "http://127.0.0.1:9/oidc";
const AUDIENCE: &str = "tenantatlas-api";
const HOUR: Duration = Duration::from_secs(3_600);

fn owner() -> &'static DemoUser {
    &DEMO_USERS[0]
}

fn outsider() -> &'static DemoUser {
    DEMO_USERS.iter().find(|u| u.user_id == "u-outsider").unwrap()
}

fn issuer_with(url: &str, audience: &str, key: Vec<u8>, clock: Arc<dyn Clock>) -> LocalIssuer {
    LocalIssuer::new(url.into(), audience.into(), key, clock).expect("issuer")
}

fn issuer_at(clock: Arc<dyn Clock>) -> LocalIssuer {
    issuer_with(ISSUER, AUDIENCE, LocalIssuer::generate_key(), clock)
}

fn issuer() -> LocalIssuer {
    issuer_at(Arc::new(SystemClock))
}

fn verifier(source: Arc<dyn JwksSource>, clock: Arc<dyn Clock>) -> JwksVerifier {
    JwksVerifier::with_source(JwtConfig::new(ISSUER, AUDIENCE, "unused"), source, clock)
}

fn invalid(res: Result<Actor, AuthError>, why: &str) -> String {
    match res {
        Err(AuthError::Invalid(reason)) => reason,
        other => panic!("{why}: expected Invalid, got {other:?}"),
    }
}

/// A source whose keys can be swapped and whose fetches are counted. Written out rather than with
/// `#[async_trait]`, which this crate does not depend on; the shape is what that macro generates.
struct Counting {
    set: Mutex<JwkSet>,
    fetches: AtomicUsize,
}

type Fetch<'a> = Pin<Box<dyn Future<Output = Result<JwkSet, AuthError>> + Send + 'a>>;

impl Counting {
    fn new(set: JwkSet) -> Arc<Self> {
        Arc::new(Self {
            set: Mutex::new(set),
            fetches: AtomicUsize::new(0),
        })
    }
    fn serve(&self, set: JwkSet) {
        *self.set.lock().unwrap() = set;
    }
    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

impl JwksSource for Counting {
    fn fetch<'life0, 'async_trait>(&'life0 self) -> Fetch<'async_trait>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(async move {
            self.fetches.fetch_add(1, Ordering::SeqCst);
            Ok(self.set.lock().unwrap().clone())
        })
    }
}

struct Failing;

impl JwksSource for Failing {
    fn fetch<'life0, 'async_trait>(&'life0 self) -> Fetch<'async_trait>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(async { Err(AuthError::KeysUnavailable("issuer down".into())) })
    }
}

#[tokio::test]
async fn a_token_from_the_issuer_verifies_to_its_demo_user() {
    let iss = issuer();
    let v = verifier(iss.source(), Arc::new(SystemClock));
    let actor = v.verify(&iss.issue(owner(), HOUR)).await.unwrap();
    assert_eq!(
        actor,
        Actor {
            user_id: "u-owner".into(),
            email: "owner@demo.test".into(),
            name: "Olivia Owner".into()
        }
    );
}

#[tokio::test]
async fn expired_and_not_yet_valid_tokens_are_invalid() {
    let now = OffsetDateTime::now_utc();
    let key = LocalIssuer::generate_key();
    let past = issuer_with(
        ISSUER,
        AUDIENCE,
        key.clone(),
        Arc::new(ManualClock::new(now - 2 * HOUR)),
    );
    let future = issuer_with(ISSUER, AUDIENCE, key, Arc::new(ManualClock::new(now + 2 * HOUR)));
    let v = verifier(past.source(), Arc::new(SystemClock));
    let reason = invalid(v.verify(&past.issue(owner(), HOUR)).await, "expired an hour ago");
    assert!(reason.contains("expired"), "{reason}");
    let reason = invalid(v.verify(&future.issue(owner(), HOUR)).await, "valid only in two hours");
    assert!(reason.contains("nbf"), "{reason}");
    // Within the leeway both are fine.
    let skewed = issuer_with(
        ISSUER,
        AUDIENCE,
        LocalIssuer::generate_key(),
        Arc::new(ManualClock::new(now + Duration::from_secs(30))),
    );
    let v = verifier(skewed.source(), Arc::new(SystemClock));
    v.verify(&skewed.issue(owner(), HOUR)).await.unwrap();
}

#[tokio::test]
async fn wrong_audience_or_issuer_is_invalid() {
    let key = LocalIssuer::generate_key();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let good = issuer_with(ISSUER, AUDIENCE, key.clone(), clock.clone());
    let other_aud = issuer_with(ISSUER, "another-api", key.clone(), clock.clone());
    let other_iss = issuer_with("http://127.0.0.1:9/elsewhere", AUDIENCE, key, clock.clone());
    let v = verifier(good.source(), clock);
    let reason = invalid(v.verify(&other_aud.issue(owner(), HOUR)).await, "another audience");
    assert!(reason.contains("audience"), "{reason}");
    let reason = invalid(v.verify(&other_iss.issue(owner(), HOUR)).await, "another issuer");
    assert!(reason.contains("issuer"), "{reason}");
}

#[tokio::test]
async fn a_key_published_under_the_kid_must_be_the_one_that_signed() {
    let genuine = issuer();
    let impostor = issuer();
    // The verifier holds another key under the genuine kid: the signature cannot match.
    let mut jwks = impostor.jwks();
    jwks["keys"][0]["kid"] = genuine.kid().into();
    let set: JwkSet = serde_json::from_value(jwks).unwrap();
    let v = verifier(Counting::new(set), Arc::new(SystemClock));
    let reason = invalid(v.verify(&genuine.issue(owner(), HOUR)).await, "signed by another key");
    assert!(reason.contains("signature"), "{reason}");
}

#[tokio::test]
async fn a_tampered_payload_is_invalid() {
    let iss = issuer();
    let v = verifier(iss.source(), Arc::new(SystemClock));
    let outsider = iss.issue(outsider(), HOUR);
    let owner = iss.issue(owner(), HOUR);
    let parts = |t: &str| t.split('.').map(str::to_owned).collect::<Vec<_>>();
    let (o, w) = (parts(&outsider), parts(&owner));
    // The outsider's header and signature with the owner's claims.
    let forged = format!("{}.{}.{}", o[0], w[1], o[2]);
    let reason = invalid(v.verify(&forged).await, "spliced claims");
    assert!(reason.contains("signature"), "{reason}");
    let mut sig = o[2].clone().into_bytes();
    sig[10] = if sig[10] == b'A' { b'B' } else { b'A' };
    let flipped = format!("{}.{}.{}", o[0], o[1], String::from_utf8(sig).unwrap());
    invalid(v.verify(&flipped).await, "altered signature");
    v.verify(&outsider).await.unwrap();
}

#[tokio::test]
async fn unknown_kids_refetch_at_most_once_per_30_seconds() {
    let clock = ManualClock::new(OffsetDateTime::now_utc());
    let known = issuer();
    let source = Counting::new(known.jwk_set());
    let v = verifier(source.clone(), Arc::new(clock.clone()));
    v.verify(&known.issue(owner(), HOUR)).await.unwrap();
    assert_eq!(source.fetches(), 1, "the first token loads the keys");
    v.verify(&known.issue(owner(), HOUR)).await.unwrap();
    assert_eq!(source.fetches(), 1, "known keys are cached");

    clock.advance(Duration::from_secs(31));
    let (forged_a, forged_b) = (issuer(), issuer());
    invalid(v.verify(&forged_a.issue(owner(), HOUR)).await, "unknown kid");
    assert_eq!(source.fetches(), 2, "an unknown kid refetches once");
    invalid(v.verify(&forged_b.issue(owner(), HOUR)).await, "another unknown kid");
    invalid(v.verify(&forged_a.issue(owner(), HOUR)).await, "the same unknown kid");
    assert_eq!(source.fetches(), 2, "no refetch within 30 s");
    v.verify(&known.issue(owner(), HOUR)).await.unwrap();

    clock.advance(Duration::from_secs(31));
    invalid(v.verify(&forged_b.issue(owner(), HOUR)).await, "unknown kid, later");
    assert_eq!(source.fetches(), 3, "30 s later a refetch is allowed again");
}

#[tokio::test]
async fn a_rotated_key_is_picked_up_on_its_first_use() {
    let clock = ManualClock::new(OffsetDateTime::now_utc());
    let (old, new) = (issuer(), issuer());
    let source = Counting::new(old.jwk_set());
    let v = verifier(source.clone(), Arc::new(clock.clone()));
    v.verify(&old.issue(owner(), HOUR)).await.unwrap();

    source.serve(new.jwk_set());
    clock.advance(Duration::from_secs(31));
    let actor = v.verify(&new.issue(outsider(), HOUR)).await.unwrap();
    assert_eq!(actor.user_id, "u-outsider");
    assert_eq!(source.fetches(), 2);
    invalid(v.verify(&old.issue(owner(), HOUR)).await, "a key no longer published");
}

#[tokio::test]
async fn keys_that_cannot_be_fetched_are_a_server_fault() {
    let v = verifier(Arc::new(Failing), Arc::new(SystemClock));
    let token = issuer().issue(owner(), HOUR);
    assert!(matches!(v.verify(&token).await, Err(AuthError::KeysUnavailable(_))));
    assert!(matches!(v.verify(&token).await, Err(AuthError::KeysUnavailable(_))));
}

/// The issuer's router served on loopback, mounted as the app mounts it.
struct Server {
    base: String,
    issuer: Arc<LocalIssuer>,
    client: reqwest::Client,
}

async fn serve_issuer() -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let iss = Arc::new(issuer_with(
        &format!("{base}/oidc"),
        AUDIENCE,
        LocalIssuer::generate_key(),
        Arc::new(SystemClock),
    ));
    let app: axum::Router = axum::Router::new().nest("/oidc", issuer::router(iss.clone()));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Server {
        base,
        issuer: iss,
        client,
    }
}

impl Server {
    fn oidc(&self, path: &str) -> String {
        format!("{}/oidc{path}", self.base)
    }

    fn verifier(&self) -> JwksVerifier {
        JwksVerifier::with_source(
            self.issuer.verifier_config(),
            self.issuer.source(),
            Arc::new(SystemClock),
        )
    }

    async fn token(&self, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let res = self.client.post(self.oidc("/token")).form(form).send().await.unwrap();
        (res.status(), res.json().await.unwrap())
    }
}

#[tokio::test]
async fn discovery_describes_the_issuer() {
    let s = serve_issuer().await;
    let doc: Value = s
        .client
        .get(s.oidc("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["issuer"], s.oidc(""));
    assert_eq!(doc["authorization_endpoint"], s.oidc("/authorize"));
    assert_eq!(doc["token_endpoint"], s.oidc("/token"));
    assert_eq!(doc["jwks_uri"], s.oidc("/jwks"));
    assert_eq!(doc["response_types_supported"], serde_json::json!(["code"]));
    assert_eq!(doc["code_challenge_methods_supported"], serde_json::json!(["S256"]));
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        serde_json::json!(["ES256"])
    );
    assert_eq!(doc["subject_types_supported"], serde_json::json!(["public"]));
    let grants = doc["grant_types_supported"].as_array().unwrap();
    assert!(grants.contains(&"authorization_code".into()) && grants.contains(&DEMO_GRANT.into()));

    let jwks: Value = s
        .client
        .get(s.oidc("/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = &jwks["keys"][0];
    assert_eq!((key["kty"].as_str(), key["crv"].as_str()), (Some("EC"), Some("P-256")));
    assert_eq!((key["alg"].as_str(), key["use"].as_str()), (Some("ES256"), Some("sig")));
    assert_eq!(key["kid"], s.issuer.kid());
}

#[tokio::test]
async fn authorization_code_flow_with_pkce() {
    let s = serve_issuer().await;
    let verifier_str = "a-code-verifier-of-at-least-43-characters.~_0123456789";
    let redirect_uri = format!("{}/auth/callback", s.base);
    let auth = [
        ("response_type", "code"),
        ("client_id", "tenantatlas-web"),
        ("redirect_uri", redirect_uri.as_str()),
        ("state", "st-1 &x"),
        ("code_challenge", &pkce_s256(verifier_str)),
        ("code_challenge_method", "S256"),
        ("login_hint", "manager@demo.test"),
    ];

    let page = s.client.get(s.oidc("/authorize")).query(&auth).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    assert!(
        html.contains("owner@demo.test") && html.contains("<form method=\"post\""),
        "{html}"
    );
    assert!(html.contains("lang=\"en\""));

    let mut chosen: Vec<(&str, &str)> = auth.to_vec();
    chosen.push(("email", "owner@demo.test"));
    let res = s.client.post(s.oidc("/authorize")).form(&chosen).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    let location = reqwest::Url::parse(res.headers()[LOCATION].to_str().unwrap()).unwrap();
    assert!(location.as_str().starts_with(&redirect_uri), "{location}");
    let q: std::collections::HashMap<String, String> = location.query_pairs().into_owned().collect();
    assert_eq!(q["state"], "st-1 &x");
    let code = q["code"].clone();

    let exchange = |code: String, verifier: &'static str| {
        let s = &s;
        let redirect_uri = redirect_uri.clone();
        async move {
            s.token(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &redirect_uri),
                ("client_id", "tenantatlas-web"),
                ("code_verifier", verifier),
            ])
            .await
        }
    };
    let (status, body) = exchange(code.clone(), verifier_str).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3_600);
    assert!(body["id_token"].as_str().is_some_and(|t| t.split('.').count() == 3));
    let actor = s
        .verifier()
        .verify(body["access_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(actor.email, "owner@demo.test");

    let (status, body) = exchange(code, verifier_str).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant", "a code is single-use");

    // A fresh code with the wrong verifier.
    let res = s.client.post(s.oidc("/authorize")).form(&chosen).send().await.unwrap();
    let location = reqwest::Url::parse(res.headers()[LOCATION].to_str().unwrap()).unwrap();
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let (status, body) = exchange(code, "another-code-verifier-of-at-least-43-characters").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn a_foreign_redirect_uri_is_refused_without_redirecting() {
    let s = serve_issuer().await;
    let challenge = pkce_s256("a-code-verifier-of-at-least-43-characters-long");
    for foreign in ["https://evil.test/cb", "http://localhost:1/cb"] {
        let auth = [
            ("response_type", "code"),
            ("client_id", "tenantatlas-web"),
            ("redirect_uri", foreign),
            ("state", "s"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        let page = s.client.get(s.oidc("/authorize")).query(&auth).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::BAD_REQUEST, "{foreign}");
        assert!(page.headers().get(LOCATION).is_none());
        let mut chosen = auth.to_vec();
        chosen.push(("email", "owner@demo.test"));
        let res = s.client.post(s.oidc("/authorize")).form(&chosen).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{foreign}");
        assert!(res.headers().get(LOCATION).is_none(), "never a redirect to {foreign}");
    }
}

#[tokio::test]
async fn the_demo_user_grant_issues_tokens_for_demo_users_only() {
    let s = serve_issuer().await;
    let (status, body) = s
        .token(&[("grant_type", DEMO_GRANT), ("email", "Operator@demo.test")])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let actor = s
        .verifier()
        .verify(body["access_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(actor.user_id, "u-operator");

    let (status, body) = s
        .token(&[("grant_type", DEMO_GRANT), ("email", "nobody@demo.test")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    assert!(
        body["error_description"].as_str().unwrap().contains("owner@demo.test"),
        "{body}"
    );

    let (status, body) = s
        .token(&[("grant_type", "password"), ("email", "owner@demo.test")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "unsupported_grant_type");
}

#[tokio::test]
async fn the_http_jwks_source_serves_the_verifier() {
    let s = serve_issuer().await;
    let v = JwksVerifier::new(s.issuer.verifier_config()).unwrap();
    assert_eq!(v.config().jwks_url, s.oidc("/jwks"));
    let actor = v.verify(&s.issuer.issue(owner(), HOUR)).await.unwrap();
    assert_eq!(actor.user_id, "u-owner");

    // Nothing listens on port 9 of loopback.
    let down = JwksVerifier::new(JwtConfig::new(ISSUER, AUDIENCE, "http://127.0.0.1:9/oidc/jwks")).unwrap();
    assert!(matches!(
        down.verify(&issuer().issue(owner(), HOUR)).await,
        Err(AuthError::KeysUnavailable(_))
    ));
}
