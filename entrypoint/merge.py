"""`merge` mode: fold several reports (one per matrix job of a monorepo) into one report
(written to output_dir), one job summary and one pull-request comment. Runs no code of the
repository; every report is validated like in comment mode.
"""

from __future__ import annotations

from entrypoint.comment import publish_reports
from entrypoint.context import Context, Inputs
from otel_go_autoinst.publish.workflow import Log


def mode_merge(ctx: Context, inputs: Inputs, log: Log) -> int:
    return publish_reports(ctx, inputs, log, merge=True)
