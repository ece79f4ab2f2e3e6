"""The assignment invariants, checked by SQL over a database's final state."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text
from sqlalchemy.orm import Session

CHECKS = {
    "task over-assigned (live assignments > labels_per_task)": """
        SELECT t.id FROM tasks t JOIN campaigns c ON c.id = t.campaign_id
        WHERE (SELECT COUNT(*) FROM workset_tasks wt JOIN worksets w ON w.id = wt.workset_id
               WHERE wt.task_id = t.id
                 AND (wt.state = 'labeled' OR (wt.state = 'leased' AND w.expires > :now)))
              > c.labels_per_task""",
    "assigned counter differs from the leases": """
        SELECT t.id FROM tasks t
        WHERE t.assigned <> (SELECT COUNT(*) FROM workset_tasks wt
                             WHERE wt.task_id = t.id AND wt.state IN ('leased', 'labeled'))""",
    "user with more than one open unexpired workset in a campaign": """
        SELECT w.user_id FROM worksets w
        WHERE w.expires > :now AND EXISTS (SELECT 1 FROM workset_tasks wt
                                          WHERE wt.workset_id = w.id AND wt.state = 'leased')
        GROUP BY w.user_id, w.campaign_id HAVING COUNT(*) > 1""",
    "task handed to the same user twice": """
        SELECT task_id FROM workset_tasks GROUP BY task_id, user_id HAVING COUNT(*) > 1""",
    "empty workset": """
        SELECT w.id FROM worksets w
        WHERE NOT EXISTS (SELECT 1 FROM workset_tasks wt WHERE wt.workset_id = w.id)""",
    "workset larger than tasks_per_assignment": """
        SELECT w.id FROM worksets w JOIN campaigns c ON c.id = w.campaign_id
        WHERE (SELECT COUNT(*) FROM workset_tasks wt WHERE wt.workset_id = w.id)
              > c.tasks_per_assignment""",
    "label without a labeled lease": """
        SELECT l.task_id FROM labels l
        WHERE NOT EXISTS (SELECT 1 FROM workset_tasks wt WHERE wt.task_id = l.task_id
                          AND wt.user_id = l.user_id AND wt.state = 'labeled')""",
    "labeled lease without a label": """
        SELECT wt.task_id FROM workset_tasks wt WHERE wt.state = 'labeled'
        AND NOT EXISTS (SELECT 1 FROM labels l WHERE l.task_id = wt.task_id
                        AND l.user_id = wt.user_id)""",
    "open workset without a lease": """
        SELECT w.id FROM worksets w WHERE w.state = 'open' AND NOT EXISTS (
            SELECT 1 FROM workset_tasks wt WHERE wt.workset_id = w.id AND wt.state = 'leased')""",
    "task in a workset of another campaign": """
        SELECT wt.task_id FROM workset_tasks wt JOIN tasks t ON t.id = wt.task_id
        JOIN worksets w ON w.id = wt.workset_id
        WHERE t.campaign_id <> w.campaign_id OR wt.user_id <> w.user_id""",
}


def violations(session: Session, now: dt.datetime) -> dict[str, int]:
    """Count the rows breaking each invariant; an empty dict means none."""
    naive = now.astimezone(dt.UTC).replace(tzinfo=None)
    found = {}
    for name, sql in CHECKS.items():
        rows = session.execute(text(sql), {"now": naive}).all()
        if rows:
            found[name] = len(rows)
    return found
