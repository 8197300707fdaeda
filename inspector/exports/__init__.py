"""Export and import of captures (issue 13): one capture as a command that sends it again, a bin as HAR or NDJSON and back.

- `formats.py`: a capture as a cURL or HTTPie shell command, a Python httpx snippet or the raw
  HTTP/1.1 request, each re-sending it byte-exact to its own capture URL (`shell.py` quotes).
- `parts.py`: one part of a multipart body, as a safe download.
- `har.py`, `ndjson.py`: a bin's captures as HAR 1.2 or as NDJSON (one Request JSON a line),
  written as a stream; and those files read back into `Incoming` captures.
- `batches.py`: the captures an export holds, newest first, read a batch at a time.
- `importing.py`: check what a file holds and store it in one transaction.

Errors: `ImportInputError` (an `InvalidInput`: answered 400) names the line or entry at fault.
Like backup/, this package runs its own few statements (a bounded read of bodies by id, one
import transaction): store/ has no call for either.
"""
