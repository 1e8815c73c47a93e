-- Outages registered by dispatchers in the console (zvonar_billing::OutageBoard): one notice
-- covers the buildings chosen (or a whole street) and has one `outages` row per building,
-- which is what calls read. Rows written without a notice (the `zvonar import outages` CLI)
-- get a notice of their own from the trigger below. Numbered 1091 so that other billing
-- migrations of this release keep lower numbers.
CREATE TABLE outage_notices (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    -- Resource code (cold_water, hot_water, heating, electricity, gas, lift, sewerage);
    -- NULL for imported outages, which name only the spoken kind.
    resource   TEXT,
    -- What is off, in the genitive as spoken: «горячей воды».
    kind       TEXT NOT NULL,
    -- The street when registered for a whole street.
    street     TEXT,
    created_at TEXT NOT NULL,
    -- Login of the dispatcher, or `import`.
    created_by TEXT NOT NULL,
    closed_at  TEXT,
    closed_by  TEXT
);

ALTER TABLE outages ADD COLUMN notice_id INTEGER REFERENCES outage_notices (id);
CREATE INDEX outages_notice ON outages (notice_id);

-- Outages imported before this migration: one notice each, with the outage's id.
INSERT INTO outage_notices (id, resource, kind, street, created_at, created_by)
SELECT id, NULL, kind, NULL, starts_at, 'import' FROM outages;
UPDATE outages SET notice_id = id WHERE notice_id IS NULL;

CREATE TRIGGER outages_notice_for_import AFTER INSERT ON outages WHEN NEW.notice_id IS NULL
BEGIN
    INSERT INTO outage_notices (resource, kind, street, created_at, created_by)
    VALUES (NULL, NEW.kind, NULL, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), 'import');
    UPDATE outages SET notice_id = last_insert_rowid() WHERE id = NEW.id;
END;

-- The caller's card lists each account's residents with their phones.
CREATE INDEX resident_phones_resident ON resident_phones (resident_id);
