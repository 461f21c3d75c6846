//! An environment's policy lint (spec 021), a page of the second bundle: the hits of its current
//! inventory grouped by rule (severity, object, property, message; the rule's title, rationale and
//! fix hint expandable), the rules that could not run and why, "Record as findings" for
//! `findings.triage`, and the workspace's lint settings for `baseline.manage`.

use std::collections::BTreeMap;

use atlas_api_types::{LintHit, LintRecorded, LintReport, LintRule, LintRuleList, LintSettings, RuleSetting, Severity};
use atlas_domain::Capability;
use wasm_bindgen::JsCast as _;
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api::{self, ApiError, paths};
use crate::app::Route;
use crate::components::error::{FormErrorProps, form_error};
use crate::components::field::{TextFieldProps, text_field, value_of};
use crate::components::load;
use crate::components::markup::th;
use crate::components::status_badge::severity_badge;
use crate::families;
use crate::format;
use crate::hooks::use_load;
use crate::pages::environment::EnvProps;
use crate::pages::findings::FindingsQuery;
use crate::router::Link;
use crate::session::use_session;

#[component]
pub fn LintPage(props: &EnvProps) -> Html {
    let session = use_session();
    let key = (props.ws.clone(), props.env.clone());
    let (ws, env) = key.clone();
    let can_record = session.can(&ws, Capability::FindingsTriage);
    let can_configure = session.can(&ws, Capability::BaselineManage);
    let rules = use_load(ws.clone(), |ws| async move {
        api::get::<LintRuleList>(&paths::lint_rules(&ws)).await
    });
    let report = use_load(key.clone(), |(ws, env)| async move {
        api::get::<LintReport>(&paths::environment_lint(&ws, &env)).await
    });
    let recorded = use_state(|| None::<LintRecorded>);
    let error = use_state(|| None::<ApiError>);
    let record = {
        let (recorded, error, key, reload) = (recorded.clone(), error.clone(), key.clone(), report.reload.clone());
        Callback::from(move |_: MouseEvent| {
            let (recorded, error, (ws, env), reload) = (recorded.clone(), error.clone(), key.clone(), reload.clone());
            spawn_local(async move {
                match api::post_empty::<LintRecorded>(&paths::environment_lint(&ws, &env)).await {
                    Ok(r) => {
                        error.set(None);
                        recorded.set(Some(r));
                        reload.emit(());
                    }
                    Err(e) => error.set(Some(e)),
                }
            });
        })
    };
    let catalogue: Vec<LintRule> = rules.state.ready().map(|l| l.items.clone()).unwrap_or_default();
    let on_saved = report.reload.clone();
    html! {
        <>
            <div class="page-head">
                <h1>{ "Lint" }</h1>
                <Link to={Route::Environment { ws: ws.clone(), env: env.clone() }}>{ "Back to the environment" }</Link>
            </div>
            <p class="muted">{ "The environment's policies as the last inventory sync stored them, checked against the lint rules with the workspace's settings. No Graph call is made." }</p>
            <section class="panel" aria-labelledby="lint-hits-title">
                <div class="panel__header">
                    <h2 id="lint-hits-title">{ "What the rules found" }</h2>
                    <Link to={Route::Findings { ws: ws.clone() }}
                        query={Some(FindingsQuery { environment_id: env.clone(), status: "open".into(), source: "lint".into(), ..FindingsQuery::default() }.pairs())}>
                        { "Lint findings in the findings hub" }</Link>
                </div>
                if can_record {
                    <button type="button" id="lint-record" class="button" onclick={record}>{ "Record as findings" }</button>
                }
                { form_error(&yew::props!(FormErrorProps { error: (*error).clone() })) }
                if let Some(r) = &*recorded {
                    if let Some(why) = &r.skipped {
                        <p class="banner banner--warn" role="status" id="lint-recorded">{ format!("Nothing recorded: {why}") }</p>
                    } else {
                        <p class="banner" role="status" id="lint-recorded">{ format!("Recorded: {} opened, {} seen again, {} resolved.", r.opened, r.updated, r.resolved) }</p>
                    }
                }
                { load::view(&report, "load the lint report", |r: &LintReport| report_view(r, &catalogue)) }
            </section>
            if can_configure {
                <SettingsPanel ws={ws.clone()} rules={catalogue.clone()} {on_saved} />
            }
        </>
    }
}

