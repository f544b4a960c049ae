"""Cross-cutting code: database, tenancy, accounts and permissions, i18n, errors, API conventions, jobs."""
