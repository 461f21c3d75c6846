//! The contract suite: every case runs on the embedded backend and on DynamoDB/SQS (moto).
//! Each function is one case; `it/contract.rs` instantiates them per backend.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use atlas_store::{Cond, Item, Key, OutMessage, Query, QueueError, SkCond, TableError, TxItem, Update};
use serde_json::{Value, json};

use crate::Backend;

fn item(v: Value) -> Item {
    v.as_object().expect("object").clone()
}

fn sk_of(i: &Item) -> String {
    i["SK"].as_str().expect("SK").to_owned()
}

pub async fn put_get_roundtrip(b: Backend) {
    let t = &b.table;
    let it = item(
        json!({"PK": "WS#a", "SK": "ENV#1", "name": "Contoso", "n": 42, "f": 1.5, "ok": true,
        "tags": ["x", "y"], "nested": {"deep": [1, {"k": "v"}]}, "nothing": null}),
    );
    t.put(it.clone(), None).await.unwrap();
    assert_eq!(t.get(&Key::new("WS#a", "ENV#1")).await.unwrap(), Some(it));
    assert_eq!(t.get(&Key::new("WS#a", "ENV#2")).await.unwrap(), None);
}

pub async fn conditional_create_twice_is_a_conflict(b: Backend) {
    let t = &b.table;
    let first = item(json!({"PK": "WS#a", "SK": "RUN#1", "status": "queued"}));
    t.put(first.clone(), Some(Cond::NotExists)).await.unwrap();
    let second = item(json!({"PK": "WS#a", "SK": "RUN#1", "status": "running"}));
    assert_eq!(
        t.put(second, Some(Cond::NotExists)).await,
        Err(TableError::ConditionFailed)
    );
    assert_eq!(
        t.get(&Key::new("WS#a", "RUN#1")).await.unwrap(),
        Some(first),
        "the first write stands"
    );
}

pub async fn conditional_update_and_delete(b: Backend) {
    let t = &b.table;
    let k = Key::new("WS#a", "RUN#1");
    t.put(
        item(json!({"PK": "WS#a", "SK": "RUN#1", "status": "queued", "v": 1})),
        None,
    )
    .await
    .unwrap();
    let after = t
        .update(
            &k,
            &Update::new().set("status", "running").add("v", 1),
            Some(Cond::eq("status", "queued")),
        )
        .await
        .unwrap();
    assert_eq!(after["status"], json!("running"));
    assert_eq!(after["v"], json!(2));
    let stale = t
        .update(
            &k,
            &Update::new().set("status", "failed"),
            Some(Cond::eq("status", "queued")),
        )
        .await;
    assert_eq!(stale, Err(TableError::ConditionFailed));
    assert_eq!(t.get(&k).await.unwrap().unwrap()["status"], json!("running"));
    // Update with `Exists` does not create; without a condition it upserts.
    let missing = Key::new("WS#a", "RUN#2");
    assert_eq!(
        t.update(&missing, &Update::new().set("x", 1), Some(Cond::Exists)).await,
        Err(TableError::ConditionFailed)
    );
    assert_eq!(t.get(&missing).await.unwrap(), None);
    let made = t
        .update(&missing, &Update::new().set_if_absent("x", 1).remove("y"), None)
        .await
        .unwrap();
    assert_eq!(Value::Object(made), json!({"PK": "WS#a", "SK": "RUN#2", "x": 1}));
    assert_eq!(
        t.delete(&k, Some(Cond::eq("status", "queued"))).await,
        Err(TableError::ConditionFailed)
    );
    assert_eq!(t.delete(&k, Some(Cond::Gt("v".into(), json!(1)))).await, Ok(true));
    assert_eq!(t.get(&k).await.unwrap(), None);
    assert_eq!(t.delete(&k, None).await, Ok(false));
}

