-- A scenario run's progress as one streamed message in its thread (chat.startStream with a
-- plan of one task per message), appended to by whichever process wins the run's progress
-- claim. `plan_mode`: NULL until the first progress claim decides; 'stream' while the message
-- at `plan_ts` streams; 'edit' when Slack refused the stream (or the budget was spent, or the
-- stream broke) and progress goes back to editing the parent; 'closed' once stopped (summary
-- or Stop). `plan_sent`: each task's [status, output] as last sent, so an append carries only
-- what changed whichever process sent the previous one.
ALTER TABLE scenario_runs
    ADD COLUMN plan_ts   text,
    ADD COLUMN plan_mode text CHECK (plan_mode IN ('stream', 'edit', 'closed')),
    ADD COLUMN plan_sent jsonb NOT NULL DEFAULT '{}'::jsonb;

-- chat.startStream / stopStream are Tier 2 (about 20 a minute per workspace): one budget per
-- workspace for every process (GCRA: `tat` is the theoretical arrival time of the next stream,
-- in epoch seconds). No foreign key: a budget row outlives nothing but a float.
CREATE TABLE slack_stream_budget (
    team_id text PRIMARY KEY,
    tat     double precision NOT NULL
);
