//! Protocol versions and roles.

use std::fmt;

/// The protocol a connection speaks, picked from the request headers on the server.
///
/// Displays as the seed module's names: `hixie-75`, `hixie-76`, `hybi-7`, `hybi-8`,
/// `hybi-13`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// draft-hixie-thewebsocketprotocol-75: no handshake key, no closing handshake.
    Hixie75,
    /// draft-hixie-thewebsocketprotocol-76 (hybi-00): the key1/key2/key3 challenge.
    Hixie76,
    /// draft-ietf-hybi-thewebsocketprotocol-07 (`Sec-WebSocket-Version: 7`).
    Hybi7,
    /// draft-ietf-hybi-thewebsocketprotocol-08 (`Sec-WebSocket-Version: 8`).
    Hybi8,
    /// RFC 6455 (`Sec-WebSocket-Version: 13`).
    Hybi13,
}

impl Version {
    /// Whether this is one of the hixie drafts, which predate framing and masking.
    pub fn is_draft(self) -> bool {
        matches!(self, Version::Hixie75 | Version::Hixie76)
    }

    /// The seed module's name for the version.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::Hixie75 => "hixie-75",
            Version::Hixie76 => "hixie-76",
            Version::Hybi7 => "hybi-7",
            Version::Hybi8 => "hybi-8",
            Version::Hybi13 => "hybi-13",
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which end of the connection a driver plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Accepts connections; receives masked frames, sends unmasked ones.
    Server,
    /// Opens connections; masks every frame it sends.
    Client,
}
