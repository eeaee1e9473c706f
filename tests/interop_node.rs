//! Interop with Node ws, both roles, with and without permessage-deflate.
//! The scenario is in tests/peers/README.md.
#![cfg(all(feature = "axum", feature = "deflate"))]

mod interop_support;

use interop_support::*;

async fn our_server_with_peer_client(deflate: bool) {
    let mut server = OurServer::start(deflate).await;
    let url = server.url();
    let mut args = vec!["peer.js", "client", url.as_str()];
    if deflate {
        args.push("--deflate");
    }
    let mut peer = Peer::spawn("node", &args);
    let mut outcome = peer.outcome().await;
    let mut expected = client_steps(&SIZES, deflate);
    expected.push("fragmented-by-client".into());
    expected.push("ping-by-client".into());
    if deflate {
        let ext = outcome.detail("deflate").cloned().unwrap_or_default();
        outcome.step(
            "deflate-negotiated",
            ext.as_str()
                .is_some_and(|e| e.starts_with("permessage-deflate")),
            ext,
        );
    }
    outcome.assert_ok(&expected);
    // The first connection was closed by the peer with 4001, the second by us.
    let closes = server.next_closes(2).await;
    let first = closes[0].as_ref().expect("a close frame");
    assert_eq!(
        (u16::from(first.code), first.reason.as_str()),
        (4001, "client bye")
    );
}

async fn our_client_with_peer_server(deflate: bool) {
    let mut args = vec!["peer.js", "server"];
    if deflate {
        args.push("--deflate");
    }
    let mut peer = Peer::spawn("node", &args);
    let port = peer.port().await;
    let outcome = our_client(&format!("ws://127.0.0.1:{port}"), deflate).await;
    let mut expected = client_steps(&SIZES, deflate);
    expected.push("ping-by-client".into());
    outcome.assert_ok(&expected);
    assert_peer_saw_client_close(&peer.events(2).await);
    peer.kill().await;
}

#[tokio::test]
#[ignore = "needs node with ws (tests/peers/package.json; .ci/run installs it)"]
async fn our_server_with_node_client() {
    our_server_with_peer_client(false).await;
}

#[tokio::test]
#[ignore = "needs node with ws (tests/peers/package.json; .ci/run installs it)"]
async fn our_server_with_node_client_deflate() {
    our_server_with_peer_client(true).await;
}

#[tokio::test]
#[ignore = "needs node with ws (tests/peers/package.json; .ci/run installs it)"]
async fn our_client_with_node_server() {
    our_client_with_peer_server(false).await;
}

#[tokio::test]
#[ignore = "needs node with ws (tests/peers/package.json; .ci/run installs it)"]
async fn our_client_with_node_server_deflate() {
    our_client_with_peer_server(true).await;
}
