//! Large items: DynamoDB refuses items over 400 KB, and Graph payloads can be bigger. Large
//! attributes are packed into one deflate-compressed attribute; when even that is too big, it is
//! split over chunk items in a partition of their own, written before the main item that names
//! their version, so a reader never sees a half-written value.

use std::io::{Read, Write};

use base64::Engine as _;
use flate2::{Compression, read::DeflateDecoder, write::DeflateEncoder};
use serde_json::Value;

use crate::table::{GSI1PK, GSI1SK, Item, Key, PK, SK, TableError};

/// Attributes starting with this are ours; callers cannot write them.
pub const RESERVED_PREFIX: &str = "_z";
const PACKED: &str = "_z";
const VERSION: &str = "_zver";
const PARTS: &str = "_zparts";
const PART: &str = "_zpart";
/// Below DynamoDB's 400 KB with room for attribute names and the index keys.
pub const ITEM_LIMIT: usize = 350_000;
const CHUNK_CHARS: usize = 300_000;
/// Attributes smaller than this stay plain, so conditions and updates keep working on them.
const PACK_MIN: usize = 1_024;

pub struct Encoded {
    pub main: Item,
    pub chunks: Vec<Item>,
}

pub struct ChunkRef {
    pub pk: String,
    pub version: String,
}

fn size(v: &impl serde::Serialize) -> usize {
    serde_json::to_vec(v).map(|b| b.len()).unwrap_or(usize::MAX)
}

fn chunk_pk(key: &Key) -> String {
    format!("_CHUNK#{}|{}", key.pk, key.sk)
}

pub fn encode(mut item: Item, key: &Key, version: &str) -> Result<Encoded, TableError> {
    if let Some(bad) = item.keys().find(|k| k.starts_with(RESERVED_PREFIX)) {
        return Err(TableError::Validation(format!("attribute name {bad} is reserved")));
    }
    if size(&item) <= ITEM_LIMIT {
        return Ok(Encoded {
            main: item,
            chunks: Vec::new(),
        });
    }
    let keep = [PK, SK, GSI1PK, GSI1SK];
    let big: Vec<String> = item
        .iter()
        .filter(|(k, v)| !keep.contains(&k.as_str()) && size(v) >= PACK_MIN)
        .map(|(k, _)| k.clone())
        .collect();
    let mut packed = Item::new();
    for k in big {
        if let Some(v) = item.remove(&k) {
            packed.insert(k, v);
        }
    }
    let b64 = deflate_b64(&serde_json::to_vec(&packed).map_err(|e| TableError::Validation(e.to_string()))?)?;

    if size(&item) + b64.len() + 16 <= ITEM_LIMIT {
        item.insert(PACKED.into(), Value::String(b64));
        return Ok(Encoded {
            main: item,
            chunks: Vec::new(),
        });
    }
    if size(&item) > ITEM_LIMIT {
        return Err(TableError::Validation(
            "the item's small attributes alone exceed the item size limit".into(),
        ));
    }
    let pk = chunk_pk(key);
    let chunks: Vec<Item> = b64
        .as_bytes()
        .chunks(CHUNK_CHARS)
        .enumerate()
        .map(|(i, part)| {
            let mut c = Item::new();
            c.insert(PK.into(), Value::String(pk.clone()));
            c.insert(SK.into(), Value::String(format!("{version}#{i:05}")));
            // base64 is ASCII, so byte chunks are valid strings.
            c.insert(PART.into(), Value::String(String::from_utf8_lossy(part).into_owned()));
            c
        })
        .collect();
    item.insert(VERSION.into(), Value::String(version.to_owned()));
    item.insert(PARTS.into(), Value::from(chunks.len()));
    Ok(Encoded { main: item, chunks })
}

/// One JSON value as deflate-compressed, base64 text: for large values written once and read
/// whole (a payload), which then cost a third to a fifth of their write and storage units.
pub fn pack_json(v: &Value) -> Result<String, TableError> {
    let json = serde_json::to_vec(v).map_err(|e| TableError::Validation(e.to_string()))?;
    pack_json_bytes(&json)
}

/// [`pack_json`] of a value already serialized.
pub fn pack_json_bytes(json: &[u8]) -> Result<String, TableError> {
    deflate_b64(json)
}

/// The value [`pack_json`] packed.
pub fn unpack_json(b64: &str) -> Result<Value, TableError> {
    serde_json::from_slice(&inflate_b64(b64)?).map_err(|e| TableError::Corrupt(format!("packed value: {e}")))
}

