//! Tests for the password policy, the temporary password generator and the
//! argon2 hasher.

use std::collections::BTreeMap;
use std::path::PathBuf;

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use rand::RngExt;

use super::*;
use crate::settings::{Argon2Settings, Settings, Sources};

fn ctx() -> PolicyContext<'static> {
    PolicyContext {
        email: "maria.garcia@example.com",
        name: "Maria Garcia",
        site_name: "Course Platform",
    }
}

fn refusal(password: &str) -> Vec<String> {
    PasswordPolicy::default()
        .check(password, &ctx())
        .expect_err("should be refused")
        .reasons
}

fn default_settings() -> Settings {
    Settings::load(&Sources {
        file: None,
        skip_system_files: true,
        env: Some(BTreeMap::new()),
        data_dir: Some(PathBuf::from("/tmp/kd-password-tests")),
    })
    .unwrap()
}

// ---- policy -------------------------------------------------------------

#[test]
fn a_strong_passphrase_is_accepted() {
    let policy = PasswordPolicy::from_settings(&default_settings().password);
    policy
        .check("violet tractor humming under Lisbon rain", &ctx())
        .unwrap();
    policy.check("k7dm-x3rf-4tnh-pa6w", &ctx()).unwrap();
}

#[test]
fn too_short_is_refused_with_the_minimum() {
    let reasons = refusal("Tq7#mVx2");
    assert_eq!(reasons[0], "Use at least 12 characters.");
}

/// 128 characters drawn from several scripts and emoji, none repeated in a
/// pattern zxcvbn would notice.
fn unicode_password(len: usize) -> String {
    let pool: Vec<char> = "äöüßéèñçøåЖЙФЯжйфяΩΣΔλπ東京夜景雨窓猫犬日本語한국어ðþæœ🎉🔐🌍🦀🚲🍋"
        .chars()
        .collect();
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    (0..len)
        .map(|_| {
            // xorshift: deterministic, patternless enough for zxcvbn
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            pool[usize::try_from(state % pool.len() as u64).unwrap()]
        })
        .collect()
}

#[test]
fn a_128_character_unicode_password_is_accepted_and_129_is_not() {
    let policy = PasswordPolicy::default();
    let ok = unicode_password(128);
    assert_eq!(ok.chars().count(), 128);
    assert!(ok.len() > 128, "multi-byte: bytes are not what is counted");
    policy.check(&ok, &ctx()).unwrap();
    let long = unicode_password(129);
    let reasons = policy.check(&long, &ctx()).unwrap_err().reasons;
    assert_eq!(reasons, vec!["Use at most 128 characters.".to_owned()]);
}

#[test]
fn length_counts_characters_and_nothing_is_trimmed() {
    // 11 visible characters and a trailing space: 12 characters, enough.
    let reasons = PasswordPolicy::default()
        .check("Xq7#mVx2pLr ", &ctx())
        .err()
        .map(|r| r.reasons)
        .unwrap_or_default();
    assert!(
        !reasons.iter().any(|r| r.starts_with("Use at least")),
        "{reasons:?}"
    );
    // Eleven three-byte characters are eleven, not thirty-three.
    let reasons = refusal("東京夜景雨窓猫犬日本語");
    assert_eq!(reasons[0], "Use at least 12 characters.");
}

#[test]
fn the_email_or_its_local_part_is_refused() {
    for pw in [
        "maria.garcia@example.com",
        "xX-MARIA.GARCIA@EXAMPLE.COM-Xx",
        "my maria.garcia tulip 77",
    ] {
        assert!(
            refusal(pw).contains(&"Don't use your email address in the password.".to_owned()),
            "{pw}: {:?}",
            refusal(pw)
        );
    }
    // A short local part is only refused as the whole password.
    let short = PolicyContext {
        email: "al@example.com",
        name: "",
        site_name: "",
    };
    PasswordPolicy::default()
        .check("almond tractor rain window", &short)
        .unwrap();
}

#[test]
fn the_name_or_a_name_part_is_refused() {
    for pw in [
        "Garcia tunnel vision 42!",
        "moonlight MARIA harbour",
        "mariagarcia",
    ] {
        assert!(
            refusal(pw).contains(&"Don't use your name in the password.".to_owned()),
            "{pw}: {:?}",
            refusal(pw)
        );
    }
    let hyphenated = PolicyContext {
        email: "jl@example.com",
        name: "Jean-Luc O'Neill",
        site_name: "",
    };
    let reasons = PasswordPolicy::default()
        .check("violet neill tractor hums", &hyphenated)
        .unwrap_err()
        .reasons;
    assert_eq!(
        reasons,
        vec!["Don't use your name in the password.".to_owned()]
    );
}

