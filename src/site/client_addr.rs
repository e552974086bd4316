//! Who the client is when `keydesk serve` sits behind a reverse proxy.
//!
//! `serve` has no TLS of its own, so production puts a proxy in front; the
//! socket's peer is then the proxy, and every customer would share its
//! address in the sign-in and Forgot Password limits, the hashing slots,
//! audit rows, logs and the sessions list. `site.trusted_proxies` lists the
//! proxies (addresses or CIDR blocks). Only when the peer is one of them is
//! the forwarding header read (`site.proxy_header`: `X-Forwarded-For` with
//! `X-Forwarded-Proto`, or RFC 7239 `Forwarded`); the client is then the
//! right-most address in it that is not a trusted proxy, because each proxy
//! appends the address it saw and only the part written by trusted hops can
//! be believed: everything left of the first untrusted address may have been
//! written by the client itself. An entry that is not an address (`unknown`,
//! an obfuscated name, garbage) ends the walk at the trusted hop that wrote
//! it: that proxy is then the client, so the unknowns share one address
//! rather than picking their own. A request from any other peer is that
//! peer, whatever headers it sends.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{self, FORWARDED};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ipnet::IpNet;

use super::Site;
use crate::settings::ProxyHeader;

/// `X-Forwarded-For`.
const X_FORWARDED_FOR: &str = "x-forwarded-for";
/// `X-Forwarded-Proto`.
const X_FORWARDED_PROTO: &str = "x-forwarded-proto";

/// The proxies whose forwarding header is believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
}

impl TrustedProxies {
    /// Parses `site.trusted_proxies`: addresses or CIDR blocks separated
    /// by commas or spaces.
    ///
    /// # Errors
    /// The entry that is neither, in words.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut nets = Vec::new();
        for entry in text
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|e| !e.is_empty())
        {
            let net = entry
                .parse::<IpNet>()
                .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    format!(
                        "has {entry:?}, which is neither an address nor a CIDR block like 10.0.0.0/8"
                    )
                })?;
            nets.push(net.trunc());
        }
        Ok(Self { nets })
    }

    /// Whether no proxy is trusted.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    /// Whether `ip` is a trusted proxy.
    #[must_use]
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.nets.iter().any(|net| net.contains(&ip))
    }
}

/// What a request says about its client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client {
    /// The client's address.
    pub ip: IpAddr,
    /// The scheme the client used, as a trusted proxy reports it (`None`
    /// when no trusted proxy said).
    pub https: Option<bool>,
}

/// The client of a request from `peer` with `headers`.
#[must_use]
pub fn client(
    trusted: &TrustedProxies,
    header: ProxyHeader,
    peer: SocketAddr,
    headers: &HeaderMap,
) -> Client {
    let peer = peer.ip().to_canonical();
    if !trusted.contains(peer) {
        return Client {
            ip: peer,
            https: None,
        };
    }
    let hops = match header {
        ProxyHeader::XForwardedFor => x_forwarded_for(headers),
        ProxyHeader::Forwarded => forwarded(headers),
    };
    // Right to left: the peer, then each address a trusted hop reported.
    let mut ip = peer;
    let mut proto = hops.last().and_then(|h| h.proto);
    for hop in hops.iter().rev() {
        let Some(reported) = hop.ip else { break };
        ip = reported;
        proto = hop.proto.or(proto);
        if !trusted.contains(reported) {
            break;
        }
    }
    Client { ip, https: proto }
}

/// Middleware for an https site: a request that a trusted proxy says came
/// over plain http is sent to the same path on `site.base_url` (308), so
/// forms and `Secure` cookies are never used over clear text through a
/// proxy that also listens on http.
pub async fn upgrade_to_https(
    State(site): State<Arc<Site>>,
    request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    if let Some(peer) = peer
        && site.client(peer, request.headers()).https == Some(false)
    {
        let path = request
            .uri()
            .path_and_query()
            .map_or("/", axum::http::uri::PathAndQuery::as_str);
        let mut response = StatusCode::PERMANENT_REDIRECT.into_response();
        if let Ok(location) = HeaderValue::from_str(&format!("{}{path}", site.origin())) {
            response.headers_mut().insert(header::LOCATION, location);
        }
        return response;
    }
    next.run(request).await
}

