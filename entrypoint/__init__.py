"""What the Action's container runs (`otel-go-autoinst action`, the image's ENTRYPOINT).

    main.py        inputs, event and mode dispatch; errors as one sentence
    context.py     the inputs, the event, the workspace, the children's environment
    sandbox.py     the unprivileged build user the repository's code runs as
    run.py         mode `run`: instrument, build, test, release binaries, publish
    steps.py       run's steps that execute the repository's code (toolchain, engine)
    comment.py     mode `comment`: publish existing reports to a pull request, no code run
    merge.py       mode `merge`: several reports into one summary and one comment
    matrix.py      mode `matrix`: the repository's Go modules as a JSON matrix
    publishing.py  render (pipeline) + publish (GitHub): summary, comment, annotations
    gomod.py       go.mod / go.work `go` and `toolchain` lines

The pipeline (detect, plan, rewrite, build, report, render) is the otel_go_autoinst package;
talking to GitHub is otel_go_autoinst.publish. This package only joins them.
"""

from entrypoint.main import main

__all__ = ["main"]
