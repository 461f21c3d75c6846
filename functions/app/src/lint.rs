//! The offline policy lint (spec 021) over an environment's current inventory: the objects as
//! stored by the last sync, no Graph call. Groups are not in the inventory, so the group rules
//! report themselves not evaluated; workspace settings and findings of source `lint` are not
//! wired yet (issue 17).

use atlas_api_types as api;
use atlas_domain::InventoryStatus;
use atlas_domain::lint::{self, Directory, LintInput, LintObject, LintSettings};

use crate::error::ServiceResult;
use crate::records::inventory::{self as irec, InventoryItem};
use crate::records::{self};
use crate::scope::EnvScope;
use crate::state::AppState;

pub fn rules() -> api::LintRuleList {
    api::LintRuleList {
        items: lint::RULES
            .iter()
            .map(|r| api::LintRule {
                id: r.id.into(),
                title: r.title.into(),
                severity: r.severity,
                rationale: r.rationale.into(),
                fix_hint: r.fix_hint.into(),
                families: r.families.iter().map(|f| (*f).to_owned()).collect(),
            })
            .collect(),
    }
}

pub async fn environment(state: &AppState, scope: &EnvScope) -> ServiceResult<api::LintReport> {
    let env = scope.records(&state.table);
    let items: Vec<InventoryItem> = records::query_all(&state.table, env.query(irec::items_prefix(None))).await?;
    let objects: Vec<LintObject> = items
        .into_iter()
        .filter(|i| i.status == InventoryStatus::Active)
        .map(|i| LintObject {
            family: i.family,
            id: i.item_id,
            payload: i.payload,
        })
        .collect();
    let now = state.clock.now_millis();
    let input = LintInput {
        objects,
        directory: Directory::default(),
        now_ms: now,
    };
    let report = lint::run(&input, &LintSettings::default());
    Ok(api::LintReport {
        environment_id: scope.environment_id().to_string(),
        objects: input.objects.len() as u64,
        evaluated_ms: now,
        hits: report
            .hits
            .iter()
            .map(|h| api::LintHit {
                fingerprint: h.fingerprint(),
                rule_id: h.rule_id.clone(),
                severity: h.severity,
                family: h.family.clone(),
                object_id: h.object_id.clone(),
                object_name: h.object_name.clone(),
                property: h.property.clone(),
                message: h.message.clone(),
                related: h.related.clone(),
            })
            .collect(),
        not_evaluated: report
            .not_evaluated
            .into_iter()
            .map(|(rule_id, reason)| api::LintNotEvaluated { rule_id, reason })
            .collect(),
        rules_run: report.rules_run,
    })
}
