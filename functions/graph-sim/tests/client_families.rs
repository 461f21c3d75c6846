//! Every family of the Graph client's catalog (`atlas_graph::families::FAMILIES`) is served with the client's
//! paths, API version and permission area; and the write semantics of the families added for it.

use atlas_graph::families::{Assign, AssignmentsRead, FAMILIES, PermissionArea};
use atlas_graph_sim::{READ_ROLES, SimConfig, SimHandle, Simulator, TenantInfo, TenantSpec};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const CLIENT: &str = "0c2f5d1e-7a4b-4c3d-9e8f-1a2b3c4d5e6f";
const SECRET: &str = "families~secret";

struct Env {
    sim: SimHandle,
    tenant: TenantInfo,
    http: reqwest::Client,
}

impl Env {
    async fn start(policies: usize) -> Env {
        let sim = Simulator::start(SimConfig::default()).await.expect("simulator starts");
        let tenant = sim.add_tenant(TenantSpec {
            policies_per_family: Some(policies),
            ..TenantSpec::default()
        });
        sim.register_app(CLIENT, SECRET);
        Env {
            sim,
            tenant,
            http: reqwest::Client::new(),
        }
    }

    /// A fresh token after granting exactly `roles` (grants affect only new tokens).
    async fn token_with(&self, roles: &[&str]) -> String {
        self.sim.grant(&self.tenant.id, CLIENT, roles);
        let r = self
            .http
            .post(self.sim.token_url(&self.tenant.id))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", CLIENT),
                ("client_secret", SECRET),
                ("scope", "https://graph.microsoft.com/.default"),
            ])
            .send()
            .await
            .expect("token request");
        assert_eq!(r.status(), StatusCode::OK);
        let body: Value = r.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_string()
    }

    async fn call(&self, token: &str, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.sim.base_url)
        };
        let mut req = self.http.request(method, url).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.expect("graph request");
        let status = r.status();
        let text = r.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).expect("JSON body")
        };
        (status, body)
    }

    async fn get(&self, token: &str, path: &str) -> (StatusCode, Value) {
        self.call(token, Method::GET, path, None).await
    }
}

fn write_roles() -> Vec<&'static str> {
    atlas_graph_sim::ALL_ROLES.to_vec()
}

