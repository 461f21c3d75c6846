//! The notification bell in the header (spec 016): my unread count, refreshed every 30 s; open,
//! my latest notifications with links to the run viewer, "Mark all read", and what I opted in to.

use atlas_api_types::{NotificationPage, NotificationPrefs, NotificationsRead};
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api::{self, paths};
use crate::app::Route;
use crate::format;
use crate::hooks::{use_interval, use_load};
use crate::router::Link;

#[component]
pub fn Bell() -> Html {
    let open = use_state(|| false);
    let page = use_load((), |()| async {
        api::get::<NotificationPage>(&api::with_query(&paths::my_notifications(), &[("limit", "10")])).await
    });
    let prefs = use_load((), |()| async {
        api::get::<NotificationPrefs>(&paths::my_notification_prefs()).await
    });
    use_interval(30_000, true, page.reload.clone());
    let unread = page.state.ready().map_or(0, |p| p.unread);
    let toggle = {
        let (open, reload) = (open.clone(), page.reload.clone());
        Callback::from(move |_: MouseEvent| {
            if !*open {
                reload.emit(());
            }
            open.set(!*open);
        })
    };
    let read_all = {
        let reload = page.reload.clone();
        Callback::from(move |_: MouseEvent| {
            let reload = reload.clone();
            spawn_local(async move {
                let _ = api::post_no_content(&paths::my_notifications_read(), &NotificationsRead::default()).await;
                reload.emit(());
            });
        })
    };
    let opt = |name: &'static str, label: &'static str, on: bool| {
        let reload = prefs.reload.clone();
        let current = prefs.state.ready().copied().unwrap_or_default();
        let onchange = Callback::from(move |e: Event| {
            let checked = e
                .target_dyn_into::<web_sys::HtmlInputElement>()
                .is_some_and(|i| i.checked());
            let mut next = current;
            match name {
                "run_completed" => next.run_completed = checked,
                "run_failed" => next.run_failed = checked,
                _ => next.run_blocked = checked,
            }
            let reload = reload.clone();
            spawn_local(async move {
                let _ = api::put::<_, NotificationPrefs>(&paths::my_notification_prefs(), &next).await;
                reload.emit(());
            });
        });
        html! { <label class="check"><input type="checkbox" name={name} checked={on} {onchange} />{ label }</label> }
    };
    let p = prefs.state.ready().copied().unwrap_or_default();
    // Following a notification's link closes the panel.
    let close = {
        let open = open.clone();
        Callback::from(move |_: MouseEvent| open.set(false))
    };
    html! {
        <div class="bell">
            <button type="button" id="bell" class="button button--quiet" aria-expanded={open.to_string()}
                aria-label={format!("Notifications, {unread} unread")} onclick={toggle}>
                { "Notifications" }
                if unread > 0 { { " " }<span class="badge badge--bad" data-testid="unread">{ if unread >= 100 { "99+".to_owned() } else { unread.to_string() } }</span> }
            </button>
            if *open {
                <div class="bell__panel panel" role="region" aria-label="Notifications">
                    { match page.state.ready() {
                        Some(p) if !p.items.is_empty() => html! {
                            <ul class="checks" data-testid="notifications">{ for p.items.iter().map(|n| html! {
                                <li class={classes!("notification", (!n.read).then_some("notification--unread"))} data-kind={n.kind.clone()} onclick={close.clone()}>
                                    <Link to={Route::recognize(&n.link)}>{ &n.title }</Link>
                                    <span class="muted">{ format!(" \u{b7} {}", format::time(n.at_ms)) }</span>
                                </li>
                            }) }</ul>
                        },
                        Some(_) => html! { <p class="muted">{ "No notifications. Choose below which of your runs tell you when they end." }</p> },
                        None => html! { <p class="muted">{ "Loading…" }</p> },
                    } }
                    if unread > 0 { <button type="button" id="bell-read-all" class="button button--quiet" onclick={read_all}>{ "Mark all read" }</button> }
                    <fieldset><legend>{ "Tell me when my runs" }</legend>
                        { opt("run_completed", "complete", p.run_completed) }
                        { opt("run_failed", "fail or partly fail", p.run_failed) }
                        { opt("run_blocked", "are blocked", p.run_blocked) }
                    </fieldset>
                </div>
            }
        </div>
    }
}
