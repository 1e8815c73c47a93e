//! `zvonar`: the call-centre engine's one binary.
//!
//! - `zvonar serve --config deploy/zvonar.toml` — SIP (UDP+TCP), the voice robots, HTTP API;
//! - `zvonar import accounts FILE` — load the registry (CSV or XLSX);
//! - `zvonar import outages FILE` — register outages;
//! - `zvonar check-config` — validate the config and dialplan and exit.

mod config;
mod engine;
mod retention;

use anyhow::Context;
use clap::{Parser, Subcommand};
use config::Config;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(
    name = "zvonar",
    version,
    about = "Звонарь: call-centre engine for housing management companies"
)]
struct Cli {
    /// Configuration file.
    #[arg(long, short, global = true, default_value = "deploy/zvonar.toml")]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the engine.
    Serve,
    /// Import data into the database.
    Import {
        #[command(subcommand)]
        what: ImportWhat,
    },
    /// Validate the configuration and the dialplan, then exit.
    CheckConfig,
}

#[derive(Subcommand)]
enum ImportWhat {
    /// Buildings, premises, accounts (ЛС), residents and phones from CSV or XLSX.
    Accounts {
        /// The registry file.
        file: PathBuf,
    },
    /// Outages (отключения) from CSV.
    Outages {
        /// The outages file.
        file: PathBuf,
    },
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,rsipstack=warn,whisper_rs=warn,ort=warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    let cfg = Config::load(&cli.config)?;
    for w in cfg.warnings() {
        tracing::warn!("{}: {w}", cli.config.display());
    }
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        match cli.command {
            Command::Serve => serve(cfg).await,
            Command::CheckConfig => {
                zvonar_dialplan::Dialplan::load(cfg.resolve(&cfg.dialplan))?;
                println!("configuration OK");
                Ok(())
            }
            Command::Import { what } => import(cfg, what).await,
        }
    })
}

async fn open_db(cfg: &Config) -> anyhow::Result<sqlx::SqlitePool> {
    let db = cfg.resolve(&cfg.storage.database);
    if let Some(dir) = db.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let pool = zvonar_billing::open_sqlite(&db.to_string_lossy())
        .await
        .with_context(|| format!("opening {}", db.display()))?;
    zvonar_billing::migrate(&pool).await?;
    zvonar_dispatch::migrate(&pool).await?;
    Ok(pool)
}

async fn import(cfg: Config, what: ImportWhat) -> anyhow::Result<()> {
    let pool = open_db(&cfg).await?;
    let (file, summary, errors) = match what {
        ImportWhat::Accounts { file } => {
            let r = zvonar_billing::import_accounts(&pool, &file)
                .await
                .with_context(|| format!("importing {}", file.display()))?;
            let summary = format!(
                "{} rows: {} buildings, {} premises, {} accounts, {} residents, {} phones added; {} updated, {} unchanged, {} bad",
                r.rows_read, r.buildings_added, r.premises_added, r.accounts_added, r.residents_added,
                r.phones_added, r.updated, r.unchanged, r.errors.len()
            );
            (file, summary, r.errors)
        }
        ImportWhat::Outages { file } => {
            let r = zvonar_billing::import_outages(&pool, &file, cfg.time_zone)
                .await
                .with_context(|| format!("importing {}", file.display()))?;
            let summary = format!(
                "{} rows: {} outages added; {} updated, {} unchanged, {} bad",
                r.rows_read,
                r.outages_added,
                r.updated,
                r.unchanged,
                r.errors.len()
            );
            (file, summary, r.errors)
        }
    };
    println!("{}: {summary}", file.display());
    for e in &errors {
        eprintln!("{}:{}: {}", file.display(), e.line, e.reason);
    }
    Ok(())
}

fn find_espeak_data(cfg: &Config) -> Option<PathBuf> {
    let configured = cfg.tts.espeak_data.as_ref().map(|p| cfg.resolve(p));
    let candidates = configured.into_iter().chain(
        [
            "/usr/lib/x86_64-linux-gnu",
            "/usr/lib/aarch64-linux-gnu",
            "/usr/share",
        ]
        .iter()
        .map(PathBuf::from),
    );
    candidates
        .into_iter()
        .find(|c| c.join("espeak-ng-data").join("phontab").is_file())
}

fn piper_voices(dir: &Path) -> Vec<zvonar_voice::tts::PiperVoice> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "onnx") {
            let config = PathBuf::from(format!("{}.json", p.display()));
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if config.is_file() && name.len() > 2 {
                out.push(zvonar_voice::tts::PiperVoice {
                    language: name[..2].to_lowercase(),
                    model: p,
                    config,
                });
            }
        }
    }
    out
}