#[tokio::test]
async fn every_client_family_is_served_with_its_permission() {
    let env = Env::start(3).await;
    let reader = env.token_with(READ_ROLES).await;
    for f in FAMILIES {
        assert!(READ_ROLES.contains(&f.read_permission()), "{}", f.code);
        let path = format!("{}?$top=1", f.list_path());
        let (status, body) = env.get(&reader, &path).await;
        assert_eq!(status, StatusCode::OK, "{} {path}: {body}", f.code);
        let items = body["value"].as_array().unwrap_or_else(|| panic!("{}: {body}", f.code));
        assert_eq!(items.len(), 1, "{} is seeded", f.code);
        if f.code != "managedAppPolicies" {
            assert!(body["@odata.nextLink"].is_string(), "{} pages", f.code);
        }
        // The client's full reads of one object work too: item (with its $expand), settings, assignments.
        let (status, _) = env.get(&reader, &f.list_query()).await;
        assert_eq!(status, StatusCode::OK, "{}", f.list_query());
        let id = items[0]["id"].as_str().unwrap();
        let (status, body) = env.get(&reader, &f.item_path(id)).await;
        assert_eq!(status, StatusCode::OK, "{}: {body}", f.item_path(id));
        if let Some(settings) = f.settings_path(id) {
            let (status, body) = env.get(&reader, &settings).await;
            assert_eq!(status, StatusCode::OK, "{settings}: {body}");
            if let (Some(sr), Some((child, query))) = (f.settings, f.settings.and_then(|s| s.per_child)) {
                for v in body["value"].as_array().unwrap() {
                    let path = format!(
                        "{}/{id}/{}/{}/{child}?{query}",
                        f.list_path(),
                        sr.path,
                        v["id"].as_str().unwrap()
                    );
                    let (status, body) = env.get(&reader, &path).await;
                    assert_eq!(status, StatusCode::OK, "{path}: {body}");
                }
            }
        }
        if matches!(f.assign, Assign::Action { .. } | Assign::PerTarget) {
            let path = format!("/{}{}", f.version.as_str(), f.assignments_batch_url(id));
            let (status, body) = env.get(&reader, &path).await;
            assert_eq!(status, StatusCode::OK, "{path}: {body}");
        }
        // The full read the backup plans: the list expands assignments where the catalog says so.
        let (status, body) = env.get(&reader, &f.full_list_query()).await;
        assert_eq!(status, StatusCode::OK, "{}: {body}", f.full_list_query());
        let first = &body["value"][0];
        let listed = f.assignments == AssignmentsRead::ListExpand && !f.refetch_items;
        assert_eq!(first["assignments"].is_array(), listed, "{}", f.code);
        if listed {
            let context = first["assignments@odata.context"].as_str().unwrap();
            assert!(
                context.contains(&format!("('{}')/assignments", first["id"].as_str().unwrap())),
                "{context}"
            );
        }
        if f.assignments == AssignmentsRead::Batch {
            // The mixed-type list cannot expand them; each object's type collection answers.
            let expand = format!("{}?$expand=assignments", f.list_path());
            assert_eq!(env.get(&reader, &expand).await.0, StatusCode::BAD_REQUEST, "{expand}");
            let url = f.object_assignments_batch_url(first).unwrap();
            let batch = json!({"requests": [{"id": "1", "method": "GET", "url": url}]});
            let (status, body) = env.call(&reader, Method::POST, "/beta/$batch", Some(batch)).await;
            assert_eq!(status, StatusCode::OK);
            let answer = &body["responses"][0];
            assert_eq!(answer["status"], 200, "{url}: {answer}");
            let context = answer["body"]["@odata.context"].as_str().unwrap();
            assert!(
                context.contains(&format!("('{}')/assignments", first["id"].as_str().unwrap())),
                "{context}"
            );
        }
        if f.refetch_items {
            let url = f.refetch_batch_url(id);
            let batch = json!({"requests": [{"id": "1", "method": "GET", "url": url}]});
            let (_, body) = env.call(&reader, Method::POST, "/beta/$batch", Some(batch)).await;
            let answer = &body["responses"][0]["body"];
            assert!(answer["assignments"].is_array(), "{url}: {answer}");
        }
    }
    // Without the family's area → 403 (scope tags and device categories also accept
    // DeviceManagementConfiguration for reads, graph-brief §5 and the categories' list page).
    for area in [
        PermissionArea::Configuration,
        PermissionArea::Scripts,
        PermissionArea::ServiceConfig,
        PermissionArea::Apps,
        PermissionArea::Rbac,
        PermissionArea::ManagedDevices,
    ] {
        let with_cfg = matches!(area, PermissionArea::Rbac | PermissionArea::ManagedDevices);
        let roles: Vec<&str> = READ_ROLES
            .iter()
            .copied()
            .filter(|r| *r != area.read())
            .filter(|r| !with_cfg || *r != PermissionArea::Configuration.read())
            .collect();
        let token = env.token_with(&roles).await;
        for f in FAMILIES {
            let (status, body) = env.get(&token, &format!("{}?$top=1", f.list_path())).await;
            let lost = f.permission == area || (with_cfg && f.permission == PermissionArea::Configuration);
            let expected = if lost { StatusCode::FORBIDDEN } else { StatusCode::OK };
            assert_eq!(status, expected, "{} without {}: {body}", f.code, area.read());
        }
    }
    let stats = env.sim.stats(&env.tenant.id);
    for f in FAMILIES.iter().filter(|f| f.code != "managedAppPolicies") {
        // Scope tags: the built-in "0" plus the custom ones; roles: Intune's 3 built-in ones too.
        let expected = match f.code {
            "roleScopeTags" => 4,
            "roleDefinitions" => 6,
            _ => 3,
        };
        assert_eq!(stats.objects_of(f.code), expected, "{}", f.code);
    }
}

fn group_target(group: &str) -> Value {
    json!({"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": group})
}

