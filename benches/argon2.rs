//! argon2id throughput with the default (OWASP) parameters: a fresh
//! allocation per hash versus reused memory, on one thread and on two, and
//! the same through keydesk's `Hasher` (which pools its buffers).
//!
//! Run: `cargo bench --bench argon2`. Each benchmark is one hash per
//! iteration; criterion's `thrpt` line is hashes per second (for the
//! two-thread rows, the combined rate of both threads).
//!
//! On a machine busy with other work, wall time measures the neighbours.
//! `KEYDESK_BENCH_CLOCK=cpu` measures this process's CPU time (user +
//! system, all threads) instead: then `thrpt` is hashes per CPU-second,
//! and for the two-thread rows twice that estimates both cores' rate.

use std::hint::black_box;
use std::time::{Duration, Instant};

use argon2::{Algorithm, Argon2, Block, Params, Version};
use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{Criterion, Throughput};
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

/// Which clock the benchmarks read.
#[derive(Clone, Copy)]
enum Clock {
    /// Elapsed real time.
    Wall,
    /// CPU time of the whole process (every thread), user + system.
    ProcessCpu,
}

impl Clock {
    fn now(self) -> Duration {
        match self {
            Clock::Wall => {
                static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
                EPOCH.get_or_init(Instant::now).elapsed()
            }
            Clock::ProcessCpu => {
                let t = nix::time::clock_gettime(nix::time::ClockId::CLOCK_PROCESS_CPUTIME_ID)
                    .expect("CLOCK_PROCESS_CPUTIME_ID");
                Duration::from(t)
            }
        }
    }
}

/// Process CPU time as a criterion measurement.
struct ProcessCpuTime;

impl Measurement for ProcessCpuTime {
    type Intermediate = Duration;
    type Value = Duration;
    fn start(&self) -> Duration {
        Clock::ProcessCpu.now()
    }
    fn end(&self, start: Duration) -> Duration {
        Clock::ProcessCpu.now().saturating_sub(start)
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        static WALL: WallTime = WallTime;
        WALL.formatter()
    }
}

/// Runs `iters` hashes split across [`THREADS`] threads; returns the time
/// `clock` saw pass.
fn on_threads(clock: Clock, iters: u64, work: impl Fn(u64) + Sync) -> Duration {
    let per_thread = iters.div_ceil(THREADS);
    let start = clock.now();
    std::thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| work(per_thread));
        }
    });
    // Scale back to exactly `iters` hashes' worth of time.
    clock
        .now()
        .saturating_sub(start)
        .mul_f64(iters as f64 / (per_thread * THREADS) as f64)
}

fn one_thread<M: Measurement>(c: &mut Criterion<M>) {
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

fn two_threads<M: Measurement<Value = Duration>>(c: &mut Criterion<M>, clock: Clock) {
    let (argon2, params) = context();
    let mut group = c.benchmark_group("argon2id m=19456 t=2 p=1, two threads");
    group
        .throughput(Throughput::Elements(1))
        .sample_size(10)
        .measurement_time(Duration::from_secs(8));
    group.bench_function("raw: fresh memory each hash", |b| {
        b.iter_custom(|iters| {
            on_threads(clock, iters, |n| {
                for _ in 0..n {
                    fresh(&argon2);
                }
            })
        });
    });
    group.bench_function("raw: reused memory (one buffer per thread)", |b| {
        b.iter_custom(|iters| {
            on_threads(clock, iters, |n| {
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
            on_threads(clock, iters, |n| {
                for _ in 0..n {
                    black_box(pooled.hash("violet tractor humming").unwrap());
                }
            })
        });
    });
    let unpooled = Hasher::with_pool_capacity(OWASP, 0).unwrap();
    group.bench_function("Hasher::hash, no pool", |b| {
        b.iter_custom(|iters| {
            on_threads(clock, iters, |n| {
                for _ in 0..n {
                    black_box(unpooled.hash("violet tractor humming").unwrap());
                }
            })
        });
    });
    group.finish();
}

fn main() {
    if std::env::var("KEYDESK_BENCH_CLOCK").as_deref() == Ok("cpu") {
        let mut c = Criterion::default()
            .with_measurement(ProcessCpuTime)
            .configure_from_args();
        one_thread(&mut c);
        two_threads(&mut c, Clock::ProcessCpu);
        c.final_summary();
    } else {
        let mut c = Criterion::default().configure_from_args();
        one_thread(&mut c);
        two_threads(&mut c, Clock::Wall);
        c.final_summary();
    }
}
