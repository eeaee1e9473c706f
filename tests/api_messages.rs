//! The conversions and accessors of `Message` and `Utf8Bytes`, as an axum or
//! tokio-tungstenite user writes them, and through a socket: what goes in is what
//! the peer reads.

use bytes::{Bytes, BytesMut};
use std::borrow::Cow;
use websocket_protocol::{Config, Message, Utf8Bytes, WebSocket};

#[test]
fn utf8bytes_from_every_string_type() {
    let owned = String::from("héllo");
    let borrowed: &str = owned.as_str(); // not 'static
    assert_eq!(Utf8Bytes::from(borrowed), "héllo");
    assert_eq!(Utf8Bytes::from(&owned), "héllo");
    assert_eq!(Utf8Bytes::from(owned.clone().into_boxed_str()), "héllo");
    assert_eq!(Utf8Bytes::from(Cow::Borrowed(borrowed)), "héllo");
    assert_eq!(Utf8Bytes::from(Cow::<str>::Owned(owned.clone())), "héllo");
    assert_eq!(Utf8Bytes::from(owned.clone()), owned);
    assert_eq!(Utf8Bytes::from(""), Utf8Bytes::new());
    const STATIC: Utf8Bytes = Utf8Bytes::from_static("héllo");
    assert_eq!(STATIC, "héllo");
}

#[test]
fn utf8bytes_from_bytes_checks_utf8() {
    let good = "κόσμε".as_bytes();
    assert_eq!(Utf8Bytes::try_from(good).unwrap(), "κόσμε");
    assert_eq!(Utf8Bytes::try_from(good.to_vec()).unwrap(), "κόσμε");
    assert_eq!(
        Utf8Bytes::try_from(Bytes::copy_from_slice(good)).unwrap(),
        "κόσμε"
    );
    assert_eq!(Utf8Bytes::try_from(BytesMut::from(good)).unwrap(), "κόσμε");
    let bad: &[u8] = b"ok\xff";
    assert!(Utf8Bytes::try_from(bad).is_err());
    assert!(Utf8Bytes::try_from(bad.to_vec()).is_err());
    assert!(Utf8Bytes::try_from(Bytes::from_static(bad)).is_err());
    assert!(Utf8Bytes::try_from(BytesMut::from(bad)).is_err());
    // Cut inside a code point.
    assert!(Utf8Bytes::try_from(&good[..1]).is_err());
}

#[test]
fn utf8bytes_owned_conversions_do_not_copy() {
    let bytes = Bytes::from(String::from("shared"));
    let ptr = bytes.as_ptr();
    let text = Utf8Bytes::try_from(bytes).unwrap();
    assert_eq!(text.as_ptr(), ptr);
    let back = Bytes::from(text);
    assert_eq!(back.as_ptr(), ptr);

    let string = String::from("owned");
    let ptr = string.as_ptr();
    assert_eq!(Utf8Bytes::from(string).as_ptr(), ptr);
}

#[test]
fn utf8bytes_back_to_std_types_and_comparisons() {
    let text = Utf8Bytes::from("abc");
    assert_eq!(String::from(text.clone()), "abc");
    assert_eq!(&Bytes::from(text.clone())[..], b"abc");
    assert_eq!(text.as_str(), "abc");
    assert_eq!(&text.as_bytes()[..], b"abc");
    assert!(text.starts_with("ab")); // Deref to str
    assert_eq!(text, String::from("abc"));
    assert_eq!(text, *"abc");
    assert!("abc" == text);
    assert_eq!(format!("{text} {text:?}"), "abc \"abc\"");
}

#[test]
fn message_from_text_types_is_text() {
    let owned = String::from("hello");
    for message in [
        Message::from(owned.as_str()),
        Message::from(&owned),
        Message::from(owned.clone()),
        Message::from(Utf8Bytes::from_static("hello")),
        Message::text(owned.as_str()),
        Message::text(&owned),
        Message::text(owned.clone()),
    ] {
        assert_eq!(message, Message::Text(Utf8Bytes::from_static("hello")));
        assert!(message.is_text() && !message.is_binary());
    }
}

