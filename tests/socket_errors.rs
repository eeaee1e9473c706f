//! Failures: peers that vanish or stall mid-frame, protocol violations, limits,
//! refused handshakes, timers; and the drafts through the raw `accept`.

mod socket_support;

use socket_support::*;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tungstenite::protocol::frame::coding::CloseCode as TCloseCode;
use websocket_protocol::{CloseCode, Config, ErrorKind, Message, Version, WebSocket};

/// Handshake through tungstenite, then hand back the raw peer stream.
async fn raw_peer(side: Side, config: Config) -> (Ours, TcpStream) {
    let (ours, tung) = pair(side, config).await;
    (ours, tung.into_inner())
}

/// The first bytes of a binary frame announcing 100 bytes, as the peer of `side`
/// sends it, and 10 bytes of its payload.
fn partial_frame(side: Side) -> Vec<u8> {
    let mut frame = match side {
        Side::Server => vec![0x82, 0x80 | 100, 1, 2, 3, 4],
        Side::Client => vec![0x82, 100],
    };
    frame.extend_from_slice(&[0u8; 10]);
    frame
}

#[tokio::test]
async fn a_peer_vanishing_mid_frame_is_an_error_not_a_hang() {
    for side in BOTH {
        let (mut ours, mut raw) = raw_peer(side, Config::default()).await;
        raw.write_all(&partial_frame(side)).await.unwrap();
        drop(raw);
        let err = within(5, ours.recv()).await.unwrap().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Io, "{side:?}: {err}");
        assert_eq!(
            err.io_error().unwrap().kind(),
            std::io::ErrorKind::UnexpectedEof
        );
        assert!(within(5, ours.recv()).await.is_none());
        assert_eq!(ours.close_frame().unwrap().code, CloseCode::ABNORMAL);
        assert!(ours.ping("x").await.is_err());
    }
}

#[tokio::test]
async fn a_peer_stalling_mid_frame_fails_close_within_the_close_timeout() {
    for side in BOTH {
        let config = Config::default().close_timeout(Duration::from_millis(300));
        let (mut ours, mut raw) = raw_peer(side, config).await;
        raw.write_all(&partial_frame(side)).await.unwrap();
        let err = within(3, ours.close(1000, "bye")).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout, "{side:?}: {err}");
        assert_eq!(ours.close_frame().unwrap().code, CloseCode::ABNORMAL);
        // Our close frame went out before the wait.
        let mut head = [0u8; 2];
        raw.read_exact(&mut head).await.unwrap();
        assert_eq!(head[0], 0x88);
    }
}

#[tokio::test]
async fn a_protocol_violation_closes_with_1002_byte_for_byte() {
    // An unmasked frame from a client.
    let (mut ours, mut raw) = raw_peer(Side::Server, Config::default()).await;
    raw.write_all(&[0x81, 0x02, b'h', b'i']).await.unwrap();
    let err = within(5, ours.recv()).await.unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol);
    assert_eq!(err.close_code(), Some(CloseCode::PROTOCOL_ERROR));
    assert!(within(5, ours.recv()).await.is_none());
    let mut wire = Vec::new();
    within(5, raw.read_to_end(&mut wire)).await.unwrap();
    let reason = b"protocol error: client frame is not masked";
    let mut expected = vec![0x88, 2 + reason.len() as u8, 0x03, 0xEA];
    expected.extend_from_slice(reason);
    assert_eq!(wire, expected);
}

#[tokio::test]
async fn a_message_over_the_limit_closes_with_1009() {
    for side in BOTH {
        let (mut ours, mut tung) = pair(side, Config::default().max_message_size(1000)).await;
        tung.send(TMessage::binary(vec![0u8; 2000])).await.unwrap();
        let err = within(5, ours.recv()).await.unwrap().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::LimitExceeded, "{side:?}");
        assert_eq!(err.close_code(), Some(CloseCode::TOO_BIG));
        match within(5, tung.next()).await.unwrap().unwrap() {
            TMessage::Close(Some(frame)) => assert_eq!(frame.code, TCloseCode::Size),
            other => panic!("{other:?}"),
        }
    }
}

const BAD_VERSION: &[u8] = b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 9\r\n\r\n";

#[tokio::test]
async fn a_refused_request_gets_its_http_answer_before_accept_fails() {
    let (mut client, server) = tcp_pair().await;
    client.write_all(BAD_VERSION).await.unwrap();
    let err = within(5, WebSocket::accept(server, Config::default()))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Handshake);
    assert_eq!(err.status(), Some(http::StatusCode::UPGRADE_REQUIRED));
    let mut response = String::new();
    within(5, client.read_to_string(&mut response))
        .await
        .unwrap();
    assert!(
        response.starts_with("HTTP/1.1 426 Upgrade Required\r\n"),
        "{response}"
    );
    assert!(
        response.contains("\r\nSec-WebSocket-Version: 13\r\n"),
        "{response}"
    );
}

