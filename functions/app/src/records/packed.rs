//! A JSON attribute stored deflated when that is shorter (ADR 0053): for a large value written
//! whole and read whole, never looked into by a condition, an update or a query.
//!
//! `#[serde(with = "crate::records::packed")]` on a `serde_json::Value` field: written as the
//! text `zjson1:<base64 deflate>` when the value's JSON is at least [`FROM`] bytes and the packed
//! text is shorter; read back from either form, so values written plain before still read. A Graph
//! payload is an object, never a string, so the prefix cannot be a value's own.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// Values at least this long (as JSON) are packed when that is shorter.
pub const FROM: usize = 256;
const PREFIX: &str = "zjson1:";

pub fn serialize<S: Serializer>(v: &Value, s: S) -> Result<S::Ok, S::Error> {
    if let Some(text) = pack(v).map_err(serde::ser::Error::custom)? {
        return s.serialize_str(&text);
    }
    v.serialize(s)
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
    match Value::deserialize(d)? {
        Value::String(s) if s.starts_with(PREFIX) => {
            atlas_store::codec::unpack_json(&s[PREFIX.len()..]).map_err(D::Error::custom)
        }
        v => Ok(v),
    }
}

/// The packed text of `v`, when packing it is worth it.
fn pack(v: &Value) -> Result<Option<String>, atlas_store::TableError> {
    Ok(shorter(v, PREFIX.len())?.map(|z| format!("{PREFIX}{z}")))
}

/// `v` deflated and base64-encoded ([`atlas_store::codec::pack_json`]) when its JSON is at least
/// [`FROM`] bytes and the packed text, with `extra` bytes beside it, is shorter. `v` is
/// serialized once.
pub fn shorter(v: &Value, extra: usize) -> Result<Option<String>, atlas_store::TableError> {
    let json = serde_json::to_vec(v).map_err(|e| atlas_store::TableError::Validation(e.to_string()))?;
    if json.len() < FROM {
        return Ok(None);
    }
    let z = atlas_store::codec::pack_json_bytes(&json)?;
    Ok((z.len() + extra < json.len()).then_some(z))
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};
    use serde_json::{Value, json};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Holder {
        #[serde(default, with = "super")]
        payload: Value,
    }

    #[test]
    fn large_values_are_packed_small_and_old_ones_read_as_they_are() {
        let settings: Vec<Value> = (0..40)
            .map(|i| json!({"settingDefinitionId": format!("device_vendor_msft_policy_config_defender_{i}"), "value": i}))
            .collect();
        let big = Holder {
            payload: json!({"id": "p", "settings": settings}),
        };
        let stored = serde_json::to_value(&big).unwrap();
        let text = stored["payload"].as_str().expect("packed");
        assert!(text.starts_with(super::PREFIX));
        assert!(text.len() * 3 < serde_json::to_string(&big.payload).unwrap().len());
        assert_eq!(serde_json::from_value::<Holder>(stored).unwrap(), big);

        let small = Holder {
            payload: json!({"id": "p"}),
        };
        assert_eq!(serde_json::to_value(&small).unwrap(), json!({"payload": {"id": "p"}}));
        // Written plain before: read as it is.
        let old = json!({"payload": big.payload.clone()});
        assert_eq!(serde_json::from_value::<Holder>(old).unwrap(), big);
        assert_eq!(
            serde_json::from_value::<Holder>(json!({})).unwrap().payload,
            Value::Null
        );
        // A damaged packed value is an error, never another payload.
        assert!(serde_json::from_value::<Holder>(json!({"payload": "zjson1:bm90"})).is_err());
    }
}
