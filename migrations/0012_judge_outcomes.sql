-- How an answer ended and how its judging went, so that neither a cut-off answer nor a judge
-- that gave up passes for a complete, judged one.
-- finish_reason: as the model server reported it ('stop', 'length', ...); NULL where none came.
-- token_limit: the output limit the answer was requested with; NULL when the server took none.
-- judge_outcomes: per judge ("traits", "behaviours"), 'ok' or why it gave no verdict:
-- 'timeout', 'cut' (reply reached its budget), 'invalid' or 'unavailable'.
ALTER TABLE test_results
    ADD COLUMN finish_reason text,
    ADD COLUMN token_limit integer CHECK (token_limit > 0),
    ADD COLUMN judge_outcomes jsonb;
