//! Typed records: the one layer that knows the table's keys and attribute names.
//!
//! Layers (docs/architecture.md): routes → services → **records** → store ports. Every key of the
//! table is built here from the domain newtypes, and every stored entity is a serde struct that
//! implements [`Record`]. Services and routes never `format!` a key nor read an attribute by name.
//!
//! Workspace-owned data is reached through a scoped handle ([`WsRecords`], [`EnvRecords`]) that a
//! proven scope hands out: it takes sort keys only, so a handler cannot name another workspace's
//! partition. Records kept in their own partition for fan-out (a run, a backup set) carry their
//! workspace and are checked by [`Owned`] when read through the handle.

pub mod alerts;
pub mod audit;
pub mod backups;
pub mod dashboard;
pub mod drift;
pub mod evidence;
pub mod exceptions;
pub mod health;
pub mod inventory;
pub mod keys;
pub mod lint;
pub mod notifications;
pub mod onboarding;
pub mod packed;
pub mod posture;
pub mod promotion;
pub mod provider;
pub mod restore;
pub mod runs;
pub mod schedules;
pub mod support;
pub mod system;
pub mod tenancy;

use atlas_domain::{EnvironmentId, WorkspaceId};
use atlas_store::{Cond, Item, Key, Page, Query, Table, TableError, TxItem};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::scope::{EnvScope, WorkspaceScope};

/// A stored entity: the key comes from its own fields, the attributes from serde.
///
/// Unknown attributes are ignored when reading (older items keep working); a missing required
/// attribute is [`TableError::Corrupt`], never a default that hides it.
pub trait Record: Serialize + DeserializeOwned {
    /// The `entity` attribute stored with every item of this kind.
    const ENTITY: &'static str;

    fn key(&self) -> Key;

    /// The item to store: the struct's attributes plus `PK`, `SK` and `entity`.
    fn to_item(&self) -> Item {
        base_item(self)
    }

    fn from_item(item: Item) -> Result<Self, TableError> {
        serde_json::from_value(Value::Object(item))
            .map_err(|e| TableError::Corrupt(format!("{} record: {e}", Self::ENTITY)))
    }

    /// A transaction write that creates this record only if it does not exist.
    fn create(&self) -> TxItem {
        TxItem::Put {
            item: self.to_item(),
            cond: Some(Cond::NotExists),
        }
    }

    /// A transaction write that stores this record whatever was there.
    fn put(&self) -> TxItem {
        TxItem::Put {
            item: self.to_item(),
            cond: None,
        }
    }
}

/// A record's attributes plus `PK`, `SK` and `entity` (what [`Record::to_item`] stores unless a
/// record adds derived attributes, such as an index entry that follows its status).
pub fn base_item<R: Record>(r: &R) -> Item {
    let mut item = match serde_json::to_value(r) {
        Ok(Value::Object(m)) => m,
        // A record is always a struct; anything else is a programming error caught by tests.
        _ => panic!("record {} does not serialize to an object", R::ENTITY),
    };
    let key = r.key();
    let (pk, sk) = (key.pk, key.sk);
    item.insert("PK".into(), Value::String(pk));
    item.insert("SK".into(), Value::String(sk));
    item.insert("entity".into(), Value::String(R::ENTITY.into()));
    item
}

/// A versioned record's write: over the stored one only if that is still at `seen_version` (a
/// new record: only if none exists). The one way findings and exceptions are written.
pub fn versioned_put(item: Item, seen_version: Option<u64>) -> TxItem {
    TxItem::Put {
        item,
        cond: Some(match seen_version {
            None => Cond::NotExists,
            Some(v) => Cond::eq("version", v),
        }),
    }
}

/// A record stored outside its workspace's partition that names its workspace.
pub trait Owned: Record {
    fn workspace_id(&self) -> &str;
}

/// Reads one record by key (no scope: for steps that re-check the scope themselves, and for
/// records that belong to no workspace, such as a user).
pub async fn get<R: Record>(table: &Table, key: &Key) -> Result<Option<R>, TableError> {
    match table.get(key).await? {
        Some(item) => R::from_item(item).map(Some),
        None => Ok(None),
    }
}

/// [`get`], eventually consistent (half the read units): for what does not change once written.
pub async fn get_eventually<R: Record>(table: &Table, key: &Key) -> Result<Option<R>, TableError> {
    match table.get_eventually(key).await? {
        Some(item) => R::from_item(item).map(Some),
        None => Ok(None),
    }
}

