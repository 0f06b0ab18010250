## SOAPAuthentication plugin (filled in by its author).
