//! `recv_stream`: a message read as it arrives, through the socket, from
//! tokio-tungstenite and from a raw client writing frames byte by byte.

mod stream_support;

use futures::{SinkExt, StreamExt};
use stream_support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite;
use websocket_protocol::protocol::MessageKind;
use websocket_protocol::{Config, ErrorKind, Message, WebSocket};

async fn tungstenite_pair(
    config: Config,
) -> (
    WebSocket<TcpStream>,
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = async {
        let (tcp, _) = listener.accept().await.unwrap();
        WebSocket::accept(tcp, config).await.unwrap()
    };
    let client = async {
        let ws_config = tungstenite::protocol::WebSocketConfig::default()
            .max_message_size(None)
            .max_frame_size(None);
        tokio_tungstenite::connect_async_with_config(format!("ws://{addr}/"), Some(ws_config), true)
            .await
            .unwrap()
            .0
    };
    tokio::join!(server, client)
}

fn binary(n: usize) -> Vec<u8> {
    (0..n as u64).map(byte_at).collect()
}

fn text(n: usize) -> String {
    let mut s = String::new();
    while s.len() < n {
        s.push_str("héllo wörld €𝄞 ");
    }
    s
}

#[tokio::test]
async fn large_messages_from_tungstenite_are_read_as_they_arrive() {
    let (mut server, mut client) = tungstenite_pair(Config::default()).await;
    let big = binary(16 << 20);
    let words = text(4 << 20);
    let sender = {
        let (big, words) = (big.clone(), words.clone());
        tokio::spawn(async move {
            client
                .send(tungstenite::Message::binary(big))
                .await
                .unwrap();
            client
                .send(tungstenite::Message::text(words))
                .await
                .unwrap();
            client
                .send(tungstenite::Message::text("small"))
                .await
                .unwrap();
            client
        })
    };
    // Binary: through AsyncRead, as into a file.
    let mut body = server.recv_stream().await.unwrap().unwrap();
    assert_eq!(body.kind(), MessageKind::Binary);
    let mut sink = Vec::new();
    let n = tokio::io::copy(&mut body, &mut sink).await.unwrap();
    assert_eq!(n, big.len() as u64);
    assert!(sink == big);
    assert!(body.is_complete());
    drop(body);
    // Text: through the Stream; every piece is whole code points.
    let mut body = server.recv_stream().await.unwrap().unwrap();
    assert!(body.is_text());
    let mut joined = String::new();
    let mut pieces = 0;
    while let Some(piece) = body.next().await {
        joined.push_str(std::str::from_utf8(&piece.unwrap()).unwrap());
        pieces += 1;
    }
    assert_eq!(joined, words);
    assert!(pieces > 1, "{pieces}");
    drop(body);
    // And the next message whole, as usual.
    assert_eq!(
        server.recv().await.unwrap().unwrap(),
        Message::text("small")
    );
    let mut client = sender.await.unwrap();
    client.close(None).await.unwrap();
    assert!(server.recv().await.is_none());
}

#[tokio::test]
async fn a_body_dropped_early_gives_the_rest_up_and_the_next_message_comes() {
    let (server, mut client) = tungstenite_pair(Config::default()).await;
    let (_tx, mut rx) = server.split();
    let sender = tokio::spawn(async move {
        client
            .send(tungstenite::Message::binary(binary(3 << 20)))
            .await
            .unwrap();
        client
            .send(tungstenite::Message::text("next"))
            .await
            .unwrap();
        // Pings are answered meanwhile.
        client
            .send(tungstenite::Message::Ping("p".into()))
            .await
            .unwrap();
        client
            .send(tungstenite::Message::text("last"))
            .await
            .unwrap();
        let mut pongs = 0;
        while let Some(Ok(m)) = client.next().await {
            if m.is_pong() {
                pongs += 1;
                break;
            }
        }
        pongs
    });
    {
        let mut body = rx.recv_stream().await.unwrap().unwrap();
        let first = body.chunk().await.unwrap().unwrap();
        assert!(
            !first.is_empty() && first.len() <= 64 << 10,
            "{}",
            first.len()
        );
    }
    assert_eq!(rx.recv().await.unwrap().unwrap(), Message::text("next"));
    // Small messages come as one piece.
    let mut body = rx.recv_stream().await.unwrap().unwrap();
    assert_eq!(&body.chunk().await.unwrap().unwrap()[..], b"last");
    assert!(body.chunk().await.is_none());
    drop(body);
    // The pong goes out while the socket is polled.
    let (pongs, _) = tokio::join!(sender, rx.recv());
    assert_eq!(pongs.unwrap(), 1);
}

