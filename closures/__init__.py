"""The domain: what a closure is and what may happen to it. Never imports telegram or tweepy."""
