//! A small JSON value: a validating parser and a serializer, std only.
//!
//! Numbers are `f64` (as in JavaScript, which is how the host serializes): an integer beyond 2^53
//! loses precision, so carry exact large integers as strings (docs/agent-abi.md, section 4).
//! Objects keep their members in order, as a `Vec` of pairs; `get` returns the last member of a
//! name, as JavaScript's JSON.parse would keep it.

use std::fmt;

/// How deep arrays and objects may nest. The host sends at most 128 levels (docs/agent-abi.md).
pub const MAX_DEPTH: usize = 256;

/// A JSON value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Vec<Value>),
    Object(Vec<(String, Value)>),
}

/// Why a text is not JSON, and where (a byte offset).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonError {
    pub offset: usize,
    pub reason: &'static str,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid JSON at byte {}: {}", self.offset, self.reason)
    }
}

impl std::error::Error for JsonError {}

/// Parses one JSON value; only whitespace may follow it.
pub fn parse(text: &str) -> Result<Value, JsonError> {
    let mut p = Parser::new(text);
    let v = p.value(0)?;
    p.end()?;
    Ok(v)
}

impl Value {
    /// An empty object, to fill with [`Value::with`].
    pub fn object() -> Value {
        Value::Object(Vec::new())
    }

    /// Adds a member to an object (builder style); on anything but an object it does nothing.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Value {
        self.set(key, value);
        self
    }

    /// Sets a member of an object, replacing every member of that name.
    pub fn set(&mut self, key: &str, value: impl Into<Value>) {
        if let Value::Object(members) = self {
            members.retain(|(k, _)| k != key);
            members.push((key.to_string(), value.into()));
        }
    }

    /// The member `key` of an object (the last one of that name), or None.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(members) => members.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The element `i` of an array, or None.
    pub fn at(&self, i: usize) -> Option<&Value> {
        match self {
            Value::Array(items) => items.get(i),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// The number as an i64 when it is an integer in the range where f64 is exact (|n| ≤ 2^53).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Number(n) if n.fract() == 0.0 && n.abs() <= 9_007_199_254_740_992.0 => Some(*n as i64),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&[(String, Value)]> {
        match self {
            Value::Object(members) => Some(members),
            _ => None,
        }
    }

    /// The value as JSON text.
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        self.write_json(&mut out);
        out
    }

    /// Appends the value as JSON text (no whitespace) to `out`.
    pub fn write_json(&self, out: &mut String) {
        match self {
            Value::Null => out.push_str("null"),
            Value::Bool(true) => out.push_str("true"),
            Value::Bool(false) => out.push_str("false"),
            Value::Number(n) => write_number(out, *n),
            Value::String(s) => write_string(out, s),
            Value::Array(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.write_json(out);
                }
                out.push(']');
            }
            Value::Object(members) => {
                out.push('{');
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_string(out, k);
                    out.push(':');
                    v.write_json(out);
                }
                out.push('}');
            }
        }
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}
impl From<f64> for Value {
    fn from(n: f64) -> Value {
        Value::Number(n)
    }
}
impl From<i32> for Value {
    fn from(n: i32) -> Value {
        Value::Number(n as f64)
    }
}
impl From<i64> for Value {
    fn from(n: i64) -> Value {
        Value::Number(n as f64)
    }
}
impl From<u32> for Value {
    fn from(n: u32) -> Value {
        Value::Number(n as f64)
    }
}
impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}
impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Value {
        Value::Array(items)
    }
}

/// Appends `s` as a JSON string: quotes, and escapes for `"`, `\` and control characters only.
pub fn write_string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    out.push('"');
    let mut i = 0;
    loop {
        // Runs of plain text are copied whole; this loop turns once per escape, not per byte.
        let end = plain_run(bytes, i);
        out.push_str(&s[i..end]);
        if end == bytes.len() {
            break;
        }
        let b = bytes[end];
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x08 => out.push_str("\\b"),
            0x0c => out.push_str("\\f"),
            _ => {
                out.push_str("\\u00");
                out.push(HEX[(b >> 4) as usize] as char);
                out.push(HEX[(b & 15) as usize] as char);
            }
        }
        i = end + 1;
    }
    out.push('"');
}

