//! Feature `rustls-native-roots`: the platform's roots join the webpki ones
//! in the default TLS configuration. rustls-native-certs reads a PEM file named
//! by `SSL_CERT_FILE` as the platform store, so the test root goes there; the
//! only test in this binary, because it sets a variable of its process.

mod client_support;

use base64::Engine;
use client_support::tls::{pki, tls_listener};
use client_support::*;
use websocket_protocol::client;

#[test]
fn the_default_configuration_trusts_the_platform_roots() {
    let pki = pki();
    let der = base64::engine::general_purpose::STANDARD.encode(&pki.root);
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in der.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap());
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    let file = std::env::temp_dir().join(format!("wsp-native-roots-{}.pem", std::process::id()));
    std::fs::write(&file, pem).unwrap();
    std::env::set_var("SSL_CERT_FILE", &file);
    std::env::remove_var("SSL_CERT_DIR");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let result = runtime.block_on(async {
        let (addr, server) = tls_listener(&pki).await;
        let server = tokio::spawn(async move {
            let tls = server.await.unwrap().expect("server TLS handshake");
            tungstenite_accept(tls, None).await.0
        });
        // No tls_config: the default configuration must trust the root.
        let connected = within(client::connect(format!(
            "wss://localhost:{}/native",
            addr.port()
        )))
        .await;
        (
            connected.map(|(_, response)| response.status()),
            within(server).await,
        )
    });
    std::fs::remove_file(&file).unwrap();
    let (status, seen) = result;
    assert_eq!(status.unwrap(), 101);
    assert_eq!(seen.unwrap().uri, "/native");
}
