//! The crate's errors as a user meets them: one `?` path from connecting to
//! sending, one shape per layer (a `Copy` kind by value, `is_*` predicates),
//! `Display` as the error's own text and `source()` as the cause, never the same
//! text twice, and small types.

use std::error::Error as StdError;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use websocket_protocol::{client, protocol, CloseCode, Config, Error, ErrorKind, WebSocket};

/// Fails the test instead of hanging it.
async fn within<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(10), f)
        .await
        .expect("timed out")
}

/// Every text in the chain, outermost first.
fn chain(error: &(dyn StdError + 'static)) -> Vec<String> {
    let mut texts = vec![error.to_string()];
    let mut next = error.source();
    while let Some(e) = next {
        texts.push(e.to_string());
        next = e.source();
    }
    texts
}

/// No error in the chain repeats (or contains) the text of the one below it,
/// which is what printing the whole chain would show twice.
fn assert_no_repeats(error: &(dyn StdError + 'static)) {
    let texts = chain(error);
    for pair in texts.windows(2) {
        assert!(
            !pair[0].contains(&pair[1]) && !pair[1].is_empty(),
            "repeated in the chain: {texts:?}"
        );
    }
}

/// A server on 127.0.0.1 that accepts one WebSocket and echoes one message.
async fn echo_once() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = WebSocket::accept(tcp, Config::default()).await.unwrap();
        if let Some(Ok(message)) = ws.recv().await {
            ws.send(message).await.unwrap();
        }
        let _ = ws.close(1000, "done").await;
    });
    format!("ws://{addr}/")
}

/// What a user writes: connect (a `client::Error`) and talk (an `Error`) with
/// one error type and `?` throughout.
async fn hello(url: &str) -> Result<String, Error> {
    let (mut ws, _response) = client::connect(url).await?;
    ws.text("hello").await?;
    let reply = ws.recv().await.expect("an echo")?;
    ws.close(CloseCode::NORMAL, "").await?;
    Ok(reply.to_text().unwrap().to_owned())
}

#[tokio::test]
async fn question_mark_works_from_connecting_to_sending() {
    let url = echo_once().await;
    assert_eq!(within(hello(&url)).await.unwrap(), "hello");
}

#[tokio::test]
async fn a_connect_failure_through_question_mark_keeps_the_clients_error() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let err = within(hello(&format!("ws://{addr}/"))).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
    assert!(err.is_io());
    let client = err.client_error().unwrap();
    assert_eq!(client.kind(), client::ErrorKind::Io);
    assert_eq!(
        err.io_error().unwrap().kind(),
        std::io::ErrorKind::ConnectionRefused
    );
    // The client's text, the I/O error as the source, each once.
    assert_eq!(err.to_string(), format!("connecting to {addr}"));
    assert_eq!(chain(&err), chain(client));
    assert_no_repeats(&err);
}

#[tokio::test]
async fn a_refusal_through_question_mark_is_a_handshake_error_with_its_status() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 4096];
        let _ = tcp.read(&mut buf).await;
        tcp.write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 7\r\n\r\nno way\n")
            .await
            .unwrap();
    });
    let err = within(hello(&format!("ws://{addr}/"))).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Handshake);
    assert!(err.is_handshake());
    assert_eq!(err.status(), Some(http::StatusCode::FORBIDDEN));
    assert!(err.client_error().unwrap().is_refused());
    assert_eq!(
        err.protocol_error().unwrap().kind(),
        protocol::ErrorKind::UnexpectedStatus(http::StatusCode::FORBIDDEN)
    );
    assert_eq!(
        err.to_string(),
        "server refused the WebSocket upgrade with status 403 Forbidden: no way"
    );
    assert!(err.source().is_none(), "{:?}", err.source());
}

#[test]
fn client_kinds_map_to_the_crates_kinds() {
    let cases = [
        (
            "ftp://x/",
            ErrorKind::Handshake,
            client::ErrorKind::InvalidUrl,
        ),
        ("ws://", ErrorKind::Handshake, client::ErrorKind::InvalidUrl),
    ];
    for (url, kind, client_kind) in cases {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let err = Error::from(rt.block_on(client::connect(url)).unwrap_err());
        assert_eq!(err.kind(), kind, "{url}");
        assert_eq!(err.client_error().unwrap().kind(), client_kind, "{url}");
        assert_no_repeats(&err);
    }
}

