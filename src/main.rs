//! `zvonar`: the call-centre engine's one binary.
//!
//! - `zvonar serve --config deploy/zvonar.toml` — SIP (UDP+TCP), the voice robots, HTTP API;
//! - `zvonar import accounts FILE` — load the registry (CSV or XLSX);
//! - `zvonar import outages FILE` — register outages;
//! - `zvonar sip-account add|remove|list` — agents' SIP accounts for desk phones;
//! - `zvonar check-config` — validate the config and dialplan and exit;
//! - `zvonar user add --login NAME --role admin` — create a user (the first admin); the
//!   password is asked for at the terminal or read from the first line of stdin, never
//!   taken from the command line;
//! - `zvonar user passwd --login NAME` — set a user's password the same way.

mod config;
mod engine;
mod health;
mod queue_api;
mod retention;
mod sip_accounts;

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
    /// Validate the configuration, the TLS certificates and the dialplan, then exit.
    CheckConfig,
    /// Console and API user accounts.
    User {
        #[command(subcommand)]
        what: UserWhat,
    },
    /// Agents' SIP accounts (desk phones, softphones) for the registrar.
    SipAccount {
        #[command(subcommand)]
        what: SipAccountWhat,
    },
}

#[derive(Subcommand)]
enum SipAccountWhat {
    /// Add an account or set its password; the password is read from stdin (one line)
    /// and stored only as HA1 hashes for `[sip.registrar] realm`.
    Add {
        /// SIP user name (the phone's "user"/"auth user"), e.g. 101.
        user: String,
        /// The console user (agent) whose phone this is: logging in to the queues as that
        /// user rings this phone (`POST /api/v1/queue/agent/login`).
        #[arg(long)]
        login: Option<String>,
    },
    /// Remove an account (its phones can no longer register).
    Remove {
        /// SIP user name.
        user: String,
    },
    /// List accounts and the realm their hashes are for.
    List,
}