pub async fn query_sort_key_conditions_both_directions(b: Backend) {
    let t = &b.table;
    for sk in ["A#1", "A#2", "A#3", "B#1", "B#2"] {
        t.put(item(json!({"PK": "WS#q", "SK": sk})), None).await.unwrap();
    }
    t.put(item(json!({"PK": "WS#other", "SK": "A#9"})), None).await.unwrap();
    let sks = |p: atlas_store::Page| p.items.iter().map(sk_of).collect::<Vec<_>>();
    let q = Query::partition("WS#q");
    assert_eq!(
        sks(t.query(&q.clone()).await.unwrap()),
        ["A#1", "A#2", "A#3", "B#1", "B#2"]
    );
    assert_eq!(
        sks(t.query(&q.clone().begins_with("A#")).await.unwrap()),
        ["A#1", "A#2", "A#3"]
    );
    assert_eq!(
        sks(t.query(&q.clone().begins_with("A#").backward()).await.unwrap()),
        ["A#3", "A#2", "A#1"]
    );
    let between = q.clone().sk(SkCond::Between("A#2".into(), "B#1".into()));
    assert_eq!(sks(t.query(&between).await.unwrap()), ["A#2", "A#3", "B#1"]);
    assert_eq!(
        sks(t.query(&q.clone().sk(SkCond::Gt("A#3".into()))).await.unwrap()),
        ["B#1", "B#2"]
    );
    assert_eq!(
        sks(t
            .query(&q.clone().sk(SkCond::Le("A#1".into())).backward())
            .await
            .unwrap()),
        ["A#1"]
    );
    assert!(t.query(&Query::partition("WS#none")).await.unwrap().items.is_empty());
    // The edges of a prefix: a longer key, the next character, a key that sorts just past it
    // and non-ASCII keys. The embedded store bounds the prefix on both sides; DynamoDB must agree.
    for sk in ["A", "A#", "A$", "A#\u{7f}", "A#\u{e9}", "A#\u{10ffff}", "A\u{e9}", "Z"] {
        t.put(item(json!({"PK": "WS#edge", "SK": sk})), None).await.unwrap();
    }
    let e = Query::partition("WS#edge");
    assert_eq!(
        sks(t.query(&e.clone().begins_with("A#")).await.unwrap()),
        ["A#", "A#\u{7f}", "A#\u{e9}", "A#\u{10ffff}"]
    );
    assert_eq!(
        sks(t.query(&e.clone().begins_with("A#").backward().limit(2)).await.unwrap()),
        ["A#\u{10ffff}", "A#\u{e9}"]
    );
    assert_eq!(
        sks(t.query(&e.clone().begins_with("A").backward()).await.unwrap()),
        ["A\u{e9}", "A$", "A#\u{10ffff}", "A#\u{e9}", "A#\u{7f}", "A#", "A"]
    );
}

/// A key of the contract's synthetic rows (the store port's own tests, below the app's records:
/// no app entity lives in these partitions): `prefix#suffix`.
fn synthetic_key(prefix: &str, suffix: &str) -> String {
    [prefix, suffix].join("#")
}

/// A synthetic sort key: `prefix#` and `i` zero-padded to `width` digits.
fn synthetic_sk(prefix: &str, i: usize, width: usize) -> String {
    synthetic_key(prefix, &format!("{i:0width$}"))
}

/// Writes `n` items in transactions of 100 (the limit), which also proves large transactions.
async fn fill(b: &Backend, pk: &str, n: usize, gsi: bool) -> BTreeSet<String> {
    let mut all = BTreeSet::new();
    let items: Vec<Item> = (0..n)
        .map(|i| {
            let sk = synthetic_sk("ITEM", i, 5);
            all.insert(sk.clone());
            let mut v = json!({"PK": pk, "SK": sk, "i": i});
            if gsi {
                // Many items share a GSI sort key, so paging must not rely on its uniqueness.
                v["GSI1PK"] = json!(synthetic_key(pk, "BYSTATUS"));
                v["GSI1SK"] = json!(synthetic_sk("S", i % 7, 1));
            }
            item(v)
        })
        .collect();
    for chunk in items.chunks(100) {
        let tx = chunk
            .iter()
            .map(|i| TxItem::Put {
                item: i.clone(),
                cond: Some(Cond::NotExists),
            })
            .collect();
        b.table.transact(tx).await.unwrap();
    }
    all
}

async fn page_all(b: &Backend, q: Query) -> Vec<Item> {
    let mut q = q;
    let mut out = Vec::new();
    for _ in 0..10_000 {
        let page = b.table.query(&q).await.unwrap();
        assert!(page.items.len() <= q.limit.unwrap_or(u32::MAX) as usize);
        out.extend(page.items);
        match page.next {
            Some(n) => q.cursor = Some(n),
            None => return out,
        }
    }
    panic!("paging did not end");
}

