//! The OpenID Connect sign-in the simulator models (Entra v2): the authorize page and its users,
//! consent on sign-in, single-use PKCE-bound codes, per-tenant ID-token keys, `wids` only for apps
//! that ask, and the delegated directory-role read.

use atlas_graph_sim::{
    AppSpec, Faults, GLOBAL_ADMINISTRATOR, INTUNE_ADMINISTRATOR, SimConfig, SimHandle, Simulator, TenantInfo,
    TenantSpec,
};
use aws_lc_rs::digest;
use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use reqwest::StatusCode;
use serde_json::Value;

const CLIENT: &str = "3c3c3c3c-1111-4222-8333-944444444444";
const SECRET: &str = "sign-in~secret";
const WIDS_CLIENT: &str = "4d4d4d4d-1111-4222-8333-944444444444";
const REDIRECT: &str = "http://127.0.0.1:9/api/v1/provider/consent-callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

struct Env {
    sim: SimHandle,
    tenant: TenantInfo,
    other: TenantInfo,
    http: reqwest::Client,
}

fn challenge(verifier: &str) -> String {
    B64.encode(digest::digest(&digest::SHA256, verifier.as_bytes()))
}

fn claims(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&B64.decode(part).unwrap()).unwrap()
}

fn query(url: &str) -> Vec<(String, String)> {
    reqwest::Url::parse(url).unwrap().query_pairs().into_owned().collect()
}

fn get<'a>(q: &'a [(String, String)], k: &str) -> Option<&'a str> {
    q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
}

