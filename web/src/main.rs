//! TenantAtlas operators' web app: a client-side rendered Yew app served next to the API.

mod api;
mod app;
mod components;
mod pages;

fn main() {
    yew::Renderer::<app::App>::new().render();
}
