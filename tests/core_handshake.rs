//! Opening handshakes of the sans-IO core, byte for byte: server handler
//! selection, the three server responses, late hixie-76 key bytes, subprotocol
//! negotiation, rejected requests, and the client's request and response checks.

mod core_support;

use core_support::*;
use std::time::Instant;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use bytes::Bytes;
use websocket_protocol::protocol::{
    accept_key, parse_request, CloseCode, CloseFrame, Driver, Error, ErrorKind, Event, Message,
    Options, ReadyState, Version,
};

const RFC_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

fn request(headers: &[(&str, &str)]) -> http::Request<()> {
    let mut b = http::Request::get("/chat");
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(()).unwrap()
}

fn hybi_headers(version: &str) -> Vec<(&'static str, String)> {
    vec![
        ("Host", "server.example.com".into()),
        ("Upgrade", "websocket".into()),
        ("Connection", "Upgrade".into()),
        ("Sec-WebSocket-Key", RFC_KEY.into()),
        ("Sec-WebSocket-Version", version.into()),
    ]
}

fn hybi_request(version: &str) -> http::Request<()> {
    let h = hybi_headers(version);
    let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
    request(&h)
}

/// A masked client frame, as a client driver would send it (fixed key).
fn masked(first: u8, payload: &[u8]) -> Vec<u8> {
    let key = [1, 2, 3, 4];
    assert!(payload.len() < 126);
    let mut out = vec![first, 0x80 | payload.len() as u8];
    out.extend_from_slice(&key);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    out
}

// ---- server: handler selection ---------------------------------------------------

#[test]
fn versions_7_8_13_select_hybi() {
    for (v, expected) in [
        ("7", Version::Hybi7),
        ("8", Version::Hybi8),
        ("13", Version::Hybi13),
    ] {
        let d = Driver::server(&hybi_request(v), Options::default()).unwrap();
        assert_eq!(d.version(), expected);
        assert_eq!(d.version().to_string(), format!("hybi-{v}"));
    }
}

fn hixie76_request(path: &str, host: &str) -> http::Request<()> {
    http::Request::get(path)
        .header("Host", host)
        .header("Connection", "Upgrade")
        .header("Sec-WebSocket-Key2", "1_ tx7X d  <  nw  334J702) 7]o}` 0")
        .header("Sec-WebSocket-Protocol", "sample")
        .header("Upgrade", "WebSocket")
        .header("Sec-WebSocket-Key1", "18x 6]8vM;54 *(5:  {   U1]8  z [  8")
        .header("Origin", "http://example.com")
        .body(())
        .unwrap()
}

fn hixie75_request() -> http::Request<()> {
    http::Request::get("/demo")
        .header("Upgrade", "WebSocket")
        .header("Connection", "Upgrade")
        .header("Host", "example.com")
        .header("Origin", "http://example.com")
        .body(())
        .unwrap()
}

fn drafts() -> Options {
    Options::default().allow_drafts(true)
}

#[test]
fn key1_and_key2_select_hixie76_and_neither_selects_hixie75() {
    let d = Driver::server(&hixie76_request("/demo", "example.com"), drafts()).unwrap();
    assert_eq!(d.version(), Version::Hixie76);
    assert_eq!(d.version().to_string(), "hixie-76");
    let d = Driver::server(&hixie75_request(), drafts()).unwrap();
    assert_eq!(d.version(), Version::Hixie75);
    assert_eq!(d.version().to_string(), "hixie-75");
}

#[test]
fn other_versions_get_426_with_version_13() {
    for v in ["0", "9", "12", "14", "abc", ""] {
        let err = Driver::server(&hybi_request(v), Options::default()).unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::UnsupportedVersion, "version {v:?}");
        let res = err.response().unwrap();
        assert_eq!(res.status(), 426);
        assert_eq!(res.headers()["sec-websocket-version"], "13");
    }
}

