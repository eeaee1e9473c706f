//! The sans-IO core against a peer nobody here wrote: tungstenite (blocking) over
//! `std::net` TCP on 127.0.0.1, one thread per side, in both roles.

mod core_support;

use core_support::*;

use std::io::{ErrorKind as IoErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::{
    self,
    protocol::{
        frame::{
            coding::{CloseCode as TCode, Data, OpCode},
            Frame,
        },
        CloseFrame as TClose,
    },
    Message as TMessage,
};
use websocket_protocol::protocol::{
    CloseCode, CloseFrame, Driver, Event, Message, Options, Transmit,
};

/// No test may hang: every socket read gives up after this.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// A blocking connection run by the core: the smallest I/O loop there is.
struct Conn {
    stream: TcpStream,
    driver: Driver,
    buf: Vec<u8>,
}

impl Conn {
    fn new(stream: TcpStream, driver: Driver) -> Self {
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_nodelay(true).unwrap();
        Conn {
            stream,
            driver,
            buf: vec![0; 64 << 10],
        }
    }

    /// Writes what the driver queued; half-closes on `Transmit::Shutdown`.
    fn flush(&mut self) {
        self.driver.handle_timeout(Instant::now());
        while let Some(t) = self.driver.poll_transmit() {
            match t {
                Transmit::Data(bytes) => self.stream.write_all(&bytes).unwrap(),
                Transmit::Shutdown => {
                    let _ = self.stream.shutdown(Shutdown::Write);
                }
            }
        }
    }

    /// The next event, reading as needed; `None` once the driver is finished.
    fn next_event(&mut self) -> Option<Event> {
        loop {
            self.flush();
            if let Some(e) = self.driver.poll_event() {
                self.flush();
                return Some(e);
            }
            if self.driver.is_finished() {
                return None;
            }
            match self.stream.read(&mut self.buf) {
                Ok(0) => self.driver.receive_eof(Instant::now()),
                Ok(n) => self.driver.receive(&self.buf[..n], Instant::now()),
                Err(e) if e.kind() == IoErrorKind::ConnectionReset => {
                    self.driver.receive_eof(Instant::now())
                }
                Err(e) => panic!("read failed (a hang?): {e}"),
            }
        }
    }

    /// Every event until the driver is finished.
    fn events_until_finished(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.next_event()).collect()
    }
}

/// Our server on a fresh port; `serve` gets the open connection.
fn our_server<T: Send + 'static>(
    serve: impl FnOnce(Conn) -> T + Send + 'static,
) -> (String, thread::JoinHandle<T>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/socket", listener.local_addr().unwrap());
    let handle = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        let mut head = Vec::new();
        let mut buf = [0u8; 4096];
        let driver = loop {
            let n = stream.read(&mut buf).unwrap();
            assert!(n > 0, "client left during the handshake");
            head.extend_from_slice(&buf[..n]);
            if let Some(d) = Driver::server_from_bytes(&head, Options::default()).unwrap() {
                break d;
            }
        };
        let mut conn = Conn::new(stream, driver);
        conn.driver.start(Instant::now());
        assert_eq!(conn.next_event(), Some(Event::Open));
        serve(conn)
    });
    (url, handle)
}

/// Echoes messages until the connection ends; returns every event seen.
fn echo(mut conn: Conn) -> Vec<Event> {
    let mut seen = Vec::new();
    while let Some(event) = conn.next_event() {
        if let Event::Message(m) = &event {
            conn.driver.send(m.clone()).unwrap();
        }
        seen.push(event);
    }
    seen
}

fn tungstenite_client(url: &str) -> tungstenite::WebSocket<TcpStream> {
    let addr = url.trim_start_matches("ws://").split('/').next().unwrap();
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let (ws, res) = tungstenite::client(url, stream).unwrap();
    assert_eq!(res.status(), 101);
    ws
}

fn read_data(ws: &mut tungstenite::WebSocket<TcpStream>) -> TMessage {
    loop {
        match ws.read().unwrap() {
            TMessage::Ping(_) | TMessage::Pong(_) => continue,
            m => return m,
        }
    }
}

