//! What the work costs as AWS would bill it (issue 21, ADR 0038): per function, invocations and
//! billed duration (Lambda rounds each invocation up to the millisecond and bills it at the
//! function's configured memory); SQS requests; S3 requests. The table's request units are metered
//! by the store (`atlas_store::capacity`).
//!
//! The event source mapping hands a step's function up to ten messages at once (`BatchSize` 10 in
//! infra/template.yaml), and the function works them side by side: a received batch is one
//! invocation, billed for as long as its longest unit ran ([`BatchBill`]; a unit run on its own is
//! one invocation). Under Lambda each unit's figures also go out as a CloudWatch Embedded Metric
//! Format line on stdout, which CloudWatch turns into metrics without an API call.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use atlas_store::Consumed;

/// The memory every function is configured with (infra/template.yaml `Globals`).
pub const FUNCTION_MEMORY_MB: u64 = 256;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FunctionFigures {
    pub invocations: u64,
    /// The sum of each invocation's duration rounded up to 1 ms.
    pub billed_ms: u64,
    /// Table request units the invocations consumed.
    pub used: Consumed,
}

#[derive(Debug, Default)]
pub struct Metering {
    functions: Mutex<BTreeMap<String, FunctionFigures>>,
    sqs_requests: AtomicU64,
    s3_requests: AtomicU64,
    s3_gets: AtomicU64,
}

/// The process's figures.
pub fn global() -> &'static Metering {
    static M: OnceLock<Metering> = OnceLock::new();
    M.get_or_init(Metering::default)
}

impl Metering {
    /// One invocation of `function` that ran for `took` and consumed `used` of the table.
    pub fn invoked(&self, function: &str, took: Duration, used: Consumed) {
        let ms = took.as_nanos().div_ceil(1_000_000) as u64;
        let mut f = self.functions.lock().unwrap_or_else(|p| p.into_inner());
        let e = f.entry(function.to_owned()).or_default();
        e.invocations += 1;
        e.billed_ms += ms.max(1);
        e.used += used;
    }
    /// One invocation that worked several units side by side: billed for its longest unit.
    pub fn batch_invoked(&self, function: &str, longest: Duration, used: Consumed) {
        self.invoked(function, longest, used);
    }
    pub fn sqs(&self, requests: u64) {
        self.sqs_requests.fetch_add(requests, Ordering::Relaxed);
    }
    /// A PUT, COPY, POST, LIST or DELETE; `get` for a GET (billed at a tenth).
    pub fn s3(&self, get: bool) {
        if get {
            self.s3_gets.fetch_add(1, Ordering::Relaxed);
        } else {
            self.s3_requests.fetch_add(1, Ordering::Relaxed);
        }
    }
    pub fn functions(&self) -> BTreeMap<String, FunctionFigures> {
        self.functions.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
    pub fn invocations(&self) -> u64 {
        self.functions().values().map(|f| f.invocations).sum()
    }
    /// GB-seconds at [`FUNCTION_MEMORY_MB`].
    pub fn gb_seconds(&self) -> f64 {
        let ms: u64 = self.functions().values().map(|f| f.billed_ms).sum();
        ms as f64 / 1000.0 * FUNCTION_MEMORY_MB as f64 / 1024.0
    }
    pub fn sqs_requests(&self) -> u64 {
        self.sqs_requests.load(Ordering::Relaxed)
    }
    /// (PUT-class, GET) requests.
    pub fn s3_requests(&self) -> (u64, u64) {
        (
            self.s3_requests.load(Ordering::Relaxed),
            self.s3_gets.load(Ordering::Relaxed),
        )
    }
    /// Starts every figure from zero (a bench measures a period after its setup).
    pub fn reset(&self) {
        self.functions.lock().unwrap_or_else(|p| p.into_inner()).clear();
        self.sqs_requests.store(0, Ordering::Relaxed);
        self.s3_requests.store(0, Ordering::Relaxed);
        self.s3_gets.store(0, Ordering::Relaxed);
    }
}

/// SQS requests for sending `sizes` (message bytes) in batches of up to ten: each batch is a
/// request, and each 64 KB of its payload another.
pub fn sqs_send_requests(sizes: &[usize]) -> u64 {
    sizes
        .chunks(10)
        .map(|c| (c.iter().sum::<usize>().div_ceil(64 * 1024) as u64).max(1))
        .sum()
}

/// The Embedded Metric Format line of one invocation, printed to stdout under Lambda (where the
/// log line is the metric: no API call, no extra latency).
pub fn emf_line(function: &str, took: Duration, used: Consumed, at_ms: i64) -> String {
    serde_json::json!({
        "_aws": {
            "Timestamp": at_ms,
            "CloudWatchMetrics": [{
                "Namespace": "TenantAtlas",
                "Dimensions": [["function"]],
                "Metrics": [
                    {"Name": "duration_ms", "Unit": "Milliseconds"},
                    {"Name": "read_units", "Unit": "Count"},
                    {"Name": "write_units", "Unit": "Count"}
                ]
            }]
        },
        "function": function,
        "duration_ms": took.as_secs_f64() * 1000.0,
        "read_units": used.read_units(),
        "write_units": used.write_units(),
    })
    .to_string()
}

/// The units of one received batch, billed as the one invocation the event source mapping makes
/// of them once the last has finished: the longest unit's duration, every unit's request units.
#[derive(Debug)]
pub struct BatchBill {
    to: &'static Metering,
    function: &'static str,
    left: usize,
    longest: Duration,
    used: Consumed,
}

impl BatchBill {
    /// A batch of `units` messages received for `function`.
    pub fn new(function: &'static str, units: usize) -> std::sync::Arc<Mutex<Self>> {
        Self::new_in(global(), function, units)
    }