/// One page of records.
pub struct Records<R> {
    pub items: Vec<R>,
    pub next: Option<String>,
}

pub fn decode_page<R: Record>(page: Page) -> Result<Records<R>, TableError> {
    Ok(Records {
        items: page.items.into_iter().map(R::from_item).collect::<Result<_, _>>()?,
        next: page.next,
    })
}

pub async fn query<R: Record>(table: &Table, q: &Query) -> Result<Records<R>, TableError> {
    decode_page(table.query(q).await?)
}

pub async fn query_all<R: Record>(table: &Table, q: Query) -> Result<Vec<R>, TableError> {
    table.query_all(q).await?.into_iter().map(R::from_item).collect()
}

/// A workspace's partition, handed out by a proven [`WorkspaceScope`]: sort keys only.
pub struct WsRecords<'a> {
    table: &'a Table,
    ws: &'a WorkspaceId,
}

impl<'a> WsRecords<'a> {
    pub fn workspace_id(&self) -> &WorkspaceId {
        self.ws
    }
    pub fn key(&self, sk: impl Into<String>) -> Key {
        Key::new(keys::ws_pk(self.ws), sk)
    }
    pub async fn get<R: Record>(&self, sk: impl Into<String>) -> Result<Option<R>, TableError> {
        get(self.table, &self.key(sk)).await
    }
    /// A query of this partition whose sort keys begin with `prefix`.
    pub fn query(&self, prefix: impl Into<String>) -> Query {
        Query::partition(keys::ws_pk(self.ws)).begins_with(prefix)
    }
    /// A record kept in its own partition, returned only when it belongs to this workspace.
    pub async fn owned<R: Owned>(&self, key: &Key) -> Result<Option<R>, TableError> {
        Ok(get::<R>(self.table, key)
            .await?
            .filter(|r| r.workspace_id() == self.ws.as_str()))
    }
}

/// An environment's partition, handed out by a proven [`EnvScope`]: sort keys only.
pub struct EnvRecords<'a> {
    table: &'a Table,
    ws: &'a WorkspaceId,
    env: &'a EnvironmentId,
}

impl<'a> EnvRecords<'a> {
    pub fn key(&self, sk: impl Into<String>) -> Key {
        Key::new(keys::env_pk(self.ws, self.env), sk)
    }
    pub async fn get<R: Record>(&self, sk: impl Into<String>) -> Result<Option<R>, TableError> {
        get(self.table, &self.key(sk)).await
    }
    pub fn query(&self, prefix: impl Into<String>) -> Query {
        Query::partition(keys::env_pk(self.ws, self.env)).begins_with(prefix)
    }
    pub fn workspace(&self) -> WsRecords<'a> {
        WsRecords {
            table: self.table,
            ws: self.ws,
        }
    }
}

impl WorkspaceScope {
    pub fn records<'a>(&'a self, table: &'a Table) -> WsRecords<'a> {
        WsRecords {
            table,
            ws: self.workspace_id(),
        }
    }
}

impl EnvScope {
    pub fn records<'a>(&'a self, table: &'a Table) -> EnvRecords<'a> {
        EnvRecords {
            table,
            ws: self.workspace().workspace_id(),
            env: self.environment_id(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Thing {
        workspace_id: String,
        name: String,
        #[serde(default)]
        count: i64,
    }

    impl Record for Thing {
        const ENTITY: &'static str = "thing";
        fn key(&self) -> Key {
            Key::new(format!("T#{}", self.workspace_id), self.name.clone())
        }
    }

    #[test]
    fn a_record_round_trips_with_its_key_and_entity() {
        let t = Thing {
            workspace_id: "ws-a".into(),
            name: "n".into(),
            count: 3,
        };
        let item = t.to_item();
        assert_eq!(item["PK"], "T#ws-a");
        assert_eq!(item["SK"], "n");
        assert_eq!(item["entity"], "thing");
        assert_eq!(Thing::from_item(item).unwrap(), t);
    }

    #[test]
    fn a_missing_attribute_is_corrupt_not_a_default() {
        let mut item = Item::new();
        item.insert("workspace_id".into(), "ws-a".into());
        let e = Thing::from_item(item).unwrap_err();
        assert!(
            matches!(&e, TableError::Corrupt(m) if m.contains("thing") && m.contains("name")),
            "{e}"
        );
    }
}
