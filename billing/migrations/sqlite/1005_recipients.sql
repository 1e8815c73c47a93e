-- What outbound campaigns select recipients by and must honour.
--
-- Buildings get the managing organisation (управляющая организация) and the district (район)
-- from the accounts registry (`организация`, `район` columns), NULL when not given.
ALTER TABLE buildings ADD COLUMN organisation TEXT;
ALTER TABLE buildings ADD COLUMN district TEXT;

-- Per phone (E.164): consent to automated calls and refusals, honoured by every campaign
-- (41-ФЗ, in force since 2025-09-01, see zvonar_outbound::policy: automated calls only with the
-- owner's consent; an opt-out — key 9 or through an operator — is final). A phone with no row
-- has no consent on record.
CREATE TABLE phone_consents (
    phone       TEXT PRIMARY KEY,
    -- 1: the owner consented to automated calls (the `согласие` registry column, or the API).
    consent     INTEGER NOT NULL DEFAULT 0,
    -- 1: opted out (key 9, an operator, a written request); never cleared by an import.
    opted_out   INTEGER NOT NULL DEFAULT 0,
    -- 1: found invalid (SIP 404/484/604); never called again.
    blacklisted INTEGER NOT NULL DEFAULT 0,
    -- When this row last changed (UTC, RFC 3339).
    updated_at  TEXT NOT NULL
);
