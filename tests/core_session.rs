//! A client driver against a server driver, in memory, with simulated time: the
//! clock is `Instant::now()` plus durations, advanced to `poll_timeout()`; nothing
//! sleeps.

use bytes::Bytes;
use std::time::{Duration, Instant};
use websocket_protocol::protocol::{
    CloseCode, CloseFrame, Driver, ErrorKind, Event, Message, Options, ReadyState, Transmit,
    KEEPALIVE_PAYLOAD,
};

/// Two drivers joined by an in-memory link; either direction can be cut to play
/// a peer that never answers.
struct Link {
    client: Driver,
    server: Driver,
    now: Instant,
    client_events: Vec<Event>,
    server_events: Vec<Event>,
    /// Whether bytes from the client reach the server (and the other way).
    up_c2s: bool,
    up_s2c: bool,
    client_shut: bool,
    server_shut: bool,
}

impl Link {
    /// Client and server built and started; the client's request is handed over
    /// through `Driver::server_from_bytes`, as a server without an HTTP stack does.
    fn new(client: Options, server: Options) -> Self {
        Self::with_early(client, server, |_, _| {})
    }

    /// Like `new`, calling `early` on both drivers before they start.
    fn with_early(
        client: Options,
        server: Options,
        early: impl FnOnce(&mut Driver, &mut Driver),
    ) -> Self {
        let now = Instant::now();
        let mut c = Driver::client("ws://example.com/chat", client).unwrap();
        c.start(now);
        let mut request = Vec::new();
        while let Some(Transmit::Data(b)) = c.poll_transmit() {
            request.extend_from_slice(&b);
        }
        let mut s = Driver::server_from_bytes(&request, server)
            .unwrap()
            .unwrap();
        early(&mut c, &mut s);
        s.start(now);
        let mut link = Link {
            client: c,
            server: s,
            now,
            client_events: Vec::new(),
            server_events: Vec::new(),
            up_c2s: true,
            up_s2c: true,
            client_shut: false,
            server_shut: false,
        };
        link.run();
        link
    }

    /// Moves bytes both ways until neither side has anything left to say, telling
    /// both drivers the time after each step as the calling order asks.
    fn run(&mut self) {
        loop {
            let mut moved = false;
            self.client.handle_timeout(self.now);
            self.server.handle_timeout(self.now);
            while let Some(t) = self.client.poll_transmit() {
                moved = true;
                match t {
                    Transmit::Data(b) if self.up_c2s => self.server.receive(&b, self.now),
                    Transmit::Data(_) => {}
                    Transmit::Shutdown => {
                        assert!(!self.client_shut, "shutdown twice");
                        self.client_shut = true;
                        self.server.receive_eof(self.now);
                    }
                }
            }
            while let Some(t) = self.server.poll_transmit() {
                moved = true;
                match t {
                    Transmit::Data(b) if self.up_s2c => self.client.receive(&b, self.now),
                    Transmit::Data(_) => {}
                    Transmit::Shutdown => {
                        assert!(!self.server_shut, "shutdown twice");
                        self.server_shut = true;
                        self.client.receive_eof(self.now);
                    }
                }
            }
            self.client_events
                .extend(std::iter::from_fn(|| self.client.poll_event()));
            self.server_events
                .extend(std::iter::from_fn(|| self.server.poll_event()));
            if !moved {
                break;
            }
        }
    }

    /// The earliest armed timer of either side.
    fn next_timer(&self) -> Option<Instant> {
        match (self.client.poll_timeout(), self.server.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Jumps to the next timer (which must be armed) and runs.
    fn fire_next_timer(&mut self) -> Instant {
        let at = self.next_timer().expect("a timer is armed");
        assert!(at >= self.now, "timers never go back in time");
        self.now = at;
        self.run();
        at
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
        self.run();
    }

    fn take_client_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.client_events)
    }

    fn take_server_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.server_events)
    }
}

fn msg(s: &'static str) -> Event {
    Event::Message(Message::text(s))
}

#[test]
fn messages_both_ways_before_and_after_open() {
    let mut link = Link::with_early(Options::default(), Options::default(), |c, s| {
        c.text("client early").unwrap();
        c.binary(vec![1, 2, 3]).unwrap();
        s.text("server early").unwrap();
        assert_eq!(c.ready_state(), ReadyState::Connecting);
        assert_eq!(s.ready_state(), ReadyState::Connecting);
        assert!(c.buffered_amount() > 0 && s.buffered_amount() > 0);
    });
    assert_eq!(
        link.take_server_events(),
        vec![
            Event::Open,
            msg("client early"),
            Event::Message(Message::binary(vec![1, 2, 3]))
        ]
    );
    assert_eq!(
        link.take_client_events(),
        vec![Event::Open, msg("server early")]
    );
    assert_eq!(link.client.ready_state(), ReadyState::Open);
    assert_eq!(link.server.ready_state(), ReadyState::Open);

    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    for i in 0..10 {
        link.client.text(format!("c{i}")).unwrap();
        link.server.text(format!("s{i}")).unwrap();
    }
    link.client.binary(big.clone()).unwrap();
    link.server.binary(big.clone()).unwrap();
    link.run();
    let mut expect_s: Vec<Event> = (0..10)
        .map(|i| Event::Message(Message::text(format!("c{i}"))))
        .collect();
    expect_s.push(Event::Message(Message::binary(big.clone())));
    let mut expect_c: Vec<Event> = (0..10)
        .map(|i| Event::Message(Message::text(format!("s{i}"))))
        .collect();
    expect_c.push(Event::Message(Message::binary(big)));
    assert_eq!(link.take_server_events(), expect_s);
    assert_eq!(link.take_client_events(), expect_c);
    assert_eq!(link.client.buffered_amount(), 0);
    assert_eq!(link.server.buffered_amount(), 0);
}

