//! The embedded backend: one SQLite file (WAL, `synchronous=FULL`) holding the table and the
//! queues, so local mode is durable and a crash loses no acknowledged write.
//!
//! Writes go to one writer thread that **group-commits**: the writes waiting when it is free run
//! in one SQLite transaction, each under its own savepoint (a write whose condition fails rolls
//! back alone), then one `COMMIT` — one flush for the group — and only then does each caller get
//! its answer. Each write still sees the ones before it, so conditions behave as if serial.

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;
use tokio::sync::Notify;
use tokio::sync::oneshot;

use crate::capacity::{self, Consumed};
use crate::clock::{Clock, IdGen, UlidIds};
use crate::expr::{Cond, SkCond, Update};
use crate::queue::{self, OutMessage, Queue, QueueError, QueueSpec, Received};
use crate::table::{
    GSI1PK, GSI1SK, Index, Item, Key, PK, Page, Query, RawTable, SK, TableError, TxItem, decode_cursor, encode_cursor,
};

/// Page size when a query sets no limit, standing in for DynamoDB's 1 MB page.
pub const DEFAULT_PAGE: u32 = 1_000;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS items (
    pk TEXT NOT NULL, sk TEXT NOT NULL, gsi1pk TEXT, gsi1sk TEXT, body TEXT NOT NULL,
    PRIMARY KEY (pk, sk)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS items_gsi1 ON items (gsi1pk, gsi1sk, pk, sk) WHERE gsi1pk IS NOT NULL;
CREATE TABLE IF NOT EXISTS queues (
    name TEXT PRIMARY KEY, max_receives INTEGER NOT NULL, dead_letter TEXT);
CREATE TABLE IF NOT EXISTS messages (
    id TEXT PRIMARY KEY, queue TEXT NOT NULL, seq INTEGER NOT NULL, body TEXT NOT NULL,
    visible_at INTEGER NOT NULL, receive_count INTEGER NOT NULL DEFAULT 0, receipt TEXT);
CREATE INDEX IF NOT EXISTS messages_ready ON messages (queue, visible_at, seq);
CREATE UNIQUE INDEX IF NOT EXISTS messages_receipt ON messages (receipt) WHERE receipt IS NOT NULL;
";

/// Idle read connections kept open; more are opened while many reads overlap, then closed.
const IDLE_READERS: usize = 8;

/// At most this many writes share one commit.
const GROUP_MAX: usize = 256;

/// Reports a write's answer once its group's commit is known (`Err`: the commit failed).
type Finish = Box<dyn FnOnce(Result<(), String>) + Send>;

/// A write for the writer thread: given the connection inside the group's transaction (or why
/// there is none), it runs and says whether to keep its changes, and how to report.
type Job = Box<dyn FnOnce(Result<&Connection, String>) -> (bool, Finish) + Send>;

/// The open store. Cheap to clone; every clone shares one writer connection and one pool of
/// readers: with WAL, a reader sees the last commit and never waits for the writer.
#[derive(Clone)]
pub struct EmbeddedStore {
    inner: Arc<Inner>,
}

struct Inner {
    /// The writer thread's inbox (SQLite allows one writer at a time); queue operations use it too.
    writer: mpsc::Sender<Job>,
    readers: Mutex<Vec<Connection>>,
    path: PathBuf,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGen>,
    sent: Notify,
}

fn io(e: rusqlite::Error) -> TableError {
    use rusqlite::ErrorCode::{DiskFull, ReadOnly};
    match e.sqlite_error_code() {
        // A full disk or a read-only file: say so the way every backend does.
        Some(DiskFull | ReadOnly) => TableError::Unavailable(format!("{}: embedded store: {e}", crate::CANNOT_WRITE)),
        _ => TableError::Unavailable(format!("embedded store: {e}")),
    }
}

fn qio(e: rusqlite::Error) -> QueueError {
    QueueError::Unavailable(format!("embedded store: {e}"))
}

impl EmbeddedStore {
    /// Opens (or creates) the store at `path`.
    pub fn open(path: &Path, clock: Arc<dyn Clock>) -> Result<Self, TableError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| TableError::Unavailable(format!("{}: {e}", dir.display())))?;
        }
        let conn = Connection::open(path).map_err(io)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(io)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(io)?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(io)?;
        conn.execute_batch(SCHEMA).map_err(io)?;
        let (writer, jobs) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("atlas-store-writer".into())
            .spawn(move || write_groups(&conn, &jobs))
            .map_err(|e| TableError::Unavailable(format!("embedded store writer: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                writer,
                readers: Mutex::new(Vec::new()),
                path: path.to_owned(),
                clock,
                ids: Arc::new(UlidIds),
                sent: Notify::new(),
            }),
        })
    }

    pub fn table(&self) -> Arc<dyn RawTable> {
        Arc::new(EmbeddedTable { store: self.clone() })
    }

    /// Creates the queue (and records its dead-letter settings) if missing.
    pub fn queue(&self, spec: &QueueSpec) -> Result<Arc<dyn Queue>, QueueError> {
        // Synchronous, at start-up: on a connection of its own (SQLite serializes it with the
        // writer thread's transactions).
        let c = Connection::open(&self.inner.path).map_err(qio)?;
        c.busy_timeout(Duration::from_secs(5)).map_err(qio)?;
        c.execute(
            "INSERT INTO queues (name, max_receives, dead_letter) VALUES (?1, ?2, ?3)
             ON CONFLICT (name) DO UPDATE SET max_receives = ?2, dead_letter = ?3",
            params![spec.name, spec.max_receives, spec.dead_letter],
        )
        .map_err(qio)?;
        Ok(Arc::new(EmbeddedQueue {
            store: self.clone(),
            spec: spec.clone(),
        }))
    }

    /// Runs `f` on the writer thread in the next group; answers once the group committed.
    async fn write<T, E>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, E> + Send + 'static,
        unavailable: fn(String) -> E,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<Result<T, E>>();
        let job: Job = Box::new(move |conn| match conn {
            Err(why) => {
                let _ = tx.send(Err(unavailable(why)));
                (false, Box::new(|_| {}))
            }
            Ok(c) => {
                let r = f(c);
                let keep = r.is_ok();
                let finish: Finish = Box::new(move |committed| {
                    let _ = tx.send(match committed {
                        Err(why) if keep => Err(unavailable(why)),
                        _ => r,
                    });
                });
                (keep, finish)
            }
        });
        if self.inner.writer.send(job).is_err() {
            return Err(unavailable("embedded store: the writer has stopped".into()));
        }
        rx.await
            .unwrap_or_else(|_| Err(unavailable("embedded store: a write panicked".into())))
    }

    /// Runs a read on a pooled reader connection, outside the writer's lock.
    fn with_reader<T>(&self, f: impl FnOnce(&Connection) -> Result<T, TableError>) -> Result<T, TableError> {
        let idle = self
            .inner
            .readers
            .lock()
            .map_err(|_| TableError::Unavailable("store lock poisoned".into()))?
            .pop();
        let conn = match idle {
            Some(c) => c,
            None => {
                let c = Connection::open(&self.inner.path).map_err(io)?;
                c.busy_timeout(Duration::from_secs(5)).map_err(io)?;
                // A reader never writes, by construction.
                c.pragma_update(None, "query_only", true).map_err(io)?;
                c
            }
        };
        let out = f(&conn);
        if let Ok(mut pool) = self.inner.readers.lock()
            && pool.len() < IDLE_READERS
        {
            pool.push(conn);
        }
        out
    }

    /// Runs blocking SQLite work off the async workers.
    async fn blocking<T: Send + 'static>(&self, f: impl FnOnce(&EmbeddedStore) -> T + Send + 'static) -> T {
        let me = self.clone();
        match tokio::task::spawn_blocking(move || f(&me)).await {
            Ok(v) => v,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
}

/// The writer thread: takes the writes waiting, runs them in one transaction, each under a
/// savepoint, commits once, then answers each. Ends when every store handle is gone.
fn write_groups(conn: &Connection, jobs: &mpsc::Receiver<Job>) {
    let msg = |e: rusqlite::Error| format!("embedded store: {e}");
    while let Ok(first) = jobs.recv() {
        let mut group = vec![first];
        while group.len() < GROUP_MAX {
            match jobs.try_recv() {
                Ok(j) => group.push(j),
                Err(_) => break,
            }
        }
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            let why = msg(e);
            for job in group {
                let _ = job(Err(why.clone()));
            }
            continue;
        }
        let mut finishers = Vec::with_capacity(group.len());
        for job in group {
            // A failed write's error (a full disk) may have ended the whole transaction: the
            // rest of the group must not run outside it.
            if conn.is_autocommit() {
                let _ = job(Err("embedded store: the transaction was rolled back".into()));
                continue;
            }
            if let Err(e) = conn.execute_batch("SAVEPOINT w") {
                let _ = job(Err(msg(e)));
                continue;
            }
            let ran = std::panic::catch_unwind(AssertUnwindSafe(|| job(Ok(conn))));
            let keep = matches!(ran, Ok((true, _)));
            if !conn.is_autocommit() {
                let _ = conn.execute_batch(if keep { "RELEASE w" } else { "ROLLBACK TO w; RELEASE w" });
            }
            // A write that panicked dropped its answer: its caller hears the writer failed it.
            if let Ok((_, finish)) = ran {
                finishers.push(finish);
            }
        }
        let committed = if conn.is_autocommit() {
            Err("embedded store: the transaction was rolled back".to_owned())
        } else {
            conn.execute_batch("COMMIT").map_err(msg)
        };
        if committed.is_err() && !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        for finish in finishers {
            finish(committed.clone());
        }
    }
}

