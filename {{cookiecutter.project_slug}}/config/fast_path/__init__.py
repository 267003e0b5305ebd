"""The lean ASGI request path: a handler that reuses request threads, middleware that stays on the loop.

``docs/request-path.md`` explains what it changes and how to re-audit it for a new Django.
"""

# The Django release whose code handler.py copies and adapters.py predicts; the test suite
# fails on any other release until both are re-read (docs/request-path.md, "Upgrading Django").
AUDITED_DJANGO = (6, 1, 3)
