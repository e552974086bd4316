//! Account settings (`/account`): change password (Current password, New
//! password, Confirm new password), the sessions list with Sign out
//! everywhere, Log out; and the forced change (`/password/new`) for a
//! customer who logged in with a temporary password.
//!
//! Every page here needs a live session (desk checks the cookie on each
//! request, with its idle and absolute timeouts). A customer who must
//! change their password sees only `/password/new` and Log out.

use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::session::{SESSION_COOKIE, Visitor, see_other};
use super::{ErrorKind, Site};
use crate::desk::DeskError;
use crate::desk::sessions::SiteSession;

/// `?notice=` values the account page knows.
const NOTICES: &[&str] = &["session_ended", "password_changed", "password_set"];

/// The query string of `GET /account`.
#[derive(Debug, Default, Deserialize)]
pub struct AccountQuery {
    /// Which notice to show.
    #[serde(default)]
    pub notice: String,
}

/// The change-password forms (account settings and the forced change).
#[derive(Deserialize)]
pub struct ChangeForm {
    /// CSRF token.
    #[serde(default)]
    pub csrf: String,
    /// Current password (never logged: this type has no `Debug`).
    #[serde(default)]
    pub current_password: String,
    /// New password.
    #[serde(default)]
    pub new_password: String,
    /// Confirm new password.
    #[serde(default)]
    pub confirm_password: String,
}

/// The password fields are wiped when the form is dropped (ASVS V8.3.6).
impl Drop for ChangeForm {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.current_password.zeroize();
        self.new_password.zeroize();
        self.confirm_password.zeroize();
    }
}

impl zeroize::ZeroizeOnDrop for ChangeForm {}

/// A form with nothing but its CSRF token (log out, sign out).
#[derive(Debug, Deserialize)]
pub struct TokenForm {
    /// CSRF token.
    #[serde(default)]
    pub csrf: String,
}

/// One row of the sessions list.
#[derive(Debug, Serialize)]
struct SessionRow {
    id: i64,
    client: String,
    created_at: String,
    last_seen_at: String,
    current: bool,
}

/// The live session behind the cookie, or the response that sends the
/// visitor to log in.
async fn signed_in(site: &Site, visitor: &Visitor) -> Result<(String, SiteSession), Response> {
    let Some(raw) = visitor.session.clone() else {
        return Err(see_other(&site.path("/login")));
    };
    match site.desk().session_from_cookie(&raw).await {
        Ok(me) => Ok((raw, me)),
        Err(err) => Err(site.desk_failure(visitor, &err)),
    }
}

/// `GET /account`.
pub async fn show(
    State(site): State<Arc<Site>>,
    visitor: Visitor,
    Query(query): Query<AccountQuery>,
) -> Response {
    let (_, me) = match signed_in(&site, &visitor).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    if me.must_change_password {
        return see_other(&site.path("/password/new"));
    }
    let notice = NOTICES
        .iter()
        .find(|n| **n == query.notice)
        .copied()
        .unwrap_or_default();
    account_page(&site, &visitor, &me, StatusCode::OK, notice, "", &[]).await
}

async fn account_page(
    site: &Site,
    visitor: &Visitor,
    me: &SiteSession,
    status: StatusCode,
    notice: &str,
    error: &str,
    reasons: &[String],
) -> Response {
    let sessions = match site.desk().list_sessions(me.account_id).await {
        Ok(list) => list,
        Err(err) => return site.desk_failure(visitor, &err),
    };
    let rows: Vec<SessionRow> = sessions
        .into_iter()
        .map(|s| SessionRow {
            id: s.id,
            client: s.client,
            created_at: s.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            last_seen_at: s.last_seen_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            current: s.id == me.session_id,
        })
        .collect();
    site.page(
        visitor,
        status,
        "account.html",
        "Account settings",
        context! {
            email => &me.email,
            name => &me.name,
            sessions => rows,
            notice => notice,
            error => error,
            reasons => reasons,
        },
    )
}

fn forced_page(
    site: &Site,
    visitor: &Visitor,
    status: StatusCode,
    error: &str,
    reasons: &[String],
) -> Response {
    site.page(
        visitor,
        status,
        "password_new.html",
        "Choose a new password",
        context! { error => error, reasons => reasons },
    )
}

/// `POST /account/password`.
pub async fn change_password(
    State(site): State<Arc<Site>>,
    visitor: Visitor,
    Form(form): Form<ChangeForm>,
) -> Response {
    change(&site, &visitor, &form, false).await
}