#[test]
fn the_site_name_is_refused() {
    let reasons = refusal("my Course Platform password!");
    assert!(
        reasons.contains(&"Don't use the site's name in the password.".to_owned()),
        "{reasons:?}"
    );
}

#[test]
fn a_common_password_is_refused_even_with_min_strength_zero() {
    for pw in ["password1234", "1qaz2wsx3edc", "qwertyuiop123"] {
        let reasons = refusal(pw);
        assert!(
            reasons.contains(&"This is a commonly used password.".to_owned()),
            "{pw}: {reasons:?}"
        );
    }
    let mut settings = default_settings().password;
    settings.min_strength = 0;
    let lax = PasswordPolicy::from_settings(&settings);
    let reasons = lax.check("password1234", &ctx()).unwrap_err().reasons;
    assert_eq!(
        reasons,
        vec!["This is a commonly used password.".to_owned()]
    );
}

#[test]
fn a_weak_password_gets_one_line_of_zxcvbn_advice() {
    let reasons = refusal("aaaaaaaaaaaaaaaa");
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    let line = &reasons[0];
    assert!(
        line.starts_with("This password is too easy to guess."),
        "{line}"
    );
    assert!(line.contains("Repeats like"), "{line}");
    assert!(!line.contains('\n'));
    let reasons = refusal("qwertyuiopasdfgh");
    assert!(reasons[0].starts_with("This password is too easy to guess."));
}

#[test]
fn several_problems_are_all_reported_and_displayed_on_one_line() {
    let refusal = PasswordPolicy::default()
        .check("maria.garcia", &ctx())
        .unwrap_err();
    assert_eq!(
        refusal.reasons[..2],
        [
            "Don't use your email address in the password.".to_owned(),
            "Don't use your name in the password.".to_owned()
        ]
    );
    let refusal = PasswordPolicy::default()
        .check("garcia", &ctx())
        .unwrap_err();
    assert_eq!(refusal.reasons[0], "Use at least 12 characters.");
    assert_eq!(refusal.reasons[1], "Don't use your name in the password.");
    let shown = refusal.to_string();
    assert!(
        shown.starts_with("Use at least 12 characters. Don't use your name"),
        "{shown}"
    );
    assert!(!shown.contains('\n'));
}

#[test]
fn the_empty_password_is_refused_cleanly() {
    let reasons = refusal("");
    assert_eq!(reasons, vec!["Use at least 12 characters.".to_owned()]);
}

// ---- temporary passwords -------------------------------------------------

const FIRST: &[&str] = &[
    "Maria",
    "José",
    "Zoë",
    "Anna",
    "Wei",
    "Olúwaseun",
    "Ян",
    "Priya",
    "Tom",
    "Ada",
    "Mohammed",
    "Ngozi",
    "Søren",
    "Émilie",
    "Kofi",
    "Li",
    "Hannah",
    "Björn",
];
const LAST: &[&str] = &[
    "Garcia",
    "Nguyen",
    "Müller",
    "Okafor",
    "Kowalski",
    "O'Neill",
    "Smith-Jones",
    "Lee",
    "Dubois",
    "Tanaka",
    "Haddad",
    "Petrov",
    "da Silva",
    "Ng",
    "Ørsted",
];
const SITES: &[&str] = &[
    "Course Platform",
    "Academy",
    "Learn Rust Online",
    "Ünï Kurse",
    "Maths",
];

fn random_context(rng: &mut impl rand::Rng) -> (String, String, String) {
    let first = FIRST[rng.random_range(0..FIRST.len())];
    let last = LAST[rng.random_range(0..LAST.len())];
    let domain = ["example.com", "mail.example.org", "uni.example.edu"][rng.random_range(0..3)];
    let email = match rng.random_range(0..3) {
        0 => format!("{}.{}@{domain}", first.to_lowercase(), last.to_lowercase()),
        1 => format!(
            "{}{}{}@{domain}",
            first.to_lowercase(),
            last.to_lowercase(),
            rng.random_range(0..10_000)
        ),
        _ => format!("{}@{domain}", first.to_lowercase()),
    };
    let site = SITES[rng.random_range(0..SITES.len())];
    (email, format!("{first} {last}"), site.to_owned())
}

