"""Signing: who sent a capture and whether it is authentic: the provider registry, signature schemes, verification, analysis of stored captures, the secret box, samples and re-signing."""
