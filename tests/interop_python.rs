//! Interop with Python websockets, both roles, with and without permessage-deflate.
//! The scenario is in tests/peers/README.md. With deflate, the negotiated
//! `Sec-WebSocket-Extensions` is pinned: the peer's default offer and answer.
#![cfg(all(feature = "axum", feature = "deflate"))]

mod interop_support;

use interop_support::*;

#[tokio::test]
#[ignore = "needs python3 with websockets (tests/peers/requirements.txt; .ci/run installs it)"]
async fn our_server_with_python_client() {
    our_server_with_peer_client("python3", "peer.py", None).await;
}

#[tokio::test]
#[ignore = "needs python3 with websockets (tests/peers/requirements.txt; .ci/run installs it)"]
async fn our_server_with_python_client_deflate() {
    our_server_with_peer_client("python3", "peer.py", Some("permessage-deflate")).await;
}

#[tokio::test]
#[ignore = "needs python3 with websockets (tests/peers/requirements.txt; .ci/run installs it)"]
async fn our_client_with_python_server() {
    our_client_with_peer_server("python3", "peer.py", None).await;
}

#[tokio::test]
#[ignore = "needs python3 with websockets (tests/peers/requirements.txt; .ci/run installs it)"]
async fn our_client_with_python_server_deflate() {
    our_client_with_peer_server(
        "python3",
        "peer.py",
        Some("permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"),
    )
    .await;
}
