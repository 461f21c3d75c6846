//! A small client-side router: the current [`Location`] in a context, updated on `popstate` and
//! on our own pushes, and the page of the current route; [`Navigator`] to push or replace; [`Link`] for `<a href>` that navigates in
//! place. The routes themselves (`Route::recognize`, `Route::to_path`) are in `app.rs`.
//! In-house rather than yew-router: that crate's generic recognizer and serde query
//! (de)serialization cost the bundle ~58 KB.

use atlas_api_types::paths::encode;
use wasm_bindgen::JsCast as _;
use wasm_bindgen::prelude::Closure;
use yew::prelude::*;

use crate::app::Route;

/// A link's or a push's query as ordered pairs (already without the empty values to leave out).
pub type QueryPairs = Vec<(&'static str, String)>;

/// Query pairs from named fields, the empty ones left out.
pub fn pairs(fields: &[(&'static str, &str)]) -> QueryPairs {
    fields
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|&(k, v)| (k, v.to_owned()))
        .collect()
}

/// The browser's path and decoded query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Location {
    pub path: String,
    pub query: Vec<(String, String)>,
}

impl Location {
    /// Where the browser is now.
    fn current() -> Self {
        let Some(l) = web_sys::window().map(|w| w.location()) else {
            return Self::default();
        };
        Self::parse(&l.pathname().unwrap_or_default(), &l.search().unwrap_or_default())
    }

    /// `path` as the browser gives it, `search` with or without its `?`.
    pub fn parse(path: &str, search: &str) -> Self {
        let query = search
            .strip_prefix('?')
            .unwrap_or(search)
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                let form = |s: &str| decode(&s.replace('+', " ")).unwrap_or_default();
                (form(k), form(v))
            })
            .collect();
        Self {
            path: path.to_owned(),
            query,
        }
    }

    /// The decoded value of the first `name` in the query.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The value of `name`, empty when absent: the query structs' fields.
    pub fn value(&self, name: &str) -> String {
        self.get(name).unwrap_or_default().to_owned()
    }
}

/// Percent-decodes (`%XX`; other bytes as they are). None when the result is not UTF-8.
pub fn decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            .and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
        match (b[i], hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// The URL of a route with a query: `path?k=v&…` (values percent-encoded).
pub fn href(to: &Route, query: &[(&str, String)]) -> String {
    let mut url = to.to_path();
    for (i, (k, v)) in query.iter().enumerate() {
        url.push(if i == 0 { '?' } else { '&' });
        url.push_str(k);
        url.push('=');
        url.push_str(&encode(v));
    }
    url
}

/// Moves the browser to another URL of the app without reloading it.
#[derive(Clone, PartialEq)]
pub struct Navigator {
    set: UseStateSetter<Location>,
}

impl Navigator {
    pub fn push(&self, to: &Route) {
        self.go(&to.to_path(), false);
    }

    pub fn push_with_query(&self, to: &Route, query: &[(&'static str, String)]) {
        self.go(&href(to, query), false);
    }

    /// Moves to `url` (a path of the app, with its query if any), as a new history entry.
    pub fn push_url(&self, url: &str) {
        self.go(url, false);
    }

    /// Replaces the current history entry with `url` (a path, with its query if any).
    pub fn replace_url(&self, url: &str) {
        self.go(url, true);
    }

    fn go(&self, url: &str, replace: bool) {
        if let Some(w) = web_sys::window() {
            if let Ok(history) = w.history() {
                let null = wasm_bindgen::JsValue::NULL;
                let _ = if replace {
                    history.replace_state_with_url(&null, "", Some(url))
                } else {
                    history.push_state_with_url(&null, "", Some(url))
                };
            }
            // The other bundle's router follows (a page of one bundle links to the other's).
            if let Ok(e) = web_sys::Event::new(NAVIGATE) {
                let _ = w.dispatch_event(&e);
            }
        }
        self.set.set(Location::current());
    }
}

/// The window event a push or replace fires, for the router of the other bundle.
const NAVIGATE: &str = "atlas:navigate";

#[derive(Properties)]
pub struct RouterProps {
    #[prop_or_default]
    pub children: Html,
    /// The page of a route (`app::switch` for the shell, `pages::more_page` or
    /// `pages::promote_page` for a lazy bundle).
    pub render: fn(Route) -> Html,
}

impl PartialEq for RouterProps {
    /// A router's page function is fixed for its life (each bundle passes its own): only the
    /// children decide whether it renders again.
    fn eq(&self, other: &Self) -> bool {
        self.children == other.children
    }
}

/// Provides the [`Location`] and the [`Navigator`] to everything inside it: its children, then
/// the page of the current route (`app::switch`).
#[component]
pub fn Router(props: &RouterProps) -> Html {
    let location = use_state_eq(Location::current);
    let navigator = Navigator { set: location.setter() };
    {
        let set = location.setter();
        use_effect_with((), move |()| {
            // Back and forward buttons.
            let on_pop = Closure::<dyn Fn()>::new(move || set.set(Location::current()));
            let window = web_sys::window();
            if let Some(w) = &window {
                for kind in ["popstate", NAVIGATE] {
                    let _ = w.add_event_listener_with_callback(kind, on_pop.as_ref().unchecked_ref());
                }
            }
            move || {
                if let Some(w) = &window {
                    for kind in ["popstate", NAVIGATE] {
                        let _ = w.remove_event_listener_with_callback(kind, on_pop.as_ref().unchecked_ref());
                    }
                }
            }
        });
    }
    html! {
        <ContextProvider<Navigator> context={navigator}>
            <ContextProvider<Location> context={(*location).clone()}>
                { props.children.clone() }
                { (props.render)(Route::recognize(&location.path)) }
            </ContextProvider<Location>>
        </ContextProvider<Navigator>>
    }
}

/// The navigator of the enclosing [`Router`].
#[hook]
pub fn use_navigator() -> Navigator {
    use_context::<Navigator>().expect("inside the router")
}

/// The current location; components using it render again when it changes.
#[hook]
pub fn use_location() -> Location {
    use_context::<Location>().expect("inside the router")
}

#[derive(Properties, PartialEq)]
pub struct LinkProps {
    pub to: Route,
    #[prop_or_default]
    pub query: Option<QueryPairs>,
    #[prop_or_default]
    pub classes: Classes,
    #[prop_or_default]
    pub children: Html,
}

/// `<a href>` with the real URL (open in a new tab works); a plain left click navigates in place.
/// A link to the page on screen says so to screen readers (`aria-current="page"`, issue 19 item 6).
#[component]
pub fn Link(props: &LinkProps) -> Html {
    let navigator = use_navigator();
    let here = Route::recognize(&use_location().path) == props.to;
    let href = href(&props.to, props.query.as_deref().unwrap_or_default());
    let onclick = {
        let href = href.clone();
        Callback::from(move |e: MouseEvent| {
            if e.button() == 0 && !(e.meta_key() || e.ctrl_key() || e.shift_key() || e.alt_key()) {
                e.prevent_default();
                navigator.go(&href, false);
            }
        })
    };
    html! {
        <a class={props.classes.clone()} {href} {onclick} aria-current={here.then_some("page")}>{ props.children.clone() }</a>
    }
}
