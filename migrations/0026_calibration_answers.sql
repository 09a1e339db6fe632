-- A calibration cell's answer, kept between answering and judging: a cell whose trait judge
-- answered 429 goes back to the queue, and its retry judges this answer instead of answering
-- again (a new answer would be a different sample, and would cost a second answer call).
-- The row goes in the same statement that stores the cell (storage/calibration_runs.py).
CREATE TABLE calibration_answers (
    team_id      text NOT NULL,
    run_id       bigint NOT NULL,
    trait        text NOT NULL,
    level        integer NOT NULL,
    question_idx integer NOT NULL,
    sample       integer NOT NULL,
    answer       text NOT NULL,
    cut_off      boolean NOT NULL,
    answered_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (team_id, run_id, trait, level, question_idx, sample),
    FOREIGN KEY (team_id, run_id) REFERENCES calibration_runs (team_id, id) ON DELETE CASCADE
);
