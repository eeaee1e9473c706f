//! Proxy settings read the way curl reads them from the environment.

use super::error::Error;
use super::proxy::Proxy;
use super::target::Target;
use std::net::IpAddr;

/// Proxy settings in the form of curl's environment variables: which proxy a
/// `ws://` or `wss://` URL goes through, and which hosts go direct.
///
/// [`connect`](super::connect) and [`Builder::connect`](super::Builder::connect)
/// read these from the process environment when they connect, unless the
/// builder was told otherwise (see [`Builder::proxy`](super::Builder::proxy)
/// for the precedence). Build one yourself with
/// [`from_lookup`](ProxyEnv::from_lookup) to take the same settings from your
/// own configuration, and hand it over with
/// [`Builder::proxy_env`](super::Builder::proxy_env).
///
/// | URL | proxy from the first one set and not empty |
/// |---|---|
/// | `wss://` | `https_proxy`, `HTTPS_PROXY`, `all_proxy`, `ALL_PROXY` |
/// | `ws://` | `http_proxy`, `all_proxy`, `ALL_PROXY` |
///
/// `HTTP_PROXY` in capitals is not read, as curl does not since the httpoxy
/// advisory: a CGI server sets it from a request's `Proxy:` header. A value
/// without a scheme (`proxy.corp:3128`) is an `http://` proxy.
///
/// `no_proxy` (or, if it is unset or empty, `NO_PROXY`) lists the hosts that
/// go direct, separated by commas (spaces around entries are ignored). Names
/// are compared without regard to case, and no name is resolved: an IP or CIDR
/// entry matches only a URL whose host is an address.
///
/// | entry | goes direct |
/// |---|---|
/// | `*` | every host |
/// | `example.com`, `.example.com`, `*.example.com` | `example.com` and every name under it (`ws.example.com`), not `badexample.com` |
/// | `192.168.1.7`, `::1`, `[::1]` | that address |
/// | `10.0.0.0/8`, `fd00::/8` | every address in the range |
/// | any of these with `:port` (`example.com:8080`, `[::1]:9001`) | that host on that port only |
///
/// An entry that is none of these (`10.0.0.0/33`) matches nothing. Loopback
/// hosts are proxied like any other unless listed, as curl does.
///
/// ```
/// use websocket_protocol::client::ProxyEnv;
///
/// let env = ProxyEnv::from_lookup(|name| match name {
///     "https_proxy" => Some("http://proxy.corp:3128".to_owned()),
///     "no_proxy" => Some("localhost,.internal,10.0.0.0/8".to_owned()),
///     _ => None,
/// });
/// assert_eq!(env.proxy_for("wss://example.com/"), Some("http://proxy.corp:3128"));
/// assert_eq!(env.proxy_for("wss://db.internal/"), None);
/// assert_eq!(env.proxy_for("wss://10.1.2.3/"), None);
/// assert_eq!(env.proxy_for("ws://example.com/"), None); // no http_proxy
/// ```
#[derive(Clone, Default)]
pub struct ProxyEnv {
    https: Option<Var>,
    http: Option<Var>,
    all: Option<Var>,
    no_proxy: NoProxy,
}

/// A variable that was set: its name (for error messages) and value.
#[derive(Clone)]
struct Var {
    name: &'static str,
    value: String,
}

impl ProxyEnv {
    /// The settings in the process environment now. Variables that are not
    /// valid Unicode count as unset.
    pub fn from_env() -> ProxyEnv {
        ProxyEnv::from_lookup(|name| std::env::var(name).ok())
    }

