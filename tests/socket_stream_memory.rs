//! A 64 MiB upload read through `recv_stream` into a sink holds memory
//! bounded near the read size, not the message size: fragmented, and as one
//! single 64 MiB frame. One test per binary: the counting allocator sees every
//! allocation in the process (the raw sender generates its payload on the fly).

mod alloc_support;
mod stream_support;

use alloc_support::{live, peak, reset_peak, Counting};
use stream_support::*;
use websocket_protocol::{Config, WebSocket};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const UPLOAD: u64 = 64 << 20;

#[test]
fn a_64_mib_upload_holds_about_one_read_not_the_message() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (a, mut b) = tokio::io::duplex(64 << 10);
        let config = Config::default()
            .max_frame_size(UPLOAD as usize)
            .max_message_size(UPLOAD as usize);
        let (server, ()) = tokio::join!(WebSocket::accept(a, config), handshake(&mut b));
        let mut server = server.unwrap();
        for frame_len in [1 << 20, UPLOAD] {
            let before = live();
            reset_peak();
            let (_, copied) = tokio::join!(send_upload(&mut b, UPLOAD, frame_len), async {
                let mut body = server.recv_stream().await.unwrap().unwrap();
                let mut check = Checker::default();
                let n = tokio::io::copy(&mut body, &mut check).await.unwrap();
                assert!(check.ok, "payload bytes differ");
                n
            });
            assert_eq!(copied, UPLOAD);
            let held = peak() - before;
            // A read (64 KiB), the pipe's own 64 KiB, the message buffer's
            // bound (64 KiB) and small change: well under 1 MiB for 64 MiB.
            assert!(
                held < 512 << 10,
                "{held} bytes at the peak for a {UPLOAD}-byte message in {frame_len}-byte frames"
            );
            eprintln!("frames of {frame_len}: peak {held} bytes above the start");
        }
    });
}

/// A sink that checks the payload against [`byte_at`] as it goes.
#[derive(Default)]
struct Checker {
    at: u64,
    ok: bool,
    started: bool,
}

impl tokio::io::AsyncWrite for Checker {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        if !self.started {
            self.started = true;
            self.ok = true;
        }
        let at = self.at;
        let ok = buf
            .iter()
            .enumerate()
            .all(|(i, &b)| b == byte_at(at + i as u64));
        self.ok &= ok;
        self.at += buf.len() as u64;
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}
