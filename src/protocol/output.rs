//! The queue of bytes waiting to be written.

use bytes::{Bytes, BytesMut};
use std::collections::VecDeque;

/// Payloads at least this large are queued as their own chunk instead of being
/// copied behind their header, so an unmasked large message is written without a
/// copy (vectored with its header by the I/O layer).
const ZERO_COPY_THRESHOLD: usize = 16 << 10;

/// A packed buffer up to this size, made for one small frame, is kept once
/// its bytes are handed out, and reused for the next frame that fits once the
/// transport is done with them (see [`Output::reserve_frame`]).
const KEPT_UP_TO: usize = 4 << 10;

/// Bytes to write: small frames are packed into one buffer so that a burst of them
/// leaves in one write; large unmasked payloads ride as separate chunks.
#[derive(Debug, Default)]
pub(crate) struct Output {
    /// Frames packed since the last chunk boundary.
    packed: BytesMut,
    /// Chunks ready to go, before `packed`.
    chunks: VecDeque<Bytes>,
    /// Total bytes held, for backpressure.
    len: usize,
    /// Chunks popped so far: `chunks[i]` is chunk number `popped + i`.
    popped: u64,
    /// The number of the chunk holding the automatic pong not yet handed out.
    pong: Option<u64>,
    /// `packed`'s allocation is one [`Output::reserve_frame`] made, at most
    /// [`KEPT_UP_TO`] bytes, and nothing grew it since: [`Output::pop`] hands
    /// its bytes out as a split, keeping the allocation for the next frame.
    kept: bool,
}

impl Output {
    /// The buffer new bytes are appended to. Call [`Output::wrote`] afterwards.
    pub(crate) fn buf(&mut self) -> &mut BytesMut {
        // The caller may grow it: its size is no longer known.
        self.kept = false;
        &mut self.packed
    }

    /// Appends a frame: its header, written by `write_header` (at most
    /// `header_len` bytes), then its payload, copied behind it when small
    /// ([`Output::push_payload`]), into room made by [`Output::reserve_frame`].
    pub(crate) fn push_frame(
        &mut self,
        header_len: usize,
        write_header: impl FnOnce(&mut BytesMut),
        payload: Bytes,
    ) {
        self.reserve_frame(header_len, payload.len());
        let before = self.packed.len();
        write_header(&mut self.packed);
        self.len += self.packed.len() - before;
        self.push_payload(payload);
    }

    /// Accounts for `n` bytes appended through [`Output::buf`].
    pub(crate) fn wrote(&mut self, n: usize) {
        self.len += n;
    }

    /// Makes room in [`Output::buf`] for a frame's header and, when it is to be
    /// copied behind it, its payload: one allocation, not one per part. Into an
    /// empty buffer, the one kept from the last small frame when the transport
    /// is done with its bytes and it is large enough (request-response traffic
    /// then costs no allocation per reply), else a new one of exactly that
    /// size; behind queued bytes, as `reserve` grows (doubling), for bursts.
    fn reserve_frame(&mut self, header: usize, payload: usize) {
        let copied = if payload < ZERO_COPY_THRESHOLD {
            payload
        } else {
            0
        };
        let additional = header + copied;
        if self.packed.capacity() - self.packed.len() >= additional {
            return;
        }
        if self.packed.is_empty() {
            if self.kept && self.packed.try_reclaim(additional) {
                return;
            }
            self.packed = BytesMut::with_capacity(additional);
            self.kept = additional <= KEPT_UP_TO;
        } else {
            self.packed.reserve(additional);
            self.kept = false;
        }
    }

    /// Appends bytes, copying them.
    pub(crate) fn extend(&mut self, data: &[u8]) {
        if self.packed.capacity() - self.packed.len() < data.len() {
            // It grows (or is replaced): no longer the allocation kept.
            self.kept = false;
        }
        self.packed.extend_from_slice(data);
        self.len += data.len();
    }

    /// Appends a payload, without a copy when it is large.
    pub(crate) fn push_payload(&mut self, payload: Bytes) {
        if payload.len() < ZERO_COPY_THRESHOLD {
            self.extend(&payload);
            return;
        }
        self.seal();
        self.len += payload.len();
        self.chunks.push_back(payload);
    }

    /// Queues an automatic pong (a whole encoded frame), replacing the one still
    /// waiting, if any, in its place: RFC 6455 section 5.5.3 lets an endpoint
    /// answer only the most recent of the pings it has not answered yet, and
    /// this keeps a peer that pings without reading from growing the queue.
    pub(crate) fn push_pong(&mut self, frame: Bytes) {
        if let Some(at) = self.pong.and_then(|n| n.checked_sub(self.popped)) {
            let slot = &mut self.chunks[at as usize];
            self.len = self.len - slot.len() + frame.len();
            *slot = frame;
            return;
        }
        self.seal();
        self.len += frame.len();
        self.chunks.push_back(frame);
        self.pong = Some(self.popped + self.chunks.len() as u64 - 1);
    }

    /// Moves the packed bytes behind the chunks, keeping order.
    fn seal(&mut self) {
        if !self.packed.is_empty() {
            self.chunks.push_back(self.packed.split().freeze());
        }
    }

