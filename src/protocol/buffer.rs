//! Buffer growth that respects the limits.
//!
//! `BytesMut::reserve` at least doubles a buffer that is full, so a buffer that
//! must hold `limit` bytes can end up with nearly twice that capacity. Where the
//! driver knows how large a buffer can get (the frame being read, the max message
//! size), it grows through [`reserve_within`] instead.

use bytes::BytesMut;

/// Makes room for `additional` more bytes in `buf`, which will never need to hold
/// more than `limit` bytes: it grows as `reserve` does (doubling) while far from
/// the limit, then once to exactly `limit`. Jumping early, rather than doubling
/// up to just short of the limit and then adding a last small step, means the
/// buffer never passes the limit and never holds two near-limit allocations at
/// once. (If `buf` must hold more than `limit`, it gets exactly what it needs.)
pub(crate) fn reserve_within(buf: &mut BytesMut, additional: usize, limit: usize) {
    if buf.capacity() - buf.len() >= additional {
        return;
    }
    let needed = buf.len().saturating_add(additional);
    let doubled = buf.capacity().saturating_mul(2).max(needed);
    if doubled.saturating_mul(2) <= limit {
        buf.reserve(additional);
        return;
    }
    // The copy is the one a reallocation would make anyway.
    let mut fresh = BytesMut::with_capacity(limit.max(needed));
    fresh.extend_from_slice(buf);
    *buf = fresh;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_far_from_the_limit_then_jumps_to_it() {
        let mut buf = BytesMut::with_capacity(16);
        buf.extend_from_slice(&[1; 16]);
        reserve_within(&mut buf, 1, 1000);
        assert!(buf.capacity() >= 32 && buf.capacity() < 1000);
        buf.extend_from_slice(&[2; 300]);
        reserve_within(&mut buf, 300, 1000);
        assert_eq!(buf.capacity(), 1000);
        let mut expected = vec![1; 16];
        expected.extend_from_slice(&[2; 300]);
        assert_eq!(&buf[..], &expected[..]);
        // Needing more than the limit is served exactly.
        reserve_within(&mut buf, 2000, 1000);
        assert_eq!(buf.capacity(), 316 + 2000);
    }
}