#[derive(Subcommand)]
enum UserWhat {
    /// Create a user; the password is asked for (or read from the first line of stdin).
    Add {
        /// Login name (letters, digits, `._-@`).
        #[arg(long)]
        login: String,
        /// operator, dispatcher, executor, supervisor or admin.
        #[arg(long)]
        role: zvonar_access::Role,
        /// Name shown in the console (default: the login).
        #[arg(long, default_value = "")]
        name: String,
        /// Topics the user sees, comma-separated (default: all).
        #[arg(long, value_delimiter = ',')]
        topics: Vec<String>,
        /// Building ids the user sees, comma-separated (default: all).
        #[arg(long, value_delimiter = ',')]
        buildings: Vec<i64>,
        /// The user must change the password at the first login.
        #[arg(long)]
        must_change: bool,
    },
    /// Set a user's password (asked for, or the first line of stdin); ends their sessions.
    Passwd {
        /// Login name.
        #[arg(long)]
        login: String,
        /// The user must change the password at the next login.
        #[arg(long)]
        must_change: bool,
    },
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
    /// Debts per account (ЛС) from CSV or XLSX: balance, oldest unpaid month, as-of date.
    Debts {
        /// The debts file.
        file: PathBuf,
        /// The as-of date (YYYY-MM-DD) for rows whose «на дату»/as_of cell is empty or absent.
        #[arg(long)]
        as_of: Option<chrono::NaiveDate>,
        /// The file lists every account that owes anything: figures of accounts it does not
        /// name are deleted (they paid off), unless they are as of a later date.
        #[arg(long)]
        complete: bool,
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
    let result = rt.block_on(async move {
        match cli.command {
            Command::Serve => serve(cfg).await,
            Command::CheckConfig => {
                load_tls(&cfg)?;
                let dialplan = zvonar_dialplan::Dialplan::load(cfg.resolve(&cfg.dialplan))?;
                for file in dialplan.prompt_files() {
                    zvonar_voice::tts::load_sound_file(&cfg.resolve(Path::new(&file)))
                        .with_context(|| format!("dialplan prompt {{ file = {file:?} }}"))?;
                }
                println!("configuration OK");
                Ok(())
            }
            Command::Import { what } => import(cfg, what).await,
            Command::User { what } => user(cfg, what).await,
            Command::SipAccount { what } => sip_account(cfg, what).await,
        }
    });
    // Whatever is still running in the background (a stuck blocking task) must not keep
    // the process from exiting after a graceful stop.
    rt.shutdown_timeout(std::time::Duration::from_secs(5));
    result
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
    zvonar_access::migrate(&pool).await?;
    sip_accounts::migrate(&pool).await?;
    engine::queue::store::migrate(&pool).await?;
    engine::campaign::migrate(&pool).await?;
    Ok(pool)
}

async fn sip_account(cfg: Config, what: SipAccountWhat) -> anyhow::Result<()> {
    let pool = open_db(&cfg).await?;
    match what {
        SipAccountWhat::Add { user, login } => {
            if let Some(login) = &login {
                let access = zvonar_access::Access::new(pool.clone(), cfg.auth.clone());
                anyhow::ensure!(
                    access.user_by_login(login).await?.is_some(),
                    "no console user {login:?} (zvonar user add --login {login} …)"
                );
            }
            let realm = cfg
                .sip
                .registrar
                .as_ref()
                .map(|r| r.realm.clone())
                .context("the config has no [sip.registrar] section: set its realm first")?;
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("reading the password from stdin")?;
            let password = line.trim_end_matches(['\r', '\n']);
            let new = sip_accounts::set(&pool, &user, &realm, password).await?;
            if let Some(login) = &login {
                sip_accounts::bind_user(&pool, &user, Some(login)).await?;
            }
            println!(
                "SIP account {user} {} (realm {realm}){}",
                if new { "added" } else { "password changed" },
                login.map(|l| format!(", phone of {l}")).unwrap_or_default()
            );
        }
        SipAccountWhat::Remove { user } => {
            anyhow::ensure!(
                sip_accounts::remove(&pool, &user).await?,
                "no SIP account {user}"
            );
            println!("SIP account {user} removed");
        }
        SipAccountWhat::List => {
            for (user, realm, login) in sip_accounts::list(&pool).await? {
                println!("{user}\t{realm}\t{}", login.unwrap_or_default());
            }
        }
    }
    Ok(())
}

/// A password from the terminal (asked twice, not echoed) or, when stdin is not a
/// terminal, its first line — never from the command line, where `ps` and shell history
/// would show it.
fn read_password(login: &str) -> anyhow::Result<String> {
    use std::io::{BufRead, IsTerminal};
    if std::io::stdin().is_terminal() {
        let a = rpassword::prompt_password(format!("Пароль для {login}: "))?;
        let b = rpassword::prompt_password("Ещё раз: ")?;
        anyhow::ensure!(a == b, "пароли не совпадают");
        Ok(a)
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        let pw = line.trim_end_matches(['\r', '\n']).to_string();
        anyhow::ensure!(!pw.is_empty(), "no password on stdin");
        Ok(pw)
    }
}

async fn user(cfg: Config, what: UserWhat) -> anyhow::Result<()> {
    let pool = open_db(&cfg).await?;
    let access = zvonar_access::Access::new(pool, cfg.auth.clone());
    let cli_audit =
        |action: &str, target: String, details: serde_json::Value| zvonar_access::AuditRecord {
            user_id: None,
            actor: "cli".into(),
            ip: None,
            action: action.into(),
            target: Some(target),
            details,
        };
    match what {
        UserWhat::Add {
            login,
            role,
            name,
            topics,
            buildings,
            must_change,
        } => {
            let password = read_password(&login)?;
            let new = zvonar_access::NewUser {
                login,
                display_name: name,
                role: Some(role),
                visibility: zvonar_access::Visibility { topics, buildings },
            };
            let u = access.create_user(&new, &password, must_change).await?;
            access
                .audit(&cli_audit(
                    "user_created",
                    format!("user:{}", u.id),
                    serde_json::json!({"login": u.login, "role": u.role}),
                ))
                .await?;
            println!("user {} ({}) created, id {}", u.login, u.role, u.id);
        }
        UserWhat::Passwd { login, must_change } => {
            let u = access
                .user_by_login(&login)
                .await?
                .with_context(|| format!("no user «{login}»"))?;
            let password = read_password(&u.login)?;
            access.set_password(u.id, &password, must_change).await?;
            access
                .audit(&cli_audit(
                    "password_reset",
                    format!("user:{}", u.id),
                    serde_json::json!({"must_change": must_change}),
                ))
                .await?;
            println!("password of {} set; their sessions ended", u.login);
        }
    }
    Ok(())
}

/// The event spool of a database: `<database file>.events-spool` next to it (call events the
/// database could not take at once wait there, see `zvonar_dispatch::EventSpool`).
fn spool_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".events-spool");
    PathBuf::from(name)
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
        ImportWhat::Debts {
            file,
            as_of,
            complete,
        } => {
            let r = if complete {
                zvonar_billing::import_all_debts(&pool, &file, as_of).await
            } else {
                zvonar_billing::import_debts(&pool, &file, as_of).await
            }
            .with_context(|| format!("importing {}", file.display()))?;
            let summary = format!(
                "{} rows: {} accounts added, {} replaced, {} unchanged, {} cleared, {} bad",
                r.rows_read,
                r.added,
                r.replaced,
                r.unchanged,
                r.cleared,
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

/// The directory that holds `espeak-ng-data/` (espeak-ng's `path` argument): `[tts]
/// espeak_data` when set — then it must hold the data, or start-up fails naming it — else
/// where Debian's `espeak-ng-data` package installed it (`dpkg -L`), never a guessed path.
/// `Ok(None)`: neither, espeak-ng then uses its compiled-in default.
fn find_espeak_data(cfg: &Config) -> anyhow::Result<Option<PathBuf>> {
    let has_data = |p: &Path| p.join("espeak-ng-data").join("phontab").is_file();
    if let Some(configured) = cfg.tts.espeak_data.as_ref().map(|p| cfg.resolve(p)) {
        anyhow::ensure!(
            has_data(&configured),
            "[tts] espeak_data = {}: no espeak-ng-data/phontab there (install Debian's \
             espeak-ng-data, or remove the setting to use the installed package)",
            configured.display()
        );
        return Ok(Some(configured));
    }
    Ok(espeak_data_of_package(&dpkg_files("espeak-ng-data")).filter(|p| has_data(p)))
}

/// `[tts] number_clips`: `""` → none; `"debian"` → the directory of `digits/1.wav` in
/// `dpkg -L asterisk-core-sounds-ru-wav` (an error when the package is not installed);
/// anything else → that directory (relative to the config file; checked when the TTS
/// starts).
fn find_number_clips(cfg: &Config) -> anyhow::Result<Option<PathBuf>> {
    match cfg.tts.number_clips.as_str() {
        "" => Ok(None),
        "debian" => number_clips_of_package(&dpkg_files(NUMBER_CLIPS_PACKAGE))
            .map(Some)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "[tts] number_clips = \"debian\": the package {NUMBER_CLIPS_PACKAGE} is not \
                     installed (apt install {NUMBER_CLIPS_PACKAGE}), or set a directory holding digits/1.wav"
                )
            }),
        dir => Ok(Some(cfg.resolve(Path::new(dir)))),
    }
}

