//! TenantAtlas operators' web app: a client-side rendered Yew app served next to the API.

mod api;
mod app;
mod auth;
mod components;
mod families;
mod format;
mod hooks;
mod pages;
mod router;
mod session;

fn main() {
    yew::Renderer::<app::App>::new().render();
}
