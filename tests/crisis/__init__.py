"""Tests for the crisis detector."""
