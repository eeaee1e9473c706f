//! Interop with Node ws, both roles, with and without permessage-deflate.
//! The scenario is in tests/peers/README.md. With deflate, the negotiated
//! `Sec-WebSocket-Extensions` is pinned: the peer's default offer and answer.
#![cfg(all(feature = "axum", feature = "deflate"))]

mod interop_support;

use interop_support::*;

#[tokio::test]
#[ignore = "needs node with ws (tests/peers/package.json; .ci/run installs it)"]
async fn our_server_with_node_client() {
    our_server_with_peer_client("node", "peer.js", None).await;
}

#[tokio::test]
#[ignore = "needs node with ws (tests/peers/package.json; .ci/run installs it)"]
async fn our_server_with_node_client_deflate() {
    our_server_with_peer_client("node", "peer.js", Some("permessage-deflate")).await;
}

#[tokio::test]
#[ignore = "needs node with ws (tests/peers/package.json; .ci/run installs it)"]
async fn our_client_with_node_server() {
    our_client_with_peer_server("node", "peer.js", None).await;
}

#[tokio::test]
#[ignore = "needs node with ws (tests/peers/package.json; .ci/run installs it)"]
async fn our_client_with_node_server_deflate() {
    our_client_with_peer_server("node", "peer.js", Some("permessage-deflate")).await;
}