// The byte loops live in small functions of their own that are never inlined. The node's fuel meter
// charges a loop header, on every iteration, for the operators up to the next charge point, which
// include the code after the loop up to the function's end (docs/sandbox.md): a byte loop inlined
// into a large function would pay for much of that function per byte (measured: 290 fuel per byte
// of message, against about 10 here).

/// The end of the run from `i` of bytes that a JSON string holds as they are (no quote, no
/// backslash, no control character).
#[inline(never)]
fn plain_run(b: &[u8], mut i: usize) -> usize {
    while i < b.len() {
        let c = b[i];
        if c == b'"' || c == b'\\' || c < 0x20 {
            break;
        }
        i += 1;
    }
    i
}

/// Exact powers of ten up to 10^22, the largest that f64 holds exactly.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17,
    1e18, 1e19, 1e20, 1e21, 1e22,
];

/// The value of a JSON number (already checked) when the simple exact method applies: at most 15
/// significant digits (so the digits, as an integer, are exact in an f64) and a decimal exponent
/// whose power of ten is exact; one multiplication or division then rounds once, correctly (Clinger's
/// fast path). None otherwise, and the caller falls back to std's parser. Most numbers in messages
/// (counts, prices, small decimals) take this path, which costs a small fraction of std's.
/// std's parser, out of line: inlined, its size would be charged on every number (see above).
#[inline(never)]
fn std_number(text: &str) -> Option<f64> {
    text.parse::<f64>().ok()
}

#[inline(never)]
fn fast_number(b: &[u8]) -> Option<f64> {
    let mut i = 0;
    let neg = b.first() == Some(&b'-');
    if neg {
        i = 1;
    }
    let mut mantissa: u64 = 0;
    let mut digits = 0;
    let mut exp: i32 = 0;
    let mut after_point = false;
    while i < b.len() {
        match b[i] {
            d @ b'0'..=b'9' => {
                if mantissa != 0 || d != b'0' {
                    digits += 1;
                }
                mantissa = mantissa * 10 + (d - b'0') as u64;
                if after_point {
                    exp -= 1;
                }
                if digits > 15 {
                    return None;
                }
            }
            b'.' => after_point = true,
            _ => break, // an exponent: rare in messages, left to std
        }
        i += 1;
    }
    if i != b.len() {
        return None;
    }
    let m = mantissa as f64;
    let v = if exp == 0 { m } else if -exp <= 22 { m / POW10[(-exp) as usize] } else { return None };
    Some(if neg { -v } else { v })
}

#[inline(never)]
fn ws_run(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\n' | b'\r' | b'\t') {
        i += 1;
    }
    i
}

#[inline(never)]
fn digit_run(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    i
}

/// Appends a number. Integers up to 2^53 are written by hand (no float formatting); other finite
/// numbers in Rust's shortest round-trip form; NaN and infinities, which JSON lacks, as null.
pub fn write_number(out: &mut String, n: f64) {
    if !n.is_finite() {
        out.push_str("null");
    } else if n.fract() == 0.0 && n.abs() <= 9_007_199_254_740_992.0 {
        let mut v = n as i64;
        if v < 0 {
            out.push('-');
            v = -v;
        }
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        for &d in &digits[i..] {
            out.push(d as char);
        }
    } else {
        use std::fmt::Write;
        let _ = write!(out, "{}", n);
    }
}

/// A validating JSON reader over UTF-8 text. `value` builds a [`Value`]; `skip` checks a value and
/// returns its extent without building anything (what [`crate::Message`] uses for fields it keeps raw).
pub(crate) struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pub(crate) pos: usize,
}

