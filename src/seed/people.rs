//! Deterministic demo people: names from many languages and emails derived
//! from them, from the word lists in `assets/demo/` (embedded at build).
//!
//! The same seed gives the same people in the same order, on any machine:
//! the generator is xoshiro256++ (a fixed algorithm, unlike `StdRng`), and
//! nothing else feeds it.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

use super::SeedError;

const NAMES: &str = include_str!("../../assets/demo/names.txt");
const DOMAINS: &str = include_str!("../../assets/demo/domains.txt");
const OFFERS: &str = include_str!("../../assets/demo/offers.txt");
const STAFF: &str = include_str!("../../assets/demo/staff.txt");

/// How many organisation domains a seed makes up.
const ORG_DOMAINS: usize = 400;

/// Picks an index with probability proportional to its weight.
#[derive(Debug, Clone, Default)]
pub(crate) struct Weighted {
    cumulative: Vec<f64>,
}

impl Weighted {
    pub(crate) fn new(weights: impl IntoIterator<Item = f64>) -> Self {
        let mut total = 0.0;
        let cumulative = weights
            .into_iter()
            .map(|w| {
                total += w.max(0.0);
                total
            })
            .collect();
        Self { cumulative }
    }

    fn is_empty(&self) -> bool {
        self.cumulative.last().is_none_or(|t| *t <= 0.0)
    }

    pub(crate) fn pick(&self, rng: &mut impl RngExt) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let r = rng.random::<f64>() * total;
        self.cumulative
            .partition_point(|c| *c <= r)
            .min(self.cumulative.len().saturating_sub(1))
    }
}

/// A name as written and its romanised form for email addresses.
#[derive(Debug, Clone)]
struct Name {
    display: String,
    ascii: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    GivenFamily,
    FamilyGiven,
    FamilyGivenTight,
}

#[derive(Debug, Clone)]
struct Culture {
    code: String,
    order: Order,
    first: Vec<Name>,
    last: Vec<Name>,
    /// Providers mostly used in this culture, and how often.
    local: Vec<usize>,
    local_weights: Weighted,
}

/// An offer the seed creates.
#[derive(Debug, Clone, PartialEq)]
pub struct OfferSpec {
    /// Title.
    pub name: String,
    /// Products, comma-separated.
    pub products: String,
    /// How often customers hold it, relative to the others.
    pub weight: f64,
}

/// The parsed word lists.
#[derive(Debug, Clone)]
pub struct WordLists {
    cultures: Vec<Culture>,
    culture_weights: Weighted,
    providers: Vec<String>,
    global_providers: Vec<usize>,
    global_weights: Weighted,
    prefixes: Vec<String>,
    suffixes: Vec<String>,
    tlds: Vec<String>,
    tld_weights: Weighted,
    /// Offers to create.
    pub offers: Vec<OfferSpec>,
    /// Admins who grant offers by hand.
    pub admins: Vec<String>,
    /// Tags a contact may carry.
    pub tags: Vec<String>,
    /// Notes a contact may carry.
    pub notes: Vec<String>,
}

fn bad(file: &str, line: &str, why: &str) -> SeedError {
    SeedError::WordLists(format!("{file}: {why}: `{line}`"))
}

fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

fn list(rest: &str) -> impl Iterator<Item = &str> {
    rest.split(',').map(str::trim).filter(|s| !s.is_empty())
}

fn parse_name(item: &str) -> Name {
    match item.split_once('=') {
        Some((display, ascii)) => Name {
            display: display.trim().to_owned(),
            ascii: ascii.trim().to_owned(),
        },
        None => Name {
            display: item.to_owned(),
            ascii: fold(item),
        },
    }
}

impl WordLists {
    /// The lists compiled into keydesk.
    ///
    /// # Errors
    /// A malformed list (a build with broken assets).
    pub fn builtin() -> Result<Self, SeedError> {
        Self::parse(NAMES, DOMAINS, OFFERS, STAFF)
    }