#[tokio::test]
async fn admx_values_and_scripts() {
    let env = Env::start(2).await;
    let t = env.token_with(&write_roles()).await;
    let group = env.sim.objects(&env.tenant.id, "groups")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let base = "/beta/deviceManagement/groupPolicyConfigurations";

    // ADMX: create metadata only, then values through updateDefinitionValues.
    let (s, b) = env
        .call(
            &t,
            Method::POST,
            base,
            Some(json!({"displayName": "ADMX test", "definitionValues": []})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    let (s, created) = env
        .call(
            &t,
            Method::POST,
            base,
            Some(json!({"displayName": "ADMX test", "description": "d", "roleScopeTagIds": ["0"]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap();
    let (_, defs) = env
        .get(
            &t,
            "/beta/deviceManagement/groupPolicyDefinitions?$expand=presentations",
        )
        .await;
    let def = defs["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| {
            d["presentations"].as_array().is_some_and(|p| {
                p.len() == 1 && p[0]["@odata.type"] == json!("#microsoft.graph.groupPolicyPresentationTextBox")
            })
        })
        .unwrap()
        .clone();
    let (def_id, pres_id) = (
        def["id"].as_str().unwrap(),
        def["presentations"][0]["id"].as_str().unwrap(),
    );
    let bind = format!("https://graph.microsoft.com/beta/deviceManagement/groupPolicyDefinitions('{def_id}')");
    let value = |v: Value| {
        json!({"enabled": true, "definition@odata.bind": bind, "presentationValues": [{
            "@odata.type": "#microsoft.graph.groupPolicyPresentationValueText", "value": v,
            "presentation@odata.bind": format!("{bind}/presentations('{pres_id}')")}]})
    };
    let action = format!("{base}/{id}/updateDefinitionValues");
    let (s, b) = env
        .call(
            &t,
            Method::POST,
            &action,
            Some(json!({"added": [value(json!(true))], "updated": [], "deletedIds": []})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "wrong value type: {b}");
    let (s, _) = env
        .call(
            &t,
            Method::POST,
            &action,
            Some(json!({"added": [value(json!("https://a.example"))], "updated": [], "deletedIds": []})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, dvs) = env
        .get(&t, &format!("{base}/{id}/definitionValues?$expand=definition"))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(dvs["value"].as_array().unwrap().len(), 1);
    assert_eq!(dvs["value"][0]["definition"]["id"], json!(def_id));
    assert!(dvs["value"][0].get("presentationValues").is_none());
    let dv = dvs["value"][0]["id"].as_str().unwrap();
    let (s, pvs) = env
        .get(
            &t,
            &format!("{base}/{id}/definitionValues/{dv}/presentationValues?$expand=presentation"),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(pvs["value"][0]["value"], json!("https://a.example"));
    assert_eq!(pvs["value"][0]["presentation"]["id"], json!(pres_id));
    let mut upd = value(json!("https://b.example"));
    upd["id"] = json!(dv);
    let (s, _) = env
        .call(
            &t,
            Method::POST,
            &action,
            Some(json!({"added": [], "updated": [upd], "deletedIds": []})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, pvs) = env
        .get(&t, &format!("{base}/{id}/definitionValues/{dv}/presentationValues"))
        .await;
    assert_eq!(pvs["value"][0]["value"], json!("https://b.example"));
    assert!(pvs["value"][0].get("presentation").is_none());
    let (s, b) = env
        .call(
            &t,
            Method::PATCH,
            &format!("{base}/{id}"),
            Some(json!({"description": "e"})),
        )
        .await;
    assert_eq!((s, &b["description"]), (StatusCode::OK, &json!("e")));
    let (s, b) = env
        .call(
            &t,
            Method::POST,
            &format!("{base}/{id}/assign"),
            Some(json!({"assignments": [{"target": group_target(&group)}]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["value"][0]["id"], json!(format!("{id}_{group}")));
    let (s, _) = env
        .call(
            &t,
            Method::POST,
            &action,
            Some(json!({"added": [], "updated": [], "deletedIds": [dv]})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = env.call(&t, Method::DELETE, &format!("{base}/{id}"), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);

    // Shell scripts: lists omit the body, assign through either script collection.
    let content = B64.encode("#!/bin/zsh\necho hi\n");
    let (s, sh) = env
        .call(
            &t,
            Method::POST,
            "/beta/deviceManagement/deviceShellScripts",
            Some(json!({"displayName": "sh", "scriptContent": content, "runAsAccount": "system", "fileName": "a.sh"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{sh}");
    let sid = sh["id"].as_str().unwrap();
    let (_, list) = env.get(&t, "/beta/deviceManagement/deviceShellScripts").await;
    assert!(
        list["value"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["scriptContent"].is_null())
    );
    let (_, one) = env
        .get(&t, &format!("/beta/deviceManagement/deviceShellScripts/{sid}"))
        .await;
    assert_eq!(one["scriptContent"], json!(content));
    let (s, _) = env
        .call(
            &t,
            Method::POST,
            &format!("/beta/deviceManagement/deviceManagementScripts/{sid}/assign"),
            Some(json!({"deviceManagementScriptAssignments": [{"target": group_target(&group)}]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, a) = env
        .get(
            &t,
            &format!("/beta/deviceManagement/deviceShellScripts/{sid}/assignments"),
        )
        .await;
    assert_eq!(a["value"].as_array().unwrap().len(), 1);

    // Remediations: assignments carry their schedule; read-only fields are refused.
    let hs = "/beta/deviceManagement/deviceHealthScripts";
    let body = json!({"displayName": "rm", "publisher": "me", "detectionScriptContent": B64.encode("exit 0"),
                      "remediationScriptContent": B64.encode("exit 0"), "runAsAccount": "system"});
    let mut bad = body.clone();
    bad["isGlobalScript"] = json!(false);
    assert_eq!(
        env.call(&t, Method::POST, hs, Some(bad)).await.0,
        StatusCode::BAD_REQUEST
    );
    let (s, h) = env.call(&t, Method::POST, hs, Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{h}");
    let hid = h["id"].as_str().unwrap();
    let schedule = json!({"@odata.type": "#microsoft.graph.deviceHealthScriptHourlySchedule", "interval": 4});
    let (s, _) = env
        .call(&t, Method::POST, &format!("{hs}/{hid}/assign"),
              Some(json!({"deviceHealthScriptAssignments": [{"target": group_target(&group), "runRemediationScript": true, "runSchedule": schedule}]})))
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, a) = env.get(&t, &format!("{hs}/{hid}/assignments")).await;
    assert_eq!(a["value"][0]["runSchedule"], schedule);
    assert_eq!(a["value"][0]["runRemediationScript"], json!(true));
    let (s, p) = env
        .call(
            &t,
            Method::PATCH,
            &format!("{hs}/{hid}"),
            Some(json!({"publisher": "you"})),
        )
        .await;
    assert_eq!((s, &p["publisher"]), (StatusCode::OK, &json!("you")));

    // Scripts need the Scripts role.
    let cfg_only = env.token_with(&["DeviceManagementConfiguration.ReadWrite.All"]).await;
    assert_eq!(env.get(&cfg_only, hs).await.0, StatusCode::FORBIDDEN);
    let stats = env.sim.stats(&env.tenant.id);
    assert_eq!(stats.objects_of("groupPolicyConfigurations"), 2);
    assert_eq!(stats.objects_of("deviceShellScripts"), 3);
    assert_eq!(stats.objects_of("deviceHealthScripts"), 3);
}

#[tokio::test]
async fn service_config_and_app_families() {
    let env = Env::start(3).await;
    let t = env.token_with(&write_roles()).await;
    let group = env.sim.objects(&env.tenant.id, "groups")[1]["id"]
        .as_str()
        .unwrap()
        .to_string();

    // Autopilot: derived type required, group targets one by one (201), device assign, delete needs unassign.
    let ap = "/beta/deviceManagement/windowsAutopilotDeploymentProfiles";
    let body = json!({"displayName": "AP", "language": "os-default", "deviceNameTemplate": "X-%SERIAL%"});
    assert_eq!(
        env.call(&t, Method::POST, ap, Some(body.clone())).await.0,
        StatusCode::BAD_REQUEST
    );
    let mut typed = body;
    typed["@odata.type"] = json!("#microsoft.graph.azureADWindowsAutopilotDeploymentProfile");
    let (s, p) = env.call(&t, Method::POST, ap, Some(typed)).await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    let pid = p["id"].as_str().unwrap();
    let (s, a) = env
        .call(
            &t,
            Method::POST,
            &format!("{ap}/{pid}/assignments"),
            Some(json!({"target": group_target(&group)})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
    let (s, _) = env
        .call(
            &t,
            Method::POST,
            &format!("{ap}/{pid}/assign"),
            Some(json!({"assignments": []})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "assign takes deviceIds");
    let (s, _) = env
        .call(
            &t,
            Method::POST,
            &format!("{ap}/{pid}/assign"),
            Some(json!({"deviceIds": ["d1"]})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(
        env.call(&t, Method::DELETE, &format!("{ap}/{pid}"), None).await.0,
        StatusCode::BAD_REQUEST
    );
    let aid = a["id"].as_str().unwrap();
    let (s, _) = env
        .call(&t, Method::DELETE, &format!("{ap}/{pid}/assignments/{aid}"), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(
        env.call(&t, Method::DELETE, &format!("{ap}/{pid}"), None).await.0,
        StatusCode::OK
    );

    // Enrollment: PATCH without priority, setPriority moves it; the default is fixed.
    let en = "/beta/deviceManagement/deviceEnrollmentConfigurations";
    let (s, e) = env
        .call(&t, Method::POST, en, Some(json!({"@odata.type": "#microsoft.graph.deviceEnrollmentLimitConfiguration", "displayName": "Limit", "limit": 5})))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{e}");
    assert_eq!(e["deviceEnrollmentConfigurationType"], json!("limit"));
    let eid = e["id"].as_str().unwrap();
    let (s, _) = env
        .call(&t, Method::PATCH, &format!("{en}/{eid}"), Some(json!({"priority": 1})))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, b) = env
        .call(&t, Method::PATCH, &format!("{en}/{eid}"), Some(json!({"limit": 7})))
        .await;
    assert_eq!((s, &b["limit"]), (StatusCode::OK, &json!(7)));
    let (s, _) = env
        .call(
            &t,
            Method::POST,
            &format!("{en}/{eid}/setPriority"),
            Some(json!({"priority": 1})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, b) = env.get(&t, &format!("{en}/{eid}")).await;
    assert_eq!(b["priority"], json!(1));
    let (s, _) = env
        .call(
            &t,
            Method::POST,
            &format!("{en}/{eid}/assign"),
            Some(json!({"enrollmentConfigurationAssignments": [{"target": group_target(&group)}]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, all) = env.get(&t, &format!("{en}?$filter=priority eq 0")).await;
    let default_id = all["value"][0]["id"].as_str().unwrap();
    assert_eq!(
        env.call(&t, Method::DELETE, &format!("{en}/{default_id}"), None)
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        env.get(
            &t,
            &format!("/v1.0/deviceManagement/deviceEnrollmentConfigurations/{eid}")
        )
        .await
        .0,
        StatusCode::OK
    );

    // Notification templates: POST → 200, then one localized message per locale.
    let nt = "/beta/deviceManagement/notificationMessageTemplates";
    let (s, n) = env
        .call(
            &t,
            Method::POST,
            nt,
            Some(json!({"displayName": "N", "brandingOptions": "includeCompanyName", "roleScopeTagIds": ["0"]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{n}");
    let nid = n["id"].as_str().unwrap();
    for (locale, default) in [("en-us", true), ("de-de", false)] {
        let (s, m) = env
            .call(
                &t,
                Method::POST,
                &format!("{nt}/{nid}/localizedNotificationMessages"),
                Some(json!({"locale": locale, "subject": "S", "messageTemplate": "M", "isDefault": default})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{m}");
        assert_eq!(m["id"], json!(format!("{nid}_{locale}")));
    }
    let (s, m) = env
        .call(
            &t,
            Method::PATCH,
            &format!("{nt}/{nid}/localizedNotificationMessages/{nid}_de-de"),
            Some(json!({"subject": "T"})),
        )
        .await;
    assert_eq!((s, &m["subject"]), (StatusCode::OK, &json!("T")));
    let (_, n) = env
        .get(&t, &format!("{nt}/{nid}?$expand=localizedNotificationMessages"))
        .await;
    assert_eq!(n["defaultLocale"], json!("en-us"));
    assert_eq!(n["localizedNotificationMessages"].as_array().unwrap().len(), 2);
    let (s, _) = env
        .call(
            &t,
            Method::PATCH,
            &format!("{nt}/{nid}"),
            Some(json!({"defaultLocale": "de-de"})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // Feature updates: known versions only; computed fields filled in and read-only.
    let fu = "/beta/deviceManagement/windowsFeatureUpdateProfiles";
    let (s, _) = env
        .call(
            &t,
            Method::POST,
            fu,
            Some(json!({"displayName": "F", "featureUpdateVersion": "Windows 12"})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, f) = env
        .call(
            &t,
            Method::POST,
            fu,
            Some(json!({"displayName": "F", "featureUpdateVersion": "Windows 11, version 24H2"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{f}");
    assert!(f["endOfSupportDate"].is_string());
    let fid = f["id"].as_str().unwrap();
    let (s, _) = env
        .call(
            &t,
            Method::POST,
            &format!("{fu}/{fid}/assign"),
            Some(json!({"assignments": [{"target": group_target(&group)}]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);

    // App configurations: the ICD cast path for assign; managed-app configs get their apps through targetApps.
    let mc = "/beta/deviceAppManagement/mobileAppConfigurations";
    let (s, c) = env
        .call(
            &t,
            Method::POST,
            mc,
            Some(
                json!({"@odata.type": "#microsoft.graph.iosMobileAppConfiguration", "displayName": "C",
                                                "targetedMobileApps": ["9f1c0b1e-0000-4000-8000-000000000001"]}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    let cid = c["id"].as_str().unwrap();
    let (s, _) = env
        .call(
            &t,
            Method::POST,
            &format!("{mc}/{cid}/microsoft.graph.managedDeviceMobileAppConfiguration/assign"),
            Some(json!({"assignments": [{"target": group_target(&group)}]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        env.call(
            &t,
            Method::PATCH,
            &format!("{mc}/{cid}"),
            Some(json!({"description": "x"}))
        )
        .await
        .0,
        StatusCode::NO_CONTENT
    );
    let tc = "/beta/deviceAppManagement/targetedManagedAppConfigurations";
    let (s, c) = env
        .call(
            &t,
            Method::POST,
            tc,
            Some(json!({"displayName": "T", "customSettings": [{"name": "k", "value": "v"}]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    let cid = c["id"].as_str().unwrap();
    assert!(cid.starts_with("A_"));
    let apps = json!({"apps": [{"mobileAppIdentifier": {"@odata.type": "#microsoft.graph.iosMobileAppIdentifier", "bundleId": "com.microsoft.msedge"}},
                               {"mobileAppIdentifier": {"@odata.type": "#microsoft.graph.androidMobileAppIdentifier", "packageId": "com.microsoft.emmx"}}],
                      "appGroupType": "selectedPublicApps"});
    assert_eq!(
        env.call(&t, Method::POST, &format!("{tc}/{cid}/targetApps"), Some(apps))
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    let (_, c) = env.get(&t, &format!("{tc}/{cid}?$expand=apps")).await;
    assert_eq!(c["deployedAppCount"], json!(2));
    let (s, _) = env
        .call(
            &t,
            Method::POST,
            &format!("{tc}/{cid}/assign"),
            Some(json!({"assignments": [{"target": group_target(&group)}]})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);

    // ServiceConfig and Apps roles are enforced on writes too.
    let readonly = env.token_with(READ_ROLES).await;
    assert_eq!(
        env.call(&readonly, Method::POST, nt, Some(json!({"displayName": "N"})))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        env.call(&readonly, Method::DELETE, &format!("{tc}/{cid}"), None)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let stats = env.sim.stats(&env.tenant.id);
    assert_eq!(stats.objects_of("windowsAutopilotDeploymentProfiles"), 3);
    assert_eq!(stats.objects_of("deviceEnrollmentConfigurations"), 4);
    assert_eq!(stats.objects_of("notificationMessageTemplates"), 4);
    assert_eq!(stats.objects_of("targetedManagedAppConfigurations"), 4);
    assert!(stats.assignments.contains_key("deviceEnrollmentConfigurations"));
}

// The families of issue 18 (item 6): each one listed page by page, read, created with its documented
// refusal first, and updated.

/// Every object of `path`, two per page, following `@odata.nextLink`; asserts it took more than one page.
async fn list_in_pages(env: &Env, token: &str, path: &str) -> Vec<Value> {
    let mut url = format!("{path}?$top=2");
    let (mut out, mut pages) = (Vec::new(), 0);
    loop {
        let (s, body) = env.get(token, &url).await;
        assert_eq!(s, StatusCode::OK, "{url}: {body}");
        out.extend(body["value"].as_array().unwrap().iter().cloned());
        pages += 1;
        match body["@odata.nextLink"].as_str() {
            Some(next) => url = next.to_string(),
            None => break,
        }
    }
    assert!(pages > 1, "{path} pages");
    out
}

/// Lists `path` in pages (as many objects as the simulator holds), reads the first one by id and
/// returns it.
async fn listed_and_read(env: &Env, token: &str, path: &str, family: &str) -> Value {
    let all = list_in_pages(env, token, path).await;
    assert_eq!(all.len(), env.sim.stats(&env.tenant.id).objects_of(family), "{family}");
    let id = all[0]["id"].as_str().unwrap();
    let (s, one) = env.get(token, &format!("{path}/{id}")).await;
    assert_eq!((s, &one["id"]), (StatusCode::OK, &all[0]["id"]), "{one}");
    one
}

#[tokio::test]
async fn mobile_apps_are_metadata_with_derived_types_and_intents() {
    let env = Env::start(4).await;
    let t = env.token_with(&write_roles()).await;
    let path = "/beta/deviceAppManagement/mobileApps";
    let one = listed_and_read(&env, &t, path, "mobileApps").await;
    assert!(one["@odata.type"].as_str().unwrap().ends_with("App"), "{one}");
    assert_eq!(
        env.get(&t, "/v1.0/deviceAppManagement/mobileApps?$top=1").await.0,
        StatusCode::OK
    );
    // The abstract base type and the service's own fields are refused.
    let body = json!({"displayName": "Tool", "publisher": "Contoso", "fileName": "tool.intunewin"});
    assert_eq!(
        env.call(&t, Method::POST, path, Some(body.clone())).await.0,
        StatusCode::BAD_REQUEST
    );
    let mut typed = body;
    typed["@odata.type"] = json!("#microsoft.graph.win32LobApp");
    let mut with_state = typed.clone();
    with_state["publishingState"] = json!("published");
    let (s, e) = env.call(&t, Method::POST, path, Some(with_state)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("publishingState"));
    let (s, app) = env.call(&t, Method::POST, path, Some(typed)).await;
    assert_eq!(s, StatusCode::CREATED, "{app}");
    assert_eq!(app["publishingState"], "notPublished", "no package: metadata only");
    let id = app["id"].as_str().unwrap();
    let (s, _) = env
        .call(&t, Method::PATCH, &format!("{path}/{id}"), Some(json!({"notes": "n"})))
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(env.get(&t, &format!("{path}/{id}")).await.1["notes"], "n");
    // An assignment without an intent is refused; with one it is kept.
    let group = env.sim.objects(&env.tenant.id, "groups")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let assign = format!("{path}/{id}/assign");
    let no_intent = json!({"mobileAppAssignments": [{"target": group_target(&group)}]});
    assert_eq!(
        env.call(&t, Method::POST, &assign, Some(no_intent)).await.0,
        StatusCode::BAD_REQUEST
    );
    let ok = json!({"mobileAppAssignments": [{"intent": "required", "target": group_target(&group)}]});
    assert_eq!(
        env.call(&t, Method::POST, &assign, Some(ok)).await.0,
        StatusCode::NO_CONTENT
    );
    let (_, a) = env.get(&t, &format!("{path}/{id}/assignments")).await;
    assert_eq!(a["value"][0]["intent"], "required");
}

#[tokio::test]
async fn quality_and_driver_update_profiles() {
    let env = Env::start(3).await;
    let t = env.token_with(&write_roles()).await;
    let q = "/beta/deviceManagement/windowsQualityUpdateProfiles";
    listed_and_read(&env, &t, q, "windowsQualityUpdateProfiles").await;
    let release = json!({"qualityUpdateRelease": "2025-02-11T00:00:00Z", "daysUntilForcedReboot": 1});
    let (s, _) = env
        .call(
            &t,
            Method::POST,
            q,
            Some(json!({"displayName": "Q", "expeditedUpdateSettings": release,
                                               "releaseDateDisplayName": "x"})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "computed names are read-only");
    let unknown =
        json!({"displayName": "Q", "expeditedUpdateSettings": {"qualityUpdateRelease": "2030-01-01T00:00:00Z"}});
    assert_eq!(
        env.call(&t, Method::POST, q, Some(unknown)).await.0,
        StatusCode::BAD_REQUEST
    );
    let (s, p) = env
        .call(
            &t,
            Method::POST,
            q,
            Some(json!({"displayName": "Q", "expeditedUpdateSettings": release})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    assert!(
        p["releaseDateDisplayName"]
            .as_str()
            .unwrap()
            .starts_with("February 11, 2025")
    );
    let id = p["id"].as_str().unwrap();
    let (s, p) = env
        .call(
            &t,
            Method::PATCH,
            &format!("{q}/{id}"),
            Some(json!({"description": "d"})),
        )
        .await;
    assert_eq!((s, &p["description"]), (StatusCode::OK, &json!("d")));
    assert!(
        env.get(&t, &format!("/v1.0/deviceManagement/windowsQualityUpdateProfiles/{id}"))
            .await
            .0
            == StatusCode::BAD_REQUEST
    );

    let d = "/beta/deviceManagement/windowsDriverUpdateProfiles";
    listed_and_read(&env, &t, d, "windowsDriverUpdateProfiles").await;
    let manual_deferred = json!({"displayName": "D", "approvalType": "manual", "deploymentDeferralInDays": 3});
    assert_eq!(
        env.call(&t, Method::POST, d, Some(manual_deferred)).await.0,
        StatusCode::BAD_REQUEST
    );
    let (s, p) = env
        .call(
            &t,
            Method::POST,
            d,
            Some(json!({"displayName": "D", "approvalType": "automatic", "deploymentDeferralInDays": 7})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    assert_eq!(p["newUpdates"], 0);
    let id = p["id"].as_str().unwrap();
    let item = format!("{d}/{id}");
    let (s, _) = env
        .call(&t, Method::PATCH, &item, Some(json!({"approvalType": "manual"})))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "the approval method is fixed");
    let (s, p) = env
        .call(&t, Method::PATCH, &item, Some(json!({"deploymentDeferralInDays": 14})))
        .await;
    assert_eq!((s, &p["deploymentDeferralInDays"]), (StatusCode::OK, &json!(14)));
    let group = env.sim.objects(&env.tenant.id, "groups")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, _) = env
        .call(
            &t,
            Method::POST,
            &format!("{item}/assign"),
            Some(json!({"assignments": [{"target": group_target(&group)}]})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn policy_sets_take_items_and_assignments_through_update() {
    let env = Env::start(3).await;
    let t = env.token_with(&write_roles()).await;
    let path = "/beta/deviceAppManagement/policySets";
    let one = listed_and_read(&env, &t, path, "policySets").await;
    let (_, expanded) = env
        .get(&t, &format!("{path}/{}?$expand=items", one["id"].as_str().unwrap()))
        .await;
    assert_eq!(expanded["items"].as_array().unwrap().len(), 2, "{expanded}");
    let app = env.sim.objects(&env.tenant.id, "mobileApps")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let item =
        json!({"@odata.type": "#microsoft.graph.mobileAppPolicySetItem", "payloadId": app, "intent": "required"});
    let (s, _) = env
        .call(
            &t,
            Method::POST,
            path,
            Some(json!({"displayName": "PS", "items": [item.clone()]})),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::BAD_REQUEST,
        "items are a navigation: written through update"
    );
    let (s, _) = env
        .call(
            &t,
            Method::POST,
            path,
            Some(json!({"displayName": "PS", "status": "success"})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "status is the service's");
    let (s, ps) = env
        .call(&t, Method::POST, path, Some(json!({"displayName": "PS"})))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{ps}");
    let id = ps["id"].as_str().unwrap();
    let update = format!("{path}/{id}/update");
    let missing = json!({"addedPolicySetItems": [{"@odata.type": "#microsoft.graph.mobileAppPolicySetItem", "payloadId": "nope"}]});
    assert_eq!(
        env.call(&t, Method::POST, &update, Some(missing)).await.0,
        StatusCode::BAD_REQUEST
    );
    let group = env.sim.objects(&env.tenant.id, "groups")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let body = json!({"addedPolicySetItems": [item], "assignments": [{"target": group_target(&group)}]});
    assert_eq!(
        env.call(&t, Method::POST, &update, Some(body)).await.0,
        StatusCode::NO_CONTENT
    );
    let (_, got) = env.get(&t, &format!("{path}/{id}?$expand=items,assignments")).await;
    assert_eq!(got["items"][0]["payloadId"], json!(app));
    assert_eq!(
        (got["assignments"].as_array().unwrap().len(), &got["status"]),
        (1, &json!("success"))
    );
    assert_eq!(
        env.call(
            &t,
            Method::POST,
            &format!("{path}/{id}/assign"),
            Some(json!({"assignments": []}))
        )
        .await
        .0,
        StatusCode::BAD_REQUEST,
        "no assign action"
    );
    let (s, p) = env
        .call(
            &t,
            Method::PATCH,
            &format!("{path}/{id}"),
            Some(json!({"description": "x"})),
        )
        .await;
    assert_eq!((s, &p["description"]), (StatusCode::OK, &json!("x")));
}

#[tokio::test]
async fn role_definitions_and_assignments() {
    let env = Env::start(3).await;
    let t = env.token_with(&write_roles()).await;
    let rd = "/beta/deviceManagement/roleDefinitions";
    listed_and_read(&env, &t, rd, "roleDefinitions").await;
    let builtin = "0bd113fe-6be5-400c-a28f-ae5553f9c0be";
    let (_, b) = env.get(&t, &format!("{rd}/{builtin}")).await;
    assert_eq!(b["isBuiltIn"], true);
    for (method, body) in [
        (Method::PATCH, Some(json!({"description": "mine"}))),
        (Method::DELETE, None),
    ] {
        assert_eq!(
            env.call(&t, method, &format!("{rd}/{builtin}"), body).await.0,
            StatusCode::BAD_REQUEST,
            "built-in roles take no writes"
        );
    }
    let perms = json!([{"resourceActions": [{"allowedResourceActions": ["Microsoft.Intune_MobileApps_Read"]}]}]);
    let (s, _) = env
        .call(
            &t,
            Method::POST,
            rd,
            Some(json!({"displayName": "R", "rolePermissions": perms, "isBuiltIn": false})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "isBuiltIn is read-only");
    let (s, r) = env
        .call(
            &t,
            Method::POST,
            rd,
            Some(json!({"displayName": "R", "rolePermissions": perms})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let rid = r["id"].as_str().unwrap();
    let (s, r) = env
        .call(
            &t,
            Method::PATCH,
            &format!("{rd}/{rid}"),
            Some(json!({"description": "d"})),
        )
        .await;
    assert_eq!((s, &r["description"]), (StatusCode::OK, &json!("d")));

    let ra = "/beta/deviceManagement/roleAssignments";
    listed_and_read(&env, &t, ra, "roleAssignments").await;
    let group = env.sim.objects(&env.tenant.id, "groups")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let body = json!({"displayName": "A", "members": [group], "resourceScopes": [group]});
    assert_eq!(
        env.call(&t, Method::POST, ra, Some(body.clone())).await.0,
        StatusCode::BAD_REQUEST,
        "no role bound"
    );
    let mut bound = body.clone();
    bound["roleDefinition@odata.bind"] = json!(format!(
        "https://graph.microsoft.com/beta/deviceManagement/roleDefinitions('{rid}')"
    ));
    let mut stranger = bound.clone();
    stranger["members"] = json!(["11111111-2222-3333-4444-555555555555"]);
    assert_eq!(
        env.call(&t, Method::POST, ra, Some(stranger)).await.0,
        StatusCode::BAD_REQUEST,
        "unknown group"
    );
    let (s, a) = env.call(&t, Method::POST, ra, Some(bound)).await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
    let aid = a["id"].as_str().unwrap();
    let (_, got) = env.get(&t, &format!("{ra}/{aid}?$expand=roleDefinition")).await;
    assert_eq!(got["roleDefinition"]["id"], json!(rid), "{got}");
    let (s, a) = env
        .call(
            &t,
            Method::PATCH,
            &format!("{ra}/{aid}"),
            Some(json!({"description": "d"})),
        )
        .await;
    assert_eq!((s, &a["description"]), (StatusCode::OK, &json!("d")));
    // Roles need the RBAC role itself.
    let cfg = env.token_with(&["DeviceManagementConfiguration.ReadWrite.All"]).await;
    assert_eq!(env.get(&cfg, rd).await.0, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn terms_and_conditions_and_device_categories() {
    let env = Env::start(3).await;
    let t = env.token_with(&write_roles()).await;
    let tc = "/beta/deviceManagement/termsAndConditions";
    listed_and_read(&env, &t, tc, "termsAndConditions").await;
    let (s, _) = env
        .call(
            &t,
            Method::POST,
            tc,
            Some(json!({"displayName": "T", "acceptanceStatuses": []})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "acceptances are the users'");
    let (s, terms) = env
        .call(
            &t,
            Method::POST,
            tc,
            Some(json!({"displayName": "T", "title": "Use", "bodyText": "b", "acceptanceStatement": "a"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{terms}");
    let id = terms["id"].as_str().unwrap();
    let group = env.sim.objects(&env.tenant.id, "groups")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        env.call(
            &t,
            Method::POST,
            &format!("{tc}/{id}/assign"),
            Some(json!({"assignments": []}))
        )
        .await
        .0,
        StatusCode::BAD_REQUEST,
        "no assign action"
    );
    let (s, _) = env
        .call(
            &t,
            Method::POST,
            &format!("{tc}/{id}/assignments"),
            Some(json!({"target": group_target(&group)})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, p) = env
        .call(&t, Method::PATCH, &format!("{tc}/{id}"), Some(json!({"bodyText": "c"})))
        .await;
    assert_eq!(
        (s, &p["bodyText"], &p["version"]),
        (StatusCode::OK, &json!("c"), &json!(2))
    );

    let dc = "/beta/deviceManagement/deviceCategories";
    listed_and_read(&env, &t, dc, "deviceCategories").await;
    // Reading takes the configuration role; writing only DeviceManagementManagedDevices.ReadWrite.All.
    let cfg = env.token_with(&["DeviceManagementConfiguration.ReadWrite.All"]).await;
    assert_eq!(env.get(&cfg, dc).await.0, StatusCode::OK);
    assert_eq!(
        env.call(&cfg, Method::POST, dc, Some(json!({"displayName": "C"})))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let t = env.token_with(&write_roles()).await;
    let (s, c) = env.call(&t, Method::POST, dc, Some(json!({"displayName": "C"}))).await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    let id = c["id"].as_str().unwrap();
    let (s, c) = env
        .call(
            &t,
            Method::PATCH,
            &format!("{dc}/{id}"),
            Some(json!({"description": "d"})),
        )
        .await;
    assert_eq!((s, &c["description"]), (StatusCode::OK, &json!("d")));
}