#[tokio::test]
async fn a_refused_upgrade_fails_connect_with_the_status() {
    let (client, mut server) = tcp_pair().await;
    let answer = tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        let _ = server.read(&mut buf).await.unwrap();
        server
            .write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            .await
            .unwrap();
        server
    });
    let err = within(
        5,
        WebSocket::connect(client, "ws://127.0.0.1/", Config::default()),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Handshake, "{err}");
    assert_eq!(err.status(), Some(http::StatusCode::FORBIDDEN));
    answer.await.unwrap();
}

#[tokio::test]
async fn messages_sent_before_the_raw_client_is_open_are_queued() {
    let (client, server) = tcp_pair().await;
    let peer = tokio::spawn(async move {
        let mut tung = tokio_tungstenite::accept_async(server).await.unwrap();
        let first = tung.next().await.unwrap().unwrap();
        let second = tung.next().await.unwrap().unwrap();
        (first, second)
    });
    let mut ours = WebSocket::client(client, "ws://127.0.0.1/chat", Config::default()).unwrap();
    ours.text("early").await.unwrap();
    ours.binary(vec![1, 2, 3]).await.unwrap();
    within(5, ours.ready()).await.unwrap();
    within(5, ours.flush()).await.unwrap();
    let (first, second) = within(5, peer).await.unwrap();
    assert_eq!(first, TMessage::text("early"));
    assert_eq!(second, TMessage::binary(vec![1, 2, 3]));
}

