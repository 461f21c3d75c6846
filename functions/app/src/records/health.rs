//! The health check's write probe: one small item rewritten in place (`HEALTH` / `WRITE_PROBE`).

use atlas_store::Key;
use serde::{Deserialize, Serialize};

use super::Record;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WriteProbe {
    pub at_ms: i64,
}

impl Record for WriteProbe {
    const ENTITY: &'static str = "write_probe";
    fn key(&self) -> Key {
        Key::new("HEALTH", "WRITE_PROBE")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_is_one_item_outside_every_workspace() {
        let item = WriteProbe { at_ms: 5 }.to_item();
        assert_eq!(
            (item["PK"].as_str(), item["SK"].as_str()),
            (Some("HEALTH"), Some("WRITE_PROBE"))
        );
        assert_eq!(WriteProbe::from_item(item).unwrap(), WriteProbe { at_ms: 5 });
    }
}
