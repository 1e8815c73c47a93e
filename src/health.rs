//! The engine's components as `/health` checks them (see `zvonar_web::HealthCheck`):
//! ASR workers alive, TTS worker alive and a short synthesis recently done, the database
//! answering `SELECT 1`, the recordings disk writable with enough free space.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use zvonar_web::{CheckResult, HealthCheck};

type CheckFuture<'a> = Pin<Box<dyn Future<Output = CheckResult> + Send + 'a>>;

fn details(pairs: &[(&str, serde_json::Value)]) -> serde_json::Map<String, serde_json::Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// Speech recognition: every worker thread still runs.
pub struct AsrHealth(pub zvonar_voice::asr::Asr);

impl HealthCheck for AsrHealth {
    fn name(&self) -> &'static str {
        "asr"
    }
    fn check(&self) -> CheckFuture<'_> {
        Box::pin(async move {
            let (alive, workers) = (self.0.workers_alive(), self.0.workers());
            if alive < workers || workers == 0 {
                return Err(format!("{alive} of {workers} recogniser workers running"));
            }
            Ok(details(&[
                ("workers", alive.into()),
                ("queue", self.0.queue_depth().into()),
            ]))
        })
    }
}

/// Speech synthesis: the worker runs and a short phrase was synthesised (uncached) within
/// the last `every`; older results are refreshed by the check itself.
pub struct TtsHealth {
    tts: zvonar_voice::tts::Tts,
    every: Duration,
    last: tokio::sync::Mutex<Option<(Instant, Result<u64, String>)>>,
}

impl TtsHealth {
    /// Probes at most once per `every`.
    pub fn new(tts: zvonar_voice::tts::Tts, every: Duration) -> Self {
        TtsHealth {
            tts,
            every,
            last: tokio::sync::Mutex::new(None),
        }
    }
}

impl HealthCheck for TtsHealth {
    fn name(&self) -> &'static str {
        "tts"
    }
    fn check(&self) -> CheckFuture<'_> {
        Box::pin(async move {
            if !self.tts.worker_alive() {
                return Err("synthesis worker not running".into());
            }
            let mut last = self.last.lock().await;
            let fresh = last
                .as_ref()
                .is_some_and(|(at, _)| at.elapsed() < self.every);
            if !fresh {
                let r = self
                    .tts
                    .probe()
                    .await
                    .map(|d| d.as_millis() as u64)
                    .map_err(|e| format!("test synthesis failed: {e}"));
                *last = Some((Instant::now(), r));
            }
            match last.as_ref().map(|(_, r)| r) {
                Some(Ok(ms)) => Ok(details(&[
                    ("probe_ms", (*ms).into()),
                    ("worker_restarts", self.tts.worker_restarts().into()),
                ])),
                Some(Err(e)) => Err(e.clone()),
                None => Err("not checked".into()),
            }
        })
    }
}

/// The database answers `SELECT 1`.
pub struct DbHealth(pub sqlx::SqlitePool);

impl HealthCheck for DbHealth {
    fn name(&self) -> &'static str {
        "database"
    }
    fn check(&self) -> CheckFuture<'_> {
        Box::pin(async move {
            let t0 = Instant::now();
            let one: i64 = sqlx::query_scalar("SELECT 1")
                .fetch_one(&self.0)
                .await
                .map_err(|e| format!("SELECT 1 failed: {e}"))?;
            if one != 1 {
                return Err(format!("SELECT 1 returned {one}"));
            }
            Ok(details(&[("ms", (t0.elapsed().as_millis() as u64).into())]))
        })
    }
}

/// The recordings directory takes a file and its disk has at least `min_free_bytes` free.
pub struct DiskHealth {
    /// Recordings root.
    pub dir: PathBuf,
    /// Free space below this is an alarm, bytes.
    pub min_free_bytes: u64,
    probe: Mutex<u64>,
}

impl DiskHealth {
    /// Checks `dir` against `min_free_bytes`.
    pub fn new(dir: PathBuf, min_free_bytes: u64) -> Self {
        DiskHealth {
            dir,
            min_free_bytes,
            probe: Mutex::new(0),
        }
    }
}

impl HealthCheck for DiskHealth {
    fn name(&self) -> &'static str {
        "disk"
    }
    fn check(&self) -> CheckFuture<'_> {
        Box::pin(async move {
            let n = self.probe.lock().map(|mut n| {
                *n += 1;
                *n
            });
            let dir = self.dir.clone();
            let min = self.min_free_bytes;
            let file = dir.join(format!(".health-{}-{}", std::process::id(), n.unwrap_or(0)));
            tokio::task::spawn_blocking(move || {
                std::fs::write(&file, b"zvonar health check")
                    .map_err(|e| format!("{} not writable: {e}", dir.display()))?;
                let _ = std::fs::remove_file(&file);
                let free = free_bytes(&dir)
                    .map_err(|e| format!("free space of {}: {e}", dir.display()))?;
                if free < min {
                    return Err(format!(
                        "{} MiB free on {}, below the {} MiB minimum",
                        free >> 20,
                        dir.display(),
                        min >> 20
                    ));
                }
                Ok(details(&[("free_mib", (free >> 20).into())]))
            })
            .await
            .map_err(|e| format!("disk check crashed: {e}"))?
        })
    }
}