struct EmbeddedTable {
    store: EmbeddedStore,
}

fn read(tx: &Connection, key: &Key) -> Result<Option<Item>, TableError> {
    let body: Option<String> = tx
        .query_row(
            "SELECT body FROM items WHERE pk = ?1 AND sk = ?2",
            params![key.pk, key.sk],
            |r| r.get(0),
        )
        .optional()
        .map_err(io)?;
    body.map(|b| parse(&b)).transpose()
}

fn parse(body: &str) -> Result<Item, TableError> {
    serde_json::from_str(body).map_err(|e| TableError::Corrupt(e.to_string()))
}

fn write(tx: &Connection, item: &Item) -> Result<(), TableError> {
    let key = Key::of(item)?;
    let s = |a: &str| item.get(a).and_then(Value::as_str).map(str::to_owned);
    // As in DynamoDB, an item is in the index only when it has both index keys.
    let (g1, g2) = match (s(GSI1PK), s(GSI1SK)) {
        (Some(p), Some(k)) => (Some(p), Some(k)),
        _ => (None, None),
    };
    let body = serde_json::to_string(item).map_err(|e| TableError::Validation(e.to_string()))?;
    tx.execute(
        "INSERT INTO items (pk, sk, gsi1pk, gsi1sk, body) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (pk, sk) DO UPDATE SET gsi1pk = ?3, gsi1sk = ?4, body = ?5",
        params![key.pk, key.sk, g1, g2, body],
    )
    .map_err(io)?;
    Ok(())
}