/// Debian's package of Asterisk's Russian prompts (human voice, 8 kHz).
const NUMBER_CLIPS_PACKAGE: &str = "asterisk-core-sounds-ru-wav";

/// From a `dpkg -L` listing, the directory that holds `digits/1.wav`.
fn number_clips_of_package(listing: &str) -> Option<PathBuf> {
    listing
        .lines()
        .map(str::trim)
        .find_map(|l| l.strip_suffix("/digits/1.wav"))
        .map(PathBuf::from)
}

/// The files a Debian package installed (`dpkg -L NAME`); empty when dpkg or the package
/// is missing.
fn dpkg_files(package: &str) -> String {
    std::process::Command::new("dpkg")
        .args(["-L", package])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// From a `dpkg -L espeak-ng-data` listing, the parent of the `espeak-ng-data/` folder
/// that holds `phontab`.
fn espeak_data_of_package(listing: &str) -> Option<PathBuf> {
    listing
        .lines()
        .map(str::trim)
        .find(|l| l.ends_with("/espeak-ng-data/phontab"))
        .and_then(|l| Path::new(l).parent()?.parent().map(Path::to_path_buf))
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

/// Resolves at the first SIGTERM (systemd stop, docker stop) or SIGINT (Ctrl-C).
///
/// Errors: the signal handlers cannot be installed.
fn stop_signal() -> anyhow::Result<impl std::future::Future<Output = &'static str>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        }
    })
}

/// The TLS settings of the WSS listener (`[sip] wss_listen`) and of HTTPS (`[http]
/// tls_cert`), their certificates and keys read and checked.
///
/// Errors: a file cannot be read, holds no certificate/key, or the key is not the
/// certificate's — each naming the file and the setting.
fn load_tls(cfg: &Config) -> anyhow::Result<Tls> {
    use zvonar_sip::tls::{reloading, server_config_with};
    let mut certs = Vec::new();
    let wss = match (cfg.sip.wss_listen, cfg.wss_tls()) {
        (Some(listen), Some((cert, key))) => {
            let c = reloading(&cert, &key).context("the certificate of [sip] wss_listen")?;
            certs.push(("[sip] wss_listen", c.clone()));
            Some(zvonar_sip::ua::WssConfig {
                listen,
                tls: server_config_with(c, &[]),
            })
        }
        _ => None,
    };
    let https = match cfg.http_tls() {
        Some((cert, key)) => {
            let c = reloading(&cert, &key).context("[http] tls_cert/tls_key")?;
            certs.push(("[http]", c.clone()));
            // HTTP/1.1 only: the monitor's WebSocket upgrades an HTTP/1.1 request.
            Some(server_config_with(c, &[b"http/1.1"]))
        }
        None => None,
    };
    Ok(Tls { wss, https, certs })
}

