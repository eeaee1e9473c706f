//! An echo server built only on the sans-IO core and `std::net`, a thread per
//! connection: the core does not care where its bytes come from.
//!
//! ```sh
//! cargo run --release --example blocking_echo -- 127.0.0.1:9002
//! ```
//!
//! It serves hixie-75, hixie-76 and RFC 6455 on any path, echoes text (and binary
//! where the version has it), answers pings and completes the closing handshake.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::time::{Duration, Instant};
use websocket_protocol::protocol::{Driver, Event, Message, Options, Transmit};

fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9002".into());
    let listener = TcpListener::bind(&addr)?;
    println!("listening on ws://{}", listener.local_addr()?);
    for stream in listener.incoming() {
        let stream = stream?;
        std::thread::spawn(move || {
            let peer = stream.peer_addr().ok();
            if let Err(e) = serve(stream) {
                eprintln!("{peer:?}: {e}");
            }
        });
    }
    Ok(())
}

fn options() -> Options {
    Options::default()
        .allow_drafts(true)
        .max_frame_size(64 << 20)
        .max_message_size(64 << 20)
}

fn serve(mut stream: TcpStream) -> io::Result<()> {
    let mut buf = vec![0u8; 16 << 10];
    let mut head = Vec::new();
    // Read until the request head is complete, answering a bad one with its
    // HTTP error response.
    let mut driver = loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
        match Driver::server_from_bytes(&head, options()) {
            Ok(Some(driver)) => break driver,
            Ok(None) => continue,
            Err(e) => {
                if let Some(response) = e.response_bytes() {
                    stream.write_all(&response)?;
                }
                return Ok(());
            }
        }
    };
    driver.start(Instant::now());
    loop {
        // Answer what the last input asked for.
        while let Some(event) = driver.poll_event() {
            match event {
                Event::Message(Message::Text(text)) => {
                    let _ = driver.text(text);
                }
                Event::Message(Message::Binary(data)) => {
                    let _ = driver.binary(data);
                }
                Event::Error(e) => eprintln!("closing: {e}"),
                _ => {}
            }
        }
        while let Some(out) = driver.poll_transmit() {
            match out {
                Transmit::Data(bytes) => stream.write_all(&bytes)?,
                Transmit::Shutdown => {
                    stream.shutdown(Shutdown::Both).ok();
                    return Ok(());
                }
            }
        }
        // Wait for input, but no longer than the next timer.
        let wait = driver.poll_timeout().map(|t| {
            t.saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1))
        });
        stream.set_read_timeout(wait)?;
        match stream.read(&mut buf) {
            Ok(0) => driver.receive_eof(Instant::now()),
            Ok(n) => driver.receive(&buf[..n], Instant::now()),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(e),
        }
        let now = Instant::now();
        if driver.poll_timeout().is_some_and(|t| t <= now) {
            driver.handle_timeout(now);
        }
    }
}
