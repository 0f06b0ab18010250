## LDAPAuthentication plugin (filled in by its author).
