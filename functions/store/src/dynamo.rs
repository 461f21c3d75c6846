//! The DynamoDB backend, through `aws-sdk-dynamodb`. The endpoint is configurable, so tests run it
//! against a DynamoDB-protocol server on loopback.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck, Delete, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, Put, ReturnConsumedCapacity, ReturnValue, ScalarAttributeType,
    TransactWriteItem, Update as DdbUpdate,
};
use serde_json::Value;

use crate::capacity::{self, Consumed};
use crate::expr::{Cond, ExprNames, Update};
use crate::table::{
    GSI1PK, GSI1SK, Index, Item, Key, PK, Page, Query, RawTable, SK, TableError, TxItem, decode_cursor, encode_cursor,
};

type Attrs = HashMap<String, AttributeValue>;

#[derive(Clone, Debug)]
pub struct DynamoTable {
    client: Client,
    table: String,
}

impl DynamoTable {
    async fn get_item(&self, key: &Key, consistent: bool) -> Result<Option<Item>, TableError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(key)))
            .consistent_read(consistent)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(map_err)?;
        capacity::charge(Consumed::read(milli(out.consumed_capacity())));
        out.item.map(from_attrs).transpose()
    }

    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Creates the table with `GSI1` when it does not exist (tests and the protocol-server mode;
    /// in AWS the template owns the table).
    pub async fn ensure_table(&self) -> Result<(), TableError> {
        let s = |n: &str| {
            AttributeDefinition::builder()
                .attribute_name(n)
                .attribute_type(ScalarAttributeType::S)
                .build()
        };
        let k = |n: &str, t: KeyType| KeySchemaElement::builder().attribute_name(n).key_type(t).build();
        let gsi = GlobalSecondaryIndex::builder()
            .index_name("GSI1")
            .key_schema(k(GSI1PK, KeyType::Hash).map_err(build)?)
            .key_schema(k(GSI1SK, KeyType::Range).map_err(build)?)
            .projection(Projection::builder().projection_type(ProjectionType::All).build())
            .build()
            .map_err(build)?;
        let res = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(s(PK).map_err(build)?)
            .attribute_definitions(s(SK).map_err(build)?)
            .attribute_definitions(s(GSI1PK).map_err(build)?)
            .attribute_definitions(s(GSI1SK).map_err(build)?)
            .key_schema(k(PK, KeyType::Hash).map_err(build)?)
            .key_schema(k(SK, KeyType::Range).map_err(build)?)
            .global_secondary_indexes(gsi)
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("ResourceInUseException") => Ok(()),
            Err(e) => Err(map_err(e)),
        }
    }

    fn key(key: &Key) -> Attrs {
        HashMap::from([
            (PK.to_owned(), AttributeValue::S(key.pk.clone())),
            (SK.to_owned(), AttributeValue::S(key.sk.clone())),
        ])
    }
}

fn build(e: aws_sdk_dynamodb::error::BuildError) -> TableError {
    TableError::Validation(e.to_string())
}

fn to_attrs(item: &Item) -> Result<Attrs, TableError> {
    serde_dynamo::to_item(item).map_err(|e| TableError::Validation(format!("item mapping: {e}")))
}

fn from_attrs(attrs: Attrs) -> Result<Item, TableError> {
    serde_dynamo::from_item(attrs).map_err(|e| TableError::Corrupt(format!("item mapping: {e}")))
}

fn values(n: &ExprNames) -> Result<Option<Attrs>, TableError> {
    if n.values.is_empty() {
        return Ok(None);
    }
    n.values
        .iter()
        .map(|(k, v)| {
            serde_dynamo::to_attribute_value(v)
                .map(|av| (k.clone(), av))
                .map_err(|e| TableError::Validation(format!("value mapping: {e}")))
        })
        .collect::<Result<_, _>>()
        .map(Some)
}

fn names(n: &ExprNames) -> Option<HashMap<String, String>> {
    (!n.names.is_empty()).then(|| n.names.clone().into_iter().collect())
}

/// Milli-units of what the service reported consumed (`ReturnConsumedCapacity: TOTAL`).
fn milli(c: Option<&aws_sdk_dynamodb::types::ConsumedCapacity>) -> u64 {
    c.and_then(|c| c.capacity_units())
        .map(|u| (u * 1000.0).round() as u64)
        .unwrap_or(0)
}