fn deflate_b64(raw: &[u8]) -> Result<String, TableError> {
    let mut enc = DeflateEncoder::new(Vec::new(), Compression::default());
    enc.write_all(raw)
        .and_then(|_| enc.try_finish())
        .map_err(|e| TableError::Validation(format!("compression failed: {e}")))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(enc.get_ref()))
}

fn inflate_b64(b64: &str) -> Result<Vec<u8>, TableError> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| TableError::Corrupt(format!("packed value: {e}")))?;
    let mut out = Vec::new();
    DeflateDecoder::new(&raw[..])
        .read_to_end(&mut out)
        .map_err(|e| TableError::Corrupt(format!("packed value: {e}")))?;
    Ok(out)
}

pub fn chunk_ref(item: &Item) -> Option<ChunkRef> {
    let version = item.get(VERSION)?.as_str()?.to_owned();
    let key = Key::of(item).ok()?;
    Some(ChunkRef {
        pk: chunk_pk(&key),
        version,
    })
}

/// Restores an item; `parts` are the chunk items when [`chunk_ref`] said there are some.
pub fn decode(mut item: Item, parts: Option<Vec<Item>>) -> Result<Item, TableError> {
    let b64 = if let Some(Value::String(s)) = item.remove(PACKED) {
        Some(s)
    } else if let Some(mut parts) = parts {
        let want = item.get(PARTS).and_then(Value::as_u64).unwrap_or(0) as usize;
        if parts.len() != want {
            return Err(TableError::Corrupt(format!(
                "expected {want} chunks, found {}",
                parts.len()
            )));
        }
        parts.sort_by(|a, b| {
            a.get(SK)
                .and_then(Value::as_str)
                .cmp(&b.get(SK).and_then(Value::as_str))
        });
        let mut s = String::new();
        for p in &parts {
            s.push_str(
                p.get(PART)
                    .and_then(Value::as_str)
                    .ok_or_else(|| TableError::Corrupt("chunk without data".into()))?,
            );
        }
        Some(s)
    } else {
        None
    };
    item.remove(VERSION);
    item.remove(PARTS);
    let Some(b64) = b64 else { return Ok(item) };
    let json = inflate_b64(&b64)?;
    let packed: Item =
        serde_json::from_slice(&json).map_err(|e| TableError::Corrupt(format!("packed attributes: {e}")))?;
    for (k, v) in packed {
        // Plain attributes were written later (updates), so they win.
        item.entry(k).or_insert(v);
    }
    Ok(item)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> Item {
        json!({"PK": "WS#1", "SK": "ITEM#1", "status": "ok"})
            .as_object()
            .unwrap()
            .clone()
    }

    #[test]
    fn small_items_pass_unchanged() {
        let e = encode(base(), &Key::new("WS#1", "ITEM#1"), "v1").unwrap();
        assert_eq!(e.main, base());
        assert!(e.chunks.is_empty());
    }

    #[test]
    fn compressible_large_item_is_packed_into_one_item() {
        let mut i = base();
        i.insert("payload".into(), Value::String("abc".repeat(300_000)));
        let e = encode(i.clone(), &Key::new("WS#1", "ITEM#1"), "v1").unwrap();
        assert!(e.chunks.is_empty());
        assert!(size(&e.main) < ITEM_LIMIT);
        assert_eq!(e.main["status"], json!("ok"), "small attributes stay plain");
        assert_eq!(decode(e.main, None).unwrap(), i);
    }

    #[test]
    fn incompressible_large_item_is_chunked() {
        let mut i = base();
        // Pseudo-random hex does not compress below ~50%.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let noise: String = (0..1_200_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                char::from_digit((x % 16) as u32, 16).unwrap()
            })
            .collect();
        i.insert("payload".into(), Value::String(noise));
        let e = encode(i.clone(), &Key::new("WS#1", "ITEM#1"), "v1").unwrap();
        assert!(e.chunks.len() >= 2);
        assert!(e.chunks.iter().all(|c| size(c) < ITEM_LIMIT));
        assert!(chunk_ref(&e.main).is_some());
        let mut parts = e.chunks.clone();
        parts.reverse();
        assert_eq!(decode(e.main.clone(), Some(parts)).unwrap(), i);
        assert!(matches!(decode(e.main, Some(vec![])), Err(TableError::Corrupt(_))));
    }

    #[test]
    fn reserved_names_are_refused() {
        let mut i = base();
        i.insert("_zx".into(), json!(1));
        assert!(matches!(
            encode(i, &Key::new("a", "b"), "v"),
            Err(TableError::Validation(_))
        ));
    }
}