#[test]
fn drafts_without_opt_in_get_426() {
    for (req, v) in [
        (hixie76_request("/demo", "example.com"), Version::Hixie76),
        (hixie75_request(), Version::Hixie75),
    ] {
        let err = Driver::server(&req, Options::default()).unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::DraftsNotAllowed(v));
        let res = err.response().unwrap();
        assert_eq!(res.status(), 426);
        assert_eq!(res.headers()["sec-websocket-version"], "13");
    }
}

#[test]
fn post_is_405() {
    let mut req = hybi_request("13");
    *req.method_mut() = http::Method::POST;
    let err = Driver::server(&req, Options::default()).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::MethodNotAllowed);
    let res = err.response().unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()["allow"], "GET");
}

#[test]
fn bad_keys_are_400() {
    let short = BASE64.encode([7u8; 15]);
    let long = BASE64.encode([7u8; 17]);
    for key in [
        None,
        Some(short.as_str()),
        Some(long.as_str()),
        Some("not base64 at all!!!!!!!"),
        Some(""),
    ] {
        let mut req = hybi_request("13");
        req.headers_mut().remove("sec-websocket-key");
        if let Some(key) = key {
            req.headers_mut()
                .insert("sec-websocket-key", key.parse().unwrap());
        }
        let err = Driver::server(&req, Options::default()).unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::MalformedRequest(_)),
            "{key:?}: {err}"
        );
        assert_eq!(err.status(), Some(http::StatusCode::BAD_REQUEST));
        assert_eq!(err.response().unwrap().status(), 400);
    }
}

#[test]
fn missing_upgrade_or_connection_is_400() {
    for drop in ["upgrade", "connection"] {
        let mut req = hybi_request("13");
        req.headers_mut().remove(drop);
        let err = Driver::server(&req, Options::default()).unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::MalformedRequest(_)));
        assert_eq!(err.response().unwrap().status(), 400);
    }
}

#[test]
fn hixie76_keys_without_spaces_or_with_remainder_are_400() {
    for key1 in ["12345", "1 2 3", "   "] {
        let mut req = hixie76_request("/demo", "example.com");
        req.headers_mut()
            .insert("sec-websocket-key1", key1.parse().unwrap());
        let err = Driver::server(&req, drafts()).unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::MalformedRequest(_)),
            "{key1:?}"
        );
        assert_eq!(err.response().unwrap().status(), 400);
    }
}

#[test]
fn upgrade_and_connection_are_case_insensitive_tokens() {
    for (upgrade, connection) in [
        ("websocket", "keep-alive, Upgrade"),
        ("WebSocket", "upgrade"),
        ("WEBSOCKET", "UPGRADE"),
        ("h2c, websocket", "keep-alive,upgrade"),
        ("websocket", "  Upgrade  ,  close"),
    ] {
        let mut req = hybi_request("13");
        req.headers_mut()
            .insert("upgrade", upgrade.parse().unwrap());
        req.headers_mut()
            .insert("connection", connection.parse().unwrap());
        let d = Driver::server(&req, Options::default());
        assert!(d.is_ok(), "{upgrade:?} / {connection:?}: {:?}", d.err());
    }
    // A token is not a substring.
    let mut req = hybi_request("13");
    req.headers_mut()
        .insert("connection", "Upgraded".parse().unwrap());
    assert!(Driver::server(&req, Options::default()).is_err());
}

// ---- server: responses byte for byte ---------------------------------------------

#[test]
fn hybi_response_is_byte_exact_for_the_rfc_sample_key() {
    let mut d = Driver::server(&hybi_request("13"), Options::default()).unwrap();
    assert_eq!(d.ready_state(), ReadyState::Connecting);
    d.start(Instant::now());
    assert_eq!(d.ready_state(), ReadyState::Open);
    let (out, shutdown) = drain(&mut d);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {RFC_ACCEPT}\r\n\r\n"
        )
    );
    assert!(!shutdown);
    assert_eq!(events(&mut d), vec![Event::Open]);
    let res = d.handshake_response().unwrap();
    assert_eq!(res.status(), 101);
    assert_eq!(res.headers()["sec-websocket-accept"], RFC_ACCEPT);
    assert_eq!(d.reason_phrase(), "Switching Protocols");
}