/// Reads until tungstenite reports the end; returns the close frame it saw.
fn read_to_close(ws: &mut tungstenite::WebSocket<TcpStream>) -> Option<TClose> {
    let mut close = None;
    loop {
        match ws.read() {
            Ok(TMessage::Close(f)) => close = f,
            Ok(_) => {}
            Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                return close
            }
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
}

fn fragment(data: &[u8], opcode: Data, fin: bool) -> TMessage {
    TMessage::Frame(Frame::message(data.to_vec(), OpCode::Data(opcode), fin))
}

// ---- our server, tungstenite client ----------------------------------------------------

#[test]
fn server_echoes_text_binary_and_fragments_to_tungstenite() {
    let (url, server) = our_server(echo);
    let mut ws = tungstenite_client(&url);

    ws.send(TMessage::text("hello from tungstenite")).unwrap();
    assert_eq!(read_data(&mut ws), TMessage::text("hello from tungstenite"));

    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
    ws.send(TMessage::binary(big.clone())).unwrap();
    assert_eq!(read_data(&mut ws), TMessage::binary(big.clone()));

    // A fragmented text message with a ping between its fragments, a code point
    // split across them.
    ws.send(fragment(&"h€".as_bytes()[..2], Data::Text, false))
        .unwrap();
    ws.send(TMessage::Ping("mid".into())).unwrap();
    ws.send(fragment(&"h€".as_bytes()[2..], Data::Continue, false))
        .unwrap();
    ws.send(fragment(b"llo", Data::Continue, true)).unwrap();
    assert_eq!(read_data(&mut ws), TMessage::text("h€llo"));
    ws.send(fragment(&[1, 2], Data::Binary, false)).unwrap();
    ws.send(fragment(&[3], Data::Continue, true)).unwrap();
    assert_eq!(read_data(&mut ws), TMessage::binary(vec![1, 2, 3]));

    ws.close(Some(TClose {
        code: TCode::from(4001),
        reason: "tungstenite leaves".into(),
    }))
    .unwrap();
    let echoed = read_to_close(&mut ws).expect("close echoed");
    assert_eq!(u16::from(echoed.code), 4001);
    assert_eq!(echoed.reason.as_str(), "tungstenite leaves");

    let seen = server.join().unwrap();
    assert!(seen.contains(&Event::Ping("mid".into())));
    assert!(seen.contains(&Event::Message(Message::binary(big))));
    assert!(seen.contains(&Event::Message(Message::text("h€llo"))));
    assert_eq!(
        seen.last(),
        Some(&Event::Close(CloseFrame::new(4001, "tungstenite leaves")))
    );
}

#[test]
fn server_pings_and_closes_tungstenite() {
    let (url, server) = our_server(|mut conn| {
        conn.driver.ping(&b"are you there"[..]).unwrap();
        let pong = conn.next_event();
        conn.driver.text("before close").unwrap();
        conn.driver
            .close(CloseCode::GOING_AWAY, "server leaves", Instant::now())
            .unwrap();
        let mut rest = conn.events_until_finished();
        rest.insert(0, pong.unwrap());
        rest
    });
    let mut ws = tungstenite_client(&url);
    let mut seen = Vec::new();
    let close = loop {
        match ws.read() {
            Ok(TMessage::Close(f)) => break f,
            Ok(m) => seen.push(m),
            Err(e) => panic!("{e}"),
        }
    };
    assert_eq!(
        seen,
        vec![
            TMessage::Ping("are you there".into()),
            TMessage::text("before close")
        ]
    );
    let close = close.expect("a close frame with a code");
    assert_eq!(close.code, TCode::Away);
    assert_eq!(close.reason.as_str(), "server leaves");
    // tungstenite queues its echo; flushing it ends the handshake.
    let _ = ws.flush();
    read_to_close(&mut ws);
    let seen = server.join().unwrap();
    assert_eq!(seen[0], Event::Pong("are you there".into()));
    assert_eq!(
        seen.last(),
        Some(&Event::Close(CloseFrame::new(1001, "server leaves")))
    );
}

// ---- our client, tungstenite server ------------------------------------------------------

/// A tungstenite server on a fresh port; `serve` gets the accepted socket.
fn tungstenite_server<T: Send + 'static>(
    serve: impl FnOnce(tungstenite::WebSocket<TcpStream>) -> T + Send + 'static,
) -> (String, thread::JoinHandle<T>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/path?q=1", listener.local_addr().unwrap());
    let handle = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        serve(tungstenite::accept(stream).unwrap())
    });
    (url, handle)
}