pub async fn paging_over_1000_items_returns_each_exactly_once(b: Backend) {
    let all = fill(&b, "WS#p", 1_050, false).await;
    for q in [
        Query::partition("WS#p").limit(100),
        Query::partition("WS#p").limit(77).backward(),
    ] {
        let got = page_all(&b, q.clone()).await;
        let sks: Vec<String> = got.iter().map(sk_of).collect();
        assert_eq!(sks.len(), all.len(), "every item once (forward = {})", q.forward);
        assert_eq!(sks.iter().cloned().collect::<BTreeSet<_>>(), all);
        let mut sorted = sks.clone();
        sorted.sort();
        if !q.forward {
            sorted.reverse();
        }
        assert_eq!(sks, sorted, "pages keep the sort order");
    }
}

pub async fn gsi1_query_pages_and_filters(b: Backend) {
    let all = fill(&b, "WS#g", 230, true).await;
    let got = page_all(&b, Query::gsi1("WS#g#BYSTATUS").limit(50)).await;
    let sks: BTreeSet<String> = got.iter().map(sk_of).collect();
    assert_eq!(got.len(), all.len());
    assert_eq!(sks, all);
    let gsk: Vec<&str> = got.iter().map(|i| i["GSI1SK"].as_str().unwrap()).collect();
    assert!(gsk.windows(2).all(|w| w[0] <= w[1]), "ordered by GSI1SK");
    let s3 = page_all(&b, Query::gsi1("WS#g#BYSTATUS").sk(SkCond::Eq("S#3".into())).limit(9)).await;
    assert_eq!(s3.len(), (0..230).filter(|i| i % 7 == 3).count());
    assert!(s3.iter().all(|i| i["i"].as_u64().unwrap() % 7 == 3));
}

pub async fn bad_cursor_is_refused(b: Backend) {
    let q = Query::partition("WS#x").after(Some("not-a-cursor".into()));
    assert_eq!(b.table.query(&q).await.unwrap_err(), TableError::BadCursor);
    // A real cursor of another partition does not continue this one.
    for i in 0..3 {
        b.table
            .put(item(json!({"PK": "WS#a", "SK": synthetic_sk("I", i, 1)})), None)
            .await
            .unwrap();
    }
    let page = b.table.query(&Query::partition("WS#a").limit(1)).await.unwrap();
    let other = Query::partition("WS#b").after(page.next.clone());
    assert_eq!(b.table.query(&other).await.unwrap_err(), TableError::BadCursor);
    let gsi = Query::gsi1("WS#a").after(page.next);
    assert_eq!(b.table.query(&gsi).await.unwrap_err(), TableError::BadCursor);
}

pub async fn transaction_with_one_failing_condition_writes_nothing(b: Backend) {
    let t = &b.table;
    t.put(item(json!({"PK": "WS#t", "SK": "RUN#1", "status": "running"})), None)
        .await
        .unwrap();
    t.put(item(json!({"PK": "WS#t", "SK": "GONE", "x": 1})), None)
        .await
        .unwrap();
    let tx = vec![
        TxItem::Put {
            item: item(json!({"PK": "WS#t", "SK": "AUDIT#1", "a": 1})),
            cond: Some(Cond::NotExists),
        },
        TxItem::Update {
            key: Key::new("WS#t", "RUN#1"),
            update: Update::new().set("status", "succeeded"),
            cond: Some(Cond::eq("status", "queued")),
        },
        TxItem::Delete {
            key: Key::new("WS#t", "GONE"),
            cond: None,
        },
    ];
    match t.transact(tx).await {
        Err(TableError::TransactionCanceled { reasons }) => {
            assert_eq!(reasons.len(), 3);
            assert_eq!(reasons[0], None);
            assert_eq!(reasons[1].as_deref(), Some("ConditionalCheckFailed"));
            assert_eq!(reasons[2], None);
        }
        other => panic!("expected a cancelled transaction, got {other:?}"),
    }
    assert_eq!(
        t.get(&Key::new("WS#t", "AUDIT#1")).await.unwrap(),
        None,
        "nothing written"
    );
    assert_eq!(
        t.get(&Key::new("WS#t", "RUN#1")).await.unwrap().unwrap()["status"],
        json!("running")
    );
    assert!(
        t.get(&Key::new("WS#t", "GONE")).await.unwrap().is_some(),
        "nothing deleted"
    );

    // The same transaction with the right prior state commits every part.
    let ok = vec![
        TxItem::Put {
            item: item(json!({"PK": "WS#t", "SK": "AUDIT#1", "a": 1})),
            cond: Some(Cond::NotExists),
        },
        TxItem::Update {
            key: Key::new("WS#t", "RUN#1"),
            update: Update::new().set("status", "succeeded"),
            cond: Some(Cond::eq("status", "running")),
        },
        TxItem::Check {
            key: Key::new("WS#t", "GONE"),
            cond: Cond::Exists,
        },
    ];
    t.transact(ok).await.unwrap();
    assert!(t.get(&Key::new("WS#t", "AUDIT#1")).await.unwrap().is_some());
    assert_eq!(
        t.get(&Key::new("WS#t", "RUN#1")).await.unwrap().unwrap()["status"],
        json!("succeeded")
    );
}

