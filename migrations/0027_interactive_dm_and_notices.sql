-- Interactive answers' leftovers (issue #16): the DM's answers go through the same queue, and
-- a job's notices are claimed before they are posted.
--
-- writing_status: a DM answer: the worker shows "is writing…" (assistant.threads.setStatus)
--                 in its thread when it starts writing, as the app did before.
ALTER TABLE interactive_answers ADD COLUMN writing_status boolean NOT NULL DEFAULT false;

-- The "version deleted" notice of a request that went with its version (the cascade of
-- interactive_answers): claimed here before it is posted, so a job run again (its worker died
-- right after posting) posts it at most once. Ids only, nothing of the workspace's content:
-- the rows outlive the purge that caused them.
CREATE TABLE interactive_gone_notices (
    team_id    text NOT NULL,
    request_id bigint NOT NULL,
    noticed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (team_id, request_id)
);
