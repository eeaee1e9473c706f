//! The opening handshakes: picking the server's protocol version from the request,
//! building every response and request byte for byte, checking the client's answer.

use super::error::{Error, ErrorKind};
use super::extension::{self, Negotiated, Offer};
use super::options::Options;
use super::rng::Randomness;
use super::version::Version;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use sha1::{Digest, Sha1};

/// The GUID RFC 6455 section 1.3 appends to the key.
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

fn malformed(why: &'static str) -> Error {
    Error::new(ErrorKind::MalformedRequest(why))
}

fn bad_response(why: &'static str) -> Error {
    Error::new(ErrorKind::MalformedResponse(why))
}

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`.
///
/// ```
/// use websocket_protocol::protocol::accept_key;
/// assert_eq!(accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// ```
pub fn accept_key(key: &[u8]) -> String {
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(GUID.as_bytes());
    BASE64.encode(sha.finalize())
}

/// Whether a comma-separated header (over all its lines) holds `token`, ignoring
/// case and surrounding white space.
pub(crate) fn has_token(
    headers: &HeaderMap,
    name: impl http::header::AsHeaderName,
    token: &str,
) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// The comma-separated values of a header, over all its lines, trimmed.
fn list(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim())
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The only value of a header; `Ok(None)` when absent, an error when repeated or
/// not visible ASCII.
fn single<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, Error> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(malformed("a handshake header is repeated"));
    }
    first
        .to_str()
        .map(|v| Some(v.trim()))
        .map_err(|_| malformed("a handshake header is not ASCII"))
}

/// Which version a request asks for, by the seed module's rule.
fn select_version(req: &Request<()>) -> Result<Version, Error> {
    let headers = req.headers();
    if let Some(v) = single(headers, "sec-websocket-version")? {
        return match v {
            "7" => Ok(Version::Hybi7),
            "8" => Ok(Version::Hybi8),
            "13" => Ok(Version::Hybi13),
            _ => Err(Error::new(ErrorKind::UnsupportedVersion)),
        };
    }
    if headers.contains_key("sec-websocket-key1") && headers.contains_key("sec-websocket-key2") {
        Ok(Version::Hixie76)
    } else {
        Ok(Version::Hixie75)
    }
}

/// The server's side of a handshake that was accepted.
#[derive(Debug, Clone)]
pub(crate) struct Accepted {
    pub version: Version,
    pub protocol: Option<String>,
    /// Status line and headers, in wire order and spelling.
    pub status: StatusCode,
    pub reason: &'static str,
    pub headers: Vec<(&'static str, String)>,
    /// hixie-76: the two key numbers, waiting for the 8 body bytes.
    pub hixie76_keys: Option<(u32, u32)>,
    /// The extensions offered and accepted.
    pub extensions: Negotiated,
}

impl Accepted {
    /// The response head as bytes.
    pub fn head_bytes(&self) -> Vec<u8> {
        let mut out = format!("HTTP/1.1 {} {}\r\n", self.status.as_u16(), self.reason);
        for (name, value) in &self.headers {
            out.push_str(name);
            out.push_str(": ");
            out.push_str(value);
            out.push_str("\r\n");
        }
        out.push_str("\r\n");
        out.into_bytes()
    }

