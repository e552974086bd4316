//! The process's Prometheus metrics, every name prefixed `keydesk_`.
//!
//! One registry per process ([`metrics`]); the parts that do the work
//! count into it (the mail worker, the site, desk's reset links, the SSH
//! server, the search boundary) and `/metrics` renders it in the classic
//! Prometheus text format, which `promtool check metrics` accepts. Outbox
//! gauges are read from the store at each scrape ([`Metrics::observe_outbox`]),
//! so every process reports the same shared queue; counters and histograms
//! are this process's own since it started.

use std::sync::LazyLock;

use prometheus::{
    Encoder, Gauge, Histogram, HistogramOpts, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

/// The outbox states a gauge is kept for, even at zero.
pub const OUTBOX_STATES: [&str; 5] = ["queued", "sending", "sent", "failed", "expired"];

/// Every metric keydesk exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// `keydesk_outbox_messages{state}`: rows in the shared outbox by state.
    pub outbox_messages: IntGaugeVec,
    /// `keydesk_outbox_oldest_queued_age_seconds`: how long the oldest
    /// queued message has waited (0 when none waits).
    pub outbox_oldest_queued_age: Gauge,
    /// `keydesk_mail_deliveries_total{result}`: sent, retry, failed, expired.
    pub deliveries: IntCounterVec,
    /// `keydesk_mail_delivery_duration_seconds`: one send to the relay.
    pub delivery_seconds: Histogram,
    /// `keydesk_site_logins_total{outcome}`: success or desk's refusal kind.
    pub site_logins: IntCounterVec,
    /// `keydesk_site_throttled_requests_total{reason}`: answered 429, or a
    /// Forgot Password request over its limit.
    pub site_throttled: IntCounterVec,
    /// `keydesk_reset_links_sent_total{source}`: `agent` or `forgot`.
    pub reset_links_sent: IntCounterVec,
    /// `keydesk_ssh_sessions_open`.
    pub ssh_sessions_open: IntGauge,
    /// `keydesk_search_duration_seconds`: one search at the `Searcher`.
    pub search_seconds: Histogram,
    /// `keydesk_search_index_contacts`: contacts in the loaded index.
    pub search_index_contacts: IntGauge,
    /// `keydesk_search_index_bytes`: heap memory this process holds for the
    /// index (a mapped index file's pages are the shared page cache).
    pub search_index_bytes: IntGauge,
}

/// This process's metrics.
#[must_use]
pub fn metrics() -> &'static Metrics {
    static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);
    &METRICS
}

/// Latency buckets in seconds: 1 ms to 30 s.
const SECONDS_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

