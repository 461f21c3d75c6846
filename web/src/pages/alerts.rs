//! Alerts (spec 016), a page of the second bundle: the workspace's destinations (send a test
//! event, rotate a webhook's signing secret — shown once), its rules (snooze with a reason), and
//! the delivery history; a delivery's page shows every attempt and redelivers.

use atlas_api_types::{
    AlertDelivery, AlertDeliveryDetail, AlertDeliveryPage, AlertDestination, AlertDestinationCreate,
    AlertDestinationList, AlertOutboxList, AlertRule, AlertRuleCreate, AlertRuleList, AlertRulePatch, AlertRuleSnooze,
    DestinationCreated, EnvironmentList,
};
use atlas_domain::Capability;
use atlas_domain::alerts::AlertEventType;
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api::{self, ApiError, paths, with_query};
use crate::app::Route;
use crate::components::error::{FormErrorProps, form_error};
use crate::components::field::{SelectFieldProps, TextFieldProps, select_field, text_field};
use crate::components::json::json_view;
use crate::components::load;
use crate::components::markup::{fact, th};
use crate::format;
use crate::hooks::{use_interval, use_load, use_more};
use crate::pages::workspace::WsProps;
use crate::router::Link;
use crate::session::use_session;

/// What an action answered: an error for the form, or a notice.
type Outcome = UseStateHandle<Option<Result<String, ApiError>>>;

/// Runs `call`, then `reload`s and puts `done` (or the error) in `outcome`.
fn run<F>(outcome: &Outcome, reload: &Callback<()>, done: String, call: F)
where
    F: std::future::Future<Output = Result<(), ApiError>> + 'static,
{
    let (outcome, reload) = (outcome.clone(), reload.clone());
    spawn_local(async move {
        let r = call.await;
        outcome.set(Some(r.map(|()| done)));
        reload.emit(());
    });
}

fn notice(outcome: &Outcome) -> Html {
    match &**outcome {
        Some(Ok(msg)) => html! { <p class="banner banner--ok" role="status" data-testid="alerts-notice">{ msg }</p> },
        Some(Err(e)) => form_error(&yew::props!(FormErrorProps { error: Some(e.clone()) })),
        _ => Html::default(),
    }
}

fn field(outcome: &Outcome, name: &str) -> Option<String> {
    match &**outcome {
        Some(Err(e)) => e.field(name),
        _ => None,
    }
}

/// The Disable/Enable and Delete buttons of a rule's or a destination's row.
fn toggle_and_delete(enabled: bool, toggle: Callback<MouseEvent>, delete: Callback<MouseEvent>) -> Html {
    html! {
        <>
            <button type="button" class="button button--quiet toggle" onclick={toggle}>{ if enabled { "Disable" } else { "Enable" } }</button>
            <button type="button" class="button button--quiet delete" onclick={delete}>{ "Delete" }</button>
        </>
    }
}

fn label(t: &str) -> &str {
    match t {
        "finding.created" => "Finding created",
        "finding.reopened" => "Finding reopened",
        "finding.sla_breached" => "SLA breached",
        "exception.expiring" => "Risk acceptance expiring",
        "exception.expired" => "Risk acceptance expired",
        "run.failed" => "Run failed",
        "run.blocked" => "Run blocked",
        "run.partial" => "Run partial",
        "connection.degraded" => "Connection degraded",
        "backup.missed" => "Scheduled backup missed",
        "test" => "Test event",
        other => other,
    }
}