#[test]
fn ten_thousand_temporary_passwords_all_pass_the_default_policy() {
    let policy = PasswordPolicy::from_settings(&default_settings().password);
    let mut rng = rand::rng();
    let allowed: Vec<char> = "acdefhjkmnprtuvwxy3467-".chars().collect();
    let mut seen = std::collections::HashSet::new();
    for _ in 0..10_000 {
        let pw = generate_temporary_password();
        let (email, name, site) = random_context(&mut rng);
        let ctx = PolicyContext {
            email: &email,
            name: &name,
            site_name: &site,
        };
        if let Err(refusal) = policy.check(&pw, &ctx) {
            panic!("{pw} refused for {name} <{email}> on {site}: {refusal}");
        }
        assert_eq!(pw.len(), 19, "{pw}");
        assert!(pw.chars().all(|c| allowed.contains(&c)), "{pw}");
        for group in pw.split('-') {
            assert_eq!(group.len(), 4, "{pw}");
            assert!(group.chars().any(|c| c.is_ascii_digit()), "{pw}");
            assert!(group.chars().any(|c| c.is_ascii_alphabetic()), "{pw}");
        }
        assert!(seen.insert(pw), "a repeated temporary password");
    }
}

#[test]
fn the_temporary_alphabet_has_no_look_alikes() {
    for c in "0Oo1lIi|5Ss2Zz8Bb9gq".chars() {
        assert!(
            !TEMP_LETTERS.contains(&(c as u8)) && !TEMP_DIGITS.contains(&(c as u8)),
            "{c}"
        );
    }
}

#[test]
fn a_policy_with_a_longer_minimum_gets_longer_temporary_passwords() {
    let mut settings = default_settings().password;
    settings.min_length = 30;
    let policy = PasswordPolicy::from_settings(&settings);
    let pw = policy.temporary_password(&ctx()).unwrap();
    assert!(pw.chars().count() >= 30, "{pw}");
    policy.check(&pw, &ctx()).unwrap();
    let pw = PasswordPolicy::default()
        .temporary_password(&ctx())
        .unwrap();
    assert_eq!(pw.len(), 19);
}

// ---- hashing ---------------------------------------------------------------

/// Cheap parameters so the tests run fast; the default-cost path has its
/// own test below.
fn cheap() -> Argon2Settings {
    Argon2Settings {
        m_cost: 1024,
        t_cost: 1,
        p_cost: 1,
    }
}

#[test]
fn hash_then_verify_round_trips_and_a_wrong_password_is_false() {
    let hasher = Hasher::new(cheap()).unwrap();
    let phc = hasher.hash("violet tractor humming").unwrap();
    assert!(phc.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{phc}");
    assert!(!phc.contains("violet"));
    assert!(hasher.verify("violet tractor humming", &phc).unwrap());
    assert!(!hasher.verify("violet tractor hummin", &phc).unwrap());
    assert!(!hasher.verify("Violet tractor humming", &phc).unwrap());
    assert!(!hasher.verify("", &phc).unwrap());
}

#[test]
fn the_default_settings_hash_with_owasp_parameters() {
    let settings = default_settings();
    let hasher = Hasher::new(settings.password.argon2).unwrap();
    let phc = hasher.hash("k7dm-x3rf-4tnh-pa6w").unwrap();
    assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
    assert!(hasher.verify("k7dm-x3rf-4tnh-pa6w", &phc).unwrap());
    assert!(!hasher.needs_rehash(&phc));
    hasher.dummy_verify("anything at all");
}

#[test]
fn two_hashes_of_one_password_differ() {
    let hasher = Hasher::new(cheap()).unwrap();
    let a = hasher.hash("same password here").unwrap();
    let b = hasher.hash("same password here").unwrap();
    assert_ne!(a, b);
    let salt = |s: &str| s.split('$').nth(4).unwrap().to_owned();
    assert_ne!(salt(&a), salt(&b));
    assert!(hasher.verify("same password here", &a).unwrap());
    assert!(hasher.verify("same password here", &b).unwrap());
}

#[test]
fn needs_rehash_follows_the_settings() {
    let old = Hasher::new(cheap()).unwrap();
    let phc = old.hash("violet tractor humming").unwrap();
    assert!(!old.needs_rehash(&phc));
    for changed in [
        Argon2Settings {
            t_cost: 2,
            ..cheap()
        },
        Argon2Settings {
            m_cost: 2048,
            ..cheap()
        },
        Argon2Settings {
            p_cost: 2,
            ..cheap()
        },
    ] {
        let new = Hasher::new(changed).unwrap();
        assert!(new.needs_rehash(&phc), "{changed:?}");
        // The old hash still verifies under the new settings (its own params).
        assert!(new.verify("violet tractor humming", &phc).unwrap());
        assert!(!new.verify("violet tractor", &phc).unwrap());
    }
    // Another algorithm of the family also needs a re-hash.
    let argon2i = argon2::Argon2::new(
        argon2::Algorithm::Argon2i,
        argon2::Version::V0x13,
        argon2::Params::new(1024, 1, 1, None).unwrap(),
    )
    .hash_password(b"violet tractor humming")
    .unwrap()
    .to_string();
    assert!(old.needs_rehash(&argon2i));
    assert!(old.verify("violet tractor humming", &argon2i).unwrap());
    assert!(old.needs_rehash("not a hash"));
}

#[test]
fn interoperates_with_the_argon2_crates_own_phc_code() {
    let hasher = Hasher::new(cheap()).unwrap();
    let reference = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::new(1024, 1, 1, None).unwrap(),
    );
    let theirs = reference
        .hash_password(b"violet tractor")
        .unwrap()
        .to_string();
    assert!(hasher.verify("violet tractor", &theirs).unwrap());
    assert!(!hasher.needs_rehash(&theirs));
    let ours = hasher.hash("violet tractor").unwrap();
    let parsed = argon2::password_hash::phc::PasswordHash::new(&ours).unwrap();
    reference
        .verify_password(b"violet tractor", &parsed)
        .unwrap();
    assert!(
        reference
            .verify_password(b"violet tractors", &parsed)
            .is_err()
    );
}