fn remove(tx: &Connection, key: &Key) -> Result<(), TableError> {
    tx.execute("DELETE FROM items WHERE pk = ?1 AND sk = ?2", params![key.pk, key.sk])
        .map_err(io)?;
    Ok(())
}

fn holds(cond: &Option<Cond>, old: Option<&Item>) -> bool {
    cond.as_ref().is_none_or(|c| c.eval(old))
}

fn updated(key: &Key, old: Option<Item>, update: &Update) -> Result<Item, TableError> {
    let mut item = old.unwrap_or_else(|| {
        let mut i = Item::new();
        i.insert(PK.into(), Value::String(key.pk.clone()));
        i.insert(SK.into(), Value::String(key.sk.clone()));
        i
    });
    update.apply(&mut item).map_err(TableError::Validation)?;
    Ok(item)
}

/// The least string above every string that starts with `prefix` (SQLite compares text as UTF-8
/// bytes, which is code-point order): the prefix with its last character raised by one. `None`
/// when there is no such string (empty prefix, or a last character that cannot be raised).
fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    let last = chars.pop()?;
    let mut next = u32::from(last) + 1;
    if (0xD800..=0xDFFF).contains(&next) {
        next = 0xE000;
    }
    chars.push(char::from_u32(next)?);
    Some(chars.into_iter().collect())
}

