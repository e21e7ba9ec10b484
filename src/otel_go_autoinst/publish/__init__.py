"""Publish stage: the sticky pull-request comment (github.py) and the PR's diff (prdiff.py).

Rendering lives in otel_go_autoinst.render; this package only talks to GitHub.
"""

from otel_go_autoinst.publish.github import CommentOutcome, upsert_sticky_comment
from otel_go_autoinst.publish.prdiff import PrChanges, fetch_pr_changes, parse_diff

__all__ = [
    "CommentOutcome",
    "PrChanges",
    "fetch_pr_changes",
    "parse_diff",
    "upsert_sticky_comment",
]
