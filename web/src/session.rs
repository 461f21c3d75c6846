//! The signed-in session as a context: who I am and what I may do in each workspace. The token
//! itself lives in sessionStorage (see `api::token`); this holds what `/api/v1/me` said.

use std::rc::Rc;

use atlas_api_types::Me;
use atlas_domain::Capability;
use yew::prelude::*;

#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub me: Rc<Me>,
}

impl Session {
    /// Whether I hold `cap` in `ws`. Only hides controls: the server checks every request again.
    pub fn is_member(&self, ws: &str) -> bool {
        self.me.memberships.iter().any(|m| m.workspace_id == ws)
    }

    pub fn can(&self, ws: &str, cap: Capability) -> bool {
        self.me
            .memberships
            .iter()
            .any(|m| m.workspace_id == ws && m.capabilities.iter().any(|c| c == cap.as_str()))
    }

    /// The workspace's name, as `/me` lists my memberships (its id when I am not a member).
    pub fn workspace_name<'a>(&'a self, ws: &'a str) -> &'a str {
        self.me
            .memberships
            .iter()
            .find(|m| m.workspace_id == ws)
            .map_or(ws, |m| m.workspace_name.as_str())
    }

    /// Why a control for `cap` is not offered: `None` when I hold it. Shown next to (or as the
    /// `title` of) the disabled control, so a read-only member knows why and whom to ask.
    pub fn lacks(&self, ws: &str, cap: Capability) -> Option<String> {
        if self.can(ws, cap) {
            return None;
        }
        let role = self
            .me
            .memberships
            .iter()
            .find(|m| m.workspace_id == ws)
            .map_or("none", |m| m.role.as_str());
        Some(format!(
            "Your role ({role}) does not include {}; an owner or manager can change it.",
            cap.as_str()
        ))
    }
}

/// The session; pages render only inside the signed-in shell, so it is always there.
#[hook]
pub fn use_session() -> Session {
    use_context::<Session>().expect("pages render inside the session provider")
}

/// The selected environment as shown by the shell; pages change it with [`use_select_environment`].
#[derive(Clone, PartialEq)]
pub struct Selection {
    pub set: Callback<(String, String)>,
}

/// Marks `env` as the environment the operator works in (UI context only, see below), once the
/// page has loaded it: an address that answered 404 selects nothing. A page that knows the
/// environment's display name passes it, so the shell and breadcrumbs show names, not ids.
#[hook]
pub fn use_select_environment(ws: &str, env: &str, loaded: bool, name: Option<String>) {
    let selection = use_context::<Selection>();
    use_effect_with(
        (ws.to_owned(), env.to_owned(), loaded, name),
        move |(ws, env, loaded, name)| {
            if *loaded {
                if let Some(name) = name {
                    remember_environment_name(ws, env, name);
                }
                select_environment(ws, env);
                if let Some(s) = selection {
                    s.set.emit((ws.clone(), env.clone()));
                }
            }
        },
    );
}

/// Remembers `env`'s display name for the shell and breadcrumbs (pages that list environments
/// call this with what they loaded).
pub fn remember_environment_name(ws: &str, env: &str, name: &str) {
    if let Some(s) = storage() {
        let _ = s.set_item(&format!("atlas.envname.{ws}.{env}"), name);
    }
}

/// The display name of `env`, as a page that loaded it last said; its id until then.
pub fn environment_name(ws: &str, env: &str) -> String {
    known_name(ws, env).unwrap_or_else(|| env.to_owned())
}

fn known_name(ws: &str, env: &str) -> Option<String> {
    storage().and_then(|s| s.get_item(&format!("atlas.envname.{ws}.{env}")).ok().flatten())
}

type Waiters = std::collections::HashMap<String, Vec<Box<dyn FnOnce()>>>;

thread_local! {
    /// Workspaces whose environment list is being (or was) read for names, and who waits for it.
    static NAMES: std::cell::RefCell<(std::collections::HashSet<String>, Waiters)> = Default::default();
}

/// Calls `done` once the names of `ws`'s environments are remembered: at once when they were
/// read already, else after one `GET …/environments` per workspace and page load, however many
/// names wait for it (a deep link opened in a fresh tab, issue 19 item 2).
fn with_names(ws: &str, done: impl FnOnce() + 'static) {
    enum Next {
        Wait,
        Now(Box<dyn FnOnce()>),
        Fetch,
    }
    let next = NAMES.with(|n| {
        let (asked, waiting) = &mut *n.borrow_mut();
        if let Some(w) = waiting.get_mut(ws) {
            w.push(Box::new(done));
            Next::Wait
        } else if asked.contains(ws) {
            Next::Now(Box::new(done))
        } else {
            asked.insert(ws.to_owned());
            waiting.insert(ws.to_owned(), vec![Box::new(done)]);
            Next::Fetch
        }
    });
    match next {
        Next::Wait => {}
        Next::Now(done) => done(),
        Next::Fetch => {
            let ws = ws.to_owned();
            wasm_bindgen_futures::spawn_local(async move {
                let path = crate::api::paths::environments(&ws);
                if let Ok(list) = crate::api::get::<atlas_api_types::EnvironmentList>(&path).await {
                    for e in list.items {
                        remember_environment_name(&ws, &e.id, &e.display_name);
                    }
                }
                for w in NAMES.with(|n| n.borrow_mut().1.remove(&ws)).unwrap_or_default() {
                    w();
                }
            });
        }
    }
}

#[derive(Properties, PartialEq)]
pub struct EnvNameProps {
    pub ws: AttrValue,
    pub env: AttrValue,
}

/// An environment's display name where an operator reads it: remembered from a page that
/// listed it, else read once from the workspace's environment list; its id meanwhile.
#[component]
pub fn EnvName(props: &EnvNameProps) -> Html {
    let name = use_state(|| known_name(&props.ws, &props.env));
    {
        let name = name.clone();
        use_effect_with((props.ws.clone(), props.env.clone()), move |(ws, env)| {
            let found = known_name(ws, env);
            if found.is_none() {
                let (ws2, env2) = (ws.to_string(), env.to_string());
                with_names(ws, move || name.set(known_name(&ws2, &env2)));
            } else if *name != found {
                name.set(found);
            }
        });
    }
    html! { <>{ (*name).clone().unwrap_or_else(|| props.env.to_string()) }</> }
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok()?
}

/// The environment the operator last worked in, per workspace: UI context only. The server never
/// remembers it; the run viewer sends it so the API can say whether the run's environment differs.
pub fn selected_environment(ws: &str) -> Option<String> {
    storage()?.get_item(&format!("atlas.env.{ws}")).ok()?
}

/// The window event telling the shell that a page (of either bundle) selected an environment.
pub const SELECT_EVENT: &str = "atlas:select";

fn select_environment(ws: &str, env: &str) {
    if let Some(s) = storage() {
        let _ = s.set_item(&format!("atlas.env.{ws}"), env);
    }
    // A page of the second bundle has no `Selection` context: the shell hears this instead.
    if let (Some(w), Ok(e)) = (web_sys::window(), web_sys::Event::new(SELECT_EVENT)) {
        let _ = w.dispatch_event(&e);
    }
}
