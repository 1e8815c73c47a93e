//! zvonar billing: the housing registry (buildings, premises, personal accounts — ЛС —,
//! residents and their phones, outages) and its import from registry files.
//!
//! Outages registered in the console: [`OutageBoard`].
//!
//! Debt per account comes from the billing system's export ([`import_debts`]). Campaign
//! recipients are selected from the registry by [`select_recipients`].
//!
//! Later: meters and readings, tariffs, accruals, payments.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use zvonar_billing::{open_sqlite, migrate, import_accounts, Registry, SqliteRegistry};
//! use zvonar_models::PhoneNumber;
//!
//! let pool = open_sqlite("/var/lib/zvonar/zvonar.db").await?;
//! migrate(&pool).await?;
//! let report = import_accounts(&pool, "registry.csv").await?;
//! for e in &report.errors {
//!     eprintln!("line {}: {}", e.line, e.reason);
//! }
//! let registry: Arc<dyn Registry> = Arc::new(SqliteRegistry::new(pool));
//! let known = registry.find_by_phone(&PhoneNumber::parse_ru("89161234567")?).await?;
//! # Ok(()) }
//! ```

mod db;
mod directory;
pub mod import;
mod model;
mod outages;
mod recipients;
mod registry;
pub mod templates;

pub use db::{migrate, open_sqlite, MigrateError, OpenError};
pub use directory::{BuildingDirectory, RegistrySnapshot};
pub use import::{
    import_accounts, import_all_debts, import_debts, import_outages, DebtImportReport, ImportError,
    ImportReport, OutageImportReport, RowError,
};
pub use model::{
    clean_street, format_rubles, normalize_apartment, AccountDebt, Building, KnownPremises,
    NewOutage, Outage,
};
pub use outages::{
    NewNotice, NoticeBuilding, NoticeChange, NoticeError, NoticeFilter, OutageBoard, OutageNotice,
    OutageScope, Resident, Resource,
};
pub use recipients::{
    record_invalid_number, record_opt_out, select_recipients, set_consent, DebtFilter,
    RecipientFilter, SelectedRecipient,
};
pub use registry::{AddOutageError, Registry, RegistryError, SqliteRegistry};
pub use templates::{MessageTemplate, MessageTemplates, TemplateInput, TemplateStoreError};
