"""Simulated customers: a simulator model plays a persona for a whole conversation with the
bot; the conversation is judged at the end (goal, behaviours) and per bot turn (traits), and
the drift of each trait over the turns is measured."""