    /// Parses lists in the formats of `assets/demo/`.
    ///
    /// # Errors
    /// A line that does not follow the format, or a list left empty.
    pub fn parse(names: &str, domains: &str, offers: &str, staff: &str) -> Result<Self, SeedError> {
        let mut cultures: Vec<Culture> = Vec::new();
        let mut weights = Vec::new();
        for line in lines(names) {
            if let Some(header) = line.strip_prefix('[') {
                let (code, rest) = header
                    .split_once(']')
                    .ok_or_else(|| bad("names.txt", line, "unclosed ["))?;
                let mut weight = 1.0;
                let mut order = Order::GivenFamily;
                for attr in rest.split_whitespace() {
                    match attr.split_once('=') {
                        Some(("weight", w)) => {
                            weight = w.parse().map_err(|_| bad("names.txt", line, "weight"))?;
                        }
                        Some(("order", "given-family")) => order = Order::GivenFamily,
                        Some(("order", "family-given")) => order = Order::FamilyGiven,
                        Some(("order", "family-given-tight")) => order = Order::FamilyGivenTight,
                        _ => return Err(bad("names.txt", line, "unknown attribute")),
                    }
                }
                weights.push(weight);
                cultures.push(Culture {
                    code: code.to_owned(),
                    order,
                    first: Vec::new(),
                    last: Vec::new(),
                    local: Vec::new(),
                    local_weights: Weighted::default(),
                });
            } else {
                let culture = cultures
                    .last_mut()
                    .ok_or_else(|| bad("names.txt", line, "names before any [culture]"))?;
                match line.split_once(':') {
                    Some(("first", rest)) => culture.first.extend(list(rest).map(parse_name)),
                    Some(("last", rest)) => culture.last.extend(list(rest).map(parse_name)),
                    _ => return Err(bad("names.txt", line, "expected first: or last:")),
                }
            }
        }
        if let Some(c) = cultures
            .iter()
            .find(|c| c.first.is_empty() || c.last.is_empty())
        {
            return Err(SeedError::WordLists(format!(
                "names.txt: culture {} needs first and last names",
                c.code
            )));
        }

        let mut providers = Vec::new();
        let mut global = Vec::new();
        let mut global_w = Vec::new();
        let mut local: Vec<Vec<(usize, f64)>> = vec![Vec::new(); cultures.len()];
        let (mut prefixes, mut suffixes, mut tlds, mut tld_w) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for line in lines(domains) {
            let (key, rest) = line
                .split_once(':')
                .ok_or_else(|| bad("domains.txt", line, "expected key:"))?;
            match key {
                "provider" => {
                    let mut parts = rest.split_whitespace();
                    let (Some(domain), Some(weight)) = (parts.next(), parts.next()) else {
                        return Err(bad("domains.txt", line, "expected DOMAIN WEIGHT"));
                    };
                    let weight: f64 = weight
                        .parse()
                        .map_err(|_| bad("domains.txt", line, "weight"))?;
                    let index = providers.len();
                    providers.push(domain.to_owned());
                    match parts.next() {
                        None => {
                            global.push(index);
                            global_w.push(weight);
                        }
                        Some(codes) => {
                            for code in list(codes) {
                                let c = cultures
                                    .iter()
                                    .position(|c| c.code == code)
                                    .ok_or_else(|| bad("domains.txt", line, "unknown culture"))?;
                                local[c].push((index, weight));
                            }
                        }
                    }
                }
                "prefix" => prefixes.extend(list(rest).map(str::to_owned)),
                "suffix" => suffixes.extend(list(rest).map(str::to_owned)),
                "tld" => {
                    for item in list(rest) {
                        let (tld, w) = item
                            .split_once('=')
                            .ok_or_else(|| bad("domains.txt", line, "expected TLD=WEIGHT"))?;
                        tlds.push(tld.to_owned());
                        tld_w.push(w.parse().map_err(|_| bad("domains.txt", line, "weight"))?);
                    }
                }
                _ => return Err(bad("domains.txt", line, "unknown key")),
            }
        }
        for (culture, locals) in cultures.iter_mut().zip(local) {
            culture.local_weights = Weighted::new(locals.iter().map(|l| l.1));
            culture.local = locals.into_iter().map(|l| l.0).collect();
        }
        if global.is_empty() || prefixes.is_empty() || suffixes.is_empty() || tlds.is_empty() {
            return Err(SeedError::WordLists(
                "domains.txt needs global providers, prefixes, suffixes and tlds".into(),
            ));
        }

        let mut offer_specs = Vec::new();
        for line in lines(offers) {
            let parts: Vec<&str> = line.split('|').map(str::trim).collect();
            let [name, products, weight] = parts[..] else {
                return Err(bad(
                    "offers.txt",
                    line,
                    "expected TITLE | PRODUCTS | WEIGHT",
                ));
            };
            offer_specs.push(OfferSpec {
                name: name.to_owned(),
                products: products.to_owned(),
                weight: weight
                    .parse()
                    .map_err(|_| bad("offers.txt", line, "weight"))?,
            });
        }
        let (mut admins, mut tags, mut notes) = (Vec::new(), Vec::new(), Vec::new());
        for line in lines(staff) {
            match line.split_once(':') {
                Some(("admin", v)) => admins.push(v.trim().to_owned()),
                Some(("tag", v)) => tags.push(v.trim().to_owned()),
                Some(("note", v)) => notes.push(v.trim().to_owned()),
                _ => return Err(bad("staff.txt", line, "expected admin:, tag: or note:")),
            }
        }
        if offer_specs.len() < 3 || admins.is_empty() || tags.is_empty() || notes.is_empty() {
            return Err(SeedError::WordLists(
                "offers.txt needs three offers; staff.txt an admin, a tag and a note".into(),
            ));
        }

        Ok(Self {
            cultures,
            culture_weights: Weighted::new(weights),
            providers,
            global_weights: Weighted::new(global_w),
            global_providers: global,
            prefixes,
            suffixes,
            tld_weights: Weighted::new(tld_w),
            tlds,
            offers: offer_specs,
            admins,
            tags,
            notes,
        })
    }
}

