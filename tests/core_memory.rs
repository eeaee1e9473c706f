//! Memory the driver allocates for large frames and messages, measured with a
//! counting global allocator: it stays within the configured limits (plus a small
//! constant), not the up-to-twice-as-much that doubling buffers would reach.
//!
//! One test function only: the allocator counts the whole process.

mod core_support;

use core_support::*;
use std::time::{Duration, Instant};

use std::sync::atomic::Ordering::Relaxed;
use websocket_protocol::protocol::{Driver, Event, Message, Options};

mod alloc_support;
use alloc_support::{Counting, COUNT, LIVE, PEAK};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const MIB: usize = 1 << 20;
const CHUNK: usize = 64 << 10;
/// Handshake, events, the odd small allocation.
const SLACK: usize = 16 << 10;

fn masked(first: u8, len: usize) -> Vec<u8> {
    let mut out = vec![first, 0xFF];
    out.extend_from_slice(&(len as u64).to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]); // a zero key leaves the payload as is
    out.resize(out.len() + len, b'a');
    out
}

/// Peak bytes allocated while `run` feeds the driver, above what was live before.
fn peak_during(run: impl FnOnce()) -> usize {
    let base = LIVE.load(Relaxed);
    PEAK.store(base, Relaxed);
    run();
    PEAK.load(Relaxed) - base
}