#[tokio::test]
async fn dropping_the_socket_sends_going_away_and_closes() {
    for side in BOTH {
        let (ours, mut tung) = pair(side, Config::default()).await;
        drop(ours);
        match within(5, tung.next()).await.unwrap().unwrap() {
            TMessage::Close(Some(frame)) => assert_eq!(frame.code, TCloseCode::Away),
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn keepalive_pings_a_silent_peer_and_the_idle_timeout_closes_it() {
    for side in BOTH {
        let config = Config::default().keepalive(Duration::from_millis(100));
        let (mut ours, mut tung) = pair(side, config).await;
        let reader = tokio::spawn(async move { ours.recv().await.map(|r| r.map(|_| ())) });
        match within(5, tung.next()).await.unwrap().unwrap() {
            TMessage::Ping(p) => {
                assert_eq!(&p[..], websocket_protocol::protocol::KEEPALIVE_PAYLOAD)
            }
            other => panic!("{other:?}"),
        }
        reader.abort();

        let config = Config::default().idle_timeout(Duration::from_millis(200));
        let (mut ours, mut tung) = pair(side, config).await;
        let err = within(5, ours.recv()).await.unwrap().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout, "{side:?}");
        assert_eq!(err.close_code(), Some(CloseCode::GOING_AWAY));
        match within(5, tung.next()).await.unwrap().unwrap() {
            TMessage::Close(Some(frame)) => assert_eq!(frame.code, TCloseCode::Away),
            other => panic!("{other:?}"),
        }
    }
}

const HIXIE76: &[u8] = b"GET /demo HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key2: 12998 5 Y3 1  .P00\r\nSec-WebSocket-Protocol: sample\r\nUpgrade: WebSocket\r\n\
Sec-WebSocket-Key1: 4 @1  46546xW%0l 1 5\r\nOrigin: http://example.com\r\n\r\n";

const HIXIE75: &[u8] = b"GET /demo HTTP/1.1\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n\
Host: example.com\r\nOrigin: http://example.com\r\n\r\n";

/// Reads until `needle` has been seen; returns everything read.
async fn read_until(stream: &mut TcpStream, needle: &[u8]) -> Vec<u8> {
    let mut seen = Vec::new();
    while !seen.windows(needle.len()).any(|w| w == needle) {
        let mut buf = [0u8; 1024];
        let n = stream.read(&mut buf).await.unwrap();
        assert!(
            n > 0,
            "EOF before {needle:?} in {:?}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buf[..n]);
    }
    seen
}

#[tokio::test]
async fn hixie76_through_accept_with_the_key_bytes_arriving_late() {
    let (mut client, server) = tcp_pair().await;
    client.write_all(HIXIE76).await.unwrap();
    let config = Config::default().allow_drafts(true).protocols(["sample"]);
    let mut ours = within(5, WebSocket::accept(server, config)).await.unwrap();
    assert_eq!(ours.version(), Version::Hixie76);
    assert_eq!(ours.protocol(), Some("sample"));
    let head = read_until(&mut client, b"\r\n\r\n").await;
    assert!(head.starts_with(b"HTTP/1.1 101 WebSocket Protocol Handshake\r\n"));
    // The 8 key bytes, late, with a first message behind them.
    client.write_all(b"^n:ds[4U\x00hello\xff").await.unwrap();
    let m = within(5, ours.recv()).await.unwrap().unwrap();
    assert_eq!(m, Message::text("hello"));
    // The answer went out while we read, without another poll.
    let answer = within(5, read_until(&mut client, b"8jKS'y:G*Co,Wxa-")).await;
    assert!(answer.ends_with(b"8jKS'y:G*Co,Wxa-"));
    ours.text("hi").await.unwrap();
    let mut frame = [0u8; 4];
    client.read_exact(&mut frame).await.unwrap();
    assert_eq!(&frame, b"\x00hi\xff");
    assert_eq!(
        ours.ping("x").await.unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    // The client's closing frame ends the stream.
    client.write_all(b"\xff\x00").await.unwrap();
    assert!(within(5, ours.recv()).await.is_none());
}

#[tokio::test]
async fn hixie75_through_accept_and_drafts_refused_by_default() {
    let (mut client, server) = tcp_pair().await;
    client.write_all(HIXIE75).await.unwrap();
    let config = Config::default().allow_drafts(true);
    let mut ours = within(5, WebSocket::accept(server, config)).await.unwrap();
    assert_eq!(ours.version(), Version::Hixie75);
    let head = read_until(&mut client, b"\r\n\r\n").await;
    assert!(head.starts_with(b"HTTP/1.1 101 Web Socket Protocol Handshake\r\n"));
    client.write_all(b"\x00hello\xff").await.unwrap();
    assert_eq!(
        within(5, ours.recv()).await.unwrap().unwrap(),
        Message::text("hello")
    );
    // hixie-75 has no closing handshake: the end of the stream is a normal close.
    drop(client);
    assert!(within(5, ours.recv()).await.is_none());
    assert_eq!(ours.close_frame().unwrap().code, CloseCode::NORMAL);

    for request in [HIXIE75, HIXIE76] {
        let (mut client, server) = tcp_pair().await;
        client.write_all(request).await.unwrap();
        let err = within(5, WebSocket::accept(server, Config::default()))
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(http::StatusCode::UPGRADE_REQUIRED));
    }
}

#[tokio::test]
async fn a_peer_that_closes_and_stops_reading_does_not_hang_the_reader() {
    let config = Config::default()
        .close_timeout(Duration::from_millis(300))
        .write_buffer_size(64 << 10);
    let (mut ours, mut raw) = raw_peer(Side::Server, config).await;
    // Fill every buffer towards the peer, which never reads.
    loop {
        let send = ours.binary(vec![0u8; 64 << 10]);
        if tokio::time::timeout(Duration::from_millis(200), send)
            .await
            .is_err()
        {
            break;
        }
    }
    // Its close frame (1000, masked with a zero key); our echo cannot leave.
    raw.write_all(&[0x88, 0x82, 0, 0, 0, 0, 0x03, 0xE8])
        .await
        .unwrap();
    assert!(within(3, ours.recv()).await.is_none());
    assert_eq!(ours.close_frame().unwrap().code, CloseCode::NORMAL);
    assert!(within(3, ours.close(1000, "")).await.is_ok());
}

#[tokio::test]
async fn a_peer_that_pings_without_reading_cannot_grow_our_pong_queue() {
    const HWM: usize = 64 << 10;
    let config = Config::default().write_buffer_size(HWM);
    let (mut ours, raw) = raw_peer(Side::Server, config).await;
    let (_read_half, mut write_half) = raw.into_split();
    // Masked (zero key) pings of 125 bytes, 52 MB of them (more than the socket
    // buffers of both ends hold), never reading a pong.
    let mut ping = vec![0x89, 0x80 | 125, 0, 0, 0, 0];
    ping.extend_from_slice(&[b'p'; 125]);
    let flood = tokio::spawn(async move {
        let burst = ping.repeat(1000);
        for _ in 0..400 {
            if write_half.write_all(&burst).await.is_err() {
                break;
            }
        }
    });
    // We read (and answer) all of it: a newer ping replaces a pong that cannot
    // leave (RFC 6455 5.5.3), so the pongs never pile up and nothing makes us
    // stop reading. (Reading is not paused for pongs: a peer that uploads
    // without reading while our writes are blocked would deadlock.)
    within(60, async {
        tokio::select! {
            _ = ours.recv() => panic!("no message was sent"),
            sent = flood => sent.unwrap(),
        }
    })
    .await;
    let queued = ours.buffered_amount();
    assert!(queued <= HWM + (16 << 10), "{queued} bytes of pongs queued");
}

#[tokio::test]
async fn a_peer_that_never_reads_does_not_hold_a_failed_connection_open() {
    // Our close frame cannot be written: the pipe is full of a message the peer
    // never reads. The stream still ends, one close timeout later.
    let (io, mut peer) = tokio::io::duplex(4 << 10);
    let request = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    peer.write_all(request).await.unwrap();
    let config = Config::default().close_timeout(Duration::from_millis(300));
    let (ours, head) = tokio::join!(WebSocket::accept(io, config), async {
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            head.push(peer.read_u8().await.unwrap());
        }
        head
    });
    assert!(head.starts_with(b"HTTP/1.1 101 "));
    let mut ours = ours.unwrap();
    ours.feed(Message::binary(vec![0u8; 64 << 10]))
        .await
        .unwrap();
    // An unmasked client frame: 1002.
    peer.write_all(&[0x81, 0x01, b'x']).await.unwrap();
    let err = within(5, ours.recv()).await.unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol);
    assert!(within(5, ours.recv()).await.is_none());
    assert_eq!(ours.close_frame().unwrap().code, CloseCode::PROTOCOL_ERROR);
    drop(peer);
}
