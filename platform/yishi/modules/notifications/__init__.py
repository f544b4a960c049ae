"""The in-app inbox: what the platform tells a person (an approval, a new matter at their point…)."""
