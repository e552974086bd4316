//! The customer site's password pages over real HTTP on 127.0.0.1,
//! against a real store on SQLite, PostgreSQL and MariaDB: the reset link
//! (unused by opening, once only, expired, revoked, unknown), the account
//! password change, the forced change after a temporary password, and
//! sessions (one by one, everywhere, idle timeout).

use std::time::Duration;

use crate::on_every_backend;
use crate::support::db::TestDb;
use crate::support::site::{PW, PW2, PW3, TestSite, session_cookie};

async fn reset_link_opens_without_being_used_and_works_once(db: TestDb) {
    let site = TestSite::start(db, &[]).await;
    site.customer("Ada Lovelace", "ada@example.com", Some(PW))
        .await;
    let c = site.client();
    let asked = c.forgot("ada@example.com").await;
    assert_eq!(asked.status, 200);
    let link = site
        .last_link("ada@example.com")
        .await
        .expect("link mailed");
    assert!(
        link.starts_with(&format!("{}/password/reset/", site.url))
            || link.starts_with(&format!("{}/reset/", site.url)),
        "{link}"
    );
    // A mail scanner opens it twice; it still works.
    let scanner = site.client();
    for _ in 0..2 {
        let page = scanner.get(&link).await;
        assert_eq!(page.status, 200);
        assert_eq!(page.header("cache-control"), Some("no-store"));
        assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    }
    let form = c.get(&link).await;
    assert_eq!(form.h1(), "Set a new password");
    assert!(form.body.contains(">New password</label>"));
    assert!(form.body.contains(">Confirm new password</label>"));
    assert!(form.body.contains("ada@example.com"));
    let action = {
        let at = form.body.find("<form method=\"post\" action=\"").unwrap() + 28;
        let end = form.body[at..].find('"').unwrap();
        form.body[at..at + end].replace("&#x2f;", "/")
    };
    let token = form.csrf();
    // The two fields differ.
    let mismatch = c
        .post(
            &action,
            &[
                ("csrf", &token),
                ("new_password", PW2),
                ("confirm_password", PW3),
            ],
        )
        .await;
    assert_eq!(mismatch.status, 422);
    assert!(mismatch.body.contains("not the same"));
    // The policy refuses, with its one-line reasons.
    let weak = c
        .post(
            &action,
            &[
                ("csrf", &token),
                ("new_password", "password1234"),
                ("confirm_password", "password1234"),
            ],
        )
        .await;
    assert_eq!(weak.status, 422, "{}", weak.main());
    assert!(weak.body.contains("That password cannot be used"));
    assert!(weak.body.contains("<li>"), "reasons listed");
    // Set it.
    let done = c
        .post(
            &action,
            &[
                ("csrf", &token),
                ("new_password", PW2),
                ("confirm_password", PW2),
            ],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location(), "/login?notice=reset_done");
    assert!(session_cookie(&done).is_none(), "no automatic sign-in");
    assert!(
        c.get(done.location())
            .await
            .body
            .contains("Your new password is set.")
    );
    // The old password is gone; the new one works.
    assert_eq!(c.login("ada@example.com", PW).await.status, 422);
    assert_eq!(c.login("ada@example.com", PW2).await.status, 303);
    // The link is used now.
    let used = site.client().get(&link).await;
    assert_eq!(used.status, 410);
    assert_eq!(used.h1(), "This link was already used");
    assert!(
        used.body.contains("href=\"/password/forgot\""),
        "offers a new link"
    );
    let again = c
        .post(
            &action,
            &[
                ("csrf", &c.get("/login").await.csrf()),
                ("new_password", PW3),
                ("confirm_password", PW3),
            ],
        )
        .await;
    assert!(
        again.status == 410 || again.status == 403,
        "{}",
        again.status
    );
    site.stop().await;
}
on_every_backend!(
    reset_link_opens_without_being_used_and_works_once_on,
    reset_link_opens_without_being_used_and_works_once
);

/// The welcome email's link (an offer granted to a plain contact) sets
/// the first password: its page says "Set your password", also when the
/// form comes back with an error; a later reset link says "Set a new
/// password".
async fn a_welcome_link_says_set_your_password(db: TestDb) {
    let site = TestSite::start(db, &[]).await;
    // "Course" exists once someone holds it.
    site.customer("Zed Holder", "zed@example.com", None).await;
    site.non_customer("Cleo Park", "cleo@example.com").await;
    let op = site.admin().await;
    site.desk
        .grant_offer(&op, "cleo@example.com", "Course", true)
        .await
        .expect("granted");
    let link = site
        .last_welcome_link("cleo@example.com")
        .await
        .expect("welcome link mailed");
    let c = site.client();
    let form = c.get(&link).await;
    assert_eq!(form.status, 200);
    assert_eq!(form.h1(), "Set your password");
    assert!(
        form.body.contains("<title>Set your password"),
        "{}",
        form.body
    );
    assert!(form.body.contains("cleo@example.com"));
    let token = form.csrf();
    let action = {
        let at = form.body.find("<form method=\"post\" action=\"").unwrap() + 28;
        let end = form.body[at..].find('"').unwrap();
        form.body[at..at + end].replace("&#x2f;", "/")
    };
    let mismatch = c
        .post(
            &action,
            &[
                ("csrf", &token),
                ("new_password", PW2),
                ("confirm_password", PW3),
            ],
        )
        .await;
    assert_eq!(mismatch.status, 422);
    assert_eq!(mismatch.h1(), "Set your password");

    // A reset link for her afterwards is a reset.
    site.desk
        .send_reset_link(&op, "cleo@example.com", true)
        .await
        .expect("reset sent");
    let reset = site
        .last_link("cleo@example.com")
        .await
        .expect("reset link mailed");
    assert_eq!(c.get(&reset).await.h1(), "Set a new password");
    site.stop().await;
}
on_every_backend!(
    a_welcome_link_says_set_your_password_on,
    a_welcome_link_says_set_your_password
);

