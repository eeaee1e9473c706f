//! Streams a file to a WebSocket server as one binary message, in fragments of
//! at most 64 KiB, without reading the file into memory; then closes and prints
//! the close frame the server answers with.
//!
//! ```text
//! cargo run --example send_file -- ws://127.0.0.1:9001 ./big.iso
//! ```
//!
//! On stderr it reports the bytes sent and the most heap the process held at
//! once (a counting allocator), which stays near the fragment size plus the
//! write buffer whatever the file's size: `peak heap: N bytes`.

#[path = "../tests/alloc_support/mod.rs"]
mod alloc_support;

use alloc_support::Counting;
use tokio::io::AsyncWriteExt;
use websocket_protocol::protocol::MessageKind;
use websocket_protocol::{client, CloseCode, Config};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const USAGE: &str = "usage: send_file ws[s]://host[:port]/path FILE";

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, path] = &args[..] else {
        eprintln!("{USAGE}");
        std::process::exit(2);
    };
    if let Err(e) = run(url, path).await {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

async fn run(url: &str, path: &str) -> Result<(), Box<dyn std::error::Error>> {
    let mut file = tokio::fs::File::open(path).await?;
    let config = Config::default().fragment_size(64 << 10);
    let (mut ws, _) = client::Builder::new(url).config(config).connect().await?;
    alloc_support::reset_peak();
    let before = alloc_support::live();

    let mut writer = ws.message_writer(MessageKind::Binary)?;
    let sent = tokio::io::copy(&mut file, &mut writer).await?;
    writer.shutdown().await?; // the last fragment, with FIN
    drop(writer);
    let peak = alloc_support::peak().saturating_sub(before);
    eprintln!("sent {sent} bytes as one message; peak heap: {peak} bytes");

    let frame = ws.close(CloseCode::NORMAL, "file sent").await?;
    println!(
        "close frame: {} {:?}",
        u16::from(frame.code),
        frame.reason.as_str()
    );
    Ok(())
}