pub async fn transaction_limits_are_enforced(b: Backend) {
    let too_many: Vec<TxItem> = (0..101)
        .map(|i| TxItem::Put {
            item: item(json!({"PK": "WS#l", "SK": synthetic_sk("I", i, 1)})),
            cond: None,
        })
        .collect();
    assert!(matches!(
        b.table.transact(too_many).await,
        Err(TableError::Validation(_))
    ));
    let twice = vec![
        TxItem::Put {
            item: item(json!({"PK": "WS#l", "SK": "I#1"})),
            cond: None,
        },
        TxItem::Delete {
            key: Key::new("WS#l", "I#1"),
            cond: None,
        },
    ];
    assert!(matches!(b.table.transact(twice).await, Err(TableError::Validation(_))));
    assert!(b.table.query(&Query::partition("WS#l")).await.unwrap().items.is_empty());
}

pub async fn atomic_counters_do_not_lose_increments(b: Backend) {
    let k = Key::new("WS#c", "COUNTER#runs");
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let t = b.table.clone();
        let k = k.clone();
        tasks.push(tokio::spawn(async move { t.increment(&k, "n", 1).await.unwrap() }));
    }
    let mut seen = BTreeSet::new();
    for task in tasks {
        seen.insert(task.await.unwrap());
    }
    assert_eq!(seen, (1..=20).collect(), "each increment saw a distinct value");
    assert_eq!(b.table.increment(&k, "n", -5).await.unwrap(), 15);
}

