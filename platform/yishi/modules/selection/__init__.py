"""Moderator selection (议事长遴选): weighted criteria, rounds of nomination and scoring, appointments."""
