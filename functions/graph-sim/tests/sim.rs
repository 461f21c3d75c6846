//! The simulator over HTTP, as the Graph client will see it.

use std::time::Duration;

use atlas_graph_sim::{
    AppSpec, ConsentBehavior, Delay, Faults, PagingFault, READ_ROLES, ServerErrors, SimConfig, SimHandle, Simulator,
    TenantInfo, TenantSpec, Throttle,
};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use reqwest::StatusCode;
use serde_json::{Value, json};

const CLIENT: &str = "6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
const SECRET: &str = "s3cr3t~value";

struct Env {
    sim: SimHandle,
    tenant: TenantInfo,
    http: reqwest::Client,
}

async fn spawn_with(config: SimConfig, policies: usize, roles: &[&str]) -> Env {
    let sim = Simulator::start(config).await.expect("simulator starts");
    let tenant = sim.add_tenant(TenantSpec {
        policies_per_family: Some(policies),
        ..TenantSpec::default()
    });
    sim.register_app(CLIENT, SECRET);
    sim.grant(&tenant.id, CLIENT, roles);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    Env { sim, tenant, http }
}

async fn spawn(policies: usize) -> Env {
    spawn_with(SimConfig::default(), policies, atlas_graph_sim::ALL_ROLES).await
}

impl Env {
    async fn token_response(&self, tenant: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(self.sim.token_url(tenant))
            .form(form)
            .send()
            .await
            .expect("token request")
    }

    async fn token(&self) -> String {
        let r = self
            .token_response(
                &self.tenant.id,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", CLIENT),
                    ("client_secret", SECRET),
                    ("scope", "https://graph.microsoft.com/.default"),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let body: Value = r.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_string()
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.sim.base_url)
        }
    }

    async fn send(
        &self,
        token: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let mut req = self.http.request(method, self.url(path)).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.expect("graph request");
        let status = r.status();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).expect("JSON body")
        };
        (status, headers, body)
    }

    async fn get(&self, token: &str, path: &str) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        self.send(token, reqwest::Method::GET, path, None).await
    }
}

fn claims(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&B64URL.decode(part).unwrap()).unwrap()
}

#[tokio::test]
async fn token_then_paged_lists() {
    let env = spawn(30).await;
    let token = env.token().await;
    let c = claims(&token);
    assert_eq!(c["tid"], json!(env.tenant.id));
    assert_eq!(c["appid"], json!(CLIENT));
    assert_eq!(c["ver"], json!("1.0"));
    assert!(
        c["roles"]
            .as_array()
            .unwrap()
            .contains(&json!("DeviceManagementConfiguration.ReadWrite.All"))
    );
    assert!(c["exp"].as_u64().unwrap() - c["iat"].as_u64().unwrap() >= 3599);

    // Settings catalog lists page at 25 with a count and an absolute nextLink.
    let (s, _, page1) = env.get(&token, "/beta/deviceManagement/configurationPolicies").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(page1["value"].as_array().unwrap().len(), 25);
    assert_eq!(page1["@odata.count"], json!(30));
    let next = page1["@odata.nextLink"].as_str().unwrap();
    assert!(
        next.starts_with(&env.sim.base_url) && next.contains("$skiptoken=%5Bcosmosdb%5D"),
        "{next}"
    );
    let (_, _, page2) = env.get(&token, next).await;
    assert_eq!(page2["value"].as_array().unwrap().len(), 5);
    assert!(page2.get("@odata.nextLink").is_none());

    // $top is honoured and carried into the nextLink.
    let (_, _, top) = env
        .get(&token, "/beta/deviceManagement/deviceConfigurations?$top=7")
        .await;
    assert_eq!(top["value"].as_array().unwrap().len(), 7);
    assert!(top["@odata.nextLink"].as_str().unwrap().contains("$top=7"));

    // A policy with more than 25 settings pages its settings.
    let big = env
        .sim
        .objects(&env.tenant.id, "configurationPolicies")
        .into_iter()
        .find(|p| p["settingCount"].as_u64().unwrap() > 25)
        .expect("seeded policy with > 25 settings");
    let id = big["id"].as_str().unwrap();
    let (_, _, settings) = env
        .get(
            &token,
            &format!("/beta/deviceManagement/configurationPolicies('{id}')/settings"),
        )
        .await;
    assert_eq!(settings["value"].as_array().unwrap().len(), 25);
    assert_eq!(settings["value"][0]["id"], json!("0"));
    assert_eq!(settings["@odata.count"], big["settingCount"]);
    assert!(
        settings["@odata.context"]
            .as_str()
            .unwrap()
            .contains(&format!("configurationPolicies('{id}')/settings"))
    );
    assert!(settings["@odata.nextLink"].is_string());

    // Settings catalog is beta-only; v1.0 answers 400 like Graph.
    let (s, _, e) = env.get(&token, "/v1.0/deviceManagement/configurationPolicies").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(e["error"]["code"], json!("BadRequest"));
    let (s, _, _) = env.get(&token, "/v1.0/deviceManagement/deviceConfigurations").await;
    assert_eq!(s, StatusCode::OK);

    // No token → 401 with Graph's error shape.
    let r = env.http.get(env.url("/beta/groups")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers().contains_key("request-id"));
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], json!("InvalidAuthenticationToken"));

    let stats = env.sim.stats(&env.tenant.id);
    assert_eq!(stats.token_requests, 1);
    assert!(stats.count("GET", "configurationPolicies") >= 3);
}

