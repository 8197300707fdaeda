"""Default settings; each is overridden by an environment variable `HOOKLOUPE_<NAME>`."""

# Database URL; None means SQLite at instance/hookloupe.db.
DATABASE_URL = None
# Key for encrypting secrets and signing cookies; None means generate once into instance/.
SECRET_KEY = None
# Optional password guarding the UI and API (never /h/).
PASSWORD = None
# Bodies larger than this are answered 413 and stored truncated to this many bytes.
MAX_BODY_BYTES = 10 * 1024 * 1024
# Oldest captures beyond this many per bin are pruned.
MAX_REQUESTS_PER_BIN = 1000
# Bins with no activity for this many days are deleted; 0 keeps them forever.
BIN_TTL_DAYS = 30
# Outbound forwarding: per-attempt timeout and attempts before giving up.
FORWARD_TIMEOUT_S = 10
FORWARD_MAX_ATTEMPTS = 5
# Networks never called by replay or forwarding (comma-separated): link-local and cloud
# metadata addresses. Loopback and private networks stay allowed; add them here to lock down.
FORWARD_DENY = "169.254.0.0/16,fe80::/10,100.100.100.200/32,fd00:ec2::254/128"
# Run the auto-forward worker thread in each server process.
FORWARDER = True
# How many proxies in front of us append to X-Forwarded-For; 0 trusts none of it.
TRUSTED_PROXIES = 0
# Public base URL used in the URLs we show (e.g. https://hooks.example.com); None = from the request.
BASE_URL = None
# Seconds between pruning passes of the background janitor; 0 disables the thread.
PRUNE_INTERVAL_S = 30
# How often an open event stream looks for new captures, and sends a keep-alive comment.
STREAM_POLL_S = 0.2
STREAM_HEARTBEAT_S = 10
# An event stream closes after this long (the client reconnects with Last-Event-ID), so a
# thread held by a stream is recycled.
STREAM_MAX_S = 300
# At most this many event streams per worker process; beyond it a stream gets 503 + retry, so
# open pages can never take every thread away from capture.
STREAM_MAX_PER_WORKER = 24
# How each capture is analysed after it is stored (provider, event, verdict): `background`
# (a thread per process, off the response path), `inline` (before the capture is answered:
# deterministic, for tests) or `off` (rows wait for a process that analyses).
ANALYSER = "background"
# While a process is busy capturing, its analysis waits (capture comes first), at most this
# many seconds; then it runs anyway, in one large batch.
ANALYSIS_MAX_DEFER_S = 30
# An event stream holds a new capture back until it is analysed, at most this many seconds.
ANALYSIS_WAIT_S = 1.0
# Seconds between sweeps for rows no process analysed (stored before a restart, or elsewhere).
ANALYSER_SWEEP_S = 2
