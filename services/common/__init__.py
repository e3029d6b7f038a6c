"""What all three services need, once: settings, database, errors, auth, logs, health, audit, HTTP clients.

Nothing here knows a business rule: print requests, blanks and printers live in their own service packages.
"""
