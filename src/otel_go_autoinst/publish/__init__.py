"""Publish stage: what leaves the pipeline for GitHub.

    github.py       the sticky pull-request comment (PyGithub), reconciled, rate limits waited for
    prdiff.py       the pull request's diff, to mark new and changed functions
    workflow.py     the runner's log (workflow commands), step outputs, job summary
    annotations.py  error annotations on the user's lines
    release.py      instrumented release binaries and SHA256SUMS
    untrusted.py    reports validated against report.schema.json, mentions defused

Rendering lives in otel_go_autoinst.render, which this package never imports (the Action's
entrypoint/ package joins the two); it only talks to GitHub and the runner. Nothing is imported
here: a run that posts no comment never loads PyGithub and requests (a fifth of a second).
"""