fn report_view(r: &LintReport, catalogue: &[LintRule]) -> Html {
    let mut by_rule: BTreeMap<&str, Vec<&LintHit>> = BTreeMap::new();
    for h in &r.hits {
        by_rule.entry(h.rule_id.as_str()).or_default().push(h);
    }
    let rule = |id: &str| catalogue.iter().find(|r| r.id == id);
    html! {
        <>
            <p class="muted" data-testid="lint-facts">{ format!("{} objects linted {} \u{b7} {} rules ran \u{b7} {} hits", r.objects, format::time(r.evaluated_ms), r.rules_run.len(), r.hits.len()) }</p>
            if by_rule.is_empty() {
                { load::empty(html! { <>{ "No rule found anything." }</> }) }
            }
            { for by_rule.iter().map(|(id, hits)| {
                let info = rule(id);
                html! {
                    <details class="panel lint-rule" data-rule={id.to_string()}>
                        <summary>
                            { severity_badge(hits[0].severity.as_str()) }{ " " }
                            <strong>{ *id }</strong>{ " " }{ info.map(|i| i.title.clone()).unwrap_or_default() }
                            <span class="muted">{ format!(" \u{b7} {}", hits.len()) }</span>
                        </summary>
                        if let Some(i) = info {
                            <details class="lint-why">
                                <summary>{ "Why, and how to fix it" }</summary>
                                <p>{ &i.rationale }</p>
                                <p><strong>{ "Fix: " }</strong>{ &i.fix_hint }</p>
                            </details>
                        }
                        <div class="table-wrap"><table class="table">
                            <thead><tr>{ th("Severity") }{ th("Object") }{ th("Property") }{ th("Message") }</tr></thead>
                            <tbody>{ for hits.iter().map(|h| html! {
                                <tr class="lint-hit" data-object={h.object_id.clone()}>
                                    <td>{ severity_badge(h.severity.as_str()) }</td>
                                    <td>{ if h.object_name.is_empty() { h.object_id.clone() } else { h.object_name.clone() } }
                                        <span class="muted">{ format!(" ({})", families::label(&h.family)) }</span></td>
                                    <td>if let Some(p) = &h.property { <code>{ p }</code> }</td>
                                    <td>{ &h.message }</td>
                                </tr>
                            }) }</tbody>
                        </table></div>
                    </details>
                }
            }) }
            if !r.not_evaluated.is_empty() {
                <h3>{ "Not evaluated" }</h3>
                <ul class="checks" data-testid="lint-not-evaluated">{ for r.not_evaluated.iter().map(|n| html! {
                    <li data-rule={n.rule_id.clone()}><strong>{ &n.rule_id }</strong>
                        { rule(&n.rule_id).map(|i| format!(" {}", i.title)).unwrap_or_default() }
                        <span class="muted">{ format!(": {}", n.reason) }</span></li>
                }) }</ul>
            }
        </>
    }
}

#[derive(Properties, PartialEq)]
struct SettingsProps {
    ws: String,
    rules: Vec<LintRule>,
    on_saved: Callback<()>,
}

/// The numeric parameters: field, label.
const NUMBERS: &[(&str, &str)] = &[
    ("stale_days", "Stale after (days, 1 to 3,650)"),
    ("password_min_length", "Windows password minimum length (4 to 16)"),
    ("mobile_passcode_min_length", "Mobile passcode minimum length (4 to 16)"),
    ("app_pin_min_length", "App protection PIN minimum length (4 to 16)"),
    (
        "compliance_max_grace_hours",
        "Longest compliance grace period (hours, 0 to 8,760)",
    ),
    ("max_assignments", "Most assignments on one object (1 to 1,000)"),
];

fn number(s: &LintSettings, field: &str) -> u32 {
    match field {
        "stale_days" => s.stale_days,
        "password_min_length" => s.password_min_length,
        "mobile_passcode_min_length" => s.mobile_passcode_min_length,
        "app_pin_min_length" => s.app_pin_min_length,
        "compliance_max_grace_hours" => s.compliance_max_grace_hours,
        _ => s.max_assignments,
    }
}

fn set_number(s: &mut LintSettings, field: &str, v: u32) {
    match field {
        "stale_days" => s.stale_days = v,
        "password_min_length" => s.password_min_length = v,
        "mobile_passcode_min_length" => s.mobile_passcode_min_length = v,
        "app_pin_min_length" => s.app_pin_min_length = v,
        "compliance_max_grace_hours" => s.compliance_max_grace_hours = v,
        _ => s.max_assignments = v,
    }
}

/// What the form edits: the settings, with the numbers and lists as typed.
#[derive(Clone, PartialEq)]
struct Draft {
    settings: LintSettings,
    numbers: BTreeMap<&'static str, String>,
    patterns: String,
    markers: String,
}

impl Draft {
    fn of(s: &LintSettings) -> Self {
        Draft {
            settings: s.clone(),
            numbers: NUMBERS.iter().map(|(f, _)| (*f, number(s, f).to_string())).collect(),
            patterns: s.naming_patterns.join("\n"),
            markers: s.test_name_markers.join(", "),
        }
    }

