//! Buffer growth that respects the limits.
//!
//! `BytesMut::reserve` at least doubles a buffer that is full, so a buffer that
//! must hold `limit` bytes can end up with nearly twice that capacity. Where the
//! driver knows how large a buffer can get (the frame being read, the max message
//! size), it grows through [`reserve_within`] instead.

use bytes::BytesMut;

/// Buffers bound by a limit up to this size grow as `reserve` makes them
/// (doubling, reusing the space consumed bytes leave): little memory is at
/// stake, and sizing them exactly would cost an allocation on many reads.
const EXACT_ABOVE: usize = 64 << 10;

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
    // Space freed at the front by consumed bytes comes first: no allocation.
    if buf.try_reclaim(additional) {
        return;
    }
    let needed = buf.len().saturating_add(additional);
    let doubled = buf.capacity().saturating_mul(2).max(needed);
    if limit <= EXACT_ABOVE || doubled.saturating_mul(2) <= limit {
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
        const K: usize = 1 << 10;
        let limit = 1000 * K;
        let mut buf = BytesMut::with_capacity(16 * K);
        buf.extend_from_slice(&[1; 16 * K]);
        reserve_within(&mut buf, 1, limit);
        assert!(buf.capacity() >= 32 * K && buf.capacity() < limit);
        buf.extend_from_slice(&[2; 300 * K]);
        reserve_within(&mut buf, 300 * K, limit);
        assert_eq!(buf.capacity(), limit);
        let mut expected = vec![1; 16 * K];
        expected.extend_from_slice(&[2; 300 * K]);
        assert_eq!(&buf[..], &expected[..]);
        // Needing more than the limit is served exactly.
        reserve_within(&mut buf, 2000 * K, limit);
        assert_eq!(buf.capacity(), 316 * K + 2000 * K);
    }

    #[test]
    fn small_limits_grow_as_reserve_does() {
        let mut buf = BytesMut::with_capacity(16);
        buf.extend_from_slice(&[1; 16]);
        reserve_within(&mut buf, 1, 20);
        assert!(buf.capacity() >= 32);
    }
}
