"""Report writers beyond the JSON report and terminal table (grader/parent/report.py): one format per module.

Every writer works from the parent's own `Grade` (or the JSON report made from it), never from
anything the grading child printed or wrote: the child runs student code and is not trusted.
"""