const HIXIE76_HEAD: &str = "HTTP/1.1 101 WebSocket Protocol Handshake\r\nUpgrade: WebSocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Origin: http://example.com\r\n\
    Sec-WebSocket-Location: ws://example.com/demo\r\nSec-WebSocket-Protocol: sample\r\n\r\n";
const HIXIE76_KEY3: &[u8] = b"Tm[K T2u";
const HIXIE76_ANSWER: &[u8] = b"fQJ,fN/4F4!~K~MH";

#[test]
fn hixie76_response_is_byte_exact_for_the_drafts_example() {
    let options = drafts().protocols(["sample"]);
    let mut d = Driver::server(&hixie76_request("/demo", "example.com"), options).unwrap();
    assert_eq!(d.protocol(), Some("sample"));
    d.start(Instant::now());
    let (head, _) = drain(&mut d);
    assert_eq!(String::from_utf8(head).unwrap(), HIXIE76_HEAD);
    assert_eq!(d.ready_state(), ReadyState::Connecting);
    assert_eq!(events(&mut d), vec![]);
    d.receive(HIXIE76_KEY3, Instant::now());
    let (answer, _) = drain(&mut d);
    assert_eq!(answer, HIXIE76_ANSWER);
    assert_eq!(events(&mut d), vec![Event::Open]);
    assert_eq!(d.reason_phrase(), "WebSocket Protocol Handshake");
}

#[test]
fn hixie76_location_follows_the_secure_option() {
    for (secure, scheme) in [(false, "ws"), (true, "wss")] {
        let req = hixie76_request("/demo?room=1", "example.com:8443");
        let mut d = Driver::server(&req, drafts().secure(secure)).unwrap();
        d.start(Instant::now());
        let head = String::from_utf8(drain(&mut d).0).unwrap();
        let expected =
            format!("Sec-WebSocket-Location: {scheme}://example.com:8443/demo?room=1\r\n");
        assert!(head.contains(&expected), "{head}");
        // Unsupported protocol: no protocol header.
        assert!(!head.contains("Protocol: "), "{head}");
    }
}

#[test]
fn hixie75_response_is_byte_exact() {
    let mut d = Driver::server(&hixie75_request(), drafts()).unwrap();
    d.start(Instant::now());
    let (out, _) = drain(&mut d);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "HTTP/1.1 101 Web Socket Protocol Handshake\r\nUpgrade: WebSocket\r\n\
         Connection: Upgrade\r\nWebSocket-Origin: http://example.com\r\n\
         WebSocket-Location: ws://example.com/demo\r\n\r\n"
    );
    assert_eq!(events(&mut d), vec![Event::Open]);
    assert_eq!(d.reason_phrase(), "Web Socket Protocol Handshake");
    let mut d = Driver::server(&hixie75_request(), drafts().secure(true)).unwrap();
    d.start(Instant::now());
    let out = String::from_utf8(drain(&mut d).0).unwrap();
    assert!(out.contains("WebSocket-Location: wss://example.com/demo\r\n"));
}

fn hixie76_raw_request() -> Vec<u8> {
    b"GET /demo HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade\r\n\
      Sec-WebSocket-Key2: 1_ tx7X d  <  nw  334J702) 7]o}` 0\r\n\
      Sec-WebSocket-Protocol: sample\r\nUpgrade: WebSocket\r\n\
      Sec-WebSocket-Key1: 18x 6]8vM;54 *(5:  {   U1]8  z [  8\r\n\
      Origin: http://example.com\r\n\r\n"
        .to_vec()
}

