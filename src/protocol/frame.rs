//! The RFC 6455 frame header: parsing and encoding.

use bytes::{BufMut, BytesMut};

/// A frame's opcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpCode {
    Continuation,
    Text,
    Binary,
    Close,
    Ping,
    Pong,
}

impl OpCode {
    fn from_bits(bits: u8) -> Option<OpCode> {
        Some(match bits {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            _ => return None,
        })
    }

    fn bits(self) -> u8 {
        match self {
            OpCode::Continuation => 0x0,
            OpCode::Text => 0x1,
            OpCode::Binary => 0x2,
            OpCode::Close => 0x8,
            OpCode::Ping => 0x9,
            OpCode::Pong => 0xA,
        }
    }

    pub(crate) fn is_control(self) -> bool {
        matches!(self, OpCode::Close | OpCode::Ping | OpCode::Pong)
    }
}

/// A parsed frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub fin: bool,
    /// RSV1..RSV3 as the low three bits.
    pub rsv: u8,
    pub opcode: OpCode,
    pub mask: Option<[u8; 4]>,
    pub len: u64,
}

/// Longest possible header: 2 + 8 (length) + 4 (mask).
pub(crate) const MAX_HEADER: usize = 14;

/// Parses a header from the start of `buf`: `Ok(None)` while incomplete, otherwise
/// the header and its size. Rules that need no configuration are checked here.
pub(crate) fn parse_header(buf: &[u8]) -> Result<Option<(Header, usize)>, &'static str> {
    let [b0, b1, ..] = *buf else { return Ok(None) };
    let fin = b0 & 0x80 != 0;
    let rsv = (b0 >> 4) & 0x7;
    let opcode = OpCode::from_bits(b0 & 0x0F).ok_or("reserved opcode")?;
    let masked = b1 & 0x80 != 0;
    let short = b1 & 0x7F;
    if opcode.is_control() {
        if !fin {
            return Err("fragmented control frame");
        }
        if short > 125 {
            return Err("control frame longer than 125 bytes");
        }
    }
    let (len, mut pos) = match short {
        126 => {
            let Some(b) = buf.get(2..4) else {
                return Ok(None);
            };
            (u16::from_be_bytes([b[0], b[1]]) as u64, 4)
        }
        127 => {
            let Some(b) = buf.get(2..10) else {
                return Ok(None);
            };
            let len = u64::from_be_bytes(b.try_into().expect("8 bytes"));
            if len >> 63 != 0 {
                return Err("64-bit length with the most significant bit set");
            }
            (len, 10)
        }
        n => (n as u64, 2),
    };
    let mask = if masked {
        let Some(b) = buf.get(pos..pos + 4) else {
            return Ok(None);
        };
        pos += 4;
        Some([b[0], b[1], b[2], b[3]])
    } else {
        None
    };
    Ok(Some((
        Header {
            fin,
            rsv,
            opcode,
            mask,
            len,
        },
        pos,
    )))
}

/// RSV1, which permessage-deflate sets on the first frame of a compressed message.
pub(crate) const RSV1: u8 = 0x4;

/// Appends a header for a final frame to `out`; `rsv` holds RSV1..RSV3 as the
/// low three bits.
/// The size of the header [`write_header`] writes for a payload of `len`.
pub(crate) fn header_len(len: usize, masked: bool) -> usize {
    let len_bytes = match len {
        0..126 => 0,
        126..=0xffff => 2,
        _ => 8,
    };
    2 + len_bytes + if masked { 4 } else { 0 }
}

pub(crate) fn write_header(
    out: &mut BytesMut,
    opcode: OpCode,
    rsv: u8,
    mask: Option<[u8; 4]>,
    len: usize,
) {
    write_fragment_header(out, true, opcode, rsv, mask, len)
}

/// Appends a frame header with FIN as given: a fragment of a message sent in
/// pieces when `fin` is false.
pub(crate) fn write_fragment_header(
    out: &mut BytesMut,
    fin: bool,
    opcode: OpCode,
    rsv: u8,
    mask: Option<[u8; 4]>,
    len: usize,
) {
    let fin_bit = if fin { 0x80 } else { 0 };
    out.put_u8(fin_bit | rsv << 4 | opcode.bits());
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    if len < 126 {
        out.put_u8(mask_bit | len as u8);
    } else if len <= u16::MAX as usize {
        out.put_u8(mask_bit | 126);
        out.put_u16(len as u16);
    } else {
        out.put_u8(mask_bit | 127);
        out.put_u64(len as u64);
    }
    if let Some(key) = mask {
        out.put_slice(&key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_len_is_what_write_header_writes() {
        for len in [0usize, 125, 126, 65535, 65536, 1 << 40] {
            for mask in [None, Some([1, 2, 3, 4])] {
                let mut out = BytesMut::new();
                write_header(&mut out, OpCode::Binary, 0, mask, len);
                assert_eq!(out.len(), header_len(len, mask.is_some()), "{len} {mask:?}");
            }
        }
    }

    #[test]
    fn lengths_round_trip_in_all_three_encodings() {
        for len in [0usize, 125, 126, 65535, 65536, 1 << 40] {
            for mask in [None, Some([1, 2, 3, 4])] {
                let mut out = BytesMut::new();
                write_header(&mut out, OpCode::Binary, 0, mask, len);
                let (h, size) = parse_header(&out).unwrap().unwrap();
                assert_eq!(size, out.len());
                assert_eq!(
                    (h.len, h.mask, h.fin, h.opcode),
                    (len as u64, mask, true, OpCode::Binary)
                );
                for cut in 0..out.len() {
                    assert_eq!(parse_header(&out[..cut]), Ok(None), "cut {cut}");
                }
            }
        }
    }

    #[test]
    fn rejects_what_the_rfc_forbids() {
        assert_eq!(parse_header(&[0x83, 0]), Err("reserved opcode"));
        assert_eq!(parse_header(&[0x8B, 0]), Err("reserved opcode"));
        assert_eq!(parse_header(&[0x09, 0]), Err("fragmented control frame"));
        assert_eq!(
            parse_header(&[0x89, 126]),
            Err("control frame longer than 125 bytes")
        );
        let mut huge = vec![0x82, 127];
        huge.extend_from_slice(&(1u64 << 63).to_be_bytes());
        assert!(parse_header(&huge).is_err());
    }
}
