"""Faces on Commons: detection, matching, crawling, depicts statements (WikiVisage done right)."""
