"""Deliberation points (议事点): places near main roads where matters are raised and mediated."""
