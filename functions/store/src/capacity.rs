//! Consumed capacity: the read and write request units a table operation costs, by DynamoDB's
//! rules (ADR 0038), so that every backend reports what the same work would be billed in AWS.
//!
//! DynamoDB reports the units itself (`ReturnConsumedCapacity`); the embedded store computes them
//! here from the item sizes it sees. Units are kept in thousandths so that half units (eventually
//! consistent reads) add up exactly.
//!
//! Who pays: a [`Meter`] attached to a [`crate::Table`] (`Table::metered`) is charged for every
//! operation made through that handle, and forwards each charge to its parent, so a step unit's
//! meter and the process's total both see it.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;

use crate::table::{GSI1PK, GSI1SK, Item};

/// A read unit covers 4 KB of item read strongly consistently.
pub const READ_UNIT_BYTES: usize = 4096;
/// A write unit covers 1 KB of item written.
pub const WRITE_UNIT_BYTES: usize = 1024;

/// Read and write units, in thousandths of a unit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Consumed {
    pub read_milli: u64,
    pub write_milli: u64,
}

impl Consumed {
    pub fn read(units_milli: u64) -> Self {
        Self {
            read_milli: units_milli,
            write_milli: 0,
        }
    }
    pub fn write(units_milli: u64) -> Self {
        Self {
            read_milli: 0,
            write_milli: units_milli,
        }
    }
    pub fn read_units(&self) -> f64 {
        self.read_milli as f64 / 1000.0
    }
    pub fn write_units(&self) -> f64 {
        self.write_milli as f64 / 1000.0
    }
    pub fn is_zero(&self) -> bool {
        self.read_milli == 0 && self.write_milli == 0
    }
}

impl std::ops::Add for Consumed {
    type Output = Consumed;
    fn add(self, o: Consumed) -> Consumed {
        Consumed {
            read_milli: self.read_milli + o.read_milli,
            write_milli: self.write_milli + o.write_milli,
        }
    }
}

impl std::ops::AddAssign for Consumed {
    fn add_assign(&mut self, o: Consumed) {
        *self = *self + o;
    }
}

/// Units charged so far; charges also go to the parent meter.
#[derive(Debug, Default)]
pub struct Meter {
    read_milli: AtomicU64,
    write_milli: AtomicU64,
    parent: Option<Arc<Meter>>,
}

impl Meter {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }
    /// A meter whose charges also count in `parent`.
    pub fn under(parent: Option<Arc<Meter>>) -> Arc<Self> {
        Arc::new(Self {
            parent,
            ..Self::default()
        })
    }
    pub fn charge(&self, c: Consumed) {
        self.read_milli.fetch_add(c.read_milli, Ordering::Relaxed);
        self.write_milli.fetch_add(c.write_milli, Ordering::Relaxed);
        if let Some(p) = &self.parent {
            p.charge(c);
        }
    }
    pub fn consumed(&self) -> Consumed {
        Consumed {
            read_milli: self.read_milli.load(Ordering::Relaxed),
            write_milli: self.write_milli.load(Ordering::Relaxed),
        }
    }
    /// True for a meter under another (a step unit's), false for a process total.
    pub fn has_parent(&self) -> bool {
        self.parent.is_some()
    }
    /// Puts back what [`Meter::take`] took, without charging the parent again.
    pub fn restore(&self, c: Consumed) {
        self.read_milli.fetch_add(c.read_milli, Ordering::Relaxed);
        self.write_milli.fetch_add(c.write_milli, Ordering::Relaxed);
    }
    /// Returns what was charged and starts again from zero (the parent keeps its count).
    pub fn take(&self) -> Consumed {
        Consumed {
            read_milli: self.read_milli.swap(0, Ordering::Relaxed),
            write_milli: self.write_milli.swap(0, Ordering::Relaxed),
        }
    }
}

tokio::task_local! {
    /// The meter of the table handle whose operation is running: backends charge it.
    static CURRENT: Arc<Meter>;
}

