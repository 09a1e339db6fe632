-- A Stop for calibration sweeps (issue #16), as simulation runs have one (0020): `stopped_by`
-- names who pressed it. A 'stopped' sweep had its queued cell jobs deleted in the same
-- transaction; cells being answered then finish and are stored, but it is never reported (its
-- figures would miss settings, and a kept calibration is what the next one is compared with).
ALTER TABLE calibration_runs DROP CONSTRAINT calibration_runs_status_check;
ALTER TABLE calibration_runs
    ADD CONSTRAINT calibration_runs_status_check
        CHECK (status IN ('running', 'completed', 'failed', 'stopped')),
    ADD COLUMN stopped_by text;