#[test]
fn message_from_binary_types_is_binary() {
    let data = vec![0u8, 1, 0xff];
    for message in [
        Message::from(&data[..]),
        Message::from(data.clone()),
        Message::from(Bytes::from(data.clone())),
        Message::binary(data.clone()),
        Message::binary(Bytes::from(data.clone())),
    ] {
        assert_eq!(message, Message::Binary(Bytes::from_static(&[0, 1, 0xff])));
        assert!(message.is_binary() && !message.is_text());
    }
}

#[test]
fn message_accessors_match_axum_and_tungstenite() {
    let text = Message::text("hé");
    assert_eq!(text.as_text(), Some("hé"));
    assert_eq!(text.to_text(), Ok("hé"));
    assert_eq!(text.as_bytes(), "hé".as_bytes());
    assert_eq!(text.len(), 3);
    assert!(!text.is_empty());
    assert_eq!(
        text.clone().into_data(),
        Bytes::from_static("hé".as_bytes())
    );
    assert_eq!(text.clone().into_text().unwrap(), "hé");
    assert_eq!(Bytes::from(text), Bytes::from_static("hé".as_bytes()));

    // A binary message that holds UTF-8 reads as text with `to_text`/`into_text`,
    // as in axum and tungstenite, but is not a text message for `as_text`.
    let utf8_binary = Message::binary(&b"hi"[..]);
    assert_eq!(utf8_binary.as_text(), None);
    assert_eq!(utf8_binary.to_text(), Ok("hi"));
    assert_eq!(utf8_binary.clone().into_text().unwrap(), "hi");
    assert_eq!(utf8_binary.into_data(), Bytes::from_static(b"hi"));

    let binary = Message::binary(&b"\xff\xfe"[..]);
    assert!(binary.to_text().is_err());
    assert!(binary.clone().into_text().is_err());
    assert_eq!(binary.as_bytes(), b"\xff\xfe");

    assert!(Message::binary(Bytes::new()).is_empty());
    assert!(Message::text("").is_empty());
}

#[test]
#[allow(deprecated)]
fn the_old_name_into_payload_still_works() {
    assert_eq!(
        Message::text("x").into_payload(),
        Message::text("x").into_data()
    );
}

/// What a user writes with borrowed data from a buffer or a request, through a
/// real socket pair: `text(&str)`, `send(&[u8])`, `send(&String)` all compile and
/// arrive as the same bytes.
#[tokio::test]
async fn borrowed_data_sends_through_a_socket() {
    let (a, b) = tokio::io::duplex(1 << 16);
    let (server, client) = tokio::join!(
        WebSocket::accept(b, Config::default()),
        WebSocket::connect(a, "ws://test/", Config::default())
    );
    let (mut server, mut client) = (server.unwrap(), client.unwrap());

    let line = String::from("a line read from somewhere");
    let buffer = vec![9u8; 10];
    client.text(line.as_str()).await.unwrap();
    client.text(&line).await.unwrap();
    client.send(line.as_str()).await.unwrap();
    client.send(&buffer[..]).await.unwrap();
    client.send(buffer.clone()).await.unwrap();
    client.send(Utf8Bytes::from(&line)).await.unwrap();

    for _ in 0..3 {
        assert_eq!(
            server.recv().await.unwrap().unwrap(),
            Message::text(line.as_str())
        );
    }
    for _ in 0..2 {
        assert_eq!(
            server.recv().await.unwrap().unwrap(),
            Message::binary(buffer.clone())
        );
    }
    assert_eq!(
        server.recv().await.unwrap().unwrap().into_text().unwrap(),
        line
    );
}

/// `messages()` is deprecated but still the same stream as `recv()`.
#[tokio::test]
#[allow(deprecated)]
async fn the_deprecated_messages_is_the_same_stream() {
    use futures_util::StreamExt;
    let (a, b) = tokio::io::duplex(1 << 16);
    let (server, client) = tokio::join!(
        WebSocket::accept(b, Config::default()),
        WebSocket::connect(a, "ws://test/", Config::default())
    );
    let (mut server, mut client) = (server.unwrap(), client.unwrap());
    for text in ["one", "two", "three"] {
        client.text(text).await.unwrap();
    }
    assert_eq!(
        server.messages().next().await.unwrap().unwrap(),
        Message::text("one")
    );
    assert_eq!(server.recv().await.unwrap().unwrap(), Message::text("two"));
    assert_eq!(
        server.next().await.unwrap().unwrap(),
        Message::text("three")
    );
}
