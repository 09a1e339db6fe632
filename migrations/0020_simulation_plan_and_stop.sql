-- A simulation run's live plan and its Stop (issue #19), as scenario runs have them (0015):
-- `plan_mode` / `plan_ts` / `plan_sent` as on scenario_runs (one streamed message in the
-- run's thread, one task per conversation; 'edit' falls back to editing the parent);
-- `progress_at`: the once-a-second progress claim shared by every process; `stopped_by`: who
-- pressed Stop (the run is then 'stopped': its queued jobs were deleted, no summary follows).
ALTER TABLE simulation_runs DROP CONSTRAINT simulation_runs_status_check;
ALTER TABLE simulation_runs
    ADD CONSTRAINT simulation_runs_status_check
        CHECK (status IN ('running', 'completed', 'stopped')),
    ADD COLUMN stopped_by  text,
    ADD COLUMN progress_at timestamptz,
    ADD COLUMN plan_ts     text,
    ADD COLUMN plan_mode   text CHECK (plan_mode IN ('stream', 'edit', 'closed')),
    ADD COLUMN plan_sent   jsonb NOT NULL DEFAULT '{}'::jsonb;
