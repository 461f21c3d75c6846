//! Evidence packs (spec 018): the demo workspace's pack verifies offline with the real
//! `sha256sum` and `openssl` binaries, a changed byte in any file fails verification, and a pack
//! of an environment the actor is not entitled to is 404 and writes nothing. In AWS (ADR 0032):
//! a pack in the protocol server's S3, signed by its KMS key, downloaded through a presigned GET,
//! verifies the same way. Retention: the settings are validated, and a pack past it is swept.

use std::path::Path;
use std::process::Command;

use atlas_api_types as api;
use atlas_api_types::paths;
use atlas_tests::app::{DEMO_WS, MANAGER, Mode, OWNER, TestApp, spawn_app, spawn_with};
use serde_json::json;

const DAY_MS: i64 = 86_400_000;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Builds a pack through the API; returns it once ready.
async fn build(app: &TestApp, env: Option<&str>) -> api::EvidencePack {
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
    assert_eq!(pack.state, "ready");
    pack
}

/// Builds a pack through the API and downloads it through a link; returns the ZIP's bytes.
pub async fn build_and_download(app: &TestApp, env: Option<&str>) -> (api::EvidencePack, Vec<u8>) {
    let pack = build(app, env).await;
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

/// The README's offline checks, run with the real binaries: which of them failed. The signature
/// check is the one for the algorithm the manifest names (Ed25519 or ECDSA P-256).
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
    let ecdsa = std::fs::read_to_string(dir.join("manifest.json"))
        .unwrap_or_default()
        .contains("\"ECDSA-P256-SHA256\"");
    let args: &[&str] = if ecdsa {
        &[
            "dgst",
            "-sha256",
            "-verify",
            "public_key.pem",
            "-signature",
            "manifest.sig",
            "manifest.json",
        ]
    } else {
        &[
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
        ]
    };
    let sig = Command::new("openssl")
        .args(args)
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

/// In AWS: the pack lands in the protocol server's bucket (SSE-KMS and Object Lock headers
/// accepted), signed by a KMS key (P-256: moto has no Ed25519 keys); the link is a presigned GET
/// valid 60 s that downloads a pack verifying offline; Object Lock refuses an early delete; a
/// member not entitled to the pack gets 404 for it and its link; a forged token is 404.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_a_pack_in_s3_signed_by_kms_verifies_through_a_presigned_get() {
    let dir = atlas_tests::TempDir::new();
    let mut c = atlas_tests::app::config(Mode::Aws, &dir);
    let endpoint = match &c.storage {
        atlas_app::config::Storage::Aws { endpoint, .. } => endpoint.clone().unwrap(),
        #[allow(unreachable_patterns)]
        _ => unreachable!(),
    };
    let bucket = atlas_tests::moto::bucket_name();
    c.evidence.bucket = Some(bucket.clone());
    c.evidence.signing_key_id = Some(atlas_tests::moto::kms_signing_key(&endpoint, "ECC_NIST_P256").await);
    c.evidence.signing_algorithm = Some("ECDSA_SHA_256".into());
    let app = spawn_with(c, dir).await;

    let started = std::time::Instant::now();
    let pack = build(&app, None).await;
    let build_secs = started.elapsed().as_secs_f64();
    let retain_until = pack.retain_until_ms.expect("a retention date");
    assert!(
        (retain_until - pack.created_ms - 365 * DAY_MS).abs() < 1_000,
        "{pack:?}"
    );

    // The object and the headers it was put with.
    let atlas_app::evidence::PackStore::S3(s3) = app.app().state.evidence.packs() else {
        panic!("the stack stores packs in S3");
    };
    let key = s3.key(DEMO_WS, &pack.id).unwrap();
    assert_eq!(key, format!("evidence/{DEMO_WS}/{}.zip", pack.id));
    let head = s3.head(&key).await.expect("the object exists");
    assert_eq!(head["x-amz-server-side-encryption"], "aws:kms", "{head:?}");
    assert_eq!(head["x-amz-object-lock-mode"], "COMPLIANCE", "{head:?}");
    let until = head["x-amz-object-lock-retain-until-date"].to_str().unwrap().to_owned();
    let want = time::OffsetDateTime::from_unix_timestamp(retain_until / 1000).unwrap();
    assert!(
        until.starts_with(&format!(
            "{:04}-{:02}-{:02}",
            want.year(),
            u8::from(want.month()),
            want.day()
        )),
        "{until}"
    );
    // Object Lock holds it until then.
    let version = head
        .get("x-amz-version-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    assert!(
        s3.delete(&key, version.as_deref()).await.is_err(),
        "an early delete of the locked version is refused"
    );
    assert!(s3.head(&key).await.is_ok());

    // The link: a presigned GET of the object, valid 60 s, no bearer token.
    let res = app
        .post_as(OWNER, &paths::evidence_link(DEMO_WS, &pack.id), json!({}))
        .await;
    assert_eq!(res.status(), 201);
    let link: api::EvidenceLink = res.json().await.unwrap();
    assert!(
        link.url.starts_with(&format!("{endpoint}/{bucket}/{key}?")),
        "{}",
        link.url
    );
    assert!(link.url.contains("&X-Amz-Expires=60&"), "{}", link.url);
    assert!(link.url.contains("X-Amz-Signature="), "{}", link.url);
    assert!((link.expires_ms - now_ms() - 60_000).abs() < 5_000);
    let started = std::time::Instant::now();
    let res = app.client.get(&link.url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-disposition"],
        format!("attachment; filename=\"evidence-{}.zip\"", pack.id).as_str()
    );
    let zip = res.bytes().await.unwrap().to_vec();
    let get_ms = started.elapsed().as_millis();
    use sha2::Digest;
    let sha: String = sha2::Sha256::digest(&zip).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(Some(sha), pack.sha256);
    // One more put of the same bytes, timed (its own key, locked a day).
    let started = std::time::Instant::now();
    s3.put(&s3.key(DEMO_WS, "timing").unwrap(), zip.clone(), now_ms() + DAY_MS)
        .await
        .expect("a second put");
    let put_ms = started.elapsed().as_millis();
    eprintln!(
        "evidence in S3: pack {} bytes, {} files; build through the API {build_secs:.2} s; PutObject {put_ms} ms; presigned GET {get_ms} ms",
        zip.len(),
        pack.files.unwrap()
    );

    let tmp = atlas_tests::TempDir::new();
    let dir = unzip(&zip, &tmp.0);
    assert_eq!(verify_offline(&dir), Vec::<&str>::new(), "the pack from S3 verifies");
    let readme = std::fs::read_to_string(dir.join("README.txt")).unwrap();
    assert!(readme.contains("openssl dgst -sha256 -verify public_key.pem -signature manifest.sig manifest.json"));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["signature"]["algorithm"], "ECDSA-P256-SHA256");
    // Under KMS's 4 KiB limit for a RAW message (Ed25519 has no DIGEST fallback).
    let manifest_len = std::fs::metadata(dir.join("manifest.json")).unwrap().len();
    assert!(manifest_len <= 4096, "{manifest_len}");
    eprintln!("evidence in S3: manifest.json {manifest_len} bytes");
    assert!(manifest["signature"]["key_id"].as_str().unwrap().len() > 8);
    // A changed manifest byte fails the signature.
    let m = dir.join("manifest.json");
    let original = std::fs::read(&m).unwrap();
    let mut changed = original.clone();
    let at = changed.len() / 2;
    changed[at] ^= 1;
    std::fs::write(&m, changed).unwrap();
    assert!(verify_offline(&dir).contains(&"openssl"));
    std::fs::write(&m, original).unwrap();

    // Not entitled to the workspace pack: 404, and no link.
    let res = app
        .patch_as(
            OWNER,
            &paths::member(DEMO_WS, "u-manager"),
            json!({"environments": ["env-contoso"]}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        app.get_as(MANAGER, &paths::evidence_pack(DEMO_WS, &pack.id))
            .await
            .status(),
        404
    );
    let before = app.snapshot().await;
    let res = app
        .post_as(MANAGER, &paths::evidence_link(DEMO_WS, &pack.id), json!({}))
        .await;
    assert_eq!(res.status(), 404);
    assert_eq!(app.snapshot().await.len(), before.len(), "nothing was written");
    // A forged token on the token route: 404.
    let forged = format!("{}{}?token=x.y", app.url, paths::evidence_download());
    assert_eq!(app.client.get(&forged).send().await.unwrap().status(), 404);
    app.stop().await;
}