/// Bytes available to unprivileged users on the file system holding `dir` (statvfs).
pub fn free_bytes(dir: &std::path::Path) -> std::io::Result<u64> {
    let st = rustix::fs::statvfs(dir)?;
    Ok(st.f_bavail.saturating_mul(st.f_frsize))
}

/// SIP trunks: each one's registration and channels in use; down only when every trunk
/// that registers has failed (none can carry a call), with each one's reason.
pub struct TrunksHealth(pub std::sync::Arc<crate::engine::trunks::Trunks>);

impl HealthCheck for TrunksHealth {
    fn name(&self) -> &'static str {
        "trunks"
    }
    fn check(&self) -> CheckFuture<'_> {
        Box::pin(async move {
            let now = Instant::now();
            let status = self.0.status(now);
            if self.0.all_failed(now) {
                let why: Vec<String> = status
                    .iter()
                    .map(|t| {
                        let next = t
                            .next_attempt_in_s
                            .map(|s| format!(", next attempt in {s} s"))
                            .unwrap_or_default();
                        format!(
                            "{}: {}{next}",
                            t.name,
                            t.last_error.as_deref().unwrap_or("not registered")
                        )
                    })
                    .collect();
                return Err(format!("no trunk registered ({})", why.join("; ")));
            }
            Ok(details(&[(
                "trunks",
                serde_json::to_value(&status).unwrap_or_default(),
            )]))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn disk_is_down_when_not_writable_or_too_full() {
        let dir = std::env::temp_dir().join(format!("zvonar-health-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let free = free_bytes(&dir).unwrap();
        assert!(free > 0);
        let ok = block_on(DiskHealth::new(dir.clone(), 1).check()).expect("disk up");
        assert!(ok["free_mib"].is_u64());
        let full = block_on(DiskHealth::new(dir.clone(), free.saturating_mul(4)).check());
        assert!(full.unwrap_err().contains("below"), "too little free space");
        let missing = block_on(DiskHealth::new(dir.join("gone"), 1).check());
        assert!(missing.unwrap_err().contains("not writable"));
        // The probe files do not pile up.
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        let _ = std::fs::remove_dir_all(dir);
    }

    struct CrashingDecoder;

    impl zvonar_voice::asr::Decoder for CrashingDecoder {
        fn decode(
            &mut self,
            _pcm_8k: &[i16],
            _queue_ms: u32,
        ) -> Result<zvonar_voice::asr::AsrOutcome, zvonar_voice::asr::AsrError> {
            panic!("whisper.cpp crashed")
        }
    }

    #[test]
    fn asr_is_down_when_a_worker_died() {
        block_on(async {
            let asr =
                zvonar_voice::asr::Asr::with_decoders(vec![Box::new(CrashingDecoder)], 4).unwrap();
            let health = AsrHealth(asr.clone());
            assert_eq!(health.check().await.unwrap()["workers"], 1);
            assert!(asr.recognise(vec![1000; 8000]).await.is_err());
            let t0 = Instant::now();
            while asr.workers_alive() > 0 && t0.elapsed() < Duration::from_secs(5) {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let down = health.check().await.unwrap_err();
            assert!(down.contains("0 of 1"), "{down}");
        });
    }

    /// Speaks until told to fail.
    struct Flaky(std::sync::Arc<std::sync::atomic::AtomicBool>);

    impl zvonar_voice::tts::Synthesizer for Flaky {
        fn speak(
            &mut self,
            _text: &str,
            _language: &str,
        ) -> Result<Vec<i16>, zvonar_voice::tts::TtsError> {
            if self.0.load(std::sync::atomic::Ordering::Relaxed) {
                Err(zvonar_voice::tts::TtsError::Espeak("no voice".into()))
            } else {
                Ok(vec![100; 800])
            }
        }
    }

    #[test]
    fn tts_is_down_when_test_synthesis_fails() {
        block_on(async {
            let broken = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let tts = zvonar_voice::tts::Tts::with_synthesizer(
                Box::new(Flaky(broken.clone())),
                &zvonar_voice::tts::TtsConfig::default(),
            )
            .unwrap();
            // Probed on every check.
            let health = TtsHealth::new(tts, Duration::ZERO);
            assert!(health.check().await.unwrap()["probe_ms"].is_u64());
            broken.store(true, std::sync::atomic::Ordering::Relaxed);
            let down = health.check().await.unwrap_err();
            assert!(down.contains("no voice"), "{down}");
        });
    }

    #[test]
    fn database_is_down_when_closed() {
        block_on(async {
            let pool = zvonar_billing::open_sqlite("sqlite::memory:")
                .await
                .unwrap();
            let db = DbHealth(pool.clone());
            assert!(db.check().await.is_ok());
            pool.close().await;
            assert!(db.check().await.unwrap_err().contains("SELECT 1"));
        });
    }
}