/// One entry of the forwarding header: the address (if it is one) and the
/// scheme reported with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Hop {
    ip: Option<IpAddr>,
    proto: Option<bool>,
}

/// Every value of header `name`, in order, as one comma-separated list.
fn joined(headers: &HeaderMap, name: impl axum::http::header::AsHeaderName) -> String {
    headers
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap_or("unknown"))
        .collect::<Vec<_>>()
        .join(",")
}

/// `https` or `http` (any case); anything else says nothing.
fn scheme(text: &str) -> Option<bool> {
    match text.trim().trim_matches('"').to_ascii_lowercase().as_str() {
        "https" => Some(true),
        "http" => Some(false),
        _ => None,
    }
}

/// An address as proxies write it: `192.0.2.7`, `192.0.2.7:4711`,
/// `2001:db8::1`, `[2001:db8::1]` or `[2001:db8::1]:4711`.
fn address(text: &str) -> Option<IpAddr> {
    let text = text.trim().trim_matches('"');
    text.parse::<IpAddr>()
        .ok()
        .or_else(|| text.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            text.strip_prefix('[')
                .and_then(|t| t.strip_suffix(']'))
                .and_then(|t| t.parse().ok())
        })
        .map(|ip: IpAddr| ip.to_canonical())
}

/// `X-Forwarded-For`, with `X-Forwarded-Proto` beside each entry when it
/// has as many, else the right-most scheme (the nearest proxy's) on the
/// last entry.
fn x_forwarded_for(headers: &HeaderMap) -> Vec<Hop> {
    let list = joined(headers, X_FORWARDED_FOR);
    if list.trim().is_empty() {
        return Vec::new();
    }
    let protos: Vec<Option<bool>> = joined(headers, X_FORWARDED_PROTO)
        .split(',')
        .filter(|p| !p.trim().is_empty())
        .map(scheme)
        .collect();
    let entries: Vec<&str> = list.split(',').collect();
    let aligned = protos.len() == entries.len();
    let last = entries.len() - 1;
    entries
        .iter()
        .enumerate()
        .map(|(i, entry)| Hop {
            ip: address(entry),
            proto: if aligned {
                protos[i]
            } else if i == last {
                protos.last().copied().flatten()
            } else {
                None
            },
        })
        .collect()
}