    /// The settings as `lookup` gives them: it is asked for each variable by
    /// its name (`https_proxy`, `HTTPS_PROXY`, `http_proxy`, `all_proxy`,
    /// `ALL_PROXY`, `no_proxy`, `NO_PROXY`) and answers with its value, or
    /// `None` if it is unset.
    pub fn from_lookup(mut lookup: impl FnMut(&str) -> Option<String>) -> ProxyEnv {
        let mut first = |names: &[&'static str]| {
            names.iter().find_map(|&name| {
                let value = lookup(name)?.trim().to_owned();
                (!value.is_empty()).then_some(Var { name, value })
            })
        };
        ProxyEnv {
            https: first(&["https_proxy", "HTTPS_PROXY"]),
            http: first(&["http_proxy"]),
            all: first(&["all_proxy", "ALL_PROXY"]),
            no_proxy: first(&["no_proxy", "NO_PROXY"])
                .map(|var| NoProxy::parse(&var.value))
                .unwrap_or_default(),
        }
    }

    /// The proxy URL these settings choose for `url` (a `ws://` or `wss://`
    /// URL), or `None` if it goes direct, either because no variable names a
    /// proxy for its scheme or because `no_proxy` lists its host. A URL that
    /// does not parse goes direct.
    pub fn proxy_for(&self, url: &str) -> Option<&str> {
        let target = Target::from_url(url).ok()?;
        self.choose(&target).map(|var| var.value.as_str())
    }

    /// The proxy for `target`, parsed; an unusable value is an error that
    /// names its variable.
    pub(crate) fn proxy(&self, target: &Target) -> Result<Option<Proxy>, Error> {
        self.choose(target)
            .map(|var| Proxy::parse(&var.value, var.name))
            .transpose()
    }

    fn choose(&self, target: &Target) -> Option<&Var> {
        let var = if target.secure() {
            self.https.as_ref()
        } else {
            self.http.as_ref()
        };
        let var = var.or(self.all.as_ref())?;
        (!self.no_proxy.matches(target.bare_host(), target.port())).then_some(var)
    }
}

impl std::fmt::Debug for ProxyEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Proxy credentials stay out of logs.
        let show = |var: &Option<Var>| {
            var.as_ref()
                .map(|v| format!("{}={}", v.name, super::proxy::redact_userinfo(&v.value)))
        };
        f.debug_struct("ProxyEnv")
            .field("https", &show(&self.https))
            .field("http", &show(&self.http))
            .field("all", &show(&self.all))
            .field("no_proxy", &self.no_proxy)
            .finish()
    }
}

/// A parsed `no_proxy` list.
#[derive(Clone, Debug, Default)]
struct NoProxy {
    /// `*` was listed.
    everything: bool,
    rules: Vec<Rule>,
}

#[derive(Clone, Debug, PartialEq)]
struct Rule {
    hosts: Hosts,
    /// Only this port, if given.
    port: Option<u16>,
}

#[derive(Clone, Debug, PartialEq)]
enum Hosts {
    /// A name and every name under it: lowercase, no leading or trailing dot.
    Domain(String),
    /// The addresses whose first `prefix` bits are those of `net` (an exact
    /// address has the full prefix).
    Net { net: IpAddr, prefix: u8 },
}

impl NoProxy {
    fn parse(list: &str) -> NoProxy {
        let mut out = NoProxy::default();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if entry == "*" {
                out.everything = true;
            } else if let Some(rule) = Rule::parse(entry) {
                out.rules.push(rule);
            }
        }
        out
    }

    /// Whether `host` (without IPv6 brackets) on `port` goes direct.
    fn matches(&self, host: &str, port: u16) -> bool {
        if self.everything {
            return true;
        }
        let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
        let ip = host.parse::<IpAddr>().ok().map(|ip| ip.to_canonical());
        self.rules.iter().any(|rule| {
            rule.port.is_none_or(|p| p == port)
                && match (&rule.hosts, ip) {
                    (Hosts::Domain(domain), None) => is_within(&host, domain),
                    (Hosts::Net { net, prefix }, Some(ip)) => in_net(ip, *net, *prefix),
                    _ => false,
                }
        })
    }
}

