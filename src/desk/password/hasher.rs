//! Password hashing with argon2id: PHC strings, verification, re-hash
//! detection, and a small pool of reusable hashing memory.
//!
//! Every call here costs tens of milliseconds of CPU (OWASP parameters:
//! 19 MiB, 2 passes). Callers on an async runtime must run them inside
//! `tokio::task::spawn_blocking`, never on a runtime worker thread, and
//! should bound how many run at once (`site.max_concurrent_hashes`).

use std::sync::{Arc, Mutex, PoisonError};

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use crate::settings::Argon2Settings;

/// The hash output length we write, in bytes (argon2's default).
const OUTPUT_LEN: usize = 32;

/// Stored hashes asking for more memory than this (KiB) are refused rather
/// than allocated: a corrupt or hostile row must not exhaust the host.
const MAX_STORED_M_COST: u32 = 2 * 1024 * 1024;

/// Stored hashes asking for more passes than this are refused for the same
/// reason (a verify would otherwise pin a core for minutes).
const MAX_STORED_T_COST: u32 = 64;

/// Why hashing or verifying failed. A wrong password is not an error:
/// [`Hasher::verify`] answers `Ok(false)`.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// The configured argon2 parameters are not usable.
    #[error("argon2 parameters are not usable: {0}")]
    Params(argon2::Error),
    /// A stored hash is not a well-formed argon2 PHC string. The hash itself
    /// is never put in the message.
    #[error("the stored password hash is malformed: {0}")]
    MalformedHash(String),
    /// A stored hash names an algorithm other than argon2.
    #[error("the stored password hash uses {0:?}, which keydesk cannot verify")]
    UnsupportedAlgorithm(String),
    /// A stored hash asks for parameters too costly to honour.
    #[error("the stored password hash asks for m={m_cost} KiB, t={t_cost}: refused as too costly")]
    TooCostly {
        /// Memory in KiB.
        m_cost: u32,
        /// Passes.
        t_cost: u32,
    },
    /// argon2 itself failed (out of memory, password too long, ...).
    #[error("argon2 failed: {0}")]
    Argon2(argon2::Error),
    /// The OS random number generator failed to give a salt.
    #[error("the operating system's random number generator failed")]
    Rng,
    /// The configured pepper is too short to be a secret.
    #[error("the pepper is shorter than 16 bytes")]
    PepperTooShort,
    /// A stored hash was made with a pepper this hasher does not hold.
    #[error("the stored password hash needs a pepper (key id {0}) that is not configured")]
    Pepper(String),
}

/// Hashes and verifies passwords with argon2id.
///
/// Cheap to clone (an `Arc` inside), `Send + Sync`. Keeps up to
/// `pool_capacity` hashing buffers (`m_cost` KiB each) for reuse: reusing
/// warm memory avoids page-faulting a fresh 19 MiB allocation per hash,
/// which `benches/argon2.rs` measures at roughly twice the throughput.
///
/// CPU-bound: call from `tokio::task::spawn_blocking`.
#[derive(Clone)]
pub struct Hasher {
    inner: Arc<Inner>,
}

struct Inner {
    settings: Argon2Settings,
    argon2: Argon2<'static>,
    params: Params,
    /// The pepper (argon2 secret key) new hashes use, if any; never logged.
    pepper: Option<Vec<u8>>,
    /// The parameters new hashes record: `params` plus the pepper's key id.
    hash_params: Params,
    /// Idle hashing buffers, each exactly `params.block_count()` blocks.
    pool: Mutex<Vec<Vec<Block>>>,
    pool_capacity: usize,
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hasher")
            .field("settings", &self.inner.settings)
            .field("pool_capacity", &self.inner.pool_capacity)
            .finish_non_exhaustive()
    }
}

