//! argon2id throughput with the default (OWASP) parameters: a fresh
//! allocation per hash versus reused memory, on one thread and on two, and
//! the same through keydesk's `Hasher` (which pools its buffers).
//!
//! Run: `cargo bench --bench argon2`. Each benchmark is one hash per
//! iteration; criterion's `thrpt` line is hashes per second (for the
//! two-thread rows, the combined rate of both threads).

use std::hint::black_box;
use std::time::{Duration, Instant};

use argon2::{Algorithm, Argon2, Block, Params, Version};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use keydesk::desk::password::Hasher;
use keydesk::settings::Argon2Settings;

/// `[password.argon2]` in config/default.toml.
const OWASP: Argon2Settings = Argon2Settings {
    m_cost: 19_456,
    t_cost: 2,
    p_cost: 1,
};
const PASSWORD: &[u8] = b"violet tractor humming under Lisbon rain";
const SALT: &[u8] = b"sixteen byte sal";
const THREADS: u64 = 2;

fn context() -> (Argon2<'static>, Params) {
    let params = Params::new(OWASP.m_cost, OWASP.t_cost, OWASP.p_cost, Some(32)).unwrap();
    (
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone()),
        params,
    )
}

fn fresh(argon2: &Argon2<'_>) {
    let mut out = [0u8; 32];
    argon2.hash_password_into(PASSWORD, SALT, &mut out).unwrap();
    black_box(out);
}

fn reused(argon2: &Argon2<'_>, memory: &mut [Block]) {
    let mut out = [0u8; 32];
    argon2
        .hash_password_into_with_memory(PASSWORD, SALT, &mut out, memory)
        .unwrap();
    black_box(out);
}

/// Runs `iters` hashes split across [`THREADS`] threads; returns wall time.
fn on_threads(iters: u64, work: impl Fn(u64) + Sync) -> Duration {
    let per_thread = iters.div_ceil(THREADS);
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| work(per_thread));
        }
    });
    // Scale back to exactly `iters` hashes' worth of time.
    start
        .elapsed()
        .mul_f64(iters as f64 / (per_thread * THREADS) as f64)
}

fn one_thread(c: &mut Criterion) {
    let (argon2, params) = context();
    let mut group = c.benchmark_group("argon2id m=19456 t=2 p=1, one thread");
    group
        .throughput(Throughput::Elements(1))
        .sample_size(10)
        .measurement_time(Duration::from_secs(8));
    group.bench_function("raw: fresh memory each hash", |b| b.iter(|| fresh(&argon2)));
    let mut memory = vec![Block::new(); params.block_count()];
    group.bench_function("raw: reused memory", |b| {
        b.iter(|| reused(&argon2, &mut memory));
    });
    let pooled = Hasher::new(OWASP).unwrap();
    group.bench_function("Hasher::hash, pooled", |b| {
        b.iter(|| black_box(pooled.hash("violet tractor humming").unwrap()));
    });
    let unpooled = Hasher::with_pool_capacity(OWASP, 0).unwrap();
    group.bench_function("Hasher::hash, no pool", |b| {
        b.iter(|| black_box(unpooled.hash("violet tractor humming").unwrap()));
    });
    let phc = pooled.hash("violet tractor humming").unwrap();
    group.bench_function("Hasher::verify, pooled", |b| {
        b.iter(|| black_box(pooled.verify("violet tractor humming", &phc).unwrap()));
    });
    group.finish();
}

fn two_threads(c: &mut Criterion) {
    let (argon2, params) = context();
    let mut group = c.benchmark_group("argon2id m=19456 t=2 p=1, two threads");
    group
        .throughput(Throughput::Elements(1))
        .sample_size(10)
        .measurement_time(Duration::from_secs(8));
    group.bench_function("raw: fresh memory each hash", |b| {
        b.iter_custom(|iters| {
            on_threads(iters, |n| {
                for _ in 0..n {
                    fresh(&argon2);
                }
            })
        });
    });
    group.bench_function("raw: reused memory (one buffer per thread)", |b| {
        b.iter_custom(|iters| {
            on_threads(iters, |n| {
                let mut memory = vec![Block::new(); params.block_count()];
                for _ in 0..n {
                    reused(&argon2, &mut memory);
                }
            })
        });
    });
    let pooled = Hasher::new(OWASP).unwrap();
    group.bench_function("Hasher::hash, shared pooled hasher", |b| {
        b.iter_custom(|iters| {
            on_threads(iters, |n| {
                for _ in 0..n {
                    black_box(pooled.hash("violet tractor humming").unwrap());
                }
            })
        });
    });
    let unpooled = Hasher::with_pool_capacity(OWASP, 0).unwrap();
    group.bench_function("Hasher::hash, no pool", |b| {
        b.iter_custom(|iters| {
            on_threads(iters, |n| {
                for _ in 0..n {
                    black_box(unpooled.hash("violet tractor humming").unwrap());
                }
            })
        });
    });
    group.finish();
}

criterion_group!(benches, one_thread, two_threads);
criterion_main!(benches);