#[test]
fn client_starts_the_close() {
    let mut link = Link::new(Options::default(), Options::default());
    link.take_client_events();
    link.take_server_events();
    link.client
        .close(4000, "client says bye", link.now)
        .unwrap();
    assert!(link.client.text("late").unwrap_err().is_closed());
    link.run();
    let frame = CloseFrame::new(4000, "client says bye");
    assert_eq!(link.take_server_events(), vec![Event::Close(frame.clone())]);
    assert_eq!(link.take_client_events(), vec![Event::Close(frame)]);
    // The server shut TCP first; the client followed on EOF.
    assert!(link.server_shut && link.client_shut);
    assert!(link.client.is_finished() && link.server.is_finished());
    assert_eq!(link.next_timer(), None, "nothing left armed");
}

#[test]
fn server_starts_the_close() {
    let mut link = Link::new(Options::default(), Options::default());
    link.take_client_events();
    link.take_server_events();
    link.server
        .close(CloseCode::GOING_AWAY, "restarting", link.now)
        .unwrap();
    link.run();
    let frame = CloseFrame::new(1001, "restarting");
    assert_eq!(link.take_client_events(), vec![Event::Close(frame.clone())]);
    assert_eq!(link.take_server_events(), vec![Event::Close(frame)]);
    assert!(link.server_shut && link.client_shut);
    assert_eq!(link.client.ready_state(), ReadyState::Closed);
    assert_eq!(link.server.ready_state(), ReadyState::Closed);
}

#[test]
fn both_close_at_once() {
    let mut link = Link::new(Options::default(), Options::default());
    link.take_client_events();
    link.take_server_events();
    link.client.close(1000, "c", link.now).unwrap();
    link.server.close(1000, "s", link.now).unwrap();
    link.run();
    assert_eq!(
        link.take_server_events(),
        vec![Event::Close(CloseFrame::new(1000, "c"))]
    );
    assert_eq!(
        link.take_client_events(),
        vec![Event::Close(CloseFrame::new(1000, "s"))]
    );
    assert!(link.server_shut && link.client_shut);
}

#[test]
fn close_timeout_fires_when_the_peer_never_answers() {
    for client_starts in [true, false] {
        let options = Options::default().close_timeout(Duration::from_secs(3));
        let mut link = Link::new(options.clone(), options);
        link.take_client_events();
        link.take_server_events();
        let start = link.now;
        // The closer's frame is lost: the peer never answers.
        if client_starts {
            link.up_c2s = false;
            link.client.close(1000, "", link.now).unwrap();
        } else {
            link.up_s2c = false;
            link.server.close(1000, "", link.now).unwrap();
        }
        link.run();
        assert_eq!(link.next_timer(), Some(start + Duration::from_secs(3)));
        link.advance(Duration::from_millis(2999));
        assert!(!link.client_shut && !link.server_shut);
        let fired = link.fire_next_timer();
        assert_eq!(fired, start + Duration::from_secs(3));
        let evs = if client_starts {
            link.take_client_events()
        } else {
            link.take_server_events()
        };
        assert!(
            matches!(&evs[..], [Event::Error(e), Event::Close(f)]
                if e.kind() == &ErrorKind::CloseTimeout && f.code == CloseCode::ABNORMAL),
            "{evs:?}"
        );
        if client_starts {
            assert!(link.client_shut);
        } else {
            assert!(link.server_shut);
        }
        // The other side learns of it through the end of the stream.
        let other = if client_starts {
            link.take_server_events()
        } else {
            link.take_client_events()
        };
        assert_eq!(
            other,
            vec![Event::Close(CloseFrame::new(CloseCode::ABNORMAL, ""))]
        );
    }
}