impl Hasher {
    /// A hasher for the given parameters, pooling as many buffers as the
    /// machine has cores (more concurrent hashes than cores gain nothing).
    ///
    /// # Errors
    /// [`PasswordError::Params`] when argon2 rejects the parameters.
    pub fn new(params: Argon2Settings) -> Result<Self, PasswordError> {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        Self::with_pool_capacity(params, cores)
    }

    /// Like [`Hasher::new`] with an explicit number of pooled buffers;
    /// 0 disables reuse (every hash allocates fresh memory).
    ///
    /// # Errors
    /// [`PasswordError::Params`] when argon2 rejects the parameters.
    pub fn with_pool_capacity(
        settings: Argon2Settings,
        pool_capacity: usize,
    ) -> Result<Self, PasswordError> {
        let params = Params::new(
            settings.m_cost,
            settings.t_cost,
            settings.p_cost,
            Some(OUTPUT_LEN),
        )
        .map_err(PasswordError::Params)?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        Ok(Self {
            inner: Arc::new(Inner {
                settings,
                argon2,
                pepper: None,
                hash_params: params.clone(),
                params,
                pool: Mutex::new(Vec::with_capacity(pool_capacity)),
                pool_capacity,
            }),
        })
    }

    /// The same hasher mixing `pepper` into every new hash as argon2's
    /// secret key (ASVS V2.4.5). New PHC strings carry `keyid=` (4 bytes of
    /// the pepper's SHA-256), so a hash is verified with the pepper it was
    /// made with, older hashes without one still verify (and
    /// [`Hasher::needs_rehash`] says to replace them), and a wrong pepper is
    /// an error rather than a silent mismatch.
    ///
    /// # Errors
    /// [`PasswordError::PepperTooShort`] under 16 bytes;
    /// [`PasswordError::Params`] when longer than argon2 accepts.
    pub fn with_pepper(self, pepper: &[u8]) -> Result<Self, PasswordError> {
        use sha2::Digest;
        if pepper.len() < 16 {
            return Err(PasswordError::PepperTooShort);
        }
        Argon2::new_with_secret(
            pepper,
            Algorithm::Argon2id,
            Version::V0x13,
            self.inner.params.clone(),
        )
        .map_err(PasswordError::Params)?;
        let digest = sha2::Sha256::digest(pepper);
        let keyid = argon2::KeyId::new(&digest[..4]).map_err(PasswordError::Params)?;
        let base = &self.inner.params;
        let hash_params = argon2::ParamsBuilder::new()
            .m_cost(base.m_cost())
            .t_cost(base.t_cost())
            .p_cost(base.p_cost())
            .output_len(OUTPUT_LEN)
            .keyid(keyid)
            .build()
            .map_err(PasswordError::Params)?;
        let inner = &*self.inner;
        Ok(Self {
            inner: Arc::new(Inner {
                settings: inner.settings,
                argon2: inner.argon2.clone(),
                pepper: Some(pepper.to_vec()),
                hash_params,
                params: inner.params.clone(),
                pool: Mutex::new(Vec::with_capacity(inner.pool_capacity)),
                pool_capacity: inner.pool_capacity,
            }),
        })
    }

