"""Labeling: campaigns, tasks, worksets, labels, forms, import and export."""
