//! Ports (table, queue, clock, id generator) and their adapters.
//!
//! The handlers see only [`Table`], [`Queue`], [`Clock`] and [`IdGen`]; whether an embedded
//! SQLite file or DynamoDB/SQS sits behind them is chosen once, at start.

pub mod capacity;
pub mod clock;
pub mod codec;
pub mod dynamo;
#[cfg(feature = "embedded")]
pub mod embedded;
pub mod expr;
pub mod queue;
pub mod sqs;
pub mod table;

pub use capacity::{Consumed, Meter};
pub use clock::{Clock, IdGen, ManualClock, SequentialIds, SystemClock, UlidIds};
pub use expr::{Cond, SkCond, Update, UpdateOp};
pub use queue::{OutMessage, Queue, QueueError, QueueSpec, Received};
pub use table::{CANNOT_WRITE, Index, Item, Key, Page, Query, RawTable, Table, TableError, TxItem};
pub mod aws;