fn sk_sql(col: &str, c: &SkCond, args: &mut Vec<String>) -> String {
    let mut p = |v: &str| {
        args.push(v.to_owned());
        format!("?{}", args.len())
    };
    match c {
        SkCond::Any => String::new(),
        SkCond::Eq(v) => format!(" AND {col} = {}", p(v)),
        // Bounded on both sides so SQLite reads only the prefix's rows: without an upper bound a
        // query of a few sets scanned every later row of the partition (10,000 payloads during a
        // backup), which made the backup-set list 500 ms slow.
        SkCond::BeginsWith(v) => match prefix_end(v) {
            Some(end) => {
                let (n, e) = (p(v), p(&end));
                format!(" AND {col} >= {n} AND {col} < {e}")
            }
            None => {
                let n = p(v);
                format!(" AND {col} >= {n} AND substr({col}, 1, length({n})) = {n}")
            }
        },
        SkCond::Between(a, b) => {
            let a = p(a);
            let b = p(b);
            format!(" AND {col} BETWEEN {a} AND {b}")
        }
        SkCond::Lt(v) => format!(" AND {col} < {}", p(v)),
        SkCond::Le(v) => format!(" AND {col} <= {}", p(v)),
        SkCond::Gt(v) => format!(" AND {col} > {}", p(v)),
        SkCond::Ge(v) => format!(" AND {col} >= {}", p(v)),
    }
}

fn query(conn: &Connection, q: &Query) -> Result<Page, TableError> {
    let limit = q.limit.unwrap_or(DEFAULT_PAGE).min(DEFAULT_PAGE);
    let mut args: Vec<String> = vec![q.pk.clone()];
    let (pk_col, sk_col, order_cols) = match q.index {
        Index::Primary => ("pk", "sk", vec!["sk"]),
        Index::Gsi1 => ("gsi1pk", "gsi1sk", vec!["gsi1sk", "pk", "sk"]),
    };
    let mut sql = format!("SELECT body FROM items WHERE {pk_col} = ?1");
    sql.push_str(&sk_sql(sk_col, &q.sk, &mut args));
    if let Some(c) = &q.cursor {
        let cur = decode_cursor(c)?;
        let s = |a: &str| {
            cur.get(a)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or(TableError::BadCursor)
        };
        let vals = match q.index {
            Index::Primary => vec![s(SK)?],
            Index::Gsi1 => vec![s(GSI1SK)?, s(PK)?, s(SK)?],
        };
        let mut ph = Vec::new();
        for v in vals {
            args.push(v);
            ph.push(format!("?{}", args.len()));
        }
        let op = if q.forward { ">" } else { "<" };
        sql.push_str(&format!(" AND ({}) {op} ({})", order_cols.join(", "), ph.join(", ")));
    }
    let dir = if q.forward { "ASC" } else { "DESC" };
    let order: Vec<String> = order_cols.iter().map(|c| format!("{c} {dir}")).collect();
    sql.push_str(&format!(" ORDER BY {} LIMIT {}", order.join(", "), limit + 1));

    let mut stmt = conn.prepare_cached(&sql).map_err(io)?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(args.iter()), |r| r.get::<_, String>(0))
        .map_err(io)?;
    let mut items = Vec::new();
    for body in rows {
        items.push(parse(&body.map_err(io)?)?);
    }
    let mut next = None;
    if items.len() > limit as usize {
        items.truncate(limit as usize);
        let last = items.last().expect("non-empty");
        let mut key = Item::new();
        let attrs: &[&str] = match q.index {
            Index::Primary => &[PK, SK],
            Index::Gsi1 => &[PK, SK, GSI1PK, GSI1SK],
        };
        for a in attrs {
            if let Some(v) = last.get(*a) {
                key.insert((*a).to_owned(), v.clone());
            }
        }
        next = Some(encode_cursor(&key));
    }
    Ok(Page { items, next })
}