/// Head sent on start, a message sent before the key queued behind the answer.
fn check_hixie76_late_key(feed: impl FnOnce(&mut Driver), key_with_head: bool) {
    let mut raw = hixie76_raw_request();
    if key_with_head {
        raw.extend_from_slice(HIXIE76_KEY3);
    }
    let options = drafts().protocols(["sample"]);
    let mut d = Driver::server_from_bytes(&raw, options).unwrap().unwrap();
    d.text("early").unwrap();
    d.start(Instant::now());
    let (out, _) = drain(&mut d);
    if key_with_head {
        let mut expected = HIXIE76_HEAD.as_bytes().to_vec();
        expected.extend_from_slice(HIXIE76_ANSWER);
        expected.extend_from_slice(b"\x00early\xff");
        assert_eq!(out, expected);
        assert_eq!(events(&mut d), vec![Event::Open]);
        return;
    }
    assert_eq!(out, HIXIE76_HEAD.as_bytes());
    assert_eq!(d.buffered_amount(), 7, "the early message waits");
    feed(&mut d);
    let (out, _) = drain(&mut d);
    let mut expected = HIXIE76_ANSWER.to_vec();
    expected.extend_from_slice(b"\x00early\xff");
    assert_eq!(out, expected);
    assert_eq!(events(&mut d), vec![Event::Open]);
}

#[test]
fn hixie76_key_bytes_with_the_head() {
    check_hixie76_late_key(|_| {}, true);
}

#[test]
fn hixie76_key_bytes_later_in_one_chunk() {
    check_hixie76_late_key(|d| d.receive(HIXIE76_KEY3, Instant::now()), false);
}

#[test]
fn hixie76_key_bytes_one_at_a_time() {
    check_hixie76_late_key(
        |d| {
            for (i, b) in HIXIE76_KEY3.iter().enumerate() {
                assert_eq!(d.ready_state(), ReadyState::Connecting, "after {i} bytes");
                assert_eq!(drain(&mut *d).0, b"", "nothing before the 8th byte");
                d.receive(&[*b], Instant::now());
            }
        },
        false,
    );
}

#[test]
fn hixie76_frames_in_the_same_chunk_as_the_key() {
    let mut d = Driver::server(&hixie76_request("/demo", "example.com"), drafts()).unwrap();
    d.start(Instant::now());
    drain(&mut d);
    let mut chunk = HIXIE76_KEY3.to_vec();
    chunk.extend_from_slice(b"\x00hi\xff");
    d.receive(&chunk, Instant::now());
    assert_eq!(
        events(&mut d),
        vec![Event::Open, Event::Message(Message::text("hi"))]
    );
}

// ---- subprotocols ----------------------------------------------------------------

#[test]
fn subprotocol_is_the_first_of_the_clients_list_that_the_server_supports() {
    let cases: &[(&str, &[&str], Option<&str>)] = &[
        ("chat, superchat", &["superchat", "chat"], Some("chat")),
        ("superchat, chat", &["chat", "superchat"], Some("superchat")),
        ("a, b, c", &["c"], Some("c")),
        ("a, b", &["x"], None),
        ("a", &[], None),
    ];
    for (offer, supported, expected) in cases {
        let mut req = hybi_request("13");
        req.headers_mut()
            .insert("sec-websocket-protocol", offer.parse().unwrap());
        let options = Options::default().protocols(supported.iter().copied());
        let mut d = Driver::server(&req, options).unwrap();
        assert_eq!(d.protocol(), *expected, "{offer} / {supported:?}");
        d.start(Instant::now());
        let head = String::from_utf8(drain(&mut d).0).unwrap();
        match expected {
            Some(p) => assert!(head.ends_with(&format!("Sec-WebSocket-Protocol: {p}\r\n\r\n"))),
            None => assert!(!head.contains("Sec-WebSocket-Protocol")),
        }
    }
    // The offer may span header lines.
    let mut req = hybi_request("13");
    req.headers_mut()
        .append("sec-websocket-protocol", "a".parse().unwrap());
    req.headers_mut()
        .append("sec-websocket-protocol", "b".parse().unwrap());
    let d = Driver::server(&req, Options::default().protocols(["b"])).unwrap();
    assert_eq!(d.protocol(), Some("b"));
}

// ---- rejected handshakes' responses ------------------------------------------------

