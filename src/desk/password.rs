//! Passwords: the policy a new password must meet, argon2id hashing
//! ([`Hasher`]), and temporary passwords an agent can read out.
//!
//! The policy counts Unicode characters, allows any of them, normalises
//! nothing (not even surrounding spaces), and refuses: too short or too
//! long, the customer's email / name / the site name inside it, common
//! passwords, and anything zxcvbn scores below `password.min_strength`.
//! Each refusal reason is one sentence a customer or an agent can act on.

mod hasher;

pub use hasher::{Hasher, PasswordError};

use rand::RngExt;
use zxcvbn::feedback::Warning;

use crate::settings::PasswordSettings;

/// Who the password is for: context-specific words it must not contain.
#[derive(Debug, Clone, Copy)]
pub struct PolicyContext<'a> {
    /// The customer's email address.
    pub email: &'a str,
    /// The customer's name as stored.
    pub name: &'a str,
    /// `site.name`.
    pub site_name: &'a str,
}

/// Why a password was refused: one line per problem, in the order a person
/// would fix them (length first).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", reasons.join(" "))]
pub struct PolicyRefusal {
    /// Each reason is one short sentence, e.g. "Use at least 12 characters."
    pub reasons: Vec<String>,
}

/// The password policy, from `[password]`.
#[derive(Debug, Clone)]
pub struct PasswordPolicy {
    min_length: usize,
    max_length: usize,
    min_strength: u8,
}

/// Context words shorter than this are only refused as the whole password,
/// never as a part of one: "Al" inside "Almond-Tree-Walk" is no leak.
const MIN_CONTEXT_WORD: usize = 4;

impl Default for PasswordPolicy {
    /// The built-in defaults (`config/default.toml`): 12 to 128 characters,
    /// zxcvbn score at least 3.
    fn default() -> Self {
        Self {
            min_length: 12,
            max_length: 128,
            min_strength: 3,
        }
    }
}

impl PasswordPolicy {
    /// The policy the settings describe (ranges are checked when settings load).
    #[must_use]
    pub fn from_settings(s: &PasswordSettings) -> Self {
        Self {
            min_length: s.min_length,
            max_length: s.max_length,
            min_strength: s.min_strength,
        }
    }

    /// Shortest length accepted, in characters.
    #[must_use]
    pub fn min_length(&self) -> usize {
        self.min_length
    }

    /// Longest length accepted, in characters.
    #[must_use]
    pub fn max_length(&self) -> usize {
        self.max_length
    }

    /// Checks `password` for the customer in `ctx`.
    ///
    /// # Errors
    /// A [`PolicyRefusal`] listing every problem found.
    pub fn check(&self, password: &str, ctx: &PolicyContext<'_>) -> Result<(), PolicyRefusal> {
        let mut reasons = Vec::new();
        let length = password.chars().count();
        // ASVS V2.1.1: the minimum counts a run of spaces as one, so that
        // padding with spaces cannot make a short password long enough.
        let counted = password
            .chars()
            .zip(std::iter::once(None).chain(password.chars().map(Some)))
            .filter(|(c, before)| !(*c == ' ' && *before == Some(' ')))
            .count();
        if counted < self.min_length {
            reasons.push(format!("Use at least {} characters.", self.min_length));
        }
        let too_long = length > self.max_length;
        if too_long {
            reasons.push(format!("Use at most {} characters.", self.max_length));
        }

        let lowered = password.to_lowercase();
        let email = ctx.email.trim().to_lowercase();
        let local = email.split_once('@').map_or("", |(local, _)| local);
        if mentions(&lowered, &email) || mentions(&lowered, local) {
            reasons.push("Don't use your email address in the password.".to_owned());
        }
        let name = ctx.name.trim().to_lowercase();
        if mentions(&lowered, &name) || words(&name).any(|part| mentions(&lowered, part)) {
            reasons.push("Don't use your name in the password.".to_owned());
        }
        let site = ctx.site_name.trim().to_lowercase();
        if mentions(&lowered, &site) {
            reasons.push("Don't use the site's name in the password.".to_owned());
        }

        // zxcvbn only looks at the first 100 characters; a password over the
        // maximum is already refused and need not be scored.
        if !too_long && !password.is_empty() {
            let mut inputs: Vec<&str> = vec![&email, local, &name, &site];
            inputs.extend(words(&name));
            inputs.extend(words(&site));
            inputs.retain(|s| !s.is_empty());
            let entropy = zxcvbn::zxcvbn(password, &inputs);
            let warning = entropy
                .feedback()
                .and_then(zxcvbn::feedback::Feedback::warning);
            let common = matches!(
                warning,
                Some(
                    Warning::ThisIsATop10Password
                        | Warning::ThisIsATop100Password
                        | Warning::ThisIsACommonPassword
                )
            );
            if common {
                // Refused whatever min_strength says: it is on the lists
                // attackers try first.
                reasons.push("This is a commonly used password.".to_owned());
            } else if u8::from(entropy.score()) < self.min_strength {
                reasons.push(weakness_line(entropy.feedback()));
            }
        }

        if reasons.is_empty() {
            Ok(())
        } else {
            Err(PolicyRefusal { reasons })
        }
    }

