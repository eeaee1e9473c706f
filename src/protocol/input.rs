//! The input buffer: bytes from the transport, waiting to be decoded.
//!
//! I/O layers read straight into it through [`Input::chunk`] and
//! [`Input::commit`] (behind `Driver::input_chunk` and `Driver::commit`), so a
//! large frame lands where it is decoded, with no copy. The chunk is `&mut [u8]`
//! of memory initialized once: the spare capacity is zeroed the first time it is
//! handed out after an allocation, and a watermark remembers how much of it is
//! initialized, so a read into the driver costs no zero-filling after the first.
//! (A `&mut [MaybeUninit<u8>]` would spare even that, but safe code may write
//! `MaybeUninit::uninit()` into it and then commit it, which would be UB.)

use super::buffer::Room;
use bytes::BytesMut;
use std::mem::MaybeUninit;

#[derive(Debug, Default)]
pub(crate) struct Input {
    buf: BytesMut,
    /// How many bytes of spare capacity, right after `buf.len()`, are
    /// initialized. Every change that can move or regrow the allocation resets
    /// it; consuming from the front leaves the spare capacity as it is.
    spare_init: usize,
    /// The length of the chunk last handed out, the most [`Input::commit`] may
    /// add. Never more than `spare_init` or the spare capacity: everything
    /// that lowers either resets it.
    chunk: usize,
}

