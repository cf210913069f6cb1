"""Accounts: creating and changing accounts and API tokens (manage), signing in and out and
recognising a session or token (sessions), reading the audit trail (audit_trail)."""