fn milli_all(cs: &[aws_sdk_dynamodb::types::ConsumedCapacity]) -> u64 {
    cs.iter().map(|c| milli(Some(c))).sum()
}

/// A refused conditional write is billed, but its error answer carries no units: the floor.
fn charge_refusal(e: &TableError, items: usize) {
    match e {
        TableError::ConditionFailed => capacity::charge(capacity::failed_write()),
        TableError::TransactionCanceled { .. } => capacity::charge(capacity::failed_transaction(items)),
        _ => {}
    }
}

/// Keeps the service's error kind: conditional failures are conflicts, throttling is retryable.
fn map_err<E, R>(e: SdkError<E, R>) -> TableError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let code = e.code().map(str::to_owned);
    let message = e.message().map(str::to_owned).unwrap_or_default();
    match code.as_deref() {
        Some("ConditionalCheckFailedException") => TableError::ConditionFailed,
        Some("ProvisionedThroughputExceededException" | "ThrottlingException" | "RequestLimitExceeded") => {
            TableError::Throttled
        }
        Some("ValidationException") => TableError::Validation(message),
        Some(c) => TableError::Unavailable(format!("{c}: {message}")),
        None => TableError::Unavailable(format!("{}", aws_sdk_dynamodb::error::DisplayErrorContext(&e))),
    }
}

