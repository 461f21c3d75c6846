//! The one badge for the canonical status vocabulary and severities. The text label carries the
//! meaning; colour and icon only reinforce it, so it reads the same to screen readers.

use atlas_domain::{Severity, Status};
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
pub fn canonical(value: &str) -> Status {
    Status::parse(value).unwrap_or(match value {
        "complete" | "succeeded" | "success" | "granted" | "consented" | "active" | "created" | "updated"
        | "unchanged" => Status::Ready,
        "partial" | "partially_succeeded" | "pending" | "consent_pending" => Status::NeedsAttention,
        "failed" | "error" | "consent_failed" | "declined" => Status::Failed,
        "denied" | "disabled" | "revoked" | "cancelled" => Status::Blocked,
        "queued" => Status::Running,
        "deleted" | "accepted" => Status::Historical,
        _ => Status::Unknown,
    })
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

/// The ghost marker: gone from Intune, kept here.
pub fn deleted_badge() -> Html {
    html! {
        <span class="badge badge--ghost" title="Deleted in Intune; kept as a ghost">
            <span class="badge__icon" aria-hidden="true">{ "\u{1f47b}" }</span>{ "Deleted" }
        </span>
    }
}

/// An outcome or result as the API words it (`success`, `denied`, `succeeded`, `created`…).
/// Outcomes are not statuses: an audit event "succeeded", it is not "Ready". The word is the
/// API's, the colour follows the canonical status it maps to.
pub fn outcome_badge(outcome: &str) -> Html {
    let (class, icon) = status_look(canonical(outcome));
    let mut label = outcome.replace('_', " ");
    if let Some(first) = label.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    html! {
        <span class={classes!("badge", class)} data-outcome={outcome.to_owned()}>
            <span class="badge__icon" aria-hidden="true">{ icon }</span>{ label }
        </span>
    }
}
