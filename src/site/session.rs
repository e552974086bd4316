//! The cookies a visitor carries, and the bridge from the session cookie
//! to desk's session.
//!
//! Two cookies, both `HttpOnly`, `SameSite=Lax`, `Path` = the site's base
//! path, and `Secure` when `site.base_url` is https. An https site at the
//! root of its host names them with the `__Host-` prefix
//! (`__Host-kd_session`), so the browser keeps them to that very host:
//! no `Domain`, `Path=/`, `Secure`. (Under a base path or over plain http
//! the prefix is impossible; the names are then as below.)
//! - `kd_session`: the raw session id desk minted (desk stores only its
//!   SHA-256). A browser-session cookie: no `Max-Age`, so closing the
//!   browser drops it; desk's idle and absolute timeouts apply regardless.
//! - `kd_csrf`: the random nonce the forms' CSRF tokens are signed over
//!   ([`super::csrf`]).
//!
//! On an https site at the root of its host, both names carry the
//! `__Host-` prefix (`__Host-kd_session`, `__Host-kd_csrf`): browsers
//! then accept them only with `Secure`, `Path=/` and no `Domain`, so no
//! sibling subdomain or plain-http page can set or shadow them. A site
//! under a base path cannot use the prefix (it requires `Path=/`).
//!
//! [`Visitor`] gathers, for one request, those cookies, the client's
//! address (the socket's peer, or what a trusted proxy reports:
//! [`super::client_addr`]; never a header an untrusted client sent) and
//! its user agent.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::Site;
use super::csrf;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "kd_session";

/// The longest user agent kept for the session list.
const MAX_USER_AGENT: usize = 120;

/// The longest cookie value looked at; ours are 43 characters.
const MAX_COOKIE_VALUE: usize = 128;

/// The value of cookie `name` in the request's `Cookie` headers.
#[must_use]
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim().trim_matches('"').to_owned())
        .filter(|value| !value.is_empty() && value.len() <= MAX_COOKIE_VALUE)
}

/// How the site's cookies are written.
#[derive(Debug, Clone)]
pub struct CookiePolicy {
    /// `Secure` (the site is served over https).
    pub secure: bool,
    /// `Path`: the base path of `site.base_url`, or `/`.
    pub path: String,
}

impl CookiePolicy {
    /// A `Set-Cookie` value for `name=value`. Our values are base64url, so
    /// no quoting is needed.
    #[must_use]
    pub fn set(&self, name: &str, value: &str) -> HeaderValue {
        self.header(format!("{}={value}", self.name(name)))
    }

    /// The name a cookie has on the wire: `name`, with `__Host-` in front
    /// when the site is https at the root of its host.
    #[must_use]
    pub fn name(&self, name: &str) -> String {
        if self.secure && self.path == "/" {
            format!("__Host-{name}")
        } else {
            name.to_owned()
        }
    }

    /// The value of cookie `name` (by its wire name) in a request.
    #[must_use]
    pub fn read(&self, headers: &HeaderMap, name: &str) -> Option<String> {
        cookie(headers, &self.name(name))
    }

    /// A `Set-Cookie` value that deletes `name`.
    #[must_use]
    pub fn clear(&self, name: &str) -> HeaderValue {
        self.header(format!(
            "{}=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
            self.name(name)
        ))
    }

    fn header(&self, start: String) -> HeaderValue {
        let secure = if self.secure { "; Secure" } else { "" };
        let text = format!(
            "{start}; Path={}; HttpOnly; SameSite=Lax{secure}",
            self.path
        );
        // Built from base64url values and a path checked at start-up; a
        // value that still fails becomes a harmless empty cookie.
        HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("kd_invalid=1"))
    }
}

/// Who is asking: cookies, address and user agent for one request.
#[derive(Debug, Clone)]
pub struct Visitor {
    /// The raw session cookie, if any (not yet checked with desk).
    pub session: Option<String>,
    /// The CSRF nonce the browser sent, if well formed.
    pub nonce: Option<String>,
    /// A nonce minted for this response because the browser had none;
    /// the response must set it ([`Visitor::set_cookies`]).
    pub fresh_nonce: Option<String>,
    /// The client's address: the socket's peer, or the client a trusted
    /// proxy reports ([`super::client_addr`]).
    pub ip: IpAddr,
    /// The `User-Agent`, shortened, printable ASCII only.
    pub user_agent: String,
}

impl Visitor {
    /// The client as desk's rate limits and audit rows see it: the address.
    #[must_use]
    pub fn client(&self) -> String {
        self.ip.to_string()
    }

    /// The client as the customer's session list shows it.
    #[must_use]
    pub fn client_description(&self) -> String {
        if self.user_agent.is_empty() {
            self.ip.to_string()
        } else {
            format!("{} · {}", self.ip, self.user_agent)
        }
    }