#[async_trait]
impl RawTable for DynamoTable {
    fn kind(&self) -> &'static str {
        "dynamodb"
    }

    async fn get(&self, key: &Key) -> Result<Option<Item>, TableError> {
        self.get_item(key, true).await
    }

    async fn get_eventually(&self, key: &Key) -> Result<Option<Item>, TableError> {
        self.get_item(key, false).await
    }

    async fn put(&self, item: Item, cond: Option<Cond>) -> Result<Option<Item>, TableError> {
        let mut n = ExprNames::default();
        let expr = cond.as_ref().map(|c| n.cond(c));
        let out = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_attrs(&item)?))
            .set_condition_expression(expr)
            .set_expression_attribute_names(names(&n))
            .set_expression_attribute_values(values(&n)?)
            .return_values(ReturnValue::AllOld)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(map_err)
            .inspect_err(|e| charge_refusal(e, 1))?;
        capacity::charge(Consumed::write(milli(out.consumed_capacity())));
        out.attributes.filter(|a| !a.is_empty()).map(from_attrs).transpose()
    }

    async fn update(&self, key: &Key, update: &Update, cond: Option<Cond>) -> Result<Item, TableError> {
        let mut n = ExprNames::default();
        let upd = n.update(update);
        let expr = cond.as_ref().map(|c| n.cond(c));
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(key)))
            .update_expression(upd)
            .set_condition_expression(expr)
            .set_expression_attribute_names(names(&n))
            .set_expression_attribute_values(values(&n)?)
            .return_values(ReturnValue::AllNew)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(map_err)
            .inspect_err(|e| charge_refusal(e, 1))?;
        capacity::charge(Consumed::write(milli(out.consumed_capacity())));
        from_attrs(out.attributes.unwrap_or_default())
    }

    async fn delete(&self, key: &Key, cond: Option<Cond>) -> Result<Option<Item>, TableError> {
        let mut n = ExprNames::default();
        let expr = cond.as_ref().map(|c| n.cond(c));
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(key)))
            .set_condition_expression(expr)
            .set_expression_attribute_names(names(&n))
            .set_expression_attribute_values(values(&n)?)
            .return_values(ReturnValue::AllOld)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(map_err)
            .inspect_err(|e| charge_refusal(e, 1))?;
        capacity::charge(Consumed::write(milli(out.consumed_capacity())));
        out.attributes.filter(|a| !a.is_empty()).map(from_attrs).transpose()
    }

    async fn query(&self, q: &Query) -> Result<Page, TableError> {
        let (pk_attr, sk_attr) = q.index.key_attrs();
        let mut n = ExprNames::default();
        let pk_name = n.name(pk_attr);
        let pk_val = n.value(Value::String(q.pk.clone()));
        let mut key_expr = format!("{pk_name} = {pk_val}");
        if let Some(sk) = n.sk(sk_attr, &q.sk) {
            key_expr = format!("{key_expr} AND {sk}");
        }
        let start = match &q.cursor {
            Some(c) => Some(
                decode_cursor(c)?
                    .into_iter()
                    .map(|(k, v)| (k, AttributeValue::S(v.as_str().unwrap_or_default().to_owned())))
                    .collect::<Attrs>(),
            ),
            None => None,
        };
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name((q.index == Index::Gsi1).then(|| "GSI1".to_owned()))
            .key_condition_expression(key_expr)
            .set_expression_attribute_names(names(&n))
            .set_expression_attribute_values(values(&n)?)
            .scan_index_forward(q.forward)
            // Strongly consistent where DynamoDB allows it (not on a GSI): chunks of a large item
            // written a moment ago must be read back whole.
            .consistent_read(q.consistent())
            .set_limit(q.limit.map(|l| l as i32))
            .set_exclusive_start_key(start)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(map_err)?;
        capacity::charge(Consumed::read(milli(out.consumed_capacity())));
        let items = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(from_attrs)
            .collect::<Result<Vec<_>, _>>()?;
        let next = match out.last_evaluated_key {
            Some(k) if !k.is_empty() => {
                let key: Item = k
                    .into_iter()
                    .filter_map(|(a, v)| v.as_s().ok().map(|s| (a, Value::String(s.clone()))))
                    .collect();
                Some(encode_cursor(&key))
            }
            _ => None,
        };
        Ok(Page { items, next })
    }

    async fn batch(&self, writes: Vec<TxItem>) -> Result<Vec<Result<Option<Item>, TableError>>, TableError> {
        use aws_sdk_dynamodb::types::{DeleteRequest, PutRequest, WriteRequest};
        // Unconditional puts and deletes go through BatchWriteItem, 25 a call (it takes no
        // condition and returns no old item); conditional writes one by one.
        let mut out: Vec<Option<Result<Option<Item>, TableError>>> = Vec::with_capacity(writes.len());
        let mut plain: Vec<(usize, WriteRequest)> = Vec::new();
        for w in writes {
            let i = out.len();
            match w {
                TxItem::Put { item, cond: None } => {
                    let req = to_attrs(&item)
                        .and_then(|a| PutRequest::builder().set_item(Some(a)).build().map_err(build))
                        .map(|p| WriteRequest::builder().put_request(p).build());
                    match req {
                        Ok(r) => {
                            plain.push((i, r));
                            out.push(None);
                        }
                        Err(e) => out.push(Some(Err(e))),
                    }
                }
                TxItem::Delete { key, cond: None } => {
                    let req = DeleteRequest::builder()
                        .set_key(Some(Self::key(&key)))
                        .build()
                        .map_err(build)
                        .map(|d| WriteRequest::builder().delete_request(d).build());
                    match req {
                        Ok(r) => {
                            plain.push((i, r));
                            out.push(None);
                        }
                        Err(e) => out.push(Some(Err(e))),
                    }
                }
                TxItem::Put { item, cond } => out.push(Some(self.put(item, cond).await)),
                TxItem::Update { key, update, cond } => {
                    out.push(Some(self.update(&key, &update, cond).await.map(Some)))
                }
                TxItem::Delete { key, cond } => out.push(Some(self.delete(&key, cond).await)),
                TxItem::Check { key, cond } => out.push(Some(match self.get(&key).await {
                    Ok(i) if cond.eval(i.as_ref()) => Ok(None),
                    Ok(_) => Err(TableError::ConditionFailed),
                    Err(e) => Err(e),
                })),
            }
        }
        for chunk in plain.chunks(25) {
            let mut pending: Vec<WriteRequest> = chunk.iter().map(|(_, r)| r.clone()).collect();
            let mut res = Ok(None);
            // Unprocessed items are retried with a growing pause, as the SDK guide advises.
            for attempt in 0..8u32 {
                let sent = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, pending.clone())
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .send()
                    .await;
                match sent {
                    Ok(o) => {
                        capacity::charge(Consumed::write(milli_all(o.consumed_capacity())));
                        pending = o
                            .unprocessed_items
                            .and_then(|mut m| m.remove(&self.table))
                            .unwrap_or_default();
                        if pending.is_empty() {
                            break;
                        }
                    }
                    Err(e) => {
                        res = Err(map_err(e));
                        break;
                    }
                }
                tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await;
            }
            if res.is_ok() && !pending.is_empty() {
                res = Err(TableError::Throttled);
            }
            for (i, _) in chunk {
                out[*i] = Some(res.clone());
            }
        }
        Ok(out
            .into_iter()
            .map(|r| r.unwrap_or(Err(TableError::Unavailable("a write went unanswered".into()))))
            .collect())
    }

    async fn transact(&self, items: Vec<TxItem>) -> Result<(), TableError> {
        let mut writes = Vec::with_capacity(items.len());
        for it in items {
            let mut n = ExprNames::default();
            let w = match it {
                TxItem::Put { item, cond } => {
                    let expr = cond.as_ref().map(|c| n.cond(c));
                    let put = Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(to_attrs(&item)?))
                        .set_condition_expression(expr)
                        .set_expression_attribute_names(names(&n))
                        .set_expression_attribute_values(values(&n)?)
                        .build()
                        .map_err(build)?;
                    TransactWriteItem::builder().put(put).build()
                }
                TxItem::Update { key, update, cond } => {
                    let upd = n.update(&update);
                    let expr = cond.as_ref().map(|c| n.cond(c));
                    let u = DdbUpdate::builder()
                        .table_name(&self.table)
                        .set_key(Some(Self::key(&key)))
                        .update_expression(upd)
                        .set_condition_expression(expr)
                        .set_expression_attribute_names(names(&n))
                        .set_expression_attribute_values(values(&n)?)
                        .build()
                        .map_err(build)?;
                    TransactWriteItem::builder().update(u).build()
                }
                TxItem::Delete { key, cond } => {
                    let expr = cond.as_ref().map(|c| n.cond(c));
                    let d = Delete::builder()
                        .table_name(&self.table)
                        .set_key(Some(Self::key(&key)))
                        .set_condition_expression(expr)
                        .set_expression_attribute_names(names(&n))
                        .set_expression_attribute_values(values(&n)?)
                        .build()
                        .map_err(build)?;
                    TransactWriteItem::builder().delete(d).build()
                }
                TxItem::Check { key, cond } => {
                    let expr = n.cond(&cond);
                    let c = ConditionCheck::builder()
                        .table_name(&self.table)
                        .set_key(Some(Self::key(&key)))
                        .condition_expression(expr)
                        .set_expression_attribute_names(names(&n))
                        .set_expression_attribute_values(values(&n)?)
                        .build()
                        .map_err(build)?;
                    TransactWriteItem::builder().condition_check(c).build()
                }
            };
            writes.push(w);
        }
        // A transaction cancelled only because another one touched the same item at the same
        // time (TransactionConflict) is retried here: callers read a cancellation as "a condition
        // failed", and must never mistake a conflict for one.
        let mut attempt = 0u32;
        loop {
            let sent = self
                .client
                .transact_write_items()
                .set_transact_items(Some(writes.clone()))
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await;
            let e = match sent {
                Ok(o) => {
                    capacity::charge(Consumed::write(milli_all(o.consumed_capacity())));
                    return Ok(());
                }
                Err(e) => e,
            };
            let Some(aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c)) =
                e.as_service_error()
            else {
                return Err(map_err(e));
            };
            let codes: Vec<Option<String>> = c
                .cancellation_reasons()
                .iter()
                .map(|r| r.code().filter(|c| *c != "None").map(str::to_owned))
                .collect();
            if codes.iter().flatten().any(|c| c == "ConditionalCheckFailed") {
                let reasons = codes
                    .into_iter()
                    .map(|c| c.filter(|c| c == "ConditionalCheckFailed"))
                    .collect();
                capacity::charge(capacity::failed_transaction(writes.len()));
                return Err(TableError::TransactionCanceled { reasons });
            }
            attempt += 1;
            if attempt >= 8 {
                return Err(TableError::Throttled);
            }
            let jitter = u64::from(std::process::id() ^ attempt.wrapping_mul(2_654_435_761)) % 20;
            tokio::time::sleep(std::time::Duration::from_millis(10 * u64::from(attempt) + jitter)).await;
        }
    }

    async fn dump(&self) -> Result<Vec<Item>, TableError> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(map_err)?;
            for a in page.items.unwrap_or_default() {
                out.push(from_attrs(a)?);
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        let key = |i: &Item| {
            (
                i.get(PK).and_then(Value::as_str).map(str::to_owned),
                i.get(SK).and_then(Value::as_str).map(str::to_owned),
            )
        };
        out.sort_by_key(key);
        Ok(out)
    }

    async fn ping(&self) -> Result<(), TableError> {
        // A GetItem on a key no item uses: needs only the read permission every function has.
        self.get(&Key::new("SYSTEM", "PING")).await.map(|_| ())
    }
}
