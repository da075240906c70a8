-- 駐車場: a space's photo (issue 17). The bytes live in the attachment store under their
-- SHA-256 (so backups carry them), stripped of metadata as every photo there is; `photo`
-- now holds that SHA-256 in hex, and these columns what is served with it. The column held
-- an attachment id before, which nothing ever set.
UPDATE parking_spaces SET photo = NULL;
ALTER TABLE parking_spaces ADD COLUMN photo_mime TEXT;
ALTER TABLE parking_spaces ADD COLUMN photo_width BIGINT;
ALTER TABLE parking_spaces ADD COLUMN photo_height BIGINT;
