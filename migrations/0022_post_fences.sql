-- The edges of issue #16 left open: a thread post whose claim lapsed where the thread cannot be
-- read, and a run whose reporting job failed for good. (Assigned number 0024: renumbered at
-- landing.)
--
-- A lapsed claim whose thread the app cannot read is neither posted nor known to be posted: it
-- is marked, so the run's progress and summary can say how many posts could not be confirmed.
ALTER TABLE test_results ADD COLUMN post_unconfirmed boolean NOT NULL DEFAULT false;

-- The reason the run's summary could not be written (its reporting job failed on every try),
-- shown on the parent next to Resume; cleared when the run is resumed.
ALTER TABLE scenario_runs ADD COLUMN report_failure text;
