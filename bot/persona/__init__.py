"""The persona: what a profile version makes of a conversation. The system prompt and
sampling from its traits and style (`personality`), its company knowledge in the prompt
(`knowledge`), the conversation fitted to the context (`conversation`), which version a
person means (`versions`); the use cases managing profiles (`profiles`), their form
(`editing`) and knowledge (`knowledge_edits`), on `validation`, `diff` and `merge`.
"""
