//! The interop scenario (tests/peers/README.md) with tokio-tungstenite in both
//! roles: cargo-only, so it runs in a plain `cargo test`.
#![cfg(all(feature = "axum", feature = "deflate"))]

mod interop_support;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use interop_support::*;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(64 << 20))
        .max_frame_size(Some(64 << 20))
}

fn fragments() -> [Message; 3] {
    [
        Message::Frame(Frame::message(
            Bytes::from_static(b"frag"),
            OpCode::Data(Data::Text),
            false,
        )),
        Message::Frame(Frame::message(
            Bytes::from_static(b"ment"),
            OpCode::Data(Data::Continue),
            false,
        )),
        Message::Frame(Frame::message(
            Bytes::from_static(b"ed"),
            OpCode::Data(Data::Continue),
            true,
        )),
    ]
}

/// tokio-tungstenite running the client scenario against our server.
async fn tungstenite_client(base: &str) -> Outcome {
    let mut out = Outcome::default();
    let mut request = format!("{base}/echo").into_client_request().unwrap();
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "chat, superchat".parse().unwrap());
    let (mut ws, response) =
        tokio_tungstenite::connect_async_with_config(request, Some(config()), true)
            .await
            .expect("connect");
    let chosen = response
        .headers()
        .get("sec-websocket-protocol")
        .map(|v| v.to_str().unwrap().to_owned());
    out.step(
        "subprotocol",
        chosen.as_deref() == Some("superchat"),
        format!("{chosen:?}"),
    );
    let next_data = async |ws: &mut tokio_tungstenite::WebSocketStream<_>| loop {
        match ws.next().await {
            Some(Ok(m @ (Message::Text(_) | Message::Binary(_)))) => return Some(m),
            Some(Ok(_)) => continue,
            _ => return None,
        }
    };
    for n in SIZES {
        for message in [Message::text(text_of(n)), Message::binary(binary_of(n))] {
            let kind = if message.is_text() { "text" } else { "binary" };
            ws.send(message.clone()).await.unwrap();
            let echoed = next_data(&mut ws).await;
            out.step(
                format!("echo-{kind}-{n}"),
                echoed.as_ref() == Some(&message),
                n,
            );
        }
    }
    for f in fragments() {
        ws.send(f).await.unwrap();
    }
    let echoed = next_data(&mut ws).await;
    out.step(
        "fragmented-by-client",
        echoed == Some(Message::text("fragmented")),
        format!("{echoed:?}"),
    );
    ws.send(Message::Ping(Bytes::from_static(b"cli")))
        .await
        .unwrap();
    let pong = loop {
        match ws.next().await {
            Some(Ok(Message::Pong(p))) => break Some(p),
            Some(Ok(_)) => continue,
            _ => break None,
        }
    };
    out.step(
        "ping-by-client",
        pong.as_deref() == Some(&b"cli"[..]),
        format!("{pong:?}"),
    );
    ws.send(Message::text("ping-me")).await.unwrap();
    let reply = next_data(&mut ws).await;
    out.step(
        "ping-by-server",
        reply == Some(Message::text("pinged")),
        format!("{reply:?}"),
    );
    ws.send(Message::text("fragment-me")).await.unwrap();
    let reply = next_data(&mut ws).await;
    out.step(
        "fragmented-by-server",
        reply == Some(Message::text("fragmented")),
        format!("{reply:?}"),
    );
    ws.close(Some(CloseFrame {
        code: CloseCode::from(4001),
        reason: "client bye".into(),
    }))
    .await
    .unwrap();
    let echoed = loop {
        match ws.next().await {
            Some(Ok(Message::Close(f))) => break f,
            Some(Ok(_)) => continue,
            _ => break None,
        }
    };
    out.step(
        "close-by-client",
        echoed.as_ref().map(|f| u16::from(f.code)) == Some(4001),
        format!("{echoed:?}"),
    );

    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{base}/echo"))
        .await
        .unwrap();
    ws.send(Message::text("close-me")).await.unwrap();
    let closed = loop {
        match ws.next().await {
            Some(Ok(Message::Close(f))) => break f,
            Some(Ok(_)) => continue,
            _ => break None,
        }
    };
    out.step(
        "close-by-server",
        closed
            .as_ref()
            .is_some_and(|f| u16::from(f.code) == 4002 && f.reason == "server bye"),
        format!("{closed:?}"),
    );
    let refused = tokio_tungstenite::connect_async(format!("{base}/refuse")).await;
    let status = match &refused {
        Err(WsError::Http(response)) => Some(response.status().as_u16()),
        _ => None,
    };
    out.step("refused", status == Some(403), format!("{status:?}"));
    out.done = true;
    out
}

