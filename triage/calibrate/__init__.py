"""Learning and measuring risk from a repository's own history (issue #10).

`szz` labels the history (which commits later needed fixing), `evaluate` measures a score
against those labels (`triage eval`); the model fit (`triage calibrate`) builds on both.
"""
