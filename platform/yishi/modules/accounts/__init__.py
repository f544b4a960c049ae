"""People and machines: users, their roles in communities and streets, API tokens, login."""
