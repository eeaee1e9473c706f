//! Per-request decisions before the 101, seen by tokio-tungstenite: the layer's
//! `on_request` hook and the raw `WebSocket::accept_with` refuse with their own
//! response or pick protocols and headers per request; the extractor's axum
//! setters.

mod server_util;

use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use server_util::{serve, LIMIT};
use std::net::SocketAddr;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode as TCloseCode;
use tokio_tungstenite::tungstenite::{Error as TError, Message as TMessage};
use websocket_protocol::server::{RequestInfo, ServerSocket, WsLayer, WsUpgrade};
use websocket_protocol::socket::{Accept, Refuse};
use websocket_protocol::{Config, ErrorKind, WebSocket};

/// What tokio-tungstenite's connect gives: the socket and the 101, or why not.
type Connected = Result<(Client, http::Response<Option<Vec<u8>>>), TError>;

type Client =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn unauthorized() -> http::Response<Bytes> {
    let mut refusal = http::Response::new(Bytes::from_static(b"a token is needed\n"));
    *refusal.status_mut() = http::StatusCode::UNAUTHORIZED;
    refusal
        .headers_mut()
        .insert("www-authenticate", http::HeaderValue::from_static("Bearer"));
    refusal
}

/// The decision both hooks take: refuse a request without `?token=user-NAME`,
/// pick the protocol by path, name the server; the user's name goes to the
/// handler.
fn decide(uri: &http::Uri) -> Result<(String, Accept), Refuse> {
    let token = uri.query().and_then(|q| q.strip_prefix("token="));
    let Some(user) = token.and_then(|t| t.strip_prefix("user-")) else {
        return Err(unauthorized().into());
    };
    let accept = Accept::default().header(
        http::header::SERVER,
        http::HeaderValue::from_static("hooked"),
    );
    let accept = match uri.path() {
        "/v2" => accept.protocols(["chat.v2"]),
        _ => accept,
    };
    Ok((user.to_owned(), accept))
}

/// Greets the user by name, then echoes.
async fn greet_and_echo<IO>(mut ws: WebSocket<IO>, user: String)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let _ = ws.text(format!("hello {user}")).await;
    while let Some(Ok(message)) = ws.recv().await {
        if ws.send(message).await.is_err() {
            break;
        }
    }
}

/// A layer with the hook, over a router with a normal route.
fn layered() -> Router {
    Router::new().route("/", get(|| async { "inner" })).layer(
        WsLayer::new(|ws: ServerSocket, req: RequestInfo| {
            let user = req.extensions().get::<String>().cloned().unwrap();
            greet_and_echo(ws, user)
        })
        .protocols(["chat"])
        .on_request(|req| {
            let (user, accept) = decide(&req.uri)?;
            req.extensions.insert(user);
            Ok(accept)
        }),
    )
}

/// Both paths: `/v2` gets the hook's protocol and header, another path the
/// configured protocol; the handler has the hook's data.
async fn assert_hook_chooses(addr: SocketAddr) {
    let (mut ws, response) = connect(addr, "/v2?token=user-ann", "chat, chat.v2")
        .await
        .unwrap();
    assert_eq!(response.headers()["sec-websocket-protocol"], "chat.v2");
    assert_eq!(response.headers()["server"], "hooked");
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        TMessage::text("hello ann")
    );
    ws.send(TMessage::text("echo")).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), TMessage::text("echo"));
    ws.close(None).await.unwrap();

    let (mut ws, response) = connect(addr, "/other?token=user-bo", "chat.v2, chat")
        .await
        .unwrap();
    assert_eq!(response.headers()["sec-websocket-protocol"], "chat");
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        TMessage::text("hello bo")
    );
    ws.close(None).await.unwrap();
}

async fn connect(addr: SocketAddr, path: &str, protocols: &'static str) -> Connected {
    let mut request = format!("ws://{addr}{path}").into_client_request().unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        HeaderValue::from_static(protocols),
    );
    tokio::time::timeout(LIMIT, tokio_tungstenite::connect_async(request))
        .await
        .unwrap()
}

fn assert_unauthorized(result: Connected) {
    match result {
        Err(TError::Http(response)) => {
            assert_eq!(response.status(), 401);
            assert_eq!(response.headers()["www-authenticate"], "Bearer");
            assert_eq!(
                response.body().as_deref(),
                Some(&b"a token is needed\n"[..])
            );
        }
        Err(e) => panic!("not refused with a response: {e}"),
        Ok(_) => panic!("accepted"),
    }
}

#[tokio::test]
async fn the_layer_hook_refuses_with_its_own_response() {
    let addr = serve(layered()).await;
    assert_unauthorized(connect(addr, "/v2", "chat.v2").await);
    assert_unauthorized(connect(addr, "/v2?token=nobody", "chat.v2").await);
}

