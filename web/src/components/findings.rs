//! What the findings pages share: a finding's status in words, desired vs current side by
//! side, and bulk triage (one request for many findings) with its per-item outcome in words.

use atlas_api_types::{FindingStatus, FindingsTriage, TriageResult};
use yew::prelude::*;

use crate::api::{self, ApiError, paths};

/// The statuses triage may move a finding to; the last two need a reason.
pub const TRIAGE_STATUSES: [FindingStatus; 4] = [
    FindingStatus::Acknowledged,
    FindingStatus::InProgress,
    FindingStatus::Resolved,
    FindingStatus::FalsePositive,
];

pub fn status_label(s: FindingStatus) -> &'static str {
    match s {
        FindingStatus::New => "New",
        FindingStatus::Acknowledged => "Acknowledged",
        FindingStatus::InProgress => "In progress",
        FindingStatus::Resolved => "Resolved",
        FindingStatus::RiskAccepted => "Risk accepted",
        FindingStatus::FalsePositive => "False positive",
        FindingStatus::Reopened => "Reopened",
    }
}

/// Whether moving to `to` needs a reason.
pub fn needs_reason(to: FindingStatus) -> bool {
    matches!(to, FindingStatus::Resolved | FindingStatus::FalsePositive)
}

/// The canonical status ("Needs attention"), the finding's own state in words on hover ("In
/// progress") and its code in `data-state`.
pub fn status_tag(s: FindingStatus) -> Html {
    crate::components::status_badge::state_badge(s.canonical(), s.as_str(), status_label(s), "finding-status")
}

fn pretty(v: &Option<serde_json::Value>, absent: &str) -> Html {
    match v {
        Some(v) => {
            html! { <pre class="json" tabindex="0">{ serde_json::to_string_pretty(v).unwrap_or_default() }</pre> }
        }
        None => html! { <p class="muted">{ absent.to_owned() }</p> },
    }
}

/// Desired (baseline) and current (environment) values in two columns, each pretty-printed.
pub fn side_by_side(desired: &Option<serde_json::Value>, current: &Option<serde_json::Value>) -> Html {
    html! {
        <div class="table-wrap"><table class="table side-by-side" data-testid="side-by-side">
            <thead><tr>{ crate::components::markup::th("Desired (baseline)") }{ crate::components::markup::th("Current (environment)") }</tr></thead>
            <tbody><tr>
                <td class="desired">{ pretty(desired, "Not in the baseline") }</td>
                <td class="current">{ pretty(current, "Not in the environment") }</td>
            </tr></tbody>
        </table></div>
    }
}

/// Sends one triage action for `ids`.
pub async fn triage(ws: &str, body: &FindingsTriage) -> Result<TriageResult, ApiError> {
    api::post::<_, TriageResult>(&paths::findings_triage(ws), body).await
}

/// "2 updated, 1 refused: <id>: <why>" for a bulk triage's outcome.
pub fn summary(r: &TriageResult) -> String {
    let done = r.items.iter().filter(|i| i.http_status == 200).count();
    let refused: Vec<String> = r
        .items
        .iter()
        .filter(|i| i.http_status != 200)
        .map(|i| {
            let why = i.error.clone().unwrap_or_else(|| match i.http_status {
                404 => "not found".into(),
                409 => "not allowed from its status or changed meanwhile".into(),
                s => format!("status {s}"),
            });
            let what = i.finding.as_ref().map_or_else(|| i.id.clone(), |f| f.title.clone());
            format!("{what}: {why}")
        })
        .collect();
    if refused.is_empty() {
        format!("{done} updated")
    } else {
        format!("{done} updated, {} refused: {}", refused.len(), refused.join("; "))
    }
}
