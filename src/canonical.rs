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
    write_string_body(w, s)?;
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

/// Error of the canonical serializer: a value JSON cannot hold canonically here
/// (a float, bytes, a non-string map key). Never raised by sanbao's own types.
#[derive(Debug)]
pub struct CanonError(String);

impl std::fmt::Display for CanonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CanonError {}

impl serde::ser::Error for CanonError {
    fn custom<T: std::fmt::Display>(msg: T) -> CanonError {
        CanonError(msg.to_string())
    }
}

/// Appends `s` as a JSON string with JCS escaping.
pub fn push_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    push_str_body(out, s);
    out.push(b'"');
}

fn push_str_body(out: &mut Vec<u8>, s: &str) {
    write_string_body(out, s).expect("writing to a Vec cannot fail");
}

/// Writes the inside of a JSON string (no quotes) with JCS escaping.
fn write_string_body<W: Write>(w: &mut W, s: &str) -> io::Result<()> {
    let bytes = s.as_bytes();
    // Nearly every string sanbao writes needs no escape: one pass without early exit
    // (which the compiler vectorizes) says so, and the bytes go out whole.
    if !bytes.iter().fold(false, |any, &b| {
        any | (b < 0x20) | (b == b'"') | (b == b'\\')
    }) {
        return w.write_all(bytes);
    }
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
    w.write_all(&bytes[start..])
}