async fn expired_revoked_and_unknown_links_say_so(db: TestDb) {
    let site = TestSite::start(db, &[]).await;
    site.customer("Ada", "ada@example.com", Some(PW)).await;
    let op = site.admin().await;
    site.desk
        .send_reset_link(&op, "ada@example.com", false)
        .await
        .expect("send");
    let first = site.last_link("ada@example.com").await.unwrap();
    site.desk
        .send_reset_link(&op, "ada@example.com", true)
        .await
        .expect("send again");
    let second = site.last_link("ada@example.com").await.unwrap();
    assert_ne!(first, second);
    let c = site.client();
    let revoked = c.get(&first).await;
    assert_eq!(revoked.status, 410);
    assert_eq!(revoked.h1(), "This link no longer works");
    assert!(revoked.body.contains("Send me a new link"));
    // Submitting to a revoked link is refused the same way.
    let token = c.get("/login").await.csrf();
    let post = c
        .post(
            &first,
            &[
                ("csrf", &token),
                ("new_password", PW2),
                ("confirm_password", PW2),
            ],
        )
        .await;
    assert_eq!(post.status, 410);
    assert_eq!(c.get(&second).await.status, 200);
    site.clock.advance(Duration::from_secs(6 * 3600 + 1));
    let expired = c.get(&second).await;
    assert_eq!(expired.status, 410);
    assert_eq!(expired.h1(), "This link has expired");
    assert!(expired.body.contains("href=\"/password/forgot\""));
    let unknown = c
        .get("/password/reset/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
        .await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.h1(), "This link is not valid");
    let junk = c.get("/password/reset/%3Cscript%3E").await;
    assert_eq!(junk.status, 404);
    assert!(!junk.body.contains("<script>"));
    // The password never changed.
    assert_eq!(c.login("ada@example.com", PW).await.status, 303);
    site.stop().await;
}
on_every_backend!(
    expired_revoked_and_unknown_links_say_so_on,
    expired_revoked_and_unknown_links_say_so
);

async fn account_password_change_refusals_and_success(db: TestDb) {
    let site = TestSite::start(db, &[]).await;
    site.customer("Ada Lovelace", "ada@example.com", Some(PW))
        .await;
    let phone = site.client();
    assert_eq!(phone.login("ada@example.com", PW).await.status, 303);
    let c = site.client();
    assert_eq!(c.login("ada@example.com", PW).await.status, 303);
    let change = async |current: &str, new: &str, confirm: &str| {
        c.submit(
            "/account",
            "/account/password",
            &[
                ("current_password", current),
                ("new_password", new),
                ("confirm_password", confirm),
            ],
        )
        .await
    };
    let wrong = change("Not-My-Password-000", PW2, PW2).await;
    assert_eq!(wrong.status, 422);
    assert!(wrong.body.contains("The current password is not correct."));
    let mismatch = change(PW, PW2, PW3).await;
    assert_eq!(mismatch.status, 422);
    assert!(mismatch.body.contains("not the same"));
    let weak = change(PW, "adalovelace1234", "adalovelace1234").await;
    assert_eq!(weak.status, 422);
    assert!(
        weak.body.contains("That password cannot be used"),
        "{}",
        weak.main()
    );
    let done = change(PW, PW2, PW2).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location(), "/account?notice=password_changed");
    assert!(
        session_cookie(&done).is_some(),
        "this device gets a fresh session"
    );
    let account = c.get(done.location()).await;
    assert_eq!(account.status, 200);
    assert!(account.body.contains("Your password was changed."));
    // The other device was signed out.
    let other = phone.get("/account").await;
    assert_eq!(other.status, 303);
    assert_eq!(other.location(), "/login?notice=session_ended");
    assert!(site.client().login("ada@example.com", PW2).await.status == 303);
    site.stop().await;
}
on_every_backend!(
    account_password_change_refusals_and_success_on,
    account_password_change_refusals_and_success
);

