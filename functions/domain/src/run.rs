//! An operation run's lifecycle: its state, and once completed, its outcome.

use serde::{Deserialize, Serialize};

string_enum!(
    /// Where a run stands.
    RunState {
        Queued = "queued",
        Running = "running",
        Completed = "completed",
    }
);

string_enum!(
    /// How a completed run ended.
    RunOutcome {
        Succeeded = "succeeded",
        PartiallySucceeded = "partially_succeeded",
        Failed = "failed",
        Blocked = "blocked",
        Cancelled = "cancelled",
    }
);
