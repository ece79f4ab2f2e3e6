"""Faces on Commons: detection, matching, crawling and depicts statements (WikiVisage done right)."""