#[test]
fn keepalive_pings_are_sent_and_answered() {
    let every = Duration::from_secs(10);
    let mut link = Link::new(Options::default(), Options::default().keepalive(every));
    link.take_client_events();
    link.take_server_events();
    let start = link.now;
    for round in 1..=3u32 {
        let at = link.fire_next_timer();
        assert_eq!(at, start + every * round, "round {round}");
        assert_eq!(
            link.take_client_events(),
            vec![Event::Ping(Bytes::from_static(KEEPALIVE_PAYLOAD))]
        );
        assert_eq!(
            link.take_server_events(),
            vec![Event::Pong(Bytes::from_static(KEEPALIVE_PAYLOAD))]
        );
    }
    // Traffic from the peer postpones the next ping.
    link.advance(Duration::from_secs(5));
    link.client.text("hi").unwrap();
    link.run();
    let at = link.fire_next_timer();
    assert_eq!(at, link.now);
    assert_eq!(at, start + every * 3 + Duration::from_secs(15));
    assert_eq!(link.server.ready_state(), ReadyState::Open);

    // The client can keep the connection alive too.
    let mut link = Link::new(Options::default().keepalive(every), Options::default());
    link.take_server_events();
    link.fire_next_timer();
    assert_eq!(
        link.take_server_events(),
        vec![Event::Ping(Bytes::from_static(KEEPALIVE_PAYLOAD))]
    );
    assert_eq!(
        link.take_client_events(),
        vec![
            Event::Open,
            Event::Pong(Bytes::from_static(KEEPALIVE_PAYLOAD))
        ]
    );
}

fn closed_by_idle(events: &[Event]) -> bool {
    matches!(events, [Event::Error(e), Event::Close(f)]
        if e.kind() == &ErrorKind::IdleTimeout && f.code == CloseCode::GOING_AWAY)
}

#[test]
fn idle_timeout_closes_a_silent_peer_with_1001() {
    let idle = Duration::from_secs(30);
    let mut link = Link::new(Options::default(), Options::default().idle_timeout(idle));
    link.take_client_events();
    link.take_server_events();
    let start = link.now;
    // Traffic keeps it open.
    link.advance(Duration::from_secs(20));
    link.client.text("still here").unwrap();
    link.run();
    let last_heard = link.now;
    assert_eq!(link.next_timer(), Some(last_heard + idle));
    link.advance(idle - Duration::from_millis(1));
    assert_eq!(link.server.ready_state(), ReadyState::Open);
    // Silence past the timeout closes it with 1001, which the client sees.
    let at = link.fire_next_timer();
    assert_eq!(at, start + Duration::from_secs(20) + idle);
    let evs = link.take_server_events();
    assert_eq!(evs[0], msg("still here"));
    assert!(closed_by_idle(&evs[1..]), "{evs:?}");
    let evs = link.take_client_events();
    assert!(
        matches!(&evs[..], [Event::Close(f)] if f.code == CloseCode::GOING_AWAY),
        "{evs:?}"
    );
    assert!(link.server_shut && link.client_shut);
}

#[test]
fn keepalive_with_idle_timeout_survives_an_answering_peer_and_closes_a_dead_one() {
    let options = Options::default()
        .keepalive(Duration::from_secs(10))
        .idle_timeout(Duration::from_secs(25));
    // The peer answers every ping: open for as long as we look.
    let mut link = Link::new(Options::default(), options.clone());
    link.take_server_events();
    for _ in 0..10 {
        link.fire_next_timer();
    }
    assert_eq!(link.server.ready_state(), ReadyState::Open);
    let pongs = link
        .take_server_events()
        .into_iter()
        .filter(|e| matches!(e, Event::Pong(_)))
        .count();
    assert_eq!(pongs, 10);

    // The peer is gone (its bytes never arrive): pings at 10 s and 20 s, closed at 25 s.
    let mut link = Link::new(Options::default(), options);
    link.take_server_events();
    let start = link.now;
    link.up_c2s = false;
    assert_eq!(link.fire_next_timer(), start + Duration::from_secs(10));
    assert_eq!(link.fire_next_timer(), start + Duration::from_secs(20));
    assert_eq!(link.server.ready_state(), ReadyState::Open);
    assert_eq!(link.fire_next_timer(), start + Duration::from_secs(25));
    assert!(closed_by_idle(&link.take_server_events()));
    assert!(link.server_shut);
}

#[test]
fn huge_timer_durations_do_not_overflow() {
    // `Duration::MAX` is a natural way to say "never"; `Instant + Duration::MAX`
    // would panic.
    let options = Options::default()
        .close_timeout(Duration::MAX)
        .keepalive(Duration::MAX)
        .idle_timeout(Duration::MAX);
    let mut link = Link::new(options.clone(), options);
    assert!(link
        .next_timer()
        .is_some_and(|t| t > link.now + Duration::from_secs(1 << 30)));
    link.advance(Duration::from_secs(3600));
    assert_eq!(link.server.ready_state(), ReadyState::Open);
    link.up_s2c = false;
    link.server.close(1000, "", link.now).unwrap();
    link.run();
    link.advance(Duration::from_secs(3600));
    assert_eq!(link.server.ready_state(), ReadyState::Closing);
}