#[tokio::test]
async fn the_layer_hook_picks_the_protocol_and_hands_data_to_the_handler() {
    assert_hook_chooses(serve(layered()).await).await;
}

#[tokio::test]
async fn a_malformed_upgrade_is_refused_before_the_hook() {
    let hooked = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let seen = hooked.clone();
    let app = Router::new().route("/", get(|| async { "inner" })).layer(
        WsLayer::new(|ws: ServerSocket, _req: RequestInfo| async move { drop(ws) }).on_request(
            move |_req| {
                seen.store(true, std::sync::atomic::Ordering::SeqCst);
                Ok(Accept::default())
            },
        ),
    );
    let addr = serve(app).await;
    let res = server_util::exchange(
        addr,
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Version: 13\r\n\r\n",
    )
    .await;
    assert!(res.starts_with("HTTP/1.1 400 "), "{res}");
    assert!(!hooked.load(std::sync::atomic::Ordering::SeqCst));
}

/// A raw TCP server on `WebSocket::accept_with` with the same hook as the layer.
async fn raw_server() -> (
    SocketAddr,
    tokio::sync::mpsc::UnboundedReceiver<websocket_protocol::Error>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (errors, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let errors = errors.clone();
            tokio::spawn(async move {
                let config = Config::default().protocols(["chat"]);
                let mut user = None;
                let accepted = WebSocket::accept_with(tcp, config, |req| {
                    let (name, accept) = decide(req.uri())?;
                    user = Some(name);
                    Ok(accept)
                })
                .await;
                match accepted {
                    Ok(ws) => greet_and_echo(ws, user.unwrap()).await,
                    Err(e) => errors.send(e).unwrap(),
                }
            });
        }
    });
    (addr, rx)
}

#[tokio::test]
async fn the_raw_accept_hook_refuses_with_its_own_response() {
    let (addr, mut errors) = raw_server().await;
    assert_unauthorized(connect(addr, "/v2", "chat.v2").await);
    let err = errors.recv().await.unwrap();
    assert_eq!(err.kind(), ErrorKind::Handshake);
    assert_eq!(err.status(), Some(http::StatusCode::UNAUTHORIZED));
}

#[tokio::test]
async fn the_raw_accept_hook_picks_the_protocol_and_adds_headers() {
    let (addr, _errors) = raw_server().await;
    assert_hook_chooses(addr).await;
}

#[tokio::test]
async fn the_extractor_has_axums_setters() {
    let app = Router::new().route(
        "/",
        get(|mut ws: WsUpgrade| async move {
            assert_eq!(ws.requested_protocols(), ["x", "v2.chat", "v1.chat"]);
            let wanted = ws
                .requested_protocols()
                .into_iter()
                .find(|p| p.starts_with("v2."))
                .unwrap();
            ws.set_selected_protocol(wanted);
            assert_eq!(ws.selected_protocol(), Some("v2.chat"));
            ws.max_message_size(16)
                .max_frame_size(16)
                .write_buffer_size(1024)
                .on_upgrade(|mut socket| async move {
                    while let Some(Ok(message)) = socket.recv().await {
                        if socket.send(message).await.is_err() {
                            break;
                        }
                    }
                })
        }),
    );
    let addr = serve(app).await;
    let (mut ws, response) = connect(addr, "/", "x, v2.chat, v1.chat").await.unwrap();
    assert_eq!(response.headers()["sec-websocket-protocol"], "v2.chat");
    ws.send(TMessage::text("sixteen bytes ok")).await.unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        TMessage::text("sixteen bytes ok")
    );
    ws.send(TMessage::text("seventeen bytes!!")).await.unwrap();
    match ws.next().await.unwrap().unwrap() {
        TMessage::Close(Some(frame)) => assert_eq!(frame.code, TCloseCode::Size),
        other => panic!("expected the 1009 close, got {other:?}"),
    }
}

/// The hook's config rules the head it was given too: a head over that config's
/// size limit is refused with 431, as a head read by that config is.
#[tokio::test]
async fn the_raw_accept_hooks_config_limits_the_head_it_saw() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (server, mut client) = tokio::io::duplex(4096);
    let small = Config::default()
        .options(websocket_protocol::protocol::Options::default().max_handshake_size(64));
    let accepting = WebSocket::accept_with(server, Config::default(), move |_| {
        Ok(Accept::default().config(small))
    });
    let peer = async move {
        client
            .write_all(
                b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                  Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
            )
            .await
            .unwrap();
        let mut res = String::new();
        client.read_to_string(&mut res).await.unwrap();
        res
    };
    let both = async { tokio::join!(accepting, peer) };
    let (accepted, res) = tokio::time::timeout(std::time::Duration::from_secs(5), both)
        .await
        .expect("refused, not left open");
    assert!(res.starts_with("HTTP/1.1 431 "), "{res}");
    assert_eq!(
        accepted.unwrap_err().status(),
        Some(http::StatusCode::from_u16(431).unwrap())
    );
}