    /// The argon2 context for `params`: with the pepper when `params`
    /// carry a key id (which must be this hasher's), plain otherwise.
    fn context<'a>(
        &'a self,
        algorithm: Algorithm,
        version: Version,
        params: &Params,
    ) -> Result<Argon2<'a>, PasswordError> {
        if params.keyid().is_empty() {
            return Ok(Argon2::new(algorithm, version, params.clone()));
        }
        let inner = &*self.inner;
        match &inner.pepper {
            Some(pepper) if inner.hash_params.keyid() == params.keyid() => {
                Argon2::new_with_secret(pepper, algorithm, version, params.clone())
                    .map_err(PasswordError::Params)
            }
            _ => Err(PasswordError::Pepper(params.keyid().iter().fold(
                String::new(),
                |mut hex, b| {
                    use std::fmt::Write as _;
                    let _ = write!(hex, "{b:02x}");
                    hex
                },
            ))),
        }
    }

    /// The parameters new hashes are made with.
    #[must_use]
    pub fn settings(&self) -> Argon2Settings {
        self.inner.settings
    }

    /// Hashes `password` with argon2id and a fresh 16-byte salt from the OS
    /// RNG; returns the PHC string (`$argon2id$v=19$m=...,t=...,p=...$salt$hash`).
    ///
    /// # Errors
    /// [`PasswordError::Rng`] or [`PasswordError::Argon2`].
    pub fn hash(&self, password: &str) -> Result<String, PasswordError> {
        let salt = argon2::password_hash::try_generate_salt().map_err(|_| PasswordError::Rng)?;
        let mut out = [0u8; OUTPUT_LEN];
        let inner = &*self.inner;
        let argon2 = self.context(Algorithm::Argon2id, Version::V0x13, &inner.hash_params)?;
        self.compute(
            &argon2,
            &inner.hash_params,
            password.as_bytes(),
            &salt,
            &mut out,
        )?;
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&inner.hash_params).map_err(phc_internal)?,
            salt: Some(Salt::new(&salt).map_err(phc_internal)?),
            hash: Some(Output::new(&out).map_err(phc_internal)?),
        };
        Ok(phc.to_string())
    }

    /// Whether `password` matches the stored PHC string, with the stored
    /// string's own algorithm and parameters. The comparison is constant-time
    /// (the PHC `Output` type compares with `subtle`).
    ///
    /// # Errors
    /// A malformed, non-argon2 or absurdly costly stored hash; an argon2
    /// failure. A wrong password is `Ok(false)`, not an error.
    pub fn verify(&self, password: &str, phc: &str) -> Result<bool, PasswordError> {
        let stored = Stored::parse(phc)?;
        let argon2 = self.context(stored.algorithm, stored.version, &stored.params)?;
        let mut buf = [0u8; Output::MAX_LENGTH];
        let out = buf
            .get_mut(..stored.expected.len())
            .ok_or_else(|| PasswordError::MalformedHash("hash output too long".into()))?;
        self.compute(
            &argon2,
            &stored.params,
            password.as_bytes(),
            &stored.salt,
            out,
        )?;
        let computed = Output::new(out).map_err(phc_internal)?;
        Ok(computed == stored.expected)
    }

    /// Whether a stored hash should be replaced at the next successful login:
    /// true when its algorithm, version, `m`/`t`/`p` or output length differ
    /// from the current settings, or when it cannot be parsed at all.
    #[must_use]
    pub fn needs_rehash(&self, phc: &str) -> bool {
        let Ok(stored) = Stored::parse(phc) else {
            return true;
        };
        let current = &self.inner.params;
        stored.algorithm != Algorithm::Argon2id
            || stored.version != Version::V0x13
            || stored.params.m_cost() != current.m_cost()
            || stored.params.t_cost() != current.t_cost()
            || stored.params.p_cost() != current.p_cost()
            || stored.expected.len() != OUTPUT_LEN
            || stored.params.keyid() != self.inner.hash_params.keyid()
    }

    /// Spends the same work as verifying a hash made with the current
    /// settings, and throws the answer away. Used when the email is unknown,
    /// so a login or Forgot Password takes as long either way.
    pub fn dummy_verify(&self, password: &str) {
        // A fixed salt is fine here: the output is never stored or compared
        // against anything that matters.
        const DUMMY_SALT: [u8; 16] = *b"keydesk-dummy-sa";
        let mut out = [0u8; OUTPUT_LEN];
        let inner = &*self.inner;
        let Ok(argon2) = self.context(Algorithm::Argon2id, Version::V0x13, &inner.hash_params)
        else {
            return;
        };
        let ran = self.compute(
            &argon2,
            &inner.hash_params,
            password.as_bytes(),
            &DUMMY_SALT,
            &mut out,
        );
        // Mirror verify's final constant-time comparison so the cost matches.
        if ran.is_ok()
            && let Ok(computed) = Output::new(&out)
        {
            std::hint::black_box(computed == std::hint::black_box(computed));
        }
    }

    /// Runs argon2 into `out`. When `params` need at most as many blocks
    /// as the current settings (always, for hashes made by this hasher, and
    /// for older, cheaper ones) the work runs on a pooled buffer (argon2
    /// uses its first `block_count` blocks); only a hash costlier than the
    /// settings makes argon2 allocate for itself. Allocating per hash under
    /// a login flood let the allocator keep up to 224 MiB resident
    /// (`tests/site/floods.rs`).
    fn compute(
        &self,
        argon2: &Argon2<'_>,
        params: &Params,
        password: &[u8],
        salt: &[u8],
        out: &mut [u8],
    ) -> Result<(), PasswordError> {
        let inner = &*self.inner;
        if inner.pool_capacity == 0 || params.block_count() > inner.params.block_count() {
            return argon2
                .hash_password_into(password, salt, out)
                .map_err(PasswordError::Argon2);
        }
        let mut memory = self.take_buffer();
        // argon2 overwrites every block before reading it on the first
        // pass, so a buffer left over from another password is safe to reuse.
        let result = argon2.hash_password_into_with_memory(password, salt, out, &mut memory[..]);
        self.return_buffer(memory);
        result.map_err(PasswordError::Argon2)
    }

    fn take_buffer(&self) -> Vec<Block> {
        let taken = self
            .inner
            .pool
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        // Outside the lock: allocating 19 MiB must not hold up other callers.
        taken.unwrap_or_else(|| vec![Block::new(); self.inner.params.block_count()])
    }

    fn return_buffer(&self, memory: Vec<Block>) {
        let mut pool = self
            .inner
            .pool
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if pool.len() < self.inner.pool_capacity {
            pool.push(memory);
        }
    }

    /// How many buffers sit idle in the pool now (for tests and metrics).
    #[must_use]
    pub fn pooled_buffers(&self) -> usize {
        self.inner
            .pool
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// A parsed, checked stored hash.
struct Stored {
    algorithm: Algorithm,
    version: Version,
    params: Params,
    salt: Salt,
    expected: Output,
}

impl Stored {
    fn parse(phc: &str) -> Result<Self, PasswordError> {
        let malformed =
            |e: argon2::password_hash::phc::Error| PasswordError::MalformedHash(e.to_string());
        let hash = PasswordHash::new(phc).map_err(malformed)?;
        let algorithm = Algorithm::new(hash.algorithm.as_str())
            .map_err(|_| PasswordError::UnsupportedAlgorithm(hash.algorithm.to_string()))?;
        // argon2's own verifier treats a missing version as the current one.
        let version = match hash.version {
            Some(v) => Version::try_from(v)
                .map_err(|e| PasswordError::MalformedHash(format!("version: {e}")))?,
            None => Version::default(),
        };
        let params = Params::try_from(&hash)
            .map_err(|e| PasswordError::MalformedHash(format!("parameters: {e}")))?;
        if params.m_cost() > MAX_STORED_M_COST || params.t_cost() > MAX_STORED_T_COST {
            return Err(PasswordError::TooCostly {
                m_cost: params.m_cost(),
                t_cost: params.t_cost(),
            });
        }
        let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else {
            return Err(PasswordError::MalformedHash(
                "the salt or the hash is missing".into(),
            ));
        };
        Ok(Self {
            algorithm,
            version,
            params,
            salt,
            expected,
        })
    }
}

/// A PHC encoding failure on values we built ourselves would be a bug;
/// report it as an argon2 failure rather than panic.
fn phc_internal(e: impl std::fmt::Display) -> PasswordError {
    PasswordError::MalformedHash(format!("internal encoding error: {e}"))
}