impl EmbeddedTable {
    async fn get_charged(&self, key: &Key, consistent: bool) -> Result<Option<Item>, TableError> {
        let key = key.clone();
        let got = self.store.blocking(move |s| s.with_reader(|c| read(c, &key))).await?;
        capacity::charge(Consumed::read(capacity::read_milli(
            got.as_ref().map(capacity::item_size).unwrap_or(0),
            consistent,
        )));
        Ok(got)
    }
}

#[async_trait]
impl RawTable for EmbeddedTable {
    fn kind(&self) -> &'static str {
        "embedded"
    }

    async fn get(&self, key: &Key) -> Result<Option<Item>, TableError> {
        // Our gets are strongly consistent, as the DynamoDB adapter's are.
        self.get_charged(key, true).await
    }

    async fn get_eventually(&self, key: &Key) -> Result<Option<Item>, TableError> {
        // Always current here; billed as DynamoDB bills the eventually consistent read.
        self.get_charged(key, false).await
    }

    async fn put(&self, item: Item, cond: Option<Cond>) -> Result<Option<Item>, TableError> {
        let units = Units::default();
        let paid = units.clone();
        let f = move |c: &Connection| {
            let old = read(c, &Key::of(&item)?)?;
            if !holds(&cond, old.as_ref()) {
                paid.set(capacity::failed_write());
                return Err(TableError::ConditionFailed);
            }
            paid.set(capacity::item_write(old.as_ref(), Some(&item)));
            write(c, &item)?;
            Ok(old)
        };
        units.charged(self.store.write(f, TableError::Unavailable).await)
    }

    async fn update(&self, key: &Key, update: &Update, cond: Option<Cond>) -> Result<Item, TableError> {
        let (key, update) = (key.clone(), update.clone());
        let units = Units::default();
        let paid = units.clone();
        let f = move |c: &Connection| {
            let old = read(c, &key)?;
            if !holds(&cond, old.as_ref()) {
                paid.set(capacity::failed_write());
                return Err(TableError::ConditionFailed);
            }
            let item = updated(&key, old.clone(), &update)?;
            paid.set(capacity::item_write(old.as_ref(), Some(&item)));
            write(c, &item)?;
            Ok(item)
        };
        units.charged(self.store.write(f, TableError::Unavailable).await)
    }

    async fn delete(&self, key: &Key, cond: Option<Cond>) -> Result<Option<Item>, TableError> {
        let key = key.clone();
        let units = Units::default();
        let paid = units.clone();
        let f = move |c: &Connection| {
            let old = read(c, &key)?;
            if !holds(&cond, old.as_ref()) {
                paid.set(capacity::failed_write());
                return Err(TableError::ConditionFailed);
            }
            paid.set(capacity::item_write(old.as_ref(), None));
            remove(c, &key)?;
            Ok(old)
        };
        units.charged(self.store.write(f, TableError::Unavailable).await)
    }

    async fn query(&self, q: &Query) -> Result<Page, TableError> {
        let q = q.clone();
        // Primary-key queries are strongly consistent; GSI queries cannot be (DynamoDB's rule).
        let consistent = q.consistent();
        let page = self.store.blocking(move |s| s.with_reader(|c| query(c, &q))).await?;
        let bytes = page.items.iter().map(capacity::item_size).sum();
        capacity::charge(Consumed::read(capacity::read_milli(bytes, consistent)));
        Ok(page)
    }

    async fn transact(&self, items: Vec<TxItem>) -> Result<(), TableError> {
        let units = Units::default();
        let paid = units.clone();
        let f = move |c: &Connection| {
            let mut reasons = Vec::with_capacity(items.len());
            let mut olds = Vec::with_capacity(items.len());
            for it in &items {
                let old = read(c, &it.key()?)?;
                let ok = match it {
                    TxItem::Put { cond, .. } | TxItem::Update { cond, .. } | TxItem::Delete { cond, .. } => {
                        holds(cond, old.as_ref())
                    }
                    TxItem::Check { cond, .. } => cond.eval(old.as_ref()),
                };
                reasons.push((!ok).then(|| "ConditionalCheckFailed".to_owned()));
                olds.push(old);
            }
            if reasons.iter().any(Option::is_some) {
                paid.set(capacity::failed_transaction(items.len()));
                // Nothing was written; the savepoint is rolled back all the same.
                return Err(TableError::TransactionCanceled { reasons });
            }
            let mut cost = Consumed::default();
            for (it, old) in items.into_iter().zip(olds) {
                match it {
                    TxItem::Put { item, .. } => {
                        cost += capacity::transactional_write(old.as_ref(), Some(&item));
                        write(c, &item)?
                    }
                    TxItem::Update { key, update, .. } => {
                        let new = updated(&key, old.clone(), &update)?;
                        cost += capacity::transactional_write(old.as_ref(), Some(&new));
                        write(c, &new)?
                    }
                    TxItem::Delete { key, .. } => {
                        cost += capacity::transactional_write(old.as_ref(), None);
                        remove(c, &key)?
                    }
                    TxItem::Check { .. } => cost += capacity::transactional_check(old.as_ref()),
                }
            }
            paid.set(cost);
            Ok(())
        };
        units.charged(self.store.write(f, TableError::Unavailable).await)
    }

    async fn batch(&self, writes: Vec<TxItem>) -> Result<Vec<Result<Option<Item>, TableError>>, TableError> {
        // One savepoint for the batch; each write keeps its own condition.
        let units = Units::default();
        let paid = units.clone();
        let f = move |c: &Connection| {
            let mut out = Vec::with_capacity(writes.len());
            let mut cost = Consumed::default();
            for w in writes {
                out.push(apply_one(c, w, &mut cost)?);
            }
            paid.set(cost);
            Ok(out)
        };
        units.charged(self.store.write(f, TableError::Unavailable).await)
    }

    async fn ping(&self) -> Result<(), TableError> {
        let f = |c: &Connection| c.query_row("SELECT 1", [], |_| Ok(())).map_err(io);
        self.store.write(f, TableError::Unavailable).await
    }

    async fn dump(&self) -> Result<Vec<Item>, TableError> {
        self.store.blocking(|s| s.with_reader(dump)).await
    }
}

