"""How an answer cut at its output limit is named wherever it is shown. Pure."""

from __future__ import annotations

from typing import Final

from bot.domain.profile import MAX_TOKENS_BY_STYLE

CUT_MARK: Final = "✂️"


def cut_note(token_limit: int | None) -> str:
    """ "cut at the concise style's 150-token limit", from the limit the answer was sent with."""
    if token_limit is None:
        return "cut at the model server's own length limit"
    styles = [s for s, n in MAX_TOKENS_BY_STYLE.items() if n == token_limit]
    if len(styles) == 1:
        return f"cut at the {styles[0].value} style's {token_limit}-token limit"
    return f"cut at the {token_limit}-token limit"
