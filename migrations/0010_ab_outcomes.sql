-- A/B tests end in a state a person can act on, and their verdict is stored as a value.
--
-- failed: the test could not go on (Slack refused its first message, no pair could be posted),
--         with the reason; interrupted: its process stopped while writing the replies (marked at
--         shutdown, or by the sweep once its heartbeat is stale); cancelled: ended by its
--         starter or an editor without a verdict.
ALTER TABLE ab_tests DROP CONSTRAINT ab_tests_status_check;
ALTER TABLE ab_tests ADD CONSTRAINT ab_tests_status_check
    CHECK (status IN ('answering', 'open', 'closed', 'failed', 'interrupted', 'cancelled'));
ALTER TABLE ab_tests ADD COLUMN failure_reason text;
-- beaten while answering; a test left "answering" by a process that died is found by its age
-- (tests from before this migration have none and are judged by started_at)
ALTER TABLE ab_tests ADD COLUMN heartbeat_at timestamptz;
ALTER TABLE ab_tests ALTER COLUMN heartbeat_at SET DEFAULT now();
CREATE INDEX ab_tests_answering_idx ON ab_tests (heartbeat_at) WHERE status = 'answering';

-- The verdict as a code; its wording is built from the code, so rewording it never changes
-- which tests count as won or lost.
ALTER TABLE ab_tests ADD COLUMN verdict_code text
    CHECK (verdict_code IN ('a_preferred', 'b_preferred', 'undecided', 'no_decisive_votes'));
UPDATE ab_tests
SET verdict_code = CASE
    WHEN verdict #>> '{per_person,recommendation}' = 'A is preferred' THEN 'a_preferred'
    WHEN verdict #>> '{per_person,recommendation}' = 'B is preferred' THEN 'b_preferred'
    WHEN verdict #>> '{per_person,decisive}' = '0' THEN 'no_decisive_votes'
    ELSE 'undecided'
END
WHERE verdict IS NOT NULL;

-- A pair that could not be answered or posted says why, and takes no votes.
ALTER TABLE ab_messages ADD COLUMN failure text;

-- A/B answers of tests still answering or open for votes are kept out of stats and exports
-- until voting ends; they are found by their thread (the test's parent message).
CREATE INDEX ab_tests_running_thread_idx ON ab_tests (team_id, channel_id, parent_ts)
    WHERE status IN ('answering', 'open');