#[component]
pub fn AlertsPage(props: &WsProps) -> Html {
    let ws = props.ws.clone();
    let can = use_session().can(&ws, Capability::AlertsManage);
    let dests = use_load(ws.clone(), |ws| async move {
        api::get::<AlertDestinationList>(&paths::alert_destinations(&ws)).await
    });
    let rules = use_load(ws.clone(), |ws| async move {
        api::get::<AlertRuleList>(&paths::alert_rules(&ws)).await
    });
    let envs = use_load(ws.clone(), |ws| async move {
        api::get::<EnvironmentList>(&paths::environments(&ws)).await
    });
    // Bumped by an action that queues deliveries (a test event): the history reloads.
    let sent = use_state(|| 0u32);
    let on_sent = {
        let sent = sent.clone();
        Callback::from(move |()| sent.set(*sent + 1))
    };
    let destinations: Vec<AlertDestination> = dests.state.ready().map(|l| l.items.clone()).unwrap_or_default();
    html! {
        <>
            <div class="page-head"><h1>{ "Alerts" }</h1></div>
            if !can {
                <p class="muted" data-testid="alerts-readonly">{ "You can read the alerts of this workspace; changing them needs the alerts.manage capability." }</p>
            }
            <section class="panel" aria-labelledby="destinations-title">
                <h2 id="destinations-title">{ "Destinations" }</h2>
                { load::view(&dests, "load the destinations", |l: &AlertDestinationList| html! {
                    <Destinations ws={ws.clone()} items={l.items.clone()} {can} reload={dests.reload.clone()} on_sent={on_sent.clone()} />
                }) }
            </section>
            <section class="panel" aria-labelledby="rules-title">
                <h2 id="rules-title">{ "Rules" }</h2>
                { load::view(&rules, "load the rules", |l: &AlertRuleList| html! {
                    <Rules ws={ws.clone()} items={l.items.clone()} {can} reload={rules.reload.clone()}
                        destinations={destinations.clone()}
                        environments={envs.state.ready().map(|e| e.items.iter().map(|e| (e.id.clone(), e.display_name.clone())).collect::<Vec<_>>()).unwrap_or_default()} />
                }) }
            </section>
            if destinations.iter().any(|d| d.kind == "email") {
                <section class="panel" aria-labelledby="outbox-title">
                    <h2 id="outbox-title">{ "Email outbox" }</h2>
                    <Outbox ws={ws.clone()} sent={*sent} />
                </section>
            }
            <section class="panel" aria-labelledby="deliveries-title">
                <h2 id="deliveries-title">{ "Delivery history" }</h2>
                <Deliveries ws={ws.clone()} {destinations} sent={*sent} />
            </section>
        </>
    }
}

#[derive(Properties, PartialEq)]
struct DestinationsProps {
    ws: String,
    items: Vec<AlertDestination>,
    can: bool,
    reload: Callback<()>,
    on_sent: Callback<()>,
}