/// One write of a batch: `Ok(Err(..))` is that write's refusal, `Err` a failure of the store.
/// Costs as DynamoDB would bill the same writes sent one by one (`BatchWriteItem` bills each put
/// and delete as a single write; a check is a strongly consistent read).
fn apply_one(tx: &Connection, w: TxItem, cost: &mut Consumed) -> Result<Result<Option<Item>, TableError>, TableError> {
    let key = match w.key() {
        Ok(k) => k,
        Err(e) => return Ok(Err(e)),
    };
    let old = read(tx, &key)?;
    let ok = match &w {
        TxItem::Put { cond, .. } | TxItem::Update { cond, .. } | TxItem::Delete { cond, .. } => {
            holds(cond, old.as_ref())
        }
        TxItem::Check { cond, .. } => cond.eval(old.as_ref()),
    };
    if !ok {
        *cost += match w {
            TxItem::Check { .. } => capacity::item_read(old.as_ref()),
            _ => capacity::failed_write(),
        };
        return Ok(Err(TableError::ConditionFailed));
    }
    Ok(match w {
        TxItem::Put { item, .. } => {
            *cost += capacity::item_write(old.as_ref(), Some(&item));
            write(tx, &item).map(|()| old)
        }
        TxItem::Update { update, .. } => match updated(&key, old.clone(), &update) {
            Ok(item) => {
                *cost += capacity::item_write(old.as_ref(), Some(&item));
                write(tx, &item).map(|()| Some(item))
            }
            Err(e) => Err(e),
        },
        TxItem::Delete { .. } => {
            *cost += capacity::item_write(old.as_ref(), None);
            remove(tx, &key).map(|()| old)
        }
        TxItem::Check { .. } => {
            *cost += capacity::item_read(old.as_ref());
            Ok(None)
        }
    })
}

