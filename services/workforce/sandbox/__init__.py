"""The sandbox executor (`workforce-service sandbox`): the only place model-written code runs.

Its own process — in the chart its own Deployment, with no network egress at all, no secrets, no
service-account token and ingress only from the code worker — serving workforce.v1.Sandbox over gRPC. Inside,
each run is confined further: Linux namespaces and a uid of its own where the executor may create them (root
or CAP_SYS_ADMIN), a seccomp filter that refuses sockets, ptrace and signals to the executor (which needs no
privilege), resource limits, and a scrubbed environment. The executor itself is not dumpable, so a run that
shares its uid cannot read its memory or /proc/<pid>/environ.
"""