#[tokio::test]
async fn token_endpoint_errors_and_tenant_names() {
    let env = spawn(1).await;
    let ok = [
        ("grant_type", "client_credentials"),
        ("client_id", CLIENT),
        ("client_secret", SECRET),
        ("scope", "https://graph.microsoft.com/.default"),
    ];
    // A verified domain works as the tenant.
    assert_eq!(
        env.token_response(&env.tenant.domains[0], &ok).await.status(),
        StatusCode::OK
    );
    let err = |r: Value| {
        (
            r["error"].as_str().unwrap().to_string(),
            r["error_codes"][0].as_u64().unwrap(),
        )
    };

    let r = env.token_response("common", &ok).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(err(r.json().await.unwrap()).0, "invalid_request");

    let mut bad_secret = ok;
    bad_secret[2].1 = "wrong";
    let r = env.token_response(&env.tenant.id, &bad_secret).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(err(r.json().await.unwrap()), ("invalid_client".into(), 7000215));

    let mut bad_scope = ok;
    bad_scope[3].1 = "https://graph.microsoft.com/User.Read";
    let r = env.token_response(&env.tenant.id, &bad_scope).await;
    assert_eq!(err(r.json().await.unwrap()).0, "invalid_scope");

    // HTTP Basic client authentication is accepted too.
    let r = env
        .http
        .post(env.sim.token_url(&env.tenant.id))
        .basic_auth(CLIENT, Some(SECRET))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // An expired token gets 401 (lifetime 0: expired on arrival).
    let env = spawn_with(
        SimConfig {
            token_lifetime: Duration::ZERO,
            ..SimConfig::default()
        },
        1,
        &["Group.Read.All"],
    )
    .await;
    let token = env.token().await;
    let (s, _, e) = env.get(&token, "/v1.0/groups").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(e["error"]["message"].as_str().unwrap().contains("expired"));
}