/// Runs one backend operation with `meter` as the one [`charge`] charges.
pub async fn scoped<F: Future>(meter: Option<Arc<Meter>>, f: F) -> F::Output {
    match meter {
        Some(m) => CURRENT.scope(m, f).await,
        None => f.await,
    }
}

/// Charges the meter of the operation running now, if it has one. Backends call it once per
/// request with the units that request consumed.
pub fn charge(c: Consumed) {
    if c.is_zero() {
        return;
    }
    trace::record(c);
    let _ = CURRENT.try_with(|m| m.charge(c));
}

/// The size DynamoDB gives an item: each attribute's name in UTF-8 bytes plus its value's size.
pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

/// A value's size as DynamoDB counts it (our items are JSON: strings, numbers, booleans, null,
/// lists and maps). Strings: UTF-8 bytes. Numbers: one byte per two significant digits, plus one.
/// Booleans and null: one byte. Lists and maps: three bytes plus their elements (a map element
/// also counts its name).
pub fn value_size(v: &Value) -> usize {
    match v {
        Value::String(s) => s.len(),
        Value::Number(n) => number_size(&n.to_string()),
        Value::Bool(_) | Value::Null => 1,
        Value::Array(a) => 3 + a.iter().map(value_size).sum::<usize>(),
        Value::Object(m) => 3 + m.iter().map(|(k, v)| k.len() + value_size(v)).sum::<usize>(),
    }
}

fn number_size(text: &str) -> usize {
    let mantissa = text.split(['e', 'E']).next().unwrap_or_default();
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len().max(1);
    significant.div_ceil(2) + 1
}

/// Read units of `bytes` read at once (one item, or a query's page): rounded up to 4 KB, at least
/// one 4 KB step even when nothing was found; half for an eventually consistent read.
pub fn read_milli(bytes: usize, consistent: bool) -> u64 {
    let steps = bytes.div_ceil(READ_UNIT_BYTES).max(1) as u64;
    if consistent { steps * 1000 } else { steps * 500 }
}

/// Write units of one item write: the larger of the item before and after, rounded up to 1 KB,
/// at least one unit (a delete of a missing item, a write whose condition failed).
pub fn write_milli(before: Option<&Item>, after: Option<&Item>) -> u64 {
    let size = before
        .map(item_size)
        .unwrap_or(0)
        .max(after.map(item_size).unwrap_or(0));
    size.div_ceil(WRITE_UNIT_BYTES).max(1) as u64 * 1000
}

/// The index key of an item in GSI1, when it has both attributes (only then is it indexed).
fn gsi1_key(item: Option<&Item>) -> Option<(&str, &str)> {
    let i = item?;
    Some((i.get(GSI1PK)?.as_str()?, i.get(GSI1SK)?.as_str()?))
}

fn entry_milli(item: &Item) -> u64 {
    item_size(item).div_ceil(WRITE_UNIT_BYTES).max(1) as u64 * 1000
}

/// The extra write units GSI1 costs for a write that turned `before` into `after` (the index
/// projects every attribute, so an entry is the item's size): a new entry is one write, a removed
/// entry one, a changed key two (delete the old, put the new), a changed item under the same key
/// one; an item in the index neither before nor after costs nothing.
pub fn gsi1_write_milli(before: Option<&Item>, after: Option<&Item>) -> u64 {
    match (gsi1_key(before), gsi1_key(after)) {
        (None, None) => 0,
        (None, Some(_)) => after.map(entry_milli).unwrap_or(0),
        (Some(_), None) => before.map(entry_milli).unwrap_or(0),
        (Some(a), Some(b)) if a != b => before.map(entry_milli).unwrap_or(0) + after.map(entry_milli).unwrap_or(0),
        (Some(_), Some(_)) => {
            if before == after {
                0
            } else {
                before
                    .map(entry_milli)
                    .unwrap_or(0)
                    .max(after.map(entry_milli).unwrap_or(0))
            }
        }
    }
}