impl Rule {
    /// One entry, or `None` for one that can match nothing.
    fn parse(entry: &str) -> Option<Rule> {
        // An address or range alone, brackets or not: `::1` has colons that
        // are not a port.
        if let Some(hosts) = parse_net(entry) {
            return Some(Rule { hosts, port: None });
        }
        let (host, port) = match entry.rsplit_once(':') {
            Some((host, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
                (host, Some(port.parse().ok()?))
            }
            _ => (entry, None),
        };
        if let Some(hosts) = parse_net(host) {
            return Some(Rule { hosts, port });
        }
        if host.contains([':', '/', '[', ']']) {
            return None;
        }
        let domain = host
            .strip_prefix("*.")
            .or_else(|| host.strip_prefix('.'))
            .unwrap_or(host);
        let domain = domain.strip_suffix('.').unwrap_or(domain);
        (!domain.is_empty()).then(|| Rule {
            hosts: Hosts::Domain(domain.to_ascii_lowercase()),
            port,
        })
    }
}

/// `192.168.1.7`, `[::1]`, `10.0.0.0/8`, `[fd00::]/8`, `fd00::/8`.
fn parse_net(s: &str) -> Option<Hosts> {
    let (addr, prefix) = match s.split_once('/') {
        Some((addr, prefix)) => (addr, Some(prefix)),
        None => (s, None),
    };
    let addr = addr
        .strip_prefix('[')
        .and_then(|a| a.strip_suffix(']'))
        .unwrap_or(addr);
    let net = addr.parse::<IpAddr>().ok()?;
    let bits = if net.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        Some(p) => p.parse::<u8>().ok().filter(|&p| p <= bits)?,
        None => bits,
    };
    // `::ffff:10.0.0.0/104` is `10.0.0.0/8`: addresses compare in one form.
    let (net, prefix) = match (net, net.to_canonical()) {
        (IpAddr::V6(_), v4 @ IpAddr::V4(_)) if prefix >= 96 => (v4, prefix - 96),
        _ => (net, prefix),
    };
    Some(Hosts::Net { net, prefix })
}

/// `host` is `domain` or a name under it.
fn is_within(host: &str, domain: &str) -> bool {
    match host.strip_suffix(domain) {
        Some("") => true,
        Some(rest) => rest.ends_with('.'),
        None => false,
    }
}