/// One generated person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Display name.
    pub name: String,
    /// Email as entered (mostly lowercase, sometimes not).
    pub email: String,
}

/// Generates people; every email is unique ignoring case.
#[derive(Debug)]
pub struct People<'a> {
    lists: &'a WordLists,
    rng: Xoshiro256PlusPlus,
    orgs: Vec<String>,
    org_weights: Weighted,
    /// Hashes of the lowercase emails handed out; a (vanishingly rare)
    /// hash collision only adds digits to an address, never a duplicate.
    used: HashSet<u64>,
}

impl<'a> People<'a> {
    /// A generator for `seed`.
    #[must_use]
    pub fn new(lists: &'a WordLists, seed: u64) -> Self {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut orgs = Vec::with_capacity(ORG_DOMAINS);
        let mut seen = HashSet::new();
        let possible = lists.prefixes.len() * lists.suffixes.len() * lists.tlds.len();
        while orgs.len() < ORG_DOMAINS.min(possible / 2) {
            let prefix = &lists.prefixes[rng.random_range(0..lists.prefixes.len())];
            let suffix = &lists.suffixes[rng.random_range(0..lists.suffixes.len())];
            let tld = &lists.tlds[lists.tld_weights.pick(&mut rng)];
            let joiner = if rng.random_bool(0.15) { "-" } else { "" };
            let domain = format!("{}{joiner}{}.{tld}", fold(prefix), fold(suffix));
            if seen.insert(domain.clone()) {
                orgs.push(domain);
            }
        }
        // A few large organisations, many small ones.
        let org_weights = Weighted::new((0..orgs.len()).map(|i| 1.0 / (i as f64 + 1.0).powf(0.8)));
        Self {
            lists,
            rng,
            orgs,
            org_weights,
            used: HashSet::new(),
        }
    }

    /// The next person.
    pub fn next_person(&mut self) -> Person {
        let lists = self.lists;
        let culture = &lists.cultures[lists.culture_weights.pick(&mut self.rng)];
        let given = &culture.first[self.rng.random_range(0..culture.first.len())];
        let family = &culture.last[self.rng.random_range(0..culture.last.len())];

        let mut name = match culture.order {
            Order::GivenFamily => {
                if culture.code == "en" && self.rng.random_bool(0.06) {
                    let initial = char::from(b'A' + self.rng.random_range(0..26u8));
                    format!("{} {initial}. {}", given.display, family.display)
                } else {
                    format!("{} {}", given.display, family.display)
                }
            }
            Order::FamilyGiven => format!("{} {}", family.display, given.display),
            Order::FamilyGivenTight => format!("{}{}", family.display, given.display),
        };
        // People type their own names into forms: a few in one case only.
        let case = self.rng.random_range(0..1000);
        if case < 8 {
            name = name.to_lowercase();
        } else if case < 12 {
            name = name.to_uppercase();
        }

        let domain = self.domain(culture);
        let email = self.email(&given.ascii, &family.ascii, &domain);
        Person { name, email }
    }

    fn domain(&mut self, culture: &Culture) -> String {
        let lists = self.lists;
        if self.rng.random_bool(0.6) {
            let index = if !culture.local_weights.is_empty() && self.rng.random_bool(0.45) {
                culture.local[culture.local_weights.pick(&mut self.rng)]
            } else {
                lists.global_providers[lists.global_weights.pick(&mut self.rng)]
            };
            lists.providers[index].clone()
        } else {
            self.orgs[self.org_weights.pick(&mut self.rng)].clone()
        }
    }

