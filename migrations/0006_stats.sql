-- Indexes for /bot stats, the App Home and exports, and a cache for the A/B leaderboard.
-- (A profile's results in a period are served by test_results_version_idx, which is
-- (team_id, profile_version_id, created_at).)

-- The Home tab's "last 10 tests" and the workspace-wide export read the newest rows of a team.
CREATE INDEX test_results_team_recent_idx ON test_results (team_id, kind, created_at DESC);
CREATE INDEX test_results_team_created_idx ON test_results (team_id, created_at);

-- The Home tab's open and recent A/B tests, and the A/B record of closed tests in a period.
CREATE INDEX ab_tests_recent_idx ON ab_tests (team_id, started_at DESC);
CREATE INDEX ab_tests_closed_idx ON ab_tests (team_id, closed_at) WHERE status = 'closed';

-- Votes of a workspace in a period, for the export.
CREATE INDEX ab_votes_team_time_idx ON ab_votes (team_id, voted_at);

-- The leaderboard's bootstrap costs from a quarter of a second to seconds as versions pile up,
-- too slow to redo every time someone opens the Home tab. Kept with a fingerprint of the votes
-- it was fitted on (their count and latest change), so it is recomputed only when votes change.
CREATE TABLE leaderboard_cache (
    team_id     text PRIMARY KEY REFERENCES workspaces (team_id) ON DELETE CASCADE,
    fingerprint text NOT NULL,
    ranked      jsonb NOT NULL,
    computed_at timestamptz NOT NULL DEFAULT now()
);