fn in_net(ip: IpAddr, net: IpAddr, prefix: u8) -> bool {
    let (ip, net, bits) = match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => (u32::from(ip).into(), u32::from(net).into(), 32),
        (IpAddr::V6(ip), IpAddr::V6(net)) => (u128::from(ip), u128::from(net), 128),
        _ => return false,
    };
    let shift = bits - u32::from(prefix);
    // A shift of the full width (prefix 0) would overflow: every address is in.
    ip.checked_shr(shift).unwrap_or(0) == net.checked_shr(shift).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &str)]) -> ProxyEnv {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ProxyEnv::from_lookup(|name| vars.get(name).cloned())
    }

    fn direct(no_proxy: &str, host: &str, port: u16) -> bool {
        NoProxy::parse(no_proxy).matches(host, port)
    }

    #[test]
    fn the_scheme_picks_the_variable_and_all_proxy_is_the_fallback() {
        let e = env(&[
            ("https_proxy", "http://secure:1"),
            ("http_proxy", "http://plain:2"),
            ("all_proxy", "http://all:3"),
        ]);
        assert_eq!(e.proxy_for("wss://example.com/"), Some("http://secure:1"));
        assert_eq!(e.proxy_for("ws://example.com/"), Some("http://plain:2"));
        let e = env(&[("ALL_PROXY", "http://all:3")]);
        assert_eq!(e.proxy_for("wss://example.com/"), Some("http://all:3"));
        assert_eq!(e.proxy_for("ws://example.com/"), Some("http://all:3"));
        assert_eq!(env(&[]).proxy_for("wss://example.com/"), None);
    }

    #[test]
    fn lowercase_wins_and_empty_counts_as_unset() {
        let e = env(&[
            ("https_proxy", "http://lower:1"),
            ("HTTPS_PROXY", "http://upper:1"),
            ("all_proxy", ""),
            ("ALL_PROXY", "http://upper-all:3"),
            ("no_proxy", "lower.example"),
            ("NO_PROXY", "upper.example"),
        ]);
        assert_eq!(e.proxy_for("wss://x/"), Some("http://lower:1"));
        assert_eq!(e.proxy_for("ws://x/"), Some("http://upper-all:3"));
        assert_eq!(e.proxy_for("wss://lower.example/"), None);
        assert_eq!(e.proxy_for("wss://upper.example/"), Some("http://lower:1"));
        let e = env(&[("https_proxy", "  "), ("HTTPS_PROXY", "http://upper:1")]);
        assert_eq!(e.proxy_for("wss://x/"), Some("http://upper:1"));
        let e = env(&[
            ("https_proxy", "http://p:1"),
            ("no_proxy", ""),
            ("NO_PROXY", "x"),
        ]);
        assert_eq!(e.proxy_for("wss://x/"), None);
    }

    #[test]
    fn uppercase_http_proxy_is_ignored_as_curl_does_since_httpoxy() {
        let e = env(&[("HTTP_PROXY", "http://from-a-cgi-header:1")]);
        assert_eq!(e.proxy_for("ws://example.com/"), None);
        let e = env(&[("HTTP_PROXY", "http://x:1"), ("ALL_PROXY", "http://all:3")]);
        assert_eq!(e.proxy_for("ws://example.com/"), Some("http://all:3"));
    }

    #[test]
    fn star_sends_everything_direct() {
        assert!(direct("*", "example.com", 443));
        assert!(direct("foo, *", "10.1.2.3", 80));
        assert!(!direct("*.", "example.com", 443));
        let e = env(&[("https_proxy", "http://p:1"), ("NO_PROXY", "*")]);
        assert_eq!(e.proxy_for("wss://anything/"), None);
    }

    #[test]
    fn names_match_themselves_and_every_name_under_them() {
        for list in [
            "example.com",
            ".example.com",
            "*.example.com",
            "example.com.",
        ] {
            assert!(direct(list, "example.com", 443), "{list}");
            assert!(direct(list, "ws.example.com", 443), "{list}");
            assert!(direct(list, "a.b.example.com", 443), "{list}");
            assert!(!direct(list, "badexample.com", 443), "{list}");
            assert!(!direct(list, "example.com.evil", 443), "{list}");
            assert!(!direct(list, "com", 443), "{list}");
        }
        assert!(direct("localhost", "localhost", 9001));
        assert!(
            !direct("localhost", "127.0.0.1", 9001),
            "no name is resolved"
        );
        assert!(!direct("ws.example.com", "example.com", 443));
    }

    #[test]
    fn names_ignore_case_and_a_trailing_dot() {
        assert!(direct("Example.COM", "WS.example.com", 443));
        assert!(direct("example.com", "ws.EXAMPLE.com.", 443));
    }

    #[test]
    fn the_list_tolerates_spaces_and_empty_entries() {
        let list = " foo.test ,, bar.test ,";
        assert!(direct(list, "foo.test", 1));
        assert!(direct(list, "x.bar.test", 1));
        assert!(!direct(list, "baz.test", 1));
        assert!(!direct("", "foo.test", 1));
        assert!(!direct(" , ", "foo.test", 1));
    }

    #[test]
    fn addresses_match_in_any_spelling() {
        assert!(direct("192.168.1.7", "192.168.1.7", 80));
        assert!(!direct("192.168.1.7", "192.168.1.8", 80));
        assert!(direct("::1", "::1", 80));
        assert!(direct("[::1]", "0:0:0:0:0:0:0:1", 80));
        assert!(direct("2001:db8::1", "2001:DB8:0::1", 80));
        assert!(direct("10.1.2.3", "::ffff:10.1.2.3", 80));
        assert!(!direct("::1", "127.0.0.1", 80));
        // An address is not a domain: no suffix matching.
        assert!(!direct("1.7", "192.168.1.7", 80));
    }

    #[test]
    fn cidr_ranges_v4_and_v6() {
        let list = "10.0.0.0/8, 192.168.0.0/16, 172.16.0.0/12, fd00::/8, [2001:db8::]/32";
        for inside in [
            "10.0.0.1",
            "10.255.255.255",
            "192.168.44.1",
            "172.31.0.1",
            "fd12:3456::1",
            "2001:db8:ffff::1",
            "::ffff:10.9.9.9",
        ] {
            assert!(direct(list, inside, 80), "{inside}");
        }
        for outside in [
            "11.0.0.1",
            "192.169.0.1",
            "172.32.0.1",
            "fe80::1",
            "2001:db9::1",
            "example.com",
        ] {
            assert!(!direct(list, outside, 80), "{outside}");
        }
        assert!(direct("0.0.0.0/0", "203.0.113.9", 80));
        assert!(!direct("0.0.0.0/0", "::1", 80));
        assert!(direct("::/0", "2001:db8::1", 80));
        assert!(direct("203.0.113.9/32", "203.0.113.9", 80));
        assert!(!direct("203.0.113.9/32", "203.0.113.8", 80));
        assert!(direct("::ffff:10.0.0.0/104", "10.1.1.1", 80));
    }

    #[test]
    fn malformed_entries_match_nothing_and_spoil_nothing() {
        let list = "10.0.0.0/33, 10.0.0.0/x, ::1/129, [::1, host:99999, a/b, good.test";
        assert_eq!(NoProxy::parse(list).rules.len(), 1);
        assert!(direct(list, "good.test", 1));
        assert!(!direct(list, "10.0.0.1", 1));
        assert!(!direct(list, "::1", 1));
        assert!(!direct(list, "host", 99));
    }

    #[test]
    fn a_port_narrows_an_entry_to_that_port() {
        assert!(direct("example.com:8080", "ws.example.com", 8080));
        assert!(!direct("example.com:8080", "example.com", 443));
        assert!(direct("10.0.0.1:9001", "10.0.0.1", 9001));
        assert!(!direct("10.0.0.1:9001", "10.0.0.1", 9002));
        assert!(direct("[::1]:9001", "::1", 9001));
        assert!(!direct("[::1]:9001", "::1", 80));
        // Bare IPv6: its last group is not a port.
        assert!(direct("::1:9001", "::1:9001", 80));
        assert!(!direct("::1:9001", "::1", 9001));
    }

    #[test]
    fn no_proxy_sees_the_url_s_host_and_default_port() {
        let e = env(&[
            ("https_proxy", "http://p:1"),
            ("http_proxy", "http://p:1"),
            ("no_proxy", "example.com:443,[::1]:80"),
        ]);
        assert_eq!(e.proxy_for("wss://example.com/"), None);
        assert_eq!(e.proxy_for("wss://example.com:8443/"), Some("http://p:1"));
        assert_eq!(e.proxy_for("ws://[::1]/"), None);
        assert_eq!(e.proxy_for("ws://[::1]:81/"), Some("http://p:1"));
    }

    #[test]
    fn a_bad_proxy_value_is_an_error_naming_its_variable() {
        let e = env(&[("ALL_PROXY", "socks5://127.0.0.1:1080")]);
        let target = Target::from_url("ws://example.com/").unwrap();
        let err = e.proxy(&target).unwrap_err();
        assert_eq!(err.kind(), super::super::ErrorKind::InvalidUrl);
        assert!(err.to_string().contains("ALL_PROXY"), "{err}");
        assert!(err.to_string().contains("socks5"), "{err}");
    }

    #[test]
    fn debug_output_keeps_credentials_out() {
        let e = env(&[("https_proxy", "http://user:hunter2@p:1")]);
        let debug = format!("{e:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("https_proxy=http://..@p:1"), "{debug}");
    }
}
