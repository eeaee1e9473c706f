//! A raw client for the tests of messages read in pieces: it writes the
//! upgrade request and masked frames byte by byte, generating payloads on the
//! fly, so that the sender holds no message in memory either.
#![allow(dead_code)]

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

pub const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// The payload byte at `i` of the test uploads.
pub fn byte_at(i: u64) -> u8 {
    (i % 251) as u8
}

/// Sends the upgrade request and reads the response head.
pub async fn handshake<IO: AsyncRead + AsyncWrite + Unpin>(io: &mut IO) {
    io.write_all(
        b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8];
        io.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"), "{head:?}");
}

/// A masked frame header.
pub fn header(first: u8, len: u64) -> Vec<u8> {
    let mut out = vec![first];
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if len <= 0xFFFF {
        out.push(0x80 | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&len.to_be_bytes());
    }
    out.extend_from_slice(&KEY);
    out
}

/// A whole masked frame.
pub fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = header(first, payload.len() as u64);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ KEY[i % 4]));
    out
}

/// Writes a binary message of `total` bytes of [`byte_at`] in frames of
/// `frame_len`, 64 KiB at a time.
pub async fn send_upload<IO: AsyncWrite + Unpin>(io: &mut IO, total: u64, frame_len: u64) {
    let mut sent = 0u64;
    let mut buf = vec![0u8; 64 << 10];
    while sent < total || total == 0 {
        let len = frame_len.min(total - sent);
        let last = sent + len == total;
        let opcode = if sent == 0 { 0x02 } else { 0x00 };
        let fin = if last { 0x80 } else { 0 };
        io.write_all(&header(fin | opcode, len)).await.unwrap();
        let mut at = 0u64;
        while at < len {
            let n = (len - at).min(buf.len() as u64) as usize;
            for (j, b) in buf[..n].iter_mut().enumerate() {
                let k = at + j as u64;
                *b = byte_at(sent + k) ^ KEY[(k % 4) as usize];
            }
            io.write_all(&buf[..n]).await.unwrap();
            at += n as u64;
        }
        sent += len;
        if total == 0 {
            break;
        }
    }
}
