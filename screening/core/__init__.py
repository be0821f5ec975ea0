"""Access policy, audit, errors and sign-in: the rules every other app stands on."""