#[test]
fn malformed_stored_hashes_are_errors_not_panics() {
    let hasher = Hasher::new(cheap()).unwrap();
    let good = hasher.hash("violet tractor").unwrap();
    let truncated = &good[..good.len() - 10];
    let no_hash = good.rsplit_once('$').unwrap().0.to_owned();
    let cases = [
        "",
        "plaintext-password",
        "$argon2id$",
        "$argon2id$v=19$m=abc,t=1,p=1$c2FsdHNhbHQ$aGFzaA",
        "$argon2id$v=99$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
        "$argon2id$v=19$m=1024,t=1,p=1$!!!$###",
        truncated,
        &no_hash,
        "$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
    ];
    for case in cases {
        let err = hasher.verify("violet tractor", case);
        assert!(err.is_err(), "{case:?} gave {err:?}");
        assert!(hasher.needs_rehash(case), "{case:?}");
    }
    let bcrypt = "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW";
    let err = hasher.verify("x", bcrypt).unwrap_err();
    assert!(
        matches!(
            err,
            PasswordError::MalformedHash(_) | PasswordError::UnsupportedAlgorithm(_)
        ),
        "{err:?}"
    );
    let scrypt =
        "$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E";
    let err = hasher.verify("x", scrypt).unwrap_err();
    assert!(
        matches!(err, PasswordError::UnsupportedAlgorithm(_)),
        "{err:?}"
    );
    // The message never echoes the stored hash.
    let shown = hasher.verify("x", truncated).unwrap_err().to_string();
    assert!(!shown.contains(truncated), "{shown}");
}

#[test]
fn the_memory_pool_is_reused_and_bounded() {
    let hasher = Hasher::with_pool_capacity(cheap(), 2).unwrap();
    assert_eq!(hasher.pooled_buffers(), 0);
    let phc = hasher.hash("violet tractor").unwrap();
    assert_eq!(hasher.pooled_buffers(), 1);
    assert!(hasher.verify("violet tractor", &phc).unwrap());
    assert_eq!(hasher.pooled_buffers(), 1);
    // Many threads at once: every result right, the pool never over capacity.
    let handles: Vec<_> = (0..6)
        .map(|i| {
            let hasher = hasher.clone();
            std::thread::spawn(move || {
                let pw = format!("thread {i} password");
                let phc = hasher.hash(&pw).unwrap();
                assert!(hasher.verify(&pw, &phc).unwrap());
                assert!(!hasher.verify("other", &phc).unwrap());
                phc
            })
        })
        .collect();
    for (i, h) in handles.into_iter().enumerate() {
        let phc = h.join().unwrap();
        assert!(
            hasher
                .verify(&format!("thread {i} password"), &phc)
                .unwrap()
        );
    }
    assert!(hasher.pooled_buffers() <= 2);
    // No pool at all works the same.
    let unpooled = Hasher::with_pool_capacity(cheap(), 0).unwrap();
    assert!(unpooled.verify("violet tractor", &phc).unwrap());
    assert_eq!(unpooled.pooled_buffers(), 0);
}

#[test]
fn hasher_is_send_sync_and_bad_params_are_an_error() {
    fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}
    assert_send_sync::<Hasher>();
    let err = Hasher::new(Argon2Settings {
        m_cost: 1024,
        t_cost: 0,
        p_cost: 1,
    })
    .unwrap_err();
    assert!(matches!(err, PasswordError::Params(_)), "{err:?}");
}
