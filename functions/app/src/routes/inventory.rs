//! The environment's inventory: start a sync run, list with filters, and one item's detail.

use atlas_api_types as api;
use atlas_store::{Item, Key, Query};
use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::extract::QueryMap;
use crate::inventory;
use crate::scope::EnvScope;
use crate::state::AppState;
use crate::tenancy::s;

pub const LIST_QUERY: &[&str] = &["family", "status", "search", "cursor", "limit"];
/// A sync of every family may take a while on a large tenant.
pub const SYNC_DEADLINE_MS: i64 = 60 * 60 * 1000;

pub async fn start_sync(State(state): State<AppState>, scope: EnvScope) -> ApiResult<Response> {
    let conn = state.table.get(&crate::provider::key(&scope)).await?;
    if conn.as_ref().and_then(|c| c.get("lifecycle")).and_then(Value::as_str) != Some("consented") {
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
    let status = q.get("status");
    if status.is_some_and(|s| s != "active" && s != "deleted") {
        return Err(ApiError::field("query.status", "must be active or deleted"));
    }
    let search = q.get("search").map(str::to_lowercase);
    let limit = q.int("limit", 1, 500)?.unwrap_or(100) as usize;
    let prefix = match family {
        Some(f) => format!("INV#{f}#"),
        None => "INV#".to_owned(),
    };
    let mut query = Query::partition(scope.pk())
        .begins_with(prefix)
        .limit(200)
        .after(q.get("cursor").map(str::to_owned));
    let mut families = inventory::family_states(&state, &scope).await?;
    families.retain(|f| family.is_none_or(|want| f.family == want));
    let mut out: Vec<Item> = Vec::new();
    for _ in 0..20 {
        let page = state.table.query(&query).await?;
        let count = page.items.len();
        for (idx, i) in page.items.into_iter().enumerate() {
            let ok = status.is_none_or(|st| s(&i, "status") == st)
                && search
                    .as_ref()
                    .is_none_or(|needle| s(&i, "name").to_lowercase().contains(needle));
            if ok {
                out.push(i);
                if out.len() == limit {
                    let last = out.last().expect("non-empty");
                    let mut key = Item::new();
                    key.insert("PK".into(), json!(scope.pk()));
                    key.insert("SK".into(), last["SK"].clone());
                    let more = page.next.is_some() || idx + 1 < count;
                    let next = more.then(|| atlas_store::table::encode_cursor(&key));
                    return Ok(Json(api::InventoryPage {
                        items: out.iter().map(|i| inventory::item_api(i, false)).collect(),
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
                    items: out.iter().map(|i| inventory::item_api(i, false)).collect(),
                    next: None,
                    families,
                }));
            }
        }
    }
    let next = query.cursor.take();
    Ok(Json(api::InventoryPage {
        items: out.iter().map(|i| inventory::item_api(i, false)).collect(),
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
    let i = state
        .table
        .get(&Key::new(scope.pk(), format!("INV#{family}#{item}")))
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(inventory::item_api(&i, true)))
}
