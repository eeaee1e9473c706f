//! hixie-75 and hixie-76 framing.
//!
//! Text frames are `0x00`, UTF-8, `0xFF`. A frame type with the high bit set is
//! followed by a length in base-128 digits (high bit = more digits) and that many
//! bytes, which the drafts define no use for and are discarded; in hixie-76,
//! `0xFF 0x00` is the closing frame. Frame types `0x01..=0x7F` are sentinel
//! frames of unknown purpose, read to their `0xFF` and discarded.
//!
//! Every length is bound by the max message size with checked arithmetic: the text
//! run is capped while scanning, and the length prefix is rejected as soon as its
//! digits exceed the limit, so neither can wrap or allocate past the limit.

use super::error::{Error, ErrorKind};
use super::output::Output;
use super::utf8::Utf8Bytes;
use bytes::{Buf, Bytes, BytesMut};

#[derive(Debug)]
pub(crate) enum Frame {
    Text(Utf8Bytes),
    Close,
}

#[derive(Debug, Clone, Copy)]
enum Read {
    Type,
    /// Inside a sentinel frame; `scanned` bytes were already searched for `0xFF`.
    Run {
        keep: bool,
        scanned: usize,
    },
    /// Reading length digits of a frame of type `kind`.
    Length {
        kind: u8,
        len: usize,
    },
    /// Discarding `left` more bytes.
    Skip {
        left: usize,
    },
}

#[derive(Debug)]
pub(crate) struct Decoder {
    hixie76: bool,
    max_message: usize,
    read: Read,
}

impl Decoder {
    pub(crate) fn new(hixie76: bool, max_message: usize) -> Self {
        Decoder {
            hixie76,
            max_message,
            read: Read::Type,
        }
    }

    pub(crate) fn decode(&mut self, input: &mut BytesMut) -> Result<Option<Frame>, Error> {
        loop {
            match self.read {
                Read::Type => {
                    let Some(&kind) = input.first() else {
                        return Ok(None);
                    };
                    input.advance(1);
                    self.read = if kind & 0x80 != 0 {
                        Read::Length { kind, len: 0 }
                    } else {
                        Read::Run {
                            keep: kind == 0x00,
                            scanned: 0,
                        }
                    };
                }
                Read::Run { keep, scanned } => {
                    // The input only grows between calls, so `scanned` never
                    // passes its end; clamp anyway rather than risk a panic.
                    let scanned = scanned.min(input.len());
                    let Some(pos) = input[scanned..].iter().position(|&b| b == 0xFF) else {
                        if input.len() > self.max_message {
                            return Err(Error::new(ErrorKind::TooBig));
                        }
                        self.read = Read::Run {
                            keep,
                            scanned: input.len(),
                        };
                        return Ok(None);
                    };
                    let end = scanned + pos;
                    if end > self.max_message {
                        return Err(Error::new(ErrorKind::TooBig));
                    }
                    let run = input.split_to(end).freeze();
                    input.advance(1);
                    self.read = Read::Type;
                    if keep {
                        let text = Utf8Bytes::try_from(run)
                            .map_err(|_| Error::new(ErrorKind::InvalidUtf8))?;
                        return Ok(Some(Frame::Text(text)));
                    }
                }
                Read::Length { kind, len } => {
                    let Some(&digit) = input.first() else {
                        return Ok(None);
                    };
                    input.advance(1);
                    let len = len
                        .checked_mul(128)
                        .and_then(|l| l.checked_add((digit & 0x7F) as usize))
                        .filter(|&l| l <= self.max_message)
                        .ok_or(Error::new(ErrorKind::TooBig))?;
                    if digit & 0x80 != 0 {
                        self.read = Read::Length { kind, len };
                    } else if kind == 0xFF && len == 0 && self.hixie76 {
                        self.read = Read::Type;
                        return Ok(Some(Frame::Close));
                    } else {
                        self.read = Read::Skip { left: len };
                    }
                }
                Read::Skip { left } => {
                    let n = left.min(input.len());
                    input.advance(n);
                    if n < left {
                        self.read = Read::Skip { left: left - n };
                        return Ok(None);
                    }
                    self.read = Read::Type;
                }
            }
        }
    }
}

/// Appends a text frame.
pub(crate) fn encode_text(out: &mut Output, text: &Bytes) {
    let buf = out.buf();
    buf.reserve(text.len() + 2);
    buf.extend_from_slice(&[0x00]);
    buf.extend_from_slice(text);
    buf.extend_from_slice(&[0xFF]);
    out.wrote(text.len() + 2);
}

/// hixie-76's closing frame.
pub(crate) const CLOSE: [u8; 2] = [0xFF, 0x00];