/// The units a write computed on the writer thread, charged to the caller's meter once it is
/// answered, whether the write held or not (a failed condition is billed too).
#[derive(Clone, Default)]
struct Units(Arc<std::sync::Mutex<Consumed>>);

impl Units {
    fn set(&self, c: Consumed) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = c;
    }
    fn charged<T>(&self, r: T) -> T {
        capacity::charge(*self.0.lock().unwrap_or_else(|p| p.into_inner()));
        r
    }
}

fn dump(conn: &Connection) -> Result<Vec<Item>, TableError> {
    let mut stmt = conn.prepare("SELECT body FROM items ORDER BY pk, sk").map_err(io)?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(io)?;
    rows.map(|b| parse(&b.map_err(io)?)).collect()
}

struct EmbeddedQueue {
    store: EmbeddedStore,
    spec: QueueSpec,
}

impl EmbeddedQueue {
    async fn try_receive(&self, max: u32, visibility: Duration) -> Result<Vec<Received>, QueueError> {
        let now = self.store.inner.clock.now_millis();
        let ids = self.store.inner.ids.clone();
        let spec = self.spec.clone();
        let f = move |tx: &Connection| {
            let mut out = Vec::new();
            loop {
                let ready: Vec<(String, String, u32)> = {
                    let mut stmt = tx
                        .prepare_cached(
                            "SELECT id, body, receive_count FROM messages WHERE queue = ?1 AND visible_at <= ?2
                             ORDER BY visible_at, seq LIMIT ?3",
                        )
                        .map_err(qio)?;
                    stmt.query_map(params![spec.name, now, max - out.len() as u32], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })
                    .map_err(qio)?
                    .collect::<Result<_, _>>()
                    .map_err(qio)?
                };
                if ready.is_empty() {
                    break;
                }
                for (id, body, count) in ready {
                    match &spec.dead_letter {
                        Some(dlq) if spec.max_receives > 0 && count >= spec.max_receives => {
                            tx.execute(
                                "UPDATE messages SET queue = ?2, receive_count = 0, receipt = NULL, visible_at = ?3,
                                 seq = (SELECT COALESCE(MAX(seq), 0) + 1 FROM messages) WHERE id = ?1",
                                params![id, dlq, now],
                            )
                            .map_err(qio)?;
                        }
                        _ => {
                            let receipt = ids.next_id();
                            let until = now + visibility.as_millis() as i64;
                            tx.execute(
                                "UPDATE messages SET receive_count = receive_count + 1, receipt = ?2, visible_at = ?3
                                 WHERE id = ?1",
                                params![id, receipt, until],
                            )
                            .map_err(qio)?;
                            out.push(Received {
                                id,
                                receipt,
                                body,
                                receive_count: count + 1,
                            });
                        }
                    }
                }
                if out.len() as u32 >= max {
                    break;
                }
            }
            Ok(out)
        };
        self.store.write(f, QueueError::Unavailable).await
    }
}

