"""The GitHub adapter: REST client, JSON -> records, `triage ci` and `triage github`.

I/O with GitHub lives only here; the pipeline stages never see HTTP. Entry points used by the
CLI: `triage.github.ci.run_ci` and `triage.github.batch.run_batch`.
"""
