"""Compile-time OpenTelemetry auto-instrumentation for Go.

The pipeline, one module a stage: detect -> plan -> rewrite -> build -> report -> publish.
"""

__version__ = "0.1.0"
