"""Self-onboarding: a community applies, its street office approves; then a setup checklist."""