#[component]
fn Destinations(props: &DestinationsProps) -> Html {
    let outcome: Outcome = use_state(|| None);
    let name = use_state(String::new);
    let kind = use_state(|| "webhook".to_owned());
    let url = use_state(String::new);
    let recipients = use_state(String::new);
    // A new signing secret, shown once: (destination name, secret).
    let secret = use_state(|| None::<(String, String)>);
    let ws = props.ws.clone();
    let show_secret = {
        let secret = secret.clone();
        move |c: &DestinationCreated| {
            secret.set(c.secret.clone().map(|s| (c.destination.name.clone(), s)));
        }
    };
    let create = {
        let (outcome, reload, ws, show_secret) =
            (outcome.clone(), props.reload.clone(), ws.clone(), show_secret.clone());
        let (name, kind, url, recipients) = (name.clone(), kind.clone(), url.clone(), recipients.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let body = AlertDestinationCreate {
                name: name.trim().to_owned(),
                kind: (*kind).clone(),
                url: Some(url.trim().to_owned()).filter(|u| !u.is_empty() && *kind != "email"),
                recipients: if *kind == "email" {
                    recipients
                        .split([',', ';', ' '])
                        .map(str::trim)
                        .filter(|r| !r.is_empty())
                        .map(str::to_owned)
                        .collect()
                } else {
                    Vec::new()
                },
                enabled: true,
            };
            let (path, show_secret, name) = (paths::alert_destinations(&ws), show_secret.clone(), name.clone());
            let label = format!("Destination {} created.", body.name);
            run(&outcome, &reload, label, async move {
                let c = api::post::<_, DestinationCreated>(&path, &body).await?;
                show_secret(&c);
                name.set(String::new());
                Ok(())
            });
        })
    };
    let action = |d: &AlertDestination, what: &'static str| {
        let (outcome, reload, on_sent, show_secret) = (
            outcome.clone(),
            props.reload.clone(),
            props.on_sent.clone(),
            show_secret.clone(),
        );
        let (ws, id, name, enabled) = (ws.clone(), d.id.clone(), d.name.clone(), d.enabled);
        Callback::from(move |_: MouseEvent| {
            let (ws, id, on_sent, show_secret) = (ws.clone(), id.clone(), on_sent.clone(), show_secret.clone());
            match what {
                "test" => run(
                    &outcome,
                    &reload,
                    format!("Test event sent to {name}: see the delivery history."),
                    async move {
                        api::post_empty::<AlertDelivery>(&paths::alert_destination_test(&ws, &id)).await?;
                        on_sent.emit(());
                        Ok(())
                    },
                ),
                "rotate" => run(
                    &outcome,
                    &reload,
                    format!("New signing secret for {name}; the previous one still signs for 24 hours."),
                    async move {
                        let c = api::post::<_, DestinationCreated>(
                            &paths::alert_destination_rotate(&ws, &id),
                            &serde_json::json!({}),
                        )
                        .await?;
                        show_secret(&c);
                        Ok(())
                    },
                ),
                "toggle" => run(
                    &outcome,
                    &reload,
                    format!("{name} {}.", if enabled { "disabled" } else { "enabled" }),
                    async move {
                        let body = atlas_api_types::AlertDestinationPatch {
                            enabled: Some(!enabled),
                            ..Default::default()
                        };
                        api::patch::<_, AlertDestination>(&paths::alert_destination(&ws, &id), &body)
                            .await
                            .map(drop)
                    },
                ),
                _ => run(
                    &outcome,
                    &reload,
                    format!("{name} deleted; its pending deliveries are cancelled."),
                    async move { api::delete::<()>(&paths::alert_destination(&ws, &id), None).await },
                ),
            }
        })
    };
    let set = |s: &UseStateHandle<String>| {
        let s = s.clone();
        Callback::from(move |v: String| s.set(v))
    };
    html! {
        <>
            if let Some((name, value)) = &*secret {
                <div class="banner banner--warn" role="status" data-testid="destination-secret">
                    <p>{ format!("The signing secret of {name}, shown only now: store it where your receiver verifies the Atlas-Signature header.") }</p>
                    <p><code class="secret">{ value }</code></p>
                    <button type="button" class="button button--quiet" onclick={{ let s = secret.clone(); Callback::from(move |_: MouseEvent| s.set(None)) }}>{ "I stored it" }</button>
                </div>
            }
            { notice(&outcome) }
            if props.items.is_empty() {
                { load::empty(html! { <>{ "No destination yet: alerts go nowhere." }</> }) }
            } else {
                <div class="table-wrap"><table class="table" data-testid="destinations-table">
                    <thead><tr>{ th("Name") }{ th("Kind") }{ th("Target") }{ th("Signing") }{ th("State") }
                        if props.can { { crate::components::markup::th_actions() } }</tr></thead>
                    <tbody>{ for props.items.iter().map(|d| html! {
                        <tr class="destination" data-id={d.id.clone()} data-kind={d.kind.clone()}>
                            <td>{ &d.name }</td>
                            <td>{ &d.kind }</td>
                            <td>{ d.url.clone().unwrap_or_else(|| d.recipients.join(", ")) }</td>
                            <td>{ if d.kind != "webhook" { "\u{2014}".to_owned() } else if let Some(until) = d.previous_secret_until_ms {
                                format!("v{} (previous until {})", d.secret_version, format::time(until))
                            } else { format!("v{}", d.secret_version) } }</td>
                            <td><span class="chip">{ if d.enabled { "enabled" } else { "disabled" } }</span></td>
                            if props.can {
                                <td class="actions row-actions">
                                    <button type="button" class="button button--quiet send-test" onclick={action(d, "test")} disabled={!d.enabled}>{ "Send test event" }</button>
                                    if d.kind == "webhook" {
                                        <button type="button" class="button button--quiet rotate" onclick={action(d, "rotate")}>{ "Rotate secret" }</button>
                                    }
                                    { toggle_and_delete(d.enabled, action(d, "toggle"), action(d, "delete")) }
                                </td>
                            }
                        </tr>
                    }) }</tbody>
                </table></div>
            }
            if props.can {
                <form class="form" onsubmit={create} aria-label="Add a destination">
                    <h3>{ "Add a destination" }</h3>
                    { text_field(&yew::props!(TextFieldProps { id: "destination-name", label: "Name", value: (*name).clone(), required: true, onchange: set(&name), error: field(&outcome, "name") })) }
                    { select_field(&yew::props!(SelectFieldProps { id: "destination-kind", label: "Kind", value: (*kind).clone(),
                        options: vec![("webhook".into(), "Webhook (signed)".into()), ("teams".into(), "Microsoft Teams (Workflows URL)".into()), ("email".into(), "Email".into())],
                        onchange: set(&kind), error: field(&outcome, "kind") })) }
                    if *kind == "email" {
                        { text_field(&yew::props!(TextFieldProps { id: "destination-recipients", label: "Recipients", value: (*recipients).clone(), hint: AttrValue::Static("Up to 20 addresses, comma separated."), onchange: set(&recipients), error: field(&outcome, "recipients") })) }
                    } else {
                        { text_field(&yew::props!(TextFieldProps { id: "destination-url", label: "URL", kind: AttrValue::Static("url"), value: (*url).clone(), hint: AttrValue::Static("https; a Teams destination takes the Workflows webhook URL, which is kept as a secret."), onchange: set(&url), error: field(&outcome, "url") })) }
                    }
                    <button type="submit" class="button" id="destination-create">{ "Add destination" }</button>
                </form>
            }
        </>
    }
}

