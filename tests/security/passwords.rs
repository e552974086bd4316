//! ASVS V2.1: long passwords (64 accepted, 128 accepted, 129 refused),
//! any Unicode (emoji, spaces, other scripts), no truncation, no
//! composition rules, common passwords refused from zxcvbn's lists, a
//! minimum that spaces cannot pad, and site forms that let browsers and
//! password managers paste and fill.

use keydesk::desk::{DeskError, PolicyContext};

use crate::on_every_backend;
use crate::support::db::TestDb;
use crate::support::site::{PW, TestSite};
use crate::support::{db, people};

const CLIENT: &str = "198.51.100.7";

fn ctx() -> PolicyContext<'static> {
    PolicyContext {
        email: "ada@example.com",
        name: "Ada Lovelace",
        site_name: "Course Platform",
    }
}

/// 64 characters of four-byte emoji, spaces and other scripts.
fn unicode_64() -> String {
    let base = "🦀 lantern ŝipo 港口 🌙 quietly ζέφυρος ";
    let mut out: String = base.chars().cycle().take(64).collect();
    out.truncate(out.trim_end().len());
    while out.chars().count() < 64 {
        out.push('🌊');
    }
    out
}

async fn long_and_unicode_passwords_work_whole(db: TestDb) {
    let (desk, _) = db::desk(&db);
    let admin = people::make_operator(&db.store, "admin1", "admin").await;
    people::make_customer(&db.store, "Ada Lovelace", "ada@example.com").await;

    let pw64 = unicode_64();
    assert_eq!(pw64.chars().count(), 64);
    desk.change_password(&admin, "ada@example.com", &pw64, false)
        .await
        .expect("64 characters of emoji, spaces and other scripts are accepted");
    desk.authenticate("ada@example.com", &pw64, CLIENT)
        .await
        .expect("and sign in");

    // No truncation: every prefix and a changed last character fail.
    let chars: Vec<char> = pw64.chars().collect();
    let shorter: String = chars[..63].iter().collect();
    let mut other_end: String = shorter.clone();
    other_end.push('🐙');
    for wrong in [shorter, other_end] {
        let err = desk
            .authenticate("ada@example.com", &wrong, CLIENT)
            .await
            .unwrap_err();
        assert!(matches!(err, DeskError::BadCredentials), "{err}");
    }

    // 128 accepted, 129 refused with a line saying so.
    let pw128: String = "Orchard lantern 🌙 quietly drifting "
        .chars()
        .cycle()
        .take(128)
        .collect();
    desk.change_password(&admin, "ada@example.com", &pw128, false)
        .await
        .expect("128 characters are accepted");
    desk.authenticate("ada@example.com", &pw128, CLIENT)
        .await
        .unwrap();
    let pw129: String = format!("{pw128}x");
    let DeskError::Policy(refusal) = desk
        .change_password(&admin, "ada@example.com", &pw129, false)
        .await
        .unwrap_err()
    else {
        panic!("129 characters must be refused by the policy");
    };
    assert!(
        refusal.reasons.iter().any(|r| r.contains("at most 128")),
        "{:?}",
        refusal.reasons
    );
}
on_every_backend!(long_unicode, long_and_unicode_passwords_work_whole);

#[test]
fn no_composition_rules_but_common_and_padded_passwords_are_refused() {
    let settings = db::settings_with("sqlite::memory:", &std::env::temp_dir(), &[]);
    let policy = keydesk::desk::PasswordPolicy::from_settings(&settings.password);
    // Lowercase words and spaces only: no upper case, digit or symbol needed.
    policy
        .check("harbour lantern meadow quietly", &ctx())
        .expect("a passphrase with no composition is fine");
    policy
        .check("ἀρχὴ ἥμισυ παντός καὶ τέλος", &ctx())
        .expect("any script");
    // Common and breached-style passwords, from zxcvbn's dictionaries.
    for common in [
        "password1234",
        "qwertyuiop123",
        "iloveyou12345",
        "Password123!",
    ] {
        assert!(
            policy.check(common, &ctx()).is_err(),
            "{common} must be refused"
        );
    }
    // Spaces cannot pad a short password past the minimum (V2.1.1).
    let padded = "Zq7#           k";
    assert!(padded.chars().count() >= 12);
    let refusal = policy.check(padded, &ctx()).unwrap_err();
    assert!(
        refusal.reasons.iter().any(|r| r.contains("at least 12")),
        "{:?}",
        refusal.reasons
    );
    // Context words (the customer's own name, email, the site) are refused.
    assert!(policy.check("lovelace-harbour-lantern", &ctx()).is_err());
}

