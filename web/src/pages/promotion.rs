//! Promotion: the workspace's promotions and a new one (source, target, items of the source's
//! backup set), then one promotion's steps — plan, dry-run, approval by a second member,
//! cutover with the typed target name (the pre-backup and the cutover run followed live),
//! verification, rollback (spec 022). The server checks every step again.

use std::rc::Rc;

use atlas_api_types::{
    BackupSetDetail, BackupSetList, BackupSetStatus, Promotion, PromotionCreate, PromotionDecision, PromotionList,
};
use atlas_domain::{Capability, Status};
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api::{self, ApiError, paths};
use crate::app::Route;
use crate::components::confirm::ConfirmDialog;
use crate::components::envs::{EnvNames, env_options, use_env_names};
use crate::components::error::{FormErrorProps, form_error};
use crate::components::field::{SelectFieldProps, checked, select_field};
use crate::components::items::{ItemPicker, load_live, scope_field, set_options};
use crate::components::live_run::LiveRun;
use crate::components::load;
use crate::components::markup::{fact, th};
use crate::components::preview::{blockers_view, preview_view};
use crate::components::status_badge::status_badge;
use crate::format;
use crate::hooks::{use_interval, use_load};
use crate::pages::compare::ObjectTable;
use crate::pages::workspace::WsProps;
use crate::router::{Link, pairs, use_navigator};
use crate::session::use_session;

/// States in which the promotion moves on its own: the page polls it.
const MOVING: [&str; 4] = ["backing_up", "cutting_over", "verifying", "rolling_back"];

#[component]
pub fn PromotionsPage(props: &WsProps) -> Html {
    let ws = props.ws.clone();
    let session = use_session();
    let can_plan = session.can(&ws, Capability::RestorePreview);
    let list = use_load(ws.clone(), |ws| async move {
        api::get::<PromotionList>(&paths::promotions(&ws)).await
    });
    let envs = use_env_names(&ws);
    html! {
        <>
            <div class="page-head">
                <h1>{ "Promotions" }</h1>
                <Link to={Route::Mappings { ws: ws.clone() }}>{ "Mapping table" }</Link>
            </div>
            <p class="muted">{ "Promote objects of one environment's backup onto another: plan, dry-run, approval by a second member, cutover after a backup of the target, then verification. Rollback restores that backup." }</p>
            if can_plan {
                <NewPromotion ws={ws.clone()} envs={envs.clone()} />
            } else {
                <p class="muted" data-testid="promotion-readonly">{ "Planning a promotion needs the restore.preview permission." }</p>
            }
            <section class="panel" aria-labelledby="promotions-title">
                <h2 id="promotions-title">{ "Promotions" }</h2>
                { load::view(&list, "load the promotions", |l: &PromotionList| {
                    if l.items.is_empty() {
                        return load::empty(html! { <>{ "No promotion yet." }</> });
                    }
                    html! {
                        <div class="table-wrap"><table class="table" data-testid="promotion-list">
                            <thead><tr>{ th("Created") }{ th("Source \u{2192} target") }{ th("Items") }{ th("State") }{ th("By") }</tr></thead>
                            <tbody>{ for l.items.iter().map(|p| html! {
                                <tr data-state={p.state.clone()}>
                                    <td><Link to={Route::Promotion { ws: ws.clone(), promotion: p.id.clone() }}>{ format::when(p.created_ms) }</Link></td>
                                    <td>{ format!("{} \u{2192} {}", p.source_environment_name, p.target_environment_name) }</td>
                                    <td class="num">{ if p.items.is_empty() { "all".to_owned() } else { p.items.len().to_string() } }</td>
                                    <td>{ crate::components::status_badge::state_badge(p.status, &p.state, &crate::components::status_badge::words(&p.state), "promotion-status") }</td>
                                    <td>{ &p.created_by_email }</td>
                                </tr>
                            }) }</tbody>
                        </table></div>
                    }
                }) }
            </section>
        </>
    }
}

#[derive(Properties, PartialEq)]
struct NewProps {
    ws: String,
    envs: EnvNames,
}

