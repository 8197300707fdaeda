"""Delivery: sending captures elsewhere: outbound HTTP with the deny list, replay, the auto-forward queue, comparing attempts, and the `listen` relay."""
