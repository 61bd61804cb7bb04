"""Where each step of a workflow lies in its file: one concern reported by relsafe and zizmor on different lines of
one step (the `uses:` line and an input below it, a script's first line and an expression inside it) is one
finding, and zizmor's ignore comment anywhere in the step silences relsafe's twin too."""

from __future__ import annotations

from relsafe.security.workflow.model import Workflow, item_line, job_steps

Span = tuple[int, int]  # first and last line, 1-based, inclusive


def step_spans(workflow: Workflow) -> list[Span]:
    """Each step's lines: from its first key to the line before the next step, or before the next job (the end
    of the file for the last)."""
    jobs = sorted((workflow.job_line(job_id), job) for job_id, job in workflow.jobs.items())
    spans: list[Span] = []
    for index, (_line, job) in enumerate(jobs):
        job_end = jobs[index + 1][0] - 1 if index + 1 < len(jobs) else len(workflow.lines)
        steps = job.get("steps")
        if not isinstance(steps, list) or not job_steps(job):
            continue
        starts = [item_line(steps, position, 0) for position in range(len(steps))]
        for position, start in enumerate(starts):
            end = starts[position + 1] - 1 if position + 1 < len(starts) else job_end
            if start:
                spans.append((start, end))
    return spans
