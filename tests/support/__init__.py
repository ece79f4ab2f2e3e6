"""Test support code shared by the test tiers: real components started for a session."""