impl Input {
    pub(crate) fn len(&self) -> usize {
        self.buf.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub(crate) fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// The bytes, for the decoders and the handshake parsers, which read them,
    /// modify them in place (unmasking) and consume them from the front
    /// (`advance`, `split_to`). None of that touches the spare capacity, so the
    /// watermark stays right; growing the buffer goes through `Input` only.
    pub(crate) fn data(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// Makes room for `additional` bytes, growing as `room` says.
    fn reserve(&mut self, additional: usize, room: Room) {
        if self.buf.capacity() - self.buf.len() >= additional {
            return;
        }
        // The allocation may move or grow: what was initialized is unknown.
        room.reserve(&mut self.buf, additional);
        self.spare_init = 0;
        self.chunk = 0;
    }

    /// Appends a copy of `data`.
    pub(crate) fn extend(&mut self, data: &[u8], room: Room) {
        self.reserve(data.len(), room);
        self.buf.extend_from_slice(data);
        self.spare_init = self.spare_init.saturating_sub(data.len());
        self.chunk = 0;
    }

    /// A writable chunk of `len` bytes right after the data, for [`commit`](Input::commit).
    /// `room` says how the buffer grows for it.
    pub(crate) fn chunk(&mut self, len: usize, room: Room) -> &mut [u8] {
        self.reserve(len, room);
        let spare = self.buf.spare_capacity_mut();
        let len = len.min(spare.len());
        if self.spare_init < len {
            for byte in &mut spare[self.spare_init..len] {
                byte.write(0);
            }
            self.spare_init = len;
        }
        self.chunk = len;
        // SAFETY: the first `len` bytes of the spare capacity are initialized
        // (`spare_init >= len`: zeroed just above or earlier, and nothing since
        // has moved or regrown the allocation, which resets `spare_init`), so
        // they may be viewed as `u8`. The slice borrows `self` mutably, so
        // nothing else touches the buffer while it lives.
        unsafe { std::slice::from_raw_parts_mut(spare.as_mut_ptr().cast::<u8>(), len) }
    }

    /// Adds `n` bytes of the last chunk to the data.
    ///
    /// # Panics
    ///
    /// If `n` is larger than the last chunk handed out (or no chunk is current:
    /// anything else that changes the input ends the chunk).
    pub(crate) fn commit(&mut self, n: usize) {
        assert!(
            n <= self.chunk,
            "commit({n}) is larger than the chunk handed out ({} bytes)",
            self.chunk
        );
        // SAFETY: `n <= chunk <= spare_init`, and `chunk` never exceeds the spare
        // capacity (see the fields), so the `n` bytes after `len` are within the
        // allocation and initialized. Whatever the caller wrote (or did not) they
        // hold valid `u8`s.
        unsafe { self.buf.set_len(self.buf.len() + n) };
        self.spare_init -= n;
        self.chunk = 0;
    }

    /// The spare capacity for a read of up to `len` bytes, as it is: not
    /// zeroed, for an I/O layer that tracks what it initializes (tokio's
    /// `ReadBuf::uninit`), so that a large frame is read with no pass over its
    /// memory before the read's own. `room` says how the buffer grows for
    /// it. Commit with [`commit_init`](Input::commit_init).
    pub(crate) fn spare(&mut self, len: usize, room: Room) -> &mut [MaybeUninit<u8>] {
        self.reserve(len, room);
        self.chunk = 0;
        let spare = self.buf.spare_capacity_mut();
        let len = len.min(spare.len());
        &mut spare[..len]
    }

    /// Adds the first `n` bytes of the last [`spare`](Input::spare) slice to
    /// the data.
    ///
    /// # Safety
    ///
    /// Those `n` bytes were initialized, and nothing changed the input since
    /// the slice was handed out.
    pub(crate) unsafe fn commit_init(&mut self, n: usize) {
        // SAFETY: the caller's: the `n` bytes after `len` are within the
        // spare capacity the slice came from, and initialized.
        unsafe { self.buf.set_len(self.buf.len() + n) };
        // What was zeroed beyond them still is.
        self.spare_init = self.spare_init.saturating_sub(n);
        self.chunk = 0;
    }

    /// Drops the data, keeping the allocation.
    pub(crate) fn clear(&mut self) {
        // The cleared bytes were initialized and now head the spare capacity.
        self.spare_init += self.buf.len();
        self.buf.clear();
    }

    /// Gives the memory back.
    pub(crate) fn release(&mut self) {
        *self = Input::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Buf;

    const ANY: Room = Room::Within(usize::MAX);

    #[test]
    fn chunks_are_zeroed_once_and_commit_appends() {
        let mut input = Input::default();
        let chunk = input.chunk(16, ANY);
        assert_eq!(chunk, &[0; 16]);
        chunk[..3].copy_from_slice(b"abc");
        input.commit(3);
        assert_eq!(&input.data()[..], b"abc");
        // The next chunk starts after the data; the rest was zeroed already.
        let chunk = input.chunk(13, ANY);
        assert_eq!(chunk.len(), 13);
        chunk[0] = b'd';
        input.commit(1);
        assert_eq!(&input.data()[..], b"abcd");
    }

    #[test]
    fn spare_reads_commit_what_was_written() {
        let mut input = Input::default();
        let spare = input.spare(16, ANY);
        assert_eq!(spare.len(), 16);
        for (slot, byte) in spare.iter_mut().zip(b"abc") {
            slot.write(*byte);
        }
        // SAFETY: the first 3 bytes were written just above.
        unsafe { input.commit_init(3) };
        assert_eq!(&input.data()[..], b"abc");
        // Zeroed chunks and spare reads mix.
        let chunk = input.chunk(4, ANY);
        chunk[0] = b'd';
        input.commit(1);
        assert_eq!(&input.data()[..], b"abcd");
    }

    #[test]
    fn consuming_from_the_front_keeps_the_watermark() {
        let mut input = Input::default();
        let chunk = input.chunk(32, ANY);
        chunk.fill(7);
        input.commit(32);
        input.data().advance(10);
        let _ = input.data().split_to(10);
        assert_eq!(input.len(), 12);
        // Growth after the front was consumed gives a fresh, zeroed chunk.
        let chunk = input.chunk(100, ANY);
        assert!(chunk.iter().all(|&b| b == 0));
        input.commit(100);
        assert_eq!(&input.data()[..12], &[7; 12]);
        assert_eq!(&input.data()[12..], &[0; 100]);
    }

    #[test]
    fn a_lying_commit_sees_only_initialized_bytes() {
        // Committing bytes never written exposes zeros or old bytes, never
        // uninitialized memory (run under Miri to check).
        let mut input = Input::default();
        input.chunk(8, ANY);
        input.commit(8);
        input.clear();
        input.chunk(8, ANY);
        input.commit(8);
        assert_eq!(&input.data()[..], &[0; 8]);
    }

    #[test]
    #[should_panic(expected = "larger than the chunk")]
    fn committing_past_the_chunk_panics() {
        let mut input = Input::default();
        input.chunk(4, ANY);
        input.commit(5);
    }

    #[test]
    #[should_panic(expected = "larger than the chunk")]
    fn a_chunk_ends_when_the_input_changes() {
        let mut input = Input::default();
        input.chunk(4, ANY);
        input.extend(b"x", ANY);
        input.commit(1);
    }
}