async fn a_temporary_password_must_be_changed_first(db: TestDb) {
    let site = TestSite::start(db, &[]).await;
    site.customer("Ada", "ada@example.com", None).await;
    let op = site.admin().await;
    let temporary = site.desk.generate_temporary_password().expect("temporary");
    site.desk
        .change_password(&op, "ada@example.com", &temporary, true)
        .await
        .expect("set temporary");
    let c = site.client();
    let login = c.login("ada@example.com", &temporary).await;
    assert_eq!(login.status, 303);
    assert_eq!(login.location(), "/password/new");
    // Nothing else until it is changed.
    assert_eq!(c.get("/account").await.location(), "/password/new");
    let page = c.get("/password/new").await;
    assert_eq!(page.status, 200);
    assert_eq!(page.h1(), "Choose a new password");
    for label in [
        ">Current password</label>",
        ">New password</label>",
        ">Confirm new password</label>",
        ">Log out</button>",
    ] {
        assert!(page.body.contains(label), "{label}");
    }
    let wrong = c
        .submit(
            "/password/new",
            "/password/new",
            &[
                ("current_password", "nope-nope-nope"),
                ("new_password", PW2),
                ("confirm_password", PW2),
            ],
        )
        .await;
    assert_eq!(wrong.status, 422);
    assert!(wrong.body.contains("The current password is not correct."));
    let done = c
        .submit(
            "/password/new",
            "/password/new",
            &[
                ("current_password", &temporary),
                ("new_password", PW2),
                ("confirm_password", PW2),
            ],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location(), "/account?notice=password_set");
    assert_eq!(c.get("/account").await.status, 200);
    assert_eq!(c.get("/password/new").await.location(), "/account");
    site.stop().await;
}
on_every_backend!(
    a_temporary_password_must_be_changed_first_on,
    a_temporary_password_must_be_changed_first
);

async fn an_expired_temporary_password_is_refused(db: TestDb) {
    let site = TestSite::start(db, &[]).await;
    site.customer("Ada", "ada@example.com", None).await;
    let op = site.admin().await;
    let temporary = site.desk.generate_temporary_password().expect("temporary");
    site.desk
        .change_password(&op, "ada@example.com", &temporary, true)
        .await
        .expect("set temporary");
    site.clock.advance(Duration::from_secs(73 * 3600));
    let page = site.client().login("ada@example.com", &temporary).await;
    assert_eq!(page.status, 422);
    assert!(
        page.body.contains("temporary password has expired"),
        "{}",
        page.main()
    );
    site.stop().await;
}
on_every_backend!(
    an_expired_temporary_password_is_refused_on,
    an_expired_temporary_password_is_refused
);

async fn sessions_end_one_by_one_everywhere_and_by_timeout(db: TestDb) {
    let site = TestSite::start(db, &[]).await;
    site.customer("Ada", "ada@example.com", Some(PW)).await;
    site.customer("Eve", "eve@example.com", Some(PW3)).await;
    let laptop = site.client();
    let phone = site.client();
    let tablet = site.client();
    for c in [&laptop, &phone, &tablet] {
        assert_eq!(c.login("ada@example.com", PW).await.status, 303);
    }
    let eve = site.client();
    assert_eq!(eve.login("eve@example.com", PW3).await.status, 303);
    let page = laptop.get("/account").await;
    let ends: Vec<String> = page
        .body
        .match_indices("/account/sessions/")
        .map(|(at, _)| {
            let rest = &page.body[at..];
            rest[..rest.find('"').unwrap()].to_owned()
        })
        .collect();
    assert_eq!(ends.len(), 2, "two other sessions to end:\n{}", page.main());
    // Eve cannot end Ada's sessions by guessing ids.
    for end in &ends {
        assert_eq!(eve.submit("/account", end, &[]).await.status, 303);
    }
    assert_eq!(phone.get("/account").await.status, 200);
    assert_eq!(tablet.get("/account").await.status, 200);
    // Ada ends one from the laptop.
    let ended = laptop.submit("/account", &ends[0], &[]).await;
    assert_eq!(ended.location(), "/account?notice=session_ended");
    let still = [
        phone.get("/account").await.status,
        tablet.get("/account").await.status,
    ];
    assert_eq!(still.iter().filter(|s| **s == 303).count(), 1, "{still:?}");
    // Sign out everywhere: the laptop included.
    let out = laptop
        .submit("/account", "/account/sign-out-everywhere", &[])
        .await;
    assert_eq!(out.location(), "/login?notice=signed_out_everywhere");
    for c in [&laptop, &phone, &tablet] {
        assert_eq!(c.get("/account").await.status, 303);
    }
    assert_eq!(
        eve.get("/account").await.status,
        200,
        "other customers untouched"
    );
    // Idle timeout (30 minutes by default).
    site.clock.advance(Duration::from_secs(31 * 60));
    let idle = eve.get("/account").await;
    assert_eq!(idle.location(), "/login?notice=session_ended");
    site.stop().await;
}
on_every_backend!(
    sessions_end_one_by_one_everywhere_and_by_timeout_on,
    sessions_end_one_by_one_everywhere_and_by_timeout
);
