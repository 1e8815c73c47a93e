//! Prometheus metrics of the engine (exposed by the web block at `/metrics`).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Label of the calls counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DispositionLabel {
    /// `answered`, `missed`, `rejected`, `failed`.
    pub disposition: String,
}

/// Label of the early recognition counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EarlyLabel {
    /// `used` (the caller said nothing more: its result answered the turn), `discarded`
    /// (the caller went on speaking), `skipped` (no recogniser was idle at the pause),
    /// `preempted` (another caller's closed utterance took its recogniser; recognised
    /// again once closed).
    pub outcome: String,
}

/// The engine's metrics.
#[derive(Clone)]
pub struct Metrics {
    /// Calls in progress.
    pub active_calls: Gauge,
    /// Finished calls by disposition.
    pub calls: Family<DispositionLabel, Counter>,
    /// Utterances waiting for or in recognition.
    pub asr_queue: Gauge,
    /// Recognition time per utterance, seconds.
    pub asr_latency: Histogram,
    /// End of caller speech → first robot audio, seconds.
    pub turn_latency: Histogram,
    /// Tickets filed by robots.
    pub tickets: Counter,
    /// RTP packets dropped because they came from another source than the call's peer
    /// (strict RTP: a scan or a hijack attempt, or a peer whose media moved unannounced).
    pub rtp_foreign_packets: Counter,
    /// Early recognitions of robot callers' utterances (`[asr] early_ms`) by outcome.
    pub asr_early: Family<EarlyLabel, Counter>,
}

impl Metrics {
    /// Creates the metrics and registers them in `registry` under the `zvonar_` prefix.
    pub fn register(registry: &mut Registry) -> Metrics {
        let buckets = [0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0, 13.0];
        let m = Metrics {
            active_calls: Gauge::default(),
            calls: Family::default(),
            asr_queue: Gauge::default(),
            asr_latency: Histogram::new(buckets),
            turn_latency: Histogram::new(buckets),
            tickets: Counter::default(),
            rtp_foreign_packets: Counter::default(),
            asr_early: Family::default(),
        };
        let r = registry.sub_registry_with_prefix("zvonar");
        r.register("active_calls", "Calls in progress", m.active_calls.clone());
        r.register("calls", "Finished calls by disposition", m.calls.clone());
        r.register(
            "asr_queue_depth",
            "Utterances waiting for or in recognition",
            m.asr_queue.clone(),
        );
        r.register(
            "asr_latency_seconds",
            "Recognition time per utterance",
            m.asr_latency.clone(),
        );
        r.register(
            "turn_latency_seconds",
            "End of caller speech to first robot audio",
            m.turn_latency.clone(),
        );
        r.register("tickets", "Tickets filed by robots", m.tickets.clone());
        r.register(
            "rtp_foreign_packets",
            "RTP packets dropped because they came from another source than the call's peer",
            m.rtp_foreign_packets.clone(),
        );
        r.register(
            "asr_early",
            "Early recognitions (at a pause, before the end of the utterance) by outcome: used, discarded, skipped, preempted",
            m.asr_early.clone(),
        );
        m
    }

    /// Counts one early recognition outcome (`used`, `discarded`, `skipped`, `preempted`).
    pub fn early(&self, outcome: &str) {
        self.asr_early
            .get_or_create(&EarlyLabel {
                outcome: outcome.to_string(),
            })
            .inc();
    }
}