    /// The response head for an HTTP stack to send.
    pub fn response(&self) -> Response<()> {
        let mut res = Response::new(());
        *res.status_mut() = self.status;
        for (name, value) in &self.headers {
            res.headers_mut().append(
                HeaderName::from_static(lowercase(name)),
                HeaderValue::from_str(value).expect("validated when built"),
            );
        }
        res
    }
}

fn lowercase(name: &'static str) -> &'static str {
    match name {
        "Upgrade" => "upgrade",
        "Connection" => "connection",
        "Sec-WebSocket-Accept" => "sec-websocket-accept",
        "Sec-WebSocket-Protocol" => "sec-websocket-protocol",
        "Sec-WebSocket-Extensions" => "sec-websocket-extensions",
        "Sec-WebSocket-Origin" => "sec-websocket-origin",
        "Sec-WebSocket-Location" => "sec-websocket-location",
        "WebSocket-Protocol" => "websocket-protocol",
        "WebSocket-Origin" => "websocket-origin",
        "WebSocket-Location" => "websocket-location",
        other => unreachable!("unknown handshake header {other}"),
    }
}

/// The reason phrase of the server's status line: the drafts' own, which some
/// old clients compare byte for byte.
pub(crate) fn reason_phrase(version: Version) -> &'static str {
    match version {
        Version::Hixie75 => "Web Socket Protocol Handshake",
        Version::Hixie76 => "WebSocket Protocol Handshake",
        Version::Hybi7 | Version::Hybi8 | Version::Hybi13 => "Switching Protocols",
    }
}

/// Validates an upgrade request and builds the response. See
/// [`Driver::server`](super::Driver::server) for the rules.
pub(crate) fn accept(req: &Request<()>, options: &Options) -> Result<Accepted, Error> {
    let headers = req.headers();
    if !has_token(headers, http::header::UPGRADE, "websocket") {
        return Err(malformed("missing Upgrade: websocket"));
    }
    if req.method() != Method::GET {
        return Err(Error::new(ErrorKind::MethodNotAllowed));
    }
    // RFC 6455 section 4.2.1, and the drafts before it: HTTP/1.1 or later.
    if req.version() < http::Version::HTTP_11 {
        return Err(malformed("the HTTP version must be at least 1.1"));
    }
    if !has_token(headers, http::header::CONNECTION, "upgrade") {
        return Err(malformed("missing Connection: Upgrade"));
    }
    let version = select_version(req)?;
    if version.is_draft() && !options.allow_drafts {
        return Err(Error::new(ErrorKind::DraftsNotAllowed(version)));
    }
    let protocol = negotiate(headers, version, &options.protocols);
    let mut out = Accepted {
        version,
        protocol: protocol.clone(),
        status: StatusCode::SWITCHING_PROTOCOLS,
        reason: reason_phrase(version),
        headers: Vec::new(),
        hixie76_keys: None,
        extensions: Negotiated::default(),
    };
    match version {
        Version::Hybi7 | Version::Hybi8 | Version::Hybi13 => {
            let key = single(headers, "sec-websocket-key")?
                .ok_or_else(|| malformed("missing Sec-WebSocket-Key"))?;
            match BASE64.decode(key) {
                Ok(raw) if raw.len() == 16 => {}
                _ => return Err(malformed("Sec-WebSocket-Key is not base64 of 16 bytes")),
            }
            out.headers.push(("Upgrade", "websocket".into()));
            out.headers.push(("Connection", "Upgrade".into()));
            out.headers
                .push(("Sec-WebSocket-Accept", accept_key(key.as_bytes())));
            if let Some(p) = protocol {
                out.headers.push(("Sec-WebSocket-Protocol", p));
            }
            let (extensions, answer) = extension::server_accept(headers, options);
            if let Some(answer) = answer {
                out.headers.push(("Sec-WebSocket-Extensions", answer));
            }
            out.extensions = extensions;
        }
        Version::Hixie76 | Version::Hixie75 => {
            let hixie76 = version == Version::Hixie76;
            if hixie76 {
                let key1 = single(headers, "sec-websocket-key1")?.unwrap_or_default();
                let key2 = single(headers, "sec-websocket-key2")?.unwrap_or_default();
                out.hixie76_keys = Some((hixie76_key_number(key1)?, hixie76_key_number(key2)?));
            }
            let host = single(headers, "host")?.ok_or_else(|| malformed("missing Host"))?;
            let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
            let scheme = if options.secure { "wss" } else { "ws" };
            out.headers.push(("Upgrade", "WebSocket".into()));
            out.headers.push(("Connection", "Upgrade".into()));
            if let Some(origin) = single(headers, "origin")? {
                let name = if hixie76 {
                    "Sec-WebSocket-Origin"
                } else {
                    "WebSocket-Origin"
                };
                out.headers.push((name, origin.to_owned()));
            }
            let name = if hixie76 {
                "Sec-WebSocket-Location"
            } else {
                "WebSocket-Location"
            };
            out.headers.push((name, format!("{scheme}://{host}{path}")));
            if let Some(p) = protocol {
                let name = if hixie76 {
                    "Sec-WebSocket-Protocol"
                } else {
                    "WebSocket-Protocol"
                };
                out.headers.push((name, p));
            }
        }
    }
    for (_, value) in &out.headers {
        HeaderValue::from_str(value).map_err(|_| malformed("a header value cannot be echoed"))?;
    }
    Ok(out)
}

/// Validates an HTTP/2 extended CONNECT (RFC 8441) and builds its `200` response.
/// The caller has checked the `:protocol` pseudo-header, which `http::Request`
/// does not carry. There is no key to answer: the version must be 13 and the
/// response headers are the chosen subprotocol and extensions only.
pub(crate) fn accept_extended_connect(
    req: &Request<()>,
    options: &Options,
) -> Result<Accepted, Error> {
    if req.method() != Method::CONNECT {
        return Err(Error::new(ErrorKind::MethodNotAllowed));
    }
    match single(req.headers(), "sec-websocket-version")? {
        Some("13") => {}
        Some(_) => return Err(Error::new(ErrorKind::UnsupportedVersion)),
        None => return Err(malformed("missing Sec-WebSocket-Version")),
    }
    let protocol = negotiate(req.headers(), Version::Hybi13, &options.protocols);
    let mut out = Accepted {
        version: Version::Hybi13,
        protocol: protocol.clone(),
        status: StatusCode::OK,
        reason: "OK",
        headers: Vec::new(),
        hixie76_keys: None,
        extensions: Negotiated::default(),
    };
    if let Some(p) = protocol {
        HeaderValue::from_str(&p).map_err(|_| malformed("a header value cannot be echoed"))?;
        out.headers.push(("Sec-WebSocket-Protocol", p));
    }
    // RFC 8441 keeps the extension negotiation of RFC 6455.
    let (extensions, answer) = extension::server_accept(req.headers(), options);
    if let Some(answer) = answer {
        out.headers.push(("Sec-WebSocket-Extensions", answer));
    }
    out.extensions = extensions;
    Ok(out)
}

/// The first protocol in the client's list that the server supports.
fn negotiate(headers: &HeaderMap, version: Version, supported: &[String]) -> Option<String> {
    let name = if version == Version::Hixie75 {
        "websocket-protocol"
    } else {
        "sec-websocket-protocol"
    };
    list(headers, name)
        .into_iter()
        .find(|offered| supported.iter().any(|s| s == offered))
}

/// A hixie-76 key's number: its digits divided by its spaces, which must divide
/// them exactly (draft-hixie-76 section 5.2, step 4).
pub(crate) fn hixie76_key_number(key: &str) -> Result<u32, Error> {
    let invalid = || malformed("invalid Sec-WebSocket-Key1/Key2");
    let mut number: u64 = 0;
    let mut spaces: u64 = 0;
    let mut digits = 0;
    for c in key.bytes() {
        match c {
            b'0'..=b'9' => {
                digits += 1;
                number = number
                    .checked_mul(10)
                    .and_then(|n| n.checked_add((c - b'0') as u64))
                    .filter(|&n| n <= u32::MAX as u64)
                    .ok_or_else(invalid)?;
            }
            b' ' => spaces += 1,
            _ => {}
        }
    }
    if digits == 0 || spaces == 0 || number % spaces != 0 {
        return Err(invalid());
    }
    Ok((number / spaces) as u32)
}

/// The 16-byte answer to a hixie-76 challenge.
pub(crate) fn hixie76_answer((key1, key2): (u32, u32), key3: &[u8; 8]) -> [u8; 16] {
    let mut md5 = md5::Md5::new();
    md5.update(key1.to_be_bytes());
    md5.update(key2.to_be_bytes());
    md5.update(key3);
    md5.finalize().into()
}

/// Parses an HTTP/1.1 request head from the start of `buf`: `Ok(None)` while
/// incomplete, otherwise the request and the size of its head. Bytes after the head
/// (a hixie-76 body, early frames) belong to the connection.
///
/// ```
/// use websocket_protocol::protocol::{parse_request, Options};
/// let raw = b"GET /chat HTTP/1.1\r\nHost: example.com\r\n\r\nrest";
/// let (req, size) = parse_request(raw, &Options::default()).unwrap().unwrap();
/// assert_eq!(req.uri().path(), "/chat");
/// assert_eq!(&raw[size..], b"rest");
/// ```
pub fn parse_request(buf: &[u8], options: &Options) -> Result<Option<(Request<()>, usize)>, Error> {
    let mut storage = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Request::new(&mut storage);
    let size = match parsed.parse(buf) {
        Ok(httparse::Status::Complete(size)) => size,
        Ok(httparse::Status::Partial) => {
            return if buf.len() > options.max_handshake_size {
                Err(Error::new(ErrorKind::RequestTooLarge))
            } else {
                Ok(None)
            };
        }
        Err(httparse::Error::TooManyHeaders) => return Err(Error::new(ErrorKind::RequestTooLarge)),
        Err(_) => return Err(malformed("request head is not valid HTTP/1.1")),
    };
    if size > options.max_handshake_size {
        return Err(Error::new(ErrorKind::RequestTooLarge));
    }
    let mut req = Request::builder()
        .method(parsed.method.unwrap_or("GET"))
        .uri(parsed.path.unwrap_or("/"));
    if parsed.version == Some(0) {
        req = req.version(http::Version::HTTP_10);
    }
    let mut req = req
        .body(())
        .map_err(|_| malformed("invalid method or target"))?;
    copy_headers(parsed.headers, req.headers_mut())?;
    Ok(Some((req, size)))
}

fn copy_headers(from: &[httparse::Header<'_>], to: &mut HeaderMap) -> Result<(), Error> {
    for h in from {
        let name = HeaderName::from_bytes(h.name.as_bytes())
            .map_err(|_| malformed("invalid header name"))?;
        let value =
            HeaderValue::from_bytes(h.value).map_err(|_| malformed("invalid header value"))?;
        to.append(name, value);
    }
    Ok(())
}

/// The client's side: the request it sends and what it expects back.
#[derive(Debug, Clone)]
pub(crate) struct ClientHandshake {
    request: Request<()>,
    accept: String,
    protocols: Vec<String>,
    /// The extensions the request offered, to check the answer against.
    offer: Offer,
}

impl ClientHandshake {
    pub(crate) fn new(url: &str, options: &Options, rng: &mut Randomness) -> Result<Self, Error> {
        let invalid = |why| Error::new(ErrorKind::InvalidUrl(why));
        // RFC 6455 section 3: a WebSocket URI has no fragment. (The URI parser
        // would drop it silently.)
        if url.contains('#') {
            return Err(invalid("a WebSocket URL has no #fragment"));
        }
        let uri: http::Uri = url.parse().map_err(|_| invalid("not a URL"))?;
        let scheme = uri.scheme_str().unwrap_or_default();
        let default_port =
            if scheme.eq_ignore_ascii_case("ws") || scheme.eq_ignore_ascii_case("http") {
                80
            } else if scheme.eq_ignore_ascii_case("wss") || scheme.eq_ignore_ascii_case("https") {
                443
            } else {
                return Err(invalid("the scheme must be ws:// or wss://"));
            };
        let authority = uri.authority().ok_or_else(|| invalid("no host"))?;
        if authority.as_str().contains('@') {
            return Err(invalid(
                "credentials in the URL are not supported; send an Authorization header",
            ));
        }
        if authority.host().is_empty() {
            return Err(invalid("no host"));
        }
        // An out-of-range port parses as no port at all: catch it, or the
        // request would go to the default port.
        let port_text = authority
            .as_str()
            .get(authority.host().len()..)
            .unwrap_or_default()
            .trim_start_matches(':');
        let host = match authority.port_u16() {
            None if !port_text.is_empty() => {
                return Err(invalid("the port is not a number up to 65535"))
            }
            Some(port) if port != default_port => format!("{}:{port}", authority.host()),
            _ => authority.host().to_owned(),
        };
        // RFC 6455 section 3: the resource name is the path, "/" when empty,
        // then the query if any (`ws://host?x` asks for `/?x`).
        let path = match uri.path() {
            "" => "/",
            path => path,
        };
        let target = match uri.query() {
            Some(query) => format!("{path}?{query}"),
            None => path.to_owned(),
        };
        let key = BASE64.encode(rng.bytes::<16>());
        let mut request = Request::get(target.as_str())
            .header("Host", host)
            .header("Upgrade", "websocket")
            .header("Connection", "Upgrade")
            .header("Sec-WebSocket-Key", &key)
            .header("Sec-WebSocket-Version", "13");
        if !options.protocols.is_empty() {
            let offer = options.protocols.join(", ");
            request = request.header("Sec-WebSocket-Protocol", offer);
        }
        let offer = Offer::new(options);
        if let Some(header) = offer.header() {
            request = request.header("Sec-WebSocket-Extensions", header);
        }
        let mut request = request
            .body(())
            .map_err(|_| invalid("invalid target or protocol list"))?;
        for (name, value) in &options.headers {
            request.headers_mut().append(name, value.clone());
        }
        Ok(ClientHandshake {
            accept: accept_key(key.as_bytes()),
            request,
            protocols: options.protocols.clone(),
            offer,
        })
    }

    pub(crate) fn request(&self) -> &Request<()> {
        &self.request
    }

    /// The request as bytes, header names in their conventional spelling.
    pub(crate) fn request_bytes(&self) -> Vec<u8> {
        let req = &self.request;
        let mut out = format!("GET {} HTTP/1.1\r\n", req.uri()).into_bytes();
        for (name, value) in req.headers() {
            out.extend_from_slice(title_case(name.as_str()).as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out
    }

    /// Checks the server's response; returns the chosen subprotocol and the
    /// extensions it accepted.
    pub(crate) fn check(&self, res: &Response<()>) -> Result<(Option<String>, Negotiated), Error> {
        if res.status() != StatusCode::SWITCHING_PROTOCOLS {
            return Err(Error::new(ErrorKind::UnexpectedStatus(res.status())));
        }
        let headers = res.headers();
        if !has_token(headers, http::header::UPGRADE, "websocket") {
            return Err(bad_response("missing Upgrade: websocket"));
        }
        if !has_token(headers, http::header::CONNECTION, "upgrade") {
            return Err(bad_response("missing Connection: Upgrade"));
        }
        match single(headers, "sec-websocket-accept") {
            Ok(Some(accept)) if accept == self.accept => {}
            Ok(Some(_)) | Err(_) => return Err(Error::new(ErrorKind::InvalidAccept)),
            Ok(None) => return Err(bad_response("missing Sec-WebSocket-Accept")),
        }
        let extensions = extension::client_check(headers, &self.offer)?;
        let chosen = list(headers, "sec-websocket-protocol");
        let protocol = match chosen.as_slice() {
            [] => None,
            [one] if self.protocols.contains(one) => Some(one.clone()),
            [one] => return Err(Error::new(ErrorKind::UnofferedProtocol(one.clone()))),
            _ => return Err(bad_response("more than one Sec-WebSocket-Protocol")),
        };
        Ok((protocol, extensions))
    }
}

/// Parses an HTTP/1.1 response head from the start of `buf`.
pub(crate) fn parse_response(
    buf: &[u8],
    max: usize,
) -> Result<Option<(Response<()>, usize)>, Error> {
    let mut storage = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Response::new(&mut storage);
    let size = match parsed.parse(buf) {
        Ok(httparse::Status::Complete(size)) => size,
        Ok(httparse::Status::Partial) if buf.len() <= max => return Ok(None),
        Ok(httparse::Status::Partial) | Err(httparse::Error::TooManyHeaders) => {
            return Err(bad_response("response head is too large"))
        }
        Err(_) => return Err(bad_response("response head is not valid HTTP/1.1")),
    };
    if size > max {
        return Err(bad_response("response head is too large"));
    }
    let mut res = Response::new(());
    *res.status_mut() = StatusCode::from_u16(parsed.code.unwrap_or(0))
        .map_err(|_| bad_response("invalid status code"))?;
    copy_headers(parsed.headers, res.headers_mut()).map_err(|_| bad_response("invalid header"))?;
    Ok(Some((res, size)))
}

/// `sec-websocket-key` -> `Sec-WebSocket-Key`.
pub(crate) fn title_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for (i, part) in name.split('-').enumerate() {
        if i > 0 {
            out.push('-');
        }
        if part.eq_ignore_ascii_case("websocket") {
            out.push_str("WebSocket");
            continue;
        }
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.push_str(chars.as_str());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6455_accept_example() {
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn draft_76_example_gives_its_published_answer() {
        let k1 = hixie76_key_number("18x 6]8vM;54 *(5:  {   U1]8  z [  8").unwrap();
        let k2 = hixie76_key_number("1_ tx7X d  <  nw  334J702) 7]o}` 0").unwrap();
        assert_eq!((k1, k2), (155712099, 173347027));
        assert_eq!(&hixie76_answer((k1, k2), b"Tm[K T2u"), b"fQJ,fN/4F4!~K~MH");
    }

    #[test]
    fn hixie76_keys_without_spaces_or_with_remainders_are_rejected() {
        assert!(hixie76_key_number("12345").is_err());
        assert!(hixie76_key_number("1 2 3").is_err()); // 123 / 2
        assert!(hixie76_key_number("   ").is_err());
        assert!(hixie76_key_number("99999999999 ").is_err()); // over 32 bits
        assert_eq!(hixie76_key_number("1 2").unwrap(), 12);
    }

    #[test]
    fn extended_connect_answers_200_with_the_chosen_protocol_only() {
        let req = Request::connect("/chat")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-protocol", "x, chat")
            .body(())
            .unwrap();
        let options = Options::default().protocols(["chat"]);
        let accepted = accept_extended_connect(&req, &options).unwrap();
        let res = accepted.response();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers().len(), 1);
        assert_eq!(res.headers()["sec-websocket-protocol"], "chat");

        let get = Request::get("/").header("sec-websocket-version", "13");
        let err = accept_extended_connect(&get.body(()).unwrap(), &options).unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::MethodNotAllowed);
        let v8 = Request::connect("/").header("sec-websocket-version", "8");
        let err = accept_extended_connect(&v8.body(()).unwrap(), &options).unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::UnsupportedVersion);
    }

    #[cfg(feature = "deflate")]
    #[test]
    fn extended_connect_negotiates_permessage_deflate() {
        let req = Request::connect("/")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-extensions", "permessage-deflate")
            .body(())
            .unwrap();
        let options = Options::default().deflate(super::super::DeflateConfig::default());
        let accepted = accept_extended_connect(&req, &options).unwrap();
        assert!(accepted.extensions.deflate.is_some());
        let res = accepted.response();
        let ext = res.headers()["sec-websocket-extensions"].to_str().unwrap();
        assert!(ext.starts_with("permessage-deflate"), "{ext}");
    }

    #[test]
    fn title_case_spells_websocket_headers() {
        assert_eq!(
            title_case("sec-websocket-protocol"),
            "Sec-WebSocket-Protocol"
        );
        assert_eq!(title_case("authorization"), "Authorization");
    }
}
