//! Redaction by meaning (spec 009), on both backends: a Wi-Fi pre-shared key and a settings-catalog
//! secret value are masked in the inventory, backup item JSON, backup diffs and restore previews
//! for every reader; `passwordMinimumLength` stays visible; a secret that changed between backup
//! and live is a masked change in the preview, and the restore writes its real value.

use atlas_api_types as api;
use atlas_api_types::paths;
use atlas_tests::app::DEMO_WS;
use atlas_tests::app::{Mode, OPERATOR, OWNER, READONLY, TestApp, eventually, spawn_app};
use serde_json::{Value, json};

const WS: &str = "/api/v1/workspaces/ws-demo";
const MASK: &str = "[redacted]";

fn sim() -> &'static atlas_graph_sim::Simulator {
    &atlas_tests::sim::shared().sim
}

async fn get_as<T: serde::de::DeserializeOwned>(app: &TestApp, who: &str, path: &str) -> T {
    let res = app.get_as(who, path).await;
    assert_eq!(res.status(), 200, "{who} {path}");
    res.json().await.unwrap()
}

async fn run(app: &TestApp, path: &str, body: Value) -> api::OperationView {
    let v = app.run_to_completion(path, body).await;
    assert_eq!(
        v.run.outcome.map(|o| o.as_str()),
        Some("succeeded"),
        "{path}: {:?}",
        v.items
    );
    v
}

/// The string values of every `…SecretSettingValue` in `v`.
fn secret_setting_values(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if m.get("@odata.type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.ends_with("SecretSettingValue"))
                && let Some(s) = m.get("value").and_then(Value::as_str)
            {
                out.push(s.to_owned());
            }
            m.values().for_each(|c| secret_setting_values(c, out));
        }
        Value::Array(a) => a.iter().for_each(|c| secret_setting_values(c, out)),
        _ => {}
    }
}

/// What the simulator holds that must never reach a reader, and what must.
struct Seeded {
    wifi_id: String,
    psk: String,
    policy_id: String,
    tokens: Vec<String>,
    restrictions_id: String,
    min_length: Value,
}

fn seeded(tenant: &str) -> Seeded {
    let configs = sim().objects(tenant, "deviceConfigurations");
    let wifi = configs
        .iter()
        .find(|o| o["preSharedKey"].as_str().is_some_and(|s| !s.is_empty()))
        .expect("the simulator seeds a Wi-Fi profile with a pre-shared key");
    let restrictions = configs
        .iter()
        .find(|o| o["@odata.type"] == "#microsoft.graph.windows10GeneralConfiguration")
        .expect("the simulator seeds a device-restrictions profile");
    let (policy_id, tokens) = sim()
        .objects(tenant, "configurationPolicies")
        .iter()
        .find_map(|p| {
            let mut t = Vec::new();
            secret_setting_values(p, &mut t);
            (!t.is_empty()).then(|| (p["id"].as_str().unwrap().to_owned(), t))
        })
        .expect("the simulator seeds a settings-catalog secret setting value");
    Seeded {
        wifi_id: wifi["id"].as_str().unwrap().to_owned(),
        psk: wifi["preSharedKey"].as_str().unwrap().to_owned(),
        policy_id,
        tokens,
        restrictions_id: restrictions["id"].as_str().unwrap().to_owned(),
        min_length: restrictions["passwordMinimumLength"].clone(),
    }
}

fn assert_hidden(what: &str, text: &str, secrets: &[&str]) {
    for s in secrets {
        assert!(!text.contains(s), "{what} shows the secret {s}: {text}");
    }
}

