//! The server socket's stream: hyper's upgraded connection, plus the hook through
//! which a [`Shutdown`](super::Shutdown) reaches a socket it does not own.
//!
//! The socket owns its driver, so nothing outside can call `close` on it. What the
//! server does control is the stream under it: once the shutdown is triggered, the
//! next read that ends on a frame boundary of the incoming stream is followed by a
//! close frame with 1001 (hixie-76: `FF 00`; hixie-75: the end of the stream), as if
//! the peer had sent it. The driver then does what the protocol says: sends its own
//! close 1001, ends the message stream with that frame and shuts the stream. Bytes
//! the peer sent past the boundary are held back and delivered afterwards, where
//! the closed driver ignores them.

use super::shutdown::Watch;
use crate::protocol::Version;
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A masked (all-zero key) client close frame: 1001, "server shutting down".
const HYBI_GOODBYE: &[u8] = &[
    0x88, 0x96, 0, 0, 0, 0, 0x03, 0xE9, b's', b'e', b'r', b'v', b'e', b'r', b' ', b's', b'h', b'u',
    b't', b't', b'i', b'n', b'g', b' ', b'd', b'o', b'w', b'n',
];
/// hixie-76's closing frame.
const HIXIE76_GOODBYE: &[u8] = &[0xFF, 0x00];

/// The stream under a [`ServerSocket`](super::ServerSocket): hyper's upgraded
/// connection (`TokioIo<Upgraded>`), watched by the server's
/// [`Shutdown`](super::Shutdown) handle when one is configured.
pub struct ServerIo {
    io: TokioIo<Upgraded>,
    shutdown: Option<Box<ShutdownRead>>,
}

impl std::fmt::Debug for ServerIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerIo")
            .field("watched", &self.shutdown.is_some())
            .finish_non_exhaustive()
    }
}

impl ServerIo {
    pub(crate) fn new(io: TokioIo<Upgraded>, version: Version, watch: Option<Watch>) -> Self {
        let shutdown = watch.map(|watch| {
            let (frames, goodbye) = match version {
                Version::Hixie75 => (Frames::hixie(0), &[][..]),
                Version::Hixie76 => (Frames::hixie(8), HIXIE76_GOODBYE),
                _ => (Frames::hybi(), HYBI_GOODBYE),
            };
            Box::new(ShutdownRead {
                watch,
                frames,
                goodbye,
                sent: 0,
                done: false,
                held: Vec::new(),
            })
        });
        ServerIo { io, shutdown }
    }

    /// hyper's upgraded connection.
    pub fn get_ref(&self) -> &TokioIo<Upgraded> {
        &self.io
    }
}

struct ShutdownRead {
    watch: Watch,
    frames: Frames,
    goodbye: &'static [u8],
    /// How much of `goodbye` has been delivered.
    sent: usize,
    done: bool,
    /// Bytes read past the boundary where the goodbye goes.
    held: Vec<u8>,
}

impl ShutdownRead {
    fn goodbye_due(&self) -> bool {
        !self.done && self.watch.is_triggered() && self.frames.at_boundary()
    }

    /// Delivers (the rest of) the goodbye; an empty one reads as the end of the
    /// stream.
    fn write_goodbye(&mut self, buf: &mut ReadBuf<'_>) {
        let rest = &self.goodbye[self.sent..];
        let n = rest.len().min(buf.remaining());
        buf.put_slice(&rest[..n]);
        self.sent += n;
        self.done = self.sent == self.goodbye.len();
    }

    fn write_held(&mut self, buf: &mut ReadBuf<'_>) {
        let n = self.held.len().min(buf.remaining());
        buf.put_slice(&self.held[..n]);
        self.held.drain(..n);
    }
}

