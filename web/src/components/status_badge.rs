//! The one badge for the canonical status vocabulary and severities. The text label carries the
//! meaning; colour and icon only reinforce it, so it reads the same to screen readers.

use atlas_api_types::OperationRun;
use atlas_domain::{RunOutcome, RunState, Severity, Status};
use yew::prelude::*;

fn status_look(status: Status) -> (&'static str, &'static str) {
    match status {
        Status::Ready => ("badge--ok", "\u{2713}"),
        Status::NeedsAttention => ("badge--warn", "!"),
        Status::Blocked => ("badge--bad", "\u{2298}"),
        Status::Running => ("badge--info", "\u{21bb}"),
        Status::Failed => ("badge--bad", "\u{2715}"),
        Status::Expired => ("badge--warn", "\u{231b}"),
        Status::NotConfigured => ("badge--muted", "\u{2013}"),
        Status::Unknown => ("badge--muted", "?"),
        Status::Historical => ("badge--muted", "\u{2022}"),
        Status::Superseded => ("badge--muted", "\u{2192}"),
    }
}

/// Maps internal states the API also sends (backup sets, outcomes, ghosts) onto the vocabulary.
/// A run outcome maps as the API maps it ([`RunOutcome::status`]), so a run's badge and its
/// outcome never disagree.
pub fn canonical(value: &str) -> Status {
    if let Some(status) = Status::parse(value) {
        return status;
    }
    if let Some(outcome) = RunOutcome::parse(value) {
        return outcome.status();
    }
    match value {
        "complete" | "succeeded" | "success" | "granted" | "consented" | "active" | "created" | "updated"
        | "unchanged" => Status::Ready,
        "partial" | "partially_succeeded" | "pending" | "consent_pending" => Status::NeedsAttention,
        "failed" | "error" | "consent_failed" | "declined" => Status::Failed,
        "denied" | "disabled" | "revoked" | "cancelled" => Status::Blocked,
        "queued" => Status::Running,
        "deleted" | "accepted" => Status::Historical,
        _ => Status::Unknown,
    }
}

/// The canonical status of a run: once completed, the one its outcome maps to (issue 19 item 5:
/// the badge and the outcome say the same thing wherever the run is shown).
pub fn run_status(run: &OperationRun) -> Status {
    match (run.state, run.outcome) {
        (RunState::Completed, Some(outcome)) => outcome.status(),
        _ => run.status,
    }
}

/// An internal code in words, for the few places that show one: `consent_pending` becomes
/// "Consent pending". Raw codes stay in `data-` attributes, never in the text.
pub fn words(code: &str) -> String {
    let mut label = code.replace(['_', '.'], " ");
    if let Some(first) = label.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    label
}

/// The badge of a canonical code (`ready`, `needs_attention`, …) or an internal state mapped by
/// [`canonical`]. A plain function rather than a component: it has no state, and each component
/// costs the bundle its own copy of Yew's lifecycle code.
pub fn status_badge(status: &str) -> Html {
    let status = canonical(status);
    let (class, icon) = status_look(status);
    html! {
        <span class={classes!("badge", class)} data-status={status.as_str()}>
            <span class="badge__icon" aria-hidden="true">{ icon }</span>
            { status.label() }
        </span>
    }
}

pub fn severity_badge(severity: &str) -> Html {
    let severity = Severity::parse(severity).unwrap_or(Severity::Info);
    let (class, label) = match severity {
        Severity::Critical => ("badge--bad", "Critical"),
        Severity::High => ("badge--bad", "High"),
        Severity::Medium => ("badge--warn", "Medium"),
        Severity::Low => ("badge--info", "Low"),
        Severity::Info => ("badge--muted", "Info"),
    };
    html! { <span class={classes!("badge", class)} data-severity={severity.as_str()}>{ label }</span> }
}

/// The canonical badge of an object whose own state is finer (a finding acknowledged, a delivery
/// suppressed, an invitation pending): the canonical word shows, the state in words on hover
/// (`detail`) and its code in `data-state` (issue 18 item 3).
pub fn state_badge(status: Status, state: &str, detail: &str, class: &'static str) -> Html {
    let (look, icon) = status_look(status);
    html! {
        <span class={classes!("badge", look, class)} data-status={status.as_str()} data-state={state.to_owned()}
            title={detail.to_owned()} aria-label={format!("{}: {detail}", status.label())}>
            <span class="badge__icon" aria-hidden="true">{ icon }</span>{ status.label() }
        </span>
    }
}

/// The ghost marker: gone from Intune, kept here (canonically historical).
pub fn deleted_badge() -> Html {
    html! {
        <span class="badge badge--ghost" data-status="historical" data-state="deleted" title="Deleted in Intune; kept as a ghost">
            <span class="badge__icon" aria-hidden="true">{ "\u{1f47b}" }</span>{ "Historical" }
        </span>
    }
}

/// An outcome or result as the API words it (`success`, `denied`, `succeeded`, `created`…).
/// Outcomes are not statuses: an audit event "succeeded", it is not "Ready". The word is the
/// API's, the colour follows the canonical status it maps to.
pub fn outcome_badge(outcome: &str) -> Html {
    let (class, icon) = status_look(canonical(outcome));
    let label = words(outcome);
    html! {
        <span class={classes!("badge", class)} data-outcome={outcome.to_owned()}>
            <span class="badge__icon" aria-hidden="true">{ icon }</span>{ label }
        </span>
    }
}

#[cfg(test)]
mod tests {
    use atlas_domain::{RunOutcome, Status};

    use super::{canonical, words};

    #[test]
    fn every_run_outcome_maps_as_the_api_maps_it() {
        for o in RunOutcome::ALL {
            assert_eq!(canonical(o.as_str()), o.status(), "{o}");
        }
        assert_eq!(canonical("partial"), Status::NeedsAttention);
        assert_eq!(canonical("complete"), Status::Ready);
    }

    #[test]
    fn codes_read_as_words() {
        assert_eq!(words("consent_pending"), "Consent pending");
        assert_eq!(words("partially_succeeded"), "Partially succeeded");
        assert_eq!(words("ready"), "Ready");
        assert_eq!(words(""), "");
    }
}
