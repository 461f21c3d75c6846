//! TenantAtlas operators' web app: a client-side rendered Yew app served next to the API, in three
//! bundles (ADR 0027). `atlas-web` (src/main.rs) is the shell and the pages operators open every
//! day; `atlas-web-more` (src/bin/atlas-web-more.rs) and `atlas-web-promote` (compare, mapping
//! table, promotions) hold the rest, each loaded the first time one of its pages is opened, so the
//! first load stays within the size budget as pages are added.

pub mod api;
pub mod app;
pub mod auth;
pub mod components;
pub mod families;
pub mod format;
pub mod hooks;
pub mod more;
pub mod pages;
pub mod router;
pub mod session;
