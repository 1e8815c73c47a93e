-- Debt per personal account (ЛС) from the billing system's export (`zvonar import debts FILE`):
-- one row per account, replaced by each import of figures as of the same or a later date.
-- Read by campaign recipient selection (debtors by amount and months owed).
CREATE TABLE account_debts (
    account_id      INTEGER PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    -- Balance owed, kopecks; <= 0 means nothing is owed (an overpayment is negative).
    balance_kopecks INTEGER NOT NULL,
    -- First day of the oldest unpaid month, YYYY-MM-DD; NULL when the file gave none.
    oldest_unpaid   TEXT,
    -- The date the figures are for, YYYY-MM-DD.
    as_of           TEXT NOT NULL,
    -- Calendar months from oldest_unpaid to as_of (August unpaid as of 30 November → 3);
    -- 0 when oldest_unpaid is NULL.
    months_owed     INTEGER NOT NULL,
    -- When this row was written (UTC, RFC 3339).
    imported_at     TEXT NOT NULL
);
CREATE INDEX account_debts_debtors ON account_debts (balance_kopecks, months_owed);