/// RFC 7239 `Forwarded`: each element's `for=` and `proto=`.
fn forwarded(headers: &HeaderMap) -> Vec<Hop> {
    let list = joined(headers, FORWARDED);
    if list.trim().is_empty() {
        return Vec::new();
    }
    rfc7239::parse(&list)
        .map(|element| match element {
            Ok(element) => Hop {
                ip: element.forwarded_for.and_then(|node| match node.name {
                    rfc7239::NodeName::Ip(ip) => Some(ip.to_canonical()),
                    rfc7239::NodeName::Unknown | rfc7239::NodeName::Obfuscated(_) => None,
                }),
                proto: element.protocol.and_then(scheme),
            },
            Err(_) => Hop {
                ip: None,
                proto: None,
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    fn peer(ip: &str) -> SocketAddr {
        SocketAddr::new(ip.parse().unwrap(), 40000)
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn trusted_proxies_parse_addresses_and_blocks_and_name_a_bad_entry() {
        let t = TrustedProxies::parse("127.0.0.1, 10.0.0.0/8  2001:db8::/32").unwrap();
        assert!(t.contains(ip("127.0.0.1")));
        assert!(t.contains(ip("10.200.3.4")));
        assert!(t.contains(ip("2001:db8::7")));
        assert!(t.contains(ip("::ffff:10.1.1.1")), "a mapped IPv4 peer");
        assert!(!t.contains(ip("127.0.0.2")));
        assert!(TrustedProxies::parse("").unwrap().is_empty());
        let err = TrustedProxies::parse("10.0.0.0/8, proxy.local").unwrap_err();
        assert!(err.contains("proxy.local"), "{err}");
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
    }

    #[test]
    fn headers_from_an_untrusted_peer_are_ignored() {
        let t = TrustedProxies::parse("10.0.0.1").unwrap();
        let h = headers(&[
            ("x-forwarded-for", "198.51.100.7"),
            ("forwarded", "for=198.51.100.8;proto=https"),
            ("x-forwarded-proto", "https"),
        ]);
        for header in [ProxyHeader::XForwardedFor, ProxyHeader::Forwarded] {
            let c = client(&t, header, peer("203.0.113.5"), &h);
            assert_eq!(c.ip, ip("203.0.113.5"));
            assert_eq!(c.https, None);
        }
        // No proxy configured: the same.
        let c = client(
            &TrustedProxies::default(),
            ProxyHeader::XForwardedFor,
            peer("203.0.113.5"),
            &h,
        );
        assert_eq!(c.ip, ip("203.0.113.5"));
    }

    #[test]
    fn the_client_is_the_right_most_untrusted_address() {
        let t = TrustedProxies::parse("10.0.0.0/8").unwrap();
        // A client that forges the left part cannot pick its address.
        let h = headers(&[
            ("x-forwarded-for", "1.2.3.4, 198.51.100.7, 10.0.0.9"),
            ("x-forwarded-proto", "https"),
        ]);
        let c = client(&t, ProxyHeader::XForwardedFor, peer("10.0.0.1"), &h);
        assert_eq!(c.ip, ip("198.51.100.7"));
        assert_eq!(c.https, Some(true));
        // Several header lines are one list, in order.
        let h = headers(&[
            ("x-forwarded-for", "1.2.3.4"),
            ("x-forwarded-for", "198.51.100.7:5555"),
        ]);
        let c = client(&t, ProxyHeader::XForwardedFor, peer("10.0.0.1"), &h);
        assert_eq!(c.ip, ip("198.51.100.7"));
        // Every hop trusted: the left-most is the client.
        let h = headers(&[("x-forwarded-for", "10.9.9.9, 10.0.0.9")]);
        let c = client(&t, ProxyHeader::XForwardedFor, peer("10.0.0.1"), &h);
        assert_eq!(c.ip, ip("10.9.9.9"));
        // No header from a trusted peer: the peer itself.
        let c = client(
            &t,
            ProxyHeader::XForwardedFor,
            peer("10.0.0.1"),
            &headers(&[]),
        );
        assert_eq!(c.ip, ip("10.0.0.1"));
    }

    #[test]
    fn only_the_configured_header_is_read() {
        let t = TrustedProxies::parse("127.0.0.1").unwrap();
        // The proxy maintains X-Forwarded-For; a Forwarded header is the client's own.
        let h = headers(&[
            ("x-forwarded-for", "198.51.100.7"),
            ("forwarded", "for=192.0.2.66"),
        ]);
        let c = client(&t, ProxyHeader::XForwardedFor, peer("127.0.0.1"), &h);
        assert_eq!(c.ip, ip("198.51.100.7"));
        let c = client(&t, ProxyHeader::Forwarded, peer("127.0.0.1"), &h);
        assert_eq!(c.ip, ip("192.0.2.66"));
    }

    #[test]
    fn rfc_7239_elements_with_ports_ipv6_and_unknowns() {
        let t = TrustedProxies::parse("127.0.0.1, 10.0.0.0/8").unwrap();
        let h = headers(&[(
            "forwarded",
            r#"for="[2001:db8:cafe::17]:4711";proto=https, for=10.0.0.2;proto=http"#,
        )]);
        let c = client(&t, ProxyHeader::Forwarded, peer("127.0.0.1"), &h);
        assert_eq!(c.ip, ip("2001:db8:cafe::17"));
        assert_eq!(c.https, Some(true));
        // `unknown` written by a trusted hop: that hop is the client.
        let h = headers(&[("forwarded", "for=unknown, for=10.0.0.2")]);
        let c = client(&t, ProxyHeader::Forwarded, peer("127.0.0.1"), &h);
        assert_eq!(c.ip, ip("10.0.0.2"));
        // Garbage right of a real address stops the walk the same way.
        let h = headers(&[("x-forwarded-for", "198.51.100.7, not-an-address")]);
        let c = client(&t, ProxyHeader::XForwardedFor, peer("127.0.0.1"), &h);
        assert_eq!(c.ip, ip("127.0.0.1"));
    }
}