#[test]
fn rejected_handshakes_have_full_http_responses() {
    let err = Driver::server(&hybi_request("9"), Options::default()).unwrap_err();
    let body = format!("{err}\n");
    let expected = format!(
        "HTTP/1.1 426 Upgrade Required\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Connection: close\r\nSec-WebSocket-Version: 13\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    assert_eq!(
        String::from_utf8(err.response_bytes().unwrap()).unwrap(),
        expected
    );

    let mut req = hybi_request("13");
    req.headers_mut().remove("sec-websocket-key");
    let err = Driver::server(&req, Options::default()).unwrap_err();
    let out = String::from_utf8(err.response_bytes().unwrap()).unwrap();
    assert!(out.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{out}");
    assert!(!out.contains("Sec-WebSocket-Version"));
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    assert!(head.contains(&format!("Content-Length: {}", body.len())));

    let mut req = hybi_request("13");
    *req.method_mut() = http::Method::POST;
    let err = Driver::server(&req, Options::default()).unwrap_err();
    let out = String::from_utf8(err.response_bytes().unwrap()).unwrap();
    assert!(
        out.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"),
        "{out}"
    );
    assert!(out.contains("\r\nAllow: GET\r\n"), "{out}");

    // Each response parses as HTTP (what a client on the other end would do).
    for err in [
        Driver::server(&hybi_request("9"), Options::default()).unwrap_err(),
        Driver::server(&hixie75_request(), Options::default()).unwrap_err(),
    ] {
        let bytes = err.response_bytes().unwrap();
        let mut headers = [httparse::EMPTY_HEADER; 16];
        let mut res = httparse::Response::new(&mut headers);
        assert!(res.parse(&bytes).unwrap().is_complete());
        assert_eq!(res.code, Some(426));
    }
}

#[test]
fn oversized_request_heads_are_431() {
    let mut raw = b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: ".to_vec();
    raw.extend(std::iter::repeat_n(b'a', 20 << 10));
    let err = match Driver::server_from_bytes(&raw, Options::default()) {
        Err(e) => e,
        Ok(_) => panic!("a 20 KiB partial head must be refused"),
    };
    assert_eq!(err.kind(), &ErrorKind::RequestTooLarge);
    assert_eq!(err.response().unwrap().status(), 431);
    let small = Options::default().max_handshake_size(64);
    let raw = format!(
        "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: {RFC_KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    assert!(matches!(
        Driver::server_from_bytes(raw.as_bytes(), small).map(|_| ()),
        Err(e) if e.kind() == &ErrorKind::RequestTooLarge
    ));
}

// ---- server_from_bytes -------------------------------------------------------------