async fn forms_let_browsers_paste_and_fill(db: TestDb) {
    let site = TestSite::start(db, &[]).await;
    site.customer("Ada", "ada@example.com", Some(PW)).await;
    let c = site.client();
    let mut pages = vec![c.get("/login").await, c.get("/password/forgot").await];
    c.login("ada@example.com", PW).await;
    pages.push(c.get("/account").await);
    let mut password_fields = 0;
    for page in &pages {
        assert_eq!(page.status, 200);
        let body = page.body.to_lowercase();
        for banned in ["autocomplete=\"off\"", "onpaste", "oncopy", "ondrop"] {
            assert!(!body.contains(banned), "{banned} in\n{body}");
        }
        for input in body.split("<input").skip(1) {
            let tag = &input[..input.find('>').unwrap_or(input.len())];
            if tag.contains("type=\"password\"") {
                password_fields += 1;
                assert!(
                    tag.contains("autocomplete=\"current-password\"")
                        || tag.contains("autocomplete=\"new-password\""),
                    "password managers are told what the field is: {tag}"
                );
                assert!(!tag.contains("pattern="), "no composition pattern: {tag}");
                if let Some(at) = tag.find("maxlength=\"") {
                    let max: usize = tag[at + 11..].split('"').next().unwrap().parse().unwrap();
                    assert!(max >= 64, "{tag}");
                }
            }
        }
    }
    assert_eq!(password_fields, 4, "login 1, account 3");
    site.stop().await;
}
on_every_backend!(paste_and_fill, forms_let_browsers_paste_and_fill);