/// `GET /password/new`: the forced change after a temporary password.
pub async fn show_forced(State(site): State<Arc<Site>>, visitor: Visitor) -> Response {
    match signed_in(&site, &visitor).await {
        Ok((_, me)) if me.must_change_password => {
            forced_page(&site, &visitor, StatusCode::OK, "", &[])
        }
        Ok(_) => see_other(&site.path("/account")),
        Err(response) => response,
    }
}

/// `POST /password/new`.
pub async fn submit_forced(
    State(site): State<Arc<Site>>,
    visitor: Visitor,
    Form(form): Form<ChangeForm>,
) -> Response {
    change(&site, &visitor, &form, true).await
}

/// Both change-password forms: one desk operation, which verifies the
/// current password, checks the policy, ends every session and reset
/// link, and opens a fresh session for this device.
async fn change(site: &Site, visitor: &Visitor, form: &ChangeForm, forced: bool) -> Response {
    if !visitor.csrf_ok(site.csrf_key(), &form.csrf) {
        return site.csrf_refused(visitor);
    }
    let (raw, me) = match signed_in(site, visitor).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let refused = async |error: &str, reasons: &[String]| {
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        if forced {
            forced_page(site, visitor, status, error, reasons)
        } else {
            account_page(site, visitor, &me, status, "", error, reasons).await
        }
    };
    if form.new_password != form.confirm_password {
        return refused("mismatch", &[]).await;
    }
    let permit = match site.limiter().acquire(visitor.ip).await {
        Ok(permit) => permit,
        Err(busy) => return site.busy(visitor, busy),
    };
    let outcome = site
        .desk()
        .change_own_password(&raw, &form.current_password, &form.new_password)
        .await;
    drop(permit);
    match outcome {
        Ok(changed) => {
            let notice = if forced {
                "password_set"
            } else {
                "password_changed"
            };
            let mut response = see_other(&site.path(&format!("/account?notice={notice}")));
            response.headers_mut().append(
                header::SET_COOKIE,
                site.cookies().set(SESSION_COOKIE, &changed.session),
            );
            response
        }
        Err(DeskError::BadCredentials) => refused("bad_current", &[]).await,
        Err(DeskError::Locked { .. }) => refused("locked", &[]).await,
        Err(DeskError::Policy(refusal)) => refused("", &refusal.reasons).await,
        Err(DeskError::RateLimited { retry_after }) => site.error_page(
            Some(visitor),
            ErrorKind::Busy {
                retry_after_secs: retry_after.as_secs(),
            },
        ),
        Err(err) => site.desk_failure(visitor, &err),
    }
}

/// `POST /account/sessions/{id}/end`.
pub async fn end_session(
    State(site): State<Arc<Site>>,
    visitor: Visitor,
    Path(id): Path<i64>,
    Form(form): Form<TokenForm>,
) -> Response {
    if !visitor.csrf_ok(site.csrf_key(), &form.csrf) {
        return site.csrf_refused(&visitor);
    }
    let Some(raw) = visitor.session.as_deref() else {
        return see_other(&site.path("/login"));
    };
    match site.desk().end_own_session(raw, id).await {
        // If it was this device's session, /account sends them to log in.
        Ok(_) => see_other(&site.path("/account?notice=session_ended")),
        Err(err) => site.desk_failure(&visitor, &err),
    }
}

/// `POST /account/sign-out-everywhere`.
pub async fn sign_out_everywhere(
    State(site): State<Arc<Site>>,
    visitor: Visitor,
    Form(form): Form<TokenForm>,
) -> Response {
    if !visitor.csrf_ok(site.csrf_key(), &form.csrf) {
        return site.csrf_refused(&visitor);
    }
    let Some(raw) = visitor.session.as_deref() else {
        return see_other(&site.path("/login"));
    };
    match site.desk().sign_out_everywhere_own(raw).await {
        Ok(_) => site.to_login(&visitor, "signed_out_everywhere", true),
        Err(err) => site.desk_failure(&visitor, &err),
    }
}

/// `POST /logout`.
pub async fn logout(
    State(site): State<Arc<Site>>,
    visitor: Visitor,
    Form(form): Form<TokenForm>,
) -> Response {
    if !visitor.csrf_ok(site.csrf_key(), &form.csrf) {
        return site.csrf_refused(&visitor);
    }
    if let Some(raw) = visitor.session.as_deref()
        && let Err(err) = site.desk().end_session(raw).await
    {
        return site.desk_failure(&visitor, &err);
    }
    site.to_login(&visitor, "signed_out", true)
}
