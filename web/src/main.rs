//! The main bundle: the app shell and its everyday pages.

fn main() {
    yew::Renderer::<atlas_web::app::App>::new().render();
}
