//! Evidence packs (spec 018): the demo workspace's pack verifies offline with the real
//! `sha256sum` and `openssl` binaries, a changed byte in any file fails verification, and a pack
//! of an environment the actor is not entitled to is 404 and writes nothing.

use std::path::Path;
use std::process::Command;

use atlas_api_types as api;
use atlas_api_types::paths;
use atlas_tests::app::{DEMO_WS, MANAGER, Mode, OWNER, TestApp, spawn_app};
use serde_json::json;

const DAY_MS: i64 = 86_400_000;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Builds a pack through the API and downloads it through a link; returns the ZIP's bytes.
pub async fn build_and_download(app: &TestApp, env: Option<&str>) -> (api::EvidencePack, Vec<u8>) {
    let now = now_ms();
    let mut body = json!({"from": now - 90 * DAY_MS, "to": now + DAY_MS});
    if let Some(e) = env {
        body["environment_id"] = json!(e);
    }
    let view = app.run_to_completion(&paths::evidence(DEMO_WS), body).await;
    assert_eq!(
        view.run.outcome.map(|o| o.as_str().to_owned()).as_deref(),
        Some("succeeded"),
        "{:?}",
        view.run
    );
    let list: api::EvidencePackList = app.get_as(OWNER, &paths::evidence(DEMO_WS)).await.json().await.unwrap();
    let pack = list
        .items
        .into_iter()
        .find(|p| p.run_id == view.run.id)
        .expect("the pack is listed");
    assert_eq!(pack.status, "ready");
    let res = app
        .post_as(OWNER, &paths::evidence_link(DEMO_WS, &pack.id), json!({}))
        .await;
    assert_eq!(res.status(), 201);
    let link: api::EvidenceLink = res.json().await.unwrap();
    // The link needs no bearer token.
    let res = app.client.get(&link.url).send().await.unwrap();
    assert_eq!(res.status(), 200, "{}: {:?}", link.url, res.text().await);
    assert_eq!(res.headers()["content-type"], "application/zip");
    let zip = res.bytes().await.unwrap().to_vec();
    assert_eq!(zip.len() as u64, pack.size.unwrap());
    use sha2::Digest;
    let sha: String = sha2::Sha256::digest(&zip).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(Some(sha), pack.sha256.clone());
    // A forged token: 404.
    let forged = link.url.replace("token=", "token=x");
    assert_eq!(app.client.get(&forged).send().await.unwrap().status(), 404);
    let unsigned = format!("{}x", &link.url[..link.url.len() - 1]);
    if unsigned != link.url {
        assert_eq!(app.client.get(&unsigned).send().await.unwrap().status(), 404);
    }
    (pack, zip)
}

/// Unzips into `into`; returns the pack's directory.
fn unzip(zip: &[u8], into: &Path) -> std::path::PathBuf {
    let mut a = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    a.extract(into).unwrap();
    let dir = std::fs::read_dir(into).unwrap().next().unwrap().unwrap().path();
    assert!(dir.file_name().unwrap().to_str().unwrap().starts_with("evidence-"));
    dir
}

/// The README's offline checks, run with the real binaries: which of them failed.
fn verify_offline(dir: &Path) -> Vec<&'static str> {
    let mut failed = Vec::new();
    let sums = Command::new("sha256sum")
        .args(["-c", "SHA256SUMS"])
        .current_dir(dir)
        .output()
        .expect("sha256sum runs");
    if !sums.status.success() {
        failed.push("sha256sum");
    }
    let sig = Command::new("openssl")
        .args([
            "pkeyutl",
            "-verify",
            "-pubin",
            "-inkey",
            "public_key.pem",
            "-rawin",
            "-in",
            "manifest.json",
            "-sigfile",
            "manifest.sig",
        ])
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    if !sig.status.success() {
        failed.push("openssl");
    }
    let bound = Command::new("sh")
        .args(["-c", "grep -q \"$(sha256sum SHA256SUMS | cut -c1-64)\" manifest.json"])
        .current_dir(dir)
        .output()
        .expect("sh runs");
    if !bound.status.success() {
        failed.push("SHA256SUMS in manifest");
    }
    failed
}

