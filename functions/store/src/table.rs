//! The table port: the single-table operations we use, whatever serves them.

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use serde_json::{Map, Value};

use crate::capacity::{self, Meter};
use crate::codec;
use crate::expr::{Cond, SkCond, Update};

/// An item: top-level attributes as JSON. `PK` and `SK` are strings; `GSI1PK`/`GSI1SK` optional.
pub type Item = Map<String, Value>;

pub const PK: &str = "PK";
pub const SK: &str = "SK";
pub const GSI1PK: &str = "GSI1PK";
pub const GSI1SK: &str = "GSI1SK";
/// DynamoDB's transaction limit.
pub const MAX_TX_ITEMS: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self {
            pk: pk.into(),
            sk: sk.into(),
        }
    }
    pub fn of(item: &Item) -> Result<Self, TableError> {
        let s = |a: &str| {
            item.get(a)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| TableError::Validation(format!("item has no string {a}")))
        };
        Ok(Self { pk: s(PK)?, sk: s(SK)? })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Index {
    #[default]
    Primary,
    Gsi1,
}

impl Index {
    pub fn key_attrs(self) -> (&'static str, &'static str) {
        match self {
            Index::Primary => (PK, SK),
            Index::Gsi1 => (GSI1PK, GSI1SK),
        }
    }
}

/// A query over one partition, optionally narrowed by the sort key.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub index: Index,
    pub pk: String,
    pub sk: SkCond,
    /// Ascending by sort key when true.
    pub forward: bool,
    pub limit: Option<u32>,
    /// The opaque `next` of the previous page.
    pub cursor: Option<String>,
    /// Eventually consistent on the primary index too (half the units): for what does not change
    /// once written. GSI queries always are.
    pub eventually: bool,
}

impl Query {
    pub fn partition(pk: impl Into<String>) -> Self {
        Self {
            pk: pk.into(),
            forward: true,
            ..Self::default()
        }
    }
    pub fn gsi1(pk: impl Into<String>) -> Self {
        Self {
            index: Index::Gsi1,
            pk: pk.into(),
            forward: true,
            ..Self::default()
        }
    }
    pub fn sk(mut self, c: SkCond) -> Self {
        self.sk = c;
        self
    }
    pub fn begins_with(self, prefix: impl Into<String>) -> Self {
        self.sk(SkCond::BeginsWith(prefix.into()))
    }
    pub fn eventually(mut self) -> Self {
        self.eventually = true;
        self
    }
    /// Strongly consistent: a primary-index query not asked to be eventually consistent.
    pub fn consistent(&self) -> bool {
        self.index == Index::Primary && !self.eventually
    }
    pub fn backward(mut self) -> Self {
        self.forward = false;
        self
    }
    pub fn limit(mut self, n: u32) -> Self {
        self.limit = Some(n);
        self
    }
    pub fn after(mut self, cursor: Option<String>) -> Self {
        self.cursor = cursor;
        self
    }
}

#[derive(Debug, Clone, Default)]
pub struct Page {
    pub items: Vec<Item>,
    /// Present when more may follow; pass it back as the query's cursor.
    pub next: Option<String>,
}

/// The last evaluated key of a page, opaque to callers.
pub fn encode_cursor(key: &Item) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(key).unwrap_or_default())
}

pub fn decode_cursor(cursor: &str) -> Result<Item, TableError> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| TableError::BadCursor)?;
    let v: Item = serde_json::from_slice(&bytes).map_err(|_| TableError::BadCursor)?;
    if v.values().all(Value::is_string) && v.contains_key(PK) && v.contains_key(SK) {
        Ok(v)
    } else {
        Err(TableError::BadCursor)
    }
}

/// One write of a transaction.
#[derive(Debug, Clone)]
pub enum TxItem {
    Put {
        item: Item,
        cond: Option<Cond>,
    },
    Update {
        key: Key,
        update: Update,
        cond: Option<Cond>,
    },
    Delete {
        key: Key,
        cond: Option<Cond>,
    },
    Check {
        key: Key,
        cond: Cond,
    },
}