#[test]
fn server_from_bytes_at_every_split_point() {
    let head = format!(
        "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: {RFC_KEY}\r\n\
         Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    let mut raw = head.clone().into_bytes();
    raw.extend_from_slice(&masked(0x81, b"early"));
    let options = Options::default().protocols(["chat"]);
    for split in 0..=raw.len() {
        // The caller accumulates until the head is complete, then hands over the rest.
        let first = &raw[..split];
        let mut d = match Driver::server_from_bytes(first, options.clone()).unwrap() {
            Some(d) => {
                assert!(split >= head.len(), "complete at {split}");
                d
            }
            None => {
                assert!(split < head.len(), "incomplete at {split}");
                Driver::server_from_bytes(&raw, options.clone())
                    .unwrap()
                    .unwrap()
            }
        };
        d.start(Instant::now());
        if split >= head.len() {
            d.receive(&raw[split..], Instant::now());
        }
        let (out, _) = drain(&mut d);
        assert!(out.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
        assert_eq!(d.protocol(), Some("chat"));
        assert_eq!(
            events(&mut d),
            vec![Event::Open, Event::Message(Message::text("early"))],
            "split {split}"
        );
    }
}

#[test]
fn server_from_bytes_rejects_garbage_with_400() {
    let err = match Driver::server_from_bytes(
        b"\x16\x03\x01\x02\x00\x01\x00\r\n\r\n",
        Options::default(),
    ) {
        Err(e) => e,
        Ok(_) => panic!("TLS bytes are not HTTP"),
    };
    assert_eq!(err.response().unwrap().status(), 400);
}

// ---- client ------------------------------------------------------------------------

fn client_key(d: &Driver) -> String {
    d.client_request().unwrap().headers()["sec-websocket-key"]
        .to_str()
        .unwrap()
        .to_owned()
}

fn parse_sent_request(bytes: &[u8]) -> http::Request<()> {
    let (req, size) = parse_request(bytes, &Options::default()).unwrap().unwrap();
    assert_eq!(size, bytes.len(), "the request is exactly one head");
    req
}

#[test]
fn client_request_shape() {
    let mut extra = http::HeaderMap::new();
    extra.insert("authorization", "Bearer token".parse().unwrap());
    extra.insert("x-custom", "1".parse().unwrap());
    let options = Options::default()
        .protocols(["chat", "superchat"])
        .headers(extra);
    let mut d = Driver::client("ws://example.com:8080/chat?room=1", options).unwrap();
    assert_eq!(d.ready_state(), ReadyState::Connecting);
    d.start(Instant::now());
    let (out, shutdown) = drain(&mut d);
    assert!(!shutdown);
    let text = String::from_utf8(out.clone()).unwrap();
    assert!(text.starts_with("GET /chat?room=1 HTTP/1.1\r\n"), "{text}");
    for line in [
        "\r\nHost: example.com:8080\r\n",
        "\r\nUpgrade: websocket\r\n",
        "\r\nConnection: Upgrade\r\n",
        "\r\nSec-WebSocket-Version: 13\r\n",
        "\r\nSec-WebSocket-Protocol: chat, superchat\r\n",
        "\r\nAuthorization: Bearer token\r\n",
        "\r\nX-Custom: 1\r\n",
    ] {
        assert!(text.contains(line), "{line:?} missing from {text}");
    }
    let req = parse_sent_request(&out);
    let key = req.headers()["sec-websocket-key"].to_str().unwrap();
    assert_eq!(BASE64.decode(key).unwrap().len(), 16);
    assert_eq!(key, client_key(&d));
    // The request itself passes our own server's checks.
    let server = Driver::server(&req, Options::default().protocols(["superchat"])).unwrap();
    assert_eq!(server.protocol(), Some("superchat"));
}

#[test]
fn client_host_omits_default_ports() {
    for (url, host, target) in [
        ("ws://example.com/", "example.com", "/"),
        ("ws://example.com", "example.com", "/"),
        ("ws://example.com:80/a", "example.com", "/a"),
        ("wss://example.com:443/a", "example.com", "/a"),
        ("wss://example.com:80/a", "example.com:80", "/a"),
        ("ws://127.0.0.1:9002/", "127.0.0.1:9002", "/"),
        ("ws://[::1]:9002/x", "[::1]:9002", "/x"),
        ("wss://[::1]/", "[::1]", "/"),
        ("ws://example.com?q=1", "example.com", "/?q=1"),
        ("WS://example.com:8080/", "example.com:8080", "/"),
        ("Wss://example.com:443/", "example.com", "/"),
        ("http://example.com/", "example.com", "/"),
    ] {
        let d = Driver::client(url, Options::default()).unwrap();
        let req = d.client_request().unwrap();
        assert_eq!(req.headers()["host"], host, "{url}");
        assert_eq!(req.uri().to_string(), target, "{url}");
    }
    for url in [
        "http//x",
        "ftp://example.com/",
        "ws://user:pw@example.com/",
        "/path",
        "ws://",
        "ws://:80/",
        "ws://example.com:99999/",
        "ws://example.com:65536/",
        "ws://example.com/#fragment",
    ] {
        let err = Driver::client(url, Options::default()).unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::InvalidUrl(_)),
            "{url}: {err}"
        );
    }
}

