"""User-visible background tasks: their progress page, JSON for polling, the API, and downloads."""