/// What [`load_tls`] read.
struct Tls {
    wss: Option<zvonar_sip::ua::WssConfig>,
    https: Option<zvonar_sip::tls::ServerTls>,
    /// Each certificate in use, with the setting it came from, for [`watch_certificate`].
    certs: Vec<(&'static str, Arc<zvonar_sip::tls::ReloadingCert>)>,
}

/// How often certificate files are re-read; a renewed certificate is served from the next
/// handshake after that.
const CERT_RELOAD_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Re-reads `cert`'s files every [`CERT_RELOAD_EVERY`] and serves them when they changed and
/// fit together; otherwise keeps the served pair and logs why (a renewal caught halfway is
/// taken at the next look).
async fn watch_certificate(setting: &'static str, cert: Arc<zvonar_sip::tls::ReloadingCert>) {
    let mut tick = tokio::time::interval(CERT_RELOAD_EVERY);
    tick.tick().await;
    loop {
        tick.tick().await;
        let c = cert.clone();
        match tokio::task::spawn_blocking(move || c.reload_if_changed()).await {
            Ok(Ok(true)) => tracing::info!(
                setting,
                cert = %cert.files().0.display(),
                "TLS certificate changed on disk: serving the new one"
            ),
            Ok(Ok(false)) | Err(_) => {}
            Ok(Err(e)) => tracing::warn!(
                setting,
                error = %e,
                "TLS certificate not reloaded; still serving the previous one"
            ),
        }
    }
}

async fn serve(cfg: Config) -> anyhow::Result<()> {
    // Installed first, so a stop signal during start-up is a graceful stop too.
    let stop = stop_signal()?;
    // Certificates first: a missing or mismatched file stops the start at once, named.
    let Tls { wss, https, certs } = load_tls(&cfg)?;
    for (setting, cert) in certs {
        tokio::spawn(watch_certificate(setting, cert));
    }
    let dialplan = zvonar_dialplan::Dialplan::load(cfg.resolve(&cfg.dialplan))?;
    let pool = open_db(&cfg).await?;
    let registry: Arc<dyn zvonar_billing::Registry> =
        Arc::new(zvonar_billing::SqliteRegistry::new(pool.clone()));
    // The console's topic tree: the dialplan's topics grouped by [[tickets.topics]]; each
    // topic's SLA gives every ticket (the robot's too) its deadline.
    let mut dialplan_topics: Vec<(String, String)> = Vec::new();
    for flow in dialplan.flows() {
        if let zvonar_dialplan::FlowKind::DispatcherRobot(d) = &flow.kind {
            for t in &d.topics {
                if !dialplan_topics.iter().any(|(c, _)| *c == t.code) {
                    dialplan_topics.push((t.code.clone(), t.name.clone()));
                }
            }
        }
    }
    let topic_tree = cfg
        .tickets
        .topic_tree(&dialplan_topics)
        .map_err(anyhow::Error::msg)?;
    let sla = zvonar_dispatch::TicketSla {
        default_hours: cfg.tickets.sla_hours,
        default_emergency_hours: cfg.tickets.emergency_sla_hours,
        topics: topic_tree
            .iter()
            .map(|t| (t.code.clone(), (t.sla_hours, t.emergency_sla_hours)))
            .collect(),
    };
    let missed_settings = cfg
        .missed
        .settings(cfg.time_zone)
        .map_err(|(_, m)| anyhow::anyhow!(m))?;
    let sqlite_store = Arc::new(
        zvonar_dispatch::SqliteDispatchStore::new(pool.clone())
            .with_sla(sla)
            .with_missed(missed_settings),
    );
    let store: Arc<dyn zvonar_dispatch::DispatchStore> = sqlite_store.clone();
    let photos_dir = match &cfg.tickets.photos {
        Some(p) => cfg.resolve(p),
        None => cfg
            .resolve(&cfg.storage.database)
            .parent()
            .map(|d| d.join("ticket-photos"))
            .unwrap_or_else(|| PathBuf::from("ticket-photos")),
    };
    let ticket_settings = zvonar_web::TicketSettings {
        topics: topic_tree,
        departments: cfg.tickets.departments.clone(),
        photos_dir,
        photo_max_bytes: (cfg.tickets.photo_max_mib as usize) << 20,
        time_zone: cfg.time_zone,
        registry: Some(registry.clone()),
    };
    // The rating robot's settings are checked even while it is off: a bad value stops the
    // start, naming it.
    let rating_robot = cfg
        .rating
        .robot(
            cfg.time_zone,
            ticket_settings
                .topics
                .iter()
                .map(|t| (t.code.clone(), t.name.clone()))
                .collect(),
            &cfg.tickets.departments,
        )
        .map_err(|(_, m)| anyhow::anyhow!(m))?;
    let operations = zvonar_web::Operations {
        registry: registry.clone(),
        outages: Arc::new(zvonar_billing::SqliteRegistry::new(pool.clone())),
        missed: sqlite_store.clone(),
        history: sqlite_store.clone(),
        time_zone: cfg.time_zone,
    };

    let mut asr_cfg = zvonar_voice::asr::AsrConfig::new(cfg.resolve(&cfg.asr.model));
    asr_cfg.workers = cfg.asr.workers;
    asr_cfg.threads_per_worker = cfg.asr.threads;
    asr_cfg.max_queue = cfg.asr.max_queue;
    asr_cfg.numbers = cfg.asr.number_decoding.decoding();
    asr_cfg.early_ms = cfg.asr.early_ms;
    if cfg.asr.audio_ctx == "full" {
        asr_cfg.audio_ctx = zvonar_voice::asr::AudioCtx::Full;
    }
    let asr = zvonar_voice::asr::Asr::start(asr_cfg)?;
    let tts = zvonar_voice::tts::Tts::start(zvonar_voice::tts::TtsConfig {
        russian: cfg.tts.engine.into(),
        festival: zvonar_voice::festival::FestivalConfig {
            voice: cfg.tts.festival_voice.clone(),
            ..Default::default()
        },
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
        espeak_data_parent: find_espeak_data(&cfg)?,
        espeak_rate_wpm: cfg.tts.espeak_rate_wpm,
        cache_dir: cfg.tts.cache_dir.as_ref().map(|p| cfg.resolve(p)),
        memory_cache_bytes: usize::try_from(cfg.tts.memory_cache_mib << 20).unwrap_or(usize::MAX),
        disk_cache_bytes: cfg.tts.disk_cache_mib << 20,
        deadline_ms: cfg.tts.deadline_ms,
        max_queue: cfg.tts.max_queue,
        phrases: cfg
            .tts
            .phrases
            .parse()
            .map_err(|e| anyhow::anyhow!("[tts] {e}"))?,
        number_clips: find_number_clips(&cfg)?,
    })
    .context("starting speech synthesis ([tts] in the config)")?;
    let prompts = dialplan.spoken_prompts();
    let t0 = std::time::Instant::now();
    let ready = tts.prerender(&prompts, "ru").await;
    tracing::info!(
        ready,
        prompts = prompts.len(),
        ms = t0.elapsed().as_millis() as u64,
        "dialplan prompts synthesised"
    );

    let mut registry_metrics = prometheus_client::registry::Registry::default();
    let metrics = engine::metrics::Metrics::register(&mut registry_metrics);
    let mut events = engine::events::EventBus::default();
    let dispatch_rx = events.subscribe();
    let spool_path = spool_path(&cfg.resolve(&cfg.storage.database));
    let spool = zvonar_dispatch::EventSpool::open(&spool_path)
        .with_context(|| format!("opening the event spool {}", spool_path.display()))?;
    let subscriber = tokio::spawn(zvonar_dispatch::run_subscriber(
        store.clone(),
        dispatch_rx,
        spool,
    ));

    let recordings = cfg.resolve(&cfg.storage.recordings);
    std::fs::create_dir_all(&recordings)
        .with_context(|| format!("creating {}", recordings.display()))?;
    tokio::spawn(retention::run_daily(
        store.clone(),
        Some(sqlite_store.clone()),
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
    // The operator queues: one runtime for the process when the dialplan declares any.
    let queue_rx = if shared.dialplan.queues().is_empty() {
        None
    } else {
        let (handle, rx) = engine::queue::QueueHandle::channel();
        shared.queues = Some(handle);
        Some(rx)
    };
    shared.answer_after_ms = cfg.sip.answer_after_ms;
    shared.time_zone = cfg.time_zone;
    shared.trusted_sources = cfg.sip.trusted.clone();
    // Recorded prompts are read now: a missing or unreadable file stops the start, naming
    // it, instead of leaving the robot silent at that prompt; and they play at once.
    for file in shared.dialplan.prompt_files() {
        shared
            .prompt_file(&file)
            .await
            .with_context(|| format!("dialplan prompt {{ file = {file:?} }}"))?;
    }
    shared.trunks = Arc::new(engine::trunks::Trunks::new(
        trunk_defs(&cfg).map_err(anyhow::Error::msg)?,
        std::time::Instant::now(),
    ));
    let shared = Arc::new(shared);

    let cancel = CancellationToken::new();
    let (sip, calls) =
        zvonar_sip::ua::start(
            zvonar_sip::ua::SipConfig {
                udp: cfg.sip.udp,
                tcp: cfg.sip.tcp,
                ws: cfg.sip.ws_listen,
                wss,
                // A registered browser or phone says nothing between re-REGISTERs: keep its
                // connection open a minute longer than the longest registration we grant.
                stream_idle_timeout: cfg.sip.registrar.as_ref().map(|r| {
                    std::time::Duration::from_secs(u64::from(r.max_expires_s).max(240) + 60)
                }),
                public_ip: cfg.public_ip(),
                user_agent: format!("zvonar/{}", env!("CARGO_PKG_VERSION")),
                admission: Some(Arc::new(engine::slots::SlotAdmission {
                    slots: shared.slots.clone(),
                    busy_retry_after_s: cfg.sip.busy_retry_after_s,
                    drain_retry_after_s: cfg.shutdown.retry_after_s,
                })),
                registrar: cfg
                    .sip
                    .registrar
                    .as_ref()
                    .map(|r| zvonar_sip::ua::RegistrarSetup {
                        config: r.to_config(),
                        store: Arc::new(sip_accounts::SqlCredentials(pool.clone())),
                    }),
            },
            cancel.clone(),
        )
        .await?;
    tracing::info!(udp = %cfg.sip.udp, tcp = ?cfg.sip.tcp, ws = ?sip.ws_addr, wss = ?sip.wss_addr, port = sip.udp_addr.port(), "SIP listening");
    let sip = Arc::new(sip);
    shared.set_sip(sip.clone());
    // Trunk registrations run until the stop signal, then un-REGISTER.
    let trunk_stop = CancellationToken::new();
    let trunk_tasks = shared.trunks.start_registrations(&sip, &trunk_stop);
    let queue_api = match (shared.queues.clone(), queue_rx) {
        (Some(handle), Some(rx)) => Some(
            start_queues(
                &shared,
                handle,
                rx,
                &pool,
                sip.registrar(),
                cfg.monitor
                    .settings(cfg.time_zone)
                    .map_err(|(_, m)| anyhow::anyhow!(m))?,
                cfg.sip
                    .registrar
                    .as_ref()
                    .filter(|_| sip.ws_addr.is_some() || sip.wss_addr.is_some())
                    .map(|r| queue_api::SoftphoneSettings {
                        realm: r.realm.clone(),
                        ws_port: sip.ws_addr.map(|a| a.port()),
                        wss_port: sip.wss_addr.map(|a| a.port()),
                    }),
            )
            .await?,
        ),
        _ => None,
    };
    let accepting = tokio::spawn(engine::accept(shared.clone(), calls));
    let access = Arc::new(zvonar_access::Access::new(pool.clone(), cfg.auth.clone()));
    let supervisor = match cfg.rating.qc_supervisor.trim() {
        "" => None,
        login => {
            let u = access
                .list_users()
                .await?
                .into_iter()
                .find(|u| u.login.eq_ignore_ascii_case(login) && !u.disabled)
                .ok_or_else(|| {
                    anyhow::anyhow!("rating.qc_supervisor: нет активного пользователя «{login}»")
                })?;
            let name = if u.display_name.trim().is_empty() {
                u.login.clone()
            } else {
                u.display_name.clone()
            };
            Some((u.id, name))
        }
    };
    let ratings = Arc::new(zvonar_dispatch::rating::Ratings::new(
        (*sqlite_store).clone(),
        cfg.rating.qc_policy(supervisor),
    ));
    let campaigns = engine::campaign::Campaigns::start_with_rating(
        shared.clone(),
        pool.clone(),
        Some(engine::rating::RatingContext {
            ratings: ratings.clone(),
            access: Some(access.clone()),
        }),
    )
    .await
    .context("loading the outbound campaigns")?;
    let rating_stop = CancellationToken::new();
    if cfg.rating.enabled {
        tracing::info!(time = %cfg.rating.time, "rating robot on");
        engine::rating::spawn_scheduler(
            campaigns.clone(),
            ratings.clone(),
            pool.clone(),
            rating_robot,
            rating_stop.clone(),
        );
    }
    let duty =
        engine::duty::DutyRunner::start(shared.clone(), sqlite_store.clone(), cfg.duty.clone())
            .await
            .context("loading the emergency escalations")?;

    let mut checks: Vec<Arc<dyn zvonar_web::HealthCheck>> = vec![
        Arc::new(health::AsrHealth(shared.asr.clone())),
        Arc::new(health::TtsHealth::new(
            shared.tts.clone(),
            std::time::Duration::from_secs(30),
        )),
        Arc::new(health::DbHealth(pool.clone())),
        Arc::new(health::DiskHealth::new(
            recordings.clone(),
            cfg.health.min_free_disk_mib << 20,
        )),
    ];
    if !shared.trunks.is_empty() {
        checks.push(Arc::new(health::TrunksHealth(shared.trunks.clone())));
    }
    let web = zvonar_web::AppState::new(
        store,
        cfg.http.token.clone(),
        recordings,
        Arc::new(registry_metrics),
    )
    .with_health(checks)
    .with_operations(operations)
    // Plain-HTTP cookies only for a loopback (development) listener without TLS.
    .with_access(access, cfg.secure_cookies())
    .with_console(cfg.console_dir())
    .with_duty(zvonar_web::Duty {
        store: sqlite_store.clone(),
        control: Some(Arc::new(engine::duty::DutyApi(duty))),
    })
    .with_ticket_workflow(sqlite_store, ticket_settings)
    .with_ratings(ratings);
    match cfg.console_dir() {
        Some(d) => tracing::info!(dir = %d.display(), "operators' console at /console/"),
        None => tracing::warn!("no console files ([http] console_dir): serving the API only"),
    }
    let web = match queue_api {
        Some(q) => web.with_queues(q),
        None => web,
    };
    let web = web
        .with_campaigns(Arc::new(engine::campaign::CampaignApi(campaigns)))
        .with_campaign_templates(Arc::new(zvonar_billing::MessageTemplates::new(
            pool.clone(),
        )));
    let listener = tokio::net::TcpListener::bind(cfg.http.listen)
        .await
        .with_context(|| format!("HTTP listen on {}", cfg.http.listen))?;
    tracing::info!(addr = %cfg.http.listen, tls = https.is_some(), "HTTP API listening");
    let mut server = tokio::spawn(axum_serve(listener, https, web));
    tokio::select! {
        r = &mut server => return r.context("HTTP server task")?,
        signal = stop => tracing::info!(signal, "stopping"),
    }
    // Trunks are told at once that we take no calls (REGISTER Expires: 0) while the calls in
    // progress drain.
    trunk_stop.cancel();
    rating_stop.cancel();
    let unregistered = async {
        for t in trunk_tasks {
            let limit = zvonar_sip::trunk::UNREGISTER_TIMEOUT + std::time::Duration::from_secs(1);
            let _ = tokio::time::timeout(limit, t).await;
        }
    };
    tokio::join!(
        graceful_stop(&cfg.shutdown, &sip, shared, accepting, subscriber),
        unregistered
    );
    cancel.cancel();
    server.abort();
    Ok(())
}

/// The engine's view of `[[trunk]]`: settings with each password read (`password_file`,
/// `password_env`). Errors: the message naming the trunk whose password cannot be read.
fn trunk_defs(cfg: &Config) -> Result<Vec<engine::trunks::TrunkDef>, String> {
    cfg.trunk
        .iter()
        .map(|t| {
            Ok(engine::trunks::TrunkDef {
                name: t.name.clone(),
                priority: t.priority,
                channels: t.channels,
                register: t.register,
                registrar: t.registrar.trim().to_string(),
                host: t.registrar_host().to_string(),
                outbound_proxy: t
                    .outbound_proxy
                    .as_deref()
                    .and_then(config::proxy_host_port),
                username: t.username.clone(),
                auth_username: t.auth_username.clone(),
                password: t.secret(&cfg.base_dir)?,
                caller_id: t.caller_id().to_string(),
                tcp: t.transport == config::TrunkTransport::Tcp,
                expires_s: t.expires_s,
            })
        })
        .collect()
}

/// Starts the queue runtime (its state restored from the database), the watcher of the
/// agents' phone registrations, and returns the API's view of them.
async fn start_queues(
    shared: &Arc<engine::Shared>,
    handle: engine::queue::QueueHandle,
    rx: tokio::sync::mpsc::UnboundedReceiver<engine::queue::Msg>,
    pool: &sqlx::SqlitePool,
    registrar: Option<zvonar_sip::ua::SharedRegistrar>,
    monitor: engine::queue::monitor::MonitorSettings,
    softphone: Option<queue_api::SoftphoneSettings>,
) -> anyhow::Result<Arc<dyn zvonar_web::QueueControl>> {
    use engine::queue::{self, store::QueueStore};
    let store = QueueStore::new(pool.clone());
    let now = queue::now_ms();
    let lost = store.forget_live_calls(now).await?;
    let configs = shared.dialplan.queues().to_vec();
    let acd = match store.load().await? {
        Some(acd) => {
            tracing::info!(lost_calls = lost, "queue state restored");
            acd
        }
        None => zvonar_acd::Acd::new(configs.clone(), zvonar_acd::AcdSettings::default()),
    };
    // Agents' phones are rung over outgoing SIP legs (the B2BUA), bridged on answer.
    let lines = Box::new(queue::sip_lines::SipLines::new(shared, handle.clone()));
    let core = queue::QueueCore::new(acd, configs, lines, now);
    tokio::spawn(queue::run(
        core,
        rx,
        store.clone(),
        handle.change_notifier(),
    ));
    let regs = queue::endpoints::Registrations::new(pool.clone(), registrar);
    tokio::spawn(queue::endpoints::watch(handle.clone(), regs.clone()));
    Ok(Arc::new(queue_api::EngineQueues {
        handle,
        regs,
        store,
        monitor,
        log: Default::default(),
        softphone,
    }))
}

/// The stop sequence after SIGTERM/SIGINT (see [`config::ShutdownSection`]): refuse new
/// calls with 503 + Retry-After, let running calls end for up to `drain_s`, hang up the rest
/// (BYE), wait for their recordings and final events, then let the call-event subscriber
/// write everything still queued.
async fn graceful_stop(
    settings: &config::ShutdownSection,
    sip: &zvonar_sip::ua::SipServer,
    shared: Arc<engine::Shared>,
    accepting: tokio::task::JoinHandle<()>,
    subscriber: tokio::task::JoinHandle<zvonar_dispatch::SubscriberStats>,
) {
    use std::time::Duration;
    sip.refuse_new_calls(settings.retry_after_s);
    shared.slots.drain();
    tracing::info!(
        active_calls = shared.slots.active(),
        drain_s = settings.drain_s,
        "refusing new calls; waiting for calls in progress"
    );
    let drain = Duration::from_secs(settings.drain_s);
    if tokio::time::timeout(drain, shared.slots.idle())
        .await
        .is_err()
    {
        tracing::warn!(
            active_calls = shared.slots.active(),
            "drain time over: hanging up the remaining calls"
        );
        shared.shutdown.cancel();
        // BYE (answered within 32 s, RFC 3261 timer F), then the recording is closed.
        if tokio::time::timeout(Duration::from_secs(40), shared.slots.idle())
            .await
            .is_err()
        {
            tracing::error!(
                active_calls = shared.slots.active(),
                "calls still running after BYE; their events may be incomplete"
            );
        }
    }
    // No call publishes any more: dropping the engine's state closes the event bus, and
    // the subscriber ends once it has written the events still queued.
    accepting.abort();
    let _ = accepting.await;
    drop(shared);
    match tokio::time::timeout(Duration::from_secs(60), subscriber).await {
        Ok(Ok(stats)) => tracing::info!(
            recorded = stats.recorded,
            failed = stats.failed,
            "call events flushed; stopped"
        ),
        Ok(Err(e)) => tracing::error!(error = %e, "call-event subscriber failed"),
        Err(_) => tracing::error!("call-event subscriber did not finish within 60 s"),
    }
}

async fn axum_serve(
    listener: tokio::net::TcpListener,
    tls: Option<zvonar_sip::tls::ServerTls>,
    state: zvonar_web::AppState,
) -> anyhow::Result<()> {
    match tls {
        Some(tls) => zvonar_web::serve_tls(listener, tls, state).await?,
        None => zvonar_web::serve(listener, state).await?,
    }
    Ok(())
}

#[cfg(test)]
mod espeak_data_tests {
    use super::*;

    #[test]
    fn data_dir_comes_from_the_package_listing() {
        let listing = "/.\n/usr/lib/x86_64-linux-gnu/espeak-ng-data\n\
                       /usr/lib/x86_64-linux-gnu/espeak-ng-data/phontab\n\
                       /usr/lib/x86_64-linux-gnu/espeak-ng-data/ru_dict\n";
        assert_eq!(
            espeak_data_of_package(listing),
            Some(PathBuf::from("/usr/lib/x86_64-linux-gnu"))
        );
        assert_eq!(espeak_data_of_package(""), None);
    }

    #[test]
    fn a_configured_dir_without_data_is_an_error_naming_it() {
        let dir = std::env::temp_dir().join(format!("zvonar-espeak-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cfg_path = dir.join("zvonar.toml");
        let example = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/zvonar.toml"),
        )
        .unwrap();
        let text = example.replace("[tts]\n", "[tts]\nespeak_data = \"nowhere\"\n");
        std::fs::write(&cfg_path, text).unwrap();
        let cfg = Config::load(&cfg_path).unwrap();
        let err = find_espeak_data(&cfg).unwrap_err().to_string();
        assert!(
            err.contains("espeak_data") && err.contains("nowhere"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_example_config_finds_debians_espeak_data() {
        let cfg = Config::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/zvonar.toml"))
            .unwrap();
        let found = find_espeak_data(&cfg)
            .unwrap()
            .expect("espeak-ng-data installed");
        assert!(
            found.join("espeak-ng-data/ru_dict").is_file(),
            "{}",
            found.display()
        );
    }
}

#[cfg(test)]
mod number_clips_tests {
    use super::*;

    fn config_with(tts_lines: &str, name: &str) -> (Config, PathBuf) {
        let dir = std::env::temp_dir().join(format!("zvonar-clips-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let example = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/zvonar.toml"),
        )
        .unwrap();
        let text = example
            .replace("\nnumber_clips = \"\"\n", "\n")
            .replace("\nphrases = \"whole\"\n", "\n")
            .replace("[tts]\n", &format!("[tts]\n{tts_lines}\n"));
        let path = dir.join("zvonar.toml");
        std::fs::write(&path, text).unwrap();
        (Config::load(&path).unwrap(), dir)
    }

    #[test]
    fn the_clip_directory_comes_from_the_package_listing() {
        let listing = "/.\n/usr/share/asterisk/sounds/ru_RU_f_IvrvoiceRU/digits\n\
                       /usr/share/asterisk/sounds/ru_RU_f_IvrvoiceRU/digits/0.wav\n\
                       /usr/share/asterisk/sounds/ru_RU_f_IvrvoiceRU/digits/1.wav\n";
        assert_eq!(
            number_clips_of_package(listing),
            Some(PathBuf::from(
                "/usr/share/asterisk/sounds/ru_RU_f_IvrvoiceRU"
            ))
        );
        assert_eq!(number_clips_of_package(""), None);
    }

    #[test]
    fn number_clips_setting_off_debian_or_a_directory() {
        let (cfg, dir) = config_with("number_clips = \"\"", "off");
        assert_eq!(find_number_clips(&cfg).unwrap(), None);
        let (cfg, _) = config_with("number_clips = \"my-sounds\"", "dir");
        assert_eq!(
            find_number_clips(&cfg).unwrap(),
            Some(cfg.resolve(Path::new("my-sounds")))
        );
        // Debian's package is installed on the development and test machines.
        let (cfg, _) = config_with("number_clips = \"debian\"", "debian");
        let found = find_number_clips(&cfg).unwrap().expect("a directory");
        assert!(found.join("digits/1.wav").is_file(), "{}", found.display());
        // A directory without clips stops the start with the file named.
        let (cfg, _) = config_with("number_clips = \"nowhere\"", "bad");
        let err = zvonar_voice::phrase::Phrasing::new(
            zvonar_voice::phrase::PhraseMode::Whole,
            find_number_clips(&cfg).unwrap().as_deref(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("nowhere/digits/1.wav"), "{err}");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn phrases_setting_is_checked() {
        let (cfg, _) = config_with("phrases = \"pieces\"", "pieces");
        assert_eq!(
            cfg.tts.phrases.parse::<zvonar_voice::phrase::PhraseMode>(),
            Ok(zvonar_voice::phrase::PhraseMode::Pieces)
        );
        let (cfg, _) = config_with("phrases = \"sometimes\"", "badmode");
        assert!(cfg
            .tts
            .phrases
            .parse::<zvonar_voice::phrase::PhraseMode>()
            .is_err());
    }
}