#[tokio::test]
async fn a_protocol_violation_is_the_cores_text_and_no_source() {
    let (mut peer, ours) = tokio::io::duplex(1 << 16);
    let server = tokio::spawn(WebSocket::accept(ours, Config::default()));
    peer.write_all(
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .unwrap();
    let mut ws = within(server).await.unwrap().unwrap();
    // A masked, empty text frame with RSV2 set.
    peer.write_all(&[0xA1, 0x80, 1, 2, 3, 4]).await.unwrap();
    let err = within(ws.recv()).await.unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol);
    assert!(err.is_protocol());
    assert_eq!(err.close_code(), Some(CloseCode::PROTOCOL_ERROR));
    let core = err.protocol_error().unwrap();
    assert_eq!(err.to_string(), core.to_string());
    assert!(err.to_string().starts_with("protocol error: "), "{err}");
    assert!(err.source().is_none());
    assert!(core.source().is_none());
}

#[test]
fn an_io_error_is_our_text_and_the_io_error_as_source() {
    let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer");
    let err = Error::from(io);
    assert_eq!(err.to_string(), "WebSocket I/O error");
    assert_eq!(chain(&err), ["WebSocket I/O error", "reset by peer"]);
    assert_eq!(
        err.io_error().unwrap().kind(),
        std::io::ErrorKind::ConnectionReset
    );
    assert_no_repeats(&err);
    // Debug shows everything, for `unwrap` and `{:?}`.
    let debug = format!("{err:?}");
    assert!(
        debug.contains("Io") && debug.contains("reset by peer"),
        "{debug}"
    );
}

#[test]
fn a_timed_out_io_error_is_a_timeout() {
    let err = Error::from(std::io::Error::from(std::io::ErrorKind::TimedOut));
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(err.is_timeout());
    assert_eq!(err.to_string(), "WebSocket timed out");
}

#[tokio::test]
async fn the_raw_handshake_timeout_is_a_timeout_as_the_clients_is() {
    let config = Config::default().handshake_timeout(Duration::from_millis(50));
    let (_silent, ours) = tokio::io::duplex(1024);
    let err = within(WebSocket::accept(ours, config.clone()))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
    assert_no_repeats(&err);

    let (_silent, ours) = tokio::io::duplex(1024);
    let err = within(WebSocket::connect(ours, "ws://x/", config))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
}

#[test]
fn core_errors_convert_and_keep_their_groups() {
    use protocol::{Driver, ErrorKind as P, Options};
    let mut driver = Driver::client("ws://x/", Options::default()).unwrap();
    let err = driver.ping(vec![0u8; 126]).unwrap_err();
    assert!(matches!(err.kind(), P::InvalidControlFrame(_)));
    assert!(err.is_invalid_input());
    let err = Error::from(err);
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.is_invalid_input());

    let err = Driver::client("ftp://x/", Options::default()).unwrap_err();
    assert!(err.is_handshake());
    assert_eq!(Error::from(err).kind(), ErrorKind::Handshake);
}

#[test]
fn kinds_are_copy_and_returned_by_value_on_every_layer() {
    fn by_value<K: Copy + Eq + std::fmt::Debug + std::hash::Hash>(k: K) -> K {
        k
    }
    let core = protocol::Driver::client("ftp://x", Default::default()).unwrap_err();
    let kind: protocol::ErrorKind = by_value(core.kind());
    assert!(matches!(kind, protocol::ErrorKind::InvalidUrl(_)));
    let socket = Error::from(core);
    let _: ErrorKind = by_value(socket.kind());
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let client = rt.block_on(client::connect("ftp://x")).unwrap_err();
    let _: client::ErrorKind = by_value(client.kind());
}

#[test]
fn errors_are_small() {
    use std::mem::size_of;
    assert_eq!(size_of::<Error>(), size_of::<usize>());
    assert_eq!(size_of::<Option<Error>>(), size_of::<usize>());
    assert_eq!(size_of::<Result<(), Error>>(), size_of::<usize>());
    assert_eq!(size_of::<client::Error>(), size_of::<usize>());
    assert_eq!(size_of::<Result<(), client::Error>>(), size_of::<usize>());
    assert!(size_of::<protocol::Error>() <= size_of::<bytes::Bytes>());
}

#[test]
fn errors_cross_threads() {
    fn send_sync_static<T: Send + Sync + 'static>() {}
    send_sync_static::<Error>();
    send_sync_static::<client::Error>();
    send_sync_static::<protocol::Error>();
}

#[tokio::test]
async fn sending_after_close_is_closed_with_its_own_text_and_no_source() {
    let (a, b) = tokio::io::duplex(1 << 16);
    let (server, client) = tokio::join!(
        WebSocket::accept(b, Config::default()),
        WebSocket::connect(a, "ws://test/", Config::default())
    );
    let (mut server, mut client) = (server.unwrap(), client.unwrap());
    let (closed, end) =
        within(async { tokio::join!(client.close(1000, "bye"), server.recv()) }).await;
    closed.unwrap();
    assert!(end.is_none());
    let err = client.text("late").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Closed);
    assert!(err.is_closed());
    assert_eq!(err.to_string(), "the WebSocket is closing or closed");
    assert!(err.source().is_none());
}
