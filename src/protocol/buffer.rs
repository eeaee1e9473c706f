//! Buffer growth that respects the limits.
//!
//! `BytesMut::reserve` at least doubles a buffer that is full, so a buffer that
//! must hold `limit` bytes can end up with nearly twice that capacity. Where the
//! driver knows how large a buffer can get (the frame being read, the max message
//! size), it grows through [`reserve_within`] instead; the payload of a frame
//! whose header announced its length grows through [`reserve_payload`].

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

/// How a buffer may grow: the [`Input`](super::input::Input) methods that make
/// room take one.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Room {
    /// The buffer never needs more than this many bytes in all: [`reserve_within`].
    Within(usize),
    /// A frame's payload is being read, and it ends this many bytes into the
    /// buffer: [`reserve_payload`].
    FrameEnd(usize),
}

impl Room {
    pub(crate) fn reserve(self, buf: &mut BytesMut, additional: usize) {
        match self {
            Room::Within(limit) => reserve_within(buf, additional, limit),
            Room::FrameEnd(end) => reserve_payload(buf, additional, end),
        }
    }
}

/// Makes room for `additional` more bytes of a frame's payload that ends `end`
/// bytes into `buf` (or for a shorter read, when 64 KiB or more are free), as
/// the bytes arrive: each growth makes the buffer four times as large (or as
/// large as the read needs), the growth that reaches the end of the frame goes
/// to exactly the end, and when the end is between four and eight times away
/// the buffer grows to half of it first. So a peer that announces a large
/// frame makes us hold at most four times what it sent (or one read), as
/// doubling with a jump to the limit did, and a 16 MiB frame takes two growths
/// after its first read (1, 4, 16 MiB) where doubling took four and a copy.
/// Each growth is at least a doubling, so `BytesMut::reserve` asks the
/// allocator for exactly that size (`realloc`, which extends or remaps a large
/// block in place rather than copying it, when it can; `Vec::reserve` under it
/// grows to max(twice the allocation, what is asked)). A growth of less than
/// that (a frame that ends less than twice the buffer away) is a fresh exact
/// allocation and one copy, as in [`reserve_within`]. The buffer never passes
/// the frame by more than the bytes consumed at the front of its allocation (a
/// header, frames before it), which the allocation also holds.
pub(crate) fn reserve_payload(buf: &mut BytesMut, additional: usize, end: usize) {
    // A read that finds some room takes what there is: the buffer grows with
    // what arrived, not with what reads ask for.
    if buf.capacity() - buf.len() >= additional.min(READ_ROOM) {
        return;
    }
    if buf.try_reclaim(additional) {
        return;
    }
    let needed = buf.len().saturating_add(additional);
    let cap = buf.capacity();
    let target = if end <= cap.saturating_mul(4) {
        end
    } else if end <= cap.saturating_mul(8) {
        // Four times would stop short of the end, and the last step would be
        // less than a doubling.
        end.div_ceil(2)
    } else {
        cap.saturating_mul(4)
    }
    .max(needed);
    if target >= cap.saturating_mul(2) {
        buf.reserve(target - buf.len());
        return;
    }
    let mut fresh = BytesMut::with_capacity(target);
    fresh.extend_from_slice(buf);
    *buf = fresh;
}

/// The least room [`reserve_payload`] leaves for a read before it grows the
/// buffer (the read is then shorter than asked).
const READ_ROOM: usize = 64 << 10;

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

    #[test]
    fn a_frame_payload_grows_fourfold_then_to_the_frame_end() {
        const M: usize = 1 << 20;
        let end = 16 * M;
        let mut buf = BytesMut::new();
        let mut sizes = Vec::new();
        let mut filled = 0u8;
        // Reads of up to 1 MiB, as the socket makes them.
        while buf.len() < end {
            let ask = M.min(end - buf.len());
            reserve_payload(&mut buf, ask, end);
            let read = M.min(end - buf.len()).min(buf.capacity() - buf.len());
            if sizes.last() != Some(&buf.capacity()) {
                sizes.push(buf.capacity());
            }
            buf.extend_from_slice(&vec![filled; read]);
            filled = filled.wrapping_add(1);
        }
        assert_eq!(sizes, [M, 4 * M, 16 * M]);
        for (i, chunk) in buf.chunks(M).enumerate() {
            assert!(chunk.iter().all(|&b| b == i as u8));
        }
    }

    #[test]
    fn a_peer_that_announces_a_large_frame_gets_one_read_of_room() {
        const M: usize = 1 << 20;
        let mut buf = BytesMut::new();
        // A header announcing 16 MiB, then 10 bytes of payload.
        reserve_payload(&mut buf, M, 16 * M);
        buf.extend_from_slice(&[0; 10]);
        assert_eq!(buf.capacity(), M);
        // While room is left, reads take it: no growth.
        buf.extend_from_slice(&vec![0; 900 << 10]);
        reserve_payload(&mut buf, M, 16 * M);
        assert_eq!(buf.capacity(), M);
        // Room grows with what arrived: at most four times it.
        buf.extend_from_slice(&vec![0; M - (900 << 10) - 10]);
        reserve_payload(&mut buf, M, 16 * M);
        assert_eq!(buf.capacity(), 4 * M);
    }

    #[test]
    fn a_payload_never_grows_past_its_frame() {
        const M: usize = 1 << 20;
        // Ends less than twice the buffer away: one exact allocation.
        let mut buf = BytesMut::with_capacity(4 * M);
        buf.extend_from_slice(&vec![7; 4 * M]);
        reserve_payload(&mut buf, M, 5 * M + 3);
        assert_eq!(buf.capacity(), 5 * M + 3);
        assert!(buf.iter().all(|&b| b == 7));
        // Ends within four times: straight to the end.
        let mut buf = BytesMut::with_capacity(M);
        buf.extend_from_slice(&vec![1; M]);
        reserve_payload(&mut buf, M, 3 * M);
        assert_eq!(buf.capacity(), 3 * M);
    }
}
