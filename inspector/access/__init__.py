"""Who may do what: principals and scopes (principal.py), token generation and digests
(tokens.py), the scope each route needs (policy.py). Plain functions, no Flask; the guard
that applies them to requests is views/auth.py."""