async fn a_password_the_policy_now_refuses_must_be_replaced_at_sign_in(db: TestDb) {
    let (desk, _) = db::desk(&db);
    let admin = people::make_operator(&db.store, "admin1", "admin").await;
    people::make_customer(&db.store, "Ada Lovelace", "ada@example.com").await;
    desk.change_password(&admin, "ada@example.com", PW, false)
        .await
        .unwrap();
    assert!(
        !desk
            .authenticate("ada@example.com", PW, CLIENT)
            .await
            .unwrap()
            .must_change_password
    );
    // The policy is raised (a longer minimum): the old password still
    // signs in, once, straight into "choose a new password".
    let (stricter, _) = db::desk_with(&db, &[("KEYDESK__PASSWORD__MIN_LENGTH", "40")]);
    let signed = stricter
        .authenticate("ada@example.com", PW, CLIENT)
        .await
        .unwrap();
    assert!(signed.must_change_password);
    let session = stricter
        .start_session(signed.account_id, CLIENT)
        .await
        .unwrap();
    assert!(
        stricter
            .session_from_cookie(&session)
            .await
            .unwrap()
            .must_change_password,
        "the requirement is stored, not only reported"
    );
    let audit = desk
        .audit(
            &admin,
            &keydesk::desk::audit::AuditFilter {
                contact_email: Some("ada@example.com".into()),
                limit: 1,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(audit[0].action, "login");
    assert_eq!(audit[0].detail["password_refused_by_policy"], true);
}
on_every_backend!(
    weak_at_sign_in,
    a_password_the_policy_now_refuses_must_be_replaced_at_sign_in
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_fields_get_a_show_hide_control_from_the_sites_own_script() {
    let db = db::fresh(db::Backend::Sqlite).await.unwrap();
    let site = TestSite::start(db, &[]).await;
    let c = site.client();
    let login = c.get("/login").await;
    assert!(
        login
            .body
            .contains("<script src=\"/site.js\" data-base=\"\" defer></script>"),
        "{}",
        login.body
    );
    let csp = login.header("content-security-policy").unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
    let script = c.get("/site.js").await;
    assert_eq!(script.status, 200);
    assert_eq!(
        script.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert!(script.body.contains("input[type=\"password\"]"));
    assert!(
        script
            .body
            .contains("input.type = shown ? \"password\" : \"text\"")
    );
    assert!(!script.body.contains("innerHTML"), "no text parsed as HTML");
    site.stop().await;
}

async fn stored_hash(db: &TestDb, email: &str) -> String {
    use keydesk::store::entity::{account, contact};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let c = contact::Entity::find()
        .filter(contact::Column::Email.eq(email))
        .one(db.store.conn())
        .await
        .unwrap()
        .unwrap();
    account::Entity::find()
        .filter(account::Column::ContactId.eq(c.id))
        .one(db.store.conn())
        .await
        .unwrap()
        .unwrap()
        .password_hash
        .unwrap()
}

async fn a_pepper_outside_the_store_is_mixed_into_hashes(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let pepper = dir.path().join("pepper");
    std::fs::write(&pepper, "7f3c9e21b84d4a6f95d0c2e1a3b7f608\n").unwrap();
    let other = dir.path().join("other");
    std::fs::write(&other, "0000000000000000000000000000ffff").unwrap();
    // Secrets are owner-only, or keydesk refuses them (tests/security/files.rs).
    for file in [&pepper, &other] {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let path = pepper.display().to_string();
    let other_path = other.display().to_string();
    let admin = people::make_operator(&db.store, "admin1", "admin").await;
    people::make_customer(&db.store, "Ada Lovelace", "ada@example.com").await;

    // A hash from before the pepper: still verifies, and is re-hashed
    // with the pepper at the next sign-in.
    let (plain, _) = db::desk(&db);
    plain
        .change_password(&admin, "ada@example.com", PW, false)
        .await
        .unwrap();
    assert!(!stored_hash(&db, "ada@example.com").await.contains("keyid="));
    let (peppered, _) = db::desk_with(&db, &[("KEYDESK__PASSWORD__PEPPER_FILE", &path)]);
    let signed = peppered
        .authenticate("ada@example.com", PW, CLIENT)
        .await
        .unwrap();
    assert!(signed.rehashed);
    let phc = stored_hash(&db, "ada@example.com").await;
    assert!(phc.contains(",keyid="), "{phc}");
    assert!(!phc.contains("7f3c9e21"), "the pepper is not in the store");

    // Without the pepper, or with another one, the stored hash is useless.
    for desk in [
        db::desk(&db).0,
        db::desk_with(&db, &[("KEYDESK__PASSWORD__PEPPER_FILE", &other_path)]).0,
    ] {
        let err = desk
            .authenticate("ada@example.com", PW, CLIENT)
            .await
            .unwrap_err();
        assert!(matches!(err, DeskError::BadCredentials), "{err}");
    }
    peppered
        .authenticate("ada@example.com", PW, CLIENT)
        .await
        .expect("the pepper's own desk still signs in");

    // A pepper too short to be a secret is refused at start.
    let short = dir.path().join("short");
    std::fs::write(&short, "tiny").unwrap();
    let settings = db::settings_with(
        &db.url,
        dir.path(),
        &[(
            "KEYDESK__PASSWORD__PEPPER_FILE",
            &short.display().to_string(),
        )],
    );
    let err = keydesk::desk::Desk::new(
        db.store.clone(),
        settings,
        keydesk::clock::Clock::fixed(people::t0()),
    )
    .unwrap_err();
    assert!(err.to_string().contains("password.pepper_file"), "{err}");
}
on_every_backend!(pepper, a_pepper_outside_the_store_is_mixed_into_hashes);

async fn the_strength_meter_gives_the_policys_verdict(db: TestDb) {
    let site = TestSite::start(db, &[]).await;
    site.customer("Ada Lovelace", "ada@example.com", Some(PW))
        .await;
    let c = site.client();
    let script = c.get("/site.js").await.body;
    assert!(script.contains("/password/strength") && script.contains("new_password"));
    // Without a form token: refused like every POST.
    assert_eq!(
        c.post("/password/strength", &[("password", "x")])
            .await
            .status,
        403
    );
    c.login("ada@example.com", PW).await;
    let account = c.get("/account").await;
    assert!(
        account
            .header("content-security-policy")
            .unwrap()
            .contains("connect-src 'self'")
    );
    let token = account.csrf();
    let ask = async |password: &str| -> serde_json::Value {
        let page = c
            .post(
                "/password/strength",
                &[("csrf", token.as_str()), ("password", password)],
            )
            .await;
        assert_eq!(page.status, 200);
        assert_eq!(page.header("content-type"), Some("application/json"));
        serde_json::from_str(&page.body).unwrap()
    };
    let weak = ask("password1234").await;
    assert_eq!(weak["ok"], false);
    assert!(!weak["reasons"].as_array().unwrap().is_empty());
    // The signed-in customer's own name counts, as at submit.
    let named = ask("lovelace-harbour-lantern").await;
    assert_eq!(named["ok"], false, "{named}");
    let strong = ask("Quiet-Meadow-Compass-77").await;
    assert_eq!(strong["ok"], true, "{strong}");
    site.stop().await;
}
on_every_backend!(strength_meter, the_strength_meter_gives_the_policys_verdict);
