-- A scenario run answers each of its messages once.
--
-- Resuming a run whose heartbeat was late (its process slow, not dead) answered everything a
-- second time while the original went on. Now the resumer takes the run over: every take-over
-- counts `attempt` up, and each write of a run (its results, heartbeat, finish) names the attempt
-- it belongs to, so the original's writes stop. A unique index on a run's (scenario, position)
-- backs it; the duplicates earlier resumes left are removed first.

ALTER TABLE scenario_runs ADD COLUMN attempt integer NOT NULL DEFAULT 1;

-- Of each message's results keep the best: answered before failed, analysed before not, then
-- the first.
CREATE TEMP TABLE duplicate_run_results ON COMMIT DROP AS
SELECT id, team_id, keep_id
FROM (
    SELECT id, team_id,
           first_value(id) OVER w AS keep_id,
           row_number() OVER w AS n
    FROM test_results
    WHERE run_id IS NOT NULL
    WINDOW w AS (
        PARTITION BY team_id, run_id, scenario_id, position
        ORDER BY (error_kind IS NULL) DESC, (analysis IS NOT NULL) DESC, id
    )
) ranked
WHERE n > 1;

-- a rating given to a removed duplicate moves to the kept result, unless that person rated it too
INSERT INTO result_feedback (team_id, result_id, user_id, rating, updated_at)
SELECT f.team_id, d.keep_id, f.user_id, f.rating, f.updated_at
FROM result_feedback f
JOIN duplicate_run_results d ON d.team_id = f.team_id AND d.id = f.result_id
ON CONFLICT (team_id, result_id, user_id) DO NOTHING;

DELETE FROM test_results t
USING duplicate_run_results d
WHERE t.team_id = d.team_id AND t.id = d.id;

DROP INDEX test_results_run_idx;
CREATE UNIQUE INDEX test_results_run_item_key
    ON test_results (team_id, run_id, scenario_id, position)
    WHERE run_id IS NOT NULL;
