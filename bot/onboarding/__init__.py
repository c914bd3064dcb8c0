"""Onboarding: batched welcomes, consent, and the private questions that follow."""
