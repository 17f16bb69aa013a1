"""The edges: Telegram, X, HTTP and the command line."""