/// Source, target, the source's backup set (its newest complete one by default) and the items.
#[component]
fn NewPromotion(props: &NewProps) -> Html {
    let ws = props.ws.clone();
    let source = use_state(String::new);
    let target = use_state(String::new);
    let set = use_state(String::new);
    // The target's inventory, for the picker's "differs from live" markers.
    let live = use_load((ws.clone(), (*target).clone()), |(ws, env)| async move {
        if env.is_empty() {
            return Ok(None);
        }
        load_live(&ws, &env).await.map(|l| Some(std::rc::Rc::new(l)))
    });
    let sets = use_load((ws.clone(), (*source).clone()), |(ws, src)| async move {
        if src.is_empty() {
            return Ok(None);
        }
        api::get::<BackupSetList>(&paths::backups(&ws, &src)).await.map(Some)
    });
    // The set whose items are offered: the chosen one, else the newest complete one.
    let newest = sets
        .state
        .ready()
        .and_then(|l| l.as_ref())
        .and_then(|l| {
            l.items
                .iter()
                .filter(|s| s.state == BackupSetStatus::Complete)
                .max_by_key(|s| s.created_ms)
        })
        .map(|s| s.id.clone())
        .unwrap_or_default();
    let listed = if set.is_empty() { newest.clone() } else { (*set).clone() };
    let detail = use_load(
        (ws.clone(), (*source).clone(), listed.clone()),
        |(ws, src, set)| async move {
            if src.is_empty() || set.is_empty() {
                return Ok(None);
            }
            api::get::<BackupSetDetail>(&paths::backup(&ws, &src, &set))
                .await
                .map(Some)
        },
    );
    let all_items = use_state(|| true);
    let chosen = use_state(Vec::<String>::new);
    let with_assignments = use_state(|| true);
    let busy = use_state(|| false);
    let error = use_state(|| None::<ApiError>);
    let navigator = use_navigator();
    let onsubmit = {
        let (source, target, set, all_items, chosen, with_assignments, busy, error, ws) = (
            source.clone(),
            target.clone(),
            set.clone(),
            all_items.clone(),
            chosen.clone(),
            with_assignments.clone(),
            busy.clone(),
            error.clone(),
            ws.clone(),
        );
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let body = PromotionCreate {
                source_environment_id: (*source).clone(),
                target_environment_id: (*target).clone(),
                backup_set_id: (!set.is_empty()).then(|| (*set).clone()),
                items: (!*all_items).then(|| (*chosen).clone()),
                include_assignments: Some(*with_assignments),
            };
            let (busy, error, ws, navigator) = (busy.clone(), error.clone(), ws.clone(), navigator.clone());
            busy.set(true);
            spawn_local(async move {
                match api::post::<_, Promotion>(&paths::promotions(&ws), &body).await {
                    Ok(p) => navigator.push(&Route::Promotion { ws, promotion: p.id }),
                    Err(e) => {
                        error.set(Some(e));
                        busy.set(false);
                    }
                }
            });
        })
    };
    let err = (*error).clone();
    let field = |name: &str| err.as_ref().and_then(|e| e.field(name));
    let set_options = set_options(sets.state.ready().and_then(Option::as_ref), "Newest complete set");
    let pick = |state: &UseStateHandle<String>, reset: bool| {
        let (state, set, chosen) = (state.clone(), set.clone(), chosen.clone());
        Callback::from(move |v: String| {
            if reset {
                set.set(String::new());
                chosen.set(Vec::new());
            }
            state.set(v);
        })
    };
    let ready = !source.is_empty() && !target.is_empty() && *source != *target && (*all_items || !chosen.is_empty());
    html! {
        <form class="panel form" {onsubmit} aria-labelledby="new-promotion-title" data-testid="promotion-new">
            <h2 id="new-promotion-title">{ "New promotion" }</h2>
            { select_field(&yew::props!(SelectFieldProps { id: "promotion-source", label: "Source environment", value: (*source).clone(), options: env_options(&props.envs, "Choose the source"), onchange: pick(&source, true), error: field("source_environment_id") })) }
            { select_field(&yew::props!(SelectFieldProps { id: "promotion-target", label: "Target environment", value: (*target).clone(), options: env_options(&props.envs, "Choose the target"), onchange: pick(&target, false), error: field("target_environment_id") })) }
            if !source.is_empty() {
                { select_field(&yew::props!(SelectFieldProps { id: "promotion-set", label: "Backup set of the source", value: (*set).clone(), options: set_options, onchange: { let (s, c) = (set.clone(), chosen.clone()); Callback::from(move |v| { c.set(Vec::new()); s.set(v) }) }, error: field("backup_set_id") })) }
            }
            { scope_field("promotion-scope", &all_items) }
            if !*all_items {
                { match detail.state.ready().cloned().flatten() {
                    Some(d) => html! { <ItemPicker items={std::rc::Rc::new(d.items)} chosen={chosen.clone()} live={live.state.ready().cloned().flatten()} /> },
                    None if listed.is_empty() && !source.is_empty() && sets.state.ready().is_some() =>
                        html! { <p class="muted">{ "The source has no complete backup set: run a backup first." }</p> },
                    None => html! { <p class="muted">{ "Choose the source to list the items of its backup." }</p> },
                } }
                if let Some(e) = field("items") { <p class="field__error">{ e }</p> }
            }
            <label class="check"><input type="checkbox" checked={*with_assignments}
                onchange={{ let a = with_assignments.clone(); Callback::from(move |e: Event| a.set(checked(&e))) }} />{ " Promote assignments too (groups and filters mapped)" }</label>
            { form_error(&yew::props!(FormErrorProps { error: err.clone() })) }
            <div class="actions">
                <button type="submit" class="button" disabled={!ready || *busy} data-testid="promotion-create">
                    { if *busy { "Planning\u{2026}" } else { "Plan the promotion" } }</button>
            </div>
        </form>
    }
}

