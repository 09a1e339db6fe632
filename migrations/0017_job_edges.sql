-- The edges of scenario jobs killed half-way (issue #16).
--
-- A thread post is claimed (`posted_at`) before it is sent and its message ts is recorded once
-- Slack took it: a claim without a ts is a post whose worker died before or after Slack took it.
-- The retry looks for the message in the thread by its metadata before posting again.
ALTER TABLE test_results ADD COLUMN posted_ts text;
-- posts made before this migration went out (their ts was not kept)
UPDATE test_results SET posted_ts = '' WHERE posted_at IS NOT NULL;

-- The run's summary is claimed by one job (`reported_at`, `reporter` = its message's key) and
-- `summary_at` is set once it shows: a retry of the reporting job (its worker died between
-- storing the totals and editing the parent) claims the report again and shows it.
ALTER TABLE scenario_runs
    ADD COLUMN reporter text,
    ADD COLUMN summary_at timestamptz;
UPDATE scenario_runs SET summary_at = reported_at WHERE reported_at IS NOT NULL;
