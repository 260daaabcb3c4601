//! Public test vectors: Wycheproof (signatures, MACs, AES-GCM), RFC examples, the RFC 7520
//! cookbook and real provider documents, each run on every crypto provider compiled in. Every
//! test prints how many cases it checked.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod providers;
mod rfc;
mod wycheproof_aead;
mod wycheproof_jose;
mod wycheproof_primitives;

use std::path::PathBuf;

use serde_json::Value;

pub(crate) fn data(rel: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

pub(crate) fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex");
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}
