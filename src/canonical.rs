//! Canonical JSON (RFC 8785, JCS, for the values sanbao writes) and SHA-256 over it.
//!
//! Guarantees: object members are sorted by their UTF-16 code units; there is no
//! whitespace; strings are UTF-8 with only `"`, `\` and control characters (< U+0020)
//! escaped (`\b \f \n \r \t`, others `\u00xx`); integers are plain decimal. The same
//! value always gives the same bytes, so hashes over it are stable forever.
//! Non-integer numbers never occur in sanbao's values and are refused.

use serde_json::Value;
use sha2::{Digest, Sha256};
use std::io::{self, Write};

/// Writes `v` as canonical JSON into `w`.
pub fn write_canonical<W: Write>(w: &mut W, v: &Value) -> io::Result<()> {
    match v {
        Value::Null => w.write_all(b"null"),
        Value::Bool(true) => w.write_all(b"true"),
        Value::Bool(false) => w.write_all(b"false"),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                write!(w, "{i}")
            } else if let Some(u) = n.as_u64() {
                write!(w, "{u}")
            } else {
                Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "canonical JSON here holds integers only",
                ))
            }
        }
        Value::String(s) => write_string(w, s),
        Value::Array(a) => {
            w.write_all(b"[")?;
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    w.write_all(b",")?;
                }
                write_canonical(w, x)?;
            }
            w.write_all(b"]")
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
            w.write_all(b"{")?;
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    w.write_all(b",")?;
                }
                write_string(w, k)?;
                w.write_all(b":")?;
                write_canonical(w, &m[k])?;
            }
            w.write_all(b"}")
        }
    }
}

/// Writes one JSON string with JCS escaping.
fn write_string<W: Write>(w: &mut W, s: &str) -> io::Result<()> {
    w.write_all(b"\"")?;
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: Option<&[u8]> = match b {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            0x08 => Some(b"\\b"),
            0x0c => Some(b"\\f"),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            b'\t' => Some(b"\\t"),
            0x00..=0x1f => None,
            _ => continue,
        };
        w.write_all(&bytes[start..i])?;
        match esc {
            Some(e) => w.write_all(e)?,
            None => write!(w, "\\u{:04x}", b)?,
        }
        start = i + 1;
    }
    w.write_all(&bytes[start..])?;
    w.write_all(b"\"")
}

/// The canonical JSON bytes of `v`.
pub fn to_canonical_vec(v: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write_canonical(&mut out, v).expect("sanbao values are canonicalizable");
    out
}

/// The canonical JSON of `v` as a string.
pub fn to_canonical_string(v: &Value) -> String {
    String::from_utf8(to_canonical_vec(v)).expect("canonical JSON is UTF-8")
}

/// SHA-256 of the canonical JSON of `v`, written straight into the hasher.
pub fn sha256_canonical(v: &Value) -> [u8; 32] {
    let mut h = HashWriter(Sha256::new());
    write_canonical(&mut h, v).expect("sanbao values are canonicalizable");
    h.0.finalize().into()
}

/// Adapts a SHA-256 hasher to `io::Write` so canonical JSON streams into it.
struct HashWriter(Sha256);

impl Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sorts_keys_and_escapes() {
        let v = json!({"b":1,"a":[true,null,"x\"y\\z"],"é":"绥中\u{1}\n\t\u{1f}\u{7f}"});
        assert_eq!(
            to_canonical_string(&v),
            "{\"a\":[true,null,\"x\\\"y\\\\z\"],\"b\":1,\"é\":\"绥中\\u0001\\n\\t\\u001f\u{7f}\"}"
        );
    }

    #[test]
    fn sorts_by_utf16_code_units() {
        // U+FF61 sorts before U+1F600 in UTF-8 bytes? No: in UTF-8, F0.. (U+1F600) > EF..
        // (U+FF61); in UTF-16 the surrogate D83D sorts before FF61. JCS wants UTF-16.
        let v = json!({"\u{ff61}":1,"\u{1f600}":2});
        assert_eq!(to_canonical_string(&v), "{\"\u{1f600}\":2,\"\u{ff61}\":1}");
    }

    #[test]
    fn known_hash() {
        // Expected value computed independently with Python:
        // hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",",":"),
        //                ensure_ascii=False).encode()).hexdigest()
        let v = json!({"seq":1,"name":"绥中县","amount":"1200.00","prev_hash":"0".repeat(64),"idempotency_key":null});
        assert_eq!(hex::encode(sha256_canonical(&v)), PY_HASH_1);
    }

    const PY_HASH_1: &str = "6a523500cc6f22194352d886b80b8f20b238460de4a8ab40aa8dbcd27ca300cb";
}
