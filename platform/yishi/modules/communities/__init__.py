"""Streets (street offices), communities (the tenants) and their resident groups."""
