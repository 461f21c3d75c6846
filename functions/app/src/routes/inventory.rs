//! The environment's inventory: start a sync run, list with filters, and one item's detail.

use atlas_api_types as api;
use atlas_store::Item;
use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::json;

use crate::error::{ApiError, ApiResult};
use crate::extract::QueryMap;
use crate::inventory;
use crate::records::inventory::{self as rec, InventoryItem};
use crate::records::{self, Record};
use crate::scope::EnvScope;
use crate::state::AppState;

pub const LIST_QUERY: &[&str] = &["family", "state", "search", "cursor", "limit"];
/// A sync of every family may take a while on a large tenant.
pub const SYNC_DEADLINE_MS: i64 = 60 * 60 * 1000;

pub async fn start_sync(State(state): State<AppState>, scope: EnvScope) -> ApiResult<Response> {
    if crate::provider::consented(&state, &scope).await?.is_none() {
        return Err(ApiError::Conflict("connect the environment's provider first".into()));
    }
    let units = inventory::families()
        .iter()
        .map(|f| (f.code.to_owned(), json!({})))
        .collect();
    let started = crate::runs::start(
        &state,
        &scope,
        atlas_domain::OperationType::InventorySync,
        "inventory-sync",
        units,
        SYNC_DEADLINE_MS,
    )
    .await?;
    Ok(crate::routes::operations::accepted(&scope, &started.run))
}

pub async fn list(State(state): State<AppState>, scope: EnvScope, q: QueryMap) -> ApiResult<Json<api::InventoryPage>> {
    let family = q.get("family");
    if let Some(f) = family.filter(|f| atlas_graph::families::Family::by_code(f).is_none()) {
        return Err(ApiError::field("query.family", format!("{f:?} is not a policy family")));
    }
    let status = q.get("state");
    if status.is_some_and(|s| s != "active" && s != "deleted") {
        return Err(ApiError::field("query.state", "must be active or deleted"));
    }
    let search = q.get("search").map(str::to_lowercase);
    let limit = q.int("limit", 1, 500)?.unwrap_or(100) as usize;
    let mut query = scope
        .records(&state.table)
        .query(rec::items_prefix(family))
        .limit(200)
        .after(q.get("cursor").map(str::to_owned));
    let mut families = inventory::family_states(&state, &scope).await?;
    families.retain(|f| family.is_none_or(|want| f.family == want));
    let mut out: Vec<InventoryItem> = Vec::new();
    for _ in 0..20 {
        let page = records::query::<InventoryItem>(&state.table, &query).await?;
        let count = page.items.len();
        for (idx, i) in page.items.into_iter().enumerate() {
            let ok = status.is_none_or(|st| i.status.as_str() == st)
                && search
                    .as_ref()
                    .is_none_or(|needle| i.view.name.to_lowercase().contains(needle));
            if ok {
                out.push(i);
                if out.len() == limit {
                    let last = out.last().expect("non-empty").key();
                    let mut key = Item::new();
                    key.insert("PK".into(), json!(last.pk));
                    key.insert("SK".into(), json!(last.sk));
                    let more = page.next.is_some() || idx + 1 < count;
                    let next = more.then(|| atlas_store::table::encode_cursor(&key));
                    return Ok(Json(api::InventoryPage {
                        items: out.iter().map(|i| i.to_api(false)).collect(),
                        next,
                        families,
                    }));
                }
            }
        }
        match page.next {
            Some(n) => query.cursor = Some(n),
            None => {
                return Ok(Json(api::InventoryPage {
                    items: out.iter().map(|i| i.to_api(false)).collect(),
                    next: None,
                    families,
                }));
            }
        }
    }
    let next = query.cursor.take();
    Ok(Json(api::InventoryPage {
        items: out.iter().map(|i| i.to_api(false)).collect(),
        next,
        families,
    }))
}

/// One item with its payload; secret-looking values are redacted.
pub async fn get(
    State(state): State<AppState>,
    scope: EnvScope,
    Path((_, _, family, item)): Path<(String, String, String, String)>,
) -> ApiResult<Json<api::InventoryItem>> {
    if atlas_graph::families::Family::by_code(&family).is_none() {
        return Err(ApiError::NotFound);
    }
    let i: InventoryItem = scope
        .records(&state.table)
        .get(rec::item_sk(&family, &item))
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(i.to_api(true)))
}