impl<'a> Parser<'a> {
    pub(crate) fn new(text: &'a str) -> Parser<'a> {
        Parser { text, bytes: text.as_bytes(), pos: 0 }
    }

    fn fail<T>(&self, reason: &'static str) -> Result<T, JsonError> {
        Err(JsonError { offset: self.pos, reason })
    }

    pub(crate) fn ws(&mut self) {
        self.pos = ws_run(self.bytes, self.pos);
    }

    pub(crate) fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.bytes.get(self.pos).copied()
    }

    pub(crate) fn expect(&mut self, b: u8, reason: &'static str) -> Result<(), JsonError> {
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            self.fail(reason)
        }
    }

    pub(crate) fn end(&mut self) -> Result<(), JsonError> {
        match self.peek() {
            None => Ok(()),
            Some(_) => self.fail("unexpected text after the value"),
        }
    }

    #[inline(never)]
    pub(crate) fn value(&mut self, depth: usize) -> Result<Value, JsonError> {
        match self.peek() {
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => self.string_value(),
            Some(b't') => self.word("true", Value::Bool(true)),
            Some(b'f') => self.word("false", Value::Bool(false)),
            Some(b'n') => self.word("null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number_value(),
            Some(_) => self.fail("expected a value"),
            None => self.fail("unexpected end of input"),
        }
    }

    #[inline(never)]
    fn string_value(&mut self) -> Result<Value, JsonError> {
        Ok(Value::String(self.string()?.into_owned()))
    }

    #[inline(never)]
    fn number_value(&mut self) -> Result<Value, JsonError> {
        let start = self.pos;
        self.number()?;
        let text = &self.text[start..self.pos];
        match fast_number(text.as_bytes()).or_else(|| std_number(text)) {
            Some(n) => Ok(Value::Number(n)),
            None => self.fail("bad number"),
        }
    }

    #[inline(never)]
    fn object(&mut self, depth: usize) -> Result<Value, JsonError> {
        let depth = self.deeper(depth)?;
        self.pos += 1;
        let mut members = Vec::new();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Value::Object(members));
        }
        while !self.member(&mut members, depth)? {}
        Ok(Value::Object(members))
    }

    /// Reads one member into `members`; true after the last one. The loops over members and
    /// elements only call: their bodies, and what follows them, stay a few operators long.
    #[inline(never)]
    fn member(&mut self, members: &mut Vec<(String, Value)>, depth: usize) -> Result<bool, JsonError> {
        let key = self.string()?.into_owned();
        self.expect(b':', "expected ':' after an object key")?;
        let value = self.value(depth)?;
        members.push((key, value));
        self.list_end(b'}', "expected ',' or '}' in an object")
    }

    #[inline(never)]
    fn element(&mut self, items: &mut Vec<Value>, depth: usize) -> Result<bool, JsonError> {
        let value = self.value(depth)?;
        items.push(value);
        self.list_end(b']', "expected ',' or ']' in an array")
    }

    #[inline(never)]
    fn array(&mut self, depth: usize) -> Result<Value, JsonError> {
        let depth = self.deeper(depth)?;
        self.pos += 1;
        let mut items = Vec::new();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Value::Array(items));
        }
        while !self.element(&mut items, depth)? {}
        Ok(Value::Array(items))
    }

    /// Checks one value and returns the text it spans.
    #[inline(never)]
    pub(crate) fn skip(&mut self, depth: usize) -> Result<&'a str, JsonError> {
        self.ws();
        let start = self.pos;
        match self.peek() {
            Some(open @ (b'{' | b'[')) => self.skip_container(open, depth)?,
            Some(b'"') => self.skip_string()?,
            Some(b't' | b'f' | b'n') => self.literal()?,
            Some(b'-' | b'0'..=b'9') => self.number()?,
            Some(_) => return self.fail("expected a value"),
            None => return self.fail("unexpected end of input"),
        }
        Ok(&self.text[start..self.pos])
    }

    /// Checks a string without decoding it.
    #[inline(never)]
    fn skip_string(&mut self) -> Result<(), JsonError> {
        self.pos += 1; // the opening quote
        loop {
            self.pos = plain_run(self.bytes, self.pos);
            match self.bytes.get(self.pos) {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b'\\') => self.skip_escape()?,
                Some(_) => return self.fail("control character in a string"),
                None => return self.fail("unterminated string"),
            }
        }
    }

    #[inline(never)]
    fn skip_escape(&mut self) -> Result<(), JsonError> {
        self.pos += 1;
        match self.bytes.get(self.pos) {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                self.pos += 1;
                Ok(())
            }
            Some(b'u') => {
                self.pos += 1;
                self.hex4().map(|_| ())
            }
            Some(_) => self.fail("bad escape in a string"),
            None => self.fail("unterminated string"),
        }
    }

    /// Checks true, false or null without building a value.
    #[inline(never)]
    fn literal(&mut self) -> Result<(), JsonError> {
        let rest = &self.bytes[self.pos..];
        let n = if rest.starts_with(b"true") || rest.starts_with(b"null") {
            4
        } else if rest.starts_with(b"false") {
            5
        } else {
            return self.fail("expected true, false or null");
        };
        self.pos += n;
        Ok(())
    }

    #[inline(never)]
    fn skip_container(&mut self, open: u8, depth: usize) -> Result<(), JsonError> {
        let depth = self.deeper(depth)?;
        let close = if open == b'{' { b'}' } else { b']' };
        self.pos += 1;
        if self.peek() == Some(close) {
            self.pos += 1;
            return Ok(());
        }
        loop {
            if open == b'{' {
                self.skip_key()?;
            }
            self.skip(depth)?;
            if self.list_end(close, "expected ',' or a closing bracket")? {
                return Ok(());
            }
        }
    }

    #[inline(never)]
    fn skip_key(&mut self) -> Result<(), JsonError> {
        if self.peek() != Some(b'"') {
            return self.fail("expected a string");
        }
        self.skip_string()?;
        self.expect(b':', "expected ':' after an object key")
    }

    fn deeper(&self, depth: usize) -> Result<usize, JsonError> {
        if depth >= MAX_DEPTH {
            self.fail("nested too deeply")
        } else {
            Ok(depth + 1)
        }
    }

    /// After a member or element: true at the closing bracket, false after a comma.
    #[inline(never)]
    pub(crate) fn list_end(&mut self, close: u8, reason: &'static str) -> Result<bool, JsonError> {
        match self.peek() {
            Some(b',') => {
                self.pos += 1;
                Ok(false)
            }
            Some(b) if b == close => {
                self.pos += 1;
                Ok(true)
            }
            _ => self.fail(reason),
        }
    }

    #[inline(never)]
    fn word(&mut self, w: &'static str, v: Value) -> Result<Value, JsonError> {
        if self.bytes[self.pos..].starts_with(w.as_bytes()) {
            self.pos += w.len();
            Ok(v)
        } else {
            self.fail("expected true, false or null")
        }
    }

    /// Moves past a number in JSON's grammar.
    #[inline(never)]
    fn number(&mut self) -> Result<(), JsonError> {
        let b = self.bytes;
        let digits = |p: &mut usize| {
            let s = *p;
            *p = digit_run(b, s);
            *p - s
        };
        let mut p = self.pos;
        if b[p] == b'-' {
            p += 1;
        }
        let int_start = p;
        let n = digits(&mut p);
        if n == 0 || (n > 1 && b[int_start] == b'0') {
            self.pos = int_start;
            return self.fail("bad number");
        }
        if p < b.len() && b[p] == b'.' {
            p += 1;
            if digits(&mut p) == 0 {
                self.pos = p;
                return self.fail("bad number: no digits after '.'");
            }
        }
        if p < b.len() && (b[p] == b'e' || b[p] == b'E') {
            p += 1;
            if p < b.len() && (b[p] == b'+' || b[p] == b'-') {
                p += 1;
            }
            if digits(&mut p) == 0 {
                self.pos = p;
                return self.fail("bad number: no digits in the exponent");
            }
        }
        self.pos = p;
        Ok(())
    }

    /// Reads a string (the parser is at its opening quote, after whitespace). Borrowed when it has
    /// no escapes.
    #[inline(never)]
    pub(crate) fn string(&mut self) -> Result<std::borrow::Cow<'a, str>, JsonError> {
        if self.peek() != Some(b'"') {
            return self.fail("expected a string");
        }
        self.pos += 1;
        let start = self.pos;
        self.pos = plain_run(self.bytes, self.pos);
        match self.bytes.get(self.pos) {
            Some(b'"') => {
                let s = &self.text[start..self.pos];
                self.pos += 1;
                Ok(std::borrow::Cow::Borrowed(s))
            }
            Some(b'\\') => self.escaped(start).map(std::borrow::Cow::Owned),
            Some(_) => self.fail("control character in a string"),
            None => self.fail("unterminated string"),
        }
    }

    /// The rest of a string that has escapes, from its first backslash.
    #[inline(never)]
    fn escaped(&mut self, start: usize) -> Result<String, JsonError> {
        let b = self.bytes;
        let mut out = String::with_capacity(self.pos - start + 16);
        out.push_str(&self.text[start..self.pos]);
        loop {
            let run = self.pos;
            self.pos = plain_run(b, self.pos);
            out.push_str(&self.text[run..self.pos]);
            match b.get(self.pos) {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let c = match b.get(self.pos) {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.pos += 1;
                            let hi = self.hex4()?;
                            let c = if (0xd800..0xdc00).contains(&hi) && b[self.pos..].starts_with(b"\\u") {
                                let save = self.pos;
                                self.pos += 2;
                                let lo = self.hex4()?;
                                if (0xdc00..0xe000).contains(&lo) {
                                    char::from_u32(0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00))
                                } else {
                                    self.pos = save; // a lone high surrogate, then another escape
                                    None
                                }
                            } else {
                                char::from_u32(hi)
                            };
                            // Lone surrogates have no UTF-8 form: U+FFFD, as the host does for bad UTF-8.
                            out.push(c.unwrap_or('\u{fffd}'));
                            continue;
                        }
                        Some(_) => return self.fail("bad escape in a string"),
                        None => return self.fail("unterminated string"),
                    };
                    out.push(c);
                    self.pos += 1;
                }
                Some(_) => return self.fail("control character in a string"),
                None => return self.fail("unterminated string"),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let mut v = 0u32;
        for _ in 0..4 {
            let d = match self.bytes.get(self.pos) {
                Some(c @ b'0'..=b'9') => c - b'0',
                Some(c @ b'a'..=b'f') => c - b'a' + 10,
                Some(c @ b'A'..=b'F') => c - b'A' + 10,
                _ => return self.fail("bad \\u escape"),
            };
            v = v * 16 + d as u32;
            self.pos += 1;
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_parses_every_kind_of_value() {
        let v = parse(r#" {"a": [1, -2.5, 3e2, true, false, null], "b": {"c": "d"}, "": ""} "#).unwrap();
        assert_eq!(v.get("a").unwrap().at(1).unwrap().as_f64(), Some(-2.5));
        assert_eq!(v.get("a").unwrap().at(2).unwrap().as_i64(), Some(300));
        assert_eq!(v.get("a").unwrap().at(3).unwrap().as_bool(), Some(true));
        assert!(v.get("a").unwrap().at(5).unwrap().is_null());
        assert_eq!(v.get("b").unwrap().get("c").unwrap().as_str(), Some("d"));
        assert_eq!(v.get("").unwrap().as_str(), Some(""));
    }

    #[test]
    fn json_round_trips_to_compact_text() {
        let text = r#"{"n":[0,-1,1.5,1e+21,123456789012],"s":"q\"b\\n\nt\tc\u0001é😀","o":{},"a":[]}"#;
        let v = parse(text).unwrap();
        assert_eq!(v.to_json(), r#"{"n":[0,-1,1.5,1000000000000000000000,123456789012],"s":"q\"b\\n\nt\tc\u0001é😀","o":{},"a":[]}"#);
        assert_eq!(parse(&v.to_json()).unwrap(), v);
    }

    #[test]
    fn json_decodes_unicode_escapes_and_surrogate_pairs() {
        assert_eq!(parse(r#""\u00e9\ud83d\ude00\/""#).unwrap().as_str(), Some("é😀/"));
        assert_eq!(parse(r#""a\ud800b""#).unwrap().as_str(), Some("a\u{fffd}b"), "a lone surrogate");
        assert_eq!(parse(r#""\ud800\u0041""#).unwrap().as_str(), Some("\u{fffd}A"));
    }

    #[test]
    fn json_fast_numbers_equal_std_parsing() {
        for text in [
            "0", "-0", "7", "-12", "0.1", "0.3", "1.5", "-2.25", "123456789012345", "1234567890123456", "9007199254740993",
            "0.000000000000000000001", "0.0000000000000000000000001", "3.14159265358979", "12.5e3", "1e-7", "199.99", "100.0",
        ] {
            let want: f64 = text.parse().unwrap();
            let got = parse(text).unwrap().as_f64().unwrap();
            assert_eq!(got.to_bits(), want.to_bits(), "{}", text);
            if let Some(fast) = fast_number(text.as_bytes()) {
                assert_eq!(fast.to_bits(), want.to_bits(), "fast path for {}", text);
            }
        }
        assert_eq!(fast_number(b"1234567890123456"), None, "16 digits go to std");
        assert_eq!(fast_number(b"1e5"), None, "exponents go to std");
    }

    #[test]
    fn json_keeps_the_last_of_repeated_keys() {
        assert_eq!(parse(r#"{"k":1,"k":2}"#).unwrap().get("k").unwrap().as_i64(), Some(2));
    }

    #[test]
    fn json_refuses_malformed_text_with_an_offset() {
        for (text, offset) in [
            ("", 0),
            ("{", 1),
            ("[1,]", 3),
            ("{\"a\" 1}", 5),
            ("01", 0),
            ("1.", 2),
            ("1e", 2),
            ("\"a", 2),
            ("\"\\x\"", 2),
            ("\"\u{1}\"", 1),
            ("tru", 0),
            ("1 2", 2),
            ("{\"a\":1,}", 7),
        ] {
            let e = parse(text).unwrap_err();
            assert_eq!(e.offset, offset, "{:?}: {}", text, e);
        }
    }

    #[test]
    fn json_bounds_nesting_depth() {
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(parse(&ok).is_ok());
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert_eq!(parse(&deep).unwrap_err().reason, "nested too deeply");
    }

    #[test]
    fn json_writes_numbers_without_exponents_for_integers_and_null_for_nan() {
        let mut s = String::new();
        for n in [0.0, -0.0, 42.0, -7.0, 9007199254740992.0, 0.1, f64::NAN, f64::INFINITY] {
            write_number(&mut s, n);
            s.push(' ');
        }
        assert_eq!(s, "0 0 42 -7 9007199254740992 0.1 null null ");
    }

    #[test]
    fn json_builds_objects_replacing_members() {
        let mut v = Value::object().with("a", 1).with("b", "x").with("a", true);
        v.set("c", Value::from(vec![Value::Null]));
        assert_eq!(v.to_json(), r#"{"b":"x","a":true,"c":[null]}"#);
    }

    #[test]
    fn json_skip_returns_the_span_of_a_value() {
        let mut p = Parser::new(r#" {"a":[1,{"b":"]"}]} , 2"#);
        assert_eq!(p.skip(0).unwrap(), r#"{"a":[1,{"b":"]"}]}"#);
        assert!(Parser::new("[1,").skip(0).is_err());
        assert_eq!(Parser::new(r#""a\u00e9\n\"" x"#).skip(0).unwrap(), r#""a\u00e9\n\"""#);
        assert_eq!(Parser::new("[true,false,null]").skip(0).unwrap(), "[true,false,null]");
        for bad in [r#""\x""#, r#""\u12G4""#, "nul", "[tru]", "\"\u{1}\"", r#"{"a" 1}"#, "{1:2}", "\"abc"] {
            assert!(Parser::new(bad).skip(0).is_err(), "{:?}", bad);
        }
    }
}