#[tokio::test]
async fn our_server_with_tungstenite_client() {
    let mut server = OurServer::start(false).await;
    let outcome = tokio::time::timeout(Duration::from_secs(120), tungstenite_client(&server.url()))
        .await
        .expect("scenario timed out");
    let mut expected = client_steps(&SIZES, false);
    expected.push("fragmented-by-client".into());
    expected.push("ping-by-client".into());
    outcome.assert_ok(&expected);
    let closes = server.next_closes(2).await;
    let first = closes[0].as_ref().expect("a close frame");
    assert_eq!(
        (u16::from(first.code), first.reason.as_str()),
        (4001, "client bye")
    );
}

/// tokio-tungstenite serving the server scenario; reports each connection's close.
async fn tungstenite_server() -> (String, mpsc::UnboundedReceiver<Option<CloseFrame>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let tx = tx.clone();
            tokio::spawn(async move {
                // tungstenite's callback signature fixes the error type's size.
                #[allow(clippy::result_large_err)]
                let callback =
                    |req: &Request, mut res: Response| -> Result<Response, ErrorResponse> {
                        if req.uri().path() == "/refuse" {
                            let mut refusal = ErrorResponse::new(Some("refused\n".into()));
                            *refusal.status_mut() = http::StatusCode::FORBIDDEN;
                            return Err(refusal);
                        }
                        let offered = req
                            .headers()
                            .get("sec-websocket-protocol")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("");
                        if offered.split(',').any(|p| p.trim() == "superchat") {
                            res.headers_mut()
                                .insert("sec-websocket-protocol", "superchat".parse().unwrap());
                        }
                        Ok(res)
                    };
                let Ok(mut ws) =
                    tokio_tungstenite::accept_hdr_async_with_config(tcp, callback, Some(config()))
                        .await
                else {
                    return;
                };
                let mut seen = None;
                while let Some(Ok(message)) = ws.next().await {
                    match message {
                        Message::Text(t) if t.as_str() == "close-me" => {
                            let frame = CloseFrame {
                                code: CloseCode::from(4002),
                                reason: "server bye".into(),
                            };
                            let _ = ws.close(Some(frame)).await;
                        }
                        Message::Text(t) if t.as_str() == "ping-me" => {
                            ws.send(Message::Ping(Bytes::from_static(b"srv")))
                                .await
                                .unwrap();
                            while let Some(Ok(m)) = ws.next().await {
                                if matches!(m, Message::Pong(_)) {
                                    break;
                                }
                            }
                            ws.send(Message::text("pinged")).await.unwrap();
                        }
                        Message::Text(t) if t.as_str() == "fragment-me" => {
                            for f in fragments() {
                                ws.send(f).await.unwrap();
                            }
                        }
                        m @ (Message::Text(_) | Message::Binary(_)) => ws.send(m).await.unwrap(),
                        Message::Close(frame) => seen = frame,
                        _ => {}
                    }
                }
                let _ = tx.send(seen);
            });
        }
    });
    (url, rx)
}

#[tokio::test]
async fn our_client_with_tungstenite_server() {
    let (url, mut closes) = tungstenite_server().await;
    let outcome = tokio::time::timeout(Duration::from_secs(120), our_client(&url, false))
        .await
        .expect("scenario timed out");
    let mut expected = client_steps(&SIZES, false);
    expected.push("ping-by-client".into());
    outcome.assert_ok(&expected);
    let first = closes.recv().await.unwrap().expect("a close frame");
    assert_eq!(
        (u16::from(first.code), first.reason.as_str()),
        (4001, "client bye")
    );
}