fn our_client(url: &str) -> Conn {
    let addr = url.trim_start_matches("ws://").split('/').next().unwrap();
    let stream = TcpStream::connect(addr).unwrap();
    let mut driver = Driver::client(url, Options::default()).unwrap();
    driver.start(Instant::now());
    let mut conn = Conn::new(stream, driver);
    assert_eq!(conn.next_event(), Some(Event::Open));
    conn
}

/// Echoes data messages until the peer closes; returns the close frame seen.
fn tungstenite_echo(mut ws: tungstenite::WebSocket<TcpStream>) -> Option<TClose> {
    loop {
        match ws.read() {
            Ok(m @ (TMessage::Text(_) | TMessage::Binary(_))) => ws.send(m).unwrap(),
            Ok(TMessage::Close(f)) => {
                let close = f;
                // Drive the echo out and wait for the end.
                let _ = ws.flush();
                let _ = read_to_close(&mut ws);
                return close;
            }
            Ok(_) => {}
            Err(tungstenite::Error::ConnectionClosed) => return None,
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn client_talks_to_a_tungstenite_server() {
    let (url, server) = tungstenite_server(tungstenite_echo);
    let mut conn = our_client(&url);

    conn.driver.text("hello tungstenite").unwrap();
    assert_eq!(
        conn.next_event(),
        Some(Event::Message(Message::text("hello tungstenite")))
    );
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 249) as u8).collect();
    conn.driver.binary(big.clone()).unwrap();
    assert_eq!(
        conn.next_event(),
        Some(Event::Message(Message::binary(big)))
    );
    // tungstenite answers our ping.
    conn.driver.ping(&b"ping from core"[..]).unwrap();
    assert_eq!(
        conn.next_event(),
        Some(Event::Pong("ping from core".into()))
    );

    conn.driver
        .close(4002, "core leaves", Instant::now())
        .unwrap();
    let events = conn.events_until_finished();
    assert_eq!(
        events,
        vec![Event::Close(CloseFrame::new(4002, "core leaves"))]
    );
    let close = server.join().unwrap().expect("tungstenite saw our close");
    assert_eq!(u16::from(close.code), 4002);
    assert_eq!(close.reason.as_str(), "core leaves");
}

#[test]
fn client_receives_fragments_pings_and_close_from_tungstenite() {
    let (url, server) = tungstenite_server(|mut ws| {
        ws.send(fragment(b"frag", Data::Text, false)).unwrap();
        ws.send(TMessage::Ping("between".into())).unwrap();
        ws.send(fragment(b"men", Data::Continue, false)).unwrap();
        ws.send(fragment(b"ted", Data::Continue, true)).unwrap();
        ws.send(fragment(&[9, 8], Data::Binary, false)).unwrap();
        ws.send(fragment(&[7], Data::Continue, true)).unwrap();
        ws.close(Some(TClose {
            code: TCode::Normal,
            reason: "tungstenite is done".into(),
        }))
        .unwrap();
        // Reads our pong, then our close echo, then ends.
        let mut pongs = Vec::new();
        loop {
            match ws.read() {
                Ok(TMessage::Pong(p)) => pongs.push(p),
                Ok(_) => {}
                Err(tungstenite::Error::ConnectionClosed) => break,
                Err(e) => panic!("{e}"),
            }
        }
        pongs
    });
    let mut conn = our_client(&url);
    let events = conn.events_until_finished();
    assert_eq!(
        events,
        vec![
            Event::Ping("between".into()),
            Event::Message(Message::text("fragmented")),
            Event::Message(Message::binary(vec![9, 8, 7])),
            Event::Close(CloseFrame::new(1000, "tungstenite is done")),
        ]
    );
    assert_eq!(server.join().unwrap(), vec![bytes::Bytes::from("between")]);
}

// ---- in memory, randomised ----------------------------------------------------------------

/// An in-memory stream for tungstenite: reads from `input`, writes to `output`.
#[derive(Default)]
struct Memory {
    input: std::io::Cursor<Vec<u8>>,
    output: Vec<u8>,
}

impl Read for Memory {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.input.read(buf)?;
        if n == 0 && !buf.is_empty() {
            return Err(IoErrorKind::WouldBlock.into());
        }
        Ok(n)
    }
}