/// Appends the canonical JSON of any `Serialize` value straight into `out`, without
/// building a `serde_json::Value`: struct and map members are written in sorted
/// order. `extra` members (e.g. an event's `kind`) are merged into the outermost
/// object. The bytes equal [`to_canonical_vec`] of the value's serde_json form
/// (tested over the sample history and random events).
pub fn append_canonical<T: serde::Serialize + ?Sized>(
    out: &mut Vec<u8>,
    value: &T,
    extra: &[(&'static str, &str)],
) -> Result<(), CanonError> {
    value.serialize(Canon { out, extra })
}

/// The canonical serializer behind [`append_canonical`].
struct Canon<'a, 'e> {
    out: &'a mut Vec<u8>,
    extra: &'e [(&'static str, &'e str)],
}

/// Appends the decimal digits of an integer (its canonical JSON form).
pub fn push_int(out: &mut Vec<u8>, v: i128) {
    if v < 0 {
        out.push(b'-');
    }
    let mut n = v.unsigned_abs();
    let mut buf = [0u8; 40];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// The members of one object as [`Members`] collects them: key, and the range of its
/// canonical value in the buffer.
type Entries = Vec<(std::borrow::Cow<'static, str>, std::ops::Range<usize>)>;

thread_local! {
    /// Buffers of finished [`Members`], reused by the next objects on this thread
    /// (every record hash writes several nested objects; allocating two vectors for
    /// each was a tenth of `verify`'s time).
    static POOL: std::cell::RefCell<Vec<(Vec<u8>, Entries)>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Most buffers kept in a thread's pool (objects nest only a few levels deep).
const POOL_MAX: usize = 16;

/// Collects the members of one object, then writes them sorted.
struct Members<'a, 'e> {
    out: &'a mut Vec<u8>,
    buf: Vec<u8>,
    entries: Entries,
    extra: &'e [(&'static str, &'e str)],
    key: Option<String>,
    /// The struct's name (`None` for a map): the key of its remembered order.
    struct_name: Option<&'static str>,
}

impl<'a, 'e> Members<'a, 'e> {
    fn new(
        out: &'a mut Vec<u8>,
        extra: &'e [(&'static str, &'e str)],
        len: usize,
        struct_name: Option<&'static str>,
    ) -> Self {
        let (buf, entries) = POOL.with(|p| p.borrow_mut().pop()).unwrap_or_else(|| {
            (
                Vec::with_capacity(16 * len + 16),
                Vec::with_capacity(len + extra.len()),
            )
        });
        Members {
            out,
            buf,
            entries,
            extra,
            key: None,
            struct_name,
        }
    }

    fn member<T: serde::Serialize + ?Sized>(
        &mut self,
        key: std::borrow::Cow<'static, str>,
        v: &T,
    ) -> Result<(), CanonError> {
        let start = self.buf.len();
        v.serialize(Canon {
            out: &mut self.buf,
            extra: &[],
        })?;
        self.entries.push((key, start..self.buf.len()));
        Ok(())
    }

    fn finish(mut self) -> Result<(), CanonError> {
        for (k, v) in self.extra {
            let start = self.buf.len();
            push_str(&mut self.buf, v);
            self.entries.push(((*k).into(), start..self.buf.len()));
        }
        let written = self.struct_name.is_some_and(|name| {
            ORDERS.with(|o| {
                let o = o.borrow();
                let Some(order) = o.find(name, &self.entries) else {
                    return false;
                };
                write_members(
                    self.out,
                    &self.buf,
                    order.iter().map(|&i| &self.entries[usize::from(i)]),
                );
                true
            })
        });
        if !written {
            let mut order: Vec<u8> = (0..self.entries.len().min(256) as u8).collect();
            if order.len() == self.entries.len() {
                // RFC 8785 orders members by UTF-16 code units; for ASCII keys (every
                // member name sanbao writes) that is byte order.
                let entries = &self.entries;
                order.sort_by(|&a, &b| {
                    utf16_cmp(&entries[usize::from(a)].0, &entries[usize::from(b)].0)
                });
                let sorted = || order.iter().map(|&i| &entries[usize::from(i)]);
                if sorted().zip(sorted().skip(1)).any(|(a, b)| a.0 == b.0) {
                    return Err(CanonError("an object member appears twice".into()));
                }
                write_members(self.out, &self.buf, sorted());
                if let Some(name) = self.struct_name {
                    ORDERS.with(|o| o.borrow_mut().remember(name, entries, order));
                }
            } else {
                self.entries.sort_by(|a, b| utf16_cmp(&a.0, &b.0));
                if self.entries.windows(2).any(|w| w[0].0 == w[1].0) {
                    return Err(CanonError("an object member appears twice".into()));
                }
                write_members(self.out, &self.buf, self.entries.iter());
            }
        }
        let (mut buf, mut entries) = (
            std::mem::take(&mut self.buf),
            std::mem::take(&mut self.entries),
        );
        buf.clear();
        entries.clear();
        POOL.with(|p| {
            let mut p = p.borrow_mut();
            if p.len() < POOL_MAX {
                p.push((buf, entries));
            }
        });
        Ok(())
    }
}

/// Orders two member names by their UTF-16 code units (byte order for ASCII).
fn utf16_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    if a.is_ascii() && b.is_ascii() {
        a.as_bytes().cmp(b.as_bytes())
    } else {
        a.encode_utf16().cmp(b.encode_utf16())
    }
}

/// Writes `{"key":value,...}` for the members in the order given, their values'
/// canonical text taken from `buf`.
fn write_members<'x>(
    out: &mut Vec<u8>,
    buf: &[u8],
    members: impl Iterator<Item = &'x (std::borrow::Cow<'static, str>, std::ops::Range<usize>)>,
) {
    out.push(b'{');
    for (i, (k, r)) in members.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_str(out, k);
        out.push(b':');
        out.extend_from_slice(&buf[r.clone()]);
    }
    out.push(b'}');
}

thread_local! {
    /// The sorted order of the members of each struct this thread has written, by the
    /// struct's name and the names of the members it wrote, in the order it wrote
    /// them: a struct writes the same members in the same order every time (less the
    /// ones it skips), so after the first object of a shape no member name is
    /// compared again (sorting was a tenth of a log's verification).
    static ORDERS: std::cell::RefCell<Orders> = const { std::cell::RefCell::new(Orders(Vec::new())) };
}

/// Most shapes remembered per thread (sanbao writes a few dozen).
const ORDERS_MAX: usize = 512;

/// A `&'static str` by its address and length: equal identities are equal texts.
fn identity(s: &'static str) -> (usize, usize) {
    (s.as_ptr() as usize, s.len())
}

/// One remembered order: the struct's name, its member names as written, and the
/// indices of the members in sorted order.
type Order = ((usize, usize), Vec<(usize, usize)>, Vec<u8>);

/// The remembered member orders of one thread.
struct Orders(Vec<Order>);

impl Orders {
    /// The sorted order of members written as `entries` by struct `name`, when a
    /// struct of that name wrote members of the same names in the same order before.
    fn find(&self, name: &'static str, entries: &Entries) -> Option<&[u8]> {
        let name = identity(name);
        let same = |keys: &[(usize, usize)]| {
            keys.len() == entries.len()
                && keys.iter().zip(entries).all(|(k, (e, _))| match e {
                    std::borrow::Cow::Borrowed(e) => identity(e) == *k,
                    std::borrow::Cow::Owned(_) => false,
                })
        };
        self.0
            .iter()
            .find(|(n, keys, _)| *n == name && same(keys))
            .map(|(_, _, order)| order.as_slice())
    }

    /// Remembers the sorted `order` of `entries` written by struct `name` (members
    /// with names known only at run time are not remembered).
    fn remember(&mut self, name: &'static str, entries: &Entries, order: Vec<u8>) {
        if self.0.len() >= ORDERS_MAX {
            return;
        }
        let keys: Option<Vec<(usize, usize)>> = entries
            .iter()
            .map(|(k, _)| match k {
                std::borrow::Cow::Borrowed(k) => Some(identity(k)),
                std::borrow::Cow::Owned(_) => None,
            })
            .collect();
        if let Some(keys) = keys {
            self.0.push((identity(name), keys, order));
        }
    }
}

impl serde::ser::SerializeStruct for Members<'_, '_> {
    type Ok = ();
    type Error = CanonError;
    fn serialize_field<T: serde::Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), CanonError> {
        self.member(key.into(), v)
    }
    fn end(self) -> Result<(), CanonError> {
        self.finish()
    }
}