#[test]
fn client_keys_are_fresh() {
    let keys: std::collections::HashSet<String> = (0..32)
        .map(|_| client_key(&Driver::client("ws://x/", Options::default()).unwrap()))
        .collect();
    assert_eq!(keys.len(), 32);
    for key in &keys {
        assert_eq!(BASE64.decode(key).unwrap().len(), 16);
    }
}

fn response_for(d: &Driver, extra: &str) -> String {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n{extra}\r\n",
        accept_key(client_key(d).as_bytes())
    )
}

fn started_client(options: Options) -> Driver {
    let mut d = Driver::client("ws://example.com/chat", options).unwrap();
    d.start(Instant::now());
    drain(&mut d);
    d
}

#[test]
fn client_response_at_every_split_point_keeps_frames_in_the_same_chunk() {
    let probe = started_client(Options::default().protocols(["a", "b"]));
    let mut wire = response_for(&probe, "Sec-WebSocket-Protocol: b\r\n").into_bytes();
    let head_len = wire.len();
    wire.extend_from_slice(b"\x81\x05Hello\x89\x00");
    for split in 0..=wire.len() {
        // A fresh client per split, with the same key re-signed.
        let mut d = started_client(Options::default().protocols(["a", "b"]));
        d.text("queued").unwrap();
        let mut wire = response_for(&d, "Sec-WebSocket-Protocol: b\r\n").into_bytes();
        wire.extend_from_slice(b"\x81\x05Hello\x89\x00");
        d.receive(&wire[..split], Instant::now());
        if split < head_len {
            assert_eq!(d.ready_state(), ReadyState::Connecting, "split {split}");
            assert_eq!(drain(&mut d).0, b"", "nothing sent before open");
        }
        d.receive(&wire[split..], Instant::now());
        assert_eq!(d.ready_state(), ReadyState::Open);
        assert_eq!(d.protocol(), Some("b"));
        assert_eq!(
            events(&mut d),
            vec![
                Event::Open,
                Event::Message(Message::text("Hello")),
                Event::Ping(Bytes::new())
            ],
            "split {split}"
        );
        // The queued text, then the pong, both masked.
        let (out, _) = drain(&mut d);
        assert_eq!(out[0], 0x81);
        assert_eq!(out[1], 0x80 | 6);
        let pong = &out[2 + 4 + 6..];
        assert_eq!(pong[..2], [0x8A, 0x80]);
        assert_eq!(d.handshake_response().unwrap().status(), 101);
    }
}

