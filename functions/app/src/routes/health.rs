use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use atlas_api_types::{Health, HealthStatus};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use crate::{AppState, VERSION};

/// How long a write probe's answer stands: health checks every few seconds cost one write, not one each.
const PROBE_TTL: Duration = Duration::from_secs(2);
/// A store that takes longer than this to write is as good as unable to.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// When a probe ran, and why the store could not write (`None`: it could).
type Probe = (Instant, Option<String>);

/// The last write probe per running stack (keyed by its queues, unique per state).
static PROBES: Mutex<Option<HashMap<usize, Probe>>> = Mutex::new(None);

/// 200 when the table answers and takes a write, 503 (same body, `degraded`, with why) when it does not.
#[tracing::instrument(skip_all)]
pub async fn get(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let problem = match state.table.ping().await {
        Ok(()) => write_problem(&state).await,
        Err(e) => {
            tracing::warn!(error = %e, "health: table did not answer");
            Some(format!("the store does not answer: {e}"))
        }
    };
    let ok = problem.is_none();
    let health = if ok { HealthStatus::Ok } else { HealthStatus::Degraded };
    let body = Health {
        state: health,
        status: health.canonical(),
        version: VERSION.to_owned(),
        storage: state.table.kind().to_owned(),
        queue: state.queues.kind().to_owned(),
        problem,
    };
    (
        if ok {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        Json(body),
    )
}

/// Why the store cannot write, if it cannot: one small item rewritten in place, within a bound,
/// remembered for [`PROBE_TTL`].
async fn write_problem(state: &AppState) -> Option<String> {
    let id = std::sync::Arc::as_ptr(&state.queues) as usize;
    let now = Instant::now();
    {
        let cache = PROBES.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, answer)) = cache.as_ref().and_then(|c| c.get(&id))
            && now.duration_since(*at) < PROBE_TTL
        {
            return answer.clone();
        }
    }
    let probe = crate::records::Record::to_item(&crate::records::health::WriteProbe {
        at_ms: state.clock.now_millis(),
    });
    let answer = match tokio::time::timeout(PROBE_TIMEOUT, state.table.put(probe, None)).await {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(crate::error::cannot_write(&e.to_string())),
        Err(_) => Some(format!(
            "{}: a write took longer than {PROBE_TIMEOUT:?}",
            atlas_store::CANNOT_WRITE
        )),
    };
    if let Some(why) = &answer {
        tracing::warn!(problem = %why, "health: the store cannot write");
    }
    let mut cache = PROBES.lock().unwrap_or_else(|e| e.into_inner());
    cache.get_or_insert_with(HashMap::new).insert(id, (now, answer.clone()));
    answer
}
