-- Premises changes bump the registry version too: the engine caches each building's apartment
-- list (to check an apartment a caller names against the registry) with the building list and
-- re-reads it when this number has changed.
CREATE TRIGGER premises_version_insert AFTER INSERT ON premises
BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER premises_version_update AFTER UPDATE ON premises
BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER premises_version_delete AFTER DELETE ON premises
BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END;