#[async_trait]
impl Queue for EmbeddedQueue {
    fn kind(&self) -> &'static str {
        "embedded"
    }

    fn name(&self) -> &str {
        &self.spec.name
    }

    async fn send_batch(&self, messages: Vec<OutMessage>) -> Result<Vec<String>, QueueError> {
        queue::check_batch(&messages, 1)?;
        let now = self.store.inner.clock.now_millis();
        let ids = self.store.inner.ids.clone();
        let name = self.spec.name.clone();
        let f = move |tx: &Connection| {
            let mut seq: i64 = tx
                .query_row("SELECT COALESCE(MAX(seq), 0) FROM messages", [], |r| r.get(0))
                .map_err(qio)?;
            let mut out = Vec::with_capacity(messages.len());
            for m in messages {
                seq += 1;
                let id = ids.next_id();
                tx.execute(
                    "INSERT INTO messages (id, queue, seq, body, visible_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![id, name, seq, m.body, now + m.delay.as_millis() as i64],
                )
                .map_err(qio)?;
                out.push(id);
            }
            Ok(out)
        };
        let out = self.store.write(f, QueueError::Unavailable).await?;
        self.store.inner.sent.notify_waiters();
        Ok(out)
    }

    async fn receive(&self, max: u32, visibility: Duration, wait: Duration) -> Result<Vec<Received>, QueueError> {
        queue::check_batch(&[], max)?;
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let notified = self.store.inner.sent.notified();
            let got = self.try_receive(max, visibility).await?;
            let now = tokio::time::Instant::now();
            if !got.is_empty() || now >= deadline {
                return Ok(got);
            }
            // Woken by a send, or re-checked for delayed and timed-out messages.
            let _ = tokio::time::timeout((deadline - now).min(Duration::from_millis(100)), notified).await;
        }
    }

    async fn delete(&self, receipt: &str) -> Result<(), QueueError> {
        let (receipt, name) = (receipt.to_owned(), self.spec.name.clone());
        let f = move |c: &Connection| {
            c.execute(
                "DELETE FROM messages WHERE receipt = ?1 AND queue = ?2",
                params![receipt, name],
            )
            .map_err(qio)?;
            Ok(())
        };
        self.store.write(f, QueueError::Unavailable).await
    }

    async fn change_visibility(&self, receipt: &str, visibility: Duration) -> Result<(), QueueError> {
        let until = self.store.inner.clock.now_millis() + visibility.as_millis() as i64;
        let (receipt, name) = (receipt.to_owned(), self.spec.name.clone());
        let f = move |c: &Connection| {
            let n = c
                .execute(
                    "UPDATE messages SET visible_at = ?3 WHERE receipt = ?1 AND queue = ?2",
                    params![receipt, name, until],
                )
                .map_err(qio)?;
            if n == 0 {
                return Err(QueueError::Validation("the receipt is no longer valid".into()));
            }
            Ok(())
        };
        self.store.write(f, QueueError::Unavailable).await
    }

    async fn depth(&self) -> Result<u64, QueueError> {
        let name = self.spec.name.clone();
        // A read, on a reader: it never waits for a write group.
        let f = move |c: &Connection| {
            c.query_row("SELECT COUNT(*) FROM messages WHERE queue = ?1", params![name], |r| {
                r.get(0)
            })
            .map_err(io)
        };
        self.store
            .blocking(move |s| s.with_reader(f))
            .await
            .map_err(|e| QueueError::Unavailable(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::prefix_end;

    #[test]
    fn a_prefix_ends_at_its_last_character_plus_one() {
        assert_eq!(prefix_end("BACKUPSET#").as_deref(), Some("BACKUPSET$"));
        assert_eq!(prefix_end("A\u{d7ff}").as_deref(), Some("A\u{e000}"));
        assert_eq!(prefix_end("A\u{10ffff}"), None);
        assert_eq!(prefix_end(""), None);
    }
}