/// One standard write with its index cost.
pub fn item_write(before: Option<&Item>, after: Option<&Item>) -> Consumed {
    Consumed::write(write_milli(before, after) + gsi1_write_milli(before, after))
}

/// One write of a transaction: twice the standard cost (DynamoDB's transactional rate); a
/// condition check costs as a transactional write of the item it checked.
pub fn transactional_write(before: Option<&Item>, after: Option<&Item>) -> Consumed {
    Consumed::write(2 * write_milli(before, after) + 2 * gsi1_write_milli(before, after))
}

/// A condition check of a transaction: as a transactional write of the item it checked.
pub fn transactional_check(existing: Option<&Item>) -> Consumed {
    Consumed::write(2 * write_milli(existing, None))
}

/// A write whose condition did not hold. DynamoDB bills it by the item it found, but its error
/// answer carries no consumed capacity, so the DynamoDB adapter can only charge the one-unit
/// floor: both backends charge that floor, and the difference for a refused write of an item over
/// 1 KB is accepted as an undercount (ADR 0038).
pub fn failed_write() -> Consumed {
    Consumed::write(1000)
}

/// A cancelled transaction of `n` items: the floor of each (see [`failed_write`]).
pub fn failed_transaction(n: usize) -> Consumed {
    Consumed::write(2000 * n as u64)
}

