"""Default settings; each is overridden by an environment variable `HOOKLOUPE_<NAME>`."""

# Database URL; None means SQLite at instance/hookloupe.db.
DATABASE_URL = None
# Key for encrypting secrets and signing cookies; None means generate once into instance/.
SECRET_KEY = None
# Optional password guarding the UI and API (never /h/): the pages sign in with it (a session
# cookie), scripts send it as HTTP Basic or use API tokens instead (README "Sharing and access").
PASSWORD = None
# A signed-in browser session lasts this many hours; changing PASSWORD ends every session.
SESSION_HOURS = 12
# Optional header naming the signed-in user, set by an SSO proxy in front of us (e.g.
# X-Forwarded-User); honoured only on connections from AUTH_PROXY_IPS.
AUTH_HEADER = None
# Addresses (comma-separated IPs or networks) whose AUTH_HEADER is believed.
AUTH_PROXY_IPS = "127.0.0.1,::1"
# Sign-in attempts and requests with wrong credentials (password or token) allowed per client
# address; beyond it, 429 until the window passes.
AUTH_FAILURE_LIMIT = "10 per minute"
# Where those counts are kept (Flask-Limiter storage): memory:// counts per worker process;
# redis://host:6379 shares them between workers and hosts.
RATELIMIT_STORAGE_URI = "memory://"
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
# open pages can never crowd out capture. A stream is a greenlet (~40 KiB) that sleeps until
# its bin changes. The kernel may hand one worker nearly every new connection, so one
# worker's cap must hold the whole 500-viewer goal (issue 15) alone.
STREAM_MAX_PER_WORKER = 600
# A waiting API call (`…/requests/wait`) looks at its process's capture marks this often; it
# queries its bin only when they moved (watch.py).
WAIT_POLL_S = 0.02
# At most this many open waits per worker process; beyond it a wait gets 503 + Retry-After.
WAIT_MAX_PER_WORKER = 500
# How each capture is analysed after it is stored (provider, event, verdict): `background`
# (a thread per process, off the response path), `inline` (before the capture is answered:
# deterministic, for tests) or `off` (rows wait for a process that analyses).
ANALYSER = "background"
# While a process is busy capturing, its analysis waits (capture comes first), at most this
# many seconds; then it runs anyway, in one large batch.
ANALYSIS_MAX_DEFER_S = 30
# An event stream holds a new capture back until it is analysed, at most this many seconds.
ANALYSIS_WAIT_S = 1.0
# While captures arrive, a process spends at most this share of its time writing the text
# search index (a trigram row costs about as much as the capture); all of it once idle.
SEARCH_INDEX_SHARE = 0.05
# Seconds between sweeps for rows no process analysed (stored before a restart, or elsewhere).
ANALYSER_SWEEP_S = 2

# Limits on input
# The server refuses a request line (path and query) longer than this many bytes (414), more
# header fields than this (431), or a header field longer than this many bytes (431).
MAX_REQUEST_LINE_BYTES = 8190
MAX_HEADER_FIELDS = 100
MAX_HEADER_FIELD_BYTES = 16384
# A client must finish sending its request headers within this many seconds (also how long an
# idle kept-alive connection stays open); slower ones are disconnected.
HEADER_TIMEOUT_S = 5
# A client that sends or reads nothing for this many seconds while its request is in progress
# (a body that stalls, an answer it does not read) is disconnected; a stalled capture body is
# stored as incomplete and answered 400.
IDLE_TIMEOUT_S = 30
# A bin's custom response may set at most this many headers (PATCH /api/bins/<bin>: 400 beyond).
MAX_RESPONSE_HEADERS = 50
# Each custom response header value is at most this many bytes.
MAX_RESPONSE_HEADER_BYTES = 8 * 1024
# A custom response body is at most this many bytes (UTF-8).
MAX_RESPONSE_BODY_BYTES = 1024 * 1024
# A signing secret's value is at most this many bytes (UTF-8).
MAX_SECRET_BYTES = 4096
# An API call's JSON body is at most this many bytes (413 beyond); a replay's body_base64 is 4/3 of its body.
MAX_API_BODY_BYTES = 16 * 1024 * 1024
# Log lines of the app: `text` (plain messages) or `json` (one object per line, with the
# request id that UI and API answers carry in X-Request-Id).
LOG_FORMAT = "text"
