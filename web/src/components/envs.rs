//! The workspace's environments by name: selects and labels show names, never ids.

use std::rc::Rc;

use atlas_api_types::EnvironmentList;
use yew::prelude::*;

use crate::api::{self, paths};
use crate::hooks::use_load;

/// Environment id → display name, in the workspace's order.
pub type EnvNames = Rc<Vec<(String, String)>>;

/// The workspace's environments as (id, name) pairs, empty until loaded.
#[hook]
pub fn use_env_names(ws: &str) -> EnvNames {
    let envs = use_load(ws.to_owned(), |ws| async move {
        api::get::<EnvironmentList>(&paths::environments(&ws)).await
    });
    Rc::new(
        envs.state
            .ready()
            .map(|l| l.items.iter().map(|e| (e.id.clone(), e.display_name.clone())).collect())
            .unwrap_or_default(),
    )
}

/// The name of environment `id`, or the id while names load.
pub fn env_name(envs: &EnvNames, id: &str) -> String {
    envs.iter()
        .find(|(e, _)| e == id)
        .map_or_else(|| id.to_owned(), |(_, n)| n.clone())
}

/// `(value, label)` options for an environment select, led by a "choose" option.
pub fn env_options(envs: &EnvNames, choose: &str) -> Vec<(String, String)> {
    let mut options = vec![(String::new(), choose.to_owned())];
    options.extend(envs.iter().cloned());
    options
}

/// Why a suspended or archived environment's pages are read-only (spec 024); nothing when it is
/// active. The server refuses their changes either way.
pub fn lifecycle_banner(l: atlas_domain::EnvironmentLifecycle) -> Html {
    use atlas_domain::EnvironmentLifecycle as L;
    let why = match l {
        L::Active => return Html::default(),
        L::Suspended => {
            "This environment is suspended: its pages are read-only and no work runs for it until an owner or manager reactivates it."
        }
        L::Archived => {
            "This environment is archived: its pages are read-only, kept for the record, until an owner or manager reactivates it."
        }
    };
    html! { <div class="banner banner--warn" role="status" data-testid="lifecycle-banner" data-lifecycle={l.as_str()}>{ why }</div> }
}

#[derive(Properties, PartialEq)]
pub struct EnvRefProps {
    pub ws: String,
    pub env: String,
}

/// [`lifecycle_banner`] for a page that does not load its environment itself.
#[component]
pub fn LifecycleBanner(props: &EnvRefProps) -> Html {
    let env = use_load((props.ws.clone(), props.env.clone()), |(ws, env)| async move {
        api::get::<atlas_api_types::Environment>(&paths::environment(&ws, &env)).await
    });
    env.state
        .ready()
        .map(|e| lifecycle_banner(e.lifecycle))
        .unwrap_or_default()
}
