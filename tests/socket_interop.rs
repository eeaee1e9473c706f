//! Our socket against tokio-tungstenite over TCP, in both roles: every length
//! encoding, text and binary, fragmented input, pings, and closes from either side.

mod socket_support;

use socket_support::*;
use tungstenite::protocol::frame::coding::{CloseCode as TCloseCode, Data, OpCode};
use tungstenite::protocol::frame::{CloseFrame as TCloseFrame, Frame};
use websocket_protocol::{CloseCode, Config, Message};

const LENGTHS: [usize; 6] = [0, 125, 126, 65535, 65536, 16 << 20];

#[tokio::test]
async fn every_length_encoding_both_ways_in_both_roles() {
    for side in BOTH {
        let (mut ours, mut tung) = pair(side, Config::default()).await;
        for len in LENGTHS {
            // ours -> tungstenite
            let (sent, received) = within(10, async {
                tokio::join!(ours.binary(payload(len)), tung.next())
            })
            .await;
            sent.unwrap();
            assert_eq!(
                received.unwrap().unwrap(),
                TMessage::binary(payload(len)),
                "{side:?} {len}"
            );
            let (sent, received) = within(10, async {
                tokio::join!(ours.text(text(len)), tung.next())
            })
            .await;
            sent.unwrap();
            assert_eq!(
                received.unwrap().unwrap(),
                TMessage::text(text(len)),
                "{side:?} {len}"
            );

            // tungstenite -> ours
            let (sent, received) = within(10, async {
                tokio::join!(tung.send(TMessage::binary(payload(len))), ours.recv())
            })
            .await;
            sent.unwrap();
            assert_eq!(
                received.unwrap().unwrap(),
                Message::binary(payload(len)),
                "{side:?} {len}"
            );
            let (sent, received) = within(10, async {
                tokio::join!(tung.send(TMessage::text(text(len))), ours.recv())
            })
            .await;
            sent.unwrap();
            let received = received.unwrap().unwrap();
            assert_eq!(
                received.as_text(),
                Some(text(len).as_str()),
                "{side:?} {len}"
            );
        }
        // The big message's buffer is given back once the connection is quiet.
        assert_eq!(ours.buffered_incoming(), 0);
    }
}

#[tokio::test]
async fn fragmented_messages_are_joined_with_control_frames_between() {
    for side in BOTH {
        let (mut ours, mut tung) = pair(side, Config::default()).await;
        let frames = [
            Frame::message("hél", OpCode::Data(Data::Text), false),
            Frame::ping("in between"),
            Frame::message("", OpCode::Data(Data::Continue), false),
            Frame::message("lo wörld", OpCode::Data(Data::Continue), true),
            Frame::message(payload(70_000), OpCode::Data(Data::Binary), false),
            Frame::message(payload(3), OpCode::Data(Data::Continue), true),
        ];
        for frame in frames {
            tung.feed(TMessage::Frame(frame)).await.unwrap();
        }
        tung.flush().await.unwrap();
        let first = within(5, ours.recv()).await.unwrap().unwrap();
        assert_eq!(first, Message::text("héllo wörld"));
        let second = within(5, ours.recv()).await.unwrap().unwrap();
        let mut expected = payload(70_000);
        expected.extend_from_slice(&payload(3));
        assert_eq!(second, Message::binary(expected));
        // The ping between fragments was answered, with its payload.
        let pong = within(5, tung.next()).await.unwrap().unwrap();
        assert_eq!(pong, TMessage::Pong("in between".into()), "{side:?}");
    }
}

#[tokio::test]
async fn ping_resolves_with_the_round_trip_in_both_roles() {
    for side in BOTH {
        let (ours, mut tung) = pair(side, Config::default()).await;
        // tungstenite answers pings while it reads.
        let peer = tokio::spawn(async move { while let Some(Ok(_)) = tung.next().await {} });
        let (a, b) = within(5, async {
            tokio::join!(ours.ping("one"), ours.ping("two"))
        })
        .await;
        assert!(a.is_ok() && b.is_ok(), "{side:?}: {a:?} {b:?}");
        let too_long = ours.ping(vec![0u8; 126]).await.unwrap_err();
        assert_eq!(too_long.kind(), websocket_protocol::ErrorKind::InvalidInput);
        drop(ours);
        within(5, peer).await.unwrap();
    }
}

