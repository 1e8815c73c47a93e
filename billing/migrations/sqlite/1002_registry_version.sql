-- A counter bumped by every change to buildings or outages, by any process (imports run in
-- the `zvonar import` CLI, outages may be added through the API). The engine caches the
-- building list and the outages and re-reads them only when this number has changed.
CREATE TABLE registry_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO registry_version (id, version) VALUES (1, 0);

CREATE TRIGGER buildings_version_insert AFTER INSERT ON buildings
BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER buildings_version_update AFTER UPDATE ON buildings
BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER buildings_version_delete AFTER DELETE ON buildings
BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER outages_version_insert AFTER INSERT ON outages
BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER outages_version_update AFTER UPDATE ON outages
BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER outages_version_delete AFTER DELETE ON outages
BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END;

-- «Outages not ended yet», read by the engine for all buildings in one query.
CREATE INDEX outages_ends ON outages (ends_at);