    /// A temporary password that meets this policy for this customer: groups
    /// of four from [`generate_temporary_password`]'s alphabet, enough of
    /// them for `min_length`.
    ///
    /// # Errors
    /// Only if 64 fresh candidates in a row were refused, which no sane
    /// policy and context can cause; the last refusal is returned.
    pub fn temporary_password(&self, ctx: &PolicyContext<'_>) -> Result<String, PolicyRefusal> {
        // g groups are 5g - 1 characters with their dashes; at least four.
        let groups = (self.min_length + 1).div_ceil(5).max(TEMP_GROUPS);
        let mut last = PolicyRefusal {
            reasons: Vec::new(),
        };
        for _ in 0..64 {
            let candidate = random_groups(groups);
            match self.check(&candidate, ctx) {
                Ok(()) => return Ok(candidate),
                Err(refusal) => last = refusal,
            }
        }
        Err(last)
    }
}

/// Whether `password` (lowercased) is `word` or, for words of
/// [`MIN_CONTEXT_WORD`] characters or more, contains it.
fn mentions(password: &str, word: &str) -> bool {
    if word.is_empty() {
        return false;
    }
    password == word || (word.chars().count() >= MIN_CONTEXT_WORD && password.contains(word))
}

/// The parts of a name: runs of letters and digits ("Jean-Luc O'Neill" ->
/// "jean", "luc", "o", "neill").
fn words(s: &str) -> impl Iterator<Item = &str> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= MIN_CONTEXT_WORD)
}

/// zxcvbn's warning and first suggestion as one plain line.
fn weakness_line(feedback: Option<&zxcvbn::feedback::Feedback>) -> String {
    let mut line = String::from("This password is too easy to guess.");
    if let Some(feedback) = feedback {
        if let Some(warning) = feedback.warning() {
            line.push(' ');
            line.push_str(&warning.to_string());
        }
        if let Some(suggestion) = feedback.suggestions().first() {
            line.push(' ');
            line.push_str(&suggestion.to_string());
        }
    } else {
        line.push_str(" Add another word or two.");
    }
    line
}

/// Letters and digits that survive being read aloud or copied by hand: no
/// 0/O/o, 1/l/I/i, 5/S/s, 2/Z/z, 8/B/b, 9/g/q, and lowercase only, so case
/// never needs to be spelled out.
const TEMP_LETTERS: &[u8] = b"acdefhjkmnprtuvwxy";
/// The digits of the same alphabet.
const TEMP_DIGITS: &[u8] = b"3467";
/// Groups in a default temporary password: 4 x 4 characters + 3 dashes.
const TEMP_GROUPS: usize = 4;

/// A temporary password like `k7dm-x3rf-4tnh-pa6w`: four groups of four
/// from an alphabet without look-alikes, each group holding at least one
/// letter and one digit (about 68 bits in all), joined by `-`.
///
/// It always meets the default policy: a candidate that does not (with an
/// empty context) is thrown away and another drawn. Names and name-like
/// context words cannot appear in it, since every group holds a digit; use
/// [`PasswordPolicy::temporary_password`] to check a specific policy and
/// customer as well.
#[must_use]
pub fn generate_temporary_password() -> String {
    let policy = PasswordPolicy::default();
    let ctx = PolicyContext {
        email: "",
        name: "",
        site_name: "",
    };
    loop {
        let candidate = random_groups(TEMP_GROUPS);
        if policy.check(&candidate, &ctx).is_ok() {
            return candidate;
        }
    }
}

/// `groups` groups of four random characters joined by `-`, from the
/// thread-local CSPRNG (ChaCha, seeded and reseeded from the OS).
fn random_groups(groups: usize) -> String {
    let mut rng = rand::rng();
    let alphabet: Vec<u8> = TEMP_LETTERS.iter().chain(TEMP_DIGITS).copied().collect();
    let mut out = String::with_capacity(groups * 5);
    for g in 0..groups {
        if g > 0 {
            out.push('-');
        }
        // Rejection sampling keeps every accepted group equally likely.
        let group = loop {
            let group: [u8; 4] =
                std::array::from_fn(|_| alphabet[rng.random_range(0..alphabet.len())]);
            let has_digit = group.iter().any(u8::is_ascii_digit);
            let has_letter = group.iter().any(u8::is_ascii_alphabetic);
            if has_digit && has_letter {
                break group;
            }
        };
        out.extend(group.iter().map(|&b| char::from(b)));
    }
    out
}

#[cfg(test)]
mod tests;