    fn new_in(to: &'static Metering, function: &'static str, units: usize) -> std::sync::Arc<Mutex<Self>> {
        std::sync::Arc::new(Mutex::new(Self {
            to,
            function,
            left: units,
            longest: Duration::ZERO,
            used: Consumed::default(),
        }))
    }

    /// One unit of the batch finished (or was handed back unworked: `took` zero); the last one
    /// bills the invocation, unless no unit of it was worked.
    pub fn done(bill: &Mutex<Self>, took: Duration, used: Consumed) {
        let mut b = bill.lock().unwrap_or_else(|p| p.into_inner());
        b.longest = b.longest.max(took);
        b.used += used;
        b.left = b.left.saturating_sub(1);
        if b.left == 0 && !b.longest.is_zero() {
            b.to.batch_invoked(b.function, b.longest, b.used);
        }
    }
}

/// True under AWS Lambda.
pub fn in_lambda() -> bool {
    std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some()
}

/// A queue whose requests are counted as SQS would bill them. Receives that found nothing are
/// not counted: locally they are the workers' polling, which in AWS is Lambda's event source
/// mapping, a fixed cost per queue rather than per environment (docs/cost.md). A receive that
/// found messages is that mapping's `ReceiveMessage` and the one `DeleteMessageBatch` it sends
/// for the batch's successes (the template's `BatchSize` is 10, with `ReportBatchItemFailures`),
/// so the local worker's deletes, one per message, are not counted again.
pub struct CountedQueue(pub std::sync::Arc<dyn atlas_store::Queue>);

/// A batch received and deleted: `ReceiveMessage`, then one `DeleteMessageBatch`.
const RECEIVED_BATCH_REQUESTS: u64 = 2;

#[async_trait::async_trait]
impl atlas_store::Queue for CountedQueue {
    fn kind(&self) -> &'static str {
        self.0.kind()
    }
    fn name(&self) -> &str {
        self.0.name()
    }
    async fn send_batch(&self, messages: Vec<atlas_store::OutMessage>) -> Result<Vec<String>, atlas_store::QueueError> {
        let sizes: Vec<usize> = messages.iter().map(|m| m.body.len()).collect();
        let out = self.0.send_batch(messages).await;
        if out.is_ok() {
            global().sqs(sqs_send_requests(&sizes));
        }
        out
    }
    async fn receive(
        &self,
        max: u32,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<atlas_store::Received>, atlas_store::QueueError> {
        let got = self.0.receive(max, visibility, wait).await;
        if got.as_ref().is_ok_and(|g| !g.is_empty()) {
            global().sqs(RECEIVED_BATCH_REQUESTS);
        }
        got
    }
    async fn delete(&self, receipt: &str) -> Result<(), atlas_store::QueueError> {
        self.0.delete(receipt).await
    }
    async fn change_visibility(&self, receipt: &str, visibility: Duration) -> Result<(), atlas_store::QueueError> {
        global().sqs(1);
        self.0.change_visibility(receipt, visibility).await
    }
    async fn depth(&self) -> Result<u64, atlas_store::QueueError> {
        self.0.depth().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_received_batch_is_one_invocation_as_long_as_its_longest_unit() {
        let m: &'static Metering = Box::leak(Box::default());
        let bill = BatchBill::new_in(m, "step-backup-capture", 3);
        BatchBill::done(&bill, Duration::from_millis(5), Consumed::write(1000));
        BatchBill::done(&bill, Duration::from_micros(8500), Consumed::read(500));
        assert!(m.functions().is_empty(), "billed only once the last unit ended");
        BatchBill::done(&bill, Duration::from_millis(2), Consumed::write(2000));
        let mut used = Consumed::write(3000);
        used += Consumed::read(500);
        assert_eq!(
            m.functions()["step-backup-capture"],
            FunctionFigures {
                invocations: 1,
                billed_ms: 9,
                used,
            }
        );
        // A batch whose units were all handed back unworked is no invocation.
        let none = BatchBill::new_in(m, "step-drift-poll", 2);
        BatchBill::done(&none, Duration::ZERO, Consumed::default());
        BatchBill::done(&none, Duration::ZERO, Consumed::default());
        assert!(!m.functions().contains_key("step-drift-poll"));
    }

    #[test]
    fn invocations_bill_whole_milliseconds_at_the_configured_memory() {
        let m = Metering::default();
        m.invoked("backup-capture", Duration::from_micros(1500), Consumed::write(1000));
        m.invoked("backup-capture", Duration::from_micros(10), Consumed::read(500));
        assert_eq!(
            m.functions()["backup-capture"],
            FunctionFigures {
                invocations: 2,
                billed_ms: 3,
                used: Consumed {
                    read_milli: 500,
                    write_milli: 1000
                }
            }
        );
        assert!((m.gb_seconds() - 0.003 * 0.25).abs() < 1e-12);
    }

    #[test]
    fn sqs_bills_batches_and_64_kb_chunks() {
        assert_eq!(sqs_send_requests(&[100; 10]), 1);
        assert_eq!(sqs_send_requests(&[100; 11]), 2);
        assert_eq!(sqs_send_requests(&[100 * 1024]), 2);
    }

    #[test]
    fn the_emf_line_names_its_metrics() {
        let line = emf_line("get-health", Duration::from_millis(3), Consumed::read(500), 1);
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Metrics"].as_array().unwrap().len(),
            3
        );
        assert_eq!(v["read_units"], 0.5);
        assert_eq!(v["function"], "get-health");
    }
}
