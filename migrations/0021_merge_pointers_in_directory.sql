-- Merge pointers live in the profile directory alone: a merged loser's row keeps merged_into (it was
-- always written with the merge record, in the same batch), and insights follow that instead of
-- profile_merges (src/insights/load.ts). The ingest consumer no longer writes profile_merges: a
-- merge cost its 2 rows there (the row and the survivor index) for a history nothing in D1 read
-- (the Profile API reads each survivor's merged_from). The table stays for what a pre-0021
-- isolate writes during a deploy; regulations still erase from it (src/privacy/erase.ts).
-- Every recorded loser gets its pointer once, should its directory row have missed it.
UPDATE profile_directory
SET merged_into = (SELECT survivor FROM profile_merges m WHERE m.loser = profile_directory.id)
WHERE merged_into IS NULL AND id IN (SELECT loser FROM profile_merges);
INSERT INTO profile_directory (id, collection, version, merged_into, identifiers, traits, search, event_count, created_at, updated_at)
SELECT loser, CASE WHEN substr(loser, 1, 4) = 'acc_' THEN 'accounts' ELSE 'users' END, 0, survivor, '[]', '{}', lower(loser), 0,
  merged_at, merged_at
FROM profile_merges WHERE loser NOT IN (SELECT id FROM profile_directory);
