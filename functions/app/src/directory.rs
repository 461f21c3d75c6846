//! The environment's Entra groups by display name (issue 19 item 2): searched by prefix for the
//! restore's group mapping, or named by id for assignments. Read live from Graph with the
//! environment's consented connection (`Group.Read.All` is requested at consent), never stored:
//! group names change in Entra, not here.

use atlas_api_types as api;
use atlas_graph::{ApiVersion, BatchRequest, GraphError, TenantClient};
use serde_json::Value;

use crate::error::{ServiceError, ServiceResult};
use crate::scope::EnvScope;
use crate::state::AppState;

/// A search answers at most this many groups.
pub const SEARCH_LIMIT: usize = 25;
/// At most this many ids per request (five `$batch` calls).
pub const MAX_IDS: usize = 100;

/// What the caller asks for; the route has checked it.
pub enum Lookup {
    /// Display names starting with this (Graph's `startswith`, case-insensitive).
    Search(String),
    /// These group ids.
    Ids(Vec<String>),
}

/// Parses `search` / `ids` into a [`Lookup`], or the field at fault.
pub fn lookup(search: Option<&str>, ids: Option<&str>) -> Result<Lookup, (&'static str, String)> {
    match (search.map(str::trim), ids) {
        (Some(_), Some(_)) => Err(("query.ids", "give search or ids, not both".into())),
        (None, None) => Err(("query.search", "give search (a name prefix) or ids".into())),
        (Some(""), None) => Err(("query.search", "type at least one character".into())),
        (Some(s), None) if s.chars().count() > 120 => Err(("query.search", "at most 120 characters".into())),
        (Some(s), None) => Ok(Lookup::Search(s.to_owned())),
        (None, Some(ids)) => {
            let ids: Vec<String> = ids
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            if ids.is_empty() || ids.len() > MAX_IDS {
                return Err(("query.ids", format!("name 1 to {MAX_IDS} group ids, comma-separated")));
            }
            // Ids go into Graph URLs: only what an object id is made of.
            if let Some(bad) = ids
                .iter()
                .find(|id| id.len() > 64 || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
            {
                return Err(("query.ids", format!("{bad:?} is not a group id")));
            }
            Ok(Lookup::Ids(ids))
        }
    }
}

fn group(v: &Value) -> Option<api::DirectoryGroup> {
    Some(api::DirectoryGroup {
        id: v.get("id")?.as_str()?.to_owned(),
        display_name: v
            .get("displayName")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
    })
}

fn unreadable(e: GraphError) -> ServiceError {
    match e.must_wait() {
        Some(wait) => ServiceError::Wait(wait),
        None => ServiceError::Conflict(format!("the tenant's groups could not be read: {e}")),
    }
}

/// The groups asked for, by name.
pub async fn groups(state: &AppState, scope: &EnvScope, lookup: Lookup) -> ServiceResult<api::DirectoryGroupList> {
    let client = crate::provider::tenant_client(state, scope)
        .await?
        .ok_or_else(|| ServiceError::Conflict("connect the environment's provider first".into()))?;
    match lookup {
        Lookup::Search(prefix) => search(&client, &prefix).await,
        Lookup::Ids(ids) => by_ids(&client, ids).await,
    }
}

async fn search(client: &TenantClient, prefix: &str) -> ServiceResult<api::DirectoryGroupList> {
    // One page is enough: the operator narrows the prefix rather than pages through groups.
    let path = format!(
        "/v1.0/groups?$filter=startswith(displayName,'{}')&$select=id,displayName&$top={SEARCH_LIMIT}",
        prefix.replace('\'', "''")
    );
    let page = client.get(&path).await.map_err(unreadable)?;
    let mut items: Vec<api::DirectoryGroup> = page
        .get("value")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(group)
        .collect();
    items.sort_by_key(|g| g.display_name.to_lowercase());
    items.truncate(SEARCH_LIMIT);
    Ok(api::DirectoryGroupList {
        items,
        missing: Vec::new(),
    })
}

async fn by_ids(client: &TenantClient, mut ids: Vec<String>) -> ServiceResult<api::DirectoryGroupList> {
    ids.sort();
    ids.dedup();
    let requests = ids
        .iter()
        .map(|id| BatchRequest::get(id.clone(), format!("/groups/{id}?$select=id,displayName")))
        .collect();
    let answers = client.batch(ApiVersion::V1, requests).await.map_err(unreadable)?;
    let mut out = api::DirectoryGroupList::default();
    for a in answers {
        match a.result {
            Ok(item) if item.status == 200 => out.items.extend(group(&item.body)),
            Ok(item) if item.status == 404 => out.missing.push(a.id),
            Err(e) if e.is_not_found() => out.missing.push(a.id),
            Ok(item) => {
                return Err(ServiceError::Conflict(format!(
                    "the tenant's group {} could not be read: HTTP {}",
                    a.id, item.status
                )));
            }
            Err(e) => return Err(unreadable(e)),
        }
    }
    out.items.sort_by_key(|g| g.display_name.to_lowercase());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lookup_is_a_search_or_ids_and_ids_are_only_ids() {
        assert!(matches!(lookup(Some(" sg-"), None), Ok(Lookup::Search(s)) if s == "sg-"));
        assert!(matches!(lookup(None, Some("a-1, b-2,")), Ok(Lookup::Ids(v)) if v == ["a-1", "b-2"]));
        assert_eq!(lookup(None, None).err().unwrap().0, "query.search");
        assert_eq!(lookup(Some("  "), None).err().unwrap().0, "query.search");
        assert_eq!(lookup(Some("a"), Some("b")).err().unwrap().0, "query.ids");
        assert_eq!(lookup(None, Some("a/../me")).err().unwrap().0, "query.ids");
        assert_eq!(lookup(None, Some("a?$top=1")).err().unwrap().0, "query.ids");
        let many = vec!["x"; MAX_IDS + 1].join(",");
        assert_eq!(lookup(None, Some(&many)).err().unwrap().0, "query.ids");
    }
}