#[derive(Properties, PartialEq)]
pub struct PromotionProps {
    pub ws: String,
    pub promotion: String,
}

/// A step action: which, and its request.
#[derive(Clone, Copy, PartialEq)]
enum Act {
    Plan,
    DryRun,
    Approve,
    Cutover,
    Rollback,
    Cancel,
}

#[component]
pub fn PromotionPage(props: &PromotionProps) -> Html {
    let session = use_session();
    let key = (props.ws.clone(), props.promotion.clone());
    let promotion = use_load(key.clone(), |(ws, p)| async move {
        api::get::<Promotion>(&paths::promotion(&ws, &p)).await
    });
    let moving = promotion
        .state
        .ready()
        .is_some_and(|p| MOVING.contains(&p.state.as_str()));
    use_interval(2000, moving, promotion.reload.clone());
    let busy = use_state(|| None::<Act>);
    let failed = use_state(|| None::<(Act, ApiError)>);
    // Which typed confirmation is open (cutover or rollback).
    let confirming = use_state(|| None::<Act>);
    let act = {
        let (key, busy, failed, confirming, reload) = (
            key.clone(),
            busy.clone(),
            failed.clone(),
            confirming.clone(),
            promotion.reload.clone(),
        );
        let current = promotion.state.ready().and_then(|p| p.plan_fingerprint.clone());
        move |a: Act| {
            let (key, busy, failed, confirming, reload, fingerprint) = (
                key.clone(),
                busy.clone(),
                failed.clone(),
                confirming.clone(),
                reload.clone(),
                current.clone().unwrap_or_default(),
            );
            Callback::from(move |typed: Option<String>| {
                let (ws, p) = (key.0.clone(), key.1.clone());
                let decision = PromotionDecision {
                    plan_fingerprint: fingerprint.clone(),
                    confirm: typed,
                };
                let (busy, failed, confirming, reload) =
                    (busy.clone(), failed.clone(), confirming.clone(), reload.clone());
                busy.set(Some(a));
                spawn_local(async move {
                    let result = match a {
                        Act::Plan => api::post_unit(&paths::promotion_plan(&ws, &p)).await,
                        Act::DryRun => api::post_unit(&paths::promotion_dry_run(&ws, &p)).await,
                        Act::Cancel => api::post_unit(&paths::promotion_cancel(&ws, &p)).await,
                        Act::Approve => api::post_no_content(&paths::promotion_approve(&ws, &p), &decision).await,
                        Act::Cutover => api::post_no_content(&paths::promotion_cutover(&ws, &p), &decision).await,
                        Act::Rollback => api::post_no_content(&paths::promotion_rollback(&ws, &p), &decision).await,
                    };
                    match result {
                        Ok(()) => {
                            failed.set(None);
                            confirming.set(None);
                        }
                        Err(e) => failed.set(Some((a, e))),
                    }
                    busy.set(None);
                    reload.emit(());
                });
            })
        }
    };
    let ws = props.ws.clone();
    let can_preview = session.can(&ws, Capability::RestorePreview);
    let can_execute = session.can(&ws, Capability::RestoreExecute);
    let me = session.me.email.clone();
    let on_done = {
        let reload = promotion.reload.clone();
        Callback::from(move |_| reload.emit(()))
    };
    load::view(&promotion, "load the promotion", |p: &Promotion| {
        let state = p.state.as_str();
        let open = matches!(state, "planned" | "approved");
        let plan_expired = p.plan_expires_ms.is_some_and(|t| t <= format::now_ms()) || state == "expired";
        let error_of = |a: Act| match &*failed {
            Some((x, e)) if *x == a => Some(e.clone()),
            _ => None,
        };
        // A step's button: shown only with the capability; `why` disables it with the reason.
        let button = |a: Act, label: &'static str, cap: bool, cap_name: &'static str, why: Option<&'static str>| {
            let onclick = act(a).reform(|_: MouseEvent| None);
            let doing = *busy == Some(a);
            html! {
                <div class="step-action">
                    if cap {
                        <button type="button" class="button" {onclick} disabled={why.is_some() || busy.is_some()}
                            data-testid={format!("action-{}", slug(label))}>
                            { if doing { "Working\u{2026}" } else { label } }</button>
                        if let Some(why) = why { <span class="muted">{ format!(" {why}") }</span> }
                    } else {
                        <p class="muted">{ format!("{label} needs the {cap_name} permission.") }</p>
                    }
                    { action_error(a, error_of(a)) }
                </div>
            }
        };
        let typed = |a: Act, title: &'static str, label: &'static str, body: Html| {
            if *confirming == Some(a) {
                let cancel = {
                    let c = confirming.clone();
                    Callback::from(move |()| c.set(None))
                };
                html! {
                    <ConfirmDialog id={format!("promotion-{}", slug(label))} {title}
                        opener={format!("[data-testid=promotion-{}-open]", slug(label))} expected={p.target_environment_name.clone()}
                        action_label={label} busy={busy.is_some()} error={error_of(a)}
                        on_confirm={act(a).reform(Some)} on_cancel={cancel}>{ body }</ConfirmDialog>
                }
            } else {
                let c = confirming.clone();
                html! {
                    <button type="button" class="button button--danger" onclick={Callback::from(move |_: MouseEvent| c.set(Some(a)))}
                        data-testid={format!("promotion-{}-open", slug(label))}>{ format!("{label}\u{2026}") }</button>
                }
            }
        };
        let dry_status = p.dry_run.as_ref().map(|d| d.status);
        let approve_why = if p.plan.as_ref().is_some_and(|x| !x.blockers.is_empty()) {
            Some("The plan has blockers.")
        } else if plan_expired {
            Some("The plan expired: plan again.")
        } else {
            match dry_status {
                None => Some("Run a dry-run first."),
                Some(Status::Blocked) => Some("The dry-run is Blocked."),
                _ => None,
            }
        };
        let mappings = pairs(&[
            ("source", &p.source_environment_id),
            ("target", &p.target_environment_id),
        ]);
        html! {
            <>
                <div class="page-head">
                    <h1>{ format!("Promote {} \u{2192} {}", p.source_environment_name, p.target_environment_name) }</h1>
                    <Link to={Route::Promotions { ws: ws.clone() }}>{ "All promotions" }</Link>
                </div>
                <p data-testid="promotion-state" data-state={p.state.clone()}>
                    { crate::components::status_badge::state_badge(p.status, &p.state, &crate::components::status_badge::words(state), "promotion-status") }
                    <span class="muted">{ format!(" \u{b7} planned by {} {} \u{b7} {} \u{b7} assignments {}", p.created_by_email, format::time(p.created_ms),
                        if p.items.is_empty() { "every item".to_owned() } else { format!("{} items", p.items.len()) },
                        if p.include_assignments { "included" } else { "left out" }) }</span>
                </p>
                if let Some(reason) = &p.reason { <p class="alert" role="status">{ reason }</p> }
                { stepper(p) }

                <section class="panel" id="step-plan" aria-labelledby="plan-title" data-testid="promotion-plan">
                    <div class="panel__header">
                        <h2 id="plan-title">{ "1. Plan" }</h2>
                        <Link to={Route::Mappings { ws: ws.clone() }} query={Some(mappings)}>{ "Mapping table" }</Link>
                    </div>
                    if let Some(plan) = &p.plan {
                        <dl class="facts">
                            { fact("Fingerprint", html! { <code data-testid="plan-fingerprint">{ p.plan_fingerprint.clone().unwrap_or_default() }</code> }) }
                            { fact("Expires", html! { if plan_expired { { status_badge("expired") } } else { { format::until(p.plan_expires_ms.unwrap_or_default()) } } }) }
                            { fact("Backup set", html! {
                                <Link to={Route::BackupSet { ws: ws.clone(), env: p.source_environment_id.clone(), set: p.backup_set_id.clone() }}>
                                    { format!("{} backup", p.source_environment_name) }{ " " }
                                    if let Some(ms) = format::ulid_ms(&p.backup_set_id) { { format::when(ms) } } else { { p.backup_set_id.clone() } }
                                </Link>
                            }) }
                        </dl>
                        { blockers_view(&plan.blockers, "Blocked: map these references, then plan again") }
                        { preview_view(plan, None) }
                    } else {
                        { load::empty(html! { <>{ "No plan yet." }</> }) }
                    }
                    if open || state == "expired" {
                        { button(Act::Plan, "Plan again", can_preview, "restore.preview", None) }
                    }
                </section>

                <section class="panel" id="step-dry-run" aria-labelledby="dry-title" data-testid="promotion-dry-run">
                    <div class="panel__header">
                        <h2 id="dry-title">{ "2. Dry-run" }</h2>
                        if let Some(s) = dry_status { { status_badge(s.as_str()) } }
                    </div>
                    <p class="muted">{ "Reads the target again and writes nothing: mapped references, permissions, Multi Admin Approval, conflicts, changes since the plan." }</p>
                    if let Some(d) = &p.dry_run {
                        <p class="muted">{ format!("Ran {} \u{b7} {} writes", format::time(d.ran_ms), d.writes) }</p>
                        <ul class="checks" data-testid="dry-run-checks">{ for d.checks.iter().map(|c| html! {
                            <li data-code={c.code.clone()} data-status={c.status.as_str()}>{ status_badge(c.status.as_str()) }{ " " }<strong>{ c.code.replace('_', " ") }</strong>{ ": " }{ &c.message }</li>
                        }) }</ul>
                    }
                    if open {
                        { button(Act::DryRun, if p.dry_run.is_some() { "Dry-run again" } else { "Dry-run" }, can_preview, "restore.preview",
                            p.plan.is_none().then_some("Plan first.")) }
                    }
                </section>

                <section class="panel" id="step-approval" aria-labelledby="approval-title" data-testid="promotion-approval">
                    <h2 id="approval-title">{ "3. Approval" }</h2>
                    if let Some(by) = &p.approved_by_email {
                        <p data-testid="approved-by">{ status_badge("ready") }{ format!(" Approved by {by} {}", format::time_opt(p.approved_ms)) }</p>
                    } else if p.created_by_email == me {
                        <p data-testid="waiting-approval">{ status_badge("pending") }{ " Waiting for a second member: you planned this promotion, so someone else with restore.execute must approve it." }</p>
                        { action_error(Act::Approve, error_of(Act::Approve)) }
                    } else if state == "planned" {
                        { button(Act::Approve, "Approve", can_execute, "restore.execute", approve_why) }
                    }
                </section>

                <section class="panel panel--danger" id="step-cutover" aria-labelledby="cutover-title" data-testid="promotion-cutover">
                    <h2 id="cutover-title">{ "4. Cutover" }</h2>
                    <p class="muted">{ "Backs up the target's affected families first; if the target changed since the plan, nothing is written." }</p>
                    if state == "approved" {
                        if !can_execute {
                            <p class="muted">{ "Cutover needs the restore.execute permission." }</p>
                        } else if plan_expired {
                            <p class="muted">{ "The plan expired: plan again, then get a new approval." }</p>
                        } else {
                            { typed(Act::Cutover, "Write this plan to the target", "Cut over", html! {
                                <p>{ "Bound to plan " }<code>{ p.plan_fingerprint.clone().unwrap_or_default() }</code>
                                    { format!(": {} to create, {} to update.", p.plan.as_ref().map_or(0, |x| x.summary.create), p.plan.as_ref().map_or(0, |x| x.summary.update)) }</p>
                            }) }
                        }
                    }
                    if let Some(run) = &p.pre_backup_run {
                        <h3>{ "Backup of the target" }</h3>
                        <LiveRun ws={ws.clone()} run={run.clone()} on_done={on_done.clone()} />
                    }
                    if let Some(run) = &p.cutover_run {
                        <h3>{ "Cutover" }</h3>
                        <LiveRun ws={ws.clone()} run={run.clone()} on_done={on_done.clone()} />
                    }
                </section>

                <section class="panel" id="step-verify" aria-labelledby="verify-title" data-testid="promotion-verify">
                    <h2 id="verify-title">{ "5. Verify" }</h2>
                    if let Some(v) = &p.verify {
                        <p data-testid="verify-summary">
                            { status_badge(if v.differences == 0 { "ready" } else { "needs_attention" }) }
                            { format!(" {} compared, {} differences \u{b7} {}", v.compared, v.differences, format::time(v.verified_ms)) }</p>
                        if !v.objects.is_empty() {
                            <ObjectTable objects={Rc::new(v.objects.clone())} a_label={p.source_environment_name.clone()} b_label={p.target_environment_name.clone()} />
                        }
                    } else {
                        <p class="muted">{ "After the cutover, every promoted object is read back from the target and compared with the source." }</p>
                    }
                </section>

                <section class="panel" id="step-rollback" aria-labelledby="rollback-title" data-testid="promotion-rollback">
                    <h2 id="rollback-title">{ "6. Rollback" }</h2>
                    if let (Some(_), false) = (&p.rollback_restore_id, can_preview) {
                        <p class="muted">{ "A rollback restore is drafted; a member with restore.preview opens and confirms it." }</p>
                    } else if let Some(r) = &p.rollback_restore_id {
                        <p><Link to={Route::Restore { ws: ws.clone(), env: p.target_environment_id.clone(), restore: r.clone() }}>
                            { "Open the rollback restore draft" }</Link>{ " \u{b7} preview and confirm it like any restore." }</p>
                    } else if p.pre_backup_set_id.is_some() && matches!(state, "verified" | "differences" | "failed") {
                        if can_execute {
                            { typed(Act::Rollback, "Draft a restore of the pre-cutover backup", "Roll back", html! {
                                <p>{ "Drafts a restore of the target's backup taken before the cutover, for the objects the promotion updated. Objects it created are listed, not deleted." }</p>
                            }) }
                        } else {
                            <p class="muted">{ "Rolling back needs the restore.execute permission." }</p>
                        }
                    } else {
                        <p class="muted">{ "Available after a cutover: restores the target's backup taken before it." }</p>
                    }
                </section>
                if open {
                    { button(Act::Cancel, "Cancel this promotion", can_preview, "restore.preview", None) }
                }
            </>
        }
    })
}

