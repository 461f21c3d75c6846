//! Detections as a drift pass would make them, and one detection pass over a family, for tests
//! and benches of findings, exceptions and the dashboard.

use atlas_app::findings::{Coverage, Detection, Observed, observe};
use atlas_app::state::AppState;
use atlas_domain::findings::{FindingSource, Severity};
use atlas_domain::{EnvironmentId, WorkspaceId};
use serde_json::{Value, json};

/// A changed property (`/passwordMinimumLength`: 14 wanted, `current` found) of `object` in
/// `family` of `env`, against baseline `b1`.
pub fn drift_detection(env: &str, family: &str, object: &str, severity: Severity, current: Value) -> Detection {
    Detection {
        environment_id: EnvironmentId::parse(env).expect("an environment id"),
        source: FindingSource::Drift,
        object_key: format!("b1/{family}/{object}"),
        property: "/passwordMinimumLength".into(),
        severity,
        title: format!("{object}: password length differs"),
        family: Some(family.into()),
        object_id: Some(object.into()),
        baseline_object_id: Some(object.into()),
        object_name: object.into(),
        kind: Some(atlas_domain::drift::DriftKind::Changed),
        desired: Some(json!(14)),
        current: Some(current),
        matched_by: None,
        baseline_id: Some("b1".into()),
        changed_by: None,
    }
}

/// What a drift pass over `family` of `env` covers (every baseline).
pub fn drift_coverage<'a>(env: &'a EnvironmentId, family: &'a str) -> Coverage<'a> {
    Coverage {
        environment_id: env,
        source: FindingSource::Drift,
        family: Some(family),
        baselines: None,
        objects: None,
    }
}

/// One detection pass over `family` of `env` in workspace `ws`, as `drift.detect` runs it.
pub async fn detect(state: &AppState, ws: &str, env: &str, family: &str, ds: Vec<Detection>) -> Observed {
    let env = EnvironmentId::parse(env).expect("an environment id");
    let cover = drift_coverage(&env, family);
    observe(state, &WorkspaceId::parse(ws).expect("a workspace id"), ds, &cover)
        .await
        .expect("the detection pass works")
}
