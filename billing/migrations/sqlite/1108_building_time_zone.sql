-- The IANA time zone of a building (e.g. `Asia/Vladivostok`), from the accounts registry's
-- `часовой пояс`/`time_zone` column; NULL: the company's `time_zone` from zvonar.toml. Outbound
-- campaigns evaluate the 230-ФЗ call windows and the limits' calendar periods of a resident in
-- the zone of their building. Numbered 1108 to leave room for other registry migrations.
ALTER TABLE buildings ADD COLUMN time_zone TEXT;