#[derive(Properties, PartialEq)]
struct RulesProps {
    ws: String,
    items: Vec<AlertRule>,
    can: bool,
    reload: Callback<()>,
    destinations: Vec<AlertDestination>,
    /// (id, display name)
    environments: Vec<(String, String)>,
}

/// Toggles `value` in the list held by `set`.
fn toggler(set: &UseStateHandle<Vec<String>>, value: &str) -> Callback<Event> {
    let (set, value) = (set.clone(), value.to_owned());
    Callback::from(move |_: Event| {
        let mut v = (*set).clone();
        if let Some(i) = v.iter().position(|x| *x == value) {
            v.remove(i);
        } else {
            v.push(value.clone());
        }
        set.set(v);
    })
}

#[component]
fn Rules(props: &RulesProps) -> Html {
    let outcome: Outcome = use_state(|| None);
    let name = use_state(String::new);
    let events = use_state(Vec::<String>::new);
    let severity = use_state(String::new);
    let envs = use_state(Vec::<String>::new);
    let dests = use_state(Vec::<String>::new);
    let snooze_reason = use_state(String::new);
    let snooze_hours = use_state(|| "24".to_owned());
    let ws = props.ws.clone();
    let create = {
        let (outcome, reload, ws) = (outcome.clone(), props.reload.clone(), ws.clone());
        let (name, events, severity, envs, dests) = (
            name.clone(),
            events.clone(),
            severity.clone(),
            envs.clone(),
            dests.clone(),
        );
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let body = AlertRuleCreate {
                name: name.trim().to_owned(),
                event_types: (*events).clone(),
                min_severity: Some((*severity).clone()).filter(|s| !s.is_empty()),
                environments: Some((*envs).clone()).filter(|e| !e.is_empty()),
                destinations: (*dests).clone(),
                enabled: true,
            };
            let (path, name) = (paths::alert_rules(&ws), name.clone());
            run(&outcome, &reload, format!("Rule {} created.", body.name), async move {
                api::post::<_, AlertRule>(&path, &body).await?;
                name.set(String::new());
                Ok(())
            });
        })
    };
    let action = |r: &AlertRule, what: &'static str| {
        let (outcome, reload) = (outcome.clone(), props.reload.clone());
        let (ws, id, name, enabled) = (ws.clone(), r.id.clone(), r.name.clone(), r.enabled);
        let (reason, hours) = (snooze_reason.clone(), snooze_hours.clone());
        Callback::from(move |_: MouseEvent| {
            let (ws, id) = (ws.clone(), id.clone());
            match what {
                "snooze" => {
                    let body = AlertRuleSnooze {
                        reason: reason.trim().to_owned(),
                        until_ms: None,
                        // Not a number: 0 hours, which the server refuses with the field's message.
                        hours: Some(hours.trim().parse().unwrap_or(0)),
                    };
                    run(&outcome, &reload, format!("{name} snoozed."), async move {
                        api::put::<_, AlertRule>(&paths::alert_rule_snooze(&ws, &id), &body)
                            .await
                            .map(drop)
                    })
                }
                "unsnooze" => run(&outcome, &reload, format!("{name} alerts again."), async move {
                    api::delete::<()>(&paths::alert_rule_snooze(&ws, &id), None).await
                }),
                "toggle" => run(
                    &outcome,
                    &reload,
                    format!("{name} {}.", if enabled { "disabled" } else { "enabled" }),
                    async move {
                        let body = AlertRulePatch {
                            enabled: Some(!enabled),
                            ..Default::default()
                        };
                        api::patch::<_, AlertRule>(&paths::alert_rule(&ws, &id), &body)
                            .await
                            .map(drop)
                    },
                ),
                _ => run(&outcome, &reload, format!("{name} deleted."), async move {
                    api::delete::<()>(&paths::alert_rule(&ws, &id), None).await
                }),
            }
        })
    };
    let dest_name = |id: &str| {
        props
            .destinations
            .iter()
            .find(|d| d.id == id)
            .map_or_else(|| id.to_owned(), |d| d.name.clone())
    };
    let env_name = |id: &str| {
        props
            .environments
            .iter()
            .find(|(e, _)| e == id)
            .map_or_else(|| id.to_owned(), |(_, n)| n.clone())
    };
    let set = |s: &UseStateHandle<String>| {
        let s = s.clone();
        Callback::from(move |v: String| s.set(v))
    };
    let checks = |legend: &'static str,
                  name: &'static str,
                  set: &UseStateHandle<Vec<String>>,
                  options: Vec<(String, String)>,
                  error: Option<String>| {
        html! {
            <fieldset class={classes!("field", error.as_ref().map(|_| "field--invalid"))}>
                <legend>{ legend }</legend>
                { for options.into_iter().map(|(v, l)| html! {
                    <label class="check"><input type="checkbox" {name} value={v.clone()} checked={set.contains(&v)} onchange={toggler(set, &v)} />{ " " }{ l }</label>
                }) }
                if let Some(e) = error { <span class="field__error">{ e }</span> }
            </fieldset>
        }
    };
    html! {
        <>
            { notice(&outcome) }
            if props.items.is_empty() {
                { load::empty(html! { <>{ "No rule yet: nothing alerts." }</> }) }
            } else {
                <div class="table-wrap"><table class="table" data-testid="rules-table">
                    <thead><tr>{ th("Name") }{ th("Events") }{ th("Environments") }{ th("Destinations") }{ th("State") }
                        if props.can { { crate::components::markup::th_actions() } }</tr></thead>
                    <tbody>{ for props.items.iter().map(|r| html! {
                        <tr class="rule" data-id={r.id.clone()}>
                            <td>{ &r.name }</td>
                            <td>{ r.event_types.iter().map(|t| label(t)).collect::<Vec<_>>().join(", ") }
                                if let Some(s) = &r.min_severity { <span class="muted">{ format!(" \u{b7} {s} or higher") }</span> }</td>
                            <td>{ r.environments.as_ref().map_or_else(|| "All".to_owned(), |e| e.iter().map(|e| env_name(e)).collect::<Vec<_>>().join(", ")) }</td>
                            <td>{ r.destinations.iter().map(|d| dest_name(d)).collect::<Vec<_>>().join(", ") }</td>
                            <td>
                                <span class="chip">{ if !r.enabled { "disabled" } else if r.snooze.is_some() { "snoozed" } else { "enabled" } }</span>
                                if let Some(s) = &r.snooze {
                                    <p class="muted">{ format!("until {} by {}: {}", format::time(s.until_ms), s.by, s.reason) }</p>
                                }
                            </td>
                            if props.can {
                                <td class="actions row-actions">
                                    if r.snooze.is_some() {
                                        <button type="button" class="button button--quiet unsnooze" onclick={action(r, "unsnooze")}>{ "End snooze" }</button>
                                    } else {
                                        <button type="button" class="button button--quiet snooze" onclick={action(r, "snooze")}>{ "Snooze" }</button>
                                    }
                                    { toggle_and_delete(r.enabled, action(r, "toggle"), action(r, "delete")) }
                                </td>
                            }
                        </tr>
                    }) }</tbody>
                </table></div>
                if props.can {
                    <div class="toolbar" aria-label="Snooze">
                        { text_field(&yew::props!(TextFieldProps { id: "snooze-reason", label: "Snooze reason", value: (*snooze_reason).clone(), hint: AttrValue::Static("Required to snooze; audited and shown on the rule."), onchange: set(&snooze_reason), error: field(&outcome, "reason") })) }
                        { text_field(&yew::props!(TextFieldProps { id: "snooze-hours", label: "For (hours)", kind: AttrValue::Static("number"), value: (*snooze_hours).clone(), hint: AttrValue::Static("At most 720 (30 days)."), onchange: set(&snooze_hours), error: field(&outcome, "until_ms").or(field(&outcome, "hours")) })) }
                    </div>
                }
            }
            if props.can {
                <form class="form" onsubmit={create} aria-label="Add a rule">
                    <h3>{ "Add a rule" }</h3>
                    { text_field(&yew::props!(TextFieldProps { id: "rule-name", label: "Name", value: (*name).clone(), required: true, onchange: set(&name), error: field(&outcome, "name") })) }
                    { checks("Events", "event_type", &events,
                        AlertEventType::ALL.iter().filter(|t| **t != AlertEventType::Test).map(|t| (t.as_str().to_owned(), label(t.as_str()).to_owned())).collect(),
                        field(&outcome, "event_types")) }
                    { select_field(&yew::props!(SelectFieldProps { id: "rule-severity", label: "Finding events: at least", value: (*severity).clone(),
                        options: vec![(String::new(), "Any severity".into()), ("critical".into(), "Critical".into()), ("high".into(), "High".into()), ("medium".into(), "Medium".into()), ("low".into(), "Low".into())],
                        onchange: set(&severity), error: field(&outcome, "min_severity") })) }
                    { checks("Environments (none ticked: all)", "rule_env", &envs, props.environments.clone(), field(&outcome, "environments")) }
                    { checks("Destinations", "rule_destination", &dests,
                        props.destinations.iter().map(|d| (d.id.clone(), format!("{} ({})", d.name, d.kind))).collect(),
                        field(&outcome, "destinations")) }
                    <button type="submit" class="button" id="rule-create">{ "Add rule" }</button>
                </form>
            }
        </>
    }
}