impl AsyncRead for ServerIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let Some(sd) = this.shutdown.as_deref_mut() else {
            return Pin::new(&mut this.io).poll_read(cx, buf);
        };
        if sd.goodbye_due() {
            sd.write_goodbye(buf);
            return Poll::Ready(Ok(()));
        }
        if !sd.held.is_empty() {
            sd.write_held(buf);
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Pending => {
                sd.watch.register(cx.waker());
                // Triggered between the check above and the registration.
                if sd.goodbye_due() {
                    sd.write_goodbye(buf);
                    return Poll::Ready(Ok(()));
                }
                Poll::Pending
            }
            Poll::Ready(Ok(())) if !sd.done => {
                let stop = sd.watch.is_triggered();
                let read = &buf.filled()[before..];
                let used = sd.frames.advance(read, stop);
                if used < read.len() {
                    sd.held.extend_from_slice(&read[used..]);
                    buf.set_filled(before + used);
                }
                if buf.filled().len() == before && sd.goodbye_due() {
                    sd.write_goodbye(buf);
                }
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

impl AsyncWrite for ServerIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// Where the incoming stream is relative to frame boundaries. It only measures
/// frames, never judges them: the driver does that.
#[derive(Debug)]
enum Frames {
    /// RFC 6455 client frames: the header bytes gathered so far, then the payload
    /// bytes still to come.
    Hybi {
        header: [u8; 14],
        have: usize,
        payload: u64,
    },
    /// hixie frames, after `key` bytes of hixie-76 challenge.
    Hixie { key: usize, state: Hixie },
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Hixie {
    Idle,
    /// In a `00 .. FF` text frame.
    Text,
    /// Reading the 7-bit groups of a length-prefixed frame's length.
    Length(u64),
    Skip(u64),
}

impl Frames {
    fn hybi() -> Self {
        Frames::Hybi {
            header: [0; 14],
            have: 0,
            payload: 0,
        }
    }

    fn hixie(key: usize) -> Self {
        Frames::Hixie {
            key,
            state: Hixie::Idle,
        }
    }

    fn at_boundary(&self) -> bool {
        match self {
            Frames::Hybi { have, payload, .. } => *have == 0 && *payload == 0,
            Frames::Hixie { key, state } => *key == 0 && *state == Hixie::Idle,
        }
    }

    /// Moves over `bytes`; with `stop`, only up to the first boundary. Returns how
    /// many bytes it moved over.
    fn advance(&mut self, bytes: &[u8], stop: bool) -> usize {
        let mut at = 0;
        while at < bytes.len() && !(stop && self.at_boundary()) {
            at += self.step(&bytes[at..]);
        }
        at
    }

    /// Moves over at least one byte of the non-empty `bytes`.
    fn step(&mut self, bytes: &[u8]) -> usize {
        match self {
            Frames::Hybi {
                header,
                have,
                payload,
            } => {
                if *payload > 0 {
                    let n = bytes
                        .len()
                        .min(usize::try_from(*payload).unwrap_or(usize::MAX));
                    *payload -= n as u64;
                    return n;
                }
                header[*have] = bytes[0];
                *have += 1;
                if *have >= 2 {
                    let (extended, len_bytes) = match header[1] & 0x7F {
                        126 => (true, 2),
                        127 => (true, 8),
                        _ => (false, 0),
                    };
                    let mask = if header[1] & 0x80 != 0 { 4 } else { 0 };
                    if *have == 2 + len_bytes + mask {
                        *payload = if extended {
                            header[2..2 + len_bytes]
                                .iter()
                                .fold(0u64, |n, &b| (n << 8) | u64::from(b))
                        } else {
                            u64::from(header[1] & 0x7F)
                        };
                        *have = 0;
                    }
                }
                1
            }
            Frames::Hixie { key, state } => {
                if *key > 0 {
                    let n = bytes.len().min(*key);
                    *key -= n;
                    return n;
                }
                match *state {
                    Hixie::Idle => {
                        *state = if bytes[0] & 0x80 == 0 {
                            Hixie::Text
                        } else {
                            Hixie::Length(0)
                        };
                        1
                    }
                    Hixie::Text => match bytes.iter().position(|&b| b == 0xFF) {
                        Some(end) => {
                            *state = Hixie::Idle;
                            end + 1
                        }
                        None => bytes.len(),
                    },
                    Hixie::Length(n) => {
                        let b = bytes[0];
                        let n = n.saturating_mul(128).saturating_add(u64::from(b & 0x7F));
                        *state = match (b & 0x80 != 0, n) {
                            (true, n) => Hixie::Length(n),
                            (false, 0) => Hixie::Idle,
                            (false, n) => Hixie::Skip(n),
                        };
                        1
                    }
                    Hixie::Skip(left) => {
                        let n = bytes.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                        let left = left - n as u64;
                        *state = if left == 0 {
                            Hixie::Idle
                        } else {
                            Hixie::Skip(left)
                        };
                        n
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boundaries(frames: &mut Frames, bytes: &[u8]) -> Vec<usize> {
        let mut out = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            at += frames.advance(&bytes[at..at + 1], false);
            at += frames.advance(&bytes[at..], true);
            if frames.at_boundary() {
                out.push(at);
            }
        }
        out
    }

    #[test]
    fn hybi_boundaries_follow_lengths_and_masks() {
        let mut stream = vec![0x81, 0x82, 1, 2, 3, 4, b'h', b'i']; // masked "hi"
        stream.extend_from_slice(&[0x82, 0xFE, 0x01, 0x00, 0, 0, 0, 0]); // 256 bytes
        stream.extend_from_slice(&[0; 256]);
        stream.extend_from_slice(&[0x89, 0x80, 9, 9, 9, 9]); // empty ping
        let ends = boundaries(&mut Frames::hybi(), &stream);
        assert_eq!(ends, [8, 8 + 8 + 256, 8 + 8 + 256 + 6]);
        // Byte by byte, it agrees.
        let mut frames = Frames::hybi();
        let mut ends_one_by_one = Vec::new();
        for (i, b) in stream.iter().enumerate() {
            assert_eq!(frames.advance(&[*b], false), 1);
            if frames.at_boundary() {
                ends_one_by_one.push(i + 1);
            }
        }
        assert_eq!(ends_one_by_one, ends);
    }

    #[test]
    fn hybi_64_bit_lengths_are_tracked() {
        let mut frames = Frames::hybi();
        let head = [0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4];
        assert_eq!(frames.advance(&head, false), head.len());
        assert!(!frames.at_boundary());
        assert_eq!(frames.advance(&vec![0; 70_000], true), 65_536);
        assert!(frames.at_boundary());
    }

    #[test]
    fn hixie_boundaries_skip_the_key_and_find_frame_ends() {
        let mut stream = b"12345678".to_vec(); // hixie-76 key3
        stream.extend_from_slice(b"\x00hello\xFF");
        stream.extend_from_slice(&[0x80, 0x82, 0x00]); // length 256, varint
        stream.extend_from_slice(&[7; 256]);
        stream.extend_from_slice(&[0xFF, 0x00]);
        let ends = boundaries(&mut Frames::hixie(8), &stream);
        // Right after the key is a boundary too: the goodbye may go there.
        assert_eq!(ends, [8, 15, 15 + 3 + 256, 15 + 3 + 256 + 2]);
    }

    #[test]
    fn advance_without_stop_consumes_everything() {
        let mut frames = Frames::hybi();
        let stream = [0x81, 0x81, 0, 0, 0, 0, b'a', 0x81, 0x81];
        assert_eq!(frames.advance(&stream, false), stream.len());
        assert!(!frames.at_boundary());
        assert_eq!(frames.advance(&[0, 0, 0, 0, b'b'], true), 5);
        assert!(frames.at_boundary());
    }
}
