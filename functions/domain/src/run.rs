//! An operation run's lifecycle: its state, and once completed, its outcome.

use serde::{Deserialize, Serialize};

use crate::catalog::Status;

string_enum!(
    /// Where an operation run is in its life. A run is written `queued`, a unit that begins it
    /// makes it `running`, and it ends `completed` with a [`RunOutcome`].
    RunState {
        Queued = "queued",
        Running = "running",
        Completed = "completed",
    }
);

impl RunState {
    /// Queued or running: work may still happen, and the run may still end.
    pub fn is_active(self) -> bool {
        !matches!(self, RunState::Completed)
    }
}

string_enum!(
    /// How a completed run ended. `blocked`: its authority or its environment vanished before
    /// it executed.
    RunOutcome {
        Succeeded = "succeeded",
        PartiallySucceeded = "partially_succeeded",
        Failed = "failed",
        Blocked = "blocked",
        Cancelled = "cancelled",
    }
);

impl RunOutcome {
    /// The canonical status a run with this outcome shows.
    pub fn status(self) -> Status {
        match self {
            RunOutcome::Succeeded => Status::Ready,
            RunOutcome::PartiallySucceeded => Status::NeedsAttention,
            RunOutcome::Failed => Status::Failed,
            RunOutcome::Blocked => Status::Blocked,
            RunOutcome::Cancelled => Status::Historical,
        }
    }

    /// The outcome of a run whose every unit is recorded, from the units' counts.
    pub fn of_counts(succeeded: i64, failed: i64, skipped: i64) -> Self {
        if failed == 0 {
            RunOutcome::Succeeded
        } else if succeeded + skipped > 0 {
            RunOutcome::PartiallySucceeded
        } else {
            RunOutcome::Failed
        }
    }
}

string_enum!(
    /// The result of one unit of a run, recorded once however often its message arrives.
    ItemResult {
        Succeeded = "succeeded",
        Failed = "failed",
        Skipped = "skipped",
    }
);