#[test]
fn large_frames_and_messages_stay_within_the_limits() {
    // Small frames in reads that cut them anywhere: the input buffer reuses the
    // space consumed frames leave instead of allocating per read.
    let frame = {
        let mut f = vec![0x82, 0x8A, 0, 0, 0, 0];
        f.extend_from_slice(b"0123456789");
        f
    };
    let wire = frame.repeat(4096);
    let mut d = open_server(Options::default());
    for piece in wire.chunks(1000) {
        d.receive(piece, Instant::now());
        while d.poll_event().is_some() {}
    }
    let before = COUNT.load(Relaxed);
    let mut reads = 0;
    // A frame that ends a read is copied out (one exact allocation, which
    // spares the buffer from being shared): those are the message's, not the
    // buffer's.
    let mut copies = 0;
    for _ in 0..4 {
        for (i, piece) in wire.chunks(1000).enumerate() {
            d.receive(piece, Instant::now());
            reads += 1;
            copies += usize::from((i * 1000 + piece.len()) % frame.len() == 0);
            while d.poll_event().is_some() {}
        }
    }
    let per_read = (COUNT.load(Relaxed) - before - copies) as f64 / reads as f64;
    eprintln!(
        "allocations per 1000-byte read of 16-byte frames, besides {copies} copied \
         payloads in {reads} reads: {per_read:.2}"
    );
    assert!(per_read < 1.0, "{per_read} allocations per read");

    let options = Options::default().max_frame_size(MIB).max_message_size(MIB);

    // One 1 MiB frame read in 64 KiB pieces: the input buffer grows to the frame,
    // not to the next power of two above frame + header.
    let wire = masked(0x82, MIB);
    let mut d = open_server(options.clone());
    let idle = LIVE.load(Relaxed);
    let peak = peak_during(|| {
        for piece in wire.chunks(CHUNK) {
            d.receive(piece, Instant::now());
        }
        assert_eq!(
            d.poll_event()
                .map(|e| matches!(e, Event::Message(m) if m.len() == MIB)),
            Some(true)
        );
    });
    // The buffer ends at the frame's size; while it grows, the old and the new
    // allocation are briefly both alive (the last step is from half to all).
    assert!(
        peak <= MIB + MIB / 2 + SLACK,
        "one 1 MiB frame peaked at {peak} bytes"
    );
    eprintln!("one 1 MiB frame: peak {peak} bytes");
    // Once the message is dropped and the transport is quiet, the frame's
    // buffer is kept for the next large message...
    d.shrink_input();
    let kept = LIVE.load(Relaxed).saturating_sub(idle);
    assert!(kept >= MIB, "the driver kept only {kept} bytes");
    let peak = peak_during(|| {
        for piece in wire.chunks(CHUNK) {
            d.receive(piece, Instant::now());
        }
        match d.poll_event() {
            Some(Event::Message(Message::Binary(b))) => assert!(b.iter().all(|&x| x == b'a')),
            other => panic!("{other:?}"),
        }
    });
    assert!(
        peak <= SLACK,
        "the second 1 MiB frame allocated {peak} bytes instead of reusing the buffer"
    );
    // ...but never over a message the application still holds: the next frame
    // then gets memory of its own.
    for piece in wire.chunks(CHUNK) {
        d.receive(piece, Instant::now());
    }
    let Some(Event::Message(held)) = d.poll_event() else {
        panic!("no message")
    };
    let mut other = wire.clone();
    other[14..].fill(b'b');
    for piece in other.chunks(CHUNK) {
        d.receive(piece, Instant::now());
    }
    let Some(Event::Message(next)) = d.poll_event() else {
        panic!("no message")
    };
    assert!(held.as_bytes().iter().all(|&x| x == b'a'));
    assert!(next.as_bytes().iter().all(|&x| x == b'b'));
    drop((held, next, other));
    // ...and given back after a second with nothing read: an idle connection
    // does not keep the memory of the largest frame it saw.
    d.shrink_input();
    let release = d
        .poll_timeout()
        .expect("the kept buffer's release is armed");
    assert!(release <= Instant::now() + Duration::from_secs(1));
    d.handle_timeout(release - Duration::from_millis(1));
    assert!(LIVE.load(Relaxed).saturating_sub(idle) >= MIB);
    d.handle_timeout(release);
    let retained = LIVE.load(Relaxed).saturating_sub(idle);
    assert!(
        retained <= SLACK,
        "the driver kept {retained} bytes a second after a 1 MiB frame"
    );
    assert_eq!(d.poll_timeout(), None, "no timer left armed");
    drop(d);

    // A message of two fragments, the first nearly the whole limit: the joined
    // message is held once, within the max message size.
    let mut wire = masked(0x02, MIB - 1);
    wire.extend_from_slice(&[0x80, 0x81, 0, 0, 0, 0, b'z']);
    let mut d = open_server(options);
    let peak = peak_during(|| {
        for piece in wire.chunks(CHUNK) {
            d.receive(piece, Instant::now());
        }
        match d.poll_event() {
            Some(Event::Message(Message::Binary(b))) => assert_eq!(b.len(), MIB),
            other => panic!("{other:?}"),
        }
    });
    // The frame in the input buffer (and its growth), then that frame and the
    // message being joined, held once within the max message size.
    assert!(
        peak <= 2 * MIB + SLACK,
        "a 1 MiB fragmented message peaked at {peak} bytes"
    );
    eprintln!("1 MiB message in two fragments: peak {peak} bytes");

    // A hixie text run of 1 MiB, the most the limit allows, read in 64 KiB
    // pieces: its length is unknown until the 0xFF, so the buffer doubles, but
    // never past the limit.
    let req = http::Request::get("/")
        .header("Host", "x")
        .header("Upgrade", "WebSocket")
        .header("Connection", "Upgrade")
        .body(())
        .unwrap();
    let options = Options::default().max_message_size(MIB).allow_drafts(true);
    let mut d = Driver::server(&req, options).unwrap();
    d.start(Instant::now());
    while d.poll_transmit().is_some() {}
    assert_eq!(d.poll_event(), Some(Event::Open));
    let mut wire = vec![0x00];
    wire.resize(MIB + 1, b'h');
    wire.push(0xFF);
    let peak = peak_during(|| {
        for piece in wire.chunks(CHUNK) {
            d.receive(piece, Instant::now());
        }
        match d.poll_event() {
            Some(Event::Message(m)) => assert_eq!(m.len(), MIB),
            other => panic!("{other:?}"),
        }
    });
    assert!(
        peak <= MIB + MIB / 2 + SLACK,
        "a 1 MiB hixie text run peaked at {peak} bytes"
    );
    eprintln!("1 MiB hixie text run: peak {peak} bytes");

    // A peer announces a 16 MiB frame (the default limit) and sends it slowly,
    // read in place as the socket reads (up to 1 MiB at a time): the buffer
    // grows with what arrived, to at most one read or four times it, and ends
    // at the frame's size.
    let mut d = open_server(Options::default());
    let frame = masked(0x82, 16 * MIB);
    let (header, payload) = frame.split_at(14);
    d.receive(header, Instant::now());
    let mut arrived = 0;
    let mut most = 0;
    let peak = peak_during(|| {
        for piece in payload.chunks(100 << 10) {
            let mut piece = piece;
            while !piece.is_empty() {
                let chunk = d.input_chunk(MIB);
                let n = chunk.len().min(piece.len());
                chunk[..n].copy_from_slice(&piece[..n]);
                d.commit(n, Instant::now());
                piece = &piece[n..];
                arrived += n;
                if arrived < 16 * MIB {
                    let held = d.input_capacity();
                    assert!(
                        held <= (4 * arrived).max(MIB + SLACK),
                        "{held} bytes of buffer for {arrived} bytes of a frame"
                    );
                    most = most.max(held);
                }
            }
        }
        match d.poll_event() {
            Some(Event::Message(m)) => assert_eq!(m.len(), 16 * MIB),
            other => panic!("{other:?}"),
        }
    });
    assert!(
        peak <= 16 * MIB + 4 * MIB + SLACK,
        "a 16 MiB frame peaked at {peak} bytes"
    );
    eprintln!(
        "16 MiB frame read in place: peak {peak} bytes, buffer at most {most} bytes before the end"
    );
}
