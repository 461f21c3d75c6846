//! A service status as a coloured badge. The text label carries the meaning; colour and the
//! icon only reinforce it, so the badge reads the same to screen readers and colour-blind users.

use yew::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    Degraded,
    Unknown,
}

impl Status {
    /// Maps the API's status strings; anything unrecognised is `Unknown`, never `Ok`.
    pub fn parse(value: &str) -> Self {
        match value {
            "ok" => Self::Ok,
            "degraded" => Self::Degraded,
            _ => Self::Unknown,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Ok => "Operational",
            Self::Degraded => "Degraded",
            Self::Unknown => "Unknown",
        }
    }

    fn class(self) -> &'static str {
        match self {
            Self::Ok => "badge--ok",
            Self::Degraded => "badge--degraded",
            Self::Unknown => "badge--unknown",
        }
    }

    fn icon(self) -> &'static str {
        match self {
            Self::Ok => "\u{2713}",
            Self::Degraded => "!",
            Self::Unknown => "?",
        }
    }
}

#[derive(Properties, PartialEq)]
pub struct StatusBadgeProps {
    pub status: Status,
}

#[component]
pub fn StatusBadge(props: &StatusBadgeProps) -> Html {
    let status = props.status;
    html! {
        <span class={classes!("badge", status.class())}>
            <span class="badge__icon" aria-hidden="true">{ status.icon() }</span>
            { status.label() }
        </span>
    }
}