#[tokio::test]
async fn close_started_by_us_is_seen_by_the_peer_with_code_and_reason() {
    for side in BOTH {
        let (mut ours, mut tung) = pair(side, Config::default()).await;
        let peer = tokio::spawn(async move {
            let mut seen = Vec::new();
            while let Some(Ok(m)) = tung.next().await {
                seen.push(m);
            }
            seen
        });
        let peer_frame = within(5, ours.close(4000, "done here")).await.unwrap();
        assert_eq!(peer_frame.code, CloseCode::from(4000), "{side:?}");
        assert_eq!(peer_frame.reason.as_str(), "done here");
        let seen = within(5, peer).await.unwrap();
        let close = TCloseFrame {
            code: TCloseCode::from(4000),
            reason: "done here".into(),
        };
        assert_eq!(seen, vec![TMessage::Close(Some(close))], "{side:?}");
        assert!(within(5, ours.recv()).await.is_none());
        assert_eq!(ours.close_frame().unwrap().code, CloseCode::from(4000));
        let err = ours.text("late").await.unwrap_err();
        assert!(err.is_closed(), "{err}");
    }
}

#[tokio::test]
async fn close_started_by_the_peer_ends_the_stream_with_its_frame() {
    for side in BOTH {
        let (mut ours, mut tung) = pair(side, Config::default()).await;
        tung.send(TMessage::text("last words")).await.unwrap();
        let close = TCloseFrame {
            code: TCloseCode::from(4001),
            reason: "bye now".into(),
        };
        tung.close(Some(close.clone())).await.unwrap();
        assert_eq!(
            within(5, ours.recv()).await.unwrap().unwrap(),
            Message::text("last words")
        );
        assert!(within(5, ours.recv()).await.is_none(), "{side:?}");
        let frame = ours.close_frame().unwrap();
        assert_eq!(
            (u16::from(frame.code), frame.reason.as_str()),
            (4001, "bye now")
        );
        // The peer got our echo of its code.
        let echo = within(5, tung.next()).await.unwrap().unwrap();
        assert_eq!(echo, TMessage::Close(Some(close)), "{side:?}");
        // A client's close completes when the server closes TCP (RFC 6455 7.1.1).
        drop(tung);
        // close() after the peer's close returns the peer's frame.
        assert_eq!(
            within(5, ours.close(1000, "")).await.unwrap().code,
            frame.code
        );
    }
}

#[tokio::test]
async fn subprotocol_and_version_are_reported() {
    let (client, server) = tcp_pair().await;
    let mut request =
        tungstenite::client::IntoClientRequest::into_client_request("ws://127.0.0.1/").unwrap();
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", "superchat, chat".parse().unwrap());
    let config = Config::default().protocols(["chat"]);
    let (ours, tung) = tokio::join!(
        websocket_protocol::WebSocket::accept(server, config),
        tokio_tungstenite::client_async(request, client)
    );
    let ours = ours.unwrap();
    let (_tung, response) = tung.unwrap();
    assert_eq!(ours.protocol(), Some("chat"));
    assert_eq!(ours.version(), websocket_protocol::Version::Hybi13);
    assert_eq!(response.headers()["sec-websocket-protocol"], "chat");
}

#[test]
fn sockets_halves_and_futures_can_move_between_tasks() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    fn send<T: Send>(_: &T) {}
    type Io = tokio::net::TcpStream;
    let check = |mut ws: websocket_protocol::WebSocket<Io>| async move {
        send_sync(&ws);
        send(&ws.recv());
        send(&ws.send(Message::text("x")));
        send(&ws.close(1000, ""));
        send_sync(&ws.ping("x"));
        let (mut tx, mut rx) = ws.split();
        send_sync(&tx);
        send_sync(&rx);
        send(&tx.send(Message::text("x")));
        send(&rx.recv());
    };
    let _ = check;
}