/// A raw client over TCP and our server, upgraded.
async fn raw_pair(config: Config) -> (WebSocket<TcpStream>, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = async {
        let (tcp, _) = listener.accept().await.unwrap();
        WebSocket::accept(tcp, config).await.unwrap()
    };
    let client = async {
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        handshake(&mut tcp).await;
        tcp
    };
    tokio::join!(server, client)
}

/// What the raw client reads until the server closes the transport.
async fn read_all(mut tcp: TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    tcp.read_to_end(&mut out).await.unwrap();
    out
}

/// What the server's peer reads when it fails the connection after `wire`,
/// read whole or in pieces; and the error the reader got.
async fn failure(wire: Vec<u8>, pieces: bool) -> (Vec<u8>, Option<websocket_protocol::CloseCode>) {
    let (mut server, mut tcp) = raw_pair(Config::default()).await;
    tcp.write_all(&wire).await.unwrap();
    let error = if pieces {
        let mut body = server.recv_stream().await.unwrap().unwrap();
        loop {
            match body.chunk().await {
                Some(Ok(_)) => continue,
                Some(Err(e)) => break e,
                None => panic!("the message ended"),
            }
        }
    } else {
        server.recv().await.unwrap().unwrap_err()
    };
    let kind = error.close_code();
    drop(server);
    (read_all(tcp).await, kind)
}

#[tokio::test]
async fn invalid_utf8_split_across_pieces_closes_with_1007_byte_for_byte() {
    // A code point cut between frames whose third byte is not a continuation.
    let mut wire = frame(0x01, "valid €".as_bytes());
    wire.extend(frame(0x00, b"\xf0\x9f"));
    wire.extend(frame(0x80, b"A"));
    let whole = failure(wire.clone(), false).await;
    let pieces = failure(wire, true).await;
    assert_eq!(pieces, whole);
    let (bytes, kind) = pieces;
    assert_eq!(kind, Some(websocket_protocol::CloseCode::INVALID_PAYLOAD));
    assert_eq!(&bytes[..2], &[0x88, bytes[1]]);
    assert_eq!(&bytes[2..4], &1007u16.to_be_bytes());
}

#[tokio::test]
async fn a_close_frame_in_the_middle_fails_the_body_and_is_answered() {
    let (mut server, mut tcp) = raw_pair(Config::default()).await;
    let mut wire = frame(0x02, &[1; 1000]);
    let mut close = 1000u16.to_be_bytes().to_vec();
    close.extend_from_slice(b"bye");
    wire.extend(frame(0x88, &close));
    tcp.write_all(&wire).await.unwrap();
    let mut body = server.recv_stream().await.unwrap().unwrap();
    assert_eq!(body.chunk().await.unwrap().unwrap().len(), 1000);
    let error = body.chunk().await.unwrap().unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Closed);
    drop(body);
    assert!(server.recv().await.is_none());
    let mut echo = vec![0x88, 5];
    echo.extend_from_slice(&close);
    assert_eq!(read_all(tcp).await, echo);
}

#[tokio::test]
async fn the_per_message_limit_admits_an_upload_larger_than_the_connections() {
    let (mut server, mut tcp) = raw_pair(Config::default().max_message_size(1 << 20)).await;
    let writer = tokio::spawn(async move {
        send_upload(&mut tcp, 5 << 20, 256 << 10).await;
        send_upload(&mut tcp, 2 << 20, 256 << 10).await;
        tcp
    });
    let mut body = server.recv_stream().await.unwrap().unwrap();
    body.set_limit(8 << 20);
    let n = tokio::io::copy(&mut body, &mut tokio::io::sink())
        .await
        .unwrap();
    assert_eq!(n, 5 << 20);
    drop(body);
    // The next message has the connection's limit again: 1009.
    let mut body = server.recv_stream().await.unwrap().unwrap();
    let error = tokio::io::copy(&mut body, &mut tokio::io::sink())
        .await
        .unwrap_err();
    let inner = error.into_inner().unwrap();
    let error = inner.downcast::<websocket_protocol::Error>().unwrap();
    assert!(error.is_limit_exceeded(), "{error}");
    drop(body);
    let tcp = writer.await.unwrap();
    drop(server);
    let bytes = read_all(tcp).await;
    assert_eq!(&bytes[2..4], &1009u16.to_be_bytes());
}
