//! Security headers on every response.
//!
//! The pages use no inline script or style and no frames, so the content
//! security policy allows only our own stylesheet and script (`/site.js`,
//! Show/Hide and the strength meter of password fields, which asks us and
//! no one else), images from us or over
//! https (the operator's logo), and forms posting back to us. No page may
//! be framed (clickjacking), no address leaks to another site through
//! `Referer` (the reset link is in the address bar), and nothing with a
//! form or a session is cached: a reset page or account page must not be
//! replayable from a shared machine's cache.
//!
//! Every response says what it is: one without a `Content-Type` (a
//! redirect, an empty refusal) is marked `text/plain; charset=utf-8`, so
//! no browser ever sniffs a type. A site served over https also sends
//! `Strict-Transport-Security` ([`strict_transport_security`]).

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;

/// The content security policy for every response.
pub const CSP: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self' https:; \
                       form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Adds the headers; a handler that set its own `Cache-Control` (the
/// stylesheet) keeps it, every other response is `no-store`.
pub async fn security_headers(mut response: Response) -> Response {
    apply(response.headers_mut());
    response
}

fn apply(headers: &mut HeaderMap) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if !headers.contains_key(header::CONTENT_TYPE) {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
    }
}

/// `Strict-Transport-Security` for a site whose `site.base_url` is https:
/// browsers then refuse plain http to it (and its subdomains) for a year.
pub const HSTS: &str = "max-age=31536000; includeSubDomains";

/// Adds [`HSTS`]; the router installs it only when the site is https.
pub async fn strict_transport_security(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static(HSTS),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_header_is_set_and_an_explicit_cache_policy_is_kept() {
        let mut h = HeaderMap::new();
        apply(&mut h);
        assert_eq!(h[header::CACHE_CONTROL], "no-store");
        assert_eq!(h[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(h[header::REFERRER_POLICY], "no-referrer");
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(h[header::CONTENT_TYPE], "text/plain; charset=utf-8");
        assert!(
            h[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap()
                .contains("frame-ancestors 'none'")
        );
        let mut css = HeaderMap::new();
        css.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("max-age=3600"),
        );
        apply(&mut css);
        assert_eq!(css[header::CACHE_CONTROL], "max-age=3600");
    }
}