impl TxItem {
    pub fn key(&self) -> Result<Key, TableError> {
        match self {
            TxItem::Put { item, .. } => Key::of(item),
            TxItem::Update { key, .. } | TxItem::Delete { key, .. } | TxItem::Check { key, .. } => Ok(key.clone()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    /// A write's condition did not hold: a typed conflict.
    #[error("the condition of the write did not hold")]
    ConditionFailed,
    /// Nothing of the transaction was written. One reason per item, in order: `None` for an item
    /// that was fine, else the reason code (e.g. `ConditionalCheckFailed`).
    #[error("transaction cancelled: {reasons:?}")]
    TransactionCanceled { reasons: Vec<Option<String>> },
    #[error("invalid request: {0}")]
    Validation(String),
    #[error("the pagination cursor is not valid")]
    BadCursor,
    #[error("throttled by the table")]
    Throttled,
    #[error("the table is unavailable: {0}")]
    Unavailable(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

/// What a backend implements. Callers use [`Table`], which adds transparent large-item handling.
#[async_trait]
pub trait RawTable: Send + Sync + 'static {
    /// `embedded` or `dynamodb`.
    fn kind(&self) -> &'static str;
    async fn get(&self, key: &Key) -> Result<Option<Item>, TableError>;
    /// An eventually consistent read: may miss a write of the last second, at half the units.
    /// For what does not change (a run's total) or where a second's staleness is harmless.
    async fn get_eventually(&self, key: &Key) -> Result<Option<Item>, TableError> {
        self.get(key).await
    }
    /// Returns the replaced item, if any.
    async fn put(&self, item: Item, cond: Option<Cond>) -> Result<Option<Item>, TableError>;
    /// Returns the item as it is after the update.
    async fn update(&self, key: &Key, update: &Update, cond: Option<Cond>) -> Result<Item, TableError>;
    /// Returns the deleted item, if any.
    async fn delete(&self, key: &Key, cond: Option<Cond>) -> Result<Option<Item>, TableError>;
    async fn query(&self, q: &Query) -> Result<Page, TableError>;
    /// All or nothing. Callers have checked the item count and distinct keys.
    async fn transact(&self, items: Vec<TxItem>) -> Result<(), TableError>;
    /// Independent writes, each with its own condition, answered one result per write, in order:
    /// for a put or delete the replaced item, for an update the new item, for a check `None`. Not
    /// atomic: some may fail while others are written. The embedded store commits them in one
    /// transaction (one flush); this default, which DynamoDB uses, sends them one by one, since
    /// `BatchWriteItem` takes no conditions. `Err` only when nothing could be tried.
    async fn batch(&self, writes: Vec<TxItem>) -> Result<Vec<Result<Option<Item>, TableError>>, TableError> {
        let mut out = Vec::with_capacity(writes.len());
        for w in writes {
            out.push(match w {
                TxItem::Put { item, cond } => self.put(item, cond).await,
                TxItem::Update { key, update, cond } => self.update(&key, &update, cond).await.map(Some),
                TxItem::Delete { key, cond } => self.delete(&key, cond).await,
                TxItem::Check { key, cond } => match self.get(&key).await {
                    Ok(i) if cond.eval(i.as_ref()) => Ok(None),
                    Ok(_) => Err(TableError::ConditionFailed),
                    Err(e) => Err(e),
                },
            });
        }
        Ok(out)
    }
    /// A cheap round trip proving the table answers.
    async fn ping(&self) -> Result<(), TableError>;
    /// Every raw item, in key order. For tests and diagnostics only: no request or step path
    /// may scan the table.
    async fn dump(&self) -> Result<Vec<Item>, TableError>;
}

/// The table as handlers use it: every operation of [`RawTable`], with items over DynamoDB's size
/// limit compressed and, when still too big, chunked — transparently, on every backend.
#[derive(Clone)]
pub struct Table {
    raw: Arc<dyn RawTable>,
    /// Charged with the capacity every operation through this handle consumes (ADR 0038).
    meter: Option<Arc<Meter>>,
    /// Shared by every clone: see [`Table::refuse_writes`].
    refusal: Arc<std::sync::RwLock<Option<WriteRefusal>>>,
}

/// Writes the store refuses, as a full disk or a read-only volume would.
#[derive(Debug, Clone)]
struct WriteRefusal {
    reason: String,
    /// Only keys whose sort key starts with one of these; empty: every write.
    sk_prefixes: Vec<String>,
}

/// The message of a write the store could not make (a full disk, a read-only volume, an injected
/// refusal): callers and health checks recognise it by this prefix.
pub const CANNOT_WRITE: &str = "the store cannot write";

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table").field("kind", &self.raw.kind()).finish()
    }
}

impl Table {
    pub fn new(raw: Arc<dyn RawTable>) -> Self {
        Self {
            raw,
            meter: None,
            refusal: Arc::default(),
        }
    }

    /// The same table, with what its operations consume charged to `meter` (and the meter's
    /// parents). A step unit gets one so its run can record its units.
    pub fn metered(&self, meter: Arc<Meter>) -> Self {
        Self {
            meter: Some(meter),
            ..self.clone()
        }
    }

    /// The meter this handle charges, if any.
    pub fn meter(&self) -> Option<Arc<Meter>> {
        self.meter.clone()
    }

    async fn metered_call<F: std::future::Future>(&self, f: F) -> F::Output {
        capacity::scoped(self.meter.clone(), f).await
    }

    /// [`Table::metered_call`], its charges traced under `label()` (only computed when tracing).
    async fn traced<F: std::future::Future>(&self, label: impl FnOnce() -> String, f: F) -> F::Output {
        let label = capacity::trace::enabled().then(label);
        capacity::trace::labelled(label, self.metered_call(f)).await
    }

    /// Fault injection at the port, the same on every backend (no root tricks needed to fill a disk):
    /// while `reason` is set, writes to items whose sort key starts with one of `sk_prefixes` (all
    /// writes when empty) fail with [`TableError::Unavailable`] `"the store cannot write: {reason}"`,
    /// as a full disk fails them; reads still answer. `None` lifts it. Nothing in the product sets it:
    /// tests and drills do.
    pub fn refuse_writes(&self, reason: Option<&str>, sk_prefixes: &[&str]) {
        let refusal = reason.map(|r| WriteRefusal {
            reason: r.to_owned(),
            sk_prefixes: sk_prefixes.iter().map(|p| (*p).to_owned()).collect(),
        });
        *self.refusal.write().unwrap_or_else(|e| e.into_inner()) = refusal;
    }

    fn check_write(&self, key: &Key) -> Result<(), TableError> {
        let guard = self.refusal.read().unwrap_or_else(|e| e.into_inner());
        match &*guard {
            Some(r) if r.sk_prefixes.is_empty() || r.sk_prefixes.iter().any(|p| key.sk.starts_with(p.as_str())) => {
                Err(TableError::Unavailable(format!("{CANNOT_WRITE}: {}", r.reason)))
            }
            _ => Ok(()),
        }
    }

    pub fn kind(&self) -> &'static str {
        self.raw.kind()
    }

    /// The backend under the codec: tests wrap it to inject a fault at a chosen write.
    pub fn raw(&self) -> Arc<dyn RawTable> {
        self.raw.clone()
    }

    pub async fn ping(&self) -> Result<(), TableError> {
        self.raw.ping().await
    }

    /// Every raw item, in key order: tests use it to prove a refused request changed nothing.
    pub async fn dump(&self) -> Result<Vec<Item>, TableError> {
        self.raw.dump().await
    }

    pub async fn get(&self, key: &Key) -> Result<Option<Item>, TableError> {
        self.get_with(key, true).await
    }

    /// [`RawTable::get_eventually`]: half the units of [`Table::get`], possibly a second stale.
    pub async fn get_eventually(&self, key: &Key) -> Result<Option<Item>, TableError> {
        self.get_with(key, false).await
    }

    async fn get_with(&self, key: &Key, consistent: bool) -> Result<Option<Item>, TableError> {
        let label = || format!("get{} {}", if consistent { "" } else { "~" }, key_label(key));
        let got = if consistent {
            self.traced(label, self.raw.get(key)).await?
        } else {
            self.traced(label, self.raw.get_eventually(key)).await?
        };
        match got {
            Some(item) => Ok(Some(self.decode(item).await?)),
            None => Ok(None),
        }
    }

    /// Writes the item; with `Cond::NotExists` a second create fails with `ConditionFailed`.
    pub async fn put(&self, item: Item, cond: Option<Cond>) -> Result<(), TableError> {
        let key = Key::of(&item)?;
        self.check_write(&key)?;
        let enc = codec::encode(item, &key, &ulid::Ulid::new().to_string())?;
        self.write_chunks(&enc.chunks).await?;
        match self
            .traced(|| format!("put {}", key_label(&key)), self.raw.put(enc.main, cond))
            .await
        {
            Ok(old) => {
                if let Some(old) = old {
                    self.drop_chunks_of(&key, &old).await;
                }
                Ok(())
            }
            Err(e) => {
                self.delete_chunks(&enc.chunks).await;
                Err(e)
            }
        }
    }

    pub async fn update(&self, key: &Key, update: &Update, cond: Option<Cond>) -> Result<Item, TableError> {
        check_update(update)?;
        self.check_write(key)?;
        let item = self
            .traced(
                || format!("update {}", key_label(key)),
                self.raw.update(key, update, cond),
            )
            .await?;
        self.decode(item).await
    }

    /// Atomically adds `by` to a number attribute and returns its new value.
    pub async fn increment(&self, key: &Key, attr: &str, by: i64) -> Result<i64, TableError> {
        self.check_write(key)?;
        let item = self
            .metered_call(self.raw.update(key, &Update::new().add(attr, by), None))
            .await?;
        item.get(attr)
            .and_then(Value::as_i64)
            .ok_or_else(|| TableError::Corrupt(format!("counter {attr} is not an integer")))
    }

    pub async fn delete(&self, key: &Key, cond: Option<Cond>) -> Result<bool, TableError> {
        self.check_write(key)?;
        let old = self
            .traced(|| format!("delete {}", key_label(key)), self.raw.delete(key, cond))
            .await?;
        match old {
            Some(old) => {
                self.drop_chunks_of(key, &old).await;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    pub async fn query(&self, q: &Query) -> Result<Page, TableError> {
        if q.limit == Some(0) {
            return Err(TableError::Validation("limit must be at least 1".into()));
        }
        if let Some(c) = &q.cursor {
            // A cursor continues the query that made it, and no other.
            let key = decode_cursor(c)?;
            let (pk_attr, sk_attr) = q.index.key_attrs();
            let same = key.get(pk_attr).and_then(Value::as_str) == Some(q.pk.as_str()) && key.contains_key(sk_attr);
            if !same {
                return Err(TableError::BadCursor);
            }
        }
        let mut page = self
            .traced(
                || {
                    format!(
                        "query {:?} {}/{}",
                        q.index,
                        capacity::trace::mask(&q.pk),
                        capacity::trace::mask(&format!("{:?}", q.sk))
                    )
                },
                self.raw.query(q),
            )
            .await?;
        let mut items = Vec::with_capacity(page.items.len());
        for item in page.items.drain(..) {
            items.push(self.decode(item).await?);
        }
        page.items = items;
        Ok(page)
    }

    /// Reads every page of a query. Use only where the partition is known to be bounded.
    pub async fn query_all(&self, q: Query) -> Result<Vec<Item>, TableError> {
        let mut q = q;
        let mut out = Vec::new();
        loop {
            let page = self.query(&q).await?;
            out.extend(page.items);
            match page.next {
                Some(next) => q.cursor = Some(next),
                None => return Ok(out),
            }
        }
    }

    /// All or nothing: up to 100 writes and checks on distinct items.
    pub async fn transact(&self, items: Vec<TxItem>) -> Result<(), TableError> {
        if items.is_empty() || items.len() > MAX_TX_ITEMS {
            return Err(TableError::Validation(format!(
                "a transaction holds 1 to {MAX_TX_ITEMS} items, not {}",
                items.len()
            )));
        }
        if items.len() == 1 && !matches!(items[0], TxItem::Check { .. }) {
            return self.transact_one(items.into_iter().next().expect("one item")).await;
        }
        let mut seen = HashSet::new();
        let mut chunks = Vec::new();
        let mut out = Vec::with_capacity(items.len());
        for it in items {
            let key = it.key()?;
            if !matches!(it, TxItem::Check { .. }) {
                self.check_write(&key)?;
            }
            if !seen.insert(key) {
                return Err(TableError::Validation(
                    "a transaction cannot touch one item twice".into(),
                ));
            }
            out.push(match it {
                TxItem::Put { item, cond } => {
                    let key = Key::of(&item)?;
                    let enc = codec::encode(item, &key, &ulid::Ulid::new().to_string())?;
                    chunks.extend(enc.chunks);
                    TxItem::Put { item: enc.main, cond }
                }
                TxItem::Update { key, update, cond } => {
                    check_update(&update)?;
                    TxItem::Update { key, update, cond }
                }
                other => other,
            });
        }
        self.write_chunks(&chunks).await?;
        let label = keys_label("tx", &out);
        let res = self.traced(|| label.unwrap_or_default(), self.raw.transact(out)).await;
        if res.is_err() {
            self.delete_chunks(&chunks).await;
        }
        res
    }

    /// A transaction of one write is that write: the same condition, the same all-or-nothing, at
    /// the standard rate instead of the transactional one (ADR 0044). Its refusal reads as the
    /// transaction's would.
    async fn transact_one(&self, item: TxItem) -> Result<(), TableError> {
        let res = match item {
            TxItem::Put { item, cond } => self.put(item, cond).await,
            TxItem::Update { key, update, cond } => self.update(&key, &update, cond).await.map(|_| ()),
            TxItem::Delete { key, cond } => self.delete(&key, cond).await.map(|_| ()),
            TxItem::Check { .. } => unreachable!("a lone check is sent as a transaction"),
        };
        res.map_err(|e| match e {
            TableError::ConditionFailed => TableError::TransactionCanceled {
                reasons: vec![Some("ConditionalCheckFailed".into())],
            },
            e => e,
        })
    }

    /// Independent writes (see [`RawTable::batch`]), one result per write, in order: `Ok(())`
    /// or why that write was refused (`ConditionFailed` when its condition did not hold). Puts
    /// go through the large-item codec like [`Table::put`].
    pub async fn batch(&self, writes: Vec<TxItem>) -> Result<Vec<Result<(), TableError>>, TableError> {
        let mut chunks: Vec<Vec<Item>> = Vec::with_capacity(writes.len());
        let mut raw = Vec::with_capacity(writes.len());
        let mut early: Vec<Option<TableError>> = Vec::with_capacity(writes.len());
        for w in writes {
            // A refused write (full disk) fails alone, as the others' results say.
            if !matches!(w, TxItem::Check { .. })
                && let Err(e) = w.key().and_then(|k| self.check_write(&k))
            {
                early.push(Some(e));
                continue;
            }
            let enc = match w {
                TxItem::Put { item, cond } => Key::of(&item)
                    .and_then(|key| codec::encode(item, &key, &ulid::Ulid::new().to_string()))
                    .map(|enc| (TxItem::Put { item: enc.main, cond }, enc.chunks)),
                TxItem::Update { key, update, cond } => {
                    check_update(&update).map(|()| (TxItem::Update { key, update, cond }, Vec::new()))
                }
                other => Ok((other, Vec::new())),
            };
            match enc {
                Ok((w, c)) => {
                    raw.push(w);
                    chunks.push(c);
                    early.push(None);
                }
                Err(e) => early.push(Some(e)),
            }
        }
        let all: Vec<Item> = chunks.iter().flatten().cloned().collect();
        self.write_chunks(&all).await?;
        let keys: Vec<Option<Key>> = raw
            .iter()
            .map(|w| {
                matches!(w, TxItem::Put { .. } | TxItem::Delete { .. })
                    .then(|| w.key().ok())
                    .flatten()
            })
            .collect();
        let label = keys_label("batch", &raw);
        let results = match self.traced(|| label.unwrap_or_default(), self.raw.batch(raw)).await {
            Ok(r) => r,
            Err(e) => {
                self.delete_chunks(&all).await;
                return Err(e);
            }
        };
        let mut done = Vec::with_capacity(results.len());
        for ((res, c), key) in results.into_iter().zip(chunks).zip(keys) {
            match res {
                Ok(old) => {
                    if let (Some(old), Some(key)) = (old, key) {
                        self.drop_chunks_of(&key, &old).await;
                    }
                    done.push(Ok(()));
                }
                Err(e) => {
                    self.delete_chunks(&c).await;
                    done.push(Err(e));
                }
            }
        }
        let mut done = done.into_iter();
        Ok(early
            .into_iter()
            .map(|e| match e {
                Some(e) => Err(e),
                None => done
                    .next()
                    .unwrap_or(Err(TableError::Unavailable("a write went unanswered".into()))),
            })
            .collect())
    }

    async fn decode(&self, item: Item) -> Result<Item, TableError> {
        let Some(chunked) = codec::chunk_ref(&item) else {
            return codec::decode(item, None);
        };
        let q = Query::partition(chunked.pk.clone()).begins_with(format!("{}#", chunked.version));
        let parts = self.raw_query_all(q).await?;
        codec::decode(item, Some(parts))
    }

    async fn raw_query_all(&self, mut q: Query) -> Result<Vec<Item>, TableError> {
        let mut out = Vec::new();
        loop {
            let page = self.metered_call(self.raw.query(&q)).await?;
            out.extend(page.items);
            match page.next {
                Some(next) => q.cursor = Some(next),
                None => return Ok(out),
            }
        }
    }

    async fn write_chunks(&self, chunks: &[Item]) -> Result<(), TableError> {
        for c in chunks {
            self.metered_call(self.raw.put(c.clone(), None)).await?;
        }
        Ok(())
    }

    async fn delete_chunks(&self, chunks: &[Item]) {
        for c in chunks {
            if let Ok(k) = Key::of(c)
                && let Err(e) = self.metered_call(self.raw.delete(&k, None)).await
            {
                tracing::warn!(error = %e, "could not delete an unused chunk");
            }
        }
    }

    /// Deletes the chunks an old version of an item referenced. Best effort: a leftover chunk is
    /// unreachable garbage, never wrong data, because readers follow the main item's version.
    async fn drop_chunks_of(&self, key: &Key, old: &Item) {
        let Some(r) = codec::chunk_ref(old) else {
            return;
        };
        let _ = key;
        let q = Query::partition(r.pk.clone()).begins_with(format!("{}#", r.version));
        match self.raw_query_all(q).await {
            Ok(parts) => self.delete_chunks(&parts).await,
            Err(e) => tracing::warn!(error = %e, "could not list old chunks"),
        }
    }
}

/// A key's shape for the trace: `pk/sk`, ids masked.
fn key_label(key: &Key) -> String {
    format!("{}/{}", capacity::trace::mask(&key.pk), capacity::trace::mask(&key.sk))
}

/// The trace label of a transaction or batch: its items' key shapes (only when tracing).
fn keys_label(kind: &str, items: &[TxItem]) -> Option<String> {
    capacity::trace::enabled().then(|| {
        // Distinct shapes only: a batch of 25 payloads is one shape.
        let keys: std::collections::BTreeSet<String> = items
            .iter()
            .filter_map(|i| i.key().ok())
            .map(|k| key_label(&k))
            .collect();
        format!("{kind} [{}]", keys.into_iter().collect::<Vec<_>>().join(", "))
    })
}

fn check_update(u: &Update) -> Result<(), TableError> {
    for a in u.attrs() {
        if [PK, SK].contains(&a) || a.starts_with(codec::RESERVED_PREFIX) {
            return Err(TableError::Validation(format!("attribute {a} cannot be updated")));
        }
    }
    if u.ops.is_empty() {
        return Err(TableError::Validation("an update needs at least one change".into()));
    }
    Ok(())
}
