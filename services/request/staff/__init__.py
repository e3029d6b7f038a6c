"""Office staff accounts: passwords (Argon2), sign-in with OAuth2's password grant, lockout, the admin's user list."""
