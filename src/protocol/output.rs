//! The queue of bytes waiting to be written.

use bytes::{Bytes, BytesMut};
use std::collections::VecDeque;

/// Payloads at least this large are queued as their own chunk instead of being
/// copied behind their header, so an unmasked large message is written without a
/// copy (vectored with its header by the I/O layer).
const ZERO_COPY_THRESHOLD: usize = 16 << 10;

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
}

impl Output {
    /// The buffer new bytes are appended to. Call [`Output::wrote`] afterwards.
    pub(crate) fn buf(&mut self) -> &mut BytesMut {
        &mut self.packed
    }

    /// Accounts for `n` bytes appended through [`Output::buf`].
    pub(crate) fn wrote(&mut self, n: usize) {
        self.len += n;
    }

    /// Makes room in [`Output::buf`] for a frame's header and, when it is to be
    /// copied behind it, its payload: one allocation, not one per part. Into an
    /// empty buffer exactly, so that a lone frame fills it and leaves as a
    /// `Bytes` with no allocation of its own (see [`Output::pop`]); behind queued
    /// bytes, as `reserve` grows (doubling), for bursts.
    pub(crate) fn reserve_frame(&mut self, header: usize, payload: usize) {
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
            self.packed = BytesMut::with_capacity(additional);
        } else {
            self.packed.reserve(additional);
        }
    }

    /// Appends bytes, copying them.
    pub(crate) fn extend(&mut self, data: &[u8]) {
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
            // The whole buffer, not a split of it: splitting makes it shared (an
            // allocation), while a buffer that is exactly full freezes into a
            // `Bytes` as it is. Its spare capacity would be let go by `shrink`
            // anyway.
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
    /// its capacity says nothing about what it holds: always let it go.
    pub(crate) fn shrink(&mut self) {
        if self.len == 0 {
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
}