impl Metrics {
    fn new() -> Self {
        // Each registration can fail only on a duplicate or malformed
        // name, fixed here at compile time; the tests render them all.
        let registry =
            Registry::new_custom(Some("keydesk".into()), None).unwrap_or_else(|_| Registry::new());
        let gauge_vec = |name: &str, help: &str, label: &str| {
            let g = IntGaugeVec::new(Opts::new(name, help), &[label]).unwrap_or_else(|e| {
                unreachable!("metric {name}: {e}");
            });
            register(&registry, g.clone());
            g
        };
        let counter_vec = |name: &str, help: &str, label: &str| {
            let c = IntCounterVec::new(Opts::new(name, help), &[label]).unwrap_or_else(|e| {
                unreachable!("metric {name}: {e}");
            });
            register(&registry, c.clone());
            c
        };
        let histogram = |name: &str, help: &str| {
            let h = Histogram::with_opts(
                HistogramOpts::new(name, help).buckets(SECONDS_BUCKETS.to_vec()),
            )
            .unwrap_or_else(|e| unreachable!("metric {name}: {e}"));
            register(&registry, h.clone());
            h
        };
        let int_gauge = |name: &str, help: &str| {
            let g =
                IntGauge::new(name, help).unwrap_or_else(|e| unreachable!("metric {name}: {e}"));
            register(&registry, g.clone());
            g
        };
        let outbox_messages = gauge_vec(
            "outbox_messages",
            "Messages in the outbox by state (read from the store at each scrape).",
            "state",
        );
        for state in OUTBOX_STATES {
            outbox_messages.with_label_values(&[state]).set(0);
        }
        let outbox_oldest_queued_age = Gauge::new(
            "outbox_oldest_queued_age_seconds",
            "How long the oldest queued message has waited, in seconds (0 when none waits).",
        )
        .unwrap_or_else(|e| unreachable!("metric: {e}"));
        register(&registry, outbox_oldest_queued_age.clone());
        let deliveries = counter_vec(
            "mail_deliveries_total",
            "Delivery attempts by this process, by result: sent, retry, failed, expired.",
            "result",
        );
        for result in ["sent", "retry", "failed", "expired"] {
            deliveries.with_label_values(&[result]);
        }
        let site_logins = counter_vec(
            "site_logins_total",
            "Customer sign-ins on the site by outcome: success, bad_credentials, locked, ...",
            "outcome",
        );
        let site_throttled = counter_vec(
            "site_throttled_requests_total",
            "Site requests refused by a limit, by reason: busy, rate_limited, forgot.",
            "reason",
        );
        let reset_links_sent = counter_vec(
            "reset_links_sent_total",
            "Reset links issued, by source: agent (console, SSH, command line) or forgot (the site).",
            "source",
        );
        for source in ["agent", "forgot"] {
            reset_links_sent.with_label_values(&[source]);
        }
        let build_info = IntGaugeVec::new(
            Opts::new(
                "build_info",
                "Always 1; the labels say which keydesk this is.",
            ),
            &["version", "commit", "built"],
        )
        .unwrap_or_else(|e| unreachable!("metric build_info: {e}"));
        register(&registry, build_info.clone());
        build_info
            .with_label_values(&[
                env!("CARGO_PKG_VERSION"),
                env!("KEYDESK_GIT_COMMIT"),
                env!("KEYDESK_BUILD_DATE"),
            ])
            .set(1);
        Self {
            outbox_messages,
            outbox_oldest_queued_age,
            deliveries,
            delivery_seconds: histogram(
                "mail_delivery_duration_seconds",
                "Time to hand one message to the transport, in seconds.",
            ),
            site_logins,
            site_throttled,
            reset_links_sent,
            ssh_sessions_open: int_gauge("ssh_sessions_open", "Console sessions open over SSH."),
            search_seconds: histogram(
                "search_duration_seconds",
                "Time to answer one contact search, in seconds.",
            ),
            search_index_contacts: int_gauge(
                "search_index_contacts",
                "Contacts in the loaded in-memory search index (0 when none is loaded).",
            ),
            search_index_bytes: int_gauge(
                "search_index_bytes",
                "Heap memory this process holds for the search index, in bytes (a mapped index file is not counted).",
            ),
            registry,
        }
    }

    /// Sets the outbox gauges from counts by state and the age of the
    /// oldest queued message.
    pub fn observe_outbox(&self, counts: &[(String, u64)], oldest_queued_age_secs: f64) {
        for state in OUTBOX_STATES {
            let n = counts
                .iter()
                .find(|(s, _)| s == state)
                .map_or(0, |(_, n)| *n);
            self.outbox_messages
                .with_label_values(&[state])
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        self.outbox_oldest_queued_age
            .set(oldest_queued_age_secs.max(0.0));
    }

    /// Sets the search index gauges.
    pub fn observe_index(&self, contacts: usize, bytes: usize) {
        self.search_index_contacts
            .set(i64::try_from(contacts).unwrap_or(i64::MAX));
        self.search_index_bytes
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }

    /// Everything, in the Prometheus text format (version 0.0.4).
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding into a Vec fails only on a malformed family, which the
        // registration above rules out; an empty answer would show it.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

fn register<C: prometheus::core::Collector + 'static>(registry: &Registry, collector: C) {
    if let Err(err) = registry.register(Box::new(collector)) {
        unreachable!("registering a metric: {err}");
    }
}

#[cfg(test)]
mod tests {
    use super::metrics;

    #[test]
    fn every_name_is_prefixed_and_families_render() {
        let m = metrics();
        m.deliveries.with_label_values(&["sent"]).inc();
        m.delivery_seconds.observe(0.02);
        let text = m.render();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            assert!(line.starts_with("keydesk_"), "{line}");
        }
        for name in [
            "keydesk_outbox_messages{state=\"queued\"}",
            "keydesk_outbox_oldest_queued_age_seconds",
            "keydesk_mail_deliveries_total{result=\"sent\"}",
            "keydesk_mail_delivery_duration_seconds_bucket",
            "keydesk_reset_links_sent_total{source=\"forgot\"}",
            "keydesk_ssh_sessions_open",
            "keydesk_search_duration_seconds_count",
            "keydesk_search_index_contacts",
            "keydesk_search_index_bytes",
            "keydesk_build_info{",
        ] {
            assert!(text.contains(name), "{name} missing from\n{text}");
        }
    }
}