#[derive(Properties, PartialEq)]
struct DeliveriesProps {
    ws: String,
    destinations: Vec<AlertDestination>,
    /// Changes when a test event was sent: the history reloads.
    sent: u32,
}

fn deliveries_path(ws: &str, status: &str, cursor: &str) -> String {
    with_query(&paths::alert_deliveries(ws), &[("state", status), ("cursor", cursor)])
}

fn status_chip(d: &AlertDelivery) -> Html {
    use crate::components::status_badge::{state_badge, words};
    state_badge(d.status, &d.state, &words(&d.state), "delivery-status")
}

#[component]
fn Deliveries(props: &DeliveriesProps) -> Html {
    let status = use_state(String::new);
    let page = use_load(
        (props.ws.clone(), (*status).clone(), props.sent),
        |(ws, status, _)| async move { api::get::<AlertDeliveryPage>(&deliveries_path(&ws, &status, "")).await },
    );
    let more = {
        let (ws, status) = (props.ws.clone(), (*status).clone());
        use_more(page.state.ready().and_then(|p| p.next_cursor.clone()), move |cursor| {
            let path = deliveries_path(&ws, &status, &cursor);
            async move {
                let p = api::get::<AlertDeliveryPage>(&path).await?;
                Ok((p.items, p.next_cursor))
            }
        })
    };
    // While something is on its way, the history refreshes itself.
    let pending = page
        .state
        .ready()
        .is_some_and(|p| p.items.iter().any(|d| d.state == "pending"));
    use_interval(2000, pending, page.reload.clone());
    let chip = |value: &'static str, text: &'static str| {
        let (status, current) = (status.clone(), *status == value);
        html! {
            <button type="button" class={classes!("chip", current.then_some("chip--update"))} aria-pressed={current.to_string()}
                onclick={Callback::from(move |_: MouseEvent| status.set(value.to_owned()))}>{ text }</button>
        }
    };
    let ws = props.ws.clone();
    let dest_name = |id: &str| {
        props
            .destinations
            .iter()
            .find(|d| d.id == id)
            .map_or_else(|| id.to_owned(), |d| d.name.clone())
    };
    html! {
        <>
            <div class="toolbar" role="group" aria-label="Delivery status">
                { chip("", "All") }{ chip("pending", "Pending") }{ chip("delivered", "Delivered") }
                { chip("failed", "Failed") }{ chip("suppressed", "Suppressed") }{ chip("cancelled", "Cancelled") }
            </div>
            { load::view(&page, "load the delivery history", |p: &AlertDeliveryPage| {
                if p.items.is_empty() {
                    return load::empty(html! { <>{ "No delivery matches." }</> });
                }
                html! {
                    <>
                        <div class="table-wrap"><table class="table" data-testid="deliveries-table">
                            <thead><tr>{ th("When") }{ th("Event") }{ th("Destination") }{ th("Status") }{ th("Attempts") }</tr></thead>
                            <tbody>{ for p.items.iter().chain(more.items()).map(|d| html! {
                                <tr class="delivery" data-id={d.id.clone()} data-status={d.state.clone()} data-event-type={d.event_type.clone()}>
                                    <td>{ format::when(d.created_ms) }</td>
                                    <td><Link to={Route::AlertDelivery { ws: ws.clone(), delivery: d.id.clone() }}>{ &d.title }</Link>
                                        <span class="muted">{ format!(" \u{b7} {}", label(&d.event_type)) }
                                            { d.severity.as_ref().map(|s| format!(" \u{b7} {s}")).unwrap_or_default() }</span></td>
                                    <td>{ dest_name(&d.destination_id) }</td>
                                    <td>{ status_chip(d) }
                                        if let Some(r) = &d.reason { <span class="muted">{ format!(" {r}") }</span> }</td>
                                    <td>{ d.attempts }</td>
                                </tr>
                            }) }</tbody>
                        </table></div>
                        { load::more_footer(&more) }
                    </>
                }
            }) }
        </>
    }
}

