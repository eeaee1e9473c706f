//! UTF-8: the `Utf8Bytes` string type and the incremental validator.

use bytes::Bytes;
use std::fmt;
use std::ops::Deref;

/// A UTF-8 string held in [`Bytes`], so text messages reach the user without a copy.
///
/// The only ways to build one check the bytes (or start from a `&str`/`String`),
/// so [`as_str`](Utf8Bytes::as_str) never validates again. It derefs to `str`,
/// so string methods work on it directly, and compares with `&str` and `String`.
///
/// | from | how | copies? |
/// |---|---|---|
/// | `&'static str` | [`Utf8Bytes::from_static`] (`const`) | no |
/// | `&str` of any lifetime, `&String`, `Cow<str>` | `From` | yes |
/// | `String`, `Box<str>` | `From` | no |
/// | `Bytes`, `BytesMut` | `TryFrom` (checks UTF-8) | no |
/// | `Vec<u8>` | `TryFrom` (checks UTF-8) | no |
/// | `&[u8]` | `TryFrom` (checks UTF-8) | yes |
///
/// and back: `Bytes::from`, `String::from` (copies), [`as_str`](Utf8Bytes::as_str),
/// [`as_bytes`](Utf8Bytes::as_bytes), [`into_bytes`](Utf8Bytes::into_bytes).
///
/// ```
/// use websocket_protocol::protocol::Utf8Bytes;
/// let owned = String::from("héllo");
/// let text = Utf8Bytes::from(owned.as_str()); // any &str, copied
/// assert_eq!(text, "héllo");
/// assert_eq!(text.len(), 6); // str methods through Deref
/// assert_eq!(Utf8Bytes::from(owned), text); // a String, without a copy
/// assert!(Utf8Bytes::try_from(bytes::Bytes::from_static(b"\xff")).is_err());
/// const HELLO: Utf8Bytes = Utf8Bytes::from_static("hello"); // no allocation
/// assert_eq!(String::from(HELLO), "hello");
/// ```
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Utf8Bytes(Bytes);

impl Utf8Bytes {
    /// An empty string.
    pub const fn new() -> Self {
        Utf8Bytes(Bytes::new())
    }

    /// A string from a `&'static str`, without allocating.
    pub const fn from_static(s: &'static str) -> Self {
        Utf8Bytes(Bytes::from_static(s.as_bytes()))
    }

    /// Wraps bytes that the caller has already validated.
    pub(crate) fn from_validated(bytes: Bytes) -> Self {
        debug_assert!(std::str::from_utf8(&bytes).is_ok());
        Utf8Bytes(bytes)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // SAFETY: every constructor either starts from `str`/`String` or checks the
        // bytes (`try_from`, `from_validated` after the incremental validator), and
        // the bytes are immutable afterwards. Validating again on every access would
        // cost a full pass over the message each time it is read (the `core`
        // bench's `utf8bytes_as_str*` rows: 0.4 ns against 80 µs for 1 MiB).
        unsafe { std::str::from_utf8_unchecked(&self.0) }
    }

    /// The underlying bytes.
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }

    /// Gives back the underlying bytes.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }
}