impl Write for Memory {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.output.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A message as tungstenite sends it: whole, or cut into `cuts` fragments.
fn tungstenite_send(ws: &mut tungstenite::WebSocket<Memory>, m: &Message, cuts: usize) {
    let (data, kind) = match m {
        Message::Text(t) => (t.as_bytes().to_vec(), Data::Text),
        Message::Binary(b) => (b.to_vec(), Data::Binary),
    };
    if cuts <= 1 {
        let msg = match m {
            Message::Text(t) => TMessage::text(t.as_str()),
            Message::Binary(b) => TMessage::binary(b.clone()),
        };
        ws.send(msg).unwrap();
        return;
    }
    let size = data.len().div_ceil(cuts).max(1);
    let pieces: Vec<&[u8]> = if data.is_empty() {
        vec![&[]]
    } else {
        data.chunks(size).collect()
    };
    for (i, piece) in pieces.iter().enumerate() {
        let opcode = if i == 0 { kind } else { Data::Continue };
        ws.send(fragment(piece, opcode, i + 1 == pieces.len()))
            .unwrap();
    }
}

fn arb_message() -> impl proptest::strategy::Strategy<Value = Message> {
    use proptest::prelude::*;
    prop_oneof![
        ".{0,200}".prop_map(|s: String| Message::text(s)),
        prop::collection::vec(any::<u8>(), 0..3000).prop_map(Message::binary),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..Default::default()
    })]

    /// Messages tungstenite sends (whole or fragmented, code points split at
    /// random) reach our server intact, whatever the read sizes.
    #[test]
    fn tungstenite_client_to_our_server(
        messages in proptest::collection::vec((arb_message(), 0usize..5), 1..8),
        read in 1usize..700,
    ) {
        let mut ws = tungstenite::WebSocket::from_raw_socket(
            Memory::default(),
            tungstenite::protocol::Role::Client,
            None,
        );
        for (m, cuts) in &messages {
            tungstenite_send(&mut ws, m, *cuts);
        }
        let wire = std::mem::take(&mut ws.get_mut().output);
        let mut d = open_server(Options::default());
        for piece in wire.chunks(read) {
            d.receive(piece, Instant::now());
        }
        let got: Vec<Event> = std::iter::from_fn(|| d.poll_event()).collect();
        let want: Vec<Event> = messages.iter().map(|(m, _)| Event::Message(m.clone())).collect();
        proptest::prop_assert_eq!(got, want);
    }

    /// Messages our client sends reach tungstenite's server intact.
    #[test]
    fn our_client_to_tungstenite_server(
        messages in proptest::collection::vec(arb_message(), 1..8),
    ) {
        let mut d = Driver::client("ws://x/", Options::default()).unwrap();
        d.start_without_head(Instant::now());
        let key = d.client_request().unwrap().headers()["sec-websocket-key"].clone();
        let res = http::Response::builder()
            .status(101)
            .header("upgrade", "websocket")
            .header("connection", "upgrade")
            .header(
                "sec-websocket-accept",
                websocket_protocol::protocol::accept_key(key.as_bytes()),
            )
            .body(())
            .unwrap();
        d.finish_handshake(&res, Instant::now()).unwrap();
        for m in &messages {
            d.send(m.clone()).unwrap();
        }
        let mut wire = Vec::new();
        while let Some(Transmit::Data(b)) = d.poll_transmit() {
            wire.extend_from_slice(&b);
        }
        let memory = Memory { input: std::io::Cursor::new(wire), output: Vec::new() };
        let mut ws = tungstenite::WebSocket::from_raw_socket(
            memory,
            tungstenite::protocol::Role::Server,
            None,
        );
        for m in &messages {
            let got = ws.read().unwrap();
            let got = match got {
                TMessage::Text(t) => Message::text(t.as_str().to_owned()),
                TMessage::Binary(b) => Message::binary(b),
                other => panic!("{other:?}"),
            };
            proptest::prop_assert_eq!(&got, m);
        }
    }
}
