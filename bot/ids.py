"""Every callback_id, action_id and block_id, defined once and shared by builders and listeners."""

import re
from typing import Final

SLASH_COMMAND: Final = "/bot"

CONFIG_MODAL: Final = "profile_config"
HISTORY_MORE: Final = "history_more"
CARD_EDIT: Final = "card_edit"
CARD_HISTORY: Final = "card_history"

# block ids of the config modal's inputs; the errors map of `response_action` is keyed by these
FIELD_BOT_NAME: Final = "bot_name"
FIELD_AVATAR: Final = "avatar_emoji"
FIELD_FORMALITY: Final = "formality"
FIELD_ENTHUSIASM: Final = "enthusiasm"
FIELD_TECHNICAL_DEPTH: Final = "technical_depth"
FIELD_EMPATHY: Final = "empathy"
FIELD_STYLE: Final = "response_style"
FIELD_INSTRUCTIONS: Final = "custom_instructions"
FIELD_MODEL: Final = "model"
# each input block holds one element; its action_id is the block id plus this suffix
INPUT_SUFFIX: Final = "_input"

ANSWER_DETAILS: Final = "answer_details"
ANSWER_UP: Final = "answer_feedback_up"
ANSWER_DOWN: Final = "answer_feedback_down"
# Slack's feedback_buttons element: one action id, the clicked side in the value
ANSWER_FEEDBACK: Final = "answer_feedback"
FEEDBACK_UP: Final = "up"
FEEDBACK_DOWN: Final = "down"
DETAILS_MODAL: Final = "answer_details_modal"

SCENARIO_MODAL: Final = "scenario_form"
SCENARIO_RUN: Final = "scenario_run"
SCENARIO_RUN_ALL: Final = "scenario_run_all"
SCENARIO_NAME: Final = "scenario_name"
SCENARIO_DESCRIPTION: Final = "scenario_description"
SCENARIO_MESSAGES: Final = "scenario_messages"
SCENARIO_BEHAVIOURS: Final = "scenario_behaviours"

AB_VOTE_1: Final = "ab_vote_1"
AB_VOTE_2: Final = "ab_vote_2"
AB_VOTE_TIE: Final = "ab_vote_tie"
AB_VOTE_BOTH_BAD: Final = "ab_vote_both_bad"
AB_VOTES: Final = (AB_VOTE_1, AB_VOTE_2, AB_VOTE_TIE, AB_VOTE_BOTH_BAD)
AB_CLOSE: Final = "ab_close"
AB_CANCEL: Final = "ab_cancel"
AB_DETAILS: Final = "ab_details"
AB_DETAILS_MODAL: Final = "ab_details_modal"
# a pair of whole conversations (A/B over simulated customers)
AB_SIM_VOTE_1: Final = "ab_sim_vote_1"
AB_SIM_VOTE_2: Final = "ab_sim_vote_2"
AB_SIM_VOTE_TIE: Final = "ab_sim_vote_tie"
AB_SIM_VOTE_BOTH_BAD: Final = "ab_sim_vote_both_bad"
AB_SIM_VOTES: Final = (AB_SIM_VOTE_1, AB_SIM_VOTE_2, AB_SIM_VOTE_TIE, AB_SIM_VOTE_BOTH_BAD)
AB_TRANSCRIPT: Final = "ab_transcript"
AB_TRANSCRIPT_MODAL: Final = "ab_transcript_modal"

KNOWLEDGE_MODAL: Final = "knowledge_form"
KNOWLEDGE_COMPANY: Final = "knowledge_company"
KNOWLEDGE_INDUSTRY: Final = "knowledge_industry"
KNOWLEDGE_PRODUCTS: Final = "knowledge_products"
KNOWLEDGE_POLICIES: Final = "knowledge_policies"
KNOWLEDGE_FAQ: Final = "knowledge_faq"

# ---- stats, App Home and export (the metrics issue) ----
STATS_CHART: Final = "stats_chart"
HOME_VIEW: Final = "app_home"

PURGE_MODAL: Final = "purge_confirm"
PURGE_CONFIRM: Final = "purge_confirm_text"
SCENARIO_RERUN: Final = "scenario_rerun"
SCENARIO_STOP: Final = "scenario_stop"
# the DM's profile and version select (the reply to a bare `use`)
DM_PROFILE_PICK: Final = "dm_profile_pick"

# ---- saving a thread as a scenario (issue #18) ----
# the message shortcut's callback_id (manifest.yml `shortcuts`) and the answer footer's button
SCENARIO_FROM_THREAD: Final = "scenario_from_thread"
ANSWER_SAVE_SCENARIO: Final = "answer_save_scenario"
# the modal while the draft is written, or saying why there is nothing to save (no Save button)
SCENARIO_DRAFT_NOTICE: Final = "scenario_draft_notice"

# ---- checking the judges and confirming runs from buttons (issue #17) ----
# one per behaviour verdict of a thread post: action ids must differ within a block
JUDGE_WRONG: Final = "judge_wrong"
JUDGE_WRONG_PATTERN: Final = re.compile(rf"^{JUDGE_WRONG}_[0-9]+$")
SCENARIO_RUN_CONFIRMED: Final = "scenario_run_confirmed"
SCENARIO_RERUN_CONFIRMED: Final = "scenario_rerun_confirmed"

# ---- simulated customers (issue #18) ----
SCENARIO_KIND_MODAL: Final = "scenario_kind_form"
SCENARIO_KIND: Final = "scenario_kind"
SCENARIO_KIND_SINGLE: Final = "single"
SCENARIO_KIND_SIMULATED: Final = "simulated"
SIMULATION_MODAL: Final = "simulation_form"
SIMULATION_NAME: Final = "simulation_name"
SIMULATION_WHO: Final = "simulation_who"
SIMULATION_MOOD: Final = "simulation_mood"
SIMULATION_EXPERTISE: Final = "simulation_expertise"
SIMULATION_WANTS: Final = "simulation_wants"
SIMULATION_GIVES_UP: Final = "simulation_gives_up"
SIMULATION_FACTS: Final = "simulation_facts"
SIMULATION_GOAL: Final = "simulation_goal"
SIMULATION_BEHAVIOURS: Final = "simulation_behaviours"
SIMULATION_TURN_LIMIT: Final = "simulation_turn_limit"

# ---- saving a thread as a simulated customer (issue #18) ----
# the kind choice on the Save-as-scenario modal: the other kind is drafted from the thread again
SCENARIO_DRAFT_KIND: Final = "scenario_draft_kind"

# ---- issue #19: Stop on a simulation run's progress ----
SIMULATION_STOP: Final = "simulation_stop"

# ---- issue #16: a simulation run whose summary could not be written ----
SIMULATION_WRITE_SUMMARY: Final = "simulation_write_summary"

# ---- issue #16: Stop on a calibration sweep's parent message ----
CALIBRATION_STOP: Final = "calibration_stop"