/// One strongly consistent read of one item (or of its absence).
pub fn item_read(existing: Option<&Item>) -> Consumed {
    Consumed::read(read_milli(existing.map(item_size).unwrap_or(0), true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item(v: Value) -> Item {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn sizes_follow_dynamodb_rules() {
        // "PK" (2) + "a#1" (3), "n" (1) + 123.45 (5 digits → 3 + 1), "ok" (2) + 1, "l" (1) + 3 + "x" (1)
        let i = item(json!({"PK": "a#1", "n": 123.45, "ok": true, "l": ["x"]}));
        assert_eq!(item_size(&i), 5 + 5 + 3 + 5);
        assert_eq!(number_size("100"), 2, "trailing zeros are not significant");
        assert_eq!(number_size("0"), 2);
        assert_eq!(value_size(&json!({"ab": "c"})), 3 + 2 + 1);
        assert_eq!(value_size(&json!("é")), 2, "UTF-8 bytes");
    }

    #[test]
    fn units_round_up_and_have_a_floor() {
        assert_eq!(read_milli(0, true), 1000, "a miss still costs a read");
        assert_eq!(read_milli(4096, true), 1000);
        assert_eq!(read_milli(4097, true), 2000);
        assert_eq!(read_milli(9000, false), 1500);
        let small = item(json!({"PK": "p", "SK": "s"}));
        let big = item(json!({"PK": "p", "SK": "s", "body": "x".repeat(2500)}));
        assert_eq!(write_milli(None, None), 1000, "a delete of nothing costs one unit");
        assert_eq!(
            write_milli(Some(&big), Some(&small)),
            3000,
            "the larger of before and after"
        );
        assert_eq!(transactional_write(None, Some(&small)).write_milli, 2000);
    }

    #[test]
    fn the_index_costs_by_what_changed_in_it() {
        let plain = item(json!({"PK": "p", "SK": "s"}));
        let a = item(json!({"PK": "p", "SK": "s", "GSI1PK": "g", "GSI1SK": "1"}));
        let b = item(json!({"PK": "p", "SK": "s", "GSI1PK": "g", "GSI1SK": "2"}));
        let a2 = item(json!({"PK": "p", "SK": "s", "GSI1PK": "g", "GSI1SK": "1", "x": 1}));
        assert_eq!(gsi1_write_milli(None, Some(&plain)), 0);
        assert_eq!(gsi1_write_milli(None, Some(&a)), 1000, "a new entry");
        assert_eq!(
            gsi1_write_milli(Some(&a), Some(&b)),
            2000,
            "a moved entry: delete and put"
        );
        assert_eq!(gsi1_write_milli(Some(&a), Some(&a2)), 1000, "a changed entry");
        assert_eq!(gsi1_write_milli(Some(&a), None), 1000, "a removed entry");
        assert_eq!(gsi1_write_milli(Some(&a), Some(&a)), 0);
    }

    #[tokio::test]
    async fn a_charge_reaches_the_scoped_meter_and_its_parent() {
        let total = Meter::new();
        let unit = Meter::under(Some(total.clone()));
        scoped(Some(unit.clone()), async { charge(Consumed::read(500)) }).await;
        charge(Consumed::write(1000)); // outside any scope: nobody pays
        assert_eq!(unit.consumed(), Consumed::read(500));
        assert_eq!(total.consumed(), Consumed::read(500));
        assert_eq!(unit.take(), Consumed::read(500));
        assert!(unit.consumed().is_zero());
    }
}

/// Diagnostics for the cost work (ADR 0039): with `ATLAS_METER_TRACE` set, every charge is also
/// summed by the shape of the request that consumed it (operation and key pattern, ids masked),
/// and [`trace_report`] lists the shapes by write then read units. Off, it costs one load.
pub mod trace {
    use std::collections::BTreeMap;
    use std::sync::{Mutex, OnceLock};

    use super::Consumed;

    /// Request shape → (requests, units).
    type Shapes = Mutex<BTreeMap<String, (u64, Consumed)>>;

    static TRACE: OnceLock<Option<Shapes>> = OnceLock::new();

    tokio::task_local! {
        static LABEL: String;
        static CONTEXT: &'static str;
    }

    /// Runs `f` with its charges traced as part of `context` (a function's name).
    pub async fn within<F: std::future::Future>(context: &'static str, f: F) -> F::Output {
        if enabled() {
            CONTEXT.scope(context, f).await
        } else {
            f.await
        }
    }

    fn table() -> Option<&'static Shapes> {
        TRACE
            .get_or_init(|| std::env::var_os("ATLAS_METER_TRACE").map(|_| Mutex::default()))
            .as_ref()
    }

    pub fn enabled() -> bool {
        table().is_some()
    }

    /// A key with its ids masked: a `#`-separated part holding a digit (a ULID, a tenant or
    /// environment id, a hash, a time) becomes `*`.
    pub fn mask(key: &str) -> String {
        key.split('#')
            .map(|p| if p.chars().any(|c| c.is_ascii_digit()) { "*" } else { p })
            .collect::<Vec<_>>()
            .join("#")
    }

    /// Runs `f` with charges summed under `label` (when tracing).
    pub async fn labelled<F: std::future::Future>(label: Option<String>, f: F) -> F::Output {
        match label {
            Some(l) => LABEL.scope(l, f).await,
            None => f.await,
        }
    }

    pub(crate) fn record(c: Consumed) {
        let Some(t) = table() else { return };
        let label = LABEL.try_with(Clone::clone).unwrap_or_else(|_| "unlabelled".into());
        let label = format!("{}: {label}", CONTEXT.try_with(|c| *c).unwrap_or("-"));
        let mut t = t.lock().unwrap_or_else(|e| e.into_inner());
        let e = t.entry(label).or_default();
        e.0 += 1;
        e.1 += c;
    }

    /// Forgets what was traced so far (a bench's setup).
    pub fn reset() {
        if let Some(t) = table() {
            t.lock().unwrap_or_else(|e| e.into_inner()).clear();
        }
    }

    /// The shapes by write units, then read units, largest first: `count wru rru shape` lines.
    pub fn report() -> String {
        let Some(t) = table() else { return String::new() };
        let t = t.lock().unwrap_or_else(|e| e.into_inner());
        let mut rows: Vec<_> = t.iter().collect();
        rows.sort_by_key(|(_, (_, c))| std::cmp::Reverse((c.write_milli, c.read_milli)));
        rows.iter()
            .map(|(k, (n, c))| format!("{n:>8} {:>12.1} {:>12.1} {k}\n", c.write_units(), c.read_units()))
            .collect()
    }
}
