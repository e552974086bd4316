//! The customer site: Log in, Forgot Password, the reset-link page and
//! account settings, served by axum. Every decision is `desk`'s: a handler
//! checks the form's CSRF token, parses the fields, calls one desk
//! operation and renders the outcome.
//!
//! Routes (under the path of `site.base_url`, usually `/`):
//!
//! | method | path | what |
//! |---|---|---|
//! | GET, POST | `/login` | Log in |
//! | GET, POST | `/password/forgot` | Forgot Password |
//! | GET, POST | `/password/reset/{token}` | the link in the email (GET never uses it) |
//! | GET, POST | `/password/new` | the forced change after a temporary password |
//! | GET | `/account` | account settings and sessions |
//! | POST | `/account/password` | change password |
//! | POST | `/account/sessions/{id}/end` | sign out one session |
//! | POST | `/account/sign-out-everywhere` | Sign out everywhere |
//! | POST | `/logout` | Log out |
//! | GET | `/site.css` | the stylesheet |
//! | GET | `/site.js` | Show/Hide and the strength meter for password fields (the only script) |
//! | POST | `/password/strength` | the meter's question: the policy's verdict, as JSON |

pub mod account;
pub mod client_addr;
pub mod csrf;
pub mod forgot;
pub mod headers;
pub mod last_resort;
pub mod limits;
pub mod login;
pub mod reset;
pub mod session;
pub mod strength;
pub mod templates;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use minijinja::{Value, context};
use tokio::net::TcpListener;

use crate::desk::{Desk, DeskError};
use session::{CookiePolicy, Visitor};
use templates::{Brand, Templates};

/// Form bodies are a few short fields; anything larger is refused before
/// it is read (and before any hashing).
const MAX_FORM_BYTES: usize = 8 * 1024;

/// The path of the reset page; the token follows it. The links desk mails
/// must point here (`{site.base_url}/password/reset/{token}`).
pub const RESET_PATH: &str = "/password/reset/";

