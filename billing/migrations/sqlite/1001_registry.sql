-- Housing registry: buildings, premises, personal accounts (ЛС), residents and their phones,
-- outages. Owned by zvonar-billing; dispatch migrations are numbered 2xxx.

CREATE TABLE buildings (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    -- Display address, e.g. «улица Ленина, дом 5».
    address TEXT NOT NULL,
    -- Street as written in the registry, whitespace collapsed.
    street  TEXT NOT NULL,
    -- House number, lowercase without spaces: «5», «12к1», «7/2».
    house   TEXT NOT NULL,
    fias_id TEXT UNIQUE,
    UNIQUE (street, house)
);

CREATE TABLE premises (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    building_id INTEGER NOT NULL REFERENCES buildings (id) ON DELETE CASCADE,
    -- Normalised apartment: lowercase, no spaces or hyphens, Latin look-alikes mapped to Cyrillic («12а»).
    apartment   TEXT NOT NULL,
    entrance    INTEGER,
    floor       INTEGER,
    riser       TEXT,
    UNIQUE (building_id, apartment)
);

CREATE TABLE accounts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    number      TEXT NOT NULL UNIQUE,
    premises_id INTEGER NOT NULL REFERENCES premises (id),
    holder_name TEXT
);
CREATE INDEX accounts_premises ON accounts (premises_id);

CREATE TABLE residents (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    -- Empty when the registry gave phones but no name.
    full_name  TEXT NOT NULL,
    UNIQUE (account_id, full_name)
);

CREATE TABLE resident_phones (
    resident_id INTEGER NOT NULL REFERENCES residents (id) ON DELETE CASCADE,
    account_id  INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    -- E.164, e.g. +79161234567.
    phone       TEXT NOT NULL,
    UNIQUE (phone, account_id)
);
CREATE INDEX resident_phones_phone ON resident_phones (phone);

CREATE TABLE outages (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    building_id INTEGER NOT NULL REFERENCES buildings (id) ON DELETE CASCADE,
    -- What is off, in the genitive as it is spoken: «горячей воды», «электроэнергии».
    kind        TEXT NOT NULL,
    -- UTC timestamps (RFC 3339 text as sqlx writes them).
    starts_at   TEXT NOT NULL,
    ends_at     TEXT,
    reason      TEXT,
    UNIQUE (building_id, kind, starts_at)
);
CREATE INDEX outages_building ON outages (building_id, starts_at);