fn refused(d: &mut Driver, response: &str) -> Error {
    d.receive(response.as_bytes(), Instant::now());
    let evs = events(d);
    assert_eq!(evs.len(), 2, "{evs:?}");
    assert_eq!(
        evs[1],
        Event::Close(CloseFrame::new(CloseCode::ABNORMAL, ""))
    );
    let (out, shutdown) = drain(d);
    assert_eq!(out, b"", "nothing is sent to a server that refused");
    assert!(shutdown);
    assert_eq!(d.ready_state(), ReadyState::Closed);
    assert!(d.text("x").unwrap_err().is_closed());
    match &evs[0] {
        Event::Error(e) => {
            assert!(e.is_handshake(), "{e}");
            e.clone()
        }
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn client_refuses_a_wrong_status() {
    for status in ["200 OK", "403 Forbidden", "426 Upgrade Required"] {
        let mut d = started_client(Options::default());
        let err = refused(
            &mut d,
            &format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n"),
        );
        assert!(
            matches!(err.kind(), ErrorKind::UnexpectedStatus(_)),
            "{err}"
        );
    }
}

#[test]
fn client_refuses_missing_upgrade_or_connection() {
    for drop in ["Upgrade: websocket\r\n", "Connection: Upgrade\r\n"] {
        let mut d = started_client(Options::default());
        let res = response_for(&d, "").replace(drop, "");
        let err = refused(&mut d, &res);
        assert!(
            matches!(err.kind(), ErrorKind::MalformedResponse(_)),
            "{err}"
        );
    }
}

#[test]
fn client_refuses_a_bad_accept() {
    let mut d = started_client(Options::default());
    let res = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {RFC_ACCEPT}\r\n\r\n"
    );
    let err = refused(&mut d, &res);
    assert_eq!(err.kind(), &ErrorKind::InvalidAccept);
    let mut d = started_client(Options::default());
    let res = response_for(&d, "").replace("Sec-WebSocket-Accept", "X-Accept");
    let err = refused(&mut d, &res);
    assert!(
        matches!(err.kind(), ErrorKind::MalformedResponse(_)),
        "{err}"
    );
}

#[test]
fn client_refuses_an_unoffered_protocol() {
    let mut d = started_client(Options::default().protocols(["chat"]));
    let res = response_for(&d, "Sec-WebSocket-Protocol: superchat\r\n");
    let err = refused(&mut d, &res);
    assert_eq!(
        err.kind(),
        &ErrorKind::UnofferedProtocol("superchat".into())
    );
    let mut d = started_client(Options::default());
    let res = response_for(&d, "Sec-WebSocket-Protocol: chat\r\n");
    let err = refused(&mut d, &res);
    assert_eq!(err.kind(), &ErrorKind::UnofferedProtocol("chat".into()));
}

#[test]
fn client_refuses_an_unoffered_extension() {
    let mut d = started_client(Options::default());
    let res = response_for(
        &d,
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n",
    );
    let err = refused(&mut d, &res);
    assert_eq!(
        err.kind(),
        &ErrorKind::UnofferedExtension("permessage-deflate".into())
    );
}

#[test]
fn client_finish_handshake_for_http_stacks() {
    let mut d = Driver::client("ws://example.com/", Options::default()).unwrap();
    d.start_without_head(Instant::now());
    assert_eq!(drain(&mut d).0, b"", "the HTTP stack sends the request");
    let bad = http::Response::builder()
        .status(101)
        .header("upgrade", "websocket")
        .header("connection", "upgrade")
        .header("sec-websocket-accept", "nope")
        .body(())
        .unwrap();
    assert_eq!(
        d.finish_handshake(&bad, Instant::now()).unwrap_err().kind(),
        &ErrorKind::InvalidAccept
    );
    let good = http::Response::builder()
        .status(101)
        .header("upgrade", "websocket")
        .header("connection", "upgrade")
        .header(
            "sec-websocket-accept",
            accept_key(client_key(&d).as_bytes()),
        )
        .body(())
        .unwrap();
    d.finish_handshake(&good, Instant::now()).unwrap();
    assert_eq!(events(&mut d), vec![Event::Open]);
    assert!(
        d.finish_handshake(&good, Instant::now()).is_err(),
        "only once"
    );
}

#[test]
fn oversized_response_heads_are_refused() {
    let mut d = started_client(Options::default().max_handshake_size(128));
    let mut res = "HTTP/1.1 101 Switching Protocols\r\nX-Pad: ".to_string();
    res.push_str(&"a".repeat(200));
    let err = refused(&mut d, &res);
    assert!(
        matches!(err.kind(), ErrorKind::MalformedResponse(_)),
        "{err}"
    );
}

#[test]
fn http_1_0_requests_are_400() {
    // RFC 6455 section 4.2.1: "the HTTP version MUST be at least 1.1".
    let raw = format!(
        "GET /chat HTTP/1.0\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: {RFC_KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    let err = match Driver::server_from_bytes(raw.as_bytes(), Options::default()) {
        Err(e) => e,
        Ok(_) => panic!("HTTP/1.0 accepted"),
    };
    assert!(
        matches!(err.kind(), ErrorKind::MalformedRequest(_)),
        "{err}"
    );
    assert_eq!(err.response().unwrap().status(), 400);
    let mut req = hybi_request("13");
    *req.version_mut() = http::Version::HTTP_10;
    assert!(Driver::server(&req, Options::default()).is_err());
    let mut req = hixie75_request();
    *req.version_mut() = http::Version::HTTP_10;
    assert!(Driver::server(&req, drafts()).is_err());
}
