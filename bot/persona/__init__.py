"""The persona: what a profile version makes of a conversation. The system prompt and
sampling from its traits and style (`personality`), its company knowledge in the prompt
(`knowledge`), the conversation fitted to the context (`conversation`), which version a
person means (`versions`), and editing a profile (`validation`, `diff`, `merge`).
"""
