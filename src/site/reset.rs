//! The reset page (`/password/reset/{token}`), the link in the email.
//!
//! Opening it never uses the link (mail scanners open links): GET asks
//! desk only whether the link still works and shows New password and
//! Confirm new password. Only a successful POST redeems it. A link that
//! is unknown, expired, used or revoked gets a page saying so, with a way
//! to ask for a new one. After the reset the customer is sent to log in;
//! nobody is signed in automatically.
//!
//! The token is never logged; the page it is on is `no-store` and sends
//! no `Referer` (see [`super::headers`]).

use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use minijinja::context;
use serde::Deserialize;

use super::session::{SESSION_COOKIE, Visitor, see_other};
use super::{ErrorKind, RESET_PATH, Site};
use crate::desk::{DeskError, LinkProblem};

/// The reset form.
#[derive(Deserialize)]
pub struct ResetForm {
    /// CSRF token.
    #[serde(default)]
    pub csrf: String,
    /// New password (never logged: this type has no `Debug`).
    #[serde(default)]
    pub new_password: String,
    /// Confirm new password.
    #[serde(default)]
    pub confirm_password: String,
}

/// The password fields are wiped when the form is dropped (ASVS V8.3.6).
impl Drop for ResetForm {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.new_password.zeroize();
        self.confirm_password.zeroize();
    }
}

impl zeroize::ZeroizeOnDrop for ResetForm {}

/// `GET /password/reset/{token}`.
pub async fn show(
    State(site): State<Arc<Site>>,
    visitor: Visitor,
    Path(token): Path<String>,
) -> Response {
    match site.desk().inspect_reset_link(&token).await {
        Ok(link) => form(&site, &visitor, StatusCode::OK, &token, &link, "", &[]),
        Err(err) => {
            if let DeskError::InvalidLink(problem) = &err {
                tracing::info!(
                    event = "reset_link.refused",
                    client = %visitor.ip,
                    problem = ?problem,
                    "a reset link that cannot be used was opened"
                );
            }
            failure(&site, &visitor, &err)
        }
    }
}

/// `POST /password/reset/{token}`.
pub async fn submit(
    State(site): State<Arc<Site>>,
    visitor: Visitor,
    Path(token): Path<String>,
    Form(input): Form<ResetForm>,
) -> Response {
    if !visitor.csrf_ok(site.csrf_key(), &input.csrf) {
        return site.csrf_refused(&visitor);
    }
    if input.new_password != input.confirm_password {
        return again(&site, &visitor, &token, "mismatch", &[]).await;
    }
    let permit = match site.limiter().acquire(visitor.ip).await {
        Ok(permit) => permit,
        Err(busy) => return site.busy(&visitor, busy),
    };
    let outcome = site
        .desk()
        .redeem_reset_from(&token, &input.new_password, &visitor.client())
        .await;
    drop(permit);
    match outcome {
        Ok(_) => {
            let mut response = see_other(&site.path("/login?notice=reset_done"));
            // Desk ended every session of this customer; drop a dead cookie.
            if visitor.session.is_some() {
                response
                    .headers_mut()
                    .append(header::SET_COOKIE, site.cookies().clear(SESSION_COOKIE));
            }
            response
        }
        Err(DeskError::Policy(refusal)) => {
            again(&site, &visitor, &token, "", &refusal.reasons).await
        }
        Err(DeskError::RateLimited { retry_after }) => site.error_page(
            Some(&visitor),
            ErrorKind::Busy {
                retry_after_secs: retry_after.as_secs(),
            },
        ),
        Err(err) => failure(&site, &visitor, &err),
    }
}

/// The form again with an error, if the link still works.
async fn again(
    site: &Site,
    visitor: &Visitor,
    token: &str,
    error: &str,
    reasons: &[String],
) -> Response {
    match site.desk().inspect_reset_link(token).await {
        Ok(link) => form(
            site,
            visitor,
            StatusCode::UNPROCESSABLE_ENTITY,
            token,
            &link,
            error,
            reasons,
        ),
        Err(err) => failure(site, visitor, &err),
    }
}

fn form(
    site: &Site,
    visitor: &Visitor,
    status: StatusCode,
    token: &str,
    link: &crate::desk::reset_links::LinkInfo,
    error: &str,
    reasons: &[String],
) -> Response {
    // A welcome link sets the first password; any other link replaces one.
    let title = if link.welcome {
        "Set your password"
    } else {
        "Set a new password"
    };
    site.page(
        visitor,
        status,
        "reset.html",
        title,
        context! {
            action => site.path(&format!("{RESET_PATH}{token}")),
            title => title,
            welcome => link.welcome,
            email => &link.email,
            error => error,
            reasons => reasons,
        },
    )
}

/// The page for a link that cannot be used, or any other failure.
fn failure(site: &Site, visitor: &Visitor, err: &DeskError) -> Response {
    let DeskError::InvalidLink(problem) = err else {
        return site.desk_failure(visitor, err);
    };
    let (status, name, title) = match problem {
        LinkProblem::Unknown => (StatusCode::NOT_FOUND, "unknown", "This link is not valid"),
        LinkProblem::Expired => (StatusCode::GONE, "expired", "This link has expired"),
        LinkProblem::Used => (StatusCode::GONE, "used", "This link was already used"),
        LinkProblem::Revoked => (StatusCode::GONE, "revoked", "This link no longer works"),
    };
    site.page(
        visitor,
        status,
        "link_problem.html",
        title,
        context! { problem => name },
    )
}
