//! `CloseHandle`: closing a socket from a task that does not own it, while its
//! owner waits in `recv`, while nobody polls it at all, and the close timeout.

mod socket_support;

use socket_support::*;
use tungstenite::protocol::frame::coding::CloseCode as TCode;
use websocket_protocol::{CloseCode, CloseFrame, CloseHandle, Config, ErrorKind, Message};

/// The peer's side of a closing handshake we start: the close frame it
/// receives (after any messages), then its stream ends once its answer is out.
async fn peer_answers_close(mut tung: Tung) -> tungstenite::protocol::CloseFrame {
    let frame = loop {
        match within(5, tung.next()).await {
            Some(Ok(TMessage::Close(Some(frame)))) => break frame,
            Some(Ok(m)) if m.is_text() || m.is_binary() => {}
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    // tungstenite answered already; its stream ends once the answer is written.
    while let Some(Ok(_)) = within(5, tung.next()).await {}
    frame
}

#[test]
fn the_handle_is_clone_send_sync_and_static() {
    fn check<T: Clone + Send + Sync + 'static>() {}
    check::<CloseHandle>();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closes_a_socket_whose_owner_waits_in_recv_from_another_task() {
    for side in BOTH {
        let (mut ours, mut tung) = pair(side, Config::default()).await;
        let handle = ours.close_handle();
        let (seen_tx, mut seen) = tokio::sync::mpsc::unbounded_channel();
        let reader = tokio::spawn(async move {
            while let Some(message) = ours.recv().await {
                seen_tx.send(message.unwrap()).unwrap();
            }
            ours
        });
        tung.send(TMessage::text("before")).await.unwrap();
        // The reader took it and is back in `recv`, waiting for the next.
        assert_eq!(within(5, seen.recv()).await, Some(Message::text("before")));

        handle.close(4000, "from another task").unwrap();
        let peer = tokio::spawn(peer_answers_close(tung));
        let ours = within(5, reader).await.unwrap();
        let got = within(5, peer).await.unwrap();
        assert_eq!(got.code, TCode::from(4000), "{side:?}");
        assert_eq!(got.reason.as_str(), "from another task", "{side:?}");

        // The stream ended after the handshake, with the peer's answer (which
        // tungstenite makes an echo of ours).
        let answer = CloseFrame::new(CloseCode::from(4000), "from another task");
        assert_eq!(ours.close_frame(), Some(answer.clone()), "{side:?}");
        assert!(handle.is_closed());
        assert_eq!(within(5, handle.closed()).await.unwrap(), answer);
        assert_eq!(seen.recv().await, None);
    }
}

#[tokio::test]
async fn closed_drives_a_socket_nobody_polls() {
    for side in BOTH {
        let (mut ours, mut tung) = pair(side, Config::default()).await;
        let handle = ours.close_handle();
        tung.send(TMessage::text("kept")).await.unwrap();
        let peer = tokio::spawn(peer_answers_close(tung));

        // `ours` is never polled until the handshake is over: the handle's
        // `closed` writes the close frame and reads the answer.
        handle.close(CloseCode::GOING_AWAY, "nobody polls").unwrap();
        let closer = tokio::spawn({
            let handle = handle.clone();
            async move { handle.closed().await }
        });
        let frame = within(5, closer).await.unwrap().unwrap();
        assert_eq!(frame.code, CloseCode::GOING_AWAY, "{side:?}");
        assert_eq!(frame.reason.as_str(), "nobody polls");
        assert!(handle.is_closed());
        let got = within(5, peer).await.unwrap();
        assert_eq!(got.code, TCode::Away);

        // What arrived meanwhile was kept for the owner, then the stream ends.
        assert_eq!(
            within(5, ours.recv()).await.unwrap().unwrap(),
            Message::text("kept")
        );
        assert!(within(5, ours.recv()).await.is_none());
        assert_eq!(ours.close_frame(), Some(frame));
    }
}

#[tokio::test]
async fn closing_from_a_split_half_ends_the_receiver() {
    let (ours, tung) = pair(Side::Server, Config::default()).await;
    let (tx, mut rx) = ours.split();
    let handle = rx.close_handle();
    let reader = tokio::spawn(async move {
        while let Some(Ok(_)) = rx.recv().await {}
        rx.close_frame()
    });
    handle.close(1000, "").unwrap();
    let peer = tokio::spawn(peer_answers_close(tung));
    let frame = within(5, reader).await.unwrap().unwrap();
    assert_eq!(frame.code, CloseCode::NORMAL);
    within(5, peer).await.unwrap();
    // The sender sees the socket closing.
    assert!(tx.close_handle().is_closed());
}

#[tokio::test]
async fn the_close_timeout_bounds_the_wait_for_a_silent_peer() {
    let config = Config::default().close_timeout(std::time::Duration::from_millis(200));
    let (ours, tung) = pair(Side::Server, config).await;
    let handle = ours.close_handle();
    handle.close(1000, "").unwrap();
    // The peer is never polled: it never answers.
    let error = within(5, handle.closed()).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Timeout, "{error}");
    assert!(handle.is_closed());
    drop((ours, tung));
}

#[tokio::test]
async fn bad_arguments_fail_and_a_dropped_socket_is_closed() {
    let (ours, _tung) = pair(Side::Server, Config::default()).await;
    let handle = ours.close_handle();
    let error = handle.close(CloseCode::ABNORMAL, "").unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidInput, "{error}");
    assert!(handle.close(1000, &"x".repeat(124)).is_err());
    assert!(!handle.is_closed());
    drop(ours);
    assert!(handle.is_closed());
    assert!(handle.close(1000, "too late").is_ok());
    let error = within(5, handle.closed()).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Closed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_waiting_for_room_fails_once_closed_from_another_task() {
    const HWM: usize = 64 << 10;
    let config = Config::default().write_buffer_size(HWM);
    let (ours, tung) = pair(Side::Server, config).await;
    let (mut tx, rx) = ours.split();
    let handle = tx.close_handle();
    let sender = tokio::spawn(async move {
        loop {
            if let Err(error) = tx.feed(Message::binary(payload(16 << 10))).await {
                return error;
            }
        }
    });
    // The peer never reads: the sender ends up waiting for room that never
    // comes. Only the handle's wakeup can tell it the socket is closing.
    within(5, async {
        while rx.buffered_amount() <= HWM {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    })
    .await;
    handle.close(1000, "").unwrap();
    let error = within(5, sender).await.unwrap();
    assert_eq!(error.kind(), ErrorKind::Closed, "{error}");
    drop((rx, tung));
}