async fn secrets_are_masked_in_every_view_and_a_changed_one_is_restored(mode: Mode) {
    let app = spawn_app(mode).await;
    let (tenant, env) = app.connected_env("env-redact").await;
    let s = seeded(&tenant);
    // The reader is entitled to the environment: redaction, not entitlement, is what hides secrets.
    let res = app
        .patch_as(
            OWNER,
            &paths::member(DEMO_WS, "u-readonly"),
            json!({"environments": "all"}),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap_or_default());
    assert!(s.min_length.is_number(), "{:?}", s.min_length);
    let mut secrets: Vec<&str> = vec![s.psk.as_str()];
    secrets.extend(s.tokens.iter().map(String::as_str));

    // Inventory, for a writer and a reader.
    run(&app, &format!("{env}/inventory/sync"), json!({})).await;
    for who in [OWNER, READONLY] {
        let wifi: api::InventoryItem = get_as(
            &app,
            who,
            &format!("{env}/inventory/deviceConfigurations/{}", s.wifi_id),
        )
        .await;
        let payload = wifi.payload.clone().expect("payload");
        assert_eq!(payload["preSharedKey"], MASK, "{who}");
        assert_eq!(
            payload["ssid"],
            sim_prop(&tenant, "deviceConfigurations", &s.wifi_id, "ssid")
        );
        let policy: api::InventoryItem = get_as(
            &app,
            who,
            &format!("{env}/inventory/configurationPolicies/{}", s.policy_id),
        )
        .await;
        let text = serde_json::to_string(&policy).unwrap();
        assert!(
            text.contains("encryptedValueToken"),
            "the setting and its state stay visible: {text}"
        );
        assert!(text.contains(MASK), "{text}");
        let restrictions: api::InventoryItem = get_as(
            &app,
            who,
            &format!("{env}/inventory/deviceConfigurations/{}", s.restrictions_id),
        )
        .await;
        let payload = restrictions.payload.clone().expect("payload");
        assert_eq!(
            payload["passwordMinimumLength"], s.min_length,
            "{who}: a length is not a secret"
        );
        assert!(!serde_json::to_string(&payload).unwrap().contains(MASK), "{payload}");
        let all = serde_json::to_string(&(&wifi, &policy, &restrictions)).unwrap();
        assert_hidden("inventory", &all, &secrets);
        assert_hidden("inventory", &serde_json::to_string(&payload).unwrap(), &secrets);
    }

    // Backup item JSON (the download), for a writer and a reader.
    let families = json!({"families": ["deviceConfigurations", "configurationPolicies"]});
    let first = run(&app, &format!("{env}/backups"), families.clone()).await.run.id;
    for who in [OWNER, READONLY] {
        for (family, id) in [
            ("deviceConfigurations", &s.wifi_id),
            ("configurationPolicies", &s.policy_id),
            ("deviceConfigurations", &s.restrictions_id),
        ] {
            let res = app
                .get_as(who, &format!("{env}/backups/{first}/items/{family}/{id}"))
                .await;
            assert_eq!(res.status(), 200);
            let text = res.text().await.unwrap();
            assert_hidden("backup item", &text, &secrets);
            let v: Value = serde_json::from_str(&text).unwrap();
            if id == &s.wifi_id {
                assert_eq!(v["preSharedKey"], MASK);
            }
            if id == &s.restrictions_id {
                assert_eq!(v["passwordMinimumLength"], s.min_length);
            }
        }
    }

    // The portal changes the key and the length: both are changes, only the key is masked.
    let new_psk = "Changed-In-The-Portal-7731";
    let longer = json!(s.min_length.as_i64().unwrap() + 3);
    assert!(sim().patch_object(
        &tenant,
        "deviceConfigurations",
        &s.wifi_id,
        json!({"preSharedKey": new_psk})
    ));
    assert!(sim().patch_object(
        &tenant,
        "deviceConfigurations",
        &s.restrictions_id,
        json!({"passwordMinimumLength": longer})
    ));
    secrets.push(new_psk);
    let second = run(&app, &format!("{env}/backups"), families).await.run.id;
    for who in [OWNER, READONLY] {
        let res = app
            .get_as(who, &format!("{env}/backups/{first}/diff?with={second}"))
            .await;
        assert_eq!(res.status(), 200);
        let text = res.text().await.unwrap();
        assert_hidden("backup diff", &text, &secrets);
        let d: api::BackupDiff = serde_json::from_str(&text).unwrap();
        let fields = |id: &str| d.changed.iter().find(|c| c.item.id == id).map(|c| c.fields.clone());
        let wifi = fields(&s.wifi_id).expect("a changed key is a changed item");
        assert_eq!(wifi.len(), 1, "{wifi:?}");
        assert_eq!(
            (
                wifi[0].path.as_str(),
                wifi[0].before.clone(),
                wifi[0].after.clone(),
                wifi[0].secret
            ),
            ("/preSharedKey", Some(json!(MASK)), Some(json!(MASK)), true)
        );
        let r = fields(&s.restrictions_id).expect("a changed length is a changed item");
        assert_eq!(
            (r[0].path.as_str(), r[0].before.clone(), r[0].after.clone(), r[0].secret),
            (
                "/passwordMinimumLength",
                Some(s.min_length.clone()),
                Some(longer.clone()),
                false
            )
        );
        assert!(
            d.changed.iter().all(|c| c.item.id != s.policy_id),
            "an unchanged secret is no change"
        );
    }

    // Restore the first backup: the preview shows the key as a masked change and the length as it is.
    let items = [
        format!("deviceConfigurations/{}", s.wifi_id),
        format!("deviceConfigurations/{}", s.restrictions_id),
        format!("configurationPolicies/{}", s.policy_id),
    ];
    let res = app
        .post_as(
            OWNER,
            &format!("{env}/restores"),
            json!({"backup_set_id": first, "items": items}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let r: api::Restore = res.json().await.unwrap();
    let res = app
        .post_as(OWNER, &format!("{env}/restores/{}/previews", r.id), json!({}))
        .await;
    assert_eq!(res.status(), 201);
    let text = res.text().await.unwrap();
    assert_hidden("restore preview", &text, &secrets);
    let p: api::RestorePreview = serde_json::from_str(&text).unwrap();
    let item = |id: &str| p.items.iter().find(|i| i.source_id == id).unwrap().clone();
    let wifi = item(&s.wifi_id);
    assert_eq!(wifi.action, "update", "{wifi:?}");
    let key = wifi
        .changes
        .iter()
        .find(|c| c.path == "/preSharedKey")
        .expect("the key is shown as changed");
    assert_eq!(
        (key.before.clone(), key.after.clone(), key.secret),
        (Some(json!(MASK)), Some(json!(MASK)), true)
    );
    let restrictions = item(&s.restrictions_id);
    let len = restrictions
        .changes
        .iter()
        .find(|c| c.path == "/passwordMinimumLength")
        .expect("the length is shown");
    assert_eq!(
        (len.before.clone(), len.after.clone(), len.secret),
        (Some(longer), Some(s.min_length.clone()), false)
    );
    assert_eq!(
        item(&s.policy_id).action,
        "unchanged",
        "the same secret token is no change"
    );
    // A previewer who cannot execute reads the same masked preview.
    let seen: api::Restore = get_as(&app, OPERATOR, &format!("{env}/restores/{}", r.id)).await;
    assert_hidden("stored preview", &serde_json::to_string(&seen).unwrap(), &secrets);
    assert!(seen.preview.is_some());

    let res = app
        .post_as(
            OWNER,
            &format!("{env}/restores/{}/confirm", r.id),
            json!({"preview_id": p.id, "fingerprint": p.fingerprint, "confirm": "env-redact"}),
        )
        .await;
    assert_eq!(res.status(), 202, "{}", res.text().await.unwrap_or_default());
    let run: api::OperationRun = res.json().await.unwrap();
    let v = eventually("the restore to complete", app.run_deadline(), || async {
        let v: api::OperationView = app
            .get_as(OWNER, &paths::operation(DEMO_WS, &run.id))
            .await
            .json()
            .await
            .ok()?;
        (v.run.state == "completed").then_some(v)
    })
    .await;
    assert_eq!(v.run.outcome.map(|o| o.as_str()), Some("succeeded"), "{:?}", v.items);
    // The restore wrote the real key (the one captured), not the mask.
    assert_eq!(
        sim_prop(&tenant, "deviceConfigurations", &s.wifi_id, "preSharedKey"),
        json!(s.psk)
    );
    assert_eq!(
        sim_prop(
            &tenant,
            "deviceConfigurations",
            &s.restrictions_id,
            "passwordMinimumLength"
        ),
        s.min_length
    );
    let mut tokens = Vec::new();
    let policy = sim().objects(&tenant, "configurationPolicies");
    secret_setting_values(
        policy.iter().find(|o| o["id"] == s.policy_id.as_str()).unwrap(),
        &mut tokens,
    );
    assert_eq!(tokens, s.tokens, "the secret setting value is intact");
    // The run's items and the audit trail hold no secret either.
    assert_hidden("run", &serde_json::to_string(&v).unwrap(), &secrets);
    let audit = app
        .get_as(OWNER, &format!("{WS}/audit-events?limit=200"))
        .await
        .text()
        .await
        .unwrap();
    assert_hidden("audit", &audit, &secrets);
    app.stop().await;
}

fn sim_prop(tenant: &str, family: &str, id: &str, prop: &str) -> Value {
    sim()
        .objects(tenant, family)
        .iter()
        .find(|o| o["id"] == id)
        .map(|o| o[prop].clone())
        .unwrap_or(Value::Null)
}

atlas_tests::on_both_backends!(secrets_are_masked_in_every_view_and_a_changed_one_is_restored);
