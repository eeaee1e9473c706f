//! A line-based WebSocket client: each line of stdin goes out as a text message,
//! and whatever arrives is printed.
//!
//! ```text
//! cargo run --example client -- ws://127.0.0.1:9001
//! cargo run --example client -- --protocol chat --header 'Authorization: Bearer t' ws://host/chat
//! cargo run --example client --features rustls -- wss://echo.example/
//! ```
//!
//! Flags: `--protocol P` and `--header 'Name: value'` (both repeatable),
//! `--proxy http[s]://host:port` (without it, the proxy that `https_proxy`,
//! `http_proxy`, `all_proxy` and `no_proxy` name, as curl reads them),
//! `--no-proxy`, `--timeout SECONDS`. End stdin (Ctrl-D) to close.

use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use websocket_protocol::client::{Builder, ErrorKind};
use websocket_protocol::{CloseCode, Message};

const USAGE: &str = "usage: client [--protocol P]... [--header 'Name: value']... \
                     [--proxy http[s]://host:port | --no-proxy] [--timeout SECONDS] ws[s]://host[:port]/path";

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let builder = match parse_args(std::env::args().skip(1)) {
        Ok(builder) => builder,
        Err(why) => {
            eprintln!("{why}\n{USAGE}");
            std::process::exit(2);
        }
    };
    let (mut ws, response) = match builder.connect().await {
        Ok(connected) => connected,
        Err(e) => {
            eprintln!("error: {}", chain(&e));
            if e.kind() == ErrorKind::Refused {
                for (name, value) in e.headers().into_iter().flatten() {
                    eprintln!("  {name}: {}", String::from_utf8_lossy(value.as_bytes()));
                }
            }
            std::process::exit(1);
        }
    };
    let protocol = response
        .headers()
        .get("sec-websocket-protocol")
        .map_or("none", |p| p.to_str().unwrap_or("?"));
    eprintln!("connected (subprotocol: {protocol}); type lines, Ctrl-D to close");

    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    loop {
        tokio::select! {
            line = lines.next_line() => match line {
                Ok(Some(line)) => {
                    if let Err(e) = ws.send(Message::text(line)).await {
                        eprintln!("send failed: {}", chain(&e));
                        break;
                    }
                }
                // stdin ended (or failed): say goodbye.
                _ => {
                    let closed = ws.close(CloseCode::NORMAL, "bye").await;
                    // Echoes of the last lines may have arrived during the close.
                    while let Some(Ok(message)) = ws.recv().await {
                        print_message(message);
                    }
                    match closed {
                        Ok(frame) => eprintln!("closed: {} {}", frame.code, frame.reason),
                        Err(e) => eprintln!("close failed: {}", chain(&e)),
                    }
                    return;
                }
            },
            message = ws.recv() => match message {
                Some(Ok(message)) => print_message(message),
                Some(Err(e)) => {
                    eprintln!("connection failed: {}", chain(&e));
                    break;
                }
                None => break,
            },
        }
    }
    match ws.close_frame() {
        Some(frame) => eprintln!("server closed: {} {}", frame.code, frame.reason),
        None => eprintln!("connection ended"),
    }
}

/// An error and its causes, "connecting to host: Connection refused": each
/// error's `Display` is its own text, its `source()` the cause.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        text = format!("{text}: {e}");
        cause = e.source();
    }
    text
}

fn print_message(message: Message) {
    match message {
        Message::Text(text) => println!("{text}"),
        Message::Binary(data) => println!("<{} bytes of binary>", data.len()),
    }
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Builder, String> {
    let mut url = None;
    let mut protocols = Vec::new();
    let mut headers = Vec::new();
    let mut proxy = None;
    let mut timeout = None;
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| args.next().ok_or(format!("{flag} needs a value"));
        match arg.as_str() {
            "--protocol" => protocols.push(value("--protocol")?),
            "--header" => {
                let header = value("--header")?;
                let (name, val) = header
                    .split_once(':')
                    .ok_or(format!("--header {header:?}: expected 'Name: value'"))?;
                headers.push((name.trim().to_owned(), val.trim().to_owned()));
            }
            "--proxy" => proxy = Some(Some(value("--proxy")?)),
            "--no-proxy" => proxy = Some(None),
            "--timeout" => {
                let secs = value("--timeout")?;
                let secs: f64 = secs
                    .parse()
                    .map_err(|_| format!("--timeout {secs:?}: expected seconds"))?;
                timeout = Some(
                    Duration::try_from_secs_f64(secs)
                        .map_err(|_| format!("--timeout {secs}: out of range"))?,
                );
            }
            "-h" | "--help" => return Err("a line-based WebSocket client".into()),
            flag if flag.starts_with("--") => return Err(format!("unknown flag {flag}")),
            _ if url.is_none() => url = Some(arg),
            _ => return Err(format!("unexpected argument {arg:?}")),
        }
    }
    let mut builder = Builder::new(url.ok_or("no URL given")?);
    if !protocols.is_empty() {
        builder = builder.protocols(protocols);
    }
    for (name, value) in headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    if let Some(proxy) = proxy {
        builder = builder.proxy(proxy);
    }
    if let Some(timeout) = timeout {
        builder = builder.connect_timeout(timeout);
    }
    Ok(builder)
}