async fn the_demo_pack_verifies_offline_and_any_changed_byte_fails(mode: Mode) {
    let app = spawn_app(mode).await;
    let (pack, zip) = build_and_download(&app, None).await;
    assert!(pack.files.unwrap() >= 12, "{pack:?}");
    let tmp = atlas_tests::TempDir::new();
    let dir = unzip(&zip, &tmp.0);
    assert_eq!(verify_offline(&dir), Vec::<&str>::new(), "the untouched pack verifies");

    let readme = std::fs::read_to_string(dir.join("README.txt")).unwrap();
    assert!(readme.contains("sha256sum -c SHA256SUMS"));
    assert!(readme.contains(
        "openssl pkeyutl -verify -pubin -inkey public_key.pem -rawin -in manifest.json -sigfile manifest.sig"
    ));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["workspace_id"], DEMO_WS);
    assert_eq!(manifest["emails"], "pseudonymized");
    let audit = std::fs::read_to_string(dir.join("audit.jsonl")).unwrap();
    assert!(audit.lines().count() >= 1);
    assert!(!audit.contains(OWNER), "member e-mails are pseudonymized by default");
    for line in audit.lines().filter(|l| l.contains("\"seq\"")) {
        let ev: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(ev["hash"].as_str().unwrap().len(), 64);
    }

    // One changed byte in any file: some check fails.
    let mut names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    names.sort();
    assert!(names.len() >= 12);
    for file in names {
        let original = std::fs::read(&file).unwrap();
        let mut changed = original.clone();
        let at = changed.len() / 2;
        changed[at] ^= 0x01;
        std::fs::write(&file, &changed).unwrap();
        let failed = verify_offline(&dir);
        assert!(!failed.is_empty(), "a changed byte in {file:?} went unnoticed");
        std::fs::write(&file, &original).unwrap();
    }
    assert!(verify_offline(&dir).is_empty());
    app.stop().await;
}

async fn a_pack_of_an_environment_not_entitled_is_404_and_writes_nothing(mode: Mode) {
    let app = spawn_app(mode).await;
    let res = app
        .patch_as(
            OWNER,
            &paths::member(DEMO_WS, "u-manager"),
            json!({"environments": ["env-contoso"]}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let now = now_ms();
    let before = app.snapshot().await;
    let res = app
        .post_as(
            MANAGER,
            &paths::evidence(DEMO_WS),
            json!({"environment_id": "env-fabrikam", "from": now - DAY_MS, "to": now}),
        )
        .await;
    assert_eq!(res.status(), 404);
    // A workspace-wide pack needs every environment.
    let res = app
        .post_as(
            MANAGER,
            &paths::evidence(DEMO_WS),
            json!({"from": now - DAY_MS, "to": now}),
        )
        .await;
    assert_eq!(res.status(), 403);
    // A bad period: field errors.
    let res = app
        .post_as(
            MANAGER,
            &paths::evidence(DEMO_WS),
            json!({"environment_id": "env-contoso", "from": now, "to": now - DAY_MS}),
        )
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let p: api::Problem = res.json().await.unwrap();
    assert!(format!("{p:?}").contains("to"), "{p:?}");
    assert_eq!(app.snapshot().await.len(), before.len(), "nothing was written");
    // Their own environment's packs only.
    let list: api::EvidencePackList = app
        .get_as(MANAGER, &paths::evidence(DEMO_WS))
        .await
        .json()
        .await
        .unwrap();
    assert!(list.items.is_empty());
    app.stop().await;
}

atlas_tests::on_both_backends!(
    the_demo_pack_verifies_offline_and_any_changed_byte_fails,
    a_pack_of_an_environment_not_entitled_is_404_and_writes_nothing,
);