/// Why the site could not start.
#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    /// A template override is unreadable or broken.
    #[error(transparent)]
    Templates(#[from] templates::TemplateError),
    /// No randomness for the CSRF key.
    #[error(transparent)]
    Random(#[from] csrf::RandomError),
    /// The store-held CSRF secret could not be read or made.
    #[error("the site's CSRF secret: {0}")]
    Secret(String),
    /// `site.base_url` cannot be used.
    #[error("site.base_url {0}")]
    BaseUrl(String),
    /// `site.trusted_proxies` cannot be used.
    #[error("site.trusted_proxies {0}")]
    TrustedProxies(String),
    /// Binding or serving failed.
    #[error("serving the site: {0}")]
    Io(#[from] std::io::Error),
}

/// Everything a handler needs, shared by all requests.
#[derive(Debug)]
pub struct Site {
    desk: Desk,
    templates: Templates,
    csrf: csrf::CsrfKey,
    limiter: limits::HashLimiter,
    cookies: CookiePolicy,
    proxies: client_addr::TrustedProxies,
    proxy_header: crate::settings::ProxyHeader,
}

/// The pages that say something went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 404.
    NotFound,
    /// 405: a path that exists, asked with a method it does not answer.
    MethodNotAllowed,
    /// 403: the form's CSRF token is missing or wrong.
    Csrf,
    /// 429: every hashing slot stayed busy.
    Busy {
        /// Seconds for `Retry-After`.
        retry_after_secs: u64,
    },
    /// 429: desk's rate limit.
    RateLimited {
        /// Seconds for `Retry-After`.
        retry_after_secs: u64,
    },
    /// 503: the database is unavailable.
    Unavailable,
    /// 500.
    Internal,
}

impl ErrorKind {
    fn status(self) -> StatusCode {
        match self {
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Csrf => StatusCode::FORBIDDEN,
            Self::Busy { .. } | Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Csrf => "csrf",
            Self::Busy { .. } => "busy",
            Self::RateLimited { .. } => "rate_limited",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
        }
    }

    fn retry_after(self) -> Option<u64> {
        match self {
            Self::Busy { retry_after_secs } | Self::RateLimited { retry_after_secs } => {
                Some(retry_after_secs.max(1))
            }
            Self::Unavailable => Some(30),
            _ => None,
        }
    }
}

impl Site {
    /// The site over `desk`, configured by desk's settings (`[site]`).
    ///
    /// # Errors
    /// A broken template override, an unusable `site.base_url`, or no
    /// randomness for the CSRF key.
    pub fn new(desk: Desk) -> Result<Self, SiteError> {
        Self::with_csrf_key(desk, csrf::CsrfKey::generate()?)
    }

    /// The site with forms signed by `csrf` (from the store's secret, so
    /// that every site process on one store agrees).
    ///
    /// # Errors
    /// As [`Site::new`].
    pub fn with_csrf_key(desk: Desk, csrf: csrf::CsrfKey) -> Result<Self, SiteError> {
        let settings = desk.settings().site.clone();
        let (secure, base) = split_base_url(&settings.base_url)?;
        let brand = Brand {
            name: settings.name.clone(),
            logo_url: settings.logo_url.clone(),
            base: base.clone(),
        };
        let templates = Templates::load(&settings.templates_dir, brand)?;
        // Requests in hashing handlers at once: twice the hashing slots, so
        // that while some do their database work the slots stay busy. The
        // argon2 memory itself is bounded by desk's own slots.
        let limiter = limits::HashLimiter::new(
            settings.max_concurrent_hashes.saturating_mul(2),
            settings.hash_queue_timeout,
        )
        .per_client(settings.max_hashes_per_client);
        let proxies = client_addr::TrustedProxies::parse(&settings.trusted_proxies)
            .map_err(SiteError::TrustedProxies)?;
        Ok(Self {
            proxies,
            proxy_header: settings.proxy_header,
            desk,
            templates,
            csrf,
            limiter,
            cookies: CookiePolicy {
                secure,
                path: if base.is_empty() { "/".into() } else { base },
            },
        })
    }

    /// The desk every handler calls.
    #[must_use]
    pub fn desk(&self) -> &Desk {
        &self.desk
    }

    /// `site.base_url` without its path: `https://host:port`.
    #[must_use]
    pub fn origin(&self) -> &str {
        let url = self.desk.settings().site.base_url.as_str();
        let after_scheme = url.find("://").map_or(0, |at| at + 3);
        url[after_scheme..]
            .find('/')
            .map_or(url, |end| &url[..after_scheme + end])
    }

    /// The client of a request from `peer`: the peer, or what a trusted
    /// proxy reports ([`client_addr`]).
    #[must_use]
    pub fn client(&self, peer: SocketAddr, headers: &axum::http::HeaderMap) -> client_addr::Client {
        client_addr::client(&self.proxies, self.proxy_header, peer, headers)
    }

    /// The hashing admission bound (the benchmark reads it).
    #[must_use]
    pub fn limiter(&self) -> &limits::HashLimiter {
        &self.limiter
    }

    /// A path under the site: `/login` becomes `{base}/login`.
    #[must_use]
    pub fn path(&self, path: &str) -> String {
        format!("{}{path}", self.templates.brand().base)
    }

    /// Renders a page with the visitor's CSRF token and the password
    /// lengths every password form needs.
    pub(crate) fn page(
        &self,
        visitor: &Visitor,
        status: StatusCode,
        template: &str,
        title: &str,
        ctx: Value,
    ) -> Response {
        let policy = self.desk.policy();
        let ctx = context! {
            csrf => visitor.csrf_token(&self.csrf),
            min_length => policy.min_length(),
            max_length => policy.max_length(),
            ..ctx
        };
        match self.templates.render(template, title, ctx) {
            Ok(html) => {
                let mut response = (status, Html(html)).into_response();
                visitor.set_cookies(&self.cookies, &mut response);
                response
            }
            Err(err) => {
                tracing::error!(error = %err, "a site page failed to render");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
            }
        }
    }

    /// The page for `kind`, with `Retry-After` where it applies.
    pub(crate) fn error_page(&self, visitor: Option<&Visitor>, kind: ErrorKind) -> Response {
        if matches!(kind, ErrorKind::Busy { .. } | ErrorKind::RateLimited { .. }) {
            crate::diag::metrics::metrics()
                .site_throttled
                .with_label_values(&[kind.name()])
                .inc();
        }
        let title = match kind {
            ErrorKind::NotFound | ErrorKind::MethodNotAllowed => "Page not found",
            ErrorKind::Csrf => "This form has expired",
            ErrorKind::Busy { .. } | ErrorKind::RateLimited { .. } => "Too many requests",
            ErrorKind::Unavailable => "Temporarily unavailable",
            ErrorKind::Internal => "Something went wrong",
        };
        let ctx = context! { kind => kind.name() };
        let mut response = match visitor {
            Some(v) => self.page(v, kind.status(), "error.html", title, ctx),
            None => match self.templates.render("error.html", title, ctx) {
                Ok(html) => (kind.status(), Html(html)).into_response(),
                Err(_) => kind.status().into_response(),
            },
        };
        if let Some(secs) = kind.retry_after() {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }

    /// The page for a desk outcome no handler has a better answer to.
    pub(crate) fn desk_failure(&self, visitor: &Visitor, err: &DeskError) -> Response {
        match err {
            DeskError::RateLimited { retry_after } => {
                tracing::info!(
                    event = "request.throttled",
                    client = %visitor.ip,
                    retry_after_secs = retry_after.as_secs(),
                    "request refused by a rate limit"
                );
                self.error_page(
                    Some(visitor),
                    ErrorKind::RateLimited {
                        retry_after_secs: retry_after.as_secs(),
                    },
                )
            }
            DeskError::Unavailable(_) => self.error_page(Some(visitor), ErrorKind::Unavailable),
            DeskError::SessionEnded => self.to_login(visitor, "session_ended", true),
            other => {
                tracing::error!(kind = other.kind(), error = %other, "site request failed");
                self.error_page(Some(visitor), ErrorKind::Internal)
            }
        }
    }

    /// 303 to the login page with a notice, optionally dropping the session cookie.
    pub(crate) fn to_login(&self, visitor: &Visitor, notice: &str, clear: bool) -> Response {
        let mut response = session::see_other(&self.path(&format!("/login?notice={notice}")));
        if clear && visitor.session.is_some() {
            response.headers_mut().append(
                header::SET_COOKIE,
                self.cookies.clear(session::SESSION_COOKIE),
            );
        }
        response
    }

    /// The 403 answer to a form without a good CSRF token.
    pub(crate) fn csrf_refused(&self, visitor: &Visitor) -> Response {
        tracing::warn!(
            event = "csrf.refused",
            client = %visitor.ip,
            "form refused: missing or wrong CSRF token"
        );
        self.error_page(Some(visitor), ErrorKind::Csrf)
    }

    /// The answer when the hashing admission bound is full.
    pub(crate) fn busy(&self, visitor: &Visitor, busy: limits::Busy) -> Response {
        self.error_page(
            Some(visitor),
            ErrorKind::Busy {
                retry_after_secs: busy.retry_after_secs,
            },
        )
    }

    /// The cookie policy (Secure, Path).
    pub(crate) fn cookies(&self) -> &CookiePolicy {
        &self.cookies
    }

    /// The CSRF key.
    pub(crate) fn csrf_key(&self) -> &csrf::CsrfKey {
        &self.csrf
    }
}

/// Splits `site.base_url` into "served over https" and its path without
/// the trailing slash; refuses a path with characters a link or cookie
/// attribute could not carry as they are.
fn split_base_url(base_url: &str) -> Result<(bool, String), SiteError> {
    let (secure, rest) = if let Some(rest) = base_url.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = base_url.strip_prefix("http://") {
        (false, rest)
    } else {
        return Err(SiteError::BaseUrl(format!(
            "`{base_url}` must start with http:// or https://"
        )));
    };
    let path = rest.find('/').map_or("", |at| &rest[at..]);
    let path = path.trim_end_matches('/');
    if !path
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/-._~".contains(c))
    {
        return Err(SiteError::BaseUrl(format!(
            "`{base_url}`: the path may hold only letters, digits and / - . _ ~"
        )));
    }
    Ok((secure, path.to_owned()))
}

/// The router with every page, the security headers and the body limit.
///
/// # Errors
/// As [`Site::new`].
pub fn router(desk: Desk) -> Result<Router, SiteError> {
    Ok(router_for(Arc::new(Site::new(desk)?)))
}

/// The router over an existing [`Site`].
pub fn router_for(site: Arc<Site>) -> Router {
    let mut pages: Router<Arc<Site>> = Router::new()
        .route("/", get(root))
        .route("/site.css", get(stylesheet))
        .route("/site.js", get(script))
        .route("/password/strength", post(strength::check))
        .route("/login", get(login::show).post(login::submit))
        .route("/logout", post(account::logout))
        .route("/password/forgot", get(forgot::show).post(forgot::submit))
        .route(
            &format!("{RESET_PATH}{{token}}"),
            get(reset::show).post(reset::submit),
        )
        .route(
            "/password/new",
            get(account::show_forced).post(account::submit_forced),
        )
        .route("/account", get(account::show))
        .route("/account/password", post(account::change_password))
        .route("/account/sessions/{id}/end", post(account::end_session))
        .route(
            "/account/sign-out-everywhere",
            post(account::sign_out_everywhere),
        );
    // Links already mailed by a desk that builds them under another path
    // keep working.
    let desk_path = crate::desk::reset_links::RESET_PATH;
    if desk_path != RESET_PATH && desk_path.starts_with('/') && desk_path.ends_with('/') {
        pages = pages.route(
            &format!("{desk_path}{{token}}"),
            get(reset::show).post(reset::submit),
        );
    }
    let base = site.templates.brand().base.clone();
    let https = site.cookies.secure;
    let upgrade =
        axum::middleware::from_fn_with_state(Arc::clone(&site), client_addr::upgrade_to_https);
    let pages = pages
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed);
    let app: Router = if base.is_empty() {
        pages.with_state(site)
    } else {
        Router::new()
            .nest(&base, pages)
            .fallback(not_found)
            .with_state(site)
    };
    let app = app
        .layer(axum::middleware::from_fn(last_resort::catch_panic))
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES));
    let app = if https { app.layer(upgrade) } else { app }
        .layer(axum::middleware::map_response(headers::security_headers));
    if https {
        app.layer(axum::middleware::map_response(
            headers::strict_transport_security,
        ))
    } else {
        app
    }
}