    /// The token forms on this response carry.
    #[must_use]
    pub fn csrf_token(&self, key: &csrf::CsrfKey) -> String {
        let nonce = self
            .fresh_nonce
            .as_deref()
            .or(self.nonce.as_deref())
            .unwrap_or_default();
        key.token(nonce, self.session.as_deref())
    }

    /// Whether a submitted form's token is good for the cookies that came
    /// with it.
    #[must_use]
    pub fn csrf_ok(&self, key: &csrf::CsrfKey, presented: &str) -> bool {
        key.verify(
            self.nonce.as_deref(),
            self.session.as_deref(),
            Some(presented).filter(|p| !p.is_empty()),
        )
    }

    /// Adds the nonce cookie to a response when one was minted.
    pub fn set_cookies(&self, policy: &CookiePolicy, response: &mut Response) {
        if let Some(nonce) = &self.fresh_nonce {
            response
                .headers_mut()
                .append(header::SET_COOKIE, policy.set(csrf::COOKIE, nonce));
        }
    }
}

impl FromRequestParts<Arc<Site>> for Visitor {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, site: &Arc<Site>) -> Result<Self, Response> {
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| {
                site.client(c.0, &parts.headers).ip
            });
        let names = site.cookies();
        let session = cookie(&parts.headers, &names.name(SESSION_COOKIE));
        let nonce = cookie(&parts.headers, &names.name(csrf::COOKIE))
            .filter(|n| csrf::well_formed_nonce(n));
        let fresh_nonce = if nonce.is_some() {
            None
        } else {
            match csrf::random_token() {
                Ok(n) => Some(n),
                Err(err) => {
                    tracing::error!(error = %err, "cannot mint a CSRF nonce");
                    return Err(site.error_page(None, super::ErrorKind::Internal));
                }
            }
        };
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .chars()
            .filter(|c| c.is_ascii_graphic() || *c == ' ')
            .take(MAX_USER_AGENT)
            .collect();
        Ok(Self {
            session,
            nonce,
            fresh_nonce,
            ip,
            user_agent,
        })
    }
}

/// A redirect (303 See Other) to a path under the site.
#[must_use]
pub fn see_other(location: &str) -> Response {
    let mut response = axum::http::StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_among_several_headers_and_pairs() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; kd_session=abc"),
        );
        h.append(header::COOKIE, HeaderValue::from_static("kd_csrf=\"xyz\""));
        assert_eq!(cookie(&h, "kd_session").as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "kd_csrf").as_deref(), Some("xyz"));
        assert_eq!(cookie(&h, "a").as_deref(), Some("1"));
        assert_eq!(cookie(&h, "missing"), None);
        let mut big = HeaderMap::new();
        big.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("kd_session={}", "x".repeat(500))).unwrap(),
        );
        assert_eq!(cookie(&big, "kd_session"), None);
    }

    #[test]
    fn set_cookie_has_the_attributes() {
        let plain = CookiePolicy {
            secure: false,
            path: "/".into(),
        };
        let set = plain.set("kd_session", "abc");
        assert_eq!(set, "kd_session=abc; Path=/; HttpOnly; SameSite=Lax");
        let secure = CookiePolicy {
            secure: true,
            path: "/site".into(),
        };
        let clear = secure.clear("kd_session");
        let text = clear.to_str().unwrap();
        assert!(text.starts_with("kd_session=; Max-Age=0"));
        assert!(text.ends_with("; Path=/site; HttpOnly; SameSite=Lax; Secure"));
        // https at the root: the __Host- prefix; over http or under a
        // path, the plain name.
        let root = CookiePolicy {
            secure: true,
            path: "/".into(),
        };
        assert_eq!(
            root.set("kd_session", "abc"),
            "__Host-kd_session=abc; Path=/; HttpOnly; SameSite=Lax; Secure"
        );
        assert!(
            root.clear("kd_csrf")
                .to_str()
                .unwrap()
                .starts_with("__Host-kd_csrf=; Max-Age=0")
        );
        assert_eq!(plain.name("kd_session"), "kd_session");
        assert_eq!(secure.name("kd_session"), "kd_session");
    }

    #[test]
    fn an_https_site_at_the_root_uses_host_prefixed_cookies() {
        let root = CookiePolicy {
            secure: true,
            path: "/".into(),
        };
        let set = root.set("kd_session", "abc");
        assert_eq!(
            set,
            "__Host-kd_session=abc; Path=/; HttpOnly; SameSite=Lax; Secure"
        );
        assert!(
            root.clear("kd_csrf")
                .to_str()
                .unwrap()
                .starts_with("__Host-kd_csrf=;")
        );
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("kd_session=plain; __Host-kd_session=prefixed"),
        );
        assert_eq!(root.read(&h, "kd_session").as_deref(), Some("prefixed"));
        let plain = CookiePolicy {
            secure: false,
            path: "/".into(),
        };
        assert_eq!(plain.read(&h, "kd_session").as_deref(), Some("plain"));
    }
}