#[derive(Properties, PartialEq)]
pub struct DeliveryProps {
    pub ws: String,
    pub delivery: String,
}

/// One delivery: the event, every attempt (time, status or error, latency, the answer's first
/// bytes), the body sent, and redeliver.
#[component]
pub fn DeliveryPage(props: &DeliveryProps) -> Html {
    let can = use_session().can(&props.ws, Capability::AlertsManage);
    let detail = use_load((props.ws.clone(), props.delivery.clone()), |(ws, id)| async move {
        api::get::<AlertDeliveryDetail>(&paths::alert_delivery(&ws, &id)).await
    });
    let outcome: Outcome = use_state(|| None);
    let pending = detail.state.ready().is_some_and(|d| d.delivery.state == "pending");
    use_interval(1500, pending, detail.reload.clone());
    let redeliver = {
        let (outcome, reload, ws, id) = (
            outcome.clone(),
            detail.reload.clone(),
            props.ws.clone(),
            props.delivery.clone(),
        );
        Callback::from(move |_: MouseEvent| {
            let (ws, id) = (ws.clone(), id.clone());
            run(
                &outcome,
                &reload,
                "Redelivery queued: a new attempt series with the same event id.".into(),
                async move {
                    api::post_empty::<AlertDelivery>(&paths::alert_delivery_redeliver(&ws, &id))
                        .await
                        .map(drop)
                },
            );
        })
    };
    let ws = props.ws.clone();
    html! {
        <>
            <p><Link to={Route::Alerts { ws: ws.clone() }}>{ "\u{2190} Alerts" }</Link></p>
            { load::view(&detail, "load the delivery", |d: &AlertDeliveryDetail| {
                let x = &d.delivery;
                html! {
                    <>
                        <div class="page-head"><h1>{ &x.title }</h1>{ status_chip(x) }</div>
                        <dl class="facts" data-testid="delivery-facts">
                            { fact("Event", html! { <>{ label(&x.event_type) }<span class="muted">{ format!(" \u{b7} {}", x.event_id) }</span></> }) }
                            { fact("Severity", html! { { x.severity.clone().unwrap_or_else(|| "\u{2014}".into()) } }) }
                            { fact("Environment", html! { { x.environment_id.clone().unwrap_or_else(|| "\u{2014}".into()) } }) }
                            { fact("Created", html! { { format::when(x.created_ms) } }) }
                            { fact("Delivered", html! { { format::when_opt(x.delivered_ms) } }) }
                            if let Some(next) = x.next_attempt_ms { { fact("Next attempt", html! { { format::when(next) } }) } }
                            if let Some(r) = &x.reason { { fact("Reason", html! { { r } }) } }
                            if let Some(link) = d.payload["link"].as_str() {
                                { fact("About", html! { <a href={link.to_owned()} data-testid="delivery-object">{ format!("Open the {}", d.payload["object"].as_str().and_then(|o| o.split('/').next()).unwrap_or("object")) }</a> }) }
                            }
                        </dl>
                        if can && x.state != "pending" {
                            <button type="button" class="button" id="redeliver" onclick={redeliver.clone()}>{ "Redeliver" }</button>
                        }
                        { notice(&outcome) }
                        <h2>{ "Attempts" }</h2>
                        if d.attempts.is_empty() {
                            { load::empty(html! { <>{ "No attempt yet." }</> }) }
                        } else {
                            <div class="table-wrap"><table class="table" data-testid="attempts-table">
                                <thead><tr>{ th("#") }{ th("When") }{ th("Answer") }{ th("Latency") }{ th("Response") }</tr></thead>
                                <tbody>{ for d.attempts.iter().map(|a| html! {
                                    <tr class="attempt" data-ok={a.ok.to_string()}>
                                        <td>{ if a.series == 0 { format!("{}", a.n + 1) } else { format!("{} (redelivery {})", a.n + 1, a.series) } }</td>
                                        <td>{ format::when(a.at_ms) }</td>
                                        <td>{ a.result.clone().or_else(|| a.http_status.map(|s| format!("HTTP {s}"))).unwrap_or_default() }
                                            if let Some(e) = a.error.as_ref().filter(|_| !a.ok) { <span class="muted">{ format!(" {e}") }</span> }</td>
                                        <td>{ format!("{} ms", a.latency_ms) }</td>
                                        <td><code class="snippet">{ &a.response }</code></td>
                                    </tr>
                                }) }</tbody>
                            </table></div>
                        }
                        { json_view(&d.payload, "Body sent") }
                    </>
                }
            }) }
        </>
    }
}

