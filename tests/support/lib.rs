//! The test harness: a DynamoDB/SQS-protocol server on loopback, fresh backends per test, and
//! the contract suite both backends must pass.

pub mod app;
pub mod contract;
pub mod findings;
pub mod moto;
pub mod promotion;
pub mod sim;
pub mod smtp;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use atlas_store::embedded::EmbeddedStore;
use atlas_store::{Queue, QueueSpec, SystemClock, Table};

static NEXT: AtomicU64 = AtomicU64::new(0);

/// A unique name for this test's table, queue or directory.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

/// A directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let p = std::env::temp_dir().join(unique("atlas-test"));
        std::fs::create_dir_all(&p).expect("create temp dir");
        Self(p)
    }
}

impl Default for TempDir {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One backend of the contract suite, with what keeps it alive.
pub struct Backend {
    pub table: Table,
    pub store: Option<EmbeddedStore>,
    pub sqs: Option<aws_sdk_sqs::Client>,
    _dir: Option<TempDir>,
}

impl Backend {
    pub fn embedded() -> Self {
        let dir = TempDir::new();
        let store = EmbeddedStore::open(&dir.0.join("atlas.db"), Arc::new(SystemClock)).expect("open store");
        Self {
            table: Table::new(store.table()),
            store: Some(store),
            sqs: None,
            _dir: Some(dir),
        }
    }

    pub async fn aws() -> Self {
        let endpoint = moto::endpoint();
        let conf = atlas_store::aws::sdk_config(Some(&endpoint)).await;
        let raw = atlas_store::dynamo::DynamoTable::new(atlas_store::aws::dynamo_client(&conf), unique("table"));
        raw.ensure_table().await.expect("create table on the protocol server");
        Self {
            table: Table::new(Arc::new(raw)),
            store: None,
            sqs: Some(atlas_store::aws::sqs_client(&conf)),
            _dir: None,
        }
    }

    /// A fresh queue (and dead-letter queue) on this backend.
    pub async fn queue(&self, max_receives: u32) -> (Arc<dyn Queue>, Arc<dyn Queue>) {
        let (main, dlq) = QueueSpec::with_dlq(&unique("q"), max_receives);
        match (&self.store, &self.sqs) {
            (Some(s), _) => (s.queue(&main).expect("queue"), s.queue(&dlq).expect("dlq")),
            (None, Some(c)) => {
                let d = atlas_store::sqs::SqsQueue::ensure(c, &dlq).await.expect("dlq");
                let m = atlas_store::sqs::SqsQueue::ensure(c, &main).await.expect("queue");
                (Arc::new(m), Arc::new(d))
            }
            _ => unreachable!("a backend has a store or an SQS client"),
        }
    }
}

/// Instantiates each `async fn case(mode: Mode)` of the calling module as one test per backend:
/// `embedded::case` and `dynamodb::case`.
#[macro_export]
macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod embedded { $( #[tokio::test] async fn $case() { super::$case($crate::app::Mode::Embedded).await; } )* }
        mod dynamodb { $( #[tokio::test] async fn $case() { super::$case($crate::app::Mode::Aws).await; } )* }
    };
}

/// A request header as text ("" when absent or not text): the alert receivers read theirs so.
pub fn header_text(headers: &axum::http::HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}