/// A put that fails (S3 unreachable) fails the unit for a retry and leaves the pack `building`
/// with no object: never listed ready without its ZIP. The retry stores it and the pack is ready.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_a_failed_put_is_retried_and_never_lists_a_ready_pack() {
    let dir = atlas_tests::TempDir::new();
    let mut c = atlas_tests::app::config(Mode::Aws, &dir);
    c.run_workers = false;
    c.evidence.bucket = Some(atlas_tests::moto::bucket_name());
    let app = spawn_with(c.clone(), dir).await;
    let now = now_ms();
    let res = app
        .post_as(
            OWNER,
            &paths::evidence(DEMO_WS),
            json!({"from": now - DAY_MS, "to": now}),
        )
        .await;
    assert_eq!(res.status(), 202);
    let run: api::OperationRun = res.json().await.unwrap();

    // The same stack, but its S3 endpoint refuses connections.
    let mut unreachable = c.clone();
    unreachable.evidence.s3_endpoint = Some(format!("http://127.0.0.1:{}", atlas_tests::moto::free_port()));
    let tmp = atlas_tests::TempDir::new();
    let mut down = app.app().state.clone();
    down.evidence = std::sync::Arc::new(
        atlas_app::state::evidence_store(&unreachable, tmp.0.join("evidence"))
            .await
            .unwrap(),
    );
    let state = app.app().state.clone();
    let q = state.queues.get(atlas_app::evidence::QUEUE).unwrap().clone();
    let step = *atlas_app::steps::steps()
        .iter()
        .find(|s| s.queue == atlas_app::evidence::QUEUE)
        .unwrap();
    let got = q
        .receive(10, std::time::Duration::from_secs(30), std::time::Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    let batch = vec![(got[0].id.clone(), got[0].body.clone())];
    let failed = atlas_app::steps::handle_batch(&down, &step, batch.clone()).await;
    assert_eq!(failed.len(), 1, "the unit fails for a retry");
    let pack: api::EvidencePack = app
        .get_as(OWNER, &paths::evidence_pack(DEMO_WS, &run.id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(pack.state, "building", "{pack:?}");
    assert_eq!(pack.sha256, None);
    let atlas_app::evidence::PackStore::S3(s3) = state.evidence.packs() else {
        panic!("S3");
    };
    let key = s3.key(DEMO_WS, &run.id).unwrap();
    assert!(matches!(
        s3.head(&key).await,
        Err(atlas_app::error::ServiceError::NotFound)
    ));

    // The retry reaches S3.
    assert!(atlas_app::steps::handle_batch(&state, &step, batch).await.is_empty());
    q.delete(&got[0].receipt).await.unwrap();
    let pack: api::EvidencePack = app
        .get_as(OWNER, &paths::evidence_pack(DEMO_WS, &run.id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(pack.state, "ready", "{pack:?}");
    assert!(s3.head(&key).await.is_ok());
    app.stop().await;
}

/// Settings: owners only, validated (a problem+json field error, nothing changes), audited; a
/// pack records its retention date, and once past it the sweep deletes the ZIP and marks the
/// pack expired, which can no longer be downloaded (its link: 409; an earlier link: 404).
async fn settings_are_validated_and_a_pack_past_retention_is_swept(mode: Mode) {
    let app = spawn_app(mode).await;
    let path = paths::evidence_settings(DEMO_WS);
    let s: api::EvidenceSettings = app.get_as(OWNER, &path).await.json().await.unwrap();
    assert_eq!(s, api::EvidenceSettings::default());
    assert_eq!(s.retention_days, 365);
    assert!(!s.include_emails);

    let res = app
        .req(reqwest::Method::PUT, &path, Some(MANAGER))
        .json(&json!({"retention_days": 30, "include_emails": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "owners set them");
    let before = app.snapshot().await;
    for bad in [29, 3651, 0] {
        let res = app
            .req(reqwest::Method::PUT, &path, Some(OWNER))
            .json(&json!({"retention_days": bad, "include_emails": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{bad}");
        assert_eq!(res.headers()["content-type"], "application/problem+json");
        let p: serde_json::Value = res.json().await.unwrap();
        assert!(p.to_string().contains("retention_days"), "{p}");
    }
    let after = app.snapshot().await;
    assert_eq!(after.len(), before.len(), "nothing was written");
    let res = app
        .req(reqwest::Method::PUT, &path, Some(OWNER))
        .json(&json!({"retention_days": 30, "include_emails": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let s: api::EvidenceSettings = app.get_as(OWNER, &path).await.json().await.unwrap();
    assert_eq!((s.retention_days, s.include_emails), (30, true));
    let audit: api::AuditPage = app
        .get_as(OWNER, &paths::audit_events(DEMO_WS))
        .await
        .json()
        .await
        .unwrap();
    let ev = audit
        .items
        .iter()
        .find(|e| e.action == "evidence_settings.update")
        .expect("the change is audited");
    assert_eq!(ev.metadata["old"]["retention_days"], 365);
    assert_eq!(ev.metadata["new"]["retention_days"], 30);

    let (pack, zip) = build_and_download(&app, None).await;
    let until = pack.retain_until_ms.unwrap();
    assert!((until - pack.created_ms - 30 * DAY_MS).abs() < 1_000, "{pack:?}");
    let tmp = atlas_tests::TempDir::new();
    let dir = unzip(&zip, &tmp.0);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["emails"], "included");
    let file = app
        .app()
        .state
        .evidence
        .path(&atlas_domain::WorkspaceId::parse(DEMO_WS).unwrap(), &pack.id);
    assert!(file.exists());
    // A link taken before the sweep.
    let link: api::EvidenceLink = app
        .post_as(OWNER, &paths::evidence_link(DEMO_WS, &pack.id), json!({}))
        .await
        .json()
        .await
        .unwrap();

    // The day before: nothing. The day after: swept, once.
    let clock = atlas_store::ManualClock::new(time::OffsetDateTime::now_utc() + time::Duration::days(29));
    let mut later = app.app().state.clone();
    later.clock = std::sync::Arc::new(clock.clone());
    assert_eq!(atlas_app::evidence::sweep(&later).await.unwrap().expired, 0);
    clock.advance(std::time::Duration::from_secs(2 * 86_400));
    assert_eq!(atlas_app::evidence::sweep(&later).await.unwrap().expired, 1);
    assert_eq!(atlas_app::evidence::sweep(&later).await.unwrap(), Default::default());
    assert!(!file.exists(), "the ZIP is deleted");
    let p: api::EvidencePack = app
        .get_as(OWNER, &paths::evidence_pack(DEMO_WS, &pack.id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(p.state, "expired");
    assert_eq!(p.retain_until_ms, Some(until));
    let res = app
        .post_as(OWNER, &paths::evidence_link(DEMO_WS, &pack.id), json!({}))
        .await;
    assert_eq!(res.status(), 409);
    assert_eq!(app.client.get(&link.url).send().await.unwrap().status(), 404);
    app.stop().await;
}

atlas_tests::on_both_backends!(
    settings_are_validated_and_a_pack_past_retention_is_swept,
    the_demo_pack_verifies_offline_and_any_changed_byte_fails,
    a_pack_of_an_environment_not_entitled_is_404_and_writes_nothing,
);