#[derive(Properties, PartialEq)]
struct OutboxProps {
    ws: String,
    sent: u32,
}

/// The email alerts written to the local outbox because no SMTP relay is configured: what would
/// have been sent, to whom, and when.
#[component]
fn Outbox(props: &OutboxProps) -> Html {
    let list = use_load((props.ws.clone(), props.sent), |(ws, _)| async move {
        api::get::<AlertOutboxList>(&with_query(&paths::alert_outbox(&ws), &[("limit", "20")])).await
    });
    html! {
        <>
            <p class="muted">{ "No SMTP relay is configured (ATLAS_SMTP_URL), so email alerts are written here and to the data directory's outbox instead of being sent." }</p>
            { load::view(&list, "load the outbox", |l: &AlertOutboxList| {
                if l.items.is_empty() {
                    return load::empty(html! { <>{ "No email written yet." }</> });
                }
                html! {
                    <ul class="checks" data-testid="outbox">{ for l.items.iter().map(|m| html! {
                        <li class="outbox-message" data-delivery={m.delivery_id.clone()}>
                            <details>
                                <summary><strong>{ &m.subject }</strong>
                                    <span class="muted">{ format!(" \u{b7} to {} \u{b7} {}", m.to.join(", "), format::time(m.at_ms)) }</span></summary>
                                <pre class="snippet">{ &m.body }</pre>
                            </details>
                        </li>
                    }) }</ul>
                }
            }) }
        </>
    }
}