impl serde::ser::SerializeMap for Members<'_, '_> {
    type Ok = ();
    type Error = CanonError;
    fn serialize_key<T: serde::Serialize + ?Sized>(&mut self, key: &T) -> Result<(), CanonError> {
        let k = serde_json::to_value(key).map_err(|e| CanonError(e.to_string()))?;
        match k {
            Value::String(s) => {
                self.key = Some(s);
                Ok(())
            }
            _ => Err(CanonError("object keys must be strings".into())),
        }
    }
    fn serialize_value<T: serde::Serialize + ?Sized>(&mut self, v: &T) -> Result<(), CanonError> {
        let k = self
            .key
            .take()
            .ok_or_else(|| CanonError("a value without a key".into()))?;
        self.member(k.into(), v)
    }
    fn end(self) -> Result<(), CanonError> {
        self.finish()
    }
}

/// Writes array elements, comma-separated.
struct Elements<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl Elements<'_> {
    fn element<T: serde::Serialize + ?Sized>(&mut self, v: &T) -> Result<(), CanonError> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        v.serialize(Canon {
            out: self.out,
            extra: &[],
        })
    }
}

impl serde::ser::SerializeSeq for Elements<'_> {
    type Ok = ();
    type Error = CanonError;
    fn serialize_element<T: serde::Serialize + ?Sized>(&mut self, v: &T) -> Result<(), CanonError> {
        self.element(v)
    }
    fn end(self) -> Result<(), CanonError> {
        self.out.push(b']');
        Ok(())
    }
}

impl serde::ser::SerializeTuple for Elements<'_> {
    type Ok = ();
    type Error = CanonError;
    fn serialize_element<T: serde::Serialize + ?Sized>(&mut self, v: &T) -> Result<(), CanonError> {
        self.element(v)
    }
    fn end(self) -> Result<(), CanonError> {
        self.out.push(b']');
        Ok(())
    }
}

impl serde::ser::SerializeTupleStruct for Elements<'_> {
    type Ok = ();
    type Error = CanonError;
    fn serialize_field<T: serde::Serialize + ?Sized>(&mut self, v: &T) -> Result<(), CanonError> {
        self.element(v)
    }
    fn end(self) -> Result<(), CanonError> {
        self.out.push(b']');
        Ok(())
    }
}

/// A `fmt::Write` that escapes into a JSON string body (for `collect_str`).
struct Escaping<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Escaping<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        push_str_body(self.0, s);
        Ok(())
    }
}

impl<'a, 'e> serde::Serializer for Canon<'a, 'e> {
    type Ok = ();
    type Error = CanonError;
    type SerializeSeq = Elements<'a>;
    type SerializeTuple = Elements<'a>;
    type SerializeTupleStruct = Elements<'a>;
    type SerializeTupleVariant = serde::ser::Impossible<(), CanonError>;
    type SerializeMap = Members<'a, 'e>;
    type SerializeStruct = Members<'a, 'e>;
    type SerializeStructVariant = serde::ser::Impossible<(), CanonError>;