    /// The next bytes to write, oldest first.
    pub(crate) fn pop(&mut self) -> Option<Bytes> {
        let next = match self.chunks.pop_front() {
            Some(chunk) => {
                self.popped += 1;
                chunk
            }
            // A split of the small buffer kept between frames: once shared (one
            // allocation, the first time), splits cost none, and once the
            // transport drops the bytes the next frame reuses the memory.
            None if !self.packed.is_empty() && self.kept => self.packed.split().freeze(),
            // Otherwise the whole buffer, not a split of it: splitting makes it
            // shared (an allocation), while a buffer that is exactly full
            // freezes into a `Bytes` as it is. Its spare capacity would be let
            // go by `shrink` anyway.
            None if !self.packed.is_empty() => std::mem::take(&mut self.packed).freeze(),
            None => return None,
        };
        self.len -= next.len();
        Some(next)
    }

    /// Bytes waiting.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    #[allow(dead_code)]
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Moves everything from `other` behind what is queued here.
    pub(crate) fn append(&mut self, other: &mut Output) {
        while let Some(chunk) = other.pop() {
            self.push_payload(chunk);
        }
    }

    /// Gives memory back once everything is handed out. `packed` keeps, through
    /// its spare tail, the whole allocation of the last burst however little
    /// capacity it reports (a client's masked copy of a 16 MiB message, say), so
    /// its capacity says nothing about what it holds: let it go, unless it is
    /// the small buffer kept between frames, whose size is known.
    pub(crate) fn shrink(&mut self) {
        if self.len == 0 && !self.kept {
            self.packed = BytesMut::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_across_packed_bytes_and_chunks() {
        let mut out = Output::default();
        out.extend(b"ab");
        let big = Bytes::from(vec![7u8; ZERO_COPY_THRESHOLD]);
        out.push_payload(big.clone());
        out.extend(b"cd");
        assert_eq!(out.len(), 4 + big.len());
        let mut all = Vec::new();
        while let Some(b) = out.pop() {
            all.extend_from_slice(&b);
        }
        let mut expected = b"ab".to_vec();
        expected.extend_from_slice(&big);
        expected.extend_from_slice(b"cd");
        assert_eq!(all, expected);
        assert!(out.is_empty());
    }

    #[test]
    fn a_new_pong_replaces_the_one_not_yet_taken_in_place() {
        let mut out = Output::default();
        out.extend(b"a");
        out.push_pong(Bytes::from_static(b"P1"));
        out.extend(b"b");
        out.push_pong(Bytes::from_static(b"P22"));
        assert_eq!(out.len(), 5);
        assert_eq!(out.pop().unwrap(), &b"a"[..]);
        assert_eq!(out.pop().unwrap(), &b"P22"[..]);
        // Taken: the next pong is queued behind what follows.
        out.push_pong(Bytes::from_static(b"P3"));
        assert_eq!(out.pop().unwrap(), &b"b"[..]);
        assert_eq!(out.pop().unwrap(), &b"P3"[..]);
        assert!(out.pop().is_none());
    }

    #[test]
    fn large_payloads_are_not_copied() {
        let mut out = Output::default();
        let big = Bytes::from(vec![1u8; ZERO_COPY_THRESHOLD * 2]);
        out.push_payload(big.clone());
        assert_eq!(out.pop().unwrap().as_ptr(), big.as_ptr());
    }

    fn small_frame(out: &mut Output, payload: &'static [u8]) {
        let len = payload.len() as u8;
        out.push_frame(
            2,
            |buf| buf.extend_from_slice(&[0x82, len]),
            Bytes::from_static(payload),
        );
    }

    #[test]
    fn a_small_frame_reuses_the_buffer_of_the_last_once_it_is_written() {
        let mut out = Output::default();
        small_frame(&mut out, b"0123456789abcdef");
        let first = out.pop().unwrap();
        assert_eq!(&first[..], b"\x82\x100123456789abcdef");
        out.shrink();
        let at = first.as_ptr();
        // Still being written: the next frame gets memory of its own.
        small_frame(&mut out, b"fedcba9876543210");
        let second = out.pop().unwrap();
        assert_ne!(second.as_ptr(), at);
        assert_eq!(&first[..], b"\x82\x100123456789abcdef");
        drop(first);
        drop(second);
        out.shrink();
        // Written (dropped): the next frame that fits goes where the last was.
        let at = {
            small_frame(&mut out, b"0123456789abcdef");
            let third = out.pop().unwrap();
            assert_eq!(&third[..], b"\x82\x100123456789abcdef");
            third.as_ptr()
        };
        out.shrink();
        small_frame(&mut out, b"0123456789");
        let fourth = out.pop().unwrap();
        assert_eq!(fourth.as_ptr(), at);
        assert_eq!(&fourth[..], b"\x82\x0a0123456789");
        assert!(out.pop().is_none());
    }

    #[test]
    fn a_buffer_grown_from_outside_is_let_go() {
        let mut out = Output::default();
        small_frame(&mut out, b"x");
        drop(out.pop());
        // A client masks its frames in place through `buf`, growing it.
        out.buf().extend_from_slice(&[0; 100 << 10]);
        out.wrote(100 << 10);
        drop(out.pop());
        out.shrink();
        assert_eq!(out.packed.capacity(), 0);
        assert!(!out.kept);
    }
}
