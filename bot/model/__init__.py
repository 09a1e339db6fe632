"""The model boundary: the OpenAI-compatible client (`llm`) and the three judges that ask it
for structured verdicts, each named for what it rates: `trait_judge` (how an answer came
across on the four traits), `behaviour_judge` (a scenario's expected behaviours) and
`pair_judge` (which of an A/B pair is better); `judge_call` is the call they share.
"""
