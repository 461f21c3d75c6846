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
