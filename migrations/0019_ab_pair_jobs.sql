-- A/B pairs as durable jobs (one per pair, on PgQueuer): any process's worker writes a pair, a
-- killed worker's pair is written by another, and the test opens for voting once, from whichever
-- job finishes its last pair.
--
-- post_claimed_at: the pair's thread message (or its failure note) is claimed here before it is
--                  posted, so a retried job never posts it twice; a claim without a message_ts
--                  whose job ran again means the post may have been lost: the pair fails visibly.
-- done_at:         the pair's job is through with it (posted, or failed with its reason); the
--                  test opens (or fails) when every pair is done.
ALTER TABLE ab_messages
    ADD COLUMN post_claimed_at timestamptz,
    ADD COLUMN done_at timestamptz;
-- pairs written before the queue were finished by the process that wrote them
UPDATE ab_messages m SET done_at = t.started_at, post_claimed_at = t.started_at
FROM ab_tests t
WHERE t.team_id = m.team_id AND t.id = m.ab_test_id AND t.status <> 'answering';

-- progress edits of the parent, claimed so all processes together edit it about once a second
ALTER TABLE ab_tests ADD COLUMN progress_at timestamptz;
