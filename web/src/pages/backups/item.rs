//! One captured object of a set, as stored (secret-looking values redacted).

use yew::prelude::*;

use crate::api::{self, paths};
use crate::app::Route;
use crate::components::json::json_view;
use crate::components::load;
use crate::hooks::use_load;
use crate::router::Link;

#[derive(Properties, PartialEq)]
pub struct BackupItemProps {
    pub ws: String,
    pub env: String,
    pub set: String,
    pub family: String,
    pub item: String,
}

#[component]
pub fn BackupItemPage(props: &BackupItemProps) -> Html {
    let key = (
        props.ws.clone(),
        props.env.clone(),
        props.set.clone(),
        props.family.clone(),
        props.item.clone(),
    );
    let json = use_load(key.clone(), |(ws, env, set, family, item)| async move {
        api::get::<serde_json::Value>(&paths::backup_item(&ws, &env, &set, &family, &item)).await
    });
    let (ws, env, set, family, item) = key;
    html! {
        <>
            <div class="page-head">
                <h1>{ format!("{family} / {item}") }</h1>
                <Link to={Route::BackupSet { ws, env, set }}>{ "Back to the set" }</Link>
            </div>
            <p class="muted">{ "The captured object as stored in the backup; secret-looking values are redacted." }</p>
            { load::view(&json, "load the captured object", |v: &serde_json::Value| html! { { json_view(v, "Captured object") } }) }
        </>
    }
}