#[tokio::test]
async fn create_update_assign_delete_change_counts() {
    let env = spawn(3).await;
    let token = env.token().await;
    let tid = env.tenant.id.clone();
    let before = env.sim.stats(&tid);
    let group = env.sim.objects(&tid, "groups")[0]["id"].as_str().unwrap().to_string();

    // Device configuration: POST needs a derived @odata.type.
    let (s, _, _) = env
        .send(
            &token,
            reqwest::Method::POST,
            "/beta/deviceManagement/deviceConfigurations",
            Some(json!({"displayName": "x"})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let body = json!({"@odata.type": "#microsoft.graph.windows10GeneralConfiguration", "displayName": "WIN - Restored",
                      "passwordRequired": true, "id": "ignored", "version": 9});
    let (s, h, created) = env
        .send(
            &token,
            reqwest::Method::POST,
            "/beta/deviceManagement/deviceConfigurations",
            Some(body),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert!(h.contains_key("location"));
    let id = created["id"].as_str().unwrap().to_string();
    assert_ne!(id, "ignored");
    assert_eq!(created["version"], json!(1));
    assert_eq!(
        env.sim.stats(&tid).objects_of("deviceConfigurations"),
        before.objects_of("deviceConfigurations") + 1
    );

    // Read-only fields are rejected.
    let (s, _, e) = env
        .send(
            &token,
            reqwest::Method::PATCH,
            &format!("/beta/deviceManagement/deviceConfigurations/{id}"),
            Some(json!({"supportsScopeTags": true})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    let (s, _, _) = env
        .send(
            &token,
            reqwest::Method::PATCH,
            &format!("/beta/deviceManagement/deviceConfigurations/{id}"),
            Some(json!({"description": "new"})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);

    // Assign replaces the whole list and answers 200 with the value.
    let assign = json!({"assignments": [
        {"target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": group}},
        {"target": {"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget"}}]});
    let (s, _, a) = env
        .send(
            &token,
            reqwest::Method::POST,
            &format!("/beta/deviceManagement/deviceConfigurations/{id}/assign"),
            Some(assign),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{a}");
    assert_eq!(a["value"].as_array().unwrap().len(), 2);
    assert_eq!(a["value"][0]["id"], json!(format!("{id}_{group}")));
    let (_, _, got) = env
        .get(
            &token,
            &format!("/beta/deviceManagement/deviceConfigurations/{id}?$expand=assignments"),
        )
        .await;
    assert_eq!(got["assignments"].as_array().unwrap().len(), 2);
    assert!(
        got["assignments@odata.context"]
            .as_str()
            .unwrap()
            .contains(&format!("deviceConfigurations('{id}')/assignments"))
    );
    // Unknown groups are refused (strict references).
    let (s, _, _) = env
        .send(
            &token,
            reqwest::Method::POST,
            &format!("/beta/deviceManagement/deviceConfigurations/{id}/assign"),
            Some(json!({"assignments": [{"target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": "00000000-0000-4000-8000-000000000001"}}]})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    let (s, _, _) = env
        .send(
            &token,
            reqwest::Method::DELETE,
            &format!("/beta/deviceManagement/deviceConfigurations/{id}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        env.sim.stats(&tid).objects_of("deviceConfigurations"),
        before.objects_of("deviceConfigurations")
    );
    let (s, _, e) = env
        .get(&token, &format!("/beta/deviceManagement/deviceConfigurations/{id}"))
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str().unwrap()),
        (StatusCode::NOT_FOUND, "ResourceNotFound")
    );

    // Settings catalog: create with settings inline, PUT to update, PATCH of settings refused.
    let setting = json!({"@odata.type": "#microsoft.graph.deviceManagementConfigurationSetting", "settingInstance": {
        "@odata.type": "#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance",
        "settingDefinitionId": "device_vendor_msft_policy_config_defender_allowarchivescanning",
        "choiceSettingValue": {"value": "device_vendor_msft_policy_config_defender_allowarchivescanning_1", "children": []}}});
    let policy = json!({"name": "WIN - Restored SC", "description": "", "platforms": "windows10", "technologies": "mdm",
                        "roleScopeTagIds": ["0"], "settings": [setting.clone(), setting.clone()]});
    let (s, _, sc) = env
        .send(
            &token,
            reqwest::Method::POST,
            "/beta/deviceManagement/configurationPolicies",
            Some(policy.clone()),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{sc}");
    let sc_id = sc["id"].as_str().unwrap().to_string();
    assert_eq!(sc["settingCount"], json!(2));
    let path = format!("/beta/deviceManagement/configurationPolicies/{sc_id}");
    let (s, _, _) = env
        .send(
            &token,
            reqwest::Method::PATCH,
            &path,
            Some(json!({"settings": [setting.clone()]})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let mut put = policy.clone();
    put["settings"] = json!([setting.clone()]);
    let (s, _, _) = env.send(&token, reqwest::Method::PUT, &path, Some(put.clone())).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    put["platforms"] = json!("macOS");
    let (s, _, e) = env.send(&token, reqwest::Method::PUT, &path, Some(put)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(e["error"]["message"].as_str().unwrap().contains("cannot be changed"));
    let (_, _, got) = env.get(&token, &format!("{path}?$expand=settings")).await;
    assert_eq!(got["settings"].as_array().unwrap().len(), 1);
    let mut with_count = policy.clone();
    with_count["settingCount"] = json!(2);
    let (s, _, _) = env
        .send(
            &token,
            reqwest::Method::POST,
            "/beta/deviceManagement/configurationPolicies",
            Some(with_count),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // Compliance: exactly one block action; actions only with $expand.
    let cp = json!({"@odata.type": "#microsoft.graph.windows10CompliancePolicy", "displayName": "WIN - Restored CP",
                    "passwordRequired": true, "scheduledActionsForRule": []});
    let (s, _, e) = env
        .send(
            &token,
            reqwest::Method::POST,
            "/beta/deviceManagement/deviceCompliancePolicies",
            Some(cp.clone()),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("one and only one block")
    );
    let mut cp = cp;
    cp["scheduledActionsForRule"] = json!([{"ruleName": "PasswordRequired", "scheduledActionConfigurations": [
        {"actionType": "block", "gracePeriodHours": 0, "notificationTemplateId": ""}]}]);
    let (s, _, created) = env
        .send(
            &token,
            reqwest::Method::POST,
            "/beta/deviceManagement/deviceCompliancePolicies",
            Some(cp),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let cp_id = created["id"].as_str().unwrap();
    let (_, _, plain) = env
        .get(
            &token,
            &format!("/beta/deviceManagement/deviceCompliancePolicies/{cp_id}"),
        )
        .await;
    assert!(plain.get("scheduledActionsForRule").is_none());
    let (_, _, expanded) = env
        .get(&token, &format!("/beta/deviceManagement/deviceCompliancePolicies/{cp_id}?$expand=scheduledActionsForRule($expand=scheduledActionConfigurations)"))
        .await;
    assert_eq!(
        expanded["scheduledActionsForRule"][0]["scheduledActionConfigurations"][0]["actionType"],
        json!("block")
    );

    // Role scope tags: POST answers 200; scripts assign with their own body key.
    let (s, _, tag) = env
        .send(
            &token,
            reqwest::Method::POST,
            "/beta/deviceManagement/roleScopeTags",
            Some(json!({"displayName": "Lab", "description": ""})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(tag["id"].as_str().unwrap().parse::<u32>().is_ok());
    let script = env.sim.objects(&tid, "deviceManagementScripts")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let target = json!({"target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": group}});
    let path = format!("/beta/deviceManagement/deviceManagementScripts/{script}/assign");
    let (s, _, _) = env
        .send(
            &token,
            reqwest::Method::POST,
            &path,
            Some(json!({"assignments": [target.clone()]})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _, _) = env
        .send(
            &token,
            reqwest::Method::POST,
            &path,
            Some(json!({"deviceManagementScriptAssignments": [target]})),
        )
        .await;
    assert!(s.is_success());
    let after = env.sim.stats(&tid);
    assert_eq!(
        after.objects_of("roleScopeTags"),
        before.objects_of("roleScopeTags") + 1
    );
    assert_eq!(
        after.objects_of("configurationPolicies"),
        before.objects_of("configurationPolicies") + 1
    );
}

#[tokio::test]
async fn secrets_are_masked_and_readable_through_the_function() {
    let env = spawn(6).await;
    let token = env.token().await;
    let configs = env.sim.objects(&env.tenant.id, "deviceConfigurations");
    let custom = configs
        .iter()
        .find(|c| c["@odata.type"] == json!("#microsoft.graph.windows10CustomConfiguration"))
        .expect("seeded OMA-URI profile");
    let oma = custom["omaSettings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["isEncrypted"] == json!(true))
        .unwrap();
    assert_eq!(oma["value"], json!("********"));
    let path = format!(
        "/beta/deviceManagement/deviceConfigurations/{}/getOmaSettingPlainTextValue(secretReferenceValueId='{}')",
        custom["id"].as_str().unwrap(),
        oma["secretReferenceValueId"].as_str().unwrap()
    );
    let (s, _, v) = env.get(&token, &path).await;
    assert_eq!(s, StatusCode::OK);
    assert!(v["value"].as_str().unwrap().len() >= 16);
    // Wi-Fi profiles carry pre-shared keys in clear.
    assert!(
        configs
            .iter()
            .any(|c| c["preSharedKey"].as_str().is_some_and(|k| k.len() >= 16))
    );
}

#[tokio::test]
async fn batch_shape_limits_and_dependencies() {
    let env = spawn(3).await;
    let token = env.token().await;
    let ids: Vec<String> = env
        .sim
        .objects(&env.tenant.id, "configurationPolicies")
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_string())
        .collect();
    let requests: Vec<Value> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| json!({"id": i + 1, "method": "GET", "url": format!("deviceManagement/configurationPolicies('{id}')/assignments")}))
        .chain([json!({"id": "x", "method": "GET", "url": "/deviceManagement/configurationPolicies/nope"})])
        .collect();
    let (s, _, b) = env
        .send(
            &token,
            reqwest::Method::POST,
            "/beta/$batch",
            Some(json!({"requests": requests})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let responses = b["responses"].as_array().unwrap();
    assert_eq!(responses.len(), 4);
    for r in responses {
        let rid = r["id"].as_str().unwrap();
        assert!(r["headers"].is_object());
        if rid == "x" {
            assert_eq!(r["status"], json!(404));
            continue;
        }
        assert_eq!(r["status"], json!(200));
        let policy = &ids[rid.parse::<usize>().unwrap() - 1];
        assert!(
            r["body"]["@odata.context"]
                .as_str()
                .unwrap()
                .contains(&format!("configurationPolicies('{policy}')/assignments"))
        );
    }

    let too_many: Vec<Value> = (0..21)
        .map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/groups"}))
        .collect();
    let (s, _, _) = env
        .send(
            &token,
            reqwest::Method::POST,
            "/v1.0/$batch",
            Some(json!({"requests": too_many})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let dup = json!({"requests": [{"id": "a", "method": "GET", "url": "/groups"}, {"id": "A", "method": "GET", "url": "/groups"}]});
    let (s, _, _) = env.send(&token, reqwest::Method::POST, "/v1.0/$batch", Some(dup)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // A failed dependency gives 424; a body without Content-Type is refused per item.
    let chain = json!({"requests": [
        {"id": "1", "method": "POST", "url": "/groups", "body": {"displayName": "x"}, "headers": {"Content-Type": "application/json"}},
        {"id": "2", "method": "GET", "url": "/groups", "dependsOn": ["1"]},
        {"id": "3", "method": "POST", "url": "/groups", "body": {"displayName": "y"}}]});
    let (_, _, b) = env
        .send(&token, reqwest::Method::POST, "/beta/$batch", Some(chain))
        .await;
    let status = |id: &str| {
        b["responses"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == json!(id))
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(status("1"), json!(400));
    assert_eq!(status("2"), json!(424));
    assert_eq!(status("3"), json!(400));
    let unknown_dep = json!({"requests": [{"id": "1", "method": "GET", "url": "/groups", "dependsOn": ["9"]}]});
    let (s, _, _) = env
        .send(&token, reqwest::Method::POST, "/beta/$batch", Some(unknown_dep))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(env.sim.stats(&env.tenant.id).batch_requests, 5);
}

#[tokio::test]
async fn throttling_faults_are_observable() {
    let env = spawn(2).await;
    let token = env.token().await;
    let tid = env.tenant.id.clone();
    env.sim.set_faults(&tid, Faults::throttle_every(2, Some(2.128)));
    let (s1, _, _) = env.get(&token, "/beta/groups").await;
    let (s2, h2, e2) = env.get(&token, "/beta/groups").await;
    assert_eq!((s1, s2), (StatusCode::OK, StatusCode::TOO_MANY_REQUESTS));
    assert_eq!(h2["retry-after"], "2.128");
    assert_eq!(e2["error"]["code"], json!("TooManyRequests"));
    assert_eq!(e2["error"]["innerError"]["status"], json!("429"));

    env.sim.set_faults(&tid, Faults::throttle_every(1, Some(3.0)));
    let (_, h, _) = env.get(&token, "/beta/groups").await;
    assert_eq!(h["retry-after"], "3");
    env.sim.set_faults(&tid, Faults::throttle_every(1, None));
    let (s, h, _) = env.get(&token, "/beta/groups").await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    assert!(!h.contains_key("retry-after"));

    // Writes only: reads pass.
    env.sim.set_faults(
        &tid,
        Faults {
            throttle: Some(Throttle {
                every_nth: Some(1),
                writes_only: true,
                ..Throttle::default()
            }),
            ..Faults::default()
        },
    );
    assert_eq!(env.get(&token, "/beta/groups").await.0, StatusCode::OK);
    let (s, _, _) = env
        .send(
            &token,
            reqwest::Method::POST,
            "/beta/deviceManagement/roleScopeTags",
            Some(json!({"displayName": "t"})),
        )
        .await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);

    // Batch items are throttled one by one, with Retry-After in the item headers.
    env.sim.set_faults(&tid, Faults::throttle_every(2, Some(1.5)));
    let batch = json!({"requests": (1..=4).map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/groups"})).collect::<Vec<_>>()});
    let (s, _, b) = env
        .send(&token, reqwest::Method::POST, "/beta/$batch", Some(batch))
        .await;
    assert_eq!(s, StatusCode::OK);
    let throttled: Vec<&Value> = b["responses"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == json!(429))
        .collect();
    assert_eq!(throttled.len(), 2);
    assert_eq!(throttled[0]["headers"]["Retry-After"], json!("1.5"));

    // A fraction is reproducible for the same request sequence.
    let run = |seed| async move {
        let env = spawn_with(
            SimConfig {
                seed,
                ..SimConfig::default()
            },
            1,
            atlas_graph_sim::ALL_ROLES,
        )
        .await;
        let token = env.token().await;
        env.sim
            .set_faults(&env.tenant.id, Faults::throttle_fraction(0.5, Some(1.0)));
        let mut out = Vec::new();
        for _ in 0..12 {
            out.push(env.get(&token, "/beta/groups").await.0.as_u16());
        }
        out
    };
    let a = run(7).await;
    assert_eq!(a, run(7).await);
    assert!(a.contains(&429) && a.contains(&200), "{a:?}");
    assert_eq!(env.sim.stats(&tid).throttled, 6);
}

#[tokio::test]
async fn rate_limit_throttles_writes_before_reads() {
    let env = spawn(1).await;
    let token = env.token().await;
    let limit = atlas_graph_sim::RateLimit {
        window_ms: 60_000,
        max_requests: 100,
        max_writes: 2,
        fractional_retry_after: true,
    };
    env.sim.set_faults(
        &env.tenant.id,
        Faults {
            rate_limit: Some(limit),
            ..Faults::default()
        },
    );
    let mut statuses = Vec::new();
    for i in 0..3 {
        let body = json!({"displayName": format!("t{i}")});
        statuses.push(
            env.send(
                &token,
                reqwest::Method::POST,
                "/beta/deviceManagement/roleScopeTags",
                Some(body),
            )
            .await
            .0,
        );
    }
    assert_eq!(
        statuses,
        [StatusCode::OK, StatusCode::OK, StatusCode::TOO_MANY_REQUESTS]
    );
    assert_eq!(env.get(&token, "/beta/groups").await.0, StatusCode::OK);

    // Intune's limits are per service: the RBAC service's writes are spent, the device
    // configuration service's are not; the devices service (scripts) allows twice as many.
    let post = |path: &'static str, i: usize| {
        let body =
            json!({"@odata.type": "#microsoft.graph.windows10GeneralConfiguration", "displayName": format!("d{i}")});
        let script = json!({"@odata.type": "#microsoft.graph.deviceManagementScript", "displayName": format!("s{i}"),
                            "scriptContent": "V3JpdGUtSG9zdA==", "runAsAccount": "system", "fileName": "s.ps1"});
        let body = if path.contains("Scripts") { script } else { body };
        env.send(&token, reqwest::Method::POST, path, Some(body))
    };
    let mut config = Vec::new();
    for i in 0..3 {
        config.push(post("/beta/deviceManagement/deviceConfigurations", i).await.0);
    }
    assert_eq!(
        config,
        [StatusCode::CREATED, StatusCode::CREATED, StatusCode::TOO_MANY_REQUESTS]
    );
    let mut scripts = Vec::new();
    for i in 0..5 {
        scripts.push(post("/beta/deviceManagement/deviceManagementScripts", i).await.0);
    }
    assert_eq!(
        scripts.iter().filter(|s| **s == StatusCode::CREATED).count(),
        4,
        "{scripts:?}"
    );
    assert_eq!(scripts[4], StatusCode::TOO_MANY_REQUESTS);
    let by_service = env.sim.stats(&env.tenant.id).admitted_by_service;
    assert_eq!(by_service["rbac"].total, 2);
    assert_eq!(by_service["devices"].scale, 2);
}

#[tokio::test]
async fn server_error_delay_and_paging_faults() {
    let env = spawn(30).await;
    let token = env.token().await;
    let tid = env.tenant.id.clone();

    env.sim.set_faults(
        &tid,
        Faults {
            server_errors: Some(ServerErrors {
                fraction: 1.0,
                statuses: vec![503, 504],
                retry_after: Some(4.0),
                ..ServerErrors::default()
            }),
            ..Faults::default()
        },
    );
    let (s, h, e) = env.get(&token, "/beta/groups").await;
    assert_eq!(s, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(e["error"]["code"], json!("GatewayTimeout"));
    assert!(h.contains_key("request-id"));
    let (s, h, _) = env.get(&token, "/beta/groups").await;
    assert_eq!(
        (s, h["retry-after"].to_str().unwrap()),
        (StatusCode::SERVICE_UNAVAILABLE, "4")
    );

    // Batch-item errors leave the batch at 200.
    env.sim.set_faults(
        &tid,
        Faults {
            batch_item_errors: Some(ServerErrors {
                every_nth: Some(2),
                ..ServerErrors::default()
            }),
            ..Faults::default()
        },
    );
    env.sim.reset_stats(&tid);
    let batch = json!({"requests": (1..=4).map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/groups"})).collect::<Vec<_>>()});
    let (s, _, b) = env
        .send(&token, reqwest::Method::POST, "/beta/$batch", Some(batch))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        b["responses"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["status"] == json!(503))
            .count(),
        2
    );
    let stats = env.sim.stats(&tid);
    assert_eq!(
        (stats.batch_requests, stats.batch_items, stats.graph_requests),
        (1, 4, 5)
    );

    // Slow responses exceed a client timeout.
    env.sim.set_faults(
        &tid,
        Faults {
            delay: Some(Delay {
                ms: 400,
                ..Delay::default()
            }),
            ..Faults::default()
        },
    );
    let r = env
        .http
        .get(env.url("/beta/groups"))
        .bearer_auth(&token)
        .timeout(Duration::from_millis(100))
        .send()
        .await;
    assert!(r.is_err_and(|e| e.is_timeout()));

    // Dead nextLink: the first page looks fine, following it 404s.
    env.sim.set_faults(
        &tid,
        Faults {
            paging: Some(PagingFault::DeadNextLink),
            ..Faults::default()
        },
    );
    let (_, _, page) = env.get(&token, "/beta/deviceManagement/configurationPolicies").await;
    let (s, _, _) = env.get(&token, page["@odata.nextLink"].as_str().unwrap()).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Missing nextLink: the count tells the truth, the link is gone.
    env.sim.set_faults(
        &tid,
        Faults {
            paging: Some(PagingFault::MissingNextLink),
            ..Faults::default()
        },
    );
    let (_, _, page) = env.get(&token, "/beta/deviceManagement/configurationPolicies").await;
    assert_eq!(page["value"].as_array().unwrap().len(), 25);
    assert_eq!(page["@odata.count"], json!(30));
    assert!(page.get("@odata.nextLink").is_none());
    env.sim.clear_faults(&tid);
    let (_, _, page) = env.get(&token, "/beta/deviceManagement/configurationPolicies").await;
    assert!(page["@odata.nextLink"].is_string());
}

#[tokio::test]
async fn permission_and_consent_faults() {
    let env = spawn_with(SimConfig::default(), 2, READ_ROLES).await;
    let token = env.token().await;
    let tid = env.tenant.id.clone();

    // Read roles read but cannot write.
    assert_eq!(
        env.get(&token, "/beta/deviceManagement/deviceConfigurations").await.0,
        StatusCode::OK
    );
    let (s, h, e) = env
        .send(
            &token,
            reqwest::Method::POST,
            "/beta/deviceManagement/roleScopeTags",
            Some(json!({"displayName": "t"})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(e["error"]["code"], json!("Forbidden"));
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Application is not authorized")
    );
    assert_eq!(
        e["error"]["innerError"]["request-id"].as_str(),
        h["request-id"].to_str().ok()
    );
    assert!(h.contains_key("client-request-id"));

    // Missing permission for one family.
    env.sim.set_faults(
        &tid,
        Faults {
            forbidden_families: vec!["groups".into()],
            ..Faults::default()
        },
    );
    let (s, _, e) = env.get(&token, "/v1.0/groups").await;
    assert_eq!(
        (s, e["error"]["code"].as_str().unwrap()),
        (StatusCode::FORBIDDEN, "Authorization_RequestDenied")
    );
    assert_eq!(
        env.get(&token, "/beta/deviceManagement/deviceConfigurations").await.0,
        StatusCode::OK
    );

    // Revoked consent as a fault: token endpoint 401 invalid_client, Graph 401; clearing restores both.
    env.sim.set_faults(
        &tid,
        Faults {
            consent_revoked: true,
            ..Faults::default()
        },
    );
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", CLIENT),
        ("client_secret", SECRET),
        ("scope", "https://graph.microsoft.com/.default"),
    ];
    let r = env.token_response(&tid, &form).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], json!("invalid_client"));
    assert!(body["error_description"].as_str().unwrap().starts_with("AADSTS7000229"));
    assert_eq!(env.get(&token, "/beta/groups").await.0, StatusCode::UNAUTHORIZED);
    env.sim.clear_faults(&tid);
    assert_eq!(env.get(&token, "/beta/groups").await.0, StatusCode::OK);

    // A real revoke does the same until consent is granted again.
    env.sim.revoke(&tid, CLIENT);
    assert_eq!(env.get(&token, "/beta/groups").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(env.token_response(&tid, &form).await.status(), StatusCode::UNAUTHORIZED);
    env.sim.grant(&tid, CLIENT, &[]);
    let token = env.token().await;
    assert!(claims(&token).get("roles").is_none(), "no grants, no roles claim");
    assert_eq!(env.get(&token, "/beta/groups").await.0, StatusCode::FORBIDDEN);

    // Multi Admin Approval gating of writes.
    env.sim.grant(&tid, CLIENT, atlas_graph_sim::ALL_ROLES);
    let token = env.token().await;
    env.sim.set_faults(
        &tid,
        Faults {
            approval_required: true,
            ..Faults::default()
        },
    );
    let (s, _, _) = env
        .send(
            &token,
            reqwest::Method::POST,
            "/beta/deviceManagement/roleScopeTags",
            Some(json!({"displayName": "t"})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let r = env
        .http
        .post(env.url("/beta/deviceManagement/roleScopeTags"))
        .bearer_auth(&token)
        .header("x-msft-approval-justification", B64.encode("restore"))
        .json(&json!({"displayName": "t"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.headers().contains_key("x-msft-approval-code"));
}

fn query_of(location: &str) -> Vec<(String, String)> {
    let q = location.split_once('?').unwrap().1;
    form_urlencoded::parse(q.as_bytes()).into_owned().collect()
}

#[tokio::test]
async fn admin_consent_redirect_variants() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let tenant = sim.add_tenant(TenantSpec {
        domains: vec!["contoso.example".into()],
        ..TenantSpec::default()
    });
    let redirect = "https://atlas.example/consent/callback";
    sim.register_app_spec(AppSpec {
        client_id: CLIENT.into(),
        secret: Some(SECRET.into()),
        redirect_uris: vec![redirect.into()],
        required_roles: READ_ROLES.iter().map(|r| r.to_string()).collect(),
        ..AppSpec::default()
    });
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let consent = |tenant: String, v2: bool, extra: &'static str| {
        let path = if v2 { "v2.0/adminconsent" } else { "adminconsent" };
        let url = format!(
            "{}/{tenant}/{path}?client_id={CLIENT}&redirect_uri={}&state=xyz%2B1&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default{extra}",
            sim.base_url, "https%3A%2F%2Fatlas.example%2Fconsent%2Fcallback"
        );
        let http = http.clone();
        async move { http.get(url).send().await.unwrap() }
    };

    // Grant (v2, by domain): tenant GUID, scope and state come back; the roles are granted.
    let r = consent("contoso.example".into(), true, "").await;
    assert_eq!(r.status(), StatusCode::FOUND);
    let q = query_of(r.headers()["location"].to_str().unwrap());
    let get = |k: &str| q.iter().find(|(kk, _)| kk == k).map(|(_, v)| v.clone());
    assert_eq!(get("admin_consent").as_deref(), Some("True"));
    assert_eq!(get("tenant"), Some(tenant.id.clone()));
    assert_eq!(get("state").as_deref(), Some("xyz+1"));
    assert!(
        get("scope")
            .unwrap()
            .contains("https://graph.microsoft.com/DeviceManagementConfiguration.Read.All")
    );
    assert!(r.headers()["location"].to_str().unwrap().starts_with(redirect));
    assert!(sim.stats(&tenant.id).requests.contains_key("GET adminconsent"));

    // v1 success has no scope.
    let r = consent(tenant.id.clone(), false, "").await;
    let q = query_of(r.headers()["location"].to_str().unwrap());
    assert!(q.iter().all(|(k, _)| k != "scope"));

    // Decline.
    sim.set_consent_behavior(&tenant.id, ConsentBehavior::Decline);
    let r = consent("organizations".into(), true, "&domain_hint=contoso.example").await;
    let q = query_of(r.headers()["location"].to_str().unwrap());
    assert!(q.contains(&("admin_consent".into(), "False".into())));

    // Error: access_denied with AADSTS text (v2 also says admin_consent=True, as the docs show).
    sim.set_consent_behavior(&tenant.id, ConsentBehavior::access_denied());
    let r = consent(tenant.id.clone(), true, "").await;
    let q = query_of(r.headers()["location"].to_str().unwrap());
    assert!(q.contains(&("error".into(), "access_denied".into())));
    assert!(
        q.iter()
            .any(|(k, v)| k == "error_description" && v.starts_with("AADSTS65004"))
    );
    assert!(q.contains(&("state".into(), "xyz+1".into())));

    // An unregistered redirect URI is an error page, not a redirect.
    let url = format!(
        "{}/{}/v2.0/adminconsent?client_id={CLIENT}&redirect_uri=https%3A%2F%2Fevil.example&scope=x",
        sim.base_url, tenant.id
    );
    assert_eq!(http.get(url).send().await.unwrap().status(), StatusCode::BAD_REQUEST);

    // After a grant the app gets a token whose roles are the app's required roles.
    sim.set_consent_behavior(&tenant.id, ConsentBehavior::Grant);
    consent(tenant.id.clone(), true, "").await;
    let r = http
        .post(sim.token_url(&tenant.id))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT),
            ("client_secret", SECRET),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap();
    let token: Value = r.json().await.unwrap();
    let roles = claims(token["access_token"].as_str().unwrap())["roles"].clone();
    assert_eq!(roles.as_array().unwrap().len(), READ_ROLES.len());
}

#[tokio::test]
async fn client_assertion_is_checked() {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};

    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let tenant = sim.add_tenant(TenantSpec::default());
    let key = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    sim.register_app_spec(AppSpec {
        client_id: CLIENT.into(),
        public_key: Some(B64.encode(key.public_key().as_ref())),
        ..AppSpec::default()
    });
    sim.grant(&tenant.id, CLIENT, &["DeviceManagementConfiguration.Read.All"]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let sign = |claims: Value| {
        let header = json!({"alg": "RS256", "typ": "JWT", "x5t": "dGh1bWJwcmludA"});
        let input = format!(
            "{}.{}",
            B64URL.encode(header.to_string()),
            B64URL.encode(claims.to_string())
        );
        let mut sig = vec![0; key.public_modulus_len()];
        key.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), input.as_bytes(), &mut sig)
            .unwrap();
        format!("{input}.{}", B64URL.encode(sig))
    };
    let aud = format!("https://login.microsoftonline.com/{}/oauth2/v2.0/token", tenant.id);
    let good = json!({"aud": aud, "iss": CLIENT, "sub": CLIENT, "jti": "1", "nbf": now, "exp": now + 600});
    let http = reqwest::Client::new();
    let post = |assertion: String| {
        let http = http.clone();
        let url = sim.token_url(&tenant.id);
        async move {
            http.post(url)
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", CLIENT),
                    ("scope", "https://graph.microsoft.com/.default"),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", assertion.as_str()),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let r = post(sign(good.clone())).await;
    assert_eq!(r.status(), StatusCode::OK);
    let token: Value = r.json().await.unwrap();
    assert_eq!(claims(token["access_token"].as_str().unwrap())["appidacr"], json!("2"));

    let mut wrong_aud = good.clone();
    wrong_aud["aud"] = json!("https://login.microsoftonline.com/other/oauth2/v2.0/token");
    assert_eq!(post(sign(wrong_aud)).await.status(), StatusCode::UNAUTHORIZED);
    let mut expired = good.clone();
    expired["exp"] = json!(now - 10);
    assert_eq!(post(sign(expired)).await.status(), StatusCode::UNAUTHORIZED);
    let forged = {
        let s = sign(good);
        let (head, _) = s.rsplit_once('.').unwrap();
        format!("{head}.{}", B64URL.encode([0u8; 256]))
    };
    assert_eq!(post(forged).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn admin_http_api() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let http = reqwest::Client::new();
    let base = &sim.base_url;
    let r = http
        .post(format!("{base}/_sim/tenants"))
        .json(&json!({"display_name": "Woodgrove", "policies_per_family": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let tenant: TenantInfo = r.json().await.unwrap();
    let r = http
        .post(format!("{base}/_sim/apps"))
        .json(&json!({"client_id": CLIENT, "secret": SECRET}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = http
        .post(format!("{base}/_sim/tenants/{}/consent", tenant.id))
        .json(&json!({"client_id": CLIENT, "roles": ["Group.Read.All"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = http
        .put(format!("{base}/_sim/tenants/{}/faults", tenant.id))
        .json(&json!({"throttle": {"every_nth": 1, "retry_after": 0.5}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(sim.faults(&tenant.id).throttle.unwrap().retry_after, Some(0.5));
    // A percentage of `$batch` items answering 5xx (the bench's `--batch-faults`).
    let r = http
        .put(format!("{base}/_sim/tenants/{}/faults", tenant.id))
        .json(&json!({"batch_item_errors": {"fraction": 0.05, "statuses": [503, 500]}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let faults: Value = http
        .get(format!("{base}/_sim/tenants/{}/faults", tenant.id))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(faults["batch_item_errors"]["fraction"], json!(0.05));
    assert_eq!(faults["batch_item_errors"]["statuses"], json!([503, 500]));
    let r = http
        .delete(format!("{base}/_sim/tenants/{}/faults", tenant.id))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(sim.faults(&tenant.id), Faults::default());
    let r = http
        .post(format!("{base}/_sim/tenants/{}/consent", tenant.id))
        .json(&json!({"behavior": "decline"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let stats: Value = http
        .get(format!("{base}/_sim/tenants/{}/stats", tenant.id))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["objects"]["configurationPolicies"], json!(2));
    assert_eq!(
        http.get(format!("{base}/_sim/tenants/nope/stats"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    sim.stop().await;
}

#[tokio::test]
async fn seeding_is_deterministic_across_simulators() {
    let a = Simulator::start(SimConfig {
        seed: 11,
        tenants: 2,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let b = Simulator::start(SimConfig {
        seed: 11,
        tenants: 2,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    assert_eq!(a.tenants(), b.tenants());
    let t = a.tenants()[1].id.clone();
    // Context URLs carry the port; everything else must match.
    let objects = |sim: &SimHandle, family: &str| {
        let mut text = serde_json::to_string(&sim.objects(&t, family)).unwrap();
        text = text.replace(&sim.base_url, "");
        text
    };
    for family in [
        "configurationPolicies",
        "deviceConfigurations",
        "groups",
        "iosManagedAppProtections",
        "intents",
    ] {
        assert_eq!(objects(&a, family), objects(&b, family), "{family}");
    }
    let c = Simulator::start(SimConfig {
        seed: 12,
        tenants: 2,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    assert_ne!(a.tenants()[0].id, c.tenants()[0].id);
}

#[tokio::test]
async fn odata_options_and_families() {
    let env = spawn(4).await;
    let token = env.token().await;
    let groups = env.sim.objects(&env.tenant.id, "groups");
    let name = groups[1]["displayName"].as_str().unwrap();
    let (s, _, found) = env
        .get(
            &token,
            &format!("/v1.0/groups?$filter=displayName eq '{name}'&$select=id,displayName"),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(found["value"].as_array().unwrap().len(), 1);
    assert!(found["value"][0].get("mailNickname").is_none());
    let (_, _, tags) = env
        .get(
            &token,
            "/beta/deviceManagement/roleScopeTags?$filter=isBuiltIn eq false",
        )
        .await;
    assert!(
        tags["value"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["isBuiltIn"] == json!(false))
    );
    let (s, _, _) = env.get(&token, "/beta/groups?$filter=displayName eq").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _, e) = env
        .get(&token, "/beta/deviceManagement/deviceConfigurations?$expand=settings")
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");

    // managedAppPolicies lists both app-protection collections; app protection assign answers 204.
    let (_, _, maps) = env.get(&token, "/beta/deviceAppManagement/managedAppPolicies").await;
    assert_eq!(maps["value"].as_array().unwrap().len(), 8);
    let ios = env.sim.objects(&env.tenant.id, "iosManagedAppProtections")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(ios.starts_with("T_"));
    let (s, _, _) = env
        .send(
            &token,
            reqwest::Method::POST,
            &format!("/beta/deviceAppManagement/iosManagedAppProtections/{ios}/assign"),
            Some(json!({"assignments": []})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);

    // Intents: create from a template, update settings, assign (204).
    let (_, _, templates) = env.get(&token, "/beta/deviceManagement/templates").await;
    let tpl = templates["value"][0]["id"].as_str().unwrap();
    let (s, _, intent) = env
        .send(
            &token,
            reqwest::Method::POST,
            &format!("/beta/deviceManagement/templates/{tpl}/createInstance"),
            Some(json!({"displayName": "ES - Restored", "description": "", "settingsDelta": [], "roleScopeTagIds": ["0"]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{intent}");
    let iid = intent["id"].as_str().unwrap();
    let (_, _, settings) = env
        .get(&token, &format!("/beta/deviceManagement/intents/{iid}/settings"))
        .await;
    let first = &settings["value"][0];
    let update = json!({"settings": [{"@odata.type": first["@odata.type"], "id": first["id"], "definitionId": first["definitionId"], "valueJson": "false"}]});
    let (s, _, _) = env
        .send(
            &token,
            reqwest::Method::POST,
            &format!("/beta/deviceManagement/intents/{iid}/updateSettings"),
            Some(update),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _, _) = env
        .send(
            &token,
            reqwest::Method::POST,
            &format!("/beta/deviceManagement/intents/{iid}/assign"),
            Some(json!({"assignments": []})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);

    // Scripts: lists leave the content out, GET by id has it.
    let (_, _, scripts) = env.get(&token, "/beta/deviceManagement/deviceManagementScripts").await;
    assert!(scripts["value"][0]["scriptContent"].is_null());
    let sid = scripts["value"][0]["id"].as_str().unwrap();
    let (_, _, script) = env
        .get(&token, &format!("/beta/deviceManagement/deviceManagementScripts/{sid}"))
        .await;
    assert!(B64.decode(script["scriptContent"].as_str().unwrap()).is_ok());

    // Organization shows the verified domains.
    let (_, _, org) = env.get(&token, "/v1.0/organization").await;
    assert_eq!(org["value"][0]["id"], json!(env.tenant.id));
}
