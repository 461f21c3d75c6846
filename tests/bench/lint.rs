//! `atlas-bench lint --policies N`
//!
//! The offline policy lint (spec 021) over a simulated tenant: N objects spread over every family
//! `atlas-graph` reads, in the shapes the simulator serves (assignments to its groups, filters,
//! scope tags, settings, scripts, compliance actions), taken from the simulator's state — the
//! way a backup set or the inventory holds them — with the tenant's groups as the directory.
//! Only `lint::run` is timed, with the default workspace settings plus a naming pattern and the
//! scope-tag requirement (so every rule runs). The Graph request count is read back from the
//! simulator after the lint: it must be 0.
//!
//! The last line is `lint policies=N seconds=S findings=F graph_requests=0`.

use std::collections::BTreeMap;
use std::time::Instant;

use atlas_domain::lint::{Directory, GroupInfo, LintInput, LintObject, LintSettings, run as lint};
use serde_json::Value;

use crate::backup::flag;

pub async fn run(args: &[String]) {
    let n: usize = flag(args, "--policies").and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let families: Vec<&str> = atlas_graph::families::FAMILIES.iter().map(|f| f.code).collect();
    let per = n.div_ceil(families.len());
    let (tenant, _) = atlas_tests::sim::new_tenant_with(Some(per));
    let sim = &atlas_tests::sim::shared().sim;
    let seed = Instant::now();
    let mut objects = Vec::new();
    for family in &families {
        for payload in sim.objects(&tenant, family) {
            let id = payload.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
            objects.push(LintObject {
                family: (*family).to_owned(),
                id,
                payload,
            });
        }
    }
    let groups: BTreeMap<String, GroupInfo> = sim
        .objects(&tenant, "groups")
        .into_iter()
        .filter_map(|g| {
            let id = g.get("id")?.as_str()?.to_owned();
            let name = g
                .get("displayName")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            Some((
                id,
                GroupInfo {
                    display_name: name,
                    member_count: None,
                },
            ))
        })
        .collect();
    eprintln!(
        "{} objects in {} families and {} groups taken from the simulator in {:.1} s",
        objects.len(),
        families.len(),
        groups.len(),
        seed.elapsed().as_secs_f64()
    );
    let input = LintInput {
        objects,
        directory: Directory {
            groups: Some(groups),
            ..Directory::default()
        },
        now_ms: atlas_app::exceptions::days_from_now(0),
    };
    let settings = LintSettings {
        naming_patterns: vec!["{WIN|MAC|IOS|AND} - *".into()],
        require_scope_tag: true,
        ..LintSettings::default()
    };
    assert!(settings.problems().is_empty(), "{:?}", settings.problems());
    sim.reset_stats(&tenant);
    let t = Instant::now();
    let report = lint(&input, &settings);
    let seconds = t.elapsed().as_secs_f64();
    let graph_requests = sim.stats(&tenant).graph_requests;
    let mut by_rule: BTreeMap<&str, usize> = BTreeMap::new();
    for h in &report.hits {
        *by_rule.entry(h.rule_id.as_str()).or_default() += 1;
    }
    eprintln!(
        "rules run {}, not evaluated {:?}; hits by rule {by_rule:?}",
        report.rules_run.len(),
        report.not_evaluated
    );
    println!(
        "lint policies={} seconds={seconds:.3} findings={} graph_requests={graph_requests}",
        input.objects.len(),
        report.hits.len()
    );
}
