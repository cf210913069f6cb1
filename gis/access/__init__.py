"""Access rules, pure: roles and permissions (roles), jurisdictions (scope) and credentials.
Every layer uses them; the SQL form of a jurisdiction lives in gis.store.scope."""
