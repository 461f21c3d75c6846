//! What every handler and step is given: the table, the queues, the clock and the id generator,
//! built once per process from the configuration.

use std::collections::BTreeMap;
use std::sync::Arc;

use atlas_store::embedded::EmbeddedStore;
use atlas_store::sqs::SqsQueue;
use atlas_store::{Clock, IdGen, Queue, QueueSpec, SystemClock, Table, UlidIds};

use crate::config::{Config, Storage};
use crate::error::ApiError;

/// After this many receives a message is moved to its dead-letter queue (the template matches it).
pub const MAX_RECEIVES: u32 = 5;

#[derive(Clone)]
pub struct AppState {
    pub table: Table,
    pub queues: Arc<Queues>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGen>,
}

/// The work queues by their logical name (`run-reconcile`, …), with their dead-letter queues.
pub struct Queues {
    kind: &'static str,
    main: BTreeMap<String, Arc<dyn Queue>>,
    dead: BTreeMap<String, Arc<dyn Queue>>,
}

impl Queues {
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    pub fn get(&self, name: &str) -> Result<&Arc<dyn Queue>, ApiError> {
        self.main
            .get(name)
            .ok_or_else(|| ApiError::Internal(format!("queue {name} is not configured")))
    }

    /// The dead-letter queue of `name`, where the process can reach it (not in AWS mode).
    pub fn dead_letter(&self, name: &str) -> Option<&Arc<dyn Queue>> {
        self.dead.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.main.keys().map(String::as_str)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("cannot start: {0}")]
pub struct StartError(pub String);

/// The process's connections, plus the embedded store when there is one.
pub struct Started {
    pub state: AppState,
    pub store: Option<EmbeddedStore>,
}

impl AppState {
    pub async fn connect(config: &Config) -> Result<Started, StartError> {
        Self::connect_with(config, Arc::new(SystemClock), Arc::new(UlidIds)).await
    }

    pub async fn connect_with(
        config: &Config,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGen>,
    ) -> Result<Started, StartError> {
        let names: Vec<&str> = crate::steps::steps().iter().map(|s| s.queue).collect();
        match &config.storage {
            Storage::Embedded { data_dir } => {
                let store = EmbeddedStore::open(&data_dir.join("atlas.db"), clock.clone())
                    .map_err(|e| StartError(e.to_string()))?;
                let mut main = BTreeMap::new();
                let mut dead = BTreeMap::new();
                for n in names {
                    let (m, d) = QueueSpec::with_dlq(n, MAX_RECEIVES);
                    main.insert(n.to_owned(), store.queue(&m).map_err(|e| StartError(e.to_string()))?);
                    dead.insert(n.to_owned(), store.queue(&d).map_err(|e| StartError(e.to_string()))?);
                }
                let state = AppState {
                    table: Table::new(store.table()),
                    queues: Arc::new(Queues {
                        kind: "embedded",
                        main,
                        dead,
                    }),
                    clock,
                    ids,
                };
                Ok(Started {
                    state,
                    store: Some(store),
                })
            }
            Storage::Aws {
                table,
                endpoint,
                queue_urls,
            } => {
                let conf = atlas_store::aws::sdk_config(endpoint.as_deref()).await;
                let raw = atlas_store::dynamo::DynamoTable::new(atlas_store::aws::dynamo_client(&conf), table);
                let sqs = atlas_store::aws::sqs_client(&conf);
                let mut main: BTreeMap<String, Arc<dyn Queue>> = BTreeMap::new();
                let mut dead: BTreeMap<String, Arc<dyn Queue>> = BTreeMap::new();
                if endpoint.is_some() {
                    // A protocol server on loopback: create what the template would.
                    raw.ensure_table().await.map_err(|e| StartError(e.to_string()))?;
                    for n in names {
                        let (m, d) = QueueSpec::with_dlq(&format!("{table}-{n}"), MAX_RECEIVES);
                        let dq = SqsQueue::ensure(&sqs, &d)
                            .await
                            .map_err(|e| StartError(e.to_string()))?;
                        let mq = SqsQueue::ensure(&sqs, &m)
                            .await
                            .map_err(|e| StartError(e.to_string()))?;
                        main.insert(n.to_owned(), Arc::new(mq));
                        dead.insert(n.to_owned(), Arc::new(dq));
                    }
                } else {
                    for n in names {
                        if let Some(url) = queue_urls.get(n) {
                            main.insert(n.to_owned(), Arc::new(SqsQueue::new(sqs.clone(), url, n)));
                        }
                    }
                }
                let state = AppState {
                    table: atlas_store::Table::new(Arc::new(raw)),
                    queues: Arc::new(Queues {
                        kind: "sqs",
                        main,
                        dead,
                    }),
                    clock,
                    ids,
                };
                Ok(Started { state, store: None })
            }
        }
    }
}
