//! Pages, one file per area, and the route → page mappings: the shell's bundle (`page`), the
//! second bundle (`more_page`) and the third (`promote_page`), ADR 0027.

pub mod admin;
pub mod alerts;
pub mod audit;
pub mod backups;
pub mod baselines;
pub mod compare;
pub mod dashboard;
pub mod drift;
pub mod environment;
pub mod evidence;
pub mod findings;
pub mod inventory;
pub mod lint;
pub mod mappings;
pub mod members;
pub mod not_found;
pub mod onboarding;
pub mod operations;
pub mod posture;
pub mod promotion;
pub mod provider;
pub mod restore;
pub mod sign_in;
pub mod support;
pub mod system;
pub mod workspace;
pub mod workspaces;

use yew::prelude::*;

use crate::app::Route;
use crate::components::lazy::{Lazy, MORE, PROMOTE};

pub fn page(route: Route) -> Html {
    match route {
        Route::Home | Route::Workspaces => html! { <workspaces::WorkspacesPage /> },
        Route::Workspace { ws } => html! { <workspace::WorkspacePage {ws} /> },
        Route::Operations { ws } => html! { <operations::OperationsPage {ws} /> },
        Route::Run { ws, run } => html! { <operations::RunPage {ws} {run} /> },
        Route::Findings { ws } => html! { <findings::FindingsPage {ws} /> },
        Route::Finding { ws, finding } => html! { <findings::FindingPage {ws} {finding} /> },
        Route::Environment { ws, env } => html! { <environment::EnvironmentPage {ws} {env} /> },
        Route::Provider { ws, env } => html! { <provider::ProviderPage {ws} {env} /> },
        Route::Inventory { ws, env } => html! { <inventory::InventoryListPage {ws} {env} /> },
        Route::Backups { ws, env } => html! { <backups::BackupsPage {ws} {env} /> },
        Route::BackupSet { ws, env, set } => html! { <backups::BackupSetPage {ws} {env} {set} /> },
        // In this bundle, beside the list table it shares with inventory, operations and backups.
        Route::Audit { ws } => html! { <audit::AuditPageView {ws} /> },
        // The second bundle's pages: loaded the first time one is opened.
        Route::Members { .. }
        | Route::Baselines { .. }
        | Route::Drift { .. }
        | Route::Lint { .. }
        | Route::Exceptions { .. }
        | Route::Alerts { .. }
        | Route::Posture { .. }
        | Route::Evidence { .. }
        | Route::AlertDelivery { .. } => html! { <Lazy bundle={MORE} /> },
        // The third bundle's: compare, the mapping table, promotions (spec 022), detail pages, restores, onboarding and admin, support, the system console.
        Route::Compare { .. }
        | Route::Mappings { .. }
        | Route::Promotions { .. }
        | Route::Promotion { .. }
        | Route::InventoryItem { .. }
        | Route::BackupItem { .. }
        | Route::BackupDiff { .. }
        | Route::Restores { .. }
        | Route::Restore { .. }
        | Route::Welcome
        | Route::AcceptInvitation
        | Route::Onboarding { .. }
        | Route::OnboardingDraft { .. }
        | Route::EnvironmentSettings { .. }
        | Route::ScheduleEdit { .. }
        | Route::Support { .. }
        | Route::System => {
            html! { <Lazy bundle={PROMOTE} /> }
        }
        // The app shell renders these without a session (`app::switch`): they never reach here.
        Route::SignIn | Route::Callback | Route::NotFound => html! { { not_found::not_found() } },
    }
}

/// The pages of the second bundle (`atlas-web-more`); nothing for the others, which the main
/// bundle renders itself.
pub fn more_page(route: Route) -> Html {
    match route {
        Route::Members { ws } => html! { <members::MembersPage {ws} /> },
        Route::Baselines { ws } => html! { <baselines::BaselinesPage {ws} /> },
        Route::Drift { ws, env } => html! { <drift::DriftPage {ws} {env} /> },
        Route::Lint { ws, env } => html! { <lint::LintPage {ws} {env} /> },
        Route::Exceptions { ws } => html! { <findings::ExceptionsPage {ws} /> },
        Route::Alerts { ws } => html! { <alerts::AlertsPage {ws} /> },
        Route::Posture { ws } => html! { <posture::PosturePage {ws} /> },
        Route::Evidence { ws } => html! { <evidence::EvidencePage {ws} /> },
        Route::AlertDelivery { ws, delivery } => html! { <alerts::DeliveryPage {ws} {delivery} /> },
        _ => Html::default(),
    }
}

/// The pages of the third bundle (`atlas-web-promote`): the workspace pages that span two
/// environments (spec 022); nothing for the others.
pub fn promote_page(route: Route) -> Html {
    match route {
        Route::Compare { ws } => html! { <compare::ComparePage {ws} /> },
        Route::Mappings { ws } => html! { <mappings::MappingsPage {ws} /> },
        Route::Promotions { ws } => html! { <promotion::PromotionsPage {ws} /> },
        Route::Promotion { ws, promotion } => html! { <promotion::PromotionPage {ws} {promotion} /> },
        // Detail pages and the restore wizard (which shares the preview with promotions): here to
        // keep the first two bundles within the 400 KB budget.
        Route::InventoryItem { ws, env, family, item } => {
            html! { <inventory::InventoryItemPage {ws} {env} {family} {item} /> }
        }
        Route::BackupItem {
            ws,
            env,
            set,
            family,
            item,
        } => {
            html! { <backups::BackupItemPage {ws} {env} {set} {family} {item} /> }
        }
        Route::BackupDiff { ws, env, set, other } => html! { <backups::BackupDiffPage {ws} {env} {set} {other} /> },
        Route::Restores { ws, env } => html! { <restore::RestoresPage {ws} {env} /> },
        Route::Restore { ws, env, restore } => html! { <restore::RestorePage {ws} {env} {restore} /> },
        Route::Welcome => html! { <admin::WelcomePage /> },
        Route::AcceptInvitation => html! { <admin::AcceptInvitationPage /> },
        Route::Onboarding { ws } => html! { <onboarding::OnboardingPage {ws} /> },
        Route::OnboardingDraft { ws, draft } => html! { <onboarding::DraftPage {ws} {draft} /> },
        Route::EnvironmentSettings { ws, env } => html! { <admin::EnvironmentSettingsPage {ws} {env} /> },
        Route::ScheduleEdit { ws, env, schedule } => html! { <admin::ScheduleEditPage {ws} {env} {schedule} /> },
        Route::Support { ws } => html! { <support::SupportPage {ws} /> },
        Route::System => html! { <system::SystemPage /> },
        _ => Html::default(),
    }
}