    fn email(&mut self, given: &str, family: &str, domain: &str) -> String {
        let g = fold(given);
        let f = fold(family);
        let (g, f) = match (g.is_empty(), f.is_empty()) {
            (true, true) => ("contact".to_owned(), "demo".to_owned()),
            (true, false) => (f.clone(), f),
            (false, true) => (g.clone(), g),
            (false, false) => (g, f),
        };
        let gi = &g[..1];
        let fi = &f[..1];
        let pattern = self.rng.random_range(0..100);
        let mut local = match pattern {
            0..35 => format!("{g}.{f}"),
            35..47 => format!("{g}{f}"),
            47..55 => format!("{gi}{f}"),
            55..60 => format!("{gi}.{f}"),
            60..65 => format!("{g}_{f}"),
            65..70 => format!("{f}.{g}"),
            70..78 => format!("{g}.{f}{:02}", self.rng.random_range(0..100)),
            78..83 => format!("{g}{fi}"),
            83..88 => format!("{g}{}", self.rng.random_range(1..2000)),
            88..92 => format!("{f}{gi}"),
            92..95 => format!("{g}-{f}"),
            _ => g.clone(),
        };
        let shout = self.rng.random_range(0..100);
        let mut attempt = 0u32;
        loop {
            let email = format!("{local}@{domain}");
            let lower = email.to_lowercase();
            let mut hasher = DefaultHasher::new();
            lower.hash(&mut hasher);
            if self.used.insert(hasher.finish()) {
                return match shout {
                    // Some people capitalise their address; email_lower folds it.
                    0..4 => capitalise_local(&email),
                    4..5 => email.to_uppercase(),
                    _ => email,
                };
            }
            attempt += 1;
            // Taken: add digits, widening the range the longer it takes.
            let width = 10u32.pow((1 + attempt / 4).min(7));
            local = format!("{local}{}", self.rng.random_range(1..width));
            if local.len() > 60 {
                local = format!("{g}{}", self.rng.random_range(0..u32::MAX));
            }
        }
    }
}

fn capitalise_local(email: &str) -> String {
    let (local, domain) = email.split_once('@').unwrap_or((email, ""));
    let mut out = String::with_capacity(email.len());
    let mut upper = true;
    for ch in local.chars() {
        out.push(if upper { ch.to_ascii_uppercase() } else { ch });
        upper = matches!(ch, '.' | '_' | '-');
    }
    out.push('@');
    out.push_str(domain);
    out
}

/// Folds a name to ASCII lowercase letters and digits: accents dropped,
/// ligatures spelled out, anything else (spaces, apostrophes, other
/// scripts) removed.
#[must_use]
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars().flat_map(char::to_lowercase) {
        if ch.is_ascii_alphanumeric() {
            out.push(ch);
            continue;
        }
        let folded = match ch {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ą' | 'ă' | 'ạ' | 'ả' | 'ấ' | 'ầ' => {
                "a"
            }
            'æ' => "ae",
            'ç' | 'ć' | 'č' => "c",
            'ď' | 'đ' | 'ð' => "d",
            'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ę' | 'ě' | 'ẹ' | 'ế' | 'ề' => "e",
            'ì' | 'í' | 'î' | 'ï' | 'ī' | 'ı' | 'į' => "i",
            'ľ' | 'ł' | 'ĺ' => "l",
            'ñ' | 'ń' | 'ň' => "n",
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' | 'ơ' | 'ọ' | 'ố' | 'ồ' => {
                "o"
            }
            'œ' => "oe",
            'ŕ' | 'ř' => "r",
            'ś' | 'š' | 'ş' | 'ș' => "s",
            'ß' => "ss",
            'ť' | 'ţ' | 'ț' => "t",
            'þ' => "th",
            'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' | 'ư' | 'ụ' | 'ủ' => "u",
            'ý' | 'ÿ' => "y",
            'ź' | 'ż' | 'ž' => "z",
            'ğ' => "g",
            _ => "",
        };
        out.push_str(folded);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_drops_accents_and_other_scripts() {
        assert_eq!(fold("Łukasz"), "lukasz");
        assert_eq!(fold("Strauß"), "strauss");
        assert_eq!(fold("Ødegaard"), "odegaard");
        assert_eq!(fold("O'Brien"), "obrien");
        assert_eq!(fold("de Jong"), "dejong");
        assert_eq!(fold("王"), "");
    }

    #[test]
    fn builtin_lists_parse_and_cover_many_scripts() {
        let lists = WordLists::builtin().expect("built-in lists parse");
        assert!(lists.cultures.len() >= 15);
        assert!(lists.offers.len() >= 10);
        let mut people = People::new(&lists, 7);
        let names: Vec<String> = (0..5000).map(|_| people.next_person().name).collect();
        for probe in ['é', 'ø', 'ß', 'Ł', 'Σ', 'Б', '王', 'م'] {
            let lower = probe.to_lowercase().next().unwrap_or(probe);
            assert!(
                names.iter().any(|n| n.contains(probe) || n.contains(lower)),
                "some name holds {probe}"
            );
        }
    }

    #[test]
    fn hundreds_of_domains_and_ascii_local_parts() {
        let lists = WordLists::builtin().expect("lists");
        let mut people = People::new(&lists, 11);
        let mut domains = HashSet::new();
        for _ in 0..20_000 {
            let p = people.next_person();
            let (local, domain) = p.email.split_once('@').expect("an @");
            assert!(local.is_ascii() && !local.is_empty(), "{}", p.email);
            domains.insert(domain.to_lowercase());
        }
        assert!(domains.len() >= 300, "only {} domains", domains.len());
    }
}
