//! Log in (`/login`): Email and Password.
//!
//! Wrong credentials give one message that does not say which was wrong
//! (desk decides, and answers an unknown email after the same hashing
//! time). A locked account is told to try later or use Forgot Password. A
//! customer whose password must change goes to `/password/new` first.

use std::sync::Arc;

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use minijinja::context;
use serde::Deserialize;

use super::session::{SESSION_COOKIE, Visitor, see_other};
use super::{ErrorKind, Site};
use crate::desk::DeskError;

/// `?notice=` values the login page knows; anything else shows nothing.
const NOTICES: &[&str] = &[
    "reset_done",
    "password_changed",
    "signed_out",
    "signed_out_everywhere",
    "session_ended",
];

/// The query string of `GET /login`.
#[derive(Debug, Default, Deserialize)]
pub struct LoginQuery {
    /// Which notice to show.
    #[serde(default)]
    pub notice: String,
}

/// The login form.
#[derive(Deserialize)]
pub struct LoginForm {
    /// CSRF token.
    #[serde(default)]
    pub csrf: String,
    /// Email.
    #[serde(default)]
    pub email: String,
    /// Password (never logged: this type has no `Debug`).
    #[serde(default)]
    pub password: String,
}

/// The password fields are wiped when the form is dropped (ASVS V8.3.6).
impl Drop for LoginForm {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.password.zeroize();
    }
}

impl zeroize::ZeroizeOnDrop for LoginForm {}

/// `GET /login`.
pub async fn show(
    State(site): State<Arc<Site>>,
    visitor: Visitor,
    Query(query): Query<LoginQuery>,
) -> Response {
    let notice = NOTICES
        .iter()
        .find(|n| **n == query.notice)
        .copied()
        .unwrap_or_default();
    render(&site, &visitor, StatusCode::OK, "", notice, "", "")
}

fn render(
    site: &Site,
    visitor: &Visitor,
    status: StatusCode,
    email: &str,
    notice: &str,
    error: &str,
    message: &str,
) -> Response {
    site.page(
        visitor,
        status,
        "login.html",
        "Log in",
        context! { email => email, notice => notice, error => error, message => message },
    )
}

/// `POST /login`.
pub async fn submit(
    State(site): State<Arc<Site>>,
    visitor: Visitor,
    Form(form): Form<LoginForm>,
) -> Response {
    if !visitor.csrf_ok(site.csrf_key(), &form.csrf) {
        return site.csrf_refused(&visitor);
    }
    let permit = match site.limiter().acquire(visitor.ip).await {
        Ok(permit) => permit,
        Err(busy) => return site.busy(&visitor, busy),
    };
    let outcome = site
        .desk()
        .authenticate(&form.email, &form.password, &visitor.client())
        .await;
    drop(permit);
    crate::diag::metrics::metrics()
        .site_logins
        .with_label_values(&[match &outcome {
            Ok(_) => "success",
            Err(err) => err.kind(),
        }])
        .inc();
    let refused = |error: &str| {
        render(
            &site,
            &visitor,
            StatusCode::UNPROCESSABLE_ENTITY,
            &form.email,
            "",
            error,
            "",
        )
    };
    let signed_in = match outcome {
        Ok(signed_in) => signed_in,
        Err(DeskError::BadCredentials) => return refused("bad_credentials"),
        Err(DeskError::Locked { .. }) => return refused("locked"),
        Err(DeskError::TemporaryExpired) => return refused("temporary_expired"),
        Err(DeskError::RateLimited { retry_after }) => {
            // Too many failed sign-ins from this address (desk logged it),
            // or every hashing slot inside desk stayed busy.
            return site.error_page(
                Some(&visitor),
                ErrorKind::Busy {
                    retry_after_secs: retry_after.as_secs(),
                },
            );
        }
        Err(err) => return site.desk_failure(&visitor, &err),
    };
    // A session left in this browser by someone else ends now.
    if let Some(old) = &visitor.session
        && let Err(err) = site.desk().end_session(old).await
    {
        tracing::warn!(kind = err.kind(), "could not end the previous session");
    }
    let raw = match site
        .desk()
        .start_session(signed_in.account_id, &visitor.client_description())
        .await
    {
        Ok(raw) => raw,
        Err(err) => return site.desk_failure(&visitor, &err),
    };
    let next = if signed_in.must_change_password {
        "/password/new"
    } else {
        "/account"
    };
    let mut response = see_other(&site.path(next));
    response
        .headers_mut()
        .append(header::SET_COOKIE, site.cookies().set(SESSION_COOKIE, &raw));
    visitor.set_cookies(site.cookies(), &mut response);
    response
}