    /// The settings to send; a number that does not parse is sent as 0, which the server
    /// refuses with the field's message.
    fn body(&self) -> LintSettings {
        let mut s = self.settings.clone();
        for (f, v) in &self.numbers {
            set_number(&mut s, f, v.trim().parse().unwrap_or(0));
        }
        s.naming_patterns = self
            .patterns
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect();
        s.test_name_markers = self
            .markers
            .split(',')
            .map(|m| m.trim_start().to_lowercase())
            .filter(|m| !m.trim().is_empty())
            .map(|m| if m.ends_with(' ') { m } else { m.trim_end().to_owned() })
            .collect();
        s.rules.retain(|_, r| *r != RuleSetting::default());
        s
    }
}

fn checked(e: &Event) -> bool {
    e.target()
        .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
        .is_some_and(|i| i.checked())
}

/// The workspace's lint settings: each rule on or off with its severity, and the rules'
/// parameters. Saving needs `baseline.manage`; the server's field errors show under the field.
#[component]
fn SettingsPanel(props: &SettingsProps) -> Html {
    let ws = props.ws.clone();
    let loaded = use_load(ws.clone(), |ws| async move {
        api::get::<LintSettings>(&paths::lint_settings(&ws)).await
    });
    let draft = use_state(|| None::<Draft>);
    let error = use_state(|| None::<ApiError>);
    let saved = use_state(|| false);
    let Some(current) = (*draft).clone().or_else(|| loaded.state.ready().map(Draft::of)) else {
        return html! { <section class="panel">{ load::view(&loaded, "load the lint settings", |_| html! {}) }</section> };
    };
    let edit = {
        let (draft, current) = (draft.clone(), current.clone());
        move |f: Box<dyn Fn(&mut Draft)>| {
            let mut d = current.clone();
            f(&mut d);
            draft.set(Some(d));
        }
    };
    let save = {
        let (ws, error, saved, reload, on_saved, body) = (
            ws.clone(),
            error.clone(),
            saved.clone(),
            loaded.reload.clone(),
            props.on_saved.clone(),
            current.body(),
        );
        let draft = draft.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let (path, error, saved, reload, on_saved, body, draft) = (
                paths::lint_settings(&ws),
                error.clone(),
                saved.clone(),
                reload.clone(),
                on_saved.clone(),
                body.clone(),
                draft.clone(),
            );
            spawn_local(async move {
                match api::put::<_, LintSettings>(&path, &body).await {
                    Ok(s) => {
                        error.set(None);
                        saved.set(true);
                        draft.set(Some(Draft::of(&s)));
                        reload.emit(());
                        on_saved.emit(());
                    }
                    Err(e) => {
                        saved.set(false);
                        error.set(Some(e));
                    }
                }
            });
        })
    };
    let field = |name: &str| error.as_ref().and_then(|e| e.field(name));
    let rule_rows = props.rules.iter().map(|r| {
        let id = r.id.clone();
        let setting = current.settings.rules.get(&id).cloned().unwrap_or_default();
        let on = setting.enabled.unwrap_or(true);
        let toggle = {
            let (edit, id) = (edit.clone(), id.clone());
            Callback::from(move |e: Event| {
                let (on, id) = (checked(&e), id.clone());
                edit(Box::new(move |d: &mut Draft| {
                    d.settings.rules.entry(id.clone()).or_default().enabled = (!on).then_some(false);
                }))
            })
        };
        let severity = {
            let (edit, id) = (edit.clone(), id.clone());
            Callback::from(move |e: Event| {
                let (v, id) = (value_of(&e), id.clone());
                edit(Box::new(move |d: &mut Draft| {
                    d.settings.rules.entry(id.clone()).or_default().severity = Severity::parse(&v);
                }))
            })
        };
        let chosen = setting.severity.map(|s| s.as_str()).unwrap_or("");
        html! {
            <tr data-rule={id.clone()}>
                <td><label class="check"><input type="checkbox" id={format!("lint-on-{id}")} checked={on} onchange={toggle} />
                    { format!(" {id}") }</label></td>
                <td>{ &r.title }</td>
                <td><select id={format!("lint-severity-{id}")} aria-label={format!("Severity of {id}")} onchange={severity}>
                    <option value="" selected={chosen.is_empty()}>{ format!("Default ({})", r.severity.as_str()) }</option>
                    { for Severity::ALL.iter().map(|s| html! {
                        <option value={s.as_str()} selected={chosen == s.as_str()}>{ s.as_str() }</option>
                    }) }
                </select>
                if let Some(m) = field(&format!("rules.{id}")) { <p class="field__error">{ m }</p> }
                </td>
            </tr>
        }
    });
    let numbers = NUMBERS.iter().map(|(f, label)| {
        let on_change = {
            let edit = edit.clone();
            Callback::from(move |v: String| {
                edit(Box::new(move |d: &mut Draft| {
                    d.numbers.insert(f, v.clone());
                }))
            })
        };
        let value = current.numbers.get(f).cloned().unwrap_or_default();
        html! {
            { text_field(&yew::props!(TextFieldProps { id: format!("lint-{f}"), label: *label, kind: AttrValue::Static("number"), value, onchange: on_change, error: field(f) })) }
        }
    });
    let on_patterns = {
        let edit = edit.clone();
        Callback::from(move |e: InputEvent| {
            let v = e
                .target()
                .and_then(|t| t.dyn_into::<web_sys::HtmlTextAreaElement>().ok())
                .map(|t| t.value())
                .unwrap_or_default();
            edit(Box::new(move |d: &mut Draft| d.patterns = v.clone()))
        })
    };
    let on_markers = {
        let edit = edit.clone();
        Callback::from(move |v: String| edit(Box::new(move |d: &mut Draft| d.markers = v.clone())))
    };
    let flag = |apply: fn(&mut LintSettings, bool)| {
        let edit = edit.clone();
        Callback::from(move |e: Event| {
            let on = checked(&e);
            edit(Box::new(move |d: &mut Draft| apply(&mut d.settings, on)))
        })
    };
    let on_scope = flag(|s, on| s.require_scope_tag = on);
    let on_after_sync = flag(|s, on| s.record_after_sync = on);
    let on_bitlocker = {
        let edit = edit.clone();
        Callback::from(move |e: Event| {
            let v = value_of(&e);
            edit(Box::new(move |d: &mut Draft| {
                d.settings.bitlocker_min_method = v.clone()
            }))
        })
    };
    let pattern_errors: Vec<String> = error
        .as_ref()
        .map(|e| match e {
            ApiError::Problem(p) => p
                .errors
                .iter()
                .filter(|f| f.field.starts_with("naming_patterns") || f.field.starts_with("test_name_markers"))
                .map(|f| format!("{}: {}", f.field, f.message))
                .collect(),
            _ => Vec::new(),
        })
        .unwrap_or_default();
    let method = current.settings.bitlocker_min_method.clone();
    html! {
        <details class="panel" id="lint-settings">
            <summary>{ "Workspace lint settings" }</summary>
            <form class="form" onsubmit={save} aria-label="Lint settings">
                <div class="table-wrap"><table class="table">
                    <thead><tr>{ th("Rule") }{ th("Title") }{ th("Severity") }</tr></thead>
                    <tbody>{ for rule_rows }</tbody>
                </table></div>
                { for numbers }
                <div class="field">
                    <label for="lint-naming-patterns">{ "Naming patterns, one a line (empty: names are not checked)" }</label>
                    <textarea id="lint-naming-patterns" value={current.patterns.clone()} oninput={on_patterns} />
                    <p class="muted">{ "* any text, ? one character, {Area} one or more characters, {WIN|MAC} one of these." }</p>
                </div>
                { text_field(&yew::props!(TextFieldProps { id: "lint-markers", label: "Test and copy name markers (comma-separated)", value: current.markers.clone(), onchange: on_markers })) }
                { for pattern_errors.iter().map(|m| html! { <p class="field__error">{ m }</p> }) }
                <div class="field">
                    <label for="lint-bitlocker">{ "Weakest accepted BitLocker method" }</label>
                    <select id="lint-bitlocker" onchange={on_bitlocker}>
                        <option value="xtsAes128" selected={method == "xtsAes128"}>{ "XTS-AES 128" }</option>
                        <option value="xtsAes256" selected={method == "xtsAes256"}>{ "XTS-AES 256" }</option>
                    </select>
                </div>
                <label class="check"><input type="checkbox" id="lint-require-scope-tag" checked={current.settings.require_scope_tag} onchange={on_scope} />
                    { " Every object must carry a scope tag other than Default" }</label>
                <label class="check"><input type="checkbox" id="lint-record-after-sync" checked={current.settings.record_after_sync} onchange={on_after_sync} />
                    { " Record the lint as findings after every complete inventory sync" }</label>
                if error.as_ref().is_some_and(|e| !matches!(e, ApiError::Problem(p) if !p.errors.is_empty())) {
                    { form_error(&yew::props!(FormErrorProps { error: (*error).clone() })) }
                }
                <div class="actions">
                    <button type="submit" class="button" id="lint-settings-save">{ "Save settings" }</button>
                    if *saved { <span class="muted">{ " Saved. Every lint of the workspace uses them from now on." }</span> }
                </div>
            </form>
        </details>
    }
}
