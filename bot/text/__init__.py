"""Everything people read, as pure functions from values to Telegram HTML (or X's plain text) in one
language: drivers' answers, staff views, channel and X posts, and the inline keyboards sent with them.

Nothing here talks to Telegram or the database; handlers and publishers send what these return.
"""