/// Many writes at once (the embedded store commits them in groups): each stands or falls alone.
/// One conditional create of a shared key wins; a transaction whose check fails writes nothing
/// while the ones beside it write everything.
pub async fn concurrent_writes_each_stand_alone(b: Backend) {
    let t = b.table.clone();
    t.put(item(json!({"PK": "WS#g", "SK": "GATE", "open": true})), None)
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..40u32 {
        let t = t.clone();
        tasks.push(tokio::spawn(async move {
            let claim = t
                .put(
                    item(json!({"PK": "WS#g", "SK": "CLAIM", "by": i})),
                    Some(Cond::NotExists),
                )
                .await;
            // Every fourth transaction requires the gate closed: it must fail, and alone.
            let gate = if i % 4 == 0 {
                Cond::eq("open", false)
            } else {
                Cond::eq("open", true)
            };
            let own = synthetic_sk("OWN", i as usize, 2);
            let tx = t
                .transact(vec![
                    TxItem::Put {
                        item: item(json!({"PK": "WS#g", "SK": own, "i": i})),
                        cond: Some(Cond::NotExists),
                    },
                    TxItem::Check {
                        key: Key::new("WS#g", "GATE"),
                        cond: gate,
                    },
                ])
                .await;
            (i, claim.is_ok(), tx.is_ok())
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        let (i, claimed, wrote) = task.await.unwrap();
        if claimed {
            winners.push(i);
        }
        assert_eq!(wrote, i % 4 != 0, "transaction {i}");
    }
    assert_eq!(winners.len(), 1, "one conditional create wins: {winners:?}");
    let claim = t.get(&Key::new("WS#g", "CLAIM")).await.unwrap().unwrap();
    assert_eq!(claim["by"], json!(winners[0]));
    let own: Vec<u64> = t
        .query(&Query::partition("WS#g").sk(SkCond::BeginsWith("OWN#".into())))
        .await
        .unwrap()
        .items
        .iter()
        .map(|it| it["i"].as_u64().unwrap())
        .collect();
    assert_eq!(own, (0..40).filter(|i| i % 4 != 0).collect::<Vec<u64>>());
}

fn noise(len: usize, mut x: u64) -> String {
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(b'a' + (x % 26) as u8)
        })
        .collect()
}

pub async fn large_payloads_round_trip(b: Backend) {
    let t = &b.table;
    // 2 MB that does not compress much: chunked.
    let big = item(json!({"PK": "WS#big", "SK": "ITEM#1", "status": "ok", "payload": noise(2 * 1024 * 1024, 7)}));
    t.put(big.clone(), Some(Cond::NotExists)).await.unwrap();
    assert_eq!(t.get(&Key::new("WS#big", "ITEM#1")).await.unwrap().as_ref(), Some(&big));
    // 1 MB that compresses well: packed into one item.
    let packed = item(json!({"PK": "WS#big", "SK": "ITEM#2", "payload": "{\"setting\":true}".repeat(64 * 1024)}));
    t.put(packed.clone(), None).await.unwrap();
    let page = t.query(&Query::partition("WS#big")).await.unwrap();
    assert_eq!(page.items, vec![big.clone(), packed], "queries return decoded items");
    // Small attributes stay usable in conditions and updates.
    let after = t
        .update(
            &Key::new("WS#big", "ITEM#1"),
            &Update::new().set("status", "stale"),
            Some(Cond::eq("status", "ok")),
        )
        .await
        .unwrap();
    assert_eq!(after["payload"], big["payload"]);
    assert_eq!(after["status"], json!("stale"));
    // Replacing with another large value, then a small one, keeps reads exact.
    let big2 = item(json!({"PK": "WS#big", "SK": "ITEM#1", "payload": noise(900 * 1024, 11)}));
    t.put(big2.clone(), None).await.unwrap();
    assert_eq!(t.get(&Key::new("WS#big", "ITEM#1")).await.unwrap(), Some(big2));
    let small = item(json!({"PK": "WS#big", "SK": "ITEM#1", "payload": "tiny"}));
    t.put(small.clone(), None).await.unwrap();
    assert_eq!(t.get(&Key::new("WS#big", "ITEM#1")).await.unwrap(), Some(small));
    assert!(t.delete(&Key::new("WS#big", "ITEM#1"), None).await.unwrap());
}

pub async fn reserved_attributes_are_refused(b: Backend) {
    let bad = item(json!({"PK": "WS#r", "SK": "X", "_zver": "mine"}));
    assert!(matches!(b.table.put(bad, None).await, Err(TableError::Validation(_))));
    assert_eq!(b.table.get(&Key::new("WS#r", "X")).await.unwrap(), None);
}

/// Receives until `want` messages arrived or the deadline passed.
async fn receive_n(
    q: &dyn atlas_store::Queue,
    want: usize,
    vis: Duration,
    deadline: Duration,
) -> Vec<atlas_store::Received> {
    let start = Instant::now();
    let mut got = Vec::new();
    while got.len() < want && start.elapsed() < deadline {
        got.extend(q.receive(10, vis, Duration::from_secs(1)).await.unwrap());
    }
    got
}

pub async fn queue_send_receive_delete(b: Backend) {
    let (q, _dlq) = b.queue(5).await;
    let msgs: Vec<OutMessage> = (0..15).map(|i| OutMessage::new(format!("{{\"n\":{i}}}"))).collect();
    let ids = q.send_batch(msgs).await.unwrap();
    assert_eq!(ids.len(), 15);
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), 15, "distinct ids");
    let got = receive_n(q.as_ref(), 15, Duration::from_secs(30), Duration::from_secs(20)).await;
    let bodies: BTreeSet<String> = got.iter().map(|m| m.body.clone()).collect();
    assert_eq!(bodies, (0..15).map(|i| format!("{{\"n\":{i}}}")).collect());
    assert!(got.iter().all(|m| m.receive_count == 1));
    for m in &got {
        q.delete(&m.receipt).await.unwrap();
    }
    assert!(
        q.receive(10, Duration::from_secs(1), Duration::ZERO)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(q.depth().await.unwrap(), 0);
}

pub async fn undeleted_message_reappears_after_visibility_timeout(b: Backend) {
    let (q, _dlq) = b.queue(5).await;
    q.send(OutMessage::new("work")).await.unwrap();
    let first = receive_n(q.as_ref(), 1, Duration::from_secs(1), Duration::from_secs(10)).await;
    assert_eq!(first.len(), 1);
    assert!(
        q.receive(10, Duration::from_secs(1), Duration::ZERO)
            .await
            .unwrap()
            .is_empty(),
        "hidden while in flight"
    );
    let again = receive_n(q.as_ref(), 1, Duration::from_secs(30), Duration::from_secs(15)).await;
    assert_eq!(again.len(), 1, "came back after the timeout");
    assert_eq!(again[0].id, first[0].id);
    assert_eq!(again[0].receive_count, 2);
    q.delete(&again[0].receipt).await.unwrap();
}