/// Serves the site on `listener` until `shutdown` completes, then lets
/// requests in flight finish. Forms are signed with the store's CSRF
/// secret, shared by every site process on the store.
///
/// # Errors
/// As [`Site::new`], or an I/O failure of the listener.
pub async fn serve(
    desk: Desk,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), SiteError> {
    let secret = desk
        .site_csrf_secret()
        .await
        .map_err(|e| SiteError::Secret(e.to_string()))?;
    let key = csrf::CsrfKey::from_secret(&secret);
    let app = router_for(Arc::new(Site::with_csrf_key(desk.clone(), key)?));
    tracing::info!(address = ?listener.local_addr().ok(), "customer site listening");
    let purge = tokio::spawn(purge_hourly(desk));
    let served = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await;
    purge.abort();
    served?;
    Ok(())
}

/// Deletes rows past their retention ([`crate::desk::retention`]) now
/// and every hour while the site runs; a failure is logged and retried
/// at the next hour.
async fn purge_hourly(desk: Desk) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        every.tick().await;
        if let Err(err) = desk.purge_stale().await {
            tracing::warn!(kind = err.kind(), error = %err, "purging old rows failed");
        }
    }
}

async fn root(State(site): State<Arc<Site>>) -> Response {
    session::see_other(&site.path("/account"))
}

async fn stylesheet(State(site): State<Arc<Site>>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        site.templates.css().to_owned(),
    )
        .into_response()
}

/// The one script: Show/Hide beside password fields (ASVS V2.1.12).
const SCRIPT: &str = include_str!("../../assets/site/site.js");

async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        SCRIPT,
    )
        .into_response()
}

async fn not_found(State(site): State<Arc<Site>>, visitor: Visitor) -> Response {
    site.error_page(Some(&visitor), ErrorKind::NotFound)
}

async fn method_not_allowed(State(site): State<Arc<Site>>, visitor: Visitor) -> Response {
    site.error_page(Some(&visitor), ErrorKind::MethodNotAllowed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_split_into_scheme_and_path() {
        assert_eq!(
            split_base_url("http://127.0.0.1:8080").unwrap(),
            (false, String::new())
        );
        assert_eq!(
            split_base_url("https://example.com/").unwrap(),
            (true, String::new())
        );
        assert_eq!(
            split_base_url("https://example.com/help/account/").unwrap(),
            (true, "/help/account".into())
        );
        assert!(split_base_url("example.com").is_err());
        assert!(split_base_url("https://example.com/a\"b").is_err());
    }
}