async fn serve(cfg: Config) -> anyhow::Result<()> {
    let dialplan = zvonar_dialplan::Dialplan::load(cfg.resolve(&cfg.dialplan))?;
    let pool = open_db(&cfg).await?;
    let registry: Arc<dyn zvonar_billing::Registry> =
        Arc::new(zvonar_billing::SqliteRegistry::new(pool.clone()));
    let store: Arc<dyn zvonar_dispatch::DispatchStore> =
        Arc::new(zvonar_dispatch::SqliteDispatchStore::new(pool.clone()));

    let mut asr_cfg = zvonar_voice::asr::AsrConfig::new(cfg.resolve(&cfg.asr.model));
    asr_cfg.workers = cfg.asr.workers;
    asr_cfg.threads_per_worker = cfg.asr.threads;
    if cfg.asr.audio_ctx == "full" {
        asr_cfg.audio_ctx = zvonar_voice::asr::AudioCtx::Full;
    }
    let asr = zvonar_voice::asr::Asr::start(asr_cfg)?;
    let tts = zvonar_voice::tts::Tts::start(zvonar_voice::tts::TtsConfig {
        piper_voices: cfg
            .tts
            .piper_dir
            .as_ref()
            .map(|d| piper_voices(&cfg.resolve(d)))
            .unwrap_or_default(),
        onnxruntime: cfg
            .tts
            .onnxruntime
            .as_ref()
            .map(|p| cfg.resolve(p))
            .filter(|p| p.is_file()),
        espeak_data_parent: find_espeak_data(&cfg),
        espeak_rate_wpm: cfg.tts.espeak_rate_wpm,
        cache_dir: cfg.tts.cache_dir.as_ref().map(|p| cfg.resolve(p)),
    })?;

    let mut registry_metrics = prometheus_client::registry::Registry::default();
    let metrics = engine::metrics::Metrics::register(&mut registry_metrics);
    let mut events = engine::events::EventBus::default();
    let dispatch_rx = events.subscribe(4096);
    tokio::spawn(zvonar_dispatch::run_subscriber(store.clone(), dispatch_rx));

    let recordings = cfg.resolve(&cfg.storage.recordings);
    std::fs::create_dir_all(&recordings)
        .with_context(|| format!("creating {}", recordings.display()))?;
    tokio::spawn(retention::run_daily(
        store.clone(),
        retention::Retention {
            days: cfg.storage.retention_days,
            recordings_dir: recordings.clone(),
            tts_cache_dir: cfg.tts.cache_dir.as_ref().map(|p| cfg.resolve(p)),
        },
    ));
    let mut shared = engine::Shared::new(
        dialplan,
        events,
        metrics,
        registry.clone(),
        store.clone(),
        asr,
        tts,
        cfg.public_ip(),
        cfg.rtp.port_min..=cfg.rtp.port_max,
        recordings.clone(),
        cfg.base_dir.clone(),
        cfg.sip.max_calls,
    );
    shared.answer_after_ms = cfg.sip.answer_after_ms;
    shared.time_zone = cfg.time_zone;
    shared.trusted_sources = cfg.sip.trusted.clone();
    let shared = Arc::new(shared);

    let cancel = CancellationToken::new();
    let (sip, calls) = zvonar_sip::ua::start(
        zvonar_sip::ua::SipConfig {
            udp: cfg.sip.udp,
            tcp: cfg.sip.tcp,
            public_ip: cfg.public_ip(),
            user_agent: format!("zvonar/{}", env!("CARGO_PKG_VERSION")),
        },
        cancel.clone(),
    )
    .await?;
    tracing::info!(udp = %cfg.sip.udp, tcp = ?cfg.sip.tcp, port = sip.udp_addr.port(), "SIP listening");
    tokio::spawn(engine::accept(shared.clone(), calls));

    let web = zvonar_web::AppState::new(
        store,
        cfg.http.token.clone(),
        recordings,
        Arc::new(registry_metrics),
    );
    let listener = tokio::net::TcpListener::bind(cfg.http.listen)
        .await
        .with_context(|| format!("HTTP listen on {}", cfg.http.listen))?;
    tracing::info!(addr = %cfg.http.listen, "HTTP API listening");
    let server = axum_serve(listener, web);
    tokio::select! {
        r = server => r?,
        _ = tokio::signal::ctrl_c() => tracing::info!("shutting down"),
    }
    cancel.cancel();
    Ok(())
}

async fn axum_serve(
    listener: tokio::net::TcpListener,
    state: zvonar_web::AppState,
) -> anyhow::Result<()> {
    zvonar_web::serve(listener, state).await?;
    Ok(())
}