pub async fn message_received_n_times_lands_in_dead_letter_queue(b: Backend) {
    let (q, dlq) = b.queue(2).await;
    q.send(OutMessage::new("poison")).await.unwrap();
    let start = Instant::now();
    let mut receives = 0;
    let mut dead = Vec::new();
    while dead.is_empty() && start.elapsed() < Duration::from_secs(30) {
        receives += q
            .receive(10, Duration::from_secs(1), Duration::from_secs(1))
            .await
            .unwrap()
            .len();
        dead = dlq.receive(10, Duration::from_secs(30), Duration::ZERO).await.unwrap();
    }
    assert_eq!(receives, 2, "received exactly max_receives times");
    assert_eq!(dead.len(), 1, "then moved to the dead-letter queue");
    assert_eq!(dead[0].body, "poison");
    assert!(
        q.receive(10, Duration::from_secs(1), Duration::ZERO)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn delayed_message_is_hidden_until_due(b: Backend) {
    let (q, _dlq) = b.queue(5).await;
    q.send(OutMessage::new("later").delayed(Duration::from_secs(2)))
        .await
        .unwrap();
    let sent = Instant::now();
    let got = receive_n(q.as_ref(), 1, Duration::from_secs(30), Duration::from_secs(15)).await;
    assert_eq!(got.len(), 1);
    assert!(sent.elapsed() >= Duration::from_millis(1_900), "not before its delay");
}

pub async fn visibility_can_be_extended(b: Backend) {
    let (q, _dlq) = b.queue(5).await;
    q.send(OutMessage::new("long")).await.unwrap();
    let m = receive_n(q.as_ref(), 1, Duration::from_secs(1), Duration::from_secs(10))
        .await
        .remove(0);
    q.change_visibility(&m.receipt, Duration::from_secs(30)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1_500)).await; // past the original 1 s timeout
    assert!(
        q.receive(10, Duration::from_secs(1), Duration::ZERO)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn oversized_message_is_refused(b: Backend) {
    let (q, _dlq) = b.queue(5).await;
    let err = q.send(OutMessage::new("x".repeat(256 * 1024 + 1))).await.unwrap_err();
    assert!(matches!(err, QueueError::TooLarge(_)));
    assert_eq!(q.depth().await.unwrap(), 0);
}

/// What one operation consumed, in thousandths of a unit: (read, write).
async fn units<F: std::future::Future>(t: &atlas_store::Table, f: impl FnOnce(atlas_store::Table) -> F) -> (u64, u64) {
    let meter = atlas_store::Meter::new();
    f(t.metered(meter.clone())).await;
    let c = meter.consumed();
    (c.read_milli, c.write_milli)
}

/// Consumed capacity by DynamoDB's documented rules, the same on both backends (ADR 0038): the
/// embedded store computes it, DynamoDB reports it (moto patched to bill as the guide says,
/// tests/support/ddb_capacity.py). Sizes below: names + values in UTF-8 bytes.
pub async fn consumed_units_follow_dynamodb_rules(b: Backend) {
    let t = &b.table;
    let small = || item(json!({"PK": "C", "SK": "a", "n": 1}));
    // 2 + 1 + 2 + 3 + 4 + 2,500 = 2,512 bytes: 3 write units, 1 read unit.
    let big = || item(json!({"PK": "C", "SK": "big", "body": "x".repeat(2500)}));
    let k = |sk: &str| Key::new("C", sk);

    assert_eq!(
        units(t, |t| async move { t.put(small(), None).await.unwrap() }).await,
        (0, 1000),
        "a new small item"
    );
    assert_eq!(
        units(t, |t| async move { t.put(big(), None).await.unwrap() }).await,
        (0, 3000),
        "2,512 bytes round up to 3 KB"
    );
    let smaller = item(json!({"PK": "C", "SK": "big", "n": 2}));
    assert_eq!(
        units(t, |t| async move { t.put(smaller, None).await.unwrap() }).await,
        (0, 3000),
        "a put costs the larger of the item before and after"
    );
    t.put(big(), None).await.unwrap();
    assert_eq!(
        units(t, |t| async move {
            t.get(&k("big")).await.unwrap();
        })
        .await,
        (1000, 0),
        "a strongly consistent read under 4 KB"
    );
    let huge = item(json!({"PK": "C", "SK": "huge", "body": "y".repeat(5000)}));
    t.put(huge, None).await.unwrap();
    assert_eq!(
        units(t, |t| async move {
            t.get(&k("huge")).await.unwrap();
        })
        .await,
        (2000, 0),
        "5,012 bytes: two 4 KB steps"
    );
    assert_eq!(
        units(t, |t| async move {
            t.get(&k("missing")).await.unwrap();
        })
        .await,
        (1000, 0),
        "a miss costs a read"
    );

    // The index: a new entry, a moved entry, a changed entry, a removed entry.
    let indexed = || item(json!({"PK": "C", "SK": "g", "GSI1PK": "G", "GSI1SK": "1"}));
    assert_eq!(
        units(t, |t| async move { t.put(indexed(), None).await.unwrap() }).await,
        (0, 2000),
        "table + index"
    );
    let moved = Update::new().set("GSI1SK", "2");
    assert_eq!(
        units(t, |t| async move {
            t.update(&k("g"), &moved, None).await.unwrap();
        })
        .await,
        (0, 3000),
        "a changed index key: the table, and a delete and a put in the index"
    );
    let changed = Update::new().set("note", "x");
    assert_eq!(
        units(t, |t| async move {
            t.update(&k("g"), &changed, None).await.unwrap();
        })
        .await,
        (0, 2000)
    );
    assert_eq!(
        units(t, |t| async move {
            t.delete(&k("g"), None).await.unwrap();
        })
        .await,
        (0, 2000)
    );
    assert_eq!(
        units(t, |t| async move {
            t.delete(&k("gone"), None).await.unwrap();
        })
        .await,
        (0, 1000),
        "a delete of nothing"
    );
    assert_eq!(
        units(t, |t| async move {
            assert!(t.put(small(), Some(Cond::NotExists)).await.is_err())
        })
        .await,
        (0, 1000),
        "a refused write is billed its floor"
    );

    // Queries: the page's bytes together, rounded up to 4 KB; the index reads eventually consistently.
    for i in 0..3 {
        let it = item(
            json!({"PK": "Q", "SK": format!("q{i}"), "GSI1PK": "QG", "GSI1SK": format!("{i}"), "body": "z".repeat(2000)}),
        );
        t.put(it, None).await.unwrap();
    }
    // Each: 2 + 1 + 2 + 2 + 6 + 2 + 6 + 1 + 4 + 2,000 = 2,026 bytes; three: 6,078 → two 4 KB steps.
    assert_eq!(
        units(t, |t| async move {
            t.query(&Query::partition("Q")).await.unwrap();
        })
        .await,
        (2000, 0)
    );
    assert_eq!(
        units(t, |t| async move {
            t.query(&Query::gsi1("QG")).await.unwrap();
        })
        .await,
        (1000, 0),
        "half on the index"
    );
    assert_eq!(
        units(t, |t| async move {
            t.query(&Query::partition("Q").eventually()).await.unwrap();
        })
        .await,
        (1000, 0),
        "half when asked to be eventually consistent"
    );
    assert_eq!(
        units(t, |t| async move {
            t.query(&Query::partition("EMPTY")).await.unwrap();
        })
        .await,
        (1000, 0)
    );

    // A transaction: twice each write, a condition check as a transactional write of its item.
    let tx = vec![
        TxItem::Put {
            item: item(json!({"PK": "T", "SK": "1"})),
            cond: Some(Cond::NotExists),
        },
        TxItem::Put {
            item: item(json!({"PK": "T", "SK": "2"})),
            cond: None,
        },
        TxItem::Check {
            key: k("a"),
            cond: Cond::Exists,
        },
    ];
    assert_eq!(
        units(t, |t| async move { t.transact(tx).await.unwrap() }).await,
        (0, 6000)
    );
    // Unconditional writes in a batch: each as a single write.
    let batch: Vec<TxItem> = (0..3)
        .map(|i| TxItem::Put {
            item: item(json!({"PK": "B", "SK": format!("{i}")})),
            cond: None,
        })
        .collect();
    assert_eq!(
        units(t, |t| async move {
            t.batch(batch).await.unwrap();
        })
        .await,
        (0, 3000)
    );
}