impl Deref for Utf8Bytes {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Utf8Bytes {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<[u8]> for Utf8Bytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}

impl From<&str> for Utf8Bytes {
    /// Copies the text (any `&str`, not only literals); for a `&'static str`
    /// without a copy, use [`Utf8Bytes::from_static`].
    fn from(s: &str) -> Self {
        if s.is_empty() {
            return Utf8Bytes::new();
        }
        Utf8Bytes(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl From<String> for Utf8Bytes {
    fn from(s: String) -> Self {
        Utf8Bytes(Bytes::from(s))
    }
}

impl From<&String> for Utf8Bytes {
    fn from(s: &String) -> Self {
        Utf8Bytes::from(s.as_str())
    }
}

impl From<Box<str>> for Utf8Bytes {
    fn from(s: Box<str>) -> Self {
        Utf8Bytes::from(String::from(s))
    }
}

impl From<std::borrow::Cow<'_, str>> for Utf8Bytes {
    fn from(s: std::borrow::Cow<'_, str>) -> Self {
        match s {
            std::borrow::Cow::Borrowed(s) => Utf8Bytes::from(s),
            std::borrow::Cow::Owned(s) => Utf8Bytes::from(s),
        }
    }
}

impl From<Utf8Bytes> for Bytes {
    fn from(s: Utf8Bytes) -> Self {
        s.0
    }
}

impl From<Utf8Bytes> for String {
    /// Copies the text out (the bytes may be shared with other handles).
    fn from(s: Utf8Bytes) -> Self {
        s.as_str().to_owned()
    }
}

impl PartialEq<str> for Utf8Bytes {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Utf8Bytes {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Utf8Bytes {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<Utf8Bytes> for str {
    fn eq(&self, other: &Utf8Bytes) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<Utf8Bytes> for &str {
    fn eq(&self, other: &Utf8Bytes) -> bool {
        *self == other.as_str()
    }
}

impl TryFrom<Bytes> for Utf8Bytes {
    type Error = std::str::Utf8Error;
    fn try_from(bytes: Bytes) -> Result<Self, Self::Error> {
        std::str::from_utf8(&bytes)?;
        Ok(Utf8Bytes(bytes))
    }
}

impl TryFrom<Vec<u8>> for Utf8Bytes {
    type Error = std::string::FromUtf8Error;
    fn try_from(bytes: Vec<u8>) -> Result<Self, Self::Error> {
        String::from_utf8(bytes).map(Utf8Bytes::from)
    }
}

impl TryFrom<&[u8]> for Utf8Bytes {
    type Error = std::str::Utf8Error;
    /// Checks and copies the bytes.
    fn try_from(bytes: &[u8]) -> Result<Self, Self::Error> {
        std::str::from_utf8(bytes).map(Utf8Bytes::from)
    }
}

impl TryFrom<bytes::BytesMut> for Utf8Bytes {
    type Error = std::str::Utf8Error;
    fn try_from(bytes: bytes::BytesMut) -> Result<Self, Self::Error> {
        Utf8Bytes::try_from(bytes.freeze())
    }
}

/// Validates UTF-8 fed in pieces, failing at the first byte that cannot start or
/// continue a valid sequence, even when a code point is split between pieces.
///
/// Whole pieces go through `simdutf8`; only the at most three bytes of a code point
/// cut by a piece boundary are carried over.
#[derive(Debug, Default, Clone)]
pub(crate) struct Utf8Validator {
    carry: [u8; 4],
    carry_len: u8,
}

/// The text is not UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct InvalidUtf8;

impl Utf8Validator {
    /// Checks the next piece. An incomplete sequence at its end is not an error yet.
    pub(crate) fn feed(&mut self, mut data: &[u8]) -> Result<(), InvalidUtf8> {
        if self.carry_len > 0 {
            // Complete the split code point one byte at a time.
            while self.carry_len > 0 {
                let Some((&byte, rest)) = data.split_first() else {
                    return Ok(());
                };
                self.carry[self.carry_len as usize] = byte;
                self.carry_len += 1;
                data = rest;
                match simdutf8::compat::from_utf8(&self.carry[..self.carry_len as usize]) {
                    Ok(_) => self.carry_len = 0,
                    Err(e) if e.error_len().is_some() => return Err(InvalidUtf8),
                    Err(_) => {}
                }
            }
        }
        match simdutf8::compat::from_utf8(data) {
            Ok(_) => Ok(()),
            Err(e) => match e.error_len() {
                Some(_) => Err(InvalidUtf8),
                None => {
                    let tail = &data[e.valid_up_to()..];
                    self.carry[..tail.len()].copy_from_slice(tail);
                    self.carry_len = tail.len() as u8;
                    Ok(())
                }
            },
        }
    }

    /// How many bytes at the end of what was fed so far begin a code point not
    /// complete yet (at most three): a reader handing text out in pieces keeps
    /// them back until the rest arrives.
    pub(crate) fn pending(&self) -> usize {
        self.carry_len as usize
    }

    /// Checks that the text ended on a code point boundary, and resets.
    pub(crate) fn finish(&mut self) -> Result<(), InvalidUtf8> {
        let complete = self.carry_len == 0;
        self.carry_len = 0;
        if complete {
            Ok(())
        } else {
            Err(InvalidUtf8)
        }
    }
}

/// The length of the UTF-8 sequence that `lead`, a byte that starts one,
/// begins.
pub(crate) fn sequence_len(lead: u8) -> usize {
    match lead {
        0x00..=0x7F => 1,
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    }
}

/// How many bytes at the end of `text`, valid UTF-8 up to a possibly cut last
/// code point, belong to that cut code point (0 when it ends on a boundary).
pub(crate) fn incomplete_tail(text: &[u8]) -> usize {
    let start = text.len().saturating_sub(3);
    for (i, &byte) in text.iter().enumerate().skip(start).rev() {
        if byte & 0xC0 != 0x80 {
            let have = text.len() - i;
            return if sequence_len(byte) > have { have } else { 0 };
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_all_splits(data: &[u8]) -> bool {
        let expected = std::str::from_utf8(data).is_ok();
        for a in 0..=data.len() {
            for b in a..=data.len() {
                let mut v = Utf8Validator::default();
                let ok = v.feed(&data[..a]).is_ok()
                    && v.feed(&data[a..b]).is_ok()
                    && v.feed(&data[b..]).is_ok()
                    && v.finish().is_ok();
                if ok != expected {
                    return false;
                }
            }
        }
        true
    }

    #[test]
    fn agrees_with_std_at_every_split() {
        let samples: &[&[u8]] = &[
            "κόσμε".as_bytes(),
            "a€b𝄞c".as_bytes(),
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
            b"\xf4\x90\x80\x80",
            b"\xc0\xaf",
            b"\xe0\x80\xaf",
            b"ab\xf0\x9f\x98",
            b"\xf0\x9f\x98\x80\xff",
            b"",
        ];
        for s in samples {
            assert!(check_all_splits(s), "{s:?}");
        }
    }

    #[test]
    fn the_cut_code_point_at_the_end_is_found() {
        let text = "a€𝄞".as_bytes();
        let expected = [0, 0, 1, 2, 0, 1, 2, 3, 0];
        for (end, want) in expected.iter().enumerate() {
            assert_eq!(incomplete_tail(&text[..end]), *want, "{end}");
            let mut v = Utf8Validator::default();
            v.feed(&text[..end]).unwrap();
            assert_eq!(v.pending(), *want, "{end}");
        }
    }

    #[test]
    fn fails_fast_on_an_impossible_prefix() {
        let mut v = Utf8Validator::default();
        // 0xF4 0x90 can never start a valid sequence: the error is reported at once,
        // before the rest of the code point arrives.
        assert_eq!(v.feed(b"ok\xf4"), Ok(()));
        assert_eq!(v.feed(b"\x90"), Err(InvalidUtf8));
    }
}