    fn serialize_bool(self, v: bool) -> Result<(), CanonError> {
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<(), CanonError> {
        self.serialize_i128(v as i128)
    }
    fn serialize_i16(self, v: i16) -> Result<(), CanonError> {
        self.serialize_i128(v as i128)
    }
    fn serialize_i32(self, v: i32) -> Result<(), CanonError> {
        self.serialize_i128(v as i128)
    }
    fn serialize_i64(self, v: i64) -> Result<(), CanonError> {
        self.serialize_i128(v as i128)
    }
    fn serialize_i128(self, v: i128) -> Result<(), CanonError> {
        push_int(self.out, v);
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> Result<(), CanonError> {
        self.serialize_i128(v as i128)
    }
    fn serialize_u16(self, v: u16) -> Result<(), CanonError> {
        self.serialize_i128(v as i128)
    }
    fn serialize_u32(self, v: u32) -> Result<(), CanonError> {
        self.serialize_i128(v as i128)
    }
    fn serialize_u64(self, v: u64) -> Result<(), CanonError> {
        self.serialize_i128(v as i128)
    }
    fn serialize_f32(self, _: f32) -> Result<(), CanonError> {
        Err(CanonError("canonical JSON here holds integers only".into()))
    }
    fn serialize_f64(self, _: f64) -> Result<(), CanonError> {
        Err(CanonError("canonical JSON here holds integers only".into()))
    }
    fn serialize_char(self, v: char) -> Result<(), CanonError> {
        self.serialize_str(v.encode_utf8(&mut [0u8; 4]))
    }
    fn serialize_str(self, v: &str) -> Result<(), CanonError> {
        push_str(self.out, v);
        Ok(())
    }
    fn collect_str<T: std::fmt::Display + ?Sized>(self, v: &T) -> Result<(), CanonError> {
        use std::fmt::Write as _;
        self.out.push(b'"');
        write!(Escaping(self.out), "{v}").map_err(|e| CanonError(e.to_string()))?;
        self.out.push(b'"');
        Ok(())
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<(), CanonError> {
        Err(CanonError("bytes have no canonical JSON form".into()))
    }
    fn serialize_none(self) -> Result<(), CanonError> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }
    fn serialize_some<T: serde::Serialize + ?Sized>(self, v: &T) -> Result<(), CanonError> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), CanonError> {
        self.serialize_none()
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), CanonError> {
        self.serialize_none()
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), CanonError> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: serde::Serialize + ?Sized>(
        self,
        _: &'static str,
        v: &T,
    ) -> Result<(), CanonError> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: serde::Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        v: &T,
    ) -> Result<(), CanonError> {
        let mut m = Members::new(self.out, &[], 1, None);
        m.member(variant.into(), v)?;
        m.finish()
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Elements<'a>, CanonError> {
        self.out.push(b'[');
        Ok(Elements {
            out: self.out,
            first: true,
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<Elements<'a>, CanonError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        len: usize,
    ) -> Result<Elements<'a>, CanonError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, CanonError> {
        Err(CanonError(
            "tuple variants have no canonical form here".into(),
        ))
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Members<'a, 'e>, CanonError> {
        Ok(Members::new(self.out, self.extra, len.unwrap_or(4), None))
    }
    fn serialize_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Members<'a, 'e>, CanonError> {
        Ok(Members::new(self.out, self.extra, len, Some(name)))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, CanonError> {
        Err(CanonError(
            "struct variants have no canonical form here".into(),
        ))
    }
}

#[cfg(test)]
mod serializer_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn direct_serializer_equals_the_value_route() {
        let v = json!({"b":1,"a":[true,null,"x\"y\\z",-5],"é":"绥中\u{1}\n\t","nested":{"z":{"y":[]},"\u{1f600}":2,"\u{ff61}":1}});
        let mut out = Vec::new();
        append_canonical(&mut out, &v, &[]).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), to_canonical_string(&v));
        let mut out = Vec::new();
        append_canonical(&mut out, &json!({"z":1,"a":2}), &[("kind", "k")]).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"a":2,"kind":"k","z":1}"#
        );
        let mut out = Vec::new();
        assert!(append_canonical(&mut out, &json!({"kind":1}), &[("kind", "k")]).is_err());
        assert!(append_canonical(&mut Vec::new(), &1.5f64, &[]).is_err());
    }

    /// A struct whose optional members come and go, so that one struct name writes
    /// objects of several shapes.
    #[derive(serde::Serialize)]
    struct Shapes {
        zeta: u32,
        #[serde(skip_serializing_if = "Option::is_none")]
        alpha: Option<&'static str>,
        mid: Vec<u8>,
        #[serde(skip_serializing_if = "Option::is_none")]
        beta: Option<u32>,
    }

    #[test]
    fn remembered_member_orders_follow_every_shape_of_a_struct() {
        // Every shape, several times over and interleaved, on one thread (the
        // remembered orders are per thread): each object as the value route writes it.
        for round in 0..3 {
            for mask in 0..4u32 {
                let s = Shapes {
                    zeta: round,
                    alpha: (mask & 1 == 1).then_some("a\"b"),
                    mid: vec![mask as u8],
                    beta: (mask & 2 == 2).then_some(mask),
                };
                for extra in [&[][..], &[("kind", "k")][..], &[("aa", "x")][..]] {
                    let mut out = Vec::new();
                    append_canonical(&mut out, &s, extra).unwrap();
                    let mut v = serde_json::to_value(&s).unwrap();
                    for (k, x) in extra {
                        v[*k] = json!(x);
                    }
                    assert_eq!(String::from_utf8(out).unwrap(), to_canonical_string(&v));
                }
            }
        }
    }
}