/// `Cut over` → `cut-over`: a label as an id.
fn slug(label: &str) -> String {
    label.to_lowercase().replace(' ', "-")
}

/// A failed step's message; a 403 says why an approval is refused.
fn action_error(a: Act, e: Option<ApiError>) -> Html {
    match e {
        Some(ApiError::Forbidden) if a == Act::Approve => html! {
            <p class="form-error" role="alert" data-testid="approve-forbidden">
                { "Refused: the approver must be a member other than the planner, with the restore.execute permission." }</p>
        },
        e => form_error(&yew::props!(FormErrorProps { error: e })),
    }
}

/// The steps, done or current, linking to their sections.
fn stepper(p: &Promotion) -> Html {
    let cut = matches!(
        p.state.as_str(),
        "verifying" | "verified" | "differences" | "rolling_back" | "rolled_back"
    );
    let steps = [
        ("Plan", "step-plan", p.plan.is_some()),
        ("Dry-run", "step-dry-run", p.dry_run.is_some()),
        ("Approval", "step-approval", p.approved_by_email.is_some()),
        ("Cutover", "step-cutover", cut),
        ("Verify", "step-verify", p.verify.is_some()),
        ("Rollback", "step-rollback", p.rollback_restore_id.is_some()),
    ];
    let current = steps.iter().position(|(_, _, done)| !done);
    html! {
        <ol class="steps" data-testid="promotion-steps">
            { for steps.iter().enumerate().map(|(i, (label, anchor, done))| {
                let now = current == Some(i);
                html! {
                    <li class={classes!("steps__item", done.then_some("steps__item--done"), now.then_some("steps__item--current"))}
                        aria-current={now.then_some("step")}>
                        <a href={format!("#{anchor}")}>{ format!("{} {label}", if *done { "\u{2713}" } else { "\u{25cb}" }) }</a>
                    </li>
                }
            }) }
        </ol>
    }
}