impl Env {
    async fn start() -> Env {
        let sim = Simulator::start(SimConfig::default()).await.expect("simulator starts");
        let tenant = sim.add_tenant(TenantSpec::default());
        let other = sim.add_tenant(TenantSpec::default());
        sim.register_app_spec(AppSpec {
            client_id: CLIENT.into(),
            secret: Some(SECRET.into()),
            redirect_uris: vec![REDIRECT.into()],
            ..AppSpec::default()
        });
        sim.register_app_spec(AppSpec {
            client_id: WIDS_CLIENT.into(),
            secret: Some(SECRET.into()),
            group_membership_claims: Some("DirectoryRole".into()),
            ..AppSpec::default()
        });
        Env {
            sim,
            tenant,
            other,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    fn params(&self, client: &str) -> Vec<(&'static str, String)> {
        vec![
            ("client_id", client.into()),
            ("response_type", "code".into()),
            ("redirect_uri", REDIRECT.into()),
            ("response_mode", "query".into()),
            ("scope", "openid profile https://graph.microsoft.com/.default".into()),
            ("state", "st-1".into()),
            ("nonce", "n-1".into()),
            ("code_challenge", challenge(VERIFIER)),
            ("code_challenge_method", "S256".into()),
        ]
    }

    fn authorize(&self, tenant: &str) -> String {
        format!("{}/{tenant}/oauth2/v2.0/authorize", self.sim.base_url)
    }

    /// Signs `user` in at `tenant`; returns the redirect's query.
    async fn sign_in(&self, tenant: &str, client: &str, user: &str) -> Vec<(String, String)> {
        let mut form = self.params(client);
        form.push(("user", user.into()));
        let res = self.http.post(self.authorize(tenant)).form(&form).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::FOUND);
        let to = res.headers()["location"].to_str().unwrap().to_owned();
        assert!(to.starts_with(REDIRECT), "{to}");
        query(&to)
    }

    async fn redeem(
        &self,
        tenant: &str,
        client: &str,
        code: &str,
        verifier: &str,
        redirect: &str,
    ) -> (StatusCode, Value) {
        let res = self
            .http
            .post(self.sim.token_url(tenant))
            .form(&[
                ("grant_type", "authorization_code"),
                ("client_id", client),
                ("client_secret", SECRET),
                ("code", code),
                ("code_verifier", verifier),
                ("redirect_uri", redirect),
            ])
            .send()
            .await
            .unwrap();
        (res.status(), res.json().await.unwrap())
    }

    async fn jwks(&self, tenant: &str) -> Value {
        self.http
            .get(format!("{}/{tenant}/discovery/v2.0/keys", self.sim.base_url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Whether `jwt` verifies against a key `tenant` publishes.
    async fn verifies(&self, tenant: &str, jwt: &str) -> bool {
        let header: Value = serde_json::from_slice(&B64.decode(jwt.split('.').next().unwrap()).unwrap()).unwrap();
        let keys = self.jwks(tenant).await;
        let Some(key) = keys["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == header["kid"])
        else {
            return false;
        };
        let n = B64.decode(key["n"].as_str().unwrap()).unwrap();
        let e = B64.decode(key["e"].as_str().unwrap()).unwrap();
        let (input, sig) = jwt.rsplit_once('.').unwrap();
        RsaPublicKeyComponents { n: &n, e: &e }
            .verify(&RSA_PKCS1_2048_8192_SHA256, input.as_bytes(), &B64.decode(sig).unwrap())
            .is_ok()
    }
}

#[tokio::test]
async fn the_sign_in_page_lists_the_tenants_users_and_checks_the_client_first() {
    let env = Env::start().await;
    let res = env
        .http
        .get(env.authorize(&env.tenant.id))
        .query(&env.params(CLIENT))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    for key in ["global-admin", "intune-admin", "privileged-role-admin", "user"] {
        assert!(html.contains(&format!("data-testid=\"sign-in-{key}\"")), "{key}");
    }
    assert!(html.contains("Global Administrator") && html.contains("Intune Administrator"));
    let users = env.sim.users(&env.tenant.id);
    assert_eq!(users.len(), 4);
    assert!(
        users
            .iter()
            .all(|u| u.user_principal_name.ends_with(&env.tenant.domains[0]))
    );

    // An unknown client or an unregistered redirect URI is a page, never a redirect.
    let mut p = env.params(CLIENT);
    p[0].1 = "99999999-9999-4999-8999-999999999999".into();
    let res = env
        .http
        .get(env.authorize(&env.tenant.id))
        .query(&p)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("AADSTS700016"));
    let mut p = env.params(CLIENT);
    p[2].1 = "https://evil.example/cb".into();
    let res = env
        .http
        .get(env.authorize(&env.tenant.id))
        .query(&p)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("AADSTS50011"));
}

#[tokio::test]
async fn an_admin_consents_by_signing_in_and_the_code_is_redeemed_once_with_pkce() {
    let env = Env::start().await;
    let t = &env.tenant.id;
    // A plain user cannot consent for the organization.
    let q = env.sign_in(t, CLIENT, "user").await;
    assert_eq!(get(&q, "error"), Some("consent_required"));
    assert!(get(&q, "error_description").unwrap().starts_with("AADSTS90094"));
    assert_eq!(get(&q, "state"), Some("st-1"));
    assert!(get(&q, "code").is_none());

    // The Global Administrator does: the grant exists afterwards (client credentials work).
    let q = env.sign_in(t, CLIENT, "global-admin").await;
    assert_eq!(get(&q, "state"), Some("st-1"));
    let code = get(&q, "code").unwrap().to_owned();
    let cc = env
        .http
        .post(env.sim.token_url(t))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT),
            ("client_secret", SECRET),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(cc.status(), StatusCode::OK, "consented on sign-in");

    let (status, body) = env.redeem(t, CLIENT, &code, VERIFIER, REDIRECT).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = claims(body["id_token"].as_str().unwrap());
    let admin = env.sim.users(t).into_iter().find(|u| u.key == "global-admin").unwrap();
    assert_eq!(id["iss"], format!("{}/{t}/v2.0", env.sim.base_url));
    assert_eq!(
        (id["aud"].as_str(), id["tid"].as_str()),
        (Some(CLIENT), Some(t.as_str()))
    );
    assert_eq!(
        (id["nonce"].as_str(), id["oid"].as_str()),
        (Some("n-1"), Some(admin.id.as_str()))
    );
    assert_eq!(id["preferred_username"], admin.user_principal_name.as_str());
    assert!(id.get("wids").is_none(), "this app does not ask for directory roles");
    assert!(env.verifies(t, body["id_token"].as_str().unwrap()).await);
    assert!(
        !env.verifies(&env.other.id, body["id_token"].as_str().unwrap()).await,
        "another tenant's keys do not verify it"
    );
    // Twice: refused.
    let (status, body) = env.redeem(t, CLIENT, &code, VERIFIER, REDIRECT).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(body["error_codes"][0], 54005);

    // A wrong verifier spends the code too; a wrong redirect URI or tenant is refused.
    let code = get(&env.sign_in(t, CLIENT, "global-admin").await, "code")
        .unwrap()
        .to_owned();
    let (status, body) = env
        .redeem(
            t,
            CLIENT,
            &code,
            "wrong-verifier-wrong-verifier-wrong-verifier",
            REDIRECT,
        )
        .await;
    assert_eq!(
        (status, body["error_codes"][0].as_u64()),
        (StatusCode::BAD_REQUEST, Some(501481))
    );
    assert_eq!(
        env.redeem(t, CLIENT, &code, VERIFIER, REDIRECT).await.1["error_codes"][0],
        54005
    );
    let code = get(&env.sign_in(t, CLIENT, "global-admin").await, "code")
        .unwrap()
        .to_owned();
    let (_, body) = env.redeem(t, CLIENT, &code, VERIFIER, "http://127.0.0.1:9/other").await;
    assert_eq!(body["error_codes"][0], 500112);
    let code = get(&env.sign_in(t, CLIENT, "global-admin").await, "code")
        .unwrap()
        .to_owned();
    let (_, body) = env.redeem(&env.other.id, CLIENT, &code, VERIFIER, REDIRECT).await;
    assert_eq!(body["error_codes"][0], 700005);

    // Once the tenant consented, a plain user gets a code (only the app can tell who is an admin).
    let q = env.sign_in(t, CLIENT, "user").await;
    assert!(get(&q, "code").is_some(), "{q:?}");
}

#[tokio::test]
async fn roles_are_in_wids_only_when_the_app_asks_and_always_through_graph() {
    let env = Env::start().await;
    let t = &env.tenant.id;
    env.sim.grant(t, WIDS_CLIENT, atlas_graph_sim::ALL_ROLES);
    env.sim.grant(t, CLIENT, atlas_graph_sim::ALL_ROLES);
    let code = get(&env.sign_in(t, WIDS_CLIENT, "intune-admin").await, "code")
        .unwrap()
        .to_owned();
    let (_, body) = env.redeem(t, WIDS_CLIENT, &code, VERIFIER, REDIRECT).await;
    let id = claims(body["id_token"].as_str().unwrap());
    let wids: Vec<&str> = id["wids"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        wids.contains(&INTUNE_ADMINISTRATOR) && !wids.contains(&GLOBAL_ADMINISTRATOR),
        "{wids:?}"
    );

    // The delegated token reads the user's directory roles; an app-only token may not use /me.
    let code = get(&env.sign_in(t, CLIENT, "global-admin").await, "code")
        .unwrap()
        .to_owned();
    let (_, body) = env.redeem(t, CLIENT, &code, VERIFIER, REDIRECT).await;
    let access = body["access_token"].as_str().unwrap();
    let roles: Value = env
        .http
        .get(format!(
            "{}/v1.0/me/transitiveMemberOf/microsoft.graph.directoryRole",
            env.sim.base_url
        ))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = roles["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["roleTemplateId"].as_str())
        .collect();
    assert_eq!(ids, [GLOBAL_ADMINISTRATOR]);
    assert_eq!(roles["value"][0]["displayName"], "Global Administrator");
    let code = get(&env.sign_in(t, CLIENT, "user").await, "code").unwrap().to_owned();
    let (_, body) = env.redeem(t, CLIENT, &code, VERIFIER, REDIRECT).await;
    let plain: Value = env
        .http
        .get(format!(
            "{}/v1.0/me/transitiveMemberOf/microsoft.graph.directoryRole",
            env.sim.base_url
        ))
        .bearer_auth(body["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(plain["value"].as_array().map(Vec::len), Some(0));
    let app_token: Value = env
        .http
        .post(env.sim.token_url(t))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT),
            ("client_secret", SECRET),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let res = env
        .http
        .get(format!(
            "{}/v1.0/me/transitiveMemberOf/microsoft.graph.directoryRole",
            env.sim.base_url
        ))
        .bearer_auth(app_token["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn discovery_names_the_tenant_and_a_fault_signs_with_an_unpublished_key() {
    let env = Env::start().await;
    let t = &env.tenant.id;
    let doc: Value = env
        .http
        .get(format!(
            "{}/{t}/v2.0/.well-known/openid-configuration",
            env.sim.base_url
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["issuer"], format!("{}/{t}/v2.0", env.sim.base_url));
    assert_eq!(doc["jwks_uri"], format!("{}/{t}/discovery/v2.0/keys", env.sim.base_url));
    assert_eq!(doc["authorization_endpoint"], env.authorize(t));

    env.sim.grant(t, CLIENT, atlas_graph_sim::ALL_ROLES);
    env.sim.set_faults(
        t,
        Faults {
            unpublished_signing_key: true,
            ..Faults::default()
        },
    );
    let code = get(&env.sign_in(t, CLIENT, "global-admin").await, "code")
        .unwrap()
        .to_owned();
    let (_, body) = env.redeem(t, CLIENT, &code, VERIFIER, REDIRECT).await;
    assert!(!env.verifies(t, body["id_token"].as_str().unwrap()).await);
    env.sim.clear_faults(t);
    let code = get(&env.sign_in(t, CLIENT, "global-admin").await, "code")
        .unwrap()
        .to_owned();
    let (_, body) = env.redeem(t, CLIENT, &code, VERIFIER, REDIRECT).await;
    assert!(env.verifies(t, body["id_token"].as_str().unwrap()).await);
}
