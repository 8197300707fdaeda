"""HTTP views: capture (/h/), the JSON API (/api/), the pages, and shared security headers."""
